//! The root's hidden state folder, `.wfhook`: the one place its layout is
//! spelled. Every file that wfhook keeps besides the documents is reached
//! through a [`StateDir`], and [`LAYOUT`] describes each for the manual and
//! the README, so that a new file is one entry here.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The state folder's name at the top of the root; never listed or served.
pub const NAME: &str = ".wfhook";

const STATE_LOG: &str = "state.jsonl";
const STATE_LOCK: &str = "state.lock";
const JOURNAL: &str = "journal.jsonl";
const API_KEY: &str = "api-key";
const LINK_SECRET: &str = "link-secret";
const ADMIN_TOKEN: &str = "admin-token";
/// The sub-folder of archived documents.
pub const ARCHIVE: &str = "archive";
/// The sub-folder of snapshots.
pub const SNAPSHOTS: &str = "snapshots";
const TMP: &str = "tmp";
/// The file in each process's temp folder that the process keeps locked
/// while it lives.
pub const OWNER_LOCK: &str = "owner.lock";

/// One file or folder of the state folder, as the documentation lists it.
pub struct Entry {
    /// Its name in the state folder.
    pub name: &'static str,
    /// What follows the name in the documentation (`/ID/` for a folder of
    /// folders named by id).
    pub below: &'static str,
    pub what: &'static str,
}

/// Everything the state folder holds, in the order the documentation lists it.
pub static LAYOUT: &[Entry] = &[
    Entry {
        name: STATE_LOG,
        below: "",
        what: "Ids, Workfront links, locks, checksums and archive records, and each change on disk bracketed by \
               its intent and its commit (a change whose writer died is settled by the next writer from what the \
               disk shows): an append-only log of JSON lines, compacted when it grows well past what it \
               describes. A name that is not UTF-8 is written with each stray byte as a NUL and two hex digits.",
    },
    Entry { name: STATE_LOCK, below: "", what: "The lock that orders writers of the state, across instances." },
    Entry {
        name: JOURNAL,
        below: "",
        what: "One JSON line per request: time, request id, method, endpoint, action, documentId, \
               documentVersionId, id, username, status, latency and error. It never holds a key. A torn last \
               line after a crash is skipped. It is never rotated by wfhook.",
    },
    Entry { name: API_KEY, below: "", what: "The generated API key (mode 0600), when no key is configured." },
    Entry {
        name: LINK_SECRET,
        below: "",
        what: "The secret that signs browser links (mode 0600). Every instance sharing the root accepts the same \
               links.",
    },
    Entry { name: ADMIN_TOKEN, below: "", what: "The token for /events and wfhook top (mode 0600)." },
    Entry { name: ARCHIVE, below: "/ID/", what: "Documents moved aside by the archive action." },
    Entry { name: SNAPSHOTS, below: "/ID/VERSION", what: "Copies kept by the snapshot action." },
    Entry {
        name: TMP,
        below: "/PID-ID/",
        what: "Writes in progress, in one folder per running process (which holds the folder's owner.lock \
               locked): uploads and snapshots before they are renamed into place, deleted items before they are \
               removed. A start removes the folders whose process is gone, and leaves those of a live instance \
               sharing the root.",
    },
];

/// The state folder of one root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateDir {
    path: PathBuf,
}

impl StateDir {
    /// The state folder of `root`; nothing is touched on disk.
    pub fn of_root(root: &Path) -> StateDir {
        StateDir { path: root.join(NAME) }
    }

    /// The state folder at `path` itself (unit tests keep one in a temp folder).
    pub fn at(path: &Path) -> StateDir {
        StateDir { path: path.to_path_buf() }
    }

    /// Creates the folder and its sub-folders where they are missing.
    pub fn create(&self) -> io::Result<()> {
        for d in [TMP, ARCHIVE, SNAPSHOTS] {
            fs::create_dir_all(self.path.join(d))?;
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The append-only state log shared by every instance on the root.
    pub fn state_log(&self) -> PathBuf {
        self.path.join(STATE_LOG)
    }

    /// The lock file that orders writers of the state log.
    pub fn state_lock(&self) -> PathBuf {
        self.path.join(STATE_LOCK)
    }

    /// One JSON line per request.
    pub fn journal(&self) -> PathBuf {
        self.path.join(JOURNAL)
    }

    /// The API key generated on the first start.
    pub fn api_key(&self) -> PathBuf {
        self.path.join(API_KEY)
    }

    /// The secret that signs browser links.
    pub fn link_secret(&self) -> PathBuf {
        self.path.join(LINK_SECRET)
    }

    /// The token of the admin listener's event stream.
    pub fn admin_token(&self) -> PathBuf {
        self.path.join(ADMIN_TOKEN)
    }

    /// Uploads and compactions in progress.
    pub fn tmp(&self) -> PathBuf {
        self.path.join(TMP)
    }

    /// The folder that archived item `id` is moved into.
    pub fn archive_shelf(&self, id: &str) -> PathBuf {
        self.path.join(ARCHIVE).join(id)
    }

    /// The folder of item `id`'s snapshots.
    pub fn snapshots_of(&self, id: &str) -> PathBuf {
        self.path.join(SNAPSHOTS).join(id)
    }
}

/// Where archived item `id` named `name` lives, relative to the root, as
/// the state log records it.
pub fn archived_path(id: &str, name: &str) -> String {
    format!("{NAME}/{ARCHIVE}/{id}/{name}")
}

/// True when a path relative to the root lies in the archive.
pub fn in_archive(rel: &str) -> bool {
    rel.strip_prefix(NAME)
        .and_then(|r| r.strip_prefix('/'))
        .and_then(|r| r.strip_prefix(ARCHIVE))
        .is_some_and(|r| r.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archived_paths_are_recognised() {
        let rel = archived_path("0123456789abcdef", "a.pdf");
        assert_eq!(rel, ".wfhook/archive/0123456789abcdef/a.pdf");
        assert!(in_archive(&rel));
        for other in [".wfhook/archive", ".wfhook/archived/x", ".wfhook/tmp/x", "archive/x", ".wfhookarchive/x"] {
            assert!(!in_archive(other), "{other}");
        }
    }

    #[test]
    fn every_file_is_documented_once_and_lives_in_the_folder() {
        let dir = StateDir::of_root(Path::new("/r"));
        let paths = [
            dir.state_log(),
            dir.state_lock(),
            dir.journal(),
            dir.api_key(),
            dir.link_secret(),
            dir.admin_token(),
            dir.tmp(),
            dir.archive_shelf("i").parent().unwrap().to_path_buf(),
            dir.snapshots_of("i").parent().unwrap().to_path_buf(),
        ];
        assert_eq!(paths.len(), LAYOUT.len());
        for p in &paths {
            assert_eq!(p.parent(), Some(dir.path()), "{p:?}");
            let name = p.file_name().unwrap().to_str().unwrap();
            assert_eq!(LAYOUT.iter().filter(|e| e.name == name).count(), 1, "{name} in LAYOUT");
        }
        assert!(LAYOUT.iter().all(|e| e.what.ends_with('.')));
    }
}
