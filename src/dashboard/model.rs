//! The dashboard's state and its feed transitions.
//!
//! Nothing here does I/O or reads a clock: [`Model::apply`] takes a feed
//! message, [`Model::resize`] takes the terminal size, the key commands of
//! [`keys`](super::keys) change the state through the same fields, and the
//! view reads the result. That keeps every behaviour testable as a plain
//! state transition. Page sizes come from [`layout`](super::layout); the
//! model never calls into the view.
//!
//! Memory is bounded however long the dashboard runs: events, failures and
//! log lines live in rings, latency percentiles come from a window of the
//! newest calls per action, and the rate history keeps five minutes.

use std::collections::VecDeque;
use std::sync::Arc;

use compact_str::ToCompactString;

use ratatui::layout::Rect;

use super::{ConnState, Feed, Mode, Options, Stats, layout};
use crate::actions::ACTIONS;
use crate::events::Event;

/// Events kept for the live list.
pub const MAX_EVENTS: usize = 10_000;
/// Failures kept apart, so that a flood of successes cannot push them out.
pub const MAX_FAILURES: usize = 1_000;
pub const MAX_LOG_LINES: usize = 1_000;
/// Calls per action whose latencies make the percentiles.
pub const LATENCY_WINDOW: usize = 1_000;
/// Request-rate samples: five minutes at one [`Stats`] a second.
pub const RATE_SAMPLES: usize = 300;
/// Longest filter text; longer typing is ignored.
pub(super) const MAX_FILTER: usize = 100;

/// What the terminal loop should do after a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Continue,
    Quit,
}

/// The panels that can have the focus, in Tab order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Panel {
    Live,
    Failures,
    Actions,
    Log,
}

/// How the actions table is ordered; `s` cycles through them in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    Name,
    Calls,
    Failures,
    P95,
}

impl SortKey {
    pub(super) fn next(self) -> SortKey {
        match self {
            SortKey::Name => SortKey::Calls,
            SortKey::Calls => SortKey::Failures,
            SortKey::Failures => SortKey::P95,
            SortKey::P95 => SortKey::Name,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SortKey::Name => "name",
            SortKey::Calls => "calls",
            SortKey::Failures => "failures",
            SortKey::P95 => "p95",
        }
    }
}

/// What is drawn over the panels.
#[derive(Clone, Debug, PartialEq)]
pub enum Overlay {
    Help,
    /// Every field of one event; a copy, so that it stays while the rings move.
    Detail(Arc<Event>),
    /// "Stop the server? y/n" (serve mode only).
    ConfirmQuit,
}

/// A selection in a list and the first row shown. For the log pane,
/// `selected` counts lines back from the newest (0 follows the tail).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    pub selected: usize,
    pub offset: usize,
}

/// An event and its arrival number, which pause uses as a bound.
#[derive(Clone, Debug)]
pub struct Stored {
    pub seq: u64,
    /// Shared with the failures ring and the action's last call: an event
    /// is never copied inside the dashboard.
    pub event: Arc<Event>,
}

/// One registered action: exact counts since the server started (from its
/// stats), and the latency of the last calls seen (history included).
#[derive(Clone, Debug)]
pub struct ActionStats {
    pub name: &'static str,
    pub display_name: &'static str,
    pub description: &'static str,
    pub calls: u64,
    pub failures: u64,
    /// The newest call.
    last_call: Option<Arc<Event>>,
    latencies: VecDeque<u64>,
}

impl ActionStats {
    /// RFC 3339 time of the newest call.
    pub fn last(&self) -> Option<&str> {
        self.last_call.as_deref().map(|e| e.time.as_str())
    }
}

/// One line of the actions table, percentiles in microseconds.
#[derive(Clone, Debug)]
pub struct ActionRow<'a> {
    pub stats: &'a ActionStats,
    pub p50: Option<u64>,
    pub p95: Option<u64>,
    pub p99: Option<u64>,
}

pub struct Model {
    pub(super) mode: Mode,
    pub(super) no_color: bool,
    /// Terminal size, for page sizes and keeping the selection visible.
    pub(super) size: (u16, u16),

    pub(super) events: VecDeque<Stored>,
    pub(super) failures: VecDeque<Stored>,
    next_seq: u64,
    pub(super) logs: VecDeque<String>,
    pub(super) actions: Vec<ActionStats>,

    pub(super) stats: Option<Stats>,
    /// (uptime, total) of the previous snapshot, the base of the next rate.
    last_sample: Option<(std::time::Duration, u64)>,
    /// Requests per second, one per snapshot, newest last.
    pub(super) rates: VecDeque<f64>,
    pub(super) missed: u64,
    /// `None` until `top` reports its first connection state.
    pub(super) conn: Option<ConnState>,

    pub(super) focus: Panel,
    /// The lower panel focused last: the one a shared pane shows.
    pub(super) lower: Panel,
    pub(super) live: Cursor,
    pub(super) fail: Cursor,
    pub(super) table: Cursor,
    pub(super) log: Cursor,

    pub(super) filter: String,
    pub(super) editing: bool,
    pub(super) failures_only: bool,
    /// While paused: the first arrival number not shown. A pause long enough
    /// for the ring to turn over empties the frozen list; memory stays bounded.
    pub(super) paused: Option<u64>,
    pub(super) sort: SortKey,
    pub(super) overlay: Option<Overlay>,
    /// Lines the help is scrolled down by, where it does not fit.
    pub(super) help: usize,
}

impl Model {
    pub fn new(opts: Options) -> Model {
        let mut model = Model {
            mode: opts.mode,
            no_color: opts.no_color,
            size: (80, 24),
            events: VecDeque::new(),
            failures: VecDeque::new(),
            next_seq: 0,
            logs: VecDeque::new(),
            actions: ACTIONS
                .iter()
                .map(|a| ActionStats {
                    name: a.name(),
                    display_name: a.display_name(),
                    description: a.description(),
                    calls: 0,
                    failures: 0,
                    last_call: None,
                    latencies: VecDeque::new(),
                })
                .collect(),
            stats: None,
            last_sample: None,
            rates: VecDeque::new(),
            missed: 0,
            conn: match opts.mode {
                Mode::Serve => Some(ConnState::Local),
                Mode::Top => None,
            },
            focus: Panel::Live,
            lower: Panel::Failures,
            live: Cursor::default(),
            fail: Cursor::default(),
            table: Cursor::default(),
            log: Cursor::default(),
            filter: String::new(),
            editing: false,
            failures_only: false,
            paused: None,
            sort: SortKey::Name,
            overlay: None,
            help: 0,
        };
        for event in opts.history {
            model.push_event(Arc::new(event));
        }
        model
    }

    /// Takes one feed message.
    pub fn apply(&mut self, feed: Feed) {
        match feed {
            Feed::Event(e) => self.push_event(e),
            Feed::Stats(s) => self.push_stats(s),
            Feed::Log(line) => {
                for line in line.lines() {
                    self.push_log(clean_log(line));
                }
            }
            Feed::Connection(c) => self.conn = Some(c),
            Feed::Missed(n) => self.missed = self.missed.saturating_add(n),
        }
    }

    /// Takes the terminal's new size.
    pub fn resize(&mut self, width: u16, height: u16) {
        self.size = (width, height);
        for panel in [Panel::Live, Panel::Failures, Panel::Actions] {
            let rows = self.rows(panel);
            let cursor = self.cursor_mut(panel);
            keep_visible(cursor, rows);
        }
        self.help = layout::help(Rect::new(0, 0, width, height)).first(self.help);
    }

    pub fn focus(&self) -> Panel {
        self.focus
    }

    pub fn overlay(&self) -> Option<&Overlay> {
        self.overlay.as_ref()
    }

    pub fn filter(&self) -> &str {
        &self.filter
    }

    pub fn is_editing_filter(&self) -> bool {
        self.editing
    }

    pub fn is_paused(&self) -> bool {
        self.paused.is_some()
    }

    pub fn failures_only(&self) -> bool {
        self.failures_only
    }

    pub fn sort(&self) -> SortKey {
        self.sort
    }

    /// Events received since start, history included; goes on while paused.
    pub fn received(&self) -> u64 {
        // One arrival number per event received.
        self.next_seq
    }

    /// Requests the live list left out, when the server sampled it.
    pub fn not_listed(&self) -> u64 {
        self.stats.as_ref().map_or(0, |s| s.sampled)
    }

    /// Dropped events reported by the server plus events `top` missed.
    pub fn dropped(&self) -> u64 {
        self.stats.as_ref().map_or(0, |s| s.dropped).saturating_add(self.missed)
    }

    /// The newest request rate, once two snapshots made one.
    pub fn rate(&self) -> Option<f64> {
        self.rates.back().copied()
    }

    /// The live list as shown, newest first: pause, failures-only and filter
    /// applied. Lazy, so that drawing walks only as far as the visible rows.
    pub fn live_view(&self) -> impl Iterator<Item = &Stored> + '_ {
        let bound = self.paused.unwrap_or(u64::MAX);
        self.events.iter().rev().filter(move |s| s.seq < bound && self.shows_live(&s.event))
    }

    /// How many rows the live list has, without walking it when nothing but
    /// a pause narrows it: arrival numbers in the ring are consecutive.
    pub fn live_len(&self) -> usize {
        if !self.filter.is_empty() || self.failures_only {
            return self.live_view().count();
        }
        let since_pause = self.paused.map_or(0, |bound| self.next_seq.saturating_sub(bound));
        self.events.len().saturating_sub(usize::try_from(since_pause).unwrap_or(usize::MAX))
    }

    /// Whether the live list shows this event: failures-only and the filter.
    fn shows_live(&self, e: &Event) -> bool {
        (!self.failures_only || e.is_failure()) && matches(e, &self.filter)
    }

    /// The failures panel, newest first; frozen while paused like the live list.
    pub fn failures_view(&self) -> impl Iterator<Item = &Stored> + '_ {
        let bound = self.paused.unwrap_or(u64::MAX);
        self.failures.iter().rev().filter(move |s| s.seq < bound)
    }

    /// The actions table in the current order.
    pub fn action_rows(&self) -> Vec<ActionRow<'_>> {
        let mut rows: Vec<ActionRow> = self
            .actions
            .iter()
            .map(|stats| {
                let mut window: Vec<u64> = stats.latencies.iter().copied().collect();
                window.sort_unstable();
                ActionRow {
                    stats,
                    p50: percentile(&window, 50),
                    p95: percentile(&window, 95),
                    p99: percentile(&window, 99),
                }
            })
            .collect();
        // Biggest first, ties by name, so that the order never flickers.
        rows.sort_by(|a, b| {
            let first = match self.sort {
                SortKey::Name => std::cmp::Ordering::Equal,
                SortKey::Calls => b.stats.calls.cmp(&a.stats.calls),
                SortKey::Failures => b.stats.failures.cmp(&a.stats.failures),
                SortKey::P95 => b.p95.cmp(&a.p95),
            };
            first.then(a.stats.name.cmp(b.stats.name))
        });
        rows
    }

    fn push_event(&mut self, event: Arc<Event>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        if event.endpoint == "customAction"
            && let Some(stats) = event.action.as_deref().and_then(|n| self.actions.iter_mut().find(|a| a.name == n))
        {
            stats.last_call = Some(Arc::clone(&event));
            if stats.latencies.len() == LATENCY_WINDOW {
                stats.latencies.pop_front();
            }
            stats.latencies.push_back(event.latency_us);
        }
        if self.paused.is_none() {
            // Someone reading further down keeps the same row under the
            // selection while new rows arrive on top.
            if self.shows_live(&event) {
                anchor(&mut self.live, 1);
            }
            if event.is_failure() {
                anchor(&mut self.fail, 1);
            }
        }
        if event.is_failure() {
            push_bounded(&mut self.failures, Stored { seq, event: Arc::clone(&event) }, MAX_FAILURES);
        }
        push_bounded(&mut self.events, Stored { seq, event }, MAX_EVENTS);
    }

    fn push_stats(&mut self, stats: Stats) {
        match self.last_sample {
            Some((uptime, total)) if stats.uptime > uptime && stats.total >= total => {
                let secs = (stats.uptime - uptime).as_secs_f64();
                if self.rates.len() == RATE_SAMPLES {
                    self.rates.pop_front();
                }
                self.rates.push_back((stats.total - total) as f64 / secs);
                self.last_sample = Some((stats.uptime, stats.total));
            }
            // The same moment twice: wait for a later one.
            Some((uptime, total)) if stats.uptime == uptime && stats.total >= total => {}
            // First snapshot, or the server restarted: a new base.
            _ => self.last_sample = Some((stats.uptime, stats.total)),
        }
        for count in &stats.actions {
            if let Some(a) = self.actions.iter_mut().find(|a| a.name == count.name) {
                (a.calls, a.failures) = (count.calls, count.failures);
            }
        }
        self.stats = Some(stats);
    }

    fn push_log(&mut self, line: String) {
        if self.log.selected > 0 {
            // Scrolled back: stay on the same lines.
            self.log.selected = (self.log.selected + 1).min(MAX_LOG_LINES - 1);
        }
        push_bounded(&mut self.logs, line, MAX_LOG_LINES);
    }

    pub(super) fn panels(&self) -> &'static [Panel] {
        match self.mode {
            Mode::Serve => &[Panel::Live, Panel::Failures, Panel::Actions, Panel::Log],
            // The log lives with the server, not in `top`.
            Mode::Top => &[Panel::Live, Panel::Failures, Panel::Actions],
        }
    }

    /// Rows the panel shows at the current size: a page.
    pub(super) fn rows(&self, panel: Panel) -> usize {
        let area = Rect::new(0, 0, self.size.0, self.size.1);
        layout::visible_rows(area, self.mode, self.lower, panel)
    }

    pub(super) fn len(&self, panel: Panel) -> usize {
        match panel {
            Panel::Live => self.live_len(),
            Panel::Failures => self.failures_view().count(),
            Panel::Actions => self.actions.len(),
            Panel::Log => self.logs.len(),
        }
    }

    pub(super) fn cursor_mut(&mut self, panel: Panel) -> &mut Cursor {
        match panel {
            Panel::Live => &mut self.live,
            Panel::Failures => &mut self.fail,
            Panel::Actions => &mut self.table,
            Panel::Log => &mut self.log,
        }
    }

    pub(super) fn set_filter(&mut self, text: String) {
        if text != self.filter {
            self.filter = text;
            self.live = Cursor::default();
        }
    }

    pub(super) fn toggle_pause(&mut self) {
        match self.paused.take() {
            None => self.paused = Some(self.next_seq),
            Some(bound) => {
                // Rows that arrived meanwhile appear on top; keep the selection's row.
                let live_new = self
                    .events
                    .iter()
                    .rev()
                    .take_while(|s| s.seq >= bound)
                    .filter(|s| self.shows_live(&s.event))
                    .count();
                let fail_new = self.failures.iter().rev().take_while(|s| s.seq >= bound).count();
                anchor(&mut self.live, live_new);
                anchor(&mut self.fail, fail_new);
            }
        }
    }
}

/// Shifts a selection that is off the top down by `n` new rows.
fn anchor(cursor: &mut Cursor, n: usize) {
    if cursor.selected > 0 && n > 0 {
        cursor.selected += n;
        cursor.offset += n;
    }
}

/// Moves the first shown row so that the selection is among `rows` rows.
pub(super) fn keep_visible(cursor: &mut Cursor, rows: usize) {
    let rows = rows.max(1);
    if cursor.selected < cursor.offset {
        cursor.offset = cursor.selected;
    } else if cursor.selected >= cursor.offset + rows {
        cursor.offset = cursor.selected + 1 - rows;
    }
}

fn push_bounded<T>(ring: &mut VecDeque<T>, item: T, cap: usize) {
    if ring.len() == cap {
        ring.pop_front();
    }
    ring.push_back(item);
}

/// Whether the event's endpoint, action, documentId, username, request id
/// or status contains `needle`, ignoring ASCII case.
fn matches(e: &Event, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    // Three digits at most: kept inline, no allocation per event.
    let status = e.status.to_compact_string();
    [Some(e.endpoint.as_str()), e.action.as_deref(), e.document_id.as_deref(), e.username.as_deref()]
        .into_iter()
        .flatten()
        .chain([e.request_id.as_str(), status.as_str()])
        .any(|hay| contains_ignore_ascii_case(hay, needle))
}

fn contains_ignore_ascii_case(hay: &str, needle: &str) -> bool {
    let (hay, needle) = (hay.as_bytes(), needle.as_bytes());
    needle.len() <= hay.len() && hay.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

/// Nearest-rank percentile of a sorted window.
fn percentile(sorted: &[u64], p: usize) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    Some(sorted[rank - 1])
}

/// A log line as the pane can show it: ANSI color sequences removed, tabs
/// expanded, other control characters dropped.
fn clean_log(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                // CSI: ESC [ parameters… final byte in @..~
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
            }
            '\t' => out.push_str("    "),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::testing::*;
    use crossterm::event::KeyCode;
    use std::time::Duration;
    #[test]
    fn pause_freezes_the_lists_while_counting_goes_on() {
        let mut m = model(Mode::Serve, 4);
        press(&mut m, &[KeyCode::Char('p')]);
        assert!(m.is_paused());
        m.apply(Feed::Event(Arc::new(event(100, 200))));
        m.apply(Feed::Event(Arc::new(event(101, 502))));
        assert_eq!(m.received(), 6);
        assert_eq!(m.live_view().count(), 4);
        assert_eq!(m.live_len(), 4);
        assert_eq!(m.failures_view().count(), 1);
        // The actions table counts on too.
        m.apply(Feed::Stats(Stats { actions: counts(&history(6)), ..Stats::default() }));
        assert_eq!(m.actions.iter().map(|a| a.calls).sum::<u64>(), 6);
        press(&mut m, &[KeyCode::Char('p')]);
        assert!(!m.is_paused());
        assert_eq!(ids(&m)[..2], ["abc123-101", "abc123-100"]);
        assert_eq!(m.failures_view().count(), 2);
    }

    #[test]
    fn selection_stays_on_its_row_while_new_rows_arrive() {
        let mut m = model(Mode::Serve, 10);
        press(&mut m, &[KeyCode::Down, KeyCode::Down]);
        let chosen = m.live_view().nth(m.live.selected).unwrap().event.request_id.clone();
        m.apply(Feed::Event(Arc::new(event(50, 200))));
        assert_eq!(m.live_view().nth(m.live.selected).unwrap().event.request_id, chosen);
        // At the top, the selection follows the newest.
        press(&mut m, &[KeyCode::Home]);
        m.apply(Feed::Event(Arc::new(event(51, 200))));
        assert_eq!(m.live.selected, 0);
        // Unpausing shifts by what arrived while paused.
        press(&mut m, &[KeyCode::Down, KeyCode::Char('p')]);
        let chosen = m.live_view().nth(m.live.selected).unwrap().event.request_id.clone();
        m.apply(Feed::Event(Arc::new(event(52, 200))));
        m.apply(Feed::Event(Arc::new(event(53, 200))));
        press(&mut m, &[KeyCode::Char('p')]);
        assert_eq!(m.live_view().nth(m.live.selected).unwrap().event.request_id, chosen);
    }

    #[test]
    fn s_cycles_the_sort_and_orders_the_table() {
        let mut m = model(Mode::Serve, 0);
        let mut events = vec![];
        for (i, (name, n, status)) in [("lock", 5, 200), ("ping", 9, 200), ("checksum", 2, 500)].into_iter().enumerate()
        {
            for j in 0..n {
                let mut e = event(i * 100 + j, status);
                e.action = Some(name.into());
                e.latency_us = if name == "checksum" { 90_000 } else { 10 };
                m.apply(Feed::Event(Arc::new(e.clone())));
                events.push(e);
            }
        }
        m.apply(Feed::Stats(Stats { actions: counts(&events), ..Stats::default() }));
        let order = |m: &Model| m.action_rows().iter().map(|r| r.stats.name).collect::<Vec<_>>();
        // Whatever the registry holds: by name, then the busiest first and
        // the unused ones after them by name.
        let mut by_name: Vec<&str> = ACTIONS.iter().map(|a| a.name()).collect();
        by_name.sort_unstable();
        let mut by_calls = vec!["ping", "lock", "checksum"];
        by_calls.extend(by_name.iter().filter(|n| !["ping", "lock", "checksum"].contains(n)));
        assert_eq!(m.sort(), SortKey::Name);
        assert_eq!(order(&m), by_name);
        press(&mut m, &[KeyCode::Char('s')]);
        assert_eq!(m.sort(), SortKey::Calls);
        assert_eq!(order(&m), by_calls);
        press(&mut m, &[KeyCode::Char('s')]);
        assert_eq!(m.sort(), SortKey::Failures);
        assert_eq!(order(&m)[0], "checksum");
        press(&mut m, &[KeyCode::Char('s')]);
        assert_eq!(m.sort(), SortKey::P95);
        assert_eq!(order(&m)[0], "checksum");
        press(&mut m, &[KeyCode::Char('s')]);
        assert_eq!(m.sort(), SortKey::Name);
    }

    #[test]
    fn every_registered_action_has_a_row() {
        let mut m = model(Mode::Top, 30);
        // Counts are the server's; the latencies are those of the calls seen.
        m.apply(Feed::Stats(Stats { actions: counts(&history(30)), ..Stats::default() }));
        let rows = m.action_rows();
        assert_eq!(rows.len(), ACTIONS.len());
        let ping = rows.iter().find(|r| r.stats.name == "ping").unwrap();
        assert_eq!(ping.stats.calls, 10);
        assert_eq!(ping.stats.failures, 3);
        assert_eq!(ping.stats.last(), Some("2024-05-01T12:00:27.000Z"));
        assert!(ping.p50 <= ping.p95 && ping.p95 <= ping.p99);
        assert!(rows.iter().any(|r| r.stats.calls == 0 && r.p95.is_none()));
    }

    #[test]
    fn live_len_counts_what_the_live_list_walks() {
        let mut m = model(Mode::Serve, MAX_EVENTS - 5);
        let agree = |m: &Model| assert_eq!(m.live_len(), m.live_view().count());
        agree(&m);
        press(&mut m, &[KeyCode::Char('p')]);
        // Arrivals while paused, enough for the ring to turn over.
        for i in 0..20 {
            m.apply(Feed::Event(Arc::new(event(MAX_EVENTS + i, 200))));
        }
        agree(&m);
        press(&mut m, &[KeyCode::Char('f')]);
        agree(&m);
        press(&mut m, &[KeyCode::Char('f'), KeyCode::Char('p')]);
        typed(&mut m, "lock");
        agree(&m);
    }

    #[test]
    fn rings_are_bounded() {
        let mut m = model(Mode::Serve, 0);
        for i in 0..MAX_EVENTS + 10 {
            m.apply(Feed::Event(Arc::new(event(i, 500))));
        }
        for i in 0..MAX_LOG_LINES + 10 {
            m.apply(Feed::Log(format!("{i}")));
        }
        assert_eq!(m.events.len(), MAX_EVENTS);
        assert_eq!(m.failures.len(), MAX_FAILURES);
        assert_eq!(m.logs.len(), MAX_LOG_LINES);
        assert!(m.actions.iter().all(|a| a.latencies.len() <= LATENCY_WINDOW));
        assert_eq!(m.received(), (MAX_EVENTS + 10) as u64);
    }

    #[test]
    fn rate_comes_from_total_deltas_and_survives_restarts() {
        let mut m = model(Mode::Top, 0);
        let stats = |secs, total| Stats { uptime: Duration::from_secs(secs), total, ..Stats::default() };
        m.apply(Feed::Stats(stats(10, 100)));
        assert_eq!(m.rate(), None);
        m.apply(Feed::Stats(stats(12, 140)));
        assert_eq!(m.rate(), Some(20.0));
        m.apply(Feed::Stats(stats(12, 150)));
        assert_eq!(m.rates.len(), 1, "same uptime: no sample");
        // A restarted server counts from zero again: a new base, no negative rate.
        m.apply(Feed::Stats(stats(1, 3)));
        m.apply(Feed::Stats(stats(2, 8)));
        assert_eq!(m.rate(), Some(5.0));
        for i in 0..RATE_SAMPLES as u64 + 5 {
            m.apply(Feed::Stats(stats(3 + i, 8)));
        }
        assert_eq!(m.rates.len(), RATE_SAMPLES);
    }

    #[test]
    fn missed_events_add_to_dropped() {
        let mut m = model(Mode::Top, 0);
        m.apply(Feed::Stats(Stats { dropped: 2, ..Stats::default() }));
        m.apply(Feed::Missed(5));
        assert_eq!(m.dropped(), 7);
        m.apply(Feed::Connection(ConnState::Connected));
        assert_eq!(m.conn, Some(ConnState::Connected));
    }

    #[test]
    fn log_lines_lose_colors_and_control_characters() {
        let mut m = model(Mode::Serve, 0);
        m.apply(Feed::Log("\u{1b}[31mERROR\u{1b}[0m\tboom\u{7}\nsecond".into()));
        assert_eq!(m.logs, ["ERROR    boom", "second"]);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50), Some(50));
        assert_eq!(percentile(&v, 95), Some(95));
        assert_eq!(percentile(&v, 99), Some(99));
        assert_eq!(percentile(&[7], 99), Some(7));
        assert_eq!(percentile(&[], 50), None);
    }
}
