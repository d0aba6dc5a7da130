//! `/metrics`: every contract name, promtool-clean, bounded labels, and
//! values that follow what the server does.

use crate::helpers::{TestApp, TestDb, test_settings};

/// The value of the first sample whose line starts with `series`.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find(|line| line.starts_with(series) && line[series.len()..].starts_with([' ', '{']))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no sample {series}"))
}

fn series_count(text: &str) -> usize {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_contract_metric_is_exported_with_help_and_passes_promtool() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    app.get("/api/health").send().await.unwrap();

    let text = app.metrics().await;

    for name in contract::metrics::ALL {
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "{name} has no HELP"
        );
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "{name} has no TYPE"
        );
    }
    assert!(text.contains(r#"route="/api/health",status="200",le="0.1"}"#));
    assert!(text.contains(r#"route="/api/health",status="200",le="0.2"}"#));
    assert!(text.contains(r#"le="0.0005"}"#) && text.contains(r#"le="10"}"#));
    assert_eq!(value(&text, "tenk_db_up"), 1.0);
    assert_eq!(value(&text, "tenk_redis_up"), 1.0);
    assert!(value(&text, "process_resident_memory_bytes") > 1e6);
    assert!(
        value(&text, "tenk_memory_limit_bytes") >= value(&text, "process_resident_memory_bytes")
    );
    assert!(value(&text, "tenk_cpu_cores") > 0.0);

    let promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    match promtool {
        Ok(mut child) => {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
            let output = child.wait_with_output().unwrap();
            let said = String::from_utf8_lossy(&output.stdout).to_string()
                + &String::from_utf8_lossy(&output.stderr);
            assert!(
                output.status.success() && said.trim().is_empty(),
                "promtool: {said}"
            );
        }
        // CI installs promtool and sets TENK_REQUIRE_TOOLS; a laptop without it skips this part.
        Err(_) if std::env::var("TENK_REQUIRE_TOOLS").is_err() => {
            eprintln!("promtool not found: skipped")
        }
        Err(error) => panic!("promtool is required: {error}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_counts_and_latency_buckets_move_with_traffic() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let series = r#"http_server_request_duration_seconds_count{method="GET",route="/api/health",status="200"}"#;
    app.get("/api/health").send().await.unwrap();
    let before = value(&app.metrics().await, series);

    for _ in 0..7 {
        app.get("/api/health").send().await.unwrap();
    }

    let text = app.metrics().await;
    assert_eq!(value(&text, series) - before, 7.0);
    let inf = r#"http_server_request_duration_seconds_bucket{method="GET",route="/api/health",status="200",le="+Inf"}"#;
    assert_eq!(value(&text, inf), value(&text, series));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_distinct_paths_add_no_series() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    for _ in 0..3 {
        app.get(&format!("/api/posts/{}", uuid::Uuid::new_v4()))
            .send()
            .await
            .unwrap();
        app.get(&format!("/nope/{}", uuid::Uuid::new_v4()))
            .send()
            .await
            .unwrap();
    }
    app.metrics().await; // the first scrape adds the series of /metrics itself
    let before = series_count(&app.metrics().await);

    for _ in 0..500 {
        app.get(&format!("/api/posts/{}", uuid::Uuid::new_v4()))
            .send()
            .await
            .unwrap();
        app.get(&format!("/nope/{}", uuid::Uuid::new_v4()))
            .send()
            .await
            .unwrap();
    }

    let text = app.metrics().await;
    assert_eq!(series_count(&text), before);
    assert!(text.contains(r#"route="/api/posts/{id}""#));
    assert!(text.contains(r#"route="unmatched""#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_gauges_reflect_held_connections() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let gauge =
        |state: &str| format!(r#"tenk_db_pool_connections{{pool="primary",state="{state}"}}"#);

    // Every connection of the pool (DB_POOL_MAX=5): the gauges are exact
    // whatever a background task (the idempotency purge at start) was doing
    // a moment before, which a "baseline + 1" comparison was not.
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(app.state.db.primary().acquire().await.unwrap());
    }
    let text = app.metrics().await;
    drop(held);

    assert_eq!(value(&text, &gauge("in_use")), 5.0);
    assert_eq!(value(&text, &gauge("idle")), 0.0);
    assert_eq!(
        value(&text, r#"tenk_db_pool_max_connections{pool="primary"}"#),
        5.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_active_session_gauge_follows_logins_logouts_and_expiry() {
    let db = TestDb::new().await;
    // Every scrape reads the count: no reuse window to wait out.
    let settings = test_settings(&[("METRICS_SESSIONS_REFRESH", "0")]);
    let app = TestApp::spawn_with(db.pool.clone(), settings).await;
    let alice = app.new_user("gauge-a").await;
    let bob = app.new_user("gauge-b").await;
    assert_eq!(value(&app.metrics().await, "tenk_sessions_active"), 2.0);
    assert_eq!(
        value(&app.metrics().await, "tenk_sessions_created_total"),
        2.0
    );

    app.post("/api/auth/logout")
        .bearer_auth(alice.token())
        .send()
        .await
        .unwrap();
    let text = app.metrics().await;
    assert_eq!(value(&text, "tenk_sessions_active"), 1.0);
    assert_eq!(
        value(&text, r#"tenk_sessions_revoked_total{reason="logout"}"#),
        1.0
    );

    // Expiry: the session's end passes, and it stops counting.
    let mut redis = app.state.redis.connection();
    let _: () = redis::cmd("ZADD")
        .arg(app.state.redis.keys().sessions_by_expiry())
        .arg(1)
        .arg(bob.sid())
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(value(&app.metrics().await, "tenk_sessions_active"), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapes_within_the_refresh_window_reuse_the_session_count() {
    let db = TestDb::new().await;
    // Longer than any test: the second scrape is always inside the window.
    let settings = test_settings(&[("METRICS_SESSIONS_REFRESH", "1h")]);
    let app = TestApp::spawn_with(db.pool.clone(), settings).await;
    let alice = app.new_user("reuse-a").await;
    assert_eq!(value(&app.metrics().await, "tenk_sessions_active"), 1.0);

    app.new_user("reuse-b").await;
    app.post("/api/auth/logout")
        .bearer_auth(alice.token())
        .send()
        .await
        .unwrap();
    app.new_user("reuse-c").await;

    assert_eq!(
        value(&app.metrics().await, "tenk_sessions_active"),
        1.0,
        "the count read by the first scrape, not Redis's 2"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_the_ops_token_or_live_on_their_own_listener() {
    let db = TestDb::new().await;
    let token = "ops-token-for-metrics-0123456789";
    let app = TestApp::spawn_with(db.pool.clone(), test_settings(&[("OPS_TOKEN", token)])).await;
    assert_eq!(app.get("/metrics").send().await.unwrap().status(), 401);
    assert_eq!(
        app.get("/metrics")
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let separate = test_settings(&[("METRICS_ADDR", "127.0.0.1:0")]);
    let application = tenk_server::startup::Application::build(separate, db.pool.clone())
        .await
        .unwrap();
    let api_port = application.port();
    let metrics_port = application.metrics_port().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(application.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let on_api = client
        .get(format!("http://127.0.0.1:{api_port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(on_api.status(), 404);
    let on_own = client
        .get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(on_own.status(), 200);
    assert!(on_own.text().await.unwrap().contains("tenk_build_info"));
    let _ = stop.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_attempts_and_cache_lookups_are_counted() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let user = app.new_user("counted").await;
    app.login(&user.email, "wrong password again").await;
    for _ in 0..3 {
        app.get("/api/users/me")
            .bearer_auth(user.token())
            .send()
            .await
            .unwrap();
    }

    let text = app.metrics().await;
    assert_eq!(
        value(
            &text,
            r#"tenk_auth_attempts_total{method="password",result="success"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            r#"tenk_auth_attempts_total{method="password",result="failure"}"#
        ),
        1.0
    );
    assert!(value(&text, r#"tenk_app_cache_requests_total{result="hit"}"#) >= 2.0);
    assert!(
        value(
            &text,
            r#"tenk_session_lookup_duration_seconds_count{cache="miss"}"#
        ) >= 1.0
    );
    assert!(value(&text, "tenk_redis_command_duration_seconds_count") >= 2.0);
}
