//! Shared fixture for the integration tests: starts the real `wfhook`
//! binary on `127.0.0.1:0` in a temporary root, and talks to it with a tiny
//! HTTP/1.1 client written on `std::net::TcpStream`.
//!
//! Every test file includes this module with `mod common;`, so helpers that
//! one file does not use are expected.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The key every test server accepts unless a test asks otherwise.
pub const KEY: &str = "test-key";
pub const USER: &str = "tester@example.com";
/// How long a server may take to say it listens, or to exit.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// No single response may take longer than this: a hung server fails the test.
const IO_TIMEOUT: Duration = Duration::from_secs(15);

/// The path of the binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_wfhook")
}

/// A `wfhook` command with the caller's `WFHOOK_*` variables removed, so
/// that nothing from the developer's shell changes what a test sees.
pub fn command() -> Command {
    let mut cmd = Command::new(bin());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("WFHOOK_") {
            cmd.env_remove(&k);
        }
    }
    cmd.env("RUST_LOG", "info").env_remove("RUST_LOG_STYLE").stdin(Stdio::null());
    cmd
}

/// How to start a test server.
pub struct Builder {
    args: Vec<String>,
    env: Vec<(String, String)>,
    key: Option<String>,
    root: Option<PathBuf>,
    base: String,
}

impl Builder {
    /// An extra command-line argument for `serve`.
    pub fn arg(mut self, a: &str) -> Builder {
        self.args.push(a.to_string());
        self
    }

    pub fn args(mut self, args: &[&str]) -> Builder {
        for a in args {
            self = self.arg(a);
        }
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Builder {
        self.env.push((k.to_string(), v.to_string()));
        self
    }

    /// Starts without any configured key (no `WFHOOK_API_KEY`).
    pub fn no_key(mut self) -> Builder {
        self.key = None;
        self
    }

    /// Uses `key` as `WFHOOK_API_KEY` and as the key the helpers send.
    pub fn key(mut self, key: &str) -> Builder {
        self.key = Some(key.to_string());
        self
    }

    /// Serves an existing folder (kept by the caller) instead of a fresh one.
    pub fn root(mut self, root: &Path) -> Builder {
        self.root = Some(root.to_path_buf());
        self
    }

    /// Serves every endpoint under `base` (`--base-path`).
    pub fn base_path(mut self, base: &str) -> Builder {
        self.args.push("--base-path".into());
        self.args.push(base.into());
        self.base = base.trim_end_matches('/').to_string();
        self
    }

    pub fn start(self) -> TestServer {
        let tmp = tempfile::tempdir().expect("a temporary folder");
        let root = self.root.clone().unwrap_or_else(|| tmp.path().join("root"));
        let mut cmd = command();
        cmd.arg("serve").arg("--listen").arg("127.0.0.1:0").arg("--root").arg(&root);
        cmd.args(&self.args);
        // Parallel tests must not race for the default admin port.
        if !self.args.iter().any(|a| a.starts_with("--admin-listen")) {
            cmd.args(["--admin-listen", "off"]);
        }
        match &self.key {
            Some(k) => cmd.env("WFHOOK_API_KEY", k),
            None => cmd.env_remove("WFHOOK_API_KEY"),
        };
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("cannot start the wfhook binary");
        let stderr = Arc::new(Mutex::new(String::new()));
        let stdout = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let readers = vec![
            drain(child.stderr.take().unwrap(), Arc::clone(&stderr), Some(tx)),
            drain(child.stdout.take().unwrap(), Arc::clone(&stdout), None),
        ];
        let deadline = Instant::now() + START_TIMEOUT;
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(addr) = listening_addr(&line) {
                        break addr;
                    }
                }
                Err(e) => {
                    let _ = child.kill();
                    let status = child.wait();
                    panic!(
                        "wfhook did not report 'listening on' ({e:?}, {status:?}); stderr:\n{}",
                        stderr.lock().unwrap()
                    );
                }
            }
        };
        TestServer {
            child,
            addr,
            root: root.canonicalize().unwrap_or(root),
            tmp,
            key: self.key,
            base: self.base,
            stderr,
            stdout,
            readers,
            exit: None,
        }
    }
}

impl TestServer {
    /// The admin listener's address, from its start-up log line.
    pub fn admin_addr(&self) -> SocketAddr {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let found = self
                .stderr()
                .lines()
                .find_map(|l| l.split("admin listener on http://").nth(1)?.split_whitespace().next()?.parse().ok());
            if let Some(addr) = found {
                return addr;
            }
            assert!(Instant::now() < deadline, "no admin listener in stderr:\n{}", self.stderr());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Parses `ADDR` out of a log line holding `listening on http://ADDR`.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let rest = line.split("listening on http://").nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

/// Copies a child's output into `buf` line by line on a thread, so the child
/// never blocks on a full pipe; each line also goes to `tx` when given.
fn drain(
    pipe: impl Read + Send + 'static,
    buf: Arc<Mutex<String>>,
    tx: Option<mpsc::Sender<String>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut r = BufReader::new(pipe);
        let mut line = Vec::new();
        loop {
            line.clear();
            match r.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line).into_owned();
                    buf.lock().unwrap().push_str(&text);
                    if let Some(tx) = &tx {
                        let _ = tx.send(text);
                    }
                }
            }
        }
    })
}

/// A running `wfhook serve`, killed when dropped.
pub struct TestServer {
    child: Child,
    pub addr: SocketAddr,
    /// The served folder (canonical).
    pub root: PathBuf,
    /// The temporary folder holding the root; also a place outside the root.
    tmp: tempfile::TempDir,
    pub key: Option<String>,
    /// The base path, `""` or `/api/v1`.
    pub base: String,
    stderr: Arc<Mutex<String>>,
    stdout: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
    exit: Option<ExitStatus>,
}

impl TestServer {
    pub fn builder() -> Builder {
        Builder { args: Vec::new(), env: Vec::new(), key: Some(KEY.to_string()), root: None, base: String::new() }
    }

    /// A server with the default test key and `args` added to `serve`.
    pub fn start(args: &[&str]) -> TestServer {
        TestServer::builder().args(args).start()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A folder outside the root (the root's parent), for symlink targets.
    pub fn outside(&self) -> PathBuf {
        let p = self.tmp.path().join("outside");
        std::fs::create_dir_all(&p).expect("create the outside folder");
        p
    }

    /// The root's hidden state folder.
    pub fn state_dir(&self) -> PathBuf {
        self.root.join(".wfhook")
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// Sends SIGTERM to the server.
    pub fn sigterm(&self) {
        let ok = Command::new("kill").arg("-TERM").arg(self.pid().to_string()).status().expect("kill runs");
        assert!(ok.success(), "kill -TERM failed");
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        self.exit.is_none() && self.child.try_wait().expect("try_wait").is_none()
    }

    /// Waits for the server to exit (at most `START_TIMEOUT`), then for its
    /// output to be read to the end.
    pub fn wait_exit(&mut self) -> ExitStatus {
        if let Some(s) = self.exit {
            return s;
        }
        let deadline = Instant::now() + START_TIMEOUT;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("wfhook did not exit in time; stderr:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        self.exit = Some(status);
        status
    }

    /// SIGTERM, then the exit status.
    pub fn stop(&mut self) -> ExitStatus {
        self.sigterm();
        self.wait_exit()
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
        let mut q = format!("/uploadInit?parentId={}&filename={}", enc(parent), enc(filename));
        if let Some((d, v)) = doc {
            let _ = write!(q, "&documentId={}&documentVersionId={}", enc(d), enc(v));
        }
        self.call("POST", &q, b"").ok_json()
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

    /// Every line of the journal, parsed; panics on a line that is not JSON.
    pub fn journal(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.state_dir().join("journal.jsonl")).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("journal line is not JSON ({e}): {l}")))
            .collect()
    }

    /// Fetches an absolute link (viewLink/downloadLink) with no credentials.
    pub fn fetch_link(&self, link: &str) -> Response {
        let prefix = format!("http://{}", self.addr);
        let target = link.strip_prefix(&prefix).unwrap_or_else(|| panic!("link {link} is not under {prefix}"));
        request(self.addr, "GET", target, &[], b"")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if self.exit.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

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

/// A connected stream with read and write timeouts.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect to the test server");
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    s
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

/// Reads one response (skipping `1xx` interim responses); panics where
/// [`try_read_response`] returns an error.
pub fn read_response(r: &mut impl BufRead, head_request: bool) -> Response {
    try_read_response(r, head_request).unwrap_or_else(|e| panic!("reading the response: {e}"))
}

/// Splits raw response bytes into (head, body) at the blank line.
pub fn split_raw(bytes: &[u8]) -> (String, Vec<u8>) {
    let at = bytes.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete response head");
    (String::from_utf8_lossy(&bytes[..at]).into_owned(), bytes[at + 4..].to_vec())
}

/// Polls `cond` every few milliseconds until it holds (at most 10 s).
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + START_TIMEOUT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `wfhook` with `args` to completion: (status, stdout, stderr).
pub fn run(args: &[&str]) -> (ExitStatus, String, String) {
    let out = command().args(args).output().expect("run wfhook");
    (out.status, String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// What `wfhook --help` prints; it must succeed, in UTF-8.
pub fn help() -> String {
    let out = command().arg("--help").output().expect("run wfhook --help");
    assert!(out.status.success(), "wfhook --help failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("--help is UTF-8")
}

// ------------------------------------------------ faults, load and crashes

impl TestServer {
    /// Kills the server with SIGKILL (no chance to finish anything) and
    /// waits for it to be gone.
    pub fn kill9(&mut self) -> ExitStatus {
        let ok = Command::new("kill").arg("-9").arg(self.pid().to_string()).status().expect("kill runs");
        assert!(ok.success(), "kill -9 failed");
        self.wait_exit()
    }

    /// The admin listener's Prometheus page (start with `--admin-listen 127.0.0.1:0`).
    pub fn metrics(&self) -> String {
        let r = request(self.admin_addr(), "GET", "/metrics", &[], b"");
        assert_eq!(r.status, 200, "{}", r.text());
        r.text()
    }

    /// The server's resident memory in KiB, from `/proc/PID/status`.
    pub fn rss_kib(&self) -> Option<u64> {
        proc_status(self.pid(), "VmRSS:")
    }

    /// The number of threads the server runs now.
    pub fn threads(&self) -> Option<u64> {
        proc_status(self.pid(), "Threads:")
    }
}

/// A numeric field of `/proc/PID/status` (the first number after `key`).
pub fn proc_status(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix(key)?.split_whitespace().next()?.parse().ok())
}

/// The value of one series of a Prometheus page, e.g.
/// `wfhook_requests_total{endpoint="files",status="200"}`; 0 when absent.
pub fn metric(page: &str, series: &str) -> f64 {
    page.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok()).unwrap_or(0.0)
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
        let s = TcpStream::connect(addr)?;
        s.set_read_timeout(Some(IO_TIMEOUT))?;
        s.set_write_timeout(Some(IO_TIMEOUT))?;
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

/// `tool`'s path: on `PATH`, or in the sbin folders a non-root `PATH` lacks.
fn find_tool(tool: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(tool))
        .find(|p| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// The tools' paths; when one is missing, fails under CI and skips elsewhere.
pub fn tools_or_skip(tools: &[&str]) -> Option<Vec<PathBuf>> {
    let found: Vec<Option<PathBuf>> = tools.iter().map(|t| find_tool(t)).collect();
    let missing: Vec<&str> = tools.iter().zip(&found).filter(|(_, p)| p.is_none()).map(|(t, _)| *t).collect();
    if missing.is_empty() {
        return Some(found.into_iter().flatten().collect());
    }
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("CI is set but these are not installed: {} (.ci/run installs them)", missing.join(", "));
    }
    println!("skipped: {} not installed", missing.join(", "));
    None
}
