//! Integration tests: the real `callplan` binary, run as users run it.

mod after_failure;
mod bodies;
mod bounds;
mod campaign;
mod check;
mod cli;
mod dry_run;
mod flows;
mod html_report;
mod lifecycle;
mod limits;
mod proxy;
mod reports;
mod resume;
mod robust;
mod run;
mod sandbox_cxone;
mod sandbox_cxone_sdk;
mod sandbox_faults;
mod sandbox_genesys;
mod sandbox_http;
mod sandbox_reconcile;
mod schema;
mod secrets;
mod suggestions;
mod tls;
mod webhooks;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Output {
    /// Exit code (-1 if killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs `callplan` with `args` in `dir`.
pub fn callplan_in(dir: &Path, args: &[&str]) -> Output {
    callplan_with_env(dir, args, &[])
}

/// Runs `callplan` with `args` in `dir`, with these environment variables set.
pub fn callplan_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_callplan"))
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .expect("callplan runs");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `server` on a thread of its own, in a current-thread runtime, for as long as the test
/// binary runs (a server the binary under test talks to).
pub fn serve_in_background<F>(server: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(server);
    });
}

/// Runs `callplan` with `args` from the repository root.
pub fn callplan(args: &[&str]) -> Output {
    callplan_in(&root(), args)
}

/// A sandbox on a random loopback port, and an HTTP client for it.
pub struct Sandbox {
    /// The running sandbox (stopped when dropped).
    pub sandbox: callplan::sandbox::Sandbox,
    /// A client with no proxy; every request goes to 127.0.0.1.
    pub http: reqwest::Client,
}

/// The default sandbox configuration with a time scale that plays a call in milliseconds.
pub fn fast_config() -> callplan::sandbox::Config {
    callplan::sandbox::Config {
        time_scale: 0.001,
        ..callplan::sandbox::Config::default()
    }
}

impl Sandbox {
    /// Starts one inside the test's tokio runtime.
    pub async fn start(config: callplan::sandbox::Config) -> Sandbox {
        let sandbox = callplan::sandbox::Sandbox::start(config, ([127, 0, 0, 1], 0).into())
            .await
            .expect("the sandbox starts");
        callplan::provider::connection::install_crypto();
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("a client");
        Sandbox { sandbox, http }
    }

    /// Starts one with [`fast_config`].
    pub async fn fast() -> Sandbox {
        Sandbox::start(fast_config()).await
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sandbox.url())
    }

    /// A Genesys client-credentials token for the default client.
    pub async fn genesys_token(&self) -> String {
        let response = self
            .http
            .post(self.url("/oauth/token"))
            .basic_auth("sandbox-client", Some("sandbox-secret"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("login");
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.expect("json");
        body["access_token"].as_str().expect("a token").to_owned()
    }

    /// A CXone access token for the default access key and application.
    pub async fn cxone_token(&self) -> String {
        let body = self.cxone_login().await;
        body["access_token"].as_str().expect("a token").to_owned()
    }

    /// The whole answer to the CXone password grant (default access key and application).
    pub async fn cxone_login(&self) -> serde_json::Value {
        let response = self
            .http
            .post(self.url("/auth/token"))
            .basic_auth("sandbox-app", Some("sandbox-app-secret"))
            .form(&[
                ("grant_type", "password"),
                ("username", "sandbox-access-key"),
                ("password", "sandbox-access-secret"),
            ])
            .send()
            .await
            .expect("login");
        assert_eq!(response.status(), 200);
        response.json().await.expect("json")
    }
}
