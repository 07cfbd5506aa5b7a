//! A tiny HTTP/1.1 client on `std::net::TcpStream`, so that a test sees
//! exactly what goes on the wire: one request per connection ([`request`],
//! [`raw`]), a keep-alive [`Conn`] that reports failures instead of
//! panicking, and the response readers. Std and serde_json only: the
//! benches include this file too.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;

/// No single response may take longer than this: a hung server fails the
/// test. The slowest response of the suite takes 2 s on an idle machine (a
/// request that waits for the lone worker to give up a client that never
/// reads, under `--io-timeout 1`); actions that time out take 1 s.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// An HTTP response as read off the wire.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name`, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("status {}: body is not JSON ({e}): {:?}", self.status, self.text()))
    }

    /// The JSON body of a 200 response.
    pub fn ok_json(&self) -> Value {
        assert_eq!(self.status, 200, "expected 200, body: {}", self.text());
        self.json()
    }

    /// Asserts an error response: `status`, and the body shape of `style`
    /// (`"error"`, `"failure"` or `"fail"` for upload's `result`).
    pub fn assert_error(&self, status: u16, style: &str) -> &Response {
        assert_eq!(self.status, status, "body: {}", self.text());
        assert_eq!(
            self.header("Content-Type").map(|c| c.starts_with("application/json")),
            Some(true),
            "{:?}",
            self.headers
        );
        let v = self.json();
        match style {
            "fail" => assert_eq!(v["result"], "fail", "{v}"),
            s => assert_eq!(v["status"], s, "{v}"),
        }
        let msg = v["error"].as_str().unwrap_or_else(|| panic!("no error message: {v}"));
        assert!(!msg.is_empty(), "{v}");
        self
    }

    /// The error message of a JSON error body.
    pub fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_string()
    }
}

/// Sends one request on a new connection (`Connection: close`) and reads the
/// response. A `Content-Length` is added for PUT/POST and for any body,
/// unless `headers` already frame the body.
pub fn request(addr: SocketAddr, method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let mut s = connect(addr);
    let headers = [&[("Connection", "close")], headers].concat();
    let bytes = request_bytes(method, target, &addr.to_string(), &headers, body);
    // The server may answer (and stop reading) before the whole body is
    // sent; what it answered is what the test wants to see.
    let _ = s.write_all(&bytes);
    let mut r = BufReader::new(s);
    read_response(&mut r, method == "HEAD")
}

/// A request's bytes: a `Content-Length` for any body, and for PUT and
/// POST, unless the caller framed the body itself.
fn request_bytes(method: &str, target: &str, host: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\n");
    let framed = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("Content-Length") || k.eq_ignore_ascii_case("Transfer-Encoding"));
    for (k, v) in headers {
        let _ = write!(head, "{k}: {v}\r\n");
    }
    if !framed && (!body.is_empty() || method == "PUT" || method == "POST") {
        let _ = write!(head, "Content-Length: {}\r\n", body.len());
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// A connected stream with [`IO_TIMEOUT`] on reads and writes.
pub fn try_connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(s)
}

/// [`try_connect`], panicking when the server does not take the connection.
pub fn connect(addr: SocketAddr) -> TcpStream {
    try_connect(addr).unwrap_or_else(|e| panic!("connect to the test server at {addr}: {e}"))
}

/// Sends `bytes` as they are, half-closes, and returns everything the server
/// sends until it closes the connection.
pub fn raw(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut s = connect(addr);
    let _ = s.write_all(bytes);
    let _ = s.shutdown(Shutdown::Write);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// The status code of raw response bytes; panics when there is none.
pub fn status_of(reply: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(reply);
    text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no status in {text:?}"))
}

/// Splits raw response bytes into (head, body) at the blank line.
pub fn split_raw(bytes: &[u8]) -> (String, Vec<u8>) {
    let at = bytes.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete response head");
    (String::from_utf8_lossy(&bytes[..at]).into_owned(), bytes[at + 4..].to_vec())
}

/// A keep-alive HTTP/1.1 connection that reports failures as errors
/// instead of panicking, for load and crash tests that count them.
pub struct Conn {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
    host: String,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> std::io::Result<Conn> {
        let s = try_connect(addr)?;
        s.set_nodelay(true)?;
        Ok(Conn { reader: BufReader::new(s.try_clone()?), writer: s, host: addr.to_string() })
    }

    /// Sends one request (with a `Content-Length` for any body, and for
    /// PUT and POST) and reads its response.
    pub fn send(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Response> {
        self.writer.write_all(&request_bytes(method, target, &self.host, headers, body))?;
        try_read_response(&mut self.reader, method == "HEAD")
    }
}

/// Reads one response (skipping `1xx` interim responses); panics where
/// [`try_read_response`] returns an error.
pub fn read_response(r: &mut impl BufRead, head_request: bool) -> Response {
    try_read_response(r, head_request).unwrap_or_else(|e| panic!("reading the response: {e}"))
}

/// Reads one response (skipping `1xx` interim responses), or says why it
/// could not.
pub fn try_read_response(r: &mut impl BufRead, head_request: bool) -> std::io::Result<Response> {
    use std::io::{Error, ErrorKind};
    fn line(r: &mut impl BufRead) -> std::io::Result<String> {
        let mut line = Vec::new();
        r.read_until(b'\n', &mut line)?;
        if !line.ends_with(b"\n") {
            return Err(Error::new(ErrorKind::UnexpectedEof, "the connection closed mid-response"));
        }
        Ok(String::from_utf8_lossy(&line).trim_end_matches(['\r', '\n']).to_string())
    }
    let bad = |what: String| Error::new(ErrorKind::InvalidData, what);
    loop {
        let status_line = line(r)?;
        let status: u16 = status_line
            .strip_prefix("HTTP/1.")
            .and_then(|s| s.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(format!("not an HTTP status line: {status_line:?}")))?;
        let mut headers = Vec::new();
        loop {
            let l = line(r)?;
            if l.is_empty() {
                break;
            }
            let (k, v) = l.split_once(':').ok_or_else(|| bad(format!("bad header line {l:?}")))?;
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
        if (100..200).contains(&status) {
            continue;
        }
        let mut rs = Response { status, headers, body: Vec::new() };
        if head_request || status == 204 || status == 304 {
            return Ok(rs);
        }
        if rs.header("Transfer-Encoding").is_some_and(|te| te.eq_ignore_ascii_case("chunked")) {
            loop {
                let size = line(r)?;
                let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
                    .map_err(|_| bad(format!("bad chunk size {size:?}")))?;
                if size == 0 {
                    while !line(r)?.is_empty() {}
                    break;
                }
                let mut chunk = vec![0; size];
                r.read_exact(&mut chunk)?;
                rs.body.extend_from_slice(&chunk);
                line(r)?;
            }
        } else if let Some(len) = rs.header("Content-Length") {
            let len: usize = len.parse().map_err(|_| bad(format!("bad Content-Length {len:?}")))?;
            rs.body = vec![0; len];
            r.read_exact(&mut rs.body)?;
        } else {
            r.read_to_end(&mut rs.body)?;
        }
        return Ok(rs);
    }
}
