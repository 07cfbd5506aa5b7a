//! A symlink swapped in mid-request (issue #10, "Trust"): a folder `box/`
//! inside the root is exchanged with a symlink to a folder outside it
//! (`renameat2(RENAME_EXCHANGE)`) in a tight loop, while clients run one
//! Workfront operation on what lies in `box/`, over and over. A server that
//! checks a path for symlinks and then uses it by name can be sent outside
//! the root between the two; whatever the swap does, nothing outside the
//! root may be read, written, created or deleted, and the state folder
//! `.wfhook` is never served.
//!
//! One test per operation: download, view, upload, uploadInit,
//! createFolder, rename, delete, archive, snapshot and checksum, and a swap
//! with a symlink to `.wfhook`. After every try the outside folder's tree
//! (names, modes, bytes) is compared with what it held before, and what the
//! answer carried is compared with the outside bytes: a difference is an
//! escape, counted and undone so that the next try starts clean. Each test
//! writes its counts (tries, answers by status, escapes, swaps) to stderr,
//! fails on any escape, and fails when no try succeeded (the operation was
//! never exercised, so the test proved nothing).
//!
//! Operations that need nothing new per try run from [`CLIENTS`] clients at
//! once; rename, delete and archive use an item up per try, made (with
//! its outside twin) while the swapper is paused, from one client. Each
//! loop runs for `WFHOOK_RACE_SECS` seconds when it is set; otherwise for
//! a default of its own (longer for the slow writes, whose every try
//! syncs the disk), about 10 s for the eleven loops; and in any case for
//! at least [`MIN_TRIES`] tries.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::*;
use rustix::fs::{CWD, RenameFlags, renameat_with};

/// Each loop runs at least this many tries, however slow the machine.
const MIN_TRIES: u64 = 50;
/// Clients trying at once, for the operations that need nothing new per try.
const CLIENTS: usize = 2;
/// Items made at once for the operations that use one up per try.
const BATCH: usize = 150;

/// What files inside `box/` hold.
const INSIDE: &[u8] = b"inside the root: wfhook's to serve and write\n";
/// What their twins outside hold; any answer carrying this is an escape.
const OUTSIDE: &[u8] = b"OUTSIDE THE ROOT: never to be read or touched\n";

/// Exchanges two entries of one folder in a loop, on a thread, until stopped.
struct Swapper {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<u64>,
}

impl Swapper {
    fn start(a: &Path, b: &Path) -> Swapper {
        let (a, b) = (a.to_path_buf(), b.to_path_buf());
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut swaps = 0u64;
            // Stops after an even number of exchanges: both are back where
            // they started.
            while !flag.load(Ordering::Relaxed) || swaps % 2 == 1 {
                renameat_with(CWD, &a, CWD, &b, RenameFlags::EXCHANGE)
                    .unwrap_or_else(|e| panic!("exchange {} and {}: {e}", a.display(), b.display()));
                swaps += 1;
            }
            swaps
        });
        Swapper { stop, thread }
    }

    /// Stops the loop; the number of exchanges it made.
    fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("the swapper thread panicked")
    }
}

/// Where the symlink swapped with `box` leads.
#[derive(Clone, Copy, PartialEq)]
enum Target {
    /// A folder next to the root, holding a twin of each file in `box`.
    Outside,
    /// The root's own state folder.
    StateFolder,
}

/// What one try gave: the status, and what the answer itself leaked.
struct Try {
    status: u16,
    leak: Option<String>,
}

impl Try {
    fn status(status: u16) -> Try {
        Try { status, leak: None }
    }
}

/// One operation's race: the server, `box` and its swapped twin, and the
/// counts.
struct Race {
    op: &'static str,
    target: Target,
    s: TestServer,
    box_id: String,
    /// `root/box`: a real folder whenever the swapper is stopped.
    inside: PathBuf,
    /// `root/lnk`: the symlink swapped with it.
    lnk: PathBuf,
    /// Where the symlink leads.
    outside: PathBuf,
    /// What the outside must hold (for the state folder: the link secret).
    baseline: Tree,
    swapper: Option<Swapper>,
    /// When the loop ends; pushed back by the time spent paused.
    end: Option<Instant>,
    made: usize,
    swaps: u64,
    tally: Mutex<Tally>,
}

/// What the tries found, shared by the clients of a race.
#[derive(Default)]
struct Tally {
    tries: u64,
    statuses: BTreeMap<u16, u64>,
    escapes: Vec<String>,
}

impl Race {
    fn new(op: &'static str, target: Target) -> Race {
        let s = TestServer::start(&[]);
        let box_id = s.mkdir("/", "box");
        let outside = match target {
            Target::Outside => {
                let o = s.outside().join("box");
                fs::create_dir_all(&o).unwrap();
                o
            }
            Target::StateFolder => s.state_dir().path().to_path_buf(),
        };
        let (inside, lnk) = (s.root.join("box"), s.root.join("lnk"));
        symlink(&outside, &lnk).unwrap();
        Race {
            op,
            target,
            s,
            box_id,
            inside,
            lnk,
            outside,
            baseline: Tree::new(),
            swapper: None,
            end: None,
            made: 0,
            swaps: 0,
            tally: Mutex::default(),
        }
    }

    /// A name not used before in this race.
    fn fresh(&mut self, prefix: &str, suffix: &str) -> String {
        self.made += 1;
        format!("{prefix}{}{suffix}", self.made)
    }

    /// A file `name` in `box` made through the API (linked to `doc` when
    /// given), holding [`INSIDE`], and its twin outside holding [`OUTSIDE`].
    fn file(&self, name: &str, doc: Option<&str>) -> String {
        let id = self.s.put_file(&self.box_id, name, INSIDE, doc.map(|d| (d, "v1")));
        self.twin(name, false);
        id
    }

    /// As [`Race::file`] with one request instead of two: uploadInit, then
    /// the bytes written by hand (with the swapper stopped).
    fn linked_file(&self, name: &str, doc: &str) -> String {
        let id = self.s.upload_init(&self.box_id, name, Some((doc, "v1")))["id"].as_str().unwrap().to_string();
        fs::write(self.inside.join(name), INSIDE).unwrap();
        self.twin(name, false);
        id
    }

    /// The outside twin of `box/name`: a file, or a folder holding a file.
    fn twin(&self, name: &str, folder: bool) {
        if self.target != Target::Outside {
            return;
        }
        let p = self.outside.join(name);
        if folder {
            fs::create_dir(&p).unwrap();
            fs::write(p.join("inner.txt"), OUTSIDE).unwrap();
        } else {
            fs::write(p, OUTSIDE).unwrap();
        }
    }

    /// Items made by hand in `box` (files, or folders holding a file), each
    /// with its twin outside; their (id, name), ids from a listing.
    fn by_hand(&mut self, n: usize, folder: bool) -> Vec<(String, String)> {
        let names: Vec<String> =
            (0..n).map(|_| if folder { self.fresh("dir", "") } else { self.fresh("file", ".txt") }).collect();
        for name in &names {
            let p = self.inside.join(name);
            if folder {
                fs::create_dir(&p).unwrap();
                fs::write(p.join("inner.txt"), INSIDE).unwrap();
            } else {
                fs::write(p, INSIDE).unwrap();
            }
            self.twin(name, folder);
        }
        let listed = self.s.files(&self.box_id);
        names
            .into_iter()
            .map(|name| {
                let id = find(&listed, &name).unwrap_or_else(|| panic!("{name} is not listed"))["id"].clone();
                (id.as_str().unwrap().to_string(), name)
            })
            .collect()
    }

    /// What the swap must never change: the outside folder's tree, or the
    /// link secret.
    fn watched(&self) -> Tree {
        match self.target {
            Target::Outside => tree(&self.outside),
            Target::StateFolder => {
                let secret = self.s.state_dir().link_secret();
                let bytes = fs::read(&secret).unwrap_or_default();
                Tree::from([(PathBuf::from("link-secret"), Node::File(0, bytes))])
            }
        }
    }

    /// True when `bytes` hold the outside bytes (or the link secret).
    fn leaked(&self, bytes: &[u8]) -> bool {
        let needle = match self.target {
            Target::Outside => OUTSIDE.to_vec(),
            Target::StateFolder => fs::read_to_string(self.s.state_dir().link_secret()).unwrap().trim().into(),
        };
        bytes.windows(needle.len()).any(|w| w == needle.as_slice())
    }

    /// A try that reads: its answer must not carry outside bytes.
    fn read(&self, r: Response) -> Try {
        let what = if self.target == Target::Outside { "the outside file" } else { "the link secret" };
        let leak = self.leaked(&r.body).then(|| format!("the answer ({} bytes) carried {what}", r.body.len()));
        Try { status: r.status, leak }
    }

    /// Runs `f` with the swapper stopped (`box` a real folder), then takes
    /// the outside's new baseline and swaps again. The time it takes does
    /// not count as racing time.
    fn paused<T>(&mut self, f: impl FnOnce(&mut Race) -> T) -> T {
        let started = Instant::now();
        if let Some(sw) = self.swapper.take() {
            self.swaps += sw.stop();
        }
        let out = f(self);
        self.baseline = self.watched();
        self.end = self.end.map(|end| end + started.elapsed());
        self.swapper = Some(Swapper::start(&self.inside, &self.lnk));
        out
    }

    /// This race's loop time: `WFHOOK_RACE_SECS`, or the operation's default.
    fn seconds(default: f64) -> Duration {
        Duration::from_secs_f64(knob("WFHOOK_RACE_SECS", default))
    }

    /// True while the loop should go on: before its end, or short of
    /// [`MIN_TRIES`].
    fn going(&self) -> bool {
        self.end.is_some_and(|end| Instant::now() < end) || self.tally.lock().unwrap().tries < MIN_TRIES
    }

    /// Counts try `i` and checks the outside after it; an escape is counted
    /// once per try, whatever it did, and undone. With several clients, a
    /// change outside is counted by the first check that sees it.
    fn check(&self, i: u64, t: Try) {
        let mut tally = self.tally.lock().unwrap();
        tally.tries += 1;
        *tally.statuses.entry(t.status).or_default() += 1;
        let diff = tree_diff(&self.baseline, &self.watched());
        let mut what: Vec<String> = t.leak.into_iter().collect();
        if !diff.is_empty() {
            what.push(format!("outside, {}", diff.join("; ")));
            if self.target == Target::Outside {
                restore_tree(&self.outside, &self.baseline);
            }
        }
        if !what.is_empty() {
            tally.escapes.push(format!("try {i} (answered {}): {}", t.status, what.join("; ")));
        }
    }

    /// Tries `attempt` (which may make items with the swapper paused) from
    /// one client while the swapper runs, for `secs` and at least
    /// [`MIN_TRIES`] times; then reports and asserts.
    fn run(mut self, secs: Duration, mut attempt: impl FnMut(&mut Race, u64) -> Try) {
        self.paused(|_| ());
        self.end = Some(Instant::now() + secs);
        let mut i = 0;
        while self.going() {
            let t = attempt(&mut self, i);
            self.check(i, t);
            i += 1;
        }
        self.finish();
    }

    /// As [`Race::run`] from [`CLIENTS`] clients at once, for an operation
    /// that needs nothing new per try: more tries in the same time.
    fn run_clients(mut self, secs: Duration, attempt: impl Fn(&Race, u64) -> Try + Sync) {
        self.paused(|_| ());
        self.end = Some(Instant::now() + secs);
        let next = AtomicU64::new(0);
        std::thread::scope(|scope| {
            for _ in 0..CLIENTS {
                let (race, attempt, next) = (&self, &attempt, &next);
                scope.spawn(move || {
                    while race.going() {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        race.check(i, attempt(race, i));
                    }
                });
            }
        });
        self.finish();
    }

    /// Stops the swapper, reports the counts and asserts on them.
    fn finish(mut self) {
        if let Some(sw) = self.swapper.take() {
            self.swaps += sw.stop();
        }
        let tally = self.tally.into_inner().unwrap();
        let answers: Vec<String> = tally.statuses.iter().map(|(s, n)| format!("{s}: {n}")).collect();
        say(&format!(
            "race {}: {} tries, answers {{{}}}, {} escapes, {} swaps",
            self.op,
            tally.tries,
            answers.join(", "),
            tally.escapes.len(),
            self.swaps
        ));
        assert!(
            tally.escapes.is_empty(),
            "{}: {} of {} tries escaped the root, first ones:\n{}",
            self.op,
            tally.escapes.len(),
            tally.tries,
            tally.escapes.iter().take(10).cloned().collect::<Vec<_>>().join("\n")
        );
        assert!(
            tally.statuses.contains_key(&200),
            "{}: no try succeeded, so the race proved nothing: {answers:?}",
            self.op
        );
    }
}

#[test]
fn download_reads_nothing_outside_the_root() {
    let r = Race::new("download", Target::Outside);
    let f = r.file("f.txt", None);
    r.run_clients(Race::seconds(0.6), |r, _| r.read(r.s.download(&f)));
}

#[test]
fn view_reads_nothing_outside_the_root() {
    let r = Race::new("view", Target::Outside);
    let f = r.file("f.txt", None);
    let link = r.s.view_link(&f);
    r.run_clients(Race::seconds(0.6), |r, _| r.read(r.s.fetch_link(&link)));
}

#[test]
fn upload_writes_nothing_outside_the_root() {
    let r = Race::new("upload", Target::Outside);
    let f = r.file("f.txt", None);
    r.run_clients(Race::seconds(1.5), |r, i| Try::status(r.s.upload(&f, format!("upload {i}\n").as_bytes()).status));
}

#[test]
fn upload_init_creates_nothing_outside_the_root() {
    let r = Race::new("uploadInit", Target::Outside);
    r.run_clients(Race::seconds(0.6), |r, i| {
        Try::status(r.s.upload_init_raw(&r.box_id, &format!("new{i}.txt")).status)
    });
}

#[test]
fn create_folder_creates_nothing_outside_the_root() {
    let r = Race::new("createFolder", Target::Outside);
    r.run_clients(Race::seconds(0.6), |r, i| Try::status(r.s.create_folder(&r.box_id, &format!("folder{i}")).status));
}

#[test]
fn rename_moves_nothing_outside_the_root() {
    let r = Race::new("rename", Target::Outside);
    let mut pool = Vec::new();
    r.run(Race::seconds(1.5), |r, _| {
        if pool.is_empty() {
            pool = r.paused(|r| r.by_hand(BATCH, false));
        }
        let (id, name) = pool.pop().unwrap();
        Try::status(r.s.rename(&id, &format!("{name}.moved")).status)
    });
}

#[test]
fn delete_removes_nothing_outside_the_root() {
    let r = Race::new("delete", Target::Outside);
    let mut pool = Vec::new();
    r.run(Race::seconds(2.0), |r, _| {
        if pool.is_empty() {
            pool = r.paused(|r| r.by_hand(BATCH, true));
        }
        let (id, _) = pool.pop().unwrap();
        Try::status(r.s.delete("folderId", &id).status)
    });
}

#[test]
fn archive_takes_nothing_from_outside_the_root() {
    let r = Race::new("archive", Target::Outside);
    let mut pool: Vec<(String, String)> = Vec::new();
    r.run(Race::seconds(0.8), |r, _| {
        if pool.is_empty() {
            pool = r.paused(|r| {
                (0..BATCH)
                    .map(|_| {
                        let name = r.fresh("doc", ".txt");
                        let doc = format!("wf-{name}");
                        (r.linked_file(&name, &doc), doc)
                    })
                    .collect()
            });
        }
        let (id, doc) = pool.pop().unwrap();
        let a = r.s.action("archive", &doc, None);
        // What was archived is still served by id: it must be the inside file.
        let mut t = Try::status(a.status);
        if a.status == 200 {
            let d = r.s.download(&id);
            if r.leaked(&d.body) {
                t.leak = Some("the archive holds the outside file".into());
            }
        }
        t
    });
}

#[test]
fn snapshot_copies_nothing_from_outside_the_root() {
    let r = Race::new("snapshot", Target::Outside);
    let f = r.file("f.txt", Some("wf-f"));
    let shelf = r.s.state_dir().snapshots_of(&f);
    r.run_clients(Race::seconds(0.6), |r, i| {
        let version = format!("s{i}");
        let a = r.s.action("snapshot", "wf-f", Some(&version));
        let mut t = Try::status(a.status);
        if r.leaked(&fs::read(shelf.join(&version)).unwrap_or_default()) {
            t.leak = Some(format!("snapshot {version} holds the outside bytes"));
        }
        t
    });
}

#[test]
fn checksum_reads_nothing_outside_the_root() {
    let r = Race::new("checksum", Target::Outside);
    let _f = r.file("f.txt", Some("wf-f"));
    let outside_sum = sha256_hex(OUTSIDE);
    r.run_clients(Race::seconds(0.6), |r, _| {
        let a = r.s.action("checksum", "wf-f", None);
        let leak = a.text().contains(&outside_sum).then(|| "the answer holds the outside file's SHA-256".into());
        Try { status: a.status, leak }
    });
}

/// `box` swapped with a symlink to `.wfhook`, holding a decoy named like
/// the link secret: its id and its links must never serve the real one.
#[test]
fn the_state_folder_is_never_served() {
    let r = Race::new("state folder", Target::StateFolder);
    let decoy = r.file("link-secret", None);
    let view = r.s.view_link(&decoy);
    let download = r.s.metadata(&decoy)["downloadLink"].as_str().unwrap().to_string();
    r.run_clients(Race::seconds(0.8), |r, i| match i % 3 {
        0 => r.read(r.s.download(&decoy)),
        1 => r.read(r.s.fetch_link(&view)),
        _ => r.read(r.s.fetch_link(&download)),
    });
}

/// Without any race: a symlink `state -> .wfhook` planted in the root, and
/// a folder whose ids were handed out replaced by one, lead nowhere.
#[test]
fn a_symlink_to_the_state_folder_leads_nowhere() {
    let s = TestServer::start(&[]);
    let secret = fs::read_to_string(s.state_dir().link_secret()).unwrap().trim().to_string();
    symlink(wfhook::state_dir::NAME, s.root.join("state")).unwrap();
    let dir = s.mkdir("/", "cfg");
    let decoy = s.put_file(&dir, "link-secret", b"decoy", None);
    let view = s.view_link(&decoy);
    let download = s.metadata(&decoy)["downloadLink"].as_str().unwrap().to_string();
    let folder_view = s.view_link(&dir);
    fs::remove_dir_all(s.root.join("cfg")).unwrap();
    symlink(wfhook::state_dir::NAME, s.root.join("cfg")).unwrap();

    assert!(s.titles("/").is_empty(), "{:?}", s.titles("/"));
    for q in ["secret", "link", "state", "cfg", "jsonl", "token", "tmp", "wfhook"] {
        assert!(s.search(q).is_empty(), "search {q:?} found {:?}", titles(&s.search(q)));
    }
    let answers = [
        s.download(&decoy),
        s.get(&format!("/metadata?id={decoy}")),
        s.get(&format!("/files?parentId={dir}")),
        s.fetch_link(&view),
        s.fetch_link(&download),
        s.fetch_link(&folder_view),
        s.upload(&decoy, b"overwritten"),
        s.upload_init_raw(&dir, "planted.txt"),
        s.create_folder(&dir, "planted"),
    ];
    for r in &answers {
        assert_ne!(r.status, 200, "{}", r.text());
        assert!(!r.text().contains(&secret), "the link secret was served: {}", r.text());
    }
    assert_eq!(fs::read_to_string(s.state_dir().link_secret()).unwrap().trim(), secret);
    assert!(!s.state_dir().path().join("planted.txt").exists() && !s.state_dir().path().join("planted").exists());
}
