//! The PromQL the fleet view runs, built from the selector that picks the
//! tenk instances (`job="tenk"` by default): the same metrics and the same
//! shapes as the rules (`sum by (instance) (rate(...))`,
//! `histogram_quantile(0.95, sum by (le, instance) (...))`).

/// The queries for one selector and rate window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetQueries {
    pub up: String,
    pub requests_per_second: String,
    pub error_ratio: String,
    pub p95: String,
    pub cpu_ratio: String,
    pub memory_ratio: String,
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
        }
    }
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
}
