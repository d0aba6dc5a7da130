//! What `--once` prints: every number per instance and in total, each
//! instance's health, and every alert's state, built from the same
//! [`App`] state the screens show (as JSON, or as text).

use std::time::SystemTime;

use contract::health::DetailedHealth;
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::app::{App, Status};
use crate::cli::exit;
use crate::format;
use crate::numbers::Reading;
use crate::thresholds::{AlertState, Unit};

#[derive(Debug, Serialize)]
pub struct Report {
    pub generated_at: String,
    pub interval_seconds: f64,
    pub targets: Vec<TargetReport>,
    pub total: Numbers,
    pub alerts: Vec<AlertReport>,
    pub firing: usize,
    pub pending: usize,
    pub down: usize,
}

#[derive(Debug, Serialize)]
pub struct TargetReport {
    pub url: String,
    pub instance: String,
    pub up: bool,
    /// `up`, `down`, `stale` or `waiting`.
    pub status: &'static str,
    pub error: Option<String>,
    pub last_seen: Option<String>,
    pub numbers: Option<Numbers>,
    pub health: Option<DetailedHealth>,
    pub health_error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Latency {
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct PoolReport {
    pub name: String,
    pub in_use: f64,
    pub max: f64,
}

#[derive(Debug, Serialize)]
pub struct Numbers {
    pub requests_per_second: Option<f64>,
    pub error_ratio: Option<f64>,
    pub latency_seconds: Latency,
    pub db_pools: Vec<PoolReport>,
    pub db_pool_in_use: Option<f64>,
    pub db_pool_max: Option<f64>,
    pub redis_up: Option<bool>,
    pub redis_latency_seconds: Option<f64>,
    pub sessions_active: Option<f64>,
    pub rate_limit_rejections_per_second: Option<f64>,
    pub cpu_ratio: Option<f64>,
    pub cpu_cores: Option<f64>,
    pub memory_ratio: Option<f64>,
    pub resident_memory_bytes: Option<f64>,
    pub memory_limit_bytes: Option<f64>,
    pub uptime_seconds: Option<f64>,
    pub version: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AlertReport {
    pub name: String,
    pub alert: String,
    /// The instance (`host:port`, with the pool for DB pools), or `cluster`.
    pub series: Option<String>,
    pub value: Option<f64>,
    pub op: &'static str,
    pub threshold: f64,
    pub unit: &'static str,
    pub for_seconds: u64,
    pub state: AlertState,
    pub since: Option<String>,
    pub active_since: Option<String>,
    pub severity: String,
    pub action: String,
}

fn rfc3339(at: SystemTime) -> String {
    OffsetDateTime::from(at)
        .format(&Rfc3339)
        .unwrap_or_default()
}

fn unit_name(unit: Unit) -> &'static str {
    match unit {
        Unit::Seconds => "seconds",
        Unit::Ratio => "ratio",
        Unit::Count => "count",
    }
}

impl Numbers {
    pub fn of(r: &Reading) -> Self {
        let totals = r.gauges.pool_totals();
        Self {
            requests_per_second: r.requests_per_second(),
            error_ratio: r.error_ratio(),
            latency_seconds: Latency {
                p50: r.latency(0.5),
                p95: r.latency(0.95),
                p99: r.latency(0.99),
            },
            db_pools: r
                .gauges
                .pools
                .iter()
                .map(|p| PoolReport {
                    name: p.name.clone(),
                    in_use: p.in_use,
                    max: p.max,
                })
                .collect(),
            db_pool_in_use: totals.map(|t| t.0),
            db_pool_max: totals.map(|t| t.1),
            redis_up: r.gauges.redis_up,
            redis_latency_seconds: r.redis_latency_seconds(),
            sessions_active: r.gauges.sessions_active,
            rate_limit_rejections_per_second: r.rejections_per_second(),
            cpu_ratio: r.cpu_ratio(),
            cpu_cores: r.gauges.cpu_cores,
            memory_ratio: r.memory_ratio(),
            resident_memory_bytes: r.gauges.resident_memory_bytes,
            memory_limit_bytes: r.gauges.memory_limit_bytes,
            uptime_seconds: r.gauges.uptime_seconds(),
            version: r.gauges.version.clone(),
        }
    }
}

impl Report {
    pub fn of(app: &App) -> Self {
        let targets: Vec<TargetReport> = app
            .targets
            .iter()
            .map(|t| {
                let status = t.status(app.now, app.config.interval);
                let (word, error) = match &status {
                    Status::Up => ("up", None),
                    Status::Waiting => ("waiting", None),
                    Status::Stale { .. } => ("stale", None),
                    Status::Down { error, .. } => ("down", Some(error.clone())),
                };
                TargetReport {
                    url: t.url.clone(),
                    instance: t.name.clone(),
                    up: t.is_answering(),
                    status: word,
                    error,
                    last_seen: t.last_seen.map(rfc3339),
                    numbers: t.latest().as_ref().map(Numbers::of),
                    health: t.health.clone(),
                    health_error: t.health_error.clone(),
                }
            })
            .collect();
        let mut alerts = Vec::new();
        for row in app.alerts.rows() {
            let t = row.threshold;
            let base = |series: Option<&str>, state: Option<&crate::thresholds::SeriesState>| {
                AlertReport {
                    name: t.name.clone(),
                    alert: t.alert.clone(),
                    series: series.map(ToString::to_string),
                    value: state.and_then(|s| s.value),
                    op: t.op.as_str(),
                    threshold: t.value,
                    unit: unit_name(t.unit),
                    for_seconds: t.hold.as_secs(),
                    state: state.map_or(AlertState::Ok, |s| s.state),
                    since: state.map(|s| rfc3339(s.since)),
                    active_since: state.and_then(|s| s.active_at).map(rfc3339),
                    severity: t.severity.clone(),
                    action: t.action.clone(),
                }
            };
            if row.series.is_empty() {
                alerts.push(base(None, None));
            }
            for (series, state) in &row.series {
                alerts.push(base(Some(series), Some(state)));
            }
        }
        let count = |state| {
            alerts
                .iter()
                .filter(|a: &&AlertReport| a.state == state)
                .count()
        };
        Self {
            generated_at: rfc3339(app.now),
            interval_seconds: app.config.interval.as_secs_f64(),
            total: Numbers::of(&app.total()),
            firing: count(AlertState::Firing),
            pending: count(AlertState::Pending),
            down: targets.iter().filter(|t| !t.up).count(),
            targets,
            alerts,
        }
    }

    /// Whether a script should look: an alert pending or firing, or an
    /// instance that does not answer. `--once` then exits with 2.
    pub fn needs_attention(&self) -> bool {
        self.firing + self.pending + self.down > 0
    }

    /// The exit code of `--once`: [`exit::ATTENTION`] when a script should
    /// look, else [`exit::OK`].
    pub fn exit_code(&self) -> u8 {
        if self.needs_attention() {
            exit::ATTENTION
        } else {
            exit::OK
        }
    }

    /// The report as text, one line per instance and per alert.
    pub fn to_text(&self) -> String {
        let opt = |v: Option<f64>, show: fn(f64) -> String| {
            v.map_or_else(|| format::NONE.to_string(), show)
        };
        let line = |name: &str, status: &str, n: &Numbers| {
            format!(
                "{name:<22} {status:<7} req/s {:>7}  5xx {:>7}  p95 {:>8}  pool {:>7}  cpu {:>6}  mem {:>6}  sessions {}",
                opt(n.requests_per_second, format::rate),
                opt(n.error_ratio, format::percent_short),
                opt(n.latency_seconds.p95, format::seconds),
                opt(n.db_pool_in_use, format::count) + "/" + &opt(n.db_pool_max, format::count),
                opt(n.cpu_ratio, format::percent_short),
                opt(n.memory_ratio, format::percent_short),
                opt(n.sessions_active, format::count),
            )
        };
        let mut out = self.summary() + "\n";
        for t in &self.targets {
            match (&t.numbers, &t.error) {
                (_, Some(error)) => out.push_str(&format!("{:<22} DOWN    {error}\n", t.instance)),
                (Some(n), None) => {
                    out.push_str(&(line(&t.instance, &t.status.to_uppercase(), n) + "\n"))
                }
                (None, None) => out.push_str(&format!("{:<22} {}\n", t.instance, t.status)),
            }
        }
        out.push_str(&(line("total", "", &self.total) + "\n\n"));
        for a in &self.alerts {
            out.push_str(&format!(
                "{:<16} {:<24} {:<8} value {} {} {}  → {}\n",
                a.name,
                a.series.as_deref().unwrap_or("-"),
                a.state_label(),
                a.value
                    .map_or_else(|| "none".to_string(), |v| format!("{v:.4}")),
                a.op,
                a.threshold,
                a.action
            ));
        }
        out
    }
}

impl Report {
    /// The first line of the text report: `1/3 DOWN · 1 pending · 0 firing`,
    /// or `3/3 up · alerts ok`.
    pub fn summary(&self) -> String {
        let total = self.targets.len();
        let availability = if self.down == 0 {
            format!("{total}/{total} up")
        } else {
            format!("{}/{total} DOWN", self.down)
        };
        if self.firing + self.pending == 0 && self.down == 0 {
            format!("{availability} · alerts ok")
        } else {
            format!(
                "{availability} · {} firing · {} pending",
                self.firing, self.pending
            )
        }
    }
}

impl AlertReport {
    fn state_label(&self) -> &'static str {
        self.state.label()
    }
}
