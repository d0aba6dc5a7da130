//! Prometheus metrics, named in `contract::metrics`. The registry lives in
//! the application state (never global), so parallel test apps never share
//! counters. Labels are bounded: the matched route template (`unmatched`
//! when no route matched), never a raw path, user, email or session id.
//!
//! Gauges that describe the outside world (pools, dependencies, sessions,
//! process) are read when `/metrics` is scraped, not on the request path.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use contract::metrics as names;
use prometheus::{
    Counter, Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::process;

/// Request latency buckets: 0.5 ms to 10 s, with edges at the seed's 100 ms
/// and 200 ms thresholds.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Every rate-limit tier, so each series exists (at zero) from the start.
pub const TIERS: &[&str] = &["auth", "api", "public", "otp"];

/// Marks a response caused by an exhausted database pool, for the counter.
#[derive(Debug, Clone, Copy)]
pub struct PoolTimedOut;

pub struct Metrics {
    registry: Registry,
    pub http_duration: HistogramVec,
    pub http_in_flight: IntGauge,
    pub http_shed: IntCounterVec,
    /// The duration series of each known route, resolved once.
    route_series: OnceLock<RouteSeries>,
    pub sessions_active: IntGauge,
    pub sessions_created: IntCounter,
    pub sessions_revoked: IntCounterVec,
    pub session_lookup: HistogramVec,
    pub db_pool_connections: IntGaugeVec,
    pub db_pool_max: IntGaugeVec,
    pub db_pool_timeouts: IntCounterVec,
    pub db_up: IntGauge,
    pub redis_up: IntGauge,
    pub redis_command: Histogram,
    pub rate_limit_rejected: IntCounterVec,
    pub rate_limit_fallback: IntCounterVec,
    pub auth_attempts: IntCounterVec,
    pub app_cache: IntCounterVec,
    pub mail_failures: IntCounter,
    resident_memory: IntGauge,
    cpu_seconds: Counter,
    start_time: Gauge,
    open_fds: IntGauge,
    memory_limit: IntGauge,
    cpu_cores: Gauge,
    last_cpu_seconds: Mutex<f64>,
    sessions_active_read: Mutex<Option<Instant>>,
    /// The cluster-wide session count is one Redis call; scrapes within this
    /// window reuse the last answer (`METRICS_SESSIONS_REFRESH`).
    sessions_active_refresh: Duration,
}

fn histogram(name: &str, help: &str, labels: &[&str]) -> prometheus::Result<HistogramVec> {
    HistogramVec::new(
        HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()),
        labels,
    )
}

fn counters(name: &str, help: &str, labels: &[&str]) -> prometheus::Result<IntCounterVec> {
    IntCounterVec::new(Opts::new(name, help), labels)
}

impl Metrics {
    /// Builds and registers every metric.
    ///
    /// # Errors
    /// A metric is defined twice (a programming error caught by any test).
    pub fn new(instance_id: &str, sessions_active_refresh: Duration) -> prometheus::Result<Self> {
        let metrics = Self {
            registry: Registry::new(),
            http_duration: histogram(
                names::HTTP_REQUEST_DURATION,
                "HTTP request latency by method, route template and status",
                &["method", "route", "status"],
            )?,
            http_in_flight: IntGauge::new(
                names::HTTP_REQUESTS_IN_FLIGHT,
                "HTTP requests being served",
            )?,
            http_shed: counters(
                names::HTTP_REQUESTS_SHED,
                "Requests and connections refused at once with 503 because the instance was at its bound, by what was full",
                &["bound"],
            )?,
            route_series: OnceLock::new(),
            sessions_active: IntGauge::new(
                names::SESSIONS_ACTIVE,
                "Live sessions across every instance",
            )?,
            sessions_created: IntCounter::new(
                names::SESSIONS_CREATED,
                "Sessions opened by this instance",
            )?,
            sessions_revoked: counters(
                names::SESSIONS_REVOKED,
                "Sessions ended by this instance, by reason",
                &["reason"],
            )?,
            session_lookup: histogram(
                names::SESSION_LOOKUP_DURATION,
                "Time to check a session, from the app cache (hit) or Redis (miss)",
                &["cache"],
            )?,
            db_pool_connections: IntGaugeVec::new(
                Opts::new(
                    names::DB_POOL_CONNECTIONS,
                    "Database connections by pool and state",
                ),
                &["pool", "state"],
            )?,
            db_pool_max: IntGaugeVec::new(
                Opts::new(
                    names::DB_POOL_MAX_CONNECTIONS,
                    "Maximum connections of each pool",
                ),
                &["pool"],
            )?,
            db_pool_timeouts: counters(
                names::DB_POOL_TIMEOUTS,
                "Requests refused because no database connection came within DB_ACQUIRE_TIMEOUT",
                &["pool"],
            )?,
            db_up: IntGauge::new(names::DB_UP, "1 when the primary database answers")?,
            redis_up: IntGauge::new(names::REDIS_UP, "1 when Redis answers")?,
            redis_command: Histogram::with_opts(
                HistogramOpts::new(
                    names::REDIS_COMMAND_DURATION,
                    "Redis round trips made by sessions, caches and health checks",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
            )?,
            rate_limit_rejected: counters(
                names::RATE_LIMIT_REJECTED,
                "Requests refused with 429, by tier",
                &["tier"],
            )?,
            rate_limit_fallback: counters(
                names::RATE_LIMIT_FALLBACK,
                "Rate-limit decisions made without Redis, by tier",
                &["tier"],
            )?,
            auth_attempts: counters(
                names::AUTH_ATTEMPTS,
                "Sign-in attempts by method and result",
                &["method", "result"],
            )?,
            app_cache: counters(
                names::APP_CACHE_REQUESTS,
                "App cache lookups by result",
                &["result"],
            )?,
            mail_failures: IntCounter::new(
                names::MAIL_SEND_FAILURES,
                "Mails given up after every retry (SMTP down or refusing)",
            )?,
            resident_memory: IntGauge::new(
                names::PROCESS_RESIDENT_MEMORY,
                "Resident memory size in bytes",
            )?,
            cpu_seconds: Counter::new(
                names::PROCESS_CPU_SECONDS,
                "Total user and system CPU time in seconds",
            )?,
            start_time: Gauge::new(
                names::PROCESS_START_TIME,
                "Start time of the process since the Unix epoch in seconds",
            )?,
            open_fds: IntGauge::new(names::PROCESS_OPEN_FDS, "Number of open file descriptors")?,
            memory_limit: IntGauge::new(
                names::MEMORY_LIMIT,
                "Memory available to the process: cgroup limit, else machine total",
            )?,
            cpu_cores: Gauge::new(
                names::CPU_CORES,
                "CPU cores available to the process: cgroup quota, else machine total",
            )?,
            last_cpu_seconds: Mutex::new(0.0),
            sessions_active_read: Mutex::new(None),
            sessions_active_refresh,
        };
        metrics.register_all(instance_id)?;
        metrics.preset()?;
        Ok(metrics)
    }

    fn register_all(&self, instance_id: &str) -> prometheus::Result<()> {
        let collectors: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(self.http_duration.clone()),
            Box::new(self.http_in_flight.clone()),
            Box::new(self.http_shed.clone()),
            Box::new(self.sessions_active.clone()),
            Box::new(self.sessions_created.clone()),
            Box::new(self.sessions_revoked.clone()),
            Box::new(self.session_lookup.clone()),
            Box::new(self.db_pool_connections.clone()),
            Box::new(self.db_pool_max.clone()),
            Box::new(self.db_pool_timeouts.clone()),
            Box::new(self.db_up.clone()),
            Box::new(self.redis_up.clone()),
            Box::new(self.redis_command.clone()),
            Box::new(self.rate_limit_rejected.clone()),
            Box::new(self.rate_limit_fallback.clone()),
            Box::new(self.auth_attempts.clone()),
            Box::new(self.app_cache.clone()),
            Box::new(self.mail_failures.clone()),
            Box::new(self.resident_memory.clone()),
            Box::new(self.cpu_seconds.clone()),
            Box::new(self.start_time.clone()),
            Box::new(self.open_fds.clone()),
            Box::new(self.memory_limit.clone()),
            Box::new(self.cpu_cores.clone()),
        ];
        for collector in collectors {
            self.registry.register(collector)?;
        }
        let build = IntGaugeVec::new(
            Opts::new(
                names::BUILD_INFO,
                "Always 1; the version and instance id are labels",
            ),
            &["version", "instance_id"],
        )?;
        build
            .with_label_values(&[env!("CARGO_PKG_VERSION"), instance_id])
            .set(1);
        self.registry.register(Box::new(build))
    }

    /// Creates the bounded label sets up front, so every series exists at
    /// zero before its first event and `rate()` sees the first one.
    fn preset(&self) -> prometheus::Result<()> {
        for bound in [SHED_IN_FLIGHT, SHED_CONNECTIONS] {
            self.http_shed.with_label_values(&[bound]);
        }
        for tier in TIERS {
            self.rate_limit_rejected.with_label_values(&[tier]);
            self.rate_limit_fallback.with_label_values(&[tier]);
        }
        for result in ["hit", "miss"] {
            self.app_cache.with_label_values(&[result]);
            self.session_lookup.with_label_values(&[result]);
        }
        self.db_pool_timeouts.with_label_values(&["primary"]);
        for (method, result) in [
            ("password", "success"),
            ("password", "failure"),
            ("otp", "success"),
            ("otp", "failure"),
        ] {
            self.auth_attempts.with_label_values(&[method, result]);
        }
        self.start_time.set(process::stats().start_time_seconds);
        Ok(())
    }

    /// Whether the cached session count is stale; marks it read if so.
    pub fn sessions_active_due(&self) -> bool {
        let mut last = self
            .sessions_active_read
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let due = last.is_none_or(|at| at.elapsed() >= self.sessions_active_refresh);
        if due {
            *last = Some(Instant::now());
        }
        due
    }

    /// Refreshes the process gauges and renders the text exposition.
    pub fn render(&self) -> String {
        let stats = process::stats();
        self.resident_memory
            .set(i64::try_from(stats.resident_memory_bytes).unwrap_or(i64::MAX));
        self.open_fds
            .set(i64::try_from(stats.open_fds).unwrap_or(i64::MAX));
        self.memory_limit
            .set(i64::try_from(process::memory_limit_bytes()).unwrap_or(i64::MAX));
        self.cpu_cores.set(process::cpu_cores());
        {
            // A counter only goes up: add what was spent since the last scrape.
            let mut last = self
                .last_cpu_seconds
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if stats.cpu_seconds_total > *last {
                self.cpu_seconds.inc_by(stats.cpu_seconds_total - *last);
                *last = stats.cpu_seconds_total;
            }
        }
        let mut buffer = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::error!(error = %error, "cannot encode metrics");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

impl Metrics {
    /// Resolves the duration series of these route templates once, so
    /// recording a request hashes no labels. Later calls are ignored.
    pub fn set_routes<'a>(&self, routes: impl IntoIterator<Item = &'a str>) {
        let mut index = HashMap::new();
        for route in routes {
            let next = index.len();
            index.entry(Box::from(route)).or_insert(next);
        }
        let slots = (0..index.len() * METHODS.len() * STATUSES.len())
            .map(|_| OnceLock::new())
            .collect();
        let _ = self.route_series.set(RouteSeries { index, slots });
    }

    /// Counts and times one request; `route` is its matched template.
    pub fn observe_request(
        &self,
        method: &Method,
        route: &str,
        status: StatusCode,
        took: Duration,
    ) {
        let seconds = took.as_secs_f64();
        let method = method_label(method);
        let series = self.route_series.get().and_then(|series| {
            let slot = series.slot(method, route, status)?;
            Some(slot.get_or_init(|| {
                self.http_duration
                    .with_label_values(&[method, route, status.as_str()])
            }))
        });
        match series {
            Some(histogram) => histogram.observe(seconds),
            None => self
                .http_duration
                .with_label_values(&[method, route, status.as_str()])
                .observe(seconds),
        }
    }
}

/// The `bound` label of `tenk_http_requests_shed_total`.
pub const SHED_IN_FLIGHT: &str = "in_flight";
pub const SHED_CONNECTIONS: &str = "connections";

const METHODS: [&str; 10] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE", "other",
];
/// Statuses with a pre-resolved slot; others take the labelled lookup.
const STATUSES: [u16; 22] = [
    200, 201, 202, 204, 301, 302, 304, 400, 401, 403, 404, 405, 409, 410, 413, 414, 415, 422, 429,
    500, 503, 504,
];

/// Histogram handles by (route, method, status), each resolved on first use.
struct RouteSeries {
    index: HashMap<Box<str>, usize>,
    slots: Vec<OnceLock<Histogram>>,
}

impl RouteSeries {
    fn slot(&self, method: &str, route: &str, status: StatusCode) -> Option<&OnceLock<Histogram>> {
        let route = *self.index.get(route)?;
        let method = METHODS.iter().position(|known| *known == method)?;
        let status = STATUSES
            .iter()
            .position(|known| *known == status.as_u16())?;
        self.slots
            .get((route * METHODS.len() + method) * STATUSES.len() + status)
    }
}

/// Standard methods by name; anything else (clients may invent methods) as
/// `other`, so the label stays bounded.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}
