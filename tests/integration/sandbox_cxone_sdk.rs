//! The sandbox, CXone side, as NICE's own agent SDK (`@nice-devone/*-sdk` 25.1.2) speaks to
//! it: paths in any case, JSON labelled `text/plain` or not at all, a DELETE with a body, the
//! OpenID login with PKCE and RS256 id_tokens, whoami, the agent's settings and skills, events
//! with PascalCase keys and `"True"` flags, and the request log that shows what was sent.
//! `tests/nice-sdk/` runs the SDK itself against `callplan sandbox`.

use base64::Engine as _;
use callplan::sandbox::Config;
use callplan::sandbox::config::Fault;
use callplan::sandbox::config::FaultKind;
use reqwest::header::LOCATION;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::Sandbox;
use crate::sandbox_cxone::{api, cxone_error, dial, expect_error, start_session};

/// The prefix NICE's SDK uses for agent sessions (capital I, v23.0).
const SDK: &str = "/InContactAPI/services/v23.0";
/// The SDK's PKCE verifier: 56 hex characters.
const VERIFIER: &str = "0123456789abcdef0123456789abcdef0123456789abcdef01234567";
/// A redirect URI on loopback (any is allowed for the default public client).
const REDIRECT: &str = "http://127.0.0.1:9/callback";

fn b64url(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .expect("base64url")
}

fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A request as NICE's SDK sends its ACD calls: JSON with fetch's default `text/plain` label.
fn sdk_post(sb: &Sandbox, path: &str, token: &str, body: &str) -> reqwest::RequestBuilder {
    sb.http
        .post(sb.url(path))
        .bearer_auth(token)
        .header("content-type", "text/plain;charset=UTF-8")
        .header("Originating-Service-Identifier", "CXoneAgent")
        .body(body.to_owned())
}

/// Polls `get-next-event` (through the SDK's spelling) until `done` holds for all events seen.
async fn events_until(
    sb: &Sandbox,
    token: &str,
    session: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut seen = Vec::new();
    while !done(&seen) {
        assert!(std::time::Instant::now() < deadline, "{seen:#?}");
        let response = sb
            .http
            .get(sb.url(&format!(
                "/incontactapi//services/V23.0/agent-sessions/{session}/get-next-event?timeout=5"
            )))
            .bearer_auth(token)
            .send()
            .await
            .expect("poll");
        if response.status() == 304 {
            continue;
        }
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.expect("json");
        seen.extend(body["events"].as_array().expect("events").iter().cloned());
    }
    seen
}

fn status_of(events: &[Value], status: &str) -> Option<Value> {
    events
        .iter()
        .find(|e| e["Type"] == "CallContactEvent" && e["Status"] == status)
        .cloned()
}

/// A GET without credentials, answered with JSON.
async fn get_json(sb: &Sandbox, path: &str) -> Value {
    sb.http
        .get(sb.url(path))
        .send()
        .await
        .expect(path)
        .json()
        .await
        .expect("json")
}

/// The request log's entries.
async fn logged(sb: &Sandbox) -> Vec<Value> {
    let body = get_json(sb, "/_sandbox/requests").await;
    body["requests"].as_array().expect("requests").clone()
}

// ---------------------------------------------------------------------------------------------
// What the SDK sends

#[tokio::test]
async fn a_session_runs_through_the_sdks_spellings_and_labels() {
    let sb = Sandbox::fast().await;
    let token = sb.cxone_token().await;
    let response = sdk_post(
        &sb,
        &format!("{SDK}/agent-sessions"),
        &token,
        r#"{"stationId":"station-1","stationPhoneNumber":"4155550100"}"#,
    )
    .send()
    .await
    .expect("start");
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.expect("json");
    let session = body["sessionId"].as_str().expect("sessionId").to_owned();

    let events = events_until(&sb, &token, &session, |seen| !seen.is_empty()).await;
    let start = &events[0];
    assert_eq!(start["Type"], "AgentSessionStart");
    assert_eq!(start["SessionId"], session.as_str());
    assert_eq!(start["AgentId"], "31337");
    assert_eq!(start["StationId"], "station-1");
    assert_eq!(start["StationPhoneNumber"], "4155550100");
    assert_eq!(start["BusNo"], "4600001");

    let response = sdk_post(
        &sb,
        &format!("/inContactapi/services/v23.0/agent-sessions/{session}/dial-phone"),
        &token,
        r#"{"phoneNumber":"4155550100","skillId":4242}"#,
    )
    .send()
    .await
    .expect("dial");
    assert_eq!(response.status(), 202);
    let events = events_until(&sb, &token, &session, |seen| {
        status_of(seen, "Active").is_some()
    })
    .await;
    let active = status_of(&events, "Active").expect("Active");
    for key in [
        "ContactID",
        "MasterID",
        "ANI",
        "DNIS",
        "Skill",
        "StartTimeUTC",
    ] {
        assert!(active[key].is_string(), "{key} in {active}");
    }
    assert_eq!(active["FinalState"], "False");
    assert_eq!(active["IsInbound"], "False");
    assert_eq!(active["DNIS"], "4155550100");
    assert_eq!(active["Skill"], "4242");
    let contact = active["ContactID"].as_str().expect("ContactID").to_owned();

    // End contact: text/plain, no body at all.
    let response = sdk_post(
        &sb,
        &format!("{SDK}/agent-sessions/{session}/interactions/{contact}/end"),
        &token,
        "",
    )
    .send()
    .await
    .expect("end");
    assert_eq!(response.status(), 202);
    let events = events_until(&sb, &token, &session, |seen| {
        status_of(seen, "Disconnected").is_some()
    })
    .await;
    let ended = status_of(&events, "Disconnected").expect("Disconnected");
    assert_eq!(ended["FinalState"], "True");
    assert_eq!(ended["DisconnectCode"], "AgentDisconnect");

    // End session: DELETE with the flags in a text/plain body.
    let response = sb
        .http
        .delete(sb.url(&format!("{SDK}/agent-sessions/{session}")))
        .bearer_auth(&token)
        .header("content-type", "text/plain;charset=UTF-8")
        .body(r#"{"forceLogoff":true,"endContacts":true,"ignorePersonalQueue":false}"#)
        .send()
        .await
        .expect("end session");
    assert_eq!(response.status(), 202);
    let events = events_until(&sb, &token, &session, |seen| {
        seen.iter().any(|e| e["Type"] == "AgentSessionEnd")
    })
    .await;
    assert_eq!(events.last().expect("an event")["Success"], "True");

    // The log keeps the paths as sent and as routed, and the SDK's header.
    let log = logged(&sb).await;
    let dial = log
        .iter()
        .find(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("/dial-phone"))
        })
        .expect("the dial is logged");
    assert_eq!(
        dial["path"],
        format!("/inContactapi/services/v23.0/agent-sessions/{session}/dial-phone")
    );
    assert_eq!(
        dial["routed"],
        format!("/inContactAPI/services/v23.0/agent-sessions/{session}/dial-phone")
    );
    assert_eq!(dial["status"], 202);
    assert_eq!(
        dial["headers"]["originating-service-identifier"],
        "CXoneAgent"
    );
    assert_eq!(dial["headers"]["authorization"], "Bearer ****");
    assert_eq!(dial["headers"]["content-type"], "text/plain;charset=UTF-8");
}

#[tokio::test]
async fn bodies_that_are_not_json_are_still_refused() {
    let sb = Sandbox::fast().await;
    let token = sb.cxone_token().await;
    let session = start_session(&sb, &token).await;
    let path = format!("{SDK}/agent-sessions/{session}/dial-phone");
    // Unlabelled JSON is read.
    let response = sb
        .http
        .post(sb.url(&path))
        .bearer_auth(&token)
        .body(r#"{"phoneNumber":"4155550100","skillId":4242}"#)
        .send()
        .await
        .expect("dial");
    assert_eq!(response.status(), 202);
    // Not JSON, under another label: 415; labelled JSON but broken: 400.
    let response = sdk_post(&sb, &path, &token, "phoneNumber=4155550100")
        .send()
        .await
        .expect("dial");
    expect_error(
        response,
        415,
        "UnsupportedMediaType",
        "Unsupported Media Type",
    )
    .await;
    let response = sb
        .http
        .post(sb.url(&path))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"phoneNumber\":")
        .send()
        .await
        .expect("dial");
    let got = cxone_error(response).await;
    assert_eq!((got.status, got.error.as_str()), (400, "BadRequest"));
    assert_eq!(sb.sandbox.ledger().len(), 1);
}

#[tokio::test]
async fn ending_a_session_reads_its_flags_from_the_delete_body() {
    let sb = Sandbox::fast().await;
    let token = sb.cxone_token().await;
    let session = start_session(&sb, &token).await;
    assert_eq!(
        dial(&sb, &token, &session, "+13175550100").await.status(),
        202
    );
    let end = |body: &'static str| {
        sb.http
            .delete(api(&sb, &format!("/agent-sessions/{session}")))
            .bearer_auth(&token)
            .header("content-type", "text/plain;charset=UTF-8")
            .body(body)
            .send()
    };
    // The call is up: without endContacts the session cannot end.
    let response = end(r#"{"forceLogoff":false,"endContacts":false,"ignorePersonalQueue":false}"#)
        .await
        .expect("end");
    assert_eq!(cxone_error(response).await.status, 409);
    let response = end(r#"{"endContacts":"maybe"}"#).await.expect("end");
    let got = cxone_error(response).await;
    assert_eq!((got.status, got.error.as_str()), (400, "InvalidParameter"));
    let response = end(r#"{"forceLogoff":true,"endContacts":true,"ignorePersonalQueue":false}"#)
        .await
        .expect("end");
    assert_eq!(response.status(), 202);
    let entry = sb.sandbox.ledger().into_iter().next().expect("the call");
    let entry = serde_json::to_value(entry).expect("json");
    assert_eq!(entry["end_reason"], "client", "{entry}");
}

#[tokio::test]
async fn fault_routes_match_whatever_the_case() {
    let sb = Sandbox::fast().await;
    let mut fault = Fault::new(
        "POST /incontactapi/services/*/AGENT-SESSIONS/{id}/dial-phone",
        FaultKind::Status,
    );
    fault.status = Some(503);
    sb.sandbox.add_fault(fault).expect("the route is served");
    let token = sb.cxone_token().await;
    let session = start_session(&sb, &token).await;
    let response = sdk_post(
        &sb,
        &format!("{SDK}/agent-sessions/{session}/dial-phone"),
        &token,
        r#"{"phoneNumber":"4155550100","skillId":4242}"#,
    )
    .send()
    .await
    .expect("dial");
    assert_eq!(cxone_error(response).await.status, 503);
}

// ---------------------------------------------------------------------------------------------
// The SDK's login

#[tokio::test]
async fn discovery_and_the_jwks_give_what_the_sdk_needs() {
    let sb = Sandbox::fast().await;
    let discovery: Value = sb
        .http
        .get(sb.url("/.well-known/openid-configuration"))
        .header("content-type", "application/json")
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert_eq!(discovery["jwks_uri"], sb.url("/auth/jwks"));
    assert_eq!(
        discovery["authorization_endpoint"],
        sb.url("/auth/authorize")
    );
    for (list, value) in [
        ("display_values_supported", "page"),
        ("code_challenge_methods_supported", "S256"),
        ("id_token_signing_alg_values_supported", "RS256"),
    ] {
        assert!(
            discovery[list]
                .as_array()
                .is_some_and(|l| l.contains(&json!(value))),
            "{list}: {discovery}"
        );
    }
    let jwks = get_json(&sb, "/auth/jwks").await;
    let key = &jwks["keys"][0];
    assert_eq!((&key["kty"], &key["alg"]), (&json!("RSA"), &json!("RS256")));
    assert!(key["kid"].is_string() && key["n"].is_string() && key["e"].is_string());
}

/// `GET /auth/authorize` as the SDK builds it; the answer (not followed).
async fn authorize(sb: &Sandbox, query: &str) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    client
        .get(sb.url(&format!("/auth/authorize?{query}")))
        .send()
        .await
        .expect("authorize")
}

fn authorize_query(client: &str, redirect: &str, verifier: &str) -> String {
    format!(
        "client_id={client}&redirect_uri={redirect}&response_type=code&scope=openid\
         &state=aaxx-11&display=page&code_challenge={}&code_challenge_method=S256",
        challenge(verifier)
    )
}

/// The code of a redirect, after checking the state came back.
fn code_of(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), 302);
    let location = response.headers()[LOCATION].to_str().expect("ascii");
    assert!(location.starts_with(&format!("{REDIRECT}?")), "{location}");
    let url = reqwest::Url::parse(location).expect("a URL");
    let pairs: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(pairs.get("state").map(String::as_str), Some("aaxx-11"));
    pairs.get("code").expect("a code").clone()
}

/// A token request as the SDK sends it: a form, labelled JSON, no client secret.
async fn sdk_token(sb: &Sandbox, body: String) -> reqwest::Response {
    sb.http
        .post(sb.url("/auth/token"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("token")
}

fn code_body(code: &str, verifier: &str) -> String {
    format!(
        "grant_type=authorization_code&code={code}&redirect_uri={REDIRECT}\
         &client_id=sandbox-agent-app&code_verifier={verifier}"
    )
}

/// Checks an RS256 id_token against the sandbox's JWKS; returns its claims.
async fn verified_claims(sb: &Sandbox, id_token: &str) -> Value {
    let parts: Vec<&str> = id_token.split('.').collect();
    assert_eq!(parts.len(), 3, "{id_token}");
    // The SDK decodes the header with `atob`, which knows no base64url characters.
    assert!(!parts[0].contains(['-', '_']), "{}", parts[0]);
    let header: Value = serde_json::from_slice(&b64url(parts[0])).expect("header");
    assert_eq!(header["alg"], "RS256");
    let jwks = get_json(sb, "/auth/jwks").await;
    let key = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the header's kid is in the JWKS");
    let public = ring::rsa::PublicKeyComponents {
        n: b64url(key["n"].as_str().expect("n")),
        e: b64url(key["e"].as_str().expect("e")),
    };
    public
        .verify(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
            &b64url(parts[2]),
        )
        .expect("the signature verifies");
    serde_json::from_slice(&b64url(parts[1])).expect("claims")
}

#[tokio::test]
async fn the_authorization_code_with_pkce_logs_the_agent_in() {
    let sb = Sandbox::fast().await;
    let response = authorize(
        &sb,
        &authorize_query("sandbox-agent-app", REDIRECT, VERIFIER),
    )
    .await;
    let code = code_of(&response);

    let response = sdk_token(&sb, code_body(&code, VERIFIER)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.expect("json");
    for field in ["access_token", "token_type", "refresh_token", "expires_in"] {
        assert!(!body[field].is_null(), "{field}: {body}");
    }
    let claims = verified_claims(&sb, body["id_token"].as_str().expect("id_token")).await;
    assert_eq!(claims["icAgentId"], 31337);
    assert_eq!(claims["aud"], "sandbox-agent-app");
    let token = body["access_token"].as_str().expect("token");
    assert!(!start_session(&sb, token).await.is_empty());

    // A code serves once.
    let response = sdk_token(&sb, code_body(&code, VERIFIER)).await;
    let got = cxone_error(response).await;
    assert_eq!((got.status, got.error.as_str()), (400, "invalid_grant"));
}

#[tokio::test]
async fn pkce_and_the_redirect_are_checked() {
    let sb = Sandbox::fast().await;
    // A verifier that does not match its challenge.
    let response = authorize(
        &sb,
        &authorize_query("sandbox-agent-app", REDIRECT, VERIFIER),
    )
    .await;
    let code = code_of(&response);
    let wrong = "f".repeat(56);
    let response = sdk_token(&sb, code_body(&code, &wrong)).await;
    expect_error(
        response,
        400,
        "invalid_grant",
        "code_verifier does not match the code_challenge.",
    )
    .await;

    // An unknown client or a foreign redirect is answered, not redirected to.
    let response = authorize(&sb, &authorize_query("nobody", REDIRECT, VERIFIER)).await;
    let got = cxone_error(response).await;
    assert_eq!((got.status, got.error.as_str()), (400, "invalid_client"));
    let response = authorize(
        &sb,
        &authorize_query("sandbox-agent-app", "https://evil.example/cb", VERIFIER),
    )
    .await;
    let got = cxone_error(response).await;
    assert_eq!((got.status, got.error.as_str()), (400, "invalid_request"));

    // Without PKCE, or with `plain`, the error goes back to the client.
    for query in [
        format!(
            "client_id=sandbox-agent-app&redirect_uri={REDIRECT}&response_type=code&scope=openid&state=s"
        ),
        format!(
            "client_id=sandbox-agent-app&redirect_uri={REDIRECT}&response_type=code&scope=openid\
             &state=s&code_challenge={VERIFIER}&code_challenge_method=plain"
        ),
    ] {
        let response = authorize(&sb, &query).await;
        assert_eq!(response.status(), 302);
        let location = response.headers()[LOCATION].to_str().expect("ascii");
        assert!(location.contains("error=invalid_request"), "{location}");
        assert!(location.contains("state=s"), "{location}");
    }
}

#[tokio::test]
async fn the_password_grant_id_token_is_rs256_with_the_claims_the_sdk_reads() {
    let mut config = crate::fast_config();
    config.cxone.business_unit = 4_600_777;
    let sb = Sandbox::start(config).await;
    let body = sb.cxone_login().await;
    let claims = verified_claims(&sb, body["id_token"].as_str().expect("id_token")).await;
    assert_eq!(claims["tenantId"], Config::default().cxone.tenant_id);
    assert_eq!(claims["icBUId"], 4_600_777);
    assert_eq!(claims["icAgentId"], 31337);
    assert!(
        claims["sub"]
            .as_str()
            .and_then(|s| s.strip_prefix("user:"))
            .is_some_and(|id| uuid::Uuid::parse_str(id).is_ok()),
        "{claims}"
    );
    for name in ["icClusterId", "given_name", "family_name", "name", "teamId"] {
        assert!(!claims[name].is_null(), "{name}: {claims}");
    }
    // No `tenant` claim: it would switch the SDK to User Hub hosts.
    assert!(claims.get("tenant").is_none(), "{claims}");
}

#[tokio::test]
async fn refresh_without_a_client_id_and_token_exchange_as_the_sdk_sends_them() {
    let sb = Sandbox::fast().await;
    let response = authorize(
        &sb,
        &authorize_query("sandbox-agent-app", REDIRECT, VERIFIER),
    )
    .await;
    let code = code_of(&response);
    let first: Value = sdk_token(&sb, code_body(&code, VERIFIER))
        .await
        .json()
        .await
        .expect("json");
    let refresh = first["refresh_token"].as_str().expect("refresh");

    let response = sdk_token(
        &sb,
        format!("grant_type=refresh_token&scope=openid&refresh_token={refresh}"),
    )
    .await;
    assert_eq!(response.status(), 200);
    let refreshed: Value = response.json().await.expect("json");
    verified_claims(&sb, refreshed["id_token"].as_str().expect("id_token")).await;
    let access = refreshed["access_token"].as_str().expect("access");

    let exchange = |subject: &str| {
        format!(
            "grant_type=urn:ietf:params:oauth:grant-type:token-exchange&scope=openid\
             &client_id=sandbox-agent-app&subject_token={subject}\
             &subject_token_type=urn:ietf:params:oauth:token-type:access_token"
        )
    };
    let response = sdk_token(&sb, exchange(access)).await;
    assert_eq!(response.status(), 200);
    let exchanged: Value = response.json().await.expect("json");
    verified_claims(&sb, exchanged["id_token"].as_str().expect("id_token")).await;
    assert_ne!(exchanged["access_token"], refreshed["access_token"]);
    let token = exchanged["access_token"].as_str().expect("token");
    assert!(!start_session(&sb, token).await.is_empty());

    let response = sdk_token(&sb, exchange("not-a-token")).await;
    let got = cxone_error(response).await;
    assert_eq!((got.status, got.error.as_str()), (400, "invalid_grant"));
    // A refresh token names its client: another one cannot use it.
    let response = sb
        .http
        .post(sb.url("/auth/token"))
        .basic_auth("sandbox-app", Some("sandbox-app-secret"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .send()
        .await
        .expect("refresh");
    let got = cxone_error(response).await;
    assert_eq!((got.status, got.error.as_str()), (400, "invalid_grant"));
}

#[tokio::test]
async fn whoami_names_the_api_base_and_the_agent() {
    let sb = Sandbox::fast().await;
    let token = sb.cxone_token().await;
    let whoami = |token: String| {
        sb.http
            .post(sb.url("/incontactauthorizationserver/token/whoami"))
            .header("content-type", "application/json")
            .body(json!({ "token": token }).to_string())
            .send()
    };
    let response = whoami(token).await.expect("whoami");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["resource_server_base_uri"], sb.url("/inContactAPI/"));
    assert_eq!(body["agent_id"], 31337);
    assert_eq!(body["bus_no"], 4_600_001);
    for field in [
        "team_id",
        "expires_in",
        "iss",
        "sub",
        "refresh_token_server_uri",
    ] {
        assert!(!body[field].is_null(), "{field}: {body}");
    }
    let response = whoami("unknown".into()).await.expect("whoami");
    expect_error(response, 401, "Unauthorized", "Invalid token.").await;
}

// ---------------------------------------------------------------------------------------------
// What the full client reads

#[tokio::test]
async fn the_agent_client_finds_its_settings_business_unit_and_skills() {
    let sb = Sandbox::fast().await;
    let token = sb.cxone_token().await;
    let get = |path: String| sb.http.get(sb.url(&path)).bearer_auth(&token).send();
    let read = |response: reqwest::Response| async move {
        assert_eq!(response.status(), 200, "{}", response.url());
        response.json::<Value>().await.expect("json")
    };

    let settings = read(
        get("/InContactAPI/services/v30.0/agents/31337/agent-settings".into())
            .await
            .expect("settings"),
    )
    .await;
    assert_eq!(settings["EnableUIQueue"], false);
    let unit = read(get(format!("{SDK}/business-unit")).await.expect("unit")).await;
    assert_eq!(unit["businessUnits"][0]["businessUnitId"], 4_600_001);
    let indicators = read(
        get(format!("{SDK}/agents/31337/indicators"))
            .await
            .expect("indicators"),
    )
    .await;
    assert_eq!(indicators["indicators"], json!([]));
    let time = read(get(format!("{SDK}/server-time")).await.expect("time")).await;
    let server = time["ServerTime"].as_str().expect("ServerTime");
    assert!(humantime::parse_rfc3339(server).is_ok(), "{server}");

    let skill = read(get(format!("{SDK}/skills/4242")).await.expect("skill")).await;
    assert_eq!(skill["skillId"], 4242);
    assert_eq!(skill["mediaTypeId"], 4);
    let dispositions = read(
        get("/InContactAPI/services/v12.0/skills/4242/dispositions".into())
            .await
            .expect("dispositions"),
    )
    .await;
    let list = dispositions["dispositions"].as_array().expect("a list");
    assert!(!list.is_empty());
    assert!(list.iter().all(|d| d["dispositionId"].is_u64()));
    let tags = read(
        get("/InContactAPI/services/v12.0/skills/4242/tags".into())
            .await
            .expect("tags"),
    )
    .await;
    assert_eq!(tags["resultSet"]["skillId"], 4242);
    assert!(tags["resultSet"]["tags"][0]["tagId"].is_u64());

    // Unknown agents and skills, and anonymous callers, are refused as CXone refuses them.
    for path in [
        format!("{SDK}/agents/99/agent-settings"),
        format!("{SDK}/skills/0"),
        format!("{SDK}/skills/abc/tags"),
    ] {
        let response = get(path.clone()).await.expect("answer");
        assert_eq!(cxone_error(response).await.status, 404, "{path}");
    }
    let response = sb
        .http
        .get(sb.url(&format!("{SDK}/server-time")))
        .send()
        .await
        .expect("answer");
    assert_eq!(cxone_error(response).await.status, 401);
}

#[tokio::test]
async fn the_request_log_lists_requests_and_a_reset_clears_it() {
    let sb = Sandbox::fast().await;
    for _ in 0..3 {
        sb.http
            .get(sb.url("/.well-known/openid-configuration"))
            .send()
            .await
            .expect("discovery");
    }
    let log = logged(&sb).await;
    assert_eq!(
        log.len(),
        3,
        "the log does not list its own reads: {log:#?}"
    );
    assert!(
        log.iter()
            .all(|r| r["status"] == 200 && r["method"] == "GET")
    );
    sb.sandbox.reset();
    assert!(logged(&sb).await.is_empty());
}
