//! One access-log line per request: method, route template, status, latency
//! and request id. The raw path is never logged: it may carry ids or tokens.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

use super::request_id::RequestId;

/// The route template of a request, or `unmatched` (bounded, safe to log).
pub fn route_of(request: &Request) -> String {
    request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |path| path.as_str().to_string())
}

tokio::task_local! {
    static ROUTE: String;
}

/// The route template of the request being handled, if called inside one.
pub fn current_route() -> Option<String> {
    ROUTE.try_with(Clone::clone).ok()
}

pub async fn middleware(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = route_of(&request);
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
    let response = ROUTE.scope(route.clone(), next.run(request)).await;
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(
        target: "access",
        method = %method,
        route = %route,
        status,
        latency_ms,
        request_id = %request_id,
        "request"
    );
    response
}
