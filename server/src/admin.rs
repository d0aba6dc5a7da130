//! `tenk-server create-admin`: creates an admin account, or promotes an
//! existing one without touching its password.

use anyhow::Context;
use sqlx::PgPool;

use crate::auth::password::PasswordHasherPool;
use crate::config::AuthSettings;
use crate::domain::email::Email;
use crate::domain::password::NewPassword;
use crate::domain::role::Role;
use crate::error::ApiError;
use crate::routes::users::insert_user;

/// # Errors
/// An invalid email or password, or a database failure.
pub async fn create_admin(
    pool: &PgPool,
    auth: &AuthSettings,
    email: &str,
    name: &str,
    password: String,
) -> anyhow::Result<String> {
    let email = Email::parse(email, "email").map_err(describe)?;
    let promoted = crate::db::query(
        "update users set role = 'admin', updated_at = now() where lower(email) = lower($1)",
    )
    .bind(email.as_str())
    .execute(pool)
    .await
    .context("cannot update users")?
    .rows_affected();
    if promoted > 0 {
        return Ok(format!(
            "{} is now an admin (password unchanged)",
            email.masked()
        ));
    }
    let password = NewPassword::parse(password, "password").map_err(describe)?;
    let hasher = PasswordHasherPool::new(auth, 1).map_err(|error| anyhow::anyhow!("{error}"))?;
    let hash = hasher
        .hash(password.into_inner())
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let user = insert_user(pool, &email, name, &hash, Role::Admin)
        .await
        .map_err(describe)?;
    Ok(format!(
        "created admin {} ({})",
        email.masked(),
        user.user_id
    ))
}

fn describe(error: ApiError) -> anyhow::Error {
    match error {
        ApiError::Validation(errors) => anyhow::anyhow!(
            "{}",
            errors
                .iter()
                .map(|e| format!("{} {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        other => anyhow::anyhow!("{other}"),
    }
}
