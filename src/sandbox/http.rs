//! Generic HTTP APIs: an echo API that stands in for any `http` provider (a CRM, a ticketing
//! system…), and an OAuth2 client-credentials token endpoint for the ones that log in.
//!
//! `callplan run --sandbox` points every `http` provider's `base_url` at
//! `/_sandbox/http/{provider}` and an OAuth2 `token_url` at `/_sandbox/oauth2/token`. The echo
//! answers what it was sent so that plans can check their own requests (the body both parsed
//! and as the bytes that arrived), but never the credentials in headers and query parameters:
//! whatever it answers may end up in reports and CI logs.
//!
//! Neither endpoint checks tokens or counts requests against a rate limit: they stand in for
//! APIs whose rules the sandbox cannot know.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use serde_json::{Map, Value, json};

use super::{BodyError, Shared, basic_credentials, form_body, is_json};
use crate::call::timestamp;

/// Where the echo API lives; the rest of the path is echoed as `path`.
pub const HTTP_ECHO_PREFIX: &str = "/_sandbox/http";

/// Where the OAuth2 client-credentials token endpoint for `http` providers lives.
pub const OAUTH2_TOKEN_PATH: &str = "/_sandbox/oauth2/token";

const PREFIX: &str = HTTP_ECHO_PREFIX;

/// What an echoed credential becomes.
const MASK: &str = "****";

/// The lifetime of the tokens `/_sandbox/oauth2/token` issues, in seconds.
const TOKEN_LIFETIME: u64 = 3600;

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sandbox/http/{*rest}", any(echo))
        .route(OAUTH2_TOKEN_PATH, post(token))
}

// ---------------------------------------------------------------------------------------------
// The echo API

/// `{"error": message}` with `status`, the shape of the sandbox's own errors.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": message.into() }))).into_response()
}

async fn echo(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    // As sent, still percent-encoded: what the client put on the wire.
    let path = parts
        .uri
        .path()
        .strip_prefix(PREFIX)
        .unwrap_or_default()
        .to_owned();
    let forced = match forced_status(&path) {
        Ok(forced) => forced,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let limit = shared.config.max_body_bytes;
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {limit} bytes"),
        );
    };
    let body = match echoed_body(&parts.headers, &bytes) {
        Ok(body) => body,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let status = forced.unwrap_or(match parts.method {
        Method::POST => StatusCode::CREATED,
        Method::DELETE if body.is_null() => StatusCode::NO_CONTENT,
        _ => StatusCode::OK,
    });
    if matches!(status, StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED) {
        // Neither may carry a body.
        return status.into_response();
    }
    // The bytes as they arrived, so that a plan (or a test) can check a body byte for byte:
    // `body` is parsed for JSON.
    let raw = (!bytes.is_empty()).then(|| String::from_utf8_lossy(&bytes).into_owned());
    let echo = json!({
        "method": parts.method.as_str(),
        "path": path,
        "query": query(parts.uri.query().unwrap_or_default()),
        "headers": headers(&parts.headers),
        "body": body,
        "raw_body": raw,
        "received_at": timestamp(SystemTime::now()),
    });
    (status, axum::Json(echo)).into_response()
}

/// The status a path ending in `/status/{code}` asks for; `Err` for a code that cannot be
/// answered. Only digits make a code, so `…/status/active` stays an ordinary path.
fn forced_status(path: &str) -> Result<Option<StatusCode>, String> {
    let mut segments = path.trim_end_matches('/').rsplit('/');
    let (Some(code), Some("status")) = (segments.next(), segments.next()) else {
        return Ok(None);
    };
    if code.is_empty() || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    match code.parse::<u16>() {
        // HTTP/1.1 cannot end an exchange with a 1xx: hyper would turn it into a 500.
        Ok(n @ 100..=199) => Err(format!(
            "status {n} is informational and cannot be a final response: use 200–599"
        )),
        Ok(n @ 200..=599) => Ok(StatusCode::from_u16(n).ok()),
        _ => Err(format!("`{code}` is not a status code: use 200–599")),
    }
}

/// The body as echoed: parsed JSON for a JSON content type, text otherwise, `null` when empty.
/// Malformed JSON is refused, as the API this stands in for would.
fn echoed_body(headers: &HeaderMap, bytes: &[u8]) -> Result<Value, String> {
    if is_json(headers) {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        return serde_json::from_slice(bytes).map_err(|e| format!("the body is not JSON: {e}"));
    }
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    Ok(Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// Whether a header or query parameter name carries a secret (`x-auth-token`,
/// `client_secret`, `api_key`…): its value is never echoed.
fn is_secret(name: &str) -> bool {
    const WORDS: &[&str] = &[
        "authorization",
        "cookie",
        "token",
        "secret",
        "password",
        "passwd",
        "credential",
        "session",
        "apikey",
        "api-key",
        "api_key",
    ];
    let name = name.to_ascii_lowercase();
    WORDS.iter().any(|word| name.contains(word))
}

/// A header value as echoed: `Authorization` keeps its scheme (`Bearer ****`), so plans can
/// check which one was used; other secrets are masked whole.
fn masked(name: &str, value: &str) -> String {
    if name.eq_ignore_ascii_case("authorization") {
        return match value.trim().split_once(' ') {
            Some((scheme, _)) => format!("{scheme} {MASK}"),
            None => MASK.to_owned(),
        };
    }
    if is_secret(name) {
        MASK.to_owned()
    } else {
        value.to_owned()
    }
}

/// The request headers by lowercase name; repeated headers are joined with `, `.
pub(super) fn headers(headers: &HeaderMap) -> Map<String, Value> {
    let mut out = Map::new();
    for name in headers.keys() {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|v| masked(name.as_str(), &String::from_utf8_lossy(v.as_bytes())))
            .collect();
        out.insert(name.as_str().to_owned(), Value::String(values.join(", ")));
    }
    out
}

/// The query parameters, decoded: a string, or a list when a name is repeated.
pub(super) fn query(text: &str) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, value) in form_urlencoded::parse(text.as_bytes()) {
        let value = if is_secret(&name) {
            MASK.to_owned()
        } else {
            value.into_owned()
        };
        match out.get_mut(name.as_ref()) {
            None => {
                out.insert(name.into_owned(), Value::String(value));
            }
            Some(Value::Array(values)) => values.push(Value::String(value)),
            Some(first) => *first = json!([first.take(), value]),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The OAuth2 token endpoint

/// An OAuth2 error response (RFC 6749 §5.2).
struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            error,
            description: description.into(),
        }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    fn invalid_client(description: impl Into<String>) -> Self {
        OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.error, "error_description": self.description });
        let mut response = no_store((self.status, axum::Json(body)).into_response());
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 6749 §5.2: a 401 names the authentication scheme the client should use.
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"callplan sandbox\""),
            );
        }
        response
    }
}

/// Token responses must not be cached (RFC 6749 §5.1).
fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
    issue(&shared, &headers, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// The client-credentials grant (RFC 6749 §4.4): any non-empty client id and secret will do.
async fn issue(shared: &Shared, headers: &HeaderMap, body: Body) -> Result<Response, OAuthError> {
    let form = form_body(shared, headers, body)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge => OAuthError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                format!(
                    "the body is larger than {} bytes",
                    shared.config.max_body_bytes
                ),
            ),
            _ => OAuthError::invalid_request(
                "the token request must be application/x-www-form-urlencoded",
            ),
        })?;
    // RFC 6749 §3.2: parameters must not be repeated.
    let mut seen = HashSet::new();
    if let Some((name, _)) = form.iter().find(|(name, _)| !seen.insert(name.as_str())) {
        return Err(OAuthError::invalid_request(format!(
            "`{name}` is given more than once"
        )));
    }
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let grant_type =
        field("grant_type").ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;

    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"));
    // RFC 6749 §2.3: one way of authenticating the client per request.
    if basic && field("client_secret").is_some() {
        return Err(OAuthError::invalid_request(
            "the client authenticated twice: use HTTP Basic or client_id and client_secret, \
             not both",
        ));
    }
    let (id, secret) = if basic {
        basic_credentials(headers)
            .ok_or_else(|| OAuthError::invalid_client("the HTTP Basic credentials are malformed"))?
    } else {
        match (field("client_id"), field("client_secret")) {
            (Some(id), Some(secret)) => (id.to_owned(), secret.to_owned()),
            _ => {
                return Err(OAuthError::invalid_client(
                    "client authentication is required: HTTP Basic, or client_id and \
                     client_secret in the form",
                ));
            }
        }
    };
    if id.is_empty() || secret.is_empty() {
        return Err(OAuthError::invalid_client(
            "the client id and secret must not be empty",
        ));
    }
    if grant_type != "client_credentials" {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!("`{grant_type}` is not supported: use client_credentials"),
        ));
    }

    let access_token = shared.world().ids.token();
    let mut body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME,
    });
    // RFC 6749 §5.1: the scope granted, which is the one asked for.
    if let Some(scope) = field("scope") {
        body["scope"] = Value::String(scope.to_owned());
    }
    Ok(no_store(axum::Json(body).into_response()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_paths_need_a_final_status() {
        assert_eq!(forced_status("/crm/customers"), Ok(None));
        assert_eq!(
            forced_status("/crm/status/404"),
            Ok(Some(StatusCode::NOT_FOUND))
        );
        assert_eq!(
            forced_status("/crm/a/status/503/"),
            Ok(Some(StatusCode::SERVICE_UNAVAILABLE))
        );
        assert_eq!(forced_status("/crm/orders/status/active"), Ok(None));
        assert_eq!(forced_status("/crm/status"), Ok(None));
        assert_eq!(forced_status("/crm/status/"), Ok(None));
        for bad in ["600", "99", "0", "101", "99999999"] {
            let err = forced_status(&format!("/crm/status/{bad}")).unwrap_err();
            assert!(err.contains("200–599"), "{bad}: {err}");
        }
    }

    #[test]
    fn secrets_are_masked_but_the_scheme_is_kept() {
        assert_eq!(masked("authorization", "Bearer abc.def"), "Bearer ****");
        assert_eq!(masked("authorization", "  basic dXNlcjpw"), "basic ****");
        assert_eq!(masked("authorization", "raw-api-key"), "****");
        for name in [
            "proxy-authorization",
            "cookie",
            "x-api-key",
            "x-auth-token",
            "x-client-secret",
            "api_key",
        ] {
            assert_eq!(masked(name, "Basic s3cret"), MASK, "{name}");
        }
        assert_eq!(masked("x-trace-id", "t-1"), "t-1");
        assert_eq!(masked("content-type", "text/plain"), "text/plain");
    }

    #[test]
    fn repeated_query_parameters_become_lists() {
        let got = query("a=1&b=x+y&a=2&a=3&c=&access_token=s3cret&d");
        assert_eq!(
            Value::Object(got),
            json!({ "a": ["1", "2", "3"], "b": "x y", "c": "", "access_token": MASK, "d": "" })
        );
    }
}
