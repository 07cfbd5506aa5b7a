//! Resolving paths beneath the root: the one place where a relative path
//! from the state log becomes an open handle.
//!
//! The root is shared with people and tools, and some may be unfriendly: a
//! local user can swap a folder for a symbolic link while a request runs.
//! So a path is never checked and then used again. It is resolved once,
//! atomically, by the kernel, beneath a handle on the root that was opened
//! at start, with no symbolic link followed at any component: `openat2`
//! with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`.
//! Where the kernel lacks `openat2` (before Linux 5.6, or a seccomp filter
//! that refuses it), the same rule is kept by a walk that opens one
//! component at a time with `O_NOFOLLOW`, each beneath the handle of the
//! one before. Everything after that works through the handles it returns
//! (`*at` calls relative to an open folder), so a rename or a swap after
//! the resolution changes nothing about what is touched.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{Mode, OFlags, ResolveFlags};

use super::paths;

/// A handle on the root folder, and how to resolve beneath it.
pub struct Beneath {
    root: OwnedFd,
    /// False once the kernel refused `openat2`: the walk is used from then on.
    openat2: AtomicBool,
}

/// What every resolution refuses: a symbolic link at any component, an
/// escape from the root, and `/proc` magic links.
const RESOLVE: ResolveFlags = ResolveFlags::BENEATH.union(ResolveFlags::NO_SYMLINKS).union(ResolveFlags::NO_MAGICLINKS);

/// A folder, opened to list it or to work in it with `*at` calls.
pub const DIR: OFlags = OFlags::RDONLY.union(OFlags::DIRECTORY).union(OFlags::CLOEXEC);

impl Beneath {
    /// Opens the root folder at `path` (the operator's own setting: it may
    /// itself be reached through links).
    pub fn open(path: &Path) -> io::Result<Beneath> {
        let root = rustix::fs::open(path, DIR, Mode::empty())?;
        Ok(Beneath { root, openat2: AtomicBool::new(true) })
    }

    /// The root's handle.
    pub fn root(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    /// Opens `rel` (a checked relative path, `""` for the root) with
    /// `flags`, never following a symbolic link. A link, an escape or a
    /// missing component is `NotFound`.
    pub fn open_at(&self, rel: &str, flags: OFlags, mode: Mode) -> io::Result<OwnedFd> {
        let flags = flags | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let disk = to_disk(rel)?;
        if disk.is_empty() {
            return Ok(rustix::fs::openat(self.root(), ".", flags, mode)?);
        }
        if self.openat2.load(Ordering::Relaxed) {
            // A rename elsewhere in the tree may make the kernel ask for a
            // retry (EAGAIN); a few are plenty.
            for _ in 0..8 {
                match rustix::fs::openat2(self.root(), disk.as_os_str(), flags, mode, RESOLVE) {
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
        self.walk(&disk, flags, mode)
    }

    /// The fallback: one component at a time, each opened with `O_NOFOLLOW`
    /// beneath the handle of the folder before it.
    fn walk(&self, disk: &OsStr, flags: OFlags, mode: Mode) -> io::Result<OwnedFd> {
        let parts: Vec<&[u8]> = disk.as_bytes().split(|&b| b == b'/').collect();
        let (last, folders) = parts.split_last().expect("a non-empty path has a last component");
        let mut dir: Option<OwnedFd> = None;
        for part in folders {
            let at = dir.as_ref().map_or(self.root(), |d| d.as_fd());
            let next = rustix::fs::openat(at, OsStr::from_bytes(part), DIR | OFlags::NOFOLLOW, Mode::empty())
                .map_err(refused)?;
            dir = Some(next);
        }
        let at = dir.as_ref().map_or(self.root(), |d| d.as_fd());
        rustix::fs::openat(at, OsStr::from_bytes(last), flags, mode).map_err(refused)
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
        Errno::LOOP | Errno::XDEV | Errno::NOTDIR | Errno::NOENT => {
            io::Error::new(io::ErrorKind::NotFound, "no such item beneath the root")
        }
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
}
