//! The HTML report: one self-contained page (inline CSS, no script, nothing fetched) with a
//! header, the outcome counts, a timeline of every step and `for_each` item on one time axis,
//! and a table of details.
//!
//! The page's `Content-Security-Policy` forbids every fetch, so a browser opening it from a CI
//! artifact loads nothing, even if a message in the report held a URL.
//!
//! Text is escaped by hand ([`escape`]): the page puts text only in element content and in
//! double-quoted attribute values, where escaping five characters is all that is needed; a
//! template engine would be a dependency for one page.
//!
//! A large `for_each` step keeps only some of its items in the model (`omitted` counts the
//! others): the timeline and the table show the kept ones, the step's label counts every item
//! (from the step's `total` and `counts`), and a note under its row and at the end of its rows
//! in the table says how many more there are and that the JSONL report has them.

use std::fmt::Write as _;

use super::markdown::{breakdown, omitted_counts, thousands};
use super::model::{AttemptReport, Counts, ItemOutcome, ItemReport, Report, Status, StepReport};
use crate::duration::human_ms;

/// A `for_each` step with more items than this is drawn as one row of thin segments (in lanes,
/// so that concurrent items stay visible); below it, one row per item.
const ROWS_PER_ITEM_UP_TO: usize = 12;

/// The most lanes a collapsed `for_each` row has; busier items share a lane.
const MAX_LANES: usize = 16;

/// Per step, the details table lists the first this many items that did not pass...
const PROBLEM_ROWS_PER_STEP: usize = 200;

/// ...and the first this many passed ones; the JSON report has every one.
const PASSED_ROWS_PER_STEP: usize = 100;

/// Renders a report as one HTML page.
pub fn render(report: &Report) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let title = format!("{} · callplan report", report.plan.name);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"callplan {}\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        env!("CARGO_PKG_VERSION"),
        escape(&title),
    );
    header(&mut out, report);
    counts(&mut out, report);
    let steps = ordered(report);
    timeline(&mut out, report, &steps);
    details(&mut out, &steps);
    let _ = write!(
        out,
        "<footer>callplan {}</footer>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION"),
    );
    out
}

/// Escapes text for element content and double-quoted attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The steps in plan order (the model keeps them in the order they first finished).
fn ordered(report: &Report) -> Vec<&StepReport> {
    let mut steps: Vec<&StepReport> = report.steps.iter().collect();
    steps.sort_by_key(|s| s.index);
    steps
}

/// Items in `for_each` order.
fn items(step: &StepReport) -> Vec<&ItemReport> {
    let mut items: Vec<&ItemReport> = step.items.iter().collect();
    items.sort_by_key(|i| (i.item, i.started_ms));
    items
}

fn outcome_name(o: ItemOutcome) -> &'static str {
    match o {
        ItemOutcome::Passed => "passed",
        ItemOutcome::Failed => "failed",
        ItemOutcome::Errored => "errored",
        ItemOutcome::Skipped => "skipped",
    }
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Running => "running",
        Status::Passed => "passed",
        Status::Failed => "failed",
        Status::CouldNotRun => "could not run",
        Status::Interrupted => "interrupted",
    }
}

fn status_class(s: Status) -> &'static str {
    match s {
        Status::Running => "running",
        Status::Passed => "passed",
        Status::Failed => "failed",
        Status::CouldNotRun => "could-not-run",
        Status::Interrupted => "interrupted",
    }
}

/// A failure that does not fail the run.
fn is_ignored(step: &StepReport, item: &ItemReport) -> bool {
    step.ignored && matches!(item.outcome, ItemOutcome::Failed | ItemOutcome::Errored)
}

/// A percentage of the time axis, for CSS.
fn pct(part: f64, whole: f64) -> String {
    format!("{:.3}%", (part / whole * 100.0).clamp(0.0, 100.0))
}

/// The call's state, with how it ended: `connected`, `disconnected (peer)`.
fn call_state(call: &serde_json::Value) -> Option<String> {
    let state = call.get("state").and_then(serde_json::Value::as_str)?;
    Some(
        match call
            .get("disconnect_type")
            .and_then(serde_json::Value::as_str)
        {
            Some(how) if !how.is_empty() => format!("{state} ({how})"),
            _ => state.to_owned(),
        },
    )
}

fn header(out: &mut String, report: &Report) {
    let status = report.status;
    let _ = write!(
        out,
        "<header>\n<div class=\"title\"><h1>{}</h1><span class=\"status s-{}\">{}</span></div>\n",
        escape(&report.plan.name),
        status_class(status),
        escape(status_name(status)),
    );
    if let Some(reason) = &report.reason {
        let _ = writeln!(out, "<p class=\"reason\">{}</p>", escape(reason));
    }
    let sha = &report.plan.sha256;
    let short: String = sha.chars().take(12).collect();
    let finished = report
        .finished_at
        .as_deref()
        .map(|f| format!(" → {}", escape(f)))
        .unwrap_or_default();
    let _ = write!(
        out,
        "<dl class=\"meta\">\n\
         <div><dt>run</dt><dd><code>{}</code></dd></div>\n\
         <div><dt>plan</dt><dd><code>{}</code> <code class=\"sha\" title=\"sha256 {}\">{}</code></dd></div>\n\
         <div><dt>started</dt><dd>{}{finished}</dd></div>\n\
         <div><dt>duration</dt><dd>{}</dd></div>\n",
        escape(&report.run_id),
        escape(&report.plan.path),
        escape(sha),
        escape(if short.is_empty() {
            "no sha256"
        } else {
            &short
        }),
        escape(&report.started_at),
        escape(&human_ms(report.duration_ms)),
    );
    out.push_str("<div class=\"providers\"><dt>providers</dt><dd>");
    if report.providers.is_empty() {
        out.push_str("<span class=\"muted\">none</span>");
    }
    for p in &report.providers {
        let _ = write!(
            out,
            "<span class=\"provider\"><b>{}</b> <span class=\"muted\">{}</span> <code>{}</code></span>",
            escape(&p.name),
            escape(&p.kind),
            escape(&p.target),
        );
    }
    out.push_str("</dd></div>\n</dl>\n</header>\n");
}

fn counts(out: &mut String, report: &Report) {
    let c = report.counts;
    out.push_str("<section class=\"counts\" aria-label=\"outcome counts\">\n");
    for (name, n) in [
        ("passed", c.passed),
        ("failed", c.failed),
        ("errored", c.errored),
        ("skipped", c.skipped),
        ("warned", c.warned),
    ] {
        let zero = if n == 0 { " zero" } else { "" };
        let _ = writeln!(
            out,
            "<span class=\"badge b-{name}{zero}\"><b>{n}</b> {name}</span>"
        );
    }
    out.push_str("</section>\n");
}

/// The end of the time axis: the run's duration, or the last item's end if later.
fn axis_end(report: &Report) -> u64 {
    report
        .steps
        .iter()
        .flat_map(|s| &s.items)
        .map(|i| i.started_ms.saturating_add(i.duration_ms))
        .chain([report.duration_ms])
        .max()
        .unwrap_or(0)
        .max(1)
}

/// Tick spacing for about eight ticks: 1, 2 or 5 times a power of ten milliseconds.
fn tick_step(end: u64) -> u64 {
    let raw = end.div_ceil(8).max(1);
    let mut magnitude = 1u64;
    loop {
        for m in [1, 2, 5] {
            let step = magnitude.saturating_mul(m);
            if step >= raw {
                return step;
            }
        }
        magnitude = magnitude.saturating_mul(10);
    }
}

/// A tick's label, in one unit across the axis.
fn tick_label(ms: u64, end: u64) -> String {
    if end < 2_000 {
        format!("{ms} ms")
    } else if end < 120_000 {
        let s = format!("{:.1}", ms as f64 / 1_000.0);
        format!("{} s", s.trim_end_matches(".0"))
    } else {
        format!("{}:{:02}", ms / 60_000, ms / 1_000 % 60)
    }
}

fn timeline(out: &mut String, report: &Report, steps: &[&StepReport]) {
    out.push_str("<section class=\"timeline\">\n<h2>Timeline</h2>\n");
    if steps.is_empty() {
        out.push_str("<p class=\"empty\">No step ran.</p>\n</section>\n");
        return;
    }
    let end = axis_end(report);
    let step = tick_step(end);
    let ticks: Vec<u64> = (0..=end / step).map(|k| k * step).collect();
    let mut grid = String::new();
    for t in &ticks {
        let _ = write!(
            grid,
            "<i class=\"grid\" style=\"left:{}\"></i>",
            pct(*t as f64, end as f64)
        );
    }
    out.push_str("<div class=\"tl\">\n");
    axis(out, &ticks, end);
    for s in steps {
        let items = items(s);
        let label = step_label(
            s,
            &if items.len() <= ROWS_PER_ITEM_UP_TO && items.iter().any(|i| i.item.is_some()) {
                match s.total {
                    1 => " · 1 item".to_owned(),
                    n => format!(" · {} items", thousands(n)),
                }
            } else {
                String::new()
            },
        );
        if s.items.len() > ROWS_PER_ITEM_UP_TO {
            collapsed_row(out, s, &items, end, &grid, &label);
        } else if items.len() > 1 || items.first().is_some_and(|i| i.item.is_some()) {
            // A small `for_each`: the step's span, then a row per item.
            let from = items.iter().map(|i| i.started_ms).min().unwrap_or(0);
            let to = items
                .iter()
                .map(|i| i.started_ms.saturating_add(i.duration_ms))
                .max()
                .unwrap_or(0);
            let _ = writeln!(
                out,
                "<div class=\"row group\"><div class=\"label\">{label}</div>\
                 <div class=\"track\">{grid}<span class=\"span\" style=\"left:{};width:{}\"></span></div></div>",
                pct(from as f64, end as f64),
                pct(to.saturating_sub(from) as f64, end as f64),
            );
            for item in &items {
                let name = item
                    .item
                    .map(|i| format!("item {i}"))
                    .unwrap_or_else(|| "item".to_owned());
                let _ = write!(
                    out,
                    "<div class=\"row item\"><div class=\"label\"><span class=\"iname\">{}</span></div><div class=\"track\">{grid}",
                    escape(&name)
                );
                bar(out, s, item, end, None, &anchor(s, item));
                out.push_str("</div></div>\n");
            }
        } else {
            let _ = write!(
                out,
                "<div class=\"row\"><div class=\"label\">{label}</div><div class=\"track\">{grid}"
            );
            for item in &items {
                bar(out, s, item, end, None, &anchor(s, item));
            }
            out.push_str("</div></div>\n");
        }
        if s.omitted > 0 {
            let _ = writeln!(
                out,
                "<div class=\"row omitted\"><div class=\"label\"></div><p class=\"omitted\">{}</p></div>",
                omitted_note(s),
            );
        }
    }
    axis(out, &ticks, end);
    out.push_str("</div>\n");
    legend(out);
    out.push_str("</section>\n");
}

fn axis(out: &mut String, ticks: &[u64], end: u64) {
    out.push_str("<div class=\"row axis\"><div class=\"label\"></div><div class=\"ticks\">");
    for t in ticks {
        // The last label would run off the right edge: anchor it at its right.
        let edge = if (*t as f64) / (end as f64) > 0.94 {
            " end"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<span class=\"tick{edge}\" style=\"left:{}\">{}</span>",
            pct(*t as f64, end as f64),
            escape(&tick_label(*t, end)),
        );
    }
    out.push_str("</div></div>\n");
}

fn step_label(s: &StepReport, extra: &str) -> String {
    let mut tags = String::new();
    if s.always {
        tags.push_str("<span class=\"tag\">always</span>");
    }
    if s.ignored {
        tags.push_str("<span class=\"tag\">on_error: ignore</span>");
    }
    format!(
        "<a class=\"sname\" href=\"#step-{}\" title=\"{}\">{}</a>{tags}<span class=\"action\">{} · {}{extra}</span>",
        s.index,
        escape(&s.name),
        escape(&s.id),
        escape(&s.provider),
        escape(&s.action),
    )
}

/// A hover text for a bar.
fn bar_title(s: &StepReport, item: &ItemReport) -> String {
    let mut t = s.id.clone();
    if let Some(i) = item.item {
        let _ = write!(t, " [item {i}]");
    }
    let _ = write!(
        t,
        ": {}{} · starts at {} · {}",
        outcome_name(item.outcome),
        if is_ignored(s, item) {
            " (ignored)"
        } else {
            ""
        },
        human_ms(item.started_ms),
        human_ms(item.duration_ms),
    );
    if let Some(status) = item.status {
        let _ = write!(t, " · HTTP {status}");
    }
    if item.attempts.len() > 1 {
        let _ = write!(t, " · {} attempts", item.attempts.len());
    }
    if let Some(state) = item.call.as_ref().and_then(call_state) {
        let _ = write!(t, " · call {state}");
    }
    if let Some(m) = &item.message {
        let first: String = m.chars().take(200).collect();
        let _ = write!(t, "\n{first}");
    }
    if let Some(steps) = item.row_steps_line() {
        let _ = write!(t, "\nsteps: {steps}");
    }
    t
}

/// One item's bar; `lane` places it in a collapsed row (top offset and height, in pixels).
fn bar(
    out: &mut String,
    s: &StepReport,
    item: &ItemReport,
    end: u64,
    lane: Option<(usize, f64)>,
    target: &str,
) {
    let ignored = if is_ignored(s, item) { " ignored" } else { "" };
    let left = pct(item.started_ms as f64, end as f64);
    let width = pct(item.duration_ms as f64, end as f64);
    let place = match lane {
        Some((lane, height)) => format!(
            "top:{:.1}px;height:{:.1}px;",
            2.0 + lane as f64 * height,
            (height - 1.0).max(1.0)
        ),
        None => String::new(),
    };
    let _ = write!(
        out,
        "<a class=\"bar o-{}{ignored}\" href=\"#{}\" style=\"{place}left:{left};width:{width}\" title=\"{}\">",
        outcome_name(item.outcome),
        target,
        escape(&bar_title(s, item)),
    );
    if lane.is_none() {
        attempts(out, item);
    }
    out.push_str("</a>");
    if lane.is_none() {
        note(out, item, end);
    }
}

/// Beside a bar: its duration, and for a call step where the call got to. After the bar if it
/// fits there, else before it, else inside the bar's right end.
fn note(out: &mut String, item: &ItemReport, end: u64) {
    let call = item
        .call
        .as_ref()
        .and_then(call_state)
        .map(|state| format!("call: {state}"));
    let duration = human_ms(item.duration_ms);
    // Whether it fits is judged on a track of about 900 px (a 1280 px window) and about 6.5 px a
    // character; the track clips what does not fit on a narrower screen.
    let chars = duration.len() + call.as_ref().map_or(0, |c| c.len() + 4);
    let needed = (chars as f64 * 6.5 + 24.0) / 900.0;
    let start = item.started_ms as f64 / end as f64;
    let stop = item.started_ms.saturating_add(item.duration_ms) as f64 / end as f64;
    let right_of = |at: f64| format!("{:.3}%", (100.0 - at * 100.0).clamp(0.0, 100.0));
    let (class, place) = if 1.0 - stop >= needed || (1.0 - stop >= start && stop - start < needed) {
        (
            "note",
            format!("left:calc({:.3}% + 6px)", (stop * 100.0).clamp(0.0, 100.0)),
        )
    } else if start >= needed || stop - start < needed {
        (
            "note before",
            format!("right:calc({} + 6px)", right_of(start)),
        )
    } else {
        (
            "note inside",
            format!("right:calc({} + 6px)", right_of(stop)),
        )
    };
    let duration = format!("<span class=\"dur\">{}</span>", escape(&duration));
    let call = call
        .map(|c| format!("<span class=\"call\">{}</span>", escape(&c)))
        .unwrap_or_default();
    // The duration next to the bar, the call's state beyond it.
    let inner = if class == "note before" {
        format!("{call}{duration}")
    } else {
        format!("{duration}{call}")
    };
    let _ = write!(
        out,
        "<span class=\"{class}\" style=\"{place}\">{inner}</span>"
    );
}

/// The attempts inside a bar: each attempt a segment (failed ones darker, a tick between
/// them), each retry wait a hatched segment. Drawn only when there was more than one attempt.
fn attempts(out: &mut String, item: &ItemReport) {
    if item.attempts.len() < 2 && item.attempts.iter().all(|a| a.retry_after_ms.is_none()) {
        return;
    }
    let used: u64 = item
        .attempts
        .iter()
        .map(|a| a.elapsed_ms.saturating_add(a.retry_after_ms.unwrap_or(0)))
        .sum();
    let whole = used.max(item.duration_ms).max(1) as f64;
    let mut at = 0u64;
    for (n, a) in item.attempts.iter().enumerate() {
        let bad = if attempt_failed(a) { " bad" } else { "" };
        let first = if n == 0 { " first" } else { "" };
        let _ = write!(
            out,
            "<i class=\"att{bad}{first}\" style=\"left:{};width:{}\"></i>",
            pct(at as f64, whole),
            pct(a.elapsed_ms as f64, whole),
        );
        at = at.saturating_add(a.elapsed_ms);
        if let Some(wait) = a.retry_after_ms {
            let _ = write!(
                out,
                "<i class=\"wait\" style=\"left:{};width:{}\"></i>",
                pct(at as f64, whole),
                pct(wait as f64, whole),
            );
            at = at.saturating_add(wait);
        }
    }
}

fn attempt_failed(a: &AttemptReport) -> bool {
    a.error.is_some() || a.status.is_some_and(|s| s >= 400)
}

/// A big `for_each` in one row: a thin segment per item, in lanes so that items running at
/// the same time do not hide each other.
fn collapsed_row(
    out: &mut String,
    s: &StepReport,
    items: &[&ItemReport],
    end: u64,
    grid: &str,
    label: &str,
) {
    // Items the details table leaves out link to its "and N more" row.
    let more = format!("step-{}-more", s.index);
    let mut by_start: Vec<(&ItemReport, bool)> = items.iter().copied().zip(listed(items)).collect();
    by_start.sort_by_key(|(i, _)| (i.started_ms, i.item));
    // Greedy interval packing: the first lane free at the item's start, else the lane that
    // frees up soonest.
    let mut lane_ends: Vec<u64> = Vec::new();
    let mut placed: Vec<(usize, &ItemReport, bool)> = Vec::with_capacity(by_start.len());
    for (item, is_listed) in by_start {
        let end_ms = item.started_ms.saturating_add(item.duration_ms);
        let lane = match lane_ends.iter().position(|e| *e <= item.started_ms) {
            Some(l) => l,
            None if lane_ends.len() < MAX_LANES => {
                lane_ends.push(0);
                lane_ends.len() - 1
            }
            None => lane_ends
                .iter()
                .enumerate()
                .min_by_key(|(_, e)| **e)
                .map(|(l, _)| l)
                .unwrap_or(0),
        };
        lane_ends[lane] = lane_ends[lane].max(end_ms);
        placed.push((lane, item, is_listed));
    }
    let lanes = lane_ends.len().max(1);
    let lane_height = (40.0 / lanes as f64).clamp(3.0, 14.0);
    let height = lanes as f64 * lane_height + 4.0;
    let _ = write!(
        out,
        "<div class=\"row many\"><div class=\"label\">{label}<span class=\"sub\">{} items: {}</span></div>\
         <div class=\"track\" style=\"height:{height:.1}px\">{grid}",
        thousands(s.total),
        escape(&breakdown(s.counts, "warned")),
    );
    for (lane, item, is_listed) in placed {
        let target = if is_listed {
            anchor(s, item)
        } else {
            more.clone()
        };
        bar(out, s, item, end, Some((lane, lane_height)), &target);
    }
    out.push_str("</div></div>\n");
}

fn legend(out: &mut String) {
    out.push_str(
        "<div class=\"legend\">\
         <span><i class=\"sw o-passed\"></i>passed</span>\
         <span><i class=\"sw o-failed\"></i>failed (an expectation)</span>\
         <span><i class=\"sw o-errored\"></i>errored (transport, auth, timeout, status)</span>\
         <span><i class=\"sw o-skipped\"></i>skipped</span>\
         <span><i class=\"sw o-failed ignored\"></i>ignored failure</span>\
         <span><i class=\"sw wide o-passed\"><i class=\"att bad first\" style=\"left:0;width:40%\"></i>\
         <i class=\"wait\" style=\"left:40%;width:30%\"></i><i class=\"att\" style=\"left:70%;width:30%\"></i></i>\
         failed attempt, retry wait, next attempt</span>\
         </div>\n",
    );
}

/// Which of a step's items (in [`items`] order) the details table lists: the first
/// [`PROBLEM_ROWS_PER_STEP`] that did not pass and the first [`PASSED_ROWS_PER_STEP`] passed.
fn listed(items: &[&ItemReport]) -> Vec<bool> {
    let (mut passed, mut other) = (0usize, 0usize);
    items
        .iter()
        .map(|i| {
            if i.outcome == ItemOutcome::Passed {
                passed += 1;
                passed <= PASSED_ROWS_PER_STEP
            } else {
                other += 1;
                other <= PROBLEM_ROWS_PER_STEP
            }
        })
        .collect()
}

/// How many of `items` had each outcome, failures under `on_error: ignore` as `warned`.
fn item_counts<'a>(s: &StepReport, items: impl Iterator<Item = &'a ItemReport>) -> Counts {
    let mut c = Counts::default();
    for i in items {
        match i.outcome {
            ItemOutcome::Passed => c.passed += 1,
            ItemOutcome::Skipped => c.skipped += 1,
            _ if s.ignored => c.warned += 1,
            ItemOutcome::Failed => c.failed += 1,
            ItemOutcome::Errored => c.errored += 1,
        }
    }
    c
}

/// The sum of two sets of counts.
fn plus(a: Counts, b: Counts) -> Counts {
    Counts {
        passed: a.passed + b.passed,
        failed: a.failed + b.failed,
        errored: a.errored + b.errored,
        skipped: a.skipped + b.skipped,
        warned: a.warned + b.warned,
    }
}

/// Under a step's timeline row: the items the report did not keep, and where they are.
fn omitted_note(s: &StepReport) -> String {
    format!(
        "{} more {} ({}) {} not drawn here: every item is in the JSONL report \
         (<code>--report jsonl:PATH</code>).",
        thousands(s.omitted),
        if s.omitted == 1 { "item" } else { "items" },
        escape(&breakdown(omitted_counts(s), "warned")),
        if s.omitted == 1 { "is" } else { "are" },
    )
}

/// The id of an item's row in the details table.
fn anchor(s: &StepReport, item: &ItemReport) -> String {
    match item.item {
        Some(i) => format!("step-{}-{i}", s.index),
        None => format!("step-{}", s.index),
    }
}

fn details(out: &mut String, steps: &[&StepReport]) {
    out.push_str("<section class=\"details\">\n<h2>Details</h2>\n");
    if steps.is_empty() {
        out.push_str("<p class=\"empty\">No step ran.</p>\n</section>\n");
        return;
    }
    out.push_str(
        "<div class=\"scroll\"><table>\n<colgroup><col class=\"c-step\"><col class=\"c-item\">\
         <col class=\"c-outcome\"><col class=\"c-status\"><col class=\"c-duration\">\
         <col class=\"c-attempts\"><col><col class=\"c-request\"></colgroup>\n\
         <thead><tr><th>step</th><th class=\"num\">item</th><th>outcome</th><th class=\"num\">status</th>\
         <th class=\"num\">duration</th><th>attempts</th><th>message and hint</th>\
         <th>request and response</th></tr></thead>\n<tbody>\n",
    );
    for s in steps {
        let items = items(s);
        let listed = listed(&items);
        let mut first = true;
        for (item, _) in items.iter().zip(&listed).filter(|(_, l)| **l) {
            detail_row(out, s, item, first);
            first = false;
        }
        let hidden: Vec<&ItemReport> = items
            .iter()
            .zip(&listed)
            .filter(|(_, l)| !**l)
            .map(|(i, _)| *i)
            .collect();
        if !hidden.is_empty() || s.omitted > 0 {
            // The items kept but not listed here, and those the report did not keep.
            let counts = plus(item_counts(s, hidden.iter().copied()), omitted_counts(s));
            let more = hidden.len() as u64 + s.omitted;
            let where_ = match (hidden.len(), s.omitted) {
                (_, 0) => "the JSON report lists every one".to_owned(),
                (0, _) => {
                    "the JSONL report (<code>--report jsonl:PATH</code>) lists every one".to_owned()
                }
                (h, _) => format!(
                    "the JSON report lists {} of them, the JSONL report \
                     (<code>--report jsonl:PATH</code>) every one",
                    thousands(h as u64)
                ),
            };
            let _ = writeln!(
                out,
                "<tr id=\"step-{}-more\" class=\"more\"><td colspan=\"8\">… and {} more {} of <code>{}</code> ({}): {where_}.</td></tr>",
                s.index,
                thousands(more),
                if more == 1 { "item" } else { "items" },
                escape(&s.id),
                escape(&breakdown(counts, "warned")),
            );
        }
    }
    out.push_str("</tbody>\n</table></div>\n</section>\n");
}

fn detail_row(out: &mut String, s: &StepReport, item: &ItemReport, first: bool) {
    // The step's own anchor sits on its first row (a `for_each` step's items have their own).
    let step_anchor = if first && item.item.is_some() {
        format!("<span id=\"step-{}\"></span>", s.index)
    } else {
        String::new()
    };
    let ignored = if is_ignored(s, item) {
        "<span class=\"tag\">ignored</span>"
    } else {
        ""
    };
    let none = "<span class=\"muted\">–</span>";
    let _ = write!(
        out,
        "<tr id=\"{}\" class=\"r-{}\"><td>{step_anchor}<b>{}</b><div class=\"muted small\">{}</div></td>\
         <td class=\"num\">{}</td><td><span class=\"pill o-{}\">{}</span>{ignored}</td><td class=\"num\">{}</td>\
         <td class=\"num\">{}</td><td>",
        anchor(s, item),
        outcome_name(item.outcome),
        escape(&s.id),
        escape(&s.name),
        item.item.map(|i| i.to_string()).unwrap_or_default(),
        outcome_name(item.outcome),
        outcome_name(item.outcome),
        item.status
            .map(|s| s.to_string())
            .unwrap_or_else(|| none.to_owned()),
        escape(&human_ms(item.duration_ms)),
    );
    attempt_list(out, item);
    out.push_str("</td><td class=\"msg\">");
    match &item.message {
        Some(m) => out.push_str(&escape(m)),
        None => out.push_str(none),
    }
    if let Some(h) = &item.hint {
        let _ = write!(out, "<div class=\"hint\"><b>hint</b> {}</div>", escape(h));
    }
    out.push_str("</td><td class=\"req\">");
    match &item.request {
        Some(r) => {
            let _ = write!(out, "<code>{}</code>", escape(r));
        }
        None => out.push_str(none),
    }
    if let Some(c) = &item.correlation_id {
        let _ = write!(
            out,
            "<div class=\"corr\" title=\"correlation id\">correlation id <code>{}</code></div>",
            escape(c)
        );
    }
    // The answer and what came of it, folded: they can be long.
    let mut parts = Vec::new();
    if item.response.is_some() {
        parts.push("response");
    }
    if item.call.is_some() {
        parts.push("call");
    }
    if !item.saved.is_empty() {
        parts.push("saved");
    }
    if !parts.is_empty() {
        let _ = write!(out, "<details><summary>{}</summary>", parts.join(", "));
        if let Some(response) = &item.response {
            let _ = write!(
                out,
                "<div class=\"k\">response (excerpt)</div><pre>{}</pre>",
                escape(response)
            );
        }
        if let Some(call) = &item.call {
            let _ = write!(
                out,
                "<div class=\"k\">call</div><pre>{}</pre>",
                escape(&serde_json::to_string_pretty(call).unwrap_or_default())
            );
        }
        if !item.saved.is_empty() {
            let _ = write!(
                out,
                "<div class=\"k\">saved</div><pre>{}</pre>",
                escape(&serde_json::to_string_pretty(&item.saved).unwrap_or_default())
            );
        }
        out.push_str("</details>");
    }
    out.push_str("</td></tr>\n");
}

fn attempt_list(out: &mut String, item: &ItemReport) {
    if item.attempts.is_empty() {
        out.push_str("<span class=\"muted\">0</span>");
        return;
    }
    out.push_str("<ol class=\"attempts\">");
    for a in &item.attempts {
        let what = match (&a.status, &a.error) {
            (_, Some(e)) => escape(e),
            (Some(s), None) => format!("HTTP {s}"),
            (None, None) => "done".to_owned(),
        };
        let bad = if attempt_failed(a) {
            " class=\"bad\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "<li{bad}>{what} <span class=\"muted\">in {}</span>",
            escape(&human_ms(a.elapsed_ms))
        );
        if let Some(wait) = a.retry_after_ms {
            let _ = write!(
                out,
                " <span class=\"waited\">then waited {}</span>",
                escape(&human_ms(wait))
            );
        }
        out.push_str("</li>");
    }
    out.push_str("</ol>");
}

/// The page's style. System fonts only: nothing is fetched.
const CSS: &str = r#"
:root{--passed:#2e9d4f;--failed:#e8890c;--errored:#d33a3a;--skipped:#9aa1aa;--ink:#1d232b;--muted:#6b7480;--line:#e3e6ea;--bg:#f6f7f9;--card:#fff;--label:280px}
*{box-sizing:border-box}
body{margin:0;padding:20px 28px 32px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:var(--bg)}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:12px}
h1{font-size:22px;margin:0}
h2{font-size:15px;margin:0 0 10px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted)}
a{color:inherit;text-decoration:none}
.muted{color:var(--muted)}
header{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:16px 20px;margin-bottom:14px}
.title{display:flex;align-items:center;gap:12px}
.status{font-weight:600;border-radius:999px;padding:2px 12px;color:#fff;font-size:13px;text-transform:uppercase;letter-spacing:.05em}
.s-passed{background:var(--passed)}.s-failed,.s-could-not-run{background:var(--errored)}.s-interrupted{background:var(--failed)}.s-running{background:#3a7bd5}
.reason{margin:8px 0 0;color:#8a3b12}
.meta{display:flex;flex-wrap:wrap;gap:6px 28px;margin:12px 0 0}
.meta div{display:flex;gap:8px;align-items:baseline}
.meta dt{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.05em}
.meta dd{margin:0}
.sha{background:#eef0f3;border-radius:4px;padding:1px 5px}
.provider{margin-right:16px}
.counts{display:flex;gap:8px;flex-wrap:wrap;margin:0 0 14px}
.badge{border-radius:999px;padding:3px 12px;color:#fff;font-size:13px}
.badge b{font-size:15px;margin-right:2px}
.b-passed{background:var(--passed)}.b-failed{background:var(--failed)}.b-errored{background:var(--errored)}.b-skipped{background:var(--skipped)}.b-warned{background:#b58a00}
.badge.zero{background:#dfe2e6;color:var(--muted)}
section.timeline,section.details{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 20px;margin-bottom:14px}
.tl{position:relative}
.row{display:flex;align-items:stretch;border-top:1px solid #f0f1f3}
.row.axis{border:0}
.row.item{border-top:0}
.label{flex:0 0 var(--label);padding:4px 12px 4px 0;min-width:0;overflow:hidden;white-space:nowrap;text-overflow:ellipsis}
.row.item .label{padding-left:18px}
.sname{font-weight:600}
.sname:hover{text-decoration:underline}
.action{display:block;color:var(--muted);font-size:12px;overflow:hidden;text-overflow:ellipsis}
.sub{display:block;color:var(--muted);font-size:12px;white-space:normal}
.iname{color:var(--muted);font-size:12px}
.tag{display:inline-block;margin-left:6px;white-space:nowrap;font-size:11px;border:1px solid #c9ced4;color:var(--muted);border-radius:4px;padding:0 4px;vertical-align:1px}
.track{position:relative;flex:1;min-height:30px;overflow:hidden}
.row.item .track{min-height:22px}
.grid{position:absolute;top:0;bottom:0;width:1px;background:#eceef1}
.ticks{position:relative;flex:1;height:20px;font-size:11px;color:var(--muted)}
.tick{position:absolute;top:2px;transform:translateX(-50%);white-space:nowrap}
.tick:first-child{transform:none}
.tick.end{transform:translateX(-100%)}
.bar{position:absolute;top:calc(50% - 8px);height:16px;min-width:3px;border-radius:3px;overflow:hidden;box-shadow:inset 0 0 0 1px rgba(0,0,0,.12)}
.row.item .bar{top:calc(50% - 7px);height:14px}
.row.many .bar{border-radius:1px;min-width:2px;box-shadow:none}
.bar:hover{outline:2px solid var(--ink);z-index:2}
.o-passed{background:var(--passed)}.o-failed{background:var(--failed)}.o-errored{background:var(--errored)}.o-skipped{background:var(--skipped)}
.ignored{opacity:.6;background-image:repeating-linear-gradient(-45deg,rgba(255,255,255,.55) 0 3px,transparent 3px 7px)}
.span{position:absolute;top:calc(50% - 3px);height:6px;min-width:2px;border-radius:3px;background:#c9ced6}
.att{position:absolute;top:0;bottom:0;border-left:2px solid rgba(255,255,255,.95)}
.att.first{border-left:0}
.att.bad{background:rgba(0,0,0,.28)}
.wait{position:absolute;top:0;bottom:0;background:repeating-linear-gradient(45deg,rgba(255,255,255,.85) 0 2px,rgba(255,255,255,.35) 2px 5px)}
.note{position:absolute;top:calc(50% - 8px);display:flex;gap:6px;align-items:center;font-size:11px;line-height:16px;white-space:nowrap;color:var(--muted);pointer-events:none}
.call{color:#2d4f7c;background:#e8f0fb;border-radius:3px;padding:0 5px}
.note.inside{flex-direction:row-reverse}
.note.inside .dur{color:#fff;font-weight:600}
.legend{display:flex;flex-wrap:wrap;gap:6px 18px;margin-top:10px;font-size:12px;color:var(--muted)}
.legend span{display:flex;align-items:center;gap:6px}
.sw{position:relative;display:inline-block;width:26px;height:12px;border-radius:2px;overflow:hidden}
.sw.wide{width:60px}
.empty{color:var(--muted);margin:4px 0}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;min-width:1000px;table-layout:fixed;font-size:13px}
.c-step{width:170px}.c-item{width:48px}.c-outcome{width:92px}.c-status{width:58px}.c-duration{width:76px}.c-attempts{width:210px}.c-request{width:300px}
th{text-align:left;font-weight:600;color:var(--muted);font-size:12px;border-bottom:2px solid var(--line);padding:6px 8px;white-space:nowrap}
td{border-bottom:1px solid var(--line);padding:6px 8px;vertical-align:top}
td.num{white-space:nowrap;text-align:right}
td{overflow-wrap:anywhere}
th.num{text-align:right}
.small{font-size:12px}
.hint{margin-top:4px;color:#3d4d63}
.hint b{font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);margin-right:4px}
.corr{margin-top:3px;font-size:11px;color:var(--muted)}
.corr code{font-size:11px;color:var(--ink)}
tr:target{background:#fff8d6}
.pill{display:inline-block;color:#fff;border-radius:4px;padding:0 6px;font-size:12px}
ol.attempts{margin:0;padding-left:18px}
ol.attempts li.bad{color:#a12c2c}
.waited{color:#7a5b00}
details summary{cursor:pointer;color:#2d4f7c}
details pre{max-height:260px;overflow:auto;background:#f4f5f7;border-radius:6px;padding:6px 8px;margin:2px 0 8px;white-space:pre-wrap;overflow-wrap:anywhere}
.k{font-size:11px;color:var(--muted);text-transform:uppercase;letter-spacing:.05em;margin-top:4px}
tr.more td{color:var(--muted);font-style:italic}
.row.omitted{border-top:0}
p.omitted{flex:1;margin:0;padding:2px 0 6px;color:var(--muted);font-size:12px;font-style:italic}
footer{color:var(--muted);font-size:12px;text-align:center}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_the_five_characters() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn ticks_are_round_numbers() {
        assert_eq!(tick_step(1), 1);
        assert_eq!(tick_step(1_000), 200);
        assert_eq!(tick_step(7_300), 1_000);
        assert_eq!(tick_step(45_000), 10_000);
        assert_eq!(tick_label(2_500, 7_300), "2.5 s");
        assert_eq!(tick_label(3_000, 7_300), "3 s");
        assert_eq!(tick_label(150_000, 300_000), "2:30");
    }
}
