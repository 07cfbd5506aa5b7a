//! The [`TestServer`] fixture: the real `wfhook` binary serving a temporary
//! root on `127.0.0.1:0`, found by its `listening on` log line, signalled
//! like an operator would, and killed when dropped; and the one-shot runs of
//! the binary ([`run`], [`help`]).

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use wfhook::state_dir::StateDir;

use super::api::{Api, KEY};
use super::client::request;
use super::tools::proc_status;
use super::wait::{WAIT, poll, wait_until};

/// The path of the binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_wfhook")
}

/// A `wfhook` command with the caller's `WFHOOK_*` and proxy variables removed, so
/// that nothing from the developer's shell changes what a test sees.
pub fn command() -> Command {
    command_of(bin())
}

/// [`command`]'s cleaned environment for any program.
fn command_of(program: &str) -> Command {
    let mut cmd = Command::new(program);
    for (k, _) in std::env::vars_os() {
        let k_text = k.to_string_lossy().to_ascii_uppercase();
        // A proxy of the developer's would carry the lookups of the
        // simulated Workfront elsewhere.
        if k_text.starts_with("WFHOOK_") || k_text.ends_with("_PROXY") {
            cmd.env_remove(&k);
        }
    }
    cmd.env("RUST_LOG", "info").env_remove("RUST_LOG_STYLE").stdin(Stdio::null());
    cmd
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

/// How to start a test server.
pub struct Builder {
    args: Vec<String>,
    env: Vec<(String, String)>,
    key: Option<String>,
    root: Option<PathBuf>,
    base: String,
    umask: Option<u32>,
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

    /// Runs the server with process umask `mask` (such as `0o077`) instead
    /// of the test's own. `Command::pre_exec` would need `unsafe`, so the
    /// server is started through `sh -c 'umask 077; exec "$0" "$@"'`: the
    /// shell sets the mask and becomes the server, with the same pid.
    pub fn umask(mut self, mask: u32) -> Builder {
        self.umask = Some(mask);
        self
    }

    /// Spawns the server and waits (at most [`WAIT`]) for its `listening on`
    /// line.
    pub fn start(self) -> TestServer {
        let tmp = tempfile::tempdir().expect("a temporary folder");
        let root = self.root.clone().unwrap_or_else(|| tmp.path().join("root"));
        let mut cmd = match self.umask {
            None => command(),
            Some(mask) => {
                let mut sh = command_of("sh");
                sh.arg("-c").arg(format!("umask {mask:03o}; exec \"$0\" \"$@\"")).arg(bin());
                sh
            }
        };
        cmd.arg("serve").arg("--listen").arg("127.0.0.1:0").arg("--root").arg(&root);
        cmd.args(&self.args);
        // Parallel tests must not race for the default admin port.
        if !self.args.iter().any(|a| a.starts_with("--admin-listen")) {
            cmd.args(["--admin-listen", "off"]);
        }
        // The index goes beside the root, never into the user's cache.
        if !self.args.iter().any(|a| a.starts_with("--index-dir")) {
            cmd.arg("--index-dir").arg(tmp.path().join("index"));
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
        let deadline = Instant::now() + WAIT;
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
            api: Api { addr, key: self.key, base: self.base },
            root: root.canonicalize().unwrap_or(root),
            tmp,
            stderr,
            stdout,
            readers,
            exit: None,
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

/// A running `wfhook serve`, killed when dropped. It derefs to its
/// [`Api`]: its address (`s.addr`), key, base path and the endpoints.
pub struct TestServer {
    child: Child,
    api: Api,
    /// The served folder (canonical).
    pub root: PathBuf,
    /// The temporary folder holding the root; also a place outside the root.
    tmp: tempfile::TempDir,
    stderr: Arc<Mutex<String>>,
    stdout: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
    exit: Option<ExitStatus>,
}

impl TestServer {
    pub fn builder() -> Builder {
        Builder {
            args: Vec::new(),
            env: Vec::new(),
            key: Some(KEY.to_string()),
            root: None,
            base: String::new(),
            umask: None,
        }
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
    pub fn state_dir(&self) -> StateDir {
        StateDir::of_root(&self.root)
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// Sends signal `name` (`TERM`, `INT`, `HUP`, `KILL`) to the server and waits
    /// until the kernel has delivered it (it is no longer pending), so that a
    /// test knows the server got it before the test goes on.
    pub fn signal(&self, name: &str) {
        let pid = self.pid();
        let ok = Command::new("kill").args(["-s", name]).arg(pid.to_string()).status().expect("kill runs");
        assert!(ok.success(), "kill -s {name} {pid} failed");
        let number = match name {
            "HUP" => 1,
            "INT" => 2,
            "KILL" => 9,
            "TERM" => 15,
            other => panic!("no signal number known for {other}"),
        };
        wait_for_delivery(pid, number);
    }

    /// Sends SIGTERM to the server.
    pub fn sigterm(&self) {
        self.signal("TERM");
    }

    /// Kills the server with SIGKILL (no chance to finish anything) and
    /// waits for it to be gone.
    pub fn kill9(&mut self) -> ExitStatus {
        self.signal("KILL");
        self.wait_exit()
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        self.exit.is_none() && self.child.try_wait().expect("try_wait").is_none()
    }

    /// Waits for the server to exit (at most [`WAIT`]), then for its output
    /// to be read to the end.
    pub fn wait_exit(&mut self) -> ExitStatus {
        if let Some(s) = self.exit {
            return s;
        }
        let child = &mut self.child;
        let Some(status) = poll(|| child.try_wait().expect("try_wait")) else {
            let _ = self.child.kill();
            let _ = self.child.wait();
            panic!("wfhook did not exit within {WAIT:?}; stderr:\n{}", self.stderr());
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

    /// The admin listener's address, from its start-up log line.
    pub fn admin_addr(&self) -> SocketAddr {
        let found = poll(|| {
            self.stderr()
                .lines()
                .find_map(|l| l.split("admin listener on http://").nth(1)?.split_whitespace().next()?.parse().ok())
        });
        found.unwrap_or_else(|| panic!("no admin listener in stderr:\n{}", self.stderr()))
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

    /// How many request bodies the server is reading now: each has a
    /// nameless temp file in the root's temp folder open.
    pub fn bodies_in_flight(&self) -> usize {
        let tmp = self.state_dir().tmp();
        let Ok(fds) = std::fs::read_dir(format!("/proc/{}/fd", self.pid())) else { return 0 };
        fds.flatten()
            .filter_map(|fd| std::fs::read_link(fd.path()).ok())
            .filter(|target| target.starts_with(&tmp) && target.to_string_lossy().ends_with("(deleted)"))
            .count()
    }
}

impl std::ops::Deref for TestServer {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

impl std::ops::DerefMut for TestServer {
    fn deref_mut(&mut self) -> &mut Api {
        &mut self.api
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

/// Waits until signal `number` is pending neither for process `pid` nor for
/// its main thread (or the process is gone).
fn wait_for_delivery(pid: u32, number: u32) {
    let bit = 1u64 << (number - 1);
    wait_until(&format!("signal {number} to reach process {pid}"), || {
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else { return Some(()) };
        let field = |key: &str| -> u64 {
            let hex = status.lines().find_map(|l| l.strip_prefix(key)).unwrap_or_default();
            u64::from_str_radix(hex.trim(), 16).unwrap_or(0)
        };
        let zombie = status.lines().any(|l| l.starts_with("State:") && l.contains('Z'));
        (zombie || (field("ShdPnd:") | field("SigPnd:")) & bit == 0).then_some(())
    });
}

/// The value of one series of a Prometheus page, e.g.
/// `wfhook_requests_total{endpoint="files",status="200"}`; 0 when absent.
pub fn metric(page: &str, series: &str) -> f64 {
    page.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok()).unwrap_or(0.0)
}
