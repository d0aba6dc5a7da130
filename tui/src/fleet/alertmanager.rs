//! The Alertmanager v2 API: its alerts (with what silences them), its
//! silences, and a new silence for one alert (matching its name and
//! instance) for a chosen duration.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::FleetError;
use crate::poller::describe;

const WHAT: &str = "Alertmanager";

#[derive(Clone)]
pub struct AlertmanagerClient {
    http: reqwest::Client,
    base: String,
    timeout: Duration,
}

/// An alert Alertmanager holds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AmAlert {
    pub labels: BTreeMap<String, String>,
    pub status: AmAlertStatus,
    #[serde(default)]
    pub starts_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AmAlertStatus {
    /// `active`, `suppressed` or `unprocessed`.
    pub state: String,
    #[serde(default)]
    pub silenced_by: Vec<String>,
}

impl AmAlert {
    pub fn name(&self) -> &str {
        self.labels.get("alertname").map_or("?", String::as_str)
    }

    pub fn instance(&self) -> &str {
        self.labels.get("instance").map_or("", String::as_str)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Matcher {
    pub name: String,
    pub value: String,
    pub is_regex: bool,
    #[serde(default = "yes")]
    pub is_equal: bool,
}

fn yes() -> bool {
    true
}

/// A silence as Alertmanager lists it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Silence {
    pub id: String,
    pub matchers: Vec<Matcher>,
    pub starts_at: String,
    pub ends_at: String,
    pub created_by: String,
    pub comment: String,
    pub status: SilenceStatus,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SilenceStatus {
    /// `active`, `pending` or `expired`.
    pub state: String,
}

impl Silence {
    /// `alertname="X", instance="Y"`.
    pub fn matchers_text(&self) -> String {
        self.matchers
            .iter()
            .map(|m| {
                let op = match (m.is_equal, m.is_regex) {
                    (true, false) => "=",
                    (false, false) => "!=",
                    (true, true) => "=~",
                    (false, true) => "!~",
                };
                format!("{}{op}{:?}", m.name, m.value)
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NewSilence<'a> {
    matchers: Vec<Matcher>,
    starts_at: String,
    ends_at: String,
    created_by: &'a str,
    comment: &'a str,
}

/// The answer to a new silence: `{"silenceID": "..."}` (that spelling).
#[derive(Deserialize)]
struct Created {
    #[serde(rename = "silenceID")]
    silence_id: String,
}

fn rfc3339(at: SystemTime) -> String {
    OffsetDateTime::from(at)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// The matchers that silence exactly this alert: its name, and its
/// instance when it has one.
pub fn matchers_for(labels: &BTreeMap<String, String>) -> Vec<Matcher> {
    ["alertname", "instance"]
        .iter()
        .filter_map(|name| {
            Some(Matcher {
                name: (*name).to_string(),
                value: labels.get(*name)?.clone(),
                is_regex: false,
                is_equal: true,
            })
        })
        .collect()
}

impl AlertmanagerClient {
    pub fn new(http: reqwest::Client, base: &str, timeout: Duration) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            timeout,
        }
    }

    async fn decode<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, FleetError> {
        let response = request.send().await.map_err(|e| FleetError::Network {
            what: WHAT,
            detail: describe(&e, self.timeout),
        })?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let detail = response.text().await.unwrap_or_default();
            return Err(FleetError::Status {
                what: WHAT,
                status,
                detail: detail.trim().chars().take(200).collect(),
            });
        }
        response.json().await.map_err(|e| FleetError::Decode {
            what: WHAT,
            detail: describe(&e, self.timeout),
        })
    }

    /// Every alert Alertmanager holds, silenced ones included.
    ///
    /// # Errors
    /// Network, HTTP and decoding errors.
    pub async fn alerts(&self) -> Result<Vec<AmAlert>, FleetError> {
        let request = self
            .http
            .get(format!("{}/api/v2/alerts", self.base))
            .query(&[
                ("silenced", "true"),
                ("inhibited", "true"),
                ("active", "true"),
            ]);
        self.decode(request).await
    }

    /// The silences that are active or pending (expired ones are left out).
    ///
    /// # Errors
    /// Network, HTTP and decoding errors.
    pub async fn silences(&self) -> Result<Vec<Silence>, FleetError> {
        let request = self.http.get(format!("{}/api/v2/silences", self.base));
        let all: Vec<Silence> = self.decode(request).await?;
        Ok(all
            .into_iter()
            .filter(|s| s.status.state != "expired")
            .collect())
    }

    /// Silences the alert with these labels for `duration` from now; the
    /// new silence's id.
    ///
    /// # Errors
    /// Network, HTTP and decoding errors.
    pub async fn silence(
        &self,
        labels: &BTreeMap<String, String>,
        duration: Duration,
        created_by: &str,
        comment: &str,
    ) -> Result<String, FleetError> {
        let now = SystemTime::now();
        let body = NewSilence {
            matchers: matchers_for(labels),
            starts_at: rfc3339(now),
            ends_at: rfc3339(now + duration),
            created_by,
            comment,
        };
        let request = self
            .http
            .post(format!("{}/api/v2/silences", self.base))
            .json(&body);
        let created: Created = self.decode(request).await?;
        Ok(created.silence_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silence_matches_the_alert_name_and_instance_exactly() {
        let labels: BTreeMap<String, String> = [
            ("alertname", "TenkHighLatency"),
            ("instance", "10.0.0.1:8080"),
            ("severity", "page"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let matchers = matchers_for(&labels);
        assert_eq!(matchers.len(), 2);
        assert!(matchers.iter().all(|m| m.is_equal && !m.is_regex));
        let silence = Silence {
            id: "s".into(),
            matchers,
            starts_at: String::new(),
            ends_at: String::new(),
            created_by: "tenk-tui".into(),
            comment: String::new(),
            status: SilenceStatus {
                state: "active".into(),
            },
        };
        assert_eq!(
            silence.matchers_text(),
            "alertname=\"TenkHighLatency\", instance=\"10.0.0.1:8080\""
        );
    }
}
