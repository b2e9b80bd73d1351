//! CXone contact listings: real-time `GET P/contacts/active` and reporting
//! `GET P/contacts/completed`, which a client reads to find the contact a `dial-phone` made
//! after it lost track of it (reference `hangup-reconcile-events.md` §2.3).
//!
//! A contact is active from the moment it is dialed until it ends. It is completed once
//! `cxone.completed_delay` (times `time_scale`) has passed since it ended, and in between it is
//! in neither list, as while reporting catches up. UNCONFIRMED: NICE documents no such lag, but
//! completed contacts carry a `dateContactWarehoused`, which suggests one.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::super::iso;
use super::{
    Contact, EndReason, Error, Everything, Params, Result, Shared, accepted, authenticate,
    check_version, contact_state, disconnect_code, media, query_map, timestamp,
};
use crate::sandbox::script::scaled;

/// A query parameter, its name matched case-insensitively.
fn value(query: &HashMap<String, String>, name: &str) -> Option<String> {
    query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

/// A date parameter (ISO-8601; `2024-01-01`, `2024-01-01 12:00` and RFC 3339 all read).
fn date(query: &HashMap<String, String>, name: &str) -> Result<Option<SystemTime>> {
    let Some(text) = value(query, name) else {
        return Ok(None);
    };
    // UNCONFIRMED: the error's name and words.
    iso::instant(&text).map(Some).ok_or_else(|| {
        Error::bad_request(
            "InvalidDate",
            format!("{name} must be an ISO-8601 date and time, not `{text}`."),
        )
    })
}

/// A count parameter (`top`, `skip`).
fn count(query: &HashMap<String, String>, name: &str) -> Result<Option<usize>> {
    let Some(text) = value(query, name) else {
        return Ok(None);
    };
    text.parse::<usize>().map(Some).map_err(|_| {
        Error::bad_request(
            "InvalidParameter",
            format!("{name} must be a whole number, not `{text}`."),
        )
    })
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// The filters both listings take (of the reference's longer lists, those a client needs to
/// find its own contact), with `fields`, `top` and `skip`.
struct Filters {
    /// Digits only: `toAddress=3175550100` finds `+13175550100` (UNCONFIRMED: the real
    /// matching rule and the stored format, §2.3).
    to: Option<String>,
    from: Option<String>,
    contact_id: Option<String>,
    agent_id: Option<String>,
    skill_id: Option<String>,
    updated_since: Option<SystemTime>,
    fields: Option<Vec<String>>,
    top: Option<usize>,
    skip: usize,
}

impl Filters {
    fn read(query: &HashMap<String, String>) -> Result<Filters> {
        Ok(Filters {
            to: value(query, "toAddress").map(|s| digits(&s)),
            from: value(query, "fromAddress"),
            contact_id: value(query, "contactId"),
            agent_id: value(query, "agentId"),
            skill_id: value(query, "skillId"),
            updated_since: date(query, "updatedSince")?,
            fields: value(query, "fields").map(|f| {
                f.split(',')
                    .map(|s| s.trim().to_ascii_lowercase())
                    .filter(|s| !s.is_empty())
                    .collect()
            }),
            top: count(query, "top")?,
            skip: count(query, "skip")?.unwrap_or(0),
        })
    }

    fn keep(&self, world: &Everything, c: &Contact, now: Instant) -> bool {
        let same = |wanted: &Option<String>, have: Option<String>| {
            wanted.as_ref().is_none_or(|w| have.as_ref() == Some(w))
        };
        self.to
            .as_ref()
            .is_none_or(|t| !t.is_empty() && digits(&c.to).ends_with(t.as_str()))
            && same(&self.from, Some(c.from.clone()))
            && same(&self.contact_id, Some(c.id.to_string()))
            && same(&self.agent_id, c.agent_id.map(|a| a.to_string()))
            && same(&self.skill_id, Some(c.skill_id.to_string()))
            && self
                .updated_since
                .is_none_or(|since| last_update(world, c, now) >= since)
    }

    /// A page of `rows` in the listing's shape, or 204 when there is nothing to show.
    fn answer(
        &self,
        shared: &Shared,
        path: &str,
        key: &str,
        query: &HashMap<String, String>,
        rows: Vec<Value>,
    ) -> Response {
        let total = rows.len();
        let page: Vec<Value> = rows
            .into_iter()
            .skip(self.skip)
            .take(self.top.unwrap_or(usize::MAX))
            .map(|row| self.project(row))
            .collect();
        if page.is_empty() {
            return accepted(
                StatusCode::NO_CONTENT,
                "No Contacts for the specified period",
                None,
            );
        }
        let shown = page.len();
        let next = (self.skip + shown < total).then(|| link(path, query, self.skip + shown));
        let previous = (self.skip > 0).then(|| link(path, query, self.skip.saturating_sub(shown)));
        let mut body = Map::new();
        body.insert(
            "_links".into(),
            json!({ "self": link(path, query, self.skip), "next": next, "previous": previous }),
        );
        body.insert(
            "businessUnitId".into(),
            json!(shared.config.cxone.business_unit),
        );
        body.insert("lastPollTime".into(), json!(timestamp(SystemTime::now())));
        body.insert("totalRecords".into(), json!(total));
        body.insert(key.into(), Value::Array(page));
        axum::Json(Value::Object(body)).into_response()
    }

    /// Only the `fields` asked for (names matched case-insensitively), if any were.
    fn project(&self, row: Value) -> Value {
        match (&self.fields, row) {
            (Some(fields), Value::Object(map)) => Value::Object(
                map.into_iter()
                    .filter(|(k, _)| fields.contains(&k.to_ascii_lowercase()))
                    .collect(),
            ),
            (_, row) => row,
        }
    }
}

/// The listing's own URL with `skip` set.
fn link(path: &str, query: &HashMap<String, String>, skip: usize) -> String {
    let mut pairs: Vec<(&String, &String)> = query
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("skip"))
        .collect();
    pairs.sort();
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        out.append_pair(k, v);
    }
    if skip > 0 {
        out.append_pair("skip", &skip.to_string());
    }
    let query = out.finish();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

/// When and why a contact ended, in wall-clock time.
fn ended(world: &Everything, contact: &Contact, now: Instant) -> Option<(SystemTime, EndReason)> {
    match contact.leg {
        Some(i) => {
            let leg = &world.legs[i];
            leg.at(now).ended.map(|(at, why)| (leg.wall(at), why))
        }
        None => contact.ended,
    }
}

/// When a contact last changed: placed, rang, connected or ended.
fn last_update(world: &Everything, contact: &Contact, now: Instant) -> SystemTime {
    match contact.leg {
        Some(i) => {
            let leg = &world.legs[i];
            let s = leg.at(now);
            [s.alerting_at, s.connected_at, s.ended.map(|(at, _)| at)]
                .into_iter()
                .flatten()
                .max()
                .map_or(leg.placed_wall, |at| leg.wall(at))
        }
        None => contact.ended.map_or(contact.created, |(at, _)| at),
    }
}

/// `GET P/contacts/active`: contacts not yet ended; filters `toAddress`, `fromAddress`,
/// `contactId`, `agentId`, `skillId`, `updatedSince` (changed since), `fields`, `top`, `skip`.
pub(super) async fn active(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Params(version): Params<String>,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    authenticate(&shared, &headers)?;
    check_version(&version)?;
    let query = query_map(&query);
    let filters = Filters::read(&query)?;
    let now = Instant::now();
    let world = shared.world();
    let rows: Vec<Value> = world
        .cxone
        .contacts
        .values()
        .filter(|c| filters.keep(&world, c, now))
        .filter_map(|c| {
            let (state_id, state_name) = contact_state(&world, c, now)?;
            let (media_id, media_name) = media(c);
            Some(json!({
                "contactId": c.id,
                "masterContactId": c.id,
                // UNCONFIRMED: the spec declares it an integer date-time; written as the
                // ISO-8601 text every other CXone date here is.
                "contactStartDate": timestamp(c.created),
                "stateId": state_id,
                "stateName": state_name,
                "contactStateCategory": "With Agent",
                "isOutbound": true,
                "skillId": c.skill_id,
                "skillName": format!("Skill {}", c.skill_id),
                "agentId": c.agent_id,
                "agentStartDate": timestamp(c.created),
                "toAddress": c.to,
                "fromAddress": c.from,
                "mediaTypeId": media_id,
                "mediaTypeName": media_name,
                "lastUpdateTime": timestamp(last_update(&world, c, now)),
            }))
        })
        .collect();
    let path = format!("/inContactAPI/services/{version}/contacts/active");
    Ok(filters.answer(&shared, &path, "activeContacts", &query, rows))
}

/// `GET P/contacts/completed`: contacts that ended at least `completed_delay` ago and started
/// between `startDate` and `endDate` (each optional: UNCONFIRMED whether the service requires
/// them, and whether it compares the start or the end of a contact), with the filters of
/// [`active`].
pub(super) async fn completed(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Params(version): Params<String>,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    authenticate(&shared, &headers)?;
    check_version(&version)?;
    let query = query_map(&query);
    let filters = Filters::read(&query)?;
    let from = date(&query, "startDate")?;
    let to = date(&query, "endDate")?;
    if let (Some(from), Some(to)) = (from, to)
        && to < from
    {
        return Err(Error::bad_request(
            "InvalidDateRange",
            "endDate must not be before startDate.",
        ));
    }
    let delay = scaled(
        shared.config.cxone.completed_delay,
        shared.config.time_scale,
    );
    let now = Instant::now();
    let wall = SystemTime::now();
    let world = shared.world();
    let rows: Vec<Value> = world
        .cxone
        .contacts
        .values()
        .filter(|c| {
            from.is_none_or(|f| c.created >= f)
                && to.is_none_or(|t| c.created <= t)
                && filters.keep(&world, c, now)
        })
        .filter_map(|c| {
            let (end, why) = ended(&world, c, now)?;
            let warehoused = end.checked_add(delay).filter(|at| *at <= wall)?;
            let (media_id, media_name) = media(c);
            let seconds = end.duration_since(c.created).unwrap_or_default().as_secs();
            Some(json!({
                "contactId": c.id,
                "masterContactId": c.id,
                "contactStartDate": timestamp(c.created),
                "agentId": c.agent_id,
                "toAddress": c.to,
                "fromAddress": c.from,
                "isOutbound": true,
                "skillId": c.skill_id,
                "skillName": format!("Skill {}", c.skill_id),
                "mediaTypeId": media_id,
                "mediaTypeName": media_name,
                // The same words `contacts/{id}` uses once a contact ended.
                "endReason": disconnect_code(why),
                "abandoned": matches!(why, EndReason::Busy | EndReason::NoAnswer | EndReason::Invalid),
                "totalDurationSeconds": seconds,
                // Dialed by the agent: never queued, the agent on it throughout.
                "inQueueSeconds": 0,
                "agentSeconds": seconds,
                "lastUpdateTime": timestamp(end),
                "dateContactWarehoused": timestamp(warehoused),
                "tags": [],
            }))
        })
        .collect();
    let path = format!("/inContactAPI/services/{version}/contacts/completed");
    Ok(filters.answer(&shared, &path, "completedContacts", &query, rows))
}
