//! From an action and its rendered `with:` values to the real request: the thin mapping every
//! catalogue action is.
//!
//! Path parameters are substituted (percent-encoded), query parameters become the query string
//! (lists repeat the key), body parameters become the fields of a JSON object. `Control`
//! parameters steer callplan (polling, the raw `request` action) and are never sent as such.
//! The raw `request` action's `body` is sent as written: a string byte for byte, anything else
//! as JSON; its `form` is an `application/x-www-form-urlencoded` body. How a [`Request`] goes on
//! the wire (the URL with its query, the headers, the body's bytes) is [`super::wire`]'s.

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
    /// The body.
    pub body: Option<Body>,
}

/// A request's body, as the plan gives it.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// A JSON value: an action's body fields, or a raw request's mapping, list, number or
    /// boolean (`application/json` unless the plan gives another type).
    Json(Value),
    /// A raw request's string, sent byte for byte (`text/plain; charset=utf-8` unless the plan
    /// gives a type: XML, a form written by hand, anything).
    Text(String),
    /// A raw request's `form:` fields, in order (a list repeats its key), sent as
    /// `application/x-www-form-urlencoded`.
    Form(Vec<(String, String)>),
}

impl Body {
    /// The Content-Type this body goes with when the plan gives none.
    pub fn default_type(&self) -> &'static str {
        match self {
            Body::Json(_) => "application/json",
            Body::Text(_) => "text/plain; charset=utf-8",
            Body::Form(_) => "application/x-www-form-urlencoded",
        }
    }

    /// The bytes sent.
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            // Serializing a JSON value cannot fail: its map keys are strings.
            Body::Json(value) => serde_json::to_vec(value).unwrap_or_default(),
            Body::Text(text) => text.clone().into_bytes(),
            Body::Form(fields) => form_urlencoded::Serializer::new(String::new())
                .extend_pairs(fields)
                .finish()
                .into_bytes(),
        }
    }
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
    build_with(kind, action, with, false)
}

/// Builds the request a dry run shows: as [`build`], but a value holding a placeholder (see
/// [`crate::placeholder`]) is left to the run to judge instead of failing its parameter's type.
/// Never used by a run: a real value is always judged.
pub fn build_planned(
    kind: ProviderKind,
    action: &ActionSpec,
    with: &IndexMap<String, Value>,
) -> Result<Request, BadValue> {
    build_with(kind, action, with, true)
}

fn build_with(
    kind: ProviderKind,
    action: &ActionSpec,
    with: &IndexMap<String, Value>,
    planned: bool,
) -> Result<Request, BadValue> {
    if action.name == "request" {
        return build_raw(with);
    }
    let mut typed = IndexMap::new();
    for (name, value) in with {
        let ty = action.param(name).map(|p| p.ty).unwrap_or(ParamType::Any);
        // A string, or a list of numbers, that holds a placeholder.
        let unknown = planned && crate::placeholder::is_in_value(value);
        let value = if unknown {
            value.clone()
        } else {
            coerce(name, ty, value.clone())?
        };
        typed.insert(name.clone(), value);
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
        Some(Body::Json(serde_json::json!({ "state": "disconnected" })))
    } else if action.params.iter().any(|p| p.location == In::Body) && !body.is_empty() {
        Some(Body::Json(Value::Object(body)))
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
    let body = match (with.get("body"), with.get("form")) {
        (Some(body), Some(form)) if !body.is_null() && !form.is_null() => {
            return Err(bad(
                "form",
                "a request has one body: give `body` or `form`, not both",
            ));
        }
        (_, Some(Value::Object(fields))) => {
            let mut pairs = Vec::new();
            for (k, v) in fields {
                query_pairs(k, v, &mut pairs);
            }
            Some(Body::Form(pairs))
        }
        (_, Some(form)) if !form.is_null() => return Err(bad("form", "must be a mapping")),
        (Some(Value::String(text)), _) => Some(Body::Text(text.clone())),
        (Some(body), _) if !body.is_null() => Some(Body::Json(body.clone())),
        _ => None,
    };
    Ok(Request {
        method,
        path: path.to_owned(),
        query,
        headers,
        body,
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
        assert_eq!(
            request.body,
            Some(Body::Json(json!({ "phoneNumber": "+13175550100" })))
        );
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
        let Some(Body::Json(body)) = dial.body else {
            panic!("a JSON body: {:?}", dial.body);
        };
        assert_eq!(body["skillId"], json!(4000123));
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
        assert_eq!(
            request.body,
            Some(Body::Json(json!({ "state": "disconnected" })))
        );
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

    #[test]
    fn a_string_body_is_text_a_mapping_json_and_a_form_its_fields() {
        let spec = action(ProviderKind::Http, "request");
        let body = |pairs: &[(&str, Value)]| {
            let mut all = vec![("method", json!("POST")), ("path", json!("/x"))];
            all.extend_from_slice(pairs);
            build(ProviderKind::Http, spec, &with(&all)).map(|r| r.body)
        };
        let text = body(&[("body", json!("a=1&b=2"))]).unwrap().unwrap();
        assert_eq!(text, Body::Text("a=1&b=2".into()));
        assert_eq!(text.bytes(), b"a=1&b=2");
        assert_eq!(text.default_type(), "text/plain; charset=utf-8");
        let json = body(&[("body", json!({ "a": [1, "x"] }))])
            .unwrap()
            .unwrap();
        assert_eq!(json.bytes(), br#"{"a":[1,"x"]}"#);
        let form = body(&[("form", json!({ "a": "1 2", "b": ["x&y", 3], "c": true }))])
            .unwrap()
            .unwrap();
        assert_eq!(form.bytes(), b"a=1+2&b=x%26y&b=3&c=true");
        assert_eq!(form.default_type(), "application/x-www-form-urlencoded");
        assert!(body(&[("body", json!("x")), ("form", json!({ "a": 1 }))]).is_err());
        assert!(body(&[("form", json!("a=1"))]).is_err());
        assert_eq!(body(&[]).unwrap(), None);
    }
}
