//! The only place Redis key strings are built. Every key starts with the
//! instance's `REDIS_KEY_PREFIX`, so tests (and tenants) never collide.

/// Builds keys under one prefix.
#[derive(Debug, Clone)]
pub struct RedisKeys {
    prefix: String,
}

impl RedisKeys {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A session's hash: user, role, times, client, refresh-token hashes.
    pub fn session(&self, session_id: &str) -> String {
        format!("{}session:{session_id}", self.prefix)
    }

    /// The set of a user's session ids.
    pub fn user_sessions(&self, user_id: &uuid::Uuid) -> String {
        format!("{}user_sessions:{user_id}", self.prefix)
    }

    /// Sorted set of every live session id, scored by when it ends (ms), so
    /// the cluster-wide active count is one O(log n) `ZCOUNT`.
    pub fn sessions_by_expiry(&self) -> String {
        format!("{}sessions_by_expiry", self.prefix)
    }

    /// A rate-limit subject's GCRA state. The braces are a Redis Cluster hash
    /// tag: one subject's key always lives on one node.
    pub fn rate_limit(&self, limit: &str, subject: &str) -> String {
        format!("{}rl:{{{limit}:{subject}}}", self.prefix)
    }

    /// The recent failed logins of one account (keyed by a digest of the email).
    pub fn login_failures(&self, account: &str) -> String {
        format!("{}login_failures:{{{account}}}", self.prefix)
    }

    /// The live one-time code of an address (its HMAC and attempts).
    pub fn otp(&self, address: &str) -> String {
        format!("{}otp:{{{address}}}", self.prefix)
    }

    /// Present while an address may not be sent another message of
    /// `purpose` (`otp` gives the historical `otp_resend:` key).
    pub fn mail_resend(&self, purpose: &str, address: &str) -> String {
        format!("{}{purpose}_resend:{{{address}}}", self.prefix)
    }

    /// The digest of the one live account token of a user for `purpose`:
    /// issuing a new token voids the earlier ones.
    pub fn account_token_current(&self, purpose: &str, user_id: &uuid::Uuid) -> String {
        format!("{}token_current:{purpose}:{user_id}", self.prefix)
    }

    /// A single-use account token, by purpose and digest.
    pub fn account_token(&self, purpose: &str, digest: &str) -> String {
        format!("{}token:{purpose}:{digest}", self.prefix)
    }

    /// The pub/sub channel carrying cache invalidations between instances.
    pub fn events_channel(&self) -> String {
        format!("{}events", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_carries_the_prefix() {
        let keys = RedisKeys::new("test:1:");
        let user = uuid::Uuid::nil();
        for key in [
            keys.session("s"),
            keys.user_sessions(&user),
            keys.sessions_by_expiry(),
            keys.events_channel(),
            keys.rate_limit("auth", "ip:127.0.0.1"),
            keys.login_failures("abc"),
        ] {
            assert!(key.starts_with("test:1:"), "{key}");
        }
        assert_eq!(keys.rate_limit("auth", "ip:::1"), "test:1:rl:{auth:ip:::1}");
        {}
    }
}
