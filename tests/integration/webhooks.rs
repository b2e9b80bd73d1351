//! `notify:` webhooks: lifecycle events delivered to a receiver on 127.0.0.1, and a failing
//! webhook that is only a warning.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;

/// A receiver that records every JSON body POSTed to `/ok` and answers 500 on `/broken`.
fn receiver() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let (send, receive) = std::sync::mpsc::channel();
    crate::serve_in_background(async move {
        let app = Router::new()
            .route(
                "/ok",
                post(move |body: String| {
                    let record = record.clone();
                    async move {
                        let value = serde_json::from_str(&body).expect("JSON payloads");
                        record.lock().expect("lock").push(value);
                        StatusCode::NO_CONTENT
                    }
                }),
            )
            .route(
                "/broken",
                post(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("an address");
        send.send(format!("http://{addr}")).expect("the url");
        axum::serve(listener, app).await.expect("serves");
    });
    let url = receive.recv().expect("the receiver starts");
    (url, seen)
}

const SECRET: &str = "hook-secret-5d1e9b";

fn plan(base: &str, hooks: &str) -> String {
    format!(
        r#"version: 1
name: hooks
vars:
  base: "{base}"
  hooks: "{hooks}"
secrets:
  hook_token: {{ env: CP_HOOK_TOKEN }}
providers:
  api:
    type: http
    base_url: "{{{{ vars.base }}}}/_sandbox/http/api"
notify:
  - url: "{{{{ vars.hooks }}}}/ok"
    events: [run_started, step_finished, step_failed, run_finished]
    headers:
      Authorization: "Bearer {{{{ secrets.hook_token }}}}"
  - url: "{{{{ vars.hooks }}}}/broken"
steps:
  - id: fine
    provider: api
    action: request
    with: {{ method: GET, path: /fine }}
  - id: broken
    provider: api
    action: request
    with: {{ method: GET, path: "/x/status/503" }}
    on_error: continue
"#
    )
}

#[test]
fn lifecycle_events_reach_the_webhook_and_a_failing_one_is_a_warning() {
    let sandbox = callplan::sandbox::Sandbox::start_background(super::fast_config())
        .expect("the sandbox starts");
    let (hooks, seen) = receiver();
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("plan.yaml"), plan(&sandbox.url(), &hooks)).expect("written");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_callplan"))
        .args(["run", "plan.yaml"])
        .current_dir(dir.path())
        .env("CP_HOOK_TOKEN", SECRET)
        .output()
        .expect("callplan runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The run fails because of its step, not because of the broken webhook.
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("warning: webhook") && stderr.contains("/broken") && stderr.contains("500"),
        "{stderr}"
    );
    assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET));

    let events = seen.lock().expect("lock").clone();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        kinds,
        [
            "run_started",
            "step_finished",
            "step_finished",
            "step_failed",
            "run_finished"
        ],
        "{events:#?}"
    );
    assert_eq!(events[1]["step"]["id"], "fine");
    assert_eq!(events[1]["step"]["outcome"], "passed");
    assert_eq!(events[3]["step"]["status"], 503);
    assert_eq!(events[4]["status"], "failed");
    assert!(events.iter().all(|e| e["run_id"] == events[0]["run_id"]));
    assert!(
        !serde_json::to_string(&events)
            .unwrap_or_default()
            .contains(SECRET)
    );
}

#[test]
fn a_webhook_that_never_answers_does_not_hold_the_run() {
    let sandbox = callplan::sandbox::Sandbox::start_background(super::fast_config())
        .expect("the sandbox starts");
    let dir = tempfile::tempdir().expect("a temp dir");
    // A closed port: every delivery fails at once; the run still passes.
    std::fs::write(
        dir.path().join("plan.yaml"),
        plan(&sandbox.url(), "http://127.0.0.1:9").replace(
            "    with: { method: GET, path: \"/x/status/503\" }",
            "    with: { method: GET, path: /also-fine }",
        ),
    )
    .expect("written");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_callplan"))
        .args(["run", "plan.yaml"])
        .current_dir(dir.path())
        .env("CP_HOOK_TOKEN", SECRET)
        .output()
        .expect("callplan runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("warning: webhook"), "{stderr}");
}
