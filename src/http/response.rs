//! Building responses: JSON bodies in the contract's shapes, files, and the
//! headers around them. Every header value passes through [`safe_header`],
//! so no byte from a request or a file name reaches a header unchecked, and
//! every answer passes through [`render`], which adds the common headers.

use std::borrow::Cow;
use std::fs::File;
use std::io::Cursor;

use serde_json::{Value, json};
use tiny_http::{Header, Response, ResponseBox, StatusCode};

use super::browser::Validators;

/// How an endpoint words its errors (the contract differs per endpoint).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// `{"status": "error", "error": …}`
    Error,
    /// `{"status": "failure", "error": …}` — customAction, delete, rename.
    Failure,
    /// `{"result": "fail", "error": …}` — upload.
    Result,
}

impl Style {
    pub fn error_body(self, message: &str) -> Value {
        match self {
            Style::Error => json!({"status": "error", "error": message}),
            Style::Failure => json!({"status": "failure", "error": message}),
            Style::Result => json!({"result": "fail", "error": message}),
        }
    }
}

/// What a handler answers.
pub enum Reply {
    Json(u16, Value),
    /// A 200 JSON answer, already serialized.
    JsonBytes(Vec<u8>),
    /// A 200 JSON answer written to a nameless temp file first (a long
    /// listing): sent from there, its memory is never held whole.
    JsonFile {
        file: File,
        len: u64,
    },
    /// A page, with the Content-Security-Policy that lets it load what it
    /// needs and nothing else.
    Html {
        body: String,
        csp: String,
    },
    File {
        file: File,
        len: u64,
        mime: String,
        name: String,
        inline: bool,
        browser: Option<Browser>,
    },
    /// 304: the client's copy is current; kept as the 200 would have been.
    NotModified(Validators, Caching),
    /// A thumbnail (`/thumbnail`); with what a browser keeps and resumes
    /// it by, unless it is a stand-in not to be kept.
    Image {
        answer: crate::thumbnail::Answer,
        browser: Option<Browser>,
    },
    /// 416: the range asked starts past the end of a file of this size.
    Unsatisfiable(u64),
}

/// Whether a browser may keep an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caching {
    /// Never: documents and API answers (`no-store`).
    NoStore,
    /// In its own cache only, asking again each time with the tag (a
    /// cheap 304): a thumbnail, which changes when its file does, under
    /// the same URL.
    Revalidate,
}

impl Caching {
    fn header(self) -> &'static str {
        match self {
            Caching::NoStore => "no-store",
            Caching::Revalidate => "private, no-cache",
        }
    }
}

/// What a browser gets to cache and resume a file by.
#[derive(Clone, Debug)]
pub struct Browser {
    pub validators: Validators,
    /// Bytes `start..=end` of `total` (a 206), when a range was asked.
    pub part: Option<(u64, u64, u64)>,
}

/// A header whose value is visible ASCII and spaces only; anything else is
/// replaced, so a CR or LF can never split the header block.
pub fn safe_header(name: &'static str, value: &str) -> Header {
    // Most values are clean already: copy them once, into the header.
    let clean = if value.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
        Cow::Borrowed(value)
    } else {
        Cow::Owned(value.chars().map(|c| if c == ' ' || c.is_ascii_graphic() { c } else { '_' }).collect())
    };
    Header::from_bytes(name.as_bytes(), clean.as_bytes()).expect("a cleaned header is valid ASCII")
}

/// `Content-Disposition` per RFC 6266: an ASCII fallback `filename` and the
/// exact name as RFC 8187 `filename*`.
pub fn content_disposition(name: &str, inline: bool) -> String {
    let fallback: String = name
        .chars()
        .map(|c| if (c == ' ' || c.is_ascii_graphic()) && c != '"' && c != '\\' { c } else { '_' })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    let kind = if inline { "inline" } else { "attachment" };
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

pub fn json(status: u16, body: &Value) -> Response<Cursor<Vec<u8>>> {
    let bytes = serde_json::to_vec(body).expect("JSON values serialize");
    Response::from_data(bytes)
        .with_status_code(StatusCode(status))
        .with_header(safe_header("Content-Type", "application/json"))
}

/// The policy of a document that could run script: it is shown, but in a
/// sandbox (a unique origin, no script, no forms, no plugins) that loads
/// nothing. Chosen over `attachment` because `view` keeps showing the
/// document, and because some browsers (iOS Safari, in-app web views) show
/// attachments inline anyway: the sandbox holds wherever the bytes are
/// rendered, so it goes on `download` answers too.
pub const ACTIVE_CSP: &str = "sandbox; default-src 'none'";

/// True for a media type that a browser could run script in if it rendered
/// it on wfhook's origin: HTML and XHTML; SVG and every other XML (`*/xml`,
/// `*+xml`, any subtype ending in `xml`, XSLT, MathML, RDF), since XML can
/// carry XHTML script or pull in an XSLT; JavaScript and ECMAScript in any
/// spelling; MHTML (`message/rfc822`, `multipart/*`); Flash; IE's scriptlets
/// and HTML components. A type that does not parse counts as active.
/// Everything else is passive: other text (plain, CSS, CSV, Markdown, an
/// unknown `text/x-…`), images but SVG, PDF, audio and video.
pub fn is_active(mime: &str) -> bool {
    let essence = mime.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let Some((kind, sub)) = essence.split_once('/') else {
        return true;
    };
    if kind.is_empty() || sub.is_empty() {
        return true;
    }
    // Script languages, in any of their spellings (`text/javascript1.5`,
    // `application/x-ecmascript`…).
    const SCRIPTS: &[&str] = &["javascript", "ecmascript", "jscript", "livescript", "vbscript"];
    // XML that is not named `…xml` (XSLT, MathML, RDF), Flash, and IE's
    // scriptlets and HTML components.
    const OTHERS: &[&str] =
        &["xsl", "xslt", "x-xslt", "mathml", "rdf", "x-shockwave-flash", "futuresplash", "scriptlet", "x-component"];
    sub.ends_with("xml")
        || sub.contains("html")
        || SCRIPTS.iter().any(|s| sub.contains(s))
        || OTHERS.contains(&sub)
        || kind == "multipart"
        || essence == "message/rfc822"
}

/// Turns a reply into a tiny_http response with the common headers. Every
/// answer passes here, so the headers added below are on all of them.
pub fn render(reply: Reply, request_id: &str) -> ResponseBox {
    let caching = match &reply {
        Reply::NotModified(_, caching) => *caching,
        Reply::Image { browser: Some(_), .. } => Caching::Revalidate,
        _ => Caching::NoStore,
    };
    let mut rs = match reply {
        Reply::Json(status, body) => json(status, &body).boxed(),
        Reply::JsonBytes(bytes) => {
            Response::from_data(bytes).with_header(safe_header("Content-Type", "application/json")).boxed()
        }
        Reply::JsonFile { file, len } => {
            Response::from_file_len(file, len).with_header(safe_header("Content-Type", "application/json")).boxed()
        }
        Reply::Html { body, csp } => Response::from_data(body.into_bytes())
            .with_header(safe_header("Content-Type", "text/html; charset=utf-8"))
            .with_header(safe_header("Content-Security-Policy", &csp))
            .boxed(),
        Reply::File { file, len, mime, name, inline, browser } => {
            // Declares its size (never chunked), and the connection layer
            // hands the file to the kernel (`sendfile`) from its position.
            let mut rs = Response::from_file_len(file, len)
                .with_header(safe_header("Content-Type", &mime))
                .with_header(safe_header("Content-Disposition", &content_disposition(&name, inline)));
            if is_active(&mime) {
                rs.add_header(safe_header("Content-Security-Policy", ACTIVE_CSP));
            }
            with_browser(rs.boxed(), browser.as_ref())
        }
        Reply::Image { answer, browser } => {
            use crate::thumbnail::Body;
            let part = browser.as_ref().and_then(|b| b.part);
            let rs = match (answer.body, part) {
                (Body::Bytes(bytes), None) => Response::from_data(bytes).boxed(),
                (Body::Bytes(bytes), Some((start, end, _))) => {
                    Response::from_data(bytes[start as usize..=end as usize].to_vec()).boxed()
                }
                (Body::File(file, len), None) => Response::from_file_len(file, len).boxed(),
                // The handler put the file at `start`.
                (Body::File(file, _), Some((start, end, _))) => Response::from_file_len(file, end - start + 1).boxed(),
            };
            with_browser(rs.with_header(safe_header("Content-Type", answer.format.mime())), browser.as_ref())
        }
        Reply::NotModified(v, _) => {
            let mut rs = Response::empty(StatusCode(304)).with_header(safe_header("ETag", &v.etag));
            if let Some(date) = v.last_modified() {
                rs.add_header(safe_header("Last-Modified", &date));
            }
            rs.boxed()
        }
        Reply::Unsatisfiable(total) => json(416, &Style::Error.error_body("the range starts past the end of the file"))
            .with_header(safe_header("Content-Range", &format!("bytes */{total}")))
            .boxed(),
    };
    // The declared type is the only one: a browser never guesses HTML or
    // script into a JSON answer, an error or a file.
    rs.add_header(safe_header("X-Content-Type-Options", "nosniff"));
    rs.add_header(safe_header("X-Request-Id", request_id));
    rs.add_header(safe_header("Server", "wfhook"));
    rs.add_header(safe_header("Cache-Control", caching.header()));
    rs
}

/// The browser path's headers of a file or a thumbnail: `Accept-Ranges`,
/// its validators, and for one range 206 with `Content-Range`.
fn with_browser(mut rs: ResponseBox, browser: Option<&Browser>) -> ResponseBox {
    let Some(b) = browser else { return rs };
    rs.add_header(safe_header("Accept-Ranges", "bytes"));
    rs.add_header(safe_header("ETag", &b.validators.etag));
    if let Some(date) = b.validators.last_modified() {
        rs.add_header(safe_header("Last-Modified", &date));
    }
    if let Some((start, end, total)) = b.part {
        rs = rs.with_status_code(StatusCode(206));
        rs.add_header(safe_header("Content-Range", &format!("bytes {start}-{end}/{total}")));
    }
    rs
}

/// Escapes text for an HTML page.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_cannot_carry_line_breaks() {
        let h = safe_header("Content-Disposition", "a\r\nSet-Cookie: x=1");
        assert_eq!(h.value.as_str(), "a__Set-Cookie: x=1");
        let h = safe_header("X", "é\0");
        assert_eq!(h.value.as_str(), "__");
        let h = safe_header("X", "a clean value, kept as it is: !~");
        assert_eq!(h.value.as_str(), "a clean value, kept as it is: !~");
        assert_eq!(safe_header("X", "tab\there").value.as_str(), "tab_here");
    }

    #[test]
    fn content_disposition_encodes_per_rfc_8187() {
        assert_eq!(
            content_disposition("a b.pdf", false),
            "attachment; filename=\"a b.pdf\"; filename*=UTF-8''a%20b.pdf"
        );
        assert_eq!(
            content_disposition("été \"x\".txt", true),
            "inline; filename=\"_t_ _x_.txt\"; filename*=UTF-8''%C3%A9t%C3%A9%20%22x%22.txt"
        );
        let cd = content_disposition("a\r\nb", false);
        assert!(!cd.contains('\r') && !cd.contains('\n'));
    }

    #[test]
    fn large_files_are_sent_with_a_content_length() {
        let mut tmp = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut tmp, &[7u8; 100_000]).unwrap();
        std::io::Seek::rewind(&mut tmp).unwrap();
        let reply =
            Reply::File { file: tmp, len: 100_000, mime: "a/b".into(), name: "f".into(), inline: false, browser: None };
        let mut wire = Vec::new();
        render(reply, "r-1").raw_print(&mut wire, tiny_http::HTTPVersion(1, 1), &[], true, None).unwrap();
        let head = String::from_utf8(wire).unwrap();
        assert!(head.contains("Content-Length: 100000\r\n"), "{head}");
        assert!(!head.contains("chunked"), "{head}");
    }

    /// The head of a rendered reply, as it goes on the wire.
    fn head_of(reply: Reply) -> String {
        let mut wire = Vec::new();
        render(reply, "r-1").raw_print(&mut wire, tiny_http::HTTPVersion(1, 1), &[], false, None).unwrap();
        let wire = String::from_utf8_lossy(&wire).into_owned();
        wire.split("\r\n\r\n").next().unwrap().to_string()
    }

    fn file_reply(mime: &str, inline: bool) -> Reply {
        let file = tempfile::tempfile().unwrap();
        Reply::File { file, len: 0, mime: mime.into(), name: "f".into(), inline, browser: None }
    }

    #[test]
    fn every_answer_says_nosniff_once() {
        let replies = [
            Reply::Json(200, json!({"webhookVersion": "1.2"})),
            Reply::Json(403, Style::Error.error_body("missing or invalid apiKey")),
            Reply::Html { body: "<!doctype html>".into(), csp: "default-src 'none'".into() },
            file_reply("image/png", true),
            file_reply("text/html", false),
        ];
        for reply in replies {
            let head = head_of(reply);
            assert_eq!(head.matches("\r\nX-Content-Type-Options: nosniff").count(), 1, "{head}");
        }
    }

    const ACTIVE: &[&str] = &[
        "text/html",
        "TEXT/HTML; charset=utf-8",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "application/rss+xml",
        "application/atom+xml",
        "application/mathml+xml",
        "application/xslt+xml",
        "application/vnd.recordare.musicxml",
        "application/x-gramps-xml",
        "text/xsl",
        "text/mathml",
        "text/rdf",
        "text/javascript",
        "text/javascript1.5",
        "application/javascript",
        "application/x-javascript",
        "application/ecmascript",
        "text/ecmascript",
        "text/jscript",
        "text/livescript",
        "text/vbscript",
        "application/x-shockwave-flash",
        "application/futuresplash",
        "text/x-component",
        "text/scriptlet",
        "text/webviewhtml",
        "application/vnd.ms-htmlhelp",
        "message/rfc822",
        "multipart/related",
        "multipart/x-mixed-replace",
        "",
        "html",
        "/html",
        "text/",
    ];

    const PASSIVE: &[&str] = &[
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/avif",
        "application/pdf",
        "text/plain",
        "text/plain; charset=utf-8",
        "text/css",
        "text/csv",
        "text/markdown",
        "text/x-rust",
        "text/x-something-new",
        "text/vtt",
        "text/coffeescript",
        "audio/mpeg",
        "audio/ogg",
        "video/mp4",
        "video/webm",
        "application/json",
        "application/octet-stream",
        "application/zip",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/wasm",
    ];

    #[test]
    fn active_types_are_known() {
        for mime in ACTIVE {
            assert!(is_active(mime), "{mime:?} is active");
        }
        for mime in PASSIVE {
            assert!(!is_active(mime), "{mime:?} is passive");
        }
    }

    #[test]
    fn every_type_mime_guess_names_for_a_file_is_judged_as_listed() {
        // What the store can answer with: the type guessed from the name.
        for ext in
            ["html", "htm", "xhtml", "svg", "svgz", "xml", "xsl", "xslt", "rss", "js", "mjs", "mht", "eml", "swf"]
        {
            let mime = mime_guess::from_ext(ext).first_or_octet_stream();
            assert!(is_active(mime.essence_str()), ".{ext} ({mime}) is active");
        }
        for ext in ["png", "jpg", "gif", "pdf", "txt", "csv", "css", "md", "mp3", "mp4", "webm", "docx", "json", "bin"]
        {
            let mime = mime_guess::from_ext(ext).first_or_octet_stream();
            assert!(!is_active(mime.essence_str()), ".{ext} ({mime}) is passive");
        }
    }

    #[test]
    fn active_files_are_sandboxed_wherever_they_are_shown() {
        for mime in ["text/html", "image/svg+xml", "application/xml", "text/javascript"] {
            for inline in [true, false] {
                let head = head_of(file_reply(mime, inline));
                let csp: Vec<&str> = head.lines().filter(|l| l.starts_with("Content-Security-Policy:")).collect();
                assert_eq!(csp, ["Content-Security-Policy: sandbox; default-src 'none'"], "{mime}: {head}");
                assert!(!head.contains("allow-scripts"), "{head}");
                // `view` still shows it: the sandbox, not a download, keeps it inert.
                let kind = if inline { "inline" } else { "attachment" };
                assert!(head.contains(&format!("\r\nContent-Disposition: {kind};")), "{head}");
            }
        }
        for mime in ["image/png", "application/pdf", "text/plain", "video/mp4"] {
            let head = head_of(file_reply(mime, true));
            assert!(!head.contains("Content-Security-Policy"), "{mime} is shown as before: {head}");
            assert!(head.contains("\r\nContent-Disposition: inline;"), "{head}");
        }
    }

    #[test]
    fn error_styles() {
        assert_eq!(Style::Failure.error_body("x"), json!({"status": "failure", "error": "x"}));
        assert_eq!(Style::Result.error_body("x")["result"], "fail");
        assert_eq!(html_escape("<a href='x'>"), "&lt;a href=&#39;x&#39;&gt;");
    }
}
