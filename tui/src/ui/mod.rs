//! Drawing: the layout (header, the current screen, the status line, and at
//! most one overlay) in this file; one widget per file. Widgets only read
//! the [`App`]; they render into any buffer, so tests render them without a
//! terminal.

pub mod alerts;
pub mod audit;
pub mod confirm;
pub mod fleet;

pub mod header;
pub mod help;
pub mod list_title;
pub mod login;
pub mod overview;
pub mod overview_detail;
pub mod sessions;
pub mod silence;
pub mod sparkline;
pub mod status_bar;
pub mod style;

#[cfg(test)]
mod tests;

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::Widget;

use crate::app::{App, Overlay, Screen};

/// The whole screen for `app`.
pub struct View<'a>(pub &'a App);

/// Draws the app into the terminal frame.
pub fn draw(frame: &mut Frame<'_>, app: &App) {
    frame.render_widget(&View(app), frame.area());
}

/// A `width` × `height` box centred in `area` (shrunk to fit).
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

impl Widget for &View<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.0;
        let [top, body, bottom] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(0),
            Constraint::Length(1),
        ])
        .areas(area);
        header::Header(app).render(top, buf);
        match (app.screen, &app.fleet) {
            (Screen::Overview, Some(fleet)) => fleet::FleetOverview {
                fleet,
                show_routes: app.show_routes,
            }
            .render(body, buf),
            (Screen::Alerts, Some(fleet)) => fleet::FleetAlerts(fleet).render(body, buf),
            (Screen::Overview, None) => overview::OverviewPanel(app).render(body, buf),
            (Screen::Alerts, None) => alerts::AlertsPanel(app).render(body, buf),
            (Screen::Sessions, _) => sessions::SessionsPanel(app).render(body, buf),
            (Screen::Audit, _) => audit::AuditPanel(app).render(body, buf),
        }
        status_bar::StatusBar(app).render(bottom, buf);
        match &app.overlay {
            Overlay::None => {}
            Overlay::Help => {
                let height = u16::try_from(help::KEYS.len() + 3).unwrap_or(u16::MAX);
                help::HelpPopup {
                    read_only: app.config.read_only,
                }
                .render(centered(area, 66, height), buf);
            }
            Overlay::Confirm(confirm) => {
                confirm::ConfirmPopup(confirm).render(centered(area, 70, 9), buf)
            }
            Overlay::Login(form) => login::LoginPopup(form).render(centered(area, 70, 10), buf),
            Overlay::Silence(form) => {
                silence::SilencePopup(form).render(centered(area, 64, 8), buf);
            }
        }
    }
}
