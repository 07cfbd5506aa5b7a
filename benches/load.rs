//! Load benchmark: wfhook's release binary against its ceilings, side by
//! side, in one run, under the same load generator (wrk).
//!
//! 1. A bare tiny_http hello-world with wfhook's default worker count, as a
//!    child process shaped like wfhook (N workers calling `recv`): the
//!    ceiling for requests on this stack (the vendored tiny_http).
//! 2. Two anchors outside the project: the same hello-world on the
//!    unpatched tiny_http 0.12.0 from crates.io, and nginx answering a
//!    fixed `return 200` with one worker and no access log (skipped when
//!    nginx is not installed).
//! 3. `GET /customAction?name=ping` with a valid key.
//! 4. `GET /serviceInfo` and `GET /metadata` on a file.
//! 5. `ping` while 512 downloads are stalled: a second wfhook (the minimum
//!    transfer rate off, so that the stalled readers stay for the whole
//!    run) alternates rounds of plain `ping` with rounds in which 512
//!    clients, each with a 4 KiB receive buffer, have asked for a 128 MiB
//!    download and read nothing.
//! 6. `download` and `upload` of a 256 MiB file in MB/s (10^6 bytes/s),
//!    against `cat FILE > /dev/null` as the disk ceiling, and the download
//!    against nginx serving the same file with `sendfile on`. Nothing is
//!    dropped from the page cache: the file was just written, so `cat`, the
//!    downloads and the upload's source all read it from memory; the
//!    ceiling is the page-cache read rate of this machine. An upload also
//!    syncs its bytes to the disk before it answers.
//!
//! A third figure puts the download in context: the same file sent over
//! loopback TCP by `std::io::copy` (sendfile) with no HTTP server at all.
//!
//! It also reports the server's peak RSS (VmHWM) under load and its VmRSS
//! sampled every 10 ms while 1 GiB streams in either direction.
//!
//! Servers that hold a thread per connection (the upstream tiny_http, and
//! wfhook before its readiness loop) are checked for starved connections:
//! the bench reads their thread count halfway through every run and counts
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
//! (256), BENCH_STREAM_MIB (1024), BENCH_STALLED (512), BENCH_SKIP_STREAM=1
//! (no transfers), BENCH_SKIP_REQUESTS=1 (no request cases),
//! BENCH_SKIP_STALLED=1 (no stalled downloads), BENCH_RUST_LOG (info,
//! wfhook's log filter), BENCH_WFHOOK_BIN (another wfhook binary to measure,
//! such as an older commit's release build; default: this tree's).

mod common;

use common::client::{read_response, request};
use common::{GRACE, Wrk, wrk_or_nothing};

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const KEY: &str = "bench-key";
const USER: &str = "bench@example.com";
/// The hello-world children's answer, and nginx's.
const HELLO: &str = "Hello, world!\n";

/// `workers` threads calling `recv` on `$server`, each answering
/// [`HELLO`] with `$response`; runs until the bench kills the process.
macro_rules! serve_hello {
    ($server:expr, $response:path, $workers:expr) => {{
        let server = Arc::new($server);
        let threads: Vec<_> = (0..$workers)
            .map(|_| {
                let server = Arc::clone(&server);
                std::thread::spawn(move || {
                    while let Ok(rq) = server.recv() {
                        let _ = rq.respond($response(HELLO));
                    }
                })
            })
            .collect();
        for t in threads {
            let _ = t.join();
        }
    }};
}

/// The ceiling: tiny_http (the same build and the same connection limits as
/// wfhook's) with `workers` threads calling `recv`, each answering a
/// constant body. Runs until the bench kills it.
fn hello_server(port: u16, workers: usize) {
    let limits = common::serve_config(&[]).limits();
    let server = tiny_http::Server::http_with_limits(("127.0.0.1", port), limits).expect("the hello-world binds");
    serve_hello!(server, tiny_http::Response::from_string, workers);
}

/// The same hello-world on tiny_http 0.12.0 as crates.io has it (none of
/// wfhook's patches, a thread per connection, no limits to set).
fn hello_upstream(port: u16, workers: usize) {
    let server = tiny_http_upstream::Server::http(("127.0.0.1", port)).expect("the upstream hello-world binds");
    serve_hello!(server, tiny_http_upstream::Response::from_string, workers);
}

/// A child process that is killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    name: &'static str,
    /// It holds a thread per open connection, so a connection without one
    /// was never served.
    thread_per_connection: bool,
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

/// The bench binary itself as a hello-world (`--hello-server` or
/// `--hello-upstream`).
fn start_hello(mode: &str, workers: usize) -> Server {
    let port = common::free_port();
    let child = Command::new(std::env::current_exe().unwrap())
        .args([mode, &port.to_string(), &workers.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("the bench binary starts itself as a hello-world");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    common::wait_for_listener(addr);
    let upstream = mode == "--hello-upstream";
    Server { child, addr, name: if upstream { "upstream" } else { "hello-world" }, thread_per_connection: upstream }
}

/// The wfhook binary under test and what it knows.
struct Wfhook {
    bin: PathBuf,
    /// It has the readiness loop (and with it `--min-transfer-rate` and
    /// `--max-connections-per-client`); without, it holds a thread per
    /// connection.
    reactor: bool,
}

impl Wfhook {
    /// BENCH_WFHOOK_BIN, or this tree's release binary.
    fn find() -> Wfhook {
        let bin =
            std::env::var_os("BENCH_WFHOOK_BIN").map_or_else(|| env!("CARGO_BIN_EXE_wfhook").into(), PathBuf::from);
        let help = Command::new(&bin).args(["serve", "--help"]).output().expect("the wfhook binary runs");
        let help = String::from_utf8_lossy(&help.stdout).into_owned() + &String::from_utf8_lossy(&help.stderr);
        Wfhook { reactor: help.contains("--min-transfer-rate"), bin }
    }

    /// wfhook with its defaults changed by `flags` (the access log at `info`
    /// goes to a file, as it would to a log file or journald in production;
    /// BENCH_RUST_LOG sets another filter), no admin listener.
    fn start(&self, root: &Path, log: &Path, workers: usize, flags: &[&str]) -> Server {
        let port = common::free_port();
        let log = File::create(log).unwrap();
        let child = Command::new(&self.bin)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--admin-listen", "off"])
            .args(["--workers", &workers.to_string()])
            .args(flags)
            .arg("--root")
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
        Server { child, addr, name: "wfhook", thread_per_connection: !self.reactor }
    }
}

/// nginx on PATH or in the sbin folders a non-root PATH lacks.
fn find_nginx() -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join("nginx"))
        .find(|p| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// nginx from a prefix of its own in `dir`: one process (`master_process
/// off`, so nothing outlives the bench; that process is the one worker),
/// no access log, answering `GET /` with a fixed `return 200` and serving
/// the files of `files` under `/files/` with `sendfile on`. `None`, with
/// the reason printed, when nginx is missing or refuses the config.
fn start_nginx(dir: &Path, files: &Path) -> Option<Server> {
    let Some(nginx) = find_nginx() else {
        println!("load: nginx is not installed: the nginx anchors are skipped");
        return None;
    };
    fs::create_dir_all(dir).unwrap();
    let port = common::free_port();
    let d = dir.display();
    let conf = format!(
        "master_process off;\n\
         worker_processes 1;\n\
         daemon off;\n\
         pid \"{d}/nginx.pid\";\n\
         error_log \"{d}/error.log\" warn;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n\
         \x20   access_log off;\n\
         \x20   sendfile on;\n\
         \x20   client_body_temp_path \"{d}/client_body\";\n\
         \x20   proxy_temp_path \"{d}/proxy\";\n\
         \x20   fastcgi_temp_path \"{d}/fastcgi\";\n\
         \x20   uwsgi_temp_path \"{d}/uwsgi\";\n\
         \x20   scgi_temp_path \"{d}/scgi\";\n\
         \x20   server {{\n\
         \x20       listen 127.0.0.1:{port};\n\
         \x20       location = / {{ return 200 \"{}\"; }}\n\
         \x20       location /files/ {{ alias \"{}/\"; }}\n\
         \x20   }}\n\
         }}\n",
        HELLO.replace('\n', "\\n"),
        files.display()
    );
    let conf_path = dir.join("nginx.conf");
    fs::write(&conf_path, conf).unwrap();
    let command = || {
        let mut cmd = Command::new(&nginx);
        cmd.arg("-p").arg(dir).arg("-e").arg(dir.join("error.log")).arg("-c").arg(&conf_path);
        cmd.stdin(Stdio::null());
        cmd
    };
    let checked = command().arg("-t").output().expect("nginx -t runs");
    if !checked.status.success() {
        println!("load: nginx -t refused the config, the nginx anchors are skipped:");
        println!("{}", String::from_utf8_lossy(&checked.stderr));
        return None;
    }
    let child = command()
        .stdout(Stdio::null())
        .stderr(File::create(dir.join("stderr.log")).unwrap())
        .spawn()
        .expect("nginx starts");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    common::wait_for_listener(addr);
    Some(Server { child, addr, name: "nginx", thread_per_connection: false })
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

/// Downloads `target` (`/download?id=…` from wfhook, `/files/NAME` from
/// nginx) and discards the bytes; the time from request to last byte.
fn download(addr: SocketAddr, target: &str, expect: u64) -> Duration {
    let started = Instant::now();
    let mut s = connect(addr);
    s.write_all(head("GET", target, addr, "").as_bytes()).unwrap();
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

// ---------------------------------------------------------------- stalled downloads

/// Connections from one source address in the stalled case: half of
/// `serve`'s default `--max-connections-per-client` (128), so that the cap
/// refuses none of them and the server keeps its default cap.
const STALLED_PER_SOURCE: usize = 64;

/// A connection from `from` with a 4 KiB receive buffer (set before
/// `connect`, so that the window the server sees is small from the start).
/// Close-on-exec, as std's sockets are: wrk, started meanwhile, must not
/// inherit 512 sockets (it sizes its event loop for its own connections and
/// fails every connection whose descriptor is past that).
fn connect_small(from: Ipv4Addr, to: SocketAddr) -> std::io::Result<TcpStream> {
    use rustix::net::{AddressFamily, SocketFlags, SocketType, bind, connect, socket_with, sockopt};
    let fd = socket_with(AddressFamily::INET, SocketType::STREAM, SocketFlags::CLOEXEC, None)?;
    sockopt::set_socket_recv_buffer_size(&fd, 4096)?;
    bind(&fd, &SocketAddrV4::new(from, 0))?;
    connect(&fd, &to)?;
    Ok(TcpStream::from(fd))
}

/// The bench holds the stalled sockets on top of everything else.
fn raise_open_file_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let _ = setrlimit(Resource::Nofile, Rlimit { current: limit.maximum, maximum: limit.maximum });
}

/// `n` clients (64 to a source address, 127.0.2.1, 127.0.2.2, …) that
/// each ask for `target` and then read nothing. Connections that fail are
/// counted, not fatal: an old build may refuse them.
struct Stalled {
    conns: Vec<TcpStream>,
    failed: usize,
}

impl Stalled {
    fn open(addr: SocketAddr, target: &str, n: usize) -> Stalled {
        let request = head("GET", target, addr, "");
        let (mut conns, mut failed) = (Vec::with_capacity(n), 0);
        for i in 0..n {
            let from = Ipv4Addr::new(
                127,
                0,
                2 + (i / STALLED_PER_SOURCE / 250) as u8,
                1 + (i / STALLED_PER_SOURCE % 250) as u8,
            );
            match connect_small(from, addr).and_then(|mut c| c.write_all(request.as_bytes()).map(|()| c)) {
                Ok(c) => conns.push(c),
                Err(_) => failed += 1,
            }
        }
        Stalled { conns, failed }
    }

    /// How many got `200`, got another status, and got nothing yet; read
    /// with `peek`, so nothing is taken from the receive buffers.
    fn answers(&self) -> (usize, usize, usize) {
        let (mut ok, mut other, mut none) = (0, 0, 0);
        for c in &self.conns {
            let mut buf = [0u8; 12];
            c.set_nonblocking(true).unwrap();
            match c.peek(&mut buf) {
                Ok(12) if buf.starts_with(b"HTTP/1.1 200") => ok += 1,
                Ok(n) if n > 0 => other += 1,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => none += 1,
                // Closed or reset without an answer.
                _ => other += 1,
            }
            c.set_nonblocking(false).unwrap();
        }
        (ok, other, none)
    }

    /// Waits up to `limit` for every connection to have its answer's head.
    fn settle(&self, limit: Duration) -> (usize, usize, usize) {
        let mut last = self.answers();
        let _ = common::wait::poll_within(limit, || {
            last = self.answers();
            (last.2 == 0).then_some(())
        });
        last
    }

    /// How many of the connections are still established (not closed or
    /// reset by the server), from /proc/net/tcp.
    fn established(&self) -> usize {
        let mine: HashSet<SocketAddr> = self.conns.iter().filter_map(|c| c.local_addr().ok()).collect();
        let table = fs::read_to_string("/proc/net/tcp").unwrap_or_default();
        table
            .lines()
            .skip(1)
            .filter(|line| {
                let f: Vec<&str> = line.split_whitespace().collect();
                f.len() > 3 && f[3] == "01" && parse_proc_addr(f[1]).is_some_and(|a| mine.contains(&a))
            })
            .count()
    }
}

/// `0102007F:1F90` (/proc/net/tcp: the address as the bytes in memory,
/// printed as a native-endian number, then the port) as 127.0.2.1:8080.
fn parse_proc_addr(s: &str) -> Option<SocketAddr> {
    let (ip, port) = s.split_once(':')?;
    let ip = u32::from_str_radix(ip, 16).ok()?.to_ne_bytes();
    Some(SocketAddr::from((ip, u16::from_str_radix(port, 16).ok()?)))
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

struct Case<'a> {
    name: &'static str,
    on: &'a Server,
    target: String,
    runs: Vec<Wrk>,
}

impl Case<'_> {
    fn med(&self, f: fn(&Wrk) -> f64) -> f64 {
        common::median(self.runs.iter().map(f).collect())
    }
}

/// Everything one run shares.
struct Run {
    secs: u64,
    rounds: u64,
    conns: u64,
    threads: u64,
    workers: usize,
}

/// The wrk run every case gets, with the server's thread count halfway.
fn measure(run: &Run, s: &Server, target: &str) -> Wrk {
    let auth = [("apiKey", KEY), ("username", USER)];
    let midway = threads_midway(s.pid(), run.secs);
    let mut w = wrk_or_nothing(&format!("http://{}{target}", s.addr), &auth, run.conns, run.threads, run.secs);
    w.threads = midway.join().unwrap();
    w
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(mode @ ("--hello-server" | "--hello-upstream")) = args.get(1).map(String::as_str) {
        let port = args[2].parse().expect("a port");
        let workers = args[3].parse().expect("a worker count");
        if mode == "--hello-server" {
            hello_server(port, workers);
        } else {
            hello_upstream(port, workers);
        }
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
    let stalled_n = common::env_num("BENCH_STALLED", 512) as usize;
    let skip_requests = common::env_num("BENCH_SKIP_REQUESTS", 0) == 1;
    let skip_stream = common::env_num("BENCH_SKIP_STREAM", 0) == 1;
    let skip_stalled = common::env_num("BENCH_SKIP_STALLED", 0) == 1;
    if !common::ensure_tool("wrk", "--version", "wrk") {
        eprintln!("load: wrk is not available, nothing measured");
        return;
    }
    raise_open_file_limit();
    let wfhook = Wfhook::find();
    println!(
        "load: wfhook binary {} ({})",
        wfhook.bin.display(),
        if wfhook.reactor { "readiness loop" } else { "a thread per connection" }
    );
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
    let server = wfhook.start(&root, &tmp.path().join("wfhook.log"), run.workers, &[]);
    let nginx = start_nginx(&tmp.path().join("nginx"), &root);
    let mut summary = Vec::new();
    if !skip_requests {
        summary.extend(requests(&run, &server, nginx.as_ref()));
    }
    if !skip_stalled {
        summary.extend(stalled(&run, &wfhook, tmp.path(), stalled_n));
    }
    if !skip_stream {
        summary.extend(streaming(&run, &server, nginx.as_ref(), &root, stream_mib));
    }
    drop(server);
    drop(nginx);
    println!();
    println!("== targets");
    for line in summary {
        println!("{line}");
    }
}

/// "0.843 (met)", or "no answer (MISSED)" when the ratio is not a number.
fn ratio_verdict(r: f64, target: f64) -> String {
    if r.is_finite() { format!("{r:.3} ({})", verdict(r >= target)) } else { "no answer (MISSED)".into() }
}

/// The request cases against the hello-world and the anchors; returns the
/// summary lines.
fn requests(run: &Run, server: &Server, nginx: Option<&Server>) -> Vec<String> {
    let &Run { secs, rounds, conns, threads, workers } = run;
    let hello = start_hello("--hello-server", workers);
    let upstream = start_hello("--hello-upstream", workers);
    let pid = server.pid();
    let small = id_of(server.addr, "small.txt");
    let case = |name, on, target: &str| Case { name, on, target: target.into(), runs: Vec::new() };
    let mut cases = vec![
        case("hello-world (ceiling)", &hello, "/"),
        case("tiny_http 0.12.0 hello", &upstream, "/"),
        case("customAction ping", server, "/customAction?name=ping"),
        case("serviceInfo", server, "/serviceInfo"),
        case("metadata (file)", server, &format!("/metadata?id={small}")),
    ];
    if let Some(nginx) = nginx {
        cases.insert(2, case("nginx return 200", nginx, "/"));
    }
    println!(
        "load: wrk -t{threads} -c{conns} -d{secs}s --timeout 2s --latency, {rounds} rounds alternating, \
         {workers} workers on wfhook and the hello-worlds"
    );
    // Warm the servers up (page cache, thread pools, allocator).
    for c in &cases {
        measure(&Run { secs: 1, ..*run }, c.on, &c.target);
    }
    let rss_during_load = RssSampler::start(pid);
    for round in 0..rounds {
        // Alternate the order so that drift in the machine's load hits
        // every case alike.
        let order: Vec<usize> =
            if round % 2 == 0 { (0..cases.len()).collect() } else { (0..cases.len()).rev().collect() };
        for i in order {
            let c = &mut cases[i];
            let w = measure(run, c.on, &c.target);
            println!(
                "round {round}: {:<24} {:>9.0} req/s  p50 {:>7.0} us  p99 {:>7.0} us  ({} requests, {} bad, {} threads) [{}]",
                c.name, w.rps, w.p50_us, w.p99_us, w.requests, w.bad, w.threads, c.on.name
            );
            c.runs.push(w);
        }
    }
    let rss_samples = rss_during_load.finish();
    let hwm_load = proc_bytes(pid, "VmHWM:");

    println!();
    println!("== requests: median of {rounds} rounds; ratio = req/s / hello-world req/s");
    println!("{:<24} {:>9} {:>7} {:>9} {:>9}", "case", "req/s", "ratio", "p50 us", "p99 us");
    let ceiling = cases[0].med(|w| w.rps);
    for c in &cases {
        println!(
            "{:<24} {:>9.0} {:>7.3} {:>9.0} {:>9.0}",
            c.name,
            c.med(|w| w.rps),
            c.med(|w| w.rps) / ceiling,
            c.med(|w| w.p50_us),
            c.med(|w| w.p99_us)
        );
    }
    let bad: u64 = cases.iter().flat_map(|c| &c.runs).map(|w| w.bad).sum();
    println!("non-2xx answers and socket errors over all runs: {bad}");
    for c in cases.iter().filter(|c| c.on.thread_per_connection) {
        let starved = c.runs.iter().filter(|w| w.threads < conns + workers as u64).count();
        println!(
            "{}: runs in which some connection had no thread (threads < {conns} + {workers}): {starved} of {}",
            c.name,
            c.runs.len()
        );
    }
    for c in cases.iter().filter(|c| !c.on.thread_per_connection && c.on.name != "nginx") {
        let t: Vec<String> = c.runs.iter().map(|w| w.threads.to_string()).collect();
        println!("{}: server threads halfway through each run: {}", c.name, t.join(", "));
    }
    println!(
        "wfhook VmRSS during the request load: max {:.1} MB ({} samples); VmHWM after it {:.1} MB",
        mb(rss_samples.iter().copied().max().unwrap_or(0)),
        rss_samples.len(),
        mb(hwm_load)
    );
    let rps = |name: &str| cases.iter().find(|c| c.name == name).map_or(f64::NAN, |c| c.med(|w| w.rps));
    let ping = rps("customAction ping");
    let ping_p99 = cases.iter().find(|c| c.name == "customAction ping").unwrap().med(|w| w.p99_us);
    let mut summary = vec![
        format!("ping >= 0.85 of the hello-world ceiling: {}", ratio_verdict(ping / ceiling, 0.85)),
        format!(
            "ping >= 0.85 of tiny_http 0.12.0 (crates.io) hello-world: {} ({:.0} against {:.0} req/s)",
            ratio_verdict(ping / rps("tiny_http 0.12.0 hello"), 0.85),
            ping,
            rps("tiny_http 0.12.0 hello")
        ),
    ];
    if nginx.is_some() {
        summary.push(format!(
            "ping >= 0.8 of nginx return 200 (one worker, access_log off): {} ({:.0} against {:.0} req/s)",
            ratio_verdict(ping / rps("nginx return 200"), 0.8),
            ping,
            rps("nginx return 200")
        ));
    } else {
        summary.push("ping >= 0.8 of nginx return 200: skipped (no nginx)".into());
    }
    summary.extend([
        format!(
            "p99 <= 2 ms at {conns} connections (ping): {:.2} ms ({}; the hello-world's own: {:.2} ms)",
            ping_p99 / 1000.0,
            verdict(ping_p99 <= 2000.0),
            cases[0].med(|w| w.p99_us) / 1000.0
        ),
        format!("peak RSS under load <= 32 MB: {:.1} MB ({})", mb(hwm_load), verdict(hwm_load <= 32_000_000)),
    ]);
    summary
}

/// `ping` alone, alternating with `ping` while `n` downloads are stalled,
/// on a wfhook of its own; returns the summary lines.
fn stalled(run: &Run, wfhook: &Wfhook, tmp: &Path, n: usize) -> Vec<String> {
    let &Run { secs, rounds, conns, threads, workers } = run;
    let root = tmp.join("stalled-root");
    fs::create_dir_all(&root).unwrap();
    // 128 MiB, sparse: nothing to write, and far more than the buffers of
    // a stalled connection take.
    File::create(root.join("stalled.bin")).unwrap().set_len(128 << 20).unwrap();
    // The minimum rate would cut the stalled readers after its 10 s window,
    // and the I/O timeout after 30 s without progress: both off for the run,
    // so that every stalled round has all of them. The build before the
    // readiness loop knows only `--io-timeout`.
    let mut flags = vec!["--io-timeout", "3600"];
    if wfhook.reactor {
        flags.extend(["--min-transfer-rate", "0"]);
    }
    let server = wfhook.start(&root, &tmp.join("stalled.log"), workers, &flags);
    let id = id_of(server.addr, "stalled.bin");
    let target = format!("/download?id={id}");
    let ping = "/customAction?name=ping";
    println!();
    println!(
        "load: ping alone and with {n} stalled downloads of 128 MiB ({STALLED_PER_SOURCE} per source address, \
         4 KiB receive buffers), wfhook {}, wrk -t{threads} -c{conns} -d{secs}s",
        flags.join(" ")
    );
    measure(&Run { secs: 1, ..*run }, &server, ping);
    let (mut plain, mut held) = (Vec::new(), Vec::new());
    let mut notes = Vec::new();
    for round in 0..rounds {
        for with_stalls in if round % 2 == 0 { [false, true] } else { [true, false] } {
            if !with_stalls {
                let w = measure(run, &server, ping);
                println!(
                    "round {round}: {:<24} {:>9.0} req/s  p50 {:>7.0} us  p99 {:>7.0} us  \
                     ({} requests, {} bad, {} threads)",
                    "ping alone", w.rps, w.p50_us, w.p99_us, w.requests, w.bad, w.threads
                );
                plain.push(w);
                continue;
            }
            let started = Instant::now();
            let stalls = Stalled::open(server.addr, &target, n);
            let opened = started.elapsed();
            let (ok, other, none) = stalls.settle(Duration::from_secs(5));
            let rss = proc_bytes(server.pid(), "VmRSS:");
            let w = measure(run, &server, ping);
            let (ok_after, other_after, none_after) = stalls.answers();
            let established = stalls.established();
            if w.requests == 0 {
                // wrk counts no timeout when not one request was answered.
                println!(
                    "round {round}: ping, {n} stalled: not one request answered on {conns} connections in {secs} s"
                );
            }
            println!(
                "round {round}: {:<24} {:>9.0} req/s  p50 {:>7.0} us  p99 {:>7.0} us  \
                 ({} requests, {} bad of which {} timeouts, {} threads)",
                format!("ping, {n} stalled"),
                w.rps,
                w.p50_us,
                w.p99_us,
                w.requests,
                w.bad,
                w.timeouts,
                w.threads
            );
            let note = format!(
                "         stalled downloads: {} connected in {} ms ({} failed); answered before wrk: {ok} with 200, \
                 {other} otherwise, {none} not yet; after: {ok_after}, {other_after}, {none_after}; \
                 still established after wrk: {established}; wfhook VmRSS {:.1} MB",
                stalls.conns.len(),
                opened.as_millis(),
                stalls.failed,
                mb(rss)
            );
            println!("{note}");
            notes.push((ok_after, established, stalls.failed));
            drop(stalls);
            // Let the server see the closes before the next case.
            std::thread::sleep(Duration::from_secs(1));
            held.push(w);
        }
    }
    let hwm = proc_bytes(server.pid(), "VmHWM:");
    drop(server);
    let med = |v: &[Wrk], f: fn(&Wrk) -> f64| common::median(v.iter().map(f).collect());
    let (p_rps, s_rps) = (med(&plain, |w| w.rps), med(&held, |w| w.rps));
    let (p_p99, s_p99) = (med(&plain, |w| w.p99_us), med(&held, |w| w.p99_us));
    let timeouts: u64 = held.iter().map(|w| w.timeouts).sum();
    println!("== ping with {n} stalled downloads: median of {rounds} rounds; ratio = req/s / ping alone");
    println!("{:<24} {:>9} {:>7} {:>9} {:>9}", "case", "req/s", "ratio", "p50 us", "p99 us");
    println!("{:<24} {:>9.0} {:>7.3} {:>9.0} {:>9.0}", "ping alone", p_rps, 1.0, med(&plain, |w| w.p50_us), p_p99);
    println!(
        "{:<24} {:>9.0} {:>7.3} {:>9.0} {:>9.0}",
        format!("ping, {n} stalled"),
        s_rps,
        s_rps / p_rps,
        med(&held, |w| w.p50_us),
        s_p99
    );
    let min_ok = notes.iter().map(|n| n.0).min().unwrap_or(0);
    let min_held = notes.iter().map(|n| n.1).min().unwrap_or(0);
    println!(
        "stalled downloads: at least {min_ok} of {n} answered 200 and {min_held} still established at the end \
         of every round; requests timed out (wrk, 2 s) with them: {timeouts}; wfhook VmHWM {:.1} MB",
        mb(hwm)
    );
    let p99_ms = s_p99 / 1000.0;
    vec![
        format!(
            "ping p99 < 50 ms with {n} stalled downloads: {} ({}{})",
            if p99_ms.is_finite() { format!("{p99_ms:.2} ms") } else { "no answer".into() },
            verdict(p99_ms < 50.0 && timeouts == 0),
            if timeouts > 0 {
                format!("; {timeouts} requests timed out, which wrk leaves out of p99")
            } else {
                String::new()
            }
        ),
        format!(
            "ping with {n} stalled downloads >= 0.8 of ping alone: {} ({:.0} against {:.0} req/s)",
            ratio_verdict(s_rps / p_rps, 0.8),
            s_rps,
            p_rps
        ),
    ]
}

/// Downloads and uploads against `cat` and nginx, then the RSS while
/// streaming.
fn streaming(run: &Run, server: &Server, nginx: Option<&Server>, root: &Path, stream_mib: u64) -> Vec<String> {
    let (rounds, pid) = (run.rounds, server.pid());
    let (big, huge) = (root.join("big.bin"), root.join("huge.bin"));
    let big_len = fs::metadata(&big).unwrap().len();
    let huge_len = fs::metadata(&huge).unwrap().len();
    let big_dl = format!("/download?id={}", id_of(server.addr, "big.bin"));
    let huge_dl = format!("/download?id={}", id_of(server.addr, "huge.bin"));
    let target_id = id_of(server.addr, "target.bin");
    let (mut c, mut t, mut d, mut u, mut n) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    println!();
    for round in 0..rounds {
        let cat_t = mbps(big_len, cat(&big));
        let tcp_t = mbps(big_len, raw_tcp(&big));
        // wfhook's download and nginx's take turns going first.
        let mut nginx_t = f64::NAN;
        let mut nginx_download = || {
            if let Some(nginx) = nginx {
                nginx_t = mbps(big_len, download(nginx.addr, "/files/big.bin", big_len));
            }
        };
        if round % 2 == 1 {
            nginx_download();
        }
        let down_t = mbps(big_len, download(server.addr, &big_dl, big_len));
        if round % 2 == 0 {
            nginx_download();
        }
        let up_t = mbps(big_len, upload(server.addr, &target_id, &big));
        println!(
            "round {round}: cat {cat_t:>7.0} MB/s   raw TCP {tcp_t:>7.0} MB/s   download {down_t:>7.0} MB/s   \
             nginx {nginx_t:>7.0} MB/s   upload {up_t:>7.0} MB/s"
        );
        c.push(cat_t);
        t.push(tcp_t);
        d.push(down_t);
        u.push(up_t);
        n.push(nginx_t);
    }
    let (c, t, d, u) = (common::median(c), common::median(t), common::median(d), common::median(u));
    let n = if nginx.is_some() { common::median(n) } else { f64::NAN };
    println!(
        "== {} MiB file: median of {rounds} rounds; ratio = MB/s / cat MB/s (page cache, nothing dropped)",
        big_len >> 20
    );
    println!("{:<30} {:>9} {:>7}", "case", "MB/s", "ratio");
    println!("{:<30} {:>9.0} {:>7.3}", "cat > /dev/null (ceiling)", c, 1.0);
    println!("{:<30} {:>9.0} {:>7.3}   (std::io::copy File -> TcpStream)", "raw loopback TCP", t, t / c);
    if nginx.is_some() {
        println!("{:<30} {:>9.0} {:>7.3}   ({:.3} of raw TCP)", "nginx (sendfile on)", n, n / c, n / t);
    }
    println!("{:<30} {:>9.0} {:>7.3}   ({:.3} of raw TCP, {:.3} of nginx)", "download", d, d / c, d / t, d / n);
    println!("{:<30} {:>9.0} {:>7.3}   (includes SHA-256 and fsync)", "upload", u, u / c);
    let mut summary = vec![format!("download >= 0.5 of the disk ceiling: {:.3} ({})", d / c, verdict(d / c >= 0.5))];
    summary.push(if nginx.is_some() {
        format!("download >= 0.9 of nginx (sendfile on): {} ({d:.0} against {n:.0} MB/s)", ratio_verdict(d / n, 0.9))
    } else {
        "download >= 0.9 of nginx: skipped (no nginx)".into()
    });

    // 1 GiB in either direction, with VmRSS sampled throughout.
    println!();
    println!("== streaming {stream_mib} MiB; VmRSS sampled every 10 ms");
    let mut flat = true;
    for dir in ["download", "upload"] {
        let before = proc_bytes(pid, "VmRSS:");
        let sampler = RssSampler::start(pid);
        let t = if dir == "download" {
            download(server.addr, &huge_dl, huge_len)
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
