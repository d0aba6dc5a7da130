use contract::api::Problem;

use crate::helpers::{TestApp, TestDb, captured_logs};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_wrong_methods_answer_problems_with_the_request_id() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;

    let response = app
        .get("/api/nope")
        .header("x-request-id", "req-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(response.headers()["x-request-id"], "req-123");
    let problem: Problem = response.json().await.unwrap();
    assert_eq!(problem.status, 404);
    assert_eq!(problem.code, "not_found");
    assert_eq!(problem.request_id, "req-123");

    let response = app.post("/api/health").send().await.unwrap();
    assert_eq!(response.status(), 405);
    let problem: Problem = response.json().await.unwrap();
    assert_eq!(problem.code, "method_not_allowed");
    assert!(!problem.request_id.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsafe_request_ids_are_replaced_and_absent_ones_generated() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;

    let forged = "x\"}\n{\"level\":\"error\"";
    let response = app
        .get("/api/health")
        .header("x-request-id", "a b")
        .send()
        .await
        .unwrap();
    let echoed = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_ne!(echoed, "a b");
    assert_eq!(uuid::Uuid::parse_str(&echoed).unwrap().get_version_num(), 4);

    let too_long = "a".repeat(65);
    let response = app
        .get("/api/health")
        .header("x-request-id", &too_long)
        .send()
        .await
        .unwrap();
    assert_ne!(response.headers()["x-request-id"], too_long.as_str());
    assert!(
        reqwest::header::HeaderValue::from_str(forged).is_err(),
        "reqwest itself refuses a newline"
    );

    let response = app.get("/api/health").send().await.unwrap();
    assert!(response.headers().contains_key("x-request-id"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_writes_one_access_line_with_the_route_template_not_the_raw_path() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let secret_path = format!("/api/health/{}", uuid::Uuid::new_v4());
    let request_id = format!("access-{}", uuid::Uuid::new_v4().simple());

    app.get("/api/health")
        .header("x-request-id", &request_id)
        .send()
        .await
        .unwrap();
    app.get(&secret_path)
        .header("x-request-id", &request_id)
        .send()
        .await
        .unwrap();

    let logs = captured_logs();
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .filter(|line| line.contains(&request_id))
        .map(|line| serde_json::from_str(line).unwrap())
        .filter(|line: &serde_json::Value| line["target"] == "access")
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["route"], "/api/health");
    assert_eq!(lines[0]["method"], "GET");
    assert_eq!(lines[0]["status"], 200);
    assert!(lines[0]["latency_ms"].as_f64().is_some());
    assert_eq!(lines[1]["route"], "unmatched");
    assert_eq!(lines[1]["status"], 404);
    assert!(!logs.contains(&secret_path), "the raw path is never logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_get_400_413_415_and_422_naming_the_field() {
    let db = TestDb::new().await;
    let settings = crate::helpers::test_settings(&[("REQUEST_BODY_LIMIT", "2kb")]);
    let app = TestApp::spawn_with(db.pool.clone(), settings).await;
    let register = || {
        app.post("/api/auth/register")
            .header("content-type", "application/json")
    };

    let malformed = register().body("{\"email\": ").send().await.unwrap();
    assert_eq!(malformed.status(), 400);
    assert_eq!(
        malformed.json::<Problem>().await.unwrap().code,
        "malformed_json"
    );

    let huge = register()
        .body(format!("{{\"email\":\"{}\"}}", "a".repeat(4096)))
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 413);
    assert_eq!(huge.headers()["content-type"], "application/problem+json");

    let wrong_type = register()
        .body(r#"{"email":"a@example.com","password":"long enough pw","name":5}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), 422);
    let problem: Problem = wrong_type.json().await.unwrap();
    assert_eq!(problem.errors[0].field, "name");

    let missing = register()
        .body(r#"{"email":"a@example.com","name":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        missing.json::<Problem>().await.unwrap().errors[0].field,
        "password"
    );

    let invalid_email = register()
        .body(r#"{"email":"nope","password":"long enough pw","name":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(invalid_email.status(), 422);
    assert_eq!(
        invalid_email.json::<Problem>().await.unwrap().errors[0].field,
        "email"
    );

    let no_type = app
        .post("/api/auth/register")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(no_type.status(), 415);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_request_timeout_gets_503_not_a_hang() {
    let db = TestDb::new().await;
    let app = TestApp::spawn_with(
        db.pool.clone(),
        crate::helpers::test_settings(&[("REQUEST_TIMEOUT", "500ms")]),
    )
    .await;
    let address = app.address.trim_start_matches("http://").to_string();
    let started = std::time::Instant::now();

    // A body that never finishes arriving keeps the handler waiting.
    let response = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        write!(stream, "POST /api/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{{").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    })
    .await
    .unwrap();

    assert!(response.starts_with("HTTP/1.1 503"), "{response}");
    assert!(response.contains("\"code\":\"timeout\""), "{response}");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_query_string_gets_a_422_problem_naming_the_parameter() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let admin = app.new_admin().await;

    let response = app
        .get("/api/admin/sessions?user_id=not-a-uuid")
        .bearer_auth(admin.token())
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 422);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Problem = response.json().await.unwrap();
    assert_eq!(problem.errors[0].field, "user_id", "{problem:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_bytes_odd_cursors_and_undecodable_paths_get_4xx_problems_not_500() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let user = app.new_user("hostile").await;

    let nul_title = app
        .post("/api/posts")
        .bearer_auth(user.token())
        .json(&serde_json::json!({"title": "a\u{0}b", "body": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(nul_title.status(), 422);
    let nul_search = app
        .get("/api/posts?q=%00")
        .bearer_auth(user.token())
        .send()
        .await
        .unwrap();
    assert_eq!(nul_search.status(), 422);

    let ancient = format!("-300000000000000000000_{}", uuid::Uuid::new_v4().simple());
    let cursor = app
        .get(&format!("/api/posts?cursor={ancient}"))
        .bearer_auth(user.token())
        .send()
        .await
        .unwrap();
    assert_eq!(cursor.status(), 422);

    let undecodable = app
        .get("/api/posts/%FF")
        .bearer_auth(user.token())
        .send()
        .await
        .unwrap();
    assert_eq!(undecodable.status(), 404);
    assert_eq!(
        undecodable.headers()["content-type"],
        "application/problem+json"
    );
}
