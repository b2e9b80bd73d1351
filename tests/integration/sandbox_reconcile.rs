//! The sandbox answers the read-only lookups with which a resumed campaign finds a call whose
//! create answer was lost, spoken to over HTTP as a client would: Genesys's analytics
//! conversation-detail query here, CXone's active and completed contact listings in [`cxone`].

mod cxone;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use callplan::sandbox::Config;
use callplan::sandbox::config::{DEFAULT_USER_ID, Fault, FaultKind, RateLimit};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{Sandbox, fast_config};

const QUERY: &str = "/api/v2/analytics/conversations/details/query";
const ANSWER: &str = "+13175550100";
const BUSY: &str = "+13175550101";
/// Other numbers that answer (any number not scripted otherwise does).
const ANSWER_2: &str = "+13175550105";
const ANSWER_3: &str = "+13175550106";
/// How long any wait may take before the test fails: far past every scripted moment.
const DEADLINE: Duration = Duration::from_secs(20);

/// [`fast_config`] without rate limits (the tests poll) and with the given indexing delays, in
/// virtual time (the time scale is 0.001: 1000 s is one real second).
fn config(analytics_delay: Duration, completed_delay: Duration) -> Config {
    let mut config = fast_config();
    config.genesys.rate_limit = None;
    config.genesys.analytics_delay = analytics_delay;
    config.cxone.completed_delay = completed_delay;
    config
}

/// The default delays, scaled to milliseconds.
async fn sandbox() -> Sandbox {
    Sandbox::start(config(Duration::from_secs(2), Duration::from_secs(1))).await
}

/// A status and a JSON body (`Null` when empty).
async fn read(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("a body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text)
            .map_err(|e| format!("{e}: {text}"))
            .expect("a JSON body")
    };
    (status, body)
}

async fn query(sb: &Sandbox, token: &str, body: &Value) -> (StatusCode, Value) {
    let response = sb
        .http
        .post(sb.url(QUERY))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("the sandbox answers");
    read(response).await
}

/// A query that must succeed.
async fn ok(sb: &Sandbox, token: &str, body: &Value) -> Value {
    let (status, answer) = query(sb, token, body).await;
    assert_eq!(status, 200, "{answer:#}");
    answer
}

/// Repeats a query until `done` holds for its answer; fails after [`DEADLINE`].
async fn until(sb: &Sandbox, token: &str, body: &Value, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let answer = ok(sb, token, body).await;
        if done(&answer) {
            return answer;
        }
        assert!(
            Instant::now() < deadline,
            "never satisfied; last answer:\n{answer:#}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Places a call on behalf of the default agent with a client-credentials token.
async fn place(sb: &Sandbox, token: &str, number: &str) -> String {
    let response = sb
        .http
        .post(sb.url(&format!(
            "/api/v2/conversations/calls/user/{DEFAULT_USER_ID}"
        )))
        .bearer_auth(token)
        .json(&json!({ "phoneNumber": number }))
        .send()
        .await
        .expect("the sandbox answers");
    let (status, body) = read(response).await;
    assert_eq!(status, 200, "{body:#}");
    body["id"].as_str().expect("a conversation id").to_owned()
}

async fn teardown(sb: &Sandbox, token: &str, id: &str) {
    let response = sb
        .http
        .post(sb.url(&format!("/api/v2/conversations/{id}/disconnect")))
        .bearer_auth(token)
        .send()
        .await
        .expect("the sandbox answers");
    assert_eq!(response.status(), 202);
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// An interval from `back` ago to `ahead` from now.
fn around_now(back: Duration, ahead: Duration) -> String {
    let now = SystemTime::now();
    format!("{}/{}", rfc3339(now - back), rfc3339(now + ahead))
}

/// The reconcile query: calls to `dnis` placed by the default agent, in the last hour.
fn reconcile(dnis: &str) -> Value {
    json!({
        "interval": around_now(Duration::from_secs(3600), Duration::from_secs(60)),
        "order": "desc",
        "orderBy": "conversationStart",
        "paging": { "pageSize": 25, "pageNumber": 1 },
        "segmentFilters": [{ "type": "and", "predicates": [
            { "type": "dimension", "dimension": "userId", "operator": "matches", "value": DEFAULT_USER_ID },
            { "type": "dimension", "dimension": "mediaType", "operator": "matches", "value": "voice" },
            { "type": "dimension", "dimension": "direction", "operator": "matches", "value": "outbound" },
            { "type": "dimension", "dimension": "dnis", "operator": "matches", "value": dnis },
        ]}],
    })
}

/// The default agent's calls in the last hour, with more predicates.
fn by_user(more: Value) -> Value {
    let mut predicates = vec![json!({ "dimension": "userId", "value": DEFAULT_USER_ID })];
    predicates.extend(more.as_array().cloned().unwrap_or_default());
    json!({
        "interval": around_now(Duration::from_secs(3600), Duration::from_secs(60)),
        "segmentFilters": [{ "type": "and", "predicates": predicates }],
    })
}

/// One conversation id, as [`ids`] lists it.
fn only(id: &str) -> Vec<String> {
    vec![id.to_owned()]
}

/// The conversation ids of an answer, in order.
fn ids(answer: &Value) -> Vec<String> {
    answer["conversations"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| c["conversationId"].as_str().expect("an id").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn conversation<'a>(answer: &'a Value, id: &str) -> &'a Value {
    answer["conversations"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["conversationId"] == id))
        .ok_or_else(|| format!("{id} is not in {answer:#}"))
        .expect("the conversation")
}

fn participant<'a>(conversation: &'a Value, purpose: &str) -> &'a Value {
    conversation["participants"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["purpose"] == purpose))
        .ok_or_else(|| format!("no {purpose} participant in {conversation:#}"))
        .expect("the participant")
}

/// Every segment of a participant.
fn segments(participant: &Value) -> Vec<&Value> {
    participant["sessions"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["segments"].as_array().into_iter().flatten())
        .collect()
}

/// Asserts a Genesys `ErrorBody` with `status` and `code`; returns it.
fn assert_error(status: StatusCode, body: &Value, expected: u16, code: &str) -> Value {
    assert_eq!(status.as_u16(), expected, "{body:#}");
    assert_eq!(body["code"], code, "{body:#}");
    assert_eq!(body["status"], expected, "{body:#}");
    assert!(
        body["contextId"].as_str().is_some_and(|c| !c.is_empty()),
        "{body:#}"
    );
    assert!(
        body["details"].is_array() && body["errors"].is_array(),
        "{body:#}"
    );
    body.clone()
}

// ---------------------------------------------------------------------------------------------
// Genesys: the analytics conversation-detail query

#[tokio::test]
async fn a_placed_call_is_found_by_user_dnis_direction_and_media_type() {
    let sb = sandbox().await;
    let token = sb.genesys_token().await;
    let id = place(&sb, &token, ANSWER).await;

    // Both spellings of the number find it; the answer has the SDK models' shape.
    for dnis in ["tel:+13175550100", "+13175550100"] {
        let answer = until(&sb, &token, &reconcile(dnis), |a| ids(a) == only(&id)).await;
        assert_eq!(answer["totalHits"], 1, "{answer:#}");
    }
    let answer = ok(&sb, &token, &reconcile(ANSWER)).await;
    let found = conversation(&answer, &id);
    assert_eq!(found["originatingDirection"], "outbound");
    let start = found["conversationStart"].as_str().expect("a start");
    assert!(
        humantime::parse_rfc3339(start).is_ok() && start.ends_with('Z'),
        "{start}"
    );
    assert!(found.get("conversationEnd").is_none(), "live: {found:#}");

    let user = participant(found, "user");
    assert_eq!(user["userId"], DEFAULT_USER_ID);
    assert_eq!(user["participantName"], "Sandbox Agent");
    assert!(user["participantId"].is_string());
    let customer = participant(found, "customer");
    assert!(customer.get("userId").is_none());
    for party in [user, customer] {
        let session = &party["sessions"][0];
        assert_eq!(session["mediaType"], "voice", "{party:#}");
        assert_eq!(session["direction"], "outbound", "{party:#}");
        assert_eq!(session["dnis"], "tel:+13175550100", "{party:#}");
        assert!(session["sessionId"].is_string(), "{party:#}");
        let segments = segments(party);
        assert!(!segments.is_empty(), "{party:#}");
        assert!(segments.iter().all(|s| s["segmentStart"].is_string()));
        assert!(
            segments
                .last()
                .is_some_and(|s| s.get("segmentEnd").is_none()),
            "{party:#}"
        );
    }

    // The live call's participant ids are the analytics participant ids.
    let live = sb
        .http
        .get(sb.url(&format!("/api/v2/conversations/calls/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get the call");
    let (_, live) = read(live).await;
    let live_ids: Vec<&Value> = live["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .map(|p| &p["id"])
        .collect();
    assert!(
        live_ids.contains(&&user["participantId"])
            && live_ids.contains(&&customer["participantId"])
    );

    // A user token queries too; another number, user or direction finds nothing, and an empty
    // answer is `{"totalHits": 0}` alone.
    let as_user = ok(&sb, "sandbox-user-token", &reconcile(ANSWER)).await;
    assert_eq!(ids(&as_user), only(&id));
    let none = ok(&sb, &token, &reconcile("+13175550199")).await;
    assert_eq!(none, json!({ "totalHits": 0 }));
    let inbound = ok(
        &sb,
        &token,
        &by_user(json!([{ "dimension": "direction", "value": "inbound" }])),
    )
    .await;
    assert_eq!(inbound, json!({ "totalHits": 0 }));
    let mut other_user = reconcile(ANSWER);
    other_user["segmentFilters"][0]["predicates"][0]["value"] =
        json!("00000000-0000-4000-8000-000000000009");
    assert_eq!(ok(&sb, &token, &other_user).await["totalHits"], 0);

    // The conversation id, as a conversation filter.
    let by_id = json!({
        "interval": around_now(Duration::from_secs(3600), Duration::from_secs(60)),
        "conversationFilters": [{ "type": "or", "predicates": [
            { "type": "dimension", "dimension": "conversationId", "operator": "matches", "value": id },
        ]}],
    });
    assert_eq!(ids(&ok(&sb, &token, &by_id).await), only(&id));
}

#[tokio::test]
async fn a_call_shows_up_only_once_the_indexing_delay_has_passed() {
    // 3000 virtual seconds at a time scale of 0.001: three real seconds.
    let delay = Duration::from_secs(3);
    let sb = Sandbox::start(config(Duration::from_secs(3000), Duration::from_secs(1))).await;
    let token = sb.genesys_token().await;
    let before = Instant::now();
    let id = place(&sb, &token, ANSWER).await;
    let early = ok(&sb, &token, &reconcile(ANSWER)).await;
    assert!(
        before.elapsed() < delay,
        "the machine is too slow to ask in time"
    );
    assert_eq!(early, json!({ "totalHits": 0 }));
    // The live call exists all along.
    let live = sb
        .http
        .get(sb.url(&format!("/api/v2/conversations/calls/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get the call");
    assert_eq!(live.status(), 200);

    until(&sb, &token, &reconcile(ANSWER), |a| ids(a) == only(&id)).await;
    assert!(
        before.elapsed() >= delay,
        "found after {:?}",
        before.elapsed()
    );
}

#[tokio::test]
async fn live_and_ended_calls_are_told_apart_by_segment_end() {
    let sb = sandbox().await;
    let token = sb.genesys_token().await;
    let live = place(&sb, &token, ANSWER).await;
    let busy = place(&sb, &token, BUSY).await;
    let everything = by_user(json!([]));
    let active = by_user(json!([
        { "type": "dimension", "dimension": "segmentEnd", "operator": "notExists", "value": null },
    ]));

    // The busy call ends in a millisecond; the answered one stays up.
    let answer = until(&sb, &token, &everything, |a| {
        a["totalHits"] == 2 && conversation(a, &busy).get("conversationEnd").is_some()
    })
    .await;
    let ended = conversation(&answer, &busy);
    let customer = participant(ended, "customer");
    let last = *segments(customer).last().expect("a segment");
    assert!(last["segmentEnd"].is_string(), "{customer:#}");
    assert_eq!(last["disconnectType"], "endpoint", "{customer:#}");
    assert_eq!(
        last["segmentType"], "dialing",
        "never answered: {customer:#}"
    );
    let user_last = *segments(participant(ended, "user"))
        .last()
        .expect("a segment");
    assert_eq!(user_last["disconnectType"], "peer");
    assert_eq!(ids(&ok(&sb, &token, &active).await), only(&live));

    // The answered call went from dialing to interact.
    let answer = until(&sb, &token, &active, |a| {
        let c = conversation(a, &live);
        segments(participant(c, "customer"))
            .iter()
            .any(|s| s["segmentType"] == "interact")
    })
    .await;
    let kinds: Vec<&Value> = segments(participant(conversation(&answer, &live), "customer"))
        .iter()
        .map(|s| &s["segmentType"])
        .collect();
    assert_eq!(kinds, [&json!("dialing"), &json!("interact")]);

    // Torn down, it is no longer active, and it has ended.
    teardown(&sb, &token, &live).await;
    assert_eq!(ok(&sb, &token, &active).await, json!({ "totalHits": 0 }));
    let answer = ok(&sb, &token, &everything).await;
    let over = conversation(&answer, &live);
    assert!(over["conversationEnd"].is_string(), "{over:#}");
    assert_eq!(
        segments(participant(over, "customer"))
            .last()
            .expect("a segment")["disconnectType"],
        "system"
    );
    let ended_only = json!({
        "interval": around_now(Duration::from_secs(3600), Duration::from_secs(60)),
        "conversationFilters": [{ "type": "and", "predicates": [
            { "dimension": "conversationEnd", "operator": "exists" },
        ]}],
    });
    assert_eq!(ok(&sb, &token, &ended_only).await["totalHits"], 2);
}

/// Midnight UTC of the day a timestamp falls on.
fn day_start(timestamp: &str) -> SystemTime {
    let t = humantime::parse_rfc3339(timestamp).expect("an RFC 3339 timestamp");
    let secs = t.duration_since(UNIX_EPOCH).expect("after 1970").as_secs();
    UNIX_EPOCH + Duration::from_secs(secs / 86_400 * 86_400)
}

#[tokio::test]
async fn the_interval_takes_the_whole_days_it_touches() {
    let sb = sandbox().await;
    let token = sb.genesys_token().await;
    let id = place(&sb, &token, ANSWER).await;
    let answer = until(&sb, &token, &reconcile(ANSWER), |a| a["totalHits"] == 1).await;
    let midnight = day_start(
        conversation(&answer, &id)["conversationStart"]
            .as_str()
            .expect("a start"),
    );
    let within = |interval: String| {
        let mut body = reconcile(ANSWER);
        body["interval"] = json!(interval);
        body
    };
    let day = Duration::from_secs(86_400);

    // Days before the call's: not there.
    let before = within(format!(
        "{}/{}",
        rfc3339(midnight - 2 * day),
        rfc3339(midnight)
    ));
    assert_eq!(ok(&sb, &token, &before).await, json!({ "totalHits": 0 }));
    // The day after: not there either.
    let after = within(format!(
        "{}/{}",
        rfc3339(midnight + day),
        rfc3339(midnight + 2 * day)
    ));
    assert_eq!(ok(&sb, &token, &after).await, json!({ "totalHits": 0 }));
    // The first second of its day touches that day: there, though it started later (Genesys's
    // rule; a client compares conversationStart itself).
    let same_day = within(format!(
        "{}/{}",
        rfc3339(midnight),
        rfc3339(midnight + Duration::from_secs(1))
    ));
    assert_eq!(ids(&ok(&sb, &token, &same_day).await), only(&id));
    // Offsets and the documented form without one read as well.
    let no_offset = within(format!(
        "{}/{}",
        humantime::format_rfc3339_seconds(midnight)
            .to_string()
            .trim_end_matches('Z'),
        humantime::format_rfc3339_seconds(midnight + day)
            .to_string()
            .trim_end_matches('Z'),
    ));
    assert_eq!(ids(&ok(&sb, &token, &no_offset).await), only(&id));

    // The interval is required, well-formed, ordered and at most 31 days long.
    for interval in [
        None,
        Some("yesterday/today".to_owned()),
        Some(rfc3339(midnight)),
        Some(format!("{}/{}", rfc3339(midnight + day), rfc3339(midnight))),
        Some(format!(
            "{}/{}",
            rfc3339(midnight - 40 * day),
            rfc3339(midnight)
        )),
    ] {
        let mut body = reconcile(ANSWER);
        match &interval {
            Some(text) => body["interval"] = json!(text),
            None => {
                body.as_object_mut().expect("an object").remove("interval");
            }
        }
        let (status, error) = query(&sb, &token, &body).await;
        let error = assert_error(status, &error, 400, "bad.request");
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| m.contains("nterval")),
            "{interval:?}: {error:#}"
        );
    }
}

#[tokio::test]
async fn pages_come_in_order_with_the_total() {
    let sb = sandbox().await;
    let token = sb.genesys_token().await;
    let mut placed = Vec::new();
    for number in [ANSWER, ANSWER_2, ANSWER_3] {
        placed.push(place(&sb, &token, number).await);
    }
    let page = |order: &str, size: u64, number: u64| {
        let mut body = by_user(json!([]));
        body["order"] = json!(order);
        body["paging"] = json!({ "pageSize": size, "pageNumber": number });
        body
    };
    until(&sb, &token, &by_user(json!([])), |a| a["totalHits"] == 3).await;

    let first = ok(&sb, &token, &page("asc", 2, 1)).await;
    assert_eq!(first["totalHits"], 3);
    assert_eq!(ids(&first), placed[..2]);
    let second = ok(&sb, &token, &page("asc", 2, 2)).await;
    assert_eq!(second["totalHits"], 3);
    assert_eq!(ids(&second), placed[2..]);
    assert_eq!(
        ok(&sb, &token, &page("asc", 2, 3)).await,
        json!({ "totalHits": 3 })
    );
    let newest_first: Vec<String> = placed.iter().rev().cloned().collect();
    assert_eq!(
        ids(&ok(&sb, &token, &page("desc", 25, 1)).await),
        newest_first
    );
    // No order, no paging: ascending, 25 a page.
    assert_eq!(ids(&ok(&sb, &token, &by_user(json!([]))).await), placed);
    assert_eq!(
        ids(&ok(&sb, &token, &page("unordered", 25, 1)).await),
        placed
    );

    // By end: the ended call first, the live ones after it (in the order they were placed).
    teardown(&sb, &token, &placed[1]).await;
    let mut by_end = by_user(json!([]));
    by_end["orderBy"] = json!("conversationEnd");
    assert_eq!(
        ids(&ok(&sb, &token, &by_end).await),
        [placed[1].clone(), placed[0].clone(), placed[2].clone()]
    );
    by_end["order"] = json!("desc");
    assert_eq!(
        ids(&ok(&sb, &token, &by_end).await),
        [placed[2].clone(), placed[0].clone(), placed[1].clone()]
    );

    for paging in [
        json!({ "pageSize": 0 }),
        json!({ "pageSize": 101 }),
        json!({ "pageNumber": 0 }),
    ] {
        let mut body = by_user(json!([]));
        body["paging"] = paging;
        let (status, error) = query(&sb, &token, &body).await;
        assert_error(status, &error, 400, "bad.request");
    }
}

#[tokio::test]
async fn bad_queries_get_genesys_errors() {
    let sb = sandbox().await;
    let token = sb.genesys_token().await;
    // An unknown dimension is named.
    let (status, error) = query(
        &sb,
        &token,
        &by_user(json!([{ "dimension": "shoeSize", "value": "9" }])),
    )
    .await;
    let error = assert_error(status, &error, 400, "bad.request");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("[shoeSize]")),
        "{error:#}"
    );
    // A known dimension the sandbox does not record simply matches nothing.
    let flow = ok(
        &sb,
        &token,
        &by_user(json!([{ "dimension": "flowId", "operator": "exists" }])),
    )
    .await;
    assert_eq!(flow, json!({ "totalHits": 0 }));
    // Enum values the model does not have.
    let mut body = by_user(json!([]));
    body["order"] = json!("sideways");
    let (status, error) = query(&sb, &token, &body).await;
    assert_error(status, &error, 400, "bad.request");
    // No body.
    let response = sb
        .http
        .post(sb.url(QUERY))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .send()
        .await
        .expect("answer");
    let (status, error) = read(response).await;
    assert_error(status, &error, 400, "bad.request");
    // No token, or a wrong one.
    let response = sb
        .http
        .post(sb.url(QUERY))
        .json(&by_user(json!([])))
        .send()
        .await
        .expect("answer");
    let (status, error) = read(response).await;
    assert_error(status, &error, 401, "authentication.required");
    let (status, error) = query(&sb, "not-a-token", &by_user(json!([]))).await;
    assert_error(status, &error, 401, "bad.credentials");
}

#[tokio::test]
async fn a_403_fault_names_the_permissions_the_query_needs() {
    let sb = sandbox().await;
    let token = sb.genesys_token().await;
    sb.sandbox
        .add_fault(Fault {
            status: Some(403),
            ..Fault::new(format!("POST {QUERY}"), FaultKind::Status)
        })
        .expect("a valid fault");
    let (status, error) = query(&sb, &token, &by_user(json!([]))).await;
    let error = assert_error(status, &error, 403, "missing.any.permissions");
    let message = error["message"].as_str().expect("a message");
    for permission in [
        "analytics:conversationDetail:view",
        "analytics:agentConversationDetail:view",
    ] {
        assert!(message.contains(permission), "{message}");
        assert!(
            error["messageParams"]["permissions"]
                .as_str()
                .is_some_and(|p| p.contains(permission)),
            "{error:#}"
        );
    }
    assert!(
        error["messageWithParams"]
            .as_str()
            .is_some_and(|m| m.contains("{permissions}"))
    );
    // One request only; the next is answered.
    let (status, _) = query(&sb, &token, &by_user(json!([]))).await;
    assert_eq!(status, 200);
    // Other statuses keep their generic bodies.
    sb.sandbox
        .add_fault(Fault {
            status: Some(503),
            ..Fault::new(format!("POST {QUERY}"), FaultKind::Status)
        })
        .expect("a valid fault");
    let (status, error) = query(&sb, &token, &by_user(json!([]))).await;
    assert_error(status, &error, 503, "service.unavailable");
}

#[tokio::test]
async fn queries_count_against_the_token_rate_limit() {
    let mut config = config(Duration::from_secs(2), Duration::from_secs(1));
    config.genesys.rate_limit = Some(RateLimit {
        requests: 2,
        per: Duration::from_secs(60),
        burst: None,
    });
    let sb = Sandbox::start(config).await;
    let token = sb.genesys_token().await;
    place(&sb, &token, ANSWER).await;
    let (status, _) = query(&sb, &token, &by_user(json!([]))).await;
    assert_eq!(status, 200);
    let (status, error) = query(&sb, &token, &by_user(json!([]))).await;
    assert_error(status, &error, 429, "too.many.requests");
}
