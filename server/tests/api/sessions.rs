//! Section C of SECURITY.md, items 29-39: sessions, revocation, refresh.

use std::time::{Duration, Instant};

use contract::api::{RevokeSessionsResponse, SessionSummary, TokenResponse};

use crate::helpers::{TestApp, TestDb, TestRedis, test_settings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_the_session_at_once_and_is_idempotent() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let user = app.new_user("logout").await;
    assert_eq!(app.me_status(user.token()).await, 200);

    let first = app
        .post("/api/auth/logout")
        .bearer_auth(user.token())
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 204);
    assert_eq!(app.me_status(user.token()).await, 401, "no grace period");
    let second = app
        .post("/api/auth/logout")
        .bearer_auth(user.token())
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 204);
    let refreshed = app
        .post("/api/auth/refresh")
        .json(&serde_json::json!({"refresh_token": user.tokens.refresh_token}))
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_revoked_on_one_instance_is_refused_on_another_within_100ms() {
    let db = TestDb::new().await;
    let settings_a = test_settings(&[]);
    let mut settings_b = settings_a.clone();
    settings_b.instance_id = "instance-b".into();
    let a = TestApp::spawn_with(db.pool.clone(), settings_a).await;
    let b = TestApp::spawn_with(db.pool.clone(), settings_b).await;
    let user = a.new_user("multi").await;
    // Warm instance B's cache so only pub/sub can tell it about the revocation.
    assert_eq!(b.me_status(user.token()).await, 200);
    assert_eq!(b.me_status(user.token()).await, 200);

    assert_eq!(
        a.post("/api/auth/logout")
            .bearer_auth(user.token())
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let revoked_at = Instant::now();

    // Poll B until the revocation reaches it: the bound is generous (the
    // target is 100 ms), the wait only as long as propagation takes.
    while b.me_status(user.token()).await == 200 {
        assert!(
            revoked_at.elapsed() < Duration::from_millis(1000),
            "B still accepts the revoked session"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(b.me_status(user.token()).await, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_rotates_the_token_and_reusing_an_old_one_revokes_the_session() {
    let db = TestDb::new().await;
    // Without the reuse interval: any second use of a token is reuse.
    let settings = crate::helpers::test_settings(&[("REFRESH_TOKEN_REUSE_INTERVAL", "0")]);
    let app = TestApp::spawn_with(db.pool.clone(), settings).await;
    let user = app.new_user("refresh").await;
    let refresh = |token: String| {
        app.post("/api/auth/refresh")
            .json(&serde_json::json!({"refresh_token": token}))
            .send()
    };

    let rotated = refresh(user.tokens.refresh_token.clone()).await.unwrap();
    assert_eq!(rotated.status(), 200);
    let rotated: TokenResponse = rotated.json().await.unwrap();
    assert_eq!(rotated.session.id, user.sid());
    assert_ne!(rotated.refresh_token, user.tokens.refresh_token);
    assert_eq!(app.me_status(&rotated.access_token).await, 200);

    let reuse = refresh(user.tokens.refresh_token.clone()).await.unwrap();
    assert_eq!(reuse.status(), 401);
    assert_eq!(
        app.me_status(&rotated.access_token).await,
        401,
        "reuse revokes the session"
    );
    assert_eq!(refresh(rotated.refresh_token).await.unwrap().status(), 401);
    assert_eq!(refresh("forged.token".into()).await.unwrap().status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_list_shows_only_the_callers_sessions_and_no_tokens() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let alice = app.new_user("alice").await;
    let alice_phone = app.log_in_as(alice.user_id.clone(), &alice.email).await;
    let bob = app.new_user("bob").await;

    let response = app
        .get("/api/auth/sessions")
        .bearer_auth(alice.token())
        .header("user-agent", "ua-test")
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    let sessions: Vec<SessionSummary> = serde_json::from_str(&text).unwrap();
    let ids: Vec<&str> = sessions.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(sessions.len(), 2, "{ids:?}");
    assert!(ids.contains(&alice.sid()) && ids.contains(&alice_phone.sid()));
    assert!(!ids.contains(&bob.sid()));
    assert_eq!(
        sessions
            .iter()
            .filter(|s| s.current)
            .map(|s| s.id.as_str())
            .collect::<Vec<_>>(),
        vec![alice.sid()]
    );
    assert!(
        sessions
            .iter()
            .all(|s| s.ip == "127.0.0.1" && !s.created_at.is_empty() && !s.last_seen_at.is_empty())
    );
    assert!(!text.contains(&alice.tokens.refresh_token) && !text.contains("eyJ"));

    // Redis keeps only the refresh token's hash.
    let mut redis = app.state.redis.connection();
    let stored: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
        .arg(app.state.redis.keys().session(alice.sid()))
        .query_async(&mut redis)
        .await
        .unwrap();
    let secret = alice.tokens.refresh_token.split_once('.').unwrap().1;
    assert!(
        stored.values().all(|value| !value.contains(secret)),
        "{stored:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_cannot_revoke_another_users_session() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let alice = app.new_user("alice").await;
    let bob = app.new_user("bob").await;

    let response = app
        .delete(&format!("/api/auth/sessions/{}", bob.sid()))
        .bearer_auth(alice.token())
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 404);
    assert_eq!(app.me_status(bob.token()).await, 200);
    let own = app
        .delete(&format!("/api/auth/sessions/{}", alice.sid()))
        .bearer_auth(alice.token())
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 204);
    assert_eq!(app.me_status(alice.token()).await, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_out_others_keeps_this_session_and_all_ends_every_one() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let laptop = app.new_user("everywhere").await;
    let phone = app.log_in_as(laptop.user_id.clone(), &laptop.email).await;
    let tablet = app.log_in_as(laptop.user_id.clone(), &laptop.email).await;

    let others = app
        .delete("/api/auth/sessions?scope=others")
        .bearer_auth(laptop.token())
        .send()
        .await
        .unwrap();
    assert_eq!(
        others
            .json::<RevokeSessionsResponse>()
            .await
            .unwrap()
            .revoked,
        2
    );
    assert_eq!(app.me_status(laptop.token()).await, 200);
    assert_eq!(app.me_status(phone.token()).await, 401);
    assert_eq!(app.me_status(tablet.token()).await, 401);

    let bad = app
        .delete("/api/auth/sessions?scope=some")
        .bearer_auth(laptop.token())
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let all = app
        .delete("/api/auth/sessions")
        .bearer_auth(laptop.token())
        .send()
        .await
        .unwrap();
    assert_eq!(
        all.json::<RevokeSessionsResponse>().await.unwrap().revoked,
        1
    );
    assert_eq!(app.me_status(laptop.token()).await, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_lives_in_redis_for_its_idle_timeout_capped_by_session_ttl() {
    let db = TestDb::new().await;
    let settings = test_settings(&[("SESSION_TTL", "7200"), ("SESSION_IDLE_TIMEOUT", "7200")]);
    let app = TestApp::spawn_with(db.pool.clone(), settings).await;
    let user = app.new_user("ttl").await;

    let mut redis = app.state.redis.connection();
    let ttl: i64 = redis::cmd("TTL")
        .arg(app.state.redis.keys().session(user.sid()))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!((7190..=7200).contains(&ttl), "TTL {ttl}");
    let active: u64 = app.state.sessions.count_active().await.unwrap();
    assert_eq!(active, 1);

    // Once Redis has expired the session, the token is refused.
    app.expire_now(&app.state.redis.keys().session(user.sid()))
        .await;
    app.state
        .cache
        .apply(&tenk_server::auth::cache::Event::SessionRevoked(
            user.sid().into(),
        ))
        .await;
    assert_eq!(app.me_status(user.token()).await, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_authenticated_requests_answer_503_never_200() {
    let db = TestDb::new().await;
    let mut redis = TestRedis::start().await;
    let settings = test_settings(&[
        ("REDIS_URL", &redis.url()),
        ("REDIS_COMMAND_TIMEOUT", "200ms"),
        ("REDIS_CONNECT_TIMEOUT", "200ms"),
    ]);
    let app = TestApp::spawn_with(db.pool.clone(), settings).await;
    let user = app.new_user("redisdown").await;
    assert_eq!(app.me_status(user.token()).await, 200);
    assert_eq!(app.me_status(user.token()).await, 200, "now cached");

    redis.stop();
    app.wait_until_redis_known_down().await;

    let response = app
        .get("/api/users/me")
        .bearer_auth(user.token())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
}

/// Honest clients racing with themselves (two tabs, a retry after a lost
/// response) get the same new refresh token within
/// `REFRESH_TOKEN_REUSE_INTERVAL`; reuse detection still holds around it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_refresh_within_the_reuse_interval_gets_the_same_new_pair() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let user = app.new_user("racer").await;
    let refresh = |token: String| {
        app.post("/api/auth/refresh")
            .json(&serde_json::json!({"refresh_token": token}))
            .send()
    };
    let original = user.tokens.refresh_token.clone();
    let (first, second) = tokio::join!(refresh(original.clone()), refresh(original.clone()));
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );
    let first: TokenResponse = first.json().await.unwrap();
    let second: TokenResponse = second.json().await.unwrap();
    assert_eq!(
        first.refresh_token, second.refresh_token,
        "the same new pair"
    );
    assert_ne!(first.refresh_token, original);
    assert_eq!(first.session.id, user.sid());
    assert_eq!(app.me_status(&second.access_token).await, 200);

    // The new token moves on; the original is now plain reuse, window or not.
    let third = refresh(first.refresh_token.clone()).await.unwrap();
    assert_eq!(third.status(), 200);
    let third: TokenResponse = third.json().await.unwrap();
    assert_eq!(refresh(original).await.unwrap().status(), 401);
    assert_eq!(
        app.me_status(&third.access_token).await,
        401,
        "reuse revoked the session"
    );
    assert_eq!(refresh(third.refresh_token).await.unwrap().status(), 401);
}
