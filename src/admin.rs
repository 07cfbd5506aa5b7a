//! The admin listener: `GET /metrics` for scrapers (open: it holds no
//! document data) and `GET /events` for `wfhook top` (admin token).
//!
//! `/events` is a stream of JSON lines: a `hello`, the recent `history`
//! from the journal, then each `event` with its sequence number (a gap
//! means the stream's queue overflowed) and a `stats` line every second.
//! Under load the events are the bus's sample, so that a watching `top`
//! costs the server the same at any request rate; the counts in `stats`
//! stay exact.
//! It is written straight to the socket, line by line, because tiny_http's
//! chunked encoder would hold lines back until a buffer fills.

use std::collections::HashSet;
use std::io::{self, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use tiny_http::{Method, Request, Response};

use crate::crypto;
use crate::events::Event;
use crate::http::response::safe_header;
use crate::http::{App, Snapshot, request};

/// Events of history a new stream starts with.
pub const HISTORY: usize = 500;
/// Streams open at once; more are refused with 503.
const MAX_STREAMS: usize = 8;
/// How often a stream writes what arrived.
const TICK: Duration = Duration::from_millis(100);
/// Events a stream may fall behind before it skips some (and says so).
const STREAM_QUEUE: usize = 4096;

/// One line of the `/events` stream.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Message {
    /// First line: `seq` is the number of the last sampled event before the
    /// stream.
    Hello {
        version: String,
        listen: String,
        seq: u64,
    },
    History {
        events: Vec<Event>,
    },
    Event {
        seq: u64,
        event: Event,
    },
    Stats {
        stats: Snapshot,
    },
}

/// Refuses an address that is not loopback unless allowed explicitly.
pub fn check_address(addr: &str, allow_remote: bool) -> io::Result<()> {
    let addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
    if !allow_remote && addrs.iter().any(|a| !a.ip().is_loopback()) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "the admin listener stays on loopback unless --admin-allow-remote is given",
        ));
    }
    Ok(())
}

/// Binds the admin listener and serves it on a thread of its own.
pub fn start(addr: &str, app: Arc<App>, token: String) -> io::Result<SocketAddr> {
    let server =
        tiny_http::Server::http(addr).map_err(|e| io::Error::new(io::ErrorKind::AddrNotAvailable, e.to_string()))?;
    let bound = server.server_addr().to_ip().ok_or_else(|| io::Error::other("not an IP listener"))?;
    let streams = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new().name("wfhook-admin".into()).spawn(move || {
        for rq in server.incoming_requests() {
            handle(rq, &app, &token, &streams);
        }
    })?;
    Ok(bound)
}

fn handle(rq: Request, app: &Arc<App>, token: &str, streams: &Arc<AtomicUsize>) {
    let path = request::split_target(rq.url()).0.to_string();
    // Every answer here declares its type and forbids guessing another,
    // like the main listener's.
    let nosniff = || safe_header("X-Content-Type-Options", "nosniff");
    let text = |status: u16, body: &str| {
        Response::from_string(body)
            .with_status_code(status)
            .with_header(safe_header("Content-Type", "text/plain; charset=utf-8"))
            .with_header(nosniff())
    };
    if !matches!(rq.method(), Method::Get | Method::Head) {
        let _ = rq.respond(text(405, "method not allowed\n").with_header(safe_header("Allow", "GET, HEAD")));
        return;
    }
    match path.as_str() {
        "/metrics" => {
            let ct = safe_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
            let _ = rq.respond(Response::from_string(app.metrics_text()).with_header(ct).with_header(nosniff()));
        }
        "/events" => {
            let given =
                request::header(&rq, "Authorization").and_then(|v| v.strip_prefix("Bearer ")).unwrap_or_default();
            if !crypto::ct_eq(given.trim().as_bytes(), token.as_bytes()) {
                let _ = rq.respond(text(403, "missing or invalid admin token\n"));
                return;
            }
            if streams.fetch_add(1, Ordering::SeqCst) >= MAX_STREAMS {
                streams.fetch_sub(1, Ordering::SeqCst);
                let _ = rq.respond(text(503, "too many event streams\n"));
                return;
            }
            let (app, streams) = (Arc::clone(app), Arc::clone(streams));
            let spawned = std::thread::Builder::new().name("wfhook-admin-stream".into()).spawn(move || {
                if let Err(e) = stream(rq, &app) {
                    log::debug!("event stream ended: {e}");
                }
                streams.fetch_sub(1, Ordering::SeqCst);
            });
            if spawned.is_err() {
                log::warn!("cannot start an event stream thread");
            }
        }
        _ => {
            let _ = rq.respond(text(404, "not found: try /metrics or /events\n"));
        }
    }
}

fn stream(rq: Request, app: &App) -> io::Result<()> {
    let rx = app.bus.subscribe(STREAM_QUEUE);
    let seq = app.bus.published();
    let history = app.journal.tail(HISTORY).unwrap_or_default();
    // An event is journaled before it is published: one published between
    // reading `seq` and reading the journal is in both, and its request id
    // keeps it out of the stream.
    let in_history: HashSet<CompactString> = history.iter().map(|e| e.request_id.clone()).collect();
    let mut w = rq.into_writer();
    w.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nX-Content-Type-Options: nosniff\r\n\
          Cache-Control: no-store\r\nConnection: close\r\n\r\n",
    )?;
    let snapshot = app.snapshot();
    let mut batch = Vec::new();
    line(&mut batch, &Message::Hello { version: snapshot.version.clone(), listen: snapshot.listen.clone(), seq })?;
    line(&mut batch, &Message::History { events: history })?;
    line(&mut batch, &Message::Stats { stats: snapshot })?;
    let mut last_stats = Instant::now();
    loop {
        if !batch.is_empty() {
            w.write_all(&batch)?;
            w.flush()?;
            batch.clear();
        }
        // One write per tick, whatever the request rate.
        std::thread::sleep(TICK);
        for (n, event) in rx.try_iter() {
            // Events published before the history was read are in it.
            if n > seq && !in_history.contains(&event.request_id) {
                line(&mut batch, &Message::Event { seq: n, event: Arc::unwrap_or_clone(event) })?;
            }
        }
        if last_stats.elapsed() >= Duration::from_secs(1) {
            line(&mut batch, &Message::Stats { stats: app.snapshot() })?;
            last_stats = Instant::now();
        }
    }
}

fn line(out: &mut Vec<u8>, m: &Message) -> io::Result<()> {
    serde_json::to_writer(&mut *out, m).map_err(io::Error::other)?;
    out.push(b'\n');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_without_the_switch() {
        assert!(check_address("127.0.0.1:0", false).is_ok());
        assert!(check_address("[::1]:0", false).is_ok());
        assert!(check_address("0.0.0.0:9101", false).is_err());
        assert!(check_address("0.0.0.0:9101", true).is_ok());
    }

    /// The head of the answer to `request`, sent to `addr` on a connection
    /// of its own.
    fn head(addr: SocketAddr, request: &str) -> String {
        use std::io::Read;
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        // Far longer than a loopback answer takes: a deadline, not a pace.
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let (mut got, mut buf) = (Vec::new(), [0u8; 1024]);
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "closed before the head: {:?}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&got).into_owned();
        text.split("\r\n\r\n").next().unwrap().to_string()
    }

    #[test]
    fn every_answer_says_nosniff() {
        let root = tempfile::tempdir().unwrap();
        let addr = start("127.0.0.1:0", crate::http::server::test_app(root.path()), "t0ken".into()).unwrap();
        let asks = [
            ("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n", "200"),
            ("GET /nowhere HTTP/1.1\r\nHost: a\r\n\r\n", "404"),
            ("POST /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", "405"),
            ("GET /events HTTP/1.1\r\nHost: a\r\n\r\n", "403"),
            ("GET /events HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer t0ken\r\n\r\n", "200"),
        ];
        for (ask, status) in asks {
            let head = head(addr, ask);
            assert!(head.starts_with(&format!("HTTP/1.1 {status} ")), "{ask:?}: {head}");
            assert!(head.contains("\r\nContent-Type: "), "{ask:?}: {head}");
            assert_eq!(head.matches("\r\nX-Content-Type-Options: nosniff").count(), 1, "{ask:?}: {head}");
        }
    }

    #[test]
    fn messages_are_tagged_json_lines() {
        let m = Message::Hello { version: "1".into(), listen: "a".into(), seq: 3 };
        let line = serde_json::to_string(&m).unwrap();
        assert_eq!(line, r#"{"type":"hello","version":"1","listen":"a","seq":3}"#);
        assert!(matches!(serde_json::from_str(&line).unwrap(), Message::Hello { seq: 3, .. }));
    }
}
