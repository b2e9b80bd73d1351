//! HTTPS as a provider serves it: a server on loopback with a certificate from a test CA
//! (`tests/tls/`: `ca.pem`, and `server.pem` for 127.0.0.1 with its key, valid until 2126).
//! callplan verifies it against the platform's roots, which `SSL_CERT_FILE` names here as it
//! does for any program that reads the system's certificates.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::root;
use crate::run::{PlanFile, assert_exit, assert_step};

/// An HTTPS server on a random loopback port answering every request with a small JSON
/// document; its base URL.
fn https_server() -> String {
    let dir = root().join("tests/tls");
    let certs = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .expect("the certificate")
        .collect::<Result<Vec<_>, _>>()
        .expect("a PEM certificate");
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).expect("the key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("a server configuration");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    listener.set_nonblocking(true).expect("non-blocking");
    let url = format!("https://{}", listener.local_addr().expect("an address"));
    crate::serve_in_background(async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("a listener");
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that refuses the certificate ends here.
                let Ok(stream) = acceptor.accept(socket).await else {
                    return;
                };
                let mut stream = BufReader::new(stream);
                loop {
                    let mut line = String::new();
                    if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let body = r#"{"id":"over-tls"}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.get_mut().write_all(answer.as_bytes()).await;
                let _ = stream.get_mut().shutdown().await;
            });
        }
    });
    url
}

#[test]
fn https_is_verified_against_the_platform_s_roots() {
    let url = https_server();
    let plan = PlanFile::new(&format!(
        r#"version: 1
name: over-tls
providers:
  crm:
    type: http
    base_url: {url}/api
steps:
  - id: customer
    provider: crm
    action: request
    with: {{ method: GET, path: /customers/42 }}
    expect: [ response.status == 200, response.body.id == "over-tls" ]
"#
    ));
    let ca = root().join("tests/tls/ca.pem");
    let out = plan.run(
        &[],
        &[("SSL_CERT_FILE", ca.to_str().expect("a UTF-8 path"))],
    );
    assert_exit(&out, 0);
    assert_step(&out, "customer", "PASS");
    // Without the test CA among the roots, the certificate is refused before anything is sent.
    let empty = plan.dir().join("no-roots.pem");
    std::fs::write(&empty, "").expect("an empty bundle");
    let out = plan.run(
        &[],
        &[("SSL_CERT_FILE", empty.to_str().expect("a UTF-8 path"))],
    );
    assert_exit(&out, 1);
    let line = assert_step(&out, "customer", "ERROR");
    assert!(
        line.contains("could not connect") && line.contains("certificate"),
        "{line}"
    );
}
