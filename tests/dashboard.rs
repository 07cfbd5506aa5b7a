//! The operator's side: `/metrics` and `/events` on the admin listener,
//! `wfhook top` following a real server (and reconnecting to it) and never
//! sending its token to another program on the admin port, and the real
//! binary drawing its dashboard in a terminal under tmux (where SIGHUP
//! reloads the keys and does not stop it).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::{Arc, Mutex};

use common::{TestServer, Tmux, free_port, request, wait_for, wait_for_listener, wait_until};
use wfhook::dashboard::{ConnState, Feed};

fn admin_server() -> TestServer {
    TestServer::start(&["--admin-listen", "127.0.0.1:0"])
}

/// The server's admin token, once its admin listener runs (the token is
/// created just before, after the `listening on` line).
fn token(server: &TestServer) -> String {
    server.admin_addr();
    std::fs::read_to_string(server.state_dir().admin_token()).unwrap().trim().to_string()
}

/// The next feed message that `want` accepts, skipping the others (at most
/// [`common::WAIT`]).
fn next_in_feed<T>(rx: &Receiver<Feed>, what: &str, mut want: impl FnMut(&Feed) -> Option<T>) -> T {
    wait_until(&format!("{what} in the feed"), || {
        loop {
            match rx.try_recv() {
                Ok(f) => {
                    if let Some(t) = want(&f) {
                        return Some(t);
                    }
                }
                Err(TryRecvError::Empty) => return None,
                Err(TryRecvError::Disconnected) => panic!("the feed ended before {what}"),
            }
        }
    })
}

#[test]
fn metrics_are_open_and_count_requests_actions_and_latency() {
    let server = admin_server();
    let admin = server.admin_addr();
    assert_eq!(server.action("ping", "", None).status, 200);
    assert_eq!(server.action("ping", "", None).status, 200);
    assert_eq!(server.action("lock", "unknown-doc", None).status, 404);
    // A worker counts its request as in flight until `respond` returns,
    // which can be just after the client has read the answer.
    wait_for("no request in flight", || common::metric(&server.metrics(), "wfhook_in_flight_requests") == 0.0);
    let page = request(admin, "GET", "/metrics", &[], b"");
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").unwrap().starts_with("text/plain; version=0.0.4"));
    let text = String::from_utf8(page.body).unwrap();
    for line in [
        "wfhook_requests_total{endpoint=\"customAction\",status=\"200\"} 2",
        "wfhook_requests_total{endpoint=\"customAction\",status=\"404\"} 1",
        "wfhook_action_calls_total{action=\"ping\"} 2",
        "wfhook_action_failures_total{action=\"lock\"} 1",
        "wfhook_request_duration_seconds_count{endpoint=\"customAction\"} 3",
        "wfhook_in_flight_requests 0",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    assert!(text.contains(&format!("wfhook_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"))));
    assert!(!text.contains("test-key"), "the metrics page must not hold a key");
}

#[test]
fn the_event_stream_needs_the_admin_token() {
    let server = admin_server();
    let admin = server.admin_addr();
    assert_eq!(request(admin, "GET", "/events", &[], b"").status, 403);
    let wrong = request(admin, "GET", "/events", &[("Authorization", "Bearer nope")], b"");
    assert_eq!(wrong.status, 403);
    // The API key is not the admin token.
    let api = request(admin, "GET", "/events", &[("Authorization", "Bearer test-key")], b"");
    assert_eq!(api.status, 403);
    assert_eq!(request(admin, "POST", "/metrics", &[], b"").status, 405);
    assert_eq!(request(admin, "GET", "/nothing", &[], b"").status, 404);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(server.state_dir().admin_token()).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn the_admin_listener_stays_on_loopback_unless_allowed() {
    let out = common::command()
        .args(["serve", "--listen", "127.0.0.1:0", "--admin-listen", "0.0.0.0:0", "--root"])
        .arg(tempfile::tempdir().unwrap().path().join("r"))
        .env("WFHOOK_API_KEY", "k")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--admin-allow-remote"));
}

#[test]
fn top_follows_a_real_server_with_history_and_reconnects() {
    let port = free_port();
    let admin = format!("127.0.0.1:{port}");
    let mut server = TestServer::start(&["--admin-listen", &admin]);
    let root = server.root.clone();
    // Handled before top connects: it arrives as history.
    assert_eq!(server.action("ping", "", None).status, 200);
    let token = token(&server);
    let (tx, rx) = mpsc::sync_channel(1024);
    let follow_admin = admin.clone();
    std::thread::spawn(move || wfhook::top::follow(&follow_admin, &token, &tx));

    next_in_feed(&rx, "connection", |f| (*f == Feed::Connection(ConnState::Connected)).then_some(()));
    next_in_feed(&rx, "history", |f| match f {
        Feed::Event(e) if e.action.as_deref() == Some("ping") => Some(()),
        _ => None,
    });
    assert_eq!(server.action("lock", "no-such-doc", None).status, 404);
    let live = next_in_feed(&rx, "live event", |f| match f {
        Feed::Event(e) if e.action.as_deref() == Some("lock") => Some(e.clone()),
        _ => None,
    });
    assert_eq!((live.status, live.document_id.as_deref()), (404, Some("no-such-doc")));
    let stats = next_in_feed(&rx, "stats", |f| match f {
        Feed::Stats(s) if s.total >= 2 => Some(s.clone()),
        _ => None,
    });
    assert_eq!((stats.failures, stats.version.as_str()), (1, env!("CARGO_PKG_VERSION")));
    // The actions table's counts are the server's own.
    let count = |name: &str| stats.actions.iter().find(|a| a.name == name).map(|a| (a.calls, a.failures));
    assert_eq!((count("ping"), count("lock"), count("archive")), (Some((1, 0)), Some((1, 1)), Some((0, 0))));

    // The server goes away: top says so and keeps trying.
    assert!(server.stop().success());
    next_in_feed(&rx, "disconnection", |f| matches!(f, Feed::Connection(ConnState::Disconnected { .. })).then_some(()));
    // It comes back on the same root and admin address: top reconnects.
    let again = TestServer::builder().root(&root).args(&["--admin-listen", &admin]).start();
    next_in_feed(&rx, "reconnection", |f| (*f == Feed::Connection(ConnState::Connected)).then_some(()));
    assert_eq!(again.action("ping", "", None).status, 200);
    next_in_feed(&rx, "event after reconnecting", |f| match f {
        Feed::Event(e) if e.action.as_deref() == Some("ping") && e.request_id != live.request_id => Some(()),
        _ => None,
    });
}

#[test]
fn tui_without_a_terminal_runs_headless() {
    let server = TestServer::start(&["--tui"]);
    assert_eq!(server.action("ping", "", None).status, 200);
    assert!(server.stderr().contains("not a terminal"), "{}", server.stderr());
}

/// The terminal the dashboard tests draw in.
const SCREEN: (u16, u16) = (120, 36);

/// `serve --tui` with the key `test-key` in a tmux session, on the port the
/// system picks (read off the dashboard's header); `then` is shell that runs
/// in the pane after it exits.
fn serve_tui(root: &Path, then: &str) -> (Tmux, SocketAddr) {
    serve_tui_with(root, "", &[("WFHOOK_API_KEY", "test-key")], then)
}

/// [`serve_tui`] with more arguments (` --flag value`…) and its own
/// environment. Without `then`, the pane's process is wfhook itself.
fn serve_tui_with(root: &Path, args: &str, env: &[(&str, &str)], then: &str) -> (Tmux, SocketAddr) {
    let exec = if then.is_empty() { "exec " } else { "" };
    let cmd = format!(
        "{exec}{} serve --tui --listen 127.0.0.1:0 --admin-listen off --root {}{args}{then}",
        common::bin(),
        root.display()
    );
    let tmux = Tmux::start(&cmd, env, SCREEN);
    let header = tmux.wait_for_screen_that("the listen address", |s| listen_addr(s).is_some());
    let addr = listen_addr(&header).unwrap();
    wait_for_listener(addr);
    (tmux, addr)
}

/// The `listen ADDR` the dashboard's header shows, once it is a real port.
fn listen_addr(screen: &str) -> Option<SocketAddr> {
    let addr: SocketAddr = screen.split("listen ").nth(1)?.split_whitespace().next()?.parse().ok()?;
    (addr.port() != 0).then_some(addr)
}

#[test]
fn the_real_binary_shows_the_dashboard_in_a_terminal_and_quits_when_confirmed() {
    if common::tools_or_skip(&["tmux"]).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (tmux, addr) = serve_tui(&dir.path().join("root"), "; echo EXIT=$?; sleep 30");
    let auth = [("apiKey", "test-key"), ("username", "ann")];
    assert_eq!(request(addr, "GET", "/customAction?name=ping", &auth, b"").status, 200);
    assert_eq!(request(addr, "GET", "/customAction?name=lock&documentId=gone", &auth, b"").status, 404);
    let screen = tmux.wait_for_screen(&["Live invocations", "Failures", " ann ", "ping", "404"]);
    assert!(screen.contains(&format!("listen {addr}")), "{screen}");
    // Logs go to the log pane, never onto the screen as raw lines.
    assert!(!screen.lines().any(|l| l.starts_with('[')), "{screen}");

    let help_open = "Esc or ? closes";
    tmux.keys(&["?"]);
    tmux.wait_for_screen(&[help_open]);
    // Escape closes the help before `p` is typed: sent together, the
    // terminal reads the two as one Alt-p.
    tmux.keys(&["Escape"]);
    tmux.wait_for_screen_that("the help closed", |s| !s.contains(help_open));
    tmux.keys(&["p"]);
    tmux.wait_for_screen(&["PAUSED"]);
    tmux.keys(&["p", "q"]);
    tmux.wait_for_screen(&["Stop the server? y/n"]);
    tmux.keys(&["n"]);
    tmux.wait_for_screen_that("the quit cancelled by n", |s| !s.contains("Stop the server?"));
    // Still serving after the cancelled quit.
    assert_eq!(request(addr, "GET", "/serviceInfo", &[], b"").status, 200);
    tmux.keys(&["q", "y"]);
    let screen = tmux.wait_for_screen(&["EXIT=0"]);
    // The terminal was given back: the dashboard's frame is gone.
    assert!(!screen.contains("Live invocations"), "{screen}");
}

/// The number right after `before` in `text` (`" 1/"` in `" 1/1600 "`), or 0.
fn number_after(text: &str, before: &str) -> usize {
    let rest = text.split_once(before).map_or("", |(_, rest)| rest);
    rest.split(|c: char| !c.is_ascii_digit()).next().and_then(|n| n.parse().ok()).unwrap_or(0)
}

#[test]
fn a_burst_is_counted_exactly_on_screen_even_when_the_live_list_is_sampled() {
    if common::tools_or_skip(&["tmux"]).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (tmux, addr) = serve_tui(&dir.path().join("root"), "");
    // Faster than the live list's sample of 2,000 a second where the
    // machine allows; the actions table counts every call all the same.
    let (threads, each) = (4, 1_500);
    let burst: Vec<_> = (0..threads)
        .map(|_| {
            std::thread::spawn(move || {
                let auth = [("apiKey", "test-key"), ("username", "ann")];
                (0..each).filter(|_| request(addr, "GET", "/customAction?name=ping", &auth, b"").status == 200).count()
            })
        })
        .collect();
    let ok: usize = burst.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(ok, threads * each);
    tmux.keys(&["Tab", "Tab"]);
    tmux.wait_for_screen_that(&format!("all {ok} pings accounted for"), |screen| {
        let ping = screen.lines().find(|l| l.trim_start_matches(['┃', '│']).starts_with("ping ")).unwrap_or_default();
        // Every request is either in the live list or counted as not listed.
        let title = screen.lines().find(|l| l.contains("Live invocations")).unwrap_or_default();
        let (listed, not_listed) = (number_after(title, " 1/"), number_after(title, "sampled: "));
        ping.contains(&format!(" {ok} ")) && listed + not_listed == ok
    });
}

#[test]
fn top_in_a_terminal_shows_a_server_running_elsewhere_and_never_stops_it() {
    if common::tools_or_skip(&["tmux"]).is_none() {
        return;
    }
    let server = admin_server();
    let admin = server.admin_addr();
    assert_eq!(server.action("ping", "", None).status, 200);
    let cmd =
        format!("{} top --connect {admin} --root {}; echo EXIT=$?; sleep 30", common::bin(), server.root.display());
    let tmux = Tmux::start(&cmd, &[], SCREEN);
    tmux.wait_for_screen(&["Live invocations", "connected", "ping", "tester@"]);
    tmux.keys(&["q"]);
    tmux.wait_for_screen(&["EXIT=0"]);
    assert_eq!(server.action("ping", "", None).status, 200);
}

/// Another program on the admin port: it answers `top` as a server would,
/// without knowing the token, and keeps every byte it is sent.
struct Impostor {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<u8>>>,
    challenges: Arc<AtomicUsize>,
}

impl Impostor {
    /// Answers each `/challenge` in turn with `answers` (JSON bodies), each
    /// `/events` with a stream's first lines, anything else with 404.
    fn start(answers: Vec<String>) -> Impostor {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let challenges = Arc::new(AtomicUsize::new(0));
        let (rec, count) = (Arc::clone(&received), Arc::clone(&challenges));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let request = read_request(&mut conn);
                rec.lock().unwrap().extend_from_slice(&request);
                let text = String::from_utf8_lossy(&request).into_owned();
                let answer = if text.starts_with("GET /challenge ") {
                    let n = count.fetch_add(1, Ordering::SeqCst);
                    let body = &answers[n % answers.len()];
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    )
                } else if text.starts_with("GET /events ") {
                    let hello = r#"{"type":"hello","version":"0","listen":"x","seq":0}"#;
                    format!("HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n\r\n{hello}\n")
                } else {
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_string()
                };
                let _ = conn.write_all(answer.as_bytes());
                // Whatever else the client sends on this connection is
                // recorded too, until it closes it.
                let mut rest = Vec::new();
                let _ = conn.read_to_end(&mut rest);
                rec.lock().unwrap().extend_from_slice(&rest);
            }
        });
        Impostor { addr, received, challenges }
    }

    fn challenges(&self) -> usize {
        self.challenges.load(Ordering::SeqCst)
    }

    /// Asserts that nothing it received holds `token`, in any spelling
    /// a client might send it in.
    fn assert_never_got(&self, token: &str) {
        let got = self.received.lock().unwrap().clone();
        let text = String::from_utf8_lossy(&got).into_owned();
        assert!(text.contains("GET /challenge "), "top never asked: {text}");
        assert!(!text.contains("GET /events") && !text.contains("Authorization"), "{text}");
        let bytes = token.as_bytes();
        let decoded: Vec<u8> = (0..bytes.len() / 2)
            .map(|i| u8::from_str_radix(&token[2 * i..2 * i + 2], 16).expect("the token is hex"))
            .collect();
        let spellings: Vec<Vec<u8>> = [
            token.to_string(),
            token.to_ascii_uppercase(),
            hex(bytes),
            base64(bytes),
            base64(bytes).replace('+', "-").replace('/', "_"),
            base64(&decoded),
            base64(&decoded).replace('+', "-").replace('/', "_"),
        ]
        .into_iter()
        .map(|s| s.trim_end_matches('=').as_bytes().to_vec())
        .chain([decoded.clone()])
        .collect();
        for spelling in spellings {
            let found = got.windows(spelling.len()).any(|w| w == spelling.as_slice());
            assert!(!found, "the impostor received the token as {:?}:\n{text}", String::from_utf8_lossy(&spelling));
        }
    }
}

/// One request's bytes: up to the end of its head (or of the connection).
fn read_request(conn: &mut TcpStream) -> Vec<u8> {
    conn.set_read_timeout(Some(common::IO_TIMEOUT)).unwrap();
    let (mut got, mut buf) = (Vec::new(), [0u8; 1024]);
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// What the real listener answers to a challenge with the test's own
/// nonce: a genuine proof, for the impostor to replay.
fn genuine_challenge(admin: SocketAddr) -> String {
    let nonce = wfhook::admin::nonce();
    let answer = request(admin, "GET", "/challenge", &[("Wfhook-Nonce", &nonce)], b"");
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.text()
}

#[test]
fn top_never_sends_the_token_to_another_program_on_the_admin_port() {
    let server = admin_server();
    let token = token(&server);
    // Answers that look right: a made-up proof, and one the real listener
    // gave for another nonce, replayed.
    let made_up = format!(r#"{{"nonce":"{}","proof":"{}"}}"#, wfhook::admin::nonce(), wfhook::admin::nonce());
    let impostor = Impostor::start(vec![made_up, genuine_challenge(server.admin_addr()), "not json".into()]);
    let (tx, rx) = mpsc::sync_channel(1024);
    let (addr, t) = (impostor.addr.to_string(), token.clone());
    std::thread::spawn(move || wfhook::top::follow(&addr, &t, &tx));

    // top asks, is not convinced, says it is disconnected, and asks again
    // later (0.25 s, then 0.5 s…), each kind of answer at least once.
    let mut states = Vec::new();
    wait_until("top to try every answer", || {
        states.extend(rx.try_iter().filter_map(|f| match f {
            Feed::Connection(c) => Some(c),
            _ => None,
        }));
        (impostor.challenges() >= 4 && states.len() >= 4).then_some(())
    });
    assert!(states.iter().all(|c| matches!(c, ConnState::Disconnected { .. })), "{states:?}");
    drop(rx);
    impostor.assert_never_got(&token);

    // The same token, against the real listener: top connects and follows.
    let (tx, rx) = mpsc::sync_channel(1024);
    let admin = server.admin_addr().to_string();
    std::thread::spawn(move || wfhook::top::follow(&admin, &token, &tx));
    next_in_feed(&rx, "connection", |f| (*f == Feed::Connection(ConnState::Connected)).then_some(()));
    assert_eq!(server.action("ping", "", None).status, 200);
    next_in_feed(&rx, "the live event", |f| match f {
        Feed::Event(e) if e.action.as_deref() == Some("ping") => Some(()),
        _ => None,
    });
}

#[test]
fn the_real_top_logs_why_it_will_not_authenticate_to_an_impostor() {
    if common::tools_or_skip(&["tmux"]).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let token = wfhook::crypto::random_hex(32);
    let made_up = format!(r#"{{"nonce":"{}","proof":"{}"}}"#, wfhook::admin::nonce(), wfhook::admin::nonce());
    let impostor = Impostor::start(vec![made_up]);
    let log = dir.path().join("top.log");
    let cmd = format!("{} top --connect {} --log-file {}", common::bin(), impostor.addr, log.display());
    let tmux = Tmux::start(&cmd, &[("WFHOOK_ADMIN_TOKEN", &token)], SCREEN);
    tmux.wait_for_screen(&["disconnected, retry in"]);
    wait_for("two refusals in top's log", || {
        std::fs::read_to_string(&log)
            .is_ok_and(|l| l.matches("did not prove that it knows the admin token").count() >= 2)
    });
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("WARN") && text.contains("the token was not sent"), "{text}");
    assert!(!text.contains(&token), "{text}");
    tmux.keys(&["q"]);
    impostor.assert_never_got(&token);
}

#[test]
fn sighup_reloads_the_keys_under_the_dashboard_and_never_stops_it() {
    if common::tools_or_skip(&["tmux"]).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    std::fs::write(&keys, "tui-key-1\n").unwrap();
    let args = format!(" --api-keys-file {}", keys.display());
    let (tmux, addr) = serve_tui_with(&dir.path().join("root"), &args, &[], "");
    let status =
        |key: &str| request(addr, "GET", "/metadata?id=%2F", &[("apiKey", key), ("username", "ann")], b"").status;
    assert_eq!((status("tui-key-1"), status("tui-key-2")), (200, 403));
    std::fs::write(&keys, "tui-key-2\n").unwrap();
    let pid = tmux.pid().to_string();
    assert!(std::process::Command::new("kill").args(["-s", "HUP", &pid]).status().unwrap().success());
    wait_for("the new key accepted", || status("tui-key-2") == 200);
    assert_eq!(status("tui-key-1"), 403);
    // The log pane shares the lower pane with the actions: Tab brings it up.
    tmux.keys(&["Tab", "Tab", "Tab"]);
    tmux.wait_for_screen(&["reloaded the API keys file", "Live invocations"]);
    assert!(Path::new(&format!("/proc/{pid}")).exists(), "the server is gone");
}

/// The operator's terminal goes away (an SSH session or a tmux window
/// closed): SIGHUP reloads the keys now, so it is the dashboard that sees
/// the hang-up, and `serve --tui` stops as on SIGTERM instead of running on
/// without a screen (or spinning on a dead terminal).
#[test]
fn serve_tui_stops_when_its_terminal_goes_away() {
    if common::tools_or_skip(&["tmux"]).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let args = format!(" --log-file {}", log.display());
    let (tmux, _) = serve_tui_with(&dir.path().join("root"), &args, &[("WFHOOK_API_KEY", "test-key")], "");
    let pid = tmux.pid();
    drop(tmux);
    // Gone, or a zombie nobody has reaped yet.
    let running = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| stat.rsplit(") ").next().is_some_and(|rest| !rest.starts_with('Z')))
    };
    wait_for("serve --tui to stop once its terminal is gone", || !running());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("the terminal went away: stopping") && text.contains("stopped:"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
}
