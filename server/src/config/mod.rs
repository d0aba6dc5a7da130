//! Typed settings, read once at start from the environment (and `.env`).
//!
//! The seed's variable names are the interface. Each variable is declared
//! once, on one line below: its field, its name, its default and parser (the
//! readers of `load.rs`) and how `check-config` shows it (`describe.rs`). The
//! same line puts it in [`Settings::variables`], which `.env.example` is
//! tested against. A bad value stops the start with one line naming the
//! variable, the value and what was expected. Secrets are [`SecretString`],
//! so `Debug` redacts them.

#[macro_use]
mod declare;
mod describe;
mod load;
mod parse;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use secrecy::SecretString;

use describe as show;
pub use describe::redact_url;
use load::{
    Reader, cors_origins, database_url, ops_token, optional, or, or_else, random_instance_id,
    redis_topology, redis_url, signing_secret, smtp_url,
};
use parse::{
    app_url, boolean, bytes, cores, days, dsn, int, ip_address, key_prefix, log_filter, mailbox,
    millis, networks, nonzero, per, policy, postgres_urls, secret, secs, socket_address, text,
    within,
};

/// A development-only JWT secret, so the quick start needs no setup.
/// Production refuses to start with it.
pub const DEV_JWT_SECRET: &str = "tenk-development-only-jwt-secret-do-not-use-in-production";

/// A development-only key for one-time-code hashes; production refuses it.
pub const DEV_OTP_SECRET: &str = "tenk-development-only-otp-secret-do-not-use-in-production";

settings! {
    /// Everything the server reads from its environment.
    #[derive(Debug, Clone)]
    pub struct Settings(vars) {
        pub env: AppEnv = var("APP_ENV" | "NODE_ENV", or(AppEnv::Development, AppEnv::parse));
        /// Names this process in health bodies and logs (`INSTANCE_ID`, else the host name).
        pub instance_id: String =
            var("INSTANCE_ID" | "HOSTNAME", or_else(random_instance_id, text));
        /// `CLUSTER_MODE` from the seed: accepted and ignored, since one process already
        /// uses every core through `WORKERS` tokio worker threads.
        pub cluster_mode: bool = var("CLUSTER_MODE", or(false, boolean), show::cluster_mode);
        pub http: HttpSettings = section(env);
        pub database: DatabaseSettings = section(env);
        pub redis: RedisSettings = section();
        pub log: LogSettings = section(env);
        /// Bearer token guarding `/metrics` and `/api/health/detailed`.
        pub ops_token: Option<SecretString> = var("OPS_TOKEN", ops_token(env));
        /// Serve `/metrics` on this address instead of the API listener.
        pub metrics_addr: Option<SocketAddr> =
            var("METRICS_ADDR", optional(socket_address), show::metrics_addr);
        /// Scrapes within this long of the last one reuse its cluster-wide
        /// session count instead of asking Redis again (0: every scrape asks).
        pub metrics_sessions_refresh: Duration =
            var("METRICS_SESSIONS_REFRESH", or(secs(2), within(secs(0), secs(3600))));
        pub auth: AuthSettings = section(env);
        pub rate_limit: RateLimitSettings = section();
        pub otp: OtpSettings = section(env);
        pub mail: MailSettings = section(env);
        /// Error tracking: internal errors and panics go to this Sentry DSN.
        pub sentry_dsn: Option<SecretString> = var("SENTRY_DSN", optional(dsn), show::optional_url);
        pub cache: CacheSettings = section();
    }
}

choices! {
    pub enum AppEnv {
        Development = "development" | "dev" | "test",
        Production = "production" | "prod",
    }
}

impl AppEnv {
    pub fn is_production(self) -> bool {
        self == Self::Production
    }

    /// `production` in production, else `development`.
    pub(crate) fn pick<T>(self, development: T, production: T) -> T {
        if self.is_production() {
            production
        } else {
            development
        }
    }
}

settings! {
    #[derive(Debug, Clone)]
    pub struct HttpSettings(vars, env: AppEnv) {
        // Containers need every interface; a laptop should not expose a dev server.
        pub host: IpAddr = var(
            "HOST",
            or(env.pick(Ipv4Addr::LOCALHOST, Ipv4Addr::UNSPECIFIED).into(), ip_address)
        );
        pub port: u16 = var("PORT", or(8080, int(0, 65_535)));
        /// Tokio worker threads: the seed's `WORKERS`.
        pub workers: usize = var("WORKERS", or(cores(), int(1, 1024)));
        pub request_timeout: Duration =
            var("REQUEST_TIMEOUT", or(secs(30), within(millis(100), secs(3600))));
        pub body_limit: usize =
            var("REQUEST_BODY_LIMIT", or(1024 * 1024, bytes(1024, 64 * 1024 * 1024)));
        pub shutdown_timeout: Duration =
            var("SHUTDOWN_TIMEOUT", or(secs(30), within(secs(0), secs(3600))));
        /// After SIGTERM, readiness answers 503 this long before the listener
        /// closes, so load balancers stop sending first.
        pub drain_delay: Duration =
            var("DRAIN_DELAY", or(env.pick(secs(0), secs(5)), within(secs(0), secs(600))));
        /// Requests handled at once; past it they are shed with 503.
        pub max_in_flight: usize =
            var("HTTP_MAX_IN_FLIGHT", or(256 * cores().min(64), int(1, 1_000_000)));
        /// Connections open at once; past it they are refused with 503.
        pub max_connections: usize = var(
            "HTTP_MAX_CONNECTIONS",
            or(crate::process::default_max_connections(cores()), int(1, 1_000_000))
        );
        /// Time to send a request's headers; also bounds keep-alive idleness.
        pub header_timeout: Duration =
            var("HTTP_HEADER_TIMEOUT", or(secs(10), within(millis(100), secs(3600))));
        pub cors: CorsSettings = section();
        /// `Strict-Transport-Security` max-age; `None` (0) sends no HSTS header.
        pub hsts_max_age: Option<Duration> = var(
            "HSTS_MAX_AGE",
            or(env.pick(None, Some(days(365))), nonzero(within(secs(0), days(730)))),
            show::hsts
        );
    }
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

settings! {
    #[derive(Debug, Clone)]
    pub struct CorsSettings(vars) {
        pub allow_credentials: bool = var("CORS_ALLOW_CREDENTIALS", or(false, boolean));
        pub origins: CorsOrigins = var("CORS_ORIGINS", cors_origins(allow_credentials));
        pub max_age: Duration = var("CORS_MAX_AGE", or(secs(600), within(secs(0), days(1))));
    }
}

settings! {
    #[derive(Debug, Clone)]
    pub struct DatabaseSettings(vars, env: AppEnv) {
        pub url: SecretString = var(
            "DATABASE_URL",
            database_url(env, "postgres://postgres@127.0.0.1:5432/tenk"),
            show::url
        );
        pub read_urls: Vec<SecretString> =
            var("DATABASE_READ_URLS", or(Vec::new(), postgres_urls), show::urls);
        pub pool_max: u32 = var("DB_POOL_MAX", or(20, int(1, 10_000)));
        pub pool_min: u32 = var(
            "DB_POOL_MIN",
            or(0, int(0, 10_000)).refusing(
                |&min| min > pool_max,
                format!("a whole number from 0 to DB_POOL_MAX ({pool_max})")
            )
        );
        pub idle_timeout: Duration = var("DB_IDLE_TIMEOUT", or(secs(20), within(secs(1), days(1))));
        pub connect_timeout: Duration =
            var("DB_CONNECT_TIMEOUT", or(secs(10), within(millis(100), secs(300))));
        pub acquire_timeout: Duration =
            var("DB_ACQUIRE_TIMEOUT", or(millis(500), within(millis(50), secs(300))));
        pub ssl_mode: SslMode = var("DB_SSL_MODE", or(SslMode::Prefer, SslMode::parse));
        /// Prepared statements cached per connection; 0 behind PgBouncer in
        /// transaction mode, where a connection's statements vanish between
        /// transactions.
        pub statement_cache: usize = var("DB_STATEMENT_CACHE", or(100, int(0, 10_000)));
        /// Create the database and apply migrations at start (off behind a
        /// transaction-pooling PgBouncer: run `tenk-server migrate` directly).
        pub migrate_on_start: bool = var("DB_MIGRATE_ON_START", or(true, boolean));
    }
}

choices! {
    /// `DB_SSL_MODE`, as libpq spells it.
    pub enum SslMode {
        Disable = "disable",
        Prefer = "prefer",
        Require = "require",
        VerifyCa = "verify-ca",
        VerifyFull = "verify-full",
    }
}

settings! {
    #[derive(Debug, Clone)]
    pub struct RedisSettings(vars) {
        inputs {
            host = "REDIS_HOST", or("127.0.0.1".into(), text);
            port = "REDIS_PORT", or(6379_u16, int(1, 65_535));
            password = "REDIS_PASSWORD", optional(text);
            db = "REDIS_DB", or(0_u32, int(0, 1_000));
            cluster_nodes = "REDIS_CLUSTER_NODES", optional(text);
            sentinels = "REDIS_SENTINELS", optional(text);
            master = "REDIS_SENTINEL_MASTER", optional(text);
        }
        /// `REDIS_URL`, or one built from `REDIS_HOST`/`PORT`/`PASSWORD`/`DB`.
        pub url: SecretString = var("REDIS_URL", redis_url(host, port, password, db), show::url);
        pub command_timeout: Duration =
            var("REDIS_COMMAND_TIMEOUT", or(millis(250), within(millis(10), secs(60))));
        pub connect_timeout: Duration =
            var("REDIS_CONNECT_TIMEOUT", or(secs(5), within(millis(10), secs(60))));
        pub keepalive: Duration = var("REDIS_KEEPALIVE", or(secs(30), within(secs(1), secs(3600))));
        /// Every key this instance writes starts with it (tests use one per test).
        pub key_prefix: String = var("REDIS_KEY_PREFIX", or("tenk:".into(), key_prefix));
        /// The seed's `ENABLE_AUTO_PIPELINING`: the multiplexed connection always
        /// pipelines concurrent commands; `false` caps it at one in flight.
        pub auto_pipelining: bool = var("ENABLE_AUTO_PIPELINING", or(true, boolean));
        pub topology: RedisTopology = derived(
            redis_topology(cluster_nodes, sentinels, master)?,
            "REDIS_MODE",
            show::topology
        );
    }
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

settings! {
    #[derive(Debug, Clone)]
    pub struct LogSettings(vars, env: AppEnv) {
        pub format: LogFormat =
            var("LOG_FORMAT", or(env.pick(LogFormat::Pretty, LogFormat::Json), LogFormat::parse));
        /// An `EnvFilter` directive such as `info` or `tenk_server=debug,info`.
        pub level: String = var("LOG_LEVEL", or("info".into(), log_filter));
    }
}

choices! {
    pub enum LogFormat {
        Json = "json",
        Pretty = "pretty" | "text",
    }
}

settings! {
    #[derive(Debug, Clone)]
    pub struct AuthSettings(vars, env: AppEnv) {
        pub password_hash: PasswordHashKind =
            var("PASSWORD_HASH", or(PasswordHashKind::Argon2id, PasswordHashKind::parse));
        // bcrypt below cost 10 is too cheap for real passwords (OWASP); development
        // may go lower so the load test can seed thousands of accounts quickly.
        pub bcrypt_rounds: u32 = var("BCRYPT_ROUNDS", or(10, int(env.pick(4, 10), 31)));
        pub jwt_secret: SecretString = var("JWT_SECRET", signing_secret(env, DEV_JWT_SECRET));
        pub jwt_secret_previous: Option<SecretString> =
            var("JWT_SECRET_PREVIOUS", optional(secret(32, "at least 32 bytes")));
        pub jwt_issuer: String = var("JWT_ISSUER", or("tenk".into(), text));
        pub jwt_audience: String = var("JWT_AUDIENCE", or("tenk-api".into(), text));
        pub access_token_ttl: Duration =
            var("ACCESS_TOKEN_TTL", or(secs(900), within(secs(10), days(1))));
        /// Absolute lifetime of a session (the seed's `SESSION_TTL`).
        pub session_ttl: Duration = var("SESSION_TTL", or(secs(7200), within(secs(60), days(90))));
        /// A session unused for this long ends.
        pub session_idle_timeout: Duration =
            var("SESSION_IDLE_TIMEOUT", or(secs(1800), within(secs(60), session_ttl)));
        /// How long after a rotation a duplicate refresh of the just-rotated
        /// token gets the same new pair instead of revoking the session (0: never).
        pub refresh_token_reuse_interval: Duration =
            var("REFRESH_TOKEN_REUSE_INTERVAL", or(secs(10), within(secs(0), secs(60))));
        /// Lifetime of a password-reset token.
        pub password_reset_ttl: Duration =
            var("PASSWORD_RESET_TTL", or(secs(900), within(secs(1), days(1))));
        /// Lifetime of an email-verification token.
        pub email_verification_ttl: Duration =
            var("EMAIL_VERIFICATION_TTL", or(days(1), within(secs(60), days(30))));
        /// Refuse password login until the address is verified.
        pub require_verified_email: bool =
            var("REQUIRE_VERIFIED_EMAIL", or(env.is_production(), boolean));
        /// Base URL of the web app, for links in mails (`{APP_URL}/reset-password?token=`).
        pub app_url: Option<String> = var("APP_URL", optional(app_url));
    }
}

choices! {
    pub enum PasswordHashKind {
        Argon2id = "argon2id" | "argon2",
        Bcrypt = "bcrypt",
    }
}

settings! {
    /// One-time-code login.
    #[derive(Debug, Clone)]
    pub struct OtpSettings(vars, env: AppEnv) {
        /// Digits per code (6 to 10).
        pub length: u32 = var("OTP_LENGTH", or(6, int(6, 10)));
        pub ttl: Duration = var("OTP_TTL", or(secs(300), within(secs(1), secs(600))));
        pub resend_interval: Duration =
            var("OTP_RESEND_INTERVAL", or(secs(60), within(secs(1), secs(3600))));
        pub max_attempts: u32 = var("OTP_MAX_ATTEMPTS", or(5, int(1, 10)));
        /// Create the account on a successful verify of an unknown address.
        pub auto_signup: bool = var("OTP_AUTO_SIGNUP", or(false, boolean));
        /// HMAC key for stored codes.
        pub secret: SecretString = var("OTP_SECRET", signing_secret(env, DEV_OTP_SECRET));
    }
}

settings! {
    #[derive(Debug, Clone)]
    pub struct MailSettings(vars, env: AppEnv) {
        pub transport: MailTransport = var(
            "MAIL_TRANSPORT",
            or(env.pick(MailTransport::Log, MailTransport::Smtp), MailTransport::parse).refusing(
                |&t| env.is_production() && t == MailTransport::Log,
                "smtp in production (log writes codes to the log)"
            )
        );
        /// `smtp://user:pass@host:587?tls=required` or `smtps://host:465`.
        pub smtp_url: Option<SecretString> =
            var("SMTP_URL", smtp_url(transport), show::optional_url);
        pub from: String = var("MAIL_FROM", or("tenk <no-reply@localhost>".into(), mailbox));
        pub queue_size: usize = var("MAIL_QUEUE_SIZE", or(1000, int(1, 1_000_000)));
        pub timeout: Duration = var("MAIL_TIMEOUT", or(secs(10), within(millis(100), secs(300))));
        pub retries: u32 = var("MAIL_RETRIES", or(3, int(0, 10)));
    }
}

choices! {
    pub enum MailTransport {
        Smtp = "smtp",
        /// Development: the message, code included, goes to the log.
        Log = "log",
    }
}

/// A limit: at most `limit` requests per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub limit: u32,
    pub window: Duration,
}

settings! {
    #[derive(Debug, Clone)]
    pub struct RateLimitSettings(vars) {
        /// `RATE_LIMIT_ENABLED`: off only for benchmarks and trusted test rigs.
        pub enabled: bool = var("RATE_LIMIT_ENABLED", or(true, boolean));
        pub auth: Policy = var("RATE_LIMIT_AUTH", or(per(50, 300), policy));
        pub api: Policy = var("RATE_LIMIT_API", or(per(1000, 60), policy));
        pub public: Policy = var("RATE_LIMIT_PUBLIC", or(per(2000, 60), policy));
        /// One-time-code requests per email address.
        pub otp_request: Policy = var("RATE_LIMIT_OTP_REQUEST", or(per(5, 900), policy));
        /// One-time-code requests per client IP.
        pub otp_request_ip: Policy = var("RATE_LIMIT_OTP_REQUEST_IP", or(per(20, 900), policy));
        /// One-time-code verifications per client IP.
        pub otp_verify: Policy = var("RATE_LIMIT_OTP_VERIFY", or(per(20, 900), policy));
        /// Failed logins per account, whatever the IP (ASVS 2.2.1).
        pub login_failures: Policy = var("RATE_LIMIT_LOGIN_FAILURES", or(per(100, 3600), policy));
        /// Bound on each Redis check, so an outage costs little latency.
        pub redis_timeout: Duration =
            var("RATE_LIMIT_REDIS_TIMEOUT", or(millis(250), within(millis(1), secs(10))));
        /// Peers whose `X-Forwarded-For` is believed.
        pub trusted_proxies: Vec<ipnet::IpNet> = var("TRUSTED_PROXIES", or(Vec::new(), networks));
    }
}

settings! {
    #[derive(Debug, Clone)]
    pub struct CacheSettings(vars) {
        pub enabled: bool = var("ENABLE_APP_CACHE", or(true, boolean));
        pub size: u64 = var("APP_CACHE_SIZE", or(10_000, int(1, 10_000_000)));
    }
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

/// A declared variable; `shown` when `check-config` prints a line for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variable {
    pub name: &'static str,
    pub shown: bool,
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
        Self::load(&load::Vars::new(&lookup))
    }

    /// Every variable declared above, in declaration order.
    pub fn variables() -> Vec<Variable> {
        let mut out = Vec::new();
        Self::declare_into(&mut out);
        out
    }

    /// Each effective setting as `(VARIABLE, value)`, secrets redacted, in
    /// declaration order.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        self.describe_into(&mut out);
        out
    }
}
