//! Drawing a [`Model`]: the layout, the header, the four panels, the footer
//! and the overlays.
//!
//! The view only reads the model. Lists are drawn from the model's lazy
//! views, skipping to the first shown row and stopping after the last, so a
//! frame costs the same with ten events or ten thousand. With `NO_COLOR` it
//! uses bold and reverse only; the focused panel also has a thick border,
//! which works without color.

use compact_str::CompactString;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Cell, Clear, Paragraph, Row, Sparkline, Table, Wrap};

use super::model::{Cursor, Model, Overlay, Panel, RATE_SAMPLES, SortKey, keep_visible};
use super::{ConnState, Mode};
use crate::actions::ACTIONS;
use crate::events::Event;

/// From this size on, every panel is on screen at once; below it the
/// lower half shows the failures, actions or log pane, whichever was
/// focused last.
pub const WIDE: (u16, u16) = (120, 32);
/// Below this size only a "too small" note is drawn.
pub const MIN: (u16, u16) = (60, 15);

/// Where everything goes; a panel that is `None` is not on screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Areas {
    pub header: Rect,
    pub live: Rect,
    pub failures: Option<Rect>,
    pub actions: Option<Rect>,
    pub log: Option<Rect>,
    pub footer: Rect,
}

pub fn layout(area: Rect, mode: Mode, lower: Panel) -> Areas {
    let [header, body, footer] =
        area.layout(&Layout::vertical([Constraint::Length(2), Constraint::Fill(1), Constraint::Length(1)]));
    // Borders, the table header, one row per action.
    let actions_height = ACTIONS.len() as u16 + 3;
    if is_wide(area) {
        let bottom_height = actions_height.max(body.height / 3);
        let [top, bottom] = body.layout(&Layout::vertical([Constraint::Fill(1), Constraint::Length(bottom_height)]));
        let [live, failures] =
            top.layout(&Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]));
        let (actions, log) = match mode {
            Mode::Serve => {
                let [actions, log] =
                    bottom.layout(&Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]));
                (actions, Some(log))
            }
            Mode::Top => (bottom, None),
        };
        Areas { header, live, failures: Some(failures), actions: Some(actions), log, footer }
    } else {
        let bottom_height = actions_height.min(body.height / 2);
        let [live, bottom] = body.layout(&Layout::vertical([Constraint::Fill(1), Constraint::Length(bottom_height)]));
        let mut areas = Areas { header, live, failures: None, actions: None, log: None, footer };
        match lower {
            Panel::Actions => areas.actions = Some(bottom),
            Panel::Log if mode == Mode::Serve => areas.log = Some(bottom),
            _ => areas.failures = Some(bottom),
        }
        areas
    }
}

fn is_wide(area: Rect) -> bool {
    area.width >= WIDE.0 && area.height >= WIDE.1
}

/// Rows of content a panel shows at this size, as if it were on screen.
pub fn visible_rows(area: Rect, mode: Mode, lower: Panel, panel: Panel) -> usize {
    let lower = if panel == Panel::Live { lower } else { panel };
    let areas = layout(area, mode, lower);
    let rect = match panel {
        Panel::Live => Some(areas.live),
        Panel::Failures => areas.failures,
        Panel::Actions => areas.actions,
        Panel::Log => areas.log,
    };
    rect.map_or(0, |r| content_rows(r, panel))
}

/// Rows of content in a panel's area: less the borders, and the table
/// header where there is one.
fn content_rows(area: Rect, panel: Panel) -> usize {
    let chrome = if panel == Panel::Log { 2 } else { 3 };
    area.height.saturating_sub(chrome) as usize
}

/// Draws the whole dashboard.
pub fn render(model: &Model, frame: &mut Frame) {
    let theme = Theme { color: !model.no_color };
    let area = frame.area();
    if area.width < MIN.0 || area.height < MIN.1 {
        let text = match model.overlay {
            Some(Overlay::ConfirmQuit) => "Stop the server? y/n".to_string(),
            _ => format!(
                "wfhook: the terminal is too small ({}×{}, needs {}×{}); q quits",
                area.width, area.height, MIN.0, MIN.1
            ),
        };
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return;
    }
    let areas = layout(area, model.mode, model.lower);
    let narrow = !is_wide(area);
    header(model, &theme, frame, areas.header);
    live(model, &theme, frame, areas.live);
    if let Some(r) = areas.failures {
        failures(model, &theme, frame, r, narrow);
    }
    if let Some(r) = areas.actions {
        actions(model, &theme, frame, r, narrow);
    }
    if let Some(r) = areas.log {
        log(model, &theme, frame, r, narrow);
    }
    footer(model, &theme, frame, areas.footer);
    match &model.overlay {
        Some(Overlay::Help) => help(model, &theme, frame, area),
        Some(Overlay::Detail(event)) => detail(event, &theme, frame, area),
        Some(Overlay::ConfirmQuit) => confirm(&theme, frame, area),
        None => {}
    }
}

/// Styles, with and without color.
struct Theme {
    color: bool,
}

impl Theme {
    fn bold(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    fn reverse(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    fn brand(&self) -> Style {
        if self.color {
            Style::new().fg(Color::Black).bg(Color::Cyan).add_modifier(Modifier::BOLD)
        } else {
            self.reverse().add_modifier(Modifier::BOLD)
        }
    }

    fn border(&self, focused: bool) -> Style {
        match (self.color, focused) {
            (true, true) => Style::new().fg(Color::Cyan),
            _ => Style::new(),
        }
    }

    fn title(&self, focused: bool) -> Style {
        match (self.color, focused) {
            (true, true) => self.bold().fg(Color::Cyan),
            (false, true) => self.bold(),
            _ => Style::new(),
        }
    }

    fn failure(&self) -> Style {
        if self.color { Style::new().fg(Color::Red) } else { self.bold() }
    }

    fn alert(&self) -> Style {
        if self.color {
            Style::new().fg(Color::White).bg(Color::Red).add_modifier(Modifier::BOLD)
        } else {
            self.reverse().add_modifier(Modifier::BOLD)
        }
    }

    fn ok(&self) -> Style {
        if self.color { Style::new().fg(Color::Green) } else { Style::new() }
    }

    fn dim(&self) -> Style {
        if self.color { Style::new().fg(Color::DarkGray) } else { Style::new() }
    }

    fn paused(&self) -> Style {
        if self.color {
            Style::new().fg(Color::Black).bg(Color::Yellow).add_modifier(Modifier::BOLD)
        } else {
            self.reverse().add_modifier(Modifier::BOLD)
        }
    }

    fn spark(&self) -> Style {
        if self.color { Style::new().fg(Color::Cyan) } else { Style::new() }
    }

    fn selected(&self) -> Style {
        self.reverse()
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
fn shown_rows<'a, T>(
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
fn place(cursor: Cursor, len: usize, rows: usize) -> Cursor {
    let mut placed = Cursor {
        selected: cursor.selected.min(len.saturating_sub(1)),
        offset: cursor.offset.min(len.saturating_sub(rows.max(1))),
    };
    keep_visible(&mut placed, rows);
    placed
}

fn panel_block<'a>(
    model: &Model,
    theme: &Theme,
    panel: Panel,
    narrow: bool,
    tags: Vec<Span<'a>>,
    right: String,
) -> Block<'a> {
    let focused = model.focus == panel;
    let mut title = vec![Span::raw(" ")];
    if narrow && panel != Panel::Live {
        // The lower pane is shared: name every tenant, mark the one shown.
        let tenants = &model.panels()[1..];
        for (i, p) in tenants.iter().enumerate() {
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

fn position(cursor: Cursor, len: usize) -> String {
    if len == 0 { " 0 ".into() } else { format!(" {}/{len} ", cursor.selected + 1) }
}

/// A table body's rows, or a note when there are none.
fn table_or_note(frame: &mut Frame, block: Block, area: Rect, table: Table, empty: Option<(&str, Style)>) {
    let inner = block.inner(area);
    frame.render_widget(block, area);
    frame.render_widget(table, inner);
    if let Some((note, style)) = empty {
        let [_, note_area] = inner.layout(&Layout::vertical([Constraint::Length(2), Constraint::Fill(1)]));
        frame.render_widget(Paragraph::new(Line::styled(note, style).centered()), note_area);
    }
}

fn live(model: &Model, theme: &Theme, frame: &mut Frame, area: Rect) {
    let rows = content_rows(area, Panel::Live);
    let len = model.live_len();
    let cursor = place(model.live, len, rows);
    let focused = model.focus == Panel::Live;
    let body = shown_rows(model.live_view(), cursor, rows, focused, theme, |s| {
        let e = &s.event;
        let style = if e.is_failure() { theme.failure() } else { Style::new() };
        let row = Row::new([
            Cell::new(hms(&e.time)),
            Cell::new(e.request_id.as_str()),
            Cell::new(what(e)),
            Cell::new(e.document_id.as_deref().unwrap_or("")),
            Cell::new(e.username.as_deref().unwrap_or("")),
            Cell::new(e.status.to_string()),
            Cell::new(Line::from(latency(e.latency_us)).right_aligned()),
        ]);
        (row, style)
    });
    let table = Table::new(
        body,
        [
            Constraint::Length(8),
            Constraint::Length(13),
            Constraint::Fill(3),
            Constraint::Fill(3),
            Constraint::Fill(2),
            Constraint::Length(3),
            Constraint::Length(8),
        ],
    )
    .header(
        Row::new(
            ["Time", "Request", "Endpoint/action", "Document", "User", "St"]
                .map(Cell::new)
                .into_iter()
                .chain([Cell::new(Line::from("Latency").right_aligned())]),
        )
        .style(theme.bold()),
    );
    let mut tags = vec![];
    if !model.filter.is_empty() {
        tags.push(Span::styled(format!("filter: {}", model.filter), theme.bold()));
    }
    if model.failures_only {
        tags.push(Span::styled("failures only", theme.bold()));
    }
    if model.is_paused() {
        tags.push(Span::styled(" PAUSED ", theme.paused()));
    }
    if model.not_listed() > 0 {
        // Under load the server hands the list a sample; counts stay exact.
        tags.push(Span::styled(format!("sampled: {} not listed", model.not_listed()), theme.bold()));
    }
    let block = panel_block(model, theme, Panel::Live, false, tags, position(cursor, len));
    let note = if len > 0 {
        None
    } else if model.filter.is_empty() && !model.failures_only {
        Some(("No requests yet.", theme.dim()))
    } else {
        Some(("Nothing matches.", theme.dim()))
    };
    table_or_note(frame, block, area, table, note);
}

fn failures(model: &Model, theme: &Theme, frame: &mut Frame, area: Rect, narrow: bool) {
    let rows = content_rows(area, Panel::Failures);
    let len = model.failures_view().count();
    let cursor = place(model.fail, len, rows);
    let focused = model.focus == Panel::Failures;
    let body = shown_rows(model.failures_view(), cursor, rows, focused, theme, |s| {
        let e = &s.event;
        let row = Row::new([
            Cell::new(hms(&e.time)),
            Cell::new(e.request_id.as_str()),
            Cell::new(e.status.to_string()).style(theme.failure()),
            Cell::new(what(e)),
            Cell::new(e.error.as_deref().unwrap_or("")),
        ]);
        (row, Style::new())
    });
    let table = Table::new(
        body,
        [
            Constraint::Length(8),
            Constraint::Length(13),
            Constraint::Length(3),
            Constraint::Length(15),
            Constraint::Fill(1),
        ],
    )
    .header(Row::new(["Time", "Request", "St", "Endpoint/action", "Error"]).style(theme.bold()));
    let block = panel_block(model, theme, Panel::Failures, narrow, vec![], position(cursor, len));
    let block =
        if focused && len > 0 { block.title_bottom(Line::from(" Enter details ").right_aligned()) } else { block };
    table_or_note(frame, block, area, table, (len == 0).then_some(("No failures.", theme.dim())));
}

fn actions(model: &Model, theme: &Theme, frame: &mut Frame, area: Rect, narrow: bool) {
    let rows_n = content_rows(area, Panel::Actions);
    let all = model.action_rows();
    let cursor = place(model.table, all.len(), rows_n);
    let focused = model.focus == Panel::Actions;
    // Wide enough: the description gets a column, else the focused row's
    // description goes under the table.
    let with_description = area.width >= 130;
    let name_width = ACTIONS.iter().map(|a| a.name().len()).max().unwrap_or(4).max(4) as u16;
    let body = shown_rows(all.iter(), cursor, rows_n, focused, theme, |r| {
        let s = r.stats;
        let fail_style = if s.failures > 0 { theme.failure() } else { Style::new() };
        let mut cells = vec![
            Cell::new(s.name),
            Cell::new(s.display_name),
            Cell::new(Line::from(s.calls.to_string()).right_aligned()),
            Cell::new(Line::from(s.failures.to_string()).right_aligned()).style(fail_style),
            Cell::new(Line::from(r.p50.map_or("–".into(), latency)).right_aligned()),
            Cell::new(Line::from(r.p95.map_or("–".into(), latency)).right_aligned()),
            Cell::new(Line::from(r.p99.map_or("–".into(), latency)).right_aligned()),
            Cell::new(s.last().map_or("–", hms)),
        ];
        if with_description {
            cells.push(Cell::new(s.description));
        }
        (Row::new(cells), Style::new())
    });
    let mut widths = vec![
        Constraint::Length(name_width),
        Constraint::Fill(2),
        Constraint::Length(6),
        Constraint::Length(5),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(8),
    ];
    let arrow = |key: SortKey, label: &str| -> String {
        let mark = if model.sort == key { if key == SortKey::Name { "▲" } else { "▼" } } else { "" };
        format!("{label}{mark}")
    };
    let mut head = vec![
        Cell::new(arrow(SortKey::Name, "Name")),
        Cell::new("Display name"),
        Cell::new(Line::from(arrow(SortKey::Calls, "Calls")).right_aligned()),
        Cell::new(Line::from(arrow(SortKey::Failures, "Fail")).right_aligned()),
        Cell::new(Line::from("p50").right_aligned()),
        Cell::new(Line::from(arrow(SortKey::P95, "p95")).right_aligned()),
        Cell::new(Line::from("p99").right_aligned()),
        Cell::new("Last"),
    ];
    if with_description {
        widths.push(Constraint::Fill(4));
        head.push(Cell::new("Description"));
    }
    let table = Table::new(body, widths).header(Row::new(head).style(theme.bold()));
    let right = format!(" sort: {} · s ", model.sort.label());
    let mut block = panel_block(model, theme, Panel::Actions, narrow, vec![], right);
    if focused
        && !with_description
        && let Some(r) = all.get(cursor.selected)
    {
        block = block.title_bottom(Line::from(format!(" {} ", r.stats.description)));
    }
    table_or_note(frame, block, area, table, None);
}

fn log(model: &Model, theme: &Theme, frame: &mut Frame, area: Rect, narrow: bool) {
    let rows = content_rows(area, Panel::Log);
    let len = model.logs.len();
    let back = model.log.selected.min(len.saturating_sub(rows));
    let end = len - back;
    let lines: Vec<Line> = model
        .logs
        .range(end.saturating_sub(rows)..end)
        .map(|l| {
            // Level words as env_logger writes them.
            let style = if l.contains("ERROR") || l.contains("WARN") { theme.failure() } else { Style::new() };
            Line::styled(l.as_str(), style)
        })
        .collect();
    let right = if back > 0 { format!(" ↑{back} · End follows ") } else { String::new() };
    let block = panel_block(model, theme, Panel::Log, narrow, vec![], right);
    if lines.is_empty() {
        let inner = block.inner(area);
        frame.render_widget(block, area);
        frame.render_widget(Paragraph::new(Line::styled("No log lines yet.", theme.dim()).centered()), inner);
    } else {
        frame.render_widget(Paragraph::new(lines).block(block), area);
    }
}

fn footer(model: &Model, theme: &Theme, frame: &mut Frame, area: Rect) {
    if model.editing {
        let prompt = format!("/{}", model.filter);
        let hint = " Enter keep · Esc clear ";
        let line = Line::from(vec![Span::styled(prompt.clone(), theme.bold())]);
        let [text, help] =
            area.layout(&Layout::horizontal([Constraint::Fill(1), Constraint::Length(hint.chars().count() as u16)]));
        frame.render_widget(line, text);
        frame.render_widget(Line::styled(hint, theme.dim()).right_aligned(), help);
        let x = text.x.saturating_add(Span::raw(prompt).width() as u16).min(text.right().saturating_sub(1));
        frame.set_cursor_position((x, text.y));
        return;
    }
    let pause = if model.is_paused() { "resume" } else { "pause" };
    let keys = [
        ("q", "quit"),
        ("?", "help"),
        ("Tab", "focus"),
        ("/", "filter"),
        ("f", "failures"),
        ("p", pause),
        ("s", "sort"),
        ("Enter", "open"),
        ("↑↓", "scroll"),
    ];
    let mut spans = vec![Span::raw(" ")];
    let mut used = 1;
    for (key, label) in keys {
        let width = key.chars().count() + label.len() + 4;
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
fn popup(area: Rect, width: u16, height: u16) -> Rect {
    area.centered(Constraint::Length(width.min(area.width)), Constraint::Length(height.min(area.height)))
}

fn help(model: &Model, theme: &Theme, frame: &mut Frame, area: Rect) {
    let quit = match model.mode {
        Mode::Serve => "quit: asks, then stops the server",
        Mode::Top => "quit (the server keeps running)",
    };
    let keys: &[(&str, &str)] = &[
        ("q  Ctrl-C", quit),
        ("?", "this help"),
        ("Tab  Shift-Tab", "focus the next / previous panel"),
        ("↑ ↓  j k", "move the selection, scroll the log"),
        ("PgUp PgDn", "a page up / down"),
        ("Home End", "first / last (End follows the log)"),
        ("Enter", "details of a request; an action's requests"),
        ("Esc", "back; clears the filter, never quits"),
        ("/", "filter the live list (Enter keeps it)"),
        ("f", "failures only in the live list"),
        ("p", "pause the lists (counting goes on)"),
        ("s", "sort actions: name, calls, failures, p95"),
    ];
    let mut lines: Vec<Line> = keys
        .iter()
        .map(|(k, what)| Line::from(vec![Span::styled(format!(" {k:<15}"), theme.bold()), Span::raw(*what)]))
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::styled(" Times are UTC. Dropped: requests counted in the totals", theme.dim()));
    lines.push(Line::styled(" whose events did not reach this dashboard.", theme.dim()));
    let rect = popup(area, 64, lines.len() as u16 + 2);
    let block = Block::bordered()
        .border_type(BorderType::Thick)
        .title(Line::styled(" Help ", theme.bold()))
        .title_bottom(Line::from(" Esc or ? closes ").right_aligned());
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}

fn detail(e: &Event, theme: &Theme, frame: &mut Frame, area: Rect) {
    let text = |v: &Option<CompactString>| v.as_deref().unwrap_or("–").to_string();
    let fields: [(&str, String); 12] = [
        ("Time", e.time.to_string()),
        ("Request id", e.request_id.to_string()),
        ("Method", e.method.to_string()),
        ("Endpoint", e.endpoint.to_string()),
        ("Action", text(&e.action)),
        ("Document id", text(&e.document_id)),
        ("Document version id", text(&e.document_version_id)),
        ("Item id", text(&e.id)),
        ("Username", text(&e.username)),
        ("Status", e.status.to_string()),
        ("Latency", format!("{} ({} µs)", latency(e.latency_us), e.latency_us)),
        ("Error", text(&e.error)),
    ];
    let lines: Vec<Line> = fields
        .into_iter()
        .map(|(label, value)| {
            let style =
                if (label == "Error" || label == "Status") && e.is_failure() { theme.failure() } else { Style::new() };
            Line::from(vec![Span::styled(format!(" {label:<20}"), theme.bold()), Span::styled(value, style)])
        })
        .collect();
    let rect = popup(area, 96, 18);
    let block = Block::bordered()
        .border_type(BorderType::Thick)
        .title(Line::styled(format!(" Request {} ", e.request_id), theme.bold()))
        .title_bottom(Line::from(" Esc back ").right_aligned());
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), rect);
}

fn confirm(theme: &Theme, frame: &mut Frame, area: Rect) {
    let rect = popup(area, 46, 5);
    let lines = vec![
        Line::styled("Stop the server? y/n", theme.bold()).centered(),
        Line::raw(""),
        Line::from(" y stops it gracefully · n or Esc stays ").centered(),
    ];
    let block = Block::bordered().border_type(BorderType::Thick).border_style(theme.failure()).title(" Quit ");
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}

/// What the request did: the action's name for a custom action, else the endpoint.
fn what(e: &Event) -> &str {
    match (&e.action, e.endpoint.as_str()) {
        (Some(action), "customAction") => action,
        _ => &e.endpoint,
    }
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
pub(super) mod tests {
    use super::*;
    use crate::dashboard::model::tests::{counts, event, history, model, press};
    use crate::dashboard::{Feed, Options, Stats};
    use crossterm::event::KeyCode;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::buffer::Buffer;
    use std::sync::Arc;
    use std::time::Duration;

    /// The two sizes every state is drawn at: the smallest supported and a large one.
    const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

    /// A test buffer's cells as lines of text.
    pub(crate) fn text(buf: &Buffer) -> String {
        buf.content()
            .chunks(buf.area.width.max(1) as usize)
            .map(|row| row.iter().map(|c| c.symbol()).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn draw(m: &mut Model, (w, h): (u16, u16)) -> String {
        m.resize(w, h);
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        terminal.draw(|f| render(m, f)).unwrap();
        text(terminal.backend().buffer())
    }

    fn stats() -> Stats {
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

    /// A serve dashboard with 30 events (every fourth fails), stats and a log.
    fn busy(mode: Mode) -> Model {
        let mut m = model(mode, 30);
        m.apply(Feed::Stats(stats()));
        m.apply(Feed::Stats(Stats { uptime: Duration::from_secs(3_724), total: 1_012, ..stats() }));
        for i in 0..40 {
            m.apply(Feed::Log(format!("INFO log line {i}")));
        }
        m
    }

    fn row_of(screen: &str, needle: &str) -> usize {
        screen.lines().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle:?} not in\n{screen}"))
    }

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
    fn live_list_is_newest_first_with_every_column() {
        for size in SIZES {
            let s = draw(&mut busy(Mode::Serve), size);
            let newest = row_of(&s, "abc123-29");
            assert!(newest < row_of(&s, "abc123-28"), "{s}");
            let line = s.lines().nth(newest).unwrap();
            // Time from the RFC 3339 string, the action for customAction,
            // documentId, username, status and latency.
            for needle in ["12:00:29", "lock", "doc29", "ann", "200", "2.00ms"] {
                assert!(line.contains(needle), "{needle:?} at {size:?}: {line}");
            }
            assert!(s.contains("1/30"), "{s}");
            assert!(!s.contains("sampled"), "{s}");
        }
    }

    #[test]
    fn a_sampled_live_list_says_so_in_its_title() {
        for size in SIZES {
            let mut m = busy(Mode::Serve);
            m.apply(Feed::Stats(Stats {
                uptime: Duration::from_secs(3_725),
                total: 22_012,
                sampled: 20_000,
                ..stats()
            }));
            let s = draw(&mut m, size);
            let title = s.lines().find(|l| l.contains("Live")).unwrap();
            assert!(title.contains("sampled: 20000 not listed"), "{s}");
        }
    }

    #[test]
    fn failures_panel_shows_errors() {
        for size in SIZES {
            let mut m = busy(Mode::Serve);
            press(&mut m, &[KeyCode::Tab]);
            let s = draw(&mut m, size);
            let line = s.lines().nth(row_of(&s, "failure number 27")).unwrap();
            assert!(line.contains("500") && line.contains("abc123-27"), "{line}");
            assert!(row_of(&s, "failure number 27") < row_of(&s, "failure number 23"));
            assert!(s.contains("Enter details"), "{s}");
        }
    }

    #[test]
    fn failure_detail_shows_every_field() {
        for size in SIZES {
            let mut m = busy(Mode::Serve);
            press(&mut m, &[KeyCode::Tab, KeyCode::Enter]);
            let s = draw(&mut m, size);
            for needle in [
                "Request abc123-27",
                "2024-05-01T12:00:27.000Z",
                "POST",
                "customAction",
                "Action",
                "Document id",
                "doc27",
                "Document version id",
                "/files/f27.pdf",
                "Username",
                "500",
                "7.00ms (7000 µs)",
                "failure number 27",
                "Esc back",
            ] {
                assert!(s.contains(needle), "{needle:?} at {size:?}\n{s}");
            }
            press(&mut m, &[KeyCode::Esc]);
            assert!(!draw(&mut m, size).contains("Document version id"));
        }
    }

    #[test]
    fn actions_table_lists_the_registry() {
        for size in SIZES {
            let mut m = busy(Mode::Serve);
            press(&mut m, &[KeyCode::Tab, KeyCode::Tab]);
            let s = draw(&mut m, size);
            for a in ACTIONS {
                let line = s.lines().nth(row_of(&s, a.display_name())).unwrap();
                assert!(line.contains(a.name()), "{line}");
            }
            let ping = s.lines().nth(row_of(&s, "Test connection")).unwrap();
            // 10 calls, 3 failures, last at 12:00:27; unused actions show dashes.
            for needle in [" 10 ", " 3 ", "12:00:27", "ms"] {
                assert!(ping.contains(needle), "{needle:?}: {ping}");
            }
            assert!(s.lines().nth(row_of(&s, "Archive")).unwrap().contains('–'));
            assert!(s.contains("sort: name · s") && s.contains("Name▲"), "{s}");
            press(&mut m, &[KeyCode::Char('s')]);
            let s = draw(&mut m, size);
            assert!(s.contains("sort: calls") && s.contains("Calls▼"), "{s}");
            // The selected action's description is on screen (calls tie: name order).
            assert!(s.contains("Records the SHA-256"), "{s}");
        }
    }

    #[test]
    fn help_overlay_lists_every_key() {
        for size in SIZES {
            let mut m = busy(Mode::Serve);
            press(&mut m, &[KeyCode::Char('?')]);
            let s = draw(&mut m, size);
            for needle in [
                "Help",
                "Tab  Shift-Tab",
                "PgUp PgDn",
                "Home End",
                "Enter",
                "Esc",
                "/",
                "failures only",
                "pause the lists",
                "sort actions",
                "stops the server",
            ] {
                assert!(s.contains(needle), "{needle:?} at {size:?}\n{s}");
            }
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
    fn failures_only_is_shown() {
        for size in SIZES {
            let mut m = busy(Mode::Serve);
            press(&mut m, &[KeyCode::Char('f')]);
            let s = draw(&mut m, size);
            assert!(s.contains("failures only") && s.contains("1/7"), "{s}");
        }
    }

    #[test]
    fn quit_confirmation() {
        for size in SIZES {
            let mut m = busy(Mode::Serve);
            press(&mut m, &[KeyCode::Char('q')]);
            assert!(draw(&mut m, size).contains("Stop the server? y/n"));
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
    fn log_pane_shows_the_newest_lines() {
        let mut m = busy(Mode::Serve);
        let s = draw(&mut m, (160, 48));
        assert!(s.contains("INFO log line 39") && !s.contains("INFO log line 0 "), "{s}");
        // At 80×24 the log shares the lower pane: focus brings it up.
        press(&mut m, &[KeyCode::BackTab]);
        let s = draw(&mut m, (80, 24));
        assert!(s.contains("INFO log line 39") && !s.contains("No failures"), "{s}");
        press(&mut m, &[KeyCode::Up, KeyCode::Up]);
        let s = draw(&mut m, (80, 24));
        assert!(!s.contains("INFO log line 39") && s.contains("INFO log line 37") && s.contains("↑2"), "{s}");
        let mut m = model(Mode::Serve, 0);
        press(&mut m, &[KeyCode::BackTab]);
        assert!(draw(&mut m, (80, 24)).contains("No log lines yet."));
    }

    #[test]
    fn a_long_history_draws_only_what_is_visible() {
        let mut m = model(Mode::Serve, crate::dashboard::model::MAX_EVENTS);
        press(&mut m, &[KeyCode::End]);
        let s = draw(&mut m, (80, 24));
        assert!(s.contains("abc123-0 ") && s.contains("10000/10000"), "{s}");
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
