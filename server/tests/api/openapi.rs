//! The OpenAPI document covers every route, and every documented route exists.

use crate::helpers::{TestApp, TestDb};

/// Every route of the router, as "METHOD path"; a route added to the router
/// but not here (or the reverse) fails the test below.
const ROUTES: &[&str] = &[
    "GET /api/health",
    "GET /api/health/ready",
    "GET /api/health/database",
    "GET /api/health/redis",
    "GET /api/health/detailed",
    "GET /api/openapi.json",
    "GET /metrics",
    "POST /api/auth/register",
    "POST /api/auth/password/forgot",
    "POST /api/auth/password/reset",
    "POST /api/auth/verify-email",
    "POST /api/auth/verify-email/resend",
    "POST /api/auth/otp/request",
    "POST /api/auth/otp/verify",
    "POST /api/auth/login",
    "POST /api/auth/refresh",
    "POST /api/auth/logout",
    "GET /api/auth/sessions",
    "DELETE /api/auth/sessions",
    "DELETE /api/auth/sessions/{id}",
    "GET /api/users/me",
    "PATCH /api/users/me",
    "POST /api/users/me/password",
    "GET /api/posts",
    "POST /api/posts",
    "GET /api/posts/{id}",
    "PATCH /api/posts/{id}",
    "DELETE /api/posts/{id}",
    "GET /api/admin/sessions",
    "DELETE /api/admin/sessions/{id}",
    "DELETE /api/admin/users/{id}/sessions",
    "POST /api/admin/users/{id}/disable",
    "POST /api/admin/users/{id}/enable",
    "GET /api/admin/users",
    "GET /api/admin/audit",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_lists_exactly_the_routes_the_router_serves() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;

    let document: serde_json::Value = app
        .get("/api/openapi.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    let mut documented: Vec<String> = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    documented.sort();
    let mut expected: Vec<String> = ROUTES.iter().map(ToString::to_string).collect();
    expected.sort();
    assert_eq!(documented, expected);

    // Every documented operation is served: the router answers neither 404 nor 405.
    for route in ROUTES {
        let (method, path) = route.split_once(' ').unwrap();
        let path = path.replace("{id}", &uuid::Uuid::new_v4().to_string());
        let response = app
            .client
            .request(method.parse().unwrap(), app.url(&path))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let code = response
            .json::<serde_json::Value>()
            .await
            .ok()
            .and_then(|v| v["code"].as_str().map(String::from));
        // Unauthenticated, every protected route answers 401 before looking anything up.
        assert!(
            status != 405 && code.as_deref() != Some("not_found"),
            "{route} is documented but not served: {status}"
        );
    }
}
