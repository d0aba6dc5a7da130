//! Fleet mode's state: the latest look at the fleet from Prometheus (and
//! Alertmanager), the instance selected on the Overview and its per-route
//! breakdown, the alert selected on the Alerts screen, and the silence
//! being typed for it.

use std::collections::BTreeMap;

use crate::fleet::{FleetRoutes, FleetSnapshot};

#[derive(Debug, Clone, PartialEq, Default)]
pub struct FleetView {
    pub prometheus: String,
    pub alertmanager: Option<String>,
    pub snapshot: Option<FleetSnapshot>,
    /// The last query failed (the snapshot, if any, is older).
    pub error: Option<String>,
    pub selected_alert: usize,
    pub selected_instance: usize,
    /// The per-route breakdown last received (`b`), for the instance it
    /// names: only the selected instance's is kept.
    pub routes: Option<FleetRoutes>,
}

/// The duration being typed before silencing one alert (`S`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SilenceForm {
    /// The labels of the alert to silence.
    pub labels: BTreeMap<String, String>,
    /// A Prometheus duration (`2h`, `30m`).
    pub duration: String,
    pub error: Option<String>,
}

impl FleetView {
    pub fn new(prometheus: &str, alertmanager: Option<&str>) -> Self {
        Self {
            prometheus: prometheus.to_string(),
            alertmanager: alertmanager.map(ToString::to_string),
            ..Self::default()
        }
    }

    pub fn on_snapshot(&mut self, result: Result<Box<FleetSnapshot>, String>) {
        match result {
            Ok(snapshot) => {
                self.snapshot = Some(*snapshot);
                self.error = None;
            }
            Err(error) => self.error = Some(error),
        }
        let alerts = self.snapshot.as_ref().map_or(0, |s| s.alerts.len());
        self.selected_alert = self.selected_alert.min(alerts.saturating_sub(1));
        let instances = self.snapshot.as_ref().map_or(0, |s| s.instances.len());
        self.selected_instance = self.selected_instance.min(instances.saturating_sub(1));
    }

    /// The `instance` label of the selected instance.
    pub fn selected_instance_name(&self) -> Option<&str> {
        let snapshot = self.snapshot.as_ref()?;
        Some(
            snapshot
                .instances
                .get(self.selected_instance)?
                .name
                .as_str(),
        )
    }

    /// The per-route breakdown of the selected instance, if it came.
    pub fn selected_routes(&self) -> Option<&FleetRoutes> {
        let routes = self.routes.as_ref()?;
        (Some(routes.instance.as_str()) == self.selected_instance_name()).then_some(routes)
    }

    /// A breakdown arrived: kept when it is the selected instance's (an
    /// answer for an instance the operator moved away from is dropped).
    pub fn on_routes(&mut self, routes: FleetRoutes) {
        if Some(routes.instance.as_str()) == self.selected_instance_name() {
            self.routes = Some(routes);
        }
    }

    /// The labels of the selected alert, to silence it.
    pub fn selected_alert_labels(&self) -> Option<BTreeMap<String, String>> {
        let snapshot = self.snapshot.as_ref()?;
        Some(snapshot.alerts.get(self.selected_alert)?.labels.clone())
    }

    /// Instances that Prometheus cannot scrape (`up == 0`).
    pub fn down(&self) -> usize {
        self.snapshot.as_ref().map_or(0, FleetSnapshot::down)
    }

    pub fn instance_count(&self) -> usize {
        self.snapshot.as_ref().map_or(0, |s| s.instances.len())
    }

    pub fn alert_count(&self, state: &str) -> usize {
        self.snapshot.as_ref().map_or(0, |s| s.alert_count(state))
    }
}
