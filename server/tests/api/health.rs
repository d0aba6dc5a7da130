use std::time::{Duration, Instant};

use contract::health::{DatabaseHealth, DetailedHealth, Liveness, Readiness, RedisHealth};

use crate::helpers::{TestApp, TestDb, UNREACHABLE_REDIS, test_settings, unreachable_pool};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_health_endpoint_reports_up_when_dependencies_answer() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;

    let live: Liveness = app
        .get("/api/health")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(live.status, "ok");
    assert_eq!(live.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(live.instance_id, "test-instance");

    let ready = app.get("/api/health/ready").send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: Readiness = ready.json().await.unwrap();
    assert!(ready.checks.iter().all(|check| check.up), "{ready:?}");

    let database: DatabaseHealth = app
        .get("/api/health/database")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(database.primary.up);
    assert_eq!(database.primary.max, 5);
    assert!(database.primary.size >= 1);

    let redis: RedisHealth = app
        .get("/api/health/redis")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(redis.up);
    assert_eq!(redis.mode, "single");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_liveness_stays_up_and_redis_and_readiness_answer_503_fast() {
    let db = TestDb::new().await;
    let settings = test_settings(&[("REDIS_URL", UNREACHABLE_REDIS)]);
    let app = TestApp::spawn_with(db.pool.clone(), settings).await;

    assert_eq!(app.get("/api/health").send().await.unwrap().status(), 200);
    for path in ["/api/health/redis", "/api/health/ready"] {
        let started = Instant::now();
        let response = app.get(path).send().await.unwrap();
        assert_eq!(response.status(), 503, "{path}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{path} took {:?}",
            started.elapsed()
        );
    }
    let redis: RedisHealth = app
        .get("/api/health/redis")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!redis.up);
    assert!(redis.error.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_postgres_down_liveness_stays_up_and_database_and_readiness_answer_503_fast() {
    let app = TestApp::spawn_with(unreachable_pool(), test_settings(&[])).await;

    let started = Instant::now();
    assert_eq!(app.get("/api/health").send().await.unwrap().status(), 200);
    for path in ["/api/health/database", "/api/health/ready"] {
        let started = Instant::now();
        let response = app.get(path).send().await.unwrap();
        assert_eq!(response.status(), 503, "{path}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{path} took {:?}",
            started.elapsed()
        );
    }
    let ready: Readiness = app
        .get("/api/health/ready")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let database = ready
        .checks
        .iter()
        .find(|check| check.name == "database")
        .unwrap();
    assert!(!database.up);
    assert!(
        ready
            .checks
            .iter()
            .any(|check| check.name == "redis" && check.up)
    );
    assert!(started.elapsed() < Duration::from_secs(6));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_go_to_a_healthy_replica_and_fall_back_to_the_primary() {
    let primary = TestDb::new().await;
    let replica = TestDb::new().await;
    let settings = test_settings(&[("DATABASE_READ_URLS", replica.url.as_str())]);
    let app = TestApp::spawn_with(primary.pool.clone(), settings).await;

    let read_from: String = sqlx::query_scalar("select current_database()")
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
    assert_eq!(read_from, replica.name);
    let health: DatabaseHealth = app
        .get("/api/health/database")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health.replicas.len(), 1);
    assert!(health.replicas[0].up);

    let dead = test_settings(&[("DATABASE_READ_URLS", "postgres://postgres@127.0.0.1:1/none")]);
    let app = TestApp::spawn_with(primary.pool.clone(), dead).await;
    let read_from: String = sqlx::query_scalar("select current_database()")
        .fetch_one(app.state.db.reader())
        .await
        .unwrap();
    assert_eq!(read_from, primary.name);
    let health = app.get("/api/health/database").send().await.unwrap();
    assert_eq!(
        health.status(),
        200,
        "a dead replica degrades, it does not fail"
    );
    let health: DatabaseHealth = health.json().await.unwrap();
    assert_eq!(health.status, "degraded");
    assert!(!health.replicas[0].up);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detailed_health_requires_the_ops_token_when_one_is_set() {
    let db = TestDb::new().await;
    let token = "ops-token-for-tests-0123456789";
    let app = TestApp::spawn_with(db.pool.clone(), test_settings(&[("OPS_TOKEN", token)])).await;

    let anonymous = app.get("/api/health/detailed").send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    let wrong = app
        .get("/api/health/detailed")
        .bearer_auth("ops-token-for-tests-012345678X")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    let response = app
        .get("/api/health/detailed")
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(!text.contains("postgres://"), "no DSN in the body: {text}");
    let detailed: DetailedHealth = serde_json::from_str(&text).unwrap();
    assert!(detailed.process.resident_memory_bytes > 0);
    assert!(detailed.process.memory_limit_bytes >= detailed.process.resident_memory_bytes);
    assert_eq!(detailed.environment, "development");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_turns_503_while_draining() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    assert_eq!(
        app.get("/api/health/ready").send().await.unwrap().status(),
        200
    );

    app.state.lifecycle.start_draining();

    let response = app.get("/api/health/ready").send().await.unwrap();
    assert_eq!(response.status(), 503);
    let ready: Readiness = response.json().await.unwrap();
    assert!(ready.draining);
    assert_eq!(app.get("/api/health").send().await.unwrap().status(), 200);
}
