//! Why an admin API call failed, in the words the operator needs: a 401
//! means "log in again", a 403 "this account is not an admin", a 5xx names
//! the server's problem and its request id.

use std::time::Duration;

use contract::api::Problem;

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
    #[error("404 not found: {0}")]
    NotFound(String),
    /// The sessions search found no account with this email (distinct from
    /// an account without sessions).
    #[error("no such user: no account has the email {0}")]
    NoSuchUser(String),
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
            404 => Self::NotFound(
                problem
                    .and_then(|p| p.detail.clone())
                    .unwrap_or_else(|| "gone".into()),
            ),
            429 => Self::RateLimited {
                retry_after: retry_after.unwrap_or(Duration::from_secs(1)),
            },
            500..=599 => Self::Server { status, detail },
            _ => Self::Rejected { status, detail },
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
}
