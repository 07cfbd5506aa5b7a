//! Crash consistency: the server is killed with SIGKILL while 16 clients
//! create, upload, lock, checksum and snapshot their files; after a restart
//! on the same root, every file holds exactly the bytes of a version that
//! was sent (the last acknowledged one, or the one in flight), no temp file
//! is visible or left outside `.wfhook/tmp`, the journal reads back and
//! holds a line for every request that was answered, and checksums still
//! verify. Three kill-and-restart cycles run on one root.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use wfhook::state_dir::{self, LAYOUT};

const CLIENTS: usize = 16;
const CYCLES: u64 = 3;

/// The bytes of version `v` of file `name`: its tag repeated, so any
/// mix of two versions, or a truncated one, is recognisable.
fn payload(name: &str, v: u64) -> Vec<u8> {
    let tag = format!("[{name} v{v}]");
    let size = 1024 + (v as usize * 7919) % (256 * 1024);
    tag.repeat(size / tag.len() + 1).into_bytes()
}

/// What a client knows about one of its files.
#[derive(Clone, Debug)]
struct Owned {
    name: String,
    /// `None` while the uploadInit that creates it has not been answered.
    id: Option<String>,
    /// The last version whose upload was answered 200.
    acked: Option<u64>,
    /// The last version whose upload was sent (answered or not).
    sent: Option<u64>,
}

impl Owned {
    fn doc(&self) -> String {
        format!("doc-{}", self.name)
    }

    /// The contents the file may hold after a crash.
    fn allowed(&self) -> Vec<Vec<u8>> {
        let mut ok: Vec<Vec<u8>> =
            [self.acked, self.sent].into_iter().flatten().map(|v| payload(&self.name, v)).collect();
        if self.acked.is_none() {
            ok.push(Vec::new());
        }
        ok
    }
}

/// One client's files, the request ids of every response it received, and
/// anything it saw go wrong while the server was up.
#[derive(Default)]
struct Client {
    files: Vec<Owned>,
    answered: Vec<String>,
    problems: Vec<String>,
    next_version: u64,
    created: usize,
}

/// What the clients of one cycle have done so far, for the test to kill the
/// server only once they have done enough to prove something.
#[derive(Default)]
struct Progress {
    /// Clients that had an upload acknowledged in this cycle.
    writing: AtomicUsize,
    /// Clients that stopped (a problem: the server is still up).
    stopped: AtomicUsize,
}

/// Whether a request to `target` may change a document (and so is
/// journaled before its answer says it succeeded).
fn changes(target: &str) -> bool {
    let endpoint = target.trim_start_matches('/').split('?').next().unwrap_or_default();
    let route = wfhook::http::routes::find(endpoint).is_some_and(|r| r.changes);
    route && !target.starts_with("/customAction?name=ping")
}

impl Client {
    /// Sends until the connection fails (the server was killed), then counts
    /// itself as stopped.
    fn run(&mut self, c: usize, addr: std::net::SocketAddr, cycle: u64, progress: &Progress) {
        self.send_until_killed(c, addr, cycle, progress);
        progress.stopped.fetch_add(1, Ordering::SeqCst);
    }

    fn send_until_killed(&mut self, c: usize, addr: std::net::SocketAddr, cycle: u64, progress: &Progress) {
        let mut writing = false;
        let Ok(mut conn) = Conn::open(addr) else { return };
        let auth = [("apiKey", KEY), ("username", USER)];
        let mut call = |me: &mut Client, method: &str, target: String, body: &[u8]| -> Option<Response> {
            let r = conn.send(method, &target, &auth, body).ok()?;
            match r.header("X-Request-Id") {
                // A change that succeeded is journaled before its answer; a
                // read's final line comes after the answer, and the kill may
                // come between.
                Some(id) if r.status < 400 && changes(&target) => me.answered.push(id.to_string()),
                Some(_) => {}
                None => me.problems.push(format!("{target}: no X-Request-Id")),
            }
            Some(r)
        };
        // A crash may have left a file locked.
        for f in self.files.clone() {
            if f.id.is_some() {
                call(self, "GET", format!("/customAction?name=unlock&documentId={}", f.doc()), b"");
            }
        }
        for round in 0u64.. {
            // Now and then a new file: created, then uploaded.
            if round % 8 == 0 {
                let name = format!("c{c}-{}.bin", self.created);
                self.created += 1;
                self.files.push(Owned { name: name.clone(), id: None, acked: None, sent: None });
                let target = format!("/uploadInit?parentId=%2F&filename={name}&documentId=doc-{name}");
                let Some(r) = call(self, "POST", target, b"") else { return };
                if r.status != 200 {
                    self.problems.push(format!("uploadInit {name}: {} {}", r.status, r.text()));
                    return;
                }
                self.files.last_mut().unwrap().id = r.json()["id"].as_str().map(str::to_string);
            }
            let n = self.files.len();
            let at = (round as usize * 7 + c) % n;
            let Some(id) = self.files[at].id.clone() else { continue };
            let (name, doc) = (self.files[at].name.clone(), self.files[at].doc());
            let v = self.next_version;
            self.next_version += 1;
            self.files[at].sent = Some(v);
            let bytes = payload(&name, v);
            let Some(r) = call(self, "PUT", format!("/upload?id={id}"), &bytes) else { return };
            if r.status != 200 {
                self.problems.push(format!("upload {name} v{v}: {} {}", r.status, r.text()));
                return;
            }
            self.files[at].acked = Some(v);
            if !std::mem::replace(&mut writing, true) {
                progress.writing.fetch_add(1, Ordering::SeqCst);
            }
            let mut expect = |me: &mut Client, what: &str, target: String, status: u16| -> bool {
                match call(me, if what == "upload" { "PUT" } else { "GET" }, target, b"tiny") {
                    Some(r) if r.status == status => true,
                    Some(r) => {
                        me.problems.push(format!("{what} {name} (cycle {cycle}): {} {}", r.status, r.text()));
                        false
                    }
                    None => false,
                }
            };
            let action = |a: &str| format!("/customAction?name={a}&documentId={doc}&documentVersionId=v{v}");
            let ok = expect(self, "checksum", action("checksum"), 200)
                && expect(self, "snapshot", action("snapshot"), 200)
                && (round % 3 != 0
                    || (expect(self, "lock", action("lock"), 200)
                        && expect(self, "upload", format!("/upload?id={id}"), 403)
                        && expect(self, "unlock", action("unlock"), 200)));
            if !ok {
                return;
            }
            let Some(r) = call(self, "GET", format!("/download?id={id}"), b"") else { return };
            if r.body != bytes {
                self.problems.push(format!("download {name} v{v}: {} bytes, status {}", r.body.len(), r.status));
                return;
            }
        }
    }
}

/// Every entry below `dir`, as paths relative to it.
fn tree(dir: &Path, rel: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let r = rel.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            tree(&e.path(), &r, out);
        }
        out.push(r);
    }
}

#[test]
fn a_kill_9_under_load_loses_no_acknowledged_write_and_leaves_no_debris() {
    let dir = tempfile::tempdir().unwrap();
    let mut clients: Vec<Client> =
        (0..CLIENTS).map(|c| Client { next_version: c as u64 * 1_000_000, ..Client::default() }).collect();
    let mut kills = 0;
    for cycle in 0..CYCLES {
        let mut s = TestServer::builder().root(dir.path()).arg("--workers").arg("4").start();
        let load = Duration::from_millis(700 + 600 * cycle);
        let started = Instant::now();
        let addr = s.addr;
        let progress = Progress::default();
        let loaded = std::thread::scope(|scope| {
            for (c, client) in clients.iter_mut().enumerate() {
                let progress = &progress;
                scope.spawn(move || client.run(c, addr, cycle, progress));
            }
            std::thread::sleep(load.saturating_sub(started.elapsed()));
            // However slow the machine, the kill comes only once every client
            // has written something in this cycle (or one stopped on a
            // problem, reported below). The clients run until the kill, so
            // it comes before any panic here.
            let loaded = poll(|| {
                let (writing, stopped) =
                    (progress.writing.load(Ordering::SeqCst), progress.stopped.load(Ordering::SeqCst));
                (writing == CLIENTS || stopped > 0).then_some(())
            });
            s.kill9();
            kills += 1;
            loaded
        });
        let problems: Vec<&String> = clients.iter().flat_map(|c| &c.problems).collect();
        assert!(problems.is_empty(), "cycle {cycle}: {problems:?}");
        assert!(
            loaded.is_some(),
            "cycle {cycle}: only {} of {CLIENTS} clients had a write acknowledged within {WAIT:?}",
            progress.writing.load(Ordering::SeqCst)
        );
        check_after_restart(dir.path(), &clients, kills);
    }
    let acked: usize = clients.iter().flat_map(|c| &c.files).filter(|f| f.acked.is_some()).count();
    assert!(acked >= CLIENTS, "the load did too little to prove anything: {acked} files written");
}

fn check_after_restart(root: &Path, clients: &[Client], kills: usize) {
    let s = TestServer::builder().root(root).start();
    let files: Vec<&Owned> = clients.iter().flat_map(|c| &c.files).collect();

    // Every file holds one whole version that was sent, on disk and served.
    for f in &files {
        let path = s.root.join(&f.name);
        let Ok(bytes) = fs::read(&path) else {
            assert!(f.id.is_none(), "{} was created (answered) but is gone", f.name);
            continue;
        };
        assert!(
            f.allowed().contains(&bytes),
            "{} holds {} bytes that are no version sent: {:?}…",
            f.name,
            bytes.len(),
            String::from_utf8_lossy(&bytes[..bytes.len().min(40)])
        );
        if let Some(id) = &f.id {
            assert_eq!(s.download(id).body, bytes, "{}", f.name);
            // The recorded checksum matches what the file holds.
            let r = s.action("checksum", &f.doc(), None);
            assert_eq!(r.status, 200, "{}: checksum after the crash: {}", f.name, r.text());
        }
    }

    // Only the clients' files are visible, and nothing else lies in the root.
    let names: BTreeSet<&str> = files.iter().map(|f| f.name.as_str()).collect();
    for item in s.files("/").iter().chain(&s.search("")) {
        let title = item["title"].as_str().unwrap();
        assert!(names.contains(title), "{title:?} is visible but no client made it");
    }
    for e in fs::read_dir(&s.root).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        assert!(name == state_dir::NAME || names.contains(name.as_str()), "{name:?} lies in the root");
    }
    let state = s.state_dir();
    // The snapshots folder, relative to the state folder.
    let snapshots = state.snapshots_of("id").parent().unwrap().strip_prefix(state.path()).unwrap().to_path_buf();
    let mut debris = Vec::new();
    tree(state.path(), Path::new(""), &mut debris);
    // The server was given its key: no key file is made. Anything else the
    // layout lists may be there; nothing it does not.
    let key_file = state.api_key();
    let key_file = key_file.file_name().unwrap().to_str().unwrap();
    for rel in debris {
        let top = rel.iter().next().unwrap().to_str().unwrap();
        assert!(LAYOUT.iter().any(|e| e.name == top) && top != key_file, "{rel:?} lies in the state folder");
        let mut parts = rel.strip_prefix(&snapshots).into_iter().flat_map(|p| p.iter()).map(|p| p.to_str().unwrap());
        if let (Some(id), Some(version)) = (parts.next(), parts.next()) {
            let f = files.iter().find(|f| f.id.as_deref() == Some(id)).unwrap_or_else(|| panic!("snapshot of {id}"));
            let v: u64 = version.strip_prefix('v').and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{rel:?}"));
            assert_eq!(
                fs::read(state.path().join(&rel)).unwrap(),
                payload(&f.name, v),
                "snapshot {rel:?} is not whole"
            );
        }
    }

    // The journal reads back and holds every acknowledged change.
    let back = wfhook::journal::read(&state.journal(), None).expect("the journal reads back");
    assert!(back.skipped <= kills, "{} lines skipped after {kills} kills", back.skipped);
    let journaled: HashSet<&str> = back.events.iter().map(|e| e.request_id.as_str()).collect();
    let answered: Vec<&String> = clients.iter().flat_map(|c| &c.answered).collect();
    let missing: Vec<&&String> = answered.iter().filter(|id| !journaled.contains(id.as_str())).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged changes are not in the journal: {missing:?}",
        missing.len(),
        answered.len()
    );
}
