//! One-time codes (ASVS out-of-band verifiers). A code is `OTP_LENGTH`
//! digits from the OS CSPRNG. Redis keeps only an HMAC of it, bound to the
//! address it was sent to (so A's code is useless for B), for `OTP_TTL`;
//! a new request replaces the old code. Each verification first spends one
//! of `OTP_MAX_ATTEMPTS` (atomically), then compares in constant time; a
//! match is consumed by a compare-and-delete script, so two concurrent
//! correct submissions open exactly one session.

use crate::redis_client::Script;
use hmac::{Hmac, Mac};
use rand::TryRngCore;
use rand::rngs::OsRng;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::OtpSettings;
use crate::redis_client::RedisClient;

/// Spends one attempt and returns the stored hash, or nil when there is no
/// live code (none, expired, used, or out of attempts; then it is deleted).
const SPEND_ATTEMPT: &str = r"
local hash = redis.call('HGET', KEYS[1], 'h')
if not hash then return false end
local attempts = redis.call('HINCRBY', KEYS[1], 'a', 1)
if attempts > tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return false
end
return hash
";

/// Replaces the code of an address: its hash, no attempts yet, a lifetime.
const STORE: &str = r"
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'h', ARGV[1], 'a', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
";

/// Deletes the code only if it is still the one matched: 1 for the one winner.
const CONSUME: &str = r"
if redis.call('HGET', KEYS[1], 'h') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
";

pub struct OtpService {
    settings: OtpSettings,
    store: Script,
    spend: Script,
    consume: Script,
}

/// Whether a resend is allowed now.
#[derive(Debug, PartialEq, Eq)]
pub enum Resend {
    Allowed,
    Wait(std::time::Duration),
}

/// The address's key part: a digest, so keys hold no email address.
pub fn address_key(email: &str) -> String {
    Sha256::digest(email.to_lowercase().as_bytes())
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl OtpService {
    pub fn new(settings: OtpSettings) -> Self {
        Self {
            settings,
            store: Script::new(STORE),
            spend: Script::new(SPEND_ATTEMPT),
            consume: Script::new(CONSUME),
        }
    }

    pub fn settings(&self) -> &OtpSettings {
        &self.settings
    }

    /// A fresh code of `OTP_LENGTH` digits, uniform (rejection sampling).
    pub fn generate(&self) -> String {
        let modulus = 10_u64.pow(self.settings.length);
        // The largest multiple of the modulus below 2^64: values above it
        // would make low codes likelier.
        let zone = u64::MAX - (u64::MAX % modulus);
        loop {
            let Ok(value) = OsRng.try_next_u64() else {
                continue;
            };
            if value < zone {
                return format!(
                    "{:0width$}",
                    value % modulus,
                    width = self.settings.length as usize
                );
            }
        }
    }

    /// HMAC-SHA256 of the address and the code under `OTP_SECRET`.
    fn keyed_hash(&self, email: &str, code: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(self.settings.secret.expose_secret().as_bytes())
                .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(email.to_lowercase().as_bytes());
        mac.update(b"\0");
        mac.update(code.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Holds back another message of `purpose` (`otp`, `reset`, `verify`) to
    /// `email` for `OTP_RESEND_INTERVAL` after each request.
    ///
    /// # Errors
    /// Redis failed.
    pub async fn claim_resend(
        &self,
        redis: &RedisClient,
        purpose: &str,
        email: &str,
    ) -> redis::RedisResult<Resend> {
        let key = redis.keys().mail_resend(purpose, &address_key(email));
        let mut connection = redis.connection();
        let interval = u64::try_from(self.settings.resend_interval.as_millis()).unwrap_or(u64::MAX);
        let claimed: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(interval)
            .query_async(&mut connection)
            .await?;
        if claimed.is_some() {
            return Ok(Resend::Allowed);
        }
        let left: i64 = redis::cmd("PTTL")
            .arg(&key)
            .query_async(&mut connection)
            .await?;
        Ok(Resend::Wait(std::time::Duration::from_millis(
            u64::try_from(left).unwrap_or(1).max(1),
        )))
    }

    /// Stores `code` for `email`, replacing any earlier one.
    ///
    /// # Errors
    /// Redis failed.
    pub async fn store(
        &self,
        redis: &RedisClient,
        email: &str,
        code: &str,
    ) -> redis::RedisResult<()> {
        let key = redis.keys().otp(&address_key(email));
        let ttl = u64::try_from(self.settings.ttl.as_millis()).unwrap_or(u64::MAX);
        let mut connection = redis.connection();
        self.store
            .key(&key)
            .arg(self.keyed_hash(email, code))
            .arg(ttl)
            .invoke_async(&mut connection)
            .await
    }

    /// Checks `code` for `email`; true exactly once for the right code.
    ///
    /// # Errors
    /// Redis failed.
    pub async fn verify(
        &self,
        redis: &RedisClient,
        email: &str,
        code: &str,
    ) -> redis::RedisResult<bool> {
        let key = redis.keys().otp(&address_key(email));
        let mut connection = redis.connection();
        let stored: Option<String> = self
            .spend
            .key(&key)
            .arg(self.settings.max_attempts)
            .invoke_async(&mut connection)
            .await?;
        let Some(stored) = stored else {
            return Ok(false);
        };
        let presented = self.keyed_hash(email, code);
        if !bool::from(stored.as_bytes().ct_eq(presented.as_bytes())) {
            return Ok(false);
        }
        let won: i64 = self
            .consume
            .key(&key)
            .arg(&presented)
            .invoke_async(&mut connection)
            .await?;
        Ok(won == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn service(length: &str) -> OtpService {
        let settings =
            Settings::from_lookup(|name| (name == "OTP_LENGTH").then(|| length.to_string()))
                .unwrap();
        OtpService::new(settings.otp)
    }

    #[test]
    fn codes_have_the_configured_length_and_only_digits() {
        for length in ["6", "8", "10"] {
            let code = service(length).generate();
            assert_eq!(code.len(), length.parse::<usize>().unwrap());
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn ten_thousand_codes_show_no_bias() {
        // Chi-squared over the first digit (9 degrees of freedom): a fair
        // generator stays under 27.88 (p = 0.001) all but once in a thousand runs.
        let service = service("6");
        let mut counts = [0_u32; 10];
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let code = service.generate();
            counts[usize::from(code.as_bytes()[0] - b'0')] += 1;
            seen.insert(code);
        }
        let expected = 1_000.0;
        let chi2: f64 = counts
            .iter()
            .map(|&n| (f64::from(n) - expected).powi(2) / expected)
            .sum();
        assert!(chi2 < 27.88, "first digits {counts:?}, chi2 {chi2}");
        assert!(seen.len() > 9_900, "{} distinct", seen.len());
    }

    #[test]
    fn the_stored_hash_binds_the_code_to_its_address() {
        let service = service("6");
        assert_ne!(
            service.keyed_hash("a@example.com", "123456"),
            service.keyed_hash("b@example.com", "123456")
        );
        assert_eq!(
            service.keyed_hash("A@example.com", "123456"),
            service.keyed_hash("a@example.com", "123456")
        );
        assert!(
            !service
                .keyed_hash("a@example.com", "123456")
                .contains("123456")
        );
    }
}
