//! The document store: what Workfront browses, links, downloads and uploads.
//!
//! This module owns the `Store` trait that the HTTP layer and the actions
//! talk to, the item type they exchange, and the store's error enum. The one
//! backend today is [`fs::FsStore`], a local (or network-mounted) folder; ids
//! are opaque strings handed out by the store and stay valid across renames.

pub mod beneath;
pub mod fs;
pub mod paths;
pub mod state;

use std::cmp::Ordering;
use std::fmt;
use std::io::{self, Read};
use std::time::{SystemTime, UNIX_EPOCH};

/// The id of the root folder, fixed by the Workfront contract.
pub const ROOT_ID: &str = "/";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    File,
    Folder,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Folder => "folder",
        }
    }
}

/// One file or folder as the store describes it; links are the HTTP layer's.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub id: String,
    pub title: String,
    pub kind: Kind,
    pub size: Option<u64>,
    pub modified: SystemTime,
    pub mime_type: Option<String>,
    /// Locked or archived: uploads, renames and deletes are refused.
    pub read_only: bool,
}

/// Search answers stop here unless the caller asks for more (`max`).
pub const SEARCH_LIMIT: usize = 1000;

/// A window of a listing: `offset` items skipped, then at most `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub offset: usize,
    pub max: Option<usize>,
}

impl Page {
    /// The whole list.
    pub const ALL: Page = Page { offset: 0, max: None };

    /// The part of `items` in the window.
    pub fn of<T>(self, items: Vec<T>) -> Vec<T> {
        let take = self.max.unwrap_or(usize::MAX);
        items.into_iter().skip(self.offset).take(take).collect()
    }
}

/// The column a sorted listing orders by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Column {
    #[default]
    Name,
    Size,
    Modified,
}

impl Column {
    pub const ALL: [Column; 3] = [Column::Name, Column::Size, Column::Modified];

    pub fn as_str(self) -> &'static str {
        match self {
            Column::Name => "name",
            Column::Size => "size",
            Column::Modified => "modified",
        }
    }

    pub fn parse(s: &str) -> Option<Column> {
        Column::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// The order of a sorted listing: folders always first, then by `by`,
/// ties by name (ascending, whatever the direction, so that equal sizes
/// read alphabetically).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sort {
    pub by: Column,
    pub descending: bool,
}

/// What an item is sorted by, made once per item, not once per comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SortKey {
    pub folder: bool,
    /// Bytes; 0 for a folder.
    pub size: u64,
    pub mtime_ns: i64,
    /// The title in lower case, then as it is, then something unique (two
    /// names that are not UTF-8 can share a title): [`Store::list`]'s order.
    pub lower: String,
    pub title: String,
    pub unique: String,
}

impl SortKey {
    pub fn of_item(item: &Item) -> SortKey {
        SortKey {
            folder: item.kind == Kind::Folder,
            size: item.size.unwrap_or(0),
            mtime_ns: nanos_since_epoch(item.modified),
            lower: item.title.to_lowercase(),
            title: item.title.clone(),
            unique: item.id.clone(),
        }
    }
}

/// A stat's seconds and nanoseconds as nanoseconds since the epoch,
/// exactly (a date past 2262 does not fit an `i64`).
pub fn stat_nanos(secs: i64, nsecs: i64) -> i128 {
    i128::from(secs) * 1_000_000_000 + i128::from(nsecs)
}

/// A time as nanoseconds since the epoch (negative before it), as the
/// index keeps it.
pub fn nanos_since_epoch(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_nanos()).map_or(i64::MIN, |n| -n),
    }
}

impl Sort {
    pub fn compare(self, a: &SortKey, b: &SortKey) -> Ordering {
        let name = |a: &SortKey, b: &SortKey| {
            a.lower.cmp(&b.lower).then_with(|| a.title.cmp(&b.title)).then_with(|| a.unique.cmp(&b.unique))
        };
        let direct = |o: Ordering| if self.descending { o.reverse() } else { o };
        b.folder.cmp(&a.folder).then_with(|| match self.by {
            Column::Name => direct(name(a, b)),
            Column::Size => direct(a.size.cmp(&b.size)).then_with(|| name(a, b)),
            Column::Modified => direct(a.mtime_ns.cmp(&b.mtime_ns)).then_with(|| name(a, b)),
        })
    }

    /// `items` in this order, each key made once.
    pub fn apply<T>(self, items: Vec<T>, key: impl Fn(&T) -> SortKey) -> Vec<T> {
        let mut keyed: Vec<(SortKey, T)> = items.into_iter().map(|t| (key(&t), t)).collect();
        keyed.sort_by(|(a, _), (b, _)| self.compare(a, b));
        keyed.into_iter().map(|(_, t)| t).collect()
    }
}

/// A Workfront document (and optionally one of its versions).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DocumentRef {
    pub document_id: String,
    pub version_id: Option<String>,
}

/// What an upload wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadReceipt {
    pub size: u64,
    pub sha256: String,
}

/// What the checksum action found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChecksumOutcome {
    /// No sum was known: this one is now recorded.
    Recorded(String),
    /// The bytes still match the recorded sum.
    Verified(String),
    /// The bytes changed outside the API since the sum was recorded.
    Changed { recorded: String, actual: String },
}

#[derive(Debug)]
pub enum StoreError {
    /// An id that this store can never have handed out (a 404: it names
    /// nothing).
    BadId,
    /// A name that cannot be a file or folder name here; says why.
    BadName(&'static str),
    /// A request that makes no sense for this item; says why.
    Invalid(&'static str),
    /// Nothing has this id (or this Workfront document is not linked).
    NotFound(&'static str),
    /// The name is taken.
    Exists,
    /// The item (or something inside the folder) is locked.
    Locked,
    /// The item is archived and read-only.
    Archived,
    /// Reading the bytes to write failed (the client went away, the body
    /// was cut short or went past the caller's limit).
    Body(io::Error),
    /// The disk failed; the detail is for the log, never for the client.
    Io(io::Error),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::BadId => f.write_str("no item has this id"),
            StoreError::BadName(why) => write!(f, "invalid name: {why}"),
            StoreError::Invalid(why) => f.write_str(why),
            StoreError::NotFound(what) => f.write_str(what),
            StoreError::Exists => f.write_str("an item with that name already exists"),
            StoreError::Locked => f.write_str("the document is locked"),
            StoreError::Archived => f.write_str("the document is archived"),
            StoreError::Body(_) => f.write_str("could not read the request body"),
            StoreError::Io(_) => f.write_str("storage error"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    /// The index failed: a disk error like another, for the log.
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::Io(io::Error::other(format!("the index: {e}")))
    }
}

impl From<io::Error> for StoreError {
    fn from(e: io::Error) -> StoreError {
        StoreError::Io(e)
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A document store. Every id and name argument comes from the network and
/// is checked by the implementation.
pub trait Store: Send + Sync {
    fn metadata(&self, id: &str) -> Result<Item>;
    /// The children of a folder, folders first, then by name.
    fn list(&self, parent_id: &str) -> Result<Vec<Item>> {
        self.list_page(parent_id, Page::ALL)
    }
    /// A window of [`Store::list`]'s order, which stays put while the
    /// folder does not change: pages never overlap or skip.
    fn list_page(&self, parent_id: &str, page: Page) -> Result<Vec<Item>>;
    /// [`Store::list_page`] item by item, for answers too long to hold in
    /// memory whole (a folder of 100 000 files).
    fn list_each(&self, parent_id: &str, page: Page, each: &mut dyn FnMut(&Item) -> io::Result<()>) -> Result<()> {
        for item in self.list_page(parent_id, page)? {
            each(&item)?;
        }
        Ok(())
    }
    /// A window of the children of a folder in `sort`'s order, and how
    /// many children it has in all.
    fn list_sorted(&self, parent_id: &str, sort: Sort, page: Page) -> Result<(Vec<Item>, usize)> {
        let all = sort.apply(self.list(parent_id)?, SortKey::of_item);
        let total = all.len();
        Ok((page.of(all), total))
    }
    /// The folders that hold `id`, from the root down to its parent; none
    /// for the root itself.
    fn ancestors(&self, id: &str) -> Result<Vec<Item>>;
    /// Items below `parent_id` (the root when `None`) whose name contains
    /// `query`, case-insensitively, in [`Store::list`]'s order: the first
    /// [`SEARCH_LIMIT`].
    fn search(&self, query: &str, parent_id: Option<&str>) -> Result<Vec<Item>> {
        self.search_page(query, parent_id, Page { offset: 0, max: Some(SEARCH_LIMIT) })
    }
    /// A window of the matches of [`Store::search`], in the same order.
    fn search_page(&self, query: &str, parent_id: Option<&str>, page: Page) -> Result<Vec<Item>>;
    /// A file's metadata and an open handle to stream its bytes.
    fn open(&self, id: &str) -> Result<(Item, std::fs::File)>;
    /// Creates an empty file (a taken name gets a distinct one) and links it
    /// to the Workfront document when given.
    fn upload_init(&self, parent_id: &str, filename: &str, link: Option<&DocumentRef>) -> Result<Item>;
    /// Replaces a file's bytes with `body`, all or nothing: a body that
    /// fails to read (cut short, or over the caller's limit) changes nothing.
    fn upload(&self, id: &str, body: &mut dyn Read) -> Result<UploadReceipt>;
    fn create_folder(&self, parent_id: &str, name: &str) -> Result<Item>;
    /// Deletes a file, or a folder with everything in it.
    fn delete(&self, id: &str) -> Result<()>;
    /// Renames in place; the id stays valid.
    fn rename(&self, id: &str, name: &str) -> Result<()>;

    /// Our id for a Workfront document, through the links uploadInit (or
    /// [`Store::link_document`]) made.
    fn resolve_document(&self, doc: &DocumentRef) -> Result<String>;
    /// Links a Workfront document to our file `id` (never a folder), once:
    /// a link already there is kept as it is.
    fn link_document(&self, doc: &DocumentRef, id: &str) -> Result<()>;
    fn set_locked(&self, id: &str, locked: bool) -> Result<()>;
    fn checksum(&self, id: &str) -> Result<ChecksumOutcome>;
    /// Moves the item out of files and search; true when it was not archived yet.
    fn archive(&self, id: &str) -> Result<bool>;
    /// Keeps a copy of the current bytes under `version`.
    fn snapshot(&self, id: &str, version: &str) -> Result<()>;
    /// A nameless temp file, gone once closed, where a request body waits
    /// for its handler: in this process's temp folder, on the root's disk.
    fn body_spool(&self) -> std::io::Result<std::fs::File>;
}
