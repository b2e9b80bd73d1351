//! `calls.wait`: following a call until it reaches a state.
//!
//! Genesys: poll `GET /api/v2/conversations/calls/{id}` with backoff and read the state of the
//! participant with the wanted purpose (the customer by default). CXone: long-poll the agent
//! session's `get-next-event` for the contact's `CallContactEvent`. Either way the result is the
//! last answer plus `response.call`: the state reached, the disconnect type, and `problem` when
//! the call ended without reaching the wanted state.

use std::time::{Duration, Instant};

use indexmap::IndexMap;
use serde_json::{Value, json};

use crate::provider::connection::{Connection, Response, SendError};
use crate::provider::failure::Failure;
use crate::provider::request::Request;
use crate::provider::{Method, ProviderKind, WAIT_TIMEOUT};

const MAX_INTERVAL: Duration = Duration::from_secs(5);
/// How long one CXone long poll may be held.
const LONG_POLL: u64 = 15;

fn duration(with: &IndexMap<String, Value>, name: &str, default: Duration) -> Duration {
    with.get(name)
        .and_then(Value::as_str)
        .and_then(|s| humantime::parse_duration(s).ok())
        .unwrap_or(default)
}

fn text<'a>(with: &'a IndexMap<String, Value>, name: &str, default: &'a str) -> &'a str {
    with.get(name).and_then(Value::as_str).unwrap_or(default)
}

fn timed_out(what: String) -> SendError {
    // A wait that runs out of time is not a transport failure: nothing to retry blindly.
    SendError::Transport {
        failure: Failure::Timeout { sent: false },
        message: what,
    }
}

/// Follows a call; `timeout` bounds each request.
pub(super) async fn follow(
    connection: &Connection,
    request: &Request,
    with: &IndexMap<String, Value>,
    timeout: Option<Duration>,
) -> Result<(Response, Option<Value>), SendError> {
    match connection.settings.kind {
        ProviderKind::NiceCxone => cxone(connection, request, with, timeout).await,
        _ => genesys(connection, request, with, timeout).await,
    }
}

async fn genesys(
    connection: &Connection,
    request: &Request,
    with: &IndexMap<String, Value>,
    timeout: Option<Duration>,
) -> Result<(Response, Option<Value>), SendError> {
    let until = text(with, "until", "connected");
    let purpose = text(with, "participant", "customer");
    let wait = duration(with, "timeout", WAIT_TIMEOUT);
    let mut interval = duration(with, "interval", Duration::from_secs(1));
    let deadline = Instant::now() + wait;
    let mut last_state = String::from("unknown");
    loop {
        let response = connection.send(request, timeout).await?;
        if response.status == 429 {
            let pause = response.retry_after().unwrap_or(interval);
            if Instant::now() + pause >= deadline {
                return Ok((response, None));
            }
            tokio::time::sleep(pause).await;
            continue;
        }
        if response.status != 200 {
            return Ok((response, None));
        }
        let participant = response
            .body
            .get("participants")
            .and_then(Value::as_array)
            .and_then(|all| {
                all.iter()
                    .rev()
                    .find(|p| p.get("purpose").and_then(Value::as_str) == Some(purpose))
            })
            .cloned();
        if let Some(p) = &participant {
            let state = p.get("state").and_then(Value::as_str).unwrap_or("unknown");
            last_state = state.to_owned();
            let ended = matches!(state, "disconnected" | "terminated");
            // A customer who answered and hung up between two polls did connect.
            let reached = state == until
                || (until == "connected" && p.get("connectedTime").is_some_and(|t| !t.is_null()));
            if reached || ended {
                let mut call = json!({
                    "conversation_id": response.body.get("id"),
                    "participant_id": p.get("id"),
                    "purpose": purpose,
                    "state": state,
                    "disconnect_type": p.get("disconnectType"),
                    "connected_time": p.get("connectedTime"),
                    "end_time": p.get("endTime"),
                    "error_code": p.get("errorInfo").and_then(|e| e.get("code")),
                });
                if !reached {
                    let subject = format!("the call ended{}", how(p.get("disconnectType")));
                    add_problem(&mut call, &subject, &format!("the {purpose}"), until);
                }
                return Ok((response, Some(call)));
            }
        }
        if Instant::now() + interval >= deadline {
            return Err(timed_out(format!(
                "gave up waiting for the {purpose} to reach `{until}` after {} (last state: {last_state})",
                humantime::format_duration(wait)
            )));
        }
        tokio::time::sleep(interval).await;
        interval = (interval.mul_f64(1.5)).min(MAX_INTERVAL);
    }
}

/// " (endpoint)": how a call ended, when the vendor says.
fn how(code: Option<&Value>) -> String {
    code.and_then(Value::as_str)
        .map(|d| format!(" ({d})"))
        .unwrap_or_default()
}

/// Marks `response.call` with why the wait did not reach `until`.
fn add_problem(call: &mut Value, subject: &str, who: &str, until: &str) {
    if let Some(map) = call.as_object_mut() {
        map.insert(
            "problem".into(),
            json!(format!("{subject} before {who} reached `{until}`")),
        );
    }
}

/// The `CallContactEvent` as `response.call`.
fn contact_call(event: &Value, until: &str) -> Value {
    let status = event.get("Status").and_then(Value::as_str).unwrap_or("");
    let final_state = event
        .get("FinalState")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut call = json!({
        "contact_id": event.get("ContactID").map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
        "state": status,
        "final_state": final_state,
        "disconnect_code": event.get("DisconnectCode"),
    });
    if status != until && status == "Disconnected" {
        let subject = format!("the contact ended{}", how(event.get("DisconnectCode")));
        add_problem(&mut call, &subject, "it", until);
    }
    call
}

fn is_done(event: &Value, until: &str) -> bool {
    let status = event.get("Status").and_then(Value::as_str).unwrap_or("");
    status == until || status == "Disconnected"
}

async fn cxone(
    connection: &Connection,
    request: &Request,
    with: &IndexMap<String, Value>,
    timeout: Option<Duration>,
) -> Result<(Response, Option<Value>), SendError> {
    let until = text(with, "until", "Active");
    let wait = duration(with, "timeout", WAIT_TIMEOUT);
    let deadline = Instant::now() + wait;
    let session = text(with, "session_id", "").to_owned();
    let session_key = format!("session:{session}");
    let remembered = |contact: &str| {
        connection
            .contact_events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(contact)
            .cloned()
    };
    let mut contact: Option<String> = with
        .get("contact_id")
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| v.to_string())
        })
        .or_else(|| remembered(&session_key).and_then(|v| v.as_str().map(str::to_owned)));
    // An earlier wait may already have seen what this one waits for.
    if let Some(c) = &contact
        && let Some(event) = remembered(c)
        && is_done(&event, until)
    {
        let response = Response {
            status: 200,
            headers: Default::default(),
            body: std::sync::Arc::new(json!({ "sessionId": session, "events": [event] })),
            elapsed: Duration::ZERO,
        };
        return Ok((response, Some(contact_call(&event, until))));
    }
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out(format!(
                "gave up waiting for the contact to reach `{until}` after {}",
                humantime::format_duration(wait)
            )));
        }
        let hold = left.as_secs().clamp(1, LONG_POLL);
        let poll = Request {
            method: Method::Get,
            path: request.path.clone(),
            query: vec![("timeout".into(), hold.to_string())],
            headers: Vec::new(),
            body: None,
        };
        let response = connection
            .send(
                &poll,
                timeout.map(|t| t.max(Duration::from_secs(hold + 10))),
            )
            .await?;
        match response.status {
            304 => continue,
            200 => {}
            _ => return Ok((response, None)),
        }
        let events: Vec<Value> = response
            .body
            .get("events")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut done = None;
        for event in events
            .iter()
            .filter(|e| e.get("Type").and_then(Value::as_str) == Some("CallContactEvent"))
        {
            let Some(id) = event.get("ContactID").map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }) else {
                continue;
            };
            {
                let mut memory = connection
                    .contact_events
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                memory.insert(id.clone(), event.clone());
                memory.insert(session_key.clone(), Value::String(id.clone()));
            }
            if contact.is_none() {
                contact = Some(id.clone());
            }
            if contact.as_deref() == Some(id.as_str()) && done.is_none() && is_done(event, until) {
                done = Some(event.clone());
            }
        }
        if let Some(event) = done {
            let call = contact_call(&event, until);
            return Ok((response, Some(call)));
        }
    }
}
