//! The top line: the screens (the current one highlighted), the instances
//! that are DOWN or STALE (`1/3 DOWN` in red: never a green all-clear while
//! one does not answer), the alerts firing and pending (counted per alert,
//! both shown), who is logged in to the admin API, and the time (UTC).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::style;
use crate::app::{AdminAuth, App, FleetView, Screen};
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
        let alerts = match &app.fleet {
            Some(fleet) => fleet_counts(fleet),
            None => {
                let mut spans = availability(app);
                spans.extend(alert_counts(app));
                spans
            }
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
        let mut right = alerts;
        right.extend([who, clock]);
        // Drop from the right end what does not fit (the clock first; the
        // alert spans come first, so they are dropped last).
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

/// Fleet mode: `1/5 DOWN` from `up`, and the alerts Prometheus evaluates.
fn fleet_counts(fleet: &FleetView) -> Vec<Span<'static>> {
    let total = fleet.instance_count();
    let mut spans = Vec::new();
    if fleet.error.is_some() {
        spans.push(Span::styled(" PROMETHEUS DOWN ", style::bad()));
    }
    let down = fleet.down();
    if down > 0 {
        spans.push(Span::styled(format!(" {down}/{total} DOWN "), style::bad()));
    }
    let firing = fleet.alert_count("firing");
    let pending = fleet.alert_count("pending");
    if firing > 0 {
        spans.push(Span::styled(
            format!(" {firing} FIRING "),
            style::alert(AlertState::Firing),
        ));
    }
    if pending > 0 {
        spans.push(Span::styled(
            format!(" {pending} pending "),
            style::alert(AlertState::Pending),
        ));
    }
    if spans.is_empty() {
        spans.push(if fleet.snapshot.is_some() {
            Span::styled(" alerts ok ", style::ok())
        } else {
            Span::styled(" waiting… ", style::dim())
        });
    }
    spans
}

/// `1/3 DOWN` (red) and `1/3 STALE` (yellow); nothing when all answer.
fn availability(app: &App) -> Vec<Span<'static>> {
    let total = app.targets.len();
    let mut spans = Vec::new();
    let down = app.down_count();
    if down > 0 {
        spans.push(Span::styled(format!(" {down}/{total} DOWN "), style::bad()));
    }
    let stale = app.stale_count();
    if stale > 0 {
        spans.push(Span::styled(
            format!(" {stale}/{total} STALE "),
            style::warn(),
        ));
    }
    spans
}

/// `2 FIRING` and `1 pending`, each alert counted once; `alerts ok` only
/// when nothing fires, nothing is pending and every instance answers.
fn alert_counts(app: &App) -> Vec<Span<'static>> {
    let firing = app.alerts.count_alerts(AlertState::Firing);
    let pending = app.alerts.count_alerts(AlertState::Pending);
    let mut spans = Vec::new();
    if firing > 0 {
        spans.push(Span::styled(
            format!(" {firing} FIRING "),
            style::alert(AlertState::Firing),
        ));
    }
    if pending > 0 {
        spans.push(Span::styled(
            format!(" {pending} pending "),
            style::alert(AlertState::Pending),
        ));
    }
    if !spans.is_empty() {
        return spans;
    }
    if app.up_count() == app.targets.len() {
        spans.push(Span::styled(" alerts ok ", style::ok()));
    } else if app.down_count() + app.stale_count() == 0 {
        // Not polled yet: no verdict either way.
        spans.push(Span::styled(" waiting… ", style::dim()));
    }
    spans
}
