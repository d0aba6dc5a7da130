//! Guards the operator endpoints (`/metrics`, `/api/health/detailed`) with
//! `Authorization: Bearer $OPS_TOKEN` when a token is configured.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// The bearer token of a request, if it carries one.
pub fn bearer_token(request: &axum::http::HeaderMap) -> Option<&str> {
    let value = request.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

pub async fn middleware(
    State(expected): State<Option<SecretString>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(expected) = expected {
        let presented = bearer_token(request.headers()).unwrap_or_default();
        // Constant-time, so the token cannot be guessed byte by byte from timing.
        let matches: bool = presented
            .as_bytes()
            .ct_eq(expected.expose_secret().as_bytes())
            .into();
        if !matches {
            return ApiError::Unauthorized.into_response();
        }
    }
    next.run(request).await
}
