//! Runner overhead: a plan of N `http` request steps run by the real `callplan` binary, against
//! a plain reqwest loop sending the same requests to the same sandbox, in the same run.
//!
//! `cargo bench --bench run [-- --steps N --rounds R]`
//!
//! The plain loop runs twice per round: on a thread of the bench (the process that also hosts
//! the sandbox) and as a process of its own (the bench re-executing itself), which is what
//! callplan is; the process boundary alone costs about 30 µs per loopback round trip here.
//!
//! The sandbox runs in-process without rate limits; both sides send the requests one after
//! another over one keep-alive connection and read each JSON answer. callplan's time is the
//! whole process, from spawn to exit: start-up, checking the plan, rendering every step,
//! sending, judging expectations and printing a line per step (to /dev/null).

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use callplan::sandbox::{Config, Sandbox};

struct Args {
    steps: usize,
    rounds: usize,
}

fn args() -> Args {
    let mut args = Args {
        steps: 2000,
        rounds: 9,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--steps" => args.steps = it.next().and_then(|v| v.parse().ok()).unwrap_or(2000),
            "--rounds" => args.rounds = it.next().and_then(|v| v.parse().ok()).unwrap_or(9),
            _ => {} // `cargo bench` passes `--bench`
        }
    }
    args
}

fn plan(steps: usize) -> String {
    let mut text = String::from(
        "version: 1\nname: overhead\nproviders:\n  api:\n    type: http\n    base_url: http://127.0.0.1:9/unused\nsteps:\n",
    );
    for i in 0..steps {
        text.push_str(&format!(
            "  - id: s{i}\n    provider: api\n    action: request\n    with: {{ method: GET, path: /items/{i} }}\n    expect: [response.status == 200]\n"
        ));
    }
    text
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// A current-thread runtime and a client, as the plain loop uses them.
fn plain_client() -> (tokio::runtime::Runtime, reqwest::Client) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    callplan::provider::connection::install_crypto();
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("a client");
    (runtime, client)
}

/// The plain loop: `steps` GETs to `url`, one after another, each JSON answer parsed (run on a
/// thread of the bench, and in a child process of its own).
fn plain_loop(
    runtime: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    url: &str,
    steps: usize,
) {
    runtime.block_on(async {
        for i in 0..steps {
            let response = client
                .get(format!("{url}/_sandbox/http/api/items/{i}"))
                .header("accept", "application/json")
                .send()
                .await
                .expect("an answer");
            assert_eq!(response.status(), 200);
            let body: serde_json::Value = response.json().await.expect("json");
            assert!(body.get("path").is_some());
        }
    });
}

fn main() {
    let mut argv = std::env::args().skip(1);
    if argv.next().as_deref() == Some("--plain-child") {
        let url = argv.next().expect("a url");
        let steps = argv.next().and_then(|s| s.parse().ok()).expect("a count");
        let (runtime, client) = plain_client();
        plain_loop(&runtime, &client, &url, steps);
        return;
    }
    let args = args();
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let sandbox = server
        .block_on(Sandbox::start(
            Config {
                genesys: callplan::sandbox::config::Genesys {
                    rate_limit: None,
                    ..Default::default()
                },
                ..Config::default()
            },
            ([127, 0, 0, 1], 0).into(),
        ))
        .expect("the sandbox starts");
    let url = sandbox.url();
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("overhead.yaml");
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(plan(args.steps).as_bytes()))
        .expect("the plan is written");

    let (client_runtime, client) = plain_client();

    let mut plain = Vec::new();
    let mut plain_child = Vec::new();
    let mut callplan = Vec::new();
    for _ in 0..args.rounds {
        let started = Instant::now();
        plain_loop(&client_runtime, &client, &url, args.steps);
        plain.push(started.elapsed());

        let started = Instant::now();
        let status = Command::new(std::env::current_exe().expect("the bench binary"))
            .args(["--plain-child", &url, &args.steps.to_string()])
            .status()
            .expect("the child runs");
        plain_child.push(started.elapsed());
        assert!(status.success());

        let started = Instant::now();
        let status = Command::new(env!("CARGO_BIN_EXE_callplan"))
            .args(["run", &path.to_string_lossy(), "--sandbox-url", &url])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .status()
            .expect("callplan runs");
        callplan.push(started.elapsed());
        assert!(status.success(), "the plan passes");
    }
    let (p, c) = (median(plain), median(callplan));
    let pc = median(plain_child);
    let per_step = |d: Duration| d.as_secs_f64() * 1e6 / args.steps as f64;
    println!(
        "runner overhead: {} request steps, {} rounds (medians)",
        args.steps, args.rounds
    );
    println!(
        "plain reqwest loop   {:>8.1} ms  {:>6.1} µs/request",
        p.as_secs_f64() * 1000.0,
        per_step(p)
    );
    println!(
        "plain loop, process  {:>8.1} ms  {:>6.1} µs/request",
        pc.as_secs_f64() * 1000.0,
        per_step(pc)
    );
    println!(
        "callplan run         {:>8.1} ms  {:>6.1} µs/step",
        c.as_secs_f64() * 1000.0,
        per_step(c)
    );
    println!(
        "ratio to the plain loop in-process     {:>5.2}x  (+{:.1} µs per step)",
        c.as_secs_f64() / p.as_secs_f64(),
        per_step(c) - per_step(p)
    );
    println!(
        "ratio to the plain loop as a process   {:>5.2}x  (+{:.1} µs per step)",
        c.as_secs_f64() / pc.as_secs_f64(),
        per_step(c) - per_step(pc)
    );
    drop(sandbox);
}
