//! The example resource: posts, owned by their author. Reads come from the
//! read replicas; list pages are cached and invalidated on every write, on
//! every instance. Copy this file as the pattern for a new resource.

use axum::extract::State;
use axum::http::StatusCode;
use contract::api::{Post, PostPage};
use serde::{Deserialize, Serialize};
use sqlx::AssertSqlSafe;
use sqlx::PgConnection;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::cache::Event;
use crate::auth::extract::AuthUser;
use crate::error::ApiError;
use crate::http::json::{AppJson, AppPath, AppQuery, JsonBytes, parse_id, reject_nul};
use crate::http::pagination::{Cursor, PAGE_SIZE, like_pattern};
use crate::idempotency::{Fingerprint, IdempotencyKey, Outcome, Reply};
use crate::state::AppState;
use crate::timestamps::rfc3339;

const COLUMNS: &str = "post_id, author_id, title, body, created_at, updated_at";
const MAX_TITLE_CHARS: usize = 200;
const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_posts, create_post))
        .routes(routes!(get_post, update_post, delete_post))
}

#[derive(sqlx::FromRow)]
struct PostRow {
    post_id: Uuid,
    author_id: Uuid,
    title: String,
    body: String,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl PostRow {
    fn into_post(self) -> Post {
        Post {
            id: self.post_id.to_string(),
            author_id: self.author_id.to_string(),
            title: self.title,
            body: self.body,
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
        }
    }
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPost {
    /// 1 to 200 characters, not blank, no NUL.
    #[schema(
        max_length = 200,
        pattern = "^[^\\u0000]*[^\\u0000\\u0009-\\u000d\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000]*$",
        example = "Hello, tenk"
    )]
    pub title: String,
    /// At most 65536 bytes.
    #[schema(
        max_length = 65536,
        pattern = "^[^\\u0000]*$",
        example = "The first post."
    )]
    pub body: String,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostChanges {
    /// 1 to 200 characters, not blank, no NUL.
    #[schema(
        max_length = 200,
        pattern = "^[^\\u0000]*[^\\u0000\\u0009-\\u000d\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000]*$",
        example = "A better title"
    )]
    pub title: Option<String>,
    /// At most 65536 bytes.
    #[schema(max_length = 65536, pattern = "^[^\\u0000]*$")]
    pub body: Option<String>,
}

fn check_title(title: &str) -> Result<(), ApiError> {
    reject_nul("title", title)?;
    if title.trim().is_empty() || title.chars().count() > MAX_TITLE_CHARS {
        return Err(ApiError::invalid("title", "must be 1 to 200 characters"));
    }
    Ok(())
}

fn check_body(body: &str) -> Result<(), ApiError> {
    reject_nul("body", body)?;
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::invalid("body", "must be at most 65536 bytes"));
    }
    Ok(())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// A case-insensitive substring of the title.
    #[param(pattern = "^[^\\u0000]*$", example = "hello")]
    pub q: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(
        pattern = "^[0-9]{1,19}_[0-9a-f]{32}$",
        example = "1767225600000000000_0192f2a4b7c84d0e9a3b5c6d7e8f9a0b"
    )]
    pub cursor: Option<String>,
}

/// Posts, newest first, 50 a page, optionally searched by title.
#[utoipa::path(get, path = "/api/posts", tag = "posts", security(("bearer" = [])),
    params(ListQuery), responses((status = 200, body = PostPage)))]
pub async fn list_posts(
    State(state): State<AppState>,
    _user: AuthUser,
    AppQuery(query): AppQuery<ListQuery>,
) -> Result<JsonBytes, ApiError> {
    reject_nul("q", query.q.as_deref().unwrap_or_default())?;
    let search = query.q.as_deref().map(like_pattern);
    let cursor = query.cursor.as_deref().map(Cursor::parse).transpose()?;
    // Keyed by the normalized search and cursor, so spelling variants of one
    // page share an entry.
    let cache_key = format!(
        "{}\u{1f}{}",
        search.as_deref().unwrap_or_default(),
        cursor.map(|c| c.encode()).unwrap_or_default()
    );
    let load = async {
        let page = read_page(&state, search, cursor).await?;
        JsonBytes::encode(&page)
    };
    Ok(JsonBytes(state.cache.post_page(cache_key, load).await?))
}

/// One page of posts from a replica (or the primary).
async fn read_page(
    state: &AppState,
    search: Option<String>,
    cursor: Option<Cursor>,
) -> Result<PostPage, ApiError> {
    let (after_time, after_id) = cursor.map_or((None, None), |c| (Some(c.at), Some(c.id)));
    let rows: Vec<PostRow> = state
        .db
        .read(|pool| {
            let search = search.clone();
            async move {
                crate::db::query_as(AssertSqlSafe(format!(
                    "select {COLUMNS} from posts \
                     where ($1::text is null or lower(title) like $1) \
                       and ($2::timestamptz is null or (created_at, post_id) < ($2, $3)) \
                     order by created_at desc, post_id desc limit $4"
                )))
                .bind(search)
                .bind(after_time)
                .bind(after_id)
                .bind(PAGE_SIZE + 1)
                .fetch_all(&pool)
                .await
            }
        })
        .await?;
    let (rows, next_cursor) = Cursor::split_page(rows, |row| Cursor {
        at: row.created_at,
        id: row.post_id,
    });
    Ok(PostPage {
        items: rows.into_iter().map(PostRow::into_post).collect(),
        next_cursor,
    })
}

/// Creates a post owned by the caller. With an `Idempotency-Key`, a retry
/// gets the first reply and creates nothing.
#[utoipa::path(post, path = "/api/posts", tag = "posts", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header)), request_body = NewPost,
    responses((status = 201, body = Post), (status = 422, body = contract::api::Problem)))]
pub async fn create_post(
    State(state): State<AppState>,
    user: AuthUser,
    key: IdempotencyKey,
    AppJson(request): AppJson<NewPost>,
) -> Result<Outcome, ApiError> {
    check_title(&request.title)?;
    check_body(&request.body)?;
    let fingerprint = Fingerprint::new("POST", "/api/posts").json(&request)?;
    let write = async |connection: &mut PgConnection| {
        let row: PostRow = crate::db::query_as(AssertSqlSafe(format!(
            "insert into posts (post_id, author_id, title, body) values ($1, $2, $3, $4) returning {COLUMNS}"
        )))
        .bind(Uuid::new_v4())
        .bind(user.user_id)
        .bind(request.title.trim())
        .bind(&request.body)
        .fetch_one(connection)
        .await?;
        Reply::json(StatusCode::CREATED, &row.into_post())
    };
    let outcome =
        crate::idempotency::run(state.db.writer()?, user.user_id, key, fingerprint, write).await?;
    announce_posts_changed(&state, &outcome).await;
    Ok(outcome)
}

/// After the commit, best effort: a fresh write invalidates the post pages
/// (a replay wrote nothing).
async fn announce_posts_changed(state: &AppState, outcome: &Outcome) {
    if !outcome.replayed {
        state
            .cache
            .announce(&state.redis, &Event::PostsChanged)
            .await;
    }
}

/// One post.
#[utoipa::path(get, path = "/api/posts/{id}", tag = "posts", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Post id")),
    responses((status = 200, body = Post), (status = 404, body = contract::api::Problem)))]
pub async fn get_post(
    State(state): State<AppState>,
    _user: AuthUser,
    AppPath(id): AppPath<String>,
) -> Result<AppJson<Post>, ApiError> {
    let post_id = parse_id(&id)?;
    let row: PostRow = state
        .db
        .read(|pool| async move {
            crate::db::query_as(AssertSqlSafe(format!(
                "select {COLUMNS} from posts where post_id = $1"
            )))
            .bind(post_id)
            .fetch_optional(&pool)
            .await
        })
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(AppJson(row.into_post()))
}

/// Changes a post; only its author may (others get 404, as if it were not
/// there). With an `Idempotency-Key`, a retry gets the first reply.
#[utoipa::path(patch, path = "/api/posts/{id}", tag = "posts", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Post id"), ("Idempotency-Key" = Option<String>, Header)),
    request_body = PostChanges,
    responses((status = 200, body = Post), (status = 404, body = contract::api::Problem)))]
pub async fn update_post(
    State(state): State<AppState>,
    user: AuthUser,
    key: IdempotencyKey,
    AppPath(id): AppPath<String>,
    AppJson(changes): AppJson<PostChanges>,
) -> Result<Outcome, ApiError> {
    if let Some(title) = &changes.title {
        check_title(title)?;
    }
    if let Some(body) = &changes.body {
        check_body(body)?;
    }
    let post_id = parse_id(&id)?;
    let fingerprint = Fingerprint::new("PATCH", "/api/posts/{id}")
        .part(post_id.as_bytes())
        .json(&changes)?;
    let write = async |connection: &mut PgConnection| {
        let row: PostRow = crate::db::query_as(AssertSqlSafe(format!(
            "update posts set title = coalesce($3, title), body = coalesce($4, body), updated_at = now() \
             where post_id = $1 and author_id = $2 returning {COLUMNS}"
        )))
        .bind(post_id)
        .bind(user.user_id)
        .bind(changes.title.as_deref().map(str::trim))
        .bind(changes.body.as_deref())
        .fetch_optional(connection)
        .await?
        .ok_or(ApiError::NotFound)?;
        Reply::json(StatusCode::OK, &row.into_post())
    };
    let outcome =
        crate::idempotency::run(state.db.writer()?, user.user_id, key, fingerprint, write).await?;
    announce_posts_changed(&state, &outcome).await;
    Ok(outcome)
}

/// Deletes a post; only its author may (others get 404). With an
/// `Idempotency-Key`, a retry gets the first reply (204, not 404).
#[utoipa::path(delete, path = "/api/posts/{id}", tag = "posts", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Post id"), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 204, description = "Deleted"), (status = 404, body = contract::api::Problem)))]
pub async fn delete_post(
    State(state): State<AppState>,
    user: AuthUser,
    key: IdempotencyKey,
    AppPath(id): AppPath<String>,
) -> Result<Outcome, ApiError> {
    let post_id = parse_id(&id)?;
    let fingerprint = Fingerprint::new("DELETE", "/api/posts/{id}").part(post_id.as_bytes());
    let write = async |connection: &mut PgConnection| {
        let deleted = crate::db::query("delete from posts where post_id = $1 and author_id = $2")
            .bind(post_id)
            .bind(user.user_id)
            .execute(connection)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(ApiError::NotFound);
        }
        Ok(Reply::empty(StatusCode::NO_CONTENT))
    };
    let outcome =
        crate::idempotency::run(state.db.writer()?, user.user_id, key, fingerprint, write).await?;
    announce_posts_changed(&state, &outcome).await;
    Ok(outcome)
}
