//! NICE CXone: agent sessions, dialing, contacts, callbacks and spawned scripts. The rest is in
//! files of their own: login and discovery in [`auth`] (its id_tokens signed in [`jwt`]), the
//! event long poll in [`events`], the agent's and skills' settings in [`admin`], the active and
//! completed contact listings in [`contacts`], and the case-insensitive paths in [`paths`].
//!
//! Contracts from `shared/reference/nice-cxone.md`, and for what NICE's own agent SDK sends and
//! reads, `shared/reference/nice-cxone-agent-sdk.md`. Where the reference marks a fact
//! UNCONFIRMED, the choice made here is the most plausible one and says so.

mod admin;
mod auth;
mod contacts;
mod events;
mod jwt;
pub(super) mod paths;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde_json::{Value, json};

use super::ledger::{Kind, Record, VendorName};
use super::script::Outcome;
use super::{BodyError, Params, Shared, World as Everything, bearer_token, is_json, raw_body};
use crate::call::{EndReason, Phase, timestamp};
use events::disconnect_code;

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
    tokens: HashMap<String, auth::Token>,
    refresh_tokens: HashMap<String, auth::Grant>,
    codes: HashMap<String, auth::Code>,
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
            get(auth::openid_configuration),
        )
        .route(
            "/.well-known/cxone-configuration",
            get(auth::cxone_configuration),
        )
        .route("/auth/authorize", get(auth::authorize))
        .route("/auth/token", post(auth::token))
        .route("/auth/jwks", get(auth::jwks))
        .route(paths::WHOAMI, post(auth::whoami))
        .route(&at("/agent-sessions"), post(start_session))
        .route(&at("/agent-sessions/join"), post(join_session))
        .route(&at("/agent-sessions/{sessionId}"), delete(end_session))
        .route(
            &at("/agent-sessions/{sessionId}/dial-phone"),
            post(dial_phone),
        )
        .route(
            &at("/agent-sessions/{sessionId}/get-next-event"),
            get(events::next_event),
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
        .route(
            &at("/agents/{agentId}/agent-settings"),
            get(admin::agent_settings),
        )
        .route(&at("/agents/{agentId}/indicators"), get(admin::indicators))
        .route(&at("/business-unit"), get(admin::business_unit))
        .route(&at("/server-time"), get(admin::server_time))
        .route(&at("/skills/{skillId}"), get(admin::skill))
        .route(
            &at("/skills/{skillId}/dispositions"),
            get(admin::dispositions),
        )
        .route(&at("/skills/{skillId}/tags"), get(admin::tags))
}

/// A JSON body whatever its Content-Type label: NICE's agent SDK never sets one, so fetch
/// labels its JSON `text/plain;charset=UTF-8`, and the platform takes it. A body that is not
/// JSON is still refused: 400 when labelled JSON, 415 otherwise (UNCONFIRMED: the service's
/// answer to a non-JSON body under another label; 415 is what ASP.NET Web API gives).
async fn json_any_label(
    shared: &Shared,
    headers: &HeaderMap,
    body: Body,
) -> Result<Option<Value>, BodyError> {
    let bytes = raw_body(shared, body).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        if is_json(headers) {
            BodyError::Malformed(e.to_string())
        } else {
            BodyError::NotJson
        }
    })
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

/// A boolean parameter (`true`/`false`, any case, or a JSON boolean); false when absent.
fn flag(query: &HashMap<String, String>, body: &Option<Value>, name: &str) -> Result<bool> {
    match param(query, body, name) {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") || v.is_empty() => Ok(false),
        Some(v) => Err(Error::bad_request(
            "InvalidParameter",
            format!("{name} must be true or false, not `{v}`."),
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Authentication

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
    let body = json_any_label(&shared, &headers, body).await?;
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
    let body = json_any_label(&shared, &headers, body).await?;
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
    // NICE's SDK sends the flags in a body (`{"forceLogoff":true,"endContacts":true,
    // "ignorePersonalQueue":false}`), the spec in the query: both are read.
    let body = json_any_label(&shared, &headers, body).await?;
    let query = query_map(&query);
    let end_contacts = flag(&query, &body, "endContacts")? || flag(&query, &body, "forceLogoff")?;
    // The sandbox has no personal queue to keep or drop; the flag is checked, not acted on.
    flag(&query, &body, "ignorePersonalQueue")?;
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
    let body = json_any_label(&shared, &headers, body)
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
}
