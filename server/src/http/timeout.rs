//! A per-request deadline (`REQUEST_TIMEOUT`): past it the client gets a 503
//! problem instead of waiting on a stuck dependency.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

pub async fn middleware(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Unavailable {
            code: "timeout",
            detail: "the request took too long",
            retry_after: Duration::from_secs(1),
        }
        .into_response(),
    }
}
