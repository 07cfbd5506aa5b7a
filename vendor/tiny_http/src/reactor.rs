//! wfhook patch: the TCP connection layer as one readiness loop.
//!
//! Upstream tiny_http gives every connection a thread that reads request
//! heads and writes responses with blocking calls: an idle keep-alive
//! socket, a head that trickles in, a body that never comes and a client
//! that stops reading its download each hold a thread (and, for the body
//! and the download, the worker that handles the request). Here one thread
//! waits on every socket at once (epoll through `mio`) and does all the
//! waiting:
//!
//! - it accepts connections (past the global or the per-client cap: `503`
//!   and close), reads request heads as they arrive, and refuses what the
//!   limits refuse (`400`, `408`, `417`, `431`, `505`) itself, telling the
//!   application through [`Hooks::refusal`];
//! - it asks [`Hooks::body`] whether a request's body is wanted (the
//!   application checks the head's credentials first), then reads it: in
//!   memory up to [`SMALL_BODY`], past that into a spool file the hook
//!   gave; a worker gets the request only once head and body are there;
//! - `respond` hands the answer back and returns: the loop writes it with
//!   non-blocking writes, lets the kernel move file bytes (`sendfile`), cuts
//!   a transfer that stalls or falls below the minimum rate, and reports
//!   the bytes sent and whether the body went out whole ([`Completion`]);
//! - it keeps idle keep-alive connections without a thread, and drains what
//!   a handler left unread of a body before the next request.
//!
//! Threads: one for this loop, whatever the number of connections or
//! transfers. What the loop calls must not block for long: the hooks, and
//! the readers of responses that are not files (in memory, in wfhook).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Cursor, ErrorKind, Read, Seek, SeekFrom, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};

use crate::client::{check_framing, parse_request_line};
use crate::common::{HTTPVersion, Header, Method};
use crate::response::Body;
use crate::util::MessagesQueue;
use crate::{Limits, Request};

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX - 2);
/// Bodies up to this size are kept in memory; larger ones go to the spool
/// file the body hook gives.
pub const SMALL_BODY: usize = 64 * 1024;
/// How often deadlines are looked at.
const TICK: Duration = Duration::from_millis(100);
/// Bytes read or buffered for writing per round.
const CHUNK: usize = 64 * 1024;
/// The window over which a transfer's rate is judged against
/// [`Limits::min_transfer_rate`].
pub const RATE_WINDOW: Duration = Duration::from_secs(10);
/// Bytes in a chunk-size line, and in a chunked body's trailers.
const MAX_CHUNK_LINE: usize = 1024;
const MAX_TRAILERS: usize = 8 * 1024;

/// A request that the connection layer answered itself, before any
/// handler: for the application to account for it.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub peer: SocketAddr,
    pub status: u16,
    /// The method and target, when the request line was read.
    pub method: Option<String>,
    pub target: Option<String>,
    /// When its first byte arrived (or the connection, for a refused one).
    pub received: Instant,
    /// Whether the refusal was written; `false` when the client left first
    /// (a body cut short).
    pub answered: bool,
}

/// A request head, as the body hook sees it.
pub struct Head<'a> {
    pub method: &'a Method,
    pub url: &'a str,
    pub headers: &'a [Header],
    pub peer: SocketAddr,
    /// The declared length; `None` for a chunked body.
    pub length: Option<u64>,
}

/// What to do with a request's body.
pub enum BodyPlan {
    /// Read it before the request goes to a worker: at most `max` bytes
    /// (one more, then an error, tells the handler it was over), in memory
    /// up to [`SMALL_BODY`] and past that in `spool` (without one, in
    /// memory).
    Take { max: u64, spool: Option<File> },
    /// Hand the request over without reading its body (the handler refuses
    /// it); reading it fails. What the client sends of it is drained after
    /// the answer, or the connection closes.
    Leave,
}

/// The application's say in what the loop does; both are called on the
/// loop's thread and must be quick.
#[derive(Clone, Default)]
pub struct Hooks {
    /// Told of every refusal the connection layer makes itself.
    pub refusal: Option<Arc<dyn Fn(&Refusal) + Send + Sync>>,
    /// Decides, from the head, whether a body is read. Without it, bodies
    /// up to [`SMALL_BODY`] are read into memory.
    pub body: Option<Arc<dyn Fn(&Head<'_>) -> BodyPlan + Send + Sync>>,
}

/// How an answer went: body bytes written after the head (chunked framing
/// included) and whether all of it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completion {
    pub body_bytes: u64,
    pub complete: bool,
}

pub(crate) type OnComplete = Box<dyn FnOnce(Completion) + Send>;

/// What workers tell the loop.
pub(crate) enum Cmd {
    Respond { token: usize, gen: u64, out: Outgoing },
    /// A worker takes the socket for itself (`into_writer`, `upgrade`): it
    /// gets it back, blocking, with the bytes the loop read past the head.
    Detach { token: usize, gen: u64, back: Sender<(TcpStream, Vec<u8>)> },
}

/// An answer on its way to the loop.
pub(crate) struct Outgoing {
    pub head: Vec<u8>,
    pub body: Body,
    pub on_complete: Option<OnComplete>,
    /// Whether the connection may serve another request after this one.
    pub keep_alive: bool,
}

impl Outgoing {
    /// The answer never goes out (its connection or the loop is gone).
    fn never_sent(self) {
        if let Some(done) = self.on_complete {
            done(Completion { body_bytes: 0, complete: false });
        }
    }
}

/// The loop's address, for requests to answer through.
#[derive(Clone)]
pub(crate) struct Handle {
    shared: Arc<Shared>,
}

struct Shared {
    /// Commands, and whether the loop has ended (then nobody takes them).
    inbox: Mutex<(Vec<Cmd>, bool)>,
    waker: Waker,
    stop: AtomicBool,
    open: AtomicUsize,
}

impl Handle {
    pub(crate) fn send(&self, cmd: Cmd) {
        let mut inbox = self.shared.inbox.lock().unwrap_or_else(|p| p.into_inner());
        if inbox.1 {
            drop(inbox);
            gone(cmd);
            return;
        }
        // One wake per batch: commands pushed after the first find it
        // pending, and the loop takes them all at once.
        let first = inbox.0.is_empty();
        inbox.0.push(cmd);
        drop(inbox);
        if first {
            let _ = self.shared.waker.wake();
        }
    }

    /// Whether the loop has ended: no request will come from it any more.
    pub(crate) fn finished(&self) -> bool {
        self.shared.inbox.lock().unwrap_or_else(|p| p.into_inner()).1
    }

    pub(crate) fn open_connections(&self) -> usize {
        self.shared.open.load(Ordering::Relaxed)
    }

    /// Asks the loop to stop accepting, to close idle connections, and to
    /// end once every request under way is answered: bodies still coming
    /// in, requests the workers have, answers going out (each still under
    /// the usual deadlines, so a stalled one is cut as it would be).
    pub(crate) fn stop(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = self.shared.waker.wake();
    }
}

/// What a request needs to answer through the loop.
pub(crate) struct Ticket {
    pub handle: Handle,
    pub token: usize,
    pub gen: u64,
    pub keep_alive: bool,
}

/// Starts the loop on `listener`, handing requests to `queue`.
pub(crate) fn start(
    listener: TcpListener,
    limits: Limits,
    hooks: Hooks,
    queue: Arc<MessagesQueue<crate::Message>>,
) -> io::Result<(Handle, std::thread::JoinHandle<()>)> {
    // A burst of connections waits in the kernel's queue, not in refusals.
    rustix::net::listen(&listener, 1024)?;
    listener.set_nonblocking(true)?;
    let poll = Poll::new()?;
    let waker = Waker::new(poll.registry(), WAKER)?;
    poll.registry().register(&mut SourceFd(&listener.as_raw_fd()), LISTENER, Interest::READABLE)?;
    let shared = Arc::new(Shared {
        inbox: Mutex::new((Vec::new(), false)),
        waker,
        stop: AtomicBool::new(false),
        open: AtomicUsize::new(0),
    });
    let handle = Handle { shared };
    let mut reactor = Reactor {
        poll,
        listener: Some(listener),
        conns: Vec::new(),
        free: Vec::new(),
        per_peer: HashMap::new(),
        next_gen: 0,
        limits,
        hooks,
        queue,
        handle: handle.clone(),
        last_tick: Instant::now(),
    };
    let thread = std::thread::Builder::new().name("tiny-http-io".into()).spawn(move || reactor.run())?;
    Ok((handle, thread))
}

struct Reactor {
    poll: Poll,
    listener: Option<TcpListener>,
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    per_peer: HashMap<IpAddr, usize>,
    next_gen: u64,
    limits: Limits,
    hooks: Hooks,
    queue: Arc<MessagesQueue<crate::Message>>,
    handle: Handle,
    last_tick: Instant,
}

struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    gen: u64,
    /// Bytes read and not yet used: a head coming in, or what follows it.
    buf: Vec<u8>,
    /// Bytes of `buf` already searched for the end of the head.
    scanned: usize,
    state: State,
    /// When the head being read began (its first byte).
    head_started: Option<Instant>,
    /// The last time bytes came or went.
    last_io: Instant,
    /// The peer's end of file is queued: reads go on until they see it,
    /// since no further readiness event will come.
    read_closed: bool,
}

enum State {
    /// Waiting for, or reading, a request head.
    Head,
    /// Reading a body before handing the request over.
    Body(Box<Incoming>),
    /// A worker has the request; it left these body bytes on the socket
    /// (`None`: unknown, so the connection ends after the answer).
    Dispatched { unread: Option<u64> },
    Writing(Box<Writing>),
    /// Reading and throwing away what a handler left unread of a body.
    Draining { left: u64, deadline: Instant, keep_alive: bool },
}

struct Parsed {
    method: Method,
    target: String,
    version: HTTPVersion,
    headers: Vec<Header>,
    keep_alive: bool,
    received: Instant,
}

/// A body being read.
struct Incoming {
    rq: Parsed,
    sink: Sink,
    /// Declared bytes still to come; `None` for a chunked body.
    left: Option<u64>,
    chunks: Chunks,
    window: Window,
}

struct Writing {
    /// Bytes waiting to be written: the head, then the body as read from a
    /// reader (framed when chunked).
    out: Vec<u8>,
    out_at: usize,
    /// Bytes of the head in `out` not yet written.
    head_left: usize,
    body: Body,
    reader_done: bool,
    /// Where `sendfile` goes on from, and where the file body ends.
    file_offset: u64,
    file_end: u64,
    /// Body bytes written, chunk framing included.
    body_sent: u64,
    /// Body bytes read from a reader, framing not included.
    body_read: u64,
    on_complete: Option<OnComplete>,
    keep_alive: bool,
    /// Body bytes a handler left unread; `None` when unknown.
    unread: Option<u64>,
    window: Window,
}

/// Bytes moved since the start of the current rate window.
struct Window {
    start: Instant,
    bytes: u64,
}

impl Writing {
    /// The body bytes that went out: without the framing of a chunked
    /// body (a cut one counts at most what was read).
    fn body_bytes(&self, complete: bool) -> u64 {
        match &self.body {
            Body::Reader { chunked: true, .. } if complete => self.body_read,
            Body::Reader { chunked: true, .. } => self.body_sent.min(self.body_read),
            _ => self.body_sent,
        }
    }
}

impl Window {
    fn new(now: Instant) -> Window {
        Window { start: now, bytes: 0 }
    }

    /// At the end of each window: whether the transfer fell below `min`
    /// bytes a second over it.
    fn too_slow(&mut self, now: Instant, min: u64) -> bool {
        let elapsed = now.duration_since(self.start);
        if elapsed < RATE_WINDOW {
            return false;
        }
        let slow = min > 0 && (self.bytes as f64) < min as f64 * elapsed.as_secs_f64();
        *self = Window::new(now);
        slow
    }
}

/// Where a body goes while it is read.
struct Sink {
    mem: Vec<u8>,
    spool: Option<File>,
    spooled: bool,
    len: u64,
    max: u64,
}

impl Sink {
    /// Keeps `data`, up to one byte past `max`; `Ok(false)` once over.
    fn take(&mut self, data: &[u8]) -> io::Result<bool> {
        let room = (self.max + 1).saturating_sub(self.len);
        let part = &data[..(data.len() as u64).min(room) as usize];
        match &mut self.spool {
            Some(spool) if self.spooled => spool.write_all(part)?,
            Some(spool) if self.mem.len() + part.len() > SMALL_BODY => {
                spool.write_all(&self.mem)?;
                spool.write_all(part)?;
                self.mem = Vec::new();
                self.spooled = true;
            }
            _ => self.mem.extend_from_slice(part),
        }
        self.len += part.len() as u64;
        Ok(self.len <= self.max)
    }

    /// The body as the handler reads it; past `max`, it ends in an error.
    fn into_reader(self) -> io::Result<Box<dyn Read + Send>> {
        let over = self.len > self.max;
        let body: Box<dyn Read + Send> = match self.spool {
            Some(mut spool) if self.spooled => {
                spool.seek(SeekFrom::Start(0))?;
                Box::new(spool.take(self.len))
            }
            _ => Box::new(Cursor::new(self.mem)),
        };
        Ok(if over { Box::new(body.chain(Failing("the body is over the server's limit"))) } else { body })
    }
}

/// A reader that fails: a body left unread, or one past the limit.
struct Failing(&'static str);

impl Read for Failing {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::Error::new(ErrorKind::FileTooLarge, self.0))
    }
}

/// What one round of work on a connection came to.
enum Next {
    /// Wait for readiness.
    Wait,
    /// Close it.
    Close,
}

impl Reactor {
    fn run(&mut self) {
        let mut events = Events::with_capacity(1024);
        loop {
            if let Err(e) = self.poll.poll(&mut events, Some(TICK)) {
                if e.kind() != ErrorKind::Interrupted {
                    log::error!("the connection loop's poll failed: {}", e);
                    std::thread::sleep(TICK);
                }
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(),
                    WAKER => {}
                    Token(t) => {
                        if event.is_read_closed() {
                            if let Some(Some(conn)) = self.conns.get_mut(t) {
                                conn.read_closed = true;
                            }
                        }
                        self.drive(t)
                    }
                }
            }
            self.take_commands();
            if self.last_tick.elapsed() >= TICK {
                self.last_tick = Instant::now();
                self.deadlines();
            }
            if self.handle.shared.stop.load(Ordering::SeqCst) {
                self.stop_accepting();
                // Requests under way are finished; nothing new comes in.
                self.close_idle();
                if self.conns.iter().flatten().all(|c| matches!(c.state, State::Head)) {
                    for t in 0..self.conns.len() {
                        self.close(t);
                    }
                    let left = {
                        let mut inbox = self.handle.shared.inbox.lock().unwrap_or_else(|p| p.into_inner());
                        inbox.1 = true;
                        std::mem::take(&mut inbox.0)
                    };
                    left.into_iter().for_each(gone);
                    return;
                }
            }
        }
    }

    fn stop_accepting(&mut self) {
        if let Some(l) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut SourceFd(&l.as_raw_fd()));
        }
    }

    fn close_idle(&mut self) {
        for t in 0..self.conns.len() {
            let idle = matches!(self.conns[t].as_ref().map(|c| &c.state), Some(State::Head | State::Draining { .. }));
            if idle {
                self.close(t);
            }
        }
    }

    fn accept(&mut self) {
        loop {
            let Some(listener) = &self.listener else { return };
            let (stream, peer) = match listener.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Out of descriptors, or a connection reset before it
                    // was accepted: the listener goes on.
                    log::warn!("accepting a connection failed: {}", e);
                    return;
                }
            };
            let open = self.handle.open_connections();
            let from_peer = self.per_peer.get(&peer.ip()).copied().unwrap_or(0);
            if open >= self.limits.max_connections || from_peer >= self.limits.max_connections_per_client {
                self.refuse_unregistered(stream, peer);
                continue;
            }
            if stream.set_nonblocking(true).is_err() {
                continue;
            }
            let _ = stream.set_nodelay(true);
            let token = match self.free.pop() {
                Some(t) => t,
                None => {
                    self.conns.push(None);
                    self.conns.len() - 1
                }
            };
            let interest = Interest::READABLE | Interest::WRITABLE;
            if self.poll.registry().register(&mut SourceFd(&stream.as_raw_fd()), Token(token), interest).is_err() {
                self.free.push(token);
                continue;
            }
            self.next_gen += 1;
            let now = Instant::now();
            self.conns[token] = Some(Conn {
                stream,
                peer,
                gen: self.next_gen,
                buf: Vec::new(),
                scanned: 0,
                state: State::Head,
                head_started: None,
                last_io: now,
                read_closed: false,
            });
            *self.per_peer.entry(peer.ip()).or_insert(0) += 1;
            self.handle.shared.open.fetch_add(1, Ordering::Relaxed);
            self.drive(token);
        }
    }

    fn take_commands(&mut self) {
        let cmds = std::mem::take(&mut self.handle.shared.inbox.lock().unwrap_or_else(|p| p.into_inner()).0);
        for cmd in cmds {
            match cmd {
                Cmd::Respond { token, gen, out } => self.start_writing(token, gen, out),
                Cmd::Detach { token, gen, back } => {
                    if self.conn_of(token, gen).is_some() {
                        let mut conn = self.forget(token);
                        let _ = conn.stream.set_nonblocking(false);
                        let _ = conn.stream.set_read_timeout(Some(self.limits.io_timeout));
                        let _ = conn.stream.set_write_timeout(Some(self.limits.io_timeout));
                        let _ = back.send((conn.stream, std::mem::take(&mut conn.buf)));
                    }
                }
            }
        }
    }

    fn start_writing(&mut self, token: usize, gen: u64, mut out: Outgoing) {
        let Some(conn) = self.conn_of(token, gen) else {
            return out.never_sent();
        };
        let now = Instant::now();
        conn.last_io = now;
        let unread = match conn.state {
            State::Dispatched { unread } => unread,
            _ => None,
        };
        // A file body is `len` bytes from the file's position, as a copy
        // through the reader would send.
        let (file_offset, file_end) = match &mut out.body {
            Body::File { file, len } => {
                let at = file.stream_position().unwrap_or(0);
                (at, at + *len)
            }
            _ => (0, 0),
        };
        // The first piece of a reader's body goes out with the head: one
        // write for a small answer.
        let (mut head, mut reader_done, mut failed, mut body_read) = (out.head, false, false, 0);
        let head_left = head.len();
        if let Body::Reader { reader, chunked } = &mut out.body {
            match refill(&mut head, reader, *chunked, &mut reader_done) {
                Ok(n) => body_read = n,
                Err(()) => failed = true,
            }
        }
        conn.state = State::Writing(Box::new(Writing {
            head_left,
            out: head,
            out_at: 0,
            body: out.body,
            reader_done,
            file_offset,
            file_end,
            body_sent: 0,
            body_read,
            on_complete: out.on_complete,
            keep_alive: out.keep_alive,
            unread,
            window: Window::new(now),
        }));
        if failed {
            if let Next::Close = self.finish(token, false) {
                self.close(token);
            }
            return;
        }
        self.drive(token);
    }

    fn conn_of(&mut self, token: usize, gen: u64) -> Option<&mut Conn> {
        self.conns.get_mut(token)?.as_mut().filter(|c| c.gen == gen)
    }

    /// Works on a connection until it must wait for readiness or close.
    fn drive(&mut self, token: usize) {
        let next = match self.conns.get(token).and_then(Option::as_ref).map(|c| &c.state) {
            None => return,
            Some(State::Head) => self.read_head(token),
            Some(State::Body(_)) => self.read_body(token),
            Some(State::Dispatched { .. }) => Next::Wait,
            Some(State::Writing(_)) => self.write(token),
            Some(State::Draining { .. }) => self.drain(token),
        };
        if let Next::Close = next {
            self.close(token);
        }
    }

    /// Reads into the connection's buffer until the socket has no more, or
    /// `cap` bytes are buffered. `Ok(false)` when the peer closed.
    fn fill(conn: &mut Conn, cap: usize) -> io::Result<bool> {
        let mut chunk = [0u8; 16 * 1024];
        while conn.buf.len() < cap {
            let want = (cap - conn.buf.len()).min(chunk.len());
            match conn.stream.read(&mut chunk[..want]) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    conn.buf.extend_from_slice(&chunk[..n]);
                    conn.last_io = Instant::now();
                    // A short read emptied the socket (epoll(7)): waiting
                    // for the next edge saves a read that would block.
                    if n < want && !conn.read_closed {
                        return Ok(true);
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(true),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    fn read_head(&mut self, token: usize) -> Next {
        let limits = &self.limits;
        let conn = self.conns[token].as_mut().expect("a live connection");
        // A little past the head's limit, so that a head exactly at it is
        // still found whole.
        let open = match Self::fill(conn, limits.max_header_bytes + 4) {
            Ok(open) => open,
            Err(_) => return Next::Close,
        };
        if !conn.buf.is_empty() && conn.head_started.is_none() {
            conn.head_started = Some(Instant::now());
        }
        match scan_head(&conn.buf, &mut conn.scanned, limits) {
            // A client may close between requests: nothing to account for.
            Scan::More if !open => Next::Close,
            Scan::More => Next::Wait,
            Scan::Refuse(status) => {
                let received = conn.head_started.unwrap_or_else(Instant::now);
                self.refuse(token, status, None, received)
            }
            Scan::Head(len) => {
                let received = conn.head_started.take().unwrap_or_else(Instant::now);
                let head: Vec<u8> = conn.buf.drain(..len).collect();
                conn.scanned = 0;
                self.take_head(token, &head, received)
            }
        }
    }

    /// A whole head is there: parse it, then hand the request over (after
    /// its body, when the body hook wants it read), or refuse it.
    fn take_head(&mut self, token: usize, head: &[u8], received: Instant) -> Next {
        let parsed = match parse_head(head, &self.limits, received) {
            Ok(p) => p,
            Err((status, line)) => return self.refuse(token, status, line, received),
        };
        let line = Some((parsed.method.to_string(), parsed.target.clone()));
        if parsed.version > (1, 1) {
            return self.refuse(token, 505, line, received);
        }
        if check_framing(&parsed.headers).is_err() {
            return self.refuse(token, 400, line, received);
        }
        let continues = match header(&parsed.headers, "Expect") {
            // An HTTP/1.0 request's expectation is ignored (RFC 9110 10.1.1).
            _ if parsed.version < (1, 1) => false,
            None => false,
            Some(v) if v.eq_ignore_ascii_case("100-continue") => true,
            Some(_) => return self.refuse(token, 417, line, received),
        };
        let chunked = header(&parsed.headers, "Transfer-Encoding").is_some();
        let length: u64 = header(&parsed.headers, "Content-Length").and_then(|v| v.trim().parse().ok()).unwrap_or(0);
        if !chunked && length == 0 {
            self.dispatch(token, parsed, Box::new(io::empty()), None, Some(0));
            return Next::Wait;
        }
        let peer = self.conns[token].as_ref().expect("a live connection").peer;
        let declared = if chunked { None } else { Some(length) };
        let plan = match &self.hooks.body {
            Some(hook) => hook(&Head {
                method: &parsed.method,
                url: &parsed.target,
                headers: &parsed.headers,
                peer,
                length: declared,
            }),
            None => BodyPlan::Take { max: SMALL_BODY as u64, spool: None },
        };
        let (max, spool) = match plan {
            BodyPlan::Take { max, spool } => (max, spool),
            BodyPlan::Leave => {
                let reader = Box::new(Failing("the body was not read"));
                // A client that waits for `100 Continue` may never send the
                // body: draining it could eat the next request, so the
                // connection ends after the answer.
                let waiting = continues && self.conns[token].as_ref().is_some_and(|c| c.buf.is_empty());
                let unread = if waiting { None } else { declared };
                self.dispatch(token, parsed, reader, declared, unread);
                return Next::Wait;
            }
        };
        let conn = self.conns[token].as_mut().expect("a live connection");
        if continues && conn.buf.is_empty() {
            // The client waits for this before it sends the body.
            let _ = conn.stream.write(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        conn.state = State::Body(Box::new(Incoming {
            rq: parsed,
            sink: Sink { mem: Vec::new(), spool, spooled: false, len: 0, max },
            left: declared,
            chunks: Chunks::Size(Vec::new()),
            window: Window::new(Instant::now()),
        }));
        self.read_body(token)
    }

    /// Reads a body the hook wanted, then hands the request over.
    fn read_body(&mut self, token: usize) -> Next {
        loop {
            let conn = self.conns[token].as_mut().expect("a live connection");
            let State::Body(inc) = &mut conn.state else { return Next::Wait };
            // What is buffered first.
            let (used, done, over) = match inc.left.as_mut() {
                Some(left) => {
                    let n = (*left).min(conn.buf.len() as u64) as usize;
                    let kept = inc.sink.take(&conn.buf[..n]);
                    *left -= n as u64;
                    match kept {
                        Ok(true) => (n, *left == 0, false),
                        Ok(false) => (n, true, true),
                        Err(e) => return self.spool_failed(token, e),
                    }
                }
                None => {
                    let sink = &mut inc.sink;
                    let mut over = false;
                    let mut failed = None;
                    let fed = inc.chunks.feed(&conn.buf, &mut |data| match sink.take(data) {
                        Ok(kept) => {
                            over |= !kept;
                            kept
                        }
                        Err(e) => {
                            failed = Some(e);
                            false
                        }
                    });
                    if let Some(e) = failed {
                        return self.spool_failed(token, e);
                    }
                    match fed {
                        Ok(n) => (n, over || matches!(inc.chunks, Chunks::Done), over),
                        Err(()) => {
                            let line = Some((inc.rq.method.to_string(), inc.rq.target.clone()));
                            let received = inc.rq.received;
                            return self.refuse(token, 400, line, received);
                        }
                    }
                }
            };
            inc.window.bytes += used as u64;
            conn.buf.drain(..used);
            if done {
                let State::Body(inc) = std::mem::replace(&mut conn.state, State::Head) else {
                    unreachable!("matched above")
                };
                let Incoming { mut rq, sink, left, .. } = *inc;
                let length = sink.len;
                let reader = match sink.into_reader() {
                    Ok(r) => r,
                    Err(e) => return self.spool_failed_with(token, e, rq),
                };
                // Past the limit the rest of the body is never read: the
                // connection ends after the answer.
                let unread = if over { rq.keep_alive = false; left } else { Some(0) };
                self.dispatch(token, rq, reader, Some(length), unread);
                return Next::Wait;
            }
            match Self::fill(conn, CHUNK) {
                Ok(true) if conn.buf.is_empty() => return Next::Wait,
                Ok(true) => {}
                Ok(false) if !conn.buf.is_empty() => {}
                // The client left inside its body: no answer can reach it,
                // but the request is accounted for.
                Ok(false) | Err(_) => {
                    let State::Body(inc) = &conn.state else { unreachable!("matched above") };
                    let line = Some((inc.rq.method.to_string(), inc.rq.target.clone()));
                    let (peer, received) = (conn.peer, inc.rq.received);
                    self.report(peer, 400, line, received, false);
                    return Next::Close;
                }
            }
        }
    }

    fn spool_failed(&mut self, token: usize, e: io::Error) -> Next {
        let conn = self.conns[token].as_mut().expect("a live connection");
        let State::Body(inc) = std::mem::replace(&mut conn.state, State::Head) else { return Next::Close };
        self.spool_failed_with(token, e, inc.rq)
    }

    fn spool_failed_with(&mut self, token: usize, e: io::Error, rq: Parsed) -> Next {
        log::error!("cannot keep a request body: {}", e);
        self.refuse(token, 500, Some((rq.method.to_string(), rq.target)), rq.received)
    }

    /// Hands a request to the workers, with its body (read) and the body
    /// bytes left on the socket (`None`: unknown, so the connection ends).
    fn dispatch(
        &mut self,
        token: usize,
        parsed: Parsed,
        body: Box<dyn Read + Send>,
        length: Option<u64>,
        unread: Option<u64>,
    ) {
        let (max_drain, stopping) = (self.limits.max_drain as u64, self.handle.shared.stop.load(Ordering::SeqCst));
        let conn = self.conns[token].as_mut().expect("a live connection");
        conn.state = State::Dispatched { unread };
        // The answer says `Connection: close` whenever the connection ends
        // after it: a body too long to drain, or unknown; HTTP/1.0, which
        // keeps a connection only when the answer says so (tiny_http's do
        // not); and a server that is stopping.
        let keep_alive = parsed.keep_alive
            && unread.is_some_and(|n| n <= max_drain)
            && parsed.version >= (1, 1)
            && !stopping;
        let ticket = Ticket { handle: self.handle.clone(), token, gen: conn.gen, keep_alive };
        let rq = Request::from_reactor(
            parsed.method,
            parsed.target,
            parsed.version,
            parsed.headers,
            conn.peer,
            body,
            length.map(|n| n as usize),
            parsed.received,
            ticket,
        );
        self.queue.push(rq.into());
    }

    fn write(&mut self, token: usize) -> Next {
        let conn = self.conns[token].as_mut().expect("a live connection");
        let State::Writing(w) = &mut conn.state else { return Next::Wait };
        loop {
            // Refill from a reader's body once what was buffered is out.
            if w.out_at == w.out.len() {
                w.out.clear();
                w.out_at = 0;
                if let Body::Reader { reader, chunked } = &mut w.body {
                    if !w.reader_done {
                        match refill(&mut w.out, reader, *chunked, &mut w.reader_done) {
                            Ok(n) => w.body_read += n,
                            Err(()) => return self.finish(token, false),
                        }
                    }
                }
            }
            let written = if w.out_at < w.out.len() {
                conn.stream.write(&w.out[w.out_at..]).map(|n| {
                    w.out_at += n;
                    n
                })
            } else {
                match &w.body {
                    Body::File { file, .. } if w.file_offset < w.file_end => {
                        let left = (w.file_end - w.file_offset).min(1 << 30) as usize;
                        let mut offset = w.file_offset;
                        match rustix::fs::sendfile(&conn.stream, file, Some(&mut offset), left) {
                            // The file is shorter than it said: a cut body.
                            Ok(0) => return self.finish(token, false),
                            Ok(n) => {
                                w.file_offset = offset;
                                Ok(n)
                            }
                            Err(e) => Err(io::Error::from(e)),
                        }
                    }
                    // All of it is out.
                    _ => return self.finish(token, true),
                }
            };
            match written {
                Ok(n) => {
                    let head = n.min(w.head_left);
                    w.head_left -= head;
                    let body = (n - head) as u64;
                    w.body_sent += body;
                    w.window.bytes += body;
                    conn.last_io = Instant::now();
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Next::Wait,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return self.finish(token, false),
            }
        }
    }

    /// An answer went out whole, or was cut: report it, then serve the next
    /// request, drain what the handler left unread, or close.
    fn finish(&mut self, token: usize, complete: bool) -> Next {
        let drain_timeout = self.limits.drain_timeout;
        let max_drain = self.limits.max_drain as u64;
        let conn = self.conns[token].as_mut().expect("a live connection");
        let State::Writing(mut w) = std::mem::replace(&mut conn.state, State::Head) else { return Next::Wait };
        if let Some(done) = w.on_complete.take() {
            done(Completion { body_bytes: w.body_bytes(complete), complete });
        }
        conn.head_started = None;
        conn.scanned = 0;
        conn.last_io = Instant::now();
        if !complete {
            return Next::Close;
        }
        match (w.keep_alive, w.unread) {
            (true, Some(0)) => self.read_head(token),
            (true, Some(left)) if left <= max_drain => {
                conn.state = State::Draining { left, deadline: Instant::now() + drain_timeout, keep_alive: true };
                self.drain(token)
            }
            _ => self.linger(token),
        }
    }

    /// Reads and throws away what a handler left unread of a body.
    fn drain(&mut self, token: usize) -> Next {
        let conn = self.conns[token].as_mut().expect("a live connection");
        let State::Draining { left, keep_alive, .. } = &mut conn.state else { return Next::Wait };
        // Bytes already buffered are part of it.
        let take = (*left).min(conn.buf.len() as u64) as usize;
        conn.buf.drain(..take);
        *left -= take as u64;
        let mut scratch = [0u8; 16 * 1024];
        while *left > 0 {
            let want = (*left).min(scratch.len() as u64) as usize;
            match conn.stream.read(&mut scratch[..want]) {
                Ok(0) => return Next::Close,
                Ok(n) => *left -= n as u64,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Next::Wait,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Next::Close,
            }
        }
        if !*keep_alive {
            return Next::Close;
        }
        conn.state = State::Head;
        conn.head_started = None;
        conn.last_io = Instant::now();
        self.read_head(token)
    }

    /// Closes after an answer: the write side first, then what the client
    /// still sends is read for a moment, so that the client reads the
    /// answer (closing with unread bytes in the receive buffer would reset
    /// the connection and could destroy it).
    fn linger(&mut self, token: usize) -> Next {
        let conn = self.conns[token].as_mut().expect("a live connection");
        let _ = conn.stream.shutdown(Shutdown::Write);
        conn.state = State::Draining {
            left: self.limits.max_drain as u64,
            deadline: Instant::now() + self.limits.drain_timeout,
            keep_alive: false,
        };
        self.drain(token)
    }

    /// Answers with `status` and closes: where the next request would start
    /// is unknown once a head is refused.
    fn refuse(&mut self, token: usize, status: u16, line: Option<(String, String)>, received: Instant) -> Next {
        let conn = self.conns[token].as_mut().expect("a live connection");
        conn.state = State::Head;
        let answered = conn.stream.write(refusal_bytes(status).as_bytes()).is_ok();
        let peer = conn.peer;
        self.report(peer, status, line, received, answered);
        self.linger(token)
    }

    /// Refuses a connection that was never registered (past the caps).
    fn refuse_unregistered(&mut self, mut stream: TcpStream, peer: SocketAddr) {
        let _ = stream.set_nonblocking(true);
        let answered = stream.write(refusal_bytes(503).as_bytes()).is_ok();
        let _ = stream.shutdown(Shutdown::Write);
        self.report(peer, 503, None, Instant::now(), answered);
    }

    fn report(&self, peer: SocketAddr, status: u16, line: Option<(String, String)>, received: Instant, answered: bool) {
        if let Some(hook) = &self.hooks.refusal {
            let (method, target) = line.map_or((None, None), |(m, t)| (Some(m), Some(t)));
            hook(&Refusal { peer, status, method, target, received, answered });
        }
    }

    /// Looks at every connection's deadlines.
    fn deadlines(&mut self) {
        let now = Instant::now();
        for token in 0..self.conns.len() {
            let Some(conn) = self.conns[token].as_mut() else { continue };
            let quiet = now.duration_since(conn.last_io);
            let limits = &self.limits;
            let verdict = match &mut conn.state {
                State::Head => match conn.head_started {
                    Some(t) if now.duration_since(t) > limits.header_timeout => Verdict::Refuse(408, None, t),
                    None if quiet > limits.io_timeout => Verdict::Close,
                    _ => Verdict::Fine,
                },
                State::Body(inc) => {
                    if quiet > limits.io_timeout || inc.window.too_slow(now, limits.min_transfer_rate) {
                        let line = Some((inc.rq.method.to_string(), inc.rq.target.clone()));
                        Verdict::Refuse(408, line, inc.rq.received)
                    } else {
                        Verdict::Fine
                    }
                }
                State::Dispatched { .. } => Verdict::Fine,
                State::Writing(w) => {
                    if quiet > limits.io_timeout || w.window.too_slow(now, limits.min_transfer_rate) {
                        Verdict::Cut
                    } else {
                        Verdict::Fine
                    }
                }
                State::Draining { deadline, .. } if now > *deadline => Verdict::Close,
                State::Draining { .. } => Verdict::Fine,
            };
            match verdict {
                Verdict::Fine => {}
                Verdict::Close => self.close(token),
                Verdict::Refuse(status, line, received) => {
                    if let Next::Close = self.refuse(token, status, line, received) {
                        self.close(token);
                    }
                }
                Verdict::Cut => {
                    log::info!("cut an answer to {}: it stalled or fell below the minimum rate", conn.peer);
                    // Reset, not close: what waits in the send buffer would
                    // otherwise trickle out at the client's pace, and the
                    // kernel would hold it for as long.
                    let _ = rustix::net::sockopt::set_socket_linger(&conn.stream, Some(Duration::ZERO));
                    self.close(token);
                }
            }
        }
    }

    /// Closes a connection; an answer being written is reported cut.
    fn close(&mut self, token: usize) {
        let Some(slot) = self.conns.get_mut(token) else { return };
        let Some(mut conn) = slot.take() else { return };
        if let State::Writing(w) = &mut conn.state {
            if let Some(done) = w.on_complete.take() {
                done(Completion { body_bytes: w.body_bytes(false), complete: false });
            }
        }
        let _ = self.poll.registry().deregister(&mut SourceFd(&conn.stream.as_raw_fd()));
        self.release(token, conn.peer);
        // A worker that answers later finds the connection gone.
    }

    /// Takes a connection out of the loop, whose socket a worker takes.
    fn forget(&mut self, token: usize) -> Conn {
        let conn = self.conns[token].take().expect("a live connection");
        let _ = self.poll.registry().deregister(&mut SourceFd(&conn.stream.as_raw_fd()));
        self.release(token, conn.peer);
        conn
    }

    fn release(&mut self, token: usize, peer: SocketAddr) {
        self.free.push(token);
        if let Some(n) = self.per_peer.get_mut(&peer.ip()) {
            *n -= 1;
            if *n == 0 {
                self.per_peer.remove(&peer.ip());
            }
        }
        self.handle.shared.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A command for a loop that has ended: an answer that never goes out.
fn gone(cmd: Cmd) {
    if let Cmd::Respond { out, .. } = cmd {
        out.never_sent();
    }
}

enum Verdict {
    Fine,
    Close,
    Refuse(u16, Option<(String, String)>, Instant),
    Cut,
}

/// Reads the next piece of a reader's body into `out`, framed when
/// chunked; marks the end (and writes the last chunk) at end of file.
/// Returns the body bytes read (the framing not counted).
fn refill(out: &mut Vec<u8>, reader: &mut Box<dyn Read + Send>, chunked: bool, done: &mut bool) -> Result<u64, ()> {
    let start = out.len();
    let frame = if chunked { 10 } else { 0 };
    out.resize(start + frame, 0);
    // `read_to_end` grows `out` as bytes come, so a small answer costs no
    // zeroed 64 KiB buffer; fewer than CHUNK bytes means the reader ended.
    let n = match (&mut **reader).take(CHUNK as u64).read_to_end(out) {
        Ok(n) => n,
        Err(_) => {
            out.truncate(start);
            return Err(());
        }
    };
    *done = n < CHUNK;
    if !chunked {
        return Ok(n as u64);
    }
    if n > 0 {
        // The size line goes right before the data: the frame is filled
        // from its end, and the unused front is removed.
        let size = format!("{:X}\r\n", n);
        let at = start + frame - size.len();
        out[at..start + frame].copy_from_slice(size.as_bytes());
        out.drain(start..at);
        out.extend_from_slice(b"\r\n");
    } else {
        out.truncate(start);
    }
    if *done {
        out.extend_from_slice(b"0\r\n\r\n");
    }
    Ok(n as u64)
}

/// The bytes of a bodiless refusal.
fn refusal_bytes(status: u16) -> String {
    let reason = crate::common::StatusCode(status).default_reason_phrase();
    let retry = if status == 503 { "Retry-After: 1\r\n" } else { "" };
    format!(
        "HTTP/1.1 {} {}\r\nServer: tiny-http (Rust)\r\nContent-Length: 0\r\nConnection: close\r\n{}X-Content-Type-Options: nosniff\r\n\r\n",
        status, reason, retry
    )
}

/// What looking for the end of a head found.
enum Scan {
    More,
    Head(usize),
    Refuse(u16),
}

/// Looks for the end of a head in `buf`, from `scanned` on: a head ends at
/// the first empty line. Refuses a line or a head over the limits, and a
/// bare CR, bare LF or NUL (header injection, CVE-2026-66753).
fn scan_head(buf: &[u8], scanned: &mut usize, limits: &Limits) -> Scan {
    // Back to the start of the line the last scan stopped in.
    let mut line_start = buf[..*scanned].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut at = *scanned;
    while at < buf.len() {
        match buf[at] {
            b'\n' => {
                if at == 0 || buf[at - 1] != b'\r' {
                    return Scan::Refuse(400);
                }
                if at + 1 - line_start == 2 {
                    // An empty line: the end of the head (a leading one,
                    // before any request line, is refused as upstream did).
                    return if line_start == 0 { Scan::Refuse(400) } else { Scan::Head(at + 1) };
                }
                line_start = at + 1;
            }
            0 => return Scan::Refuse(400),
            b'\r' if buf.get(at + 1).is_some_and(|&b| b != b'\n') => return Scan::Refuse(400),
            _ => {}
        }
        if at + 1 - line_start > limits.max_header_line || at + 1 > limits.max_header_bytes {
            return Scan::Refuse(431);
        }
        at += 1;
    }
    // A CR at the very end is judged once its next byte is there.
    *scanned = if buf.last() == Some(&b'\r') { at - 1 } else { at };
    Scan::More
}

/// Parses a whole head; on a refusal, its status and, when it was read,
/// the request line.
fn parse_head(head: &[u8], limits: &Limits, received: Instant) -> Result<Parsed, (u16, Option<(String, String)>)> {
    let text = std::str::from_utf8(head).map_err(|_| (400, None))?;
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or("");
    if !first.is_ascii() {
        return Err((400, None));
    }
    let (method, target, version) = parse_request_line(first.trim()).map_err(|_| (400, None))?;
    let line = Some((method.to_string(), target.clone()));
    let mut headers = Vec::new();
    for l in lines.filter(|l| !l.is_empty()) {
        if headers.len() >= limits.max_headers {
            return Err((431, line));
        }
        if !l.is_ascii() {
            return Err((400, line));
        }
        let h: Header = l.trim().parse().map_err(|_| (400, line.clone()))?;
        headers.push(h);
    }
    let connection = header(&headers, "Connection").map(str::to_ascii_lowercase);
    let keep_alive = match connection.as_deref() {
        Some(v) if v.contains("close") || v.contains("upgrade") => false,
        _ => version >= (1, 1),
    };
    Ok(Parsed { method, target, version, headers, keep_alive, received })
}

fn header<'a>(headers: &'a [Header], name: &'static str) -> Option<&'a str> {
    headers.iter().find(|h| h.field.equiv(name)).map(|h| h.value.as_str())
}

/// A chunked body's decoder, fed what arrives: it never waits, so the loop
/// can read a chunked body from a non-blocking socket.
enum Chunks {
    /// Reading a chunk-size line.
    Size(Vec<u8>),
    /// Bytes of chunk data still to come.
    Data(u64),
    /// Expecting the CRLF after a chunk's data; how much of it was seen.
    DataEnd(u8),
    /// Reading trailer lines after the last chunk; bytes read so far.
    Trailers(Vec<u8>),
    Done,
}

impl Chunks {
    /// Decodes from `input`, giving data to `out` (which says whether to go
    /// on); returns the bytes used, or `Err` on a malformed body.
    fn feed(&mut self, input: &[u8], out: &mut dyn FnMut(&[u8]) -> bool) -> Result<usize, ()> {
        let mut at = 0;
        while at < input.len() {
            match self {
                Chunks::Size(line) => {
                    let b = input[at];
                    at += 1;
                    line.push(b);
                    if line.len() > MAX_CHUNK_LINE {
                        return Err(());
                    }
                    if b == b'\n' {
                        let text = std::str::from_utf8(line).map_err(|_| ())?;
                        let text = text.strip_suffix("\r\n").ok_or(())?;
                        let digits = text.split(';').next().unwrap_or("").trim();
                        if digits.is_empty() || digits.len() > 15 {
                            return Err(());
                        }
                        let size = u64::from_str_radix(digits, 16).map_err(|_| ())?;
                        *self = if size == 0 { Chunks::Trailers(Vec::new()) } else { Chunks::Data(size) };
                    }
                }
                Chunks::Data(left) => {
                    let n = (*left).min((input.len() - at) as u64) as usize;
                    let go_on = out(&input[at..at + n]);
                    at += n;
                    *left -= n as u64;
                    if *left == 0 {
                        *self = Chunks::DataEnd(0);
                    }
                    if !go_on {
                        return Ok(at);
                    }
                }
                Chunks::DataEnd(seen) => {
                    let want = if *seen == 0 { b'\r' } else { b'\n' };
                    if input[at] != want {
                        return Err(());
                    }
                    at += 1;
                    *seen += 1;
                    if *seen == 2 {
                        *self = Chunks::Size(Vec::new());
                    }
                }
                Chunks::Trailers(seen) => {
                    seen.push(input[at]);
                    at += 1;
                    if seen.len() > MAX_TRAILERS {
                        return Err(());
                    }
                    // Trailers end with an empty line (right away, without
                    // any trailer).
                    if seen.ends_with(b"\r\n") && (seen.len() == 2 || seen.ends_with(b"\r\n\r\n")) {
                        *self = Chunks::Done;
                    }
                }
                Chunks::Done => break,
            }
        }
        Ok(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(buf: &[u8]) -> Scan {
        let mut at = 0;
        scan_head(buf, &mut at, &Limits::default())
    }

    #[test]
    fn heads_end_at_the_first_empty_line_and_bad_bytes_are_refused() {
        assert!(matches!(scan(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nrest"), Scan::Head(27)));
        assert!(matches!(scan(b"GET / HTTP/1.1\r\nHost: x\r\n"), Scan::More));
        assert!(matches!(scan(b"GET / HTTP/1.1\nHost: x\r\n\r\n"), Scan::Refuse(400)));
        assert!(matches!(scan(b"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n"), Scan::Refuse(400)));
        assert!(matches!(scan(b"GET / HTTP/1.1\r\nX: a\0b\r\n\r\n"), Scan::Refuse(400)));
        assert!(matches!(scan(b"\r\nGET / HTTP/1.1\r\n\r\n"), Scan::Refuse(400)));
        let long = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(9000));
        assert!(matches!(scan(long.as_bytes()), Scan::Refuse(431)));
        // Found across several reads, from where the last scan stopped,
        // whichever byte a read ends on.
        let full = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        for split in 1..full.len() {
            let mut at = 0;
            assert!(matches!(scan_head(&full[..split], &mut at, &Limits::default()), Scan::More), "{}", split);
            assert!(matches!(scan_head(full, &mut at, &Limits::default()), Scan::Head(27)), "{}", split);
        }
    }

    #[test]
    fn heads_parse_with_their_keep_alive() {
        let now = Instant::now();
        let p = parse_head(b"GET /a?b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &Limits::default(), now)
            .ok()
            .unwrap();
        assert_eq!((p.method, p.target.as_str(), p.keep_alive, p.headers.len()), (Method::Get, "/a?b", false, 2));
        let p = parse_head(b"GET / HTTP/1.0\r\n\r\n", &Limits::default(), now).ok().unwrap();
        assert!(!p.keep_alive);
        assert!(matches!(parse_head(b"NOT A REQUEST LINE\r\n\r\n", &Limits::default(), now), Err((400, None))));
    }

    fn decode(body: &[u8], step: usize) -> Result<(Vec<u8>, usize, bool), ()> {
        let mut chunks = Chunks::Size(Vec::new());
        let mut data = Vec::new();
        let mut used = 0;
        for piece in body.chunks(step) {
            let n = chunks.feed(piece, &mut |d| {
                data.extend_from_slice(d);
                true
            })?;
            used += n;
            if matches!(chunks, Chunks::Done) {
                break;
            }
        }
        Ok((data, used, matches!(chunks, Chunks::Done)))
    }

    #[test]
    fn chunked_bodies_decode_from_any_split_and_malformed_ones_are_refused() {
        let body = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        for step in 1..body.len() {
            let (data, used, done) = decode(body, step).unwrap();
            assert_eq!((data.as_slice(), done), (&b"hello, world"[..], true), "{}", step);
            assert!(used <= body.len() - 4, "{}", step);
        }
        assert_eq!(decode(b"0\r\n\r\n", 1).unwrap(), (Vec::new(), 5, true));
        assert!(decode(b"zz\r\nab\r\n0\r\n\r\n", 64).is_err());
        assert!(decode(b"2\r\nabc\r\n0\r\n\r\n", 64).is_err());
        assert!(decode(b"ffffffffffffffffff\r\n", 64).is_err());
        let (_, _, done) = decode(b"5\r\nhel", 64).unwrap();
        assert!(!done);
    }

    #[test]
    fn sinks_keep_one_byte_past_the_limit_and_then_fail() {
        let mut sink = Sink { mem: Vec::new(), spool: None, spooled: false, len: 0, max: 4 };
        assert!(sink.take(b"abcd").unwrap());
        assert!(!sink.take(b"efgh").unwrap());
        let mut body = Vec::new();
        let err = sink.into_reader().unwrap().read_to_end(&mut body).unwrap_err();
        assert_eq!((body.as_slice(), err.kind()), (&b"abcde"[..], ErrorKind::FileTooLarge));
    }

    #[test]
    fn chunked_answers_are_framed_around_each_piece() {
        // A short reader ends in the same piece as its data.
        let mut reader: Box<dyn Read + Send> = Box::new(Cursor::new(b"hello".to_vec()));
        let (mut out, mut done) = (b"HEAD".to_vec(), false);
        refill(&mut out, &mut reader, true, &mut done).unwrap();
        assert_eq!((out.as_slice(), done), (&b"HEAD5\r\nhello\r\n0\r\n\r\n"[..], true));
        // One of exactly CHUNK bytes needs a second piece to know its end.
        let mut reader: Box<dyn Read + Send> = Box::new(Cursor::new(vec![b'x'; CHUNK]));
        let (mut out, mut done) = (Vec::new(), false);
        refill(&mut out, &mut reader, true, &mut done).unwrap();
        let size = format!("{CHUNK:X}\r\n");
        assert_eq!((&out[..size.len()], out.len(), done), (size.as_bytes(), size.len() + CHUNK + 2, false));
        out.clear();
        refill(&mut out, &mut reader, true, &mut done).unwrap();
        assert_eq!((out.as_slice(), done), (&b"0\r\n\r\n"[..], true));
        // Unframed, the same.
        let mut reader: Box<dyn Read + Send> = Box::new(Cursor::new(b"hello".to_vec()));
        let (mut out, mut done) = (Vec::new(), false);
        refill(&mut out, &mut reader, false, &mut done).unwrap();
        assert_eq!((out.as_slice(), done), (&b"hello"[..], true));
    }

    /// A response whose head cannot be made (a body of unknown length that
    /// fails, for an HTTP/1.0 client, which needs it buffered): the request
    /// is still answered (500) and its connection ends, rather than waiting
    /// `Dispatched` for ever, counted open, with shutdown waiting on it.
    #[test]
    fn a_response_that_cannot_be_prepared_still_ends_its_connection() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("broken"))
            }
        }
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = crate::Server::from_tcp(listener, Limits::default(), Hooks::default()).unwrap();
        let mut client = TcpStream::connect(addr).unwrap();
        client.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        let rq = server.recv_timeout(Duration::from_secs(5)).unwrap().expect("a request");
        let response = crate::Response::new(crate::StatusCode(200), Vec::new(), Broken, None, None);
        assert!(rq.respond(response).is_err());
        client.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let mut got = Vec::new();
        let ended = client.read_to_end(&mut got).is_ok();
        drop(client);
        // Closed once its linger ends.
        let deadline = Instant::now() + Duration::from_secs(10);
        while server.num_connections() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let open = server.num_connections();
        if !ended || open > 0 {
            // Do not join the loop: it would wait for the stuck connection.
            std::mem::forget(server);
        }
        assert!(ended, "the connection was neither answered nor closed within 3 s");
        assert!(got.starts_with(b"HTTP/1.0 500"), "{}", String::from_utf8_lossy(&got));
        assert_eq!(open, 0, "the connection is still counted open");
    }
}
