//! The rule that keeps the admin API reachable: an admin cannot disable,
//! demote or delete their own account through it, and no change may leave
//! zero active admins. Changes to admin accounts are serialized by one
//! transaction-scoped advisory lock, so two admins disabling each other at
//! the same moment cannot both succeed.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::ApiError;

/// The advisory-lock key of admin-account changes ("tenk:admins").
const ADMIN_CHANGES_LOCK: i64 = 0x7465_6e6b_6164_6d6e;

/// What is about to happen to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Disable,
    Delete,
}

impl Change {
    fn self_refusal(self) -> ApiError {
        match self {
            Self::Disable => ApiError::Conflict {
                code: "cannot_disable_self",
                detail: "an admin cannot disable their own account: ask another admin",
            },
            Self::Delete => ApiError::Conflict {
                code: "cannot_delete_self",
                detail: "an admin cannot delete their own account here: use DELETE /api/users/me",
            },
        }
    }
}

/// Refuses an admin acting on their own account through the admin API.
///
/// # Errors
/// 409 when `actor` is `target`.
pub fn refuse_self(actor: Uuid, target: Uuid, change: Change) -> Result<(), ApiError> {
    if actor == target {
        return Err(change.self_refusal());
    }
    Ok(())
}

/// Inside the transaction that makes the change: takes the admin-changes
/// lock (held until commit or rollback) and refuses when `target` is the
/// last active admin.
///
/// # Errors
/// 409 `last_admin`, or a database error.
pub async fn keep_an_admin(tx: &mut PgConnection, target: Uuid) -> Result<(), ApiError> {
    crate::db::query("select pg_advisory_xact_lock($1)")
        .bind(ADMIN_CHANGES_LOCK)
        .execute(&mut *tx)
        .await?;
    let (target_is_active_admin, other_active_admins): (bool, i64) = crate::db::query_as(
        "select \
           exists (select 1 from users where user_id = $1 and role = 'admin' and status = 'active'), \
           (select count(*) from users where user_id <> $1 and role = 'admin' and status = 'active')",
    )
    .bind(target)
    .fetch_one(&mut *tx)
    .await?;
    if target_is_active_admin && other_active_admins == 0 {
        return Err(ApiError::Conflict {
            code: "last_admin",
            detail: "this is the last active admin: make another account an admin first \
                     (tenk-server create-admin --email ...)",
        });
    }
    Ok(())
}
