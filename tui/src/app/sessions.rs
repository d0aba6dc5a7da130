//! The Sessions screen's state: the search box, the sessions found, the
//! selection, and the confirmation that names what a revocation will end.

use std::time::SystemTime;

use contract::api::SessionSummary;

use crate::command::{Revocation, SessionQuery};

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
}

/// A revocation waiting for `y`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    pub what: Revocation,
    /// The question, naming what will be revoked.
    pub message: String,
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
    pub fn selected_session(&self) -> Option<&SessionSummary> {
        self.sessions.get(self.selected)
    }

    pub fn move_selection(&mut self, down: bool) {
        if self.sessions.is_empty() {
            self.selected = 0;
        } else if down {
            self.selected = (self.selected + 1).min(self.sessions.len() - 1);
        } else {
            self.selected = self.selected.saturating_sub(1);
        }
    }

    /// The user the listed sessions belong to, as the operator knows them.
    fn owner(&self, user_id: &str) -> String {
        match &self.query {
            Some(SessionQuery::Email(email)) => format!("{email} ({})", short_id(user_id)),
            _ => format!("user {user_id}"),
        }
    }

    /// The question before revoking the selected session.
    pub fn confirm_one(&self) -> Option<Confirm> {
        let session = self.selected_session()?;
        let mut message = format!(
            "Revoke session {} of {}\n(IP {}, {}, last seen {})?",
            short_id(&session.id),
            self.owner(&session.user_id),
            session.ip,
            session.user_agent,
            crate::format::timestamp(&session.last_seen_at)
        );
        if session.current {
            message.push_str("\nThis is the session this cockpit is logged in with.");
        }
        Some(Confirm {
            what: Revocation::Session {
                session_id: session.id.clone(),
                user_id: session.user_id.clone(),
            },
            message,
        })
    }

    /// The question before revoking every session of the selected session's user.
    pub fn confirm_all(&self) -> Option<Confirm> {
        let user_id = self.selected_session()?.user_id.clone();
        let count = self
            .sessions
            .iter()
            .filter(|s| s.user_id == user_id)
            .count();
        let plural = if count == 1 { "" } else { "s" };
        Some(Confirm {
            message: format!(
                "Revoke ALL sessions of {}\n({count} listed session{plural}; any opened since end too)?",
                self.owner(&user_id)
            ),
            what: Revocation::AllOfUser { user_id },
        })
    }

    /// New results arrived for `query`.
    pub fn loaded(&mut self, query: &SessionQuery, sessions: Vec<SessionSummary>, now: SystemTime) {
        if self.query.as_ref() != Some(query) {
            return;
        }
        self.sessions = sessions;
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
