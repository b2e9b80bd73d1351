//! The terminal: one line per step as it finishes, retries as they happen, a summary table, and
//! on an interactive terminal a live progress line; plus the `-v` log writer (stderr, redacted).
//!
//! The plain lines are the contract (scripts and tests read them): on a terminal the progress
//! line is drawn below them and cleared before the summary, so what stays on screen is the same
//! text a pipe receives. Color, when on, touches only the outcome labels and the verdict.

use std::fmt::Write as _;
use std::io::{IsTerminal as _, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anstream::{AutoStream, ColorChoice};
use anstyle::{AnsiColor, Style};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::duration::human;
use crate::plan::model::ForEachSource;
use crate::runner::events::{Event, Outcome, RunStatus, Sink, StepResult};

use super::Redactor;

/// What the progress line knows of a step before it runs.
#[derive(Debug, Clone)]
pub struct StepInfo {
    /// `id`.
    pub id: String,
    /// `name` (or the id).
    pub name: String,
    /// How many `for_each` items, when known before the step runs (an inline list); `None` for
    /// a step without `for_each` or items read from a file as the step goes.
    pub items: Option<usize>,
}

impl StepInfo {
    /// What the progress line shows of a plan's steps.
    pub fn of(steps: &[crate::plan::model::Step]) -> Vec<StepInfo> {
        steps
            .iter()
            .map(|step| StepInfo {
                id: step.id.clone(),
                name: step.name.clone(),
                items: match &step.for_each {
                    Some(ForEachSource::Inline { items, .. }) => Some(items.len()),
                    _ => None,
                },
            })
            .collect()
    }
}

/// Standard output for a [`Console`]: escapes pass through when `color` (translated for old
/// Windows consoles), and are stripped otherwise, so that no control sequence a provider put in
/// an error message reaches a terminal or a log.
pub fn stdout(color: bool) -> AutoStream<std::io::Stdout> {
    let choice = if color {
        ColorChoice::Always
    } else {
        ColorChoice::Never
    };
    AutoStream::new(std::io::stdout(), choice)
}

/// Whether a live progress line suits this process: stdout and stderr are both a terminal (the
/// same screen, as far as one can tell) and `CI` is not set (CI logs keep every byte, so a
/// redrawn line would only add noise).
pub fn progress_wanted() -> bool {
    std::io::stdout().is_terminal()
        && std::io::stderr().is_terminal()
        && std::env::var_os("CI").is_none_or(|v| v.is_empty())
}

/// Line-per-event output, with a summary table and, when enabled, a live progress line.
pub struct Console<W: Write + Send> {
    out: Mutex<W>,
    redactor: Arc<Redactor>,
    counts: Mutex<[usize; 4]>,
    /// `for_each` items and rows never started.
    not_run: std::sync::atomic::AtomicU64,
    quiet: bool,
    color: bool,
    rows: Mutex<Vec<Row>>,
    live: Option<Live>,
    /// Step lines not written yet (see [`Console::batched`]).
    held: Option<Held>,
}

/// Step lines held back, to be written together.
struct Held {
    text: Mutex<String>,
    /// Told when the first line is held, so that [`Console::keep_flushed`] writes it soon.
    first: tokio::sync::Notify,
}

/// How long a held step line waits, at most, before it is written.
pub const HOLD: Duration = Duration::from_millis(50);

/// Held step lines written at once past this much text.
const HOLD_BYTES: usize = 16 * 1024;

impl<W: Write + Send> Console<W> {
    /// Writes to `out`, masking what `redactor` knows; `quiet` prints only failures and the
    /// summary. No color and no progress line until asked for.
    pub fn new(out: W, redactor: Arc<Redactor>, quiet: bool) -> Console<W> {
        Console {
            out: Mutex::new(out),
            redactor,
            counts: Mutex::new([0; 4]),
            not_run: std::sync::atomic::AtomicU64::new(0),
            quiet,
            color: false,
            rows: Mutex::new(Vec::new()),
            live: None,
            held: None,
        }
    }

    /// Writes step lines in batches, at most [`HOLD`] after each finished (while
    /// [`Console::keep_flushed`] runs), rather than one write each: for output that is not
    /// watched line by line (a pipe, a file, a CI log). Every other line is written at once,
    /// after the held ones, so the order of lines never changes.
    pub fn batched(mut self) -> Console<W> {
        self.held = Some(Held {
            text: Mutex::new(String::new()),
            first: tokio::sync::Notify::new(),
        });
        self
    }

    /// Writes held step lines [`HOLD`] after the first of them was held; runs until dropped.
    pub async fn keep_flushed(&self) -> std::convert::Infallible {
        let Some(held) = &self.held else {
            return std::future::pending().await;
        };
        loop {
            held.first.notified().await;
            tokio::time::sleep(HOLD).await;
            self.write_held();
        }
    }

    /// Writes the held step lines, if any.
    pub fn write_held(&self) {
        let Some(held) = &self.held else { return };
        let text = std::mem::take(&mut *held.text.lock().unwrap_or_else(PoisonError::into_inner));
        if !text.is_empty() {
            let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        }
    }

    /// A step line: held when batched, else written at once.
    fn step_out(&self, text: &str) {
        let Some(held) = self.held.as_ref().filter(|_| self.live.is_none()) else {
            return self.line(text);
        };
        let text = self.redactor.masked(text);
        let mut buffer = held.text.lock().unwrap_or_else(PoisonError::into_inner);
        if buffer.is_empty() {
            held.first.notify_one();
        }
        buffer.push_str(&text);
        buffer.push('\n');
        if buffer.len() >= HOLD_BYTES {
            drop(buffer);
            self.write_held();
        }
    }

    /// Colors the outcome labels and the verdict (ANSI escapes, written as they are).
    pub fn with_color(mut self, color: bool) -> Console<W> {
        self.color = color;
        self
    }

    /// Draws a live progress line below the step lines: the current step, its items, retries,
    /// the time elapsed. It is drawn on stderr, like other tools' progress, and is not output:
    /// stdout keeps only the lines (and the binary holds stdout's lock for its whole life, so
    /// indicatif's ticking thread could not write there). `out` should be the same terminal.
    /// Ignored with `quiet`, which asks for silence.
    pub fn with_progress(mut self, steps: Vec<StepInfo>) -> Console<W> {
        if !self.quiet {
            self.live = Some(Live::new(steps, self.color, true));
        }
        self
    }

    fn line(&self, text: &str) {
        self.write_held();
        let text = self.redactor.masked(text);
        let write = || {
            let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        };
        match &self.live {
            // The bar is taken off the screen while the line is written, then drawn again below.
            Some(live) => live.bar.suspend(write),
            None => write(),
        }
    }

    fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    }

    /// The label of an outcome, padded to five columns, colored when color is on.
    fn label(&self, outcome: Outcome, ignored: bool) -> String {
        let mut text = String::new();
        self.push_label(&mut text, outcome, ignored);
        text
    }

    /// [`Console::label`], written at the end of `line`.
    fn push_label(&self, line: &mut String, outcome: Outcome, ignored: bool) {
        let word = label(outcome, ignored);
        if self.color {
            let style = label_style(word);
            let _ = write!(line, "{style}{word}{style:#}");
        } else {
            line.push_str(word);
        }
        line.extend(std::iter::repeat_n(' ', 5 - word.len()));
    }

    fn step_line(&self, r: &StepResult) -> String {
        // One buffer, written into: this runs for every item of every step.
        let mut line = String::with_capacity(80);
        line.push_str("  ");
        self.push_label(&mut line, r.outcome, r.ignored);
        line.push(' ');
        r.push_display_name(&mut line);
        if let Some(source) = &r.source {
            let _ = write!(line, " ({source})");
        }
        let (id, name) = match &r.inner {
            Some(inner) => (&inner.id, &inner.name),
            None => (&r.id, &r.name),
        };
        if name != id {
            let _ = write!(line, "  {name}");
        }
        if let Some(status) = r.status {
            let _ = write!(line, "  {status}");
        }
        if let Some(state) = r
            .call
            .as_ref()
            .and_then(|c| c.get("state"))
            .and_then(|s| s.as_str())
        {
            let _ = write!(line, "  call {state}");
        }
        if r.outcome != Outcome::Skipped {
            let _ = write!(line, "  {}", human(r.duration));
        }
        if r.attempts.len() > 1 {
            let _ = write!(line, "  ({} attempts)", r.attempts.len());
        }
        if let Some(message) = &r.message {
            let _ = write!(line, "\n        {message}");
        }
        if let Some(hint) = &r.hint {
            let _ = write!(line, "\n        hint: {hint}");
        }
        line
    }

    /// The summary table: one row per step (a `for_each` step's items folded into one row),
    /// columns aligned. Empty when no step finished.
    fn table(&self) -> String {
        let rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
        if rows.is_empty() {
            return String::new();
        }
        let header = ["step", "outcome", "status", "duration", "attempts"];
        let cells: Vec<[String; 5]> = rows.iter().map(Row::cells).collect();
        let mut widths = header.map(str::len);
        for row in &cells {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut text = String::new();
        let mut push_row = |cells: [&str; 5], outcome: Option<(Outcome, bool)>| {
            let mut line = String::new();
            for (column, (cell, width)) in cells.iter().zip(widths).enumerate() {
                let padding = " ".repeat(width - cell.chars().count());
                match (column, outcome) {
                    (1, Some((o, ignored))) => {
                        line.push_str(&self.paint(label_style(label(o, ignored)), cell));
                    }
                    _ => line.push_str(cell),
                }
                if column + 1 < cells.len() {
                    line.push_str(&padding);
                    line.push_str("  ");
                }
            }
            text.push_str(line.trim_end());
            text.push('\n');
        };
        push_row(header, None);
        for (row, cells) in rows.iter().zip(&cells) {
            push_row(
                [&cells[0], &cells[1], &cells[2], &cells[3], &cells[4]],
                Some((row.outcome, row.ignored)),
            );
        }
        text
    }

    /// Folds a finished step (or item) into its row of the summary table.
    fn record(&self, r: &StepResult) {
        let mut rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
        let end = r.started + r.duration;
        let attempts = r.attempts.len();
        // Steps run one after another, so a step's items arrive together: only the last row
        // can be theirs (a search over every row made long plans quadratic).
        match rows.last_mut().filter(|row| row.index == r.index) {
            Some(row) => {
                row.items += usize::from(r.item.is_some());
                if rank(r.outcome, r.ignored) > rank(row.outcome, row.ignored) {
                    row.outcome = r.outcome;
                    row.ignored = r.ignored;
                }
                row.status = r.status.or(row.status);
                row.started = row.started.min(r.started);
                row.end = row.end.max(end);
                row.attempts += attempts;
            }
            None => rows.push(Row {
                index: r.index,
                id: r.id.clone(),
                not_run: 0,
                items: usize::from(r.item.is_some()),
                outcome: r.outcome,
                ignored: r.ignored,
                status: r.status,
                started: r.started,
                end,
                attempts,
            }),
        }
    }
}

/// A row of the summary table.
#[derive(Debug)]
struct Row {
    index: usize,
    id: String,
    /// `for_each` items finished (0 for a step without).
    items: usize,
    /// `for_each` items or rows never started.
    not_run: u64,
    /// The worst outcome of its items.
    outcome: Outcome,
    ignored: bool,
    status: Option<u16>,
    started: Duration,
    end: Duration,
    attempts: usize,
}

impl Row {
    fn cells(&self) -> [String; 5] {
        let mut step = match self.items {
            0 => self.id.clone(),
            1 => format!("{} (1 item)", self.id),
            n => format!("{} ({n} items)", self.id),
        };
        if self.not_run > 0 {
            step = match step.strip_suffix(')') {
                Some(open) => format!("{open}, {} not run)", self.not_run),
                None => format!("{step} ({} not run)", self.not_run),
            };
        }
        let skipped = self.outcome == Outcome::Skipped;
        [
            step,
            label(self.outcome, self.ignored).to_owned(),
            self.status.map_or("-".to_owned(), |s| s.to_string()),
            if skipped {
                "-".to_owned()
            } else {
                human(self.end.saturating_sub(self.started))
            },
            if self.attempts == 0 {
                "-".to_owned()
            } else {
                self.attempts.to_string()
            },
        ]
    }
}

/// How bad an outcome is, for folding items into one row: a failure that fails the run beats
/// an ignored one, which beats a pass, which beats a skip.
fn rank(outcome: Outcome, ignored: bool) -> u8 {
    match (outcome, ignored) {
        (Outcome::Skipped, _) => 0,
        (Outcome::Passed, _) => 1,
        (Outcome::Failed | Outcome::Errored, true) => 2,
        (Outcome::Failed, false) => 3,
        (Outcome::Errored, false) => 4,
    }
}

fn label(outcome: Outcome, ignored: bool) -> &'static str {
    match (outcome, ignored) {
        (Outcome::Passed, _) => "PASS",
        (Outcome::Failed, true) | (Outcome::Errored, true) => "WARN",
        (Outcome::Failed, false) => "FAIL",
        (Outcome::Errored, false) => "ERROR",
        (Outcome::Skipped, _) => "SKIP",
    }
}

fn label_style(label: &str) -> Style {
    match label {
        "PASS" => AnsiColor::Green.on_default(),
        "FAIL" | "ERROR" => AnsiColor::Red.on_default().bold(),
        "WARN" => AnsiColor::Yellow.on_default(),
        _ => Style::new().dimmed(),
    }
}

impl<W: Write + Send> Sink for Console<W> {
    fn event(&self, event: &Event) {
        match event {
            Event::RunStarted {
                run_id,
                plan,
                steps,
                ..
            } => {
                if !self.quiet {
                    self.line(&format!("run {run_id}: {plan} ({steps} steps)"));
                }
                if let Some(live) = &self.live {
                    live.start();
                }
            }
            Event::StepStarted { index, item, .. } => {
                if let Some(live) = &self.live {
                    live.step_started(*index, *item);
                }
            }
            Event::AttemptFailed {
                name,
                attempt,
                error,
                retry_in,
                ..
            } => {
                self.line(&format!(
                    "  retry {name}: attempt {attempt} failed: {error}; retrying in {}",
                    human(*retry_in)
                ));
                if let Some(live) = &self.live {
                    live.retried();
                }
            }
            Event::LoginRetried {
                provider,
                attempt,
                error,
                retry_in,
            } => {
                self.line(&format!(
                    "  retry login of `{provider}`: attempt {attempt} failed: {error}; retrying in {}",
                    human(*retry_in)
                ));
            }
            Event::LoginFinished(login) => {
                if login.error.is_none() && login.attempts.len() > 1 && !self.quiet {
                    self.line(&format!(
                        "  login of `{}`: logged in at attempt {}",
                        login.provider,
                        login.attempts.len()
                    ));
                }
            }
            // A flow row's step: shown when it did not pass (the row's own line follows).
            Event::StepFinished(result) if result.inner.is_some() => {
                let shown = !matches!(result.outcome, Outcome::Passed);
                if shown && (!self.quiet || (result.outcome.is_failure() && !result.ignored)) {
                    self.step_out(&self.step_line(result));
                }
            }
            Event::StepFinished(result) => {
                let slot = match (result.outcome, result.ignored) {
                    (Outcome::Passed, _) | (_, true) => 0,
                    (Outcome::Failed, _) => 1,
                    (Outcome::Errored, _) => 2,
                    (Outcome::Skipped, _) => 3,
                };
                self.counts.lock().unwrap_or_else(PoisonError::into_inner)[slot] += 1;
                self.record(result);
                if !self.quiet || (result.outcome.is_failure() && !result.ignored) {
                    self.step_out(&self.step_line(result));
                }
                if let Some(live) = &self.live {
                    live.step_finished(result.index, result.item);
                }
            }
            Event::NotRun {
                index,
                id,
                count,
                reason,
                ..
            } => {
                self.not_run
                    .fetch_add(*count, std::sync::atomic::Ordering::Relaxed);
                {
                    let mut rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
                    match rows.iter_mut().rev().find(|row| row.index == *index) {
                        Some(row) => row.not_run += count,
                        None => rows.push(Row {
                            index: *index,
                            id: id.clone(),
                            items: 0,
                            not_run: *count,
                            outcome: Outcome::Skipped,
                            ignored: false,
                            status: None,
                            started: Duration::ZERO,
                            end: Duration::ZERO,
                            attempts: 0,
                        }),
                    }
                }
                // Said even with --quiet: customers that were never called are a result.
                let what = if *count == 1 { "item" } else { "items" };
                let label = self.label(Outcome::Skipped, false);
                self.line(&format!("  {label} {id}: {count} {what} not run: {reason}"));
            }
            Event::Note(text) => {
                if !self.quiet {
                    self.line(&format!("note: {text}"));
                }
            }
            Event::RunFinished {
                status,
                reason,
                duration,
                ..
            } => {
                if let Some(live) = &self.live {
                    live.bar.finish_and_clear();
                }
                let [passed, failed, errored, skipped] =
                    *self.counts.lock().unwrap_or_else(PoisonError::into_inner);
                let (verdict, style) = match status {
                    RunStatus::Passed => ("passed", AnsiColor::Green.on_default().bold()),
                    RunStatus::Failed => ("FAILED", AnsiColor::Red.on_default().bold()),
                    RunStatus::CouldNotRun => ("could not run", AnsiColor::Red.on_default().bold()),
                    RunStatus::Interrupted => {
                        ("INTERRUPTED", AnsiColor::Yellow.on_default().bold())
                    }
                };
                let why = reason
                    .as_ref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default();
                // The table comes first so that the verdict and the counts stay the last two
                // lines, where people and scripts (`tail -n 1`) look for them.
                let table = if self.quiet {
                    String::new()
                } else {
                    match self.table() {
                        t if t.is_empty() => t,
                        t => format!("\n{t}\n"),
                    }
                };
                let not_run = match self.not_run.load(std::sync::atomic::Ordering::Relaxed) {
                    0 => String::new(),
                    n => format!(", {n} not run"),
                };
                self.line(&format!(
                    "{table}{}{why}\n{passed} passed, {failed} failed, {errored} errored, {skipped} skipped{not_run} in {}",
                    self.paint(style, verdict),
                    human(*duration)
                ));
            }
        }
    }
}

impl<W: Write + Send> Drop for Console<W> {
    fn drop(&mut self) {
        // A run cut short still shows every step line it printed.
        self.write_held();
    }
}

/// The live progress line.
struct Live {
    bar: ProgressBar,
    steps: Vec<StepInfo>,
    color: bool,
    /// Draw on stdout (false in unit tests: the bar then only keeps its state).
    draw: bool,
    state: Mutex<LiveState>,
}

#[derive(Debug, Default)]
struct LiveState {
    /// The step shown.
    index: Option<usize>,
    /// Its items finished.
    items_done: u64,
    /// Its failed attempts that are retried.
    retries: u32,
}

impl Live {
    fn new(steps: Vec<StepInfo>, color: bool, draw: bool) -> Live {
        // Hidden until the run starts, so that notes printed before it do not draw an empty bar.
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        Live {
            bar,
            steps,
            color,
            draw,
            state: Mutex::new(LiveState::default()),
        }
    }

    fn start(&self) {
        self.bar.set_style(self.style(false));
        self.bar.reset_elapsed();
        if self.draw {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
            self.bar.enable_steady_tick(Duration::from_millis(100));
        }
    }

    fn style(&self, counted: bool) -> ProgressStyle {
        let template = match (counted, self.color) {
            (false, true) => "{spinner:.cyan} {elapsed:>4} {wide_msg}",
            (false, false) => "{spinner} {elapsed:>4} {wide_msg}",
            (true, true) => {
                "{spinner:.cyan} {elapsed:>4} [{bar:24.cyan/blue}] {pos}/{len} {wide_msg}"
            }
            (true, false) => "{spinner} {elapsed:>4} [{bar:24}] {pos}/{len} {wide_msg}",
        };
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
            .progress_chars("=> ")
    }

    fn step_started(&self, index: usize, item: Option<usize>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.index != Some(index) {
            *state = LiveState {
                index: Some(index),
                ..LiveState::default()
            };
            let total = self.steps.get(index).and_then(|s| s.items);
            match total.filter(|_| item.is_some()) {
                Some(total) => {
                    self.bar.set_style(self.style(true));
                    self.bar.set_length(total as u64);
                }
                None => {
                    self.bar.set_style(self.style(false));
                    self.bar.unset_length();
                }
            }
            self.bar.set_position(0);
        }
        self.show(&state, item.is_some());
    }

    fn step_finished(&self, index: usize, item: Option<usize>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.index == Some(index) && item.is_some() {
            state.items_done += 1;
            self.bar.set_position(state.items_done);
            self.show(&state, true);
        }
    }

    fn retried(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.retries += 1;
        let items = self.bar.length().is_some() || state.items_done > 0;
        self.show(&state, items);
    }

    /// `[2/4] dial  Call the customer · 3 items · 1 retry`.
    fn show(&self, state: &LiveState, items: bool) {
        let Some(index) = state.index else { return };
        let mut text = format!("[{}/{}]", index + 1, self.steps.len());
        if let Some(step) = self.steps.get(index) {
            text.push_str(&format!(" {}", step.id));
            if step.name != step.id {
                text.push_str(&format!("  {}", step.name));
            }
        }
        // A known total shows as `pos/len` beside the bar; an unknown one is counted here.
        if items && self.bar.length().is_none() {
            let n = state.items_done;
            text.push_str(&format!(" · {n} {}", if n == 1 { "item" } else { "items" }));
        }
        if state.retries > 0 {
            let n = state.retries;
            text.push_str(&format!(
                " · {n} {}",
                if n == 1 { "retry" } else { "retries" }
            ));
        }
        self.bar.set_message(text);
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        // A run that ended without its last event must not leave a bar on the screen.
        if !self.bar.is_finished() {
            self.bar.finish_and_clear();
        }
    }
}

/// A `tracing` writer to stderr that masks every secret the run's [`Redactor`] knows, at the
/// moment each line is written (secrets learned after the writer was installed are masked too).
#[derive(Debug, Clone)]
pub struct RedactedStderr {
    redactor: Arc<Redactor>,
}

impl RedactedStderr {
    /// Masks with `redactor`.
    pub fn new(redactor: Arc<Redactor>) -> RedactedStderr {
        RedactedStderr { redactor }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RedactedStderr {
    type Writer = RedactedLine;

    fn make_writer(&'a self) -> RedactedLine {
        RedactedLine {
            redactor: self.redactor.clone(),
            buffer: Vec::new(),
        }
    }
}

/// One log event, buffered whole so that a secret is never split across two writes, and
/// written masked when dropped.
#[derive(Debug)]
pub struct RedactedLine {
    redactor: Arc<Redactor>,
    buffer: Vec<u8>,
}

impl Write for RedactedLine {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for RedactedLine {
    fn drop(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let text = self.redactor.mask(&String::from_utf8_lossy(&self.buffer));
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
    }
}

/// Installs the `-v` log subscriber: `callplan=debug` with one `-v` (each request: method,
/// URL, status, time), `callplan=trace` with two or more (the bodies' beginnings too);
/// `RUST_LOG`, when set, replaces that filter. Without `-v` nothing is installed, so nothing is
/// logged (and `tracing`'s macros cost a branch). Lines go to stderr through `redactor`.
pub fn install_log(verbosity: u8, redactor: Arc<Redactor>) {
    use tracing_subscriber::EnvFilter;
    if verbosity == 0 {
        return;
    }
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| {
            EnvFilter::new(if verbosity >= 2 {
                "callplan=trace"
            } else {
                "callplan=debug"
            })
        });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(RedactedStderr::new(redactor))
        .with_ansi(false)
        .with_timer(tracing_subscriber::fmt::time::uptime())
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::events::Attempt;
    use indexmap::IndexMap;

    fn result(index: usize, id: &str, item: Option<usize>, outcome: Outcome) -> StepResult {
        StepResult {
            index,
            id: id.to_owned(),
            name: format!("{id} name"),
            provider: "gc".into(),
            action: "users.get".into(),
            item,
            source: None,
            outcome,
            inner: None,
            message: None,
            hint: None,
            status: Some(200),
            attempts: vec![Attempt {
                status: Some(200),
                error: None,
                elapsed: Duration::from_millis(3),
                queued: Duration::ZERO,
                retry_after: None,
            }],
            duration: Duration::from_millis(3),
            queued: Duration::ZERO,
            saved: IndexMap::new(),
            correlation_id: None,
            call: None,
            ignored: false,
            always: false,
            started: Duration::from_millis(10 * index as u64),
            request: None,
            response: None,
        }
    }

    #[test]
    fn a_line_names_a_step_item_and_row_step_as_every_output_does() {
        let mut row_step = result(2, "campaign", Some(2), Outcome::Failed);
        row_step.inner = Some(crate::runner::events::InnerStep {
            position: 1,
            id: "hangup".into(),
            name: "hangup".into(),
            provider: "gc".into(),
            action: "calls.hangup".into(),
            always: true,
        });
        let mut step = result(0, "login", None, Outcome::Passed);
        step.inner = row_step.inner.clone();
        for r in [result(1, "dial", Some(7), Outcome::Passed), row_step, step] {
            let mut line = String::from("x ");
            r.push_display_name(&mut line);
            assert_eq!(line, format!("x {}", r.display_name()));
        }
        let mut line = String::new();
        result(1, "dial", Some(7), Outcome::Passed).push_display_name(&mut line);
        assert_eq!(line, "dial[8]");
    }

    /// A console writing into a shared buffer.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Buffer {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner))
                .into_owned()
        }
    }

    fn finish(console: &dyn Sink, status: RunStatus) {
        console.event(&Event::RunFinished {
            status,
            reason: None,
            duration: Duration::from_millis(42),
            at: std::time::SystemTime::now(),
        });
    }

    #[tokio::test]
    async fn batched_step_lines_keep_their_order_and_are_written_soon() {
        let buffer = Buffer::default();
        let console = Console::new(buffer.clone(), Arc::new(Redactor::default()), false).batched();
        let step = |i| Event::StepFinished(Box::new(result(0, "dial", Some(i), Outcome::Passed)));
        console.event(&step(0));
        console.event(&step(1));
        assert_eq!(buffer.text(), "", "step lines are held");
        // Any other line goes out after the held ones.
        console.event(&Event::Note("halfway".into()));
        let text = buffer.text();
        let (first, second, note) = (
            text.find("dial[1]").expect("item 0"),
            text.find("dial[2]").expect("item 1"),
            text.find("note: halfway").expect("the note"),
        );
        assert!(first < second && second < note, "{text}");
        // A held line is written within HOLD while keep_flushed runs.
        console.event(&step(2));
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        tokio::select! {
            never = console.keep_flushed() => match never {},
            () = async {
                while !buffer.text().contains("dial[3]") {
                    assert!(std::time::Instant::now() < deadline, "never written");
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            } => {}
        }
        // And one still held when the console goes is written then.
        console.event(&step(3));
        drop(console);
        assert!(buffer.text().contains("dial[4]"), "{}", buffer.text());
    }

    #[test]
    fn the_table_folds_items_and_keeps_the_verdict_last() {
        let buffer = Buffer::default();
        let console = Console::new(buffer.clone(), Arc::new(Redactor::default()), false);
        console.event(&Event::StepFinished(Box::new(result(
            0,
            "agent",
            None,
            Outcome::Passed,
        ))));
        for (i, outcome) in [Outcome::Passed, Outcome::Failed, Outcome::Passed]
            .into_iter()
            .enumerate()
        {
            console.event(&Event::StepFinished(Box::new(result(
                1,
                "dial_each",
                Some(i),
                outcome,
            ))));
        }
        let mut skipped = result(2, "hangup", None, Outcome::Skipped);
        skipped.status = None;
        skipped.attempts.clear();
        console.event(&Event::StepFinished(Box::new(skipped)));
        finish(&console, RunStatus::Failed);
        let text = buffer.text();
        let table: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.starts_with("step "))
            .take(4)
            .collect();
        assert_eq!(
            table,
            [
                "step                 outcome  status  duration  attempts",
                "agent                PASS     200     3 ms      1",
                "dial_each (3 items)  FAIL     200     3 ms      3",
                "hangup               SKIP     -       -         -",
            ],
            "{text}"
        );
        let last: Vec<&str> = text.lines().rev().take(2).collect();
        assert_eq!(
            last,
            [
                "3 passed, 1 failed, 0 errored, 1 skipped in 42 ms",
                "FAILED"
            ]
        );
        assert!(!text.contains('\x1b'), "{text}");
    }

    #[test]
    fn color_touches_only_labels_and_the_verdict() {
        let buffer = Buffer::default();
        let console =
            Console::new(buffer.clone(), Arc::new(Redactor::default()), false).with_color(true);
        console.event(&Event::StepFinished(Box::new(result(
            0,
            "agent",
            None,
            Outcome::Passed,
        ))));
        finish(&console, RunStatus::Passed);
        let text = buffer.text();
        let green = AnsiColor::Green.on_default();
        assert!(
            text.contains(&format!(
                "  {green}PASS{green:#}  agent  agent name  200  3 ms"
            )),
            "{text:?}"
        );
        assert!(
            text.contains(&format!("{green}PASS{green:#}     200")),
            "{text:?}"
        );
        let verdict = AnsiColor::Green.on_default().bold();
        assert!(
            text.contains(&format!("\n{verdict}passed{verdict:#}\n1 passed")),
            "{text:?}"
        );
    }

    #[test]
    fn quiet_keeps_failures_and_the_summary_only() {
        let buffer = Buffer::default();
        let console = Console::new(buffer.clone(), Arc::new(Redactor::default()), true)
            .with_progress(Vec::new());
        assert!(console.live.is_none(), "quiet draws no progress line");
        console.event(&Event::StepFinished(Box::new(result(
            0,
            "agent",
            None,
            Outcome::Passed,
        ))));
        console.event(&Event::StepFinished(Box::new(result(
            1,
            "dial",
            None,
            Outcome::Errored,
        ))));
        finish(&console, RunStatus::Failed);
        assert_eq!(
            buffer.text(),
            "  ERROR dial  dial name  200  3 ms\nFAILED\n1 passed, 0 failed, 1 errored, 0 skipped in 42 ms\n"
        );
    }

    #[test]
    fn the_progress_line_follows_steps_items_and_retries() {
        let steps = vec![
            StepInfo {
                id: "agent".into(),
                name: "The agent".into(),
                items: None,
            },
            StepInfo {
                id: "each".into(),
                name: "each".into(),
                items: Some(3),
            },
            StepInfo {
                id: "rows".into(),
                name: "rows".into(),
                items: None,
            },
        ];
        let buffer = Buffer::default();
        let mut console = Console::new(buffer.clone(), Arc::new(Redactor::default()), false);
        console.live = Some(Live::new(steps, false, false));
        let live = |c: &Console<Buffer>| (c.live.as_ref().map(|l| l.bar.clone())).expect("a bar");
        console.event(&Event::RunStarted {
            run_id: "r".into(),
            plan: "p".into(),
            path: "p.yaml".into(),
            providers: Vec::new(),
            steps: 3,
            at: std::time::SystemTime::now(),
        });
        let started = |index: usize, id: &str, item: Option<usize>| Event::StepStarted {
            index,
            id: id.into(),
            item,
        };
        console.event(&started(0, "agent", None));
        assert_eq!(live(&console).message(), "[1/3] agent  The agent");
        console.event(&Event::AttemptFailed {
            index: 0,
            id: "agent".into(),
            item: None,
            name: "agent".into(),
            attempt: 1,
            error: "HTTP 503".into(),
            retry_in: Duration::from_millis(5),
        });
        assert_eq!(live(&console).message(), "[1/3] agent  The agent · 1 retry");
        console.event(&started(1, "each", Some(0)));
        console.event(&Event::StepFinished(Box::new(result(
            1,
            "each",
            Some(0),
            Outcome::Passed,
        ))));
        let bar = live(&console);
        assert_eq!((bar.position(), bar.length()), (1, Some(3)));
        assert_eq!(bar.message(), "[2/3] each");
        // Items read from a file: no total, a count.
        console.event(&started(2, "rows", Some(0)));
        console.event(&Event::StepFinished(Box::new(result(
            2,
            "rows",
            Some(0),
            Outcome::Passed,
        ))));
        let bar = live(&console);
        assert_eq!(bar.length(), None);
        assert_eq!(bar.message(), "[3/3] rows · 1 item");
        finish(&console, RunStatus::Passed);
        assert!(live(&console).is_finished());
        // The step lines are the plain ones.
        assert!(
            buffer
                .text()
                .contains("  PASS  each[1]  each name  200  3 ms\n")
        );
    }
}
