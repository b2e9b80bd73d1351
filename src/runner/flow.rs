//! Flows: a sequence of steps run once per `for_each` row, `concurrency` rows at a time.
//!
//! Each row has its own saved values (`steps.<id>` inside the row reads the row's steps, then
//! the plan's) and its own `always` steps: a row's hang-up runs whatever happened to its dial.
//! Within a row, a step's `on_error` decides whether the row goes on; the flow's own `on_error`
//! decides whether new rows start after a row failed. A row whose fate is unknown (a create sent
//! before an earlier run was killed, never confirmed) never stops the others.
//!
//! The journal records every step of every row (`flow.step`, row) and each finished row (`flow`,
//! row), so a resume skips finished rows and continues a row in the middle.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use futures_util::StreamExt as _;
use indexmap::IndexMap;

use super::events::{Event, Outcome};
use super::render::{Json, Steps};
use super::{INTERRUPTED, Place, Prepared, RowPlace, State, items, worse};
use crate::plan::model::{ForEachSource, Step};
use crate::plan::raw::OnError;

/// The marker a fate-unknown step leaves in its message (a row carrying it never stops others).
pub(super) const FATE_UNKNOWN: &str = "fate unknown";

impl State<'_> {
    /// The rows (or items) of a step's `for_each`; a saved list is rendered first.
    pub(super) fn items_of(
        &self,
        place: &Place<'_>,
        step: &Step,
        source: &ForEachSource,
    ) -> Box<dyn Iterator<Item = items::Located> + Send> {
        let ForEachSource::Saved(template) = source else {
            return items::located(step, source);
        };
        let context = self.context(place, step, None).value();
        let rendered = self
            .renderer
            .render_str(template, &context)
            .and_then(|v| super::render::to_json(&v));
        // A saved list is written nowhere: its items have no line.
        let problem = match rendered {
            Ok(serde_json::Value::Array(rows)) => {
                return Box::new(rows.into_iter().map(|v| items::Located::nowhere(Ok(v))));
            }
            Ok(other) => format!(
                "`for_each: {template}` is not a list: it is {}",
                kind_of(&other)
            ),
            Err(e) => format!("`for_each: {template}`: {e}"),
        };
        Box::new(std::iter::once(items::Located::nowhere(Err(problem))))
    }

    /// Runs every row of a flow; returns the flow's overall outcome.
    pub(super) async fn run_flow(&self, index: usize, flow: &Step, inner: &[Step]) -> Outcome {
        let top = Place {
            index,
            steps: &self.steps,
            row: None,
            records: true,
            source: None,
        };
        let source = flow.for_each.as_ref();
        let rows = match source {
            Some(source) => self.items_of(&top, flow, source),
            None => Box::new(std::iter::empty()),
        };
        // A row's steps, with what each reads once for every row.
        let inner: &[(&Step, Prepared)] = &inner
            .iter()
            .map(|step| (step, Prepared::of(step, self.run.plan)))
            .collect::<Vec<_>>();
        let stop = AtomicBool::new(false);
        let stop_ref = &stop;
        let width = flow.concurrency.max(1) as usize;
        let turned_away = AtomicBool::new(false);
        let turned_away_ref = &turned_away;
        let mut rows = rows.enumerate();
        let mut running = futures_util::stream::iter(rows.by_ref())
            .take_while(|_| {
                let go = !stop_ref.load(Ordering::Relaxed)
                    && !*self.run.interrupted.borrow()
                    && !self.timed_out();
                turned_away_ref.store(!go, Ordering::Relaxed);
                std::future::ready(go)
            })
            .map(|(row, located)| async move {
                let source = located.source.as_ref();
                match located.item {
                    Ok(value) => self.run_row(index, flow, inner, row, &value, source).await,
                    Err(problem) => {
                        let top = Place { source, ..top };
                        let mut result = self.result(&top, flow, Some(row));
                        result.outcome = Outcome::Errored;
                        result.message = Some(problem);
                        result.ignored = flow.on_error == OnError::Ignore;
                        self.run.sink.event(&Event::StepFinished(Box::new(result)));
                        (Outcome::Errored, false)
                    }
                }
            })
            .buffer_unordered(width);
        let (mut overall, mut ran, mut passed, mut failed) = (Outcome::Passed, 0u64, 0u64, 0u64);
        while let Some((outcome, unknown)) = running.next().await {
            ran += 1;
            match outcome {
                Outcome::Passed | Outcome::Skipped => {
                    passed += u64::from(outcome == Outcome::Passed)
                }
                Outcome::Failed | Outcome::Errored => failed += 1,
            }
            overall = worse(overall, outcome);
            // A row of unknown fate is reported, and the campaign goes on.
            if outcome.is_failure() && !unknown && flow.on_error == OnError::Abort {
                stop.store(true, Ordering::Relaxed);
            }
        }
        drop(running);
        if turned_away.load(Ordering::Relaxed) {
            self.not_run(index, flow, &mut rows);
        }
        self.steps.set(
            &flow.id,
            Json::value(serde_json::json!({
                "outcome": overall.name(),
                "rows": ran,
                "passed": passed,
                "failed": failed,
            })),
        );
        overall
    }

    /// Runs one row: its steps in order, its `always` steps whatever happened. Returns the
    /// row's outcome, and whether its failure is only an unknown fate.
    async fn run_row(
        &self,
        index: usize,
        flow: &Step,
        inner: &[(&Step, Prepared)],
        row: usize,
        item: &serde_json::Value,
        source: Option<&items::Source>,
    ) -> (Outcome, bool) {
        let started = Instant::now();
        let top = Place {
            index,
            steps: &self.steps,
            row: None,
            records: true,
            source,
        };
        let mut summary = self.result(&top, flow, Some(row));
        summary.ignored = flow.on_error == OnError::Ignore;
        let key = top.key(flow, Some(row));
        if let Some(done) = self.run.resume.as_ref().and_then(|r| r.done.get(&key)) {
            summary.outcome = done.outcome;
            summary.message = Some(match &done.message {
                Some(why) => format!("finished before the resume (from the journal): {why}"),
                None => "finished before the resume (from the journal)".into(),
            });
            self.run.sink.event(&Event::StepFinished(Box::new(summary)));
            return (done.outcome, false);
        }
        self.run.sink.event(&Event::StepStarted {
            index,
            id: flow.id.clone(),
            item: Some(row),
        });
        let steps = Arc::new(Steps::within(self.steps.clone()));
        let mut outcome = Outcome::Passed;
        let mut first_failure: Option<String> = None;
        let mut halted: Option<String> = None;
        let mut only_unknown = true;
        // A step of the row was cut short by a signal, or not run because of one.
        let mut cut_short = false;
        // A step of unknown fate (a create that may have placed a call): the row is left
        // unfinished in the journal, for a resume to reconcile and go on from there.
        let mut unknown = false;
        for (position, (step, prepared)) in inner.iter().enumerate() {
            let place = Place {
                index,
                steps: &steps,
                row: Some(RowPlace {
                    flow,
                    row,
                    item,
                    position,
                }),
                records: !unknown,
                source,
            };
            if halted.is_none() && *self.run.interrupted.borrow() {
                halted = Some("not run: interrupted".into());
            } else if halted.is_none() && self.timed_out() {
                halted = Some("not run: the run's --timeout ran out".into());
            }
            if let Some(why) = &halted
                && !step.always
            {
                cut_short |= *self.run.interrupted.borrow();
                self.skip(&place, step, None, why.clone());
                continue;
            }
            let (result, message) = match self.unless(&place, step) {
                Some(o) => (o, None),
                None => {
                    let end = self.run_item_full(&place, step, prepared, None).await;
                    unknown |= end.unknown;
                    cut_short |= end.message.as_deref() == Some(INTERRUPTED);
                    (end.outcome, end.message)
                }
            };
            if !result.is_failure() || step.on_error == OnError::Ignore {
                continue;
            }
            let message = message.unwrap_or_else(|| "failed".into());
            only_unknown &= message.contains(FATE_UNKNOWN);
            first_failure.get_or_insert_with(|| format!("step `{}`: {message}", step.id));
            outcome = worse(outcome, result);
            if step.on_error == OnError::Abort && halted.is_none() {
                halted = Some(format!(
                    "not run: step `{}` of this row failed and its on_error is abort",
                    step.id
                ));
            }
        }
        let interrupted = *self.run.interrupted.borrow();
        // A row a signal cut short did not pass, whatever its steps' `on_error` says: its
        // `always` steps ran, and a resume continues it.
        if cut_short && !outcome.is_failure() {
            outcome = Outcome::Errored;
            first_failure = Some(INTERRUPTED.into());
            summary.ignored = false;
        }
        summary.outcome = outcome;
        summary.message = first_failure;
        summary.duration = started.elapsed();
        // An interrupted row is not finished: a resume continues it where it stopped.
        if !interrupted && !unknown {
            self.record(&key, &summary, &IndexMap::new()).await;
        }
        self.run.sink.event(&Event::StepFinished(Box::new(summary)));
        (outcome, outcome.is_failure() && only_unknown)
    }
}

fn kind_of(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "none",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "a mapping",
    }
}
