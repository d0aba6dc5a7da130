//! `Application`: binds the listener, builds the state and router, and serves
//! until a shutdown signal, then drains within `SHUTDOWN_TIMEOUT`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::auth::cache::AppCache;
use crate::auth::jwt::JwtKeys;
use crate::auth::otp::OtpService;
use crate::auth::password::PasswordHasherPool;
use crate::auth::sessions::SessionStore;
use crate::config::Settings;
use crate::db::Database;
use crate::dependencies::{DatabaseProbe, probe_redis, spawn_monitor};
use crate::http::admission::Admission;
use crate::http::serve::{ConnectionLimits, OpenConnections, serve};
use crate::mail::Mailer;
use crate::metrics::Metrics;
use crate::rate_limit::RateLimiter;
use crate::rate_limit::login::LoginThrottle;
use crate::redis_client::RedisClient;
use crate::routes;
use crate::state::{AppState, Lifecycle, Services};

/// How long closing the pools may take once serving has stopped.
const POOL_CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

pub struct Application {
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    router: Router,
    state: AppState,
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl Application {
    /// Builds the application over an open primary pool (tests pass their
    /// own) and binds `HOST:PORT` (port 0 picks a free one).
    ///
    /// # Errors
    /// The address cannot be bound or a setting cannot be used.
    pub async fn build(settings: Settings, primary: PgPool) -> anyhow::Result<Self> {
        crate::db::use_named_statements(settings.database.statement_cache > 0);
        let db = Database::new(primary, &settings.database)?;
        // Route reads to replicas that answer right away, not only after the first tick.
        db.check_replicas().await;
        let metrics = Arc::new(
            Metrics::new(&settings.instance_id, settings.metrics_sessions_refresh)
                .context("cannot register metrics")?,
        );
        let redis_duration = metrics.redis_command.clone();
        let redis = RedisClient::new(&settings.redis, redis_duration).await?;
        let address = SocketAddr::new(settings.http.host, settings.http.port);
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address} (HOST, PORT)"))?;
        let cache = Arc::new(AppCache::new(&settings.cache, &metrics.app_cache));
        let sessions = SessionStore::new(
            redis.clone(),
            cache.clone(),
            metrics.clone(),
            &settings.auth,
        );
        let hasher = PasswordHasherPool::new(&settings.auth, settings.http.workers)
            .context("cannot prepare password hashing")?;
        let jwt = Arc::new(JwtKeys::new(&settings.auth).context("cannot use JWT_SECRET")?);
        // Know the dependencies' state before the first request.
        let mut database_probe =
            DatabaseProbe::new(db.primary().connect_options().as_ref().clone());
        tokio::join!(database_probe.probe(db.breaker()), probe_redis(&redis));
        let mut background: Vec<_> = db.spawn_replica_monitor().into_iter().collect();
        background.extend(spawn_monitor(
            db.breaker().clone(),
            database_probe,
            redis.clone(),
        ));
        background.push(cache.spawn_listener(redis.clone()));
        background.extend(redis.spawn_watchers());
        background.push(crate::idempotency::spawn_purge(db.primary().clone()));
        let rate_limiter = Arc::new(RateLimiter::new(
            settings.rate_limit.clone(),
            redis.clone(),
            metrics.clone(),
        ));
        background.push(rate_limiter.spawn_housekeeping());
        let login_throttle = Arc::new(LoginThrottle::new(settings.rate_limit.login_failures));
        let (mailer, mail_worker) = Mailer::start(&settings.mail, metrics.mail_failures.clone())?;
        background.push(mail_worker);
        let otp = Arc::new(OtpService::new(settings.otp.clone()));
        let max_in_flight = settings.http.max_in_flight;
        let hsts = crate::http::headers::hsts_value(settings.http.hsts_max_age);
        let state = AppState::new(Services {
            settings: Arc::new(settings),
            db,
            redis,
            lifecycle: Arc::new(Lifecycle::default()),
            jwt,
            hasher,
            sessions,
            cache,
            metrics,
            rate_limiter,
            login_throttle,
            otp,
            mailer,
            admission: Admission::new(max_in_flight),
            hsts,
        });
        let metrics_listener = match state.settings.metrics_addr {
            Some(address) => Some(
                TcpListener::bind(address)
                    .await
                    .with_context(|| format!("cannot listen on {address} (METRICS_ADDR)"))?,
            ),
            None => None,
        };
        let router = routes::router(state.clone());
        Ok(Self {
            listener,
            metrics_listener,
            router,
            state,
            background,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .map_or(0, |address| address.port())
    }

    /// The port of the `METRICS_ADDR` listener, when there is one.
    pub fn metrics_port(&self) -> Option<u16> {
        let listener = self.metrics_listener.as_ref()?;
        listener.local_addr().ok().map(|address| address.port())
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes; then readiness turns 503, the
    /// listener closes, and in-flight requests get up to `SHUTDOWN_TIMEOUT`
    /// to finish before their connections are dropped. Pools close last.
    ///
    /// # Errors
    /// The listener fails.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let Self {
            listener,
            metrics_listener,
            router,
            state,
            mut background,
        } = self;
        if let Some(metrics_listener) = metrics_listener {
            // Metrics keep answering while the API drains.
            let metrics_router = routes::metrics_router(state.clone());
            background.push(tokio::spawn(async move {
                if let Err(error) = axum::serve(metrics_listener, metrics_router).await {
                    tracing::error!(error = %error, "the metrics listener failed");
                }
            }));
        }
        let http = &state.settings.http;
        let limits = ConnectionLimits {
            max_connections: http.max_connections,
            header_timeout: http.header_timeout,
        };
        let drain_delay = http.drain_delay;
        let stop = {
            let lifecycle = state.lifecycle.clone();
            async move {
                shutdown.await;
                // Readiness fails first; requests are still served while
                // load balancers notice, then the listener closes.
                lifecycle.start_draining();
                tracing::info!(drain_delay = ?drain_delay, "shutting down: readiness now 503");
                tokio::time::sleep(drain_delay).await;
                tracing::info!("listener closed: draining in-flight requests");
            }
        };
        serve(
            listener,
            router,
            limits,
            OpenConnections::default(),
            state.metrics.clone(),
            stop,
            http.shutdown_timeout,
        )
        .await;
        for task in background {
            task.abort();
        }
        // Connections still held by requests cut at the deadline return when
        // their tasks end; do not wait on them past a short bound.
        if tokio::time::timeout(POOL_CLOSE_TIMEOUT, state.db.close())
            .await
            .is_err()
        {
            tracing::warn!("database pools did not close in time");
        }
        tracing::info!("stopped");
        Ok(())
    }
}
