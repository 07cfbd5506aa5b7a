//! What `/thumbnail` asks for: the thumbnail of an item at a width, from
//! the cache when this version of the file has one, else rendered on a
//! small pool of its own threads with a timeout (so previews never take the
//! request workers, nor more of the machine than the pool), else an icon.
//!
//! Every answer is an image: a file that cannot be previewed (a kind
//! without a renderer, a decompression bomb, a damaged or truncated file)
//! gets its kind's icon, and so does a preview the pool cannot make in
//! time — that one is not kept, and the browser is told not to keep it
//! either, so that the next look tries again.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub use super::cache::Body;
use super::cache::{Cache, Key};
use super::child;
use super::icons::{IconKind, icon};
use super::render::{self, Format, Limits, MAX_WIDTH, MIN_WIDTH, RenderError, Thumb};
use crate::state_dir::{StateDir, THUMBNAILS};
use crate::store::{Kind, Store, StoreError, stat_nanos};

/// Bumped when rendering changes, so that older thumbnails are not served.
const RENDERING: &[u8] = b"2";

/// The width when none is asked (Adobe's reference provider's).
pub const DEFAULT_WIDTH: u32 = 200;

/// How the service runs.
#[derive(Debug)]
pub struct Settings {
    /// The most bytes the cache keeps; 0: no cache.
    pub cache_bytes: u64,
    /// Threads rendering previews.
    pub workers: usize,
    /// Request threads that may wait for a preview at once; past it, a
    /// look gets the icon at once, so previews never hold every worker.
    pub max_waiting: usize,
    /// Longest a preview may take, waiting for a thread included.
    pub timeout: Duration,
    pub limits: Limits,
}

impl Settings {
    /// Half the machine's cores (at least one) render, for at most 10 s
    /// each, and at most half of the `request_workers` (at least one) wait.
    pub fn new(cache_bytes: u64, request_workers: usize) -> Settings {
        let cores = thread::available_parallelism().map_or(1, |n| n.get());
        Settings {
            cache_bytes,
            workers: cores.div_ceil(2),
            max_waiting: (request_workers / 2).max(1),
            timeout: Duration::from_secs(10),
            limits: Limits::default(),
        }
    }
}

/// A thumbnail's bytes, and whether and how long a client may keep them.
pub struct Answer {
    pub body: Body,
    pub format: Format,
    /// A strong validator of these bytes; `None` for an answer that must
    /// not be kept (a stand-in icon while the preview could not be made).
    pub etag: Option<String>,
}

/// What `/thumbnail` answers.
pub enum Outcome {
    /// 304: the client's copy (by this tag) is current.
    NotModified(String),
    Image(Answer),
}

type Job = Box<dyn FnOnce() + Send>;

pub struct Thumbnails {
    cache: Option<Cache>,
    jobs: Mutex<Option<SyncSender<Job>>>,
    timeout: Duration,
    limits: Arc<Limits>,
    /// Request threads waiting for a preview now, and the most allowed.
    waiting: AtomicUsize,
    max_waiting: usize,
}

impl Thumbnails {
    /// The service, with its cache in `state`'s thumbnail folder (unless
    /// `settings.cache_bytes` is 0) and its threads started.
    pub fn start(state: &StateDir, settings: Settings) -> std::io::Result<Thumbnails> {
        let cache = match settings.cache_bytes {
            0 => None,
            n => Some(Cache::open(state.subfolder(THUMBNAILS)?, n)?),
        };
        Thumbnails::with_cache(cache, settings)
    }

    fn with_cache(cache: Option<Cache>, settings: Settings) -> std::io::Result<Thumbnails> {
        // Jobs wait while this many are queued per thread; past that a
        // look gets the icon at once rather than a place in a long line.
        let (tx, rx) = mpsc::sync_channel::<Job>(settings.workers * 8);
        let rx = Arc::new(Mutex::new(rx));
        for n in 0..settings.workers {
            let rx: Arc<Mutex<Receiver<Job>>> = Arc::clone(&rx);
            thread::Builder::new().name(format!("wfhook-thumb-{n}")).spawn(move || {
                loop {
                    // The lock is held only while waiting for the next job.
                    let job = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            })?;
        }
        Ok(Thumbnails {
            cache,
            jobs: Mutex::new(Some(tx)),
            timeout: settings.timeout,
            limits: Arc::new(settings.limits),
            waiting: AtomicUsize::new(0),
            max_waiting: settings.max_waiting,
        })
    }

    /// The thumbnail of item `id`, `width` pixels wide (already clamped),
    /// or 304 when `if_none_match` lists its tag.
    pub fn answer(
        &self,
        store: &dyn Store,
        id: &str,
        width: u32,
        if_none_match: Option<&str>,
    ) -> Result<Outcome, StoreError> {
        let (item, file) = match store.open(id) {
            Ok(opened) => opened,
            // A folder (or a FIFO or socket someone put there): its icon.
            Err(StoreError::Invalid(_)) => {
                let kind = match store.metadata(id)?.kind {
                    Kind::Folder => IconKind::Folder,
                    Kind::File => IconKind::Other,
                };
                return Ok(self.icon(kind, width, if_none_match));
            }
            Err(e) => return Err(e),
        };
        // The version of the very bytes opened, whatever the path holds now.
        let meta = file.metadata().map_err(StoreError::Io)?;
        let mtime_ns = stat_nanos(meta.mtime(), meta.mtime_nsec());
        // The change time too: a modification time can be set back by
        // anyone who may write the file, the change time cannot.
        let ctime_ns = stat_nanos(meta.ctime(), meta.ctime_nsec());
        let key = Key::of(&[
            b"file",
            RENDERING,
            id.as_bytes(),
            &width.to_le_bytes(),
            &meta.dev().to_le_bytes(),
            &meta.ino().to_le_bytes(),
            &meta.size().to_le_bytes(),
            &mtime_ns.to_le_bytes(),
            &ctime_ns.to_le_bytes(),
        ]);
        if let Some(tag) = listed(if_none_match, &key) {
            return Ok(Outcome::NotModified(tag));
        }
        if let Some(hit) = self.cached(&key) {
            return Ok(Outcome::Image(hit));
        }
        let hint = IconKind::of(false, &item.title, item.mime_type.as_deref());
        // Most files are no picture at all: known from their first bytes
        // here, without a place on the pool.
        let mut magic = [0u8; 16];
        let n = std::os::unix::fs::FileExt::read_at(&file, &mut magic, 0).unwrap_or(0);
        if !render::previewable(&magic[..n], hint) {
            return Ok(self.icon(hint, width, if_none_match));
        }
        match self.render(file, hint, width) {
            Ok(preview) => Ok(Outcome::Image(self.keep(&key, preview))),
            Err(RenderError::Unsupported) => Ok(self.icon(hint, width, if_none_match)),
            // The same bytes will fail again: the icon is kept under this
            // version, so a hostile file costs one attempt.
            Err(e @ (RenderError::TooLarge | RenderError::Damaged(_))) => {
                log::info!("thumbnail of {id}: {e}; answered the {} icon", hint.label());
                Ok(Outcome::Image(self.keep(&key, icon(hint, width))))
            }
            // Busy, not kept. A folder page of a hundred pictures may see
            // many of these at once, and they resolve themselves.
            Err(e) => {
                match e {
                    RenderError::Timeout => {
                        log::info!("thumbnail of {id}: no preview in time; answered the {} icon for now", hint.label())
                    }
                    e => log::warn!("thumbnail of {id}: {e}; answered the {} icon for now", hint.label()),
                }
                let thumb = icon(hint, width);
                Ok(Outcome::Image(Answer { format: thumb.format, body: Body::Bytes(thumb.bytes), etag: None }))
            }
        }
    }

    /// The icon of `kind` at `width`, kept once for every item of the kind.
    fn icon(&self, kind: IconKind, width: u32, if_none_match: Option<&str>) -> Outcome {
        let key = Key::of(&[b"icon", RENDERING, kind.label().as_bytes(), &width.to_le_bytes()]);
        if let Some(tag) = listed(if_none_match, &key) {
            return Outcome::NotModified(tag);
        }
        match self.cached(&key) {
            Some(hit) => Outcome::Image(hit),
            None => Outcome::Image(self.keep(&key, icon(kind, width))),
        }
    }

    fn cached(&self, key: &Key) -> Option<Answer> {
        let body = self.cache.as_ref()?.get(key)?;
        let mut magic = [0u8; 8];
        let format = match body.head(&mut magic) {
            8 if magic == *b"\x89PNG\r\n\x1a\n" => Format::Png,
            8 if magic.starts_with(&[0xff, 0xd8, 0xff]) => Format::Jpeg,
            // Not one of ours (cut short by a full disk): rendered again.
            _ => return None,
        };
        Some(Answer { body, format, etag: Some(tag(key)) })
    }

    /// Answers `thumb` under `key`, and keeps it when there is a cache.
    fn keep(&self, key: &Key, thumb: Thumb) -> Answer {
        if let Some(cache) = &self.cache
            && let Err(e) = cache.put(key, &thumb.bytes)
        {
            log::warn!("thumbnail cache: cannot keep a thumbnail: {e}");
        }
        Answer { format: thumb.format, body: Body::Bytes(thumb.bytes), etag: Some(tag(key)) }
    }

    /// A preview of `file` made on the pool, waited for until the timeout
    /// (and a moment for the job to say how it ended). A job that had its
    /// time and still ran out is the file's doing: `Damaged`, so that its
    /// icon is kept and the file costs one attempt; one that waited in a
    /// busy queue is only `Timeout`, tried again at the next look.
    fn render(&self, file: File, hint: IconKind, width: u32) -> Result<Thumb, RenderError> {
        let waiting = self.waiting.fetch_add(1, Ordering::SeqCst);
        let _waited = Waiting(&self.waiting);
        if waiting >= self.max_waiting {
            return Err(RenderError::Timeout);
        }
        let deadline = Instant::now() + self.timeout;
        let timeout = self.timeout;
        let (tx, rx) = mpsc::sync_channel(1);
        let limits = Arc::clone(&self.limits);
        let job: Job = Box::new(move || {
            let left = deadline.saturating_duration_since(Instant::now());
            // Still waited for: a job whose caller gave up is skipped.
            let result = match left.is_zero() {
                true => Err(RenderError::Timeout),
                false => child::preview(file, hint, width, &limits, deadline),
            };
            let result = match result {
                Err(RenderError::Timeout) if left >= timeout / 2 => {
                    Err(RenderError::Damaged(format!("not done within {} s", timeout.as_secs())))
                }
                other => other,
            };
            let _ = tx.send(result);
        });
        let jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        let sent = match jobs.as_ref() {
            Some(jobs) => jobs.try_send(job),
            None => return Err(RenderError::Timeout),
        };
        drop(jobs);
        match sent {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => return Err(RenderError::Timeout),
        }
        rx.recv_timeout(self.timeout + Duration::from_secs(1)).unwrap_or(Err(RenderError::Timeout))
    }
}

/// One request thread waiting for a preview, counted until it is done.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Drop for Thumbnails {
    /// The threads end once the queue is closed and their job is done.
    fn drop(&mut self) {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

/// The `ETag` of the entry `key`.
fn tag(key: &Key) -> String {
    format!("\"{}\"", key.as_str())
}

/// The tag of `key` when the client's `If-None-Match` lists it (or `*`).
fn listed(if_none_match: Option<&str>, key: &Key) -> Option<String> {
    let tag = tag(key);
    let list = if_none_match?;
    list.split(',').map(|t| t.trim().trim_start_matches("W/")).any(|t| t == tag || t == "*").then_some(tag)
}

/// `size` as `/thumbnail` takes it: a whole number, clamped to 16–2048;
/// the default when absent. `None`: not a whole number.
pub fn width(size: Option<&str>) -> Option<u32> {
    let Some(size) = size.map(str::trim).filter(|s| !s.is_empty()) else { return Some(DEFAULT_WIDTH) };
    if !size.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Digits past u32 are a width past the largest.
    Some(size.parse::<u32>().unwrap_or(MAX_WIDTH).clamp(MIN_WIDTH, MAX_WIDTH))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_are_whole_numbers_clamped() {
        assert_eq!(width(None), Some(200));
        assert_eq!(width(Some("")), Some(200));
        assert_eq!(width(Some("64")), Some(64));
        assert_eq!(width(Some("1")), Some(16));
        assert_eq!(width(Some("0")), Some(16));
        assert_eq!(width(Some("5000")), Some(2048));
        assert_eq!(width(Some("99999999999999999999999")), Some(2048));
        for bad in ["-5", "20.5", "1e3", "abc", "0x10", "+64"] {
            assert_eq!(width(Some(bad)), None, "{bad}");
        }
    }

    #[test]
    fn tags_are_matched_as_listed() {
        let k = Key::of(&[b"k"]);
        let t = tag(&k);
        assert_eq!(listed(Some(&t), &k), Some(t.clone()));
        assert_eq!(listed(Some(&format!("\"other\", W/{t}")), &k), Some(t.clone()));
        assert_eq!(listed(Some("*"), &k), Some(t.clone()));
        assert_eq!(listed(Some("\"other\""), &k), None);
        assert_eq!(listed(None, &k), None);
    }

    #[test]
    fn a_full_pool_answers_at_once() {
        let settings = Settings {
            cache_bytes: 0,
            workers: 1,
            max_waiting: 8,
            timeout: Duration::from_secs(600),
            limits: Limits::default(),
        };
        let t = Thumbnails::with_cache(None, settings).unwrap();
        // The one thread waits on a job that never ends before the test does.
        let (hold, held) = mpsc::channel::<()>();
        let jobs = t.jobs.lock().unwrap().clone().unwrap();
        jobs.send(Box::new(move || {
            let _ = held.recv();
        }))
        .unwrap();
        for _ in 0..8 {
            jobs.send(Box::new(|| {})).unwrap();
        }
        let file = tempfile::tempfile().unwrap();
        let started = Instant::now();
        assert!(matches!(t.render(file, IconKind::Image, 64), Err(RenderError::Timeout)));
        assert!(started.elapsed() < Duration::from_secs(60), "answered without waiting");
        drop(hold);
    }
}
