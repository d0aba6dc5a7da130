//! The details of the instance (or total) selected on the Overview: every
//! number, the health of each dependency from `/api/health/detailed`, and,
//! when the instance does not answer, why and since when; its last numbers
//! and health are then dimmed, and marked STALE once older than three
//! intervals.

use contract::health::DetailedHealth;
use ratatui::text::{Line, Span};

use super::style;
use crate::app::{App, Status, Target};
use crate::format;
use crate::numbers::{Reading, RouteStats};

fn opt(value: Option<f64>, show: impl Fn(f64) -> String) -> String {
    value.map_or_else(|| format::NONE.to_string(), show)
}

pub fn detail_lines(
    app: &App,
    target: Option<&Target>,
    reading: Option<&Reading>,
) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    if let Some(target) = target {
        lines.extend(status_lines(app, target));
    }
    let Some(r) = reading else {
        lines.push(Line::styled("no numbers yet", style::dim()));
        return lines;
    };
    let current = target.is_none_or(|t| t.is_current(app.now, app.config.interval));
    let first_number_line = lines.len();
    lines.push(Line::from(format!(
        "requests {}/s · 5xx {} · latency p50 {} p95 {} p99 {}",
        opt(r.requests_per_second(), format::rate),
        opt(r.error_ratio(), |v| format::percent_digits(v, 2)),
        opt(r.latency(0.5), format::seconds),
        opt(r.latency(0.95), format::seconds),
        opt(r.latency(0.99), format::seconds),
    )));
    let pools: Vec<String> = r
        .gauges
        .pools
        .iter()
        .map(|p| {
            format!(
                "{} {}/{}",
                p.name,
                format::count(p.in_use),
                format::count(p.max)
            )
        })
        .collect();
    let redis = match r.gauges.redis_up {
        Some(true) => format!("up {}", opt(r.redis_latency_seconds(), format::seconds)),
        Some(false) => "DOWN".into(),
        None => format::NONE.into(),
    };
    lines.push(Line::from(format!(
        "db pool {} · redis {redis} · sessions {} · rate-limited {}/s",
        if pools.is_empty() {
            format::NONE.to_string()
        } else {
            pools.join(", ")
        },
        opt(r.gauges.sessions_active, format::count),
        opt(r.rejections_per_second(), format::rate),
    )));
    lines.push(Line::from(format!(
        "cpu {} of {} cores · memory {} of {} ({}) · uptime {} · version {}",
        opt(r.cpu_ratio(), |v| format::percent_digits(v, 1)),
        opt(r.gauges.cpu_cores, |c| format!("{c}")),
        opt(r.gauges.resident_memory_bytes, format::bytes),
        opt(r.gauges.memory_limit_bytes, format::bytes),
        opt(r.memory_ratio(), |v| format::percent_digits(v, 1)),
        r.uptime()
            .map_or_else(|| format::NONE.to_string(), format::age),
        r.gauges
            .version
            .clone()
            .unwrap_or_else(|| format::NONE.into()),
    )));
    if let Some(target) = target {
        let stale = target.data_is_stale(app.now, app.config.interval);
        lines.extend(health_lines(target, current, stale));
    }
    if !current {
        for line in &mut lines[first_number_line..] {
            *line = std::mem::take(line).patch_style(style::stale());
        }
    }
    lines
}

fn status_lines(app: &App, target: &Target) -> Vec<Line<'static>> {
    let seen = |at: std::time::SystemTime| {
        let ago = app.now.duration_since(at).unwrap_or_default();
        format!("{} ({} ago)", format::clock(at), format::age(ago))
    };
    match target.status(app.now, app.config.interval) {
        Status::Waiting => vec![Line::styled(
            format!("{} · waiting for the first answer", target.url),
            style::dim(),
        )],
        Status::Up => vec![Line::from(vec![
            Span::styled("UP", style::ok()),
            Span::raw(format!(
                " · {} · scraped {}",
                target.url,
                target.last_seen.map_or(String::new(), seen)
            )),
        ])],
        Status::Stale { age } => vec![Line::from(vec![
            Span::styled("STALE", style::warn()),
            Span::raw(format!(
                " · no answer for {} · numbers are from {}",
                format::age(age),
                target.last_seen.map_or(String::new(), seen)
            )),
        ])],
        Status::Down {
            error,
            last_seen,
            retry_in,
        } => {
            let attempts = match target.failure.as_ref().map_or(1, |f| f.attempts) {
                1 => "1 try".to_string(),
                n => format!("{n} tries"),
            };
            let since = target
                .failure
                .as_ref()
                .map_or(String::new(), |f| format::clock(f.since));
            vec![
                Line::from(vec![
                    Span::styled("DOWN", style::bad()),
                    Span::raw(format!(" since {since} ({attempts}): ")),
                    Span::styled(error, style::bad()),
                ]),
                match last_seen {
                    Some(at) if target.data_is_stale(app.now, app.config.interval) => {
                        Line::from(vec![
                            Span::styled("STALE", style::warn()),
                            Span::raw(format!(
                                " numbers below, from the last answer {} · retry in {}",
                                seen(at),
                                format::age(retry_in)
                            )),
                        ])
                    }
                    Some(at) => Line::from(format!(
                        "last seen {} · retry in {} · numbers below are from the last answer",
                        seen(at),
                        format::age(retry_in)
                    )),
                    None => Line::from(format!(
                        "never answered · retry in {}",
                        format::age(retry_in)
                    )),
                },
            ]
        }
    }
}

fn mark(up: bool) -> Span<'static> {
    if up {
        Span::styled("✓", style::ok())
    } else {
        Span::styled("✗", style::bad())
    }
}

/// The health report; when the instance is not UP, it is the last one
/// received, and says so.
fn health_lines(target: &Target, current: bool, stale: bool) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    if !current && (target.health.is_some() || target.health_error.is_some()) {
        let what = if stale {
            "STALE health"
        } else {
            "last health report"
        };
        lines.push(Line::from(format!(
            "{what}, as of {}:",
            target.last_seen.map_or_else(String::new, format::clock)
        )));
    }
    if let Some(error) = &target.health_error {
        lines.push(Line::styled(format!("health: {error}"), style::warn()));
    }
    let Some(health) = &target.health else {
        return lines;
    };
    lines.push(dependency_line(health));
    lines
}

fn dependency_line(health: &DetailedHealth) -> Line<'static> {
    let overall = if health.status == "ok" {
        style::ok()
    } else {
        style::bad()
    };
    let mut spans = vec![
        Span::raw("health "),
        Span::styled(health.status.clone(), overall),
        Span::raw(":"),
    ];
    let mut pool = |name: String, up: bool, latency: f64, error: &Option<String>| {
        spans.push(Span::raw(format!(" {name} ")));
        spans.push(mark(up));
        spans.push(Span::raw(format!(" {}", format::seconds(latency / 1000.0))));
        if let Some(error) = error {
            spans.push(Span::styled(format!(" ({error})"), style::bad()));
        }
    };
    let db = &health.database.primary;
    pool("database".into(), db.up, db.latency_ms, &db.error);
    for replica in &health.database.replicas {
        pool(
            replica.name.clone(),
            replica.up,
            replica.latency_ms,
            &replica.error,
        );
    }
    let redis = &health.redis;
    pool("redis".into(), redis.up, redis.latency_ms, &redis.error);
    if health.readiness.draining {
        spans.push(Span::styled(" draining", style::warn()));
    }
    Line::from(spans)
}

/// The per-route breakdown of one instance (`b`): req/s, 5xx and p95 per
/// route template, worst first; dimmed when the instance is not UP.
pub fn route_lines(app: &App, target: &Target) -> Vec<Line<'static>> {
    route_table(
        &target.routes(),
        target.is_current(app.now, app.config.interval),
        "no requests between the last two scrapes",
    )
}

/// The per-route table, in direct and fleet mode alike: `routes` as sorted
/// (worst first), dimmed unless `current`; `empty` says why there is none.
pub fn route_table(routes: &[RouteStats], current: bool, empty: &str) -> Vec<Line<'static>> {
    if routes.is_empty() {
        return vec![Line::styled(empty.to_string(), style::dim())];
    }
    let mut lines = vec![Line::styled(
        format!(
            "{:<7} {:<34} {:>8} {:>7} {:>9}",
            "method", "route", "req/s", "5xx", "p95"
        ),
        style::title(),
    )];
    for r in routes {
        let line = Line::from(format!(
            "{:<7} {:<34} {:>8} {:>7} {:>9}",
            r.method,
            format::truncate(&r.route, 34),
            format::rate(r.requests_per_second),
            opt(r.error_ratio, format::percent_short),
            opt(r.p95, format::seconds),
        ));
        lines.push(if current {
            line
        } else {
            line.patch_style(style::stale())
        });
    }
    lines
}
