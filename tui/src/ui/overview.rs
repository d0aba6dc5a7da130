//! Overview: one row per instance plus the total, with a sparkline of
//! requests per second (outages are gaps); below it, the details of the
//! selected row (every number, each dependency's health, and for a DOWN
//! instance the error and when it was last seen). A DOWN instance's numbers
//! are blanked from its row once older than three intervals (the details
//! keep them, marked STALE); the total counts UP instances only and turns
//! red when one is not. Columns that do not fit are left to the details.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Borders, Cell, Paragraph, Row, StatefulWidget, Table, TableState, Widget, Wrap,
};

use super::overview_detail::{detail_lines, route_lines};
use super::sparkline::sparkline;
use super::style;
use crate::app::{App, Status, Target};
use crate::format;
use crate::numbers::Reading;
use crate::thresholds::{Measure, Threshold};

pub struct OverviewPanel<'a>(pub &'a App);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Col {
    Instance,
    State,
    Rps,
    Errors,
    P50,
    P95,
    P99,
    Pool,
    Redis,
    Sessions,
    Rejections,
    Cpu,
    Memory,
    Uptime,
    Version,
    Spark,
}

/// Columns in display order: (column, title, width, priority; lower shows first).
const COLUMNS: &[(Col, &str, u16, u8)] = &[
    (Col::Instance, "instance", 15, 0),
    (Col::State, "state", 5, 0),
    (Col::Rps, "req/s", 6, 1),
    (Col::Errors, "5xx", 6, 1),
    (Col::P50, "p50", 7, 4),
    (Col::P95, "p95", 7, 1),
    (Col::P99, "p99", 7, 4),
    (Col::Pool, "db pool", 7, 2),
    (Col::Redis, "redis", 10, 5),
    (Col::Sessions, "sessions", 8, 5),
    (Col::Rejections, "429/s", 6, 6),
    (Col::Cpu, "cpu", 6, 2),
    (Col::Memory, "mem", 6, 2),
    (Col::Uptime, "uptime", 7, 7),
    (Col::Version, "version", 8, 7),
    (Col::Spark, "history", 10, 3),
];

/// The columns that fit in `width` (borders and spacing included).
fn fitting(width: u16) -> Vec<(Col, &'static str, u16)> {
    let mut by_priority: Vec<_> = COLUMNS.iter().collect();
    by_priority.sort_by_key(|c| c.3);
    let mut used: u16 = 2;
    let mut chosen = Vec::new();
    for (col, _, w, _) in by_priority {
        if used + w < width {
            used += w + 1;
            chosen.push(*col);
        }
    }
    COLUMNS
        .iter()
        .filter(|c| chosen.contains(&c.0))
        .map(|(col, title, w, _)| (*col, *title, *w))
        .collect()
}

fn threshold(app: &App, wanted: impl Fn(Measure) -> bool) -> Option<&Threshold> {
    app.alerts
        .thresholds
        .iter()
        .find(|t| t.measure.is_some_and(&wanted))
}

/// A value cell, red when the matching threshold's comparison holds.
fn judged(text: String, value: Option<f64>, threshold: Option<&Threshold>) -> Cell<'static> {
    let breached = matches!((value, threshold), (Some(v), Some(t)) if t.breached(v));
    Cell::from(text).style(style::breach(breached))
}

fn opt(value: Option<f64>, show: impl Fn(f64) -> String) -> String {
    value.map_or_else(|| format::NONE.to_string(), show)
}

struct RowData<'a> {
    name: String,
    status: Option<Status>,
    reading: Option<Reading>,
    history: Vec<f64>,
    target: Option<&'a Target>,
}

fn cells(
    app: &App,
    data: &RowData<'_>,
    cols: &[(Col, &str, u16)],
    spark_width: usize,
) -> Vec<Cell<'static>> {
    let r = data.reading.as_ref();
    let latency = |q: f64| r.and_then(|r| r.latency(q));
    let latency_threshold = |q: f64| threshold(app, |m| m == Measure::LatencyQuantile(q));
    cols.iter()
        .map(|(col, _, width)| match col {
            Col::Instance => Cell::from(format::truncate(&data.name, usize::from(*width))),
            Col::State => state_cell(data),
            Col::Rps => Cell::from(opt(r.and_then(Reading::requests_per_second), format::rate)),
            Col::Errors => {
                let v = r.and_then(Reading::error_ratio);
                judged(
                    opt(v, format::percent_short),
                    v,
                    threshold(app, |m| m == Measure::ErrorRatio),
                )
            }
            Col::P50 => judged(
                opt(latency(0.5), format::seconds),
                latency(0.5),
                latency_threshold(0.5),
            ),
            Col::P95 => judged(
                opt(latency(0.95), format::seconds),
                latency(0.95),
                latency_threshold(0.95),
            ),
            Col::P99 => judged(
                opt(latency(0.99), format::seconds),
                latency(0.99),
                latency_threshold(0.99),
            ),
            Col::Pool => {
                let totals = r.and_then(|r| r.gauges.pool_totals());
                let worst = r.and_then(|r| r.gauges.worst_pool_ratio());
                let text = opt(totals.map(|(used, _)| used), |used| {
                    format!(
                        "{}/{}",
                        format::count(used),
                        format::count(totals.map_or(0.0, |t| t.1))
                    )
                });
                judged(
                    text,
                    worst,
                    threshold(app, |m| m == Measure::DbPoolSaturation),
                )
            }
            Col::Redis => redis_cell(r),
            Col::Sessions => {
                let v = r.and_then(|r| r.gauges.sessions_active);
                judged(
                    opt(v, format::count),
                    v,
                    threshold(app, |m| m == Measure::Sessions),
                )
            }
            Col::Rejections => Cell::from(opt(
                r.and_then(Reading::rejections_per_second),
                format::rate,
            )),
            Col::Cpu => {
                let v = r.and_then(Reading::cpu_ratio);
                judged(
                    opt(v, format::percent_short),
                    v,
                    threshold(app, |m| m == Measure::Cpu),
                )
            }
            Col::Memory => {
                let v = r.and_then(Reading::memory_ratio);
                judged(
                    opt(v, format::percent_short),
                    v,
                    threshold(app, |m| m == Measure::Memory),
                )
            }
            Col::Uptime => Cell::from(
                r.and_then(Reading::uptime)
                    .map_or_else(|| format::NONE.to_string(), format::age),
            ),
            Col::Version => Cell::from(
                r.and_then(|r| r.gauges.version.clone())
                    .unwrap_or_else(|| format::NONE.into()),
            ),
            Col::Spark => Cell::from(sparkline(&data.history, spark_width)).style(style::ok()),
        })
        .collect()
}

fn state_cell(data: &RowData<'_>) -> Cell<'static> {
    match &data.status {
        None => Cell::from(""),
        Some(Status::Up) => Cell::from("UP").style(style::ok()),
        Some(Status::Waiting) => Cell::from("…").style(style::dim()),
        Some(Status::Stale { .. }) => Cell::from("STALE").style(style::warn()),
        Some(Status::Down { .. }) => Cell::from("DOWN").style(style::bad()),
    }
}

fn redis_cell(r: Option<&Reading>) -> Cell<'static> {
    let Some(r) = r else {
        return Cell::from(format::NONE);
    };
    match r.gauges.redis_up {
        Some(true) => Cell::from(format!(
            "up {}",
            opt(r.redis_latency_seconds(), format::seconds)
        )),
        Some(false) => Cell::from("DOWN").style(style::bad()),
        None => Cell::from(format::NONE),
    }
}

impl Widget for &OverviewPanel<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.0;
        let rows_needed = u16::try_from(app.targets.len() + 1).unwrap_or(u16::MAX);
        let table_height = (rows_needed + 3).min(area.height.saturating_sub(4).max(4));
        let [table_area, detail_area] =
            Layout::vertical([Constraint::Length(table_height), Constraint::Min(0)]).areas(area);
        let cols = fitting(area.width);
        let fixed: u16 = cols
            .iter()
            .filter(|c| c.0 != Col::Spark)
            .map(|c| c.2 + 1)
            .sum();
        let spark_width = usize::from(area.width.saturating_sub(fixed + 3)).max(1);
        let mut data: Vec<RowData<'_>> = app
            .targets
            .iter()
            .map(|t| {
                let status = t.status(app.now, app.config.interval);
                let blanked = matches!(status, Status::Down { .. })
                    && t.data_is_stale(app.now, app.config.interval);
                RowData {
                    name: t.name.clone(),
                    status: Some(status),
                    reading: if blanked { None } else { t.latest() },
                    history: t.history_rps.iter().copied().collect(),
                    target: Some(t),
                }
            })
            .collect();
        let up = app.up_count();
        let all_up = up == app.targets.len();
        data.push(RowData {
            name: format!("total {up}/{} up", app.targets.len()),
            status: None,
            reading: (up > 0).then(|| app.total()),
            history: app.total_history(),
            target: None,
        });
        let rows: Vec<Row<'_>> = data
            .iter()
            .map(|d| {
                let mut row_style = Style::new();
                if matches!(d.status, Some(Status::Down { .. } | Status::Stale { .. })) {
                    row_style = row_style.patch(style::stale());
                }
                let mut cells = cells(app, d, &cols, spark_width);
                if d.target.is_none() {
                    row_style = row_style.patch(style::title());
                    if !all_up && let Some(name) = cells.first_mut() {
                        *name = name.clone().style(style::bad());
                    }
                }
                Row::new(cells).style(row_style)
            })
            .collect();
        let widths: Vec<Constraint> = cols
            .iter()
            .map(|(col, _, w)| {
                if *col == Col::Spark {
                    Constraint::Fill(1)
                } else {
                    Constraint::Length(*w)
                }
            })
            .collect();
        let header = Row::new(cols.iter().map(|c| Cell::from(c.1))).style(style::title());
        let title = format!(" Instances · every {} ", format::age(app.config.interval));
        let mut state = TableState::default().with_selected(Some(app.overview_selected));
        let table = Table::new(rows, widths)
            .header(header)
            .block(Block::default().borders(Borders::ALL).title(title))
            .column_spacing(1)
            .row_highlight_style(style::selected());
        StatefulWidget::render(table, table_area, buf, &mut state);
        let selected = data.get(app.overview_selected).or(data.last());
        let lines: Vec<Line<'_>> = selected
            .map(|d| match d.target {
                Some(target) if app.show_routes => route_lines(app, target),
                // The details keep a DOWN instance's last numbers, marked STALE.
                _ => {
                    let reading = d.target.map_or_else(|| d.reading.clone(), Target::latest);
                    detail_lines(app, d.target, reading.as_ref())
                }
            })
            .unwrap_or_default();
        let name = selected.map_or(String::new(), |d| {
            if app.show_routes && d.target.is_some() {
                format!(" {} · per route, worst first ", d.name)
            } else {
                format!(" {} ", d.name)
            }
        });
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(Span::styled(name, Style::new())),
            )
            .render(detail_area, buf);
    }
}
