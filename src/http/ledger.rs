//! The final record of every request: once its answer has been written,
//! or cut, or when the connection layer refused the request itself, one
//! event goes to the metrics, the journal, the access log and the live
//! observers, with the body bytes sent and whether the answer went out
//! whole.
//!
//! The connection loop reports completions on its own thread, which must
//! never wait on a disk: records go through a queue to a thread of their
//! own (`wfhook-ledger`), which writes them in order, in batches under load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

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
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// Records on their way to the ledger's thread.
struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
}

#[derive(Default)]
struct Queue {
    records: Vec<Record>,
    /// The thread sleeps until the next record: the one that pushes it
    /// wakes the thread; the others find it awake.
    sleeping: bool,
    closed: bool,
}

/// How long the thread lets records gather after a wake: under load it
/// writes batches instead of being woken once per request.
const GATHER: Duration = Duration::from_millis(1);

/// A handle that writes final records, for a request's completion.
pub struct LedgerWriter {
    shared: Arc<Shared>,
    sinks: Arc<Sinks>,
}

impl LedgerWriter {
    pub fn write(&self, r: Record) {
        let mut q = self.shared.queue.lock().unwrap_or_else(|p| p.into_inner());
        // Once the ledger is closed (the server stopped, or a test calls
        // handlers without one), records are written where they come from.
        if q.closed {
            drop(q);
            return self.sinks.write(r);
        }
        q.records.push(r);
        if std::mem::take(&mut q.sleeping) {
            drop(q);
            self.shared.wake.notify_one();
        }
    }
}

impl Ledger {
    pub fn start(sinks: Sinks) -> Ledger {
        let sinks = Arc::new(sinks);
        let shared = Arc::new(Shared { queue: Mutex::default(), wake: Condvar::new() });
        let (writer, queue) = (Arc::clone(&sinks), Arc::clone(&shared));
        let thread = std::thread::Builder::new()
            .name("wfhook-ledger".into())
            .spawn(move || {
                while let Some(batch) = queue.next_batch() {
                    batch.into_iter().for_each(|r| writer.write(r));
                }
            })
            .map_err(|e| log::error!("cannot start the ledger thread, records are written inline: {e}"))
            .ok();
        if thread.is_none() {
            shared.queue.lock().unwrap_or_else(|p| p.into_inner()).closed = true;
        }
        Ledger { sinks, shared, thread: Mutex::new(thread) }
    }

    pub fn writer(&self) -> LedgerWriter {
        LedgerWriter { shared: Arc::clone(&self.shared), sinks: Arc::clone(&self.sinks) }
    }

    /// Writes what is queued and stops the thread: once the connection
    /// layer is gone, so that no completion is still to come.
    pub fn close(&self) {
        self.shared.queue.lock().unwrap_or_else(|p| p.into_inner()).closed = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = thread.join();
        }
    }
}

impl Shared {
    /// The records queued, after sleeping until there are some; `None`
    /// once closed and empty.
    fn next_batch(&self) -> Option<Vec<Record>> {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if q.records.is_empty() && !q.closed {
            q.sleeping = true;
            while q.sleeping && !q.closed {
                q = self.wake.wait(q).unwrap_or_else(|p| p.into_inner());
            }
            drop(q);
            std::thread::sleep(GATHER);
            q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        }
        if q.records.is_empty() && q.closed {
            return None;
        }
        Some(std::mem::take(&mut q.records))
    }
}
