//! `--dry-run` tells the truth: it needs no secret, prints the requests the run would send (one
//! code path builds both), leaves what only a run knows as placeholders the guard does not
//! judge, and sums a campaign's rows up.

use std::path::PathBuf;
use std::process::Command;

use base64::Engine as _;
use serde_json::Value;

use crate::root;
use crate::run::{PlanFile, assert_exit};

/// One example plan's dry run.
struct Example {
    /// The plan's file name.
    name: String,
    stdout: String,
    stderr: String,
    /// What `--report json:` wrote.
    json: String,
}

/// `callplan run PLAN --dry-run --report json:…` for every plan in `plans/`, with `env` and only
/// `PATH` and `HOME` besides; each must exit 0.
fn dry_run_examples(env: &[(&str, &str)]) -> Vec<Example> {
    let mut plans: Vec<PathBuf> = std::fs::read_dir(root().join("plans"))
        .expect("plans/")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    plans.sort();
    assert!(plans.len() >= 5, "{plans:?}");
    let dir = tempfile::tempdir().expect("a temporary directory");
    plans
        .iter()
        .map(|plan| {
            let out = dir.path().join("dry.json");
            let mut command = Command::new(env!("CARGO_BIN_EXE_callplan"));
            command
                .arg("run")
                .arg(plan)
                .args(["--dry-run", "--report"])
                .arg(format!("json:{}", out.display()))
                .current_dir(root())
                .env_clear();
            for name in ["PATH", "HOME"] {
                if let Some(value) = std::env::var_os(name) {
                    command.env(name, value);
                }
            }
            let output = command
                .envs(env.iter().copied())
                .output()
                .expect("callplan runs");
            let example = Example {
                name: plan.display().to_string(),
                stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
                json: std::fs::read_to_string(&out).unwrap_or_default(),
            };
            assert_eq!(
                output.status.code(),
                Some(0),
                "{}\n{}\n{}",
                example.name,
                example.stdout,
                example.stderr
            );
            example
        })
        .collect()
}

/// The requests of a dry run's JSON document.
fn requests(dry: &Value) -> Vec<&Value> {
    dry["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s.get("request").filter(|r| !r.is_null()))
        .collect()
}

#[test]
fn every_example_plan_dry_runs_with_no_environment_and_well_formed_requests() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schemas/dry-run.v1.schema.json"))
            .expect("the committed dry-run schema"),
    )
    .expect("JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    for example in dry_run_examples(&[]) {
        let Example { name, stdout, .. } = &example;
        let dry: Value = serde_json::from_str(&example.json).expect("the dry run's JSON");
        let errors: Vec<String> = validator
            .iter_errors(&dry)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
        assert_eq!(dry["ok"], true, "{name}");
        let requests = requests(&dry);
        assert!(!requests.is_empty(), "{name}");
        for request in requests {
            let url = request["url"].as_str().expect("a URL");
            assert!(url.matches('?').count() <= 1, "{name}: {url}");
            reqwest::Url::parse(url).unwrap_or_else(|e| panic!("{name}: {url}: {e}"));
            let types = request["headers"]
                .as_array()
                .expect("headers")
                .iter()
                .filter(|h| {
                    h["name"]
                        .as_str()
                        .is_some_and(|n| n.eq_ignore_ascii_case("content-type"))
                })
                .count();
            let expected = usize::from(!request["body"].is_null());
            assert_eq!(types, expected, "{name}: {request:#}");
            // The printed request is the same one.
            assert!(
                stdout.contains(&format!(
                    "{} {url}",
                    request["method"].as_str().unwrap_or_default()
                )),
                "{name}: {url} not printed\n{stdout}"
            );
        }
        // No placeholder is judged by the guard as if it were a number.
        for step in dry["steps"].as_array().expect("steps") {
            if step["verdict"] == "refused" {
                let why = step["message"].as_str().unwrap_or_default();
                assert!(!why.contains('<'), "{name}: {why}");
            }
        }
        assert!(
            !stdout.contains("refused by the guard: <"),
            "{name}\n{stdout}"
        );
        assert!(
            stdout.contains("<secret "),
            "{name}: secrets stand in\n{stdout}"
        );
        assert!(
            !stdout.contains('\u{E000}'),
            "{name}: a raw placeholder\n{stdout}"
        );
    }
}

#[test]
fn no_secret_set_in_the_environment_appears_in_a_dry_run() {
    // Every secret of every example, set to a value the search below would find.
    let secrets = [
        ("GENESYS_CLIENT_ID", "dry-gc-id-5c1e77"),
        ("GENESYS_CLIENT_SECRET", "dry-gc-secret-90ab3f"),
        ("CRM_TOKEN", "dry-crm-token-4471aa"),
        ("CXONE_ACCESS_KEY_ID", "dry-cx-key-id-18e0"),
        ("CXONE_ACCESS_KEY_SECRET", "dry-cx-key-secret-6d2c"),
        ("CXONE_CLIENT_ID", "dry-cx-client-0f93"),
        ("CXONE_CLIENT_SECRET", "dry-cx-client-secret-b7d1"),
    ];
    let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let mut needles: Vec<String> = Vec::new();
    for (_, value) in secrets {
        needles.push(value.to_owned());
        needles.push(b64(value));
    }
    needles.push(b64("dry-gc-id-5c1e77:dry-gc-secret-90ab3f"));
    needles.push(b64("dry-cx-client-0f93:dry-cx-client-secret-b7d1"));
    for example in dry_run_examples(&secrets) {
        let Example {
            name,
            stdout,
            stderr,
            json,
        } = &example;
        for (output, text) in [("stdout", stdout), ("stderr", stderr), ("json", json)] {
            for needle in &needles {
                assert!(
                    !text.contains(needle.as_str()),
                    "{name}: {output} shows {needle}\n{text}"
                );
            }
        }
        assert!(
            stdout.contains("Authorization: "),
            "{name}: requests are shown\n{stdout}"
        );
    }
}

/// The plan of issue 14: a query merged into the path's, a provider-wide Content-Type, a number
/// an earlier step saves, an outcome sent to a CRM, a 50-row campaign.
const PLAN: &str = r#"version: 1
name: truth
vars:
  agent: 00000000-0000-4000-8000-000000000001
secrets:
  id: { env: CP_TRUTH_ID }
  secret: { env: CP_TRUTH_SECRET }
  token: { env: CP_TRUTH_TOKEN }
providers:
  gc:
    type: genesys-cloud
    region: mypurecloud.com
    auth: { grant: client_credentials, client_id: "{{ secrets.id }}", client_secret: "{{ secrets.secret }}" }
  crm:
    type: http
    base_url: https://crm.example.com/api
    auth: { type: bearer, token: "{{ secrets.token }}" }
    headers:
      Content-Type: application/json
guard:
  allow_destinations: ["+1317555****"]
  deny_destinations: ["+13175550199"]
steps:
  - id: contact
    provider: crm
    action: request
    with:
      method: GET
      path: /contacts?x=1
      query: { y: 2, z: [a, b] }
    save: { e164: "{{ response.body.phone }}" }
  - id: dial
    provider: gc
    action: calls.create_for_user
    with: { user_id: "{{ vars.agent }}", phoneNumber: "{{ steps.contact.e164 }}" }
    save: { conversation_id: "{{ response.body.id }}" }
  - id: answered
    provider: gc
    action: calls.wait
    with: { conversation_id: "{{ steps.dial.conversation_id }}", until: connected }
    timeout: 75s
    on_error: continue
  - id: hangup
    provider: gc
    action: calls.hang_up
    if: steps.dial.outcome == "passed"
    with: { conversation_id: "{{ steps.dial.conversation_id }}" }
    always: true
  - id: crm
    provider: crm
    action: request
    with:
      method: POST
      path: /calls
      headers: { content-type: application/x-www-form-urlencoded }
      body: "answered={{ steps.answered.outcome == 'passed' }}&agent={{ vars.agent }}"
    always: true
  - id: campaign
    for_each: { csv: contacts.csv }
    as: row
    steps:
      - id: call
        provider: gc
        action: calls.create_for_user
        with: { user_id: "{{ vars.agent }}", phoneNumber: "{{ row.phone | e164 }}" }
"#;

/// 50 rows: 42 allowed, 2 denied, 3 outside the allowed numbers, 2 that are not numbers, one
/// malformed. Returns the file.
fn contacts() -> String {
    let mut csv = String::from("name,phone\n");
    for i in 1..=50 {
        let phone = match i {
            7 | 31 => "+13175550199".to_owned(),
            12 | 13 | 40 => "+442079460000".to_owned(),
            20 | 45 => "n/a".to_owned(),
            _ => format!("(317) 555-{:04}", 100 + i),
        };
        if i == 25 {
            csv.push_str("Malformed,+13175550125,extra\n");
        } else {
            csv.push_str(&format!("Contact {i},{phone}\n"));
        }
    }
    csv
}

#[test]
fn a_dry_run_shows_what_the_run_sends_and_leaves_the_rest_to_the_run() {
    let plan = PlanFile::new(PLAN);
    std::fs::write(plan.dir().join("contacts.csv"), contacts()).expect("written");
    let out = plan.run(&["--dry-run", "--report", "json:dry.json"], &[]);
    // Three rows cannot be sent: the dry run says so with exit 2.
    assert_exit(&out, 2);
    let text = &out.stdout;
    // The query merged once, as the run sends it; one Content-Type.
    assert!(
        text.contains("step contact: GET https://crm.example.com/api/contacts?x=1&y=2&z=a&z=b\n"),
        "{text}"
    );
    let crm = block(text, "step crm (always):");
    assert_eq!(
        crm.matches("ontent-Type:").count() + crm.matches("ontent-type:").count(),
        1,
        "{crm}"
    );
    assert!(
        crm.contains("    content-type: application/x-www-form-urlencoded\n"),
        "{crm}"
    );
    // An outcome is not rendered as if every step passed.
    assert!(
        crm.contains("    body: answered=<steps.answered.outcome == 'passed'>&agent=00000000-0000-4000-8000-000000000001\n"),
        "{crm}"
    );
    assert!(!crm.contains("answered=true"), "{crm}");
    // A number an earlier step saves is the run's to judge.
    let dial = block(text, "step dial:");
    assert!(
        dial.contains("    guard: decided at run time: <steps.contact.e164>\n"),
        "{dial}"
    );
    assert!(
        dial.contains(r#"body: {"phoneNumber":"<steps.contact.e164>"}"#),
        "{dial}"
    );
    // An `if` on an outcome is undecided, and the step is shown.
    let hangup = block(text, "step hangup (always):");
    assert!(
        hangup.contains(
            "    if `steps.dial.outcome == \"passed\"`: decided at run time (shown as if it runs)\n"
        ),
        "{hangup}"
    );
    assert!(
        text.contains("Authorization: Bearer <secret token>"),
        "{text}"
    );
    assert!(
        text.contains("Authorization: Bearer <access token>"),
        "{text}"
    );
    // The campaign: every row read and counted, the first three listed.
    let summary = [
        "step campaign: 50 rows read from ./contacts.csv: 42 would dial, 5 refused by the guard, 3 invalid",
        "    refused by the guard: 2 rows: matches deny_destinations pattern `+13175550199`",
        "    refused by the guard: 3 rows: matches none of allow_destinations (+1317555****)",
    ];
    for line in summary {
        assert!(text.contains(&format!("{line}\n")), "{line}\n{text}");
    }
    let dry: Value = serde_json::from_str(
        &std::fs::read_to_string(plan.dir().join("dry.json")).expect("written"),
    )
    .expect("JSON");
    let campaign = dry["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["step"] == "campaign" && s["verdict"] == "rows")
        .expect("the campaign's summary");
    let rows = &campaign["rows"];
    assert_eq!(rows["read"], 50);
    assert_eq!(rows["would_send"], 42);
    assert_eq!(rows["refused"], 5);
    assert_eq!(rows["invalid"], 3);
    assert_eq!(rows["shown"], 3);
    let invalid: Vec<&str> = rows["invalid_rows"]
        .as_array()
        .expect("invalid rows")
        .iter()
        .map(|r| r["source"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        invalid,
        ["contacts.csv:21", "contacts.csv:26", "contacts.csv:46"]
    );
    let listed = dry["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s["step"] == "campaign" && s["verdict"] != "rows")
        .count();
    assert_eq!(listed, 3, "the first three rows' requests");
}

/// The lines of `text` from the one starting with `start` to the next step.
fn block<'t>(text: &'t str, start: &str) -> &'t str {
    let line = format!("\n{start}");
    assert!(text.contains(&line), "{start} in\n{text}");
    let at = text.find(&line).map_or(0, |at| at + 1);
    let rest = &text[at..];
    let end = rest[1..].find("\nstep ").map_or(rest.len(), |e| e + 2);
    &rest[..end]
}

#[test]
fn a_dry_run_writes_only_json() {
    let plan = PlanFile::new(PLAN);
    std::fs::write(plan.dir().join("contacts.csv"), "name,phone\n").expect("written");
    let out = plan.run(&["--dry-run", "--report", "junit:r.xml"], &[]);
    assert_exit(&out, 2);
    assert!(
        out.stderr
            .contains("--report junit:r.xml: a dry run writes only `json`"),
        "{out:#?}"
    );
    assert!(!plan.dir().join("r.xml").exists());
}
