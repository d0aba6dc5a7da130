//! The confirmation before a revocation: it names what will end.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget, Wrap};

use super::style;
use crate::app::Confirm;

pub struct ConfirmPopup<'a>(pub &'a Confirm);

impl Widget for &ConfirmPopup<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let mut lines: Vec<Line<'_>> = self.0.message.lines().map(Line::from).collect();
        lines.push(Line::from(""));
        lines.push(Line::from(vec![
            Span::styled("y", style::key()),
            Span::raw(" revoke    "),
            Span::styled("any other key", style::key()),
            Span::raw(" cancel"),
        ]));
        Clear.render(area, buf);
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .border_style(style::bad())
                    .title(" Confirm "),
            )
            .render(area, buf);
    }
}
