//! No input makes `check` panic: hostile files, and thousands of mangled copies of real plans.

use std::io::Write as _;

use crate::callplan_in;

fn check_file(name: &str, bytes: &[u8]) -> crate::Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(bytes))
        .expect("write plan");
    callplan_in(dir.path(), &["check", name])
}

fn assert_clean_failure(out: &crate::Output, expect: &str) {
    assert_eq!(
        out.code, 2,
        "stdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    assert!(out.stderr.is_empty(), "no panic or trace: {}", out.stderr);
    assert!(
        out.stdout.contains(expect),
        "expected `{expect}` in:\n{}",
        out.stdout
    );
}

#[test]
fn empty_file() {
    let out = check_file("empty.yaml", b"");
    assert_clean_failure(&out, "error[plan.empty]: the plan is empty");
    assert!(out.stdout.contains("--> empty.yaml:1:1"));
}

#[test]
fn comments_only() {
    let out = check_file("c.yaml", b"# nothing here\n\n# at all\n");
    assert_clean_failure(&out, "plan.empty");
}

#[test]
fn binary_junk() {
    let junk: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let out = check_file("junk.yaml", &junk);
    assert_clean_failure(&out, "error[");
    assert!(out.stdout.contains("junk.yaml:"), "{}", out.stdout);
}

#[test]
fn control_characters_in_utf8() {
    let out = check_file("ctl.yaml", b"version: 1\nname: \x01\x02\x03\n");
    assert_clean_failure(&out, "ctl.yaml:2:");
}

#[test]
fn invalid_utf8_is_located() {
    let out = check_file("latin1.yaml", b"version: 1\nname: caf\xe9\n");
    assert_clean_failure(&out, "error[io.utf8]");
    assert!(
        out.stdout.contains("--> latin1.yaml:2:10"),
        "{}",
        out.stdout
    );
}

#[test]
fn twenty_megabyte_file() {
    let mut text = String::from("version: 1\nname: big\nvars:\n");
    let mut i = 0;
    while text.len() < 20 * 1024 * 1024 {
        text.push_str(&format!("  v{i}: \"{}\"\n", "x".repeat(100)));
        i += 1;
    }
    let out = check_file("big.yaml", text.as_bytes());
    assert_clean_failure(&out, "error[io.too-large]");
    assert!(out.stdout.contains("20.0 MiB"), "{}", out.stdout);
}

#[test]
fn directory_instead_of_a_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("plans")).expect("mkdir");
    let out = callplan_in(dir.path(), &["check", "plans"]);
    assert_clean_failure(&out, "`plans` is a directory, not a plan file");
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = callplan_in(dir.path(), &["check", "nope.yaml"]);
    assert_clean_failure(&out, "cannot read plan `nope.yaml`: no such file");
}

#[test]
fn one_bad_file_does_not_hide_the_others() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good =
        std::fs::read_to_string(crate::root().join("plans/ci-smoke-dial.yaml")).expect("plan");
    std::fs::write(dir.path().join("good.yaml"), good).expect("write");
    let out = callplan_in(dir.path(), &["check", "missing.yaml", "good.yaml"]);
    assert_eq!(out.code, 2);
    assert!(out.stdout.contains("good.yaml: ok"), "{}", out.stdout);
    assert!(
        out.stdout.contains("checked 2 plans: 1 valid, 1 invalid"),
        "{}",
        out.stdout
    );
}

#[test]
fn command_line_mistakes_exit_2() {
    let out = crate::callplan(&["check"]);
    assert_eq!(out.code, 2);
    let out = crate::callplan(&["chek", "plans/ci-smoke-dial.yaml"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("check"),
        "clap suggests the subcommand: {}",
        out.stderr
    );
}

/// A small deterministic generator (xorshift), so every failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const SNIPPETS: &[&str] = &[
    "{{",
    "}}",
    "{%",
    ":",
    "- ",
    "&a ",
    "*a",
    "<<: *a\n",
    "\t",
    "\"",
    "'",
    "[",
    "]",
    "{",
    "}",
    "\n  ",
    "!tag ",
    "? ",
    "|",
    ">",
    "#",
    "%",
    "@",
    "\u{feff}",
    "steps.",
    "vars.",
    "1e999",
    "~",
    "null",
    "---\n",
    "...\n",
    "\\",
    "{{ steps.x.y }}",
    "+1",
];

/// Thousands of mangled copies of the example plans: every one is checked without a panic.
#[test]
fn mangled_plans_never_panic() {
    let plans: Vec<String> = std::fs::read_dir(crate::root().join("plans"))
        .expect("plans dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "yaml"))
        .map(|e| std::fs::read_to_string(e.path()).expect("plan"))
        .collect();
    assert!(!plans.is_empty());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..3000 {
        let mut text: Vec<char> = plans[round % plans.len()].chars().collect();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(text.len());
            match rng.below(4) {
                0 => {
                    let end = (at + 1 + rng.below(20)).min(text.len());
                    text.drain(at..end);
                }
                1 => {
                    let snippet = SNIPPETS[rng.below(SNIPPETS.len())];
                    for (i, c) in snippet.chars().enumerate() {
                        text.insert(at + i, c);
                    }
                }
                2 => {
                    let end = (at + 1 + rng.below(40)).min(text.len());
                    let copy: Vec<char> = text[at..end].to_vec();
                    let to = rng.below(text.len());
                    for (i, c) in copy.into_iter().enumerate() {
                        text.insert(to + i, c);
                    }
                }
                _ => {
                    if at < text.len() {
                        text[at] = char::from(b' ' + rng.below(95) as u8);
                    }
                }
            }
        }
        let text: String = text.into_iter().collect();
        let source = callplan::plan::source::Source::new(
            crate::root().join("plans/mangled.yaml"),
            text.clone(),
        );
        let result = std::panic::catch_unwind(|| callplan::plan::check_source(&source));
        assert!(result.is_ok(), "round {round} panicked on:\n{text}");
        if let Ok((plan, diagnostics)) = result {
            assert!(
                plan.is_some() || diagnostics.iter().any(|d| d.is_error()),
                "round {round}: no plan and no error"
            );
            for d in diagnostics.iter().filter(|d| d.is_error()) {
                assert!(d.span.is_some(), "round {round}: unlocated {d:?}\n{text}");
            }
        }
    }
}
