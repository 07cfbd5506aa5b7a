//! The journal: one JSON line per handled request, appended to a file in the
//! root's state folder before the response goes out, and rotated so that it
//! stays bounded.
//!
//! Lines are written with a single `write` on an `O_APPEND` descriptor, so
//! concurrent workers (and a second instance sharing the root) never
//! interleave inside a line. A crash, or a write the disk cut short, can
//! leave a torn line; the reader skips any line that does not parse instead
//! of failing, and the next line written starts on a line of its own.
//! The journal is private to the state folder's owner (mode 0600).
//!
//! When the next line would take `journal.jsonl` past [`Limits::max_bytes`],
//! the writer rotates it under the state's cross-process writers' lock
//! ([`WriterLock`]): each `journal.jsonl.N` becomes `N+1` (those past
//! [`Limits::keep`] are deleted), `journal.jsonl` becomes `.1`, and a fresh
//! journal is opened. Under the lock it first checks that the name still
//! holds the file it has open; if not, another instance sharing the root
//! rotated it already, and it only opens the new file, so that a full
//! journal is rotated once. Appends take no lock: a process knows when its
//! file is full by counting what it appends, and learns of the other
//! instances' lines and rotations by looking at the name now and then (see
//! [`LOOK_EVERY_APPENDS`]). Until it looks, its lines go to the file that
//! became `.1`, where they are kept. [`Journal::tail`] reads on into the
//! rotated files.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::events::Event;
use crate::state_dir::{Access, StateDir, StateFile};
use crate::store::state::WriterLock;

/// Room for a typical line; every field of an event is clipped, so lines
/// are short.
const LINE_CAPACITY: usize = 1024;

/// How often a process looks at the journal's name, to learn of another
/// instance's rotation (the name holds another file) and of its lines (the
/// file is longer than this process wrote): every this many appends, and
/// on the first append [`LOOK_EVERY`] after the last look. One `stat` per
/// 64 lines costs next to nothing, and bounds what goes to a file another
/// instance rotated meanwhile: 64 lines, or a second's worth, all kept in
/// `.1`. Not a `stat` per line: that would double an append's system calls.
const LOOK_EVERY_APPENDS: u64 = 64;
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// When the journal rotates, and how many rotated files it keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The journal is rotated before a line would take it past this many
    /// bytes (a line longer than that still goes, alone, into a fresh one).
    pub max_bytes: u64,
    /// Rotated journals kept: `journal.jsonl.1` (the newest) to `.keep`.
    /// With 0, a full journal is deleted.
    pub keep: u32,
}

impl Default for Limits {
    /// The defaults of `--journal-max-bytes` and `--journal-keep`, whose
    /// documentation says why.
    fn default() -> Limits {
        Limits { max_bytes: 64 << 20, keep: 8 }
    }
}

/// Where journal lines go: one `write` call, which may write less than asked
/// (a full disk). A trait so that a test can fail part way through a line.
pub trait Sink: Send + Sync {
    fn write_once(&self, bytes: &[u8]) -> io::Result<usize>;
}

impl Sink for File {
    fn write_once(&self, bytes: &[u8]) -> io::Result<usize> {
        // `&File` is `Write`: one write call per line keeps lines whole.
        (&*self).write(bytes)
    }
}

pub struct Journal<S: Sink = File> {
    path: PathBuf,
    /// The file lines go to, replaced at a rotation. Workers clone it out
    /// and write after the lock is released: no write waits for another.
    current: RwLock<Arc<Current<S>>>,
    /// The last append failed, perhaps after writing part of its line: the
    /// next one starts with a newline, so that it is not glued onto the
    /// fragment.
    torn: AtomicBool,
    /// `None` for a journal over a bare sink (the tests' small disk), which
    /// never rotates.
    rotation: Option<Rotation<S>>,
}

/// One open journal file.
struct Current<S> {
    sink: S,
    /// Its inode: once the name holds another, the file was rotated.
    ino: u64,
    /// Its length as far as this process knows: its length when opened or
    /// last looked at, plus every line appended here since. A line is
    /// counted before it is written, so that workers appending at once
    /// cannot pass the limit together. A failed write stays counted: it
    /// can only make the rotation come early.
    len: AtomicU64,
}

impl Current<File> {
    fn of(file: File) -> io::Result<Current<File>> {
        let meta = file.metadata()?;
        Ok(Current { ino: meta.ino(), len: AtomicU64::new(meta.len()), sink: file })
    }
}

/// How a journal rotates, and what it needs to.
struct Rotation<S> {
    state: StateDir,
    limits: Limits,
    /// Opens the file that the journal's name holds now.
    open: fn(&StateDir) -> io::Result<Current<S>>,
    /// Appends so far, to look at the name every `look_every` of them
    /// ([`LOOK_EVERY_APPENDS`]; tests look at every append).
    appends: AtomicU64,
    look_every: u64,
    /// When the name was last looked at, in milliseconds since `started`.
    looked: AtomicU64,
    started: Instant,
    /// Held by the thread of this process that rotates: the workers that
    /// find the file full together wait for one new file, not one each.
    turn: Mutex<()>,
}

impl<S> Rotation<S> {
    /// Whether this append should look at the name first; at most one of
    /// the appends that find the second over does.
    fn look_due(&self) -> bool {
        if self.appends.fetch_add(1, Ordering::Relaxed) % self.look_every == self.look_every - 1 {
            return true;
        }
        let now = self.started.elapsed().as_millis() as u64;
        let looked = self.looked.load(Ordering::Relaxed);
        now.saturating_sub(looked) >= LOOK_EVERY.as_millis() as u64
            && self.looked.compare_exchange(looked, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }
}

/// The file the name holds now, opened to append (made if missing: another
/// instance may be between its rename and its own open).
fn open_current(state: &StateDir) -> io::Result<Current<File>> {
    Current::of(state.open_file(StateFile::Journal, Access::Append)?)
}

impl Journal {
    /// Opens (creating if needed) the journal of the state folder, through
    /// its handle, to rotate within `limits`. A torn last line left by a
    /// crash is terminated first, so that the next line starts whole
    /// instead of being glued onto the torn one.
    pub fn open(state: &StateDir, limits: Limits) -> io::Result<Journal> {
        let mut file = state.open_file(StateFile::Journal, Access::Append)?;
        let len = file.metadata()?.len();
        if len > 0 {
            use std::io::{Read, Seek, SeekFrom};
            let mut last = [0u8];
            file.seek(SeekFrom::Start(len - 1))?;
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                file.write_all(b"\n")?;
            }
        }
        let rotation = Rotation {
            state: state.clone(),
            limits,
            open: open_current,
            appends: AtomicU64::new(0),
            look_every: LOOK_EVERY_APPENDS,
            looked: AtomicU64::new(0),
            started: Instant::now(),
            turn: Mutex::new(()),
        };
        Ok(Journal { rotation: Some(rotation), ..Journal::over(&state.journal(), Current::of(file)?) })
    }

    /// The newest `n` events, oldest first: from the end of the journal
    /// and, when it holds fewer, on into the rotated files, newest first.
    /// Only the ends of files are read (a dashboard's history must not cost
    /// a read of the whole journal), each file once, even when a rotation
    /// renames it meanwhile.
    pub fn tail(&self, n: usize) -> io::Result<Vec<Event>> {
        let Some(r) = &self.rotation else { return tail_of(&self.current().sink, n) };
        let mut events = Vec::new();
        let mut read = Vec::new();
        let files = std::iter::once(StateFile::Journal).chain((1..).map(StateFile::RotatedJournal));
        for file in files {
            if events.len() >= n {
                break;
            }
            let f = match r.state.open_file(file, Access::Read) {
                Ok(f) => f,
                // Between a rotation's rename and its new file.
                Err(e) if e.kind() == io::ErrorKind::NotFound && file == StateFile::Journal => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                Err(e) => return Err(e),
            };
            let ino = f.metadata()?.ino();
            if read.contains(&ino) {
                continue;
            }
            read.push(ino);
            let mut older = tail_of(&f, n - events.len())?;
            older.append(&mut events);
            events = older;
        }
        Ok(events)
    }
}

impl<S: Sink> Journal<S> {
    /// A journal writing to `file`, known as `path`, that never rotates.
    fn over(path: &Path, file: Current<S>) -> Journal<S> {
        Journal {
            path: path.to_path_buf(),
            current: RwLock::new(Arc::new(file)),
            torn: AtomicBool::new(false),
            rotation: None,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn current(&self) -> Arc<Current<S>> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Appends one event as one line, with one `write`. A write cut short is
    /// an error and is not resumed: the rest could land after another
    /// writer's line. Instead the next append starts on a fresh line.
    pub fn append(&self, event: &Event) -> io::Result<()> {
        thread_local! {
            /// Each worker's line buffer, kept between requests.
            static LINE: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(LINE_CAPACITY));
        }
        LINE.with_borrow_mut(|line| {
            line.clear();
            // Taken, so that one append after a failure ends the fragment.
            if self.torn.swap(false, Ordering::Relaxed) {
                line.push(b'\n');
            }
            let written = serde_json::to_writer(&mut *line, event).map_err(io::Error::other).and_then(|()| {
                line.push(b'\n');
                self.write_line(line)
            });
            if written.is_err() {
                self.torn.store(true, Ordering::Relaxed);
            }
            // A rare huge line (a long error) does not stay allocated.
            if line.capacity() > 16 * LINE_CAPACITY {
                *line = Vec::with_capacity(LINE_CAPACITY);
            }
            written
        })
    }

    fn write_line(&self, line: &[u8]) -> io::Result<()> {
        let file = self.file_for(line.len() as u64);
        loop {
            match file.sink.write_once(line) {
                Ok(n) if n == line.len() => return Ok(()),
                Ok(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::StorageFull,
                        "the line was cut short (is the disk full?)",
                    ));
                }
                // Interrupted before a byte was written: trying again is safe.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The file that a line of `len` bytes goes to, with the line counted:
    /// the current one, unless a look at the name finds another instance
    /// rotated it, or the line would take it past the limit (then the
    /// journal is rotated first).
    fn file_for(&self, len: u64) -> Arc<Current<S>> {
        let mut file = self.current();
        let Some(r) = &self.rotation else { return file };
        if r.look_due() {
            file = self.look(r, file);
        }
        loop {
            let before = file.len.fetch_add(len, Ordering::Relaxed);
            // A line longer than the limit still goes into an empty file.
            if before == 0 || before + len <= r.limits.max_bytes {
                return file;
            }
            file = match self.rotate(r, &file) {
                Ok(next) => next,
                Err(e) => {
                    // The line goes to the full file rather than nowhere,
                    // and the next try waits for another limit's worth of
                    // lines instead of costing every append a lock.
                    log::warn!("cannot rotate the journal {}: {e}", self.path.display());
                    file.len.store(len, Ordering::Relaxed);
                    return file;
                }
            };
        }
    }

    /// Looks at the name: if it holds another file (another instance
    /// rotated the journal), opens that; if it holds ours, counts the lines
    /// other instances appended to it.
    fn look(&self, r: &Rotation<S>, file: Arc<Current<S>>) -> Arc<Current<S>> {
        r.looked.store(r.started.elapsed().as_millis() as u64, Ordering::Relaxed);
        let moved = match r.state.stat_file(StateFile::Journal) {
            Ok(st) if st.st_ino == file.ino => {
                file.len.fetch_max(st.st_size.max(0) as u64, Ordering::Relaxed);
                return file;
            }
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        };
        match moved.and_then(|()| self.reopen(r, &file)) {
            Ok(next) => next,
            Err(e) => {
                log::warn!("cannot reopen the journal {}: {e}", self.path.display());
                file
            }
        }
    }

    /// Opens the file the name holds now in place of `old`, unless another
    /// thread replaced `old` meanwhile (then that file is the current one).
    fn reopen(&self, r: &Rotation<S>, old: &Arc<Current<S>>) -> io::Result<Arc<Current<S>>> {
        let fresh = Arc::new((r.open)(&r.state)?);
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        if Arc::ptr_eq(&current, old) {
            *current = Arc::clone(&fresh);
        }
        Ok(Arc::clone(&current))
    }

    /// Rotates the journal, whose file `full` has no room for the next
    /// line, unless this process or another did already; returns the file
    /// to write to now. The workers of this process take turns, and the
    /// instances sharing the root take the writers' lock: one rotation per
    /// full file.
    fn rotate(&self, r: &Rotation<S>, full: &Arc<Current<S>>) -> io::Result<Arc<Current<S>>> {
        let _turn = r.turn.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.current();
        if !Arc::ptr_eq(&current, full) {
            return Ok(current);
        }
        let _lock = WriterLock::take(&r.state)?;
        match r.state.stat_file(StateFile::Journal) {
            Ok(st) if st.st_ino == full.ino => shift(&r.state, r.limits.keep)?,
            // Another instance rotated it: open the new file.
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        self.reopen(r, full)
    }
}

/// Makes room for a fresh journal: each rotated journal is renamed to the
/// next number, or deleted when that would be past `keep`, oldest first;
/// then the journal becomes `.1` (with `keep` 0, is deleted). A file that
/// is already gone (deleted by hand) is skipped. The renames are not
/// synced: one that a crash undoes only leaves the journal longer.
fn shift(state: &StateDir, keep: u32) -> io::Result<()> {
    let skip_missing = |r: io::Result<()>| match r {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    };
    for n in state.rotated_journals()?.into_iter().rev() {
        skip_missing(if n >= keep {
            state.remove_file(StateFile::RotatedJournal(n))
        } else {
            state.rename_file(StateFile::RotatedJournal(n), StateFile::RotatedJournal(n + 1))
        })?;
    }
    skip_missing(if keep == 0 {
        state.remove_file(StateFile::Journal)
    } else {
        state.rename_file(StateFile::Journal, StateFile::RotatedJournal(1))
    })
}

/// What reading a journal found.
#[derive(Debug, Default)]
pub struct ReadBack {
    pub events: Vec<Event>,
    /// Lines that did not parse (a torn last line after a crash, or damage).
    pub skipped: usize,
}

/// Reads every whole event of the journal at `path`; a missing journal is
/// an empty one. Keeps at most the `last` newest events when given.
pub fn read(path: &Path, last: Option<usize>) -> io::Result<ReadBack> {
    read_from(path, last, 0)
}

/// The newest `n` events of the journal at `path` (for tools and tests,
/// which trust the path).
pub fn tail(path: &Path, n: usize) -> io::Result<Vec<Event>> {
    match File::open(path) {
        Ok(file) => tail_of(&file, n),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

fn tail_of(file: &File, n: usize) -> io::Result<Vec<Event>> {
    const BYTES_PER_LINE: u64 = 2048;
    let start = file.metadata()?.len().saturating_sub(BYTES_PER_LINE * n as u64);
    Ok(read_from_file(file, Some(n), start)?.events)
}

/// Reads a file from a position without moving its offset: the journal's
/// own descriptor is shared with the appending workers.
struct At<'a> {
    file: &'a File,
    pos: u64,
}

impl io::Read for At<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

fn read_from(path: &Path, last: Option<usize>, start: u64) -> io::Result<ReadBack> {
    match File::open(path) {
        Ok(file) => read_from_file(&file, last, start),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(ReadBack::default()),
        Err(e) => Err(e),
    }
}

fn read_from_file(file: &File, last: Option<usize>, start: u64) -> io::Result<ReadBack> {
    let mut reader = if start > 0 {
        // Starting mid-file, the first line is likely partial: skip through
        // the first newline at or after `start - 1`, so that a line which
        // begins exactly at `start` is whole and kept.
        let mut r = BufReader::new(At { file, pos: start - 1 });
        r.read_until(b'\n', &mut Vec::new())?;
        r
    } else {
        BufReader::new(At { file, pos: 0 })
    };
    let file = &mut reader;
    let mut out = ReadBack::default();
    let mut events = std::collections::VecDeque::new();
    for line in file.split(b'\n') {
        let line = line?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Event>(&line) {
            Ok(e) => {
                events.push_back(e);
                if last.is_some_and(|n| events.len() > n) {
                    events.pop_front();
                }
            }
            Err(_) => out.skipped += 1,
        }
    }
    out.events = events.into();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;

    /// The state folder holding the journal at `path`, opened.
    fn state_of(path: &Path) -> StateDir {
        StateDir::at(path.parent().unwrap()).open().unwrap()
    }
    use crate::events::rfc3339;
    use std::time::SystemTime;

    fn event(n: u16) -> Event {
        Event {
            id: Some("/".into()),
            status: 200 + n,
            latency_us: 5,
            ..Event::new(rfc3339(SystemTime::now()), compact_str::format_compact!("r{n}"), "GET", "metadata")
        }
    }

    #[test]
    fn torn_last_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let j = Journal::open(&state_of(&path), Limits::default()).unwrap();
        j.append(&event(0)).unwrap();
        j.append(&event(1)).unwrap();
        OpenOptions::new().append(true).open(&path).unwrap().write_all(b"{\"time\":\"20").unwrap();
        let back = read(&path, None).unwrap();
        assert_eq!(back.events.len(), 2);
        assert_eq!(back.skipped, 1);
        assert_eq!(back.events[1].request_id, "r1");
        // A restart terminates the torn line, so what follows reads back.
        Journal::open(&state_of(&path), Limits::default()).unwrap().append(&event(2)).unwrap();
        let back = read(&path, None).unwrap();
        assert_eq!(back.events.len(), 3);
        assert_eq!(back.skipped, 1);
    }

    #[test]
    fn appended_lines_read_back_whole_after_a_huge_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let j = Journal::open(&state_of(&path), Limits::default()).unwrap();
        let mut huge = event(1);
        huge.error = Some("x".repeat(100 * LINE_CAPACITY).into());
        let events = [event(0), huge, event(2)];
        for e in &events {
            j.append(e).unwrap();
        }
        let back = read(&path, None).unwrap();
        assert_eq!(back.skipped, 0);
        assert_eq!(back.events, events);
    }

    #[test]
    fn keeps_only_the_newest_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let j = Journal::open(&state_of(&path), Limits::default()).unwrap();
        for n in 0..10 {
            j.append(&event(n)).unwrap();
        }
        let back = read(&path, Some(3)).unwrap();
        let ids: Vec<_> = back.events.iter().map(|e| e.request_id.as_str()).collect();
        assert_eq!(ids, ["r7", "r8", "r9"]);
    }

    #[test]
    fn tail_reads_the_newest_from_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let j = Journal::open(&state_of(&path), Limits::default()).unwrap();
        for n in 0..5000 {
            j.append(&event(n % 100)).unwrap();
        }
        let t = tail(&path, 3).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t[2].status, 200 + 4999 % 100);
        assert!(tail(&dir.path().join("nope"), 3).unwrap().is_empty());
    }

    #[test]
    fn tail_keeps_a_line_that_starts_exactly_where_it_reads_from() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let j = Journal::open(&state_of(&path), Limits::default()).unwrap();
        j.append(&event(0)).unwrap();
        // One line of exactly 2048 bytes: `tail(1)` reads just that line.
        let mut e = event(1);
        e.error = Some("".into());
        let len = serde_json::to_vec(&e).unwrap().len() + 1;
        e.error = Some("x".repeat(2048 - len).into());
        j.append(&e).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().len() - serde_json::to_vec(&event(0)).unwrap().len() as u64 - 1,
            2048
        );
        assert_eq!(tail(&path, 1).unwrap(), [e]);
    }

    /// A disk with `room` bytes left: a write past it is cut short, and a
    /// write into no room at all fails as `ENOSPC` does. `interrupt` fails
    /// that many writes with `EINTR` first.
    #[derive(Default)]
    struct SmallDisk {
        bytes: std::sync::Mutex<Vec<u8>>,
        room: std::sync::atomic::AtomicUsize,
        interrupt: std::sync::atomic::AtomicUsize,
        writes: std::sync::atomic::AtomicUsize,
    }

    impl Sink for SmallDisk {
        fn write_once(&self, bytes: &[u8]) -> io::Result<usize> {
            use std::sync::atomic::Ordering::SeqCst;
            self.writes.fetch_add(1, SeqCst);
            if self.interrupt.load(SeqCst) > 0 {
                self.interrupt.fetch_sub(1, SeqCst);
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = bytes.len().min(self.room.load(SeqCst));
            if n == 0 {
                return Err(io::ErrorKind::StorageFull.into());
            }
            self.room.fetch_sub(n, SeqCst);
            self.bytes.lock().unwrap().extend_from_slice(&bytes[..n]);
            Ok(n)
        }
    }

    impl SmallDisk {
        /// A journal on a disk with `room` bytes left.
        fn journal(room: usize) -> Journal<SmallDisk> {
            let disk = SmallDisk::default();
            disk.room.store(room, std::sync::atomic::Ordering::SeqCst);
            Journal::over(Path::new("journal.jsonl"), Current { sink: disk, ino: 0, len: AtomicU64::new(0) })
        }

        /// What a reader finds in the journal written so far.
        fn read_back(&self) -> ReadBack {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("journal.jsonl");
            std::fs::write(&path, &*self.bytes.lock().unwrap()).unwrap();
            read(&path, None).unwrap()
        }
    }

    #[test]
    fn a_line_cut_short_by_a_full_disk_never_corrupts_the_next() {
        use std::sync::atomic::Ordering::SeqCst;
        let j = SmallDisk::journal(usize::MAX);
        j.append(&event(0)).unwrap();
        // The disk fills part way through a line: an error, and no retry of
        // the rest (it could land after another writer's line).
        j.current().sink.room.store(10, SeqCst);
        let writes = j.current().sink.writes.load(SeqCst);
        let err = j.append(&event(1)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        assert_eq!(j.current().sink.writes.load(SeqCst), writes + 1, "one write per line, even cut short");
        // Then no room at all (ENOSPC): still an error, nothing written.
        assert_eq!(j.append(&event(2)).unwrap_err().kind(), io::ErrorKind::StorageFull);
        // Room again: the next line starts on a line of its own, in one write.
        j.current().sink.room.store(usize::MAX, SeqCst);
        let writes = j.current().sink.writes.load(SeqCst);
        j.append(&event(3)).unwrap();
        assert_eq!(j.current().sink.writes.load(SeqCst), writes + 1);
        j.append(&event(4)).unwrap();
        let back = j.current().sink.read_back();
        let ids: Vec<_> = back.events.iter().map(|e| e.request_id.as_str()).collect();
        assert_eq!(ids, ["r0", "r3", "r4"]);
        assert_eq!(back.skipped, 1, "only the fragment is lost");
        let text = String::from_utf8(j.current().sink.bytes.lock().unwrap().clone()).unwrap();
        let fragment = text.lines().nth(1).unwrap();
        assert_eq!(fragment.len(), 10, "{text}");
        // The line after a success has no extra newline: only a failure adds one.
        assert!(!text.contains("\n\n"), "{text}");
    }

    #[test]
    fn an_interrupted_write_is_tried_again_whole() {
        use std::sync::atomic::Ordering::SeqCst;
        let j = SmallDisk::journal(usize::MAX);
        j.current().sink.interrupt.store(2, SeqCst);
        j.append(&event(0)).unwrap();
        j.append(&event(1)).unwrap();
        let back = j.current().sink.read_back();
        assert_eq!((back.events.len(), back.skipped), (2, 0));
    }

    #[test]
    fn a_failure_before_any_byte_costs_only_a_blank_line() {
        let j = SmallDisk::journal(0);
        assert!(j.append(&event(0)).is_err());
        j.current().sink.room.store(usize::MAX, std::sync::atomic::Ordering::SeqCst);
        j.append(&event(1)).unwrap();
        let back = j.current().sink.read_back();
        assert_eq!((back.events.len(), back.skipped), (1, 0));
    }

    #[test]
    fn the_journal_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        Journal::open(&state_of(&path), Limits::default()).unwrap().append(&event(0)).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        // A journal an older version left readable by all is made private.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        Journal::open(&state_of(&path), Limits::default()).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(read(&path, None).unwrap().events.len(), 1);
    }

    /// The length of `event(n)`'s line, the same for every `n` below 10.
    fn line_len() -> u64 {
        serde_json::to_vec(&event(0)).unwrap().len() as u64 + 1
    }

    /// An event with the request id `id`.
    fn named(id: &str) -> Event {
        Event { request_id: id.into(), ..event(0) }
    }

    fn ids(events: &[Event]) -> Vec<String> {
        events.iter().map(|e| e.request_id.to_string()).collect()
    }

    /// A journal in the state folder `dir`, rotated before a file would
    /// hold more than `lines` lines of `event(n)`, keeping `keep`.
    fn rotating(dir: &Path, lines: u64, keep: u32) -> Journal {
        let limits = Limits { max_bytes: lines * line_len(), keep };
        Journal::open(&StateDir::at(dir).open().unwrap(), limits).unwrap()
    }

    /// The request ids in each file of the journal in `dir`: the journal,
    /// then `.1`, `.2`…, numbered without a gap, each within `max_bytes`.
    fn files(dir: &Path, max_bytes: u64) -> Vec<Vec<String>> {
        let state = StateDir::at(dir).open().unwrap();
        let numbers = state.rotated_journals().unwrap();
        assert_eq!(numbers, (1..=numbers.len() as u32).collect::<Vec<_>>(), "numbered without a gap");
        let paths = std::iter::once(state.journal()).chain(numbers.into_iter().map(|n| state.rotated_journal(n)));
        paths
            .map(|p| {
                let len = std::fs::metadata(&p).unwrap().len();
                assert!(len <= max_bytes, "{p:?} holds {len} bytes, past {max_bytes}");
                let back = read(&p, None).unwrap();
                assert_eq!(back.skipped, 0, "{p:?}");
                ids(&back.events)
            })
            .collect()
    }

    #[test]
    fn a_full_journal_is_rotated_and_the_oldest_dropped_past_keep() {
        let dir = tempfile::tempdir().unwrap();
        // Left by a run that kept more: past what is kept now.
        std::fs::write(StateDir::at(dir.path()).rotated_journal(5), b"{}\n").unwrap();
        let j = rotating(dir.path(), 3, 2);
        for n in 0..10 {
            j.append(&event(n)).unwrap();
        }
        let max = 3 * line_len();
        assert_eq!(files(dir.path(), max), [vec!["r9"], vec!["r6", "r7", "r8"], vec!["r3", "r4", "r5"]]);
        // The history reads on into the rotated files, oldest first.
        assert_eq!(ids(&j.tail(2).unwrap()), ["r8", "r9"]);
        assert_eq!(ids(&j.tail(5).unwrap()), ["r5", "r6", "r7", "r8", "r9"]);
        assert_eq!(ids(&j.tail(100).unwrap()), ["r3", "r4", "r5", "r6", "r7", "r8", "r9"]);
        // Reopened (a restart), it goes on where it was.
        drop(j);
        let j = rotating(dir.path(), 3, 2);
        j.append(&event(0)).unwrap();
        j.append(&event(1)).unwrap();
        j.append(&event(2)).unwrap();
        assert_eq!(files(dir.path(), max), [vec!["r2"], vec!["r9", "r0", "r1"], vec!["r6", "r7", "r8"]]);
    }

    #[test]
    fn keep_one_keeps_the_previous_journal_and_keep_zero_none() {
        for (keep, expected) in [(1, vec![vec!["r9"], vec!["r6", "r7", "r8"]]), (0, vec![vec!["r9"]])] {
            let dir = tempfile::tempdir().unwrap();
            let j = rotating(dir.path(), 3, keep);
            for n in 0..10 {
                j.append(&event(n)).unwrap();
            }
            assert_eq!(files(dir.path(), 3 * line_len()), expected, "keep {keep}");
            let newest_last: Vec<&str> = expected.iter().rev().flatten().copied().collect();
            assert_eq!(ids(&j.tail(100).unwrap()), newest_last, "keep {keep}");
        }
    }

    #[test]
    fn a_line_longer_than_the_limit_goes_alone_into_a_fresh_journal() {
        let dir = tempfile::tempdir().unwrap();
        let j = rotating(dir.path(), 2, 8);
        let mut huge = event(1);
        huge.error = Some("x".repeat(4 * line_len() as usize).into());
        for e in [event(0), huge, event(2)] {
            j.append(&e).unwrap();
        }
        assert_eq!(files(dir.path(), u64::MAX), [vec!["r2"], vec!["r1"], vec!["r0"]]);
    }

    #[test]
    fn two_journals_on_one_folder_rotate_each_full_file_once() {
        let dir = tempfile::tempdir().unwrap();
        // Looking at the name before every append, each knows the other's
        // lines and rotations at once: together they rotate as one would.
        let [a, b] = [(), ()].map(|()| {
            let mut j = rotating(dir.path(), 3, 8);
            j.rotation.as_mut().unwrap().look_every = 1;
            j
        });
        for n in 0..10 {
            [&a, &b][n % 2].append(&event(n as u16)).unwrap();
        }
        assert_eq!(
            files(dir.path(), 3 * line_len()),
            [vec!["r9"], vec!["r6", "r7", "r8"], vec!["r3", "r4", "r5"], vec!["r0", "r1", "r2"]]
        );
    }

    #[test]
    fn a_journal_another_instance_rotated_is_not_rotated_again() {
        let dir = tempfile::tempdir().unwrap();
        let b = rotating(dir.path(), 3, 8);
        for n in 0..3 {
            b.append(&event(n)).unwrap();
        }
        // `a` starts on the full journal and rotates it; `b` finds the file
        // it has open full too, and under the lock sees the new journal in
        // its place: it writes there instead of rotating once more.
        let a = rotating(dir.path(), 3, 8);
        a.append(&event(3)).unwrap();
        b.append(&event(4)).unwrap();
        assert_eq!(files(dir.path(), 3 * line_len()), [vec!["r3", "r4"], vec!["r0", "r1", "r2"]]);
    }

    #[test]
    fn another_instances_rotation_is_noticed_by_the_next_look_and_no_line_is_lost() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::at(dir.path()).open().unwrap();
        let a = rotating(dir.path(), 100, 8);
        let b = rotating(dir.path(), 100, 8);
        let mut n = 0;
        while state.rotated_journals().unwrap().is_empty() {
            a.append(&named(&format!("a{n}"))).unwrap();
            n += 1;
        }
        // `b` still has the file that became `.1` open: its lines go there,
        // where they are kept, until it looks at the name (by its 64th
        // append, or a second after it opened).
        let b_ids: Vec<String> = (1..=LOOK_EVERY_APPENDS).map(|k| format!("b{k}")).collect();
        for id in &b_ids {
            b.append(&named(id)).unwrap();
        }
        let files = files(dir.path(), u64::MAX);
        let [current, old] = &files[..] else { panic!("one rotation, not {}", files.len() - 1) };
        let switched = old.iter().filter(|id| id.starts_with('b')).count();
        assert!(switched < b_ids.len(), "b never noticed the rotation");
        assert_eq!(old[old.len() - switched..], b_ids[..switched]);
        assert_eq!(current[0], format!("a{}", n - 1), "the line that found the journal full opens the new one");
        assert_eq!(current[1..], b_ids[switched..]);
        b.append(&named("b-last")).unwrap();
        assert_eq!(read(&state.journal(), None).unwrap().events.last().unwrap().request_id, "b-last");
    }

    #[test]
    fn workers_appending_at_once_never_pass_the_limit_nor_lose_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let j = rotating(dir.path(), 10, 1000);
        std::thread::scope(|s| {
            for t in 0..8 {
                let j = &j;
                s.spawn(move || {
                    for i in 0..100 {
                        j.append(&named(&format!("{t}-{i}"))).unwrap();
                    }
                });
            }
        });
        let all: Vec<String> = files(dir.path(), 10 * line_len()).into_iter().flatten().collect();
        let unique: std::collections::HashSet<&String> = all.iter().collect();
        assert_eq!((all.len(), unique.len()), (800, 800));
    }

    #[test]
    fn missing_journal_reads_empty() {
        let dir = tempfile::tempdir().unwrap();
        let back = read(&dir.path().join("nope"), None).unwrap();
        assert!(back.events.is_empty());
    }
}
