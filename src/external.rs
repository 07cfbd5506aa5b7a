//! External helper programs: found once, run on an open file as stdin —
//! never on a path an attacker could swap — under `prlimit` limits, output
//! bounded, killed at a deadline.
//!
//! This module owns the few programs wfhook may start ([`Program`]): whether
//! each is installed ([`available`], probed once per process), and running
//! one ([`run`]) so that a hostile input costs at most the address space and
//! CPU time given, the output cap, and the wall time to the deadline, and no
//! child is ever left behind. Limits come from util-linux `prlimit`, which
//! sets them and then execs the helper: without `unsafe` there is no
//! `pre_exec` to call `setrlimit` in the child ourselves.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// The helper programs wfhook knows how to use, each optional.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Program {
    /// poppler-utils: a PDF's text, for the search index.
    Pdftotext,
    /// poppler-utils: a PDF page as a picture, for thumbnails.
    Pdftoppm,
    /// A video frame as a picture, for thumbnails.
    Ffmpeg,
    /// wfhook's own binary, re-run to decode a hostile file in a process of
    /// its own (`wfhook render-thumbnail`), whose death (an allocation
    /// failure aborts) costs the server nothing. Absent where it cannot
    /// run itself (a test harness, a binary deleted by an upgrade).
    Wfhook,
}

impl Program {
    /// Every known program, in a fixed order.
    pub const ALL: &[Program] = &[Program::Pdftotext, Program::Pdftoppm, Program::Ffmpeg, Program::Wfhook];

    /// Its name, for logs and its output reader's thread.
    pub fn name(self) -> &'static str {
        match self {
            Program::Pdftotext => "pdftotext",
            Program::Pdftoppm => "pdftoppm",
            Program::Ffmpeg => "ffmpeg",
            Program::Wfhook => "wfhook",
        }
    }

    /// What to start: a name looked up on `PATH`, or wfhook's own path.
    fn path(self) -> Option<OsString> {
        match self {
            Program::Wfhook => std::env::current_exe().ok().map(OsString::from),
            other => Some(other.name().into()),
        }
    }

    /// Arguments that make the program print its version and exit 0 at
    /// once, touching no file: the probe.
    fn probe_args(self) -> &'static [&'static str] {
        match self {
            Program::Pdftotext | Program::Pdftoppm => &["-v"],
            Program::Ffmpeg => &["-version"],
            Program::Wfhook => &["--version"],
        }
    }

    /// The slot of the program's probe result.
    fn index(self) -> usize {
        self as usize
    }
}

/// The address space the probe runs under `prlimit`: a helper that cannot
/// print its version in this much would not run under any bound we set.
const PROBE_ADDRESS_SPACE: u64 = 512 * 1024 * 1024;
/// The deadline a probe is given, for its CPU bound under `prlimit`: 5 s
/// (the wall time left, rounded up, plus one).
const PROBE_CPU: Duration = Duration::from_secs(4);

/// How a program can be started here, as found by its probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Found {
    /// Not installed, or it does not run.
    Absent,
    /// Runs, but not under `prlimit` (no util-linux, or limits refused):
    /// only the deadline and the output cap bound it.
    Bare,
    /// Runs under `prlimit`.
    Limited,
}

/// The probe's result for `program`; run once per program and process,
/// since the answer does not change while we run and a helper may be asked
/// for on every request.
fn found(program: Program) -> Found {
    static FOUND: [OnceLock<Found>; Program::ALL.len()] = [const { OnceLock::new() }; Program::ALL.len()];
    *FOUND[program.index()].get_or_init(|| {
        let Some(path) = program.path() else { return Found::Absent };
        let probe = |limited| {
            let mut cmd = command(&path, limited, PROBE_ADDRESS_SPACE, Instant::now() + PROBE_CPU);
            runs(cmd.args(program.probe_args()))
        };
        if probe(true) {
            Found::Limited
        } else if probe(false) {
            Found::Bare
        } else {
            Found::Absent
        }
    })
}

/// Whether `program` is installed and runs (probed once).
pub fn available(program: Program) -> bool {
    found(program) != Found::Absent
}

/// Whether `program` runs under `prlimit`'s address-space and CPU limits
/// (probed once); `false` also when it is not available at all.
pub fn limited(program: Program) -> bool {
    found(program) == Found::Limited
}

/// Whether a probe command starts and exits 0, quietly.
fn runs(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// Why a helper gave no output.
#[derive(Debug)]
pub enum ExternalError {
    /// The program is not available, could not be started, or its output
    /// could not be read.
    Io(io::Error),
    /// The deadline passed; the program was killed.
    Timeout,
}

impl std::fmt::Display for ExternalError {
    /// Short and human, for a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExternalError::Io(e) => write!(f, "could not run the helper: {e}"),
            ExternalError::Timeout => f.write_str("the helper took longer than the time bound"),
        }
    }
}

impl std::error::Error for ExternalError {
    /// The I/O error underneath, for callers that walk error chains.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ExternalError::Io(e) => Some(e),
            ExternalError::Timeout => None,
        }
    }
}

impl From<io::Error> for ExternalError {
    /// Lets `?` carry plain I/O failures.
    fn from(e: io::Error) -> Self {
        ExternalError::Io(e)
    }
}

/// The most CPU seconds a helper may use under `prlimit`: the wall time
/// left, rounded up, plus one; the wall-time kill normally comes first, and
/// this one still holds should the kill be late.
fn cpu_seconds(left: Duration) -> u64 {
    left.as_secs().saturating_add(u64::from(left.subsec_nanos() > 0)).saturating_add(1)
}

/// Runs `program` with `args`, `stdin` as its standard input (the file the
/// caller opened: the helper reads what was checked, not whatever a path
/// names by then), its address space at most `address_space` bytes and its
/// CPU time what is left to the deadline (when `prlimit` is available).
///
/// Returns the first `cap` bytes of its standard output and its exit
/// status, or `None` for the status when the output reached `cap` and the
/// child was killed (nothing more was wanted). Kills it at the deadline
/// (`Timeout`), and always reaps it. Its standard error is discarded.
pub fn run<S: AsRef<OsStr>>(
    program: Program,
    args: &[S],
    stdin: File,
    address_space: u64,
    cap: usize,
    deadline: Instant,
) -> Result<(Vec<u8>, Option<ExitStatus>), ExternalError> {
    let found = found(program);
    let path = program.path().filter(|_| found != Found::Absent);
    let Some(path) = path else {
        let why = format!("{} is not installed", program.name());
        return Err(io::Error::new(io::ErrorKind::NotFound, why).into());
    };
    let mut cmd = command(path, found == Found::Limited, address_space, deadline);
    cmd.args(args).stdin(Stdio::from(stdin));
    run_bounded(cmd, program.name(), cap, deadline)
}

/// The command that starts `program`: under `prlimit` when `limited`, its
/// address space at most `address_space` and its CPU time what is left to
/// the deadline.
fn command(program: impl AsRef<OsStr>, limited: bool, address_space: u64, deadline: Instant) -> Command {
    if !limited {
        return Command::new(program);
    }
    let left = deadline.saturating_duration_since(Instant::now());
    let mut cmd = Command::new("prlimit");
    cmd.arg(format!("--as={address_space}")).arg(format!("--cpu={}", cpu_seconds(left))).arg(program);
    cmd
}

/// [`run`] for a ready command: its stdout read by a thread (named after
/// `what`) up to `cap` bytes, killed at the deadline, always reaped.
fn run_bounded(
    mut cmd: Command,
    what: &str,
    cap: usize,
    deadline: Instant,
) -> Result<(Vec<u8>, Option<ExitStatus>), ExternalError> {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
    let Some(stdout) = child.stdout.take() else {
        stop(&mut child);
        return Err(io::Error::other("no stdout pipe").into());
    };
    let (tx, rx) = mpsc::sync_channel(1);
    let spawned = thread::Builder::new().name(format!("{what}-out")).spawn(move || {
        let mut out = Vec::new();
        let r = stdout.take(cap as u64).read_to_end(&mut out).map(|_| out);
        let _ = tx.send(r);
    });
    let reader = match spawned {
        Ok(reader) => reader,
        Err(e) => {
            stop(&mut child);
            return Err(e.into());
        }
    };
    // The reader ends at end of output (the child closed it, usually by
    // exiting) or at the cap; waiting on it is waiting on the child. After a
    // kill its pipe closes (the helpers and prlimit start no other
    // process), so joining it takes no time.
    let result = rx.recv_timeout(deadline.saturating_duration_since(Instant::now()));
    let out = match result {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => {
            stop(&mut child);
            let _ = reader.join();
            return Err(e.into());
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            stop(&mut child);
            let _ = reader.join();
            return Err(ExternalError::Timeout);
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            stop(&mut child);
            let _ = reader.join();
            return Err(io::Error::other("the output reader ended without a word").into());
        }
    };
    let _ = reader.join();
    if out.len() >= cap {
        stop(&mut child);
        return Ok((out, None));
    }
    // Output ended: the child is exiting; give it until the deadline.
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok((out, Some(status))),
            Ok(None) => {}
            Err(e) => {
                stop(&mut child);
                return Err(e.into());
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            stop(&mut child);
            return Err(ExternalError::Timeout);
        }
        thread::sleep(left.min(Duration::from_millis(5)));
    }
}

/// Kills the child (it may have exited already) and reaps it, so that no
/// zombie is left behind whatever went wrong.
fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A child that never ends its output is killed at the deadline, however long it would run.
    #[test]
    fn a_stuck_child_is_killed_and_reaped_at_the_deadline() {
        // `sleep` stands for a helper that hangs: its output never ends.
        let mut cmd = Command::new("sleep");
        cmd.arg("600").stdin(Stdio::null());
        let start = Instant::now();
        let r = run_bounded(cmd, "sleep", 1000, start + Duration::from_millis(200));
        assert!(matches!(r, Err(ExternalError::Timeout)), "{r:?}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    /// Output past the cap is not read: the child is killed and no status is given.
    #[test]
    fn output_is_cut_at_the_cap() {
        let mut cmd = Command::new("yes");
        cmd.stdin(Stdio::null());
        let (out, status) = run_bounded(cmd, "yes", 4096, Instant::now() + Duration::from_secs(60)).unwrap();
        assert_eq!(out.len(), 4096);
        assert!(status.is_none());
    }

    /// A child that ends gives all its output and its status.
    #[test]
    fn a_finished_child_gives_its_output_and_status() {
        let mut cmd = Command::new("cat");
        let mut f = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut f, b"from the open file").unwrap();
        std::io::Seek::rewind(&mut f).unwrap();
        cmd.stdin(Stdio::from(f));
        let (out, status) = run_bounded(cmd, "cat", 1000, Instant::now() + Duration::from_secs(60)).unwrap();
        assert_eq!(out, b"from the open file");
        assert!(status.unwrap().success());
    }

    /// The CPU bound is the wall time left, rounded up, plus one second.
    #[test]
    fn cpu_seconds_round_up_and_add_one() {
        assert_eq!(cpu_seconds(Duration::ZERO), 1);
        assert_eq!(cpu_seconds(Duration::from_millis(1)), 2);
        assert_eq!(cpu_seconds(Duration::from_secs(10)), 11);
        assert_eq!(cpu_seconds(Duration::MAX), u64::MAX);
    }

    /// The probe's answer agrees with itself, and a limited program is an available one.
    #[test]
    fn limited_implies_available() {
        for &p in Program::ALL {
            assert!(!limited(p) || available(p), "{p:?}");
        }
    }
}
