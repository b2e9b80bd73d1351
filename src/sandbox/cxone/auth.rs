//! CXone login: OpenID discovery, the JWKS, the authorization endpoint, the token endpoint
//! (password, authorization code with PKCE, refresh, token exchange), the tenant's
//! `cxone-configuration` and the ACD's `whoami`.
//!
//! Contracts from `shared/reference/nice-cxone.md` §1 and, for what NICE's own agent SDK sends
//! and reads, `shared/reference/nice-cxone-agent-sdk.md` §4–5. The SDK labels its form-encoded
//! token requests `application/json`, sends no client secret with the code and none of a
//! client id with the refresh: the real platform accepts that, so the sandbox does.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::super::{BodyError, Shared, basic_credentials, origin, raw_body};
use super::{Error, Result, jwt, query_map};

/// The token-exchange grant (RFC 8693).
const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The only subject token type the exchange takes.
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// How long an authorization code may wait for its token request. UNCONFIRMED: NICE does not
/// say; RFC 6749 §4.1.2 recommends at most 10 minutes.
const CODE_LIFETIME: Duration = Duration::from_secs(300);
/// The cluster the sandbox says it is (`icClusterId`, `cluster`).
const CLUSTER: &str = "SBX1";
/// The team every sandbox agent belongs to (`teamId`, whoami's `team_id`).
pub(super) const TEAM_ID: u64 = 4_600_101;

/// A token the sandbox issued.
#[derive(Debug, Clone)]
pub(super) struct Token {
    pub(super) agent_id: u64,
    pub(super) client_id: String,
    pub(super) expires: Instant,
}

/// What a refresh token or an authorization code stands for.
#[derive(Debug, Clone)]
pub(super) struct Grant {
    agent_id: u64,
    client_id: String,
}

/// An authorization code waiting for its token request.
#[derive(Debug, Clone)]
pub(super) struct Code {
    grant: Grant,
    redirect_uri: String,
    challenge: String,
    expires: Instant,
}

/// The `sub` claim's user id of an agent (`user:<uuid>`; the SDK keeps what follows `user:`).
fn user_id(agent_id: u64) -> String {
    format!(
        "00000000-0000-4000-8000-{:012}",
        agent_id % 1_000_000_000_000
    )
}

// ---------------------------------------------------------------------------------------------
// Discovery

pub(super) async fn openid_configuration(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Response {
    let base = origin(&headers, shared.addr);
    axum::Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/auth/authorize"),
        "token_endpoint": format!("{base}/auth/token"),
        "end_session_endpoint": format!("{base}/auth/authorize/logout"),
        "jwks_uri": format!("{base}/auth/jwks"),
        "userinfo_endpoint": format!("{base}/auth/userinfo"),
        "scopes_supported": ["openid"],
        "response_types_supported": ["code"],
        "grant_types_supported": [
            "authorization_code", "password", "refresh_token", TOKEN_EXCHANGE,
        ],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "id_token_signing_alg_values_supported": ["RS256"],
        // NICE's agent SDK refuses to build an authorize URL without these two.
        "display_values_supported": ["page", "popup"],
        "code_challenge_methods_supported": ["S256"],
    }))
    .into_response()
}

pub(super) async fn jwks() -> Response {
    axum::Json(jwt::jwks()).into_response()
}

pub(super) async fn cxone_configuration(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let query = query_map(&query);
    let tenant = query.get("tenantId").cloned().unwrap_or_default();
    if !tenant.eq_ignore_ascii_case(&shared.config.cxone.tenant_id) {
        return Err(Error::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            "Unknown tenant.",
        ));
    }
    let base = origin(&headers, shared.addr);
    Ok(axum::Json(json!({
        "private": false,
        "area": "na1",
        "cluster": CLUSTER.to_ascii_lowercase(),
        "domain": "niceincontact.com",
        "acdDomain": "niceincontact.com",
        "uhDomain": "nicecxone.com",
        "globaldomain": "niceincontact.com",
        "region": "na1",
        "tenantId": shared.config.cxone.tenant_id,
        "api_endpoint": base,
        "auth_endpoint": base,
        "ui_endpoint": base,
    }))
    .into_response())
}

// ---------------------------------------------------------------------------------------------
// The authorization endpoint

/// Whether `uri` may receive a code for `client`.
fn redirect_allowed(client: &crate::sandbox::config::PublicClient, uri: &str) -> bool {
    if client.redirect_uris.is_empty() {
        ["http://127.0.0.1", "http://localhost", "http://[::1]"]
            .iter()
            .any(|loopback| {
                uri.strip_prefix(loopback)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/', '?']))
            })
    } else {
        client.redirect_uris.iter().any(|allowed| allowed == uri)
    }
}

/// `redirect_uri` with the pairs added to its query.
fn redirect(uri: &str, pairs: &[(&str, &str)]) -> Response {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        query.append_pair(name, value);
    }
    let separator = if uri.contains('?') { '&' } else { '?' };
    let location = format!("{uri}{separator}{}", query.finish());
    match HeaderValue::from_str(&location) {
        Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
        Err(_) => {
            Error::oauth("invalid_request", "redirect_uri is not a valid URI.").into_response()
        }
    }
}

/// `GET /auth/authorize`: there is no login page; a public client's configured agent is signed
/// in at once and the browser sent back to `redirect_uri` with a code (RFC 6749 §4.1, PKCE
/// RFC 7636, S256 only). A bad client or redirect URI is answered here (never redirected to).
pub(super) async fn authorize(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let query = query_map(&query);
    let field = |name: &str| query.get(name).map(String::as_str).unwrap_or("");
    let client = shared
        .config
        .cxone
        .public_clients
        .iter()
        .find(|c| c.id == field("client_id"))
        .ok_or_else(|| Error::oauth("invalid_client", "Unknown client_id."))?;
    let redirect_uri = field("redirect_uri");
    if !redirect_allowed(client, redirect_uri) {
        return Err(Error::oauth(
            "invalid_request",
            "redirect_uri is not registered for this client.",
        ));
    }
    let state = field("state");
    let refuse = |error: &str, description: &str| {
        let mut pairs = vec![("error", error), ("error_description", description)];
        if !state.is_empty() {
            pairs.push(("state", state));
        }
        Ok(redirect(redirect_uri, &pairs))
    };
    if field("response_type") != "code" {
        return refuse("unsupported_response_type", "response_type must be code.");
    }
    if !field("scope").split(' ').any(|s| s == "openid") {
        return refuse("invalid_scope", "scope must include openid.");
    }
    let challenge = field("code_challenge");
    if challenge.is_empty() {
        return refuse("invalid_request", "code_challenge is required.");
    }
    if field("code_challenge_method") != "S256" {
        return refuse("invalid_request", "code_challenge_method must be S256.");
    }
    let code = {
        let mut world = shared.world();
        let code = world.ids.token();
        world.cxone.codes.insert(
            code.clone(),
            Code {
                grant: Grant {
                    agent_id: client.agent_id,
                    client_id: client.id.clone(),
                },
                redirect_uri: redirect_uri.to_owned(),
                challenge: challenge.to_owned(),
                expires: Instant::now() + CODE_LIFETIME,
            },
        );
        code
    };
    let mut pairs = vec![("code", code.as_str())];
    if !state.is_empty() {
        pairs.push(("state", state));
    }
    Ok(redirect(redirect_uri, &pairs))
}

// ---------------------------------------------------------------------------------------------
// The token endpoint

/// The token request's parameters: a form, whatever the Content-Type says (NICE's SDK labels
/// its forms `application/json`), or a JSON object. UNCONFIRMED: whether CXone takes JSON here.
async fn token_parameters(shared: &Shared, body: Body) -> Result<Vec<(String, String)>> {
    let bytes = raw_body(shared, body).await.map_err(|e| match e {
        BodyError::TooLarge => Error::for_status(StatusCode::PAYLOAD_TOO_LARGE),
        _ => Error::oauth("invalid_request", "The token request could not be read."),
    })?;
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&bytes) {
        return Ok(map
            .into_iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k, s)),
                Value::Null => None,
                other => Some((k, other.to_string())),
            })
            .collect());
    }
    Ok(form_urlencoded::parse(&bytes).into_owned().collect())
}

/// Who is asking: a confidential client by HTTP Basic or `client_id` + `client_secret`
/// (`Some((id, true))`), a client by its id alone (`Some((id, false))`), or nobody.
fn client(
    shared: &Shared,
    headers: &HeaderMap,
    field: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<(String, bool)>> {
    let failed = || Error::oauth("invalid_client", "Client authentication failed.");
    let cxone = &shared.config.cxone;
    let secret =
        basic_credentials(headers).or_else(|| Some((field("client_id")?, field("client_secret")?)));
    if let Some((id, secret)) = secret {
        // UNCONFIRMED: the spec gives every OAuth error status 400, this one included.
        return cxone
            .clients
            .iter()
            .find(|c| c.id == id && c.secret == secret)
            .map(|c| Some((c.id.clone(), true)))
            .ok_or_else(failed);
    }
    match field("client_id") {
        Some(id) => {
            let known = cxone.clients.iter().any(|c| c.id == id)
                || cxone.public_clients.iter().any(|c| c.id == id);
            if known {
                Ok(Some((id, false)))
            } else {
                Err(failed())
            }
        }
        None => Ok(None),
    }
}

/// Whether `verifier` hashes to `challenge` (RFC 7636 §4.6, S256).
fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c));
    let hashed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    well_formed && hashed == challenge
}

pub(super) async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    token_inner(&shared, &headers, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn token_inner(shared: &Shared, headers: &HeaderMap, body: Body) -> Result<Response> {
    let form = token_parameters(shared, body).await?;
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let client = client(shared, headers, &field)?;
    let grant = match field("grant_type").as_deref() {
        Some("password") => password_grant(shared, client, &field)?,
        Some("authorization_code") => code_grant(shared, client, &field)?,
        Some("refresh_token") => refresh_grant(shared, client, &field)?,
        Some(TOKEN_EXCHANGE) => exchange_grant(shared, client, &field)?,
        Some(_) => {
            return Err(Error::oauth(
                "unsupported_grant_type",
                "Use grant_type=password with an access key, or authorization_code.",
            ));
        }
        None => return Err(Error::oauth("invalid_request", "grant_type is required")),
    };
    Ok(issue(shared, headers, &grant))
}

fn password_grant(
    shared: &Shared,
    client: Option<(String, bool)>,
    field: &dyn Fn(&str) -> Option<String>,
) -> Result<Grant> {
    let Some((client_id, true)) = client else {
        return Err(Error::oauth(
            "invalid_client",
            "Client authentication failed.",
        ));
    };
    let (Some(id), Some(secret)) = (field("username"), field("password")) else {
        return Err(Error::oauth(
            "invalid_request",
            "username (access key id) and password (access key secret) are required",
        ));
    };
    let agent_id = shared
        .config
        .cxone
        .access_keys
        .iter()
        .find(|k| k.id == id && k.secret == secret)
        .map(|k| k.agent_id)
        .ok_or_else(|| Error::oauth("invalid_grant", "Invalid access key."))?;
    Ok(Grant {
        agent_id,
        client_id,
    })
}

fn code_grant(
    shared: &Shared,
    client: Option<(String, bool)>,
    field: &dyn Fn(&str) -> Option<String>,
) -> Result<Grant> {
    let invalid = |why: &str| Error::oauth("invalid_grant", why.to_owned());
    let Some((client_id, _)) = client else {
        return Err(Error::oauth("invalid_request", "client_id is required."));
    };
    let code = field("code").unwrap_or_default();
    // A code is good for one request, whatever its outcome (RFC 6749 §4.1.2).
    let found = shared.world().cxone.codes.remove(&code);
    let found = found
        .filter(|c| c.expires > Instant::now())
        .ok_or_else(|| invalid("Invalid or expired authorization code."))?;
    if found.grant.client_id != client_id {
        return Err(invalid("The code was issued to another client."));
    }
    if field("redirect_uri").as_deref() != Some(found.redirect_uri.as_str()) {
        return Err(invalid(
            "redirect_uri does not match the authorization request.",
        ));
    }
    let verifier = field("code_verifier").unwrap_or_default();
    if !pkce_matches(&verifier, &found.challenge) {
        return Err(invalid("code_verifier does not match the code_challenge."));
    }
    Ok(found.grant)
}

/// NICE's SDK refreshes without a client id (the spec requires one): a client, when named,
/// must be the one the refresh token was issued to.
fn refresh_grant(
    shared: &Shared,
    client: Option<(String, bool)>,
    field: &dyn Fn(&str) -> Option<String>,
) -> Result<Grant> {
    let refresh = field("refresh_token").unwrap_or_default();
    let grant = shared
        .world()
        .cxone
        .refresh_tokens
        .get(&refresh)
        .cloned()
        .ok_or_else(|| Error::oauth("invalid_grant", "Invalid refresh token."))?;
    match client {
        Some((id, _)) if id != grant.client_id => Err(Error::oauth(
            "invalid_grant",
            "The refresh token was issued to another client.",
        )),
        _ => Ok(grant),
    }
}

/// RFC 8693: a live access token of the sandbox for a fresh set of tokens, for the same agent.
fn exchange_grant(
    shared: &Shared,
    client: Option<(String, bool)>,
    field: &dyn Fn(&str) -> Option<String>,
) -> Result<Grant> {
    if field("subject_token_type").as_deref() != Some(ACCESS_TOKEN_TYPE) {
        return Err(Error::oauth(
            "invalid_request",
            format!("subject_token_type must be {ACCESS_TOKEN_TYPE}."),
        ));
    }
    let subject = field("subject_token").unwrap_or_default();
    let token = shared
        .world()
        .cxone
        .tokens
        .get(&subject)
        .filter(|t| t.expires > Instant::now())
        .cloned()
        .ok_or_else(|| Error::oauth("invalid_grant", "Invalid subject_token."))?;
    Ok(Grant {
        agent_id: token.agent_id,
        client_id: client.map_or(token.client_id, |(id, _)| id),
    })
}

/// A fresh access token, refresh token and id_token for `grant` (200, `no-store`).
fn issue(shared: &Shared, headers: &HeaderMap, grant: &Grant) -> Response {
    let lifetime = shared.config.cxone.token_lifetime;
    let (access, refresh) = {
        let mut world = shared.world();
        let access = world.ids.token();
        let refresh = world.ids.token();
        world.cxone.tokens.insert(
            access.clone(),
            Token {
                agent_id: grant.agent_id,
                client_id: grant.client_id.clone(),
                expires: crate::duration::saturating_deadline(Instant::now(), lifetime),
            },
        );
        world
            .cxone
            .refresh_tokens
            .insert(refresh.clone(), grant.clone());
        (access, refresh)
    };
    let issuer = origin(headers, shared.addr);
    let body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs_f64().ceil().max(1.0) as u64,
        "refresh_token": refresh,
        "id_token": id_token(shared, &issuer, &grant.client_id, grant.agent_id),
        "issued_token_type": ACCESS_TOKEN_TYPE,
    });
    let mut response = axum::Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The id_token: RS256, signed with the key of the JWKS. Its claims are those NICE's SDK
/// reads; there is no `tenant` claim, whose presence would switch the SDK to User Hub hosts.
pub(super) fn id_token(shared: &Shared, issuer: &str, client_id: &str, agent_id: u64) -> String {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let config = &shared.config.cxone;
    jwt::sign(&json!({
        "iss": issuer,
        "sub": format!("user:{}", user_id(agent_id)),
        "aud": client_id,
        "iat": now,
        "exp": now.saturating_add(config.token_lifetime.as_secs().max(1)),
        "tenantId": config.tenant_id,
        "icBUId": config.business_unit,
        "icClusterId": CLUSTER,
        "icAgentId": agent_id,
        "teamId": TEAM_ID,
        "given_name": "Sandbox",
        "family_name": "Agent",
        "name": format!("agent{agent_id}@sandbox.callplan.invalid"),
    }))
}

// ---------------------------------------------------------------------------------------------
// whoami

/// `POST /InContactAuthorizationServer/Token/whoami` `{"token": …}`, no `Authorization`: what
/// the ACD knows of a token, above all the API base (`resource_server_base_uri`). The fields
/// are those NICE's SDK reads; their types (numbers) follow the legacy token response.
/// UNCONFIRMED: the answer to an unknown token (here CXone's 401).
pub(super) async fn whoami(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let body = super::json_any_label(&shared, &headers, body)
        .await?
        .ok_or(BodyError::Missing)?;
    let unauthorized = || Error::new(StatusCode::UNAUTHORIZED, "Unauthorized", "Invalid token.");
    let token = body
        .get("token")
        .and_then(Value::as_str)
        .ok_or_else(unauthorized)?;
    let known = shared
        .world()
        .cxone
        .tokens
        .get(token)
        .cloned()
        .ok_or_else(unauthorized)?;
    let now = Instant::now();
    if known.expires <= now {
        return Err(unauthorized());
    }
    let base = origin(&headers, shared.addr);
    Ok(axum::Json(json!({
        "resource_server_base_uri": format!("{base}/inContactAPI/"),
        "refresh_token_server_uri": format!("{base}/auth/token"),
        "agent_id": known.agent_id,
        "team_id": TEAM_ID,
        "bus_no": shared.config.cxone.business_unit,
        "expires_in": known.expires.duration_since(now).as_secs(),
        "iss": base,
        "sub": format!("user:{}", user_id(known.agent_id)),
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc_7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(verifier, challenge));
        assert!(!pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX",
            challenge
        ));
        assert!(!pkce_matches("short", challenge));
    }

    #[test]
    fn loopback_redirects_are_allowed_by_default() {
        let client = crate::sandbox::config::PublicClient {
            id: "a".into(),
            redirect_uris: Vec::new(),
            agent_id: 1,
        };
        assert!(redirect_allowed(&client, "http://127.0.0.1:9/callback"));
        assert!(redirect_allowed(&client, "http://localhost/cb"));
        assert!(!redirect_allowed(
            &client,
            "http://127.0.0.1.example.com/cb"
        ));
        assert!(!redirect_allowed(&client, "https://example.com/cb"));
        let fixed = crate::sandbox::config::PublicClient {
            redirect_uris: vec!["https://app.example/cb".into()],
            ..client
        };
        assert!(redirect_allowed(&fixed, "https://app.example/cb"));
        assert!(!redirect_allowed(&fixed, "http://127.0.0.1/cb"));
    }

    #[test]
    fn the_id_token_carries_what_the_sdk_reads_and_no_tenant() {
        let shared = Shared::new(
            crate::sandbox::Config::default(),
            ([127, 0, 0, 1], 1).into(),
        );
        let token = id_token(&shared, "http://127.0.0.1:1", "app", 7);
        let claims = token.split('.').nth(1).unwrap();
        let claims: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(claims)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(claims["tenantId"], shared.config.cxone.tenant_id);
        assert_eq!(claims["icAgentId"], 7);
        assert_eq!(claims["sub"], "user:00000000-0000-4000-8000-000000000007");
        assert!(claims.get("tenant").is_none(), "{claims}");
        for name in [
            "icBUId",
            "icClusterId",
            "given_name",
            "family_name",
            "name",
            "teamId",
        ] {
            assert!(claims.get(name).is_some(), "{name} in {claims}");
        }
    }
}
