//! Account deletion (issue 15): by the user, re-authenticated, and by an
//! admin, audited. Afterwards every token of the account is refused with
//! 401 on every kind of route, refresh included, and its posts are gone.

use contract::api::{AuditPage, PostPage, Problem};
use serde_json::json;

use crate::helpers::{LoggedIn, PASSWORD, TestApp, TestDb, TestSmtp, test_settings};

/// One request of every kind a token can make: reads, writes, the caller's
/// sessions, an admin route, and the refresh token.
async fn statuses_for(app: &TestApp, user: &LoggedIn) -> Vec<(String, u16)> {
    let token = user.token();
    let requests = [
        ("GET /api/users/me", app.get("/api/users/me")),
        (
            "PATCH /api/users/me",
            app.patch("/api/users/me")
                .json(&json!({"name": "Still here"})),
        ),
        (
            "POST /api/users/me/password",
            app.post("/api/users/me/password").json(
                &json!({"current_password": PASSWORD, "new_password": "a whole new password"}),
            ),
        ),
        ("GET /api/posts", app.get("/api/posts")),
        (
            "POST /api/posts",
            app.post("/api/posts")
                .json(&json!({"title": "t", "body": "b"})),
        ),
        ("GET /api/auth/sessions", app.get("/api/auth/sessions")),
        (
            "DELETE /api/auth/sessions",
            app.delete("/api/auth/sessions"),
        ),
        ("GET /api/admin/users", app.get("/api/admin/users")),
        (
            "DELETE /api/users/me",
            app.delete("/api/users/me")
                .json(&json!({"password": PASSWORD})),
        ),
    ];
    let mut statuses = Vec::new();
    for (name, request) in requests {
        let status = request.bearer_auth(token).send().await.unwrap().status();
        statuses.push((name.to_string(), status.as_u16()));
    }
    let refresh = app
        .post("/api/auth/refresh")
        .json(&json!({"refresh_token": user.tokens.refresh_token}))
        .send()
        .await
        .unwrap();
    statuses.push(("POST /api/auth/refresh".into(), refresh.status().as_u16()));
    statuses
}

fn all_401(statuses: &[(String, u16)]) {
    for (route, status) in statuses {
        assert_eq!(*status, 401, "{route}");
    }
}

async fn post_titled(app: &TestApp, user: &LoggedIn, title: &str) {
    let created = app
        .post("/api/posts")
        .bearer_auth(user.token())
        .json(&json!({"title": title, "body": "text"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
}

async fn titles(app: &TestApp, reader: &LoggedIn) -> Vec<String> {
    let page: PostPage = app
        .get("/api/posts")
        .bearer_auth(reader.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page.items.into_iter().map(|post| post.title).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_deletes_their_account_with_the_password_and_every_token_dies() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let user = app.new_user("leaver").await;
    let phone = app.log_in_as(user.user_id.clone(), &user.email).await;
    let reader = app.new_user("reader").await;
    post_titled(&app, &user, "by the leaver").await;
    post_titled(&app, &reader, "by the reader").await;

    let delete = |body: serde_json::Value| {
        app.delete("/api/users/me")
            .bearer_auth(user.token())
            .json(&body)
            .send()
    };
    let wrong = delete(json!({"password": "not the password"}))
        .await
        .unwrap();
    assert_eq!(wrong.status(), 422);
    assert_eq!(
        wrong.json::<Problem>().await.unwrap().errors[0].field,
        "password"
    );
    let neither = delete(json!({})).await.unwrap();
    assert_eq!(neither.status(), 422);
    assert_eq!(app.me_status(user.token()).await, 200, "nothing happened");

    assert_eq!(
        delete(json!({"password": PASSWORD}))
            .await
            .unwrap()
            .status(),
        204
    );

    all_401(&statuses_for(&app, &user).await);
    all_401(&statuses_for(&app, &phone).await);
    assert_eq!(app.login(&user.email, PASSWORD).await.status(), 401);
    assert_eq!(titles(&app, &reader).await, vec!["by the reader"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_deletes_their_account_with_a_fresh_one_time_code() {
    let db = TestDb::new().await;
    let smtp = TestSmtp::start().await;
    let url = smtp.url();
    let settings = test_settings(&[("MAIL_TRANSPORT", "smtp"), ("SMTP_URL", url.as_str())]);
    let app = TestApp::spawn_with(db.pool.clone(), settings).await;
    let user = app.new_user("coder").await;
    let requested = app
        .post("/api/auth/otp/request")
        .json(&json!({"email": user.email}))
        .send()
        .await
        .unwrap();
    assert_eq!(requested.status(), 202);
    let code = smtp.code_for(&user.email, 1).await;
    let wrong_code = if code == "000000" { "111111" } else { "000000" };
    let delete = |code: &str| {
        app.delete("/api/users/me")
            .bearer_auth(user.token())
            .json(&json!({"code": code}))
            .send()
    };
    assert_eq!(delete(wrong_code).await.unwrap().status(), 422);
    assert_eq!(delete(&code).await.unwrap().status(), 204);
    all_401(&statuses_for(&app, &user).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_deletes_an_account_and_it_is_audited() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let admin = app.new_admin().await;
    let victim = app.new_user("victim").await;
    post_titled(&app, &victim, "by the victim").await;

    let path = format!("/api/admin/users/{}", victim.user_id);
    let deleted = app
        .delete(&path)
        .bearer_auth(admin.token())
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    all_401(&statuses_for(&app, &victim).await);
    assert!(titles(&app, &admin).await.is_empty(), "posts went too");

    let again = app
        .delete(&path)
        .bearer_auth(admin.token())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);

    let audit: AuditPage = app
        .get("/api/admin/audit")
        .bearer_auth(admin.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let target = format!("user:{}", victim.user_id);
    let deletions = audit
        .items
        .iter()
        .filter(|entry| entry.action == "user.delete" && entry.target == target)
        .count();
    assert_eq!(deletions, 1, "the 404 left no audit row");
}

/// Finding 3: with the row gone but the session still live (another
/// instance's cache, or a deletion racing with the request), no route may
/// answer 500; a write is 401, not a foreign-key violation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_route_answers_500_when_the_account_row_is_gone() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let user = app.new_user("ghost").await;
    sqlx::query("delete from users where user_id = $1::uuid")
        .bind(&user.user_id)
        .execute(&db.pool)
        .await
        .unwrap();
    let created = app
        .post("/api/posts")
        .bearer_auth(user.token())
        .json(&json!({"title": "t", "body": "b"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 401);
    for (route, status) in statuses_for(&app, &user).await {
        assert!(status < 500, "{route}: {status}");
    }
}
