//! The accept loop.
//!
//! Written on hyper directly rather than with `axum::serve` for one reason: a `drop` fault must
//! be able to close a client's connection without answering, and only the task that owns the
//! connection can do that. Each connection gets a [`Hangup`] handle in its requests'
//! extensions; firing it ends the connection at once.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tower::ServiceExt as _;

/// Closes the connection a request arrived on, without a response.
#[derive(Debug, Clone)]
pub(super) struct Hangup(Arc<Notify>);

impl Hangup {
    /// Ends the connection; the request's handler is dropped with it.
    pub(super) fn fire(&self) {
        self.0.notify_one();
    }
}

/// Serves `app` on `listener` until `stop` turns true.
pub(super) async fn serve(listener: TcpListener, app: Router, mut stop: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    // Out of file descriptors and the like: back off instead of spinning.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let hangup = Hangup(Arc::new(Notify::new()));
                let tagged = hangup.clone();
                let service = app.clone().map_request(move |mut request: Request<_>| {
                    request.extensions_mut().insert(tagged.clone());
                    request
                });
                connections.spawn(async move {
                    let connection = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(Duration::from_secs(30))
                        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
                    tokio::select! {
                        _ = connection => {}
                        _ = hangup.0.notified() => {}
                    }
                });
            }
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.abort_all();
}
