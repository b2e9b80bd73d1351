//! Genesys Cloud: login, token introspection, calls, external contacts, callbacks and users;
//! the analytics conversation-detail query in [`analytics`].
//!
//! Contracts from `shared/reference/genesys-cloud.md`. Where the reference marks a fact
//! UNCONFIRMED, the choice made here is the most plausible one and says so.

pub(super) mod analytics;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::config::User;
use super::ledger::{Kind, Record, VendorName};
use super::script::Outcome;
use super::{
    BodyError, Params, Shared, World as Everything, basic_credentials, bearer_token,
    correlation_id, form_body, json_body,
};
use crate::call::{EndReason, Phase, timestamp};

// ---------------------------------------------------------------------------------------------
// Errors

/// A Platform API error: an `ErrorBody` with the request's `contextId`.
#[derive(Debug, Clone)]
pub(super) struct Error {
    status: StatusCode,
    code: &'static str,
    message: String,
    with_params: Option<(String, Map<String, Value>)>,
    retry_after: Option<u64>,
}

impl Error {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Error {
        Error {
            status,
            code,
            message: message.into(),
            with_params: None,
            retry_after: None,
        }
    }

    fn bad_request(message: impl Into<String>) -> Error {
        Error::new(StatusCode::BAD_REQUEST, "bad.request", message)
    }

    /// The generic error for a status (SW18's codes attached to every operation).
    pub(super) fn for_status(status: StatusCode) -> Error {
        let (code, message) = match status.as_u16() {
            400 => (
                "bad.request",
                "The request could not be understood by the server due to malformed syntax.",
            ),
            401 => (
                "authentication.required",
                "No authentication bearer token specified in authorization header.",
            ),
            403 => (
                "not.authorized",
                "You are not authorized to perform the requested action.",
            ),
            404 => ("not.found", "The requested resource was not found."),
            // UNCONFIRMED: no source gives Genesys's code for a wrong method; this mirrors its
            // naming.
            405 => (
                "method.not.allowed",
                "The HTTP method is not allowed for the requested resource.",
            ),
            409 => (
                "conflict",
                "The request conflicts with the resource's state.",
            ),
            // UNCONFIRMED: the reference lists `response.entity.too.large` (400) only; a
            // request over the size limit gets this twin with the proper status.
            413 => (
                "request.entity.too.large",
                "The request is larger than the server is willing to process.",
            ),
            415 => (
                "unsupported.media.type",
                "Unsupported Media Type - Unsupported or incorrect media type, such as an incorrect Content-Type value in the header.",
            ),
            429 => (
                "too.many.requests",
                "Rate limit exceeded the maximum requests allowed.",
            ),
            500 => (
                "internal.server.error",
                "The server encountered an unexpected condition which prevented it from fulfilling the request.",
            ),
            502 => ("bad.gateway", "Bad gateway."),
            503 => (
                "service.unavailable",
                "Service Unavailable - The server is currently unavailable (because it is overloaded or down for maintenance).",
            ),
            504 => ("request.timeout", "The request timed out."),
            _ => ("error", "The request failed."),
        };
        Error::new(status, code, message)
    }

    fn not_a_user() -> Error {
        Error::new(
            StatusCode::BAD_REQUEST,
            "not.a.user",
            "This request requires a user context. Client credentials cannot be used for requests to this resource.",
        )
    }

    fn no_station() -> Error {
        Error::new(
            StatusCode::BAD_REQUEST,
            "conversation.error.no.user.station",
            "A station is required to place a call.",
        )
    }

    fn conversation_not_found() -> Error {
        Error::new(
            StatusCode::NOT_FOUND,
            "conversation.error.conversation.not.found",
            "The conversation does not exist.",
        )
    }

    fn user_not_found() -> Error {
        Error::new(
            StatusCode::NOT_FOUND,
            "general.resource.not.found",
            "Unable to find a user with that userId",
        )
    }

    fn contact_not_found() -> Error {
        Error::new(
            StatusCode::NOT_FOUND,
            "contact.not.found",
            "Contact not found by contact id",
        )
    }

    fn bad_credentials() -> Error {
        Error::new(
            StatusCode::UNAUTHORIZED,
            "bad.credentials",
            "Invalid login credentials.",
        )
    }

    fn rate_limited(exceeded: super::limit::Exceeded) -> Error {
        let mut params = Map::new();
        params.insert("0".into(), json!(exceeded.requests.to_string()));
        params.insert("1".into(), json!(exceeded.per_seconds.to_string()));
        Error {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "too.many.requests",
            message: format!(
                "Rate limit exceeded the maximum [{}] requests within [{}] seconds",
                exceeded.requests, exceeded.per_seconds
            ),
            with_params: Some((
                "Rate limit exceeded the maximum [{0}] requests within [{1}] seconds".into(),
                params,
            )),
            retry_after: Some(exceeded.retry_after),
        }
    }
}

impl From<BodyError> for Error {
    fn from(e: BodyError) -> Error {
        match e {
            BodyError::TooLarge => Error::for_status(StatusCode::PAYLOAD_TOO_LARGE),
            BodyError::NotJson => Error::for_status(StatusCode::UNSUPPORTED_MEDIA_TYPE),
            BodyError::Missing => Error::bad_request("A request body is required."),
            BodyError::Malformed(detail) => Error::bad_request(format!(
                "The request could not be understood by the server due to malformed syntax: {detail}"
            )),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let mut body = json!({
            "message": self.message,
            "code": self.code,
            "status": self.status.as_u16(),
            "contextId": correlation_id(),
            "details": [],
            "errors": [],
        });
        if let (Some((template, params)), Some(map)) = (self.with_params, body.as_object_mut()) {
            map.insert("messageWithParams".into(), json!(template));
            map.insert("messageParams".into(), Value::Object(params));
        }
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// An OAuth error from the login host: `{error, description, error_description}`.
#[derive(Debug, Clone)]
pub(super) struct LoginError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl LoginError {
    pub(super) fn new(
        status: StatusCode,
        error: &'static str,
        description: impl Into<String>,
    ) -> LoginError {
        LoginError {
            status,
            error,
            description: description.into(),
        }
    }
}

impl IntoResponse for LoginError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": self.error,
            "description": self.description,
            "error_description": self.description,
        });
        (self.status, axum::Json(body)).into_response()
    }
}

type Result<T, E = Error> = std::result::Result<T, E>;

// ---------------------------------------------------------------------------------------------
// State

/// Who a token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Principal {
    /// A client-credentials token: no user.
    Client(String),
    /// A user-context token.
    User(String),
}

#[derive(Debug, Clone)]
struct Issued {
    client_id: String,
    expires: Instant,
}

/// One side of a call conversation.
#[derive(Debug, Clone)]
struct Party {
    id: String,
    purpose: &'static str,
    name: Option<String>,
    address: Option<String>,
    user_id: Option<String>,
    queue_id: Option<String>,
    leg: usize,
    ani: Option<String>,
    dnis: Option<String>,
    held: bool,
    muted: bool,
    recording: bool,
    attributes: Map<String, Value>,
}

#[derive(Debug, Clone)]
struct Conversation {
    id: String,
    /// The user whose station places the call.
    caller: Party,
    remotes: Vec<Party>,
    external_contact_id: Option<String>,
    /// Merged into a conference: when.
    merged: Option<Instant>,
}

/// Genesys Cloud's share of the sandbox's state.
#[derive(Debug, Default)]
pub(super) struct World {
    tokens: HashMap<String, Issued>,
    revoked: HashSet<String>,
    conversations: HashMap<String, Conversation>,
    contacts: IndexMap<String, Map<String, Value>>,
}

const ORGANIZATION_ID: &str = "5b5f7a6c-1d2e-4f30-8a41-5a4db0c0ffee";
const DIVISION_ID: &str = "6c6f8b7d-2e3f-4a41-9b52-6b5ec1d1aaaa";

fn division() -> Value {
    json!({ "id": DIVISION_ID, "name": "Home", "selfUri": format!("/api/v2/authorization/divisions/{DIVISION_ID}") })
}

fn user_ref(user: &User) -> Value {
    json!({ "id": user.id, "name": user.name, "selfUri": format!("/api/v2/users/{}", user.id) })
}

// ---------------------------------------------------------------------------------------------
// Routes

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/oauth/token", post(login))
        .route("/api/v2/tokens/me", get(token_info).delete(revoke))
        .route("/api/v2/users/me", get(users_me))
        .route("/api/v2/users/{userId}", get(get_user))
        .route("/api/v2/users/{userId}/routingstatus", get(routing_status))
        .route(
            "/api/v2/conversations/calls",
            get(list_calls).post(create_call),
        )
        .route(
            "/api/v2/conversations/calls/user/{userId}",
            post(create_call_for_user),
        )
        .route(
            "/api/v2/conversations/calls/{conversationId}",
            get(get_call).patch(patch_call),
        )
        .route(
            "/api/v2/conversations/calls/{conversationId}/participants/{participantId}",
            patch(patch_participant),
        )
        .route(
            "/api/v2/conversations/calls/{conversationId}/participants/{participantId}/user/{userId}",
            patch(patch_participant_for_user),
        )
        .route(
            "/api/v2/conversations/{conversationId}/participants/{participantId}",
            patch(patch_any_participant),
        )
        .route(
            "/api/v2/conversations/{conversationId}/disconnect",
            post(teardown),
        )
        .route("/api/v2/conversations/callbacks", post(create_callback))
        .route(
            "/api/v2/externalcontacts/contacts",
            get(search_contacts).post(create_contact),
        )
        .route(
            "/api/v2/externalcontacts/contacts/{contactId}",
            get(get_contact).put(update_contact).delete(delete_contact),
        )
        .route(analytics::PATH, post(analytics::query))
}

// ---------------------------------------------------------------------------------------------
// Login and tokens

async fn login(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Body) -> Response {
    login_inner(&shared, &headers, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn login_inner(
    shared: &Shared,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, LoginError> {
    let form = form_body(shared, headers, body)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge => LoginError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                "request too large",
            ),
            _ => LoginError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the token request must be application/x-www-form-urlencoded",
            ),
        })?;
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    match field("grant_type") {
        Some("client_credentials") => {}
        Some(_) => {
            return Err(LoginError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "the sandbox issues client_credentials tokens",
            ));
        }
        None => {
            return Err(LoginError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required",
            ));
        }
    }
    // HTTP Basic is documented; the same credentials in the form body are reported to work too
    // (reference §1.2, UNCONFIRMED), so both are accepted.
    let credentials = basic_credentials(headers).or_else(|| {
        Some((
            field("client_id")?.to_owned(),
            field("client_secret")?.to_owned(),
        ))
    });
    let known = credentials.as_ref().and_then(|(id, secret)| {
        shared
            .config
            .genesys
            .clients
            .iter()
            .find(|c| &c.id == id && &c.secret == secret)
    });
    // The status of a bad-credentials answer is UNCONFIRMED (reference §1.2); 401 is the
    // likeliest.
    let client = known.ok_or_else(|| {
        LoginError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "authentication failed",
        )
    })?;
    let lifetime = shared.config.genesys.token_lifetime;
    let token = {
        let mut world = shared.world();
        let token = world.ids.token();
        world.genesys.tokens.insert(
            token.clone(),
            Issued {
                client_id: client.id.clone(),
                expires: crate::duration::saturating_deadline(Instant::now(), lifetime),
            },
        );
        token
    };
    let body = json!({
        "access_token": token,
        "token_type": "bearer",
        "expires_in": lifetime.as_secs_f64().ceil().max(1.0) as u64,
    });
    Ok(axum::Json(body).into_response())
}

/// The caller of an API request.
struct Caller {
    token: String,
    principal: Principal,
}

/// Authenticates a request and counts it against its token's rate limit.
fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<Caller> {
    let token = bearer_token(headers)
        .ok_or_else(|| Error::for_status(StatusCode::UNAUTHORIZED))?
        .to_owned();
    let principal = {
        let world = shared.world();
        if world.genesys.revoked.contains(&token) {
            return Err(Error::bad_credentials());
        }
        match world.genesys.tokens.get(&token) {
            Some(issued) if issued.expires > Instant::now() => {
                Principal::Client(issued.client_id.clone())
            }
            Some(_) => return Err(Error::bad_credentials()),
            None => {
                let user = shared
                    .config
                    .genesys
                    .users
                    .iter()
                    .find(|u| u.token.as_deref() == Some(token.as_str()))
                    .ok_or_else(Error::bad_credentials)?;
                Principal::User(user.id.clone())
            }
        }
    };
    shared.limits.genesys(&token).map_err(Error::rate_limited)?;
    Ok(Caller { token, principal })
}

fn find_user<'a>(shared: &'a Shared, id: &str) -> Option<&'a User> {
    shared.config.genesys.users.iter().find(|u| u.id == id)
}

fn organization() -> Value {
    // A `NamedEntity`: id and name only.
    json!({ "id": ORGANIZATION_ID, "name": "callplan sandbox" })
}

async fn token_info(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Result<Response> {
    let caller = authenticate(&shared, &headers)?;
    let client_id = match &caller.principal {
        Principal::Client(id) => id.clone(),
        // A user token comes from some user-facing OAuth client; the sandbox names its first.
        Principal::User(_) => shared
            .config
            .genesys
            .clients
            .first()
            .map(|c| c.id.clone())
            .unwrap_or_default(),
    };
    let client_name = shared
        .config
        .genesys
        .clients
        .iter()
        .find(|c| c.id == client_id)
        .map(|c| c.name.clone())
        .unwrap_or_default();
    let body = json!({
        "organization": organization(),
        "homeOrganization": organization(),
        // Scopes only apply to clients not using client credentials (reference §1.3).
        "authorizedScope": match caller.principal {
            Principal::Client(_) => json!([]),
            Principal::User(_) => json!(["conversations", "external-contacts", "users"]),
        },
        "OAuthClient": {
            "id": client_id,
            "name": client_name,
            "organization": organization(),
        },
    });
    Ok(axum::Json(body).into_response())
}

async fn revoke(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Result<StatusCode> {
    let caller = authenticate(&shared, &headers)?;
    let mut world = shared.world();
    world.genesys.tokens.remove(&caller.token);
    world.genesys.revoked.insert(caller.token);
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------
// Users

fn is_interacting(world: &Everything, user_id: &str, now: Instant) -> bool {
    let up = |leg: usize| world.legs[leg].at(now).phase != Phase::Disconnected;
    // The caller's leg only ends when someone `settle`s the conversation (reads it); a call
    // whose remote parties have all gone is over whether or not anyone has read it since.
    world.genesys.conversations.values().any(|c| {
        c.merged.is_none()
            && c.caller.user_id.as_deref() == Some(user_id)
            && up(c.caller.leg)
            && (c.remotes.is_empty() || c.remotes.iter().any(|p| up(p.leg)))
    })
}

fn user_json(shared: &Shared, user: &User, expand: &[String]) -> Value {
    let mut body = json!({
        "id": user.id,
        "name": user.name,
        "division": division(),
        "email": format!("{}@sandbox.callplan.invalid", user.name.to_lowercase().replace(' ', ".")),
        "state": "active",
        "username": format!("{}@sandbox.callplan.invalid", user.name.to_lowercase().replace(' ', ".")),
        "version": 1,
        "acdAutoAnswer": false,
        "selfUri": format!("/api/v2/users/{}", user.id),
    });
    let Some(map) = body.as_object_mut() else {
        return body;
    };
    for item in expand {
        match item.as_str() {
            "routingStatus" => {
                map.insert("routingStatus".into(), routing_status_json(shared, user));
            }
            "station" => {
                let station = user.station.then(|| {
                    json!({
                        "id": format!("station-{}", user.id),
                        "name": format!("{} WebRTC", user.name),
                        "type": "inin_webrtc_softphone",
                        "associatedUser": user_ref(user),
                    })
                });
                let mut stations = Map::new();
                if let Some(station) = station {
                    stations.insert("associatedStation".into(), station.clone());
                    stations.insert("effectiveStation".into(), station.clone());
                    stations.insert("defaultStation".into(), station.clone());
                    stations.insert("lastAssociatedStation".into(), station);
                }
                map.insert("station".into(), Value::Object(stations));
            }
            "presence" => {
                map.insert(
                    "presence".into(),
                    json!({
                        "source": "PURECLOUD",
                        "primary": true,
                        "presenceDefinition": { "id": "available", "systemPresence": "Available" },
                        "modifiedDate": timestamp(SystemTime::now()),
                    }),
                );
            }
            _ => {}
        }
    }
    body
}

fn routing_status_json(shared: &Shared, user: &User) -> Value {
    let world = shared.world();
    let status = if is_interacting(&world, &user.id, Instant::now()) {
        "INTERACTING"
    } else {
        user.routing_status.as_str()
    };
    json!({ "userId": user.id, "status": status, "startTime": timestamp(world.genesys_started()) })
}

impl Everything {
    /// When routing statuses last changed: the sandbox's start, or its last call.
    fn genesys_started(&self) -> SystemTime {
        self.legs
            .last()
            .map(|l| l.placed_wall)
            .unwrap_or_else(SystemTime::now)
    }
}

/// Repeated and comma-separated `expand` values.
fn query_list(query: &Option<String>, name: &str) -> Vec<String> {
    let Some(query) = query else {
        return Vec::new();
    };
    form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == name || k.strip_suffix("[]") == Some(name))
        .flat_map(|(_, v)| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

fn query_value(query: &Option<String>, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_deref()?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn users_me(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let caller = authenticate(&shared, &headers)?;
    let Principal::User(id) = caller.principal else {
        return Err(Error::not_a_user());
    };
    let user = find_user(&shared, &id).ok_or_else(Error::user_not_found)?;
    let body = user_json(&shared, user, &query_list(&query, "expand"));
    Ok(axum::Json(body).into_response())
}

async fn get_user(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Params(user_id): Params<String>,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    authenticate(&shared, &headers)?;
    let user = find_user(&shared, &user_id).ok_or_else(Error::user_not_found)?;
    let body = user_json(&shared, user, &query_list(&query, "expand"));
    Ok(axum::Json(body).into_response())
}

async fn routing_status(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Params(user_id): Params<String>,
) -> Result<Response> {
    authenticate(&shared, &headers)?;
    let body = match find_user(&shared, &user_id) {
        Some(user) => routing_status_json(&shared, user),
        // "A value of OFF_QUEUE will be returned if the specified user does not exist."
        None => json!({ "userId": user_id, "status": "OFF_QUEUE" }),
    };
    Ok(axum::Json(body).into_response())
}

// ---------------------------------------------------------------------------------------------
// Calls

/// `Destination` (no `type`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Destination {
    address: Option<String>,
    name: Option<String>,
    user_id: Option<String>,
    queue_id: Option<String>,
}

/// `CreateCallRequest`. Fields it does not have are ignored (what the real service does with
/// them is UNCONFIRMED); a body with none of the destinations is refused.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateCallRequest {
    phone_number: Option<String>,
    caller_id: Option<String>,
    call_from_queue_id: Option<String>,
    call_queue_id: Option<String>,
    call_user_id: Option<String>,
    #[serde(default)]
    attributes: Map<String, Value>,
    #[serde(default)]
    conversation_ids: Vec<String>,
    #[serde(default)]
    participants: Vec<Destination>,
    external_contact_id: Option<String>,
}

fn tel(number: &str) -> String {
    if number.starts_with("tel:") || number.starts_with("sip:") {
        number.to_owned()
    } else {
        format!("tel:{number}")
    }
}

fn valid_phone_number(number: &str) -> bool {
    let bare = number.strip_prefix("tel:").unwrap_or(number);
    bare.chars().any(|c| c.is_ascii_digit())
        && bare
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
}

async fn create_call(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let caller = authenticate(&shared, &headers)?;
    let Principal::User(user_id) = caller.principal else {
        return Err(Error::not_a_user());
    };
    let request = json_body::<CreateCallRequest>(&shared, &headers, body)
        .await?
        .ok_or(BodyError::Missing)?;
    let user = find_user(&shared, &user_id).ok_or_else(Error::user_not_found)?;
    place_call(&shared, user, &user_id, request)
}

async fn create_call_for_user(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Params(user_id): Params<String>,
    body: Body,
) -> Result<Response> {
    let caller = authenticate(&shared, &headers)?;
    let request = json_body::<CreateCallRequest>(&shared, &headers, body)
        .await?
        .ok_or(BodyError::Missing)?;
    let user = find_user(&shared, &user_id).ok_or_else(Error::user_not_found)?;
    let placed_by = match caller.principal {
        Principal::Client(client) => client,
        Principal::User(user) => user,
    };
    place_call(&shared, user, &placed_by, request)
}

fn place_call(
    shared: &Shared,
    user: &User,
    placed_by: &str,
    request: CreateCallRequest,
) -> Result<Response> {
    let destinations = [
        request.phone_number.is_some(),
        request.call_queue_id.is_some(),
        request.call_user_id.is_some(),
        !request.conversation_ids.is_empty(),
        !request.participants.is_empty(),
    ]
    .into_iter()
    .filter(|d| *d)
    .count();
    if destinations > 1 {
        return Err(Error::new(
            StatusCode::BAD_REQUEST,
            "too.many.create.conversation.parameters",
            "Only a single destination can be supplied in a create conversation request.",
        ));
    }
    if destinations == 0 {
        return Err(Error::bad_request(
            "A destination is required: phoneNumber, callQueueId, callUserId, conversationIds or participants.",
        ));
    }
    if !user.station {
        return Err(Error::no_station());
    }
    let scale = shared.config.time_scale;
    let caller_id = request.caller_id.as_deref().map(tel);
    let mut world = shared.world();
    let world = &mut *world;
    let now = Instant::now();

    // The remote parties, each with its own leg.
    let mut remotes = Vec::new();
    let mut dialed = Vec::new();
    let mut remote = |world: &mut Everything, dest: Destination| -> Result<Party> {
        let (purpose, address, outcome) = if let Some(address) = &dest.address {
            if !valid_phone_number(address) {
                return Err(Error::bad_request(format!(
                    "Invalid phone number: {address}"
                )));
            }
            dialed.push(address.clone());
            ("customer", tel(address), Outcome::for_destination(address))
        } else if let Some(id) = &dest.user_id {
            let target = find_user(shared, id).ok_or_else(Error::user_not_found)?;
            (
                "user",
                format!("sip:{}@sandbox.callplan.invalid", target.id),
                Outcome::Answer,
            )
        } else if let Some(id) = &dest.queue_id {
            (
                "acd",
                format!("sip:queue-{id}@sandbox.callplan.invalid"),
                Outcome::Answer,
            )
        } else {
            return Err(Error::bad_request(
                "A participant needs an address, userId or queueId.",
            ));
        };
        let leg = world.place(outcome, scale);
        Ok(Party {
            id: world.ids.uuid(),
            purpose,
            name: dest.name,
            dnis: (purpose == "customer").then(|| address.clone()),
            address: Some(address),
            user_id: dest.user_id,
            queue_id: dest.queue_id,
            leg,
            ani: caller_id.clone(),
            held: false,
            muted: false,
            recording: false,
            attributes: request.attributes.clone(),
        })
    };
    if let Some(number) = request.phone_number.clone() {
        remotes.push(remote(
            world,
            Destination {
                address: Some(number),
                ..Destination::default()
            },
        )?);
    } else if let Some(id) = request.call_user_id.clone() {
        remotes.push(remote(
            world,
            Destination {
                user_id: Some(id),
                ..Destination::default()
            },
        )?);
    } else if let Some(id) = request.call_queue_id.clone() {
        remotes.push(remote(
            world,
            Destination {
                queue_id: Some(id),
                ..Destination::default()
            },
        )?);
    } else if !request.participants.is_empty() {
        for dest in request.participants {
            remotes.push(remote(world, dest)?);
        }
    } else {
        // An ad-hoc conference: the other parties of existing calls move into a new one.
        for id in &request.conversation_ids {
            let conversation = world
                .genesys
                .conversations
                .get(id)
                .filter(|c| c.merged.is_none())
                .ok_or_else(Error::conversation_not_found)?;
            remotes.extend(conversation.remotes.iter().cloned());
        }
        for id in &request.conversation_ids {
            if let Some(c) = world.genesys.conversations.get_mut(id) {
                c.merged = Some(now);
            }
        }
    }

    let station_leg = world.place(Outcome::Station, scale);
    let caller = Party {
        id: world.ids.uuid(),
        purpose: "user",
        name: Some(user.name.clone()),
        address: Some(format!("sip:{}@sandbox.callplan.invalid", user.id)),
        user_id: Some(user.id.clone()),
        queue_id: request.call_from_queue_id.clone(),
        leg: station_leg,
        ani: caller_id.clone(),
        dnis: None,
        held: false,
        muted: false,
        recording: false,
        attributes: Map::new(),
    };
    let id = world.ids.uuid();
    for party in &remotes {
        if party.purpose == "customer" && dialed.iter().any(|d| party.dnis == Some(tel(d))) {
            world.ledger.push(Record {
                vendor: VendorName::Genesys,
                kind: Kind::Call,
                id: id.clone(),
                destination: party
                    .address
                    .as_deref()
                    .map(|a| a.trim_start_matches("tel:").to_owned())
                    .unwrap_or_default(),
                caller: placed_by.to_owned(),
                leg: Some(party.leg),
                placed: world.legs[party.leg].placed_wall,
            });
        }
    }
    world.genesys.conversations.insert(
        id.clone(),
        Conversation {
            id: id.clone(),
            caller,
            remotes,
            external_contact_id: request.external_contact_id,
            merged: None,
        },
    );
    let body = json!({
        "id": id,
        "selfUri": format!("/api/v2/conversations/calls/{id}"),
    });
    Ok(axum::Json(body).into_response())
}

/// Ends the caller's leg once every remote party has gone, as the platform does.
fn settle(world: &mut Everything, id: &str, now: Instant) {
    let Some(conversation) = world.genesys.conversations.get(id) else {
        return;
    };
    let ends: Option<Vec<Instant>> = conversation
        .remotes
        .iter()
        .map(|p| {
            let leg = &world.legs[p.leg];
            leg.at(now).ended.map(|(at, _)| leg.placed + at)
        })
        .collect();
    let caller_leg = conversation.caller.leg;
    if let Some(last) = ends.and_then(|e| e.into_iter().max()) {
        world.legs[caller_leg].end(last, EndReason::Peer);
    }
}

fn disconnect_type(why: EndReason) -> &'static str {
    match why {
        EndReason::Client => "client",
        EndReason::Forced => "system",
        EndReason::Peer => "peer",
        EndReason::CustomerHangup | EndReason::Busy => "endpoint",
        // UNCONFIRMED: Genesys does not document how an unanswered or failed outbound call
        // reads; `system` and `error` are the closest members of the `disconnectType` enum.
        EndReason::NoAnswer => "system",
        EndReason::Invalid => "error",
    }
}

/// The `errorInfo` of a call that failed (UNCONFIRMED codes; the sandbox's own).
fn error_info(why: EndReason) -> Option<Value> {
    let (code, message) = match why {
        EndReason::Busy => ("call.destination.busy", "The destination is busy."),
        EndReason::NoAnswer => (
            "call.destination.no.answer",
            "The destination did not answer.",
        ),
        EndReason::Invalid => (
            "call.destination.invalid",
            "The destination number is invalid or unreachable.",
        ),
        _ => return None,
    };
    Some(json!({ "code": code, "message": message }))
}

fn state_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Dialing => "dialing",
        Phase::Alerting => "alerting",
        Phase::Connected => "connected",
        Phase::Disconnected => "disconnected",
    }
}

/// A party as `CallMediaParticipant`.
fn participant_json(
    world: &Everything,
    conversation: &Conversation,
    party: &Party,
    now: Instant,
) -> Value {
    let leg = &world.legs[party.leg];
    let snapshot = leg.at(now);
    let mut map = Map::new();
    let mut put = |k: &str, v: Value| {
        map.insert(k.to_owned(), v);
    };
    put("id", json!(party.id));
    if let Some(name) = &party.name {
        put("name", json!(name));
    }
    if let Some(address) = &party.address {
        put("address", json!(address));
    }
    put("startTime", json!(timestamp(leg.placed_wall)));
    if let Some(at) = snapshot.alerting_at {
        put("startAlertingTime", json!(timestamp(leg.wall(at))));
    }
    if let Some(at) = snapshot.connected_at {
        put("connectedTime", json!(timestamp(leg.wall(at))));
    }
    let (state, ended) = match (conversation.merged, snapshot.ended) {
        // Moved into a conference: gone from this conversation.
        (Some(at), None) => ("disconnected", Some((at, "transfer.conference"))),
        (_, Some((at, why))) => (
            "disconnected",
            Some((leg.placed + at, disconnect_type(why))),
        ),
        (None, None) => (state_name(snapshot.phase), None),
    };
    if let Some((at, kind)) = ended {
        put(
            "endTime",
            json!(timestamp(
                leg.placed_wall + at.saturating_duration_since(leg.placed)
            )),
        );
        put("disconnectType", json!(kind));
    }
    put("purpose", json!(party.purpose));
    put("state", json!(state));
    put("direction", json!("outbound"));
    put("held", json!(party.held));
    put("wrapupRequired", json!(false));
    if let Some(queue) = &party.queue_id {
        put(
            "queue",
            json!({ "id": queue, "selfUri": format!("/api/v2/routing/queues/{queue}") }),
        );
    }
    if let Some(user) = &party.user_id {
        put(
            "user",
            json!({ "id": user, "selfUri": format!("/api/v2/users/{user}") }),
        );
    }
    if party.purpose == "customer"
        && let Some(contact) = &conversation.external_contact_id
    {
        put(
            "externalContact",
            json!({ "id": contact, "selfUri": format!("/api/v2/externalcontacts/contacts/{contact}") }),
        );
    }
    put("attributes", Value::Object(party.attributes.clone()));
    if let Some(info) = snapshot.ended.and_then(|(_, why)| error_info(why)) {
        put("errorInfo", info);
    }
    put("alertingTimeoutMs", json!(30_000));
    put("provider", json!("Edge"));
    put("muted", json!(party.muted));
    put("confined", json!(false));
    put("recording", json!(party.recording));
    put("recordingState", json!("none"));
    if let Some(ani) = &party.ani {
        put("ani", json!(ani));
    }
    if let Some(dnis) = &party.dnis {
        put("dnis", json!(dnis));
    }
    put("securePause", json!(false));
    Value::Object(map)
}

fn parties(conversation: &Conversation) -> impl Iterator<Item = &Party> {
    std::iter::once(&conversation.caller).chain(&conversation.remotes)
}

/// A conversation as `CallConversation`.
fn call_conversation_json(world: &Everything, conversation: &Conversation, now: Instant) -> Value {
    let participants: Vec<Value> = parties(conversation)
        .map(|p| participant_json(world, conversation, p, now))
        .collect();
    json!({
        "id": conversation.id,
        "participants": participants,
        "otherMediaUris": [],
        "recentTransfers": [],
        "recordingState": "none",
        "maxParticipants": 10,
        "securePause": false,
        "divisions": [{ "division": division(), "entities": [] }],
        "selfUri": format!("/api/v2/conversations/calls/{}", conversation.id),
    })
}

/// A conversation as the generic `Conversation` (what the PATCH answers).
fn conversation_json(world: &Everything, conversation: &Conversation, now: Instant) -> Value {
    let mut ended = None;
    let participants: Vec<Value> = parties(conversation)
        .map(|p| {
            let media = participant_json(world, conversation, p, now);
            let get = |k: &str| media.get(k).cloned().unwrap_or(Value::Null);
            if let Some(end) = media.get("endTime").and_then(Value::as_str) {
                ended = Some(
                    ended
                        .take()
                        .map_or(end.to_owned(), |e: String| e.max(end.to_owned())),
                );
            }
            json!({
                "id": get("id"),
                "startTime": get("startTime"),
                "endTime": get("endTime"),
                "connectedTime": get("connectedTime"),
                "name": get("name"),
                "userId": p.user_id,
                "queueId": p.queue_id,
                "address": get("address"),
                "ani": get("ani"),
                "dnis": get("dnis"),
                "purpose": p.purpose,
                "wrapupRequired": false,
                "attributes": get("attributes"),
                "calls": [{
                    "id": format!("{}-call", p.id),
                    "state": get("state"),
                    "direction": "outbound",
                    "recording": p.recording,
                    "recordingState": "none",
                    "muted": p.muted,
                    "confined": false,
                    "held": p.held,
                    "disconnectType": get("disconnectType"),
                    "connectedTime": get("connectedTime"),
                    "disconnectedTime": get("endTime"),
                    "provider": "Edge",
                }],
            })
        })
        .collect();
    let start = timestamp(world.legs[conversation.caller.leg].placed_wall);
    let all_ended = participants
        .iter()
        .all(|p| p.get("endTime") != Some(&Value::Null));
    without_nulls(json!({
        "id": conversation.id,
        "startTime": start,
        "endTime": if all_ended { json!(ended) } else { Value::Null },
        "participants": participants,
        "recordingState": "none",
        "divisions": [{ "division": division(), "entities": [] }],
        "selfUri": format!("/api/v2/conversations/{}", conversation.id),
    }))
}

/// Drops `null` members: the SDKs choke on a null enum, and the platform omits what is unset.
fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

async fn get_call(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Params(id): Params<String>,
) -> Result<Response> {
    authenticate(&shared, &headers)?;
    let now = Instant::now();
    let mut world = shared.world();
    settle(&mut world, &id, now);
    let conversation = world
        .genesys
        .conversations
        .get(&id)
        .ok_or_else(Error::conversation_not_found)?;
    let body = call_conversation_json(&world, conversation, now);
    Ok(axum::Json(body).into_response())
}

async fn list_calls(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Result<Response> {
    let caller = authenticate(&shared, &headers)?;
    let Principal::User(user_id) = caller.principal else {
        return Err(Error::not_a_user());
    };
    let now = Instant::now();
    let mut world = shared.world();
    let ids: Vec<String> = world.genesys.conversations.keys().cloned().collect();
    for id in &ids {
        settle(&mut world, id, now);
    }
    let mut active: Vec<&Conversation> = world
        .genesys
        .conversations
        .values()
        .filter(|c| {
            c.merged.is_none()
                && c.caller.user_id.as_deref() == Some(user_id.as_str())
                && world.legs[c.caller.leg].at(now).phase != Phase::Disconnected
        })
        .collect();
    active.sort_by_key(|c| world.legs[c.caller.leg].placed);
    let entities: Vec<Value> = active
        .iter()
        .map(|c| call_conversation_json(&world, c, now))
        .collect();
    let body = json!({
        "entities": entities,
        "pageSize": 25,
        "pageNumber": 1,
        "total": entities.len(),
        "pageCount": 1,
        "firstUri": "/api/v2/conversations/calls?pageSize=25&pageNumber=1",
        "selfUri": "/api/v2/conversations/calls?pageSize=25&pageNumber=1",
        "lastUri": "/api/v2/conversations/calls?pageSize=25&pageNumber=1",
    });
    Ok(axum::Json(body).into_response())
}

/// `{"state": "disconnected"}` (`Conversation` on update).
#[derive(Debug, Deserialize)]
struct StateUpdate {
    state: Option<String>,
}

async fn patch_call(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Params(id): Params<String>,
    body: Body,
) -> Result<Response> {
    let caller = authenticate(&shared, &headers)?;
    let Principal::User(user_id) = caller.principal else {
        return Err(Error::not_a_user());
    };
    let update = json_body::<StateUpdate>(&shared, &headers, body)
        .await?
        .ok_or(BodyError::Missing)?;
    if update.state.as_deref() != Some("disconnected") {
        return Err(Error::bad_request(
            "On update, 'disconnected' will disconnect the conversation. No other values are valid.",
        ));
    }
    let now = Instant::now();
    let mut world = shared.world();
    settle(&mut world, &id, now);
    let conversation = world
        .genesys
        .conversations
        .get(&id)
        .cloned()
        .ok_or_else(Error::conversation_not_found)?;
    if !parties(&conversation).any(|p| p.user_id.as_deref() == Some(user_id.as_str())) {
        return Err(Error::new(
            StatusCode::FORBIDDEN,
            "conversation.error.forbidden.not.active.participant",
            "The user is not an active participant in the conversation.",
        ));
    }
    // The user hangs up: the other parties go with them. Hanging up an ended call changes
    // nothing (UNCONFIRMED: SW18 lists no error for it on this endpoint).
    if world.legs[conversation.caller.leg].end(now, EndReason::Client) {
        for party in &conversation.remotes {
            world.legs[party.leg].end(now, EndReason::Peer);
        }
    }
    drop(world);
    shared.changed.notify_waiters();
    let world = shared.world();
    let body = conversation_json(&world, &conversation, now);
    Ok((StatusCode::ACCEPTED, axum::Json(body)).into_response())
}

/// `MediaParticipantRequest`: the sandbox acts on `state`, `held`, `muted` and `recording`; the
/// other fields (wrap-up, `confined`, …) are accepted and ignored.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ParticipantUpdate {
    state: Option<String>,
    held: Option<bool>,
    muted: Option<bool>,
    recording: Option<bool>,
}

/// `PATCH /conversations/calls/{id}/participants/{pid}`: a user's request (400 `not.a.user` to
/// client credentials).
async fn patch_participant(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Params((id, participant_id)): Params<(String, String)>,
    body: Body,
) -> Result<StatusCode> {
    let caller = authenticate(&shared, &headers)?;
    let Principal::User(_) = caller.principal else {
        return Err(Error::not_a_user());
    };
    update_participant(&shared, &headers, &id, &participant_id, body).await
}

/// `PATCH /conversations/{id}/participants/{pid}`, the generic participant update: client
/// credentials may use it (Genesys's own client-credentials data actions hang up with it).
async fn patch_any_participant(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Params((id, participant_id)): Params<(String, String)>,
    body: Body,
) -> Result<StatusCode> {
    authenticate(&shared, &headers)?;
    update_participant(&shared, &headers, &id, &participant_id, body).await
}

/// `PATCH /conversations/calls/{id}/participants/{pid}/user/{userId}`, "on behalf of a user"
/// (in the SDK since 241.0.0). UNCONFIRMED: whether client credentials may use it; it shares
/// `conversation:agentlessCall:add` with `calls/user/{userId}`, so the sandbox allows them, and
/// the user must be the conversation's caller (404 `not.found` otherwise, as a user reported).
async fn patch_participant_for_user(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Params((id, participant_id, user_id)): Params<(String, String, String)>,
    body: Body,
) -> Result<StatusCode> {
    authenticate(&shared, &headers)?;
    {
        let world = shared.world();
        let conversation = world
            .genesys
            .conversations
            .get(&id)
            .ok_or_else(Error::conversation_not_found)?;
        if conversation.caller.user_id.as_deref() != Some(user_id.as_str()) {
            return Err(Error::new(
                StatusCode::NOT_FOUND,
                "not.found",
                format!("User {user_id} is not a participant in the conversation."),
            ));
        }
    }
    update_participant(&shared, &headers, &id, &participant_id, body).await
}

/// Applies a `MediaParticipantRequest` to one participant.
async fn update_participant(
    shared: &Shared,
    headers: &HeaderMap,
    id: &str,
    participant_id: &str,
    body: Body,
) -> Result<StatusCode> {
    let update = json_body::<ParticipantUpdate>(shared, headers, body)
        .await?
        .ok_or(BodyError::Missing)?;
    let now = Instant::now();
    let mut world = shared.world();
    settle(&mut world, id, now);
    let world = &mut *world;
    let conversation = world
        .genesys
        .conversations
        .get_mut(id)
        .ok_or_else(Error::conversation_not_found)?;
    let is_caller = conversation.caller.id == participant_id;
    let party = if is_caller {
        &mut conversation.caller
    } else {
        conversation
            .remotes
            .iter_mut()
            .find(|p| p.id == participant_id)
            .ok_or_else(|| {
                Error::new(
                    StatusCode::NOT_FOUND,
                    "conversation.error.not.conversation.participant",
                    "The participant is not part of the conversation.",
                )
            })?
    };
    let leg = party.leg;
    let up = conversation.merged.is_none() && world.legs[leg].at(now).phase != Phase::Disconnected;
    if !up {
        return Err(Error::new(
            StatusCode::BAD_REQUEST,
            "conversation.error.call.disconnected",
            "The call is already disconnected.",
        ));
    }
    if let Some(held) = update.held {
        party.held = held;
    }
    if let Some(muted) = update.muted {
        party.muted = muted;
    }
    if let Some(recording) = update.recording {
        party.recording = recording;
    }
    match update.state.as_deref() {
        None | Some("connected") => {}
        Some("disconnected") => {
            let others: Vec<usize> = if is_caller {
                conversation.remotes.iter().map(|p| p.leg).collect()
            } else {
                Vec::new()
            };
            world.legs[leg].end(now, EndReason::Client);
            for other in others {
                world.legs[other].end(now, EndReason::Peer);
            }
            shared.changed.notify_waiters();
        }
        Some(other) => {
            return Err(Error::bad_request(format!(
                "Value [{other}] is not valid for field type [state]. Allowable values are: connected, disconnected"
            )));
        }
    }
    Ok(StatusCode::ACCEPTED)
}

async fn teardown(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Params(id): Params<String>,
) -> Result<Response> {
    authenticate(&shared, &headers)?;
    let now = Instant::now();
    {
        let mut world = shared.world();
        let world = &mut *world;
        let conversation = world
            .genesys
            .conversations
            .get(&id)
            .ok_or_else(Error::conversation_not_found)?;
        for party in parties(conversation) {
            world.legs[party.leg].end(now, EndReason::Forced);
        }
    }
    shared.changed.notify_waiters();
    // The response is a JSON string; "Accepted" is its documented description (the body's
    // exact text is UNCONFIRMED).
    Ok((StatusCode::ACCEPTED, axum::Json(json!("Accepted"))).into_response())
}

// ---------------------------------------------------------------------------------------------
// Callbacks

/// `CreateCallbackCommand`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateCallback {
    #[serde(default)]
    callback_numbers: Vec<String>,
    queue_id: Option<String>,
    routing_data: Option<Value>,
    callback_scheduled_time: Option<String>,
    caller_id: Option<String>,
}

async fn create_callback(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let caller = authenticate(&shared, &headers)?;
    let command = json_body::<CreateCallback>(&shared, &headers, body)
        .await?
        .ok_or(BodyError::Missing)?;
    if command.callback_numbers.is_empty() {
        return Err(Error::new(
            StatusCode::BAD_REQUEST,
            "callback.error.missing.callback.numbers",
            "At least one callback number is required.",
        ));
    }
    if command.queue_id.is_none() && command.routing_data.is_none() {
        return Err(Error::new(
            StatusCode::BAD_REQUEST,
            "callback.error.missing.queue.id",
            "Either queueId or routingData is required.",
        ));
    }
    if let Some(when) = &command.callback_scheduled_time
        && humantime::parse_rfc3339_weak(when.trim_end_matches('Z')).is_err()
    {
        return Err(Error::new(
            StatusCode::BAD_REQUEST,
            "invalid.date",
            "Dates must be specified as ISO-8601 strings. For example: yyyy-MM-ddTHH:mm:ss.SSSZ",
        ));
    }
    if let Some(bad) = command
        .callback_numbers
        .iter()
        .chain(&command.caller_id)
        .find(|n| !valid_phone_number(n))
    {
        return Err(Error::bad_request(format!("Invalid phone number: {bad}")));
    }
    let placed_by = match caller.principal {
        Principal::Client(c) => c,
        Principal::User(u) => u,
    };
    let mut world = shared.world();
    let conversation_id = world.ids.uuid();
    let callback_id = world.ids.uuid();
    for number in &command.callback_numbers {
        world.ledger.push(Record {
            vendor: VendorName::Genesys,
            kind: Kind::Callback,
            id: conversation_id.clone(),
            destination: number.clone(),
            caller: placed_by.clone(),
            leg: None,
            placed: SystemTime::now(),
        });
    }
    let body = json!({
        "conversation": {
            "id": conversation_id,
            "selfUri": format!("/api/v2/conversations/{conversation_id}"),
        },
        // UNCONFIRMED: the identifier types are not documented; EXTERNAL names the callback.
        "callbackIdentifiers": [{ "type": "EXTERNAL", "id": callback_id }],
    });
    Ok(axum::Json(body).into_response())
}

// ---------------------------------------------------------------------------------------------
// External contacts

const NAME_FIELDS: &[&str] = &["firstName", "middleName", "lastName", "salutation", "title"];
const PHONE_FIELDS: &[&str] = &["workPhone", "cellPhone", "homePhone", "otherPhone"];
const EMAIL_FIELDS: &[&str] = &["workEmail", "personalEmail", "otherEmail"];
const OTHER_FIELDS: &[&str] = &[
    "address",
    "twitterId",
    "lineId",
    "whatsAppId",
    "facebookId",
    "instagramId",
    "appleOpaqueIds",
    "externalIds",
    "identifiers",
    "externalOrganization",
    "surveyOptOut",
    "externalSystemUrl",
    "schema",
    "customFields",
    "externalDataSources",
];

/// Checks and normalizes an `ExternalContact` body, keeping only the model's fields.
fn clean_contact(body: Value) -> Result<Map<String, Value>> {
    let Value::Object(input) = body else {
        return Err(Error::bad_request("An ExternalContact object is required."));
    };
    let mut out = Map::new();
    for field in NAME_FIELDS {
        match input.get(*field) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => {
                let s = s.trim();
                if s.chars().count() > 1000 {
                    return Err(Error::bad_request(format!(
                        "{field} is longer than 1000 characters."
                    )));
                }
                out.insert((*field).into(), json!(s));
            }
            Some(_) => return Err(Error::bad_request(format!("{field} must be a string."))),
        }
    }
    for field in EMAIL_FIELDS {
        match input.get(*field) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => {
                let valid = s.len() <= 256
                    && s.split_once('@')
                        .is_some_and(|(a, b)| !a.is_empty() && b.contains('.'));
                if !valid {
                    return Err(Error::bad_request(format!(
                        "{field} must be a valid email address of at most 256 characters."
                    )));
                }
                out.insert((*field).into(), json!(s));
            }
            Some(_) => return Err(Error::bad_request(format!("{field} must be a string."))),
        }
    }
    for field in PHONE_FIELDS {
        match input.get(*field) {
            None | Some(Value::Null) => {}
            Some(Value::Object(phone)) => {
                out.insert((*field).into(), clean_phone(field, phone)?);
            }
            Some(_) => {
                return Err(Error::bad_request(format!(
                    "{field} must be a PhoneNumber object."
                )));
            }
        }
    }
    for field in OTHER_FIELDS {
        if let Some(value) = input.get(*field).filter(|v| !v.is_null()) {
            out.insert((*field).into(), value.clone());
        }
    }
    Ok(out)
}

/// A `PhoneNumber`: `display` is the input; `userInput`, `e164` and `countryCode` are set
/// when it parses.
fn clean_phone(field: &str, phone: &Map<String, Value>) -> Result<Value> {
    let display = match phone.get("display") {
        Some(Value::String(s)) if s.len() <= 512 => s.clone(),
        None | Some(Value::Null) => String::new(),
        Some(_) => {
            return Err(Error::bad_request(format!(
                "{field}.display must be a string of at most 512 characters."
            )));
        }
    };
    let mut out = Map::new();
    out.insert("display".into(), json!(display));
    // The model spells it `acceptsSMS` (the SDK's attribute map); `acceptsSms` is read too.
    for (key, from) in [
        ("extension", "extension"),
        ("acceptsSMS", "acceptsSMS"),
        ("acceptsSMS", "acceptsSms"),
        ("normalizationCountryCode", "normalizationCountryCode"),
    ] {
        if let Some(v) = phone.get(from).filter(|v| !v.is_null()) {
            out.insert(key.into(), v.clone());
        }
    }
    if !display.is_empty() {
        out.insert("userInput".into(), json!(display));
    }
    if let Some(e164) = crate::phone::normalize(&display) {
        // UNCONFIRMED: whether `countryCode` holds a region ("US") or a calling code; the field
        // is at most four characters, and the sandbox writes the region.
        let region = phonenumber::parse(None, &e164)
            .ok()
            .and_then(|n| n.country().id())
            .map(|id| format!("{id:?}"));
        out.insert("e164".into(), json!(e164));
        if let Some(region) = region {
            out.insert("countryCode".into(), json!(region));
        }
    }
    Ok(Value::Object(out))
}

fn stamp_contact(id: &str, created: &str, mut contact: Map<String, Value>) -> Map<String, Value> {
    contact.insert("id".into(), json!(id));
    contact.insert("division".into(), division());
    contact.insert("createDate".into(), json!(created));
    contact.insert("modifyDate".into(), json!(timestamp(SystemTime::now())));
    // UNCONFIRMED: a contact created through the API with a name is taken to be curated.
    contact.insert("type".into(), json!("Curated"));
    contact.insert(
        "selfUri".into(),
        json!(format!("/api/v2/externalcontacts/contacts/{id}")),
    );
    contact
}

async fn create_contact(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    authenticate(&shared, &headers)?;
    let body = json_body::<Value>(&shared, &headers, body)
        .await?
        .ok_or(BodyError::Missing)?;
    let contact = clean_contact(body)?;
    let mut world = shared.world();
    let id = world.ids.uuid();
    let contact = stamp_contact(&id, &timestamp(SystemTime::now()), contact);
    world.genesys.contacts.insert(id, contact.clone());
    // 200, not 201 (reference §4.1).
    Ok(axum::Json(Value::Object(contact)).into_response())
}

async fn get_contact(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Params(id): Params<String>,
) -> Result<Response> {
    authenticate(&shared, &headers)?;
    let world = shared.world();
    let contact = world
        .genesys
        .contacts
        .get(&id)
        .ok_or_else(Error::contact_not_found)?;
    Ok(axum::Json(Value::Object(contact.clone())).into_response())
}

async fn update_contact(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Params(id): Params<String>,
    body: Body,
) -> Result<Response> {
    authenticate(&shared, &headers)?;
    let body = json_body::<Value>(&shared, &headers, body)
        .await?
        .ok_or(BodyError::Missing)?;
    let contact = clean_contact(body)?;
    let mut world = shared.world();
    let created = world
        .genesys
        .contacts
        .get(&id)
        .ok_or_else(Error::contact_not_found)?
        .get("createDate")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let contact = stamp_contact(&id, &created, contact);
    world.genesys.contacts.insert(id, contact.clone());
    Ok(axum::Json(Value::Object(contact)).into_response())
}

async fn delete_contact(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Params(id): Params<String>,
) -> Result<Response> {
    authenticate(&shared, &headers)?;
    let mut world = shared.world();
    world
        .genesys
        .contacts
        .shift_remove(&id)
        .ok_or_else(Error::contact_not_found)?;
    // UNCONFIRMED: the SDK's return type is `object`; an empty one is answered.
    Ok(axum::Json(json!({})).into_response())
}

fn parse_positive(query: &Option<String>, name: &str, default: u64) -> Result<u64> {
    match query_value(query, name) {
        None => Ok(default),
        Some(text) => text.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
            Error::new(
                StatusCode::BAD_REQUEST,
                "invalid.value",
                format!("Value [{text}] is not valid for field type [{name}]. Allowable values are: positive integers"),
            )
        }),
    }
}

fn contact_text(contact: &Map<String, Value>) -> String {
    let mut text = String::new();
    for field in NAME_FIELDS.iter().chain(EMAIL_FIELDS) {
        if let Some(s) = contact.get(*field).and_then(Value::as_str) {
            text.push_str(s);
            text.push(' ');
        }
    }
    for field in PHONE_FIELDS {
        if let Some(phone) = contact.get(*field) {
            for key in ["display", "e164"] {
                if let Some(s) = phone.get(key).and_then(Value::as_str) {
                    text.push_str(s);
                    text.push(' ');
                }
            }
        }
    }
    text.to_lowercase()
}

async fn search_contacts(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    authenticate(&shared, &headers)?;
    let page_size = parse_positive(&query, "pageSize", 20)?;
    let page_number = parse_positive(&query, "pageNumber", 1)?;
    if page_size.saturating_mul(page_number) > 1000 {
        return Err(Error::bad_request("pageNumber * pageSize must be <= 1,000"));
    }
    let q = query_value(&query, "q").map(|q| q.to_lowercase());
    let sort = query_value(&query, "sortOrder");
    let sort = match sort.as_deref() {
        None => None,
        Some(s) => {
            let (field, direction) = s.split_once(':').unwrap_or((s, "asc"));
            let fields = ["firstName", "lastName", "middleName", "title"];
            if !fields.contains(&field) || !["asc", "desc"].contains(&direction) {
                return Err(Error::new(
                    StatusCode::BAD_REQUEST,
                    "invalid.value",
                    format!(
                        "Value [{s}] is not valid for field type [sortOrder]. Allowable values are: firstName, lastName, middleName, title, each with :asc or :desc"
                    ),
                ));
            }
            Some((field.to_owned(), direction == "desc"))
        }
    };
    let world = shared.world();
    // UNCONFIRMED: the real matching rules of `q`; the sandbox matches words against names,
    // emails and phone numbers, case-insensitively.
    let mut matches: Vec<&Map<String, Value>> = world
        .genesys
        .contacts
        .values()
        .filter(|c| {
            q.as_deref().is_none_or(|q| {
                let text = contact_text(c);
                q.split_whitespace().all(|word| text.contains(word))
            })
        })
        .collect();
    if let Some((field, desc)) = &sort {
        let key = |c: &&Map<String, Value>| {
            c.get(field)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_lowercase()
        };
        matches.sort_by_key(key);
        if *desc {
            matches.reverse();
        }
    }
    let total = matches.len() as u64;
    let page_count = total.div_ceil(page_size);
    let start = ((page_number - 1) * page_size) as usize;
    let entities: Vec<Value> = matches
        .iter()
        .skip(start)
        .take(page_size as usize)
        .map(|c| Value::Object((*c).clone()))
        .collect();
    let mut extra = String::new();
    if let Some(q) = query_value(&query, "q") {
        extra.push_str("&q=");
        extra.extend(form_urlencoded::byte_serialize(q.as_bytes()));
    }
    if let Some(s) = query_value(&query, "sortOrder") {
        extra.push_str("&sortOrder=");
        extra.extend(form_urlencoded::byte_serialize(s.as_bytes()));
    }
    let uri = |n: u64| {
        format!("/api/v2/externalcontacts/contacts?pageSize={page_size}&pageNumber={n}{extra}")
    };
    let mut body = json!({
        "entities": entities,
        "pageSize": page_size,
        "pageNumber": page_number,
        "total": total,
        "partialResults": false,
        "firstUri": uri(1),
        "selfUri": uri(page_number),
        "lastUri": uri(page_count.max(1)),
        "pageCount": page_count,
    });
    if let Some(map) = body.as_object_mut() {
        if page_number < page_count {
            map.insert("nextUri".into(), json!(uri(page_number + 1)));
        }
        if page_number > 1 {
            map.insert("previousUri".into(), json!(uri(page_number - 1)));
        }
    }
    Ok(axum::Json(body).into_response())
}

/// How long until a token expires, for tests.
#[cfg(test)]
fn lifetime(shared: &Shared, token: &str) -> Option<std::time::Duration> {
    let world = shared.world();
    let issued = world.genesys.tokens.get(token)?;
    Some(issued.expires.saturating_duration_since(Instant::now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_checked_loosely_as_the_platform_does() {
        assert!(valid_phone_number("+13175550100"));
        assert!(valid_phone_number("tel:+1 (317) 555-0100"));
        assert!(!valid_phone_number("call me"));
        assert!(!valid_phone_number(""));
    }

    #[test]
    fn external_contacts_keep_model_fields_and_fill_phone_numbers() {
        let contact = clean_contact(json!({
            "firstName": "  Ada ",
            "cellPhone": { "display": "+13175550100" },
            "to": "ignored",
        }))
        .unwrap();
        assert_eq!(contact["firstName"], "Ada");
        assert_eq!(contact["cellPhone"]["e164"], "+13175550100");
        assert_eq!(contact["cellPhone"]["userInput"], "+13175550100");
        assert_eq!(contact["cellPhone"]["countryCode"], "US");
        assert!(!contact.contains_key("to"));
        assert!(clean_contact(json!({ "workEmail": "nope" })).is_err());
        assert!(clean_contact(json!({ "firstName": 7 })).is_err());
        assert!(clean_contact(json!([])).is_err());
    }

    #[test]
    fn tokens_live_as_configured() {
        let shared = Shared::new(super::super::Config::default(), ([127, 0, 0, 1], 1).into());
        shared.world().genesys.tokens.insert(
            "t".into(),
            Issued {
                client_id: "c".into(),
                expires: Instant::now() + std::time::Duration::from_secs(60),
            },
        );
        let left = lifetime(&shared, "t").unwrap();
        assert!(left > std::time::Duration::from_secs(59));
    }
}
