//! What the cockpit knows about one instance: its latest scrape, the
//! intervals between scrapes (for rates over the rules' windows), its
//! health, the history behind its sparklines (one point per polling
//! interval; an outage is a gap as wide as the intervals it lasted), and
//! whether it answers: up, STALE (no answer for three intervals) or DOWN.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use contract::health::DetailedHealth;

use crate::event::{Scrape, ScrapeFailure};
use crate::numbers::{Gauges, Interval, Rates, Reading, RouteStats, route_breakdown};
use crate::prom::Snapshot;

/// Points kept for the sparklines (at 2 s a point: the last 4 minutes).
pub const HISTORY_POINTS: usize = 120;

/// Data older than this many polling intervals is marked stale.
pub const STALE_AFTER_INTERVALS: u32 = 3;

#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub url: String,
    /// `host:port`, as Prometheus names an instance.
    pub name: String,
    /// The scrape before `last` (for the per-route breakdown).
    previous: Option<Snapshot>,
    last: Option<Snapshot>,
    intervals: VecDeque<Interval>,
    /// How much interval history to keep (the longest rule window).
    keep: Duration,
    /// The polling interval: one history point stands for one.
    interval: Duration,
    /// The time the newest history point stands for.
    history_until: Option<SystemTime>,
    pub health: Option<DetailedHealth>,
    pub health_error: Option<String>,
    pub last_seen: Option<SystemTime>,
    pub failure: Option<Failure>,
    /// Requests per second, one point per polling interval; NaN for each
    /// interval in which it did not answer (a gap in the sparkline).
    pub history_rps: VecDeque<f64>,
    /// p95 latency in seconds, as `history_rps`.
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
    /// `keep`: how much interval history the rules need; `interval`: the
    /// polling interval (the sparklines' unit of time).
    pub fn new(url: &str, keep: Duration, interval: Duration) -> Self {
        Self {
            url: url.to_string(),
            name: instance_name(url),
            previous: None,
            last: None,
            intervals: VecDeque::new(),
            keep,
            interval,
            history_until: None,
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
        self.previous = self.last.replace(snapshot);
        if self.failure.take().is_some() {
            // Not answering lasted until now: the intervals between the
            // last failed poll and this answer are part of the gap.
            self.gap(self.intervals_since(newest).saturating_sub(1));
        }
        self.history_until = Some(newest);
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
        // Failed polls are spaced by the backoff, not the interval: the gap
        // covers every interval since the newest point, so the x axis of
        // the sparklines stays time.
        let intervals = self.intervals_since(failure.at).max(1);
        self.gap(intervals);
        // The rounding's remainder carries over to the next poll; a gap
        // as long as the whole history starts afresh.
        let advanced = self
            .history_until
            .filter(|_| intervals < HISTORY_POINTS)
            .and_then(|until| {
                until.checked_add(self.interval.checked_mul(u32::try_from(intervals).ok()?)?)
            });
        self.history_until = Some(advanced.unwrap_or(failure.at));
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

    /// Whether it answered its last poll (whatever the age of that answer).
    pub fn is_answering(&self) -> bool {
        self.failure.is_none() && self.last.is_some()
    }

    /// Whether its numbers count in totals and threshold alerts: it is UP
    /// (answered its last poll, within three intervals).
    pub fn is_current(&self, now: SystemTime, interval: Duration) -> bool {
        self.status(now, interval) == Status::Up
    }

    /// Whether its last numbers are older than three intervals: shown as
    /// STALE, never in totals.
    pub fn data_is_stale(&self, now: SystemTime, interval: Duration) -> bool {
        self.last_seen.is_some_and(|seen| {
            now.duration_since(seen).unwrap_or_default() > interval * STALE_AFTER_INTERVALS
        })
    }

    /// Prometheus's `up` for this instance: 1 when UP, 0 when DOWN or STALE,
    /// no series before the first poll ended.
    pub fn up(&self, now: SystemTime, interval: Duration) -> Option<f64> {
        match self.status(now, interval) {
            Status::Waiting => None,
            Status::Up => Some(1.0),
            Status::Stale { .. } | Status::Down { .. } => Some(0.0),
        }
    }

    /// Per route, over the latest interval, worst first (empty until two
    /// scrapes are known).
    pub fn routes(&self) -> Vec<RouteStats> {
        match (&self.previous, &self.last) {
            (Some(before), Some(after)) => route_breakdown(before, after),
            _ => Vec::new(),
        }
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

impl Target {
    /// Whole polling intervals from the newest history point to `at`,
    /// rounded (polls jitter around the interval), at most the history's
    /// length; 0 before the first poll.
    fn intervals_since(&self, at: SystemTime) -> usize {
        let Some(until) = self.history_until else {
            return 0;
        };
        let interval = self.interval.as_secs_f64();
        if interval <= 0.0 {
            return 1;
        }
        let elapsed = at.duration_since(until).unwrap_or_default().as_secs_f64();
        // Bounded to 0..=HISTORY_POINTS before the cast.
        (elapsed / interval)
            .round()
            .clamp(0.0, HISTORY_POINTS as f64) as usize
    }

    /// `points` intervals without an answer.
    fn gap(&mut self, points: usize) {
        for _ in 0..points.min(HISTORY_POINTS) {
            push(&mut self.history_rps, f64::NAN);
            push(&mut self.history_p95, f64::NAN);
        }
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
        let mut target = Target::new("http://a:1", Duration::from_secs(300), INTERVAL);
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
        let mut target = Target::new("http://a:1", Duration::from_secs(300), INTERVAL);
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
        assert_eq!(target.up(fixtures::at(5), INTERVAL), Some(0.0));
        // It answers again: up, and the gap is one interval for the rates.
        target.on_scrape(scrape("metrics_busy_2.txt", 8));
        assert_eq!(target.status(fixtures::at(9), INTERVAL), Status::Up);
        assert!(target.is_answering());
        assert_eq!(target.up(fixtures::at(9), INTERVAL), Some(1.0));
    }

    #[test]
    fn failed_polls_are_gaps_in_the_history() {
        let mut target = Target::new("http://a:1", Duration::from_secs(300), INTERVAL);
        target.on_scrape(scrape("metrics_busy_1.txt", 0));
        target.on_scrape(scrape("metrics_busy_2.txt", 2));
        target.on_failure(ScrapeFailure {
            at: fixtures::at(4),
            error: "connection refused".into(),
            retry_in: INTERVAL,
        });
        let points: Vec<bool> = target.history_rps.iter().map(|v| v.is_nan()).collect();
        assert_eq!(points, vec![false, true]);
        assert!(target.history_p95.back().unwrap().is_nan());
    }

    /// Failed polls at the backoff's pace (1, 1, 2, 4, 5, 5 s, each a bit
    /// late, as a timeout makes them), `interval` apart before and after.
    fn outage(target: &mut Target, interval: Duration, late: Duration) {
        target.on_scrape(scrape("metrics_busy_1.txt", 0));
        target.on_scrape(scrape("metrics_busy_2.txt", 1));
        let mut retry = interval;
        for at in [2, 3, 5, 9, 14, 19] {
            target.on_failure(ScrapeFailure {
                at: fixtures::at(at) + late,
                error: "connection refused".into(),
                retry_in: retry,
            });
            retry = (retry * 2).min(Duration::from_secs(5));
        }
        target.on_scrape(scrape("metrics_busy_1.txt", 22));
    }

    #[test]
    fn an_outage_is_a_gap_as_wide_as_the_intervals_it_lasted() {
        let second = Duration::from_secs(1);
        for late in [Duration::ZERO, Duration::from_millis(300)] {
            let mut target = Target::new("http://a:1", Duration::from_secs(300), second);
            outage(&mut target, second, late);
            // Not answering from 2 s to 21 s: 20 intervals, though only six
            // polls failed; one point for 1 s before, one for 22 s after.
            let gaps: Vec<bool> = target.history_rps.iter().map(|v| v.is_nan()).collect();
            let mut expected = vec![false];
            expected.extend([true; 20]);
            expected.push(false);
            assert_eq!(gaps, expected, "late by {late:?}");
            assert_eq!(target.history_p95.len(), 22);
            let line = crate::ui::sparkline::sparkline(
                &target.history_rps.iter().copied().collect::<Vec<_>>(),
                22,
            );
            assert_eq!(line.chars().filter(|c| *c == ' ').count(), 20, "{line:?}");
        }
    }

    #[test]
    fn a_gap_is_never_wider_than_the_history() {
        let second = Duration::from_secs(1);
        let mut target = Target::new("http://a:1", Duration::from_secs(300), second);
        target.on_scrape(scrape("metrics_busy_1.txt", 0));
        target.on_scrape(scrape("metrics_busy_2.txt", 1));
        target.on_failure(ScrapeFailure {
            at: fixtures::at(2),
            error: "connection refused".into(),
            retry_in: second,
        });
        target.on_failure(ScrapeFailure {
            at: fixtures::at(3_000),
            error: "connection refused".into(),
            retry_in: second,
        });
        assert_eq!(target.history_rps.len(), HISTORY_POINTS);
        assert!(target.history_rps.iter().all(|v| v.is_nan()));
        target.on_scrape(scrape("metrics_busy_1.txt", 6_000));
        assert_eq!(target.history_rps.len(), HISTORY_POINTS);
        assert!(!target.history_rps.back().unwrap().is_nan());
        let blanks = target.history_rps.iter().filter(|v| v.is_nan()).count();
        assert_eq!(blanks, HISTORY_POINTS - 1);
    }

    #[test]
    fn polls_that_answer_are_one_point_each_even_when_late() {
        let second = Duration::from_secs(1);
        let mut target = Target::new("http://a:1", Duration::from_secs(300), second);
        for (i, at) in [0u64, 1, 2, 4, 5].iter().enumerate() {
            let name = ["metrics_busy_1.txt", "metrics_busy_2.txt"][i % 2];
            target.on_scrape(scrape(name, *at));
        }
        assert_eq!(target.history_rps.len(), 4);
        assert!(target.history_rps.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn nothing_is_up_or_down_before_the_first_poll_ends() {
        let target = Target::new("http://a:1", Duration::from_secs(300), INTERVAL);
        assert_eq!(target.up(fixtures::at(0), INTERVAL), None);
        assert!(!target.is_current(fixtures::at(0), INTERVAL));
    }

    #[test]
    fn data_older_than_three_intervals_is_stale() {
        let mut target = Target::new("http://a:1", Duration::from_secs(300), INTERVAL);
        target.on_scrape(scrape("metrics_busy_1.txt", 0));
        assert!(target.is_current(fixtures::at(6), INTERVAL));
        assert!(!target.data_is_stale(fixtures::at(6), INTERVAL));
        assert!(target.data_is_stale(fixtures::at(7), INTERVAL));
        assert!(!target.is_current(fixtures::at(7), INTERVAL));
        assert_eq!(target.up(fixtures::at(7), INTERVAL), Some(0.0));
        assert_eq!(
            target.status(fixtures::at(7), INTERVAL),
            Status::Stale {
                age: Duration::from_secs(7)
            }
        );
    }

    #[test]
    fn windows_use_intervals_within_range_and_old_ones_are_dropped() {
        let mut target = Target::new("http://a:1", Duration::from_secs(10), INTERVAL);
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
