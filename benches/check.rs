//! `callplan check` speed: a generated 10,000-step plan (clean, and with a warning on every third
//! step), the cold start of the binary on a small plan, and hostile inputs (400 KB of nested
//! brackets, an alias bomb, `/dev/zero`), which must be refused fast and small. Run with
//! `cargo bench --bench check`; figures go in BENCHMARKS.md.
//!
//! Every case measures the real release binary, spawned as a user runs it (wall time from spawn to
//! exit), over repeated runs; the hostile inputs also report their peak RSS (`/usr/bin/time -f
//! %M`). A target that does not hold at the median prints `FAILED` and the bench exits with 1.

use std::path::{Path, PathBuf};

use std::process::Command;
use std::time::{Duration, Instant};

const SMALL_RUNS: usize = 100;
const LARGE_RUNS: usize = 20;
const STEPS: usize = 10_000;

fn main() {
    // `cargo bench --bench check -- --write-plan F` (or `--write-warned F`) only writes the
    // generated plan (or the warned one), to profile it.
    let args: Vec<String> = std::env::args().collect();
    for (flag, generator) in [
        ("--write-plan", generate as fn(usize) -> String),
        ("--write-warned", generate_warned),
    ] {
        if let Some(i) = args.iter().position(|a| a == flag) {
            let path = args.get(i + 1).expect("a path after the flag");
            std::fs::write(path, generator(STEPS)).expect("write plan");
            return;
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let binary = Path::new(env!("CARGO_BIN_EXE_callplan"));
    let dir = tempfile::tempdir().expect("temp dir");
    let large = dir.path().join("large.yaml");
    std::fs::write(&large, generate(STEPS)).expect("write plan");
    let size = std::fs::metadata(&large).map(|m| m.len()).unwrap_or(0);

    // The generated plan must be clean, or the figure means nothing: no error, and no warning
    // either (a warning makes check locate it, which the warned case below measures).
    let status = Command::new(binary)
        .args(["check", "--format", "json"])
        .arg(&large)
        .output()
        .expect("run callplan");
    assert!(
        status.status.success() && status.stdout.is_empty(),
        "generated plan is not clean:\n{}",
        String::from_utf8_lossy(&status.stdout)
    );

    let warned = dir.path().join("warned.yaml");
    std::fs::write(&warned, generate_warned(STEPS)).expect("write plan");
    let warned_out = Command::new(binary)
        .arg("check")
        .arg(&warned)
        .output()
        .expect("run callplan");
    let warnings = String::from_utf8_lossy(&warned_out.stdout)
        .matches("warning[plan.wait-timeout]")
        .count();
    assert!(
        warned_out.status.success() && warnings == STEPS / 3,
        "expected {} warnings, got {warnings}",
        STEPS / 3
    );

    let small = root.join("plans/ci-smoke-dial.yaml");
    let cold = time_runs(binary, &small, SMALL_RUNS, true);
    let big = time_runs(binary, &large, LARGE_RUNS, true);
    let warned_times = time_runs(binary, &warned, LARGE_RUNS, true);

    let nested = dir.path().join("nested.yaml");
    let n = 200_000;
    std::fs::write(
        &nested,
        format!(
            "version: 1\nname: x\nsteps: {}{}\n",
            "[".repeat(n),
            "]".repeat(n)
        ),
    )
    .expect("write plan");
    let bomb = dir.path().join("bomb.yaml");
    std::fs::write(&bomb, alias_bomb()).expect("write plan");
    let hostile = [
        (
            format!("{} KB of nested flow brackets", 2 * n / 1000),
            nested,
        ),
        (
            format!(
                "alias and nesting bomb, {:.0} KB",
                std::fs::metadata(&bomb).map(|m| m.len()).unwrap_or(0) as f64 / 1000.0
            ),
            bomb,
        ),
        ("/dev/zero".to_owned(), PathBuf::from("/dev/zero")),
    ];

    println!(
        "callplan check benchmarks ({} cores)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    println!("| case | runs | median | p95 | max | target |");
    println!("|---|---|---|---|---|---|");
    row("small plan, cold start (binary, wall)", &cold, "< 20 ms");
    row(
        &format!(
            "{STEPS}-step plan, {:.1} MB (binary, wall)",
            size as f64 / 1e6
        ),
        &big,
        "< 250 ms",
    );
    row(
        &format!(
            "{STEPS}-step plan, a `plan.wait-timeout` warning on every third step (binary, wall)"
        ),
        &warned_times,
        "< 250 ms",
    );
    let mut failed = [(&cold, 20.0), (&big, 250.0), (&warned_times, 250.0)]
        .iter()
        .any(|(times, target)| ms(times[times.len() / 2]) >= *target);
    println!();
    println!("| hostile input | runs | median | max | peak RSS (max) | exit | target |");
    println!("|---|---|---|---|---|---|---|");
    for (name, path) in &hostile {
        let (times, rss_kb, code) = refused_runs(binary, path, HOSTILE_RUNS);
        let median = times[times.len() / 2];
        let held = median < Duration::from_secs(1)
            && rss_kb.is_none_or(|kb| kb < 128 * 1024)
            && code == Some(2);
        failed |= !held;
        println!(
            "| {name} | {} | {:.1} ms | {:.1} ms | {} | {} | exit 2, < 1 s, < 128 MB{} |",
            times.len(),
            ms(median),
            ms(times[times.len() - 1]),
            rss_kb.map_or("?".to_owned(), |kb| format!("{:.1} MB", kb as f64 / 1024.0)),
            code.map_or("signal".to_owned(), |c| c.to_string()),
            if held { "" } else { ": FAILED" }
        );
    }
    if failed {
        println!("FAILED: a target above does not hold");
        std::process::exit(1);
    }
}

/// How many times each hostile input is checked.
const HOSTILE_RUNS: usize = 5;

/// 235 anchors that each repeat the one before twelve times, the first nested 40 brackets deep:
/// about 22 KB that would expand to 12^234 nodes; refused before it is.
fn alias_bomb() -> String {
    let mut text = String::from("version: 1\nname: bomb\nvars:\n");
    text.push_str(&format!(
        "  a0: &a0 {}x{}\n",
        "[".repeat(40),
        "]".repeat(40)
    ));
    for i in 1..235 {
        let refs = vec![format!("*a{}", i - 1); 12].join(", ");
        text.push_str(&format!("  a{i}: &a{i} [{refs}]\n"));
    }
    text
}

/// Checks `plan` `runs` times under `/usr/bin/time -f %M` (when present): the wall times, sorted,
/// the highest peak RSS in KB, and the last exit code.
fn refused_runs(
    binary: &Path,
    plan: &Path,
    runs: usize,
) -> (Vec<Duration>, Option<u64>, Option<i32>) {
    let time = Path::new("/usr/bin/time").exists();
    let mut times = Vec::with_capacity(runs);
    let mut peak = None;
    let mut code = None;
    for _ in 0..runs {
        let mut command = if time {
            let mut c = Command::new("/usr/bin/time");
            c.args(["-f", "%M"]).arg(binary);
            c
        } else {
            Command::new(binary)
        };
        let start = Instant::now();
        let out = command
            .arg("check")
            .arg(plan)
            .output()
            .expect("run callplan");
        times.push(start.elapsed());
        code = out.status.code();
        let rss = String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .and_then(|l| l.trim().parse::<u64>().ok());
        peak = peak.max(rss);
    }
    times.sort();
    (times, peak, code)
}

fn time_runs(binary: &Path, plan: &Path, runs: usize, clean: bool) -> Vec<Duration> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let out = Command::new(binary)
            .arg("check")
            .arg(plan)
            .output()
            .expect("run callplan");
        times.push(start.elapsed());
        assert!(out.status.success() || !clean);
    }
    times.sort();
    times
}

fn row(name: &str, sorted: &[Duration], target: &str) {
    let pct = |p: f64| sorted[((sorted.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "| {name} | {} | {:.1} ms | {:.1} ms | {:.1} ms | {target} |",
        sorted.len(),
        ms(pct(0.5)),
        ms(pct(0.95)),
        ms(sorted[sorted.len() - 1])
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A large plan whose every third step gets a warning: dial, wait (its step `timeout` shorter than
/// the wait's own, `plan.wait-timeout`), hang up.
fn generate_warned(steps: usize) -> String {
    let head = generate(0);
    let mut out = head;
    for i in 0..steps {
        let step = match i % 3 {
            0 => format!(
                r#"  - id: dial_{i}
    provider: gc
    action: calls.create_for_user
    with: {{ user_id: "{{{{ vars.agent_user_id }}}}", phoneNumber: "{{{{ vars.destination }}}}" }}
    save: {{ conversation_id: "{{{{ response.body.id }}}}" }}
"#
            ),
            1 => format!(
                r#"  - id: wait_{i}
    provider: gc
    action: calls.wait
    with: {{ conversation_id: "{{{{ steps.dial_{p}.conversation_id }}}}", until: connected, timeout: 60s }}
    timeout: 30s
"#,
                p = i - 1
            ),
            _ => format!(
                r#"  - id: hangup_{i}
    provider: gc
    action: calls.hang_up
    with: {{ conversation_id: "{{{{ steps.dial_{p}.conversation_id }}}}" }}
    always: true
"#,
                p = i - 2
            ),
        };
        out.push_str(&step);
    }
    out
}

/// A realistic large plan: a few providers, and steps cycling through dial / wait / hang-up /
/// contact / callback / webhook, each reading values saved by earlier steps.
fn generate(steps: usize) -> String {
    let mut out = String::from(
        r#"# yaml-language-server: $schema=../schemas/callplan.v1.schema.json
version: 1
name: generated-large
vars:
  agent_user_id: 00000000-0000-4000-8000-000000000001
  queue_id: 00000000-0000-4000-8000-00000000a001
  destination: "+13175550100"
secrets:
  gc_client_id: { env: GENESYS_CLIENT_ID }
  gc_client_secret: { env: GENESYS_CLIENT_SECRET }
  crm_token: { env: CRM_TOKEN }
providers:
  gc:
    type: genesys-cloud
    region: mypurecloud.com
    auth:
      grant: client_credentials
      client_id: "{{ secrets.gc_client_id }}"
      client_secret: "{{ secrets.gc_client_secret }}"
    rate_limit: { requests: 300, per: 1m }
  crm:
    type: http
    base_url: https://crm.example.com/api
    auth: { type: bearer, token: "{{ secrets.crm_token }}" }
guard:
  allow_destinations: ["+1317555****"]
defaults:
  timeout: 15s
  retry: { attempts: 3, backoff: exponential, initial: 1s, max: 30s }
steps:
"#,
    );
    for i in 0..steps {
        let step = match i % 6 {
            0 => format!(
                r#"  - id: dial_{i}
    name: Dial {i}
    provider: gc
    action: calls.create_for_user
    with:
      user_id: "{{{{ vars.agent_user_id }}}}"
      phoneNumber: "{{{{ vars.destination }}}}"
      attributes: {{ run: "{{{{ run.id }}}}", n: "{i}" }}
    expect:
      - response.status == 200
    save:
      conversation_id: "{{{{ response.body.id }}}}"
"#
            ),
            1 => format!(
                r#"  - id: wait_{i}
    provider: gc
    action: calls.wait
    with:
      conversation_id: "{{{{ steps.dial_{p}.conversation_id }}}}"
      until: connected
      timeout: 60s
    timeout: 90s
    on_error: continue
"#,
                p = i - 1
            ),
            2 => format!(
                r#"  - id: hangup_{i}
    provider: gc
    action: calls.hang_up
    if: steps.dial_{p}.outcome == "passed"
    with: {{ conversation_id: "{{{{ steps.dial_{p}.conversation_id }}}}" }}
    always: true
"#,
                p = i - 2
            ),
            3 => format!(
                r#"  - id: contact_{i}
    provider: gc
    action: external_contacts.create
    with:
      firstName: Ada
      lastName: "Lovelace {i}"
      cellPhone: {{ display: "+13175550100" }}
    save:
      contact_id: "{{{{ response.body.id }}}}"
"#
            ),
            4 => format!(
                r#"  - id: callback_{i}
    provider: gc
    action: callbacks.create
    with:
      queueId: "{{{{ vars.queue_id }}}}"
      callbackNumbers: ["+13175550102"]
      data: {{ contact: "{{{{ steps.contact_{p}.contact_id }}}}" }}
    expect:
      - response.status in [200, 202]
"#,
                p = i - 1
            ),
            _ => format!(
                r#"  - id: crm_{i}
    provider: crm
    action: request
    with:
      method: POST
      path: /calls
      body: {{ conversation: "{{{{ steps.dial_{p}.conversation_id }}}}", ok: "{{{{ steps.wait_{w}.outcome }}}}" }}
    expect:
      - response.status < 300
"#,
                p = i - 5,
                w = i - 4
            ),
        };
        out.push_str(&step);
    }
    out
}
