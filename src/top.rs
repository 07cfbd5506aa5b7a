//! `wfhook top`: the dashboard attached to a server that runs elsewhere,
//! through its admin listener's `/events` stream. It shows the connection
//! state, reconnects with capped backoff, and counts the events it missed
//! (gaps in the sequence numbers, and whatever happened while it was
//! disconnected). Quitting `top` never touches the server.

use std::fmt;
use std::fs;
use std::io::{self, BufRead, BufReader, IsTerminal, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::mpsc::{self, SyncSender};
use std::time::Duration;

use crate::admin::Message;
use crate::cli::TopArgs;
use crate::dashboard::{self, ConnState, Feed, Mode, Options, Stats};
use crate::state_dir::StateDir;

const FIRST_RETRY: Duration = Duration::from_millis(250);
const MAX_RETRY: Duration = Duration::from_secs(10);
/// The server sends stats every second: this much silence is a dead link.
const SILENCE: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub enum TopError {
    NoToken(io::Error),
    NotATerminal,
    Terminal(io::Error),
}

impl fmt::Display for TopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TopError::NoToken(e) => {
                write!(f, "no admin token: set WFHOOK_ADMIN_TOKEN or pass the server's --root ({e})")
            }
            TopError::NotATerminal => f.write_str("top shows a dashboard and needs a terminal"),
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
            Err(Gone::Link(e)) => log::debug!("event stream: {e}"),
            Ok(()) => retry = FIRST_RETRY,
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
    let mut stream = TcpStream::connect_timeout(&target, Duration::from_secs(3))?;
    stream.set_read_timeout(Some(SILENCE))?;
    write!(stream, "GET /events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n")?;
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status)?;
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(Gone::Link(io::Error::other(format!("admin listener answered {}", status.trim()))));
    }
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
    }
    send(Feed::Connection(ConnState::Connected))?;
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
