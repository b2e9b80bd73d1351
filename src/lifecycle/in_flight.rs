//! What is under way when a second signal ends a run at once.
//!
//! The runner reports each step, item and flow row when it ends. A second signal drops the runner
//! where it stands, so whatever was under way would end without a word: a flow row cut in the
//! middle of its hang-up would vanish from every output, and its flow would pass. This sink
//! remembers what has started and not yet ended, so that the run reports each of them as
//! errored, cut short.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::plan::model::Plan;
use crate::runner::events::{Clock, Event, Outcome, Sink, StepResult};

/// What a step, item or row cut short by a second signal says.
pub(crate) const CUT_SHORT: &str =
    "cut short by a second signal: the run stopped at once, without waiting for it to end";

/// The steps, items and flow rows that have started and not ended, with when they started.
pub(crate) struct InFlight {
    clock: Clock,
    started: Mutex<BTreeMap<(usize, Option<usize>), Duration>>,
}

impl InFlight {
    pub(crate) fn new(clock: Clock) -> InFlight {
        InFlight {
            clock,
            started: Mutex::new(BTreeMap::new()),
        }
    }

    /// Each step, item or row still under way, as an errored result, in plan order.
    pub(crate) fn cut_short(&self, plan: &Plan) -> Vec<StepResult> {
        let now = self.clock.elapsed();
        let started = self.started.lock().unwrap_or_else(PoisonError::into_inner);
        started
            .iter()
            .filter_map(|(&(index, item), &at)| {
                let mut result = StepResult::of(index, plan.steps.get(index)?, item, at);
                result.outcome = Outcome::Errored;
                result.message = Some(CUT_SHORT.to_owned());
                result.duration = now.saturating_sub(at);
                Some(result)
            })
            .collect()
    }
}

impl Sink for InFlight {
    fn event(&self, event: &Event) {
        let started = || self.started.lock().unwrap_or_else(PoisonError::into_inner);
        match event {
            Event::StepStarted { index, item, .. } => {
                started().insert((*index, *item), self.clock.elapsed());
            }
            // A step of a flow's row ends within its row: the row is what is under way.
            Event::StepFinished(result) if result.inner.is_none() => {
                started().remove(&(result.index, result.item));
            }
            _ => {}
        }
    }
}
