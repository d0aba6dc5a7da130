//! Bodies of the `/api/health*` endpoints.

use serde::{Deserialize, Serialize};

/// `"ok"` when every check passed, `"degraded"` otherwise.
pub const STATUS_OK: &str = "ok";
/// Reported when at least one dependency is down or the instance is draining.
pub const STATUS_UNAVAILABLE: &str = "unavailable";

/// `GET /api/health`: the process answers; no dependency is touched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Liveness {
    pub status: String,
    pub version: String,
    pub uptime_seconds: u64,
    pub instance_id: String,
}

/// One dependency check inside [`Readiness`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Check {
    pub name: String,
    pub up: bool,
    pub latency_ms: f64,
    /// A short, secret-free reason when `up` is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `GET /api/health/ready`: 503 while draining or while a dependency is down.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Readiness {
    pub status: String,
    pub draining: bool,
    pub checks: Vec<Check>,
}

/// The state of one sqlx pool (the primary or a read replica).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PoolHealth {
    /// `primary`, or `replica-N` in the order of `DATABASE_READ_URLS`.
    pub name: String,
    pub up: bool,
    pub latency_ms: f64,
    pub size: u32,
    pub idle: u32,
    pub in_use: u32,
    pub max: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `GET /api/health/database`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DatabaseHealth {
    pub status: String,
    pub primary: PoolHealth,
    pub replicas: Vec<PoolHealth>,
}

/// `GET /api/health/redis`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RedisHealth {
    pub status: String,
    pub up: bool,
    pub latency_ms: f64,
    /// `single`, `cluster` or `sentinel`.
    pub mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Resource use of the process, for `/api/health/detailed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProcessHealth {
    pub resident_memory_bytes: u64,
    pub memory_limit_bytes: u64,
    pub cpu_seconds_total: f64,
    pub cpu_cores: f64,
    pub open_fds: u64,
    pub worker_threads: usize,
}

/// `GET /api/health/detailed` (ops token required when `OPS_TOKEN` is set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DetailedHealth {
    pub status: String,
    pub liveness: Liveness,
    pub readiness: Readiness,
    pub database: DatabaseHealth,
    pub redis: RedisHealth,
    pub process: ProcessHealth,
    /// Cluster-wide count of active sessions; `None` while Redis is down.
    pub sessions_active: Option<u64>,
    pub environment: String,
}
