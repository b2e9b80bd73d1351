//! NICE CXone `calls.wait`: long-poll the agent session's `get-next-event` for the contact's
//! `CallContactEvent` until it reaches the wanted status or the contact ends.
//!
//! A long poll takes the session's events off its queue, so every `CallContactEvent` seen is
//! remembered on the connection: a later wait sees what an earlier one took.

use std::time::{Duration, Instant};

use indexmap::IndexMap;
use serde_json::{Value, json};

use crate::duration::human;
use crate::provider::connection::{Connection, Queue, Response, SendError};
use crate::provider::request::Request;
use crate::provider::wait::{
    add_problem, deadline, duration, how, poll as poll_once, text, timed_out,
};
use crate::provider::{Method, WAIT_TIMEOUT};

/// The contact status a wait waits for unless the step sets `until`.
pub(crate) const DEFAULT_UNTIL: &str = "Active";

/// How long one CXone long poll may be held.
const LONG_POLL: u64 = 15;

/// Long-polls the session until the contact reaches `until`, ends, or the wait times out.
pub(crate) async fn follow(
    connection: &Connection,
    request: &Request,
    with: &IndexMap<String, Value>,
    timeout: Option<Duration>,
    queue: &Queue,
) -> Result<(Response, Option<Value>), SendError> {
    let until = text(with, "until", DEFAULT_UNTIL);
    let wait = duration(with, "timeout", WAIT_TIMEOUT);
    let start = Instant::now();
    let session = text(with, "session_id", "").to_owned();
    let session_key = format!("session:{session}");
    let mut contact: Option<String> = with
        .get("contact_id")
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| v.to_string())
        })
        .or_else(|| {
            remembered(connection, &session_key).and_then(|v| v.as_str().map(str::to_owned))
        });
    // An earlier wait may already have seen what this one waits for.
    if let Some(c) = &contact
        && let Some(event) = remembered(connection, c)
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
        let left = deadline(start, wait, queue).saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out(format!(
                "gave up waiting for the contact to reach `{until}` after {}",
                human(wait)
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
        let response = poll_once(
            connection,
            &poll,
            timeout.map(|t| t.max(Duration::from_secs(hold + 10))),
            queue,
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
        let done = take_events(connection, &events, &session_key, &mut contact, until);
        if let Some(event) = done {
            let call = contact_call(&event, until);
            return Ok((response, Some(call)));
        }
    }
}

/// Remembers every `CallContactEvent` of a poll; returns the first that ends the wait for
/// `contact` (when unset, the first contact seen becomes the one followed).
fn take_events(
    connection: &Connection,
    events: &[Value],
    session_key: &str,
    contact: &mut Option<String>,
    until: &str,
) -> Option<Value> {
    let mut done = None;
    for event in events
        .iter()
        .filter(|e| e.get("Type").and_then(Value::as_str) == Some("CallContactEvent"))
    {
        let Some(id) = contact_id(event) else {
            continue;
        };
        {
            let mut memory = connection
                .contact_events
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            memory.insert(id.clone(), event.clone());
            memory.insert(session_key.to_owned(), Value::String(id.clone()));
        }
        if contact.is_none() {
            *contact = Some(id.clone());
        }
        if contact.as_deref() == Some(id.as_str()) && done.is_none() && is_done(event, until) {
            done = Some(event.clone());
        }
    }
    done
}

/// What the connection remembers under `key`: a contact's last event, or under
/// `session:{id}` the session's latest contact.
fn remembered(connection: &Connection, key: &str) -> Option<Value> {
    connection
        .contact_events
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(key)
        .cloned()
}

/// A `CallContactEvent`'s `ContactID`, as text.
fn contact_id(event: &Value) -> Option<String> {
    event.get("ContactID").map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// The `CallContactEvent` as `response.call`.
fn contact_call(event: &Value, until: &str) -> Value {
    let status = event.get("Status").and_then(Value::as_str).unwrap_or("");
    let final_state = event.get("FinalState").is_some_and(is_true);
    let mut call = json!({
        "contact_id": contact_id(event),
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

/// A CXone event flag: the platform sends `"True"`/`"False"` strings; a JSON boolean is read
/// too.
fn is_true(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::String(s) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// Whether `event` ends a wait for `until`: the status was reached, or the contact is over.
fn is_done(event: &Value, until: &str) -> bool {
    let status = event.get("Status").and_then(Value::as_str).unwrap_or("");
    status == until || status == "Disconnected"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_state_is_read_as_the_platform_spells_it() {
        for (value, expected) in [
            (json!("True"), true),
            (json!("true"), true),
            (json!("False"), false),
            (json!(true), true),
            (json!(false), false),
            (json!(null), false),
        ] {
            let event = json!({ "Status": "Disconnected", "FinalState": value, "ContactID": "1" });
            assert_eq!(
                contact_call(&event, "Active")["final_state"],
                expected,
                "{value}"
            );
        }
    }
}
