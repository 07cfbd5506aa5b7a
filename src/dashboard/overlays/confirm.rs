//! `serve --tui`'s "Stop the server?" question.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Clear, Paragraph};

use crate::dashboard::keys::{CONFIRM_KEYS, hints};
use crate::dashboard::theme::Theme;
use crate::dashboard::view::popup;

pub(in crate::dashboard) fn draw(theme: &Theme, frame: &mut Frame, area: Rect) {
    let keys = hints(CONFIRM_KEYS);
    let rect = popup(area, (keys.chars().count() as u16 + 6).max(46), 5);
    let lines =
        vec![Line::styled("Stop the server? y/n", theme.bold()).centered(), Line::raw(""), Line::from(keys).centered()];
    let block = Block::bordered().border_type(BorderType::Thick).border_style(theme.failure()).title(" Quit ");
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}

#[cfg(test)]
mod tests {
    use crate::dashboard::Mode;
    use crate::dashboard::testing::*;
    use crossterm::event::KeyCode;

    #[test]
    fn quit_confirmation() {
        for size in SIZES {
            let mut m = busy(Mode::Serve);
            press(&mut m, &[KeyCode::Char('q')]);
            assert!(draw(&mut m, size).contains("Stop the server? y/n"));
        }
    }
}
