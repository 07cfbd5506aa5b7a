use ascii::AsciiString;

use std::io::Error as IoError;
use std::io::Result as IoResult;
use std::io::{BufReader, BufWriter, ErrorKind, Read};

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Instant;

use crate::common::{HTTPVersion, Header, Method};
use crate::connection::Connection;
use crate::Limits;
use crate::util::RefinedTcpStream;
use crate::util::{SequentialReader, SequentialReaderBuilder, SequentialWriterBuilder};
use crate::Request;

/// A ClientConnection is an object that will store a socket to a client
/// and return Request objects.
pub struct ClientConnection {
    // address of the client
    remote_addr: IoResult<Option<SocketAddr>>,

    // sequence of Readers to the stream, so that the data is not read in
    //  the wrong order
    source: SequentialReaderBuilder<BufReader<RefinedTcpStream>>,

    // sequence of Writers to the stream, to avoid writing response #2 before
    //  response #1
    sink: SequentialWriterBuilder<BufWriter<RefinedTcpStream>>,

    // Reader to read the next header from
    next_header_source: SequentialReader<BufReader<RefinedTcpStream>>,

    // set to true if we know that the previous request is the last one
    no_more_requests: bool,

    // true if the connection goes through SSL
    secure: bool,

    // wfhook patch: bounds on request heads, and a handle that closes the
    // socket when an unread body is too long to drain
    limits: Limits,
    closer: Option<Connection>,
}

/// Error that can happen when reading a request.
#[derive(Debug)]
pub(crate) enum ReadError {
    WrongRequestLine,
    WrongHeader(HTTPVersion),
    /// the client sent an unrecognized `Expect` header
    ExpectationFailed(HTTPVersion),
    /// the connection failed or closed: it ends quietly (the error only
    /// shows in `Debug`; no arm reads it since timeouts became `HeadTimeout`)
    ReadIoError(#[allow(dead_code)] IoError),
    /// wfhook patch: a head over the size or count limits
    HeadTooLarge,
    /// wfhook patch: a head that took longer than the header timeout
    HeadTimeout,
    /// wfhook patch: ambiguous body framing (request smuggling)
    BadFraming,
}

impl ClientConnection {
    /// Creates a new `ClientConnection` that takes ownership of the `TcpStream`.
    pub fn new(
        write_socket: RefinedTcpStream,
        mut read_socket: RefinedTcpStream,
        limits: Limits,
    ) -> ClientConnection {
        let remote_addr = read_socket.peer_addr();
        let secure = read_socket.secure();
        let closer = read_socket.closer();

        let mut source = SequentialReaderBuilder::new(BufReader::with_capacity(1024, read_socket));
        let first_header = source.next().unwrap();

        ClientConnection {
            source,
            sink: SequentialWriterBuilder::new(BufWriter::with_capacity(1024, write_socket)),
            remote_addr,
            next_header_source: first_header,
            no_more_requests: false,
            secure,
            limits,
            closer,
        }
    }

    /// true if the connection is HTTPS
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// Reads the next line from self.next_header_source.
    ///
    /// Reads until `CRLF` is reached. The next read will start
    ///  at the first byte of the new line.
    ///
    /// wfhook patch: the head's deadline starts at its first byte
    /// (`started`), every line and the whole head are bounded (`budget`),
    /// and a bare CR or LF (header injection, CVE-2026-66753) or a NUL is
    /// refused rather than kept inside a value.
    fn read_next_line(&mut self, started: &mut Option<Instant>, budget: &mut usize) -> Result<AsciiString, ReadError> {
        let mut buf = Vec::new();
        let mut prev_byte_was_cr = false;

        loop {
            let byte = self.next_header_source.by_ref().bytes().next();

            let byte = match byte {
                Some(Ok(b)) => b,
                Some(Err(e)) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    // Idle between requests: close quietly. Mid-head: 408.
                    return Err(if started.is_some() {
                        ReadError::HeadTimeout
                    } else {
                        ReadError::ReadIoError(IoError::new(ErrorKind::ConnectionAborted, "idle connection"))
                    });
                }
                Some(Err(e)) => return Err(ReadError::ReadIoError(e)),
                None => {
                    return Err(ReadError::ReadIoError(IoError::new(
                        ErrorKind::ConnectionAborted,
                        "Unexpected EOF",
                    )))
                }
            };
            match started {
                None => *started = Some(Instant::now()),
                Some(t) if t.elapsed() > self.limits.header_timeout => return Err(ReadError::HeadTimeout),
                Some(_) => {}
            }
            if *budget == 0 || buf.len() >= self.limits.max_header_line {
                return Err(ReadError::HeadTooLarge);
            }
            *budget -= 1;

            if byte == b'\n' && prev_byte_was_cr {
                buf.pop(); // removing the '\r'
                return AsciiString::from_ascii(buf).map_err(|_| ReadError::WrongRequestLine);
            }
            if byte == b'\n' || byte == 0 || prev_byte_was_cr {
                return Err(ReadError::WrongRequestLine);
            }

            prev_byte_was_cr = byte == b'\r';

            buf.push(byte);
        }
    }

    /// Reads a request from the stream.
    /// Blocks until the header has been read.
    fn read(&mut self) -> Result<Request, ReadError> {
        let (method, path, version, headers) = {
            let mut started = None;
            let mut budget = self.limits.max_header_bytes;
            // reading the request line
            let (method, path, version) = {
                let line = self.read_next_line(&mut started, &mut budget)?;

                parse_request_line(
                    line.as_str().trim(), // TODO: remove this conversion
                )?
            };

            // getting all headers
            let headers = {
                let mut headers = Vec::new();
                loop {
                    let line = match self.read_next_line(&mut started, &mut budget) {
                        Err(ReadError::WrongRequestLine) => return Err(ReadError::WrongHeader(version)),
                        other => other?,
                    };

                    if line.is_empty() {
                        break;
                    };
                    if headers.len() >= self.limits.max_headers {
                        return Err(ReadError::HeadTooLarge);
                    }
                    headers.push(match FromStr::from_str(line.as_str().trim()) {
                        // TODO: remove this conversion
                        Ok(h) => h,
                        _ => return Err(ReadError::WrongHeader(version)),
                    });
                }

                headers
            };

            check_framing(&headers).map_err(|()| ReadError::BadFraming)?;
            (method, path, version, headers)
        };

        // building the writer for the request
        let writer = self.sink.next().unwrap();

        // follow-up for next potential request
        let mut data_source = self.source.next().unwrap();
        std::mem::swap(&mut self.next_header_source, &mut data_source);

        // building the next reader
        let request = crate::request::new_request(
            self.secure,
            method,
            path,
            version.clone(),
            headers,
            *self.remote_addr.as_ref().unwrap(),
            data_source,
            writer,
            self.closer.as_ref(),
            &self.limits,
        )
        .map_err(|e| {
            use crate::request;
            match e {
                // wfhook patch: a small body that stalls is a slow request.
                request::RequestCreationError::CreationIoError(e)
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    ReadError::HeadTimeout
                }
                request::RequestCreationError::CreationIoError(e) => ReadError::ReadIoError(e),
                request::RequestCreationError::ExpectationFailed => {
                    ReadError::ExpectationFailed(version)
                }
            }
        })?;

        // return the request
        Ok(request)
    }
}

impl Iterator for ClientConnection {
    type Item = Request;

    /// Blocks until the next Request is available.
    /// Returns None when no new Requests will come from the client.
    fn next(&mut self) -> Option<Request> {
        use crate::{Response, StatusCode};

        // the client sent a "connection: close" header in this previous request
        //  or is using HTTP 1.0, meaning that no new request will come
        if self.no_more_requests {
            return None;
        }

        // wfhook patch: no loop; its one `continue`, after an HTTP/2
        // request line, is now a 505 and a close.
        let rq = match self.read() {
            Err(ReadError::WrongRequestLine) => {
                let writer = self.sink.next().unwrap();
                let response = Response::new_empty(StatusCode(400));
                response
                    .raw_print(writer, HTTPVersion(1, 1), &[], false, None)
                    .ok();
                return None; // we don't know where the next request would start,
                             // se we have to close
            }

            Err(ReadError::WrongHeader(ver)) => {
                let writer = self.sink.next().unwrap();
                let response = Response::new_empty(StatusCode(400));
                response.raw_print(writer, ver, &[], false, None).ok();
                return None; // we don't know where the next request would start,
                             // se we have to close
            }

            Err(ReadError::ExpectationFailed(ver)) => {
                let writer = self.sink.next().unwrap();
                let response = Response::new_empty(StatusCode(417));
                response.raw_print(writer, ver, &[], true, None).ok();
                return None; // TODO: should be recoverable, but needs handling in case of body
            }

            Err(ReadError::ReadIoError(_)) => return None,

            // wfhook patch: answer what the limits refused, then close:
            // where the next request would start is unknown.
            Err(ReadError::HeadTooLarge) => {
                refuse(self.sink.next().unwrap(), 431);
                return None;
            }
            Err(ReadError::HeadTimeout) => {
                refuse(self.sink.next().unwrap(), 408);
                return None;
            }
            Err(ReadError::BadFraming) => {
                refuse(self.sink.next().unwrap(), 400);
                return None;
            }

            Ok(rq) => rq,
        };

        // checking HTTP version
        // wfhook patch: answer 505 and close; upstream kept reading the
        // connection after an HTTP/2 request line and never answered.
        // (Upstream wrote it through a second writer, which waits for
        // the request's own writer: the answer never left.)
        if *rq.http_version() > (1, 1) {
            // In HTTP/1.1: `respond` would answer in the request's version.
            let response = Response::from_string("This server only supports HTTP versions 1.0 and 1.1")
                .with_status_code(StatusCode(505));
            response.raw_print(rq.into_writer(), HTTPVersion(1, 1), &[], false, None).ok();
            return None;
        }

        // updating the status of the connection
        let connection_header = rq
            .headers()
            .iter()
            .find(|h| h.field.equiv("Connection"))
            .map(|h| h.value.as_str());

        let lowercase = connection_header.map(|h| h.to_ascii_lowercase());

        match lowercase {
            Some(ref val) if val.contains("close") => self.no_more_requests = true,
            Some(ref val) if val.contains("upgrade") => self.no_more_requests = true,
            Some(ref val)
                if !val.contains("keep-alive") && *rq.http_version() == HTTPVersion(1, 0) =>
            {
                self.no_more_requests = true
            }
            None if *rq.http_version() == HTTPVersion(1, 0) => self.no_more_requests = true,
            _ => (),
        };

        // returning the request
        Some(rq)
    }
}

/// wfhook patch: a body must be delimited without ambiguity (request
/// smuggling, CVE-2026-66752): a `Transfer-Encoding` other than one plain
/// `chunked`, both `Transfer-Encoding` and `Content-Length`, or a
/// `Content-Length` that is not one decimal number is refused.
pub(crate) fn check_framing(headers: &[Header]) -> Result<(), ()> {
    let te: Vec<&str> = headers.iter().filter(|h| h.field.equiv("Transfer-Encoding")).map(|h| h.value.as_str()).collect();
    let cl: Vec<&str> = headers.iter().filter(|h| h.field.equiv("Content-Length")).map(|h| h.value.as_str().trim()).collect();
    if te.len() > 1 || te.iter().any(|v| !v.trim().eq_ignore_ascii_case("chunked")) || (!te.is_empty() && !cl.is_empty()) {
        return Err(());
    }
    let number = |v: &&str| !v.is_empty() && v.len() <= 19 && v.bytes().all(|b| b.is_ascii_digit());
    if !cl.iter().all(number) || cl.windows(2).any(|w| w[0] != w[1]) {
        return Err(());
    }
    Ok(())
}

/// wfhook patch: a bodiless error response; the caller then closes the
/// connection. (`Response` drops a `Connection` header it is given.)
fn refuse<W: std::io::Write>(writer: W, status: u16) {
    use crate::{Response, StatusCode};
    let response = Response::new_empty(StatusCode(status));
    response.raw_print(writer, HTTPVersion(1, 1), &[], false, None).ok();
}

/// Parses a "HTTP/1.1" string.
fn parse_http_version(version: &str) -> Result<HTTPVersion, ReadError> {
    let (major, minor) = match version {
        "HTTP/0.9" => (0, 9),
        "HTTP/1.0" => (1, 0),
        "HTTP/1.1" => (1, 1),
        "HTTP/2.0" => (2, 0),
        "HTTP/3.0" => (3, 0),
        _ => return Err(ReadError::WrongRequestLine),
    };

    Ok(HTTPVersion(major, minor))
}

/// Parses the request line of the request.
/// eg. GET / HTTP/1.1
pub(crate) fn parse_request_line(line: &str) -> Result<(Method, String, HTTPVersion), ReadError> {
    let mut parts = line.split(' ');

    let method = parts.next().and_then(|w| w.parse().ok());
    let path = parts.next().map(ToOwned::to_owned);
    let version = parts.next().and_then(|w| parse_http_version(w).ok());

    method
        .and_then(|method| Some((method, path?, version?)))
        .ok_or(ReadError::WrongRequestLine)
}

#[cfg(test)]
mod test {
    #[test]
    fn test_parse_request_line() {
        let (method, path, ver) = super::parse_request_line("GET /hello HTTP/1.1").unwrap();

        assert!(method == crate::Method::Get);
        assert!(path == "/hello");
        assert!(ver == crate::common::HTTPVersion(1, 1));

        assert!(super::parse_request_line("GET /hello").is_err());
        assert!(super::parse_request_line("qsd qsd qsd").is_err());
    }
}
