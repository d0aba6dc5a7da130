//! Guards the operator endpoints (`/metrics`, `/api/health/detailed`) with
//! `Authorization: Bearer $OPS_TOKEN` when a token is configured.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
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
        // Digests have one length, and their comparison is constant-time: timing
        // reveals neither the token's bytes nor its length.
        let presented = Sha256::digest(presented.as_bytes());
        let expected = Sha256::digest(expected.expose_secret().as_bytes());
        let matches: bool = presented.ct_eq(&expected).into();
        if !matches {
            return ApiError::Unauthorized.into_response();
        }
    }
    next.run(request).await
}
