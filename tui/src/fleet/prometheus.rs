//! The Prometheus HTTP API, read only: instant queries (`/api/v1/query`)
//! and the alerts of its rule evaluation (`/api/v1/alerts`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::FleetError;
use crate::poller::describe;

const WHAT: &str = "Prometheus";

#[derive(Clone)]
pub struct PrometheusClient {
    http: reqwest::Client,
    base: String,
    timeout: Duration,
}

/// One sample of an instant vector: its labels and value.
pub type Sample = (BTreeMap<String, String>, f64);

/// An alert as Prometheus's rule evaluation has it (pending or firing).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromAlert {
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// `pending` or `firing`.
    pub state: String,
    #[serde(default)]
    pub active_at: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
}

impl PromAlert {
    pub fn name(&self) -> &str {
        self.labels.get("alertname").map_or("?", String::as_str)
    }

    pub fn instance(&self) -> &str {
        self.labels.get("instance").map_or("", String::as_str)
    }

    pub fn is_firing(&self) -> bool {
        self.state == "firing"
    }
}

#[derive(Deserialize)]
struct Envelope<T> {
    status: String,
    data: Option<T>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryData {
    result_type: String,
    result: Vec<VectorSample>,
}

#[derive(Deserialize)]
struct VectorSample {
    metric: BTreeMap<String, String>,
    value: (f64, String),
}

#[derive(Deserialize)]
struct AlertsData {
    alerts: Vec<PromAlert>,
}

impl PrometheusClient {
    pub fn new(http: reqwest::Client, base: &str, timeout: Duration) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            timeout,
        }
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, FleetError> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .query(query)
            .send()
            .await
            .map_err(|e| FleetError::Network {
                what: WHAT,
                detail: describe(&e, self.timeout),
            })?;
        let status = response.status().as_u16();
        let envelope: Envelope<T> = response.json().await.map_err(|e| FleetError::Decode {
            what: WHAT,
            detail: describe(&e, self.timeout),
        })?;
        if envelope.status != "success" {
            return Err(FleetError::Status {
                what: WHAT,
                status,
                detail: envelope.error.unwrap_or_else(|| envelope.status.clone()),
            });
        }
        envelope.data.ok_or(FleetError::Decode {
            what: WHAT,
            detail: "no data".into(),
        })
    }

    /// An instant query that yields a vector; NaN and infinite samples are dropped.
    ///
    /// # Errors
    /// Network, HTTP and PromQL errors; a result that is not a vector.
    pub async fn query(&self, promql: &str) -> Result<Vec<Sample>, FleetError> {
        let data: QueryData = self.get("/api/v1/query", &[("query", promql)]).await?;
        if data.result_type != "vector" {
            return Err(FleetError::Decode {
                what: WHAT,
                detail: format!("{promql}: a {} instead of a vector", data.result_type),
            });
        }
        Ok(data
            .result
            .into_iter()
            .filter_map(|s| {
                let value: f64 = s.value.1.parse().ok()?;
                value.is_finite().then_some((s.metric, value))
            })
            .collect())
    }

    /// Every pending and firing alert of Prometheus's rule evaluation.
    ///
    /// # Errors
    /// Network and HTTP errors.
    pub async fn alerts(&self) -> Result<Vec<PromAlert>, FleetError> {
        let data: AlertsData = self.get("/api/v1/alerts", &[]).await?;
        Ok(data.alerts)
    }
}
