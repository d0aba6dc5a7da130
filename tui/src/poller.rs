//! One task per target: GET `/metrics` and `/api/health/detailed` (with the
//! ops token when one is set), every interval, as [`Event::Scraped`]. A
//! failure is an event too (the instance shows DOWN), and the next try waits
//! longer each time, up to a cap of a few seconds (`--max-backoff`), so a
//! restart is seen within that cap. A shared [`Notify`] polls every target
//! at once (the `p` key).

use std::time::{Duration, SystemTime};

use contract::health::DetailedHealth;
use std::sync::Arc;

use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use crate::event::{Event, Scrape, ScrapeFailure};
use crate::prom;
use crate::secret::Secret;

/// The default longest wait between tries of an instance that does not
/// answer (`--max-backoff`): a restart is seen within it.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The wait before the next poll after `failures` failures in a row:
/// the interval, doubled per failure, capped at `cap` (or at the interval,
/// if that is longer).
pub fn backoff(interval: Duration, failures: u32, cap: Duration) -> Duration {
    if failures == 0 {
        return interval;
    }
    let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(16));
    interval.saturating_mul(factor).min(cap.max(interval))
}

/// Why a poll failed, in words for the operator.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PollError {
    #[error("401 unauthorized: /metrics needs the ops token (set TENK_OPS_TOKEN)")]
    Unauthorized,
    #[error("429 rate limited by the instance")]
    RateLimited { retry_after: Option<Duration> },
    #[error("HTTP {0} from /metrics")]
    Status(u16),
    #[error("{0}")]
    Network(String),
    #[error("not Prometheus text: {0}")]
    Parse(#[from] prom::ParseError),
}

/// The innermost cause of a reqwest error ("Connection refused (os error
/// 111)"), never its URL.
pub fn describe(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("no answer within {}s", timeout.as_secs_f64());
    }
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message = cause.to_string();
        source = cause.source();
    }
    message
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?;
    value
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
        .map(Duration::from_secs)
}

/// Polls one instance.
#[derive(Clone)]
pub struct Poller {
    client: reqwest::Client,
    base: String,
    ops_token: Option<Secret>,
    interval: Duration,
    timeout: Duration,
    max_backoff: Duration,
}

impl Poller {
    /// `client` should carry a timeout; `timeout` is only for messages.
    pub fn new(
        client: reqwest::Client,
        base: &str,
        ops_token: Option<Secret>,
        interval: Duration,
        timeout: Duration,
    ) -> Self {
        Self {
            client,
            base: base.trim_end_matches('/').to_string(),
            ops_token,
            interval,
            timeout,
            max_backoff: DEFAULT_MAX_BACKOFF,
        }
    }

    /// The longest wait between tries while the instance does not answer.
    #[must_use]
    pub fn with_max_backoff(mut self, max_backoff: Duration) -> Self {
        self.max_backoff = max_backoff;
        self
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        let request = self.client.get(format!("{}{path}", self.base));
        match &self.ops_token {
            Some(token) => request.bearer_auth(token.expose()),
            None => request,
        }
    }

    /// One poll: the metrics and the detailed health, concurrently. Only
    /// the metrics decide whether the instance answers; a health failure is
    /// carried in the scrape.
    ///
    /// # Errors
    /// When `/metrics` does not answer with Prometheus text.
    pub async fn poll(&self) -> Result<Scrape, PollError> {
        let (metrics, health) = tokio::join!(self.metrics(), self.health());
        Ok(Scrape {
            snapshot: metrics?,
            health,
        })
    }

    async fn metrics(&self) -> Result<prom::Snapshot, PollError> {
        let response = self
            .get("/metrics")
            .send()
            .await
            .map_err(|e| PollError::Network(describe(&e, self.timeout)))?;
        let at = SystemTime::now();
        match response.status().as_u16() {
            200 => {}
            401 => return Err(PollError::Unauthorized),
            429 => {
                return Err(PollError::RateLimited {
                    retry_after: retry_after(&response),
                });
            }
            other => return Err(PollError::Status(other)),
        }
        let text = response
            .text()
            .await
            .map_err(|e| PollError::Network(describe(&e, self.timeout)))?;
        Ok(prom::parse(&text, at)?)
    }

    async fn health(&self) -> Result<DetailedHealth, String> {
        let response = self
            .get("/api/health/detailed")
            .send()
            .await
            .map_err(|e| describe(&e, self.timeout))?;
        // 503 carries the same body, saying which dependency is down.
        match response.status().as_u16() {
            200 | 503 => response
                .json::<DetailedHealth>()
                .await
                .map_err(|e| format!("unreadable health report: {}", describe(&e, self.timeout))),
            401 => Err(
                "401 unauthorized: the detailed health needs the ops token (TENK_OPS_TOKEN)".into(),
            ),
            other => Err(format!("HTTP {other} from /api/health/detailed")),
        }
    }

    /// Polls until the receiver is gone: every interval while the instance
    /// answers, with [`backoff`] (or its `Retry-After`) while it does not;
    /// at once whenever `poll_now` is notified.
    pub async fn run(self, target: usize, events: mpsc::Sender<Event>, poll_now: Arc<Notify>) {
        let mut failures: u32 = 0;
        loop {
            let started = Instant::now();
            let result = self.poll().await;
            let (delay, result) = match result {
                Ok(scrape) => {
                    failures = 0;
                    (self.interval, Ok(Box::new(scrape)))
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    let mut delay = backoff(self.interval, failures, self.max_backoff);
                    if let PollError::RateLimited {
                        retry_after: Some(wait),
                    } = &error
                    {
                        delay = delay.max(*wait);
                    }
                    tracing::warn!(target_index = target, failures, error = %error, "poll failed");
                    let failure = ScrapeFailure {
                        at: SystemTime::now(),
                        error: error.to_string(),
                        retry_in: delay,
                    };
                    (delay, Err(failure))
                }
            };
            if events
                .send(Event::Scraped { target, result })
                .await
                .is_err()
            {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep_until(started + delay) => {}
                () = poll_now.notified() => {
                    tracing::debug!(target_index = target, "poll now");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_interval_and_stops_at_the_cap() {
        let two = Duration::from_secs(2);
        let cap = DEFAULT_MAX_BACKOFF;
        let waits: Vec<u64> = (0..7).map(|n| backoff(two, n, cap).as_secs()).collect();
        assert_eq!(waits, vec![2, 2, 4, 5, 5, 5, 5]);
        assert_eq!(backoff(two, u32::MAX, cap), cap);
        let thirty = Duration::from_secs(30);
        let waits: Vec<u64> = (0..7).map(|n| backoff(two, n, thirty).as_secs()).collect();
        assert_eq!(waits, vec![2, 2, 4, 8, 16, 30, 30]);
        // An interval longer than the cap is never shortened.
        assert_eq!(
            backoff(Duration::from_secs(60), 5, cap),
            Duration::from_secs(60)
        );
    }
}
