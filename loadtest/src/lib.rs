//! tenk-loadtest: an open-loop load generator for tenk. The seed's 10,000
//! users in their three classes (`seed-mix`), a constant-rate capacity
//! search (`capacity`) and a run past capacity (`overload`), latencies in
//! HDR histograms measured from when each request was due, and the server's
//! own metrics before and after.

/// The tenk API, one method per route.
pub mod api;
/// The mix's actions performed by a virtual user.
pub mod behaviour;
/// The `capacity` command.
pub mod capacity;
/// The seed's user classes and their rates.
pub mod classes;
/// The command line.
pub mod cli;
/// The open-loop driver.
pub mod dispatch;
/// The error type.
pub mod error;
/// What the commands share: clients, probe, seeding, constant-rate runs, stop flag.
pub mod harness;
/// The server's RSS sampled over a run.
pub mod memory;
/// Actions and the named mixes.
pub mod mix;
/// The `overload` command.
pub mod overload;
/// The figures of an overload run.
pub mod overload_report;
/// Scraping the server's metrics and the report of its side.
pub mod probe;
/// Progress bars.
pub mod progress;
/// Parsing Prometheus text.
pub mod prom;
/// The report and its JSON form.
pub mod report;
/// Arrival schedules: constant and Poisson.
pub mod schedule;
/// The `seed-mix` command.
pub mod seed_mix;
/// Accounts and sessions for every virtual user.
pub mod seeding;
/// HDR latency histograms and counts by status.
pub mod stats;
/// The human summary.
pub mod summary;
/// A virtual user's state.
pub mod user;
