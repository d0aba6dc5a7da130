//! tenk-server: the tenk API (axum + tokio) over PostgreSQL and Redis.

/// Deleting an account, its posts and every session at once.
pub mod account_deletion;
/// Mail an account asks for: admission, queueing, verification.
pub mod account_mail;
/// The `create-admin` command.
pub mod admin;
/// No change may leave the admin API without an active admin.
pub mod admin_guard;
/// Password hashing, tokens, sessions and the app cache.
pub mod auth;
/// Typed settings read from the environment.
pub mod config;
/// PostgreSQL pools: primary for writes, replicas for reads.
pub mod db;
/// Known health of PostgreSQL and Redis: breakers and their probe.
pub mod dependencies;
/// Validated values (email, password, role).
pub mod domain;
/// The HTTP error type and its problem+json bodies.
pub mod error;
/// Optional Sentry reporting with a scrubbing hook.
pub mod error_tracking;
/// Middleware and extractors shared by every route.
pub mod http;
/// Idempotency keys for the writes, remembered with the write.
pub mod idempotency;
/// Outgoing mail through a bounded queue.
pub mod mail;
/// Prometheus metrics and the request-tracking middleware.
pub mod metrics;
/// The statuses and problem bodies every operation of the document shares.
pub mod openapi;
/// Process resource readings (memory, CPU, limits).
pub mod process;
/// Tiered rate limits shared through Redis.
pub mod rate_limit;
/// The shared Redis connection.
pub mod redis_client;
/// Every Redis key, under the instance prefix.
pub mod redis_keys;
/// The routes.
pub mod routes;
/// Building and running the application.
pub mod startup;
/// The application state.
pub mod state;
/// Logging set-up.
pub mod telemetry;
/// RFC 3339 formatting of timestamps.
pub mod timestamps;
/// The users table: accounts, their status and every change of them.
pub mod users;
