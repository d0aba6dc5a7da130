//! The one error type of the HTTP surface. Every failure becomes an RFC 9457
//! `application/problem+json` body carrying the request id; internal causes
//! are logged once and never sent to the client.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use contract::api::{FieldError, PROBLEM_CONTENT_TYPE, Problem};

use crate::auth::password::HashError;
use crate::http::request_id;

/// Marks a response caused by a failed database connection, so the
/// pipeline can have the database probed at once.
#[derive(Debug, Clone, Copy)]
pub struct DatabaseFailed;

/// The codes of a database that is busy (its pool timed out) or down: the
/// pipeline counts the first and has the database probed at once on the second.
const DATABASE_BUSY: &str = "database_busy";
const DATABASE_UNAVAILABLE: &str = "database_unavailable";

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("authentication required")]
    Unauthorized,
    #[error("forbidden")]
    Forbidden,
    #[error(
        "confirm your email address first: see the verification mail, or sign in with a one-time code"
    )]
    EmailNotVerified,
    #[error("not found")]
    NotFound,
    /// A 404 with its own code, when the client must tell what is missing
    /// (`user_not_found`: the session search named no account).
    #[error("{detail}")]
    Missing {
        code: &'static str,
        detail: &'static str,
    },
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    #[error("{detail}")]
    Conflict {
        code: &'static str,
        detail: &'static str,
    },
    #[error("invalid input")]
    Validation(Vec<FieldError>),
    /// A well-formed request that cannot be processed, with its own code
    /// (422 `idempotency_key_reused`).
    #[error("{detail}")]
    Unprocessable {
        code: &'static str,
        detail: &'static str,
    },
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("too many requests")]
    RateLimited { retry_after: Duration },
    #[error("{detail}")]
    Unavailable {
        code: &'static str,
        detail: &'static str,
        retry_after: Duration,
    },
    /// Shared (`Arc`) so the error is `Clone`: `anyhow::Error` is not.
    #[error("{0}")]
    Internal(Arc<anyhow::Error>),
}

impl From<anyhow::Error> for ApiError {
    fn from(cause: anyhow::Error) -> Self {
        Self::Internal(Arc::new(cause))
    }
}

impl ApiError {
    /// One invalid field, as a 422.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    /// The HTTP status and the stable machine word of the `code` field.
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            Self::EmailNotVerified => (StatusCode::FORBIDDEN, "email_not_verified"),
            Self::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Self::Missing { code, .. } => (StatusCode::NOT_FOUND, code),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            Self::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            Self::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            Self::Unprocessable { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::Unavailable { code, .. } => (StatusCode::SERVICE_UNAVAILABLE, code),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } | Self::Unavailable { retry_after, .. } => {
                Some(*retry_after)
            }
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let Self::Internal(cause) = &self {
            tracing::error!(error = ?cause, "internal error");
            crate::error_tracking::report(cause);
        } else {
            tracing::debug!(status = status.as_u16(), error = %self, "request refused");
        }
        let detail = match &self {
            // Internal details stay in the log.
            Self::Internal(_) => None,
            other => Some(other.to_string()),
        };
        let errors = match self {
            Self::Validation(ref errors) => errors.clone(),
            _ => Vec::new(),
        };
        let mut response = problem_response(status, code, detail, errors);
        match code {
            DATABASE_BUSY => {
                response
                    .extensions_mut()
                    .insert(crate::metrics::PoolTimedOut);
            }
            DATABASE_UNAVAILABLE => {
                response.extensions_mut().insert(DatabaseFailed);
            }
            _ => {}
        }
        let headers = response.headers_mut();
        if let Some(retry_after) = self.retry_after() {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after_seconds(retry_after)),
            );
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Whole seconds for `Retry-After`, rounded up so a client never retries early.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.max(1)
}

/// Builds a problem body with the current request id.
pub fn problem_response(
    status: StatusCode,
    code: &'static str,
    detail: Option<String>,
    errors: Vec<FieldError>,
) -> Response {
    let problem = Problem {
        type_: format!("urn:tenk:problem:{code}"),
        title: status.canonical_reason().unwrap_or("Error").to_string(),
        status: status.as_u16(),
        detail,
        code: code.to_string(),
        request_id: request_id::current().unwrap_or_default(),
        errors,
    };
    let mut response = (status, axum::Json(problem)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
    );
    response
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            // A saturated pool answers fast so clients back off (DB_ACQUIRE_TIMEOUT).
            sqlx::Error::PoolTimedOut => Self::Unavailable {
                code: DATABASE_BUSY,
                detail: "the database is busy, try again shortly",
                retry_after: Duration::from_secs(1),
            },
            sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolClosed => {
                tracing::warn!(error = %error, "database unavailable");
                Self::database_unavailable()
            }
            // The server is shutting down or cannot take the connection
            // (a fast stop ends in-flight transactions with 57P01): nothing
            // was committed, and the client may retry.
            sqlx::Error::Database(ref database)
                if database
                    .code()
                    .is_some_and(|code| is_unavailable_state(&code)) =>
            {
                tracing::warn!(error = %error, "database unavailable");
                Self::database_unavailable()
            }
            // Every foreign key points at the acting account (a post's
            // author): a violation means the account was deleted while one
            // of its tokens was still in flight, so the token is refused.
            sqlx::Error::Database(ref database) if database.is_foreign_key_violation() => {
                tracing::info!("write refused: the acting account no longer exists");
                Self::Unauthorized
            }
            other => Self::from(anyhow::Error::new(other).context("database query failed")),
        }
    }
}

impl From<crate::domain::Invalid> for ApiError {
    fn from(error: crate::domain::Invalid) -> Self {
        Self::invalid(&error.field, error.message)
    }
}

impl From<HashError> for ApiError {
    fn from(error: HashError) -> Self {
        match error {
            HashError::Busy => Self::Unavailable {
                code: "busy",
                detail: "too many sign-ins at once, try again shortly",
                retry_after: Duration::from_secs(1),
            },
            HashError::TooLongForBcrypt => Self::invalid(
                "password",
                "must be at most 72 bytes with PASSWORD_HASH=bcrypt",
            ),
            HashError::TooLong => Self::invalid("password", "must be at most 1024 bytes"),
            HashError::Failed(cause) => anyhow::anyhow!(cause).into(),
        }
    }
}

impl From<crate::db::DatabaseDown> for ApiError {
    fn from(_: crate::db::DatabaseDown) -> Self {
        Self::database_unavailable()
    }
}

/// SQLSTATEs of a server that is going away or refusing connections: class
/// 08 (connection exception), 57P01-57P03 (admin or crash shutdown, cannot
/// connect now) and 53300 (too many connections).
fn is_unavailable_state(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
}

/// Redis is moving a primary (a cluster's MOVED/ASK after the client's
/// retries, TRYAGAIN, CLUSTERDOWN; MASTERDOWN, READONLY, LOADING), for a
/// command or inside a refused transaction: the request can succeed in a
/// moment, so 503 with Retry-After, not 500.
fn is_failing_over(error: &redis::RedisError) -> bool {
    use redis::ServerErrorKind::{
        Ask, BusyLoading, ClusterDown, MasterDown, Moved, ReadOnly, TryAgain,
    };
    let moving = |kind| {
        matches!(
            kind,
            Some(Moved | Ask | TryAgain | ClusterDown | MasterDown | ReadOnly | BusyLoading)
        )
    };
    error
        .clone()
        .into_server_errors()
        .is_some_and(|refused| refused.iter().any(|(_, refusal)| moving(refusal.kind())))
}

impl From<redis::RedisError> for ApiError {
    fn from(error: redis::RedisError) -> Self {
        if error.is_timeout()
            || error.is_io_error()
            || error.is_connection_dropped()
            || error.is_connection_refusal()
            || is_failing_over(&error)
        {
            tracing::warn!(error = %error, "redis unavailable");
            return Self::redis_unavailable();
        }
        Self::from(anyhow::Error::new(error).context("redis command failed"))
    }
}

impl ApiError {
    /// The same answer for another request that shared this failed load (a
    /// coalesced cache miss); an internal cause is carried as text, so it is
    /// logged once as itself and once per waiter as that text.
    pub fn for_another_waiter(&self) -> Self {
        match self {
            Self::Internal(cause) => anyhow::anyhow!("{cause:#}").into(),
            other => other.clone(),
        }
    }

    /// PostgreSQL cannot be reached (or is known to be down).
    pub fn database_unavailable() -> Self {
        Self::Unavailable {
            code: DATABASE_UNAVAILABLE,
            detail: "the database is unavailable, try again shortly",
            retry_after: Duration::from_secs(1),
        }
    }

    /// Redis could not be reached in time; sessions and limits cannot be checked.
    pub fn redis_unavailable() -> Self {
        Self::Unavailable {
            code: "redis_unavailable",
            detail: "the session store is unavailable, try again shortly",
            retry_after: Duration::from_secs(5),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_and_is_at_least_one_second() {
        assert_eq!(retry_after_seconds(Duration::from_millis(10)), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_seconds(Duration::from_secs(3)), 3);
    }

    #[test]
    fn a_server_going_away_is_unavailable_not_internal() {
        for code in ["57P01", "57P02", "57P03", "53300", "08006", "08001"] {
            assert!(is_unavailable_state(code), "{code}");
        }
        for code in ["23505", "23503", "40001", "42P01"] {
            assert!(!is_unavailable_state(code), "{code}");
        }
    }

    /// A Redis error as the client reports a reply such as `-MOVED 1 host:1`.
    fn redis_reply(reply: &str) -> redis::RedisError {
        let value = redis::parse_redis_value(format!("{reply}\r\n").as_bytes()).expect("RESP");
        value.extract_error().expect_err("an error reply")
    }

    #[test]
    fn redis_failing_over_is_unavailable_not_internal() {
        let status = |error| ApiError::from(error).into_response().status();
        for reply in [
            "-MOVED 3999 127.0.0.1:6381",
            "-ASK 3999 127.0.0.1:6381",
            "-TRYAGAIN Multiple keys request during rehashing of slot",
            "-CLUSTERDOWN The cluster is down",
            "-MASTERDOWN Link with MASTER is down",
            "-READONLY You can't write against a read only replica.",
            "-LOADING Redis is loading the dataset in memory",
        ] {
            let error = redis_reply(reply);
            assert_eq!(status(error), StatusCode::SERVICE_UNAVAILABLE, "{reply}");
        }
        for reply in [
            "-NOSCRIPT No matching script",
            "-ERR wrong number of arguments",
        ] {
            let error = redis_reply(reply);
            assert_eq!(status(error), StatusCode::INTERNAL_SERVER_ERROR, "{reply}");
        }
    }

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let response = ApiError::from(anyhow::anyhow!("password=hunter2")).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
