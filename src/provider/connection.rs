//! A live provider: where its API is, its credentials and token, and sending requests with
//! them (re-authenticating once after a 401).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::auth::{self, AuthError, Credentials, TokenCache};
use super::failure::Failure;
use super::pacing::Pacer;
use super::request::Request;
use super::transport::{Outgoing, Transport};
use super::wire;
use super::{ProviderKind, cxone};

/// Makes ring rustls's process-wide crypto provider (reqwest is built without one, to avoid
/// compiling aws-lc); harmless when already done.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The HTTP client of a run's logins and discovery, with the run's TLS settings
/// ([`super::transport::tls_config`]).
pub fn http_client(tls: rustls::ClientConfig) -> Result<reqwest::Client, String> {
    super::transport::reqwest_builder(tls)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

impl Settings {
    /// The API base below `root` (the provider's `api_base`, or CXone's discovered
    /// `api_endpoint`): CXone's ACD paths are below its services prefix and API version.
    pub fn base_below(&self, root: &str) -> String {
        let root = root.trim_end_matches('/');
        match self.kind {
            ProviderKind::NiceCxone => {
                format!("{root}{}{}", cxone::SERVICES_PREFIX, self.api_version)
            }
            _ => root.to_owned(),
        }
    }

    /// Whether any URL of this provider (or one discovered from it) is HTTPS.
    pub fn uses_tls(&self) -> bool {
        let login = match &self.credentials {
            Credentials::GenesysClient { login_base, .. } => Some(login_base),
            Credentials::CxonePassword { auth_base, .. } => Some(auth_base),
            Credentials::OAuth2 { token_url, .. } => Some(token_url),
            _ => None,
        };
        [self.api_base.as_ref(), self.discovery_base.as_ref(), login]
            .into_iter()
            .flatten()
            .any(|url| !url.starts_with("http://"))
            // CXone discovers its API base: assume HTTPS unless its auth host is plain HTTP.
            || (self.kind == ProviderKind::NiceCxone
                && self.api_base.is_none()
                && self.discovery_base.is_none())
    }
}

/// An answer from a provider.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Headers as received (shared: templates read them without a copy, and nothing copies
    /// them for an answer no one reads them of).
    pub headers: Arc<reqwest::header::HeaderMap>,
    /// The body: parsed JSON, the text when it is not JSON, `null` when empty (shared, as the
    /// headers).
    pub body: Arc<Value>,
    /// How long it took.
    pub elapsed: Duration,
}

impl Response {
    /// A header's value (the name in any case; the first of several), as text.
    pub fn header(&self, name: &str) -> Option<std::borrow::Cow<'_, str>> {
        self.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()))
    }

    /// Every header as (lowercase name, value) pairs, in the order received.
    pub fn header_pairs(&self) -> Vec<(String, String)> {
        auth::header_pairs(&self.headers)
    }

    /// `Retry-After`, in seconds.
    pub fn retry_after(&self) -> Option<Duration> {
        retry_after(&self.headers)
    }

    /// The vendor's correlation id (`inin-correlation-id`, CXone `CorrelationId`).
    pub fn correlation_id(&self) -> Option<std::borrow::Cow<'_, str>> {
        use reqwest::header::HeaderName;
        // Names made once: a name given as text is parsed at every lookup.
        const GENESYS: HeaderName = HeaderName::from_static("inin-correlation-id");
        const CXONE: HeaderName = HeaderName::from_static("correlationid");
        [GENESYS, CXONE].iter().find_map(|name| {
            let value = self.headers.get(name)?;
            Some(String::from_utf8_lossy(value.as_bytes()))
        })
    }
}

/// A `Retry-After` given in seconds.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// Why a request got no answer.
#[derive(Debug, Clone)]
pub enum SendError {
    /// The provider's login failed.
    Auth(AuthError),
    /// The request was not sent: what had to happen first failed (the journal could not record
    /// that it was leaving).
    NotSent(String),
    /// No answer: how it failed, for the retry decision, and in words.
    Transport {
        /// The kind of failure.
        failure: Failure,
        /// What happened.
        message: String,
    },
}

/// Where a provider's API lives and how to reach it.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The provider's name in the plan.
    pub name: String,
    /// Its type.
    pub kind: ProviderKind,
    /// Genesys: `https://api.<region>` or `base_url`; http: `base_url`; CXone: `base_url` when
    /// set (otherwise discovered after login).
    pub api_base: Option<String>,
    /// CXone: where `/.well-known/cxone-configuration` is (the auth host).
    pub discovery_base: Option<String>,
    /// CXone: the ACD API version (`34.0`).
    pub api_version: String,
    /// Headers sent with every request (http providers).
    pub headers: Vec<(String, String)>,
    /// The credentials.
    pub credentials: Credentials,
    /// Timeout of one request, if the provider sets one.
    pub timeout: Option<Duration>,
    /// Pacing: at most this many requests per period (the provider's `rate_limit`; Genesys
    /// client credentials default to the platform's 300 a minute per token).
    pub rate_limit: Option<super::pacing::Limit>,
    /// How long after a create the provider's lookups are trusted to know it (resume's
    /// reconciliation believes "not placed" only then).
    pub reconcile_delay: Duration,
}

/// A provider during a run.
#[derive(Debug)]
pub struct Connection {
    /// Its settings.
    pub settings: Settings,
    client: reqwest::Client,
    transport: Transport,
    tokens: TokenCache,
    discovered: tokio::sync::OnceCell<String>,
    /// The API base once known, parsed once for every request below it.
    wire_base: tokio::sync::OnceCell<wire::Base>,
    /// CXone: the last `CallContactEvent` seen per contact, so that a later wait sees what an
    /// earlier long poll took off the queue.
    pub contact_events: Mutex<HashMap<String, Value>>,
    /// Paces requests before they are sent, first come first served.
    pacer: Option<Pacer>,
    /// After a 429, the whole provider waits until then (not each worker on its own).
    paused_until: Mutex<Option<Instant>>,
}

/// A pacer for `requests` per `per`: a provider's limit is never reached rather than reached
/// and backed off from, and a plan within it never waits.
fn pacer(limit: Option<super::pacing::Limit>) -> Option<Pacer> {
    Pacer::new(limit?)
}

/// Time a request spends waiting for its turn in callplan (the provider's pacing, a pause after
/// a 429): not the provider's time, and not counted against any request or step timeout.
#[derive(Debug, Default)]
pub struct Queue {
    waited_ns: AtomicU64,
    since: Mutex<Option<Instant>>,
    /// A request has been written to the connection (it may have reached the provider).
    sent: AtomicBool,
}

impl Queue {
    fn enter(&self) {
        *self.since.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
    }

    fn leave(&self) {
        let since = self
            .since
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(since) = since {
            let ns = u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX);
            self.waited_ns.fetch_add(ns, Ordering::Relaxed);
        }
    }

    /// Time waited so far, a wait under way included.
    pub fn waited(&self) -> Duration {
        let done = Duration::from_nanos(self.waited_ns.load(Ordering::Relaxed));
        let current = self
            .since
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map_or(Duration::ZERO, |s| s.elapsed());
        done.saturating_add(current)
    }

    /// Whether a request left (was written to the connection).
    pub fn sent(&self) -> bool {
        self.sent.load(Ordering::Relaxed)
    }
}

const LOGIN_TIMEOUT: Duration = Duration::from_secs(30);

impl Connection {
    /// A connection with its own settings, sharing the run's `client` (logins, discovery) and
    /// `transport` (requests).
    pub fn new(settings: Settings, client: reqwest::Client, transport: Transport) -> Connection {
        let settings_limit = settings.rate_limit;
        Connection {
            settings,
            client,
            transport,
            tokens: TokenCache::default(),
            discovered: tokio::sync::OnceCell::new(),
            wire_base: tokio::sync::OnceCell::new(),
            contact_events: Mutex::new(HashMap::new()),
            pacer: pacer(settings_limit),
            paused_until: Mutex::new(None),
        }
    }

    /// Waits for the provider's turn: a pause after a 429, then the pacing (the time goes to
    /// `queue`).
    async fn pace(&self, queue: &Queue) {
        // No pacing and no pause: nothing to wait for, and no clock to read (every request).
        if self.pacer.is_none()
            && self
                .paused_until
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_none()
        {
            return;
        }
        queue.enter();
        self.pace_now().await;
        queue.leave();
    }

    async fn pace_now(&self) {
        loop {
            let paused = *self
                .paused_until
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match paused {
                Some(until) if until > Instant::now() => {
                    tokio::time::sleep_until(until.into()).await;
                }
                _ => break,
            }
        }
        if let Some(pacer) = &self.pacer {
            pacer.slot().await;
        }
    }

    /// A 429: every request of this provider waits `retry_after`.
    fn pause(&self, retry_after: Duration) {
        // A `Retry-After` past what the clock holds pauses for as long as it can.
        let until = crate::duration::saturating_deadline(Instant::now(), retry_after);
        let mut paused = self
            .paused_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if paused.is_none_or(|p| p < until) {
            *paused = Some(until);
        }
    }

    /// A claim of the login's id_token (CXone), as text.
    pub fn id_claim(&self, name: &str) -> Option<String> {
        let token = self.tokens.current()?;
        let claims = super::cxone::auth::claims_of(token.id_token.as_deref()?)?;
        match claims.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// How many tokens were fetched so far.
    pub fn logins(&self) -> u64 {
        self.tokens.fetched()
    }

    async fn fetch(&self) -> Result<auth::Token, AuthError> {
        let timeout = self.settings.timeout.unwrap_or(LOGIN_TIMEOUT);
        auth::login(&self.client, &self.settings.credentials, timeout)
            .await?
            .ok_or_else(|| AuthError {
                status: None,
                message: "these credentials have no token".into(),
                ..AuthError::default()
            })
    }

    /// The current token (`None` for Basic and no auth).
    async fn token(&self) -> Result<Option<auth::Token>, AuthError> {
        match &self.settings.credentials {
            Credentials::Basic { .. } | Credentials::None => Ok(None),
            _ => self.tokens.get(|| self.fetch()).await.map(Some),
        }
    }

    /// Logs in (and, for CXone, discovers the API base): run before the first step, so that a
    /// bad secret stops the run before anything is sent.
    pub async fn authenticate(&self) -> Result<(), AuthError> {
        self.token().await?;
        self.base().await?;
        Ok(())
    }

    /// The API base every request path is appended to.
    pub async fn base(&self) -> Result<String, AuthError> {
        let root = match (&self.settings.kind, &self.settings.api_base) {
            (ProviderKind::NiceCxone, None) => self
                .discovered
                .get_or_try_init(|| self.discover())
                .await?
                .clone(),
            (_, Some(base)) => base.clone(),
            (_, None) => String::new(),
        };
        Ok(self.settings.base_below(&root))
    }

    /// [`Connection::base`], as requests are built below it (it does not change once known).
    async fn wire_base(&self) -> Result<&wire::Base, AuthError> {
        self.wire_base
            .get_or_try_init(|| async { self.base().await.map(wire::Base::new) })
            .await
    }

    /// CXone: the tenant's `api_endpoint`, discovered with the login's id_token.
    async fn discover(&self) -> Result<String, AuthError> {
        let token = self.token().await?;
        cxone::auth::discover(
            &self.client,
            self.settings.discovery_base.as_deref(),
            token.as_ref().and_then(|t| t.id_token.as_deref()),
            self.settings.timeout.unwrap_or(LOGIN_TIMEOUT),
        )
        .await
    }

    /// Sends a request with the provider's auth; after a 401, renews the token once and sends
    /// it again. `timeout` bounds each request (the caller bounds the step as a whole).
    pub async fn send(
        &self,
        request: &Request,
        timeout: Option<Duration>,
    ) -> Result<Response, SendError> {
        self.send_queued(request, timeout, &Queue::default(), || async { Ok(()) })
            .await
    }

    /// [`Connection::send`], with the time spent waiting for the provider's turn going to
    /// `queue`, and `ahead` awaited once the turn has come, right before the request is
    /// written (a journal records there that a create is leaving; an error stops the send).
    pub async fn send_queued<F, Fut>(
        &self,
        request: &Request,
        timeout: Option<Duration>,
        queue: &Queue,
        ahead: F,
    ) -> Result<Response, SendError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<(), String>>,
    {
        let base = self.wire_base().await.map_err(SendError::Auth)?;
        let token = self.token().await.map_err(SendError::Auth)?;
        let response = self
            .send_with(base, request, token.as_ref(), timeout, queue, &ahead)
            .await?;
        if response.status == 401
            && self.settings.credentials.fetches_tokens()
            && let Some(stale) = token
        {
            let fresh = self
                .tokens
                .renew(&stale.value, || self.fetch())
                .await
                .map_err(SendError::Auth)?;
            return self
                .send_with(base, request, Some(&fresh), timeout, queue, &ahead)
                .await;
        }
        Ok(response)
    }

    async fn send_with<F, Fut>(
        &self,
        base: &wire::Base,
        request: &Request,
        token: Option<&auth::Token>,
        timeout: Option<Duration>,
        queue: &Queue,
        ahead: &F,
    ) -> Result<Response, SendError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<(), String>>,
    {
        let wire = wire::build(
            base,
            request,
            &self.settings.headers,
            wire::authorization(&self.settings.credentials, token.map(|t| t.value.as_str())),
        );
        let url = wire.url.as_str();
        let method = request.method.as_str();
        // A URL no server accepts is the request's own error: never sent, never retried as a
        // connection failure, and not printed whole.
        if url.len() > MAX_URL_BYTES {
            return Err(SendError::NotSent(format!(
                "{method} {}: the URL is {} bytes, more than the {} servers accept",
                shortened(url),
                url.len(),
                MAX_URL_BYTES
            )));
        }
        let outgoing = Outgoing::new(&wire)
            .map_err(|why| SendError::NotSent(format!("{method} {}: {why}", shortened(url))))?;
        self.pace(queue).await;
        ahead().await.map_err(SendError::NotSent)?;
        let started = Instant::now();
        // `-v`: the request as sent (the query too), never a header: the Authorization header
        // and the token stay out of the log. The log writer masks secrets in what is shown.
        let logged = tracing::enabled!(target: LOG, tracing::Level::DEBUG)
            .then(|| format!("{method} {url}"));
        if let Some(line) = &logged {
            tracing::debug!(target: LOG, "[{}] {line}", self.settings.name);
            if let Some(body) = &wire.body {
                tracing::trace!(target: LOG, "[{}] request body: {}", self.settings.name, excerpt(&String::from_utf8_lossy(body)));
            }
        }
        // A per-request timer costs about a fifth of a loopback round trip, so it is set only
        // when the provider asks for one; the runner bounds every step anyway.
        let mut answer = self.transport.send(outgoing, timeout, &queue.sent).await.map_err(|failed| {
            if let Some(line) = &logged {
                tracing::debug!(target: LOG, "[{}] {line}: no answer: {}", self.settings.name, failed.detail);
            }
            SendError::Transport {
                failure: failed.failure,
                message: format!("{}: {}", shortened(url), failed.detail),
            }
        })?;
        let status = answer.status;
        if status == 429 {
            // The provider's budget is spent: every worker waits, not only this one.
            let wait = retry_after(&answer.headers).unwrap_or(Duration::from_secs(1));
            self.pause(wait);
        }
        let headers = std::mem::take(&mut answer.headers);
        let bytes = answer
            .bytes()
            .await
            .map_err(|failed| SendError::Transport {
                failure: failed.failure,
                message: format!("{method} {url}: the answer broke off: {}", failed.detail),
            })?;
        if let Some(line) = &logged {
            tracing::debug!(
                target: LOG,
                "[{}] {line} -> {status} in {}",
                self.settings.name,
                crate::duration::human(started.elapsed())
            );
            tracing::trace!(target: LOG, "[{}] response body: {}", self.settings.name, excerpt(&String::from_utf8_lossy(&bytes)));
        }
        let body = if bytes.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Ok(Response {
            status,
            headers: Arc::new(headers),
            body: Arc::new(body),
            elapsed: started.elapsed(),
        })
    }
}

/// The `tracing` target of request logs (`RUST_LOG=callplan::http=trace`).
pub(super) const LOG: &str = "callplan::http";

/// How much of a body `-vv` shows.
const EXCERPT_CHARS: usize = 1000;

/// The beginning of a body, on one line.
fn excerpt(text: &str) -> String {
    let flat = text.trim().replace(['\n', '\r'], " ");
    match flat.char_indices().nth(EXCERPT_CHARS) {
        Some((end, _)) => format!("{}… ({} bytes)", &flat[..end], text.len()),
        None => flat,
    }
}

/// The longest URL sent (servers commonly refuse more than 8 KiB in a request line).
const MAX_URL_BYTES: usize = 8 * 1024;

/// A URL as messages show it: its start, when it is long.
fn shortened(url: &str) -> String {
    const SHOWN: usize = 200;
    match url.char_indices().nth(SHOWN) {
        Some((end, _)) => format!("{}… ({} bytes)", &url[..end], url.len()),
        None => url.to_owned(),
    }
}
