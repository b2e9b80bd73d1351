//! `calls.wait`: following a call until it reaches a state.
//!
//! Each vendor follows a call its own way: `genesys::wait` polls the conversation,
//! `cxone::wait` long-polls the agent session. This module picks the vendor and holds what the
//! two share. Either way the result is the last answer plus `response.call`: the state reached,
//! the disconnect type, and `problem` when the call ended without reaching the wanted state.

use std::time::{Duration, Instant};

use indexmap::IndexMap;
use serde_json::{Value, json};

use crate::duration::saturating_deadline;

use super::connection::{Connection, Queue, Response, SendError};
use super::failure::Failure;
use super::request::Request;
use super::{ProviderKind, cxone, genesys};

/// Follows a call with the provider's own way of waiting; `timeout` bounds each request.
///
/// Time its polls spend waiting for the provider's turn goes to `queue`, and does not count
/// against the wait's own `timeout`: the plan's pacing is not the call's slowness.
pub(crate) async fn follow(
    connection: &Connection,
    request: &Request,
    with: &IndexMap<String, Value>,
    timeout: Option<Duration>,
    queue: &Queue,
) -> Result<(Response, Option<Value>), SendError> {
    match connection.settings.kind {
        ProviderKind::GenesysCloud => {
            genesys::wait::follow(connection, request, with, timeout, queue).await
        }
        ProviderKind::NiceCxone => {
            cxone::wait::follow(connection, request, with, timeout, queue).await
        }
        // No `http` action waits: its request is sent once.
        ProviderKind::Http => poll(connection, request, timeout, queue)
            .await
            .map(|r| (r, None)),
    }
}

/// Hangs up a participant the provider's own way (see [`crate::provider::ActionKind::HangUp`]).
pub(crate) async fn hang_up(
    connection: &Connection,
    request: &Request,
    with: &IndexMap<String, Value>,
    timeout: Option<Duration>,
    queue: &Queue,
) -> Result<(Response, Option<Value>), SendError> {
    match connection.settings.kind {
        ProviderKind::GenesysCloud => {
            genesys::hangup::hang_up(connection, request, with, timeout, queue).await
        }
        // No other provider has a hang-up action of this kind: its request is sent once.
        _ => poll(connection, request, timeout, queue)
            .await
            .map(|r| (r, None)),
    }
}

/// One poll of a wait: sent in the provider's turn, its queue time noted.
pub(crate) async fn poll(
    connection: &Connection,
    request: &Request,
    timeout: Option<Duration>,
    queue: &Queue,
) -> Result<Response, SendError> {
    connection
        .send_queued(request, timeout, queue, || async { Ok(()) })
        .await
}

/// A wait's deadline, moved back by the time its polls spent in the provider's queue.
pub(crate) fn deadline(start: Instant, wait: Duration, queue: &Queue) -> Instant {
    wait.checked_add(queue.waited())
        .and_then(|d| start.checked_add(d))
        // Beyond any clock: as good as forever for a wait.
        .unwrap_or_else(|| saturating_deadline(start, Duration::MAX))
}

/// The state a wait of this provider type waits for unless the step sets `until`; `None` for
/// types that have no wait.
pub(crate) fn default_until(kind: ProviderKind) -> Option<&'static str> {
    match kind {
        ProviderKind::GenesysCloud => Some(genesys::wait::DEFAULT_UNTIL),
        ProviderKind::NiceCxone => Some(cxone::wait::DEFAULT_UNTIL),
        ProviderKind::Http => None,
    }
}

/// A duration control of `with:` (already checked), or `default`.
pub(super) fn duration(with: &IndexMap<String, Value>, name: &str, default: Duration) -> Duration {
    with.get(name)
        .and_then(Value::as_str)
        .and_then(|s| humantime::parse_duration(s).ok())
        .unwrap_or(default)
}

/// A string control of `with:`, or `default`.
pub(crate) fn text<'a>(with: &'a IndexMap<String, Value>, name: &str, default: &'a str) -> &'a str {
    with.get(name).and_then(Value::as_str).unwrap_or(default)
}

/// A wait that ran out of time.
pub(super) fn timed_out(what: String) -> SendError {
    // A wait that runs out of time is not a transport failure: nothing to retry blindly.
    SendError::Transport {
        failure: Failure::Timeout { sent: false },
        message: what,
    }
}

/// " (endpoint)": how a call ended, when the vendor says.
pub(super) fn how(code: Option<&Value>) -> String {
    code.and_then(Value::as_str)
        .map(|d| format!(" ({d})"))
        .unwrap_or_default()
}

/// Marks `response.call` with why the wait did not reach `until`.
pub(super) fn add_problem(call: &mut Value, subject: &str, who: &str, until: &str) {
    if let Some(map) = call.as_object_mut() {
        map.insert(
            "problem".into(),
            json!(format!("{subject} before {who} reached `{until}`")),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::ActionKind;

    #[test]
    fn each_catalogue_documents_its_default_state() {
        for kind in [ProviderKind::GenesysCloud, ProviderKind::NiceCxone] {
            let until = default_until(kind).expect("a vendor that waits");
            let waits: Vec<_> = kind
                .actions()
                .iter()
                .filter(|a| a.kind == ActionKind::Wait)
                .collect();
            assert!(!waits.is_empty(), "{kind:?}");
            for action in waits {
                let doc = action.param("until").map(|p| p.doc).unwrap_or_default();
                assert!(
                    doc.contains(&format!("(default `{until}`)")),
                    "{}: {doc}",
                    action.name
                );
            }
        }
    }
}
