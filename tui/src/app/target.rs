//! What the cockpit knows about one instance: its latest scrape, the
//! intervals between scrapes (for rates over the rules' windows), its
//! health, the history behind its sparklines, and whether it answers.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use contract::health::DetailedHealth;

use crate::event::{Scrape, ScrapeFailure};
use crate::numbers::{Gauges, Interval, Rates, Reading};
use crate::prom::Snapshot;

/// Points kept for the sparklines (at 2 s a point: the last 4 minutes).
pub const HISTORY_POINTS: usize = 120;

/// Data older than this many polling intervals is marked stale.
const STALE_AFTER_INTERVALS: u32 = 3;

#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub url: String,
    /// `host:port`, as Prometheus names an instance.
    pub name: String,
    last: Option<Snapshot>,
    intervals: VecDeque<Interval>,
    /// How much interval history to keep (the longest rule window).
    keep: Duration,
    pub health: Option<DetailedHealth>,
    pub health_error: Option<String>,
    pub last_seen: Option<SystemTime>,
    pub failure: Option<Failure>,
    /// Requests per second, one point per scrape.
    pub history_rps: VecDeque<f64>,
    /// p95 latency in seconds, one point per scrape.
    pub history_p95: VecDeque<f64>,
}

/// The last poll failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub error: String,
    /// First failure of this run of failures.
    pub since: SystemTime,
    pub retry_at: SystemTime,
    pub attempts: u32,
}

/// How an instance is doing, as shown.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Not polled yet.
    Waiting,
    Up,
    /// Answered before, but not for a while (the poller is slow or stuck).
    Stale {
        age: Duration,
    },
    Down {
        error: String,
        last_seen: Option<SystemTime>,
        retry_in: Duration,
    },
}

/// `http://127.0.0.1:8080/` → `127.0.0.1:8080`.
pub fn instance_name(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest).to_string()
}

impl Target {
    pub fn new(url: &str, keep: Duration) -> Self {
        Self {
            url: url.to_string(),
            name: instance_name(url),
            last: None,
            intervals: VecDeque::new(),
            keep,
            health: None,
            health_error: None,
            last_seen: None,
            failure: None,
            history_rps: VecDeque::new(),
            history_p95: VecDeque::new(),
        }
    }

    pub fn on_scrape(&mut self, scrape: Scrape) {
        let Scrape { snapshot, health } = scrape;
        if let Some(last) = &self.last {
            self.intervals.push_back(Interval::between(last, &snapshot));
        }
        let newest = snapshot.at;
        while self.intervals.front().is_some_and(|oldest| {
            newest.duration_since(oldest.from).unwrap_or_default() > self.keep
                && self.intervals.len() > 1
        }) {
            self.intervals.pop_front();
        }
        self.last_seen = Some(snapshot.at);
        self.last = Some(snapshot);
        self.failure = None;
        match health {
            Ok(health) => {
                self.health = Some(health);
                self.health_error = None;
            }
            Err(error) => self.health_error = Some(error),
        }
        if let Some(rates) = self.intervals.back().and_then(|i| Rates::over([i])) {
            push(&mut self.history_rps, rates.requests.unwrap_or(0.0));
            push(
                &mut self.history_p95,
                rates.latency_quantile(0.95).unwrap_or(0.0),
            );
        }
    }

    pub fn on_failure(&mut self, failure: ScrapeFailure) {
        let previous = self.failure.take();
        self.failure = Some(Failure {
            error: failure.error,
            since: previous.as_ref().map_or(failure.at, |p| p.since),
            retry_at: failure.at + failure.retry_in,
            attempts: previous.map_or(1, |p| p.attempts + 1),
        });
    }

    pub fn status(&self, now: SystemTime, interval: Duration) -> Status {
        if let Some(failure) = &self.failure {
            return Status::Down {
                error: failure.error.clone(),
                last_seen: self.last_seen,
                retry_in: failure.retry_at.duration_since(now).unwrap_or_default(),
            };
        }
        let Some(seen) = self.last_seen else {
            return Status::Waiting;
        };
        let age = now.duration_since(seen).unwrap_or_default();
        if age > interval * STALE_AFTER_INTERVALS {
            Status::Stale { age }
        } else {
            Status::Up
        }
    }

    /// Whether the instance counts in alerts and totals: it answered its last poll.
    pub fn is_answering(&self) -> bool {
        self.failure.is_none() && self.last.is_some()
    }

    /// The reading with rates over the latest interval (what Overview shows).
    pub fn latest(&self) -> Option<Reading> {
        self.reading_over(None)
    }

    /// The reading with rates over the intervals within `window` of the
    /// latest scrape (the rule's `[5m]`); at least the latest interval.
    pub fn reading_over(&self, window: Option<Duration>) -> Option<Reading> {
        let last = self.last.as_ref()?;
        let rates = match window {
            None => self.intervals.back().and_then(|i| Rates::over([i])),
            Some(window) => {
                let within: Vec<&Interval> = self
                    .intervals
                    .iter()
                    .filter(|i| last.at.duration_since(i.from).unwrap_or_default() <= window)
                    .collect();
                if within.is_empty() {
                    self.intervals.back().and_then(|i| Rates::over([i]))
                } else {
                    Rates::over(within)
                }
            }
        };
        Some(Reading {
            rates,
            gauges: Gauges::from_snapshot(last),
            redis_ping_ms: self
                .health
                .as_ref()
                .filter(|h| h.redis.up)
                .map(|h| h.redis.latency_ms),
        })
    }
}

fn push(history: &mut VecDeque<f64>, value: f64) {
    if history.len() == HISTORY_POINTS {
        history.pop_front();
    }
    history.push_back(value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prom::fixtures;

    const INTERVAL: Duration = Duration::from_secs(2);

    fn scrape(name: &str, at: u64) -> Scrape {
        Scrape {
            snapshot: fixtures::snapshot(name, at),
            health: Err("not asked".into()),
        }
    }

    #[test]
    fn names_are_host_and_port() {
        assert_eq!(instance_name("http://127.0.0.1:8080"), "127.0.0.1:8080");
        assert_eq!(instance_name("https://api.example/"), "api.example");
    }

    #[test]
    fn rates_appear_after_the_second_scrape() {
        let mut target = Target::new("http://a:1", Duration::from_secs(300));
        assert_eq!(target.status(fixtures::at(0), INTERVAL), Status::Waiting);
        target.on_scrape(scrape("metrics_busy_1.txt", 0));
        assert_eq!(target.latest().unwrap().rates, None);
        target.on_scrape(scrape("metrics_busy_2.txt", 2));
        assert!(target.latest().unwrap().requests_per_second().unwrap() > 0.0);
        assert_eq!(target.history_rps.len(), 1);
        assert_eq!(target.status(fixtures::at(3), INTERVAL), Status::Up);
    }

    #[test]
    fn a_failure_is_down_with_the_error_last_seen_and_retry() {
        let mut target = Target::new("http://a:1", Duration::from_secs(300));
        target.on_scrape(scrape("metrics_busy_1.txt", 0));
        for (at, retry) in [(2, 2), (4, 4)] {
            target.on_failure(ScrapeFailure {
                at: fixtures::at(at),
                error: "connection refused".into(),
                retry_in: Duration::from_secs(retry),
            });
        }
        assert_eq!(
            target.status(fixtures::at(5), INTERVAL),
            Status::Down {
                error: "connection refused".into(),
                last_seen: Some(fixtures::at(0)),
                retry_in: Duration::from_secs(3),
            }
        );
        let failure = target.failure.as_ref().unwrap();
        assert_eq!((failure.attempts, failure.since), (2, fixtures::at(2)));
        assert!(!target.is_answering());
        // It answers again: up, and the gap is one interval for the rates.
        target.on_scrape(scrape("metrics_busy_2.txt", 8));
        assert_eq!(target.status(fixtures::at(9), INTERVAL), Status::Up);
        assert!(target.is_answering());
    }

    #[test]
    fn data_older_than_three_intervals_is_stale() {
        let mut target = Target::new("http://a:1", Duration::from_secs(300));
        target.on_scrape(scrape("metrics_busy_1.txt", 0));
        assert_eq!(
            target.status(fixtures::at(7), INTERVAL),
            Status::Stale {
                age: Duration::from_secs(7)
            }
        );
    }

    #[test]
    fn windows_use_intervals_within_range_and_old_ones_are_dropped() {
        let mut target = Target::new("http://a:1", Duration::from_secs(10));
        for (i, at) in [0u64, 4, 8, 12, 16].iter().enumerate() {
            let name = if i % 2 == 0 {
                "metrics_busy_1.txt"
            } else {
                "metrics_busy_2.txt"
            };
            target.on_scrape(scrape(name, *at));
        }
        assert!(target.intervals.len() <= 3, "{}", target.intervals.len());
        let over = target.reading_over(Some(Duration::from_secs(10))).unwrap();
        assert!(over.rates.is_some());
    }
}
