//! The folder backend: the browse tree is the folder tree and files keep
//! their names on disk, so people and other tools can share the folder.
//!
//! Safety rules: an id resolves only through the state log; the resulting
//! path is resolved by [`Beneath`] into a handle, without following a
//! symbolic link anywhere and never into the state folder under whatever
//! name; everything after that works through handles (`*at` calls on the
//! folder that holds the item), so a folder swapped for a link mid-request
//! changes nothing about what is touched. The state folder is reached only
//! through its own handle, and by id only for archived items.
//!
//! Every change on disk is bracketed by the state log (an intent before, a
//! commit after, see [`super::state`]), made under the writers' lock, and
//! synced through the handles before the lock is released: the answer a
//! client gets is the truth, and a crash at any instant leaves ids, links,
//! locks and checksums that agree with the disk. New items and new bytes
//! are made in this process's own temp folder and renamed into place (a new
//! item never over an existing one); deleted items are renamed aside first.

use std::cell::Cell;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RenameFlags, Stat};
use rustix::io::Errno;

use super::beneath::{self, Beneath, DIR};
use super::paths;
use super::state::{Check, Record, State, StateLog, WriterLock};
use super::{
    ChecksumOutcome, Column, DocumentRef, Item, Kind, Page, ROOT_ID, Result, Sort, SortKey, Store, StoreError,
    UploadReceipt,
};
use crate::crypto::Sha256Hasher;
use crate::state_dir::{self, StateDir};

/// Rows read from the index at a time when listing a folder it holds.
const CHUNK: usize = 1000;

/// The most matches a search sorts before it pages: a query that matches
/// more (a single letter on a huge share) pages through the first ones
/// found.
const MATCHES: usize = 100_000;
/// Loose temp files of an older version's crashed writes: a live upload of
/// such a version keeps writing its own, so start-up removes those older
/// than this.
const STALE_TMP: Duration = Duration::from_secs(3600);
/// How long a reader that missed an item waits for a writer in flight.
const WRITER_PATIENCE: Duration = Duration::from_secs(2);
/// How many times an item that is not where the state says is looked for
/// again, each after the writers of the moment are done.
const LOOKS: usize = 4;

#[path = "indexing.rs"]
mod indexing;

pub use indexing::IndexSettings;

pub struct FsStore {
    root: PathBuf,
    beneath: Beneath,
    state_dir: StateDir,
    log: StateLog,
    tmp: OwnTmp,
    /// The index of the root and its threads, once started.
    indexing: std::sync::OnceLock<indexing::Indexing>,
}

/// This process's own temp folder, `tmp/PID-ID/`, beside the lock file
/// `tmp/PID-ID.lock` that the process holds locked for as long as it
/// lives: the next start, of this instance or of another sharing the root,
/// removes the folders whose lock nobody holds, and only those. The lock
/// file is made (and locked) before the folder, so that no start ever
/// sees a live process's folder without its lock. Someone who removes the
/// folder by hand gets it made again at the next write.
struct OwnTmp {
    state: StateDir,
    name: String,
    own: Mutex<Own>,
}

struct Own {
    dir: Arc<OwnedFd>,
    identity: (u64, u64),
    _lock: File,
}

impl OwnTmp {
    fn new(state: &StateDir) -> io::Result<OwnTmp> {
        let name = format!("{}-{}", std::process::id(), crate::crypto::random_hex(4));
        let own = Own::make(state, &name)?;
        Ok(OwnTmp { state: state.clone(), name, own: Mutex::new(own) })
    }

    /// The folder's handle, made again if someone removed or moved it. The
    /// look is made before taking the mutex, so that no disk I/O happens
    /// under it but on that rare path.
    fn dir(&self) -> io::Result<Arc<OwnedFd>> {
        let (dir, identity) = {
            let own = self.own.lock().unwrap_or_else(|p| p.into_inner());
            (Arc::clone(&own.dir), own.identity)
        };
        let there = format!("{}/{}", state_dir::TMP, self.name);
        let now = rustix::fs::statat(self.state.fd()?, there.as_str(), AtFlags::SYMLINK_NOFOLLOW).ok();
        if now.is_some_and(|st| (st.st_dev, st.st_ino) == identity) {
            return Ok(dir);
        }
        let mut own = self.own.lock().unwrap_or_else(|p| p.into_inner());
        *own = Own::make(&self.state, &self.name)?;
        Ok(Arc::clone(&own.dir))
    }
}

impl Own {
    fn make(state: &StateDir, name: &str) -> io::Result<Own> {
        let tmp = state.subfolder(state_dir::TMP)?;
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let lock = File::from(rustix::fs::openat(
            &tmp,
            format!("{name}.lock").as_str(),
            flags,
            Mode::from_raw_mode(state_dir::FILE_MODE),
        )?);
        lock.try_lock().map_err(|e| io::Error::other(e.to_string()))?;
        let dir = state_dir::private_folder(tmp.as_fd(), OsStr::new(name))?;
        let st = rustix::fs::fstat(&dir)?;
        Ok(Own { dir: Arc::new(dir), identity: (st.st_dev, st.st_ino), _lock: lock })
    }
}

/// A file or folder made in this process's temp folder, removed there
/// unless it was placed elsewhere.
struct Staged {
    dir: Arc<OwnedFd>,
    name: String,
    kind: Kind,
    placed: Cell<bool>,
}

impl Staged {
    /// A new file with `mode` (less the umask), open for writing.
    fn file(tmp: &OwnTmp, prefix: &str, mode: u32) -> io::Result<(Staged, File)> {
        let dir = tmp.dir()?;
        let name = format!("{prefix}{}", paths::new_id());
        let flags = OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&*dir, name.as_str(), flags, Mode::from_raw_mode(mode))?;
        Ok((Staged { dir, name, kind: Kind::File, placed: Cell::new(false) }, File::from(fd)))
    }

    /// A new, empty folder (0777 less the umask).
    /// A nameless file for a request body: `O_TMPFILE` where the
    /// filesystem has it, else a file removed as soon as it is made.
    fn nameless(tmp: &OwnTmp) -> io::Result<File> {
        let dir = tmp.dir()?;
        let flags = OFlags::RDWR | OFlags::TMPFILE | OFlags::CLOEXEC;
        match rustix::fs::openat(&*dir, ".", flags, Mode::from_raw_mode(0o600)) {
            Ok(fd) => Ok(File::from(fd)),
            Err(rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::ISDIR | rustix::io::Errno::INVAL) => {
                let (staged, file) = Staged::file(tmp, "body-", 0o600)?;
                drop(staged);
                Ok(file)
            }
            Err(e) => Err(e.into()),
        }
    }

    fn folder(tmp: &OwnTmp) -> io::Result<Staged> {
        let dir = tmp.dir()?;
        let name = format!("folder-{}", paths::new_id());
        rustix::fs::mkdirat(&*dir, name.as_str(), Mode::from_raw_mode(0o777))?;
        Ok(Staged { dir, name, kind: Kind::Folder, placed: Cell::new(false) })
    }

    fn stat(&self) -> io::Result<Stat> {
        Ok(rustix::fs::statat(&*self.dir, self.name.as_str(), AtFlags::SYMLINK_NOFOLLOW)?)
    }

    /// Renames it to `name` in `dir`: over what is there with `flags`
    /// empty, or only where nothing is with `NOREPLACE`.
    fn place(&self, dir: BorrowedFd<'_>, name: &OsStr, flags: RenameFlags) -> io::Result<()> {
        rename(self.dir.as_fd(), OsStr::new(&self.name), dir, name, flags)?;
        self.placed.set(true);
        Ok(())
    }

    /// Takes it back from `name` in `dir`, where [`Staged::place`] put it.
    fn take_back(&self, dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
        rename(dir, name, self.dir.as_fd(), OsStr::new(&self.name), RenameFlags::NOREPLACE)?;
        self.placed.set(false);
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.placed.get() {
            let flags = if self.kind == Kind::Folder { AtFlags::REMOVEDIR } else { AtFlags::empty() };
            let _ = rustix::fs::unlinkat(&*self.dir, self.name.as_str(), flags);
        }
    }
}

/// `renameat2` with `flags`. Where the filesystem cannot keep a rename
/// from replacing (some network mounts answer `EINVAL` to `NOREPLACE`), a
/// look first does, under the writers' lock that every wfhook writer takes.
fn rename(
    from_dir: BorrowedFd<'_>,
    from: &OsStr,
    to_dir: BorrowedFd<'_>,
    to: &OsStr,
    flags: RenameFlags,
) -> io::Result<()> {
    match rustix::fs::renameat_with(from_dir, from, to_dir, to, flags) {
        Err(Errno::INVAL) if flags.contains(RenameFlags::NOREPLACE) => {
            if rustix::fs::statat(to_dir, to, AtFlags::SYMLINK_NOFOLLOW).is_ok() {
                return Err(io::Error::from(Errno::EXIST));
            }
            Ok(rustix::fs::renameat(from_dir, from, to_dir, to)?)
        }
        other => Ok(other?),
    }
}

/// Removes what crashed writers left in the temp folder: the folders whose
/// lock file nobody holds (or that have none), and loose files of older
/// versions older than an hour. Through handles, never following a link;
/// best effort: a start must not fail over leftovers.
fn remove_dead_temps(state: &StateDir) {
    let Ok(tmp) = state.subfolder(state_dir::TMP) else { return };
    let Ok(entries) = rustix::fs::Dir::read_from(&tmp) else { return };
    let names: Vec<OsString> = entries
        .filter_map(|e| e.ok())
        .map(|e| OsStr::from_bytes(e.file_name().to_bytes()).to_os_string())
        .filter(|n| n != "." && n != "..")
        .collect();
    for name in names {
        let Ok(st) = rustix::fs::statat(&tmp, &name, AtFlags::SYMLINK_NOFOLLOW) else { continue };
        let lock_name = {
            let mut l = name.clone();
            l.push(".lock");
            l
        };
        if is_dir(&st) {
            // Its writer is gone when nobody holds its lock, or it has none.
            let flags = OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let dead = match rustix::fs::openat(&tmp, &lock_name, flags, Mode::empty()) {
                Ok(fd) => File::from(fd).try_lock().is_ok(),
                Err(_) => true,
            };
            if dead {
                let _ = remove_tree_at(tmp.as_fd(), &name);
                let _ = rustix::fs::unlinkat(&tmp, &lock_name, AtFlags::empty());
            }
        } else if !name.as_bytes().ends_with(b".lock") && modified(&st).elapsed().unwrap_or_default() > STALE_TMP {
            let _ = rustix::fs::unlinkat(&tmp, &name, AtFlags::empty());
        } else if name.as_bytes().ends_with(b".lock") {
            // A lock whose folder is gone: removed once nobody holds it.
            let folder = OsStr::from_bytes(&name.as_bytes()[..name.len() - ".lock".len()]);
            let flags = OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            if rustix::fs::statat(&tmp, folder, AtFlags::SYMLINK_NOFOLLOW).is_err()
                && let Ok(fd) = rustix::fs::openat(&tmp, &name, flags, Mode::empty())
                && File::from(fd).try_lock().is_ok()
            {
                let _ = rustix::fs::unlinkat(&tmp, &name, AtFlags::empty());
            }
        }
    }
}

/// Removes `name` in `dir` and everything below it, through handles and
/// without following a link: a link met on the way is itself removed.
fn remove_tree_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) => return Ok(()),
        Err(Errno::ISDIR | Errno::PERM) => {}
        Err(e) => return Err(e.into()),
    }
    let sub = rustix::fs::openat(dir, name, DIR | OFlags::NOFOLLOW, Mode::empty())?;
    let names: Vec<OsString> = rustix::fs::Dir::read_from(&sub)?
        .filter_map(|e| e.ok())
        .map(|e| OsStr::from_bytes(e.file_name().to_bytes()).to_os_string())
        .filter(|n| n != "." && n != "..")
        .collect();
    for child in names {
        remove_tree_at(sub.as_fd(), &child)?;
    }
    rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR)?;
    Ok(())
}

fn is_dir(st: &Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::Directory
}

fn is_file(st: &Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::RegularFile
}

fn identity(st: &Stat) -> (u64, u64) {
    (st.st_dev, st.st_ino)
}

fn modified(st: &Stat) -> SystemTime {
    let (secs, nanos) = (st.st_mtime, st.st_mtime_nsec as u32);
    match u64::try_from(secs) {
        Ok(s) => SystemTime::UNIX_EPOCH + Duration::new(s, nanos.min(999_999_999)),
        Err(_) => SystemTime::UNIX_EPOCH,
    }
}

/// A missing item, as the client sees it.
fn not_found(e: io::Error) -> StoreError {
    if e.kind() == io::ErrorKind::NotFound { StoreError::NotFound("no item has this id") } else { e.into() }
}

fn errno(e: &StoreError) -> Option<i32> {
    match e {
        StoreError::Io(e) => e.raw_os_error(),
        _ => None,
    }
}

impl FsStore {
    /// Opens the store on `root`, creating the folder and its state folder,
    /// and removes what crashed writers left in the temp folder.
    pub fn open(root: &Path) -> io::Result<FsStore> {
        std::fs::create_dir_all(root)?;
        let root = root.canonicalize()?;
        let beneath = Beneath::open(&root)?;
        let state_dir = StateDir::of_root(&root).open_beneath(beneath.root())?;
        let beneath = beneath.with_state(state_dir.clone());
        remove_dead_temps(&state_dir);
        let tmp = OwnTmp::new(&state_dir)?;
        let log = StateLog::open_staging_in(&state_dir, tmp.dir()?)?;
        log.watch(&root.join(state_dir::NAME));
        let store = FsStore { root, beneath, state_dir, log, tmp, indexing: std::sync::OnceLock::new() };
        // Settle what a writer that died left unfinished, now rather than
        // at the first write.
        drop(store.log.lock_for_writing(&|check| store.happened(check))?);
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The hidden folder holding the store's state, the journal and
    /// secrets, opened: every file in it is reached through its handle.
    pub fn state_dir(&self) -> &StateDir {
        &self.state_dir
    }

    /// Takes the writers' lock, with the state up to date and every change
    /// a dead writer left unfinished settled.
    fn lock(&self) -> Result<WriterLock> {
        Ok(self.log.lock_for_writing(&|check| self.happened(check))?)
    }

    /// Whether the change an intent describes is on disk. Something in the
    /// way of the path (a link, a file where a folder was) says neither
    /// yes nor no: the intent waits for a later writer.
    fn happened(&self, check: &Check) -> io::Result<bool> {
        let holds = |path: &str, id: (u64, u64)| -> io::Result<bool> {
            Ok(self.look(path)?.is_some_and(|st| identity(&st) == id))
        };
        match check {
            Check::Holds { path, dev, ino } => holds(path, (*dev, *ino)),
            Check::Left { path, dev, ino } => Ok(!holds(path, (*dev, *ino))?),
        }
    }

    /// What is at `rel`, without following a link: `None` when nothing is
    /// (or a link is); an error when something stands in the way.
    fn look(&self, rel: &str) -> io::Result<Option<Stat>> {
        match self.entry(rel) {
            Ok((_, _, st)) => Ok(Some(st)),
            Err(e) if e.kind() == io::ErrorKind::NotFound && !beneath::in_the_way(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The item at `rel`; a link is `NotFound`.
    fn stat(&self, rel: &str) -> io::Result<Stat> {
        if rel.is_empty() {
            return Ok(rustix::fs::fstat(self.beneath.root())?);
        }
        Ok(self.entry(rel)?.2)
    }

    /// The folder holding the item at `rel`, the item's name on disk, and
    /// what it is: the handles a change works through. A link (which is
    /// never an item), the state folder under any name, or a missing item
    /// is `NotFound`.
    fn entry(&self, rel: &str) -> io::Result<(OwnedFd, OsString, Stat)> {
        let (dir, name) = self.beneath.parent(rel)?;
        let st = rustix::fs::statat(&dir, &name, AtFlags::SYMLINK_NOFOLLOW).map_err(io::Error::from)?;
        if FileType::from_raw_mode(st.st_mode) == FileType::Symlink || self.beneath.is_state(&st) {
            return Err(io::Error::new(io::ErrorKind::NotFound, "not an item"));
        }
        Ok((dir, name, st))
    }

    /// The relative path of an id, checked. `""` is the root.
    fn path_of(&self, state: &State, id: &str) -> Result<String> {
        paths::check_id(id)?;
        if id == ROOT_ID {
            return Ok(String::new());
        }
        let rel = state.path_of(id).ok_or(StoreError::NotFound("no item has this id"))?;
        // Only `/` is the root: a damaged or forged state log that maps
        // another id to `""` must not let it rename or delete the root.
        if rel.is_empty() {
            return Err(StoreError::NotFound("no item has this id"));
        }
        // A path that cannot be is a damaged state log, not a missing item.
        paths::components(rel)
            .map_err(|_| io::Error::other(format!("the state log maps {id} to a path that cannot be")))?;
        // The state folder is never reachable by id, but for the archive.
        if paths::is_within(rel, state_dir::NAME) && !(state_dir::in_archive(rel) && state.is_archived(id)) {
            return Err(StoreError::NotFound("no item has this id"));
        }
        Ok(rel.to_string())
    }

    /// The relative path of an id, from the state as notification (or the
    /// last look) left it; an id not found makes the log be read once more
    /// (another instance may have made it a moment ago).
    fn current_path(&self, id: &str) -> Result<String> {
        self.log.read_fresh(|s| self.path_of(s, id), |p| matches!(p, Err(StoreError::NotFound(_))))?
    }

    /// Runs `f` on the path of item `id`. When the item is not where the
    /// state says, a change may be in flight (wfhook renaming its folder,
    /// here or in another instance sharing the root): wait it out (for a
    /// while) and look once more, so that a valid id never misses for
    /// that. Not for writers, who hold the lock that this waits for.
    fn with_item<T>(&self, id: &str, f: impl Fn(&str) -> io::Result<T>) -> Result<T> {
        let mut rel = self.current_path(id)?;
        // A folder renamed over and over (a busy client, or a loaded
        // machine where each look takes long) can move between the wait
        // and the next look: a few looks, then it is really gone.
        for _ in 0..LOOKS {
            match f(&rel) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    WriterLock::wait_for_writers(&self.state_dir, WRITER_PATIENCE)?;
                    // Moved by another process, maybe: read the log again.
                    self.log.refresh()?;
                    rel = self.current_path(id)?;
                }
                other => return other.map_err(StoreError::from),
            }
        }
        f(&rel).map_err(not_found)
    }

    fn check_writable(state: &State, id: &str) -> Result<()> {
        if state.is_locked(id) {
            Err(StoreError::Locked)
        } else if state.is_archived(id) {
            Err(StoreError::Archived)
        } else {
            Ok(())
        }
    }

    /// Ids for relative paths, handing out new ones for items seen for the
    /// first time (dropped into the folder by hand).
    fn items(&self, found: Vec<(String, Facts)>) -> Result<Vec<Item>> {
        self.log.refresh_if_stale()?;
        let unknown = self.log.read(|state| found.iter().any(|(rel, _)| state.id_of(rel).is_none()));
        if unknown {
            self.log.write(&|check| self.happened(check), |state| {
                let mut seen = std::collections::HashSet::new();
                let records = found
                    .iter()
                    .filter(|(rel, _)| state.id_of(rel).is_none() && seen.insert(rel.as_str()))
                    .map(|(rel, _)| Record::Id { id: paths::new_id(), path: rel.clone() })
                    .collect();
                Ok::<_, StoreError>(((), records))
            })?;
        }
        Ok(self.log.read(|state| {
            found
                .into_iter()
                .filter_map(|(rel, st)| {
                    let id = state.id_of(&rel)?.to_string();
                    Some(item(state, id, &rel, st))
                })
                .collect()
        }))
    }

    /// The folder `id` (its path, an open handle, and what it looked like
    /// before it was read: a change while it is read shows at the next
    /// look); `Invalid` for a file.
    fn open_folder(&self, id: &str) -> Result<(String, OwnedFd, Stat)> {
        let found = self.with_item(id, |rel| {
            let st = self.stat(rel)?;
            if !is_dir(&st) {
                return Ok(None);
            }
            let dir = self.beneath.open_dir(rel)?;
            let st = rustix::fs::fstat(&dir)?;
            Ok(Some((rel.to_string(), dir, st)))
        })?;
        found.ok_or(StoreError::Invalid("not a folder"))
    }

    /// Rows of a folder's listing from the index with sizes and dates as
    /// they are now, from the folder's handle (a file written in place
    /// changes no folder's date); a row whose item is gone (or is a link
    /// now) is left out. With `exact`, `None` as soon as a row's size or
    /// date differs from the index's: an order by those would be stale.
    fn fresh_rows(&self, dir: &OwnedFd, rows: Vec<crate::index::Entry>, exact: bool) -> Option<Vec<(String, Facts)>> {
        let mut fresh = Vec::with_capacity(rows.len());
        for e in rows {
            let Ok(name) = beneath::to_disk(paths::file_name(&e.path)) else { continue };
            let Ok(st) = rustix::fs::statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW) else { continue };
            if FileType::from_raw_mode(st.st_mode) == FileType::Symlink || self.beneath.is_state(&st) {
                continue;
            }
            if exact {
                let now = indexing::entry_of(&e.path, &st);
                if (now.is_dir, now.size, now.mtime_ns) != (e.is_dir, e.size, e.mtime_ns) {
                    return None;
                }
            }
            fresh.push((e.path, Facts::of(&st)));
        }
        Some(fresh)
    }

    /// Name matches first, then the files whose text holds the words, each
    /// checked on disk (the index may lag behind a change made by hand for
    /// a moment), then the window.
    fn search_index(&self, ix: &crate::index::Index, query: &str, under: &str, page: Page) -> Result<Vec<Item>> {
        let needle = query.to_lowercase();
        let mut hits = ix.search_names(&needle, under, MATCHES)?;
        let named: std::collections::HashSet<String> = hits.iter().map(|e| e.path.clone()).collect();
        hits.extend(ix.search_texts(query, under, MATCHES)?.into_iter().filter(|e| !named.contains(&e.path)));
        let take = page.max.unwrap_or(usize::MAX);
        let mut found = Vec::new();
        for e in hits.into_iter().skip(page.offset) {
            if found.len() >= take {
                break;
            }
            if let Ok(Some(st)) = self.look(&e.path)
                && is_dir(&st) == e.is_dir
            {
                found.push((e.path, Facts::of(&st)));
            }
        }
        self.items(found)
    }

    /// The item at `rel`; the root's path is `""`, so its title is empty.
    fn item_of(&self, id: &str, rel: &str, st: &Stat) -> Item {
        self.log.read(|state| item(state, id.to_string(), rel, Facts::of(st)))
    }

    /// The children of the folder `dir` (at `rel`) worth showing: no
    /// links, never the state folder (under any name). Names that are not
    /// UTF-8 are kept, in the state log's escaped form, and so are names
    /// with a backslash (a character like any other here).
    fn children(&self, rel: &str, dir: &OwnedFd) -> io::Result<Vec<(String, Stat)>> {
        let mut out = Vec::new();
        for entry in rustix::fs::Dir::read_from(dir)? {
            let entry = entry?;
            let bytes = entry.file_name().to_bytes();
            if bytes == b"." || bytes == b".." {
                continue;
            }
            let name = paths::encode(bytes);
            if rel.is_empty() && name == state_dir::NAME {
                continue;
            }
            let Ok(st) = rustix::fs::statat(dir, entry.file_name(), AtFlags::SYMLINK_NOFOLLOW) else {
                continue;
            };
            if FileType::from_raw_mode(st.st_mode) == FileType::Symlink || self.beneath.is_state(&st) {
                continue;
            }
            out.push((paths::join(rel, &name), st));
        }
        Ok(out)
    }

    /// Writes `body` to a synced temp file in this process's temp folder.
    fn spool(&self, body: &mut dyn Read) -> Result<(Staged, File, UploadReceipt)> {
        let (staged, mut file) = Staged::file(&self.tmp, "upload-", state_dir::FILE_MODE)?;
        let mut hasher = Sha256Hasher::default();
        let mut buf = vec![0u8; 256 * 1024];
        let mut size = 0u64;
        loop {
            let n = match body.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(StoreError::Body(e)),
            };
            size += n as u64;
            hasher.update(&buf[..n]);
            file.write_all(&buf[..n])?;
        }
        file.sync_all()?;
        Ok((staged, file, UploadReceipt { size, sha256: hasher.finish_hex() }))
    }

    /// Makes one change on disk bracketed by the state log: the intent
    /// (with `records` and the `check` that tells whether the change
    /// happened) is written first, then `change` runs and `sync` makes it
    /// durable, then the commit is written. When `change` fails the intent
    /// is aborted; when `sync` or the commit fails, `undo` puts the disk
    /// back first, so that an error means nothing happened. Must hold the
    /// writers' lock.
    fn change<T>(
        &self,
        lock: &WriterLock,
        records: Vec<Record>,
        check: Check,
        change: impl FnOnce() -> io::Result<T>,
        sync: impl FnOnce(&T) -> io::Result<()>,
        undo: impl FnOnce(&T) -> io::Result<()>,
    ) -> Result<T> {
        let n = paths::new_id();
        self.log.append(lock, &[Record::Intent { n: n.clone(), records, check }], true)?;
        let done = match change() {
            Ok(done) => done,
            Err(e) => {
                self.abort(lock, n);
                return Err(e.into());
            }
        };
        let committed = sync(&done).and_then(|()| self.log.append(lock, &[Record::Commit { n: n.clone() }], true));
        if let Err(e) = committed {
            match undo(&done) {
                Ok(()) => self.abort(lock, n),
                // Left to the next writer, who settles it from the disk.
                Err(u) => log::error!("a change that could not be made durable could not be undone: {u}"),
            }
            return Err(e.into());
        }
        Ok(done)
    }

    /// Drops an intent whose change did not happen. When even that cannot
    /// be written, the next writer finds the change absent and drops it.
    fn abort(&self, lock: &WriterLock, n: String) {
        if let Err(e) = self.log.append(lock, &[Record::Abort { n }], true) {
            log::warn!("cannot record that a change did not happen (the next writer will): {e}");
        }
    }

    /// The folder of `id` for a write, under the lock: its path and handle.
    /// Not a folder is a 400.
    fn folder_for_write(&self, id: &str) -> Result<(String, OwnedFd)> {
        let rel = self.log.read(|s| self.path_of(s, id))?;
        let st = self.stat(&rel).map_err(not_found)?;
        if !is_dir(&st) {
            return Err(StoreError::Invalid("not a folder"));
        }
        Ok((rel.clone(), self.beneath.open_dir(&rel).map_err(not_found)?))
    }

    /// The folder `name` under the state folder's `sub`-folder, made when
    /// missing, private whatever the umask, opened through the state
    /// folder's handle.
    fn state_subfolder(&self, sub: &str, name: &str) -> Result<OwnedFd> {
        let parent = self.state_dir.subfolder(sub)?;
        Ok(state_dir::private_folder(parent.as_fd(), OsStr::new(name))?)
    }

    /// Makes a new file or folder `name` in `dir` (at `rel`), with
    /// `records`: made in this process's temp folder and renamed into place
    /// without replacing anything, so that the intent names the very item
    /// (a file someone else makes at that name meanwhile is theirs, and
    /// the name is taken). A folder on another filesystem (a mount point
    /// inside the root) cannot take a rename: the item is then made in
    /// place, and a crash just before its intent leaves an item without an
    /// id, which the next listing gives one.
    fn make_item(
        &self,
        lock: &WriterLock,
        dir: &OwnedFd,
        name: &str,
        rel: &str,
        records: Vec<Record>,
        kind: Kind,
    ) -> Result<Stat> {
        let staged = match kind {
            Kind::File => Staged::file(&self.tmp, "new-", 0o666)?.0,
            Kind::Folder => Staged::folder(&self.tmp)?,
        };
        let st = staged.stat()?;
        let check = held_at(rel.to_string(), &st);
        let placed = self.change(
            lock,
            records.clone(),
            check,
            || staged.place(dir.as_fd(), OsStr::new(name), RenameFlags::NOREPLACE),
            |()| Ok(rustix::fs::fsync(dir)?),
            |()| staged.take_back(dir.as_fd(), OsStr::new(name)),
        );
        match placed {
            Ok(()) => Ok(st),
            Err(e) if errno(&e) == Some(Errno::XDEV.raw_os_error()) => {
                drop(staged);
                self.make_item_in_place(lock, dir, name, rel, records, kind)
            }
            Err(e) => Err(e),
        }
    }

    fn make_item_in_place(
        &self,
        lock: &WriterLock,
        dir: &OwnedFd,
        name: &str,
        rel: &str,
        records: Vec<Record>,
        kind: Kind,
    ) -> Result<Stat> {
        match kind {
            Kind::File => {
                let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                rustix::fs::openat(dir, name, flags, Mode::from_raw_mode(0o666)).map_err(io::Error::from)?;
            }
            Kind::Folder => rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o777)).map_err(io::Error::from)?,
        }
        let st = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).map_err(io::Error::from)?;
        let check = held_at(rel.to_string(), &st);
        let remove = if kind == Kind::Folder { AtFlags::REMOVEDIR } else { AtFlags::empty() };
        self.change(
            lock,
            records,
            check,
            || Ok(()),
            |()| Ok(rustix::fs::fsync(dir)?),
            |()| Ok(rustix::fs::unlinkat(dir, name, remove)?),
        )?;
        Ok(st)
    }
}

/// What a sorted listing orders an item found on disk by: the index's
/// figures (a folder's size is 0), and its path last, as the index's
/// positions have it.
fn sort_key(rel: &str, st: &Stat) -> SortKey {
    let e = indexing::entry_of(rel, st);
    SortKey {
        folder: e.is_dir,
        size: e.size,
        mtime_ns: e.mtime_ns,
        lower: e.title.to_lowercase(),
        title: e.title,
        unique: e.path,
    }
}

/// The check that `path` holds the very item `st` describes.
fn held_at(path: String, st: &Stat) -> Check {
    Check::Holds { path, dev: st.st_dev, ino: st.st_ino }
}

/// What a listing shows of an item, from a stat or from the index.
struct Facts {
    is_dir: bool,
    size: u64,
    modified: SystemTime,
}

impl Facts {
    fn of(st: &Stat) -> Facts {
        Facts { is_dir: is_dir(st), size: st.st_size.max(0) as u64, modified: modified(st) }
    }
}

/// `found` with what a listing shows of each.
fn facts(found: Vec<(String, Stat)>) -> Vec<(String, Facts)> {
    found.into_iter().map(|(rel, st)| (rel, Facts::of(&st))).collect()
}

fn item(state: &State, id: String, rel: &str, st: Facts) -> Item {
    let name = paths::file_name(rel);
    let kind = if st.is_dir { Kind::Folder } else { Kind::File };
    let title = title_of(name);
    Item {
        read_only: state.is_locked(&id) || state.is_archived(&id),
        id,
        mime_type: (kind == Kind::File)
            .then(|| mime_guess::from_path(&title).first_or_octet_stream().essence_str().to_string()),
        title,
        kind,
        size: (kind == Kind::File).then_some(st.size),
        modified: st.modified,
    }
}

/// Items found on disk in the order of every listing: folders first, then
/// by title ignoring case, then by title, then by path (two names that are
/// not UTF-8 can share a title). Each key is made once, not once per
/// comparison.
fn sorted(mut found: Vec<(String, Stat)>) -> Vec<(String, Stat)> {
    found.sort_by_cached_key(|(rel, st)| {
        let title = title_of(paths::file_name(rel));
        (!is_dir(st), title.to_lowercase(), title, rel.clone())
    });
    found
}

/// The title of a name as the state log spells it: readable, with U+FFFD
/// for bytes that are not UTF-8.
fn title_of(name: &str) -> String {
    match paths::decode(name) {
        Some(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        None => name.to_string(),
    }
}

/// The permission bits new bytes inherit from the file they replace: never
/// setuid, setgid, sticky or world-write (the uploader chose the bytes, not
/// the owner of the old file).
fn inherited_mode(old: &Stat) -> Mode {
    Mode::from_raw_mode(old.st_mode & 0o775)
}

impl Store for FsStore {
    fn body_spool(&self) -> io::Result<File> {
        Staged::nameless(&self.tmp)
    }

    fn metadata(&self, id: &str) -> Result<Item> {
        let (rel, st) = self.with_item(id, |rel| Ok((rel.to_string(), self.stat(rel)?)))?;
        Ok(self.item_of(id, &rel, &st))
    }

    fn list_page(&self, parent_id: &str, page: Page) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        self.list_each(parent_id, page, &mut |item| {
            items.push(item.clone());
            Ok(())
        })?;
        Ok(items)
    }

    fn list_each(&self, parent_id: &str, page: Page, each: &mut dyn FnMut(&Item) -> io::Result<()>) -> Result<()> {
        let (rel, dir, st) = self.open_folder(parent_id)?;
        let mark = indexing::mark_of(&st);
        if let Some(ix) = self.index() {
            let mut emitted = false;
            let mut emit = |rows: Vec<crate::index::Entry>| -> Result<()> {
                let fresh = self.fresh_rows(&dir, rows, false).unwrap_or_default();
                for item in self.items(fresh)? {
                    emitted = true;
                    each(&item)?;
                }
                Ok(())
            };
            match ix.each_child(&rel, mark, (page.offset, page.max), CHUNK, &mut emit) {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) if emitted => return Err(e),
                Err(e) => log::warn!("a listing reads the disk: {e}"),
            }
        }
        let kids = self.children(&rel, &dir)?;
        if self.index().is_some() {
            self.index_folder(&rel, mark, &kids);
        }
        // Sorted and cut before ids are handed out: a page of a huge folder
        // records ids for its own items only.
        for item in self.items(facts(page.of(sorted(kids))))? {
            each(&item)?;
        }
        Ok(())
    }

    fn list_sorted(&self, parent_id: &str, sort: Sort, page: Page) -> Result<(Vec<Item>, usize)> {
        let (rel, dir, st) = self.open_folder(parent_id)?;
        let mark = indexing::mark_of(&st);
        if let Some(ix) = self.index() {
            match ix.sorted_children(&rel, mark, sort, (page.offset, page.max)) {
                Ok(Some((rows, total))) => {
                    if let Some(fresh) = self.fresh_rows(&dir, rows, sort.by != Column::Name) {
                        return Ok((self.items(fresh)?, total));
                    }
                }
                Ok(None) => {}
                Err(e) => log::warn!("a sorted listing reads the disk: {e}"),
            }
        }
        let kids = self.children(&rel, &dir)?;
        if self.index().is_some() {
            // Written back, so that the next page comes from the index.
            self.index_folder(&rel, mark, &kids);
        }
        let total = kids.len();
        let sorted = sort.apply(kids, |(rel, st)| sort_key(rel, st));
        Ok((self.items(facts(page.of(sorted)))?, total))
    }

    fn ancestors(&self, id: &str) -> Result<Vec<Item>> {
        let found = self.with_item(id, |rel| {
            if rel.is_empty() {
                return Ok(None);
            }
            let mut found = Vec::new();
            // Archived items live in the state folder, which is never shown:
            // the root alone leads back.
            if paths::is_within(rel, state_dir::NAME) {
                return Ok(Some(found));
            }
            let mut at = String::new();
            let parts = paths::components(paths::parent(rel)).map_err(|_| io::Error::other("a path that cannot be"))?;
            for part in parts {
                at = paths::join(&at, part);
                found.push((at.clone(), Facts::of(&self.stat(&at)?)));
            }
            Ok(Some(found))
        })?;
        let Some(found) = found else { return Ok(Vec::new()) };
        // A folder never listed yet (reached through a search) gets its id here.
        Ok(std::iter::once(self.metadata(ROOT_ID)?).chain(self.items(found)?).collect())
    }

    fn search_page(&self, query: &str, parent_id: Option<&str>, page: Page) -> Result<Vec<Item>> {
        if let Some(ix) = self.index().filter(|ix| ix.is_ready()) {
            let under = self.with_item(parent_id.unwrap_or(ROOT_ID), |rel| {
                let st = self.stat(rel)?;
                Ok(is_dir(&st).then(|| rel.to_string()))
            })?;
            let Some(under) = under else { return Err(StoreError::Invalid("not a folder")) };
            match self.search_index(ix, query, &under, page) {
                Err(StoreError::Io(e)) => log::warn!("search walks the root: {e}"),
                other => return other,
            }
        }
        let (rel, dir) = self.with_item(parent_id.unwrap_or(ROOT_ID), |rel| {
            let st = self.stat(rel)?;
            Ok((rel.to_string(), is_dir(&st).then(|| self.beneath.open_dir(rel)).transpose()?))
        })?;
        let Some(dir) = dir else { return Err(StoreError::Invalid("not a folder")) };
        let needle = query.to_lowercase();
        let mut found = Vec::new();
        // Folders to read, each with the handle of the folder that holds
        // it, shared: a folder's own handle is opened only when its turn
        // comes, so that open files follow the depth, not the breadth.
        let mut todo: Vec<(String, Arc<OwnedFd>, Option<OsString>)> = vec![(rel, Arc::new(dir), None)];
        while let Some((rel, parent, name)) = todo.pop() {
            let dir = match name {
                None => parent,
                // A folder that vanished or cannot be read mid-walk is skipped.
                Some(name) => match rustix::fs::openat(&*parent, &name, DIR | OFlags::NOFOLLOW, Mode::empty()) {
                    Ok(fd) => Arc::new(fd),
                    Err(_) => continue,
                },
            };
            let Ok(kids) = self.children(&rel, &dir) else {
                continue;
            };
            for (child, st) in kids {
                let name = paths::file_name(&child);
                if is_dir(&st) {
                    todo.push((child.clone(), Arc::clone(&dir), Some(beneath::to_disk(name)?)));
                }
                let title = paths::decode(name).map(|b| String::from_utf8_lossy(&b).to_lowercase());
                if found.len() < MATCHES && title.is_some_and(|t| t.contains(&needle)) {
                    found.push((child, st));
                }
            }
        }
        self.items(facts(page.of(sorted(found))))
    }

    fn open(&self, id: &str) -> Result<(Item, File)> {
        // Bytes are served by id: the log is read to its end first, so that
        // an id another instance moved a moment ago never serves the file
        // that took its old name (listings may lag notification a moment).
        self.log.refresh()?;
        let (rel, file) = self.with_item(id, |rel| {
            // Non-blocking, so that a FIFO planted in the folder cannot hang
            // the worker, and never a controlling terminal; anything but a
            // plain file is refused below.
            let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY;
            let fd = self.beneath.open_at(rel, flags, Mode::empty())?;
            Ok((rel.to_string(), File::from(fd)))
        })?;
        // Describe what was opened, not what the path held a moment before.
        let st = rustix::fs::fstat(&file).map_err(io::Error::from)?;
        if !is_file(&st) {
            return Err(StoreError::Invalid("not a file"));
        }
        Ok((self.item_of(id, &rel, &st), file))
    }

    fn upload_init(&self, parent_id: &str, filename: &str, link: Option<&DocumentRef>) -> Result<Item> {
        paths::check_name(filename)?;
        let lock = self.lock()?;
        let (parent_rel, dir) = self.folder_for_write(parent_id)?;
        for n in 0..10_000 {
            let name = paths::numbered(filename, n);
            if paths::check_name(&name).is_err() {
                return Err(StoreError::BadName("no free variant of this name"));
            }
            if rustix::fs::statat(&dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW).is_ok() {
                continue;
            }
            let rel = paths::join(&parent_rel, &name);
            let id = self.log.read(|s| s.id_of(&rel).map_or_else(paths::new_id, str::to_string));
            let mut records = vec![Record::Id { id: id.clone(), path: rel.clone() }];
            if let Some(doc) = link {
                records.push(Record::Link {
                    document_id: doc.document_id.clone(),
                    version_id: doc.version_id.clone(),
                    id: id.clone(),
                });
            }
            match self.make_item(&lock, &dir, &name, &rel, records, Kind::File) {
                Ok(st) => {
                    drop(lock);
                    self.touched(&rel);
                    return Ok(self.item_of(&id, &rel, &st));
                }
                // Someone took the name since the look: the next one.
                Err(e) if errno(&e) == Some(Errno::EXIST.raw_os_error()) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Exists)
    }

    fn upload(&self, id: &str, body: &mut dyn Read) -> Result<UploadReceipt> {
        // Refuse early what would be refused at the end anyway.
        let st = self.with_item(id, |rel| self.stat(rel))?;
        if !is_file(&st) {
            return Err(StoreError::Invalid("not a file"));
        }
        // The view may be stale: another instance may have unlocked the
        // file a moment ago. Refuse only what the log says now.
        self.log.read_fresh(|s| Self::check_writable(s, id), Result::is_err)??;
        let (staged, file, receipt) = self.spool(body)?;
        // The only writer from here to the end, across instances.
        let lock = self.lock()?;
        // Resolved again under the lock: the file may have been renamed,
        // locked or deleted while the body streamed in.
        let rel = self.log.read(|s| self.path_of(s, id).and_then(|rel| Self::check_writable(s, id).map(|()| rel)))?;
        let (dir, name, st) = self.entry(&rel).map_err(not_found)?;
        if !is_file(&st) {
            return Err(StoreError::Invalid("not a file"));
        }
        rustix::fs::fchmod(&file, inherited_mode(&st)).map_err(io::Error::from)?;
        drop(file);
        // Said before the rename, so that a crash right after it leaves a
        // state that accepts the new bytes' sum as well as the old.
        let replacing = Record::Replacing { id: id.to_string(), sha256: receipt.sha256.clone() };
        self.log.append(&lock, &[replacing], true)?;
        // A rename over the name: another hard link to the old bytes keeps
        // them, whatever the new ones are.
        staged.place(dir.as_fd(), &name, RenameFlags::empty())?;
        // The bytes are in place: this upload happened, and a failure to
        // sync the folder or to write the checksum record does not undo
        // that (a rename over a name cannot be taken back whole). The next
        // checksum accepts the new sum meanwhile.
        if let Err(e) = rustix::fs::fsync(&dir) {
            log::warn!("upload of {id}: the bytes are in place, their folder could not be synced: {e}");
        }
        let settled = Record::Checksum { id: id.to_string(), sha256: Some(receipt.sha256.clone()) };
        if let Err(e) = self.log.append(&lock, &[settled], true) {
            log::warn!("upload of {id}: the bytes are in place, their checksum record is not: {e}");
        }
        drop(lock);
        if let Ok(rel) = self.log.read(|state| self.path_of(state, id)) {
            self.touched(&rel);
        }
        Ok(receipt)
    }

    fn create_folder(&self, parent_id: &str, name: &str) -> Result<Item> {
        paths::check_name(name)?;
        let lock = self.lock()?;
        let (parent_rel, dir) = self.folder_for_write(parent_id)?;
        let rel = paths::join(&parent_rel, name);
        if rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW).is_ok() {
            return Err(StoreError::Exists);
        }
        let id = self.log.read(|s| s.id_of(&rel).map_or_else(paths::new_id, str::to_string));
        let records = vec![Record::Id { id: id.clone(), path: rel.clone() }];
        match self.make_item(&lock, &dir, name, &rel, records, Kind::Folder) {
            Ok(st) => {
                drop(lock);
                self.touched(&rel);
                Ok(self.item_of(&id, &rel, &st))
            }
            Err(e) if errno(&e) == Some(Errno::EXIST.raw_os_error()) => Err(StoreError::Exists),
            Err(e) => Err(e),
        }
    }

    fn delete(&self, id: &str) -> Result<()> {
        paths::check_id(id)?;
        if id == ROOT_ID {
            return Err(StoreError::Invalid("the root folder cannot be deleted"));
        }
        let lock = self.lock()?;
        let rel = self.log.read(|state| {
            let rel = self.path_of(state, id)?;
            if state.locked_within(&rel) {
                return Err(StoreError::Locked);
            }
            // Archived items are read-only, like locked ones.
            if state.is_archived(id) {
                return Err(StoreError::Archived);
            }
            Ok(rel)
        })?;
        let (dir, name, st) = self.entry(&rel).map_err(not_found)?;
        // Moved aside in one rename, so that the delete is all or nothing;
        // the removal of what was moved aside can come after the commit. An
        // item on another filesystem (a mount point inside the root) is
        // removed in place instead, which a crash can leave half done.
        let bin = self.tmp.dir()?;
        let trash = OsString::from(format!("trash-{}", paths::new_id()));
        let aside = Cell::new(true);
        self.change(
            &lock,
            vec![Record::Gone { path: rel.clone() }],
            Check::Left { path: rel.clone(), dev: st.st_dev, ino: st.st_ino },
            || match rustix::fs::renameat(&dir, &name, &*bin, &trash) {
                Err(Errno::XDEV) => {
                    aside.set(false);
                    remove_tree_at(dir.as_fd(), &name)
                }
                other => Ok(other?),
            },
            |()| Ok(rustix::fs::fsync(&dir)?),
            |()| {
                if !aside.get() {
                    return Err(io::Error::other("removed in place: nothing to put back"));
                }
                rename(bin.as_fd(), &trash, dir.as_fd(), &name, RenameFlags::NOREPLACE)
            },
        )?;
        drop(lock);
        if aside.get()
            && let Err(e) = remove_tree_at(bin.as_fd(), &trash)
        {
            log::warn!("a deleted item could not be removed from the temp folder (the next start will): {e}");
        }
        self.touched(&rel);
        Ok(())
    }

    fn rename(&self, id: &str, name: &str) -> Result<()> {
        paths::check_id(id)?;
        if id == ROOT_ID {
            return Err(StoreError::Invalid("the root folder cannot be renamed"));
        }
        paths::check_name(name)?;
        let lock = self.lock()?;
        let rel = self.log.read(|state| {
            let rel = self.path_of(state, id)?;
            Self::check_writable(state, id)?;
            Ok::<_, StoreError>(rel)
        })?;
        let to = paths::join(paths::parent(&rel), name);
        if to == rel {
            return Ok(());
        }
        let (dir, old, st) = self.entry(&rel).map_err(not_found)?;
        let moved = self.change(
            &lock,
            vec![Record::Move { from: rel.clone(), to: to.clone() }],
            held_at(to.clone(), &st),
            // Never over an item that is there (someone else's file).
            || rename(dir.as_fd(), &old, dir.as_fd(), OsStr::new(name), RenameFlags::NOREPLACE),
            |()| Ok(rustix::fs::fsync(&dir)?),
            |()| rename(dir.as_fd(), OsStr::new(name), dir.as_fd(), &old, RenameFlags::NOREPLACE),
        );
        drop(lock);
        if moved.is_ok() {
            self.touched(&rel);
            self.touched(&to);
        }
        match moved {
            Err(e) if errno(&e) == Some(Errno::EXIST.raw_os_error()) => Err(StoreError::Exists),
            other => other,
        }
    }

    fn resolve_document(&self, doc: &DocumentRef) -> Result<String> {
        let linked = |state: &State| state.linked(&doc.document_id, doc.version_id.as_deref()).map(str::to_string);
        let id = self.log.read_fresh(linked, Option::is_none)?;
        id.ok_or(StoreError::NotFound("this Workfront document is not linked to a file here"))
    }

    fn link_document(&self, doc: &DocumentRef, id: &str) -> Result<()> {
        paths::check_id(id)?;
        if id == ROOT_ID {
            return Err(StoreError::NotFound("the root folder is not a document"));
        }
        // A file that is there now, not only in the state: a document
        // version is a file, never a folder (whose tree an action would
        // lock or archive).
        if !is_file(&self.with_item(id, |rel| self.stat(rel))?) {
            return Err(StoreError::NotFound("a Workfront document is a file, not a folder"));
        }
        self.log.write(&|check| self.happened(check), |state| {
            self.path_of(state, id)?;
            let records = if state.linked(&doc.document_id, doc.version_id.as_deref()) == Some(id) {
                Vec::new()
            } else {
                vec![Record::Link {
                    document_id: doc.document_id.clone(),
                    version_id: doc.version_id.clone(),
                    id: id.to_string(),
                }]
            };
            Ok::<_, StoreError>(((), records))
        })
    }

    fn set_locked(&self, id: &str, locked: bool) -> Result<()> {
        self.with_item(id, |rel| self.stat(rel))?;
        self.log.write(&|check| self.happened(check), |state| {
            let records = if state.is_locked(id) == locked {
                Vec::new()
            } else {
                vec![Record::Lock { id: id.to_string(), locked }]
            };
            Ok::<_, StoreError>(((), records))
        })
    }

    fn checksum(&self, id: &str) -> Result<ChecksumOutcome> {
        let (_, mut file) = self.open(id)?;
        let mut hasher = Sha256Hasher::default();
        io::copy(&mut file, &mut hasher)?;
        let actual = hasher.finish_hex();
        self.log.write(&|check| self.happened(check), |state| {
            let record = || vec![Record::Checksum { id: id.to_string(), sha256: Some(actual.clone()) }];
            let pending = state.replacing(id);
            match state.checksum(id) {
                None => Ok((ChecksumOutcome::Recorded(actual.clone()), record())),
                // An upload cut short by a crash is settled by what the
                // file holds: the old bytes or the new ones.
                Some(r) if r == actual || pending == Some(actual.as_str()) => Ok((
                    ChecksumOutcome::Verified(actual.clone()),
                    if pending.is_some() { record() } else { Vec::new() },
                )),
                Some(r) => Ok::<_, StoreError>((
                    ChecksumOutcome::Changed { recorded: r.to_string(), actual: actual.clone() },
                    Vec::new(),
                )),
            }
        })
    }

    fn archive(&self, id: &str) -> Result<bool> {
        paths::check_id(id)?;
        if id == ROOT_ID {
            return Err(StoreError::Invalid("the root folder cannot be archived"));
        }
        let lock = self.lock()?;
        let rel = self.log.read(|state| {
            let rel = self.path_of(state, id)?;
            if state.is_archived(id) {
                return Ok(None);
            }
            if state.locked_within(&rel) {
                return Err(StoreError::Locked);
            }
            Ok(Some(rel))
        })?;
        let Some(rel) = rel else { return Ok(false) };
        let (dir, name, st) = self.entry(&rel).map_err(not_found)?;
        let shelf = self.state_subfolder(state_dir::ARCHIVE, id)?;
        let to = state_dir::archived_path(id, paths::file_name(&rel));
        self.change(
            &lock,
            vec![Record::Move { from: rel.clone(), to: to.clone() }, Record::Archive { id: id.to_string() }],
            held_at(to, &st),
            || rename(dir.as_fd(), &name, shelf.as_fd(), &name, RenameFlags::NOREPLACE),
            |()| {
                rustix::fs::fsync(&dir)?;
                Ok(rustix::fs::fsync(&shelf)?)
            },
            |()| rename(shelf.as_fd(), &name, dir.as_fd(), &name, RenameFlags::NOREPLACE),
        )?;
        drop(lock);
        self.touched(&rel);
        Ok(true)
    }

    fn snapshot(&self, id: &str, version: &str) -> Result<()> {
        paths::check_name(version)?;
        if !version.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) || version.starts_with('.') {
            return Err(StoreError::BadName("a version id is letters, digits, '-', '_' and '.'"));
        }
        let (_, mut file) = self.open(id)?;
        let shelf = self.state_subfolder(state_dir::SNAPSHOTS, id)?;
        // A plain copy: no checksum to compute, and a failing read of our
        // own file is an I/O error, not a bad request body.
        let (staged, mut copy) = Staged::file(&self.tmp, "snapshot-", state_dir::FILE_MODE)?;
        io::copy(&mut file, &mut copy)?;
        copy.sync_all()?;
        staged.place(shelf.as_fd(), OsStr::new(version), RenameFlags::empty())?;
        rustix::fs::fsync(&shelf).map_err(io::Error::from)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

    fn store() -> (tempfile::TempDir, FsStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = FsStore::open(&dir.path().join("root")).unwrap();
        (dir, s)
    }

    /// Appends records as a writer would, for states a test sets up.
    fn write(s: &FsStore, records: Vec<Record>) {
        s.log.write(&|c| s.happened(c), |_| Ok::<_, StoreError>(((), records))).unwrap();
    }

    /// This store's own temp folder, by path.
    fn own_tmp(s: &FsStore) -> std::path::PathBuf {
        s.state_dir().tmp().join(&s.tmp.name)
    }

    /// Files in this store's own temp folder.
    fn own_temps(s: &FsStore) -> usize {
        fs::read_dir(own_tmp(s)).unwrap().count()
    }

    fn ids(items: &[Item]) -> Vec<&str> {
        items.iter().map(|i| i.title.as_str()).collect()
    }

    #[test]
    fn hand_dropped_files_get_stable_ids_and_state_stays_hidden() {
        let (_d, s) = store();
        fs::write(s.root().join("b.txt"), "b").unwrap();
        fs::create_dir(s.root().join("A")).unwrap();
        let first = s.list("/").unwrap();
        assert_eq!(ids(&first), ["A", "b.txt"]);
        assert_eq!(s.list("/").unwrap(), first);
        assert_eq!(first[1].mime_type.as_deref(), Some("text/plain"));
        assert_eq!(first[1].size, Some(1));
        assert!(s.search("wfhook", None).unwrap().is_empty());
    }

    #[test]
    fn rename_keeps_ids_for_the_item_and_its_children() {
        let (_d, s) = store();
        let folder = s.create_folder("/", "docs").unwrap();
        let file = s.upload_init(&folder.id, "a.pdf", None).unwrap();
        s.rename(&folder.id, "papers").unwrap();
        s.rename(&file.id, "b.pdf").unwrap();
        assert_eq!(s.metadata(&file.id).unwrap().title, "b.pdf");
        assert!(s.root().join("papers/b.pdf").exists());
        let again = FsStore::open(s.root()).unwrap();
        assert_eq!(again.metadata(&file.id).unwrap().title, "b.pdf");
    }

    #[test]
    fn taken_names_get_numbered_and_folders_conflict() {
        let (_d, s) = store();
        let a = s.upload_init("/", "a.pdf", None).unwrap();
        let b = s.upload_init("/", "a.pdf", None).unwrap();
        assert_eq!(b.title, "a (1).pdf");
        assert_ne!(a.id, b.id);
        s.create_folder("/", "x").unwrap();
        assert!(matches!(s.create_folder("/", "x"), Err(StoreError::Exists)));
        assert!(matches!(s.rename(&b.id, "a.pdf"), Err(StoreError::Exists)));
    }

    #[test]
    fn symlinks_never_lead_out() {
        let (d, s) = store();
        fs::write(d.path().join("secret"), "s").unwrap();
        symlink(d.path(), s.root().join("out")).unwrap();
        symlink(d.path().join("secret"), s.root().join("secret")).unwrap();
        assert!(s.list("/").unwrap().is_empty());
        // Even an id recorded for a path through a symlink resolves to nothing.
        let id = paths::new_id();
        write(&s, vec![Record::Id { id: id.clone(), path: "out/secret".into() }]);
        assert!(matches!(s.open(&id), Err(StoreError::NotFound(_))));
    }

    #[test]
    fn a_writer_waiting_for_another_instance_does_not_hold_up_readers() {
        use std::sync::{Arc, mpsc};
        let (_d, s) = store();
        let s = Arc::new(s);
        let f = s.upload_init("/", "a.txt", None).unwrap();
        // Another instance holds the writers' lock (say, stalled on a network mount).
        let other = WriterLock::take(s.state_dir()).unwrap();
        let writer = {
            let (s, id) = (Arc::clone(&s), f.id.clone());
            std::thread::spawn(move || s.set_locked(&id, true))
        };
        std::thread::sleep(Duration::from_millis(100));
        let (tx, rx) = mpsc::channel();
        {
            let (s, id) = (Arc::clone(&s), f.id.clone());
            std::thread::spawn(move || {
                let _ = tx.send((s.metadata(&id).is_ok(), s.list("/").map(|l| l.len()).ok(), s.open(&id).is_ok()));
            });
        }
        let read = rx.recv_timeout(Duration::from_secs(5));
        drop(other);
        assert_eq!(read.expect("readers waited for the writer"), (true, Some(1), true));
        writer.join().unwrap().unwrap();
        assert!(s.metadata(&f.id).unwrap().read_only, "the writer went on once the lock was free");
    }

    #[test]
    fn only_slash_names_the_root() {
        let (_d, s) = store();
        // A damaged state log that maps an ordinary id to the root's path.
        let id = paths::new_id();
        write(&s, vec![Record::Id { id: id.clone(), path: String::new() }]);
        assert!(matches!(s.rename(&id, "elsewhere"), Err(StoreError::NotFound(_))));
        assert!(matches!(s.delete(&id), Err(StoreError::NotFound(_))));
        assert!(matches!(s.archive(&id), Err(StoreError::NotFound(_))));
        assert!(s.state_dir().path().is_dir(), "the root is still there");
        assert!(s.metadata(ROOT_ID).is_ok());
    }

    #[test]
    fn upload_replaces_whole_or_not_at_all() {
        let (_d, s) = store();
        let f = s.upload_init("/", "a.bin", None).unwrap();
        let r = s.upload(&f.id, &mut &b"hello"[..]).unwrap();
        assert_eq!(r.size, 5);
        assert_eq!(fs::read(s.root().join("a.bin")).unwrap(), b"hello");
        // A body that fails part way (cut short, or past the caller's
        // limit) leaves the old bytes and no temp file.
        let mut failing = (&b"partial"[..]).chain(FailingRead);
        assert!(matches!(s.upload(&f.id, &mut failing), Err(StoreError::Body(_))));
        assert_eq!(fs::read(s.root().join("a.bin")).unwrap(), b"hello");
        assert_eq!(own_temps(&s), 0);
    }

    struct FailingRead;

    impl Read for FailingRead {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the body was cut short"))
        }
    }

    #[test]
    fn locks_refuse_writes_and_archive_hides() {
        let (_d, s) = store();
        let f = s.upload_init("/", "a.txt", None).unwrap();
        s.set_locked(&f.id, true).unwrap();
        assert!(s.metadata(&f.id).unwrap().read_only);
        assert!(matches!(s.upload(&f.id, &mut &b"x"[..]), Err(StoreError::Locked)));
        assert!(matches!(s.rename(&f.id, "b.txt"), Err(StoreError::Locked)));
        assert!(matches!(s.delete(&f.id), Err(StoreError::Locked)));
        s.set_locked(&f.id, false).unwrap();
        assert!(s.archive(&f.id).unwrap());
        assert!(!s.archive(&f.id).unwrap());
        assert!(s.list("/").unwrap().is_empty());
        assert!(s.metadata(&f.id).unwrap().read_only);
        assert!(matches!(s.upload(&f.id, &mut &b"x"[..]), Err(StoreError::Archived)));
        assert!(matches!(s.rename(&f.id, "b.txt"), Err(StoreError::Archived)));
        assert!(matches!(s.delete(&f.id), Err(StoreError::Archived)));
        assert!(s.open(&f.id).is_ok(), "still readable by id");
    }

    #[test]
    fn checksum_notices_changes_made_by_hand() {
        let (_d, s) = store();
        let f = s.upload_init("/", "a.txt", None).unwrap();
        s.upload(&f.id, &mut &b"one"[..]).unwrap();
        assert!(matches!(s.checksum(&f.id).unwrap(), ChecksumOutcome::Verified(_)));
        fs::write(s.root().join("a.txt"), "two").unwrap();
        assert!(matches!(s.checksum(&f.id).unwrap(), ChecksumOutcome::Changed { .. }));
        s.upload(&f.id, &mut &b"three"[..]).unwrap();
        assert!(matches!(s.checksum(&f.id).unwrap(), ChecksumOutcome::Verified(_)));
    }

    #[test]
    fn an_upload_cut_short_by_a_crash_verifies_with_either_bytes() {
        let (_d, s) = store();
        let f = s.upload_init("/", "a.txt", None).unwrap();
        s.upload(&f.id, &mut &b"old"[..]).unwrap();
        let sum = |b: &[u8]| {
            let mut h = Sha256Hasher::default();
            h.update(b);
            h.finish_hex()
        };
        // What a crash between the rename into place and the final
        // checksum record leaves: the pending record, and the new bytes.
        let pending = Record::Replacing { id: f.id.clone(), sha256: sum(b"new") };
        write(&s, vec![pending.clone()]);
        fs::write(s.root().join("a.txt"), "new").unwrap();
        let reopened = FsStore::open(s.root()).unwrap();
        assert!(matches!(reopened.checksum(&f.id).unwrap(), ChecksumOutcome::Verified(_)));
        // Settled: the new bytes are now the only right ones.
        fs::write(s.root().join("a.txt"), "old").unwrap();
        assert!(matches!(reopened.checksum(&f.id).unwrap(), ChecksumOutcome::Changed { .. }));
        // A crash before the rename leaves the old bytes, which verify too.
        fs::write(s.root().join("a.txt"), "new").unwrap();
        write(&s, vec![Record::Replacing { id: f.id.clone(), sha256: sum(b"newer") }]);
        assert!(matches!(s.checksum(&f.id).unwrap(), ChecksumOutcome::Verified(_)));
        fs::write(s.root().join("a.txt"), "newer").unwrap();
        assert!(matches!(s.checksum(&f.id).unwrap(), ChecksumOutcome::Changed { .. }), "settled on the old bytes");
        // A finished upload leaves nothing pending.
        s.upload(&f.id, &mut &b"last"[..]).unwrap();
        assert!(s.log.read(|st| st.replacing(&f.id).is_none()));
        assert!(matches!(s.checksum(&f.id).unwrap(), ChecksumOutcome::Verified(_)));
    }

    #[test]
    fn bad_ids_are_refused_not_resolved() {
        let (_d, s) = store();
        for bad in ["../etc/passwd", "/etc", "..", "%2e%2e%2f", "a\0b"] {
            assert!(matches!(s.metadata(bad), Err(StoreError::BadId)), "{bad}");
        }
        assert!(matches!(s.metadata("0123456789abcdef"), Err(StoreError::NotFound(_))));
        assert!(matches!(s.delete("/"), Err(StoreError::Invalid(_))));
    }

    #[test]
    fn a_change_left_unfinished_by_a_dead_writer_is_settled_by_the_disk() {
        let (_d, s) = store();
        let a = s.create_folder("/", "a").unwrap();
        let b = s.create_folder("/", "b").unwrap();
        let st = |p: &str| fs::symlink_metadata(s.root().join(p)).unwrap();
        // A writer said it would rename `a` to `a2`, did it, and died.
        let (dev, ino) = (st("a").dev(), st("a").ino());
        write(
            &s,
            vec![Record::Intent {
                n: "1".into(),
                records: vec![Record::Move { from: "a".into(), to: "a2".into() }],
                check: Check::Holds { path: "a2".into(), dev, ino },
            }],
        );
        fs::rename(s.root().join("a"), s.root().join("a2")).unwrap();
        // Another said it would rename `b` to `b2`, and died before doing it.
        let (dev, ino) = (st("b").dev(), st("b").ino());
        write(
            &s,
            vec![Record::Intent {
                n: "2".into(),
                records: vec![Record::Move { from: "b".into(), to: "b2".into() }],
                check: Check::Holds { path: "b2".into(), dev, ino },
            }],
        );
        let after = FsStore::open(s.root()).unwrap();
        assert_eq!(after.metadata(&a.id).unwrap().title, "a2", "the id follows the rename that happened");
        assert_eq!(after.metadata(&b.id).unwrap().title, "b", "and stays where the other left it");
        assert_eq!(after.log.read(|st| st.pending().count()), 0);
    }

    #[test]
    fn an_upload_never_changes_a_hard_link_or_hands_on_dangerous_modes() {
        let (d, s) = store();
        let outside = d.path().join("outside.txt");
        fs::write(&outside, "outside").unwrap();
        fs::hard_link(&outside, s.root().join("linked.txt")).unwrap();
        let linked = s.list("/").unwrap().into_iter().find(|i| i.title == "linked.txt").unwrap();
        fs::set_permissions(s.root().join("linked.txt"), fs::Permissions::from_mode(0o6777)).unwrap();
        s.upload(&linked.id, &mut &b"new"[..]).unwrap();
        assert_eq!(fs::read(&outside).unwrap(), b"outside", "the other link keeps its bytes");
        assert_eq!(fs::read(s.root().join("linked.txt")).unwrap(), b"new");
        let mode = fs::metadata(s.root().join("linked.txt")).unwrap().mode() & 0o7777;
        assert_eq!(mode, 0o775, "the old bits, less setuid, setgid, sticky and world-write");
    }

    #[test]
    fn deletes_are_whole_and_leave_no_temp_behind() {
        let (_d, s) = store();
        let folder = s.create_folder("/", "f").unwrap();
        let inner = s.create_folder(&folder.id, "g").unwrap();
        let file = s.upload_init(&inner.id, "x.txt", None).unwrap();
        symlink("/etc/passwd", s.root().join("f/g/link")).unwrap();
        s.delete(&folder.id).unwrap();
        assert!(!s.root().join("f").exists());
        assert!(fs::metadata("/etc/passwd").is_ok(), "a link inside is removed, not followed");
        for id in [&folder.id, &inner.id, &file.id] {
            assert!(matches!(s.metadata(id), Err(StoreError::NotFound(_))));
        }
        assert_eq!(own_temps(&s), 0);
    }

    #[test]
    fn start_up_removes_the_temps_of_dead_writers_only() {
        let (_d, s) = store();
        let tmp = s.state_dir().tmp();
        // A dead writer's folder: nobody holds its lock.
        fs::create_dir(tmp.join("1-dead")).unwrap();
        fs::write(tmp.join("1-dead.lock"), "").unwrap();
        fs::write(tmp.join("1-dead/upload-x"), "half").unwrap();
        // A folder without its lock, and a loose temp of an older version.
        fs::create_dir(tmp.join("2-lockless")).unwrap();
        // This store is alive: its folder stays, whatever it holds.
        fs::write(own_tmp(&s).join("upload-y"), "in flight").unwrap();
        let other = FsStore::open(s.root()).unwrap();
        assert!(!tmp.join("1-dead").exists() && !tmp.join("1-dead.lock").exists());
        assert!(!tmp.join("2-lockless").exists());
        assert!(own_tmp(&s).join("upload-y").exists());
        drop(other);
    }

    #[test]
    fn the_state_folder_is_never_an_item_under_any_name() {
        let (_d, s) = store();
        let docs = s.create_folder("/", "docs").unwrap();
        fs::write(s.state_dir().link_secret(), "secret").unwrap();
        // Someone who may write into the root moves the state folder below
        // a folder of documents: it is neither listed nor reached there.
        fs::rename(s.state_dir().path(), s.root().join("docs/visible")).unwrap();
        assert!(s.list(&docs.id).unwrap().is_empty());
        assert!(s.search("visible", None).unwrap().is_empty() && s.search("secret", None).unwrap().is_empty());
        let id = paths::new_id();
        write(&s, vec![Record::Id { id: id.clone(), path: "docs/visible/link-secret".into() }]);
        assert!(matches!(s.open(&id), Err(StoreError::NotFound(_))));
        let folder = paths::new_id();
        write(&s, vec![Record::Id { id: folder.clone(), path: "docs/visible".into() }]);
        assert!(matches!(s.delete(&folder), Err(StoreError::NotFound(_))));
        assert!(matches!(s.rename(&folder, "x"), Err(StoreError::NotFound(_))));
        // The store keeps working through its handle meanwhile.
        assert!(s.upload_init(&docs.id, "a.txt", None).is_ok());
        assert_eq!(fs::read(s.root().join("docs/visible/link-secret")).unwrap(), b"secret");
    }

    #[test]
    fn a_fifo_is_refused_without_hanging() {
        let (_d, s) = store();
        let made = std::process::Command::new("mkfifo").arg(s.root().join("pipe")).status();
        if !made.is_ok_and(|st| st.success()) {
            return;
        }
        let pipe = s.list("/").unwrap().into_iter().find(|i| i.title == "pipe").unwrap();
        assert!(matches!(s.open(&pipe.id), Err(StoreError::Invalid(_))));
    }

    #[test]
    fn sorted_listings_from_disk_put_folders_first_and_count_everything() {
        let (_d, s) = store();
        let top = s.create_folder(ROOT_ID, "top").unwrap();
        let dir = s.root().join("top");
        for (name, bytes) in [("b.txt", 3), ("A.txt", 9), ("c.txt", 1), ("d.txt", 9)] {
            fs::write(dir.join(name), vec![b'x'; bytes]).unwrap();
        }
        fs::create_dir(dir.join("zz")).unwrap();
        let titles = |sort: Sort, page: Page| {
            let (items, total) = s.list_sorted(&top.id, sort, page).unwrap();
            assert_eq!(total, 5);
            items.into_iter().map(|i| i.title).collect::<Vec<_>>()
        };
        assert_eq!(titles(Sort::default(), Page::ALL), ["zz", "A.txt", "b.txt", "c.txt", "d.txt"]);
        assert_eq!(
            titles(Sort { by: Column::Name, descending: true }, Page::ALL),
            ["zz", "d.txt", "c.txt", "b.txt", "A.txt"]
        );
        let by_size = Sort { by: Column::Size, descending: true };
        assert_eq!(titles(by_size, Page::ALL), ["zz", "A.txt", "d.txt", "b.txt", "c.txt"]);
        assert_eq!(titles(by_size, Page { offset: 1, max: Some(2) }), ["A.txt", "d.txt"]);
        assert!(titles(by_size, Page { offset: 9, max: Some(2) }).is_empty());
        // The same order as the listing Workfront gets.
        let listed: Vec<String> = s.list(&top.id).unwrap().into_iter().map(|i| i.title).collect();
        assert_eq!(titles(Sort::default(), Page::ALL), listed);
        let file = s.list(&top.id).unwrap().into_iter().find(|i| i.title == "c.txt").unwrap();
        assert!(matches!(s.list_sorted(&file.id, Sort::default(), Page::ALL), Err(StoreError::Invalid(_))));
    }

    #[test]
    fn ancestors_lead_from_the_root_down_and_get_ids_on_the_way() {
        let (_d, s) = store();
        fs::create_dir_all(s.root().join("a/b/c")).unwrap();
        fs::write(s.root().join("a/b/c/deep.txt"), "x").unwrap();
        assert!(s.ancestors(ROOT_ID).unwrap().is_empty());
        // Found by a search, never listed: its folders get their ids here.
        let deep = s.search("deep", None).unwrap().pop().unwrap();
        let up = s.ancestors(&deep.id).unwrap();
        let titles: Vec<&str> = up.iter().map(|i| i.title.as_str()).collect();
        assert_eq!(titles, ["", "a", "b", "c"]);
        assert_eq!(up[0].id, ROOT_ID);
        assert!(up.iter().all(|i| i.kind == Kind::Folder));
        assert_eq!(s.ancestors(&up[1].id).unwrap().len(), 1);
        // And they are the ids every listing hands out.
        assert_eq!(s.list(ROOT_ID).unwrap()[0].id, up[1].id);
        assert_eq!(s.list(&up[2].id).unwrap()[0].id, up[3].id);
    }

    #[test]
    fn names_that_are_not_utf8_are_listed_and_served() {
        use std::os::unix::ffi::OsStrExt;
        let (_d, s) = store();
        let latin1 = OsStr::from_bytes(b"caf\xe9.txt");
        fs::write(s.root().join(latin1), "bytes").unwrap();
        let items = s.list("/").unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].title, "caf\u{fffd}.txt");
        let (_, mut file) = s.open(&items[0].id).unwrap();
        let mut got = String::new();
        file.read_to_string(&mut got).unwrap();
        assert_eq!(got, "bytes");
        s.rename(&items[0].id, "cafe.txt").unwrap();
        assert_eq!(fs::read(s.root().join("cafe.txt")).unwrap(), b"bytes");
    }
}
