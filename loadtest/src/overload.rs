//! `overload`: one open-loop constant rate (typically twice what `capacity`
//! held) for `--duration`, then `--after` with no load. The server's RSS is
//! scraped every `--sample-every` from the start of the load to the end of
//! `--after`, so the report can say what the overload cost in memory and
//! whether it came back. An optional `--warmup` before the load brings a
//! fresh server's caches to their steady state; "RSS before" is read after it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cli::OverloadArgs;
use crate::error::Error;
use crate::harness::Harness;
use crate::memory::{MemoryReport, Sample, Sampler};
use crate::mix::Mix;
use crate::overload_report::OverloadResult;
use crate::progress::RunBar;
use crate::report::{Header, MixReport, Report};
use crate::stats::Recorder;

/// Settling time between the warm-up and the load.
const PAUSE: Duration = Duration::from_millis(500);
/// How often a quiet wait looks at the stop flag.
const STOP_CHECK: Duration = Duration::from_millis(200);

/// The warm-up's rate: `--warmup-rate`, else half the overload rate.
pub fn warmup_rate(args: &OverloadArgs) -> f64 {
    args.warmup_rate.unwrap_or(args.rate / 2.0)
}

/// Waits `length` without load (showing a bar), or until Ctrl-C.
async fn quiet_period(harness: &Harness, length: Duration) -> Result<(), Error> {
    let recorder = Arc::new(Recorder::new()?);
    let bar = RunBar::start("after", length, recorder, harness.quiet);
    let deadline = tokio::time::Instant::now() + length;
    while !harness.stopped() && tokio::time::Instant::now() < deadline {
        let left = deadline - tokio::time::Instant::now();
        tokio::time::sleep(left.min(STOP_CHECK)).await;
    }
    bar.finish();
    Ok(())
}

/// Seeds, warms up, overloads, watches and reports.
///
/// # Errors
/// Seeding failed or a histogram could not be made; request failures
/// during the run are results, not errors.
pub async fn run(args: &OverloadArgs, header: Header) -> Result<Report, Error> {
    let common = &args.common;
    let harness = Harness::new(common)?;
    let mix = Mix::named(args.mix);
    let (workload, limits, seeding) = harness.uniform_workload(common, args.users, &mix).await?;

    let warmup = if args.warmup.is_zero() || harness.stopped() {
        None
    } else {
        let seed = common.seed.wrapping_sub(1);
        let rate = warmup_rate(args);
        let warmup = harness
            .warm_up(workload.clone(), rate, args.warmup, limits, seed)
            .await?;
        tokio::time::sleep(PAUSE).await;
        Some(warmup)
    };

    let before = harness.scrape().await;
    let rss_before = before
        .as_ref()
        .and_then(|scrape| scrape.as_ref().ok())
        .and_then(|snapshot| snapshot.rss_bytes);
    let started = Instant::now();
    let origin = tokio::time::Instant::now();
    let sampler = harness
        .probe
        .clone()
        .map(|probe| Sampler::start(probe, args.sample_every, origin));
    let label = format!("{:.0}/s", args.rate);
    let (counts, recorder) = harness
        .constant(
            workload,
            args.rate,
            args.duration,
            limits,
            common.seed,
            &label,
        )
        .await?;
    let load_end = origin.elapsed();
    let after_load = harness.scrape().await;
    let server = harness.server_report(before, after_load, started.elapsed());

    if !args.after.is_zero() {
        quiet_period(&harness, args.after).await?;
    }
    let memory = match sampler {
        Some(sampler) => {
            let mut samples = sampler.finish().await;
            // The last figure is read now, at the end of `--after`, exactly.
            if let Some(end) = harness.scrape().await {
                samples.push(Sample {
                    at: origin.elapsed(),
                    rss_bytes: end.ok().and_then(|snapshot| snapshot.rss_bytes),
                });
            }
            Some(MemoryReport::new(rss_before, &samples, load_end))
        }
        None => None,
    };

    let mut overload = OverloadResult::new(args.rate, args.duration, counts, &recorder);
    overload.memory = memory;
    overload.warmup = warmup;
    Ok(Report {
        header,
        mix: MixReport::from(&mix),
        population: None,
        seeding,
        run: None,
        capacity: None,
        overload: Some(overload),
        server,
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn args(extra: &[&str]) -> OverloadArgs {
        let cli = Cli::try_parse_from(
            ["tenk-loadtest", "overload"]
                .into_iter()
                .chain(extra.iter().copied()),
        )
        .unwrap();
        match cli.command {
            Command::Overload(args) => args,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_warmup_runs_at_half_the_rate_unless_told() {
        assert_eq!(warmup_rate(&args(&["--rate", "9000"])), 4500.0);
        assert_eq!(
            warmup_rate(&args(&["--rate", "9000", "--warmup-rate", "4000"])),
            4000.0
        );
    }
}
