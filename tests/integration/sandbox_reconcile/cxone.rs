//! CXone: the contact a `dial-phone` made, found in `contacts/active` while it is up and in
//! `contacts/completed` once it has ended and reporting has caught up.

use std::time::{Duration, Instant, SystemTime};

use callplan::sandbox::config::{Fault, FaultKind};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{ANSWER, BUSY, DEADLINE, config, read, rfc3339, sandbox};
use crate::Sandbox;
use crate::sandbox_cxone::{api as cxone_api, dial, start_session};

/// The agent the default CXone access key belongs to.
const AGENT: &str = "31337";

/// `GET P/{path}` with query pairs.
async fn contacts(
    sb: &Sandbox,
    token: &str,
    path: &str,
    pairs: &[(&str, String)],
) -> (StatusCode, Value) {
    let response = sb
        .http
        .get(cxone_api(sb, path))
        .query(pairs)
        .bearer_auth(token)
        .send()
        .await
        .expect("the sandbox answers");
    read(response).await
}

/// Repeats a listing until `done` holds for it.
async fn contacts_until(
    sb: &Sandbox,
    token: &str,
    path: &str,
    pairs: &[(&str, String)],
    done: impl Fn(StatusCode, &Value) -> bool,
) -> Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (status, body) = contacts(sb, token, path, pairs).await;
        if done(status, &body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "never satisfied; last: {status} {body:#}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A session with a call dialed to `number`, active; returns (token, session, contact id).
async fn dialed(sb: &Sandbox, number: &str) -> (String, String, u64) {
    let token = sb.cxone_token().await;
    let session = start_session(sb, &token).await;
    assert_eq!(dial(sb, &token, &session, number).await.status(), 202);
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let body = contacts_until(
        sb,
        &token,
        "/contacts/active",
        &[("toAddress", digits)],
        |s, _| s == 200,
    )
    .await;
    let id = body["activeContacts"][0]["contactId"]
        .as_u64()
        .expect("a contact id");
    (token, session, id)
}

async fn end_contact(sb: &Sandbox, token: &str, id: u64) {
    let response = sb
        .http
        .post(cxone_api(sb, &format!("/contacts/{id}/end")))
        .bearer_auth(token)
        .send()
        .await
        .expect("the sandbox answers");
    assert_eq!(response.status(), 202);
}

fn listed(body: &Value, key: &str) -> Vec<u64> {
    body[key]
        .as_array()
        .map(|cs| cs.iter().filter_map(|c| c["contactId"].as_u64()).collect())
        .unwrap_or_default()
}

/// Asserts CXone's empty answer: 204 and no body.
fn assert_empty(status: StatusCode, body: &Value) {
    assert_eq!(status, 204, "{body:#}");
    assert_eq!(body, &Value::Null);
}

#[tokio::test]
async fn a_contact_moves_from_active_to_completed_when_it_ends() {
    let sb = sandbox().await;
    let (token, _session, id) = dialed(&sb, ANSWER).await;
    let (status, body) = contacts(&sb, &token, "/contacts/completed", &[]).await;
    assert_empty(status, &body);
    let (_, active) = contacts(&sb, &token, "/contacts/active", &[]).await;
    let listed_active = &active["activeContacts"][0];
    assert_eq!(
        listed_active["contactStartDate"]
            .as_str()
            .map(|s| s.ends_with('Z')),
        Some(true)
    );
    assert!(listed_active["lastUpdateTime"].is_string());

    end_contact(&sb, &token, id).await;
    let (status, body) = contacts(&sb, &token, "/contacts/active", &[]).await;
    assert_empty(status, &body);
    let body = contacts_until(&sb, &token, "/contacts/completed", &[], |s, _| s == 200).await;
    assert_eq!(body["totalRecords"], 1, "{body:#}");
    assert_eq!(body["businessUnitId"], 4_600_001);
    assert!(body["_links"]["next"].is_null(), "{body:#}");
    let done = &body["completedContacts"][0];
    assert_eq!(done["contactId"], id);
    assert_eq!(done["masterContactId"], id);
    assert_eq!(done["toAddress"], ANSWER);
    assert_eq!(done["agentId"].to_string(), AGENT);
    assert_eq!(done["isOutbound"], true);
    assert_eq!(done["endReason"], "ForcedDisconnect");
    assert_eq!(done["abandoned"], false);
    assert!(done["totalDurationSeconds"].is_u64());
    for field in [
        "contactStartDate",
        "lastUpdateTime",
        "dateContactWarehoused",
    ] {
        assert!(
            done[field]
                .as_str()
                .is_some_and(|s| humantime::parse_rfc3339(s).is_ok()),
            "{field}: {done:#}"
        );
    }
    // `fields` trims the records.
    let (status, body) = contacts(
        &sb,
        &token,
        "/contacts/completed",
        &[("fields", "contactId,toAddress".into())],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["completedContacts"][0],
        json!({ "contactId": id, "toAddress": ANSWER })
    );
}

#[tokio::test]
async fn completed_contacts_filter_by_agent_address_and_time() {
    let sb = sandbox().await;
    let (token, session, first) = dialed(&sb, ANSWER).await;
    end_contact(&sb, &token, first).await;
    // A second contact from the same agent and session, to a busy number.
    assert_eq!(dial(&sb, &token, &session, BUSY).await.status(), 202);
    let both = contacts_until(&sb, &token, "/contacts/completed", &[], |s, b| {
        s == 200 && b["totalRecords"] == 2
    })
    .await;
    let all = listed(&both, "completedContacts");
    let busy = *all.iter().find(|c| **c != first).expect("the busy contact");
    let done = |id: u64| {
        both["completedContacts"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["contactId"] == id))
            .cloned()
            .expect("listed")
    };
    assert_eq!(done(busy)["endReason"], "Busy");
    assert_eq!(done(busy)["abandoned"], true);

    let check = |pairs: Vec<(&'static str, String)>, expected: Vec<u64>| {
        let sb = &sb;
        let token = token.clone();
        async move {
            let (status, body) = contacts(sb, &token, "/contacts/completed", &pairs).await;
            if expected.is_empty() {
                assert_empty(status, &body);
            } else {
                assert_eq!(status, 200, "{pairs:?}: {body:#}");
                assert_eq!(listed(&body, "completedContacts"), expected, "{pairs:?}");
            }
        }
    };
    let hour = Duration::from_secs(3600);
    let now = SystemTime::now();
    check(vec![("agentId", AGENT.into())], vec![first, busy]).await;
    check(vec![("agentId", "4242".into())], vec![]).await;
    check(vec![("toAddress", "13175550100".into())], vec![first]).await;
    check(vec![("toAddress", BUSY.into())], vec![busy]).await;
    check(vec![("toAddress", "+13175550199".into())], vec![]).await;
    check(
        vec![
            ("startDate", rfc3339(now - hour)),
            ("endDate", rfc3339(now + hour)),
            ("agentId", AGENT.into()),
            ("toAddress", ANSWER.into()),
        ],
        vec![first],
    )
    .await;
    check(vec![("startDate", rfc3339(now + hour))], vec![]).await;
    check(vec![("endDate", rfc3339(now - hour))], vec![]).await;
    check(vec![("updatedSince", rfc3339(now + hour))], vec![]).await;
    check(vec![("top", "1".into())], vec![first]).await;
    check(vec![("top", "1".into()), ("skip", "1".into())], vec![busy]).await;
    let (_, page) = contacts(&sb, &token, "/contacts/completed", &[("top", "1".into())]).await;
    assert_eq!(page["totalRecords"], 2, "every match, not just the page");
    let next = page["_links"]["next"].as_str().expect("a next link");
    assert!(next.contains("skip=1") && next.contains("top=1"), "{next}");

    // Dates must be dates, in order.
    for pairs in [
        vec![("startDate", "last tuesday".to_owned())],
        vec![
            ("startDate", rfc3339(now)),
            ("endDate", rfc3339(now - hour)),
        ],
    ] {
        let (status, body) = contacts(&sb, &token, "/contacts/completed", &pairs).await;
        assert_eq!(status, 400, "{body:#}");
        assert!(
            body["error"].is_string() && body["error_description"].is_string(),
            "{body:#}"
        );
    }
}

#[tokio::test]
async fn active_contacts_honour_agent_address_and_updated_since() {
    let sb = sandbox().await;
    let (token, _session, id) = dialed(&sb, ANSWER).await;
    let hour = Duration::from_secs(3600);
    let now = SystemTime::now();
    for (pairs, found) in [
        (vec![("agentId", AGENT.to_owned())], true),
        (vec![("agentId", "4242".to_owned())], false),
        (vec![("toAddress", ANSWER.to_owned())], true),
        (vec![("toAddress", "+13175550199".to_owned())], false),
        (vec![("updatedSince", rfc3339(now - hour))], true),
        (vec![("updatedSince", rfc3339(now + hour))], false),
    ] {
        let (status, body) = contacts(&sb, &token, "/contacts/active", &pairs).await;
        if found {
            assert_eq!(status, 200, "{pairs:?}: {body:#}");
            assert_eq!(listed(&body, "activeContacts"), [id], "{pairs:?}");
        } else {
            assert_empty(status, &body);
        }
    }
    let (status, body) = contacts(
        &sb,
        &token,
        "/contacts/active",
        &[("updatedSince", "soon".into())],
    )
    .await;
    assert_eq!(status, 400, "{body:#}");
}

#[tokio::test]
async fn a_contact_reaches_completed_only_after_the_reporting_delay() {
    // 3000 virtual seconds at a time scale of 0.001: three real seconds.
    let delay = Duration::from_secs(3);
    let sb = Sandbox::start(config(Duration::from_secs(2), Duration::from_secs(3000))).await;
    let (token, _session, id) = dialed(&sb, ANSWER).await;
    let ended = Instant::now();
    end_contact(&sb, &token, id).await;
    // In neither list meanwhile.
    let (active_status, active) = contacts(&sb, &token, "/contacts/active", &[]).await;
    let (completed_status, completed) = contacts(&sb, &token, "/contacts/completed", &[]).await;
    assert!(
        ended.elapsed() < delay,
        "the machine is too slow to ask in time"
    );
    assert_empty(active_status, &active);
    assert_empty(completed_status, &completed);

    let body = contacts_until(&sb, &token, "/contacts/completed", &[], |s, _| s == 200).await;
    assert!(
        ended.elapsed() >= delay,
        "listed after {:?}",
        ended.elapsed()
    );
    assert_eq!(listed(&body, "completedContacts"), [id]);
}

#[tokio::test]
async fn faults_on_completed_contacts_answer_cxone_errors() {
    let sb = sandbox().await;
    let token = sb.cxone_token().await;
    for status in [401, 403] {
        sb.sandbox
            .add_fault(Fault {
                status: Some(status),
                ..Fault::new(
                    "GET /inContactAPI/services/{version}/contacts/completed",
                    FaultKind::Status,
                )
            })
            .expect("a valid fault");
        let response = sb
            .http
            .get(cxone_api(&sb, "/contacts/completed"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("answer");
        let status_text = response
            .headers()
            .get("icStatusDescription")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let (got, body) = read(response).await;
        assert_eq!(got.as_u16(), status, "{body:#}");
        let description = body["error_description"].as_str().expect("a description");
        assert!(body["error"].is_string(), "{body:#}");
        assert_eq!(status_text.as_deref(), Some(description));
    }
    let (status, body) = contacts(&sb, &token, "/contacts/completed", &[]).await;
    assert_empty(status, &body);
}
