//! Regression tests for the findings of the outside attack (issue 15):
//! addresses the mailer cannot take, the bound on password length, and
//! password-reset throttling and voiding. (The future `iat` is in `tokens`.)

use contract::api::Problem;
use serde_json::json;
use tenk_server::auth::account_tokens::{self, Purpose};

use crate::helpers::{PASSWORD, TestApp, TestDb, TestSmtp, test_settings, unique_email};

async fn app_with_smtp(db: &TestDb, smtp: &TestSmtp) -> TestApp {
    let url = smtp.url();
    let vars = [("MAIL_TRANSPORT", "smtp"), ("SMTP_URL", url.as_str())];
    TestApp::spawn_with(db.pool.clone(), test_settings(&vars)).await
}

async fn post(app: &TestApp, path: &str, body: serde_json::Value) -> reqwest::Response {
    app.post(path).json(&body).send().await.unwrap()
}

async fn problem_field(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let problem: Problem = response.json().await.unwrap();
    let field = problem
        .errors
        .first()
        .map(|e| e.field.clone())
        .unwrap_or_default();
    (status, problem.code, field)
}

/// Finding 1: `n@[127.0.0.1]` registered, then every mailing route answered
/// 500 for it and 202 for an unknown literal: an account oracle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_the_mailer_cannot_take_is_refused_everywhere_alike() {
    let db = TestDb::new().await;
    let smtp = TestSmtp::start().await;
    let app = app_with_smtp(&db, &smtp).await;
    let registered = app.register("n@[127.0.0.1]", PASSWORD).await;
    assert_eq!(
        problem_field(registered).await,
        (422, "validation_failed".into(), "email".into())
    );
    for path in [
        "/api/auth/password/forgot",
        "/api/auth/otp/request",
        "/api/auth/verify-email/resend",
    ] {
        for address in ["n@[127.0.0.1]", "zz@[127.0.0.9]", "n@10.0.0.1"] {
            let answer = post(&app, path, json!({"email": address})).await;
            assert_eq!(
                problem_field(answer).await,
                (422, "validation_failed".into(), "email".into()),
                "{path} {address}"
            );
        }
    }
}

/// A mail that cannot be queued never changes the reply: an account whose
/// stored address predates the mailer's parser still gets its 204.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_that_cannot_be_sent_never_changes_the_reply() {
    let db = TestDb::new().await;
    let smtp = TestSmtp::start().await;
    let app = app_with_smtp(&db, &smtp).await;
    let user = app.new_user("legacy").await;
    let legacy_address = format!("legacy-{}@[127.0.0.1]", uuid::Uuid::new_v4().simple());
    sqlx::query("update users set email = $2 where user_id = $1::uuid")
        .bind(&user.user_id)
        .bind(&legacy_address)
        .execute(&db.pool)
        .await
        .unwrap();
    let token = account_tokens::issue(
        &app.state.redis,
        Purpose::PasswordReset,
        user.user_id.parse().unwrap(),
        std::time::Duration::from_secs(60),
    )
    .await
    .unwrap();
    let reset = post(
        &app,
        "/api/auth/password/reset",
        json!({"token": token, "new_password": "a brand new password"}),
    )
    .await;
    assert_eq!(reset.status(), 204, "the notice could not be mailed");
}

/// Finding 6: login hashed passwords of any accepted length. Over the bound
/// is a 422 before the account is even looked up: an unknown address gets
/// the same 422, where hashing against the dummy would have been a 401.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_over_the_bound_are_refused_before_any_hashing() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let user = app.new_user("bound").await;
    let huge = "x".repeat(900 * 1024);
    let just_over = "x".repeat(1025);
    for password in [&huge, &just_over] {
        for email in [user.email.clone(), unique_email("nobody")] {
            assert_eq!(
                problem_field(app.login(&email, password).await).await,
                (422, "validation_failed".into(), "password".into()),
            );
        }
    }
    assert_eq!(
        problem_field(app.register(&unique_email("new"), &just_over).await).await,
        (422, "validation_failed".into(), "password".into()),
    );
    let change = app
        .post("/api/users/me/password")
        .bearer_auth(user.token())
        .json(&json!({"current_password": just_over, "new_password": "another fine password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem_field(change).await,
        (422, "validation_failed".into(), "current_password".into()),
    );
    assert_eq!(
        app.login(&user.email, &"x".repeat(1024)).await.status(),
        401
    );
    assert_eq!(app.me_status(user.token()).await, 200);
}

/// Finding 5: six `forgot` calls in a second sent five mails. Now one per
/// `OTP_RESEND_INTERVAL`, with the same 429 for unknown addresses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_requests_are_throttled_per_address_like_code_requests() {
    let db = TestDb::new().await;
    let smtp = TestSmtp::start().await;
    let app = app_with_smtp(&db, &smtp).await;
    let user = app.new_user("throttle").await;
    let unknown = unique_email("nobody");
    for email in [&user.email, &unknown] {
        let first = post(&app, "/api/auth/password/forgot", json!({"email": email})).await;
        assert_eq!(first.status(), 202);
        for _ in 0..5 {
            let again = post(&app, "/api/auth/password/forgot", json!({"email": email})).await;
            assert_eq!(again.status(), 429);
            assert!(again.headers().contains_key("retry-after"));
            assert_eq!(again.json::<Problem>().await.unwrap().code, "rate_limited");
        }
    }
    smtp.token_for(&user.email, 2).await; // 1: the verification mail
    // FIFO barrier: the verification mail of an account registered after
    // every request above.
    let later = app.new_user("barrier").await;
    smtp.barrier(&later.email, 1).await;
    assert_eq!(smtp.messages_to(&user.email).len(), 2, "one reset mail");
}

/// Finding 5: a new reset token voids the earlier ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_reset_token_voids_the_earlier_ones() {
    let db = TestDb::new().await;
    let smtp = TestSmtp::start().await;
    let app = app_with_smtp(&db, &smtp).await;
    let user = app.new_user("voided").await;
    let forgot = post(
        &app,
        "/api/auth/password/forgot",
        json!({"email": user.email}),
    )
    .await;
    assert_eq!(forgot.status(), 202);
    let mailed = smtp.token_for(&user.email, 2).await;
    // A second request once the interval has passed, issued directly so the
    // test does not wait the interval out.
    let newer = account_tokens::issue(
        &app.state.redis,
        Purpose::PasswordReset,
        user.user_id.parse().unwrap(),
        std::time::Duration::from_secs(60),
    )
    .await
    .unwrap();
    let reset = |token: String| {
        post(
            &app,
            "/api/auth/password/reset",
            json!({"token": token, "new_password": "a brand new password"}),
        )
    };
    let old = reset(mailed).await;
    assert_eq!(old.status(), 400);
    assert_eq!(old.json::<Problem>().await.unwrap().code, "invalid_token");
    assert_eq!(reset(newer).await.status(), 204);
}

/// Found in review: the password change checked the current password at the
/// API tier (1,000 a minute per user) with no per-account throttle, so an
/// access token bought thousands of guesses at the password. Now the same
/// per-account throttle as the login form: after its free failures, 429
/// with `Retry-After`, even for the right password, and login sees the
/// same record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_the_current_password_is_throttled_like_a_login() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let user = app.new_user("guess").await;
    let change = |current: String| {
        app.post("/api/users/me/password")
            .bearer_auth(user.token())
            .json(&json!({"current_password": current, "new_password": "another fine password"}))
            .send()
    };
    let mut statuses = Vec::new();
    for attempt in 0..8 {
        let response = change(format!("wrong guess {attempt}")).await.unwrap();
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            assert!(response.headers().contains_key("retry-after"));
            break;
        }
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert!(
        statuses[..statuses.len() - 1].iter().all(|s| *s == 422),
        "{statuses:?}"
    );
    // Throttled for the account, whatever the password and the route.
    assert_eq!(change(PASSWORD.to_string()).await.unwrap().status(), 429);
    assert_eq!(app.login(&user.email, PASSWORD).await.status(), 429);
}
