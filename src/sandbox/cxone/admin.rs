//! What an agent client reads besides its session: the agent's settings and indicators, the
//! business unit, the server's time, and a skill with its dispositions and tags.
//!
//! NICE's agent SDK reads these when a session starts (`agent-settings`: polling starts only
//! once it answers) and when a contact arrives (the skill, its dispositions and tags). Shapes
//! from the official spec (reference `nice-cxone.md` [SPEC], v34.0), field names as the SDK
//! parses them (`nice-cxone-agent-sdk.md` §5).
//!
//! The sandbox has no skill configuration: every positive skill id exists (as `dial-phone`
//! takes any), with the same dispositions and tags.

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Error, Params, Result, Shared, authenticate, check_version};
use crate::call::timestamp;

/// An authenticated request at a valid version about `agent`: one of the agents the sandbox
/// knows (those of its access keys and public clients).
fn agent_request(shared: &Shared, headers: &HeaderMap, version: &str, agent: &str) -> Result<u64> {
    authenticate(shared, headers)?;
    check_version(version)?;
    let cxone = &shared.config.cxone;
    agent
        .parse::<u64>()
        .ok()
        .filter(|id| {
            cxone.access_keys.iter().any(|k| k.agent_id == *id)
                || cxone.public_clients.iter().any(|c| c.agent_id == *id)
        })
        .ok_or_else(|| Error::new(StatusCode::NOT_FOUND, "NotFound", "Agent not found."))
}

/// An authenticated request at a valid version about a skill; its id.
fn skill_request(shared: &Shared, headers: &HeaderMap, version: &str, skill: &str) -> Result<u64> {
    authenticate(shared, headers)?;
    check_version(version)?;
    skill_id(skill)
}

/// A skill id: a positive integer.
fn skill_id(text: &str) -> Result<u64> {
    text.parse::<u64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| Error::new(StatusCode::NOT_FOUND, "NotFound", "Skill not found."))
}

fn skill_name(id: u64) -> String {
    format!("Sandbox Outbound {id}")
}

/// `GET P/agents/{agentId}/agent-settings`. `EnableUIQueue` is false: with it true (and the
/// tenant's UI-queue feature on) the SDK would wait on a WebSocket queue the sandbox does not
/// have, instead of polling `get-next-event`. The PascalCase names are the SDK's, not in the
/// spec (UNCONFIRMED casing).
pub(super) async fn agent_settings(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Params((version, agent)): Params<(String, String)>,
) -> Result<Response> {
    agent_request(&shared, &headers, &version, &agent)?;
    Ok(axum::Json(json!({
        "maxConferenceParties": 5,
        "maxClientVersion": 0,
        "deleteCommitmentId": 0,
        "deleteCommitmentString": "",
        "emergencyPhoneNumbers": [],
        "persistentPanels": [],
        "webRTCWSSUrls": [],
        "wfoApiUrl": "",
        "wfoWebServiceUrl": "",
        "wfoWebsiteUrl": "",
        "EnableUIQueue": false,
    }))
    .into_response())
}

/// `GET P/agents/{agentId}/indicators`: none lit.
pub(super) async fn indicators(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Params((version, agent)): Params<(String, String)>,
) -> Result<Response> {
    agent_request(&shared, &headers, &version, &agent)?;
    Ok(axum::Json(json!({ "indicators": [] })).into_response())
}

/// `GET P/business-unit`: `{businessUnits: [...]}`, the SDK reads the first.
pub(super) async fn business_unit(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Params(version): Params<String>,
) -> Result<Response> {
    authenticate(&shared, &headers)?;
    check_version(&version)?;
    let cxone = &shared.config.cxone;
    Ok(axum::Json(json!({
        "businessUnits": [{
            "businessUnitId": cxone.business_unit,
            "businessUnitName": "callplan sandbox",
            "tenantId": cxone.tenant_id,
            "isActive": true,
            "defaultTimeZone": "UTC",
            "maxConferenceParties": 5,
            "isMultiContactHandling": false,
            "features": [],
            "fileExtensions": [],
        }],
    }))
    .into_response())
}

/// `GET P/server-time`: `{ServerTime}`, ISO 8601.
pub(super) async fn server_time(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Params(version): Params<String>,
) -> Result<Response> {
    authenticate(&shared, &headers)?;
    check_version(&version)?;
    Ok(axum::Json(json!({ "ServerTime": timestamp(SystemTime::now()) })).into_response())
}

/// The dispositions every sandbox skill offers.
fn dispositions_of() -> Vec<Value> {
    [
        (1, "Reached", "Success"),
        (2, "Call back later", "Callback"),
        (3, "No answer", "Failure"),
    ]
    .iter()
    .enumerate()
    .map(|(order, (id, name, outcome))| {
        json!({
            "dispositionId": id,
            "dispositionName": name,
            "displayOrder": order + 1,
            "priority": order + 1,
            "classification": "",
            "reportingGroup": "",
            "systemOutcome": outcome,
            "isPreviewDisposition": false,
            "requireCommitmentAmount": false,
            "requireRescheduleDate": false,
            "agentSpecific": false,
            "dispositionCategoryName": "",
        })
    })
    .collect()
}

/// `GET P/skills/{skillId}`: the skill's details, flat (as v34.0 and the SDK read them).
pub(super) async fn skill(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Params((version, skill)): Params<(String, String)>,
) -> Result<Response> {
    let id = skill_request(&shared, &headers, &version, &skill)?;
    Ok(axum::Json(json!({
        "skillId": id,
        "skillName": skill_name(id),
        "mediaTypeId": 4,
        "mediaTypeName": "Phone Call",
        "isActive": true,
        "isOutbound": true,
        "outboundStrategy": "Manual",
        "isRunning": false,
        "campaignId": 0,
        "campaignName": "",
        "notes": "",
        "acwTypeId": 1,
        "maxSecondsACW": 0,
        "requireDisposition": false,
        "allowSecondaryDisposition": false,
        "agentRestTime": 0,
        "TenantId": shared.config.cxone.tenant_id,
        "dispositions": dispositions_of(),
    }))
    .into_response())
}

/// `GET P/skills/{skillId}/dispositions`.
pub(super) async fn dispositions(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Params((version, skill)): Params<(String, String)>,
) -> Result<Response> {
    let id = skill_request(&shared, &headers, &version, &skill)?;
    let list = dispositions_of();
    Ok(axum::Json(json!({
        "_links": { "self": format!("/inContactAPI/services/{version}/skills/{id}/dispositions") },
        "skillId": id,
        "skillName": skill_name(id),
        "totalRecords": list.len(),
        "dispositions": list,
    }))
    .into_response())
}

/// `GET P/skills/{skillId}/tags`: under `resultSet`, where the SDK reads them.
pub(super) async fn tags(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Params((version, skill)): Params<(String, String)>,
) -> Result<Response> {
    let id = skill_request(&shared, &headers, &version, &skill)?;
    let tags = [(1, "Sandbox"), (2, "Smoke test")]
        .map(|(tag, name)| json!({ "tagId": tag, "tagName": name, "isActive": true, "notes": "" }));
    Ok(axum::Json(json!({
        "_links": { "self": format!("/inContactAPI/services/{version}/skills/{id}/tags") },
        "totalRecords": tags.len(),
        "resultSet": { "skillId": id, "skillName": skill_name(id), "tags": tags },
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skill_ids_are_positive_integers() {
        assert_eq!(skill_id("4242").ok(), Some(4242));
        assert!(skill_id("0").is_err());
        assert!(skill_id("abc").is_err());
    }
}
