//! The server's side of a run, from its own metrics: `/metrics` is scraped
//! before and after, and the difference gives memory, CPU and the
//! session-lookup latency of exactly the run. Several URLs (one per process
//! of a multi-process server, such as the Hono peer) are summed.
//!
//! Lookup percentiles come from histogram buckets, so they are upper
//! bounds: "p99 <= 0.5 ms" means 99 % of lookups fell in the buckets up to
//! 0.5 ms (tenk's smallest is 0.5 ms).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::api::Api;
use crate::prom::Snapshot;

/// Scrapes one or more `/metrics` URLs with the ops token.
#[derive(Debug, Clone)]
pub struct Probe {
    http: Api,
    urls: Vec<String>,
    token: Option<String>,
}

impl Probe {
    pub fn new(http: Api, urls: Vec<String>, token: Option<String>) -> Self {
        Self { http, urls, token }
    }

    /// One scrape of every URL, summed.
    ///
    /// # Errors
    /// A URL did not answer 200 (a missing or wrong `TENK_OPS_TOKEN` is a 401).
    pub async fn scrape(&self) -> Result<Snapshot, String> {
        let mut total = Snapshot::default();
        for url in &self.urls {
            let text = self.http.fetch_text(url, self.token.as_deref()).await?;
            total.add(&Snapshot::parse(&text));
        }
        Ok(total)
    }

    pub fn urls(&self) -> &[String] {
        &self.urls
    }
}

/// Session-lookup latency over the run, for one `cache` label.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Lookups {
    pub count: u64,
    /// Upper bound of the bucket holding the median; `null` past the last bucket.
    pub p50_le_ms: Option<f64>,
    pub p99_le_ms: Option<f64>,
    pub p999_le_ms: Option<f64>,
}

/// What the server's metrics said about a run.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct ServerReport {
    pub metrics_urls: Vec<String>,
    pub rss_mb_before: Option<f64>,
    pub rss_mb_after: Option<f64>,
    pub cpu_seconds: Option<f64>,
    /// CPU seconds per second of the run: 2.0 is both cores of this machine.
    pub cpu_cores_used: Option<f64>,
    pub sessions_active_before: Option<f64>,
    pub sessions_active_after: Option<f64>,
    /// By `cache` label (`hit`, `miss`) and `all`.
    pub session_lookup: BTreeMap<String, Lookups>,
    /// Set when a scrape failed; the other fields are then empty.
    pub error: Option<String>,
}

fn round(value: f64, places: i32) -> f64 {
    let factor = 10f64.powi(places);
    (value * factor).round() / factor
}

/// Count and upper-bound quantiles of the observations between two
/// cumulative bucket lists.
pub fn lookups(before: &[(f64, f64)], after: &[(f64, f64)]) -> Lookups {
    let delta: Vec<(f64, f64)> = after
        .iter()
        .map(|(le, count)| {
            let earlier = before
                .iter()
                .find(|(bound, _)| bound == le)
                .map_or(0.0, |(_, n)| *n);
            (*le, (count - earlier).max(0.0))
        })
        .collect();
    let total = delta.last().map_or(0.0, |(_, n)| *n);
    let bound = |q: f64| {
        if total <= 0.0 {
            return None;
        }
        delta
            .iter()
            .find(|(_, n)| *n >= q * total)
            .map(|(le, _)| *le)
            .filter(|le| le.is_finite())
            .map(|le| round(le * 1000.0, 4))
    };
    Lookups {
        count: total as u64,
        p50_le_ms: bound(0.50),
        p99_le_ms: bound(0.99),
        p999_le_ms: bound(0.999),
    }
}

/// Adds bucket lists (for the `all` row).
fn combined(lists: &BTreeMap<String, Vec<(f64, f64)>>) -> Vec<(f64, f64)> {
    let mut total: Vec<(f64, f64)> = Vec::new();
    for buckets in lists.values() {
        for (le, count) in buckets {
            match total.iter_mut().find(|(bound, _)| bound == le) {
                Some(entry) => entry.1 += count,
                None => total.push((*le, *count)),
            }
        }
    }
    total.sort_by(|a, b| a.0.total_cmp(&b.0));
    total
}

impl ServerReport {
    /// The difference between two scrapes `wall` apart.
    pub fn between(urls: &[String], before: &Snapshot, after: &Snapshot, wall: Duration) -> Self {
        let mb = |bytes: Option<f64>| bytes.map(|b| round(b / 1_048_576.0, 1));
        let cpu = before
            .cpu_seconds
            .zip(after.cpu_seconds)
            .map(|(a, b)| round(b - a, 2));
        let mut session_lookup = BTreeMap::new();
        for (cache, buckets) in &after.session_lookup {
            let earlier = before
                .session_lookup
                .get(cache)
                .cloned()
                .unwrap_or_default();
            session_lookup.insert(cache.clone(), lookups(&earlier, buckets));
        }
        if !after.session_lookup.is_empty() {
            let all = lookups(
                &combined(&before.session_lookup),
                &combined(&after.session_lookup),
            );
            session_lookup.insert("all".into(), all);
        }
        Self {
            metrics_urls: urls.to_vec(),
            rss_mb_before: mb(before.rss_bytes),
            rss_mb_after: mb(after.rss_bytes),
            cpu_seconds: cpu,
            cpu_cores_used: cpu.map(|c| round(c / wall.as_secs_f64().max(1e-9), 2)),
            sessions_active_before: before.sessions_active,
            sessions_active_after: after.sessions_active,
            session_lookup,
            error: None,
        }
    }

    /// A report that says only why there is nothing to report.
    pub fn failed(urls: &[String], error: String) -> Self {
        Self {
            metrics_urls: urls.to_vec(),
            error: Some(error),
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INF: f64 = f64::INFINITY;

    #[test]
    fn lookup_quantiles_are_bucket_bounds_of_the_runs_own_observations() {
        // Before the run: 100 lookups, all slow. During it: 1,000 more, of
        // which 985 under 0.5 ms, 14 under 1 ms, 1 under 2.5 ms.
        let before = [(0.0005, 0.0), (0.001, 0.0), (0.0025, 100.0), (INF, 100.0)];
        let after = [
            (0.0005, 985.0),
            (0.001, 999.0),
            (0.0025, 1100.0),
            (INF, 1100.0),
        ];
        let l = lookups(&before, &after);
        assert_eq!(l.count, 1000);
        assert_eq!(l.p50_le_ms, Some(0.5));
        assert_eq!(l.p99_le_ms, Some(1.0));
        assert_eq!(l.p999_le_ms, Some(1.0));
    }

    #[test]
    fn no_lookups_means_no_quantiles_and_the_overflow_bucket_has_no_bound() {
        assert_eq!(lookups(&[], &[(INF, 0.0)]).p99_le_ms, None);
        let slow = lookups(&[], &[(0.001, 0.0), (INF, 5.0)]);
        assert_eq!((slow.count, slow.p50_le_ms), (5, None));
    }

    #[test]
    fn memory_cpu_and_sessions_come_from_the_two_scrapes() {
        let before = Snapshot {
            rss_bytes: Some(20.0 * 1_048_576.0),
            cpu_seconds: Some(1.0),
            sessions_active: Some(0.0),
            session_lookup: BTreeMap::new(),
        };
        let mut after = before.clone();
        after.rss_bytes = Some(30.0 * 1_048_576.0);
        after.cpu_seconds = Some(11.0);
        after.sessions_active = Some(10_000.0);
        after
            .session_lookup
            .insert("hit".into(), vec![(0.0005, 10.0), (INF, 10.0)]);
        let report = ServerReport::between(&[], &before, &after, Duration::from_secs(10));
        assert_eq!(report.rss_mb_after, Some(30.0));
        assert_eq!(report.cpu_seconds, Some(10.0));
        assert_eq!(report.cpu_cores_used, Some(1.0));
        assert_eq!(report.sessions_active_after, Some(10_000.0));
        assert_eq!(report.session_lookup["hit"].count, 10);
        assert_eq!(report.session_lookup["all"].p99_le_ms, Some(0.5));
    }
}
