//! Reading a request safely: framing checks before the body is touched,
//! query and form decoding, header look-ups.

use std::io::Read;

use tiny_http::{Method, Request};

use super::errors::HttpError;

/// Form bodies (createFolder, rename…) are small; anything bigger is refused.
pub const MAX_FORM_BYTES: u64 = 64 * 1024;

/// The value of the first header named `name` (case-insensitive).
pub fn header<'a>(rq: &'a Request, name: &'static str) -> Option<&'a str> {
    rq.headers().iter().find(|h| h.field.equiv(name)).map(|h| h.value.as_str())
}

/// Checks a request's framing from its headers alone, before its body is
/// read: a body that cannot be delimited without ambiguity is refused.
pub fn check_framing(rq: &Request) -> Result<(), HttpError> {
    check_framing_headers(rq.headers())
}

fn check_framing_headers(headers: &[tiny_http::Header]) -> Result<(), HttpError> {
    // One pass over the headers, counting, without collecting them.
    let (mut te, mut te_chunked, mut cl, mut cl_valid) = (0, true, 0, true);
    for h in headers {
        if h.field.equiv("Transfer-Encoding") {
            te += 1;
            te_chunked &= h.value.as_str().trim().eq_ignore_ascii_case("chunked");
        } else if h.field.equiv("Content-Length") {
            cl += 1;
            cl_valid &= h.value.as_str().trim().parse::<u64>().is_ok();
        }
    }
    if te > 0 {
        if te > 1 || !te_chunked {
            return Err(HttpError::BadRequest("unsupported Transfer-Encoding".into()));
        }
        if cl > 0 {
            return Err(HttpError::BadRequest("both Transfer-Encoding and Content-Length".into()));
        }
    }
    if cl > 1 || !cl_valid {
        return Err(HttpError::BadRequest("invalid Content-Length".into()));
    }
    Ok(())
}

/// The declared body length; `None` for chunked bodies. tiny_http parsed
/// it already, after the framing checks.
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
        rq.as_reader()
            .take(MAX_FORM_BYTES + 1)
            .read_to_end(&mut body)
            .map_err(|_| HttpError::BadRequest("could not read the form body".into()))?;
        if body.len() as u64 > MAX_FORM_BYTES {
            return Err(HttpError::TooLarge(MAX_FORM_BYTES));
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
        self.get(name).ok_or_else(|| HttpError::BadRequest(format!("missing parameter: {name}")))
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
    fn framing_is_judged_from_the_headers() {
        let ok = |h: &[(&str, &str)]| {
            let headers: Vec<tiny_http::Header> =
                h.iter().map(|(k, v)| tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).unwrap()).collect();
            check_framing_headers(&headers).is_ok()
        };
        assert!(ok(&[]));
        assert!(ok(&[("Host", "x"), ("content-length", "5")]));
        assert!(ok(&[("Content-Length", "5")]));
        assert!(ok(&[("Content-Length", " 0 ")]));
        assert!(ok(&[("Transfer-Encoding", "chunked")]));
        assert!(ok(&[("Transfer-Encoding", " Chunked ")]));
        assert!(!ok(&[("Transfer-Encoding", "gzip, chunked")]));
        assert!(!ok(&[("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "chunked")]));
        assert!(!ok(&[("Transfer-Encoding", "chunked"), ("Content-Length", "5")]));
        assert!(!ok(&[("Content-Length", "5"), ("Content-Length", "5")]));
        assert!(!ok(&[("Content-Length", "-1")]));
        assert!(!ok(&[("Content-Length", "5x")]));
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
