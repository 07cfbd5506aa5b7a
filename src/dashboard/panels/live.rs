//! The live invocations: every request, newest first; filter, failures
//! only and pause narrow or freeze it.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table};

use crate::dashboard::layout::{LIVE_COLUMNS, content_rows, fit};
use crate::dashboard::model::{Model, Panel};
use crate::dashboard::theme::Theme;
use crate::dashboard::view::{hms, latency, panel_block, place, position, shown_rows, table_or_note, what};

pub(in crate::dashboard) fn draw(model: &Model, theme: &Theme, frame: &mut Frame, area: Rect, shared: &[Panel]) {
    let rows = content_rows(area, Panel::Live);
    let len = model.live_len();
    let cursor = place(model.live, len, rows);
    let focused = model.focus == Panel::Live;
    let fit = fit(&LIVE_COLUMNS, area.width.saturating_sub(2));
    let body = shown_rows(model.live_view(), cursor, rows, focused, theme, |s| {
        let e = &s.event;
        let style = if e.is_failure() { theme.failure() } else { Style::new() };
        let row = Row::new(fit.keep([
            Cell::new(hms(&e.time)),
            Cell::new(e.request_id.as_str()),
            Cell::new(what(e)),
            Cell::new(e.document_id.as_deref().unwrap_or("")),
            Cell::new(e.username.as_deref().unwrap_or("")),
            Cell::new(e.status.to_string()),
            Cell::new(Line::from(latency(e.latency_us)).right_aligned()),
        ]));
        (row, style)
    });
    let head = ["Time", "Request", "Endpoint/action", "Document", "User", "St"]
        .map(Cell::new)
        .into_iter()
        .chain([Cell::new(Line::from("Latency").right_aligned())]);
    let table = Table::new(body, fit.constraints()).header(Row::new(fit.keep(head)).style(theme.bold()));
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
    let block = panel_block(model, theme, Panel::Live, shared, tags, position(cursor, len));
    let note = if len > 0 {
        None
    } else if model.filter.is_empty() && !model.failures_only {
        Some(("No requests yet.", theme.dim()))
    } else {
        Some(("Nothing matches.", theme.dim()))
    };
    table_or_note(frame, block, area, table, note);
}

#[cfg(test)]
mod tests {
    use crate::dashboard::testing::*;
    use crate::dashboard::{Feed, Mode, Stats};
    use crossterm::event::KeyCode;

    use std::time::Duration;

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
    fn failures_only_is_shown() {
        for size in SIZES {
            let mut m = busy(Mode::Serve);
            press(&mut m, &[KeyCode::Char('f')]);
            let s = draw(&mut m, size);
            assert!(s.contains("failures only") && s.contains("1/7"), "{s}");
        }
    }

    #[test]
    fn a_long_history_draws_only_what_is_visible() {
        let mut m = model(Mode::Serve, crate::dashboard::model::MAX_EVENTS);
        press(&mut m, &[KeyCode::End]);
        let s = draw(&mut m, (80, 24));
        assert!(s.contains("abc123-0 ") && s.contains("10000/10000"), "{s}");
    }
}
