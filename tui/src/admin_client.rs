//! The admin API: login (password or one-time code), session search,
//! revocation and the audit log. The access token lives here, never in the
//! [`crate::app::App`], never in a log line; errors become [`AdminError`]s
//! that say what to do.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use contract::api::{AuditPage, Problem, RevokeSessionsResponse, SessionSummary, TokenResponse};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::admin_error::AdminError;
use crate::command::{Command, Credential, Revocation, SessionQuery};
use crate::event::{AdminEvent, Event};
use crate::poller::describe;
use crate::secret::Secret;

/// The token in use and whether this program opened its session (and so
/// should close it at exit).
#[derive(Default)]
struct Auth {
    token: Option<Secret>,
    opened_here: bool,
}

#[derive(Clone)]
pub struct AdminClient {
    http: reqwest::Client,
    bases: Arc<Vec<String>>,
    auth: Arc<RwLock<Auth>>,
    timeout: Duration,
}

#[derive(Serialize)]
struct Login<'a> {
    email: &'a str,
    password: &'a str,
}

#[derive(Serialize)]
struct CodeRequest<'a> {
    email: &'a str,
}

#[derive(Serialize)]
struct CodeVerify<'a> {
    email: &'a str,
    code: &'a str,
}

impl AdminClient {
    /// `bases`: the targets' base URLs, by index; `token`: from `TENK_ADMIN_TOKEN`.
    pub fn new(
        http: reqwest::Client,
        bases: Vec<String>,
        token: Option<Secret>,
        timeout: Duration,
    ) -> Self {
        let bases = bases
            .into_iter()
            .map(|b| b.trim_end_matches('/').to_string())
            .collect();
        Self {
            http,
            bases: Arc::new(bases),
            auth: Arc::new(RwLock::new(Auth {
                token,
                opened_here: false,
            })),
            timeout,
        }
    }

    fn url(&self, target: usize, path: &str) -> Result<String, AdminError> {
        let base = self
            .bases
            .get(target)
            .ok_or_else(|| AdminError::Decode(format!("no target {target}")))?;
        Ok(format!("{base}{path}"))
    }

    fn token(&self) -> Option<Secret> {
        self.auth.read().ok().and_then(|auth| auth.token.clone())
    }

    fn set_token(&self, token: Option<Secret>, opened_here: bool) {
        if let Ok(mut auth) = self.auth.write() {
            *auth = Auth { token, opened_here };
        }
    }

    /// Sends a request; a 2xx answer is decoded by `decode`, anything else
    /// becomes an [`AdminError`] (from its problem body when it has one).
    async fn send<T>(
        &self,
        request: reqwest::RequestBuilder,
        authorised: bool,
        decode: impl AsyncFnOnce(reqwest::Response) -> Result<T, AdminError>,
    ) -> Result<T, AdminError> {
        let request = match (authorised, self.token()) {
            (true, Some(token)) => request.bearer_auth(token.expose()),
            (true, None) => return Err(AdminError::Unauthorized),
            (false, _) => request,
        };
        let response = request
            .send()
            .await
            .map_err(|e| AdminError::Network(describe(&e, self.timeout)))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return decode(response).await;
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok()?.trim().parse().ok())
            .map(Duration::from_secs);
        let problem = response.json::<Problem>().await.ok();
        Err(AdminError::from_status(
            status,
            problem.as_ref(),
            retry_after,
        ))
    }

    async fn json<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, AdminError> {
        response
            .json::<T>()
            .await
            .map_err(|e| AdminError::Decode(describe(&e, Duration::ZERO)))
    }

    /// Logs in and keeps the access token for the calls that follow.
    ///
    /// # Errors
    /// [`AdminError::BadCredentials`] for a wrong email, password or code.
    pub async fn login(
        &self,
        target: usize,
        email: &str,
        credential: &Credential,
    ) -> Result<(), AdminError> {
        let request = match credential {
            Credential::Password(password) => self
                .http
                .post(self.url(target, "/api/auth/login")?)
                .json(&Login {
                    email,
                    password: password.expose(),
                }),
            Credential::Code(code) => self
                .http
                .post(self.url(target, "/api/auth/otp/verify")?)
                .json(&CodeVerify {
                    email,
                    code: code.expose(),
                }),
        };
        let tokens: TokenResponse = match self.send(request, false, Self::json).await {
            Err(AdminError::Unauthorized) => return Err(AdminError::BadCredentials),
            other => other?,
        };
        self.set_token(Some(Secret::new(tokens.access_token)), true);
        Ok(())
    }

    /// Asks the server to mail a one-time code to `email`.
    ///
    /// # Errors
    /// 429 when asked again too soon; network errors.
    pub async fn request_code(&self, target: usize, email: &str) -> Result<(), AdminError> {
        let request = self
            .http
            .post(self.url(target, "/api/auth/otp/request")?)
            .json(&CodeRequest { email });
        self.send(request, false, async |_| Ok(())).await
    }

    /// The live sessions of one user.
    ///
    /// # Errors
    /// See [`AdminError`].
    pub async fn find_sessions(
        &self,
        target: usize,
        query: &SessionQuery,
    ) -> Result<Vec<SessionSummary>, AdminError> {
        let (key, value) = match query {
            SessionQuery::Email(email) => ("email", email),
            SessionQuery::UserId(id) => ("user_id", id),
        };
        let request = self
            .http
            .get(self.url(target, "/api/admin/sessions")?)
            .query(&[(key, value)]);
        self.send(request, true, Self::json).await
    }

    /// Ends sessions; the number that ended.
    ///
    /// # Errors
    /// [`AdminError::NotFound`] when the session was already gone.
    pub async fn revoke(&self, target: usize, what: &Revocation) -> Result<u64, AdminError> {
        let id = match what {
            Revocation::Session { session_id, .. } => session_id,
            Revocation::AllOfUser { user_id } => user_id,
        };
        // URL parsers resolve `.` and `..` segments (encoded or not).
        if id.is_empty() || id.chars().all(|c| c == '.') {
            return Err(AdminError::Decode(format!("{id:?} is not an id")));
        }
        match what {
            Revocation::Session { session_id, .. } => {
                let path = format!("/api/admin/sessions/{}", path_segment(session_id));
                let request = self.http.delete(self.url(target, &path)?);
                self.send(request, true, async |_| Ok(1)).await
            }
            Revocation::AllOfUser { user_id } => {
                let path = format!("/api/admin/users/{}/sessions", path_segment(user_id));
                let request = self.http.delete(self.url(target, &path)?);
                let answer: RevokeSessionsResponse = self.send(request, true, Self::json).await?;
                Ok(answer.revoked)
            }
        }
    }

    /// One page of the audit log, newest first.
    ///
    /// # Errors
    /// See [`AdminError`].
    pub async fn audit(
        &self,
        target: usize,
        cursor: Option<&str>,
    ) -> Result<AuditPage, AdminError> {
        let mut request = self.http.get(self.url(target, "/api/admin/audit")?);
        if let Some(cursor) = cursor {
            request = request.query(&[("cursor", cursor)]);
        }
        self.send(request, true, Self::json).await
    }

    /// Closes the session this program opened (best effort, at exit).
    pub async fn logout(&self, target: usize) {
        let opened_here = self.auth.read().is_ok_and(|auth| auth.opened_here);
        if !opened_here {
            return;
        }
        if let Ok(url) = self.url(target, "/api/auth/logout") {
            let _ = self.send(self.http.post(url), true, async |_| Ok(())).await;
        }
        self.set_token(None, false);
    }

    /// Runs one command and returns the event that answers it.
    pub async fn execute(&self, command: Command) -> Option<Event> {
        let event = match command {
            Command::Quit => return None,
            Command::Login {
                target,
                email,
                credential,
            } => match self.login(target, &email, &credential).await {
                Ok(()) => AdminEvent::LoggedIn { email },
                Err(error) => AdminEvent::LoginFailed(error),
            },
            Command::RequestCode { target, email } => match self.request_code(target, &email).await
            {
                Ok(()) => AdminEvent::CodeSent { email },
                Err(error) => AdminEvent::CodeFailed(error),
            },
            Command::FindSessions { target, query } => {
                let result = self.find_sessions(target, &query).await;
                AdminEvent::Sessions { query, result }
            }
            Command::Revoke { target, what } => {
                let result = self.revoke(target, &what).await;
                tracing::info!(
                    kind = revocation_kind(&what),
                    ok = result.is_ok(),
                    "revocation"
                );
                AdminEvent::Revoked { what, result }
            }
            Command::LoadAudit { target, cursor } => AdminEvent::Audit {
                result: self.audit(target, cursor.as_deref()).await,
            },
        };
        Some(Event::Admin(event))
    }
}

fn revocation_kind(what: &Revocation) -> &'static str {
    match what {
        Revocation::Session { .. } => "session",
        Revocation::AllOfUser { .. } => "all sessions of a user",
    }
}

/// Ids go into the path as one segment: anything but `[A-Za-z0-9._~-]` is
/// percent-encoded, so an id can never change the route.
fn path_segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_cannot_escape_their_path_segment() {
        assert_eq!(path_segment("abc-DEF_1.2~"), "abc-DEF_1.2~");
        assert_eq!(path_segment("../users/x?y=1"), "..%2Fusers%2Fx%3Fy%3D1");
        assert_eq!(path_segment("a b"), "a%20b");
    }
}
