//! Actions and uploads that fail or hang cost their own request, never a
//! worker: the server keeps answering every worker's worth of requests at
//! once, and the metrics and the journal count each failure exactly once.
//!
//! The shipped actions do not panic or hang by themselves (panics and hangs
//! of arbitrary actions are covered in-process in `src/actions/mod.rs`), so
//! the faults here are the ones the disk and a second instance can cause: an
//! I/O error from a folder replaced by a file, and an action stuck behind
//! the state lock that another instance holds.

mod common;

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::sync::Mutex;

use common::*;

const WORKERS: usize = 2;

/// A server with an admin listener, and a tally of what it answered.
struct Tally<'a> {
    s: &'a TestServer,
    /// (endpoint, status) → count, for every response received.
    seen: Mutex<BTreeMap<(String, u16), u64>>,
    /// action → (calls, failures).
    actions: Mutex<BTreeMap<String, (u64, u64)>>,
}

impl<'a> Tally<'a> {
    fn new(s: &'a TestServer) -> Tally<'a> {
        Tally { s, seen: Mutex::default(), actions: Mutex::default() }
    }

    fn count(&self, endpoint: &str, r: &Response) {
        *self.seen.lock().unwrap().entry((endpoint.to_string(), r.status)).or_default() += 1;
    }

    fn call(&self, method: &str, endpoint: &str, query: &str, body: &[u8]) -> Response {
        let r = self.s.call(method, &format!("/{endpoint}?{query}"), body);
        self.count(endpoint, &r);
        r
    }

    fn action(&self, name: &str, doc: &str, version: Option<&str>) -> Response {
        let r = self.s.action(name, doc, version);
        self.count("customAction", &r);
        let mut a = self.actions.lock().unwrap();
        let e = a.entry(name.to_string()).or_default();
        e.0 += 1;
        e.1 += u64::from(r.status >= 400);
        r
    }

    /// Runs `n` copies of `f` at once; every one must answer 200.
    fn all_at_once(&self, n: usize, f: impl Fn(usize) -> Response + Sync) {
        let barrier = std::sync::Barrier::new(n);
        std::thread::scope(|scope| {
            for i in 0..n {
                let (f, barrier) = (&f, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    let r = f(i);
                    assert_eq!(r.status, 200, "request {i}: {}", r.text());
                });
            }
        });
    }

    /// The server's counters agree with what the client saw, and the
    /// journal holds one line per response.
    fn check_counters_and_journal(&self) {
        let seen = self.seen.lock().unwrap();
        // A request is counted with its final record: once they are all in
        // the journal, the counters are whole too.
        let journal = self.s.records(seen.values().sum::<u64>() as usize);
        let page = self.s.metrics();
        let mut total = 0;
        for ((endpoint, status), n) in seen.iter() {
            let series = format!("wfhook_requests_total{{endpoint=\"{endpoint}\",status=\"{status}\"}}");
            assert_eq!(metric(&page, &series), *n as f64, "{series}\n{page}");
            total += n;
        }
        let counted: f64 = page
            .lines()
            .filter(|l| l.starts_with("wfhook_requests_total{"))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum();
        assert_eq!(counted, total as f64, "requests the client never saw were counted:\n{page}");
        for (action, (calls, failures)) in self.actions.lock().unwrap().iter() {
            let calls_series = format!("wfhook_action_calls_total{{action=\"{action}\"}}");
            let failures_series = format!("wfhook_action_failures_total{{action=\"{action}\"}}");
            assert_eq!(metric(&page, &calls_series), *calls as f64, "{calls_series}");
            assert_eq!(metric(&page, &failures_series), *failures as f64, "{failures_series}");
        }
        assert_eq!(journal.len() as u64, total, "one final record per response");
        let mut by_status: BTreeMap<(String, u16), u64> = BTreeMap::new();
        for e in &journal {
            let key = (e["endpoint"].as_str().unwrap().to_string(), e["status"].as_u64().unwrap() as u16);
            *by_status.entry(key).or_default() += 1;
        }
        assert_eq!(by_status, *seen, "the journal and the client disagree");
        in_flight_settles(self.s);
    }
}

/// `wfhook_in_flight_requests` goes back to 0 (only the metrics request
/// itself runs on another listener, so nothing is in flight).
fn in_flight_settles(s: &TestServer) {
    wait_for("no request in flight", || metric(&s.metrics(), "wfhook_in_flight_requests") == 0.0);
}

fn server() -> TestServer {
    TestServer::start(&["--workers", &WORKERS.to_string(), "--action-timeout", "1", "--admin-listen", "127.0.0.1:0"])
}

/// `setup` files linked to documents `doc-0`…; their ids.
fn documents(t: &Tally, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let r = t.call("POST", "uploadInit", &format!("parentId=%2F&filename=f{i}.txt&documentId=doc-{i}"), b"");
            let id = r.ok_json()["id"].as_str().unwrap().to_string();
            t.call("PUT", "upload", &format!("id={id}"), format!("bytes of {i}").as_bytes()).ok_json();
            id
        })
        .collect()
}

#[test]
fn an_action_stuck_behind_another_instance_costs_its_request_not_a_worker() {
    let s = server();
    let t = Tally::new(&s);
    let ids = documents(&t, 2 * WORKERS);
    let root = s.root.to_string_lossy().into_owned();

    // Another instance sharing the root holds the state lock and hangs.
    let other = File::options().write(true).open(s.state_dir().state_lock()).unwrap();
    other.lock().unwrap();

    // Every worker runs an action that hangs on that lock: each fails alone.
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for i in 0..WORKERS {
            let (t, failures) = (&t, &failures);
            scope.spawn(move || failures.lock().unwrap().push(t.action("checksum", &format!("doc-{i}"), None)));
        }
    });
    for r in failures.lock().unwrap().iter() {
        r.assert_error(500, "failure");
        assert!(r.error().contains("did not finish"), "{}", r.text());
        assert!(!r.text().contains(&root), "{}", r.text());
    }

    // While those actions are still stuck, every worker's worth of requests,
    // several times over, is answered: nothing waits behind the stuck writer.
    // Half are snapshots, which run on the action threads but take no state
    // lock: more of them than there are replacements for the stuck threads.
    t.all_at_once(4 * WORKERS, |i| {
        let id = &ids[i % ids.len()];
        match i % 8 {
            1 => t.call("GET", "metadata", &format!("id={id}"), b""),
            3 => t.call("GET", "files", "parentId=%2F", b""),
            5 => t.call("GET", "download", &format!("id={id}"), b""),
            7 => t.call("GET", "search", "query=f", b""),
            _ => t.action("snapshot", &format!("doc-{}", i % ids.len()), Some(&format!("v{i}"))),
        }
    });
    // More actions hang; each one still costs only its own request.
    for i in WORKERS..2 * WORKERS {
        t.action("checksum", &format!("doc-{i}"), None).assert_error(500, "failure");
    }
    t.all_at_once(2 * WORKERS, |i| t.action("snapshot", &format!("doc-{i}"), Some("again")));
    t.action("ping", "", None).ok_json();

    // The other instance lets go: the stuck actions finish in the
    // background, and the same actions now succeed.
    drop(other);
    for i in 0..2 * WORKERS {
        let doc = format!("doc-{i}");
        wait_for("the stuck checksum to finish", || t.action("checksum", &doc, None).status == 200);
    }
    t.action("lock", "doc-0", None).ok_json();
    t.call("PUT", "upload", &format!("id={}", ids[0]), b"refused").assert_error(403, "fail");
    t.action("unlock", "doc-0", None).ok_json();
    t.all_at_once(2 * WORKERS, |i| t.action("checksum", &format!("doc-{i}"), None));
    t.check_counters_and_journal();
    let journal = s.journal();
    let timed_out: Vec<_> = journal.iter().filter(|e| e["status"] == 500).collect();
    assert_eq!(timed_out.len(), 2 * WORKERS, "{timed_out:?}");
    for e in timed_out {
        assert_eq!(e["action"], "checksum");
        assert!(e["error"].as_str().unwrap().contains("did not finish"), "{e}");
    }
}

/// Replaces a folder by a file (or a file by a folder) until dropped.
struct Broken {
    path: std::path::PathBuf,
    was_dir: bool,
}

impl Broken {
    fn folder(path: std::path::PathBuf) -> Broken {
        fs::remove_dir_all(&path).unwrap();
        fs::write(&path, b"in the way").unwrap();
        Broken { path, was_dir: true }
    }

    fn file(path: std::path::PathBuf) -> Broken {
        fs::remove_file(&path).unwrap();
        fs::create_dir(&path).unwrap();
        Broken { path, was_dir: false }
    }
}

impl Drop for Broken {
    fn drop(&mut self) {
        if self.was_dir {
            fs::remove_file(&self.path).unwrap();
            fs::create_dir(&self.path).unwrap();
        } else {
            fs::remove_dir(&self.path).unwrap();
            File::create(&self.path).unwrap();
        }
    }
}

#[test]
fn io_errors_in_actions_and_uploads_cost_their_request_and_nothing_else() {
    let s = server();
    let t = Tally::new(&s);
    let ids = documents(&t, 2);
    let id = &ids[0];
    let root = s.root.to_string_lossy().into_owned();
    let state = s.state_dir();
    let no_path = |r: &Response| assert!(!r.text().contains(&root) && !r.text().contains("os error"), "{}", r.text());

    // The snapshots folder is a file: snapshot fails with a storage error.
    {
        let _b = Broken::folder(state.snapshots_of(id).parent().unwrap().to_path_buf());
        let r = t.action("snapshot", "doc-0", Some("v1"));
        r.assert_error(500, "failure");
        no_path(&r);
    }
    t.action("snapshot", "doc-0", Some("v1")).ok_json();
    assert_eq!(fs::read(state.snapshots_of(id).join("v1")).unwrap(), b"bytes of 0");

    // The state lock cannot be opened: every change fails, reads go on.
    {
        let _b = Broken::file(state.state_lock());
        for action in ["checksum", "lock", "unlock", "archive"] {
            let r = t.action(action, "doc-0", None);
            r.assert_error(500, "failure");
            no_path(&r);
        }
        let r = t.call("PUT", "upload", &format!("id={id}"), b"lost");
        r.assert_error(500, "fail");
        no_path(&r);
        t.call("POST", "uploadInit", "parentId=%2F&filename=new.txt", b"").assert_error(500, "error");
        t.call("PUT", "rename", &format!("id={id}&name=x.txt"), b"").assert_error(500, "failure");
        t.call("GET", "metadata", &format!("id={id}"), b"").ok_json();
        assert_eq!(t.call("GET", "download", &format!("id={id}"), b"").body, b"bytes of 0");
        t.action("ping", "", None).ok_json();
    }
    assert_eq!(
        t.call("GET", "download", &format!("id={id}"), b"").body,
        b"bytes of 0",
        "the failed upload changed nothing"
    );
    t.action("checksum", "doc-0", None).ok_json();

    // The temp folder is a file: uploads fail and keep the old bytes.
    {
        let _b = Broken::folder(state.tmp());
        let r = t.call("PUT", "upload", &format!("id={id}"), b"lost");
        r.assert_error(500, "fail");
        no_path(&r);
    }
    assert_eq!(t.call("GET", "download", &format!("id={id}"), b"").body, b"bytes of 0");
    t.call("PUT", "upload", &format!("id={id}"), b"second").ok_json();

    // The document became a FIFO, then a folder: refused at once, no hang.
    let file = s.root.join("f1.txt");
    fs::remove_file(&file).unwrap();
    assert!(std::process::Command::new("mkfifo").arg(&file).status().unwrap().success());
    for action in ["checksum", "snapshot"] {
        let r = t.action(action, "doc-1", Some("v1"));
        assert!((400..500).contains(&r.status), "{action}: {}", r.text());
    }
    assert_eq!(t.call("GET", "download", &format!("id={}", ids[1]), b"").status, 400);
    fs::remove_file(&file).unwrap();
    fs::create_dir(&file).unwrap();
    assert_eq!(t.action("checksum", "doc-1", None).status, 400);
    fs::remove_dir(&file).unwrap();
    fs::write(&file, b"bytes of 1").unwrap();
    t.action("checksum", "doc-1", None).ok_json();

    // Every worker's worth of requests, twice over, still runs at once.
    t.all_at_once(2 * WORKERS, |i| match i % 3 {
        0 => t.action("ping", "", None),
        1 => t.action("checksum", "doc-0", None),
        _ => t.call("GET", "metadata", &format!("id={id}"), b""),
    });
    t.check_counters_and_journal();
    let errors: Vec<_> = s.journal().into_iter().filter(|e| e["status"] == 500).collect();
    assert_eq!(errors.len(), 9, "{errors:?}");
    assert!(errors.iter().all(|e| e["error"] == "storage error"), "{errors:?}");
    assert!(!s.stderr().contains("panicked"), "{}", s.stderr());
}
