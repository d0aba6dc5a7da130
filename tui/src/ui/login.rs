//! The login form: email and password, or email and a one-time code. The
//! secret is shown as dots.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget, Wrap};

use super::style;
use crate::app::{LoginField, LoginForm, LoginMode};

pub struct LoginPopup<'a>(pub &'a LoginForm);

impl Widget for &LoginPopup<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let form = self.0;
        let field = |label: &str, value: String, focused: bool| {
            let marker = if focused { "▏" } else { "" };
            let label_style = if focused { style::key() } else { Style::new() };
            Line::from(vec![
                Span::styled(format!("{label:>9} "), label_style),
                Span::raw(value),
                Span::styled(marker, style::key()),
            ])
        };
        let (secret_label, hint) = match form.mode {
            LoginMode::Password => (
                "password",
                "Enter: next / log in · ctrl-o: use a one-time code · Esc: cancel",
            ),
            LoginMode::Code => (
                "code",
                "Enter on email: send a code · Enter on code: log in · ctrl-o: password · Esc",
            ),
        };
        let mut lines = vec![
            field("email", form.email.clone(), form.focus == LoginField::Email),
            field(
                secret_label,
                "•".repeat(form.secret_len()),
                form.focus == LoginField::Secret,
            ),
            Line::from(""),
        ];
        if let Some(email) = &form.code_sent_to {
            lines.push(Line::styled(
                format!("code requested for {email}: check the mail"),
                style::ok(),
            ));
        }
        if form.busy {
            lines.push(Line::styled("waiting for the server…", style::dim()));
        }
        if let Some(error) = &form.error {
            lines.push(Line::styled(error.clone(), style::bad()));
        }
        lines.push(Line::styled(hint, style::dim()));
        Clear.render(area, buf);
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(" Admin login "),
            )
            .render(area, buf);
    }
}
