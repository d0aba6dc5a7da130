//! Password recovery and email verification. Requests that mail something
//! answer the same 202 whether or not the address has an account; tokens
//! are single use, stored hashed, and a bad one is one generic 400.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use contract::api::Accepted;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::users::{UserRow, find_user};
use crate::auth::account_tokens::{self, Purpose};
use crate::auth::otp::Resend;
use crate::domain::email::Email;
use crate::domain::password::NewPassword;
use crate::error::ApiError;
use crate::http::json::AppJson;
use crate::mail::Mail;
use crate::metrics::RevokeReason;
use crate::rate_limit::layer::per_address;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailOnly {
    #[schema(format = Email, max_length = 254, example = "ada@example.com")]
    pub email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPassword {
    #[schema(
        max_length = 128,
        example = "mailed-token-of-43-characters-0123456789abc"
    )]
    pub token: String,
    /// 8+ characters, at most 1024 bytes, not a commonly used password.
    #[schema(format = Password, min_length = 8, max_length = 1024, example = "a brand new password")]
    pub new_password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmail {
    #[schema(
        max_length = 128,
        example = "mailed-token-of-43-characters-0123456789abc"
    )]
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

/// Queues a mail. The reply of the request that queued it never depends on
/// this: a failure (the queue filled since [`admit_mail_request`] looked, or a
/// message that cannot be built) is logged and counted in
/// `tenk_mail_send_failures_total`, and the request answers as if the mail
/// had gone, so no address can be told apart by its reply.
pub fn queue(state: &AppState, to: &Email, mail: &Mail) {
    if let Err(error) = state.mailer.send(to, mail) {
        state.metrics.mail_failures.inc();
        tracing::warn!(target: "mail", to = %to.masked(), error = %error, "mail not queued");
    }
}

/// Queues a mail to an address read back from the database. Rows written
/// before addresses were parsed by the mailer's parser may hold one it
/// refuses: that is logged, never the reply.
pub fn queue_to_stored(state: &AppState, stored: &str, mail: &Mail) {
    match Email::parse(stored, "email") {
        Ok(to) => queue(state, &to, mail),
        Err(_) => {
            state.metrics.mail_failures.inc();
            tracing::warn!(target: "mail", to = %crate::domain::email::mask(stored), "stored address cannot be mailed");
        }
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
/// known and unknown addresses: room in the mail queue (503), the
/// per-address limit for `purpose` (429), then the resend interval
/// (`OTP_RESEND_INTERVAL`, 429): one message per address and purpose per
/// interval. `Some` is the answer to send.
///
/// # Errors
/// The mail queue is full, the address asked again too soon, or Redis failed.
pub async fn admit_mail_request(
    state: &AppState,
    purpose: &str,
    email: &Email,
) -> Result<Option<Response>, ApiError> {
    if !state.mailer.has_room() {
        return Err(mail_busy());
    }
    if let Err(refused) = per_address(state, purpose, email.as_str()).await {
        return Ok(Some(refused));
    }
    if let Resend::Wait(wait) = state
        .otp
        .claim_resend(&state.redis, purpose, email.as_str())
        .await?
    {
        return Err(ApiError::RateLimited { retry_after: wait });
    }
    Ok(None)
}

async fn active_user(state: &AppState, email: &Email) -> Result<Option<UserRow>, ApiError> {
    let user: Option<UserRow> = crate::db::query_as(super::users::SELECT_BY_EMAIL)
        .bind(email.as_str())
        .fetch_optional(state.db.writer()?)
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
        queue(&state, &email, &mail);
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
    queue_to_stored(&state, &user.email, &Mail::password_changed());
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
    .execute(state.db.writer()?)
    .await?
    .rows_affected();
    if updated == 0 {
        return Ok(None);
    }
    find_user(state.db.writer()?, user_id).await
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
    if !mark_verified(&state, user_id).await? {
        return Err(invalid_token());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Records that a user's address is proven, on every instance's cache;
/// false when the account no longer exists.
///
/// # Errors
/// A database or Redis failure.
pub async fn mark_verified(state: &AppState, user_id: Uuid) -> Result<bool, ApiError> {
    let updated = crate::db::query("update users set email_verified_at = coalesce(email_verified_at, now()) where user_id = $1")
        .bind(user_id)
        .execute(state.db.writer()?)
        .await?
        .rows_affected();
    state
        .cache
        .announce(
            &state.redis,
            &crate::auth::cache::Event::ProfileChanged(user_id),
        )
        .await;
    Ok(updated > 0)
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
/// Redis failed.
pub async fn send_verification(state: &AppState, user: &UserRow) -> Result<(), ApiError> {
    let lifetime = state.settings.auth.email_verification_ttl;
    let token =
        account_tokens::issue(&state.redis, Purpose::VerifyEmail, user.user_id, lifetime).await?;
    let mail = Mail::verify_email(&token, link(state, "verify-email", &token), lifetime);
    queue_to_stored(state, &user.email, &mail);
    Ok(())
}
