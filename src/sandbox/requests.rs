//! The request log: the last requests the sandbox answered, as it received them, for tests and
//! QA that must show what a client sent (`GET /_sandbox/requests`).
//!
//! A vendor's own client (NICE's agent SDK, the Genesys SDK) is judged by what it sends and
//! what it was answered; the log keeps both, with credentials masked as the echo API masks
//! them. It holds the last [`CAPACITY`] requests, so a long campaign cannot grow it without
//! bound.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};

use super::{Shared, http};
use crate::call::timestamp;

/// How many requests the log keeps (the oldest go first).
pub(super) const CAPACITY: usize = 1_000;

/// The URI a request was sent to, before its path was made canonical.
#[derive(Debug, Clone)]
pub(super) struct SentUri(pub(super) Uri);

/// One request and the status it got.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Logged {
    method: String,
    /// The path as sent.
    path: String,
    /// The path as routed: CXone's paths spelled canonically.
    routed: String,
    /// The query parameters, decoded, secrets masked.
    query: Map<String, Value>,
    /// The headers by lowercase name, credentials masked.
    headers: Map<String, Value>,
    status: u16,
    received_at: String,
}

/// What the log needs of a request, taken before the request is handled.
#[derive(Debug)]
pub(super) struct Pending(Logged);

impl Pending {
    pub(super) fn new(method: &Method, sent: &Uri, routed: &Uri, headers: &HeaderMap) -> Pending {
        Pending(Logged {
            method: method.to_string(),
            path: sent.path().to_owned(),
            routed: routed.path().to_owned(),
            query: http::query(sent.query().unwrap_or("")),
            headers: http::headers(headers),
            status: 0,
            received_at: timestamp(SystemTime::now()),
        })
    }
}

/// The log.
#[derive(Debug, Default)]
pub(super) struct Log(Mutex<VecDeque<Logged>>);

impl Log {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Logged>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a request with the status it was answered.
    pub(super) fn record(&self, pending: Pending, status: u16) {
        let mut log = self.lock();
        if log.len() == CAPACITY {
            log.pop_front();
        }
        log.push_back(Logged {
            status,
            ..pending.0
        });
    }

    pub(super) fn clear(&self) {
        self.lock().clear();
    }
}

/// `GET /_sandbox/requests`: the logged requests, oldest first.
pub(super) async fn list(State(shared): State<Arc<Shared>>) -> Response {
    let requests: Vec<Logged> = shared.requests.lock().iter().cloned().collect();
    axum::Json(serde_json::json!({ "total": requests.len(), "requests": requests })).into_response()
}
