//! The rate-limit check of the request pipeline: one per request, against the limit of
//! its route, with IETF `RateLimit-Policy` / `RateLimit` header fields
//! (draft-ietf-httpapi-ratelimit-headers) and, on 429, `Retry-After`, never
//! earlier than the moment a retry is admitted.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::client_ip::ClientIp;
use super::{Limit, Outcome};
use crate::auth::extract::AuthUser;
use crate::config::Policy;
use crate::error::{ApiError, retry_after_seconds};
use crate::state::AppState;

/// Who a request counts against: the user on API routes, else the client IP.
async fn subject(limit: Limit, request: Request, state: &AppState) -> (String, Request) {
    let ip = request
        .extensions()
        .get::<ClientIp>()
        .map(|ClientIp(ip)| *ip);
    let by_ip = match ip {
        Some(ip) => format!("ip:{ip}"),
        None => "ip:".to_string(),
    };
    if limit != Limit::Api {
        return (by_ip, request);
    }
    // Authenticate first so the API limit really is per user; the handler's
    // extractor reuses this result. A failed check leaves the request to be
    // refused by the handler, counted per IP meanwhile.
    let (mut parts, body) = request.into_parts();
    let user = AuthUser::from_request_parts(&mut parts, state).await;
    let request = Request::from_parts(parts, body);
    match user {
        Ok(user) => (format!("user:{}", user.user_id), request),
        Err(_) => (by_ip, request),
    }
}

/// The rate-limit header fields to add to an admitted request's response.
pub struct Admitted {
    limit: Limit,
    /// `RateLimit-Policy`, formatted once per limit at start.
    policy: HeaderValue,
    /// `(remaining, reset)` when the shared count decided.
    shared: Option<(u32, Duration)>,
}

impl Admitted {
    pub fn apply(self, headers: &mut HeaderMap) {
        headers.insert(RATELIMIT_POLICY, self.policy);
        if let Some((remaining, reset)) = self.shared {
            headers.insert(RATELIMIT, state_value(self.limit, remaining, reset));
        }
    }
}

/// Counts `request` against `limit`: the request back with the header
/// fields for its response, or the refusal to send instead.
///
/// # Errors
/// The 429 (or, for limits that fail closed without Redis, 503) to send.
pub async fn check(
    state: &AppState,
    limit: Limit,
    request: Request,
) -> Result<(Request, Option<Admitted>), Response> {
    let limiter = &state.rate_limiter;
    if !limiter.settings().enabled {
        return Ok((request, None));
    }
    let policy = limit.policy(limiter.settings());
    let (subject, request) = subject(limit, request, state).await;
    let shared = match limiter.check(limit, &subject).await {
        Outcome::Shared(decision) if decision.allowed => Some((decision.remaining, decision.reset)),
        Outcome::Shared(decision) => return Err(rejection(limit, policy, decision.retry_after)),
        Outcome::Local { allowed: true, .. } => None,
        Outcome::Local { retry_after, .. } => return Err(rejection(limit, policy, retry_after)),
        Outcome::Unavailable => {
            return Err(ApiError::Unavailable {
                code: "rate_limiter_unavailable",
                detail: "sign-in is briefly unavailable, try again shortly",
                retry_after: Duration::from_secs(5),
            }
            .into_response());
        }
    };
    let admitted = Admitted {
        limit,
        policy: limiter.policy_header(limit),
        shared,
    };
    Ok((request, Some(admitted)))
}

/// 429 with `Retry-After` equal to the `t` of the `RateLimit` field.
pub fn rejection(limit: Limit, policy: Policy, retry_after: Duration) -> Response {
    let seconds = retry_after_seconds(retry_after);
    let mut response = ApiError::RateLimited { retry_after }.into_response();
    set_headers(
        response.headers_mut(),
        limit,
        policy,
        0,
        Duration::from_secs(seconds),
    );
    response
}

const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// `"name";q=limit;w=window`: the `RateLimit-Policy` field of `limit`.
pub fn policy_value(limit: Limit, policy: Policy) -> HeaderValue {
    let value = format!(
        "\"{}\";q={};w={}",
        limit.name(),
        policy.limit,
        policy.window.as_secs()
    );
    HeaderValue::from_maybe_shared(Bytes::from(value))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `"name";r=remaining;t=reset`: the `RateLimit` field.
fn state_value(limit: Limit, remaining: u32, reset: Duration) -> HeaderValue {
    let reset = reset.as_secs() + u64::from(reset.subsec_nanos() > 0);
    let value = format!("\"{}\";r={remaining};t={reset}", limit.name());
    HeaderValue::from_maybe_shared(Bytes::from(value))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn set_headers(
    headers: &mut HeaderMap,
    limit: Limit,
    policy: Policy,
    remaining: u32,
    reset: Duration,
) {
    headers.insert(RATELIMIT_POLICY, policy_value(limit, policy));
    headers.insert(RATELIMIT, state_value(limit, remaining, reset));
}

/// The per-address limit of mail-sending routes (codes, resets,
/// verifications), on top of the per-IP limit of their tier. Each purpose
/// counts separately; the address is keyed by a digest. Fails closed.
///
/// # Errors
/// The response to send instead: 429, or 503 without Redis.
pub async fn per_address(state: &AppState, purpose: &str, email: &str) -> Result<(), Response> {
    let limit = Limit::OtpRequestAddress;
    let policy = limit.policy(state.rate_limiter.settings());
    let subject = format!("{purpose}:{}", crate::auth::otp::address_key(email));
    match state.rate_limiter.check(limit, &subject).await {
        Outcome::Shared(decision) if decision.allowed => Ok(()),
        Outcome::Shared(decision) => Err(rejection(limit, policy, decision.retry_after)),
        Outcome::Local { .. } | Outcome::Unavailable => {
            Err(ApiError::redis_unavailable().into_response())
        }
    }
}
