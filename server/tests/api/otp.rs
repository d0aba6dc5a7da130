//! Section B of SECURITY.md: one-time-code login, with mail over real SMTP.

use std::time::{Duration, Instant};

use contract::api::{OtpRequested, Problem, TokenResponse};
use futures_util::future::join_all;

use tenk_server::auth::otp::address_key;

use crate::helpers::{
    PASSWORD, TestApp, TestDb, TestSmtp, captured_logs, test_settings, unique_email,
};

async fn app_with_smtp(db: &TestDb, smtp: &TestSmtp, extra: &[(&str, &str)]) -> TestApp {
    let url = smtp.url();
    let mut vars = vec![
        ("MAIL_TRANSPORT", "smtp"),
        ("SMTP_URL", url.as_str()),
        ("OTP_RESEND_INTERVAL", "1s"),
    ];
    vars.extend_from_slice(extra);
    TestApp::spawn_with(db.pool.clone(), test_settings(&vars)).await
}

async fn request(app: &TestApp, email: &str) -> reqwest::Response {
    app.post("/api/auth/otp/request")
        .json(&serde_json::json!({"email": email}))
        .send()
        .await
        .unwrap()
}

async fn verify(app: &TestApp, email: &str, code: &str) -> reqwest::Response {
    app.post("/api/auth/otp/verify")
        .json(&serde_json::json!({"email": email, "code": code}))
        .send()
        .await
        .unwrap()
}

/// A code that is not `code` (same length).
fn other_than(code: &str) -> String {
    let last = code.as_bytes()[code.len() - 1];
    format!(
        "{}{}",
        &code[..code.len() - 1],
        if last == b'9' {
            '0'
        } else {
            char::from(last + 1)
        }
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailed_code_opens_a_session_once() {
    let db = TestDb::new().await;
    let smtp = TestSmtp::start().await;
    let app = app_with_smtp(&db, &smtp, &[]).await;
    let email = unique_email("otp");
    assert_eq!(app.register(&email, PASSWORD).await.status(), 201);

    let requested = request(&app, &email).await;
    assert_eq!(requested.status(), 202);
    let code = smtp.code_for(&email, 1).await;
    assert_eq!(code.len(), 6);
    let messages = smtp.messages_to(&email);
    let message = messages.iter().find(|m| m.contains("code is ")).unwrap();
    assert!(
        message.contains("text/plain") && message.contains("text/html"),
        "plain text and HTML"
    );
    assert!(message.contains("5 minutes") && message.contains("did not ask for this code"));

    let verified = verify(&app, &email, &code).await;
    assert_eq!(verified.status(), 200);
    let tokens: TokenResponse = verified.json().await.unwrap();
    assert_eq!(app.me_status(&tokens.access_token).await, 200);
    assert_eq!(
        verify(&app, &email, &code).await.status(),
        401,
        "a used code is dead"
    );
    let metrics = app.metrics().await;
    assert!(metrics.contains(r#"tenk_auth_attempts_total{method="otp",result="success"} 1"#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_and_unknown_addresses_get_the_same_answer_and_only_known_ones_mail() {
    let db = TestDb::new().await;
    let smtp = TestSmtp::start().await;
    // A resend interval no test outlasts: the 429s below cannot turn into 202s.
    let app = app_with_smtp(&db, &smtp, &[("OTP_RESEND_INTERVAL", "10m")]).await;
    let mut known = Vec::new();
    for _ in 0..3 {
        let email = unique_email("known");
        assert_eq!(app.register(&email, PASSWORD).await.status(), 201);
        known.push(email);
    }
    let unknown: Vec<String> = (0..3).map(|_| unique_email("unknown")).collect();

    let mut answers = Vec::new();
    for email in known.iter().chain(&unknown) {
        let response = request(&app, email).await;
        assert_eq!(response.status(), 202);
        answers.push(response.json::<OtpRequested>().await.unwrap());
    }

    assert!(
        answers.windows(2).all(|pair| pair[0] == pair[1]),
        "{answers:?}"
    );
    // Both paths do the same work, so take comparable time: a code is
    // stored, for the same lifetime, whether or not the address has an
    // account (timing itself is measured in benches/enumeration_timing.sh).
    let keys = app.state.redis.keys();
    for email in known.iter().chain(&unknown) {
        let ttl = app.pttl(&keys.otp(&address_key(email))).await;
        assert!(ttl > 240_000 && ttl <= 300_000, "{email}: {ttl} ms");
    }
    // FIFO barrier: the verification mail of an account registered after
    // every request above.
    let barrier = unique_email("barrier");
    assert_eq!(app.register(&barrier, PASSWORD).await.status(), 201);
    smtp.barrier(&barrier, 1).await;
    for email in &known {
        let codes = smtp.messages_to(email);
        let codes = codes.iter().filter(|m| m.contains("code is ")).count();
        assert_eq!(codes, 1, "one code to {email}");
    }
    for email in &unknown {
        assert!(smtp.messages_to(email).is_empty(), "no mail to {email}");
    }
    // Resend throttling answers alike too.
    for email in [&known[0], &unknown[0]] {
        let again = request(&app, email).await;
        assert_eq!(again.status(), 429);
        assert_eq!(again.headers()["retry-after"], "600");
    }
}

/// Ends the resend interval of `email` for one-time codes, as its expiry would.
async fn resend_interval_passes(app: &TestApp, email: &str) {
    let key = app
        .state
        .redis
        .keys()
        .mail_resend("otp", &address_key(email));
    app.expire_now(&key).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_codes_kill_the_code_even_for_the_right_one() {
    let db = TestDb::new().await;
    let smtp = TestSmtp::start().await;
    let app = app_with_smtp(&db, &smtp, &[]).await;
    let email = unique_email("brute");
    assert_eq!(app.register(&email, PASSWORD).await.status(), 201);
    request(&app, &email).await;
    let code = smtp.code_for(&email, 1).await;

    for _ in 0..5 {
        assert_eq!(verify(&app, &email, &other_than(&code)).await.status(), 401);
    }
    assert_eq!(
        verify(&app, &email, &code).await.status(),
        401,
        "dead after five wrong tries"
    );

    assert_eq!(request(&app, &email).await.status(), 429, "resend interval");
    resend_interval_passes(&app, &email).await;
    assert_eq!(request(&app, &email).await.status(), 202);
    let fresh = smtp.code_for(&email, 2).await;
    assert_eq!(
        verify(&app, &email, &fresh).await.status(),
        200,
        "a new code works"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guesses_from_many_ips_all_count_against_the_one_code() {
    let db = TestDb::new().await;
    let smtp = TestSmtp::start().await;
    let app = app_with_smtp(&db, &smtp, &[("TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    let email = unique_email("spread");
    assert_eq!(app.register(&email, PASSWORD).await.status(), 201);
    request(&app, &email).await;
    let code = smtp.code_for(&email, 1).await;

    for n in 0..5 {
        let status = app
            .post("/api/auth/otp/verify")
            .header("x-forwarded-for", format!("198.51.100.{n}"))
            .json(&serde_json::json!({"email": email, "code": other_than(&code)}))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 401);
    }
    assert_eq!(verify(&app, &email, &code).await.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_parallel_correct_submissions_open_exactly_one_session() {
    let db = TestDb::new().await;
    let smtp = TestSmtp::start().await;
    let app = app_with_smtp(&db, &smtp, &[]).await;
    let email = unique_email("race");
    assert_eq!(app.register(&email, PASSWORD).await.status(), 201);
    request(&app, &email).await;
    let code = smtp.code_for(&email, 1).await;

    // Five at once: every one spends an attempt, and the code allows five.
    let responses = join_all((0..5).map(|_| verify(&app, &email, &code))).await;

    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        4,
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_lives_for_otp_ttl_in_redis_and_not_after() {
    let db = TestDb::new().await;
    let smtp = TestSmtp::start().await;
    let app = app_with_smtp(&db, &smtp, &[("OTP_TTL", "3m")]).await;
    let email = unique_email("ttl");
    assert_eq!(app.register(&email, PASSWORD).await.status(), 201);
    let key = app.state.redis.keys().otp(&address_key(&email));

    request(&app, &email).await;
    let first = smtp.code_for(&email, 1).await;
    // Redis holds the code for OTP_TTL (3 min; not the 5 min default).
    let ttl = app.pttl(&key).await;
    assert!(ttl > 120_000 && ttl <= 180_000, "{ttl} ms");
    assert_eq!(verify(&app, &email, &first).await.status(), 200);

    resend_interval_passes(&app, &email).await;
    request(&app, &email).await;
    let second = smtp.code_for(&email, 2).await;
    app.expire_now(&key).await;
    assert_eq!(verify(&app, &email, &second).await.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_code_replaces_the_old_and_a_code_for_a_is_useless_for_b() {
    let db = TestDb::new().await;
    let smtp = TestSmtp::start().await;
    let app = app_with_smtp(&db, &smtp, &[]).await;
    let alice = unique_email("alice");
    let bob = unique_email("bob");
    for email in [&alice, &bob] {
        assert_eq!(app.register(email, PASSWORD).await.status(), 201);
        request(&app, email).await;
    }
    let alice_code = smtp.code_for(&alice, 1).await;
    let bob_code = smtp.code_for(&bob, 1).await;

    if alice_code != bob_code {
        assert_eq!(verify(&app, &bob, &alice_code).await.status(), 401);
    }

    resend_interval_passes(&app, &alice).await;
    request(&app, &alice).await;
    let newer = smtp.code_for(&alice, 2).await;
    if newer != alice_code {
        assert_eq!(
            verify(&app, &alice, &alice_code).await.status(),
            401,
            "replaced"
        );
    }
    assert_eq!(verify(&app, &alice, &newer).await.status(), 200);
    assert_eq!(verify(&app, &bob, &bob_code).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_smtp_down_the_request_still_answers_202_and_the_failure_is_counted() {
    let db = TestDb::new().await;
    let settings = test_settings(&[
        ("MAIL_TRANSPORT", "smtp"),
        ("SMTP_URL", "smtp://127.0.0.1:1"),
        ("MAIL_RETRIES", "1"),
        ("MAIL_TIMEOUT", "1s"),
    ]);
    let app = TestApp::spawn_with(db.pool.clone(), settings).await;
    let email = unique_email("nosmtp");
    assert_eq!(app.register(&email, PASSWORD).await.status(), 201);

    assert_eq!(request(&app, &email).await.status(), 202);

    // Two failures: the verification mail at registration, then the code.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = app.metrics().await;
        if metrics.contains("tenk_mail_send_failures_total 2") {
            break;
        }
        assert!(Instant::now() < deadline, "the failure was never counted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_answers_while_the_mail_server_has_not_even_said_hello() {
    let db = TestDb::new().await;
    // Connections land in the kernel's backlog, but no greeting ever comes:
    // a send waits out MAIL_TIMEOUT (5 min, past the client's 30 s).
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("smtp://{}", silent.local_addr().unwrap());
    let settings = test_settings(&[
        ("MAIL_TRANSPORT", "smtp"),
        ("SMTP_URL", &url),
        ("MAIL_TIMEOUT", "5m"),
        // An unknown address gets a code: its mail is the only one queued.
        ("OTP_AUTO_SIGNUP", "true"),
    ]);
    let app = TestApp::spawn_with(db.pool.clone(), settings).await;

    assert_eq!(request(&app, &unique_email("hello")).await.status(), 202);

    // The mail is on its way (the worker connected) and cannot have been
    // sent: sending is off the request path.
    let (held, _) = tokio::time::timeout(Duration::from_secs(10), silent.accept())
        .await
        .expect("the worker connects")
        .unwrap();
    let metrics = app.metrics().await;
    assert!(metrics.contains("tenk_mail_send_failures_total 0"));
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_are_stored_only_as_keyed_hashes_and_never_logged() {
    let db = TestDb::new().await;
    let smtp = TestSmtp::start().await;
    let app = app_with_smtp(&db, &smtp, &[]).await;
    let email = unique_email("secret");
    assert_eq!(app.register(&email, PASSWORD).await.status(), 201);
    request(&app, &email).await;
    let code = smtp.code_for(&email, 1).await;
    verify(&app, &email, &other_than(&code)).await;

    let mut redis = app.state.redis.connection();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*", app.state.redis.keys().prefix()))
        .query_async(&mut redis)
        .await
        .unwrap();
    for key in &keys {
        assert!(!key.contains(&email), "no address in key {key}");
        let kind: String = redis::cmd("TYPE")
            .arg(key)
            .query_async(&mut redis)
            .await
            .unwrap();
        if kind == "hash" {
            let values: Vec<String> = redis::cmd("HVALS")
                .arg(key)
                .query_async(&mut redis)
                .await
                .unwrap();
            assert!(
                values.iter().all(|v| !v.contains(&code)),
                "{key}: {values:?}"
            );
        }
    }
    let wrong = verify(&app, &email, &other_than(&code)).await;
    let body: Problem = wrong.json().await.unwrap();
    assert!(!format!("{body:?}").contains(&code));
    assert_eq!(verify(&app, &email, &code).await.status(), 200);
    let logs = captured_logs();
    assert!(!logs.contains(&format!("code is {code}")) && !logs.contains(&format!("\"{code}\"")));
    let metrics = app.metrics().await;
    assert!(!metrics.contains(&code));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_auto_signup_a_code_creates_the_account_and_without_it_nothing_is_sent() {
    let db = TestDb::new().await;
    let smtp = TestSmtp::start().await;
    let app = app_with_smtp(&db, &smtp, &[("OTP_AUTO_SIGNUP", "true")]).await;
    let email = unique_email("newcomer");

    assert_eq!(request(&app, &email).await.status(), 202);
    let code = smtp.code_for(&email, 1).await;
    let response = verify(&app, &email, &code).await;
    assert_eq!(response.status(), 200);
    let rows: i64 = sqlx::query_scalar("select count(*) from users where email = $1")
        .bind(&email)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(rows, 1);
    // The account has no password: no password logs in.
    assert_eq!(app.login(&email, "!otp-only").await.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_codes_and_addresses_are_422() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    assert_eq!(verify(&app, "a@example.com", "12ab56").await.status(), 422);
    assert_eq!(verify(&app, "a@example.com", "1234567").await.status(), 422);
    assert_eq!(request(&app, "not-an-address").await.status(), 422);
}
