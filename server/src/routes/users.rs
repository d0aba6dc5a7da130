//! The caller's profile: read (from the app cache), rename, change password,
//! delete the account.

use axum::extract::State;
use axum::http::StatusCode;
use contract::api::UserProfile;
use serde::Deserialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::account_deletion::delete_account;
use crate::auth::extract::AuthUser;
use crate::auth::sessions::RevokeReason;
use crate::domain::password::{NewPassword, check_bound};
use crate::error::ApiError;
use crate::http::json::{AppJson, JsonBytes};
use crate::idempotency::{Fingerprint, IdempotencyKey, Outcome, Reply};
use crate::state::AppState;
use crate::users::{self, DisplayName, User};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_me, update_me, delete_me))
        .routes(routes!(change_password))
}

/// The caller's profile, served from the app cache when it holds it.
#[utoipa::path(get, path = "/api/users/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = UserProfile), (status = 401, body = contract::api::Problem)))]
pub async fn get_me(State(state): State<AppState>, user: AuthUser) -> Result<JsonBytes, ApiError> {
    let load = async {
        let found = users::find(state.db.writer()?, user.user_id).await?;
        JsonBytes::encode(&found.ok_or(ApiError::Unauthorized)?.profile())
    };
    Ok(JsonBytes(state.cache.profile(user.user_id, load).await?))
}

#[derive(Debug, Deserialize, serde::Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProfile {
    /// 1 to 100 characters, not blank; no control characters once the
    /// surrounding white space is trimmed.
    #[schema(
        max_length = 100,
        pattern = "^[\\u0009-\\u000d\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*[^\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000](?:[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000])?[\\u0009-\\u000d\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*$",
        example = "Ada Lovelace"
    )]
    pub name: String,
}

/// Renames the caller; every instance's cached profile is invalidated. With
/// an `Idempotency-Key`, a retry gets the first reply.
#[utoipa::path(patch, path = "/api/users/me", tag = "users", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header)), request_body = UpdateProfile,
    responses((status = 200, body = UserProfile), (status = 422, body = contract::api::Problem)))]
pub async fn update_me(
    State(state): State<AppState>,
    user: AuthUser,
    key: IdempotencyKey,
    AppJson(request): AppJson<UpdateProfile>,
) -> Result<Outcome, ApiError> {
    let name = DisplayName::parse(&request.name)?;
    let fingerprint = Fingerprint::new("PATCH", "/api/users/me").json(&request)?;
    let write = async |connection: &mut PgConnection| {
        let renamed = users::rename(connection, user.user_id, &name).await?;
        Reply::json(
            StatusCode::OK,
            &renamed.ok_or(ApiError::Unauthorized)?.profile(),
        )
    };
    let outcome =
        crate::idempotency::run(state.db.writer()?, user.user_id, key, fingerprint, write).await?;
    if !outcome.replayed {
        users::announce_profile_change(&state, user.user_id).await;
    }
    Ok(outcome)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    #[schema(format = Password, max_length = 1024, example = "correct horse battery staple")]
    pub current_password: String,
    /// 8+ characters, at most 1024 bytes, not a commonly used password.
    #[schema(format = Password, min_length = 8, max_length = 1024, example = "a brand new password")]
    pub new_password: String,
}

/// Changes the caller's password (the current one is required) and ends
/// every other session of the user.
#[utoipa::path(post, path = "/api/users/me/password", tag = "users", security(("bearer" = [])),
    request_body = ChangePassword,
    responses((status = 204, description = "Changed; other sessions revoked"),
        (status = 422, description = "The current password does not match, or the new one is refused", body = contract::api::Problem)))]
pub async fn change_password(
    State(state): State<AppState>,
    user: AuthUser,
    AppJson(request): AppJson<ChangePassword>,
) -> Result<StatusCode, ApiError> {
    check_bound(&request.current_password, "current_password")?;
    let found = users::find(state.db.writer()?, user.user_id).await?;
    let account = found.ok_or(ApiError::Unauthorized)?;
    check_password(
        &state,
        &account,
        request.current_password,
        "current_password",
    )
    .await?;
    let new_password = NewPassword::parse(request.new_password, "new_password")?;
    let hash = state.hasher.hash(new_password.into_inner()).await?;
    // `None`: disabled meanwhile, and its sessions are being revoked.
    users::set_password_hash(state.db.writer()?, user.user_id, &hash, None)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let revoked = state
        .sessions
        .revoke_all(
            user.user_id,
            Some(&user.session_id),
            RevokeReason::PasswordChange,
        )
        .await?;
    tracing::info!(user_id = %user.user_id, revoked, "password changed");
    Ok(StatusCode::NO_CONTENT)
}

/// Proof that the caller of a deletion is the account holder, not just a
/// holder of one of its tokens: the password, or a one-time code freshly
/// requested at `/api/auth/otp/request` for the account's address.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged, deny_unknown_fields)]
pub enum Reauthentication {
    Password {
        #[schema(max_length = 1024, format = Password)]
        password: String,
    },
    Code {
        #[schema(pattern = "^[0-9]{6,10}$", example = "123456")]
        code: String,
    },
}

/// Deletes the caller's account with its posts, and ends every session and
/// refresh token of it at once, on every instance. The last active admin
/// cannot delete their account.
#[utoipa::path(delete, path = "/api/users/me", tag = "users", security(("bearer" = [])),
    request_body = Reauthentication,
    responses((status = 204, description = "Deleted, with its posts; every session revoked"),
        (status = 409, description = "The last active admin", body = contract::api::Problem),
        (status = 422, description = "The password or code does not match", body = contract::api::Problem)))]
pub async fn delete_me(
    State(state): State<AppState>,
    user: AuthUser,
    AppJson(proof): AppJson<Reauthentication>,
) -> Result<StatusCode, ApiError> {
    let found = users::find(state.db.writer()?, user.user_id).await?;
    reauthenticate(&state, &found.ok_or(ApiError::Unauthorized)?, proof).await?;
    let tx = state.db.writer()?.begin().await?;
    delete_account(&state, tx, user.user_id, RevokeReason::User).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Checks the account's password given as `field`, under the per-account
/// login throttle: an access token, stolen or not, must not buy more
/// guesses at the password than the login form gives.
async fn check_password(
    state: &AppState,
    account: &User,
    password: String,
    field: &'static str,
) -> Result<(), ApiError> {
    check_bound(&password, field)?;
    let reservation = state
        .login_throttle
        .reserve(&state.redis, &account.email)
        .await?
        .map_err(|wait| ApiError::RateLimited { retry_after: wait })?;
    let verification = match state
        .hasher
        .verify(password, Some(account.password_hash.clone()))
        .await
    {
        Ok(verification) => verification,
        Err(error) => {
            // Not judged (the hashing queue was full): not a failure.
            state
                .login_throttle
                .release(&state.redis, reservation)
                .await;
            return Err(error.into());
        }
    };
    if !verification.matches {
        return Err(ApiError::invalid(field, "does not match"));
    }
    state
        .login_throttle
        .succeeded(&state.redis, reservation)
        .await?;
    Ok(())
}

/// Checks the password (under the per-account login throttle) or consumes a
/// one-time code of the account's address.
async fn reauthenticate(
    state: &AppState,
    account: &User,
    proof: Reauthentication,
) -> Result<(), ApiError> {
    match proof {
        Reauthentication::Password { password } => {
            check_password(state, account, password, "password").await?;
        }
        Reauthentication::Code { code } => {
            let length = state.otp.settings().length as usize;
            if code.len() != length || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ApiError::invalid(
                    "code",
                    format!("must be {length} digits"),
                ));
            }
            if !state
                .otp
                .verify(&state.redis, &account.email, &code)
                .await?
            {
                return Err(ApiError::invalid("code", "is wrong, used or expired"));
            }
        }
    }
    Ok(())
}
