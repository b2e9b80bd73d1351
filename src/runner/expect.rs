//! The commonest expectations, judged by reading the answer directly.
//!
//! `response.status == 200` and `response.body.id is defined` are most of what plans expect of an
//! answer, and a template engine's evaluation of them costs more than the rest of judging an
//! answer. Each expectation of a step is read once for these shapes; an answer that certainly
//! meets one passes it here. Anything else (another shape, an answer that does not meet it) goes
//! to the template engine, so a result and every message are the engine's own.
//!
//! A shortcut is taken only where the engine's answer is certain: the status, a number, equals
//! the literal (minijinja compares integers by value), and the body's objects hold each key of
//! the path (minijinja's attribute lookup on the body's objects finds a present key, and
//! `is defined` holds of any value found, `null` included).

use serde_json::Value;

/// An expectation of a shape read directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Shortcut {
    /// `response.status == N`.
    Status(u16),
    /// `response.body.a.b is defined`: the keys below the body.
    Defined(Vec<String>),
}

impl Shortcut {
    /// The shortcut for an expectation of one of the shapes, written plainly (single tokens
    /// separated by whitespace, a decimal literal without leading zeros, ASCII names).
    pub(crate) fn of(expectation: &str) -> Option<Shortcut> {
        let text = expectation.trim_matches(is_space);
        if let Some((left, right)) = text.split_once("==") {
            let (left, right) = (left.trim_matches(is_space), right.trim_matches(is_space));
            if left != "response.status" || !is_decimal(right) {
                return None;
            }
            return right.parse().ok().map(Shortcut::Status);
        }
        let mut words = text.split(is_space).filter(|w| !w.is_empty());
        let (path, is, defined) = (words.next()?, words.next()?, words.next()?);
        if is != "is" || defined != "defined" || words.next().is_some() {
            return None;
        }
        let keys = path.strip_prefix("response.body.")?;
        let keys: Vec<String> = keys.split('.').map(str::to_owned).collect();
        keys.iter()
            .all(|k| is_name(k))
            .then_some(Shortcut::Defined(keys))
    }

    /// Whether an answer of `status` and `body` certainly meets the expectation; `false` when
    /// it does not, or when only the template engine can tell.
    pub(crate) fn met(&self, status: u16, body: &Value) -> bool {
        match self {
            Shortcut::Status(expected) => status == *expected,
            Shortcut::Defined(keys) => {
                let mut node = body;
                for key in keys {
                    match node {
                        Value::Object(map) => match map.get(key) {
                            Some(child) => node = child,
                            None => return false,
                        },
                        _ => return false,
                    }
                }
                true
            }
        }
    }
}

/// The whitespace between a template expression's tokens.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// `0`, or digits without a leading zero.
fn is_decimal(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'))
}

/// A plain ASCII name: a letter or `_`, then letters, digits and `_`.
fn is_name(text: &str) -> bool {
    let mut bytes = text.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::runner::render::{Renderer, ResponseView, Scope};

    #[test]
    fn only_the_plain_shapes_are_read() {
        assert_eq!(
            Shortcut::of("response.status == 200"),
            Some(Shortcut::Status(200))
        );
        assert_eq!(
            Shortcut::of(" response.status==204\n"),
            Some(Shortcut::Status(204))
        );
        assert_eq!(
            Shortcut::of("response.body.id is defined"),
            Some(Shortcut::Defined(vec!["id".into()]))
        );
        assert_eq!(
            Shortcut::of("response.body.address.city  is\tdefined"),
            Some(Shortcut::Defined(vec!["address".into(), "city".into()]))
        );
        for other in [
            "response.status != 200",
            "response.status == 0200",
            "response.status == 2_00",
            "response.status == 200 or false",
            "response.status == 99999",
            "response.status == -1",
            "response.status >= 200",
            "response.status === 200",
            "response .status == 200",
            "response.body.id is not defined",
            "response.body.id is defined and false",
            "response.body.0 is defined",
            "response.body.a-b is defined",
            "response.body is defined",
            "response.body.id is undefined",
            "response.headers.x is defined",
            "response.body.é is defined",
        ] {
            assert_eq!(Shortcut::of(other), None, "{other}");
        }
    }

    /// Every shortcut that says an answer meets an expectation agrees with minijinja.
    #[test]
    fn a_shortcut_never_passes_what_the_engine_does_not() {
        let bodies = [
            serde_json::json!({ "id": 4711, "address": { "city": "London" }, "gone": null }),
            serde_json::json!({ "address": "London" }),
            serde_json::json!([{ "id": 1 }]),
            serde_json::json!("id"),
            serde_json::Value::Null,
        ];
        let expectations = [
            "response.status == 200",
            "response.status == 404",
            "response.status == 0",
            "response.body.id is defined",
            "response.body.gone is defined",
            "response.body.address.city is defined",
            "response.body.address.zip is defined",
            "response.body.missing.city is defined",
        ];
        let renderer = Renderer::new();
        let mut passes = 0;
        for status in [200u16, 404, 0] {
            for body in &bodies {
                let scope = Scope::new(Arc::default()).with_response(ResponseView {
                    status,
                    headers: Arc::default(),
                    body: Arc::new(body.clone()),
                    elapsed_ms: 1,
                    call: None,
                });
                for expectation in expectations {
                    let shortcut = Shortcut::of(expectation).expect("a plain shape");
                    let engine = renderer
                        .eval(expectation, &scope)
                        .is_ok_and(|v| v.is_true());
                    if shortcut.met(status, body) {
                        passes += 1;
                        assert!(engine, "{expectation} of {status} {body}");
                    }
                }
            }
        }
        // Not a vacuous agreement: each shape passed some answers here.
        assert_eq!(passes, 5 * 3 + 3 * 3);
    }
}
