//! Hostile clients against the real binary: each test sends what tiny_http
//! 0.12 alone could not survive (or would let through), and checks that the
//! request is refused, the connection closed where it must be, and the
//! server still answers everyone else.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::atomic::Ordering::SeqCst;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::time::{Duration, Instant};

use common::{
    KEY, TestServer, USER, WAIT, connect, connect_from, raise_open_file_limit, raw, request, status_of, wait_for,
};

/// The server is alive and answering.
fn answers(s: &TestServer) {
    assert_eq!(request(s.addr, "GET", "/serviceInfo", &[], b"").status, 200, "{}", s.stderr());
}

/// Reads until the server closes the connection; panics if it does not
/// within [`WAIT`] (the longest `--io-timeout` waited out here is 2 s).
fn read_to_close(mut s: TcpStream) -> Vec<u8> {
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut out = Vec::new();
    match s.read_to_end(&mut out) {
        Ok(_) => out,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => out,
        Err(e) => panic!("the server kept the connection open: {e}; got {:?}", String::from_utf8_lossy(&out)),
    }
}

#[test]
fn huge_headers_and_too_many_headers_get_431_and_a_closed_connection() {
    let s = TestServer::start(&[]);
    let big = format!("GET /serviceInfo HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(1 << 20));
    let reply = raw(s.addr, big.as_bytes());
    assert_eq!(status_of(&reply), 431);
    let mut many = String::from("GET /serviceInfo HTTP/1.1\r\nHost: x\r\n");
    for n in 0..10_000 {
        many.push_str(&format!("X-H{n}: v\r\n"));
    }
    many.push_str("\r\n");
    assert_eq!(status_of(&raw(s.addr, many.as_bytes())), 431);
    answers(&s);
    // The process did not balloon reading them.
    assert!(common::proc_status(s.pid(), "VmHWM:").unwrap() < 64 * 1024, "peak RSS in KiB");
}

#[test]
fn ambiguous_framing_is_refused_and_the_connection_closed() {
    let s = TestServer::start(&[]);
    let cases = [
        "Transfer-Encoding: gzip, chunked\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n",
        "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        "Transfer-Encoding: xchunked\r\n",
        "Content-Length: 5\r\nContent-Length: 6\r\n",
        "Content-Length: +5\r\n",
        "Content-Length: 0x10\r\n",
    ];
    for framing in cases {
        let mut c = connect(s.addr);
        // A smuggled second request follows; it must never be answered.
        let smuggle = format!(
            "POST /createFolder?parentId=%2F&name=x HTTP/1.1\r\nHost: x\r\napiKey: {KEY}\r\nusername: {USER}\r\n{framing}\r\n\
             0\r\n\r\nPOST /createFolder?parentId=%2F&name=smuggled HTTP/1.1\r\nHost: x\r\napiKey: {KEY}\r\nusername: {USER}\r\nContent-Length: 0\r\n\r\n"
        );
        c.write_all(smuggle.as_bytes()).unwrap();
        let reply = read_to_close(c);
        assert_eq!(status_of(&reply), 400, "{framing:?}");
        assert_eq!(String::from_utf8_lossy(&reply).matches("HTTP/1.1").count(), 1, "{framing:?}: {reply:?}");
    }
    assert!(s.titles("/").is_empty(), "a refused request changed something: {:?}", s.titles("/"));
    answers(&s);
}

/// The one framing rule lives in the vendored tiny_http: a `Content-Length`
/// repeated with the same value delimits the body as one would (RFC 9110
/// allows a recipient to take it), and the request reaches its endpoint.
#[test]
fn a_repeated_identical_content_length_frames_one_body() {
    let s = TestServer::start(&[]);
    let body = "parentId=%2F&name=twice";
    let head = format!(
        "POST /createFolder HTTP/1.1\r\nHost: x\r\napiKey: {KEY}\r\nusername: {USER}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {n}\r\nContent-Length: {n}\r\n\
         Connection: close\r\n\r\n{body}",
        n = body.len()
    );
    let reply = raw(s.addr, head.as_bytes());
    assert_eq!(status_of(&reply), 200, "{}", String::from_utf8_lossy(&reply));
    assert_eq!(s.titles("/"), ["twice"]);
}

/// The answers the HTTP layer writes itself, before any handler, say
/// `nosniff` like every other answer.
#[test]
fn the_servers_own_refusals_say_nosniff() {
    let s = TestServer::start(&[]);
    let heads = [
        format!("GET /serviceInfo HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(9000)),
        "POST /createFolder HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n".to_string(),
        "GET /serviceInfo HTTP/2.0\r\nHost: x\r\n\r\n".to_string(),
    ];
    for head in heads {
        let reply = String::from_utf8_lossy(&raw(s.addr, head.as_bytes())).into_owned();
        assert!(status_of(reply.as_bytes()) >= 400, "{reply}");
        assert!(reply.contains("X-Content-Type-Options: nosniff\r\n"), "{reply}");
    }
}

#[test]
fn bare_line_feeds_in_headers_cannot_inject() {
    let s = TestServer::start(&[]);
    let reply = raw(s.addr, b"GET /serviceInfo HTTP/1.1\r\nHost: x\r\nX-A: a\nX-Injected: 1\r\n\r\n");
    assert_eq!(status_of(&reply), 400);
    let reply = raw(s.addr, b"GET /serviceInfo HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n");
    assert_eq!(status_of(&reply), 400);
    answers(&s);
}

#[test]
fn invalid_utf8_expect_variants_http10_and_pipelining() {
    let s = TestServer::start(&[]);
    for bad in [
        &b"GET /serviceInfo\xff HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"GET /metadata?id=\xc3\x28 HTTP/1.1\r\n\r\n",
        b"GET /serviceInfo HTTP/1.1\r\nX-U: \xff\xfe\r\n\r\n",
    ] {
        let status = status_of(&raw(s.addr, bad));
        assert!((400..500).contains(&status), "{status}");
    }
    assert_eq!(status_of(&raw(s.addr, b"GET /serviceInfo HTTP/1.1\r\nExpect: 200-ok\r\n\r\n")), 417);
    assert_eq!(status_of(&raw(s.addr, b"GET /serviceInfo HTTP/1.0\r\n\r\n")), 200);
    let h2 = raw(s.addr, b"GET /serviceInfo HTTP/2.0\r\n\r\n");
    assert_eq!(status_of(&h2), 505);
    assert!(h2.starts_with(b"HTTP/1.1 505"), "{}", String::from_utf8_lossy(&h2));
    let two = b"GET /serviceInfo HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let reply = String::from_utf8_lossy(&raw(s.addr, two)).into_owned();
    let first = reply.find("HTTP/1.1 200").expect("first answer");
    let second = reply.find("HTTP/1.1 404").expect("second answer");
    assert!(first < second, "pipelined answers out of order");
    answers(&s);
}

#[test]
fn lying_and_huge_content_lengths_cost_nothing() {
    let s = TestServer::start(&["--io-timeout", "2"]);
    let id = s.put_file("/", "a.bin", b"old", None);
    // Declares far more than it sends, then waits: answered (413, before the
    // body), and the connection is let go instead of drained forever.
    let mut c = connect(s.addr);
    let head = format!(
        "PUT /upload?id={id} HTTP/1.1\r\nHost: x\r\napiKey: {KEY}\r\nusername: {USER}\r\nContent-Length: 99999999999999\r\n\r\nabc"
    );
    c.write_all(head.as_bytes()).unwrap();
    let started = Instant::now();
    let reply = read_to_close(c);
    assert_eq!(status_of(&reply), 413);
    assert!(started.elapsed() < Duration::from_secs(8), "held for {:?}", started.elapsed());
    // Declares a body within the limit, sends part, stalls: the worker is
    // freed by the socket timeout and the old bytes stay.
    let mut c = connect(s.addr);
    let head = format!(
        "PUT /upload?id={id} HTTP/1.1\r\nHost: x\r\napiKey: {KEY}\r\nusername: {USER}\r\nContent-Length: 1000\r\n\r\nnew"
    );
    c.write_all(head.as_bytes()).unwrap();
    let reply = read_to_close(c);
    assert!(status_of(&reply) >= 400);
    assert_eq!(s.download(&id).body, b"old");
    answers(&s);
}

#[test]
fn an_unread_body_that_never_comes_holds_a_worker_only_for_the_drain_timeout() {
    let s = TestServer::start(&["--workers", "1", "--io-timeout", "10"]);
    // Refused before its body is read (no key), declaring more than the
    // 1 KiB tiny_http reads up front, then silent: the lone worker answers,
    // then drains what is left for at most the drain timeout (200 ms), not
    // a whole socket timeout.
    let mut c = connect(s.addr);
    c.write_all(b"PUT /upload?id=x HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n").unwrap();
    let mut first = [0u8; 12];
    c.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 403");
    let started = Instant::now();
    assert_eq!(request(s.addr, "GET", "/serviceInfo", &[], b"").status, 200);
    assert!(started.elapsed() < Duration::from_secs(3), "the worker was held for {:?}", started.elapsed());
    drop(c);
    // A body that does come is drained, and the connection keeps its own
    // timeout for the next request, well after the drain's.
    let mut c = connect(s.addr);
    let mut refused = b"PUT /upload?id=x HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n".to_vec();
    refused.extend_from_slice(&[b'x'; 5000]);
    c.write_all(&refused).unwrap();
    let mut r = std::io::BufReader::new(c.try_clone().unwrap());
    assert_eq!(common::read_response(&mut r, false).status, 403);
    std::thread::sleep(Duration::from_millis(600));
    c.write_all(b"GET /serviceInfo HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(common::read_response(&mut r, false).status, 200);
}

#[test]
fn an_endless_chunked_body_stops_at_the_upload_limit() {
    let s = TestServer::start(&["--max-upload-bytes", "100000"]);
    let id = s.put_file("/", "a.bin", b"old", None);
    let mut c = connect(s.addr);
    let head = format!(
        "PUT /upload?id={id} HTTP/1.1\r\nHost: x\r\napiKey: {KEY}\r\nusername: {USER}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    c.write_all(head.as_bytes()).unwrap();
    let chunk = format!("1000\r\n{}\r\n", "z".repeat(0x1000));
    // Keep sending until the server answers and stops reading.
    c.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    for _ in 0..10_000 {
        if c.write_all(chunk.as_bytes()).is_err() {
            break;
        }
    }
    let reply = read_to_close(c);
    assert_eq!(status_of(&reply), 413);
    assert_eq!(s.download(&id).body, b"old");
    answers(&s);
}

#[test]
fn a_client_that_never_reads_its_download_frees_the_worker() {
    let s = TestServer::start(&["--workers", "1", "--io-timeout", "1"]);
    let big = vec![7u8; 64 << 20];
    std::fs::write(s.root.join("big.bin"), &big).unwrap();
    let id = s.files("/")[0]["id"].as_str().unwrap().to_string();
    let mut c = TcpStream::connect(s.addr).unwrap();
    let head = format!("GET /download?id={id} HTTP/1.1\r\nHost: x\r\napiKey: {KEY}\r\nusername: {USER}\r\n\r\n");
    c.write_all(head.as_bytes()).unwrap();
    // Never read. The only worker is stuck writing until the write times out.
    wait_for("the worker to come back", || request(s.addr, "GET", "/serviceInfo", &[], b"").status == 200);
    drop(c);
    answers(&s);
}

#[test]
fn slow_headers_get_408_after_the_head_deadline() {
    let s = TestServer::start(&["--io-timeout", "2"]);
    let mut c = connect(s.addr);
    let started = Instant::now();
    let mut closed = false;
    for b in b"GET /serviceInfo HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
        if c.write_all(&[*b]).is_err() {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        if started.elapsed() > Duration::from_secs(6) {
            break;
        }
    }
    let reply = read_to_close(c);
    assert!(closed || status_of(&reply) == 408, "{:?}", String::from_utf8_lossy(&reply));
    answers(&s);
}

#[test]
fn connections_over_the_cap_are_refused_and_threads_stay_bounded() {
    let s = TestServer::start(&["--max-connections", "32"]);
    let held: Vec<TcpStream> = (0..32).map(|_| TcpStream::connect(s.addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut over = TcpStream::connect(s.addr).unwrap();
    over.write_all(b"GET /serviceInfo HTTP/1.1\r\nHost: x\r\n\r\n").ok();
    assert_eq!(status_of(&read_to_close(over)), 503);
    let threads = s.threads().unwrap();
    assert!(threads < 32 + 48, "{threads} threads for 32 connections");
    drop(held);
    // Once they are gone, new clients get in again.
    let get = b"GET /serviceInfo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    wait_for("the cap to release", || status_of(&raw(s.addr, get)) == 200);
}

#[test]
fn idle_keep_alive_connections_are_closed_after_the_io_timeout() {
    let s = TestServer::start(&["--io-timeout", "1"]);
    let mut c = connect(s.addr);
    c.write_all(b"GET /serviceInfo HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buf = [0u8; 4096];
    let n = c.read(&mut buf).unwrap();
    assert!(n > 0);
    let started = Instant::now();
    // What is left of the answer, then the close: after 1 s, not after the
    // default 30 s.
    read_to_close(c);
    assert!(started.elapsed() < Duration::from_secs(20), "closed after {:?}", started.elapsed());
}

#[test]
fn a_burst_of_keep_alive_connections_is_answered_at_once() {
    let s = TestServer::start(&[]);
    // Opened together and kept open: none may wait for another to close.
    let conns: Vec<TcpStream> = (0..64).map(|_| TcpStream::connect(s.addr).unwrap()).collect();
    for mut c in &conns {
        c.write_all(b"GET /serviceInfo HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    }
    for mut c in &conns {
        c.set_read_timeout(Some(WAIT)).unwrap();
        let mut buf = [0u8; 64];
        let n = c.read(&mut buf).expect("every connection is answered while the others stay open");
        assert_eq!(status_of(&buf[..n]), 200);
    }
}

// ------------------------------------------------------------ availability
//
// The unfriendly users, each alone and all at once, against one
// server, while a legitimate client keeps asking for `ping` and
// `metadata`. Attackers come from addresses of their own (every 127.x.y.z
// is this machine), so that the per-client cap spares the legitimate
// client at 127.0.0.1, and with small receive buffers, so that 512 stalled
// downloads do not take the kernel's socket memory.

/// Longest a legitimate request may take while the server is under attack:
/// a functional bound (it takes milliseconds), not a speed test.
const ANSWERED_WITHIN: Duration = Duration::from_secs(2);
/// Longest an attack is waited for to reach its outcome (a cut comes
/// within two 10 s rate windows).
const ATTACK_WAIT: Duration = Duration::from_secs(240);
/// Threads the server may run beyond `--workers`.
const THREAD_ALLOWANCE: u64 = 32;
const RSS_LIMIT_KIB: u64 = 64 * 1024;
const WORKERS: u64 = 8;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Attack {
    /// 512 clients open a 100 MB download (a signed link: no key) and stop reading.
    StalledDownloads,
    /// 64 clients read their download at 1 KiB/s: cut below the minimum rate.
    SlowReaders,
    /// One client uploads at 1 KiB/s: cut (408), the file keeps its bytes.
    SlowUpload,
    /// 500 sockets that never send a byte.
    IdleSockets,
    /// 50 clients sending a head one byte a second: 408 at the head deadline.
    SlowHeads,
    /// 100 requests a second declaring a body that never comes.
    MissingBodies,
}

const ALL: [Attack; 6] = [
    Attack::StalledDownloads,
    Attack::SlowReaders,
    Attack::SlowUpload,
    Attack::IdleSockets,
    Attack::SlowHeads,
    Attack::MissingBodies,
];

impl Attack {
    /// Each attack's own source address.
    fn from(self) -> Ipv4Addr {
        let n = ALL.iter().position(|a| *a == self).unwrap() as u8;
        Ipv4Addr::new(127, 0, 1 + n, 1)
    }
}

/// What the attacks came to.
#[derive(Default)]
struct Outcomes {
    /// Slow readers whose download was cut before its end.
    readers_cut: AtomicUsize,
    /// The slow upload's answer.
    upload_status: AtomicUsize,
    /// Slow heads answered 408.
    heads_refused: AtomicUsize,
    /// Attackers set up (sockets open, requests sent).
    ready: AtomicUsize,
}

/// The target of a link, for a raw request.
fn target_of(link: &str) -> String {
    let rest = link.split_once("://").map_or(link, |(_, r)| r);
    rest[rest.find('/').unwrap()..].to_string()
}

/// One probe by the legitimate client: `ping` and `metadata`, each answered
/// 200 within [`ANSWERED_WITHIN`]; the longer wait of the two.
fn probe(addr: SocketAddr, file: &str) -> Duration {
    let mut longest = Duration::ZERO;
    for target in ["/customAction?name=ping".to_string(), format!("/metadata?id={}", common::enc(file))] {
        let started = Instant::now();
        let mut c = TcpStream::connect(addr).expect("the legitimate client connects");
        c.set_read_timeout(Some(ANSWERED_WITHIN)).unwrap();
        let head = format!(
            "GET {target} HTTP/1.1\r\nHost: x\r\napiKey: {KEY}\r\nusername: {USER}\r\nConnection: close\r\n\r\n"
        );
        c.write_all(head.as_bytes()).unwrap();
        let mut reply = Vec::new();
        let read = c.read_to_end(&mut reply);
        assert!(read.is_ok(), "{target} was not answered within {ANSWERED_WITHIN:?}: {read:?}");
        assert_eq!(status_of(&reply), 200, "{target}: {}", String::from_utf8_lossy(&reply));
        longest = longest.max(started.elapsed());
        assert!(longest <= ANSWERED_WITHIN + Duration::from_millis(500), "{target}");
    }
    longest
}

/// Runs `attacks` against one server until each reached its outcome, the
/// legitimate client probing all along; checks threads and memory as it
/// goes.
fn under_attack(attacks: &[Attack]) {
    raise_open_file_limit();
    let s = TestServer::start(&[
        "--max-connections",
        "4096",
        "--max-connections-per-client",
        "600",
        "--workers",
        &WORKERS.to_string(),
    ]);
    let big = s.root.join("big.bin");
    std::fs::File::create(&big).unwrap().set_len(100_000_000).unwrap();
    let small = s.put_file("/", "small.txt", b"old bytes", None);
    let big_id = s.files("/").iter().find(|i| i["title"] == "big.bin").unwrap()["id"].as_str().unwrap().to_string();
    let download = target_of(s.metadata(&big_id)["downloadLink"].as_str().unwrap());
    let (addr, stop, outcomes) = (s.addr, AtomicBool::new(false), Outcomes::default());
    std::thread::scope(|scope| {
        // The attackers stop however this ends, or the scope would wait
        // for them forever.
        let _stop = StopOnDrop(&stop);
        for &attack in attacks {
            let (stop, outcomes, download, small) = (&stop, &outcomes, &download, &small);
            scope.spawn(move || run_attack(attack, addr, download, small, stop, outcomes));
        }
        let started = Instant::now();
        let (mut max_threads, mut max_rss, mut slowest, mut probes) = (0, 0, Duration::ZERO, 0);
        let done = |o: &Outcomes| {
            attacks.iter().all(|a| match a {
                Attack::SlowReaders => o.readers_cut.load(SeqCst) == 64,
                Attack::SlowUpload => o.upload_status.load(SeqCst) != 0,
                Attack::SlowHeads => o.heads_refused.load(SeqCst) >= 50,
                _ => true,
            }) && o.ready.load(SeqCst) == attacks.len()
        };
        // At least 3 s of probes with every attacker in place.
        let mut settled: Option<Instant> = None;
        loop {
            slowest = slowest.max(probe(addr, &small));
            probes += 1;
            max_threads = max_threads.max(s.threads().unwrap());
            max_rss = max_rss.max(s.rss_kib().unwrap());
            if outcomes.ready.load(SeqCst) == attacks.len() {
                let since = *settled.get_or_insert_with(Instant::now);
                if done(&outcomes) && since.elapsed() > Duration::from_secs(3) {
                    break;
                }
            }
            assert!(started.elapsed() < ATTACK_WAIT, "{attacks:?} did not reach their outcomes");
            std::thread::sleep(Duration::from_millis(200));
        }
        stop.store(true, SeqCst);
        common::say(&format!(
            "{attacks:?}: {probes} probes, the slowest answered in {slowest:?}; at most {max_threads} threads, \
             {max_rss} KiB resident"
        ));
        assert!(max_threads < WORKERS + THREAD_ALLOWANCE, "{max_threads} threads under {attacks:?}");
        assert!(max_rss < RSS_LIMIT_KIB, "{max_rss} KiB resident under {attacks:?}");
    });
    if attacks.contains(&Attack::SlowUpload) {
        assert_eq!(outcomes.upload_status.load(SeqCst), 408, "the slow upload's answer");
        assert_eq!(s.download(&small).body, b"old bytes", "a cut upload changed the file");
    }
    answers(&s);
}

struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, SeqCst);
    }
}

fn run_attack(attack: Attack, addr: SocketAddr, download: &str, small: &str, stop: &AtomicBool, o: &Outcomes) {
    let from = attack.from();
    let get = format!("GET {download} HTTP/1.1\r\nHost: x\r\n\r\n");
    match attack {
        Attack::StalledDownloads | Attack::IdleSockets => {
            let (n, request) = if attack == Attack::IdleSockets { (500, "") } else { (512, get.as_str()) };
            let held: Vec<TcpStream> = (0..n)
                .map(|_| {
                    let mut c = connect_from(from, addr);
                    c.write_all(request.as_bytes()).unwrap();
                    c
                })
                .collect();
            o.ready.fetch_add(1, SeqCst);
            while !stop.load(SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
            }
            drop(held);
        }
        Attack::SlowReaders => {
            std::thread::scope(|scope| {
                for _ in 0..64 {
                    scope.spawn(|| {
                        let mut c = connect_from(from, addr);
                        c.write_all(get.as_bytes()).unwrap();
                        c.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
                        let mut got = 0u64;
                        let mut buf = [0u8; 1024];
                        while !stop.load(SeqCst) {
                            match c.read(&mut buf) {
                                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                                Ok(0) | Err(_) if got > 0 => {
                                    // Cut long before 100 MB at 1 KiB/s.
                                    assert!(got < 10_000_000, "{got} bytes");
                                    o.readers_cut.fetch_add(1, SeqCst);
                                    return;
                                }
                                Ok(n) => got += n as u64,
                                Err(_) => {}
                            }
                            std::thread::sleep(Duration::from_secs(1));
                        }
                    });
                }
                o.ready.fetch_add(1, SeqCst);
            });
        }
        Attack::SlowUpload => {
            let mut c = connect_from(from, addr);
            let head = format!(
                "PUT /upload?id={} HTTP/1.1\r\nHost: x\r\napiKey: {KEY}\r\nusername: {USER}\r\nContent-Length: 1000000\r\n\r\n",
                common::enc(small)
            );
            c.write_all(head.as_bytes()).unwrap();
            c.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
            o.ready.fetch_add(1, SeqCst);
            let mut reply = Vec::new();
            let mut buf = [0u8; 1024];
            while !stop.load(SeqCst) && o.upload_status.load(SeqCst) == 0 {
                // Whatever the server says ends the upload.
                match c.read(&mut buf) {
                    Ok(n) if n > 0 => reply.extend_from_slice(&buf[..n]),
                    Ok(_) => o.upload_status.store(status_of(&reply) as usize, SeqCst),
                    Err(_) if !reply.is_empty() => o.upload_status.store(status_of(&reply) as usize, SeqCst),
                    Err(_) => {
                        if c.write_all(&[b'u'; 1024]).is_err() {
                            // Cut without a word is a failure too: 1.
                            o.upload_status.store(1, SeqCst);
                        }
                        std::thread::sleep(Duration::from_secs(1));
                    }
                }
            }
        }
        Attack::SlowHeads => {
            let head = b"GET /serviceInfo HTTP/1.1\r\nHost: x\r\nX-Slow: ";
            let mut clients: Vec<(TcpStream, usize)> = (0..50).map(|_| (connect_from(from, addr), 0)).collect();
            o.ready.fetch_add(1, SeqCst);
            while !stop.load(SeqCst) {
                for (c, sent) in clients.iter_mut() {
                    let byte = head.get(*sent).copied().unwrap_or(b'a');
                    if c.write_all(&[byte]).is_err() || *sent > 0 && answered(c) {
                        let mut reply = Vec::new();
                        let _ = c.read_to_end(&mut reply);
                        if !reply.is_empty() && status_of(&reply) == 408 {
                            o.heads_refused.fetch_add(1, SeqCst);
                        }
                        // The next slow head.
                        *c = connect_from(from, addr);
                        *sent = 0;
                    } else {
                        *sent += 1;
                    }
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        Attack::MissingBodies => {
            let head = "PUT /upload?id=0123 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n";
            let mut open = std::collections::VecDeque::new();
            o.ready.fetch_add(1, SeqCst);
            while !stop.load(SeqCst) {
                let mut c = connect_from(from, addr);
                c.write_all(head.as_bytes()).unwrap();
                open.push_back(c);
                // Held two seconds each (200 sockets), never read.
                if open.len() > 200 {
                    open.pop_front();
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// Whether the server has answered (or closed) a connection, without
/// waiting.
fn answered(c: &TcpStream) -> bool {
    c.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let ready = !matches!(c.peek(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
    c.set_nonblocking(false).unwrap();
    ready
}

#[test]
fn stalled_downloads_alone() {
    under_attack(&[Attack::StalledDownloads]);
}

#[test]
fn slow_readers_alone() {
    under_attack(&[Attack::SlowReaders]);
}

#[test]
fn a_slow_upload_alone() {
    under_attack(&[Attack::SlowUpload]);
}

#[test]
fn idle_sockets_alone() {
    under_attack(&[Attack::IdleSockets]);
}

#[test]
fn slow_heads_alone() {
    under_attack(&[Attack::SlowHeads]);
}

#[test]
fn missing_bodies_alone() {
    under_attack(&[Attack::MissingBodies]);
}

#[test]
fn every_attack_at_once() {
    under_attack(&ALL);
}

#[test]
fn one_address_past_its_cap_is_refused_and_others_still_get_in() {
    let s = TestServer::start(&["--max-connections-per-client", "16"]);
    let from = Ipv4Addr::new(127, 0, 9, 1);
    let held: Vec<TcpStream> = (0..16).map(|_| connect_from(from, s.addr)).collect();
    let mut over = connect_from(from, s.addr);
    over.write_all(b"GET /serviceInfo HTTP/1.1\r\nHost: x\r\n\r\n").ok();
    assert_eq!(status_of(&read_to_close(over)), 503);
    // Another address (the legitimate client's) still gets in.
    probe(s.addr, "/");
    drop(held);
    let get = b"GET /serviceInfo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    wait_for("the address's cap to release", || {
        let mut c = connect_from(from, s.addr);
        c.write_all(get).unwrap();
        status_of(&read_to_close(c)) == 200
    });
}
