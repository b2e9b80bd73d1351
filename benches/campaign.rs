//! Campaign benchmarks: rate pacing against a rate-limited sandbox, and a large CSV campaign.
//!
//! `cargo bench --bench campaign -- pacing [--calls N --rate R --concurrency C]`
//! `cargo bench --bench campaign -- scale [--rows N --concurrency C]`
//! `cargo bench --bench campaign -- resume [--rows N --kills K --seed S]`
//!
//! Each starts the sandbox in-process, writes a plan (and a CSV) into a temporary directory, and
//! runs the release `callplan` binary on it, spawn to exit. Pacing: N calls on behalf of a user
//! against a sandbox that allows R requests a second per token, with the plan's `rate_limit` set
//! to the same R; the ideal is N / R seconds, and every attempt that got a 429 is counted from the
//! JSON report. Scale: a CSV of N rows, one call per row, without limits; rows per second and the
//! peak RSS of the callplan process (from `/usr/bin/time -f %M`, or /proc when absent).

use std::io::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

use callplan::sandbox::config::RateLimit;
use callplan::sandbox::{Config, Sandbox};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn csv(rows: u64) -> String {
    let mut text = String::from("name,phone,account\n");
    for i in 0..rows {
        // Every row dials the answering test line; the account makes rows distinct.
        text.push_str(&format!("Customer {i},+13175550100,A-{i:06}\n"));
    }
    text
}

fn plan(rate: Option<(u64, &str)>, concurrency: u64) -> String {
    let limit = rate
        .map(|(n, per)| format!("    rate_limit: {{ requests: {n}, per: {per} }}\n"))
        .unwrap_or_default();
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
{limit}guard:
  allow_destinations: ["+1317555****"]
defaults:
  on_error: continue
steps:
  - id: dial
    provider: gc
    action: calls.create_for_user
    for_each: {{ csv: rows.csv }}
    as: row
    concurrency: {concurrency}
    with:
      user_id: "{{{{ vars.agent }}}}"
      phoneNumber: "{{{{ row.phone }}}}"
      attributes: {{ account: "{{{{ row.account }}}}" }}
    expect: [response.status == 200]
"#
    )
}

struct Outcome {
    wall: Duration,
    code: Option<i32>,
    rss_kb: Option<u64>,
    report: serde_json::Value,
}

fn run(dir: &std::path::Path, url: &str) -> Outcome {
    let time = std::path::Path::new("/usr/bin/time").exists();
    let mut command = if time {
        let mut c = Command::new("/usr/bin/time");
        c.args(["-f", "%M", env!("CARGO_BIN_EXE_callplan")]);
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_callplan"))
    };
    let started = Instant::now();
    let out = command
        .args([
            "run",
            "plan.yaml",
            "--sandbox-url",
            url,
            "--quiet",
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
        ])
        .current_dir(dir)
        .env("CP_BENCH_ID", "sandbox-client")
        .env("CP_BENCH_SECRET", "sandbox-secret")
        .env("CI", "true")
        .output()
        .expect("callplan runs");
    let wall = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let rss_kb = time
        .then(|| {
            stderr
                .lines()
                .rev()
                .find_map(|l| l.trim().parse::<u64>().ok())
        })
        .flatten();
    let report = std::fs::read_to_string(dir.join("report.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    if out.status.code() != Some(0) {
        eprintln!("{}", String::from_utf8_lossy(&out.stdout));
        eprintln!("{stderr}");
    }
    Outcome {
        wall,
        code: out.status.code(),
        rss_kb,
        report,
    }
}

fn attempts_with(report: &serde_json::Value, status: u64) -> usize {
    report["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["items"].as_array().into_iter().flatten())
        .flat_map(|i| i["attempts"].as_array().into_iter().flatten())
        .filter(|a| a["status"].as_u64() == Some(status))
        .count()
}

fn start(config: Config) -> (tokio::runtime::Runtime, Sandbox) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let sandbox = runtime
        .block_on(Sandbox::start(config, ([127, 0, 0, 1], 0).into()))
        .expect("the sandbox starts");
    (runtime, sandbox)
}

fn write(dir: &std::path::Path, name: &str, text: &str) {
    std::fs::File::create(dir.join(name))
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .expect("written");
}

fn pacing() {
    let calls = arg("--calls", 600);
    let rate = arg("--rate", 100);
    let concurrency = arg("--concurrency", 8);
    let mut config = Config::default();
    config.genesys.rate_limit = Some(RateLimit {
        requests: rate as u32,
        per: Duration::from_secs(1),
        burst: None,
    });
    let (_runtime, sandbox) = start(config);
    let dir = tempfile::tempdir().expect("a temp dir");
    write(dir.path(), "rows.csv", &csv(calls));
    write(
        dir.path(),
        "plan.yaml",
        &plan(Some((rate, "1s")), concurrency),
    );
    let outcome = run(dir.path(), &sandbox.url());
    let ideal = calls as f64 / rate as f64;
    let placed = sandbox.ledger().len();
    println!(
        "pacing: {calls} calls, sandbox limit {rate}/s per token, plan rate_limit {rate}/s, concurrency {concurrency}"
    );
    println!(
        "  wall {:.2} s (spawn to exit), ideal {ideal:.2} s, ratio {:.3}; calls placed {placed}; attempts answered 429: {}; exit {:?}",
        outcome.wall.as_secs_f64(),
        outcome.wall.as_secs_f64() / ideal,
        attempts_with(&outcome.report, 429),
        outcome.code
    );
}

fn scale() {
    let rows = arg("--rows", 100_000);
    let concurrency = arg("--concurrency", 16);
    let mut config = Config::default();
    config.genesys.rate_limit = None;
    let (_runtime, sandbox) = start(config);
    let dir = tempfile::tempdir().expect("a temp dir");
    write(dir.path(), "rows.csv", &csv(rows));
    write(
        dir.path(),
        "plan.yaml",
        &plan(Some((1_000_000, "1s")), concurrency),
    );
    let outcome = run(dir.path(), &sandbox.url());
    let placed = sandbox.ledger().len();
    let size = |name: &str| {
        std::fs::metadata(dir.path().join(name))
            .map(|m| m.len() / 1024)
            .unwrap_or(0)
    };
    let lines = std::fs::read_to_string(dir.path().join("items.jsonl"))
        .map(|t| t.lines().count())
        .unwrap_or(0);
    println!("scale: {rows} CSV rows, concurrency {concurrency}, no rate limit");
    println!(
        "  wall {:.2} s, {:.0} rows/s, peak RSS {} KB, calls placed {placed}, exit {:?}",
        outcome.wall.as_secs_f64(),
        rows as f64 / outcome.wall.as_secs_f64(),
        outcome
            .rss_kb
            .map_or("unknown".to_owned(), |k| k.to_string()),
        outcome.code
    );
    println!(
        "  reports: JSONL {lines} lines, {} KB; JSON {} KB; JUnit {} KB; Markdown {} KB; HTML {} KB",
        size("items.jsonl"),
        size("report.json"),
        size("report.xml"),
        size("report.md"),
        size("report.html")
    );
}

/// Kill and resume: a campaign of N rows (each dialing its own number) run with `--journal`,
/// killed with SIGKILL after a random delay K times, resumed after each kill, then resumed to
/// the end; the sandbox's ledger says how often each number was dialed.
fn resume() {
    let rows = arg("--rows", 1_000) as usize;
    let kills = arg("--kills", 20);
    let mut seed = arg("--seed", 7);
    let mut random = move || {
        // xorshift: reproducible kill times for a given seed.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut config = Config::default();
    config.genesys.rate_limit = None;
    // About 20 ms per call (four at a time), so that 1,000 rows take about five seconds and
    // twenty kills land mid-campaign.
    config.latency = Duration::from_millis(20);
    let (_runtime, sandbox) = start(config);
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut csv = String::from("name,phone,account\n");
    for i in 0..rows {
        csv.push_str(&format!("Row {i},+1317555{:04},A-{i}\n", 2000 + i));
    }
    write(dir.path(), "rows.csv", &csv);
    write(dir.path(), "plan.yaml", &plan(Some((100_000, "1s")), 4));
    let spawn = |resume: bool| {
        Command::new(env!("CARGO_BIN_EXE_callplan"))
            .args([
                "run",
                "plan.yaml",
                "--sandbox-url",
                &sandbox.url(),
                "--quiet",
            ])
            .args(if resume {
                ["--resume", "journal.jsonl"]
            } else {
                ["--journal", "journal.jsonl"]
            })
            .current_dir(dir.path())
            .env("CP_BENCH_ID", "sandbox-client")
            .env("CP_BENCH_SECRET", "sandbox-secret")
            .env("CI", "true")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("callplan runs")
    };
    let started = Instant::now();
    let mut printed = String::new();
    let mut killed = 0u64;
    for round in 0..=kills {
        let mut child = spawn(round > 0);
        let after = Duration::from_millis(30 + random() % 400);
        let t = Instant::now();
        while t.elapsed() < after && matches!(child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(1));
        }
        if matches!(child.try_wait(), Ok(None)) {
            let _ = child.kill();
            killed += 1;
        }
        let out = child.wait_with_output().expect("reaped");
        printed.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    let last = spawn(true).wait_with_output().expect("the last resume");
    printed.push_str(&String::from_utf8_lossy(&last.stdout));
    let unknown = unknown_rows(&printed);
    let mut dialed = std::collections::HashMap::<String, usize>::new();
    for entry in sandbox.ledger() {
        *dialed.entry(entry.destination).or_default() += 1;
    }
    let twice = dialed.values().filter(|n| **n > 1).count();
    let once = dialed.values().filter(|n| **n == 1).count();
    let never = rows - dialed.len();
    println!(
        "resume: {rows} rows, {killed} runs killed with SIGKILL at random moments (seed {}), then resumed to the end",
        arg("--seed", 7)
    );
    println!(
        "  dialed once: {once}; dialed twice or more: {twice}; never dialed: {never}; reported as of unknown fate (not re-sent): {unknown}; last exit {:?}; {:.1} s in all",
        last.status.code(),
        started.elapsed().as_secs_f64()
    );
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
}
