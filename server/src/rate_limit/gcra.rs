//! The shared limiter: GCRA (the generic cell rate algorithm) decided and
//! updated in one Lua script per check, on Redis's clock, so every instance
//! sees one exact count. Unlike a fixed window it never admits twice the
//! limit around a window edge: a full burst must be earned back at the
//! policy's rate.

use std::time::Duration;

use crate::redis_client::Script;

use super::Decision;
use crate::config::Policy;
use crate::redis_client::RedisClient;

/// KEYS[1]: the subject's key. ARGV[1]: emission interval (µs), ARGV[2]:
/// window (µs), ARGV[3] (tests only): the time (µs) instead of Redis's
/// `TIME`. Stores the theoretical arrival time (TAT). Returns
/// {allowed, wait µs, µs until the bucket is full again}.
const GCRA: &str = r"
local now = tonumber(ARGV[3])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - window
if now < allow_at then
  return {0, allow_at - now, tat - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000))
return {1, 0, new_tat - now}
";

pub struct Gcra {
    script: Script,
}

impl Default for Gcra {
    fn default() -> Self {
        Self {
            script: Script::new(GCRA),
        }
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

impl Gcra {
    /// One atomic check-and-count against `key`, on Redis's clock (one
    /// clock for every instance).
    ///
    /// # Errors
    /// Redis failed.
    pub async fn check(
        &self,
        redis: &RedisClient,
        key: &str,
        policy: Policy,
    ) -> redis::RedisResult<Decision> {
        self.check_at(redis, key, policy, None).await
    }

    /// [`check`](Self::check) at `now` (since the Unix epoch) instead of
    /// Redis's clock, so tests can drive time; `None` is Redis's clock.
    ///
    /// # Errors
    /// Redis failed.
    pub async fn check_at(
        &self,
        redis: &RedisClient,
        key: &str,
        policy: Policy,
        now: Option<Duration>,
    ) -> redis::RedisResult<Decision> {
        let window = micros(policy.window);
        let interval = (window / u64::from(policy.limit)).max(1);
        let mut connection = redis.connection();
        let (allowed, wait, until_full): (i64, i64, i64) = self
            .script
            .key(key)
            .arg(interval)
            .arg(window)
            // `None` adds no argument: the script reads Redis's `TIME`.
            .arg(now.map(micros))
            .invoke_async(&mut connection)
            .await?;
        let until_full = u64::try_from(until_full).unwrap_or(0);
        let used = until_full.div_ceil(interval);
        Ok(Decision {
            allowed: allowed == 1,
            remaining: u32::try_from(u64::from(policy.limit).saturating_sub(used)).unwrap_or(0),
            reset: Duration::from_micros(until_full),
            retry_after: Duration::from_micros(u64::try_from(wait).unwrap_or(0)),
        })
    }
}
