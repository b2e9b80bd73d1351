//! The Markdown report: a summary for `$GITHUB_STEP_SUMMARY` and pull-request comments.
//!
//! A title line (status, plan, run id, duration), a table with one row per step (a `for_each`
//! step's row says how many of its items passed), the counts, the hints, and each `for_each`
//! step's failed items (at most [`MAX_ITEMS`] a step). GitHub refuses a step summary over 1 MiB,
//! so the output stays under [`LIMIT`] bytes: the table is cut first, keeping the steps that did
//! not pass, and the summary says so.
//!
//! A large `for_each` step keeps only some of its items in the model (`omitted` counts the
//! others): every count here comes from the step's `total` and `counts`, a note under the table
//! says which items are not listed, and what is read from the kept items alone (the duration,
//! the attempts) is marked `≥`.

use std::fmt::Write as _;

use super::model::{Counts, ItemOutcome, ItemReport, Report, Status, StepReport};
use crate::duration::human_ms;

/// The most bytes a summary takes (GitHub's limit is 1 MiB; this leaves room for a summary that
/// is appended to another step's).
pub const LIMIT: usize = 1_000_000;

/// How many failed items of one `for_each` step are listed.
pub const MAX_ITEMS: usize = 20;

/// How many characters of a message a table cell or list item shows.
const MESSAGE_CHARS: usize = 120;

/// How many bytes the hints, or the failed items, may take: the table gets the rest.
const SECTION_LIMIT: usize = 128 * 1024;

/// Room kept for the note that says what was cut.
const NOTE_ROOM: usize = 1024;

/// Renders a report as Markdown.
pub fn render(report: &Report) -> String {
    let head = header(report);
    let counts = counts(report);
    let hints = hints(report);
    let failed = failed_items(report);
    let room = LIMIT
        .saturating_sub(head.len() + counts.len() + hints.len() + failed.len())
        .saturating_sub(NOTE_ROOM);
    let omitted = omitted_note(report);
    let room = room.saturating_sub(omitted.len());
    let (table, left_out) = table(report, room);

    let mut out = head;
    out.push_str(&table);
    if left_out > 0 {
        let _ = writeln!(
            out,
            "\n_{left_out} of {} steps are not shown, to keep this summary under GitHub's 1 MiB \
             limit; the JSON report has them all._",
            report.steps.len()
        );
    }
    out.push_str(&omitted);
    out.push_str(&counts);
    out.push_str(&hints);
    out.push_str(&failed);
    out
}

fn header(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## {} · {} · run {} · {}\n",
        run_marker(report.status),
        code(&report.plan.name),
        code(&report.run_id),
        human_ms(report.duration_ms)
    );
    let sha: String = report.plan.sha256.chars().take(12).collect();
    let _ = write!(
        out,
        "Plan {}, started {}",
        code(&report.plan.path),
        text(&report.started_at)
    );
    if !sha.is_empty() {
        let _ = write!(out, ", sha256 {}", code(&sha));
    }
    out.push_str(".\n\n");
    if let Some(reason) = &report.reason {
        let _ = writeln!(out, "**Reason:** {}\n", text(reason));
    }
    out
}

/// The table, within `room` bytes, and how many steps it leaves out.
fn table(report: &Report, room: usize) -> (String, usize) {
    if report.steps.is_empty() {
        return ("No step ran.\n".to_owned(), 0);
    }
    let mut out = String::from(
        "| # | Step | Name | Outcome | Status | Duration | Attempts | Message |\n\
         | ---: | --- | --- | --- | ---: | ---: | ---: | --- |\n",
    );
    let rows: Vec<String> = report
        .steps
        .iter()
        .enumerate()
        .map(|(n, step)| row(n + 1, step))
        .collect();
    let total: usize = rows.iter().map(String::len).sum();
    if out.len() + total <= room {
        rows.iter().for_each(|r| out.push_str(r));
        return (out, 0);
    }
    // Too long: the steps that did not pass first, then the others in plan order, as long as
    // they fit; shown in plan order.
    let mut used = out.len();
    let mut keep = vec![false; rows.len()];
    let failing = |i: &usize| report.steps[*i].outcome != ItemOutcome::Passed;
    let order = (0..rows.len())
        .filter(failing)
        .chain((0..rows.len()).filter(|i| !failing(i)));
    for i in order {
        if used + rows[i].len() <= room {
            used += rows[i].len();
            keep[i] = true;
        }
    }
    let mut left_out = 0;
    for (row, kept) in rows.iter().zip(keep) {
        if kept {
            out.push_str(row);
        } else {
            left_out += 1;
        }
    }
    (out, left_out)
}

fn row(n: usize, step: &StepReport) -> String {
    let is_each = step.items.iter().any(|i| i.item.is_some());
    let outcome = if is_each {
        format!(
            "{} {}/{} passed",
            outcome_marker(step.outcome, step.ignored),
            thousands(step.counts.passed),
            thousands(step.total)
        )
    } else {
        outcome_label(step.outcome, step.ignored)
    };
    let outcome = match (step.not_run, &step.not_run_reason) {
        (0, _) => outcome,
        (n, reason) => format!(
            "{outcome}; {} not run{}",
            thousands(n),
            reason
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ),
    };
    let mut statuses: Vec<u16> = Vec::new();
    for status in step.items.iter().filter_map(|i| i.status) {
        if !statuses.contains(&status) {
            statuses.push(status);
        }
    }
    let statuses = statuses
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let start = step.items.iter().map(|i| i.started_ms).min().unwrap_or(0);
    let end = step
        .items
        .iter()
        .map(|i| i.started_ms.saturating_add(i.duration_ms))
        .max()
        .unwrap_or(0);
    let attempts: usize = step.items.iter().map(|i| i.attempts.len()).sum();
    // The span and the attempts are read from the kept items: with items omitted, at least.
    let at_least = if step.omitted > 0 { "≥ " } else { "" };
    let message = step
        .items
        .iter()
        .find(|i| i.outcome != ItemOutcome::Passed && i.message.is_some())
        .map(|i| {
            let message = i.message.as_deref().unwrap_or_default();
            match (is_each, &i.item_name) {
                (true, Some(name)) => format!("{name}: {message}"),
                _ => message.to_owned(),
            }
        })
        .unwrap_or_default();
    format!(
        "| {n} | {} | {} | {outcome} | {statuses} | {at_least}{} | {at_least}{} | {} |\n",
        code(&step.id),
        text(&step.name),
        human_ms(end.saturating_sub(start)),
        thousands(attempts as u64),
        text(&shorten(&message, MESSAGE_CHARS)),
    )
}

/// Under the table, per step that kept only some of its items: how many are not listed, and
/// where every one is.
fn omitted_note(report: &Report) -> String {
    let steps: Vec<&StepReport> = report.steps.iter().filter(|s| s.omitted > 0).collect();
    let mut out = String::new();
    for step in steps.iter().take(MAX_ITEMS) {
        let _ = writeln!(
            out,
            "\n_{} of the {} items of {} ({}) are not listed here; every item is in the JSONL \
             report (`--report jsonl:PATH`)._",
            thousands(step.omitted),
            thousands(step.total),
            code(&step.id),
            breakdown(omitted_counts(step), "ignored"),
        );
    }
    if steps.len() > MAX_ITEMS {
        let _ = writeln!(
            out,
            "\n_… and {} more steps with items not listed here._",
            steps.len() - MAX_ITEMS
        );
    }
    out
}

fn counts(report: &Report) -> String {
    let c = report.counts;
    let mut out = format!(
        "\nSteps and `for_each` items: **{} passed**, {} failed, {} errored, {} skipped",
        thousands(c.passed),
        thousands(c.failed),
        thousands(c.errored),
        thousands(c.skipped)
    );
    if c.warned > 0 {
        let _ = write!(
            out,
            ", {} ignored (`on_error: ignore`)",
            thousands(c.warned)
        );
    }
    out.push_str(".\n");
    out
}

/// Each hint once, with the steps it is for.
fn hints(report: &Report) -> String {
    let mut hints: Vec<(&str, Vec<String>)> = Vec::new();
    for step in &report.steps {
        for item in &step.items {
            let Some(hint) = item.hint.as_deref() else {
                continue;
            };
            let name = item_name(step, item);
            match hints.iter_mut().find(|(h, _)| *h == hint) {
                Some((_, names)) => names.push(name),
                None => hints.push((hint, vec![name])),
            }
        }
    }
    if hints.is_empty() {
        return String::new();
    }
    let mut out = String::from("\n### Hints\n\n");
    if report.steps.iter().any(|s| s.omitted > 0) {
        out.push_str("_From the items this report keeps; the JSONL report has every item._\n\n");
    }
    for (n, (hint, names)) in hints.iter().enumerate() {
        let shown: Vec<String> = names.iter().take(MAX_ITEMS).map(|s| code(s)).collect();
        let mut line = format!("- {}", shown.join(", "));
        if names.len() > MAX_ITEMS {
            let _ = write!(line, " and {} more", names.len() - MAX_ITEMS);
        }
        let _ = writeln!(line, ": {}", text(hint));
        if out.len() + line.len() > SECTION_LIMIT {
            let _ = writeln!(out, "- … and {} more hints", hints.len() - n);
            break;
        }
        out.push_str(&line);
    }
    out
}

/// The failed and errored items of each `for_each` step.
fn failed_items(report: &Report) -> String {
    let mut out = String::new();
    for step in &report.steps {
        if !step.items.iter().any(|i| i.item.is_some()) {
            continue;
        }
        let failed: Vec<&ItemReport> = step
            .items
            .iter()
            .filter(|i| matches!(i.outcome, ItemOutcome::Failed | ItemOutcome::Errored))
            .collect();
        // Failed, errored, and ignored failures (which the `warned` count holds); with items
        // omitted, the kept ones may hold none of them.
        let c = step.counts;
        let not_passed = c.failed + c.errored + c.warned;
        if failed.is_empty() && not_passed == 0 {
            continue;
        }
        let mut block = format!(
            "\n{} ({}): {} of {} items did not pass{}\n\n",
            code(&step.id),
            text(&step.name),
            thousands(not_passed),
            thousands(step.total),
            if step.ignored {
                " (ignored, `on_error: ignore`)"
            } else {
                ""
            }
        );
        for item in failed.iter().take(MAX_ITEMS) {
            let _ = write!(block, "- {}", code(&item_name(step, item)));
            if let Some(source) = &item.item_source {
                let _ = write!(block, " ({})", code(&source.to_string()));
            }
            let _ = write!(block, " {}", outcome_label(item.outcome, step.ignored));
            if let Some(status) = item.status {
                let _ = write!(block, " ({status})");
            }
            if let Some(message) = &item.message {
                let _ = write!(block, ": {}", text(&shorten(message, MESSAGE_CHARS)));
            }
            if let Some(steps) = item.row_steps_line() {
                let _ = write!(block, " (steps: {})", text(&shorten(&steps, MESSAGE_CHARS)));
            }
            block.push('\n');
        }
        let shown = failed.len().min(MAX_ITEMS) as u64;
        if not_passed > shown {
            let _ = write!(block, "- … and {} more", thousands(not_passed - shown));
            let o = omitted_counts(step);
            let only_jsonl = o.failed + o.errored + o.warned;
            if only_jsonl > 0 {
                let _ = write!(
                    block,
                    " ({} of them only in the JSONL report, `--report jsonl:PATH`)",
                    thousands(only_jsonl)
                );
            }
            block.push('\n');
        }
        if out.len() + block.len() > SECTION_LIMIT {
            if report.steps.iter().any(|s| s.omitted > 0) {
                out.push_str(
                    "\n_More failed items are not shown; the JSONL report \
                     (`--report jsonl:PATH`) has every item._\n",
                );
            } else {
                out.push_str(
                    "\n_More failed items are not shown; the JSON report has them all._\n",
                );
            }
            break;
        }
        out.push_str(&block);
    }
    if out.is_empty() {
        return out;
    }
    format!("\n### Failed `for_each` items\n{out}")
}

/// The counts of a step's items that the model did not keep: the step's counts over all its
/// items, less those of the kept ones. Shared with the other reporters.
pub(super) fn omitted_counts(step: &StepReport) -> Counts {
    if step.omitted == 0 {
        return Counts::default();
    }
    let mut kept = Counts::default();
    for item in &step.items {
        match (item.outcome, step.ignored) {
            (ItemOutcome::Passed, _) => kept.passed += 1,
            (ItemOutcome::Skipped, _) => kept.skipped += 1,
            (_, true) => kept.warned += 1,
            (ItemOutcome::Failed, false) => kept.failed += 1,
            (ItemOutcome::Errored, false) => kept.errored += 1,
        }
    }
    let c = step.counts;
    Counts {
        passed: c.passed.saturating_sub(kept.passed),
        failed: c.failed.saturating_sub(kept.failed),
        errored: c.errored.saturating_sub(kept.errored),
        skipped: c.skipped.saturating_sub(kept.skipped),
        warned: c.warned.saturating_sub(kept.warned),
    }
}

/// The non-zero counts, in words: `99,300 passed, 12 failed, 3 ignored`, with `warned` (failures
/// under `on_error: ignore`) named as the caller says. Shared with the other reporters.
pub(super) fn breakdown(c: Counts, warned: &str) -> String {
    [
        (c.passed, "passed"),
        (c.failed, "failed"),
        (c.errored, "errored"),
        (c.skipped, "skipped"),
        (c.warned, warned),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, name)| format!("{} {name}", thousands(*n)))
    .collect::<Vec<_>>()
    .join(", ")
}

/// A count with thousands separators: `99,800`. Shared with the other reporters.
pub(super) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn item_name(step: &StepReport, item: &ItemReport) -> String {
    item.item_name.clone().unwrap_or_else(|| step.id.clone())
}

fn run_marker(status: Status) -> &'static str {
    match status {
        Status::Running => "⏳ running",
        Status::Passed => "✅ passed",
        Status::Failed => "❌ failed",
        Status::CouldNotRun => "⛔ could not run",
        Status::Interrupted => "⏹️ interrupted",
    }
}

fn outcome_marker(outcome: ItemOutcome, ignored: bool) -> &'static str {
    match outcome {
        ItemOutcome::Passed => "✅",
        ItemOutcome::Skipped => "⏭️",
        ItemOutcome::Failed | ItemOutcome::Errored if ignored => "⚠️",
        ItemOutcome::Failed | ItemOutcome::Errored => "❌",
    }
}

fn outcome_label(outcome: ItemOutcome, ignored: bool) -> String {
    let name = match outcome {
        ItemOutcome::Passed => "passed",
        ItemOutcome::Failed => "failed",
        ItemOutcome::Errored => "errored",
        ItemOutcome::Skipped => "skipped",
    };
    let suffix = if ignored && matches!(outcome, ItemOutcome::Failed | ItemOutcome::Errored) {
        " (ignored)"
    } else {
        ""
    };
    format!("{} {name}{suffix}", outcome_marker(outcome, ignored))
}

/// At most `max` characters of `s`, on one line, with `…` when cut.
fn shorten(s: &str, max: usize) -> String {
    let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Text that renders as itself, also in a table cell, on one line. Callplan's messages quote
/// names in backticks: a matched pair stays a code span (with `|` escaped, as tables need);
/// elsewhere the characters Markdown or HTML would read (`|`, `<`, `&`, `*`, …) are escaped.
fn text(s: &str) -> String {
    let one_line: String = s
        .chars()
        .map(|c| {
            if matches!(c, '\r' | '\n' | '\t') {
                ' '
            } else {
                c
            }
        })
        .collect();
    let mut out = String::with_capacity(one_line.len());
    let mut rest = one_line.as_str();
    while let Some(open) = rest.find('`') {
        escape_into(&mut out, &rest[..open]);
        let after = &rest[open + 1..];
        match after.find('`') {
            Some(close) if close > 0 => {
                let _ = write!(out, "`{}`", after[..close].replace('|', "\\|"));
                rest = &after[close + 1..];
            }
            _ => {
                out.push_str("\\`");
                rest = after;
            }
        }
    }
    escape_into(&mut out, rest);
    out
}

/// Plain text with a backslash before each character Markdown or HTML would read.
fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '&' | '~'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
}

/// A name as inline code; escaped text when it holds what a code span cannot.
fn code(s: &str) -> String {
    if s.is_empty() || s.contains(['`', '\r', '\n']) {
        return text(s);
    }
    // GitHub splits table cells on `|` even inside code; `\|` keeps it in the cell.
    format!("`{}`", s.replace('|', "\\|"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(99_800), "99,800");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn long_messages_are_cut_on_one_line() {
        assert_eq!(shorten("a\nb", 10), "a b");
        let long = "x".repeat(200);
        let cut = shorten(&long, MESSAGE_CHARS);
        assert_eq!(cut.chars().count(), MESSAGE_CHARS);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn cells_escape_what_markdown_would_read() {
        assert_eq!(text("a|b\nc <d> & e_f"), r"a\|b c \<d\> \& e\_f");
        assert_eq!(text("step `a|b` <x>"), r"step `a\|b` \<x\>");
        assert_eq!(text("one ` tick"), r"one \` tick");
        assert_eq!(code("a|b"), r"`a\|b`");
        assert_eq!(code("a`b"), r"a\`b");
    }
}
