//! Mail an account asks for: the admission checks every route that mails
//! something makes first, queueing that never changes the reply (so no
//! address can be told apart by it), and the verification and
//! password-reset messages with their single-use tokens.

use axum::response::Response;
use uuid::Uuid;

use crate::auth::account_tokens::{self, Purpose};
use crate::auth::otp::Resend;
use crate::domain::email::{Email, mask};
use crate::error::ApiError;
use crate::mail::Mail;
use crate::rate_limit::layer::per_address;
use crate::state::AppState;
use crate::users::User;

/// The checks every route that mails something makes first, alike for
/// known and unknown addresses: room in the mail queue (503), the
/// per-address limit for `purpose` (429), then the resend interval
/// (`OTP_RESEND_INTERVAL`, 429): one message per address and purpose per
/// interval. `Some` is the answer to send.
///
/// # Errors
/// The mail queue is full, the address asked again too soon, or Redis failed.
pub async fn admit(
    state: &AppState,
    purpose: &str,
    email: &Email,
) -> Result<Option<Response>, ApiError> {
    if !state.mailer.has_room() {
        return Err(ApiError::Unavailable {
            code: "mail_queue_full",
            detail: "too many messages are waiting to be sent, try again shortly",
            retry_after: std::time::Duration::from_secs(5),
        });
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

/// Queues a mail. The reply of the request that queued it never depends on
/// this: a failure (the queue filled since [`admit`] looked, or a message
/// that cannot be built) is logged and counted in
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
            tracing::warn!(target: "mail", to = %mask(stored), "stored address cannot be mailed");
        }
    }
}

/// The link of a mailed token, when `APP_URL` says where the app is.
fn link(state: &AppState, path: &str, token: &str) -> Option<String> {
    let base = state.settings.auth.app_url.as_ref()?;
    Some(format!("{base}/{path}?token={token}"))
}

/// Issues a verification token and mails it.
///
/// # Errors
/// Redis failed.
pub async fn send_verification(state: &AppState, user: &User) -> Result<(), ApiError> {
    let lifetime = state.settings.auth.email_verification_ttl;
    let token =
        account_tokens::issue(&state.redis, Purpose::VerifyEmail, user.user_id, lifetime).await?;
    let mail = Mail::verify_email(&token, link(state, "verify-email", &token), lifetime);
    queue_to_stored(state, &user.email, &mail);
    Ok(())
}

/// Issues a password-reset token for `user_id` and mails it to `to`.
///
/// # Errors
/// Redis failed.
pub async fn send_password_reset(
    state: &AppState,
    user_id: Uuid,
    to: &Email,
) -> Result<(), ApiError> {
    let lifetime = state.settings.auth.password_reset_ttl;
    let token =
        account_tokens::issue(&state.redis, Purpose::PasswordReset, user_id, lifetime).await?;
    let mail = Mail::password_reset(&token, link(state, "reset-password", &token), lifetime);
    queue(state, to, &mail);
    Ok(())
}
