//! Campaign benchmarks: flows (dial, wait until connected, hang up, once per CSV row) paced
//! against a rate-limited sandbox, at scale, and killed and resumed.
//!
//! `cargo bench --bench campaign -- pacing [--calls N --rate R --concurrency C]`
//! `cargo bench --bench campaign -- scale [--rows N,N,… --concurrency C --no-journal]`
//! `cargo bench --bench campaign -- resume [--rows N --kills K --seed S --concurrency C]`
//!
//! Each also takes `--hang-up ACTION` (`calls.hang_up` unless told).
//!
//! Each starts the sandbox in-process on a random loopback port, writes a plan and a CSV into a
//! temporary directory, and runs the release `callplan` binary on them, spawn to exit, every run
//! bounded by a deadline. Each row of the CSV runs the same three-step flow as
//! `plans/campaign-csv.yaml`: `calls.create_for_user`, `calls.wait` until connected, and an
//! `always` `calls.hang_up`.
//!
//! - Pacing: N rows against a sandbox that allows R requests a second per token, with the plan's
//!   `rate_limit` set to the same R. Every request callplan sends (dials, polls, hang-ups) is
//!   counted from its `-v` log, with the 429s among them; the ideal is requests / R seconds.
//! - Scale: N rows, without a sandbox limit, every report format and `--journal` on; wall time,
//!   rows per second and the peak RSS of the callplan process (`/usr/bin/time -f %M`, or the
//!   last `VmHWM` read from /proc while it runs when that is absent), and the cost per row of
//!   each size against the smallest.
//! - Resume: N rows each dialing its own number, killed with SIGKILL K times at seeded
//!   pseudo-random moments of journal growth and resumed after each kill, then resumed to the
//!   end; the sandbox's ledger says how often each number was dialed and whether any call is
//!   still up, and the journal how many rows the resumes reconciled with the provider.
//!
//! A check that does not hold is printed as `FAILED: …` and makes the bench exit with 1.

use std::collections::HashMap;
use std::io::{Read as _, Seek as _};
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use callplan::sandbox::config::RateLimit;
use callplan::sandbox::{Config, Sandbox};

/// Set by any check that did not hold.
static FAILED: AtomicBool = AtomicBool::new(false);

fn check(ok: bool, what: &str) {
    if !ok {
        FAILED.store(true, Ordering::Relaxed);
        println!("  FAILED: {what}");
    }
}

fn value<'a>(name: &str, args: &'a [String]) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    value(name, &args)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A comma-separated list of numbers (`--rows 10000,100000`).
fn list(name: &str, default: &[u64]) -> Vec<u64> {
    let args: Vec<String> = std::env::args().collect();
    value(name, &args)
        .map(|v| v.split(',').filter_map(|n| n.parse().ok()).collect())
        .filter(|v: &Vec<u64>| !v.is_empty())
        .unwrap_or_else(|| default.to_vec())
}

/// A CSV of `rows` rows; `number` gives each row's phone number.
fn csv(rows: u64, number: impl Fn(u64) -> String) -> String {
    let mut text = String::from("name,phone,account\n");
    for i in 0..rows {
        text.push_str(&format!("Customer {i},{},A-{i:06}\n", number(i)));
    }
    text
}

/// The number row `i` dials in the resume bench (distinct per row, allowed, answering).
fn own_number(i: u64) -> String {
    format!("+1317555{:04}", 2000 + i)
}

/// The hang-up action: `calls.hang_up` as in `plans/campaign-csv.yaml`, or another one given as
/// `--hang-up ACTION` (such as `conversations.disconnect`, Genesys's teardown).
fn hang_up() -> String {
    let args: Vec<String> = std::env::args().collect();
    value("--hang-up", &args)
        .unwrap_or("calls.hang_up")
        .to_owned()
}

/// The flow of `plans/campaign-csv.yaml` over `rows.csv`, paced at `rate` requests a second.
/// The wait polls every 10 ms instead of every second: with the fast sandbox the first poll
/// finds the call connected, and a row that polls too early does not idle for a second.
fn plan(rate: u64, concurrency: u64) -> String {
    let hang_up = hang_up();
    format!(
        r#"version: 1
name: campaign-bench
vars:
  agent: 00000000-0000-4000-8000-000000000001
secrets:
  id: {{ env: CP_BENCH_ID }}
  secret: {{ env: CP_BENCH_SECRET }}
providers:
  gc:
    type: genesys-cloud
    region: mypurecloud.com
    auth:
      grant: client_credentials
      client_id: "{{{{ secrets.id }}}}"
      client_secret: "{{{{ secrets.secret }}}}"
    rate_limit: {{ requests: {rate}, per: 1s }}
    reconcile_delay: 200ms
guard:
  allow_destinations: ["+1317555****"]
defaults:
  on_error: continue
steps:
  - id: campaign
    for_each: {{ csv: rows.csv }}
    as: row
    concurrency: {concurrency}
    steps:
      - id: dial
        provider: gc
        action: calls.create_for_user
        with:
          user_id: "{{{{ vars.agent }}}}"
          phoneNumber: "{{{{ row.phone }}}}"
          attributes: {{ account: "{{{{ row.account }}}}" }}
        expect: [response.status == 200]
        save: {{ conversation_id: "{{{{ response.body.id }}}}" }}
      - id: answered
        provider: gc
        action: calls.wait
        with:
          conversation_id: "{{{{ steps.dial.conversation_id }}}}"
          until: connected
          timeout: 20s
          interval: 10ms
        timeout: 30s
      - id: hangup
        provider: gc
        action: {hang_up}
        if: steps.dial.outcome == "passed"
        with: {{ conversation_id: "{{{{ steps.dial.conversation_id }}}}" }}
        always: true
"#
    )
}

/// A sandbox where calls connect at once (0.3 ms after they are placed) and with `limit` on
/// Genesys requests per token.
fn sandbox(limit: Option<u32>, latency: Duration) -> Sandbox {
    let mut config = Config {
        time_scale: 0.0001,
        latency,
        ..Config::default()
    };
    config.genesys.rate_limit = limit.map(|requests| RateLimit {
        requests,
        per: Duration::from_secs(1),
        burst: None,
    });
    Sandbox::start_background(config).expect("the sandbox starts")
}

/// A temporary directory holding the plan and its CSV.
fn campaign(plan: &str, csv: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("plan.yaml"), plan).expect("written");
    std::fs::write(dir.path().join("rows.csv"), csv).expect("written");
    dir
}

/// `callplan run plan.yaml --sandbox-url URL --quiet` in `dir`, plus `args`, run by `wrapper`
/// (such as `/usr/bin/time -f %M`) when there is one.
fn callplan(wrapper: &[&str], dir: &Path, url: &str, args: &[&str]) -> Command {
    let binary = env!("CARGO_BIN_EXE_callplan");
    let mut command = match wrapper.split_first() {
        Some((program, rest)) => {
            let mut c = Command::new(program);
            c.args(rest).arg(binary);
            c
        }
        None => Command::new(binary),
    };
    command
        .args(["run", "plan.yaml", "--sandbox-url", url, "--quiet"])
        .args(args)
        .current_dir(dir)
        .env("CP_BENCH_ID", "sandbox-client")
        .env("CP_BENCH_SECRET", "sandbox-secret")
        .env("CI", "true");
    command
}

struct Outcome {
    wall: Duration,
    status: Option<ExitStatus>,
    rss_kb: Option<u64>,
    stderr: String,
}

/// The largest resident set the process has had so far (`VmHWM`), in KB.
fn high_water_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs callplan with `args` in `dir` to its end, killing its process group after `deadline`.
/// Its peak RSS comes from `/usr/bin/time -f %M` when present, else from /proc while it runs
/// (a floor: what it reached after the last look is missed).
fn measured(dir: &Path, url: &str, args: &[&str], deadline: Duration) -> Outcome {
    let time = Path::new("/usr/bin/time").exists();
    let wrapper: &[&str] = if time {
        &["/usr/bin/time", "-f", "%M"]
    } else {
        &[]
    };
    let mut command = callplan(wrapper, dir, url, args);
    // Its own process group, so that a run past its deadline is killed with its wrapper.
    command
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command.spawn().expect("callplan runs");
    // Drain stderr on a thread so that a chatty run (`-v`) never blocks on a full pipe.
    let mut pipe = child.stderr.take().expect("stderr is piped");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    });
    let mut rss_kb = None;
    let status = loop {
        match child.try_wait().expect("callplan can be waited for") {
            Some(status) => break Some(status),
            None if started.elapsed() > deadline => {
                kill_group(&child);
                let _ = child.wait();
                break None;
            }
            None => {
                if !time {
                    rss_kb = high_water_kb(child.id()).or(rss_kb);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    };
    let wall = started.elapsed();
    let stderr = reader.join().unwrap_or_default();
    if time {
        rss_kb = stderr
            .lines()
            .rev()
            .find_map(|l| l.trim().parse::<u64>().ok());
    }
    if status.is_none() {
        check(
            false,
            &format!("callplan ran past its deadline of {deadline:?} and was killed"),
        );
    }
    Outcome {
        wall,
        status,
        rss_kb,
        stderr,
    }
}

/// SIGKILL to the process group the child leads (callplan and its `/usr/bin/time`).
fn kill_group(child: &Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .status();
}

fn report(dir: &Path) -> serde_json::Value {
    std::fs::read_to_string(dir.join("report.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// The flow step's rows that passed, from the JSON report.
fn rows_passed(report: &serde_json::Value) -> u64 {
    report["steps"][0]["counts"]["passed"].as_u64().unwrap_or(0)
}

/// (calls in the ledger, of which still up).
fn ledger_calls(sandbox: &Sandbox) -> (usize, usize) {
    let ledger = sandbox.ledger();
    let up = ledger.iter().filter(|e| e.state != "disconnected").count();
    (ledger.len(), up)
}

fn exit_code(outcome: &Outcome) -> Option<i32> {
    outcome.status.and_then(|s| s.code())
}

/// Paced rows: every request callplan sends is counted from its `-v` log (one
/// `[gc] METHOD URL -> STATUS in T` line per answer), and the 429s among them.
fn pacing() {
    let calls = arg("--calls", 600);
    let rate = arg("--rate", 100);
    let concurrency = arg("--concurrency", 8);
    let sandbox = sandbox(Some(rate as u32), Duration::ZERO);
    let dir = campaign(
        &plan(rate, concurrency),
        &csv(calls, |_| "+13175550100".into()),
    );
    let outcome = measured(
        dir.path(),
        &sandbox.url(),
        &["-v", "--color", "never", "--report", "json:report.json"],
        Duration::from_secs(30 + 10 * calls / rate),
    );
    let answers: Vec<&str> = outcome
        .stderr
        .lines()
        .filter(|l| l.contains("callplan::http: [gc] ") && l.contains(" -> "))
        .collect();
    let too_many = answers.iter().filter(|l| l.contains(" -> 429 ")).count();
    let ideal = answers.len() as f64 / rate as f64;
    let ratio = outcome.wall.as_secs_f64() / ideal;
    let (placed, up) = ledger_calls(&sandbox);
    println!(
        "pacing: {calls} rows (dial, wait, hang up), sandbox limit {rate}/s per token, plan rate_limit {rate}/s, concurrency {concurrency}"
    );
    println!(
        "  wall {:.2} s (spawn to exit) for {} requests, ideal {ideal:.2} s, ratio {ratio:.3}; answered 429: {too_many}; calls placed {placed}, still up {up}; rows passed {}; exit {:?}",
        outcome.wall.as_secs_f64(),
        answers.len(),
        rows_passed(&report(dir.path())),
        exit_code(&outcome)
    );
    check(ratio <= 1.05, "wall within 1.05 × the ideal");
    check(too_many == 0, "no request answered 429");
    check(
        placed as u64 == calls && up == 0,
        "every row dialed once and hung up",
    );
    check(exit_code(&outcome) == Some(0), "the run passed");
}

struct Scaled {
    rows: u64,
    wall: Duration,
    rss_kb: Option<u64>,
}

fn scale() {
    let sizes = list("--rows", &[10_000, 100_000]);
    let concurrency = arg("--concurrency", 64);
    let journal = !std::env::args().any(|a| a == "--no-journal");
    let mut runs = Vec::new();
    for rows in sizes {
        runs.push(scale_one(rows, concurrency, journal));
    }
    let Some(base) = runs.first() else { return };
    let per_row = |r: &Scaled| r.wall.as_secs_f64() / r.rows as f64;
    let mb = |r: &Scaled| {
        r.rss_kb.map_or("unknown".to_owned(), |k| {
            format!("{:.1} MB", k as f64 / 1024.0)
        })
    };
    for run in &runs[1..] {
        println!(
            "scale: time per row at {} rows / at {} rows: {:.2} (1.00 is linear); peak RSS {} at {} rows, {} at {} rows",
            run.rows,
            base.rows,
            per_row(run) / per_row(base),
            mb(run),
            run.rows,
            mb(base),
            base.rows
        );
    }
}

fn scale_one(rows: u64, concurrency: u64, journal: bool) -> Scaled {
    let sandbox = sandbox(None, Duration::ZERO);
    let dir = campaign(
        &plan(100_000, concurrency),
        &csv(rows, |_| "+13175550100".into()),
    );
    // `--no-journal` leaves the journal out, to show what it costs.
    let journalled: &[&str] = if journal {
        &["--journal", "journal.jsonl"]
    } else {
        &[]
    };
    let reports = [
        "--report",
        "json:report.json",
        "--report",
        "jsonl:items.jsonl",
        "--report",
        "junit:report.xml",
        "--report",
        "markdown:report.md",
        "--report",
        "html:report.html",
    ];
    // Bounded: a journalled row costs about five fsyncs, a few milliseconds on a slow disk.
    let outcome = measured(
        dir.path(),
        &sandbox.url(),
        &[journalled, &reports[..]].concat(),
        Duration::from_secs(60 + rows / 50),
    );
    let (placed, up) = ledger_calls(&sandbox);
    let size = |name: &str| {
        std::fs::metadata(dir.path().join(name)).map_or(0.0, |m| m.len() as f64 / 1024.0)
    };
    let lines = |name: &str| {
        std::fs::read_to_string(dir.path().join(name))
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    let passed = rows_passed(&report(dir.path()));
    println!(
        "scale: {rows} CSV rows × (dial, wait, hang up), concurrency {concurrency}, no sandbox limit, every report{}",
        if journal {
            " and --journal"
        } else {
            ", no journal"
        }
    );
    println!(
        "  wall {:.2} s, {:.0} rows/s, peak RSS {}, calls placed {placed}, still up {up}, rows passed {passed}, exit {:?}",
        outcome.wall.as_secs_f64(),
        rows as f64 / outcome.wall.as_secs_f64(),
        outcome.rss_kb.map_or("unknown".to_owned(), |k| format!(
            "{:.1} MB",
            k as f64 / 1024.0
        )),
        exit_code(&outcome)
    );
    println!(
        "  files: journal {} lines, {:.0} KB; JSONL {} lines, {:.0} KB; JSON {:.0} KB; JUnit {:.0} KB; Markdown {:.1} KB; HTML {:.0} KB",
        lines("journal.jsonl"),
        size("journal.jsonl"),
        lines("items.jsonl"),
        size("items.jsonl"),
        size("report.json"),
        size("report.xml"),
        size("report.md"),
        size("report.html")
    );
    if exit_code(&outcome) != Some(0) {
        println!("{}", outcome.stderr);
    }
    check(exit_code(&outcome) == Some(0), "the run passed");
    check(
        placed as u64 == rows && up == 0 && passed == rows,
        "every row dialed, connected and hung up",
    );
    if let Some(kb) = outcome.rss_kb {
        check(kb < 64 * 1024, "peak RSS under 64 MB");
    }
    Scaled {
        rows,
        wall: outcome.wall,
        rss_kb: outcome.rss_kb,
    }
}

/// Lines of a growing file, read incrementally (a kill is decided on every millisecond, and
/// rereading the whole journal that often would load the machine the run shares).
struct Lines {
    offset: u64,
    lines: usize,
}

impl Lines {
    fn count(&mut self, path: &Path) -> usize {
        if let Ok(mut file) = std::fs::File::open(path) {
            let mut fresh = Vec::new();
            if file.seek(std::io::SeekFrom::Start(self.offset)).is_ok()
                && file.read_to_end(&mut fresh).is_ok()
            {
                // Only whole lines: a record being written counts once it ends.
                let end = fresh.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
                self.lines += fresh[..end].iter().filter(|b| **b == b'\n').count();
                self.offset += end as u64;
            }
        }
        self.lines
    }
}

fn resume() {
    let rows = arg("--rows", 1_000);
    let kills = arg("--kills", 20);
    let seed = arg("--seed", 7);
    let concurrency = arg("--concurrency", 4);
    let mut state = seed.max(1);
    let mut random = move || {
        // xorshift64: the same kill moments for the same seed.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    // Every request takes 20 ms (as in the resume test), so that kills land mid-campaign.
    let sandbox = sandbox(None, Duration::from_millis(20));
    let dir = campaign(&plan(100_000, concurrency), &csv(rows, own_number));
    let journal = dir.path().join("journal.jsonl");
    let url = sandbox.url();
    let spawn = |resume: bool| {
        let flag = if resume { "--resume" } else { "--journal" };
        callplan(&[], dir.path(), &url, &[flag, "journal.jsonl"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("callplan runs")
    };
    let started = Instant::now();
    let mut lines = Lines {
        offset: 0,
        lines: 0,
    };
    let mut killed = 0;
    let mut finished_early = None;
    let mut thresholds = Vec::new();
    for round in 0..kills {
        // A journal holds about five records per row; 20 kills at 30–229 records each land
        // within the first half or so of 1,000 rows.
        let records = 30 + (random() % 200) as usize;
        thresholds.push(records);
        let before = lines.count(&journal);
        let mut child = spawn(round > 0);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                finished_early = Some(round);
                break;
            }
            if lines.count(&journal) >= before + records {
                let _ = child.kill();
                killed += 1;
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                check(false, "a run's journal stopped growing for a minute");
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = child.wait();
        if finished_early.is_some() {
            break;
        }
    }
    let mut last = spawn(true);
    let deadline = Instant::now() + Duration::from_secs(120);
    let last_status = loop {
        match last.try_wait() {
            Ok(Some(status)) => break status.code(),
            Ok(None) if Instant::now() > deadline => {
                let _ = last.kill();
                let _ = last.wait();
                break None;
            }
            _ => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    let total = started.elapsed();
    let text = std::fs::read_to_string(&journal).unwrap_or_default();
    let mut found: HashMap<String, usize> = HashMap::new();
    for line in text
        .lines()
        .filter(|l| l.contains(r#""kind":"reconciled""#))
    {
        let record: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
        let what = record["found"].as_str().unwrap_or("?");
        // "unknown: <why>" counted by its kind only.
        let what = what.split(':').next().unwrap_or(what).to_owned();
        *found.entry(what).or_default() += 1;
    }
    let reconciled: usize = found.values().sum();
    let mut dialed: HashMap<String, usize> = HashMap::new();
    let ledger = sandbox.ledger();
    let up = ledger.iter().filter(|e| e.state != "disconnected").count();
    for entry in ledger {
        *dialed.entry(entry.destination).or_default() += 1;
    }
    let once = (0..rows)
        .filter(|i| dialed.get(&own_number(*i)) == Some(&1))
        .count();
    let twice = dialed.values().filter(|n| **n > 1).count();
    let never = (0..rows)
        .filter(|i| !dialed.contains_key(&own_number(*i)))
        .count();
    let mut found: Vec<_> = found.into_iter().collect();
    found.sort();
    println!(
        "resume: {rows} rows × (dial, wait, hang up), concurrency {concurrency}, 20 ms per request, {killed} runs killed with SIGKILL at journal growth of {thresholds:?} records (seed {seed}), then resumed to the end"
    );
    if let Some(round) = finished_early {
        println!("  run {} finished before its kill", round + 1);
    }
    println!(
        "  dialed once: {once}; dialed twice or more: {twice}; never dialed: {never}; calls still up: {up}; rows reconciled: {reconciled} {found:?}; last exit {last_status:?}; {:.1} s in all",
        total.as_secs_f64()
    );
    check(killed == kills, "every kill landed mid-campaign");
    check(
        once as u64 == rows && twice == 0,
        "every row dialed exactly once",
    );
    check(up == 0, "no call left up");
    check(last_status == Some(0), "the last resume passed");
}

fn main() {
    let which: Vec<String> = std::env::args().collect();
    let pick = |name: &str| which.iter().any(|a| a == name);
    let all = !pick("pacing") && !pick("scale") && !pick("resume");
    if all || pick("pacing") {
        pacing();
    }
    if all || pick("scale") {
        scale();
    }
    if all || pick("resume") {
        resume();
    }
    if FAILED.load(Ordering::Relaxed) {
        std::process::exit(1);
    }
}
