//! The journal: one JSON line per handled request, appended to a file in the
//! root's state folder before the response goes out.
//!
//! Lines are written with a single `write` on an `O_APPEND` descriptor, so
//! concurrent workers (and a second instance sharing the root) never
//! interleave inside a line. A crash, or a write the disk cut short, can
//! leave a torn line; the reader skips any line that does not parse instead
//! of failing, and the next line written starts on a line of its own.
//! The journal is private to the state folder's owner (mode 0600).

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::events::Event;
use crate::state_dir::{Access, StateDir, StateFile};

/// Room for a typical line; every field of an event is clipped, so lines
/// are short.
const LINE_CAPACITY: usize = 1024;

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
    file: S,
    /// The last append failed, perhaps after writing part of its line: the
    /// next one starts with a newline, so that it is not glued onto the
    /// fragment.
    torn: AtomicBool,
}

impl Journal {
    /// Opens (creating if needed) the journal of the state folder, through
    /// its handle. A torn last line left by a crash is terminated first, so
    /// that the next line starts whole instead of being glued onto the torn
    /// one.
    pub fn open(state: &StateDir) -> io::Result<Journal> {
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
        Ok(Journal::over(&state.journal(), file))
    }

    /// The newest `n` events, read through the journal's own descriptor
    /// and only from the end of the file (a dashboard's history must not
    /// cost a read of a journal that grew for months).
    pub fn tail(&self, n: usize) -> io::Result<Vec<Event>> {
        tail_of(&self.file, n)
    }
}

impl<S: Sink> Journal<S> {
    /// A journal writing to `file`, known as `path`.
    fn over(path: &Path, file: S) -> Journal<S> {
        Journal { path: path.to_path_buf(), file, torn: AtomicBool::new(false) }
    }

    pub fn path(&self) -> &Path {
        &self.path
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
        loop {
            match self.file.write_once(line) {
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
        let j = Journal::open(&state_of(&path)).unwrap();
        j.append(&event(0)).unwrap();
        j.append(&event(1)).unwrap();
        OpenOptions::new().append(true).open(&path).unwrap().write_all(b"{\"time\":\"20").unwrap();
        let back = read(&path, None).unwrap();
        assert_eq!(back.events.len(), 2);
        assert_eq!(back.skipped, 1);
        assert_eq!(back.events[1].request_id, "r1");
        // A restart terminates the torn line, so what follows reads back.
        Journal::open(&state_of(&path)).unwrap().append(&event(2)).unwrap();
        let back = read(&path, None).unwrap();
        assert_eq!(back.events.len(), 3);
        assert_eq!(back.skipped, 1);
    }

    #[test]
    fn appended_lines_read_back_whole_after_a_huge_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let j = Journal::open(&state_of(&path)).unwrap();
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
        let j = Journal::open(&state_of(&path)).unwrap();
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
        let j = Journal::open(&state_of(&path)).unwrap();
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
        let j = Journal::open(&state_of(&path)).unwrap();
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
        fn with_room(room: usize) -> SmallDisk {
            let disk = SmallDisk::default();
            disk.room.store(room, std::sync::atomic::Ordering::SeqCst);
            disk
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
        let j = Journal::over(Path::new("journal.jsonl"), SmallDisk::with_room(usize::MAX));
        j.append(&event(0)).unwrap();
        // The disk fills part way through a line: an error, and no retry of
        // the rest (it could land after another writer's line).
        j.file.room.store(10, SeqCst);
        let writes = j.file.writes.load(SeqCst);
        let err = j.append(&event(1)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        assert_eq!(j.file.writes.load(SeqCst), writes + 1, "one write per line, even cut short");
        // Then no room at all (ENOSPC): still an error, nothing written.
        assert_eq!(j.append(&event(2)).unwrap_err().kind(), io::ErrorKind::StorageFull);
        // Room again: the next line starts on a line of its own, in one write.
        j.file.room.store(usize::MAX, SeqCst);
        let writes = j.file.writes.load(SeqCst);
        j.append(&event(3)).unwrap();
        assert_eq!(j.file.writes.load(SeqCst), writes + 1);
        j.append(&event(4)).unwrap();
        let back = j.file.read_back();
        let ids: Vec<_> = back.events.iter().map(|e| e.request_id.as_str()).collect();
        assert_eq!(ids, ["r0", "r3", "r4"]);
        assert_eq!(back.skipped, 1, "only the fragment is lost");
        let text = String::from_utf8(j.file.bytes.lock().unwrap().clone()).unwrap();
        let fragment = text.lines().nth(1).unwrap();
        assert_eq!(fragment.len(), 10, "{text}");
        // The line after a success has no extra newline: only a failure adds one.
        assert!(!text.contains("\n\n"), "{text}");
    }

    #[test]
    fn an_interrupted_write_is_tried_again_whole() {
        use std::sync::atomic::Ordering::SeqCst;
        let j = Journal::over(Path::new("journal.jsonl"), SmallDisk::with_room(usize::MAX));
        j.file.interrupt.store(2, SeqCst);
        j.append(&event(0)).unwrap();
        j.append(&event(1)).unwrap();
        let back = j.file.read_back();
        assert_eq!((back.events.len(), back.skipped), (2, 0));
    }

    #[test]
    fn a_failure_before_any_byte_costs_only_a_blank_line() {
        let j = Journal::over(Path::new("journal.jsonl"), SmallDisk::with_room(0));
        assert!(j.append(&event(0)).is_err());
        j.file.room.store(usize::MAX, std::sync::atomic::Ordering::SeqCst);
        j.append(&event(1)).unwrap();
        let back = j.file.read_back();
        assert_eq!((back.events.len(), back.skipped), (1, 0));
    }

    #[test]
    fn the_journal_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        Journal::open(&state_of(&path)).unwrap().append(&event(0)).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        // A journal an older version left readable by all is made private.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        Journal::open(&state_of(&path)).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(read(&path, None).unwrap().events.len(), 1);
    }

    #[test]
    fn missing_journal_reads_empty() {
        let dir = tempfile::tempdir().unwrap();
        let back = read(&dir.path().join("nope"), None).unwrap();
        assert!(back.events.is_empty());
    }
}
