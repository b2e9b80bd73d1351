//! The sandbox's generic HTTP APIs: the echo API that stands in for `http` providers
//! (`/_sandbox/http/…`) and the OAuth2 client-credentials token endpoint
//! (`/_sandbox/oauth2/token`).

use std::time::Duration;

use callplan::sandbox::config::{Fault, FaultKind, RateLimit};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::{Sandbox, fast_config};

/// The echo API of a provider named `crm`.
const CRM: &str = "/_sandbox/http/crm";
/// The OAuth2 token endpoint.
const TOKEN: &str = "/_sandbox/oauth2/token";

/// A response's status and JSON body.
async fn json_of(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let body = response.json().await.expect("a JSON body");
    (status, body)
}

/// Checks that `received_at` is an RFC 3339 timestamp with milliseconds.
fn assert_timestamp(echo: &Value) {
    let at = echo["received_at"].as_str().expect("received_at");
    let parsed = humantime::parse_rfc3339(at);
    assert!(parsed.is_ok(), "{at}: {parsed:?}");
    assert_eq!(at.len(), "2026-11-21T09:30:00.000Z".len(), "{at}");
}

/// A `kind: status` fault for the next request of `route`.
fn status_fault(route: &str, status: u16) -> Fault {
    Fault {
        status: Some(status),
        ..Fault::new(route, FaultKind::Status)
    }
}

// ---------------------------------------------------------------------------------------------
// The echo API

#[tokio::test]
async fn get_echoes_path_query_and_headers() {
    let sb = Sandbox::fast().await;
    let response = sb
        .http
        .get(sb.url(&format!(
            "{CRM}/customers/42?expand=orders&tag=a&tag=b&q=x+y%26z"
        )))
        .header("X-Trace-Id", "trace-1")
        .header("Accept", "application/json")
        .send()
        .await
        .expect("answer");
    assert!(response.headers().contains_key("x-correlation-id"));
    let (status, echo) = json_of(response).await;
    assert_eq!(status, 200);
    assert_eq!(echo["method"], "GET");
    assert_eq!(echo["path"], "/crm/customers/42");
    assert_eq!(
        echo["query"],
        json!({ "expand": "orders", "tag": ["a", "b"], "q": "x y&z" })
    );
    assert_eq!(echo["headers"]["x-trace-id"], "trace-1", "{echo}");
    assert_eq!(echo["headers"]["accept"], "application/json");
    assert!(echo["headers"]["host"].is_string(), "{echo}");
    assert_eq!(echo["body"], Value::Null);
    assert_timestamp(&echo);
}

#[tokio::test]
async fn every_method_is_echoed_with_its_body() {
    let sb = Sandbox::fast().await;
    let cases = [
        (Method::POST, 201),
        (Method::PUT, 200),
        (Method::PATCH, 200),
        (Method::DELETE, 200),
        (Method::OPTIONS, 200),
        (Method::GET, 200),
        (Method::from_bytes(b"PURGE").expect("a method"), 200),
    ];
    for (method, expected) in cases {
        let sent = json!({ "name": "Ada", "method": method.as_str(), "tags": [1, 2] });
        let response = sb
            .http
            .request(method.clone(), sb.url(&format!("{CRM}/customers?v=2")))
            .json(&sent)
            .send()
            .await
            .expect("answer");
        let (status, echo) = json_of(response).await;
        assert_eq!(status, expected, "{method}: {echo}");
        assert_eq!(echo["method"], method.as_str());
        assert_eq!(echo["path"], "/crm/customers");
        assert_eq!(echo["query"], json!({ "v": "2" }));
        assert_eq!(echo["headers"]["content-type"], "application/json");
        assert_eq!(echo["body"], sent, "{method}: parsed, not a string");
        assert_timestamp(&echo);
    }
}

#[tokio::test]
async fn a_delete_without_a_body_gets_204_and_head_gets_no_body() {
    let sb = Sandbox::fast().await;
    let response = sb
        .http
        .delete(sb.url(&format!("{CRM}/customers/42")))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 204);
    assert!(response.bytes().await.expect("bytes").is_empty());

    let response = sb
        .http
        .head(sb.url(&format!("{CRM}/customers/42")))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 200);
    assert!(response.bytes().await.expect("bytes").is_empty());
}

#[tokio::test]
async fn bodies_that_are_not_json_are_echoed_as_text() {
    let sb = Sandbox::fast().await;
    let response = sb
        .http
        .post(sb.url(&format!("{CRM}/notes")))
        .form(&[("note", "called back"), ("by", "qa")])
        .send()
        .await
        .expect("answer");
    let (status, echo) = json_of(response).await;
    assert_eq!(status, 201);
    assert_eq!(echo["body"], "note=called+back&by=qa");
    assert_eq!(
        echo["headers"]["content-type"],
        "application/x-www-form-urlencoded"
    );

    // Text that looks like JSON stays text without a JSON content type; bad UTF-8 is replaced.
    let mut bytes = br#"{"a": 1} caf"#.to_vec();
    bytes.push(0xE9);
    let response = sb
        .http
        .put(sb.url(&format!("{CRM}/notes/1")))
        .header("content-type", "text/plain; charset=latin1")
        .body(bytes)
        .send()
        .await
        .expect("answer");
    let (status, echo) = json_of(response).await;
    assert_eq!(status, 200);
    assert_eq!(echo["body"], "{\"a\": 1} caf\u{FFFD}");

    // A `+json` type is JSON.
    let response = sb
        .http
        .patch(sb.url(&format!("{CRM}/notes/1")))
        .header("content-type", "application/merge-patch+json")
        .body(r#"{"done": true}"#)
        .send()
        .await
        .expect("answer");
    let (_, echo) = json_of(response).await;
    assert_eq!(echo["body"], json!({ "done": true }));
    // `raw_body` is the bytes as they arrived, JSON or not; `null` without a body.
    assert_eq!(echo["raw_body"], r#"{"done": true}"#);
    let response = sb
        .http
        .get(sb.url(&format!("{CRM}/notes/1")))
        .send()
        .await
        .expect("answer");
    let (_, echo) = json_of(response).await;
    assert_eq!(echo["raw_body"], Value::Null);
}

#[tokio::test]
async fn malformed_json_is_a_bad_request() {
    let sb = Sandbox::fast().await;
    let response = sb
        .http
        .post(sb.url(&format!("{CRM}/customers")))
        .header("content-type", "application/json")
        .body(r#"{"name": "Ada""#)
        .send()
        .await
        .expect("answer");
    let (status, body) = json_of(response).await;
    assert_eq!(status, 400);
    let error = body["error"].as_str().expect("an error message");
    assert!(error.contains("not JSON"), "{error}");
}

#[tokio::test]
async fn credentials_are_never_echoed() {
    let sb = Sandbox::fast().await;
    let bearer = "crm-bearer-7f3a9c1e5b";
    let response = sb
        .http
        .post(sb.url(&format!(
            "{CRM}/customers?access_token=crm-query-token-41&page=2"
        )))
        .bearer_auth(bearer)
        .header("Cookie", "session=crm-cookie-93")
        .header("X-Api-Key", "crm-api-key-12")
        .header("Proxy-Authorization", "Basic crm-proxy-credential-77")
        .header("X-Auth-Token", "crm-auth-token-55")
        .json(&json!({ "name": "Ada" }))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 201);
    let bytes = response.bytes().await.expect("bytes");
    let text = String::from_utf8_lossy(&bytes);
    for secret in [
        bearer,
        "crm-query-token-41",
        "crm-cookie-93",
        "crm-api-key-12",
        "crm-proxy-credential-77",
        "crm-auth-token-55",
    ] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    let echo: Value = serde_json::from_slice(&bytes).expect("json");
    let headers = &echo["headers"];
    assert_eq!(headers["authorization"], "Bearer ****");
    assert_eq!(headers["cookie"], "****");
    assert_eq!(headers["x-api-key"], "****");
    assert_eq!(headers["proxy-authorization"], "****");
    assert_eq!(headers["x-auth-token"], "****");
    assert_eq!(
        echo["query"],
        json!({ "access_token": "****", "page": "2" })
    );

    // Basic keeps its scheme too, and neither half of the credentials shows.
    let response = sb
        .http
        .get(sb.url(&format!("{CRM}/me")))
        .basic_auth("crm-user-31", Some("crm-password-62"))
        .send()
        .await
        .expect("answer");
    let bytes = response.bytes().await.expect("bytes");
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("crm-user-31") && !text.contains("crm-password-62"));
    let echo: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(echo["headers"]["authorization"], "Basic ****");
}

#[tokio::test]
async fn status_paths_answer_that_status_with_the_echo() {
    let sb = Sandbox::fast().await;
    for (method, path, expected) in [
        (Method::GET, "/orders/status/404", 404),
        (Method::POST, "/orders/status/503", 503),
        (Method::PUT, "/status/422", 422),
        (Method::GET, "/orders/status/200/", 200),
        (Method::POST, "/orders/status/202", 202),
    ] {
        let response = sb
            .http
            .request(method.clone(), sb.url(&format!("{CRM}{path}?x=1")))
            .json(&json!({ "n": 1 }))
            .send()
            .await
            .expect("answer");
        let (status, echo) = json_of(response).await;
        assert_eq!(status, expected, "{path}");
        assert_eq!(echo["method"], method.as_str());
        assert_eq!(echo["path"], format!("/crm{path}"));
        assert_eq!(echo["query"], json!({ "x": "1" }));
        assert_eq!(echo["body"], json!({ "n": 1 }));
    }

    let response = sb
        .http
        .post(sb.url(&format!("{CRM}/status/204")))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 204);
    assert!(response.bytes().await.expect("bytes").is_empty());

    for code in ["600", "99", "100", "0"] {
        let response = sb
            .http
            .get(sb.url(&format!("{CRM}/status/{code}")))
            .send()
            .await
            .expect("answer");
        let (status, body) = json_of(response).await;
        assert_eq!(status, 400, "{code}");
        assert!(body["error"].as_str().expect("error").contains("200–599"));
    }

    // Words after `status` are ordinary paths.
    let response = sb
        .http
        .get(sb.url(&format!("{CRM}/orders/status/active")))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let config = callplan::sandbox::Config {
        max_body_bytes: 1024,
        ..fast_config()
    };
    let sb = Sandbox::start(config).await;
    for content_type in ["application/json", "text/plain"] {
        let response = sb
            .http
            .post(sb.url(&format!("{CRM}/customers")))
            .header("content-type", content_type)
            .body(format!("\"{}\"", "x".repeat(2048)))
            .send()
            .await
            .expect("answer");
        let (status, body) = json_of(response).await;
        assert_eq!(status, 413, "{content_type}");
        assert!(body["error"].as_str().expect("error").contains("1024"));
    }
    let response = sb
        .http
        .post(sb.url(TOKEN))
        .basic_auth("crm-client", Some("crm-secret"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", &"x".repeat(2048)),
        ])
        .send()
        .await
        .expect("answer");
    let (status, body) = json_of(response).await;
    assert_eq!(status, 413);
    assert_eq!(body["error"], "invalid_request");
    // Just under the limit is fine.
    let response = sb
        .http
        .post(sb.url(&format!("{CRM}/customers")))
        .header("content-type", "text/plain")
        .body("x".repeat(1024))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 201);
}

#[tokio::test]
async fn the_echo_api_has_no_rate_limit() {
    let config = callplan::sandbox::Config {
        genesys: callplan::sandbox::config::Genesys {
            rate_limit: Some(RateLimit {
                requests: 1,
                per: Duration::from_secs(60),
                burst: None,
            }),
            ..fast_config().genesys
        },
        cxone: callplan::sandbox::config::Cxone {
            rate_limit: Some(RateLimit {
                requests: 1,
                per: Duration::from_secs(60),
                burst: None,
            }),
            ..fast_config().cxone
        },
        ..fast_config()
    };
    let sb = Sandbox::start(config).await;
    for _ in 0..20 {
        let response = sb
            .http
            .get(sb.url(&format!("{CRM}/customers")))
            .bearer_auth("one-token")
            .send()
            .await
            .expect("answer");
        assert_eq!(response.status(), 200);
    }
}

// ---------------------------------------------------------------------------------------------
// Faults

#[tokio::test]
async fn a_fault_on_an_echo_route_fails_only_its_requests() {
    let sb = Sandbox::fast().await;
    sb.sandbox
        .add_fault(Fault {
            count: 2,
            retry_after: Some(4),
            ..status_fault("POST /_sandbox/http/crm/customers/*", 503)
        })
        .expect("a valid fault");
    let post = |path: &str| {
        sb.http
            .post(sb.url(&format!("{CRM}{path}")))
            .json(&json!({}))
            .send()
    };
    // Not matched: another depth, another method.
    assert_eq!(post("/customers").await.expect("answer").status(), 201);
    assert_eq!(
        post("/customers/42/notes").await.expect("answer").status(),
        201
    );
    let response = sb
        .http
        .get(sb.url(&format!("{CRM}/customers/42")))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 200);
    for _ in 0..2 {
        let response = post("/customers/42").await.expect("answer");
        assert!(response.headers().contains_key("x-correlation-id"));
        assert_eq!(
            response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
            Some("4")
        );
        let (status, body) = json_of(response).await;
        assert_eq!(status, 503);
        assert_eq!(body, json!({ "error": "Service Unavailable" }));
    }
    assert_eq!(
        post("/customers/42").await.expect("answer").status(),
        201,
        "used up"
    );
}

#[tokio::test]
async fn a_catch_all_fault_takes_a_whole_provider() {
    let sb = Sandbox::fast().await;
    let response = sb
        .http
        .post(sb.url("/_sandbox/faults"))
        .json(&json!({
            "route": "* /_sandbox/http/crm/{*rest}",
            "kind": "status",
            "status": 502,
            "count": 3,
        }))
        .send()
        .await
        .expect("add");
    assert_eq!(response.status(), 201);
    let other = sb
        .http
        .get(sb.url("/_sandbox/http/billing/invoices"))
        .send()
        .await
        .expect("answer");
    assert_eq!(other.status(), 200, "another provider is untouched");
    for (method, path) in [
        (Method::GET, "/a"),
        (Method::DELETE, "/a/b/c"),
        (Method::PATCH, "/status/200"),
    ] {
        let response = sb
            .http
            .request(method, sb.url(&format!("{CRM}{path}")))
            .send()
            .await
            .expect("answer");
        assert_eq!(response.status(), 502, "{path}");
    }
    let response = sb
        .http
        .get(sb.url(&format!("{CRM}/a")))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 200, "used up");
}

#[tokio::test]
async fn faults_on_the_token_endpoint_and_bad_http_routes() {
    let sb = Sandbox::fast().await;
    sb.sandbox
        .add_fault(status_fault("POST /_sandbox/oauth2/token", 500))
        .expect("a valid fault");
    let login = || {
        sb.http
            .post(sb.url(TOKEN))
            .basic_auth("crm-client", Some("crm-secret"))
            .form(&[("grant_type", "client_credentials")])
            .send()
    };
    assert_eq!(login().await.expect("answer").status(), 500);
    assert_eq!(login().await.expect("answer").status(), 200);

    for route in [
        "GET /_sandbox/http",
        "GET /_sandbox/oauth2/token",
        "POST /_sandbox/http/{*rest}/x",
    ] {
        let err = sb
            .sandbox
            .add_fault(status_fault(route, 503))
            .expect_err(route);
        assert!(
            err.message.contains("matches no route") || err.message.contains("last segment"),
            "{route}: {err}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// OAuth2 client credentials

/// Asks for a token with `form`, after `auth` has had a go at the request.
async fn token_request(
    sb: &Sandbox,
    auth: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    form: &[(&str, &str)],
) -> Response {
    auth(sb.http.post(sb.url(TOKEN)))
        .form(form)
        .send()
        .await
        .expect("answer")
}

/// Checks a token response and returns the token.
async fn expect_token(response: Response) -> (String, Value) {
    assert_eq!(
        response
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let (status, body) = json_of(response).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    let token = body["access_token"].as_str().expect("a token").to_owned();
    assert_eq!(token.len(), 43, "{token}");
    (token, body)
}

#[tokio::test]
async fn tokens_for_basic_and_form_credentials() {
    let sb = Sandbox::fast().await;
    let response = token_request(
        &sb,
        |r| r.basic_auth("any-client", Some("any-secret")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    let (basic, body) = expect_token(response).await;
    assert!(body.get("scope").is_none(), "{body}");

    let response = token_request(
        &sb,
        |r| r,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "other-client"),
            ("client_secret", "other-secret"),
            ("scope", "crm.read crm.write"),
            ("audience", "https://crm.example.com/api"),
        ],
    )
    .await;
    let (form, body) = expect_token(response).await;
    assert_eq!(body["scope"], "crm.read crm.write");
    assert_ne!(basic, form, "every token is new");

    // The token works on the echo API, which never shows it.
    let response = sb
        .http
        .get(sb.url(&format!("{CRM}/customers")))
        .bearer_auth(&form)
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("text");
    assert!(!text.contains(&form), "{text}");
    assert!(text.contains("Bearer ****"), "{text}");
}

#[tokio::test]
async fn tokens_are_deterministic_for_a_seed() {
    let mut tokens = Vec::new();
    for _ in 0..2 {
        let sb = Sandbox::fast().await;
        let response = token_request(
            &sb,
            |r| r.basic_auth("c", Some("s")),
            &[("grant_type", "client_credentials")],
        )
        .await;
        tokens.push(expect_token(response).await.0);
    }
    assert_eq!(tokens[0], tokens[1]);
}

/// How a token request authenticates its client.
type Auth = fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder;
/// A token request (authentication and form) and the status and `error` it should get.
type TokenCase = (Auth, Vec<(&'static str, &'static str)>, u16, &'static str);

#[tokio::test]
async fn token_errors_follow_rfc_6749() {
    let sb = Sandbox::fast().await;
    let cc = ("grant_type", "client_credentials");
    let none: Auth = |r| r;
    let basic: Auth = |r| r.basic_auth("crm-client", Some("crm-secret"));
    let cases: Vec<TokenCase> = vec![
        (none, vec![cc], 401, "invalid_client"),
        (
            none,
            vec![cc, ("client_id", "crm-client")],
            401,
            "invalid_client",
        ),
        (
            none,
            vec![cc, ("client_id", "crm-client"), ("client_secret", "")],
            401,
            "invalid_client",
        ),
        (
            |r| r.basic_auth("", Some("crm-secret")),
            vec![cc],
            401,
            "invalid_client",
        ),
        (
            |r| r.header("authorization", "Basic %%%not-base64"),
            vec![cc],
            401,
            "invalid_client",
        ),
        (
            |r| r.bearer_auth("a-token"),
            vec![cc],
            401,
            "invalid_client",
        ),
        (basic, vec![], 400, "invalid_request"),
        (
            basic,
            vec![cc, ("grant_type", "client_credentials")],
            400,
            "invalid_request",
        ),
        (
            basic,
            vec![cc, ("client_secret", "crm-secret")],
            400,
            "invalid_request",
        ),
        (
            basic,
            vec![("grant_type", "password")],
            400,
            "unsupported_grant_type",
        ),
        (
            none,
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", "c"),
                ("client_secret", "s"),
            ],
            400,
            "unsupported_grant_type",
        ),
    ];
    for (i, (auth, form, status, error)) in cases.into_iter().enumerate() {
        let response = token_request(&sb, auth, &form).await;
        let challenge = response.headers().get("www-authenticate").cloned();
        let (got, body) = json_of(response).await;
        assert_eq!(
            (got.as_u16(), body["error"].as_str()),
            (status, Some(error)),
            "case {i}"
        );
        assert!(body["error_description"].is_string(), "case {i}: {body}");
        assert_eq!(challenge.is_some(), status == 401, "case {i}");
    }

    // Not a form.
    let response = sb
        .http
        .post(sb.url(TOKEN))
        .basic_auth("crm-client", Some("crm-secret"))
        .json(&json!({ "grant_type": "client_credentials" }))
        .send()
        .await
        .expect("answer");
    let (status, body) = json_of(response).await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (400, Some("invalid_request"))
    );

    // Only POST.
    let response = sb.http.get(sb.url(TOKEN)).send().await.expect("answer");
    assert_eq!(response.status(), 405);
}
