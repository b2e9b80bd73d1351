//! A proxy from the environment (`HTTP_PROXY`) carries a run's requests, as it carries any HTTP
//! client's: the request reaches the proxy in absolute form, and the proxy's answer is the step's.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use crate::run::{PlanFile, assert_exit, assert_step};

/// A proxy on a random loopback port that answers every request itself; what it was asked.
fn proxy() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream);
            let mut head = Vec::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push(line.trim_end().to_owned());
            }
            record.lock().expect("the record").push(head.join("\n"));
            let body = r#"{"id":"via-proxy"}"#;
            let _ = write!(
                reader.get_mut(),
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, seen)
}

#[test]
fn requests_go_through_the_environment_s_proxy() {
    let (proxy_url, seen) = proxy();
    // Nothing listens on the discard port: only the proxy can answer.
    let plan = PlanFile::new(
        r#"version: 1
name: proxied
providers:
  crm:
    type: http
    base_url: http://127.0.0.1:9/api
steps:
  - id: customer
    provider: crm
    action: request
    with: { method: GET, path: /customers/42 }
    expect: [ response.status == 200, response.body.id == "via-proxy" ]
"#,
    );
    let out = plan.run(&[], &[("HTTP_PROXY", &proxy_url)]);
    assert_exit(&out, 0);
    assert_step(&out, "customer", "PASS");
    let seen = seen.lock().expect("the record");
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].starts_with("GET http://127.0.0.1:9/api/customers/42 HTTP/1.1"),
        "{}",
        seen[0]
    );
    // Without the variable the same plan cannot connect: the proxy was what answered.
    let out = plan.run(&[], &[]);
    assert_exit(&out, 1);
    let line = assert_step(&out, "customer", "ERROR");
    assert!(line.contains("could not connect"), "{line}");
}
