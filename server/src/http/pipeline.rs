//! The one middleware every request passes through. In order: the route
//! template, request id and client address are resolved; admission control
//! sheds the request if the instance is at its bound; the rate limit is
//! counted; the handler runs under `REQUEST_TIMEOUT` with panics caught;
//! then the response gets its headers, its metrics and one access-log line.
//!
//! One layer instead of a stack of them: every layer of `from_fn` boxes and
//! clones the chain below it on each request, and this is the hot path.

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;

use super::access_log::{self, UNMATCHED};
use super::headers::{apply_security_headers, is_private};
use super::request_id::{self, RequestContext, RequestId};
use crate::error::{ApiError, DatabaseFailed, problem_response};
use crate::metrics::{PoolTimedOut, SHED_IN_FLIGHT};
use crate::rate_limit::client_ip::client_of;
use crate::rate_limit::layer as rate_limit;
use crate::rate_limit::{Limit, RouteLimits};
use crate::state::AppState;

/// What the pipeline works with: the services, and the limit the router
/// declared for each route. One `Arc`, so a request clones one pointer.
pub struct Pipeline {
    pub state: AppState,
    pub limits: RouteLimits,
}

pub async fn middleware(
    State(pipeline): State<Arc<Pipeline>>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let state = &pipeline.state;
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
    let limit = pipeline.limits.of(route);
    let method = request.method().clone();
    let id = RequestId::from_headers(request.headers());
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip());
    let client = client_of(
        peer,
        request.headers(),
        &state.settings.rate_limit.trusted_proxies,
    );
    request.extensions_mut().insert(client);
    request.extensions_mut().insert(id.clone());
    let context = RequestContext {
        id: id.clone(),
        route: matched.clone(),
    };

    let in_flight = InFlight::enter(&state.metrics.http_in_flight);
    let mut response = request_id::CURRENT
        .scope(context, handle(state, route, limit, request, next))
        .await;
    drop(in_flight);

    let headers = response.headers_mut();
    apply_security_headers(headers, is_private(route), state.hsts.as_ref());
    headers.insert(request_id::HEADER, id.header_value());
    let status = response.status();
    let took = started.elapsed();
    state.metrics.observe_request(&method, route, status, took);
    if response.extensions().get::<DatabaseFailed>().is_some() {
        state.db.breaker().suspect();
    }
    if response.extensions().get::<PoolTimedOut>().is_some() {
        state
            .metrics
            .db_pool_timeouts
            .with_label_values(&[state.db.exhausted_pool()])
            .inc();
    }
    access_log::record(&method, route, status, took, id.as_str());
    response
}

/// Counts a request in `http_server_requests_in_flight` until dropped, so a
/// request whose client went away (its future dropped mid-way) leaves too.
struct InFlight<'a>(&'a prometheus::IntGauge);

impl<'a> InFlight<'a> {
    fn enter(gauge: &'a prometheus::IntGauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Admission, rate limit, and the handler under its deadline.
async fn handle(
    state: &AppState,
    route: &str,
    limit: Limit,
    request: Request,
    next: Next,
) -> Response {
    let Some(_permit) = state.admission.admit(route) else {
        state
            .metrics
            .http_shed
            .with_label_values(&[SHED_IN_FLIGHT])
            .inc();
        return overloaded();
    };
    let deadline = state.settings.http.request_timeout;
    // Boxed: this future holds the rate limit's whole state (authentication,
    // session lookup, the Redis script), several KB, and every enclosing
    // future (the deadline, the task-local scope, axum's layers) would
    // otherwise copy it each time it is moved: a fifth of /api/health's
    // instructions were such copies (benches/instructions.sh).
    let admitted = Box::pin(async {
        let (request, limits) = match rate_limit::check(state, limit, request).await {
            Ok(admitted) => admitted,
            Err(refusal) => return refusal,
        };
        let mut response = match AssertUnwindSafe(next.run(request)).catch_unwind().await {
            Ok(response) => response,
            Err(panic) => panic_response(panic.as_ref()),
        };
        if let Some(limits) = limits {
            limits.apply(response.headers_mut());
        }
        response
    });
    match tokio::time::timeout(deadline, admitted).await {
        Ok(response) => response,
        Err(_) => ApiError::Unavailable {
            code: "timeout",
            detail: "the request took too long",
            retry_after: Duration::from_secs(1),
        }
        .into_response(),
    }
}

/// The answer to a request past `HTTP_MAX_IN_FLIGHT`: cheap, immediate, and
/// telling the client when to come back.
fn overloaded() -> Response {
    ApiError::Unavailable {
        code: "overloaded",
        detail: "the server is at capacity, try again shortly",
        retry_after: Duration::from_secs(1),
    }
    .into_response()
}

/// A panic in a handler becomes a generic 500; the cause goes to the log only.
fn panic_response(panic: &(dyn std::any::Any + Send)) -> Response {
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
}
