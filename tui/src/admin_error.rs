//! Why an admin API call failed, in the words the operator needs: a 401
//! means "log in again", a 403 "this account is not an admin", a search for
//! an account that does not exist "no such user", a 5xx names the server's
//! problem and its request id.

use std::time::Duration;

use contract::api::{Problem, problem_code};

use crate::command::SessionQuery;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AdminError {
    /// No token, or the token expired or its session was revoked.
    #[error("401 unauthorized: log in again (press L)")]
    Unauthorized,
    #[error("403 forbidden: this account is not an admin")]
    Forbidden,
    /// Logged in, but the account's role is not `admin` (checked at login;
    /// that session was logged out again).
    #[error("this account is not an admin (role {role}): log in with an admin account")]
    NotAdmin { role: String },
    /// `code`: the problem's (`not_found`, `user_not_found`), empty
    /// without a problem body.
    #[error("404 not found: {detail}")]
    NotFound { detail: String, code: String },
    /// The sessions search named no account (404 `user_not_found`),
    /// distinct from an account without sessions (an empty list).
    #[error("no such user: no account has the {} {}", .0.kind(), .0.text())]
    NoSuchUser(SessionQuery),
    #[error("429 too many requests: retry in {}s", .retry_after.as_secs())]
    RateLimited { retry_after: Duration },
    /// Wrong email, password or code at login (the server does not say which).
    #[error("login refused: wrong email, password or code")]
    BadCredentials,
    #[error("{status} {detail}")]
    Rejected { status: u16, detail: String },
    #[error("server error {status}: {detail}")]
    Server { status: u16, detail: String },
    #[error("cannot reach the server: {0}")]
    Network(String),
    #[error("unexpected answer: {0}")]
    Decode(String),
}

impl AdminError {
    /// The error for an HTTP status and its problem body, if it had one.
    pub fn from_status(
        status: u16,
        problem: Option<&Problem>,
        retry_after: Option<Duration>,
    ) -> Self {
        let detail = problem.map_or_else(
            || "no details".to_string(),
            |p| {
                let text = p.detail.as_deref().unwrap_or(&p.title);
                format!("{text} ({}; request id {})", p.code, p.request_id)
            },
        );
        match status {
            401 => Self::Unauthorized,
            403 => Self::Forbidden,
            404 => Self::NotFound {
                detail: problem
                    .and_then(|p| p.detail.clone())
                    .unwrap_or_else(|| "gone".into()),
                code: problem.map(|p| p.code.clone()).unwrap_or_default(),
            },
            429 => Self::RateLimited {
                retry_after: retry_after.unwrap_or(Duration::from_secs(1)),
            },
            500..=599 => Self::Server { status, detail },
            _ => Self::Rejected { status, detail },
        }
    }

    /// The error of a session search for `query`: the server's 404
    /// `user_not_found` says no account is what was searched for. Any other
    /// 404 (a proxy, a wrong base URL) stays what it is.
    #[must_use]
    pub fn of_search(self, query: &SessionQuery) -> Self {
        match self {
            Self::NotFound { code, .. } if code == problem_code::USER_NOT_FOUND => {
                Self::NoSuchUser(query.clone())
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(status: u16, code: &str) -> Problem {
        Problem {
            type_: format!("urn:tenk:problem:{code}"),
            title: "Title".into(),
            status,
            detail: Some("what went wrong".into()),
            code: code.into(),
            request_id: "req-1".into(),
            errors: Vec::new(),
        }
    }

    #[test]
    fn each_status_says_what_to_do() {
        assert_eq!(
            AdminError::from_status(401, None, None).to_string(),
            "401 unauthorized: log in again (press L)"
        );
        assert_eq!(
            AdminError::from_status(403, Some(&problem(403, "forbidden")), None),
            AdminError::Forbidden
        );
        let server = AdminError::from_status(503, Some(&problem(503, "redis_unavailable")), None);
        assert_eq!(
            server.to_string(),
            "server error 503: what went wrong (redis_unavailable; request id req-1)"
        );
        assert_eq!(
            AdminError::from_status(429, None, Some(Duration::from_secs(7))).to_string(),
            "429 too many requests: retry in 7s"
        );
        assert!(matches!(
            AdminError::from_status(422, Some(&problem(422, "invalid")), None),
            AdminError::Rejected { status: 422, .. }
        ));
    }

    #[test]
    fn a_search_for_no_account_is_no_such_user_whether_by_email_or_by_id() {
        let email = SessionQuery::Email("nobody@example.com".into());
        let id = SessionQuery::UserId("7c1d2f3a-0000-4000-8000-000000000001".into());
        let answer = || AdminError::from_status(404, Some(&problem(404, "user_not_found")), None);
        assert_eq!(
            answer().of_search(&email).to_string(),
            "no such user: no account has the email nobody@example.com"
        );
        assert_eq!(
            answer().of_search(&id).to_string(),
            "no such user: no account has the user id 7c1d2f3a-0000-4000-8000-000000000001"
        );
        // A 404 that is not the server's answer about the account.
        for other in [
            AdminError::from_status(404, Some(&problem(404, "not_found")), None),
            AdminError::from_status(404, None, None),
        ] {
            assert!(
                matches!(other.clone().of_search(&id), AdminError::NotFound { .. }),
                "{other:?}"
            );
        }
        assert_eq!(
            AdminError::Forbidden.of_search(&email),
            AdminError::Forbidden
        );
    }
}
