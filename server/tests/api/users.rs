//! The caller's profile and password.

use contract::api::UserProfile;
use serde_json::json;

use crate::helpers::{TestApp, TestDb, test_settings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_profile_is_fresh_on_every_instance() {
    let db = TestDb::new().await;
    let settings = test_settings(&[]);
    let a = TestApp::spawn_with(db.pool.clone(), settings.clone()).await;
    let b = TestApp::spawn_with(db.pool.clone(), settings).await;
    let user = a.new_user("rename").await;
    let read = |app: &TestApp| app.get("/api/users/me").bearer_auth(user.token()).send();
    let cached: UserProfile = read(&b).await.unwrap().json().await.unwrap();
    assert_eq!(cached.name, "Test User");

    let renamed = a
        .patch("/api/users/me")
        .bearer_auth(user.token())
        .json(&json!({"name": "Ada"}))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200);

    // B hears of the change through pub/sub: poll until it shows.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        let fresh: UserProfile = read(&b).await.unwrap().json().await.unwrap();
        if fresh.name == "Ada" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "B still serves {}",
            fresh.name
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let invalid = a
        .patch("/api/users/me")
        .bearer_auth(user.token())
        .json(&json!({"name": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_password_needs_the_current_one_and_ends_the_other_sessions() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let laptop = app.new_user("pwchange").await;
    let phone = app.log_in_as(laptop.user_id.clone(), &laptop.email).await;
    let change = |current: &str, new: &str| {
        app.post("/api/users/me/password")
            .bearer_auth(laptop.token())
            .json(&json!({"current_password": current, "new_password": new}))
            .send()
    };

    assert_eq!(
        change("not my password", "brand new password 1")
            .await
            .unwrap()
            .status(),
        422
    );
    assert_eq!(
        change(&laptop.password, "short").await.unwrap().status(),
        422
    );
    assert_eq!(
        change(&laptop.password, "brand new password 1")
            .await
            .unwrap()
            .status(),
        204
    );

    let me = |token: String| app.get("/api/users/me").bearer_auth(token).send();
    assert_eq!(me(laptop.token().into()).await.unwrap().status(), 200);
    assert_eq!(me(phone.token().into()).await.unwrap().status(), 401);
    assert_eq!(
        app.login(&laptop.email, &laptop.password).await.status(),
        401
    );
    assert_eq!(
        app.login(&laptop.email, "brand new password 1")
            .await
            .status(),
        200
    );
}
