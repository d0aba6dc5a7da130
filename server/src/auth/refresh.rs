//! Refresh-token rotation with reuse detection and a reuse interval.
//!
//! Presenting the current refresh token of a session swaps it for the next
//! one, atomically, in the session hash. Presenting a token that was already
//! rotated is reuse: the session is revoked (a stolen token and its owner
//! cannot both keep going). One exception keeps honest clients that race
//! with themselves (two tabs, a retry after a lost response) signed in:
//! within `REFRESH_TOKEN_REUSE_INTERVAL` (10 s; 0 turns it off) of a
//! rotation, presenting the just-rotated token again returns the same new
//! refresh token (and a fresh access token for the same session), as long
//! as that new token has not itself been used. This is GoTrue's
//! `REFRESH_TOKEN_REUSE_INTERVAL` and Auth0's reuse leeway.
//!
//! The same new token can be handed out twice without keeping it anywhere:
//! the next secret is derived from the presented one, HMAC-SHA256 under
//! `JWT_SECRET` with the session id, so Redis still holds only digests.

use std::sync::LazyLock;

use crate::redis_client::Script;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use super::sessions::{IssuedSession, Refresh, RevokeReason};
use crate::domain::role::Role;
use crate::state::AppState;

/// KEYS[1]: the session hash. ARGV: digest of the presented secret, digest
/// of its successor, now (ms), the reuse interval (ms).
/// Returns {uid, role, exp} for a rotation or a duplicate within the
/// interval, -1 for reuse, 0 for an unknown token or session.
const ROTATE: &str = r"
local f = redis.call('HMGET', KEYS[1], 'uid', 'role', 'exp', 'rh', 'prev', 'prev_at')
if not f[1] then return 0 end
local now = tonumber(ARGV[3])
if f[4] == ARGV[1] then
  redis.call('HSET', KEYS[1], 'rh', ARGV[2], 'used:' .. ARGV[1], '1', 'seen', ARGV[3],
    'prev', ARGV[1], 'prev_at', ARGV[3])
  return {f[1], f[2], f[3]}
end
if f[5] == ARGV[1] and f[4] == ARGV[2] and now - tonumber(f[6]) < tonumber(ARGV[4]) then
  return {f[1], f[2], f[3]}
end
if redis.call('HEXISTS', KEYS[1], 'used:' .. ARGV[1]) == 1 then return -1 end
return 0
";

static SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(ROTATE));

/// Refresh tokens are stored as SHA-256 digests (as in `sessions`).
fn digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The secret that follows `secret` in session `id`: 256 bits, reproducible
/// only with the server's key.
fn successor(key: &[u8], id: &str, secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(b"tenk refresh rotation\0");
    mac.update(id.as_bytes());
    mac.update(b"\0");
    mac.update(secret.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
        .unwrap_or(i64::MAX)
}

/// Presents a refresh token (`{session}.{secret}`).
///
/// # Errors
/// Redis failed.
pub async fn refresh(state: &AppState, token: &str) -> redis::RedisResult<Refresh> {
    let Some((id, secret)) = token.split_once('.') else {
        return Ok(Refresh::Invalid);
    };
    if id.is_empty() || secret.is_empty() || token.len() > 128 {
        return Ok(Refresh::Invalid);
    }
    let auth = &state.settings.auth;
    let next_secret = successor(auth.jwt_secret.expose_secret().as_bytes(), id, secret);
    let interval = i64::try_from(auth.refresh_token_reuse_interval.as_millis()).unwrap_or(0);
    let mut connection = state.redis.connection();
    let outcome: redis::Value = SCRIPT
        .key(state.redis.keys().session(id))
        .arg(digest(secret))
        .arg(digest(&next_secret))
        .arg(now_ms())
        .arg(interval)
        .invoke_async(&mut connection)
        .await?;
    match outcome {
        redis::Value::Int(-1) => {
            state
                .sessions
                .revoke(id, RevokeReason::RefreshReuse)
                .await?;
            Ok(Refresh::Reused)
        }
        redis::Value::Array(_) => {
            let (uid, role, ends): (String, String, i64) = redis::from_redis_value(outcome)?;
            match (uid.parse(), Role::parse(&role)) {
                (Ok(user_id), Some(role)) => Ok(Refresh::Rotated(IssuedSession {
                    id: id.to_string(),
                    user_id,
                    role,
                    expires_at_ms: ends,
                    refresh_token: format!("{id}.{next_secret}"),
                })),
                _ => Ok(Refresh::Invalid),
            }
        }
        _ => Ok(Refresh::Invalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successors_are_long_distinct_and_need_the_key() {
        let next = successor(b"key", "session", "secret");
        assert_eq!(next.len(), 43, "256 bits, base64url");
        assert_eq!(next, successor(b"key", "session", "secret"));
        assert_ne!(next, successor(b"other key", "session", "secret"));
        assert_ne!(next, successor(b"key", "other session", "secret"));
        assert_ne!(next, successor(b"key", "session", "other secret"));
    }
}
