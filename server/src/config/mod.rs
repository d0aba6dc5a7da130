//! Typed settings, read once at start from the environment (and `.env`).
//!
//! The seed's variable names are the interface. Every value is checked here,
//! and a bad one stops the start with one line naming the variable, the value
//! and what was expected. Secrets are [`SecretString`], so `Debug` redacts them.

mod describe;
mod load;
mod parse;

use std::net::IpAddr;
use std::time::Duration;

use secrecy::SecretString;

pub use describe::redact_url;

/// A development-only JWT secret, so the quick start needs no setup.
/// Production refuses to start with it.
pub const DEV_JWT_SECRET: &str = "tenk-development-only-jwt-secret-do-not-use-in-production";

/// Everything the server reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub env: AppEnv,
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub log: LogSettings,
    pub auth: AuthSettings,
    pub cache: CacheSettings,
    pub rate_limit: RateLimitSettings,
    pub otp: OtpSettings,
    pub mail: MailSettings,
    /// Bearer token guarding `/metrics` and `/api/health/detailed`.
    pub ops_token: Option<SecretString>,
    /// Error tracking: internal errors and panics go to this Sentry DSN.
    pub sentry_dsn: Option<SecretString>,
    /// Serve `/metrics` on this address instead of the API listener.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Scrapes within this long of the last one reuse its cluster-wide
    /// session count instead of asking Redis again (0: every scrape asks).
    pub metrics_sessions_refresh: Duration,
    /// Names this process in health bodies and logs (`INSTANCE_ID`, else the host name).
    pub instance_id: String,
    /// `CLUSTER_MODE` from the seed: accepted and ignored, since one process already
    /// uses every core through `WORKERS` tokio worker threads.
    pub cluster_mode: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
}

impl AppEnv {
    pub fn is_production(self) -> bool {
        self == Self::Production
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Production => "production",
        }
    }
}

#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub host: IpAddr,
    pub port: u16,
    /// Tokio worker threads: the seed's `WORKERS`.
    pub workers: usize,
    pub request_timeout: Duration,
    pub body_limit: usize,
    pub shutdown_timeout: Duration,
    /// After SIGTERM, readiness answers 503 this long before the listener
    /// closes, so load balancers stop sending first.
    pub drain_delay: Duration,
    /// Requests handled at once; past it they are shed with 503.
    pub max_in_flight: usize,
    /// Connections open at once; past it they are refused with 503.
    pub max_connections: usize,
    /// Time to send a request's headers; also bounds keep-alive idleness.
    pub header_timeout: Duration,
    pub cors: CorsSettings,
    /// `Strict-Transport-Security` max-age; `None` sends no HSTS header.
    pub hsts_max_age: Option<Duration>,
}

/// Cross-origin access for browser clients (`CORS_ORIGINS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    /// No CORS headers at all (the default).
    None,
    /// Any origin, never with credentials.
    Any,
    /// Exactly these origins (`scheme://host[:port]`).
    List(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct CorsSettings {
    pub origins: CorsOrigins,
    pub allow_credentials: bool,
    pub max_age: Duration,
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: SecretString,
    pub read_urls: Vec<SecretString>,
    pub pool_max: u32,
    pub pool_min: u32,
    pub idle_timeout: Duration,
    pub connect_timeout: Duration,
    pub acquire_timeout: Duration,
    pub ssl_mode: SslMode,
    /// Prepared statements cached per connection; 0 behind PgBouncer in
    /// transaction mode, where a connection's statements vanish between
    /// transactions.
    pub statement_cache: usize,
    /// Create the database and apply migrations at start (off behind a
    /// transaction-pooling PgBouncer: run `tenk-server migrate` directly).
    pub migrate_on_start: bool,
}

/// `DB_SSL_MODE`, as libpq spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `REDIS_URL`, or one built from `REDIS_HOST`/`PORT`/`PASSWORD`/`DB`.
    pub url: SecretString,
    pub command_timeout: Duration,
    pub connect_timeout: Duration,
    pub keepalive: Duration,
    /// Every key this instance writes starts with it (tests use one per test).
    pub key_prefix: String,
    /// The seed's `ENABLE_AUTO_PIPELINING`: the multiplexed connection always
    /// pipelines concurrent commands; `false` caps it at one in flight.
    pub auto_pipelining: bool,
    pub topology: RedisTopology,
}

/// Where Redis lives: one server (`REDIS_URL`), a primary found through
/// Sentinel, or a Redis Cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisTopology {
    Single,
    /// `REDIS_SENTINELS` (host:port list) and `REDIS_SENTINEL_MASTER`.
    Sentinel {
        sentinels: Vec<String>,
        master: String,
    },
    /// `REDIS_CLUSTER_NODES` (redis:// URLs of some nodes).
    Cluster {
        nodes: Vec<String>,
    },
}

impl RedisTopology {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Single => "single",
            Self::Sentinel { .. } => "sentinel",
            Self::Cluster { .. } => "cluster",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    pub format: LogFormat,
    /// An `EnvFilter` directive such as `info` or `tenk_server=debug,info`.
    pub level: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordHashKind {
    Argon2id,
    Bcrypt,
}

#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub password_hash: PasswordHashKind,
    pub bcrypt_rounds: u32,
    pub jwt_secret: SecretString,
    pub jwt_secret_previous: Option<SecretString>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub access_token_ttl: Duration,
    /// Absolute lifetime of a session (the seed's `SESSION_TTL`).
    pub session_ttl: Duration,
    /// A session unused for this long ends.
    pub session_idle_timeout: Duration,
    /// How long after a rotation a duplicate refresh of the just-rotated
    /// token gets the same new pair instead of revoking the session (0: never).
    pub refresh_token_reuse_interval: Duration,
    /// Lifetime of a password-reset token.
    pub password_reset_ttl: Duration,
    /// Lifetime of an email-verification token.
    pub email_verification_ttl: Duration,
    /// Refuse password login until the address is verified.
    pub require_verified_email: bool,
    /// Base URL of the web app, for links in mails (`{APP_URL}/reset-password?token=`).
    pub app_url: Option<String>,
}

/// One-time-code login.
#[derive(Debug, Clone)]
pub struct OtpSettings {
    /// Digits per code (6 to 10).
    pub length: u32,
    pub ttl: Duration,
    pub resend_interval: Duration,
    pub max_attempts: u32,
    /// Create the account on a successful verify of an unknown address.
    pub auto_signup: bool,
    /// HMAC key for stored codes.
    pub secret: SecretString,
}

/// A development-only key for one-time-code hashes; production refuses it.
pub const DEV_OTP_SECRET: &str = "tenk-development-only-otp-secret-do-not-use-in-production";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailTransport {
    Smtp,
    /// Development: the message, code included, goes to the log.
    Log,
}

#[derive(Debug, Clone)]
pub struct MailSettings {
    pub transport: MailTransport,
    /// `smtp://user:pass@host:587?tls=required` or `smtps://host:465`.
    pub smtp_url: Option<SecretString>,
    pub from: String,
    pub queue_size: usize,
    pub timeout: Duration,
    pub retries: u32,
}

/// A limit: at most `limit` requests per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub limit: u32,
    pub window: Duration,
}

#[derive(Debug, Clone)]
pub struct RateLimitSettings {
    /// `RATE_LIMIT_ENABLED`: off only for benchmarks and trusted test rigs.
    pub enabled: bool,
    pub auth: Policy,
    pub api: Policy,
    pub public: Policy,
    /// One-time-code requests per email address.
    pub otp_request: Policy,
    /// One-time-code requests per client IP.
    pub otp_request_ip: Policy,
    /// One-time-code verifications per client IP.
    pub otp_verify: Policy,
    /// Failed logins per account, whatever the IP (ASVS 2.2.1).
    pub login_failures: Policy,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Bound on each Redis check, so an outage costs little latency.
    pub redis_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct CacheSettings {
    pub enabled: bool,
    pub size: u64,
}

/// A configuration value that stops the start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}{}: expected {expected}", value.as_ref().map(|v| format!("={v}")).unwrap_or_else(|| " is not set".into()))]
pub struct ConfigError {
    pub var: &'static str,
    /// The offending value (redacted for secrets); `None` when it is missing.
    pub value: Option<String>,
    pub expected: String,
}

impl Settings {
    /// Reads the process environment.
    ///
    /// # Errors
    /// The first invalid or missing value.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests can pass a map.
    ///
    /// # Errors
    /// The first invalid or missing value.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        load::load(&lookup)
    }
}
