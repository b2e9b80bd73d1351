//! Every duration and count a plan or a `run` flag states, at its extremes: zero, the maximum,
//! one past it, u64::MAX, a float, a negative, `18446744073709551615s` and `585y`. Nothing
//! panics; `check`, `run --dry-run` and `run --sandbox` refuse every value but the maximum with
//! exit 2 and the value's position; the maximum is accepted and runs.

use std::path::Path;

use crate::Output;

/// The plan every case starts from: each `@name@` is a field under test, at a value that runs
/// fast on the sandbox (no pacing to speak of, nothing retried).
const TEMPLATE: &str = r#"version: 1
name: bounds
vars:
  agent: 00000000-0000-4000-8000-000000000001
secrets:
  id: { env: BOUNDS_CLIENT_ID }
  secret: { env: BOUNDS_CLIENT_SECRET }
providers:
  gc:
    type: genesys-cloud
    region: mypurecloud.com
    auth: { grant: client_credentials, client_id: "{{ secrets.id }}", client_secret: "{{ secrets.secret }}" }
    rate_limit: { requests: @requests@, per: @per@ }
    timeout: @provider_timeout@
    reconcile_delay: @reconcile_delay@
    retry: { attempts: @login_attempts@, initial: @login_initial@, max: @login_max@ }
guard:
  allow_destinations: ["+1317555****"]
  max_calls: @max_calls@
defaults:
  timeout: @defaults_timeout@
  retry: { attempts: @attempts@, initial: @initial@, max: @max@ }
steps:
  - id: contacts
    provider: gc
    action: external_contacts.search
    with: { q: smith, pageSize: @page_size@ }
  - id: agents
    provider: gc
    action: users.get
    for_each: ["00000000-0000-4000-8000-000000000001"]
    concurrency: @concurrency@
    with: { user_id: "{{ item }}" }
  - id: dial
    provider: gc
    action: calls.create_for_user
    with: { user_id: "{{ vars.agent }}", phoneNumber: "+13175550100" }
    save: { id: "{{ response.body.id }}" }
  - id: wait
    provider: gc
    action: calls.wait
    with: { conversation_id: "{{ steps.dial.id }}", until: connected, timeout: @wait_timeout@, interval: @wait_interval@ }
    timeout: @step_timeout@
    retry: { attempts: @step_attempts@, initial: @step_initial@, max: @step_max@ }
  - id: hang_up
    provider: gc
    action: calls.hang_up
    with: { conversation_id: "{{ steps.dial.id }}" }
    always: true
"#;

/// Each field's value when it is not under test.
const DEFAULTS: &[(&str, &str)] = &[
    ("requests", "100000"),
    ("per", "1s"),
    ("provider_timeout", "10s"),
    ("reconcile_delay", "30s"),
    ("login_attempts", "2"),
    ("login_initial", "100ms"),
    ("login_max", "1s"),
    ("max_calls", "5"),
    ("defaults_timeout", "30s"),
    ("attempts", "2"),
    ("initial", "100ms"),
    ("max", "1s"),
    ("page_size", "20"),
    ("concurrency", "2"),
    ("wait_timeout", "30s"),
    ("wait_interval", "10ms"),
    ("step_timeout", "45s"),
    ("step_attempts", "2"),
    ("step_initial", "100ms"),
    ("step_max", "1s"),
];

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Duration,
    Integer,
}

/// A field under test: its maximum, one past it, and what else its maximum needs to be valid.
struct Field {
    name: &'static str,
    kind: Kind,
    max: &'static str,
    over: &'static str,
    with_max: &'static [(&'static str, &'static str)],
}

const fn field(name: &'static str, kind: Kind, max: &'static str, over: &'static str) -> Field {
    Field {
        name,
        kind,
        max,
        over,
        with_max: &[],
    }
}

const fn duration(name: &'static str, max: &'static str, over: &'static str) -> Field {
    field(name, Kind::Duration, max, over)
}

const fn integer(name: &'static str, max: &'static str, over: &'static str) -> Field {
    field(name, Kind::Integer, max, over)
}

const FIELDS: &[Field] = &[
    duration("provider_timeout", "24h", "86401s"),
    Field {
        // With the default 100000 requests a day apart and nothing else changed, the run would
        // take days: the most requests, and the least of them.
        with_max: &[("requests", "100000")],
        ..duration("per", "24h", "24h 1ms")
    },
    duration("reconcile_delay", "24h", "86401s"),
    Field {
        with_max: &[("login_max", "1h")],
        ..duration("login_initial", "1h", "3601s")
    },
    duration("login_max", "1h", "1h 1ns"),
    duration("defaults_timeout", "24h", "86401s"),
    Field {
        with_max: &[("max", "1h")],
        ..duration("initial", "1h", "3601s")
    },
    duration("max", "1h", "3601s"),
    duration("wait_timeout", "24h", "86401s"),
    duration("wait_interval", "24h", "86401s"),
    duration("step_timeout", "24h", "86401s"),
    Field {
        with_max: &[("step_max", "1h")],
        ..duration("step_initial", "1h", "3601s")
    },
    duration("step_max", "1h", "3601s"),
    integer("requests", "100000", "100001"),
    integer("max_calls", "1000000", "1000001"),
    integer("login_attempts", "100", "101"),
    integer("attempts", "100", "101"),
    integer("step_attempts", "100", "101"),
    integer("concurrency", "256", "257"),
    integer("page_size", "1000", "1001"),
];

/// One plan: a field at one value.
struct Case {
    file: String,
    /// The field and the value, for messages.
    what: String,
    /// The line the value is written on.
    line: usize,
    accepted: bool,
}

fn values(field: &Field) -> Vec<(&'static str, &'static str)> {
    let (zero, float, negative) = match field.kind {
        Kind::Duration => ("0s", "1.5", "-1s"),
        Kind::Integer => ("0", "5.0", "-1"),
    };
    vec![
        ("zero", zero),
        ("max", field.max),
        ("over", field.over),
        ("u64-max", "18446744073709551615"),
        ("float", float),
        ("negative", negative),
        ("huge", "18446744073709551615s"),
        ("years", "585y"),
    ]
}

/// Writes every case's plan into `dir`.
fn write_cases(dir: &Path) -> Vec<Case> {
    let mut cases = Vec::new();
    for field in FIELDS {
        for (label, value) in values(field) {
            let mut text = TEMPLATE.to_owned();
            let accepted = label == "max";
            let overrides: Vec<(&str, &str)> = std::iter::once((field.name, value))
                .chain(field.with_max.iter().copied().filter(|_| accepted))
                .collect();
            for (name, default) in DEFAULTS {
                let value = overrides
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or(*default, |(_, v)| *v);
                text = text.replace(&format!("@{name}@"), value);
            }
            assert!(
                !text.contains('@'),
                "a placeholder without a default:\n{text}"
            );
            let marker = format!("@{}@", field.name);
            let line = TEMPLATE
                .lines()
                .position(|l| l.contains(&marker))
                .map(|i| i + 1)
                .expect("the field is in the template");
            let file = format!("{}-{label}.yaml", field.name);
            std::fs::write(dir.join(&file), text).expect("write the plan");
            cases.push(Case {
                file,
                what: format!("{} = {value}", field.name),
                line,
                accepted,
            });
        }
    }
    cases
}

/// Runs `callplan` in `dir` with the plan's secrets set (a dry run renders them, masked).
fn callplan(dir: &Path, args: &[&str]) -> Output {
    crate::callplan_with_env(
        dir,
        args,
        &[
            ("BOUNDS_CLIENT_ID", "client"),
            ("BOUNDS_CLIENT_SECRET", "secret"),
        ],
    )
}

fn assert_no_panic(out: &Output, what: &str) {
    assert!(
        out.code != 101 && !out.stderr.contains("panicked") && !out.stdout.contains("panicked"),
        "{what}: callplan panicked\n{out:#?}"
    );
}

/// Runs `work` on every item, a thread per core: more would starve the tests beside this one
/// that measure time (pacing against the sandbox's rate limit).
fn in_parallel<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(8));
    let chunk = items.len().div_ceil(workers).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(&work).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a worker panicked"))
            .collect()
    })
}

#[test]
fn every_duration_and_count_of_a_plan_at_its_extremes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cases = write_cases(dir.path());
    // One `check` for every plan: a JSON object per finding, each naming its file.
    let mut args = vec!["check", "--format", "json"];
    args.extend(cases.iter().map(|c| c.file.as_str()));
    let checked = callplan(dir.path(), &args);
    assert_no_panic(&checked, "check");
    assert_eq!(checked.code, 2, "some plans are invalid\n{checked:#?}");
    let findings: Vec<serde_json::Value> = checked
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    for case in &cases {
        let errors: Vec<&serde_json::Value> = findings
            .iter()
            .filter(|f| f["severity"] == "error" && f["span"]["file"] == case.file.as_str())
            .collect();
        if case.accepted {
            assert!(errors.is_empty(), "{}: refused\n{errors:#?}", case.what);
        } else {
            assert!(
                errors.iter().any(|e| e["span"]["line"] == case.line
                    && e["span"]["col"].as_u64().is_some_and(|c| c >= 1)),
                "{}: not refused at line {}\n{errors:#?}",
                case.what,
                case.line
            );
        }
    }
    // The same plans through `run`: a refused one exits 2 before anything is sent, at the same
    // place; an accepted one renders and runs.
    let runs = in_parallel(&cases, |case| {
        let dry = callplan(dir.path(), &["run", &case.file, "--dry-run"]);
        let sandbox = callplan(dir.path(), &["run", &case.file, "--sandbox"]);
        (dry, sandbox)
    });
    for (case, (dry, sandbox)) in cases.iter().zip(&runs) {
        for (how, out) in [("--dry-run", dry), ("--sandbox", sandbox)] {
            let what = format!("{} (run {how})", case.what);
            assert_no_panic(out, &what);
            if case.accepted {
                // A day-long poll interval gives up after one poll: a failed step, not a crash.
                let allowed: &[i32] = if case.what.starts_with("wait_interval") {
                    &[0, 1]
                } else {
                    &[0]
                };
                assert!(allowed.contains(&out.code), "{what}\n{out:#?}");
            } else {
                let at = format!("{}:{}:", case.file, case.line);
                assert_eq!(out.code, 2, "{what}\n{out:#?}");
                assert!(
                    out.stdout.contains(&at) || out.stderr.contains(&at),
                    "{what}: no `{at}` in\n{out:#?}"
                );
            }
        }
    }
}

#[test]
fn run_flags_at_their_extremes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let plan = TEMPLATE.to_owned();
    let plan = DEFAULTS.iter().fold(plan, |text, (name, value)| {
        text.replace(&format!("@{name}@"), value)
    });
    std::fs::write(dir.path().join("plan.yaml"), plan).expect("write the plan");
    let flags = [
        ("--timeout", "7d", "7d 1s"),
        ("--cleanup-timeout", "1h", "3601s"),
    ];
    let mut cases = Vec::new();
    for (flag, max, over) in flags {
        for value in [
            "0s",
            max,
            over,
            "18446744073709551615",
            "1.5",
            "-1s",
            "18446744073709551615s",
            "585y",
        ] {
            for how in ["--dry-run", "--sandbox"] {
                cases.push((flag, value, value == max, how));
            }
        }
    }
    let outs = in_parallel(&cases, |(flag, value, _, how)| {
        // `--flag=value`: a value that starts with `-` is still the flag's value.
        callplan(
            dir.path(),
            &["run", "plan.yaml", how, &format!("{flag}={value}")],
        )
    });
    for ((flag, value, accepted, how), out) in cases.iter().zip(&outs) {
        let what = format!("{flag}={value} {how}");
        assert_no_panic(out, &what);
        if *accepted {
            assert_eq!(out.code, 0, "{what}\n{out:#?}");
        } else {
            assert_eq!(out.code, 2, "{what}\n{out:#?}");
            assert!(
                out.stderr.contains("invalid value") && out.stderr.contains(flag),
                "{what}: the message names the flag\n{}",
                out.stderr
            );
        }
    }
}
