//! `--once`: two polls of every instance one interval apart, fed through the
//! same [`App`] the screens use (so the numbers and the alert states are the
//! ones the cockpit would show), then a [`Report`].

use std::time::SystemTime;

use futures_util::future::join_all;

use crate::app::App;
use crate::cli::Settings;
use crate::event::{Event, ScrapeFailure};
use crate::poller::Poller;
use crate::report::Report;
use crate::runtime::{app_config, http_client};

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
