//! Tiered rate limits shared by every instance through Redis.
//!
//! Each route belongs to one [`Limit`] (see `policy.rs`), counted once per
//! request by the middleware in `layer.rs`: auth and public routes per
//! client IP (`client_ip.rs`), API routes per user after authentication.
//! Decisions are GCRA in one Redis script on Redis's clock (`gcra.rs`).
//!
//! When Redis does not answer within `RATE_LIMIT_REDIS_TIMEOUT`:
//! - auth and OTP limits fail closed: 503 with `Retry-After`;
//! - API and public limits fall back to an in-process limiter (governor) at
//!   the same rate, so each instance still limits on its own.
//!
//! Every fallback decision is counted in `tenk_rate_limit_fallback_total`.
//! While Redis is known down, its client refuses at once (the breaker of
//! `dependencies.rs`), so an outage adds no timeout to each request, and
//! shared limits resume by themselves within a quarter second of Redis
//! returning. Per-account login protection is in `login.rs`.

pub mod client_ip;
pub mod gcra;
pub mod layer;
pub mod login;
pub mod policy;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderValue;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use self::gcra::Gcra;
pub use self::policy::{Limit, RouteLimits, Tier};
use crate::config::RateLimitSettings;
use crate::metrics::Metrics;
use crate::redis_client::RedisClient;

/// The verdict on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub remaining: u32,
    /// Until the subject's full quota is back.
    pub reset: Duration,
    /// Until the next request would be admitted (zero when allowed).
    pub retry_after: Duration,
}

/// What the limiter could decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Decided on the shared count in Redis.
    Shared(Decision),
    /// Redis was unavailable; decided by this instance alone.
    Local {
        allowed: bool,
        retry_after: Duration,
    },
    /// Redis was unavailable and the limit fails closed.
    Unavailable,
}

pub struct RateLimiter {
    settings: RateLimitSettings,
    redis: RedisClient,
    gcra: Gcra,
    local: HashMap<&'static str, DefaultKeyedRateLimiter<String>>,
    /// `RateLimit-Policy` of each limit, by `Limit::index`.
    policy_headers: [HeaderValue; Limit::ALL.len()],
    metrics: Arc<Metrics>,
}

impl RateLimiter {
    pub fn new(settings: RateLimitSettings, redis: RedisClient, metrics: Arc<Metrics>) -> Self {
        let local = Limit::ALL
            .iter()
            .filter(|limit| !limit.tier().fails_closed())
            .map(|limit| {
                let policy = limit.policy(&settings);
                let burst = NonZeroU32::new(policy.limit).unwrap_or(NonZeroU32::MIN);
                let interval = (policy.window / policy.limit).max(Duration::from_micros(1));
                let quota = Quota::with_period(interval)
                    .unwrap_or_else(|| Quota::per_second(burst))
                    .allow_burst(burst);
                (limit.name(), DefaultKeyedRateLimiter::keyed(quota))
            })
            .collect();
        let policy_headers =
            Limit::ALL.map(|limit| layer::policy_value(limit, limit.policy(&settings)));
        Self {
            settings,
            redis,
            gcra: Gcra::default(),
            local,
            policy_headers,
            metrics,
        }
    }

    pub fn settings(&self) -> &RateLimitSettings {
        &self.settings
    }

    /// The `RateLimit-Policy` field of `limit`.
    pub fn policy_header(&self, limit: Limit) -> HeaderValue {
        self.policy_headers[limit.index()].clone()
    }

    /// Counts one request of `subject` against `limit`.
    pub async fn check(&self, limit: Limit, subject: &str) -> Outcome {
        let key = self.redis.keys().rate_limit(limit.name(), subject);
        let policy = limit.policy(&self.settings);
        // While Redis is known down its client refuses at once (see
        // `dependencies.rs`), so an outage costs each check no timeout.
        let shared = tokio::time::timeout(
            self.settings.redis_timeout,
            self.gcra.check(&self.redis, &key, policy),
        )
        .await;
        let outcome = match shared {
            Ok(Ok(decision)) => Outcome::Shared(decision),
            Ok(Err(_)) | Err(_) => self.fallback(limit, subject),
        };
        let denied = match outcome {
            Outcome::Shared(decision) => !decision.allowed,
            Outcome::Local { allowed, .. } => !allowed,
            Outcome::Unavailable => false,
        };
        if denied {
            self.metrics
                .rate_limit_rejected
                .with_label_values(&[limit.tier().as_str()])
                .inc();
        }
        outcome
    }

    fn fallback(&self, limit: Limit, subject: &str) -> Outcome {
        self.metrics
            .rate_limit_fallback
            .with_label_values(&[limit.tier().as_str()])
            .inc();
        let Some(local) = self.local.get(limit.name()) else {
            return Outcome::Unavailable;
        };
        match local.check_key(&subject.to_string()) {
            Ok(()) => Outcome::Local {
                allowed: true,
                retry_after: Duration::ZERO,
            },
            Err(not_until) => Outcome::Local {
                allowed: false,
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            },
        }
    }

    /// Forgets idle subjects of the in-process limiters now and then.
    pub fn spawn_housekeeping(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let limiter = self.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_secs(60));
            loop {
                ticker.tick().await;
                for local in limiter.local.values() {
                    local.retain_recent();
                    local.shrink_to_fit();
                }
            }
        })
    }
}
