//! The sandbox: a local emulator of the Genesys Cloud and NICE CXone endpoints callplan uses.
//!
//! It speaks the vendors' paths, methods, status codes, bodies, headers and error shapes (see
//! `shared/reference/` and `docs/sandbox.md`), plays scripted outcomes by destination number,
//! injects configured faults and keeps a ledger of every call it placed. `callplan sandbox`
//! serves it; [`Sandbox::start`] starts one on a random loopback port for tests and for
//! `callplan run --sandbox`.
//!
//! - [`config`]: what the sandbox can be told;
//! - [`script`]: call timelines by destination;
//! - `genesys`, `cxone`: the two vendors' endpoints (`iso`: the ISO-8601 times their queries
//!   take);
//! - `faults`, `limit`: fault injection and rate limits;
//! - `ledger`: the calls placed, and the `/_sandbox` endpoints; `requests`: the request log;
//! - `http`: a generic echo API and OAuth2 token endpoint standing in for `http` providers.

pub mod config;
mod cxone;
mod faults;
mod genesys;
mod http;
mod iso;
mod ledger;
mod limit;
mod requests;
pub mod script;
mod serve;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt as _;
use serde::de::DeserializeOwned;
use tokio::sync::{Notify, watch};

pub use config::Config;
pub use http::{HTTP_ECHO_PREFIX, OAUTH2_TOKEN_PATH};
pub use ledger::LedgerEntry;

/// Which vendor a path belongs to; it decides the error shape of anything that goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Vendor {
    /// `/api/v2/…`: Genesys Cloud's Platform API.
    Genesys,
    /// `/oauth/…`: Genesys Cloud's login host.
    GenesysLogin,
    /// `/inContactAPI/…`, `/InContactAuthorizationServer/…`, `/auth/…`, `/.well-known/…`: NICE
    /// CXone (paths already made canonical, see `cxone::paths`).
    Cxone,
    /// `/_sandbox/…` and anything else.
    Sandbox,
}

impl Vendor {
    fn of(path: &str) -> Vendor {
        if path.starts_with("/api/") {
            Vendor::Genesys
        } else if path.starts_with("/oauth/") {
            Vendor::GenesysLogin
        } else if path.starts_with("/inContactAPI/")
            || path.starts_with(cxone::paths::AUTHORIZATION_SERVER)
            || path.starts_with("/auth/")
            || path.starts_with("/.well-known/")
        {
            Vendor::Cxone
        } else {
            Vendor::Sandbox
        }
    }

    /// The vendor's generic error for a status (unknown routes, faults, oversized bodies…).
    fn error(self, status: StatusCode) -> Response {
        match self {
            Vendor::Genesys => genesys::Error::for_status(status).into_response(),
            Vendor::GenesysLogin => {
                genesys::LoginError::new(status, "invalid_request", canonical(status))
                    .into_response()
            }
            Vendor::Cxone => cxone::Error::for_status(status).into_response(),
            Vendor::Sandbox => (
                status,
                axum::Json(serde_json::json!({ "error": canonical(status) })),
            )
                .into_response(),
        }
    }

    /// A fault's own error, in the vendor's shape.
    fn custom_error(self, status: StatusCode, e: &config::FaultError) -> Response {
        let message = e
            .message
            .clone()
            .unwrap_or_else(|| canonical(status).to_owned());
        let code = e.code.clone().unwrap_or_else(|| "bad.request".to_owned());
        match self {
            Vendor::Genesys => {
                let mut filled = message.clone();
                for (name, value) in &e.message_params {
                    let value = value
                        .as_str()
                        .map_or_else(|| value.to_string(), str::to_owned);
                    filled = filled.replace(&format!("{{{name}}}"), &value);
                }
                let mut body = serde_json::json!({
                    "message": filled,
                    "code": code,
                    "status": status.as_u16(),
                    "contextId": uuid::Uuid::new_v4().to_string(),
                    "details": e.details,
                    "errors": [],
                });
                if !e.message_params.is_empty()
                    && let Some(map) = body.as_object_mut()
                {
                    map.insert("messageWithParams".into(), message.into());
                    map.insert(
                        "messageParams".into(),
                        serde_json::Value::Object(e.message_params.clone()),
                    );
                }
                (status, axum::Json(body)).into_response()
            }
            Vendor::Cxone | Vendor::GenesysLogin | Vendor::Sandbox => {
                let body = serde_json::json!({ "error": code, "error_description": message });
                let mut response = (status, axum::Json(body)).into_response();
                if let Some(description) = e
                    .status_description
                    .as_deref()
                    .and_then(|d| axum::http::HeaderValue::from_str(d).ok())
                {
                    response
                        .headers_mut()
                        .insert("icStatusDescription", description);
                }
                response
            }
        }
    }

    /// The vendor's error for a status on one route: the generic one, unless the route has its
    /// own (a 403 on a route that needs permissions names them).
    fn error_on(self, status: StatusCode, method: &Method, path: &str) -> Response {
        let own = match self {
            Vendor::Genesys => genesys::analytics::permission_error(status, method, path),
            _ => None,
        };
        own.unwrap_or_else(|| self.error(status))
    }
}

fn canonical(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Error")
}

/// Every route the sandbox serves, as `METHOD path`; fault routes are checked against it.
const ROUTES: &[(&str, &str)] = &[
    ("POST", "/oauth/token"),
    ("GET", "/api/v2/tokens/me"),
    ("HEAD", "/api/v2/tokens/me"),
    ("DELETE", "/api/v2/tokens/me"),
    ("GET", "/api/v2/users/me"),
    ("GET", "/api/v2/conversations/calls"),
    ("POST", "/api/v2/conversations/calls"),
    ("POST", "/api/v2/conversations/calls/user/{userId}"),
    ("GET", "/api/v2/conversations/calls/{conversationId}"),
    ("PATCH", "/api/v2/conversations/calls/{conversationId}"),
    (
        "PATCH",
        "/api/v2/conversations/{conversationId}/participants/{participantId}",
    ),
    (
        "PATCH",
        "/api/v2/conversations/calls/{conversationId}/participants/{participantId}/user/{userId}",
    ),
    (
        "PATCH",
        "/api/v2/conversations/calls/{conversationId}/participants/{participantId}",
    ),
    ("POST", "/api/v2/conversations/{conversationId}/disconnect"),
    ("POST", "/api/v2/conversations/callbacks"),
    ("GET", "/api/v2/externalcontacts/contacts"),
    ("POST", "/api/v2/externalcontacts/contacts"),
    ("GET", "/api/v2/externalcontacts/contacts/{contactId}"),
    ("PUT", "/api/v2/externalcontacts/contacts/{contactId}"),
    ("DELETE", "/api/v2/externalcontacts/contacts/{contactId}"),
    ("GET", "/api/v2/users/{userId}"),
    ("GET", "/api/v2/users/{userId}/routingstatus"),
    ("POST", "/api/v2/analytics/conversations/details/query"),
    ("GET", "/.well-known/openid-configuration"),
    ("GET", "/.well-known/cxone-configuration"),
    ("GET", "/auth/authorize"),
    ("POST", "/auth/token"),
    ("GET", "/auth/jwks"),
    ("POST", cxone::paths::WHOAMI),
    ("POST", "/inContactAPI/services/{version}/agent-sessions"),
    (
        "POST",
        "/inContactAPI/services/{version}/agent-sessions/join",
    ),
    (
        "DELETE",
        "/inContactAPI/services/{version}/agent-sessions/{sessionId}",
    ),
    (
        "POST",
        "/inContactAPI/services/{version}/agent-sessions/{sessionId}/dial-phone",
    ),
    (
        "GET",
        "/inContactAPI/services/{version}/agent-sessions/{sessionId}/get-next-event",
    ),
    (
        "POST",
        "/inContactAPI/services/{version}/agent-sessions/{sessionId}/interactions/{contactId}/end",
    ),
    ("GET", "/inContactAPI/services/{version}/contacts/active"),
    ("GET", "/inContactAPI/services/{version}/contacts/completed"),
    (
        "GET",
        "/inContactAPI/services/{version}/contacts/{contactId}",
    ),
    (
        "POST",
        "/inContactAPI/services/{version}/contacts/{contactId}/end",
    ),
    ("POST", "/inContactAPI/services/{version}/queuecallback"),
    ("POST", "/inContactAPI/services/{version}/scripts/start"),
    (
        "GET",
        "/inContactAPI/services/{version}/agents/{agentId}/agent-settings",
    ),
    (
        "GET",
        "/inContactAPI/services/{version}/agents/{agentId}/indicators",
    ),
    ("GET", "/inContactAPI/services/{version}/business-unit"),
    ("GET", "/inContactAPI/services/{version}/server-time"),
    ("GET", "/inContactAPI/services/{version}/skills/{skillId}"),
    (
        "GET",
        "/inContactAPI/services/{version}/skills/{skillId}/dispositions",
    ),
    (
        "GET",
        "/inContactAPI/services/{version}/skills/{skillId}/tags",
    ),
    ("GET", "/_sandbox/calls"),
    ("GET", "/_sandbox/requests"),
    ("POST", "/_sandbox/reset"),
    ("GET", "/_sandbox/faults"),
    ("POST", "/_sandbox/faults"),
    // The echo API answers any method, under any path.
    ("*", "/_sandbox/http/{*rest}"),
    ("POST", "/_sandbox/oauth2/token"),
];

/// Deterministic ids: the same seed and the same sequence of requests give the same ids.
#[derive(Debug)]
struct Ids {
    seed: u64,
    next: u64,
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Ids {
    fn new(seed: u64) -> Ids {
        Ids { seed, next: 0 }
    }

    fn bytes(&mut self) -> [u8; 16] {
        self.next += 1;
        let a = splitmix(self.seed ^ self.next.wrapping_mul(0xD6E8_FEB8_6659_FD93));
        let b = splitmix(a);
        let mut out = [0; 16];
        out[..8].copy_from_slice(&a.to_le_bytes());
        out[8..].copy_from_slice(&b.to_le_bytes());
        out
    }

    /// A version-4-shaped UUID.
    fn uuid(&mut self) -> String {
        uuid::Builder::from_random_bytes(self.bytes())
            .into_uuid()
            .to_string()
    }

    /// An opaque token of 43 URL-safe characters (256 bits), like real access tokens.
    fn token(&mut self) -> String {
        use base64::Engine as _;
        let mut raw = [0u8; 32];
        raw[..16].copy_from_slice(&self.bytes());
        raw[16..].copy_from_slice(&self.bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }
}

/// Everything that changes while the sandbox runs.
#[derive(Debug)]
struct World {
    ids: Ids,
    legs: Vec<script::Leg>,
    genesys: genesys::World,
    cxone: cxone::World,
    ledger: Vec<ledger::Record>,
}

impl World {
    fn new(config: &Config) -> World {
        World {
            ids: Ids::new(config.seed),
            legs: Vec::new(),
            genesys: genesys::World::default(),
            cxone: cxone::World::default(),
            ledger: Vec::new(),
        }
    }

    /// Places a call leg; returns its index in `legs`.
    fn place(&mut self, outcome: script::Outcome, scale: f64) -> usize {
        self.legs.push(script::Leg::new(outcome, scale));
        self.legs.len() - 1
    }
}

/// State shared by every request.
#[derive(Debug)]
struct Shared {
    config: Config,
    /// Where it listens (for absolute URLs when a client sends no `Host`).
    addr: SocketAddr,
    world: Mutex<World>,
    faults: Mutex<Vec<faults::Armed>>,
    limits: limit::Limits,
    /// Woken whenever calls or sessions change, for CXone's long polls.
    changed: Notify,
    correlation: AtomicU64,
    /// The last requests answered.
    requests: requests::Log,
}

impl Shared {
    fn new(config: Config, addr: SocketAddr) -> Shared {
        Shared {
            addr,
            world: Mutex::new(World::new(&config)),
            faults: Mutex::new(faults::arm(&config.faults)),
            limits: limit::Limits::new(&config),
            changed: Notify::new(),
            correlation: AtomicU64::new(0),
            requests: requests::Log::default(),
            config,
        }
    }

    /// The world, even if a panicking request poisoned the lock: its state stays consistent
    /// because every change is made under one lock acquisition.
    fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn reset(&self) {
        *self.world() = World::new(&self.config);
        *self.faults.lock().unwrap_or_else(PoisonError::into_inner) =
            faults::arm(&self.config.faults);
        self.limits.reset();
        self.requests.clear();
        self.changed.notify_waiters();
    }

    fn next_correlation_id(&self) -> String {
        let n = self.correlation.fetch_add(1, Ordering::Relaxed) + 1;
        let a = splitmix(self.config.seed ^ n ^ 0xC0AA_E1A7_1000_0000);
        let b = splitmix(a);
        let mut bytes = [0; 16];
        bytes[..8].copy_from_slice(&a.to_le_bytes());
        bytes[8..].copy_from_slice(&b.to_le_bytes());
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }
}

/// What the current request is, for errors built deep inside handlers.
#[derive(Debug, Clone)]
struct RequestContext {
    correlation_id: String,
}

tokio::task_local! {
    static CONTEXT: RequestContext;
}

/// The current request's correlation id (also the `contextId` of Genesys errors).
fn correlation_id() -> String {
    CONTEXT
        .try_with(|c| c.correlation_id.clone())
        .unwrap_or_default()
}

/// Correlation ids, latency, faults and the request log, around every request.
async fn edge(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let vendor = Vendor::of(path);
    let logged = (path != "/_sandbox/requests").then(|| {
        let sent = request
            .extensions()
            .get::<requests::SentUri>()
            .map_or(request.uri(), |s| &s.0);
        requests::Pending::new(request.method(), sent, request.uri(), request.headers())
    });
    let correlation_id = match request
        .headers()
        .get("CorrelationId")
        .and_then(|v| v.to_str().ok())
    {
        // CXone echoes a client's `CorrelationId` header.
        Some(given) if vendor == Vendor::Cxone && !given.is_empty() => given.to_owned(),
        _ => shared.next_correlation_id(),
    };
    let context = RequestContext {
        correlation_id: correlation_id.clone(),
    };
    // A bug in a handler must cost one request a 500, never the server or the connection.
    let handled =
        std::panic::AssertUnwindSafe(faults::apply(shared.clone(), vendor, request, next))
            .catch_unwind();
    let mut response = CONTEXT
        .scope(context, async move {
            handled
                .await
                .unwrap_or_else(|_| vendor.error(StatusCode::INTERNAL_SERVER_ERROR))
        })
        .await;
    // The request has taken effect; the answer takes `latency` to come back (a client that
    // gives up meanwhile has still placed its call, as against a real platform).
    if !shared.config.latency.is_zero() {
        tokio::time::sleep(shared.config.latency).await;
    }
    if let Ok(value) = HeaderValue::from_str(&correlation_id) {
        let name = match vendor {
            Vendor::Genesys | Vendor::GenesysLogin => "inin-correlation-id",
            Vendor::Cxone => "CorrelationId",
            Vendor::Sandbox => "x-correlation-id",
        };
        response.headers_mut().insert(name, value);
    }
    if let Some(logged) = logged {
        shared.requests.record(logged, response.status().as_u16());
    }
    response
}

/// Unknown paths get the vendor's own 404.
async fn not_found(request: Request) -> Response {
    Vendor::of(request.uri().path()).error(StatusCode::NOT_FOUND)
}

/// Known paths with the wrong method get the vendor's own 405.
async fn method_not_allowed(request: Request) -> Response {
    Vendor::of(request.uri().path()).error(StatusCode::METHOD_NOT_ALLOWED)
}

fn router(shared: Arc<Shared>) -> Router {
    let routes = Router::new()
        .merge(genesys::routes())
        .merge(cxone::routes())
        .merge(ledger::routes())
        .merge(http::routes())
        .route("/_sandbox/requests", axum::routing::get(requests::list))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(shared.clone(), edge))
        .with_state(shared);
    // CXone's paths match whatever their case: they are spelled canonically before routing (a
    // layer on `routes` would run after it).
    Router::new().fallback_service(tower::ServiceExt::map_request(routes, canonical_path))
}

/// Rewrites a CXone path to its canonical spelling (`cxone::paths`), keeping what was sent.
fn canonical_path(mut request: Request) -> Request {
    let sent = request.uri().clone();
    if let Some(path) = cxone::paths::canonical(sent.path()) {
        let path_and_query = match sent.query() {
            Some(query) => format!("{path}?{query}"),
            None => path,
        };
        let mut parts = sent.clone().into_parts();
        parts.path_and_query = path_and_query.parse().ok();
        if let Ok(uri) = axum::http::Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
    }
    request.extensions_mut().insert(requests::SentUri(sent));
    request
}

/// Path parameters; a path that cannot be decoded (`%FF`) gets the vendor's 404 rather than
/// axum's plain-text 400.
struct Params<T>(T);

impl<T, S> axum::extract::FromRequestParts<S> for Params<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Response> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(params)| Params(params))
            .map_err(|_| Vendor::of(parts.uri.path()).error(StatusCode::NOT_FOUND))
    }
}

/// Why a request body could not be used.
#[derive(Debug)]
enum BodyError {
    /// Larger than `max_body_bytes`.
    TooLarge,
    /// Not `application/json`.
    NotJson,
    /// Required but empty.
    Missing,
    /// Not valid JSON, or not the expected shape.
    Malformed(String),
}

/// Whether a content type is JSON (`application/json`, or any `…+json`).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let essence = v.split(';').next().unwrap_or("").trim();
            essence.eq_ignore_ascii_case("application/json")
                || essence.to_ascii_lowercase().ends_with("+json")
        })
        .unwrap_or(false)
}

/// A request body's bytes, at most `max_body_bytes`.
async fn raw_body(shared: &Shared, body: Body) -> Result<axum::body::Bytes, BodyError> {
    axum::body::to_bytes(body, shared.config.max_body_bytes)
        .await
        .map_err(|_| BodyError::TooLarge)
}

/// Reads a JSON request body (`None` when empty and not required).
async fn json_body<T: DeserializeOwned>(
    shared: &Shared,
    headers: &HeaderMap,
    body: Body,
) -> Result<Option<T>, BodyError> {
    let bytes = raw_body(shared, body).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if !is_json(headers) {
        return Err(BodyError::NotJson);
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| BodyError::Malformed(e.to_string()))
}

/// Reads an `application/x-www-form-urlencoded` body into pairs.
async fn form_body(
    shared: &Shared,
    headers: &HeaderMap,
    body: Body,
) -> Result<Vec<(String, String)>, BodyError> {
    let bytes = axum::body::to_bytes(body, shared.config.max_body_bytes)
        .await
        .map_err(|_| BodyError::TooLarge)?;
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
        .unwrap_or(false);
    if !form {
        return Err(BodyError::NotJson);
    }
    Ok(form_urlencoded::parse(&bytes).into_owned().collect())
}

/// `Basic` credentials from an `Authorization` header.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    use base64::Engine as _;
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// The token of a `Bearer` `Authorization` header.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The origin clients used to reach the sandbox (for absolute URLs in discovery documents).
fn origin(headers: &HeaderMap, fallback: SocketAddr) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| fallback.to_string());
    format!("http://{host}")
}

/// A running sandbox. Dropping it stops it.
#[derive(Debug)]
pub struct Sandbox {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sandbox {
    /// Starts a sandbox on `addr` (port 0 picks a free one) inside the current tokio runtime.
    pub async fn start(config: Config, addr: SocketAddr) -> std::io::Result<Sandbox> {
        config
            .validate()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config, addr));
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(serve::serve(listener, router(shared.clone()), stopped));
        Ok(Sandbox {
            addr,
            shared,
            stop,
            thread: None,
        })
    }

    /// Starts a sandbox on a random loopback port, on a thread of its own (for callers without
    /// a tokio runtime, such as tests).
    pub fn start_background(config: Config) -> std::io::Result<Sandbox> {
        let (sender, receiver) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("callplan-sandbox".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = sender.send(Err(e));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
                    match Sandbox::start(config, loopback).await {
                        Ok(sandbox) => {
                            let mut stopped = sandbox.stop.subscribe();
                            let _ = sender.send(Ok((sandbox.addr, sandbox.shared.clone(), {
                                sandbox.stop.clone()
                            })));
                            // Serve until the handle asks to stop.
                            while !*stopped.borrow_and_update() {
                                if stopped.changed().await.is_err() {
                                    break;
                                }
                            }
                            drop(sandbox);
                        }
                        Err(e) => {
                            let _ = sender.send(Err(e));
                        }
                    }
                });
            })?;
        let (addr, shared, stop) = receiver
            .recv()
            .map_err(|_| std::io::Error::other("the sandbox thread stopped before it started"))??;
        Ok(Sandbox {
            addr,
            shared,
            stop,
            thread: Some(thread),
        })
    }

    /// The base URL, `http://127.0.0.1:PORT`, for both vendors' APIs and logins.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The socket address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every call placed so far.
    pub fn ledger(&self) -> Vec<LedgerEntry> {
        ledger::entries(&self.shared)
    }

    /// Clears calls, sessions, contacts, tokens, the ledger, fault counters and rate limits.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Arms another fault.
    pub fn add_fault(&self, fault: config::Fault) -> Result<(), config::ConfigError> {
        faults::add(&self.shared, fault)
    }

    /// Stops serving and waits for the server to finish.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_deterministic_and_look_like_uuids() {
        let mut a = Ids::new(7);
        let mut b = Ids::new(7);
        let first = a.uuid();
        assert_eq!(first, b.uuid());
        assert_ne!(first, a.uuid());
        let parsed = uuid::Uuid::parse_str(&first).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
        assert_eq!(a.token().len(), 43);
        assert_ne!(Ids::new(8).uuid(), first);
    }

    #[test]
    fn every_route_belongs_to_a_vendor() {
        for (_, path) in ROUTES {
            let vendor = Vendor::of(path);
            let expected = if path.starts_with("/_sandbox") {
                Vendor::Sandbox
            } else {
                vendor
            };
            assert_eq!(vendor, expected);
            if !path.starts_with("/_sandbox") {
                assert_ne!(vendor, Vendor::Sandbox, "{path}");
            }
        }
    }
}
