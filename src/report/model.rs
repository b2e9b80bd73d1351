//! The results model: one run, as every report shows it. Built from the runner's events by
//! [`Collector`]; every reporter renders it. Secrets are masked when it is built, so no
//! reporter can leak one.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Serialize;

use super::Redactor;
use crate::runner::events::{Event, Outcome, RunStatus, Sink, Source, StepResult};

/// The report format's identifier, in every JSON report.
pub const SCHEMA_ID: &str = "https://callplan.dev/schemas/report.v1.schema.json";

/// One run.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Report {
    /// The JSON Schema this report follows.
    #[serde(rename = "$schema")]
    pub schema: String,
    /// The run's id.
    pub run_id: String,
    /// The plan.
    pub plan: PlanInfo,
    /// The providers the plan talks to.
    pub providers: Vec<ProviderInfo>,
    /// When the run started (RFC 3339).
    pub started_at: String,
    /// When it ended (RFC 3339), if it has.
    pub finished_at: Option<String>,
    /// Wall time, in milliseconds.
    pub duration_ms: u64,
    /// How it ended.
    pub status: Status,
    /// Why, when it did not pass.
    pub reason: Option<String>,
    /// Outcome counts, over steps and `for_each` items.
    pub counts: Counts,
    /// `for_each` items and flow rows never started (a signal, or `on_error: abort`), over every
    /// step.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub not_run: u64,
    /// The providers' logins, in the order they happened (before the first step).
    pub logins: Vec<LoginReport>,
    /// The steps, in plan order.
    pub steps: Vec<StepReport>,
}

/// A provider's login.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct LoginReport {
    /// The provider's name.
    pub provider: String,
    /// `passed`, or `errored` when it gave up.
    pub outcome: ItemOutcome,
    /// Why it failed.
    pub message: Option<String>,
    /// What to do about it.
    pub hint: Option<String>,
    /// When it started, in milliseconds from the start of the run.
    pub started_ms: u64,
    /// Wall time, in milliseconds.
    pub duration_ms: u64,
    /// Every attempt (a login is retried on 429, 5xx, timeouts and connection failures).
    pub attempts: Vec<AttemptReport>,
}

/// The plan a run ran.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PlanInfo {
    /// `name`.
    pub name: String,
    /// The file, as given.
    pub path: String,
    /// SHA-256 of the file's bytes (hex): which version of the plan ran.
    pub sha256: String,
}

/// A provider.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ProviderInfo {
    /// Its name in the plan.
    pub name: String,
    /// `genesys-cloud`, `nice-cxone` or `http`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Where it points: the API base, or for CXone the auth host it discovers from.
    pub target: String,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Still running (a report written mid-run).
    Running,
    /// Every step passed (or failed with `on_error: ignore`).
    Passed,
    /// A step failed.
    Failed,
    /// It could not run (a login failed, the guard refused the first dial).
    CouldNotRun,
    /// Interrupted (Ctrl-C); the `always` steps ran.
    Interrupted,
}

/// Outcome counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Counts {
    /// Passed.
    pub passed: u64,
    /// Failed (an unmet expectation).
    pub failed: u64,
    /// Errored (transport, auth, timeout, an error status).
    pub errored: u64,
    /// Skipped.
    pub skipped: u64,
    /// Failed or errored with `on_error: ignore`.
    pub warned: u64,
}

/// An outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemOutcome {
    /// Passed.
    Passed,
    /// An expectation was not met.
    Failed,
    /// A transport, auth, timeout or status error.
    Errored,
    /// Not run.
    Skipped,
}

impl From<Outcome> for ItemOutcome {
    fn from(o: Outcome) -> ItemOutcome {
        match o {
            Outcome::Passed => ItemOutcome::Passed,
            Outcome::Failed => ItemOutcome::Failed,
            Outcome::Errored => ItemOutcome::Errored,
            Outcome::Skipped => ItemOutcome::Skipped,
        }
    }
}

/// A step, with its item (one) or items (`for_each`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StepReport {
    /// Position in the plan, from 0.
    pub index: usize,
    /// `id`.
    pub id: String,
    /// `name`.
    pub name: String,
    /// The provider's name.
    pub provider: String,
    /// The action.
    pub action: String,
    /// The worst outcome of its items.
    pub outcome: ItemOutcome,
    /// Its failure does not fail the run (`on_error: ignore`).
    pub ignored: bool,
    /// An `always` step.
    pub always: bool,
    /// How many times it ran: 1, or the number of `for_each` items.
    pub total: u64,
    /// Outcomes over all its items.
    pub counts: Counts,
    /// Items not kept in `items` (a large `for_each` keeps the first ones that did not pass
    /// and the first ones that did; every item is in the JSONL report).
    pub omitted: u64,
    /// `for_each` items or flow rows never started, because a signal stopped the run or a
    /// failure under `on_error: abort` stopped the step (not part of `total`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub not_run: u64,
    /// Why `not_run` items were never started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_run_reason: Option<String>,
    /// The step's run, or its `for_each` items in row order (up to the limits above).
    pub items: Vec<ItemReport>,
}

impl StepReport {
    /// A step with no item yet.
    fn empty(index: usize, id: &str, name: &str, outcome: ItemOutcome) -> StepReport {
        StepReport {
            index,
            id: id.to_owned(),
            name: name.to_owned(),
            provider: String::new(),
            action: String::new(),
            outcome,
            ignored: false,
            always: false,
            total: 0,
            counts: Counts::default(),
            omitted: 0,
            not_run: 0,
            not_run_reason: None,
            items: Vec::new(),
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Per step, how many items that did not pass the report keeps (beyond: counted only).
pub const KEEP_NOT_PASSED: usize = 500;
/// Per step, how many items that passed the report keeps.
pub const KEEP_PASSED: usize = 200;

/// One execution of a step (one `for_each` item).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ItemReport {
    /// The `for_each` item (or the flow's row), from 0: for programs. People read `item_name`.
    pub item: Option<usize>,
    /// How every report and the terminal name the item: the step's id and the item's number
    /// from 1 (`dial[8]`), and for a step of a flow's row the row's step (`campaign[3].hangup`).
    /// Set whenever `item` is.
    #[serde(default)]
    pub item_name: Option<String>,
    /// Where the item is written: a data file and the line it starts on (a CSV file's header is
    /// line 1), or the plan and its line for an inline list. `null` for a list an earlier step
    /// saved.
    #[serde(default)]
    pub item_source: Option<Source>,
    /// How it ended.
    pub outcome: ItemOutcome,
    /// Why, when it did not pass.
    pub message: Option<String>,
    /// What to do about it.
    pub hint: Option<String>,
    /// The last status answered.
    pub status: Option<u16>,
    /// When it started, in milliseconds from the start of the run.
    pub started_ms: u64,
    /// Wall time, in milliseconds.
    pub duration_ms: u64,
    /// Of that, the time spent waiting for the provider's turn in callplan (its pacing, a pause
    /// after a 429), in milliseconds: not the provider's time.
    pub queued_ms: u64,
    /// Every attempt.
    pub attempts: Vec<AttemptReport>,
    /// Values saved by `save`.
    pub saved: IndexMap<String, serde_json::Value>,
    /// The vendor's correlation id of the last answer (`inin-correlation-id`, `CorrelationId`).
    pub correlation_id: Option<String>,
    /// The call's final state, for call steps (`response.call`).
    pub call: Option<serde_json::Value>,
    /// The request, `METHOD /path`.
    pub request: Option<String>,
    /// The start of the last answer's body, secrets masked.
    pub response: Option<String>,
    /// A flow's row: each of its steps, in the order they ran.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<RowStepReport>,
}

/// One step of a flow's row.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RowStepReport {
    /// Its position in the flow, from 0.
    pub position: usize,
    /// `id`.
    pub id: String,
    /// `name`.
    pub name: String,
    /// The provider's name.
    pub provider: String,
    /// The action.
    pub action: String,
    /// An `always` step of the row.
    pub always: bool,
    /// How it went (`item` is the row).
    #[serde(flatten)]
    pub result: Box<ItemReport>,
}

impl ItemReport {
    /// A flow row's steps on one line: `dial passed (200, 5 ms) → answered failed (…)`.
    pub fn row_steps_line(&self) -> Option<String> {
        if self.steps.is_empty() {
            return None;
        }
        let shown: Vec<String> = self
            .steps
            .iter()
            .map(|s| {
                let outcome = match s.result.outcome {
                    ItemOutcome::Passed => "passed",
                    ItemOutcome::Failed => "failed",
                    ItemOutcome::Errored => "errored",
                    ItemOutcome::Skipped => "skipped",
                };
                match s.result.status {
                    Some(status) => {
                        format!(
                            "{} {outcome} ({status}, {})",
                            s.id,
                            crate::duration::human_ms(s.result.duration_ms)
                        )
                    }
                    None => format!("{} {outcome}", s.id),
                }
            })
            .collect();
        Some(shown.join(" → "))
    }
}

impl RowStepReport {
    /// A row's step, secrets masked.
    pub fn of(r: &StepResult, redactor: &Redactor) -> Option<RowStepReport> {
        let inner = r.inner.as_ref()?;
        Some(RowStepReport {
            position: inner.position,
            id: inner.id.clone(),
            name: inner.name.clone(),
            provider: inner.provider.clone(),
            action: inner.action.clone(),
            always: inner.always,
            result: Box::new(ItemReport::of(r, redactor)),
        })
    }
}

impl ItemReport {
    /// A finished step or item, secrets masked.
    pub fn of(r: &StepResult, redactor: &Redactor) -> ItemReport {
        let mask = |s: &Option<String>| s.as_ref().map(|s| redactor.mask(s));
        ItemReport {
            item: r.item,
            item_name: r.item_name(),
            item_source: r.source.clone(),
            outcome: r.outcome.into(),
            message: mask(&r.message),
            hint: mask(&r.hint),
            status: r.status,
            started_ms: ms(r.started),
            duration_ms: ms(r.duration),
            queued_ms: ms(r.queued),
            attempts: AttemptReport::all(&r.attempts, redactor),
            saved: r
                .saved
                .iter()
                .map(|(k, v)| (k.clone(), mask_json(v, redactor)))
                .collect(),
            correlation_id: r.correlation_id.clone(),
            call: r.call.as_ref().map(|c| mask_json(c, redactor)),
            request: mask(&r.request),
            response: r.response.as_ref().map(|b| redactor.mask(&b.excerpt())),
            steps: Vec::new(),
        }
    }
}

/// One attempt.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AttemptReport {
    /// The status answered, if any.
    pub status: Option<u16>,
    /// What went wrong.
    pub error: Option<String>,
    /// How long the provider took, in milliseconds.
    pub elapsed_ms: u64,
    /// How long it waited for its turn in callplan first, in milliseconds.
    pub queued_ms: u64,
    /// The wait before the next attempt, in milliseconds.
    pub retry_after_ms: Option<u64>,
}

impl AttemptReport {
    /// Attempts, secrets masked.
    fn all(attempts: &[crate::runner::events::Attempt], redactor: &Redactor) -> Vec<AttemptReport> {
        attempts
            .iter()
            .map(|a| AttemptReport {
                status: a.status,
                error: a.error.as_ref().map(|e| redactor.mask(e)),
                elapsed_ms: ms(a.elapsed),
                queued_ms: ms(a.queued),
                retry_after_ms: a.retry_after.map(ms),
            })
            .collect()
    }
}

fn ms(d: Duration) -> u64 {
    d.as_millis().min(u128::from(u64::MAX)) as u64
}

fn rank(o: ItemOutcome) -> u8 {
    match o {
        ItemOutcome::Passed => 0,
        ItemOutcome::Skipped => 1,
        ItemOutcome::Failed => 2,
        ItemOutcome::Errored => 3,
    }
}

impl Report {
    /// An empty report for a run that is about to start.
    pub fn new(run_id: &str, plan: PlanInfo) -> Report {
        Report {
            schema: SCHEMA_ID.to_owned(),
            run_id: run_id.to_owned(),
            plan,
            providers: Vec::new(),
            started_at: crate::call::timestamp(SystemTime::now()),
            finished_at: None,
            duration_ms: 0,
            status: Status::Running,
            reason: None,
            counts: Counts::default(),
            not_run: 0,
            logins: Vec::new(),
            steps: Vec::new(),
        }
    }

    /// Records the items or rows a `for_each` step never started (its report is made if none
    /// of them ran).
    pub fn add_not_run(&mut self, index: usize, id: &str, name: &str, count: u64, reason: &str) {
        let at = match self.steps.iter().rposition(|s| s.index == index) {
            Some(at) => at,
            None => {
                self.steps
                    .push(StepReport::empty(index, id, name, ItemOutcome::Skipped));
                self.steps.len() - 1
            }
        };
        let step = &mut self.steps[at];
        step.not_run += count;
        step.not_run_reason = Some(reason.to_owned());
        self.not_run += count;
    }

    /// Adds a finished step or item.
    pub fn add(&mut self, r: &StepResult, redactor: &Redactor) {
        self.add_row(r, Vec::new(), redactor);
    }

    /// Adds a finished step, item or flow row (with the row's steps).
    pub fn add_row(&mut self, r: &StepResult, steps: Vec<RowStepReport>, redactor: &Redactor) {
        let outcome: ItemOutcome = r.outcome.into();
        let count = |counts: &mut Counts| match (outcome, r.ignored) {
            (ItemOutcome::Passed, _) => counts.passed += 1,
            (ItemOutcome::Skipped, _) => counts.skipped += 1,
            (_, true) => counts.warned += 1,
            (ItemOutcome::Failed, false) => counts.failed += 1,
            (ItemOutcome::Errored, false) => counts.errored += 1,
        };
        count(&mut self.counts);
        // Steps run one after another, so a step's items arrive together: only the last step
        // can be theirs (a search over every step made long plans quadratic).
        let last = self.steps.len().checked_sub(1);
        let at = match last.filter(|&i| self.steps[i].index == r.index) {
            Some(at) => at,
            None => {
                self.steps.push(StepReport {
                    provider: r.provider.clone(),
                    action: r.action.clone(),
                    ignored: r.ignored,
                    always: r.always,
                    ..StepReport::empty(r.index, &r.id, &r.name, outcome)
                });
                self.steps.len() - 1
            }
        };
        let step = &mut self.steps[at];
        count(&mut step.counts);
        step.total += 1;
        if rank(outcome) > rank(step.outcome) {
            step.outcome = outcome;
        }
        // Kept: the first KEEP_PASSED items that passed and the first KEEP_NOT_PASSED others
        // (the counts already include this item).
        let keep = if outcome == ItemOutcome::Passed {
            step.counts.passed as usize <= KEEP_PASSED
        } else {
            (step.total - step.counts.passed) as usize <= KEEP_NOT_PASSED
        };
        if !keep {
            step.omitted += 1;
            return;
        }
        // Built only for the items kept: masking and the body's excerpt cost per item.
        let mut item = ItemReport::of(r, redactor);
        item.steps = steps;
        // Items that ran concurrently finish out of order; reports keep row order.
        let at = step.items.partition_point(|i| i.item < item.item);
        step.items.insert(at, item);
    }
}

/// Masks secrets inside every string of a JSON value.
fn mask_json(value: &serde_json::Value, redactor: &Redactor) -> serde_json::Value {
    match value {
        serde_json::Value::String(s) => serde_json::Value::String(redactor.mask(s)),
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(|v| mask_json(v, redactor)).collect())
        }
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), mask_json(v, redactor)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// SHA-256 of a file, hex; empty when it cannot be read.
pub fn sha256_of(path: &std::path::Path) -> String {
    use sha2::Digest as _;
    std::fs::read(path)
        .map(|bytes| {
            sha2::Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        })
        .unwrap_or_default()
}

/// Builds the report from the runner's events.
#[derive(Debug)]
pub struct Collector {
    report: Mutex<Report>,
    redactor: Arc<Redactor>,
    /// The steps of flow rows still running, by (step index, row).
    rows: Mutex<std::collections::HashMap<(usize, usize), Vec<RowStepReport>>>,
}

impl Collector {
    /// Collects into `report`, masking with `redactor`.
    pub fn new(report: Report, redactor: Arc<Redactor>) -> Collector {
        Collector {
            report: Mutex::new(report),
            redactor,
            rows: Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// The report so far.
    pub fn snapshot(&self) -> Report {
        self.report
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Sink for Collector {
    fn event(&self, event: &Event) {
        let mut report = self.report.lock().unwrap_or_else(PoisonError::into_inner);
        match event {
            Event::RunStarted { providers, at, .. } => {
                report.started_at = crate::call::timestamp(*at);
                report.providers = providers
                    .iter()
                    .map(|(name, kind, target)| ProviderInfo {
                        name: name.clone(),
                        kind: kind.clone(),
                        target: target.clone(),
                    })
                    .collect();
            }
            Event::StepFinished(result) => {
                let mut rows = self.rows.lock().unwrap_or_else(PoisonError::into_inner);
                let key = (result.index, result.item.unwrap_or(0));
                match RowStepReport::of(result, &self.redactor) {
                    // A row's step waits for its row.
                    Some(step) => rows.entry(key).or_default().push(step),
                    None => {
                        // Most results are not rows of a flow: no lookup for them.
                        let steps = if rows.is_empty() {
                            Vec::new()
                        } else {
                            rows.remove(&key).unwrap_or_default()
                        };
                        report.add_row(result, steps, &self.redactor);
                    }
                }
            }
            Event::LoginFinished(login) => {
                let mask = |s: &Option<String>| s.as_ref().map(|s| self.redactor.mask(s));
                report.logins.push(LoginReport {
                    provider: login.provider.clone(),
                    outcome: if login.error.is_some() {
                        ItemOutcome::Errored
                    } else {
                        ItemOutcome::Passed
                    },
                    message: mask(&login.error),
                    hint: mask(&login.hint),
                    started_ms: ms(login.started),
                    duration_ms: ms(login.duration),
                    attempts: AttemptReport::all(&login.attempts, &self.redactor),
                });
            }
            Event::RunFinished {
                status,
                reason,
                duration,
                at,
            } => {
                report.status = match status {
                    RunStatus::Passed => Status::Passed,
                    RunStatus::Failed => Status::Failed,
                    RunStatus::CouldNotRun => Status::CouldNotRun,
                    RunStatus::Interrupted => Status::Interrupted,
                };
                report.reason = reason.as_ref().map(|r| self.redactor.mask(r));
                report.duration_ms = ms(*duration);
                report.finished_at = Some(crate::call::timestamp(*at));
            }
            Event::NotRun {
                index,
                id,
                name,
                count,
                reason,
            } => report.add_not_run(*index, id, name, *count, reason),
            Event::StepStarted { .. }
            | Event::AttemptFailed { .. }
            | Event::LoginRetried { .. }
            | Event::Note(_) => {}
        }
    }
}

/// Sends every event to several sinks, in order.
pub struct Tee<'a>(pub Vec<&'a dyn Sink>);

impl Sink for Tee<'_> {
    fn event(&self, event: &Event) {
        for sink in &self.0 {
            sink.event(event);
        }
    }
}
