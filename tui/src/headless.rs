//! `--once`: two polls of every instance one interval apart, fed through the
//! same [`App`] the screens use (so the numbers and the alert states are the
//! ones the cockpit would show), then a [`Report`]; in fleet mode, one look
//! at Prometheus (and Alertmanager), a [`FleetReport`].

use std::time::SystemTime;

use futures_util::future::join_all;

use crate::app::App;
use crate::cli::Settings;
use crate::event::{Event, ScrapeFailure};
use crate::fleet::fetch_snapshot;
use crate::fleet::report::FleetReport;
use crate::poller::Poller;
use crate::report::Report;
use crate::runtime::{app_config, fleet_sources, http_client};

/// Runs the two polls and builds the report.
///
/// # Errors
/// Only when the HTTP client cannot be built; an instance that does not
/// answer is part of the report, not an error.
pub async fn run_once(settings: &Settings) -> anyhow::Result<Report> {
    let cli = &settings.cli;
    let http = http_client(cli.timeout)?;
    let pollers: Vec<Poller> = cli
        .targets
        .iter()
        .map(|url| {
            Poller::new(
                http.clone(),
                url,
                settings.ops_token.clone(),
                cli.interval,
                cli.timeout,
            )
            .with_max_backoff(cli.max_backoff)
        })
        .collect();
    let mut app = App::new(
        app_config(settings),
        settings.thresholds.clone(),
        SystemTime::now(),
    );
    for round in 0..2 {
        if round > 0 {
            tokio::time::sleep(cli.interval).await;
        }
        let results = join_all(pollers.iter().map(Poller::poll)).await;
        for (target, result) in results.into_iter().enumerate() {
            let result = result.map(Box::new).map_err(|error| ScrapeFailure {
                at: SystemTime::now(),
                error: error.to_string(),
                retry_in: cli.interval,
            });
            app.update(Event::Scraped { target, result });
        }
        // One evaluation per round, as Prometheus evaluates after scrapes.
        app.update(Event::Tick(SystemTime::now()));
    }
    Ok(Report::of(&app))
}

/// `--once --prometheus URL`: one look at the fleet.
///
/// # Errors
/// When Prometheus does not answer.
pub async fn run_fleet_once(settings: &Settings) -> anyhow::Result<FleetReport> {
    let http = http_client(settings.cli.timeout)?;
    let sources = fleet_sources(settings, &http)
        .ok_or_else(|| anyhow::anyhow!("fleet mode needs --prometheus"))?;
    let snapshot = fetch_snapshot(
        &sources.prometheus,
        sources.alertmanager.as_ref(),
        &sources.queries,
    )
    .await?;
    Ok(FleetReport::of(
        settings.cli.prometheus.as_deref().unwrap_or_default(),
        &snapshot,
    ))
}
