//! The bottom line: the result of the last action (green, or red with the
//! reason), and the keys that matter on this screen.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::style;
use crate::app::{App, Screen};
use crate::format;

pub struct StatusBar<'a>(pub &'a App);

fn hints(app: &App) -> &'static str {
    match app.screen {
        Screen::Sessions if app.sessions.editing => "Enter search · Esc stop typing",
        Screen::Sessions | Screen::Audit
            if app.sessions.view.filtering || app.audit.view.filtering =>
        {
            "type to filter · Enter keep · Esc clear"
        }
        Screen::Sessions if app.config.read_only => {
            "/ search · f filter · u reload · ? help · q quit"
        }
        Screen::Sessions => "/ search · r revoke · R all · D/E disable/enable · ? help",
        Screen::Audit => "u reload · n older · f filter · s sort · ? help · q quit",
        Screen::Overview | Screen::Alerts => {
            "tab/1-4 screens · j/k move · p poll now · ? help · q quit"
        }
    }
}

impl Widget for &StatusBar<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.0;
        let hints = hints(app);
        let width = usize::from(area.width);
        let room = width.saturating_sub(hints.chars().count() + 2);
        let message = match &app.status {
            Some(status) => Span::styled(
                format!(
                    " {}",
                    format::truncate(&status.text, room.saturating_sub(1))
                ),
                style::status(status.kind),
            ),
            None => Span::raw(""),
        };
        let gap = width.saturating_sub(message.width() + hints.chars().count() + 1);
        let line = if message.width() + hints.chars().count() + 1 > width {
            Line::from(message)
        } else {
            Line::from(vec![
                message,
                Span::raw(" ".repeat(gap)),
                Span::styled(hints, style::dim()),
                Span::raw(" "),
            ])
        };
        line.render(area, buf);
    }
}
