//! The transport against servers on loopback: redirects, failures, the connection pool.

use super::*;
use axum::Router;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Value, json};
use std::sync::atomic::AtomicBool;

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

fn request(method: crate::provider::Method, url: &str, body: Option<&str>) -> Outgoing {
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

/// A transport as a plain-HTTP run has it (no trusted root).
fn plain() -> Transport {
    Transport::new(tls_config(false).unwrap()).unwrap()
}

async fn echo(transport: &Transport, request: Outgoing) -> (u16, Value) {
    let sent = AtomicBool::new(false);
    let answer = transport.send(request, None, &sent).await.unwrap();
    assert!(sent.into_inner(), "an answered request was sent");
    let status = answer.status;
    let bytes = answer.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

use crate::provider::Method as M;

#[tokio::test]
async fn a_moved_post_is_followed_as_a_get_without_its_body() {
    let base = server(None).await;
    let transport = plain();
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
    let transport = plain();
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
    let transport = plain();
    let (status, seen) = echo(&transport, request(M::Get, &format!("{base}/away"), None)).await;
    assert_eq!(status, 200);
    assert_eq!(seen["authorization"], Value::Null);
    assert_eq!(seen["method"], "GET");
}

#[tokio::test]
async fn endless_and_non_http_redirects_are_errors() {
    let base = server(None).await;
    let transport = plain();
    let failed = transport
        .send(
            request(M::Get, &format!("{base}/loop"), None),
            None,
            &AtomicBool::new(false),
        )
        .await
        .unwrap_err();
    assert_eq!(failed.failure, Failure::Broken);
    assert_eq!(failed.detail, "more than 10 redirects");
    let failed = transport
        .send(
            request(M::Get, &format!("{base}/nowhere"), None),
            None,
            &AtomicBool::new(false),
        )
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
    let transport = plain();
    let sent = AtomicBool::new(false);
    let failed = transport
        .send(request(M::Post, &url, Some("{}")), None, &sent)
        .await
        .unwrap_err();
    assert_eq!(failed.failure, Failure::Connect);
    assert!(
        !sent.into_inner(),
        "nothing left: the request is not counted as sent"
    );
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
    let transport = plain();
    let failed = transport
        .send(
            request(M::Get, &format!("{silent}/x"), None),
            Some(Duration::from_millis(200)),
            &AtomicBool::new(false),
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
            &AtomicBool::new(false),
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
    let transport = plain();
    let answer = transport
        .send(
            request(M::Get, &format!("{base}/x"), None),
            None,
            &AtomicBool::new(false),
        )
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
async fn counting_server(per_connection: usize) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
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
    let transport = plain();
    for _ in 0..5 {
        let (status, seen) = echo(&transport, request(M::Get, &format!("{base}/x"), None)).await;
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
    let transport = plain();
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
