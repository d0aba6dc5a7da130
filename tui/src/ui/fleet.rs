//! Fleet mode's screens: Overview lists every instance Prometheus scrapes
//! (up or DOWN, req/s, 5xx, p95, CPU, memory, from PromQL) and, with `b`,
//! the selected instance per route in direct mode's table; Alerts lists the
//! alerts of Prometheus's own rule evaluation (pending beside firing), with
//! Alertmanager's view (silenced or not) and its silences.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{
    Block, Borders, Cell, Paragraph, Row, StatefulWidget, Table, TableState, Widget, Wrap,
};

use super::overview_detail::route_table;
use super::style;
use crate::app::FleetView;
use crate::fleet::{FleetRoutes, FleetSnapshot};
use crate::format;
use crate::thresholds::AlertState;

fn opt(value: Option<f64>, show: impl Fn(f64) -> String) -> String {
    value.map_or_else(|| format::NONE.to_string(), show)
}

fn source_line(fleet: &FleetView) -> Line<'static> {
    match (&fleet.error, &fleet.snapshot) {
        (Some(error), _) => Line::styled(format!("{}: {error}", fleet.prometheus), style::bad()),
        (None, Some(snapshot)) => Line::styled(
            format!(
                "from {} at {}{}",
                fleet.prometheus,
                format::clock(snapshot.at),
                fleet
                    .alertmanager
                    .as_ref()
                    .map_or_else(String::new, |am| format!(" · Alertmanager {am}"))
            ),
            style::dim(),
        ),
        (None, None) => Line::styled(format!("asking {}…", fleet.prometheus), style::dim()),
    }
}

/// Overview in fleet mode; `show_routes`: the selected instance per route
/// below the instances (`b`).
pub struct FleetOverview<'a> {
    pub fleet: &'a FleetView,
    pub show_routes: bool,
}

/// The per-route panel of the selected instance: its title and lines.
fn routes_panel(fleet: &FleetView) -> (String, Vec<Line<'static>>) {
    let selected = fleet
        .snapshot
        .as_ref()
        .and_then(|s| s.instances.get(fleet.selected_instance));
    let Some(instance) = selected else {
        return (
            " per route ".into(),
            vec![Line::styled("no instance selected", style::dim())],
        );
    };
    let name = &instance.name;
    match fleet.selected_routes() {
        None => (
            format!(" {name} · per route, worst first "),
            vec![Line::styled(
                format!("asking Prometheus for the routes of {name}…"),
                style::dim(),
            )],
        ),
        Some(FleetRoutes { at, result, .. }) => {
            let title = format!(
                " {name} · per route, worst first · as of {} ",
                format::clock(*at)
            );
            let lines = match result {
                Err(error) => vec![Line::styled(error.clone(), style::bad())],
                // Dimmed like a DOWN instance's in direct mode: not current.
                Ok(routes) => route_table(
                    routes,
                    instance.up && fleet.error.is_none(),
                    "no requests over the rate window (--rate-window)",
                ),
            };
            (title, lines)
        }
    }
}

impl Widget for &FleetOverview<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let fleet = self.fleet;
        let [main_area, source_area] =
            Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(area);
        let instances = fleet
            .snapshot
            .as_ref()
            .map_or(&[][..], |s| s.instances.as_slice());
        let (table_area, routes_area) = if self.show_routes {
            // The instances on top (at most half), the routes below.
            let wanted = u16::try_from(instances.len() + 3).unwrap_or(u16::MAX);
            let height = wanted.min(main_area.height / 2).max(4);
            let [table, routes] =
                Layout::vertical([Constraint::Length(height), Constraint::Min(0)]).areas(main_area);
            (table, Some(routes))
        } else {
            (main_area, None)
        };
        let rows: Vec<Row<'_>> = instances
            .iter()
            .map(|i| {
                let state = if i.up {
                    Cell::from("UP").style(style::ok())
                } else {
                    Cell::from("DOWN").style(style::bad())
                };
                Row::new(vec![
                    Cell::from(i.name.clone()),
                    state,
                    Cell::from(opt(i.requests_per_second, format::rate)),
                    Cell::from(opt(i.error_ratio, format::percent_short)),
                    Cell::from(opt(i.p95, format::seconds)),
                    Cell::from(opt(i.cpu_ratio, format::percent_short)),
                    Cell::from(opt(i.memory_ratio, format::percent_short)),
                ])
            })
            .collect();
        let up = instances.iter().filter(|i| i.up).count();
        let title = format!(
            " Fleet · {up}/{} up · discovered from Prometheus · {}/{} ",
            instances.len(),
            (fleet.selected_instance + 1).min(instances.len()),
            instances.len()
        );
        let widths = [
            Constraint::Fill(1),
            Constraint::Length(5),
            Constraint::Length(8),
            Constraint::Length(7),
            Constraint::Length(9),
            Constraint::Length(7),
            Constraint::Length(7),
        ];
        let mut state = TableState::default().with_selected(Some(fleet.selected_instance));
        let table = Table::new(rows, widths)
            .header(
                Row::new(["instance", "state", "req/s", "5xx", "p95", "cpu", "mem"])
                    .style(style::title()),
            )
            .column_spacing(1)
            .row_highlight_style(style::selected())
            .block(Block::default().borders(Borders::ALL).title(title));
        StatefulWidget::render(table, table_area, buf, &mut state);
        if let Some(routes_area) = routes_area {
            let (title, lines) = routes_panel(fleet);
            Paragraph::new(lines)
                .block(Block::default().borders(Borders::ALL).title(title))
                .render(routes_area, buf);
        }
        Paragraph::new(source_line(fleet)).render(source_area, buf);
    }
}

fn alert_state(state: &str) -> AlertState {
    match state {
        "firing" => AlertState::Firing,
        "pending" => AlertState::Pending,
        _ => AlertState::Ok,
    }
}

/// Whether Alertmanager holds this alert silenced.
fn silenced(snapshot: &FleetSnapshot, name: &str, instance: &str) -> Option<bool> {
    let (alerts, _) = snapshot.alertmanager.as_ref()?.as_ref().ok()?;
    let held = alerts
        .iter()
        .find(|a| a.name() == name && a.instance() == instance)?;
    Some(!held.status.silenced_by.is_empty())
}

/// Alerts in fleet mode.
pub struct FleetAlerts<'a>(pub &'a FleetView);

impl Widget for &FleetAlerts<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let fleet = self.0;
        let [alerts_area, silences_area, source_area] = Layout::vertical([
            Constraint::Min(4),
            Constraint::Length(if fleet.alertmanager.is_some() { 6 } else { 0 }),
            Constraint::Length(1),
        ])
        .areas(area);
        let Some(snapshot) = &fleet.snapshot else {
            Paragraph::new(source_line(fleet))
                .block(
                    Block::default()
                        .borders(Borders::ALL)
                        .title(" Alerts (Prometheus) "),
                )
                .render(alerts_area, buf);
            return;
        };
        let rows: Vec<Row<'_>> = snapshot
            .alerts
            .iter()
            .map(|a| {
                let state = alert_state(&a.state);
                let silence = match silenced(snapshot, a.name(), a.instance()) {
                    Some(true) => "silenced",
                    Some(false) => "notified",
                    None => "",
                };
                Row::new(vec![
                    Cell::from(a.name().to_string()),
                    Cell::from(a.instance().to_string()),
                    Cell::from(state.label()).style(style::alert(state)),
                    Cell::from(
                        a.active_at
                            .as_deref()
                            .map_or_else(|| format::NONE.to_string(), format::timestamp),
                    ),
                    Cell::from(silence),
                    Cell::from(a.annotations.get("action").cloned().unwrap_or_default()),
                ])
            })
            .collect();
        let firing = snapshot.alert_count("firing");
        let pending = snapshot.alert_count("pending");
        let title = format!(
            " Alerts · Prometheus's rule evaluation · {firing} firing · {pending} pending{} ",
            if snapshot.alerts.is_empty() {
                String::new()
            } else {
                format!(
                    " · {}/{}",
                    (fleet.selected_alert + 1).min(snapshot.alerts.len()),
                    snapshot.alerts.len()
                )
            }
        );
        let widths = [
            Constraint::Length(22),
            Constraint::Length(21),
            Constraint::Length(7),
            Constraint::Length(14),
            Constraint::Length(8),
            Constraint::Fill(1),
        ];
        let mut state = TableState::default().with_selected(Some(fleet.selected_alert));
        let table = Table::new(rows, widths)
            .header(
                Row::new(["alert", "instance", "state", "since", "am", "action"])
                    .style(style::title()),
            )
            .column_spacing(1)
            .row_highlight_style(style::selected())
            .block(Block::default().borders(Borders::ALL).title(title));
        StatefulWidget::render(table, alerts_area, buf, &mut state);
        if fleet.alertmanager.is_some() {
            let lines: Vec<Line<'_>> = match &snapshot.alertmanager {
                Some(Ok((_, silences))) if silences.is_empty() => {
                    vec![Line::styled("no silences", style::dim())]
                }
                Some(Ok((_, silences))) => silences
                    .iter()
                    .map(|s| {
                        Line::from(format!(
                            "{} until {} · {} · by {}: {}",
                            s.matchers_text(),
                            format::timestamp(&s.ends_at),
                            s.status.state,
                            s.created_by,
                            s.comment
                        ))
                    })
                    .collect(),
                Some(Err(error)) => vec![Line::styled(error.clone(), style::bad())],
                None => Vec::new(),
            };
            Paragraph::new(lines)
                .wrap(Wrap { trim: true })
                .block(
                    Block::default()
                        .borders(Borders::ALL)
                        .title(" Silences (Alertmanager) · S silences the selected alert "),
                )
                .render(silences_area, buf);
        }
        Paragraph::new(source_line(fleet)).render(source_area, buf);
    }
}
