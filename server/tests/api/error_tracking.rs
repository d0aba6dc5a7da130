//! With `SENTRY_DSN`, an internal error is reported once, with the request
//! id and none of the secrets the request carried.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::helpers::{PASSWORD, TestDb, unique_email};

/// A loopback HTTP listener that keeps every request body (Sentry envelopes).
fn start_collector() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let store = bodies.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            store
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(&body).into_owned());
            let _ = reader
                .get_mut()
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}");
        }
    });
    (port, bodies)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_internal_error_is_reported_with_its_request_id_and_no_secrets() {
    let db = TestDb::new().await;
    let (port, bodies) = start_collector();
    let mut server = Command::new(env!("CARGO_BIN_EXE_tenk-server"))
        .current_dir(std::env::temp_dir())
        .env_clear()
        .env("PORT", "0")
        .env("DATABASE_URL", &db.url)
        .env(
            "REDIS_KEY_PREFIX",
            format!("test:{}:", uuid::Uuid::new_v4().simple()),
        )
        .env("LOG_FORMAT", "json")
        .env("SENTRY_DSN", format!("http://publickey@127.0.0.1:{port}/1"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let address = loop {
        let line = lines.next().expect("the server starts").unwrap();
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(&line)
            && value["message"] == "listening"
        {
            break value["addr"].as_str().unwrap().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let base = format!("http://{address}");
    let client = reqwest::Client::new();
    let email = unique_email("sentry");
    let password = format!("{PASSWORD} {}", uuid::Uuid::new_v4().simple());
    let body = serde_json::json!({"email": email, "password": password, "name": "S"});
    client
        .post(format!("{base}/api/auth/register"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let tokens: contract::api::TokenResponse = client
        .post(format!("{base}/api/auth/login"))
        .json(&serde_json::json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Break the database under the server: listing posts becomes an internal error.
    sqlx::query("drop table posts")
        .execute(&db.pool)
        .await
        .unwrap();

    let failed = client
        .get(format!("{base}/api/posts?q={email}"))
        .bearer_auth(&tokens.access_token)
        .header("x-request-id", "sentry-test-request-1")
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 500);
    let problem: contract::api::Problem = failed.json().await.unwrap();
    assert!(problem.detail.is_none(), "no cause in the body");

    let deadline = Instant::now() + Duration::from_secs(10);
    let event = loop {
        let found = bodies
            .lock()
            .unwrap()
            .iter()
            .find(|b| b.contains("sentry-test-request-1"))
            .cloned();
        if let Some(event) = found {
            break event;
        }
        assert!(Instant::now() < deadline, "no event reached the collector");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let _ = server.kill();
    let _ = server.wait();
    assert!(event.contains("/api/posts"), "the route is tagged");
    for secret in [
        tokens.access_token.as_str(),
        tokens.refresh_token.as_str(),
        email.as_str(),
        password.as_str(),
    ] {
        assert!(!event.contains(secret), "the event leaks {secret}: {event}");
    }
    assert_eq!(
        bodies
            .lock()
            .unwrap()
            .iter()
            .filter(|b| b.contains("sentry-test-request-1"))
            .count(),
        1
    );
}
