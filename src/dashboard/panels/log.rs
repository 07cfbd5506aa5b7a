//! The log pane of `serve --tui`: the newest lines, or further back after
//! Up; End follows the tail again.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use crate::dashboard::layout::content_rows;
use crate::dashboard::model::{Model, Panel};
use crate::dashboard::theme::Theme;
use crate::dashboard::view::panel_block;

pub(in crate::dashboard) fn draw(model: &Model, theme: &Theme, frame: &mut Frame, area: Rect, shared: &[Panel]) {
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
    let block = panel_block(model, theme, Panel::Log, shared, vec![], right);
    if lines.is_empty() {
        let inner = block.inner(area);
        frame.render_widget(block, area);
        frame.render_widget(Paragraph::new(Line::styled("No log lines yet.", theme.dim()).centered()), inner);
    } else {
        frame.render_widget(Paragraph::new(lines).block(block), area);
    }
}

#[cfg(test)]
mod tests {
    use crate::dashboard::Mode;
    use crate::dashboard::testing::*;
    use crossterm::event::KeyCode;

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
}
