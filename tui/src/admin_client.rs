//! The admin API: login (password or one-time code, the admin role checked,
//! the previous login's session closed), session search, revocation and the
//! audit log. The access token lives here, never in the
//! [`crate::app::App`], never in a log line; errors become [`AdminError`]s
//! that say what to do.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use contract::api::{
    AuditPage, Problem, RevokeSessionsResponse, SessionSummary, TokenResponse, UserProfile,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::admin_error::AdminError;
use crate::command::{AdminAction, Command, Credential, SessionQuery};
use crate::event::{AdminEvent, Event, Identity};
use crate::poller::describe;
use crate::secret::Secret;

/// The token in use and whether this program opened its session (and so
/// should close it at exit).
#[derive(Default)]
struct Auth {
    token: Option<Secret>,
    opened_here: bool,
}

/// Who a login from the form logged in as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedIn {
    pub session_id: String,
    pub user_id: String,
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
        self.send_as_is(request, decode).await
    }

    /// Sends a request with `token`, whatever token is in use.
    async fn send_with<T>(
        &self,
        request: reqwest::RequestBuilder,
        token: &Secret,
        decode: impl AsyncFnOnce(reqwest::Response) -> Result<T, AdminError>,
    ) -> Result<T, AdminError> {
        self.send_as_is(request.bearer_auth(token.expose()), decode)
            .await
    }

    async fn send_as_is<T>(
        &self,
        request: reqwest::RequestBuilder,
        decode: impl AsyncFnOnce(reqwest::Response) -> Result<T, AdminError>,
    ) -> Result<T, AdminError> {
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

    /// Logs in, checks that the account is an admin (else logs that new
    /// session out again), logs out the session an earlier login from here
    /// opened, and keeps the new access token for the calls that follow.
    ///
    /// # Errors
    /// [`AdminError::BadCredentials`] for a wrong email, password or code;
    /// [`AdminError::NotAdmin`] for an account without the admin role.
    pub async fn login(
        &self,
        target: usize,
        email: &str,
        credential: &Credential,
    ) -> Result<LoggedIn, AdminError> {
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
        let token = Secret::new(tokens.access_token);
        let me = self.http.get(self.url(target, "/api/users/me")?);
        let profile: UserProfile = self.send_with(me, &token, Self::json).await?;
        if profile.role != "admin" {
            self.logout_token(target, &token).await;
            return Err(AdminError::NotAdmin { role: profile.role });
        }
        let previous = self
            .auth
            .read()
            .ok()
            .and_then(|auth| auth.opened_here.then(|| auth.token.clone()).flatten());
        self.set_token(Some(token), true);
        if let Some(previous) = previous {
            self.logout_token(target, &previous).await;
        }
        Ok(LoggedIn {
            session_id: tokens.session.id,
            user_id: profile.id,
        })
    }

    /// The account of the token in use (`/api/users/me`); a token that is
    /// not an admin's is forgotten, so the next admin call asks for a login.
    ///
    /// # Errors
    /// [`AdminError::Unauthorized`] for a refused token; network errors.
    pub async fn whoami(&self, target: usize) -> Result<Identity, AdminError> {
        let request = self.http.get(self.url(target, "/api/users/me")?);
        let profile: UserProfile = self.send(request, true, Self::json).await?;
        if profile.role != "admin" {
            self.forget_token();
        }
        Ok(Identity {
            user_id: profile.id,
            email: profile.email,
            role: profile.role,
        })
    }

    /// Ends the session of `token` (best effort).
    async fn logout_token(&self, target: usize, token: &Secret) {
        if let Ok(url) = self.url(target, "/api/auth/logout") {
            let result = self
                .send_with(self.http.post(url), token, async |_| Ok(()))
                .await;
            tracing::info!(ok = result.is_ok(), "logged out a session opened here");
        }
    }

    /// Forgets the token (its session ended, e.g. revoked from here).
    pub fn forget_token(&self) {
        self.set_token(None, false);
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
    /// [`AdminError::NoSuchUser`] when no account has the email or id
    /// (the server's 404 `user_not_found`; an account without sessions is
    /// an empty list); see [`AdminError`].
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
        self.send(request, true, Self::json)
            .await
            .map_err(|error| error.of_search(query))
    }

    /// Runs a confirmed action: ends sessions (the number that ended), or
    /// disables (ending every session) or enables an account (0).
    ///
    /// # Errors
    /// [`AdminError::NotFound`] when the session or account was already gone.
    pub async fn revoke(&self, target: usize, what: &AdminAction) -> Result<u64, AdminError> {
        let id = match what {
            AdminAction::Session { session_id, .. } => session_id,
            AdminAction::AllOfUser { user_id }
            | AdminAction::DisableUser { user_id }
            | AdminAction::EnableUser { user_id } => user_id,
        };
        // URL parsers resolve `.` and `..` segments (encoded or not).
        if id.is_empty() || id.chars().all(|c| c == '.') {
            return Err(AdminError::Decode(format!("{id:?} is not an id")));
        }
        match what {
            AdminAction::Session { session_id, .. } => {
                let path = format!("/api/admin/sessions/{}", path_segment(session_id));
                let request = self.http.delete(self.url(target, &path)?);
                self.send(request, true, async |_| Ok(1)).await
            }
            AdminAction::AllOfUser { user_id } => {
                let path = format!("/api/admin/users/{}/sessions", path_segment(user_id));
                let request = self.http.delete(self.url(target, &path)?);
                let answer: RevokeSessionsResponse = self.send(request, true, Self::json).await?;
                Ok(answer.revoked)
            }
            AdminAction::DisableUser { user_id } | AdminAction::EnableUser { user_id } => {
                let verb = if matches!(what, AdminAction::DisableUser { .. }) {
                    "disable"
                } else {
                    "enable"
                };
                let path = format!("/api/admin/users/{}/{verb}", path_segment(user_id));
                let request = self.http.post(self.url(target, &path)?);
                let _profile: UserProfile = self.send(request, true, Self::json).await?;
                Ok(0)
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
        if let Some(token) = self.token() {
            self.logout_token(target, &token).await;
        }
        self.set_token(None, false);
    }

    /// Runs one command and returns the event that answers it.
    pub async fn execute(&self, command: Command) -> Option<Event> {
        let event = match command {
            Command::Quit
            | Command::PollNow
            | Command::Copy(_)
            | Command::Silence { .. }
            | Command::FleetRoutes { .. } => {
                return None;
            }
            Command::Login {
                target,
                email,
                credential,
            } => match self.login(target, &email, &credential).await {
                Ok(LoggedIn {
                    session_id,
                    user_id,
                }) => AdminEvent::LoggedIn {
                    email,
                    session_id: Some(session_id),
                    user_id: Some(user_id),
                },
                Err(error) => AdminEvent::LoginFailed(error),
            },
            Command::CheckRole { target } => AdminEvent::RoleChecked(self.whoami(target).await),
            Command::RequestCode { target, email } => match self.request_code(target, &email).await
            {
                Ok(()) => AdminEvent::CodeSent { email },
                Err(error) => AdminEvent::CodeFailed(error),
            },
            Command::FindSessions { target, query } => {
                let result = self.find_sessions(target, &query).await;
                AdminEvent::Sessions { query, result }
            }
            Command::Revoke {
                target,
                what,
                ends_own_session,
            } => {
                let result = self.revoke(target, &what).await;
                if ends_own_session && result.is_ok() {
                    self.forget_token();
                }
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

fn revocation_kind(what: &AdminAction) -> &'static str {
    match what {
        AdminAction::Session { .. } => "session",
        AdminAction::AllOfUser { .. } => "all sessions of a user",
        AdminAction::DisableUser { .. } => "disable a user",
        AdminAction::EnableUser { .. } => "enable a user",
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
