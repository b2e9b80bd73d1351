//! No secret ever leaves: runs with known secret values, and every byte of every output searched
//! for them and for their base64 forms.

use base64::Engine as _;

use callplan::sandbox::config::{Client, User};

const CLIENT_ID: &str = "cid-7f3a9c41e2";
const CLIENT_SECRET: &str = "csec-91b2c7d0aa5e";
const USER_TOKEN: &str = "utok-4c8e1f2b9d77";
const CRM_TOKEN: &str = "crm-tok-6a0d3e5f81";
const HOOK_TOKEN: &str = "hook-tok-2b7c9e4d10";

fn needles() -> Vec<String> {
    let mut all = Vec::new();
    for s in [CLIENT_ID, CLIENT_SECRET, USER_TOKEN, CRM_TOKEN, HOOK_TOKEN] {
        all.push(s.to_owned());
        all.push(base64::engine::general_purpose::STANDARD.encode(s));
    }
    // The Basic credentials as sent on the wire.
    all.push(
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")),
    );
    all
}

fn plan(hooks: &str) -> String {
    format!(
        r#"version: 1
name: secret-search
vars:
  agent: 00000000-0000-4000-8000-000000000001
  hooks: "{hooks}"
secrets:
  gc_id: {{ env: CP_GC_ID }}
  gc_secret: {{ env: CP_GC_SECRET }}
  user_token: {{ env: CP_USER_TOKEN }}
  crm_token: {{ env: CP_CRM_TOKEN }}
  hook_token: {{ env: CP_HOOK_TOKEN }}
providers:
  gc:
    type: genesys-cloud
    base_url: "{{{{ vars.hooks }}}}"
    auth:
      grant: client_credentials
      client_id: "{{{{ secrets.gc_id }}}}"
      client_secret: "{{{{ secrets.gc_secret }}}}"
  agent:
    type: genesys-cloud
    base_url: "{{{{ vars.hooks }}}}"
    auth: {{ grant: bearer, token: "{{{{ secrets.user_token }}}}" }}
  crm:
    type: http
    base_url: "{{{{ vars.hooks }}}}/_sandbox/http/crm"
    auth: {{ type: bearer, token: "{{{{ secrets.crm_token }}}}" }}
    headers:
      X-Api-Key: "{{{{ secrets.crm_token }}}}"
notify:
  - url: "{{{{ vars.hooks }}}}/_sandbox/http/hooks"
    events: [run_started, step_finished, run_finished]
    headers:
      Authorization: "Bearer {{{{ secrets.hook_token }}}}"
steps:
  - id: dial
    provider: gc
    action: calls.create_for_user
    with: {{ user_id: "{{{{ vars.agent }}}}", phoneNumber: "+13175550100" }}
    save:
      conversation_id: "{{{{ response.body.id }}}}"
  - id: own_call
    provider: agent
    action: calls.create
    with: {{ phoneNumber: "+13175550100" }}
  - id: echo
    provider: crm
    action: request
    with:
      method: POST
      path: /notes
      body:
        note: "token {{{{ secrets.crm_token }}}} should never show"
    save:
      echoed: "{{{{ response.body.body.note }}}}"
  - id: fails
    provider: crm
    action: request
    with:
      method: POST
      path: "/x/status/500"
      body: {{ leak: "{{{{ secrets.crm_token }}}}" }}
    expect: ["response.status == 200"]
    on_error: continue
  - id: hangup
    provider: gc
    action: conversations.disconnect
    with: {{ conversation_id: "{{{{ steps.dial.conversation_id }}}}" }}
    always: true
"#
    )
}

#[test]
fn no_secret_appears_in_any_output() {
    let mut config = super::fast_config();
    config.genesys.clients = vec![Client {
        id: CLIENT_ID.into(),
        secret: CLIENT_SECRET.into(),
        name: "secret search".into(),
    }];
    config.genesys.users = vec![User {
        id: "00000000-0000-4000-8000-000000000001".into(),
        name: "Agent".into(),
        token: Some(USER_TOKEN.into()),
        station: true,
        routing_status: "IDLE".into(),
    }];
    let sandbox = callplan::sandbox::Sandbox::start_background(config).expect("a sandbox");
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("plan.yaml"), plan(&sandbox.url())).expect("written");
    let summary = dir.path().join("step-summary.md");
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "plan.yaml"];
        args.extend_from_slice(extra);
        std::process::Command::new(env!("CARGO_BIN_EXE_callplan"))
            .args(&args)
            .current_dir(dir.path())
            .env("CP_GC_ID", CLIENT_ID)
            .env("CP_GC_SECRET", CLIENT_SECRET)
            .env("CP_USER_TOKEN", USER_TOKEN)
            .env("CP_CRM_TOKEN", CRM_TOKEN)
            .env("CP_HOOK_TOKEN", HOOK_TOKEN)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("CI", "true")
            .output()
            .expect("callplan runs")
    };
    let real = run(&[
        "--report",
        "json:out/r.json",
        "--report",
        "junit:out/r.xml",
        "--report",
        "markdown:out/r.md",
        "--report",
        "html:out/r.html",
        "--report",
        "jsonl:out/r.jsonl",
        "--journal",
        "out/journal.jsonl",
        "-vv",
    ]);
    let dry = run(&["--dry-run"]);
    assert_eq!(
        real.status.code(),
        Some(1),
        "the failing step fails the run: {}",
        String::from_utf8_lossy(&real.stderr)
    );
    assert_eq!(dry.status.code(), Some(0));

    let mut outputs: Vec<(String, Vec<u8>)> = vec![
        ("stdout".into(), real.stdout.clone()),
        ("stderr".into(), real.stderr.clone()),
        ("dry-run stdout".into(), dry.stdout.clone()),
        ("dry-run stderr".into(), dry.stderr.clone()),
    ];
    for name in [
        "r.json",
        "r.xml",
        "r.md",
        "r.html",
        "r.jsonl",
        "journal.jsonl",
    ] {
        let bytes = std::fs::read(dir.path().join("out").join(name)).expect("report written");
        outputs.push((name.into(), bytes));
    }
    outputs.push((
        "$GITHUB_STEP_SUMMARY".into(),
        std::fs::read(&summary).expect("the summary was appended"),
    ));
    let mut hits = Vec::new();
    for (name, bytes) in &outputs {
        let text = String::from_utf8_lossy(bytes);
        for needle in needles() {
            if text.contains(&needle) {
                hits.push(format!("{name} contains {needle}"));
            }
        }
    }
    assert!(hits.is_empty(), "secrets leaked:\n{}", hits.join("\n"));
    // The searched outputs are not empty: the search would find something if it leaked.
    for (name, bytes) in &outputs {
        assert!(
            !bytes.is_empty() || name.contains("dry-run stderr"),
            "{name} is empty"
        );
    }
    let json = String::from_utf8_lossy(&outputs[4].1);
    assert!(json.contains("****"), "masked values show as ****");
    assert!(sandbox.ledger().len() == 2, "the run really ran");
}

/// Every form a secret can take on the way out (what the search looks for).
fn forms(secret: &str) -> Vec<(String, String)> {
    use base64::Engine as _;
    let json = serde_json::to_string(secret).expect("json");
    let json = json.trim_matches('"').to_owned();
    let nested = serde_json::to_string(&json)
        .expect("json")
        .trim_matches('"')
        .to_owned();
    let percent = |upper: bool| -> String {
        secret
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else if upper {
                    format!("%{b:02X}")
                } else {
                    format!("%{b:02x}")
                }
            })
            .collect()
    };
    let html = secret
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let b64 = &base64::engine::general_purpose::STANDARD;
    let b64url = &base64::engine::general_purpose::URL_SAFE_NO_PAD;
    vec![
        ("raw".into(), secret.to_owned()),
        ("JSON-escaped".into(), json),
        ("JSON in JSON".into(), nested),
        ("form-encoded".into(), form_urlencoded_encode(secret)),
        ("percent-encoded".into(), percent(true)),
        ("percent-encoded, lower case".into(), percent(false)),
        ("HTML-escaped".into(), html),
        ("base64".into(), b64.encode(secret)),
        ("base64 URL-safe".into(), b64url.encode(secret)),
        (
            "Basic pair".into(),
            b64.encode(format!("crm-user:{secret}")),
        ),
    ]
}

fn form_urlencoded_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b' ' => out.push('+'),
            b if b.is_ascii_alphanumeric() || b"-._*".contains(&b) => out.push(b as char),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[test]
fn a_secret_with_quotes_slashes_and_markup_is_masked_in_every_form_everywhere() {
    let secret = r#"pa"ss\wo/rd+1 <x>&y"#;
    let sandbox =
        callplan::sandbox::Sandbox::start_background(super::fast_config()).expect("a sandbox");
    let dir = tempfile::tempdir().expect("a temp dir");
    let plan = r#"version: 1
name: secret-forms
secrets:
  tok: { env: CP_FORMS_TOKEN }
  pw: { env: CP_FORMS_PASSWORD }
providers:
  crm:
    type: http
    base_url: https://crm.example.com/api
    auth: { type: bearer, token: "{{ secrets.tok }}" }
  basic:
    type: http
    base_url: https://crm.example.com/api
    auth: { type: basic, username: crm-user, password: "{{ secrets.pw }}" }
steps:
  - id: echo
    provider: crm
    action: request
    with:
      method: POST
      path: /notes
      query: { key: "{{ secrets.tok }}" }
      body: { t: "{{ secrets.tok }}", nested: "{{ {'t': secrets.tok} | tojson }}" }
    save:
      echoed: "{{ response.body.body.t }}"
      as_json: "{{ response.body.body | tojson }}"
    on_error: continue
  - id: fails
    provider: crm
    action: request
    with: { method: POST, path: /again, body: { t: "{{ secrets.tok }}" } }
    expect:
      - response.body.body.t == "something else"
    on_error: continue
  - id: basic
    provider: basic
    action: request
    with: { method: GET, path: /me }
"#;
    std::fs::write(dir.path().join("plan.yaml"), plan).expect("written");
    let url = sandbox.url();
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "plan.yaml"];
        args.extend_from_slice(extra);
        std::process::Command::new(env!("CARGO_BIN_EXE_callplan"))
            .args(&args)
            .current_dir(dir.path())
            .env("CP_FORMS_TOKEN", secret)
            .env("CP_FORMS_PASSWORD", secret)
            .env("CI", "true")
            .env_remove("GITHUB_STEP_SUMMARY")
            .output()
            .expect("callplan runs")
    };
    let real = run(&[
        "--sandbox-url",
        &url,
        "-vv",
        "--report",
        "json:out/r.json",
        "--report",
        "junit:out/r.xml",
        "--report",
        "markdown:out/r.md",
        "--report",
        "html:out/r.html",
        "--report",
        "jsonl:out/r.jsonl",
        "--journal",
        "out/journal.jsonl",
    ]);
    assert_eq!(
        real.status.code(),
        Some(1),
        "the failing expectation fails the run: {}",
        String::from_utf8_lossy(&real.stderr)
    );
    let dry = run(&["--dry-run"]);
    let mut outputs: Vec<(String, String)> = vec![
        (
            "stdout".into(),
            String::from_utf8_lossy(&real.stdout).into_owned(),
        ),
        (
            "stderr".into(),
            String::from_utf8_lossy(&real.stderr).into_owned(),
        ),
        (
            "dry-run stdout".into(),
            String::from_utf8_lossy(&dry.stdout).into_owned(),
        ),
        (
            "dry-run stderr".into(),
            String::from_utf8_lossy(&dry.stderr).into_owned(),
        ),
    ];
    for name in [
        "r.json",
        "r.xml",
        "r.md",
        "r.html",
        "r.jsonl",
        "journal.jsonl",
    ] {
        let text = std::fs::read_to_string(dir.path().join("out").join(name)).expect(name);
        outputs.push((name.into(), text));
    }
    assert!(
        outputs.iter().any(|(_, t)| t.contains("****")),
        "the secret was used and masked somewhere"
    );
    for (form, shown) in forms(secret) {
        for (output, text) in &outputs {
            assert!(
                !text.contains(&shown),
                "the secret ({form}: {shown}) appears in {output}:\n{text}"
            );
        }
    }
}
