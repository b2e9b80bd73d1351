//! A run's lifecycle as users meet it: signals at any moment (Ctrl-C, SIGTERM, SIGHUP, a second
//! one), outputs checked before anything is sent, the login retried, `--sandbox` with any plan.
//!
//! Every wait is for a condition (a line printed, a request the sandbox counted) with a
//! generous deadline; nothing is decided by a fixed sleep.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use callplan::sandbox::config::{Fault, FaultKind};
use callplan::sandbox::{Config, Sandbox};
use serde_json::Value;

use crate::Output;
use crate::run::{
    LOGIN, PATIENCE, PLACE, PlanFile, assert_exit, assert_step, counter, genesys_plan, ledger,
    run_command, sandbox,
};

/// A `callplan run` in the background, its stdout and stderr read line by line.
struct Running {
    child: Child,
    lines: mpsc::Receiver<(bool, String)>,
    stdout: Vec<String>,
    stderr: Vec<String>,
}

impl Running {
    fn start(mut command: Command) -> Running {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("callplan starts");
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().expect("stdout");
        let err = child.stderr.take().expect("stderr");
        for (is_err, pipe) in [
            (false, Box::new(out) as Box<dyn std::io::Read + Send>),
            (true, Box::new(err)),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if tx.send((is_err, line)).is_err() {
                        break;
                    }
                }
            });
        }
        Running {
            child,
            lines,
            stdout: Vec::new(),
            stderr: Vec::new(),
        }
    }

    /// Reads lines until one (on stdout or stderr) satisfies `wanted`.
    fn wait_for_line(&mut self, wanted: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let received = self.lines.recv_timeout(left);
            if received.is_err() {
                let _ = self.child.kill();
            }
            let (is_err, line) = received
                .map_err(|e| {
                    format!(
                        "{e}; stdout: {:#?}; stderr: {:#?}",
                        self.stdout, self.stderr
                    )
                })
                .expect("the line comes");
            let hit = wanted(&line);
            if is_err {
                self.stderr.push(line);
            } else {
                self.stdout.push(line);
            }
            if hit {
                return;
            }
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits (with a deadline) for the process to exit; everything it printed.
    fn finish(mut self) -> Output {
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("waitable") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
            }
            assert!(
                Instant::now() <= deadline,
                "callplan did not exit: {:#?}",
                self.stdout
            );
            // Drain as it goes, so that a full pipe never holds the child up.
            while let Ok((is_err, line)) = self.lines.recv_timeout(Duration::from_millis(20)) {
                if is_err {
                    self.stderr.push(line);
                } else {
                    self.stdout.push(line);
                }
            }
        };
        while let Ok((is_err, line)) = self.lines.recv_timeout(Duration::from_millis(200)) {
            if is_err {
                self.stderr.push(line);
            } else {
                self.stdout.push(line);
            }
        }
        Output {
            code: status.code().unwrap_or(-1),
            stdout: self.stdout.join("\n") + "\n",
            stderr: self.stderr.join("\n") + "\n",
        }
    }
}

fn report(dir: &Path, name: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(name)).expect("the report was written");
    serde_json::from_str(&text).expect("the report is JSON")
}

/// `plans/genesys-agent-call.yaml`, dialing a number that rings and is never answered, against
/// a sandbox playing calls in real time; `signal` is sent once the dial has passed.
fn signal_during_a_ringing_call(signal: &str) -> (Output, Value, Vec<Value>) {
    let sb = sandbox(Config {
        time_scale: 1.0,
        ..Config::default()
    });
    let dir = tempfile::tempdir().expect("a temp dir");
    let plan = crate::root().join("plans/genesys-agent-call.yaml");
    let plan = plan.to_str().expect("a UTF-8 path");
    let url = sb.url();
    let command = run_command(
        dir.path(),
        plan,
        &[
            "--sandbox-url",
            &url,
            "--var",
            "destination=+13175550102",
            "--report",
            "json:r.json",
            "--journal",
            "j.jsonl",
        ],
    );
    let mut run = Running::start(command);
    run.wait_for_line(|l| l.starts_with("  PASS  dial "));
    run.signal(signal);
    let out = run.finish();
    let report = report(dir.path(), "r.json");
    let journal = std::fs::read_to_string(dir.path().join("j.jsonl")).expect("the journal");
    let last: Value =
        serde_json::from_str(journal.lines().last().expect("a record")).expect("JSON");
    assert_eq!(last["kind"], "end", "the journal is closed: {journal}");
    assert_eq!(last["status"], "interrupted", "{journal}");
    (out, report, ledger(&sb))
}

fn assert_hung_up(out: &Output, report: &Value, calls: &[Value]) {
    assert_eq!(report["status"], "interrupted", "{report:#}");
    assert_step(out, "connected", "ERROR");
    assert_step(out, "hangup", "PASS");
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(
        calls[0]["state"], "disconnected",
        "no call is left up: {calls:#?}"
    );
}

#[test]
fn sigterm_during_a_ringing_call_hangs_up_writes_the_report_and_exits_143() {
    let (out, report, calls) = signal_during_a_ringing_call("TERM");
    assert_exit(&out, 143);
    assert_hung_up(&out, &report, &calls);
    assert!(out.stderr.contains("(SIGTERM;"), "{out:#?}");
}

#[test]
fn sigterm_during_a_campaign_counts_the_rows_never_started_and_no_cut_row_passes() {
    // 20 rows, two at a time, each ringing unanswered (real time): SIGTERM once two are dialed.
    let sb = sandbox(Config {
        time_scale: 1.0,
        ..Config::default()
    });
    let rows = "      - \"+13175550102\"\n".repeat(20);
    let plan = PlanFile::new(&genesys_plan(
        "campaign-interrupted",
        &format!(
            r#"guard:
  allow_destinations: ["+1317555****"]
steps:
  - id: campaign
    for_each:
{rows}    as: number
    concurrency: 2
    steps:
      - id: dial
        provider: gc
        action: calls.create_for_user
        with: {{ user_id: "{{{{ vars.user }}}}", phoneNumber: "{{{{ number }}}}" }}
        save: {{ conversation_id: "{{{{ response.body.id }}}}" }}
      - id: answered
        provider: gc
        action: calls.wait
        with: {{ conversation_id: "{{{{ steps.dial.conversation_id }}}}", until: connected, timeout: 60s }}
        timeout: 90s
        on_error: ignore
      - id: hangup
        provider: gc
        action: calls.hang_up
        with: {{ conversation_id: "{{{{ steps.dial.conversation_id }}}}" }}
        always: true
"#
        ),
    ));
    let url = sb.url();
    let command = run_command(
        plan.dir(),
        "plan.yaml",
        &[
            "--sandbox-url",
            &url,
            "--report",
            "json:r.json",
            "--report",
            "junit:r.xml",
            "--report",
            "markdown:r.md",
            "--report",
            "html:r.html",
        ],
    );
    let run = Running::start(command);
    let deadline = Instant::now() + PATIENCE;
    while ledger(&sb).len() < 2 {
        assert!(Instant::now() < deadline, "two rows dial");
        std::thread::sleep(Duration::from_millis(20));
    }
    run.signal("TERM");
    let out = run.finish();
    assert_exit(&out, 143);
    let calls = ledger(&sb);
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert!(
        calls.iter().all(|c| c["state"] == "disconnected"),
        "{calls:#?}"
    );
    let report = report(plan.dir(), "r.json");
    let flow = &report["steps"][0];
    // The rows cut short did not pass, though their wait says `on_error: ignore`.
    assert_eq!(flow["counts"]["errored"], 2, "{flow:#}");
    assert_eq!(flow["counts"]["passed"], 0, "{flow:#}");
    assert_eq!(flow["not_run"], 18, "{flow:#}");
    assert_eq!(flow["not_run_reason"], "interrupted", "{flow:#}");
    assert_eq!(report["not_run"], 18);
    assert!(
        out.stdout
            .contains("  SKIP  campaign: 18 items not run: interrupted"),
        "{out:#?}"
    );
    assert!(
        out.stdout.contains("campaign (2 items, 18 not run)"),
        "{out:#?}"
    );
    assert!(out.stdout.contains(", 18 not run in "), "{out:#?}");
    let read = |name: &str| std::fs::read_to_string(plan.dir().join(name)).expect(name);
    let junit = read("r.xml");
    assert!(
        junit.contains(r#"<testcase name="campaign (18 items not run)""#)
            && junit.contains(r#"<skipped message="not run: interrupted"/>"#),
        "{junit}"
    );
    assert!(read("r.md").contains("18 not run (interrupted)"));
    assert!(read("r.html").contains("18 not run"));
}

#[test]
fn sighup_during_a_ringing_call_hangs_up_and_exits_129() {
    let (out, report, calls) = signal_during_a_ringing_call("HUP");
    assert_exit(&out, 129);
    assert_hung_up(&out, &report, &calls);
}

const ONE_DIAL: &str = r#"steps:
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
"#;

#[test]
fn sigterm_during_a_stalled_login_writes_the_report_and_places_no_call() {
    let sb = sandbox(Config {
        faults: vec![Fault {
            duration: Duration::from_secs(120),
            ..Fault::new(LOGIN, FaultKind::Stall)
        }],
        ..crate::fast_config()
    });
    let plan = PlanFile::new(&genesys_plan("login-stalls", ONE_DIAL));
    let url = sb.url();
    let command = run_command(
        plan.dir(),
        "plan.yaml",
        &["--sandbox-url", &url, "--report", "json:r.json"],
    );
    let mut run = Running::start(command);
    // The run has started (the line comes just before the login) and the sandbox holds the
    // token request.
    run.wait_for_line(|l| l.starts_with("run "));
    let deadline = Instant::now() + PATIENCE;
    while crate::run::faulted(&sb, LOGIN) == 0 {
        assert!(
            Instant::now() < deadline,
            "the login never reached the sandbox"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    run.signal("TERM");
    let out = run.finish();
    assert_exit(&out, 143);
    let report = report(plan.dir(), "r.json");
    assert_eq!(report["status"], "interrupted", "{report:#}");
    assert!(
        report["reason"]
            .as_str()
            .is_some_and(|r| r.contains("during the login")),
        "{report:#}"
    );
    assert!(ledger(&sb).is_empty(), "no call was placed");
}

#[test]
fn a_second_signal_cuts_the_always_steps_short() {
    let sb = sandbox(Config {
        time_scale: 1.0,
        faults: vec![Fault {
            duration: Duration::from_secs(120),
            ..Fault::new(
                "POST /api/v2/conversations/{id}/disconnect",
                FaultKind::Stall,
            )
        }],
        ..Config::default()
    });
    let plan = PlanFile::new(&genesys_plan(
        "twice",
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
  - id: hangup
    provider: gc
    action: conversations.disconnect
    with: { conversation_id: "{{ steps.dial.conversation_id }}" }
    timeout: 100s
    always: true
"#,
    ));
    let url = sb.url();
    let command = run_command(
        plan.dir(),
        "plan.yaml",
        &[
            "--sandbox-url",
            &url,
            "--report",
            "json:r.json",
            "--cleanup-timeout",
            "5m",
        ],
    );
    let mut run = Running::start(command);
    run.wait_for_line(|l| l.starts_with("  PASS  dial "));
    run.signal("TERM");
    // The hang-up is on its way and the sandbox holds it.
    let deadline = Instant::now() + PATIENCE;
    let route = "POST /api/v2/conversations/{id}/disconnect";
    while crate::run::faulted(&sb, route) == 0 {
        assert!(
            Instant::now() < deadline,
            "the hang-up never reached the sandbox"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let started = Instant::now();
    run.signal("INT");
    let out = run.finish();
    assert_exit(&out, 143);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "a second signal ends the run at once, not after the 100 s the hang-up may take"
    );
    let report = report(plan.dir(), "r.json");
    assert_eq!(report["status"], "interrupted");
    assert!(
        report["reason"]
            .as_str()
            .is_some_and(|r| r.contains("interrupted twice")),
        "{report:#}"
    );
    // The hang-up that was under way is not left out: it is errored, cut short, in the report
    // and on the terminal.
    let hangup = &report["steps"][2];
    assert_eq!(hangup["id"], "hangup", "{report:#}");
    assert_eq!(hangup["outcome"], "errored", "{hangup:#}");
    assert!(
        hangup.to_string().contains("cut short by a second signal"),
        "{hangup:#}"
    );
    assert_step(&out, "hangup", "ERROR");
}

// ---------------------------------------------------------------------------------------------
// Outputs, checked before the first request.

/// A sandbox that counts logins and dials, so a test can tell nothing was sent.
fn counting() -> Sandbox {
    sandbox(Config {
        faults: vec![counter(LOGIN), counter(PLACE)],
        ..crate::fast_config()
    })
}

fn assert_nothing_sent(sb: &Sandbox) {
    assert_eq!(crate::run::faulted(sb, LOGIN), 0, "no login");
    assert!(ledger(sb).is_empty(), "no call");
}

#[test]
fn a_report_under_a_regular_file_is_refused_before_anything_is_sent() {
    let sb = counting();
    let plan = PlanFile::new(&genesys_plan("outputs", ONE_DIAL));
    std::fs::write(plan.dir().join("afile"), "x").expect("written");
    let out = plan.run_against(&sb, &["--report", "junit:afile/r.xml"], &[]);
    assert_exit(&out, 2);
    assert!(
        out.stderr
            .contains("--report junit:afile/r.xml: afile is not a directory; nothing was sent"),
        "{out:#?}"
    );
    assert_nothing_sent(&sb);
}

#[cfg(unix)]
#[test]
fn fifos_devices_directories_and_a_journal_directory_are_refused_before_anything_is_sent() {
    let sb = counting();
    let plan = PlanFile::new(&genesys_plan("outputs", ONE_DIAL));
    let fifo = plan.dir().join("fifo");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    std::fs::create_dir(plan.dir().join("adir")).expect("made");
    for (args, expected) in [
        (vec!["--report", "markdown:fifo"], "fifo is a FIFO"),
        (vec!["--report", "json:/dev/full"], "/dev/full is a device"),
        (vec!["--report", "html:adir"], "adir is a directory"),
        (vec!["--report", "jsonl:fifo"], "fifo is a FIFO"),
        (
            vec!["--journal", "adir"],
            "--journal adir: adir is a directory",
        ),
    ] {
        let out = plan.run_against(&sb, &args, &[]);
        assert_exit(&out, 2);
        assert!(out.stderr.contains(expected), "{args:?}: {out:#?}");
    }
    assert_nothing_sent(&sb);
    assert!(
        std::fs::symlink_metadata("/dev/full").is_ok_and(|m| !m.is_file()),
        "the device is still a device"
    );
}

#[test]
fn a_report_path_in_the_plan_that_cannot_be_written_is_located() {
    let sb = counting();
    let yaml = genesys_plan("outputs", ONE_DIAL).replace(
        "steps:\n",
        "report:\n  junit: afile/{{ run.plan }}.xml\nsteps:\n",
    );
    let plan = PlanFile::new(&yaml);
    std::fs::write(plan.dir().join("afile"), "x").expect("written");
    let out = plan.run_against(&sb, &[], &[]);
    assert_exit(&out, 2);
    assert!(out.stderr.contains("error[run.output]"), "{out:#?}");
    assert!(out.stderr.contains("plan.yaml:"), "located: {out:#?}");
    assert!(out.stderr.contains("afile is not a directory"), "{out:#?}");
    assert_nothing_sent(&sb);
}

#[cfg(unix)]
#[test]
fn a_symlinked_report_is_written_through_to_its_target() {
    let sb = sandbox(crate::fast_config());
    let plan = PlanFile::new(&genesys_plan("outputs", ONE_DIAL));
    std::fs::create_dir(plan.dir().join("real")).expect("made");
    std::os::unix::fs::symlink("real/report.json", plan.dir().join("link.json")).expect("linked");
    let out = plan.run_against(&sb, &["--report", "json:link.json"], &[]);
    assert_exit(&out, 0);
    let link = std::fs::symlink_metadata(plan.dir().join("link.json")).expect("the link");
    assert!(link.file_type().is_symlink(), "the link is still a link");
    let written = report(plan.dir(), "real/report.json");
    assert_eq!(written["status"], "passed");
}

// ---------------------------------------------------------------------------------------------
// The login, under a retry policy.

#[test]
fn a_login_answered_503_with_retry_after_once_is_retried_and_the_run_passes() {
    let sb = sandbox(Config {
        faults: vec![Fault {
            status: Some(503),
            retry_after: Some(1),
            count: 1,
            ..Fault::new(LOGIN, FaultKind::Status)
        }],
        ..crate::fast_config()
    });
    let plan = PlanFile::new(&genesys_plan("login-retried", ONE_DIAL));
    let started = Instant::now();
    let out = plan.run_against(&sb, &["--report", "json:r.json"], &[]);
    assert_exit(&out, 0);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
    assert!(
        out.stdout.contains("retry login of `gc`: attempt 1 failed"),
        "{out:#?}"
    );
    let report = report(plan.dir(), "r.json");
    let login = &report["logins"][0];
    assert_eq!(login["provider"], "gc", "{report:#}");
    assert_eq!(login["outcome"], "passed");
    assert_eq!(login["attempts"][0]["status"], 503);
    assert_eq!(login["attempts"][0]["retry_after_ms"], 1000);
    assert_eq!(login["attempts"].as_array().map(Vec::len), Some(2));
}

#[test]
fn a_refused_secret_is_not_retried_and_the_hint_names_the_auth_keys() {
    let sb = counting();
    let plan = PlanFile::new(&genesys_plan("wrong-secret", ONE_DIAL));
    let out = plan.run_against(
        &sb,
        &[],
        &[("CP_GC_ID", "sandbox-client"), ("CP_GC_SECRET", "wrong")],
    );
    assert_exit(&out, 3);
    assert_eq!(crate::run::faulted(&sb, LOGIN), 1, "one login, no retry");
    assert!(out.stderr.contains("`auth.client_secret`"), "{out:#?}");
    assert!(!out.stderr.contains("`login` step"), "{out:#?}");
}

#[test]
fn a_login_that_keeps_failing_names_the_provider_and_its_retry_setting() {
    let sb = sandbox(Config {
        faults: vec![Fault {
            status: Some(503),
            count: 100,
            ..Fault::new(LOGIN, FaultKind::Status)
        }],
        ..crate::fast_config()
    });
    let yaml = genesys_plan("login-down", ONE_DIAL).replace(
        "      client_secret: \"{{ secrets.secret }}\"\n",
        "      client_secret: \"{{ secrets.secret }}\"\n    retry: { attempts: 2, initial: 10ms, max: 10ms }\n",
    );
    let plan = PlanFile::new(&yaml);
    let out = plan.run_against(&sb, &[], &[]);
    assert_exit(&out, 3);
    assert_eq!(crate::run::faulted(&sb, LOGIN), 2, "{out:#?}");
    assert!(out.stderr.contains("gave up after 2 attempts"), "{out:#?}");
    assert!(
        out.stderr.contains("`providers.gc.retry`") && out.stderr.contains("provider `gc`"),
        "{out:#?}"
    );
    // The notes come before the login, also when it fails.
    assert!(
        out.stdout
            .contains("note: secrets not set, the sandbox supplies its own"),
        "{out:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// --sandbox takes any plan that runs against a real org.

#[test]
fn the_built_in_sandbox_takes_literal_client_ids_and_never_gets_the_environments_secrets() {
    let yaml = r#"version: 1
name: literal-ids
vars:
  agent: 00000000-0000-4000-8000-000000000001
secrets:
  gc_secret: { env: GENESYS_CLIENT_SECRET }
  cx_key: { env: CXONE_ACCESS_KEY_ID }
  cx_key_secret: { env: CXONE_ACCESS_KEY_SECRET }
  cx_app_secret: { env: CXONE_CLIENT_SECRET }
  crm_token: { env: CRM_TOKEN }
providers:
  gc:
    type: genesys-cloud
    region: mypurecloud.ie
    auth:
      grant: client_credentials
      client_id: 7c3e8a1f-2b4d-4e6f-9a0b-1c2d3e4f5a6b
      client_secret: "{{ secrets.gc_secret }}"
  cx:
    type: nice-cxone
    auth:
      grant: password
      access_key_id: "{{ secrets.cx_key }}"
      access_key_secret: "{{ secrets.cx_key_secret }}"
      client_id: my-registered-app@example.com
      client_secret: "{{ secrets.cx_app_secret }}"
  crm:
    type: http
    base_url: https://crm.example.com/api
    auth: { type: bearer, token: "{{ secrets.crm_token }}" }
steps:
  - id: agent
    provider: gc
    action: users.get
    with: { user_id: "{{ vars.agent }}" }
  - id: session
    provider: cx
    action: agent_sessions.start
    with: { stationPhoneNumber: "+13175550199" }
    save: { id: "{{ response.body.sessionId }}" }
  - id: end
    provider: cx
    action: agent_sessions.end
    with: { session_id: "{{ steps.session.id }}" }
    always: true
  - id: crm
    provider: crm
    action: request
    with:
      method: POST
      path: /notes
      body: { note: "seen {{ secrets.gc_secret }}" }
    # What the echo API received: the stand-in, not the environment's value.
    expect:
      - 'response.body.body.note == "seen sandbox-secret"'
"#;
    let plan = PlanFile::new(yaml);
    let real = [
        ("GENESYS_CLIENT_SECRET", "gc-REAL-secret-4711"),
        ("CXONE_ACCESS_KEY_ID", "cx-REAL-key-0815"),
        ("CXONE_ACCESS_KEY_SECRET", "cx-REAL-key-secret-42"),
        ("CXONE_CLIENT_SECRET", "cx-REAL-app-secret-99"),
        ("CRM_TOKEN", "crm-REAL-token-1234"),
    ];
    let out = plan.run(&["--sandbox", "-vv", "--report", "json:r.json"], &real);
    assert_exit(&out, 0);
    assert!(
        out.stdout
            .contains("note: running against the built-in sandbox at http://127.0.0.1:"),
        "{out:#?}"
    );
    assert!(
        out.stdout
            .contains("stand in for the plan's; no secret is read"),
        "{out:#?}"
    );
    // The logins passed with the sandbox's own credentials (it refuses any other), and the
    // `crm` step's expectation proves what the echo API received from a template that reads a
    // secret was the stand-in.
    assert_eq!(report(plan.dir(), "r.json")["status"], "passed");
    let everything = format!(
        "{}{}{}",
        out.stdout,
        out.stderr,
        std::fs::read_to_string(plan.dir().join("r.json")).expect("the report")
    );
    for (_, value) in real {
        assert!(!everything.contains(value), "{value} appeared somewhere");
    }
}

// ---------------------------------------------------------------------------------------------
// One run per journal.

#[test]
fn a_second_run_on_a_journal_in_use_is_refused_before_anything_is_sent() {
    let sb = counting();
    let plan = PlanFile::new(&genesys_plan("journal-in-use", ONE_DIAL));
    let path = plan.dir().join("journal.jsonl");
    // Another run holds it (the lock is the one callplan takes: an exclusive advisory lock).
    let held = std::fs::File::create(&path).expect("created");
    held.try_lock().expect("locked");
    for flag in ["--journal", "--resume"] {
        let out = plan.run_against(&sb, &[flag, "journal.jsonl"], &[]);
        assert_exit(&out, 2);
        assert!(
            out.stderr.contains("is in use by another run of callplan"),
            "{flag}: {out:#?}"
        );
    }
    assert_nothing_sent(&sb);
    drop(held);
    let out = plan.run_against(&sb, &["--journal", "journal.jsonl"], &[]);
    assert_exit(&out, 0);
}

// ---------------------------------------------------------------------------------------------
// Faults that speak the vendor's errors.

#[test]
fn a_missing_permissions_fault_names_the_permission_and_the_hint_names_what_the_action_needs() {
    let mut params = serde_json::Map::new();
    params.insert("permissions".into(), "[conversation:call:add]".into());
    let sb = sandbox(Config {
        faults: vec![Fault {
            status: Some(403),
            count: 10,
            error: Some(callplan::sandbox::config::FaultError {
                code: Some("missing.permissions".into()),
                message: Some(
                    "Unable to perform the requested action. You are missing the following permission(s): {permissions}"
                        .into(),
                ),
                message_params: params,
                ..Default::default()
            }),
            ..Fault::new(PLACE, FaultKind::Status)
        }],
        ..crate::fast_config()
    });
    let plan = PlanFile::new(&genesys_plan("permissions", ONE_DIAL));
    let out = plan.run_against(&sb, &[], &[]);
    assert_exit(&out, 1);
    let dial = assert_step(&out, "dial", "ERROR");
    assert!(
        dial.contains("missing.permissions") && dial.contains("[conversation:call:add]"),
        "{dial}"
    );
    assert!(
        dial.contains("`calls.create_for_user` needs one of `conversation:agentlessCall:add`, `conversation:call:add`"),
        "{dial}"
    );
}

#[test]
fn an_always_step_that_starts_before_the_timeout_still_ends_with_the_cleanup_budget() {
    // One request a day: the first step takes it, and the `always` step after it starts long
    // before the run's `--timeout` and queues for a day. The run still ends once `--timeout` and
    // then `--cleanup-timeout` have run out, and says the request was never sent.
    let sb = sandbox(crate::fast_config());
    let head = genesys_plan(
        "always-queues",
        r#"steps:
  - id: agent
    provider: gc
    action: users.routing_status
    with: { user_id: "{{ vars.user }}" }
  - id: again
    provider: gc
    action: users.routing_status
    with: { user_id: "{{ vars.user }}" }
    always: true
"#,
    );
    let yaml = crate::run::insert(
        &head,
        "      client_secret: \"{{ secrets.secret }}\"",
        "    rate_limit: { requests: 1, per: 24h }",
    );
    assert!(yaml.contains("rate_limit"), "{yaml}");
    let plan = PlanFile::new(&yaml);
    let url = sb.url();
    let command = run_command(
        plan.dir(),
        "plan.yaml",
        &[
            "--sandbox-url",
            &url,
            "--timeout",
            "2s",
            "--cleanup-timeout",
            "1s",
            "--report",
            "json:r.json",
        ],
    );
    let started = Instant::now();
    let out = Running::start(command).finish();
    assert_exit(&out, 1);
    assert!(started.elapsed() < PATIENCE, "{out:#?}");
    let report = report(plan.dir(), "r.json");
    assert_eq!(report["steps"][0]["outcome"], "passed", "{report:#}");
    let again = &report["steps"][1];
    assert_eq!(again["outcome"], "errored", "{again:#}");
    assert!(
        again.to_string().contains(
            "(the run's `--cleanup-timeout` ran out) before the request was sent; nothing was sent"
        ),
        "{again:#}"
    );
}
