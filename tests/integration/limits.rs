//! What any input costs: nesting, aliases and sizes are refused before they cost time or
//! memory, from files, pipes and devices alike; every input the fuzzer (`examples/fuzz.rs`) ever
//! saved checks cleanly.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{callplan, callplan_in, root};

/// Generous: a debug build on a busy machine. The inputs below took minutes before.
const QUICK: Duration = Duration::from_secs(10);

fn check_text(text: &str) -> (crate::Output, Duration) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("p.yaml"), text).expect("write plan");
    let started = Instant::now();
    let out = callplan_in(dir.path(), &["check", "p.yaml"]);
    (out, started.elapsed())
}

#[test]
fn every_saved_fuzz_input_checks_without_panic_or_hang() {
    let dir = root().join("tests/plans/fuzz");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/plans/fuzz")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no inputs in {}", dir.display());
    for file in files {
        let shown = file.display().to_string();
        let started = Instant::now();
        let out = callplan(&["check", &shown]);
        assert!(
            out.code == 0 || out.code == 2,
            "{shown}: exit {}\n{}",
            out.code,
            out.stderr
        );
        assert!(out.stderr.is_empty(), "{shown}: {}", out.stderr);
        // Findings quote what the plan says, within bounds: not a megabyte a value.
        assert!(
            out.stdout.len() < 16 * 1024,
            "{shown}: {} bytes of findings",
            out.stdout.len()
        );
        assert!(
            started.elapsed() < QUICK,
            "{shown}: {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn deep_flow_nesting_is_refused_at_once_and_located() {
    let n = 200_000;
    let (out, took) = check_text(&format!(
        "version: 1\nname: x\nsteps: {}{}\n",
        "[".repeat(n),
        "]".repeat(n)
    ));
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(
        out.stdout.contains("error[yaml.too-deep]"),
        "{}",
        out.stdout
    );
    // Located on the line that nests too deep.
    assert!(out.stdout.contains("--> p.yaml:3:"), "{}", out.stdout);
    assert!(took < QUICK, "{took:?}");
}

#[test]
fn aliases_repeating_nested_anchors_are_refused_before_they_are_expanded() {
    let mut text = String::from("version: 1\nname: bomb\nvars:\n");
    text.push_str(&format!(
        "  a0: &a0 {}x{}\n",
        "[".repeat(40),
        "]".repeat(40)
    ));
    for i in 1..40 {
        let refs = vec![format!("*a{}", i - 1); 12].join(", ");
        text.push_str(&format!("  a{i}: &a{i} [{refs}]\n"));
    }
    let (out, took) = check_text(&text);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(
        out.stdout.contains("error[yaml.alias-bomb]"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("the limit is crossed here"),
        "{}",
        out.stdout
    );
    assert!(took < QUICK, "{took:?}");
}

#[test]
fn a_device_without_end_is_read_up_to_the_limit() {
    if !std::path::Path::new("/dev/zero").exists() {
        return;
    }
    let out = callplan(&["check", "/dev/zero"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(
        out.stdout
            .contains("error[io.too-large]: plan `/dev/zero` is larger than 8 MiB"),
        "{}",
        out.stdout
    );
    let out = callplan(&["run", "plans/ci-smoke-dial.yaml", "--env-file", "/dev/zero"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("--env-file /dev/zero: larger than 1 MiB"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_plan_from_a_pipe_has_the_same_limit_as_a_file() {
    if !std::path::Path::new("/dev/stdin").exists() {
        return;
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_callplan"))
        .args(["check", "/dev/stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("callplan runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        let line = "# padding padding padding padding padding padding padding padding\n";
        for _ in 0..(9 << 20) / line.len() {
            // The reader stops at the limit and closes the pipe.
            if stdin.write_all(line.as_bytes()).is_err() {
                break;
            }
        }
    });
    let out = child.wait_with_output().expect("callplan ends");
    let _ = writer.join();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("error[io.too-large]: plan `/dev/stdin` is larger than 8 MiB"),
        "{stdout}"
    );
}
