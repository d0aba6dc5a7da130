//! The wire contract between the tenk server, the operator TUI, `alerts/` and
//! `dashboards/`: JSON bodies, health reports and metric names.
//!
//! It depends on serde only (utoipa behind the `openapi` feature, for the
//! server's OpenAPI document), so the TUI never pulls in server dependencies.

pub mod api;
pub mod health;
pub mod metrics;
