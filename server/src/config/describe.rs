//! The effective settings as `VAR=value` lines for `tenk-server check-config`,
//! with every secret redacted.

use secrecy::ExposeSecret;

use super::parse::human;
use super::{LogFormat, PasswordHashKind, Settings, SslMode};

/// Replaces the password of a `scheme://user:password@host/...` URL with `***`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let authority_end = url[scheme_end..]
        .find('/')
        .map_or(url.len(), |i| scheme_end + i);
    match url[scheme_end..authority_end].rfind('@') {
        None => url.to_string(),
        Some(at) => {
            let userinfo = &url[scheme_end..scheme_end + at];
            let user = userinfo.split(':').next().unwrap_or_default();
            let masked = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_string()
            };
            format!("{}{masked}{}", &url[..scheme_end], &url[scheme_end + at..])
        }
    }
}

fn redacted(secret: Option<&secrecy::SecretString>) -> String {
    match secret {
        Some(_) => "<redacted>".into(),
        None => "<unset>".into(),
    }
}

impl Settings {
    /// Each effective setting as `(VARIABLE, value)`, secrets redacted.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        let db = &self.database;
        let redis = &self.redis;
        let auth = &self.auth;
        let http = &self.http;
        let read_urls: Vec<String> = db
            .read_urls
            .iter()
            .map(|url| redact_url(url.expose_secret()))
            .collect();
        vec![
            ("APP_ENV", self.env.as_str().into()),
            ("INSTANCE_ID", self.instance_id.clone()),
            ("HOST", http.host.to_string()),
            ("PORT", http.port.to_string()),
            ("WORKERS", http.workers.to_string()),
            (
                "CLUSTER_MODE",
                format!(
                    "{} (ignored: WORKERS threads use every core)",
                    self.cluster_mode
                ),
            ),
            ("REQUEST_TIMEOUT", human(http.request_timeout)),
            ("REQUEST_BODY_LIMIT", http.body_limit.to_string()),
            ("SHUTDOWN_TIMEOUT", human(http.shutdown_timeout)),
            ("DRAIN_DELAY", human(http.drain_delay)),
            ("HTTP_MAX_IN_FLIGHT", http.max_in_flight.to_string()),
            ("HTTP_MAX_CONNECTIONS", http.max_connections.to_string()),
            ("HTTP_HEADER_TIMEOUT", human(http.header_timeout)),
            ("DATABASE_URL", redact_url(db.url.expose_secret())),
            ("DATABASE_READ_URLS", read_urls.join(",")),
            ("DB_POOL_MAX", db.pool_max.to_string()),
            ("DB_POOL_MIN", db.pool_min.to_string()),
            ("DB_IDLE_TIMEOUT", human(db.idle_timeout)),
            ("DB_CONNECT_TIMEOUT", human(db.connect_timeout)),
            ("DB_ACQUIRE_TIMEOUT", human(db.acquire_timeout)),
            ("DB_SSL_MODE", ssl_mode_name(db.ssl_mode).into()),
            ("DB_STATEMENT_CACHE", db.statement_cache.to_string()),
            ("DB_MIGRATE_ON_START", db.migrate_on_start.to_string()),
            ("REDIS_URL", redact_url(redis.url.expose_secret())),
            ("REDIS_COMMAND_TIMEOUT", human(redis.command_timeout)),
            ("REDIS_CONNECT_TIMEOUT", human(redis.connect_timeout)),
            ("REDIS_KEEPALIVE", human(redis.keepalive)),
            ("REDIS_KEY_PREFIX", redis.key_prefix.clone()),
            ("ENABLE_AUTO_PIPELINING", redis.auto_pipelining.to_string()),
            ("REDIS_MODE", redis.topology.name().into()),
            (
                "LOG_FORMAT",
                match self.log.format {
                    LogFormat::Json => "json",
                    LogFormat::Pretty => "pretty",
                }
                .into(),
            ),
            ("LOG_LEVEL", self.log.level.clone()),
            ("OPS_TOKEN", redacted(self.ops_token.as_ref())),
            (
                "METRICS_ADDR",
                self.metrics_addr
                    .map_or_else(|| "<unset: /metrics on PORT>".into(), |a| a.to_string()),
            ),
            (
                "METRICS_SESSIONS_REFRESH",
                human(self.metrics_sessions_refresh),
            ),
            (
                "PASSWORD_HASH",
                match auth.password_hash {
                    PasswordHashKind::Argon2id => "argon2id",
                    PasswordHashKind::Bcrypt => "bcrypt",
                }
                .into(),
            ),
            ("BCRYPT_ROUNDS", auth.bcrypt_rounds.to_string()),
            ("JWT_SECRET", redacted(Some(&auth.jwt_secret))),
            (
                "JWT_SECRET_PREVIOUS",
                redacted(auth.jwt_secret_previous.as_ref()),
            ),
            ("JWT_ISSUER", auth.jwt_issuer.clone()),
            ("JWT_AUDIENCE", auth.jwt_audience.clone()),
            ("ACCESS_TOKEN_TTL", human(auth.access_token_ttl)),
            ("SESSION_TTL", human(auth.session_ttl)),
            ("SESSION_IDLE_TIMEOUT", human(auth.session_idle_timeout)),
            (
                "REFRESH_TOKEN_REUSE_INTERVAL",
                human(auth.refresh_token_reuse_interval),
            ),
            ("RATE_LIMIT_ENABLED", self.rate_limit.enabled.to_string()),
            ("RATE_LIMIT_AUTH", policy(self.rate_limit.auth)),
            ("RATE_LIMIT_API", policy(self.rate_limit.api)),
            ("RATE_LIMIT_PUBLIC", policy(self.rate_limit.public)),
            (
                "RATE_LIMIT_OTP_REQUEST",
                policy(self.rate_limit.otp_request),
            ),
            (
                "RATE_LIMIT_OTP_REQUEST_IP",
                policy(self.rate_limit.otp_request_ip),
            ),
            ("RATE_LIMIT_OTP_VERIFY", policy(self.rate_limit.otp_verify)),
            (
                "RATE_LIMIT_LOGIN_FAILURES",
                policy(self.rate_limit.login_failures),
            ),
            (
                "RATE_LIMIT_REDIS_TIMEOUT",
                human(self.rate_limit.redis_timeout),
            ),
            (
                "TRUSTED_PROXIES",
                self.rate_limit
                    .trusted_proxies
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            ("OTP_LENGTH", self.otp.length.to_string()),
            ("OTP_TTL", human(self.otp.ttl)),
            ("OTP_RESEND_INTERVAL", human(self.otp.resend_interval)),
            ("OTP_MAX_ATTEMPTS", self.otp.max_attempts.to_string()),
            ("OTP_AUTO_SIGNUP", self.otp.auto_signup.to_string()),
            ("OTP_SECRET", redacted(Some(&self.otp.secret))),
            (
                "MAIL_TRANSPORT",
                match self.mail.transport {
                    super::MailTransport::Smtp => "smtp",
                    super::MailTransport::Log => "log",
                }
                .into(),
            ),
            (
                "SMTP_URL",
                self.mail
                    .smtp_url
                    .as_ref()
                    .map_or_else(|| "<unset>".into(), |u| redact_url(u.expose_secret())),
            ),
            ("MAIL_FROM", self.mail.from.clone()),
            ("MAIL_QUEUE_SIZE", self.mail.queue_size.to_string()),
            ("MAIL_TIMEOUT", human(self.mail.timeout)),
            ("MAIL_RETRIES", self.mail.retries.to_string()),
            ("PASSWORD_RESET_TTL", human(auth.password_reset_ttl)),
            ("EMAIL_VERIFICATION_TTL", human(auth.email_verification_ttl)),
            (
                "REQUIRE_VERIFIED_EMAIL",
                auth.require_verified_email.to_string(),
            ),
            (
                "APP_URL",
                auth.app_url.clone().unwrap_or_else(|| "<unset>".into()),
            ),
            (
                "CORS_ORIGINS",
                match &http.cors.origins {
                    super::CorsOrigins::None => "<unset: no CORS headers>".into(),
                    super::CorsOrigins::Any => "*".into(),
                    super::CorsOrigins::List(list) => list.join(","),
                },
            ),
            (
                "CORS_ALLOW_CREDENTIALS",
                http.cors.allow_credentials.to_string(),
            ),
            ("CORS_MAX_AGE", human(http.cors.max_age)),
            (
                "HSTS_MAX_AGE",
                http.hsts_max_age.map_or_else(|| "0 (off)".into(), human),
            ),
            (
                "SENTRY_DSN",
                self.sentry_dsn
                    .as_ref()
                    .map_or_else(|| "<unset>".into(), |d| redact_url(d.expose_secret())),
            ),
            ("ENABLE_APP_CACHE", self.cache.enabled.to_string()),
            ("APP_CACHE_SIZE", self.cache.size.to_string()),
        ]
    }
}

fn policy(policy: super::Policy) -> String {
    format!("{}/{}", policy.limit, human(policy.window))
}

fn ssl_mode_name(mode: SslMode) -> &'static str {
    match mode {
        SslMode::Disable => "disable",
        SslMode::Prefer => "prefer",
        SslMode::Require => "require",
        SslMode::VerifyCa => "verify-ca",
        SslMode::VerifyFull => "verify-full",
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_in_urls_are_masked() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/tenk"),
            "postgres://app:***@db:5432/tenk"
        );
        assert_eq!(
            redact_url("redis://:pw@cache:6379/0"),
            "redis://:***@cache:6379/0"
        );
        assert_eq!(
            redact_url("postgres://app@db/tenk"),
            "postgres://app@db/tenk"
        );
        assert_eq!(redact_url("not a url"), "not a url");
    }
}
