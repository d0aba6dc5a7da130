//! Builds [`Settings`] from a variable lookup, checking each value.

use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::PgConnectOptions;

use super::RedisTopology;
use super::parse::{boolean, byte_size, duration, networks, policy, whole_number};
use super::{
    AppEnv, AuthSettings, CacheSettings, ConfigError, CorsOrigins, CorsSettings, DEV_JWT_SECRET,
    DEV_OTP_SECRET, DatabaseSettings, HttpSettings, LogFormat, LogSettings, MailSettings,
    MailTransport, OtpSettings, PasswordHashKind, Policy, RateLimitSettings, RedisSettings,
    Settings, SslMode,
};

const SECOND: Duration = Duration::from_secs(1);
const MIN_SECRET_BYTES: usize = 32;
const MIN_OPS_TOKEN_BYTES: usize = 16;

/// Reads variables; empty values count as unset (`REDIS_PASSWORD=` in `.env`).
struct Vars<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl Vars<'_> {
    fn raw(&self, var: &str) -> Option<String> {
        (self.lookup)(var).filter(|value| !value.trim().is_empty())
    }

    /// Parses `var` with `parse`, or returns `default` when it is unset.
    fn get<T>(
        &self,
        var: &'static str,
        default: T,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        match self.raw(var) {
            None => Ok(default),
            Some(raw) => parse(&raw).map_err(|expected| invalid(var, &raw, expected)),
        }
    }

    fn duration(
        &self,
        var: &'static str,
        default: Duration,
        min: Duration,
        max: Duration,
    ) -> Result<Duration, ConfigError> {
        self.get(var, default, |raw| duration(raw, min, max))
    }

    fn secret(&self, var: &'static str) -> Option<SecretString> {
        self.raw(var).map(SecretString::from)
    }
}

fn invalid(var: &'static str, raw: &str, expected: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        value: Some(raw.to_string()),
        expected: expected.into(),
    }
}

fn missing(var: &'static str, expected: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        value: None,
        expected: expected.into(),
    }
}

/// A secret's value is never printed, only its length.
fn invalid_secret(var: &'static str, secret: &SecretString, expected: &str) -> ConfigError {
    let length = secret.expose_secret().len();
    invalid(var, &format!("<redacted, {length} bytes>"), expected)
}

pub(super) fn load(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
    let vars = Vars { lookup };
    let env = app_env(&vars)?;
    let settings = Settings {
        env,
        http: http(&vars, env)?,
        database: database(&vars, env)?,
        redis: redis(&vars)?,
        log: log(&vars, env)?,
        auth: auth(&vars, env)?,
        cache: CacheSettings {
            enabled: vars.get("ENABLE_APP_CACHE", true, boolean)?,
            size: vars.get("APP_CACHE_SIZE", 10_000, |raw| {
                whole_number(raw, 1, 10_000_000)
            })?,
        },
        rate_limit: rate_limit(&vars)?,
        otp: otp(&vars, env)?,
        mail: mail(&vars, env)?,
        ops_token: ops_token(&vars, env)?,
        sentry_dsn: match vars.raw("SENTRY_DSN") {
            Some(raw) if raw.parse::<sentry::types::Dsn>().is_ok() => Some(SecretString::from(raw)),
            Some(raw) => {
                return Err(invalid(
                    "SENTRY_DSN",
                    &super::redact_url(&raw),
                    "a DSN such as https://key@o1.ingest.sentry.io/1",
                ));
            }
            None => None,
        },
        metrics_addr: vars.get("METRICS_ADDR", None, |raw| {
            raw.trim()
                .parse()
                .map(Some)
                .map_err(|_| "an address such as 127.0.0.1:9100".into())
        })?,
        metrics_sessions_refresh: vars.duration(
            "METRICS_SESSIONS_REFRESH",
            2 * SECOND,
            Duration::ZERO,
            3600 * SECOND,
        )?,
        instance_id: vars
            .raw("INSTANCE_ID")
            .or_else(|| vars.raw("HOSTNAME"))
            .unwrap_or_else(|| format!("tenk-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])),
        cluster_mode: vars.get("CLUSTER_MODE", false, boolean)?,
    };
    Ok(settings)
}

/// `APP_ENV`, or the Node stack's `NODE_ENV` as an alias.
fn app_env(vars: &Vars<'_>) -> Result<AppEnv, ConfigError> {
    let (var, raw) = match (vars.raw("APP_ENV"), vars.raw("NODE_ENV")) {
        (Some(raw), _) => ("APP_ENV", raw),
        (None, Some(raw)) => ("NODE_ENV", raw),
        (None, None) => return Ok(AppEnv::Development),
    };
    match raw.trim().to_ascii_lowercase().as_str() {
        "development" | "dev" | "test" => Ok(AppEnv::Development),
        "production" | "prod" => Ok(AppEnv::Production),
        _ => Err(invalid(var, &raw, "development or production")),
    }
}

fn http(vars: &Vars<'_>, env: AppEnv) -> Result<HttpSettings, ConfigError> {
    // Containers need every interface; a laptop should not expose a dev server.
    let default_host = if env.is_production() {
        "0.0.0.0"
    } else {
        "127.0.0.1"
    };
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    Ok(HttpSettings {
        host: vars.get(
            "HOST",
            IpAddr::from_str(default_host).unwrap_or([0, 0, 0, 0].into()),
            |raw| {
                IpAddr::from_str(raw.trim())
                    .map_err(|_| "an IP address such as 0.0.0.0 or ::".into())
            },
        )?,
        port: vars.get("PORT", 8080, |raw| whole_number(raw, 0, 65_535))?,
        workers: vars.get("WORKERS", cores, |raw| whole_number(raw, 1, 1024))?,
        request_timeout: vars.duration(
            "REQUEST_TIMEOUT",
            30 * SECOND,
            Duration::from_millis(100),
            3600 * SECOND,
        )?,
        cors: cors(vars)?,
        hsts_max_age: {
            let default = if env.is_production() {
                365 * 86_400 * SECOND
            } else {
                Duration::ZERO
            };
            let age = vars.duration(
                "HSTS_MAX_AGE",
                default,
                Duration::ZERO,
                2 * 365 * 86_400 * SECOND,
            )?;
            (!age.is_zero()).then_some(age)
        },
        body_limit: vars.get("REQUEST_BODY_LIMIT", 1024 * 1024, |raw| {
            byte_size(raw, 1024, 64 * 1024 * 1024)
        })?,
        shutdown_timeout: vars.duration(
            "SHUTDOWN_TIMEOUT",
            30 * SECOND,
            Duration::ZERO,
            3600 * SECOND,
        )?,
        drain_delay: vars.duration(
            "DRAIN_DELAY",
            if env.is_production() {
                5 * SECOND
            } else {
                Duration::ZERO
            },
            Duration::ZERO,
            600 * SECOND,
        )?,
        max_in_flight: vars.get("HTTP_MAX_IN_FLIGHT", 256 * cores.min(64), |raw| {
            whole_number(raw, 1, 1_000_000)
        })?,
        max_connections: vars.get(
            "HTTP_MAX_CONNECTIONS",
            crate::process::default_max_connections(cores),
            |raw| whole_number(raw, 1, 1_000_000),
        )?,
        header_timeout: vars.duration(
            "HTTP_HEADER_TIMEOUT",
            10 * SECOND,
            Duration::from_millis(100),
            3600 * SECOND,
        )?,
    })
}

fn database(vars: &Vars<'_>, env: AppEnv) -> Result<DatabaseSettings, ConfigError> {
    let url = match vars.raw("DATABASE_URL") {
        Some(raw) => postgres_url("DATABASE_URL", &raw)?,
        None if env.is_production() => {
            return Err(missing("DATABASE_URL", "a postgres:// URL in production"));
        }
        None => SecretString::from("postgres://postgres@127.0.0.1:5432/tenk"),
    };
    let read_urls = match vars.raw("DATABASE_READ_URLS") {
        None => Vec::new(),
        Some(raw) => raw
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| postgres_url("DATABASE_READ_URLS", part))
            .collect::<Result<_, _>>()?,
    };
    let pool_max = vars.get("DB_POOL_MAX", 20, |raw| whole_number(raw, 1, 10_000))?;
    let pool_min = vars.get("DB_POOL_MIN", 0, |raw| whole_number(raw, 0, 10_000))?;
    if pool_min > pool_max {
        return Err(invalid(
            "DB_POOL_MIN",
            &pool_min.to_string(),
            format!("a whole number from 0 to DB_POOL_MAX ({pool_max})"),
        ));
    }
    Ok(DatabaseSettings {
        url,
        read_urls,
        pool_max,
        pool_min,
        idle_timeout: vars.duration("DB_IDLE_TIMEOUT", 20 * SECOND, SECOND, 86_400 * SECOND)?,
        connect_timeout: vars.duration(
            "DB_CONNECT_TIMEOUT",
            10 * SECOND,
            Duration::from_millis(100),
            300 * SECOND,
        )?,
        acquire_timeout: vars.duration(
            "DB_ACQUIRE_TIMEOUT",
            Duration::from_millis(500),
            Duration::from_millis(50),
            300 * SECOND,
        )?,
        ssl_mode: vars.get("DB_SSL_MODE", SslMode::Prefer, ssl_mode)?,
        statement_cache: vars.get("DB_STATEMENT_CACHE", 100, |raw| {
            whole_number(raw, 0, 10_000)
        })?,
        migrate_on_start: vars.get("DB_MIGRATE_ON_START", true, boolean)?,
    })
}

/// Checks that `raw` parses as a PostgreSQL URL; the value is redacted in errors.
fn postgres_url(var: &'static str, raw: &str) -> Result<SecretString, ConfigError> {
    let expected = "a URL such as postgres://user:password@host:5432/database";
    if !(raw.starts_with("postgres://") || raw.starts_with("postgresql://")) {
        return Err(invalid(var, &super::redact_url(raw), expected));
    }
    PgConnectOptions::from_str(raw).map_err(|_| invalid(var, &super::redact_url(raw), expected))?;
    Ok(SecretString::from(raw.to_string()))
}

fn ssl_mode(raw: &str) -> Result<SslMode, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "disable" => Ok(SslMode::Disable),
        "prefer" => Ok(SslMode::Prefer),
        "require" => Ok(SslMode::Require),
        "verify-ca" => Ok(SslMode::VerifyCa),
        "verify-full" => Ok(SslMode::VerifyFull),
        _ => Err("disable, prefer, require, verify-ca or verify-full".into()),
    }
}

fn redis(vars: &Vars<'_>) -> Result<RedisSettings, ConfigError> {
    let url = match vars.raw("REDIS_URL") {
        Some(raw) => {
            let expected = "a URL such as redis://:password@host:6379/0";
            redis::IntoConnectionInfo::into_connection_info(raw.as_str())
                .map_err(|_| invalid("REDIS_URL", &super::redact_url(&raw), expected))?;
            raw
        }
        None => {
            let host = vars.raw("REDIS_HOST").unwrap_or_else(|| "127.0.0.1".into());
            let port: u16 = vars.get("REDIS_PORT", 6379, |raw| whole_number(raw, 1, 65_535))?;
            let db: u32 = vars.get("REDIS_DB", 0, |raw| whole_number(raw, 0, 1_000))?;
            let password = vars
                .raw("REDIS_PASSWORD")
                .map(|password| format!(":{}@", percent_encode(&password)))
                .unwrap_or_default();
            format!("redis://{password}{host}:{port}/{db}")
        }
    };
    let key_prefix = vars
        .raw("REDIS_KEY_PREFIX")
        .unwrap_or_else(|| "tenk:".into());
    if key_prefix.len() > 64
        || key_prefix
            .chars()
            .any(|c| c.is_whitespace() || c == '{' || c == '}')
    {
        return Err(invalid(
            "REDIS_KEY_PREFIX",
            &key_prefix,
            "at most 64 characters without spaces or braces",
        ));
    }
    Ok(RedisSettings {
        url: SecretString::from(url),
        command_timeout: vars.duration(
            "REDIS_COMMAND_TIMEOUT",
            Duration::from_millis(250),
            Duration::from_millis(10),
            60 * SECOND,
        )?,
        connect_timeout: vars.duration(
            "REDIS_CONNECT_TIMEOUT",
            5 * SECOND,
            Duration::from_millis(10),
            60 * SECOND,
        )?,
        keepalive: vars.duration("REDIS_KEEPALIVE", 30 * SECOND, SECOND, 3600 * SECOND)?,
        key_prefix,
        auto_pipelining: vars.get("ENABLE_AUTO_PIPELINING", true, boolean)?,
        topology: redis_topology(vars)?,
    })
}

/// Percent-encodes a password for the userinfo part of a URL.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

fn log(vars: &Vars<'_>, env: AppEnv) -> Result<LogSettings, ConfigError> {
    let default_format = if env.is_production() {
        LogFormat::Json
    } else {
        LogFormat::Pretty
    };
    let format = vars.get("LOG_FORMAT", default_format, |raw| {
        match raw.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(LogFormat::Json),
            "pretty" | "text" => Ok(LogFormat::Pretty),
            _ => Err("json or pretty".into()),
        }
    })?;
    let level = vars.get("LOG_LEVEL", "info".to_string(), |raw| {
        tracing_subscriber::EnvFilter::try_new(raw.trim())
            .map(|_| raw.trim().to_string())
            .map_err(|_| "a level (error, warn, info, debug, trace) or a filter such as tenk_server=debug,info".into())
    })?;
    Ok(LogSettings { format, level })
}

fn auth(vars: &Vars<'_>, env: AppEnv) -> Result<AuthSettings, ConfigError> {
    let password_hash = vars.get("PASSWORD_HASH", PasswordHashKind::Argon2id, |raw| match raw
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "argon2" | "argon2id" => Ok(PasswordHashKind::Argon2id),
        "bcrypt" => Ok(PasswordHashKind::Bcrypt),
        _ => Err("argon2id or bcrypt".into()),
    })?;
    // bcrypt below cost 10 is too cheap for real passwords (OWASP); development
    // may go lower so the load test can seed thousands of accounts quickly.
    let min_rounds = if env.is_production() { 10 } else { 4 };
    let bcrypt_rounds = vars.get("BCRYPT_ROUNDS", 10, |raw| whole_number(raw, min_rounds, 31))?;
    let session_ttl = vars.duration(
        "SESSION_TTL",
        7200 * SECOND,
        60 * SECOND,
        90 * 86_400 * SECOND,
    )?;
    Ok(AuthSettings {
        password_hash,
        bcrypt_rounds,
        jwt_secret: jwt_secret(vars, env)?,
        jwt_secret_previous: match vars.secret("JWT_SECRET_PREVIOUS") {
            Some(secret) if secret.expose_secret().len() < MIN_SECRET_BYTES => {
                return Err(invalid_secret(
                    "JWT_SECRET_PREVIOUS",
                    &secret,
                    "at least 32 bytes",
                ));
            }
            other => other,
        },
        jwt_issuer: vars.raw("JWT_ISSUER").unwrap_or_else(|| "tenk".into()),
        jwt_audience: vars
            .raw("JWT_AUDIENCE")
            .unwrap_or_else(|| "tenk-api".into()),
        access_token_ttl: vars.duration(
            "ACCESS_TOKEN_TTL",
            900 * SECOND,
            10 * SECOND,
            86_400 * SECOND,
        )?,
        session_ttl,
        session_idle_timeout: vars.duration(
            "SESSION_IDLE_TIMEOUT",
            1800 * SECOND,
            60 * SECOND,
            session_ttl,
        )?,
        refresh_token_reuse_interval: vars.duration(
            "REFRESH_TOKEN_REUSE_INTERVAL",
            10 * SECOND,
            Duration::ZERO,
            60 * SECOND,
        )?,
        password_reset_ttl: vars.duration(
            "PASSWORD_RESET_TTL",
            900 * SECOND,
            SECOND,
            86_400 * SECOND,
        )?,
        email_verification_ttl: vars.duration(
            "EMAIL_VERIFICATION_TTL",
            86_400 * SECOND,
            60 * SECOND,
            30 * 86_400 * SECOND,
        )?,
        require_verified_email: vars.get("REQUIRE_VERIFIED_EMAIL", env.is_production(), boolean)?,
        app_url: match vars.raw("APP_URL") {
            Some(raw) if raw.starts_with("https://") || raw.starts_with("http://") => {
                Some(raw.trim_end_matches('/').to_string())
            }
            Some(raw) => {
                return Err(invalid(
                    "APP_URL",
                    &raw,
                    "an http(s):// URL such as https://app.example.com",
                ));
            }
            None => None,
        },
    })
}

fn jwt_secret(vars: &Vars<'_>, env: AppEnv) -> Result<SecretString, ConfigError> {
    let expected = "a random secret of at least 32 bytes (openssl rand -base64 48)";
    match vars.secret("JWT_SECRET") {
        None if env.is_production() => Err(missing("JWT_SECRET", expected)),
        None => Ok(SecretString::from(DEV_JWT_SECRET)),
        Some(secret) if secret.expose_secret().len() < MIN_SECRET_BYTES => {
            Err(invalid_secret("JWT_SECRET", &secret, expected))
        }
        Some(secret) if env.is_production() && secret.expose_secret() == DEV_JWT_SECRET => {
            Err(invalid_secret(
                "JWT_SECRET",
                &secret,
                "a secret of your own, not the development default",
            ))
        }
        Some(secret) => Ok(secret),
    }
}

fn ops_token(vars: &Vars<'_>, env: AppEnv) -> Result<Option<SecretString>, ConfigError> {
    let expected = "a random token of at least 16 bytes guarding /metrics and /api/health/detailed";
    match vars.secret("OPS_TOKEN") {
        None if env.is_production() => {
            Err(missing("OPS_TOKEN", format!("{expected} in production")))
        }
        Some(token) if token.expose_secret().len() < MIN_OPS_TOKEN_BYTES => {
            Err(invalid_secret("OPS_TOKEN", &token, expected))
        }
        token => Ok(token),
    }
}

fn rate_limit(vars: &Vars<'_>) -> Result<RateLimitSettings, ConfigError> {
    let per = |limit, seconds| Policy {
        limit,
        window: Duration::from_secs(seconds),
    };
    Ok(RateLimitSettings {
        enabled: vars.get("RATE_LIMIT_ENABLED", true, boolean)?,
        auth: vars.get("RATE_LIMIT_AUTH", per(50, 300), policy)?,
        api: vars.get("RATE_LIMIT_API", per(1000, 60), policy)?,
        public: vars.get("RATE_LIMIT_PUBLIC", per(2000, 60), policy)?,
        otp_request: vars.get("RATE_LIMIT_OTP_REQUEST", per(5, 900), policy)?,
        otp_request_ip: vars.get("RATE_LIMIT_OTP_REQUEST_IP", per(20, 900), policy)?,
        otp_verify: vars.get("RATE_LIMIT_OTP_VERIFY", per(20, 900), policy)?,
        login_failures: vars.get("RATE_LIMIT_LOGIN_FAILURES", per(100, 3600), policy)?,
        trusted_proxies: vars.get("TRUSTED_PROXIES", Vec::new(), networks)?,
        redis_timeout: vars.duration(
            "RATE_LIMIT_REDIS_TIMEOUT",
            Duration::from_millis(250),
            Duration::from_millis(1),
            10 * SECOND,
        )?,
    })
}

fn otp(vars: &Vars<'_>, env: AppEnv) -> Result<OtpSettings, ConfigError> {
    let expected = "a random secret of at least 32 bytes (openssl rand -base64 48)";
    let secret = match vars.secret("OTP_SECRET") {
        None if env.is_production() => return Err(missing("OTP_SECRET", expected)),
        None => SecretString::from(DEV_OTP_SECRET),
        Some(secret) if secret.expose_secret().len() < MIN_SECRET_BYTES => {
            return Err(invalid_secret("OTP_SECRET", &secret, expected));
        }
        Some(secret) if env.is_production() && secret.expose_secret() == DEV_OTP_SECRET => {
            return Err(invalid_secret(
                "OTP_SECRET",
                &secret,
                "a secret of your own, not the development default",
            ));
        }
        Some(secret) => secret,
    };
    Ok(OtpSettings {
        length: vars.get("OTP_LENGTH", 6, |raw| whole_number(raw, 6, 10))?,
        ttl: vars.duration("OTP_TTL", 300 * SECOND, SECOND, 600 * SECOND)?,
        resend_interval: vars.duration(
            "OTP_RESEND_INTERVAL",
            60 * SECOND,
            SECOND,
            3600 * SECOND,
        )?,
        max_attempts: vars.get("OTP_MAX_ATTEMPTS", 5, |raw| whole_number(raw, 1, 10))?,
        auto_signup: vars.get("OTP_AUTO_SIGNUP", false, boolean)?,
        secret,
    })
}

fn mail(vars: &Vars<'_>, env: AppEnv) -> Result<MailSettings, ConfigError> {
    let default = if env.is_production() {
        MailTransport::Smtp
    } else {
        MailTransport::Log
    };
    let transport = vars.get("MAIL_TRANSPORT", default, |raw| {
        match raw.trim().to_ascii_lowercase().as_str() {
            "smtp" => Ok(MailTransport::Smtp),
            "log" => Ok(MailTransport::Log),
            _ => Err("smtp or log".into()),
        }
    })?;
    if env.is_production() && transport == MailTransport::Log {
        return Err(invalid(
            "MAIL_TRANSPORT",
            "log",
            "smtp in production (log writes codes to the log)",
        ));
    }
    let smtp_url = match vars.raw("SMTP_URL") {
        Some(raw) => {
            let expected =
                "a URL such as smtp://user:password@host:587?tls=required or smtps://host:465";
            let scheme_ok = raw.starts_with("smtp://") || raw.starts_with("smtps://");
            let parses =
                lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(&raw).is_ok();
            if !(scheme_ok && parses) {
                return Err(invalid("SMTP_URL", &super::redact_url(&raw), expected));
            }
            Some(SecretString::from(raw))
        }
        None if transport == MailTransport::Smtp => {
            return Err(missing(
                "SMTP_URL",
                "an smtp:// or smtps:// URL when MAIL_TRANSPORT=smtp",
            ));
        }
        None => None,
    };
    let from = vars
        .raw("MAIL_FROM")
        .unwrap_or_else(|| "tenk <no-reply@localhost>".into());
    if from.parse::<lettre::message::Mailbox>().is_err() {
        return Err(invalid(
            "MAIL_FROM",
            &from,
            "a mailbox such as \"tenk <no-reply@example.com>\"",
        ));
    }
    Ok(MailSettings {
        transport,
        smtp_url,
        from,
        queue_size: vars.get("MAIL_QUEUE_SIZE", 1000, |raw| {
            whole_number(raw, 1, 1_000_000)
        })?,
        timeout: vars.duration(
            "MAIL_TIMEOUT",
            10 * SECOND,
            Duration::from_millis(100),
            300 * SECOND,
        )?,
        retries: vars.get("MAIL_RETRIES", 3, |raw| whole_number(raw, 0, 10))?,
    })
}

fn cors(vars: &Vars<'_>) -> Result<CorsSettings, ConfigError> {
    let allow_credentials = vars.get("CORS_ALLOW_CREDENTIALS", false, boolean)?;
    let origins = match vars.raw("CORS_ORIGINS") {
        None => CorsOrigins::None,
        Some(raw) if raw.trim() == "*" => {
            if allow_credentials {
                // Browsers refuse it, and it would hand every site the user's session.
                return Err(invalid(
                    "CORS_ORIGINS",
                    "*",
                    "explicit origins when CORS_ALLOW_CREDENTIALS=true",
                ));
            }
            CorsOrigins::Any
        }
        Some(raw) => {
            let origins: Vec<String> = raw
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_string())
                .filter(|o| !o.is_empty())
                .collect();
            let valid = |origin: &String| {
                let rest = origin
                    .strip_prefix("https://")
                    .or_else(|| origin.strip_prefix("http://"));
                rest.is_some_and(|host| !host.is_empty() && !host.contains(['/', '*', ' ']))
                    && axum::http::HeaderValue::from_str(origin).is_ok()
            };
            if let Some(bad) = origins.iter().find(|origin| !valid(origin)) {
                return Err(invalid(
                    "CORS_ORIGINS",
                    bad,
                    "origins such as https://app.example.com,http://localhost:3000, or *",
                ));
            }
            CorsOrigins::List(origins)
        }
    };
    Ok(CorsSettings {
        origins,
        allow_credentials,
        max_age: vars.duration(
            "CORS_MAX_AGE",
            600 * SECOND,
            Duration::ZERO,
            86_400 * SECOND,
        )?,
    })
}

fn redis_topology(vars: &Vars<'_>) -> Result<RedisTopology, ConfigError> {
    let list = |raw: &str| -> Vec<String> {
        raw.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    };
    match (
        vars.raw("REDIS_CLUSTER_NODES"),
        vars.raw("REDIS_SENTINELS"),
        vars.raw("REDIS_SENTINEL_MASTER"),
    ) {
        (None, None, None) => Ok(RedisTopology::Single),
        (Some(raw), None, None) => {
            let nodes: Vec<String> = list(&raw)
                .into_iter()
                .map(|node| {
                    if node.contains("://") {
                        node
                    } else {
                        format!("redis://{node}")
                    }
                })
                .collect();
            let expected = "redis:// URLs or host:port of cluster nodes, comma-separated";
            if nodes.is_empty()
                || nodes
                    .iter()
                    .any(|n| redis::IntoConnectionInfo::into_connection_info(n.as_str()).is_err())
            {
                return Err(invalid(
                    "REDIS_CLUSTER_NODES",
                    &super::redact_url(&raw),
                    expected,
                ));
            }
            Ok(RedisTopology::Cluster { nodes })
        }
        (None, Some(raw), Some(master)) => {
            let sentinels = list(&raw);
            let valid = |s: &String| {
                s.rsplit_once(':')
                    .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
            };
            if sentinels.is_empty() || !sentinels.iter().all(valid) {
                return Err(invalid(
                    "REDIS_SENTINELS",
                    &raw,
                    "host:port of sentinels, comma-separated",
                ));
            }
            Ok(RedisTopology::Sentinel { sentinels, master })
        }
        (None, Some(_), None) => Err(missing(
            "REDIS_SENTINEL_MASTER",
            "the monitored master's name with REDIS_SENTINELS",
        )),
        (None, None, Some(_)) => Err(missing(
            "REDIS_SENTINELS",
            "host:port of sentinels with REDIS_SENTINEL_MASTER",
        )),
        (Some(_), _, _) => Err(invalid(
            "REDIS_CLUSTER_NODES",
            "<set>",
            "either REDIS_CLUSTER_NODES or REDIS_SENTINELS, not both",
        )),
    }
}
