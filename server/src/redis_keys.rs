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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_the_prefix() {
        assert_eq!(RedisKeys::new("test:1:").prefix(), "test:1:");
    }
}
