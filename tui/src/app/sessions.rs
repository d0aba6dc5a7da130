//! The Sessions screen's state: the search box, the sessions found, the
//! selection (back to the top on a new search), and the confirmation that
//! names what a revocation will end, with a second one when it ends the
//! cockpit's own session.

use std::cmp::Ordering;
use std::time::SystemTime;

use contract::api::SessionSummary;

use super::list::{ListView, Move, SortKey, moved};
use crate::command::{AdminAction, SessionQuery};

/// The orders `s` cycles through on the Sessions screen.
pub static SESSION_SORTS: [SortKey<SessionSummary>; 5] = [
    SortKey {
        name: "as listed",
        compare: as_listed,
    },
    SortKey {
        name: "last seen",
        compare: by_last_seen,
    },
    SortKey {
        name: "created",
        compare: by_created,
    },
    SortKey {
        name: "ip",
        compare: by_ip,
    },
    SortKey {
        name: "user agent",
        compare: by_user_agent,
    },
];

fn as_listed(_: &SessionSummary, _: &SessionSummary) -> Ordering {
    Ordering::Equal
}

/// Newest first.
fn by_last_seen(a: &SessionSummary, b: &SessionSummary) -> Ordering {
    b.last_seen_at.cmp(&a.last_seen_at)
}

/// Newest first.
fn by_created(a: &SessionSummary, b: &SessionSummary) -> Ordering {
    b.created_at.cmp(&a.created_at)
}

fn by_ip(a: &SessionSummary, b: &SessionSummary) -> Ordering {
    a.ip.cmp(&b.ip)
}

fn by_user_agent(a: &SessionSummary, b: &SessionSummary) -> Ordering {
    a.user_agent.cmp(&b.user_agent)
}

/// What the filter looks in.
fn session_text(session: &SessionSummary) -> String {
    format!(
        "{} {} {} {} {}",
        session.id, session.ip, session.user_agent, session.created_at, session.last_seen_at
    )
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SessionsScreen {
    /// What is typed in the search box.
    pub input: String,
    /// Keys go to the search box.
    pub editing: bool,
    /// The search whose results are listed.
    pub query: Option<SessionQuery>,
    pub sessions: Vec<SessionSummary>,
    pub selected: usize,
    pub loading: bool,
    pub loaded_at: Option<SystemTime>,
    pub error: Option<String>,
    /// The answer on its way is for a search the operator just ran (not a
    /// reload): the selection goes to the top and the result is announced.
    pub fresh_search: bool,
    /// The filter and sort of the list.
    pub view: ListView,
}

/// The session this cockpit is logged in with (from its own login).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OwnSession {
    pub session_id: Option<String>,
    pub user_id: Option<String>,
}

impl OwnSession {
    pub fn is(&self, session_id: &str) -> bool {
        self.session_id.as_deref() == Some(session_id)
    }

    /// Whether revoking `what` ends this cockpit's own session.
    pub fn ended_by(&self, what: &AdminAction) -> bool {
        match what {
            AdminAction::Session { session_id, .. } => self.is(session_id),
            AdminAction::AllOfUser { user_id } | AdminAction::DisableUser { user_id } => {
                self.user_id.as_deref() == Some(user_id)
            }
            AdminAction::EnableUser { .. } => false,
        }
    }
}

/// A revocation waiting for `y`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    pub what: AdminAction,
    /// The question, naming what will be revoked.
    pub message: String,
    /// It ends the cockpit's own session: a second `y` is asked for.
    pub ends_own_session: bool,
    /// This is that second question.
    pub second: bool,
}

impl Confirm {
    /// The second question before the cockpit revokes its own session.
    pub fn second(&self) -> Self {
        Self {
            what: self.what.clone(),
            message: "This ends the session THIS COCKPIT is logged in with:\n\
                      it will be logged out and every admin action stops\n\
                      until you log in again (L). Revoke it anyway?"
                .into(),
            ends_own_session: true,
            second: true,
        }
    }
}

/// `7c1d2f3a-...-000000000001` → `7c1d2f3a…0001`, for narrow columns.
pub fn short_id(id: &str) -> String {
    if id.chars().count() <= 13 {
        return id.to_string();
    }
    let head: String = id.chars().take(8).collect();
    let tail: String = id
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{head}…{tail}")
}

impl SessionsScreen {
    /// The indices of the sessions shown (filtered, sorted).
    pub fn visible(&self) -> Vec<usize> {
        self.view
            .visible(&self.sessions, session_text, &SESSION_SORTS)
    }

    /// The sessions shown, in order.
    pub fn shown(&self) -> Vec<&SessionSummary> {
        self.visible()
            .into_iter()
            .filter_map(|i| self.sessions.get(i))
            .collect()
    }

    pub fn selected_session(&self) -> Option<&SessionSummary> {
        let index = *self.visible().get(self.selected)?;
        self.sessions.get(index)
    }

    pub fn move_selection(&mut self, step: Move) {
        self.selected = moved(self.selected, self.visible().len(), step);
    }

    /// The name of the current order.
    pub fn sort_name(&self) -> &'static str {
        SESSION_SORTS
            .get(self.view.sort)
            .map_or("as listed", |key| key.name)
    }

    /// The user the listed sessions belong to, as the operator knows them.
    fn owner(&self, user_id: &str) -> String {
        match &self.query {
            Some(SessionQuery::Email(email)) => format!("{email} ({})", short_id(user_id)),
            _ => format!("user {user_id}"),
        }
    }

    /// The question before revoking the selected session.
    pub fn confirm_one(&self, own: &OwnSession) -> Option<Confirm> {
        let session = self.selected_session()?;
        let ends_own_session = session.current || own.is(&session.id);
        let mut message = format!(
            "Revoke session {} of {}\n(IP {}, {}, last seen {})?",
            short_id(&session.id),
            self.owner(&session.user_id),
            session.ip,
            session.user_agent,
            crate::format::timestamp(&session.last_seen_at)
        );
        if ends_own_session {
            message.push_str("\nThis is the session this cockpit is logged in with.");
        }
        Some(Confirm {
            what: AdminAction::Session {
                session_id: session.id.clone(),
                user_id: session.user_id.clone(),
            },
            message,
            ends_own_session,
            second: false,
        })
    }

    /// The question before revoking every session of the selected session's user.
    pub fn confirm_all(&self, own: &OwnSession) -> Option<Confirm> {
        let user_id = self.selected_session()?.user_id.clone();
        let count = self
            .sessions
            .iter()
            .filter(|s| s.user_id == user_id)
            .count();
        let plural = if count == 1 { "" } else { "s" };
        let what = AdminAction::AllOfUser { user_id };
        let ends_own_session =
            own.ended_by(&what) || self.sessions.iter().any(|s| s.current || own.is(&s.id));
        let mut message = format!(
            "Revoke ALL sessions of {}\n({count} listed session{plural}; any opened since end too)?",
            self.owner(what.user_id())
        );
        if ends_own_session {
            message.push_str("\nOne of them is the session this cockpit is logged in with.");
        }
        Some(Confirm {
            message,
            what,
            ends_own_session,
            second: false,
        })
    }

    /// The question before disabling (or enabling) the selected session's user.
    pub fn confirm_account(&self, own: &OwnSession, disable: bool) -> Option<Confirm> {
        let user_id = self.selected_session()?.user_id.clone();
        let owner = self.owner(&user_id);
        let (what, mut message) = if disable {
            (
                AdminAction::DisableUser { user_id },
                format!(
                    "Disable the account of {owner}?\nEvery session of it ends and it cannot log in until enabled (E)."
                ),
            )
        } else {
            (
                AdminAction::EnableUser { user_id },
                format!("Enable the account of {owner} again?\nIt can log in again."),
            )
        };
        let ends_own_session = own.ended_by(&what);
        if ends_own_session {
            message.push_str("\nIt is the account this cockpit is logged in with.");
        }
        Some(Confirm {
            what,
            message,
            ends_own_session,
            second: false,
        })
    }

    /// New results arrived for `query`.
    pub fn loaded(&mut self, query: &SessionQuery, sessions: Vec<SessionSummary>, now: SystemTime) {
        if self.query.as_ref() != Some(query) {
            return;
        }
        self.sessions = sessions;
        if std::mem::take(&mut self.fresh_search) {
            self.selected = 0;
        }
        self.selected = self.selected.min(self.sessions.len().saturating_sub(1));
        self.loading = false;
        self.loaded_at = Some(now);
        self.error = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_ids_are_shortened_with_both_ends_kept() {
        assert_eq!(
            short_id("7c1d2f3a-0000-4000-8000-000000000001"),
            "7c1d2f3a…0001"
        );
        assert_eq!(short_id("short"), "short");
    }
}
