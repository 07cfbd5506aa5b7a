//! The root's hidden state folder, `.wfhook`: the one place its layout is
//! spelled. Every file that wfhook keeps besides the documents is reached
//! through a [`StateDir`], and [`LAYOUT`] describes each for the manual and
//! the README, so that a new file is one entry here.
//!
//! It also owns who may read the state: its folders are its owner's alone
//! (0700, [`create_private_dir`]) and so are its files (0600, opened with
//! [`open_private`]), whatever the umask.

use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
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
    Entry { name: API_KEY, below: "", what: "The generated API key, when no key is configured." },
    Entry {
        name: LINK_SECRET,
        below: "",
        what: "The secret that signs browser links. Every instance sharing the root accepts the same links.",
    },
    Entry { name: ADMIN_TOKEN, below: "", what: "The token for /events and wfhook top." },
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

    /// Creates the folder and its sub-folders where they are missing, each
    /// private to its owner (0700); ones an older version left open are
    /// closed.
    pub fn create(&self) -> io::Result<()> {
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent)?;
        }
        // The folder first: it is what keeps others out of everything below.
        create_private_dir(&self.path)?;
        for d in [TMP, ARCHIVE, SNAPSHOTS] {
            create_private_dir(&self.path.join(d))?;
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

/// Mode of the state folder and of every folder in it.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file wfhook creates in the state folder.
pub const FILE_MODE: u32 = 0o600;

/// Creates the folder `path` (its parent must exist) private to its owner
/// (0700), or makes an existing one so.
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    match DirBuilder::new().mode(DIR_MODE).create(path) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        other => other?,
    }
    let meta = fs::metadata(path)?;
    if !meta.is_dir() {
        return Err(io::Error::new(io::ErrorKind::AlreadyExists, "a file stands where a state folder belongs"));
    }
    // The umask may have taken bits off a new folder, and older versions
    // left theirs readable by all (0755).
    if meta.permissions().mode() & 0o777 != DIR_MODE {
        fs::set_permissions(path, Permissions::from_mode(DIR_MODE))?;
    }
    Ok(())
}

/// Opens the state file at `path` as `opts` says; a file it creates is
/// readable and writable by its owner alone (0600) whatever the umask, and
/// an existing file an older version left readable by others (0644) is made
/// so too. Every file wfhook keeps in the state folder is opened here.
pub fn open_private(path: &Path, opts: &mut OpenOptions) -> io::Result<File> {
    let file = opts.mode(FILE_MODE).open(path)?;
    // Fixed through the open descriptor (fchmod): the very file opened,
    // whatever its name points at by now.
    if file.metadata()?.permissions().mode() & 0o777 != FILE_MODE {
        file.set_permissions(Permissions::from_mode(FILE_MODE))?;
    }
    Ok(file)
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
    use std::io::{Read, Write};
    use std::sync::Mutex;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// Runs `f` under the process umask `mask`, restored after, even on a
    /// panic. The umask is the process's: tests that set it take turns.
    fn with_umask(mask: u32, f: impl FnOnce()) {
        use rustix::fs::Mode;
        use rustix::process::umask;
        static TURN: Mutex<()> = Mutex::new(());
        struct Restore(Mode);
        impl Drop for Restore {
            fn drop(&mut self) {
                umask(self.0);
            }
        }
        let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
        let _restore = Restore(umask(Mode::from_raw_mode(mask)));
        f();
    }

    #[test]
    fn folders_are_private_whatever_the_umask() {
        for mask in [0o000, 0o022, 0o077] {
            with_umask(mask, || {
                let root = tempfile::tempdir().unwrap();
                let dir = StateDir::of_root(root.path());
                dir.create().unwrap();
                for p in [dir.path().to_path_buf(), dir.tmp(), dir.path().join(ARCHIVE), dir.path().join(SNAPSHOTS)] {
                    assert_eq!(mode(&p), DIR_MODE, "{p:?} under umask {mask:03o}");
                }
            });
        }
    }

    #[test]
    fn folders_an_older_version_left_open_are_closed() {
        let root = tempfile::tempdir().unwrap();
        let dir = StateDir::of_root(root.path());
        for d in [dir.path().to_path_buf(), dir.tmp()] {
            fs::create_dir(&d).unwrap();
            fs::set_permissions(&d, Permissions::from_mode(0o755)).unwrap();
        }
        fs::write(dir.tmp().join("upload"), b"kept").unwrap();
        dir.create().unwrap();
        assert_eq!(mode(dir.path()), DIR_MODE);
        assert_eq!(mode(&dir.tmp()), DIR_MODE);
        assert_eq!(fs::read(dir.tmp().join("upload")).unwrap(), b"kept");
        // A file where a folder belongs is an error, not a chmod.
        let other = tempfile::tempdir().unwrap();
        fs::write(other.path().join(NAME), b"").unwrap();
        assert!(StateDir::of_root(other.path()).create().is_err());
    }

    #[test]
    fn files_are_created_private_whatever_the_umask() {
        for mask in [0o000, 0o022] {
            with_umask(mask, || {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("state.lock");
                open_private(&path, OpenOptions::new().create(true).truncate(false).write(true)).unwrap();
                assert_eq!(mode(&path), FILE_MODE, "umask {mask:03o}");
                let path = dir.path().join("api-key");
                open_private(&path, OpenOptions::new().write(true).create_new(true)).unwrap();
                assert_eq!(mode(&path), FILE_MODE, "umask {mask:03o}");
            });
        }
    }

    #[test]
    fn files_an_older_version_left_readable_are_made_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.jsonl");
        fs::write(&path, b"{}\n").unwrap();
        fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();
        // Opened for reading only, it is still fixed, and its bytes kept.
        let mut text = String::new();
        open_private(&path, OpenOptions::new().read(true)).unwrap().read_to_string(&mut text).unwrap();
        assert_eq!(text, "{}\n");
        assert_eq!(mode(&path), FILE_MODE);
        fs::set_permissions(&path, Permissions::from_mode(0o666)).unwrap();
        open_private(&path, OpenOptions::new().append(true)).unwrap().write_all(b"[]\n").unwrap();
        assert_eq!(mode(&path), FILE_MODE);
        assert_eq!(fs::read(&path).unwrap(), b"{}\n[]\n");
        // Opening what is missing without creating it fails as before.
        let missing = dir.path().join("missing");
        assert_eq!(open_private(&missing, OpenOptions::new().read(true)).unwrap_err().kind(), io::ErrorKind::NotFound);
    }

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
