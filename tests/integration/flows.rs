//! Campaign flows: a sequence of steps per row (dial, wait, hang up), pacing that is never a
//! failure, and the sandbox's ledger as the witness that every row's call was placed once and
//! hung up.

use std::collections::HashMap;

use std::time::Duration;

use callplan::sandbox::Config;
use serde_json::Value;

use crate::run::{PlanFile, assert_exit, ledger, sandbox};

/// Row `i`'s number (answers, inside the allow-list).
fn number(i: usize) -> String {
    format!("+1317555{:04}", 3000 + i)
}

fn rows_csv(n: usize) -> String {
    let mut csv = String::from("name,phone\n");
    for i in 0..n {
        csv.push_str(&format!("Row {i},{}\n", number(i)));
    }
    csv
}

/// A flow over `rows.csv`: dial, wait until connected, always hang up.
fn flow_plan(concurrency: u32, rate_limit: &str, extra: &str) -> String {
    format!(
        r#"version: 1
name: flow
vars:
  agent: 00000000-0000-4000-8000-000000000001
providers:
  gc:
    type: genesys-cloud
    region: mypurecloud.com
    auth:
      grant: client_credentials
      client_id: sandbox-client
      client_secret: "{{{{ secrets.secret }}}}"
    rate_limit: {rate_limit}
secrets:
  secret: {{ env: CP_GC_SECRET }}
guard:
  allow_destinations: ["+1317555****"]
{extra}
steps:
  - id: campaign
    for_each: {{ csv: rows.csv }}
    as: row
    concurrency: {concurrency}
    steps:
      - id: dial
        provider: gc
        action: calls.create_for_user
        with: {{ user_id: "{{{{ vars.agent }}}}", phoneNumber: "{{{{ row.phone }}}}" }}
        expect: [ response.status == 200 ]
        save: {{ conversation_id: "{{{{ response.body.id }}}}" }}
      - id: answered
        provider: gc
        action: calls.wait
        with: {{ conversation_id: "{{{{ steps.dial.conversation_id }}}}", until: connected, timeout: 10s }}
      - id: hangup
        provider: gc
        action: conversations.disconnect
        if: steps.dial.outcome == "passed"
        with: {{ conversation_id: "{{{{ steps.dial.conversation_id }}}}" }}
        always: true
"#
    )
}

fn report(dir: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("r.json")).expect("the report"))
        .expect("JSON")
}

fn assert_every_row_dialed_once_and_hung_up(calls: &[Value], rows: usize) {
    let mut dialed: HashMap<&str, usize> = HashMap::new();
    for call in calls {
        *dialed
            .entry(call["destination"].as_str().expect("a destination"))
            .or_default() += 1;
        assert_eq!(call["state"], "disconnected", "left up: {call:#}");
    }
    for i in 0..rows {
        assert_eq!(
            dialed.get(number(i).as_str()),
            Some(&1),
            "row {i}: {calls:#?}"
        );
    }
}

#[test]
fn every_row_is_dialed_waited_on_and_hung_up() {
    let sb = sandbox(crate::fast_config());
    let plan = PlanFile::new(&flow_plan(4, "{ requests: 100000, per: 1s }", ""));
    std::fs::write(plan.dir().join("rows.csv"), rows_csv(10)).expect("written");
    let out = plan.run_against(&sb, &["--report", "json:r.json"], &[]);
    assert_exit(&out, 0);
    assert_every_row_dialed_once_and_hung_up(&ledger(&sb), 10);
    let report = report(plan.dir());
    let flow = &report["steps"][0];
    assert_eq!(flow["total"], 10, "{flow:#}");
    for item in flow["items"].as_array().expect("rows") {
        let steps: Vec<&str> = item["steps"]
            .as_array()
            .expect("the row's steps")
            .iter()
            .map(|s| s["id"].as_str().expect("an id"))
            .collect();
        assert_eq!(steps, ["dial", "answered", "hangup"], "{item:#}");
    }
}

#[test]
fn a_row_whose_dial_fails_runs_its_hang_up_only_if_it_says_so_and_the_others_go_on() {
    // Busy (…0101) never connects: the wait fails, the row fails, its hang-up still runs.
    let sb = sandbox(crate::fast_config());
    let plan = PlanFile::new(&flow_plan(2, "{ requests: 100000, per: 1s }", "").replace(
        "  - id: campaign\n",
        "  - id: campaign\n    on_error: continue\n",
    ));
    let csv = "name,phone\nA,+13175550100\nB,+13175550101\nC,+13175550104\n";
    std::fs::write(plan.dir().join("rows.csv"), csv).expect("written");
    let out = plan.run_against(&sb, &["--report", "json:r.json"], &[]);
    assert_exit(&out, 1);
    let calls = ledger(&sb);
    assert_eq!(calls.len(), 3, "{calls:#?}");
    assert!(
        calls.iter().all(|c| c["state"] == "disconnected"),
        "{calls:#?}"
    );
    let report = report(plan.dir());
    let rows = report["steps"][0]["items"]
        .as_array()
        .expect("rows")
        .clone();
    assert_eq!(rows[1]["outcome"], "failed", "{rows:#?}");
    assert_eq!(rows[1]["steps"][2]["id"], "hangup");
    assert_eq!(rows[1]["steps"][2]["outcome"], "passed", "{rows:#?}");
}

#[test]
fn waiting_for_the_pacer_is_not_a_timeout_and_slots_go_in_arrival_order() {
    // 12 rows all at once, four requests a second, and a step timeout of 1 s: the last four
    // dials wait two windows (2.04 s) for their turn. That is queueing in callplan, not the provider's slowness:
    // no row times out, and nothing says a request may have reached the provider.
    let sb = sandbox(Config {
        time_scale: 0.001,
        ..Config::default()
    });
    let plan = PlanFile::new(
        &flow_plan(12, "{ requests: 4, per: 1s }", "defaults:\n  timeout: 1s\n").replace(
            "until: connected, timeout: 10s",
            "until: connected, timeout: 900ms",
        ),
    );
    std::fs::write(plan.dir().join("rows.csv"), rows_csv(12)).expect("written");
    let out = plan.run_against(&sb, &["--report", "json:r.json"], &[]);
    assert_exit(&out, 0);
    assert!(!out.stdout.contains("timed out"), "{out:#?}");
    let calls = ledger(&sb);
    assert_every_row_dialed_once_and_hung_up(&calls, 12);
    // First come, first served: the sandbox placed the calls in row order.
    let mut placed: Vec<(String, String)> = calls
        .iter()
        .map(|c| {
            (
                c["placed_at"].as_str().expect("a time").to_owned(),
                c["destination"].as_str().expect("a number").to_owned(),
            )
        })
        .collect();
    placed.sort();
    let order: Vec<String> = placed.into_iter().map(|(_, d)| d).collect();
    assert_eq!(order, (0..12).map(number).collect::<Vec<_>>());
    // The queue time is reported apart from the provider's.
    let report = report(plan.dir());
    let queued: u64 = report["steps"][0]["items"]
        .as_array()
        .expect("rows")
        .iter()
        .flat_map(|row| row["steps"].as_array().expect("steps").iter())
        .map(|s| s["queued_ms"].as_u64().expect("queued_ms"))
        .sum();
    assert!(
        queued >= 2_500,
        "queue times account for the waiting: {queued} ms"
    );
}

#[test]
fn the_runs_timeout_bounds_queueing_and_the_cleanup_too() {
    // Two requests a day: the first row's dial and first poll go, then everything queues for
    // a day. `--timeout 2s` ends the rows under way, starts no new one, and the first row's
    // hang-up (queued too) is bounded by the cleanup budget: the run ends in seconds.
    let sb = sandbox(crate::fast_config());
    let plan = PlanFile::new(&flow_plan(1, "{ requests: 2, per: 24h }", ""));
    std::fs::write(plan.dir().join("rows.csv"), rows_csv(5)).expect("written");
    let started = std::time::Instant::now();
    let out = plan.run_against(
        &sb,
        &[
            "--timeout",
            "2s",
            "--cleanup-timeout",
            "2s",
            "--report",
            "json:r.json",
        ],
        &[],
    );
    assert_exit(&out, 1);
    assert!(started.elapsed() < Duration::from_secs(60), "{out:#?}");
    let report = report(plan.dir());
    let flow = &report["steps"][0];
    assert_eq!(flow["not_run"], 4, "{flow:#}");
    assert_eq!(
        flow["not_run_reason"], "the run's --timeout ran out",
        "{flow:#}"
    );
    let text = flow.to_string();
    assert!(
        text.contains(
            "(the run's `--timeout` ran out) before the request was sent; nothing was sent"
        ) || text.contains(
            "(the run's `--cleanup-timeout` ran out) before the request was sent; nothing was sent"
        ),
        "{flow:#}"
    );
    // One call was placed; the hang-up could not get a slot in time, and says so.
    assert_eq!(ledger(&sb).len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Resume: a create whose answer was lost is looked up at the provider.

/// A one-row flow whose dial stalls past its timeout, `processed` or not by the sandbox; then a
/// resume. Returns both runs' output and the ledger.
fn stalled_dial_then_resume(processed: bool) -> (crate::Output, Value, Vec<Value>) {
    let sb = sandbox(Config {
        faults: vec![callplan::sandbox::config::Fault {
            duration: Duration::from_secs(60),
            count: 1,
            processed,
            ..callplan::sandbox::config::Fault::new(
                crate::run::PLACE,
                callplan::sandbox::config::FaultKind::Stall,
            )
        }],
        ..crate::fast_config()
    });
    let plan = PlanFile::new(
        &flow_plan(
            1,
            "{ requests: 100000, per: 1s }\n    reconcile_delay: 300ms",
            "",
        )
        .replace(
            "        expect: [ response.status == 200 ]\n",
            "        expect: [ response.status == 200 ]\n        timeout: 2s\n",
        ),
    );
    std::fs::write(plan.dir().join("rows.csv"), rows_csv(1)).expect("written");
    let first = plan.run_against(&sb, &["--journal", "j.jsonl"], &[]);
    let second = plan.run_against(
        &sb,
        &["--resume", "j.jsonl", "--report", "json:r.json"],
        &[],
    );
    assert_exit(&second, 0);
    let dial = report(plan.dir())["steps"][0]["items"][0]["steps"][0].clone();
    (first, dial, ledger(&sb))
}

#[test]
fn a_create_that_placed_the_call_before_its_answer_was_lost_is_found_and_hung_up() {
    let (first, dial, calls) = stalled_dial_then_resume(true);
    assert_exit(&first, 1);
    assert!(
        first.stdout.contains("may have reached the provider"),
        "{first:#?}"
    );
    // It says the call may exist, and how to look it up.
    assert!(
        first.stdout.contains("may have placed a call")
            && first
                .stdout
                .contains("/api/v2/analytics/conversations/details/query"),
        "{first:#?}"
    );
    let said = dial["message"].as_str().unwrap_or_default();
    assert!(said.starts_with("reconciled:"), "{dial:#}");
    assert_eq!(calls.len(), 1, "nothing was dialed twice: {calls:#?}");
    assert_eq!(
        calls[0]["state"], "disconnected",
        "the row's hang-up ran: {calls:#?}"
    );
}

#[test]
fn a_create_that_never_placed_the_call_is_dialed_once_on_resume() {
    let (first, dial, calls) = stalled_dial_then_resume(false);
    assert_exit(&first, 1);
    assert_eq!(dial["outcome"], "passed", "{dial:#}");
    assert_eq!(dial["status"], 200, "it was sent, and answered: {dial:#}");
    assert_eq!(calls.len(), 1, "dialed exactly once: {calls:#?}");
    assert_eq!(calls[0]["state"], "disconnected", "{calls:#?}");
}

#[test]
fn every_report_format_shows_each_row_and_its_steps() {
    let sb = sandbox(crate::fast_config());
    let plan = PlanFile::new(&flow_plan(2, "{ requests: 100000, per: 1s }", "").replace(
        "  - id: campaign\n",
        "  - id: campaign\n    on_error: continue\n",
    ));
    // The second row is busy: its wait fails, so every format lists it with its steps.
    let csv = "name,phone\nA,+13175550100\nB,+13175550101\n";
    std::fs::write(plan.dir().join("rows.csv"), csv).expect("written");
    let out = plan.run_against(
        &sb,
        &[
            "--report",
            "junit:r.xml",
            "--report",
            "markdown:r.md",
            "--report",
            "html:r.html",
            "--report",
            "jsonl:r.jsonl",
        ],
        &[],
    );
    assert_exit(&out, 1);
    let read = |name: &str| std::fs::read_to_string(plan.dir().join(name)).expect(name);
    let junit = read("r.xml");
    assert!(junit.contains("campaign[2]"), "{junit}");
    assert!(
        junit.contains("row steps: dial passed (200") && junit.contains("answered failed"),
        "{junit}"
    );
    let markdown = read("r.md");
    assert!(markdown.contains("steps: dial passed"), "{markdown}");
    let html = read("r.html");
    assert!(
        html.contains("steps: dial passed"),
        "the bar's title lists the row's steps"
    );
    let jsonl = read("r.jsonl");
    let row_steps: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .filter(|v: &Value| v.get("row_step").is_some())
        .collect();
    assert_eq!(
        row_steps.len(),
        6,
        "three steps for each of two rows: {jsonl}"
    );
    assert!(out.stdout.contains("campaign[2].answered"), "{out:#?}");
}

#[test]
fn an_over_long_url_is_an_error_of_the_request_sent_once_and_shown_short() {
    let sb = sandbox(crate::fast_config());
    let long = "x".repeat(100_000);
    let plan = PlanFile::new(&format!(
        r#"version: 1
name: long-url
providers:
  crm:
    type: http
    base_url: https://crm.example.com/api
defaults:
  retry: {{ attempts: 3, initial: 10ms, max: 10ms }}
steps:
  - id: get
    provider: crm
    action: request
    with: {{ method: GET, path: "/{long}" }}
"#
    ));
    let out = plan.run_against(&sb, &[], &[]);
    assert_exit(&out, 1);
    assert!(out.stdout.contains("the URL is"), "{out:#?}");
    assert!(!out.stdout.contains("retry"), "not retried: {out:#?}");
    assert!(
        out.stdout.len() + out.stderr.len() < 10_000,
        "the output stays short: {} bytes",
        out.stdout.len() + out.stderr.len()
    );
}
