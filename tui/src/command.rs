//! What [`crate::app::App::update`] asks the outside world to do. The
//! runtime executes each one (an admin API call, quitting) and feeds the
//! answer back as an [`crate::event::Event`].

use crate::secret::Secret;

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Quit,
    /// Log in to the admin API of `target` (an index into the targets).
    Login {
        target: usize,
        email: String,
        credential: Credential,
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
    Revoke {
        target: usize,
        what: Revocation,
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
}

fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// What a revocation ends, with what the confirmation showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    Session { session_id: String, user_id: String },
    AllOfUser { user_id: String },
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
