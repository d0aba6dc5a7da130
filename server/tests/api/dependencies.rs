//! Dependency outages seen through a switchable TCP proxy in front of the
//! real PostgreSQL and Redis: while one is known down, requests that need it
//! are refused at once without a connection attempt, readiness says so
//! without a round trip, and service resumes by itself once it is back.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::helpers::{TestApp, TestDb, test_settings};

/// Forwards connections to `upstream` while up; while down it refuses new
/// ones and cuts the open ones. Counts the connections it was asked for.
struct Proxy {
    port: u16,
    up: watch::Sender<bool>,
    attempts: Arc<AtomicUsize>,
}

impl Proxy {
    async fn start(upstream: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (up, watch_up) = watch::channel(true);
        let attempts = Arc::new(AtomicUsize::new(0));
        let counted = attempts.clone();
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                counted.fetch_add(1, Ordering::SeqCst);
                let mut state = watch_up.clone();
                if !*state.borrow() {
                    drop(client);
                    continue;
                }
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (mut client, mut server) = (client, server);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = state.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Self { port, up, attempts }
    }

    fn set_up(&self, up: bool) {
        self.up.send_replace(up);
    }

    fn attempts(&self) -> usize {
        self.attempts.load(Ordering::SeqCst)
    }
}

/// Waits (bounded) for readiness to answer `status`: a state, not a time.
async fn until_ready_is(app: &TestApp, status: u16) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let response = app.get("/api/health/ready").send().await.unwrap();
        if response.status() == status {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "readiness never answered {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn post(app: &TestApp, token: &str, title: &str) -> reqwest::Response {
    app.post("/api/posts")
        .bearer_auth(token)
        .json(&serde_json::json!({"title": title, "body": "through an outage"}))
        .send()
        .await
        .unwrap()
}

/// An app whose pool reaches the test database through a `Proxy` that the
/// test can cut and restore.
async fn app_behind_database_proxy(db: &TestDb) -> (Proxy, TestApp) {
    let proxy = Proxy::start("127.0.0.1:5432").await;
    let url = db
        .url
        .replacen("127.0.0.1:5432", &format!("127.0.0.1:{}", proxy.port), 1);
    let pool = PgPoolOptions::new()
        .max_connections(5)
        .connect(&url)
        .await
        .unwrap();
    let app = TestApp::spawn_with(pool, test_settings(&[])).await;
    (proxy, app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_known_down_is_refused_at_once_and_found_back() {
    let db = TestDb::new().await;
    let (proxy, app) = app_behind_database_proxy(&db).await;
    let user = app.new_user("outage").await;
    assert_eq!(post(&app, user.token(), "before").await.status(), 201);
    assert_eq!(app.me_status(user.token()).await, 200); // now cached

    proxy.set_up(false);
    until_ready_is(&app, 503).await;
    let attempts = proxy.attempts();
    for index in 0..5 {
        let refused = post(&app, user.token(), &format!("during {index}")).await;
        assert_eq!(refused.status(), 503);
        assert!(refused.headers().contains_key("retry-after"));
        let problem: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(problem["code"], "database_unavailable");
    }
    // The refusals opened no connection: only the probe knocks (at most a
    // few times while these ran), never one attempt per request.
    assert!(
        proxy.attempts() - attempts < 5,
        "requests tried the database"
    );
    // A request that needs only Redis and the cache is still served.
    assert_eq!(app.me_status(user.token()).await, 200);

    proxy.set_up(true);
    until_ready_is(&app, 200).await;
    assert_eq!(post(&app, user.token(), "after").await.status(), 201);
    let titles: Vec<String> = sqlx::query_scalar("select title from posts order by created_at")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(titles, ["before", "after"], "no refused write was saved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_known_down_is_refused_at_once_and_found_back() {
    let db = TestDb::new().await;
    let proxy = Proxy::start("127.0.0.1:6379").await;
    let redis_url = format!("redis://127.0.0.1:{}/0", proxy.port);
    let settings = test_settings(&[("REDIS_URL", redis_url.as_str())]);
    let app = TestApp::spawn_with(db.pool.clone(), settings).await;
    let user = app.new_user("redis-outage").await;

    proxy.set_up(false);
    until_ready_is(&app, 503).await;
    let attempts = proxy.attempts();
    // A session id the cache has never seen: the check needs Redis.
    app.state.cache.forget_session(user.sid()).await;
    for _ in 0..5 {
        assert_eq!(app.me_status(user.token()).await, 503);
    }
    assert!(proxy.attempts() - attempts < 5, "requests tried Redis");

    proxy.set_up(true);
    until_ready_is(&app, 200).await;
    assert_eq!(app.me_status(user.token()).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_refused_during_an_outage_are_not_counted_as_failures() {
    let db = TestDb::new().await;
    let (proxy, app) = app_behind_database_proxy(&db).await;
    let user = app.new_user("login-outage").await;

    proxy.set_up(false);
    until_ready_is(&app, 503).await;
    // More retries than the five free failures: each is 503, never 429,
    // because no password was judged.
    for attempt in 0..8 {
        let refused = app.login(&user.email, &user.password).await;
        assert_eq!(refused.status(), 503, "login {attempt} during the outage");
    }

    proxy.set_up(true);
    until_ready_is(&app, 200).await;
    let back = app.login(&user.email, &user.password).await;
    assert_eq!(
        back.status(),
        200,
        "the account was throttled by the outage"
    );
}
