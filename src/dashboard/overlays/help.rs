//! The help overlay: one line per row of the [`KEYMAP`].

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph};

use crate::dashboard::keys::{HELP_KEYS, KEYMAP, hints};
use crate::dashboard::theme::Theme;
use crate::dashboard::view::popup;

pub(in crate::dashboard) fn draw(theme: &Theme, frame: &mut Frame, area: Rect) {
    let width = KEYMAP.iter().map(|r| r.keys.len()).max().unwrap_or(0) + 2;
    let mut lines: Vec<Line> = KEYMAP
        .iter()
        .map(|r| Line::from(vec![Span::styled(format!(" {:<width$}", r.keys), theme.bold()), Span::raw(r.does)]))
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::styled(" Times are UTC. Dropped: requests counted in the totals", theme.dim()));
    lines.push(Line::styled(" whose events did not reach this dashboard.", theme.dim()));
    // As wide as the longest line, so that no key's line is cut where the
    // terminal has the room.
    let widest = lines.iter().map(Line::width).max().unwrap_or(0) as u16 + 3;
    let rect = popup(area, widest, lines.len() as u16 + 2);
    let block = Block::bordered()
        .border_type(BorderType::Thick)
        .title(Line::styled(" Help ", theme.bold()))
        .title_bottom(Line::from(hints(HELP_KEYS)).right_aligned());
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}

#[cfg(test)]
mod tests {
    use crate::dashboard::Mode;
    use crate::dashboard::keys::{HELP_KEYS, KEYMAP, hints};
    use crate::dashboard::testing::*;
    use crossterm::event::KeyCode;

    /// Each row of the keymap is a line of the overlay, and the overlay is
    /// what puts them on screen: none of them is there without it.
    #[test]
    fn help_overlay_lists_every_key() {
        for size in SIZES {
            let mut m = busy(Mode::Serve);
            let without = draw(&mut m, size);
            press(&mut m, &[KeyCode::Char('?')]);
            let with = draw(&mut m, size);
            for row in KEYMAP {
                let line = with.lines().nth(row_of(&with, row.does)).unwrap();
                assert!(line.contains(row.keys), "{:?} at {size:?}: {line}", row.keys);
                assert!(!without.contains(row.does), "{:?} at {size:?} without the overlay\n{without}", row.does);
            }
            assert!(with.contains(hints(HELP_KEYS).trim()), "{with}");
        }
    }
}
