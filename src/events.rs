//! One `Event` per handled request, and the bus that carries it to observers.
//!
//! This module owns the record that every other observer reads: the journal
//! writes it as one JSON line, the access log prints it, the metrics count
//! it, the dashboard shows it. Workers publish through a bounded channel with
//! `try_send`, so a slow or absent observer can never slow a request down;
//! what cannot be delivered is counted as dropped. Observers show events
//! rather than count them, so they get a sample: past a budget a second,
//! an event costs the worker two atomic operations.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

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
    /// Wall time from the request's first byte to its answer's last (or,
    /// on the line written before the answer, to that line), in
    /// microseconds.
    pub latency_us: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<CompactString>,
    /// Body bytes sent in the answer; on the final record only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// Whether the whole answer was sent (`false`: cut, or the client left);
    /// present on the final record only, which it marks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete: Option<bool>,
}

impl Event {
    /// A request's event as it arrives: when, which request, and where to.
    /// Everything learnt later (the action, the ids, the status, the
    /// latency, the error) starts empty; a new field gets its start here.
    pub fn new(time: CompactString, request_id: CompactString, method: &str, endpoint: &str) -> Event {
        Event {
            time,
            request_id,
            method: method.into(),
            endpoint: endpoint.into(),
            action: None,
            document_id: None,
            document_version_id: None,
            id: None,
            username: None,
            status: 0,
            latency_us: 0,
            error: None,
            bytes: None,
            complete: None,
        }
    }

    /// Whether this is a request's final record, written once its answer
    /// was sent or cut (the other is the line a change writes before it
    /// answers).
    pub fn is_final(&self) -> bool {
        self.complete.is_some()
    }

    pub fn is_failure(&self) -> bool {
        is_failure(self.status)
    }
}

/// Whether a response status counts as a failure: every 4xx and 5xx.
pub fn is_failure(status: u16) -> bool {
    status >= 400
}

/// Formats a time as RFC 3339 with millisecond precision, in UTC; its 24
/// bytes fit a `CompactString` without an allocation.
pub fn rfc3339(t: SystemTime) -> CompactString {
    format_compact!("{}", humantime::format_rfc3339_millis(t))
}

/// An event with its sequence number, as subscribers receive it.
pub type Numbered = (u64, Arc<Event>);

/// How many successes, and how many failures, a subscriber takes at most
/// per [`SAMPLE_WINDOW`]: 2,000 of each a second, more than a screen can
/// show and few enough that a dashboard's cost stops growing with the
/// request rate. Failures have a budget of their own, so that a flood of
/// successes never hides them.
pub const SAMPLE_BUDGET: u64 = 200;
pub const SAMPLE_WINDOW: Duration = Duration::from_millis(100);

/// Fan-out of a sample of the events to any number of subscribers, each
/// behind its own bounded queue.
#[derive(Clone, Default)]
pub struct Bus {
    inner: Arc<BusInner>,
}

#[derive(Default)]
struct BusInner {
    subscribers: Mutex<Vec<SyncSender<Numbered>>>,
    /// How many subscribers there are, read without the lock, so that an
    /// event nobody takes costs no lock.
    count: AtomicUsize,
    /// The sample's sequence: the last number a subscriber was given.
    published: AtomicU64,
    dropped: AtomicU64,
    sampled: AtomicU64,
    budget: Budget,
}

/// A budget of events per window, kept with atomics only. Two workers may
/// both see a new window and reset it: the budget is approximate, which is
/// all sampling needs.
struct Budget {
    epoch: Instant,
    window: AtomicU64,
    /// Taken in this window: successes, then failures.
    taken: [AtomicU64; 2],
}

impl Default for Budget {
    fn default() -> Budget {
        Budget { epoch: Instant::now(), window: AtomicU64::new(0), taken: Default::default() }
    }
}

impl Budget {
    fn admit(&self, failure: bool) -> bool {
        let window = (self.epoch.elapsed().as_nanos() / SAMPLE_WINDOW.as_nanos()) as u64;
        if self.window.load(Ordering::Relaxed) != window && self.window.swap(window, Ordering::Relaxed) != window {
            self.taken.iter().for_each(|t| t.store(0, Ordering::Relaxed));
        }
        self.taken[usize::from(failure)].fetch_add(1, Ordering::Relaxed) < SAMPLE_BUDGET
    }
}

impl Bus {
    pub fn new() -> Bus {
        Bus::default()
    }

    /// A new subscriber behind a queue of at most `capacity`. It takes at
    /// most [`SAMPLE_BUDGET`] successes and as many failures per
    /// [`SAMPLE_WINDOW`]; the rest are counted as sampled, not as dropped.
    /// Events come numbered in the sample's sequence (1, 2, …), so that a
    /// gap means a drop. For observers that show events rather than count
    /// them: exact counts come from the metrics. Every subscriber shares the
    /// one event.
    pub fn subscribe(&self, capacity: usize) -> Receiver<Numbered> {
        let (tx, rx) = sync_channel(capacity);
        let mut subs = self.inner.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        subs.push(tx);
        self.inner.count.store(subs.len(), Ordering::Relaxed);
        rx
    }

    /// Hands the event to every subscriber when it is in the sample,
    /// without ever blocking. The event moves into one shared allocation: no
    /// subscriber costs the worker a copy of its strings.
    pub fn publish(&self, event: Event) {
        let inner = &*self.inner;
        if inner.count.load(Ordering::Relaxed) == 0 {
            return;
        }
        if !inner.budget.admit(event.is_failure()) {
            inner.sampled.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let shared = Arc::new(event);
        let mut subs = inner.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        // Numbered under the lock, so every subscriber sees ascending numbers.
        let seq = inner.published.fetch_add(1, Ordering::Relaxed) + 1;
        let before = subs.len();
        subs.retain(|tx| match tx.try_send((seq, Arc::clone(&shared))) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                inner.dropped.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        });
        // Written only when it changed: every worker reads this line.
        if subs.len() != before {
            inner.count.store(subs.len(), Ordering::Relaxed);
        }
    }

    /// Events in the sample since start: the last number a subscriber was
    /// given.
    pub fn published(&self) -> u64 {
        self.inner.published.load(Ordering::Relaxed)
    }

    /// Events that some subscriber's full queue could not take.
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    /// Events left out of the sample while someone subscribed.
    pub fn sampled(&self) -> u64 {
        self.inner.sampled.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample(status: u16) -> Event {
        Event {
            action: Some("ping".into()),
            username: Some("ann".into()),
            status,
            latency_us: 12,
            ..Event::new(rfc3339(SystemTime::UNIX_EPOCH), "r1".into(), "GET", "customAction")
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
    fn subscribers_take_a_budget_of_successes_and_of_failures() {
        // Before the bus, whose windows count from its creation: the loop
        // below spans no more windows than have begun since this instant.
        let started = Instant::now();
        let bus = Bus::new();
        let other = bus.subscribe(10_000);
        let sampled = bus.subscribe(10_000);
        // A flood of successes with a few failures, then a flood of failures.
        for i in 0..4_000 {
            let mut e = sample(if i >= 2_000 || i % 100 == 0 { 500 } else { 200 });
            e.request_id = format_compact!("{i}");
            bus.publish(e);
        }
        // Each window that began during the loop admits its own budget.
        let windows = (started.elapsed().as_nanos() / SAMPLE_WINDOW.as_nanos()) as u64 + 1;
        let got: Vec<Numbered> = sampled.try_iter().collect();
        // Every subscriber gets the same sample.
        assert!(other.try_iter().map(|(n, _)| n).eq(got.iter().map(|(n, _)| *n)));
        let successes = got.iter().filter(|(_, e)| !e.is_failure()).count() as u64;
        let failures = got.len() as u64 - successes;
        let budget = SAMPLE_BUDGET..=SAMPLE_BUDGET * windows;
        assert!(budget.contains(&successes) && budget.contains(&failures), "{successes}, {failures} in {windows}");
        // The few failures among the successes all came through.
        let early = |e: &Event| e.request_id.parse::<u32>().unwrap() < 2_000;
        assert_eq!(got.iter().filter(|(_, e)| early(e) && e.is_failure()).count(), 20);
        assert_eq!(got.len() as u64 + bus.sampled(), 4_000);
        // The sample has numbers of its own, without gaps.
        assert!(got.iter().map(|(n, _)| *n).eq(1..=got.len() as u64));
        assert_eq!((bus.published(), bus.dropped()), (got.len() as u64, 0));
    }

    #[test]
    fn without_a_subscriber_nothing_is_sampled_or_numbered() {
        let bus = Bus::new();
        for _ in 0..1_000 {
            bus.publish(sample(200));
        }
        assert_eq!((bus.published(), bus.sampled()), (0, 0));
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
