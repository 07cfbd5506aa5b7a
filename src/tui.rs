//! `serve --tui`: the dashboard in the server's own process. One thread
//! merges the bus's events, the log lines and a stats tick into the
//! dashboard's feed; the dashboard owns the terminal on the main thread.
//!
//! Shutdown runs both ways: the dashboard's confirmed quit sets the stop
//! flag, which stops the workers; a signal sets the same flag, which ends
//! the merging thread, closing the feed, which ends the dashboard.

use std::cell::Cell;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use crate::dashboard::{self, ConnState, Feed, Mode, Options, Stats};
use crate::events::Numbered;
use crate::http::{App, Server};

/// Events of history the dashboard starts with.
pub const HISTORY: usize = 1000;
const FEED_QUEUE: usize = 8192;

/// True when `NO_COLOR` is set to anything non-empty (no-color.org).
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Log lines on their way to the dashboard's log pane.
pub struct LogPane {
    tx: SyncSender<String>,
    rx: Receiver<String>,
}

impl LogPane {
    pub fn new() -> LogPane {
        let (tx, rx) = mpsc::sync_channel(1024);
        LogPane { tx, rx }
    }

    /// What the logger calls with each line; never blocks a logging thread.
    pub fn sender(&self) -> Box<dyn Fn(String) + Send + Sync> {
        let tx = self.tx.clone();
        Box::new(move |line| {
            let _ = tx.try_send(line);
        })
    }
}

impl Default for LogPane {
    fn default() -> LogPane {
        LogPane::new()
    }
}

/// Serves with the dashboard on this terminal until the operator quits (or
/// a signal stops the server).
pub fn run(server: &Server, stop: &Arc<AtomicBool>, pane: LogPane) -> io::Result<()> {
    let history = server.app().journal.tail(HISTORY).unwrap_or_default();
    let events = server.app().bus.subscribe(FEED_QUEUE);
    let (feed_tx, feed_rx) = mpsc::sync_channel(FEED_QUEUE);
    let LogPane { rx: logs, .. } = pane;
    std::thread::scope(|s| {
        s.spawn(|| server.run(stop));
        let app = server.app();
        // Named, so that `top -H` and profilers tell its cost from the workers'.
        std::thread::Builder::new()
            .name("wfhook-feed".into())
            .spawn_scoped(s, move || merge(app, &events, &logs, &feed_tx, stop))?;
        // However the dashboard ends, even by a panic, the server stops:
        // the scope waits for it.
        let _stop = StopOnDrop(stop);
        dashboard::run(feed_rx, Options { mode: Mode::Serve, no_color: no_color(), history })
    })
}

struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// How often the merging thread wakes: it forwards in batches, so that its
/// cost does not grow with the request rate.
const TICK: Duration = Duration::from_millis(50);

/// Feeds the dashboard until the server stops; what a full feed cannot
/// take is counted and reported as missed with the next stats tick.
fn merge(app: &App, events: &Receiver<Numbered>, logs: &Receiver<String>, feed: &SyncSender<Feed>, stop: &AtomicBool) {
    let missed = Cell::new(0u64);
    let push = |f: Feed| match feed.try_send(f) {
        Ok(()) => true,
        Err(TrySendError::Full(_)) => {
            missed.set(missed.get() + 1);
            true
        }
        Err(TrySendError::Disconnected(_)) => false,
    };
    push(Feed::Connection(ConnState::Local));
    let mut last_stats = Instant::now() - Duration::from_secs(1);
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(TICK);
        let alive =
            events.try_iter().all(|(_, e)| push(Feed::Event(e))) && logs.try_iter().all(|line| push(Feed::Log(line)));
        if !alive {
            return;
        }
        if last_stats.elapsed() >= Duration::from_secs(1) {
            let m = missed.replace(0);
            if m > 0 && feed.try_send(Feed::Missed(m)).is_err() {
                missed.set(missed.get() + m);
            }
            push(Feed::Stats(Stats::from(app.snapshot())));
            last_stats = Instant::now();
        }
    }
}
