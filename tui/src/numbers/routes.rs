//! Where the time goes: per route template (and method) of one instance,
//! between two scrapes, the requests per second, the share of 5xx and the
//! p95 latency, from the same histogram the totals use
//! (`sum by (method, route) (rate(..._count[w]))`, `histogram_quantile(0.95,
//! sum by (le, method, route) (rate(..._bucket[w])))`), worst first. Fleet
//! mode runs those queries in Prometheus and sorts them the same way.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use contract::metrics;

use super::interval::{buckets, is_server_error};
use crate::prom::{Series, Snapshot, histogram_quantile, increase, increase_by};

/// One route of one instance over one interval.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteStats {
    pub method: String,
    /// The route template (`/api/users/{id}`), as the server labels it.
    pub route: String,
    pub requests_per_second: f64,
    /// 5xx / all; `None` without requests.
    pub error_ratio: Option<f64>,
    /// p95 latency in seconds; `None` without requests.
    pub p95: Option<f64>,
}

/// Every route that had requests between `before` and `after`, worst
/// first: the highest error ratio, then the highest p95, then the busiest.
pub fn route_breakdown(before: &Snapshot, after: &Snapshot) -> Vec<RouteStats> {
    let span = after
        .at
        .duration_since(before.at)
        .unwrap_or_default()
        .as_secs_f64();
    if span <= 0.0 {
        return Vec::new();
    }
    let histogram = metrics::HTTP_REQUEST_DURATION;
    let count = format!("{histogram}_count");
    let bucket = format!("{histogram}_bucket");
    let keys: BTreeSet<(String, String)> = after
        .select(&count)
        .filter_map(|(series, _)| {
            Some((
                series.label("method")?.to_string(),
                series.label("route")?.to_string(),
            ))
        })
        .collect();
    let mut routes: Vec<RouteStats> = keys
        .into_iter()
        .filter_map(|(method, route)| {
            let of_route = |series: &Series| {
                series.label("method") == Some(method.as_str())
                    && series.label("route") == Some(route.as_str())
            };
            let requests = increase(before, after, &count, of_route)?;
            if requests <= 0.0 {
                return None;
            }
            let errors = increase(before, after, &count, |s| of_route(s) && is_server_error(s))
                .unwrap_or(0.0);
            let latency = buckets(increase_by(before, after, &bucket, "le", of_route));
            Some(RouteStats {
                requests_per_second: requests / span,
                error_ratio: Some(errors / requests),
                p95: histogram_quantile(0.95, &latency),
                method,
                route,
            })
        })
        .collect();
    sort_worst_first(&mut routes);
    routes
}

/// The highest error ratio first, then the highest p95, then the busiest.
pub fn sort_worst_first(routes: &mut [RouteStats]) {
    routes.sort_by(worst_first);
}

fn worst_first(a: &RouteStats, b: &RouteStats) -> Ordering {
    let key = |r: &RouteStats| (r.error_ratio.unwrap_or(0.0), r.p95.unwrap_or(0.0));
    let (a_errors, a_p95) = key(a);
    let (b_errors, b_p95) = key(b);
    b_errors
        .total_cmp(&a_errors)
        .then(b_p95.total_cmp(&a_p95))
        .then(b.requests_per_second.total_cmp(&a.requests_per_second))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prom::fixtures;

    #[test]
    fn routes_of_a_busy_instance_are_listed_worst_first_with_their_own_numbers() {
        let before = fixtures::snapshot("metrics_busy_1.txt", 0);
        let after = fixtures::snapshot("metrics_busy_2.txt", 2);
        let routes = route_breakdown(&before, &after);
        assert!(!routes.is_empty());
        let total: f64 = routes.iter().map(|r| r.requests_per_second).sum();
        let all = increase(
            &before,
            &after,
            "http_server_request_duration_seconds_count",
            |_| true,
        )
        .unwrap();
        assert!((total - all / 2.0).abs() < 1e-9, "{total} vs {}", all / 2.0);
        for pair in routes.windows(2) {
            assert_ne!(
                worst_first(&pair[0], &pair[1]),
                Ordering::Greater,
                "{pair:?}"
            );
        }
        assert!(routes.iter().all(|r| r.route.starts_with('/')));
    }

    #[test]
    fn no_time_between_scrapes_is_no_breakdown() {
        let snapshot = fixtures::snapshot("metrics_busy_1.txt", 0);
        assert!(route_breakdown(&snapshot, &snapshot).is_empty());
    }

    #[test]
    fn errors_rank_before_latency() {
        let route = |name: &str, errors: f64, p95: f64| RouteStats {
            method: "GET".into(),
            route: name.into(),
            requests_per_second: 1.0,
            error_ratio: Some(errors),
            p95: Some(p95),
        };
        let mut routes = [route("/slow", 0.0, 0.9), route("/failing", 0.5, 0.001)];
        routes.sort_by(worst_first);
        assert_eq!(routes[0].route, "/failing");
    }
}
