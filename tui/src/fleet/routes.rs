//! Fleet mode's per-route breakdown of one instance (`b` on the Overview):
//! per route template and method, the requests per second, the 5xx share
//! and the p95 latency over `--rate-window`, from PromQL over the same
//! histogram direct mode reads from `/metrics`; the same [`RouteStats`],
//! sorted worst first the same way.

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::FleetError;
use super::prometheus::{PrometheusClient, Sample};
use super::queries::FleetQueries;
use crate::numbers::{RouteStats, sort_worst_first};

/// The breakdown of one instance, as last asked.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetRoutes {
    /// The `instance` label it is about.
    pub instance: String,
    /// When Prometheus answered (or failed to).
    pub at: SystemTime,
    /// Worst first; or why Prometheus did not say.
    pub result: Result<Vec<RouteStats>, String>,
}

/// Asks Prometheus for the routes of `instance`.
///
/// # Errors
/// When any of the three queries fails.
pub async fn fetch_routes(
    prometheus: &PrometheusClient,
    queries: &FleetQueries,
    instance: &str,
) -> Result<Vec<RouteStats>, FleetError> {
    let q = queries.routes(instance);
    let (rps, errors, p95) = tokio::join!(
        prometheus.query(&q.requests_per_second),
        prometheus.query(&q.errors_per_second),
        prometheus.query(&q.p95),
    );
    Ok(route_stats(rps?, errors?, p95?))
}

type RouteKey = (String, String);

fn by_route(samples: Vec<Sample>) -> BTreeMap<RouteKey, f64> {
    samples
        .into_iter()
        .filter_map(|(labels, value)| {
            Some((
                (labels.get("method")?.clone(), labels.get("route")?.clone()),
                value,
            ))
        })
        .collect()
}

/// The rows from the three answers: every route with requests in the
/// window (as direct mode lists the routes with requests between two
/// scrapes); a route without 5xx has no sample in `errors`, and is 0 %.
pub fn route_stats(rps: Vec<Sample>, errors: Vec<Sample>, p95: Vec<Sample>) -> Vec<RouteStats> {
    let (errors, p95) = (by_route(errors), by_route(p95));
    let mut routes: Vec<RouteStats> = by_route(rps)
        .into_iter()
        .filter(|(_, rate)| *rate > 0.0)
        .map(|(key, rate)| RouteStats {
            requests_per_second: rate,
            error_ratio: Some(errors.get(&key).copied().unwrap_or(0.0) / rate),
            p95: p95.get(&key).copied(),
            method: key.0,
            route: key.1,
        })
        .collect();
    sort_worst_first(&mut routes);
    routes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(method: &str, route: &str, value: f64) -> Sample {
        (
            [("method", method), ("route", route)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            value,
        )
    }

    #[test]
    fn rows_join_the_three_answers_and_come_worst_first() {
        let routes = route_stats(
            vec![
                sample("GET", "/api/health", 10.0),
                sample("POST", "/api/auth/login", 2.0),
                sample("GET", "/api/posts", 4.0),
                // Idle over the window: not a row.
                sample("DELETE", "/api/posts/{id}", 0.0),
            ],
            vec![sample("POST", "/api/auth/login", 0.5)],
            vec![
                sample("GET", "/api/health", 0.001),
                sample("GET", "/api/posts", 0.2),
                sample("POST", "/api/auth/login", 0.05),
            ],
        );
        let order: Vec<(&str, &str)> = routes
            .iter()
            .map(|r| (r.method.as_str(), r.route.as_str()))
            .collect();
        assert_eq!(
            order,
            vec![
                ("POST", "/api/auth/login"),
                ("GET", "/api/posts"),
                ("GET", "/api/health"),
            ]
        );
        assert_eq!(routes[0].error_ratio, Some(0.25));
        assert_eq!(routes[1].error_ratio, Some(0.0));
        assert_eq!(routes[2].requests_per_second, 10.0);
        assert_eq!(routes[2].p95, Some(0.001));
    }

    #[test]
    fn a_route_without_a_p95_sample_has_none_and_unlabelled_series_are_skipped() {
        let unlabelled = (BTreeMap::new(), 3.0);
        let routes = route_stats(
            vec![sample("GET", "/metrics", 1.0), unlabelled],
            Vec::new(),
            Vec::new(),
        );
        assert_eq!(routes.len(), 1);
        assert_eq!(routes[0].p95, None);
    }
}
