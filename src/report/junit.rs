//! The JUnit XML report, written with `quick-junit` (nextest's serializer).
//!
//! One `<testsuite>` per plan, one `<testcase>` per step, or per item of a `for_each` step
//! (`id[1]`, `id[2]`…, named as every report names an item), whose `file` and `line` attributes
//! say where the item is written. An unmet expectation is a `<failure>`; a transport, auth, timeout or
//! status error is an `<error>`; a step not run is `<skipped>`. A failure under
//! `on_error: ignore` passes, with `ignored:` and the message in its `<system-out>`, which also
//! carries the request, the attempts, the correlation id, the call's state and the start of the
//! response (all masked when the model was built).
//!
//! A run that could not run or was interrupted gets one more test case, `(run)`, with an
//! `<error>` carrying the reason: a CI that reads only the counts must not show it as green.
//!
//! A large `for_each` step keeps only some of its items in the model (`omitted` counts the
//! others). Its kept items are test cases as above; its omitted ones are summed up in one test
//! case per outcome: `dial (99,800 more items passed)`, `dial (12 more items failed)` with a
//! `<failure>`, likewise `<error>` and `<skipped>`, and `dial (3 more items ignored)` for
//! failures under `on_error: ignore` (which pass). Their messages say how many, and that every
//! item's details are in the JSONL report.
//!
//! The `tests`, `failures`, `errors` and `skipped` attributes count the test cases written, as
//! every JUnit reader does: with items omitted, a summing test case counts once however many
//! items it stands for. The per-item totals are in the suite's properties: `items_total`,
//! `items_passed`, `items_failed`, `items_errored`, `items_skipped`, `items_ignored` (failures
//! under `on_error: ignore`) and `items_not_listed` (items with no test case of their own).

use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};

use super::markdown::{breakdown, omitted_counts, thousands};
use super::model::{ItemOutcome, ItemReport, Report, Status, StepReport};
use crate::duration::human_ms;

/// The name of the extra test case of a run that did not finish on its own.
const RUN_CASE: &str = "(run)";

/// Renders a report as JUnit XML.
pub fn render(report: &Report) -> String {
    let started = DateTime::parse_from_rfc3339(&report.started_at).ok();
    let mut suite = TestSuite::new(report.plan.name.as_str());
    suite.set_time(Duration::from_millis(report.duration_ms));
    if let Some(at) = started {
        suite.set_timestamp(at);
    }
    suite.add_property(Property::new("run_id", report.run_id.as_str()));
    suite.add_property(Property::new("plan_path", report.plan.path.as_str()));
    suite.add_property(Property::new("plan_sha256", report.plan.sha256.as_str()));
    suite.add_property(Property::new("status", status_name(report.status)));
    if let Some(reason) = &report.reason {
        suite.add_property(Property::new("reason", reason.as_str()));
    }
    // Per item, over every item (the attributes count test cases; see the module's comment).
    let c = report.counts;
    for (name, n) in [
        ("items_total", report.steps.iter().map(|s| s.total).sum()),
        ("items_passed", c.passed),
        ("items_failed", c.failed),
        ("items_errored", c.errored),
        ("items_skipped", c.skipped),
        ("items_ignored", c.warned),
        (
            "items_not_listed",
            report.steps.iter().map(|s| s.omitted).sum(),
        ),
        ("items_not_run", report.not_run),
    ] {
        suite.add_property(Property::new(name, n.to_string()));
    }
    for step in &report.steps {
        for item in &step.items {
            suite.add_test_case(test_case(report, step, item, started));
        }
        if step.omitted > 0 {
            suite.add_test_cases(omitted_cases(report, step));
        }
        if step.not_run > 0 {
            // Never started: a skipped case, so that CI shows the customers nobody called.
            let mut status = TestCaseStatus::skipped();
            let reason = step.not_run_reason.clone().unwrap_or_default();
            status.set_message(format!("not run: {reason}"));
            let mut case = TestCase::new(
                format!(
                    "{} ({} {} not run)",
                    step.id,
                    thousands(step.not_run),
                    items(step.not_run)
                ),
                status,
            );
            case.set_classname(report.plan.name.as_str());
            suite.add_test_case(case);
        }
    }
    if matches!(report.status, Status::CouldNotRun | Status::Interrupted) {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        let reason = report
            .reason
            .clone()
            .unwrap_or_else(|| status_name(report.status).replace('_', " "));
        status.set_message(first_line(&reason));
        status.set_type(status_name(report.status));
        status.set_description(reason);
        let mut case = TestCase::new(RUN_CASE, status);
        case.set_classname(report.plan.name.as_str());
        suite.add_test_case(case);
    }

    let mut junit = quick_junit::Report::new("callplan");
    junit.set_time(Duration::from_millis(report.duration_ms));
    if let Some(at) = started {
        junit.set_timestamp(at);
    }
    junit.add_test_suite(suite);
    // Writing to a `Vec` cannot fail, and every string went through `XmlString`, which drops
    // the characters XML cannot hold.
    junit.to_string().unwrap_or_default()
}

fn test_case(
    report: &Report,
    step: &StepReport,
    item: &ItemReport,
    started: Option<DateTime<FixedOffset>>,
) -> TestCase {
    let name = item.item_name.clone().unwrap_or_else(|| step.id.clone());
    let message = item.message.as_deref().unwrap_or_default();
    let detail = match &item.hint {
        Some(hint) => format!("{message}\nhint: {hint}"),
        None => message.to_owned(),
    };
    let ignored =
        step.ignored && matches!(item.outcome, ItemOutcome::Failed | ItemOutcome::Errored);
    let status = match item.outcome {
        ItemOutcome::Passed => TestCaseStatus::success(),
        ItemOutcome::Failed | ItemOutcome::Errored if ignored => TestCaseStatus::success(),
        ItemOutcome::Failed | ItemOutcome::Errored => {
            let (kind, ty) = match item.outcome {
                ItemOutcome::Failed => (NonSuccessKind::Failure, "failed"),
                _ => (NonSuccessKind::Error, "errored"),
            };
            let mut status = TestCaseStatus::non_success(kind);
            status.set_message(first_line(message));
            status.set_type(ty);
            status.set_description(detail.as_str());
            status
        }
        ItemOutcome::Skipped => {
            let mut status = TestCaseStatus::skipped();
            if !message.is_empty() {
                status.set_message(first_line(message));
                if first_line(message) != message {
                    status.set_description(message);
                }
            }
            status
        }
    };
    let mut case = TestCase::new(name, status);
    case.set_classname(report.plan.name.as_str());
    // Where the item is written, as test reporters read a test's place (pytest writes the same
    // two attributes): an annotation lands on the CSV row or the plan's line.
    if let Some(source) = &item.item_source {
        case.extra
            .insert("file".into(), source.file.as_str().into());
        case.extra
            .insert("line".into(), source.line.to_string().into());
    }
    case.set_time(Duration::from_millis(item.duration_ms));
    let offset = chrono::TimeDelta::try_milliseconds(millis(item.started_ms));
    if let Some(at) = started
        .zip(offset)
        .and_then(|(at, d)| at.checked_add_signed(d))
    {
        case.set_timestamp(at);
    }

    let mut out = String::new();
    if ignored {
        let outcome = if item.outcome == ItemOutcome::Failed {
            "failed"
        } else {
            "errored"
        };
        let _ = writeln!(out, "ignored: {outcome} (on_error: ignore): {detail}");
    }
    let _ = writeln!(
        out,
        "step: {} ({} {})",
        step.name, step.provider, step.action
    );
    if let Some(source) = &item.item_source {
        let _ = writeln!(out, "source: {source}");
    }
    if let Some(steps) = item.row_steps_line() {
        let _ = writeln!(out, "row steps: {steps}");
        for s in item.steps.iter().filter(|s| s.result.message.is_some()) {
            let _ = writeln!(
                out,
                "  {}: {}",
                s.result.item_name.as_deref().unwrap_or(&s.id),
                s.result.message.as_deref().unwrap_or_default()
            );
        }
    }
    system_out(&mut out, item);
    case.set_system_out(out.trim_end());
    case
}

/// Where the details of the items with no test case are.
const JSONL: &str = "their details are in the JSONL report (--report jsonl:PATH)";

/// The items of a step that the model did not keep: one test case per outcome they had.
fn omitted_cases(report: &Report, step: &StepReport) -> Vec<TestCase> {
    let o = omitted_counts(step);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "step: {} ({} {})",
        step.name, step.provider, step.action
    );
    let _ = writeln!(
        out,
        "items: {} ran; {} have a test case of their own; the other {} ({}) are summed up in \
         test cases like this one; every item is in the JSONL report (--report jsonl:PATH)",
        thousands(step.total),
        thousands(step.items.len() as u64),
        thousands(step.omitted),
        breakdown(o, "ignored"),
    );
    let mut cases = Vec::new();
    let mut add = |n: u64, what: &str, status: TestCaseStatus, extra: Option<String>| {
        if n == 0 {
            return;
        }
        let mut case = TestCase::new(
            format!("{} ({} more {} {what})", step.id, thousands(n), items(n)),
            status,
        );
        case.set_classname(report.plan.name.as_str());
        let mut text = extra.map(|e| format!("{e}\n")).unwrap_or_default();
        text.push_str(&out);
        case.set_system_out(text.trim_end());
        cases.push(case);
    };
    let message = |n: u64, what: &str| {
        format!(
            "{} more {} of step `{}` {what}; {JSONL}",
            thousands(n),
            items(n),
            step.id
        )
    };
    add(o.passed, "passed", TestCaseStatus::success(), None);
    // As for a kept item: a failure under `on_error: ignore` passes, and says so.
    add(
        o.warned,
        "ignored",
        TestCaseStatus::success(),
        Some(format!(
            "ignored (on_error: ignore): {}",
            message(o.warned, "failed or errored")
        )),
    );
    for (n, what, kind) in [
        (o.failed, "failed", NonSuccessKind::Failure),
        (o.errored, "errored", NonSuccessKind::Error),
    ] {
        let mut status = TestCaseStatus::non_success(kind);
        status.set_message(message(n, what));
        status.set_type(what);
        status.set_description(message(n, what));
        add(n, what, status, None);
    }
    let mut status = TestCaseStatus::skipped();
    status.set_message(message(o.skipped, "were skipped"));
    add(o.skipped, "skipped", status, None);
    cases
}

fn items(n: u64) -> &'static str {
    if n == 1 { "item" } else { "items" }
}

/// The item's request, answer and attempts, one fact a line.
fn system_out(out: &mut String, item: &ItemReport) {
    if let Some(request) = &item.request {
        let _ = writeln!(out, "request: {request}");
    }
    if let Some(status) = item.status {
        let _ = writeln!(out, "status: {status}");
    }
    for (n, attempt) in item.attempts.iter().enumerate() {
        let _ = write!(out, "attempt {}:", n + 1);
        if let Some(status) = attempt.status {
            let _ = write!(out, " status {status}");
        }
        if let Some(error) = &attempt.error {
            let _ = write!(out, " error: {}", error.replace('\n', " "));
        }
        let _ = write!(out, " ({})", human_ms(attempt.elapsed_ms));
        if let Some(wait) = attempt.retry_after_ms {
            let _ = write!(out, ", retry after {}", human_ms(wait));
        }
        out.push('\n');
    }
    if let Some(id) = &item.correlation_id {
        let _ = writeln!(out, "correlation id: {id}");
    }
    if let Some(call) = &item.call {
        let _ = writeln!(out, "call: {call}");
    }
    for (name, value) in &item.saved {
        let _ = writeln!(out, "saved: {name} = {value}");
    }
    if let Some(response) = item.response.as_deref().filter(|r| !r.is_empty()) {
        let _ = writeln!(out, "response:\n{response}");
    }
}

fn status_name(status: Status) -> &'static str {
    match status {
        Status::Running => "running",
        Status::Passed => "passed",
        Status::Failed => "failed",
        Status::CouldNotRun => "could_not_run",
        Status::Interrupted => "interrupted",
    }
}

/// The first line of a message: attribute values lose their line breaks when read back.
fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

fn millis(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}
