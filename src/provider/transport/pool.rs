//! The connections of a transport: made with hyper-util's connector (TCP with nodelay and
//! keep-alive, then rustls for HTTPS), handshaken with hyper's HTTP/1.1, and kept between
//! requests in a list scanned for the origin (a run talks to a handful).

use std::sync::PoisonError;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1;
use hyper_util::client::legacy::connect::HttpConnector;
use reqwest::Url;
use reqwest::header::HeaderValue;
use tokio::time::Instant;
use tower_service::Service as _;

use super::{Failed, Transport, describe, within};
use crate::provider::failure::Failure;

/// How long an idle pooled connection is kept (reqwest's default).
const POOL_IDLE: Duration = Duration::from_secs(90);

/// TCP keep-alive probing of pooled connections (reqwest's defaults).
const KEEPALIVE: Duration = Duration::from_secs(15);
const KEEPALIVE_RETRIES: u32 = 3;

/// What makes a connection: TCP, then TLS for an `https` URL.
pub(super) type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// The connector, with `config` for TLS.
pub(super) fn connector(config: rustls::ClientConfig) -> Connector {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_keepalive(Some(KEEPALIVE));
    http.set_keepalive_interval(Some(KEEPALIVE));
    http.set_keepalive_retries(Some(KEEPALIVE_RETRIES));
    hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http)
}

/// Where a connection goes.
#[derive(Debug)]
pub(super) struct Origin {
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
pub(super) struct Conn {
    origin: Origin,
    pub(super) sender: http1::SendRequest<Full<Bytes>>,
    /// When it last went idle.
    since: Instant,
}

impl Transport {
    /// An idle connection to `url`'s origin, the most recently used; connections that closed
    /// or idled too long are let go.
    pub(super) fn take(&self, url: &Url) -> Option<Conn> {
        let mut idle = self.0.idle.lock().unwrap_or_else(PoisonError::into_inner);
        idle.retain(|c| !c.sender.is_closed() && c.since.elapsed() < POOL_IDLE);
        let at = idle.iter().rposition(|c| c.origin.is(url))?;
        Some(idle.remove(at))
    }

    /// A connection back in the pool once its answer has been read whole.
    pub(super) fn give_back(&self, mut conn: Conn) {
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
    pub(super) async fn connect(
        &self,
        url: &Url,
        deadline: Option<Instant>,
    ) -> Result<Conn, Failed> {
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
pub(super) fn origin_form(url: &Url) -> Result<hyper::Uri, Failed> {
    let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
    hyper::Uri::try_from(path)
        .map_err(|e| Failed::new(Failure::Connect, format!("not a valid URL ({e})")))
}

/// The `Host` header of `url`: its host, and its port unless the scheme's own.
pub(super) fn host(url: &Url) -> Result<HeaderValue, Failed> {
    let host = url.host_str().unwrap_or_default();
    let value = match url.port() {
        Some(port) => HeaderValue::from_str(&format!("{host}:{port}")),
        None => HeaderValue::from_str(host),
    };
    value.map_err(|e| Failed::new(Failure::Connect, format!("not a valid host ({e})")))
}
