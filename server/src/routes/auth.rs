//! Password accounts and sessions: register, login, refresh, logout, and
//! the caller's own sessions.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use contract::api::{RevokeSessionsResponse, SessionSummary, TokenResponse, UserProfile};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::account_mail;
use crate::auth::extract::{AuthUser, ClientInfo};
use crate::auth::sessions::Refresh;
use crate::auth::sessions::RevokeReason;
use crate::domain::email::Email;
use crate::domain::password::{NewPassword, check_bound};
use crate::domain::role::Role;
use crate::error::ApiError;
use crate::http::json::{AppJson, AppPath, AppQuery};
use crate::http::ops_auth::bearer_token;
use crate::state::AppState;
use crate::users::{self, DisplayName};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(format = Email, max_length = 254, example = "ada@example.com")]
    pub email: String,
    /// 8+ characters, at most 1024 bytes, not a commonly used password.
    #[schema(format = Password, min_length = 8, max_length = 1024, example = "correct horse battery staple")]
    pub password: String,
    /// 1 to 100 characters, not blank; no control characters once the
    /// surrounding white space is trimmed.
    #[schema(
        max_length = 100,
        pattern = "^[\\u0009-\\u000d\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*[^\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000](?:[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000])?[\\u0009-\\u000d\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*$",
        example = "Ada Lovelace"
    )]
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(format = Email, max_length = 254, example = "ada@example.com")]
    pub email: String,
    #[schema(format = Password, max_length = 1024, example = "correct horse battery staple")]
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[schema(
        max_length = 128,
        example = "Xq3T2b4k7nZ9w1vY5r8s0uLm2pQa6cDe.t0k3n-s3cr3t"
    )]
    pub refresh_token: String,
}

/// Creates a password account. A taken email is 409 (documented); no other
/// route reveals whether an account exists.
#[utoipa::path(post, path = "/api/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = UserProfile), (status = 409, body = contract::api::Problem),
        (status = 422, body = contract::api::Problem)))]
pub async fn register(
    State(state): State<AppState>,
    AppJson(request): AppJson<RegisterRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let email = Email::parse(&request.email, "email")?;
    let name = DisplayName::parse(&request.name)?;
    let password = NewPassword::parse(request.password, "password")?;
    let hash = state.hasher.hash(password.into_inner()).await?;
    let user = users::insert(state.db.writer()?, &email, &name, &hash, Role::User).await?;
    tracing::info!(user_id = %user.user_id, email = %email.masked(), "account registered");
    // The account exists either way; a verification mail that cannot be
    // queued now can be asked for again at /api/auth/verify-email/resend.
    if let Err(error) = account_mail::send_verification(&state, &user).await {
        tracing::warn!(user_id = %user.user_id, error = %error, "verification mail not queued");
    }
    Ok((StatusCode::CREATED, AppJson(user.profile())))
}

/// Opens a session. Unknown email, wrong password and disabled account give
/// the same 401 in comparable time (a dummy hash is verified).
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = contract::api::Problem)))]
pub async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    AppJson(request): AppJson<LoginRequest>,
) -> Result<AppJson<TokenResponse>, ApiError> {
    let email = Email::parse(&request.email, "email")?;
    // Before the account is looked up or anything hashed: the same 422 for
    // every address, and no work proportional to an attacker's input.
    check_bound(&request.password, "password")?;
    let reservation = match state
        .login_throttle
        .reserve(&state.redis, email.as_str())
        .await?
    {
        Ok(reservation) => reservation,
        Err(wait) => {
            state
                .metrics
                .rate_limit_rejected
                .with_label_values(&["auth"])
                .inc();
            tracing::info!(email = %email.masked(), "login throttled for this account");
            return Err(ApiError::RateLimited { retry_after: wait });
        }
    };
    let kept = reservation.clone();
    let outcome = log_in(&state, &client, &email, request.password, reservation).await;
    if let Err(ApiError::Unavailable { .. }) = outcome {
        // The password was never judged (or was right): not a failed login.
        state.login_throttle.release(&state.redis, kept).await;
    }
    outcome
}

/// The login past the throttle: look up, verify, open the session.
async fn log_in(
    state: &AppState,
    client: &ClientInfo,
    email: &Email,
    password: String,
    reservation: crate::rate_limit::login::Reservation,
) -> Result<AppJson<TokenResponse>, ApiError> {
    let user = users::find_by_email(state.db.writer()?, email).await?;
    let stored = user.as_ref().map(|user| user.password_hash.clone());
    let verification = state.hasher.verify(password.clone(), stored).await?;
    let attempts = &state.metrics.auth_attempts;
    let Some(user) = user.filter(|user| verification.matches && user.is_active()) else {
        attempts.with_label_values(&["password", "failure"]).inc();
        tracing::info!(email = %email.masked(), "login refused");
        return Err(ApiError::Unauthorized);
    };
    if state.settings.auth.require_verified_email && user.email_verified_at.is_none() {
        // The password was right: telling why is safe, and the way out is
        // the verification mail (or a one-time code, which proves the address).
        state
            .login_throttle
            .succeeded(&state.redis, reservation)
            .await?;
        return Err(ApiError::EmailNotVerified);
    }
    let mut current_hash = user.password_hash.clone();
    if verification.needs_rehash {
        let upgraded = state.hasher.hash(password).await?;
        let (db, old) = (state.db.writer()?, Some(current_hash.as_str()));
        if let Some(upgraded) = users::set_password_hash(db, user.user_id, &upgraded, old).await? {
            current_hash = upgraded.password_hash;
        }
    }
    let issued = state
        .sessions
        .create(user.user_id, user.role, &client.ip, &client.user_agent)
        .await?;
    // Re-read after the session exists: a change racing with this login may
    // have revoked sessions before this one was there to be found.
    let db = state.db.writer()?;
    if !users::record_login(db, user.user_id, Some(&current_hash)).await? {
        state
            .sessions
            .revoke(&issued.id, RevokeReason::User)
            .await?;
        attempts.with_label_values(&["password", "failure"]).inc();
        return Err(ApiError::Unauthorized);
    }
    state
        .login_throttle
        .succeeded(&state.redis, reservation)
        .await?;
    attempts.with_label_values(&["password", "success"]).inc();
    tracing::info!(user_id = %user.user_id, "login");
    Ok(AppJson(issued.token_response(&state.jwt)?))
}

/// Swaps a refresh token for a new pair. A token already used revokes its
/// session (reuse detection), except that within `REFRESH_TOKEN_REUSE_INTERVAL`
/// of a rotation the just-rotated token gets the same new refresh token again.
#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = contract::api::Problem)))]
pub async fn refresh(
    State(state): State<AppState>,
    AppJson(request): AppJson<RefreshRequest>,
) -> Result<AppJson<TokenResponse>, ApiError> {
    match crate::auth::refresh::refresh(&state, &request.refresh_token).await? {
        Refresh::Rotated(issued) => Ok(AppJson(issued.token_response(&state.jwt)?)),
        Refresh::Reused => {
            tracing::warn!(target: "audit", "refresh token reused: session revoked");
            Err(ApiError::Unauthorized)
        }
        Refresh::Invalid => Err(ApiError::Unauthorized),
    }
}

/// Ends the session of the presented access token. Idempotent: 204 again
/// after the session is gone, as long as the token itself is genuine.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "The session is closed"),
        (status = 401, body = contract::api::Problem)))]
pub async fn logout(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<StatusCode, ApiError> {
    let token = bearer_token(&headers).ok_or(ApiError::Unauthorized)?;
    let claims = state.jwt.verify(token).ok_or(ApiError::Unauthorized)?;
    state
        .sessions
        .revoke(&claims.sid, RevokeReason::Logout)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's live sessions (never a token).
#[utoipa::path(get, path = "/api/auth/sessions", tag = "sessions", security(("bearer" = [])),
    responses((status = 200, body = Vec<SessionSummary>), (status = 401, body = contract::api::Problem)))]
pub async fn list_sessions(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<AppJson<Vec<SessionSummary>>, ApiError> {
    let sessions = state.sessions.list(user.user_id).await?;
    let current = Some(user.session_id.as_str());
    Ok(AppJson(
        sessions
            .iter()
            .map(|session| session.summary(current))
            .collect(),
    ))
}

/// Ends one of the caller's sessions; another user's session is 404.
#[utoipa::path(delete, path = "/api/auth/sessions/{id}", tag = "sessions", security(("bearer" = [])),
    params(("id" = String, Path, description = "Session id")),
    responses((status = 204, description = "Revoked"), (status = 404, body = contract::api::Problem)))]
pub async fn revoke_session(
    State(state): State<AppState>,
    user: AuthUser,
    AppPath(id): AppPath<String>,
) -> Result<StatusCode, ApiError> {
    match state.sessions.get(&id).await? {
        Some(session) if session.user_id == user.user_id => {
            state.sessions.revoke(&id, RevokeReason::User).await?;
            Ok(StatusCode::NO_CONTENT)
        }
        _ => Err(ApiError::NotFound),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RevokeScope {
    /// `all` (the default: log out everywhere) or `others` (keep this session).
    #[param(inline)]
    pub scope: Option<Scope>,
}

/// Which of the caller's sessions end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    All,
    Others,
}

/// Logs the caller out everywhere (`scope=all`) or everywhere else (`scope=others`).
#[utoipa::path(delete, path = "/api/auth/sessions", tag = "sessions", security(("bearer" = [])),
    params(RevokeScope),
    responses((status = 200, body = RevokeSessionsResponse), (status = 422, body = contract::api::Problem)))]
pub async fn revoke_sessions(
    State(state): State<AppState>,
    user: AuthUser,
    AppQuery(scope): AppQuery<RevokeScope>,
) -> Result<AppJson<RevokeSessionsResponse>, ApiError> {
    let keep = match scope.scope {
        None | Some(Scope::All) => None,
        Some(Scope::Others) => Some(user.session_id.as_str()),
    };
    let revoked = state
        .sessions
        .revoke_all(user.user_id, keep, RevokeReason::User)
        .await?;
    Ok(AppJson(RevokeSessionsResponse { revoked }))
}
