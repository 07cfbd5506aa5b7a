//! Where every panel goes at a given terminal size, which panels share a
//! pane, how many rows of content a panel shows there, and which columns of
//! a table fit its width.
//!
//! The model asks this module for page sizes and to keep selections on
//! screen; the view asks it where to draw. It knows nothing of drawing.
//!
//! Three shapes, chosen by size:
//!
//! - [`Shape::Wide`] (from [`WIDE`] columns): the live list and the failures
//!   side by side, the actions table under them at the width it needs, and
//!   the log beside it with the rest.
//! - [`Shape::Stacked`] (narrower, but tall enough: with the six shipped
//!   actions from 28 rows, one row more for each action added): the live
//!   list, the failures and the actions table, one above the other, each at
//!   the full width so that no column is squeezed. The live list gets no
//!   more height than the failures: a few newest rows say what is going on,
//!   and what went wrong matters as much. So the failures get at least the
//!   live list's minimum too.
//!   In `serve --tui` the log shares the actions table's pane (Tab brings it
//!   up): an operator watching the log is usually chasing a failure, so the
//!   failures stay on screen beside it, while the actions table's counts are
//!   a slow summary that can wait behind a Tab.
//! - [`Shape::Shared`] (smaller, down to [`MIN`]): the live list, and one
//!   lower pane shared by the failures, the actions table and the log,
//!   showing whichever was focused last.
//!
//! The actions table's height follows the registry ([`ACTIONS`]), never a
//! fixed count: every action has its row in the wide and stacked shapes,
//! and [`smallest_height`] says from how many rows each shape applies. In
//! the shared pane a long table scrolls with its selection.
//!
//! Tables never squeeze a column into a few meaningless letters: each
//! column has the width it needs and a rank, and [`fit`] drops whole
//! columns, lowest priority first, until the rest fit.
//!
//! The help overlay's text is laid out here too ([`help`]), since the model
//! scrolls it by lines: each row of the [`KEYMAP`] on a line, its
//! description wrapped under itself where the terminal is narrow, then the
//! notes where they do not make it scroll.

use ratatui::layout::{Constraint, Layout, Rect};

use super::Mode;
use super::keys::{HELP_NOTES, KEYMAP};
use super::model::Panel;
use crate::actions::ACTIONS;

/// Below this size only a "too small" note is drawn.
pub const MIN: (u16, u16) = (60, 15);
/// From this width on (and with the height for all three panels) the live
/// list and the failures sit side by side and the log has a pane of its own.
pub const WIDE: u16 = 140;
/// Rows of content the live list and the failures show at least, for the
/// three of them to be stacked (or wide) rather than share a pane.
pub const LIVE_ROWS: u16 = 5;
pub const FAILURES_ROWS: u16 = 3;
/// The header's rows (2) and the footer's (1).
const CHROME: u16 = 3;
/// A table's borders and header.
const TABLE_CHROME: u16 = 3;
/// Columns between two table columns (ratatui's default spacing).
const SPACING: u16 = 1;

/// How the panels are arranged at a size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Wide,
    Stacked,
    Shared,
}

/// Where everything goes; a panel that is `None` is not on screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Areas {
    pub shape: Shape,
    pub header: Rect,
    pub live: Rect,
    pub failures: Option<Rect>,
    pub actions: Option<Rect>,
    pub log: Option<Rect>,
    pub footer: Rect,
    /// The panels that take turns in one pane, in Tab order; empty when each
    /// has a pane of its own. The pane's title names them all.
    pub shared: &'static [Panel],
}

/// The actions table's height: borders, its header, one row per action.
pub fn actions_height() -> u16 {
    ACTIONS.len() as u16 + TABLE_CHROME
}

/// The fewest terminal rows with which `shape` applies (at a width that
/// allows it): the header and the footer, the whole actions table, and the
/// live list and the failures with their minimums. It follows the registry.
pub fn smallest_height(shape: Shape) -> u16 {
    let live = LIVE_ROWS + TABLE_CHROME;
    match shape {
        // Both minimums added up, though side by side the taller would do:
        // with the six shipped actions from 26 rows.
        Shape::Wide => CHROME + actions_height() + live + FAILURES_ROWS + TABLE_CHROME,
        // The live list no taller than the failures, and at least its
        // minimum: the failures get that minimum too.
        Shape::Stacked => CHROME + actions_height() + live + LIVE_ROWS.max(FAILURES_ROWS) + TABLE_CHROME,
        Shape::Shared => MIN.1,
    }
}

/// How the panels are arranged at `area`'s size.
pub fn shape(area: Rect) -> Shape {
    if area.width >= WIDE && area.height >= smallest_height(Shape::Wide) {
        Shape::Wide
    } else if area.height >= smallest_height(Shape::Stacked) {
        Shape::Stacked
    } else {
        Shape::Shared
    }
}

/// Where each panel goes in `area`; `lower` is the lower panel focused last,
/// which a shared pane shows.
pub fn layout(area: Rect, mode: Mode, lower: Panel) -> Areas {
    let [header, body, footer] =
        area.layout(&Layout::vertical([Constraint::Length(2), Constraint::Fill(1), Constraint::Length(1)]));
    let shape = shape(area);
    let mut areas = Areas { shape, header, live: body, failures: None, actions: None, log: None, footer, shared: &[] };
    match shape {
        Shape::Wide => {
            let bottom_height = actions_height().max(body.height / 3);
            let [top, bottom] =
                body.layout(&Layout::vertical([Constraint::Fill(1), Constraint::Length(bottom_height)]));
            let [live, failures] =
                top.layout(&Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]));
            (areas.live, areas.failures) = (live, Some(failures));
            match mode {
                Mode::Serve => {
                    // The actions table at the width its columns need, the
                    // log with all the rest: its lines are long.
                    let without_description = &actions_columns()[..DESCRIPTION];
                    let width = (fit(without_description, u16::MAX).width() + 2).min(bottom.width / 2);
                    let [actions, log] =
                        bottom.layout(&Layout::horizontal([Constraint::Length(width), Constraint::Fill(1)]));
                    (areas.actions, areas.log) = (Some(actions), Some(log));
                }
                Mode::Top => areas.actions = Some(bottom),
            }
        }
        Shape::Stacked => {
            // The live list gets half the rest, rounded down: never more
            // than the failures.
            let rest = body.height.saturating_sub(actions_height());
            let [live, failures, bottom] = body.layout(&Layout::vertical([
                Constraint::Length(rest / 2),
                Constraint::Fill(1),
                Constraint::Length(actions_height()),
            ]));
            (areas.live, areas.failures) = (live, Some(failures));
            match mode {
                Mode::Serve => {
                    areas.shared = &[Panel::Actions, Panel::Log];
                    if lower == Panel::Log {
                        areas.log = Some(bottom);
                    } else {
                        areas.actions = Some(bottom);
                    }
                }
                Mode::Top => areas.actions = Some(bottom),
            }
        }
        Shape::Shared => {
            let bottom_height = actions_height().min(body.height / 2);
            let [live, bottom] =
                body.layout(&Layout::vertical([Constraint::Fill(1), Constraint::Length(bottom_height)]));
            areas.live = live;
            areas.shared = match mode {
                Mode::Serve => &[Panel::Failures, Panel::Actions, Panel::Log],
                Mode::Top => &[Panel::Failures, Panel::Actions],
            };
            match lower {
                Panel::Actions => areas.actions = Some(bottom),
                Panel::Log if mode == Mode::Serve => areas.log = Some(bottom),
                _ => areas.failures = Some(bottom),
            }
        }
    }
    areas
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
pub fn content_rows(area: Rect, panel: Panel) -> usize {
    let chrome = if panel == Panel::Log { 2 } else { 3 };
    area.height.saturating_sub(chrome) as usize
}

/// One table column as the layout sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    /// The width below which it would not mean much any more.
    pub min: u16,
    /// Its share of the spare width; 0 keeps it at `min`.
    pub grow: u16,
    /// When it goes if the table is too narrow: 0 never, else the highest
    /// rank goes first.
    pub drop: u8,
}

const fn col(min: u16, grow: u16, drop: u8) -> Column {
    Column { min, grow, drop }
}

/// The live list: Time, Request, Endpoint/action, Document, User, St,
/// Latency. The user goes first, then the document, then the request id:
/// what happened, when and how it ended stay.
pub const LIVE_COLUMNS: [Column; 7] =
    [col(8, 0, 0), col(13, 0, 1), col(15, 3, 0), col(10, 3, 2), col(8, 2, 3), col(3, 0, 0), col(8, 0, 0)];

/// The failures: Time, Request, St, Endpoint/action, Error. The error is
/// the point of the panel; the request id goes first (Enter shows it).
pub const FAILURE_COLUMNS: [Column; 5] = [col(8, 0, 0), col(13, 0, 1), col(3, 0, 0), col(15, 1, 0), col(20, 4, 0)];

/// Where the description is among [`actions_columns`].
pub const DESCRIPTION: usize = 8;

/// The actions table: Name, Display name, Calls, Fail, p50, p95, p99,
/// Last, Description. Name and display name are never cut: their columns
/// are as wide as the longest in the registry. The description goes first
/// (the focused row's then shows under the table), then p50, p99, the last
/// call's time and p95.
pub fn actions_columns() -> [Column; 9] {
    let longest = |f: fn(&dyn crate::actions::Action) -> &'static str| {
        ACTIONS.iter().map(|a| f(*a).chars().count()).max().unwrap_or(0) as u16
    };
    // At least as wide as the headers, "Name▲" and "Display name".
    let name = longest(|a| a.name()).max(5);
    let display = longest(|a| a.display_name()).max(12);
    [
        col(name, 0, 0),
        col(display, 0, 0),
        col(6, 0, 0),
        col(5, 0, 0),
        col(7, 0, 5),
        col(7, 0, 2),
        col(7, 0, 4),
        col(8, 0, 3),
        col(30, 1, 6),
    ]
}

/// The width of each column in a table `width` wide, `None` for those
/// dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fit(pub Vec<Option<u16>>);

impl Fit {
    /// Whether column `i` is shown.
    pub fn shows(&self, i: usize) -> bool {
        self.0.get(i).is_some_and(Option::is_some)
    }

    /// The widths of the shown columns, for the table.
    pub fn constraints(&self) -> Vec<Constraint> {
        self.0.iter().flatten().map(|w| Constraint::Length(*w)).collect()
    }

    /// `cells` less those of dropped columns.
    pub fn keep<T>(&self, cells: impl IntoIterator<Item = T>) -> Vec<T> {
        cells.into_iter().zip(&self.0).filter_map(|(c, w)| w.map(|_| c)).collect()
    }

    /// The width the shown columns take at their minimum, spacing included.
    pub fn width(&self) -> u16 {
        let shown: Vec<u16> = self.0.iter().flatten().copied().collect();
        shown.iter().sum::<u16>() + SPACING * (shown.len().saturating_sub(1) as u16)
    }
}

/// Which columns fit in `width`, and how wide: whole columns go, highest
/// `drop` first, until the rest fit at their minimum; the spare width goes
/// to the growing columns by their shares. With `u16::MAX` every column
/// stays at its minimum.
pub fn fit(columns: &[Column], width: u16) -> Fit {
    let mut shown: Vec<bool> = vec![true; columns.len()];
    let needed = |shown: &[bool]| -> u32 {
        let n = shown.iter().filter(|s| **s).count() as u32;
        columns.iter().zip(shown).filter(|(_, s)| **s).map(|(c, _)| c.min as u32).sum::<u32>()
            + SPACING as u32 * n.saturating_sub(1)
    };
    while needed(&shown) > width as u32 {
        let victim = (0..columns.len()).filter(|i| shown[*i] && columns[*i].drop > 0).max_by_key(|i| columns[*i].drop);
        match victim {
            Some(i) => shown[i] = false,
            // Only columns that never go are left: they are cut at the edge.
            None => break,
        }
    }
    let spare = if width == u16::MAX { 0 } else { (width as u32).saturating_sub(needed(&shown)) };
    let shares: u32 = columns.iter().zip(&shown).filter(|(_, s)| **s).map(|(c, _)| c.grow as u32).sum();
    let mut given = 0;
    let mut widths: Vec<Option<u16>> = columns
        .iter()
        .zip(&shown)
        .map(|(c, s)| {
            s.then(|| {
                let extra = (spare * c.grow as u32).checked_div(shares).unwrap_or(0);
                given += extra;
                c.min + extra as u16
            })
        })
        .collect();
    // What rounding left goes to the first growing column.
    if let Some(w) = columns.iter().zip(widths.iter_mut()).find(|(c, w)| c.grow > 0 && w.is_some()).map(|(_, w)| w) {
        *w = w.map(|w| w + (spare - given) as u16);
    }
    Fit(widths)
}

/// The help overlay at a size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Help {
    /// Its box, in the middle of the screen.
    pub rect: Rect,
    /// Its text, top to bottom.
    pub lines: Vec<HelpLine>,
    /// The width of the keys' column, the space after it included.
    pub keys_width: usize,
    /// Lines the box shows at once: fewer than `lines` where it scrolls.
    pub rows: usize,
}

/// A line of the help.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HelpLine {
    /// A row of the keymap, or the rest of its description (without keys).
    Key {
        keys: &'static str,
        does: String,
    },
    Blank,
    Note(String),
}

impl Help {
    /// Whether the text is longer than the box.
    pub fn scrolls(&self) -> bool {
        self.lines.len() > self.rows
    }

    /// The first line shown when scrolled down by `scrolled` lines: never
    /// past the last page.
    pub fn first(&self, scrolled: usize) -> usize {
        scrolled.min(self.lines.len().saturating_sub(self.rows))
    }
}

/// The help overlay in `area`: as wide as its longest line where the
/// terminal has the room, each description wrapped into what is left
/// beside the keys where it has not; the notes under a blank line where
/// they fit, or where the keys scroll anyway.
pub fn help(area: Rect) -> Help {
    let keys_width = KEYMAP.iter().map(|r| r.keys.chars().count()).max().unwrap_or(0) + 2;
    let longest = KEYMAP.iter().map(|r| r.does.chars().count()).max().unwrap_or(0);
    // Borders, a space before the keys, and one after the longest line
    // where there is the room for it.
    let width = (longest + keys_width + 4).min(area.width as usize);
    let inner = width.saturating_sub(2);
    let mut lines = vec![];
    for row in KEYMAP {
        for (i, does) in wrap(row.does, inner.saturating_sub(keys_width + 1)).into_iter().enumerate() {
            lines.push(HelpLine::Key { keys: if i == 0 { row.keys } else { "" }, does });
        }
    }
    let notes = wrap(HELP_NOTES, inner.saturating_sub(1));
    let room = area.height.saturating_sub(2) as usize;
    if lines.len() + 1 + notes.len() <= room || lines.len() > room {
        lines.push(HelpLine::Blank);
        lines.extend(notes.into_iter().map(HelpLine::Note));
    }
    let height = (lines.len() + 2).min(area.height as usize) as u16;
    let rect = area.centered(Constraint::Length(width as u16), Constraint::Length(height));
    Help { rect, lines, keys_width, rows: height.saturating_sub(2) as usize }
}

/// `text` in lines of at most `width` characters, broken between words; a
/// word longer than that is broken where the line ends.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines: Vec<String> = vec![];
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        let taken = line.chars().count();
        if taken > 0 && taken + 1 + word.len() <= width {
            line.push(' ');
            line.extend(&word);
            continue;
        }
        if taken > 0 {
            lines.push(std::mem::take(&mut line));
        }
        while word.len() > width {
            lines.push(word.drain(..width).collect());
        }
        line.extend(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::testing::*;
    use crossterm::event::KeyCode;

    /// The sizes, among those the tests draw at and the smallest of each
    /// shape, where the three panels are all on screen.
    fn all_at_once() -> Vec<(u16, u16)> {
        let (stacked, wide) = (smallest_height(Shape::Stacked), smallest_height(Shape::Wide));
        let mut sizes = Vec::from(SIZES);
        sizes.extend([(MIN.0, stacked), (100, stacked), (WIDE - 1, stacked), (WIDE, wide), (160, wide)]);
        sizes.retain(|(w, h)| shape(Rect::new(0, 0, *w, *h)) != Shape::Shared);
        sizes
    }

    /// Wherever the shape allows it (from 100×28 with the shipped actions),
    /// the live list, the failures and the whole actions table are on screen
    /// at once, without Tab, in both modes.
    #[test]
    fn every_panel_at_once_where_the_shape_allows() {
        for size in all_at_once() {
            for mode in [Mode::Serve, Mode::Top] {
                let s = draw(&mut busy(mode), size);
                for needle in ["Live invocations", "Failures", "Actions", "abc123-29", "failure number 27"] {
                    assert!(s.contains(needle), "{needle:?} at {size:?} {mode:?}\n{s}");
                }
                for a in ACTIONS {
                    let line = s.lines().nth(row_of(&s, a.display_name())).unwrap();
                    let words: Vec<&str> = line.split(|c: char| c.is_whitespace() || c == '│').collect();
                    assert!(words.contains(&a.name()), "{size:?} {mode:?}: {line}");
                }
                // The newest row is the first under the live list's header.
                assert_eq!(row_of(&s, "abc123-29"), row_of(&s, "Live invocations") + 2, "{s}");
            }
        }
    }

    /// The README's promise: with the six shipped actions every panel is on
    /// screen from 100×28; each action added takes one row more.
    #[test]
    fn with_the_shipped_actions_every_panel_shows_from_100_by_28() {
        let height = 28 + ACTIONS.len().saturating_sub(6) as u16;
        assert!(smallest_height(Shape::Stacked) <= height, "{}", smallest_height(Shape::Stacked));
        assert_eq!(shape(Rect::new(0, 0, 100, height)), Shape::Stacked);
    }

    /// Wherever the three are on screen, each shows at least its documented
    /// rows, the actions table every action, and stacked, the live list is
    /// no taller than the failures; the panes fill the body, one after the
    /// other.
    #[test]
    fn every_panel_gets_its_minimum_rows() {
        let shapes = [(100, Shape::Stacked), (120, Shape::Stacked), (WIDE, Shape::Wide), (160, Shape::Wide)];
        for (w, want) in shapes {
            for h in smallest_height(want)..=60 {
                for mode in [Mode::Serve, Mode::Top] {
                    let areas = layout(Rect::new(0, 0, w, h), mode, Panel::Failures);
                    let at = format!("{w}×{h} {mode:?}: {areas:?}");
                    assert_eq!(areas.shape, want, "{at}");
                    let (live, failures, actions) = (areas.live, areas.failures.unwrap(), areas.actions.unwrap());
                    assert!(content_rows(live, Panel::Live) >= LIVE_ROWS as usize, "{at}");
                    assert!(content_rows(failures, Panel::Failures) >= FAILURES_ROWS as usize, "{at}");
                    assert!(content_rows(actions, Panel::Actions) >= ACTIONS.len(), "{at}");
                    assert!(live.height <= failures.height, "{at}");
                    if want == Shape::Stacked {
                        assert_eq!((live.y, failures.y, actions.y), (2, live.bottom(), failures.bottom()), "{at}");
                        assert_eq!(actions.bottom(), h - 1, "{at}");
                    }
                }
            }
        }
    }

    /// At 80×24 the live list keeps its place and one lower pane shows the
    /// failures, the actions table or the log, named in its title.
    #[test]
    fn a_small_terminal_shares_one_lower_pane() {
        let mut m = busy(Mode::Serve);
        let s = draw(&mut m, (80, 24));
        assert!(s.contains("Live invocations") && s.contains("abc123-29"), "{s}");
        assert!(s.contains("Failures │ Actions │ Log") && s.contains("failure number 27"), "{s}");
        assert!(!s.contains("Verify checksum") && !s.contains("INFO log line"), "{s}");
        press(&mut m, &[KeyCode::Tab, KeyCode::Tab]);
        let s = draw(&mut m, (80, 24));
        assert!(s.contains("abc123-29") && s.contains("Verify checksum") && !s.contains("failure number 27"), "{s}");
    }

    /// In serve --tui's stacked shape, the log takes turns with the actions
    /// table, and the failures stay on screen beside it.
    #[test]
    fn the_stacked_log_shares_the_actions_pane() {
        let mut m = busy(Mode::Serve);
        press(&mut m, &[KeyCode::BackTab]);
        let s = draw(&mut m, (100, smallest_height(Shape::Stacked)));
        assert!(s.contains("Actions │ Log") && s.contains("INFO log line 39"), "{s}");
        assert!(s.contains("failure number 27") && s.contains("abc123-29") && !s.contains("Verify checksum"), "{s}");
    }

    #[test]
    fn columns_go_whole_and_in_their_order() {
        let columns = [col(5, 0, 0), col(4, 1, 2), col(6, 2, 1), col(3, 0, 0)];
        // 5 + 4 + 6 + 3 and three spaces: 21.
        assert_eq!(fit(&columns, 21).0, [Some(5), Some(4), Some(6), Some(3)]);
        // Spare width goes by shares.
        assert_eq!(fit(&columns, 24).0, [Some(5), Some(5), Some(8), Some(3)]);
        // Too narrow: the highest rank goes, and the rest grows again.
        assert_eq!(fit(&columns, 20).0, [Some(5), None, Some(10), Some(3)]);
        assert_eq!(fit(&columns, 12).0, [Some(5), None, None, Some(3)]);
        // Columns that never go are cut at the edge rather than dropped.
        assert_eq!(fit(&columns, 4).0, [Some(5), None, None, Some(3)]);
        assert_eq!(fit(&columns, u16::MAX).width(), 21);
    }

    #[test]
    fn wrap_breaks_between_words_and_long_words_at_the_edge() {
        assert_eq!(wrap("a bb ccc", 4), ["a bb", "ccc"]);
        assert_eq!(wrap("a bb ccc", 8), ["a bb ccc"]);
        assert_eq!(wrap("ab  cdefgh i", 3), ["ab", "cde", "fgh", "i"]);
        assert_eq!(wrap("", 5), [""]);
    }

    #[test]
    fn the_actions_table_keeps_every_name_whole() {
        for width in MIN.0 - 2..200 {
            let fit = fit(&actions_columns(), width);
            for i in [0, 1] {
                assert_eq!(fit.0[i], Some(actions_columns()[i].min), "at {width}");
            }
            assert!(fit.width() <= width, "at {width}: {fit:?}");
        }
    }

    /// Each shape from its smallest height on, which follows the registry;
    /// shared below.
    #[test]
    fn shapes_by_size() {
        let at = |w, h| shape(Rect::new(0, 0, w, h));
        let (stacked, wide) = (smallest_height(Shape::Stacked), smallest_height(Shape::Wide));
        assert!(wide <= stacked, "a wide terminal never shares a pane where a narrower one would not");
        for h in MIN.1..=80 {
            for w in [MIN.0, 80, 100, 120, WIDE - 1] {
                let want = if h >= stacked { Shape::Stacked } else { Shape::Shared };
                assert_eq!(at(w, h), want, "{w}×{h}");
            }
            for w in [WIDE, 160, 200] {
                assert_eq!(at(w, h), if h >= wide { Shape::Wide } else { Shape::Shared }, "{w}×{h}");
            }
        }
        // The smallest terminal the tests draw at shares its lower pane.
        assert_eq!(at(80, 24), Shape::Shared);
    }

    #[test]
    fn the_actions_pane_follows_the_registry() {
        for (w, h) in all_at_once() {
            for mode in [Mode::Serve, Mode::Top] {
                let areas = layout(Rect::new(0, 0, w, h), mode, Panel::Failures);
                let rows = content_rows(areas.actions.unwrap(), Panel::Actions);
                assert!(rows >= ACTIONS.len(), "{w}×{h} {mode:?}: {rows}");
            }
        }
    }
}
