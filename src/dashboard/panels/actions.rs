//! The actions table: one row per registered action, the server's exact
//! counts and the latency of the calls seen, in the order `s` chose.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Cell, Row, Table};

use crate::dashboard::layout::{DESCRIPTION, actions_columns, content_rows, fit};
use crate::dashboard::model::{Model, Panel, SortKey};
use crate::dashboard::theme::Theme;
use crate::dashboard::view::{clip, hms, latency, panel_block, place, shown_rows, table_or_note};

pub(in crate::dashboard) fn draw(model: &Model, theme: &Theme, frame: &mut Frame, area: Rect, shared: &[Panel]) {
    let rows_n = content_rows(area, Panel::Actions);
    let all = model.action_rows();
    let cursor = place(model.table, all.len(), rows_n);
    let focused = model.focus == Panel::Actions;
    let fit = fit(&actions_columns(), area.width.saturating_sub(2));
    // Where the description column is missing or too narrow for it, the
    // focused row's description goes under the table, whole.
    let description_width = fit.0[DESCRIPTION].unwrap_or(0) as usize;
    let body = shown_rows(all.iter(), cursor, rows_n, focused, theme, |r| {
        let s = r.stats;
        let fail_style = if s.failures > 0 { theme.failure() } else { Style::new() };
        let cells = [
            Cell::new(s.name),
            Cell::new(s.display_name),
            Cell::new(Line::from(s.calls.to_string()).right_aligned()),
            Cell::new(Line::from(s.failures.to_string()).right_aligned()).style(fail_style),
            Cell::new(Line::from(r.p50.map_or("–".into(), latency)).right_aligned()),
            Cell::new(Line::from(r.p95.map_or("–".into(), latency)).right_aligned()),
            Cell::new(Line::from(r.p99.map_or("–".into(), latency)).right_aligned()),
            Cell::new(s.last().map_or("–", hms)),
            Cell::new(clip(s.description, description_width)),
        ];
        (Row::new(fit.keep(cells)), Style::new())
    });
    let arrow = |key: SortKey, label: &str| -> String {
        let mark = if model.sort == key { if key == SortKey::Name { "▲" } else { "▼" } } else { "" };
        format!("{label}{mark}")
    };
    let head = [
        Cell::new(arrow(SortKey::Name, "Name")),
        Cell::new("Display name"),
        Cell::new(Line::from(arrow(SortKey::Calls, "Calls")).right_aligned()),
        Cell::new(Line::from(arrow(SortKey::Failures, "Fail")).right_aligned()),
        Cell::new(Line::from("p50").right_aligned()),
        Cell::new(Line::from(arrow(SortKey::P95, "p95")).right_aligned()),
        Cell::new(Line::from("p99").right_aligned()),
        Cell::new("Last"),
        Cell::new("Description"),
    ];
    let table = Table::new(body, fit.constraints()).header(Row::new(fit.keep(head)).style(theme.bold()));
    let right = format!(" sort: {} · s ", model.sort.label());
    let mut block = panel_block(model, theme, Panel::Actions, shared, vec![], right);
    if focused
        && let Some(r) = all.get(cursor.selected)
        && r.stats.description.chars().count() > description_width
    {
        block = block.title_bottom(Line::from(format!(" {} ", r.stats.description)));
    }
    table_or_note(frame, block, area, table, None);
}

#[cfg(test)]
mod tests {
    use crate::actions::ACTIONS;
    use crate::dashboard::Mode;
    use crate::dashboard::model::Model;
    use crate::dashboard::testing::*;
    use crossterm::event::KeyCode;

    /// Selects the table's row of the action `name`, from the first row down.
    fn select(m: &mut Model, name: &str) {
        let at = m.action_rows().iter().position(|r| r.stats.name == name).unwrap();
        press(m, &[KeyCode::Home]);
        press(m, &vec![KeyCode::Down; at]);
    }

    /// The screen line of the action `name`'s row, which shows its name and
    /// its display name.
    fn line_of<'a>(s: &'a str, name: &str) -> &'a str {
        let a = ACTIONS.iter().find(|a| a.name() == name).unwrap();
        let line = s.lines().nth(row_of(s, a.display_name())).unwrap();
        let words: Vec<&str> = line.split(|c: char| c.is_whitespace() || c == '│' || c == '┃').collect();
        assert!(words.contains(&name), "{name}: {line}\n{s}");
        line
    }

    /// Every registered action has its row, on screen at once where the
    /// pane has the height, else reached by moving the selection down the
    /// focused table, which scrolls with it.
    #[test]
    fn actions_table_lists_the_registry() {
        for size in SIZES {
            let mut m = busy(Mode::Serve);
            press(&mut m, &[KeyCode::Tab, KeyCode::Tab]);
            let names: Vec<&str> = m.action_rows().iter().map(|r| r.stats.name).collect();
            assert_eq!(names.len(), ACTIONS.len());
            for name in &names {
                // The selected row is on screen.
                line_of(&draw(&mut m, size), name);
                press(&mut m, &[KeyCode::Down]);
            }
            assert_eq!(m.action_rows()[m.table.selected].stats.name, *names.last().unwrap(), "at {size:?}");

            select(&mut m, "ping");
            let s = draw(&mut m, size);
            let ping = line_of(&s, "ping");
            // 10 calls, 3 failures, last at 12:00:27; unused actions show dashes.
            for needle in [" 10 ", " 3 ", "12:00:27", "ms"] {
                assert!(ping.contains(needle), "{needle:?}: {ping}");
            }
            let unused = m.action_rows().iter().find(|r| r.stats.calls == 0).map(|r| r.stats.name).unwrap();
            select(&mut m, unused);
            let s = draw(&mut m, size);
            assert!(line_of(&s, unused).contains('–'), "{s}");

            press(&mut m, &[KeyCode::Home]);
            let s = draw(&mut m, size);
            assert!(s.contains("sort: name · s") && s.contains("Name▲"), "{s}");
            press(&mut m, &[KeyCode::Char('s')]);
            let s = draw(&mut m, size);
            assert!(s.contains("sort: calls") && s.contains("Calls▼"), "{s}");
            // The selected action's description is on screen.
            let first: String = m.action_rows()[0].stats.description.chars().take(20).collect();
            assert!(s.contains(&first), "{first:?} at {size:?}\n{s}");
        }
    }
}
