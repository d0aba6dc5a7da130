//! Per-account login protection, whatever the IP (ASVS 2.2.1): at most
//! `RATE_LIMIT_LOGIN_FAILURES` (100 per hour) failed logins per account,
//! and after the first five, a delay that doubles with each failure (1 s,
//! 2 s, 4 s, ... at most 15 min) instead of a lockout an attacker could use
//! to shut a victim out for good. A successful login clears the record.
//!
//! Each attempt reserves its failure up front, so a burst of parallel
//! guesses is throttled as if they came one by one; a success removes the
//! record, and an attempt that never judged the password (the database or
//! Redis unavailable: 503) gives its reservation back, so clients retrying
//! through an outage are not throttled as if they had guessed.
//! The account is keyed by a digest of the email, whether or not it exists,
//! so the throttle reveals nothing about which accounts exist.

use std::time::Duration;

use crate::redis_client::Script;
use sha2::{Digest, Sha256};

use crate::config::Policy;
use crate::redis_client::RedisClient;

const FREE_FAILURES: u32 = 5;
const MAX_DELAY: Duration = Duration::from_secs(15 * 60);

/// KEYS[1]: the account's failure times (ms, sorted set). ARGV: window ms,
/// limit, free failures, max delay ms, a unique member. Returns 0 and records
/// a reserved failure, or the ms to wait.
const RESERVE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n >= tonumber(ARGV[2]) then
  local oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
  return math.max(oldest + window - now, 1)
end
local free = tonumber(ARGV[3])
if n >= free then
  local last = tonumber(redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2])
  local delay = math.min(1000 * 2 ^ (n - free), tonumber(ARGV[4]))
  if now < last + delay then return last + delay - now end
end
redis.call('ZADD', KEYS[1], now, ARGV[5])
redis.call('PEXPIRE', KEYS[1], window)
return 0
";

pub struct LoginThrottle {
    script: Script,
    policy: Policy,
}

/// A reserved failure: kept if the login fails, released if it succeeds.
#[derive(Debug, Clone)]
pub struct Reservation {
    key: String,
    member: String,
}

fn account_key(redis: &RedisClient, email: &str) -> String {
    let digest = Sha256::digest(email.to_lowercase().as_bytes());
    let account: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    redis.keys().login_failures(&account)
}

impl LoginThrottle {
    pub fn new(policy: Policy) -> Self {
        Self {
            script: Script::new(RESERVE),
            policy,
        }
    }

    /// Reserves one failure for `email`, or says how long to wait.
    ///
    /// # Errors
    /// Redis failed (login then fails closed).
    pub async fn reserve(
        &self,
        redis: &RedisClient,
        email: &str,
    ) -> redis::RedisResult<Result<Reservation, Duration>> {
        let key = account_key(redis, email);
        let member = uuid::Uuid::new_v4().to_string();
        let mut connection = redis.connection();
        let wait_ms: u64 = self
            .script
            .key(&key)
            .arg(u64::try_from(self.policy.window.as_millis()).unwrap_or(u64::MAX))
            .arg(self.policy.limit)
            .arg(FREE_FAILURES)
            .arg(u64::try_from(MAX_DELAY.as_millis()).unwrap_or(u64::MAX))
            .arg(&member)
            .invoke_async(&mut connection)
            .await?;
        if wait_ms > 0 {
            return Ok(Err(Duration::from_millis(wait_ms)));
        }
        Ok(Ok(Reservation { key, member }))
    }

    /// The attempt ended before the password was judged (a dependency was
    /// unavailable): its reserved failure is removed, the others stay. Best
    /// effort: Redis may be the dependency that failed.
    pub async fn release(&self, redis: &RedisClient, reservation: Reservation) {
        let mut connection = redis.connection();
        let released: redis::RedisResult<()> = redis::cmd("ZREM")
            .arg(reservation.key)
            .arg(reservation.member)
            .query_async(&mut connection)
            .await;
        if let Err(error) = released {
            tracing::debug!(error = %error, "reserved login failure not released");
        }
    }

    /// A successful login: the account's failure record is cleared.
    ///
    /// # Errors
    /// Redis failed.
    pub async fn succeeded(
        &self,
        redis: &RedisClient,
        reservation: Reservation,
    ) -> redis::RedisResult<()> {
        let mut connection = redis.connection();
        redis::cmd("DEL")
            .arg(reservation.key)
            .query_async(&mut connection)
            .await
    }
}
