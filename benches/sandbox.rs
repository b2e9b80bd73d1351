//! Sandbox throughput: how many requests a second the emulator answers on this machine.
//!
//! `cargo bench --bench sandbox [-- --seconds N --connections C]`
//!
//! Starts the sandbox in-process (its own runtime, one thread per core) without a rate limit,
//! and drives it over real loopback TCP from a second runtime with C keep-alive connections:
//! first `GET /api/v2/conversations/calls/{id}` on one live call, then token-authenticated
//! `POST /api/v2/conversations/calls/user/{userId}`. The load generator shares the machine's
//! cores with the sandbox, so the figures are a floor for what the sandbox alone sustains.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use callplan::sandbox::{Config, Sandbox};

struct Args {
    seconds: u64,
    connections: usize,
}

fn args() -> Args {
    let mut args = Args {
        seconds: 5,
        connections: 32,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seconds" => args.seconds = it.next().and_then(|v| v.parse().ok()).unwrap_or(5),
            "--connections" => {
                args.connections = it.next().and_then(|v| v.parse().ok()).unwrap_or(32)
            }
            _ => {} // `cargo bench` passes `--bench`
        }
    }
    args
}

#[derive(Clone, Copy)]
enum Load {
    GetCall,
    CreateCall,
}

struct Figures {
    requests: u64,
    errors: u64,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

async fn drive(
    client: reqwest::Client,
    base: String,
    token: String,
    call_id: String,
    load: Load,
    args: &Args,
) -> Figures {
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.connections {
        let (client, base, token, call_id) =
            (client.clone(), base.clone(), token.clone(), call_id.clone());
        let (stop, errors) = (stop.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(100_000);
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                let request = match load {
                    Load::GetCall => client
                        .get(format!("{base}/api/v2/conversations/calls/{call_id}"))
                        .bearer_auth(&token),
                    Load::CreateCall => client
                        .post(format!(
                            "{base}/api/v2/conversations/calls/user/00000000-0000-4000-8000-000000000001"
                        ))
                        .bearer_auth(&token)
                        .header("content-type", "application/json")
                        .body(r#"{"phoneNumber":"+13175550100"}"#),
                };
                match request.send().await {
                    Ok(response) if response.status().is_success() => {
                        let _ = response.bytes().await;
                        latencies.push(sent.elapsed());
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies
        }));
    }
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap_or_default());
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Figures {
        requests: latencies.len() as u64,
        errors: errors.load(Ordering::Relaxed),
        elapsed,
        p50: at(0.50),
        p99: at(0.99),
    }
}

fn main() {
    let args = args();
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
        )
        .enable_all()
        .build()
        .expect("a runtime");
    let config = Config {
        genesys: callplan::sandbox::config::Genesys {
            rate_limit: None,
            ..Default::default()
        },
        ..Config::default()
    };
    let sandbox = server_runtime
        .block_on(Sandbox::start(config, ([127, 0, 0, 1], 0).into()))
        .expect("the sandbox starts");
    let base = sandbox.url();

    let client_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    client_runtime.block_on(async {
        callplan::provider::connection::install_crypto();
        let client = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(args.connections)
            .build()
            .expect("a client");
        let login: serde_json::Value = client
            .post(format!("{base}/oauth/token"))
            .basic_auth("sandbox-client", Some("sandbox-secret"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("login")
            .json()
            .await
            .expect("a token");
        let token = login["access_token"].as_str().unwrap_or_default().to_owned();
        let call: serde_json::Value = client
            .post(format!(
                "{base}/api/v2/conversations/calls/user/00000000-0000-4000-8000-000000000001"
            ))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "phoneNumber": "+13175550100" }))
            .send()
            .await
            .expect("a call")
            .json()
            .await
            .expect("its id");
        let call_id = call["id"].as_str().unwrap_or_default().to_owned();

        println!(
            "sandbox throughput: {} connections, {} s per load, {} cores",
            args.connections,
            args.seconds,
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(0)
        );
        for (name, load) in [
            ("GET  /api/v2/conversations/calls/{id}", Load::GetCall),
            ("POST /api/v2/conversations/calls/user/{userId}", Load::CreateCall),
        ] {
            let f = drive(
                client.clone(),
                base.clone(),
                token.clone(),
                call_id.clone(),
                load,
                &args,
            )
            .await;
            println!(
                "{name:<50} {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  ({} requests, {} errors)",
                f.requests as f64 / f.elapsed.as_secs_f64(),
                f.p50.as_secs_f64() * 1000.0,
                f.p99.as_secs_f64() * 1000.0,
                f.requests,
                f.errors,
            );
        }
    });
    drop(sandbox);
}
