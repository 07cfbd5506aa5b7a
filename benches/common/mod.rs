//! Helpers shared by the benches: medians, installing a load tool from
//! Debian's packages, and running wrk. Loopback ports, `/proc`, waiting for
//! a server, the HTTP client and the tmux session are the tests' own, from
//! `tests/common` (std and serde_json only), so that each exists once.

#![allow(dead_code, unused_imports)]

#[path = "../../tests/common/client.rs"]
pub mod client;
#[path = "../../tests/common/tmux.rs"]
pub mod tmux;
#[path = "../../tests/common/tools.rs"]
pub mod tools;
#[path = "../../tests/common/wait.rs"]
pub mod wait;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

pub use tools::{free_port, proc_status};
pub use wait::wait_for_listener;

/// Longest any single transfer or wrk run may take beyond its own bound.
pub const GRACE: Duration = Duration::from_secs(60);

/// `serve`'s configuration as its command line gives it: its defaults,
/// changed by `flags`.
pub fn serve_config(flags: &[&str]) -> wfhook::http::Config {
    let args = ["serve"].iter().chain(flags).map(std::ffi::OsString::from).collect::<Vec<_>>();
    match wfhook::cli::parse(args, &|_| None) {
        Ok(wfhook::cli::Command::Serve(args)) => args.config,
        _ => panic!("serve's flags do not parse: {flags:?}"),
    }
}

/// A numeric setting from the environment.
pub fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The median of some measurements (the upper one of an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// True when `tool` runs (`probe` is an argument it answers quickly),
/// installing Debian's `package` first when it is missing.
pub fn ensure_tool(tool: &str, probe: &str, package: &str) -> bool {
    let runs = || Command::new(tool).arg(probe).output().is_ok();
    if runs() {
        return true;
    }
    eprintln!("{tool} is missing: installing {package} from Debian's packages");
    let ok = |c: &mut Command| {
        c.env("DEBIAN_FRONTEND", "noninteractive").stdout(Stdio::null()).status().is_ok_and(|s| s.success())
    };
    ok(Command::new("apt-get").arg("update").arg("-qq"))
        && ok(Command::new("apt-get").args(["install", "-y", "-qq", package]))
        && runs()
}

// ---------------------------------------------------------------- wrk

#[derive(Clone, Debug, Default)]
pub struct Wrk {
    pub rps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub requests: u64,
    /// Non-2xx answers plus socket errors: a run with any is not a result.
    pub bad: u64,
    /// Of those, requests unanswered after wrk's `--timeout` (2 s): wrk
    /// leaves them out of its latencies, so a run with any understates p99.
    pub timeouts: u64,
    /// The server's threads halfway through: fewer than the connections
    /// plus the workers means some connection had no thread (was starved).
    pub threads: u64,
}

/// Runs wrk for `secs` against `url` and parses what it prints.
pub fn wrk(url: &str, headers: &[(&str, &str)], conns: u64, threads: u64, secs: u64) -> Wrk {
    let out = run_wrk(url, headers, conns, threads, secs);
    parse_wrk(&out).unwrap_or_else(|| panic!("cannot read wrk's output:\n{out}"))
}

/// [`wrk`] for a server that may answer nothing at all (an old build with
/// every worker stuck): such a run is a result too, 0 req/s with NaN
/// latencies and its timeouts counted in `bad`, not a panic.
pub fn wrk_or_nothing(url: &str, headers: &[(&str, &str)], conns: u64, threads: u64, secs: u64) -> Wrk {
    let out = run_wrk(url, headers, conns, threads, secs);
    parse_wrk(&out).unwrap_or_else(|| {
        let w = read_wrk(&out);
        assert!(out.contains(" requests in "), "cannot read wrk's output:\n{out}");
        Wrk { rps: 0.0, p50_us: f64::NAN, p99_us: f64::NAN, ..w }
    })
}

fn run_wrk(url: &str, headers: &[(&str, &str)], conns: u64, threads: u64, secs: u64) -> String {
    let mut cmd = Command::new("wrk");
    cmd.args([&format!("-t{threads}"), &format!("-c{conns}"), &format!("-d{secs}s"), "--timeout", "2s", "--latency"]);
    for (k, v) in headers {
        cmd.args(["-H", &format!("{k}: {v}")]);
    }
    run_bounded(cmd.arg(url), Duration::from_secs(secs) + GRACE)
}

/// Runs a command to its end, killing it past `limit`; returns its stdout.
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> String {
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    if wait::poll_within(limit, || child.try_wait().unwrap()).is_none() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{cmd:?} ran past {limit:?}");
    }
    reader.join().unwrap()
}

/// `129.00us`, `1.23ms`, `2.00s` in microseconds.
fn parse_duration_us(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (n, unit) = s.split_at(split);
    let n: f64 = n.parse().ok()?;
    let scale = match unit {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 60e6,
        _ => return None,
    };
    Some(n * scale)
}

/// What wrk printed; `None` unless it timed some answers.
pub fn parse_wrk(out: &str) -> Option<Wrk> {
    let w = read_wrk(out);
    (w.rps > 0.0 && w.p99_us > 0.0 && w.p50_us.is_finite()).then_some(w)
}

/// Every figure wrk printed that parses; the rest stay 0.
fn read_wrk(out: &str) -> Wrk {
    let mut w = Wrk::default();
    for line in out.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            w.rps = v.trim().parse().unwrap_or(0.0);
        } else if let Some(v) = line.strip_prefix("50%") {
            w.p50_us = parse_duration_us(v).unwrap_or(f64::NAN);
        } else if let Some(v) = line.strip_prefix("99%") {
            w.p99_us = parse_duration_us(v).unwrap_or(f64::NAN);
        } else if let Some((n, _)) = line.split_once(" requests in ") {
            w.requests = n.trim().parse().unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            w.bad += v.trim().parse::<u64>().unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            w.bad += v.split(',').filter_map(|p| p.split_whitespace().nth(1)?.parse::<u64>().ok()).sum::<u64>();
            w.timeouts = v.split(',').find_map(|p| p.trim().strip_prefix("timeout ")?.trim().parse().ok()).unwrap_or(0);
        }
    }
    w
}
