//! Fleet mode (`--prometheus URL`): the instances are whatever Prometheus
//! scrapes (`up{<selector>}`), so an autoscaled fleet finds itself; their
//! numbers come from PromQL over the same metrics; the alert states are
//! Prometheus's own rule evaluation (`/api/v1/alerts`), so the cockpit and
//! Alertmanager can never disagree. With `--alertmanager URL` the firing
//! alerts, their silences, and silencing one for a chosen duration. `b`
//! asks for the per-route breakdown of the selected instance.

pub mod alertmanager;
pub mod prometheus;
pub mod queries;
pub mod report;
pub mod routes;
pub mod snapshot;
pub mod watch;

pub use alertmanager::{AlertmanagerClient, AmAlert, Silence};
pub use prometheus::{PromAlert, PrometheusClient};
pub use queries::{FleetQueries, RouteQueries};
pub use routes::{FleetRoutes, fetch_routes};
pub use snapshot::{FleetInstance, FleetSnapshot, fetch_snapshot};
pub use watch::FleetSources;

/// Why a fleet query failed, in words for the operator.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FleetError {
    #[error("cannot reach {what}: {detail}")]
    Network { what: &'static str, detail: String },
    #[error("{what} answered HTTP {status}: {detail}")]
    Status {
        what: &'static str,
        status: u16,
        detail: String,
    },
    #[error("unexpected answer from {what}: {detail}")]
    Decode { what: &'static str, detail: String },
}
