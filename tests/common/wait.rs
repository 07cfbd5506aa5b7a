//! Waiting, the one way the tests and benches do it: poll a probe, backing
//! off from a few milliseconds, until it gives a value or a deadline passes.
//!
//! The deadlines follow one rule: at least ten times what the awaited thing
//! takes on an idle machine, so that a test holds on a loaded one (two test
//! suites at once on two cores), and a test asserts what happened, never how
//! fast. Std only: the benches include this file too.

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How long a test waits for anything that takes at most a second on an
/// idle machine: a server to start, listen or exit, a log line, a file, a
/// screen to redraw, a reconnect (top retries after 0.25 s, 0.5 s, 1 s…).
pub const WAIT: Duration = Duration::from_secs(30);

/// Polls `probe` until it gives a value, for at most `limit`; `None` when
/// it never did. Backs off from 5 ms to 100 ms between polls, so that a
/// costly probe (a tmux capture, a /proc read) does not load the machine.
pub fn poll_within<T>(limit: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(5);
    loop {
        if let Some(v) = probe() {
            return Some(v);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        std::thread::sleep(pause.min(left));
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// [`poll_within`] for [`WAIT`].
pub fn poll<T>(probe: impl FnMut() -> Option<T>) -> Option<T> {
    poll_within(WAIT, probe)
}

/// The value `probe` gives within [`WAIT`]; panics naming `what` otherwise.
pub fn wait_until<T>(what: &str, probe: impl FnMut() -> Option<T>) -> T {
    poll(probe).unwrap_or_else(|| panic!("timed out after {WAIT:?} waiting for {what}"))
}

/// Waits until `cond` holds (at most [`WAIT`]); panics naming `what` otherwise.
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    wait_until(what, || cond().then_some(()))
}

/// Waits until something accepts connections on `addr`.
pub fn wait_for_listener(addr: SocketAddr) {
    wait_for(&format!("a listener on {addr}"), || TcpStream::connect(addr).is_ok());
}
