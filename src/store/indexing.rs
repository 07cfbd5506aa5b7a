//! Keeping the index (see [`crate::index`]) current with the root: the
//! walk at start, the re-walk every `--index-reconcile` (for shares where
//! notification is blind: NFS, another instance's writes), change
//! notification on every folder but the state folder, wfhook's own writes,
//! and the extraction of text for full-text search, each on a background
//! thread of its own, so that requests never wait for them.
//!
//! A child module of the folder store: it reads the root only through the
//! store's handles (`children`, `look`), as every request does.

use std::collections::{BTreeSet, HashMap};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustix::fs::Stat;

use super::{FsStore, is_dir, paths};
use crate::extract;
use crate::index::{Entry, FolderMark, Index};
use crate::state_dir;

/// How the index is kept, as `serve` was told.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexSettings {
    /// The database file.
    pub file: PathBuf,
    /// The most bytes of text kept for full-text search.
    pub max_text_bytes: u64,
    /// How often the whole root is walked again.
    pub reconcile: Duration,
    /// Whether change notification keeps it current between walks.
    pub watch: bool,
}

/// What the indexing threads are asked to do.
enum Job {
    /// Read this folder's children again (and walk the folders new in it).
    Folder(String),
    /// Read this item again: a file changed, or a folder came (with its tree).
    Item(String),
}

/// The index of a store and the queues of its threads.
pub struct Indexing {
    pub index: Arc<Index>,
    jobs: Mutex<Sender<Job>>,
    texts: Mutex<Sender<Entry>>,
    /// Documents queued for their text and not read yet.
    queued: AtomicUsize,
    /// Whether "words ready" was said.
    said: AtomicBool,
    started: Instant,
    watcher: Mutex<Option<notify::RecommendedWatcher>>,
}

impl FsStore {
    /// Opens the index and starts its threads: the walk of the root, then
    /// notification and reconciliation; listings use the index for the
    /// folders it holds exactly at once, searches once the walk is done.
    pub fn start_index(self: &Arc<Self>, settings: &IndexSettings) -> Result<(), String> {
        let index = Index::open(&settings.file, settings.max_text_bytes).map_err(|e| e.to_string())?;
        let (jobs_tx, jobs) = mpsc::channel();
        let (texts_tx, texts) = mpsc::channel();
        let indexing = Indexing {
            index: Arc::new(index),
            jobs: Mutex::new(jobs_tx.clone()),
            texts: Mutex::new(texts_tx),
            queued: AtomicUsize::new(0),
            said: AtomicBool::new(false),
            started: Instant::now(),
            watcher: Mutex::new(None),
        };
        if self.indexing.set(indexing).is_err() {
            return Err("the index is started already".into());
        }
        if settings.watch {
            let root = self.root.clone();
            let tx = Mutex::new(jobs_tx);
            let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let Ok(event) = event else { return };
                let tx = tx.lock().unwrap_or_else(|p| p.into_inner());
                for path in event.paths {
                    if let Some(rel) = relative(&root, &path) {
                        let _ = tx.send(Job::Item(rel));
                    }
                }
            });
            match watcher {
                Ok(w) => *self.indexing_ref().watcher.lock().unwrap_or_else(|p| p.into_inner()) = Some(w),
                Err(e) => log::warn!("index: no change notification ({e}); the index is kept by its re-walks only"),
            }
        }
        let store = Arc::clone(self);
        let every = settings.reconcile;
        std::thread::Builder::new()
            .name("wfhook-index".into())
            .spawn(move || store.keep_index(jobs, every))
            .map_err(|e| e.to_string())?;
        let store = Arc::clone(self);
        std::thread::Builder::new()
            .name("wfhook-index-text".into())
            .spawn(move || store.extract_texts(texts))
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    fn indexing_ref(&self) -> &Indexing {
        self.indexing.get().expect("indexing started")
    }

    /// The index, once started.
    pub fn index(&self) -> Option<&Index> {
        self.indexing.get().map(|i| &*i.index)
    }

    /// The walk, then jobs as they come, and a walk again every `every`.
    fn keep_index(&self, jobs: Receiver<Job>, every: Duration) {
        let started = Instant::now();
        let n = self.walk("", true);
        let ix = &self.indexing_ref().index;
        ix.set_ready();
        log::info!(
            "index ready: {n} items in {} ms ({} bytes on disk)",
            started.elapsed().as_millis(),
            ix.disk_bytes()
        );
        self.words_ready_when_done();
        let mut next_walk = Instant::now() + every;
        loop {
            let wait = next_walk.saturating_duration_since(Instant::now());
            let first = match jobs.recv_timeout(wait) {
                Ok(job) => Some(job),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            let Some(first) = first else {
                let n = self.walk("", true);
                log::debug!("index: reconciled {n} items");
                next_walk = Instant::now() + every;
                continue;
            };
            // A burst of events (a folder copied in) is read once per folder.
            std::thread::sleep(Duration::from_millis(20));
            let (mut folders, mut items) = (BTreeSet::new(), BTreeSet::new());
            for job in std::iter::once(first).chain(jobs.try_iter()) {
                match job {
                    Job::Folder(rel) => folders.insert(rel),
                    Job::Item(rel) => items.insert(rel),
                };
            }
            for rel in items {
                folders.insert(paths::parent(&rel).to_string());
                if let Ok(Some(st)) = self.look(&rel)
                    && is_dir(&st)
                {
                    folders.insert(rel);
                }
            }
            for rel in folders {
                self.walk(&rel, false);
            }
        }
    }

    /// Writes the children of folder `start` into the index, and those of
    /// the folders below it: all of them (`all`), or only those new to the
    /// index. Answers how many items were written.
    fn walk(&self, start: &str, all: bool) -> u64 {
        let indexing = self.indexing_ref();
        let ix = &indexing.index;
        let mut todo = vec![start.to_string()];
        let mut n = 0u64;
        while let Some(rel) = todo.pop() {
            if paths::is_within(&rel, state_dir::NAME) {
                continue;
            }
            let Ok(dir) = self.beneath.open_dir(&rel) else {
                // Gone (or never a folder): its parent's next read drops it.
                if !rel.is_empty() {
                    let _ = ix.remove(&rel);
                }
                continue;
            };
            let (Ok(st), Ok(kids)) = (rustix::fs::fstat(&dir), self.children(&rel, &dir)) else { continue };
            self.watch(&rel);
            let entries: Vec<Entry> = kids.iter().map(|(p, st)| entry_of(p, st)).collect();
            n += entries.len() as u64;
            match ix.set_children(&rel, mark_of(&st), &entries) {
                Ok(changes) => {
                    let by_path: HashMap<&str, &Entry> = entries.iter().map(|e| (e.path.as_str(), e)).collect();
                    for path in &changes.files {
                        if let Some(e) = by_path.get(path.as_str()) {
                            self.queue_text(e);
                        }
                    }
                    if all {
                        todo.extend(entries.iter().filter(|e| e.is_dir).map(|e| e.path.clone()));
                    } else {
                        todo.extend(changes.new_folders);
                    }
                }
                Err(e) => log::warn!("index: cannot write a folder's children: {e}"),
            }
        }
        n
    }

    /// Watches folder `rel` (never the state folder) for changes.
    fn watch(&self, rel: &str) {
        let indexing = self.indexing_ref();
        let mut watcher = indexing.watcher.lock().unwrap_or_else(|p| p.into_inner());
        let Some(w) = watcher.as_mut() else { return };
        let Ok(disk) = super::beneath::to_disk(rel) else { return };
        let path = if rel.is_empty() { self.root.clone() } else { self.root.join(disk) };
        use notify::Watcher;
        if let Err(e) = w.watch(&path, notify::RecursiveMode::NonRecursive) {
            log::debug!("index: cannot watch a folder: {e}");
        }
    }

    /// Queues a file for text extraction when it is text-like and its text
    /// is not held for this size and date.
    fn queue_text(&self, e: &Entry) {
        let indexing = self.indexing_ref();
        if !e.is_dir && extract::kind_of(&e.title).is_some() && indexing.index.wants_text(e) {
            indexing.queued.fetch_add(1, Ordering::SeqCst);
            let _ = indexing.texts.lock().unwrap_or_else(|p| p.into_inner()).send(e.clone());
        }
    }

    /// Says, once, when the walk is done and every document it queued has
    /// been read: from then on a search finds words as well as names.
    fn words_ready_when_done(&self) {
        let indexing = self.indexing_ref();
        if indexing.index.is_ready()
            && indexing.queued.load(Ordering::SeqCst) == 0
            && !indexing.said.swap(true, Ordering::SeqCst)
        {
            log::info!(
                "index: words ready, {} bytes of document text, {} ms after start",
                indexing.index.text_bytes(),
                indexing.started.elapsed().as_millis()
            );
        }
    }

    /// Extracts the text of queued files, one at a time, each bounded in
    /// time and bytes by the extractor.
    fn extract_texts(&self, texts: Receiver<Entry>) {
        let ix = &self.indexing_ref().index;
        let limits = extract::Limits::default();
        let mut full = false;
        let indexing = self.indexing_ref();
        for e in texts {
            self.read_text(ix, &e, &limits, &mut full);
            indexing.queued.fetch_sub(1, Ordering::SeqCst);
            self.words_ready_when_done();
        }
    }

    /// Reads the text of one queued document into the index.
    fn read_text(&self, ix: &Index, e: &Entry, limits: &extract::Limits, full: &mut bool) {
        {
            if !ix.wants_text(e) {
                return;
            }
            let flags = rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY;
            let Ok(fd) = self.beneath.open_at(&e.path, flags, rustix::fs::Mode::empty()) else { return };
            match rustix::fs::fstat(fd.as_fd()) {
                Ok(st) if super::is_file(&st) => {}
                _ => return,
            }
            let text = match extract::extract(std::fs::File::from(fd), &e.title, limits) {
                Ok(text) => text,
                Err(err) => {
                    log::debug!("index: no text from a file: {err}");
                    None
                }
            };
            match ix.set_text(e, text.as_deref()) {
                Ok(false) if !*full => {
                    *full = true;
                    log::warn!(
                        "index: the text of documents reached --index-max-bytes ({} bytes held); more documents \
                         are searched by name only",
                        ix.text_bytes()
                    );
                }
                Ok(_) => {}
                Err(err) => log::warn!("index: cannot write a document's text: {err}"),
            }
        }
    }

    /// Tells the index about a change wfhook made at `rel` (made, changed,
    /// moved away or removed), at once, so that a search sees it.
    pub(super) fn touched(&self, rel: &str) {
        let Some(indexing) = self.indexing.get() else { return };
        match self.look(rel) {
            Ok(Some(st)) => {
                let e = entry_of(rel, &st);
                if let Ok(true) = indexing.index.set_entry(paths::parent(rel), &e) {
                    self.queue_text(&e);
                }
                if e.is_dir {
                    let _ = indexing.jobs.lock().unwrap_or_else(|p| p.into_inner()).send(Job::Folder(e.path));
                }
            }
            Ok(None) => {
                let _ = indexing.index.remove(rel);
            }
            Err(_) => {}
        }
    }
}

/// The index's entry for an item found at `rel`.
pub(super) fn entry_of(rel: &str, st: &Stat) -> Entry {
    Entry {
        path: rel.to_string(),
        title: super::title_of(paths::file_name(rel)),
        is_dir: is_dir(st),
        size: if is_dir(st) { 0 } else { st.st_size.max(0) as u64 },
        mtime_ns: st.st_mtime * 1_000_000_000 + st.st_mtime_nsec as i64,
    }
}

/// What a folder looks like now, to tell later whether it changed.
pub(super) fn mark_of(st: &Stat) -> FolderMark {
    FolderMark {
        mtime_ns: st.st_mtime * 1_000_000_000 + st.st_mtime_nsec as i64,
        ctime_ns: st.st_ctime * 1_000_000_000 + st.st_ctime_nsec as i64,
        ino: st.st_ino,
    }
}

/// The state log's spelling of `path` below `root`; `None` outside it or
/// in the state folder.
fn relative(root: &std::path::Path, path: &std::path::Path) -> Option<String> {
    use std::os::unix::ffi::OsStrExt;
    let rest = path.strip_prefix(root).ok()?;
    let parts: Vec<String> = rest.iter().map(|c| paths::encode(c.as_bytes())).collect();
    if parts.first().is_some_and(|p| p == state_dir::NAME) {
        return None;
    }
    Some(parts.join("/"))
}
