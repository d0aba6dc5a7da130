//! Everything that can happen to the cockpit, as values: keys, the clock,
//! scrapes and admin answers. Tasks send these into one channel; only
//! [`crate::app::App::update`] turns them into state.

use std::time::{Duration, SystemTime};

use contract::api::{AuditPage, SessionSummary};
use contract::health::DetailedHealth;
use crossterm::event::KeyEvent;

use crate::admin_error::AdminError;
use crate::command::{AdminAction, SessionQuery};
use crate::fleet::{FleetRoutes, FleetSnapshot};
use crate::prom::Snapshot;

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Key(KeyEvent),
    /// The terminal changed size: redraw.
    Resize,
    /// The clock: alerts are evaluated and staleness judged at this time.
    Tick(SystemTime),
    /// One poll of one target (index into the targets) finished.
    Scraped {
        target: usize,
        result: Result<Box<Scrape>, ScrapeFailure>,
    },
    Admin(AdminEvent),
    /// Fleet mode: one look at the fleet from Prometheus (and Alertmanager).
    Fleet(Result<Box<FleetSnapshot>, String>),
    /// Fleet mode: the per-route breakdown of one instance (`b`).
    FleetRoutes(Box<FleetRoutes>),
    /// Fleet mode: the answer to a silence (its id, or why it failed).
    Silenced(Result<String, String>),
}

/// The account an admin token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user_id: String,
    pub email: String,
    /// `admin` or `user`.
    pub role: String,
}

/// A successful poll: the metrics, and the detailed health when it answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Scrape {
    pub snapshot: Snapshot,
    pub health: Result<DetailedHealth, String>,
}

/// A failed poll: why, when, and when the poller tries again.
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeFailure {
    pub at: SystemTime,
    pub error: String,
    pub retry_in: Duration,
}

/// The answer to a [`crate::command::Command`] sent to the admin API.
#[derive(Debug, Clone, PartialEq)]
pub enum AdminEvent {
    LoggedIn {
        email: String,
        /// The session the login opened (this cockpit's own).
        session_id: Option<String>,
        /// The admin's user id.
        user_id: Option<String>,
    },
    LoginFailed(AdminError),
    /// Who the environment's admin token belongs to.
    RoleChecked(Result<Identity, AdminError>),
    CodeSent {
        email: String,
    },
    CodeFailed(AdminError),
    Sessions {
        query: SessionQuery,
        result: Result<Vec<SessionSummary>, AdminError>,
    },
    Revoked {
        what: AdminAction,
        /// How many sessions ended.
        result: Result<u64, AdminError>,
    },
    Audit {
        result: Result<AuditPage, AdminError>,
    },
}
