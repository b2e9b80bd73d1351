//! The command line: what the user typed (clap), and the commands it runs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::{CommandFactory as _, Parser, Subcommand, ValueEnum};

mod init;
pub mod run;

use crate::diagnostic::{self, Format};
use crate::{plan, sandbox};

/// Exit codes, in one place (documented in the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Every step passed; every plan is valid.
    Success,
    /// A step failed.
    Failed,
    /// Invalid plan or command line; nothing was sent.
    Invalid,
    /// Could not run: auth failed, the guard refused, a provider was unreachable.
    CouldNotRun,
    /// Stopped by a signal (SIGINT 130, SIGTERM 143, SIGHUP 129); the `always` steps ran and
    /// the partial report was written.
    Signal(crate::lifecycle::signals::Signal),
}

impl Exit {
    /// The process's exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failed => 1,
            Exit::Invalid => 2,
            Exit::CouldNotRun => 3,
            Exit::Signal(signal) => signal.exit_code(),
        }
    }
}

/// Run declarative YAML call plans against Genesys Cloud CX, NICE CXone and any HTTP API.
#[derive(Debug, Parser)]
#[command(name = "callplan", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// When to color the output.
///
/// Colors come from `anstyle` (the styles) and `anstream` (the detection: `NO_COLOR`,
/// `CLICOLOR`, `CLICOLOR_FORCE`, `TERM=dumb`, a terminal or not; and Windows consoles): the
/// crates clap itself colors its help with, so they add nothing to the build and follow the
/// same conventions as the rest of the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ColorWhen {
    /// On a terminal, unless `NO_COLOR` is set (to anything but the empty string).
    #[default]
    Auto,
    /// Always, even when piped and even with `NO_COLOR` set (an explicit flag wins over the
    /// environment, as with other tools).
    Always,
    /// Never.
    Never,
}

impl ColorWhen {
    /// Whether stdout gets colors.
    pub fn enabled(self) -> bool {
        match self {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => {
                anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never
            }
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check plans: YAML, schema, providers, actions, templates, phone numbers. Sends nothing.
    #[command(after_help = "Examples:
  callplan check plans/genesys-agent-call.yaml
  callplan check plans/*.yaml
  callplan check --format github plans/*.yaml     # annotations on a pull request
  callplan check --format json plan.yaml | jq .   # one finding per line

Exit codes: 0 every plan is valid (warnings allowed), 2 a plan is invalid.")]
    Check {
        /// How to print findings.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Color the verdicts: `auto` (on a terminal without NO_COLOR), `always`, `never`.
        #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorWhen::Auto)]
        color: ColorWhen,
        /// Plan files to check.
        #[arg(required = true, value_name = "PLAN")]
        plans: Vec<PathBuf>,
    },
    /// Run a plan: log in, send every step's request, check expectations, report.
    #[command(after_help = "Examples:
  callplan run plans/genesys-agent-call.yaml --sandbox
  callplan run plans/ci-smoke-dial.yaml --env-file .env --var test_line=+13175550100
  callplan run plans/campaign-csv.yaml --dry-run
  callplan run plan.yaml --sandbox -v --color never 2> requests.log

Exit codes: 0 passed, 1 a step failed, 2 invalid plan or command line (nothing sent),
3 could not run (login failed, provider unreachable, guard refused), 130 Ctrl-C,
143 SIGTERM, 129 SIGHUP (the `always` steps ran and the reports were written).")]
    Run(run::RunArgs),
    /// Write a new plan to start from: commented, valid, runnable on the sandbox.
    #[command(after_help = "Examples:
  callplan init                          # plan.yaml, Genesys Cloud
  callplan init smoke.yaml --provider cxone
  callplan init plans/crm.yaml --provider http --force

Then: callplan check plan.yaml, and callplan run plan.yaml --sandbox.
Exit codes: 0 written, 2 the file exists (use --force) or cannot be written.")]
    Init {
        /// Where to write the plan.
        #[arg(value_name = "PATH", default_value = "plan.yaml")]
        path: PathBuf,
        /// The platform the plan calls.
        #[arg(long, value_enum, default_value_t = init::Template::Genesys)]
        provider: init::Template,
        /// Overwrite the file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Print the plan format's JSON Schema.
    #[command(after_help = "Examples:
  callplan schema > callplan.v1.schema.json
  callplan schema | jq '.properties | keys'

Editors with the YAML language server read it from a plan's first line, by a path relative to
the plan (`callplan init` writes the schema beside the plan and that line for you):
  # yaml-language-server: $schema=./callplan.v1.schema.json")]
    Schema,
    /// Print a shell completion script to stdout.
    #[command(after_help = "Examples:
  callplan completions bash > ~/.local/share/bash-completion/completions/callplan
  callplan completions zsh > \"${fpath[1]}/_callplan\"
  callplan completions fish > ~/.config/fish/completions/callplan.fish
  callplan completions powershell >> $PROFILE")]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Serve the built-in Genesys Cloud and NICE CXone emulator until Ctrl-C.
    #[command(after_help = "Examples:
  callplan sandbox
  callplan sandbox --addr 127.0.0.1:0 --config sandbox.yaml

The first line printed is the base URL; point a provider's base_url at it.
Credentials, scripted numbers and fault injection: docs/sandbox.md.")]
    Sandbox {
        /// Address to listen on (port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:8089", value_name = "HOST:PORT")]
        addr: SocketAddr,
        /// Sandbox configuration (YAML): credentials, time scale, rate limits, faults.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

/// Runs a parsed command line, writing to `out`; returns the exit code.
pub fn run(cli: Cli, out: &mut dyn std::io::Write) -> Exit {
    match cli.command {
        Command::Check {
            format,
            color,
            plans,
        } => check(&plans, format, color.enabled(), out),
        Command::Schema => {
            let _ = out.write_all(plan::schema::COMMITTED.as_bytes());
            Exit::Success
        }
        Command::Init {
            path,
            provider,
            force,
        } => init::init(&path, provider, force, out),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "callplan", out);
            Exit::Success
        }
        Command::Sandbox { addr, config } => sandbox(addr, config.as_deref(), out),
        Command::Run(args) => run::run(args),
    }
}

/// `callplan sandbox`: serve until Ctrl-C (or SIGTERM).
fn sandbox(addr: SocketAddr, config: Option<&Path>, out: &mut dyn std::io::Write) -> Exit {
    let config = match config.map(sandbox::Config::from_file) {
        None => sandbox::Config::default(),
        Some(Ok(config)) => config,
        Some(Err(e)) => {
            eprintln!("error: invalid sandbox configuration: {e}");
            return Exit::Invalid;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::CouldNotRun;
        }
    };
    runtime.block_on(async {
        let server = match sandbox::Sandbox::start(config, addr).await {
            Ok(server) => server,
            Err(e) => {
                eprintln!("error: cannot listen on {addr}: {e}");
                return Exit::CouldNotRun;
            }
        };
        let _ = writeln!(out, "sandbox: serving on {} (Ctrl-C to stop)", server.url());
        let _ = out.flush();
        stopped().await;
        server.stop();
        Exit::Success
    })
}

/// Resolves on Ctrl-C, or on SIGTERM where there is one.
async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn check(paths: &[PathBuf], format: Format, color: bool, out: &mut dyn std::io::Write) -> Exit {
    let paint = |style: anstyle::Style, text: &str| {
        if color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    };
    let ok = anstyle::AnsiColor::Green.on_default();
    let bad = anstyle::AnsiColor::Red.on_default().bold();
    let mut invalid = 0usize;
    for path in paths {
        let checked = plan::check_file(path);
        let text = diagnostic::render(
            &checked.diagnostics,
            checked.source.as_ref().map(|s| s.text.as_str()),
            format,
        );
        let _ = out.write_all(text.as_bytes());
        let errors = checked.diagnostics.iter().filter(|d| d.is_error()).count();
        let steps = checked
            .plan
            .as_ref()
            .map(|p| (p.steps.len(), p.providers.len()));
        // Freeing a large plan's model takes longer than checking it did; the process is about
        // to exit and the OS reclaims it at once.
        std::mem::forget(checked);
        if errors > 0 {
            invalid += 1;
        }
        if format == Format::Human {
            let shown = path.display().to_string().replace('\\', "/");
            let _ = match steps {
                Some((steps, providers)) => writeln!(
                    out,
                    "{shown}: {} ({steps} {}, {providers} {})",
                    paint(ok, "ok"),
                    plural(steps, "step", "steps"),
                    plural(providers, "provider", "providers"),
                ),
                None => writeln!(
                    out,
                    "{shown}: {}",
                    paint(
                        bad,
                        &format!("{errors} {}", plural(errors, "error", "errors"))
                    )
                ),
            };
        }
    }
    if format == Format::Human && paths.len() > 1 {
        let _ = writeln!(
            out,
            "checked {} plans: {} valid, {invalid} invalid",
            paths.len(),
            paths.len() - invalid
        );
    }
    if invalid == 0 {
        Exit::Success
    } else {
        Exit::Invalid
    }
}

fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}
