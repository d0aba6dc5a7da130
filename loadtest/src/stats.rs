//! Recording outcomes: latencies in HDR histograms (microseconds, three
//! significant digits, up to 60 s), counts by status, per action.
//!
//! Two latencies are kept per request. `latency` runs from the instant the
//! schedule said the request was due, so time the request spent waiting for
//! a late generator or a stalled server counts (the open-loop figure, free of
//! coordinated omission). `service` runs from when it was actually sent.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::{CreationError, Histogram};
use serde::Serialize;

use crate::mix::Action;

/// Highest latency the histograms hold; longer ones are recorded as this.
const MAX_MICROS: u64 = 60_000_000;
const SIGNIFICANT_DIGITS: u8 = 3;

/// How one scheduled request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// An HTTP response with this status.
    Http(u16),
    /// No response within the request timeout.
    Timeout,
    /// The connection could not be made or broke.
    Connection,
    /// A 2xx whose body was not what the route promises.
    BadBody,
    /// The generator had `max_in_flight` requests open: this one was never sent.
    Dropped,
}

impl Status {
    pub fn is_success(self) -> bool {
        matches!(self, Self::Http(code) if (200..300).contains(&code))
    }

    /// The key used in `errors` and `statuses`.
    pub fn key(self) -> String {
        match self {
            Self::Http(code) => code.to_string(),
            Self::Timeout => "timeout".into(),
            Self::Connection => "connection".into(),
            Self::BadBody => "bad_body".into(),
            Self::Dropped => "dropped".into(),
        }
    }
}

/// The class of an outcome, for latency kept per class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// A 2xx: the server admitted and served the request.
    Admitted,
    /// A 503: the server refused the request (shed it).
    Shed,
    /// Anything else that got an answer or failed in transport (a dropped
    /// arrival has no latency and is not in any class).
    Other,
}

impl Outcome {
    pub fn of(status: Status) -> Self {
        match status {
            _ if status.is_success() => Self::Admitted,
            Status::Http(503) => Self::Shed,
            _ => Self::Other,
        }
    }
}

/// Due-time latency histograms, one per [`Outcome`].
#[derive(Debug, Clone)]
pub struct ByOutcome {
    pub admitted: Histogram<u64>,
    pub shed: Histogram<u64>,
    pub other: Histogram<u64>,
}

impl ByOutcome {
    fn new(empty: &Histogram<u64>) -> Self {
        Self {
            admitted: empty.clone(),
            shed: empty.clone(),
            other: empty.clone(),
        }
    }

    fn record(&mut self, status: Status, latency: Duration) {
        if status == Status::Dropped {
            return;
        }
        let histogram = match Outcome::of(status) {
            Outcome::Admitted => &mut self.admitted,
            Outcome::Shed => &mut self.shed,
            Outcome::Other => &mut self.other,
        };
        histogram.saturating_record(micros(latency));
    }
}

/// A new, empty latency histogram.
///
/// # Errors
/// Only if hdrhistogram refused these constant bounds.
pub fn histogram() -> Result<Histogram<u64>, CreationError> {
    Histogram::new_with_bounds(1, MAX_MICROS, SIGNIFICANT_DIGITS)
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros())
        .unwrap_or(MAX_MICROS)
        .clamp(1, MAX_MICROS)
}

/// Percentiles of one histogram, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Percentiles {
    pub fn of(histogram: &Histogram<u64>) -> Self {
        if histogram.is_empty() {
            return Self::default();
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        Self {
            p50_ms: ms(histogram.value_at_quantile(0.50)),
            p95_ms: ms(histogram.value_at_quantile(0.95)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            p999_ms: ms(histogram.value_at_quantile(0.999)),
            max_ms: ms(histogram.max()),
            mean_ms: (histogram.mean()).round() / 1000.0,
        }
    }
}

/// What was recorded for one action, or for all of them.
#[derive(Debug, Clone)]
pub struct Tally {
    pub latency: Histogram<u64>,
    pub service: Histogram<u64>,
    pub statuses: BTreeMap<Status, u64>,
}

impl Tally {
    fn new(empty: &Histogram<u64>) -> Self {
        Self {
            latency: empty.clone(),
            service: empty.clone(),
            statuses: BTreeMap::new(),
        }
    }

    fn record(&mut self, status: Status, latency: Duration, service: Option<Duration>) {
        *self.statuses.entry(status).or_default() += 1;
        // A dropped request never left: it counts as an error, with no latency.
        if status != Status::Dropped {
            self.latency.saturating_record(micros(latency));
        }
        if let Some(service) = service {
            self.service.saturating_record(micros(service));
        }
    }

    pub fn count(&self) -> u64 {
        self.statuses.values().sum()
    }

    pub fn errors(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(status, _)| !status.is_success())
            .map(|(_, n)| n)
            .sum()
    }
}

/// What the recorder's lock guards.
#[derive(Debug)]
struct Recorded {
    tallies: BTreeMap<Action, Tally>,
    by_outcome: ByOutcome,
}

/// Everything recorded in a run, shared by the request tasks.
#[derive(Debug)]
pub struct Recorder {
    empty: Histogram<u64>,
    recorded: Mutex<Recorded>,
    completed: AtomicU64,
    errors: AtomicU64,
}

impl Recorder {
    /// # Errors
    /// Only if hdrhistogram refused the histogram bounds.
    pub fn new() -> Result<Self, CreationError> {
        let empty = histogram()?;
        Ok(Self {
            recorded: Mutex::new(Recorded {
                tallies: BTreeMap::new(),
                by_outcome: ByOutcome::new(&empty),
            }),
            empty,
            completed: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        })
    }

    /// Records one request's end. Never blocks on IO.
    pub fn record(
        &self,
        action: Action,
        status: Status,
        latency: Duration,
        service: Option<Duration>,
    ) {
        self.completed.fetch_add(1, Ordering::Relaxed);
        if !status.is_success() {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        // A poisoned lock only means another task panicked mid-record; the
        // counts are still usable.
        let mut recorded = self.lock();
        recorded
            .tallies
            .entry(action)
            .or_insert_with(|| Tally::new(&self.empty))
            .record(status, latency, service);
        recorded.by_outcome.record(status, latency);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recorded> {
        self.recorded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Requests finished so far (for the progress bar).
    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::Relaxed)
    }

    /// Failed requests so far (for the progress bar).
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// A copy of every tally, by action.
    pub fn snapshot(&self) -> BTreeMap<Action, Tally> {
        self.lock().tallies.clone()
    }

    /// A copy of the due-time latency per outcome class, all actions together.
    pub fn by_outcome(&self) -> ByOutcome {
        self.lock().by_outcome.clone()
    }

    /// All actions' tallies merged into one.
    pub fn total(&self) -> Tally {
        merged(&self.empty, &self.snapshot())
    }
}

fn merged(empty: &Histogram<u64>, tallies: &BTreeMap<Action, Tally>) -> Tally {
    let mut total = Tally::new(empty);
    for tally in tallies.values() {
        // Same bounds on both sides, so adding cannot fail.
        let _ = total.latency.add(&tally.latency);
        let _ = total.service.add(&tally.service);
        for (status, n) in &tally.statuses {
            *total.statuses.entry(*status).or_default() += n;
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn percentiles_of_a_uniform_distribution_are_where_they_should_be() {
        let recorder = Recorder::new().unwrap();
        // 1 ms, 2 ms ... 1000 ms, once each.
        for n in 1..=1000 {
            recorder.record(Action::Profile, Status::Http(200), ms(n), Some(ms(n)));
        }
        let tally = recorder.total();
        let p = Percentiles::of(&tally.latency);
        // Three significant digits: within 0.1 %.
        let near = |got: f64, want: f64| (got - want).abs() <= want * 0.001 + 0.001;
        assert!(near(p.p50_ms, 500.0), "{p:?}");
        assert!(near(p.p95_ms, 950.0), "{p:?}");
        assert!(near(p.p99_ms, 990.0), "{p:?}");
        assert!(near(p.p999_ms, 999.0), "{p:?}");
        assert!(near(p.max_ms, 1000.0), "{p:?}");
        assert!(near(p.mean_ms, 500.5), "{p:?}");
    }

    #[test]
    fn percentiles_of_an_exponential_distribution_match_its_quantile_function() {
        // Quantile q of an exponential with mean m is -m ln(1 - q); sample it
        // exactly at 100,000 evenly spaced probabilities.
        let mean_ms = 4.0;
        let mut histogram = histogram().unwrap();
        let n = 100_000;
        for i in 0..n {
            let q = (f64::from(i) + 0.5) / f64::from(n);
            let value = -mean_ms * (1.0 - q).ln();
            histogram.saturating_record((value * 1000.0).round().max(1.0) as u64);
        }
        let p = Percentiles::of(&histogram);
        for (got, q) in [(p.p50_ms, 0.5), (p.p95_ms, 0.95), (p.p99_ms, 0.99)] {
            let want = -mean_ms * (1.0f64 - q).ln();
            assert!((got - want).abs() < want * 0.002, "q={q}: {got} vs {want}");
        }
        assert!((p.mean_ms - mean_ms).abs() < 0.01, "{p:?}");
    }

    #[test]
    fn errors_are_counted_by_status_and_only_non_2xx_count() {
        let recorder = Recorder::new().unwrap();
        recorder.record(Action::Profile, Status::Http(200), ms(1), Some(ms(1)));
        recorder.record(Action::CreatePost, Status::Http(201), ms(1), Some(ms(1)));
        recorder.record(Action::Profile, Status::Http(503), ms(1), Some(ms(1)));
        recorder.record(Action::Login, Status::Timeout, ms(10), Some(ms(10)));
        recorder.record(Action::Health, Status::Dropped, ms(0), None);
        assert_eq!(recorder.completed(), 5);
        assert_eq!(recorder.errors(), 3);
        let tally = recorder.total();
        assert_eq!(tally.count(), 5);
        assert_eq!(tally.errors(), 3);
        let keys: Vec<String> = tally.statuses.keys().map(|s| s.key()).collect();
        assert_eq!(keys, ["200", "201", "503", "timeout", "dropped"]);
        // The dropped request was never sent: no latency, no service time.
        assert_eq!(tally.latency.len(), 4);
        assert_eq!(tally.service.len(), 4);
    }

    #[test]
    fn latency_is_kept_per_outcome_class_across_actions() {
        let recorder = Recorder::new().unwrap();
        recorder.record(Action::Profile, Status::Http(200), ms(10), Some(ms(9)));
        recorder.record(Action::ListPosts, Status::Http(200), ms(30), Some(ms(2)));
        recorder.record(Action::Profile, Status::Http(503), ms(1), Some(ms(1)));
        recorder.record(Action::Profile, Status::Http(429), ms(2), Some(ms(2)));
        recorder.record(Action::Profile, Status::Timeout, ms(5000), None);
        recorder.record(Action::Profile, Status::Dropped, ms(0), None);
        let classes = recorder.by_outcome();
        assert_eq!(classes.admitted.len(), 2);
        assert!((30_000..30_100).contains(&classes.admitted.max()));
        assert_eq!(classes.shed.len(), 1);
        assert_eq!(classes.other.len(), 2);
        // The per-action view is unchanged by the classes.
        assert_eq!(recorder.total().latency.len(), 5);
        assert_eq!(Outcome::of(Status::Http(204)), Outcome::Admitted);
        assert_eq!(Outcome::of(Status::Http(503)), Outcome::Shed);
        assert_eq!(Outcome::of(Status::Http(500)), Outcome::Other);
        assert_eq!(Outcome::of(Status::Connection), Outcome::Other);
    }

    #[test]
    fn latencies_past_the_histogram_range_are_clamped_not_lost() {
        let recorder = Recorder::new().unwrap();
        recorder.record(
            Action::Profile,
            Status::Timeout,
            Duration::from_secs(3600),
            None,
        );
        let p = Percentiles::of(&recorder.total().latency);
        assert!(p.max_ms >= 59_000.0, "{p:?}");
    }
}
