//! Journal and resume: a campaign killed with SIGKILL at several points and resumed each time
//! dials every row at most once, and every row it did not dial is one it reported as of unknown
//! fate.

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
secrets:
  id: { env: CP_ID }
  secret: { env: CP_SECRET }
guard:
  allow_destinations: ["+1317555****"]
defaults:
  on_error: continue
steps:
  - id: dial
    provider: gc
    action: calls.create_for_user
    for_each: { csv: rows.csv }
    as: row
    concurrency: 4
    with:
      user_id: "{{ vars.agent }}"
      phoneNumber: "{{ row.phone }}"
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

/// The rows reported as of unknown fate, counted once each (a resume repeats an earlier run's
/// report as "finished before the resume …: fate unknown …").
fn unknown_rows(stdout: &str) -> usize {
    let mut rows = std::collections::HashSet::new();
    let mut current = None;
    for line in stdout.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if line.starts_with("  ") && !line.starts_with("        ") && words.len() >= 2 {
            current = Some(words[1].to_owned());
        } else if line.contains("fate unknown") {
            rows.extend(current.clone());
        }
    }
    rows.len()
}

#[test]
fn killed_and_resumed_campaigns_dial_every_row_at_most_once() {
    let rows = 80;
    let mut config = super::fast_config();
    // Each call takes a little while, so that kills land mid-campaign.
    config.latency = Duration::from_millis(8);
    config.genesys.rate_limit = None;
    let sandbox = callplan::sandbox::Sandbox::start_background(config).expect("a sandbox");
    let dir = tempfile::tempdir().expect("a temp dir");
    let (plan, csv) = plan(rows);
    std::fs::write(dir.path().join("plan.yaml"), plan).expect("written");
    std::fs::write(dir.path().join("rows.csv"), csv).expect("written");

    let url = sandbox.url();
    // 80 rows journal about 160 records (sending, done): the kills land at about a quarter, a
    // half and three quarters of the campaign.
    let (first, mut stdout) = run_until(dir.path(), &url, false, 40);
    assert_eq!(first, None, "the first run was killed mid-campaign");
    for records in [40, 40] {
        stdout.push_str(&run_until(dir.path(), &url, true, records).1);
    }
    let last = command(dir.path(), &url, true)
        .output()
        .expect("the last resume");
    stdout.push_str(&String::from_utf8_lossy(&last.stdout));
    assert!(
        matches!(last.status.code(), Some(0) | Some(1)),
        "{stdout}\n{}",
        String::from_utf8_lossy(&last.stderr)
    );

    let mut dialed: HashMap<String, usize> = HashMap::new();
    for entry in sandbox.ledger() {
        *dialed.entry(entry.destination).or_default() += 1;
    }
    let twice: Vec<_> = dialed.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "dialed twice: {twice:?}");
    let unknown = unknown_rows(&stdout);
    let missing = (0..rows)
        .filter(|i| !dialed.contains_key(&number(*i)))
        .count();
    assert!(
        missing <= unknown,
        "{missing} rows never dialed, only {unknown} reported as of unknown fate:\n{stdout}"
    );
    assert!(
        dialed.len() + unknown >= rows,
        "every row is dialed or reported"
    );
    // A resume of a finished campaign sends nothing more.
    let before = sandbox.ledger().len();
    let again = command(dir.path(), &url, true).output().expect("runs");
    assert!(matches!(again.status.code(), Some(0) | Some(1)));
    assert_eq!(sandbox.ledger().len(), before);
}
