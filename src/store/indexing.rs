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
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
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
    /// Notification about this item: its folder is read again (and the
    /// item's own children, for a folder that came).
    Item(String),
    /// wfhook changed this item: it alone is written (its folder is read
    /// from disk at its next listing).
    Touched(String),
}

/// Jobs and documents waiting at most; past it, notification falls back to
/// a whole walk, and documents to a pass over the index for those whose
/// text is wanted: memory stays bounded whatever comes.
const QUEUE: usize = 65_536;

/// The index of a store and the queues of its threads.
pub struct Indexing {
    pub index: Arc<Index>,
    jobs: SyncSender<Job>,
    texts: SyncSender<Entry>,
    /// A job was dropped (the queue was full, or notification lost events):
    /// the next cycle walks the whole root.
    rescan: Arc<AtomicBool>,
    /// A document was not queued: the text thread looks for the wanted ones.
    texts_dropped: AtomicBool,
    /// A watch could not be added (the kernel's limit): said once.
    watch_failed: AtomicBool,
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
        let (jobs_tx, jobs) = mpsc::sync_channel(QUEUE);
        let (texts_tx, texts) = mpsc::sync_channel(QUEUE);
        let rescan = Arc::new(AtomicBool::new(false));
        let indexing = Indexing {
            index: Arc::new(index),
            jobs: jobs_tx.clone(),
            texts: texts_tx,
            rescan: Arc::clone(&rescan),
            texts_dropped: AtomicBool::new(false),
            watch_failed: AtomicBool::new(false),
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
            let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                use notify::EventKind::{Access, Any, Create, Modify, Other, Remove};
                use notify::event::{AccessKind, AccessMode};
                // A walk finds what was lost; the empty job wakes the thread.
                let lost = || {
                    rescan.store(true, Ordering::SeqCst);
                    let _ = jobs_tx.try_send(Job::Item(String::new()));
                };
                let event = match event {
                    Ok(e) => e,
                    Err(_) => return lost(),
                };
                // The kernel's queue overflowed.
                if event.need_rescan() {
                    return lost();
                }
                // Opening and reading (the walk's own, a download's) change
                // nothing: only what adds, removes, renames or writes.
                match event.kind {
                    Create(_) | Remove(_) | Modify(_) | Any | Other => {}
                    Access(AccessKind::Close(AccessMode::Write)) => {}
                    Access(_) => return,
                }
                for path in event.paths {
                    if let Some(rel) = relative(&root, &path)
                        && jobs_tx.try_send(Job::Item(rel)).is_err()
                    {
                        rescan.store(true, Ordering::SeqCst);
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
            .spawn(move || {
                let jobs = Mutex::new(jobs);
                keep_going("the index", || store.keep_index(&jobs.lock().unwrap_or_else(|p| p.into_inner()), every))
            })
            .map_err(|e| e.to_string())?;
        let store = Arc::clone(self);
        std::thread::Builder::new()
            .name("wfhook-index-text".into())
            .spawn(move || {
                let texts = Mutex::new(texts);
                keep_going("document text", || store.extract_texts(&texts.lock().unwrap_or_else(|p| p.into_inner())))
            })
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
    fn keep_index(&self, jobs: &Receiver<Job>, every: Duration) {
        let indexing = self.indexing_ref();
        let ix = &indexing.index;
        if !ix.is_ready() {
            let started = Instant::now();
            let n = self.walk("", true);
            ix.set_ready();
            log::info!(
                "index ready: {n} items in {} ms ({} bytes on disk)",
                started.elapsed().as_millis(),
                ix.disk_bytes()
            );
            self.words_ready_when_done();
        }
        let mut next_walk = Instant::now() + every;
        loop {
            let wait = next_walk.saturating_duration_since(Instant::now());
            let first = match jobs.recv_timeout(wait) {
                Ok(job) => Some(job),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            if first.is_none() || indexing.rescan.swap(false, Ordering::SeqCst) {
                let n = self.walk("", true);
                log::debug!("index: walked {n} items");
                next_walk = Instant::now() + every;
                continue;
            }
            let Some(first) = first else { continue };
            // A burst of events (a folder copied in) is read once per folder.
            std::thread::sleep(Duration::from_millis(20));
            let (mut folders, mut items) = (BTreeSet::new(), BTreeSet::new());
            for job in std::iter::once(first).chain(jobs.try_iter()) {
                match job {
                    Job::Item(rel) => items.insert(rel),
                    // A folder wfhook made or moved: its tree.
                    Job::Touched(rel) => folders.insert(rel),
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
        let ix = &self.indexing_ref().index;
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
            // Watched before it is read: what comes after the read sends an
            // event, what came before is in the read.
            self.watch(&rel);
            let (Ok(st), Ok(kids)) = (rustix::fs::fstat(&dir), self.children(&rel, &dir)) else { continue };
            n += kids.len() as u64;
            let Some(new_folders) = self.index_folder(&rel, mark_of(&st), &kids) else { continue };
            if all {
                todo.extend(kids.into_iter().filter(|(_, st)| is_dir(st)).map(|(p, _)| p));
            } else {
                todo.extend(new_folders);
            }
        }
        n
    }

    /// Writes the children of folder `rel`, read from disk while it looked
    /// like `mark`, and queues the files new or changed for their text;
    /// answers the folders new to the index (`None` when it failed).
    pub(super) fn index_folder(&self, rel: &str, mark: FolderMark, kids: &[(String, Stat)]) -> Option<Vec<String>> {
        let entries: Vec<Entry> = kids.iter().map(|(p, st)| entry_of(p, st)).collect();
        match self.indexing_ref().index.set_children(rel, settled(mark), &entries) {
            Ok(changes) => {
                let by_path: HashMap<&str, &Entry> = entries.iter().map(|e| (e.path.as_str(), e)).collect();
                for path in &changes.files {
                    if let Some(e) = by_path.get(path.as_str()) {
                        self.queue_text(e);
                    }
                }
                Some(changes.new_folders)
            }
            Err(e) => {
                log::warn!("index: cannot write a folder's children: {e}");
                None
            }
        }
    }

    /// Watches folder `rel` (never the state folder) for changes.
    fn watch(&self, rel: &str) {
        let indexing = self.indexing_ref();
        let mut watcher = indexing.watcher.lock().unwrap_or_else(|p| p.into_inner());
        let Some(w) = watcher.as_mut() else { return };
        let Ok(disk) = super::beneath::to_disk(rel) else { return };
        let path = if rel.is_empty() { self.root.clone() } else { self.root.join(disk) };
        use notify::Watcher;
        if let Err(e) = w.watch(&path, notify::RecursiveMode::NonRecursive)
            && !indexing.watch_failed.swap(true, Ordering::SeqCst)
        {
            log::warn!(
                "index: a folder cannot be watched ({e}; see fs.inotify.max_user_watches): changes there are found by \
                 the walk every --index-reconcile"
            );
        }
    }

    /// Queues a file for text extraction when it is text-like and its text
    /// is not held for this size and date.
    fn queue_text(&self, e: &Entry) {
        let indexing = self.indexing_ref();
        if !e.is_dir && extract::kind_of(&e.title).is_some() && indexing.index.wants_text(e) {
            indexing.queued.fetch_add(1, Ordering::SeqCst);
            if indexing.texts.try_send(e.clone()).is_err() {
                indexing.queued.fetch_sub(1, Ordering::SeqCst);
                indexing.texts_dropped.store(true, Ordering::SeqCst);
            }
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
    fn extract_texts(&self, texts: &Receiver<Entry>) {
        let indexing = self.indexing_ref();
        let ix = &indexing.index;
        let limits = extract::Limits::default();
        let mut full = false;
        // Plain text first: it takes microseconds, where a PDF takes a
        // process; a share full of PDFs must not hold back its notes.
        let (mut cheap, mut costly) = (std::collections::VecDeque::new(), std::collections::VecDeque::new());
        loop {
            for e in texts.try_iter() {
                match extract::kind_of(&e.title) {
                    Some(extract::Kind::Pdf | extract::Kind::Docx | extract::Kind::Xlsx | extract::Kind::Pptx) => {
                        costly.push_back(e)
                    }
                    _ => cheap.push_back(e),
                }
            }
            let e = match cheap.pop_front().or_else(|| costly.pop_front()) {
                Some(e) => e,
                None if indexing.texts_dropped.swap(false, Ordering::SeqCst) => {
                    self.catch_up_texts(ix, &limits, &mut full);
                    continue;
                }
                None => match texts.recv_timeout(Duration::from_secs(1)) {
                    Ok(e) => e,
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => return,
                },
            };
            self.read_text(ix, &e, &limits, &mut full);
            indexing.queued.fetch_sub(1, Ordering::SeqCst);
            self.words_ready_when_done();
        }
    }

    /// Reads the text of every document the index wants it for, found in
    /// the index itself (when the queue was too full to hold them all).
    fn catch_up_texts(&self, ix: &Index, limits: &extract::Limits, full: &mut bool) {
        let mut after = 0;
        loop {
            let batch = match ix.wanted_texts(after, 500) {
                Ok(batch) => batch,
                Err(e) => return log::warn!("index: cannot look for documents to read: {e}"),
            };
            let Some((last, _)) = batch.last() else { return };
            after = *last;
            for (_, e) in batch {
                if extract::kind_of(&e.title).is_some() {
                    self.read_text(ix, &e, limits, full);
                }
            }
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
    /// moved away or removed), once the writers' lock is released: the item
    /// at once, so that a search sees it; a folder's tree (a folder renamed
    /// with what is in it) by the index thread, a moment later.
    pub(super) fn touched(&self, rel: &str) {
        let Some(indexing) = self.indexing.get() else { return };
        if self.write_one(rel) && indexing.jobs.try_send(Job::Touched(rel.to_string())).is_err() {
            indexing.rescan.store(true, Ordering::SeqCst);
        }
    }

    /// Writes the one item at `rel` as it is now (or forgets it); answers
    /// whether it is a folder, whose tree is still to walk.
    fn write_one(&self, rel: &str) -> bool {
        let indexing = self.indexing_ref();
        match self.look(rel) {
            Ok(Some(st)) => {
                let e = entry_of(rel, &st);
                if let Ok(true) = indexing.index.set_entry(paths::parent(rel), &e) {
                    self.queue_text(&e);
                }
                e.is_dir
            }
            Ok(None) => {
                let _ = indexing.index.remove(rel);
                false
            }
            Err(_) => false,
        }
    }
}

/// Runs a background thread's body again if it panics: the index must not
/// stop being kept because of one bad file.
fn keep_going(what: &str, body: impl Fn()) {
    loop {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(&body)) {
            Ok(()) => return,
            Err(_) => {
                log::error!("{what} thread failed; it starts again in a second");
                std::thread::sleep(Duration::from_secs(1));
            }
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
        mtime_ns: nanos(st.st_mtime, st.st_mtime_nsec),
    }
}

/// A stat's seconds and nanoseconds as nanoseconds, saturated: a date
/// past 2262 (a share may hold one) is the latest one, never an overflow.
fn nanos(secs: i64, nsecs: u64) -> i64 {
    let exact = crate::store::stat_nanos(secs, nsecs as i64);
    exact.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// How long after a folder's last change its mark is trusted: two changes
/// within one tick of a coarse clock (a second or two on some network
/// filesystems) leave the same date, so a mark that recent could hide the
/// second one (git's "racily clean" rule).
const SETTLE_NS: i64 = 2_000_000_000;

/// `mark` when the folder has been quiet long enough to trust it.
pub(super) fn settled(mark: FolderMark) -> Option<FolderMark> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos().min(i64::MAX as u128) as i64);
    (now - mark.mtime_ns.max(mark.ctime_ns) >= SETTLE_NS).then_some(mark)
}

/// What a folder looks like now, to tell later whether it changed.
pub(super) fn mark_of(st: &Stat) -> FolderMark {
    FolderMark {
        mtime_ns: nanos(st.st_mtime, st.st_mtime_nsec),
        ctime_ns: nanos(st.st_ctime, st.st_ctime_nsec),
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
