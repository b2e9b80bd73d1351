//! Genesys Cloud analytics: `POST /api/v2/analytics/conversations/details/query`, the
//! synchronous conversation-detail query with which a client finds a call whose create answer
//! it lost (reference `hangup-reconcile-events.md` §2.1 and §6).
//!
//! Every conversation placed through `/api/v2/conversations/calls…` is listed, live or ended,
//! once `genesys.analytics_delay` (times `time_scale`) has passed since it was placed: the
//! sync query includes in-progress conversations, a little behind real time. Callbacks are not
//! listed; the sandbox does not route them. Bodies use the SDK models' field names
//! (`ConversationQuery` in, `AnalyticsConversationQueryResponse` out); [`filter`] checks and
//! evaluates the query.

mod filter;

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::{
    BodyError, Conversation, DIVISION_ID, Error, Everything, Party, Result, Shared, authenticate,
    disconnect_type, json_body, parties, settle, timestamp, without_nulls,
};
use crate::sandbox::script::scaled;
use filter::{ConversationQuery, Order, OrderBy};

/// The route.
pub(super) const PATH: &str = "/api/v2/analytics/conversations/details/query";

/// ANY one of these lets a client query (PY `AnalyticsApi.md`).
const PERMISSIONS: [&str; 2] = [
    "analytics:conversationDetail:view",
    "analytics:agentConversationDetail:view",
];

/// The 403 a client without the permissions gets, for a `status: 403` fault on the route.
pub(in crate::sandbox) fn permission_error(
    status: StatusCode,
    method: &Method,
    path: &str,
) -> Option<Response> {
    let here = method == Method::POST && path.trim_end_matches('/') == PATH;
    (here && status == StatusCode::FORBIDDEN).then(|| missing_permissions().into_response())
}

/// Genesys names a missing permission of an ANY set with `missing.any.permissions` and lists
/// the set in brackets (reference genesys-cloud.md §6.2; the same shape is reported from live
/// orgs, e.g. "missing.any.permissions [telephony:plugin:all]"). UNCONFIRMED: the name of the
/// `messageParams` key.
fn missing_permissions() -> Error {
    let list = format!("[{}]", PERMISSIONS.join(", "));
    let text = "Unable to perform the requested action. You must have at least one of the following permissions assigned:";
    let mut params = Map::new();
    params.insert("permissions".into(), json!(list));
    Error {
        status: StatusCode::FORBIDDEN,
        code: "missing.any.permissions",
        message: format!("{text} {list}"),
        with_params: Some((format!("{text} {{permissions}}"), params)),
        retry_after: None,
    }
}

/// `POST /api/v2/analytics/conversations/details/query`.
pub(super) async fn query(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    authenticate(&shared, &headers)?;
    let query = json_body::<ConversationQuery>(&shared, &headers, body)
        .await?
        .ok_or(BodyError::Missing)?
        .check()?;
    let delay = scaled(
        shared.config.genesys.analytics_delay,
        shared.config.time_scale,
    );
    let now = Instant::now();
    let mut world = shared.world();
    let ids: Vec<String> = world.genesys.conversations.keys().cloned().collect();
    for id in &ids {
        settle(&mut world, id, now);
    }
    let world = &*world;
    let mut found: Vec<Listed> = world
        .genesys
        .conversations
        .values()
        .filter(|c| now.saturating_duration_since(world.legs[c.caller.leg].placed) >= delay)
        .map(|c| listed(world, c, now))
        .filter(|l| query.takes(l.start) && query.matches(&l.json))
        .collect();
    // Ties, and `unordered`, keep the order the calls were placed in. A sandbox conversation's
    // first segment starts with it and its last segment ends with it, so `segmentStart` and
    // `segmentEnd` sort as `conversationStart` and `conversationEnd`.
    found.sort_by_key(|l| l.placed);
    if query.order != Order::Unordered {
        found.sort_by_key(|l| {
            let at = match query.order_by {
                OrderBy::ConversationStart | OrderBy::SegmentStart => Some(l.start),
                OrderBy::ConversationEnd | OrderBy::SegmentEnd => l.end,
            };
            // Still going: after every ended one.
            (at.is_none(), at)
        });
        if query.order == Order::Desc {
            found.reverse();
        }
    }
    let total = found.len();
    let page: Vec<Value> = found
        .into_iter()
        .skip(query.page_size.saturating_mul(query.page_number - 1))
        .take(query.page_size)
        .map(|l| l.json)
        .collect();
    // Genesys leaves `conversations` out when a page is empty, answering `{"totalHits": 0}`
    // (UNCONFIRMED; the model's list is optional, and the SDK reads a missing one as None).
    let mut body = Map::new();
    if !page.is_empty() {
        body.insert("conversations".into(), Value::Array(page));
    }
    body.insert("totalHits".into(), json!(total));
    Ok(axum::Json(Value::Object(body)).into_response())
}

/// A conversation as the query answers it, with what it sorts by.
struct Listed {
    /// Where its caller's leg is in the world: the order calls were placed in.
    placed: usize,
    start: SystemTime,
    /// `None` while a participant is still on the call.
    end: Option<SystemTime>,
    json: Value,
}

/// One party's part in a conversation, in wall-clock time.
struct Timeline {
    start: SystemTime,
    /// When the call was answered, if it was (for the user: when the first remote party was).
    connected: Option<SystemTime>,
    /// When and how the party left.
    end: Option<(SystemTime, &'static str)>,
}

fn timeline(world: &Everything, c: &Conversation, party: &Party, now: Instant) -> Timeline {
    let conversation_start = world.legs[c.caller.leg].placed_wall;
    let leg = &world.legs[party.leg];
    let snapshot = leg.at(now);
    let ended = snapshot
        .ended
        .map(|(at, why)| (leg.wall(at), disconnect_type(why)));
    // Moved into a conference: gone from this conversation then.
    let merged = c.merged.map(|at| {
        (
            leg.placed_wall + at.saturating_duration_since(leg.placed),
            "conferenceTransfer",
        )
    });
    let end = match (ended, merged) {
        (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
        (a, b) => a.or(b),
    };
    let start = leg.placed_wall.max(conversation_start);
    let connected = if std::ptr::eq(party, &c.caller) && !c.remotes.is_empty() {
        c.remotes
            .iter()
            .filter_map(|p| {
                let remote = &world.legs[p.leg];
                remote.at(now).connected_at.map(|at| remote.wall(at))
            })
            .min()
    } else {
        snapshot.connected_at.map(|at| leg.wall(at))
    };
    let connected = connected
        .map(|t| t.max(start))
        .filter(|t| end.is_none_or(|(e, _)| *t < e));
    Timeline {
        start,
        connected,
        end,
    }
}

/// `AnalyticsConversationSegment`s: dialing until answered, then interact; the last one ends
/// with the party's `disconnectType`.
fn segments(t: &Timeline, queue_id: Option<&str>) -> Vec<Value> {
    let end = t.end.map(|(at, _)| at);
    let spans = match t.connected {
        Some(c) if c > t.start => vec![("dialing", t.start, Some(c)), ("interact", c, end)],
        Some(_) => vec![("interact", t.start, end)],
        None => vec![("dialing", t.start, end)],
    };
    let last = spans.len() - 1;
    spans
        .into_iter()
        .enumerate()
        .map(|(i, (kind, from, to))| {
            let mut segment = Map::new();
            segment.insert("segmentStart".into(), json!(timestamp(from)));
            if let Some(to) = to {
                segment.insert("segmentEnd".into(), json!(timestamp(to)));
            }
            segment.insert("segmentType".into(), json!(kind));
            if let (true, Some((_, how))) = (i == last, t.end) {
                segment.insert("disconnectType".into(), json!(how));
            }
            if let Some(queue) = queue_id {
                segment.insert("queueId".into(), json!(queue));
            }
            Value::Object(segment)
        })
        .collect()
}

/// A conversation as `AnalyticsConversationWithoutAttributes`.
fn listed(world: &Everything, c: &Conversation, now: Instant) -> Listed {
    let start = world.legs[c.caller.leg].placed_wall;
    // What the user dialed, on the user's session too: the reconcile query matches `userId`
    // and `dnis` on one segment.
    let dialed = c.remotes.iter().find_map(|p| p.dnis.clone());
    let mut ends = Vec::new();
    let participants: Vec<Value> = parties(c)
        .map(|p| {
            let t = timeline(world, c, p, now);
            ends.push(t.end.map(|(at, _)| at));
            let is_caller = std::ptr::eq(p, &c.caller);
            // UNCONFIRMED (reference §2.1): whether Genesys stores `tel:+1…` or `+1…`; the
            // sandbox stores what the live participant shows, `tel:+13175550100`, and a `dnis`
            // predicate matches either.
            let dnis = if is_caller {
                dialed.clone()
            } else {
                p.dnis.clone()
            };
            without_nulls(json!({
                "participantId": p.id,
                "participantName": p.name,
                "purpose": p.purpose,
                "userId": p.user_id,
                "externalContactId": (p.purpose == "customer")
                    .then(|| c.external_contact_id.clone())
                    .flatten(),
                "sessions": [{
                    // The live `Conversation`'s call id for this participant.
                    "sessionId": format!("{}-call", p.id),
                    "mediaType": "voice",
                    // Placed on behalf of a user: outbound on every session, as the live
                    // participants say (UNCONFIRMED for `calls/user/{userId}`, §2.1).
                    "direction": "outbound",
                    "ani": p.ani,
                    "dnis": dnis,
                    "provider": "Edge",
                    "segments": segments(&t, p.queue_id.as_deref()),
                }],
            }))
        })
        .collect();
    let end = ends
        .iter()
        .copied()
        .collect::<Option<Vec<SystemTime>>>()
        .and_then(|e| e.into_iter().max());
    let json = without_nulls(json!({
        "conversationId": c.id,
        "conversationStart": timestamp(start),
        "conversationEnd": end.map(timestamp),
        "divisionIds": [DIVISION_ID],
        "originatingDirection": "outbound",
        "participants": participants,
    }));
    Listed {
        placed: c.caller.leg,
        start,
        end,
        json,
    }
}
