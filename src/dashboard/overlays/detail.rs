//! Every field of one request, over the panels.

use compact_str::CompactString;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Wrap};

use crate::dashboard::keys::{DETAIL_KEYS, hints};
use crate::dashboard::theme::Theme;
use crate::dashboard::view::{latency, popup};
use crate::events::Event;

pub(in crate::dashboard) fn draw(e: &Event, theme: &Theme, frame: &mut Frame, area: Rect) {
    let text = |v: &Option<CompactString>| v.as_deref().unwrap_or("–").to_string();
    let fields: [(&str, String); 12] = [
        ("Time", e.time.to_string()),
        ("Request id", e.request_id.to_string()),
        ("Method", e.method.to_string()),
        ("Endpoint", e.endpoint.to_string()),
        ("Action", text(&e.action)),
        ("Document id", text(&e.document_id)),
        ("Document version id", text(&e.document_version_id)),
        ("Item id", text(&e.id)),
        ("Username", text(&e.username)),
        ("Status", e.status.to_string()),
        ("Latency", format!("{} ({} µs)", latency(e.latency_us), e.latency_us)),
        ("Error", text(&e.error)),
    ];
    let lines: Vec<Line> = fields
        .into_iter()
        .map(|(label, value)| {
            let style =
                if (label == "Error" || label == "Status") && e.is_failure() { theme.failure() } else { Style::new() };
            Line::from(vec![Span::styled(format!(" {label:<20}"), theme.bold()), Span::styled(value, style)])
        })
        .collect();
    let rect = popup(area, 96, 18);
    let block = Block::bordered()
        .border_type(BorderType::Thick)
        .title(Line::styled(format!(" Request {} ", e.request_id), theme.bold()))
        .title_bottom(Line::from(hints(DETAIL_KEYS)).right_aligned());
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), rect);
}

#[cfg(test)]
mod tests {
    use crate::dashboard::Mode;
    use crate::dashboard::testing::*;
    use crossterm::event::KeyCode;

    #[test]
    fn failure_detail_shows_every_field() {
        for size in SIZES {
            let mut m = busy(Mode::Serve);
            press(&mut m, &[KeyCode::Tab, KeyCode::Enter]);
            let s = draw(&mut m, size);
            for needle in [
                "Request abc123-27",
                "2024-05-01T12:00:27.000Z",
                "POST",
                "customAction",
                "Action",
                "Document id",
                "doc27",
                "Document version id",
                "/files/f27.pdf",
                "Username",
                "500",
                "7.00ms (7000 µs)",
                "failure number 27",
                "Esc back",
            ] {
                assert!(s.contains(needle), "{needle:?} at {size:?}\n{s}");
            }
            press(&mut m, &[KeyCode::Esc]);
            assert!(!draw(&mut m, size).contains("Document version id"));
        }
    }
}
