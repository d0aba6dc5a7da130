//! Application state, built once at start and cloned cheaply into handlers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use axum::extract::FromRef;

use crate::auth::cache::AppCache;
use crate::auth::jwt::JwtKeys;
use crate::auth::otp::OtpService;
use crate::auth::password::PasswordHasherPool;
use crate::auth::sessions::SessionStore;
use crate::config::Settings;
use crate::db::Database;
use crate::mail::Mailer;
use crate::metrics::Metrics;
use crate::rate_limit::RateLimiter;
use crate::rate_limit::login::LoginThrottle;
use crate::redis_client::RedisClient;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Database,
    pub redis: RedisClient,
    pub lifecycle: Arc<Lifecycle>,
    pub jwt: Arc<JwtKeys>,
    pub hasher: PasswordHasherPool,
    pub sessions: SessionStore,
    pub cache: Arc<AppCache>,
    pub metrics: Arc<Metrics>,
    pub rate_limiter: Arc<RateLimiter>,
    pub login_throttle: Arc<LoginThrottle>,
    pub otp: Arc<OtpService>,
    pub mailer: Mailer,
}

/// Process-wide facts: when it started, and whether it is draining.
#[derive(Debug)]
pub struct Lifecycle {
    started: Instant,
    draining: AtomicBool,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            draining: AtomicBool::new(false),
        }
    }
}

impl Lifecycle {
    pub fn uptime_seconds(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// Readiness answers 503 from now on, so load balancers stop sending.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}
