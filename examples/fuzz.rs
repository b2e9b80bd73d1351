//! Structure-aware fuzzing of `callplan check`, on stable Rust.
//!
//! Mutates the example plans (`plans/*.yaml`) and the fixture plans (`tests/plans/**/*.yaml`):
//! lines deleted, duplicated, swapped and spliced in from other plans; brackets, quotes,
//! anchors, aliases, tags and template syntax inserted; scalars turned into extreme numbers and
//! long strings; values nested deeply; alias chains; text truncated or given bytes that are not
//! UTF-8. Each input goes through the library as `check` runs it (reading the file, YAML, the
//! schema, the semantic and template checks, rendering the diagnostics), in a worker process
//! that this program supervises:
//!
//! - a panic, or a worker that dies on an input, is a crash;
//! - an input still running after 10 s is a hang (the worker is killed);
//! - an input whose peak resident memory passes 256 MB is a memory failure.
//!
//! Every failing input is saved under `tests/plans/fuzz/`, where an integration test checks
//! each file with the real binary. The run is deterministic for a seed.
//!
//! ```sh
//! cargo run --example fuzz -- --seconds 50             # what CI runs
//! cargo run --release --example fuzz -- --minutes 10   # a longer run
//! cargo run --release --example fuzz -- --seed 7 --minutes 10 --save /tmp/fuzz
//! ```

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::IndexedRandom as _;
use rand::{Rng as _, SeedableRng as _};

// The binary checks plans with mimalloc; memory figures here should be the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// An input still running after this long is a hang.
const HANG: Duration = Duration::from_secs(10);
/// Peak resident memory above this is a failure.
const MEMORY_KB: u64 = 256 * 1024;
/// A worker that holds more than this between inputs is replaced, so that memory an earlier
/// input left to the allocator is not blamed on the next one.
const BASELINE_KB: u64 = 96 * 1024;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--worker") {
        worker();
        return;
    }
    let options = match Options::parse(&args) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("fuzz: {e}\nusage: fuzz [--seconds N | --minutes N] [--seed N] [--save DIR]");
            std::process::exit(2);
        }
    };
    std::process::exit(supervise(&options));
}

struct Options {
    duration: Duration,
    seed: u64,
    save: PathBuf,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let mut options = Options {
            duration: Duration::from_secs(50),
            seed: 12,
            save: root.join("tests/plans/fuzz"),
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
            let number = |v: &String| v.parse::<u64>().map_err(|_| format!("{arg}: not a number"));
            match arg.as_str() {
                "--seconds" => options.duration = Duration::from_secs(number(value()?)?),
                "--minutes" => options.duration = Duration::from_secs(60 * number(value()?)?),
                "--seed" => options.seed = number(value()?)?,
                "--save" => options.save = PathBuf::from(value()?),
                other => return Err(format!("unknown argument `{other}`")),
            }
        }
        Ok(options)
    }
}

/// The plans to mutate, and the data files next to them (copied beside each input, so that
/// `for_each` files are found and read).
fn corpus(root: &Path) -> (Vec<Vec<u8>>, Vec<PathBuf>) {
    fn walk(dir: &Path, plans: &mut Vec<PathBuf>, data: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, plans, data);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                plans.push(path);
            } else if path
                .extension()
                .is_some_and(|e| e == "csv" || e == "json" || e == "jsonl")
            {
                data.push(path);
            }
        }
    }
    let (mut plans, mut data) = (Vec::new(), Vec::new());
    walk(&root.join("plans"), &mut plans, &mut data);
    walk(&root.join("tests/plans"), &mut plans, &mut data);
    let texts = plans
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .filter(|t| t.len() < 1 << 20)
        .collect();
    (texts, data)
}

/// Counts of what happened.
#[derive(Default)]
struct Tally {
    inputs: u64,
    crashes: u64,
    hangs: u64,
    memory: u64,
    slowest: Duration,
    peak_kb: u64,
    saved: Vec<PathBuf>,
}

fn supervise(options: &Options) -> i32 {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let (plans, data) = corpus(&root);
    if plans.is_empty() {
        eprintln!("fuzz: no plans found under {}", root.display());
        return 2;
    }
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("fuzz: cannot make a work directory: {e}");
            return 2;
        }
    };
    for file in &data {
        if let Some(name) = file.file_name() {
            let _ = std::fs::copy(file, dir.path().join(name));
        }
    }
    println!(
        "fuzz: seed {}, {} s, {} plans, inputs under {}",
        options.seed,
        options.duration.as_secs(),
        plans.len(),
        dir.path().display()
    );
    let mut rng = StdRng::seed_from_u64(options.seed);
    let mut tally = Tally::default();
    let mut worker: Option<Worker> = None;
    let input = dir.path().join("input.yaml");
    let deadline = Instant::now() + options.duration;
    while Instant::now() < deadline {
        let bytes = mutate(&plans, &mut rng);
        if std::fs::write(&input, &bytes).is_err() {
            eprintln!("fuzz: cannot write {}", input.display());
            return 2;
        }
        if worker
            .as_ref()
            .is_none_or(|w| w.resident_kb() > BASELINE_KB)
        {
            worker = Worker::spawn(dir.path());
        }
        let Some(w) = worker.as_mut() else {
            eprintln!("fuzz: cannot start a worker");
            return 2;
        };
        tally.inputs += 1;
        let started = Instant::now();
        let verdict = w.check(&input);
        tally.slowest = tally.slowest.max(started.elapsed());
        let failure = match verdict {
            Verdict::Done { peak_kb } => {
                tally.peak_kb = tally.peak_kb.max(peak_kb);
                (peak_kb > MEMORY_KB).then(|| {
                    tally.memory += 1;
                    (
                        "memory",
                        format!("peak resident memory {} MB", peak_kb / 1024),
                    )
                })
            }
            Verdict::Panic(message) => {
                tally.crashes += 1;
                Some(("crash", format!("panic: {message}")))
            }
            Verdict::Died => {
                tally.crashes += 1;
                worker = None;
                Some(("crash", "the worker died".to_owned()))
            }
            Verdict::Hang => {
                tally.hangs += 1;
                worker = None;
                Some(("hang", format!("still running after {} s", HANG.as_secs())))
            }
            Verdict::OverMemory(kb) => {
                tally.memory += 1;
                worker = None;
                Some(("memory", format!("resident memory passed {} MB", kb / 1024)))
            }
        };
        if let Some((kind, why)) = failure {
            let name = format!("{kind}-seed{}-{}.yaml", options.seed, tally.inputs);
            let path = options.save.join(name);
            let saved =
                std::fs::create_dir_all(&options.save).and_then(|()| std::fs::write(&path, &bytes));
            match saved {
                Ok(()) => println!("fuzz: {kind}: {why}; saved {}", path.display()),
                Err(e) => println!("fuzz: {kind}: {why}; cannot save {}: {e}", path.display()),
            }
            tally.saved.push(path);
        }
    }
    drop(worker);
    println!(
        "fuzz: {} inputs, {} crashes, {} hangs, {} over {} MB; slowest {:.2} s, highest peak {} MB",
        tally.inputs,
        tally.crashes,
        tally.hangs,
        tally.memory,
        MEMORY_KB / 1024,
        tally.slowest.as_secs_f64(),
        tally.peak_kb / 1024
    );
    let failures = tally.crashes + tally.hangs + tally.memory;
    println!(
        "fuzz: {} passed, {failures} failed",
        tally.inputs - failures
    );
    i32::from(failures > 0)
}

enum Verdict {
    Done { peak_kb: u64 },
    Panic(String),
    Died,
    Hang,
    OverMemory(u64),
}

/// A worker process (this program with `--worker`), its input pipe and its answers.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    answers: mpsc::Receiver<String>,
}

impl Worker {
    fn spawn(dir: &Path) -> Option<Worker> {
        let mut child = Command::new(std::env::current_exe().ok()?)
            .arg("--worker")
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let stdin = child.stdin.take()?;
        let stdout = child.stdout.take()?;
        let (tx, answers) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Some(Worker {
            child,
            stdin,
            answers,
        })
    }

    fn resident_kb(&self) -> u64 {
        status_kb(self.child.id(), "VmRSS:").unwrap_or(0)
    }

    /// Sends one input and waits for its answer, watching time and memory.
    fn check(&mut self, input: &Path) -> Verdict {
        if writeln!(self.stdin, "{}", input.display()).is_err() || self.stdin.flush().is_err() {
            return Verdict::Died;
        }
        let started = Instant::now();
        loop {
            match self.answers.recv_timeout(Duration::from_millis(20)) {
                Ok(answer) => {
                    return match answer.split_once(' ') {
                        Some(("ok", kb)) => Verdict::Done {
                            peak_kb: kb.trim().parse().unwrap_or(0),
                        },
                        Some(("panic", message)) => Verdict::Panic(message.to_owned()),
                        _ => Verdict::Died,
                    };
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return Verdict::Died,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            let resident = self.resident_kb();
            if resident > MEMORY_KB {
                return Verdict::OverMemory(resident);
            }
            if started.elapsed() > HANG {
                return Verdict::Hang;
            }
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `kB` figure from `/proc/<pid>/status` (Linux).
fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
}

/// The worker: checks each path read from stdin as `callplan check` does, and answers
/// `ok <peak kB>` or `panic <message>`.
fn worker() {
    std::panic::set_hook(Box::new(|_| {}));
    let pid = std::process::id();
    let mut out = std::io::stdout();
    for line in std::io::stdin().lines().map_while(Result::ok) {
        // Resets the peak resident size, so VmHWM is this input's peak (Linux).
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let path = PathBuf::from(line);
        let result = std::panic::catch_unwind(|| {
            let checked = callplan::plan::check_file(&path);
            let text = checked.source.as_ref().map(|s| s.text.as_str());
            // The one-pass reader never reads a plan differently from the full path.
            if let Some(text) = text {
                assert!(
                    callplan::plan::fast::agrees(text),
                    "the one-pass YAML reader disagrees with the full path"
                );
            }
            for format in [
                callplan::diagnostic::Format::Human,
                callplan::diagnostic::Format::Json,
                callplan::diagnostic::Format::Github,
            ] {
                let _ = callplan::diagnostic::render(&checked.diagnostics, text, format);
            }
        });
        let answer = match result {
            Ok(()) => format!("ok {}", status_kb(pid, "VmHWM:").unwrap_or(0)),
            Err(payload) => {
                let message = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                format!("panic {}", message.replace('\n', " "))
            }
        };
        if writeln!(out, "{answer}").is_err() || out.flush().is_err() {
            return;
        }
    }
}

/// One input: a plan of the corpus with one to four mutations.
fn mutate(plans: &[Vec<u8>], rng: &mut StdRng) -> Vec<u8> {
    let mut text = plans.choose(rng).cloned().unwrap_or_default();
    for _ in 0..rng.random_range(1..=4) {
        text = mutate_once(text, plans, rng);
    }
    text.truncate(9 << 20);
    text
}

fn lines(text: &[u8]) -> Vec<Vec<u8>> {
    text.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect()
}

fn join(lines: &[Vec<u8>]) -> Vec<u8> {
    lines.join(&b'\n')
}

/// The byte offset just past `: ` in a line, where its value starts.
fn value_start(line: &[u8]) -> Option<usize> {
    line.windows(2).position(|w| w == b": ").map(|i| i + 2)
}

const TOKENS: &[&str] = &[
    "[",
    "]",
    "{",
    "}",
    "\"",
    "'",
    ": ",
    "- ",
    "? ",
    "#",
    "\t",
    "|",
    ">",
    ",",
    "&a ",
    "*a",
    "<<: *a",
    "!tag ",
    "!!str ",
    "{{",
    "}}",
    "{{ ",
    " }}",
    "{%",
    "%}",
    "{# ",
    "\\",
    "\r",
    "\u{feff}",
    "\u{2028}",
    "\0",
    "\u{85}",
    "---\n",
    "...\n",
    "%YAML 1.2\n",
    "@",
    "`",
    "~",
    "\n  ",
    "{{ steps.",
    "{{ item.",
    "{{ vars.",
    "{{ secrets.",
    " | e164 }}",
    " | b64encode",
    " | nope }}",
    "{{ uuid() }}",
    "{{ now() }}",
    "response.status == ",
    " and ",
    " or not ",
];

const EXTREMES: &[&str] = &[
    "0",
    "-1",
    "-0",
    "1e309",
    "-1e309",
    ".inf",
    "-.inf",
    ".nan",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775809",
    "0x7fffffffffffffff",
    "0o777",
    "1_000",
    "4294967296",
    "99999999999999999999999999999s",
    "1e-400",
    "0.1ms",
    "1000000h",
    "999999999d",
    "null",
    "~",
    "true",
    "\"\"",
    "[]",
    "{}",
    "+13175550100",
    "+1",
    "+99999999999999999",
];

fn mutate_once(text: Vec<u8>, plans: &[Vec<u8>], rng: &mut StdRng) -> Vec<u8> {
    let mut ls = lines(&text);
    let n = ls.len().max(1);
    let pick = |rng: &mut StdRng| rng.random_range(0..n);
    match rng.random_range(0..14) {
        0 if ls.len() > 1 => {
            ls.remove(pick(rng).min(ls.len() - 1));
        }
        1 => {
            let i = pick(rng).min(ls.len().saturating_sub(1));
            if let Some(line) = ls.get(i).cloned() {
                for _ in 0..rng.random_range(1..=3) {
                    ls.insert(i, line.clone());
                }
            }
        }
        2 if ls.len() > 1 => {
            let (a, b) = (pick(rng) % ls.len(), pick(rng) % ls.len());
            ls.swap(a, b);
        }
        3 | 4 => {
            // A token at a random place.
            let mut bytes = text;
            let at = rng.random_range(0..=bytes.len());
            let token = TOKENS.choose(rng).copied().unwrap_or("[");
            let times = if rng.random_bool(0.2) {
                rng.random_range(2..200)
            } else {
                1
            };
            let insert = token.repeat(times);
            bytes.splice(at..at, insert.bytes());
            return bytes;
        }
        5 => {
            // An extreme scalar as a value.
            let i = pick(rng) % ls.len();
            if let Some(at) = value_start(&ls[i]) {
                let value = EXTREMES.choose(rng).copied().unwrap_or("0");
                ls[i].truncate(at);
                ls[i].extend_from_slice(value.as_bytes());
            }
        }
        6 => {
            // A long string, plain, quoted or as a template.
            let i = pick(rng) % ls.len();
            if let Some(at) = value_start(&ls[i]) {
                let len = if rng.random_bool(0.1) {
                    rng.random_range(100_000..2_000_000)
                } else {
                    rng.random_range(100..20_000)
                };
                let body = match rng.random_range(0..4) {
                    0 => "x".repeat(len),
                    1 => format!("\"{}\"", "é\\u00e9".repeat(len / 8 + 1)),
                    2 => format!("\"{{{{ {} }}}}\"", vec!["vars.a"; len / 8 + 1].join(" ~ ")),
                    _ => format!("\"{}\"", "{{ ".repeat(len / 3 + 1)),
                };
                ls[i].truncate(at);
                ls[i].extend_from_slice(body.as_bytes());
            }
        }
        7 => {
            // Deep nesting: flow brackets, flow mappings, block lists or indentation.
            let i = pick(rng) % ls.len();
            let depth = if rng.random_bool(0.2) {
                rng.random_range(1_000..200_000)
            } else {
                rng.random_range(10..300)
            };
            let nested = match rng.random_range(0..4) {
                0 => format!("{}1{}", "[".repeat(depth), "]".repeat(depth)),
                1 => format!("{}1{}", "{a: ".repeat(depth), "}".repeat(depth)),
                2 => format!("{}1", "- ".repeat(depth.min(5_000))),
                _ => {
                    let depth = depth.min(3_000);
                    let mut block = String::from("\n");
                    for d in 1..depth {
                        block.push_str(&" ".repeat(d));
                        block.push_str("k:\n");
                    }
                    block.push_str(&" ".repeat(depth));
                    block.push('1');
                    block
                }
            };
            match value_start(&ls[i]) {
                Some(at) => {
                    ls[i].truncate(at);
                    ls[i].extend_from_slice(nested.as_bytes());
                }
                None => ls.insert(i, format!("deep: {nested}").into_bytes()),
            }
        }
        8 => {
            // Lines of another plan, spliced in.
            if let Some(other) = plans.choose(rng) {
                let theirs = lines(other);
                let start = rng.random_range(0..theirs.len());
                let end = (start + rng.random_range(1..40)).min(theirs.len());
                let at = pick(rng).min(ls.len());
                ls.splice(at..at, theirs[start..end].iter().cloned());
            }
        }
        9 => {
            // An anchor on a value and aliases of it elsewhere, merge keys included.
            let i = pick(rng) % ls.len();
            let j = pick(rng) % ls.len();
            if let (Some(a), Some(b)) = (value_start(&ls[i]), value_start(&ls[j])) {
                ls[i].splice(a..a, b"&x ".iter().copied());
                let b = if i == j { b + 3 } else { b };
                let alias: &[u8] = if rng.random_bool(0.3) {
                    b"*x\n  <<: *x"
                } else {
                    b"*x"
                };
                ls[j].truncate(b);
                ls[j].extend_from_slice(alias);
            }
        }
        10 => {
            // An alias chain: each anchor repeats the previous one, nested or not.
            let levels = rng.random_range(2..14);
            let fan = rng.random_range(2..12);
            let open = if rng.random_bool(0.5) { "[" } else { "[[[[" };
            let close = if open == "[" { "]" } else { "]]]]" };
            let mut chain = vec![
                b"vars:".to_vec(),
                format!("  l0: &l0 {open}x, y{close}").into_bytes(),
            ];
            for l in 1..levels {
                let refs = vec![format!("*l{}", l - 1); fan].join(", ");
                chain.push(format!("  l{l}: &l{l} {open}{refs}{close}").into_bytes());
            }
            let at = pick(rng).min(ls.len());
            ls.splice(at..at, chain);
        }
        11 => {
            // Template syntax inside an existing template.
            let mut bytes = text;
            if let Some(at) = bytes.windows(2).position(|w| w == b"{{") {
                let junk = [
                    "{{", "}}", " | e164(", ".x.y.z", "[0]", "(((", " ~ ", "%}", "\"", "'",
                ];
                let insert = junk.choose(rng).copied().unwrap_or("{{");
                bytes.splice(at + 2..at + 2, insert.bytes());
            }
            return bytes;
        }
        12 => {
            // Truncated, or given bytes that are not UTF-8.
            let mut bytes = text;
            if rng.random_bool(0.5) {
                let at = rng.random_range(0..=bytes.len());
                bytes.truncate(at);
            } else {
                let at = rng.random_range(0..=bytes.len());
                let bad: &[u8] = [&b"\xff"[..], b"\xc3", b"\xe2\x82", b"\xed\xa0\x80"]
                    .choose(rng)
                    .copied()
                    .unwrap_or(b"\xff");
                bytes.splice(at..at, bad.iter().copied());
            }
            return bytes;
        }
        _ => {
            // Re-indent a line by a random amount.
            let i = pick(rng) % ls.len();
            let shift = rng.random_range(0..12);
            let line = std::mem::take(&mut ls[i]);
            let body: Vec<u8> = line.iter().copied().skip_while(|&b| b == b' ').collect();
            ls[i] = [vec![b' '; shift], body].concat();
        }
    }
    join(&ls)
}
