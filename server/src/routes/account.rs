//! Password recovery and email verification. Requests that mail something
//! answer the same 202 whether or not the address has an account; tokens
//! are single use, stored hashed, and a bad one is one generic 400.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use contract::api::Accepted;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::account_mail;
use crate::auth::account_tokens::{self, Purpose};
use crate::auth::sessions::RevokeReason;
use crate::domain::email::Email;
use crate::domain::password::NewPassword;
use crate::error::ApiError;
use crate::http::json::AppJson;
use crate::mail::Mail;
use crate::state::AppState;
use crate::users;

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

/// Mails a password-reset token to a known address; the same 202 for any.
#[utoipa::path(post, path = "/api/auth/password/forgot", tag = "auth", request_body = EmailOnly,
    responses((status = 202, body = Accepted), (status = 429, body = contract::api::Problem)))]
pub async fn forgot_password(
    State(state): State<AppState>,
    AppJson(request): AppJson<EmailOnly>,
) -> Result<Response, ApiError> {
    let email = Email::parse(&request.email, "email")?;
    if let Some(refused) = account_mail::admit(&state, "reset", &email).await? {
        return Ok(refused);
    }
    if let Some(user) = users::find_active_by_email(state.db.writer()?, &email).await? {
        account_mail::send_password_reset(&state, user.user_id, &email).await?;
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
    let user = users::set_password_hash(state.db.writer()?, user_id, &hash, None)
        .await?
        .ok_or_else(invalid_token)?;
    state
        .sessions
        .revoke_all(user_id, None, RevokeReason::PasswordChange)
        .await?;
    account_mail::queue_to_stored(&state, &user.email, &Mail::password_changed());
    tracing::info!(user_id = %user_id, "password reset");
    Ok(StatusCode::NO_CONTENT)
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
    if !users::mark_verified(&state, user_id).await? {
        return Err(invalid_token());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Mails a fresh verification token to an unverified account; the same 202 for any address.
#[utoipa::path(post, path = "/api/auth/verify-email/resend", tag = "auth", request_body = EmailOnly,
    responses((status = 202, body = Accepted), (status = 429, body = contract::api::Problem)))]
pub async fn resend_verification(
    State(state): State<AppState>,
    AppJson(request): AppJson<EmailOnly>,
) -> Result<Response, ApiError> {
    let email = Email::parse(&request.email, "email")?;
    if let Some(refused) = account_mail::admit(&state, "verify", &email).await? {
        return Ok(refused);
    }
    if let Some(user) = users::find_active_by_email(state.db.writer()?, &email).await?
        && user.email_verified_at.is_none()
    {
        account_mail::send_verification(&state, &user).await?;
    }
    Ok((StatusCode::ACCEPTED, AppJson(Accepted::new())).into_response())
}
