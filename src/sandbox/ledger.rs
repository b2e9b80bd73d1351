//! The ledger of every call the sandbox placed, and the `/_sandbox` endpoints.
//!
//! Tests read it to prove what was dialed, and how often: `GET /_sandbox/calls`.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use super::config::Fault;
use super::script::Outcome;
use super::{BodyError, Shared, faults, json_body};
use crate::call::{EndReason, Phase, timestamp};

/// Which vendor placed a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VendorName {
    /// Genesys Cloud.
    #[serde(rename = "genesys-cloud")]
    Genesys,
    /// NICE CXone.
    #[serde(rename = "nice-cxone")]
    Cxone,
}

/// What was placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A call, dialed now.
    Call,
    /// A callback, queued to be dialed by an agent later.
    Callback,
}

/// A call as the ledger keeps it.
#[derive(Debug, Clone)]
pub(super) struct Record {
    pub(super) vendor: VendorName,
    pub(super) kind: Kind,
    /// Conversation id (Genesys) or contact id (CXone).
    pub(super) id: String,
    pub(super) destination: String,
    /// Who placed it: a user id, an OAuth client id or a CXone agent id.
    pub(super) caller: String,
    /// The destination's call leg, for calls.
    pub(super) leg: Option<usize>,
    pub(super) placed: SystemTime,
}

/// One call in the ledger, as `GET /_sandbox/calls` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// `genesys-cloud` or `nice-cxone`.
    pub vendor: VendorName,
    /// `call` or `callback`.
    pub kind: Kind,
    /// Conversation id (Genesys) or contact id (CXone).
    pub id: String,
    /// The number dialed.
    pub destination: String,
    /// Who placed it: a user id, an OAuth client id or a CXone agent id.
    pub caller: String,
    /// When it was placed (RFC 3339).
    pub placed_at: String,
    /// The destination's phase now: `dialing`, `alerting`, `connected`, `disconnected`, or
    /// `queued` for a callback.
    pub state: String,
    /// The scripted outcome of the destination.
    pub outcome: Option<Outcome>,
    /// Why it ended, once it has.
    pub end_reason: Option<EndReason>,
    /// When it ended (RFC 3339).
    pub ended_at: Option<String>,
}

fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Dialing => "dialing",
        Phase::Alerting => "alerting",
        Phase::Connected => "connected",
        Phase::Disconnected => "disconnected",
    }
}

/// The ledger, oldest first.
pub(super) fn entries(shared: &Shared) -> Vec<LedgerEntry> {
    let world = shared.world();
    let now = Instant::now();
    world
        .ledger
        .iter()
        .map(|r| {
            let leg = r.leg.and_then(|i| world.legs.get(i));
            let snapshot = leg.map(|l| l.at(now));
            LedgerEntry {
                vendor: r.vendor,
                kind: r.kind,
                id: r.id.clone(),
                destination: r.destination.clone(),
                caller: r.caller.clone(),
                placed_at: timestamp(r.placed),
                state: snapshot
                    .map(|s| phase_name(s.phase))
                    .unwrap_or("queued")
                    .to_owned(),
                outcome: leg.map(|l| l.outcome),
                end_reason: snapshot.and_then(|s| s.ended).map(|e| e.1),
                ended_at: leg
                    .zip(snapshot.and_then(|s| s.ended))
                    .map(|(l, (at, _))| timestamp(l.wall(at))),
            }
        })
        .collect()
}

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sandbox/calls", get(list))
        .route("/_sandbox/reset", post(reset))
        .route("/_sandbox/faults", get(list_faults).post(add_fault))
}

async fn list(State(shared): State<Arc<Shared>>) -> Response {
    let calls = entries(&shared);
    axum::Json(serde_json::json!({ "total": calls.len(), "calls": calls })).into_response()
}

async fn reset(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.reset();
    StatusCode::NO_CONTENT
}

async fn list_faults(State(shared): State<Arc<Shared>>) -> Response {
    let faults: Vec<_> = faults::remaining(&shared)
        .into_iter()
        .map(|(fault, left)| serde_json::json!({ "fault": fault, "remaining": left }))
        .collect();
    axum::Json(serde_json::json!({ "faults": faults })).into_response()
}

fn bad_request(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(serde_json::json!({ "error": message })),
    )
        .into_response()
}

async fn add_fault(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
    let fault: Fault = match json_body(&shared, &headers, body).await {
        Ok(Some(fault)) => fault,
        Ok(None) | Err(BodyError::Missing) => {
            return bad_request("send a fault as JSON, as in the `faults:` list".into());
        }
        Err(BodyError::Malformed(e)) => return bad_request(e),
        Err(BodyError::NotJson) => return bad_request("send application/json".into()),
        Err(BodyError::TooLarge) => return bad_request("body too large".into()),
    };
    match faults::add(&shared, fault) {
        Ok(()) => StatusCode::CREATED.into_response(),
        Err(e) => bad_request(e.message),
    }
}
