//! Hanging up a call's customer the way Genesys says to, also with client credentials: read the
//! call (`GET /api/v2/conversations/calls/{id}`) to find the participant with the wanted purpose,
//! then `PATCH /api/v2/conversations/{id}/participants/{pid}` `{"state":"disconnected"}`, the
//! generic participant update that Genesys's own client-credentials data actions use
//! (`POST /conversations/{id}/disconnect` is the teardown for stuck conversations; `PATCH
//! /conversations/calls/{id}…` needs a user). Two requests; a participant already gone passes
//! after the first.

use std::time::Duration;

use indexmap::IndexMap;
use serde_json::{Value, json};

use crate::provider::Method;
use crate::provider::connection::{Connection, Queue, Response, SendError};
use crate::provider::request::{Body, Request};
use crate::provider::wait::{poll, text};

/// The path prefix of the call the hang-up reads.
const CALLS: &str = "/api/v2/conversations/calls/";

/// Finds the participant and hangs it up; the last answer, and `response.call`.
pub(crate) async fn hang_up(
    connection: &Connection,
    read: &Request,
    with: &IndexMap<String, Value>,
    timeout: Option<Duration>,
    queue: &Queue,
) -> Result<(Response, Option<Value>), SendError> {
    let purpose = text(with, "participant", "customer");
    let call = poll(connection, read, timeout, queue).await?;
    if call.status != 200 {
        return Ok((call, None));
    }
    let participants = call.body["participants"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    // The last participant with that purpose: a transfer adds a newer one.
    let Some(participant) = participants.iter().rev().find(|p| p["purpose"] == purpose) else {
        let problem = format!("the call has no `{purpose}` participant to hang up");
        return Ok((
            call,
            Some(json!({ "purpose": purpose, "problem": problem })),
        ));
    };
    let id = participant["id"].as_str().unwrap_or_default().to_owned();
    let state = participant["state"].as_str().unwrap_or_default();
    if matches!(state, "disconnected" | "terminated") {
        let info = json!({
            "participant_id": id,
            "purpose": purpose,
            "state": state,
            "already_disconnected": true,
        });
        return Ok((call, Some(info)));
    }
    let conversation = read.path.strip_prefix(CALLS).unwrap_or_default();
    let update = Request {
        method: Method::Patch,
        path: format!(
            "/api/v2/conversations/{conversation}/participants/{}",
            crate::provider::request::segment(&id)
        ),
        query: Vec::new(),
        headers: Vec::new(),
        body: Some(Body::Json(json!({ "state": "disconnected" }))),
    };
    let answer = poll(connection, &update, timeout, queue).await?;
    let info = json!({ "participant_id": id, "purpose": purpose, "state": "disconnected" });
    Ok((answer, Some(info)))
}
