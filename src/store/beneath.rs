//! Resolving paths beneath the root: the one place where a relative path
//! from the state log becomes an open handle.
//!
//! The root is shared with people and tools, and some may be unfriendly: a
//! local user can swap a folder for a symbolic link while a request runs,
//! or move the state folder `.wfhook` somewhere below the root. So a path
//! is never checked and then used again. A document's path is walked one
//! component at a time beneath a handle on the root opened at start, each
//! component opened with `O_NOFOLLOW` beneath the handle of the one before,
//! and each folder on the way checked (by device and inode) not to be the
//! state folder, whatever it is called now. A path into the state folder is
//! resolved beneath the state folder's own handle, where nobody else may
//! write, in one step: `openat2` with `RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS` (or the same walk where the
//! kernel lacks `openat2`). Everything after that works through the handles
//! returned (`*at` calls relative to an open folder), so a rename or a swap
//! after the resolution changes nothing about what is touched.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{Mode, OFlags, ResolveFlags, Stat};

use super::paths;
use crate::state_dir::{self, StateDir};

/// A handle on the root folder, and how to resolve beneath it.
pub struct Beneath {
    root: OwnedFd,
    /// False once the kernel refused `openat2`: the walk is used from then on.
    openat2: AtomicBool,
    /// The state folder, once open: paths into it go through its own
    /// handle, and beneath the root it is refused under any name, so that
    /// renaming it (anyone who may write into the root can) never makes it
    /// reachable as a document.
    state: Option<StateDir>,
}

/// What every resolution refuses: a symbolic link at any component, an
/// escape from the root, and `/proc` magic links.
const RESOLVE: ResolveFlags = ResolveFlags::BENEATH.union(ResolveFlags::NO_SYMLINKS).union(ResolveFlags::NO_MAGICLINKS);

/// A folder, opened to list it or to work in it with `*at` calls.
pub const DIR: OFlags = OFlags::RDONLY.union(OFlags::DIRECTORY).union(OFlags::CLOEXEC);

/// The payload of a `NotFound` that a link (or a file, or the state folder)
/// standing in the way caused, as opposed to nothing being there.
#[derive(Debug)]
struct InTheWay;

impl std::fmt::Display for InTheWay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("something other than a folder stands in the way")
    }
}

impl std::error::Error for InTheWay {}

/// True for an error that a link, a file or the state folder standing in
/// the way caused, where nothing being there would be plain `NotFound`:
/// the client sees both alike, but an intent's check must not take the one
/// for the other.
pub fn in_the_way(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<InTheWay>())
}

impl Beneath {
    /// Opens the root folder at `path` (the operator's own setting: it may
    /// itself be reached through links).
    pub fn open(path: &Path) -> io::Result<Beneath> {
        let root = rustix::fs::open(path, DIR, Mode::empty())?;
        Ok(Beneath { root, openat2: AtomicBool::new(true), state: None })
    }

    /// From now on, paths into the state folder go through `state`'s
    /// handle, and the folder is refused beneath the root under any name.
    pub fn with_state(mut self, state: StateDir) -> Beneath {
        self.state = Some(state);
        self
    }

    /// The root's handle.
    pub fn root(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    /// True when `st` is the state folder.
    pub fn is_state(&self, st: &Stat) -> bool {
        self.state.as_ref().and_then(StateDir::identity) == Some((st.st_dev, st.st_ino))
    }

    /// Opens `rel` (a checked relative path, `""` for the root) with
    /// `flags`, never following a symbolic link. A link, an escape or a
    /// missing component is `NotFound`.
    ///
    /// Documents are walked one component at a time (`O_NOFOLLOW` beneath
    /// the handle of the folder before), each folder checked not to be the
    /// state folder: a folder has one name at a time, but anyone who may
    /// write into the root may move `.wfhook` anywhere below it, and a
    /// resolution in one step could not tell. Paths into the state folder
    /// go through its own handle, where nobody else may write, in one step
    /// (`openat2`).
    pub fn open_at(&self, rel: &str, flags: OFlags, mode: Mode) -> io::Result<OwnedFd> {
        let flags = flags | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let disk = to_disk(rel)?;
        if disk.is_empty() {
            return Ok(rustix::fs::openat(self.root(), ".", flags, mode)?);
        }
        let bytes = disk.as_bytes();
        if let Some(state) = &self.state
            && let Some(rest) = bytes.strip_prefix(state_dir::NAME.as_bytes())
            && (rest.is_empty() || rest.starts_with(b"/"))
        {
            let base = state.fd()?;
            return match rest.strip_prefix(b"/") {
                Some(rest) => self.resolve(base, OsStr::from_bytes(rest), flags, mode),
                None => Ok(rustix::fs::openat(base, ".", flags, mode)?),
            };
        }
        if self.state.is_none() {
            // Nothing to tell apart: the kernel resolves it in one step.
            return self.resolve(self.root(), disk.as_os_str(), flags, mode);
        }
        self.walk(self.root(), disk.as_os_str(), flags, mode)
    }

    /// Opens `rest` beneath the folder `base` in one step, `openat2`, where
    /// the kernel has it; else by the walk.
    fn resolve(&self, base: BorrowedFd<'_>, rest: &OsStr, flags: OFlags, mode: Mode) -> io::Result<OwnedFd> {
        if self.openat2.load(Ordering::Relaxed) {
            // A rename elsewhere in the tree may make the kernel ask for a
            // retry (EAGAIN); a few are plenty.
            for _ in 0..8 {
                match rustix::fs::openat2(base, rest, flags, mode, RESOLVE) {
                    Ok(fd) => return Ok(fd),
                    Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => continue,
                    Err(rustix::io::Errno::NOSYS | rustix::io::Errno::PERM) => {
                        // No openat2 here (or a filter forbids it): walk.
                        self.openat2.store(false, Ordering::Relaxed);
                        break;
                    }
                    Err(e) => return Err(refused(e)),
                }
            }
        }
        self.walk(base, rest, flags, mode)
    }

    /// One component at a time, each opened with `O_NOFOLLOW` beneath the
    /// handle of the folder before it, and each folder on the way (and the
    /// end, when it is one) checked not to be the state folder.
    fn walk(&self, base: BorrowedFd<'_>, rest: &OsStr, flags: OFlags, mode: Mode) -> io::Result<OwnedFd> {
        let parts: Vec<&[u8]> = rest.as_bytes().split(|&b| b == b'/').collect();
        let (last, folders) = parts.split_last().expect("a non-empty path has a last component");
        let mut dir: Option<OwnedFd> = None;
        for part in folders {
            let at = dir.as_ref().map_or(base, |d| d.as_fd());
            let next = rustix::fs::openat(at, OsStr::from_bytes(part), DIR | OFlags::NOFOLLOW, Mode::empty())
                .map_err(refused)?;
            self.refuse_state(&next)?;
            dir = Some(next);
        }
        let at = dir.as_ref().map_or(base, |d| d.as_fd());
        let end = rustix::fs::openat(at, OsStr::from_bytes(last), flags, mode).map_err(refused)?;
        self.refuse_state(&end)?;
        Ok(end)
    }

    /// `NotFound` when `fd` is the state folder.
    fn refuse_state(&self, fd: &OwnedFd) -> io::Result<()> {
        if self.state.is_some() && self.is_state(&rustix::fs::fstat(fd)?) {
            return Err(io::Error::new(io::ErrorKind::NotFound, InTheWay));
        }
        Ok(())
    }

    /// Opens the folder `rel`.
    pub fn open_dir(&self, rel: &str) -> io::Result<OwnedFd> {
        self.open_at(rel, DIR, Mode::empty())
    }

    /// Opens the folder that holds `rel`, and gives `rel`'s name as the disk
    /// spells it: the pair that a `*at` call works through.
    pub fn parent(&self, rel: &str) -> io::Result<(OwnedFd, OsString)> {
        let dir = self.open_dir(paths::parent(rel))?;
        Ok((dir, to_disk(paths::file_name(rel))?))
    }

    /// Forces the component walk, as on a kernel without `openat2`, so that
    /// tests cover both ways.
    #[cfg(test)]
    pub fn without_openat2(self) -> Beneath {
        self.openat2.store(false, Ordering::Relaxed);
        self
    }
}

/// A symbolic link on the way (`ELOOP`, or `ENOTDIR` for a link where a
/// folder should be) or an escape (`EXDEV`) reads as a missing item: the
/// client learns nothing about what lies behind it.
fn refused(e: rustix::io::Errno) -> io::Error {
    use rustix::io::Errno;
    match e {
        Errno::NOENT => io::Error::new(io::ErrorKind::NotFound, "no such item beneath the root"),
        Errno::LOOP | Errno::XDEV | Errno::NOTDIR => io::Error::new(io::ErrorKind::NotFound, InTheWay),
        e => e.into(),
    }
}

/// A checked relative path as the disk spells it: the escapes that the
/// state log uses for names that are not UTF-8 undone.
pub fn to_disk(rel: &str) -> io::Result<OsString> {
    paths::decode(rel)
        .map(OsString::from_vec)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a relative path of this store"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    /// Both ways of resolving, on a root holding a folder, a file, and
    /// links inside and out.
    fn roots() -> (tempfile::TempDir, Vec<Beneath>) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        fs::create_dir_all(root.join("a/b")).unwrap();
        fs::write(root.join("a/b/f.txt"), "inside").unwrap();
        fs::create_dir(dir.path().join("outside")).unwrap();
        fs::write(dir.path().join("outside/secret"), "secret").unwrap();
        symlink(dir.path().join("outside"), root.join("out")).unwrap();
        symlink("a", root.join("in")).unwrap();
        symlink("b/f.txt", root.join("a/f-link")).unwrap();
        let both = vec![Beneath::open(&root).unwrap(), Beneath::open(&root).unwrap().without_openat2()];
        for b in &both {
            assert!(read(b, "a/b/f.txt").is_ok());
        }
        (dir, both)
    }

    fn read(b: &Beneath, rel: &str) -> io::Result<String> {
        let fd = b.open_at(rel, OFlags::RDONLY, Mode::empty())?;
        let mut s = String::new();
        std::io::Read::read_to_string(&mut fs::File::from(fd), &mut s)?;
        Ok(s)
    }

    #[test]
    fn resolves_beneath_the_root_and_never_through_a_link() {
        let (_dir, both) = roots();
        for b in &both {
            assert_eq!(read(b, "a/b/f.txt").unwrap(), "inside");
            // A link anywhere on the way is refused, inside the root or not.
            for rel in ["out/secret", "in/b/f.txt", "a/f-link", "out", "in"] {
                let e = read(b, rel).unwrap_err();
                assert_eq!(e.kind(), io::ErrorKind::NotFound, "{rel}: {e}");
            }
            assert_eq!(read(b, "a/nope").unwrap_err().kind(), io::ErrorKind::NotFound);
            assert!(b.open_dir("").is_ok() && b.open_dir("a/b").is_ok());
            let (dir, name) = b.parent("a/b/f.txt").unwrap();
            assert_eq!(name, "f.txt");
            assert!(rustix::fs::statat(&dir, &name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW).is_ok());
        }
    }

    #[test]
    fn a_handle_keeps_its_folder_when_the_path_is_swapped_for_a_link() {
        let (dir, both) = roots();
        let root = dir.path().join("root");
        for b in &both {
            let (folder, name) = b.parent("a/b/f.txt").unwrap();
            // Someone swaps `a/b` for a link to the outside.
            fs::rename(root.join("a/b"), root.join("a/real")).unwrap();
            symlink(dir.path().join("outside"), root.join("a/b")).unwrap();
            let f = rustix::fs::openat(&folder, &name, OFlags::RDONLY, Mode::empty()).unwrap();
            let mut s = String::new();
            std::io::Read::read_to_string(&mut fs::File::from(f), &mut s).unwrap();
            assert_eq!(s, "inside", "the handle still names the folder that was resolved");
            assert_eq!(read(b, "a/b/secret").unwrap_err().kind(), io::ErrorKind::NotFound);
            fs::remove_file(root.join("a/b")).unwrap();
            fs::rename(root.join("a/real"), root.join("a/b")).unwrap();
        }
    }

    #[test]
    fn the_state_folder_is_reached_only_through_its_handle_whatever_its_name() {
        let (dir, _) = roots();
        let root = dir.path().join("root");
        let state = StateDir::of_root(&root).open().unwrap();
        fs::write(state.link_secret(), "secret").unwrap();
        for b in [Beneath::open(&root).unwrap(), Beneath::open(&root).unwrap().without_openat2()] {
            let b = b.with_state(state.clone());
            assert_eq!(read(&b, ".wfhook/link-secret").unwrap(), "secret", "through its own handle");
            // Renamed by someone who may write into the root, with a folder
            // of theirs planted under the old name: the real one is refused
            // under its new name, and the plant is never taken for it.
            fs::rename(state.path(), root.join("visible")).unwrap();
            fs::create_dir(state.path()).unwrap();
            fs::write(state.link_secret(), "planted").unwrap();
            let e = read(&b, "visible/link-secret").unwrap_err();
            assert!(e.kind() == io::ErrorKind::NotFound && in_the_way(&e), "{e}");
            assert!(b.open_dir("visible").is_err());
            assert_eq!(read(&b, ".wfhook/link-secret").unwrap(), "secret");
            fs::remove_dir_all(state.path()).unwrap();
            fs::rename(root.join("visible"), state.path()).unwrap();
        }
        // Nothing there is plain NotFound; a link in the way is told apart.
        let b = Beneath::open(&root).unwrap();
        assert!(!in_the_way(&read(&b, "a/nope").unwrap_err()));
        assert!(in_the_way(&read(&b, "in/b/f.txt").unwrap_err()));
    }
}
