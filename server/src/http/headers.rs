//! Response headers every browser-facing API should send: CORS for the
//! configured origins (tower-http's layer), and security headers on every
//! response, with `Cache-Control: no-store` on auth, profile and admin
//! responses so no shared cache keeps a token or a session list.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::{CorsOrigins, CorsSettings};

/// The CORS layer, or `None` when `CORS_ORIGINS` is empty (no CORS headers).
pub fn cors_layer(settings: &CorsSettings) -> Option<CorsLayer> {
    let origins = match &settings.origins {
        CorsOrigins::None => return None,
        CorsOrigins::Any => AllowOrigin::any(),
        CorsOrigins::List(list) => AllowOrigin::list(
            list.iter()
                .filter_map(|origin| HeaderValue::from_str(origin).ok()),
        ),
    };
    let layer = CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("ratelimit"),
            HeaderName::from_static("ratelimit-policy"),
            header::RETRY_AFTER,
            HeaderName::from_static("idempotent-replayed"),
        ])
        .allow_credentials(settings.allow_credentials)
        .max_age(settings.max_age);
    Some(layer)
}

/// The `Strict-Transport-Security` value for a max-age.
pub fn hsts_value(max_age: Option<Duration>) -> Option<HeaderValue> {
    let age = max_age?.as_secs();
    HeaderValue::from_str(&format!("max-age={age}; includeSubDomains")).ok()
}

/// Routes whose answers carry tokens, sessions or personal data.
pub fn is_private(route: &str) -> bool {
    ["/api/auth", "/api/users", "/api/admin"]
        .iter()
        .any(|prefix| route.starts_with(prefix))
}

/// Sets the security headers every response carries (keeping any a handler
/// chose), `Cache-Control: no-store` on private routes, and HSTS when set.
pub fn apply_security_headers(headers: &mut HeaderMap, private: bool, hsts: Option<&HeaderValue>) {
    let mut set = |name: HeaderName, value: &'static str| {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    };
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "no-referrer");
    set(header::X_FRAME_OPTIONS, "DENY");
    // A JSON API renders nothing: no sources, and never inside a frame.
    set(
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; frame-ancestors 'none'",
    );
    if private {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if let Some(hsts) = hsts {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, hsts.clone());
    }
}
