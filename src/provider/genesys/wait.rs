//! Genesys Cloud CX `calls.wait`: poll `GET /api/v2/conversations/calls/{id}` with backoff and
//! read the state of the participant with the wanted purpose (the customer by default).

use std::time::{Duration, Instant};

use indexmap::IndexMap;
use serde_json::{Value, json};

use crate::duration::human;
use crate::provider::WAIT_TIMEOUT;
use crate::provider::connection::{Connection, Queue, Response, SendError};
use crate::provider::request::Request;
use crate::provider::wait::{add_problem, deadline, duration, how, poll, text, timed_out};

/// The participant state a wait waits for unless the step sets `until`.
pub(crate) const DEFAULT_UNTIL: &str = "connected";

/// The longest pause between two polls, however far the backoff has gone.
const MAX_INTERVAL: Duration = Duration::from_secs(5);

/// Whether a pause of `pause` from now would end at or after `deadline` (or past any clock).
fn past(pause: Duration, deadline: Instant) -> bool {
    Instant::now()
        .checked_add(pause)
        .is_none_or(|then| then >= deadline)
}

/// Polls the conversation until the participant reaches `until`, ends, or the wait times out.
pub(crate) async fn follow(
    connection: &Connection,
    request: &Request,
    with: &IndexMap<String, Value>,
    timeout: Option<Duration>,
    queue: &Queue,
) -> Result<(Response, Option<Value>), SendError> {
    let until = text(with, "until", DEFAULT_UNTIL);
    let purpose = text(with, "participant", "customer");
    let wait = duration(with, "timeout", WAIT_TIMEOUT);
    let mut interval = duration(with, "interval", Duration::from_secs(1));
    let start = Instant::now();
    let mut last_state = String::from("unknown");
    loop {
        let response = poll(connection, request, timeout, queue).await?;
        let deadline = deadline(start, wait, queue);
        if response.status == 429 {
            let pause = response.retry_after().unwrap_or(interval);
            if past(pause, deadline) {
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
        if past(interval, deadline) {
            return Err(timed_out(format!(
                "gave up waiting for the {purpose} to reach `{until}` after {} (last state: {last_state})",
                human(wait)
            )));
        }
        tokio::time::sleep(interval).await;
        interval = (interval.saturating_mul(3) / 2).min(MAX_INTERVAL);
    }
}
