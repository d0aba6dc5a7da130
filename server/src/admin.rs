//! `tenk-server create-admin`: creates an admin account, or promotes an
//! existing one without touching its password, enabling it again if it
//! was disabled (the way back when no admin can sign in). Each outcome is
//! written to the audit log with the nil uuid as actor: the operator at the
//! console, who has no account.

use anyhow::Context;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::auth::password::PasswordHasherPool;
use crate::config::AuthSettings;
use crate::domain::email::Email;
use crate::domain::password::NewPassword;
use crate::domain::role::Role;
use crate::users::{self, DisplayName};

/// # Errors
/// An invalid email, password or name, or a database failure.
pub async fn create_admin(
    pool: &PgPool,
    auth: &AuthSettings,
    email: &str,
    name: &str,
    password: String,
) -> anyhow::Result<String> {
    let email = Email::parse(email, "email")?;
    let mut tx = pool.begin().await.context("cannot reach the database")?;
    let promoted = users::make_admin(&mut *tx, &email)
        .await
        .context("cannot update users")?;
    if let Some((user_id, was_active)) = promoted {
        let re_enabled = !was_active;
        let action = if re_enabled {
            "cli.admin.enable"
        } else {
            "cli.admin.promote"
        };
        audit(&mut tx, action, user_id).await?;
        tx.commit().await.context("cannot update users")?;
        return Ok(if re_enabled {
            format!(
                "{} was disabled: enabled again and is now an admin (password unchanged)",
                email.masked()
            )
        } else {
            format!("{} is now an admin (password unchanged)", email.masked())
        });
    }
    tx.rollback().await.ok();
    let password = NewPassword::parse(password, "password")?;
    let name = DisplayName::parse(name)?;
    let hasher = PasswordHasherPool::new(auth, 1).map_err(|error| anyhow::anyhow!("{error}"))?;
    let hash = hasher
        .hash(password.into_inner())
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let user = users::insert(pool, &email, &name, &hash, Role::Admin).await?;
    let mut connection = pool.acquire().await.context("cannot reach the database")?;
    audit(&mut connection, "cli.admin.create", user.user_id).await?;
    Ok(format!(
        "created admin {} ({})",
        email.masked(),
        user.user_id
    ))
}
/// One audit row for the operator at the console (actor: the nil uuid).
async fn audit(connection: &mut PgConnection, action: &str, user_id: Uuid) -> anyhow::Result<()> {
    crate::db::query(
        "insert into audit_log (actor_id, action, target, ip, request_id) values ($1, $2, $3, 'console', '')",
    )
    .bind(Uuid::nil())
    .bind(action)
    .bind(format!("user:{user_id}"))
    .execute(connection)
    .await
    .context("cannot write the audit log")?;
    Ok(())
}
