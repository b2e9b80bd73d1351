//! `callplan check` speed: a generated 10,000-step plan, and the cold start of the binary on a
//! small plan. Run with `cargo bench --bench check`; figures go in BENCHMARKS.md.
//!
//! Both measure the real release binary, spawned as a user runs it (wall time from spawn to exit),
//! over repeated runs.

use std::path::{Path, PathBuf};

use std::process::Command;
use std::time::{Duration, Instant};

const SMALL_RUNS: usize = 100;
const LARGE_RUNS: usize = 20;
const STEPS: usize = 10_000;

fn main() {
    // `cargo bench --bench check -- --write-plan F` only writes the generated plan, to profile it.
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--write-plan") {
        let path = args.get(i + 1).expect("--write-plan needs a path");
        std::fs::write(path, generate(STEPS)).expect("write plan");
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let binary = Path::new(env!("CARGO_BIN_EXE_callplan"));
    let dir = tempfile::tempdir().expect("temp dir");
    let large = dir.path().join("large.yaml");
    std::fs::write(&large, generate(STEPS)).expect("write plan");
    let size = std::fs::metadata(&large).map(|m| m.len()).unwrap_or(0);

    // The generated plan must be valid, or the figure means nothing.
    let status = Command::new(binary)
        .arg("check")
        .arg(&large)
        .output()
        .expect("run callplan");
    assert!(
        status.status.success(),
        "generated plan is invalid:\n{}",
        String::from_utf8_lossy(&status.stdout)
    );

    let small = root.join("plans/ci-smoke-dial.yaml");
    let cold = time_runs(binary, &small, SMALL_RUNS);
    let big = time_runs(binary, &large, LARGE_RUNS);

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
}

fn time_runs(binary: &Path, plan: &Path, runs: usize) -> Vec<Duration> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let out = Command::new(binary)
            .arg("check")
            .arg(plan)
            .output()
            .expect("run callplan");
        times.push(start.elapsed());
        assert!(out.status.success());
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
    action: conversations.disconnect
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
