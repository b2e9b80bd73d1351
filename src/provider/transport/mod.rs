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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::proxy::matcher::Matcher;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use tokio::time::Instant;

use super::failure::Failure;
use super::wire::{self, Wire};

mod pool;
#[cfg(test)]
mod tests;

/// The most redirects followed for one request (reqwest's default).
const MAX_REDIRECTS: usize = 10;

/// A redirect's own body is read (so that its connection is kept) up to this size.
const DRAINED: u64 = 64 * 1024;

/// The TLS settings every client of a run shares: the platform's roots when `tls`, read once
/// (a few hundred files; a run that only talks plain HTTP, to the sandbox, skips them), and no
/// trusted root otherwise. No ALPN: hyper-rustls wants none for an HTTP/1.1-only connector, and a
/// server then speaks HTTP/1.1.
pub(crate) fn tls_config(tls: bool) -> Result<rustls::ClientConfig, String> {
    super::connection::install_crypto();
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    Ok(if tls {
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
    })
}

/// The reqwest client builder every reqwest client of a run starts from: callplan's
/// `User-Agent` and the run's TLS settings ([`tls_config`]).
pub(crate) fn reqwest_builder(tls: rustls::ClientConfig) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(wire::USER_AGENT)
        .tls_backend_preconfigured(tls)
}

/// The HTTP client of a run's requests; cheap to clone (its pool is shared).
#[derive(Clone)]
pub struct Transport(Arc<Inner>);

struct Inner {
    connector: pool::Connector,
    /// Connections between requests, the most recently used last.
    idle: Mutex<Vec<pool::Conn>>,
    /// The environment's proxies, and the client that goes through them (only when a proxy
    /// variable is set: otherwise no URL is matched at all).
    proxies: Option<(Matcher, reqwest::Client)>,
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
    /// A transport with the run's TLS settings ([`tls_config`]).
    pub fn new(tls: rustls::ClientConfig) -> Result<Transport, String> {
        let connector = pool::connector(tls.clone());
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
    /// `timeout` bounds the whole exchange, the body included ([`Answer::bytes`]). `sent` is set
    /// as the request is handed to a connection that is up: before that (connecting, waiting for
    /// a pooled connection) nothing has left, and a failure or timeout says so.
    pub async fn send(
        &self,
        request: Outgoing,
        timeout: Option<Duration>,
        sent: &AtomicBool,
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
            let answer = self
                .hop(&method, &url, &headers, &body, deadline, sent)
                .await?;
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
            if next.origin() != url.origin() {
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
        sent: &AtomicBool,
    ) -> Result<Answer, Failed> {
        if let Some((matcher, proxied)) = &self.0.proxies {
            let uri = to_uri(url)
                .map_err(|why| Failed::new(Failure::Connect, format!("not a valid URL ({why})")))?;
            if matcher.intercept(&uri).is_some() {
                let request = proxied
                    .request(method.clone(), url.clone())
                    .headers(headers.clone())
                    .body(body.clone());
                // reqwest does not tell when the request leaves: from here it may have.
                sent.store(true, Ordering::Relaxed);
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
        *request.uri_mut() = pool::origin_form(url)?;
        *request.headers_mut() = headers.clone();
        if !request.headers().contains_key(header::HOST) {
            request.headers_mut().insert(header::HOST, pool::host(url)?);
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
            let before = sent.swap(true, Ordering::Relaxed);
            let answered = within(deadline, conn.sender.try_send_request(request))
                .await
                .ok_or_else(|| Failed::timed_out(true))?;
            match answered {
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
                    Some(back) if reused => {
                        sent.store(before, Ordering::Relaxed);
                        request = back;
                    }
                    Some(_) => {
                        sent.store(before, Ordering::Relaxed);
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
    Direct(Incoming, Option<(Transport, pool::Conn)>),
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
