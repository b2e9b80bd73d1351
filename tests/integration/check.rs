//! `callplan check` on data: every broken plan in `tests/plans/invalid/` fails with a located,
//! snapshotted diagnostic; every plan in `tests/plans/ok/` and `plans/` passes.
//!
//! To add a case, drop a small plan with exactly one mistake into `tests/plans/invalid/` (the file
//! name says the mistake), run `INSTA_UPDATE=always cargo test --test integration`, and read the
//! new `.snap` file: it must point at the mistake and say how to fix it. The one exception,
//! `five-independent-mistakes.yaml`, shows that one `check` reports every mistake of a plan.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::{Output, callplan, root};

/// `path` relative to the repository root, with forward slashes (as users and CI type it).
fn relative(path: &Path) -> String {
    let root = root();
    let rel = path.strip_prefix(&root).unwrap_or(path);
    rel.to_string_lossy().replace('\\', "/")
}

/// The `*.yaml` files of a directory below the root, sorted, as relative paths.
fn yaml_files(dir: &str) -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files.iter().map(|p| relative(p)).collect()
}

/// Whether `text` holds `<file>:<line>:<col>` with both numbers present and at least 1.
fn has_location(text: &str, file: &str) -> bool {
    let needle = format!("{file}:");
    text.match_indices(&needle).any(|(at, _)| {
        let rest = &text[at + needle.len()..];
        let mut parts = rest.splitn(3, ':');
        let line = parts.next().and_then(|l| l.parse::<usize>().ok());
        let col = parts.next().map(|c| {
            c.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        });
        matches!(line, Some(l) if l >= 1)
            && col
                .and_then(|c| c.parse::<usize>().ok())
                .is_some_and(|c| c >= 1)
    })
}

/// Runs `callplan check FILE` for every file, in parallel (a debug binary takes a while to load
/// the phone-number metadata), keyed by file.
fn check_each(files: &[String]) -> HashMap<String, Output> {
    let workers = std::thread::available_parallelism().map_or(4, |n| n.get().min(16));
    let chunk = files.len().div_ceil(workers).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|f| (f.clone(), callplan(&["check", f])))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a check worker panicked"))
            .collect()
    })
}

#[test]
fn invalid_plans_fail_with_a_located_snapshot() {
    let results = check_each(&yaml_files("tests/plans/invalid"));
    insta::glob!("../plans/invalid", "*.yaml", |path| {
        let file = relative(path);
        let ran;
        let out = match results.get(&file) {
            Some(out) => out,
            None => {
                ran = callplan(&["check", &file]);
                &ran
            }
        };
        assert_eq!(
            out.code, 2,
            "{file}: `callplan check` must refuse this plan with exit code 2\n{}",
            out.stdout
        );
        assert!(
            out.stdout
                .lines()
                .any(|l| l.trim_start().starts_with("--> ")),
            "{file}: no `-->` location in\n{}",
            out.stdout
        );
        assert!(
            has_location(&out.stdout, &file),
            "{file}: no `{file}:<line>:<col>` location in\n{}",
            out.stdout
        );
        assert!(
            out.stdout.contains("error["),
            "{file}: no error in\n{}",
            out.stdout
        );
        assert!(
            out.stderr.is_empty(),
            "{file}: stderr must be empty (a panic?)\n{}",
            out.stderr
        );
        insta::assert_snapshot!(out.stdout);
    });
}

#[test]
fn ok_plans_pass() {
    let files = yaml_files("tests/plans/ok");
    assert!(
        files.len() >= 8,
        "expected at least 8 valid plans: {files:?}"
    );
    let results = check_each(&files);
    for file in &files {
        let out = &results[file];
        assert_eq!(
            out.code, 0,
            "{file} must pass `callplan check`\n{}",
            out.stdout
        );
        assert!(
            !out.stdout.contains("error"),
            "{file}: unexpected error\n{}",
            out.stdout
        );
        assert!(
            out.stdout.contains(&format!("{file}: ok (")),
            "{file}: no `ok` line in\n{}",
            out.stdout
        );
        assert!(out.stderr.is_empty(), "{file}: stderr\n{}", out.stderr);
    }
}

#[test]
fn every_example_plan_passes() {
    let files = yaml_files("plans");
    assert!(!files.is_empty(), "plans/ holds no example plan");
    let mut args = vec!["check"];
    args.extend(files.iter().map(String::as_str));
    let out = callplan(&args);
    assert_eq!(
        out.code, 0,
        "every example plan must pass `callplan check`\n{}",
        out.stdout
    );
    assert!(!out.stdout.contains("error"), "{}", out.stdout);
    for file in &files {
        assert!(
            out.stdout.contains(&format!("{file}: ok (")),
            "{file}: no `ok` line in\n{}",
            out.stdout
        );
    }
    let n = files.len();
    if n > 1 {
        assert!(
            out.stdout
                .lines()
                .any(|l| l == format!("checked {n} plans: {n} valid, 0 invalid")),
            "no summary line in\n{}",
            out.stdout
        );
    }
    assert!(out.stderr.is_empty(), "stderr\n{}", out.stderr);
}

#[test]
fn example_and_fixture_plans_together_are_summarized() {
    let mut files = yaml_files("plans");
    files.extend(yaml_files("tests/plans/ok"));
    files.push("tests/plans/invalid/template-unknown-var.yaml".to_owned());
    let mut args = vec!["check"];
    args.extend(files.iter().map(String::as_str));
    let out = callplan(&args);
    assert_eq!(
        out.code, 2,
        "one invalid plan fails the run\n{}",
        out.stdout
    );
    let n = files.len();
    let summary = format!("checked {n} plans: {} valid, 1 invalid", n - 1);
    assert_eq!(
        out.stdout.lines().last(),
        Some(summary.as_str()),
        "{}",
        out.stdout
    );
}

const FIXTURE: &str = "tests/plans/invalid/template-unknown-var.yaml";

/// `check --format FORMAT` on the fixture: it fails cleanly and prints something, line by line.
fn fixture_lines(format: &str) -> Vec<String> {
    let out = callplan(&["check", "--format", format, FIXTURE]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    let lines: Vec<String> = out.stdout.lines().map(str::to_owned).collect();
    assert!(!lines.is_empty(), "no output");
    lines
}

#[test]
fn json_format_prints_one_located_object_per_line() {
    for line in &fixture_lines("json") {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON object per line ({e}): {line}"));
        assert_eq!(v["severity"], "error", "{line}");
        assert_eq!(v["code"], "template.undefined", "{line}");
        assert!(
            v["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{line}"
        );
        assert_eq!(v["span"]["file"], FIXTURE, "{line}");
        assert_eq!(v["span"]["line"], 29, "{line}");
        assert_eq!(v["span"]["col"], 20, "{line}");
        assert!(v["span"]["len"].as_u64().is_some_and(|l| l >= 1), "{line}");
        assert!(v["help"].as_str().is_some(), "{line}");
    }
}

#[test]
fn github_format_prints_workflow_commands() {
    for line in &fixture_lines("github") {
        assert!(
            line.starts_with(&format!("::error file={FIXTURE},line=29,col=20,")),
            "not a located workflow command: {line}"
        );
        assert!(line.contains("title=template.undefined::"), "{line}");
        assert!(line.contains("(help: "), "{line}");
    }
}

#[test]
fn hanging_up_with_the_teardown_is_a_warning_that_names_the_normal_hang_up() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let plan = std::fs::read_to_string(crate::root().join("plans/genesys-agent-call.yaml"))
        .expect("the example")
        .replace("action: calls.hang_up", "action: conversations.disconnect");
    std::fs::write(dir.path().join("plan.yaml"), plan).expect("written");
    let out = crate::callplan_in(dir.path(), &["check", "plan.yaml"]);
    assert_eq!(out.code, 0, "a warning, not an error: {out:#?}");
    assert!(
        out.stdout.contains("warning[plan.teardown-hang-up]")
            && out.stdout.contains("calls.hang_up"),
        "{out:#?}"
    );
}

/// The codes and positions of `callplan check --format json` on `file` (run in `dir`).
fn findings(dir: &Path, file: &str) -> Vec<(String, u64, u64)> {
    let out = crate::callplan_in(dir, &["check", "--format", "json", file]);
    assert_eq!(out.code, 2, "{file} must fail\n{}", out.stdout);
    assert!(out.stderr.is_empty(), "{file}: stderr\n{}", out.stderr);
    out.stdout
        .lines()
        .map(|line| {
            let v: serde_json::Value =
                serde_json::from_str(line).expect("one JSON object per line");
            let at = |k: &str| v["span"][k].as_u64().unwrap_or(0);
            let code = v["code"].as_str().unwrap_or_default().to_owned();
            (code, at("line"), at("col"))
        })
        .collect()
}

#[test]
fn five_independent_mistakes_are_all_reported_by_one_check_in_file_order() {
    let found = findings(
        &root(),
        "tests/plans/invalid/five-independent-mistakes.yaml",
    );
    let codes: Vec<&str> = found.iter().map(|(c, _, _)| c.as_str()).collect();
    assert_eq!(
        codes,
        [
            "plan.phone",
            "schema.type",
            "plan.unknown-provider",
            "template.undefined",
            "schema.unknown-key",
        ],
        "{found:?}"
    );
    let positions: Vec<(u64, u64)> = found.iter().map(|(_, l, c)| (*l, *c)).collect();
    assert_eq!(
        positions,
        [(11, 16), (26, 14), (40, 15), (53, 20), (71, 5)],
        "{found:?}"
    );
}

/// A part of a plan the schema rejects is reported once: nothing that reads it, nothing it
/// leaves missing, and no required key its misspelling stands for, is reported as well. And the
/// rest of the plan is still checked (`if: vars.nope` is reported).
#[test]
fn a_schema_error_causes_no_other_finding_and_the_rest_is_still_checked() {
    let plan =
        std::fs::read_to_string(root().join("plans/genesys-agent-call.yaml")).expect("the example");
    let plan = plan.replace(
        "if: steps.dial.outcome == \"passed\"",
        "if: steps.dial.outcome == \"passed\" and vars.nope",
    );
    let cases: &[(&str, &str, &str, &str)] = &[
        // A step taken out whole: the steps that read it know it.
        (
            "missing-action",
            "    action: calls.create_for_user\n",
            "",
            "schema.missing-key",
        ),
        (
            "misspelt-action",
            "    action: calls.create_for_user\n",
            "    acton: calls.create_for_user\n",
            "schema.unknown-key",
        ),
        // A provider taken out whole: its steps do not use an "unknown provider".
        (
            "grant-typo",
            "grant: client_credentials",
            "grant: client-credentials",
            "schema.value",
        ),
        // A region written, but not one the schema knows: not "needs `region` or `base_url`".
        (
            "region-typo",
            "region: mypurecloud.com",
            "region: mypurecloud.co",
            "schema.value",
        ),
        // What `dial` saves is unknown: later steps may read it.
        (
            "save-not-a-string",
            "conversation_id: \"{{ response.body.id }}\"",
            "conversation_id: 5",
            "schema.type",
        ),
        // An allow list that lost a pattern judges no dial.
        (
            "guard-pattern-not-a-string",
            "allow_destinations: [\"+1317555****\"]",
            "allow_destinations: [13175550100, \"+1999*******\"]",
            "schema.type",
        ),
        // A retry delay that is not known is not compared with the other one.
        (
            "retry-max-not-a-string",
            "initial: 1s, max: 30s",
            "initial: 45s, max: 30",
            "schema.type",
        ),
        // A loop whose items cannot be read still loops, over items of unknown fields.
        (
            "for-each-typo",
            "    with: { user_id: \"{{ vars.agent_user_id }}\" }",
            "    for_each: { csvv: contacts.csv }\n    as: row\n    concurrency: 2\n    with: { user_id: \"{{ row.user }}\" }",
            "schema.value",
        ),
    ];
    let dir = tempfile::tempdir().expect("a temp dir");
    for (name, from, to, code) in cases {
        assert_eq!(
            plan.matches(from).count(),
            1,
            "{name}: `{from}` not found once"
        );
        let file = format!("{name}.yaml");
        std::fs::write(dir.path().join(&file), plan.replacen(from, to, 1)).expect("written");
        let found = findings(dir.path(), &file);
        let codes: Vec<&str> = found.iter().map(|(c, _, _)| c.as_str()).collect();
        assert_eq!(codes, [*code, "template.undefined"], "{name}: {found:?}");
    }
}
