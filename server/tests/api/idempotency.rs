//! Idempotency keys on the writes: a retry gets the first reply and writes
//! nothing, another request with the same key is refused, keys are per user
//! and expire, and a key is remembered only with a write that committed.

use contract::api::{Post, Problem, UserProfile};
use serde_json::json;

use crate::helpers::{TestApp, TestDb, test_settings};

const KEY: &str = "Idempotency-Key";
const REPLAYED: &str = "Idempotent-Replayed";

async fn post_count(db: &TestDb) -> i64 {
    sqlx::query_scalar("select count(*) from posts")
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

fn replayed(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get(REPLAYED)
        .is_some_and(|value| value == "true")
}

async fn create(app: &TestApp, token: &str, key: &str, body: &str) -> reqwest::Response {
    app.post("/api/posts")
        .bearer_auth(token)
        .header(KEY, key)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_post_gets_the_first_reply_and_writes_once() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let alice = app.new_user("alice").await;

    let first = create(
        &app,
        alice.token(),
        "k-1",
        r#"{"title":"Hello","body":"First"}"#,
    )
    .await;
    assert_eq!(first.status(), 201);
    assert!(!replayed(&first));
    let first: Post = first.json().await.unwrap();

    // The same request, spelled differently: key order and whitespace do not count.
    let retry = create(
        &app,
        alice.token(),
        "k-1",
        r#"{ "body": "First",  "title": "Hello" }"#,
    )
    .await;
    assert_eq!(retry.status(), 201);
    assert!(replayed(&retry));
    assert_eq!(
        retry.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let retry: Post = retry.json().await.unwrap();
    assert_eq!(retry, first);
    assert_eq!(post_count(&db).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_key_with_another_request_is_refused() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let alice = app.new_user("alice").await;

    let first = create(&app, alice.token(), "k-2", r#"{"title":"One","body":""}"#).await;
    assert_eq!(first.status(), 201);
    let post: Post = first.json().await.unwrap();

    let other = create(&app, alice.token(), "k-2", r#"{"title":"Two","body":""}"#).await;
    assert_eq!(other.status(), 422);
    let problem: Problem = other.json().await.unwrap();
    assert_eq!(problem.code, "idempotency_key_reused");
    assert_eq!(post_count(&db).await, 1);

    // The same key on another route or another post is another request too.
    let rename = app
        .patch("/api/users/me")
        .bearer_auth(alice.token())
        .header(KEY, "k-2")
        .json(&json!({"name": "Alice"}))
        .send()
        .await
        .unwrap();
    assert_eq!(rename.status(), 422);
    let edit = app
        .patch(&format!("/api/posts/{}", post.id))
        .bearer_auth(alice.token())
        .header(KEY, "k-edit")
        .json(&json!({"title": "Edited"}))
        .send()
        .await
        .unwrap();
    assert_eq!(edit.status(), 200);
    let second = create(&app, alice.token(), "k-3", r#"{"title":"Three","body":""}"#).await;
    let second: Post = second.json().await.unwrap();
    let edit_other = app
        .patch(&format!("/api/posts/{}", second.id))
        .bearer_auth(alice.token())
        .header(KEY, "k-edit")
        .json(&json!({"title": "Edited"}))
        .send()
        .await
        .unwrap();
    assert_eq!(edit_other.status(), 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_belong_to_their_user() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let alice = app.new_user("alice").await;
    let bob = app.new_user("bob").await;
    let body = r#"{"title":"Shared key","body":""}"#;

    let hers = create(&app, alice.token(), "shared", body).await;
    assert_eq!(hers.status(), 201);
    let hers: Post = hers.json().await.unwrap();
    let his = create(&app, bob.token(), "shared", body).await;
    assert_eq!(his.status(), 201);
    assert!(!replayed(&his));
    let his: Post = his.json().await.unwrap();
    assert_ne!(his.id, hers.id);
    assert_eq!(his.author_id, bob.user_id);
    assert_eq!(post_count(&db).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicates_write_once_and_share_the_reply() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let alice = app.new_user("alice").await;
    let body = r#"{"title":"Once","body":"only once"}"#;

    let requests = (0..10).map(|_| create(&app, alice.token(), "parallel", body));
    let responses = futures_util::future::join_all(requests).await;
    let mut ids = Vec::new();
    let mut fresh = 0;
    for response in responses {
        assert_eq!(response.status(), 201);
        if !replayed(&response) {
            fresh += 1;
        }
        let post: Post = response.json().await.unwrap();
        ids.push(post.id);
    }
    assert_eq!(fresh, 1, "exactly one request wrote");
    ids.dedup();
    assert_eq!(ids.len(), 1, "every reply names the same post");
    assert_eq!(post_count(&db).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_key_is_refused_before_any_write() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let alice = app.new_user("alice").await;
    let too_long = "k".repeat(256);
    let bad: [&[u8]; 4] = [b"", too_long.as_bytes(), b"with space", b"caf\xc3\xa9"];
    for key in bad {
        let response = app
            .post("/api/posts")
            .bearer_auth(alice.token())
            .header(KEY, reqwest::header::HeaderValue::from_bytes(key).unwrap())
            .json(&json!({"title": "Nope", "body": ""}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "key {key:?}");
        let problem: Problem = response.json().await.unwrap();
        assert_eq!(problem.code, "invalid_idempotency_key");
        assert!(problem.detail.unwrap().contains("Idempotency-Key"));
    }
    let twice = app
        .post("/api/posts")
        .bearer_auth(alice.token())
        .header(KEY, "one")
        .header(KEY, "two")
        .json(&json!({"title": "Nope", "body": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status(), 400);
    let longest = create(
        &app,
        alice.token(),
        &"k".repeat(255),
        r#"{"title":"Yes","body":""}"#,
    )
    .await;
    assert_eq!(longest.status(), 201);
    assert_eq!(post_count(&db).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_delete_gets_the_first_reply_not_404() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let alice = app.new_user("alice").await;
    let post: Post = create(&app, alice.token(), "make", r#"{"title":"Bye","body":""}"#)
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/api/posts/{}", post.id);

    let delete = || {
        app.delete(&path)
            .bearer_auth(alice.token())
            .header(KEY, "delete-1")
            .send()
    };
    let first = delete().await.unwrap();
    assert_eq!(first.status(), 204);
    assert!(!replayed(&first));
    let retry = delete().await.unwrap();
    assert_eq!(retry.status(), 204);
    assert!(replayed(&retry));
    assert!(retry.bytes().await.unwrap().is_empty());

    // Without a key a second delete finds nothing, as before.
    let unkeyed = app
        .delete(&path)
        .bearer_auth(alice.token())
        .send()
        .await
        .unwrap();
    assert_eq!(unkeyed.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_write_leaves_its_key_free() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let alice = app.new_user("alice").await;
    let missing = format!("/api/posts/{}", uuid::Uuid::new_v4());

    let gone = app
        .delete(&missing)
        .bearer_auth(alice.token())
        .header(KEY, "reused-after-failure")
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    let keys: i64 = sqlx::query_scalar("select count(*) from idempotency_keys")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(keys, 0);
    let created = create(
        &app,
        alice.token(),
        "reused-after-failure",
        r#"{"title":"Now","body":""}"#,
    )
    .await;
    assert_eq!(created.status(), 201);
    assert!(!replayed(&created));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_key_every_request_writes() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let alice = app.new_user("alice").await;
    for _ in 0..2 {
        let response = app
            .post("/api/posts")
            .bearer_auth(alice.token())
            .json(&json!({"title": "Again", "body": ""}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        assert!(response.headers().get(REPLAYED).is_none());
    }
    assert_eq!(post_count(&db).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_rename_gets_the_first_profile() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let alice = app.new_user("alice").await;
    let rename = |name: &'static str| {
        app.patch("/api/users/me")
            .bearer_auth(alice.token())
            .header(KEY, "rename")
            .json(&json!({ "name": name }))
            .send()
    };
    let first = rename("Ada").await.unwrap();
    assert_eq!(first.status(), 200);
    let first: UserProfile = first.json().await.unwrap();
    assert_eq!(first.name, "Ada");

    // Renamed again without a key; the keyed retry still answers the first reply.
    let plain = app
        .patch("/api/users/me")
        .bearer_auth(alice.token())
        .json(&json!({"name": "Grace"}))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 200);
    let retry = rename("Ada").await.unwrap();
    assert!(replayed(&retry));
    let retry: UserProfile = retry.json().await.unwrap();
    assert_eq!(retry, first);
    let other = rename("Lovelace").await.unwrap();
    assert_eq!(other.status(), 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_expire_after_a_day() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let alice = app.new_user("alice").await;
    let body = r#"{"title":"Daily","body":""}"#;
    let first: Post = create(&app, alice.token(), "daily", body)
        .await
        .json()
        .await
        .unwrap();

    // Age the record instead of waiting a day.
    sqlx::query("update idempotency_keys set created_at = now() - interval '25 hours'")
        .execute(&db.pool)
        .await
        .unwrap();
    let after = create(&app, alice.token(), "daily", body).await;
    assert_eq!(after.status(), 201);
    assert!(!replayed(&after));
    let after: Post = after.json().await.unwrap();
    assert_ne!(after.id, first.id);
    assert_eq!(post_count(&db).await, 2);

    // The purge removes what has expired and keeps the rest.
    create(
        &app,
        alice.token(),
        "fresh",
        r#"{"title":"Kept","body":""}"#,
    )
    .await;
    sqlx::query(
        "update idempotency_keys set created_at = now() - interval '25 hours' where key = 'daily'",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let purged = tenk_server::idempotency::purge(&db.pool).await.unwrap();
    assert_eq!(purged, 1);
    let left: Vec<String> = sqlx::query_scalar("select key from idempotency_keys")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(left, ["fresh"]);
}

/// A write cut before its commit (here: PostgreSQL ends its connection, as a
/// fast shutdown does) answers 503, not 500, and leaves its key free: the
/// retry writes once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_cut_before_its_commit_answers_503_and_the_retry_writes_once() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let alice = app.new_user("alice").await;

    // Hold the key in an open transaction so the request waits on it.
    let mut holder = db.pool.begin().await.unwrap();
    sqlx::query(
        "insert into idempotency_keys (user_id, key, fingerprint, status, body) \
         values ($1::uuid, 'cut', '', 0, '')",
    )
    .bind(&alice.user_id)
    .execute(&mut *holder)
    .await
    .unwrap();
    let body = r#"{"title":"Cut","body":""}"#;
    let request = tokio::spawn({
        let client = app.client.clone();
        let url = app.url("/api/posts");
        let token = alice.token().to_string();
        async move {
            client
                .post(url)
                .bearer_auth(token)
                .header(KEY, "cut")
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap()
        }
    });
    let mut terminated = false;
    for _ in 0..500 {
        terminated = sqlx::query_scalar::<_, bool>(
            "select coalesce(bool_or(pg_terminate_backend(pid)), false) from pg_stat_activity \
             where datname = current_database() and wait_event_type = 'Lock' \
             and pid <> pg_backend_pid()",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
        if terminated {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(terminated, "the request waited on the held key");
    let cut = request.await.unwrap();
    assert_eq!(cut.status(), 503);
    let problem: Problem = cut.json().await.unwrap();
    assert_eq!(problem.code, "database_unavailable");
    holder.rollback().await.unwrap();
    assert_eq!(post_count(&db).await, 0);

    let retry = create(&app, alice.token(), "cut", body).await;
    assert_eq!(retry.status(), 201);
    assert!(!replayed(&retry));
    assert_eq!(post_count(&db).await, 1);
}

/// A browser may send the key and read the replay header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_lets_a_browser_send_the_key_and_read_the_replay() {
    let db = TestDb::new().await;
    let settings = test_settings(&[("CORS_ORIGINS", "https://app.example.com")]);
    let app = TestApp::spawn_with(db.pool.clone(), settings).await;
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/posts"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,idempotency-key",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("idempotency-key"), "{allowed}");
    let alice = app.new_user("alice").await;
    let created = app
        .post("/api/posts")
        .bearer_auth(alice.token())
        .header("origin", "https://app.example.com")
        .header(KEY, "browser")
        .json(&json!({"title": "From a browser", "body": ""}))
        .send()
        .await
        .unwrap();
    let exposed = created.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("idempotent-replayed"), "{exposed}");
}
