//! CXone's event long poll, `GET P/agent-sessions/{s}/get-next-event`, and the events it
//! delivers: `AgentSessionStart`, the `CallContactEvent`s of each contact, `AgentSessionEnd`.
//!
//! Raw events use PascalCase keys and carry every value as a string, booleans as
//! `"True"`/`"False"` (reference `nice-cxone.md` §3; NICE's agent SDK casts them with yup,
//! `nice-cxone-agent-sdk.md` §5). UNCONFIRMED: the casing of keys other than `Type`,
//! `ContactID`, `Status` and `FinalState`; these are the SDK's model names in PascalCase.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::{
    Contact, Error, Everything, HOST, Params, Result, Shared, accepted, authenticate,
    check_version, query_map, session_ended, session_mut,
};
use crate::call::{EndReason, timestamp};

/// A boolean as CXone's events spell it.
fn flag(value: bool) -> &'static str {
    if value { "True" } else { "False" }
}

/// A contact's `CallContactEvent`s so far: Dialing, then Active if it connected, then
/// Disconnected (final) once it ended.
pub(super) fn contact_events(world: &Everything, contact: &Contact, now: Instant) -> Vec<Value> {
    let Some(leg) = contact.leg.map(|l| &world.legs[l]) else {
        return Vec::new();
    };
    let snapshot = leg.at(now);
    let mut moments = vec![(Duration::ZERO, "Dialing", false, None)];
    if let Some(at) = snapshot.connected_at {
        moments.push((at, "Active", false, None));
    }
    if let Some((at, why)) = snapshot.ended {
        moments.push((at, "Disconnected", true, Some(why)));
    }
    moments
        .into_iter()
        .map(|(at, status, final_state, why)| {
            let mut event = json!({
                "Type": "CallContactEvent",
                "ContactID": contact.id.to_string(),
                "MasterID": contact.id.to_string(),
                "Status": status,
                "FinalState": flag(final_state),
                "CallType": "Regular",
                "IsInbound": flag(false),
                "IsLogging": flag(false),
                "ANI": contact.from,
                "DNIS": contact.to,
                "Skill": contact.skill_id.to_string(),
                "StartTimeUTC": timestamp(leg.placed_wall),
                "LastStateChangeTimeUTC": timestamp(leg.wall(at)),
                "IISHost": HOST,
                "VCHost": HOST,
            });
            if let (Some(why), Some(map)) = (why, event.as_object_mut()) {
                map.insert("DisconnectCode".into(), json!(disconnect_code(why)));
            }
            event
        })
        .collect()
}

/// UNCONFIRMED: CXone's disconnect codes are not in the sources; these name what happened.
pub(super) fn disconnect_code(why: EndReason) -> &'static str {
    match why {
        EndReason::Client => "AgentDisconnect",
        EndReason::Forced => "ForcedDisconnect",
        EndReason::Peer => "PeerDisconnect",
        EndReason::CustomerHangup => "ContactHangUp",
        EndReason::Busy => "Busy",
        EndReason::NoAnswer => "NoAnswer",
        EndReason::Invalid => "InvalidNumber",
    }
}

enum Poll {
    Events(Vec<Value>),
    Ended,
    Wait(Option<Instant>),
}

fn poll(
    world: &mut Everything,
    business_unit: u64,
    session_id: &str,
    agent: u64,
    now: Instant,
) -> Result<Poll> {
    let session = session_mut(world, session_id, agent)?.clone();
    let mut events = Vec::new();
    if !session.start_delivered {
        events.push(json!({
            "Type": "AgentSessionStart",
            "SessionId": session.id,
            "AgentId": session.agent_id.to_string(),
            "StationId": session.station_id.clone().unwrap_or_default(),
            "StationPhoneNumber": session.station_phone.clone().unwrap_or_default(),
            "BusNo": business_unit.to_string(),
            "StartTimeUTC": timestamp(session.started),
            "IISHost": HOST,
            "VCHost": HOST,
        }));
    }
    let mut next = None::<Instant>;
    for id in &session.contacts {
        let Some(contact) = world.cxone.contacts.get(id) else {
            continue;
        };
        let all = contact_events(world, contact, now);
        let fresh: Vec<Value> = all.iter().skip(contact.delivered).cloned().collect();
        let count = all.len();
        if let Some(leg) = contact.leg
            && let Some(at) = world.legs[leg].next_change(now)
        {
            next = Some(next.map_or(at, |n| n.min(at)));
        }
        events.extend(fresh);
        if let Some(contact) = world.cxone.contacts.get_mut(id) {
            contact.delivered = count;
        }
    }
    if session.ended && !session.end_delivered {
        events.push(json!({
            "Type": "AgentSessionEnd",
            "SessionId": session.id,
            "Success": flag(true),
            "IISHost": HOST,
            "VCHost": HOST,
        }));
    }
    if let Some(s) = world.cxone.sessions.get_mut(session_id) {
        s.start_delivered = true;
        s.end_delivered = s.ended;
    }
    if !events.is_empty() {
        Ok(Poll::Events(events))
    } else if session.ended {
        Ok(Poll::Ended)
    } else {
        Ok(Poll::Wait(next))
    }
}

/// The longest the sandbox holds a long poll. UNCONFIRMED: NICE's SDK asks for 60 s; the
/// service's own ceiling is not documented.
const MAX_POLL: u64 = 60;

pub(super) async fn next_event(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Params((version, session_id)): Params<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let agent = authenticate(&shared, &headers)?;
    check_version(&version)?;
    let query = query_map(&query);
    let timeout = query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("timeout"))
        .map(|(_, v)| v.parse::<u64>())
        .ok_or_else(|| Error::bad_request("InvalidTimeout", "timeout is required."))?
        .map_err(|_| {
            Error::bad_request(
                "InvalidTimeout",
                "timeout must be a whole number of seconds.",
            )
        })?;
    let deadline = Instant::now() + Duration::from_secs(timeout.min(MAX_POLL));
    loop {
        let notified = shared.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now = Instant::now();
        let next = match poll(
            &mut shared.world(),
            shared.config.cxone.business_unit,
            &session_id,
            agent,
            now,
        )? {
            Poll::Events(events) => {
                let body = json!({ "sessionId": session_id, "events": events });
                return Ok(accepted(StatusCode::OK, "OK", Some(body)));
            }
            Poll::Ended => return Err(session_ended()),
            Poll::Wait(next) => next,
        };
        if now >= deadline {
            return Ok(accepted(StatusCode::NOT_MODIFIED, "Not Modified", None));
        }
        let until = next.map_or(deadline, |n| n.min(deadline));
        tokio::select! {
            _ = tokio::time::sleep_until(until.into()) => {}
            _ = &mut notified => {}
        }
    }
}
