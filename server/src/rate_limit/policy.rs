//! Which limit each route falls under. Every route belongs to exactly one
//! limit (and so one tier), decided by its route template in one place.

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

    /// The limit of a route template (`unmatched` and unknown ones are public).
    pub fn for_route(route: &str) -> Self {
        match route {
            "/api/auth/register"
            | "/api/auth/login"
            | "/api/auth/refresh"
            | "/api/auth/logout"
            | "/api/auth/password/reset"
            | "/api/auth/verify-email" => Self::Auth,
            // Routes that send mail are throttled like code requests.
            "/api/auth/otp/request"
            | "/api/auth/password/forgot"
            | "/api/auth/verify-email/resend" => Self::OtpRequestIp,
            "/api/auth/otp/verify" => Self::OtpVerify,
            _ if [
                "/api/auth/sessions",
                "/api/users/",
                "/api/posts",
                "/api/admin/",
            ]
            .iter()
            .any(|prefix| route.starts_with(prefix)) =>
            {
                Self::Api
            }
            _ => Self::Public,
        }
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
    fn routes_map_to_the_seeds_tiers() {
        assert_eq!(Limit::for_route("/api/auth/login"), Limit::Auth);
        assert_eq!(Limit::for_route("/api/auth/logout"), Limit::Auth);
        assert_eq!(Limit::for_route("/api/auth/sessions/{id}"), Limit::Api);
        assert_eq!(Limit::for_route("/api/users/me"), Limit::Api);
        assert_eq!(Limit::for_route("/api/posts/{id}"), Limit::Api);
        assert_eq!(Limit::for_route("/api/admin/audit"), Limit::Api);
        assert_eq!(Limit::for_route("/api/health/ready"), Limit::Public);
        assert_eq!(Limit::for_route("/metrics"), Limit::Public);
        assert_eq!(Limit::for_route("unmatched"), Limit::Public);
        assert_eq!(Limit::for_route("/api/auth/otp/verify").tier(), Tier::Otp);
    }
}
