//! What the dashboard's tests share: events, models in known states, keys,
//! and drawing into a test buffer.

use std::time::Duration;

use compact_str::format_compact;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;

use super::model::{Model, Outcome};
use super::{Feed, Mode, Options, Stats, view};
use crate::events::Event;
use crate::metrics::ActionCount;

/// Event `n`: a custom action (ping, checksum, lock in turn) by ann, with
/// a failure's error text when `status` is one.
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

pub(crate) fn typed(m: &mut Model, text: &str) {
    for c in text.chars() {
        assert_eq!(m.on_key(key(KeyCode::Char(c))), Outcome::Continue);
    }
}

/// The live list's request ids, top to bottom.
pub(crate) fn ids(m: &Model) -> Vec<String> {
    m.live_view().map(|s| s.event.request_id.to_string()).collect()
}

/// A test buffer's cells as lines of text.
pub(crate) fn text(buf: &Buffer) -> String {
    buf.content()
        .chunks(buf.area.width.max(1) as usize)
        .map(|row| row.iter().map(|c| c.symbol()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The model drawn at `(w, h)`, as text.
pub(crate) fn draw(m: &mut Model, (w, h): (u16, u16)) -> String {
    m.resize(w, h);
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| view::render(m, f)).unwrap();
    text(terminal.backend().buffer())
}

pub(crate) fn stats() -> Stats {
    Stats {
        version: "9.8.7".into(),
        listen: "127.0.0.1:8080".into(),
        uptime: Duration::from_secs(3_723),
        in_flight: 2,
        total: 1_000,
        failures: 25,
        dropped: 3,
        sampled: 0,
        actions: counts(&history(30)),
    }
}

/// A dashboard with 30 events (every fourth fails), stats and 40 log lines.
pub(crate) fn busy(mode: Mode) -> Model {
    let mut m = model(mode, 30);
    m.apply(Feed::Stats(stats()));
    m.apply(Feed::Stats(Stats { uptime: Duration::from_secs(3_724), total: 1_012, ..stats() }));
    for i in 0..40 {
        m.apply(Feed::Log(format!("INFO log line {i}")));
    }
    m
}

/// The screen line that holds `needle`.
pub(crate) fn row_of(screen: &str, needle: &str) -> usize {
    screen.lines().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle:?} not in\n{screen}"))
}

/// The sizes every state is drawn at: 80×24, where the lower pane is shared;
/// 100×28, with the shipped actions the smallest with every panel at once
/// (shared too with more actions); and larger ones up to the wide layout.
/// The layout's tests add the smallest size of each shape, which follows
/// the registry.
pub(crate) const SIZES: [(u16, u16); 5] = [(80, 24), (100, 28), (100, 30), (120, 36), (160, 48)];
