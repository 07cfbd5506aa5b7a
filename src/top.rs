//! `wfhook top`: the dashboard attached to a server that runs elsewhere,
//! through its admin listener's `/events` stream. It shows the connection
//! state, reconnects with capped backoff, and counts the events it missed
//! (gaps in the sequence numbers, and whatever happened while it was
//! disconnected). Quitting `top` never touches the server.
//!
//! It never sends the admin token: the listener first proves that it
//! knows the token, then `top` proves that it does (the challenge in
//! [`crate::admin`]). A listener that cannot is logged (`--log-file`) and
//! shown as a lost connection.

use std::fmt;
use std::fs;
use std::io::{self, BufRead, BufReader, IsTerminal, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::mpsc::{self, SyncSender};
use std::time::Duration;

use crate::admin::{self, Challenge, Message, NONCE_HEADER, PROOF_SCHEME, Proofs};
use crate::cli::TopArgs;
use crate::dashboard::{self, ConnState, Feed, Mode, Options, Stats};
use crate::state_dir::StateDir;

const FIRST_RETRY: Duration = Duration::from_millis(250);
const MAX_RETRY: Duration = Duration::from_secs(10);
/// The server sends stats every second: this much silence is a dead link.
const SILENCE: Duration = Duration::from_secs(5);
/// The most of an answer to `/challenge` that is read: a real one is
/// about 150 bytes, and a program that is not the server may send anything.
const MAX_CHALLENGE_ANSWER: u64 = 4096;

#[derive(Debug)]
pub enum TopError {
    NoToken(io::Error),
    NotATerminal,
    LogFile(io::Error),
    Terminal(io::Error),
}

impl fmt::Display for TopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TopError::NoToken(e) => {
                write!(f, "no admin token: set WFHOOK_ADMIN_TOKEN or pass the server's --root ({e})")
            }
            TopError::NotATerminal => f.write_str("top shows a dashboard and needs a terminal"),
            TopError::LogFile(e) => write!(f, "cannot open the file given by --log-file: {e}"),
            TopError::Terminal(e) => write!(f, "the dashboard failed: {e}"),
        }
    }
}

impl std::error::Error for TopError {}

pub fn top(args: TopArgs) -> Result<(), TopError> {
    let token = match args.token {
        Some(t) => t.trim().to_string(),
        None => fs::read_to_string(StateDir::of_root(&args.root).admin_token())
            .map_err(TopError::NoToken)?
            .trim()
            .to_string(),
    };
    if !io::stdout().is_terminal() {
        return Err(TopError::NotATerminal);
    }
    // Only into a file: the terminal is the dashboard's.
    if let Some(path) = &args.log_file {
        let _ = crate::serve::log_builder(Some(path)).map_err(TopError::LogFile)?.try_init();
    }
    let (tx, rx) = mpsc::sync_channel(8192);
    let addr = args.connect.clone();
    std::thread::Builder::new()
        .name("wfhook-top".into())
        .spawn(move || follow(&addr, &token, &tx))
        .map_err(TopError::Terminal)?;
    let options = Options { mode: Mode::Top, no_color: crate::tui::no_color(), history: Vec::new() };
    dashboard::run(rx, options).map_err(TopError::Terminal)
}

/// Follows the server's event stream into `feed`, reconnecting with capped
/// backoff, until the receiving side goes away.
pub fn follow(addr: &str, token: &str, feed: &SyncSender<Feed>) {
    let mut last_seq = None;
    let mut retry = FIRST_RETRY;
    loop {
        match session(addr, token, feed, &mut last_seq) {
            Err(Gone::Receiver) => return,
            Err(Gone::Link(e)) => log::info!("admin listener at {addr}: {e}; retrying in {retry:?}"),
            Err(Gone::Unproven(why)) => {
                log::warn!("admin listener at {addr}: {why}; the token was not sent; retrying in {retry:?}")
            }
            Ok(()) => {
                log::info!("admin listener at {addr}: the stream ended");
                retry = FIRST_RETRY
            }
        }
        if feed.send(Feed::Connection(ConnState::Disconnected { retry_in: retry })).is_err() {
            return;
        }
        std::thread::sleep(retry);
        retry = (retry * 2).min(MAX_RETRY);
    }
}

enum Gone {
    Receiver,
    Link(io::Error),
    /// The listener did not prove that it knows the token: perhaps another
    /// program on the port.
    Unproven(String),
}

impl From<io::Error> for Gone {
    fn from(e: io::Error) -> Gone {
        Gone::Link(e)
    }
}

/// One connection: read the stream until it ends or the dashboard is gone.
fn session(addr: &str, token: &str, feed: &SyncSender<Feed>, last_seq: &mut Option<u64>) -> Result<(), Gone> {
    let send = |f: Feed| feed.send(f).map_err(|_| Gone::Receiver);
    let target = addr.to_socket_addrs()?.next().ok_or_else(|| io::Error::other("address resolves to nothing"))?;
    let proofs = Proofs::new(token);
    let client_nonce = admin::nonce();
    let listener_nonce = challenge(target, addr, &proofs, &client_nonce)?;
    let proof = proofs.client(&client_nonce, &listener_nonce);
    let mut stream = connect(target)?;
    write!(
        stream,
        "GET /events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {PROOF_SCHEME} {listener_nonce} {proof}\r\n\r\n"
    )?;
    let mut reader = BufReader::new(stream);
    let (status, _) = read_head(&mut reader)?;
    if !is_ok(&status) {
        return Err(Gone::Link(io::Error::other(format!("/events answered {status:?}"))));
    }
    send(Feed::Connection(ConnState::Connected))?;
    log::info!("admin listener at {addr}: connected");
    let mut first = last_seq.is_none();
    for line in reader.lines() {
        let Ok(message) = serde_json::from_str::<Message>(&line?) else { continue };
        match message {
            Message::Hello { seq, .. } => {
                // Events the server handled while we were away; a restarted
                // server counts from zero again.
                if let Some(last) = *last_seq
                    && seq > last
                {
                    send(Feed::Missed(seq - last))?;
                }
                first |= last_seq.is_some_and(|last| seq < last);
                *last_seq = Some(seq);
            }
            Message::History { events } if first => {
                for e in events {
                    send(Feed::Event(Arc::new(e)))?;
                }
                first = false;
            }
            Message::History { .. } => {}
            Message::Event { seq, event } => {
                if let Some(last) = *last_seq
                    && seq > last + 1
                {
                    send(Feed::Missed(seq - last - 1))?;
                }
                *last_seq = Some(seq);
                send(Feed::Event(Arc::new(event)))?;
            }
            Message::Stats { stats } => send(Feed::Stats(Stats::from(stats)))?,
        }
    }
    Ok(())
}

fn is_ok(status_line: &str) -> bool {
    status_line.split_whitespace().nth(1) == Some("200")
}

fn connect(target: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&target, Duration::from_secs(3))?;
    stream.set_read_timeout(Some(SILENCE))?;
    Ok(stream)
}

/// Reads a response's head: its status line, and its `Content-Length` if
/// any. A connection closed before any answer is an error.
fn read_head(reader: &mut impl BufRead) -> io::Result<(String, Option<u64>)> {
    let mut status = String::new();
    if reader.read_line(&mut status)? == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the connection closed before an answer"));
    }
    let status = status.trim().to_string();
    let mut length = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            return Ok((status, length));
        }
        if let Some((name, value)) = header.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok();
        }
    }
}

/// Asks the listener to prove that it knows the token, over `client_nonce`;
/// its nonce, once its proof holds. Nothing derived from the token is sent.
fn challenge(target: SocketAddr, host: &str, proofs: &Proofs, client_nonce: &str) -> Result<String, Gone> {
    let mut stream = connect(target)?;
    write!(
        stream,
        "GET /challenge HTTP/1.1\r\nHost: {host}\r\n{NONCE_HEADER}: {client_nonce}\r\nConnection: close\r\n\r\n"
    )?;
    let mut reader = BufReader::new(stream.take(MAX_CHALLENGE_ANSWER));
    let unproven = |why: &str| Gone::Unproven(format!("it did not prove that it knows the admin token ({why})"));
    let (status, length) = read_head(&mut reader)?;
    if !is_ok(&status) {
        return Err(unproven(&format!("/challenge answered {status:?}")));
    }
    let mut body = Vec::new();
    match length {
        Some(n) => reader.take(n).read_to_end(&mut body)?,
        None => reader.read_to_end(&mut body)?,
    };
    let answer: Challenge = serde_json::from_slice(&body).map_err(|_| unproven("its answer is not a challenge"))?;
    if !admin::is_nonce(&answer.nonce) || !proofs.verify_listener(client_nonce, &answer.nonce, &answer.proof) {
        return Err(unproven("wrong proof"));
    }
    Ok(answer.nonce)
}
