//! Health endpoints. Liveness touches nothing; every dependency check runs
//! under a one-second timeout, so with PostgreSQL or Redis stopped these
//! answer 503 quickly instead of hanging.

use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use contract::health::{
    Check, DatabaseHealth, DetailedHealth, Liveness, PoolHealth, ProcessHealth, Readiness,
    RedisHealth, STATUS_OK, STATUS_UNAVAILABLE,
};
use sqlx::PgPool;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::db::Ping;
use crate::http::json::AppJson;
use crate::http::ops_auth;
use crate::process;
use crate::state::AppState;

/// Reported by `/api/health/database` when a replica is down but the primary serves.
const STATUS_DEGRADED: &str = "degraded";

pub fn router(state: &AppState) -> OpenApiRouter<AppState> {
    let ops_only =
        middleware::from_fn_with_state(state.settings.ops_token.clone(), ops_auth::middleware);
    OpenApiRouter::new()
        .routes(routes!(liveness))
        .routes(routes!(readiness))
        .routes(routes!(database))
        .routes(routes!(redis))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(detailed))
                .route_layer(ops_only),
        )
}

fn with_status<T: serde::Serialize>(healthy: bool, body: T) -> Response {
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, AppJson(body)).into_response()
}

fn status_word(healthy: bool) -> String {
    if healthy {
        STATUS_OK
    } else {
        STATUS_UNAVAILABLE
    }
    .to_string()
}

fn millis(duration: std::time::Duration) -> f64 {
    (duration.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}

/// Liveness: the process answers. Never touches a dependency.
#[utoipa::path(get, path = "/api/health", tag = "health",
    responses((status = 200, description = "The process is alive", body = Liveness)))]
pub async fn liveness(State(state): State<AppState>) -> AppJson<Liveness> {
    AppJson(liveness_of(&state))
}

fn liveness_of(state: &AppState) -> Liveness {
    Liveness {
        status: STATUS_OK.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        uptime_seconds: state.lifecycle.uptime_seconds(),
        instance_id: state.settings.instance_id.clone(),
    }
}

/// Readiness: 503 while draining or while PostgreSQL or Redis is known
/// down. It reads the dependency breakers (probed every second, every
/// 250 ms while down): no round trip of its own, so it answers at once and
/// never queues behind load; an instance that sheds load stays ready.
#[utoipa::path(get, path = "/api/health/ready", tag = "health",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn readiness(State(state): State<AppState>) -> Response {
    let report = readiness_of(&state).await;
    let healthy = report.status == STATUS_OK;
    with_status(healthy, report)
}

async fn readiness_of(state: &AppState) -> Readiness {
    let probes = [
        ("database", state.db.breaker().last_probe()),
        ("redis", state.redis.breaker().last_probe()),
    ];
    let checks: Vec<Check> = probes
        .into_iter()
        .map(|(name, probe)| Check {
            name: name.into(),
            up: probe.up,
            latency_ms: millis(probe.latency),
            error: probe.error,
        })
        .collect();
    let draining = state.lifecycle.is_draining();
    let healthy = !draining && checks.iter().all(|check| check.up);
    Readiness {
        status: status_word(healthy),
        draining,
        checks,
    }
}

/// The primary and each read replica: up, latency and pool occupancy.
#[utoipa::path(get, path = "/api/health/database", tag = "health",
    responses((status = 200, body = DatabaseHealth), (status = 503, body = DatabaseHealth)))]
pub async fn database(State(state): State<AppState>) -> Response {
    let report = database_of(&state).await;
    let healthy = report.primary.up;
    with_status(healthy, report)
}

async fn database_of(state: &AppState) -> DatabaseHealth {
    let (primary, replicas) = tokio::join!(state.db.ping_primary(), state.db.check_replicas());
    let primary = pool_health("primary", state.db.primary(), &primary);
    let replicas: Vec<PoolHealth> = state
        .db
        .replica_pools()
        .zip(&replicas)
        .enumerate()
        .map(|(index, (pool, ping))| pool_health(&format!("replica-{index}"), pool, ping))
        .collect();
    let status = match (primary.up, replicas.iter().all(|replica| replica.up)) {
        (false, _) => STATUS_UNAVAILABLE,
        (true, false) => STATUS_DEGRADED,
        (true, true) => STATUS_OK,
    };
    DatabaseHealth {
        status: status.to_string(),
        primary,
        replicas,
    }
}

fn pool_health(name: &str, pool: &PgPool, ping: &Ping) -> PoolHealth {
    let size = pool.size();
    let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX).min(size);
    PoolHealth {
        name: name.into(),
        up: ping.up,
        latency_ms: millis(ping.latency),
        size,
        idle,
        in_use: size - idle,
        max: pool.options().get_max_connections(),
        error: ping.error.clone(),
    }
}

/// Redis: up, `PING` latency and mode.
#[utoipa::path(get, path = "/api/health/redis", tag = "health",
    responses((status = 200, body = RedisHealth), (status = 503, body = RedisHealth)))]
pub async fn redis(State(state): State<AppState>) -> Response {
    let report = redis_of(&state).await;
    let healthy = report.up;
    with_status(healthy, report)
}

async fn redis_of(state: &AppState) -> RedisHealth {
    let ping = state.redis.ping().await;
    RedisHealth {
        status: status_word(ping.up),
        up: ping.up,
        latency_ms: millis(ping.latency),
        mode: state.redis.mode().into(),
        error: ping.error,
    }
}

/// Everything above plus process resources; needs the ops token when one is set.
#[utoipa::path(get, path = "/api/health/detailed", tag = "health",
    security(("ops_token" = [])),
    responses((status = 200, body = DetailedHealth), (status = 503, body = DetailedHealth),
        (status = 401, description = "Missing or wrong ops token", body = contract::api::Problem)))]
pub async fn detailed(State(state): State<AppState>) -> Response {
    let (readiness, database, redis) =
        tokio::join!(readiness_of(&state), database_of(&state), redis_of(&state));
    let stats = process::stats();
    let healthy = readiness.status == STATUS_OK;
    let report = DetailedHealth {
        status: status_word(healthy),
        liveness: liveness_of(&state),
        readiness,
        database,
        redis,
        process: ProcessHealth {
            resident_memory_bytes: stats.resident_memory_bytes,
            memory_limit_bytes: process::memory_limit_bytes(),
            cpu_seconds_total: stats.cpu_seconds_total,
            cpu_cores: process::cpu_cores(),
            open_fds: stats.open_fds,
            worker_threads: state.settings.http.workers,
        },
        sessions_active: state.sessions.count_active().await.ok(),
        environment: state.settings.env.as_str().to_string(),
    };
    with_status(healthy, report)
}
