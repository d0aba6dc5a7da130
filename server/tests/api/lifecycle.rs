//! The process as operators run it: graceful shutdown and a saturated pool.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{PASSWORD, TestApp, TestDb, test_settings, unique_email};

/// Starts the real binary on a free port and returns it with its address.
fn start_server(db: &TestDb, shutdown_timeout: &str) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tenk-server"))
        .current_dir(std::env::temp_dir())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORT", "0")
        .env("DATABASE_URL", &db.url)
        .env(
            "REDIS_KEY_PREFIX",
            format!("test:{}:", uuid::Uuid::new_v4().simple()),
        )
        .env("LOG_FORMAT", "json")
        .env("SHUTDOWN_TIMEOUT", shutdown_timeout)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let address = loop {
        let line = lines.next().expect("server printed its address").unwrap();
        let value: serde_json::Value = match serde_json::from_str(&line) {
            Ok(value) => value,
            Err(_) => continue,
        };
        if value["message"] == "listening" {
            break value["addr"].as_str().unwrap().to_string();
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, address)
}

/// Polls the server's `/metrics` until `n` requests are in flight (the
/// poll itself is one): a half-sent request has been admitted.
async fn wait_in_flight(address: &str, n: u32) {
    let series = format!("{} ", contract::metrics::HTTP_REQUESTS_IN_FLIGHT);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = reqwest::get(format!("http://{address}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let in_flight: u32 = text
            .lines()
            .find_map(|line| line.strip_prefix(&series))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0);
        if in_flight >= n {
            return;
        }
        assert!(Instant::now() < deadline, "{in_flight} in flight, not {n}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn signal(child: &std::process::Child, name: &str) {
    let status = Command::new("kill")
        .args(["-s", name, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_requests_refuses_new_ones_and_exits_zero() {
    let db = TestDb::new().await;
    let (mut child, address) = start_server(&db, "10");
    // An in-flight request: headers and half of the body sent, the rest later.
    let body = format!(
        r#"{{"email":"{}","password":"{PASSWORD}","name":"Slow"}}"#,
        unique_email("slow")
    );
    let (head, tail) = body.split_at(body.len() / 2);
    let mut slow = TcpStream::connect(&address).unwrap();
    write!(slow, "POST /api/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{head}", body.len()).unwrap();
    slow.flush().unwrap();
    wait_in_flight(&address, 2).await;

    signal(&child, "TERM");
    // New connections are refused while draining: poll until the listener
    // has closed (the slow request is still waiting for its tail).
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(&address).is_ok() {
        assert!(
            Instant::now() < deadline,
            "new connections are refused while draining"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    slow.write_all(tail.as_bytes()).unwrap();
    let mut response = String::new();
    slow.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "exited within SHUTDOWN_TIMEOUT"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_slower_than_the_drain_timeout_is_cut_and_shutdown_still_completes() {
    let db = TestDb::new().await;
    let (mut child, address) = start_server(&db, "1");
    let mut stuck = TcpStream::connect(&address).unwrap();
    write!(stuck, "POST /api/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{{").unwrap();
    wait_in_flight(&address, 2).await;

    let started = Instant::now();
    signal(&child, "TERM");
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the 1 s drain timeout cut the request"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saturated_pool_answers_503_with_retry_after_and_recovers() {
    let db = TestDb::new().await;
    let settings = test_settings(&[("DB_POOL_MAX", "1"), ("DB_ACQUIRE_TIMEOUT", "300ms")]);
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_millis(300))
        .connect(&db.url)
        .await
        .unwrap();
    let app = TestApp::spawn_with(pool.clone(), settings).await;
    let email = unique_email("pool");
    assert_eq!(app.register(&email, PASSWORD).await.status(), 201);

    let held = pool.acquire().await.unwrap();
    let started = Instant::now();
    let response = app.login(&email, PASSWORD).await;
    assert_eq!(response.status(), 503);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(response.headers()["retry-after"], "1");
    let problem: contract::api::Problem = response.json().await.unwrap();
    assert_eq!(problem.code, "database_busy");

    drop(held);
    assert_eq!(app.login(&email, PASSWORD).await.status(), 200);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("tenk_db_pool_timeouts_total{pool=\"primary\"} 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_admin_takes_the_password_from_the_environment_never_argv() {
    let db = TestDb::new().await;
    let email = unique_email("cli-admin");
    let output = Command::new(env!("CARGO_BIN_EXE_tenk-server"))
        .args(["create-admin", "--email", &email])
        .current_dir(std::env::temp_dir())
        .env_clear()
        .env("DATABASE_URL", &db.url)
        .env("TENK_ADMIN_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!String::from_utf8_lossy(&output.stdout).contains(PASSWORD));
    let role: String = sqlx::query_scalar("select role from users where email = $1")
        .bind(&email)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(role, "admin");
    let app = TestApp::spawn(&db).await;
    assert_eq!(app.login(&email, PASSWORD).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_logins_is_turned_away_with_503_while_other_routes_keep_answering() {
    let db = TestDb::new().await;
    // One hashing worker: 32 jobs may wait, the rest are refused at once.
    let app = TestApp::spawn_with(db.pool.clone(), test_settings(&[("WORKERS", "1")])).await;
    let email = unique_email("flood");
    assert_eq!(app.register(&email, PASSWORD).await.status(), 201);

    // Unknown addresses (a dummy hash is checked for each): the per-account
    // throttle stays out of the way, only the hashing queue is measured.
    let emails: Vec<String> = (0..80).map(|_| unique_email("flood")).collect();
    let logins = emails
        .iter()
        .map(|email| app.login(email, "wrong password, flood"));
    let health = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        let status = app.get("/api/health").send().await.unwrap().status();
        (status, started.elapsed())
    };
    let (statuses, (health_status, health_latency)) =
        tokio::join!(futures_util::future::join_all(logins), health);

    let busy = statuses.iter().filter(|r| r.status() == 503).count();
    let refused = statuses.iter().filter(|r| r.status() == 401).count();
    assert_eq!(busy + refused, 80);
    assert!(busy > 0 && refused >= 32, "busy {busy}, refused {refused}");
    assert!(
        statuses
            .iter()
            .filter(|r| r.status() == 503)
            .all(|r| r.headers().contains_key("retry-after"))
    );
    assert_eq!(health_status, 200);
    assert!(
        health_latency < Duration::from_secs(1),
        "hashing never blocks the runtime: {health_latency:?}"
    );
}

/// Load balancers reuse keep-alive connections: the last reply on one that
/// a stopping server is about to close must say so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keep_alive_request_in_flight_at_shutdown_is_answered_with_connection_close() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let db = TestDb::new().await;
    let mut app = crate::helpers::TestApp::spawn(&db).await;
    let user = app.new_user("drain").await;
    let address = app.address.trim_start_matches("http://").to_string();
    // Keep-alive (no `Connection: close`), half of the body sent.
    let mut held = app.half_sent_post(&user, true).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.state.admission.in_flight() == 0 {
        assert!(Instant::now() < deadline, "the request was never admitted");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    app.shut_down();
    // The listener closes right as open connections are told to finish.
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(&address).await.is_ok() {
        assert!(Instant::now() < deadline, "the listener never closed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    held.write_all(b"\"last\",\"body\":\"x\"}").await.unwrap();
    let mut reply = String::new();
    held.read_to_string(&mut reply).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 201"), "{reply}");
    assert!(
        reply.to_ascii_lowercase().contains("connection: close"),
        "{reply}"
    );
}
