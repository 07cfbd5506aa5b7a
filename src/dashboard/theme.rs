//! Styles, with and without color. With `NO_COLOR` only bold and reverse
//! are used; the focused panel also has a thick border, which works without
//! color.

use ratatui::style::{Color, Modifier, Style};

/// Styles, with and without color.
pub(in crate::dashboard) struct Theme {
    pub color: bool,
}

impl Theme {
    pub fn bold(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn reverse(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub fn brand(&self) -> Style {
        if self.color {
            Style::new().fg(Color::Black).bg(Color::Cyan).add_modifier(Modifier::BOLD)
        } else {
            self.reverse().add_modifier(Modifier::BOLD)
        }
    }

    pub fn border(&self, focused: bool) -> Style {
        match (self.color, focused) {
            (true, true) => Style::new().fg(Color::Cyan),
            _ => Style::new(),
        }
    }

    pub fn title(&self, focused: bool) -> Style {
        match (self.color, focused) {
            (true, true) => self.bold().fg(Color::Cyan),
            (false, true) => self.bold(),
            _ => Style::new(),
        }
    }

    pub fn failure(&self) -> Style {
        if self.color { Style::new().fg(Color::Red) } else { self.bold() }
    }

    pub fn alert(&self) -> Style {
        if self.color {
            Style::new().fg(Color::White).bg(Color::Red).add_modifier(Modifier::BOLD)
        } else {
            self.reverse().add_modifier(Modifier::BOLD)
        }
    }

    pub fn ok(&self) -> Style {
        if self.color { Style::new().fg(Color::Green) } else { Style::new() }
    }

    pub fn dim(&self) -> Style {
        if self.color { Style::new().fg(Color::DarkGray) } else { Style::new() }
    }

    pub fn paused(&self) -> Style {
        if self.color {
            Style::new().fg(Color::Black).bg(Color::Yellow).add_modifier(Modifier::BOLD)
        } else {
            self.reverse().add_modifier(Modifier::BOLD)
        }
    }

    pub fn spark(&self) -> Style {
        if self.color { Style::new().fg(Color::Cyan) } else { Style::new() }
    }

    pub fn selected(&self) -> Style {
        self.reverse()
    }
}
