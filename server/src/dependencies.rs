//! What this instance knows about its dependencies right now: one breaker
//! each for the primary database and Redis, kept by one background probe.
//!
//! - While a dependency is known down, requests that need it are refused at
//!   once (503 + `Retry-After`), instead of each waiting out a connect or
//!   acquire timeout; no request opens a connection to it meanwhile, so a
//!   restart is not met by a storm of abandoned handshakes.
//! - The probe checks each dependency every second while it is up, every
//!   250 ms while it is down (so a dependency that returns is found within
//!   a quarter of a second of answering), and at once when a request saw a
//!   connection fail. A probe is one connection attempt (PostgreSQL: a
//!   connection of its own, kept between probes) or one `PING`.
//! - Readiness reads these states: it costs no round trip and never queues
//!   behind load. An exhausted pool is load, not a failure: it never opens
//!   a breaker.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};
use tokio::sync::Notify;

use crate::redis_client::RedisClient;

/// Time between probes of a dependency that is up.
const PROBE_UP: Duration = Duration::from_secs(1);
/// Time between probes of a dependency that is down.
const PROBE_DOWN: Duration = Duration::from_millis(250);
/// Failed probes in a row that declare a dependency down.
const FAILURES_TO_OPEN: u64 = 2;
/// A probe that takes longer than this failed.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// The known state of one dependency.
#[derive(Default)]
pub struct Breaker {
    up: AtomicBool,
    /// Failed probes in a row.
    failures: AtomicU64,
    latency_micros: AtomicU64,
    error: Mutex<Option<String>>,
    suspect: Notify,
}

/// The last probe of a dependency, for health bodies.
#[derive(Debug, Clone)]
pub struct Probe {
    pub up: bool,
    pub latency: Duration,
    pub error: Option<String>,
}

impl Breaker {
    /// Whether the last probe found the dependency answering.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// A request saw the dependency fail: probe now rather than at the next
    /// tick. Ignored while it is known down: the probe's own cadence holds,
    /// so refused requests cannot turn into a storm of connection attempts.
    pub fn suspect(&self) {
        if self.is_up() {
            self.suspect.notify_one();
        }
    }

    pub fn last_probe(&self) -> Probe {
        Probe {
            up: self.is_up(),
            latency: Duration::from_micros(self.latency_micros.load(Ordering::Relaxed)),
            error: self.error.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        }
    }

    /// Records a probe. A dependency that was up is declared down only by a
    /// second failure in a row (the first brings the next probe forward), so
    /// one slow answer on a busy machine does not refuse a quarter second of
    /// requests.
    fn record(&self, latency: Duration, error: Option<String>) {
        let failures = if error.is_some() {
            self.failures.fetch_add(1, Ordering::AcqRel) + 1
        } else {
            self.failures.store(0, Ordering::Release);
            0
        };
        let was_up = self.is_up();
        let up = failures == 0 || (was_up && failures < FAILURES_TO_OPEN);
        if up && failures > 0 {
            self.suspect();
        }
        self.up.store(up, Ordering::Release);
        self.latency_micros.store(
            u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        match (was_up, up, &error) {
            (true, false, Some(error)) => {
                tracing::warn!(error = %error, "dependency down: refusing requests that need it");
            }
            (false, true, _) => tracing::info!("dependency up"),
            _ => {}
        }
        *self.error.lock().unwrap_or_else(|e| e.into_inner()) = error;
    }

    /// Waits until the next probe is due or a request raised suspicion.
    async fn next_probe(&self) {
        let interval = if self.is_up() { PROBE_UP } else { PROBE_DOWN };
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = self.suspect.notified() => {}
        }
    }
}

/// Probes the primary database over a connection of its own.
pub struct DatabaseProbe {
    options: PgConnectOptions,
    connection: Option<PgConnection>,
}

impl DatabaseProbe {
    pub fn new(options: PgConnectOptions) -> Self {
        Self {
            options: options.disable_statement_logging(),
            connection: None,
        }
    }

    async fn check(&mut self) -> Result<(), String> {
        if self.connection.is_none() {
            let connection = PgConnection::connect_with(&self.options)
                .await
                .map_err(|_| "connection failed".to_string())?;
            self.connection = Some(connection);
        }
        let Some(connection) = self.connection.as_mut() else {
            return Err("no connection".into());
        };
        if connection.ping().await.is_err() {
            // Reconnect at the next probe: the server may have restarted.
            self.connection = None;
            return Err("connection lost".into());
        }
        Ok(())
    }

    /// One bounded probe into `breaker`.
    pub async fn probe(&mut self, breaker: &Breaker) {
        let started = Instant::now();
        let error = match tokio::time::timeout(PROBE_TIMEOUT, self.check()).await {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(error),
            Err(_) => {
                self.connection = None;
                Some("timed out".to_string())
            }
        };
        breaker.record(started.elapsed(), error);
    }
}

/// One bounded `PING` into the client's breaker.
pub async fn probe_redis(redis: &RedisClient) {
    let ping = redis.probe().await;
    redis.breaker().record(ping.latency, ping.error);
}

/// Keeps both breakers current until the task is aborted.
pub fn spawn_monitor(
    database: Arc<Breaker>,
    mut database_probe: DatabaseProbe,
    redis: RedisClient,
) -> Vec<tokio::task::JoinHandle<()>> {
    let db_task = tokio::spawn(async move {
        loop {
            database.next_probe().await;
            database_probe.probe(&database).await;
        }
    });
    let redis_task = tokio::spawn(async move {
        loop {
            redis.breaker().next_probe().await;
            probe_redis(&redis).await;
        }
    });
    vec![db_task, redis_task]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_breaker_reports_its_last_probe() {
        let breaker = Breaker::default();
        assert!(!breaker.is_up(), "unknown counts as down until probed");
        breaker.record(Duration::from_millis(2), None);
        assert!(breaker.is_up());
        breaker.record(Duration::from_millis(1), Some("slow".into()));
        assert!(breaker.is_up(), "one failure in a row is not yet down");
        breaker.record(Duration::from_millis(1), Some("connection failed".into()));
        let probe = breaker.last_probe();
        assert!(!probe.up);
        assert_eq!(probe.error.as_deref(), Some("connection failed"));
        breaker.record(Duration::from_millis(1), None);
        assert!(breaker.is_up(), "one success closes it");
    }

    #[tokio::test]
    async fn suspicion_brings_the_next_probe_forward() {
        let breaker = Arc::new(Breaker::default());
        breaker.record(Duration::ZERO, None);
        let waiting = {
            let breaker = breaker.clone();
            tokio::spawn(async move { breaker.next_probe().await })
        };
        breaker.suspect();
        // A probe one second away would time this out; suspicion ends the wait.
        tokio::time::timeout(Duration::from_millis(900), waiting)
            .await
            .expect("the probe was brought forward")
            .unwrap();
    }
}
