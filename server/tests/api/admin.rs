//! The admin API: role checks, revocation, disable, lists and the audit log.

use contract::api::{AuditPage, Problem, RevokeSessionsResponse, SessionSummary, UserPage};

use crate::helpers::{TestApp, TestDb, captured_logs};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_admin_gets_403_on_every_admin_route_and_the_attempt_is_logged() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let user = app.new_user("mallory").await;
    let target = app.new_user("target").await;
    let routes = [
        (
            "GET",
            "/api/admin/sessions?user_id=".to_string() + &target.user_id,
        ),
        ("DELETE", format!("/api/admin/sessions/{}", target.sid())),
        (
            "DELETE",
            format!("/api/admin/users/{}/sessions", target.user_id),
        ),
        (
            "POST",
            format!("/api/admin/users/{}/disable", target.user_id),
        ),
        (
            "POST",
            format!("/api/admin/users/{}/enable", target.user_id),
        ),
        ("GET", "/api/admin/users".to_string()),
        ("GET", "/api/admin/audit".to_string()),
    ];
    for (method, path) in &routes {
        let request = app
            .client
            .request(method.parse().unwrap(), app.url(path))
            .bearer_auth(user.token());
        assert_eq!(
            request.send().await.unwrap().status(),
            403,
            "{method} {path}"
        );
        let anonymous = app.client.request(method.parse().unwrap(), app.url(path));
        assert_eq!(
            anonymous.send().await.unwrap().status(),
            401,
            "{method} {path}"
        );
    }
    assert_eq!(app.me_status(target.token()).await, 200, "no effect");
    let refusals = captured_logs()
        .lines()
        .filter(|line| line.contains("admin route refused") && line.contains(&user.user_id))
        .count();
    assert_eq!(refusals, routes.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_finds_and_revokes_sessions_and_each_action_is_audited() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let admin = app.new_admin().await;
    let victim = app.new_user("victim").await;
    let victim_phone = app.log_in_as(victim.user_id.clone(), &victim.email).await;
    let bystander = app.new_user("bystander").await;

    let found: Vec<SessionSummary> = app
        .get(&format!(
            "/api/admin/sessions?email={}",
            victim.email.to_uppercase()
        ))
        .bearer_auth(admin.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(found.len(), 2);
    assert!(found.iter().all(|s| s.user_id == victim.user_id));

    let one = app
        .delete(&format!("/api/admin/sessions/{}", victim.sid()))
        .bearer_auth(admin.token())
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), 204);
    assert_eq!(app.me_status(victim.token()).await, 401);
    assert_eq!(app.me_status(victim_phone.token()).await, 200);
    let again = app
        .delete(&format!("/api/admin/sessions/{}", victim.sid()))
        .bearer_auth(admin.token())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);

    let all = app
        .delete(&format!("/api/admin/users/{}/sessions", victim.user_id))
        .bearer_auth(admin.token())
        .send()
        .await
        .unwrap();
    assert_eq!(
        all.json::<RevokeSessionsResponse>().await.unwrap().revoked,
        1
    );
    assert_eq!(app.me_status(victim_phone.token()).await, 401);
    assert_eq!(
        app.me_status(bystander.token()).await,
        200,
        "other users unaffected"
    );

    let mut audit: AuditPage = app
        .get("/api/admin/audit")
        .bearer_auth(admin.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Rows of the console (`create-admin`, actor nil) aside.
    let console = uuid::Uuid::nil().to_string();
    audit.items.retain(|e| e.actor_id != console);
    let actions: Vec<&str> = audit.items.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        vec!["user.sessions.revoke", "session.revoke", "sessions.search"]
    );
    assert!(
        audit.items.iter().all(|e| e.actor_id == admin.user_id
            && e.ip == "127.0.0.1"
            && !e.request_id.is_empty())
    );
    assert_eq!(audit.items[1].target, format!("session:{}", victim.sid()));
    // Emails beside the ids: every actor's, and the target user's.
    assert!(
        audit
            .items
            .iter()
            .all(|e| e.actor_email.as_deref() == Some(admin.email.as_str())),
        "{:?}",
        audit.items
    );
    assert_eq!(audit.items[0].target, format!("user:{}", victim.user_id));
    assert_eq!(
        audit.items[0].target_email.as_deref(),
        Some(victim.email.as_str())
    );
    assert_eq!(
        audit.items[1].target_email, None,
        "a session target names no user"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_an_account_revokes_every_session_and_blocks_login_until_enabled() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let admin = app.new_admin().await;
    let user = app.new_user("disable").await;

    let disabled = app
        .post(&format!("/api/admin/users/{}/disable", user.user_id))
        .bearer_auth(admin.token())
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status(), 200);
    assert_eq!(app.me_status(user.token()).await, 401);
    assert_eq!(app.login(&user.email, &user.password).await.status(), 401);

    let enabled = app
        .post(&format!("/api/admin/users/{}/enable", user.user_id))
        .bearer_auth(admin.token())
        .send()
        .await
        .unwrap();
    assert_eq!(enabled.status(), 200);
    assert_eq!(app.login(&user.email, &user.password).await.status(), 200);
    let missing = app
        .post(&format!(
            "/api/admin/users/{}/disable",
            uuid::Uuid::new_v4()
        ))
        .bearer_auth(admin.token())
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action in ('user.disable', 'user.enable')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(audited, 2, "the failed disable left no audit row");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demoted_admin_loses_admin_routes_at_once() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let admin = app.new_admin().await;
    assert_eq!(
        app.get("/api/admin/users")
            .bearer_auth(admin.token())
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    sqlx::query("update users set role = 'user' where user_id = $1::uuid")
        .bind(&admin.user_id)
        .execute(&db.pool)
        .await
        .unwrap();

    assert_eq!(
        app.get("/api/admin/users")
            .bearer_auth(admin.token())
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_list_searches_and_paginates_with_a_cursor() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let admin = app.new_admin().await;
    let hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
    sqlx::query("insert into users (user_id, email, name, password_hash, created_at) \
                 select gen_random_uuid(), 'bulk' || n || '@example.com', 'Bulk ' || n, $1, now() - n * interval '1 second' \
                 from generate_series(1, 60) n")
        .bind(hash).execute(&db.pool).await.unwrap();

    let first: UserPage = app
        .get("/api/admin/users?query=BULK")
        .bearer_auth(admin.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first.items.len(), 50);
    let cursor = first.next_cursor.clone().unwrap();
    let second: UserPage = app
        .get(&format!("/api/admin/users?query=bulk&cursor={cursor}"))
        .bearer_auth(admin.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(second.items.len(), 10);
    assert!(second.next_cursor.is_none());
    let mut all: Vec<String> = first
        .items
        .iter()
        .chain(&second.items)
        .map(|u| u.id.clone())
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 60);
    let literal: UserPage = app
        .get("/api/admin/users?query=%25")
        .bearer_auth(admin.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(literal.items.is_empty(), "% is searched literally");
    let bad = app
        .get("/api/admin/users?cursor=nonsense")
        .bearer_auth(admin.token())
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
}

/// The audit rows of `sessions.search`, newest first, as (target, actor).
async fn searches(db: &TestDb) -> Vec<(String, String)> {
    sqlx::query_as(
        "select target, actor_id::text from audit_log where action = 'sessions.search' \
         order by audit_id desc",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_search_for_an_account_that_does_not_exist_is_a_404_user_not_found() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let admin = app.new_admin().await;

    let by_email = app
        .get("/api/admin/sessions?email=nobody-here@example.com")
        .bearer_auth(admin.token())
        .send()
        .await
        .unwrap();
    assert_eq!(by_email.status(), 404);
    assert_eq!(
        by_email.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Problem = by_email.json().await.unwrap();
    assert_eq!(problem.code, "user_not_found");
    assert_eq!(problem.detail.as_deref(), Some("no account has this email"));

    let nobody = uuid::Uuid::new_v4();
    let by_id = app
        .get(&format!("/api/admin/sessions?user_id={nobody}"))
        .bearer_auth(admin.token())
        .send()
        .await
        .unwrap();
    assert_eq!(by_id.status(), 404);
    let problem: Problem = by_id.json().await.unwrap();
    assert_eq!(problem.code, "user_not_found");
    assert_eq!(problem.detail.as_deref(), Some("no account has this id"));

    // Both searches are audited, the id searched for included.
    assert_eq!(
        searches(&db).await,
        vec![
            (format!("user:{nobody}"), admin.user_id.clone()),
            ("user:none".to_string(), admin.user_id.clone()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_without_sessions_is_an_empty_list_not_a_404() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let admin = app.new_admin().await;
    let email = crate::helpers::unique_email("sessionless");
    let registered = app.register(&email, crate::helpers::PASSWORD).await;
    assert_eq!(registered.status(), 201);
    let profile: contract::api::UserProfile = registered.json().await.unwrap();

    for query in [
        format!("email={}", email.to_uppercase()),
        format!("user_id={}", profile.id),
    ] {
        let response = app
            .get(&format!("/api/admin/sessions?{query}"))
            .bearer_auth(admin.token())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{query}");
        let sessions: Vec<SessionSummary> = response.json().await.unwrap();
        assert!(sessions.is_empty(), "{query}: {sessions:?}");
    }
    let target = format!("user:{}", profile.id);
    assert_eq!(
        searches(&db).await,
        vec![
            (target.clone(), admin.user_id.clone()),
            (target, admin.user_id.clone()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_search_naming_nobody_is_a_400_and_not_audited() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let admin = app.new_admin().await;
    let response = app
        .get("/api/admin/sessions")
        .bearer_auth(admin.token())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let problem: Problem = response.json().await.unwrap();
    assert_eq!(problem.code, "email_or_user_id_required");
    assert!(searches(&db).await.is_empty());
}
