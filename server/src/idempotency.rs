//! Idempotency keys for the writes (`Idempotency-Key`, as in the IETF httpapi
//! draft and Stripe's API). A client that did not get an answer (a timeout,
//! a 503, a dropped connection) retries with the same key and gets the first
//! reply instead of a second write.
//!
//! The key's record lives in PostgreSQL and is written in the same
//! transaction as the write, so "saved" and "remembered" cannot disagree: the
//! key row is inserted first (a concurrent duplicate blocks on the primary
//! key until the first commits, then reads its reply), the write runs, its
//! reply is stored, and one commit makes both durable. A write that fails
//! rolls its key back, so the key stays free for a retry.
//!
//! Keys are scoped per user and expire after [`RETENTION_HOURS`]; a
//! background task purges expired rows.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::error::ApiError;

/// The request header carrying the key.
pub const HEADER: &str = "Idempotency-Key";
/// The response header marking a stored reply sent again.
pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";
/// How long a key is remembered.
pub const RETENTION_HOURS: i32 = 24;
/// The longest key accepted, in bytes.
pub const MAX_KEY_BYTES: usize = 255;
/// How often expired keys are purged.
const PURGE_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// Rows deleted per purge statement, so no statement holds locks for long.
const PURGE_BATCH: i64 = 5_000;
/// Attempts to claim a key whose holder vanished between two statements
/// (its row expired and was deleted by another request).
const CLAIM_ATTEMPTS: usize = 3;

/// The validated `Idempotency-Key` header of a request, if it has one.
#[derive(Debug, Clone, Default)]
pub struct IdempotencyKey(pub Option<String>);

impl IdempotencyKey {
    /// Parses a header value: 1 to 255 visible ASCII characters.
    ///
    /// # Errors
    /// 400 `invalid_idempotency_key` naming the header.
    pub fn parse(value: &[u8]) -> Result<Self, ApiError> {
        let valid = !value.is_empty()
            && value.len() <= MAX_KEY_BYTES
            && value.iter().all(|byte| byte.is_ascii_graphic());
        if !valid {
            return Err(malformed(
                "the Idempotency-Key header must be 1 to 255 visible ASCII characters",
            ));
        }
        // Visible ASCII is valid UTF-8.
        Ok(Self(Some(String::from_utf8_lossy(value).into_owned())))
    }
}

fn malformed(detail: &str) -> ApiError {
    ApiError::BadRequest {
        code: "invalid_idempotency_key",
        detail: detail.to_string(),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let mut values = parts.headers.get_all(HEADER).iter();
        let Some(value) = values.next() else {
            return Ok(Self(None));
        };
        if values.next().is_some() {
            return Err(malformed("the Idempotency-Key header must be sent once"));
        }
        Self::parse(value.as_bytes())
    }
}

/// A SHA-256 over what makes two requests "the same": the method, the route
/// template, the path parameters and the request body in canonical form (the
/// parsed request serialized again, so whitespace and key order do not
/// count). Every part is length-prefixed, so no two part lists collide.
pub struct Fingerprint(Sha256);

impl Fingerprint {
    /// Starts a fingerprint for `method` on `route` (the template, such as
    /// `/api/posts/{id}`).
    pub fn new(method: &str, route: &str) -> Self {
        Self(Sha256::new())
            .part(method.as_bytes())
            .part(route.as_bytes())
    }

    /// Adds one part (a path parameter, a body).
    #[must_use]
    pub fn part(mut self, bytes: &[u8]) -> Self {
        self.0.update((bytes.len() as u64).to_be_bytes());
        self.0.update(bytes);
        self
    }

    /// Adds a parsed request body, serialized canonically.
    ///
    /// # Errors
    /// The value cannot be serialized (a programming error).
    pub fn json<T: Serialize>(self, value: &T) -> Result<Self, ApiError> {
        let bytes = serde_json::to_vec(value).map_err(|error| {
            ApiError::from(anyhow::Error::new(error).context("cannot encode a fingerprint"))
        })?;
        Ok(self.part(&bytes))
    }

    fn finish(self) -> Vec<u8> {
        self.0.finalize().to_vec()
    }
}

/// The reply of a write: its status and JSON body (empty for 204).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Reply {
    /// A reply with `value` as its JSON body.
    ///
    /// # Errors
    /// The value cannot be serialized (a programming error).
    pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Result<Self, ApiError> {
        Ok(Self {
            status,
            body: crate::http::json::JsonBytes::encode(value)?,
        })
    }

    /// A reply without a body.
    pub fn empty(status: StatusCode) -> Self {
        Self {
            status,
            body: Bytes::new(),
        }
    }
}

/// What [`run`] answers: the reply, and whether it is a stored one.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub reply: Reply,
    /// The reply was stored by an earlier request with the same key; this
    /// request wrote nothing.
    pub replayed: bool,
}

impl IntoResponse for Outcome {
    fn into_response(self) -> Response {
        let mut response = (self.reply.status, self.reply.body).into_response();
        let headers = response.headers_mut();
        if self.reply.status != StatusCode::NO_CONTENT {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        if self.replayed {
            headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
        }
        response
    }
}

/// Runs `write` on the primary. Without a key it just runs. With one, the
/// key is claimed, the write runs and its reply is stored in one
/// transaction; a request whose key is already held by `user_id` gets the
/// stored reply (`replayed`), or 422 `idempotency_key_reused` if it is not
/// the same request. An error from `write` rolls the key back with the write.
///
/// # Errors
/// The error of `write`; 422 for a reused key; a database error (503 when
/// the database cannot be reached). Nothing after the commit can fail.
pub async fn run<F>(
    db: &PgPool,
    user_id: Uuid,
    key: IdempotencyKey,
    fingerprint: Fingerprint,
    write: F,
) -> Result<Outcome, ApiError>
where
    F: AsyncFnOnce(&mut PgConnection) -> Result<Reply, ApiError>,
{
    let Some(key) = key.0 else {
        let mut connection = db.acquire().await?;
        let reply = write(&mut *connection).await?;
        return Ok(Outcome {
            reply,
            replayed: false,
        });
    };
    let fingerprint = fingerprint.finish();
    for _ in 0..CLAIM_ATTEMPTS {
        let mut tx = db.begin().await?;
        // An expired record frees its key (the purge may not have run yet).
        crate::db::query(
            "delete from idempotency_keys where user_id = $1 and key = $2 \
             and created_at < now() - make_interval(hours => $3)",
        )
        .bind(user_id)
        .bind(&key)
        .bind(RETENTION_HOURS)
        .execute(&mut *tx)
        .await?;
        // Blocks while another transaction holds the key, until it ends.
        let claimed = crate::db::query(
            "insert into idempotency_keys (user_id, key, fingerprint, status, body) \
             values ($1, $2, $3, 0, '') on conflict (user_id, key) do nothing",
        )
        .bind(user_id)
        .bind(&key)
        .bind(&fingerprint)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if claimed {
            let reply = write(&mut *tx).await?;
            crate::db::query(
                "update idempotency_keys set status = $3, body = $4 \
                 where user_id = $1 and key = $2",
            )
            .bind(user_id)
            .bind(&key)
            .bind(i16::try_from(reply.status.as_u16()).unwrap_or(i16::MAX))
            .bind(reply.body.as_ref())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(Outcome {
                reply,
                replayed: false,
            });
        }
        // A new statement sees the holder's committed row.
        let stored: Option<(Vec<u8>, i16, Vec<u8>)> = crate::db::query_as(
            "select fingerprint, status, body from idempotency_keys \
             where user_id = $1 and key = $2",
        )
        .bind(user_id)
        .bind(&key)
        .fetch_optional(&mut *tx)
        .await?;
        drop(tx);
        let Some((stored_fingerprint, status, body)) = stored else {
            continue;
        };
        if stored_fingerprint != fingerprint {
            return Err(ApiError::Unprocessable {
                code: "idempotency_key_reused",
                detail: "this Idempotency-Key was used for a different request",
            });
        }
        let status = u16::try_from(status)
            .ok()
            .and_then(|status| StatusCode::from_u16(status).ok())
            .ok_or_else(|| {
                ApiError::from(anyhow::anyhow!(
                    "stored idempotent reply has status {status}"
                ))
            })?;
        return Ok(Outcome {
            reply: Reply {
                status,
                body: Bytes::from(body),
            },
            replayed: true,
        });
    }
    Err(ApiError::Conflict {
        code: "idempotency_key_busy",
        detail: "this Idempotency-Key is changing hands, retry",
    })
}

/// Deletes every key older than [`RETENTION_HOURS`], in batches.
///
/// # Errors
/// A database error.
pub async fn purge(db: &PgPool) -> Result<u64, sqlx::Error> {
    let mut purged = 0;
    loop {
        let deleted = crate::db::query(
            "delete from idempotency_keys where (user_id, key) in ( \
                 select user_id, key from idempotency_keys \
                 where created_at < now() - make_interval(hours => $1) limit $2)",
        )
        .bind(RETENTION_HOURS)
        .bind(PURGE_BATCH)
        .execute(db)
        .await?
        .rows_affected();
        purged += deleted;
        if deleted < PURGE_BATCH.unsigned_abs() {
            return Ok(purged);
        }
    }
}

/// Purges expired keys every [`PURGE_INTERVAL`] (and once at start).
pub fn spawn_purge(db: PgPool) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(PURGE_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match purge(&db).await {
                Ok(0) => {}
                Ok(purged) => tracing::debug!(purged, "expired idempotency keys purged"),
                Err(error) => tracing::warn!(error = %error, "cannot purge idempotency keys"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_one_to_255_visible_ascii_characters() {
        assert!(IdempotencyKey::parse(b"a").is_ok());
        assert!(IdempotencyKey::parse(b"8e03978e-40d5-43e8-bc93-6894a57f9324").is_ok());
        assert!(IdempotencyKey::parse(&[b'k'; 255]).is_ok());
        assert!(IdempotencyKey::parse(b"").is_err());
        assert!(IdempotencyKey::parse(&[b'k'; 256]).is_err());
        assert!(IdempotencyKey::parse(b"with space").is_err());
        assert!(IdempotencyKey::parse(b"tab\t").is_err());
        assert!(IdempotencyKey::parse("caf\u{e9}".as_bytes()).is_err());
    }

    #[test]
    fn fingerprints_separate_their_parts() {
        let one = Fingerprint::new("POST", "/a").part(b"bc").finish();
        let other = Fingerprint::new("POST", "/ab").part(b"c").finish();
        assert_ne!(one, other);
        let again = Fingerprint::new("POST", "/a").part(b"bc").finish();
        assert_eq!(one, again);
    }
}
