//! The PromQL the fleet view runs, built from the selector that picks the
//! tenk instances (`job="tenk"` by default): the same metrics and the same
//! shapes as the rules (`sum by (instance) (rate(...))`,
//! `histogram_quantile(0.95, sum by (le, instance) (...))`); and, for the
//! per-route breakdown of one instance, the same per `(method, route)`.

use contract::metrics;

/// The queries for one selector and rate window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetQueries {
    pub up: String,
    pub requests_per_second: String,
    pub error_ratio: String,
    pub p95: String,
    pub cpu_ratio: String,
    pub memory_ratio: String,
    /// The matchers without braces, for the per-route queries.
    selector: String,
    window: String,
}

/// The per-route breakdown of one instance (`b` in fleet mode), per
/// `(method, route)` as direct mode computes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteQueries {
    pub requests_per_second: String,
    /// 5xx answers per second (routes without any have no sample).
    pub errors_per_second: String,
    pub p95: String,
}

impl FleetQueries {
    /// `selector`: label matchers without braces (`job="tenk"`); `window`:
    /// a PromQL range (`1m`).
    pub fn new(selector: &str, window: &str) -> Self {
        let s = selector
            .trim()
            .trim_start_matches('{')
            .trim_end_matches('}');
        let with = |extra: &str| {
            if s.is_empty() {
                format!("{{{extra}}}")
            } else if extra.is_empty() {
                format!("{{{s}}}")
            } else {
                format!("{{{s}, {extra}}}")
            }
        };
        let all = with("");
        let errors = with("status=~\"5..\"");
        Self {
            up: format!("up{all}"),
            requests_per_second: format!(
                "sum by (instance) (rate(http_server_request_duration_seconds_count{all}[{window}]))"
            ),
            error_ratio: format!(
                "sum by (instance) (rate(http_server_request_duration_seconds_count{errors}[{window}])) / sum by (instance) (rate(http_server_request_duration_seconds_count{all}[{window}]))"
            ),
            p95: format!(
                "histogram_quantile(0.95, sum by (le, instance) (rate(http_server_request_duration_seconds_bucket{all}[{window}])))"
            ),
            cpu_ratio: format!(
                "sum by (instance) (rate(process_cpu_seconds_total{all}[{window}])) / (max by (instance) (tenk_cpu_cores{all}) > 0)"
            ),
            memory_ratio: format!(
                "max by (instance) (process_resident_memory_bytes{all}) / (max by (instance) (tenk_memory_limit_bytes{all}) > 0)"
            ),
            selector: s.to_string(),
            window: window.to_string(),
        }
    }

    /// The per-route queries for the instance named `instance` (its
    /// `instance` label, as the `up` query returned it).
    pub fn routes(&self, instance: &str) -> RouteQueries {
        let one = format!("instance=\"{}\"", promql_string(instance));
        let matchers = |extra: &str| {
            let all: Vec<&str> = [self.selector.as_str(), one.as_str(), extra]
                .into_iter()
                .filter(|m| !m.is_empty())
                .collect();
            format!("{{{}}}", all.join(", "))
        };
        let (all, errors) = (matchers(""), matchers("status=~\"5..\""));
        let window = &self.window;
        let histogram = metrics::HTTP_REQUEST_DURATION;
        RouteQueries {
            requests_per_second: format!(
                "sum by (method, route) (rate({histogram}_count{all}[{window}]))"
            ),
            errors_per_second: format!(
                "sum by (method, route) (rate({histogram}_count{errors}[{window}]))"
            ),
            p95: format!(
                "histogram_quantile(0.95, sum by (le, method, route) (rate({histogram}_bucket{all}[{window}])))"
            ),
        }
    }
}

/// `text` inside a PromQL double-quoted string.
fn promql_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_selector_goes_into_every_query_and_matches_the_rules_shapes() {
        let q = FleetQueries::new("job=\"tenk\"", "1m");
        assert_eq!(q.up, "up{job=\"tenk\"}");
        assert!(
            q.p95
                .starts_with("histogram_quantile(0.95, sum by (le, instance)")
        );
        assert!(
            q.error_ratio
                .contains("{job=\"tenk\", status=~\"5..\"}[1m]")
        );
        assert_eq!(
            FleetQueries::new("{job=\"api\"}", "5m").up,
            "up{job=\"api\"}"
        );
        assert_eq!(FleetQueries::new("", "1m").up, "up{}");
    }

    #[test]
    fn route_queries_are_scoped_to_one_instance_and_the_rate_window() {
        let q = FleetQueries::new("job=\"tenk\"", "5m").routes("10.0.0.1:8080");
        assert_eq!(
            q.requests_per_second,
            "sum by (method, route) (rate(http_server_request_duration_seconds_count{job=\"tenk\", instance=\"10.0.0.1:8080\"}[5m]))"
        );
        assert_eq!(
            q.errors_per_second,
            "sum by (method, route) (rate(http_server_request_duration_seconds_count{job=\"tenk\", instance=\"10.0.0.1:8080\", status=~\"5..\"}[5m]))"
        );
        assert_eq!(
            q.p95,
            "histogram_quantile(0.95, sum by (le, method, route) (rate(http_server_request_duration_seconds_bucket{job=\"tenk\", instance=\"10.0.0.1:8080\"}[5m])))"
        );
        let bare = FleetQueries::new("", "1m").routes("a");
        assert!(
            bare.p95.contains("_bucket{instance=\"a\"}[1m]"),
            "{}",
            bare.p95
        );
        // An instance label cannot end the string it is quoted in.
        let odd = FleetQueries::new("", "1m").routes("x\"} or vector(1) #\\");
        assert!(
            odd.requests_per_second
                .contains("{instance=\"x\\\"} or vector(1) #\\\\\"}"),
            "{}",
            odd.requests_per_second
        );
    }
}
