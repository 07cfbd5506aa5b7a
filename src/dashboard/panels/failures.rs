//! The failures: kept apart from the live list, so that a flood of
//! successes cannot push them out; Enter shows every field of one.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Cell, Row, Table};

use crate::dashboard::layout::{FAILURE_COLUMNS, content_rows, fit};
use crate::dashboard::model::{Model, Panel};
use crate::dashboard::theme::Theme;
use crate::dashboard::view::{hms, panel_block, place, position, shown_rows, table_or_note, what};

pub(in crate::dashboard) fn draw(model: &Model, theme: &Theme, frame: &mut Frame, area: Rect, shared: &[Panel]) {
    let rows = content_rows(area, Panel::Failures);
    let len = model.failures_view().count();
    let cursor = place(model.fail, len, rows);
    let focused = model.focus == Panel::Failures;
    let fit = fit(&FAILURE_COLUMNS, area.width.saturating_sub(2));
    let body = shown_rows(model.failures_view(), cursor, rows, focused, theme, |s| {
        let e = &s.event;
        let row = Row::new(fit.keep([
            Cell::new(hms(&e.time)),
            Cell::new(e.request_id.as_str()),
            Cell::new(e.status.to_string()).style(theme.failure()),
            Cell::new(what(e)),
            Cell::new(e.error.as_deref().unwrap_or("")),
        ]));
        (row, Style::new())
    });
    let head = fit.keep(["Time", "Request", "St", "Endpoint/action", "Error"]);
    let table = Table::new(body, fit.constraints()).header(Row::new(head).style(theme.bold()));
    let block = panel_block(model, theme, Panel::Failures, shared, vec![], position(cursor, len));
    let block =
        if focused && len > 0 { block.title_bottom(Line::from(" Enter details ").right_aligned()) } else { block };
    table_or_note(frame, block, area, table, (len == 0).then_some(("No failures.", theme.dim())));
}

#[cfg(test)]
mod tests {
    use crate::dashboard::Mode;
    use crate::dashboard::testing::*;
    use crossterm::event::KeyCode;

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
}
