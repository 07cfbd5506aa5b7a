//! Throughput of `serve` with and without `--tui`, under the same load, in
//! one run: prints requests/s of each and their ratio (target ≥ 0.95).
//!
//! The load is `GET /customAction?name=ping` from keep-alive connections on
//! loopback, bounded in time. The dashboard runs in a detached tmux session
//! (installed from Debian's packages where missing) so it has a real
//! terminal to draw on; the headless server runs in one too, so that both
//! get the same share of the CPU (see `start`). Rounds alternate between
//! the two modes, and the median of each is compared, because these
//! machines are noisy.
//!
//! `cargo bench --bench tui_overhead` (env: BENCH_SECS, BENCH_ROUNDS, BENCH_CONNS)

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const KEY: &str = "bench-key";

/// Reads one HTTP response with a Content-Length body; false on EOF.
fn read_response(r: &mut BufReader<TcpStream>) -> bool {
    let mut len = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return false;
        }
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).is_ok()
}

/// Requests per second over `secs`, from `conns` keep-alive connections.
fn load(addr: SocketAddr, conns: u64, secs: u64) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let request = format!(
        "GET /customAction?name=ping HTTP/1.1\r\nHost: {addr}\r\napiKey: {KEY}\r\nusername: bench@example.com\r\n\r\n"
    );
    let threads: Vec<_> = (0..conns)
        .map(|_| {
            let (done, stop, request) = (Arc::clone(&done), Arc::clone(&stop), request.clone());
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                s.set_nodelay(true).unwrap();
                let mut r = BufReader::new(s.try_clone().unwrap());
                while !stop.load(Ordering::Relaxed) {
                    if s.write_all(request.as_bytes()).is_err() || !read_response(&mut r) {
                        break;
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    // Warm up, then count.
    std::thread::sleep(Duration::from_millis(500));
    let start_count = done.load(Ordering::Relaxed);
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let n = done.load(Ordering::Relaxed) - start_count;
    let rate = n as f64 / start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    rate
}

struct Tmux(String);

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["kill-session", "-t", &self.0]).status();
    }
}

/// Starts `serve` in a detached tmux session, with the dashboard or
/// headless. Both modes start the same way on purpose: a tmux pane is a
/// session of its own, and with the kernel's scheduler autogroups a
/// session gets its own share of the CPU. A headless server started
/// straight from the bench would share the bench's session with the load
/// threads and get a different share, so the ratio would measure the
/// scheduler rather than the dashboard.
fn start(root: &std::path::Path, tag: &str, round: u64, tui: bool) -> (Tmux, SocketAddr) {
    let port = common::free_port();
    let session = format!("wfhook-bench-{}-{tag}-{round}", std::process::id());
    let mut cmd = format!(
        "exec {} serve --listen 127.0.0.1:{port} --admin-listen off --root '{}'",
        env!("CARGO_BIN_EXE_wfhook"),
        root.display()
    );
    // Headless, the logs go where a service's would not slow it: nowhere.
    cmd.push_str(if tui { " --tui" } else { " 2>/dev/null" });
    let status = Command::new("tmux")
        .args(["new-session", "-d", "-s", &session, "-x", "160", "-y", "48", "-e", &format!("WFHOOK_API_KEY={KEY}")])
        .arg(cmd)
        .status()
        .expect("tmux runs");
    assert!(status.success(), "tmux could not start the server");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    common::wait_for(addr);
    (Tmux(session), addr)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing
    // and must not spend minutes here.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let (secs, rounds, conns) =
        (common::env_num("BENCH_SECS", 4), common::env_num("BENCH_ROUNDS", 5), common::env_num("BENCH_CONNS", 16));
    if !common::ensure_tool("tmux", "-V", "tmux") {
        eprintln!("tui_overhead: tmux is not available, nothing measured");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (mut plain, mut tui) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let root = tmp.path().join(format!("plain-{round}"));
        let (server, addr) = start(&root, "plain", round, false);
        plain.push(load(addr, conns, secs));
        drop(server);
        let root = tmp.path().join(format!("tui-{round}"));
        let (_session, addr) = start(&root, "tui", round, true);
        tui.push(load(addr, conns, secs));
        println!(
            "round {round}: serve {:>9.0} req/s   serve --tui {:>9.0} req/s",
            plain[round as usize], tui[round as usize]
        );
    }
    let (p, t) = (common::median(plain), common::median(tui));
    println!("median: serve {p:.0} req/s, serve --tui {t:.0} req/s");
    println!(
        "ratio serve --tui / serve = {:.3} (target >= 0.95), {conns} connections, {secs} s x {rounds} rounds",
        t / p
    );
}
