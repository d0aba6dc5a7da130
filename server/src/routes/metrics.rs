//! `GET /metrics`: the Prometheus text exposition. Pool gauges, dependency
//! state and the cluster-wide session count are read here, at scrape time.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(scrape))
}

/// Prometheus metrics (text format 0.0.4); needs the ops token when one is set.
#[utoipa::path(get, path = "/metrics", tag = "health", security(("ops_token" = [])),
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain"),
        (status = 401, body = contract::api::Problem)))]
pub async fn scrape(State(state): State<AppState>) -> impl IntoResponse {
    let metrics = &state.metrics;
    // The dependencies' state as last probed (at most a second old).
    metrics.db_up.set(i64::from(state.db.breaker().is_up()));
    metrics
        .redis_up
        .set(i64::from(state.redis.breaker().is_up()));
    let pools = std::iter::once(("primary", state.db.primary()))
        .chain(state.db.replica_pools().map(|pool| ("replica", pool)));
    let mut totals: Vec<(&str, i64, i64, i64)> = Vec::new();
    for (name, pool) in pools {
        let size = i64::from(pool.size());
        let idle = i64::try_from(pool.num_idle()).unwrap_or(0).min(size);
        let max = i64::from(pool.options().get_max_connections());
        match totals.iter_mut().find(|(existing, ..)| *existing == name) {
            Some(total) => {
                total.1 += idle;
                total.2 += size - idle;
                total.3 += max;
            }
            None => totals.push((name, idle, size - idle, max)),
        }
    }
    for (pool, idle, in_use, max) in totals {
        metrics
            .db_pool_connections
            .with_label_values(&[pool, "idle"])
            .set(idle);
        metrics
            .db_pool_connections
            .with_label_values(&[pool, "in_use"])
            .set(in_use);
        metrics.db_pool_max.with_label_values(&[pool]).set(max);
    }
    if state.redis.breaker().is_up()
        && metrics.sessions_active_due()
        && let Ok(count) = state.sessions.count_active().await
    {
        metrics
            .sessions_active
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics.render(),
    )
}
