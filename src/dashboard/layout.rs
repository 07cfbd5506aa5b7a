//! Where every panel goes at a given terminal size, which panels share a
//! pane, and how many rows of content a panel shows there.
//!
//! The model asks this module for page sizes and to keep selections on
//! screen; the view asks it where to draw. It knows nothing of drawing.

use ratatui::layout::{Constraint, Layout, Rect};

use super::Mode;
use super::model::Panel;
use crate::actions::ACTIONS;

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

pub fn is_wide(area: Rect) -> bool {
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
pub fn content_rows(area: Rect, panel: Panel) -> usize {
    let chrome = if panel == Panel::Log { 2 } else { 3 };
    area.height.saturating_sub(chrome) as usize
}
