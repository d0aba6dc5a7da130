//! One look at the fleet: every instance Prometheus scrapes with its
//! numbers, the alerts of Prometheus's rule evaluation, and (with an
//! Alertmanager) its alerts and silences.

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::FleetError;
use super::alertmanager::{AlertmanagerClient, AmAlert, Silence};
use super::prometheus::{PromAlert, PrometheusClient, Sample};
use super::queries::FleetQueries;

/// One instance as Prometheus sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetInstance {
    /// The `instance` label (`host:port`, or a pod's address).
    pub name: String,
    /// `up` is 1: the last scrape worked.
    pub up: bool,
    pub requests_per_second: Option<f64>,
    pub error_ratio: Option<f64>,
    pub p95: Option<f64>,
    pub cpu_ratio: Option<f64>,
    pub memory_ratio: Option<f64>,
}

/// What Alertmanager holds: its alerts and its active or pending silences.
pub type AlertmanagerView = (Vec<AmAlert>, Vec<Silence>);

#[derive(Debug, Clone, PartialEq)]
pub struct FleetSnapshot {
    pub at: SystemTime,
    /// Sorted by name.
    pub instances: Vec<FleetInstance>,
    /// Pending and firing, as Prometheus evaluates them.
    pub alerts: Vec<PromAlert>,
    /// Alertmanager's alerts and silences, when one is given; its error
    /// does not hide what Prometheus said.
    pub alertmanager: Option<Result<AlertmanagerView, String>>,
}

impl FleetSnapshot {
    pub fn down(&self) -> usize {
        self.instances.iter().filter(|i| !i.up).count()
    }

    /// Distinct alert names in `state` (`firing` or `pending`).
    pub fn alert_count(&self, state: &str) -> usize {
        let mut names: Vec<&str> = self
            .alerts
            .iter()
            .filter(|a| a.state == state)
            .map(PromAlert::name)
            .collect();
        names.sort_unstable();
        names.dedup();
        names.len()
    }
}

fn by_instance(samples: Vec<Sample>) -> BTreeMap<String, f64> {
    samples
        .into_iter()
        .filter_map(|(labels, value)| Some((labels.get("instance")?.clone(), value)))
        .collect()
}

/// Queries Prometheus (and Alertmanager) once.
///
/// # Errors
/// When Prometheus does not answer the `up` query or its alerts.
pub async fn fetch_snapshot(
    prometheus: &PrometheusClient,
    alertmanager: Option<&AlertmanagerClient>,
    queries: &FleetQueries,
) -> Result<FleetSnapshot, FleetError> {
    let (up, rps, errors, p95, cpu, memory, alerts) = tokio::join!(
        prometheus.query(&queries.up),
        prometheus.query(&queries.requests_per_second),
        prometheus.query(&queries.error_ratio),
        prometheus.query(&queries.p95),
        prometheus.query(&queries.cpu_ratio),
        prometheus.query(&queries.memory_ratio),
        prometheus.alerts(),
    );
    let up = by_instance(up?);
    let numbers = |result: Result<Vec<Sample>, FleetError>| by_instance(result.unwrap_or_default());
    let (rps, errors, p95, cpu, memory) = (
        numbers(rps),
        numbers(errors),
        numbers(p95),
        numbers(cpu),
        numbers(memory),
    );
    let instances = up
        .iter()
        .map(|(name, value)| FleetInstance {
            name: name.clone(),
            up: *value >= 1.0,
            requests_per_second: rps.get(name).copied(),
            error_ratio: errors.get(name).copied(),
            p95: p95.get(name).copied(),
            cpu_ratio: cpu.get(name).copied(),
            memory_ratio: memory.get(name).copied(),
        })
        .collect();
    let alertmanager = match alertmanager {
        None => None,
        Some(am) => {
            let (alerts, silences) = tokio::join!(am.alerts(), am.silences());
            Some(match (alerts, silences) {
                (Ok(alerts), Ok(silences)) => Ok((alerts, silences)),
                (Err(error), _) | (_, Err(error)) => Err(error.to_string()),
            })
        }
    };
    Ok(FleetSnapshot {
        at: SystemTime::now(),
        instances,
        alerts: alerts?,
        alertmanager,
    })
}
