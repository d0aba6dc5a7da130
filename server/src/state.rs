//! Application state, built once at start. Handlers and middleware get a
//! clone per request, so [`AppState`] is one `Arc`: a clone is one atomic
//! increment, whatever the services hold.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::auth::cache::AppCache;
use crate::auth::jwt::JwtKeys;
use crate::auth::otp::OtpService;
use crate::auth::password::PasswordHasherPool;
use crate::auth::sessions::SessionStore;
use crate::config::Settings;
use crate::db::Database;
use crate::http::admission::Admission;
use crate::mail::Mailer;
use crate::metrics::Metrics;
use crate::rate_limit::RateLimiter;
use crate::rate_limit::login::LoginThrottle;
use crate::redis_client::RedisClient;

/// The shared services; fields are read through `Deref` (`state.db`).
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// Everything a request may need, built once by `startup`.
pub struct Services {
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
    pub admission: Admission,
    /// The `Strict-Transport-Security` value, built once (`None`: not sent).
    pub hsts: Option<axum::http::HeaderValue>,
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
