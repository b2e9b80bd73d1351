//! The sandbox's own machinery: fault injection (status, drop, stall), rate limits, latency,
//! the ledger and the `/_sandbox` endpoints, robustness against hostile requests, and the
//! `callplan sandbox` command.

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use callplan::sandbox::config::{DEFAULT_USER_ID, Fault, FaultKind, RateLimit};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::sandbox_cxone::{P, api, cxone_error, dial, expect_error, start_session};
use crate::{Sandbox, fast_config};

/// The Genesys route that places a call for a user.
const PLACE: &str = "POST /api/v2/conversations/calls/user/{userId}";
/// The CXone route that dials from an agent session.
const DIAL: &str = "POST /inContactAPI/services/{version}/agent-sessions/{sessionId}/dial-phone";
/// How long a test waits for something that should happen at once.
const PATIENCE: Duration = Duration::from_secs(10);

/// A `kind: status` fault for the next `count` requests of `route`.
fn status_fault(route: &str, status: u16, count: u32) -> Fault {
    Fault {
        status: Some(status),
        count,
        ..Fault::new(route, FaultKind::Status)
    }
}

/// Places a Genesys call to `phone` for the default user.
async fn place(sb: &Sandbox, token: &str, phone: &str) -> reqwest::Result<Response> {
    sb.http
        .post(sb.url(&format!(
            "/api/v2/conversations/calls/user/{DEFAULT_USER_ID}"
        )))
        .bearer_auth(token)
        .json(&json!({ "phoneNumber": phone }))
        .timeout(PATIENCE)
        .send()
        .await
}

/// `GET /api/v2/tokens/me`: the cheapest authenticated Genesys request.
async fn token_info(sb: &Sandbox, token: &str) -> Response {
    sb.http
        .get(sb.url("/api/v2/tokens/me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("tokens/me")
}

/// A Genesys `ErrorBody`, checked for its shape; returns (status, code, message, Retry-After).
async fn genesys_error(response: Response) -> (u16, String, String, Option<u64>) {
    let status = response.status().as_u16();
    let correlation = response
        .headers()
        .get("inin-correlation-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let retry_after = response.headers().get("retry-after").map(|v| {
        v.to_str()
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .expect("Retry-After is whole seconds")
    });
    let body: Value = response.json().await.expect("a JSON ErrorBody");
    assert_eq!(body["status"], status, "{body}");
    assert!(correlation.is_some(), "inin-correlation-id is set");
    assert_eq!(
        body["contextId"].as_str(),
        correlation.as_deref(),
        "contextId is the correlation id: {body}"
    );
    assert!(
        body["errors"].is_array() && body["details"].is_array(),
        "{body}"
    );
    (
        status,
        body["code"].as_str().expect("code").to_owned(),
        body["message"].as_str().expect("message").to_owned(),
        retry_after,
    )
}

/// The `/_sandbox/calls` listing.
async fn calls(sb: &Sandbox) -> Value {
    let response = sb
        .http
        .get(sb.url("/_sandbox/calls"))
        .send()
        .await
        .expect("calls");
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

/// A CXone token and a started session.
async fn cxone_session(sb: &Sandbox) -> (String, String) {
    let token = sb.cxone_token().await;
    let session = start_session(sb, &token).await;
    (token, session)
}

// ---------------------------------------------------------------------------------------------
// Status faults

#[tokio::test]
async fn a_status_fault_fails_the_next_k_genesys_requests() {
    let sb = Sandbox::fast().await;
    sb.sandbox
        .add_fault(Fault {
            retry_after: Some(7),
            ..status_fault(PLACE, 503, 2)
        })
        .expect("a valid fault");
    let token = sb.genesys_token().await;
    for _ in 0..2 {
        let response = place(&sb, &token, "+13175550100").await.expect("answer");
        let (status, code, _, retry_after) = genesys_error(response).await;
        assert_eq!(
            (status, code.as_str(), retry_after),
            (503, "service.unavailable", Some(7))
        );
    }
    assert!(
        sb.sandbox.ledger().is_empty(),
        "faulted requests place nothing"
    );
    let response = place(&sb, &token, "+13175550100").await.expect("answer");
    assert_eq!(response.status(), 200, "the third request gets through");
    assert_eq!(sb.sandbox.ledger().len(), 1);
}

#[tokio::test]
async fn a_status_fault_on_a_cxone_route_has_the_cxone_shape() {
    let sb = Sandbox::fast().await;
    sb.sandbox
        .add_fault(Fault {
            retry_after: Some(3),
            ..status_fault(DIAL, 503, 2)
        })
        .expect("a valid fault");
    let (token, session) = cxone_session(&sb).await;
    for _ in 0..2 {
        let response = dial(&sb, &token, &session, "+13175550100").await;
        assert!(response.headers().contains_key("CorrelationId"));
        let got = cxone_error(response).await;
        assert_eq!(
            (got.status, got.error.as_str(), got.description.as_str()),
            (503, "ServiceUnavailable", "Service Unavailable"),
            "{got:?}"
        );
        assert_eq!(got.status_text.as_deref(), Some("Service Unavailable"));
        assert_eq!(got.retry_after.as_deref(), Some("3"));
    }
    assert!(sb.sandbox.ledger().is_empty());
    let response = dial(&sb, &token, &session, "+13175550100").await;
    assert_eq!(response.status(), 202);
    assert_eq!(sb.sandbox.ledger().len(), 1);
}

#[tokio::test]
async fn skip_lets_the_first_requests_through() {
    let sb = Sandbox::fast().await;
    sb.sandbox
        .add_fault(Fault {
            skip: 1,
            ..status_fault("GET /api/v2/tokens/me", 502, 1)
        })
        .expect("a valid fault");
    let token = sb.genesys_token().await;
    assert_eq!(token_info(&sb, &token).await.status(), 200, "skipped");
    let (status, code, _, retry_after) = genesys_error(token_info(&sb, &token).await).await;
    assert_eq!(
        (status, code.as_str(), retry_after),
        (502, "bad.gateway", None)
    );
    assert_eq!(token_info(&sb, &token).await.status(), 200, "used up");
}

#[tokio::test]
async fn a_processed_status_fault_still_places_the_call() {
    let sb = Sandbox::fast().await;
    sb.sandbox
        .add_fault(Fault {
            processed: true,
            ..status_fault(PLACE, 500, 1)
        })
        .expect("a valid fault");
    let token = sb.genesys_token().await;
    let response = place(&sb, &token, "+13175550100").await.expect("answer");
    let (status, code, _, _) = genesys_error(response).await;
    assert_eq!((status, code.as_str()), (500, "internal.server.error"));
    let ledger = sb.sandbox.ledger();
    assert_eq!(
        ledger.len(),
        1,
        "the call went out although the client saw a 500"
    );
    assert_eq!(ledger[0].destination, "+13175550100");
}

#[tokio::test]
async fn a_fault_with_a_wildcard_method_matches_any_method() {
    let sb = Sandbox::fast().await;
    sb.sandbox
        .add_fault(status_fault("* /api/v2/tokens/me", 500, 2))
        .expect("a valid fault");
    let token = sb.genesys_token().await;
    assert_eq!(token_info(&sb, &token).await.status(), 500);
    let response = sb
        .http
        .delete(sb.url("/api/v2/tokens/me"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("revoke");
    assert_eq!(
        response.status(),
        500,
        "DELETE matched too; the token survives"
    );
    assert_eq!(token_info(&sb, &token).await.status(), 200);
}

// ---------------------------------------------------------------------------------------------
// Drop and stall

#[tokio::test]
async fn a_drop_fault_closes_the_connection_and_places_nothing() {
    let sb = Sandbox::fast().await;
    sb.sandbox
        .add_fault(Fault::new(PLACE, FaultKind::Drop))
        .expect("a valid fault");
    let token = sb.genesys_token().await;
    let err = place(&sb, &token, "+13175550100")
        .await
        .expect_err("no response at all");
    assert!(!err.is_timeout(), "closed, not stalled: {err:?}");
    assert!(sb.sandbox.ledger().is_empty());
    // The server keeps serving.
    let response = place(&sb, &token, "+13175550100").await.expect("answer");
    assert_eq!(response.status(), 200);
    assert_eq!(sb.sandbox.ledger().len(), 1);
}

#[tokio::test]
async fn a_processed_drop_places_the_call_exactly_once() {
    let sb = Sandbox::fast().await;
    sb.sandbox
        .add_fault(Fault {
            processed: true,
            ..Fault::new(DIAL, FaultKind::Drop)
        })
        .expect("a valid fault");
    let (token, session) = cxone_session(&sb).await;
    let err = sb
        .http
        .post(api(&sb, &format!("/agent-sessions/{session}/dial-phone")))
        .bearer_auth(&token)
        .json(&json!({ "phoneNumber": "+13175550100", "skillId": 1 }))
        .timeout(PATIENCE)
        .send()
        .await
        .expect_err("no response at all");
    assert!(!err.is_timeout(), "closed, not stalled: {err:?}");
    let ledger = sb.sandbox.ledger();
    assert_eq!(ledger.len(), 1, "{ledger:#?}");
    assert_eq!(ledger[0].destination, "+13175550100");
    // The server keeps serving, and the call it placed is there.
    let response = sb
        .http
        .get(api(&sb, "/contacts/active"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("active");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["totalRecords"], 1);
    assert_eq!(sb.sandbox.ledger().len(), 1, "still exactly once");
}

#[tokio::test]
async fn a_stall_outlasts_the_client_timeout_while_others_are_served() {
    let sb = Sandbox::fast().await;
    sb.sandbox
        .add_fault(Fault {
            duration: Duration::from_secs(2),
            ..Fault::new("GET /api/v2/tokens/me", FaultKind::Stall)
        })
        .expect("a valid fault");
    let token = sb.genesys_token().await;
    let stalled = sb
        .http
        .get(sb.url("/api/v2/tokens/me"))
        .bearer_auth(&token)
        .timeout(Duration::from_millis(200))
        .send();
    let others = async {
        // Requests sent while the stall holds are answered.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let response = sb
            .http
            .get(sb.url("/.well-known/openid-configuration"))
            .send()
            .await
            .expect("discovery");
        let calls = sb
            .http
            .get(sb.url("/_sandbox/calls"))
            .send()
            .await
            .expect("calls");
        (response.status(), calls.status())
    };
    let (stalled, others) = tokio::join!(stalled, others);
    let err = stalled.expect_err("the client gives up");
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(others, (StatusCode::OK, StatusCode::OK));
    assert_eq!(token_info(&sb, &token).await.status(), 200, "used up");
}

#[tokio::test]
async fn a_processed_stall_places_the_call_the_client_gave_up_on() {
    let sb = Sandbox::fast().await;
    sb.sandbox
        .add_fault(Fault {
            processed: true,
            duration: Duration::from_secs(2),
            ..Fault::new(DIAL, FaultKind::Stall)
        })
        .expect("a valid fault");
    let (token, session) = cxone_session(&sb).await;
    let err = sb
        .http
        .post(api(&sb, &format!("/agent-sessions/{session}/dial-phone")))
        .bearer_auth(&token)
        .json(&json!({ "phoneNumber": "+13175550101", "skillId": 1 }))
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .expect_err("the client gives up");
    assert!(err.is_timeout(), "{err:?}");
    let ledger = sb.sandbox.ledger();
    assert_eq!(ledger.len(), 1, "processed before the stall: {ledger:#?}");
    assert_eq!(ledger[0].destination, "+13175550101");
}

// ---------------------------------------------------------------------------------------------
// Faults over HTTP, and determinism

#[tokio::test]
async fn faults_added_over_http_are_listed_with_what_remains() {
    let sb = Sandbox::fast().await;
    let response = sb
        .http
        .post(sb.url("/_sandbox/faults"))
        .json(&json!({
            "route": "GET /api/v2/tokens/me",
            "kind": "status",
            "status": 500,
            "count": 2,
        }))
        .send()
        .await
        .expect("add");
    assert_eq!(response.status(), 201);
    let remaining = || async {
        let response = sb
            .http
            .get(sb.url("/_sandbox/faults"))
            .send()
            .await
            .expect("list");
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.expect("json");
        let faults = body["faults"].as_array().expect("faults").clone();
        assert_eq!(faults.len(), 1, "{body}");
        assert_eq!(faults[0]["fault"]["route"], "GET /api/v2/tokens/me");
        assert_eq!(faults[0]["fault"]["status"], 500);
        faults[0]["remaining"].as_u64().expect("remaining")
    };
    assert_eq!(remaining().await, 2);
    let token = sb.genesys_token().await;
    let (status, code, _, _) = genesys_error(token_info(&sb, &token).await).await;
    assert_eq!((status, code.as_str()), (500, "internal.server.error"));
    assert_eq!(remaining().await, 1);
    assert_eq!(token_info(&sb, &token).await.status(), 500);
    assert_eq!(remaining().await, 0);
    assert_eq!(token_info(&sb, &token).await.status(), 200);
}

#[tokio::test]
async fn bad_faults_are_refused() {
    let sb = Sandbox::fast().await;
    let add = |body: Value| sb.http.post(sb.url("/_sandbox/faults")).json(&body).send();
    let cases = [
        (
            json!({ "route": "GET /api/v2/nowhere", "kind": "drop" }),
            "matches no route",
        ),
        (
            json!({ "route": "GET /api/v2/tokens/me", "kind": "status" }),
            "needs `status: N`",
        ),
        (
            json!({ "route": "GET /api/v2/tokens/me", "kind": "status", "status": 200 }),
            "not an error status",
        ),
        (
            json!({ "route": "GET /api/v2/tokens/me", "kind": "drop", "count": 0 }),
            "count must be at least 1",
        ),
        (
            json!({ "route": "GET /api/v2/tokens/me", "kind": "explode" }),
            "unknown variant",
        ),
        (json!({ "kind": "drop" }), "route"),
    ];
    for (body, expect) in cases {
        let response = add(body.clone()).await.expect("add");
        assert_eq!(response.status(), 400, "{body}");
        let answer: Value = response.json().await.expect("json");
        let error = answer["error"].as_str().expect("an error message");
        assert!(error.contains(expect), "{body} → {error}");
    }
    let response = sb
        .http
        .post(sb.url("/_sandbox/faults"))
        .header("content-type", "text/plain")
        .body(r#"{"route":"GET /api/v2/tokens/me","kind":"drop"}"#)
        .send()
        .await
        .expect("add");
    assert_eq!(response.status(), 400);
    let response = sb
        .http
        .post(sb.url("/_sandbox/faults"))
        .send()
        .await
        .expect("add");
    assert_eq!(response.status(), 400);

    let err = sb
        .sandbox
        .add_fault(Fault::new("GET /api/v2/nowhere", FaultKind::Drop))
        .expect_err("refused in code too");
    assert!(err.message.contains("matches no route"), "{err}");

    let response = sb
        .http
        .get(sb.url("/_sandbox/faults"))
        .send()
        .await
        .expect("list");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["faults"], json!([]), "nothing was armed");
}

/// Runs one fixed sequence of requests against a sandbox with a fixed set of faults; returns
/// every status and id it saw.
async fn fixed_sequence() -> Vec<String> {
    let mut config = fast_config();
    config.faults = vec![
        Fault {
            skip: 1,
            retry_after: Some(2),
            ..status_fault(DIAL, 503, 2)
        },
        status_fault(
            "GET /inContactAPI/services/{version}/contacts/active",
            429,
            1,
        ),
        Fault {
            skip: 2,
            ..status_fault(PLACE, 500, 1)
        },
    ];
    let sb = Sandbox::start(config).await;
    let mut seen = Vec::new();
    let (token, session) = cxone_session(&sb).await;
    seen.push(format!("session {session}"));
    for _ in 0..4 {
        seen.push(
            dial(&sb, &token, &session, "+13175550100")
                .await
                .status()
                .to_string(),
        );
    }
    for _ in 0..2 {
        let response = sb
            .http
            .get(api(&sb, "/contacts/active"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("active");
        seen.push(response.status().to_string());
    }
    let genesys = sb.genesys_token().await;
    for _ in 0..4 {
        let response = place(&sb, &genesys, "+13175550101").await.expect("answer");
        seen.push(response.status().to_string());
    }
    for entry in sb.sandbox.ledger() {
        seen.push(format!("placed {}", entry.id));
    }
    seen
}

#[tokio::test]
async fn the_same_faults_and_requests_give_the_same_answers() {
    let first = fixed_sequence().await;
    let second = fixed_sequence().await;
    assert_eq!(first, second);
    let statuses: Vec<&str> = first
        .iter()
        .filter(|s| !s.starts_with("session") && !s.starts_with("placed"))
        .map(|s| &s[..3])
        .collect();
    assert_eq!(
        statuses,
        [
            "202", "503", "503", "202", // dial: skip 1, fault 2
            "429", "200", // contacts/active
            "200", "200", "500", "200", // place: skip 2, fault 1
        ]
    );
    assert_eq!(
        first.iter().filter(|s| s.starts_with("placed")).count(),
        5,
        "2 dials and 3 placed calls"
    );
}

// ---------------------------------------------------------------------------------------------
// Rate limits

#[tokio::test]
async fn a_genesys_token_over_its_limit_gets_429() {
    let mut config = fast_config();
    config.genesys.rate_limit = Some(RateLimit {
        requests: 3,
        per: Duration::from_secs(60),
        burst: None,
    });
    let sb = Sandbox::start(config).await;
    let token = sb.genesys_token().await;
    for _ in 0..3 {
        assert_eq!(token_info(&sb, &token).await.status(), 200);
    }
    let (status, code, message, retry_after) = genesys_error(token_info(&sb, &token).await).await;
    assert_eq!((status, code.as_str()), (429, "too.many.requests"));
    assert_eq!(
        message,
        "Rate limit exceeded the maximum [3] requests within [60] seconds"
    );
    let retry_after = retry_after.expect("Retry-After");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    // Every request counts, refused or not; another token has its own budget.
    let other = sb.genesys_token().await;
    assert_ne!(other, token);
    assert_eq!(token_info(&sb, &other).await.status(), 200);
    assert_eq!(token_info(&sb, &token).await.status(), 429);
}

#[tokio::test]
async fn the_default_genesys_limit_is_300_requests_a_minute() {
    let sb = Sandbox::fast().await;
    let token = sb.genesys_token().await;
    let started = Instant::now();
    let mut passed = 0u32;
    let refused = loop {
        let response = token_info(&sb, &token).await;
        if response.status() != 200 {
            break response;
        }
        passed += 1;
        assert!(passed <= 2_000, "no limit after {passed} requests");
    };
    // The bucket refills one request every 200 ms: if the run took longer than that, a few
    // more may pass, never fewer.
    let refills = (started.elapsed().as_millis() / 200) as u32;
    assert!(
        (300..=300 + refills + 1).contains(&passed),
        "{passed} passed in {:?}",
        started.elapsed()
    );
    let (status, _, message, retry_after) = genesys_error(refused).await;
    assert_eq!(status, 429);
    assert_eq!(
        message,
        "Rate limit exceeded the maximum [300] requests within [60] seconds"
    );
    assert!(retry_after.is_some_and(|s| s >= 1));
}

#[tokio::test]
async fn a_configured_cxone_limit_answers_429_in_the_cxone_shape() {
    let mut config = fast_config();
    config.cxone.rate_limit = Some(RateLimit {
        requests: 2,
        per: Duration::from_secs(60),
        burst: None,
    });
    let sb = Sandbox::start(config).await;
    let token = sb.cxone_token().await;
    let active = |token: String| {
        sb.http
            .get(api(&sb, "/contacts/active"))
            .bearer_auth(token)
            .send()
    };
    for _ in 0..2 {
        assert_eq!(active(token.clone()).await.expect("active").status(), 204);
    }
    let got = cxone_error(active(token.clone()).await.expect("active")).await;
    assert_eq!(
        (got.status, got.error.as_str(), got.description.as_str()),
        (
            429,
            "TooManyRequests",
            "Rate limit exceeded: 2 requests per 60 seconds."
        ),
        "{got:?}"
    );
    assert_eq!(got.status_text.as_deref(), Some(got.description.as_str()));
    let retry_after: u64 = got
        .retry_after
        .as_deref()
        .and_then(|s| s.parse().ok())
        .expect("Retry-After in seconds");
    assert!(retry_after >= 1);
    let other = sb.cxone_token().await;
    assert_eq!(active(other).await.expect("active").status(), 204);
}

#[tokio::test]
async fn latency_delays_every_answer() {
    let config = callplan::sandbox::Config {
        latency: Duration::from_millis(30),
        ..fast_config()
    };
    let sb = Sandbox::start(config).await;
    for path in [
        "/.well-known/openid-configuration",
        "/api/v2/nowhere",
        "/_sandbox/calls",
    ] {
        let started = Instant::now();
        let response = sb.http.get(sb.url(path)).send().await.expect("answer");
        let _ = response.bytes().await.expect("body");
        assert!(
            started.elapsed() >= Duration::from_millis(30),
            "{path} answered in {:?}",
            started.elapsed()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The ledger and /_sandbox

#[tokio::test]
async fn sandbox_calls_and_reset_over_http() {
    let mut config = fast_config();
    config.faults = vec![status_fault("GET /api/v2/tokens/me", 503, 1)];
    let sb = Sandbox::start(config).await;
    let genesys = sb.genesys_token().await;
    assert_eq!(
        token_info(&sb, &genesys).await.status(),
        503,
        "configured fault"
    );
    assert_eq!(token_info(&sb, &genesys).await.status(), 200);
    let response = place(&sb, &genesys, "+13175550104").await.expect("answer");
    assert_eq!(response.status(), 200);
    let placed: Value = response.json().await.expect("json");
    let cxone = sb.cxone_token().await;
    let response = sb
        .http
        .post(api(&sb, "/queuecallback"))
        .query(&[("phoneNumber", "+13175550100"), ("skill", "7")])
        .bearer_auth(&cxone)
        .send()
        .await
        .expect("callback");
    assert_eq!(response.status(), 202);

    let listing = calls(&sb).await;
    assert_eq!(listing["total"], 2, "{listing}");
    let first = &listing["calls"][0];
    assert_eq!(first["vendor"], "genesys-cloud");
    assert_eq!(first["kind"], "call");
    assert_eq!(first["id"], placed["id"]);
    assert_eq!(first["destination"], "+13175550104");
    assert_eq!(first["outcome"], "customer_hangup");
    assert!(first["placed_at"].is_string());
    let second = &listing["calls"][1];
    assert_eq!(second["vendor"], "nice-cxone");
    assert_eq!(second["kind"], "callback");
    assert_eq!(second["state"], "queued");
    assert_eq!(second["caller"], "31337");

    // The customer of …0104 hangs up after 13 ms.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let listing = calls(&sb).await;
        if listing["calls"][0]["state"] == "disconnected" {
            assert_eq!(listing["calls"][0]["end_reason"], "customer_hangup");
            assert!(listing["calls"][0]["ended_at"].is_string());
            break;
        }
        assert!(Instant::now() < deadline, "{listing}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let response = sb
        .http
        .post(sb.url("/_sandbox/reset"))
        .send()
        .await
        .expect("reset");
    assert_eq!(response.status(), 204);
    assert_eq!(calls(&sb).await, json!({ "total": 0, "calls": [] }));
    // Faults are re-armed (they act before authentication), tokens forgotten.
    assert_eq!(token_info(&sb, &genesys).await.status(), 503, "re-armed");
    let (status, code, _, _) = genesys_error(token_info(&sb, &genesys).await).await;
    assert_eq!((status, code.as_str()), (401, "bad.credentials"));
    let response = sb
        .http
        .get(api(&sb, "/contacts/active"))
        .bearer_auth(&cxone)
        .send()
        .await
        .expect("active");
    assert_eq!(response.status(), 401);
    let genesys = sb.genesys_token().await;
    assert_eq!(token_info(&sb, &genesys).await.status(), 200);

    // The in-process handle does the same.
    assert_eq!(
        place(&sb, &genesys, "+13175550100")
            .await
            .expect("answer")
            .status(),
        200
    );
    assert_eq!(sb.sandbox.ledger().len(), 1);
    sb.sandbox.reset();
    assert!(sb.sandbox.ledger().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Robustness: hostile requests get the vendor's error, and the server keeps serving

/// The final, ordinary request of a robustness test: a Genesys call and a CXone dial work.
async fn still_serving(sb: &Sandbox) {
    let genesys = sb.genesys_token().await;
    let response = place(sb, &genesys, "+13175550100").await.expect("answer");
    assert_eq!(response.status(), 200, "Genesys still works");
    let token = sb.cxone_token().await;
    // Join the agent's session if the test started one.
    let response = sb
        .http
        .post(api(sb, "/agent-sessions/join"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("join");
    let session = if response.status() == 202 {
        let body: Value = response.json().await.expect("json");
        body["sessionId"].as_str().expect("sessionId").to_owned()
    } else {
        start_session(sb, &token).await
    };
    assert_eq!(
        dial(sb, &token, &session, "+13175550100").await.status(),
        202,
        "CXone still works"
    );
}

/// A Genesys-shaped error with this status and code.
async fn expect_genesys(response: Response, status: u16, code: &str) {
    let (got, got_code, message, _) = genesys_error(response).await;
    assert_eq!((got, got_code.as_str()), (status, code), "{message}");
}

#[tokio::test]
async fn malformed_json_is_a_bad_request() {
    let sb = Sandbox::fast().await;
    let genesys = sb.genesys_token().await;
    let (token, session) = cxone_session(&sb).await;
    let place_url = sb.url(&format!(
        "/api/v2/conversations/calls/user/{DEFAULT_USER_ID}"
    ));
    let dial_url = api(&sb, &format!("/agent-sessions/{session}/dial-phone"));
    for body in [
        "{\"phoneNumber\":",
        "{\"phoneNumber\": \"+13175550100\"}}",
        "[1, 2, 3]",
        "\"just a string\"",
        "{\"phoneNumber\": 12}",
        "\u{feff}{}",
        "nul\0l",
    ] {
        let response = sb
            .http
            .post(&place_url)
            .bearer_auth(&genesys)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("answer");
        expect_genesys(response, 400, "bad.request").await;
        let response = sb
            .http
            .post(&dial_url)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("answer");
        let got = cxone_error(response).await;
        assert_eq!(got.status, 400, "{body:?}: {got:?}");
        assert!(
            ["BadRequest", "InvalidPhoneNumber"].contains(&got.error.as_str()),
            "{body:?}: {got:?}"
        );
        assert!(got.status_text.is_some(), "{got:?}");
    }
    let response = sb
        .http
        .post(api(&sb, "/agent-sessions/join"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .expect("answer");
    assert_eq!(cxone_error(response).await.error, "BadRequest");
    assert!(sb.sandbox.ledger().is_empty());
    still_serving(&sb).await;
}

#[tokio::test]
async fn wrong_content_types_are_refused_in_the_vendors_shape() {
    let sb = Sandbox::fast().await;
    let genesys = sb.genesys_token().await;
    let (token, session) = cxone_session(&sb).await;
    let json = r#"{"phoneNumber": "+13175550100", "skillId": 5}"#;
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "json",
        "",
    ] {
        let response = sb
            .http
            .post(sb.url(&format!(
                "/api/v2/conversations/calls/user/{DEFAULT_USER_ID}"
            )))
            .bearer_auth(&genesys)
            .header("content-type", content_type)
            .body(json)
            .send()
            .await
            .expect("answer");
        expect_genesys(response, 415, "unsupported.media.type").await;
        // CXone reads JSON whatever the label (NICE's SDK sends `text/plain`; see
        // sandbox_cxone_sdk.rs), but what is not JSON is still refused.
        let response = sb
            .http
            .post(api(&sb, &format!("/agent-sessions/{session}/dial-phone")))
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body("phoneNumber=%2B13175550100&skillId=5")
            .send()
            .await
            .expect("answer");
        expect_error(
            response,
            415,
            "UnsupportedMediaType",
            "Unsupported Media Type",
        )
        .await;
    }
    // Logins want forms.
    let response = sb
        .http
        .post(sb.url("/oauth/token"))
        .basic_auth("sandbox-client", Some("sandbox-secret"))
        .json(&json!({ "grant_type": "client_credentials" }))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"], "invalid_request");
    // JSON with parameters or a +json suffix is JSON.
    for content_type in ["application/json; charset=utf-8", "application/vnd.x+json"] {
        let response = sb
            .http
            .post(api(&sb, &format!("/agent-sessions/{session}/dial-phone")))
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body(json)
            .send()
            .await
            .expect("answer");
        assert_eq!(response.status(), 202, "{content_type}");
    }
    assert_eq!(sb.sandbox.ledger().len(), 2);
    still_serving(&sb).await;
}

#[tokio::test]
async fn unknown_routes_and_methods_get_the_vendors_404_and_405() {
    let sb = Sandbox::fast().await;
    let genesys = sb.genesys_token().await;
    let token = sb.cxone_token().await;

    let response = sb
        .http
        .get(sb.url("/api/v2/nowhere"))
        .bearer_auth(&genesys)
        .send()
        .await
        .expect("answer");
    expect_genesys(response, 404, "not.found").await;
    let response = sb
        .http
        .put(sb.url("/api/v2/conversations/calls"))
        .bearer_auth(&genesys)
        .send()
        .await
        .expect("answer");
    expect_genesys(response, 405, "method.not.allowed").await;

    for path in [
        format!("{P}/nowhere"),
        format!("{P}/agent-sessions/s/dial-phone/extra"),
        "/auth/nowhere".to_owned(),
        "/.well-known/nowhere".to_owned(),
    ] {
        let response = sb
            .http
            .get(sb.url(&path))
            .bearer_auth(&token)
            .send()
            .await
            .expect("answer");
        expect_error(response, 404, "NotFound", "Not Found").await;
    }
    let response = sb
        .http
        .get(sb.url("/auth/token"))
        .send()
        .await
        .expect("answer");
    expect_error(response, 405, "MethodNotAllowed", "Method Not Allowed").await;
    let response = sb
        .http
        .put(api(&sb, "/contacts/active"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("answer");
    expect_error(response, 405, "MethodNotAllowed", "Method Not Allowed").await;

    let response = sb
        .http
        .get(sb.url("/oauth/nowhere"))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"], "invalid_request");
    assert!(body["error_description"].is_string(), "{body}");

    for (method, path, status) in [
        (reqwest::Method::GET, "/nowhere", 404),
        (reqwest::Method::GET, "/", 404),
        (reqwest::Method::DELETE, "/_sandbox/calls", 405),
        (reqwest::Method::GET, "/_sandbox/reset", 405),
    ] {
        let response = sb
            .http
            .request(method, sb.url(path))
            .send()
            .await
            .expect("answer");
        assert_eq!(response.status(), status, "{path}");
        let body: Value = response.json().await.expect("json");
        assert!(body["error"].is_string(), "{body}");
    }
    still_serving(&sb).await;
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let config = callplan::sandbox::Config {
        max_body_bytes: 1024,
        ..fast_config()
    };
    let sb = Sandbox::start(config).await;
    let genesys = sb.genesys_token().await;
    let (token, session) = cxone_session(&sb).await;
    let padding = "x".repeat(4096);
    let big = json!({ "phoneNumber": "+13175550100", "skillId": 5, "padding": padding });

    let response = place(&sb, &genesys, &format!("+1317555{padding}"))
        .await
        .expect("answer");
    expect_genesys(response, 413, "request.entity.too.large").await;
    let response = sb
        .http
        .post(api(&sb, &format!("/agent-sessions/{session}/dial-phone")))
        .bearer_auth(&token)
        .json(&big)
        .send()
        .await
        .expect("answer");
    expect_error(
        response,
        413,
        "RequestTooLarge",
        "The request body is too large.",
    )
    .await;
    let response = sb
        .http
        .post(sb.url("/auth/token"))
        .basic_auth("sandbox-app", Some("sandbox-app-secret"))
        .form(&[("grant_type", "password"), ("username", padding.as_str())])
        .send()
        .await
        .expect("answer");
    assert_eq!(cxone_error(response).await.status, 413);
    let response = sb
        .http
        .post(sb.url("/oauth/token"))
        .basic_auth("sandbox-client", Some("sandbox-secret"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("pad", padding.as_str()),
        ])
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 413);
    let response = sb
        .http
        .post(sb.url("/_sandbox/faults"))
        .json(&json!({ "route": "GET /api/v2/tokens/me", "kind": "drop", "x": padding }))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 400);
    assert!(sb.sandbox.ledger().is_empty());
    still_serving(&sb).await;
}

#[tokio::test]
async fn garbage_authorization_headers_get_401() {
    let sb = Sandbox::fast().await;
    let genesys = sb.genesys_token().await;
    let cxone = sb.cxone_token().await;
    let long = format!("Bearer {}", "A".repeat(16 * 1024));
    let garbage: Vec<HeaderValue> = [
        "Bearer",
        "Bearer ",
        "Bearer      ",
        "Basic !!!not-base64!!!",
        "Basic",
        "Token abc",
        "bearer",
        "  ",
        "Bearer a b c",
        long.as_str(),
    ]
    .into_iter()
    .map(|s| HeaderValue::from_str(s).expect("a header value"))
    .chain([
        HeaderValue::from_bytes(b"Bearer \xff\xfe\xfd").expect("obs-text"),
        HeaderValue::from_bytes(b"Basic \xc3\x28").expect("obs-text"),
    ])
    .collect();
    for value in &garbage {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", value.clone());
        let response = sb
            .http
            .get(sb.url("/api/v2/tokens/me"))
            .headers(headers.clone())
            .send()
            .await
            .expect("answer");
        let (status, _, _, _) = genesys_error(response).await;
        assert_eq!(status, 401, "{value:?}");
        let response = sb
            .http
            .get(api(&sb, "/contacts/active"))
            .headers(headers.clone())
            .send()
            .await
            .expect("answer");
        expect_error(response, 401, "Unauthorized", "Unauthorized").await;
        // Logins refuse garbage client credentials.
        let response = sb
            .http
            .post(sb.url("/auth/token"))
            .headers(headers.clone())
            .form(&[("grant_type", "password")])
            .send()
            .await
            .expect("answer");
        assert_eq!(
            cxone_error(response).await.error,
            "invalid_client",
            "{value:?}"
        );
        let response = sb
            .http
            .post(sb.url("/oauth/token"))
            .headers(headers)
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("answer");
        assert!(response.status().is_client_error(), "{value:?}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"], "invalid_client", "{value:?}");
    }
    // The scheme is case-insensitive.
    let response = sb
        .http
        .get(api(&sb, "/contacts/active"))
        .header("authorization", format!("bearer {cxone}"))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 204);
    assert_eq!(token_info(&sb, &genesys).await.status(), 200);
    still_serving(&sb).await;
}

#[tokio::test]
async fn odd_path_segments_get_vendor_errors() {
    let sb = Sandbox::fast().await;
    let genesys = sb.genesys_token().await;
    let (token, _session) = cxone_session(&sb).await;
    let long = "9".repeat(4096);
    for segment in [
        "%F0%9F%92%A9",
        "%FF%FE",
        "%C3%28",
        "%00",
        "..%2F..%2Fetc%2Fpasswd",
        "a%20b",
        "%",
        "%zz",
        "~!$&'()*+,;=:@",
        long.as_str(),
    ] {
        // A segment that is not UTF-8 once decoded cannot name anything: a plain 404.
        let undecodable = ["%FF%FE", "%C3%28"].contains(&segment);
        let named = |specific: &'static str| if undecodable { "NotFound" } else { specific };
        let response = sb
            .http
            .get(api(&sb, &format!("/contacts/{segment}")))
            .bearer_auth(&token)
            .send()
            .await
            .expect("answer");
        let got = cxone_error(response).await;
        assert_eq!(
            (got.status, got.error.as_str()),
            (404, named("InvalidContactId")),
            "{segment}: {got:?}"
        );
        assert_eq!(got.status_text.as_deref(), Some(got.description.as_str()));
        for path in [
            format!("/agent-sessions/{segment}/get-next-event?timeout=1"),
            format!("/agent-sessions/{segment}/dial-phone"),
            format!("/agent-sessions/{segment}/interactions/{segment}/end"),
        ] {
            let request = if path.ends_with("get-next-event?timeout=1") {
                sb.http.get(api(&sb, &path))
            } else {
                sb.http
                    .post(api(&sb, &path))
                    .json(&json!({ "phoneNumber": "+13175550100", "skillId": 1 }))
            };
            let response = request.bearer_auth(&token).send().await.expect("answer");
            let got = cxone_error(response).await;
            assert_eq!(
                (got.status, got.error.as_str()),
                (404, named("InvalidSession")),
                "{path}: {got:?}"
            );
        }
        let response = sb
            .http
            .get(sb.url(&format!("/inContactAPI/services/{segment}/contacts/active")))
            .bearer_auth(&token)
            .send()
            .await
            .expect("answer");
        let got = cxone_error(response).await;
        assert_eq!(
            (got.status, got.error.as_str()),
            (404, "NotFound"),
            "{got:?}"
        );

        let response = sb
            .http
            .get(sb.url(&format!("/api/v2/externalcontacts/contacts/{segment}")))
            .bearer_auth(&genesys)
            .send()
            .await
            .expect("answer");
        assert!(
            response.status().is_client_error(),
            "{segment}: Genesys answered {}",
            response.status()
        );
    }
    assert!(sb.sandbox.ledger().is_empty());
    still_serving(&sb).await;
}

// ---------------------------------------------------------------------------------------------
// `callplan sandbox`

/// A `callplan sandbox` process, killed when dropped.
struct Served {
    child: Child,
    /// The base URL it printed.
    url: String,
    http: reqwest::Client,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// Starts `callplan sandbox --addr 127.0.0.1:0` with `args`, in `dir`, and reads the URL
    /// from its first line.
    fn start(dir: &Path, args: &[&str]) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_callplan"))
            .args(["sandbox", "--addr", "127.0.0.1:0"])
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("callplan starts");
        let stdout = child.stdout.take().expect("stdout");
        let (send, receive) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let read = BufReader::new(stdout).read_line(&mut line);
            let _ = send.send(read.map(|_| line));
        });
        callplan::provider::connection::install_crypto();
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(PATIENCE)
            .build()
            .expect("a client");
        let mut served = Served {
            child,
            url: String::new(),
            http,
        };
        let line = receive
            .recv_timeout(Duration::from_secs(60))
            .expect("the first line within a minute")
            .expect("stdout reads");
        if line.is_empty() {
            let _ = served.child.kill();
            let mut stderr = String::new();
            if let Some(mut err) = served.child.stderr.take() {
                let _ = err.read_to_string(&mut stderr);
            }
            assert!(
                !line.is_empty(),
                "callplan sandbox printed nothing: {stderr}"
            );
        }
        let url = line
            .strip_prefix("sandbox: serving on ")
            .and_then(|rest| rest.strip_suffix(" (Ctrl-C to stop)\n"))
            .unwrap_or_else(|| line.trim());
        assert!(
            url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"),
            "first line: {line:?}"
        );
        served.url = url.to_owned();
        served
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

/// Runs `callplan sandbox` expecting it to exit quickly; returns (code, stderr).
fn run_expecting_exit(dir: &Path, args: &[&str]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_callplan"))
        .args(["sandbox", "--addr", "127.0.0.1:0"])
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("callplan starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let status = status.expect("callplan sandbox exits at once on a bad config");
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    (status.code().unwrap_or(-1), stderr)
}

#[tokio::test]
async fn cli_sandbox_prints_its_url_and_serves() {
    let dir = tempfile::tempdir().expect("temp dir");
    let served = Served::start(dir.path(), &[]);
    let response = served
        .http
        .get(served.url("/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["token_endpoint"], served.url("/auth/token"));
    let response = served
        .http
        .get(served.url("/_sandbox/calls"))
        .send()
        .await
        .expect("calls");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn cli_sandbox_refuses_a_broken_config_with_its_location() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (text, location) in [
        ("time_scale: 0.001\nlatencyy: 5ms\n", "broken.yaml:2:1"),
        (
            "time_scale: 0.001\nfaults: [\n  { route: x\n",
            "broken.yaml:",
        ),
        (
            "genesys:\n  rate_limit: { requests: three, per: 1m }\n",
            "broken.yaml:2:",
        ),
        // Values the sandbox's clocks cannot use: refused where they are written.
        ("seed: 1\ntime_scale: 1e19\n", "broken.yaml:2:13"),
        ("time_scale: 0.0000001\n", "broken.yaml:1:13"),
        (
            "genesys:\n  rate_limit: { requests: 1, per: 585y }\n",
            "broken.yaml:2:35",
        ),
        (
            "faults:\n  - route: GET /api/v2/users/{id}\n    kind: stall\n    duration: 18446744073709551615s\n",
            "broken.yaml:4:15",
        ),
    ] {
        std::fs::write(dir.path().join("broken.yaml"), text).expect("write");
        let (code, stderr) = run_expecting_exit(dir.path(), &["--config", "broken.yaml"]);
        assert_eq!(code, 2, "{stderr}");
        assert!(
            stderr.contains("invalid sandbox configuration") && stderr.contains(location),
            "expected `{location}` in: {stderr}"
        );
        // A location is `file:line:col`.
        let at = stderr.find("broken.yaml:").expect("the file") + "broken.yaml:".len();
        let position: String = stderr[at..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == ':')
            .collect();
        let numbers: Vec<&str> = position.split(':').filter(|s| !s.is_empty()).collect();
        assert_eq!(numbers.len(), 2, "line and column in: {stderr}");
    }
    // A value out of range is named.
    std::fs::write(dir.path().join("zero.yaml"), "time_scale: 0\n").expect("write");
    let (code, stderr) = run_expecting_exit(dir.path(), &["--config", "zero.yaml"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("time_scale"), "{stderr}");
    // So is a missing file.
    let (code, stderr) = run_expecting_exit(dir.path(), &["--config", "missing.yaml"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("missing.yaml"), "{stderr}");
}

#[tokio::test]
async fn cli_sandbox_honours_its_config_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("sandbox.yaml"),
        "time_scale: 0.001\ngenesys:\n  rate_limit: { requests: 2, per: 1m }\n",
    )
    .expect("write");
    let served = Served::start(dir.path(), &["--config", "sandbox.yaml"]);
    let http = &served.http;

    // The rate limit.
    let response = http
        .post(served.url("/oauth/token"))
        .basic_auth("sandbox-client", Some("sandbox-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("login");
    let body: Value = response.json().await.expect("json");
    let token = body["access_token"].as_str().expect("token").to_owned();
    let me = || {
        http.get(served.url("/api/v2/tokens/me"))
            .bearer_auth(&token)
            .send()
    };
    assert_eq!(me().await.expect("me").status(), 200);
    assert_eq!(me().await.expect("me").status(), 200);
    let response = me().await.expect("me");
    assert_eq!(response.status(), 429);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body["message"],
        "Rate limit exceeded the maximum [2] requests within [60] seconds"
    );

    // The time scale: …0104 hangs up after 13 s of real time, 13 ms here.
    let response = http
        .post(served.url("/auth/token"))
        .basic_auth("sandbox-app", Some("sandbox-app-secret"))
        .form(&[
            ("grant_type", "password"),
            ("username", "sandbox-access-key"),
            ("password", "sandbox-access-secret"),
        ])
        .send()
        .await
        .expect("login");
    let body: Value = response.json().await.expect("json");
    let cxone = body["access_token"].as_str().expect("token").to_owned();
    let response = http
        .post(served.url(&format!("{P}/agent-sessions")))
        .bearer_auth(&cxone)
        .json(&json!({ "stationId": "s" }))
        .send()
        .await
        .expect("session");
    let body: Value = response.json().await.expect("json");
    let session = body["sessionId"].as_str().expect("session").to_owned();
    let response = http
        .post(served.url(&format!("{P}/agent-sessions/{session}/dial-phone")))
        .bearer_auth(&cxone)
        .json(&json!({ "phoneNumber": "+13175550104", "skillId": 1 }))
        .send()
        .await
        .expect("dial");
    assert_eq!(response.status(), 202);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = http
            .get(served.url("/_sandbox/calls"))
            .send()
            .await
            .expect("calls");
        let listing: Value = response.json().await.expect("json");
        if listing["calls"][0]["state"] == "disconnected" {
            assert_eq!(listing["calls"][0]["end_reason"], "customer_hangup");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the call should have ended within milliseconds: {listing}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
