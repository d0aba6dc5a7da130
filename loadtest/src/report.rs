//! The report: what was offered, what came back, and what the server said
//! about it. Serialized as the `--json` report; `summary.rs` renders the
//! same values for people.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::classes::Population;
use crate::dispatch::Counts;
use crate::mix::{Mix, MixName};
use crate::overload_report::OverloadResult;
use crate::probe::ServerReport;
use crate::seeding::SeedingReport;
use crate::stats::{Percentiles, Recorder};

fn round(value: f64, places: i32) -> f64 {
    let factor = 10f64.powi(places);
    (value * factor).round() / factor
}

/// One action's share of a run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ActionResult {
    pub requests: u64,
    pub errors: u64,
    pub latency: Percentiles,
}

/// One open-loop run (all of seed-mix, or one capacity step).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunResult {
    /// The rate the schedule offered, requests per second.
    pub offered_rate: f64,
    pub duration_s: f64,
    /// From the first arrival to the last reply.
    pub elapsed_s: f64,
    pub scheduled: u64,
    pub sent: u64,
    /// Replies of any status (and transport failures) received.
    pub responses: u64,
    /// `responses / elapsed_s`.
    pub achieved_rate: f64,
    pub ok: u64,
    /// Every request that did not get a 2xx, dropped and abandoned ones included.
    pub errors: u64,
    /// `errors / scheduled`.
    pub error_rate: f64,
    /// Failures by HTTP status or kind (`timeout`, `connection`, `dropped`, ...).
    pub errors_by_status: BTreeMap<String, u64>,
    /// Every status seen, successes included.
    pub statuses: BTreeMap<String, u64>,
    /// From when each request was due (open loop: includes any wait).
    pub latency: Percentiles,
    /// From when each request was sent.
    pub service_time: Percentiles,
    pub by_action: BTreeMap<String, ActionResult>,
}

impl RunResult {
    pub fn new(offered_rate: f64, length: Duration, counts: Counts, recorder: &Recorder) -> Self {
        let total = recorder.total();
        let mut statuses = BTreeMap::new();
        let mut errors_by_status = BTreeMap::new();
        for (status, n) in &total.statuses {
            statuses.insert(status.key(), *n);
            if !status.is_success() {
                errors_by_status.insert(status.key(), *n);
            }
        }
        if counts.abandoned > 0 {
            errors_by_status.insert("abandoned".into(), counts.abandoned);
        }
        let errors = total.errors() + counts.abandoned;
        let responses = total.count() - counts.dropped;
        let by_action = recorder
            .snapshot()
            .into_iter()
            .map(|(action, tally)| {
                let result = ActionResult {
                    requests: tally.count(),
                    errors: tally.errors(),
                    latency: Percentiles::of(&tally.latency),
                };
                (action.name().to_string(), result)
            })
            .collect();
        let elapsed = counts.elapsed.as_secs_f64().max(1e-9);
        Self {
            offered_rate: round(offered_rate, 2),
            duration_s: round(length.as_secs_f64(), 3),
            elapsed_s: round(elapsed, 3),
            scheduled: counts.scheduled,
            sent: counts.sent,
            responses,
            achieved_rate: round(responses as f64 / elapsed, 1),
            ok: total.count() - total.errors(),
            errors,
            error_rate: round(errors as f64 / counts.scheduled.max(1) as f64, 6),
            errors_by_status,
            statuses,
            latency: Percentiles::of(&total.latency),
            service_time: Percentiles::of(&total.service),
            by_action,
        }
    }
}

/// The mix as reported: its name and weights.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MixReport {
    pub name: MixName,
    pub weights_percent: BTreeMap<String, u32>,
}

impl From<&Mix> for MixReport {
    fn from(mix: &Mix) -> Self {
        Self {
            name: mix.name,
            weights_percent: mix
                .weights()
                .iter()
                .map(|(action, weight)| (action.name().to_string(), *weight))
                .collect(),
        }
    }
}

/// One capacity step.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Step {
    pub rate: f64,
    pub held: bool,
    /// Why it did not hold.
    pub reason: Option<String>,
    pub result: RunResult,
    pub server: Option<ServerReport>,
}

/// A warm-up run before the measured ones: reported, never judged, and not
/// counted in `errors` or the server figures.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Warmup {
    pub rate: f64,
    pub result: RunResult,
}

/// The capacity search.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CapacityResult {
    pub max_p95_ms: f64,
    pub max_error_rate: f64,
    /// The run at the first step's rate before the first step (`--warmup`).
    pub warmup: Option<Warmup>,
    pub steps: Vec<Step>,
    /// The highest offered rate whose step held; `null` if even the first failed.
    pub highest_held_rate: Option<f64>,
    /// What that step achieved.
    pub highest_held_achieved_rate: Option<f64>,
}

/// Where the run happened.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Machine {
    pub cores: usize,
    /// `/proc/loadavg`'s one-minute figure at the start: other work on the machine.
    pub load_average_1m: Option<f64>,
    pub generator_threads: usize,
    pub note: &'static str,
}

/// Who ran what, where and when.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Header {
    pub tool: &'static str,
    pub version: &'static str,
    pub command: &'static str,
    pub started_unix_s: u64,
    pub target: String,
    pub auth_target: String,
    pub machine: Machine,
}

/// Everything one invocation measured.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    #[serde(flatten)]
    pub header: Header,
    pub mix: MixReport,
    /// seed-mix: the classes and their rates.
    pub population: Option<Population>,
    pub seeding: SeedingReport,
    /// seed-mix: the run.
    pub run: Option<RunResult>,
    /// capacity: every step.
    pub capacity: Option<CapacityResult>,
    /// overload: the figures of the run and the server's memory.
    pub overload: Option<OverloadResult>,
    /// The server's metrics over the run (seed-mix, overload: the load
    /// without `--after`) or the whole search (capacity); its `*_before`
    /// values are taken right after seeding (after any warm-up).
    pub server: Option<ServerReport>,
}

impl Report {
    /// Requests that failed, over the whole invocation (overload: neither
    /// served nor refused; warm-ups never count).
    pub fn errors(&self) -> u64 {
        let overload = self.overload.as_ref().map_or(0, |o| o.failures);
        let run = self.run.as_ref().map_or(0, |run| run.errors);
        let steps = self.capacity.as_ref().map_or(0, |capacity| {
            capacity
                .steps
                .iter()
                .filter(|step| step.held)
                .map(|step| step.result.errors)
                .sum()
        });
        run + steps + overload
    }
}
