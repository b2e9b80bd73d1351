//! Sending a provider request over HTTP: hyper's HTTP/1.1 connections with rustls (the parts
//! reqwest itself is built from) kept in a small pool of our own, following redirects as reqwest
//! does, and going through reqwest whenever a proxy from the environment applies to a URL.
//!
//! Why not reqwest for every request: measured with callgrind on a run of 2,000 loopback GETs,
//! reqwest's layers above hyper (its redirect layer parsing every URL twice, the retry layer, the
//! proxy matcher, header map copies) cost about 23,000 instructions a request, a fifth of
//! callplan's whole per-step cost; a loop on hyper-util's pooled client is 25% faster than the
//! same loop on reqwest. That pool in turn hashes its key byte by byte with SipHash three times
//! a request and spawns a task per request to watch the connection become idle; a run talks to a
//! handful of origins, so a list scanned for the origin does the same job for less. Logins and
//! discovery, run once, still use reqwest.

use std::error::Error as StdError;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::proxy::matcher::Matcher;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use tokio::time::Instant;
use tower_service::Service as _;

use super::failure::Failure;
use super::wire::{self, Wire};

/// The most redirects followed for one request (reqwest's default).
const MAX_REDIRECTS: usize = 10;

/// How long an idle pooled connection is kept (reqwest's default).
const POOL_IDLE: Duration = Duration::from_secs(90);

/// TCP keep-alive probing of pooled connections (reqwest's defaults).
const KEEPALIVE: Duration = Duration::from_secs(15);
const KEEPALIVE_RETRIES: u32 = 3;

/// A redirect's own body is read (so that its connection is kept) up to this size.
const DRAINED: u64 = 64 * 1024;

/// The reqwest client builder every client of a run starts from: callplan's `User-Agent`, and
/// HTTPS with the platform's roots when `tls` (a run that only talks plain HTTP, to the sandbox,
/// skips reading the system's certificates).
pub(crate) fn reqwest_builder(tls: bool) -> reqwest::ClientBuilder {
    let builder = reqwest::Client::builder().user_agent(wire::USER_AGENT);
    if tls {
        builder
    } else {
        builder.tls_certs_only(Vec::new())
    }
}

/// The HTTP client of a run's requests; cheap to clone (its pool is shared).
#[derive(Clone)]
pub struct Transport(Arc<Inner>);

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

struct Inner {
    connector: Connector,
    /// Connections between requests, the most recently used last.
    idle: Mutex<Vec<Conn>>,
    /// The environment's proxies, and the client that goes through them (only when a proxy
    /// variable is set: otherwise no URL is matched at all).
    proxies: Option<(Matcher, reqwest::Client)>,
}

/// Where a connection goes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    https: bool,
    host: String,
    port: u16,
}

impl Origin {
    fn of(url: &Url) -> Option<Origin> {
        Some(Origin {
            https: url.scheme() == "https",
            host: url.host_str()?.to_owned(),
            port: url.port_or_known_default()?,
        })
    }

    fn is(&self, url: &Url) -> bool {
        self.port == url.port_or_known_default().unwrap_or(0)
            && self.https == (url.scheme() == "https")
            && url.host_str() == Some(self.host.as_str())
    }
}

/// An HTTP/1.1 connection: its sender (the connection itself runs as a task).
#[derive(Debug)]
struct Conn {
    origin: Origin,
    sender: http1::SendRequest<Full<Bytes>>,
    /// When it last went idle.
    since: Instant,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("proxied", &self.0.proxies.is_some())
            .finish_non_exhaustive()
    }
}

/// The environment variables a proxy is read from (as reqwest and hyper-util read them).
const PROXY_VARIABLES: [&str; 6] = [
    "ALL_PROXY",
    "all_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
];

impl Transport {
    /// A transport; HTTPS is verified against the platform's roots when `tls`, and refused
    /// otherwise (no certificate is trusted).
    pub fn new(tls: bool) -> Result<Transport, String> {
        super::connection::install_crypto();
        let provider = rustls::crypto::CryptoProvider::get_default()
            .cloned()
            .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        // No ALPN: hyper-rustls leaves it empty for an HTTP/1.1-only connector, and a server
        // then speaks HTTP/1.1.
        let config = if tls {
            let verifier = rustls_platform_verifier::Verifier::new(provider)
                .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth()
        } else {
            builder
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        };
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_keepalive(Some(KEEPALIVE));
        http.set_keepalive_interval(Some(KEEPALIVE));
        http.set_keepalive_retries(Some(KEEPALIVE_RETRIES));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let proxies = if PROXY_VARIABLES
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|v| !v.is_empty()))
        {
            // Redirects are followed here, whichever client sends each hop.
            let proxied = reqwest_builder(tls)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
            Some((Matcher::from_env(), proxied))
        } else {
            None
        };
        Ok(Transport(Arc::new(Inner {
            connector,
            idle: Mutex::new(Vec::new()),
            proxies,
        })))
    }

    /// Sends `request`, following redirects, until an answer's status and headers have come;
    /// `timeout` bounds the whole exchange, the body included ([`Answer::bytes`]).
    pub async fn send(
        &self,
        request: Outgoing,
        timeout: Option<Duration>,
    ) -> Result<Answer, Failed> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let Outgoing {
            mut method,
            mut url,
            mut headers,
            mut body,
        } = request;
        let mut redirects = 0;
        loop {
            let answer = self.hop(&method, &url, &headers, &body, deadline).await?;
            let Some(next) = redirect(&answer, &url)? else {
                return Ok(answer);
            };
            let status = answer.status;
            // A small body is read, so that the connection serves the next hop.
            let small = answer
                .headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                .is_some_and(|length| length <= DRAINED);
            if small {
                let _ = answer.bytes().await;
            }
            redirects += 1;
            if redirects > MAX_REDIRECTS {
                return Err(Failed::new(
                    Failure::Broken,
                    format!("more than {MAX_REDIRECTS} redirects"),
                ));
            }
            match status {
                // User agents may change a POST to a GET (RFC 9110, 15.4.2 and 15.4.3).
                301 | 302 if method == Method::POST => {
                    method = Method::GET;
                    body = Bytes::new();
                    drop_payload_headers(&mut headers);
                }
                // A GET (or HEAD) of what the answer points to (RFC 9110, 15.4.4).
                303 => {
                    if method != Method::HEAD {
                        method = Method::GET;
                    }
                    body = Bytes::new();
                    drop_payload_headers(&mut headers);
                }
                _ => {}
            }
            let cross_origin = next.scheme() != url.scheme()
                || next.host_str() != url.host_str()
                || next.port_or_known_default() != url.port_or_known_default();
            if cross_origin {
                // Credentials are for the origin they were given for.
                for name in [
                    header::AUTHORIZATION,
                    header::COOKIE,
                    HeaderName::from_static("cookie2"),
                    header::PROXY_AUTHORIZATION,
                    header::WWW_AUTHENTICATE,
                ] {
                    headers.remove(name);
                }
            }
            if let Some(referer) = referer(&next, &url) {
                headers.insert(header::REFERER, referer);
            }
            url = next;
        }
    }

    /// One request and its answer's head, on a connection of the pool or, through a proxy, by
    /// reqwest.
    async fn hop(
        &self,
        method: &Method,
        url: &Url,
        headers: &HeaderMap,
        body: &Bytes,
        deadline: Option<Instant>,
    ) -> Result<Answer, Failed> {
        if let Some((matcher, proxied)) = &self.0.proxies {
            let uri = to_uri(url)
                .map_err(|why| Failed::new(Failure::Connect, format!("not a valid URL ({why})")))?;
            if matcher.intercept(&uri).is_some() {
                let request = proxied
                    .request(method.clone(), url.clone())
                    .headers(headers.clone())
                    .body(body.clone());
                let mut response = within(deadline, request.send())
                    .await
                    .ok_or_else(|| Failed::timed_out(true))?
                    .map_err(|e| Failed::from_reqwest(&e))?;
                return Ok(Answer {
                    status: response.status().as_u16(),
                    headers: std::mem::take(response.headers_mut()),
                    body: Body::Proxied(response),
                    deadline,
                });
            }
        }
        let mut request = hyper::Request::new(Full::new(body.clone()));
        *request.method_mut() = method.clone();
        *request.uri_mut() = origin_form(url)?;
        *request.headers_mut() = headers.clone();
        if !request.headers().contains_key(header::HOST) {
            request.headers_mut().insert(header::HOST, host(url)?);
        }
        let mut pooled = self.take(url);
        loop {
            let (mut conn, reused) = match pooled.take() {
                Some(conn) => (conn, true),
                None => (self.connect(url, deadline).await?, false),
            };
            // A pooled connection the server has closed fails here, before anything is written.
            let ready = within(deadline, conn.sender.ready())
                .await
                .ok_or_else(|| Failed::timed_out(false))?;
            if ready.is_err() {
                if reused {
                    pooled = self.take(url);
                    continue;
                }
                return Err(Failed::new(
                    Failure::Connect,
                    "could not connect (the connection closed before the request was sent)".into(),
                ));
            }
            let sent = within(deadline, conn.sender.try_send_request(request))
                .await
                .ok_or_else(|| Failed::timed_out(true))?;
            match sent {
                Ok(response) => {
                    let (parts, body) = response.into_parts();
                    return Ok(Answer {
                        status: parts.status.as_u16(),
                        headers: parts.headers,
                        body: Body::Direct(body, Some((self.clone(), conn))),
                        deadline,
                    });
                }
                Err(mut e) => match e.take_message() {
                    // Nothing was written: the request comes back and goes on another connection
                    // (the server closed this one between requests).
                    Some(back) if reused => request = back,
                    Some(_) => {
                        let e = e.into_error();
                        return Err(Failed::new(
                            Failure::Connect,
                            describe(Failure::Connect, Some(&e)),
                        ));
                    }
                    None => {
                        let e = e.into_error();
                        return Err(Failed::new(
                            Failure::Broken,
                            describe(Failure::Broken, Some(&e)),
                        ));
                    }
                },
            }
            pooled = self.take(url);
        }
    }

    /// An idle connection to `url`'s origin, the most recently used; connections that closed
    /// or idled too long are let go.
    fn take(&self, url: &Url) -> Option<Conn> {
        let mut idle = self.0.idle.lock().unwrap_or_else(PoisonError::into_inner);
        idle.retain(|c| !c.sender.is_closed() && c.since.elapsed() < POOL_IDLE);
        let at = idle.iter().rposition(|c| c.origin.is(url))?;
        Some(idle.remove(at))
    }

    /// A connection back in the pool once its answer has been read whole.
    fn give_back(&self, mut conn: Conn) {
        if conn.sender.is_closed() {
            return;
        }
        conn.since = Instant::now();
        self.0
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(conn);
    }

    /// A new connection to `url`'s origin (TCP, then TLS for HTTPS), its task spawned.
    async fn connect(&self, url: &Url, deadline: Option<Instant>) -> Result<Conn, Failed> {
        let origin = Origin::of(url)
            .ok_or_else(|| Failed::new(Failure::Connect, "the URL names no host".into()))?;
        let target = format!(
            "{}://{}:{}",
            if origin.https { "https" } else { "http" },
            origin.host,
            origin.port
        );
        let target: hyper::Uri = target
            .parse()
            .map_err(|e| Failed::new(Failure::Connect, format!("not a valid URL ({e})")))?;
        let connected = within(deadline, async {
            let stream = self.0.connector.clone().call(target).await.map_err(|e| {
                Failed::new(Failure::Connect, describe(Failure::Connect, Some(&*e)))
            })?;
            http1::handshake(stream)
                .await
                .map_err(|e| Failed::new(Failure::Connect, describe(Failure::Connect, Some(&e))))
        })
        .await
        .ok_or_else(|| Failed::timed_out(false))?;
        let (sender, connection) = connected?;
        tokio::spawn(async move {
            // Ends when the server closes the connection or the pool lets it go; a failure
            // shows on the request that was on it.
            let _ = connection.await;
        });
        Ok(Conn {
            origin,
            sender,
            since: Instant::now(),
        })
    }
}

/// The request target of `url` on a direct connection: its path and query.
fn origin_form(url: &Url) -> Result<hyper::Uri, Failed> {
    let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
    hyper::Uri::try_from(path)
        .map_err(|e| Failed::new(Failure::Connect, format!("not a valid URL ({e})")))
}

/// The `Host` header of `url`: its host, and its port unless the scheme's own.
fn host(url: &Url) -> Result<HeaderValue, Failed> {
    let host = url.host_str().unwrap_or_default();
    let value = match url.port() {
        Some(port) => HeaderValue::from_str(&format!("{host}:{port}")),
        None => HeaderValue::from_str(host),
    };
    value.map_err(|e| Failed::new(Failure::Connect, format!("not a valid host ({e})")))
}

/// Where a redirect answer sends the request next: `None` when `answer` is not a redirect one
/// that is followed (no `Location`, or one that is not a URL: the answer is the result).
fn redirect(answer: &Answer, url: &Url) -> Result<Option<Url>, Failed> {
    if !matches!(answer.status, 301 | 302 | 303 | 307 | 308) {
        return Ok(None);
    }
    let Some(next) = answer
        .headers
        .get(header::LOCATION)
        .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
        .and_then(|location| url.join(location.trim()).ok())
    else {
        return Ok(None);
    };
    if !matches!(next.scheme(), "http" | "https") {
        return Err(Failed::new(
            Failure::Broken,
            format!(
                "redirected to a `{}:` URL, which is not followed",
                next.scheme()
            ),
        ));
    }
    Ok(Some(next))
}

/// The headers of a body, dropped with it.
fn drop_payload_headers(headers: &mut HeaderMap) {
    for name in [
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
        header::CONTENT_ENCODING,
        header::TRANSFER_ENCODING,
    ] {
        headers.remove(name);
    }
}

/// The `Referer` of a redirected request: the previous URL without credentials or fragment, and
/// none from HTTPS to plain HTTP.
fn referer(next: &Url, previous: &Url) -> Option<HeaderValue> {
    if next.scheme() == "http" && previous.scheme() == "https" {
        return None;
    }
    let mut referer = previous.clone();
    let _ = referer.set_username("");
    let _ = referer.set_password(None);
    referer.set_fragment(None);
    HeaderValue::from_str(referer.as_str()).ok()
}

fn to_uri(url: &Url) -> Result<hyper::Uri, String> {
    hyper::Uri::try_from(url.as_str()).map_err(|e| e.to_string())
}

/// Awaits `future` until `deadline`; `None` when the deadline came first.
async fn within<F: Future>(deadline: Option<Instant>, future: F) -> Option<F::Output> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, future).await.ok(),
        None => Some(future.await),
    }
}

/// A request as the transport sends it.
#[derive(Debug)]
pub struct Outgoing {
    method: Method,
    url: Url,
    headers: HeaderMap,
    body: Bytes,
}

impl Outgoing {
    /// The request of a wire request; why not, when its URL or a header cannot be sent.
    pub fn new(wire: &Wire) -> Result<Outgoing, String> {
        // Parsed once, when the request was built.
        let url = match &wire.url {
            wire::Target::Parsed(url) => url.clone(),
            wire::Target::Text { why, .. } => return Err(format!("not a valid URL ({why})")),
        };
        if url.host_str().is_none() || !matches!(url.scheme(), "http" | "https") {
            return Err(format!("not an http(s) URL with a host (`{url}`)"));
        }
        let method = match wire.method {
            super::Method::Get => Method::GET,
            super::Method::Head => Method::HEAD,
            super::Method::Post => Method::POST,
            super::Method::Put => Method::PUT,
            super::Method::Patch => Method::PATCH,
            super::Method::Delete => Method::DELETE,
        };
        let mut headers = HeaderMap::with_capacity(wire.headers.len());
        for (name, value) in &wire.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("`{name}` is not a valid header name"))?;
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| format!("the value of header `{name}` cannot be sent"))?;
            // Kept out of any debug output.
            value.set_sensitive(name == header::AUTHORIZATION);
            headers.insert(name, value);
        }
        let body = wire.body.clone().map(Bytes::from).unwrap_or_default();
        Ok(Outgoing {
            method,
            url,
            headers,
            body,
        })
    }
}

/// An answer whose status and headers have come; its body is read with [`Answer::bytes`].
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: HeaderMap,
    body: Body,
    deadline: Option<Instant>,
}

#[derive(Debug)]
enum Body {
    /// On a connection of the pool, given back once the body has been read.
    Direct(Incoming, Option<(Transport, Conn)>),
    Proxied(reqwest::Response),
}

impl Answer {
    /// The whole body, within the request's timeout.
    pub async fn bytes(self) -> Result<Bytes, Failed> {
        match self.body {
            Body::Direct(body, pooled) => {
                let bytes = within(self.deadline, body.collect())
                    .await
                    .ok_or_else(|| Failed::timed_out(true))?
                    .map(http_body_util::Collected::to_bytes)
                    .map_err(|e| {
                        Failed::new(Failure::Broken, describe(Failure::Broken, Some(&e)))
                    })?;
                if let Some((transport, conn)) = pooled {
                    transport.give_back(conn);
                }
                Ok(bytes)
            }
            Body::Proxied(response) => within(self.deadline, response.bytes())
                .await
                .ok_or_else(|| Failed::timed_out(true))?
                .map_err(|e| Failed::from_reqwest(&e)),
        }
    }
}

/// A request that got no (whole) answer: how it failed, and why in a few words.
#[derive(Debug)]
pub struct Failed {
    /// The failure, for the retry decision.
    pub failure: Failure,
    /// What happened, without the URL.
    pub detail: String,
}

impl Failed {
    fn new(failure: Failure, detail: String) -> Failed {
        Failed { failure, detail }
    }

    /// Timed out; `sent` once the connection was made (the request may have been written).
    fn timed_out(sent: bool) -> Failed {
        let failure = Failure::Timeout { sent };
        Failed::new(failure, describe(failure, None))
    }

    fn from_reqwest(e: &reqwest::Error) -> Failed {
        let failure = if e.is_connect() {
            Failure::Connect
        } else if e.is_timeout() {
            Failure::Timeout { sent: true }
        } else {
            Failure::Broken
        };
        // reqwest's own text repeats the URL: its causes say what happened.
        Failed::new(failure, describe(failure, e.source()))
    }
}

/// A transport failure in a few words: what kind, then the innermost cause of `cause`.
pub(crate) fn describe(failure: Failure, cause: Option<&(dyn StdError + 'static)>) -> String {
    let mut text = match failure {
        Failure::Timeout { .. } => "timed out",
        Failure::Connect => "could not connect",
        _ => "the connection failed",
    }
    .to_owned();
    let mut last = None;
    let mut cause = cause;
    while let Some(c) = cause {
        last = Some(c);
        cause = c.source();
    }
    if let Some(last) = last {
        text.push_str(" (");
        text.push_str(&last.to_string());
        text.push(')');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::extract::Request;
    use axum::response::{IntoResponse, Response};
    use axum::routing::any;
    use serde_json::{Value, json};

    /// Echoes what a request brought, redirected or not.
    async fn seen(request: Request) -> Response {
        let (parts, body) = request.into_parts();
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .map(|v| Value::from(v.to_str().unwrap_or("?")))
                .unwrap_or(Value::Null)
        };
        let body = axum::body::to_bytes(body, 1 << 20)
            .await
            .unwrap_or_default();
        axum::Json(json!({
            "method": parts.method.as_str(),
            "body": String::from_utf8_lossy(&body),
            "content_type": header("content-type"),
            "authorization": header("authorization"),
            "referer": header("referer"),
        }))
        .into_response()
    }

    fn redirect_to(status: u16, location: String) -> Response {
        (
            axum::http::StatusCode::from_u16(status).unwrap(),
            [(axum::http::header::LOCATION, location)],
        )
            .into_response()
    }

    /// A server on a random loopback port that redirects (`/301`, `/303`, `/307`, `/loop`,
    /// `/away` to `elsewhere`) and echoes (`/seen`); its base URL.
    async fn server(elsewhere: Option<String>) -> String {
        let away = elsewhere.unwrap_or_default();
        let app = Router::new()
            .route("/seen", any(seen))
            .route("/301", any(|| async { redirect_to(301, "/seen".into()) }))
            .route("/303", any(|| async { redirect_to(303, "seen".into()) }))
            .route("/307", any(|| async { redirect_to(307, "/seen".into()) }))
            .route("/loop", any(|| async { redirect_to(302, "/loop".into()) }))
            .route(
                "/nowhere",
                any(|| async { redirect_to(302, "ftp://x/".into()) }),
            )
            .route(
                "/away",
                any(move || {
                    let away = away.clone();
                    async move { redirect_to(302, format!("{away}/seen")) }
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        base
    }

    fn request(method: super::super::Method, url: &str, body: Option<&str>) -> Outgoing {
        let wire = Wire {
            method,
            url: wire::Target::Parsed(Url::parse(url).unwrap()),
            headers: vec![
                ("Accept".into(), "application/json".into()),
                ("Content-Type".into(), "application/json".into()),
                ("Authorization".into(), "Bearer t0ken".into()),
            ],
            body: body.map(|b| b.as_bytes().to_vec()),
        };
        Outgoing::new(&wire).unwrap()
    }

    async fn echo(transport: &Transport, request: Outgoing) -> (u16, Value) {
        let answer = transport.send(request, None).await.unwrap();
        let status = answer.status;
        let bytes = answer.bytes().await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    use super::super::Method as M;

    #[tokio::test]
    async fn a_moved_post_is_followed_as_a_get_without_its_body() {
        let base = server(None).await;
        let transport = Transport::new(false).unwrap();
        let (status, seen) = echo(
            &transport,
            request(M::Post, &format!("{base}/301"), Some("{}")),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(seen["method"], "GET");
        assert_eq!(seen["body"], "");
        assert_eq!(seen["content_type"], Value::Null);
        // Same origin: the credentials go along, and the referer says where from.
        assert_eq!(seen["authorization"], "Bearer t0ken");
        assert_eq!(seen["referer"], format!("{base}/301"));
    }

    #[tokio::test]
    async fn see_other_becomes_a_get_and_307_keeps_method_and_body() {
        let base = server(None).await;
        let transport = Transport::new(false).unwrap();
        let (_, seen) = echo(
            &transport,
            request(M::Put, &format!("{base}/303"), Some("{\"a\":1}")),
        )
        .await;
        assert_eq!(
            (seen["method"].as_str(), seen["body"].as_str()),
            (Some("GET"), Some(""))
        );
        let (status, seen) = echo(
            &transport,
            request(M::Post, &format!("{base}/307"), Some("{\"a\":1}")),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(seen["method"], "POST");
        assert_eq!(seen["body"], "{\"a\":1}");
        assert_eq!(seen["content_type"], "application/json");
    }

    #[tokio::test]
    async fn credentials_are_not_sent_to_another_origin() {
        let other = server(None).await;
        let base = server(Some(other.clone())).await;
        let transport = Transport::new(false).unwrap();
        let (status, seen) = echo(&transport, request(M::Get, &format!("{base}/away"), None)).await;
        assert_eq!(status, 200);
        assert_eq!(seen["authorization"], Value::Null);
        assert_eq!(seen["method"], "GET");
    }

    #[tokio::test]
    async fn endless_and_non_http_redirects_are_errors() {
        let base = server(None).await;
        let transport = Transport::new(false).unwrap();
        let failed = transport
            .send(request(M::Get, &format!("{base}/loop"), None), None)
            .await
            .unwrap_err();
        assert_eq!(failed.failure, Failure::Broken);
        assert_eq!(failed.detail, "more than 10 redirects");
        let failed = transport
            .send(request(M::Get, &format!("{base}/nowhere"), None), None)
            .await
            .unwrap_err();
        assert!(failed.detail.contains("`ftp:` URL"), "{}", failed.detail);
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_connect_failure() {
        // A port just freed: nothing listens there.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        drop(listener);
        let transport = Transport::new(false).unwrap();
        let failed = transport
            .send(request(M::Post, &url, Some("{}")), None)
            .await
            .unwrap_err();
        assert_eq!(failed.failure, Failure::Connect);
        assert!(
            failed.detail.starts_with("could not connect ("),
            "{}",
            failed.detail
        );
    }

    /// A server that answers every connection with `answer` and then keeps it open, silent.
    async fn raw_server(answer: &'static [u8]) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer).await;
                let _ = socket.write_all(answer).await;
                open.push(socket);
            }
        });
        base
    }

    #[tokio::test]
    async fn a_silent_server_times_out_and_a_short_body_breaks_off() {
        let silent = raw_server(b"").await;
        let transport = Transport::new(false).unwrap();
        let failed = transport
            .send(
                request(M::Get, &format!("{silent}/x"), None),
                Some(Duration::from_millis(200)),
            )
            .await
            .unwrap_err();
        assert_eq!(failed.failure, Failure::Timeout { sent: true });
        assert_eq!(failed.detail, "timed out");
        // The head comes, the body stops short and the deadline passes while reading it.
        let short = raw_server(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"a\":").await;
        let answer = transport
            .send(
                request(M::Get, &format!("{short}/x"), None),
                Some(Duration::from_millis(300)),
            )
            .await
            .unwrap();
        assert_eq!(answer.status, 200);
        let failed = answer.bytes().await.unwrap_err();
        assert_eq!(failed.failure, Failure::Timeout { sent: true });
    }

    #[tokio::test]
    async fn a_body_cut_by_a_closed_connection_is_broken() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buffer = [0u8; 4096];
            let _ = socket.read(&mut buffer).await;
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"a\":")
                .await;
        });
        let transport = Transport::new(false).unwrap();
        let answer = transport
            .send(request(M::Get, &format!("{base}/x"), None), None)
            .await
            .unwrap();
        let failed = answer.bytes().await.unwrap_err();
        assert_eq!(failed.failure, Failure::Broken);
        assert!(
            failed.detail.starts_with("the connection failed ("),
            "{}",
            failed.detail
        );
    }

    /// A server that answers each request on a connection with its `Host` header and the
    /// connection's number, closing each connection after `per_connection` answers; how many
    /// connections it accepted.
    async fn counting_server(
        per_connection: usize,
    ) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let number = count.fetch_add(1, Ordering::SeqCst) + 1;
                tokio::spawn(async move {
                    let mut socket = BufReader::new(socket);
                    for _ in 0..per_connection {
                        let mut host = String::new();
                        loop {
                            let mut line = String::new();
                            if socket.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if line == "\r\n" {
                                break;
                            }
                            if let Some(value) = line.to_ascii_lowercase().strip_prefix("host:") {
                                host = value.trim().to_owned();
                            }
                        }
                        let body = format!("{{\"host\":\"{host}\",\"connection\":{number}}}");
                        let answer = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if socket.get_mut().write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                    // Closed without a word, as a server whose keep-alive time is up.
                });
            }
        });
        (base, accepted)
    }

    #[tokio::test]
    async fn a_connection_serves_request_after_request_with_the_host_named() {
        let (base, accepted) = counting_server(usize::MAX).await;
        let transport = Transport::new(false).unwrap();
        for _ in 0..5 {
            let (status, seen) =
                echo(&transport, request(M::Get, &format!("{base}/x"), None)).await;
            assert_eq!(status, 200);
            assert_eq!(seen["host"], base.trim_start_matches("http://"));
            assert_eq!(seen["connection"], 1);
        }
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_between_requests_is_replaced() {
        // Each connection answers once and closes: every request after the first finds the
        // pooled connection closed (or closing) and goes on a new one, without an error.
        let (base, accepted) = counting_server(1).await;
        let transport = Transport::new(false).unwrap();
        for expected in 1..=4 {
            let (status, seen) = echo(
                &transport,
                request(M::Post, &format!("{base}/x"), Some("{}")),
            )
            .await;
            assert_eq!(status, 200);
            assert_eq!(seen["connection"], expected);
        }
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 4);
    }

    #[test]
    fn a_request_that_cannot_be_sent_says_why() {
        let mut wire = Wire {
            method: M::Get,
            url: wire::Target::Parsed(Url::parse("http://127.0.0.1/x").unwrap()),
            headers: vec![("Bad Name".into(), "v".into())],
            body: None,
        };
        assert_eq!(
            Outgoing::new(&wire).unwrap_err(),
            "`Bad Name` is not a valid header name"
        );
        wire.headers = vec![("X-A".into(), "line\nbreak".into())];
        assert_eq!(
            Outgoing::new(&wire).unwrap_err(),
            "the value of header `x-a` cannot be sent"
        );
    }
}
