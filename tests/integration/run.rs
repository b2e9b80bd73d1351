//! `callplan run`: the real binary against a sandbox each test starts with the configuration it
//! needs (faults, token lifetime, time scale), judged by what users see (exit code, step lines,
//! messages) and by the sandbox's ledger of the calls it placed.
//!
//! Every plan is written to a temporary directory and run with `--sandbox-url`, so every request
//! goes to 127.0.0.1. Timing assertions are lower bounds only.

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use callplan::sandbox::config::{DEFAULT_USER_ID, Fault, FaultKind};
use callplan::sandbox::{Config, Sandbox};
use serde_json::Value;
use tempfile::TempDir;

use crate::{Output, callplan_in, fast_config, root};

/// The route that places a Genesys call on behalf of a user.
pub(crate) const PLACE: &str = "POST /api/v2/conversations/calls/user/{userId}";
/// The Genesys login.
pub(crate) const LOGIN: &str = "POST /oauth/token";
/// How many requests a counting fault lets through (far more than any test sends).
const COUNTED: u32 = 10_000;
/// How long a test waits for something that should take a second or two.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

/// The head of a Genesys plan: the default agent as `vars.user`, and provider `gc` with client
/// credentials from `CP_GC_ID` and `CP_GC_SECRET` (the sandbox supplies its own when unset).
const GENESYS: &str = r#"vars:
  user: 00000000-0000-4000-8000-000000000001
secrets:
  id: { env: CP_GC_ID }
  secret: { env: CP_GC_SECRET }
providers:
  gc:
    type: genesys-cloud
    region: mypurecloud.com
    auth:
      grant: client_credentials
      client_id: "{{ secrets.id }}"
      client_secret: "{{ secrets.secret }}"
"#;

/// A plan named `name`: [`GENESYS`], then `rest` (a guard, the steps).
pub(crate) fn genesys_plan(name: &str, rest: &str) -> String {
    format!("version: 1\nname: {name}\n{GENESYS}{rest}")
}

/// `yaml` with `line` inserted after the first line that is `after` (one more var, secret or
/// provider setting in a plan made by [`genesys_plan`]).
pub(crate) fn insert(yaml: &str, after: &str, line: &str) -> String {
    yaml.replacen(&format!("{after}\n"), &format!("{after}\n{line}\n"), 1)
}

/// A plan file, `plan.yaml`, in a directory of its own.
pub(crate) struct PlanFile {
    dir: TempDir,
}

impl PlanFile {
    pub(crate) fn new(yaml: &str) -> PlanFile {
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::write(dir.path().join("plan.yaml"), yaml).expect("the plan is written");
        PlanFile { dir }
    }

    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `callplan run plan.yaml ARGS...` in the plan's directory, with `env` set.
    pub(crate) fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = run_command(self.dir(), "plan.yaml", args);
        command.envs(env.iter().copied());
        let out = command.output().expect("callplan runs");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The same, against `sandbox`.
    pub(crate) fn run_against(
        &self,
        sandbox: &Sandbox,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Output {
        let url = sandbox.url();
        let mut all = vec!["--sandbox-url", url.as_str()];
        all.extend_from_slice(args);
        self.run(&all, env)
    }
}

/// `callplan run PLAN ARGS...` in `dir`, with none of the `CP_*` variables the tests' secrets
/// read set from the outside, and no proxy between callplan and the sandbox.
pub(crate) fn run_command(dir: &Path, plan: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_callplan"));
    command.arg("run").arg(plan).args(args).current_dir(dir);
    for (name, _) in std::env::vars_os() {
        let text = name.to_string_lossy();
        if text.starts_with("CP_") || text.to_ascii_lowercase().ends_with("_proxy") {
            command.env_remove(&name);
        }
    }
    command.env_remove("GITHUB_STEP_SUMMARY");
    command
}

/// A sandbox on its own thread.
pub(crate) fn sandbox(config: Config) -> Sandbox {
    Sandbox::start_background(config).expect("the sandbox starts")
}

/// The ledger as JSON, as `GET /_sandbox/calls` lists it.
pub(crate) fn ledger(sandbox: &Sandbox) -> Vec<Value> {
    sandbox
        .ledger()
        .iter()
        .map(|entry| serde_json::to_value(entry).expect("a ledger entry is JSON"))
        .collect()
}

/// A fault that changes nothing and counts: a stall of no time on every request of `route`.
pub(crate) fn counter(route: &str) -> Fault {
    Fault {
        duration: Duration::ZERO,
        count: COUNTED,
        ..Fault::new(route, FaultKind::Stall)
    }
}

/// `GET url`, as JSON.
pub(crate) fn get_json(url: &str) -> Value {
    callplan::provider::connection::install_crypto();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("a client");
        let response = client.get(url).send().await.expect("the sandbox answers");
        assert_eq!(response.status(), 200, "GET {url}");
        response.json().await.expect("JSON")
    })
}

/// How many requests the faults on `route` have taken so far (from `GET /_sandbox/faults`).
pub(crate) fn faulted(sandbox: &Sandbox, route: &str) -> u32 {
    let listing = get_json(&format!("{}/_sandbox/faults", sandbox.url()));
    listing["faults"]
        .as_array()
        .expect("a list of faults")
        .iter()
        .filter(|f| f["fault"]["route"] == route)
        .map(|f| {
            let count = f["fault"]["count"].as_u64().expect("count");
            let left = f["remaining"].as_u64().expect("remaining");
            u32::try_from(count - left).expect("a small number")
        })
        .sum()
}

/// The label (`PASS`, `FAIL`, `ERROR`, `SKIP`, `WARN`) of the console line of step `id`
/// (`dial`, or `dial[2]` for an item), and that line with its indented message lines.
pub(crate) fn step(stdout: &str, id: &str) -> Option<(String, String)> {
    let mut lines = stdout.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(rest) = line.strip_prefix("  ") else {
            continue;
        };
        let (Some(label), Some(after)) = (rest.get(..5), rest.get(5..)) else {
            continue;
        };
        let Some(after) = after.strip_prefix(' ') else {
            continue;
        };
        if after != id && !after.starts_with(&format!("{id} ")) {
            continue;
        }
        let mut text = line.to_owned();
        while let Some(more) = lines.next_if(|l| l.starts_with("        ")) {
            text.push('\n');
            text.push_str(more.trim());
        }
        return Some((label.trim().to_owned(), text));
    }
    None
}

/// Asserts step `id` has `label`; returns its line and messages.
#[track_caller]
pub(crate) fn assert_step(out: &Output, id: &str, label: &str) -> String {
    // No line at all reads as an empty label.
    let (found, text) = step(&out.stdout, id).unwrap_or_default();
    assert_eq!(found, label, "step `{id}`: {text}\n{out:#?}");
    text
}

/// Asserts the exit code, showing the whole output when it differs.
#[track_caller]
pub(crate) fn assert_exit(out: &Output, code: i32) {
    assert_eq!(out.code, code, "exit code\n{out:#?}");
}

// ---------------------------------------------------------------------------------------------
// Every catalogue action.

#[test]
fn every_genesys_action_runs_against_the_sandbox() {
    let plan = PlanFile::new(&insert(
        &genesys_plan(
            "genesys-catalogue",
            r#"  agent:
    type: genesys-cloud
    region: mypurecloud.com
    auth: { grant: bearer, token: "{{ secrets.t }}" }
guard:
  allow_destinations: ["+1317555****"]
steps:
  - id: user
    provider: gc
    action: users.get
    with: { user_id: "{{ vars.user }}", expand: [routingStatus, station] }
    expect: [response.status == 200, response.body.id == vars.user]
  - id: routing
    provider: gc
    action: users.routing_status
    with: { user_id: "{{ vars.user }}" }
    expect: [response.status == 200, response.body.status == "IDLE"]
  - id: dial
    provider: agent
    action: calls.create
    with: { phoneNumber: "+13175550100" }
    expect: [response.status == 200]
    save: { conversation_id: "{{ response.body.id }}" }
  - id: answered
    provider: agent
    action: calls.wait
    with:
      conversation_id: "{{ steps.dial.conversation_id }}"
      until: connected
      interval: 10ms
      timeout: 10s
    timeout: 15s
    expect: [response.call.state == "connected"]
  - id: read
    provider: agent
    action: calls.get
    with: { conversation_id: "{{ steps.dial.conversation_id }}" }
    expect: [response.status == 200, response.body.id == steps.dial.conversation_id]
  - id: hangup
    provider: agent
    action: calls.disconnect
    with: { conversation_id: "{{ steps.dial.conversation_id }}" }
    expect: [response.status == 202]
  - id: dial_for_user
    provider: gc
    action: calls.create_for_user
    with: { user_id: "{{ vars.user }}", phoneNumber: "+13175550110" }
    expect: [response.status == 200]
    save: { conversation_id: "{{ response.body.id }}" }
  - id: teardown
    provider: gc
    action: conversations.disconnect
    with: { conversation_id: "{{ steps.dial_for_user.conversation_id }}" }
    expect: [response.status == 202]
  - id: contact
    provider: gc
    action: external_contacts.create
    with: { firstName: Ada, lastName: Lovelace, workEmail: ada@example.com }
    expect: [response.status == 200]
    save: { id: "{{ response.body.id }}" }
  - id: contact_read
    provider: gc
    action: external_contacts.get
    with: { contact_id: "{{ steps.contact.id }}" }
    expect: [response.body.lastName == "Lovelace"]
  - id: contact_update
    provider: gc
    action: external_contacts.update
    with: { contact_id: "{{ steps.contact.id }}", firstName: Ada, lastName: King }
    expect: [response.status == 200, response.body.lastName == "King"]
  - id: contact_search
    provider: gc
    action: external_contacts.search
    with: { q: King, pageSize: 10 }
    expect: [response.status == 200, response.body.total == 1]
  - id: contact_delete
    provider: gc
    action: external_contacts.delete
    with: { contact_id: "{{ steps.contact.id }}" }
    expect: ["response.status in [200, 204]"]
  - id: contact_gone
    provider: gc
    action: external_contacts.get
    with: { contact_id: "{{ steps.contact.id }}" }
    expect: [response.status == 404]
  - id: callback
    provider: gc
    action: callbacks.create
    with: { queueId: 00000000-0000-4000-8000-00000000a001, callbackNumbers: ["+13175550101"] }
    expect: [response.status == 200]
  - id: raw
    provider: gc
    action: request
    with: { method: GET, path: /api/v2/tokens/me }
    expect: [response.status == 200]
"#,
        ),
        "secrets:",
        "  t: { env: CP_GC_USER_TOKEN }",
    ));
    let sb = sandbox(fast_config());
    let out = plan.run_against(
        &sb,
        &[],
        &[
            ("CP_GC_ID", "sandbox-client"),
            ("CP_GC_SECRET", "sandbox-secret"),
            ("CP_GC_USER_TOKEN", "sandbox-user-token"),
        ],
    );
    assert_exit(&out, 0);
    for id in [
        "user",
        "routing",
        "dial",
        "answered",
        "read",
        "hangup",
        "dial_for_user",
        "teardown",
        "contact",
        "contact_read",
        "contact_update",
        "contact_search",
        "contact_delete",
        "contact_gone",
        "callback",
        "raw",
    ] {
        assert_step(&out, id, "PASS");
    }
    assert!(out.stdout.contains("call connected"), "{out:#?}");
    assert!(
        !out.stdout.contains("secrets not set"),
        "every secret was set: {out:#?}"
    );
    let calls = ledger(&sb);
    assert_eq!(calls.len(), 3, "two calls and a callback: {calls:#?}");
    // The user token places the call as its user; the user hangs up, so the customer leg ends
    // as the peer.
    assert_eq!(calls[0]["destination"], "+13175550100");
    assert_eq!(calls[0]["caller"], DEFAULT_USER_ID);
    assert_eq!(calls[0]["end_reason"], "peer");
    // Client credentials place it on the user's behalf; the teardown ends it for everyone.
    assert_eq!(calls[1]["destination"], "+13175550110");
    assert_eq!(calls[1]["caller"], "sandbox-client");
    assert_eq!(calls[1]["end_reason"], "forced");
    assert_eq!(calls[2]["kind"], "callback");
    assert_eq!(calls[2]["destination"], "+13175550101");
}

#[test]
fn every_cxone_action_runs_against_the_sandbox() {
    let plan = PlanFile::new(
        r#"version: 1
name: cxone-catalogue
secrets:
  key_id: { env: CP_CX_KEY_ID }
  key_secret: { env: CP_CX_KEY_SECRET }
  app_id: { env: CP_CX_APP_ID }
  app_secret: { env: CP_CX_APP_SECRET }
providers:
  cx:
    type: nice-cxone
    auth:
      grant: password
      access_key_id: "{{ secrets.key_id }}"
      access_key_secret: "{{ secrets.key_secret }}"
      client_id: "{{ secrets.app_id }}"
      client_secret: "{{ secrets.app_secret }}"
guard:
  allow_destinations: ["+1317555****"]
steps:
  - id: session
    provider: cx
    action: agent_sessions.start
    with: { stationId: "12345" }
    expect: [response.status == 202]
    save: { session_id: "{{ response.body.sessionId }}" }
  - id: dial
    provider: cx
    action: agent_sessions.dial
    with:
      session_id: "{{ steps.session.session_id }}"
      phoneNumber: "+13175550100"
      skillId: 4000123
    expect: [response.status == 202]
  - id: active
    provider: cx
    action: calls.wait
    with: { session_id: "{{ steps.session.session_id }}", until: Active, timeout: 10s }
    timeout: 20s
    expect: [response.call.state == "Active"]
    save: { contact_id: "{{ response.call.contact_id }}" }
  - id: listed
    provider: cx
    action: contacts.active
    with: { toAddress: "+13175550100" }
    expect: [response.status == 200]
  - id: detail
    provider: cx
    action: contacts.get
    with: { contact_id: "{{ steps.active.contact_id }}" }
    expect: [response.status == 200]
  - id: end_contact
    provider: cx
    action: agent_sessions.end_contact
    with:
      session_id: "{{ steps.session.session_id }}"
      contact_id: "{{ steps.active.contact_id }}"
    expect: [response.status == 202]
  - id: events
    provider: cx
    action: agent_sessions.next_event
    with: { session_id: "{{ steps.session.session_id }}", timeout: 1 }
    expect: ["response.status in [200, 304]"]
  - id: script
    provider: cx
    action: scripts.start
    with: { skillId: 4000123, scriptPath: "Company\\OutboundSmoke" }
    expect: [response.status == 200]
    save: { contact_id: "{{ response.body.contactId }}" }
  - id: force_end
    provider: cx
    action: contacts.end
    with: { contact_id: "{{ steps.script.contact_id }}" }
    expect: [response.status == 202]
  - id: callback
    provider: cx
    action: callbacks.request
    with: { phoneNumber: "+13175550101", skill: 4000123 }
    expect: [response.status == 202]
  - id: raw
    provider: cx
    action: request
    with: { method: GET, path: "/contacts/{{ steps.active.contact_id }}" }
    expect: [response.status == 200]
  - id: logout
    provider: cx
    action: agent_sessions.end
    with: { session_id: "{{ steps.session.session_id }}", endContacts: true }
    expect: [response.status == 202]
"#,
    );
    let sb = sandbox(fast_config());
    let out = plan.run_against(&sb, &[], &[]);
    assert_exit(&out, 0);
    for id in [
        "session",
        "dial",
        "active",
        "listed",
        "detail",
        "end_contact",
        "events",
        "script",
        "force_end",
        "callback",
        "raw",
        "logout",
    ] {
        assert_step(&out, id, "PASS");
    }
    // No secret was set: the sandbox supplied its own credentials, and said so.
    assert!(
        out.stdout.contains(
            "note: secrets not set, the sandbox supplies its own: `key_id` (environment variable CP_CX_KEY_ID)"
        ),
        "{out:#?}"
    );
    let calls = ledger(&sb);
    let dialed: Vec<&Value> = calls
        .iter()
        .filter(|c| c["destination"] == "+13175550100")
        .collect();
    assert_eq!(dialed.len(), 1, "dialed once: {calls:#?}");
    assert_eq!(dialed[0]["vendor"], "nice-cxone");
    assert_eq!(dialed[0]["state"], "disconnected", "{calls:#?}");
    assert!(
        calls
            .iter()
            .any(|c| c["kind"] == "callback" && c["destination"] == "+13175550101"),
        "the callback is queued: {calls:#?}"
    );
}

#[test]
fn http_providers_send_bearer_basic_and_oauth2_credentials() {
    let plan = PlanFile::new(
        r#"version: 1
name: http-auth
secrets:
  crm_token: { env: CP_CRM_TOKEN }
  status_password: { env: CP_STATUS_PASSWORD }
  billing_secret: { env: CP_BILLING_SECRET }
providers:
  crm:
    type: http
    base_url: https://crm.example.com/api
    auth: { type: bearer, token: "{{ secrets.crm_token }}" }
    headers: { X-Source: callplan }
  status:
    type: http
    base_url: https://status.example.com
    auth: { type: basic, username: monitor, password: "{{ secrets.status_password }}" }
  billing:
    type: http
    base_url: https://billing.example.com
    auth:
      type: oauth2_client_credentials
      token_url: https://auth.example.com/oauth2/token
      client_id: callplan-smoke
      client_secret: "{{ secrets.billing_secret }}"
      scope: "calls:read"
steps:
  - id: crm
    provider: crm
    action: request
    with:
      method: POST
      path: /customers/42/calls
      query: { tag: smoke }
      body: { answered: true }
    expect:
      - response.status == 201
      - response.body.method == "POST"
      - response.body.path == "/crm/customers/42/calls"
      - response.body.query.tag == "smoke"
      - response.body.headers.authorization == "Bearer ****"
      - response.body.headers["x-source"] == "callplan"
      - response.body.body.answered == true
  - id: status
    provider: status
    action: request
    with: { method: GET, path: /health }
    expect:
      - response.status == 200
      - response.body.headers.authorization == "Basic ****"
  - id: billing
    provider: billing
    action: request
    with: { method: GET, path: /invoices/7 }
    expect:
      - response.status == 200
      - response.body.path == "/billing/invoices/7"
      - response.body.headers.authorization == "Bearer ****"
"#,
    );
    let sb = sandbox(fast_config());
    sb.add_fault(counter("POST /_sandbox/oauth2/token"))
        .expect("a valid fault");
    let out = plan.run_against(&sb, &[], &[("CP_CRM_TOKEN", "crm-token-5e0d")]);
    assert_exit(&out, 0);
    for id in ["crm", "status", "billing"] {
        assert_step(&out, id, "PASS");
    }
    assert_eq!(
        faulted(&sb, "POST /_sandbox/oauth2/token"),
        1,
        "the OAuth2 token was fetched once"
    );
    assert!(!out.stdout.contains("crm-token-5e0d"), "{out:#?}");
}

// ---------------------------------------------------------------------------------------------
// Expectations, saves, conditions and error policies.

#[test]
fn expectations_saves_and_conditions() {
    let plan = PlanFile::new(
        r#"version: 1
name: flow
vars:
  dial_enabled: false
providers:
  api:
    type: http
    base_url: https://api.example.com
steps:
  - id: a
    provider: api
    action: request
    with: { method: POST, path: /things, body: { name: first } }
    save: { x: "{{ response.body.body.name }}" }
  - id: b
    provider: api
    action: request
    with: { method: GET, path: "/things/{{ steps.a.x }}" }
    expect: ['response.body.path == "/api/things/first"']
  - id: disabled
    if: vars.dial_enabled
    provider: api
    action: request
    with: { method: GET, path: /never }
  - id: taken
    if: steps.b.outcome == "passed"
    provider: api
    action: request
    with: { method: GET, path: /taken }
  - id: bad
    provider: api
    action: request
    with: { method: GET, path: /orders/status/400 }
    expect: [response.status == 200]
    on_error: continue
  - id: body
    provider: api
    action: request
    with: { method: GET, path: /orders }
    expect: ['response.body.method == "POST"']
"#,
    );
    let sb = sandbox(fast_config());
    let out = plan.run_against(&sb, &[], &[]);
    assert_exit(&out, 1);
    assert_step(&out, "a", "PASS");
    // `b` read what `a` saved: its expectation checks the path it was sent to.
    assert_step(&out, "b", "PASS");
    let disabled = assert_step(&out, "disabled", "SKIP");
    assert!(
        disabled.contains("`if: vars.dial_enabled` was false"),
        "{disabled}"
    );
    assert_step(&out, "taken", "PASS");
    let bad = assert_step(&out, "bad", "FAIL");
    assert!(
        bad.contains("expected `response.status == 200`, but `response.status` was 400"),
        "{bad}"
    );
    let body = assert_step(&out, "body", "FAIL");
    assert!(
        body.contains(
            r#"expected `response.body.method == "POST"`, but `response.body.method` was "GET""#
        ),
        "{body}"
    );
    assert!(out.stdout.contains("FAILED: step `bad` failed"), "{out:#?}");
    assert!(
        out.stdout
            .contains("3 passed, 2 failed, 0 errored, 1 skipped"),
        "{out:#?}"
    );
}

/// A plan whose first step fails with `on_error: {policy}`, then dials, then runs two `always`
/// steps: a hang-up of that dial, and a request that always applies.
fn after_a_failure(policy: &str) -> (Output, Vec<Value>) {
    let plan = PlanFile::new(&genesys_plan(
        "policies",
        &r#"  api:
    type: http
    base_url: https://api.example.com
steps:
  - id: bad
    provider: api
    action: request
    with: { method: GET, path: /health/status/503 }
    on_error: POLICY
  - id: dial
    provider: gc
    action: calls.create_for_user
    with: { user_id: "{{ vars.user }}", phoneNumber: "+13175550100" }
    save: { conversation_id: "{{ response.body.id }}" }
  - id: hangup
    provider: gc
    action: conversations.disconnect
    if: steps.dial.outcome == "passed"
    with: { conversation_id: "{{ steps.dial.conversation_id }}" }
    always: true
  - id: audit
    provider: api
    action: request
    with: { method: POST, path: /audit, body: { bad: "{{ steps.bad.outcome }}" } }
    expect: ['response.body.body.bad == "errored"']
    always: true
"#
        .replace("POLICY", policy),
    ));
    let sb = sandbox(fast_config());
    let out = plan.run_against(&sb, &[], &[]);
    (out, ledger(&sb))
}

#[test]
fn on_error_abort_skips_later_steps_but_runs_the_always_steps() {
    let (out, calls) = after_a_failure("abort");
    assert_exit(&out, 1);
    let bad = assert_step(&out, "bad", "ERROR");
    assert!(bad.contains("HTTP 503"), "{bad}");
    let dial = assert_step(&out, "dial", "SKIP");
    assert!(
        dial.contains("not run: step `bad` failed and its on_error is abort"),
        "{dial}"
    );
    assert!(calls.is_empty(), "nothing was dialed: {calls:#?}");
    let hangup = assert_step(&out, "hangup", "SKIP");
    assert!(hangup.contains("was false"), "{hangup}");
    assert_step(&out, "audit", "PASS");
}

#[test]
fn on_error_continue_runs_later_steps_and_fails_the_run() {
    let (out, calls) = after_a_failure("continue");
    assert_exit(&out, 1);
    assert_step(&out, "bad", "ERROR");
    assert_step(&out, "dial", "PASS");
    assert_step(&out, "hangup", "PASS");
    assert_step(&out, "audit", "PASS");
    assert!(out.stdout.contains("FAILED: step `bad` failed"), "{out:#?}");
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0]["end_reason"], "forced");
}

#[test]
fn on_error_ignore_warns_and_passes() {
    let (out, calls) = after_a_failure("ignore");
    assert_exit(&out, 0);
    let bad = assert_step(&out, "bad", "WARN");
    assert!(bad.contains("HTTP 503"), "{bad}");
    assert_step(&out, "dial", "PASS");
    assert_step(&out, "hangup", "PASS");
    assert!(out.stdout.contains("\npassed\n"), "{out:#?}");
    assert_eq!(calls.len(), 1, "{calls:#?}");
}

// ---------------------------------------------------------------------------------------------
// Retries, and the requests that must never be sent twice.

#[test]
fn a_read_is_retried_after_server_errors_until_it_passes() {
    let plan = PlanFile::new(&genesys_plan(
        "retry-reads",
        r#"steps:
  - id: user
    provider: gc
    action: users.get
    with: { user_id: "{{ vars.user }}" }
    retry: { attempts: 3, initial: 10ms }
    expect: [response.status == 200]
"#,
    ));
    let sb = sandbox(fast_config());
    sb.add_fault(Fault {
        status: Some(503),
        count: 2,
        ..Fault::new("GET /api/v2/users/{userId}", FaultKind::Status)
    })
    .expect("a valid fault");
    let out = plan.run_against(&sb, &[], &[]);
    assert_exit(&out, 0);
    let user = assert_step(&out, "user", "PASS");
    assert!(user.contains("(3 attempts)"), "{user}");
    // The failures were retried, not left as a hint on a step that passed.
    assert!(!user.contains("hint:"), "{user}");
    let retries: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("  retry user: attempt "))
        .collect();
    assert_eq!(retries.len(), 2, "{out:#?}");
    for line in &retries {
        assert!(line.contains("HTTP 503 service.unavailable"), "{line}");
        // A jittered delay reads in milliseconds, not nanoseconds.
        let delay = line.rsplit("retrying in ").next().unwrap_or_default();
        assert!(
            delay.ends_with("ms") && !delay.contains("us") && !delay.contains("ns"),
            "{line}"
        );
    }
    assert_eq!(faulted(&sb, "GET /api/v2/users/{userId}"), 2);
}

#[test]
fn a_rate_limited_read_waits_for_retry_after() {
    let plan = PlanFile::new(&genesys_plan(
        "retry-after",
        r#"steps:
  - id: status
    provider: gc
    action: users.routing_status
    with: { user_id: "{{ vars.user }}" }
    retry: { attempts: 2, initial: 10ms }
    expect: [response.status == 200]
"#,
    ));
    let sb = sandbox(fast_config());
    sb.add_fault(Fault {
        status: Some(429),
        retry_after: Some(1),
        ..Fault::new(
            "GET /api/v2/users/{userId}/routingstatus",
            FaultKind::Status,
        )
    })
    .expect("a valid fault");
    let started = Instant::now();
    let out = plan.run_against(&sb, &[], &[]);
    let took = started.elapsed();
    assert_exit(&out, 0);
    let status = assert_step(&out, "status", "PASS");
    assert!(status.contains("(2 attempts)"), "{status}");
    let retry = out
        .stdout
        .lines()
        .find(|l| l.starts_with("  retry status: attempt 1 failed: "))
        .unwrap_or_else(|| panic!("no retry line\n{out:#?}"));
    assert!(
        retry.contains("HTTP 429 too.many.requests")
            && retry.ends_with("(HTTP 429, Retry-After 1 s); retrying in 1 s"),
        "{retry}"
    );
    assert!(
        took >= Duration::from_secs(1),
        "Retry-After 1 was waited: {took:?}"
    );
}

/// A dial on behalf of the agent with `retry: {attempts: 3}` and `timeout`, against a sandbox
/// with `fault` on the dial (and `provider_timeout` on the provider, if any).
fn dial_with(fault: Fault, provider_timeout: Option<&str>, timeout: &str) -> (Output, Vec<Value>) {
    let mut yaml = genesys_plan(
        "dial-once",
        &r#"steps:
  - id: dial
    provider: gc
    action: calls.create_for_user
    with: { user_id: "{{ vars.user }}", phoneNumber: "+13175550100" }
    retry: { attempts: 3, initial: 10ms }
    timeout: TIMEOUT
"#
        .replace("TIMEOUT", timeout),
    );
    if let Some(t) = provider_timeout {
        yaml = insert(
            &yaml,
            "    region: mypurecloud.com",
            &format!("    timeout: {t}"),
        );
    }
    let plan = PlanFile::new(&yaml);
    let sb = sandbox(fast_config());
    sb.add_fault(fault).expect("a valid fault");
    let out = plan.run_against(&sb, &[], &[]);
    (out, ledger(&sb))
}

/// A stall past the timeout on a call that was placed.
fn placed_then_stalled() -> Fault {
    Fault {
        processed: true,
        duration: Duration::from_secs(5),
        ..Fault::new(PLACE, FaultKind::Stall)
    }
}

#[test]
fn a_dial_that_timed_out_after_sending_is_not_sent_again() {
    let (out, calls) = dial_with(placed_then_stalled(), Some("500ms"), "5s");
    assert_exit(&out, 1);
    let dial = assert_step(&out, "dial", "ERROR");
    assert!(
        dial.contains("timed out")
            && dial.contains("not retried: the request may have reached the server")
            && dial.contains("set `retry.unsafe: true` to retry anyway"),
        "{dial}"
    );
    assert!(!out.stdout.contains("retry dial"), "{out:#?}");
    assert_eq!(calls.len(), 1, "dialed exactly once: {calls:#?}");
}

#[test]
fn a_dial_that_ran_out_of_step_time_is_not_sent_again() {
    let (out, calls) = dial_with(placed_then_stalled(), None, "1s");
    assert_exit(&out, 1);
    let dial = assert_step(&out, "dial", "ERROR");
    // The step's budget and the request's timeout are both 1s; either may fire first, and both
    // say why nothing was sent again.
    assert!(
        dial.contains("may have reached the") && dial.contains("timed out"),
        "{dial}"
    );
    assert!(!out.stdout.contains("retry dial"), "{out:#?}");
    assert_eq!(calls.len(), 1, "dialed exactly once: {calls:#?}");
}

#[test]
fn a_dial_whose_connection_dropped_is_not_sent_again() {
    let dropped = Fault {
        processed: true,
        ..Fault::new(PLACE, FaultKind::Drop)
    };
    let (out, calls) = dial_with(dropped, None, "5s");
    assert_exit(&out, 1);
    let dial = assert_step(&out, "dial", "ERROR");
    assert!(
        dial.contains("not retried: the request may have reached the server")
            && dial.contains("the connection broke after sending"),
        "{dial}"
    );
    assert!(!out.stdout.contains("retry dial"), "{out:#?}");
    assert_eq!(calls.len(), 1, "dialed exactly once: {calls:#?}");
}

// ---------------------------------------------------------------------------------------------
// Tokens that expire during the run.

/// Dials, waits about 1.5 s for the answer (time scale 0.5), hangs up, with Genesys tokens that
/// live `lifetime`; returns the run, how many logins it made, and the ledger.
fn outlive_the_token(lifetime: Duration) -> (Output, u32, Vec<Value>) {
    let plan = PlanFile::new(&genesys_plan(
        "token-expiry",
        r#"steps:
  - id: dial
    provider: gc
    action: calls.create_for_user
    with: { user_id: "{{ vars.user }}", phoneNumber: "+13175550100" }
    save: { conversation_id: "{{ response.body.id }}" }
  - id: answered
    provider: gc
    action: calls.wait
    with:
      conversation_id: "{{ steps.dial.conversation_id }}"
      until: connected
      interval: 200ms
      timeout: 20s
    timeout: 30s
  - id: hangup
    provider: gc
    action: conversations.disconnect
    with: { conversation_id: "{{ steps.dial.conversation_id }}" }
    always: true
"#,
    ));
    let mut config = Config {
        time_scale: 0.5,
        ..Config::default()
    };
    config.genesys.token_lifetime = lifetime;
    config.faults.push(counter(LOGIN));
    let sb = sandbox(config);
    let out = plan.run_against(&sb, &[], &[]);
    (out, faulted(&sb, LOGIN), ledger(&sb))
}

/// The run passed, logging in more than once, and hung up its one call.
#[track_caller]
fn assert_renewed(out: &Output, logins: u32, calls: &[Value]) {
    assert_exit(out, 0);
    assert_step(out, "answered", "PASS");
    assert_step(out, "hangup", "PASS");
    assert!(logins >= 2, "logged in again: {logins} logins");
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0]["end_reason"], "forced", "{calls:#?}");
}

#[test]
fn a_token_that_expires_mid_run_is_renewed_before_it_expires() {
    // `expires_in: 1`: callplan renews it shortly before the second is up.
    let (out, logins, calls) = outlive_the_token(Duration::from_secs(1));
    assert_renewed(&out, logins, &calls);
}

#[test]
fn a_token_refused_as_expired_is_renewed_and_the_request_sent_again() {
    // `expires_in` still says 1 s, but the sandbox refuses the token after 300 ms: the polls in
    // between get 401 `bad.credentials`, and only a fresh token lets the run pass.
    let (out, logins, calls) = outlive_the_token(Duration::from_millis(300));
    assert_renewed(&out, logins, &calls);
}

// ---------------------------------------------------------------------------------------------
// Runs that cannot start.

/// A plan of one dial, and nothing else.
fn one_dial_yaml(name: &str) -> String {
    genesys_plan(
        name,
        r#"steps:
  - id: dial
    provider: gc
    action: calls.create_for_user
    with: { user_id: "{{ vars.user }}", phoneNumber: "+13175550100" }
"#,
    )
}

/// [`one_dial_yaml`], written.
fn one_dial(name: &str) -> PlanFile {
    PlanFile::new(&one_dial_yaml(name))
}

#[test]
fn a_wrong_client_secret_stops_the_run_before_anything_is_sent() {
    let plan = one_dial("wrong-secret");
    let sb = sandbox(fast_config());
    let out = plan.run_against(&sb, &[], &[("CP_GC_SECRET", "not-the-secret-2f7c")]);
    assert_exit(&out, 3);
    assert!(
        out.stderr.contains("error: provider `gc` could not log in")
            && out.stderr.contains("answered 401 (invalid_client"),
        "{out:#?}"
    );
    assert!(
        out.stderr
            .contains("check `auth.client_id`, `auth.client_secret`"),
        "{out:#?}"
    );
    assert!(out.stderr.contains("nothing was run"), "{out:#?}");
    assert!(step(&out.stdout, "dial").is_none(), "{out:#?}");
    assert!(
        !format!("{out:?}").contains("not-the-secret-2f7c"),
        "{out:#?}"
    );
    assert!(ledger(&sb).is_empty());
}

#[test]
fn a_wrong_cxone_access_key_stops_the_run_before_anything_is_sent() {
    let plan = PlanFile::new(
        r#"version: 1
name: wrong-key
secrets:
  key_id: { env: CP_CX_KEY_ID }
  key_secret: { env: CP_CX_KEY_SECRET }
  app_id: { env: CP_CX_APP_ID }
  app_secret: { env: CP_CX_APP_SECRET }
providers:
  cx:
    type: nice-cxone
    auth:
      grant: password
      access_key_id: "{{ secrets.key_id }}"
      access_key_secret: "{{ secrets.key_secret }}"
      client_id: "{{ secrets.app_id }}"
      client_secret: "{{ secrets.app_secret }}"
steps:
  - id: session
    provider: cx
    action: agent_sessions.start
    with: { stationId: "12345" }
"#,
    );
    let sb = sandbox(fast_config());
    let out = plan.run_against(&sb, &[], &[("CP_CX_KEY_SECRET", "not-the-key-81d0")]);
    assert_exit(&out, 3);
    assert!(
        out.stderr.contains("error: provider `cx` could not log in")
            && out.stderr.contains("invalid_grant")
            && out.stderr.contains("`auth.access_key_secret`"),
        "{out:#?}"
    );
    assert!(step(&out.stdout, "session").is_none(), "{out:#?}");
}

#[test]
fn an_unreachable_provider_stops_the_run() {
    // A port nothing listens on: bound, then let go.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let url = format!("http://{closed}");
    let out = one_dial("unreachable").run(&["--sandbox-url", &url], &[]);
    assert_exit(&out, 3);
    assert!(
        out.stderr.contains("error: provider `gc` is unreachable")
            && out.stderr.contains(&format!("{url}/oauth/token")),
        "{out:#?}"
    );
    assert!(
        out.stderr
            .contains("hint: check providers.gc's URL and the network"),
        "{out:#?}"
    );
    assert!(out.stderr.contains("nothing was run"), "{out:#?}");
}

// ---------------------------------------------------------------------------------------------
// Ctrl-C.

#[test]
fn ctrl_c_stops_the_wait_and_runs_the_always_steps() {
    let plan = PlanFile::new(&genesys_plan(
        "interrupted",
        r#"steps:
  - id: dial
    provider: gc
    action: calls.create_for_user
    with: { user_id: "{{ vars.user }}", phoneNumber: "+13175550102" }
    save: { conversation_id: "{{ response.body.id }}" }
  - id: answered
    provider: gc
    action: calls.wait
    with: { conversation_id: "{{ steps.dial.conversation_id }}", until: connected, timeout: 60s }
    timeout: 75s
  - id: later
    provider: gc
    action: users.get
    with: { user_id: "{{ vars.user }}" }
  - id: hangup
    provider: gc
    action: conversations.disconnect
    if: steps.dial.outcome == "passed"
    with: { conversation_id: "{{ steps.dial.conversation_id }}" }
    always: true
"#,
    ));
    // Real time: the number rings for 30 s and nobody answers.
    let sb = sandbox(Config {
        time_scale: 1.0,
        ..Config::default()
    });
    let url = sb.url();
    let mut child = run_command(plan.dir(), "plan.yaml", &["--sandbox-url", &url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("callplan starts");
    let stdout = child.stdout.take().expect("stdout");
    let (lines, received) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    // The dial has finished: the run is waiting for an answer that never comes.
    while !seen.iter().any(|l: &String| l.starts_with("  PASS  dial ")) {
        match received.recv_timeout(PATIENCE) {
            Ok(line) => seen.push(line),
            Err(e) => {
                let _ = child.kill();
                panic!("no dial line ({e}): {seen:#?}");
            }
        }
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(kill.success());
    while let Ok(line) = received.recv_timeout(PATIENCE) {
        seen.push(line);
    }
    reader.join().expect("the reader thread");
    let status = child.wait().expect("callplan exits");
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        err.read_to_string(&mut stderr).expect("stderr");
    }
    let out = Output {
        code: status.code().unwrap_or(-1),
        stdout: seen.join("\n") + "\n",
        stderr,
    };
    assert_exit(&out, 130);
    let answered = assert_step(&out, "answered", "ERROR");
    assert!(answered.contains("interrupted"), "{answered}");
    let later = assert_step(&out, "later", "SKIP");
    assert!(later.contains("not run: interrupted"), "{later}");
    assert_step(&out, "hangup", "PASS");
    assert!(out.stdout.contains("INTERRUPTED"), "{out:#?}");
    assert!(
        out.stderr
            .contains("interrupted: finishing the `always` steps"),
        "{out:#?}"
    );
    let calls = ledger(&sb);
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0]["state"], "disconnected", "{calls:#?}");
    assert_eq!(
        calls[0]["end_reason"], "forced",
        "hung up by the always step, not by the 30 s ring: {calls:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// --dry-run.

#[test]
fn a_dry_run_shows_every_request_masks_secrets_and_sends_nothing() {
    let plan = PlanFile::new(
        r#"version: 1
name: dry
vars:
  user: 00000000-0000-4000-8000-000000000001
secrets:
  id: { env: CP_DRY_GC_ID }
  secret: { env: CP_DRY_GC_SECRET }
  crm_token: { env: CP_DRY_CRM_TOKEN }
  api_key: { env: CP_DRY_API_KEY }
providers:
  gc:
    type: genesys-cloud
    region: mypurecloud.com
    auth:
      grant: client_credentials
      client_id: "{{ secrets.id }}"
      client_secret: "{{ secrets.secret }}"
  crm:
    type: http
    base_url: https://crm.example.com/api
    auth: { type: bearer, token: "{{ secrets.crm_token }}" }
steps:
  - id: dial
    provider: gc
    action: calls.create_for_user
    with: { user_id: "{{ vars.user }}", phoneNumber: "+13175550100" }
    save: { conversation_id: "{{ response.body.id }}" }
  - id: hangup
    provider: gc
    action: conversations.disconnect
    with: { conversation_id: "{{ steps.dial.conversation_id }}" }
    always: true
  - id: note
    provider: crm
    action: request
    with:
      method: POST
      path: /notes
      headers: { X-Api-Key: "{{ secrets.api_key }}" }
      body:
        conversation: "{{ steps.dial.conversation_id }}"
        signed: "{{ secrets.api_key | b64encode }}"
"#,
    );
    let secrets = [
        ("CP_DRY_GC_ID", "dry-client-id-4d1e"),
        ("CP_DRY_GC_SECRET", "dry-client-secret-8b2f"),
        ("CP_DRY_CRM_TOKEN", "dry-crm-token-77aa"),
        ("CP_DRY_API_KEY", "dry-api-key-31c9"),
    ];
    let mut config = fast_config();
    config.faults.push(counter(LOGIN));
    config.faults.push(counter("* /_sandbox/http/crm/{*rest}"));
    let sb = sandbox(config);
    let out = plan.run_against(&sb, &["--dry-run"], &secrets);
    assert_exit(&out, 0);
    let url = sb.url();
    for expected in [
        format!("provider gc: logs in with POST {url}/oauth/token"),
        format!("step dial: POST {url}/api/v2/conversations/calls/user/{DEFAULT_USER_ID}"),
        format!(
            "step hangup (always): POST {url}/api/v2/conversations/<steps.dial.conversation_id>/disconnect"
        ),
        format!("step note: POST {url}/_sandbox/http/crm/notes"),
        "    X-Api-Key: <secret api_key>".to_owned(),
        "    Authorization: Bearer <access token>".to_owned(),
        "    Authorization: Bearer <secret crm_token>".to_owned(),
        r#"{"phoneNumber":"+13175550100"}"#.to_owned(),
        r#""signed":"<secrets.api_key | b64encode>""#.to_owned(),
    ] {
        assert!(out.stdout.contains(&expected), "{expected}\n{out:#?}");
    }
    let printed = format!("{}{}", out.stdout, out.stderr);
    for (_, secret) in secrets {
        assert!(!printed.contains(secret), "{secret} shown:\n{printed}");
        let encoded = base64::engine::general_purpose::STANDARD.encode(secret);
        assert!(
            !printed.contains(&encoded),
            "{secret} shown in base64:\n{printed}"
        );
    }
    let basic = base64::engine::general_purpose::STANDARD
        .encode("dry-client-id-4d1e:dry-client-secret-8b2f");
    assert!(!printed.contains(&basic), "{printed}");
    // Nothing reached the sandbox: no login, no request, no call.
    assert_eq!(faulted(&sb, LOGIN), 0);
    assert_eq!(faulted(&sb, "* /_sandbox/http/crm/{*rest}"), 0);
    assert!(ledger(&sb).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Mistakes new users make.

#[test]
fn a_typo_in_a_step_reference_is_located_and_nothing_is_sent() {
    let yaml = genesys_plan(
        "typo",
        r#"steps:
  - id: dial
    provider: gc
    action: calls.create_for_user
    with: { user_id: "{{ vars.user }}", phoneNumber: "+13175550100" }
    save: { conversation_id: "{{ response.body.id }}" }
  - id: hangup
    provider: gc
    action: conversations.disconnect
    with: { conversation_id: "{{ steps.dail.conversation_id }}" }
    always: true
"#,
    );
    let (line, col) = yaml
        .lines()
        .enumerate()
        .find_map(|(i, l)| l.find("steps.dail").map(|c| (i + 1, c + 1)))
        .expect("the typo is in the plan");
    let plan = PlanFile::new(&yaml);
    let sb = sandbox(fast_config());
    let url = sb.url();
    let out = callplan_in(plan.dir(), &["run", "plan.yaml", "--sandbox-url", &url]);
    assert_exit(&out, 2);
    assert!(
        out.stderr.contains(&format!("plan.yaml:{line}:{col}")),
        "at {line}:{col}\n{out:#?}"
    );
    assert!(
        out.stderr.contains("unknown step `dail`") && out.stderr.contains("did you mean `dial`?"),
        "{out:#?}"
    );
    assert!(
        out.stderr
            .contains("plan.yaml is not a valid plan; nothing was sent"),
        "{out:#?}"
    );
    assert!(ledger(&sb).is_empty());
}

#[test]
fn a_var_that_is_not_e164_fails_the_dial_with_a_message() {
    let plan = PlanFile::new(&insert(
        &genesys_plan(
            "not-e164",
            r#"steps:
  - id: dial
    provider: gc
    action: calls.create_for_user
    with: { user_id: "{{ vars.user }}", phoneNumber: "{{ vars.destination }}" }
    save: { conversation_id: "{{ response.body.id }}" }
  - id: hangup
    provider: gc
    action: conversations.disconnect
    with: { conversation_id: "{{ steps.dial.conversation_id }}" }
    always: true
"#,
        ),
        "vars:",
        r#"  destination: "+13175550100""#,
    ));
    let sb = sandbox(fast_config());
    let out = plan.run_against(&sb, &["--var", "destination=555-0100"], &[]);
    assert_exit(&out, 1);
    let dial = assert_step(&out, "dial", "ERROR");
    assert!(
        dial.contains("with.phoneNumber: `555-0100` is not an E.164 phone number")
            && dial.contains("`e164` filter"),
        "{dial}"
    );
    // The clean-up has nothing to hang up: it is skipped, naming the value the dial never saved.
    let hangup = assert_step(&out, "hangup", "SKIP");
    assert!(
        hangup.contains(
            "it reads `steps.dial.conversation_id`, which step `dial` did not save (`dial` errored)"
        ),
        "{hangup}"
    );
    assert!(!out.stderr.contains("panicked"), "{out:#?}");
    assert!(ledger(&sb).is_empty());
}

#[test]
fn vars_come_from_the_environment_in_either_case_and_var_flags_win() {
    let plan = PlanFile::new(
        r#"version: 1
name: env-vars
vars:
  ticket_ref: none
providers:
  api:
    type: http
    base_url: https://api.example.com
steps:
  - id: get
    provider: api
    action: request
    with: { method: GET, path: "/tickets/{{ vars.ticket_ref }}" }
    save: { path: "{{ response.body.path }}" }
"#,
    );
    let sb = sandbox(fast_config());
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], &'a str);
    let cases: [Case; 4] = [
        (
            &[("CALLPLAN_VAR_ticket_ref", "as-written")],
            &[],
            "as-written",
        ),
        (&[("CALLPLAN_VAR_TICKET_REF", "upper")], &[], "upper"),
        (
            &[
                ("CALLPLAN_VAR_ticket_ref", "as-written"),
                ("CALLPLAN_VAR_TICKET_REF", "upper"),
            ],
            &[],
            "as-written",
        ),
        (
            &[("CALLPLAN_VAR_TICKET_REF", "upper")],
            &["--var", "ticket_ref=flag"],
            "flag",
        ),
    ];
    for (env, args, expected) in cases {
        let mut all = vec!["--report", "json:r.json"];
        all.extend_from_slice(args);
        let out = plan.run_against(&sb, &all, env);
        assert_exit(&out, 0);
        let report: Value = serde_json::from_str(
            &std::fs::read_to_string(plan.dir().join("r.json")).expect("the report"),
        )
        .expect("JSON");
        assert_eq!(
            report["steps"][0]["items"][0]["saved"]["path"],
            format!("/api/tickets/{expected}"),
            "{env:?} {args:?}\n{out:#?}"
        );
    }
}

#[test]
fn an_undeclared_var_is_refused_with_a_suggestion() {
    let plan = one_dial("undeclared-var");
    let sb = sandbox(fast_config());
    let url = sb.url();
    let out = callplan_in(
        plan.dir(),
        &[
            "run",
            "plan.yaml",
            "--sandbox-url",
            &url,
            "--var",
            "usr=someone",
        ],
    );
    assert_exit(&out, 2);
    assert!(
        out.stderr.contains(
            "error: --var usr: the plan declares no var `usr` (did you mean `user`?); declared: user"
        ),
        "{out:#?}"
    );
    assert!(ledger(&sb).is_empty());
}

#[test]
fn missing_secrets_without_a_sandbox_name_their_variables() {
    // Were the run to go ahead, it would find nothing listening here.
    let plan = PlanFile::new(&one_dial_yaml("missing-secrets").replace(
        "    region: mypurecloud.com\n",
        "    base_url: http://127.0.0.1:9\n",
    ));
    let out = plan.run(&[], &[("CP_GC_ID", "some-client")]);
    assert_exit(&out, 2);
    assert!(
        out.stderr.contains(
            "error: secrets not set: `secret` (environment variable CP_GC_SECRET); set them, or use --env-file"
        ),
        "{out:#?}"
    );
    assert!(
        !out.stderr.contains("CP_GC_ID"),
        "that one is set: {out:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// The guard.

#[test]
fn the_guard_refusing_the_first_dial_means_the_run_could_not_run() {
    let plan = PlanFile::new(&insert(
        &genesys_plan(
            "guarded",
            r#"guard:
  allow_destinations: ["+1317555****"]
steps:
  - id: dial
    provider: gc
    action: calls.create_for_user
    with: { user_id: "{{ vars.user }}", phoneNumber: "{{ vars.destination }}" }
"#,
        ),
        "vars:",
        r#"  destination: "+13175550100""#,
    ));
    let sb = sandbox(fast_config());
    // `check` judged the declared number; the override is judged when the step runs.
    let out = plan.run_against(&sb, &["--var", "destination=+442079460000"], &[]);
    assert_exit(&out, 3);
    let dial = assert_step(&out, "dial", "SKIP");
    assert!(
        dial.contains(
            "the guard refused: +442079460000 matches none of allow_destinations (+1317555****)"
        ),
        "{dial}"
    );
    assert!(
        out.stdout
            .contains("could not run: the guard refused the plan's first dial"),
        "{out:#?}"
    );
    assert!(ledger(&sb).is_empty());
}

#[test]
fn the_guard_skips_dials_past_max_calls() {
    let plan = PlanFile::new(&genesys_plan(
        "max-calls",
        r#"guard:
  allow_destinations: ["+1317555****"]
  max_calls: 2
steps:
  - id: dial
    provider: gc
    action: calls.create_for_user
    for_each: ["+13175550100", "+13175550101", "+13175550104"]
    as: number
    with: { user_id: "{{ vars.user }}", phoneNumber: "{{ number }}" }
  - id: again
    provider: gc
    action: calls.create_for_user
    with: { user_id: "{{ vars.user }}", phoneNumber: "+13175550100" }
"#,
    ));
    let sb = sandbox(fast_config());
    let out = plan.run_against(&sb, &[], &[]);
    assert_step(&out, "dial[1]", "PASS");
    assert_step(&out, "dial[2]", "PASS");
    for id in ["dial[3]", "again"] {
        let skipped = assert_step(&out, id, "SKIP");
        assert!(
            skipped.contains("the guard refused: max_calls (2) reached"),
            "{skipped}"
        );
    }
    // Refusing a dial past the limit is the guard doing its job, not a failure of the run.
    assert_exit(&out, 0);
    let calls = ledger(&sb);
    let dialed: Vec<&Value> = calls.iter().map(|c| &c["destination"]).collect();
    assert_eq!(dialed, ["+13175550100", "+13175550101"], "{calls:#?}");
}

// ---------------------------------------------------------------------------------------------
// The examples.

/// The example plans (and their data files) copied into `dir`, so that nothing a run writes lands
/// in the repository; the plans' paths, sorted.
pub(crate) fn example_plans(dir: &Path) -> Vec<PathBuf> {
    let mut plans: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir(root().join("plans")).expect("plans/") {
        let path = entry.expect("an entry").path();
        if path.is_file() {
            let target = dir.join(path.file_name().expect("a name"));
            std::fs::copy(&path, &target).expect("copied");
            if path.extension().is_some_and(|x| x == "yaml") {
                plans.push(target);
            }
        }
    }
    plans.sort();
    assert!(plans.len() >= 6, "{plans:?}");
    plans
}

/// `callplan run PLAN ARGS...` for an example plan, with none of the environment variables its
/// secrets read: a sandbox's own credentials stand in, whatever the environment holds.
pub(crate) fn example_command(dir: &Path, plan: &Path, args: &[&str]) -> Command {
    let model = callplan::plan::check_file(plan)
        .plan
        .expect("the example is a valid plan");
    let mut command = run_command(dir, plan.to_str().expect("a UTF-8 path"), args);
    for source in model.secrets.values() {
        if let callplan::plan::raw::SecretSource::Env(var) = source {
            command.env_remove(var);
        }
    }
    command
}

#[test]
fn every_example_plan_runs_with_the_built_in_sandbox() {
    let copy = tempfile::tempdir().expect("a temporary directory");
    let plans = example_plans(copy.path());
    // In parallel: each waits about a second for its call to be answered.
    let children: Vec<_> = plans
        .iter()
        .map(|plan| {
            let child = example_command(copy.path(), plan, &["--sandbox"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("callplan starts");
            (plan, child)
        })
        .collect();
    for (plan, child) in children {
        let out = child.wait_with_output().expect("callplan exits");
        let out = Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert_eq!(out.code, 0, "{}\n{out:#?}", plan.display());
        assert!(
            out.stdout
                .contains("note: running against the built-in sandbox at http://127.0.0.1:"),
            "{out:#?}"
        );
        assert!(out.stdout.contains("\npassed\n"), "{out:#?}");
        assert!(!out.stdout.contains("  FAIL "), "{out:#?}");
    }
}

/// The README's sample output is what its first command prints, but for the port, the run id and
/// the measured times.
#[test]
fn the_readme_shows_what_its_first_command_prints() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let command = "cargo run --release -- run plans/";
    let plan = readme
        .split(command)
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the README's first command");
    assert!(
        readme.contains(&format!("{command}{plan} --sandbox")),
        "{plan}"
    );
    let shown = readme
        .split("The first command ")
        .nth(1)
        .and_then(|rest| rest.split("```text\n").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("the sample output after \"The first command\"");

    let copy = tempfile::tempdir().expect("a temporary directory");
    example_plans(copy.path());
    let out = example_command(copy.path(), &copy.path().join(plan), &["--sandbox"])
        .env("CI", "true")
        .output()
        .expect("callplan runs");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        normalized(&printed),
        normalized(shown),
        "the README's sample output differs from what `callplan run {plan} --sandbox` prints:\n{printed}"
    );
}

/// Output with the sandbox's port, the run id and durations replaced, and columns single-spaced.
fn normalized(output: &str) -> String {
    const UNITS: &[&str] = &["ns", "µs", "ms", "s", "m", "h", "d"];
    let mut lines = Vec::new();
    for line in output.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let mut out: Vec<String> = Vec::new();
        let mut unit = false;
        for (i, word) in words.iter().enumerate() {
            // The unit of a duration just replaced.
            if std::mem::take(&mut unit) {
                out.push(word.trim_start_matches(char::is_alphabetic).to_owned());
                continue;
            }
            let next_is_unit = words
                .get(i + 1)
                .is_some_and(|u| UNITS.contains(&u.trim_end_matches([',', ')'])));
            let number = !word.is_empty() && word.chars().all(|c| c.is_ascii_digit() || c == '.');
            out.push(if number && next_is_unit {
                unit = true;
                "DURATION".to_owned()
            } else if let Some(at) = word.find("127.0.0.1:") {
                format!("{}PORT", &word[..at + "127.0.0.1:".len()])
            } else if word.len() == 37 && word.ends_with(':') && word.matches('-').count() == 4 {
                "RUN-ID:".to_owned()
            } else {
                (*word).to_owned()
            });
        }
        out.retain(|w| !w.is_empty());
        lines.push(out.join(" "));
    }
    lines.join("\n").trim().to_owned()
}

/// A plan whose requests fit its provider's rate limit never waits for callplan's pacing: the
/// smoke dial's steps take the sandbox's time, and the report says none of it was queueing.
#[test]
fn the_smoke_dial_never_waits_for_pacing() {
    let copy = tempfile::tempdir().expect("a temporary directory");
    example_plans(copy.path());
    let plan = copy.path().join("genesys-agent-call.yaml");
    let text = std::fs::read_to_string(&plan).expect("the plan");
    assert!(
        text.contains("rate_limit: { requests: 300, per: 1m }"),
        "the smoke dial is paced"
    );
    let out = example_command(
        copy.path(),
        &plan,
        &["--sandbox", "--report", "json:r.json"],
    )
    .output()
    .expect("callplan runs");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(copy.path().join("r.json")).expect("the report"),
    )
    .expect("JSON");
    let mut steps = 0;
    for step in report["steps"].as_array().expect("steps") {
        for item in step["items"].as_array().expect("items") {
            steps += 1;
            assert_eq!(item["queued_ms"], 0, "{}: {item:#}", step["id"]);
        }
    }
    assert_eq!(steps, 4, "{report:#}");
}
