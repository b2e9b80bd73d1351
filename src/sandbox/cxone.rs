//! NICE CXone: discovery, the access-key token, agent sessions, dialing, the event long poll,
//! contacts, callbacks and spawned scripts; the active and completed contact listings in
//! [`contacts`].
//!
//! Contracts from `shared/reference/nice-cxone.md`. Where the reference marks a fact
//! UNCONFIRMED, the choice made here is the most plausible one and says so.

mod contacts;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde_json::{Value, json};

use super::ledger::{Kind, Record, VendorName};
use super::script::Outcome;
use super::{
    BodyError, Params, Shared, World as Everything, basic_credentials, bearer_token, form_body,
    json_body, origin,
};
use crate::call::{EndReason, Phase, timestamp};

// ---------------------------------------------------------------------------------------------
// Errors

/// A CXone error: `{error, error_description}` plus the `icStatusDescription` header.
#[derive(Debug, Clone)]
pub(super) struct Error {
    status: StatusCode,
    error: &'static str,
    description: String,
    retry_after: Option<u64>,
}

impl Error {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Error {
        Error {
            status,
            error,
            description: description.into(),
            retry_after: None,
        }
    }

    /// The generic error for a status.
    pub(super) fn for_status(status: StatusCode) -> Error {
        let (error, description) = match status.as_u16() {
            400 => ("BadRequest", "The request is not valid."),
            401 => ("Unauthorized", "Unauthorized"),
            403 => (
                "Forbidden",
                "The user does not have permission for this request.",
            ),
            404 => ("NotFound", "Not Found"),
            405 => ("MethodNotAllowed", "Method Not Allowed"),
            409 => ("Conflict", "The request conflicts with the current state."),
            413 => ("RequestTooLarge", "The request body is too large."),
            415 => ("UnsupportedMediaType", "Unsupported Media Type"),
            429 => ("TooManyRequests", "Too Many Requests"),
            500 => ("InternalServerError", "Internal Server Error"),
            502 => ("BadGateway", "Bad Gateway"),
            503 => ("ServiceUnavailable", "Service Unavailable"),
            504 => ("GatewayTimeout", "Gateway Timeout"),
            _ => ("Error", "The request failed."),
        };
        Error::new(status, error, description)
    }

    fn invalid_session() -> Error {
        Error::new(
            StatusCode::NOT_FOUND,
            "InvalidSession",
            "Invalid agent session.",
        )
    }

    fn invalid_contact() -> Error {
        Error::new(
            StatusCode::NOT_FOUND,
            "InvalidContactId",
            "InvalidContactId",
        )
    }

    fn bad_request(error: &'static str, description: impl Into<String>) -> Error {
        Error::new(StatusCode::BAD_REQUEST, error, description)
    }

    fn oauth(error: &'static str, description: impl Into<String>) -> Error {
        Error::new(StatusCode::BAD_REQUEST, error, description)
    }
}

impl From<BodyError> for Error {
    fn from(e: BodyError) -> Error {
        match e {
            BodyError::TooLarge => Error::for_status(StatusCode::PAYLOAD_TOO_LARGE),
            BodyError::NotJson => Error::for_status(StatusCode::UNSUPPORTED_MEDIA_TYPE),
            BodyError::Missing => Error::bad_request("BadRequest", "A request body is required."),
            BodyError::Malformed(detail) => Error::bad_request(
                "BadRequest",
                format!("The request body is not valid JSON: {detail}"),
            ),
        }
    }
}

/// The `icStatusDescription` header value (ASCII; the description otherwise).
fn status_text(text: &str) -> HeaderValue {
    let clean: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                ' '
            }
        })
        .take(200)
        .collect();
    HeaderValue::from_str(&clean).unwrap_or_else(|_| HeaderValue::from_static("Error"))
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.error, "error_description": self.description });
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert("icStatusDescription", status_text(&self.description));
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

type Result<T, E = Error> = std::result::Result<T, E>;

/// A success with the ACD's status text.
fn accepted(status: StatusCode, text: &'static str, body: Option<Value>) -> Response {
    let mut response = match body {
        Some(body) => (status, axum::Json(body)).into_response(),
        None => status.into_response(),
    };
    response
        .headers_mut()
        .insert("icStatusDescription", HeaderValue::from_static(text));
    response
}

// ---------------------------------------------------------------------------------------------
// State

#[derive(Debug, Clone)]
struct Token {
    agent_id: u64,
    expires: Instant,
}

#[derive(Debug, Clone)]
struct Session {
    id: String,
    agent_id: u64,
    station_id: Option<String>,
    station_phone: Option<String>,
    started: SystemTime,
    ended: bool,
    start_delivered: bool,
    end_delivered: bool,
    contacts: Vec<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ContactKind {
    /// Dialed from an agent session.
    Dial,
    /// Spawned by `scripts/start`.
    Script,
}

#[derive(Debug, Clone)]
struct Contact {
    id: u64,
    kind: ContactKind,
    agent_id: Option<u64>,
    leg: Option<usize>,
    to: String,
    from: String,
    skill_id: i64,
    created: SystemTime,
    /// How many of its events the session has been given.
    delivered: usize,
    /// Ended from outside (a script contact has no leg to carry it).
    ended: Option<(SystemTime, EndReason)>,
}

/// NICE CXone's share of the sandbox's state.
#[derive(Debug, Default)]
pub(super) struct World {
    tokens: HashMap<String, Token>,
    refresh_tokens: HashMap<String, u64>,
    sessions: HashMap<String, Session>,
    active_sessions: HashMap<u64, String>,
    contacts: BTreeMap<u64, Contact>,
    next_contact: u64,
}

/// Contact ids are integers; the sandbox counts from a realistic size.
const FIRST_CONTACT_ID: u64 = 400_000_001;
const HOST: &str = "sandbox-cxone";

// ---------------------------------------------------------------------------------------------
// Routes

const P: &str = "/inContactAPI/services/{version}";

pub(super) fn routes() -> Router<Arc<Shared>> {
    let at = |path: &str| format!("{P}{path}");
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(openid_configuration),
        )
        .route("/.well-known/cxone-configuration", get(cxone_configuration))
        .route("/auth/token", post(token))
        .route(&at("/agent-sessions"), post(start_session))
        .route(&at("/agent-sessions/join"), post(join_session))
        .route(&at("/agent-sessions/{sessionId}"), delete(end_session))
        .route(
            &at("/agent-sessions/{sessionId}/dial-phone"),
            post(dial_phone),
        )
        .route(
            &at("/agent-sessions/{sessionId}/get-next-event"),
            get(next_event),
        )
        .route(
            &at("/agent-sessions/{sessionId}/interactions/{contactId}/end"),
            post(end_interaction),
        )
        .route(&at("/contacts/active"), get(contacts::active))
        .route(&at("/contacts/completed"), get(contacts::completed))
        .route(&at("/contacts/{contactId}"), get(get_contact))
        .route(&at("/contacts/{contactId}/end"), post(end_contact))
        .route(&at("/queuecallback"), post(queue_callback))
        .route(&at("/scripts/start"), post(start_script))
}

/// `v{N}.{M}`, as in `/inContactAPI/services/v34.0/`.
fn check_version(version: &str) -> Result<()> {
    let valid = version.strip_prefix('v').is_some_and(|v| {
        v.split_once('.').is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && a.chars().all(|c| c.is_ascii_digit())
                && b.chars().all(|c| c.is_ascii_digit())
        })
    });
    if valid {
        Ok(())
    } else {
        Err(Error::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!(
                "Unknown API version `{version}`; paths look like /inContactAPI/services/v34.0/..."
            ),
        ))
    }
}

fn query_map(query: &Option<String>) -> HashMap<String, String> {
    query
        .as_deref()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

/// A parameter from the query string or, failing that, the JSON body.
fn param(query: &HashMap<String, String>, body: &Option<Value>, name: &str) -> Option<String> {
    let from_query = query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone());
    from_query.or_else(|| match body.as_ref()?.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    })
}

fn flag(query: &HashMap<String, String>, body: &Option<Value>, name: &str) -> bool {
    param(query, body, name).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

// ---------------------------------------------------------------------------------------------
// Discovery and login

async fn openid_configuration(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
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
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
    .into_response()
}

async fn cxone_configuration(
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
        "cluster": "sbx1",
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

/// An unsigned JWT (`alg: none`): clients read the id_token's claims (`tenantId`), they do not
/// verify it; the sandbox has no signing key to publish.
fn id_token(shared: &Shared, issuer: &str, client_id: &str, agent_id: u64) -> String {
    use base64::Engine as _;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let config = &shared.config.cxone;
    let header = json!({ "alg": "none", "typ": "JWT" });
    let claims = json!({
        "iss": issuer,
        "sub": format!("user:{agent_id}"),
        "aud": client_id,
        "iat": now,
        "exp": now.saturating_add(config.token_lifetime.as_secs()),
        "tenantId": config.tenant_id,
        "tenant": "callplan-sandbox",
        "icBUId": config.business_unit,
        "icClusterId": "SBX1",
        "icAgentId": agent_id,
        "name": format!("agent{agent_id}@sandbox.callplan.invalid"),
    });
    format!("{}.{}.", b64(&header), b64(&claims))
}

async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
    token_inner(&shared, &headers, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn token_inner(shared: &Shared, headers: &HeaderMap, body: Body) -> Result<Response> {
    let form = form_body(shared, headers, body)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge => Error::for_status(StatusCode::PAYLOAD_TOO_LARGE),
            _ => Error::oauth(
                "invalid_request",
                "the token request must be application/x-www-form-urlencoded",
            ),
        })?;
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    // The app's credentials: HTTP Basic (`client_secret_basic`), or the optional form fields.
    let client = basic_credentials(headers)
        .or_else(|| Some((field("client_id")?, field("client_secret")?)))
        .and_then(|(id, secret)| {
            shared
                .config
                .cxone
                .clients
                .iter()
                .find(|c| c.id == id && c.secret == secret)
        })
        // UNCONFIRMED: the spec gives every OAuth error status 400, this one included.
        .ok_or_else(|| Error::oauth("invalid_client", "Client authentication failed."))?;
    let agent_id = match field("grant_type").as_deref() {
        Some("password") => {
            let (Some(id), Some(secret)) = (field("username"), field("password")) else {
                return Err(Error::oauth(
                    "invalid_request",
                    "username (access key id) and password (access key secret) are required",
                ));
            };
            shared
                .config
                .cxone
                .access_keys
                .iter()
                .find(|k| k.id == id && k.secret == secret)
                .map(|k| k.agent_id)
                .ok_or_else(|| Error::oauth("invalid_grant", "Invalid access key."))?
        }
        Some("refresh_token") => {
            let refresh = field("refresh_token").unwrap_or_default();
            shared
                .world()
                .cxone
                .refresh_tokens
                .get(&refresh)
                .copied()
                .ok_or_else(|| Error::oauth("invalid_grant", "Invalid refresh token."))?
        }
        Some(_) => {
            return Err(Error::oauth(
                "unsupported_grant_type",
                "Use grant_type=password with an access key.",
            ));
        }
        None => return Err(Error::oauth("invalid_request", "grant_type is required")),
    };
    let lifetime = shared.config.cxone.token_lifetime;
    let (access, refresh) = {
        let mut world = shared.world();
        let access = world.ids.token();
        let refresh = world.ids.token();
        world.cxone.tokens.insert(
            access.clone(),
            Token {
                agent_id,
                expires: crate::duration::saturating_deadline(Instant::now(), lifetime),
            },
        );
        world.cxone.refresh_tokens.insert(refresh.clone(), agent_id);
        (access, refresh)
    };
    let issuer = origin(headers, shared.addr);
    let body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs_f64().ceil().max(1.0) as u64,
        "refresh_token": refresh,
        "id_token": id_token(shared, &issuer, &client.id, agent_id),
        "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
    });
    let mut response = axum::Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// The agent a request speaks for; counts the request against its token's rate limit.
fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<u64> {
    let unauthorized = || Error::new(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized");
    let token = bearer_token(headers).ok_or_else(unauthorized)?;
    let agent = {
        let world = shared.world();
        let known = world.cxone.tokens.get(token).ok_or_else(unauthorized)?;
        if known.expires <= Instant::now() {
            return Err(unauthorized());
        }
        known.agent_id
    };
    shared.limits.cxone(token).map_err(|exceeded| Error {
        retry_after: Some(exceeded.retry_after),
        ..Error::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            format!(
                "Rate limit exceeded: {} requests per {} seconds.",
                exceeded.requests, exceeded.per_seconds
            ),
        )
    })?;
    Ok(agent)
}

// ---------------------------------------------------------------------------------------------
// Agent sessions

async fn start_session(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Params(version): Params<String>,
    RawQuery(query): RawQuery,
    body: Body,
) -> Result<Response> {
    let agent = authenticate(&shared, &headers)?;
    check_version(&version)?;
    // The spec reads these from the query, NICE's own SDK sends them in a JSON body; whether
    // the service takes both is UNCONFIRMED, so the sandbox does.
    let body = json_body::<Value>(&shared, &headers, body).await?;
    let query = query_map(&query);
    let station_id = param(&query, &body, "stationId").filter(|s| !s.is_empty());
    let station_phone = param(&query, &body, "stationPhoneNumber").filter(|s| !s.is_empty());
    if station_id.is_none() && station_phone.is_none() {
        return Err(Error::bad_request(
            "InvalidStation",
            "stationId or stationPhoneNumber is required.",
        ));
    }
    let agent = as_agent(&query, &body, agent)?;
    let mut world = shared.world();
    if world.cxone.active_sessions.contains_key(&agent) {
        return Err(Error::new(
            StatusCode::CONFLICT,
            "SessionExists",
            "The agent already has an active session; join it with agent-sessions/join.",
        ));
    }
    let id = world.ids.uuid().replace('-', "");
    world.cxone.active_sessions.insert(agent, id.clone());
    world.cxone.sessions.insert(
        id.clone(),
        Session {
            id: id.clone(),
            agent_id: agent,
            station_id,
            station_phone,
            started: SystemTime::now(),
            ended: false,
            start_delivered: false,
            end_delivered: false,
            contacts: Vec::new(),
        },
    );
    Ok(accepted(
        StatusCode::ACCEPTED,
        "Accepted",
        Some(json!({ "sessionId": id })),
    ))
}

async fn join_session(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Params(version): Params<String>,
    RawQuery(query): RawQuery,
    body: Body,
) -> Result<Response> {
    let agent = authenticate(&shared, &headers)?;
    check_version(&version)?;
    let body = json_body::<Value>(&shared, &headers, body).await?;
    let query = query_map(&query);
    let agent = as_agent(&query, &body, agent)?;
    let world = shared.world();
    let id = world
        .cxone
        .active_sessions
        .get(&agent)
        .cloned()
        .ok_or_else(Error::invalid_session)?;
    Ok(accepted(
        StatusCode::ACCEPTED,
        "Accepted",
        Some(json!({ "sessionId": id })),
    ))
}

/// The agent a session request is for: `asAgentId` when given, else the token's.
fn as_agent(
    query: &HashMap<String, String>,
    body: &Option<Value>,
    token_agent: u64,
) -> Result<u64> {
    match param(query, body, "asAgentId") {
        Some(text) => text
            .parse::<u64>()
            .map_err(|_| Error::bad_request("InvalidAgent", "asAgentId must be an agent id.")),
        None => Ok(token_agent),
    }
}

/// The session, if it exists and belongs to the agent.
fn session_mut<'a>(world: &'a mut Everything, id: &str, agent: u64) -> Result<&'a mut Session> {
    world
        .cxone
        .sessions
        .get_mut(id)
        .filter(|s| s.agent_id == agent)
        .ok_or_else(Error::invalid_session)
}

fn session_ended() -> Error {
    Error::new(
        StatusCode::CONFLICT,
        "SessionEnded",
        "The agent session has ended.",
    )
}

fn contact_is_up(world: &Everything, contact: &Contact, now: Instant) -> bool {
    match contact.leg {
        Some(leg) => world.legs[leg].at(now).phase != Phase::Disconnected,
        None => contact.ended.is_none(),
    }
}

async fn end_session(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Params((version, session_id)): Params<(String, String)>,
    RawQuery(query): RawQuery,
    body: Body,
) -> Result<Response> {
    let agent = authenticate(&shared, &headers)?;
    check_version(&version)?;
    // NICE's SDK sends the flags in a body, the spec in the query: both are read.
    let body = json_body::<Value>(&shared, &headers, body).await?;
    let query = query_map(&query);
    let end_contacts = flag(&query, &body, "endContacts") || flag(&query, &body, "forceLogoff");
    let now = Instant::now();
    {
        let mut world = shared.world();
        let world = &mut *world;
        let session = session_mut(world, &session_id, agent)?;
        if session.ended {
            return Err(session_ended());
        }
        let contacts = session.contacts.clone();
        let open: Vec<u64> = contacts
            .iter()
            .filter(|id| {
                world
                    .cxone
                    .contacts
                    .get(id)
                    .is_some_and(|c| contact_is_up(world, c, now))
            })
            .copied()
            .collect();
        if !open.is_empty() && !end_contacts {
            // UNCONFIRMED: how the service treats open contacts without `endContacts`.
            return Err(Error::new(
                StatusCode::CONFLICT,
                "ActiveContacts",
                "The session has active contacts; end them first or pass endContacts=true.",
            ));
        }
        for id in open {
            if let Some(leg) = world.cxone.contacts.get(&id).and_then(|c| c.leg) {
                world.legs[leg].end(now, EndReason::Client);
            }
        }
        if let Some(session) = world.cxone.sessions.get_mut(&session_id) {
            session.ended = true;
        }
        world.cxone.active_sessions.remove(&agent);
    }
    shared.changed.notify_waiters();
    Ok(accepted(StatusCode::ACCEPTED, "Accepted", None))
}

// ---------------------------------------------------------------------------------------------
// Dialing

fn valid_phone(number: &str) -> bool {
    let digits = number.chars().filter(char::is_ascii_digit).count();
    (4..=20).contains(&digits)
        && number
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
}

async fn dial_phone(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Params((version, session_id)): Params<(String, String)>,
    body: Body,
) -> Result<Response> {
    let agent = authenticate(&shared, &headers)?;
    check_version(&version)?;
    let body = json_body::<Value>(&shared, &headers, body)
        .await?
        .ok_or(BodyError::Missing)?;
    let body = Some(body);
    let none = HashMap::new();
    let phone = param(&none, &body, "phoneNumber").unwrap_or_default();
    let skill = param(&none, &body, "skillId")
        .and_then(|s| s.trim_matches('"').parse::<i64>().ok())
        .filter(|s| *s > 0);
    let caller_id = param(&none, &body, "callerId");
    let scale = shared.config.time_scale;
    {
        let mut world = shared.world();
        let world = &mut *world;
        let session = session_mut(world, &session_id, agent)?;
        if session.ended {
            return Err(session_ended());
        }
        if !valid_phone(&phone) {
            return Err(Error::bad_request(
                "InvalidPhoneNumber",
                "Phone Number is not valid.",
            ));
        }
        let Some(skill) = skill else {
            return Err(Error::bad_request("InvalidSkill", "Skill is not valid."));
        };
        let from = caller_id
            .or_else(|| session.station_phone.clone())
            .unwrap_or_else(|| {
                format!("station {}", session.station_id.clone().unwrap_or_default())
            });
        let leg = world.place(Outcome::for_destination(&phone), scale);
        let id = FIRST_CONTACT_ID + world.cxone.next_contact;
        world.cxone.next_contact += 1;
        if let Some(session) = world.cxone.sessions.get_mut(&session_id) {
            session.contacts.push(id);
        }
        world.cxone.contacts.insert(
            id,
            Contact {
                id,
                kind: ContactKind::Dial,
                agent_id: Some(agent),
                leg: Some(leg),
                to: phone.clone(),
                from,
                skill_id: skill,
                created: world.legs[leg].placed_wall,
                delivered: 0,
                ended: None,
            },
        );
        world.ledger.push(Record {
            vendor: VendorName::Cxone,
            kind: Kind::Call,
            id: id.to_string(),
            destination: phone,
            caller: agent.to_string(),
            leg: Some(leg),
            placed: world.legs[leg].placed_wall,
        });
    }
    shared.changed.notify_waiters();
    // 202 with no body: the contact id arrives as a CallContactEvent.
    Ok(accepted(StatusCode::ACCEPTED, "Accepted", None))
}

// ---------------------------------------------------------------------------------------------
// Events

/// A contact's `CallContactEvent`s so far: Dialing, then Active if it connected, then
/// Disconnected (final) once it ended.
fn contact_events(world: &Everything, contact: &Contact, now: Instant) -> Vec<Value> {
    let Some(leg) = contact.leg.map(|l| &world.legs[l]) else {
        return Vec::new();
    };
    let snapshot = leg.at(now);
    let mut moments = vec![(Duration::ZERO, "Dialing", false, None)];
    if let Some(at) = snapshot.connected_at {
        moments.push((at, "Active", false, None));
    }
    if let Some((at, why)) = snapshot.ended {
        moments.push((at, "Disconnected", true, Some(why)));
    }
    moments
        .into_iter()
        .map(|(at, status, final_state, why)| {
            let mut event = json!({
                "Type": "CallContactEvent",
                "ContactID": contact.id.to_string(),
                "MasterID": contact.id.to_string(),
                "Status": status,
                "FinalState": final_state,
                "CallType": "Regular",
                "IsInbound": false,
                "ANI": contact.from,
                "DNIS": contact.to,
                "Skill": contact.skill_id.to_string(),
                "StartTimeUTC": timestamp(leg.placed_wall),
                "LastStateChangeTimeUTC": timestamp(leg.wall(at)),
                "IISHost": HOST,
                "VCHost": HOST,
            });
            if let (Some(why), Some(map)) = (why, event.as_object_mut()) {
                map.insert("DisconnectCode".into(), json!(disconnect_code(why)));
            }
            event
        })
        .collect()
}

/// UNCONFIRMED: CXone's disconnect codes are not in the sources; these name what happened.
fn disconnect_code(why: EndReason) -> &'static str {
    match why {
        EndReason::Client => "AgentDisconnect",
        EndReason::Forced => "ForcedDisconnect",
        EndReason::Peer => "PeerDisconnect",
        EndReason::CustomerHangup => "ContactHangUp",
        EndReason::Busy => "Busy",
        EndReason::NoAnswer => "NoAnswer",
        EndReason::Invalid => "InvalidNumber",
    }
}

enum Poll {
    Events(Vec<Value>),
    Ended,
    Wait(Option<Instant>),
}

fn poll(world: &mut Everything, session_id: &str, agent: u64, now: Instant) -> Result<Poll> {
    let session = session_mut(world, session_id, agent)?.clone();
    let mut events = Vec::new();
    if !session.start_delivered {
        events.push(json!({
            "Type": "AgentSessionStart",
            "SessionId": session.id,
            "StartTimeUTC": timestamp(session.started),
            "IISHost": HOST,
            "VCHost": HOST,
        }));
    }
    let mut next = None::<Instant>;
    for id in &session.contacts {
        let Some(contact) = world.cxone.contacts.get(id) else {
            continue;
        };
        let all = contact_events(world, contact, now);
        let fresh: Vec<Value> = all.iter().skip(contact.delivered).cloned().collect();
        let count = all.len();
        if let Some(leg) = contact.leg
            && let Some(at) = world.legs[leg].next_change(now)
        {
            next = Some(next.map_or(at, |n| n.min(at)));
        }
        events.extend(fresh);
        if let Some(contact) = world.cxone.contacts.get_mut(id) {
            contact.delivered = count;
        }
    }
    if session.ended && !session.end_delivered {
        events.push(json!({
            "Type": "AgentSessionEnd",
            "SessionId": session.id,
            "IISHost": HOST,
            "VCHost": HOST,
        }));
    }
    if let Some(s) = world.cxone.sessions.get_mut(session_id) {
        s.start_delivered = true;
        s.end_delivered = s.ended;
    }
    if !events.is_empty() {
        Ok(Poll::Events(events))
    } else if session.ended {
        Ok(Poll::Ended)
    } else {
        Ok(Poll::Wait(next))
    }
}

/// The longest the sandbox holds a long poll. UNCONFIRMED: NICE's SDK asks for 60 s; the
/// service's own ceiling is not documented.
const MAX_POLL: u64 = 60;

async fn next_event(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Params((version, session_id)): Params<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let agent = authenticate(&shared, &headers)?;
    check_version(&version)?;
    let query = query_map(&query);
    let timeout = query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("timeout"))
        .map(|(_, v)| v.parse::<u64>())
        .ok_or_else(|| Error::bad_request("InvalidTimeout", "timeout is required."))?
        .map_err(|_| {
            Error::bad_request(
                "InvalidTimeout",
                "timeout must be a whole number of seconds.",
            )
        })?;
    let deadline = Instant::now() + Duration::from_secs(timeout.min(MAX_POLL));
    loop {
        let notified = shared.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now = Instant::now();
        let next = match poll(&mut shared.world(), &session_id, agent, now)? {
            Poll::Events(events) => {
                let body = json!({ "sessionId": session_id, "events": events });
                return Ok(accepted(StatusCode::OK, "OK", Some(body)));
            }
            Poll::Ended => return Err(session_ended()),
            Poll::Wait(next) => next,
        };
        if now >= deadline {
            return Ok(accepted(StatusCode::NOT_MODIFIED, "Not Modified", None));
        }
        let until = next.map_or(deadline, |n| n.min(deadline));
        tokio::select! {
            _ = tokio::time::sleep_until(until.into()) => {}
            _ = &mut notified => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Contacts

fn contact_not_up() -> Error {
    Error::new(
        StatusCode::CONFLICT,
        "ContactEnded",
        "The contact has already ended.",
    )
}

async fn end_interaction(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Params((version, session_id, contact_id)): Params<(String, String, String)>,
) -> Result<Response> {
    let agent = authenticate(&shared, &headers)?;
    check_version(&version)?;
    let now = Instant::now();
    {
        let mut world = shared.world();
        let world = &mut *world;
        let session = session_mut(world, &session_id, agent)?;
        if session.ended {
            return Err(session_ended());
        }
        let id = contact_id
            .parse::<u64>()
            .ok()
            .filter(|id| session.contacts.contains(id))
            .ok_or_else(Error::invalid_contact)?;
        let contact = world
            .cxone
            .contacts
            .get(&id)
            .ok_or_else(Error::invalid_contact)?;
        if !contact_is_up(world, contact, now) {
            return Err(contact_not_up());
        }
        if let Some(leg) = contact.leg {
            world.legs[leg].end(now, EndReason::Client);
        }
    }
    shared.changed.notify_waiters();
    Ok(accepted(StatusCode::ACCEPTED, "Accepted", None))
}

async fn end_contact(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Params((version, contact_id)): Params<(String, String)>,
) -> Result<Response> {
    authenticate(&shared, &headers)?;
    check_version(&version)?;
    let now = Instant::now();
    {
        let mut world = shared.world();
        let world = &mut *world;
        let id = contact_id
            .parse::<u64>()
            .map_err(|_| Error::invalid_contact())?;
        let contact = world
            .cxone
            .contacts
            .get(&id)
            .ok_or_else(Error::invalid_contact)?;
        if !contact_is_up(world, contact, now) {
            return Err(contact_not_up());
        }
        match contact.leg {
            Some(leg) => {
                world.legs[leg].end(now, EndReason::Forced);
            }
            None => {
                if let Some(c) = world.cxone.contacts.get_mut(&id) {
                    c.ended = Some((SystemTime::now(), EndReason::Forced));
                }
            }
        }
    }
    shared.changed.notify_waiters();
    Ok(accepted(StatusCode::ACCEPTED, "Accepted", None))
}

/// (stateId, stateName) of an open contact. UNCONFIRMED: the ids are the sandbox's own.
fn contact_state(
    world: &Everything,
    contact: &Contact,
    now: Instant,
) -> Option<(u32, &'static str)> {
    if !contact_is_up(world, contact, now) {
        return None;
    }
    let phase = contact
        .leg
        .map(|l| world.legs[l].at(now).phase)
        .unwrap_or(Phase::Connected);
    Some(match phase {
        Phase::Dialing | Phase::Alerting => (3, "Dialing"),
        _ => (4, "Active"),
    })
}

fn media(contact: &Contact) -> (u32, &'static str) {
    match contact.kind {
        ContactKind::Dial => (4, "Phone Call"),
        ContactKind::Script => (7, "Work Item"),
    }
}

async fn get_contact(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Params((version, contact_id)): Params<(String, String)>,
) -> Result<Response> {
    authenticate(&shared, &headers)?;
    check_version(&version)?;
    let id = contact_id
        .parse::<u64>()
        .map_err(|_| Error::invalid_contact())?;
    let now = Instant::now();
    let world = shared.world();
    let contact = world
        .cxone
        .contacts
        .get(&id)
        .ok_or_else(Error::invalid_contact)?;
    let (media_id, media_name) = media(contact);
    let mut detail = json!({
        "contactId": contact.id,
        "masterContactId": contact.id,
        "agentId": contact.agent_id,
        "skillId": contact.skill_id,
        "toAddress": contact.to,
        "fromAddress": contact.from,
        "isOutbound": true,
        "mediaTypeId": media_id,
        "mediaTypeName": media_name,
        "startDate": timestamp(contact.created),
    });
    let ended = match contact.leg {
        Some(leg) => {
            let leg = &world.legs[leg];
            leg.at(now).ended.map(|(at, why)| (leg.wall(at), why, at))
        }
        None => contact.ended.map(|(at, why)| {
            (
                at,
                why,
                at.duration_since(contact.created).unwrap_or_default(),
            )
        }),
    };
    if let Some(map) = detail.as_object_mut() {
        match (ended, contact_state(&world, contact, now)) {
            (Some((end, why, duration)), _) => {
                map.insert("stateName".into(), json!("EndContact"));
                map.insert("endDate".into(), json!(timestamp(end)));
                map.insert("endReason".into(), json!(disconnect_code(why)));
                map.insert(
                    "abandoned".into(),
                    json!(matches!(
                        why,
                        EndReason::Busy | EndReason::NoAnswer | EndReason::Invalid
                    )),
                );
                map.insert("totalDurationSeconds".into(), json!(duration.as_secs()));
            }
            (None, Some((state_id, state_name))) => {
                map.insert("stateId".into(), json!(state_id));
                map.insert("stateName".into(), json!(state_name));
            }
            (None, None) => {}
        }
    }
    // The detail sits under a property named `contactId` (reference §3).
    let body = json!({
        "businessUnitId": shared.config.cxone.business_unit,
        "lastPollTime": timestamp(SystemTime::now()),
        "contactId": detail,
    });
    Ok(axum::Json(body).into_response())
}

// ---------------------------------------------------------------------------------------------
// Callbacks and scripts

async fn queue_callback(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Params(version): Params<String>,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let agent = authenticate(&shared, &headers)?;
    check_version(&version)?;
    let query = query_map(&query);
    let none = None;
    let phone = param(&query, &none, "phoneNumber").unwrap_or_default();
    if !valid_phone(&phone) {
        return Err(Error::bad_request(
            "InvalidPhoneNumber",
            "Phone Number is not valid.",
        ));
    }
    if param(&query, &none, "skill")
        .and_then(|s| s.parse::<i64>().ok())
        .is_none()
    {
        return Err(Error::bad_request("InvalidSkill", "Skill is not valid."));
    }
    if let Some(caller) = param(&query, &none, "callerId")
        && !valid_phone(&caller)
    {
        return Err(Error::bad_request(
            "InvalidCallerId",
            "Caller ID is not valid.",
        ));
    }
    {
        let mut world = shared.world();
        let id = world.ids.uuid();
        world.ledger.push(Record {
            vendor: VendorName::Cxone,
            kind: Kind::Callback,
            id,
            destination: phone,
            caller: agent.to_string(),
            leg: None,
            placed: SystemTime::now(),
        });
    }
    // 202 with no body: the service gives no id to follow the callback by.
    Ok(accepted(StatusCode::ACCEPTED, "Accepted", None))
}

async fn start_script(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Params(version): Params<String>,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let agent = authenticate(&shared, &headers)?;
    check_version(&version)?;
    let query = query_map(&query);
    let none = None;
    let Some(skill) = param(&query, &none, "skillId").and_then(|s| s.parse::<i64>().ok()) else {
        return Err(Error::bad_request("InvalidSkill", "skillId is required."));
    };
    // The spec requires both scriptId and scriptPath, yet public clients send only the path:
    // one of them is enough here (UNCONFIRMED).
    let script = param(&query, &none, "scriptPath").or_else(|| param(&query, &none, "scriptId"));
    let Some(script) = script.filter(|s| !s.is_empty()) else {
        return Err(Error::bad_request(
            "InvalidScript",
            "scriptPath (or scriptId) is required.",
        ));
    };
    let mut world = shared.world();
    let id = FIRST_CONTACT_ID + world.cxone.next_contact;
    world.cxone.next_contact += 1;
    world.cxone.contacts.insert(
        id,
        Contact {
            id,
            kind: ContactKind::Script,
            agent_id: Some(agent),
            leg: None,
            to: script,
            from: String::new(),
            skill_id: skill,
            created: SystemTime::now(),
            delivered: 0,
            ended: None,
        },
    );
    Ok(accepted(
        StatusCode::OK,
        "OK",
        Some(json!({ "contactId": id })),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_look_like_v34_0() {
        assert!(check_version("v34.0").is_ok());
        assert!(check_version("v2.0").is_ok());
        assert!(check_version("34.0").is_err());
        assert!(check_version("v34").is_err());
        assert!(check_version("vX.0").is_err());
    }

    #[test]
    fn the_id_token_carries_the_tenant() {
        use base64::Engine as _;
        let shared = Shared::new(super::super::Config::default(), ([127, 0, 0, 1], 1).into());
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
    }
}
