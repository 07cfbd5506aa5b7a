//! One `Event` per handled request, and the bus that carries it to observers.
//!
//! This module owns the record that every other observer reads: the journal
//! writes it as one JSON line, the access log prints it, the dashboard and the
//! metrics count it. Workers publish through a bounded channel with
//! `try_send`, so a slow or absent observer can never slow a request down;
//! what cannot be delivered is counted as dropped.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use compact_str::{CompactString, format_compact};
use serde::{Deserialize, Serialize};

/// What happened to one request. Never holds a credential.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// RFC 3339 time at which the request arrived.
    pub time: CompactString,
    pub request_id: CompactString,
    pub method: CompactString,
    /// The endpoint name (`customAction`, `metadata`…) or the raw path's
    /// last segment when no route matched.
    pub endpoint: CompactString,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<CompactString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_id: Option<CompactString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_version_id: Option<CompactString>,
    /// Our own item id, when the request named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<CompactString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<CompactString>,
    pub status: u16,
    /// Wall time from the request's arrival to its response, in microseconds.
    pub latency_us: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<CompactString>,
}

impl Event {
    pub fn is_failure(&self) -> bool {
        self.status >= 400
    }
}

/// Formats a time as RFC 3339 with millisecond precision, in UTC; its 24
/// bytes fit a `CompactString` without an allocation.
pub fn rfc3339(t: SystemTime) -> CompactString {
    format_compact!("{}", humantime::format_rfc3339_millis(t))
}

/// An event with its sequence number, as subscribers receive it.
pub type Numbered = (u64, Arc<Event>);

/// Fan-out of events to any number of subscribers, each behind its own
/// bounded queue.
#[derive(Clone, Default)]
pub struct Bus {
    inner: Arc<BusInner>,
}

#[derive(Default)]
struct BusInner {
    subscribers: Mutex<Vec<SyncSender<Numbered>>>,
    /// How many subscribers there are, read without the lock.
    count: AtomicUsize,
    published: AtomicU64,
    dropped: AtomicU64,
}

impl Bus {
    pub fn new() -> Bus {
        Bus::default()
    }

    /// A new subscriber whose queue holds at most `capacity` events, each
    /// with its sequence number (1, 2, …) so that gaps are visible.
    /// Every subscriber shares the one event; `Arc::unwrap_or_clone` gives
    /// an owned one without a copy when a subscriber is the last holder.
    pub fn subscribe(&self, capacity: usize) -> Receiver<Numbered> {
        let (tx, rx) = sync_channel(capacity);
        let mut subs = self.inner.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        subs.push(tx);
        self.inner.count.store(subs.len(), Ordering::Relaxed);
        rx
    }

    /// Hands the event to every subscriber without ever blocking. The event
    /// moves into one shared allocation: no subscriber costs the worker a
    /// copy of its strings.
    pub fn publish(&self, event: Event) {
        if self.inner.count.load(Ordering::Relaxed) == 0 {
            self.inner.published.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let shared = Arc::new(event);
        let mut subs = self.inner.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        // Numbered under the lock, so every subscriber sees ascending numbers.
        let seq = self.inner.published.fetch_add(1, Ordering::Relaxed) + 1;
        subs.retain(|tx| match tx.try_send((seq, Arc::clone(&shared))) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.inner.dropped.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        });
        self.inner.count.store(subs.len(), Ordering::Relaxed);
    }

    /// Events published since start.
    pub fn published(&self) -> u64 {
        self.inner.published.load(Ordering::Relaxed)
    }

    /// Events that some subscriber's full queue could not take.
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample(status: u16) -> Event {
        Event {
            time: rfc3339(SystemTime::UNIX_EPOCH),
            request_id: "r1".into(),
            method: "GET".into(),
            endpoint: "customAction".into(),
            action: Some("ping".into()),
            document_id: None,
            document_version_id: None,
            id: None,
            username: Some("ann".into()),
            status,
            latency_us: 12,
            error: None,
        }
    }

    #[test]
    fn full_queue_drops_and_counts_without_blocking() {
        let bus = Bus::new();
        let rx = bus.subscribe(2);
        for _ in 0..5 {
            bus.publish(sample(200));
        }
        assert_eq!(bus.published(), 5);
        assert_eq!(bus.dropped(), 3);
        let seqs: Vec<u64> = rx.try_iter().map(|(seq, _)| seq).collect();
        assert_eq!(seqs, [1, 2]);
    }

    #[test]
    fn gone_subscribers_are_forgotten() {
        let bus = Bus::new();
        drop(bus.subscribe(1));
        bus.publish(sample(200));
        assert!(bus.inner.subscribers.lock().unwrap().is_empty());
        assert_eq!(bus.dropped(), 0);
    }

    #[test]
    fn event_round_trips_as_camel_case_json() {
        let e = sample(500);
        let line = serde_json::to_string(&e).unwrap();
        assert!(line.contains("\"requestId\":\"r1\""));
        assert!(!line.contains("documentId"));
        assert_eq!(serde_json::from_str::<Event>(&line).unwrap(), e);
        assert!(e.is_failure());
    }
}
