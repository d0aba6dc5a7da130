//! Fleet mode: the form that silences one alert in Alertmanager for a
//! duration the operator types.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget, Wrap};

use super::style;
use crate::app::SilenceForm;

pub struct SilencePopup<'a>(pub &'a SilenceForm);

impl Widget for &SilencePopup<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let form = self.0;
        let label = |name: &str| form.labels.get(name).cloned().unwrap_or_default();
        let mut lines = vec![
            Line::from(format!(
                "Silence {} on {} in Alertmanager",
                label("alertname"),
                label("instance")
            )),
            Line::from(vec![
                Span::raw("for "),
                Span::styled(form.duration.clone(), style::title()),
                Span::styled("▏", style::key()),
                Span::styled(" (30m, 2h, 1d…)", style::dim()),
            ]),
        ];
        if let Some(error) = &form.error {
            lines.push(Line::styled(error.clone(), style::bad()));
        }
        lines.push(Line::from(""));
        lines.push(Line::from(vec![
            Span::styled("Enter", style::key()),
            Span::raw(" silence    "),
            Span::styled("Esc", style::key()),
            Span::raw(" cancel"),
        ]));
        Clear.render(area, buf);
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .border_style(style::warn())
                    .title(" Silence "),
            )
            .render(area, buf);
    }
}
