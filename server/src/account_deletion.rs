//! Deleting an account, for the user themselves and for an admin.
//!
//! The account's row goes, and with it, by the foreign key's `on delete
//! cascade`, every post it wrote; audit rows it is named in stay (the audit
//! log outlives accounts). Every session of the account (and so every
//! refresh token, which lives in its session) is revoked on every instance
//! before the deletion commits: if Redis cannot do that, nothing is deleted.
//! A login racing with the deletion re-reads the account after opening its
//! session and, finding it gone, closes the session itself.

use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::admin_guard;
use crate::auth::cache::Event;
use crate::auth::sessions::RevokeReason;
use crate::error::ApiError;
use crate::state::AppState;
use crate::users;

/// Deletes `user_id` inside `tx` (which may already hold the audit row) and
/// commits. The last active admin cannot be deleted.
///
/// # Errors
/// 404 when there is no such account, 409 for the last admin, or a
/// database or Redis failure (then nothing is deleted).
pub async fn delete_account(
    state: &AppState,
    mut tx: Transaction<'static, Postgres>,
    user_id: Uuid,
    reason: RevokeReason,
) -> Result<(), ApiError> {
    admin_guard::keep_an_admin(&mut tx, user_id).await?;
    // The row stays locked until the commit: a login that opened a session
    // meanwhile waits for it, then finds no account and drops its session.
    if !users::delete(&mut *tx, user_id).await? {
        return Err(ApiError::NotFound);
    }
    let revoked = state.sessions.revoke_all(user_id, None, reason).await?;
    tx.commit().await?;
    users::announce_profile_change(state, user_id).await;
    state
        .cache
        .announce(&state.redis, &Event::PostsChanged)
        .await;
    tracing::info!(target: "audit", user_id = %user_id, revoked, "account deleted");
    Ok(())
}
