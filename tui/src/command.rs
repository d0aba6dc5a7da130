//! What [`crate::app::App::update`] asks the outside world to do. The
//! runtime executes each one (an admin API call, quitting) and feeds the
//! answer back as an [`crate::event::Event`].

use crate::secret::Secret;

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Quit,
    /// Poll every target now instead of waiting for its next poll or the
    /// end of its backoff.
    PollNow,
    /// Fleet mode: silence the alert with these labels in Alertmanager
    /// for `duration` (confirmed; never in read-only).
    Silence {
        labels: std::collections::BTreeMap<String, String>,
        duration: std::time::Duration,
    },
    /// Fleet mode: ask Prometheus for the per-route breakdown of this
    /// instance (its `instance` label).
    FleetRoutes {
        instance: String,
    },
    /// Put this text on the clipboard of the operator's terminal (OSC 52,
    /// which works over ssh).
    Copy(String),
    /// Log in to the admin API of `target` (an index into the targets).
    Login {
        target: usize,
        email: String,
        credential: Credential,
    },
    /// Whose is the admin token from the environment, and is it an admin's
    /// (asked once at start, so the header never labels a non-admin admin).
    CheckRole {
        target: usize,
    },
    /// Ask for a one-time code by mail.
    RequestCode {
        target: usize,
        email: String,
    },
    FindSessions {
        target: usize,
        query: SessionQuery,
    },
    /// Run a confirmed [`AdminAction`] (a revocation, disable, enable).
    Revoke {
        target: usize,
        what: AdminAction,
        /// It ends the session this cockpit is logged in with (confirmed twice):
        /// the client forgets its token once it succeeded.
        ends_own_session: bool,
    },
    /// A page of the audit log; `None` is the newest.
    LoadAudit {
        target: usize,
        cursor: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Credential {
    Password(Secret),
    Code(Secret),
}

/// Whose sessions to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionQuery {
    Email(String),
    UserId(String),
}

impl SessionQuery {
    /// Reads what the operator typed: a UUID is a user id, anything with an
    /// `@` an email.
    ///
    /// # Errors
    /// A hint when it is neither.
    pub fn parse(input: &str) -> Result<Self, String> {
        let input = input.trim();
        if is_uuid(input) {
            Ok(Self::UserId(input.to_ascii_lowercase()))
        } else if input.contains('@') && !input.contains(char::is_whitespace) {
            Ok(Self::Email(input.to_string()))
        } else {
            Err("type an email address or a user id (UUID)".into())
        }
    }

    /// As the operator typed it.
    pub fn text(&self) -> &str {
        match self {
            Self::Email(text) | Self::UserId(text) => text,
        }
    }

    /// What is searched by, in words: `email` or `user id`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Email(_) => "email",
            Self::UserId(_) => "user id",
        }
    }
}

fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// An admin action that changes something, run only after the operator
/// confirmed it (never in `--read-only`), with what the confirmation showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminAction {
    /// End one session.
    Session { session_id: String, user_id: String },
    /// End every session of a user.
    AllOfUser { user_id: String },
    /// Disable an account (its sessions end; it cannot log in).
    DisableUser { user_id: String },
    /// Enable a disabled account again.
    EnableUser { user_id: String },
}

impl AdminAction {
    /// The user it acts on.
    pub fn user_id(&self) -> &str {
        match self {
            Self::Session { user_id, .. }
            | Self::AllOfUser { user_id }
            | Self::DisableUser { user_id }
            | Self::EnableUser { user_id } => user_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uuid_is_a_user_id_and_an_address_an_email() {
        assert_eq!(
            SessionQuery::parse(" 7C1D2F3A-0000-4000-8000-000000000001 "),
            Ok(SessionQuery::UserId(
                "7c1d2f3a-0000-4000-8000-000000000001".into()
            ))
        );
        assert_eq!(
            SessionQuery::parse("alice@example.com"),
            Ok(SessionQuery::Email("alice@example.com".into()))
        );
        assert!(SessionQuery::parse("alice").is_err());
        assert!(SessionQuery::parse("").is_err());
        assert!(SessionQuery::parse("a b@c").is_err());
    }
}
