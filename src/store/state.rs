//! The store's own state — ids, Workfront links, locks, checksums, archive
//! records — kept as an append-only log of JSON lines in the root's state
//! folder, so that the root alone is the whole state and two instances can
//! share it.
//!
//! Every change is made under an exclusive `flock` on a lock file: catch up
//! with what the other instance appended, check, append, apply. Readers catch
//! up without the lock by reading whole lines past their offset. A torn last
//! line (a crash mid-write) is never whole, so it is ignored; the next writer
//! terminates it first. When the log grows well past what it describes, a
//! writer rewrites it as a snapshot (temp file + rename); other instances
//! notice the new inode and reload.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;

use serde::{Deserialize, Serialize};

use super::paths;
use crate::state_dir::StateDir;

/// One change to the state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum Record {
    /// `id` names the item at relative path `path`.
    Id {
        id: String,
        path: String,
    },
    /// The item at `from` (and everything below it) now lives at `to`.
    Move {
        from: String,
        to: String,
    },
    /// The item at `path` (and everything below it) is gone.
    Gone {
        path: String,
    },
    /// A Workfront document (version) is stored as our item `id`.
    #[serde(rename_all = "camelCase")]
    Link {
        document_id: String,
        version_id: Option<String>,
        id: String,
    },
    Lock {
        id: String,
        locked: bool,
    },
    Checksum {
        id: String,
        sha256: Option<String>,
    },
    /// The bytes of `id` are being replaced by bytes with this SHA-256.
    /// Until the next `Checksum` record for `id`, either sum is right: a
    /// crash can come between the rename into place and that record.
    Replacing {
        id: String,
        sha256: String,
    },
    Archive {
        id: String,
    },
}

/// The state as the log describes it.
#[derive(Debug, Default)]
pub struct State {
    by_id: HashMap<String, String>,
    by_path: HashMap<String, String>,
    /// Workfront document id → (version id, our id), oldest first.
    links: HashMap<String, Vec<(Option<String>, String)>>,
    locked: HashSet<String>,
    checksums: HashMap<String, String>,
    /// Sums of uploads that were renamed into place, or were about to be,
    /// when their final `Checksum` record had not been written yet.
    replacing: HashMap<String, String>,
    archived: HashSet<String>,
}

impl State {
    pub fn path_of(&self, id: &str) -> Option<&str> {
        self.by_id.get(id).map(String::as_str)
    }

    pub fn id_of(&self, path: &str) -> Option<&str> {
        self.by_path.get(path).map(String::as_str)
    }

    pub fn is_locked(&self, id: &str) -> bool {
        self.locked.contains(id)
    }

    pub fn is_archived(&self, id: &str) -> bool {
        self.archived.contains(id)
    }

    pub fn checksum(&self, id: &str) -> Option<&str> {
        self.checksums.get(id).map(String::as_str)
    }

    /// The sum of an upload of `id` that may or may not have replaced the
    /// bytes (a crash came before it was settled).
    pub fn replacing(&self, id: &str) -> Option<&str> {
        self.replacing.get(id).map(String::as_str)
    }

    /// True when anything at or below `path` is locked.
    pub fn locked_within(&self, path: &str) -> bool {
        self.locked.iter().filter_map(|id| self.by_id.get(id)).any(|p| paths::is_within(p, path))
    }

    /// Our id for a Workfront document: the exact version when linked,
    /// otherwise the newest link of the document.
    pub fn linked(&self, document_id: &str, version_id: Option<&str>) -> Option<&str> {
        let links = self.links.get(document_id)?;
        version_id
            .and_then(|v| links.iter().rev().find(|(lv, _)| lv.as_deref() == Some(v)))
            .or_else(|| links.last())
            .map(|(_, id)| id.as_str())
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    fn apply(&mut self, r: Record) {
        match r {
            Record::Id { id, path } => {
                if let Some(old) = self.by_id.insert(id.clone(), path.clone()) {
                    self.by_path.remove(&old);
                }
                if let Some(prev) = self.by_path.insert(path, id.clone())
                    && prev != id
                {
                    self.by_id.remove(&prev);
                }
            }
            Record::Move { from, to } => {
                let moved: Vec<(String, String)> = self
                    .by_path
                    .iter()
                    .filter(|(p, _)| paths::is_within(p, &from))
                    .map(|(p, id)| (p.clone(), id.clone()))
                    .collect();
                // Whatever sat at the destination before is replaced.
                self.drop_within(&to);
                for (p, _) in &moved {
                    self.by_path.remove(p);
                }
                for (p, id) in moved {
                    let new = format!("{to}{}", &p[from.len()..]);
                    self.by_path.insert(new.clone(), id.clone());
                    self.by_id.insert(id, new);
                }
            }
            Record::Gone { path } => self.drop_within(&path),
            Record::Link { document_id, version_id, id } => {
                self.links.entry(document_id).or_default().push((version_id, id));
            }
            Record::Lock { id, locked } => {
                if locked {
                    self.locked.insert(id);
                } else {
                    self.locked.remove(&id);
                }
            }
            Record::Checksum { id, sha256 } => {
                self.replacing.remove(&id);
                match sha256 {
                    Some(s) => {
                        self.checksums.insert(id, s);
                    }
                    None => {
                        self.checksums.remove(&id);
                    }
                }
            }
            Record::Replacing { id, sha256 } => {
                self.replacing.insert(id, sha256);
            }
            Record::Archive { id } => {
                self.archived.insert(id);
            }
        }
    }

    fn drop_within(&mut self, path: &str) {
        let gone: Vec<String> = self.by_path.keys().filter(|p| paths::is_within(p, path)).cloned().collect();
        for p in gone {
            if let Some(id) = self.by_path.remove(&p) {
                self.by_id.remove(&id);
                self.locked.remove(&id);
                self.checksums.remove(&id);
                self.replacing.remove(&id);
                self.archived.remove(&id);
            }
        }
    }

    /// The fewest records that rebuild this state.
    fn snapshot(&self) -> Vec<Record> {
        let mut out: Vec<Record> =
            self.by_id.iter().map(|(id, path)| Record::Id { id: id.clone(), path: path.clone() }).collect();
        for (doc, links) in &self.links {
            for (v, id) in links {
                if self.by_id.contains_key(id) {
                    out.push(Record::Link { document_id: doc.clone(), version_id: v.clone(), id: id.clone() });
                }
            }
        }
        out.extend(self.locked.iter().map(|id| Record::Lock { id: id.clone(), locked: true }));
        out.extend(self.checksums.iter().map(|(id, s)| Record::Checksum { id: id.clone(), sha256: Some(s.clone()) }));
        // After the checksums, which would settle them.
        out.extend(self.replacing.iter().map(|(id, s)| Record::Replacing { id: id.clone(), sha256: s.clone() }));
        out.extend(self.archived.iter().map(|id| Record::Archive { id: id.clone() }));
        out
    }
}

/// The exclusive `flock` on the lock file that orders writers, across
/// threads (each takes its own open file) and instances; released on drop.
pub struct WriterLock {
    _file: File,
}

impl WriterLock {
    /// Waits for the lock of the log in `dir`.
    pub fn take(dir: &StateDir) -> io::Result<WriterLock> {
        let lock = OpenOptions::new().create(true).truncate(false).write(true).open(dir.state_lock())?;
        lock.lock()?;
        Ok(WriterLock { _file: lock })
    }
}

/// The log file, this process's view of it, and the lock that orders writers.
pub struct StateLog {
    dir: StateDir,
    file: File,
    ino: u64,
    offset: u64,
    /// Bytes past `offset` that do not yet end in a newline.
    pending: Vec<u8>,
    records: usize,
    state: State,
}

impl StateLog {
    /// Opens the log in `dir` (the root's state folder), reading it whole.
    pub fn open(dir: &StateDir) -> io::Result<StateLog> {
        let file = OpenOptions::new().create(true).read(true).append(true).open(dir.state_log())?;
        let ino = file.metadata()?.ino();
        let mut log = StateLog {
            dir: dir.clone(),
            file,
            ino,
            offset: 0,
            pending: Vec::new(),
            records: 0,
            state: State::default(),
        };
        log.catch_up()?;
        Ok(log)
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    /// Reads what other writers appended (or reloads after a compaction).
    pub fn refresh(&mut self) -> io::Result<&State> {
        let on_disk = fs::metadata(self.dir.state_log())?;
        if on_disk.ino() != self.ino {
            *self = StateLog::open(&self.dir)?;
        } else if on_disk.len() > self.offset + self.pending.len() as u64 {
            self.catch_up()?;
        }
        Ok(&self.state)
    }

    fn catch_up(&mut self) -> io::Result<()> {
        let start = self.offset + self.pending.len() as u64;
        self.file.seek(SeekFrom::Start(start))?;
        let mut buf = std::mem::take(&mut self.pending);
        self.file.read_to_end(&mut buf)?;
        let whole = buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        for line in buf[..whole].split(|&b| b == b'\n') {
            // A line that does not parse is a torn write that a later writer
            // terminated: skip it, as the journal does.
            if let Ok(r) = serde_json::from_slice::<Record>(line) {
                self.state.apply(r);
                self.records += 1;
            }
        }
        self.offset += whole as u64;
        self.pending = buf[whole..].to_vec();
        Ok(())
    }

    /// Runs `f` as the only writer of the log (in this process and every
    /// other sharing the root), with the state brought up to date first, and
    /// appends and applies the records it returns. For tests: the store
    /// takes the writers' lock before its mutex and calls `write_locked`.
    #[cfg(test)]
    pub fn write<T, E: From<io::Error>>(
        &mut self,
        f: impl FnOnce(&State) -> Result<(T, Vec<Record>), E>,
    ) -> Result<T, E> {
        let lock = WriterLock::take(&self.dir)?;
        self.write_locked(&lock, f)
    }

    /// Runs `f` as the only writer of the log (in this process and every
    /// other sharing the root), with the writers' lock already taken: the
    /// state is brought up to date first, then the records `f` returns are
    /// appended and applied. Callers that share a `StateLog` behind a mutex
    /// take the lock first, so that a writer waiting for another instance
    /// never holds the mutex (and with it every reader) while it waits.
    pub fn write_locked<T, E: From<io::Error>>(
        &mut self,
        _lock: &WriterLock,
        f: impl FnOnce(&State) -> Result<(T, Vec<Record>), E>,
    ) -> Result<T, E> {
        self.refresh()?;
        let (value, records) = f(&self.state)?;
        if !records.is_empty() {
            self.append(records)?;
            if self.records > 1024 && self.records > 4 * (self.state.len() + 16) {
                // The records are written: a failed compaction only means
                // the log stays longer than it needs to be.
                if let Err(e) = self.compact() {
                    log::warn!("compacting the state log failed: {e}");
                }
            }
        }
        Ok(value)
    }

    fn append(&mut self, records: Vec<Record>) -> io::Result<()> {
        let mut out = Vec::new();
        if !self.pending.is_empty() {
            // A torn line from a crashed writer: end it so ours parse.
            out.push(b'\n');
        }
        for r in &records {
            serde_json::to_writer(&mut out, r).map_err(io::Error::other)?;
            out.push(b'\n');
        }
        (&self.file).write_all(&out)?;
        self.offset += (self.pending.len() + out.len()) as u64;
        self.pending.clear();
        self.records += records.len();
        for r in records {
            self.state.apply(r);
        }
        Ok(())
    }

    /// Rewrites the log as a snapshot; must hold the lock. The snapshot is
    /// staged in the temp folder, where a crash leaves it for start-up to
    /// remove, never beside the log.
    fn compact(&mut self) -> io::Result<()> {
        let tmp_dir = self.dir.tmp();
        fs::create_dir_all(&tmp_dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(&tmp_dir)?;
        for r in self.state.snapshot() {
            serde_json::to_writer(&mut tmp, &r).map_err(io::Error::other)?;
            tmp.write_all(b"\n")?;
        }
        tmp.as_file().sync_all()?;
        tmp.persist(self.dir.state_log()).map_err(|e| e.error)?;
        File::open(self.dir.path())?.sync_all()?;
        *self = StateLog::open(&self.dir)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(id: &str, path: &str) -> Record {
        Record::Id { id: id.into(), path: path.into() }
    }

    fn write(log: &mut StateLog, records: Vec<Record>) {
        log.write(|_| Ok::<_, io::Error>(((), records))).unwrap();
    }

    #[test]
    fn moves_carry_descendants_and_gone_drops_them() {
        let mut s = State::default();
        s.apply(id("a", "docs"));
        s.apply(id("b", "docs/x.pdf"));
        s.apply(id("c", "docsy"));
        s.apply(Record::Lock { id: "b".into(), locked: true });
        s.apply(Record::Move { from: "docs".into(), to: "papers".into() });
        assert_eq!(s.path_of("b"), Some("papers/x.pdf"));
        assert_eq!(s.path_of("c"), Some("docsy"));
        assert_eq!(s.id_of("papers"), Some("a"));
        assert!(s.locked_within("papers"));
        assert!(!s.locked_within("docsy"));
        s.apply(Record::Gone { path: "papers".into() });
        assert_eq!(s.path_of("b"), None);
        assert!(!s.is_locked("b"));
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn links_prefer_the_exact_version() {
        let mut s = State::default();
        s.apply(Record::Link { document_id: "d".into(), version_id: Some("v1".into()), id: "a".into() });
        s.apply(Record::Link { document_id: "d".into(), version_id: Some("v2".into()), id: "b".into() });
        assert_eq!(s.linked("d", Some("v1")), Some("a"));
        assert_eq!(s.linked("d", Some("v9")), Some("b"));
        assert_eq!(s.linked("d", None), Some("b"));
        assert_eq!(s.linked("e", None), None);
    }

    #[test]
    fn two_logs_on_one_folder_see_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = StateLog::open(&StateDir::at(dir.path())).unwrap();
        let mut b = StateLog::open(&StateDir::at(dir.path())).unwrap();
        write(&mut a, vec![id("1", "x")]);
        write(&mut b, vec![Record::Lock { id: "1".into(), locked: true }]);
        assert!(a.refresh().unwrap().is_locked("1"));
        assert_eq!(b.refresh().unwrap().path_of("1"), Some("x"));
    }

    #[test]
    fn torn_line_is_skipped_and_terminated() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = StateLog::open(&StateDir::at(dir.path())).unwrap();
        write(&mut a, vec![id("1", "x")]);
        OpenOptions::new()
            .append(true)
            .open(StateDir::at(dir.path()).state_log())
            .unwrap()
            .write_all(b"{\"op\":\"id\",\"id\":\"2\"")
            .unwrap();
        let mut b = StateLog::open(&StateDir::at(dir.path())).unwrap();
        write(&mut b, vec![id("3", "z")]);
        let c = StateLog::open(&StateDir::at(dir.path())).unwrap();
        assert_eq!(c.state().path_of("1"), Some("x"));
        assert_eq!(c.state().path_of("3"), Some("z"));
        assert_eq!(c.state().path_of("2"), None);
    }

    #[test]
    fn compaction_is_staged_in_the_temp_folder_and_a_failed_one_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        // A temp folder that cannot be used: compaction must fail (it never
        // stages its snapshot beside the log, where a crash would leave it),
        // while every write still succeeds.
        fs::write(StateDir::at(dir.path()).tmp(), b"not a folder").unwrap();
        let mut a = StateLog::open(&StateDir::at(dir.path())).unwrap();
        for n in 0..3000 {
            write(&mut a, vec![Record::Lock { id: "1".into(), locked: n % 2 == 0 }]);
        }
        write(&mut a, vec![id("1", "x")]);
        let size = fs::metadata(StateDir::at(dir.path()).state_log()).unwrap().len();
        assert!(size > 100_000, "the log was compacted outside the temp folder: {size} bytes");
        let mut names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        assert_eq!(names, ["state.jsonl", "state.lock", "tmp"]);
        let b = StateLog::open(&StateDir::at(dir.path())).unwrap();
        assert_eq!(b.state().path_of("1"), Some("x"));
        assert!(!b.state().is_locked("1"));
    }

    #[test]
    fn compaction_keeps_the_state_and_others_reload() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = StateLog::open(&StateDir::at(dir.path())).unwrap();
        let mut b = StateLog::open(&StateDir::at(dir.path())).unwrap();
        for n in 0..3000 {
            write(&mut a, vec![Record::Lock { id: "1".into(), locked: n % 2 == 0 }]);
        }
        write(&mut a, vec![id("1", "x")]);
        let size = fs::metadata(StateDir::at(dir.path()).state_log()).unwrap().len();
        assert!(size < 100_000, "log was not compacted: {size} bytes");
        let s = b.refresh().unwrap();
        assert_eq!(s.path_of("1"), Some("x"));
        assert!(!s.is_locked("1"));
    }
}
