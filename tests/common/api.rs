//! The Workfront document-webhooks API as Workfront calls it, on an
//! [`Api`]: the credentials it sends, each endpoint as a method
//! (`metadata`, `files`, `search`, `upload_init`, `put_file`, `action`…).
//! A [`TestServer`] derefs to its own `Api`; [`Api::at`] calls a proxy in
//! front of servers the same way. Then the journal and signed links of a
//! `TestServer`, and the JSON helpers the tests read answers with.

use std::fmt::Write as _;
use std::net::SocketAddr;

use serde_json::Value;

use super::client::{Response, request};
use super::server::TestServer;
use super::wait::wait_for;

/// The key every test server accepts unless a test asks otherwise.
pub const KEY: &str = "test-key";
pub const USER: &str = "tester@example.com";

/// Percent-encodes a query value (everything but unreserved characters).
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The value of query parameter `name` in a link, decoded.
pub fn link_param(link: &str, name: &str) -> Option<String> {
    let query = link.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// Lowercase hex SHA-256 of `bytes`, as the checksum action reports it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let mut h = wfhook::crypto::Sha256Hasher::default();
    h.update(bytes);
    h.finish_hex()
}

pub fn as_array(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        other => panic!("expected a JSON array, got {other}"),
    }
}

pub fn titles(items: &[Value]) -> Vec<String> {
    items.iter().map(|i| i["title"].as_str().unwrap_or_default().to_string()).collect()
}

/// The item titled `title` among `items`.
pub fn find<'a>(items: &'a [Value], title: &str) -> Option<&'a Value> {
    items.iter().find(|i| i["title"] == title)
}

/// Where the Workfront API is called, and how: an address, the key the
/// helpers send and the base path. What a [`TestServer`] derefs to, so
/// that `s.addr`, `s.key` and `s.files("/")` read as the server's own.
#[derive(Clone, Debug)]
pub struct Api {
    pub addr: SocketAddr,
    /// The key the server was given (`None`: none, and the helpers send
    /// [`KEY`]).
    pub key: Option<String>,
    /// The base path, `""` or `/api/v1`.
    pub base: String,
}

impl Api {
    /// The API at `addr` (a proxy in front of test servers), with the
    /// default test key and no base path.
    pub fn at(addr: SocketAddr) -> Api {
        Api { addr, key: Some(KEY.to_string()), base: String::new() }
    }

    /// `endpoint` (e.g. `/metadata?id=%2F`) under the base path.
    pub fn target(&self, endpoint: &str) -> String {
        format!("{}{endpoint}", self.base)
    }

    /// The `apiKey` and `username` headers Workfront sends.
    pub fn auth(&self) -> Vec<(&str, &str)> {
        vec![("apiKey", self.key.as_deref().unwrap_or(KEY)), ("username", USER)]
    }

    /// A request to `endpoint` under the base path, with the auth headers.
    pub fn call(&self, method: &str, endpoint: &str, body: &[u8]) -> Response {
        self.call_with(method, endpoint, &[], body)
    }

    /// As [`TestServer::call`], with extra headers.
    pub fn call_with(&self, method: &str, endpoint: &str, extra: &[(&str, &str)], body: &[u8]) -> Response {
        let mut headers = self.auth();
        headers.extend_from_slice(extra);
        request(self.addr, method, &self.target(endpoint), &headers, body)
    }

    /// A request with exactly `headers` (no auth added).
    pub fn call_as(&self, method: &str, endpoint: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        request(self.addr, method, &self.target(endpoint), headers, body)
    }

    pub fn get(&self, endpoint: &str) -> Response {
        self.call("GET", endpoint, b"")
    }

    /// GET with auth, expecting 200 and a JSON body.
    pub fn get_json(&self, endpoint: &str) -> Value {
        self.get(endpoint).ok_json()
    }

    pub fn metadata(&self, id: &str) -> Value {
        self.get_json(&format!("/metadata?id={}", enc(id)))
    }

    pub fn files(&self, parent: &str) -> Vec<Value> {
        as_array(self.get_json(&format!("/files?parentId={}", enc(parent))))
    }

    pub fn search(&self, query: &str) -> Vec<Value> {
        as_array(self.get_json(&format!("/search?query={}", enc(query))))
    }

    /// Titles of a folder's children.
    pub fn titles(&self, parent: &str) -> Vec<String> {
        titles(&self.files(parent))
    }

    /// `POST /uploadInit`, expecting success; the new item's metadata.
    pub fn upload_init(&self, parent: &str, filename: &str, doc: Option<(&str, &str)>) -> Value {
        self.upload_init_as(parent, filename, doc).ok_json()
    }

    /// `POST /uploadInit` linking a Workfront document (and version) when
    /// given, without expecting success.
    pub fn upload_init_as(&self, parent: &str, filename: &str, doc: Option<(&str, &str)>) -> Response {
        let mut q = format!("/uploadInit?parentId={}&filename={}", enc(parent), enc(filename));
        if let Some((d, v)) = doc {
            let _ = write!(q, "&documentId={}&documentVersionId={}", enc(d), enc(v));
        }
        self.call("POST", &q, b"")
    }

    /// `POST /uploadInit` without expecting success.
    pub fn upload_init_raw(&self, parent: &str, filename: &str) -> Response {
        self.call("POST", &format!("/uploadInit?parentId={}&filename={}", enc(parent), enc(filename)), b"")
    }

    /// `PUT /upload`, returning the response as is.
    pub fn upload(&self, id: &str, bytes: &[u8]) -> Response {
        self.call("PUT", &format!("/upload?id={}", enc(id)), bytes)
    }

    /// uploadInit + upload; the new file's id.
    pub fn put_file(&self, parent: &str, filename: &str, bytes: &[u8], doc: Option<(&str, &str)>) -> String {
        let item = self.upload_init(parent, filename, doc);
        let id = item["id"].as_str().expect("uploadInit answers an id").to_string();
        let r = self.upload(&id, bytes);
        assert_eq!(r.status, 200, "upload: {}", r.text());
        assert_eq!(r.json()["result"], "success");
        id
    }

    pub fn download(&self, id: &str) -> Response {
        self.get(&format!("/download?id={}", enc(id)))
    }

    pub fn create_folder(&self, parent: &str, name: &str) -> Response {
        self.call("POST", &format!("/createFolder?parentId={}&name={}", enc(parent), enc(name)), b"")
    }

    /// createFolder expecting success; the folder's id.
    pub fn mkdir(&self, parent: &str, name: &str) -> String {
        let v = self.create_folder(parent, name).ok_json();
        v["id"].as_str().unwrap().to_string()
    }

    pub fn rename(&self, id: &str, name: &str) -> Response {
        self.call("PUT", &format!("/rename?id={}&name={}", enc(id), enc(name)), b"")
    }

    pub fn delete(&self, param: &str, id: &str) -> Response {
        self.call("PUT", &format!("/delete?{param}={}", enc(id)), b"")
    }

    /// `GET /customAction` for a Workfront document.
    pub fn action(&self, name: &str, doc: &str, version: Option<&str>) -> Response {
        let mut q = format!("/customAction?name={}&documentId={}", enc(name), enc(doc));
        if let Some(v) = version {
            let _ = write!(q, "&documentVersionId={}", enc(v));
        }
        self.get(&q)
    }
}

impl TestServer {
    /// Every whole line of the journal, parsed; panics on a line that is
    /// not JSON. A last line without its newline is being written (by this
    /// server or another on the root: a read may see part of an append) and
    /// is left for the next look.
    pub fn journal_lines(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.state_dir().journal()).unwrap_or_default();
        let whole = text.rfind('\n').map_or("", |end| &text[..end]);
        whole
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("journal line is not JSON ({e}): {l}")))
            .collect()
    }

    /// The journal's final records (one per request, written once its
    /// answer is out), as they are now.
    pub fn journal(&self) -> Vec<Value> {
        self.journal_lines().into_iter().filter(|e| e.get("complete").is_some()).collect()
    }

    /// The journal's final records, once there are at least `n`: a record
    /// is written just after its answer's last byte, which the client may
    /// read first.
    pub fn records(&self, n: usize) -> Vec<Value> {
        wait_for(&format!("{n} final records in the journal"), || self.journal().len() >= n);
        self.journal()
    }

    /// An item's signed `viewLink`, from its metadata.
    pub fn view_link(&self, id: &str) -> String {
        self.metadata(id)["viewLink"].as_str().expect("metadata has a viewLink").to_string()
    }

    /// A signer with the root's link secret: what the server signs links
    /// with, for tests that forge links only the server could make.
    pub fn signer(&self) -> wfhook::crypto::Signer {
        let secret = std::fs::read_to_string(self.state_dir().link_secret()).expect("the link secret");
        wfhook::crypto::Signer::new(secret.trim().as_bytes())
    }

    /// Fetches an absolute link (viewLink/downloadLink) with no credentials.
    pub fn fetch_link(&self, link: &str) -> Response {
        let prefix = format!("http://{}", self.addr);
        let target = link.strip_prefix(&prefix).unwrap_or_else(|| panic!("link {link} is not under {prefix}"));
        request(self.addr, "GET", target, &[], b"")
    }
}
