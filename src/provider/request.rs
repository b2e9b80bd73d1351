//! From an action and its rendered `with:` values to the real request: the thin mapping every
//! catalogue action is.
//!
//! Path parameters are substituted (percent-encoded), query parameters become the query string
//! (lists repeat the key), body parameters become the fields of a JSON object. `Control`
//! parameters steer callplan (polling, the raw `request` action) and are never sent as such.

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::{ActionSpec, Effect, In, Method, ParamType, ProviderKind};

/// A request ready to send, relative to the provider's API base.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The path below the API base, parameters substituted.
    pub path: String,
    /// Query-string pairs, in order.
    pub query: Vec<(String, String)>,
    /// Extra headers (the raw `request` action's `headers`).
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Option<Value>,
}

impl Request {
    /// Whether sending it twice could create two things (a call, a callback, a contact).
    pub fn creates(&self, action: &ActionSpec) -> bool {
        match action.effect {
            Effect::Creates => true,
            Effect::Idempotent => false,
            Effect::ByMethod => matches!(self.method, Method::Post | Method::Patch),
        }
    }
}

/// A value that does not fit its parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadValue {
    /// The `with:` key.
    pub param: String,
    /// What is wrong.
    pub message: String,
}

fn bad(param: &str, message: impl Into<String>) -> BadValue {
    BadValue {
        param: param.to_owned(),
        message: message.into(),
    }
}

/// An integer parameter's value, refused outside its range.
fn in_range(name: &str, ty: ParamType, n: i64) -> Result<Value, BadValue> {
    if ty.admits(n) {
        Ok(Value::from(n))
    } else {
        Err(bad(
            name,
            format!("{n} is out of range: expected {}", ty.describe()),
        ))
    }
}

/// Text for a path segment or query value: strings as they are, other scalars as JSON.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Coerces a rendered value to its parameter's type (templates render to strings).
pub fn coerce(name: &str, ty: ParamType, value: Value) -> Result<Value, BadValue> {
    match (ty, value) {
        (ParamType::Integer { .. }, Value::String(s)) => {
            let n = s
                .trim()
                .parse::<i64>()
                .map_err(|_| bad(name, format!("`{s}` is not an integer")))?;
            in_range(name, ty, n)
        }
        (ParamType::Integer { .. }, Value::Number(n)) => match n.as_i64() {
            Some(n) => in_range(name, ty, n),
            None if n.is_u64() => Err(bad(
                name,
                format!("{n} is out of range: expected {}", ty.describe()),
            )),
            None => Err(bad(name, format!("{n} is not an integer"))),
        },
        (ParamType::Integer { .. }, other) => Err(bad(name, format!("{other} is not an integer"))),
        // Checked like a written one: a rendered duration past its bound never reaches a wait.
        (ParamType::Duration, Value::String(s)) => {
            crate::duration::parse(&s, crate::plan::limits::WITH)
                .map_err(|e| bad(name, e.to_string()))?;
            Ok(Value::String(s))
        }
        (ParamType::Boolean, Value::String(s)) => match s.trim() {
            "true" | "True" => Ok(Value::Bool(true)),
            "false" | "False" => Ok(Value::Bool(false)),
            _ => Err(bad(name, format!("`{s}` is not true or false"))),
        },
        (ParamType::Phone, Value::String(s)) => {
            if crate::phone::is_e164(&s) {
                Ok(Value::String(s))
            } else {
                Err(bad(
                    name,
                    format!(
                        "`{s}` is not an E.164 phone number (like +13175550100); the `e164` filter normalizes one"
                    ),
                ))
            }
        }
        (ParamType::PhoneList, Value::Array(items)) => items
            .into_iter()
            .map(|v| coerce(name, ParamType::Phone, v))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        (ParamType::StringList, Value::String(s)) => Ok(Value::Array(vec![Value::String(s)])),
        (ParamType::OneOf(values), Value::String(s)) if !values.contains(&s.as_str()) => Err(bad(
            name,
            format!("`{s}` is not one of {}", values.join(", ")),
        )),
        (_, value) => Ok(value),
    }
}

fn substitute(path: &str, with: &IndexMap<String, Value>) -> Result<String, BadValue> {
    let mut out = String::with_capacity(path.len() + 40);
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let name = &rest[start + 1..start + len];
        out.push_str(&rest[..start]);
        let value = with.get(name).ok_or_else(|| bad(name, "is required"))?;
        let text = scalar_text(value).ok_or_else(|| bad(name, "must be a string or a number"))?;
        if text.is_empty() {
            return Err(bad(name, "is empty"));
        }
        out.extend(percent_encode(&text));
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A path segment, percent-encoded.
pub(crate) fn segment(text: &str) -> String {
    percent_encode(text).collect()
}

/// Percent-encodes a path segment (RFC 3986 unreserved characters stay).
fn percent_encode(text: &str) -> impl Iterator<Item = String> + '_ {
    text.bytes().map(|b| {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            (b as char).to_string()
        } else {
            format!("%{b:02X}")
        }
    })
}

fn query_pairs(name: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Array(items) => {
            for item in items {
                if let Some(text) = scalar_text(item) {
                    out.push((name.to_owned(), text));
                }
            }
        }
        Value::Null => {}
        other => {
            if let Some(text) = scalar_text(other) {
                out.push((name.to_owned(), text));
            } else {
                out.push((name.to_owned(), other.to_string()));
            }
        }
    }
}

/// Builds the request of an action from rendered `with:` values.
pub fn build(
    kind: ProviderKind,
    action: &ActionSpec,
    with: &IndexMap<String, Value>,
) -> Result<Request, BadValue> {
    if action.name == "request" {
        return build_raw(with);
    }
    let mut typed = IndexMap::new();
    for (name, value) in with {
        let ty = action.param(name).map(|p| p.ty).unwrap_or(ParamType::Any);
        typed.insert(name.clone(), coerce(name, ty, value.clone())?);
    }
    let path = substitute(action.path, &typed)?;
    let mut query = Vec::new();
    let mut body = Map::new();
    for param in action.params {
        let Some(value) = typed.get(param.name) else {
            continue;
        };
        match param.location {
            In::Query => query_pairs(param.name, value, &mut query),
            In::Body => {
                body.insert(param.name.to_owned(), value.clone());
            }
            In::Path | In::Control => {}
        }
    }
    let body = if kind == ProviderKind::GenesysCloud && action.name == "calls.disconnect" {
        // `Conversation` on update: "'disconnected' will disconnect the conversation".
        Some(serde_json::json!({ "state": "disconnected" }))
    } else if action.params.iter().any(|p| p.location == In::Body) && !body.is_empty() {
        Some(Value::Object(body))
    } else {
        None
    };
    Ok(Request {
        method: action.method,
        path,
        query,
        headers: Vec::new(),
        body,
    })
}

fn build_raw(with: &IndexMap<String, Value>) -> Result<Request, BadValue> {
    let method = match with.get("method").and_then(Value::as_str) {
        Some("GET") | None => Method::Get,
        Some("HEAD") => Method::Head,
        Some("POST") => Method::Post,
        Some("PUT") => Method::Put,
        Some("PATCH") => Method::Patch,
        Some("DELETE") => Method::Delete,
        Some(other) => {
            return Err(bad(
                "method",
                format!("`{other}` is not one of {}", super::METHODS.join(", ")),
            ));
        }
    };
    let path = with
        .get("path")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("path", "is required"))?;
    if !path.starts_with('/') {
        return Err(bad("path", format!("`{path}` must start with `/`")));
    }
    let mut query = Vec::new();
    match with.get("query") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (k, v) in map {
                query_pairs(k, v, &mut query);
            }
        }
        Some(_) => return Err(bad("query", "must be a mapping")),
    }
    let mut headers = Vec::new();
    match with.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (k, v) in map {
                let text = scalar_text(v)
                    .ok_or_else(|| bad("headers", format!("`{k}` must be a string")))?;
                headers.push((k.clone(), text));
            }
        }
        Some(_) => return Err(bad("headers", "must be a mapping")),
    }
    Ok(Request {
        method,
        path: path.to_owned(),
        query,
        headers,
        body: with.get("body").filter(|b| !b.is_null()).cloned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with(pairs: &[(&str, Value)]) -> IndexMap<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    fn action(kind: ProviderKind, name: &str) -> &'static ActionSpec {
        kind.action(name).unwrap()
    }

    #[test]
    fn a_call_on_behalf_of_a_user_maps_to_its_path_and_body() {
        let request = build(
            ProviderKind::GenesysCloud,
            action(ProviderKind::GenesysCloud, "calls.create_for_user"),
            &with(&[
                ("user_id", json!("u 1")),
                ("phoneNumber", json!("+13175550100")),
            ]),
        )
        .unwrap();
        assert_eq!(request.method, Method::Post);
        assert_eq!(request.path, "/api/v2/conversations/calls/user/u%201");
        assert_eq!(request.body, Some(json!({ "phoneNumber": "+13175550100" })));
        assert!(request.creates(action(ProviderKind::GenesysCloud, "calls.create_for_user")));
    }

    #[test]
    fn numbers_outside_e164_are_refused_when_rendered() {
        let err = build(
            ProviderKind::GenesysCloud,
            action(ProviderKind::GenesysCloud, "calls.create_for_user"),
            &with(&[
                ("user_id", json!("u")),
                ("phoneNumber", json!("317-555-0100")),
            ]),
        )
        .unwrap_err();
        assert_eq!(err.param, "phoneNumber");
        assert!(err.message.contains("E.164"), "{}", err.message);
    }

    #[test]
    fn query_lists_repeat_and_integers_are_coerced() {
        let request = build(
            ProviderKind::GenesysCloud,
            action(ProviderKind::GenesysCloud, "users.get"),
            &with(&[
                ("user_id", json!("u")),
                ("expand", json!(["station", "presence"])),
            ]),
        )
        .unwrap();
        assert_eq!(
            request.query,
            vec![
                ("expand".into(), "station".into()),
                ("expand".into(), "presence".into())
            ]
        );
        assert_eq!(request.body, None);
        let dial = build(
            ProviderKind::NiceCxone,
            action(ProviderKind::NiceCxone, "agent_sessions.dial"),
            &with(&[
                ("session_id", json!("s")),
                ("phoneNumber", json!("+13175550100")),
                ("skillId", json!("4000123")),
            ]),
        )
        .unwrap();
        assert_eq!(dial.body.unwrap()["skillId"], json!(4000123));
    }

    #[test]
    fn genesys_disconnect_sends_the_state() {
        let request = build(
            ProviderKind::GenesysCloud,
            action(ProviderKind::GenesysCloud, "calls.disconnect"),
            &with(&[("conversation_id", json!("c"))]),
        )
        .unwrap();
        assert_eq!(request.method, Method::Patch);
        assert_eq!(request.body, Some(json!({ "state": "disconnected" })));
    }

    #[test]
    fn raw_requests_take_method_path_query_headers_and_body() {
        let spec = action(ProviderKind::Http, "request");
        let request = build(
            ProviderKind::Http,
            spec,
            &with(&[
                ("method", json!("POST")),
                ("path", json!("/customers/1/calls")),
                ("query", json!({ "a": 1, "b": ["x", "y"] })),
                ("headers", json!({ "X-Trace": "t" })),
                ("body", json!({ "ok": true })),
            ]),
        )
        .unwrap();
        assert_eq!(request.method, Method::Post);
        assert_eq!(request.query.len(), 3);
        assert_eq!(request.headers, vec![("X-Trace".into(), "t".into())]);
        assert!(request.creates(spec));
        let get = build(
            ProviderKind::Http,
            spec,
            &with(&[("method", json!("GET")), ("path", json!("/x"))]),
        )
        .unwrap();
        assert!(!get.creates(spec));
        assert!(build(ProviderKind::Http, spec, &with(&[("path", json!("x"))])).is_err());
    }
}
