//! Flows: a step whose `steps` run once per `for_each` row (dial, wait, hang up, post to the CRM).
//!
//! A flow has no provider or action of its own; its steps are checked like any step, reading the
//! row (`row.phone`, or whatever `as` names it) and, as `steps.<id>`, the steps before them in the
//! same row as well as every step before the flow. A flow's steps cannot loop themselves.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use indexmap::IndexMap;

use super::{Checker, Loop, STEP_FIELDS, identifier_for};
use crate::diagnostic::Diagnostic;
use crate::plan::model::{self, RetryPolicy};
use crate::plan::raw;
use crate::plan::source::child;

/// What later steps read of a flow besides `outcome`: how many rows it ran and how they ended.
pub(crate) const FLOW_FIELDS: &[&str] = &["rows", "passed", "failed"];

impl Checker<'_> {
    /// Checks a flow and its steps; the model when they are sound.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn check_flow(
        &mut self,
        step: &raw::Step,
        inner: &[raw::Step],
        base: &str,
        providers: &IndexMap<String, model::Provider>,
        guard: &model::Guard,
        defaults: &(Duration, raw::OnError, RetryPolicy),
        earlier: &IndexMap<String, BTreeSet<String>>,
        step_lines: &HashMap<String, usize>,
    ) -> Option<model::Step> {
        self.flow_keys(step, base);
        let looped: Loop = self.loop_of(step, base, earlier, step_lines);
        if let Some(condition) = &step.if_ {
            let scope = super::Scope {
                response: false,
                steps: Some(earlier),
                step_lines,
                item: None,
                any_name: false,
            };
            self.expression(condition, &child(base, "if"), &scope);
        }
        if inner.is_empty() && !self.touched(&child(base, "steps")) {
            self.push(
                Diagnostic::error(
                    "plan.flow-empty",
                    format!("flow `{}` has no steps", step.id),
                )
                .at(self.value_span(&child(base, "steps")))
                .help("list the steps each row runs, e.g. a dial, a wait and a hang-up"),
            );
        }
        // The row's steps read the steps before the flow and those before them in the row.
        let mut scope_steps = earlier.clone();
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut steps = Vec::new();
        let mut sound = true;
        for (j, s) in inner.iter().enumerate() {
            let at = child(&child(base, "steps"), &j.to_string());
            self.inner_keys(s, &at);
            if earlier.contains_key(&s.id) || s.id == step.id {
                self.push(
                    Diagnostic::error(
                        "plan.duplicate-step",
                        format!("step id `{}` is used before this flow", s.id),
                    )
                    .at(self.value_span(&child(&at, "id")))
                    .help("a row's steps are read as `steps.<id>` like every step: give it an id of its own"),
                );
            }
            if let Some(first) = seen.insert(&s.id, j) {
                self.push(
                    Diagnostic::error(
                        "plan.duplicate-step",
                        format!("duplicate step id `{}` in flow `{}`", s.id, step.id),
                    )
                    .at(self.value_span(&child(&at, "id")))
                    .help(format!(
                        "`{}` is already step {} of this flow; rename one",
                        s.id,
                        first + 1
                    )),
                );
            }
            let checked = self.check_step(
                s,
                &at,
                providers,
                guard,
                defaults,
                &scope_steps,
                step_lines,
                Some(&looped),
            );
            match checked {
                Some(c) => steps.push(c),
                None => sound = false,
            }
            let mut saved: BTreeSet<String> = s.save.keys().map(|k| identifier_for(k)).collect();
            saved.extend(STEP_FIELDS.iter().map(|f| (*f).to_owned()));
            scope_steps.insert(s.id.clone(), saved);
        }
        if !sound {
            return None;
        }
        Some(model::Step {
            id: step.id.clone(),
            name: step.name.clone().unwrap_or_else(|| step.id.clone()),
            provider: String::new(),
            action: &crate::provider::FLOW,
            with: IndexMap::new(),
            condition: step.if_.clone(),
            for_each: looped.source,
            item_name: looped.name,
            concurrency: step.concurrency.unwrap_or(1),
            expect: Vec::new(),
            save: IndexMap::new(),
            on_error: step.on_error.unwrap_or(defaults.1),
            retry: defaults.2.clone(),
            timeout: defaults.0,
            always: false,
            flow: Some(steps),
        })
    }

    /// A flow takes no keys of an action step.
    fn flow_keys(&mut self, step: &raw::Step, base: &str) {
        let misplaced = [
            ("provider", !step.provider.is_empty()),
            ("action", !step.action.is_empty()),
            ("with", !step.with.is_empty()),
            ("expect", !step.expect.is_empty()),
            ("save", !step.save.is_empty()),
            ("retry", step.retry.is_some()),
            ("timeout", step.timeout.is_some()),
            ("always", step.always),
        ];
        for (key, set) in misplaced {
            if set {
                self.push(
                    Diagnostic::error(
                        "plan.flow-key",
                        format!("`{key}` does not apply to flow `{}`", step.id),
                    )
                    .at(self.key_span(&child(base, key)))
                    .help(format!(
                        "a flow runs its `steps` per row; put `{key}` on the step of the flow it is meant for"
                    )),
                );
            }
        }
    }

    /// A row's step cannot loop on its own: the flow's `for_each` is its loop.
    fn inner_keys(&mut self, step: &raw::Step, base: &str) {
        let nested = [
            ("for_each", step.for_each.is_some()),
            ("as", step.as_.is_some()),
            ("concurrency", step.concurrency.is_some()),
            ("steps", step.steps.is_some()),
        ];
        for (key, set) in nested {
            if set {
                self.push(
                    Diagnostic::error(
                        "plan.flow-nesting",
                        format!("step `{}` of a flow cannot have `{key}`", step.id),
                    )
                    .at(self.key_span(&child(base, key)))
                    .help("a flow's steps run once per row of the flow's own `for_each`; set the loop (and its `as`, `concurrency`) on the flow"),
                );
            }
        }
    }
}
