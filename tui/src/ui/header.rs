//! The top line: the screens (the current one highlighted), the alert
//! count, who is logged in to the admin API, and the time (UTC).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::style;
use crate::app::{AdminAuth, App, Screen};
use crate::format;
use crate::thresholds::AlertState;

pub struct Header<'a>(pub &'a App);

impl Widget for &Header<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.0;
        let mut spans = vec![Span::styled(" tenk ", style::title())];
        for (index, screen) in Screen::ALL.iter().enumerate() {
            let text = format!(" {} {} ", index + 1, screen.title());
            let tab_style = if *screen == app.screen {
                style::selected()
            } else {
                style::dim()
            };
            spans.push(Span::styled(text, tab_style));
        }
        let firing = app.alerts.count(AlertState::Firing);
        let pending = app.alerts.count(AlertState::Pending);
        let alerts = match (firing, pending) {
            (0, 0) => Span::styled(" alerts ok ", style::ok()),
            (0, p) => Span::styled(format!(" {p} pending "), style::alert(AlertState::Pending)),
            (f, _) => Span::styled(format!(" {f} FIRING "), style::alert(AlertState::Firing)),
        };
        let who = match (&app.auth, app.config.read_only) {
            (_, true) => Span::styled(" READ-ONLY ", style::warn()),
            (AdminAuth::LoggedIn { who }, false) => {
                Span::raw(format!(" admin {} ", format::truncate(who, 24)))
            }
            (AdminAuth::LoggedOut, false) => Span::styled(" L: log in ", style::dim()),
        };
        let clock = Span::styled(format!(" {} UTC", format::clock(app.now)), style::dim());
        let left: usize = spans.iter().map(Span::width).sum();
        let mut right = vec![alerts, who, clock];
        // Drop from the right end what does not fit (the clock first).
        while left + right.iter().map(Span::width).sum::<usize>() > usize::from(area.width)
            && !right.is_empty()
        {
            right.pop();
        }
        let used: usize = left + right.iter().map(Span::width).sum::<usize>();
        spans.push(Span::raw(
            " ".repeat(usize::from(area.width).saturating_sub(used)),
        ));
        spans.extend(right);
        Line::from(spans).render(area, buf);
    }
}
