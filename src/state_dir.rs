//! The root's hidden state folder, `.wfhook`: the one place its layout is
//! spelled. Every file that wfhook keeps besides the documents is reached
//! through a [`StateDir`], and [`LAYOUT`] describes each for the manual and
//! the README, so that a new file is one entry here.
//!
//! It also owns how the state is reached. The root is shared with people
//! who may be unfriendly, and one of them could rename `.wfhook` and plant
//! a link or a folder of their own in its place. So the folder is opened
//! once, at start, beneath the root's handle and never through a link, and
//! checked to be the service's own; every state file is then opened through
//! that handle ([`StateDir::open_file`]), never by path. Its folders are its
//! owner's alone (0700) and so are its files (0600), whatever the umask.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustix::fs::{AtFlags, Mode, OFlags, Stat};

/// The state folder's name at the top of the root; never listed or served.
pub const NAME: &str = ".wfhook";

pub const STATE_LOG: &str = "state.jsonl";
const STATE_LOCK: &str = "state.lock";
const JOURNAL: &str = "journal.jsonl";
const API_KEY: &str = "api-key";
const LINK_SECRET: &str = "link-secret";
const ADMIN_TOKEN: &str = "admin-token";
/// The sub-folder of archived documents.
pub const ARCHIVE: &str = "archive";
/// The sub-folder of snapshots.
pub const SNAPSHOTS: &str = "snapshots";
/// The sub-folder of writes in progress.
pub const TMP: &str = "tmp";
/// The sub-folder of cached thumbnails.
pub const THUMBNAILS: &str = "thumbnails";

/// One file or folder of the state folder, as the documentation lists it.
pub struct Entry {
    /// Its name in the state folder.
    pub name: &'static str,
    /// What follows the name in the documentation (`/ID/` for a folder of
    /// folders named by id, `.N` for numbered copies of a file).
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
        what: "One final JSON line per request once its answer is out or cut: time, request id, method, \
               endpoint, action, documentId, documentVersionId, id, username, status, latency, error, bytes \
               sent and complete; a change also gets a line before it is answered, without the last two \
               (see Reading the journal). It never holds a key. A torn last line after a crash is skipped. \
               When the next line would take it past `--journal-max-bytes`, it is rotated.",
    },
    Entry {
        name: JOURNAL,
        below: ".N",
        what: "The rotated journals, `.1` the newest: at a rotation each is renamed to the next number, the \
               journal becomes `.1`, and those past `--journal-keep` are deleted. The dashboard's history and \
               `wfhook top`'s read on into them.",
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
        name: THUMBNAILS,
        below: "/KEY",
        what: "Thumbnails already made, one file per item, width and version of its bytes, at most \
               `--thumbnail-cache-bytes` of them, the least recently used removed first. Deleting them costs \
               rendering them again.",
    },
    Entry {
        name: TMP,
        below: "/PID-ID/",
        what: "Writes in progress, in one folder per running process, beside the PID-ID.lock file that the \
               process holds locked: new items, uploads and snapshots before they are renamed into place, \
               deleted items before they are removed. A start removes the folders whose process is gone, and \
               leaves those of a live instance sharing the root.",
    },
];

/// The state folder of one root: where it is, and once opened
/// ([`StateDir::open_beneath`], [`StateDir::open`]) a handle on it.
#[derive(Clone, Debug)]
pub struct StateDir {
    path: PathBuf,
    handle: Option<Arc<Handle>>,
}

/// The open state folder, and what it is (device and inode), so that it
/// is recognised under any other name someone gives it.
#[derive(Debug)]
struct Handle {
    fd: OwnedFd,
    identity: (u64, u64),
}

/// A file of the state folder, opened through its handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateFile {
    StateLog,
    StateLock,
    Journal,
    ApiKey,
    LinkSecret,
    AdminToken,
    /// The journal rotated `n` times ago, `n` from 1: `journal.jsonl.n`.
    RotatedJournal(u32),
}

impl StateFile {
    fn name(self) -> Cow<'static, str> {
        match self {
            StateFile::StateLog => STATE_LOG.into(),
            StateFile::StateLock => STATE_LOCK.into(),
            StateFile::Journal => JOURNAL.into(),
            StateFile::ApiKey => API_KEY.into(),
            StateFile::LinkSecret => LINK_SECRET.into(),
            StateFile::AdminToken => ADMIN_TOKEN.into(),
            StateFile::RotatedJournal(n) => format!("{JOURNAL}.{n}").into(),
        }
    }

    /// The rotated journal a name in the state folder is, if it is one:
    /// `journal.jsonl.` and a number from 1, written as wfhook writes it.
    fn rotated_number(name: &[u8]) -> Option<u32> {
        let digits = std::str::from_utf8(name.strip_prefix(JOURNAL.as_bytes())?.strip_prefix(b".")?).ok()?;
        let n: u32 = digits.parse().ok()?;
        (n > 0 && n.to_string() == digits).then_some(n)
    }
}

/// How a state file is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read an existing file.
    Read,
    /// Read, and append whole lines; made when missing.
    Append,
    /// Write (to lock it); made when missing, never truncated.
    Lock,
    /// Made here and now, failing if it exists (secrets that two instances
    /// might make at once).
    CreateNew,
}

impl Access {
    fn flags(self) -> OFlags {
        match self {
            Access::Read => OFlags::RDONLY,
            Access::Append => OFlags::RDWR | OFlags::APPEND | OFlags::CREATE,
            Access::Lock => OFlags::WRONLY | OFlags::CREATE,
            Access::CreateNew => OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL,
        }
    }
}

impl PartialEq for StateDir {
    fn eq(&self, other: &StateDir) -> bool {
        self.path == other.path
    }
}

impl StateDir {
    /// The state folder of `root`; nothing is touched on disk.
    pub fn of_root(root: &Path) -> StateDir {
        StateDir { path: root.join(NAME), handle: None }
    }

    /// The state folder at `path` itself (unit tests keep one in a temp folder).
    pub fn at(path: &Path) -> StateDir {
        StateDir { path: path.to_path_buf(), handle: None }
    }

    /// Opens the state folder beneath the handle `parent` of the folder
    /// that holds it (the root), making it and its sub-folders when
    /// missing. Refused: a link, anything but a folder, and a folder that
    /// another user owns (someone else's, planted where ours was). One an
    /// older version left open (0755) is closed.
    pub fn open_beneath(&self, parent: BorrowedFd<'_>) -> io::Result<StateDir> {
        let name = self.path.file_name().ok_or_else(|| io::Error::other("a state folder needs a name"))?;
        let fd = private_folder(parent, name)?;
        let st = rustix::fs::fstat(&fd)?;
        if st.st_uid != rustix::process::geteuid().as_raw() {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{} belongs to another user: refusing to keep state in it", self.path.display()),
            ));
        }
        for sub in [TMP, ARCHIVE, SNAPSHOTS] {
            private_folder(fd.as_fd(), OsStr::new(sub))?;
        }
        let handle = Handle { fd, identity: (st.st_dev, st.st_ino) };
        Ok(StateDir { path: self.path.clone(), handle: Some(Arc::new(handle)) })
    }

    /// [`StateDir::open_beneath`] the folder that holds this one, itself
    /// opened by path: for tests and tools, which trust that path.
    pub fn open(&self) -> io::Result<StateDir> {
        let parent = self.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent)?;
        let parent = rustix::fs::open(parent, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
        self.open_beneath(parent.as_fd())
    }

    fn handle(&self) -> io::Result<&Handle> {
        self.handle.as_deref().ok_or_else(|| io::Error::other("the state folder is not open"))
    }

    /// The open folder's handle.
    pub fn fd(&self) -> io::Result<BorrowedFd<'_>> {
        Ok(self.handle()?.fd.as_fd())
    }

    /// The open folder's device and inode: what it is, under any name.
    pub fn identity(&self) -> Option<(u64, u64)> {
        self.handle.as_ref().map(|h| h.identity)
    }

    /// Opens a state file through the folder's handle, never through a
    /// link. A file it makes is its owner's alone (0600) whatever the
    /// umask, and one an older version left readable by others is made so.
    pub fn open_file(&self, file: StateFile, access: Access) -> io::Result<File> {
        let flags = access.flags() | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(self.fd()?, &*file.name(), flags, Mode::from_raw_mode(FILE_MODE))?;
        // Fixed through the open descriptor: the very file opened.
        if rustix::fs::fstat(&fd)?.st_mode & 0o777 != FILE_MODE {
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(FILE_MODE))?;
        }
        Ok(File::from(fd))
    }

    /// What a state file is now; `NotFound` when missing.
    pub fn stat_file(&self, file: StateFile) -> io::Result<Stat> {
        Ok(rustix::fs::statat(self.fd()?, &*file.name(), AtFlags::SYMLINK_NOFOLLOW)?)
    }

    /// Renames the state file `from` over `to`, within the folder. Not
    /// synced: for the journal's rotation, where a rename that a crash
    /// undoes only leaves the journal longer.
    pub fn rename_file(&self, from: StateFile, to: StateFile) -> io::Result<()> {
        Ok(rustix::fs::renameat(self.fd()?, &*from.name(), self.fd()?, &*to.name())?)
    }

    /// Deletes the state file `file`.
    pub fn remove_file(&self, file: StateFile) -> io::Result<()> {
        Ok(rustix::fs::unlinkat(self.fd()?, &*file.name(), AtFlags::empty())?)
    }

    /// The numbers of the rotated journals in the folder, in ascending order.
    pub fn rotated_journals(&self) -> io::Result<Vec<u32>> {
        let mut numbers = Vec::new();
        for entry in rustix::fs::Dir::read_from(self.fd()?)? {
            if let Some(n) = StateFile::rotated_number(entry?.file_name().to_bytes()) {
                numbers.push(n);
            }
        }
        numbers.sort_unstable();
        Ok(numbers)
    }

    /// Renames `from` in the folder `dir` over the state file `to`, and
    /// syncs the state folder: a rewritten file replaces the old one whole.
    pub fn replace_file(&self, dir: BorrowedFd<'_>, from: &OsStr, to: StateFile) -> io::Result<()> {
        rustix::fs::renameat(dir, from, self.fd()?, &*to.name())?;
        Ok(rustix::fs::fsync(self.fd()?)?)
    }

    /// One of the state folder's sub-folders ([`TMP`], [`ARCHIVE`],
    /// [`SNAPSHOTS`]), opened through the folder's handle.
    pub fn subfolder(&self, sub: &str) -> io::Result<OwnedFd> {
        private_folder(self.fd()?, OsStr::new(sub))
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

    /// The journal rotated `n` times ago (`n` from 1).
    pub fn rotated_journal(&self, n: u32) -> PathBuf {
        self.path.join(&*StateFile::RotatedJournal(n).name())
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

    /// The cached thumbnails.
    pub fn thumbnails(&self) -> PathBuf {
        self.path.join(THUMBNAILS)
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

/// The folder `name` in `dir`, made when missing and opened without
/// following a link, private to its owner (0700) whatever the umask; one an
/// older version left open (0755) is closed.
pub fn private_folder(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<OwnedFd> {
    match rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(DIR_MODE)) {
        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
        Err(e) => return Err(e.into()),
    }
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(dir, name, flags, Mode::empty()).map_err(|e| match e {
        rustix::io::Errno::NOTDIR | rustix::io::Errno::LOOP => {
            io::Error::new(io::ErrorKind::AlreadyExists, "a file or a link stands where a state folder belongs")
        }
        e => e.into(),
    })?;
    if rustix::fs::fstat(&fd)?.st_mode & 0o777 != DIR_MODE {
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(DIR_MODE))?;
    }
    Ok(fd)
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
    use std::fs::{self, Permissions};
    use std::io::{Read, Write};
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
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
                let dir = StateDir::of_root(root.path()).open().unwrap();
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
        dir.open().unwrap();
        assert_eq!(mode(dir.path()), DIR_MODE);
        assert_eq!(mode(&dir.tmp()), DIR_MODE);
        assert_eq!(fs::read(dir.tmp().join("upload")).unwrap(), b"kept");
        // A file, or a link, where the folder belongs is an error, not a chmod.
        let other = tempfile::tempdir().unwrap();
        fs::write(other.path().join(NAME), b"").unwrap();
        assert!(StateDir::of_root(other.path()).open().is_err());
        let linked = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(root.path().join(NAME), linked.path().join(NAME)).unwrap();
        assert!(StateDir::of_root(linked.path()).open().is_err(), "a state folder reached through a link");
    }

    #[test]
    fn files_are_created_private_whatever_the_umask() {
        for mask in [0o000, 0o022] {
            with_umask(mask, || {
                let dir = tempfile::tempdir().unwrap();
                let state = StateDir::at(&dir.path().join("s")).open().unwrap();
                state.open_file(StateFile::StateLock, Access::Lock).unwrap();
                assert_eq!(mode(&state.state_lock()), FILE_MODE, "umask {mask:03o}");
                state.open_file(StateFile::ApiKey, Access::CreateNew).unwrap();
                assert_eq!(mode(&state.api_key()), FILE_MODE, "umask {mask:03o}");
                assert!(state.open_file(StateFile::ApiKey, Access::CreateNew).is_err(), "made twice");
            });
        }
    }

    #[test]
    fn files_an_older_version_left_readable_are_made_private() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::at(&dir.path().join("s")).open().unwrap();
        let path = state.state_log();
        fs::write(&path, b"{}\n").unwrap();
        fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();
        // Opened for reading only, it is still fixed, and its bytes kept.
        let mut text = String::new();
        state.open_file(StateFile::StateLog, Access::Read).unwrap().read_to_string(&mut text).unwrap();
        assert_eq!(text, "{}\n");
        assert_eq!(mode(&path), FILE_MODE);
        fs::set_permissions(&path, Permissions::from_mode(0o666)).unwrap();
        state.open_file(StateFile::StateLog, Access::Append).unwrap().write_all(b"[]\n").unwrap();
        assert_eq!(mode(&path), FILE_MODE);
        assert_eq!(fs::read(&path).unwrap(), b"{}\n[]\n");
        // Opening what is missing without making it fails as before, and a
        // link planted in the folder is never followed.
        assert_eq!(state.open_file(StateFile::Journal, Access::Read).unwrap_err().kind(), io::ErrorKind::NotFound);
        std::os::unix::fs::symlink("/etc/passwd", state.admin_token()).unwrap();
        assert!(state.open_file(StateFile::AdminToken, Access::Read).is_err());
    }

    #[test]
    fn the_folder_is_known_under_any_name() {
        let root = tempfile::tempdir().unwrap();
        let state = StateDir::of_root(root.path()).open().unwrap();
        // Someone renames it and plants a folder of their own in its place:
        // the handle still reaches the real one.
        fs::rename(state.path(), root.path().join("moved")).unwrap();
        fs::create_dir(state.path()).unwrap();
        state.open_file(StateFile::Journal, Access::Append).unwrap().write_all(b"x\n").unwrap();
        assert_eq!(fs::read(root.path().join("moved").join(JOURNAL)).unwrap(), b"x\n");
        assert!(!state.journal().exists());
        let moved = fs::metadata(root.path().join("moved")).unwrap();
        assert_eq!(state.identity(), Some((moved.dev(), moved.ino())));
    }

    #[test]
    fn rotated_journals_are_named_listed_renamed_and_removed_through_the_handle() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::at(&dir.path().join("s")).open().unwrap();
        assert_eq!(state.rotated_journal(12).file_name().unwrap(), "journal.jsonl.12");
        for n in [3, 1, 12] {
            fs::write(state.rotated_journal(n), n.to_string()).unwrap();
        }
        // Only the names wfhook writes count: no 0, no leading zero or sign.
        for other in ["journal.jsonl.0", "journal.jsonl.01", "journal.jsonl.+2", "journal.jsonl.x", "journal.jsonl."] {
            fs::write(dir.path().join("s").join(other), b"").unwrap();
        }
        state.open_file(StateFile::Journal, Access::Append).unwrap();
        assert_eq!(state.rotated_journals().unwrap(), [1, 3, 12]);
        state.rename_file(StateFile::RotatedJournal(3), StateFile::RotatedJournal(4)).unwrap();
        state.remove_file(StateFile::RotatedJournal(12)).unwrap();
        state.rename_file(StateFile::Journal, StateFile::RotatedJournal(1)).unwrap();
        assert_eq!(state.rotated_journals().unwrap(), [1, 4]);
        assert_eq!(fs::read(state.rotated_journal(4)).unwrap(), b"3");
        assert_eq!(fs::read(state.rotated_journal(1)).unwrap(), b"", "the journal replaced the old .1");
        assert_eq!(state.stat_file(StateFile::Journal).unwrap_err().kind(), io::ErrorKind::NotFound);
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
            dir.rotated_journal(3),
            dir.api_key(),
            dir.link_secret(),
            dir.admin_token(),
            dir.tmp(),
            dir.archive_shelf("i").parent().unwrap().to_path_buf(),
            dir.snapshots_of("i").parent().unwrap().to_path_buf(),
            dir.thumbnails(),
        ];
        assert_eq!(paths.len(), LAYOUT.len());
        // A file of many numbered copies is documented once, as `NAME.N`.
        let documented = |e: &Entry| if e.below == ".N" { format!("{}.N", e.name) } else { e.name.to_string() };
        for p in &paths {
            assert_eq!(p.parent(), Some(dir.path()), "{p:?}");
            let name = p.file_name().unwrap().to_str().unwrap();
            let name = match name.rsplit_once('.') {
                Some((base, n)) if n.parse::<u32>().is_ok() => format!("{base}.N"),
                _ => name.to_string(),
            };
            assert_eq!(LAYOUT.iter().filter(|e| documented(e) == name).count(), 1, "{name} in LAYOUT");
        }
        assert!(LAYOUT.iter().all(|e| e.what.ends_with('.')));
    }
}
