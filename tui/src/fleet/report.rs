//! What `--once --prometheus URL` prints: every discovered instance with its
//! PromQL numbers, every alert of Prometheus's rule evaluation, and
//! Alertmanager's silences (JSON or text); and its exit code.

use serde::Serialize;

use super::snapshot::FleetSnapshot;
use crate::cli::exit;
use crate::format;

#[derive(Debug, Serialize)]
pub struct FleetReport {
    pub prometheus: String,
    pub instances: Vec<InstanceReport>,
    pub alerts: Vec<AlertReport>,
    pub silences: Vec<SilenceReport>,
    pub alertmanager_error: Option<String>,
    pub firing: usize,
    pub pending: usize,
    pub down: usize,
}

#[derive(Debug, Serialize)]
pub struct InstanceReport {
    pub instance: String,
    pub up: bool,
    pub requests_per_second: Option<f64>,
    pub error_ratio: Option<f64>,
    pub p95_seconds: Option<f64>,
    pub cpu_ratio: Option<f64>,
    pub memory_ratio: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct AlertReport {
    pub alert: String,
    pub instance: String,
    pub state: String,
    pub active_at: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SilenceReport {
    pub id: String,
    pub matchers: String,
    pub ends_at: String,
    pub created_by: String,
}

impl FleetReport {
    pub fn of(prometheus: &str, snapshot: &FleetSnapshot) -> Self {
        let (silences, alertmanager_error) = match &snapshot.alertmanager {
            Some(Ok((_, silences))) => (
                silences
                    .iter()
                    .map(|s| SilenceReport {
                        id: s.id.clone(),
                        matchers: s.matchers_text(),
                        ends_at: s.ends_at.clone(),
                        created_by: s.created_by.clone(),
                    })
                    .collect(),
                None,
            ),
            Some(Err(error)) => (Vec::new(), Some(error.clone())),
            None => (Vec::new(), None),
        };
        Self {
            prometheus: prometheus.to_string(),
            instances: snapshot
                .instances
                .iter()
                .map(|i| InstanceReport {
                    instance: i.name.clone(),
                    up: i.up,
                    requests_per_second: i.requests_per_second,
                    error_ratio: i.error_ratio,
                    p95_seconds: i.p95,
                    cpu_ratio: i.cpu_ratio,
                    memory_ratio: i.memory_ratio,
                })
                .collect(),
            alerts: snapshot
                .alerts
                .iter()
                .map(|a| AlertReport {
                    alert: a.name().to_string(),
                    instance: a.instance().to_string(),
                    state: a.state.clone(),
                    active_at: a.active_at.clone(),
                })
                .collect(),
            silences,
            alertmanager_error,
            firing: snapshot.alert_count("firing"),
            pending: snapshot.alert_count("pending"),
            down: snapshot.down(),
        }
    }

    /// 2 when an instance is down or an alert is pending or firing; 2 as
    /// well when Prometheus found no instance at all (nothing to vouch for).
    pub fn exit_code(&self) -> u8 {
        if self.down + self.firing + self.pending > 0 || self.instances.is_empty() {
            exit::ATTENTION
        } else {
            exit::OK
        }
    }

    pub fn to_text(&self) -> String {
        let opt = |v: Option<f64>, show: fn(f64) -> String| {
            v.map_or_else(|| format::NONE.to_string(), show)
        };
        let total = self.instances.len();
        let mut out = format!(
            "{}/{total} up · {} firing · {} pending (from {})\n",
            total - self.down,
            self.firing,
            self.pending,
            self.prometheus
        );
        for i in &self.instances {
            out.push_str(&format!(
                "{:<24} {:<5} req/s {:>7}  5xx {:>7}  p95 {:>8}  cpu {:>6}  mem {:>6}\n",
                i.instance,
                if i.up { "UP" } else { "DOWN" },
                opt(i.requests_per_second, format::rate),
                opt(i.error_ratio, format::percent_short),
                opt(i.p95_seconds, format::seconds),
                opt(i.cpu_ratio, format::percent_short),
                opt(i.memory_ratio, format::percent_short),
            ));
        }
        for a in &self.alerts {
            out.push_str(&format!(
                "{:<24} {:<24} {}\n",
                a.alert,
                a.instance,
                a.state.to_uppercase()
            ));
        }
        for s in &self.silences {
            out.push_str(&format!(
                "silenced {} until {} by {}\n",
                s.matchers, s.ends_at, s.created_by
            ));
        }
        out
    }
}
