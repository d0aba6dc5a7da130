//! The fleet task: one look at the fleet every interval (or at once when
//! `poll_now` is notified), sent as [`Event::Fleet`]; the per-route
//! breakdown of one instance, when asked; and silencing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc};

use super::alertmanager::AlertmanagerClient;
use super::prometheus::PrometheusClient;
use super::queries::FleetQueries;
use super::routes::fetch_routes;
use super::snapshot::fetch_snapshot;
use crate::event::Event;

/// Where the fleet is read from.
#[derive(Clone)]
pub struct FleetSources {
    pub prometheus: PrometheusClient,
    pub alertmanager: Option<AlertmanagerClient>,
    pub queries: FleetQueries,
}

impl FleetSources {
    /// Asks until the receiver is gone.
    pub async fn watch(
        self,
        interval: Duration,
        events: mpsc::Sender<Event>,
        poll_now: Arc<Notify>,
    ) {
        loop {
            let result =
                fetch_snapshot(&self.prometheus, self.alertmanager.as_ref(), &self.queries)
                    .await
                    .map(Box::new)
                    .map_err(|e| e.to_string());
            if let Err(error) = &result {
                tracing::warn!(error = %error, "fleet query failed");
            }
            if events.send(Event::Fleet(result)).await.is_err() {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = poll_now.notified() => {}
            }
        }
    }

    /// The per-route breakdown of `instance`, as an event.
    pub async fn routes(&self, instance: String) -> Event {
        let result = fetch_routes(&self.prometheus, &self.queries, &instance)
            .await
            .map_err(|e| e.to_string());
        if let Err(error) = &result {
            tracing::warn!(error = %error, "per-route query failed");
        }
        Event::FleetRoutes(Box::new(super::FleetRoutes {
            instance,
            at: std::time::SystemTime::now(),
            result,
        }))
    }

    /// Silences one alert; the answer as an event. Logged (the cockpit's
    /// audit trail of silences): who asked is the operator at this terminal.
    pub async fn silence(&self, labels: BTreeMap<String, String>, duration: Duration) -> Event {
        let Some(alertmanager) = &self.alertmanager else {
            return Event::Silenced(Err("no --alertmanager".into()));
        };
        let who = std::env::var("USER").unwrap_or_else(|_| "operator".into());
        let created_by = format!("tenk-tui ({who})");
        let comment = format!(
            "silenced from tenk-tui for {}",
            crate::thresholds::format_duration(duration)
        );
        let result = alertmanager
            .silence(&labels, duration, &created_by, &comment)
            .await
            .map_err(|e| e.to_string());
        tracing::info!(
            alertname = labels.get("alertname").map_or("", String::as_str),
            instance = labels.get("instance").map_or("", String::as_str),
            seconds = duration.as_secs(),
            ok = result.is_ok(),
            silence = result.as_deref().unwrap_or(""),
            "silence created"
        );
        Event::Silenced(result)
    }
}
