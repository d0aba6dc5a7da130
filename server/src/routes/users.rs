//! The caller's profile: read (from the app cache), rename, change password.

use axum::extract::State;
use axum::http::StatusCode;
use contract::api::UserProfile;
use serde::Deserialize;
use sqlx::AssertSqlSafe;
use sqlx::PgPool;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::auth::parse_name;
use crate::auth::cache::Event;
use crate::auth::extract::AuthUser;
use crate::domain::email::Email;
use crate::domain::password::NewPassword;
use crate::domain::role::Role;
use crate::error::ApiError;
use crate::http::json::{AppJson, JsonBytes};
use crate::state::AppState;
use crate::timestamps::rfc3339;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_me, update_me))
        .routes(routes!(change_password))
}

/// A `users` row. The hash stays inside the server: [`UserRow::profile`] drops it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub role: String,
    pub status: String,
    pub created_at: OffsetDateTime,
    pub last_login_at: Option<OffsetDateTime>,
    pub email_verified_at: Option<OffsetDateTime>,
}

pub const COLUMNS: &str = "user_id, email, name, password_hash, role, status, created_at, last_login_at, email_verified_at";
pub const SELECT_BY_EMAIL: &str = "select user_id, email, name, password_hash, role, status, \
    created_at, last_login_at, email_verified_at from users where lower(email) = lower($1)";
const SELECT_BY_ID: &str = "select user_id, email, name, password_hash, role, status, \
    created_at, last_login_at, email_verified_at from users where user_id = $1";

impl UserRow {
    pub fn profile(&self) -> UserProfile {
        UserProfile {
            id: self.user_id.to_string(),
            email: self.email.clone(),
            name: self.name.clone(),
            role: self.role.clone(),
            status: self.status.clone(),
            created_at: rfc3339(self.created_at),
            last_login_at: self.last_login_at.map(rfc3339),
            email_verified: self.email_verified_at.is_some(),
        }
    }
}

/// Inserts an account; a taken email (any case) is 409.
///
/// # Errors
/// 409 on a taken email, or a database error.
pub async fn insert_user(
    db: &PgPool,
    email: &Email,
    name: &str,
    password_hash: &str,
    role: Role,
) -> Result<UserRow, ApiError> {
    let inserted = crate::db::query_as::<UserRow>(AssertSqlSafe(format!(
        "insert into users (user_id, email, name, password_hash, role) values ($1, $2, $3, $4, $5) \
         returning {COLUMNS}"
    )))
    .bind(Uuid::new_v4())
    .bind(email.as_str())
    .bind(name)
    .bind(password_hash)
    .bind(role.as_str())
    .fetch_one(db)
    .await;
    match inserted {
        Ok(user) => Ok(user),
        Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
            Err(ApiError::Conflict {
                code: "email_taken",
                detail: "an account with this email already exists",
            })
        }
        Err(error) => Err(error.into()),
    }
}

/// Loads a user by id from the primary.
///
/// # Errors
/// A database error.
pub async fn find_user(db: &PgPool, user_id: Uuid) -> Result<Option<UserRow>, ApiError> {
    Ok(crate::db::query_as(SELECT_BY_ID)
        .bind(user_id)
        .fetch_optional(db)
        .await?)
}

/// The caller's profile, served from the app cache when it holds it.
#[utoipa::path(get, path = "/api/users/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = UserProfile), (status = 401, body = contract::api::Problem)))]
pub async fn get_me(State(state): State<AppState>, user: AuthUser) -> Result<JsonBytes, ApiError> {
    let load = async {
        let row = find_user(state.db.writer(), user.user_id)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        JsonBytes::encode(&row.profile())
    };
    Ok(JsonBytes(state.cache.profile(user.user_id, load).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProfile {
    pub name: String,
}

/// Renames the caller; every instance's cached profile is invalidated.
#[utoipa::path(patch, path = "/api/users/me", tag = "users", security(("bearer" = [])),
    request_body = UpdateProfile,
    responses((status = 200, body = UserProfile), (status = 422, body = contract::api::Problem)))]
pub async fn update_me(
    State(state): State<AppState>,
    user: AuthUser,
    AppJson(request): AppJson<UpdateProfile>,
) -> Result<AppJson<UserProfile>, ApiError> {
    let name = parse_name(&request.name)?;
    let row: UserRow = crate::db::query_as(AssertSqlSafe(format!(
        "update users set name = $2, updated_at = now() where user_id = $1 returning {COLUMNS}"
    )))
    .bind(user.user_id)
    .bind(name)
    .fetch_optional(state.db.writer())
    .await?
    .ok_or(ApiError::Unauthorized)?;
    state
        .cache
        .announce(&state.redis, &Event::ProfileChanged(user.user_id))
        .await;
    Ok(AppJson(row.profile()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    pub current_password: String,
    pub new_password: String,
}

/// Changes the caller's password (the current one is required) and ends
/// every other session of the user.
#[utoipa::path(post, path = "/api/users/me/password", tag = "users", security(("bearer" = [])),
    request_body = ChangePassword,
    responses((status = 204, description = "Changed; other sessions revoked"),
        (status = 422, body = contract::api::Problem)))]
pub async fn change_password(
    State(state): State<AppState>,
    user: AuthUser,
    AppJson(request): AppJson<ChangePassword>,
) -> Result<StatusCode, ApiError> {
    let row = find_user(state.db.writer(), user.user_id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let verification = state
        .hasher
        .verify(request.current_password, Some(row.password_hash))
        .await?;
    if !verification.matches {
        return Err(ApiError::invalid("current_password", "does not match"));
    }
    let new_password = NewPassword::parse(request.new_password, "new_password")?;
    let hash = state.hasher.hash(new_password.into_inner()).await?;
    crate::db::query("update users set password_hash = $2, updated_at = now() where user_id = $1")
        .bind(user.user_id)
        .bind(hash)
        .execute(state.db.writer())
        .await?;
    let revoked = state
        .sessions
        .revoke_all(
            user.user_id,
            Some(&user.session_id),
            crate::metrics::RevokeReason::PasswordChange,
        )
        .await?;
    tracing::info!(user_id = %user.user_id, revoked, "password changed");
    Ok(StatusCode::NO_CONTENT)
}
