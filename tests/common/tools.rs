//! What the tests need from the machine: free loopback ports, a process's
//! `/proc` figures, the names in a folder and a whole folder tree, the
//! tests' knobs from the environment and a seeded [`Rng`] to pick
//! operations with, lines on the real stderr, and the
//! tools some tests drive (tmux, groff, nginx…), skipped visibly where they
//! are missing. Std only: the benches include this file too.

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};

/// `N` distinct ports on 127.0.0.1 that were free a moment ago (all bound
/// at once, so no two are the same).
pub fn free_ports<const N: usize>() -> [u16; N] {
    let held: [TcpListener; N] = std::array::from_fn(|_| TcpListener::bind("127.0.0.1:0").expect("a free port"));
    held.map(|l| l.local_addr().expect("a bound address").port())
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let [port] = free_ports();
    port
}

/// A numeric field of `/proc/PID/status`, the first number after `key`
/// (e.g. `"VmRSS:"`, in KiB, or `"Threads:"`).
pub fn proc_status(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix(key)?.split_whitespace().next()?.parse().ok())
}

/// The names in folder `dir`, sorted.
pub fn on_disk(dir: &Path) -> Vec<String> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    let mut names: Vec<String> = entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// The files under a state folder's `tmp/`: writes in progress, or left by
/// a crash. Each process's own folder there has a lock file beside it,
/// which the process holds while it lives: not a temp file.
pub fn temp_files(tmp: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![tmp.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())).flatten() {
            let path = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                todo.push(path);
            } else if !(dir == tmp && path.extension().is_some_and(|x| x == "lock")) {
                out.push(path);
            }
        }
    }
    out
}

/// `tool`'s path: on `PATH`, or in the sbin folders a non-root `PATH` lacks.
fn find_tool(tool: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(tool))
        .find(|p| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// The tools' paths. When one is missing: under CI (`CI` set and not
/// empty) the test fails; elsewhere it says `skipped: needs TOOL` on stderr
/// and the caller returns (see [`skip_unless_ci`]).
pub fn tools_or_skip(tools: &[&str]) -> Option<Vec<PathBuf>> {
    let found: Vec<Option<PathBuf>> = tools.iter().map(|t| find_tool(t)).collect();
    let missing: Vec<&str> = tools.iter().zip(&found).filter(|(_, p)| p.is_none()).map(|(t, _)| *t).collect();
    if missing.is_empty() {
        return Some(found.into_iter().flatten().collect());
    }
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("CI is set but these are not installed: {} (.ci/run installs them)", missing.join(", "));
    }
    skip_unless_ci(&format!("needs {}", missing.join(", ")));
    None
}

/// A test that cannot run here says `skipped: WHY (TEST)` on stderr, and
/// its caller returns; under CI (`CI` set and not empty) it fails instead.
pub fn skip_unless_ci(why: &str) {
    let test = std::thread::current().name().unwrap_or("a test").to_string();
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("CI is set but {test} cannot run: {why}");
    }
    say(&format!("skipped: {why} ({test})"));
}

/// Writes one line to the process's stderr itself, not through
/// `eprintln!`, which libtest captures and shows only for a failing test:
/// a developer sees skips and the race and crash tests' counts in
/// `cargo test`'s output.
pub fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// The number in environment variable `name` (a test's knob, such as
/// `WFHOOK_RACE_SECS`), or `default` when it is unset; panics on a value
/// that does not parse, so that a typo is not silently the default.
pub fn knob<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => {
            v.trim().parse().unwrap_or_else(|_| panic!("{name}={v:?} is not a number of the expected kind"))
        }
        _ => default,
    }
}

/// xorshift64*: small, seeded, good enough to pick operations.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn pick<T: Clone>(&mut self, from: &[T]) -> Option<T> {
        (!from.is_empty()).then(|| from[self.below(from.len() as u64) as usize].clone())
    }
}

/// One entry of a folder tree as [`tree`] records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// A folder and its permission bits (`mode & 0o7777`).
    Dir(u32),
    /// A file, its permission bits and its bytes.
    File(u32, Vec<u8>),
    /// A symbolic link and where it points.
    Link(PathBuf),
    /// Anything else (a FIFO, a socket, a device).
    Other,
}

/// A folder's contents as [`tree`] records them.
pub type Tree = std::collections::BTreeMap<PathBuf, Node>;

/// Everything below `dir` (not `dir` itself), by path relative to it: each
/// folder, file (with its mode and bytes) and link, never following a
/// link. Two trees of one folder, taken before and after, say whether
/// anything in it was written, created, deleted or re-moded meanwhile.
pub fn tree(dir: &Path) -> Tree {
    use std::os::unix::fs::PermissionsExt;
    fn walk(dir: &Path, rel: &Path, out: &mut Tree) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let (path, r) = (e.path(), rel.join(e.file_name()));
            let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
            let mode = meta.permissions().mode() & 0o7777;
            let node = if meta.file_type().is_symlink() {
                Node::Link(std::fs::read_link(&path).unwrap_or_default())
            } else if meta.is_dir() {
                walk(&path, &r, out);
                Node::Dir(mode)
            } else if meta.is_file() {
                Node::File(mode, std::fs::read(&path).unwrap_or_default())
            } else {
                Node::Other
            };
            out.insert(r, node);
        }
    }
    let mut out = Tree::new();
    walk(dir, Path::new(""), &mut out);
    out
}

/// What differs between two [`tree`]s, one line per path (empty when they
/// are the same).
pub fn tree_diff(before: &Tree, after: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    for (p, node) in before {
        match after.get(p) {
            None => out.push(format!("{} was removed", p.display())),
            Some(n) if n != node => out.push(format!("{} changed: {}", p.display(), describe(node, n))),
            Some(_) => {}
        }
    }
    for p in after.keys().filter(|p| !before.contains_key(*p)) {
        out.push(format!("{} was created", p.display()));
    }
    out
}

fn describe(before: &Node, after: &Node) -> String {
    let short = |n: &Node| match n {
        Node::Dir(m) => format!("folder {m:o}"),
        Node::File(m, b) => {
            format!("file {m:o} {:?}", String::from_utf8_lossy(&b[..b.len().min(40)]))
        }
        Node::Link(t) => format!("link to {}", t.display()),
        Node::Other => "special file".to_string(),
    };
    format!("{} -> {}", short(before), short(after))
}

/// Puts the tree below `dir` back as `want` describes it: removes what is
/// not in it, re-creates what is missing, rewrites changed bytes and modes.
pub fn restore_tree(dir: &Path, want: &Tree) {
    use std::os::unix::fs::PermissionsExt;
    let now = tree(dir);
    // Deepest first, so that a folder is emptied before it goes.
    for (p, node) in now.iter().rev() {
        if want.get(p).is_some_and(|w| std::mem::discriminant(w) == std::mem::discriminant(node)) {
            continue;
        }
        let path = dir.join(p);
        let _ = if matches!(node, Node::Dir(_)) { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
    }
    for (p, node) in want {
        let path = dir.join(p);
        match node {
            Node::Dir(mode) => {
                let _ = std::fs::create_dir(&path);
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(*mode)).expect("restore a mode");
            }
            Node::File(mode, bytes) => {
                if now.get(p) != Some(node) {
                    std::fs::write(&path, bytes).expect("restore a file");
                }
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(*mode)).expect("restore a mode");
            }
            Node::Link(target) => {
                if now.get(p) != Some(node) {
                    let _ = std::fs::remove_file(&path);
                    std::os::unix::fs::symlink(target, &path).expect("restore a link");
                }
            }
            Node::Other => {}
        }
    }
}
