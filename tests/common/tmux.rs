//! A detached tmux session, killed when dropped: a real terminal for the
//! dashboard, read back with `capture-pane`. The dashboard tests and the
//! `tui_overhead` bench (which includes this file) drive the binary in one.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use super::wait::{WAIT, poll};

pub struct Tmux(String);

impl Tmux {
    /// Runs `cmd` in a new `width`×`height` session with `env` added.
    pub fn start(cmd: &str, env: &[(&str, &str)], (width, height): (u16, u16)) -> Tmux {
        static SESSIONS: AtomicU32 = AtomicU32::new(0);
        let name = format!("wfhook-{}-{}", std::process::id(), SESSIONS.fetch_add(1, Ordering::Relaxed));
        let mut c = Command::new("tmux");
        c.args(["new-session", "-d", "-s", &name, "-x", &width.to_string(), "-y", &height.to_string()]);
        for (k, v) in env {
            c.args(["-e", &format!("{k}={v}")]);
        }
        let status = c.arg(cmd).status().expect("tmux runs");
        assert!(status.success(), "tmux could not start {cmd}");
        Tmux(name)
    }

    /// The process in the session's pane (the command, where it `exec`s).
    pub fn pid(&self) -> u32 {
        let out = Command::new("tmux")
            .args(["display-message", "-p", "-t", &self.0, "#{pane_pid}"])
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).trim().parse().expect("tmux names the pane's process")
    }

    /// What the pane shows now.
    pub fn screen(&self) -> String {
        let out = Command::new("tmux").args(["capture-pane", "-p", "-t", &self.0]).output().expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types `keys`, one tmux key name each. A program reading the terminal
    /// may take `Escape` and the key right after it as one Alt chord: wait
    /// for what `Escape` does before typing on.
    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            assert!(Command::new("tmux").args(["send-keys", "-t", &self.0, k]).status().unwrap().success());
        }
    }

    /// Waits (at most [`WAIT`]) until the screen satisfies `cond`; the screen.
    pub fn wait_for_screen_that(&self, what: &str, mut cond: impl FnMut(&str) -> bool) -> String {
        let mut screen = String::new();
        let found = poll(|| {
            screen = self.screen();
            cond(&screen).then_some(())
        });
        assert!(found.is_some(), "the screen never showed {what} within {WAIT:?}:\n{screen}");
        screen
    }

    /// Waits until the screen shows every one of `texts`; the screen.
    pub fn wait_for_screen(&self, texts: &[&str]) -> String {
        self.wait_for_screen_that(&format!("{texts:?}"), |s| texts.iter().all(|t| s.contains(t)))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["kill-session", "-t", &self.0]).status();
    }
}
