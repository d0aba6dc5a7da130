//! Admission control and the app cache under concurrency: a request past
//! `HTTP_MAX_IN_FLIGHT` is shed at once while health probes answer;
//! concurrent misses for one session make one Redis call; a post write
//! leaves sessions and profiles cached.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{TestApp, TestDb, test_settings};

/// Waits (bounded) until `condition` holds: a state to reach, not a time.
async fn until(what: &str, condition: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_the_in_flight_bound_is_shed_while_health_answers() {
    let db = TestDb::new().await;
    let settings = test_settings(&[("HTTP_MAX_IN_FLIGHT", "1")]);
    let app = TestApp::spawn_with(db.pool.clone(), settings).await;
    let user = app.new_user("shed").await;

    // The only place goes to a post whose body never finishes arriving.
    let mut held = app.half_sent_post(&user, false).await;
    until("the held request is admitted", || {
        app.state.admission.in_flight() == 1
    })
    .await;

    let shed = app
        .get("/api/users/me")
        .bearer_auth(user.token())
        .send()
        .await
        .unwrap();
    assert_eq!(shed.status(), 503);
    assert_eq!(shed.headers()["retry-after"], "1");
    assert!(shed.headers().contains_key("x-request-id"));
    assert_eq!(
        shed.headers()["content-type"],
        contract::api::PROBLEM_CONTENT_TYPE
    );
    let problem: serde_json::Value = shed.json().await.unwrap();
    assert_eq!(problem["code"], "overloaded");
    for probe in ["/api/health", "/api/health/ready"] {
        let response = app.get(probe).send().await.unwrap();
        assert_eq!(response.status(), 200, "{probe} while shedding");
    }
    let counted = app
        .state
        .metrics
        .http_shed
        .with_label_values(&["in_flight"])
        .get();
    assert_eq!(counted, 1);

    // The held request completes and gives its place back.
    held.write_all(b"\"held\",\"body\":\"x\"}").await.unwrap();
    let mut reply = String::new();
    held.read_to_string(&mut reply).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 201"), "{reply}");
    assert_eq!(app.me_status(user.token()).await, 200);
}

/// Redis round trips made by this app so far.
fn redis_round_trips(app: &TestApp) -> u64 {
    app.state.metrics.redis_command.get_sample_count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_for_one_session_make_one_redis_call() {
    let db = TestDb::new().await;
    let settings = test_settings(&[("RATE_LIMIT_ENABLED", "false")]);
    let app = TestApp::spawn_with(db.pool.clone(), settings).await;
    let user = app.new_user("coalesce").await;
    until("the cache is subscribed", || app.state.cache.is_usable()).await;
    // A fresh session id in the cache's eyes: drop what login left there.
    app.state.cache.forget_session(user.sid()).await;

    let before = redis_round_trips(&app);
    let requests = (0..32).map(|_| app.get("/api/users/me").bearer_auth(user.token()).send());
    for response in futures_util::future::join_all(requests).await {
        assert_eq!(response.unwrap().status(), 200);
    }
    assert_eq!(redis_round_trips(&app) - before, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_write_leaves_sessions_and_profiles_cached() {
    let db = TestDb::new().await;
    let settings = test_settings(&[("RATE_LIMIT_ENABLED", "false")]);
    let app = TestApp::spawn_with(db.pool.clone(), settings).await;
    let user = app.new_user("post-write").await;
    until("the cache is subscribed", || app.state.cache.is_usable()).await;
    assert_eq!(app.me_status(user.token()).await, 200);
    let created = app
        .post("/api/posts")
        .bearer_auth(user.token())
        .json(&serde_json::json!({"title": "a write", "body": "of a post"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    let before = redis_round_trips(&app);
    let misses = app
        .state
        .metrics
        .app_cache
        .with_label_values(&["miss"])
        .get();
    assert_eq!(app.me_status(user.token()).await, 200);
    let misses_after = app
        .state
        .metrics
        .app_cache
        .with_label_values(&["miss"])
        .get();
    assert_eq!(misses_after, misses, "the session or profile was evicted");
    assert_eq!(redis_round_trips(&app), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_past_the_bound_gets_a_503_and_the_place_returns() {
    let db = TestDb::new().await;
    let settings = test_settings(&[("HTTP_MAX_CONNECTIONS", "1")]);
    let app = TestApp::spawn_with(db.pool.clone(), settings).await;
    let address = app.address.trim_start_matches("http://").to_string();
    let request = b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

    // The only place goes to a connection that says nothing yet.
    let held = tokio::net::TcpStream::connect(&address).await.unwrap();
    let mut refused = tokio::net::TcpStream::connect(&address).await.unwrap();
    refused.write_all(request).await.unwrap();
    let mut reply = String::new();
    refused.read_to_string(&mut reply).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
    assert!(reply.contains("retry-after: 1"), "{reply}");
    assert!(reply.contains("\"code\":\"overloaded\""), "{reply}");
    let counted = app
        .state
        .metrics
        .http_shed
        .with_label_values(&["connections"])
        .get();
    assert!(counted >= 1);

    drop(held);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut next = tokio::net::TcpStream::connect(&address).await.unwrap();
        next.write_all(request).await.unwrap();
        let mut reply = String::new();
        let _ = next.read_to_string(&mut reply).await;
        if reply.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the place never came back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_whose_client_went_away_leaves_the_in_flight_gauge() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let user = app.new_user("gone").await;
    let held = app.half_sent_post(&user, true).await;
    let gauge = &app.state.metrics.http_in_flight;
    until("the request is in flight", || gauge.get() == 1).await;
    drop(held);
    until("the gauge is back to zero", || gauge.get() == 0).await;
    until("its admission place is back", || {
        app.state.admission.in_flight() == 0
    })
    .await;
}
