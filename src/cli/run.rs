//! `callplan run`: what the user typed, the sandbox it asks for, and the exit code. The run
//! itself (check, resolve, outputs, login, steps, reports) is [`crate::lifecycle`]'s.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::Exit;
use crate::lifecycle::signals::Signals;
use crate::lifecycle::target::{SandboxTarget, StandIns, Target};
use crate::lifecycle::{self, Ending};
use crate::plan::limits;
use crate::sandbox;

/// What `callplan run` was asked (the command line, as clap reads it).
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The plan file.
    #[arg(value_name = "PLAN")]
    pub(super) plan: PathBuf,
    /// Start the built-in sandbox and point every provider at it; unset secrets get the
    /// sandbox's own credentials.
    #[arg(long)]
    pub(super) sandbox: bool,
    /// Point every provider at a sandbox already running (`callplan sandbox`) at this URL.
    #[arg(long, value_name = "URL", conflicts_with = "sandbox")]
    pub(super) sandbox_url: Option<String>,
    /// Override a var: `--var name=value` (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub(super) vars: Vec<String>,
    /// Read secrets' environment variables from this file (dotenv format) first.
    #[arg(long, value_name = "FILE")]
    pub(super) env_file: Option<PathBuf>,
    /// Print every request the plan would send, exactly as a run builds it, and send nothing:
    /// no secret is read (`<secret NAME>` stands in), what only a run knows reads `<…>`, a
    /// campaign's rows are summed up. With `--report json:PATH`, write them as JSON.
    #[arg(long)]
    pub(super) dry_run: bool,
    /// Stop launching steps after this long (`10m`, at most `7d`), run the `always` steps,
    /// exit 1.
    #[arg(long, value_name = "DURATION", value_parser = run_timeout)]
    pub(super) timeout: Option<Duration>,
    /// Write a report: `json:PATH`, `jsonl:PATH`, `junit:PATH`, `markdown:PATH` or `html:PATH`
    /// (repeatable; adds to the plan's `report:` section).
    #[arg(long = "report", value_name = "FORMAT:PATH")]
    pub(super) reports: Vec<String>,
    /// Print only failures and the summary (no progress line, no table).
    #[arg(long, short)]
    pub(super) quiet: bool,
    /// Color the outcome labels and the verdict: `auto` (on a terminal without NO_COLOR),
    /// `always` (wins over NO_COLOR), `never`.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = super::ColorWhen::Auto)]
    pub(super) color: super::ColorWhen,
    /// Log each request to stderr, secrets masked: `-v` method, URL, status and time;
    /// `-vv` the bodies' beginnings too. `RUST_LOG` overrides the level.
    #[arg(long, short, action = clap::ArgAction::Count)]
    pub(super) verbose: u8,
    /// Append every finished step and item (and every create before it leaves) to this
    /// JSONL journal, fsynced, so that a killed run can be resumed.
    #[arg(long, value_name = "FILE")]
    pub(super) journal: Option<PathBuf>,
    /// Resume from a journal: skip what finished (restoring saved values), ask the provider
    /// about each create that was sent but never confirmed before counting or sending it
    /// again, run the rest; appends to it.
    #[arg(long, value_name = "FILE", conflicts_with = "journal")]
    pub(super) resume: Option<PathBuf>,
    /// After Ctrl-C, SIGTERM or SIGHUP, how long the `always` steps may take in all (at most
    /// `1h`).
    #[arg(long, value_name = "DURATION", value_parser = cleanup_timeout, default_value = "30s")]
    pub(super) cleanup_timeout: Duration,
}

/// `--timeout`, within its bound: clap prints the message and exits with 2.
fn run_timeout(text: &str) -> Result<Duration, String> {
    flag_duration(text, limits::RUN_TIMEOUT)
}

/// `--cleanup-timeout`, within its bound.
fn cleanup_timeout(text: &str) -> Result<Duration, String> {
    flag_duration(text, limits::CLEANUP_TIMEOUT)
}

fn flag_duration(text: &str, bound: crate::duration::Bound) -> Result<Duration, String> {
    crate::duration::parse(text, bound).map_err(|e| match e {
        // The message names the maximum already.
        crate::duration::DurationError::TooLong { .. } => e.to_string(),
        _ => format!("{e}; {}", e.hint()),
    })
}

/// The sandbox's time scale under `--sandbox`: a call rings and connects in tens of
/// milliseconds, so example plans finish at once.
const SANDBOX_TIME_SCALE: f64 = 0.01;

/// Runs `callplan run`.
pub(super) fn run(args: RunArgs) -> Exit {
    // One thread: a run waits on the network, and a single-threaded runtime saves the
    // cross-thread wake-ups every request would otherwise cost (see BENCHMARKS.md).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::CouldNotRun;
        }
    };
    runtime.block_on(async move {
        // First of all: from here on a signal stops the run the orderly way.
        let signals = match Signals::listen() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: cannot listen for signals: {e}");
                return Exit::CouldNotRun;
            }
        };
        let options = lifecycle::Options {
            plan: args.plan,
            vars: args.vars,
            env_file: args.env_file,
            dry_run: args.dry_run,
            timeout: args.timeout,
            reports: args.reports,
            quiet: args.quiet,
            color: args.color.enabled(),
            verbose: args.verbose,
            journal: args.journal,
            resume: args.resume,
            cleanup: args.cleanup_timeout,
        };
        // The built-in sandbox, in-process (not for a dry run: it sends nothing).
        let mut in_process = None;
        let target = if args.sandbox {
            let config = sandbox::Config {
                time_scale: SANDBOX_TIME_SCALE,
                ..sandbox::Config::default()
            };
            let url = if options.dry_run {
                "http://127.0.0.1:<sandbox>".to_owned()
            } else {
                match sandbox::Sandbox::start(config.clone(), SocketAddr::from(([127, 0, 0, 1], 0)))
                    .await
                {
                    Ok(s) => {
                        let url = s.url();
                        in_process = Some(s);
                        url
                    }
                    Err(e) => {
                        eprintln!("error: cannot start the sandbox: {e}");
                        return Exit::CouldNotRun;
                    }
                }
            };
            Target::Sandbox(Box::new(sandbox_target(
                &config,
                url,
                Some(1.0 / SANDBOX_TIME_SCALE),
            )))
        } else if let Some(url) = &args.sandbox_url {
            let url = url.trim_end_matches('/').to_owned();
            Target::Sandbox(Box::new(sandbox_target(
                &sandbox::Config::default(),
                url,
                None,
            )))
        } else {
            Target::Plan
        };
        let ending = lifecycle::run(options, target, signals).await;
        drop(in_process);
        match ending {
            Ending::Passed => Exit::Success,
            Ending::Failed => Exit::Failed,
            Ending::Invalid => Exit::Invalid,
            Ending::CouldNotRun => Exit::CouldNotRun,
            Ending::Interrupted(signal) => Exit::Signal(signal),
        }
    })
}

/// What the lifecycle needs to know of a sandbox: its URL, the credentials its configuration
/// accepts (the first of each kind), and its routes for `http` providers.
fn sandbox_target(config: &sandbox::Config, url: String, built_in: Option<f64>) -> SandboxTarget {
    let pair = |clients: &[sandbox::config::Client], id: &str, secret: &str| {
        clients
            .first()
            .map_or((id.to_owned(), secret.to_owned()), |c| {
                (c.id.clone(), c.secret.clone())
            })
    };
    let defaults = sandbox::Config::default();
    SandboxTarget {
        url,
        built_in,
        stand_ins: StandIns {
            genesys_client: pair(&config.genesys.clients, "sandbox-client", "sandbox-secret"),
            genesys_user_token: config
                .genesys
                .users
                .iter()
                .chain(&defaults.genesys.users)
                .find_map(|u| u.token.clone())
                .unwrap_or_default(),
            cxone_access_key: config
                .cxone
                .access_keys
                .first()
                .map_or_else(Default::default, |k| (k.id.clone(), k.secret.clone())),
            cxone_app: pair(&config.cxone.clients, "sandbox-app", "sandbox-app-secret"),
        },
        http_echo: sandbox::HTTP_ECHO_PREFIX.to_owned(),
        oauth2_token: sandbox::OAUTH2_TOKEN_PATH.to_owned(),
        // Known only of a sandbox this run configured itself (with a margin for the clock).
        reconcile_delay: built_in.map(|_| {
            let indexing = config
                .genesys
                .analytics_delay
                .max(config.cxone.completed_delay);
            sandbox::script::scaled(indexing, config.time_scale)
                .saturating_add(Duration::from_millis(100))
        }),
    }
}
