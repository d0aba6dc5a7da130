//! The `users` table: the account row, its status, display names, and every
//! query and change of it. A change other instances cache (the profile) is
//! announced here, with the change, so no caller can forget it. Functions
//! fail only with the database's error unless they say otherwise.

use contract::api::UserProfile;
use sqlx::{PgConnection, PgExecutor, PgPool, Postgres, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::cache::Event;
use crate::auth::sessions::RevokeReason;
use crate::db::DatabaseDown;
use crate::domain::Invalid;
use crate::domain::email::Email;
use crate::domain::role::Role;
use crate::state::AppState;
use crate::timestamps::rfc3339;

/// `head`, the columns of [`User`], then `tail`: every query stays a `&'static str`.
macro_rules! with_columns {
    ($head:literal $(, $tail:literal)?) => {
        concat!($head, " user_id, email, name, password_hash, role, status, created_at, \
            last_login_at, email_verified_at" $(, $tail)?)
    };
}

/// A `users` row. The hash stays inside the server: [`User::profile`] drops it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    #[sqlx(try_from = "String")]
    pub status: UserStatus,
    pub created_at: OffsetDateTime,
    pub last_login_at: Option<OffsetDateTime>,
    pub email_verified_at: Option<OffsetDateTime>,
}

impl User {
    pub fn profile(&self) -> UserProfile {
        UserProfile {
            id: self.user_id.to_string(),
            email: self.email.clone(),
            name: self.name.clone(),
            role: self.role.as_str().into(),
            status: self.status.as_str().into(),
            created_at: rfc3339(self.created_at),
            last_login_at: self.last_login_at.map(rfc3339),
            email_verified: self.email_verified_at.is_some(),
        }
    }

    pub fn is_active(&self) -> bool {
        self.status == UserStatus::Active
    }
}

/// `users.status`: a disabled account cannot sign in or be mailed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    Active,
    Disabled,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }
}

impl TryFrom<String> for UserStatus {
    type Error = Invalid;

    fn try_from(text: String) -> Result<Self, Invalid> {
        match text.as_str() {
            "active" => Ok(Self::Active),
            "disabled" => Ok(Self::Disabled),
            _ => Err(Invalid::new("status", "is not active or disabled")),
        }
    }
}

/// A display name: at most 100 characters as sent, not blank, no control
/// characters once trimmed; the trimmed name is kept. The OpenAPI `pattern`
/// of the name fields says exactly this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// # Errors
    /// The name breaks the rule above.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let name = raw.trim();
        if name.is_empty() || raw.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(Invalid::new("name", "must be 1 to 100 characters"));
        }
        Ok(Self(name.to_string()))
    }

    /// The local part of an address: the name of an account nobody named.
    pub fn of_address(email: &Email) -> Self {
        let local = email.as_str().split('@').next().unwrap_or("user");
        Self(local.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a change to the users table did not happen.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error(transparent)]
    DatabaseDown(#[from] DatabaseDown),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
}

/// Inserts an account.
///
/// # Errors
/// [`UserError::EmailTaken`] when the email is taken (in any case), or a
/// database error.
pub async fn insert(
    db: &PgPool,
    email: &Email,
    name: &DisplayName,
    password_hash: &str,
    role: Role,
) -> Result<User, UserError> {
    let inserted = crate::db::query_as(with_columns!(
        "insert into users (user_id, email, name, password_hash, role) \
         values ($1, $2, $3, $4, $5) returning"
    ))
    .bind(Uuid::new_v4())
    .bind(email.as_str())
    .bind(name.as_str())
    .bind(password_hash)
    .bind(role.as_str())
    .fetch_one(db)
    .await;
    match inserted {
        Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
            Err(UserError::EmailTaken)
        }
        other => Ok(other?),
    }
}

pub async fn find(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Option<User>> {
    crate::db::query_as(with_columns!("select", " from users where user_id = $1"))
        .bind(user_id)
        .fetch_optional(db)
        .await
}

/// The account of an email, in any case, whatever its status.
pub async fn find_by_email(db: impl PgExecutor<'_>, email: &Email) -> sqlx::Result<Option<User>> {
    crate::db::query_as(with_columns!(
        "select",
        " from users where lower(email) = lower($1)"
    ))
    .bind(email.as_str())
    .fetch_optional(db)
    .await
}

/// The account of an email if it is active: the only one that may sign in
/// or be mailed.
pub async fn find_active_by_email(
    db: impl PgExecutor<'_>,
    email: &Email,
) -> sqlx::Result<Option<User>> {
    Ok(find_by_email(db, email).await?.filter(User::is_active))
}

/// The id of the account whose email is `text` (any case): a search, so
/// any text, never parsed as an address.
pub async fn find_id_by_email(db: impl PgExecutor<'_>, text: &str) -> sqlx::Result<Option<Uuid>> {
    crate::db::query_scalar("select user_id from users where lower(email) = lower($1)")
        .bind(text)
        .fetch_optional(db)
        .await
}

/// A page of accounts, newest first: those after `after` (the last row of
/// the previous page) whose email or name is `like` the pattern.
pub async fn page(
    db: impl PgExecutor<'_>,
    like: Option<String>,
    after: Option<(OffsetDateTime, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<User>> {
    let (after_time, after_id) = after.unzip();
    crate::db::query_as(with_columns!(
        "select",
        " from users \
         where ($1::text is null or lower(email) like $1 or lower(name) like $1) \
           and ($2::timestamptz is null or (created_at, user_id) < ($2, $3)) \
         order by created_at desc, user_id desc limit $4"
    ))
    .bind(like)
    .bind(after_time)
    .bind(after_id)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Renames an account; `None` when it no longer exists. The caller
/// announces the change once its transaction commits
/// ([`announce_profile_change`]).
pub async fn rename(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    name: &DisplayName,
) -> sqlx::Result<Option<User>> {
    crate::db::query_as(with_columns!(
        "update users set name = $2, updated_at = now() where user_id = $1 returning"
    ))
    .bind(user_id)
    .bind(name.as_str())
    .fetch_optional(db)
    .await
}

/// Sets the password hash of an active account, if its hash is still
/// `replacing` when given (a rehash on login: a concurrent password change
/// wins); `None` when no account matched.
pub async fn set_password_hash(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    hash: &str,
    replacing: Option<&str>,
) -> sqlx::Result<Option<User>> {
    crate::db::query_as(with_columns!(
        "update users set password_hash = $2, updated_at = now() where user_id = $1 \
         and status = 'active' and ($3::text is null or password_hash = $3) returning"
    ))
    .bind(user_id)
    .bind(hash)
    .bind(replacing)
    .fetch_optional(db)
    .await
}

/// Records a sign-in, once its session exists, if the account is still
/// active (and, for a password sign-in, its hash is still `password_hash`).
/// False means a disabling, deletion or password change ran meanwhile: its
/// revocation may have run before the session was there to be found, so the
/// caller drops the session itself.
pub async fn record_login(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    password_hash: Option<&str>,
) -> sqlx::Result<bool> {
    let updated = crate::db::query(
        "update users set last_login_at = now() where user_id = $1 and status = 'active' \
         and ($2::text is null or password_hash = $2)",
    )
    .bind(user_id)
    .bind(password_hash)
    .execute(db)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// Records that a user's address is proven, on every instance's cache;
/// false when the account no longer exists.
///
/// # Errors
/// A database failure.
pub async fn mark_verified(state: &AppState, user_id: Uuid) -> Result<bool, UserError> {
    let updated = crate::db::query(
        "update users set email_verified_at = coalesce(email_verified_at, now()) \
         where user_id = $1",
    )
    .bind(user_id)
    .execute(state.db.writer()?)
    .await?;
    announce_profile_change(state, user_id).await;
    Ok(updated.rows_affected() > 0)
}

/// Sets an account's status inside `tx`; `None` when there is no such
/// account. The caller may write more in the change's transaction (its
/// audit row) before [`StatusChange::commit`].
pub async fn set_status(
    mut tx: Transaction<'static, Postgres>,
    user_id: Uuid,
    status: UserStatus,
) -> sqlx::Result<Option<StatusChange>> {
    let user = crate::db::query_as(with_columns!(
        "update users set status = $2, updated_at = now() where user_id = $1 returning"
    ))
    .bind(user_id)
    .bind(status.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    Ok(user.map(|user| StatusChange { tx, user }))
}

/// A status change written but not committed.
pub struct StatusChange {
    tx: Transaction<'static, Postgres>,
    user: User,
}

impl StatusChange {
    /// The change's transaction, for what must commit with it.
    pub fn connection(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// Commits; then a disabled account loses every session and every
    /// instance forgets the profile. After the commit: a login racing with
    /// this either created its session before the list is read (and loses
    /// it) or re-reads the status after creating it (and drops it itself).
    ///
    /// # Errors
    /// A database or Redis failure.
    pub async fn commit(self, state: &AppState) -> Result<User, UserError> {
        self.tx.commit().await?;
        let user = self.user;
        if user.status == UserStatus::Disabled {
            state
                .sessions
                .revoke_all(user.user_id, None, RevokeReason::Disabled)
                .await?;
        }
        announce_profile_change(state, user.user_id).await;
        Ok(user)
    }
}

/// Makes the account of `email` an active admin: its id and whether it
/// was active before, or `None` when there is no such account.
pub async fn make_admin(
    db: impl PgExecutor<'_>,
    email: &Email,
) -> sqlx::Result<Option<(Uuid, bool)>> {
    // The status before the update, from the row the update locked.
    crate::db::query_as(
        "with before as (select user_id, status from users where lower(email) = lower($1) for update) \
         update users set role = 'admin', status = 'active', updated_at = now() \
         from before where users.user_id = before.user_id \
         returning users.user_id, before.status = 'active'",
    )
    .bind(email.as_str())
    .fetch_optional(db)
    .await
}

/// Deletes an account (its posts go with it: the foreign key cascades);
/// false when there was none.
pub async fn delete(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<bool> {
    let deleted = crate::db::query("delete from users where user_id = $1")
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(deleted.rows_affected() > 0)
}

/// Tells every instance that the cached profile of `user_id` is stale.
pub async fn announce_profile_change(state: &AppState, user_id: Uuid) {
    let event = Event::ProfileChanged(user_id);
    state.cache.announce(&state.redis, &event).await;
}
