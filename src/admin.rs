//! The admin listener: `GET /metrics` for scrapers (open: it holds no
//! document data), `GET /events` for `wfhook top` and for scripts (admin
//! token), and `GET /challenge`, by which the listener proves that it knows
//! the admin token before `top` authenticates; and both sides of that
//! proof ([`Proofs`]), since `top` checks what this listener writes.
//!
//! `/events` is a stream of JSON lines: a `hello`, the recent `history`
//! from the journal, then each `event` with its sequence number (a gap
//! means the stream's queue overflowed) and a `stats` line every second.
//! Under load the events are the bus's sample, so that a watching `top`
//! costs the server the same at any request rate; the counts in `stats`
//! stay exact.
//! It is written straight to the socket, line by line, because tiny_http's
//! chunked encoder would hold lines back until a buffer fills.
//!
//! # Authentication
//!
//! A script sends the token itself: `Authorization: Bearer <token>`. `top`
//! never does: the admin port may be held by some other program (the
//! default port taken before the server started, which then runs without
//! its admin listener), and that program would read the token. Instead:
//!
//! 1. `top` asks `GET /challenge` with the header `Wfhook-Nonce: <cn>`,
//!    `cn` being 32 fresh random bytes in lower-case hex.
//! 2. The listener answers `200`, `application/json`:
//!    `{"nonce":"<ln>","proof":"<lp>"}`, with `ln` its own fresh nonce
//!    (same form) and `lp` = HMAC-SHA256(token; `wfhook-admin-v1 listener
//!    proof`, `cn`, `ln`) in lower-case hex. A missing or malformed
//!    `Wfhook-Nonce` gets `400`.
//! 3. `top` checks `lp` in constant time. If it does not verify, `top` sends
//!    nothing more, shows the connection as lost, logs why, and tries again
//!    later with a new nonce.
//! 4. `top` asks `GET /events` with `Authorization: Wfhook-Proof <ln> <cp>`,
//!    `cp` = HMAC-SHA256(token; `wfhook-admin-v1 client proof`, `cn`, `ln`).
//! 5. The listener takes `ln` out of its pending challenges and checks `cp`
//!    in constant time: the stream, or `403`. A nonce is good for one try,
//!    for [`CHALLENGE_TTL`] at most, and at most [`MAX_PENDING`] wait at once
//!    (the oldest is dropped for a new one), so memory stays bounded.
//!
//! The key is the token's text (trimmed); each part of the message is
//! preceded by its length as 8 bytes, big-endian (the framing of
//! [`crypto::Signer`]). The two labels differ, so a listener's proof is
//! never a client's, and each proof covers both nonces, so none can be
//! replayed in another exchange. The challenge authenticates; it does not
//! encrypt: a program on the admin port that relays both requests to the
//! real listener reads the stream it relays, never the token, and never a
//! proof that works twice.

use std::collections::{HashSet, VecDeque};
use std::io::{self, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use tiny_http::{Method, Request, Response};

use crate::crypto::{self, Signer};
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

/// The header of `GET /challenge` that carries the client's nonce.
pub const NONCE_HEADER: &str = "Wfhook-Nonce";
/// The `Authorization` scheme of a client's proof.
pub const PROOF_SCHEME: &str = "Wfhook-Proof";
/// Random bytes in a nonce; in hex, twice that.
const NONCE_BYTES: usize = 32;
/// How long a listener's nonce waits for the client's proof: the client
/// sends it at once, so this only needs to outlast a loaded machine.
pub const CHALLENGE_TTL: Duration = Duration::from_secs(30);
/// Challenges waiting for their proof at once; a new one drops the oldest.
pub const MAX_PENDING: usize = 64;
/// The labels that keep the two proofs apart.
const LISTENER_PROOF: &str = "wfhook-admin-v1 listener proof";
const CLIENT_PROOF: &str = "wfhook-admin-v1 client proof";

/// The answer to `GET /challenge`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Challenge {
    /// The listener's nonce, which the client's proof covers.
    pub nonce: String,
    /// The listener's proof over the client's nonce and its own.
    pub proof: String,
}

/// Both proofs of one exchange, keyed by the admin token.
pub struct Proofs(Signer);

impl Proofs {
    pub fn new(token: &str) -> Proofs {
        Proofs(Signer::new(token.as_bytes()))
    }

    /// The listener's proof that it knows the token.
    pub fn listener(&self, client_nonce: &str, listener_nonce: &str) -> String {
        self.0.sign(&[LISTENER_PROOF, client_nonce, listener_nonce])
    }

    /// Checks a listener's proof in constant time.
    pub fn verify_listener(&self, client_nonce: &str, listener_nonce: &str, proof: &str) -> bool {
        self.0.verify(&[LISTENER_PROOF, client_nonce, listener_nonce], proof)
    }

    /// The client's proof that it knows the token.
    pub fn client(&self, client_nonce: &str, listener_nonce: &str) -> String {
        self.0.sign(&[CLIENT_PROOF, client_nonce, listener_nonce])
    }

    /// Checks a client's proof in constant time.
    pub fn verify_client(&self, client_nonce: &str, listener_nonce: &str, proof: &str) -> bool {
        self.0.verify(&[CLIENT_PROOF, client_nonce, listener_nonce], proof)
    }
}

/// A fresh nonce: random bytes from the OS, in lower-case hex.
pub fn nonce() -> String {
    crypto::random_hex(NONCE_BYTES)
}

/// True for a nonce as [`nonce`] writes it, and nothing else.
pub fn is_nonce(s: &str) -> bool {
    s.len() == 2 * NONCE_BYTES && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The challenges the listener issued and whose proof has not come yet,
/// oldest first.
#[derive(Default)]
struct Challenges {
    pending: VecDeque<Pending>,
}

struct Pending {
    listener_nonce: String,
    client_nonce: String,
    issued: Instant,
}

impl Challenges {
    /// Records a challenge for `client_nonce`; the listener's nonce.
    fn issue(&mut self, client_nonce: &str, now: Instant) -> String {
        self.expire(now);
        if self.pending.len() >= MAX_PENDING {
            self.pending.pop_front();
        }
        let listener_nonce = nonce();
        self.pending.push_back(Pending {
            listener_nonce: listener_nonce.clone(),
            client_nonce: client_nonce.to_string(),
            issued: now,
        });
        listener_nonce
    }

    /// The client nonce of the live challenge `listener_nonce`, which is
    /// used up by this call whatever the proof turns out to be.
    fn take(&mut self, listener_nonce: &str, now: Instant) -> Option<String> {
        self.expire(now);
        let at =
            self.pending.iter().position(|p| crypto::ct_eq(p.listener_nonce.as_bytes(), listener_nonce.as_bytes()))?;
        self.pending.remove(at).map(|p| p.client_nonce)
    }

    fn expire(&mut self, now: Instant) {
        while self.pending.front().is_some_and(|p| now.duration_since(p.issued) >= CHALLENGE_TTL) {
            self.pending.pop_front();
        }
    }
}

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
        // One thread takes every request: the pending challenges need no lock.
        let mut auth = Auth { proofs: Proofs::new(&token), token, challenges: Challenges::default() };
        for rq in server.incoming_requests() {
            handle(rq, &app, &mut auth, &streams);
        }
    })?;
    Ok(bound)
}

/// What the listener authenticates `/events` with.
struct Auth {
    token: String,
    proofs: Proofs,
    challenges: Challenges,
}

impl Auth {
    /// Answers `GET /challenge`: `None` for a missing or malformed nonce.
    fn challenge(&mut self, client_nonce: Option<&str>) -> Option<Challenge> {
        let client_nonce = client_nonce.map(str::trim).filter(|n| is_nonce(n))?;
        let nonce = self.challenges.issue(client_nonce, Instant::now());
        Some(Challenge { proof: self.proofs.listener(client_nonce, &nonce), nonce })
    }

    /// True when `authorization` holds the token (`Bearer`) or a proof for
    /// a live challenge (`Wfhook-Proof`).
    fn allows(&mut self, authorization: &str) -> bool {
        if let Some(given) = authorization.strip_prefix("Bearer ") {
            return crypto::ct_eq(given.trim().as_bytes(), self.token.as_bytes());
        }
        let Some(rest) = authorization.strip_prefix(PROOF_SCHEME).and_then(|r| r.strip_prefix(' ')) else {
            return false;
        };
        let mut parts = rest.split_whitespace();
        let (Some(listener_nonce), Some(proof), None) = (parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        self.challenges
            .take(listener_nonce, Instant::now())
            .is_some_and(|client_nonce| self.proofs.verify_client(&client_nonce, listener_nonce, proof))
    }
}

fn handle(rq: Request, app: &Arc<App>, auth: &mut Auth, streams: &Arc<AtomicUsize>) {
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
        "/challenge" => match auth.challenge(request::header(&rq, NONCE_HEADER)) {
            Some(c) => {
                let body = serde_json::to_string(&c).unwrap_or_default();
                let _ = rq.respond(
                    Response::from_string(body)
                        .with_header(safe_header("Content-Type", "application/json"))
                        .with_header(safe_header("Cache-Control", "no-store"))
                        .with_header(nosniff()),
                );
            }
            None => {
                let _ = rq.respond(text(400, "a Wfhook-Nonce header of 64 lower-case hex digits is needed\n"));
            }
        },
        "/events" => {
            if !auth.allows(request::header(&rq, "Authorization").unwrap_or_default()) {
                let _ = rq.respond(text(403, "missing or invalid admin token or proof\n"));
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
            let _ = rq.respond(text(404, "not found: try /metrics, /events or /challenge\n"));
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
            ("GET /challenge HTTP/1.1\r\nHost: a\r\n\r\n", "400"),
            (&format!("GET /challenge HTTP/1.1\r\nHost: a\r\nWfhook-Nonce: {}\r\n\r\n", nonce()), "200"),
        ];
        for (ask, status) in asks {
            let head = head(addr, ask);
            assert!(head.starts_with(&format!("HTTP/1.1 {status} ")), "{ask:?}: {head}");
            assert!(head.contains("\r\nContent-Type: "), "{ask:?}: {head}");
            assert_eq!(head.matches("\r\nX-Content-Type-Options: nosniff").count(), 1, "{ask:?}: {head}");
        }
    }

    /// The whole answer to `request`, sent to `addr` with `Connection:
    /// close`: (head, body).
    fn exchange(addr: SocketAddr, request: &str) -> (String, String) {
        use std::io::Read;
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut got = String::new();
        s.read_to_string(&mut got).unwrap();
        let (head, body) = got.split_once("\r\n\r\n").unwrap();
        (head.to_string(), body.to_string())
    }

    #[test]
    fn proofs_bind_the_token_both_nonces_and_their_side() {
        let (p, cn, ln) = (Proofs::new("t0ken"), nonce(), nonce());
        let lp = p.listener(&cn, &ln);
        let cp = p.client(&cn, &ln);
        assert!(p.verify_listener(&cn, &ln, &lp) && p.verify_client(&cn, &ln, &cp));
        // Without the token, no proof: a wrong or a near token fails.
        for other in ["t0ke", "t0ken0", "T0KEN", ""] {
            let q = Proofs::new(other);
            assert!(!p.verify_listener(&cn, &ln, &q.listener(&cn, &ln)), "{other:?}");
            assert!(!q.verify_listener(&cn, &ln, &lp), "{other:?}");
            assert!(!p.verify_client(&cn, &ln, &q.client(&cn, &ln)), "{other:?}");
        }
        // A proof recorded in one exchange fails in any other: a replayed
        // listener proof answers the client's old nonce, not its fresh one.
        let (fresh_cn, fresh_ln) = (nonce(), nonce());
        assert!(!p.verify_listener(&fresh_cn, &ln, &lp));
        assert!(!p.verify_listener(&cn, &fresh_ln, &lp));
        assert!(!p.verify_client(&cn, &fresh_ln, &cp));
        assert!(!p.verify_client(&fresh_cn, &ln, &cp));
        // The sides are kept apart: neither proof stands for the other,
        // whatever the nonces' order.
        assert_ne!(lp, cp);
        assert!(!p.verify_client(&cn, &ln, &lp) && !p.verify_listener(&cn, &ln, &cp));
        assert!(!p.verify_client(&ln, &cn, &lp) && !p.verify_listener(&ln, &cn, &cp));
        assert!(!p.verify_listener(&ln, &cn, &lp));
        // Only the exact spelling of a proof counts.
        assert!(!p.verify_listener(&cn, &ln, &lp.to_ascii_uppercase()));
        assert!(!p.verify_listener(&cn, &ln, &lp[..lp.len() - 2]));
    }

    #[test]
    fn only_nonces_as_written_are_nonces() {
        assert!(is_nonce(&nonce()));
        assert_ne!(nonce(), nonce());
        for bad in
            [String::new(), "a".repeat(63), "a".repeat(65), "A".repeat(64), "g".repeat(64), format!("{:64}", "a")]
        {
            assert!(!is_nonce(&bad), "{bad:?}");
        }
    }

    #[test]
    fn challenges_are_single_use_short_lived_and_bounded() {
        let mut c = Challenges::default();
        let t0 = Instant::now();
        let a = c.issue("cn-a", t0);
        let b = c.issue("cn-b", t0);
        assert_eq!(c.take(&a, t0).as_deref(), Some("cn-a"));
        assert_eq!(c.take(&a, t0), None, "used once");
        assert_eq!(c.take("never-issued", t0), None);
        // Just before its time is up it still counts; at that time it is gone.
        let last = t0 + CHALLENGE_TTL - Duration::from_millis(1);
        let b2 = c.issue("cn-b2", t0);
        assert_eq!(c.take(&b, last).as_deref(), Some("cn-b"));
        assert_eq!(c.take(&b2, t0 + CHALLENGE_TTL), None);
        assert!(c.pending.is_empty(), "expired challenges are dropped");
        // A flood of challenges keeps the newest few: memory stays bounded.
        let first = c.issue("first", t0);
        let rest: Vec<String> = (0..MAX_PENDING).map(|i| c.issue(&format!("cn-{i}"), t0)).collect();
        assert_eq!(c.pending.len(), MAX_PENDING);
        assert_eq!(c.take(&first, t0), None);
        assert_eq!(c.take(&rest[0], t0).as_deref(), Some("cn-0"));
    }

    #[test]
    fn the_listener_proves_itself_and_takes_each_client_proof_once() {
        let root = tempfile::tempdir().unwrap();
        let token = "t0ken";
        let addr = start("127.0.0.1:0", crate::http::server::test_app(root.path()), token.into()).unwrap();
        let p = Proofs::new(token);
        // A challenge answered by the listener, checked as `top` checks it.
        let challenge = || {
            let cn = nonce();
            let ask = format!("GET /challenge HTTP/1.1\r\nHost: a\r\nWfhook-Nonce: {cn}\r\nConnection: close\r\n\r\n");
            let (head, body) = exchange(addr, &ask);
            assert!(head.starts_with("HTTP/1.1 200 ") && head.contains("application/json"), "{head}");
            assert!(!body.contains(token), "{body}");
            let c: Challenge = serde_json::from_str(&body).unwrap();
            assert!(is_nonce(&c.nonce) && c.nonce != cn, "{body}");
            assert!(p.verify_listener(&cn, &c.nonce, &c.proof), "{body}");
            (cn, c)
        };
        let events = |authorization: &str| {
            head(addr, &format!("GET /events HTTP/1.1\r\nHost: a\r\nAuthorization: {authorization}\r\n\r\n"))
        };
        let status = |authorization: &str| events(authorization)[9..12].to_string();

        let (cn, c) = challenge();
        let proof = format!("{PROOF_SCHEME} {} {}", c.nonce, p.client(&cn, &c.nonce));
        assert_eq!(status(&proof), "200");
        assert_eq!(status(&proof), "403", "a proof works once");

        // A wrong proof uses its challenge up as well.
        let (cn, c) = challenge();
        let wrong = format!("{PROOF_SCHEME} {} {}", c.nonce, Proofs::new("other").client(&cn, &c.nonce));
        assert_eq!(status(&wrong), "403");
        assert_eq!(status(&format!("{PROOF_SCHEME} {} {}", c.nonce, p.client(&cn, &c.nonce))), "403");

        // The listener's own proof is no client's.
        let (_, c) = challenge();
        assert_eq!(status(&format!("{PROOF_SCHEME} {} {}", c.nonce, c.proof)), "403");

        let (cn, _) = challenge();
        let unknown = nonce();
        for refused in [
            format!("{PROOF_SCHEME} {unknown} {}", p.client(&cn, &unknown)),
            format!("{PROOF_SCHEME} {unknown}"),
            "Bearer wrong".into(),
            "Bearer ".into(),
            token.into(),
            String::new(),
        ] {
            assert_eq!(status(&refused), "403", "{refused:?}");
        }
        // Scripts keep the bearer token.
        assert_eq!(status(&format!("Bearer {token}")), "200");
    }

    #[test]
    fn messages_are_tagged_json_lines() {
        let m = Message::Hello { version: "1".into(), listen: "a".into(), seq: 3 };
        let line = serde_json::to_string(&m).unwrap();
        assert_eq!(line, r#"{"type":"hello","version":"1","listen":"a","seq":3}"#);
        assert!(matches!(serde_json::from_str(&line).unwrap(), Message::Hello { seq: 3, .. }));
    }
}
