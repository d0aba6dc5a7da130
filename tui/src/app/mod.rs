//! The cockpit's state and its one entry point, [`App::update`]: an event
//! in, the state changed, at most one [`Command`] out. No IO happens here,
//! so every behaviour is a plain `#[test]`.

pub mod admin;
pub mod alerts;
pub mod audit;
pub mod fleet;
pub mod keys;
pub mod list;
pub mod login;
pub mod sessions;
pub mod target;

use std::time::{Duration, SystemTime};

pub use alerts::{AlertBoard, AlertRow};
pub use audit::AuditScreen;
pub use fleet::{FleetView, SilenceForm};
pub use login::{LoginField, LoginForm, LoginMode};
pub use sessions::{Confirm, OwnSession, SessionsScreen};
pub use target::{Status, Target};

use crate::command::Command;
use crate::event::Event;
use crate::numbers::{self, Reading};
use crate::thresholds::Threshold;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Overview,
    Alerts,
    Sessions,
    Audit,
}

impl Screen {
    pub const ALL: [Self; 4] = [Self::Overview, Self::Alerts, Self::Sessions, Self::Audit];

    pub fn title(self) -> &'static str {
        match self {
            Self::Overview => "Overview",
            Self::Alerts => "Alerts",
            Self::Sessions => "Sessions",
            Self::Audit => "Audit",
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }
}

/// What covers the screen, if anything. One at a time.
#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    None,
    Help,
    Confirm(Confirm),
    Login(LoginForm),
    /// Fleet mode: the duration of a silence being typed.
    Silence(SilenceForm),
}

/// Whether admin calls have a token to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminAuth {
    LoggedOut,
    /// `who`: the email logged in with, or where the token came from.
    LoggedIn {
        who: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKind {
    Info,
    Success,
    Error,
}

/// The message line at the bottom: the result of the last action, until
/// the next action replaces it or it ages out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLine {
    pub text: String,
    pub kind: StatusKind,
    /// When it was set (by the cockpit's clock).
    pub at: SystemTime,
}

impl StatusLine {
    /// How long a message stays: errors longer, they may need reading twice.
    pub fn lifetime(&self) -> Duration {
        match self.kind {
            StatusKind::Info | StatusKind::Success => Duration::from_secs(10),
            StatusKind::Error => Duration::from_secs(30),
        }
    }
}

/// Settings the state machine needs.
#[derive(Debug, Clone, PartialEq)]
pub struct AppConfig {
    pub targets: Vec<String>,
    pub interval: Duration,
    pub read_only: bool,
    /// An admin token came from the environment (`TENK_ADMIN_TOKEN`).
    pub admin_token_from_env: bool,
    /// Fleet mode: the Prometheus URL, and the Alertmanager URL if any.
    pub fleet: Option<(String, Option<String>)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct App {
    pub config: AppConfig,
    pub screen: Screen,
    pub overlay: Overlay,
    pub targets: Vec<Target>,
    pub alerts: AlertBoard,
    pub overview_selected: usize,
    /// The Overview's details show the selected instance's routes (`b`);
    /// in fleet mode, from Prometheus.
    pub show_routes: bool,
    pub alerts_selected: usize,
    pub sessions: SessionsScreen,
    pub audit: AuditScreen,
    /// Fleet mode (`--prometheus`): what Prometheus and Alertmanager say.
    pub fleet: Option<FleetView>,
    pub auth: AdminAuth,
    /// The session this cockpit logged in with (marked, confirmed twice).
    pub own: OwnSession,
    pub status: Option<StatusLine>,
    /// The read to run again once logged in (the one a 401 interrupted).
    pub after_login: Option<Command>,
    pub now: SystemTime,
    pub quit: bool,
}

impl App {
    pub fn new(config: AppConfig, thresholds: Vec<Threshold>, now: SystemTime) -> Self {
        let alerts = AlertBoard::new(thresholds);
        let keep = alerts.longest_window() + config.interval * 2;
        let targets = config
            .targets
            .iter()
            .map(|url| Target::new(url, keep, config.interval))
            .collect();
        let auth = if config.admin_token_from_env {
            AdminAuth::LoggedIn {
                who: "TENK_ADMIN_TOKEN".into(),
            }
        } else {
            AdminAuth::LoggedOut
        };
        let fleet = config
            .fleet
            .as_ref()
            .map(|(prometheus, alertmanager)| FleetView::new(prometheus, alertmanager.as_deref()));
        Self {
            config,
            fleet,
            screen: Screen::Overview,
            overlay: Overlay::None,
            targets,
            alerts,
            overview_selected: 0,
            show_routes: false,
            alerts_selected: 0,
            sessions: SessionsScreen::default(),
            audit: AuditScreen::default(),
            auth,
            own: OwnSession::default(),
            status: None,
            after_login: None,
            now,
            quit: false,
        }
    }

    /// What to do once at start: check whose the environment's admin token is.
    pub fn startup(&self) -> Option<Command> {
        self.config
            .admin_token_from_env
            .then(|| Command::CheckRole {
                target: self.admin_target(),
            })
    }

    /// Applies one event; returns what to do outside, if anything.
    pub fn update(&mut self, event: Event) -> Option<Command> {
        match event {
            Event::Key(key) => keys::on_key(self, key),
            Event::Resize => None,
            Event::Tick(now) => {
                self.now = now;
                self.alerts
                    .evaluate(&self.targets, now, self.config.interval);
                self.age_status(now);
                None
            }
            Event::Scraped { target, result } => {
                let target = self.targets.get_mut(target)?;
                match result {
                    Ok(scrape) => target.on_scrape(*scrape),
                    Err(failure) => target.on_failure(failure),
                }
                None
            }
            Event::Admin(event) => admin::on_admin_event(self, event),
            Event::Fleet(result) => {
                let answered = result.is_ok();
                if let Some(fleet) = &mut self.fleet {
                    fleet.on_snapshot(result);
                }
                // The breakdown on screen follows the fleet's pace.
                if answered {
                    self.fleet_routes_command()
                } else {
                    None
                }
            }
            Event::FleetRoutes(routes) => {
                if let Some(fleet) = &mut self.fleet {
                    fleet.on_routes(*routes);
                }
                None
            }
            Event::Silenced(result) => {
                match result {
                    Ok(id) => {
                        self.set_status(StatusKind::Success, format!("silenced (silence {id})"))
                    }
                    Err(error) => {
                        self.set_status(StatusKind::Error, format!("silencing failed: {error}"));
                    }
                }
                // Show the silence at once.
                Some(Command::PollNow)
            }
        }
    }

    /// Where admin calls go: the first instance that answers (sessions and
    /// the audit log are shared by all), else the first one.
    pub fn admin_target(&self) -> usize {
        self.targets
            .iter()
            .position(Target::is_answering)
            .unwrap_or(0)
    }

    /// The total over the instances that are UP, from their latest
    /// intervals: a DOWN or STALE instance's old numbers never count.
    pub fn total(&self) -> Reading {
        let readings: Vec<Reading> = self
            .targets
            .iter()
            .filter(|t| t.is_current(self.now, self.config.interval))
            .filter_map(Target::latest)
            .collect();
        numbers::total(&readings)
    }

    /// How many instances are UP (their numbers count).
    pub fn up_count(&self) -> usize {
        self.targets
            .iter()
            .filter(|t| t.is_current(self.now, self.config.interval))
            .count()
    }

    /// How many instances are DOWN (their last poll failed).
    pub fn down_count(&self) -> usize {
        self.targets
            .iter()
            .filter(|t| {
                matches!(
                    t.status(self.now, self.config.interval),
                    Status::Down { .. }
                )
            })
            .count()
    }

    /// How many instances have not answered for three intervals without failing.
    pub fn stale_count(&self) -> usize {
        self.targets
            .iter()
            .filter(|t| {
                matches!(
                    t.status(self.now, self.config.interval),
                    Status::Stale { .. }
                )
            })
            .count()
    }

    /// Requests per second summed over instances, newest last (the total's
    /// sparkline); a point where no instance answered is a gap (NaN).
    pub fn total_history(&self) -> Vec<f64> {
        let longest = self
            .targets
            .iter()
            .map(|t| t.history_rps.len())
            .max()
            .unwrap_or(0);
        (0..longest)
            .map(|age| {
                let points: Vec<f64> = self
                    .targets
                    .iter()
                    .filter_map(|t| t.history_rps.iter().rev().nth(longest - 1 - age))
                    .copied()
                    .filter(|v| v.is_finite())
                    .collect();
                if points.is_empty() {
                    f64::NAN
                } else {
                    points.iter().sum()
                }
            })
            .collect()
    }

    /// Fleet mode, with the per-route breakdown on the Overview: ask
    /// Prometheus for the selected instance's.
    fn fleet_routes_command(&self) -> Option<Command> {
        if !self.show_routes || self.screen != Screen::Overview {
            return None;
        }
        let instance = self.fleet.as_ref()?.selected_instance_name()?;
        Some(Command::FleetRoutes {
            instance: instance.to_string(),
        })
    }

    /// The filter and sort of the current screen's list, if it has one.
    pub fn list_view(&mut self) -> Option<&mut list::ListView> {
        match self.screen {
            Screen::Sessions => Some(&mut self.sessions.view),
            Screen::Audit => Some(&mut self.audit.view),
            Screen::Overview | Screen::Alerts => None,
        }
    }

    pub fn logged_in(&self) -> bool {
        matches!(self.auth, AdminAuth::LoggedIn { .. })
    }

    fn set_status(&mut self, kind: StatusKind, text: impl Into<String>) {
        self.status = Some(StatusLine {
            text: text.into(),
            kind,
            at: self.now,
        });
    }

    /// Drops the message once it has been shown for its lifetime.
    fn age_status(&mut self, now: SystemTime) {
        if self
            .status
            .as_ref()
            .is_some_and(|s| now.duration_since(s.at).unwrap_or_default() >= s.lifetime())
        {
            self.status = None;
        }
    }

    fn switch_to(&mut self, screen: Screen) -> Option<Command> {
        self.screen = screen;
        if screen == Screen::Audit && self.logged_in() && !self.audit.loading() {
            return Some(self.load_audit(None));
        }
        self.reload_failed_sessions()
    }

    /// Loads the sessions again when the list shows a failure (a 403
    /// before an admin logged in, ...) and the cockpit is on that screen.
    fn reload_failed_sessions(&mut self) -> Option<Command> {
        if self.screen != Screen::Sessions
            || !self.logged_in()
            || self.sessions.loading
            || self.sessions.error.is_none()
        {
            return None;
        }
        let query = self.sessions.query.clone()?;
        Some(self.find_sessions(query))
    }

    fn cycle_screen(&mut self, forward: bool) -> Option<Command> {
        let count = Screen::ALL.len();
        let index = self.screen.index();
        let next = if forward {
            (index + 1) % count
        } else {
            (index + count - 1) % count
        };
        self.switch_to(Screen::ALL[next])
    }

    fn load_audit(&mut self, cursor: Option<String>) -> Command {
        self.audit.requested = Some(cursor.clone());
        Command::LoadAudit {
            target: self.admin_target(),
            cursor,
        }
    }

    fn open_login(&mut self, error: Option<String>) {
        if !matches!(self.overlay, Overlay::Login(_)) {
            self.overlay = Overlay::Login(LoginForm::new(error));
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
