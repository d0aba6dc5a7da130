//! The example resource: ownership, pagination, search, cached lists.

use contract::api::{Post, PostPage};
use serde_json::json;

use crate::helpers::{TestApp, TestDb};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_author_changes_or_deletes_a_post() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let alice = app.new_user("alice").await;
    let bob = app.new_user("bob").await;

    let created = app
        .post("/api/posts")
        .bearer_auth(alice.token())
        .json(&json!({"title": "Hello", "body": "First"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let post: Post = created.json().await.unwrap();
    assert_eq!(post.author_id, alice.user_id);
    let path = format!("/api/posts/{}", post.id);

    let read: Post = app
        .get(&path)
        .bearer_auth(bob.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read.title, "Hello");
    let hijack = app
        .patch(&path)
        .bearer_auth(bob.token())
        .json(&json!({"title": "Pwned"}))
        .send()
        .await
        .unwrap();
    assert_eq!(hijack.status(), 404);
    assert_eq!(
        app.delete(&path)
            .bearer_auth(bob.token())
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    let edited: Post = app
        .patch(&path)
        .bearer_auth(alice.token())
        .json(&json!({"body": "Edited"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (edited.title.as_str(), edited.body.as_str()),
        ("Hello", "Edited")
    );
    assert_eq!(
        app.delete(&path)
            .bearer_auth(alice.token())
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        app.get(&path)
            .bearer_auth(alice.token())
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        app.get("/api/posts/not-a-uuid")
            .bearer_auth(alice.token())
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(app.get("/api/posts").send().await.unwrap().status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cached_list_is_invalidated_on_write_and_pages_by_cursor() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let user = app.new_user("writer").await;
    let list = |query: &str| {
        app.get(&format!("/api/posts{query}"))
            .bearer_auth(user.token())
            .send()
    };

    let empty: PostPage = list("").await.unwrap().json().await.unwrap();
    assert!(empty.items.is_empty());
    for n in 0..55 {
        let title = if n % 2 == 0 {
            format!("Even {n}")
        } else {
            format!("Odd {n}")
        };
        let status = app
            .post("/api/posts")
            .bearer_auth(user.token())
            .json(&json!({"title": title, "body": ""}))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 201);
    }

    let first: PostPage = list("").await.unwrap().json().await.unwrap();
    assert_eq!(
        first.items.len(),
        50,
        "the cached empty page was invalidated"
    );
    assert_eq!(first.items[0].title, "Even 54");
    let second: PostPage = list(&format!("?cursor={}", first.next_cursor.unwrap()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(second.items.len(), 5);
    let odd: PostPage = list("?q=ODD").await.unwrap().json().await.unwrap();
    assert_eq!(odd.items.len(), 27);
    assert!(odd.items.iter().all(|p| p.title.starts_with("Odd")));

    let invalid = app
        .post("/api/posts")
        .bearer_auth(user.token())
        .json(&json!({"title": " ", "body": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_reads_are_served_by_the_read_replica() {
    let primary = TestDb::new().await;
    let replica = TestDb::new().await;
    let settings = crate::helpers::test_settings(&[("DATABASE_READ_URLS", replica.url.as_str())]);
    let app = TestApp::spawn_with(primary.pool.clone(), settings).await;
    let user = app.new_user("replica").await;
    // The "replica" is another database: a row only it holds proves where reads go.
    sqlx::query("insert into users (user_id, email, name, password_hash) values ($1::uuid, 'r@example.com', 'R', 'x')")
        .bind(&user.user_id).execute(&replica.pool).await.unwrap();
    sqlx::query("insert into posts (post_id, author_id, title, body) values (gen_random_uuid(), $1::uuid, 'Only on the replica', '')")
        .bind(&user.user_id).execute(&replica.pool).await.unwrap();

    let page: PostPage = app
        .get("/api/posts")
        .bearer_auth(user.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].title, "Only on the replica");
}
