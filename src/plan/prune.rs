//! What the semantic checks read of a plan the schema rejected parts of.
//!
//! `check` reports every problem of a plan in one run: the schema's and the semantic checks'.
//! The semantic checks read the raw types, which a plan the schema rejects cannot be read into,
//! so they run on a copy with exactly the rejected nodes taken out: an unknown key's entry, a
//! value of the wrong type or form, a mapping that lacks a required key (a step without `action`
//! goes whole). Taking a node out can leave its parent invalid (a required key gone), so the copy
//! is validated again and what that rejects is taken out too, until the copy is valid; those
//! follow-on rejections are never reported. The plan's own `name` and `steps` cannot go: an
//! invalid one is replaced by a placeholder.
//!
//! What was taken out is remembered, so that the semantic checks say nothing about it: a step
//! that reads a step taken out, a provider taken out, or a saved value whose `save:` was taken
//! out, is not "unknown"; a guard whose allow list lost a pattern judges no dial.

use std::collections::{BTreeSet, HashSet};

use serde_json::{Map, Value};

use super::source::{Renumbering, child, written};

/// Taking out and validating again ends well within this many rounds (each round goes at least
/// one level up the plan, and plans nest a handful of levels); past it, the semantic checks are
/// skipped rather than run on a plan that cannot be made valid.
const MAX_ROUNDS: usize = 16;

/// What was taken out of the plan before the semantic checks.
#[derive(Debug, Default)]
pub(crate) struct Pruned {
    /// The pointers, as written, of the nodes taken out.
    removed: BTreeSet<String>,
    /// The ids of the steps taken out whole (flows' steps included).
    step_ids: HashSet<String>,
    /// The ids of the steps some of whose `save:` was taken out: their saved names are unknown.
    open_steps: HashSet<String>,
}

impl Pruned {
    /// Whether the node at `pointer` (as written) was taken out, itself or with an ancestor.
    pub(crate) fn covers(&self, pointer: &str) -> bool {
        let mut p = pointer;
        loop {
            if self.removed.contains(p) {
                return true;
            }
            match p.rfind('/') {
                Some(cut) => p = &p[..cut],
                None => return false,
            }
        }
    }

    /// Whether anything at or below `pointer` (as written), or an ancestor of it, was taken out.
    pub(crate) fn touches(&self, pointer: &str) -> bool {
        if self.covers(pointer) {
            return true;
        }
        let prefix = format!("{pointer}/");
        self.removed
            .range(prefix.clone()..)
            .next()
            .is_some_and(|p| p.starts_with(&prefix))
    }

    /// Whether step `id` was taken out whole.
    pub(crate) fn step(&self, id: &str) -> bool {
        self.step_ids.contains(id)
    }

    /// Whether the names step `id` saves are unknown (part of its `save:` was taken out).
    pub(crate) fn saves_unknown(&self, id: &str) -> bool {
        self.open_steps.contains(id)
    }
}

/// Takes the rejected nodes out of `plan`, then whatever that leaves invalid, until `rejected`
/// finds nothing more. `first` are the pointers of the nodes the schema rejected; `rejected`
/// validates a copy and returns the pointers of the nodes it rejects, in that copy.
///
/// Returns the copy, what was taken out and how the lists of the copy are numbered; `None` when
/// the copy cannot be made valid.
pub(crate) fn prune(
    plan: &Value,
    first: impl IntoIterator<Item = String>,
    mut rejected: impl FnMut(&Value) -> Vec<String>,
) -> Option<(Value, Pruned, Renumbering)> {
    let mut removed: BTreeSet<String> = first.into_iter().collect();
    for _ in 0..MAX_ROUNDS {
        let mut renumbered = Renumbering::new();
        let mut copy = without(plan, "", &removed, &mut renumbered);
        placeholders(&mut copy);
        let mut progress = false;
        for pointer in rejected(&copy) {
            let pointer = written(&renumbered, &pointer).into_owned();
            // The root cannot go, and a placeholder put back in place of a node taken out may
            // still be invalid (`steps: []`): both stay, and are never reported.
            if !pointer.is_empty() && removed.insert(pointer) {
                progress = true;
            }
        }
        if !progress {
            let pruned = remember(plan, removed);
            return Some((copy, pruned, renumbered));
        }
    }
    None
}

/// A copy of `value` (at `at`) without the nodes at `removed`; lists that lost items are
/// recorded in `renumbered`.
fn without(
    value: &Value,
    at: &str,
    removed: &BTreeSet<String>,
    renumbered: &mut Renumbering,
) -> Value {
    // Nothing below here was taken out: copy it whole.
    let prefix = format!("{at}/");
    if !removed
        .range(prefix.clone()..)
        .next()
        .is_some_and(|p| p.starts_with(&prefix))
    {
        return value.clone();
    }
    match value {
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (key, v) in map {
                let p = child(at, key);
                if !removed.contains(&p) {
                    out.insert(key.clone(), without(v, &p, removed, renumbered));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            let mut left = Vec::with_capacity(items.len());
            for (i, v) in items.iter().enumerate() {
                let p = child(at, &i.to_string());
                if !removed.contains(&p) {
                    out.push(without(v, &p, removed, renumbered));
                    left.push(i);
                }
            }
            if left.len() != items.len() {
                renumbered.insert(at.to_owned(), left);
            }
            Value::Array(out)
        }
        other => other.clone(),
    }
}

/// A plan has a `name` and `steps` whatever was taken out.
fn placeholders(copy: &mut Value) {
    if let Value::Object(root) = copy {
        root.entry("name")
            .or_insert_with(|| Value::String("plan".to_owned()));
        root.entry("steps")
            .or_insert_with(|| Value::Array(Vec::new()));
    }
}

/// What the semantic checks must know of the nodes taken out: the ids of steps taken out whole,
/// and of steps whose `save:` lost something.
fn remember(plan: &Value, removed: BTreeSet<String>) -> Pruned {
    let mut step_ids = HashSet::new();
    let mut open_steps = HashSet::new();
    let id_at = |step: &str| {
        plan.pointer(&child(step, "id"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    for pointer in &removed {
        if let Some(step) = step_of(pointer) {
            if step.len() == pointer.len() {
                step_ids.extend(id_at(step));
            } else if pointer[step.len()..].starts_with("/save") {
                open_steps.extend(id_at(step));
            }
        }
    }
    Pruned {
        removed,
        step_ids,
        open_steps,
    }
}

/// The pointer of the innermost step that holds `pointer` (`/steps/2`, `/steps/2/steps/0`), if
/// any: a prefix of `pointer`.
fn step_of(pointer: &str) -> Option<&str> {
    let mut end = None;
    let mut rest = pointer;
    let mut consumed = 0;
    while let Some(after) = rest.strip_prefix("/steps/") {
        let digits = after.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 || !(after.len() == digits || after[digits..].starts_with('/')) {
            break;
        }
        consumed += "/steps/".len() + digits;
        end = Some(consumed);
        rest = &after[digits..];
    }
    end.map(|e| &pointer[..e])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_the_step_that_holds_a_pointer() {
        assert_eq!(step_of("/steps/2"), Some("/steps/2"));
        assert_eq!(step_of("/steps/2/save/x"), Some("/steps/2"));
        assert_eq!(step_of("/steps/2/steps/10/with"), Some("/steps/2/steps/10"));
        assert_eq!(step_of("/steps"), None);
        assert_eq!(step_of("/vars/steps/0"), None);
        assert_eq!(step_of("/steps/x/0"), None);
    }

    #[test]
    fn takes_out_what_is_rejected_and_what_that_leaves_invalid() {
        let plan = json!({
            "name": "p",
            "steps": [
                {"id": "a", "action": 5},
                {"id": "b", "save": {"x": 1}},
                {"id": "c"}
            ]
        });
        // A step without `action` is rejected whole, as the schema does.
        let rejected = |copy: &Value| -> Vec<String> {
            let steps = copy["steps"].as_array().cloned().unwrap_or_default();
            steps
                .iter()
                .enumerate()
                .filter(|(_, s)| s.get("action").is_none() && s["id"] == "a")
                .map(|(i, _)| format!("/steps/{i}"))
                .collect()
        };
        let (copy, pruned, renumbered) = prune(
            &plan,
            ["/steps/0/action".to_owned(), "/steps/1/save/x".to_owned()],
            rejected,
        )
        .expect("prunable");
        assert_eq!(copy["steps"], json!([{"id": "b", "save": {}}, {"id": "c"}]));
        assert!(pruned.step("a") && !pruned.step("b"));
        assert!(pruned.saves_unknown("b"));
        assert_eq!(written(&renumbered, "/steps/1/id"), "/steps/2/id");
        assert!(pruned.covers("/steps/0/action/x"));
        assert!(pruned.touches("/steps/1"));
        assert!(!pruned.touches("/steps/2"));
    }

    #[test]
    fn the_plan_keeps_a_name_and_steps() {
        let plan = json!({"name": "", "steps": {"not": "a list"}});
        let (copy, _, _) = prune(&plan, ["/name".to_owned(), "/steps".to_owned()], |_| {
            Vec::new()
        })
        .expect("prunable");
        assert_eq!(copy, json!({"name": "plan", "steps": []}));
    }
}
