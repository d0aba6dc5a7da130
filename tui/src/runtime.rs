//! The interactive run: the terminal, the tasks (one poller per target, the
//! clock, the keyboard, SIGTERM) sending events into one channel, and the
//! loop that feeds them to [`App::update`], runs the commands it returns
//! (admin calls, waking every poller at once, fleet queries),
//! and draws at most once per frame. The terminal is restored on every way
//! out: quitting, an error, a panic (ratatui's hook), SIGTERM.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use crossterm::event::{Event as TermEvent, EventStream};
use futures_util::StreamExt;
use ratatui::DefaultTerminal;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::admin_client::AdminClient;
use crate::app::{App, AppConfig};
use crate::cli::Settings;
use crate::command::Command;
use crate::event::Event;
use crate::fleet::{AlertmanagerClient, FleetQueries, FleetSources, PrometheusClient};
use crate::poller::Poller;
use crate::ui;

/// At most this many frames per second.
const FRAME: Duration = Duration::from_millis(33);
/// Events handled before the screen is drawn again, at most.
const BATCH: usize = 256;

/// The HTTP client every task shares.
///
/// # Errors
/// When the TLS backend cannot start.
pub fn http_client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("tenk-tui/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the HTTP client")
}

pub fn app_config(settings: &Settings) -> AppConfig {
    AppConfig {
        targets: settings.cli.targets.clone(),
        interval: settings.cli.interval,
        read_only: settings.cli.read_only,
        admin_token_from_env: settings.admin_token.is_some(),
        fleet: settings
            .cli
            .prometheus
            .clone()
            .map(|prometheus| (prometheus, settings.cli.alertmanager.clone())),
    }
}

/// Fleet mode's sources, when `--prometheus` is given.
pub fn fleet_sources(settings: &Settings, http: &reqwest::Client) -> Option<FleetSources> {
    let cli = &settings.cli;
    let prometheus = cli.prometheus.as_deref()?;
    Some(FleetSources {
        prometheus: PrometheusClient::new(http.clone(), prometheus, cli.timeout),
        alertmanager: cli
            .alertmanager
            .as_deref()
            .map(|url| AlertmanagerClient::new(http.clone(), url, cli.timeout)),
        queries: FleetQueries::new(&cli.selector, &cli.rate_window),
    })
}

/// Runs the cockpit until the operator quits.
///
/// # Errors
/// When the terminal cannot be set up or drawn to, or a task panicked.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let cli = &settings.cli;
    let http = http_client(cli.timeout)?;
    let admin = AdminClient::new(
        http.clone(),
        cli.targets.clone(),
        settings.admin_token.clone(),
        cli.timeout,
    );
    let mut app = App::new(
        app_config(&settings),
        settings.thresholds.clone(),
        SystemTime::now(),
    );
    let (events, mut inbox) = mpsc::channel::<Event>(1024);
    let mut tasks = JoinSet::new();
    if let Some(command) = app.startup() {
        let (admin, events) = (admin.clone(), events.clone());
        tasks.spawn(async move {
            if let Some(answer) = admin.execute(command).await {
                let _ = events.send(answer).await;
            }
        });
    }
    let poll_now = Arc::new(Notify::new());
    let fleet = fleet_sources(&settings, &http);
    if let Some(sources) = &fleet {
        tasks.spawn(
            sources
                .clone()
                .watch(cli.interval, events.clone(), Arc::clone(&poll_now)),
        );
    }
    // In fleet mode the targets are only the admin API: Prometheus polls.
    let polled: &[String] = if fleet.is_some() { &[] } else { &cli.targets };
    for (index, url) in polled.iter().enumerate() {
        let poller = Poller::new(
            http.clone(),
            url,
            settings.ops_token.clone(),
            cli.interval,
            cli.timeout,
        )
        .with_max_backoff(cli.max_backoff);
        tasks.spawn(poller.run(index, events.clone(), Arc::clone(&poll_now)));
    }
    tasks.spawn(clock(events.clone()));
    tasks.spawn(keyboard(events.clone()));
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("listening for SIGTERM")?;
    tracing::info!(
        targets = cli.targets.len(),
        read_only = cli.read_only,
        "cockpit started"
    );

    let result = match ratatui::try_init() {
        Ok(mut terminal) => {
            let outside = Outside {
                events: &events,
                admin: &admin,
                poll_now: &poll_now,
                fleet: fleet.as_ref(),
            };
            let result = event_loop(
                &mut terminal,
                &mut app,
                &mut inbox,
                &outside,
                &mut tasks,
                &mut terminate,
            )
            .await;
            drop(terminal);
            result
        }
        Err(error) => Err(anyhow::Error::new(error).context("setting up the terminal")),
    };
    ratatui::restore();
    tasks.abort_all();
    if tokio::time::timeout(Duration::from_secs(2), admin.logout(app.admin_target()))
        .await
        .is_err()
    {
        tracing::warn!("logout did not answer in time");
    }
    tracing::info!(ok = result.is_ok(), "cockpit stopped");
    result
}

/// What the commands of [`App::update`] act on.
struct Outside<'a> {
    events: &'a mpsc::Sender<Event>,
    admin: &'a AdminClient,
    /// Wakes every poller at once.
    poll_now: &'a Notify,
    /// Fleet mode: Prometheus and Alertmanager.
    fleet: Option<&'a FleetSources>,
}

async fn event_loop(
    terminal: &mut DefaultTerminal,
    app: &mut App,
    inbox: &mut mpsc::Receiver<Event>,
    outside: &Outside<'_>,
    tasks: &mut JoinSet<()>,
    terminate: &mut tokio::signal::unix::Signal,
) -> anyhow::Result<()> {
    let mut dirty = true;
    let mut next_draw = Instant::now();
    loop {
        if dirty && Instant::now() >= next_draw {
            terminal
                .draw(|frame| ui::draw(frame, app))
                .context("drawing")?;
            dirty = false;
            next_draw = Instant::now() + FRAME;
        }
        let first = tokio::select! {
            event = inbox.recv() => event,
            () = tokio::time::sleep_until(next_draw), if dirty => continue,
            Some(joined) = tasks.join_next() => {
                if let Err(error) = joined
                    && error.is_panic()
                {
                    anyhow::bail!("a background task panicked (see the log)");
                }
                continue;
            }
            _ = terminate.recv() => {
                tracing::info!("SIGTERM");
                return Ok(());
            }
        };
        let Some(first) = first else {
            return Ok(());
        };
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match inbox.try_recv() {
                Ok(event) => batch.push(event),
                Err(_) => break,
            }
        }
        for event in batch {
            match app.update(event) {
                None => {}
                Some(Command::Quit) => return Ok(()),
                Some(Command::PollNow) => outside.poll_now.notify_waiters(),
                Some(Command::Silence { labels, duration }) => {
                    let Some(fleet) = outside.fleet.cloned() else {
                        continue;
                    };
                    let events = outside.events.clone();
                    tasks.spawn(async move {
                        let answer = fleet.silence(labels, duration).await;
                        let _ = events.send(answer).await;
                    });
                }
                Some(Command::FleetRoutes { instance }) => {
                    let Some(fleet) = outside.fleet.cloned() else {
                        continue;
                    };
                    let events = outside.events.clone();
                    tasks.spawn(async move {
                        let answer = fleet.routes(instance).await;
                        let _ = events.send(answer).await;
                    });
                }
                Some(Command::Copy(text)) => {
                    if let Err(error) = crate::clipboard::copy(&text) {
                        tracing::warn!(error = %error, "writing OSC 52 failed");
                    }
                }
                Some(command) => {
                    let admin = outside.admin.clone();
                    let events = outside.events.clone();
                    tasks.spawn(async move {
                        if let Some(answer) = admin.execute(command).await {
                            let _ = events.send(answer).await;
                        }
                    });
                }
            }
        }
        dirty = true;
    }
}

/// One tick a second: the clock on screen, staleness, alert evaluation.
async fn clock(events: mpsc::Sender<Event>) {
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if events.send(Event::Tick(SystemTime::now())).await.is_err() {
            return;
        }
    }
}

/// Keys and resizes from the terminal.
async fn keyboard(events: mpsc::Sender<Event>) {
    let mut stream = EventStream::new();
    while let Some(event) = stream.next().await {
        let event = match event {
            Ok(TermEvent::Key(key)) => Event::Key(key),
            Ok(TermEvent::Resize(..)) => Event::Resize,
            Ok(_) => continue,
            Err(error) => {
                tracing::error!(error = %error, "reading the terminal failed");
                return;
            }
        };
        if events.send(event).await.is_err() {
            return;
        }
    }
}
