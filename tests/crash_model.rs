//! Crashes against a model (issue #10, "Trust"): clients run random
//! sequences of every write operation (uploadInit linking a Workfront
//! document, upload, rename, createFolder, delete, archive, snapshot, lock,
//! unlock, checksum) against the real binary, each keeping a small model of
//! what was ACKNOWLEDGED (answered success). The server is killed with
//! SIGKILL at a random instant while they work, restarted on the same
//! root, and compared with the models:
//!
//! - every acknowledged id resolves (metadata 200) with its acknowledged
//!   name, folder, bytes and read-only flag, and no folder lists anything
//!   that was not acknowledged (a file back under a new id is such a thing);
//! - every acknowledged Workfront link works (checksum by documentId), and
//!   the sum it reports is the one of the acknowledged bytes;
//! - a locked document refuses an upload (403);
//! - snapshots hold the bytes they were taken of;
//! - the one operation of each client in flight at the kill happened or
//!   not, but wholly: its id leads to the new state or the old, and an
//!   uploadInit that created its file also linked it;
//! - no temp file is left in `.wfhook/tmp` after the restart (no other
//!   instance runs, so none is anybody's live upload): one there as the
//!   server starts and still there once the checks are done is debris.
//!
//! Answers while the server is up are checked against the model too (a
//! locked document's upload is 403; a checksum reports the acknowledged
//! bytes' sum). Randomness comes from a seeded xorshift: the seed is
//! printed and `WFHOOK_CRASH_SEED` replays its choices (the kill instants
//! still fall where the machine's timing puts them). `WFHOOK_CRASH_ROUNDS`
//! sets the number of kills (default [`DEFAULT_ROUNDS`], about 20 s). The
//! rounds, operations, kills and divergences are written to stderr at the
//! end.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use common::*;
use serde_json::Value;

/// Clients working at once, each in a folder of its own: more operations
/// in flight at each kill.
const CLIENTS: usize = 3;
const DEFAULT_ROUNDS: u64 = 40;
/// Past this many items, a client deletes more than it creates.
const MAX_ITEMS: usize = 24;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    File,
    Folder,
}

/// An acknowledged item, as its client knows it.
#[derive(Clone, Debug)]
struct Item {
    kind: Kind,
    name: String,
    /// The folder it is in; `None` once archived (moved out of browsing).
    parent: Option<String>,
    bytes: Vec<u8>,
    /// The Workfront document it is linked to (files made by uploadInit).
    doc: Option<String>,
    locked: bool,
    archived: bool,
}

impl Item {
    /// A new, empty item, as createFolder or uploadInit (with its
    /// Workfront document) makes it.
    fn new(kind: Kind, name: String, parent: String, doc: Option<String>) -> Item {
        Item { kind, name, parent: Some(parent), bytes: Vec::new(), doc, locked: false, archived: false }
    }
}

#[derive(Clone, Debug)]
enum Op {
    UploadInit { parent: String, name: String, doc: String },
    Upload { id: String, bytes: Vec<u8> },
    Rename { id: String, name: String },
    CreateFolder { parent: String, name: String },
    Delete { id: String },
    Archive { id: String },
    Snapshot { id: String, version: String },
    Lock { id: String, locked: bool },
    Checksum { id: String },
}

impl Op {
    /// The operation in a few words, for a report (bytes by their size).
    fn describe(&self) -> String {
        match self {
            Op::UploadInit { parent, name, doc } => format!("uploadInit {name} in {parent} for {doc}"),
            Op::Upload { id, bytes } => format!("upload of {} bytes to {id}", bytes.len()),
            Op::Rename { id, name } => format!("rename {id} to {name}"),
            Op::CreateFolder { parent, name } => format!("createFolder {name} in {parent}"),
            Op::Delete { id } | Op::Archive { id } | Op::Checksum { id } | Op::Lock { id, .. } => {
                format!("{} {id}", self.name())
            }
            Op::Snapshot { id, version } => format!("snapshot {version} of {id}"),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Op::UploadInit { .. } => "uploadInit",
            Op::Upload { .. } => "upload",
            Op::Rename { .. } => "rename",
            Op::CreateFolder { .. } => "createFolder",
            Op::Delete { .. } => "delete",
            Op::Archive { .. } => "archive",
            Op::Snapshot { .. } => "snapshot",
            Op::Lock { locked: true, .. } => "lock",
            Op::Lock { locked: false, .. } => "unlock",
            Op::Checksum { .. } => "checksum",
        }
    }
}

/// One client: its folder, its model, and what it saw.
struct Client {
    n: usize,
    rng: Rng,
    /// Its own folder, in the root; never deleted.
    top: String,
    items: BTreeMap<String, Item>,
    /// (id, version, bytes) of every acknowledged snapshot.
    snapshots: Vec<(String, String, Vec<u8>)>,
    /// Ids already reported as divergent, not to be reported again.
    ignored: BTreeSet<String>,
    made: u64,
    /// The operation sent but not answered when the server died.
    pending: Option<Op>,
    acked: u64,
    by_op: BTreeMap<&'static str, u64>,
    unexpected: Vec<String>,
}

fn payload(c: usize, n: u64, rng: &mut Rng) -> Vec<u8> {
    let tag = format!("[client {c} upload {n}]");
    let size = if rng.below(4) == 0 { 64 * 1024 + rng.below(192 * 1024) } else { 1 + rng.below(4000) } as usize;
    tag.repeat(size / tag.len() + 1).into_bytes()
}

impl Client {
    fn new(n: usize, seed: u64, top: String) -> Client {
        let mut items = BTreeMap::new();
        items.insert(top.clone(), Item::new(Kind::Folder, format!("client-{n}"), "/".into(), None));
        Client {
            n,
            rng: Rng::new(seed.wrapping_add(n as u64 + 1)),
            top,
            items,
            snapshots: Vec::new(),
            ignored: BTreeSet::new(),
            made: 0,
            pending: None,
            acked: 0,
            by_op: BTreeMap::new(),
            unexpected: Vec::new(),
        }
    }

    fn fresh(&mut self, what: &str) -> String {
        self.made += 1;
        format!("c{}-{what}{}", self.n, self.made)
    }

    /// `id` and everything below it (archived items have left their folder).
    fn subtree(&self, id: &str) -> Vec<String> {
        let mut out = vec![id.to_string()];
        let mut i = 0;
        while i < out.len() {
            let parent = out[i].clone();
            out.extend(
                self.items
                    .iter()
                    .filter(|(_, it)| it.parent.as_deref() == Some(parent.as_str()))
                    .map(|(k, _)| k.clone()),
            );
            i += 1;
        }
        out
    }

    fn locked_within(&self, id: &str) -> bool {
        self.subtree(id).iter().any(|i| self.items[i].locked)
    }

    fn remove(&mut self, id: &str) {
        for i in self.subtree(id) {
            self.items.remove(&i);
        }
    }

    fn ids(&self, keep: impl Fn(&str, &Item) -> bool) -> Vec<String> {
        self.items.iter().filter(|(id, it)| keep(id, it)).map(|(id, _)| id.clone()).collect()
    }

    /// A random next operation, on the model's items.
    fn next_op(&mut self) -> Op {
        // Archived files stay for good (read-only, never deleted): they
        // neither count nor may grow without bound.
        let crowded = self.items.values().filter(|it| !it.archived).count() > MAX_ITEMS;
        let archived = self.items.values().filter(|it| it.archived).count();
        let top = self.top.clone();
        let folders = self.ids(|_, it| it.kind == Kind::Folder);
        let files = self.ids(|_, it| it.kind == Kind::File);
        let linked = self.ids(|_, it| it.kind == Kind::File && it.doc.is_some());
        loop {
            let roll = self.rng.below(100);
            let op = match roll {
                0..=13 if !crowded => {
                    let parent = self.rng.pick(&folders).unwrap();
                    let name = self.fresh("file") + ".bin";
                    let doc = format!("wf-{name}");
                    Some(Op::UploadInit { parent, name, doc })
                }
                14..=37 => self.rng.pick(&files).map(|id| {
                    self.made += 1;
                    Op::Upload { id, bytes: payload(self.n, self.made, &mut self.rng) }
                }),
                38..=47 => {
                    // Not a folder holding a locked file: what a rename of it
                    // should answer is not wfhook's documented behaviour.
                    let ids = self.ids(|id, it| id != top && (it.kind == Kind::File || !self.locked_within(id)));
                    self.rng.pick(&ids).map(|id| Op::Rename { id, name: self.fresh("renamed") })
                }
                48..=55 if !crowded => {
                    let parent = self.rng.pick(&folders).unwrap();
                    Some(Op::CreateFolder { parent, name: self.fresh("folder") })
                }
                56..=63 | 90..=99 if crowded || roll < 64 => {
                    // Mostly what may be deleted; now and then a locked or
                    // archived file, which must be refused.
                    let refused = self.rng.below(10) == 0;
                    let ids = self.ids(|id, it| {
                        id != top
                            && match it.kind {
                                Kind::File => (it.locked || it.archived) == refused,
                                Kind::Folder => !refused && !self.locked_within(id),
                            }
                    });
                    self.rng.pick(&ids).map(|id| Op::Delete { id })
                }
                64..=68 => {
                    // Archiving a locked document is not documented either
                    // way. Past a few archived files, only archiving again.
                    let ids = self.ids(|_, it| {
                        it.kind == Kind::File && it.doc.is_some() && !it.locked && (it.archived || archived < 4)
                    });
                    self.rng.pick(&ids).map(|id| Op::Archive { id })
                }
                69..=75 => self.rng.pick(&linked).map(|id| Op::Snapshot { id, version: self.fresh("v") }),
                76..=83 => {
                    let ids = self.ids(|_, it| it.kind == Kind::File && it.doc.is_some() && !it.archived);
                    self.rng.pick(&ids).map(|id| {
                        // Mostly a change, now and then the same again.
                        let locked = self.items[&id].locked != (self.rng.below(5) != 0);
                        Op::Lock { id, locked }
                    })
                }
                84..=89 => self.rng.pick(&linked).map(|id| Op::Checksum { id }),
                _ => None,
            };
            if let Some(op) = op {
                return op;
            }
        }
    }

    /// The status the model expects for `op`.
    fn expected(&self, op: &Op) -> u16 {
        let read_only = |id: &str| self.items.get(id).is_some_and(|it| it.locked || it.archived);
        match op {
            Op::Upload { id, .. } | Op::Rename { id, .. } | Op::Delete { id } if read_only(id) => 403,
            _ => 200,
        }
    }

    /// The request for `op`: (method, target, body).
    fn request(&self, op: &Op) -> (&'static str, String, Vec<u8>) {
        let doc = |id: &str| enc(self.items[id].doc.as_deref().unwrap_or_default());
        match op {
            Op::UploadInit { parent, name, doc } => (
                "POST",
                format!(
                    "/uploadInit?parentId={}&filename={}&documentId={}&documentVersionId=v1",
                    enc(parent),
                    enc(name),
                    enc(doc)
                ),
                Vec::new(),
            ),
            Op::Upload { id, bytes } => ("PUT", format!("/upload?id={id}"), bytes.clone()),
            Op::Rename { id, name } => ("PUT", format!("/rename?id={id}&name={}", enc(name)), Vec::new()),
            Op::CreateFolder { parent, name } => {
                ("POST", format!("/createFolder?parentId={}&name={}", enc(parent), enc(name)), Vec::new())
            }
            Op::Delete { id } => {
                let key = if self.items[id].kind == Kind::File { "documentId" } else { "folderId" };
                ("PUT", format!("/delete?{key}={id}"), Vec::new())
            }
            Op::Archive { id } => ("GET", format!("/customAction?name=archive&documentId={}", doc(id)), Vec::new()),
            Op::Snapshot { id, version } => (
                "GET",
                format!("/customAction?name=snapshot&documentId={}&documentVersionId={version}", doc(id)),
                Vec::new(),
            ),
            Op::Lock { id, locked } => {
                let name = if *locked { "lock" } else { "unlock" };
                ("GET", format!("/customAction?name={name}&documentId={}", doc(id)), Vec::new())
            }
            Op::Checksum { id } => ("GET", format!("/customAction?name=checksum&documentId={}", doc(id)), Vec::new()),
        }
    }

    /// Works until the server dies; the operation then in flight is
    /// `pending`. A connection per operation: the server may close one
    /// after a refused upload, which must not look like a crash.
    fn work(&mut self, addr: SocketAddr) {
        let auth = [("apiKey", KEY), ("username", USER)];
        loop {
            let Ok(mut conn) = Conn::open(addr) else { return };
            let op = self.next_op();
            let (method, target, body) = self.request(&op);
            self.pending = Some(op.clone());
            let Ok(r) = conn.send(method, &target, &auth, &body) else { return };
            self.pending = None;
            self.acked += 1;
            *self.by_op.entry(op.name()).or_default() += 1;
            self.answered(op, &r);
        }
    }

    /// Takes an answer as the truth: a success changes the model.
    fn answered(&mut self, op: Op, r: &Response) {
        let expected = self.expected(&op);
        if r.status != expected {
            self.unexpected.push(format!(
                "{} {op:?} answered {} (expected {expected}): {}",
                op.name(),
                r.status,
                r.text()
            ));
        }
        if r.status != 200 {
            return;
        }
        let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        match op {
            Op::UploadInit { parent, name, doc } => {
                let Some(id) = body["id"].as_str() else {
                    self.unexpected.push(format!("uploadInit {name}: no id in {body}"));
                    return;
                };
                if body["title"] != name.as_str() {
                    self.unexpected.push(format!("uploadInit {name}: titled {}", body["title"]));
                }
                let item = Item::new(Kind::File, name, parent, Some(doc));
                self.items.insert(id.to_string(), item);
            }
            Op::CreateFolder { parent, name } => {
                let Some(id) = body["id"].as_str() else {
                    self.unexpected.push(format!("createFolder {name}: no id in {body}"));
                    return;
                };
                let item = Item::new(Kind::Folder, name, parent, None);
                self.items.insert(id.to_string(), item);
            }
            Op::Upload { id, bytes } => {
                if body["result"] != "success" {
                    self.unexpected.push(format!("upload {id}: 200 but {body}"));
                    return;
                }
                self.items.get_mut(&id).unwrap().bytes = bytes;
            }
            Op::Rename { id, name } => self.items.get_mut(&id).unwrap().name = name,
            Op::Delete { id } => self.remove(&id),
            Op::Archive { id } => {
                let it = self.items.get_mut(&id).unwrap();
                it.archived = true;
                it.parent = None;
            }
            Op::Snapshot { id, version } => {
                let bytes = self.items[&id].bytes.clone();
                self.snapshots.push((id, version, bytes));
            }
            Op::Lock { id, locked } => self.items.get_mut(&id).unwrap().locked = locked,
            Op::Checksum { id } => {
                let want = sha256_hex(&self.items[&id].bytes);
                if body["sha256"] != want.as_str() {
                    self.unexpected.push(format!("checksum {id}: {body}, the acknowledged bytes' sum is {want}"));
                }
            }
        }
    }
}

/// A folder's listing as (id → title), or why there is none.
fn listing(s: &TestServer, folder: &str) -> Result<BTreeMap<String, String>, String> {
    let r = s.get(&format!("/files?parentId={}", enc(folder)));
    if r.status != 200 {
        return Err(format!("{} {}", r.status, r.text()));
    }
    Ok(as_array(r.json())
        .iter()
        .map(|i| {
            (i["id"].as_str().unwrap_or_default().to_string(), i["title"].as_str().unwrap_or_default().to_string())
        })
        .collect())
}

fn metadata(s: &TestServer, id: &str) -> Option<Value> {
    let r = s.get(&format!("/metadata?id={}", enc(id)));
    (r.status == 200).then(|| r.json())
}

/// Compares the restarted server with a client's model; the divergences,
/// each adopted into the model (so that one is reported once).
fn verify(s: &TestServer, c: &mut Client) -> Vec<String> {
    let mut found = Vec::new();
    let in_flight = c.pending.as_ref().map_or("nothing".to_string(), Op::describe);
    if let Some(op) = c.pending.take() {
        settle(s, c, op, &mut found);
    }
    let found = verify_items(s, c, found);
    // What was in flight helps to tell why.
    found.into_iter().map(|d| format!("{d} (in flight at the kill: {in_flight})")).collect()
}

fn verify_items(s: &TestServer, c: &mut Client, mut found: Vec<String>) -> Vec<String> {
    // Every acknowledged id resolves, with its name and read-only flag.
    for (id, it) in c.items.clone() {
        let what = format!("client {}: {:?} {} ({id})", c.n, it.kind, it.name);
        let Some(m) = metadata(s, &id) else {
            found.push(format!("{what} was acknowledged but its id no longer resolves"));
            if c.items.contains_key(&id) {
                c.remove(&id);
            }
            continue;
        };
        if m["title"] != it.name.as_str() {
            found.push(format!("{what} is titled {}", m["title"]));
            c.items.get_mut(&id).unwrap().name = m["title"].as_str().unwrap_or_default().to_string();
        }
        if m["readOnly"] != (it.locked || it.archived) {
            found.push(format!("{what}: readOnly is {}, locked {} archived {}", m["readOnly"], it.locked, it.archived));
            let it = c.items.get_mut(&id).unwrap();
            it.locked = m["readOnly"] == true && !it.archived;
        }
    }

    // Each folder lists exactly its acknowledged, unarchived children.
    for folder in c.ids(|_, it| it.kind == Kind::Folder) {
        let listed = match listing(s, &folder) {
            Ok(l) => l,
            Err(e) => {
                found.push(format!("client {}: folder {folder} does not list: {e}", c.n));
                continue;
            }
        };
        for (id, title) in &listed {
            let ours = c.items.get(id).is_some_and(|it| it.parent.as_deref() == Some(folder.as_str()));
            if !ours && c.ignored.insert(id.clone()) {
                found.push(format!("client {}: {title} ({id}) in folder {folder} was never acknowledged there", c.n));
            }
        }
        for id in c.ids(|_, it| it.parent.as_deref() == Some(folder.as_str())) {
            if !listed.contains_key(&id) {
                found.push(format!("client {}: {} ({id}) is missing from its folder", c.n, c.items[&id].name));
            }
        }
    }

    // Bytes, links, sums and locks.
    let files: Vec<(String, Item)> =
        c.items.iter().filter(|(_, it)| it.kind == Kind::File).map(|(id, it)| (id.clone(), it.clone())).collect();
    for (id, it) in files {
        let what = format!("client {}: {} ({id})", c.n, it.name);
        let d = s.download(&id);
        if d.status != 200 || d.body != it.bytes {
            found.push(format!(
                "{what}: download answered {} with {} bytes, acknowledged {}",
                d.status,
                d.body.len(),
                it.bytes.len()
            ));
            if d.status == 200 {
                c.items.get_mut(&id).unwrap().bytes = d.body.clone();
            }
        }
        if let Some(doc) = &it.doc {
            let r = s.action("checksum", doc, None);
            let want = sha256_hex(&c.items[&id].bytes);
            if r.status != 200 || r.json()["sha256"] != want.as_str() {
                found.push(format!("{what}: its Workfront link {doc} answers checksum {} {}", r.status, r.text()));
                if r.status == 404 {
                    c.items.get_mut(&id).unwrap().doc = None;
                }
            }
        }
        if it.locked {
            let r = s.upload(&id, &c.items[&id].bytes);
            if r.status != 403 {
                found.push(format!("{what} is locked but an upload answered {}", r.status));
                c.items.get_mut(&id).unwrap().locked = false;
            }
        }
    }

    // Snapshots hold what they were taken of.
    let state = s.state_dir();
    c.snapshots.retain(|(id, version, bytes)| {
        let held = fs::read(state.snapshots_of(id).join(version));
        if held.as_ref().ok() != Some(bytes) {
            found.push(format!(
                "client {}: snapshot {version} of {id} holds {:?} bytes, acknowledged {}",
                c.n,
                held.map(|b| b.len()).ok(),
                bytes.len()
            ));
            return false;
        }
        true
    });
    found
}

/// Decides what became of the operation in flight at the kill: it happened
/// or not, wholly. What it did is adopted into the model.
fn settle(s: &TestServer, c: &mut Client, op: Op, found: &mut Vec<String>) {
    let writable = |c: &Client, id: &str| c.items.get(id).is_some_and(|it| !it.locked && !it.archived);
    match op {
        Op::UploadInit { parent, name, doc } => {
            let listed = listing(s, &parent).unwrap_or_default();
            let made = listed.iter().find(|(_, t)| **t == name).map(|(id, _)| id.clone());
            // The link is probed by locking through it, then unlocking.
            let lock = s.action("lock", &doc, None);
            match (made, lock.status) {
                (Some(id), 200) if metadata(s, &id).is_some_and(|m| m["readOnly"] == true) => {
                    s.action("unlock", &doc, None);
                    let item = Item::new(Kind::File, name, parent, Some(doc));
                    c.items.insert(id, item);
                }
                (None, 404) => {}
                (made, status) => {
                    if status == 200 {
                        s.action("unlock", &doc, None);
                    }
                    if let Some(id) = &made {
                        c.ignored.insert(id.clone());
                    }
                    found.push(format!(
                        "client {}: uploadInit {name} in flight at the kill left its file {} and its link {doc} {}",
                        c.n,
                        if made.is_some() { "created" } else { "absent" },
                        if status == 200 { "working (to another id)" } else { "absent" },
                    ));
                }
            }
        }
        Op::CreateFolder { parent, name } => {
            let listed = listing(s, &parent).unwrap_or_default();
            if let Some((id, _)) = listed.iter().find(|(_, t)| **t == name) {
                let item = Item::new(Kind::Folder, name, parent, None);
                c.items.insert(id.clone(), item);
            }
        }
        Op::Upload { id, bytes } if writable(c, &id) => {
            if s.download(&id).body == bytes {
                c.items.get_mut(&id).unwrap().bytes = bytes;
            }
        }
        Op::Rename { id, name } if writable(c, &id) => {
            if metadata(s, &id).is_some_and(|m| m["title"] == name.as_str()) {
                c.items.get_mut(&id).unwrap().name = name;
            }
        }
        Op::Delete { id } if writable(c, &id) => {
            if metadata(s, &id).is_none() {
                c.remove(&id);
            }
        }
        Op::Archive { id } => {
            if metadata(s, &id).is_some_and(|m| m["readOnly"] == true) {
                let it = c.items.get_mut(&id).unwrap();
                it.archived = true;
                it.parent = None;
            }
        }
        Op::Snapshot { id, version } => {
            if let Ok(held) = fs::read(s.state_dir().snapshots_of(&id).join(&version)) {
                let bytes = c.items[&id].bytes.clone();
                if held == bytes {
                    c.snapshots.push((id, version, bytes));
                } else {
                    found.push(format!("client {}: snapshot {version} in flight at the kill is torn", c.n));
                }
            }
        }
        Op::Lock { id, .. } => {
            if let Some(m) = metadata(s, &id) {
                c.items.get_mut(&id).unwrap().locked = m["readOnly"] == true;
            }
        }
        // Refused (read-only) operations and checksums change nothing.
        Op::Upload { .. } | Op::Rename { .. } | Op::Delete { .. } | Op::Checksum { .. } => {}
    }
}

/// Temp files under `dir`, by path (each process's folder there holds a
/// lock file while it lives, which is not one).
fn temp_files(dir: &Path) -> BTreeSet<String> {
    common::temp_files(dir).into_iter().map(|p| p.to_string_lossy().into_owned()).collect()
}

#[test]
fn acknowledged_writes_survive_kill_9_as_acknowledged() {
    let seed: u64 = knob(
        "WFHOOK_CRASH_SEED",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
            ^ u64::from(std::process::id()),
    );
    let rounds: u64 = knob("WFHOOK_CRASH_ROUNDS", DEFAULT_ROUNDS);
    say(&format!("crash model: seed {seed} (WFHOOK_CRASH_SEED={seed} replays its choices), {rounds} rounds"));
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(seed);
    let mut clients: Vec<Client> = Vec::new();
    let (mut kills, mut divergences) = (0u64, Vec::<String>::new());
    // Temp file → the round after whose kill it was first seen.
    let mut debris = BTreeMap::<String, u64>::new();

    for round in 0..=rounds {
        let mut s = TestServer::builder().root(dir.path()).start();
        // What the crash left in the temp folder, as the server starts…
        let left = temp_files(&s.state_dir().tmp());
        if round == 0 {
            clients = (0..CLIENTS).map(|n| Client::new(n, seed, s.mkdir("/", &format!("client-{n}")))).collect();
        } else {
            let tops: BTreeSet<String> = clients.iter().map(|c| c.top.clone()).collect();
            match listing(&s, "/") {
                Ok(l) => {
                    let extra: Vec<&String> = l.keys().filter(|id| !tops.contains(*id)).collect();
                    if !extra.is_empty() {
                        divergences.push(format!("round {round}: unacknowledged items in the root: {extra:?}"));
                    }
                }
                Err(e) => divergences.push(format!("round {round}: the root does not list: {e}")),
            }
            for c in &mut clients {
                divergences.extend(verify(&s, c).into_iter().map(|d| format!("round {round}: {d}")));
            }
        }
        // …and still there once the checks are done (no request is in
        // flight then): a server may clean up while it starts serving, but
        // not leave debris for good.
        for name in left.intersection(&temp_files(&s.state_dir().tmp())) {
            debris.entry(name.clone()).or_insert(round);
        }
        if round == rounds {
            break;
        }
        let delay = Duration::from_millis(20 + rng.below(400));
        let addr = s.addr;
        std::thread::scope(|scope| {
            for c in clients.iter_mut() {
                scope.spawn(move || c.work(addr));
            }
            std::thread::sleep(delay);
            s.kill9();
            kills += 1;
        });
    }

    let ops: u64 = clients.iter().map(|c| c.acked).sum();
    let mut by_op: BTreeMap<&str, u64> = BTreeMap::new();
    for c in &clients {
        for (k, v) in &c.by_op {
            *by_op.entry(k).or_default() += v;
        }
    }
    let unexpected: Vec<&String> = clients.iter().flat_map(|c| &c.unexpected).collect();
    say(&format!(
        "crash model: seed {seed}, {rounds} rounds, {ops} operations answered {by_op:?}, {kills} kills, {} \
         divergences after restarts, {} unexpected answers, {} temp files left",
        divergences.len(),
        unexpected.len(),
        debris.len()
    ));
    let first = |lines: Vec<&String>| lines.iter().take(15).map(|s| s.as_str()).collect::<Vec<_>>().join("\n");
    assert!(
        divergences.is_empty() && unexpected.is_empty() && debris.is_empty(),
        "seed {seed} (WFHOOK_CRASH_SEED={seed}): {} divergences, {} unexpected answers, {} temp files left\n\
         divergences:\n{}\nunexpected answers:\n{}\ntemp files left after a restart:\n{}",
        divergences.len(),
        unexpected.len(),
        debris.len(),
        first(divergences.iter().collect()),
        first(unexpected),
        first(
            debris
                .iter()
                .map(|(name, round)| format!("{name} (after kill {round})"))
                .collect::<Vec<_>>()
                .iter()
                .collect()
        )
    );
    assert!(ops >= rounds, "only {ops} operations were answered in {rounds} rounds: nothing was proved");
}
