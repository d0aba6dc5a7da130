//! The open-loop driver: one loop sleeps until each arrival of a
//! [`Schedule`](crate::schedule::Schedule) is due and spawns its request as
//! a task of its own, without waiting for earlier replies. A slow reply
//! therefore never delays the next request, and each latency is measured
//! from when the request was due (see `stats.rs`).
//!
//! The loop is bounded twice: by the schedule's length and by
//! `max_in_flight` open requests; an arrival beyond that cap is not sent and
//! counts as a `dropped` error, so an overloaded run shows up as failures
//! rather than as a quietly lower rate. After the last arrival, open requests
//! get `drain` to finish; any still open then are abandoned and counted.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::mix::Action;
use crate::stats::{Recorder, Status};

/// What the driver runs: it picks the next request, then performs it.
pub trait Workload: Send + Sync + 'static {
    /// A picked request, ready to be performed.
    type Job: Send + 'static;

    /// Picks the request for the next arrival. Cheap and synchronous: it
    /// runs on the scheduling loop.
    fn pick(&self, rng: &mut StdRng) -> (Action, Self::Job);

    /// Sends the request; returns the action actually performed (a picked
    /// one may be substituted, see `behaviour.rs`) and how it ended.
    fn perform(self: Arc<Self>, job: Self::Job) -> impl Future<Output = (Action, Status)> + Send;
}

/// Bounds of one open-loop run.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_in_flight: usize,
    /// How long requests still open after the last arrival may take.
    pub drain: Duration,
}

/// What happened to the arrivals of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub scheduled: u64,
    pub sent: u64,
    pub dropped: u64,
    /// Still open when the drain time ran out.
    pub abandoned: u64,
    /// From the start to the last reply (or the end of the drain).
    pub elapsed: Duration,
}

/// Runs `workload` at the given arrivals (offsets from now) until they end
/// or `stop` is set, recording every outcome into `recorder`.
pub async fn run<W: Workload>(
    workload: Arc<W>,
    arrivals: impl Iterator<Item = Duration>,
    limits: Limits,
    seed: u64,
    recorder: Arc<Recorder>,
    stop: Arc<AtomicBool>,
) -> Counts {
    let start = Instant::now();
    let open = Arc::new(Semaphore::new(limits.max_in_flight.max(1)));
    let mut rng = StdRng::seed_from_u64(seed);
    let mut tasks = JoinSet::new();
    let mut counts = Counts::default();
    for offset in arrivals {
        let due = start + offset;
        tokio::time::sleep_until(due).await;
        if stop.load(Ordering::Relaxed) {
            break;
        }
        counts.scheduled += 1;
        let (action, job) = workload.pick(&mut rng);
        let Ok(permit) = open.clone().try_acquire_owned() else {
            counts.dropped += 1;
            recorder.record(action, Status::Dropped, Duration::ZERO, None);
            continue;
        };
        counts.sent += 1;
        let (workload, recorder) = (workload.clone(), recorder.clone());
        tasks.spawn(async move {
            let sent = Instant::now();
            let (action, status) = workload.perform(job).await;
            let done = Instant::now();
            recorder.record(action, status, done - due, Some(done - sent));
            drop(permit);
        });
        // Reap finished tasks as we go so the set stays small.
        while tasks.try_join_next().is_some() {}
    }
    let drained = tokio::time::timeout(limits.drain, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        counts.abandoned = tasks.len() as u64;
        tasks.abort_all();
    }
    counts.elapsed = start.elapsed();
    counts
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::schedule::{Schedule, Shape};

    /// A server whose every reply takes `delay`; it notes when each request started.
    struct Slow {
        delay: Duration,
        origin: Instant,
        started: Mutex<Vec<Duration>>,
    }

    impl Workload for Slow {
        type Job = ();

        fn pick(&self, _: &mut StdRng) -> (Action, ()) {
            (Action::Profile, ())
        }

        async fn perform(self: Arc<Self>, (): ()) -> (Action, Status) {
            self.started.lock().unwrap().push(self.origin.elapsed());
            tokio::time::sleep(self.delay).await;
            (Action::Profile, Status::Http(200))
        }
    }

    fn slow(delay: Duration) -> Arc<Slow> {
        Arc::new(Slow {
            delay,
            origin: Instant::now(),
            started: Mutex::new(Vec::new()),
        })
    }

    fn limits(max_in_flight: usize) -> Limits {
        Limits {
            max_in_flight,
            drain: Duration::from_secs(5),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_open_loop_schedule_keeps_its_rate_when_replies_are_slow() {
        // Arrange: 100 requests a second for 2 s, each reply taking 500 ms. A
        // closed loop of 10 users would manage only 20 a second here.
        let server = slow(Duration::from_millis(500));
        let recorder = Arc::new(Recorder::new().unwrap());
        let arrivals = Schedule::new(Shape::Constant, 100.0, Duration::from_secs(2), 0);
        // Act
        let counts = run(
            server.clone(),
            arrivals,
            limits(1_000),
            1,
            recorder.clone(),
            Arc::default(),
        )
        .await;
        // Assert: every arrival was sent on time, none waited for a reply.
        assert_eq!(counts.scheduled, 200);
        assert_eq!(counts.sent, 200);
        assert_eq!(counts.dropped + counts.abandoned, 0);
        let started = server.started.lock().unwrap().clone();
        for (i, at) in started.iter().enumerate() {
            let due = Duration::from_millis(10 * i as u64);
            assert!(
                at.abs_diff(due) <= Duration::from_millis(1),
                "#{i} at {at:?}"
            );
        }
        // The run lasts the schedule plus one reply, not 200 replies end to end.
        assert!(counts.elapsed < Duration::from_millis(2_600), "{counts:?}");
        let total = recorder.total();
        assert_eq!(total.count(), 200);
        assert_eq!(total.errors(), 0);
        assert!(total.latency.value_at_quantile(0.99) <= 502_000);
        assert!(total.latency.min() >= 499_000);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stall_shows_in_the_latency_of_every_request_it_delays() {
        // Arrange: replies take 1 s; requests are due every 100 ms for 1 s.
        let server = slow(Duration::from_secs(1));
        let recorder = Arc::new(Recorder::new().unwrap());
        let arrivals = Schedule::new(Shape::Constant, 10.0, Duration::from_secs(1), 0);
        // Act
        run(
            server,
            arrivals,
            limits(100),
            1,
            recorder.clone(),
            Arc::default(),
        )
        .await;
        // Assert: ten requests, each a full second; none is hidden.
        let total = recorder.total();
        assert_eq!(total.count(), 10);
        assert!(total.latency.value_at_quantile(0.5) >= 999_000);
    }

    #[tokio::test(start_paused = true)]
    async fn arrivals_past_the_in_flight_cap_are_dropped_and_counted_as_errors() {
        let server = slow(Duration::from_secs(10));
        let recorder = Arc::new(Recorder::new().unwrap());
        let arrivals = Schedule::new(Shape::Constant, 10.0, Duration::from_secs(1), 0);
        let counts = run(
            server,
            arrivals,
            limits(4),
            1,
            recorder.clone(),
            Arc::default(),
        )
        .await;
        assert_eq!((counts.scheduled, counts.sent, counts.dropped), (10, 4, 6));
        // The four sent ones outlive the 5 s drain.
        assert_eq!(counts.abandoned, 4);
        assert_eq!(recorder.total().errors(), 6);
    }

    #[tokio::test(start_paused = true)]
    async fn setting_stop_ends_the_run_early() {
        let server = slow(Duration::from_millis(1));
        let stop = Arc::new(AtomicBool::new(true));
        let recorder = Arc::new(Recorder::new().unwrap());
        let arrivals = Schedule::new(Shape::Constant, 10.0, Duration::from_secs(100), 0);
        let counts = run(server, arrivals, limits(10), 1, recorder, stop).await;
        assert_eq!(counts.scheduled, 0);
    }
}
