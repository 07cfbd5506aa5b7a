//! The final record of every request: once its answer has been written,
//! or cut, or when the connection layer refused the request itself, one
//! event goes to the metrics, the journal, the access log and the live
//! observers, with the body bytes sent and whether the answer went out
//! whole.
//!
//! The connection loop reports completions on its own thread, which must
//! never wait on a disk or a lock: records go through a channel to a
//! thread of their own (`wfhook-ledger`), which writes them in order.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use compact_str::CompactString;

use super::ACCESS_LOG;
use super::routes::first_chars;
use crate::events::{Bus, Event};
use crate::journal::Journal;
use crate::metrics::Metrics;

/// A request's final record.
pub struct Record {
    pub event: Event,
    /// The request's path, for the access log.
    pub path: CompactString,
    /// A request a worker took (counted in flight until now), rather than
    /// one the connection layer refused.
    pub handled: bool,
}

/// Where final records end up.
pub struct Sinks {
    pub journal: Arc<Journal>,
    pub metrics: Arc<Metrics>,
    pub bus: Bus,
    pub in_flight: Arc<AtomicU64>,
}

impl Sinks {
    fn write(&self, r: Record) {
        let e = &r.event;
        self.metrics.record(e);
        if let Err(err) = self.journal.append(e) {
            log::error!("cannot append to the journal: {err}");
        }
        log::info!(
            target: ACCESS_LOG,
            "{} {} {} {:.1}ms {}B{} {}",
            e.method,
            first_chars(&r.path, 200).escape_debug(),
            e.status,
            e.latency_us as f64 / 1000.0,
            e.bytes.unwrap_or(0),
            if e.complete == Some(false) { " cut" } else { "" },
            e.request_id
        );
        if r.handled {
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
        self.bus.publish(r.event);
    }
}

/// The ledger's thread and the way to it.
pub struct Ledger {
    sinks: Arc<Sinks>,
    tx: Mutex<Option<Sender<Record>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// A handle that writes final records, for a request's completion.
pub struct LedgerWriter {
    tx: Option<Sender<Record>>,
    sinks: Arc<Sinks>,
}

impl LedgerWriter {
    pub fn write(&self, r: Record) {
        // Once the ledger is closed (the server stopped, or a test calls
        // handlers without one), records are written where they come from.
        match &self.tx {
            Some(tx) => {
                if let Err(back) = tx.send(r) {
                    self.sinks.write(back.0);
                }
            }
            None => self.sinks.write(r),
        }
    }
}

impl Ledger {
    pub fn start(sinks: Sinks) -> Ledger {
        let sinks = Arc::new(sinks);
        let (tx, rx) = channel::<Record>();
        let writer = Arc::clone(&sinks);
        let thread = std::thread::Builder::new()
            .name("wfhook-ledger".into())
            .spawn(move || rx.into_iter().for_each(|r| writer.write(r)))
            .map_err(|e| log::error!("cannot start the ledger thread, records are written inline: {e}"))
            .ok();
        let tx = thread.as_ref().map(|_| tx);
        Ledger { sinks, tx: Mutex::new(tx), thread: Mutex::new(thread) }
    }

    pub fn writer(&self) -> LedgerWriter {
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner()).clone();
        LedgerWriter { tx, sinks: Arc::clone(&self.sinks) }
    }

    /// Writes what is queued and stops the thread: once the connection
    /// layer is gone, so that no completion is still to come.
    pub fn close(&self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(thread) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = thread.join();
        }
    }
}
