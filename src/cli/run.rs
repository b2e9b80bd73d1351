//! `callplan run`: check the plan, resolve vars and secrets, connect the providers (or the
//! sandbox), log in, run the steps, print as it goes, and exit with the run's code.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use tokio::sync::watch;

use super::Exit;
use crate::diagnostic;
use crate::plan::model::Plan;
use crate::plan::raw::{self, CxoneAuth, GenesysAuth, HttpAuth, SecretSource};
use crate::provider::auth::Credentials;
use crate::provider::connection::{Connection, Settings};
use crate::provider::{ProviderKind, cxone, hints};
use crate::report::console::{self, Console, StepInfo};
use crate::report::jsonl::ItemLog;
use crate::report::model::{self, Collector, PlanInfo, Report, Tee};
use crate::report::webhook::{Hook, Webhooks};
use crate::report::{Format, Redactor};
use crate::runner::events::{Event, RunStatus, Sink};
use crate::runner::journal::{Journal, Resume};
use crate::runner::render::{self, Renderer};
use crate::runner::{self, dry};
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
    /// Print every request the plan would send, secrets masked; send nothing.
    #[arg(long)]
    pub(super) dry_run: bool,
    /// Stop launching steps after this long (`10m`), run the `always` steps, exit 1.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub(super) timeout: Option<Duration>,
    /// Write a report: `json:PATH`, `junit:PATH`, `markdown:PATH` or `html:PATH`
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
    /// Resume from a journal: skip what finished (restoring saved values), report what was
    /// sent but never confirmed instead of sending it again, run the rest; appends to it.
    #[arg(long, value_name = "FILE", conflicts_with = "journal")]
    pub(super) resume: Option<PathBuf>,
}

/// The sandbox's time scale under `--sandbox`: a call rings and connects in tens of
/// milliseconds, so example plans finish at once.
const SANDBOX_TIME_SCALE: f64 = 0.01;

fn error(message: impl AsRef<str>) {
    eprintln!("error: {}", message.as_ref());
}

/// Runs `callplan run`.
pub(super) fn run(options: RunArgs) -> Exit {
    let checked = crate::plan::check_file(&options.plan);
    let has_errors = checked.diagnostics.iter().any(|d| d.is_error());
    if !checked.diagnostics.is_empty() {
        let text = diagnostic::render(
            &checked.diagnostics,
            checked.source.as_ref().map(|s| s.text.as_str()),
            diagnostic::Format::Human,
        );
        eprint!("{text}");
    }
    let Some(plan) = checked.plan.filter(|_| !has_errors) else {
        error(format!(
            "{} is not a valid plan; nothing was sent",
            options.plan.display()
        ));
        return Exit::Invalid;
    };
    let env_file = match &options.env_file {
        None => HashMap::new(),
        Some(path) => match read_env_file(path) {
            Ok(map) => map,
            Err(e) => {
                error(e);
                return Exit::Invalid;
            }
        },
    };
    let mut targets = Vec::new();
    let mut item_logs = Vec::new();
    for text in &options.reports {
        if let Some(path) = text.strip_prefix("jsonl:").filter(|p| !p.is_empty()) {
            item_logs.push(PathBuf::from(path));
            continue;
        }
        match parse_report_target(text) {
            Ok(t) => targets.push(t),
            Err(e) => {
                error(e);
                return Exit::Invalid;
            }
        }
    }
    let vars = match apply_vars(&plan, &options.vars) {
        Ok(v) => v,
        Err(e) => {
            error(e);
            return Exit::Invalid;
        }
    };
    // One thread: a run waits on the network, and a single-threaded runtime saves the
    // cross-thread wake-ups every request would otherwise cost (see BENCHMARKS.md).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            error(format!("cannot start the async runtime: {e}"));
            return Exit::CouldNotRun;
        }
    };
    runtime.block_on(run_async(plan, options, vars, env_file, targets, item_logs))
}

async fn run_async(
    plan: Plan,
    options: RunArgs,
    vars: IndexMap<String, serde_json::Value>,
    env_file: HashMap<String, String>,
    mut targets: Vec<(Format, String)>,
    item_logs: Vec<PathBuf>,
) -> Exit {
    let mut out = std::io::stdout();
    let redactor = Arc::new(Redactor::default());
    // Installed before any secret is known: the log writer masks with the redactor as it is
    // when each line is written.
    console::install_log(options.verbose, redactor.clone());
    // The sandbox, in-process or already running somewhere on loopback.
    let mut in_process = None;
    let sandbox_url = if options.sandbox && !options.dry_run {
        let config = sandbox::Config {
            time_scale: SANDBOX_TIME_SCALE,
            ..sandbox::Config::default()
        };
        match sandbox::Sandbox::start(config, SocketAddr::from(([127, 0, 0, 1], 0))).await {
            Ok(s) => {
                let url = s.url();
                in_process = Some(s);
                Some(url)
            }
            Err(e) => {
                error(format!("cannot start the sandbox: {e}"));
                return Exit::CouldNotRun;
            }
        }
    } else if options.sandbox {
        Some("http://127.0.0.1:<sandbox>".to_owned())
    } else {
        options
            .sandbox_url
            .as_ref()
            .map(|u| u.trim_end_matches('/').to_owned())
    };
    let mut notes = Vec::new();
    if let (Some(url), Some(_)) = (&sandbox_url, &in_process) {
        notes.push(format!(
            "running against the built-in sandbox at {url} (calls play {}x faster)",
            (1.0 / SANDBOX_TIME_SCALE).round()
        ));
    }
    let secrets = match resolve_secrets(&plan, &env_file, sandbox_url.is_some(), &mut notes) {
        Ok(s) => s,
        Err(e) => {
            error(e);
            return Exit::Invalid;
        }
    };
    redactor.add(secrets.values().cloned());
    let renderer = Renderer::new();
    let run_id = uuid::Uuid::new_v4().to_string();
    let run_fields = serde_json::json!({
        "id": run_id,
        "started_at": crate::call::timestamp(std::time::SystemTime::now()),
        "plan": plan.name,
    });
    let mut settings = IndexMap::new();
    for (name, provider) in &plan.providers {
        let scope = Scope {
            vars: &vars,
            secrets: &secrets,
            run: &run_fields,
        };
        match provider_settings(&renderer, name, provider, &scope, sandbox_url.as_deref()) {
            Ok(s) => {
                redactor.add(s.credentials.secret_values());
                settings.insert(name.clone(), s);
            }
            Err(e) => {
                error(format!("provider `{name}`: {e}"));
                return Exit::Invalid;
            }
        }
    }
    if let Some(section) = &plan.report {
        let context = minijinja::Value::from_pairs([
            ("vars", render::value(&vars)),
            ("run", render::value(&run_fields)),
        ]);
        for (format, template) in [
            (Format::Json, &section.json),
            (Format::Junit, &section.junit),
            (Format::Markdown, &section.markdown),
            (Format::Html, &section.html),
        ] {
            let Some(template) = template else { continue };
            match renderer.render_text(template, &context) {
                Ok(path) => targets.push((format, path)),
                Err(e) => {
                    error(format!("report path: {e}"));
                    return Exit::Invalid;
                }
            }
        }
    }
    let report = Report::new(
        &run_id,
        PlanInfo {
            name: plan.name.clone(),
            path: options.plan.display().to_string(),
            sha256: model::sha256_of(&options.plan),
        },
    );
    let collector = Arc::new(Collector::new(report, redactor.clone()));
    let mut logs = Vec::new();
    if !options.dry_run {
        for path in item_logs {
            match ItemLog::create(path.clone(), redactor.clone()) {
                Ok(log) => logs.push(Arc::new(log)),
                Err(e) => {
                    error(format!("--report jsonl:{}: {e}", path.display()));
                    return Exit::Invalid;
                }
            }
        }
    }
    let reports = Arc::new(Reports {
        targets,
        logs: logs.clone(),
        collector: collector.clone(),
        step_summary: std::env::var_os("GITHUB_STEP_SUMMARY")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from),
    });
    if options.dry_run {
        for note in &notes {
            let _ = writeln!(out, "note: {}", redactor.mask(note));
        }
        let report = dry::requests(&plan, &settings, &vars, &secrets);
        let _ = out.write_all(redactor.mask(&report.text).as_bytes());
        return if report.ok {
            Exit::Success
        } else {
            Exit::Invalid
        };
    }

    let tls = settings.values().any(Settings::uses_tls);
    let client = match crate::provider::connection::http_client(tls) {
        Ok(c) => c,
        Err(e) => {
            error(e);
            return Exit::CouldNotRun;
        }
    };
    let connections: IndexMap<String, Arc<Connection>> = settings
        .into_iter()
        .map(|(name, s)| (name, Arc::new(Connection::new(s, client.clone()))))
        .collect();

    // Webhooks (`notify:`), delivered in the background; under a sandbox they go to its echo API.
    let mut hooks = Vec::new();
    for (i, notify) in plan.notify.iter().enumerate() {
        let context = minijinja::Value::from_pairs([
            ("vars", render::value(&vars)),
            ("secrets", render::value(&secrets)),
            ("run", render::value(&run_fields)),
        ]);
        let url = match &sandbox_url {
            Some(base) => format!("{base}/_sandbox/http/notify-{}", i + 1),
            None => match renderer.render_text(&notify.url, &context) {
                Ok(u) => u,
                Err(e) => {
                    error(format!("notify[{i}].url: {e}"));
                    return Exit::Invalid;
                }
            },
        };
        let mut headers = Vec::new();
        for (k, v) in &notify.headers {
            match renderer.render_text(v, &context) {
                Ok(value) => headers.push((k.clone(), value)),
                Err(e) => {
                    error(format!("notify[{i}].headers.{k}: {e}"));
                    return Exit::Invalid;
                }
            }
        }
        hooks.push(Hook {
            url,
            on: notify.on.clone(),
            headers,
        });
    }
    let (webhooks, delivery) =
        Webhooks::start(hooks, client.clone(), &run_id, &plan.name, redactor.clone());

    // Log in before the first step: a bad secret stops the run before anything is sent.
    let used: Vec<&String> = connections
        .keys()
        .filter(|name| plan.steps.iter().any(|s| &s.provider == *name))
        .collect();
    for name in used {
        let connection = &connections[name];
        if let Err(e) = connection.authenticate().await {
            let provider = &plan.providers[name];
            let hint = e.vendor.as_ref().and_then(|v| {
                hints::hint(
                    provider.kind,
                    e.status.unwrap_or(401),
                    v,
                    &hints::Context {
                        provider: name,
                        action: "login",
                        rate_limit: provider.rate_limit,
                        retried: false,
                    },
                )
            });
            let what = if e.unreachable {
                "is unreachable"
            } else {
                "could not log in"
            };
            error(redactor.mask(&format!("provider `{name}` {what}: {}", e.message)));
            match hint {
                Some(hint) => eprintln!("  hint: {}", redactor.mask(&hint)),
                None if !e.unreachable => eprintln!(
                    "  hint: check providers.{name}.auth and the secrets it reads{}",
                    match provider.kind {
                        ProviderKind::GenesysCloud => ", and the region",
                        ProviderKind::NiceCxone => ", and auth_url",
                        ProviderKind::Http => "",
                    }
                ),
                None => eprintln!("  hint: check providers.{name}'s URL and the network"),
            }
            eprintln!("nothing was run");
            let finished = Event::RunFinished {
                status: RunStatus::CouldNotRun,
                reason: Some(redactor.mask(&format!("provider `{name}` {what}: {}", e.message))),
                duration: Duration::ZERO,
            };
            collector.event(&finished);
            webhooks.event(&finished);
            reports.write();
            webhooks.close();
            warn_all(delivery.finish(WEBHOOK_GRACE).await);
            return Exit::CouldNotRun;
        }
    }

    let (interrupt, interrupted) = watch::channel(false);
    // Registered now, before the first step, so that an early Ctrl-C is not lost.
    let mut signals = match Interrupts::new() {
        Ok(s) => s,
        Err(e) => {
            error(format!("cannot listen for Ctrl-C: {e}"));
            return Exit::CouldNotRun;
        }
    };
    let on_second = reports.clone();
    tokio::spawn(async move {
        signals.next().await;
        let _ = interrupt.send(true);
        eprintln!("interrupted: finishing the `always` steps (Ctrl-C again to stop at once)");
        signals.next().await;
        on_second.collector.event(&Event::RunFinished {
            status: RunStatus::Interrupted,
            reason: Some("interrupted twice: the `always` steps were cut short".into()),
            duration: Duration::ZERO,
        });
        on_second.write();
        std::process::exit(Exit::Interrupted as i32);
    });

    let mut console = Console::new(
        console::stdout(options.color.enabled()),
        redactor.clone(),
        options.quiet,
    )
    .with_color(options.color.enabled());
    // `-v` lines go to the same terminal, and a redrawn progress line would tear them.
    if options.verbose == 0 && console::progress_wanted() {
        console = console.with_progress(StepInfo::of(&plan.steps));
    }
    for note in notes {
        console.event(&Event::Note(note));
    }
    let mut all: Vec<&dyn Sink> = vec![&console, collector.as_ref(), &webhooks];
    all.extend(logs.iter().map(|l| l.as_ref() as &dyn Sink));
    let sinks = Tee(all);
    // The journal: resumed from, and appended to.
    let plan_sha = model::sha256_of(&options.plan);
    let resume = match &options.resume {
        None => None,
        Some(path) => match Resume::read(path) {
            Ok(r) => {
                if let Some(sha) = &r.plan_sha256
                    && *sha != plan_sha
                {
                    error(format!(
                        "--resume {}: the plan changed since that run (journal sha256 {}, now {}); resume with the plan it ran",
                        path.display(),
                        &sha[..sha.len().min(12)],
                        &plan_sha[..plan_sha.len().min(12)]
                    ));
                    return Exit::Invalid;
                }
                Some(r)
            }
            Err(e) => {
                error(format!("--resume: {e}"));
                return Exit::Invalid;
            }
        },
    };
    let journal = match options.journal.as_ref().or(options.resume.as_ref()) {
        None => None,
        Some(path) => match Journal::open(path) {
            Ok(j) => match j.start(&run_id, &plan_sha, resume.is_some()) {
                Ok(()) => Some(Arc::new(j)),
                Err(e) => {
                    error(e);
                    return Exit::CouldNotRun;
                }
            },
            Err(e) => {
                error(format!("--journal: {e}"));
                return Exit::Invalid;
            }
        },
    };
    if let Some(r) = &resume {
        console.event(&Event::Note(format!(
            "resuming: {} finished steps and items are skipped, {} of unknown fate are reported, not sent again",
            r.done.len(),
            r.unknown.len()
        )));
    }
    let run = runner::Run {
        plan: &plan,
        connections,
        vars,
        secrets,
        run_id,
        sink: &sinks,
        interrupted,
        timeout: options.timeout,
        journal,
        resume,
    };
    let status = runner::run(&run).await;
    reports.write();
    drop(run);
    drop(sinks);
    webhooks.close();
    warn_all(delivery.finish(WEBHOOK_GRACE).await);
    drop(in_process);
    match status {
        RunStatus::Passed => Exit::Success,
        RunStatus::Failed => Exit::Failed,
        RunStatus::CouldNotRun => Exit::CouldNotRun,
        RunStatus::Interrupted => Exit::Interrupted,
    }
}

/// How long the end of a run waits for webhooks still being delivered.
const WEBHOOK_GRACE: Duration = Duration::from_secs(20);

/// Prints warnings (failed webhooks): they never fail a run.
fn warn_all(warnings: Vec<String>) {
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
}

/// Where a run's reports go.
struct Reports {
    targets: Vec<(Format, String)>,
    /// JSONL reports, streamed during the run.
    logs: Vec<Arc<ItemLog>>,
    collector: Arc<Collector>,
    step_summary: Option<PathBuf>,
}

impl Reports {
    /// Writes every report from the results so far (also after a failure or an interrupt).
    fn write(&self) {
        for log in &self.logs {
            match log.finish() {
                Ok(()) => eprintln!("report: {}", log.path().display()),
                Err(e) => eprintln!(
                    "warning: cannot write the report {}: {e}",
                    log.path().display()
                ),
            }
        }
        let report = self.collector.snapshot();
        for (format, path) in &self.targets {
            match crate::report::write_atomic(Path::new(path), &format.render(&report)) {
                Ok(()) => eprintln!("report: {path}"),
                Err(e) => eprintln!("warning: cannot write the report {path}: {e}"),
            }
        }
        // GitHub Actions: the Markdown summary is appended to the job's summary.
        if let Some(summary) = &self.step_summary {
            let text = Format::Markdown.render(&report);
            let appended = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(summary)
                .and_then(|mut f| f.write_all(format!("{text}\n").as_bytes()));
            if let Err(e) = appended {
                eprintln!(
                    "warning: cannot append to $GITHUB_STEP_SUMMARY ({}): {e}",
                    summary.display()
                );
            }
        }
    }
}

/// `FORMAT:PATH`.
fn parse_report_target(text: &str) -> Result<(Format, String), String> {
    let (name, path) = text
        .split_once(':')
        .filter(|(_, p)| !p.is_empty())
        .ok_or_else(|| {
            format!("--report `{text}`: write it as FORMAT:PATH, e.g. junit:reports/run.xml")
        })?;
    let format = Format::parse(name).ok_or_else(|| {
        let names: Vec<&str> = Format::ALL.iter().map(|(n, _)| *n).collect();
        format!(
            "--report `{text}`: unknown format `{name}`; use one of {}, jsonl",
            names.join(", ")
        )
    })?;
    Ok((format, path.to_owned()))
}

/// Ctrl-C, listened for from the moment it is created.
struct Interrupts {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Interrupts {
    fn new() -> std::io::Result<Interrupts> {
        Ok(Interrupts {
            #[cfg(unix)]
            signal: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?,
        })
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        {
            self.signal.recv().await;
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn read_env_file(path: &Path) -> Result<HashMap<String, String>, String> {
    let iter =
        dotenvy::from_path_iter(path).map_err(|e| format!("--env-file {}: {e}", path.display()))?;
    iter.map(|item| item.map_err(|e| format!("--env-file {}: {e}", path.display())))
        .collect()
}

/// `vars` with `--var name=value` applied (values are strings; only declared vars).
fn apply_vars(
    plan: &Plan,
    overrides: &[String],
) -> Result<IndexMap<String, serde_json::Value>, String> {
    let mut vars = plan.vars.clone();
    // `CALLPLAN_VAR_<NAME>` (the name upper-cased), then `--var`, which wins.
    for (name, value) in vars.iter_mut() {
        let key = format!("CALLPLAN_VAR_{}", name.to_ascii_uppercase());
        if let Ok(text) = std::env::var(&key) {
            *value = serde_json::Value::String(text);
        }
    }
    for text in overrides {
        let (name, value) = text
            .split_once('=')
            .ok_or_else(|| format!("--var `{text}`: write it as name=value"))?;
        let name = name.trim();
        if !vars.contains_key(name) {
            let known: Vec<&str> = vars.keys().map(String::as_str).collect();
            let hint = crate::diagnostic::did_you_mean(name, known.iter().copied())
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            return Err(format!(
                "--var {name}: the plan declares no var `{name}`{hint}; declared: {}",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ));
        }
        vars.insert(name.to_owned(), serde_json::Value::String(value.to_owned()));
    }
    Ok(vars)
}

/// The sandbox's own value for a credential field.
fn sandbox_credential(kind: ProviderKind, field: &str) -> &'static str {
    match (kind, field) {
        (ProviderKind::GenesysCloud, "client_id") => "sandbox-client",
        (ProviderKind::GenesysCloud, "client_secret") => "sandbox-secret",
        (ProviderKind::GenesysCloud, "token") => "sandbox-user-token",
        (ProviderKind::NiceCxone, "access_key_id") => "sandbox-access-key",
        (ProviderKind::NiceCxone, "access_key_secret") => "sandbox-access-secret",
        (ProviderKind::NiceCxone, "client_id") => "sandbox-app",
        (ProviderKind::NiceCxone, "client_secret") => "sandbox-app-secret",
        _ => "sandbox-credential",
    }
}

/// The secret a template is exactly `{{ secrets.NAME }}` of.
fn sole_secret(template: &str) -> Option<&str> {
    let inner = template
        .trim()
        .strip_prefix("{{")?
        .strip_suffix("}}")?
        .trim();
    let name = inner.strip_prefix("secrets.")?;
    name.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
        .then_some(name)
}

/// Credential fields of a provider, as (field, template).
fn credential_fields(provider: &raw::Provider) -> Vec<(&'static str, &str)> {
    match provider {
        raw::Provider::GenesysCloud(p) => match &p.auth {
            GenesysAuth::ClientCredentials {
                client_id,
                client_secret,
            } => vec![("client_id", client_id), ("client_secret", client_secret)],
            GenesysAuth::Bearer { token } => vec![("token", token)],
        },
        raw::Provider::NiceCxone(p) => match &p.auth {
            CxoneAuth::Password {
                access_key_id,
                access_key_secret,
                client_id,
                client_secret,
            } => vec![
                ("access_key_id", access_key_id),
                ("access_key_secret", access_key_secret),
                ("client_id", client_id),
                ("client_secret", client_secret),
            ],
        },
        raw::Provider::Http(p) => match &p.auth {
            None | Some(HttpAuth::None) => Vec::new(),
            Some(HttpAuth::Bearer { token }) => vec![("token", token)],
            Some(HttpAuth::Basic { username, password }) => {
                vec![("username", username), ("password", password)]
            }
            Some(HttpAuth::Oauth2ClientCredentials {
                client_id,
                client_secret,
                ..
            }) => vec![("client_id", client_id), ("client_secret", client_secret)],
        },
    }
    .into_iter()
    .map(|(f, t)| (f, t.as_str()))
    .collect()
}

/// Reads every declared secret. With a sandbox, unset secrets get the sandbox's own values.
fn resolve_secrets(
    plan: &Plan,
    env_file: &HashMap<String, String>,
    sandbox: bool,
    notes: &mut Vec<String>,
) -> Result<IndexMap<String, String>, String> {
    let base = plan.path.parent().unwrap_or(Path::new("."));
    let mut values = IndexMap::new();
    let mut missing = Vec::new();
    for (name, source) in &plan.secrets {
        let value = match source {
            SecretSource::Env(var) => env_file
                .get(var)
                .cloned()
                .or_else(|| std::env::var(var).ok())
                .filter(|v| !v.is_empty()),
            SecretSource::File(path) => std::fs::read_to_string(base.join(path))
                .ok()
                .map(|s| s.trim_end_matches(['\n', '\r']).to_owned())
                .filter(|v| !v.is_empty()),
        };
        match value {
            Some(v) => {
                values.insert(name.clone(), v);
            }
            None => missing.push((name.clone(), source.clone())),
        }
    }
    if missing.is_empty() {
        return Ok(values);
    }
    let describe = |(name, source): &(String, SecretSource)| match source {
        SecretSource::Env(var) => format!("`{name}` (environment variable {var})"),
        SecretSource::File(path) => format!("`{name}` (file {path})"),
    };
    if !sandbox {
        let list: Vec<String> = missing.iter().map(describe).collect();
        return Err(format!(
            "secrets not set: {}; set them, or use --env-file, or run against the sandbox with --sandbox",
            list.join(", ")
        ));
    }
    let mut supplied = Vec::new();
    for (name, source) in &missing {
        let from_provider = plan.providers.iter().find_map(|(_, provider)| {
            credential_fields(&provider.config)
                .into_iter()
                .find(|(_, template)| sole_secret(template) == Some(name.as_str()))
                .map(|(field, _)| sandbox_credential(provider.kind, field))
        });
        let value = from_provider
            .map(str::to_owned)
            .unwrap_or_else(|| format!("sandbox-{name}"));
        values.insert(name.clone(), value);
        supplied.push(describe(&(name.clone(), source.clone())));
    }
    notes.push(format!(
        "secrets not set, the sandbox supplies its own: {}",
        supplied.join(", ")
    ));
    Ok(values)
}

fn render(
    renderer: &Renderer,
    template: &str,
    context: &minijinja::Value,
    what: &str,
) -> Result<String, String> {
    renderer
        .render_text(template, context)
        .map_err(|e| format!("{what}: {e}"))
}

/// What provider settings may read.
struct Scope<'a> {
    vars: &'a IndexMap<String, serde_json::Value>,
    secrets: &'a IndexMap<String, String>,
    run: &'a serde_json::Value,
}

/// Renders a provider's settings (URLs and credentials are templates over vars, secrets, run).
fn provider_settings(
    renderer: &Renderer,
    name: &str,
    provider: &crate::plan::model::Provider,
    scope: &Scope<'_>,
    sandbox: Option<&str>,
) -> Result<Settings, String> {
    let context = minijinja::Value::from_pairs([
        ("vars", render::value(scope.vars)),
        ("secrets", render::value(scope.secrets)),
        ("run", render::value(scope.run)),
    ]);
    let r = |template: &str, what: &str| render(renderer, template, &context, what);
    let opt = |template: &Option<String>, what: &str| -> Result<Option<String>, String> {
        template.as_deref().map(|t| r(t, what)).transpose()
    };
    let (api_base, discovery_base, api_version, headers, credentials) = match &provider.config {
        raw::Provider::GenesysCloud(p) => {
            let region = opt(&p.region, "region")?.unwrap_or_else(|| "mypurecloud.com".into());
            let base = opt(&p.base_url, "base_url")?;
            let login = opt(&p.login_url, "login_url")?;
            let (api, login) = match sandbox {
                Some(url) => (url.to_owned(), url.to_owned()),
                None => (
                    base.clone()
                        .unwrap_or_else(|| format!("https://api.{region}")),
                    login
                        .or(base)
                        .unwrap_or_else(|| format!("https://login.{region}")),
                ),
            };
            let credentials = match &p.auth {
                GenesysAuth::ClientCredentials {
                    client_id,
                    client_secret,
                } => Credentials::GenesysClient {
                    login_base: login,
                    client_id: r(client_id, "auth.client_id")?,
                    client_secret: r(client_secret, "auth.client_secret")?,
                },
                GenesysAuth::Bearer { token } => Credentials::Bearer {
                    token: r(token, "auth.token")?,
                },
            };
            (Some(api), None, String::new(), Vec::new(), credentials)
        }
        raw::Provider::NiceCxone(p) => {
            let auth_url = match sandbox {
                Some(url) => url.to_owned(),
                None => opt(&p.auth_url, "auth_url")?
                    .unwrap_or_else(|| cxone::DEFAULT_AUTH_URL.to_owned()),
            };
            let base = match sandbox {
                // Discovery through the sandbox's cxone-configuration, as against a real tenant.
                Some(_) => None,
                None => opt(&p.base_url, "base_url")?,
            };
            let version = opt(&p.api_version, "api_version")?
                .unwrap_or_else(|| cxone::DEFAULT_API_VERSION.to_owned());
            let CxoneAuth::Password {
                access_key_id,
                access_key_secret,
                client_id,
                client_secret,
            } = &p.auth;
            let credentials = Credentials::CxonePassword {
                auth_base: auth_url.clone(),
                access_key_id: r(access_key_id, "auth.access_key_id")?,
                access_key_secret: r(access_key_secret, "auth.access_key_secret")?,
                client_id: r(client_id, "auth.client_id")?,
                client_secret: r(client_secret, "auth.client_secret")?,
            };
            (base, Some(auth_url), version, Vec::new(), credentials)
        }
        raw::Provider::Http(p) => {
            let base = match sandbox {
                Some(url) => format!("{url}/_sandbox/http/{name}"),
                None => r(&p.base_url, "base_url")?,
            };
            let mut headers = Vec::new();
            for (k, v) in &p.headers {
                headers.push((k.clone(), r(v, &format!("headers.{k}"))?));
            }
            let credentials = match &p.auth {
                None | Some(HttpAuth::None) => Credentials::None,
                Some(HttpAuth::Bearer { token }) => Credentials::Bearer {
                    token: r(token, "auth.token")?,
                },
                Some(HttpAuth::Basic { username, password }) => Credentials::Basic {
                    username: r(username, "auth.username")?,
                    password: r(password, "auth.password")?,
                },
                Some(HttpAuth::Oauth2ClientCredentials {
                    token_url,
                    client_id,
                    client_secret,
                    scope,
                    audience,
                }) => Credentials::OAuth2 {
                    token_url: match sandbox {
                        Some(url) => format!("{url}/_sandbox/oauth2/token"),
                        None => r(token_url, "auth.token_url")?,
                    },
                    client_id: r(client_id, "auth.client_id")?,
                    client_secret: r(client_secret, "auth.client_secret")?,
                    scope: opt(scope, "auth.scope")?,
                    audience: opt(audience, "auth.audience")?,
                },
            };
            (Some(base), None, String::new(), headers, credentials)
        }
    };
    Ok(Settings {
        name: name.to_owned(),
        kind: provider.kind,
        api_base,
        discovery_base,
        api_version,
        headers,
        // Genesys's client-credentials tokens are limited to 300 requests a minute by default;
        // a plan that says nothing is paced to that.
        rate_limit: provider.rate_limit.or_else(|| {
            matches!(credentials, Credentials::GenesysClient { .. })
                .then_some((300, Duration::from_secs(60)))
        }),
        credentials,
        timeout: provider.timeout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sole_secret_reference_is_recognized() {
        assert_eq!(
            sole_secret("{{ secrets.gc_client_id }}"),
            Some("gc_client_id")
        );
        assert_eq!(sole_secret("{{secrets.x}}"), Some("x"));
        assert_eq!(sole_secret("Bearer {{ secrets.x }}"), None);
        assert_eq!(sole_secret("{{ vars.x }}"), None);
    }
}
