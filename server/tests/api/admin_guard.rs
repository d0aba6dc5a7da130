//! Finding 2: an admin could disable their own (last) account, and
//! `create-admin` then promoted it without letting it sign in again.

use contract::api::{AuditPage, Problem};

use crate::helpers::{PASSWORD, TestApp, TestDb};

async fn disable(app: &TestApp, token: &str, user_id: &str) -> reqwest::Response {
    app.post(&format!("/api/admin/users/{user_id}/disable"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn problem(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    (status, response.json::<Problem>().await.unwrap().code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_cannot_disable_or_delete_themselves() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let admin = app.new_admin().await;
    let _other_admin = app.new_admin().await;

    assert_eq!(
        problem(disable(&app, admin.token(), &admin.user_id).await).await,
        (409, "cannot_disable_self".into())
    );
    let delete = app
        .delete(&format!("/api/admin/users/{}", admin.user_id))
        .bearer_auth(admin.token())
        .send()
        .await
        .unwrap();
    assert_eq!(problem(delete).await, (409, "cannot_delete_self".into()));
    assert_eq!(app.me_status(admin.token()).await, 200);
    assert_eq!(app.login(&admin.email, PASSWORD).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_active_admin_cannot_delete_their_account() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let admin = app.new_admin().await;
    let refused = app
        .delete("/api/users/me")
        .bearer_auth(admin.token())
        .json(&serde_json::json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let (status, code) = problem(refused).await;
    assert_eq!((status, code.as_str()), (409, "last_admin"));
    assert_eq!(app.me_status(admin.token()).await, 200);

    // With a second admin, the first may go.
    let _second = app.new_admin().await;
    let deleted = app
        .delete("/api/users/me")
        .bearer_auth(admin.token())
        .json(&serde_json::json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
}

/// Two admins disabling each other at the same moment: the advisory lock
/// serializes them, so one wins and an active admin always remains.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_admins_disabling_each_other_leave_one_admin() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let a = app.new_admin().await;
    let b = app.new_admin().await;
    let (first, second) = tokio::join!(
        disable(&app, a.token(), &b.user_id),
        disable(&app, b.token(), &a.user_id),
    );
    let mut statuses = [first.status().as_u16(), second.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses[0], 200, "{statuses:?}");
    assert!(matches!(statuses[1], 401 | 403 | 409), "{statuses:?}");
    let active_admins: i64 =
        sqlx::query_scalar("select count(*) from users where role = 'admin' and status = 'active'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(active_admins, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_admin_on_a_disabled_account_enables_it_again_and_is_audited() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let admin = app.new_admin().await;
    let locked_out = app.new_admin().await;
    assert_eq!(
        disable(&app, admin.token(), &locked_out.user_id)
            .await
            .status(),
        200
    );
    assert_eq!(app.login(&locked_out.email, PASSWORD).await.status(), 401);

    let said = tenk_server::admin::create_admin(
        app.state.db.primary(),
        &app.state.settings.auth,
        &locked_out.email,
        "ignored",
        String::new(),
    )
    .await
    .unwrap();
    assert!(said.contains("enabled again"), "{said}");
    assert_eq!(app.login(&locked_out.email, PASSWORD).await.status(), 200);

    let audit: AuditPage = app
        .get("/api/admin/audit")
        .bearer_auth(admin.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let console: Vec<(&str, &str)> = audit
        .items
        .iter()
        .filter(|entry| entry.actor_id == uuid::Uuid::nil().to_string())
        .map(|entry| (entry.action.as_str(), entry.target.as_str()))
        .collect();
    let target = format!("user:{}", locked_out.user_id);
    assert!(
        console.contains(&("cli.admin.enable", target.as_str())),
        "{console:?}"
    );
    assert!(
        console.contains(&("cli.admin.create", target.as_str())),
        "{console:?}"
    );
}
