//! One-time-code login: request a code by mail, then trade it for a session.
//! The request answers the same 202, in comparable time, whether or not the
//! address has an account; the code is stored for unknown addresses too
//! (it is simply never mailed), so both paths do the same work.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use contract::api::{OtpRequested, TokenResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::account_mail;
use crate::auth::extract::ClientInfo;
use crate::auth::sessions::RevokeReason;
use crate::domain::email::Email;
use crate::domain::role::Role;
use crate::error::ApiError;
use crate::http::json::AppJson;
use crate::mail::Mail;
use crate::state::AppState;
use crate::users::{self, DisplayName, UserError};

/// Stored for accounts created by a code: no password verifies against it.
const NO_PASSWORD: &str = "!otp-only";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OtpRequest {
    #[schema(format = Email, max_length = 254, example = "ada@example.com")]
    pub email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OtpVerify {
    #[schema(format = Email, max_length = 254, example = "ada@example.com")]
    pub email: String,
    /// `OTP_LENGTH` digits (6 by default).
    #[schema(pattern = "^[0-9]{6,10}$", example = "123456")]
    pub code: String,
}

/// Mails a sign-in code if the address has an account (or sign-up by code
/// is on). The answer is the same either way.
#[utoipa::path(post, path = "/api/auth/otp/request", tag = "auth", request_body = OtpRequest,
    responses((status = 202, body = OtpRequested),
        (status = 429, description = "Asked again too soon, or too often", body = contract::api::Problem),
        (status = 503, description = "The mail queue is full", body = contract::api::Problem)))]
pub async fn request_otp(
    State(state): State<AppState>,
    AppJson(request): AppJson<OtpRequest>,
) -> Result<Response, ApiError> {
    let email = Email::parse(&request.email, "email")?;
    // Checked for every address, so a full queue reveals nothing either.
    if let Some(refused) = account_mail::admit(&state, "otp", &email).await? {
        return Ok(refused);
    }
    let account = users::find_by_email(state.db.writer()?, &email).await?;
    let code = state.otp.generate();
    state.otp.store(&state.redis, email.as_str(), &code).await?;
    let deliver = match account {
        Some(user) => user.is_active(),
        None => state.otp.settings().auto_signup,
    };
    if deliver {
        let mail = Mail::otp(&code, state.otp.settings().ttl);
        account_mail::queue(&state, &email, &mail);
    }
    tracing::info!(email = %email.masked(), "one-time code requested");
    let ttl = state.otp.settings().ttl.as_secs();
    Ok((StatusCode::ACCEPTED, AppJson(OtpRequested::new(ttl))).into_response())
}

/// Trades a code for a session. Wrong, used, expired and foreign codes all
/// give the same 401.
#[utoipa::path(post, path = "/api/auth/otp/verify", tag = "auth", request_body = OtpVerify,
    responses((status = 200, body = TokenResponse), (status = 401, body = contract::api::Problem),
        (status = 422, body = contract::api::Problem)))]
pub async fn verify_otp(
    State(state): State<AppState>,
    client: ClientInfo,
    AppJson(request): AppJson<OtpVerify>,
) -> Result<AppJson<TokenResponse>, ApiError> {
    let email = Email::parse(&request.email, "email")?;
    let length = state.otp.settings().length as usize;
    if request.code.len() != length || !request.code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid(
            "code",
            format!("must be {length} digits"),
        ));
    }
    let attempts = &state.metrics.auth_attempts;
    if !state
        .otp
        .verify(&state.redis, email.as_str(), &request.code)
        .await?
    {
        attempts.with_label_values(&["otp", "failure"]).inc();
        tracing::info!(email = %email.masked(), "one-time code refused");
        return Err(ApiError::Unauthorized);
    }
    let db = state.db.writer()?;
    let user = match users::find_active_by_email(db, &email).await? {
        Some(user) => user,
        None if state.otp.settings().auto_signup => {
            let name = DisplayName::of_address(&email);
            match users::insert(db, &email, &name, NO_PASSWORD, Role::User).await {
                Ok(user) => user,
                // Created meanwhile (a racing verify or a registration): use it.
                Err(UserError::EmailTaken) => users::find_active_by_email(db, &email)
                    .await?
                    .ok_or(ApiError::Unauthorized)?,
                Err(error) => return Err(error.into()),
            }
        }
        None => {
            attempts.with_label_values(&["otp", "failure"]).inc();
            return Err(ApiError::Unauthorized);
        }
    };
    let issued = state
        .sessions
        .create(user.user_id, user.role, &client.ip, &client.user_agent)
        .await?;
    // Re-read after the session exists: a deletion or disabling racing with
    // this login may have revoked sessions before this one was there.
    if !users::record_login(state.db.writer()?, user.user_id, None).await? {
        state
            .sessions
            .revoke(&issued.id, RevokeReason::User)
            .await?;
        attempts.with_label_values(&["otp", "failure"]).inc();
        return Err(ApiError::Unauthorized);
    }
    // A code that reached the mailbox proves the address.
    if user.email_verified_at.is_none() {
        users::mark_verified(&state, user.user_id).await?;
    }
    attempts.with_label_values(&["otp", "success"]).inc();
    tracing::info!(user_id = %user.user_id, "login by one-time code");
    Ok(AppJson(issued.token_response(&state.jwt)?))
}
