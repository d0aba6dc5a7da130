//! One access-log line per request: method, route template, status, latency
//! and request id. The raw path is never logged: it may carry ids or tokens.

use std::time::Duration;

use axum::http::{Method, StatusCode};

/// The route label of a request that matched no route.
pub const UNMATCHED: &str = "unmatched";

pub fn record(method: &Method, route: &str, status: StatusCode, latency: Duration, id: &str) {
    tracing::info!(
        target: "access",
        method = %method,
        route,
        status = status.as_u16(),
        latency_ms = latency.as_secs_f64() * 1000.0,
        request_id = id,
        "request"
    );
}
