//! The per-instance index of the root: derived data, kept in SQLite on
//! local disk (never on the share), that makes pages of huge folders and
//! searches of huge trees cheap.
//!
//! It owns the database and its queries: one row per item (by its path as
//! the state log spells it) with its parent, title, kind, size and dates;
//! one row per folder with what the folder looked like (`mtime`, `ctime`,
//! inode) when its children were last written, so that a listing can tell
//! whether the index still holds that folder exactly; and an FTS5 table of
//! the words of text documents. Nothing here touches the root: the store
//! walks it (through its handles) and hands the entries over. The index is
//! never the truth — a folder that changed since is read from disk, and a
//! search's hits are checked on disk before they are answered — so a lost
//! or stale index costs time, never a wrong answer.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::store::{Column, Sort};

/// Bumped when the schema changes: an index of another version is rebuilt.
const SCHEMA: i64 = 4;

/// One item as the index knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The relative path as the state log spells it.
    pub path: String,
    pub title: String,
    pub is_dir: bool,
    pub size: u64,
    pub mtime_ns: i64,
}

/// What a folder looked like when its children were written: any change
/// of its entries changes its `mtime` and `ctime`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FolderMark {
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub ino: u64,
}

/// What [`Index::set_children`] found new or changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Files new, or whose size or date changed.
    pub files: Vec<String>,
    /// Folders new (or that were files).
    pub new_folders: Vec<String>,
}

pub struct Index {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// True once a whole walk of the root has been written.
    ready: AtomicBool,
    /// Bytes of text held for full-text search, and the most allowed.
    text_bytes: AtomicU64,
    max_text_bytes: u64,
}

impl Index {
    /// Opens (or creates) the index at `file`. An index that cannot be read,
    /// or of another schema, is deleted and made afresh.
    pub fn open(file: &Path, max_text_bytes: u64) -> rusqlite::Result<Index> {
        let writer = match Self::connect(file) {
            Ok(c) => c,
            Err(e) => {
                log::warn!("index: {e}; rebuilding it");
                Self::remove_files(file);
                Self::connect(file)?
            }
        };
        let text_bytes: i64 =
            writer.query_row("SELECT COALESCE(SUM(bytes), 0) FROM texted", [], |r| r.get(0)).unwrap_or(0);
        Ok(Index {
            path: file.to_path_buf(),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            ready: AtomicBool::new(false),
            text_bytes: AtomicU64::new(text_bytes.max(0) as u64),
            max_text_bytes,
        })
    }

    fn remove_files(file: &Path) {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = file.as_os_str().to_owned();
            p.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(p));
        }
    }

    /// A connection with the schema in place, checked.
    fn connect(file: &Path) -> rusqlite::Result<Connection> {
        let c = Connection::open(file)?;
        c.busy_timeout(std::time::Duration::from_secs(10))?;
        // WAL: readers never wait for the writer; NORMAL: a crash loses at
        // most the last transactions, never the database's consistency.
        c.pragma_update(None, "journal_mode", "WAL")?;
        c.pragma_update(None, "synchronous", "NORMAL")?;
        // A file that is no database fails here. (No integrity check: it
        // reads the whole file, seconds for a big index, before the first
        // request; a query that meets damage falls back to the disk.)
        let version: i64 = c.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version != SCHEMA && version != 0 {
            return Err(rusqlite::Error::InvalidParameterName(format!("schema {version}, not {SCHEMA}")));
        }
        c.execute_batch(
            "CREATE TABLE IF NOT EXISTS items (
                 rid INTEGER PRIMARY KEY,
                 path TEXT NOT NULL UNIQUE,
                 parent TEXT NOT NULL,
                 is_dir INTEGER NOT NULL,
                 sort_title TEXT NOT NULL,
                 title TEXT NOT NULL,
                 size INTEGER NOT NULL,
                 mtime_ns INTEGER NOT NULL,
                 ord INTEGER NOT NULL
             );
             CREATE INDEX IF NOT EXISTS items_by_parent ON items (parent, ord);
             CREATE TABLE IF NOT EXISTS folders (
                 path TEXT PRIMARY KEY,
                 mtime_ns INTEGER NOT NULL,
                 ctime_ns INTEGER NOT NULL,
                 ino INTEGER NOT NULL
             ) WITHOUT ROWID;
             CREATE VIRTUAL TABLE IF NOT EXISTS names USING fts5 (sort_title, tokenize = 'trigram');
             CREATE TABLE IF NOT EXISTS texted (
                 rid INTEGER PRIMARY KEY,
                 path TEXT NOT NULL UNIQUE,
                 size INTEGER NOT NULL,
                 mtime_ns INTEGER NOT NULL,
                 bytes INTEGER NOT NULL
             );
             CREATE VIRTUAL TABLE IF NOT EXISTS texts USING fts5 (body);",
        )?;
        c.pragma_update(None, "user_version", SCHEMA)?;
        Ok(c)
    }

    /// A reader connection from the pool, returned when `f` is done.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> rusqlite::Result<T> {
        self.reader(f)
    }

    /// [`Index::read`] for callers with errors of their own.
    fn reader<T, E: From<rusqlite::Error>>(&self, f: impl FnOnce(&Connection) -> Result<T, E>) -> Result<T, E> {
        let pooled = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let c = match pooled {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(&self.path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
                c.busy_timeout(std::time::Duration::from_secs(10))?;
                c
            }
        };
        let out = f(&c);
        let mut pool = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < 16 {
            pool.push(c);
        }
        out
    }

    fn write<T>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>) -> rusqlite::Result<T> {
        let mut c = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let tx = c.transaction()?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// A whole walk of the root is written: searches may use the index.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::SeqCst);
    }

    /// Whether the index holds the children of folder `path` exactly as the
    /// folder is now (`mark`). (Listings ask within their snapshot, in
    /// [`Index::each_child`].)
    #[cfg(test)]
    pub fn holds_folder(&self, path: &str, mark: FolderMark) -> bool {
        matches!(self.read(|c| held_mark(c, path)), Ok(Some(k)) if k == mark)
    }

    /// Writes one item, found on disk, without a word about its folder's
    /// other children (whose positions it may shift: the folder is read
    /// from disk at its next listing). Answers whether it is new or changed.
    pub fn set_entry(&self, parent: &str, e: &Entry) -> rusqlite::Result<bool> {
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM folders WHERE path = ?1")?.execute([parent])?;
            let known: Option<(i64, i64, bool)> = tx
                .query_row("SELECT size, mtime_ns, is_dir FROM items WHERE path = ?1", [&e.path], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()?;
            match known {
                Some((size, mtime, dir)) if size as u64 == e.size && mtime == e.mtime_ns && dir == e.is_dir => {
                    Ok(false)
                }
                Some(_) => {
                    upsert(tx, parent, e, i64::MAX)?;
                    Ok(true)
                }
                None => {
                    upsert(tx, parent, e, i64::MAX)?;
                    name(tx, e)?;
                    Ok(true)
                }
            }
        })
    }

    /// Writes the children of folder `path`, read from disk while it
    /// looked like `mark`: rows of children gone are removed (with what was
    /// below them), others written. Answers what is new or changed. With
    /// no mark (a folder changed too recently to tell a later change in the
    /// same tick of the clock), the folder is not held exactly: its next
    /// listing reads the disk again.
    pub fn set_children(&self, path: &str, mark: Option<FolderMark>, children: &[Entry]) -> rusqlite::Result<Changes> {
        self.write(|tx| {
            let mut known: std::collections::HashMap<String, (u64, i64, bool)> = std::collections::HashMap::new();
            {
                let mut q = tx.prepare_cached("SELECT path, size, mtime_ns, is_dir FROM items WHERE parent = ?1")?;
                let rows = q.query_map([path], |r| {
                    Ok((r.get::<_, String>(0)?, (r.get::<_, i64>(1)? as u64, r.get(2)?, r.get::<_, bool>(3)?)))
                })?;
                for row in rows {
                    let (p, v) = row?;
                    known.insert(p, v);
                }
            }
            let mut changes = Changes::default();
            let mut freed = 0u64;
            // Positions in every listing's order: folders first, then by
            // title ignoring case, then by title, then by path.
            let mut order: Vec<(usize, (bool, String))> =
                children.iter().enumerate().map(|(i, e)| (i, (!e.is_dir, e.title.to_lowercase()))).collect();
            order.sort_by(|(a, ka), (b, kb)| {
                ka.cmp(kb)
                    .then_with(|| children[*a].title.cmp(&children[*b].title))
                    .then_with(|| children[*a].path.cmp(&children[*b].path))
            });
            for (ord, (i, _)) in order.into_iter().enumerate() {
                let e = &children[i];
                let ord = ord as i64;
                match known.remove(&e.path) {
                    Some((size, mtime, dir)) if size == e.size && mtime == e.mtime_ns && dir == e.is_dir => {
                        tx.prepare_cached("UPDATE items SET ord = ?2 WHERE path = ?1 AND ord != ?2")?
                            .execute(params![e.path, ord])?;
                    }
                    Some((_, _, was_dir)) => {
                        if was_dir && !e.is_dir {
                            freed += remove_below(tx, &e.path)?;
                        }
                        upsert(tx, path, e, ord)?;
                        if e.is_dir {
                            changes.new_folders.push(e.path.clone());
                        } else {
                            changes.files.push(e.path.clone());
                        }
                    }
                    None => {
                        upsert(tx, path, e, ord)?;
                        name(tx, e)?;
                        if e.is_dir {
                            changes.new_folders.push(e.path.clone());
                        } else {
                            changes.files.push(e.path.clone());
                        }
                    }
                }
            }
            for gone in known.keys() {
                freed += remove_item(tx, gone)?;
                freed += remove_below(tx, gone)?;
            }
            match mark {
                Some(mark) => tx
                    .prepare_cached(
                        "INSERT INTO folders (path, mtime_ns, ctime_ns, ino) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (path) DO UPDATE SET mtime_ns = ?2, ctime_ns = ?3, ino = ?4",
                    )?
                    .execute(params![path, mark.mtime_ns, mark.ctime_ns, mark.ino as i64])?,
                None => tx.prepare_cached("DELETE FROM folders WHERE path = ?1")?.execute([path])?,
            };
            Ok((changes, freed))
        })
        .map(|(changes, freed)| {
            self.freed(freed);
            changes
        })
    }

    /// Takes text removed with its items off the count of bytes held.
    fn freed(&self, bytes: u64) {
        let _ =
            self.text_bytes.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |held| Some(held.saturating_sub(bytes)));
    }

    /// Forgets `path` and everything below it (and that its folder is held
    /// exactly: the positions of its other children have a hole now).
    pub fn remove(&self, path: &str) -> rusqlite::Result<()> {
        let parent = path.rsplit_once('/').map_or("", |(p, _)| p);
        let freed = self.write(|tx| {
            tx.prepare_cached("DELETE FROM folders WHERE path = ?1")?.execute([parent])?;
            Ok(remove_item(tx, path)? + remove_below(tx, path)?)
        })?;
        self.freed(freed);
        Ok(())
    }

    /// Runs `each` on a window of the children of `parent`, `chunk` rows
    /// at a time, all read in one transaction: a snapshot, whatever the
    /// index's writer does meanwhile, so that no row is seen twice or
    /// missed. Only when the index holds the folder exactly as `mark` (in
    /// the same snapshot); answers false, having called nothing, when not.
    pub fn each_child<E: From<rusqlite::Error>>(
        &self,
        parent: &str,
        mark: FolderMark,
        page: (usize, Option<usize>),
        chunk: usize,
        each: &mut dyn FnMut(Vec<Entry>) -> Result<(), E>,
    ) -> Result<bool, E> {
        self.reader(|c| {
            c.execute_batch("BEGIN")?;
            let out = (|| {
                if held_mark(c, parent)? != Some(mark) {
                    return Ok(false);
                }
                let limit = page.1.map_or(-1, |m| m.min(i64::MAX as usize) as i64);
                let mut q = c.prepare_cached(
                    "SELECT path, title, is_dir, size, mtime_ns FROM items WHERE parent = ?1 AND ord >= ?2
                     ORDER BY ord LIMIT ?3",
                )?;
                let rows = q.query_map(params![parent, page.0.min(i64::MAX as usize) as i64, limit], entry)?;
                let mut batch = Vec::with_capacity(chunk);
                for row in rows {
                    batch.push(row?);
                    if batch.len() == chunk {
                        each(std::mem::take(&mut batch))?;
                    }
                }
                if !batch.is_empty() {
                    each(batch)?;
                }
                Ok(true)
            })();
            c.execute_batch("COMMIT")?;
            out
        })
    }

    /// A window of the children of folder `parent` in `sort`'s order, and
    /// how many it has, read in one snapshot; `None` unless the index holds
    /// the folder exactly as `mark`. Ties go by position (`ord`), which is
    /// every listing's name order, so that the disk sorts the same.
    pub fn sorted_children(
        &self,
        parent: &str,
        mark: FolderMark,
        sort: Sort,
        page: (usize, Option<usize>),
    ) -> rusqlite::Result<Option<(Vec<Entry>, usize)>> {
        // Folders first in either direction; only the column turns round.
        let sql = match (sort.by, sort.descending) {
            (Column::Name, false) => SORTED_BY_NAME,
            (Column::Name, true) => SORTED_BY_NAME_DESC,
            (Column::Size, false) => SORTED_BY_SIZE,
            (Column::Size, true) => SORTED_BY_SIZE_DESC,
            (Column::Modified, false) => SORTED_BY_MODIFIED,
            (Column::Modified, true) => SORTED_BY_MODIFIED_DESC,
        };
        self.read(|c| {
            c.execute_batch("BEGIN")?;
            let out = (|| {
                if held_mark(c, parent)? != Some(mark) {
                    return Ok(None);
                }
                let total: i64 = c
                    .prepare_cached("SELECT COUNT(*) FROM items WHERE parent = ?1")?
                    .query_row([parent], |r| r.get(0))?;
                let limit = page.1.map_or(-1, |m| m.min(i64::MAX as usize) as i64);
                let offset = page.0.min(i64::MAX as usize) as i64;
                let rows: rusqlite::Result<Vec<Entry>> =
                    c.prepare_cached(sql)?.query_map(params![parent, limit, offset], entry)?.collect();
                Ok(Some((rows?, total.max(0) as usize)))
            })();
            c.execute_batch("COMMIT")?;
            out
        })
    }

    /// A window of the children of a folder the index holds exactly, in
    /// every listing's order: found by position, so that a page deep in a
    /// huge folder costs what the first one does. (Listings read through
    /// [`Index::each_child`].)
    #[cfg(test)]
    pub fn children(&self, parent: &str, offset: usize, max: Option<usize>) -> rusqlite::Result<Vec<Entry>> {
        let limit = max.map_or(-1, |m| m.min(i64::MAX as usize) as i64);
        self.read(|c| {
            let mut q = c.prepare_cached(
                "SELECT path, title, is_dir, size, mtime_ns FROM items WHERE parent = ?1 AND ord >= ?2
                 ORDER BY ord LIMIT ?3",
            )?;
            let rows = q.query_map(params![parent, offset.min(i64::MAX as usize) as i64, limit], entry)?;
            rows.collect()
        })
    }

    /// Items at or below `under` (`""`: everywhere) whose title contains
    /// `needle` (lower case), in every listing's order, at most `cap`.
    pub fn search_names(&self, needle: &str, under: &str, cap: usize) -> rusqlite::Result<Vec<Entry>> {
        // A title never holds a NUL (LIKE would stop reading its pattern at one).
        if needle.contains('\0') {
            return Ok(Vec::new());
        }
        let like = format!("%{}%", needle.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        let (from, to) = below(under);
        self.read(|c| {
            // Three letters or more: the trigram table finds the rows; fewer,
            // a scan of the titles (short queries match a lot anyway).
            // The trigram phrase finds the candidates through the index;
            // LIKE keeps exactly the titles that hold the needle.
            let sql = if needle.chars().count() >= 3 {
                "SELECT i.path, i.title, i.is_dir, i.size, i.mtime_ns FROM items i
                 WHERE i.rid IN (SELECT rowid FROM names WHERE names MATCH ?4)
                 AND i.sort_title LIKE ?1 ESCAPE '\\' AND i.path > ?2 AND i.path < ?5
                 ORDER BY i.is_dir DESC, i.sort_title, i.title, i.path LIMIT ?3"
            } else {
                "SELECT path, title, is_dir, size, mtime_ns FROM items
                 WHERE sort_title LIKE ?1 ESCAPE '\\' AND path > ?2 AND path < ?5
                 ORDER BY is_dir DESC, sort_title, title, path LIMIT ?3"
            };
            let mut q = c.prepare_cached(sql)?;
            let phrase = format!("sort_title : \"{}\"", needle.replace('"', "\"\""));
            if needle.chars().count() >= 3 {
                q.query_map(params![like, from, cap as i64, phrase, to], entry)?.collect()
            } else {
                q.query_map(params![like, from, cap as i64, rusqlite::types::Null, to], entry)?.collect()
            }
        })
    }

    /// Files at or below `under` whose text holds every word of `query`,
    /// best first, at most `cap`.
    pub fn search_texts(&self, query: &str, under: &str, cap: usize) -> rusqlite::Result<Vec<Entry>> {
        let words: Vec<String> = query
            .split(|c: char| !c.is_alphanumeric() || c == '\0')
            .filter(|w| !w.is_empty())
            .map(|w| format!("\"{}\"", w.replace('"', "")))
            .collect();
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let (from, to) = below(under);
        self.read(|c| {
            let mut q = c.prepare_cached(
                "SELECT i.path, i.title, i.is_dir, i.size, i.mtime_ns FROM texts
                 JOIN texted t ON t.rid = texts.rowid JOIN items i ON i.path = t.path
                 WHERE texts MATCH ?1 AND i.path > ?2 AND i.path < ?4 ORDER BY texts.rank LIMIT ?3",
            )?;
            let rows = q.query_map(params![words.join(" "), from, cap as i64, to], entry)?;
            rows.collect()
        })
    }

    /// Whether the text of `path` is wanted: a file whose size and date
    /// differ from those of the text held (or none is held).
    pub fn wants_text(&self, e: &Entry) -> bool {
        let held = self.read(|c| {
            c.query_row("SELECT size, mtime_ns FROM texted WHERE path = ?1", [&e.path], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)?))
            })
            .optional()
        });
        !matches!(held, Ok(Some((size, mtime))) if size == e.size && mtime == e.mtime_ns)
    }

    /// Holds `text` as the words of `e` (none: only that it was looked at).
    /// Past the byte bound, new text is not kept. Answers false then.
    pub fn set_text(&self, e: &Entry, text: Option<&str>) -> rusqlite::Result<bool> {
        let len = text.map_or(0, |t| t.len() as u64);
        let fits = self.text_bytes.load(Ordering::SeqCst) + len <= self.max_text_bytes;
        let kept = if fits { text } else { None };
        let freed = self.write(|tx| {
            let old: Option<(i64, i64)> = tx
                .query_row("SELECT rid, bytes FROM texted WHERE path = ?1", [&e.path], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((rid, _)) = old {
                tx.prepare_cached("DELETE FROM texts WHERE rowid = ?1")?.execute([rid])?;
                tx.prepare_cached("DELETE FROM texted WHERE rid = ?1")?.execute([rid])?;
            }
            tx.prepare_cached("INSERT INTO texted (path, size, mtime_ns, bytes) VALUES (?1, ?2, ?3, ?4)")?
                .execute(params![e.path, e.size as i64, e.mtime_ns, kept.map_or(0, |t| t.len() as i64)])?;
            if let Some(t) = kept {
                let rid = tx.last_insert_rowid();
                tx.prepare_cached("INSERT INTO texts (rowid, body) VALUES (?1, ?2)")?.execute(params![rid, t])?;
            }
            Ok(old.map_or(0, |(_, b)| b.max(0) as u64))
        })?;
        let held = self.text_bytes.load(Ordering::SeqCst);
        self.text_bytes.store(held.saturating_sub(freed) + kept.map_or(0, |t| t.len() as u64), Ordering::SeqCst);
        Ok(fits || text.is_none())
    }

    /// Files after row `after` whose text is wanted (none held, or held
    /// for another size or date), `limit` at a time, with their row.
    pub fn wanted_texts(&self, after: i64, limit: usize) -> rusqlite::Result<Vec<(i64, Entry)>> {
        self.read(|c| {
            let mut q = c.prepare_cached(
                "SELECT i.path, i.title, i.is_dir, i.size, i.mtime_ns, i.rid FROM items i
                 LEFT JOIN texted t ON t.path = i.path
                 WHERE i.rid > ?1 AND i.is_dir = 0 AND (t.path IS NULL OR t.size != i.size OR t.mtime_ns != i.mtime_ns)
                 ORDER BY i.rid LIMIT ?2",
            )?;
            let rows = q.query_map(params![after, limit as i64], |r| Ok((r.get(5)?, entry(r)?)))?;
            rows.collect()
        })
    }

    /// Bytes of text held for full-text search.
    pub fn text_bytes(&self) -> u64 {
        self.text_bytes.load(Ordering::SeqCst)
    }

    /// Items in the index.
    #[cfg(test)]
    pub fn len(&self) -> u64 {
        self.read(|c| c.query_row("SELECT COUNT(*) FROM items", [], |r| r.get::<_, i64>(0))).unwrap_or(0).max(0) as u64
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the index takes on disk (the database and its write-ahead log).
    pub fn disk_bytes(&self) -> u64 {
        ["", "-wal"]
            .iter()
            .filter_map(|s| {
                let mut p = self.path.as_os_str().to_owned();
                p.push(s);
                std::fs::metadata(PathBuf::from(p)).ok()
            })
            .map(|m| m.len())
            .sum()
    }
}

/// The sorted windows of a folder (see [`Index::sorted_children`]): one
/// constant each, so that no SQL is ever assembled from a request.
const SORTED_BY_NAME: &str = "SELECT path, title, is_dir, size, mtime_ns FROM items WHERE parent = ?1
     ORDER BY is_dir DESC, ord LIMIT ?2 OFFSET ?3";
const SORTED_BY_NAME_DESC: &str = "SELECT path, title, is_dir, size, mtime_ns FROM items WHERE parent = ?1
     ORDER BY is_dir DESC, ord DESC LIMIT ?2 OFFSET ?3";
const SORTED_BY_SIZE: &str = "SELECT path, title, is_dir, size, mtime_ns FROM items WHERE parent = ?1
     ORDER BY is_dir DESC, size, ord LIMIT ?2 OFFSET ?3";
const SORTED_BY_SIZE_DESC: &str = "SELECT path, title, is_dir, size, mtime_ns FROM items WHERE parent = ?1
     ORDER BY is_dir DESC, size DESC, ord LIMIT ?2 OFFSET ?3";
const SORTED_BY_MODIFIED: &str = "SELECT path, title, is_dir, size, mtime_ns FROM items WHERE parent = ?1
     ORDER BY is_dir DESC, mtime_ns, ord LIMIT ?2 OFFSET ?3";
const SORTED_BY_MODIFIED_DESC: &str = "SELECT path, title, is_dir, size, mtime_ns FROM items WHERE parent = ?1
     ORDER BY is_dir DESC, mtime_ns DESC, ord LIMIT ?2 OFFSET ?3";

/// The bounds of the paths strictly below folder `under` (`""`: every
/// path): from `under/` up to `under0`, `0` being the character after `/`.
/// Compared as bytes, which a path's NUL escapes do not upset (`substr`
/// and `length` stop at a NUL).
fn below(under: &str) -> (String, String) {
    if under.is_empty() { (String::new(), "\u{10FFFF}".repeat(2)) } else { (format!("{under}/"), format!("{under}0")) }
}

/// What folder `path` looked like when the index wrote its children.
fn held_mark(c: &Connection, path: &str) -> rusqlite::Result<Option<FolderMark>> {
    c.query_row("SELECT mtime_ns, ctime_ns, ino FROM folders WHERE path = ?1", [path], |r| {
        Ok(FolderMark { mtime_ns: r.get(0)?, ctime_ns: r.get(1)?, ino: r.get::<_, i64>(2)? as u64 })
    })
    .optional()
}

fn entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    Ok(Entry {
        path: r.get(0)?,
        title: r.get(1)?,
        is_dir: r.get(2)?,
        size: r.get::<_, i64>(3)?.max(0) as u64,
        mtime_ns: r.get(4)?,
    })
}

/// Writes an item at position `ord` of its folder (`i64::MAX`: unknown).
fn upsert(tx: &rusqlite::Transaction<'_>, parent: &str, e: &Entry, ord: i64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO items (path, parent, is_dir, sort_title, title, size, mtime_ns, ord)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (path) DO UPDATE SET is_dir = ?3, size = ?6, mtime_ns = ?7, ord = ?8",
    )?
    .execute(params![
        e.path,
        parent,
        e.is_dir,
        e.title.to_lowercase(),
        e.title,
        e.size as i64,
        e.mtime_ns,
        ord
    ])?;
    Ok(())
}

/// Writes the title of a new item (just inserted) into the trigram table.
fn name(tx: &rusqlite::Transaction<'_>, e: &Entry) -> rusqlite::Result<()> {
    tx.prepare_cached("INSERT INTO names (rowid, sort_title) SELECT rid, ?2 FROM items WHERE path = ?1")?
        .execute(params![e.path, e.title.to_lowercase()])?;
    Ok(())
}

/// Removes the rows of `path`; answers the bytes of text it held.
fn remove_item(tx: &rusqlite::Transaction<'_>, path: &str) -> rusqlite::Result<u64> {
    let freed: i64 =
        tx.query_row("SELECT COALESCE(SUM(bytes), 0) FROM texted WHERE path = ?1", [path], |r| r.get(0))?;
    for sql in [
        "DELETE FROM names WHERE rowid IN (SELECT rid FROM items WHERE path = ?1)",
        "DELETE FROM items WHERE path = ?1",
        "DELETE FROM texts WHERE rowid IN (SELECT rid FROM texted WHERE path = ?1)",
        "DELETE FROM texted WHERE path = ?1",
        "DELETE FROM folders WHERE path = ?1",
    ] {
        tx.prepare_cached(sql)?.execute([path])?;
    }
    Ok(freed.max(0) as u64)
}

/// Removes every row strictly below `path`: the paths from `path/` up to
/// (not including) `path0`, `0` being the character after `/`, found
/// through the indexes on `path`.
fn remove_below(tx: &rusqlite::Transaction<'_>, path: &str) -> rusqlite::Result<u64> {
    let (from, to) = below(path);
    let freed: i64 =
        tx.query_row("SELECT COALESCE(SUM(bytes), 0) FROM texted WHERE path > ?1 AND path < ?2", [&from, &to], |r| {
            r.get(0)
        })?;
    for sql in [
        "DELETE FROM names WHERE rowid IN (SELECT rid FROM items WHERE path > ?1 AND path < ?2)",
        "DELETE FROM items WHERE path > ?1 AND path < ?2",
        "DELETE FROM texts WHERE rowid IN (SELECT rid FROM texted WHERE path > ?1 AND path < ?2)",
        "DELETE FROM texted WHERE path > ?1 AND path < ?2",
        "DELETE FROM folders WHERE path > ?1 AND path < ?2",
    ] {
        tx.prepare_cached(sql)?.execute([&from, &to])?;
    }
    Ok(freed.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(path: &str, is_dir: bool, size: u64) -> Entry {
        Entry { path: path.into(), title: path.rsplit('/').next().unwrap().into(), is_dir, size, mtime_ns: 1 }
    }

    const MARK: FolderMark = FolderMark { mtime_ns: 1, ctime_ns: 1, ino: 1 };

    #[test]
    fn children_come_in_listing_order_and_gone_ones_go_with_their_trees() {
        let dir = tempfile::tempdir().unwrap();
        let ix = Index::open(&dir.path().join("index.db"), 1 << 20).unwrap();
        let kids = [e("b.txt", false, 1), e("A.txt", false, 2), e("zed", true, 0), e("Alpha", true, 0)];
        let changes = ix.set_children("", Some(MARK), &kids).unwrap();
        assert_eq!(changes.files, ["A.txt", "b.txt"]);
        assert_eq!(changes.new_folders, ["Alpha", "zed"]);
        assert!(ix.set_children("", Some(MARK), &kids).unwrap() == Changes::default(), "nothing new the second time");
        ix.set_children("zed", Some(MARK), &[e("zed/inner.txt", false, 3)]).unwrap();
        let titles: Vec<String> = ix.children("", 0, None).unwrap().into_iter().map(|e| e.title).collect();
        assert_eq!(titles, ["Alpha", "zed", "A.txt", "b.txt"]);
        assert_eq!(ix.children("", 1, Some(2)).unwrap().len(), 2);
        assert!(ix.holds_folder("", MARK));
        assert!(!ix.holds_folder("", FolderMark { ino: 2, ..MARK }));
        assert_eq!(ix.search_names("inner", "", 10).unwrap()[0].path, "zed/inner.txt");
        assert_eq!(ix.search_names("in", "zed", 10).unwrap().len(), 1);
        // zed is gone: so is what was below it.
        ix.set_children("", Some(MARK), &kids[..2]).unwrap();
        assert!(ix.search_names("inner", "", 10).unwrap().is_empty());
        assert_eq!(ix.len(), 2);
        // One item written alone: the folder is no longer held exactly.
        assert!(!ix.set_entry("", &kids[0]).unwrap());
        assert!(ix.set_entry("", &e("b.txt", false, 9)).unwrap());
        assert!(!ix.holds_folder("", MARK));
    }

    #[test]
    fn sorted_windows_are_the_disk_order_with_folders_first() {
        let dir = tempfile::tempdir().unwrap();
        let ix = Index::open(&dir.path().join("index.db"), 1 << 20).unwrap();
        // Ties on size and date, names that differ only in case, folders
        // among files.
        let kids: Vec<Entry> = [
            ("b.txt", false, 5, 30),
            ("B.txt", false, 5, 10),
            ("a.txt", false, 7, 10),
            ("c.txt", false, 1, 20),
            ("Zed", true, 0, 5),
            ("alpha", true, 0, 50),
            ("d.txt", false, 7, 40),
        ]
        .into_iter()
        .map(|(name, is_dir, size, mtime_ns)| Entry {
            path: format!("f/{name}"),
            title: name.into(),
            is_dir,
            size,
            mtime_ns,
        })
        .collect();
        ix.set_children("f", Some(MARK), &kids).unwrap();
        for by in Column::ALL {
            for descending in [false, true] {
                let sort = Sort { by, descending };
                let expected: Vec<String> = sort
                    .apply(kids.clone(), |e| crate::store::SortKey {
                        folder: e.is_dir,
                        size: e.size,
                        mtime_ns: e.mtime_ns,
                        lower: e.title.to_lowercase(),
                        title: e.title.clone(),
                        unique: e.path.clone(),
                    })
                    .into_iter()
                    .map(|e| e.title)
                    .collect();
                let (all, total) = ix.sorted_children("f", MARK, sort, (0, None)).unwrap().unwrap();
                assert_eq!(total, 7);
                let titles: Vec<String> = all.into_iter().map(|e| e.title).collect();
                assert_eq!(titles, expected, "{sort:?}");
                assert!(titles[..2].iter().all(|t| t == "alpha" || t == "Zed"), "folders first: {titles:?}");
                let (window, total) = ix.sorted_children("f", MARK, sort, (2, Some(3))).unwrap().unwrap();
                assert_eq!(total, 7);
                assert_eq!(window.into_iter().map(|e| e.title).collect::<Vec<_>>(), expected[2..5], "{sort:?}");
            }
        }
        let size_desc = Sort { by: Column::Size, descending: true };
        let (all, _) = ix.sorted_children("f", MARK, size_desc, (0, None)).unwrap().unwrap();
        let titles: Vec<&str> = all.iter().map(|e| e.title.as_str()).collect();
        assert_eq!(titles, ["alpha", "Zed", "a.txt", "d.txt", "B.txt", "b.txt", "c.txt"], "ties by name, A to Z");
        // A folder held otherwise (or not at all) is not answered from here.
        assert!(ix.sorted_children("f", FolderMark { ino: 9, ..MARK }, size_desc, (0, None)).unwrap().is_none());
        assert!(ix.sorted_children("g", MARK, size_desc, (0, None)).unwrap().is_none());
    }

    #[test]
    fn text_is_bounded_in_bytes_and_searched_by_words() {
        let dir = tempfile::tempdir().unwrap();
        let ix = Index::open(&dir.path().join("index.db"), 100).unwrap();
        let a = e("a.txt", false, 1);
        ix.set_children("", Some(MARK), std::slice::from_ref(&a)).unwrap();
        assert!(ix.wants_text(&a));
        assert!(ix.set_text(&a, Some("the quick zanzibar fox")).unwrap());
        assert!(!ix.wants_text(&a));
        assert_eq!(ix.search_texts("Zanzibar", "", 10).unwrap()[0].path, "a.txt");
        let b = e("b.txt", false, 1);
        ix.set_children("", Some(MARK), &[a.clone(), b.clone()]).unwrap();
        assert!(!ix.set_text(&b, Some(&"word ".repeat(40))).unwrap(), "over the bound");
        assert!(ix.text_bytes() <= 100);
        // The bound holds across a reopen.
        drop(ix);
        let ix = Index::open(&dir.path().join("index.db"), 100).unwrap();
        assert_eq!(ix.text_bytes(), "the quick zanzibar fox".len() as u64);
    }

    #[test]
    fn a_damaged_index_is_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("index.db");
        std::fs::write(&file, b"this is not a database at all, not at all").unwrap();
        let ix = Index::open(&file, 1 << 20).unwrap();
        assert!(ix.is_empty());
    }
}
