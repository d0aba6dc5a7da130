//! `capacity`: open-loop constant-rate steps over one mix, each rate the
//! previous times `--factor`, until a step's p95 passes `--max-p95-ms` or its
//! error share passes `--max-error-rate`. Arrivals are due by the clock, so
//! once the server (or the generator) falls behind, the wait shows up in
//! the latency and the step fails instead of quietly running slower.
//!
//! Before the first step, `--warmup` runs the mix at the first step's rate,
//! reported apart and never judged, so that cold caches (and, for the peer,
//! a cold JIT) do not decide the first step.

use std::time::{Duration, Instant};

use crate::cli::CapacityArgs;
use crate::error::Error;
use crate::harness::Harness;
use crate::mix::Mix;
use crate::report::{CapacityResult, Header, MixReport, Report, RunResult, Step};

/// Settling time between steps, so one step's stragglers do not load the next.
const PAUSE: Duration = Duration::from_millis(500);

/// The rates to try: `start`, then times `factor`, capped at `max` (which
/// is tried last), at most `steps` of them.
pub fn rates(start: f64, factor: f64, max: f64, steps: usize) -> Vec<f64> {
    let mut rates = Vec::new();
    let mut rate = start.min(max);
    while rates.len() < steps {
        rates.push(rate.round());
        if rate >= max {
            break;
        }
        rate = (rate * factor).min(max);
    }
    rates
}

/// What a search will run: an optional warm-up (rate, length), then the steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub warmup: Option<(f64, Duration)>,
    pub rates: Vec<f64>,
}

impl Plan {
    /// The plan the arguments ask for; the warm-up runs at the first step's rate.
    pub fn of(args: &CapacityArgs) -> Self {
        let rates = rates(
            args.start_rate,
            args.factor,
            args.max_rate,
            usize::try_from(args.max_steps).unwrap_or(12),
        );
        let warmup = rates
            .first()
            .filter(|_| !args.warmup.is_zero())
            .map(|rate| (*rate, args.warmup));
        Self { warmup, rates }
    }
}

/// Whether a step held: `None` if so, else why not.
pub fn verdict(result: &RunResult, max_p95_ms: f64, max_error_rate: f64) -> Option<String> {
    if result.error_rate > max_error_rate {
        return Some(format!(
            "errors {:.3} % > {:.3} %",
            result.error_rate * 100.0,
            max_error_rate * 100.0
        ));
    }
    if result.latency.p95_ms > max_p95_ms {
        return Some(format!(
            "p95 {:.1} ms > {max_p95_ms} ms",
            result.latency.p95_ms
        ));
    }
    None
}

/// Seeds, climbs and reports.
///
/// # Errors
/// Seeding failed or a histogram could not be made.
pub async fn run(args: &CapacityArgs, header: Header) -> Result<Report, Error> {
    let common = &args.common;
    let harness = Harness::new(common)?;
    let mix = Mix::named(args.mix);
    let (workload, limits, seeding) = harness.uniform_workload(common, args.users, &mix).await?;
    let plan = Plan::of(args);

    let warmup = match plan.warmup {
        Some((rate, length)) if !harness.stopped() => {
            let seed = common.seed.wrapping_sub(1);
            let warmup = harness
                .warm_up(workload.clone(), rate, length, limits, seed)
                .await?;
            tokio::time::sleep(PAUSE).await;
            Some(warmup)
        }
        _ => None,
    };
    let first = harness.scrape().await;
    let started = Instant::now();
    let mut steps: Vec<Step> = Vec::new();
    for (index, rate) in plan.rates.into_iter().enumerate() {
        if harness.stopped() {
            break;
        }
        let label = format!("{rate:.0}/s");
        let before = harness.scrape().await;
        let step_started = Instant::now();
        let seed = common.seed.wrapping_add(index as u64);
        let (counts, recorder) = harness
            .constant(
                workload.clone(),
                rate,
                args.step_duration,
                limits,
                seed,
                &label,
            )
            .await?;
        let after = harness.scrape().await;
        let result = RunResult::new(rate, args.step_duration, counts, &recorder);
        let reason = verdict(&result, args.max_p95_ms, args.max_error_rate);
        let held = reason.is_none();
        steps.push(Step {
            rate,
            held,
            reason,
            result,
            server: harness.server_report(before, after, step_started.elapsed()),
        });
        if !held {
            break;
        }
        tokio::time::sleep(PAUSE).await;
    }
    let last = harness.scrape().await;
    let server = harness.server_report(first, last, started.elapsed());
    let best = steps.iter().rfind(|step| step.held);
    let capacity = CapacityResult {
        max_p95_ms: args.max_p95_ms,
        max_error_rate: args.max_error_rate,
        warmup,
        highest_held_rate: best.map(|step| step.rate),
        highest_held_achieved_rate: best.map(|step| step.result.achieved_rate),
        steps,
    };
    Ok(Report {
        header,
        mix: MixReport::from(&mix),
        population: None,
        seeding,
        run: None,
        capacity: Some(capacity),
        overload: None,
        server,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::stats::Percentiles;

    #[test]
    fn rates_grow_by_the_factor_and_end_at_the_cap() {
        assert_eq!(
            rates(1000.0, 2.0, 5000.0, 10),
            vec![1000.0, 2000.0, 4000.0, 5000.0]
        );
        assert_eq!(rates(1000.0, 1.5, 1e6, 3), vec![1000.0, 1500.0, 2250.0]);
        assert_eq!(rates(9000.0, 2.0, 5000.0, 10), vec![5000.0]);
    }

    fn args(extra: &[&str]) -> CapacityArgs {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from(
            ["tenk-loadtest", "capacity"]
                .into_iter()
                .chain(extra.iter().copied()),
        )
        .unwrap();
        match cli.command {
            crate::cli::Command::Capacity(args) => args,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_warmup_runs_at_the_first_steps_rate_before_the_steps() {
        let plan = Plan::of(&args(&["--start-rate", "2000", "--max-steps", "3"]));
        assert_eq!(plan.warmup, Some((2000.0, Duration::from_secs(10))));
        assert_eq!(plan.rates, vec![2000.0, 3000.0, 4500.0]);
        // Capped like the first step when the start is above the cap.
        let plan = Plan::of(&args(&[
            "--start-rate",
            "9000",
            "--max-rate",
            "5000",
            "--warmup",
            "3s",
        ]));
        assert_eq!(plan.warmup, Some((5000.0, Duration::from_secs(3))));
        assert_eq!(plan.rates, vec![5000.0]);
    }

    #[test]
    fn a_zero_warmup_means_none_and_leaves_the_steps_alone() {
        let plan = Plan::of(&args(&["--warmup", "0", "--max-steps", "2"]));
        assert_eq!(plan.warmup, None);
        assert_eq!(plan.rates, vec![1000.0, 1500.0]);
    }

    fn result(p95_ms: f64, error_rate: f64) -> RunResult {
        RunResult {
            offered_rate: 1000.0,
            duration_s: 10.0,
            elapsed_s: 10.0,
            scheduled: 10_000,
            sent: 10_000,
            responses: 10_000,
            achieved_rate: 1000.0,
            ok: 10_000,
            errors: 0,
            error_rate,
            errors_by_status: BTreeMap::new(),
            statuses: BTreeMap::new(),
            latency: Percentiles {
                p95_ms,
                ..Percentiles::default()
            },
            service_time: Percentiles::default(),
            by_action: BTreeMap::new(),
        }
    }

    #[test]
    fn a_step_holds_only_under_both_limits() {
        assert_eq!(verdict(&result(99.0, 0.01), 100.0, 0.01), None);
        assert_eq!(verdict(&result(100.0, 0.0), 100.0, 0.01), None);
        assert!(
            verdict(&result(100.1, 0.0), 100.0, 0.01)
                .unwrap()
                .contains("p95")
        );
        assert!(
            verdict(&result(5.0, 0.0101), 100.0, 0.01)
                .unwrap()
                .contains("errors")
        );
    }
}
