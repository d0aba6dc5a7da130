//! The router: every route, the fallbacks, and the layers shared by all.

pub mod health;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::response::IntoResponse;
use tower_http::catch_panic::CatchPanicLayer;

use crate::error::{ApiError, problem_response};
use crate::http::{access_log, request_id, timeout};
use crate::state::AppState;

/// Builds the whole HTTP surface over `state`.
pub fn router(state: AppState) -> Router {
    let settings = state.settings.clone();
    Router::new()
        .merge(health::router(&state))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(settings.http.body_limit))
        .layer(middleware::from_fn_with_state(
            settings.http.request_timeout,
            timeout::middleware,
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(access_log::middleware))
        .layer(middleware::from_fn(request_id::middleware))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// A panic in a handler becomes a generic 500; the cause goes to the log only.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(ToString::to_string)
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    tracing::error!(panic = %message, "handler panicked");
    problem_response(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        None,
        Vec::new(),
    )
    .into_response()
}
