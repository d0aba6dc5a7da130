//! The limits and their tiers, and the table of which limit each route
//! counts against. The router fills the table where it declares the routes
//! (`routes/mod.rs`); a route template not in it (unmatched requests) is
//! public.

use crate::config::{Policy, RateLimitSettings};

/// The tier label of `tenk_rate_limit_*` metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Auth,
    Api,
    Public,
    Otp,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Api => "api",
            Self::Public => "public",
            Self::Otp => "otp",
        }
    }

    /// Without Redis, auth and OTP refuse (an attacker must not get unlimited
    /// guesses during an outage); API and public traffic keeps flowing under a
    /// per-instance limiter.
    pub fn fails_closed(self) -> bool {
        matches!(self, Self::Auth | Self::Otp)
    }
}

/// A named limit: what it counts and the policy it applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Password routes, per client IP.
    Auth,
    /// Authenticated API routes, per user (per IP for anonymous calls).
    Api,
    /// Health, documents, metrics and unknown routes, per client IP.
    Public,
    /// One-time-code requests, per client IP.
    OtpRequestIp,
    /// One-time-code requests, per email address (checked by the handler).
    OtpRequestAddress,
    /// One-time-code verifications, per client IP.
    OtpVerify,
}

impl Limit {
    pub const ALL: [Self; 6] = [
        Self::Auth,
        Self::Api,
        Self::Public,
        Self::OtpRequestIp,
        Self::OtpRequestAddress,
        Self::OtpVerify,
    ];

    /// The position of this limit in `ALL` (declaration order).
    pub const fn index(self) -> usize {
        self as usize
    }

    pub fn tier(self) -> Tier {
        match self {
            Self::Auth => Tier::Auth,
            Self::Api => Tier::Api,
            Self::Public => Tier::Public,
            Self::OtpRequestIp | Self::OtpRequestAddress | Self::OtpVerify => Tier::Otp,
        }
    }

    /// The policy name in `RateLimit-Policy` / `RateLimit` headers and keys.
    pub fn name(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Api => "api",
            Self::Public => "public",
            Self::OtpRequestIp => "otp-request-ip",
            Self::OtpRequestAddress => "otp-request",
            Self::OtpVerify => "otp-verify",
        }
    }

    pub fn policy(self, settings: &RateLimitSettings) -> Policy {
        match self {
            Self::Auth => settings.auth,
            Self::Api => settings.api,
            Self::Public => settings.public,
            Self::OtpRequestIp => settings.otp_request_ip,
            Self::OtpRequestAddress => settings.otp_request,
            Self::OtpVerify => settings.otp_verify,
        }
    }
}

/// The limit of each route template, as the router declares it. Sorted by
/// template for a binary search: a few short comparisons per request, no
/// hashing (this is looked up on every request).
#[derive(Debug, Default)]
pub struct RouteLimits(Vec<(Box<str>, Limit)>);

impl RouteLimits {
    pub fn declare(&mut self, route: &str, limit: Limit) {
        match self.position(route) {
            Ok(found) => self.0[found].1 = limit,
            Err(place) => self.0.insert(place, (route.into(), limit)),
        }
    }

    /// The declared limit; public for a template the router never declared
    /// (the fallback's `unmatched`).
    pub fn of(&self, route: &str) -> Limit {
        self.position(route)
            .map_or(Limit::Public, |found| self.0[found].1)
    }

    fn position(&self, route: &str) -> Result<usize, usize> {
        self.0
            .binary_search_by(|(declared, _)| (**declared).cmp(route))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_limit_indexes_its_place_in_all() {
        for (position, limit) in Limit::ALL.iter().enumerate() {
            assert_eq!(limit.index(), position, "{limit:?}");
        }
    }

    #[test]
    fn a_route_counts_against_its_declared_limit_and_undeclared_ones_are_public() {
        let mut limits = RouteLimits::default();
        limits.declare("/api/auth/login", Limit::Auth);
        limits.declare("/api/auth/otp/verify", Limit::OtpVerify);
        assert_eq!(limits.of("/api/auth/login"), Limit::Auth);
        assert_eq!(limits.of("/api/auth/otp/verify").tier(), Tier::Otp);
        assert_eq!(limits.of("unmatched"), Limit::Public);
    }
}
