//! The terminal: one line per step as it finishes, retries as they happen, and a summary.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::runner::events::{Event, Outcome, RunStatus, Sink, StepResult};

use super::Redactor;

/// Plain line-per-event output.
pub struct Console<W: Write + Send> {
    out: Mutex<W>,
    redactor: Arc<Redactor>,
    counts: Mutex<[usize; 4]>,
}

impl<W: Write + Send> Console<W> {
    /// Writes to `out`, masking what `redactor` knows.
    pub fn new(out: W, redactor: Arc<Redactor>) -> Console<W> {
        Console {
            out: Mutex::new(out),
            redactor,
            counts: Mutex::new([0; 4]),
        }
    }

    fn line(&self, text: &str) {
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = writeln!(out, "{}", self.redactor.mask(text));
        let _ = out.flush();
    }
}

fn millis(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

fn label(outcome: Outcome, ignored: bool) -> &'static str {
    match (outcome, ignored) {
        (Outcome::Passed, _) => "PASS ",
        (Outcome::Failed, true) | (Outcome::Errored, true) => "WARN ",
        (Outcome::Failed, false) => "FAIL ",
        (Outcome::Errored, false) => "ERROR",
        (Outcome::Skipped, _) => "SKIP ",
    }
}

fn step_line(r: &StepResult) -> String {
    let id = match r.item {
        Some(i) => format!("{}[{}]", r.id, i + 1),
        None => r.id.clone(),
    };
    let mut line = format!("  {} {id}", label(r.outcome, r.ignored));
    if r.name != r.id {
        line.push_str(&format!("  {}", r.name));
    }
    if let Some(status) = r.status {
        line.push_str(&format!("  {status}"));
    }
    if let Some(state) = r
        .call
        .as_ref()
        .and_then(|c| c.get("state"))
        .and_then(|s| s.as_str())
    {
        line.push_str(&format!("  call {state}"));
    }
    if r.outcome != Outcome::Skipped {
        line.push_str(&format!("  {}", millis(r.duration)));
    }
    if r.attempts.len() > 1 {
        line.push_str(&format!("  ({} attempts)", r.attempts.len()));
    }
    if let Some(message) = &r.message {
        line.push_str(&format!("\n        {message}"));
    }
    if let Some(hint) = &r.hint {
        line.push_str(&format!("\n        hint: {hint}"));
    }
    line
}

impl<W: Write + Send> Sink for Console<W> {
    fn event(&self, event: &Event) {
        match event {
            Event::RunStarted {
                run_id,
                plan,
                steps,
                ..
            } => self.line(&format!("run {run_id}: {plan} ({steps} steps)")),
            Event::StepStarted { .. } => {}
            Event::AttemptFailed {
                id,
                item,
                attempt,
                error,
                retry_in,
                ..
            } => {
                let id = item.map_or(id.clone(), |i| format!("{id}[{}]", i + 1));
                // Jittered delays carry nanoseconds nobody needs to read.
                let millis = u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX);
                self.line(&format!(
                    "  retry {id}: attempt {attempt} failed: {error}; retrying in {}",
                    humantime::format_duration(Duration::from_millis(millis))
                ));
            }
            Event::StepFinished(result) => {
                let slot = match (result.outcome, result.ignored) {
                    (Outcome::Passed, _) | (_, true) => 0,
                    (Outcome::Failed, _) => 1,
                    (Outcome::Errored, _) => 2,
                    (Outcome::Skipped, _) => 3,
                };
                self.counts.lock().unwrap_or_else(PoisonError::into_inner)[slot] += 1;
                self.line(&step_line(result));
            }
            Event::Note(text) => self.line(&format!("note: {text}")),
            Event::RunFinished {
                status,
                reason,
                duration,
            } => {
                let [passed, failed, errored, skipped] =
                    *self.counts.lock().unwrap_or_else(PoisonError::into_inner);
                let verdict = match status {
                    RunStatus::Passed => "passed".to_owned(),
                    RunStatus::Failed => "FAILED".to_owned(),
                    RunStatus::CouldNotRun => "could not run".to_owned(),
                    RunStatus::Interrupted => "INTERRUPTED".to_owned(),
                };
                let why = reason
                    .as_ref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default();
                self.line(&format!(
                    "{verdict}{why}\n{passed} passed, {failed} failed, {errored} errored, {skipped} skipped in {}",
                    millis(*duration)
                ));
            }
        }
    }
}
