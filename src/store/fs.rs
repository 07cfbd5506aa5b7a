//! The folder backend: the browse tree is the folder tree and files keep
//! their names on disk, so people and other tools can share the folder.
//!
//! Safety rules: an id resolves only through the state log, every component
//! of the resulting path is checked (no `..`, no symlink anywhere on the way),
//! and the state folder is reachable only for archived items. Writes go to a
//! temp file in the state folder, are synced, and renamed into place.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use super::paths;
use super::state::{Record, State, StateLog, WriterLock};
use super::{ChecksumOutcome, DocumentRef, Item, Kind, ROOT_ID, Result, Store, StoreError, UploadReceipt};
use crate::crypto::Sha256Hasher;
use crate::state_dir::{self, StateDir};

/// Search answers stop here; Workfront shows no more than this anyway.
pub const SEARCH_LIMIT: usize = 1000;
/// Temp files older than this were left by a crash (a live upload keeps
/// writing its own), so start-up removes them.
const STALE_TMP: Duration = Duration::from_secs(3600);

pub struct FsStore {
    root: PathBuf,
    state_dir: StateDir,
    log: Mutex<StateLog>,
}

impl FsStore {
    /// Opens the store on `root`, creating the folder and its state folder.
    pub fn open(root: &Path) -> io::Result<FsStore> {
        fs::create_dir_all(root)?;
        let root = root.canonicalize()?;
        let state_dir = StateDir::of_root(&root);
        state_dir.create()?;
        remove_stale_temps(&state_dir.tmp());
        let log = StateLog::open(&state_dir)?;
        Ok(FsStore { root, state_dir, log: Mutex::new(log) })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The hidden folder holding the store's state, the journal and secrets.
    pub fn state_dir(&self) -> &StateDir {
        &self.state_dir
    }

    fn log(&self) -> MutexGuard<'_, StateLog> {
        // A panic while holding the lock leaves the log as consistent as the
        // disk is, so a poisoned lock is still usable.
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// [`StateLog::write`], waiting for the writers' lock before taking the
    /// mutex: a writer stuck behind another instance (or a hung action
    /// behind one) must not hold up every reader of this process.
    fn write<T>(&self, f: impl FnOnce(&State) -> Result<(T, Vec<Record>)>) -> Result<T> {
        let lock = WriterLock::take(&self.state_dir)?;
        self.log().write_locked(&lock, f)
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
        paths::components(rel)?;
        // The state folder is never reachable by id, but for the archive.
        if paths::is_within(rel, state_dir::NAME) && !(state_dir::in_archive(rel) && state.is_archived(id)) {
            return Err(StoreError::NotFound("no item has this id"));
        }
        Ok(rel.to_string())
    }

    /// The absolute path of a checked relative path, refusing any symlink on
    /// the way so that nothing inside the root can lead outside it.
    fn abs(&self, rel: &str) -> Result<(PathBuf, fs::Metadata)> {
        let mut p = self.root.clone();
        let mut meta = fs::symlink_metadata(&p)?;
        for c in paths::components(rel)? {
            p.push(c);
            meta = match fs::symlink_metadata(&p) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(StoreError::NotFound("no item has this id"));
                }
                Err(e) => return Err(e.into()),
            };
            if meta.file_type().is_symlink() {
                return Err(StoreError::NotFound("no item has this id"));
            }
        }
        Ok((p, meta))
    }

    /// Resolves an id to (relative path, absolute path, metadata).
    fn resolve(&self, id: &str) -> Result<(String, PathBuf, fs::Metadata)> {
        let rel = {
            let mut log = self.log();
            let state = log.refresh()?;
            self.path_of(state, id)?
        };
        let (abs, meta) = self.abs(&rel)?;
        Ok((rel, abs, meta))
    }

    fn resolve_file(&self, id: &str) -> Result<(String, PathBuf, fs::Metadata)> {
        let r = self.resolve(id)?;
        if !r.2.is_file() {
            return Err(StoreError::Invalid("not a file"));
        }
        Ok(r)
    }

    fn resolve_folder(&self, id: &str) -> Result<(String, PathBuf)> {
        let (rel, abs, meta) = self.resolve(id)?;
        if !meta.is_dir() {
            return Err(StoreError::Invalid("not a folder"));
        }
        Ok((rel, abs))
    }

    /// Refuses changes to a locked or archived item.
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
    fn items(&self, found: Vec<(String, fs::Metadata)>) -> Result<Vec<Item>> {
        let unknown = {
            let mut log = self.log();
            let state = log.refresh()?;
            found.iter().any(|(rel, _)| state.id_of(rel).is_none())
        };
        if unknown {
            self.write(|state| {
                let mut seen = std::collections::HashSet::new();
                let records = found
                    .iter()
                    .filter(|(rel, _)| state.id_of(rel).is_none() && seen.insert(rel.as_str()))
                    .map(|(rel, _)| Record::Id { id: paths::new_id(), path: rel.clone() })
                    .collect();
                Ok(((), records))
            })?;
        }
        let log = self.log();
        let state = log.state();
        Ok(found
            .into_iter()
            .filter_map(|(rel, meta)| {
                let id = state.id_of(&rel)?.to_string();
                Some(item(state, id, &rel, &meta))
            })
            .collect())
    }

    /// The item at `rel`; the root's path is `""`, so its title is empty.
    fn item_of(&self, id: &str, rel: &str, meta: &fs::Metadata) -> Item {
        item(self.log().state(), id.to_string(), rel, meta)
    }

    /// Writes `body` to a synced temp file in the state folder.
    fn spool(&self, body: &mut dyn Read) -> Result<(tempfile::NamedTempFile, UploadReceipt)> {
        let mut tmp = tempfile::Builder::new().prefix("upload-").tempfile_in(self.state_dir.tmp())?;
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
            tmp.write_all(&buf[..n])?;
        }
        tmp.as_file().sync_all()?;
        Ok((tmp, UploadReceipt { size, sha256: hasher.finish_hex() }))
    }

    fn sync_dir(path: &Path) -> io::Result<()> {
        File::open(path)?.sync_all()
    }
}

fn item(state: &State, id: String, rel: &str, meta: &fs::Metadata) -> Item {
    let name = paths::file_name(rel);
    let kind = if meta.is_dir() { Kind::Folder } else { Kind::File };
    Item {
        read_only: state.is_locked(&id) || state.is_archived(&id),
        id,
        title: name.to_string(),
        kind,
        size: (kind == Kind::File).then_some(meta.len()),
        modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        mime_type: (kind == Kind::File)
            .then(|| mime_guess::from_path(name).first_or_octet_stream().essence_str().to_string()),
    }
}

/// The children of a folder worth showing: no symlinks, no names that are
/// not UTF-8, never the state folder.
fn children(rel: &str, abs: &Path) -> io::Result<Vec<(String, fs::Metadata)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(abs)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if rel.is_empty() && name == state_dir::NAME {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        if meta.file_type().is_symlink() || name.contains('\\') {
            continue;
        }
        out.push((paths::join(rel, &name), meta));
    }
    Ok(out)
}

fn remove_stale_temps(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let old = e.metadata().and_then(|m| m.modified()).is_ok_and(|t| t.elapsed().unwrap_or_default() > STALE_TMP);
        if old {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Folders first, then by title ignoring case, then by title. Each title is
/// lower-cased once, not once per comparison.
fn sort_folders_first(items: &mut [Item]) {
    items.sort_by_cached_key(|i| (i.kind != Kind::Folder, i.title.to_lowercase(), i.title.clone()));
}

impl Store for FsStore {
    fn metadata(&self, id: &str) -> Result<Item> {
        let (rel, _, meta) = self.resolve(id)?;
        Ok(self.item_of(id, &rel, &meta))
    }

    fn list(&self, parent_id: &str) -> Result<Vec<Item>> {
        let (rel, abs) = self.resolve_folder(parent_id)?;
        let mut items = self.items(children(&rel, &abs)?)?;
        sort_folders_first(&mut items);
        Ok(items)
    }

    fn search(&self, query: &str, parent_id: Option<&str>) -> Result<Vec<Item>> {
        let (rel, abs) = self.resolve_folder(parent_id.unwrap_or(ROOT_ID))?;
        let needle = query.to_lowercase();
        let mut found = Vec::new();
        let mut todo = vec![(rel, abs)];
        while let Some((rel, abs)) = todo.pop() {
            // A folder that vanished or cannot be read mid-walk is skipped.
            let Ok(kids) = children(&rel, &abs) else {
                continue;
            };
            for (child, meta) in kids {
                if meta.is_dir() {
                    todo.push((child.clone(), abs.join(paths::file_name(&child))));
                }
                if found.len() < SEARCH_LIMIT && paths::file_name(&child).to_lowercase().contains(&needle) {
                    found.push((child, meta));
                }
            }
        }
        let mut items = self.items(found)?;
        sort_folders_first(&mut items);
        Ok(items)
    }

    fn open(&self, id: &str) -> Result<(Item, File)> {
        let (rel, abs, meta) = self.resolve_file(id)?;
        let file = File::open(&abs)?;
        // Describe what was opened, not what the path held a moment before.
        let meta = file.metadata().unwrap_or(meta);
        Ok((self.item_of(id, &rel, &meta), file))
    }

    fn upload_init(&self, parent_id: &str, filename: &str, link: Option<&DocumentRef>) -> Result<Item> {
        paths::check_name(filename)?;
        let (parent_rel, parent_abs) = self.resolve_folder(parent_id)?;
        let (id, rel) = self.write(|state| {
            for n in 0..10_000 {
                let name = paths::numbered(filename, n);
                if paths::check_name(&name).is_err() {
                    return Err(StoreError::BadName("no free variant of this name"));
                }
                match OpenOptions::new().write(true).create_new(true).open(parent_abs.join(&name)) {
                    Ok(_) => {
                        let rel = paths::join(&parent_rel, &name);
                        let id = state.id_of(&rel).map_or_else(paths::new_id, str::to_string);
                        let mut records = vec![Record::Id { id: id.clone(), path: rel.clone() }];
                        if let Some(doc) = link {
                            records.push(Record::Link {
                                document_id: doc.document_id.clone(),
                                version_id: doc.version_id.clone(),
                                id: id.clone(),
                            });
                        }
                        return Ok(((id, rel), records));
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            Err(StoreError::Exists)
        })?;
        let (_, meta) = self.abs(&rel)?;
        Ok(self.item_of(&id, &rel, &meta))
    }

    fn upload(&self, id: &str, body: &mut dyn Read) -> Result<UploadReceipt> {
        // Refuse early what would be refused at the end anyway.
        let (_, _, meta) = self.resolve_file(id)?;
        Self::check_writable(self.log().state(), id)?;
        let (tmp, receipt) = self.spool(body)?;
        tmp.as_file().set_permissions(meta.permissions())?;
        // The only writer from here to the end, across instances.
        let lock = WriterLock::take(&self.state_dir)?;
        let abs = self.log().write_locked(&lock, |state| {
            // Re-resolve under the lock: the file may have been renamed,
            // locked or deleted while the body streamed in.
            let rel = self.path_of(state, id)?;
            Self::check_writable(state, id)?;
            let (abs, meta) = self.abs(&rel)?;
            if !meta.is_file() {
                return Err(StoreError::Invalid("not a file"));
            }
            // Said before the rename, so that a crash right after it leaves
            // a state that accepts the new bytes' sum as well as the old.
            Ok((abs, vec![Record::Replacing { id: id.to_string(), sha256: receipt.sha256.clone() }]))
        })?;
        tmp.persist(&abs).map_err(|e| StoreError::Io(e.error))?;
        let settled = vec![Record::Checksum { id: id.to_string(), sha256: Some(receipt.sha256.clone()) }];
        self.log().write_locked(&lock, |_| Ok::<_, StoreError>(((), settled)))?;
        drop(lock);
        // Durability of the rename; after the record, which a crash between
        // the two would otherwise lose.
        Self::sync_dir(abs.parent().unwrap_or(&self.root))?;
        Ok(receipt)
    }

    fn create_folder(&self, parent_id: &str, name: &str) -> Result<Item> {
        paths::check_name(name)?;
        let (parent_rel, parent_abs) = self.resolve_folder(parent_id)?;
        let rel = paths::join(&parent_rel, name);
        let id = self.write(|state| match fs::create_dir(parent_abs.join(name)) {
            Ok(()) => {
                let id = state.id_of(&rel).map_or_else(paths::new_id, str::to_string);
                Ok((id.clone(), vec![Record::Id { id, path: rel.clone() }]))
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(StoreError::Exists),
            Err(e) => Err(e.into()),
        })?;
        let (_, meta) = self.abs(&rel)?;
        Ok(self.item_of(&id, &rel, &meta))
    }

    fn delete(&self, id: &str) -> Result<()> {
        paths::check_id(id)?;
        if id == ROOT_ID {
            return Err(StoreError::Invalid("the root folder cannot be deleted"));
        }
        self.write(|state| {
            let rel = self.path_of(state, id)?;
            if state.locked_within(&rel) {
                return Err(StoreError::Locked);
            }
            // Archived items are read-only, like locked ones.
            if state.is_archived(id) {
                return Err(StoreError::Archived);
            }
            let (abs, meta) = self.abs(&rel)?;
            if meta.is_dir() {
                fs::remove_dir_all(&abs)?
            } else {
                fs::remove_file(&abs)?
            }
            Self::sync_dir(abs.parent().unwrap_or(&self.root))?;
            Ok(((), vec![Record::Gone { path: rel }]))
        })
    }

    fn rename(&self, id: &str, name: &str) -> Result<()> {
        paths::check_id(id)?;
        if id == ROOT_ID {
            return Err(StoreError::Invalid("the root folder cannot be renamed"));
        }
        paths::check_name(name)?;
        let moved = self.write(|state| {
            let rel = self.path_of(state, id)?;
            Self::check_writable(state, id)?;
            let (abs, _) = self.abs(&rel)?;
            let to = paths::join(paths::parent(&rel), name);
            if to == rel {
                return Ok((None, Vec::new()));
            }
            let dest = abs.with_file_name(name);
            if fs::symlink_metadata(&dest).is_ok() {
                return Err(StoreError::Exists);
            }
            fs::rename(&abs, &dest)?;
            Ok((Some(dest), vec![Record::Move { from: rel, to }]))
        })?;
        // Synced once the move is recorded: a crash in between would lose
        // the id, and the sync is the slow part.
        match moved {
            Some(dest) => Ok(Self::sync_dir(dest.parent().unwrap_or(&self.root))?),
            None => Ok(()),
        }
    }

    fn resolve_document(&self, doc: &DocumentRef) -> Result<String> {
        let mut log = self.log();
        let state = log.refresh()?;
        state
            .linked(&doc.document_id, doc.version_id.as_deref())
            .map(str::to_string)
            .ok_or(StoreError::NotFound("this Workfront document is not linked to a file here"))
    }

    fn set_locked(&self, id: &str, locked: bool) -> Result<()> {
        self.resolve(id)?;
        self.write(|state| {
            let records = if state.is_locked(id) == locked {
                Vec::new()
            } else {
                vec![Record::Lock { id: id.to_string(), locked }]
            };
            Ok::<_, StoreError>(((), records))
        })
    }

    fn checksum(&self, id: &str) -> Result<ChecksumOutcome> {
        let (_, abs, _) = self.resolve_file(id)?;
        let mut hasher = Sha256Hasher::default();
        io::copy(&mut File::open(abs)?, &mut hasher)?;
        let actual = hasher.finish_hex();
        self.write(|state| {
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
                Some(r) => {
                    Ok((ChecksumOutcome::Changed { recorded: r.to_string(), actual: actual.clone() }, Vec::new()))
                }
            }
        })
    }

    fn archive(&self, id: &str) -> Result<bool> {
        paths::check_id(id)?;
        if id == ROOT_ID {
            return Err(StoreError::Invalid("the root folder cannot be archived"));
        }
        let moved = self.write(|state| {
            let rel = self.path_of(state, id)?;
            if state.is_archived(id) {
                return Ok((None, Vec::new()));
            }
            if state.locked_within(&rel) {
                return Err(StoreError::Locked);
            }
            let (abs, _) = self.abs(&rel)?;
            let shelf = self.state_dir.archive_shelf(id);
            fs::create_dir_all(&shelf)?;
            let name = paths::file_name(&rel);
            fs::rename(&abs, shelf.join(name))?;
            let to = state_dir::archived_path(id, name);
            let from = abs.parent().unwrap_or(&self.root).to_path_buf();
            Ok((Some(from), vec![Record::Move { from: rel, to }, Record::Archive { id: id.to_string() }]))
        })?;
        // Synced once the move is recorded, as for a rename.
        match moved {
            Some(from) => {
                Self::sync_dir(&from)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn snapshot(&self, id: &str, version: &str) -> Result<()> {
        paths::check_name(version)?;
        if !version.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) || version.starts_with('.') {
            return Err(StoreError::BadName("a version id is letters, digits, '-', '_' and '.'"));
        }
        let (_, abs, _) = self.resolve_file(id)?;
        let dir = self.state_dir.snapshots_of(id);
        fs::create_dir_all(&dir)?;
        // A plain copy: no checksum to compute, and a failing read of our
        // own file is an I/O error, not a bad request body.
        let mut tmp = tempfile::Builder::new().prefix("snapshot-").tempfile_in(self.state_dir.tmp())?;
        io::copy(&mut File::open(abs)?, tmp.as_file_mut())?;
        tmp.as_file().sync_all()?;
        tmp.persist(dir.join(version)).map_err(|e| StoreError::Io(e.error))?;
        Self::sync_dir(&dir)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn store() -> (tempfile::TempDir, FsStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = FsStore::open(&dir.path().join("root")).unwrap();
        (dir, s)
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
        s.log()
            .write(|_| Ok::<_, StoreError>(((), vec![Record::Id { id: id.clone(), path: "out/secret".into() }])))
            .unwrap();
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
        s.log().write(|_| Ok::<_, StoreError>(((), vec![Record::Id { id: id.clone(), path: String::new() }]))).unwrap();
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
        assert_eq!(fs::read_dir(s.state_dir().tmp()).unwrap().count(), 0);
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
        s.log().write(|_| Ok::<_, StoreError>(((), vec![pending.clone()]))).unwrap();
        fs::write(s.root().join("a.txt"), "new").unwrap();
        let reopened = FsStore::open(s.root()).unwrap();
        assert!(matches!(reopened.checksum(&f.id).unwrap(), ChecksumOutcome::Verified(_)));
        // Settled: the new bytes are now the only right ones.
        fs::write(s.root().join("a.txt"), "old").unwrap();
        assert!(matches!(reopened.checksum(&f.id).unwrap(), ChecksumOutcome::Changed { .. }));
        // A crash before the rename leaves the old bytes, which verify too.
        fs::write(s.root().join("a.txt"), "new").unwrap();
        s.log()
            .write(|_| Ok::<_, StoreError>(((), vec![Record::Replacing { id: f.id.clone(), sha256: sum(b"newer") }])))
            .unwrap();
        assert!(matches!(s.checksum(&f.id).unwrap(), ChecksumOutcome::Verified(_)));
        fs::write(s.root().join("a.txt"), "newer").unwrap();
        assert!(matches!(s.checksum(&f.id).unwrap(), ChecksumOutcome::Changed { .. }), "settled on the old bytes");
        // A finished upload leaves nothing pending.
        s.upload(&f.id, &mut &b"last"[..]).unwrap();
        assert!(s.log().state().replacing(&f.id).is_none());
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
}
