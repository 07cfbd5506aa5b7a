//! What the tests need from the machine: free loopback ports, a process's
//! `/proc` figures, the names in a folder, and the tools some tests drive
//! (tmux, groff, nginx…), skipped visibly where they are missing. Std only:
//! the benches include this file too.

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
/// a crash. Each process's own folder there holds a lock file while the
/// process lives, which is not a temp file.
pub fn temp_files(tmp: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![tmp.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())).flatten() {
            let path = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                todo.push(path);
            } else if e.file_name() != wfhook::state_dir::OWNER_LOCK {
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
/// and the caller returns. The line is written to the process's stderr
/// itself, not through `eprintln!`, which libtest captures and shows only
/// for a failing test: a developer sees the skip in `cargo test`'s output.
pub fn tools_or_skip(tools: &[&str]) -> Option<Vec<PathBuf>> {
    let found: Vec<Option<PathBuf>> = tools.iter().map(|t| find_tool(t)).collect();
    let missing: Vec<&str> = tools.iter().zip(&found).filter(|(_, p)| p.is_none()).map(|(t, _)| *t).collect();
    if missing.is_empty() {
        return Some(found.into_iter().flatten().collect());
    }
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("CI is set but these are not installed: {} (.ci/run installs them)", missing.join(", "));
    }
    let test = std::thread::current().name().unwrap_or("a test").to_string();
    let _ = writeln!(std::io::stderr(), "skipped: needs {} ({test})", missing.join(", "));
    None
}
