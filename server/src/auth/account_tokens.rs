//! Single-use account tokens (password reset, email verification): 256
//! random bits handed to the user, stored in Redis only as a SHA-256 digest
//! naming the user, with a lifetime. Consuming is one `GETDEL`: a token
//! works once, even when presented twice at the same moment.

use std::time::Duration;

use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::random_token;
use crate::redis_client::RedisClient;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    PasswordReset,
    VerifyEmail,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::PasswordReset => "password_reset",
            Self::VerifyEmail => "verify_email",
        }
    }
}

fn digest(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Issues a token for `user_id`.
///
/// # Errors
/// Redis failed.
pub async fn issue(
    redis: &RedisClient,
    purpose: Purpose,
    user_id: Uuid,
    lifetime: Duration,
) -> redis::RedisResult<String> {
    let token = random_token(32);
    let key = redis
        .keys()
        .account_token(purpose.as_str(), &digest(&token));
    let mut connection = redis.connection();
    let millis = u64::try_from(lifetime.as_millis()).unwrap_or(u64::MAX);
    redis::cmd("SET")
        .arg(key)
        .arg(user_id.to_string())
        .arg("PX")
        .arg(millis)
        .query_async::<()>(&mut connection)
        .await?;
    Ok(token)
}

/// Consumes a token: its user, once; `None` for unknown, used or expired ones.
///
/// # Errors
/// Redis failed.
pub async fn consume(
    redis: &RedisClient,
    purpose: Purpose,
    token: &str,
) -> redis::RedisResult<Option<Uuid>> {
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    let key = redis.keys().account_token(purpose.as_str(), &digest(token));
    let mut connection = redis.connection();
    let user: Option<String> = redis::cmd("GETDEL")
        .arg(key)
        .query_async(&mut connection)
        .await?;
    Ok(user.and_then(|user| user.parse().ok()))
}
