//! The operator's full-screen dashboard, for `wfhook serve --tui` (in
//! process) and `wfhook top` (attached to a server elsewhere).
//!
//! Everything arrives through one channel of [`Feed`] messages; the
//! dashboard never reaches into the server. Each file owns one concern:
//!
//! - this file: what the dashboard is fed ([`Feed`], [`Stats`],
//!   [`ConnState`]), how it is started ([`Mode`], [`Options`], [`run`]).
//! - [`model`]: the state and its feed transitions: bounded rings of events,
//!   failures and log lines, the per-action statistics, the request-rate
//!   history, pause, and the lazy views the panels draw from. No I/O, no
//!   clock.
//! - [`keys`]: the [`KEYMAP`] and the smaller tables of the filter prompt and
//!   the overlays, and [`Model::on_key`], which looks a key up in the table
//!   of the current context and runs its command. Help, footer and the docs
//!   are written from the same tables.
//! - [`layout`]: where every panel goes at a given size, which panels share
//!   a pane, how many rows a panel shows, and which table columns fit. The
//!   model asks it for page sizes; it knows nothing of drawing.
//! - `theme`: styles, with and without color.
//! - [`view`]: [`view::render`] composes header, panels, footer and overlays;
//!   the small drawing helpers and the formatting the panels share.
//! - `panels/`: one file per panel (live, failures, actions, log).
//! - `overlays/`: one file per overlay (help, detail, quit confirmation).
//! - `terminal`: the real terminal: raw mode, the alternate screen, the
//!   panic hook and the drop guard that restore it, and the loop that waits
//!   on input and the feed and redraws at most 20 times a second, only when
//!   something changed.
//!
//! The view reads the model and never changes it; the model never calls
//! into the view.

pub mod keys;
pub mod layout;
pub mod model;
mod overlays;
mod panels;
mod terminal;
#[cfg(test)]
pub(crate) mod testing;
mod theme;
pub mod view;

use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::Duration;

use crate::events::Event;
use crate::http::Snapshot;
use crate::metrics::ActionCount;

pub use keys::{CONFIRM_KEYS, DETAIL_KEYS, FILTER_KEYS, HELP_KEYS, KEYMAP, KeyRow};
pub use model::{Model, Outcome, Panel};
pub use terminal::TERMINAL_GONE;

/// What the dashboard is fed, through one channel.
#[derive(Clone, Debug, PartialEq)]
pub enum Feed {
    /// One handled request, newest last; shared, as the bus hands it out.
    Event(Arc<Event>),
    /// A snapshot of the server's counters, sent about once a second.
    Stats(Stats),
    /// One log line, shown in the log pane (`serve --tui`).
    Log(String),
    /// The connection to the server changed (`top`).
    Connection(ConnState),
    /// This many events were missed, e.g. across a reconnection (`top`).
    Missed(u64),
}

/// The server's counters at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    pub version: String,
    pub listen: String,
    pub uptime: Duration,
    pub in_flight: u64,
    /// Requests handled since start; the request rate is computed from the
    /// difference between two snapshots, so it stays right when events drop.
    pub total: u64,
    pub failures: u64,
    /// Events that the server could not hand to an observer.
    pub dropped: u64,
    /// Requests the server left out of the dashboards' sample under load;
    /// counts and rates stay exact.
    pub sampled: u64,
    /// Each registered action's exact calls and failures since start.
    pub actions: Vec<ActionCount>,
}

impl From<Snapshot> for Stats {
    fn from(s: Snapshot) -> Stats {
        Stats {
            version: s.version,
            listen: s.listen,
            uptime: Duration::from_secs_f64(s.uptime_secs.max(0.0)),
            in_flight: s.in_flight,
            total: s.total,
            failures: s.failures,
            dropped: s.dropped,
            sampled: s.sampled,
            actions: s.actions,
        }
    }
}

/// How the dashboard reaches the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnState {
    Connected,
    Disconnected {
        retry_in: Duration,
    },
    /// In the same process (`serve --tui`).
    Local,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `serve --tui`: quitting stops the server, so it asks first.
    Serve,
    /// `top`: quitting only detaches.
    Top,
}

#[derive(Clone, Debug)]
pub struct Options {
    pub mode: Mode,
    /// No colors, only bold and reverse (`NO_COLOR`).
    pub no_color: bool,
    /// Events from before the start (the journal's tail), oldest first, so
    /// that a fresh dashboard is not empty.
    pub history: Vec<Event>,
}

/// Runs the full-screen dashboard until the user quits, or until every
/// sender of `feed` is gone; returns `Ok(())` then.
///
/// Restores the terminal on return, on error and on panic.
pub fn run(feed: Receiver<Feed>, opts: Options) -> std::io::Result<()> {
    terminal::run(feed, opts)
}
