//! The sandbox's Genesys Cloud endpoints, spoken to over HTTP as a client would: status codes,
//! error codes, body shapes, headers, scripted call outcomes and the ledger.

use std::time::{Duration, Instant};

use callplan::sandbox::config::{DEFAULT_USER_ID, NO_STATION_USER_ID};
use callplan::sandbox::script::{EndReason, Outcome};
use callplan::sandbox::{Config, LedgerEntry};
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

use crate::{Sandbox, fast_config};

/// The default agent's user-context token.
const USER_TOKEN: &str = "sandbox-user-token";
/// The token of the default agent without a station.
const NO_STATION_TOKEN: &str = "sandbox-user-token-no-station";

const ANSWER: &str = "+13175550100";
const BUSY: &str = "+13175550101";
const NO_ANSWER: &str = "+13175550102";
const INVALID: &str = "+13175550103";
const HANGUP: &str = "+13175550104";

/// How long any wait may take before the test fails (far longer than any scripted moment).
const DEADLINE: Duration = Duration::from_secs(5);

/// [`fast_config`] without the per-token rate limit: tests that poll a call would otherwise
/// spend the 300 requests a minute on a slow machine.
fn unlimited() -> Config {
    let mut config = fast_config();
    config.genesys.rate_limit = None;
    config
}

/// A response, read whole.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .map_err(|e| format!("{e}: {:?} (status {})", self.text, self.status))
            .expect("a JSON body")
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn correlation_id(&self) -> &str {
        self.header("inin-correlation-id")
            .ok_or_else(|| format!("{:?}", self.headers))
            .expect("an inin-correlation-id header")
    }

    /// Asserts a Platform API `ErrorBody` with `status` and `code`, tied to the response's
    /// correlation id; returns the body.
    fn assert_error(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status, status, "{}", self.text);
        let body = self.json();
        assert_eq!(body["code"], code, "{body:#}");
        assert_eq!(body["status"], status, "{body:#}");
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body:#}"
        );
        assert_eq!(body["contextId"], self.correlation_id(), "{body:#}");
        assert!(body["details"].is_array(), "{body:#}");
        assert!(body["errors"].is_array(), "{body:#}");
        body
    }

    /// Asserts a login host error: `{error, description, error_description}`.
    fn assert_login_error(&self, status: u16, error: &str) -> Value {
        assert_eq!(self.status, status, "{}", self.text);
        let body = self.json();
        assert_eq!(body["error"], error, "{body:#}");
        let description = body["description"].as_str().unwrap_or_default();
        assert!(!description.is_empty(), "{body:#}");
        assert_eq!(body["error_description"], description, "{body:#}");
        self.correlation_id();
        body
    }
}

async fn send(request: RequestBuilder) -> Reply {
    let response = request.send().await.expect("the sandbox answers");
    Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        text: response.text().await.expect("a body"),
    }
}

/// A request to the sandbox with a bearer token.
fn api(sb: &Sandbox, method: Method, path: &str, token: &str) -> RequestBuilder {
    sb.http.request(method, sb.url(path)).bearer_auth(token)
}

async fn get(sb: &Sandbox, path: &str, token: &str) -> Reply {
    send(api(sb, Method::GET, path, token)).await
}

async fn post(sb: &Sandbox, path: &str, token: &str, body: Value) -> Reply {
    send(api(sb, Method::POST, path, token).json(&body)).await
}

async fn login_form(sb: &Sandbox, pairs: &[(&str, &str)]) -> Reply {
    send(sb.http.post(sb.url("/oauth/token")).form(pairs)).await
}

/// Places a call from the default agent's station; returns the conversation id.
async fn place(sb: &Sandbox, number: &str) -> String {
    let reply = post(
        sb,
        "/api/v2/conversations/calls",
        USER_TOKEN,
        json!({ "phoneNumber": number }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["id"]
        .as_str()
        .expect("a conversation id")
        .to_owned()
}

async fn get_call(sb: &Sandbox, id: &str) -> Value {
    let reply = get(sb, &format!("/api/v2/conversations/calls/{id}"), USER_TOKEN).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()
}

/// Reads a call until `done` holds for it; fails after [`DEADLINE`].
async fn poll_call(sb: &Sandbox, id: &str, mut done: impl FnMut(&Value) -> bool) -> Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let call = get_call(sb, id).await;
        if done(&call) {
            return call;
        }
        assert!(
            Instant::now() < deadline,
            "call {id} never reached the expected state; last seen:\n{call:#}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The participant with `purpose` (`customer`, `user`).
fn party<'a>(call: &'a Value, purpose: &str) -> &'a Value {
    call["participants"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["purpose"] == purpose))
        .ok_or_else(|| format!("no {purpose} participant in {call:#}"))
        .expect("the participant")
}

fn customer_state(call: &Value) -> String {
    party(call, "customer")["state"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn ledger_entry(sb: &Sandbox, id: &str) -> LedgerEntry {
    sb.sandbox
        .ledger()
        .into_iter()
        .find(|e| e.id == id)
        .ok_or_else(|| format!("{id} is not in the ledger"))
        .expect("a ledger entry")
}

// ---------------------------------------------------------------------------------------------
// Login and tokens

#[tokio::test]
async fn login_takes_basic_auth_or_form_credentials() {
    let sb = Sandbox::fast().await;
    let basic = send(
        sb.http
            .post(sb.url("/oauth/token"))
            .basic_auth("sandbox-client", Some("sandbox-secret"))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    let form = login_form(
        &sb,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "sandbox-client"),
            ("client_secret", "sandbox-secret"),
        ],
    )
    .await;
    for reply in [&basic, &form] {
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert!(
            reply
                .header("content-type")
                .is_some_and(|t| t.starts_with("application/json"))
        );
        reply.correlation_id();
        let body = reply.json();
        assert_eq!(body["token_type"], "bearer");
        assert_eq!(body["expires_in"], 86_400);
        let token = body["access_token"].as_str().expect("a token");
        assert_eq!(token.len(), 43, "{token}");
        assert_eq!(get(&sb, "/api/v2/tokens/me", token).await.status, 200);
    }
    assert_ne!(basic.json()["access_token"], form.json()["access_token"]);
}

#[tokio::test]
async fn token_lifetime_comes_from_the_configuration() {
    let mut config = fast_config();
    config.genesys.token_lifetime = Duration::from_secs(90);
    let sb = Sandbox::start(config).await;
    let reply = login_form(
        &sb,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "sandbox-client"),
            ("client_secret", "sandbox-secret"),
        ],
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["expires_in"], 90);
}

#[tokio::test]
async fn login_refuses_bad_credentials_grants_and_content_types() {
    let sb = Sandbox::fast().await;
    let bad_secret = send(
        sb.http
            .post(sb.url("/oauth/token"))
            .basic_auth("sandbox-client", Some("wrong"))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await;
    bad_secret.assert_login_error(401, "invalid_client");
    let unknown_client = login_form(
        &sb,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "nobody"),
            ("client_secret", "sandbox-secret"),
        ],
    )
    .await;
    unknown_client.assert_login_error(401, "invalid_client");
    let no_credentials = login_form(&sb, &[("grant_type", "client_credentials")]).await;
    no_credentials.assert_login_error(401, "invalid_client");

    let password = send(
        sb.http
            .post(sb.url("/oauth/token"))
            .basic_auth("sandbox-client", Some("sandbox-secret"))
            .form(&[
                ("grant_type", "password"),
                ("username", "a"),
                ("password", "b"),
            ]),
    )
    .await;
    password.assert_login_error(400, "unsupported_grant_type");
    let no_grant = send(
        sb.http
            .post(sb.url("/oauth/token"))
            .basic_auth("sandbox-client", Some("sandbox-secret"))
            .form(&[("scope", "all")]),
    )
    .await;
    no_grant.assert_login_error(400, "invalid_request");
    let as_json = send(
        sb.http
            .post(sb.url("/oauth/token"))
            .basic_auth("sandbox-client", Some("sandbox-secret"))
            .json(&json!({ "grant_type": "client_credentials" })),
    )
    .await;
    as_json.assert_login_error(400, "invalid_request");
    let wrong_method = send(sb.http.get(sb.url("/oauth/token"))).await;
    wrong_method.assert_login_error(405, "invalid_request");
}

#[tokio::test]
async fn token_info_describes_verifies_and_revokes_a_token() {
    let sb = Sandbox::fast().await;
    let token = sb.genesys_token().await;

    let info = get(&sb, "/api/v2/tokens/me", &token).await;
    assert_eq!(info.status, 200, "{}", info.text);
    let body = info.json();
    assert!(body["organization"]["id"].is_string(), "{body:#}");
    assert!(body["organization"]["name"].is_string(), "{body:#}");
    assert_eq!(body["homeOrganization"], body["organization"]);
    assert_eq!(
        body["authorizedScope"],
        json!([]),
        "client credentials have no scopes"
    );
    assert_eq!(body["OAuthClient"]["id"], "sandbox-client");
    assert_eq!(body["OAuthClient"]["name"], "callplan sandbox client");

    let user = get(&sb, "/api/v2/tokens/me", USER_TOKEN).await.json();
    assert!(
        user["authorizedScope"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "a user token has scopes: {user:#}"
    );

    let head = send(api(&sb, Method::HEAD, "/api/v2/tokens/me", &token)).await;
    assert_eq!(head.status, 200);
    assert!(head.text.is_empty(), "HEAD has no body: {:?}", head.text);
    head.correlation_id();

    let revoke = send(api(&sb, Method::DELETE, "/api/v2/tokens/me", &token)).await;
    assert_eq!(revoke.status, 204, "{}", revoke.text);
    assert!(revoke.text.is_empty());

    get(&sb, "/api/v2/tokens/me", &token)
        .await
        .assert_error(401, "bad.credentials");
    let head = send(api(&sb, Method::HEAD, "/api/v2/tokens/me", &token)).await;
    assert_eq!(head.status, 401);
    get(&sb, &format!("/api/v2/users/{DEFAULT_USER_ID}"), &token)
        .await
        .assert_error(401, "bad.credentials");
    // Other tokens are untouched.
    let other = sb.genesys_token().await;
    assert_eq!(get(&sb, "/api/v2/tokens/me", &other).await.status, 200);
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let mut config = fast_config();
    config.genesys.token_lifetime = Duration::from_millis(50);
    let sb = Sandbox::start(config).await;
    let reply = login_form(
        &sb,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "sandbox-client"),
            ("client_secret", "sandbox-secret"),
        ],
    )
    .await;
    let body = reply.json();
    assert_eq!(body["expires_in"], 1, "rounded up to a whole second");
    let token = body["access_token"].as_str().expect("a token").to_owned();
    let deadline = Instant::now() + DEADLINE;
    loop {
        let info = get(&sb, "/api/v2/tokens/me", &token).await;
        if info.status == 401 {
            info.assert_error(401, "bad.credentials");
            break;
        }
        assert_eq!(info.status, 200, "{}", info.text);
        assert!(Instant::now() < deadline, "the token never expired");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn requests_without_a_valid_bearer_token_are_refused() {
    let sb = Sandbox::fast().await;
    let none = send(sb.http.get(sb.url("/api/v2/tokens/me"))).await;
    none.assert_error(401, "authentication.required");
    let basic = send(
        sb.http
            .get(sb.url("/api/v2/tokens/me"))
            .basic_auth("sandbox-client", Some("sandbox-secret")),
    )
    .await;
    basic.assert_error(401, "authentication.required");
    get(&sb, "/api/v2/tokens/me", "not-a-token")
        .await
        .assert_error(401, "bad.credentials");
    let call = send(
        sb.http
            .post(sb.url("/api/v2/conversations/calls"))
            .json(&json!({ "phoneNumber": ANSWER })),
    )
    .await;
    call.assert_error(401, "authentication.required");
    assert!(sb.sandbox.ledger().is_empty(), "nothing was dialed");
}

// ---------------------------------------------------------------------------------------------
// Placing calls

#[tokio::test]
async fn placing_a_call_needs_a_user_with_a_station_and_one_destination() {
    let sb = Sandbox::fast().await;
    let client = sb.genesys_token().await;
    let path = "/api/v2/conversations/calls";

    post(&sb, path, &client, json!({ "phoneNumber": ANSWER }))
        .await
        .assert_error(400, "not.a.user");
    post(
        &sb,
        path,
        NO_STATION_TOKEN,
        json!({ "phoneNumber": ANSWER }),
    )
    .await
    .assert_error(400, "conversation.error.no.user.station");
    post(
        &sb,
        path,
        USER_TOKEN,
        json!({ "phoneNumber": ANSWER, "callUserId": NO_STATION_USER_ID }),
    )
    .await
    .assert_error(400, "too.many.create.conversation.parameters");
    post(&sb, path, USER_TOKEN, json!({ "callerId": ANSWER }))
        .await
        .assert_error(400, "bad.request");
    send(api(&sb, Method::POST, path, USER_TOKEN))
        .await
        .assert_error(400, "bad.request");
    post(
        &sb,
        path,
        USER_TOKEN,
        json!({ "phoneNumber": "call me maybe" }),
    )
    .await
    .assert_error(400, "bad.request");
    assert!(sb.sandbox.ledger().is_empty(), "no refused call was dialed");

    let reply = post(&sb, path, USER_TOKEN, json!({ "phoneNumber": ANSWER })).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    let id = body["id"].as_str().expect("an id");
    uuid::Uuid::parse_str(id).expect("a UUID");
    assert_eq!(body["selfUri"], format!("/api/v2/conversations/calls/{id}"));
    assert_eq!(body.as_object().map(|o| o.len()), Some(2), "{body:#}");

    let ledger = sb.sandbox.ledger();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].id, id);
    assert_eq!(ledger[0].destination, ANSWER);
    assert_eq!(ledger[0].caller, DEFAULT_USER_ID);
    assert_eq!(ledger[0].outcome, Some(Outcome::Answer));
}

#[tokio::test]
async fn client_credentials_place_calls_on_behalf_of_a_user() {
    let sb = Sandbox::fast().await;
    let client = sb.genesys_token().await;

    let reply = post(
        &sb,
        &format!("/api/v2/conversations/calls/user/{DEFAULT_USER_ID}"),
        &client,
        json!({ "phoneNumber": ANSWER }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let id = reply.json()["id"].as_str().expect("an id").to_owned();
    let entry = ledger_entry(&sb, &id);
    assert_eq!(entry.caller, "sandbox-client", "placed by the client");
    assert_eq!(entry.destination, ANSWER);
    let call = get_call(&sb, &id).await;
    assert_eq!(party(&call, "user")["user"]["id"], DEFAULT_USER_ID);

    post(
        &sb,
        "/api/v2/conversations/calls/user/00000000-0000-4000-8000-00000000dead",
        &client,
        json!({ "phoneNumber": ANSWER }),
    )
    .await
    .assert_error(404, "general.resource.not.found");
    post(
        &sb,
        &format!("/api/v2/conversations/calls/user/{NO_STATION_USER_ID}"),
        &client,
        json!({ "phoneNumber": ANSWER }),
    )
    .await
    .assert_error(400, "conversation.error.no.user.station");
    assert_eq!(sb.sandbox.ledger().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Reading calls and scripted outcomes

#[tokio::test]
async fn a_call_reads_as_a_call_conversation_that_rings_then_connects() {
    let sb = Sandbox::start(unlimited()).await;
    let id = place(&sb, ANSWER).await;

    let order = ["dialing", "alerting", "connected"];
    let mut seen: Vec<String> = Vec::new();
    let call = poll_call(&sb, &id, |call| {
        let state = customer_state(call);
        if seen.last() != Some(&state) {
            seen.push(state.clone());
        }
        state == "connected"
    })
    .await;
    let positions: Vec<Option<usize>> = seen
        .iter()
        .map(|s| order.iter().position(|o| o == s))
        .collect();
    assert!(
        positions.iter().all(Option::is_some) && positions.is_sorted(),
        "states out of order or unknown: {seen:?}"
    );

    for key in [
        "id",
        "participants",
        "otherMediaUris",
        "recentTransfers",
        "recordingState",
        "maxParticipants",
        "securePause",
        "divisions",
        "selfUri",
    ] {
        assert!(call.get(key).is_some(), "no `{key}` in {call:#}");
    }
    assert_eq!(call["id"], id);
    assert_eq!(call["selfUri"], format!("/api/v2/conversations/calls/{id}"));
    assert_eq!(call["participants"].as_array().map(Vec::len), Some(2));

    let customer = party(&call, "customer");
    assert_eq!(customer["address"], format!("tel:{ANSWER}"));
    assert_eq!(customer["dnis"], format!("tel:{ANSWER}"));
    assert_eq!(customer["direction"], "outbound");
    assert!(customer["id"].is_string());
    assert!(customer["startTime"].is_string());
    assert!(customer["startAlertingTime"].is_string(), "{customer:#}");
    assert!(customer["connectedTime"].is_string(), "{customer:#}");
    assert!(customer.get("endTime").is_none(), "{customer:#}");
    assert!(customer.get("disconnectType").is_none(), "{customer:#}");
    assert!(customer.get("errorInfo").is_none(), "{customer:#}");
    assert!(
        customer["connectedTime"].as_str() >= customer["startAlertingTime"].as_str(),
        "{customer:#}"
    );

    let user = party(&call, "user");
    assert_eq!(user["state"], "connected");
    assert_eq!(user["user"]["id"], DEFAULT_USER_ID);
    assert_eq!(user["name"], "Sandbox Agent");

    get(
        &sb,
        "/api/v2/conversations/calls/00000000-0000-4000-8000-00000000beef",
        USER_TOKEN,
    )
    .await
    .assert_error(404, "conversation.error.conversation.not.found");
}

/// One scripted destination and what a client sees of it in the end.
struct Script {
    number: &'static str,
    outcome: Outcome,
    end: Option<(EndReason, &'static str)>,
    connects: bool,
    rings: bool,
    error_code: Option<&'static str>,
}

#[tokio::test]
async fn every_scripted_outcome_ends_as_documented() {
    let scripts = [
        Script {
            number: ANSWER,
            outcome: Outcome::Answer,
            end: None,
            connects: true,
            rings: true,
            error_code: None,
        },
        Script {
            number: BUSY,
            outcome: Outcome::Busy,
            end: Some((EndReason::Busy, "endpoint")),
            connects: false,
            rings: false,
            error_code: Some("call.destination.busy"),
        },
        Script {
            number: NO_ANSWER,
            outcome: Outcome::NoAnswer,
            end: Some((EndReason::NoAnswer, "system")),
            connects: false,
            rings: true,
            error_code: Some("call.destination.no.answer"),
        },
        Script {
            number: INVALID,
            outcome: Outcome::Invalid,
            end: Some((EndReason::Invalid, "error")),
            connects: false,
            rings: false,
            error_code: Some("call.destination.invalid"),
        },
        Script {
            number: HANGUP,
            outcome: Outcome::CustomerHangup,
            end: Some((EndReason::CustomerHangup, "endpoint")),
            connects: true,
            rings: true,
            error_code: None,
        },
    ];
    let sb = Sandbox::start(unlimited()).await;
    let mut ids = Vec::new();
    for script in &scripts {
        ids.push(place(&sb, script.number).await);
    }
    // The calls that end on their own, first; the answered call is checked after them so it
    // has had more than every other script's time to end, and has not.
    let mut order: Vec<usize> = (0..scripts.len()).collect();
    order.sort_by_key(|&i| scripts[i].end.is_none());
    for i in order {
        let script = &scripts[i];
        let id = &ids[i];
        let number = script.number;
        let call = match script.end {
            Some(_) => poll_call(&sb, id, |c| customer_state(c) == "disconnected").await,
            None => poll_call(&sb, id, |c| customer_state(c) == "connected").await,
        };
        let customer = party(&call, "customer");
        let user = party(&call, "user");
        assert_eq!(customer["address"], format!("tel:{number}"));
        assert_eq!(
            customer.get("connectedTime").is_some(),
            script.connects,
            "{number}: {customer:#}"
        );
        assert_eq!(
            customer.get("startAlertingTime").is_some(),
            script.rings,
            "{number}: {customer:#}"
        );
        assert_eq!(
            customer.pointer("/errorInfo/code").and_then(Value::as_str),
            script.error_code,
            "{number}: {customer:#}"
        );
        let entry = ledger_entry(&sb, id);
        assert_eq!(entry.outcome, Some(script.outcome), "{number}");
        assert_eq!(entry.destination, number);
        assert_eq!(entry.caller, DEFAULT_USER_ID);
        assert_eq!(entry.end_reason, script.end.map(|e| e.0), "{number}");
        assert_eq!(entry.ended_at.is_some(), script.end.is_some(), "{number}");
        match script.end {
            Some((_, disconnect_type)) => {
                assert_eq!(customer["disconnectType"], disconnect_type, "{number}");
                assert!(customer["endTime"].is_string(), "{number}: {customer:#}");
                // The agent's leg goes when the customer's does.
                assert_eq!(user["state"], "disconnected", "{number}: {user:#}");
                assert_eq!(user["disconnectType"], "peer", "{number}: {user:#}");
                assert_eq!(entry.state, "disconnected", "{number}");
            }
            None => {
                assert_eq!(customer["state"], "connected");
                assert!(customer.get("disconnectType").is_none(), "{customer:#}");
                assert!(customer.get("endTime").is_none(), "{customer:#}");
                assert_eq!(user["state"], "connected", "{user:#}");
                assert_eq!(entry.state, "connected");
            }
        }
    }
    assert_eq!(sb.sandbox.ledger().len(), scripts.len());
}

#[tokio::test]
async fn the_outcome_is_picked_by_the_last_seven_digits_whatever_the_format() {
    let sb = Sandbox::start(unlimited()).await;
    let id = place(&sb, "+1 (317) 555-0101").await;
    let call = poll_call(&sb, &id, |c| customer_state(c) == "disconnected").await;
    assert_eq!(party(&call, "customer")["disconnectType"], "endpoint");
    assert_eq!(party(&call, "customer")["address"], "tel:+1 (317) 555-0101");
    assert_eq!(ledger_entry(&sb, &id).outcome, Some(Outcome::Busy));
}

// ---------------------------------------------------------------------------------------------
// Ending calls

#[tokio::test]
async fn the_agent_hangs_up_with_a_patch_on_the_conversation() {
    let sb = Sandbox::start(unlimited()).await;
    let client = sb.genesys_token().await;
    let id = place(&sb, ANSWER).await;
    poll_call(&sb, &id, |c| customer_state(c) == "connected").await;
    let path = format!("/api/v2/conversations/calls/{id}");
    let hang_up = json!({ "state": "disconnected" });

    send(api(&sb, Method::PATCH, &path, &client).json(&hang_up))
        .await
        .assert_error(400, "not.a.user");
    send(api(&sb, Method::PATCH, &path, USER_TOKEN).json(&json!({ "state": "held" })))
        .await
        .assert_error(400, "bad.request");
    send(api(&sb, Method::PATCH, &path, NO_STATION_TOKEN).json(&hang_up))
        .await
        .assert_error(403, "conversation.error.forbidden.not.active.participant");
    send(
        api(
            &sb,
            Method::PATCH,
            "/api/v2/conversations/calls/00000000-0000-4000-8000-00000000beef",
            USER_TOKEN,
        )
        .json(&hang_up),
    )
    .await
    .assert_error(404, "conversation.error.conversation.not.found");
    assert_eq!(customer_state(&get_call(&sb, &id).await), "connected");

    let reply = send(api(&sb, Method::PATCH, &path, USER_TOKEN).json(&hang_up)).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let conversation = reply.json();
    assert_eq!(conversation["id"], id);
    assert_eq!(
        conversation["selfUri"],
        format!("/api/v2/conversations/{id}")
    );
    assert!(conversation["endTime"].is_string(), "{conversation:#}");
    let participants = conversation["participants"].as_array().expect("a list");
    assert_eq!(participants.len(), 2);
    for p in participants {
        assert_eq!(p["calls"][0]["state"], "disconnected", "{p:#}");
    }

    let call = get_call(&sb, &id).await;
    let customer = party(&call, "customer");
    assert_eq!(customer["state"], "disconnected");
    assert_eq!(customer["disconnectType"], "peer");
    assert!(customer["connectedTime"].is_string(), "it had connected");
    let user = party(&call, "user");
    assert_eq!(user["state"], "disconnected");
    assert_eq!(user["disconnectType"], "client");

    let entry = ledger_entry(&sb, &id);
    assert_eq!(entry.state, "disconnected");
    assert_eq!(entry.end_reason, Some(EndReason::Peer));
    assert!(entry.ended_at.is_some());

    // Hanging up an ended call changes nothing.
    let again = send(api(&sb, Method::PATCH, &path, USER_TOKEN).json(&hang_up)).await;
    assert_eq!(again.status, 202, "{}", again.text);
    assert_eq!(
        party(&get_call(&sb, &id).await, "user")["disconnectType"],
        "client"
    );
}

#[tokio::test]
async fn a_participant_is_disconnected_once() {
    let sb = Sandbox::start(unlimited()).await;
    let client = sb.genesys_token().await;
    let id = place(&sb, ANSWER).await;
    let call = poll_call(&sb, &id, |c| customer_state(c) == "connected").await;
    let customer_id = party(&call, "customer")["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let path = format!("/api/v2/conversations/calls/{id}/participants/{customer_id}");
    let hang_up = json!({ "state": "disconnected" });

    send(api(&sb, Method::PATCH, &path, &client).json(&hang_up))
        .await
        .assert_error(400, "not.a.user");
    send(
        api(
            &sb,
            Method::PATCH,
            &format!("/api/v2/conversations/calls/{id}/participants/nobody"),
            USER_TOKEN,
        )
        .json(&hang_up),
    )
    .await
    .assert_error(404, "conversation.error.not.conversation.participant");

    let reply = send(api(&sb, Method::PATCH, &path, USER_TOKEN).json(&hang_up)).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    assert!(reply.text.is_empty(), "202 with no body: {:?}", reply.text);
    reply.correlation_id();

    send(api(&sb, Method::PATCH, &path, USER_TOKEN).json(&hang_up))
        .await
        .assert_error(400, "conversation.error.call.disconnected");

    let call = get_call(&sb, &id).await;
    let customer = party(&call, "customer");
    assert_eq!(customer["state"], "disconnected");
    assert_eq!(customer["disconnectType"], "client");
    let user = party(&call, "user");
    assert_eq!(user["state"], "disconnected");
    assert_eq!(user["disconnectType"], "peer");
    assert_eq!(ledger_entry(&sb, &id).end_reason, Some(EndReason::Client));
}

#[tokio::test]
async fn a_teardown_ends_every_participant_with_client_credentials() {
    let sb = Sandbox::start(unlimited()).await;
    let client = sb.genesys_token().await;
    let id = place(&sb, ANSWER).await;
    poll_call(&sb, &id, |c| customer_state(c) == "connected").await;

    let reply = send(api(
        &sb,
        Method::POST,
        &format!("/api/v2/conversations/{id}/disconnect"),
        &client,
    ))
    .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json"))
    );
    assert!(reply.json().is_string(), "a JSON string: {}", reply.text);

    let call = get_call(&sb, &id).await;
    for purpose in ["customer", "user"] {
        let p = party(&call, purpose);
        assert_eq!(p["state"], "disconnected", "{p:#}");
        assert_eq!(p["disconnectType"], "system", "{p:#}");
    }
    assert_eq!(ledger_entry(&sb, &id).end_reason, Some(EndReason::Forced));

    send(api(
        &sb,
        Method::POST,
        "/api/v2/conversations/00000000-0000-4000-8000-00000000beef/disconnect",
        &client,
    ))
    .await
    .assert_error(404, "conversation.error.conversation.not.found");
}

// ---------------------------------------------------------------------------------------------
// External contacts

#[tokio::test]
async fn external_contacts_are_created_read_replaced_and_deleted() {
    let sb = Sandbox::fast().await;
    let token = sb.genesys_token().await;
    let created = post(
        &sb,
        "/api/v2/externalcontacts/contacts",
        &token,
        json!({
            "firstName": " Ada ",
            "lastName": "Lovelace",
            "workEmail": "ada@example.com",
            "cellPhone": { "display": "+1 317-555-0100" },
        }),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.text);
    let contact = created.json();
    let id = contact["id"].as_str().expect("an id").to_owned();
    uuid::Uuid::parse_str(&id).expect("a UUID");
    assert_eq!(contact["firstName"], "Ada", "whitespace stripped");
    assert_eq!(contact["cellPhone"]["e164"], "+13175550100");
    assert_eq!(contact["cellPhone"]["display"], "+1 317-555-0100");
    assert_eq!(contact["cellPhone"]["userInput"], "+1 317-555-0100");
    let create_date = contact["createDate"].as_str().expect("a createDate");
    humantime::parse_rfc3339(create_date).expect("an RFC 3339 date");
    assert_eq!(
        contact["selfUri"],
        format!("/api/v2/externalcontacts/contacts/{id}")
    );

    let path = format!("/api/v2/externalcontacts/contacts/{id}");
    let read = get(&sb, &path, &token).await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(read.json(), contact);

    let replaced = send(
        api(&sb, Method::PUT, &path, &token)
            .json(&json!({ "firstName": "Ada", "lastName": "King", "id": "ignored" })),
    )
    .await;
    assert_eq!(replaced.status, 200, "{}", replaced.text);
    let replaced = replaced.json();
    assert_eq!(replaced["id"], id);
    assert_eq!(replaced["createDate"], create_date);
    assert_eq!(replaced["lastName"], "King");
    assert!(
        replaced.get("cellPhone").is_none(),
        "a PUT replaces: {replaced:#}"
    );
    assert_eq!(get(&sb, &path, &token).await.json(), replaced);

    post(
        &sb,
        "/api/v2/externalcontacts/contacts",
        &token,
        json!({ "firstName": "Bad", "workEmail": "not an address" }),
    )
    .await
    .assert_error(400, "bad.request");

    let deleted = send(api(&sb, Method::DELETE, &path, &token)).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    get(&sb, &path, &token)
        .await
        .assert_error(404, "contact.not.found");
    send(api(&sb, Method::DELETE, &path, &token))
        .await
        .assert_error(404, "contact.not.found");
    send(api(&sb, Method::PUT, &path, &token).json(&json!({ "firstName": "Ada" })))
        .await
        .assert_error(404, "contact.not.found");
}

#[tokio::test]
async fn external_contacts_search_in_pages() {
    let sb = Sandbox::fast().await;
    let token = sb.genesys_token().await;
    for i in 0..25 {
        let first = if i % 5 == 0 { "Grace" } else { "Alan" };
        let reply = post(
            &sb,
            "/api/v2/externalcontacts/contacts",
            &token,
            json!({ "firstName": first, "lastName": format!("Number{i:02}") }),
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let base = "/api/v2/externalcontacts/contacts";

    let page = get(&sb, base, &token).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let page = page.json();
    assert_eq!(page["entities"].as_array().map(Vec::len), Some(20));
    assert_eq!(page["pageSize"], 20);
    assert_eq!(page["pageNumber"], 1);
    assert_eq!(page["total"], 25);
    assert_eq!(page["pageCount"], 2);
    assert_eq!(page["firstUri"], format!("{base}?pageSize=20&pageNumber=1"));
    assert_eq!(page["selfUri"], format!("{base}?pageSize=20&pageNumber=1"));
    assert_eq!(page["lastUri"], format!("{base}?pageSize=20&pageNumber=2"));
    assert_eq!(page["nextUri"], format!("{base}?pageSize=20&pageNumber=2"));
    assert!(page.get("previousUri").is_none(), "{page:#}");
    assert_eq!(page["entities"][0]["lastName"], "Number00", "oldest first");

    let last = get(&sb, &format!("{base}?pageNumber=2"), &token)
        .await
        .json();
    assert_eq!(last["entities"].as_array().map(Vec::len), Some(5));
    assert_eq!(last["pageNumber"], 2);
    assert!(last.get("nextUri").is_none(), "the last page: {last:#}");
    assert_eq!(
        last["previousUri"],
        format!("{base}?pageSize=20&pageNumber=1")
    );

    let graces = get(&sb, &format!("{base}?q=grace&pageSize=2"), &token)
        .await
        .json();
    assert_eq!(graces["total"], 5);
    assert_eq!(graces["pageCount"], 3);
    assert_eq!(graces["entities"].as_array().map(Vec::len), Some(2));
    assert!(
        graces["entities"]
            .as_array()
            .is_some_and(|e| e.iter().all(|c| c["firstName"] == "Grace")),
        "{graces:#}"
    );
    assert_eq!(
        graces["nextUri"],
        format!("{base}?pageSize=2&pageNumber=2&q=grace")
    );
    let nobody = get(&sb, &format!("{base}?q=nobody"), &token).await.json();
    assert_eq!(nobody["total"], 0);
    assert_eq!(nobody["entities"], json!([]));
    assert!(nobody.get("nextUri").is_none());

    get(&sb, &format!("{base}?pageSize=100&pageNumber=11"), &token)
        .await
        .assert_error(400, "bad.request");
    let edge = get(&sb, &format!("{base}?pageSize=100&pageNumber=10"), &token).await;
    assert_eq!(edge.status, 200, "exactly 1,000 is allowed: {}", edge.text);
    get(&sb, &format!("{base}?pageSize=0"), &token)
        .await
        .assert_error(400, "invalid.value");
}

// ---------------------------------------------------------------------------------------------
// Callbacks

#[tokio::test]
async fn callbacks_are_queued_and_ledgered() {
    let sb = Sandbox::fast().await;
    let token = sb.genesys_token().await;
    let path = "/api/v2/conversations/callbacks";

    post(&sb, path, &token, json!({ "queueId": "q1" }))
        .await
        .assert_error(400, "callback.error.missing.callback.numbers");
    post(
        &sb,
        path,
        &token,
        json!({ "callbackNumbers": [], "queueId": "q1" }),
    )
    .await
    .assert_error(400, "callback.error.missing.callback.numbers");
    post(&sb, path, &token, json!({ "callbackNumbers": [ANSWER] }))
        .await
        .assert_error(400, "callback.error.missing.queue.id");
    assert!(sb.sandbox.ledger().is_empty());

    let reply = post(
        &sb,
        path,
        &token,
        json!({ "callbackNumbers": [ANSWER], "queueId": "q1" }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    let id = body["conversation"]["id"]
        .as_str()
        .expect("a conversation id")
        .to_owned();
    assert_eq!(
        body["conversation"]["selfUri"],
        format!("/api/v2/conversations/{id}")
    );
    let identifiers = body["callbackIdentifiers"].as_array().expect("a list");
    assert!(!identifiers.is_empty());
    assert!(
        identifiers
            .iter()
            .all(|i| i["type"].is_string() && i["id"].is_string())
    );

    let entry = ledger_entry(&sb, &id);
    assert_eq!(
        serde_json::to_value(entry.kind).ok(),
        Some(json!("callback"))
    );
    assert_eq!(entry.state, "queued");
    assert_eq!(entry.destination, ANSWER);
    assert_eq!(entry.caller, "sandbox-client");
    assert_eq!(entry.outcome, None);

    let routed = post(
        &sb,
        path,
        USER_TOKEN,
        json!({ "callbackNumbers": [BUSY], "routingData": { "queueId": "q2" } }),
    )
    .await;
    assert_eq!(routed.status, 200, "{}", routed.text);
    assert_eq!(sb.sandbox.ledger().len(), 2);
}

// ---------------------------------------------------------------------------------------------
// Users

#[tokio::test]
async fn users_read_with_expansions() {
    let sb = Sandbox::fast().await;
    let token = sb.genesys_token().await;
    let path = format!("/api/v2/users/{DEFAULT_USER_ID}");

    let plain = get(&sb, &path, &token).await;
    assert_eq!(plain.status, 200, "{}", plain.text);
    let user = plain.json();
    assert_eq!(user["id"], DEFAULT_USER_ID);
    assert_eq!(user["name"], "Sandbox Agent");
    assert_eq!(user["state"], "active");
    assert_eq!(user["selfUri"], path);
    assert!(user["email"].is_string());
    assert!(user["division"]["id"].is_string());
    assert!(
        user.get("routingStatus").is_none(),
        "not expanded: {user:#}"
    );
    assert!(user.get("station").is_none(), "not expanded: {user:#}");

    let expanded = get(&sb, &format!("{path}?expand=station,routingStatus"), &token)
        .await
        .json();
    assert_eq!(expanded["routingStatus"]["status"], "IDLE");
    assert_eq!(expanded["routingStatus"]["userId"], DEFAULT_USER_ID);
    assert!(
        expanded["station"]["effectiveStation"]["id"].is_string(),
        "{expanded:#}"
    );
    assert_eq!(
        expanded["station"]["effectiveStation"]["associatedUser"]["id"],
        DEFAULT_USER_ID
    );

    let stationless = get(
        &sb,
        &format!("/api/v2/users/{NO_STATION_USER_ID}?expand=station"),
        &token,
    )
    .await
    .json();
    assert!(
        stationless["station"].get("effectiveStation").is_none(),
        "{stationless:#}"
    );

    get(
        &sb,
        "/api/v2/users/00000000-0000-4000-8000-00000000dead",
        &token,
    )
    .await
    .assert_error(404, "general.resource.not.found");

    get(&sb, "/api/v2/users/me", &token)
        .await
        .assert_error(400, "not.a.user");
    let me = get(&sb, "/api/v2/users/me", USER_TOKEN).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json()["id"], DEFAULT_USER_ID);
}

async fn routing_status(sb: &Sandbox, token: &str, user: &str) -> Value {
    let reply = get(sb, &format!("/api/v2/users/{user}/routingstatus"), token).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()
}

#[tokio::test]
async fn the_routing_status_follows_the_agents_calls() {
    let sb = Sandbox::start(unlimited()).await;
    let token = sb.genesys_token().await;

    let idle = routing_status(&sb, &token, DEFAULT_USER_ID).await;
    assert_eq!(idle["status"], "IDLE");
    assert_eq!(idle["userId"], DEFAULT_USER_ID);
    assert!(idle["startTime"].is_string());
    let unknown = routing_status(&sb, &token, "00000000-0000-4000-8000-00000000dead").await;
    assert_eq!(unknown["status"], "OFF_QUEUE");
    assert_eq!(
        routing_status(&sb, &token, NO_STATION_USER_ID).await["status"],
        "OFF_QUEUE"
    );

    let id = place(&sb, ANSWER).await;
    assert_eq!(
        routing_status(&sb, &token, DEFAULT_USER_ID).await["status"],
        "INTERACTING"
    );
    let expanded = get(
        &sb,
        &format!("/api/v2/users/{DEFAULT_USER_ID}?expand=routingStatus"),
        &token,
    )
    .await
    .json();
    assert_eq!(expanded["routingStatus"]["status"], "INTERACTING");

    let hang_up = send(
        api(
            &sb,
            Method::PATCH,
            &format!("/api/v2/conversations/calls/{id}"),
            USER_TOKEN,
        )
        .json(&json!({ "state": "disconnected" })),
    )
    .await;
    assert_eq!(hang_up.status, 202, "{}", hang_up.text);
    assert_eq!(
        routing_status(&sb, &token, DEFAULT_USER_ID).await["status"],
        "IDLE"
    );
}

#[tokio::test]
async fn the_agent_is_idle_again_once_the_customer_has_gone() {
    // Nobody reads the call: the routing status alone must notice that it ended.
    let sb = Sandbox::start(unlimited()).await;
    let token = sb.genesys_token().await;
    place(&sb, BUSY).await;
    let deadline = Instant::now() + DEADLINE;
    loop {
        let status = routing_status(&sb, &token, DEFAULT_USER_ID).await;
        if status["status"] == "IDLE" {
            break;
        }
        assert_eq!(status["status"], "INTERACTING");
        assert!(
            Instant::now() < deadline,
            "still INTERACTING long after the busy call ended: {:?}",
            sb.sandbox.ledger()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Headers, errors and robustness

#[tokio::test]
async fn every_response_carries_a_correlation_id_that_errors_quote() {
    let sb = Sandbox::fast().await;
    let token = sb.genesys_token().await;
    let mut replies = vec![
        login_form(&sb, &[("grant_type", "client_credentials")]).await,
        get(&sb, "/api/v2/tokens/me", &token).await,
        get(&sb, &format!("/api/v2/users/{DEFAULT_USER_ID}"), &token).await,
        post(
            &sb,
            "/api/v2/conversations/calls",
            USER_TOKEN,
            json!({ "phoneNumber": ANSWER }),
        )
        .await,
    ];
    let errors = [
        (
            send(sb.http.get(sb.url("/api/v2/tokens/me"))).await,
            401,
            "authentication.required",
        ),
        (
            get(&sb, "/api/v2/users/nobody", &token).await,
            404,
            "general.resource.not.found",
        ),
        (get(&sb, "/api/v2/nowhere", &token).await, 404, "not.found"),
        (
            post(&sb, "/api/v2/conversations/calls", &token, json!({})).await,
            400,
            "not.a.user",
        ),
    ];
    for (reply, status, code) in &errors {
        reply.assert_error(*status, code);
    }
    replies.extend(errors.into_iter().map(|(r, _, _)| r));
    let mut ids: Vec<&str> = replies.iter().map(Reply::correlation_id).collect();
    for id in &ids {
        uuid::Uuid::parse_str(id).expect("a UUID");
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), replies.len(), "every response has its own id");
}

#[tokio::test]
async fn bad_requests_get_error_bodies_and_the_server_keeps_serving() {
    let mut config = fast_config();
    config.max_body_bytes = 4096;
    let sb = Sandbox::start(config).await;
    let token = sb.genesys_token().await;
    let calls = "/api/v2/conversations/calls";

    let malformed = send(
        api(&sb, Method::POST, calls, USER_TOKEN)
            .header("content-type", "application/json")
            .body("{\"phoneNumber\": "),
    )
    .await;
    malformed.assert_error(400, "bad.request");
    let wrong_shape = post(&sb, calls, USER_TOKEN, json!({ "phoneNumber": 7 })).await;
    wrong_shape.assert_error(400, "bad.request");
    let text = send(
        api(&sb, Method::POST, calls, USER_TOKEN)
            .header("content-type", "text/plain")
            .body("phoneNumber=+13175550100"),
    )
    .await;
    text.assert_error(415, "unsupported.media.type");
    let contact_text = send(
        api(
            &sb,
            Method::POST,
            "/api/v2/externalcontacts/contacts",
            &token,
        )
        .header("content-type", "text/plain")
        .body("Ada"),
    )
    .await;
    contact_text.assert_error(415, "unsupported.media.type");

    get(&sb, "/api/v2/no/such/route", &token)
        .await
        .assert_error(404, "not.found");
    send(api(&sb, Method::PUT, calls, USER_TOKEN).json(&json!({})))
        .await
        .assert_error(405, "method.not.allowed");
    send(api(&sb, Method::DELETE, "/api/v2/users/me", USER_TOKEN))
        .await
        .assert_error(405, "method.not.allowed");

    let huge = json!({ "phoneNumber": ANSWER, "attributes": { "pad": "x".repeat(8192) } });
    post(&sb, calls, USER_TOKEN, huge)
        .await
        .assert_error(413, "request.entity.too.large");
    let huge_contact = json!({ "firstName": "y".repeat(8192) });
    post(
        &sb,
        "/api/v2/externalcontacts/contacts",
        &token,
        huge_contact,
    )
    .await
    .assert_error(413, "request.entity.too.large");
    assert!(sb.sandbox.ledger().is_empty(), "nothing was dialed");

    // Still serving, on the same client.
    assert_eq!(get(&sb, "/api/v2/tokens/me", &token).await.status, 200);
    let id = place(&sb, ANSWER).await;
    assert_eq!(get_call(&sb, &id).await["id"], id);
    assert_ne!(sb.genesys_token().await, token);
}

// ---------------------------------------------------------------------------------------------
// The ledger over HTTP, and determinism

#[tokio::test]
async fn the_ledger_lists_calls_and_a_reset_forgets_everything() {
    let sb = Sandbox::fast().await;
    let first = place(&sb, ANSWER).await;
    let second = place(&sb, BUSY).await;

    let listed = send(sb.http.get(sb.url("/_sandbox/calls"))).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let listed = listed.json();
    assert_eq!(listed["total"], 2);
    let calls = listed["calls"].as_array().expect("a list");
    assert_eq!(calls[0]["id"], first);
    assert_eq!(calls[1]["id"], second);
    assert_eq!(calls[0]["vendor"], "genesys-cloud");
    assert_eq!(calls[0]["kind"], "call");
    assert_eq!(calls[1]["destination"], BUSY);
    assert_eq!(calls[1]["outcome"], "busy");
    let typed: Vec<LedgerEntry> =
        serde_json::from_value(listed["calls"].clone()).expect("ledger entries");
    assert_eq!(typed.len(), 2);
    assert_eq!(typed[0].caller, DEFAULT_USER_ID);

    let reset = send(sb.http.post(sb.url("/_sandbox/reset"))).await;
    assert_eq!(reset.status, 204, "{}", reset.text);
    assert!(sb.sandbox.ledger().is_empty());
    let listed = send(sb.http.get(sb.url("/_sandbox/calls"))).await.json();
    assert_eq!(listed["total"], 0);
    assert_eq!(listed["calls"], json!([]));
    get(
        &sb,
        &format!("/api/v2/conversations/calls/{first}"),
        USER_TOKEN,
    )
    .await
    .assert_error(404, "conversation.error.conversation.not.found");
}

/// One fixed sequence of requests; returns every id the sandbox handed out.
async fn script_of_requests(sb: &Sandbox) -> Vec<String> {
    let token = sb.genesys_token().await;
    let call = place(sb, ANSWER).await;
    let behalf = post(
        sb,
        &format!("/api/v2/conversations/calls/user/{DEFAULT_USER_ID}"),
        &token,
        json!({ "phoneNumber": BUSY }),
    )
    .await
    .json()["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let contact = post(
        sb,
        "/api/v2/externalcontacts/contacts",
        &token,
        json!({ "firstName": "Ada" }),
    )
    .await
    .json()["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let callback = post(
        sb,
        "/api/v2/conversations/callbacks",
        &token,
        json!({ "callbackNumbers": [ANSWER], "queueId": "q" }),
    )
    .await;
    let callback_id = callback.json()["conversation"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let participants: Vec<String> = get_call(sb, &call).await["participants"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .filter_map(|p| p["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let mut ids = vec![
        token,
        call,
        behalf,
        contact,
        callback_id,
        callback.correlation_id().to_owned(),
    ];
    ids.extend(participants);
    assert!(ids.iter().all(|id| !id.is_empty()), "{ids:?}");
    ids
}

#[tokio::test]
async fn the_same_seed_and_requests_give_the_same_ids() {
    let a = Sandbox::fast().await;
    let b = Sandbox::fast().await;
    let first = script_of_requests(&a).await;
    let second = script_of_requests(&b).await;
    assert_eq!(first, second);

    let mut config = fast_config();
    config.seed = 42;
    let c = Sandbox::start(config).await;
    let other = script_of_requests(&c).await;
    assert_ne!(other[1], first[1], "another seed, other conversation ids");
}

// ---------------------------------------------------------------------------------------------
// Hanging up with client credentials, the normal way.

/// A call placed on behalf of the default agent with a client-credentials token; its id and the
/// customer's participant id.
async fn placed_for_user(sb: &Sandbox, token: &str) -> (String, String) {
    let user = callplan::sandbox::config::DEFAULT_USER_ID;
    let reply = post(
        sb,
        &format!("/api/v2/conversations/calls/user/{user}"),
        token,
        json!({ "phoneNumber": "+13175550100" }),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let id = reply.json()["id"].as_str().expect("an id").to_owned();
    let call = get(sb, &format!("/api/v2/conversations/calls/{id}"), token).await;
    let customer = call.json()["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .find(|p| p["purpose"] == "customer")
        .and_then(|p| p["id"].as_str())
        .expect("a customer")
        .to_owned();
    (id, customer)
}

#[tokio::test]
async fn client_credentials_hang_up_through_the_generic_participant_patch() {
    let sb = Sandbox::fast().await;
    let token = sb.genesys_token().await;
    let (id, customer) = placed_for_user(&sb, &token).await;
    // The calls-specific PATCHes need a user.
    let refused = send(
        api(
            &sb,
            Method::PATCH,
            &format!("/api/v2/conversations/calls/{id}"),
            &token,
        )
        .json(&json!({ "state": "disconnected" })),
    )
    .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert_eq!(refused.json()["code"], "not.a.user");
    let refused = send(
        api(
            &sb,
            Method::PATCH,
            &format!("/api/v2/conversations/calls/{id}/participants/{customer}"),
            &token,
        )
        .json(&json!({ "state": "disconnected" })),
    )
    .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    // The generic participant PATCH: 202, no body, the customer's leg ends as a client hang-up.
    let done = send(
        api(
            &sb,
            Method::PATCH,
            &format!("/api/v2/conversations/{id}/participants/{customer}"),
            &token,
        )
        .json(&json!({ "state": "disconnected" })),
    )
    .await;
    assert_eq!(done.status, 202, "{}", done.text);
    assert!(done.text.is_empty(), "no body: {}", done.text);
    let ledger = sb.sandbox.ledger();
    assert_eq!(ledger[0].state, "disconnected", "{ledger:?}");
    let ended = serde_json::to_value(&ledger[0]).expect("JSON");
    assert_eq!(ended["end_reason"], "client", "{ended:#}");
}

#[tokio::test]
async fn the_on_behalf_of_a_user_participant_patch_needs_the_calls_user() {
    let sb = Sandbox::fast().await;
    let token = sb.genesys_token().await;
    let (id, customer) = placed_for_user(&sb, &token).await;
    let path = |user: &str| {
        format!("/api/v2/conversations/calls/{id}/participants/{customer}/user/{user}")
    };
    let other = send(
        api(
            &sb,
            Method::PATCH,
            &path("00000000-0000-4000-8000-00000000ffff"),
            &token,
        )
        .json(&json!({ "state": "disconnected" })),
    )
    .await;
    assert_eq!(other.status, 404, "{}", other.text);
    let done = send(
        api(
            &sb,
            Method::PATCH,
            &path(callplan::sandbox::config::DEFAULT_USER_ID),
            &token,
        )
        .json(&json!({ "state": "disconnected" })),
    )
    .await;
    assert_eq!(done.status, 202, "{}", done.text);
    assert_eq!(sb.sandbox.ledger()[0].state, "disconnected");
}
