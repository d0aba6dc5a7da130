//! Alerts: one row per threshold of `thresholds.toml` (the instance-down
//! rule first: an instance is `DOWN` or `up`) with its current
//! value, the threshold and operator, the state (OK / PENDING / FIRING, with
//! the rule's `for`), since when, and the action to take. A threshold
//! evaluated per instance shows its worst instance; the panel below lists
//! every series of the selected threshold and explains its rule.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, Widget, Wrap};

use super::style;
use crate::app::{AlertRow, App};
use crate::format;
use crate::thresholds::{AlertState, Measure, SeriesState, Threshold, format_duration};

pub struct AlertsPanel<'a>(pub &'a App);

fn since_clock(state: &SeriesState) -> String {
    format::clock(state.since)
}

fn since(app: &App, state: &SeriesState) -> String {
    let ago = app.now.duration_since(state.since).unwrap_or_default();
    format!("{} ({})", format::clock(state.since), format::age(ago))
}

fn value_text(t: &Threshold, state: Option<&SeriesState>) -> (String, Style) {
    if t.measure.is_none() {
        return ("not computed".into(), style::dim());
    }
    match state.and_then(|s| s.value) {
        Some(value) if t.measure == Some(Measure::Up) => {
            let text = if t.breached(value) { "DOWN" } else { "up" };
            (text.into(), style::breach(t.breached(value)))
        }
        Some(value) => (
            format::unit_value_near(value, t.value, t.unit),
            style::breach(t.breached(value)),
        ),
        None => ("no data".into(), style::dim()),
    }
}

impl Widget for &AlertsPanel<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.0;
        let rows = app.alerts.rows();
        let wide = area.width >= 110;
        let table_height = u16::try_from(rows.len() + 3).unwrap_or(u16::MAX);
        let [table_area, detail_area] =
            Layout::vertical([Constraint::Length(table_height), Constraint::Min(0)]).areas(area);
        let table_rows: Vec<Row<'_>> = rows
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let t = row.threshold;
                let worst = row.worst.map(|(_, s)| s);
                let state = worst.map_or(AlertState::Ok, |s| s.state);
                let (value, value_style) = value_text(t, worst);
                let mut cells = vec![
                    Cell::from(t.name.clone()),
                    Cell::from(value).style(value_style),
                    Cell::from(format!(
                        "{} {}",
                        t.op.as_str(),
                        format::threshold(t.value, t.unit)
                    )),
                    Cell::from(state.label()).style(style::alert(state)),
                ];
                if wide {
                    cells.push(Cell::from(format_duration(t.hold)));
                    cells.push(Cell::from(
                        row.worst
                            .map_or(String::new(), |(name, _)| name.to_string()),
                    ));
                }
                let since = |s| if wide { since(app, s) } else { since_clock(s) };
                cells.push(Cell::from(
                    worst.map_or_else(|| format::NONE.to_string(), since),
                ));
                cells.push(Cell::from(t.action.clone()));
                let row_style = if i == app.alerts_selected {
                    style::selected()
                } else {
                    Style::new()
                };
                Row::new(cells).style(row_style)
            })
            .collect();
        let mut header = vec!["threshold", "value", "threshold", "state"];
        let mut widths = vec![
            Constraint::Length(15),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(7),
        ];
        if wide {
            header.extend(["for", "worst instance"]);
            widths.extend([Constraint::Length(5), Constraint::Length(24)]);
        }
        header.extend(["since", "action"]);
        widths.extend([
            Constraint::Length(if wide { 17 } else { 8 }),
            Constraint::Fill(1),
        ]);
        let evaluated = app
            .alerts
            .evaluated_at
            .map_or_else(|| "not yet".to_string(), format::clock);
        Table::new(table_rows, widths)
            .header(Row::new(header).style(style::title()))
            .column_spacing(1)
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(format!(" Alert thresholds · evaluated {evaluated} ")),
            )
            .render(table_area, buf);
        let selected = rows.get(app.alerts_selected);
        let title = selected.map_or(" Rule ".to_string(), |r| format!(" {} ", r.threshold.alert));
        Paragraph::new(selected.map(|row| detail(app, row)).unwrap_or_default())
            .wrap(Wrap { trim: true })
            .block(Block::default().borders(Borders::ALL).title(title))
            .render(detail_area, buf);
    }
}

fn detail(app: &App, row: &AlertRow<'_>) -> Vec<Line<'static>> {
    let t = row.threshold;
    let window = t.window.map_or_else(
        || "the latest scrape".to_string(),
        |w| format!("a {} window", format_duration(w)),
    );
    let mut lines = vec![
        Line::from(format!("{} (severity {}).", t.description, t.severity)),
        Line::from(format!(
            "PENDING while value {} {}, FIRING once that has held for {}; computed over {}.",
            t.op.as_str(),
            format::threshold(t.value, t.unit),
            format_duration(t.hold),
            window
        )),
        Line::styled(format!("action: {}", t.action), style::title()),
    ];
    for (name, state) in &row.series {
        let (value, value_style) = value_text(t, Some(state));
        lines.push(Line::from(vec![
            Span::raw(format!("{name:<24} ")),
            Span::styled(format!("{value:<10} "), value_style),
            Span::styled(
                format!("{:<8}", state.state.label()),
                style::alert(state.state),
            ),
            Span::raw(format!("since {}", since(app, state))),
        ]));
    }
    lines
}
