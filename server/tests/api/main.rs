// Test code: a panic is a failed test, so unwrap is the clearest assertion.
#![allow(clippy::unwrap_used)]

//! Black-box tests of tenk-server over TCP, against the real PostgreSQL and
//! Redis. Each test gets its own database and its own Redis key prefix.

mod helpers;

mod account;
mod admin;
mod admin_guard;
mod admission;
mod auth;
mod config;
mod deletion;
mod dependencies;
mod error_tracking;
mod findings;
mod health;
mod idempotency;
mod lifecycle;
mod metrics;
mod openapi;
mod otp;
mod posts;
mod problems;
mod rate_limit;
mod sessions;
mod tokens;
mod users;
