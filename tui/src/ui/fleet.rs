//! Fleet mode's screens: Overview lists every instance Prometheus scrapes
//! (up or DOWN, req/s, 5xx, p95, CPU, memory, from PromQL); Alerts lists the
//! alerts of Prometheus's own rule evaluation (pending beside firing), with
//! Alertmanager's view (silenced or not) and its silences.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{
    Block, Borders, Cell, Paragraph, Row, StatefulWidget, Table, TableState, Widget, Wrap,
};

use super::style;
use crate::app::FleetView;
use crate::fleet::FleetSnapshot;
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

/// Overview in fleet mode.
pub struct FleetOverview<'a>(pub &'a FleetView);

impl Widget for &FleetOverview<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let fleet = self.0;
        let [table_area, source_area] =
            Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(area);
        let instances = fleet
            .snapshot
            .as_ref()
            .map_or(&[][..], |s| s.instances.as_slice());
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
