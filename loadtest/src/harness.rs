//! What the commands share: the HTTP clients (load target and auth
//! target), the metrics probe, seeding with its progress bar, one
//! constant-rate open-loop run with its progress bar (a capacity step, a
//! warm-up, an overload run), and the stop flag that Ctrl-C sets.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::api::Api;
use crate::behaviour::{ApiWorkload, Picker, PostCatalog};
use crate::cli::Common;
use crate::dispatch::{self, Counts, Limits, Workload};
use crate::error::Error;
use crate::mix::Mix;
use crate::probe::{Probe, ServerReport};
use crate::progress::{self, RunBar};
use crate::prom::Snapshot;
use crate::report::{RunResult, Warmup};
use crate::schedule::{Schedule, Shape};
use crate::seed_mix::CATALOG_SIZE;
use crate::seeding::{self, SeedPlan, Seeded, SeedingReport};
use crate::stats::Recorder;

/// The environment variable holding the bearer token for `/metrics`.
pub const OPS_TOKEN_VAR: &str = "TENK_OPS_TOKEN";

pub struct Harness {
    /// The server under load.
    pub load: Api,
    /// Where accounts are created and logged in.
    pub auth: Api,
    pub probe: Option<Probe>,
    pub stop: Arc<AtomicBool>,
    pub quiet: bool,
}

impl Harness {
    /// # Errors
    /// An HTTP client could not be built.
    pub fn new(common: &Common) -> Result<Self, Error> {
        let load = Api::new(&common.target, common.timeout)?;
        let auth = match &common.auth_target {
            Some(url) => Api::new(url, common.timeout)?,
            None => load.clone(),
        };
        let probe = (!common.no_metrics).then(|| {
            let urls = if common.metrics_urls.is_empty() {
                vec![format!("{}/metrics", common.target)]
            } else {
                common.metrics_urls.clone()
            };
            let token = std::env::var(OPS_TOKEN_VAR).ok().filter(|t| !t.is_empty());
            Probe::new(load.clone(), urls, token)
        });
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                flag.store(true, Ordering::Relaxed);
            }
        });
        Ok(Self {
            load,
            auth,
            probe,
            stop,
            quiet: common.quiet,
        })
    }

    /// Seeds `users` accounts and builds the open-loop workload both
    /// constant-rate commands run: `mix` over users picked uniformly, with
    /// the in-flight cap and drain of `common`.
    ///
    /// # Errors
    /// Seeding failed.
    pub async fn uniform_workload(
        &self,
        common: &Common,
        users: u32,
        mix: &Mix,
    ) -> Result<(Arc<ApiWorkload>, Limits, SeedingReport), Error> {
        let users = usize::try_from(users).unwrap_or(usize::MAX);
        let seeded = self.seed(common, users).await?;
        let workload = Arc::new(ApiWorkload::new(
            self.load.clone(),
            seeded.users,
            Picker::Uniform,
            mix.clone(),
            PostCatalog::new(seeded.posts, CATALOG_SIZE),
        ));
        let limits = Limits {
            max_in_flight: usize::try_from(common.max_in_flight).unwrap_or(usize::MAX),
            drain: common.timeout + Duration::from_secs(1),
        };
        Ok((workload, limits, seeded.report))
    }

    /// Registers and logs in `users` accounts (see `seeding.rs`).
    ///
    /// # Errors
    /// Seeding failed; the message says how.
    pub async fn seed(&self, common: &Common, users: usize) -> Result<Seeded, Error> {
        let plan = SeedPlan {
            prefix: common.prefix.clone(),
            users,
            posts: usize::try_from(common.posts)
                .unwrap_or(usize::MAX)
                .min(users),
            concurrency: usize::try_from(common.seed_concurrency).unwrap_or(16),
        };
        let bar = progress::counter(users as u64, "seeding", self.quiet);
        let seeded = seeding::seed(&self.auth, plan, &bar).await;
        bar.finish_and_clear();
        seeded
    }

    /// A scrape of the server's metrics, or why there is none.
    pub async fn scrape(&self) -> Option<Result<Snapshot, String>> {
        match &self.probe {
            Some(probe) => Some(probe.scrape().await),
            None => None,
        }
    }

    /// The server's view of the interval between two scrapes.
    pub fn server_report(
        &self,
        before: Option<Result<Snapshot, String>>,
        after: Option<Result<Snapshot, String>>,
        wall: Duration,
    ) -> Option<ServerReport> {
        let urls = self.probe.as_ref()?.urls();
        Some(match (before?, after?) {
            (Ok(before), Ok(after)) => ServerReport::between(urls, &before, &after, wall),
            (Err(error), _) | (_, Err(error)) => ServerReport::failed(urls, error),
        })
    }

    /// One open-loop run at a constant `rate` for `length`, shown as a bar
    /// named `label`; returns what happened and the recorder holding it.
    ///
    /// # Errors
    /// A histogram could not be made.
    pub async fn constant<W: Workload>(
        &self,
        workload: Arc<W>,
        rate: f64,
        length: Duration,
        limits: Limits,
        seed: u64,
        label: &str,
    ) -> Result<(Counts, Arc<Recorder>), Error> {
        let recorder = Arc::new(Recorder::new()?);
        let arrivals = Schedule::new(Shape::Constant, rate, length, 0);
        let bar = RunBar::start(label, length, recorder.clone(), self.quiet);
        let counts = dispatch::run(
            workload,
            arrivals,
            limits,
            seed,
            recorder.clone(),
            self.stop.clone(),
        )
        .await;
        bar.finish();
        Ok((counts, recorder))
    }

    /// A warm-up: `rate` for `length`, reported on its own, never judged.
    ///
    /// # Errors
    /// A histogram could not be made.
    pub async fn warm_up<W: Workload>(
        &self,
        workload: Arc<W>,
        rate: f64,
        length: Duration,
        limits: Limits,
        seed: u64,
    ) -> Result<Warmup, Error> {
        let (counts, recorder) = self
            .constant(workload, rate, length, limits, seed, "warm-up")
            .await?;
        Ok(Warmup {
            rate,
            result: RunResult::new(rate, length, counts, &recorder),
        })
    }

    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}
