//! Operator actions. The role is checked on every call (`AdminUser`), and
//! every action is written to `audit_log` in the same transaction as its
//! effect: when the effect fails, the audit row rolls back with it.

use axum::extract::State;
use axum::http::StatusCode;
use contract::api::{AuditEntry, AuditPage, RevokeSessionsResponse, SessionSummary, UserPage};
use serde::Deserialize;
use sqlx::{PgConnection, Postgres, Transaction};
use time::OffsetDateTime;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::account_deletion::delete_account;
use crate::admin_guard::{self, Change};
use crate::auth::extract::{AdminUser, ClientInfo};
use crate::auth::sessions::RevokeReason;
use crate::error::ApiError;
use crate::http::json::{AppJson, AppPath, AppQuery, parse_id, reject_nul};
use crate::http::pagination::{Cursor, PAGE_SIZE, like_pattern};
use crate::state::AppState;
use crate::timestamps::rfc3339;
use crate::users::{self, User, UserStatus};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(find_sessions))
        .routes(routes!(revoke_session))
        .routes(routes!(revoke_user_sessions))
        .routes(routes!(disable_user))
        .routes(routes!(enable_user))
        .routes(routes!(delete_user))
        .routes(routes!(list_users))
        .routes(routes!(list_audit))
}

/// Writes one audit row inside the caller's transaction.
async fn audit(
    tx: &mut PgConnection,
    admin: &AdminUser,
    client: &ClientInfo,
    action: &str,
    target: &str,
) -> Result<(), ApiError> {
    crate::db::query(
        "insert into audit_log (actor_id, action, target, ip, request_id) values ($1, $2, $3, $4, $5)",
    )
    .bind(admin.0.user_id)
    .bind(action)
    .bind(target)
    .bind(&client.ip)
    .bind(&client.request_id)
    .execute(tx)
    .await?;
    tracing::info!(target: "audit", admin_id = %admin.0.user_id, action, subject = target, "admin action");
    Ok(())
}

async fn begin(state: &AppState) -> Result<Transaction<'static, Postgres>, ApiError> {
    Ok(state.db.writer()?.begin().await?)
}

/// Whose sessions: `user_id` wins over `email`. One of them is needed.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SessionQuery {
    /// The account's email (any case).
    #[param(pattern = "^[^\\u0000]*$", example = "ada@example.com")]
    pub email: Option<String>,
    pub user_id: Option<Uuid>,
}

/// 400 for a session search that names nobody.
const FILTER_REQUIRED: &str = "email_or_user_id_required";

/// The account a session search names.
enum Whom<'a> {
    Id(Uuid),
    Email(&'a str),
}

/// A user's live sessions, found by user id or email. A search for an
/// account that does not exist is a 404 `user_not_found`, so an operator can
/// tell a mistyped address from an account without sessions (an empty
/// list); either way the search is audited.
#[utoipa::path(get, path = "/api/admin/sessions", tag = "admin", security(("bearer" = [])),
    params(SessionQuery),
    responses((status = 200, body = Vec<SessionSummary>),
        (status = 400, description = "Neither `email` nor `user_id` given (`email_or_user_id_required`)", body = contract::api::Problem),
        (status = 403, body = contract::api::Problem),
        (status = 404, description = "No account has this `email` or `user_id` (`user_not_found`)", body = contract::api::Problem)))]
pub async fn find_sessions(
    State(state): State<AppState>,
    admin: AdminUser,
    client: ClientInfo,
    AppQuery(query): AppQuery<SessionQuery>,
) -> Result<AppJson<Vec<SessionSummary>>, ApiError> {
    if let Some(email) = query.email.as_deref() {
        // A search, not an address to mail: any text, matched exactly.
        reject_nul("email", email)?;
    }
    let whom = match (query.user_id, query.email.as_deref()) {
        (Some(user_id), _) => Whom::Id(user_id),
        (None, Some(email)) => Whom::Email(email.trim()),
        // Not a search: refused before anything is written.
        (None, None) => {
            return Err(ApiError::BadRequest {
                code: FILTER_REQUIRED,
                detail: "give email or user_id".into(),
            });
        }
    };
    let mut tx = begin(&state).await?;
    let (found, unknown): (Option<Uuid>, &'static str) = match whom {
        Whom::Id(user_id) => (
            users::find(&mut *tx, user_id)
                .await?
                .map(|user| user.user_id),
            "no account has this id",
        ),
        Whom::Email(email) => (
            users::find_id_by_email(&mut *tx, email).await?,
            "no account has this email",
        ),
    };
    // The id searched for, even when it names nobody; an unknown email is
    // not written down.
    let target = match found.or(query.user_id) {
        Some(id) => format!("user:{id}"),
        None => "user:none".to_string(),
    };
    audit(&mut tx, &admin, &client, "sessions.search", &target).await?;
    let Some(user_id) = found else {
        // The search is audited even though it found nobody.
        tx.commit().await?;
        return Err(ApiError::Missing {
            code: contract::api::problem_code::USER_NOT_FOUND,
            detail: unknown,
        });
    };
    let sessions = state.sessions.list(user_id).await?;
    tx.commit().await?;
    Ok(AppJson(
        sessions
            .iter()
            .map(|session| session.summary(None))
            .collect(),
    ))
}

/// Ends one session, whoever owns it.
#[utoipa::path(delete, path = "/api/admin/sessions/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Session id")),
    responses((status = 204, description = "Revoked"), (status = 404, body = contract::api::Problem)))]
pub async fn revoke_session(
    State(state): State<AppState>,
    admin: AdminUser,
    client: ClientInfo,
    AppPath(id): AppPath<String>,
) -> Result<StatusCode, ApiError> {
    let mut tx = begin(&state).await?;
    let target = format!("session:{id}");
    audit(&mut tx, &admin, &client, "session.revoke", &target).await?;
    if !state.sessions.revoke(&id, RevokeReason::Admin).await? {
        return Err(ApiError::NotFound);
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends every session of a user.
#[utoipa::path(delete, path = "/api/admin/users/{id}/sessions", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 200, body = RevokeSessionsResponse), (status = 404, body = contract::api::Problem)))]
pub async fn revoke_user_sessions(
    State(state): State<AppState>,
    admin: AdminUser,
    client: ClientInfo,
    AppPath(id): AppPath<String>,
) -> Result<AppJson<RevokeSessionsResponse>, ApiError> {
    let user_id = parse_id(&id)?;
    let mut tx = begin(&state).await?;
    let target = format!("user:{user_id}");
    audit(&mut tx, &admin, &client, "user.sessions.revoke", &target).await?;
    let sessions = &state.sessions;
    let revoked = sessions
        .revoke_all(user_id, None, RevokeReason::Admin)
        .await?;
    tx.commit().await?;
    Ok(AppJson(RevokeSessionsResponse { revoked }))
}

async fn set_status(
    state: &AppState,
    admin: &AdminUser,
    client: &ClientInfo,
    id: &str,
    status: UserStatus,
) -> Result<User, ApiError> {
    let user_id = parse_id(id)?;
    let disabling = status == UserStatus::Disabled;
    if disabling {
        admin_guard::refuse_self(admin.0.user_id, user_id, Change::Disable)?;
    }
    let mut tx = begin(state).await?;
    if disabling {
        admin_guard::keep_an_admin(&mut tx, user_id).await?;
    }
    let mut change = users::set_status(tx, user_id, status)
        .await?
        .ok_or(ApiError::NotFound)?;
    let action = if disabling {
        "user.disable"
    } else {
        "user.enable"
    };
    let target = format!("user:{user_id}");
    audit(change.connection(), admin, client, action, &target).await?;
    Ok(change.commit(state).await?)
}

/// Disables an account and ends all its sessions. An admin cannot disable
/// their own account, and the last active admin cannot be disabled.
#[utoipa::path(post, path = "/api/admin/users/{id}/disable", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 200, body = contract::api::UserProfile), (status = 404, body = contract::api::Problem),
        (status = 409, description = "The caller's own account, or the last active admin", body = contract::api::Problem)))]
pub async fn disable_user(
    State(state): State<AppState>,
    admin: AdminUser,
    client: ClientInfo,
    AppPath(id): AppPath<String>,
) -> Result<AppJson<contract::api::UserProfile>, ApiError> {
    Ok(AppJson(
        set_status(&state, &admin, &client, &id, UserStatus::Disabled)
            .await?
            .profile(),
    ))
}

/// Deletes an account with its posts and ends every session and refresh
/// token of it at once. An admin deletes their own account with
/// `DELETE /api/users/me`; the last active admin cannot be deleted.
#[utoipa::path(delete, path = "/api/admin/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 204, description = "Deleted, with its posts; every session revoked"),
        (status = 404, body = contract::api::Problem),
        (status = 409, description = "The caller's own account, or the last active admin", body = contract::api::Problem)))]
pub async fn delete_user(
    State(state): State<AppState>,
    admin: AdminUser,
    client: ClientInfo,
    AppPath(id): AppPath<String>,
) -> Result<StatusCode, ApiError> {
    let user_id = parse_id(&id)?;
    admin_guard::refuse_self(admin.0.user_id, user_id, Change::Delete)?;
    let mut tx = begin(&state).await?;
    let target = format!("user:{user_id}");
    audit(&mut tx, &admin, &client, "user.delete", &target).await?;
    delete_account(&state, tx, user_id, RevokeReason::Admin).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Enables an account again.
#[utoipa::path(post, path = "/api/admin/users/{id}/enable", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 200, body = contract::api::UserProfile), (status = 404, body = contract::api::Problem)))]
pub async fn enable_user(
    State(state): State<AppState>,
    admin: AdminUser,
    client: ClientInfo,
    AppPath(id): AppPath<String>,
) -> Result<AppJson<contract::api::UserProfile>, ApiError> {
    Ok(AppJson(
        set_status(&state, &admin, &client, &id, UserStatus::Active)
            .await?
            .profile(),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// A case-insensitive substring of the email or name.
    #[param(pattern = "^[^\\u0000]*$", example = "ada")]
    pub query: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(
        pattern = "^[0-9]{1,19}_[0-9a-f]{32}$",
        example = "1767225600000000000_0192f2a4b7c84d0e9a3b5c6d7e8f9a0b"
    )]
    pub cursor: Option<String>,
}

/// Accounts, newest first, 50 a page.
#[utoipa::path(get, path = "/api/admin/users", tag = "admin", security(("bearer" = [])),
    params(UserQuery), responses((status = 200, body = UserPage)))]
pub async fn list_users(
    State(state): State<AppState>,
    admin: AdminUser,
    client: ClientInfo,
    AppQuery(query): AppQuery<UserQuery>,
) -> Result<AppJson<UserPage>, ApiError> {
    let cursor = query.cursor.as_deref().map(Cursor::parse).transpose()?;
    reject_nul("query", query.query.as_deref().unwrap_or_default())?;
    let pattern = query.query.as_deref().map(like_pattern);
    let mut tx = begin(&state).await?;
    audit(&mut tx, &admin, &client, "users.list", "users").await?;
    let after = cursor.map(|cursor| (cursor.at, cursor.id));
    let rows = users::page(&mut *tx, pattern, after, PAGE_SIZE + 1).await?;
    tx.commit().await?;
    let (rows, next) = Cursor::split_page(rows, |row| Cursor {
        at: row.created_at,
        id: row.user_id,
    });
    Ok(AppJson(UserPage {
        items: rows.iter().map(User::profile).collect(),
        next_cursor: next,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[0-9]{1,18}$", example = "42")]
    pub cursor: Option<String>,
}

/// An audit cursor: the id of the last entry of the previous page, 1 to 18
/// digits (so it fits an `i64`), nothing else; the parameter's `pattern`.
fn audit_cursor(raw: &str) -> Result<i64, ApiError> {
    let invalid = || ApiError::invalid("cursor", "is not a cursor from this list");
    if raw.is_empty() || raw.len() > 18 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    raw.parse().map_err(|_| invalid())
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    audit_id: i64,
    actor_id: Uuid,
    actor_email: Option<String>,
    action: String,
    target: String,
    target_email: Option<String>,
    ip: String,
    request_id: String,
    created_at: OffsetDateTime,
}

/// The audit log, newest first, 50 a page.
#[utoipa::path(get, path = "/api/admin/audit", tag = "admin", security(("bearer" = [])),
    params(AuditQuery), responses((status = 200, body = AuditPage)))]
pub async fn list_audit(
    State(state): State<AppState>,
    _admin: AdminUser,
    AppQuery(query): AppQuery<AuditQuery>,
) -> Result<AppJson<AuditPage>, ApiError> {
    let before = query.cursor.as_deref().map(audit_cursor).transpose()?;
    let mut rows: Vec<AuditRow> = crate::db::query_as(
        "select a.audit_id, a.actor_id, actor.email as actor_email, a.action, a.target, \
                target_user.email as target_email, a.ip, a.request_id, a.created_at \
         from audit_log a \
         left join users actor on actor.user_id = a.actor_id \
         left join users target_user on a.target like 'user:%' \
              and target_user.user_id::text = substr(a.target, 6) \
         where ($1::bigint is null or a.audit_id < $1) order by a.audit_id desc limit $2",
    )
    .bind(before)
    .bind(PAGE_SIZE + 1)
    .fetch_all(state.db.writer()?)
    .await?;
    let next_cursor = (rows.len() > PAGE_SIZE as usize).then(|| {
        rows.truncate(PAGE_SIZE as usize);
        rows.last().map(|row| row.audit_id.to_string())
    });
    let items = rows
        .into_iter()
        .map(|row| AuditEntry {
            id: row.audit_id,
            actor_id: row.actor_id.to_string(),
            actor_email: row.actor_email,
            action: row.action,
            target: row.target,
            target_email: row.target_email,
            ip: row.ip,
            request_id: row.request_id,
            created_at: rfc3339(row.created_at),
        })
        .collect();
    Ok(AppJson(AuditPage {
        items,
        next_cursor: next_cursor.flatten(),
    }))
}
