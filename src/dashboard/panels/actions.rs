//! The actions table: one row per registered action, the server's exact
//! counts and the latency of the calls seen, in the order `s` chose.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Cell, Row, Table};

use crate::actions::ACTIONS;
use crate::dashboard::layout::content_rows;
use crate::dashboard::model::{Model, Panel, SortKey};
use crate::dashboard::theme::Theme;
use crate::dashboard::view::{hms, latency, panel_block, place, shown_rows, table_or_note};

pub(in crate::dashboard) fn draw(model: &Model, theme: &Theme, frame: &mut Frame, area: Rect, narrow: bool) {
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

#[cfg(test)]
mod tests {
    use crate::actions::ACTIONS;
    use crate::dashboard::Mode;
    use crate::dashboard::testing::*;
    use crossterm::event::KeyCode;

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
}
