//! The thumbnail cache: finished thumbnails in the state folder's
//! `thumbnails/`, one file per key, bounded in bytes with the least
//! recently used out first.
//!
//! A key names a file's *content version* (its id, the size asked, and
//! the device, inode, size and modification time of the bytes opened), so
//! an upload or a change made beside wfhook gives a new key without any
//! notification, and the old entry simply ages out. Entries are written to
//! a temp name, synced and renamed into place: a reader sees a whole
//! thumbnail or none. Every instance sharing the root shares the folder:
//! one that misses its own record still tries the file, and one whose
//! entry another instance evicted just renders again.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use rustix::fs::{AtFlags, Mode, OFlags};

use crate::crypto::Sha256Hasher;
use crate::state_dir::FILE_MODE;

/// Temp files start so; a finished entry's name is 40 hex digits.
const TEMP_PREFIX: &str = ".tmp-";
/// A temp file older than this at start was left by a crash (a live
/// writer's is renamed within its timeout).
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// Entries shorter than this are read into memory (most thumbnails).
const SMALL: usize = 64 * 1024;

/// A thumbnail's bytes as they are answered.
pub enum Body {
    Bytes(Vec<u8>),
    /// A larger cache entry, open, with its length.
    File(File, u64),
}

impl Body {
    pub fn size(&self) -> u64 {
        match self {
            Body::Bytes(b) => b.len() as u64,
            Body::File(_, len) => *len,
        }
    }

    /// Its first bytes, up to `buf`'s length; how many.
    pub fn head(&self, buf: &mut [u8]) -> usize {
        match self {
            Body::Bytes(b) => {
                let n = b.len().min(buf.len());
                buf[..n].copy_from_slice(&b[..n]);
                n
            }
            Body::File(f, _) => read_at_most(f, buf).unwrap_or(0),
        }
    }
}

/// Reads from the start of `file` until `buf` is full or the file ends.
fn read_at_most(file: &File, buf: &mut [u8]) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A cache key: hex digits, a file name of their own.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key(String);

impl Key {
    /// The key of `parts`, each length-prefixed so that no two lists of
    /// parts give the same bytes.
    pub fn of(parts: &[&[u8]]) -> Key {
        let mut h = Sha256Hasher::default();
        for p in parts {
            h.update(&(p.len() as u64).to_le_bytes());
            h.update(p);
        }
        Key(h.finish_hex()[..40].to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub struct Cache {
    dir: OwnedFd,
    max_bytes: u64,
    lru: Mutex<Lru>,
}

/// What this instance knows of the folder: each entry's size and when it
/// was last used (a tick), and the total.
#[derive(Default)]
struct Lru {
    entries: HashMap<Key, (u64, u64)>,
    by_use: BTreeMap<u64, Key>,
    bytes: u64,
    tick: u64,
}

impl Lru {
    fn touch(&mut self, key: &Key, size: u64) {
        self.tick += 1;
        let tick = self.tick;
        match self.entries.insert(key.clone(), (size, tick)) {
            Some((old_size, old_tick)) => {
                self.by_use.remove(&old_tick);
                self.bytes = self.bytes - old_size + size;
            }
            None => self.bytes += size,
        }
        self.by_use.insert(tick, key.clone());
    }

    fn forget(&mut self, key: &Key) {
        if let Some((size, tick)) = self.entries.remove(key) {
            self.by_use.remove(&tick);
            self.bytes -= size;
        }
    }

    /// The least recently used entry, forgotten.
    fn pop_oldest(&mut self) -> Option<Key> {
        let (_, key) = self.by_use.pop_first()?;
        if let Some((size, _)) = self.entries.remove(&key) {
            self.bytes -= size;
        }
        Some(key)
    }
}

impl Cache {
    /// The cache in `dir` (the state folder's `thumbnails/`, opened through
    /// its handle), holding at most `max_bytes`. What the folder holds
    /// already is counted, oldest modification first out; temp files that
    /// a crash left are removed, and the bound is applied at once.
    pub fn open(dir: OwnedFd, max_bytes: u64) -> io::Result<Cache> {
        let mut found = Vec::new();
        let now = SystemTime::now();
        for entry in rustix::fs::Dir::read_from(&dir)? {
            let entry = entry?;
            let Ok(name) = entry.file_name().to_str() else { continue };
            let Ok(st) = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) else { continue };
            let modified = SystemTime::UNIX_EPOCH + Duration::new(st.st_mtime.max(0) as u64, st.st_mtime_nsec as u32);
            if name.starts_with(TEMP_PREFIX) {
                if now.duration_since(modified).is_ok_and(|age| age > STALE_TEMP) {
                    let _ = rustix::fs::unlinkat(&dir, name, AtFlags::empty());
                }
            } else if is_key(name) && rustix::fs::FileType::from_raw_mode(st.st_mode).is_file() {
                found.push((modified, Key(name.to_string()), st.st_size as u64));
            }
        }
        found.sort();
        let mut lru = Lru::default();
        for (_, key, size) in &found {
            lru.touch(key, *size);
        }
        let cache = Cache { dir, max_bytes, lru: Mutex::new(lru) };
        cache.evict();
        Ok(cache)
    }

    /// The bytes this instance counts in the cache.
    pub fn bytes(&self) -> u64 {
        self.lock().bytes
    }

    /// The entry `key`, `None` when absent: its bytes when small (one read,
    /// cheaper than a `sendfile` for a few KB), else the file, open, with
    /// its length.
    pub fn get(&self, key: &Key) -> Option<Body> {
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let file = match rustix::fs::openat(&self.dir, key.as_str(), flags, Mode::empty()) {
            Ok(fd) => File::from(fd),
            Err(_) => {
                // Evicted by another instance, or removed by hand.
                self.lock().forget(key);
                return None;
            }
        };
        let mut bytes = vec![0; SMALL];
        let n = read_at_most(&file, &mut bytes).ok()?;
        let body = if n < SMALL {
            bytes.truncate(n);
            Body::Bytes(bytes)
        } else {
            let len = file.metadata().ok()?.len();
            Body::File(file, len)
        };
        self.lock().touch(key, body.size());
        Some(body)
    }

    /// Keeps `bytes` as `key`, whole or not at all, then makes room. An
    /// entry larger than the whole cache is not kept.
    pub fn put(&self, key: &Key, bytes: &[u8]) -> io::Result<()> {
        if bytes.len() as u64 > self.max_bytes {
            return Ok(());
        }
        let temp = format!("{TEMP_PREFIX}{}", crate::crypto::random_hex(8));
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&self.dir, temp.as_str(), flags, Mode::from_raw_mode(FILE_MODE))?;
        let mut file = File::from(fd);
        let written = file.write_all(bytes).and_then(|()| file.sync_data());
        let renamed = written.and_then(|()| {
            rustix::fs::renameat(&self.dir, temp.as_str(), &self.dir, key.as_str()).map_err(io::Error::from)
        });
        if let Err(e) = renamed {
            let _ = rustix::fs::unlinkat(&self.dir, temp.as_str(), AtFlags::empty());
            return Err(e);
        }
        self.lock().touch(key, bytes.len() as u64);
        self.evict();
        Ok(())
    }

    /// Removes the least recently used entries until the bound holds.
    fn evict(&self) {
        loop {
            let oldest = {
                let mut lru = self.lock();
                if lru.bytes <= self.max_bytes {
                    return;
                }
                lru.pop_oldest()
            };
            let Some(key) = oldest else { return };
            match rustix::fs::unlinkat(&self.dir, key.as_str(), AtFlags::empty()) {
                Ok(()) | Err(rustix::io::Errno::NOENT) => {}
                Err(e) => log::warn!("thumbnail cache: cannot remove an old entry: {e}"),
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lru> {
        self.lru.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The names in the folder, for tests that look inside.
    #[cfg(test)]
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = rustix::fs::Dir::read_from(&self.dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().ok().map(str::to_string))
            .filter(|n| n != "." && n != "..")
            .collect();
        names.sort();
        names
    }
}

fn is_key(name: &str) -> bool {
    name.len() == 40 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    fn open_in(dir: &tempfile::TempDir, max: u64) -> Cache {
        let fd = rustix::fs::open(dir.path(), OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap();
        let sub = crate::state_dir::private_folder(fd.as_fd(), std::ffi::OsStr::new("thumbnails")).unwrap();
        Cache::open(sub, max).unwrap()
    }

    fn read(c: &Cache, k: &Key) -> Option<Vec<u8>> {
        match c.get(k)? {
            Body::Bytes(v) => Some(v),
            Body::File(mut f, len) => {
                let mut v = Vec::new();
                io::Read::read_to_end(&mut f, &mut v).unwrap();
                assert_eq!(v.len() as u64, len);
                Some(v)
            }
        }
    }

    #[test]
    fn keys_differ_with_every_part_and_its_boundaries() {
        let a = Key::of(&[b"id", b"200"]);
        assert_eq!(a, Key::of(&[b"id", b"200"]));
        assert_ne!(a, Key::of(&[b"id", b"201"]));
        assert_ne!(Key::of(&[b"ab", b"c"]), Key::of(&[b"a", b"bc"]));
        assert!(is_key(a.as_str()));
    }

    #[test]
    fn entries_are_kept_and_found_again_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let c = open_in(&dir, 1000);
        let k = Key::of(&[b"x"]);
        assert!(c.get(&k).is_none());
        c.put(&k, b"thumb").unwrap();
        assert_eq!(read(&c, &k).unwrap(), b"thumb");
        drop(c);
        let c = open_in(&dir, 1000);
        assert_eq!(c.bytes(), 5);
        assert_eq!(read(&c, &k).unwrap(), b"thumb");
        assert_eq!(c.names(), vec![k.as_str().to_string()], "no temp file is left");
    }

    #[test]
    fn the_least_recently_used_go_first_and_the_bound_holds() {
        let dir = tempfile::tempdir().unwrap();
        let c = open_in(&dir, 300);
        let keys: Vec<Key> = (0..3).map(|i: u8| Key::of(&[&[i]])).collect();
        for k in &keys {
            c.put(k, &[7; 100]).unwrap();
        }
        assert_eq!(c.bytes(), 300);
        // Using the first makes the second the oldest.
        assert!(read(&c, &keys[0]).is_some());
        let d = Key::of(&[b"d"]);
        c.put(&d, &[8; 100]).unwrap();
        assert_eq!(c.bytes(), 300);
        assert!(read(&c, &keys[1]).is_none());
        for k in [&keys[0], &keys[2], &d] {
            assert!(read(&c, k).is_some());
        }
        assert_eq!(c.names().len(), 3);
        // Larger than the whole cache: answered, never kept.
        let big = Key::of(&[b"big"]);
        c.put(&big, &[0; 301]).unwrap();
        assert!(read(&c, &big).is_none());
        assert_eq!(c.bytes(), 300);
    }

    #[test]
    fn a_smaller_bound_at_start_evicts_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let c = open_in(&dir, 1000);
        for i in 0..10u8 {
            c.put(&Key::of(&[&[i]]), &[i; 100]).unwrap();
        }
        drop(c);
        let c = open_in(&dir, 250);
        assert!(c.bytes() <= 250);
        assert_eq!(c.names().len(), 2);
    }

    #[test]
    fn large_entries_are_sent_from_their_file() {
        let dir = tempfile::tempdir().unwrap();
        let c = open_in(&dir, 1 << 20);
        let (small, large) = (Key::of(&[b"s"]), Key::of(&[b"l"]));
        c.put(&small, &[1; SMALL - 1]).unwrap();
        c.put(&large, &[2; SMALL]).unwrap();
        assert!(matches!(c.get(&small), Some(Body::Bytes(b)) if b.len() == SMALL - 1));
        let body = c.get(&large).unwrap();
        let mut head = [0; 4];
        assert_eq!((body.head(&mut head), head), (4, [2; 4]));
        assert!(matches!(body, Body::File(_, len) if len == SMALL as u64));
        assert_eq!(read(&c, &large).unwrap(), vec![2; SMALL]);
    }

    #[test]
    fn an_entry_removed_behind_its_back_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let c = open_in(&dir, 1000);
        let k = Key::of(&[b"gone"]);
        c.put(&k, b"abc").unwrap();
        std::fs::remove_file(dir.path().join("thumbnails").join(k.as_str())).unwrap();
        assert!(c.get(&k).is_none());
        assert_eq!(c.bytes(), 0);
    }

    #[test]
    fn stale_temp_files_are_removed_and_strangers_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("thumbnails");
        std::fs::create_dir(&folder).unwrap();
        let stale = folder.join(".tmp-old");
        std::fs::write(&stale, b"half").unwrap();
        let old = SystemTime::now() - Duration::from_secs(2 * 3600);
        File::options().write(true).open(&stale).unwrap().set_modified(old).unwrap();
        std::fs::write(folder.join(".tmp-fresh"), b"writing").unwrap();
        std::fs::write(folder.join("README"), b"not ours").unwrap();
        let c = open_in(&dir, 1000);
        assert_eq!(c.bytes(), 0);
        assert_eq!(c.names(), vec![".tmp-fresh".to_string(), "README".to_string()]);
    }
}
