//! Section A of SECURITY.md: password auth and enumeration.

use contract::api::{Problem, UserProfile};

use crate::helpers::{PASSWORD, TestApp, TestDb, captured_logs, test_settings, unique_email};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_returns_the_public_profile_and_never_the_hash() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let email = unique_email("Reg");

    let response = app.register(&email, PASSWORD).await;

    assert_eq!(response.status(), 201);
    let text = response.text().await.unwrap();
    assert!(
        !text.contains("argon2") && !text.contains("password"),
        "{text}"
    );
    let profile: UserProfile = serde_json::from_str(&text).unwrap();
    assert_eq!(profile.email, email);
    assert_eq!(profile.role, "user");
    let stored: String =
        sqlx::query_scalar("select password_hash from users where user_id = $1::uuid")
            .bind(&profile.id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "hash format: {stored}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registering_a_taken_email_in_any_case_is_409_with_no_extra_row() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let email = unique_email("dup");
    assert_eq!(app.register(&email, PASSWORD).await.status(), 201);

    let response = app
        .register(&email.to_uppercase(), "another password 1")
        .await;

    assert_eq!(response.status(), 409);
    let problem: Problem = response.json().await.unwrap();
    assert_eq!(problem.code, "email_taken");
    let rows: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(rows, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_email_wrong_password_and_disabled_account_are_indistinguishable() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let known = app.new_user("known").await;
    let disabled = app.new_user("disabled").await;
    sqlx::query("update users set status = 'disabled' where user_id = $1::uuid")
        .bind(&disabled.user_id)
        .execute(&db.pool)
        .await
        .unwrap();

    let cases = [
        (unique_email("nobody"), PASSWORD.to_string()),
        (known.email.clone(), "wrong password here".to_string()),
        (disabled.email.clone(), PASSWORD.to_string()),
    ];
    let mut bodies = Vec::new();
    for (email, password) in &cases {
        // The unknown email is checked against a dummy hash, so every case
        // costs exactly one hash verification: no quick exit to time
        // (timing itself is measured in benches/enumeration_timing.sh).
        let before = app.state.hasher.verifications();
        let response = app.login(email, password).await;
        assert_eq!(app.state.hasher.verifications() - before, 1, "{email}");
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let mut problem: Problem = response.json().await.unwrap();
        problem.request_id.clear();
        bodies.push(problem);
    }
    assert!(
        bodies.windows(2).all(|pair| pair[0] == pair[1]),
        "{bodies:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_policy_is_enforced_and_passwords_are_verified_exactly() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;

    for (password, why) in [
        ("short", "too short"),
        ("password123", "common"),
        (&"x".repeat(1025) as &str, "too long"),
    ] {
        let response = app.register(&unique_email("policy"), password).await;
        assert_eq!(response.status(), 422, "{why}");
        let problem: Problem = response.json().await.unwrap();
        assert_eq!(problem.errors[0].field, "password", "{why}");
    }

    for password in [
        " spaced password ",
        "nul\0inside-it",
        "pässwörd-ünïcode",
        &"😀".repeat(64),
    ] {
        let email = unique_email("exact");
        assert_eq!(
            app.register(&email, password).await.status(),
            201,
            "{password:?}"
        );
        assert_eq!(
            app.login(&email, password).await.status(),
            200,
            "{password:?}"
        );
        let trimmed = password.trim();
        if trimmed != password {
            assert_eq!(
                app.login(&email, trimmed).await.status(),
                401,
                "no trimming"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_bcrypt_passwords_sharing_72_bytes_never_verify_against_each_other() {
    let db = TestDb::new().await;
    let settings = test_settings(&[("PASSWORD_HASH", "bcrypt"), ("BCRYPT_ROUNDS", "10")]);
    let app = TestApp::spawn_with(db.pool.clone(), settings).await;
    let prefix = "p".repeat(72);
    let email = unique_email("bcrypt");
    assert_eq!(app.register(&email, &prefix).await.status(), 201);
    let stored: String = sqlx::query_scalar("select password_hash from users")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(stored.starts_with("$2b$10$"), "{stored}");

    assert_eq!(
        app.login(&email, &format!("{prefix}extra")).await.status(),
        401
    );
    let response = app
        .register(&unique_email("long"), &format!("{prefix}extra"))
        .await;
    assert_eq!(
        response.status(),
        422,
        "bcrypt mode refuses what it would truncate"
    );
    assert_eq!(app.login(&email, &prefix).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_bcryptjs_hashes_log_in_and_are_upgraded_to_argon2id() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let email = unique_email("imported");
    let node_hash = bcrypt::hash_with_result(PASSWORD, 10)
        .unwrap()
        .format_for_version(bcrypt::Version::TwoA);
    sqlx::query("insert into users (user_id, email, name, password_hash) values (gen_random_uuid(), $1, 'Imported', $2)")
        .bind(&email)
        .bind(&node_hash)
        .execute(&db.pool)
        .await
        .unwrap();

    assert_eq!(app.login(&email, PASSWORD).await.status(), 200);

    let stored: String = sqlx::query_scalar("select password_hash from users")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(
        stored.starts_with("$argon2id$"),
        "upgraded at login: {stored}"
    );
    assert_eq!(app.login(&email, PASSWORD).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_login_opens_a_new_session_with_a_long_random_id() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let first = app.new_user("fixation").await;
    let second = app.log_in_as(first.user_id.clone(), &first.email).await;

    assert_ne!(first.sid(), second.sid());
    // 24 random bytes, base64url: 192 bits.
    assert_eq!(first.sid().len(), 32);
    assert_ne!(first.tokens.refresh_token, second.tokens.refresh_token);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_response_body_or_log_line_carries_a_password_hash_token_or_password() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let password = format!("unique-secret-{}", uuid::Uuid::new_v4().simple());
    let email = unique_email("leak");
    assert_eq!(app.register(&email, &password).await.status(), 201);
    let tokens: contract::api::TokenResponse =
        app.login(&email, &password).await.json().await.unwrap();
    let me = app
        .get("/api/users/me")
        .bearer_auth(&tokens.access_token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let sessions = app
        .get("/api/auth/sessions")
        .bearer_auth(&tokens.access_token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    app.login(&email, "wrong password!!").await;

    for body in [&me, &sessions] {
        assert!(
            !body.contains("$argon2")
                && !body.contains(&tokens.refresh_token)
                && !body.contains(&tokens.access_token),
            "{body}"
        );
    }
    let logs = captured_logs();
    let local_part = email.split('@').next().unwrap();
    for secret in [
        password.as_str(),
        tokens.access_token.as_str(),
        tokens.refresh_token.as_str(),
        "$argon2id",
        local_part,
    ] {
        assert!(!logs.contains(secret), "log leaks {secret}");
    }
    assert!(!logs.contains("eyJ"), "no JWT in the logs");
}
