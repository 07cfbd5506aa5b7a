//! The help overlay: each row of the [`KEYMAP`](crate::dashboard::KEYMAP),
//! and a note; where the terminal is too small for all of it, it scrolls
//! with the [`HELP_KEYS`].

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph};

use crate::dashboard::keys::{HELP_KEYS, hints};
use crate::dashboard::layout::{self, HelpLine};
use crate::dashboard::model::Model;
use crate::dashboard::theme::Theme;

pub(in crate::dashboard) fn draw(model: &Model, theme: &Theme, frame: &mut Frame, area: Rect) {
    let help = layout::help(area);
    let first = help.first(model.help);
    let width = help.keys_width;
    let lines: Vec<Line> = help.lines[first..]
        .iter()
        .take(help.rows)
        .map(|line| match line {
            HelpLine::Key { keys, does } => {
                Line::from(vec![Span::styled(format!(" {keys:<width$}"), theme.bold()), Span::raw(does.as_str())])
            }
            HelpLine::Blank => Line::raw(""),
            HelpLine::Note(text) => Line::styled(format!(" {text}"), theme.dim()),
        })
        .collect();
    let scrolls = help.scrolls();
    let mut block = Block::bordered()
        .border_type(BorderType::Thick)
        .title(Line::styled(" Help ", theme.bold()))
        .title_bottom(Line::from(hints(HELP_KEYS.iter().filter(|r| scrolls || !r.scrolls_help()))).right_aligned());
    if scrolls {
        let last = first + lines.len();
        block = block.title_top(Line::from(format!(" {}-{last}/{} ", first + 1, help.lines.len())).right_aligned());
    }
    frame.render_widget(Clear, help.rect);
    frame.render_widget(Paragraph::new(lines).block(block), help.rect);
}

#[cfg(test)]
mod tests {
    use crate::dashboard::Mode;
    use crate::dashboard::keys::{HELP_KEYS, HELP_NOTES, KEYMAP, hints};
    use crate::dashboard::layout::{self, HelpLine, MIN};
    use crate::dashboard::testing::*;
    use crossterm::event::KeyCode;
    use ratatui::layout::Rect;

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
            // All of it fits: no scrolling, nor a hint of it.
            let bottom = with.lines().nth(row_of(&with, &closing())).unwrap();
            assert!(!bottom.contains("scroll"), "{with}");
            assert!(with.contains("Times are UTC."), "{with}");
        }
    }

    /// The help's hint line where it does not scroll: the closing keys only.
    fn closing() -> String {
        hints(HELP_KEYS.iter().filter(|r| !r.scrolls_help())).trim().to_string()
    }

    /// The help's screens from the top, pressing Down until nothing changes
    /// (one press a line at most); then k back up to the first one.
    fn screens(size: (u16, u16)) -> Vec<String> {
        let mut m = busy(Mode::Serve);
        press(&mut m, &[KeyCode::Char('?')]);
        let mut screens = vec![draw(&mut m, size)];
        for _ in 0..=layout::help(Rect::new(0, 0, size.0, size.1)).lines.len() {
            press(&mut m, &[KeyCode::Down]);
            let s = draw(&mut m, size);
            if s == *screens.last().unwrap() {
                // Back up to the top, and the first screen again.
                press(&mut m, &vec![KeyCode::Char('k'); screens.len()]);
                assert_eq!(draw(&mut m, size), screens[0], "at {size:?}");
                return screens;
            }
            screens.push(s);
        }
        panic!("Down never reached the end of the help at {size:?}");
    }

    /// At the smallest sizes the help is taller than the terminal: it
    /// scrolls, and every row of the keymap is reached, its keys on the
    /// line where its description starts, with the close hint on screen all
    /// along.
    #[test]
    fn the_help_scrolls_where_the_terminal_is_too_small() {
        for size in [MIN, (MIN.0, MIN.1 + 1)] {
            let help = layout::help(Rect::new(0, 0, size.0, size.1));
            assert!(help.scrolls(), "{size:?}: {help:?}");
            let screens = screens(size);
            assert!(screens.len() > 1, "{size:?}");
            for s in &screens {
                assert!(s.contains(hints(HELP_KEYS).trim()), "at {size:?}\n{s}");
            }
            for row in KEYMAP {
                let start = help.lines.iter().find_map(|l| match l {
                    HelpLine::Key { keys, does } if *keys == row.keys => Some(does.as_str()),
                    _ => None,
                });
                let start = start.unwrap_or_else(|| panic!("{:?} not in the help at {size:?}", row.keys));
                assert!(row.does.starts_with(start), "{start:?}");
                let shown = screens.iter().flat_map(|s| s.lines()).any(|l| {
                    l.find(&format!(" {} ", row.keys)).is_some_and(|at| l[at..].contains(&format!("  {start}")))
                });
                assert!(shown, "{:?} at {size:?}\n{}", row.keys, screens.join("\n\n"));
            }
            // The notes come last, where the keys scroll anyway.
            assert!(screens.last().unwrap().contains("did not reach"), "{size:?}");
        }
    }

    /// Where the keys fit but the notes would make the help scroll, the
    /// notes go and it does not scroll.
    #[test]
    fn the_notes_go_before_the_help_scrolls() {
        for size in [(80, MIN.1), (80, MIN.1 + 1)] {
            let help = layout::help(Rect::new(0, 0, size.0, size.1));
            assert!(!help.scrolls(), "{size:?}: {help:?}");
            let screens = screens(size);
            assert_eq!(screens.len(), 1, "{size:?}");
            for row in KEYMAP {
                let line = screens[0].lines().nth(row_of(&screens[0], row.does)).unwrap();
                assert!(line.contains(row.keys), "{:?} at {size:?}: {line}", row.keys);
            }
            assert!(!screens[0].contains("Times are UTC"), "{}", screens[0]);
            assert!(screens[0].contains(&closing()), "{}", screens[0]);
        }
    }

    /// However narrow, the help's lines fit its box and say every
    /// description and the notes whole, in their words.
    #[test]
    fn the_help_wraps_without_losing_words() {
        for width in MIN.0..=120 {
            let help = layout::help(Rect::new(0, 0, width, 60));
            let inner = help.rect.width as usize - 2;
            let mut rows: Vec<(&str, Vec<&str>)> = vec![];
            let mut notes = vec![];
            for line in &help.lines {
                match line {
                    HelpLine::Key { keys, does } => {
                        assert!(1 + help.keys_width + does.chars().count() <= inner, "at {width}: {does:?}");
                        match rows.last_mut() {
                            Some((_, parts)) if keys.is_empty() => parts.push(does),
                            _ => rows.push((keys, vec![does])),
                        }
                    }
                    HelpLine::Note(text) => {
                        // A space before it.
                        assert!(text.chars().count() < inner, "at {width}: {text:?}");
                        notes.push(text.as_str());
                    }
                    HelpLine::Blank => {}
                }
            }
            assert_eq!(rows.len(), KEYMAP.len(), "at {width}");
            for (row, (keys, parts)) in KEYMAP.iter().zip(&rows) {
                assert_eq!((*keys, parts.join(" ")), (row.keys, row.does.to_string()), "at {width}");
            }
            assert_eq!(notes.join(" "), HELP_NOTES, "at {width}");
            // Where the terminal has the room, one line a row.
            let roomy = KEYMAP.iter().map(|r| 1 + help.keys_width + r.does.chars().count() + 2).max().unwrap();
            if width as usize >= roomy {
                assert!(rows.iter().all(|(_, parts)| parts.len() == 1), "at {width}: {rows:?}");
            }
        }
    }
}
