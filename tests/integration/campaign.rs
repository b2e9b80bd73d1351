//! Campaigns: calling hours (with the destination's own zone), concurrency keeping row order,
//! pacing under the sandbox's limit, and a 429 storm.

use std::time::{Duration, Instant, SystemTime};

use callplan::sandbox::config::RateLimit;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    report: serde_json::Value,
    took: Duration,
}

fn run(dir: &std::path::Path, url: &str) -> Run {
    let started = Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_callplan"))
        .args([
            "run",
            "plan.yaml",
            "--sandbox-url",
            url,
            "--report",
            "json:report.json",
        ])
        .current_dir(dir)
        .env("CP_ID", "sandbox-client")
        .env("CP_SECRET", "sandbox-secret")
        .env("CI", "true")
        .output()
        .expect("callplan runs");
    let report = std::fs::read_to_string(dir.join("report.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        report,
        took: started.elapsed(),
    }
}

fn plan(extra_guard: &str, rate_limit: &str, step: &str) -> String {
    format!(
        r#"version: 1
name: campaign
vars:
  agent: 00000000-0000-4000-8000-000000000001
secrets:
  id: {{ env: CP_ID }}
  secret: {{ env: CP_SECRET }}
providers:
  gc:
    type: genesys-cloud
    region: mypurecloud.com
    auth:
      grant: client_credentials
      client_id: "{{{{ secrets.id }}}}"
      client_secret: "{{{{ secrets.secret }}}}"
    rate_limit: {rate_limit}
guard:
  allow_destinations: ["+1317555****"]
{extra_guard}defaults:
  on_error: continue
steps:
{step}"#
    )
}

fn dial_rows(concurrency: u32, retry: &str) -> String {
    format!(
        r#"  - id: dial
    provider: gc
    action: calls.create_for_user
    for_each: {{ csv: rows.csv }}
    as: row
    concurrency: {concurrency}
    with:
      user_id: "{{{{ vars.agent }}}}"
      phoneNumber: "{{{{ row.phone }}}}"
{retry}"#
    )
}

fn rows(n: usize, zone: impl Fn(usize) -> &'static str) -> String {
    let mut text = String::from("phone,tz\n");
    for i in 0..n {
        text.push_str(&format!("+1317555{:04},{}\n", 3000 + i, zone(i)));
    }
    text
}

fn hhmm(minutes: i64) -> String {
    let m = minutes.rem_euclid(24 * 60);
    format!("\"{:02}:{:02}\"", m / 60, m % 60)
}

fn utc_minutes_now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    ((secs / 60) % (24 * 60)) as i64
}

fn items(report: &serde_json::Value) -> Vec<serde_json::Value> {
    report["steps"][0]["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn outside_calling_hours_nothing_is_dialed_and_the_run_cannot_run() {
    let sandbox = callplan::sandbox::Sandbox::start_background(super::fast_config()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let now = utc_minutes_now();
    // A window that opens in two hours and closes in three, in UTC: closed now.
    let guard = format!(
        "  calling_hours: {{ from: {}, to: {}, time_zone: UTC }}\n",
        hhmm(now + 120),
        hhmm(now + 180)
    );
    std::fs::write(
        dir.path().join("plan.yaml"),
        plan(&guard, "{ requests: 1000, per: 1s }", &dial_rows(1, "")),
    )
    .unwrap();
    std::fs::write(dir.path().join("rows.csv"), rows(3, |_| "")).unwrap();
    let r = run(dir.path(), &sandbox.url());
    assert_eq!(r.code, Some(3), "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        r.stdout.matches("outside calling hours").count(),
        3,
        "{}",
        r.stdout
    );
    assert!(sandbox.ledger().is_empty());
}

#[test]
fn the_destinations_own_time_zone_decides() {
    let sandbox = callplan::sandbox::Sandbox::start_background(super::fast_config()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let now = utc_minutes_now();
    // Open for an hour either side of now, in the destination's zone: UTC rows are dialed,
    // Tokyo rows (nine hours ahead) are not, and a zone that does not exist refuses the row.
    let guard = format!(
        "  calling_hours:\n    from: {}\n    to: {}\n    time_zone: UTC\n    destination_time_zone: \"{{{{ row.tz }}}}\"\n",
        hhmm(now - 60),
        hhmm(now + 60)
    );
    std::fs::write(
        dir.path().join("plan.yaml"),
        plan(&guard, "{ requests: 1000, per: 1s }", &dial_rows(1, "")),
    )
    .unwrap();
    let zones = ["UTC", "Asia/Tokyo", "Mars/Olympus_Mons", "UTC"];
    std::fs::write(dir.path().join("rows.csv"), rows(4, |i| zones[i])).unwrap();
    let r = run(dir.path(), &sandbox.url());
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    let dialed: Vec<String> = sandbox
        .ledger()
        .into_iter()
        .map(|e| e.destination)
        .collect();
    assert_eq!(dialed, ["+13175553000", "+13175553003"]);
    assert!(r.stdout.contains("in Asia/Tokyo"), "{}", r.stdout);
    assert!(
        r.stdout.contains("`Mars/Olympus_Mons` is not an IANA zone"),
        "{}",
        r.stdout
    );
}

#[test]
fn concurrent_items_are_reported_in_row_order() {
    let mut config = super::fast_config();
    config.latency = Duration::from_millis(3);
    let sandbox = callplan::sandbox::Sandbox::start_background(config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("plan.yaml"),
        plan("", "{ requests: 1000, per: 1s }", &dial_rows(6, "")),
    )
    .unwrap();
    std::fs::write(dir.path().join("rows.csv"), rows(30, |_| "")).unwrap();
    let r = run(dir.path(), &sandbox.url());
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let order: Vec<u64> = items(&r.report)
        .iter()
        .filter_map(|i| i["item"].as_u64())
        .collect();
    assert_eq!(order, (0..30).collect::<Vec<u64>>());
    assert_eq!(sandbox.ledger().len(), 30);
}

#[test]
fn paced_requests_never_meet_the_sandboxs_limit() {
    let mut config = super::fast_config();
    config.genesys.rate_limit = Some(RateLimit {
        requests: 20,
        per: Duration::from_secs(1),
        burst: Some(2),
    });
    let sandbox = callplan::sandbox::Sandbox::start_background(config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("plan.yaml"),
        // The sandbox refills its budget evenly and takes 2 at once: the plan says so.
        plan("", "{ requests: 20, per: 1s, burst: 2 }", &dial_rows(4, "")),
    )
    .unwrap();
    std::fs::write(dir.path().join("rows.csv"), rows(30, |_| "")).unwrap();
    let r = run(dir.path(), &sandbox.url());
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    let statuses: Vec<u64> = items(&r.report)
        .iter()
        .flat_map(|i| i["attempts"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a["status"].as_u64())
        .collect();
    assert_eq!(statuses.len(), 30);
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    // 30 requests at 20 a second: at least about 1.45 s (a lower bound only).
    assert!(r.took >= Duration::from_millis(1400), "{:?}", r.took);
}

#[test]
fn a_429_storm_pauses_the_provider_and_every_row_is_dialed_once() {
    let mut config = super::fast_config();
    config.genesys.rate_limit = Some(RateLimit {
        requests: 10,
        per: Duration::from_secs(1),
        burst: Some(5),
    });
    let sandbox = callplan::sandbox::Sandbox::start_background(config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The plan paces far above the sandbox's limit: 429s come, and are retried.
    std::fs::write(
        dir.path().join("plan.yaml"),
        plan(
            "",
            "{ requests: 1000, per: 1s }",
            &dial_rows(
                8,
                "    retry: { attempts: 8, initial: 100ms, when: [rate_limited] }\n",
            ),
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("rows.csv"), rows(25, |_| "")).unwrap();
    let r = run(dir.path(), &sandbox.url());
    assert_eq!(r.code, Some(0), "{}\n{}", r.stdout, r.stderr);
    let attempts: Vec<serde_json::Value> = items(&r.report)
        .iter()
        .flat_map(|i| i["attempts"].as_array().cloned().unwrap_or_default())
        .collect();
    assert!(
        attempts.iter().any(|a| a["status"] == 429),
        "the storm happened"
    );
    let mut dialed: Vec<String> = sandbox
        .ledger()
        .into_iter()
        .map(|e| e.destination)
        .collect();
    dialed.sort();
    dialed.dedup();
    assert_eq!(dialed.len(), 25);
    assert_eq!(sandbox.ledger().len(), 25, "no row dialed twice");
}
