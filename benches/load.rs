//! Load benchmark: wfhook's release binary against its ceilings, side by
//! side, in one run, under the same load generator (wrk).
//!
//! 1. A bare tiny_http hello-world with wfhook's default worker count, as a
//!    child process shaped like wfhook (N workers calling `recv`): the
//!    ceiling for requests on this stack.
//! 2. `GET /customAction?name=ping` with a valid key.
//! 3. `GET /serviceInfo` and `GET /metadata` on a file.
//! 4. `download` and `upload` of a 256 MiB file in MB/s (10^6 bytes/s),
//!    against `cat FILE > /dev/null` as the disk ceiling. Nothing is dropped
//!    from the page cache: the file was just written, so `cat`, the download
//!    and the upload's source all read it from memory; the ceiling is the
//!    page-cache read rate of this machine. An upload also syncs its bytes
//!    to the disk before it answers.
//!
//! A third figure puts the download in context: the same file sent over
//! loopback TCP by `std::io::copy` (sendfile) with no HTTP server at all.
//!
//! It also reports the server's peak RSS (VmHWM) under load and its VmRSS
//! sampled every 10 ms while 1 GiB streams in either direction.
//!
//! tiny_http serves each connection on a thread of its own: the bench
//! checks the server's thread count halfway through every run, and counts
//! the runs in which some connection had no thread (was never served: wrk
//! only times the answers it gets, so it cannot see such a connection).
//!
//! Everything runs on loopback and every step is bounded in time. Rounds
//! alternate between the cases and medians are reported, because the
//! machine is shared and noisy. wrk is installed from Debian's packages when
//! it is missing.
//!
//! `cargo bench --bench load`; environment: BENCH_SECS (5, per wrk run),
//! BENCH_ROUNDS (3), BENCH_CONNS (32), BENCH_WRK_THREADS (2), BENCH_FILE_MIB
//! (256), BENCH_STREAM_MIB (1024), BENCH_SKIP_STREAM=1 (requests only),
//! BENCH_SKIP_REQUESTS=1 (transfers only),
//! BENCH_RUST_LOG (info, wfhook's log filter).

mod common;

use common::client::{read_response, request};
use common::{GRACE, Wrk, wrk};

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const KEY: &str = "bench-key";
const USER: &str = "bench@example.com";
/// The hello-world child's answer.
const HELLO: &str = "Hello, world!\n";

/// The ceiling: tiny_http (the same build and the same connection limits as
/// wfhook's) with `workers` threads calling `recv`, each answering a
/// constant body. Runs until the bench kills it.
fn hello_server(port: u16, workers: usize) {
    let limits = common::serve_config(&[]).limits();
    let server = tiny_http::Server::http_with_limits(("127.0.0.1", port), limits).expect("the hello-world binds");
    let server = Arc::new(server);
    let threads: Vec<_> = (0..workers)
        .map(|_| {
            let server = Arc::clone(&server);
            std::thread::spawn(move || {
                while let Ok(rq) = server.recv() {
                    let _ = rq.respond(tiny_http::Response::from_string(HELLO));
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

/// A child process that is killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    name: &'static str,
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_hello(workers: usize) -> Server {
    let port = common::free_port();
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--hello-server", &port.to_string(), &workers.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("the bench binary starts itself as the hello-world");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    common::wait_for_listener(addr);
    Server { child, addr, name: "hello-world" }
}

/// wfhook with its defaults (the access log at `info` goes to a file, as
/// it would to a log file or journald in production; BENCH_RUST_LOG sets
/// another filter), no admin listener.
fn start_wfhook(root: &Path, log: &Path, workers: usize) -> Server {
    let port = common::free_port();
    let log = File::create(log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_wfhook"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--admin-listen", "off"])
        .args(["--workers", &workers.to_string(), "--root"])
        .arg(root)
        .env("WFHOOK_API_KEY", KEY)
        .env("RUST_LOG", std::env::var("BENCH_RUST_LOG").unwrap_or_else(|_| "info".into()))
        .env_remove("WFHOOK_LOG_FILE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("the wfhook binary starts");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    common::wait_for_listener(addr);
    Server { child, addr, name: "wfhook" }
}

// ---------------------------------------------------------------- /proc

/// A `kB` field of /proc/PID/status (`"VmRSS:"`) in bytes; 0 when gone.
fn proc_bytes(pid: u32, key: &str) -> u64 {
    common::proc_status(pid, key).map_or(0, |kib| kib * 1024)
}

/// Samples VmRSS every 10 ms until stopped.
struct RssSampler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Vec<u64>>,
}

impl RssSampler {
    fn start(pid: u32) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = std::thread::spawn(move || {
            let mut v = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                v.push(proc_bytes(pid, "VmRSS:"));
                std::thread::sleep(Duration::from_millis(10));
            }
            v
        });
        RssSampler { stop, handle }
    }

    fn finish(self) -> Vec<u64> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap()
    }
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

// ---------------------------------------------------------------- a tiny client

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(GRACE)).unwrap();
    s.set_write_timeout(Some(GRACE)).unwrap();
    s
}

fn head(method: &str, target: &str, addr: SocketAddr, extra: &str) -> String {
    format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\napiKey: {KEY}\r\nusername: {USER}\r\nConnection: close\r\n{extra}\r\n"
    )
}

/// Reads a status line and headers; returns (status, Content-Length).
fn read_head(r: &mut impl BufRead) -> (u16, Option<u64>) {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut len = None;
    loop {
        line.clear();
        if r.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().ok();
        }
    }
    (status, len)
}

/// The id of a file at the top of the root, by its title.
fn id_of(addr: SocketAddr, title: &str) -> String {
    let items = request(addr, "GET", "/files?parentId=%2F", &[("apiKey", KEY), ("username", USER)], b"").ok_json();
    items
        .as_array()
        .and_then(|a| a.iter().find(|i| i["title"] == title))
        .and_then(|i| i["id"].as_str())
        .unwrap_or_else(|| panic!("no {title} in the root"))
        .to_string()
}

/// Downloads `id` and discards the bytes; the time from request to last byte.
fn download(addr: SocketAddr, id: &str, expect: u64) -> Duration {
    let started = Instant::now();
    let mut s = connect(addr);
    s.write_all(head("GET", &format!("/download?id={id}"), addr, "").as_bytes()).unwrap();
    let mut r = BufReader::with_capacity(256 * 1024, s);
    let (status, len) = read_head(&mut r);
    assert_eq!((status, len), (200, Some(expect)), "download answered");
    let got = std::io::copy(&mut r.by_ref().take(expect), &mut std::io::sink()).unwrap();
    assert_eq!(got, expect, "the download ended early");
    started.elapsed()
}

/// Uploads the bytes of `source` as `id`; the time from request to answer.
fn upload(addr: SocketAddr, id: &str, source: &Path) -> Duration {
    let len = fs::metadata(source).unwrap().len();
    let mut file = File::open(source).unwrap();
    let started = Instant::now();
    let mut s = connect(addr);
    let extra = format!("Content-Type: application/octet-stream\r\nContent-Length: {len}\r\n");
    s.write_all(head("PUT", &format!("/upload?id={id}"), addr, &extra).as_bytes()).unwrap();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        s.write_all(&buf[..n]).unwrap();
    }
    let r = read_response(&mut BufReader::new(s), false);
    let elapsed = started.elapsed();
    assert_eq!(r.status, 200, "upload answered {}", r.text());
    elapsed
}

/// The server's thread count halfway through a run of `secs`.
fn threads_midway(pid: u32, secs: u64) -> JoinHandle<u64> {
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(secs * 500));
        common::proc_status(pid, "Threads:").unwrap_or(0)
    })
}

// ---------------------------------------------------------------- files

/// Writes `mib` MiB of pseudo-random bytes (nothing compresses or dedups).
fn make_file(path: &Path, mib: u64) {
    let mut f = std::io::BufWriter::with_capacity(1 << 20, File::create(path).unwrap());
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..mib {
        for chunk in block.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        f.write_all(&block).unwrap();
    }
    f.into_inner().unwrap().sync_all().unwrap();
}

/// The same bytes over loopback TCP with nothing in the way: a thread
/// sends the file with `std::io::copy` (`sendfile(2)` on Linux) and the
/// client reads as `download` does. The ceiling of any HTTP download here.
fn raw_tcp(path: &Path) -> Duration {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let path = path.to_path_buf();
    let len = fs::metadata(&path).unwrap().len();
    let sender = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        std::io::copy(&mut File::open(path).unwrap(), &mut s).unwrap();
    });
    let started = Instant::now();
    let mut r = BufReader::with_capacity(256 * 1024, connect(addr));
    let got = std::io::copy(&mut r.by_ref().take(len), &mut std::io::sink()).unwrap();
    let elapsed = started.elapsed();
    sender.join().unwrap();
    assert_eq!(got, len);
    elapsed
}

/// `cat FILE > /dev/null`: the disk (page cache) ceiling.
fn cat(path: &Path) -> Duration {
    let started = Instant::now();
    let status = Command::new("cat").arg(path).stdout(File::create("/dev/null").unwrap()).status().unwrap();
    assert!(status.success());
    started.elapsed()
}

fn mbps(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

// ---------------------------------------------------------------- the run

struct Case {
    name: &'static str,
    target: String,
    runs: Vec<Wrk>,
}

/// Everything one run shares.
struct Run {
    secs: u64,
    rounds: u64,
    conns: u64,
    threads: u64,
    workers: usize,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--hello-server") {
        let port = args[2].parse().expect("a port");
        let workers = args[3].parse().expect("a worker count");
        hello_server(port, workers);
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing
    // and must not spend minutes here.
    if !args.iter().any(|a| a == "--bench") {
        return;
    }
    let run = Run {
        secs: common::env_num("BENCH_SECS", 5),
        rounds: common::env_num("BENCH_ROUNDS", 3).max(1),
        conns: common::env_num("BENCH_CONNS", 32),
        threads: common::env_num("BENCH_WRK_THREADS", 2),
        workers: common::serve_config(&[]).workers,
    };
    let file_mib = common::env_num("BENCH_FILE_MIB", 256);
    let stream_mib = common::env_num("BENCH_STREAM_MIB", 1024);
    let skip_requests = common::env_num("BENCH_SKIP_REQUESTS", 0) == 1;
    let skip_stream = common::env_num("BENCH_SKIP_STREAM", 0) == 1;
    if !common::ensure_tool("wrk", "--version", "wrk") {
        eprintln!("load: wrk is not available, nothing measured");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    fs::create_dir_all(&root).unwrap();
    fs::write(root.join("small.txt"), "a small file for metadata\n").unwrap();
    File::create(root.join("target.bin")).unwrap();
    if !skip_stream {
        eprintln!("load: writing {file_mib} MiB and {stream_mib} MiB test files");
        make_file(&root.join("big.bin"), file_mib);
        make_file(&root.join("huge.bin"), stream_mib);
    }
    let load = Command::new("uptime").output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    println!("load: machine before the run: {}", load.unwrap_or_default().trim());
    let server = start_wfhook(&root, &tmp.path().join("wfhook.log"), run.workers);
    let mut summary = Vec::new();
    if !skip_requests {
        summary.extend(requests(&run, &server));
    }
    if !skip_stream {
        summary.extend(streaming(&run, &server, &root, stream_mib));
    }
    drop(server);
    println!();
    println!("== targets");
    for line in summary {
        println!("{line}");
    }
}

/// The request cases against the hello-world; returns the summary lines.
fn requests(run: &Run, server: &Server) -> Vec<String> {
    let &Run { secs, rounds, conns, threads, workers } = run;
    let hello = start_hello(workers);
    let pid = server.pid();
    let small = id_of(server.addr, "small.txt");
    let url = |s: &Server, target: &str| format!("http://{}{target}", s.addr);
    let auth = [("apiKey", KEY), ("username", USER)];
    let mut cases = [
        Case { name: "hello-world (ceiling)", target: "/".into(), runs: Vec::new() },
        Case { name: "customAction ping", target: "/customAction?name=ping".into(), runs: Vec::new() },
        Case { name: "serviceInfo", target: "/serviceInfo".into(), runs: Vec::new() },
        Case { name: "metadata (file)", target: format!("/metadata?id={small}"), runs: Vec::new() },
    ];
    println!(
        "load: wrk -t{threads} -c{conns} -d{secs}s --timeout 2s --latency, {rounds} rounds alternating, \
         {workers} workers on both servers"
    );
    // Warm both servers up (page cache, thread pools, allocator).
    for (i, c) in cases.iter().enumerate() {
        let s = if i == 0 { &hello } else { server };
        wrk(&url(s, &c.target), &auth, conns, threads, 1);
    }
    let rss_during_load = RssSampler::start(pid);
    for round in 0..rounds {
        // Alternate the order so that drift in the machine's load hits
        // every case alike.
        let order: Vec<usize> =
            if round % 2 == 0 { (0..cases.len()).collect() } else { (0..cases.len()).rev().collect() };
        for i in order {
            let s = if i == 0 { &hello } else { server };
            let midway = threads_midway(s.pid(), secs);
            let mut w = wrk(&url(s, &cases[i].target), &auth, conns, threads, secs);
            w.threads = midway.join().unwrap();
            println!(
                "round {round}: {:<22} {:>9.0} req/s  p50 {:>7.0} us  p99 {:>7.0} us  ({} requests, {} bad, {} threads) [{}]",
                cases[i].name, w.rps, w.p50_us, w.p99_us, w.requests, w.bad, w.threads, s.name
            );
            cases[i].runs.push(w);
        }
    }
    let rss_samples = rss_during_load.finish();
    let hwm_load = proc_bytes(pid, "VmHWM:");
    drop(hello);

    println!();
    println!("== requests: median of {rounds} rounds; ratio = req/s / hello-world req/s");
    println!("{:<24} {:>9} {:>7} {:>9} {:>9}", "case", "req/s", "ratio", "p50 us", "p99 us");
    let med = |c: &Case, f: fn(&Wrk) -> f64| common::median(c.runs.iter().map(f).collect());
    let ceiling = med(&cases[0], |w| w.rps);
    for c in &cases {
        println!(
            "{:<24} {:>9.0} {:>7.3} {:>9.0} {:>9.0}",
            c.name,
            med(c, |w| w.rps),
            med(c, |w| w.rps) / ceiling,
            med(c, |w| w.p50_us),
            med(c, |w| w.p99_us)
        );
    }
    let bad: u64 = cases.iter().flat_map(|c| &c.runs).map(|w| w.bad).sum();
    println!("non-2xx answers and socket errors over all runs: {bad}");
    let starved = cases.iter().flat_map(|c| &c.runs).filter(|w| w.threads < conns + workers as u64).count();
    println!("runs in which some connection had no thread (threads < {conns} + {workers}): {starved}");
    println!(
        "wfhook VmRSS during the request load: max {:.1} MB ({} samples); VmHWM after it {:.1} MB",
        mb(rss_samples.iter().copied().max().unwrap_or(0)),
        rss_samples.len(),
        mb(hwm_load)
    );
    let ping_ratio = med(&cases[1], |w| w.rps) / ceiling;
    let ping_p99 = med(&cases[1], |w| w.p99_us);
    vec![
        format!("ping >= 0.85 of the hello-world ceiling: {ping_ratio:.3} ({})", verdict(ping_ratio >= 0.85)),
        format!(
            "p99 <= 2 ms at {conns} connections (ping): {:.2} ms ({}; the hello-world's own: {:.2} ms)",
            ping_p99 / 1000.0,
            verdict(ping_p99 <= 2000.0),
            med(&cases[0], |w| w.p99_us) / 1000.0
        ),
        format!("peak RSS under load <= 32 MB: {:.1} MB ({})", mb(hwm_load), verdict(hwm_load <= 32_000_000)),
    ]
}

/// Downloads and uploads against `cat`, then the RSS while streaming.
fn streaming(run: &Run, server: &Server, root: &Path, stream_mib: u64) -> Vec<String> {
    let (rounds, pid) = (run.rounds, server.pid());
    let (big, huge) = (root.join("big.bin"), root.join("huge.bin"));
    let big_len = fs::metadata(&big).unwrap().len();
    let huge_len = fs::metadata(&huge).unwrap().len();
    let big_id = id_of(server.addr, "big.bin");
    let huge_id = id_of(server.addr, "huge.bin");
    let target_id = id_of(server.addr, "target.bin");
    let (mut c, mut t, mut d, mut u) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    println!();
    for round in 0..rounds {
        let cat_t = mbps(big_len, cat(&big));
        let tcp_t = mbps(big_len, raw_tcp(&big));
        let down_t = mbps(big_len, download(server.addr, &big_id, big_len));
        let up_t = mbps(big_len, upload(server.addr, &target_id, &big));
        println!(
            "round {round}: cat {cat_t:>7.0} MB/s   raw TCP {tcp_t:>7.0} MB/s   download {down_t:>7.0} MB/s   \
             upload {up_t:>7.0} MB/s"
        );
        c.push(cat_t);
        t.push(tcp_t);
        d.push(down_t);
        u.push(up_t);
    }
    let (c, t, d, u) = (common::median(c), common::median(t), common::median(d), common::median(u));
    println!(
        "== {} MiB file: median of {rounds} rounds; ratio = MB/s / cat MB/s (page cache, nothing dropped)",
        big_len >> 20
    );
    println!("{:<30} {:>9} {:>7}", "case", "MB/s", "ratio");
    println!("{:<30} {:>9.0} {:>7.3}", "cat > /dev/null (ceiling)", c, 1.0);
    println!("{:<30} {:>9.0} {:>7.3}   (std::io::copy File -> TcpStream)", "raw loopback TCP", t, t / c);
    println!("{:<30} {:>9.0} {:>7.3}   ({:.3} of raw TCP)", "download", d, d / c, d / t);
    println!("{:<30} {:>9.0} {:>7.3}   (includes SHA-256 and fsync)", "upload", u, u / c);
    let mut summary = vec![format!("download >= 0.5 of the disk ceiling: {:.3} ({})", d / c, verdict(d / c >= 0.5))];

    // 1 GiB in either direction, with VmRSS sampled throughout.
    println!();
    println!("== streaming {stream_mib} MiB; VmRSS sampled every 10 ms");
    let mut flat = true;
    for dir in ["download", "upload"] {
        let before = proc_bytes(pid, "VmRSS:");
        let sampler = RssSampler::start(pid);
        let t = if dir == "download" {
            download(server.addr, &huge_id, huge_len)
        } else {
            upload(server.addr, &target_id, &huge)
        };
        let samples = sampler.finish();
        let max = samples.iter().copied().max().unwrap_or(0);
        let min = samples.iter().copied().min().unwrap_or(0);
        let growth = max.saturating_sub(before);
        // Flat: the transfer costs no more than a few buffers, whatever its size.
        flat &= growth <= 4_000_000;
        println!(
            "{dir:<8} {:>7.0} MB/s  VmRSS before {:.1} MB, during {:.1}..{:.1} MB ({} samples), growth {:.1} MB",
            mbps(huge_len, t),
            mb(before),
            mb(min),
            mb(max),
            samples.len(),
            mb(growth)
        );
    }
    let hwm = proc_bytes(pid, "VmHWM:");
    println!("wfhook VmHWM after everything: {:.1} MB", mb(hwm));
    summary.push(format!("RSS flat while streaming {stream_mib} MiB both ways (growth <= 4 MB): {}", verdict(flat)));
    summary.push(format!("peak RSS over the whole run <= 32 MB: {:.1} MB ({})", mb(hwm), verdict(hwm <= 32_000_000)));
    summary
}
