//! Placeholders: the values a dry run cannot know, carried through a planned request.
//!
//! What earlier steps save, their outcomes, secrets, the run's id, `uuid()` and `now()` are known
//! only when the plan runs. A dry run renders each template that reads one of them as a
//! placeholder: a label between two private-use characters (U+E000 and U+E001). No real value
//! holds them, and every encoding a request applies keeps them recognizable: raw in JSON bodies
//! and headers, `%EE%80%80`…`%EE%80%81` in a path, a query string or a form. So the same code
//! that builds a real request builds the planned one; typed parameters and the guard recognize a
//! placeholder and leave its value to the run ("decided at run time"); and what a dry run prints
//! shows it as `<label>`: `<steps.dial.conversation_id>`, `<secret gc_client_id>`.
//!
//! [`Planner`] decides which parts of a template are placeholders, from the names it reads (a
//! static analysis, the one `check` runs), never by evaluating them: a comparison with an
//! outcome, `steps.answered.outcome == 'passed'`, is not rendered as if every step passed.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Opens a placeholder.
const OPEN: char = '\u{E000}';
/// Closes a placeholder.
const CLOSE: char = '\u{E001}';

/// The forms the two characters take once encoded, with what a dry run shows for them:
/// percent-encoding (upper and lower case) and JSON's `\u` escapes.
const ENCODED: [(&str, &str); 8] = [
    ("%EE%80%80", "<"),
    ("%EE%80%81", ">"),
    ("%ee%80%80", "<"),
    ("%ee%80%81", ">"),
    ("\\ue000", "<"),
    ("\\ue001", ">"),
    ("\\uE000", "<"),
    ("\\uE001", ">"),
];

/// A placeholder for `label`, to be shown as `<label>`.
pub fn marker(label: &str) -> String {
    format!("{OPEN}{label}{CLOSE}")
}

/// The placeholder a secret renders to in a dry run.
pub fn secret(name: &str) -> String {
    marker(&format!("secret {name}"))
}

/// Whether `text` holds a placeholder (raw or percent-encoded): a value only the run will know.
pub fn is_in(text: &str) -> bool {
    text.contains(OPEN)
        || text.contains(CLOSE)
        || ENCODED[..4]
            .iter()
            .any(|(encoded, _)| text.contains(encoded))
}

/// Whether a JSON value holds a placeholder in any of its strings.
pub fn is_in_value(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => is_in(s),
        serde_json::Value::Array(items) => items.iter().any(is_in_value),
        serde_json::Value::Object(map) => map.values().any(is_in_value),
        _ => false,
    }
}

/// `text` as a dry run prints it: every placeholder, encoded or not, as `<label>`.
pub fn shown(text: &str) -> String {
    if !text.contains(['%', '\\', OPEN, CLOSE]) {
        return text.to_owned();
    }
    let mut out = text.replace(OPEN, "<").replace(CLOSE, ">");
    for (encoded, plain) in ENCODED {
        if out.contains(encoded) {
            out = out.replace(encoded, plain);
        }
    }
    out
}

/// What a template renders to in a dry run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Planned {
    /// It reads nothing only a run knows: rendered as usual.
    Known,
    /// A template that is one `{{ expression }}` of a run-time value, or one whose statements
    /// (`{% … %}`) read one: the whole value is this placeholder.
    Whole(String),
    /// Its `{{ … }}` parts that read run-time values replaced by placeholders; the rest is
    /// rendered as usual.
    Rewritten(String),
}

/// Decides, once per distinct template, which of its parts only a run knows.
#[derive(Debug)]
pub struct Planner {
    env: minijinja::Environment<'static>,
    /// Names unknown to a dry run besides the built-in ones (`steps`, `secrets`, `response`,
    /// `run.id`, `run.started_at`): the item and `loop` of a `for_each` over a saved list.
    extra: Vec<String>,
    plans: Mutex<HashMap<String, Planned>>,
    expressions: Mutex<HashMap<String, bool>>,
}

impl Planner {
    /// A planner for which `extra` names (besides the built-in ones) are known only at run time.
    pub fn new(extra: Vec<String>) -> Planner {
        Planner {
            env: crate::template::environment(),
            extra,
            plans: Mutex::default(),
            expressions: Mutex::default(),
        }
    }

    /// How `source` (a template) renders in a dry run.
    pub fn plan(&self, source: &str) -> Planned {
        let mut plans = self.plans.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(known) = plans.get(source) {
            return known.clone();
        }
        let planned = self.plan_uncached(source);
        plans.insert(source.to_owned(), planned.clone());
        planned
    }

    /// Whether an expression (an `if`) reads a value only a run knows: it is then undecided.
    pub fn undecided(&self, expression: &str) -> bool {
        let mut seen = self
            .expressions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(&undecided) = seen.get(expression) {
            return undecided;
        }
        let undecided = self.reads_run_time(expression);
        seen.insert(expression.to_owned(), undecided);
        undecided
    }

    fn plan_uncached(&self, source: &str) -> Planned {
        if source.contains("{%") || source.contains("{#") {
            // Statements decide what the text is: the whole value waits for the run.
            let names = crate::template::check_template(&self.env, source);
            return match names {
                Ok(names) if !self.any_run_time(&names) && !calls_unknowable(source) => {
                    Planned::Known
                }
                _ => Planned::Whole(marker(source.trim())),
            };
        }
        let mut out = String::with_capacity(source.len());
        let mut rest = source;
        let mut changed = false;
        let mut blocks = 0;
        while let Some(start) = rest.find("{{") {
            let Some(len) = rest[start..].find("}}") else {
                break;
            };
            let block = &rest[start..start + len + 2];
            let expression = block[2..block.len() - 2]
                .trim_start_matches('-')
                .trim_end_matches('-')
                .trim();
            out.push_str(&rest[..start]);
            if self.reads_run_time(expression) {
                out.push_str(&marker(&label(expression)));
                changed = true;
            } else {
                out.push_str(block);
            }
            blocks += 1;
            rest = &rest[start + len + 2..];
        }
        out.push_str(rest);
        if !changed {
            return Planned::Known;
        }
        // A template that is nothing but one run-time expression is that value, whatever its
        // type will be (a list, a number).
        if blocks == 1 && source.trim().starts_with("{{") && source.trim().ends_with("}}") {
            return Planned::Whole(out.trim().to_owned());
        }
        Planned::Rewritten(out)
    }

    fn reads_run_time(&self, expression: &str) -> bool {
        match crate::template::check_expression(&self.env, expression) {
            Ok(names) => self.any_run_time(&names) || calls_unknowable(expression),
            // What `check` could not read is left to the run to fail on.
            Err(_) => true,
        }
    }

    fn any_run_time(&self, names: &crate::template::Names) -> bool {
        names.iter().any(|name| {
            let root = name.split(['.', '[']).next().unwrap_or(name);
            matches!(root, "steps" | "secrets" | "response")
                || matches!(name.as_str(), "run" | "run.id" | "run.started_at")
                || name.starts_with("run.id.")
                || name.starts_with("run.started_at.")
                || self.extra.iter().any(|e| e == root)
        })
    }
}

/// Whether an expression calls `uuid()` or `now()`, whose values change with every run.
fn calls_unknowable(text: &str) -> bool {
    ["uuid", "now"].iter().any(|name| {
        text.match_indices(name).any(|(at, _)| {
            let before = text[..at].chars().next_back();
            let after = text[at + name.len()..].trim_start();
            !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.')
                && after.starts_with('(')
        })
    })
}

/// The label of a run-time expression: `secret NAME` for a secret read alone, else the
/// expression as written.
fn label(expression: &str) -> String {
    match expression.strip_prefix("secrets.") {
        Some(name) if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
            format!("secret {name}")
        }
        _ => expression.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown_plan(planner: &Planner, source: &str) -> String {
        match planner.plan(source) {
            Planned::Known => "known".into(),
            Planned::Whole(m) => format!("whole {}", shown(&m)),
            Planned::Rewritten(t) => format!("rewritten {}", shown(&t)),
        }
    }

    #[test]
    fn run_time_values_become_placeholders_and_the_rest_renders() {
        let p = Planner::new(Vec::new());
        assert_eq!(shown_plan(&p, "{{ vars.user }}"), "known");
        assert_eq!(shown_plan(&p, "{{ row.phone | e164 }}"), "known");
        assert_eq!(shown_plan(&p, "{{ run.plan }}"), "known");
        assert_eq!(
            shown_plan(&p, "{{ steps.dial.conversation_id }}"),
            "whole <steps.dial.conversation_id>"
        );
        assert_eq!(
            shown_plan(&p, "{{ secrets.gc_client_id }}"),
            "whole <secret gc_client_id>"
        );
        assert_eq!(
            shown_plan(&p, "{{ steps.answered.outcome == 'passed' }}"),
            "whole <steps.answered.outcome == 'passed'>"
        );
        assert_eq!(
            shown_plan(&p, "Bearer {{ secrets.token }} for {{ vars.user }}"),
            "rewritten Bearer <secret token> for {{ vars.user }}"
        );
        assert_eq!(shown_plan(&p, "{{ run.id }}"), "whole <run.id>");
        assert_eq!(shown_plan(&p, "{{ uuid() }}"), "whole <uuid()>");
        assert_eq!(shown_plan(&p, "at {{ now() }}"), "rewritten at <now()>");
        assert_eq!(shown_plan(&p, "{{ vars.snow(1) }}"), "known");
        assert_eq!(
            shown_plan(&p, "{% if steps.a.outcome == 'passed' %}y{% endif %}"),
            "whole <{% if steps.a.outcome == 'passed' %}y{% endif %}>"
        );
        assert_eq!(shown_plan(&p, "{% if vars.x %}y{% endif %}"), "known");
        assert!(p.undecided("steps.dial.outcome == \"passed\""));
        assert!(!p.undecided("vars.dial_enabled and row.phone"));
        let saved = Planner::new(vec!["row".into(), "loop".into()]);
        assert_eq!(shown_plan(&saved, "{{ row.phone }}"), "whole <row.phone>");
    }

    #[test]
    fn placeholders_survive_every_encoding_of_a_request() {
        let m = marker("steps.dial.id");
        assert!(is_in(&m));
        let path = crate::provider::request::segment(&m);
        assert!(is_in(&path));
        assert_eq!(shown(&path), "<steps.dial.id>");
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("id", &m)
            .finish();
        assert_eq!(shown(&form), "id=<steps.dial.id>");
        let json = serde_json::to_string(&serde_json::json!({ "id": m })).unwrap_or_default();
        assert_eq!(shown(&json), r#"{"id":"<steps.dial.id>"}"#);
        assert!(!is_in("+13175550100"));
        assert_eq!(shown("100%"), "100%");
    }
}
