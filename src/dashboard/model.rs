//! The dashboard's state and every change to it.
//!
//! Nothing here does I/O or reads a clock: [`Model::apply`] takes a feed
//! message, [`Model::on_key`] takes a key, [`Model::resize`] takes the
//! terminal size, and the view reads the result. That keeps every behaviour
//! testable as a plain state transition.
//!
//! Memory is bounded however long the dashboard runs: events, failures and
//! log lines live in rings, latency percentiles come from a window of the
//! newest calls per action, and the rate history keeps five minutes.

use std::collections::VecDeque;
use std::sync::Arc;

use compact_str::ToCompactString;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::Rect;

use super::{ConnState, Feed, Mode, Options, Stats, view};
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
const MAX_FILTER: usize = 100;

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
    fn next(self) -> SortKey {
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
    /// Which lower panel a narrow terminal shows under the live list.
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
    }

    /// Takes one key; never does I/O.
    pub fn on_key(&mut self, key: KeyEvent) -> Outcome {
        // Terminals that report releases would otherwise act twice.
        if key.kind == KeyEventKind::Release {
            return Outcome::Continue;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        // In raw mode Ctrl-C is a key, not a signal; it means quit.
        let ctrl_c = ctrl && key.code == KeyCode::Char('c');
        match self.overlay {
            Some(Overlay::ConfirmQuit) => {
                return match key.code {
                    KeyCode::Char('y' | 'Y') => Outcome::Quit,
                    _ if ctrl_c => Outcome::Quit,
                    KeyCode::Char('n' | 'N') | KeyCode::Esc => {
                        self.overlay = None;
                        Outcome::Continue
                    }
                    _ => Outcome::Continue,
                };
            }
            Some(Overlay::Help) if matches!(key.code, KeyCode::Esc | KeyCode::Enter | KeyCode::Char('?')) => {
                self.overlay = None;
                return Outcome::Continue;
            }
            Some(Overlay::Detail(_)) if matches!(key.code, KeyCode::Esc | KeyCode::Enter | KeyCode::Backspace) => {
                self.overlay = None;
                return Outcome::Continue;
            }
            _ => {}
        }
        if ctrl_c {
            return self.quit();
        }
        if self.editing {
            self.edit_filter(key);
            return Outcome::Continue;
        }
        if key.code == KeyCode::Char('q') {
            return self.quit();
        }
        if self.overlay.is_some() {
            return Outcome::Continue;
        }
        let page = self.rows(self.focus).max(1) as isize;
        match key.code {
            KeyCode::Char('?') => self.overlay = Some(Overlay::Help),
            KeyCode::Tab => self.cycle_focus(1),
            KeyCode::BackTab => self.cycle_focus(-1),
            KeyCode::Up | KeyCode::Char('k') => self.scroll(-1),
            KeyCode::Down | KeyCode::Char('j') => self.scroll(1),
            KeyCode::PageUp => self.scroll(-page),
            KeyCode::PageDown => self.scroll(page),
            KeyCode::Home | KeyCode::Char('g') => self.scroll(isize::MIN),
            KeyCode::End | KeyCode::Char('G') => self.scroll(isize::MAX),
            KeyCode::Enter => self.open(),
            KeyCode::Esc => self.set_filter(String::new()),
            KeyCode::Char('/') => self.editing = true,
            KeyCode::Char('f') => {
                self.failures_only = !self.failures_only;
                self.live = Cursor::default();
            }
            KeyCode::Char('p') => self.toggle_pause(),
            KeyCode::Char('s') => self.sort = self.sort.next(),
            _ => {}
        }
        Outcome::Continue
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

    fn quit(&mut self) -> Outcome {
        match self.mode {
            Mode::Top => Outcome::Quit,
            Mode::Serve => {
                self.editing = false;
                self.overlay = Some(Overlay::ConfirmQuit);
                Outcome::Continue
            }
        }
    }

    pub(super) fn panels(&self) -> &'static [Panel] {
        match self.mode {
            Mode::Serve => &[Panel::Live, Panel::Failures, Panel::Actions, Panel::Log],
            // The log lives with the server, not in `top`.
            Mode::Top => &[Panel::Live, Panel::Failures, Panel::Actions],
        }
    }

    fn cycle_focus(&mut self, step: isize) {
        let panels = self.panels();
        let at = panels.iter().position(|p| *p == self.focus).unwrap_or(0) as isize;
        self.focus = panels[(at + step).rem_euclid(panels.len() as isize) as usize];
        if self.focus != Panel::Live {
            self.lower = self.focus;
        }
    }

    /// Rows the panel shows at the current size.
    fn rows(&self, panel: Panel) -> usize {
        let area = Rect::new(0, 0, self.size.0, self.size.1);
        view::visible_rows(area, self.mode, self.lower, panel)
    }

    fn len(&self, panel: Panel) -> usize {
        match panel {
            Panel::Live => self.live_len(),
            Panel::Failures => self.failures_view().count(),
            Panel::Actions => self.actions.len(),
            Panel::Log => self.logs.len(),
        }
    }

    fn cursor_mut(&mut self, panel: Panel) -> &mut Cursor {
        match panel {
            Panel::Live => &mut self.live,
            Panel::Failures => &mut self.fail,
            Panel::Actions => &mut self.table,
            Panel::Log => &mut self.log,
        }
    }

    fn scroll(&mut self, by: isize) {
        let panel = self.focus;
        let len = self.len(panel);
        let rows = self.rows(panel);
        if panel == Panel::Log {
            // Up goes back in time, away from the tail.
            let most = len.saturating_sub(rows);
            self.log.selected = self.log.selected.min(most).saturating_add_signed(by.saturating_neg()).min(most);
            return;
        }
        let cursor = self.cursor_mut(panel);
        cursor.selected = cursor.selected.saturating_add_signed(by).min(len.saturating_sub(1));
        keep_visible(cursor, rows);
    }

    fn open(&mut self) {
        match self.focus {
            Panel::Live => {
                let chosen = self.live_view().nth(self.live.selected).map(|s| s.event.clone());
                self.overlay = chosen.map(Overlay::Detail);
            }
            Panel::Failures => {
                let chosen = self.failures_view().nth(self.fail.selected).map(|s| s.event.clone());
                self.overlay = chosen.map(Overlay::Detail);
            }
            // Drill down: the live list of that action.
            Panel::Actions => {
                let name = self.action_rows().get(self.table.selected).map(|r| r.stats.name);
                if let Some(name) = name {
                    self.set_filter(name.to_string());
                    self.focus = Panel::Live;
                }
            }
            Panel::Log => {}
        }
    }

    fn edit_filter(&mut self, key: KeyEvent) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Enter => self.editing = false,
            // Esc clears and leaves editing; it never quits.
            KeyCode::Esc => {
                self.editing = false;
                self.set_filter(String::new());
            }
            KeyCode::Backspace => {
                let mut text = self.filter.clone();
                text.pop();
                self.set_filter(text);
            }
            KeyCode::Char('u') if ctrl => self.set_filter(String::new()),
            KeyCode::Char(c) if !ctrl && !c.is_control() && self.filter.chars().count() < MAX_FILTER => {
                let mut text = self.filter.clone();
                text.push(c);
                self.set_filter(text);
            }
            _ => {}
        }
    }

    fn set_filter(&mut self, text: String) {
        if text != self.filter {
            self.filter = text;
            self.live = Cursor::default();
        }
    }

    fn toggle_pause(&mut self) {
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
pub(super) mod tests {
    use super::*;
    use crate::metrics::ActionCount;
    use compact_str::format_compact;
    use std::time::Duration;

    pub(crate) fn event(n: usize, status: u16) -> Event {
        let action = ["ping", "checksum", "lock"][n % 3];
        let time = format_compact!("2024-05-01T12:{:02}:{:02}.000Z", (n / 60) % 60, n % 60);
        Event {
            action: Some(action.into()),
            document_id: Some(format_compact!("doc{n}")),
            id: Some(format_compact!("/files/f{n}.pdf")),
            username: Some("ann".into()),
            status,
            latency_us: 1_000 * (n as u64 % 7 + 1),
            error: (status >= 400).then(|| format_compact!("failure number {n}")),
            ..Event::new(time, format_compact!("abc123-{n}"), "POST", "customAction")
        }
    }

    /// `n` events, every fourth a failure.
    pub(crate) fn history(n: usize) -> Vec<Event> {
        (0..n).map(|i| event(i, if i % 4 == 3 { 500 } else { 200 })).collect()
    }

    pub(crate) fn model(mode: Mode, n: usize) -> Model {
        Model::new(Options { mode, no_color: false, history: history(n) })
    }

    /// The per-action counts that a server which handled `events` reports.
    pub(crate) fn counts(events: &[Event]) -> Vec<ActionCount> {
        let metrics = crate::metrics::Metrics::new();
        events.iter().for_each(|e| metrics.record(e));
        metrics.actions()
    }

    pub(crate) fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    pub(crate) fn press(m: &mut Model, codes: &[KeyCode]) -> Outcome {
        let mut last = Outcome::Continue;
        for c in codes {
            last = m.on_key(key(*c));
        }
        last
    }

    fn typed(m: &mut Model, text: &str) {
        for c in text.chars() {
            assert_eq!(m.on_key(key(KeyCode::Char(c))), Outcome::Continue);
        }
    }

    fn ids(m: &Model) -> Vec<String> {
        m.live_view().map(|s| s.event.request_id.to_string()).collect()
    }

    #[test]
    fn filter_narrows_the_live_list_and_esc_clears_without_quitting() {
        let mut m = model(Mode::Serve, 12);
        assert_eq!(press(&mut m, &[KeyCode::Char('/')]), Outcome::Continue);
        assert!(m.is_editing_filter());
        // `q` while typing is text, not quit.
        typed(&mut m, "q");
        assert_eq!(m.filter(), "q");
        assert_eq!(m.overlay(), None);
        press(&mut m, &[KeyCode::Backspace]);
        typed(&mut m, "-1");
        assert_eq!(ids(&m), ["abc123-11", "abc123-10", "abc123-1"]);
        assert_eq!(press(&mut m, &[KeyCode::Esc]), Outcome::Continue);
        assert!(!m.is_editing_filter());
        assert_eq!(m.filter(), "");
        assert_eq!(m.live_view().count(), 12);
        assert_eq!(m.overlay(), None);
    }

    #[test]
    fn enter_keeps_the_filter_and_a_later_esc_clears_it() {
        let mut m = model(Mode::Top, 12);
        press(&mut m, &[KeyCode::Char('/')]);
        typed(&mut m, "CHECKSUM");
        assert_eq!(press(&mut m, &[KeyCode::Enter]), Outcome::Continue);
        assert!(!m.is_editing_filter());
        assert_eq!(m.filter(), "CHECKSUM");
        assert_eq!(m.live_view().count(), 4, "case-insensitive, over the action name");
        // Status and username match too.
        m.set_filter("500".into());
        assert_eq!(m.live_view().count(), 3);
        m.set_filter("ANN".into());
        assert_eq!(m.live_view().count(), 12);
        m.set_filter("doc7".into());
        assert_eq!(ids(&m), ["abc123-7"]);
        assert_eq!(press(&mut m, &[KeyCode::Esc]), Outcome::Continue);
        assert_eq!(m.filter(), "");
        // Esc with nothing to clear still does not quit, even in top.
        assert_eq!(press(&mut m, &[KeyCode::Esc, KeyCode::Esc]), Outcome::Continue);
    }

    #[test]
    fn quitting_serve_asks_and_n_or_esc_cancels() {
        let mut m = model(Mode::Serve, 0);
        assert_eq!(press(&mut m, &[KeyCode::Char('q')]), Outcome::Continue);
        assert_eq!(m.overlay(), Some(&Overlay::ConfirmQuit));
        assert_eq!(press(&mut m, &[KeyCode::Char('n')]), Outcome::Continue);
        assert_eq!(m.overlay(), None);
        press(&mut m, &[KeyCode::Char('q')]);
        // Unrelated keys leave the question open.
        assert_eq!(press(&mut m, &[KeyCode::Char('x'), KeyCode::Tab]), Outcome::Continue);
        assert_eq!(m.overlay(), Some(&Overlay::ConfirmQuit));
        assert_eq!(m.focus(), Panel::Live);
        assert_eq!(press(&mut m, &[KeyCode::Esc]), Outcome::Continue);
        assert_eq!(m.overlay(), None);
        press(&mut m, &[KeyCode::Char('q')]);
        assert_eq!(press(&mut m, &[KeyCode::Char('y')]), Outcome::Quit);
    }

    #[test]
    fn ctrl_c_asks_in_serve_and_a_second_one_quits() {
        let mut m = model(Mode::Serve, 0);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(m.on_key(ctrl_c), Outcome::Continue);
        assert_eq!(m.overlay(), Some(&Overlay::ConfirmQuit));
        assert_eq!(m.on_key(ctrl_c), Outcome::Quit);
        let mut m = model(Mode::Top, 0);
        assert_eq!(m.on_key(ctrl_c), Outcome::Quit);
    }

    #[test]
    fn q_in_top_quits_at_once() {
        let mut m = model(Mode::Top, 3);
        assert_eq!(press(&mut m, &[KeyCode::Char('q')]), Outcome::Quit);
        // Also from under the help and a detail view.
        let mut m = model(Mode::Top, 3);
        press(&mut m, &[KeyCode::Char('?')]);
        assert_eq!(press(&mut m, &[KeyCode::Char('q')]), Outcome::Quit);
    }

    #[test]
    fn key_releases_are_ignored() {
        let mut m = model(Mode::Top, 0);
        let mut release = key(KeyCode::Char('q'));
        release.kind = KeyEventKind::Release;
        assert_eq!(m.on_key(release), Outcome::Continue);
    }

    #[test]
    fn tab_cycles_focus_both_ways_and_top_has_no_log_pane() {
        let mut m = model(Mode::Serve, 0);
        let mut seen = vec![];
        for _ in 0..4 {
            press(&mut m, &[KeyCode::Tab]);
            seen.push(m.focus());
        }
        assert_eq!(seen, [Panel::Failures, Panel::Actions, Panel::Log, Panel::Live]);
        press(&mut m, &[KeyCode::BackTab]);
        assert_eq!(m.focus(), Panel::Log);
        assert_eq!(m.lower, Panel::Log);
        let mut m = model(Mode::Top, 0);
        press(&mut m, &[KeyCode::BackTab]);
        assert_eq!(m.focus(), Panel::Actions);
        press(&mut m, &[KeyCode::Tab]);
        assert_eq!(m.focus(), Panel::Live);
        assert_eq!(m.lower, Panel::Actions, "the lower pane stays on the last one visited");
    }

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
        let order = |m: &Model| m.action_rows().iter().map(|r| r.stats.name).take(3).collect::<Vec<_>>();
        assert_eq!(m.sort(), SortKey::Name);
        assert_eq!(order(&m), ["archive", "checksum", "lock"]);
        press(&mut m, &[KeyCode::Char('s')]);
        assert_eq!(m.sort(), SortKey::Calls);
        assert_eq!(order(&m), ["ping", "lock", "checksum"]);
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
    fn enter_on_a_failure_opens_its_detail_and_esc_returns() {
        let mut m = model(Mode::Serve, 8);
        press(&mut m, &[KeyCode::Tab, KeyCode::Down, KeyCode::Enter]);
        match m.overlay() {
            Some(Overlay::Detail(e)) => assert_eq!(e.request_id, "abc123-3"),
            other => panic!("{other:?}"),
        }
        // Keys other than the closing ones do nothing under the detail.
        press(&mut m, &[KeyCode::Tab, KeyCode::Char('p')]);
        assert_eq!(m.focus(), Panel::Failures);
        assert!(!m.is_paused());
        assert_eq!(press(&mut m, &[KeyCode::Esc]), Outcome::Continue);
        assert_eq!(m.overlay(), None);
        assert_eq!(m.focus(), Panel::Failures);
    }

    #[test]
    fn enter_on_an_action_filters_the_live_list() {
        let mut m = model(Mode::Serve, 9);
        press(&mut m, &[KeyCode::BackTab, KeyCode::BackTab, KeyCode::Down, KeyCode::Enter]);
        assert_eq!(m.filter(), "checksum");
        assert_eq!(m.focus(), Panel::Live);
        assert_eq!(m.live_view().count(), 3);
    }

    #[test]
    fn help_opens_and_closes() {
        let mut m = model(Mode::Serve, 0);
        press(&mut m, &[KeyCode::Char('?')]);
        assert_eq!(m.overlay(), Some(&Overlay::Help));
        press(&mut m, &[KeyCode::Char('?')]);
        assert_eq!(m.overlay(), None);
        press(&mut m, &[KeyCode::Char('?'), KeyCode::Esc]);
        assert_eq!(m.overlay(), None);
    }

    #[test]
    fn f_shows_failures_only() {
        let mut m = model(Mode::Serve, 8);
        press(&mut m, &[KeyCode::Char('f')]);
        assert!(m.failures_only());
        assert_eq!(ids(&m), ["abc123-7", "abc123-3"]);
        press(&mut m, &[KeyCode::Char('f')]);
        assert_eq!(m.live_view().count(), 8);
    }

    #[test]
    fn scrolling_is_clamped_and_keeps_the_selection_visible() {
        let mut m = model(Mode::Serve, 100);
        m.resize(80, 24);
        let rows = m.rows(Panel::Live);
        assert!(rows >= 5, "{rows}");
        press(&mut m, &[KeyCode::End]);
        assert_eq!(m.live.selected, 99);
        assert_eq!(m.live.offset, 100 - rows);
        press(&mut m, &[KeyCode::PageUp]);
        assert_eq!(m.live.selected, 99 - rows);
        assert_eq!(m.live.offset, 99 - rows);
        press(&mut m, &[KeyCode::Home, KeyCode::Up]);
        assert_eq!(m.live, Cursor::default());
        press(&mut m, &[KeyCode::PageDown]);
        assert_eq!(m.live.selected, rows);
        assert_eq!(m.live.offset, 1);
        // A smaller terminal moves the first row to keep the selection shown.
        m.resize(80, 16);
        let small = m.rows(Panel::Live);
        assert!(m.live.selected < m.live.offset + small);
    }

    #[test]
    fn log_scrolls_back_and_end_follows_again() {
        let mut m = model(Mode::Serve, 0);
        for i in 0..50 {
            m.apply(Feed::Log(format!("line {i}")));
        }
        press(&mut m, &[KeyCode::Tab, KeyCode::Tab, KeyCode::Tab]);
        assert_eq!(m.focus(), Panel::Log);
        press(&mut m, &[KeyCode::Up, KeyCode::Up]);
        assert_eq!(m.log.selected, 2);
        m.apply(Feed::Log("new".into()));
        assert_eq!(m.log.selected, 3, "stays on the same lines");
        press(&mut m, &[KeyCode::End]);
        assert_eq!(m.log.selected, 0);
        press(&mut m, &[KeyCode::Home]);
        assert_eq!(m.log.selected, 51 - m.rows(Panel::Log));
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
