//! What a plan does once something failed: steps that read a value a failed step never saved
//! are skipped with the reason (or run, when their templates say what to do without it), every
//! example plan cleans up after a refused dial, and an error status is never a pass by accident.

use std::process::Stdio;

use callplan::sandbox::Config;
use callplan::sandbox::config::{Fault, FaultError, FaultKind};
use serde_json::Value;

use crate::Output;
use crate::run::{PLACE, PlanFile, assert_exit, assert_step, genesys_plan, ledger, sandbox};

/// The routes of every example plan's first dial (or callback).
const FIRST_DIALS: [&str; 4] = [
    PLACE,
    "POST /api/v2/conversations/calls",
    "POST /api/v2/conversations/callbacks",
    "POST /inContactAPI/services/{version}/agent-sessions/{sessionId}/dial-phone",
];

/// A sandbox whose first dial (on any of [`FIRST_DIALS`]) answers 403 `missing.permissions`.
fn refusing_first_dial() -> callplan::sandbox::Sandbox {
    let faults = FIRST_DIALS
        .iter()
        .map(|route| Fault {
            status: Some(403),
            error: Some(FaultError {
                code: Some("missing.permissions".into()),
                message: Some("You are missing the following permission(s): {perms}".into()),
                message_params: [("perms".to_owned(), "conversation:call:add".into())]
                    .into_iter()
                    .collect(),
                ..FaultError::default()
            }),
            ..Fault::new(*route, FaultKind::Status)
        })
        .collect();
    sandbox(Config {
        faults,
        ..crate::fast_config()
    })
}

#[test]
fn every_example_plan_cleans_up_after_a_refused_first_dial() {
    let copy = tempfile::tempdir().expect("a temporary directory");
    let plans = crate::run::example_plans(copy.path());
    let runs: Vec<_> = plans
        .iter()
        .map(|plan| {
            let sb = refusing_first_dial();
            let stem = plan.file_stem().expect("a name").to_string_lossy();
            let report = format!("json:{stem}.json");
            let url = sb.url();
            let mut command = crate::run::example_command(
                copy.path(),
                plan,
                &["--sandbox-url", &url, "--report", &report],
            );
            let child = command
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("callplan starts");
            (plan, stem.into_owned(), sb, child)
        })
        .collect();
    for (plan, stem, sb, child) in runs {
        let out = child.wait_with_output().expect("callplan exits");
        let out = Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        let shown = plan.display();
        // The refused dial fails the run; nothing else goes wrong because of it.
        assert_eq!(out.code, 1, "{shown}\n{out:#?}");
        assert!(
            out.stdout.contains("missing.permissions"),
            "{shown}\n{out:#?}"
        );
        let text =
            std::fs::read_to_string(copy.path().join(format!("{stem}.json"))).expect("the report");
        assert!(
            !text.contains("undefined value") && !out.stdout.contains("undefined value"),
            "{shown}: a step errored on a value the refused dial never saved\n{out:#?}"
        );
        let report: Value = serde_json::from_str(&text).expect("JSON");
        let errored: Vec<&Value> = report["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .filter(|s| s["outcome"] == "errored" || s["outcome"] == "failed")
            .collect();
        assert_eq!(errored.len(), 1, "{shown}: only the dial fails\n{out:#?}");
        for call in ledger(&sb) {
            assert_eq!(call["state"], "disconnected", "{shown}: left up {call:#}");
        }
        if stem == "genesys-external-contact-crm" {
            let crm = report["steps"]
                .as_array()
                .expect("steps")
                .iter()
                .find(|s| s["id"] == "crm_update")
                .expect("the CRM step");
            assert_eq!(crm["outcome"], "passed", "the CRM is told\n{out:#?}");
        }
    }
}

/// A plan whose dial is refused, with an `always` step reading what the dial would have saved.
fn after_refused_dial(always: &str) -> String {
    genesys_plan(
        "after-refused-dial",
        &format!(
            r#"  crm:
    type: http
    base_url: https://crm.example.com
steps:
  - id: dial
    provider: gc
    action: calls.create_for_user
    with: {{ user_id: "{{{{ vars.user }}}}", phoneNumber: "+13175550100" }}
    expect: [ response.status == 200 ]
    save: {{ conversation_id: "{{{{ response.body.id }}}}" }}
{always}"#
        ),
    )
}

#[test]
fn a_step_that_reads_what_a_failed_step_did_not_save_is_skipped_and_says_why() {
    let sb = refusing_first_dial();
    let plan = PlanFile::new(&after_refused_dial(
        r#"  - id: hangup
    provider: gc
    action: calls.hang_up
    with: { conversation_id: "{{ steps.dial.conversation_id }}" }
    always: true
  - id: tell
    provider: crm
    action: request
    with:
      method: POST
      path: /calls
      body: { conversation_id: "{{ steps.dial.conversation_id | default(none) }}", dialed: "{{ steps.dial.outcome }}" }
    expect: [ response.body.body.dialed == "failed", response.body.body.conversation_id is none ]
    always: true
"#,
    ));
    let out = plan.run_against(&sb, &[], &[]);
    assert_exit(&out, 1);
    let skipped = assert_step(&out, "hangup", "SKIP");
    assert!(
        skipped.contains(
            "it reads `steps.dial.conversation_id`, which step `dial` did not save (`dial` failed)"
        ),
        "{skipped}"
    );
    assert!(!out.stdout.contains("undefined value"), "{out:#?}");
    assert_step(&out, "tell", "PASS");
}

/// A plan with one `http` request to `path` and the given expectations.
fn expecting(path: &str, expect: &str) -> String {
    format!(
        r#"version: 1
name: statuses
providers:
  api:
    type: http
    base_url: https://api.example.com
steps:
  - id: get
    provider: api
    action: request
    with: {{ method: GET, path: "{path}" }}
    expect: {expect}
"#
    )
}

#[test]
fn an_error_status_fails_its_step_unless_an_expectation_names_the_status() {
    let sb = sandbox(crate::fast_config());
    // The body checks pass, but the answer is a 429: nobody was served.
    let plan = PlanFile::new(&expecting(
        "/contacts/status/429",
        r#"[ "response.body.method == 'GET'" ]"#,
    ));
    let out = plan.run_against(&sb, &[], &[]);
    assert_exit(&out, 1);
    let line = assert_step(&out, "get", "ERROR");
    assert!(line.contains("429"), "{line}");
    assert!(
        line.contains("none of them mentions `response.status`"),
        "{line}"
    );
    // An expectation that names the status decides: a 404 may be what the plan expects.
    for expect in [
        "[ response.status == 404 ]",
        r#"[ "response.status in [200, 404]", "response.body.method == 'GET'" ]"#,
    ] {
        let plan = PlanFile::new(&expecting("/contacts/status/404", expect));
        let out = plan.run_against(&sb, &[], &[]);
        assert_exit(&out, 0);
        assert_step(&out, "get", "PASS");
    }
    // A 3xx or 2xx with body checks only passes as before.
    let plan = PlanFile::new(&expecting(
        "/contacts/status/202",
        r#"[ "response.body.method == 'GET'" ]"#,
    ));
    assert_exit(&plan.run_against(&sb, &[], &[]), 0);
}
