//! Help (`?`): the key map.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

use super::style;

pub struct HelpPopup {
    pub read_only: bool,
}

/// (keys, what they do), in the order shown.
pub const KEYS: &[(&str, &str)] = &[
    ("tab / shift-tab", "next / previous screen"),
    ("1 2 3 4", "Overview, Alerts, Sessions, Audit"),
    ("↑ ↓ / j k", "move the selection"),
    ("PgUp PgDn g G", "a page, the first row, the last row"),
    ("f / s / c", "filter the list / sort it / copy the id"),
    ("/", "search sessions by email or user id"),
    ("Enter / Esc", "run the search / stop typing"),
    ("r / R", "revoke the session / all of its user's (asks)"),
    ("D / E", "disable / enable the selected session's user"),
    ("y", "confirm (any other key cancels)"),
    ("u", "reload the sessions or the audit log"),
    ("n", "older page of the audit log"),
    ("p / b", "poll now / Overview details per route"),
    ("S", "fleet mode: silence the selected alert"),
    ("L", "log in to the admin API"),
    ("ctrl-o", "in the login form: password / one-time code"),
    ("?", "this help (any key closes it)"),
    ("q / ctrl-c", "quit"),
];

impl Widget for &HelpPopup {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let mut lines: Vec<Line<'_>> = KEYS
            .iter()
            .map(|(keys, what)| {
                Line::from(vec![
                    Span::styled(format!("{keys:>16}  "), style::key()),
                    Span::raw(*what),
                ])
            })
            .collect();
        if self.read_only {
            lines.push(Line::styled(
                "read-only: r, R, D and E are disabled",
                style::warn(),
            ));
        }
        Clear.render(area, buf);
        Paragraph::new(lines)
            .block(Block::default().borders(Borders::ALL).title(" Keys "))
            .render(area, buf);
    }
}
