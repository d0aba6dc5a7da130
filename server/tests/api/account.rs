//! Password recovery, email verification, CORS, security headers and error
//! tracking (issue 10), with mail over a real SMTP listener.

use contract::api::{Accepted, Problem, UserProfile};

use crate::helpers::{PASSWORD, TestApp, TestDb, TestSmtp, test_settings, unique_email};

async fn app_with_smtp(db: &TestDb, smtp: &TestSmtp, extra: &[(&str, &str)]) -> TestApp {
    let url = smtp.url();
    let mut vars = vec![("MAIL_TRANSPORT", "smtp"), ("SMTP_URL", url.as_str())];
    vars.extend_from_slice(extra);
    TestApp::spawn_with(db.pool.clone(), test_settings(&vars)).await
}

async fn forgot(app: &TestApp, email: &str) -> reqwest::Response {
    app.post("/api/auth/password/forgot")
        .json(&serde_json::json!({"email": email}))
        .send()
        .await
        .unwrap()
}

async fn reset(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    app.post("/api/auth/password/reset")
        .json(&serde_json::json!({"token": token, "new_password": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgot_password_answers_alike_and_mails_only_known_addresses() {
    let db = TestDb::new().await;
    let smtp = TestSmtp::start().await;
    let app = app_with_smtp(&db, &smtp, &[]).await;
    let known = app.new_user("forgot").await;
    let unknown = unique_email("nobody");

    let a = forgot(&app, &known.email).await;
    let b = forgot(&app, &unknown).await;

    assert_eq!(
        (a.status(), b.status()),
        (reqwest::StatusCode::ACCEPTED, reqwest::StatusCode::ACCEPTED)
    );
    assert_eq!(
        a.json::<Accepted>().await.unwrap(),
        b.json::<Accepted>().await.unwrap()
    );
    let token = smtp.token_for(&known.email, 2).await; // 1: the verification mail at registration
    assert!(token.len() >= 43, "at least 256 bits: {token}");
    // FIFO barrier: the verification mail of an account registered after
    // both requests.
    let later = app.new_user("barrier").await;
    smtp.barrier(&later.email, 1).await;
    assert!(smtp.messages_to(&unknown).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_token_works_once_revokes_every_session_and_sends_a_notice() {
    let db = TestDb::new().await;
    let smtp = TestSmtp::start().await;
    let app = app_with_smtp(&db, &smtp, &[]).await;
    let user = app.new_user("reset").await;
    let phone = app.log_in_as(user.user_id.clone(), &user.email).await;
    forgot(&app, &user.email).await;
    let token = smtp.token_for(&user.email, 2).await;

    assert_eq!(
        reset(&app, &token, "short").await.status(),
        422,
        "policy first"
    );
    assert_eq!(
        reset(&app, &token, "a brand new password").await.status(),
        204,
        "the token survived the 422"
    );

    assert_eq!(app.me_status(user.token()).await, 401);
    assert_eq!(app.me_status(phone.token()).await, 401);
    assert_eq!(app.login(&user.email, PASSWORD).await.status(), 401);
    assert_eq!(
        app.login(&user.email, "a brand new password")
            .await
            .status(),
        200
    );
    let notice = smtp.nth_message(&user.email, 3).await;
    assert!(notice.contains("password of your tenk account was just changed"));

    let again = reset(&app, &token, "another new password").await;
    assert_eq!(again.status(), 400);
    assert_eq!(again.json::<Problem>().await.unwrap().code, "invalid_token");
    assert_eq!(
        reset(&app, "made-up-token", "another new password")
            .await
            .status(),
        400
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_token_expires() {
    let db = TestDb::new().await;
    let smtp = TestSmtp::start().await;
    let app = app_with_smtp(&db, &smtp, &[("PASSWORD_RESET_TTL", "10m")]).await;
    let user = app.new_user("expiry").await;
    forgot(&app, &user.email).await;
    let token = smtp.token_for(&user.email, 2).await;

    // Redis holds the token for PASSWORD_RESET_TTL (10 min, not the 15 min
    // default); the test ends that lifetime instead of sleeping through it.
    let keys = app.state.redis.keys();
    let user_id: uuid::Uuid = user.user_id.parse().unwrap();
    let mut redis = app.state.redis.connection();
    let digest: String = redis::cmd("GET")
        .arg(keys.account_token_current("password_reset", &user_id))
        .query_async(&mut redis)
        .await
        .unwrap();
    let key = keys.account_token("password_reset", &digest);
    let ttl = app.pttl(&key).await;
    assert!(ttl > 540_000 && ttl <= 600_000, "{ttl} ms");
    app.expire_now(&key).await;

    assert_eq!(
        reset(&app, &token, "a brand new password").await.status(),
        400
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verification_token_is_single_use_and_required_logins_wait_for_it() {
    let db = TestDb::new().await;
    let smtp = TestSmtp::start().await;
    let app = app_with_smtp(&db, &smtp, &[("REQUIRE_VERIFIED_EMAIL", "true")]).await;
    let email = unique_email("verify");
    let profile: UserProfile = app.register(&email, PASSWORD).await.json().await.unwrap();
    assert!(!profile.email_verified);

    let refused = app.login(&email, PASSWORD).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(
        refused.json::<Problem>().await.unwrap().code,
        "email_not_verified"
    );
    assert_eq!(
        app.login(&email, "wrong password 1").await.status(),
        401,
        "a wrong password still says nothing"
    );

    let token = smtp.token_for(&email, 1).await;
    let verify = |token: String| {
        app.post("/api/auth/verify-email")
            .json(&serde_json::json!({"token": token}))
            .send()
    };
    assert_eq!(verify(token.clone()).await.unwrap().status(), 204);
    assert_eq!(verify(token).await.unwrap().status(), 400, "single use");

    let tokens: contract::api::TokenResponse =
        app.login(&email, PASSWORD).await.json().await.unwrap();
    let me: UserProfile = app
        .get("/api/users/me")
        .bearer_auth(&tokens.access_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(me.email_verified);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resending_the_verification_is_throttled_and_answers_alike() {
    let db = TestDb::new().await;
    let smtp = TestSmtp::start().await;
    let app = app_with_smtp(&db, &smtp, &[("RATE_LIMIT_OTP_REQUEST", "1/15m")]).await;
    let email = unique_email("resend");
    assert_eq!(app.register(&email, PASSWORD).await.status(), 201);
    let resend = |email: String| {
        app.post("/api/auth/verify-email/resend")
            .json(&serde_json::json!({"email": email}))
            .send()
    };

    assert_eq!(resend(email.clone()).await.unwrap().status(), 202);
    assert_eq!(resend(unique_email("ghost")).await.unwrap().status(), 202);
    smtp.token_for(&email, 2).await;
    let throttled = resend(email.clone()).await.unwrap();
    assert_eq!(throttled.status(), 429);
    assert!(throttled.headers().contains_key("retry-after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_answers_allowed_origins_exactly_and_others_not_at_all() {
    let db = TestDb::new().await;
    let settings = test_settings(&[(
        "CORS_ORIGINS",
        "https://app.example.com,http://localhost:3000",
    )]);
    let app = TestApp::spawn_with(db.pool.clone(), settings).await;

    let allowed = app
        .get("/api/health")
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let other = app
        .get("/api/health")
        .header("origin", "https://evil.example.net")
        .send()
        .await
        .unwrap();
    assert!(!other.headers().contains_key("access-control-allow-origin"));

    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/auth/login"))
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    let methods = preflight.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(methods.contains("POST"), "{methods}");
    assert_eq!(preflight.headers()["access-control-max-age"], "600");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_the_security_headers() {
    let db = TestDb::new().await;
    let app = TestApp::spawn_with(db.pool.clone(), test_settings(&[("HSTS_MAX_AGE", "1h")])).await;
    let user = app.new_user("headers").await;

    let responses = [
        app.get("/api/health").send().await.unwrap(),
        app.get("/nope").send().await.unwrap(),
        app.get("/api/users/me").send().await.unwrap(),
        app.get("/api/users/me")
            .bearer_auth(user.token())
            .send()
            .await
            .unwrap(),
        app.login(&user.email, PASSWORD).await,
    ];
    for response in &responses {
        let headers = response.headers();
        assert_eq!(
            headers["x-content-type-options"],
            "nosniff",
            "{}",
            response.url()
        );
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert!(
            headers["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
        assert_eq!(
            headers["strict-transport-security"],
            "max-age=3600; includeSubDomains"
        );
    }
    for private in &responses[2..] {
        assert_eq!(
            private.headers()["cache-control"],
            "no-store",
            "{}",
            private.url()
        );
    }
    let development = TestApp::spawn(&db).await;
    let plain = development.get("/api/health").send().await.unwrap();
    assert!(
        !plain.headers().contains_key("strict-transport-security"),
        "no HSTS by default in development"
    );
}
