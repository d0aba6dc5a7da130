//! Password recovery and email verification. Requests that mail something
//! answer the same 202 whether or not the address has an account; tokens
//! are single use, stored hashed, and a bad one is one generic 400.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use contract::api::Accepted;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::users::{UserRow, find_user};
use crate::auth::account_tokens::{self, Purpose};
use crate::domain::email::Email;
use crate::domain::password::NewPassword;
use crate::error::ApiError;
use crate::http::json::AppJson;
use crate::mail::{Mail, MailError};
use crate::metrics::RevokeReason;
use crate::rate_limit::layer::per_address;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(forgot_password))
        .routes(routes!(reset_password))
        .routes(routes!(verify_email))
        .routes(routes!(resend_verification))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailOnly {
    pub email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPassword {
    pub token: String,
    pub new_password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmail {
    pub token: String,
}

fn invalid_token() -> ApiError {
    ApiError::BadRequest {
        code: "invalid_token",
        detail: "the token is invalid or expired".into(),
    }
}

fn link(state: &AppState, path: &str, token: &str) -> Option<String> {
    let base = state.settings.auth.app_url.as_ref()?;
    Some(format!("{base}/{path}?token={token}"))
}

/// Queues a mail; a full queue is 503, for known and unknown addresses alike
/// (the caller checks `has_room` before looking the address up).
pub fn queue(state: &AppState, to: &str, mail: &Mail) -> Result<(), ApiError> {
    match state.mailer.send(to, mail) {
        Ok(()) => Ok(()),
        Err(MailError::QueueFull) => Err(mail_busy()),
        Err(MailError::Build(cause)) => Err(ApiError::Internal(anyhow::anyhow!(cause))),
    }
}

pub fn mail_busy() -> ApiError {
    ApiError::Unavailable {
        code: "mail_queue_full",
        detail: "too many messages are waiting to be sent, try again shortly",
        retry_after: std::time::Duration::from_secs(5),
    }
}

/// The checks every route that mails something makes first, alike for
/// known and unknown addresses: room in the mail queue (503), then the
/// per-address limit for `purpose` (429). `Some` is the answer to send.
///
/// # Errors
/// The mail queue is full.
pub async fn admit_mail_request(
    state: &AppState,
    purpose: &str,
    email: &Email,
) -> Result<Option<Response>, ApiError> {
    if !state.mailer.has_room() {
        return Err(mail_busy());
    }
    Ok(per_address(state, purpose, email.as_str()).await.err())
}

async fn active_user(state: &AppState, email: &Email) -> Result<Option<UserRow>, ApiError> {
    let user: Option<UserRow> = crate::db::query_as(super::users::SELECT_BY_EMAIL)
        .bind(email.as_str())
        .fetch_optional(state.db.writer())
        .await?;
    Ok(user.filter(|user| user.status == "active"))
}

/// Mails a password-reset token to a known address; the same 202 for any.
#[utoipa::path(post, path = "/api/auth/password/forgot", tag = "auth", request_body = EmailOnly,
    responses((status = 202, body = Accepted), (status = 429, body = contract::api::Problem)))]
pub async fn forgot_password(
    State(state): State<AppState>,
    AppJson(request): AppJson<EmailOnly>,
) -> Result<Response, ApiError> {
    let email = Email::parse(&request.email, "email")?;
    if let Some(refused) = admit_mail_request(&state, "reset", &email).await? {
        return Ok(refused);
    }
    if let Some(user) = active_user(&state, &email).await? {
        let lifetime = state.settings.auth.password_reset_ttl;
        let token =
            account_tokens::issue(&state.redis, Purpose::PasswordReset, user.user_id, lifetime)
                .await?;
        let mail = Mail::password_reset(&token, link(&state, "reset-password", &token), lifetime);
        queue(&state, email.as_str(), &mail)?;
    }
    tracing::info!(email = %email.masked(), "password reset requested");
    Ok((StatusCode::ACCEPTED, AppJson(Accepted::new())).into_response())
}

/// Sets a new password with a reset token, ends every session of the user,
/// and mails them that the password changed.
#[utoipa::path(post, path = "/api/auth/password/reset", tag = "auth", request_body = ResetPassword,
    responses((status = 204, description = "Changed; every session revoked"),
        (status = 400, description = "Invalid, used or expired token", body = contract::api::Problem),
        (status = 422, body = contract::api::Problem)))]
pub async fn reset_password(
    State(state): State<AppState>,
    AppJson(request): AppJson<ResetPassword>,
) -> Result<StatusCode, ApiError> {
    // The policy first: a rejected password must not spend the token.
    let password = NewPassword::parse(request.new_password, "new_password")?;
    let hash = state.hasher.hash(password.into_inner()).await?;
    let user_id = account_tokens::consume(&state.redis, Purpose::PasswordReset, &request.token)
        .await?
        .ok_or_else(invalid_token)?;
    let user = set_password(&state, user_id, &hash)
        .await?
        .ok_or_else(invalid_token)?;
    state
        .sessions
        .revoke_all(user_id, None, RevokeReason::PasswordChange)
        .await?;
    if let Err(error) = state.mailer.send(&user.email, &Mail::password_changed()) {
        tracing::warn!(user_id = %user_id, error = %error, "password-changed notice not queued");
    }
    tracing::info!(user_id = %user_id, "password reset");
    Ok(StatusCode::NO_CONTENT)
}

async fn set_password(
    state: &AppState,
    user_id: Uuid,
    hash: &str,
) -> Result<Option<UserRow>, ApiError> {
    let updated = crate::db::query(
        "update users set password_hash = $2, updated_at = now() where user_id = $1 and status = 'active'",
    )
    .bind(user_id)
    .bind(hash)
    .execute(state.db.writer())
    .await?
    .rows_affected();
    if updated == 0 {
        return Ok(None);
    }
    find_user(state.db.writer(), user_id).await
}

/// Confirms the address a verification token was mailed to.
#[utoipa::path(post, path = "/api/auth/verify-email", tag = "auth", request_body = VerifyEmail,
    responses((status = 204, description = "The address is verified"),
        (status = 400, description = "Invalid, used or expired token", body = contract::api::Problem)))]
pub async fn verify_email(
    State(state): State<AppState>,
    AppJson(request): AppJson<VerifyEmail>,
) -> Result<StatusCode, ApiError> {
    let user_id = account_tokens::consume(&state.redis, Purpose::VerifyEmail, &request.token)
        .await?
        .ok_or_else(invalid_token)?;
    mark_verified(&state, user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Records that a user's address is proven, on every instance's cache.
///
/// # Errors
/// A database or Redis failure.
pub async fn mark_verified(state: &AppState, user_id: Uuid) -> Result<(), ApiError> {
    crate::db::query("update users set email_verified_at = coalesce(email_verified_at, now()) where user_id = $1")
        .bind(user_id)
        .execute(state.db.writer())
        .await?;
    state
        .cache
        .announce(
            &state.redis,
            &crate::auth::cache::Event::ProfileChanged(user_id),
        )
        .await;
    Ok(())
}

/// Mails a fresh verification token to an unverified account; the same 202 for any address.
#[utoipa::path(post, path = "/api/auth/verify-email/resend", tag = "auth", request_body = EmailOnly,
    responses((status = 202, body = Accepted), (status = 429, body = contract::api::Problem)))]
pub async fn resend_verification(
    State(state): State<AppState>,
    AppJson(request): AppJson<EmailOnly>,
) -> Result<Response, ApiError> {
    let email = Email::parse(&request.email, "email")?;
    if let Some(refused) = admit_mail_request(&state, "verify", &email).await? {
        return Ok(refused);
    }
    if let Some(user) = active_user(&state, &email).await?
        && user.email_verified_at.is_none()
    {
        send_verification(&state, &user).await?;
    }
    Ok((StatusCode::ACCEPTED, AppJson(Accepted::new())).into_response())
}

/// Issues a verification token and mails it.
///
/// # Errors
/// Redis failed, or the mail queue is full.
pub async fn send_verification(state: &AppState, user: &UserRow) -> Result<(), ApiError> {
    let lifetime = state.settings.auth.email_verification_ttl;
    let token =
        account_tokens::issue(&state.redis, Purpose::VerifyEmail, user.user_id, lifetime).await?;
    let mail = Mail::verify_email(&token, link(state, "verify-email", &token), lifetime);
    queue(state, &user.email, &mail)
}
