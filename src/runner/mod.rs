//! Running a plan: steps in order, templates, requests, expectations, saves, retries and error
//! policies. The runner emits [`events::Event`]s; reporters turn them into output.
//!
//! - [`render`]: the template context and rendering;
//! - [`retry`]: the retry decision (a pure function);
//! - [`items`]: `for_each` sources;
//! - [`dry`]: what `--dry-run` prints.

pub mod dry;
pub mod events;
mod expect;
mod flow;
pub mod items;
pub mod journal;
pub mod render;
pub mod retry;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use futures_util::StreamExt as _;
use indexmap::IndexMap;
use minijinja::Value;
use tokio::sync::watch;

use crate::duration::{human, saturating_deadline};
use crate::plan::model::{Plan, Step};
use crate::plan::raw::OnError;
use crate::provider::connection::{Connection, Queue, Response, SendError};
use crate::provider::failure::Failure;
use crate::provider::request::{self, Request};
use crate::provider::{self, ActionKind, hints};
use events::{Attempt, Clock, Event, Outcome, RunStatus, Sink, StepResult};
use render::{Json, Renderer, Scope, Steps};
use retry::Decision;

/// Everything a run needs besides the plan.
pub struct Run<'a> {
    /// The plan.
    pub plan: &'a Plan,
    /// A live connection per provider name.
    pub connections: IndexMap<String, Arc<Connection>>,
    /// `vars`, with `--var` overrides applied.
    pub vars: IndexMap<String, serde_json::Value>,
    /// Secret values by name.
    pub secrets: IndexMap<String, String>,
    /// The run's id.
    pub run_id: String,
    /// Where events go.
    pub sink: &'a dyn Sink,
    /// Turns true when a signal stops the run (Ctrl-C, SIGTERM, SIGHUP).
    pub interrupted: watch::Receiver<bool>,
    /// The run's clock: every moment a result reports is read from it.
    pub clock: Clock,
    /// The `run` template variable (id, start time, plan).
    pub context: serde_json::Value,
    /// Once the run is stopped by a signal, how long the `always` steps may take in all.
    pub cleanup: Duration,
    /// `--timeout`: the whole run's budget.
    pub timeout: Option<Duration>,
    /// `--journal`: every finished step and item, and every create before it leaves.
    pub journal: Option<Arc<journal::Journal>>,
    /// `--resume`: what an earlier run did.
    pub resume: Option<journal::Resume>,
}

struct State<'a> {
    run: &'a Run<'a>,
    renderer: Renderer,
    steps: Arc<Steps>,
    /// `vars`, `secrets`, `run` and `steps`: every step's [`Scope`] shares them.
    base: Arc<BTreeMap<String, Value>>,
    dials: AtomicU64,
    refused_first: AtomicBool,
    deadline: Option<Instant>,
    /// Set when a signal stopped the run: the `always` steps' shared budget ends then.
    cleanup_deadline: std::sync::Mutex<Option<Instant>>,
}

/// What every item of a step shares, read once for the step.
struct Prepared {
    /// A shortcut for each of the step's `expect`, where it has one.
    shortcuts: Vec<Option<expect::Shortcut>>,
    /// Each item publishes its values as `steps.<id>` when it ends. A `for_each` step none of
    /// whose templates can read `steps` (nor print the whole context, as `debug()` does) has
    /// only its own values published, once, when its last item ends: nothing could read an
    /// item's before.
    publish_items: bool,
}

impl Prepared {
    fn of(step: &Step, plan: &Plan) -> Prepared {
        let reads = |text: &str| text.contains("steps") || text.contains("debug");
        let mut reads_steps = false;
        items::visit_templates(step, &mut |text, _, _| reads_steps |= reads(text));
        if let Some(zone) = plan
            .guard
            .hours
            .as_ref()
            .and_then(|h| h.destination_zone.as_ref())
        {
            reads_steps |= reads(zone);
        }
        Prepared {
            shortcuts: step
                .expect
                .iter()
                .map(|e| expect::Shortcut::of(e))
                .collect(),
            publish_items: step.for_each.is_none() || reads_steps,
        }
    }
}

/// How a step or item ended.
struct ItemEnd {
    outcome: Outcome,
    saved: IndexMap<String, serde_json::Value>,
    message: Option<String>,
    /// A create left and its fate is unknown (it may have placed a call).
    unknown: bool,
}

/// Where a step runs: at the plan's top level, or in one row of a flow.
#[derive(Clone, Copy)]
struct Place<'p> {
    /// Its position in the plan (a row's steps report under their flow's).
    index: usize,
    /// What `steps.<id>` reads, and where the step's values are published.
    steps: &'p Arc<Steps>,
    /// For a row's step: its flow and row.
    row: Option<RowPlace<'p>>,
    /// Its end is journaled (not for the steps of a row after one of unknown fate: their
    /// failure follows from it, and a resume runs them again).
    records: bool,
    /// Where its `for_each` item (or its flow's row) is written, for the reports.
    source: Option<&'p items::Source>,
}

/// A step's row of a flow.
#[derive(Clone, Copy)]
struct RowPlace<'p> {
    flow: &'p Step,
    /// The row, from 0.
    row: usize,
    /// The row's item.
    item: &'p serde_json::Value,
    /// The step's position in the flow.
    position: usize,
}

impl Place<'_> {
    /// The journal's key for `step` (and `item`) here: a row's step is `flow.step`.
    fn key(&self, step: &Step, item: Option<usize>) -> journal::Key {
        match self.row {
            Some(r) => (format!("{}.{}", r.flow.id, step.id), Some(r.row)),
            None => (step.id.clone(), item),
        }
    }
}

/// The message of a step or row a signal cut short.
const INTERRUPTED: &str = "interrupted";

/// Why the remaining steps are not launched.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Halt {
    Aborted(String),
    Interrupted,
    TimedOut,
}

impl Halt {
    fn reason(&self) -> String {
        match self {
            Halt::Aborted(why) => format!("not run: {why}"),
            Halt::Interrupted => "not run: interrupted".into(),
            Halt::TimedOut => "not run: the run timed out".into(),
        }
    }
}

/// Runs the plan's steps (logins are done); returns how the run ended, and why when it did not
/// pass.
pub async fn run(run: &Run<'_>) -> (RunStatus, Option<String>) {
    let started = Instant::now();
    let steps = Arc::new(Steps::default());
    let mut base = BTreeMap::new();
    base.insert("vars".to_owned(), render::value(&run.vars));
    base.insert("secrets".to_owned(), render::value(&run.secrets));
    base.insert("run".to_owned(), render::value(&run.context));
    base.insert("steps".to_owned(), Value::from_dyn_object(steps.clone()));
    let state = State {
        run,
        renderer: Renderer::new(),
        steps,
        base: Arc::new(base),
        dials: AtomicU64::new(run.resume.as_ref().map_or(0, |r| r.sent)),
        refused_first: AtomicBool::new(false),
        // Past what the clock holds, a deadline is no deadline.
        deadline: run.timeout.and_then(|t| started.checked_add(t)),
        cleanup_deadline: std::sync::Mutex::new(None),
    };
    let mut halt: Option<Halt> = None;
    let mut failed: Option<String> = None;
    for (index, step) in run.plan.steps.iter().enumerate() {
        if halt.is_none() || matches!(halt, Some(Halt::Aborted(_))) {
            if *run.interrupted.borrow() {
                halt = Some(Halt::Interrupted);
            } else if state.deadline.is_some_and(|d| Instant::now() >= d) {
                halt = Some(Halt::TimedOut);
            }
        }
        if let Some(h) = &halt
            && !step.always
        {
            let top = Place {
                index,
                steps: &state.steps,
                row: None,
                records: true,
                source: None,
            };
            state.skip(&top, step, None, h.reason());
            continue;
        }
        if halt == Some(Halt::Interrupted) {
            state.start_cleanup();
        }
        let outcome = state.run_step(index, step).await;
        if outcome.is_failure() {
            match step.on_error {
                OnError::Ignore => {}
                OnError::Continue => {
                    failed.get_or_insert_with(|| format!("step `{}` failed", step.id));
                }
                OnError::Abort => {
                    failed.get_or_insert_with(|| format!("step `{}` failed", step.id));
                    if halt.is_none() {
                        halt = Some(Halt::Aborted(format!(
                            "step `{}` failed and its on_error is abort",
                            step.id
                        )));
                    }
                }
            }
        }
        if *run.interrupted.borrow() && !matches!(halt, Some(Halt::Interrupted)) {
            halt = Some(Halt::Interrupted);
        }
    }
    let (status, reason) = if *run.interrupted.borrow() || halt == Some(Halt::Interrupted) {
        (RunStatus::Interrupted, Some("interrupted".to_owned()))
    } else if state.refused_first.load(Ordering::Relaxed) {
        (
            RunStatus::CouldNotRun,
            Some("the guard refused the plan's first dial".to_owned()),
        )
    } else if halt == Some(Halt::TimedOut) {
        (RunStatus::Failed, Some("the run timed out".to_owned()))
    } else if let Some(why) = failed {
        (RunStatus::Failed, Some(why))
    } else {
        (RunStatus::Passed, None)
    };
    (status, reason)
}

/// A step's `with:`, rendered; the error names the parameter.
fn render_with(
    renderer: &Renderer,
    step: &Step,
    context: &Value,
) -> Result<IndexMap<String, serde_json::Value>, String> {
    step.with
        .iter()
        .map(|(name, value)| {
            renderer
                .render_json(value, context)
                .map(|v| (name.clone(), v))
                .map_err(|e| format!("with.{name}: {e}"))
        })
        .collect()
}

/// The zone a dial's calling hours are judged in: the destination's (the plan's
/// `destination_time_zone`), else the plan's `time_zone`; `None` when the destination's is a dry
/// run's placeholder (known only when the plan runs).
fn dial_zone(
    hours: &crate::plan::model::CallingHours,
    renderer: &Renderer,
    context: &Value,
) -> Result<Option<chrono_tz::Tz>, String> {
    let Some(template) = &hours.destination_zone else {
        return Ok(Some(hours.zone));
    };
    match renderer.render_text(template, context) {
        Ok(text) if renderer.is_planned() && crate::placeholder::is_in(&text) => Ok(None),
        Ok(text) if text.trim().is_empty() => Ok(Some(hours.zone)),
        Ok(text) => text
            .trim()
            .parse::<chrono_tz::Tz>()
            .map(Some)
            .map_err(|_| format!("the destination's time zone `{text}` is not an IANA zone")),
        Err(e) => Err(format!("destination_time_zone: {e}")),
    }
}

/// The numbers a dialing parameter holds.
fn numbers(value: &serde_json::Value) -> Vec<String> {
    match value {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(items) => items.iter().flat_map(numbers).collect(),
        _ => Vec::new(),
    }
}

/// The outcome of one attempt, before the retry decision.
enum Tried {
    Passed(Response, Option<serde_json::Value>),
    Failed {
        failure: Failure,
        outcome: Outcome,
        message: String,
        response: Option<Response>,
        call: Option<serde_json::Value>,
        retriable: bool,
    },
}

impl State<'_> {
    /// A signal stopped the run: from now on the `always` steps share the cleanup budget.
    fn start_cleanup(&self) {
        let mut deadline = self
            .cleanup_deadline
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        deadline.get_or_insert_with(|| saturating_deadline(Instant::now(), self.run.cleanup));
    }

    /// What is left of the time the `always` steps have: the cleanup budget once a signal
    /// stopped the run, and with a `--timeout`, the same budget counted from the moment it runs
    /// out. An `always` step that starts before the `--timeout` (and then waits, for a slot of
    /// the provider's pacing say) is bounded by it too: the run ends in bounded time either way.
    fn cleanup_left(&self) -> Option<Duration> {
        let signalled = *self
            .cleanup_deadline
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let timed_out = self
            .deadline
            .map(|d| crate::duration::saturating_deadline(d, self.run.cleanup));
        // The clock is read only when there is a deadline (for every step, usually none).
        [signalled, timed_out]
            .into_iter()
            .flatten()
            .min()
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// The run's `--timeout` has run out: no new step, item or row starts.
    fn timed_out(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// The context of a step's templates: the run's values, a row's steps, the item.
    fn context(
        &self,
        place: &Place<'_>,
        step: &Step,
        item: Option<(usize, &serde_json::Value)>,
    ) -> Scope {
        let mut scope = Scope::new(self.base.clone());
        if place.row.is_some() {
            scope = scope.with_steps(place.steps.clone());
        }
        // A row's step reads its row.
        let item = item.or(place.row.map(|r| (r.row, r.item)));
        if let Some((i, value)) = item {
            scope = scope.with_item(&step.item_name, i, Json::value(value.clone()));
        }
        scope
    }

    /// The context of `expect` and `save`: the step's, plus `response`.
    fn with_response(
        scope: &Scope,
        response: &Response,
        call: &Option<serde_json::Value>,
    ) -> Value {
        scope.with_response(render::ResponseView {
            status: response.status,
            headers: response.headers.clone(),
            body: response.body.clone(),
            elapsed_ms: response.elapsed.as_millis() as u64,
            call: call.clone().map(std::sync::Arc::new),
        })
    }

    fn result(&self, place: &Place<'_>, step: &Step, item: Option<usize>) -> StepResult {
        let mut result = StepResult::of(place.index, step, item, self.run.clock.elapsed());
        result.source = place.source.cloned();
        // A step of a flow's row is reported as the flow's row, naming the step within it.
        if let Some(r) = place.row {
            result.inner = Some(events::InnerStep {
                position: r.position,
                id: std::mem::replace(&mut result.id, r.flow.id.clone()),
                name: std::mem::replace(&mut result.name, r.flow.name.clone()),
                provider: std::mem::take(&mut result.provider),
                action: std::mem::replace(&mut result.action, r.flow.action.name.to_owned()),
                always: step.always,
            });
            result.item = Some(r.row);
        }
        result
    }

    /// Why a step cannot run because it reads a value that an earlier step did not save (it
    /// failed, was skipped or did not run), if that is why its templates did not render. A
    /// template that says what to do without it (`| default(…)`, `is defined`) renders, and the
    /// step runs.
    fn unsaved(&self, place: &Place<'_>, step: &Step) -> Option<String> {
        fn strings<'v>(value: &'v serde_json::Value, out: &mut Vec<&'v str>) {
            match value {
                serde_json::Value::String(s) => out.push(s),
                serde_json::Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
                serde_json::Value::Object(map) => map.values().for_each(|v| strings(v, out)),
                _ => {}
            }
        }
        let mut sources = Vec::new();
        step.with.values().for_each(|v| strings(v, &mut sources));
        let reads = step
            .condition
            .iter()
            .flat_map(|c| self.renderer.step_reads(c, true))
            .chain(
                sources
                    .iter()
                    .flat_map(|s| self.renderer.step_reads(s, false)),
            );
        for (id, name) in reads {
            let Some(values) = place.steps.get(&id) else {
                return Some(format!(
                    "not run: it reads `steps.{id}.{name}`, and step `{id}` has not run"
                ));
            };
            if !values.get_attr(&name).is_ok_and(|v| v.is_undefined()) {
                continue;
            }
            let outcome = values
                .get_attr("outcome")
                .ok()
                .and_then(|o| o.as_str().map(str::to_owned))
                .unwrap_or_default();
            if outcome == Outcome::Passed.name() {
                continue;
            }
            let how = match outcome.as_str() {
                "skipped" => "was skipped".to_owned(),
                "" => "did not run".to_owned(),
                other => other.to_owned(),
            };
            return Some(format!(
                "not run: it reads `steps.{id}.{name}`, which step `{id}` did not save (`{id}` {how}); write `| default(…)` where the step should run without it"
            ));
        }
        None
    }

    fn skip(&self, place: &Place<'_>, step: &Step, item: Option<usize>, reason: String) {
        let mut result = self.result(place, step, item);
        result.outcome = Outcome::Skipped;
        result.message = Some(reason);
        place.steps.set(
            &step.id,
            Json::value(serde_json::json!({ "outcome": "skipped" })),
        );
        self.run.sink.event(&Event::StepFinished(Box::new(result)));
    }

    /// Evaluates a step's `if`: `Some(outcome)` when the step does not run (skipped, or the
    /// condition could not be evaluated).
    fn unless(&self, place: &Place<'_>, step: &Step) -> Option<Outcome> {
        let condition = step.condition.as_ref()?;
        let context = self.context(place, step, None).value();
        match self.renderer.eval(condition, &context) {
            Ok(v) if !v.is_true() => {
                self.skip(place, step, None, format!("`if: {condition}` was false"));
                Some(Outcome::Skipped)
            }
            Ok(_) => None,
            Err(_) if let Some(why) = self.unsaved(place, step) => {
                self.skip(place, step, None, why);
                Some(Outcome::Skipped)
            }
            Err(e) => {
                let mut result = self.result(place, step, None);
                result.outcome = Outcome::Errored;
                result.message = Some(format!("`if` could not be evaluated: {e}"));
                result.ignored = step.on_error == OnError::Ignore;
                self.finish(place, step, result.clone(), &IndexMap::new(), true);
                Some(Outcome::Errored)
            }
        }
    }

    /// Runs a step (every item of a `for_each`, every row of a flow); returns its overall
    /// outcome.
    async fn run_step(&self, index: usize, step: &Step) -> Outcome {
        let place = Place {
            index,
            steps: &self.steps,
            row: None,
            records: true,
            source: None,
        };
        if let Some(outcome) = self.unless(&place, step) {
            return outcome;
        }
        if let Some(inner) = step.flow() {
            return self.run_flow(index, step, inner).await;
        }
        let prepared = &Prepared::of(step, self.run.plan);
        let Some(source) = &step.for_each else {
            return self.run_item_with(&place, step, prepared, None).await.0;
        };
        let place = &place;
        // Items run `concurrency` at a time; once a failure aborts the step (or Ctrl-C comes),
        // no new item starts, and those under way finish.
        let stop = AtomicBool::new(false);
        let width = (step.concurrency.max(1)) as usize;
        let stop_ref = &stop;
        let turned_away = AtomicBool::new(false);
        let turned_away_ref = &turned_away;
        let mut items = self.items_of(place, step, source);
        let mut running = futures_util::stream::iter(items.by_ref().enumerate())
            .take_while(|_| {
                let go = !stop_ref.load(Ordering::Relaxed)
                    && (step.always || (!*self.run.interrupted.borrow() && !self.timed_out()));
                turned_away_ref.store(!go, Ordering::Relaxed);
                std::future::ready(go)
            })
            .map(|(i, located)| async move {
                let place = &Place {
                    source: located.source.as_ref(),
                    ..*place
                };
                match located.item {
                    Ok(value) => {
                        let (outcome, values) = self
                            .run_item_with(place, step, prepared, Some((i, &value)))
                            .await;
                        (i, outcome, values)
                    }
                    Err(problem) => {
                        let mut result = self.result(place, step, Some(i));
                        result.outcome = Outcome::Errored;
                        result.message = Some(problem);
                        result.ignored = step.on_error == OnError::Ignore;
                        self.run.sink.event(&Event::StepFinished(Box::new(result)));
                        (i, Outcome::Errored, IndexMap::new())
                    }
                }
            })
            .buffer_unordered(width);
        let mut overall = Outcome::Passed;
        let mut saved = IndexMap::new();
        let mut saved_from = None;
        let mut any = false;
        while let Some((i, outcome, values)) = running.next().await {
            any = true;
            // `steps.<id>.<name>` is what the last item (in row order) that passed saved.
            if outcome == Outcome::Passed && saved_from.is_none_or(|last| i > last) {
                saved = values;
                saved_from = Some(i);
            }
            overall = worse(overall, outcome);
            if outcome.is_failure() && step.on_error == OnError::Abort {
                stop.store(true, Ordering::Relaxed);
            }
        }
        drop(running);
        if turned_away.load(Ordering::Relaxed) {
            self.not_run(index, step, &mut items);
        }
        if !any {
            overall = Outcome::Passed;
        }
        let mut values = serde_json::Map::new();
        values.insert("outcome".into(), overall.name().into());
        for (k, v) in saved {
            values.insert(k, v);
        }
        self.steps
            .set(&step.id, Json::value(serde_json::Value::Object(values)));
        overall
    }

    /// A `for_each` step stopped launching items (a failure aborted it, or a signal came): the
    /// items it never started, the one turned away and the rest of its source, are counted and
    /// reported, not lost.
    fn not_run(&self, index: usize, step: &Step, rest: impl Iterator) {
        let count = 1 + rest.count() as u64;
        let reason = if *self.run.interrupted.borrow() {
            INTERRUPTED.to_owned()
        } else if self.timed_out() {
            "the run's --timeout ran out".to_owned()
        } else {
            format!(
                "an earlier {} failed and the step's on_error is abort",
                if step.flow().is_some() { "row" } else { "item" }
            )
        };
        self.run.sink.event(&Event::NotRun {
            index,
            id: step.id.clone(),
            name: step.name.clone(),
            count,
            reason,
        });
    }

    /// Records a finished item and, with `publish`, publishes its values as `steps.<id>` where
    /// it ran (see [`Prepared::publish_items`]).
    fn finish(
        &self,
        place: &Place<'_>,
        step: &Step,
        result: StepResult,
        saved: &IndexMap<String, serde_json::Value>,
        publish: bool,
    ) {
        if publish {
            let mut values = serde_json::Map::new();
            values.insert("outcome".into(), result.outcome.name().into());
            for (k, v) in saved {
                values.insert(k.clone(), v.clone());
            }
            place
                .steps
                .set(&step.id, Json::value(serde_json::Value::Object(values)));
        }
        self.run.sink.event(&Event::StepFinished(Box::new(result)));
    }

    async fn run_item_with(
        &self,
        place: &Place<'_>,
        step: &Step,
        prepared: &Prepared,
        item: Option<(usize, &serde_json::Value)>,
    ) -> (Outcome, IndexMap<String, serde_json::Value>) {
        let end = self.run_item_full(place, step, prepared, item).await;
        (end.outcome, end.saved)
    }

    /// Runs a step or item.
    async fn run_item_full(
        &self,
        place: &Place<'_>,
        step: &Step,
        prepared: &Prepared,
        item: Option<(usize, &serde_json::Value)>,
    ) -> ItemEnd {
        let started = Instant::now();
        if place.row.is_none() {
            self.run.sink.event(&Event::StepStarted {
                index: place.index,
                id: step.id.clone(),
                item: item.map(|(i, _)| i),
            });
        }
        let mut result = self.result(place, step, item.map(|(i, _)| i));
        result.ignored = step.on_error == OnError::Ignore;
        let key = place.key(step, item.map(|(i, _)| i));
        if let Some(resume) = &self.run.resume {
            // Finished before: its outcome and saved values come back from the journal.
            if let Some(done) = resume.done.get(&key) {
                result.outcome = done.outcome;
                result.message = Some(match &done.message {
                    Some(why) => format!("finished before the resume (from the journal): {why}"),
                    None => "finished before the resume (from the journal)".into(),
                });
                result.saved = done.saved.clone();
                let message = result.message.clone();
                self.finish(place, step, result, &done.saved, prepared.publish_items);
                return ItemEnd {
                    outcome: done.outcome,
                    saved: done.saved.clone(),
                    message,
                    unknown: false,
                };
            }
            // Sent, never confirmed: it may have dialed. The provider is asked; it is sent again
            // only when the provider says it placed nothing (or the step allows unsafe retries).
            if let Some(sent) = resume.unknown.get(&key)
                && !step.retry.allow_unsafe
                && let Some((outcome, saved)) =
                    Box::pin(self.reconcile(place, step, item, &key, sent, &mut result)).await
            {
                result.saved = saved.clone();
                // Still unknown: left as sent in the journal, for a later resume to ask again.
                let unknown = outcome == Outcome::Errored;
                if !unknown && place.records {
                    self.record(&key, &result, &saved).await;
                }
                let message = result.message.clone();
                self.finish(place, step, result, &saved, prepared.publish_items);
                return ItemEnd {
                    outcome,
                    saved,
                    message,
                    unknown,
                };
            }
        }
        let context = self.context(place, step, item);
        let mut interrupted = self.run.interrupted.clone();
        let queue = Queue::default();
        // Boxed: the attempt's future (request, answer, judgement) is kilobytes, and each of the
        // wrappers below would otherwise move a copy of it, for every item.
        let attempt =
            Box::pin(self.attempts(place, step, prepared, &key, &queue, &context, &mut result));
        let budget = match self.deadline {
            Some(d) if !step.always => step
                .timeout
                .min(d.saturating_duration_since(Instant::now())),
            _ => step.timeout,
        };
        let budget = match self.cleanup_left() {
            Some(left) if step.always => budget.min(left),
            _ => budget,
        };
        // The step's own timeout leaves out the time spent queueing for the provider's turn;
        // the run's `--timeout` (and, after a signal, `--cleanup-timeout` for the `always`
        // steps) bounds everything, queueing included.
        let hard = match self.cleanup_left() {
            Some(left) if step.always => Some((left, "--cleanup-timeout")),
            _ => self
                .deadline
                .filter(|_| !step.always)
                .map(|d| (d.saturating_duration_since(Instant::now()), "--timeout")),
        };
        let bounded = async {
            match hard {
                Some((limit, _)) => tokio::time::timeout(limit, within(budget, &queue, attempt))
                    .await
                    .map_err(|_| limit),
                None => Ok(within(budget, &queue, attempt).await),
            }
        };
        let saved = tokio::select! {
            finished = bounded => match finished {
                Ok(Some(saved)) => saved,
                timed_out => {
                    result.outcome = Outcome::Errored;
                    let creates = step.action.effect == crate::provider::Effect::Creates;
                    let waited = match (&timed_out, hard) {
                        (Err(limit), Some((_, flag))) => {
                            format!("{} (the run's `{flag}` ran out)", human(*limit))
                        }
                        _ => human(budget),
                    };
                    result.message = Some(match (creates, queue.sent()) {
                        (true, true) => format!("timed out after {waited}; the request may have reached the provider, so it was not sent again"),
                        (_, false) => format!("timed out after {waited} before the request was sent; nothing was sent"),
                        (false, true) => format!("timed out after {waited}"),
                    });
                    IndexMap::new()
                }
            },
            _ = interrupted.wait_for(|v| *v), if !step.always => {
                // Cut short by a signal, not failed: `on_error: ignore` does not make it a pass.
                result.outcome = Outcome::Errored;
                result.message = Some(INTERRUPTED.into());
                result.ignored = false;
                IndexMap::new()
            }
        };
        result.queued = queue.waited();
        // A create that left and got no answer may have placed a call: its fate is unknown.
        let unknown = result.outcome == Outcome::Errored
            && result.status.is_none()
            && queue.sent()
            && step.action.effect == crate::provider::Effect::Creates;
        if unknown {
            result.hint = Some(self.how_to_look_up(step, &context));
        }
        result.duration = started.elapsed();
        let outcome = result.outcome;
        result.saved = saved.clone();
        // An interrupted item is not done: a resume runs it again, or reports it as of unknown
        // fate if a create of it was on its way.
        // Nor is one of unknown fate: left as sent, a resume asks the provider what happened.
        if result.message.as_deref() != Some(INTERRUPTED) && !unknown && place.records {
            self.record(&key, &result, &saved).await;
        }
        let message = result.message.clone();
        self.finish(place, step, result, &saved, prepared.publish_items);
        ItemEnd {
            outcome,
            saved,
            message,
            unknown,
        }
    }

    /// A step's `save:` values, read from the answer in `context`.
    fn save(
        &self,
        step: &Step,
        context: &Value,
    ) -> Result<IndexMap<String, serde_json::Value>, String> {
        let mut saved = IndexMap::new();
        for (name, template) in &step.save {
            let value = self
                .renderer
                .render_str(template, context)
                .and_then(|v| render::to_json(&v))
                .map_err(|e| format!("save.{name}: {e}"))?;
            saved.insert(name.clone(), value);
        }
        Ok(saved)
    }

    /// What the journal keeps of a create so that a resume can look it up: the numbers it
    /// dials and its path parameters (the user, the session), rendered.
    fn lookup_of(
        step: &Step,
        with: &IndexMap<String, serde_json::Value>,
    ) -> IndexMap<String, serde_json::Value> {
        step.action
            .params
            .iter()
            .filter(|p| step.action.dials.contains(&p.name) || p.location == provider::In::Path)
            .filter_map(|p| with.get(p.name).map(|v| (p.name.to_owned(), v.clone())))
            .collect()
    }

    /// What to do about a create that got no answer: it may have placed a call.
    fn how_to_look_up(&self, step: &Step, scope: &Scope) -> String {
        let context = scope.value();
        let with: IndexMap<String, serde_json::Value> = step
            .with
            .iter()
            .filter_map(|(k, v)| {
                self.renderer
                    .render_json(v, &context)
                    .ok()
                    .map(|v| (k.clone(), v))
            })
            .collect();
        let sent = provider::reconcile::Sent {
            at: SystemTime::now(),
            with: State::lookup_of(step, &with),
        };
        let kind = self
            .run
            .connections
            .get(&step.provider)
            .map_or(provider::ProviderKind::Http, |c| c.settings.kind);
        provider::reconcile::how_to_look_up(kind, step.action, &sent)
    }

    /// A create of unknown fate: asks the provider whether it placed the call. `None`: it did
    /// not, and the item is sent as usual; otherwise the item's outcome, saved values and
    /// message.
    async fn reconcile(
        &self,
        place: &Place<'_>,
        step: &Step,
        item: Option<(usize, &serde_json::Value)>,
        key: &journal::Key,
        sent: &provider::reconcile::Sent,
        result: &mut StepResult,
    ) -> Option<(Outcome, IndexMap<String, serde_json::Value>)> {
        use provider::reconcile::Reconciled;
        let found = match self.run.connections.get(&step.provider) {
            Some(c) => {
                provider::reconcile::reconcile(c, step.action, sent, c.settings.reconcile_delay)
                    .await
            }
            None => Reconciled::Unknown {
                why: format!("no provider `{}`", step.provider),
                by_hand: String::new(),
            },
        };
        let said = match &found {
            Reconciled::Placed(_, what) => format!("placed: {what}"),
            Reconciled::NotPlaced => "not placed".to_owned(),
            Reconciled::Unknown { why, .. } => format!("unknown: {why}"),
        };
        if let Some(journal) = &self.run.journal {
            let _ = journal.reconciled(&key.0, key.1, &said).await;
        }
        match found {
            Reconciled::Placed(response, what) => {
                // As if its create had answered: its saves read the answer (the call's id).
                let context =
                    State::with_response(&self.context(place, step, item), &response, &None);
                match self.save(step, &context) {
                    Ok(saved) => {
                        result.outcome = Outcome::Passed;
                        result.status = Some(response.status);
                        result.message = Some(format!(
                            "reconciled: the request sent before the earlier run stopped placed the call ({what}); not sent again"
                        ));
                        Some((Outcome::Passed, saved))
                    }
                    Err(e) => {
                        result.outcome = Outcome::Errored;
                        result.message =
                            Some(format!("reconciled: the call was placed ({what}), but {e}"));
                        Some((Outcome::Errored, IndexMap::new()))
                    }
                }
            }
            Reconciled::NotPlaced => {
                // Its dial was counted when it was journaled; it is counted again when sent.
                if !step.action.dials.is_empty() {
                    let _ = self
                        .dials
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
                }
                None
            }
            Reconciled::Unknown { why, by_hand } => {
                result.outcome = Outcome::Errored;
                result.message = Some(format!(
                    "{}: the request was sent before the earlier run stopped and may have placed a call, and {why}; not sent again (look it up by hand: {by_hand})",
                    flow::FATE_UNKNOWN
                ));
                Some((Outcome::Errored, IndexMap::new()))
            }
        }
    }

    /// Journals a finished item (the fsync off the runtime's thread).
    async fn record(
        &self,
        key: &journal::Key,
        result: &StepResult,
        saved: &IndexMap<String, serde_json::Value>,
    ) {
        let Some(journal) = &self.run.journal else {
            return;
        };
        // The message goes along: a resume that finds this item done shows why it did not pass,
        // even if this run was killed before it printed it.
        let finished = journal::Finished {
            outcome: result.outcome,
            saved: saved.clone(),
            message: result.message.clone(),
        };
        let Err(problem) = journal.done(&key.0, key.1, &finished).await else {
            return;
        };
        self.run
            .sink
            .event(&Event::Note(format!("warning: {problem}")));
    }

    /// Why the guard refuses this dial, if it does: a number outside the allowed patterns, or
    /// a moment outside the calling hours (in the destination's zone when the plan gives it).
    fn guard_refusal(
        &self,
        step: &Step,
        with: &IndexMap<String, serde_json::Value>,
        context: &Value,
    ) -> Option<String> {
        let guard = &self.run.plan.guard;
        for param in step.action.dials {
            for number in with.get(*param).map(numbers).unwrap_or_default() {
                if let Some(why) = guard.refusal(&number) {
                    return Some(why);
                }
            }
        }
        let hours = guard.hours.as_ref()?;
        match dial_zone(hours, &self.renderer, context) {
            Ok(Some(zone)) => hours.refusal(
                chrono::DateTime::<chrono::Utc>::from(SystemTime::now()),
                zone,
            ),
            // Only a dry run renders a placeholder.
            Ok(None) => None,
            Err(why) => Some(why),
        }
    }

    /// Renders, checks the guard, sends with retries, checks expectations, saves.
    #[allow(clippy::too_many_arguments)]
    async fn attempts(
        &self,
        place: &Place<'_>,
        step: &Step,
        prepared: &Prepared,
        key: &journal::Key,
        queue: &Queue,
        scope: &Scope,
        result: &mut StepResult,
    ) -> IndexMap<String, serde_json::Value> {
        let context = &scope.value();
        let fail = |result: &mut StepResult, outcome: Outcome, message: String| {
            result.outcome = outcome;
            result.message = Some(message);
            IndexMap::new()
        };
        let with = match render_with(&self.renderer, step, context) {
            Ok(with) => with,
            Err(e) => {
                return match self.unsaved(place, step) {
                    Some(why) => fail(result, Outcome::Skipped, why),
                    None => fail(result, Outcome::Errored, e),
                };
            }
        };
        let Some(connection) = self.run.connections.get(&step.provider) else {
            return fail(
                result,
                Outcome::Errored,
                format!("no provider `{}`", step.provider),
            );
        };
        let request = match request::build(connection.settings.kind, step.action, &with) {
            Ok(r) => r,
            Err(bad) => {
                return fail(
                    result,
                    Outcome::Errored,
                    format!("with.{}: {}", bad.param, bad.message),
                );
            }
        };
        // The guard, before anything leaves.
        if !step.action.dials.is_empty() {
            if let Some(why) = self.guard_refusal(step, &with, context) {
                if self.dials.load(Ordering::Relaxed) == 0 {
                    self.refused_first.store(true, Ordering::Relaxed);
                }
                return fail(
                    result,
                    Outcome::Skipped,
                    format!("the guard refused: {why}"),
                );
            }
            let n = self.dials.fetch_add(1, Ordering::Relaxed);
            if let Some(max) = self.run.plan.guard.max_calls
                && n >= max
            {
                return fail(
                    result,
                    Outcome::Skipped,
                    format!("the guard refused: max_calls ({max}) reached"),
                );
            }
        }
        let creates = request.creates(step.action);
        let method = request.method.as_str();
        let mut line = String::with_capacity(method.len() + 1 + request.path.len());
        line.push_str(method);
        line.push(' ');
        line.push_str(&request.path);
        result.request = Some(line);
        let request_timeout = connection.settings.timeout;
        // Written ahead, once the provider's turn has come and right before the request is
        // written: after a crash, the journal knows this create may have left (and a request
        // still waiting for its turn is never recorded as leaving).
        let journaled = AtomicBool::new(false);
        let ahead = || async {
            let Some(journal) = self.run.journal.as_ref().filter(|_| creates) else {
                return Ok(());
            };
            if journaled.swap(true, Ordering::Relaxed) {
                return Ok(());
            }
            let dials = !step.action.dials.is_empty();
            // The journal's writer thread syncs it; other items' requests go out meanwhile.
            let lookup = State::lookup_of(step, &with);
            journal
                .sending(&key.0, key.1, dials, &lookup, SystemTime::now())
                .await
        };
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let sent = Instant::now();
            let queued_before = queue.waited();
            let tried = self
                .try_once(
                    step,
                    prepared,
                    connection,
                    &request,
                    &with,
                    scope,
                    request_timeout,
                    queue,
                    &ahead,
                )
                .await;
            // The provider's time only: what the attempt spent in callplan's queue is apart.
            let queued = queue.waited().saturating_sub(queued_before);
            let elapsed = sent.elapsed().saturating_sub(queued);
            let (failure, outcome, message, response, call, retriable) = match tried {
                Tried::Passed(response, call) => {
                    result.attempts.push(Attempt {
                        status: Some(response.status),
                        error: None,
                        elapsed,
                        queued,
                        retry_after: None,
                    });
                    result.status = Some(response.status);
                    result.correlation_id =
                        response.correlation_id().map(std::borrow::Cow::into_owned);
                    result.response = Some(events::Body(response.body.clone()));
                    result.call = call.clone();
                    // A hint read from an earlier, retried attempt does not apply to a pass.
                    result.hint = None;
                    // Only a step that saves something reads the answer again.
                    let saved = if step.save.is_empty() {
                        Ok(IndexMap::new())
                    } else {
                        self.save(step, &State::with_response(scope, &response, &call))
                    };
                    return match saved {
                        Ok(saved) => {
                            result.outcome = Outcome::Passed;
                            saved
                        }
                        Err(e) => fail(result, Outcome::Errored, e),
                    };
                }
                Tried::Failed {
                    failure,
                    outcome,
                    message,
                    response,
                    call,
                    retriable,
                } => (failure, outcome, message, response, call, retriable),
            };
            if let Some(response) = &response {
                result.status = Some(response.status);
                result.response = Some(events::Body(response.body.clone()));
                result.correlation_id = response.correlation_id().map(std::borrow::Cow::into_owned);
                if let Some(vendor) = hints::read(
                    connection.settings.kind,
                    response.status,
                    &response.header_pairs(),
                    &response.body,
                ) {
                    let provider = &self.run.plan.providers[&step.provider];
                    let cx = hints::Context {
                        provider: &step.provider,
                        action: step.action.name,
                        rate_limit: provider.rate_limit.map(|l| (l.requests, l.per)),
                        retried: step.retry.attempts > 1
                            && step
                                .retry
                                .when
                                .contains(&crate::plan::raw::RetryOn::RateLimited),
                    };
                    result.hint =
                        hints::hint(connection.settings.kind, response.status, &vendor, &cx);
                }
            }
            result.call = call.or(result.call.take());
            let decision = if retriable {
                retry::decide(
                    &step.retry,
                    creates,
                    attempt,
                    &failure,
                    rand::random::<f64>(),
                )
            } else {
                Decision::Stop {
                    reason: String::new(),
                }
            };
            match decision {
                Decision::Retry { after, reason } => {
                    result.attempts.push(Attempt {
                        status: response.as_ref().map(|r| r.status),
                        error: Some(message.clone()),
                        elapsed,
                        queued,
                        retry_after: Some(after),
                    });
                    self.run.sink.event(&Event::AttemptFailed {
                        index: result.index,
                        id: step.id.clone(),
                        item: result.item,
                        name: result.display_name(),
                        attempt,
                        // The reason repeats the status; only a Retry-After adds to the message.
                        error: if reason.contains("Retry-After") {
                            format!("{message} ({reason})")
                        } else {
                            message.clone()
                        },
                        retry_in: after,
                    });
                    tokio::time::sleep(after).await;
                }
                Decision::Stop { reason } => {
                    result.attempts.push(Attempt {
                        status: response.as_ref().map(|r| r.status),
                        error: Some(message.clone()),
                        elapsed,
                        queued,
                        retry_after: None,
                    });
                    // Say why a retry did not happen when the step asked for retries, or when
                    // safety stopped it.
                    let explain = !reason.is_empty()
                        && (step.retry.attempts > 1 || reason.contains("unsafe"));
                    let message = if explain {
                        format!("{message}; {reason}")
                    } else {
                        message
                    };
                    return fail(result, outcome, message);
                }
            }
        }
    }

    /// One attempt: send (or follow a call), then judge the answer.
    #[allow(clippy::too_many_arguments)]
    async fn try_once<F, Fut>(
        &self,
        step: &Step,
        prepared: &Prepared,
        connection: &Connection,
        request: &Request,
        with: &IndexMap<String, serde_json::Value>,
        context: &Scope,
        timeout: Option<Duration>,
        queue: &Queue,
        ahead: &F,
    ) -> Tried
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<(), String>>,
    {
        let sent = match step.action.kind {
            ActionKind::Wait => {
                provider::wait::follow(connection, request, with, timeout, queue).await
            }
            ActionKind::HangUp => {
                provider::wait::hang_up(connection, request, with, timeout, queue).await
            }
            ActionKind::Request => connection
                .send_queued(request, timeout, queue, ahead)
                .await
                .map(|r| (r, None)),
        };
        let (response, call) = match sent {
            Ok(answer) => answer,
            Err(SendError::NotSent(why)) => {
                return Tried::Failed {
                    failure: Failure::Connect,
                    outcome: Outcome::Errored,
                    message: format!("{why}; not sent"),
                    response: None,
                    call: None,
                    retriable: false,
                };
            }
            Err(SendError::Auth(e)) => {
                return Tried::Failed {
                    failure: Failure::Connect,
                    outcome: Outcome::Errored,
                    message: format!("provider `{}`: {}", step.provider, e.message),
                    response: None,
                    call: None,
                    retriable: false,
                };
            }
            Err(SendError::Transport { failure, message }) => {
                return Tried::Failed {
                    failure,
                    outcome: Outcome::Errored,
                    message,
                    response: None,
                    call: None,
                    retriable: true,
                };
            }
        };
        let status = response.status;
        if step.expect.is_empty() {
            if !(200..300).contains(&status) {
                return Tried::Failed {
                    failure: Failure::Status {
                        status,
                        retry_after: response.retry_after(),
                    },
                    outcome: Outcome::Errored,
                    message: status_message(connection, &response),
                    response: Some(response),
                    call,
                    retriable: true,
                };
            }
            if let Some(problem) = call
                .as_ref()
                .and_then(|c| c.get("problem"))
                .and_then(|p| p.as_str())
            {
                return Tried::Failed {
                    failure: Failure::Expectation,
                    outcome: Outcome::Failed,
                    message: problem.to_owned(),
                    response: Some(response),
                    call,
                    retriable: false,
                };
            }
            return Tried::Passed(response, call);
        }
        // The engine's context is built only for an expectation no shortcut decides.
        let mut judged = None;
        for (expectation, shortcut) in step.expect.iter().zip(&prepared.shortcuts) {
            if shortcut
                .as_ref()
                .is_some_and(|s| s.met(status, &response.body))
            {
                continue;
            }
            let judged =
                judged.get_or_insert_with(|| State::with_response(context, &response, &call));
            let met = self.renderer.eval(expectation, judged);
            let problem = match met {
                Ok(v) if v.is_true() => continue,
                Ok(_) => format!(
                    "expected `{expectation}`{}",
                    self.actual(expectation, judged)
                ),
                Err(e) => format!("expectation could not be evaluated: {e}"),
            };
            let detail = if (200..300).contains(&status) {
                String::new()
            } else {
                format!("; {}", status_message(connection, &response))
            };
            // A 429 or 5xx is retried as what it is, whatever expectation caught it:
            // `expect: [response.status == 200]` must not turn a 503 into an unmet expectation
            // that `retry.when` does not list. Other statuses stay unmet expectations, so that a
            // step may retry on `expectation` until, say, a 404 turns into a 200.
            let as_status = Failure::Status {
                status,
                retry_after: response.retry_after(),
            };
            let failure = if retry::category(&as_status).is_some() {
                as_status
            } else {
                Failure::Expectation
            };
            return Tried::Failed {
                failure,
                outcome: Outcome::Failed,
                message: format!("{problem}{detail}"),
                response: Some(response),
                call,
                retriable: true,
            };
        }
        // An answer of 400 or above is a failure, whatever else the expectations check, unless
        // one of them says which status the step expects: a green run that dialed nobody
        // (every answer a 429) is worse than a red one.
        if status >= 400 && !step.expect.iter().any(|e| mentions_status(e)) {
            return Tried::Failed {
                failure: Failure::Status {
                    status,
                    retry_after: response.retry_after(),
                },
                outcome: Outcome::Errored,
                message: format!(
                    "{}; the expectations passed, but none of them mentions `response.status`",
                    status_message(connection, &response)
                ),
                response: Some(response),
                call,
                retriable: true,
            };
        }
        Tried::Passed(response, call)
    }

    /// ", but `left` was X" for a comparison whose left side evaluates.
    fn actual(&self, expectation: &str, context: &Value) -> String {
        for op in [
            " == ", " != ", " >= ", " <= ", " > ", " < ", " in ", " not in ",
        ] {
            if let Some((left, _)) = expectation.split_once(op)
                && let Ok(value) = self.renderer.eval(left.trim(), context)
            {
                let shown = render::to_json(&value)
                    .map(|v| v.to_string())
                    .unwrap_or_else(|_| value.to_string());
                let shown: String = shown.chars().take(200).collect();
                return format!(", but `{}` was {shown}", left.trim());
            }
        }
        String::new()
    }
}

/// Runs `work` for `budget`, not counting the time it spends in the provider's queue (the
/// plan's own pacing is not the provider's slowness); `None` when the budget ran out.
async fn within<F: std::future::Future>(
    budget: Duration,
    queue: &Queue,
    work: F,
) -> Option<F::Output> {
    tokio::pin!(work);
    let start = tokio::time::Instant::now();
    loop {
        let deadline = budget
            .checked_add(queue.waited())
            .and_then(|d| start.checked_add(d));
        let Some(deadline) = deadline else {
            // Past any clock: the budget never runs out.
            return Some(work.await);
        };
        tokio::select! {
            out = &mut work => return Some(out),
            _ = tokio::time::sleep_until(deadline) => {
                // The queue may have grown meanwhile: the deadline moves with it.
                let moved = budget
                    .checked_add(queue.waited())
                    .and_then(|d| start.checked_add(d))
                    .is_some_and(|d| d > tokio::time::Instant::now());
                if !moved {
                    return None;
                }
            }
        }
    }
}

/// Whether an expectation reads the answer's status (then a 4xx or 5xx may be what it expects).
fn mentions_status(expectation: &str) -> bool {
    let squeezed: String = expectation.split_whitespace().collect();
    squeezed.contains("response.status")
        || squeezed.contains("response[\"status\"]")
        || squeezed.contains("response['status']")
}

/// "HTTP 400 not.a.user: This request requires a user context…"
fn status_message(connection: &Connection, response: &Response) -> String {
    let vendor = hints::read(
        connection.settings.kind,
        response.status,
        &response.header_pairs(),
        &response.body,
    );
    let mut text = format!("HTTP {}", response.status);
    if let Some(v) = vendor {
        if let Some(code) = v.code {
            text.push(' ');
            text.push_str(&code);
        }
        if let Some(message) = v.message {
            text.push_str(": ");
            text.push_str(&message);
        }
    }
    text
}

fn worse(a: Outcome, b: Outcome) -> Outcome {
    let rank = |o: Outcome| match o {
        Outcome::Passed => 0,
        Outcome::Skipped => 1,
        Outcome::Failed => 2,
        Outcome::Errored => 3,
    };
    if rank(b) > rank(a) { b } else { a }
}
