//! What a dry run found (`--dry-run`): every request the plan would send, exactly as the run
//! builds it (values only a run knows shown as `<…>` placeholders), the guard's word on every
//! dial, and each `for_each` step's rows summed up. Printed for people ([`text`]), and written
//! by `--dry-run --report json:PATH` ([`json`], following `schemas/dry-run.v1.schema.json`,
//! generated from these types by [`schema`]; a test keeps the committed file equal).

use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::Serialize;

/// The `$id` of the dry run's JSON Schema.
pub const SCHEMA_ID: &str = "https://callplan.dev/schemas/dry-run.v1.schema.json";

/// A dry run
///
/// The requests a plan would send, with nothing sent.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DryRun {
    /// Schema
    ///
    /// The JSON Schema this document follows.
    #[serde(rename = "$schema")]
    pub schema: String,
    /// Dry run
    ///
    /// Always `true`: tells this document from a run's report.
    pub dry_run: bool,
    /// Plan
    ///
    /// The plan's `name`.
    pub plan: String,
    /// Path
    ///
    /// The plan file.
    pub path: String,
    /// Every request could be built
    ///
    /// False when a step or a row could not be rendered or built (the dry run then exits 2).
    pub ok: bool,
    /// Notes
    ///
    /// What stands in for what a dry run cannot know, and where requests would go.
    pub notes: Vec<String>,
    /// Providers
    ///
    /// How each provider logs in.
    pub providers: Vec<Login>,
    /// Webhooks
    ///
    /// Where the plan's `notify:` webhooks would be posted.
    pub webhooks: Vec<Webhook>,
    /// Steps
    ///
    /// Every step in plan order; a `for_each` step's entry sums its rows up, and the entries of
    /// its first rows follow it.
    pub steps: Vec<Planned>,
}

/// A provider's login
///
/// How a provider gets its token before the first step.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Login {
    /// Provider
    ///
    /// Its name in the plan.
    pub provider: String,
    /// Type
    ///
    /// `genesys-cloud`, `nice-cxone` or `http`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Login
    ///
    /// The login request and its grant, `null` for a provider that does not log in.
    pub login: Option<String>,
}

/// A webhook
///
/// One `notify:` entry, rendered.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Webhook {
    /// URL
    ///
    /// Where each event is posted.
    pub url: String,
    /// Events
    ///
    /// The events it receives.
    pub events: Vec<String>,
}

/// A planned step
///
/// A step, a row's step or an item, and what the run would do with it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Planned {
    /// Step
    ///
    /// The plan's step (a flow's, for a row's step).
    pub step: String,
    /// Row step
    ///
    /// For a row of a flow: the flow's step this entry is.
    pub inner: Option<String>,
    /// Always
    ///
    /// A cleanup step: it runs even after a failure.
    pub always: bool,
    /// Row
    ///
    /// The row or item of a `for_each`, from 1; `null` for a step that does not loop, or for the
    /// rows of a saved list, known only at run time.
    pub row: Option<u64>,
    /// Source
    ///
    /// Where the row is: `file:line` for a CSV or JSON Lines row.
    pub source: Option<String>,
    /// Condition
    ///
    /// The step's `if`, and whether a dry run can decide it.
    pub condition: Option<Condition>,
    /// Verdict
    ///
    /// What the run would do.
    pub verdict: Verdict,
    /// Message
    ///
    /// Why it would skip, refuse or fail.
    pub message: Option<String>,
    /// Guard
    ///
    /// The guard's word on the numbers it dials: allowed, or decided at run time.
    pub guard: Option<String>,
    /// Request
    ///
    /// The request exactly as the run would send it, placeholders aside.
    pub request: Option<Request>,
    /// Rows
    ///
    /// A `for_each` step's rows, summed up.
    pub rows: Option<Rows>,
}

/// A verdict
///
/// What the run would do with a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// It would send its request.
    Sends,
    /// Its `if` is false: it would be skipped.
    Skipped,
    /// The guard would refuse its dial.
    Refused,
    /// Its request cannot be built (a template or a value fails, a malformed row).
    Invalid,
    /// A `for_each` step: its rows are summed up in `rows`.
    Rows,
}

/// A condition
///
/// A step's `if`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Condition {
    /// Expression
    ///
    /// As written.
    pub expression: String,
    /// Decided
    ///
    /// False when it reads what only a run knows (an outcome, a saved value): the request is
    /// shown as if the step runs.
    pub decided: bool,
    /// Value
    ///
    /// Its value when decided.
    pub value: Option<bool>,
}

/// A request
///
/// A request as it goes on the wire.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Request {
    /// Method
    ///
    /// The HTTP method.
    pub method: String,
    /// URL
    ///
    /// The absolute URL with its query string.
    pub url: String,
    /// Headers
    ///
    /// In the order sent; no name twice.
    pub headers: Vec<Header>,
    /// Body
    ///
    /// The body's bytes as text, `null` without a body.
    pub body: Option<String>,
    /// Note
    ///
    /// What else the action does (a wait repeats its request, a hang-up sends a second one).
    pub note: Option<String>,
}

/// A header
///
/// One request header.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Header {
    /// Name
    ///
    /// As the plan spells it.
    pub name: String,
    /// Value
    ///
    /// Its value.
    pub value: String,
}

/// A `for_each` step's rows
///
/// Every row read (streamed) and counted; only the first ones are listed.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Rows {
    /// Source
    ///
    /// Where the rows come from: a file, an inline list, or a saved list.
    pub source: String,
    /// Read
    ///
    /// How many rows were read; `null` for a saved list, known only at run time.
    pub read: Option<u64>,
    /// Dials
    ///
    /// Whether a row dials (its counts are dials), or only sends requests.
    pub dials: bool,
    /// Would send
    ///
    /// Rows that would dial (or send, for rows that do not dial).
    pub would_send: u64,
    /// Decided at run time
    ///
    /// Of those, rows whose number is known only at run time (the guard judges it then).
    pub decided_at_run_time: u64,
    /// Skipped
    ///
    /// Rows whose steps would all be skipped (an `if` that is false).
    pub skipped: u64,
    /// Refused
    ///
    /// Rows whose dial the guard would refuse.
    pub refused: u64,
    /// Refusals
    ///
    /// Why, with how many rows each.
    pub refusals: Vec<Count>,
    /// Invalid
    ///
    /// Rows that cannot be sent: malformed, or a value that does not render or fit.
    pub invalid: u64,
    /// Invalid rows
    ///
    /// The first of them, with where they are and why.
    pub invalid_rows: Vec<InvalidRow>,
    /// Shown
    ///
    /// How many rows' requests are listed.
    pub shown: u64,
}

/// A reason and how many rows it applies to.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Count {
    /// Reason
    ///
    /// Why the guard refuses.
    pub reason: String,
    /// Rows
    ///
    /// How many rows.
    pub rows: u64,
}

/// An invalid row
///
/// A row that cannot be sent.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct InvalidRow {
    /// Row
    ///
    /// From 1.
    pub row: u64,
    /// Source
    ///
    /// `file:line`, when known.
    pub source: Option<String>,
    /// Message
    ///
    /// What is wrong.
    pub message: String,
}

/// The dry run as pretty JSON, with a trailing newline.
pub fn json(dry: &DryRun) -> String {
    // Strings, numbers and lists only: serializing cannot fail.
    let mut text = serde_json::to_string_pretty(dry).unwrap_or_default();
    text.push('\n');
    text
}

/// The JSON Schema of [`json`]'s documents (draft 2020-12), as pretty JSON.
pub fn schema() -> String {
    crate::plan::schema::generate_for::<DryRun>(SCHEMA_ID, false)
}

/// The dry run as the terminal shows it.
pub fn text(dry: &DryRun) -> String {
    let mut out = format!("dry run of {}: nothing is sent\n", dry.plan);
    for note in &dry.notes {
        let _ = writeln!(out, "note: {note}");
    }
    for login in &dry.providers {
        if let Some(line) = &login.login {
            let _ = writeln!(out, "provider {}: {line}", login.provider);
        }
    }
    for (i, hook) in dry.webhooks.iter().enumerate() {
        let _ = writeln!(
            out,
            "notify {}: POST {} (on {})",
            i + 1,
            hook.url,
            hook.events.join(", ")
        );
    }
    for planned in &dry.steps {
        entry(&mut out, planned);
    }
    out
}

/// `step dial`, `step campaign[2].hangup (contacts.csv:3) (always)`: items are named as every
/// other output names them.
fn label(planned: &Planned) -> String {
    let inner = planned.inner.as_deref();
    let mut label = match planned.row {
        Some(row) => format!(
            "step {}",
            crate::runner::events::item_name(
                &planned.step,
                usize::try_from(row.saturating_sub(1)).unwrap_or(usize::MAX),
                inner
            )
        ),
        None => match inner {
            Some(inner) => format!("step {}[…].{inner} (every row)", planned.step),
            None => format!("step {}", planned.step),
        },
    };
    if let Some(at) = &planned.source {
        let _ = write!(label, " ({at})");
    }
    if planned.always {
        label.push_str(" (always)");
    }
    label
}

fn entry(out: &mut String, planned: &Planned) {
    let label = label(planned);
    let condition = planned.condition.as_ref();
    match planned.verdict {
        Verdict::Rows => {
            if let Some(rows) = &planned.rows {
                summary(out, &label, rows);
            }
            undecided(out, condition);
            return;
        }
        Verdict::Skipped => {
            let why = condition
                .map(|c| format!("`if: {}` is false", c.expression))
                .or_else(|| planned.message.clone())
                .unwrap_or_default();
            let _ = writeln!(out, "{label}: skipped ({why})");
            return;
        }
        Verdict::Refused => {
            let why = planned.message.as_deref().unwrap_or_default();
            let _ = writeln!(out, "{label}: refused by the guard: {why}; not sent");
            return;
        }
        Verdict::Invalid => {
            let why = planned.message.as_deref().unwrap_or_default();
            let _ = writeln!(out, "{label}: error: {why}");
            return;
        }
        Verdict::Sends => {}
    }
    let Some(request) = &planned.request else {
        let _ = writeln!(out, "{label}: sends nothing");
        return;
    };
    let _ = write!(out, "{label}: {} {}", request.method, request.url);
    if let Some(note) = &request.note {
        let _ = write!(out, "  ({note})");
    }
    out.push('\n');
    undecided(out, condition);
    if let Some(guard) = planned.guard.as_deref().filter(|g| !g.is_empty()) {
        let _ = writeln!(out, "    guard: {guard}");
    }
    for header in &request.headers {
        let _ = writeln!(out, "    {}: {}", header.name, header.value);
    }
    if let Some(body) = &request.body {
        // One line break at the end is the body's, not a line of it (the JSON report has the
        // exact bytes).
        let mut lines = body.strip_suffix('\n').unwrap_or(body).split('\n');
        let _ = writeln!(out, "    body: {}", lines.next().unwrap_or_default());
        for line in lines {
            let _ = writeln!(out, "          {line}");
        }
    }
}

/// The line of an `if` a dry run cannot decide.
fn undecided(out: &mut String, condition: Option<&Condition>) {
    if let Some(c) = condition.filter(|c| !c.decided) {
        let _ = writeln!(
            out,
            "    if `{}`: decided at run time (shown as if it runs)",
            c.expression
        );
    }
}

/// A `for_each` step's summary: its counts, the reasons for refusals, the invalid rows.
fn summary(out: &mut String, label: &str, rows: &Rows) {
    let (what, send) = if rows.dials {
        ("rows", "would dial")
    } else {
        ("items", "would be sent")
    };
    let Some(read) = rows.read else {
        let _ = writeln!(
            out,
            "{label}: for each item of {}: the {what} are known only at run time; the requests of every one follow, with placeholders",
            rows.source
        );
        return;
    };
    let mut counts = format!(
        "{read} {what} read from {}: {} {send}",
        rows.source, rows.would_send
    );
    if rows.decided_at_run_time > 0 {
        let _ = write!(
            counts,
            " ({} of them to a number decided at run time)",
            rows.decided_at_run_time
        );
    }
    if rows.skipped > 0 {
        let _ = write!(counts, ", {} skipped", rows.skipped);
    }
    if rows.dials {
        let _ = write!(counts, ", {} refused by the guard", rows.refused);
    }
    let _ = write!(counts, ", {} invalid", rows.invalid);
    let _ = writeln!(out, "{label}: {counts}");
    for count in &rows.refusals {
        let _ = writeln!(
            out,
            "    refused by the guard: {} {}: {}",
            count.rows,
            if count.rows == 1 { "row" } else { "rows" },
            count.reason
        );
    }
    for bad in &rows.invalid_rows {
        let at = bad
            .source
            .clone()
            .unwrap_or_else(|| format!("row {}", bad.row));
        let _ = writeln!(
            out,
            "    invalid: {at}: {}",
            bad.message.replace('\n', "\\n")
        );
    }
    let listed = rows.invalid_rows.len() as u64;
    if rows.invalid > listed {
        let _ = writeln!(out, "    invalid: {} more", rows.invalid - listed);
    }
    if rows.shown > 0 && rows.shown < read {
        let _ = writeln!(
            out,
            "    the requests of the first {} {what} follow",
            rows.shown
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_names_itself() {
        let schema: serde_json::Value = serde_json::from_str(&schema()).unwrap_or_default();
        assert_eq!(schema["$id"], SCHEMA_ID);
        assert_eq!(
            schema["properties"]["ok"]["title"],
            "Every request could be built"
        );
    }
}
