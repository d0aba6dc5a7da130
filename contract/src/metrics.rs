//! Prometheus metric and label names, spelled once. The server exports them,
//! the TUI parses them, and `alerts/` and `dashboards/` query them; a test in
//! `tests/references.rs` holds those files to this list.

pub const HTTP_REQUEST_DURATION: &str = "http_server_request_duration_seconds";
pub const HTTP_REQUESTS_IN_FLIGHT: &str = "http_server_requests_in_flight";
pub const HTTP_REQUESTS_SHED: &str = "tenk_http_requests_shed_total";
pub const SESSIONS_ACTIVE: &str = "tenk_sessions_active";
pub const SESSIONS_CREATED: &str = "tenk_sessions_created_total";
pub const SESSIONS_REVOKED: &str = "tenk_sessions_revoked_total";
pub const SESSION_LOOKUP_DURATION: &str = "tenk_session_lookup_duration_seconds";
pub const DB_POOL_CONNECTIONS: &str = "tenk_db_pool_connections";
pub const DB_POOL_MAX_CONNECTIONS: &str = "tenk_db_pool_max_connections";
pub const DB_POOL_TIMEOUTS: &str = "tenk_db_pool_timeouts_total";
pub const DB_UP: &str = "tenk_db_up";
pub const REDIS_UP: &str = "tenk_redis_up";
pub const REDIS_COMMAND_DURATION: &str = "tenk_redis_command_duration_seconds";
pub const RATE_LIMIT_REJECTED: &str = "tenk_rate_limit_rejected_total";
pub const RATE_LIMIT_FALLBACK: &str = "tenk_rate_limit_fallback_total";
pub const AUTH_ATTEMPTS: &str = "tenk_auth_attempts_total";
pub const APP_CACHE_REQUESTS: &str = "tenk_app_cache_requests_total";
pub const MAIL_SEND_FAILURES: &str = "tenk_mail_send_failures_total";
pub const PROCESS_RESIDENT_MEMORY: &str = "process_resident_memory_bytes";
pub const PROCESS_CPU_SECONDS: &str = "process_cpu_seconds_total";
pub const PROCESS_START_TIME: &str = "process_start_time_seconds";
pub const PROCESS_OPEN_FDS: &str = "process_open_fds";
pub const MEMORY_LIMIT: &str = "tenk_memory_limit_bytes";
pub const CPU_CORES: &str = "tenk_cpu_cores";
pub const BUILD_INFO: &str = "tenk_build_info";

/// Every metric name above, for cross-checks.
pub const ALL: &[&str] = &[
    HTTP_REQUEST_DURATION,
    HTTP_REQUESTS_IN_FLIGHT,
    HTTP_REQUESTS_SHED,
    SESSIONS_ACTIVE,
    SESSIONS_CREATED,
    SESSIONS_REVOKED,
    SESSION_LOOKUP_DURATION,
    DB_POOL_CONNECTIONS,
    DB_POOL_MAX_CONNECTIONS,
    DB_POOL_TIMEOUTS,
    DB_UP,
    REDIS_UP,
    REDIS_COMMAND_DURATION,
    RATE_LIMIT_REJECTED,
    RATE_LIMIT_FALLBACK,
    AUTH_ATTEMPTS,
    APP_CACHE_REQUESTS,
    MAIL_SEND_FAILURES,
    PROCESS_RESIDENT_MEMORY,
    PROCESS_CPU_SECONDS,
    PROCESS_START_TIME,
    PROCESS_OPEN_FDS,
    MEMORY_LIMIT,
    CPU_CORES,
    BUILD_INFO,
];
