//! Drawing a [`Model`]: [`render`] composes the header, the panels, the
//! footer and the overlays where the layout puts them, and this file keeps
//! the drawing helpers and the formatting the panels share.
//!
//! The view only reads the model. Lists are drawn from the model's lazy
//! views, skipping to the first shown row and stopping after the last, so a
//! frame costs the same with ten events or ten thousand.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph, Row, Sparkline, Table, Wrap};

use super::keys::{Command, FILTER_KEYS, KEYMAP, hints};
use super::layout::{self, MIN};
use super::model::{Cursor, Model, Overlay, Panel, RATE_SAMPLES, keep_visible};
use super::theme::Theme;
use super::{ConnState, Mode, overlays, panels};
use crate::events::Event;

/// Draws the whole dashboard.
pub fn render(model: &Model, frame: &mut Frame) {
    let theme = Theme { color: !model.no_color };
    let area = frame.area();
    if area.width < MIN.0 || area.height < MIN.1 {
        let text = match model.overlay {
            Some(Overlay::ConfirmQuit) => "Stop the server? y/n".to_string(),
            _ => {
                let quit = KEYMAP.iter().find(|r| r.bindings.iter().any(|(_, c)| *c == Command::Quit));
                format!(
                    "wfhook: the terminal is too small ({}×{}, needs {}×{}); {} quits",
                    area.width,
                    area.height,
                    MIN.0,
                    MIN.1,
                    quit.and_then(|r| r.hint).map_or("q", |h| h.key)
                )
            }
        };
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return;
    }
    let areas = layout::layout(area, model.mode, model.lower);
    header(model, &theme, frame, areas.header);
    panels::live::draw(model, &theme, frame, areas.live, areas.shared);
    if let Some(r) = areas.failures {
        panels::failures::draw(model, &theme, frame, r, areas.shared);
    }
    if let Some(r) = areas.actions {
        panels::actions::draw(model, &theme, frame, r, areas.shared);
    }
    if let Some(r) = areas.log {
        panels::log::draw(model, &theme, frame, r, areas.shared);
    }
    footer(model, &theme, frame, areas.footer);
    match &model.overlay {
        Some(Overlay::Help) => overlays::help::draw(model, &theme, frame, area),
        Some(Overlay::Detail(event)) => overlays::detail::draw(event, &theme, frame, area),
        Some(Overlay::ConfirmQuit) => overlays::confirm::draw(&theme, frame, area),
        None => {}
    }
}

fn header(model: &Model, theme: &Theme, frame: &mut Frame, area: Rect) {
    let [top, bottom] = area.layout(&Layout::vertical([Constraint::Length(1), Constraint::Length(1)]));
    let stats = model.stats.as_ref();
    // What must not be clipped comes first: state, then where and how long.
    let brand = stats.map_or(" wfhook ".to_string(), |s| format!(" wfhook {} ", s.version));
    let mut spans = vec![Span::styled(brand, theme.brand())];
    match (&model.conn, model.mode) {
        (_, Mode::Serve) | (Some(ConnState::Local), _) => {}
        (None, Mode::Top) => spans.push(Span::raw("  connecting…")),
        (Some(ConnState::Connected), _) => {
            spans.push(Span::raw("  "));
            spans.push(Span::styled("● connected", theme.ok()));
        }
        (Some(ConnState::Disconnected { retry_in }), _) => {
            spans.push(Span::raw("  "));
            let text = format!("○ disconnected, retry in {}s", retry_in.as_secs_f64().ceil() as u64);
            spans.push(Span::styled(text, theme.alert()));
        }
    }
    if model.is_paused() {
        spans.push(Span::raw("  "));
        spans.push(Span::styled(" PAUSED ", theme.paused()));
    }
    if let Some(s) = stats {
        spans.push(Span::raw(format!("  listen {}", s.listen)));
        spans.push(Span::raw(format!("  up {}", uptime(s.uptime))));
    }
    frame.render_widget(Line::from(spans), top);

    let rate = Line::from(vec![
        Span::styled(format!(" {:>7}", model.rate().map_or("–".to_string(), rate_text)), theme.bold()),
        Span::raw(" req/s "),
    ]);
    let value = |v: Option<u64>| v.map_or("–".to_string(), |v| v.to_string());
    let failed = stats.map(|s| s.failures);
    let share = stats
        .filter(|s| s.total > 0)
        .map_or(String::new(), |s| format!(" ({:.1}%)", s.failures as f64 * 100.0 / s.total as f64));
    let alarm =
        |n: Option<u64>| if n.unwrap_or(0) > 0 { theme.failure().add_modifier(Modifier::BOLD) } else { theme.bold() };
    let dropped = stats.map(|_| model.dropped()).or((model.missed > 0).then_some(model.missed));
    let counts = Line::from(vec![
        Span::raw("  in-flight "),
        Span::styled(value(stats.map(|s| s.in_flight)), theme.bold()),
        Span::raw("  total "),
        Span::styled(value(stats.map(|s| s.total)), theme.bold()),
        Span::raw("  failed "),
        Span::styled(value(failed), alarm(failed)),
        Span::raw(share),
        Span::raw("  dropped "),
        Span::styled(value(dropped), alarm(dropped)),
        Span::raw(" "),
    ]);
    let [rate_area, spark_area, counts_area] = bottom.layout(&Layout::horizontal([
        Constraint::Length(rate.width() as u16),
        Constraint::Fill(1),
        Constraint::Length(counts.width() as u16),
    ]));
    frame.render_widget(rate, rate_area);
    let data = sparkline(&model.rates, spark_area.width as usize);
    let max = data.iter().flatten().copied().max().unwrap_or(0).max(1);
    frame.render_widget(Sparkline::default().data(data).max(max).style(theme.spark()), spark_area);
    frame.render_widget(counts, counts_area);
}

/// The rate history squeezed into `width` bars, newest on the right: each
/// bar averages as many samples as it takes to show the whole history.
fn sparkline(rates: &std::collections::VecDeque<f64>, width: usize) -> Vec<Option<u64>> {
    if width == 0 {
        return vec![];
    }
    let per_bar = RATE_SAMPLES.div_ceil(width).max(1);
    let samples: Vec<f64> = rates.iter().copied().collect();
    // Whole bars from the newest end, so the newest sample is always drawn.
    let mut bars: Vec<Option<u64>> = samples
        .rchunks(per_bar)
        .map(|c| Some((c.iter().sum::<f64>() / c.len() as f64 * 10.0).round() as u64))
        .collect();
    bars.truncate(width);
    bars.resize(width, None);
    bars.reverse();
    bars
}

/// The rows of a list that are on screen, each made by `row` with its
/// style, the selected one reversed when the panel has focus.
pub(in crate::dashboard) fn shown_rows<'a, T>(
    items: impl Iterator<Item = T>,
    cursor: Cursor,
    rows: usize,
    focused: bool,
    theme: &Theme,
    mut row: impl FnMut(T) -> (Row<'a>, Style),
) -> impl Iterator<Item = Row<'a>> {
    let selected = theme.selected();
    items.enumerate().skip(cursor.offset).take(rows).map(move |(i, item)| {
        let (r, style) = row(item);
        r.style(if focused && i == cursor.selected { style.patch(selected) } else { style })
    })
}

/// Keeps the selection within the list and on screen, whatever happened
/// since the model last placed it (evictions, a resize).
pub(in crate::dashboard) fn place(cursor: Cursor, len: usize, rows: usize) -> Cursor {
    let mut placed = Cursor {
        selected: cursor.selected.min(len.saturating_sub(1)),
        offset: cursor.offset.min(len.saturating_sub(rows.max(1))),
    };
    keep_visible(&mut placed, rows);
    placed
}

pub(in crate::dashboard) fn panel_block<'a>(
    model: &Model,
    theme: &Theme,
    panel: Panel,
    shared: &[Panel],
    tags: Vec<Span<'a>>,
    right: String,
) -> Block<'a> {
    let focused = model.focus == panel;
    let mut title = vec![Span::raw(" ")];
    if shared.contains(&panel) {
        // The pane is shared: name every tenant, mark the one shown.
        for (i, p) in shared.iter().enumerate() {
            if i > 0 {
                title.push(Span::styled(" │ ", theme.dim()));
            }
            let style = if *p == panel { theme.title(focused).add_modifier(Modifier::BOLD) } else { theme.dim() };
            title.push(Span::styled(panel_name(*p), style));
        }
    } else {
        title.push(Span::styled(panel_name(panel), theme.title(focused)));
    }
    title.push(Span::raw(" "));
    for tag in tags {
        title.push(tag);
        title.push(Span::raw(" "));
    }
    Block::bordered()
        .border_type(if focused { BorderType::Thick } else { BorderType::Plain })
        .border_style(theme.border(focused))
        .title(Line::from(title))
        .title_top(Line::from(right).right_aligned())
}

fn panel_name(panel: Panel) -> &'static str {
    match panel {
        Panel::Live => "Live invocations",
        Panel::Failures => "Failures",
        Panel::Actions => "Actions",
        Panel::Log => "Log",
    }
}

pub(in crate::dashboard) fn position(cursor: Cursor, len: usize) -> String {
    if len == 0 { " 0 ".into() } else { format!(" {}/{len} ", cursor.selected + 1) }
}

/// A table body's rows, or a note when there are none.
pub(in crate::dashboard) fn table_or_note(
    frame: &mut Frame,
    block: Block,
    area: Rect,
    table: Table,
    empty: Option<(&str, Style)>,
) {
    let inner = block.inner(area);
    frame.render_widget(block, area);
    frame.render_widget(table, inner);
    if let Some((note, style)) = empty {
        let [_, note_area] = inner.layout(&Layout::vertical([Constraint::Length(2), Constraint::Fill(1)]));
        frame.render_widget(Paragraph::new(Line::styled(note, style).centered()), note_area);
    }
}

fn footer(model: &Model, theme: &Theme, frame: &mut Frame, area: Rect) {
    if model.editing {
        let prompt = format!("/{}", model.filter);
        let hint = hints(FILTER_KEYS);
        let line = Line::from(vec![Span::styled(prompt.clone(), theme.bold())]);
        let [text, help] =
            area.layout(&Layout::horizontal([Constraint::Fill(1), Constraint::Length(hint.chars().count() as u16)]));
        frame.render_widget(line, text);
        frame.render_widget(Line::styled(hint, theme.dim()).right_aligned(), help);
        let x = text.x.saturating_add(Span::raw(prompt).width() as u16).min(text.right().saturating_sub(1));
        frame.set_cursor_position((x, text.y));
        return;
    }
    // The keymap's rows that have a hint, in its order, as many as fit.
    let mut spans = vec![Span::raw(" ")];
    let mut used = 1;
    for hint in KEYMAP.iter().filter_map(|r| r.hint) {
        let (key, label) = (hint.key, hint.label(model.is_paused()));
        let width = key.chars().count() + label.chars().count() + 4;
        if used + width > area.width as usize {
            break;
        }
        used += width;
        spans.push(Span::styled(format!(" {key} "), theme.reverse()));
        spans.push(Span::raw(format!(" {label} ")));
    }
    frame.render_widget(Line::from(spans), area);
}

/// A box in the middle of `area`, at most `width`×`height`.
pub(in crate::dashboard) fn popup(area: Rect, width: u16, height: u16) -> Rect {
    area.centered(Constraint::Length(width.min(area.width)), Constraint::Length(height.min(area.height)))
}

/// What the request did: the action's name for a custom action, else the endpoint.
pub(in crate::dashboard) fn what(e: &Event) -> &str {
    match (&e.action, e.endpoint.as_str()) {
        (Some(action), "customAction") => action,
        _ => &e.endpoint,
    }
}

/// `text` in `width` columns, ending in "…" where it had to be cut, so that
/// a cut text does not pass for the whole of it.
pub(in crate::dashboard) fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

/// HH:MM:SS of an RFC 3339 time; anything else is shown as it is.
pub fn hms(time: &str) -> &str {
    match time.get(11..19) {
        Some(t) if time.as_bytes().get(10) == Some(&b'T') => t,
        _ => time,
    }
}

pub fn latency(us: u64) -> String {
    match us {
        0..1_000 => format!("{us}µs"),
        1_000..10_000 => format!("{:.2}ms", us as f64 / 1e3),
        10_000..1_000_000 => format!("{:.1}ms", us as f64 / 1e3),
        _ => format!("{:.2}s", us as f64 / 1e6),
    }
}

fn rate_text(rate: f64) -> String {
    if rate < 10.0 { format!("{rate:.1}") } else { format!("{rate:.0}") }
}

pub fn uptime(d: std::time::Duration) -> String {
    let s = d.as_secs();
    let (days, h, m, s) = (s / 86_400, s / 3_600 % 24, s / 60 % 60, s % 60);
    match (days, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s:02}s"),
        (0, _, _) => format!("{h}h {m:02}m {s:02}s"),
        _ => format!("{days}d {h:02}h {m:02}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::testing::*;
    use crate::dashboard::{Feed, Options};
    use crossterm::event::KeyCode;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::style::Color;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn empty_dashboard() {
        for size in SIZES {
            let mut m = model(Mode::Serve, 0);
            let s = draw(&mut m, size);
            for needle in ["wfhook", "Live invocations", "No requests yet.", "Failures", "No failures.", " q ", "quit"]
            {
                assert!(s.contains(needle), "{needle:?} at {size:?}\n{s}");
            }
            assert!(s.contains("total –"), "no stats yet\n{s}");
        }
    }

    #[test]
    fn header_shows_version_listen_uptime_rate_and_counts() {
        for size in SIZES {
            let s = draw(&mut busy(Mode::Serve), size);
            let header: String = s.lines().take(2).collect::<Vec<_>>().join("\n");
            for needle in [
                "9.8.7",
                "listen 127.0.0.1:8080",
                "up 1h 02m 04s",
                "12 req/s",
                "in-flight 2",
                "total 1012",
                "failed 25 (2.5%)",
                "dropped 3",
            ] {
                assert!(header.contains(needle), "{needle:?} at {size:?}\n{header}");
            }
            assert!(!header.contains("PAUSED"));
        }
    }

    #[test]
    fn filter_prompt_and_kept_filter() {
        for size in SIZES {
            let mut m = busy(Mode::Serve);
            press(
                &mut m,
                &[
                    KeyCode::Char('/'),
                    KeyCode::Char('d'),
                    KeyCode::Char('o'),
                    KeyCode::Char('c'),
                    KeyCode::Char('2'),
                    KeyCode::Char('9'),
                ],
            );
            let s = draw(&mut m, size);
            let footer = s.lines().last().unwrap();
            assert!(footer.contains("/doc29") && footer.contains("Enter keep · Esc clear"), "{footer}");
            assert!(s.contains("filter: doc29") && s.contains("1/1"), "{s}");
            assert!(!s.contains("abc123-28"));
            press(&mut m, &[KeyCode::Enter]);
            let s = draw(&mut m, size);
            assert!(s.lines().last().unwrap().contains("quit"));
            assert!(s.contains("filter: doc29"));
            press(&mut m, &[KeyCode::Char('/'), KeyCode::Char('z')]);
            assert!(draw(&mut m, size).contains("Nothing matches."));
        }
    }

    #[test]
    fn paused_is_visible_and_the_list_frozen() {
        for size in SIZES {
            let mut m = busy(Mode::Serve);
            press(&mut m, &[KeyCode::Char('p')]);
            m.apply(Feed::Event(Arc::new(event(99, 200))));
            let s = draw(&mut m, size);
            assert!(s.lines().next().unwrap().contains("PAUSED"), "{s}");
            assert!(!s.contains("abc123-99"));
            assert!(s.contains("resume"), "{s}");
        }
    }

    #[test]
    fn top_shows_its_connection_and_has_no_log() {
        for size in SIZES {
            let mut m = busy(Mode::Top);
            assert!(draw(&mut m, size).contains("connecting…"));
            m.apply(Feed::Connection(crate::dashboard::ConnState::Connected));
            assert!(draw(&mut m, size).contains("● connected"));
            m.apply(Feed::Connection(crate::dashboard::ConnState::Disconnected {
                retry_in: Duration::from_millis(2_500),
            }));
            m.apply(Feed::Missed(4));
            let s = draw(&mut m, size);
            assert!(s.lines().next().unwrap().contains("disconnected, retry in 3s"), "{s}");
            assert!(s.contains("dropped 7"), "{s}");
            assert!(!s.contains("Log") && !s.contains("log line"), "{s}");
        }
    }

    #[test]
    fn no_color_uses_no_colors() {
        for size in SIZES {
            let mut m = busy(Mode::Serve);
            m.no_color = true;
            press(&mut m, &[KeyCode::Char('p')]);
            m.resize(size.0, size.1);
            let mut terminal = Terminal::new(TestBackend::new(size.0, size.1)).unwrap();
            terminal.draw(|f| render(&m, f)).unwrap();
            let buf = terminal.backend().buffer();
            assert!(buf.content().iter().all(|c| c.fg == Color::Reset && c.bg == Color::Reset));
            assert!(buf.content().iter().any(|c| c.modifier.contains(Modifier::REVERSED)));
        }
        // With color there are colors.
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        terminal.draw(|f| render(&busy(Mode::Serve), f)).unwrap();
        assert!(terminal.backend().buffer().content().iter().any(|c| c.fg != Color::Reset));
    }

    #[test]
    fn resizing_redraws_cleanly() {
        let mut m = busy(Mode::Serve);
        let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
        terminal.draw(|f| render(&m, f)).unwrap();
        for (w, h) in [(80, 24), (120, 40), (160, 48)] {
            terminal.backend_mut().resize(w, h);
            m.resize(w, h);
            terminal.draw(|f| render(&m, f)).unwrap();
            assert_eq!(text(terminal.backend().buffer()), draw(&mut m, (w, h)), "at {w}×{h}");
        }
    }

    #[test]
    fn tiny_terminals_get_a_note_and_no_panic() {
        for size in [(1, 1), (20, 5), (59, 30), (100, 14)] {
            let mut m = busy(Mode::Serve);
            let s = draw(&mut m, size);
            if size.0 >= 20 {
                assert!(s.contains("too small"), "{s}");
            }
            press(&mut m, &[KeyCode::Char('q')]);
            if size.0 >= 20 {
                assert!(draw(&mut m, size).contains("Stop the server? y/n"));
            }
        }
        let mut m = model(Mode::Serve, 3);
        draw(&mut m, (0, 0));
    }

    #[test]
    fn formatting() {
        assert_eq!(hms("2024-05-01T12:34:56.789Z"), "12:34:56");
        assert_eq!(hms("garbage"), "garbage");
        assert_eq!(clip("Keeps a copy", 12), "Keeps a copy");
        assert_eq!(clip("Keeps a copy", 11), "Keeps a co…");
        assert_eq!(clip("Keeps a copy", 9), "Keeps a…");
        assert_eq!(clip("Keeps a copy", 0), "…");
        assert_eq!(latency(850), "850µs");
        assert_eq!(latency(1_234), "1.23ms");
        assert_eq!(latency(12_345), "12.3ms");
        assert_eq!(latency(2_500_000), "2.50s");
        assert_eq!(uptime(Duration::from_secs(59)), "59s");
        assert_eq!(uptime(Duration::from_secs(61)), "1m 01s");
        assert_eq!(uptime(Duration::from_secs(90_061)), "1d 01h 01m");
        assert_eq!(rate_text(2.25), "2.2");
        assert_eq!(rate_text(123.4), "123");
    }

    #[test]
    fn sparkline_keeps_the_newest_on_the_right() {
        let rates: std::collections::VecDeque<f64> = [1.0, 2.0, 3.0].into();
        let bars = sparkline(&rates, RATE_SAMPLES);
        assert_eq!(bars[RATE_SAMPLES - 4..], [None, Some(10), Some(20), Some(30)]);
        // Narrow: one bar averages many samples.
        assert_eq!(sparkline(&rates, 5), [None, None, None, None, Some(20)]);
        let long: std::collections::VecDeque<f64> = (0..RATE_SAMPLES).map(|i| i as f64).collect();
        let bars = sparkline(&long, 10);
        assert_eq!(bars.len(), 10);
        assert!(bars.windows(2).all(|w| w[0] < w[1]), "{bars:?}");
        assert!(sparkline(&long, 0).is_empty());
    }

    #[test]
    fn options_history_fills_a_fresh_dashboard() {
        let m = Model::new(Options { mode: Mode::Top, no_color: false, history: vec![event(5, 200)] });
        let mut m = m;
        assert!(draw(&mut m, (80, 24)).contains("abc123-5"));
    }
}
