//! How the TUI computes the left-hand side of each rule's expression from its
//! readings, with the same grouping as the rule: per instance (`by
//! (instance)`), per instance and pool for the DB pools, and once for the
//! whole cluster for the session count (`max by (job)`).

use crate::numbers::Reading;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Measure {
    /// `histogram_quantile(q, sum by (le, instance) (rate(..._bucket[w])))`.
    LatencyQuantile(f64),
    /// 5xx rate over all requests' rate, per instance.
    ErrorRatio,
    /// in use / max, per instance and pool.
    DbPoolSaturation,
    /// RSS / memory limit, per instance.
    Memory,
    /// CPU seconds per second / cores, per instance.
    Cpu,
    /// Active sessions, cluster-wide.
    Sessions,
    /// `up`: 1 when the instance answered its last poll, 0 when it did not
    /// (the `[target_down]` rule). Judged from the targets, not from their
    /// readings: see `crate::app::AlertBoard::evaluate`.
    Up,
}

impl Measure {
    /// The measure of a threshold of `alerts/thresholds.toml`, by its name
    /// (its table name). The latency quantile is read from the expression.
    pub fn for_threshold(name: &str, expr: &str) -> Option<Self> {
        match name {
            "HighLatency" => Some(Self::LatencyQuantile(quantile_of(expr)?)),
            "HighErrorRate" => Some(Self::ErrorRatio),
            "DbPoolSaturated" => Some(Self::DbPoolSaturation),
            "HighMemory" => Some(Self::Memory),
            "HighCpu" => Some(Self::Cpu),
            "ManySessions" => Some(Self::Sessions),
            _ => None,
        }
    }

    /// Whether the measure needs rates (a window of scrapes) or only gauges.
    pub fn needs_rates(self) -> bool {
        matches!(
            self,
            Self::LatencyQuantile(_) | Self::ErrorRatio | Self::Cpu
        )
    }

    /// The series of this measure over the readings of the instances that
    /// answer, each `(series name, value)`. An instance without a value
    /// (no requests yet, no limit) still yields its series with `None`: it
    /// is shown, and never crosses a threshold.
    pub fn series(self, readings: &[(String, Reading)]) -> Vec<(String, Option<f64>)> {
        match self {
            Self::Up => Vec::new(),
            Self::Sessions => {
                if readings.is_empty() {
                    return Vec::new();
                }
                let value = readings
                    .iter()
                    .filter_map(|(_, r)| r.gauges.sessions_active)
                    .reduce(f64::max);
                vec![("cluster".to_string(), value)]
            }
            Self::DbPoolSaturation => readings
                .iter()
                .flat_map(|(instance, reading)| {
                    reading
                        .gauges
                        .pools
                        .iter()
                        .map(move |pool| (format!("{instance} {}", pool.name), pool.ratio()))
                })
                .collect(),
            per_instance => readings
                .iter()
                .map(|(instance, reading)| (instance.clone(), per_instance.of(reading)))
                .collect(),
        }
    }

    fn of(self, reading: &Reading) -> Option<f64> {
        match self {
            Self::LatencyQuantile(q) => reading.latency(q),
            Self::ErrorRatio => reading.error_ratio(),
            Self::DbPoolSaturation => reading.gauges.worst_pool_ratio(),
            Self::Memory => reading.memory_ratio(),
            Self::Cpu => reading.cpu_ratio(),
            Self::Sessions => reading.gauges.sessions_active,
            Self::Up => None,
        }
    }
}

/// `histogram_quantile(0.95, ...)` → 0.95.
fn quantile_of(expr: &str) -> Option<f64> {
    let rest = expr.trim().strip_prefix("histogram_quantile(")?;
    let end = rest.find(',')?;
    rest[..end].trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numbers::{Gauges, Pool};

    #[test]
    fn the_quantile_comes_from_the_rule_expression() {
        assert_eq!(
            Measure::for_threshold("HighLatency", "histogram_quantile(0.95, sum by (le) (x))"),
            Some(Measure::LatencyQuantile(0.95))
        );
        assert_eq!(Measure::for_threshold("HighLatency", "max(x)"), None);
        assert_eq!(Measure::for_threshold("Unknown", ""), None);
    }

    fn with_sessions(sessions: f64) -> Reading {
        Reading {
            gauges: Gauges {
                sessions_active: Some(sessions),
                pools: vec![
                    Pool {
                        name: "primary".into(),
                        in_use: 1.0,
                        max: 10.0,
                    },
                    Pool {
                        name: "replica".into(),
                        in_use: 9.0,
                        max: 10.0,
                    },
                ],
                ..Gauges::default()
            },
            ..Reading::default()
        }
    }

    #[test]
    fn sessions_are_one_cluster_series_and_pools_one_per_instance_and_pool() {
        let readings = vec![
            ("a:1".to_string(), with_sessions(10.0)),
            ("b:1".to_string(), with_sessions(12.0)),
        ];
        assert_eq!(
            Measure::Sessions.series(&readings),
            vec![("cluster".to_string(), Some(12.0))]
        );
        let pools = Measure::DbPoolSaturation.series(&readings);
        assert_eq!(pools.len(), 4);
        assert_eq!(pools[1], ("a:1 replica".to_string(), Some(0.9)));
        assert_eq!(Measure::Sessions.series(&[]), Vec::new());
    }

    #[test]
    fn an_instance_without_rates_has_a_series_without_a_value() {
        let readings = vec![("a:1".to_string(), with_sessions(1.0))];
        assert_eq!(
            Measure::Cpu.series(&readings),
            vec![("a:1".to_string(), None)]
        );
        assert!(Measure::Cpu.needs_rates());
        assert!(!Measure::Memory.needs_rates());
    }
}
