//! The numbers the cockpit shows, per instance and summed over instances,
//! computed from scrapes the way the PromQL of the rules and dashboards
//! computes them.

mod gauges;
mod interval;
mod routes;

use std::time::Duration;

pub use gauges::{Gauges, Pool};
pub use interval::{Interval, Rates, is_server_error};
pub use routes::{RouteStats, route_breakdown, sort_worst_first};

/// Everything known about one instance (or the total) at one moment: rates
/// over some window, and the gauges of the latest scrape.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reading {
    /// `None` until two scrapes are known.
    pub rates: Option<Rates>,
    pub gauges: Gauges,
    /// Redis `PING` latency reported by `/api/health/detailed`, milliseconds.
    pub redis_ping_ms: Option<f64>,
}

impl Reading {
    pub fn requests_per_second(&self) -> Option<f64> {
        self.rates.as_ref()?.requests
    }

    pub fn error_ratio(&self) -> Option<f64> {
        self.rates.as_ref()?.error_ratio()
    }

    pub fn latency(&self, q: f64) -> Option<f64> {
        self.rates.as_ref()?.latency_quantile(q)
    }

    pub fn rejections_per_second(&self) -> Option<f64> {
        self.rates.as_ref()?.rate_limit_rejections
    }

    /// CPU seconds per second over the cores available:
    /// `rate(process_cpu_seconds_total) / (tenk_cpu_cores > 0)`.
    pub fn cpu_ratio(&self) -> Option<f64> {
        let cores = self.gauges.cpu_cores.filter(|cores| *cores > 0.0)?;
        Some(self.rates.as_ref()?.cpu_seconds? / cores)
    }

    pub fn memory_ratio(&self) -> Option<f64> {
        self.gauges.memory_ratio()
    }

    /// Redis latency: the health check's `PING` when known, else the mean
    /// command round trip from the histogram. Seconds.
    pub fn redis_latency_seconds(&self) -> Option<f64> {
        self.redis_ping_ms
            .map(|ms| ms / 1000.0)
            .or_else(|| self.rates.as_ref()?.redis_mean_seconds())
    }

    pub fn uptime(&self) -> Option<Duration> {
        self.gauges.uptime_seconds().map(Duration::from_secs_f64)
    }
}

/// The total over instances: rates and pools summed, CPU and memory as
/// totals over totals, sessions the maximum (the count is cluster-wide),
/// Redis up only when up everywhere, uptime the shortest, and the version
/// when all agree (else the versions joined with `/`).
pub fn total<'a>(readings: impl IntoIterator<Item = &'a Reading>) -> Reading {
    let mut total = Reading::default();
    let mut versions: Vec<String> = Vec::new();
    let mut uptime_start: Option<(f64, std::time::SystemTime)> = None;
    for reading in readings {
        if let Some(rates) = &reading.rates {
            total.rates.get_or_insert_with(Rates::default).add(rates);
        }
        let g = &reading.gauges;
        let t = &mut total.gauges;
        for pool in &g.pools {
            match t.pools.iter_mut().find(|p| p.name == pool.name) {
                Some(existing) => {
                    existing.in_use += pool.in_use;
                    existing.max += pool.max;
                }
                None => t.pools.push(pool.clone()),
            }
        }
        t.db_up = all(t.db_up, g.db_up);
        t.redis_up = all(t.redis_up, g.redis_up);
        t.sessions_active = max(t.sessions_active, g.sessions_active);
        t.requests_in_flight = sum(t.requests_in_flight, g.requests_in_flight);
        t.cpu_cores = sum(t.cpu_cores, g.cpu_cores);
        t.resident_memory_bytes = sum(t.resident_memory_bytes, g.resident_memory_bytes);
        t.memory_limit_bytes = sum(t.memory_limit_bytes, g.memory_limit_bytes);
        if let (Some(start), Some(at)) = (g.start_time_seconds, g.at)
            && uptime_start.is_none_or(|(latest, _)| start > latest)
        {
            uptime_start = Some((start, at));
        }
        if let Some(version) = &g.version
            && !versions.contains(version)
        {
            versions.push(version.clone());
        }
        total.redis_ping_ms = max(total.redis_ping_ms, reading.redis_ping_ms);
    }
    if let Some((start, at)) = uptime_start {
        total.gauges.start_time_seconds = Some(start);
        total.gauges.at = Some(at);
    }
    total.gauges.version = (!versions.is_empty()).then(|| versions.join("/"));
    total
}

fn sum(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    }
}

fn max(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn all(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a && b),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prom::{Bucket, fixtures};

    fn reading(before: &str, after: &str) -> Reading {
        let b = fixtures::snapshot(before, 0);
        let a = fixtures::snapshot(after, 4);
        Reading {
            rates: Rates::over([&Interval::between(&b, &a)]),
            gauges: Gauges::from_snapshot(&a),
            redis_ping_ms: None,
        }
    }

    #[test]
    fn the_total_of_two_instances_sums_rates_and_merges_histograms() {
        let one = reading("metrics_busy_1.txt", "metrics_busy_2.txt");
        let two = reading("metrics_redis_down_1.txt", "metrics_redis_down_2.txt");
        let total = total([&one, &two]);
        let rps = one.requests_per_second().unwrap() + two.requests_per_second().unwrap();
        assert!((total.requests_per_second().unwrap() - rps).abs() < 1e-9);
        // sum by (le) over both instances, then the quantile.
        let mut merged: Vec<Bucket> = one.rates.as_ref().unwrap().latency.clone();
        for b in &two.rates.as_ref().unwrap().latency {
            merged.iter_mut().find(|m| m.le == b.le).unwrap().count += b.count;
        }
        assert_eq!(
            total.latency(0.95),
            crate::prom::histogram_quantile(0.95, &merged)
        );
        assert_eq!(total.gauges.redis_up, Some(false), "down on one is not up");
        assert_eq!(total.gauges.sessions_active, Some(3.0), "max, not sum");
        assert_eq!(total.gauges.cpu_cores, Some(4.0));
        let cpu = (one.rates.as_ref().unwrap().cpu_seconds.unwrap()
            + two.rates.as_ref().unwrap().cpu_seconds.unwrap())
            / 4.0;
        assert!((total.cpu_ratio().unwrap() - cpu).abs() < 1e-12);
        assert_eq!(total.gauges.pools[0].max, 40.0);
        assert_eq!(total.gauges.version.as_deref(), Some("0.1.0"));
        assert!(total.uptime().unwrap() <= one.uptime().unwrap().max(two.uptime().unwrap()));
    }

    #[test]
    fn an_instance_without_rates_yet_still_adds_its_gauges() {
        let fresh = Reading {
            rates: None,
            gauges: Gauges::from_snapshot(&fixtures::snapshot("metrics_idle.txt", 0)),
            redis_ping_ms: Some(0.8),
        };
        let total = total([&fresh]);
        assert_eq!(total.rates, None);
        assert_eq!(total.requests_per_second(), None);
        assert_eq!(total.gauges.sessions_active, Some(0.0));
        assert_eq!(total.redis_latency_seconds(), Some(0.0008));
    }

    #[test]
    fn different_versions_are_all_named() {
        let mut a = Reading::default();
        a.gauges.version = Some("0.1.0".into());
        let mut b = Reading::default();
        b.gauges.version = Some("0.2.0".into());
        assert_eq!(
            total([&a, &b]).gauges.version.as_deref(),
            Some("0.1.0/0.2.0")
        );
    }
}
