//! Journal and resume: a campaign killed with SIGKILL at several points and resumed each time
//! dials every row exactly once and leaves no call up: creates of unknown fate are looked up at
//! the sandbox (reconciled) before they are counted or sent again, and a row stopped halfway
//! goes on from its next step.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The number row `i` dials (distinct per row, inside the allow-list, answering).
fn number(i: usize) -> String {
    format!("+1317555{:04}", 2000 + i)
}

fn plan(rows: usize) -> (String, String) {
    let mut csv = String::from("name,phone\n");
    for i in 0..rows {
        csv.push_str(&format!("Row {i},{}\n", number(i)));
    }
    // The default on_error (abort): a row of unknown fate must not stop the campaign.
    let plan = r#"version: 1
name: resume
vars:
  agent: 00000000-0000-4000-8000-000000000001
providers:
  gc:
    type: genesys-cloud
    region: mypurecloud.com
    auth:
      grant: client_credentials
      client_id: "{{ secrets.id }}"
      client_secret: "{{ secrets.secret }}"
    rate_limit: { requests: 100000, per: 1s }
    reconcile_delay: 200ms
secrets:
  id: { env: CP_ID }
  secret: { env: CP_SECRET }
guard:
  allow_destinations: ["+1317555****"]
steps:
  - id: campaign
    for_each: { csv: rows.csv }
    as: row
    concurrency: 4
    steps:
      - id: dial
        provider: gc
        action: calls.create_for_user
        with:
          user_id: "{{ vars.agent }}"
          phoneNumber: "{{ row.phone }}"
        save: { conversation_id: "{{ response.body.id }}" }
      - id: answered
        provider: gc
        action: calls.wait
        with: { conversation_id: "{{ steps.dial.conversation_id }}", until: connected, timeout: 20s }
        timeout: 30s
      - id: hangup
        provider: gc
        action: conversations.disconnect
        if: steps.dial.outcome == "passed"
        with: { conversation_id: "{{ steps.dial.conversation_id }}" }
        always: true
"#
    .to_owned();
    (plan, csv)
}

fn command(dir: &std::path::Path, url: &str, resume: bool) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_callplan"));
    c.args(["run", "plan.yaml", "--sandbox-url", url])
        .args(if resume {
            ["--resume", "journal.jsonl"]
        } else {
            ["--journal", "journal.jsonl"]
        })
        .current_dir(dir)
        .env("CP_ID", "sandbox-client")
        .env("CP_SECRET", "sandbox-secret")
        .env("CI", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Lines in the journal so far.
fn journal_lines(dir: &std::path::Path) -> usize {
    std::fs::read_to_string(dir.join("journal.jsonl"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

/// Kills a run (SIGKILL) once its journal has grown by `records` lines, which puts the kill in
/// the middle of the campaign however fast or loaded the machine is; returns its exit code
/// (None when killed) and stdout.
fn run_until(
    dir: &std::path::Path,
    url: &str,
    resume: bool,
    records: usize,
) -> (Option<i32>, String) {
    let before = journal_lines(dir);
    let mut child = command(dir, url, resume).spawn().expect("callplan runs");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut killed = false;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if journal_lines(dir) >= before + records {
            let _ = child.kill();
            killed = true;
            break;
        }
        assert!(Instant::now() < deadline, "the journal never grew");
        std::thread::sleep(Duration::from_millis(1));
    }
    let out = child.wait_with_output().expect("reaped");
    let code = if killed { None } else { out.status.code() };
    (code, String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Kills a campaign at several moments (resuming it each time), lets the last resume finish,
/// and checks the ledger: every row dialed exactly once, no call left up. Returns how many rows
/// the resumes reconciled.
pub(crate) fn kill_and_resume(rows: usize, kills: &[usize]) -> usize {
    let mut config = super::fast_config();
    // Each request takes a little while, so that kills land mid-campaign.
    config.latency = Duration::from_millis(20);
    config.genesys.rate_limit = None;
    let sandbox = callplan::sandbox::Sandbox::start_background(config).expect("a sandbox");
    let dir = tempfile::tempdir().expect("a temp dir");
    let (plan, csv) = plan(rows);
    std::fs::write(dir.path().join("plan.yaml"), plan).expect("written");
    std::fs::write(dir.path().join("rows.csv"), csv).expect("written");
    let url = sandbox.url();
    let mut stdout = String::new();
    for (n, records) in kills.iter().enumerate() {
        let (code, out) = run_until(dir.path(), &url, n > 0, *records);
        stdout.push_str(&out);
        if code.is_some() {
            break;
        }
    }
    let last = command(dir.path(), &url, true)
        .output()
        .expect("the last resume");
    stdout.push_str(&String::from_utf8_lossy(&last.stdout));
    assert_eq!(
        last.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&last.stderr)
    );
    let mut dialed: HashMap<String, usize> = HashMap::new();
    for entry in sandbox.ledger() {
        assert_eq!(entry.state, "disconnected", "a call was left up: {entry:?}");
        *dialed.entry(entry.destination).or_default() += 1;
    }
    let twice: Vec<_> = dialed.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "dialed twice: {twice:?}");
    let missing: Vec<usize> = (0..rows)
        .filter(|i| !dialed.contains_key(&number(*i)))
        .collect();
    assert!(missing.is_empty(), "never dialed: {missing:?}\n{stdout}");
    // A resume of a finished campaign sends nothing more.
    let before = sandbox.ledger().len();
    let again = command(dir.path(), &url, true).output().expect("runs");
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(sandbox.ledger().len(), before);
    let journal = std::fs::read_to_string(dir.path().join("journal.jsonl")).expect("journal");
    journal
        .lines()
        .filter(|l| l.contains(r#""kind":"reconciled""#))
        .count()
}

#[test]
fn a_campaign_killed_eight_times_dials_every_row_exactly_once_and_leaves_no_call_up() {
    // Eight kills at uneven moments (journal growth, in records: about five per row).
    let kills = [37, 120, 61, 150, 44, 93, 130, 70];
    kill_and_resume(200, &kills);
}
