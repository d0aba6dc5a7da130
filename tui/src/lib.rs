//! tenk-tui: the operator cockpit of tenk. It polls `/metrics` and
//! `/api/health/detailed` of one or more instances, computes the numbers the
//! way Prometheus would, shows the alert thresholds of
//! `alerts/thresholds.toml` live, and lists and revokes sessions through the
//! admin API.
//!
//! The pure parts (parsing, maths, thresholds, the [`app::App`] state machine
//! and the widgets) do no IO; `poller`, `admin_client`, `runtime` and
//! `headless` do.

pub mod admin_client;
pub mod admin_error;
pub mod app;
pub mod cli;
pub mod clipboard;
pub mod command;
pub mod event;
pub mod fleet;
pub mod format;
pub mod headless;
pub mod logging;
pub mod numbers;
pub mod poller;
pub mod prom;
pub mod report;
pub mod runtime;
pub mod secret;
pub mod thresholds;
pub mod ui;
