//! The everyday command line: what `callplan run` prints on a pipe, in CI and on a terminal
//! (color, the progress line, the summary table, `--quiet`, `-v`), and `init`, `completions` and
//! every subcommand's `--help`.
//!
//! Terminal tests run the binary under util-linux `script`, which gives it a pseudo-terminal;
//! every run uses `--sandbox`, so every request goes to 127.0.0.1.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use tempfile::TempDir;

use crate::{Output, root};

/// Environment variables that change what callplan prints, removed from every run so that the
/// developer's shell does not leak into a test; the plans' secrets too.
const CLEARED: &[&str] = &[
    "CI",
    "NO_COLOR",
    "CLICOLOR",
    "CLICOLOR_FORCE",
    "RUST_LOG",
    "GITHUB_STEP_SUMMARY",
    "GENESYS_CLIENT_ID",
    "GENESYS_CLIENT_SECRET",
    "CXONE_ACCESS_KEY_ID",
    "CXONE_ACCESS_KEY_SECRET",
    "CXONE_CLIENT_ID",
    "CXONE_CLIENT_SECRET",
    "API_CLIENT_ID",
    "API_CLIENT_SECRET",
];

/// `callplan ARGS` in `dir` with `env` set (and [`CLEARED`] and any proxy unset).
fn callplan_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_callplan"));
    command.args(args).current_dir(dir);
    clear(&mut command);
    command.envs(env.iter().copied());
    let out = command.output().expect("callplan runs");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn clear(command: &mut Command) {
    for name in CLEARED {
        command.env_remove(name);
    }
    for (name, _) in std::env::vars_os() {
        if name
            .to_string_lossy()
            .to_ascii_lowercase()
            .ends_with("_proxy")
        {
            command.env_remove(&name);
        }
    }
}

/// `callplan ARGS` on a pseudo-terminal (stdout and stderr both), through `script`; what the
/// terminal received, and the exit code.
fn on_terminal(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut line = shell_quote(env!("CARGO_BIN_EXE_callplan"));
    for arg in args {
        line.push(' ');
        line.push_str(&shell_quote(arg));
    }
    let mut command = Command::new("script");
    // -q: no banner; -e: its exit code is the command's; -c: the command; /dev/null: no typescript.
    command
        .args(["-q", "-e", "-c", &line, "/dev/null"])
        .current_dir(dir)
        .env("TERM", "xterm-256color");
    clear(&mut command);
    command.envs(env.iter().copied());
    let out = command
        .output()
        .expect("util-linux `script` runs (it gives callplan a terminal)");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// `callplan run PLAN --sandbox` on the Genesys example, from the repository root.
fn run_example(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut all = vec!["run", "plans/genesys-agent-call.yaml", "--sandbox"];
    all.extend_from_slice(args);
    callplan_env(&root(), &all, env)
}

#[track_caller]
fn assert_exit(out: &Output, code: i32) {
    assert_eq!(out.code, code, "exit code\n{out:#?}");
}

/// Whether `text` holds a terminal control sequence or a spinner frame (braille, as indicatif
/// draws them), or a carriage return: anything but plain lines.
fn has_terminal_codes(text: &str) -> bool {
    text.contains('\x1b')
        || text.contains('\r')
        || text.chars().any(|c| ('\u{2800}'..='\u{28ff}').contains(&c))
}

/// `text` with its SGR sequences (`ESC [ … m`) removed.
fn strip_sgr(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("\x1b[") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('m') {
            Some(end) if after[..end].chars().all(|c| c.is_ascii_digit() || c == ';') => {
                rest = &after[end + 1..];
            }
            _ => {
                out.push_str("\x1b[");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `text` with run ids, ports and durations made equal (every run of hex digits and dots reads
/// `0`, every duration `0 T`) and spaces collapsed, to compare two runs' output.
fn normalized(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_hexdigit() || c == '.' {
            if !out.ends_with('0') {
                out.push('0');
            }
        } else {
            out.push(c);
        }
    }
    out.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace("0 ms", "0 T")
        .replace("0 µs", "0 T")
        .replace("0 ns", "0 T")
        .replace("0 s", "0 T")
}

/// The plain lines a run of the Genesys example prints, in order (durations vary).
fn assert_plain_example(out: &Output) {
    assert_exit(out, 0);
    assert!(!has_terminal_codes(&out.stdout), "{:?}", out.stdout);
    assert!(!has_terminal_codes(&out.stderr), "{:?}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    let step_lines = [
        "  PASS  agent  The agent is on queue  200  ",
        "  PASS  dial  Call the customer on behalf of the agent  200  ",
        "  PASS  connected  Wait until the customer answers  200  call connected  ",
        "  PASS  hangup  Hang up  202  ",
    ];
    let mut at = 0;
    for expected in step_lines {
        let found = lines[at..].iter().position(|l| l.starts_with(expected));
        assert!(found.is_some(), "no line `{expected}` in order\n{out:#?}");
        at += found.unwrap_or_default() + 1;
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("run ") && l.ends_with(": genesys-agent-call (4 steps)")),
        "{out:#?}"
    );
    // The summary table, then the verdict and the counts, last.
    let header = lines.iter().position(|l| {
        l.split_whitespace().collect::<Vec<_>>()
            == ["step", "outcome", "status", "duration", "attempts"]
    });
    assert!(header.is_some(), "no summary table\n{out:#?}");
    let header = header.unwrap_or_default();
    assert!(header >= at, "the table follows the step lines\n{out:#?}");
    assert!(
        lines[header + 1].starts_with("agent ") && lines[header + 1].contains(" PASS "),
        "{out:#?}"
    );
    let last = &lines[lines.len() - 2..];
    assert_eq!(last[0], "passed", "{out:#?}");
    assert!(
        last[1].starts_with("4 passed, 0 failed, 0 errored, 0 skipped in "),
        "{out:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Plain output, color, the progress line.

#[test]
fn a_pipe_gets_plain_lines_and_a_summary_table() {
    let out = run_example(&[], &[]);
    assert_plain_example(&out);
}

#[test]
fn ci_gets_the_same_plain_lines_as_a_pipe() {
    let piped = run_example(&[], &[]);
    let ci = run_example(&[], &[("CI", "true")]);
    assert_plain_example(&ci);
    assert_eq!(normalized(&ci.stdout), normalized(&piped.stdout));
}

#[test]
fn a_terminal_gets_a_progress_line_that_is_cleared_before_the_summary() {
    let out = on_terminal(
        &root(),
        &["run", "plans/genesys-agent-call.yaml", "--sandbox"],
        &[],
    );
    assert_exit(&out, 0);
    // The wait takes about a second: the progress line shows it while it runs.
    assert!(
        out.stdout
            .contains("[3/4] connected  Wait until the customer answers"),
        "{:?}",
        out.stdout
    );
    assert!(
        out.stdout
            .chars()
            .any(|c| ('\u{2800}'..='\u{28ff}').contains(&c)),
        "a spinner: {:?}",
        out.stdout
    );
    // What stays: the same step lines, and the verdict and counts last.
    let text = strip_sgr(&out.stdout);
    assert!(
        text.contains("  PASS  connected  Wait until the customer answers  200  call connected  "),
        "{text:?}"
    );
    let tail: Vec<&str> = text.trim_end().lines().rev().take(2).collect();
    assert!(
        tail[0].starts_with("4 passed, 0 failed, 0 errored, 0 skipped in "),
        "{text:?}"
    );
    assert!(tail[1].ends_with("passed"), "{text:?}");
    // Color on a terminal: the labels.
    assert!(out.stdout.contains("\x1b[32mPASS"), "{:?}", out.stdout);
}

#[test]
fn ci_on_a_terminal_gets_no_progress_line() {
    let out = on_terminal(
        &root(),
        &[
            "run",
            "plans/genesys-agent-call.yaml",
            "--sandbox",
            "--color",
            "never",
        ],
        &[("CI", "true")],
    );
    assert_exit(&out, 0);
    assert!(!out.stdout.contains("[3/4]"), "{:?}", out.stdout);
    // A terminal turns `\n` into `\r\n`; nothing else is added.
    let text = out.stdout.replace("\r\n", "\n");
    assert!(!has_terminal_codes(&text), "{text:?}");
    assert!(text.contains("  PASS  hangup  Hang up  202  "), "{text:?}");
}

#[test]
fn no_color_turns_color_off_on_a_terminal() {
    let out = on_terminal(
        &root(),
        &["run", "plans/genesys-agent-call.yaml", "--sandbox"],
        &[("NO_COLOR", "1"), ("CI", "1")],
    );
    assert_exit(&out, 0);
    assert!(!out.stdout.contains('\x1b'), "{:?}", out.stdout);
}

#[test]
fn color_always_colors_the_labels_and_the_verdict_only() {
    let out = run_example(&["--color", "always"], &[]);
    assert_exit(&out, 0);
    let green = "\x1b[32m";
    assert!(
        out.stdout.contains(&format!(
            "  {green}PASS\x1b[0m  agent  The agent is on queue"
        )),
        "{:?}",
        out.stdout
    );
    assert!(
        out.stdout.contains("passed\x1b[0m\n4 passed,"),
        "{:?}",
        out.stdout
    );
    // Nothing else is touched: without its colors it is the plain output.
    let plain = run_example(&[], &[]);
    assert_eq!(
        normalized(&strip_sgr(&out.stdout)),
        normalized(&plain.stdout)
    );
}

/// `--color always` is an explicit request and wins over `NO_COLOR` (the convention of cargo,
/// ripgrep and others: the flag is the user's word for this one command).
#[test]
fn color_always_wins_over_no_color() {
    let out = run_example(&["--color", "always"], &[("NO_COLOR", "1")]);
    assert_exit(&out, 0);
    assert!(out.stdout.contains("\x1b[32mPASS"), "{:?}", out.stdout);
}

#[test]
fn auto_color_respects_no_color_even_when_forced() {
    // CLICOLOR_FORCE colors a pipe…
    let forced = run_example(&[], &[("CLICOLOR_FORCE", "1")]);
    assert!(
        forced.stdout.contains("\x1b[32mPASS"),
        "{:?}",
        forced.stdout
    );
    // …but NO_COLOR (any non-empty value) turns it off, and so does --color never.
    let no_color = run_example(&[], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "yes")]);
    assert_plain_example(&no_color);
    let never = run_example(&["--color", "never"], &[("CLICOLOR_FORCE", "1")]);
    assert_plain_example(&never);
    // An empty NO_COLOR is no request.
    let empty = run_example(&[], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "")]);
    assert!(empty.stdout.contains("\x1b[32mPASS"), "{:?}", empty.stdout);
}

#[test]
fn check_colors_its_verdicts_when_asked() {
    let out = callplan_env(
        &root(),
        &[
            "check",
            "--color",
            "always",
            "plans/genesys-agent-call.yaml",
        ],
        &[],
    );
    assert_exit(&out, 0);
    assert!(
        out.stdout
            .contains("plans/genesys-agent-call.yaml: \x1b[32mok\x1b[0m (4 steps"),
        "{:?}",
        out.stdout
    );
    let plain = callplan_env(&root(), &["check", "plans/genesys-agent-call.yaml"], &[]);
    assert!(!plain.stdout.contains('\x1b'), "{:?}", plain.stdout);
}

// ---------------------------------------------------------------------------------------------
// --quiet and -v.

/// An http plan against the sandbox's echo API: one step that passes, one whose expectation
/// fails (`on_error: continue`), and a secret sent in a query, a header and a body.
const HTTP_PLAN: &str = r#"version: 1
name: cli-http
secrets:
  id: { env: API_CLIENT_ID }
  secret: { env: API_CLIENT_SECRET }
  note: { env: CP_NOTE_KEY }
providers:
  api:
    type: http
    base_url: https://api.example.com/v1
    auth:
      type: oauth2_client_credentials
      token_url: https://login.example.com/oauth2/token
      client_id: "{{ secrets.id }}"
      client_secret: "{{ secrets.secret }}"
steps:
  - id: good
    name: The API is up
    provider: api
    action: request
    with:
      method: POST
      path: /notes
      query: { ref: "{{ secrets.note }}" }
      headers: { X-Note: "{{ secrets.note }}" }
      body: { note: "{{ secrets.note }}", id: "{{ secrets.id }}" }
    expect: [response.status == 201]
  - id: bad
    name: Expects what it does not get
    provider: api
    action: request
    with: { method: GET, path: /health }
    expect: [response.status == 204]
    on_error: continue
"#;

fn http_plan() -> TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("plan.yaml"), HTTP_PLAN).expect("the plan is written");
    dir
}

#[test]
fn quiet_prints_only_failures_and_the_summary() {
    let dir = http_plan();
    let out = callplan_env(
        dir.path(),
        &["run", "plan.yaml", "--sandbox", "--quiet"],
        &[],
    );
    assert_exit(&out, 1);
    // The failed step's line (and its message lines), the verdict, the counts: nothing else.
    let lines: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| !l.starts_with("        "))
        .collect();
    assert_eq!(lines.len(), 3, "{out:#?}");
    assert!(
        lines[0].starts_with("  FAIL  bad  Expects what it does not get  200  "),
        "{out:#?}"
    );
    assert_eq!(lines[1], "FAILED: step `bad` failed", "{out:#?}");
    assert!(
        lines[2].starts_with("1 passed, 1 failed, 0 errored, 0 skipped in "),
        "{out:#?}"
    );
    assert!(
        out.stdout.contains("\n        "),
        "the failure's message: {out:#?}"
    );
    // Without --quiet, the passing step, the notes and the table are there.
    let loud = callplan_env(dir.path(), &["run", "plan.yaml", "--sandbox"], &[]);
    assert!(
        loud.stdout.contains("  PASS  good  The API is up  201  "),
        "{loud:#?}"
    );
    assert!(loud.stdout.contains("note: "), "{loud:#?}");
    assert!(loud.stdout.contains("\nstep "), "{loud:#?}");
}

#[test]
fn verbose_logs_requests_to_stderr_with_secrets_masked() {
    let dir = http_plan();
    let secrets = [
        ("API_CLIENT_ID", "zebra-client-4471"),
        ("API_CLIENT_SECRET", "zebra-secret-8812"),
        ("CP_NOTE_KEY", "quokka-note-5531"),
    ];
    let silent = callplan_env(dir.path(), &["run", "plan.yaml", "--sandbox"], &secrets);
    assert_exit(&silent, 1);
    assert!(silent.stderr.is_empty(), "no log without -v: {silent:#?}");
    // RUST_LOG alone turns nothing on.
    let env_only = callplan_env(
        dir.path(),
        &["run", "plan.yaml", "--sandbox"],
        &[secrets.as_slice(), &[("RUST_LOG", "trace")]].concat(),
    );
    assert!(env_only.stderr.is_empty(), "{env_only:#?}");

    let v = callplan_env(
        dir.path(),
        &["run", "plan.yaml", "--sandbox", "-v"],
        &secrets,
    );
    assert_exit(&v, 1);
    let request = v
        .stderr
        .lines()
        .find(|l| l.contains("DEBUG") && l.contains("[api] POST http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("a request line\n{v:#?}"));
    // The query's secret is in the URL, masked.
    assert!(request.contains("/notes?ref=****"), "{request}");
    assert!(
        v.stderr
            .lines()
            .any(|l| l.contains("[api] GET http://127.0.0.1:") && l.contains("/health -> 200 in ")),
        "a response line\n{v:#?}"
    );
    assert!(
        !v.stderr.contains("request body"),
        "bodies need -vv\n{v:#?}"
    );
    // The login too: its URL and answer, never its form or the token.
    assert!(
        v.stderr
            .lines()
            .any(|l| l.contains("[login] POST http://127.0.0.1:")
                && l.contains("/_sandbox/oauth2/token -> 200 in ")),
        "the token request\n{v:#?}"
    );

    let vv = callplan_env(
        dir.path(),
        &["run", "plan.yaml", "--sandbox", "-vv"],
        &secrets,
    );
    assert_exit(&vv, 1);
    let body = vv
        .stderr
        .lines()
        .find(|l| l.contains("TRACE") && l.contains("request body: "))
        .unwrap_or_else(|| panic!("a request body\n{vv:#?}"));
    assert!(body.contains(r#""note":"****""#), "{body}");
    // The echo's answer holds the secret too (body, query, header): masked.
    assert!(
        vv.stderr
            .lines()
            .any(|l| l.contains("response body: ") && l.contains("****")),
        "{vv:#?}"
    );
    for out in [&v, &vv] {
        let all = format!("{}{}", out.stdout, out.stderr);
        // No token: the only bearer credential shown is the echo's own mask.
        assert!(
            all.match_indices("Bearer ")
                .all(|(i, _)| all[i..].starts_with("Bearer ****")),
            "{all}"
        );
        for (_, value) in secrets {
            let encoded = base64::engine::general_purpose::STANDARD.encode(value);
            assert!(!all.contains(value), "`{value}` leaked\n{all}");
            assert!(!all.contains(&encoded), "`{value}` leaked in base64\n{all}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// init, completions, --help.

#[test]
fn every_init_template_checks_and_runs_green_on_the_sandbox() {
    for provider in ["genesys", "cxone", "http"] {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let init = callplan_env(
            dir.path(),
            &["init", "smoke.yaml", "--provider", provider],
            &[],
        );
        assert_exit(&init, 0);
        assert!(
            init.stdout.contains("callplan run smoke.yaml --sandbox"),
            "{init:#?}"
        );
        let text = std::fs::read_to_string(dir.path().join("smoke.yaml")).expect("written");
        // The modeline resolves: it names the schema `init` wrote beside the plan, the one
        // `callplan schema` prints.
        let first = text.lines().next().unwrap_or_default();
        let target = first
            .strip_prefix("# yaml-language-server: $schema=")
            .unwrap_or_else(|| panic!("{provider}: {first}"));
        assert!(!target.contains("://"), "{provider}: {first}");
        let schema = std::fs::read_to_string(dir.path().join(target)).expect("the schema");
        assert_eq!(
            schema,
            callplan_env(dir.path(), &["schema"], &[]).stdout,
            "{provider}"
        );
        assert!(init.stdout.contains("callplan.v1.schema.json"), "{init:#?}");
        let check = callplan_env(dir.path(), &["check", "smoke.yaml"], &[]);
        assert_exit(&check, 0);
        assert!(!check.stdout.contains("warning"), "{provider}: {check:#?}");
        let run = callplan_env(
            dir.path(),
            &["run", "smoke.yaml", "--sandbox"],
            &[("CI", "true")],
        );
        assert_exit(&run, 0);
        assert!(run.stdout.contains("\npassed\n"), "{provider}: {run:#?}");
        assert!(!run.stdout.contains("SKIP"), "{provider}: {run:#?}");
    }
}

#[test]
fn init_writes_plan_yaml_by_default_and_never_overwrites_without_force() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let first = callplan_env(dir.path(), &["init"], &[]);
    assert_exit(&first, 0);
    let path = dir.path().join("plan.yaml");
    let written = std::fs::read_to_string(&path).expect("plan.yaml");
    assert!(written.contains("type: genesys-cloud"), "{written}");

    std::fs::write(&path, "keep me\n").expect("written");
    let again = callplan_env(dir.path(), &["init", "--provider", "cxone"], &[]);
    assert_exit(&again, 2);
    assert!(
        again.stderr.contains("plan.yaml already exists") && again.stderr.contains("--force"),
        "{again:#?}"
    );
    assert_eq!(std::fs::read_to_string(&path).expect("kept"), "keep me\n");

    let forced = callplan_env(dir.path(), &["init", "--provider", "cxone", "--force"], &[]);
    assert_exit(&forced, 0);
    let replaced = std::fs::read_to_string(&path).expect("replaced");
    assert!(replaced.contains("type: nice-cxone"), "{replaced}");
}

#[test]
fn completions_are_printed_for_every_shell() {
    let bash = callplan_env(&root(), &["completions", "bash"], &[]);
    assert_exit(&bash, 0);
    assert!(bash.stdout.contains("_callplan()"), "{bash:#?}");
    assert!(bash.stdout.contains("complete -F _callplan"), "{bash:#?}");
    // Subcommands and their flags are in it.
    assert!(bash.stdout.contains("--sandbox"), "{bash:#?}");
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let out = callplan_env(&root(), &["completions", shell], &[]);
        assert_exit(&out, 0);
        assert!(out.stdout.contains("callplan"), "{shell}: {out:#?}");
        assert!(out.stdout.contains("completions"), "{shell}: {out:#?}");
    }
    let unknown = callplan_env(&root(), &["completions", "tcsh"], &[]);
    assert_exit(&unknown, 2);
}

#[test]
fn every_subcommand_help_shows_examples() {
    for sub in ["run", "check", "schema", "sandbox", "init", "completions"] {
        let out = callplan_env(&root(), &[sub, "--help"], &[]);
        assert_exit(&out, 0);
        let examples = out
            .stdout
            .split("Examples:\n")
            .nth(1)
            .unwrap_or_else(|| panic!("`{sub} --help` has no examples\n{out:#?}"));
        assert!(
            examples.contains(&format!("  callplan {sub}")),
            "`{sub} --help` examples call `callplan {sub}`\n{out:#?}"
        );
    }
}
