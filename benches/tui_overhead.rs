//! Throughput of `serve` with and without `--tui`, under the same load, in
//! one run: prints requests/s of each and their ratio (target ≥ 0.95), and
//! the ratio of the server's CPU time per request, which this machine's
//! noise moves less.
//!
//! The load is `GET /customAction?name=ping` from wrk's keep-alive
//! connections on loopback, bounded in time. wrk is the `load` bench's load
//! generator too; a client of a thread per connection would spend much of
//! this small machine's CPU itself, and the ratio would measure how the
//! scheduler splits the CPU between client and server more than the
//! dashboard. The dashboard runs in a detached tmux session (installed
//! from Debian's packages where missing) so it has a real terminal to draw
//! on; the headless server runs in one too, so that both
//! get the same share of the CPU (see `start`). Rounds alternate between
//! the two modes, and the median of each is compared, because these
//! machines are noisy.
//!
//! `cargo bench --bench tui_overhead` (env: BENCH_SECS, BENCH_ROUNDS, BENCH_CONNS,
//! and RUST_LOG, passed on to both servers)

mod common;

use std::net::SocketAddr;

use common::tmux::Tmux;

const KEY: &str = "bench-key";

/// What one run measured.
struct Run {
    rps: f64,
    /// The server's CPU time (user + system, in clock ticks) per request:
    /// a second view that the machine's noise moves less than throughput.
    cpu_per_request: f64,
}

/// CPU time a process has used so far, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which may hold spaces: utime and
    // stime are the 12th and 13th.
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    rest.split_whitespace().skip(11).take(2).filter_map(|v| v.parse::<u64>().ok()).sum()
}

/// `conns` keep-alive connections for `secs`, after a one-second warm-up.
/// Every answer must be a 200: a request that failed would measure the
/// failure path.
fn load(addr: SocketAddr, pid: u32, conns: u64, secs: u64) -> Run {
    let url = format!("http://{addr}/customAction?name=ping");
    let headers = [("apiKey", KEY), ("username", "bench@example.com")];
    common::wrk(&url, &headers, conns, 2, 1);
    let before = cpu_ticks(pid);
    let w = common::wrk(&url, &headers, conns, 2, secs);
    let cpu = cpu_ticks(pid) - before;
    assert_eq!(w.bad, 0, "wrk saw errors or non-2xx answers: {w:?}");
    Run { rps: w.rps, cpu_per_request: cpu as f64 / w.requests.max(1) as f64 }
}

/// Starts `serve` in a detached tmux session, with the dashboard or
/// headless. Both modes start the same way on purpose: a tmux pane is a
/// session of its own, and with the kernel's scheduler autogroups a
/// session gets its own share of the CPU. A headless server started
/// straight from the bench would share the bench's session with the load
/// threads and get a different share, so the ratio would measure the
/// scheduler rather than the dashboard.
fn start(root: &std::path::Path, tui: bool) -> (Tmux, SocketAddr) {
    let port = common::free_port();
    let mut cmd = format!(
        "exec {} serve --listen 127.0.0.1:{port} --admin-listen off --root '{}'",
        env!("CARGO_BIN_EXE_wfhook"),
        root.display()
    );
    // Headless, the logs go where a service's would not slow it: nowhere.
    cmd.push_str(if tui { " --tui" } else { " 2>/dev/null" });
    // tmux gives a session its server's environment, not ours: pass RUST_LOG
    // on, so that e.g. `RUST_LOG=info,wfhook::access=warn` spares both modes
    // the access lines (only the headless one writes them by default).
    let filter = std::env::var("RUST_LOG").ok();
    let mut env = vec![("WFHOOK_API_KEY", KEY)];
    env.extend(filter.as_deref().map(|f| ("RUST_LOG", f)));
    let tmux = Tmux::start(&cmd, &env, (160, 48));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    common::wait_for_listener(addr);
    (tmux, addr)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing
    // and must not spend minutes here.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let (secs, rounds, conns) =
        (common::env_num("BENCH_SECS", 4), common::env_num("BENCH_ROUNDS", 5), common::env_num("BENCH_CONNS", 16));
    if !common::ensure_tool("tmux", "-V", "tmux") || !common::ensure_tool("wrk", "--version", "wrk") {
        eprintln!("tui_overhead: tmux or wrk is not available, nothing measured");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (mut plain, mut tui) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        for (mode, runs) in [("plain", &mut plain), ("tui", &mut tui)] {
            let root = tmp.path().join(format!("{mode}-{round}"));
            let (session, addr) = start(&root, mode == "tui");
            runs.push(load(addr, session.pid(), conns, secs));
        }
        let (p, t) = (&plain[round as usize], &tui[round as usize]);
        println!(
            "round {round}: serve {:>9.0} req/s   serve --tui {:>9.0} req/s   ratio {:.3}   CPU per request ratio {:.3}",
            p.rps,
            t.rps,
            t.rps / p.rps,
            t.cpu_per_request / p.cpu_per_request
        );
    }
    let median = |runs: &[Run], f: fn(&Run) -> f64| common::median(runs.iter().map(f).collect());
    let (p, t) = (median(&plain, |r| r.rps), median(&tui, |r| r.rps));
    let (pc, tc) = (median(&plain, |r| r.cpu_per_request), median(&tui, |r| r.cpu_per_request));
    println!("median: serve {p:.0} req/s, serve --tui {t:.0} req/s");
    println!(
        "ratio serve --tui / serve = {:.3} (target >= 0.95), {conns} connections, {secs} s x {rounds} rounds",
        t / p
    );
    println!("server CPU per request, serve --tui / serve = {:.3} (lower is better; 1 is free)", tc / pc);
}
