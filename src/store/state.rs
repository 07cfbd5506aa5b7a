//! The store's own state — ids, Workfront links, locks, checksums, archive
//! records — kept as an append-only log of JSON lines in the root's state
//! folder, so that the root alone is the whole state and two instances can
//! share it.
//!
//! Writers are ordered by an exclusive `flock` on a lock file, across
//! threads and instances; nothing else orders them. Readers and writers
//! catch up by reading whole lines past their offset, and the in-process
//! mutex guards only the parsed state: no disk I/O happens while it is
//! held, so a slow disk or a writer waiting for another instance never
//! holds up a reader.
//!
//! A change on disk is bracketed: an [`Record::Intent`] names the records it
//! will make true and how to tell from the disk whether it happened; the
//! change follows; a [`Record::Commit`] makes the records take effect, or an
//! [`Record::Abort`] drops them. An intent left unsettled by a crash is
//! settled by whoever takes the lock next, from what the disk shows
//! ([`StateLog::reconcile`]), so that after `kill -9` at any instant every
//! id, link, lock and checksum agrees with the bytes on disk.
//!
//! A torn last line (a crash, or a full disk, mid-write) is never whole, so
//! it is ignored, and the next writer ends it before its own lines. When the
//! log grows well past what it describes, a writer rewrites it as a
//! snapshot (temp file + rename); other instances notice the new inode and
//! reload.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsStr;
use std::fs::{File, TryLockError};
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use rustix::fs::{Mode, OFlags};

use serde::{Deserialize, Serialize};

use super::paths;
use crate::state_dir::{self, Access, StateDir, StateFile};

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
    /// A change about to be made on disk: `records` take effect with the
    /// `Commit` of the same `n`, or, if its writer died first, when the
    /// next writer finds `check` true on disk.
    Intent {
        n: String,
        records: Vec<Record>,
        check: Check,
    },
    Commit {
        n: String,
    },
    Abort {
        n: String,
    },
}

/// How the disk tells whether an intent's change happened: by the identity
/// (device and inode) of the very item it made, moved or removed, so that
/// somebody else's item at the same name is never taken for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "is", rename_all = "camelCase")]
pub enum Check {
    /// The item is at `path` (made there, or moved there).
    Holds { path: String, dev: u64, ino: u64 },
    /// The item is no longer at `path` (deleted, or moved aside to be).
    Left { path: String, dev: u64, ino: u64 },
}

/// An intent's records and its check, until it is settled.
#[derive(Clone, Debug, PartialEq)]
pub struct Pending {
    pub records: Vec<Record>,
    pub check: Check,
}

/// The state as the log describes it.
#[derive(Clone, Debug, Default)]
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
    /// Intents not settled yet, by number.
    pending: BTreeMap<String, Pending>,
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

    /// Intents whose writer has not settled them yet.
    pub fn pending(&self) -> impl Iterator<Item = (&str, &Pending)> {
        self.pending.iter().map(|(n, p)| (n.as_str(), p))
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
            Record::Intent { n, records, check } => {
                self.pending.insert(n, Pending { records, check });
            }
            Record::Commit { n } => {
                for r in self.pending.remove(&n).map(|p| p.records).unwrap_or_default() {
                    self.apply(r);
                }
            }
            Record::Abort { n } => {
                self.pending.remove(&n);
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
        out.extend(self.pending.iter().map(|(n, p)| Record::Intent {
            n: n.clone(),
            records: p.records.clone(),
            check: p.check.clone(),
        }));
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
        let file = dir.open_file(StateFile::StateLock, Access::Lock)?;
        file.lock()?;
        Ok(WriterLock { _file: file })
    }

    /// Waits until no writer holds the lock, for at most `patience`: a
    /// reader that missed an item waits out a change in flight (a rename)
    /// before it looks again, but never longer than that, so that a writer
    /// stuck on a slow share does not hold readers of missing items.
    pub fn wait_for_writers(dir: &StateDir, patience: Duration) -> io::Result<()> {
        let file = dir.open_file(StateFile::StateLock, Access::Lock)?;
        let deadline = Instant::now() + patience;
        loop {
            match file.try_lock_shared() {
                Ok(()) => return Ok(()),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Err(TryLockError::WouldBlock) => return Ok(()),
                Err(TryLockError::Error(e)) => return Err(e),
            }
        }
    }
}

/// What this process has read of the log.
struct Inner {
    file: Arc<File>,
    ino: u64,
    /// Bytes read and applied (whole lines).
    offset: u64,
    /// Bytes past `offset` that do not end in a newline yet.
    partial: Vec<u8>,
    records: usize,
    state: State,
}

impl Inner {
    /// Opens the log and reads it whole.
    fn load(dir: &StateDir) -> io::Result<Inner> {
        let file = dir.open_file(StateFile::StateLog, Access::Append)?;
        let ino = file.metadata()?.ino();
        let mut bytes = Vec::new();
        io::Read::read_to_end(&mut &file, &mut bytes)?;
        let mut inner =
            Inner { file: Arc::new(file), ino, offset: 0, partial: Vec::new(), records: 0, state: State::default() };
        inner.ingest(bytes);
        Ok(inner)
    }

    /// Applies the whole lines of what follows `partial` in the log.
    fn ingest(&mut self, more: Vec<u8>) {
        let mut buf = std::mem::take(&mut self.partial);
        buf.extend_from_slice(&more);
        let whole = buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        for line in buf[..whole].split(|&b| b == b'\n') {
            // A line that does not parse is a torn write that a later writer
            // ended: skip it, as the journal does.
            if let Ok(r) = serde_json::from_slice::<Record>(line) {
                self.state.apply(r);
                self.records += 1;
            }
        }
        self.offset += whole as u64;
        self.partial = buf[whole..].to_vec();
    }

    /// Where the next unread byte is.
    fn end(&self) -> u64 {
        self.offset + self.partial.len() as u64
    }
}

/// Longest a reader goes without looking at the log's length, when no
/// change notification says it grew (a share where notification is blind).
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// The log file and this process's view of it.
pub struct StateLog {
    dir: StateDir,
    /// Where compaction stages its snapshot: the process's own temp
    /// folder, which the next start removes if this process dies.
    stage: Arc<OwnedFd>,
    /// Readers share it; only bringing the view up to date takes it alone,
    /// for as long as applying the new lines takes (no I/O under it).
    inner: RwLock<Inner>,
    /// Set when notification says another process wrote the log.
    stale: Arc<AtomicBool>,
    /// When the view was last brought up to date, in ms since `epoch`.
    looked: AtomicU64,
    epoch: Instant,
    watcher: Mutex<Option<notify::RecommendedWatcher>>,
}

impl StateLog {
    /// Opens the log in `dir` (the root's state folder, opened), reading it
    /// whole; compactions are staged in its temp folder.
    pub fn open(dir: &StateDir) -> io::Result<StateLog> {
        StateLog::open_staging_in(dir, Arc::new(dir.subfolder(state_dir::TMP)?))
    }

    /// [`StateLog::open`], staging compactions in the folder `stage`.
    pub fn open_staging_in(dir: &StateDir, stage: Arc<OwnedFd>) -> io::Result<StateLog> {
        Ok(StateLog {
            dir: dir.clone(),
            stage,
            inner: RwLock::new(Inner::load(dir)?),
            stale: Arc::new(AtomicBool::new(false)),
            looked: AtomicU64::new(0),
            epoch: Instant::now(),
            watcher: Mutex::new(None),
        })
    }

    fn lock(&self) -> RwLockWriteGuard<'_, Inner> {
        // A panic while holding the lock leaves the view as consistent as
        // the file is, so a poisoned lock is still usable.
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    fn view(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the state as last read, sharing it with other readers.
    /// `f` must do no I/O: the view cannot move on meanwhile.
    pub fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.view().state)
    }

    /// Watches the folder holding the log (`folder`, as a path) so that a
    /// write by another process is noticed without looking at the log's
    /// length on every request. Without it (or on a share where
    /// notification is blind), the log is looked at every second.
    pub fn watch(&self, folder: &std::path::Path) {
        use notify::Watcher;
        let stale = Arc::clone(&self.stale);
        let name = std::ffi::OsString::from(state_dir::STATE_LOG);
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if event.is_ok_and(|e| e.paths.iter().any(|p| p.file_name() == Some(&name))) {
                stale.store(true, Ordering::SeqCst);
            }
        });
        match watcher.and_then(|mut w| w.watch(folder, notify::RecursiveMode::NonRecursive).map(|()| w)) {
            Ok(w) => *self.watcher.lock().unwrap_or_else(|p| p.into_inner()) = Some(w),
            Err(e) => log::warn!("the state log is looked at every second: no change notification ({e})"),
        }
    }

    /// Brings the view up to date when notification says the log changed,
    /// or when it was last looked at a while ago; otherwise costs two
    /// atomic loads.
    pub fn refresh_if_stale(&self) -> io::Result<()> {
        let now = self.epoch.elapsed().as_millis() as u64;
        let due = now.saturating_sub(self.looked.load(Ordering::SeqCst)) >= LOOK_EVERY.as_millis() as u64;
        if self.stale.swap(false, Ordering::SeqCst) || due {
            self.refresh()?;
        }
        Ok(())
    }

    /// Runs `f` on the view as notification (or the last look) left it;
    /// when its answer is a miss (an id not found, a link not there, a
    /// lock), reads the log once more and runs `f` again: another
    /// instance may have changed it a moment ago.
    pub fn read_fresh<T>(&self, f: impl Fn(&State) -> T, missed: impl Fn(&T) -> bool) -> io::Result<T> {
        self.refresh_if_stale()?;
        let answer = self.read(&f);
        if !missed(&answer) {
            return Ok(answer);
        }
        self.refresh()?;
        Ok(self.read(f))
    }

    /// Reads what writers appended since (or reloads after a compaction, or
    /// a log cut back by a failed append). The reading happens outside the
    /// mutex; a thread that finds the view moved on meanwhile leaves it to
    /// the one that moved it. Returns the log's length as seen.
    pub fn refresh(&self) -> io::Result<u64> {
        self.looked.store(self.epoch.elapsed().as_millis() as u64, Ordering::SeqCst);
        let (file, ino, end) = {
            let g = self.view();
            (Arc::clone(&g.file), g.ino, g.end())
        };
        let on_disk = self.dir.stat_file(StateFile::StateLog)?;
        let len = on_disk.st_size.max(0) as u64;
        if on_disk.st_ino != ino || len < end {
            let fresh = Inner::load(&self.dir)?;
            let mut g = self.lock();
            if g.ino == ino && g.end() == end {
                *g = fresh;
            }
            return Ok(len);
        }
        if len == end {
            return Ok(len);
        }
        let mut more = vec![0u8; (len - end) as usize];
        let mut got = 0;
        while got < more.len() {
            match file.read_at(&mut more[got..], end + got as u64)? {
                0 => break,
                n => got += n,
            }
        }
        more.truncate(got);
        let mut g = self.lock();
        if g.ino == ino && g.end() == end {
            g.ingest(more);
        }
        Ok(len)
    }

    /// Brings the view to the very end of the log. For the holder of the
    /// writers' lock, under which the log does not grow: a plain refresh
    /// may leave the view where a reader's shorter read put it.
    fn refresh_to_end(&self) -> io::Result<u64> {
        for _ in 0..1000 {
            let len = self.refresh()?;
            if self.view().end() == len {
                return Ok(len);
            }
        }
        Err(io::Error::other("the state log kept changing under the writers' lock"))
    }

    /// Appends `records` as whole lines, in one write, and reads them back.
    /// The caller holds the writers' lock, under which nobody else appends.
    /// A torn line before them (a crash, or a failed append) is ended
    /// first, so that theirs parse. With `durable`, the log is synced before
    /// this returns. An append that fails is cut back off the log, so that
    /// an error means the records are not there.
    pub fn append(&self, _lock: &WriterLock, records: &[Record], durable: bool) -> io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let before = self.refresh_to_end()?;
        let (file, torn) = {
            let g = self.lock();
            (Arc::clone(&g.file), !g.partial.is_empty())
        };
        let mut out = Vec::new();
        if torn {
            out.push(b'\n');
        }
        for r in records {
            serde_json::to_writer(&mut out, r).map_err(io::Error::other)?;
            out.push(b'\n');
        }
        let written = (&*file).write_all(&out).and_then(|()| if durable { file.sync_data() } else { Ok(()) });
        if let Err(e) = written {
            if let Err(cut) = file.set_len(before).and_then(|()| file.sync_data()) {
                log::error!("a failed append to the state log could not be cut back: {cut}");
            }
            self.refresh()?;
            return Err(e);
        }
        self.refresh_to_end().map(|_| ())
    }

    /// Runs `f` as the only writer of the log, in this process and every
    /// other sharing the root: the writers' lock is taken, the view brought
    /// up to date and left intents settled, then `f` plans from the state
    /// (no I/O: the mutex is held) and the records it returns are appended.
    /// For changes that touch nothing but the log.
    pub fn write<T, E: From<io::Error>>(
        &self,
        settle: &dyn Fn(&Check) -> io::Result<bool>,
        f: impl FnOnce(&State) -> Result<(T, Vec<Record>), E>,
    ) -> Result<T, E> {
        let lock = self.lock_for_writing(settle)?;
        let (value, records) = self.read(f)?;
        self.append(&lock, &records, false)?;
        self.compact_if_long(&lock);
        Ok(value)
    }

    /// Takes the writers' lock, brings the view to the end of the log and
    /// settles the intents that a dead writer left (whoever holds the lock
    /// has no intent of its own in flight yet).
    pub fn lock_for_writing(&self, settle: &dyn Fn(&Check) -> io::Result<bool>) -> io::Result<WriterLock> {
        let lock = WriterLock::take(&self.dir)?;
        self.refresh_to_end()?;
        self.reconcile(&lock, settle)?;
        Ok(lock)
    }

    /// Settles every intent left unsettled, by what `happened` finds on
    /// disk: commit it when its change is there, abort it when not. An
    /// intent whose check cannot tell (an error, such as a link in the way)
    /// stays for a later writer.
    pub fn reconcile(&self, lock: &WriterLock, happened: &dyn Fn(&Check) -> io::Result<bool>) -> io::Result<()> {
        let pending: Vec<(String, Check)> =
            self.read(|s| s.pending().map(|(n, p)| (n.to_string(), p.check.clone())).collect());
        let mut settled = Vec::new();
        for (n, check) in pending {
            match happened(&check) {
                Ok(true) => settled.push(Record::Commit { n }),
                Ok(false) => settled.push(Record::Abort { n }),
                Err(e) => log::warn!("cannot tell whether an interrupted change happened ({check:?}): {e}"),
            }
        }
        if !settled.is_empty() {
            log::info!("settled {} change(s) that a stopped writer left unfinished", settled.len());
        }
        self.append(lock, &settled, true)
    }

    /// Rewrites the log as a snapshot when it grew well past what it
    /// describes. The records are written: a failed compaction only means
    /// the log stays longer than it needs to be.
    pub fn compact_if_long(&self, lock: &WriterLock) {
        let (records, len) = {
            let g = self.lock();
            (g.records, g.state.len())
        };
        if records > 1024
            && records > 4 * (len + 16)
            && let Err(e) = self.compact(lock)
        {
            log::warn!("compacting the state log failed: {e}");
        }
    }

    /// Rewrites the log as a snapshot; must hold the lock. The snapshot is
    /// staged in the temp folder, where a crash leaves it for start-up to
    /// remove, never beside the log.
    fn compact(&self, _lock: &WriterLock) -> io::Result<()> {
        let snapshot = self.read(State::snapshot);
        let mut out = Vec::new();
        for r in &snapshot {
            serde_json::to_writer(&mut out, r).map_err(io::Error::other)?;
            out.push(b'\n');
        }
        let name = format!("compact-{}", paths::new_id());
        let flags = OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&*self.stage, name.as_str(), flags, Mode::from_raw_mode(state_dir::FILE_MODE))?;
        let staged = File::from(fd);
        let placed = (&staged)
            .write_all(&out)
            .and_then(|()| staged.sync_all())
            .and_then(|()| self.dir.replace_file(self.stage.as_fd(), OsStr::new(&name), StateFile::StateLog));
        if let Err(e) = placed {
            let _ = rustix::fs::unlinkat(&*self.stage, name.as_str(), rustix::fs::AtFlags::empty());
            return Err(e);
        }
        self.refresh().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(id: &str, path: &str) -> Record {
        Record::Id { id: id.into(), path: path.into() }
    }

    /// A disk on which nothing an intent names ever happened.
    fn nothing_happened(_: &Check) -> io::Result<bool> {
        Ok(false)
    }

    fn write(log: &StateLog, records: Vec<Record>) {
        log.write(&nothing_happened, |_| Ok::<_, io::Error>(((), records))).unwrap();
    }

    /// The state folder kept in `dir`, opened.
    fn state(dir: &tempfile::TempDir) -> StateDir {
        StateDir::at(&dir.path().join("state")).open().unwrap()
    }

    fn open(dir: &tempfile::TempDir) -> StateLog {
        StateLog::open(&state(dir)).unwrap()
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
    fn an_intent_takes_effect_only_when_committed() {
        let mut s = State::default();
        s.apply(id("a", "x"));
        let intent = |n: &str| Record::Intent {
            n: n.into(),
            records: vec![Record::Move { from: "x".into(), to: "y".into() }],
            check: Check::Holds { path: "y".into(), dev: 1, ino: 2 },
        };
        s.apply(intent("1"));
        assert_eq!(s.path_of("a"), Some("x"), "not before its commit");
        assert_eq!(s.pending().count(), 1);
        s.apply(Record::Commit { n: "1".into() });
        assert_eq!(s.path_of("a"), Some("y"));
        s.apply(intent("2"));
        s.apply(Record::Abort { n: "2".into() });
        assert_eq!((s.path_of("a"), s.pending().count()), (Some("y"), 0));
        // A commit of nothing known changes nothing.
        s.apply(Record::Commit { n: "3".into() });
        assert_eq!(s.path_of("a"), Some("y"));
    }

    #[test]
    fn the_next_writer_settles_what_a_dead_one_left_by_what_the_disk_shows() {
        let dir = tempfile::tempdir().unwrap();
        let a = open(&dir);
        write(&a, vec![id("a", "x"), id("b", "z")]);
        // Two intents whose writer died: one change happened, one did not.
        let moved = Check::Holds { path: "y".into(), dev: 1, ino: 2 };
        let gone = Check::Left { path: "z".into(), dev: 1, ino: 3 };
        write(
            &a,
            vec![
                Record::Intent {
                    n: "1".into(),
                    records: vec![Record::Move { from: "x".into(), to: "y".into() }],
                    check: moved.clone(),
                },
                Record::Intent { n: "2".into(), records: vec![Record::Gone { path: "z".into() }], check: gone },
            ],
        );
        let b = open(&dir);
        let disk = |c: &Check| Ok(*c == moved);
        b.write(&disk, |_| Ok::<_, io::Error>(((), vec![]))).unwrap();
        b.read(|s| {
            assert_eq!(s.path_of("a"), Some("y"));
            assert_eq!(s.path_of("b"), Some("z"));
            assert_eq!(s.pending().count(), 0);
        });
        a.refresh().unwrap();
        assert_eq!(a.read(|s| s.path_of("a").map(str::to_string)), Some("y".into()));
        // Settled once: a later writer finds nothing left to settle.
        let asked = std::cell::Cell::new(0);
        let counting = |_: &Check| {
            asked.set(asked.get() + 1);
            Ok(true)
        };
        open(&dir).write(&counting, |_| Ok::<_, io::Error>(((), vec![]))).unwrap();
        assert_eq!(asked.get(), 0);
    }

    #[test]
    fn two_logs_on_one_folder_see_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let a = open(&dir);
        let b = open(&dir);
        write(&a, vec![id("1", "x")]);
        write(&b, vec![Record::Lock { id: "1".into(), locked: true }]);
        a.refresh().unwrap();
        b.refresh().unwrap();
        assert!(a.read(|s| s.is_locked("1")));
        assert_eq!(b.read(|s| s.path_of("1").map(str::to_string)), Some("x".into()));
    }

    #[test]
    fn torn_line_is_skipped_and_terminated() {
        let dir = tempfile::tempdir().unwrap();
        let a = open(&dir);
        write(&a, vec![id("1", "x")]);
        std::fs::OpenOptions::new()
            .append(true)
            .open(state(&dir).state_log())
            .unwrap()
            .write_all(b"{\"op\":\"id\",\"id\":\"2\"")
            .unwrap();
        // The writer that sees the torn line (here: the same process) ends it.
        write(&a, vec![id("3", "z")]);
        let c = open(&dir);
        c.read(|s| {
            assert_eq!(s.path_of("1"), Some("x"));
            assert_eq!(s.path_of("3"), Some("z"));
            assert_eq!(s.path_of("2"), None);
        });
    }

    #[test]
    fn compaction_is_staged_in_the_temp_folder_and_a_failed_one_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(&dir);
        // A temp folder that cannot be used (removed after it was opened):
        // compaction must fail (it never stages its snapshot beside the
        // log, where a crash would leave it), while every write still
        // succeeds.
        let gone = dir.path().join("gone");
        std::fs::create_dir(&gone).unwrap();
        let stage = rustix::fs::open(&gone, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap();
        std::fs::remove_dir(&gone).unwrap();
        let a = StateLog::open_staging_in(&state, Arc::new(stage)).unwrap();
        for n in 0..3000 {
            write(&a, vec![Record::Lock { id: "1".into(), locked: n % 2 == 0 }]);
        }
        write(&a, vec![id("1", "x")]);
        let size = std::fs::metadata(state.state_log()).unwrap().len();
        assert!(size > 100_000, "the log was compacted outside the temp folder: {size} bytes");
        let names: HashSet<_> = std::fs::read_dir(state.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        let expected: HashSet<_> = [state.state_log(), state.state_lock(), state.tmp()]
            .iter()
            .chain(&[state.path().join(state_dir::ARCHIVE), state.path().join(state_dir::SNAPSHOTS)])
            .map(|p| p.file_name().unwrap().to_owned())
            .collect();
        assert_eq!(names, expected);
        open(&dir).read(|s| {
            assert_eq!(s.path_of("1"), Some("x"));
            assert!(!s.is_locked("1"));
        });
    }

    #[test]
    fn compaction_keeps_the_state_and_others_reload() {
        let dir = tempfile::tempdir().unwrap();
        let a = open(&dir);
        let b = open(&dir);
        for n in 0..3000 {
            write(&a, vec![Record::Lock { id: "1".into(), locked: n % 2 == 0 }]);
        }
        write(&a, vec![id("1", "x")]);
        let size = std::fs::metadata(state(&dir).state_log()).unwrap().len();
        assert!(size < 100_000, "log was not compacted: {size} bytes");
        b.refresh().unwrap();
        b.read(|s| {
            assert_eq!(s.path_of("1"), Some("x"));
            assert!(!s.is_locked("1"));
        });
    }

    #[test]
    fn records_keep_their_json_shape() {
        // The log outlives versions: these lines must keep parsing.
        let line = r#"{"op":"id","id":"0123456789abcdef","path":"a/b.pdf"}"#;
        assert_eq!(serde_json::from_str::<Record>(line).unwrap(), id("0123456789abcdef", "a/b.pdf"));
        let intent = Record::Intent {
            n: "7".into(),
            records: vec![Record::Gone { path: "a".into() }],
            check: Check::Holds { path: "b".into(), dev: 1, ino: 2 },
        };
        let text = serde_json::to_string(&intent).unwrap();
        assert_eq!(
            text,
            r#"{"op":"intent","n":"7","records":[{"op":"gone","path":"a"}],"check":{"is":"holds","path":"b","dev":1,"ino":2}}"#
        );
        assert_eq!(serde_json::from_str::<Record>(&text).unwrap(), intent);
    }
}
