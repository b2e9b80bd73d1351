//! Runner overhead: `callplan run` on a plan of 2,000 sequential `http` request steps, against a
//! plain reqwest keep-alive loop sending the same GETs to the same nginx, both pinned to one core
//! with nginx and run interleaved (loop, callplan, loop, callplan, …).
//!
//! ```sh
//! cargo bench --bench run                                   # 15 pinned pairs, then 7 unpinned
//! cargo bench --bench run -- --pairs 21 --unpinned-pairs 0  # more pairs, no unpinned line
//! cargo bench --bench run -- --callplan /path/to/callplan   # another build of callplan
//! cargo bench --bench run -- --serve 600                    # nginx and the plan, to profile
//! ```
//!
//! Both sides are processes, timed from spawn to exit and started the same way: by a copy of the
//! bench (`--measure`) that pins itself to the core first (what `taskset -c 0` does; the program
//! inherits it) and reads the program's peak RSS and CPU time from `getrusage` when it ends.
//! nginx, started with `taskset -c 0`, runs from a configuration of the bench's own in a
//! temporary directory, on a free port of 127.0.0.1 (one worker, no access log, keep-alive for
//! the whole run), serving a 0.2 KB JSON document as `application/json` at every `/items/N`.
//!
//! - **the loop**: this bench re-executed (`--loop URL N`): a current-thread tokio runtime (as
//!   callplan's), one reqwest client, `GET /items/N` for N in 0..2,000 one after another, each
//!   body parsed as JSON, its status and a field checked;
//! - **callplan**: `callplan run PLAN`, console output on (stdout to /dev/null, as a CI log is
//!   written), where PLAN is one step with `for_each` over 2,000 inline items, `concurrency: 1`,
//!   a GET of `/items/{{ item }}` and `expect: [response.status == 200, response.body.id is
//!   defined]`: checking the plan, rendering each item, sending, judging, reporting.
//!
//! Pinned to one core, a wake-up never crosses cores and the ratio is callplan's own cost; the
//! unpinned figures, printed second, swing with the machine's load. nginx must be installed
//! (`apt-get install -y nginx`); no traffic leaves the loopback.

use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// The document nginx serves at every `/items/N`: a small CRM record.
const DOCUMENT: &str = r#"{"id": 4711, "name": "Ada Lovelace", "email": "ada@example.com", "phone": "+442079460000", "active": true, "tags": ["crm", "vip"], "address": {"city": "London", "country": "GB"}, "updated_at": "2026-11-21T09:30:00Z"}
"#;

/// The field both sides check in each answer.
const FIELD: &str = "id";

struct Args {
    steps: usize,
    pairs: usize,
    unpinned_pairs: usize,
    core: usize,
    callplan: PathBuf,
    serve: Option<u64>,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        steps: 2000,
        pairs: 15,
        unpinned_pairs: 7,
        core: 0,
        callplan: PathBuf::from(env!("CARGO_BIN_EXE_callplan")),
        serve: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        let number = |name: &str, v: String| {
            v.parse::<usize>()
                .map_err(|_| format!("{name}: `{v}` is not a number"))
        };
        match arg.as_str() {
            "--steps" => args.steps = number("--steps", value("--steps")?)?.max(1),
            "--pairs" => args.pairs = number("--pairs", value("--pairs")?)?.max(1),
            "--unpinned-pairs" => {
                args.unpinned_pairs = number("--unpinned-pairs", value("--unpinned-pairs")?)?;
            }
            "--core" => args.core = number("--core", value("--core")?)?,
            "--callplan" => args.callplan = PathBuf::from(value("--callplan")?),
            "--serve" => args.serve = Some(number("--serve", value("--serve")?)? as u64),
            "--bench" => {} // `cargo bench` passes it
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let mut argv = std::env::args().skip(1);
    match argv.next().as_deref() {
        Some("--loop") => {
            let url = argv.next().expect("a URL");
            let steps = argv.next().and_then(|s| s.parse().ok()).expect("a count");
            plain_loop(&url, steps);
            return ExitCode::SUCCESS;
        }
        Some("--measure") => return measure(argv),
        _ => {}
    }
    match bench() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("run bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The plain loop: `steps` GETs, one after another over one keep-alive connection, each answer
/// read whole and parsed as JSON.
fn plain_loop(url: &str, steps: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    // reqwest is built without a crypto provider (as in callplan), and the loop reads no CA
    // certificates (as callplan does for a plan without HTTPS).
    callplan::provider::connection::install_crypto();
    let client = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only(Vec::new())
        .build()
        .expect("a client");
    runtime.block_on(async {
        for i in 0..steps {
            let response = client
                .get(format!("{url}/items/{i}"))
                .header("accept", "application/json")
                .send()
                .await
                .expect("an answer");
            assert_eq!(response.status(), 200);
            let bytes = response.bytes().await.expect("a body");
            let body: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
            assert!(body.get(FIELD).is_some(), "no `{FIELD}` in the answer");
        }
    });
}

/// The plan: one step, `for_each` over `steps` inline items, one at a time.
fn plan(url: &str, steps: usize) -> String {
    let items: Vec<String> = (0..steps).map(|i| i.to_string()).collect();
    format!(
        "version: 1
name: runner-overhead
description: {steps} sequential GETs of a small JSON document (benches/run.rs).
providers:
  nginx:
    type: http
    base_url: {url}
steps:
  - id: get
    provider: nginx
    action: request
    for_each: [{}]
    concurrency: 1
    with:
      method: GET
      path: \"/items/{{{{ item }}}}\"
    expect:
      - response.status == 200
      - response.body.{FIELD} is defined
",
        items.join(", ")
    )
}

/// The first of `names` found on the PATH or in the sbin folders (nginx lives in /usr/sbin,
/// which is not on every user's PATH).
fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.extend(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from));
    names.iter().find_map(|name| {
        let name = Path::new(name);
        if name.is_absolute() {
            return name.is_file().then(|| name.to_owned());
        }
        dirs.iter().map(|d| d.join(name)).find(|p| p.is_file())
    })
}

/// What the bench runs besides callplan.
struct Tools {
    nginx: PathBuf,
    taskset: PathBuf,
}

fn tools() -> Result<Tools, String> {
    let nginx = find_program(&["nginx"]).ok_or(
        "nginx is not installed (on Debian: apt-get install -y nginx); this bench measures \
         callplan against a plain loop on the same nginx",
    )?;
    let taskset = find_program(&["taskset"])
        .ok_or("taskset is not installed (on Debian: apt-get install -y util-linux)")?;
    Ok(Tools { nginx, taskset })
}

/// A free port on 127.0.0.1 (nginx binds it a moment later).
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| format!("cannot find a free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

/// An nginx of the bench's own, stopped (by its pid file) when dropped.
struct Nginx {
    child: Child,
    nginx: PathBuf,
    prefix: PathBuf,
    conf: PathBuf,
    error_log: PathBuf,
}

impl Nginx {
    /// Starts nginx on `port`, serving `www`, pinned to `core` if given; returns once it accepts
    /// connections.
    fn start(tools: &Tools, dir: &Path, port: u16, core: Option<usize>) -> Result<Nginx, String> {
        let prefix = dir.join("nginx");
        let temp = prefix.join("temp");
        std::fs::create_dir_all(&temp).map_err(|e| format!("{}: {e}", temp.display()))?;
        let conf = prefix.join("nginx.conf");
        let error_log = prefix.join("error.log");
        let www = dir.join("www");
        let temp = temp.display();
        // Every path is the bench's own (none of the system's configuration or logs is read or
        // written); the temp paths are set because a build's defaults may not be writable.
        let text = format!(
            "worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {error_log} warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    server_tokens off;
    keepalive_timeout 300s;
    keepalive_requests 1000000;
    types {{ application/json json; }}
    default_type application/json;
    open_file_cache max=16;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {www};
        location /items/ {{ try_files /item.json =404; }}
    }}
}}
",
            prefix = prefix.display(),
            error_log = error_log.display(),
            www = www.display(),
        );
        std::fs::write(&conf, text).map_err(|e| format!("{}: {e}", conf.display()))?;
        let mut command = pinned(&tools.taskset, core, &tools.nginx);
        command
            .arg("-p")
            .arg(&prefix)
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(&error_log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", tools.nginx.display()))?;
        let mut nginx = Nginx {
            child,
            nginx: tools.nginx.clone(),
            prefix,
            conf,
            error_log,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                return Ok(nginx);
            }
            if let Ok(Some(status)) = nginx.child.try_wait() {
                return Err(format!("nginx exited ({status}): {}", nginx.errors()));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "nginx did not accept connections within 10 s: {}",
                    nginx.errors()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn errors(&self) -> String {
        std::fs::read_to_string(&self.error_log).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // `nginx -s stop` signals the master named in this instance's pid file.
        let stopped = Command::new(&self.nginx)
            .arg("-p")
            .arg(&self.prefix)
            .arg("-c")
            .arg(&self.conf)
            .arg("-e")
            .arg(&self.error_log)
            .args(["-s", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !stopped {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// `program`, started through `taskset -c CORE` when `core` is given.
fn pinned(taskset: &Path, core: Option<usize>, program: &Path) -> Command {
    match core {
        Some(core) => {
            let mut command = Command::new(taskset);
            command.arg("-c").arg(core.to_string()).arg(program);
            command
        }
        None => Command::new(program),
    }
}

/// One timed run: wall time from spawn to exit, peak RSS and CPU time.
#[derive(Debug, Clone, Copy)]
struct Sample {
    wall: Duration,
    rss_kib: u64,
    cpu: Duration,
}

/// `--measure CORE PROGRAM ARGS…` (CORE a number, or `-` for none): runs PROGRAM pinned to CORE,
/// stdout to /dev/null, and prints `WALL_NS MAXRSS_KIB CPU_NS` of it; exits with its code.
///
/// The bench starts each run through this copy of itself rather than through `/usr/bin/time`
/// and `taskset`: pinning happens before the spawn (the program inherits the core), and peak
/// RSS and CPU time come from `getrusage(RUSAGE_CHILDREN)` of a process whose only child is the
/// program, so the timed span holds the program alone, not 1.5–2 ms of wrappers starting.
fn measure(mut argv: impl Iterator<Item = String>) -> ExitCode {
    use nix::sys::resource::{UsageWho, getrusage};
    let core = argv.next().expect("a core or `-`");
    let program = argv.next().expect("a program");
    if let Ok(core) = core.parse::<usize>() {
        let mut set = nix::sched::CpuSet::new();
        set.set(core).expect("a core of this machine");
        nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
            .expect("pinned to the core");
    }
    let mut command = Command::new(&program);
    command
        .args(argv)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let started = Instant::now();
    let status = command.status().expect("the program runs");
    let wall = started.elapsed();
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).expect("getrusage");
    let micros = |t: nix::sys::time::TimeVal| {
        u64::try_from(t.tv_sec()).unwrap_or(0) * 1_000_000 + u64::try_from(t.tv_usec()).unwrap_or(0)
    };
    let cpu = micros(usage.user_time()) + micros(usage.system_time());
    println!("{} {} {}", wall.as_nanos(), usage.max_rss(), cpu * 1000);
    match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    }
}

/// The two programs of a pair, started the same way.
struct Sides<'a> {
    dir: &'a Path,
    callplan: &'a Path,
    plan: &'a Path,
    url: &'a str,
    steps: usize,
}

#[derive(Debug, Clone, Copy)]
enum Side {
    Loop,
    Callplan,
}

impl Sides<'_> {
    /// Runs one side to its end (pinned to `core` when given), through `--measure`.
    fn run(&self, side: Side, core: Option<usize>) -> Result<Sample, String> {
        let err_file = self.dir.join("stderr");
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut command = Command::new(&exe);
        command
            .arg("--measure")
            .arg(core.map_or("-".to_owned(), |c| c.to_string()));
        match side {
            Side::Loop => {
                command
                    .arg(&exe)
                    .arg("--loop")
                    .arg(self.url)
                    .arg(self.steps.to_string());
            }
            Side::Callplan => {
                command.arg(self.callplan).arg("run").arg(self.plan);
            }
        }
        // Never through a proxy: every request stays on the loopback.
        for var in [
            "http_proxy",
            "HTTP_PROXY",
            "https_proxy",
            "HTTPS_PROXY",
            "all_proxy",
            "ALL_PROXY",
        ] {
            command.env_remove(var);
        }
        let stderr = std::fs::File::create(&err_file).map_err(|e| e.to_string())?;
        let output = command
            .stdin(Stdio::null())
            .stderr(stderr)
            .output()
            .map_err(|e| format!("cannot run {side:?}: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "{side:?} failed ({}):\n{}",
                output.status,
                std::fs::read_to_string(&err_file).unwrap_or_default()
            ));
        }
        let text = String::from_utf8_lossy(&output.stdout);
        let numbers: Vec<u64> = text
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        let [wall, rss_kib, cpu] = numbers[..] else {
            return Err(format!("unexpected measure output: {text}"));
        };
        Ok(Sample {
            wall: Duration::from_nanos(wall),
            rss_kib,
            cpu: Duration::from_nanos(cpu),
        })
    }

    /// A warm-up pair (not counted), then `pairs` interleaved pairs: loop, callplan, loop, …
    fn pairs(&self, pairs: usize, core: Option<usize>) -> Result<Vec<(Sample, Sample)>, String> {
        self.run(Side::Loop, core)?;
        self.run(Side::Callplan, core)?;
        let mut out = Vec::with_capacity(pairs);
        for _ in 0..pairs {
            let plain = self.run(Side::Loop, core)?;
            let callplan = self.run(Side::Callplan, core)?;
            out.push((plain, callplan));
        }
        Ok(out)
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The figures of a set of pairs: the median ratio and its spread, the medians of each side
/// (wall and CPU time), the peak RSS of each side.
fn summary(pairs: &[(Sample, Sample)], steps: usize) -> String {
    let ratios: Vec<f64> = pairs
        .iter()
        .map(|(p, c)| c.wall.as_secs_f64() / p.wall.as_secs_f64())
        .collect();
    let (lo, hi) = ratios
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
    let side = |f: fn(&(Sample, Sample)) -> Sample| {
        let samples: Vec<Sample> = pairs.iter().map(f).collect();
        let max_rss = samples.iter().map(|s| s.rss_kib).max().unwrap_or(0);
        (
            median(samples.iter().map(|s| ms(s.wall)).collect()),
            median(samples.iter().map(|s| ms(s.cpu)).collect()),
            median(samples.iter().map(|s| mib(s.rss_kib)).collect()),
            mib(max_rss),
        )
    };
    let (plain, plain_cpu, plain_rss, plain_rss_max) = side(|(p, _)| *p);
    let (callplan, callplan_cpu, callplan_rss, callplan_rss_max) = side(|(_, c)| *c);
    let per = |total_ms: f64| total_ms * 1000.0 / steps as f64;
    format!(
        "median ratio {:.2}x (pairs {lo:.2}-{hi:.2}x)
  wall: loop {plain:.1} ms ({:.1} µs/request), callplan {callplan:.1} ms ({:.1} µs/step), \
         +{:.1} µs per step
  CPU:  loop {plain_cpu:.1} ms, callplan {callplan_cpu:.1} ms, +{:.1} µs per step
  peak RSS: loop {plain_rss:.1} MiB (max {plain_rss_max:.1}), callplan {callplan_rss:.1} MiB \
         (max {callplan_rss_max:.1})",
        median(ratios),
        per(plain),
        per(callplan),
        per(callplan) - per(plain),
        per(callplan_cpu) - per(plain_cpu),
    )
}

fn table(pairs: &[(Sample, Sample)]) {
    println!(
        "pair   loop ms  callplan ms  ratio  loop CPU ms  callplan CPU ms  loop MiB  callplan MiB"
    );
    for (i, (p, c)) in pairs.iter().enumerate() {
        println!(
            "{:>4}  {:>8.1}  {:>11.1}  {:>4.2}x  {:>11.1}  {:>15.1}  {:>8.1}  {:>12.1}",
            i + 1,
            ms(p.wall),
            ms(c.wall),
            c.wall.as_secs_f64() / p.wall.as_secs_f64(),
            ms(p.cpu),
            ms(c.cpu),
            mib(p.rss_kib),
            mib(c.rss_kib),
        );
    }
}

fn bench() -> Result<(), String> {
    let args = args()?;
    let tools = tools()?;
    if !args.callplan.is_file() {
        return Err(format!("no callplan binary at {}", args.callplan.display()));
    }
    let dir = tempfile::tempdir().map_err(|e| format!("cannot make a temp dir: {e}"))?;
    // nginx's worker may run as another user: it must be able to read the document.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())?;
    }
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).map_err(|e| e.to_string())?;
    std::fs::write(www.join("item.json"), DOCUMENT).map_err(|e| e.to_string())?;
    let port = free_port()?;
    let url = format!("http://127.0.0.1:{port}");
    let plan_path = dir.path().join("overhead.yaml");
    std::fs::File::create(&plan_path)
        .and_then(|mut f| f.write_all(plan(&url, args.steps).as_bytes()))
        .map_err(|e| format!("cannot write the plan: {e}"))?;
    let version = Command::new(&tools.nginx)
        .arg("-v")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_owned())
        .unwrap_or_default();
    let sides = Sides {
        dir: dir.path(),
        callplan: &args.callplan,
        plan: &plan_path,
        url: &url,
        steps: args.steps,
    };

    if let Some(seconds) = args.serve {
        let _nginx = Nginx::start(&tools, dir.path(), port, Some(args.core))?;
        println!(
            "{version} on {url}, pinned to core {}, for {seconds} s",
            args.core
        );
        println!("plan: {}", plan_path.display());
        println!(
            "loop: taskset -c {} {} --loop {url} {}",
            args.core,
            std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            args.steps
        );
        println!(
            "callplan: taskset -c {} {} run {} > /dev/null",
            args.core,
            args.callplan.display(),
            plan_path.display()
        );
        std::thread::sleep(Duration::from_secs(seconds));
        return Ok(());
    }

    println!(
        "runner overhead: {} sequential GETs of a {}-byte JSON document, {version} on {url}",
        args.steps,
        DOCUMENT.len()
    );
    println!("callplan: {}", args.callplan.display());
    println!();
    println!(
        "pinned: nginx and each client on core {} (taskset), {} interleaved pairs after a \
         warm-up pair",
        args.core, args.pairs
    );
    let pinned = {
        let _nginx = Nginx::start(&tools, dir.path(), port, Some(args.core))?;
        sides.pairs(args.pairs, Some(args.core))?
    };
    table(&pinned);
    println!("pinned: {}", summary(&pinned, args.steps));
    if args.unpinned_pairs > 0 {
        let unpinned = {
            let _nginx = Nginx::start(&tools, dir.path(), port, None)?;
            sides.pairs(args.unpinned_pairs, None)?
        };
        println!();
        println!(
            "unpinned ({} pairs after a warm-up pair; swings with the machine's load): {}",
            args.unpinned_pairs,
            summary(&unpinned, args.steps)
        );
    }
    Ok(())
}
