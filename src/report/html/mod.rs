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
//! others): the timeline and the table show every kept one (the page has no limit of its own),
//! the step's label counts every item (from the step's `total` and `counts`), and a note under
//! its row and at the end of its rows in the table says how many more there are and that the
//! JSONL report has them. Items are named as in every report (`campaign[3]`, with where they are
//! written).
//!
//! This file holds the page and its table; [`timeline`] the timeline's layout (where each bar
//! goes, and which is drawn above which); `style.css` the stylesheet, inlined.

mod timeline;

use std::fmt::Write as _;

use super::markdown::{breakdown, omitted_counts, thousands};
use super::model::{AttemptReport, ItemOutcome, ItemReport, Report, Status, StepReport};
use crate::duration::human_ms;
use timeline::timeline;

pub use timeline::MIN_WIDTH;

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
    super::escape_markup(text, "&#39;")
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

fn attempt_failed(a: &AttemptReport) -> bool {
    a.error.is_some() || a.status.is_some_and(|s| s >= 400)
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
        "<div class=\"scroll\"><table>\n<colgroup><col class=\"c-step\">\
         <col class=\"c-outcome\"><col class=\"c-status\"><col class=\"c-duration\">\
         <col class=\"c-attempts\"><col><col class=\"c-request\"></colgroup>\n\
         <thead><tr><th>step or item</th><th>outcome</th><th class=\"num\">status</th>\
         <th class=\"num\">duration</th><th>attempts</th><th>message and hint</th>\
         <th>request and response</th></tr></thead>\n<tbody>\n",
    );
    for s in steps {
        // Every item the model kept (the same limits as the JSON report's).
        for (n, item) in items(s).into_iter().enumerate() {
            detail_row(out, s, item, n == 0);
        }
        if s.omitted > 0 {
            let _ = writeln!(
                out,
                "<tr id=\"step-{}-more\" class=\"more\"><td colspan=\"7\">… and {} more {} of <code>{}</code> ({}): \
                 the JSONL report (<code>--report jsonl:PATH</code>) lists every one.</td></tr>",
                s.index,
                thousands(s.omitted),
                if s.omitted == 1 { "item" } else { "items" },
                escape(&s.id),
                escape(&breakdown(omitted_counts(s), "warned")),
            );
        }
    }
    out.push_str("</tbody>\n</table></div>\n</section>\n");
}

/// A row of the details table. The first cell names the step or item as every report does
/// (`campaign[3]`), with the step's name and where the item is written.
fn detail_row(out: &mut String, s: &StepReport, item: &ItemReport, first: bool) {
    // The step's own anchor sits on its first row (a `for_each` step's items have their own).
    let step_anchor = if first && item.item.is_some() {
        format!("<span id=\"step-{}\"></span>", s.index)
    } else {
        String::new()
    };
    let source = item
        .item_source
        .as_ref()
        .map(|source| {
            format!(
                "<div class=\"muted small src\">{}</div>",
                escape(&source.to_string())
            )
        })
        .unwrap_or_default();
    let ignored = if is_ignored(s, item) {
        "<span class=\"tag\">ignored</span>"
    } else {
        ""
    };
    let none = "<span class=\"muted\">–</span>";
    let _ = write!(
        out,
        "<tr id=\"{}\" class=\"r-{}\"><td>{step_anchor}<b>{}</b><div class=\"muted small\">{}</div>{source}</td>\
         <td><span class=\"pill o-{}\">{}</span>{ignored}</td><td class=\"num\">{}</td>\
         <td class=\"num\">{}</td><td>",
        anchor(s, item),
        outcome_name(item.outcome),
        escape(item.item_name.as_deref().unwrap_or(&s.id)),
        escape(&s.name),
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
    if let Some(steps) = item.row_steps_line() {
        let _ = write!(
            out,
            "<div class=\"steps\"><b>steps</b> {}</div>",
            escape(&steps)
        );
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
const CSS: &str = include_str!("style.css");

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
}
