//! The gauges of one scrape (their value is the value now, no rate needed),
//! and the ratios the thresholds compare.

use std::time::SystemTime;

use contract::metrics;

use crate::prom::Snapshot;

/// One sqlx pool (`primary` or `replica`): connections in use and the maximum.
#[derive(Debug, Clone, PartialEq)]
pub struct Pool {
    pub name: String,
    pub in_use: f64,
    pub max: f64,
}

impl Pool {
    /// `in_use / max`; `None` for a pool without a maximum (PromQL's x/0 is
    /// +Inf or NaN: never a meaningful saturation).
    pub fn ratio(&self) -> Option<f64> {
        (self.max > 0.0).then(|| self.in_use / self.max)
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Gauges {
    pub pools: Vec<Pool>,
    pub db_up: Option<bool>,
    pub redis_up: Option<bool>,
    /// Cluster-wide (every instance reads the same count from Redis).
    pub sessions_active: Option<f64>,
    pub requests_in_flight: Option<f64>,
    pub cpu_cores: Option<f64>,
    pub resident_memory_bytes: Option<f64>,
    pub memory_limit_bytes: Option<f64>,
    /// `process_start_time_seconds`, seconds since the Unix epoch.
    pub start_time_seconds: Option<f64>,
    pub version: Option<String>,
    /// When the scrape was taken (for uptime).
    pub at: Option<SystemTime>,
}

fn flag(value: Option<f64>) -> Option<bool> {
    value.map(|v| v >= 1.0)
}

impl Gauges {
    pub fn from_snapshot(snapshot: &Snapshot) -> Self {
        let mut pools: Vec<Pool> = Vec::new();
        for (series, max) in snapshot.select(metrics::DB_POOL_MAX_CONNECTIONS) {
            let Some(name) = series.label("pool") else {
                continue;
            };
            let in_use = snapshot
                .sum(metrics::DB_POOL_CONNECTIONS, |s| {
                    s.label("pool") == Some(name) && s.label("state") == Some("in_use")
                })
                .unwrap_or(0.0);
            pools.push(Pool {
                name: name.to_string(),
                in_use,
                max,
            });
        }
        let one = |name: &str| snapshot.get(name, &[]);
        Self {
            pools,
            db_up: flag(one(metrics::DB_UP)),
            redis_up: flag(one(metrics::REDIS_UP)),
            sessions_active: one(metrics::SESSIONS_ACTIVE),
            requests_in_flight: one(metrics::HTTP_REQUESTS_IN_FLIGHT),
            cpu_cores: one(metrics::CPU_CORES),
            resident_memory_bytes: one(metrics::PROCESS_RESIDENT_MEMORY),
            memory_limit_bytes: one(metrics::MEMORY_LIMIT),
            start_time_seconds: one(metrics::PROCESS_START_TIME),
            version: snapshot.label_of(metrics::BUILD_INFO, "version"),
            at: Some(snapshot.at),
        }
    }

    /// RSS over the memory limit; `None` without a positive limit (the rule's
    /// `(... > 0)` drops it rather than divide by zero).
    pub fn memory_ratio(&self) -> Option<f64> {
        let limit = self.memory_limit_bytes.filter(|limit| *limit > 0.0)?;
        Some(self.resident_memory_bytes? / limit)
    }

    /// The most saturated pool's `in_use / max` (the rule fires per pool).
    pub fn worst_pool_ratio(&self) -> Option<f64> {
        self.pools.iter().filter_map(Pool::ratio).reduce(f64::max)
    }

    /// Connections in use and the maximum, over every pool.
    pub fn pool_totals(&self) -> Option<(f64, f64)> {
        (!self.pools.is_empty()).then(|| {
            self.pools.iter().fold((0.0, 0.0), |(used, max), pool| {
                (used + pool.in_use, max + pool.max)
            })
        })
    }

    /// Seconds since the process started, at the time of the scrape.
    pub fn uptime_seconds(&self) -> Option<f64> {
        let at = self.at?.duration_since(SystemTime::UNIX_EPOCH).ok()?;
        Some((at.as_secs_f64() - self.start_time_seconds?).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prom::fixtures;

    #[test]
    fn gauges_of_a_real_scrape() {
        let gauges = Gauges::from_snapshot(&fixtures::snapshot("metrics_busy_2.txt", 0));
        assert_eq!(gauges.pools.len(), 1);
        assert_eq!(gauges.pools[0].name, "primary");
        assert_eq!(gauges.pools[0].max, 20.0);
        assert_eq!(gauges.redis_up, Some(true));
        assert_eq!(gauges.db_up, Some(true));
        assert_eq!(gauges.sessions_active, Some(3.0));
        assert_eq!(gauges.cpu_cores, Some(2.0));
        assert_eq!(gauges.version.as_deref(), Some("0.1.0"));
        let memory = gauges.memory_ratio().unwrap();
        assert!(memory > 0.0 && memory < 1.0);
        assert!(gauges.uptime_seconds().is_some());
    }

    #[test]
    fn redis_down_is_reported_by_the_gauge() {
        let gauges = Gauges::from_snapshot(&fixtures::snapshot("metrics_redis_down_2.txt", 0));
        assert_eq!(gauges.redis_up, Some(false));
    }

    #[test]
    fn a_zero_limit_or_pool_max_gives_no_ratio() {
        let gauges = Gauges {
            resident_memory_bytes: Some(10.0),
            memory_limit_bytes: Some(0.0),
            pools: vec![Pool {
                name: "primary".into(),
                in_use: 1.0,
                max: 0.0,
            }],
            ..Gauges::default()
        };
        assert_eq!(gauges.memory_ratio(), None);
        assert_eq!(gauges.worst_pool_ratio(), None);
    }

    #[test]
    fn the_worst_pool_is_the_one_compared() {
        let pool = |name: &str, in_use, max| Pool {
            name: name.into(),
            in_use,
            max,
        };
        let gauges = Gauges {
            pools: vec![pool("primary", 2.0, 20.0), pool("replica", 9.0, 10.0)],
            ..Gauges::default()
        };
        assert_eq!(gauges.worst_pool_ratio(), Some(0.9));
        assert_eq!(gauges.pool_totals(), Some((11.0, 30.0)));
    }
}
