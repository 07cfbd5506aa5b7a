//! Counters and latency histograms for `GET /metrics` on the admin
//! listener, in the Prometheus text format. Workers record every event here
//! directly (not through the lossy bus), so the figures are exact.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::actions::ACTIONS;
use crate::events::{Event, is_failure};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Default)]
struct Histogram {
    /// Counts per bucket (made cumulative when written), +Inf last.
    counts: [u64; BUCKETS.len() + 1],
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        let i = BUCKETS.iter().position(|b| seconds <= *b).unwrap_or(BUCKETS.len());
        self.counts[i] += 1;
        self.sum += seconds;
    }

    fn write(&self, out: &mut String, name: &str, label: &str, value: &str) {
        let mut cumulative = 0;
        for (count, le) in self.counts.iter().zip(BUCKETS.iter().map(|b| b.to_string()).chain(["+Inf".to_string()])) {
            cumulative += count;
            let _ = writeln!(out, "{name}_bucket{{{label}=\"{value}\",le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_sum{{{label}=\"{value}\"}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{label}=\"{value}\"}} {cumulative}");
    }
}

/// One map entry per endpoint and per action: a request costs one lookup
/// of each under the lock.
#[derive(Default)]
struct Inner {
    endpoints: BTreeMap<String, EndpointMetrics>,
    /// Registered actions only, by their static names.
    actions: BTreeMap<&'static str, ActionMetrics>,
}

#[derive(Default)]
struct EndpointMetrics {
    /// status → count.
    statuses: BTreeMap<u16, u64>,
    latency: Histogram,
}

#[derive(Default)]
struct ActionMetrics {
    calls: u64,
    failures: u64,
    latency: Histogram,
}

/// One registered action's counters since start, as the dashboard shows them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ActionCount {
    pub name: String,
    pub calls: u64,
    pub failures: u64,
}

/// What the metrics page needs besides the counters.
pub struct Gauges {
    pub in_flight: u64,
    pub uptime_seconds: f64,
    pub events_dropped: u64,
}

/// The value under `key`, made on first use: the key is copied only then,
/// not on every request.
fn slot<'a, V: Default>(map: &'a mut BTreeMap<String, V>, key: &str) -> &'a mut V {
    if !map.contains_key(key) {
        map.insert(key.to_string(), V::default());
    }
    map.get_mut(key).expect("inserted above")
}

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    pub fn record(&self, e: &Event) {
        let seconds = e.latency_us as f64 / 1e6;
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let endpoint = slot(&mut m.endpoints, &e.endpoint);
        *endpoint.statuses.entry(e.status).or_default() += 1;
        endpoint.latency.observe(seconds);
        // Only registered names become label values: a client cannot grow
        // the series without bound by inventing action names.
        if let Some(a) = e.action.as_deref().and_then(crate::actions::find) {
            let action = m.actions.entry(a.name()).or_default();
            action.calls += 1;
            action.failures += u64::from(e.is_failure());
            action.latency.observe(seconds);
        }
    }

    /// Totals of requests and failed requests (status ≥ 400).
    pub fn totals(&self) -> (u64, u64) {
        let m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        m.endpoints
            .values()
            .flat_map(|e| &e.statuses)
            .fold((0, 0), |(t, f), (s, n)| (t + n, if is_failure(*s) { f + n } else { f }))
    }

    /// Every registered action's calls and failures, in registry order.
    pub fn actions(&self) -> Vec<ActionCount> {
        let m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        ACTIONS
            .iter()
            .map(|a| {
                let (calls, failures) = m.actions.get(a.name()).map_or((0, 0), |m| (m.calls, m.failures));
                ActionCount { name: a.name().to_string(), calls, failures }
            })
            .collect()
    }

    /// The Prometheus text exposition.
    pub fn render(&self, g: &Gauges) -> String {
        let m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        out.push_str("# HELP wfhook_build_info Build information.\n# TYPE wfhook_build_info gauge\n");
        let _ = writeln!(out, "wfhook_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));
        out.push_str(
            "# HELP wfhook_uptime_seconds Seconds since the server started.\n# TYPE wfhook_uptime_seconds gauge\n",
        );
        let _ = writeln!(out, "wfhook_uptime_seconds {:.3}", g.uptime_seconds);
        out.push_str(
            "# HELP wfhook_in_flight_requests Requests being handled now.\n# TYPE wfhook_in_flight_requests gauge\n",
        );
        let _ = writeln!(out, "wfhook_in_flight_requests {}", g.in_flight);
        out.push_str("# HELP wfhook_events_dropped_total Events a slow observer could not take.\n# TYPE wfhook_events_dropped_total counter\n");
        let _ = writeln!(out, "wfhook_events_dropped_total {}", g.events_dropped);
        out.push_str("# HELP wfhook_requests_total Requests handled, by endpoint and status.\n# TYPE wfhook_requests_total counter\n");
        for (endpoint, metrics) in &m.endpoints {
            for (status, n) in &metrics.statuses {
                let _ = writeln!(out, "wfhook_requests_total{{endpoint=\"{endpoint}\",status=\"{status}\"}} {n}");
            }
        }
        out.push_str("# HELP wfhook_request_duration_seconds Request latency, by endpoint.\n# TYPE wfhook_request_duration_seconds histogram\n");
        for (endpoint, metrics) in &m.endpoints {
            metrics.latency.write(&mut out, "wfhook_request_duration_seconds", "endpoint", endpoint);
        }
        out.push_str("# HELP wfhook_action_calls_total Custom action calls, by action.\n# TYPE wfhook_action_calls_total counter\n");
        for a in ACTIONS {
            let _ = writeln!(
                out,
                "wfhook_action_calls_total{{action=\"{}\"}} {}",
                a.name(),
                m.actions.get(a.name()).map_or(0, |m| m.calls)
            );
        }
        out.push_str("# HELP wfhook_action_failures_total Failed custom action calls, by action.\n# TYPE wfhook_action_failures_total counter\n");
        for a in ACTIONS {
            let n = m.actions.get(a.name()).map_or(0, |m| m.failures);
            let _ = writeln!(out, "wfhook_action_failures_total{{action=\"{}\"}} {n}", a.name());
        }
        out.push_str("# HELP wfhook_action_duration_seconds Custom action latency, by action.\n# TYPE wfhook_action_duration_seconds histogram\n");
        for (action, metrics) in &m.actions {
            metrics.latency.write(&mut out, "wfhook_action_duration_seconds", "action", action);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(endpoint: &str, action: Option<&str>, status: u16, us: u64) -> Event {
        Event {
            action: action.map(Into::into),
            status,
            latency_us: us,
            ..Event::new("".into(), "r".into(), "GET", endpoint)
        }
    }

    #[test]
    fn counts_requests_actions_and_latency() {
        let m = Metrics::new();
        m.record(&event("customAction", Some("ping"), 200, 300));
        m.record(&event("customAction", Some("lock"), 404, 2_000));
        m.record(&event("customAction", Some("made-up"), 404, 10));
        m.record(&event("metadata", None, 200, 20_000_000));
        assert_eq!(m.totals(), (4, 2));
        let actions = m.actions();
        assert_eq!(actions.len(), ACTIONS.len());
        let of = |name: &str| actions.iter().find(|a| a.name == name).map(|a| (a.calls, a.failures));
        assert_eq!(
            (of("ping"), of("lock"), of("archive"), of("made-up")),
            (Some((1, 0)), Some((1, 1)), Some((0, 0)), None)
        );
        let text = m.render(&Gauges { in_flight: 1, uptime_seconds: 2.0, events_dropped: 3 });
        assert!(text.contains("wfhook_requests_total{endpoint=\"customAction\",status=\"404\"} 2"));
        assert!(text.contains("wfhook_action_calls_total{action=\"ping\"} 1"));
        assert!(text.contains("wfhook_action_failures_total{action=\"lock\"} 1"));
        assert!(text.contains("wfhook_action_failures_total{action=\"checksum\"} 0"));
        assert!(!text.contains("made-up"));
        assert!(text.contains("wfhook_request_duration_seconds_bucket{endpoint=\"customAction\",le=\"0.0005\"} 2"));
        assert!(text.contains("wfhook_request_duration_seconds_bucket{endpoint=\"metadata\",le=\"10\"} 0"));
        assert!(text.contains("wfhook_request_duration_seconds_bucket{endpoint=\"metadata\",le=\"+Inf\"} 1"));
        assert!(text.contains("wfhook_in_flight_requests 1"));
        assert!(text.contains("wfhook_events_dropped_total 3"));
        assert!(text.contains("wfhook_build_info{version=\""));
        // Every sample line is `name{labels} value` or `name value`.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.rsplit_once(' ').unwrap().1.parse::<f64>().is_ok(), "{line}");
        }
    }
}
