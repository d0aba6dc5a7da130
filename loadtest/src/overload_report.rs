//! The figures of an overload run: what was offered, how much of it was
//! served (goodput) and how fast, how much was refused (503: shed; 429:
//! rate-limited) and how fast, and what neither served nor refused
//! (timeouts, transport errors, anything else). Built from the recorder's
//! counts by status and its latency per outcome class; pure.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::dispatch::Counts;
use crate::memory::MemoryReport;
use crate::report::{RunResult, Warmup};
use crate::stats::{Percentiles, Recorder, Status};

fn round(value: f64, places: i32) -> f64 {
    let factor = 10f64.powi(places);
    (value * factor).round() / factor
}

/// An overload run, as reported.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OverloadResult {
    /// Requests per second the schedule offered.
    pub offered_rate: f64,
    /// How long it offered them.
    pub duration_s: f64,
    pub scheduled: u64,
    /// 2xx replies.
    pub admitted: u64,
    /// From the first arrival to the last reply (or the end of the drain):
    /// longer than `duration_s` when replies lag.
    pub elapsed_s: f64,
    /// `admitted / elapsed_s`: the rate at which the server actually served.
    /// (Over the offered window instead, a server that queues everything and
    /// answers seconds late would look as if it served it all on time.)
    pub goodput_rate: f64,
    /// `admitted / scheduled`.
    pub goodput_share: f64,
    /// 2xx latency from each request's due time (open loop).
    pub admitted_latency: Percentiles,
    /// 503 replies: the excess the server refused.
    pub shed: u64,
    /// 503 latency from each request's due time: how fast the excess is refused.
    pub shed_latency: Percentiles,
    /// 429 replies (the rate limiter, not admission control).
    pub rate_limited: u64,
    /// No reply within `--timeout`.
    pub timeouts: u64,
    /// Still open when the drain after the load (`--timeout` + 1 s) ran out.
    pub abandoned: u64,
    /// The connection could not be made or broke.
    pub transport_errors: u64,
    /// Never sent: the generator had `--max-in-flight` requests open.
    pub dropped: u64,
    /// Every other outcome (other statuses, bad bodies), by status or kind.
    pub other: BTreeMap<String, u64>,
    /// Latency of the 429s, timeouts, transport errors and others.
    pub other_latency: Percentiles,
    /// Neither served nor refused: timeouts, abandoned, transport errors,
    /// dropped and others. `--fail-on-errors` counts these, not 503 or 429.
    pub failures: u64,
    /// The server's RSS before, at its peak during, and at the end of `--after`.
    pub memory: Option<MemoryReport>,
    /// The run before the load (`--warmup`), not in any figure above.
    pub warmup: Option<Warmup>,
    /// The same run in the form of the other commands (by action, service time).
    pub run: RunResult,
}

impl OverloadResult {
    /// The figures of a run at `offered_rate` for `length`.
    pub fn new(offered_rate: f64, length: Duration, counts: Counts, recorder: &Recorder) -> Self {
        let total = recorder.total();
        let classes = recorder.by_outcome();
        let count = |wanted: Status| total.statuses.get(&wanted).copied().unwrap_or(0);
        let admitted: u64 = total
            .statuses
            .iter()
            .filter(|(status, _)| status.is_success())
            .map(|(_, n)| n)
            .sum();
        let other: BTreeMap<String, u64> = total
            .statuses
            .iter()
            .filter(|(status, _)| {
                !status.is_success()
                    && !matches!(
                        status,
                        Status::Http(503 | 429)
                            | Status::Timeout
                            | Status::Connection
                            | Status::Dropped
                    )
            })
            .map(|(status, n)| (status.key(), *n))
            .collect();
        let shed = count(Status::Http(503));
        let timeouts = count(Status::Timeout);
        let transport_errors = count(Status::Connection);
        let dropped = count(Status::Dropped);
        let failures =
            timeouts + counts.abandoned + transport_errors + dropped + other.values().sum::<u64>();
        let elapsed = counts.elapsed.as_secs_f64().max(1e-9);
        Self {
            offered_rate: round(offered_rate, 2),
            duration_s: round(length.as_secs_f64(), 3),
            scheduled: counts.scheduled,
            admitted,
            elapsed_s: round(elapsed, 3),
            goodput_rate: round(admitted as f64 / elapsed, 1),
            goodput_share: round(admitted as f64 / counts.scheduled.max(1) as f64, 4),
            admitted_latency: Percentiles::of(&classes.admitted),
            shed,
            shed_latency: Percentiles::of(&classes.shed),
            rate_limited: count(Status::Http(429)),
            timeouts,
            abandoned: counts.abandoned,
            transport_errors,
            dropped,
            other,
            other_latency: Percentiles::of(&classes.other),
            failures,
            memory: None,
            warmup: None,
            run: RunResult::new(offered_rate, length, counts, recorder),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mix::Action;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// 10 s at 100 req/s: 600 served, 300 shed, 40 rate-limited, 30 timed
    /// out, 10 broken connections, 5 server errors, 5 dropped, 10 abandoned.
    fn overloaded() -> OverloadResult {
        let recorder = Recorder::new().unwrap();
        let record = |status, latency, times| {
            for _ in 0..times {
                recorder.record(Action::Profile, status, latency, Some(latency));
            }
        };
        record(Status::Http(200), ms(20), 588);
        record(Status::Http(200), ms(90), 12);
        record(Status::Http(503), ms(1), 294);
        record(Status::Http(503), ms(4), 6);
        record(Status::Http(429), ms(2), 40);
        record(Status::Timeout, ms(10_000), 30);
        record(Status::Connection, ms(3), 10);
        record(Status::Http(500), ms(5), 5);
        record(Status::Dropped, Duration::ZERO, 5);
        let counts = Counts {
            scheduled: 1_000,
            sent: 995,
            dropped: 5,
            abandoned: 10,
            elapsed: Duration::from_secs(12),
        };
        OverloadResult::new(100.0, Duration::from_secs(10), counts, &recorder)
    }

    #[test]
    fn goodput_is_the_served_rate_until_the_last_reply() {
        let result = overloaded();
        assert_eq!(result.offered_rate, 100.0);
        assert_eq!(result.scheduled, 1_000);
        assert_eq!(result.admitted, 600);
        // Over the 12 s until the last reply, not the 10 s offered.
        assert_eq!(result.elapsed_s, 12.0);
        assert_eq!(result.goodput_rate, 50.0);
        assert_eq!(result.goodput_share, 0.6);
    }

    #[test]
    fn refusals_and_failures_are_counted_apart() {
        let result = overloaded();
        assert_eq!(result.shed, 300);
        assert_eq!(result.rate_limited, 40);
        assert_eq!(result.timeouts, 30);
        assert_eq!(result.abandoned, 10);
        assert_eq!(result.transport_errors, 10);
        assert_eq!(result.dropped, 5);
        assert_eq!(result.other, BTreeMap::from([("500".to_string(), 5)]));
        // Neither served nor refused: 30 + 10 + 10 + 5 + 5.
        assert_eq!(result.failures, 60);
        // The usual run view still counts every non-2xx as an error.
        assert_eq!(result.run.errors, 400);
    }

    #[test]
    fn latency_is_reported_per_class() {
        let result = overloaded();
        let near = |got: f64, want: f64| (got - want).abs() <= want * 0.001 + 0.001;
        let admitted = result.admitted_latency;
        assert!(near(admitted.p50_ms, 20.0), "{admitted:?}");
        assert!(near(admitted.p99_ms, 90.0), "{admitted:?}");
        let shed = result.shed_latency;
        assert!(near(shed.p50_ms, 1.0), "{shed:?}");
        assert!(near(shed.p99_ms, 4.0), "{shed:?}");
        // 429s, timeouts, connection failures and 500s; dropped have no latency.
        assert!(near(result.other_latency.max_ms, 10_000.0));
        assert!(
            near(result.other_latency.p50_ms, 3.0),
            "{:?}",
            result.other_latency
        );
    }

    #[test]
    fn a_run_that_was_all_served_has_empty_refusal_figures() {
        let recorder = Recorder::new().unwrap();
        for _ in 0..50 {
            recorder.record(Action::ListPosts, Status::Http(200), ms(2), Some(ms(2)));
        }
        let counts = Counts {
            scheduled: 50,
            sent: 50,
            elapsed: Duration::from_secs(1),
            ..Counts::default()
        };
        let result = OverloadResult::new(50.0, Duration::from_secs(1), counts, &recorder);
        assert_eq!((result.admitted, result.goodput_rate), (50, 50.0));
        assert_eq!(result.goodput_share, 1.0);
        assert_eq!((result.shed, result.failures), (0, 0));
        assert_eq!(result.shed_latency, Percentiles::default());
    }
}
