//! Reading a request safely: query and form decoding, header look-ups,
//! and bodies bounded by a limit. (The body's framing is judged earlier, by
//! the vendored tiny_http, before any handler sees the request.)

use std::io::{self, Read};

use tiny_http::{Header, Method, Request};

use super::errors::HttpError;

/// Form bodies (createFolder, rename…) are small; anything bigger is refused.
pub const MAX_FORM_BYTES: u64 = 64 * 1024;

/// The value of the first header named `name` (case-insensitive).
pub fn header<'a>(rq: &'a Request, name: &'static str) -> Option<&'a str> {
    header_in(rq.headers(), name)
}

/// The value of the first of `headers` named `name` (case-insensitive).
pub fn header_in<'a>(headers: &'a [Header], name: &'static str) -> Option<&'a str> {
    headers.iter().find(|h| h.field.equiv(name)).map(|h| h.value.as_str())
}

/// The declared body length; `None` for chunked bodies. tiny_http parsed
/// it already, after its framing checks.
pub fn declared_length(rq: &Request) -> Option<u64> {
    rq.body_length().map(|n| n as u64)
}

/// True when the request may carry a body (declared or chunked).
pub fn has_body(rq: &Request) -> bool {
    header(rq, "Transfer-Encoding").is_some() || declared_length(rq).is_some_and(|n| n > 0)
}

/// Decoded parameters, query string first, then an urlencoded form body.
///
/// Every decoded name and value is kept in one string, each pair as the
/// offsets of its name and value there: two allocations per request rather
/// than two per parameter.
#[derive(Debug, Default)]
pub struct Params {
    text: String,
    /// (name start, name end = value start, value end) in `text`.
    pairs: Vec<(usize, usize, usize)>,
}

impl Params {
    pub fn from_query(query: &str) -> Params {
        let mut p = Params { text: String::with_capacity(query.len()), pairs: Vec::new() };
        p.extend(query.as_bytes());
        p
    }

    /// Adds the decoded pairs of an urlencoded string.
    fn extend(&mut self, encoded: &[u8]) {
        for (name, value) in form_urlencoded::parse(encoded) {
            let start = self.text.len();
            self.text.push_str(&name);
            let mid = self.text.len();
            self.text.push_str(&value);
            self.pairs.push((start, mid, self.text.len()));
        }
    }

    /// Adds the fields of an urlencoded body, read up to `MAX_FORM_BYTES`.
    /// Other bodies are left unread: the endpoint decides what they mean.
    pub fn add_form_body(&mut self, rq: &mut Request) -> Result<(), HttpError> {
        let is_form = header(rq, "Content-Type").is_some_and(|ct| {
            ct.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
        if !is_form || !has_body(rq) {
            return Ok(());
        }
        if declared_length(rq).is_some_and(|n| n > MAX_FORM_BYTES) {
            return Err(HttpError::TooLarge(MAX_FORM_BYTES));
        }
        let mut body = Vec::new();
        let mut reader = Limited::new(rq.as_reader(), MAX_FORM_BYTES);
        if reader.read_to_end(&mut body).is_err() {
            return Err(reader.error_or(HttpError::BadRequest("could not read the form body".into())));
        }
        self.extend(&body);
        Ok(())
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|&&(start, mid, _)| &self.text[start..mid] == name)
            .map(|&(_, mid, end)| &self.text[mid..end])
    }

    /// The first value of `name`, or a 400 naming it.
    pub fn require(&self, name: &str) -> Result<&str, HttpError> {
        self.get(name).ok_or_else(|| HttpError::MissingParameter(name.to_string()))
    }
}

/// A request body cut off past `limit` bytes: the read that would go past
/// it fails, so that whoever consumes the body stops and changes nothing,
/// and [`Limited::error_or`] then says it was the limit (413), not the
/// client.
pub struct Limited<R> {
    inner: R,
    left: u64,
    limit: u64,
    exceeded: bool,
}

impl<R: Read> Limited<R> {
    pub fn new(inner: R, limit: u64) -> Limited<R> {
        Limited { inner, left: limit, limit, exceeded: false }
    }

    /// What a failed consumer of this body should answer: 413 when the body
    /// went past the limit, else `other`.
    pub fn error_or(&self, other: HttpError) -> HttpError {
        if self.exceeded { HttpError::TooLarge(self.limit) } else { other }
    }
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // One byte more than is left tells a body at the limit from one past it.
        let room = usize::try_from(self.left.saturating_add(1)).unwrap_or(usize::MAX).min(buf.len());
        let n = self.inner.read(&mut buf[..room])?;
        if n as u64 > self.left {
            self.exceeded = true;
            return Err(io::Error::new(io::ErrorKind::FileTooLarge, "the body is over the limit"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Splits a request target into path and query.
pub fn split_target(url: &str) -> (&str, &str) {
    url.split_once('?').unwrap_or((url, ""))
}

/// The methods a route allows, as an `Allow` header value. A route that
/// answers HEAD lists it; `customAction` is GET only, since HEAD must not run
/// an action.
pub fn allow_value(methods: &[Method]) -> String {
    methods.iter().map(Method::as_str).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let p = Params::from_query("name=ping&documentId=a%2Fb&x=1&x=2&q=a+b&bad=%zz");
        assert_eq!(p.get("name"), Some("ping"));
        assert_eq!(p.get("documentId"), Some("a/b"));
        assert_eq!(p.get("x"), Some("1"));
        assert_eq!(p.get("q"), Some("a b"));
        assert_eq!(p.get("bad"), Some("%zz"));
        assert!(p.require("nope").is_err());
        let p = Params::from_query("a=&=b&%C3%A9t%C3%A9=%E2%9C%93&flag&a=2");
        assert_eq!(p.get("a"), Some(""));
        assert_eq!(p.get(""), Some("b"));
        assert_eq!(p.get("été"), Some("✓"));
        assert_eq!(p.get("flag"), Some(""));
        assert_eq!(Params::from_query("").get(""), None);
        let mut p = Params::from_query("x=1");
        p.extend(b"x=2&y=%41");
        assert_eq!((p.get("x"), p.get("y")), (Some("1"), Some("A")));
    }

    #[test]
    fn limited_bodies_stop_past_the_limit_and_say_so() {
        let read = |body: &[u8], limit| {
            let mut r = Limited::new(body, limit);
            let mut out = Vec::new();
            let result = r.read_to_end(&mut out);
            (result.is_ok(), out.len(), r.error_or(HttpError::BadRequest("other".into())).status_and_message().0)
        };
        assert_eq!(read(b"12345", 5), (true, 5, 400));
        assert_eq!(read(b"", 0), (true, 0, 400));
        let (ok, kept, status) = read(b"123456", 5);
        assert!(!ok && kept <= 5 && status == 413, "{kept} {status}");
        let (ok, _, status) = read(&[7; 100_000], 65_536);
        assert!(!ok && status == 413);
    }

    #[test]
    fn targets_and_allow() {
        assert_eq!(split_target("/a/b?c=d?e"), ("/a/b", "c=d?e"));
        assert_eq!(split_target("/a"), ("/a", ""));
        assert_eq!(allow_value(&[Method::Get, Method::Head]), "GET, HEAD");
        assert_eq!(allow_value(&[Method::Get]), "GET");
        assert_eq!(allow_value(&[Method::Put]), "PUT");
    }
}
