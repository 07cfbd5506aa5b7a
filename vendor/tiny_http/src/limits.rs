//! wfhook patch: bounds on what one client may cost the server.
//!
//! Upstream tiny_http 0.12.0 starts a thread per connection with no cap, has
//! no socket timeouts, reads request heads of any size, and aborts the
//! process when an unread body with a huge `Content-Length` is dropped.
//! On TCP these limits are enforced by the readiness loop (`reactor.rs`);
//! on the other listeners by the thread-per-connection layer upstream has
//! (the accept loop, the request-head reader and the body reader's drop).

use std::time::Duration;

#[allow(unused_imports)] // for the docs' links
use crate::reactor::RATE_WINDOW;

/// Bounds on connections and request heads.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Open connections at most; more are answered `503` and closed.
    pub max_connections: usize,
    /// Open connections from one peer address at most; more are answered
    /// `503` and closed (TCP listeners only).
    pub max_connections_per_client: usize,
    /// Bytes per second, averaged over [`RATE_WINDOW`], below which a
    /// response or a request body being moved is cut; `0`: no minimum
    /// (TCP listeners only).
    pub min_transfer_rate: u64,
    /// Longest a single read or write on a socket may block: an idle
    /// keep-alive connection, a stalled body or a client that stops reading
    /// its response is dropped after this long.
    pub io_timeout: Duration,
    /// Longest the request line and headers may take from their first byte,
    /// however slowly they trickle in.
    pub header_timeout: Duration,
    /// Bytes in the request line or in one header line.
    pub max_header_line: usize,
    /// Header lines in one request.
    pub max_headers: usize,
    /// Bytes in the whole request head.
    pub max_header_bytes: usize,
    /// Unread body bytes drained (in a fixed buffer) to keep a connection
    /// alive after its response; a longer remainder closes the connection.
    pub max_drain: usize,
    /// Longest that draining an unread body may take: a client trickling
    /// its body must not hold the thread that answered it.
    pub drain_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 1024,
            max_connections_per_client: usize::MAX,
            min_transfer_rate: 0,
            io_timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(10),
            max_header_line: 8 * 1024,
            max_headers: 100,
            max_header_bytes: 64 * 1024,
            max_drain: 256 * 1024,
            drain_timeout: Duration::from_millis(200),
        }
    }
}
