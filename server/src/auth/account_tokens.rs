//! Single-use account tokens (password reset, email verification): 256
//! random bits handed to the user, stored in Redis only as a SHA-256 digest
//! naming the user, with a lifetime. Consuming is one `GETDEL`: a token
//! works once, even when presented twice at the same moment.
//!
//! Only the newest token of a user and purpose works: issuing one records
//! its digest as the user's current one (and deletes the previous token),
//! and consuming checks the token is still the current one, so even two
//! tokens issued at the same moment leave exactly one usable.

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
    let keys = redis.keys();
    let token_digest = digest(&token);
    let key = keys.account_token(purpose.as_str(), &token_digest);
    let mut connection = redis.connection();
    let millis = u64::try_from(lifetime.as_millis()).unwrap_or(u64::MAX);
    redis::cmd("SET")
        .arg(key)
        .arg(user_id.to_string())
        .arg("PX")
        .arg(millis)
        .query_async::<()>(&mut connection)
        .await?;
    // The token and the pointer live in different hash slots on a cluster:
    // two commands, made safe by the check in `consume`.
    let previous: Option<String> = redis::cmd("SET")
        .arg(keys.account_token_current(purpose.as_str(), &user_id))
        .arg(&token_digest)
        .arg("PX")
        .arg(millis)
        .arg("GET")
        .query_async(&mut connection)
        .await?;
    if let Some(previous) = previous.filter(|previous| *previous != token_digest) {
        redis::cmd("DEL")
            .arg(keys.account_token(purpose.as_str(), &previous))
            .query_async::<()>(&mut connection)
            .await?;
    }
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
    let keys = redis.keys();
    let token_digest = digest(token);
    let key = keys.account_token(purpose.as_str(), &token_digest);
    let mut connection = redis.connection();
    let user: Option<String> = redis::cmd("GETDEL")
        .arg(key)
        .query_async(&mut connection)
        .await?;
    let Some(user_id) = user.and_then(|user| user.parse::<Uuid>().ok()) else {
        return Ok(None);
    };
    let current: Option<String> = redis::cmd("GET")
        .arg(keys.account_token_current(purpose.as_str(), &user_id))
        .query_async(&mut connection)
        .await?;
    Ok((current.as_deref() == Some(token_digest.as_str())).then_some(user_id))
}
