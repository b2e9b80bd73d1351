//! The sandbox, NICE CXone side: discovery, the access-key token, agent sessions, dialing, the
//! event long poll (every scripted outcome), contacts, callbacks, scripts and the CXone error
//! shape (`{error, error_description}` plus the `icStatusDescription` header).

use std::time::{Duration, Instant};

use base64::Engine as _;
use callplan::sandbox::script::{EndReason, Outcome};
use callplan::sandbox::{Config, LedgerEntry};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::{Sandbox, fast_config};

/// The API prefix, at the version NICE's own SDK calls.
pub(crate) const P: &str = "/inContactAPI/services/v34.0";
/// The skill every test dials on.
const SKILL: i64 = 4242;
/// The agent the default access key belongs to.
const AGENT: &str = "31337";
/// How long a test waits for something that should happen in milliseconds.
const PATIENCE: Duration = Duration::from_secs(10);

/// The absolute URL of a path under [`P`].
pub(crate) fn api(sb: &Sandbox, path: &str) -> String {
    sb.url(&format!("{P}{path}"))
}

/// A CXone error, read apart.
#[derive(Debug)]
pub(crate) struct CxoneError {
    pub(crate) status: u16,
    pub(crate) error: String,
    pub(crate) description: String,
    /// The `icStatusDescription` header.
    pub(crate) status_text: Option<String>,
    pub(crate) retry_after: Option<String>,
}

/// Reads a response that must be a CXone error: a JSON `{error, error_description}` body and
/// an `icStatusDescription` header.
pub(crate) async fn cxone_error(response: Response) -> CxoneError {
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let status_text = header("icStatusDescription");
    let retry_after = header("retry-after");
    let text = response.text().await.expect("a body");
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| Value::String(format!("not JSON ({e}): {text}")));
    let field = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("<no `{name}` in {body}>"))
    };
    CxoneError {
        status,
        error: field("error"),
        description: field("error_description"),
        status_text,
        retry_after,
    }
}

/// Asserts a CXone error: status, `error`, `error_description`, and the description repeated
/// in `icStatusDescription`.
pub(crate) async fn expect_error(response: Response, status: u16, error: &str, description: &str) {
    let got = cxone_error(response).await;
    assert_eq!(
        (got.status, got.error.as_str(), got.description.as_str()),
        (status, error, description),
        "{got:?}"
    );
    assert_eq!(got.status_text.as_deref(), Some(description), "{got:?}");
}

/// Starts the default agent's session (station in a JSON body); returns its id.
pub(crate) async fn start_session(sb: &Sandbox, token: &str) -> String {
    let response = sb
        .http
        .post(api(sb, "/agent-sessions"))
        .bearer_auth(token)
        .json(&json!({ "stationId": "station-1" }))
        .send()
        .await
        .expect("start a session");
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.expect("json");
    body["sessionId"].as_str().expect("a sessionId").to_owned()
}

/// `dial-phone` from a session, on [`SKILL`].
pub(crate) async fn dial(sb: &Sandbox, token: &str, session: &str, phone: &str) -> Response {
    sb.http
        .post(api(sb, &format!("/agent-sessions/{session}/dial-phone")))
        .bearer_auth(token)
        .json(&json!({ "phoneNumber": phone, "skillId": SKILL }))
        .send()
        .await
        .expect("dial")
}

/// One `get-next-event` long poll: the status and the body (`Null` when empty).
async fn next_event(sb: &Sandbox, token: &str, session: &str, timeout: u64) -> (StatusCode, Value) {
    let response = sb
        .http
        .get(api(
            sb,
            &format!("/agent-sessions/{session}/get-next-event"),
        ))
        .query(&[("timeout", timeout)])
        .bearer_auth(token)
        .send()
        .await
        .expect("poll");
    read(response).await
}

/// A response's status and JSON body (`Null` when empty).
async fn read(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("a body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).expect("a JSON body")
    };
    (status, body)
}

/// The events of a 200 from `get-next-event`.
fn events(status: StatusCode, body: &Value) -> Vec<Value> {
    assert_eq!(status, 200, "{body}");
    body["events"].as_array().expect("events").clone()
}

/// Polls until `done` holds for the events seen so far (the session's whole history);
/// returns them all.
async fn poll_until(
    sb: &Sandbox,
    token: &str,
    session: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    while !done(&seen) {
        assert!(
            Instant::now() < deadline,
            "gave up waiting; events so far: {seen:#?}"
        );
        let (status, body) = next_event(sb, token, session, 5).await;
        if status == StatusCode::NOT_MODIFIED {
            continue;
        }
        seen.extend(events(status, &body));
    }
    seen
}

/// Whether a contact's closing event (`Disconnected`, `FinalState` `"True"`) is among
/// `events`.
fn has_final(events: &[Value]) -> bool {
    events
        .iter()
        .any(|e| e["Type"] == "CallContactEvent" && e["FinalState"] == "True")
}

fn has_status(events: &[Value], status: &str) -> bool {
    events
        .iter()
        .any(|e| e["Type"] == "CallContactEvent" && e["Status"] == status)
}

/// The `CallContactEvent`s, as (Status, FinalState, DisconnectCode).
fn contact_statuses(events: &[Value]) -> Vec<(String, bool, Option<String>)> {
    events
        .iter()
        .filter(|e| e["Type"] == "CallContactEvent")
        .map(|e| {
            (
                e["Status"].as_str().expect("Status").to_owned(),
                {
                    let flag = e["FinalState"].as_str().expect("FinalState is a string");
                    assert!(["True", "False"].contains(&flag), "FinalState {flag:?}");
                    flag == "True"
                },
                e.get("DisconnectCode")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            )
        })
        .collect()
}

/// The contact id the events speak of (exactly one contact).
fn contact_id(events: &[Value]) -> String {
    let ids: std::collections::BTreeSet<&str> = events
        .iter()
        .filter(|e| e["Type"] == "CallContactEvent")
        .map(|e| e["ContactID"].as_str().expect("ContactID is a string"))
        .collect();
    assert_eq!(ids.len(), 1, "{events:#?}");
    ids.into_iter().next().expect("one id").to_owned()
}

/// A ledger entry's vendor and kind, as `/_sandbox/calls` spells them.
fn vendor_and_kind(entry: &LedgerEntry) -> (String, String) {
    let value = serde_json::to_value(entry).expect("serializable");
    (
        value["vendor"].as_str().expect("vendor").to_owned(),
        value["kind"].as_str().expect("kind").to_owned(),
    )
}

/// The only ledger entry.
fn only_entry(sb: &Sandbox) -> LedgerEntry {
    let ledger = sb.sandbox.ledger();
    assert_eq!(ledger.len(), 1, "{ledger:#?}");
    ledger.into_iter().next().expect("one entry")
}

/// A started session with the `AgentSessionStart` event already consumed.
async fn session_ready(sb: &Sandbox) -> (String, String) {
    let token = sb.cxone_token().await;
    let session = start_session(sb, &token).await;
    let (status, body) = next_event(sb, &token, &session, 1).await;
    let first = events(status, &body);
    assert_eq!(first.len(), 1, "{first:#?}");
    assert_eq!(first[0]["Type"], "AgentSessionStart");
    assert_eq!(first[0]["SessionId"], session.as_str());
    assert_eq!(body["sessionId"], session.as_str());
    (token, session)
}

fn b64url(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .expect("base64url")
}

// ---------------------------------------------------------------------------------------------
// Discovery and login

#[tokio::test]
async fn openid_configuration_points_at_the_sandbox() {
    let sb = Sandbox::fast().await;
    let response = sb
        .http
        .get(sb.url("/.well-known/openid-configuration"))
        .header("CorrelationId", "corr-from-client")
        .send()
        .await
        .expect("discovery");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["CorrelationId"],
        "corr-from-client",
        "CXone echoes the client's correlation id"
    );
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["token_endpoint"], sb.url("/auth/token"));
    assert_eq!(body["issuer"], sb.sandbox.url());
    assert_eq!(body["scopes_supported"], json!(["openid"]));
}

#[tokio::test]
async fn cxone_configuration_knows_only_its_tenant() {
    let sb = Sandbox::fast().await;
    let tenant = Config::default().cxone.tenant_id;
    let response = sb
        .http
        .get(sb.url("/.well-known/cxone-configuration"))
        .query(&[("tenantId", tenant.as_str())])
        .send()
        .await
        .expect("discovery");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["api_endpoint"], sb.sandbox.url());
    assert_eq!(body["auth_endpoint"], sb.sandbox.url());
    assert_eq!(body["tenantId"], tenant.as_str());

    for query in [
        vec![("tenantId", "99999999-2222-4333-8444-555555555555")],
        vec![],
    ] {
        let response = sb
            .http
            .get(sb.url("/.well-known/cxone-configuration"))
            .query(&query)
            .send()
            .await
            .expect("discovery");
        expect_error(response, 404, "NotFound", "Unknown tenant.").await;
    }
}

#[tokio::test]
async fn password_grant_returns_tokens_and_an_id_token_with_the_tenant() {
    let mut config = fast_config();
    config.cxone.tenant_id = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee".into();
    let sb = Sandbox::start(config).await;
    let response = sb
        .http
        .post(sb.url("/auth/token"))
        .basic_auth("sandbox-app", Some("sandbox-app-secret"))
        .form(&[
            ("grant_type", "password"),
            ("username", "sandbox-access-key"),
            ("password", "sandbox-access-secret"),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.expect("json");
    assert!(
        body["access_token"].as_str().is_some_and(|t| t.len() >= 32),
        "{body}"
    );
    assert!(body["refresh_token"].as_str().is_some(), "{body}");
    assert_ne!(body["refresh_token"], body["access_token"]);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    let id_token = body["id_token"].as_str().expect("an id_token");
    let parts: Vec<&str> = id_token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT: {id_token}");
    let claims: Value = serde_json::from_slice(&b64url(parts[1])).expect("JSON claims");
    assert_eq!(claims["tenantId"], "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee");
    assert_eq!(claims["icAgentId"], 31337);

    // The token works.
    let response = sb
        .http
        .get(api(&sb, "/contacts/active"))
        .bearer_auth(body["access_token"].as_str().expect("token"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 204);
}

/// A token request with the given app secret and form.
async fn token_request(sb: &Sandbox, app_secret: &str, form: &[(&str, &str)]) -> Response {
    sb.http
        .post(sb.url("/auth/token"))
        .basic_auth("sandbox-app", Some(app_secret))
        .form(form)
        .send()
        .await
        .expect("login")
}

#[tokio::test]
async fn token_errors_use_the_oauth_codes() {
    let sb = Sandbox::fast().await;
    let good = [
        ("grant_type", "password"),
        ("username", "sandbox-access-key"),
        ("password", "sandbox-access-secret"),
    ];
    let response = token_request(&sb, "wrong-secret", &good).await;
    expect_error(
        response,
        400,
        "invalid_client",
        "Client authentication failed.",
    )
    .await;

    let bad_key = [
        ("grant_type", "password"),
        ("username", "sandbox-access-key"),
        ("password", "not-the-secret"),
    ];
    let response = token_request(&sb, "sandbox-app-secret", &bad_key).await;
    expect_error(response, 400, "invalid_grant", "Invalid access key.").await;

    let response = token_request(
        &sb,
        "sandbox-app-secret",
        &[("grant_type", "client_credentials")],
    )
    .await;
    let got = cxone_error(response).await;
    assert_eq!(
        (got.status, got.error.as_str()),
        (400, "unsupported_grant_type")
    );

    let response = token_request(
        &sb,
        "sandbox-app-secret",
        &[("grant_type", "refresh_token"), ("refresh_token", "nope")],
    )
    .await;
    expect_error(response, 400, "invalid_grant", "Invalid refresh token.").await;

    // A JSON body is not a token request.
    let response = sb
        .http
        .post(sb.url("/auth/token"))
        .basic_auth("sandbox-app", Some("sandbox-app-secret"))
        .json(&json!({ "grant_type": "password" }))
        .send()
        .await
        .expect("login");
    let got = cxone_error(response).await;
    assert_eq!((got.status, got.error.as_str()), (400, "invalid_request"));

    // The good request still works.
    let response = token_request(&sb, "sandbox-app-secret", &good).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn refresh_token_grant_gives_a_working_token() {
    let sb = Sandbox::fast().await;
    let response = token_request(
        &sb,
        "sandbox-app-secret",
        &[
            ("grant_type", "password"),
            ("username", "sandbox-access-key"),
            ("password", "sandbox-access-secret"),
        ],
    )
    .await;
    let first: Value = response.json().await.expect("json");
    let refresh = first["refresh_token"].as_str().expect("refresh token");
    let response = token_request(
        &sb,
        "sandbox-app-secret",
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(response.status(), 200);
    let second: Value = response.json().await.expect("json");
    let access = second["access_token"].as_str().expect("access token");
    assert_ne!(second["access_token"], first["access_token"]);
    let session = start_session(&sb, access).await;
    assert!(!session.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Agent sessions

#[tokio::test]
async fn agent_session_lifecycle() {
    let sb = Sandbox::fast().await;
    let token = sb.cxone_token().await;
    let session = start_session(&sb, &token).await;
    assert!(!session.is_empty());

    // A second session for the same agent conflicts, however the station is given.
    let response = sb
        .http
        .post(api(&sb, "/agent-sessions"))
        .query(&[("stationId", "station-2")])
        .bearer_auth(&token)
        .send()
        .await
        .expect("start");
    let got = cxone_error(response).await;
    assert_eq!((got.status, got.error.as_str()), (409, "SessionExists"));

    // Joining gives the running session.
    let response = sb
        .http
        .post(api(&sb, "/agent-sessions/join"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("join");
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["sessionId"], session.as_str());

    // Ending it: 202, then 409.
    let end = || {
        sb.http
            .delete(api(&sb, &format!("/agent-sessions/{session}")))
            .bearer_auth(&token)
            .send()
    };
    let response = end().await.expect("end");
    assert_eq!(response.status(), 202);
    assert_eq!(response.headers()["icStatusDescription"], "Accepted");
    assert!(response.bytes().await.expect("body").is_empty());
    let response = end().await.expect("end again");
    expect_error(
        response,
        409,
        "SessionEnded",
        "The agent session has ended.",
    )
    .await;

    // Nothing left to join; a new session (station in the query) gets a new id.
    let response = sb
        .http
        .post(api(&sb, "/agent-sessions/join"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("join");
    expect_error(response, 404, "InvalidSession", "Invalid agent session.").await;
    let response = sb
        .http
        .post(api(&sb, "/agent-sessions"))
        .query(&[("stationId", "station-2")])
        .bearer_auth(&token)
        .send()
        .await
        .expect("start");
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.expect("json");
    let second = body["sessionId"].as_str().expect("sessionId");
    assert_ne!(second, session);
}

#[tokio::test]
async fn a_session_needs_a_station() {
    let sb = Sandbox::fast().await;
    let token = sb.cxone_token().await;
    for body in [json!({}), json!({ "stationId": "" })] {
        let response = sb
            .http
            .post(api(&sb, "/agent-sessions"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .expect("start");
        expect_error(
            response,
            400,
            "InvalidStation",
            "stationId or stationPhoneNumber is required.",
        )
        .await;
    }
    // A station phone number is enough.
    let response = sb
        .http
        .post(api(&sb, "/agent-sessions"))
        .bearer_auth(&token)
        .json(&json!({ "stationPhoneNumber": "+13175550199" }))
        .send()
        .await
        .expect("start");
    assert_eq!(response.status(), 202);
}

#[tokio::test]
async fn unknown_sessions_are_invalid() {
    let sb = Sandbox::fast().await;
    let token = sb.cxone_token().await;
    let _ours = start_session(&sb, &token).await;
    let ghost = "0123456789abcdef0123456789abcdef";
    let responses = [
        dial(&sb, &token, ghost, "+13175550100").await,
        sb.http
            .get(api(&sb, &format!("/agent-sessions/{ghost}/get-next-event")))
            .query(&[("timeout", "1")])
            .bearer_auth(&token)
            .send()
            .await
            .expect("poll"),
        sb.http
            .delete(api(&sb, &format!("/agent-sessions/{ghost}")))
            .bearer_auth(&token)
            .send()
            .await
            .expect("end"),
        sb.http
            .post(api(
                &sb,
                &format!("/agent-sessions/{ghost}/interactions/400000001/end"),
            ))
            .bearer_auth(&token)
            .send()
            .await
            .expect("end interaction"),
    ];
    for response in responses {
        expect_error(response, 404, "InvalidSession", "Invalid agent session.").await;
    }
}

// ---------------------------------------------------------------------------------------------
// Dialing

#[tokio::test]
async fn dial_phone_accepts_with_an_empty_body() {
    let sb = Sandbox::fast().await;
    let (token, session) = session_ready(&sb).await;
    let response = dial(&sb, &token, &session, "+13175550100").await;
    assert_eq!(response.status(), 202);
    assert_eq!(response.headers()["icStatusDescription"], "Accepted");
    assert!(response.bytes().await.expect("body").is_empty());
    let entry = only_entry(&sb);
    assert_eq!(entry.destination, "+13175550100");
    assert_eq!(entry.caller, AGENT);
}

#[tokio::test]
async fn dial_phone_refuses_bad_input() {
    let sb = Sandbox::fast().await;
    let (token, session) = session_ready(&sb).await;
    let url = api(&sb, &format!("/agent-sessions/{session}/dial-phone"));
    let post = |body: Value| sb.http.post(&url).bearer_auth(&token).json(&body).send();

    for phone in ["not a number", "12", "+1317555010x", ""] {
        let response = post(json!({ "phoneNumber": phone, "skillId": SKILL }))
            .await
            .expect("dial");
        expect_error(
            response,
            400,
            "InvalidPhoneNumber",
            "Phone Number is not valid.",
        )
        .await;
    }
    for body in [
        json!({ "phoneNumber": "+13175550100" }),
        json!({ "phoneNumber": "+13175550100", "skillId": 0 }),
        json!({ "phoneNumber": "+13175550100", "skillId": "sales" }),
    ] {
        let response = post(body).await.expect("dial");
        expect_error(response, 400, "InvalidSkill", "Skill is not valid.").await;
    }
    // No body at all.
    let response = sb
        .http
        .post(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("dial");
    expect_error(response, 400, "BadRequest", "A request body is required.").await;
    assert!(sb.sandbox.ledger().is_empty(), "nothing was dialed");

    // The skill may come as a string of digits.
    let response = post(json!({ "phoneNumber": "+13175550100", "skillId": "4242" }))
        .await
        .expect("dial");
    assert_eq!(response.status(), 202);
    assert_eq!(sb.sandbox.ledger().len(), 1);
}

#[tokio::test]
async fn dialing_from_an_ended_session_conflicts() {
    let sb = Sandbox::fast().await;
    let (token, session) = session_ready(&sb).await;
    let response = sb
        .http
        .delete(api(&sb, &format!("/agent-sessions/{session}")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("end");
    assert_eq!(response.status(), 202);
    let response = dial(&sb, &token, &session, "+13175550100").await;
    expect_error(
        response,
        409,
        "SessionEnded",
        "The agent session has ended.",
    )
    .await;
    assert!(sb.sandbox.ledger().is_empty());
}

// ---------------------------------------------------------------------------------------------
// The event long poll

#[tokio::test]
async fn get_next_event_times_out_with_304_and_an_empty_body() {
    let sb = Sandbox::fast().await;
    let (token, session) = session_ready(&sb).await;
    let started = Instant::now();
    let (status, body) = next_event(&sb, &token, &session, 1).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert_eq!(body, Value::Null, "304 has no body");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "the poll waited for its timeout"
    );
}

#[tokio::test]
async fn get_next_event_needs_a_whole_timeout() {
    let sb = Sandbox::fast().await;
    let token = sb.cxone_token().await;
    let session = start_session(&sb, &token).await;
    let url = api(&sb, &format!("/agent-sessions/{session}/get-next-event"));
    let response = sb
        .http
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("poll");
    expect_error(response, 400, "InvalidTimeout", "timeout is required.").await;
    let response = sb
        .http
        .get(&url)
        .query(&[("timeout", "soon")])
        .bearer_auth(&token)
        .send()
        .await
        .expect("poll");
    let got = cxone_error(response).await;
    assert_eq!((got.status, got.error.as_str()), (400, "InvalidTimeout"));
    // The session is untouched: its start event is still there.
    let (status, body) = next_event(&sb, &token, &session, 1).await;
    assert_eq!(events(status, &body)[0]["Type"], "AgentSessionStart");
}

#[tokio::test]
async fn get_next_event_delivers_the_session_end_then_409() {
    let sb = Sandbox::fast().await;
    let (token, session) = session_ready(&sb).await;
    let response = sb
        .http
        .delete(api(&sb, &format!("/agent-sessions/{session}")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("end");
    assert_eq!(response.status(), 202);
    let (status, body) = next_event(&sb, &token, &session, 1).await;
    let last = events(status, &body);
    assert_eq!(last.len(), 1, "{last:#?}");
    assert_eq!(last[0]["Type"], "AgentSessionEnd");
    let response = sb
        .http
        .get(api(
            &sb,
            &format!("/agent-sessions/{session}/get-next-event"),
        ))
        .query(&[("timeout", "1")])
        .bearer_auth(&token)
        .send()
        .await
        .expect("poll");
    expect_error(
        response,
        409,
        "SessionEnded",
        "The agent session has ended.",
    )
    .await;
}

#[tokio::test]
async fn a_waiting_long_poll_is_woken_by_a_dial() {
    let sb = Sandbox::fast().await;
    let (token, session) = session_ready(&sb).await;
    // Hold a long poll (30 s) while the call is dialed: it must answer with the call's
    // events at once, not when its timeout runs out.
    let poll = {
        let request = sb
            .http
            .get(api(
                &sb,
                &format!("/agent-sessions/{session}/get-next-event"),
            ))
            .query(&[("timeout", "30")])
            .bearer_auth(&token);
        tokio::spawn(async move { read(request.send().await.expect("poll")).await })
    };
    // Give the poll time to reach the sandbox and wait there (it passes either way).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let response = dial(&sb, &token, &session, "+13175550100").await;
    assert_eq!(response.status(), 202);
    let (status, body) = tokio::time::timeout(PATIENCE, poll)
        .await
        .expect("the dial woke the poll long before its 30 s timeout")
        .expect("the poll task");
    let woken = events(status, &body);
    assert_eq!(woken[0]["Type"], "CallContactEvent", "{woken:#?}");
    assert_eq!(woken[0]["Status"], "Dialing");
    assert_eq!(woken[0]["DNIS"], "+13175550100");
    assert_eq!(woken[0]["Skill"], SKILL.to_string());
}

#[tokio::test]
async fn a_waiting_long_poll_is_woken_by_the_session_ending() {
    let sb = Sandbox::fast().await;
    let (token, session) = session_ready(&sb).await;
    let poll = {
        let request = sb
            .http
            .get(api(
                &sb,
                &format!("/agent-sessions/{session}/get-next-event"),
            ))
            .query(&[("timeout", "30")])
            .bearer_auth(&token);
        tokio::spawn(async move { read(request.send().await.expect("poll")).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let response = sb
        .http
        .delete(api(&sb, &format!("/agent-sessions/{session}")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("end");
    assert_eq!(response.status(), 202);
    let (status, body) = tokio::time::timeout(PATIENCE, poll)
        .await
        .expect("ending the session woke the poll long before its 30 s timeout")
        .expect("the poll task");
    let woken = events(status, &body);
    assert_eq!(woken.len(), 1, "{woken:#?}");
    assert_eq!(woken[0]["Type"], "AgentSessionEnd");
}

// ---------------------------------------------------------------------------------------------
// Every scripted outcome

/// Dials `phone` and polls until the contact closes (or, for an answered call, connects);
/// returns the contact's events and its ledger entry.
async fn play(phone: &str) -> (Vec<(String, bool, Option<String>)>, LedgerEntry, Sandbox) {
    let sb = Sandbox::fast().await;
    let (token, session) = session_ready(&sb).await;
    assert_eq!(dial(&sb, &token, &session, phone).await.status(), 202);
    let answer = Outcome::for_destination(phone) == Outcome::Answer;
    let seen = poll_until(&sb, &token, &session, |seen| {
        has_final(seen) || (answer && has_status(seen, "Active"))
    })
    .await;
    for event in &seen {
        assert_eq!(event["DNIS"], phone);
        assert_eq!(event["IsInbound"], "False");
    }
    let id = contact_id(&seen);
    let entry = only_entry(&sb);
    assert_eq!(
        entry.id, id,
        "the ledger names the contact the events speak of"
    );
    assert_eq!(entry.destination, phone);
    assert_eq!(entry.caller, AGENT);
    assert_eq!(
        vendor_and_kind(&entry),
        ("nice-cxone".to_owned(), "call".to_owned())
    );
    if answer {
        // Nothing more happens: the call stays up.
        let (status, _) = next_event(&sb, &token, &session, 1).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
    }
    (contact_statuses(&seen), entry, sb)
}

fn status(name: &str, last: bool, code: Option<&str>) -> (String, bool, Option<String>) {
    (name.to_owned(), last, code.map(str::to_owned))
}

#[tokio::test]
async fn outcome_0100_answers_and_stays_active() {
    let (events, entry, sb) = play("+13175550100").await;
    assert_eq!(
        events,
        [
            status("Dialing", false, None),
            status("Active", false, None)
        ]
    );
    assert_eq!(entry.outcome, Some(Outcome::Answer));
    assert_eq!(entry.end_reason, None);
    assert_eq!(entry.ended_at, None);
    assert_eq!(only_entry(&sb).state, "connected");
}

#[tokio::test]
async fn outcome_0101_is_busy() {
    let (events, entry, _sb) = play("+13175550101").await;
    assert_eq!(
        events,
        [
            status("Dialing", false, None),
            status("Disconnected", true, Some("Busy")),
        ]
    );
    assert_eq!(entry.outcome, Some(Outcome::Busy));
    assert_eq!(entry.end_reason, Some(EndReason::Busy));
    assert_eq!(entry.state, "disconnected");
}

#[tokio::test]
async fn outcome_0102_rings_out_unanswered() {
    let (events, entry, _sb) = play("+13175550102").await;
    assert_eq!(
        events,
        [
            status("Dialing", false, None),
            status("Disconnected", true, Some("NoAnswer")),
        ]
    );
    assert_eq!(entry.outcome, Some(Outcome::NoAnswer));
    assert_eq!(entry.end_reason, Some(EndReason::NoAnswer));
}

#[tokio::test]
async fn outcome_0103_is_an_invalid_number() {
    let (events, entry, _sb) = play("+13175550103").await;
    assert_eq!(
        events,
        [
            status("Dialing", false, None),
            status("Disconnected", true, Some("InvalidNumber")),
        ]
    );
    assert_eq!(entry.outcome, Some(Outcome::Invalid));
    assert_eq!(entry.end_reason, Some(EndReason::Invalid));
}

#[tokio::test]
async fn outcome_0104_connects_then_the_customer_hangs_up() {
    let (events, entry, _sb) = play("+13175550104").await;
    assert_eq!(
        events,
        [
            status("Dialing", false, None),
            status("Active", false, None),
            status("Disconnected", true, Some("ContactHangUp")),
        ]
    );
    assert_eq!(entry.outcome, Some(Outcome::CustomerHangup));
    assert_eq!(entry.end_reason, Some(EndReason::CustomerHangup));
    assert!(entry.ended_at.is_some());
}

// ---------------------------------------------------------------------------------------------
// Contacts

/// A session with an answered call up; returns (token, session, contact id).
async fn answered_call(sb: &Sandbox) -> (String, String, String) {
    let (token, session) = session_ready(sb).await;
    assert_eq!(
        dial(sb, &token, &session, "+13175550100").await.status(),
        202
    );
    let seen = poll_until(sb, &token, &session, |seen| has_status(seen, "Active")).await;
    let id = contact_id(&seen);
    (token, session, id)
}

#[tokio::test]
async fn ending_an_interaction_hangs_up_once() {
    let sb = Sandbox::fast().await;
    let (token, session, contact) = answered_call(&sb).await;
    let url = api(
        &sb,
        &format!("/agent-sessions/{session}/interactions/{contact}/end"),
    );
    let response = sb
        .http
        .post(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("end");
    assert_eq!(response.status(), 202);
    assert!(response.bytes().await.expect("body").is_empty());
    let response = sb
        .http
        .post(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("end again");
    expect_error(
        response,
        409,
        "ContactEnded",
        "The contact has already ended.",
    )
    .await;

    let seen = poll_until(&sb, &token, &session, has_final).await;
    assert_eq!(
        contact_statuses(&seen),
        [status("Disconnected", true, Some("AgentDisconnect"))]
    );
    let entry = only_entry(&sb);
    assert_eq!(entry.end_reason, Some(EndReason::Client));
    assert_eq!(entry.state, "disconnected");

    // A contact the session never had.
    let response = sb
        .http
        .post(api(
            &sb,
            &format!("/agent-sessions/{session}/interactions/999/end"),
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("end");
    expect_error(response, 404, "InvalidContactId", "InvalidContactId").await;
}

#[tokio::test]
async fn ending_a_contact_as_admin_forces_it_down() {
    let sb = Sandbox::fast().await;
    let (token, session, contact) = answered_call(&sb).await;
    let url = api(&sb, &format!("/contacts/{contact}/end"));
    let response = sb
        .http
        .post(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("end");
    assert_eq!(response.status(), 202);
    let response = sb
        .http
        .post(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("end again");
    assert_eq!(cxone_error(response).await.status, 409);

    let seen = poll_until(&sb, &token, &session, has_final).await;
    assert_eq!(
        contact_statuses(&seen),
        [status("Disconnected", true, Some("ForcedDisconnect"))]
    );
    assert_eq!(only_entry(&sb).end_reason, Some(EndReason::Forced));
}

#[tokio::test]
async fn ending_a_session_with_a_call_up_needs_end_contacts() {
    let sb = Sandbox::fast().await;
    let (token, session, _contact) = answered_call(&sb).await;
    let url = api(&sb, &format!("/agent-sessions/{session}"));
    let response = sb
        .http
        .delete(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("end");
    let got = cxone_error(response).await;
    assert_eq!((got.status, got.error.as_str()), (409, "ActiveContacts"));
    assert_eq!(only_entry(&sb).state, "connected");

    let response = sb
        .http
        .delete(&url)
        .query(&[("endContacts", "true")])
        .bearer_auth(&token)
        .send()
        .await
        .expect("end");
    assert_eq!(response.status(), 202);
    assert_eq!(only_entry(&sb).end_reason, Some(EndReason::Client));
    let seen = poll_until(&sb, &token, &session, |seen| {
        seen.iter().any(|e| e["Type"] == "AgentSessionEnd")
    })
    .await;
    assert!(has_final(&seen), "{seen:#?}");
}

#[tokio::test]
async fn active_contacts_lists_calls_while_they_are_up() {
    let sb = Sandbox::fast().await;
    let (token, _session, contact) = answered_call(&sb).await;
    let active = |filter: Option<&'static str>| {
        let mut request = sb
            .http
            .get(api(&sb, "/contacts/active"))
            .bearer_auth(&token);
        if let Some(to) = filter {
            request = request.query(&[("toAddress", to)]);
        }
        request.send()
    };

    let (status, body) = read(active(None).await.expect("active")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["totalRecords"], 1);
    let listed = &body["activeContacts"][0];
    assert_eq!(listed["contactId"].to_string(), contact);
    assert_eq!(listed["toAddress"], "+13175550100");
    assert_eq!(listed["stateName"], "Active");
    assert_eq!(listed["skillId"], SKILL);
    assert_eq!(listed["isOutbound"], true);

    let (status, body) = read(active(Some("13175550100")).await.expect("active")).await;
    assert_eq!(status, 200);
    assert_eq!(body["totalRecords"], 1);
    let response = active(Some("+13175550199")).await.expect("active");
    assert_eq!(response.status(), 204, "the filter excludes the call");

    // Once it ends, nothing is active.
    let response = sb
        .http
        .post(api(&sb, &format!("/contacts/{contact}/end")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("end");
    assert_eq!(response.status(), 202);
    let response = active(None).await.expect("active");
    assert_eq!(response.status(), 204);
    assert_eq!(
        response.headers()["icStatusDescription"],
        "No Contacts for the specified period"
    );
    assert!(response.bytes().await.expect("body").is_empty());
}

#[tokio::test]
async fn a_contact_reads_nested_and_gains_an_end_reason() {
    let sb = Sandbox::fast().await;
    let (token, _session, contact) = answered_call(&sb).await;
    let get = || {
        sb.http
            .get(api(&sb, &format!("/contacts/{contact}")))
            .bearer_auth(&token)
            .send()
    };
    let (status, body) = read(get().await.expect("contact")).await;
    assert_eq!(status, 200, "{body}");
    let detail = &body["contactId"];
    assert_eq!(detail["contactId"].to_string(), contact);
    assert_eq!(detail["toAddress"], "+13175550100");
    assert_eq!(detail["stateName"], "Active");
    assert!(detail.get("endReason").is_none(), "{detail}");
    assert!(body["businessUnitId"].is_u64());

    let response = sb
        .http
        .post(api(&sb, &format!("/contacts/{contact}/end")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("end");
    assert_eq!(response.status(), 202);
    let (status, body) = read(get().await.expect("contact")).await;
    assert_eq!(status, 200);
    let detail = &body["contactId"];
    assert_eq!(detail["stateName"], "EndContact");
    assert_eq!(detail["endReason"], "ForcedDisconnect");
    assert_eq!(detail["abandoned"], false);
    assert!(detail["endDate"].is_string());

    for unknown in ["999", "not-a-number"] {
        let response = sb
            .http
            .get(api(&sb, &format!("/contacts/{unknown}")))
            .bearer_auth(&token)
            .send()
            .await
            .expect("contact");
        expect_error(response, 404, "InvalidContactId", "InvalidContactId").await;
    }
    let response = sb
        .http
        .post(api(&sb, "/contacts/999/end"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("end");
    expect_error(response, 404, "InvalidContactId", "InvalidContactId").await;
}

// ---------------------------------------------------------------------------------------------
// Callbacks and scripts

#[tokio::test]
async fn queuecallback_is_accepted_and_recorded() {
    let sb = Sandbox::fast().await;
    let token = sb.cxone_token().await;
    let url = api(&sb, "/queuecallback");
    let response = sb
        .http
        .post(&url)
        .query(&[("phoneNumber", "+13175550100"), ("skill", "4242")])
        .bearer_auth(&token)
        .send()
        .await
        .expect("callback");
    assert_eq!(response.status(), 202);
    assert!(response.bytes().await.expect("body").is_empty());
    let entry = only_entry(&sb);
    assert_eq!(
        vendor_and_kind(&entry),
        ("nice-cxone".to_owned(), "callback".to_owned())
    );
    assert_eq!(entry.destination, "+13175550100");
    assert_eq!(entry.state, "queued");
    assert_eq!(entry.outcome, None);

    let response = sb
        .http
        .post(&url)
        .query(&[("phoneNumber", "+13175550100")])
        .bearer_auth(&token)
        .send()
        .await
        .expect("callback");
    expect_error(response, 400, "InvalidSkill", "Skill is not valid.").await;
    let response = sb
        .http
        .post(&url)
        .query(&[("phoneNumber", "call me"), ("skill", "4242")])
        .bearer_auth(&token)
        .send()
        .await
        .expect("callback");
    expect_error(
        response,
        400,
        "InvalidPhoneNumber",
        "Phone Number is not valid.",
    )
    .await;
    assert_eq!(
        sb.sandbox.ledger().len(),
        1,
        "refused callbacks are not recorded"
    );
}

#[tokio::test]
async fn scripts_start_returns_a_contact_id() {
    let sb = Sandbox::fast().await;
    let token = sb.cxone_token().await;
    let url = api(&sb, "/scripts/start");
    let response = sb
        .http
        .post(&url)
        .query(&[
            ("skillId", "4242"),
            ("scriptPath", "Sandbox\\Outbound"),
            ("Parameters", "a|b|c"),
        ])
        .bearer_auth(&token)
        .send()
        .await
        .expect("script");
    let (status, body) = read(response).await;
    assert_eq!(status, 200, "{body}");
    let id = body["contactId"].as_u64().expect("an integer contactId");
    let response = sb
        .http
        .get(api(&sb, &format!("/contacts/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("contact");
    let (status, body) = read(response).await;
    assert_eq!(status, 200);
    assert_eq!(body["contactId"]["contactId"], id);

    let response = sb
        .http
        .post(&url)
        .query(&[("scriptPath", "Sandbox\\Outbound")])
        .bearer_auth(&token)
        .send()
        .await
        .expect("script");
    assert_eq!(
        cxone_error(response).await.error,
        "InvalidSkill",
        "skillId is required"
    );
    let response = sb
        .http
        .post(&url)
        .query(&[("skillId", "4242")])
        .bearer_auth(&token)
        .send()
        .await
        .expect("script");
    assert_eq!(cxone_error(response).await.error, "InvalidScript");
}

// ---------------------------------------------------------------------------------------------
// Authentication and paths

#[tokio::test]
async fn missing_bad_and_foreign_tokens_get_401() {
    let sb = Sandbox::fast().await;
    let genesys = sb.genesys_token().await;
    let url = api(&sb, "/contacts/active");
    let requests = [
        sb.http.get(&url),
        sb.http.get(&url).bearer_auth("not-a-token"),
        sb.http.get(&url).bearer_auth(&genesys),
        sb.http.get(&url).header("Authorization", "Bearer "),
        sb.http
            .get(&url)
            .basic_auth("sandbox-app", Some("sandbox-app-secret")),
    ];
    for request in requests {
        let response = request.send().await.expect("request");
        expect_error(response, 401, "Unauthorized", "Unauthorized").await;
    }
    let token = sb.cxone_token().await;
    let response = sb
        .http
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 204);
}

#[tokio::test]
async fn an_expired_token_gets_401() {
    let mut config = fast_config();
    config.cxone.token_lifetime = Duration::from_millis(1);
    let sb = Sandbox::start(config).await;
    let token = sb.cxone_token().await;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let response = sb
            .http
            .get(api(&sb, "/contacts/active"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("request");
        if response.status() == 401 {
            expect_error(response, 401, "Unauthorized", "Unauthorized").await;
            break;
        }
        assert!(Instant::now() < deadline, "the token never expired");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_bad_version_segment_is_404() {
    let sb = Sandbox::fast().await;
    let token = sb.cxone_token().await;
    for version in ["banana", "34.0", "v34"] {
        let response = sb
            .http
            .get(sb.url(&format!("/inContactAPI/services/{version}/contacts/active")))
            .bearer_auth(&token)
            .send()
            .await
            .expect("request");
        let got = cxone_error(response).await;
        assert_eq!(
            (got.status, got.error.as_str()),
            (404, "NotFound"),
            "{got:?}"
        );
        assert!(got.description.contains(version), "{got:?}");
        assert_eq!(got.status_text.as_deref(), Some(got.description.as_str()));
    }
    // Other versions are fine.
    let response = sb
        .http
        .get(sb.url("/inContactAPI/services/v23.0/contacts/active"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 204);
}
