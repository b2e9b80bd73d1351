//! A run's lifecycle, from the plan file to the last report, in one place:
//!
//! 1. **check** the plan (nothing is sent if it is invalid);
//! 2. **resolve** vars, secrets (`--env-file`, the environment, files, or a sandbox's stand-ins)
//!    and the target, rendering each provider's settings ([`resolve`], [`target`]);
//! 3. **check the outputs**: every report and the journal can be written ([`outputs`]);
//! 4. **log in** to each provider the steps use, under its retry policy (`login`);
//! 5. **run the steps**, then the `always` steps (the runner);
//! 6. **finish**: reports, the GitHub job summary, the journal's end record, webhooks (`finish`).
//!
//! A signal ([`signals`]) at any moment from step 2 on stops launching, cancels what is in
//! flight, runs the `always` steps under their own budget and still finishes; a second one cuts
//! the `always` steps short and finishes at once. The caller (the command line) only maps the
//! [`Ending`] to an exit code.

mod finish;
mod in_flight;
mod login;
pub mod outputs;
pub mod resolve;
pub mod signals;
pub mod target;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;

use crate::diagnostic;
use crate::plan::model::Plan;
use crate::plan::source::Source;
use crate::provider::connection::{Connection, Settings};
use crate::report::console::{self, Console, StepInfo};
use crate::report::jsonl::ItemLog;
use crate::report::model::{self, Collector, PlanInfo, Report, Tee};
use crate::report::notices::Notices;
use crate::report::webhook::{Hook, Webhooks};
use crate::report::{self, Redactor};
use crate::runner::events::{Clock, Event, RunStatus, Sink};
use crate::runner::journal::{Journal, Resume};
use crate::runner::render::{self, Renderer};
use crate::runner::{self, dry};
use finish::Reports;
use signals::{Signal, Signals};
use target::Target;

/// What to run and how (the command line, resolved).
#[derive(Debug, Clone)]
pub struct Options {
    /// The plan file.
    pub plan: PathBuf,
    /// `--var name=value` overrides.
    pub vars: Vec<String>,
    /// `--env-file`.
    pub env_file: Option<PathBuf>,
    /// `--dry-run`.
    pub dry_run: bool,
    /// `--timeout`: the steps' whole budget.
    pub timeout: Option<Duration>,
    /// `--report FORMAT:PATH` flags.
    pub reports: Vec<String>,
    /// `-q`.
    pub quiet: bool,
    /// Colors on stdout.
    pub color: bool,
    /// `-v` count.
    pub verbose: u8,
    /// `--journal`.
    pub journal: Option<PathBuf>,
    /// `--resume`.
    pub resume: Option<PathBuf>,
    /// Once a signal stopped the run, how long its `always` steps may take in all.
    pub cleanup: Duration,
}

/// The `always` steps' budget after a signal, unless the caller sets another.
pub const CLEANUP_BUDGET: Duration = Duration::from_secs(30);

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Every step passed.
    Passed,
    /// A step failed.
    Failed,
    /// The plan or the command line is invalid; nothing was sent.
    Invalid,
    /// It could not run: a login failed, the guard refused the first dial, a provider was
    /// unreachable.
    CouldNotRun,
    /// A signal stopped it (its `always` steps ran and its reports were written).
    Interrupted(Signal),
}

/// How long the end of a run waits for webhooks still being delivered.
const WEBHOOK_GRACE: Duration = Duration::from_secs(20);

/// Runs a plan against `target`, from checking it to its last report.
pub async fn run(options: Options, target: Target, signals: Signals) -> Ending {
    let redactor = Arc::new(Redactor::default());
    // Installed before any secret is known: the log writer masks with the redactor as it is
    // when each line is written.
    console::install_log(options.verbose, redactor.clone());
    let notices = Notices::new(redactor.clone());
    let checked = crate::plan::check_file(&options.plan);
    if !checked.diagnostics.is_empty() {
        let text = diagnostic::render(
            &checked.diagnostics,
            checked.source.as_ref().map(|s| s.text.as_str()),
            diagnostic::Format::Human,
        );
        eprint!("{}", redactor.mask(&text));
    }
    let has_errors = checked.diagnostics.iter().any(|d| d.is_error());
    let Some(plan) = checked.plan.filter(|_| !has_errors) else {
        notices.error(&format!(
            "{} is not a valid plan; nothing was sent",
            options.plan.display()
        ));
        return Ending::Invalid;
    };
    let prepared = match prepare(&plan, checked.source.as_ref(), &options, &target, &redactor) {
        Ok(p) => p,
        Err(message) => {
            notices.error(&message);
            return Ending::Invalid;
        }
    };
    if options.dry_run {
        return dry_run(&plan, prepared, &redactor, &notices);
    }
    execute(&plan, &options, prepared, redactor, notices, signals).await
}

/// `--dry-run`: prints every request the plan would send, and writes them with `--report json:`.
/// It exits 0 when every request could be built, 2 (invalid) otherwise.
fn dry_run(plan: &Plan, prepared: Prepared, redactor: &Redactor, notices: &Notices) -> Ending {
    let planned = dry::requests(dry::Inputs {
        plan,
        settings: &prepared.settings,
        vars: &prepared.vars,
        hooks: &prepared.hooks,
        notes: prepared.notes,
    });
    // No secret was read; the redactor stays the last filter all the same.
    print!("{}", redactor.mask(&report::planned::text(&planned)));
    let json = redactor.mask(&report::planned::json(&planned));
    for file in &prepared.outputs.reports {
        match report::write_atomic(std::path::Path::new(&file.path), &json) {
            Ok(()) => notices.line(&format!("report: {}", file.path)),
            Err(e) => {
                notices.error(&format!("cannot write the report {}: {e}", file.path));
                return Ending::Invalid;
            }
        }
    }
    if planned.ok {
        Ending::Passed
    } else {
        Ending::Invalid
    }
}

/// A run, resolved and with its outputs checked.
struct Prepared {
    clock: Clock,
    run_id: String,
    run_context: serde_json::Value,
    vars: IndexMap<String, serde_json::Value>,
    secrets: IndexMap<String, String>,
    settings: IndexMap<String, Settings>,
    outputs: outputs::Outputs,
    hooks: Vec<Hook>,
    notes: Vec<String>,
    resume: Option<Resume>,
    journal: Option<Journal>,
    plan_sha: String,
}

/// Steps 2 and 3: resolve, and check the outputs. Every error here means nothing was sent.
fn prepare(
    plan: &Plan,
    source: Option<&Source>,
    options: &Options,
    target: &Target,
    redactor: &Arc<Redactor>,
) -> Result<Prepared, String> {
    let clock = Clock::start();
    let mut notes = Vec::new();
    if let Target::Sandbox(s) = target
        && let Some(speedup) = s.built_in
    {
        notes.push(format!(
            "running against the built-in sandbox at {} (calls play {}x faster)",
            s.url,
            speedup.round()
        ));
    }
    let vars = resolve::vars(plan, &options.vars).map_err(|e| e.to_string())?;
    // A dry run reads no secret (nor the env file that holds them): each is a placeholder, and
    // so is every value only a run knows.
    let (secrets, renderer) = if options.dry_run {
        (
            resolve::planned_secrets(plan),
            Renderer::planned(Vec::new()),
        )
    } else {
        let env_file = match &options.env_file {
            None => HashMap::new(),
            Some(path) => resolve::env_file(path).map_err(|e| e.to_string())?,
        };
        let secrets =
            resolve::secrets(plan, &env_file, target, &mut notes).map_err(|e| e.to_string())?;
        redactor.add(secrets.values().cloned());
        (secrets, Renderer::new())
    };
    let run_id = uuid::Uuid::new_v4().to_string();
    let run_context = serde_json::json!({
        "id": run_id,
        "started_at": crate::call::timestamp(clock.started_at()),
        "plan": plan.name,
    });
    let mut settings = IndexMap::new();
    for (name, provider) in &plan.providers {
        let scope = resolve::Scope {
            vars: &vars,
            secrets: &secrets,
            run: &run_context,
        };
        let s = resolve::provider_settings(&renderer, name, provider, &scope, target)
            .map_err(|e| e.to_string())?;
        if !options.dry_run {
            redactor.add(s.credentials.secret_values());
            for (id, secret) in s.credentials.basic_pairs() {
                redactor.add_pair(&id, &secret);
            }
        }
        settings.insert(name.clone(), s);
    }
    let hooks = webhooks(plan, &renderer, &vars, &secrets, &run_context, target)?;
    // Outputs: the flags, then the plan's own `report:` section, then the journal.
    let mut outputs = outputs::parse_flags(&options.reports).map_err(|e| e.to_string())?;
    let context = minijinja::Value::from_pairs([
        ("vars", render::value(&vars)),
        ("run", render::value(&run_context)),
    ]);
    let journal_path = options.journal.clone().or_else(|| options.resume.clone());
    let plan_sha = model::sha256_of(&options.plan);
    if options.dry_run {
        outputs::check_dry_run(&outputs).map_err(|e| e.to_string())?;
    } else {
        let flag = if options.resume.is_some() {
            "--resume"
        } else {
            "--journal"
        };
        if let Some(path) = &options.resume
            && !path.exists()
        {
            return Err(format!("--resume {}: no such journal", path.display()));
        }
        outputs::check_flags(&outputs, journal_path.as_deref().map(|p| (flag, p)))
            .map_err(|e| e.to_string())?;
        outputs::add_plan_section(&mut outputs, plan, source, &renderer, &context)
            .map_err(|e| e.to_string())?;
    }
    // The journal is locked before it is read: a second run on it is refused here, before it
    // sends anything.
    let journal = match (&journal_path, options.dry_run) {
        (Some(path), false) => Some(
            Journal::open(path)
                .map_err(|e| format!("{e}; nothing was sent"))?
                .masked_with(redactor.clone()),
        ),
        _ => None,
    };
    let resume = match &options.resume {
        None => None,
        Some(path) => {
            let r = Resume::read(path).map_err(|e| format!("--resume: {e}"))?;
            if let Some(sha) = &r.plan_sha256
                && *sha != plan_sha
            {
                return Err(format!(
                    "--resume {}: the plan changed since that run (journal sha256 {}, now {}); resume with the plan it ran",
                    path.display(),
                    &sha[..sha.len().min(12)],
                    &plan_sha[..plan_sha.len().min(12)]
                ));
            }
            Some(r)
        }
    };
    Ok(Prepared {
        clock,
        run_id,
        run_context,
        vars,
        secrets,
        settings,
        outputs,
        hooks,
        notes,
        resume,
        journal,
        plan_sha,
    })
}

/// The plan's webhooks (`notify:`), rendered; against a sandbox they go to its echo API.
fn webhooks(
    plan: &Plan,
    renderer: &Renderer,
    vars: &IndexMap<String, serde_json::Value>,
    secrets: &IndexMap<String, String>,
    run_context: &serde_json::Value,
    target: &Target,
) -> Result<Vec<Hook>, String> {
    let context = minijinja::Value::from_pairs([
        ("vars", render::value(vars)),
        ("secrets", render::value(secrets)),
        ("run", render::value(run_context)),
    ]);
    let mut hooks = Vec::new();
    for (i, notify) in plan.notify.iter().enumerate() {
        let url = match target {
            Target::Sandbox(s) => s.notify_url(i),
            Target::Plan => renderer
                .render_text(&notify.url, &context)
                .map_err(|e| format!("notify[{i}].url: {e}"))?,
        };
        let mut headers = Vec::new();
        for (k, v) in &notify.headers {
            let value = renderer
                .render_text(v, &context)
                .map_err(|e| format!("notify[{i}].headers.{k}: {e}"))?;
            headers.push((k.clone(), value));
        }
        hooks.push(Hook {
            url,
            events: notify.events.clone(),
            headers,
        });
    }
    Ok(hooks)
}

/// Steps 4 to 6, for a run that sends.
async fn execute(
    plan: &Plan,
    options: &Options,
    prepared: Prepared,
    redactor: Arc<Redactor>,
    notices: Notices,
    signals: Signals,
) -> Ending {
    let Prepared {
        clock,
        run_id,
        run_context,
        vars,
        secrets,
        settings,
        outputs,
        hooks,
        notes,
        resume,
        journal,
        plan_sha,
    } = prepared;
    let tls = settings.values().any(Settings::uses_tls);
    // One TLS configuration for both clients: the platform's roots are read once.
    let clients = crate::provider::transport::tls_config(tls).and_then(|config| {
        Ok((
            crate::provider::connection::http_client(config.clone())?,
            crate::provider::transport::Transport::new(config)?,
        ))
    });
    let (client, transport) = match clients {
        Ok(c) => c,
        Err(e) => {
            notices.error(&e);
            return Ending::CouldNotRun;
        }
    };
    let mut logs = Vec::new();
    for path in &outputs.item_logs {
        match ItemLog::create(path.clone(), redactor.clone()) {
            Ok(log) => logs.push(Arc::new(log)),
            Err(e) => {
                notices.error(&format!(
                    "--report jsonl:{}: {e}; nothing was sent",
                    path.display()
                ));
                return Ending::Invalid;
            }
        }
    }
    let journal = match journal {
        None => None,
        Some(j) => match j.start(&run_id, &plan_sha, resume.is_some(), clock.started_at()) {
            Ok(()) => Some(Arc::new(j)),
            Err(e) => {
                notices.error(&format!("{e}; nothing was sent"));
                return Ending::Invalid;
            }
        },
    };
    let connections: IndexMap<String, Arc<Connection>> = settings
        .into_iter()
        .map(|(name, s)| {
            (
                name,
                Arc::new(Connection::new(s, client.clone(), transport.clone())),
            )
        })
        .collect();
    let collector = Arc::new(Collector::new(
        Report::new(
            &run_id,
            PlanInfo {
                name: plan.name.clone(),
                path: options.plan.display().to_string(),
                sha256: plan_sha,
            },
        ),
        redactor.clone(),
    ));
    let reports = Reports {
        files: outputs.reports,
        logs: logs.clone(),
        collector: collector.clone(),
        step_summary: std::env::var_os("GITHUB_STEP_SUMMARY")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from),
        notices: notices.clone(),
        redactor: redactor.clone(),
    };
    let (webhooks, delivery) = Webhooks::start(
        hooks,
        client.clone(),
        &run_id,
        &plan.name,
        redactor.clone(),
        clock,
    );
    let mut console = Console::new(
        console::stdout(options.color),
        redactor.clone(),
        options.quiet,
    )
    .with_color(options.color);
    // `-v` lines go to the same terminal, and a redrawn progress line would tear them.
    if options.verbose == 0 && console::progress_wanted() {
        console = console.with_progress(StepInfo::of(&plan.steps));
    } else if options.verbose == 0 && !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        // Nobody reads a pipe or a log line by line as it comes: step lines are written in
        // batches, each within `console::HOLD` of its step's end.
        console = console.batched();
    }
    let in_flight = in_flight::InFlight::new(clock);
    let mut all: Vec<&dyn Sink> = vec![&in_flight, &console, collector.as_ref(), &webhooks];
    all.extend(logs.iter().map(|l| l.as_ref() as &dyn Sink));
    let sinks = Tee(all);
    for note in notes {
        sinks.event(&Event::Note(note));
    }
    if let Some(r) = &resume {
        sinks.event(&Event::Note(format!(
            "resuming: {} finished steps, items and rows are skipped; {} of unknown fate are looked up at the provider before anything is sent again",
            r.done.len(),
            r.unknown.len()
        )));
    }
    sinks.event(&Event::RunStarted {
        run_id: run_id.clone(),
        plan: plan.name.clone(),
        path: plan.path.clone(),
        providers: connections
            .iter()
            .map(|(name, c)| {
                let target = c
                    .settings
                    .api_base
                    .clone()
                    .or_else(|| c.settings.discovery_base.clone())
                    .unwrap_or_default();
                (name.clone(), c.settings.kind.name().to_owned(), target)
            })
            .collect(),
        steps: plan.steps.len(),
        at: clock.started_at(),
    });
    let announce = {
        let signals = signals.clone();
        let notices = notices.clone();
        tokio::spawn(async move {
            let signal = signals.first_arrived().await;
            notices.line(&signal.announcement());
        })
    };
    let work = async {
        // Log in before the first step: a bad secret stops the run before anything is sent.
        let logged_in = tokio::select! {
            done = login::all(plan, &connections, &sinks, &clock) => Some(done),
            _ = signals.first_arrived() => None,
        };
        match logged_in {
            None => (
                RunStatus::Interrupted,
                Some("interrupted during the login; no step ran".to_owned()),
            ),
            Some(Err(failed)) => {
                notices.error(&failed.message);
                notices.hint(&failed.hint);
                notices.line("nothing was run");
                (RunStatus::CouldNotRun, Some(failed.message))
            }
            Some(Ok(())) => {
                let run = runner::Run {
                    plan,
                    connections: connections.clone(),
                    vars,
                    secrets,
                    run_id: run_id.clone(),
                    sink: &sinks,
                    interrupted: signals.stop_flag(),
                    clock,
                    context: run_context,
                    cleanup: options.cleanup,
                    timeout: options.timeout,
                    journal: journal.clone(),
                    resume,
                };
                runner::run(&run).await
            }
        }
    };
    let (status, reason) = tokio::select! {
        ended = work => ended,
        never = console.keep_flushed() => match never {},
        _ = signals.second_arrived() => {
            // What was under way ends here: every output says so, none leaves it out.
            for result in in_flight.cut_short(plan) {
                sinks.event(&Event::StepFinished(Box::new(result)));
            }
            (
                RunStatus::Interrupted,
                Some("interrupted twice: the `always` steps were cut short".to_owned()),
            )
        }
    };
    announce.abort();
    // Name the signal: CI logs show which one stopped the run (a cancelled job, a timeout).
    let reason = match (status, signals.first()) {
        (RunStatus::Interrupted, Some(signal)) if !signals.received().again => reason.map(|r| {
            r.replacen(
                "interrupted",
                &format!("interrupted by {}", signal.name()),
                1,
            )
        }),
        _ => reason,
    };
    sinks.event(&Event::RunFinished {
        status,
        reason,
        duration: clock.elapsed(),
        at: clock.now(),
    });
    reports.write();
    finish::close_journal(journal.as_ref(), &run_id, status, &clock, &notices);
    drop(sinks);
    webhooks.close();
    // A second signal does not wait for webhooks still on their way.
    let grace = if signals.received().again {
        Duration::ZERO
    } else {
        WEBHOOK_GRACE
    };
    for warning in delivery.finish(grace).await {
        notices.warning(&warning);
    }
    match (status, signals.first()) {
        (RunStatus::Interrupted, signal) => {
            Ending::Interrupted(signal.unwrap_or(Signal::Interrupt))
        }
        (RunStatus::Passed, _) => Ending::Passed,
        (RunStatus::Failed, _) => Ending::Failed,
        (RunStatus::CouldNotRun, _) => Ending::CouldNotRun,
    }
}
