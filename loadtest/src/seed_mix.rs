//! `seed-mix`: the seed's users at their rates (times `--peak`) for
//! `--duration`, every user with its own account and session, requests
//! arriving as the users' independent Poisson processes.

use std::sync::Arc;
use std::time::Instant;

use crate::behaviour::{ApiWorkload, Picker, PostCatalog};
use crate::classes::Population;
use crate::cli::SeedMixArgs;
use crate::dispatch::{self, Limits};
use crate::error::Error;
use crate::harness::Harness;
use crate::mix::Mix;
use crate::progress::RunBar;
use crate::report::{Header, MixReport, Report, RunResult};
use crate::schedule::{Schedule, Shape};
use crate::stats::Recorder;

/// Post ids reads choose among.
pub const CATALOG_SIZE: usize = 10_000;

/// Seeds, runs and reports.
///
/// # Errors
/// Seeding failed or the report could not be built; request failures
/// during the run are results, not errors.
pub async fn run(args: &SeedMixArgs, header: Header) -> Result<Report, Error> {
    let common = &args.common;
    let harness = Harness::new(common)?;
    let users = usize::try_from(args.users).unwrap_or(usize::MAX);
    let population = Population::seed(users, args.peak);
    let seeded = harness.seed(common, users).await?;
    let mix = Mix::named(args.mix);
    let workload = Arc::new(ApiWorkload::new(
        harness.load.clone(),
        seeded.users,
        Picker::Classes(population.clone()),
        mix.clone(),
        PostCatalog::new(seeded.posts, CATALOG_SIZE),
    ));
    let rate = population.rate_per_second();
    let arrivals = Schedule::new(Shape::Poisson, rate, args.duration, common.seed);
    let recorder = Arc::new(Recorder::new()?);
    let limits = Limits {
        max_in_flight: usize::try_from(common.max_in_flight).unwrap_or(usize::MAX),
        drain: common.timeout + std::time::Duration::from_secs(1),
    };

    let before = harness.scrape().await;
    let started = Instant::now();
    let bar = RunBar::start("seed-mix", args.duration, recorder.clone(), harness.quiet);
    let counts = dispatch::run(
        workload,
        arrivals,
        limits,
        common.seed.wrapping_add(1),
        recorder.clone(),
        harness.stop.clone(),
    )
    .await;
    bar.finish();
    let after = harness.scrape().await;
    let server = harness.server_report(before, after, started.elapsed());

    Ok(Report {
        header,
        mix: MixReport::from(&mix),
        population: Some(population),
        seeding: seeded.report,
        run: Some(RunResult::new(rate, args.duration, counts, &recorder)),
        capacity: None,
        overload: None,
        server,
    })
}
