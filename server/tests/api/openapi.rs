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
    "DELETE /api/users/me",
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
    "DELETE /api/admin/users/{id}",
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

/// The rate limit of every documented path, written here on purpose: a new
/// route is declared under its limit in `server/src/routes/mod.rs` and
/// listed here, so it cannot fall into the public tier unnoticed.
const LIMITS: &[(&str, &str)] = &[
    ("/api/health", "public"),
    ("/api/health/ready", "public"),
    ("/api/health/database", "public"),
    ("/api/health/redis", "public"),
    ("/api/health/detailed", "public"),
    ("/api/openapi.json", "public"),
    ("/metrics", "public"),
    ("/api/auth/register", "auth"),
    ("/api/auth/login", "auth"),
    ("/api/auth/refresh", "auth"),
    ("/api/auth/logout", "auth"),
    ("/api/auth/password/reset", "auth"),
    ("/api/auth/verify-email", "auth"),
    ("/api/auth/password/forgot", "otp-request-ip"),
    ("/api/auth/verify-email/resend", "otp-request-ip"),
    ("/api/auth/otp/request", "otp-request-ip"),
    ("/api/auth/otp/verify", "otp-verify"),
    ("/api/auth/sessions", "api"),
    ("/api/auth/sessions/{id}", "api"),
    ("/api/users/me", "api"),
    ("/api/users/me/password", "api"),
    ("/api/posts", "api"),
    ("/api/posts/{id}", "api"),
    ("/api/admin/sessions", "api"),
    ("/api/admin/sessions/{id}", "api"),
    ("/api/admin/users", "api"),
    ("/api/admin/users/{id}", "api"),
    ("/api/admin/users/{id}/sessions", "api"),
    ("/api/admin/users/{id}/disable", "api"),
    ("/api/admin/users/{id}/enable", "api"),
    ("/api/admin/audit", "api"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_path_has_the_rate_limit_declared_for_it() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let document = document(&app).await;
    let mut documented: Vec<&str> = document["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    documented.sort_unstable();
    let mut declared: Vec<&str> = LIMITS.iter().map(|(path, _)| *path).collect();
    declared.sort_unstable();
    assert_eq!(documented, declared, "a path without a declared limit");
    // What each route counts against, as its responses say it.
    let client = reqwest::Client::new();
    for (path, limit) in LIMITS {
        let methods = document["paths"][path].as_object().unwrap();
        for method in methods.keys().filter(|key| *key != "parameters") {
            let url = app.url(&path.replace("{id}", "00000000-0000-0000-0000-000000000000"));
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = client.request(method.clone(), url).send().await.unwrap();
            let policy = response
                .headers()
                .get("ratelimit-policy")
                .unwrap_or_else(|| panic!("{method} {path}: no RateLimit-Policy"))
                .to_str()
                .unwrap();
            assert!(
                policy.starts_with(&format!("\"{limit}\";")),
                "{method} {path}: {policy}"
            );
        }
    }
}

async fn document(app: &TestApp) -> serde_json::Value {
    app.get("/api/openapi.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Finding 7: query parameters were declared `in: path, required`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_parameters_are_declared_in_the_query_and_optional() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let document = document(&app).await;
    for (method, path, names) in [
        ("get", "/api/posts", &["q", "cursor"][..]),
        ("get", "/api/admin/users", &["query", "cursor"][..]),
        ("get", "/api/admin/audit", &["cursor"][..]),
        ("get", "/api/admin/sessions", &["email", "user_id"][..]),
        ("delete", "/api/auth/sessions", &["scope"][..]),
    ] {
        let parameters = document["paths"][path][method]["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("{method} {path} has parameters"));
        let mut declared: Vec<&str> = parameters
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        declared.sort_unstable();
        let mut expected = names.to_vec();
        expected.sort_unstable();
        assert_eq!(declared, expected, "{method} {path}");
        for parameter in parameters {
            assert_eq!(parameter["in"], "query", "{method} {path} {parameter}");
            assert_ne!(parameter["required"], true, "{method} {path} {parameter}");
        }
    }
    let user_id = document["paths"]["/api/admin/sessions"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "user_id")
        .unwrap()
        .clone();
    assert_eq!(user_id["schema"]["format"], "uuid");
}

/// Finding 7: errors were documented as `application/json` and most
/// operations lacked 400/401/413/415/422/429/503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_is_problem_json_and_every_shared_status_is_documented() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let document = document(&app).await;
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            let has = |status: &str| responses.contains_key(status);
            let route = format!("{method} {path}");
            assert!(has("429") && has("503"), "{route}");
            if operation.get("requestBody").is_some() {
                for status in ["400", "413", "415", "422"] {
                    assert!(has(status), "{route} {status}");
                }
            }
            if operation.get("security").is_some() {
                assert!(has("401"), "{route}");
            }
            if path.starts_with("/api/admin/") {
                assert!(has("403"), "{route}");
            }
            if path.contains('{') {
                assert!(has("404"), "{route}");
            }
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    let content = response["content"].as_object().unwrap();
                    assert_eq!(
                        content["application/problem+json"]["schema"]["$ref"],
                        "#/components/schemas/Problem",
                        "{route} {status}"
                    );
                    if let Some(json) = content.get("application/json") {
                        assert_ne!(
                            json["schema"]["$ref"], "#/components/schemas/Problem",
                            "{route} {status}: a problem is not application/json"
                        );
                    }
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_strings_carry_their_formats_bounds_and_examples() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let document = document(&app).await;
    let register = &document["components"]["schemas"]["RegisterRequest"]["properties"];
    assert_eq!(register["email"]["format"], "email");
    assert_eq!(register["email"]["maxLength"], 254);
    assert_eq!(register["password"]["minLength"], 8);
    assert_eq!(register["password"]["maxLength"], 1024);
    assert_eq!(register["name"]["maxLength"], 100);
    let login = &document["components"]["schemas"]["LoginRequest"]["properties"];
    assert_eq!(
        login["password"]["maxLength"], 1024,
        "the bound before hashing"
    );
    assert!(register["email"]["example"].is_string());
    assert!(document["components"]["schemas"]["Problem"]["example"].is_object());
}

/// What the schema allows but the server refuses is documented: the admin
/// session search with neither `email` nor `user_id` (both optional, one
/// needed) is a 400, and one for an account that does not exist a 404
/// `user_not_found` (schemathesis.toml accepts both for this operation).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_search_documents_its_400_and_404() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let admin = app.new_admin().await;
    let document = document(&app).await;
    let responses = &document["paths"]["/api/admin/sessions"]["get"]["responses"];
    let described = |status: &str| responses[status]["description"].as_str().unwrap_or("");
    assert!(
        described("400").contains("email_or_user_id_required"),
        "{responses}"
    );
    assert!(described("404").contains("user_not_found"), "{responses}");

    let response = app
        .get("/api/admin/sessions")
        .bearer_auth(admin.token())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let odd = app
        .get("/api/admin/sessions?email=not-an-address")
        .bearer_auth(admin.token())
        .send()
        .await
        .unwrap();
    assert_eq!(odd.status(), 404, "any text is searched, and names nobody");
}

/// Issue 14: the writes document their optional `Idempotency-Key`, the
/// refusals it brings and the replay header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writes_document_their_idempotency_key() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let document = document(&app).await;
    let keyed = [
        ("post", "/api/posts", "201"),
        ("patch", "/api/posts/{id}", "200"),
        ("delete", "/api/posts/{id}", "204"),
        ("patch", "/api/users/me", "200"),
    ];
    for (method, path, success) in keyed {
        let route = format!("{method} {path}");
        let operation = &document["paths"][path][method];
        let key = operation["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "Idempotency-Key")
            .unwrap_or_else(|| panic!("{route} declares Idempotency-Key"));
        assert_eq!(key["in"], "header", "{route}");
        assert_eq!(key["required"], false, "{route}");
        assert_eq!(key["schema"]["maxLength"], 255, "{route}");
        let responses = &operation["responses"];
        assert!(
            responses[success]["headers"]
                .get("Idempotent-Replayed")
                .is_some(),
            "{route}"
        );
        let reused = responses["422"]["description"].as_str().unwrap();
        assert!(reused.contains("idempotency_key_reused"), "{route}");
        let malformed = responses["400"]["description"].as_str().unwrap();
        assert!(malformed.contains("invalid_idempotency_key"), "{route}");
    }
    let unkeyed = &document["paths"]["/api/users/me/password"]["post"];
    let declared = unkeyed["parameters"].as_array().map_or(0, |parameters| {
        parameters
            .iter()
            .filter(|p| p["name"] == "Idempotency-Key")
            .count()
    });
    assert_eq!(declared, 0);
}

/// schemathesis' `positive_data_acceptance`: what the document allows, the
/// server takes. A one-time code is exactly `OTP_LENGTH` digits in the
/// document too; cursors and names carry the pattern the server checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patterns_say_what_the_server_takes() {
    use crate::helpers::test_settings;
    let db = TestDb::new().await;
    let app = TestApp::spawn_with(db.pool.clone(), test_settings(&[("OTP_LENGTH", "8")])).await;
    let document = document(&app).await;
    let schemas = &document["components"]["schemas"];
    let code = &schemas["OtpVerify"]["properties"]["code"];
    assert_eq!(code["pattern"], "^[0-9]{8}$");
    assert_eq!(code["example"], "12345678");
    let text = serde_json::to_string(&document).unwrap();
    assert!(!text.contains("{6,10}"), "a code pattern left wide");

    let cursor_of = |path: &str| {
        document["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "cursor")
            .unwrap()["schema"]["pattern"]
            .clone()
    };
    assert_eq!(cursor_of("/api/posts"), "^[0-9]{1,19}_[0-9a-f]{32}$");
    assert_eq!(cursor_of("/api/admin/users"), "^[0-9]{1,19}_[0-9a-f]{32}$");
    assert_eq!(cursor_of("/api/admin/audit"), "^[0-9]{1,18}$");
    for (schema, field) in [
        ("RegisterRequest", "name"),
        ("UpdateProfile", "name"),
        ("NewPost", "title"),
        ("PostChanges", "title"),
    ] {
        assert!(
            schemas[schema]["properties"][field]["pattern"].is_string(),
            "{schema}.{field}"
        );
    }

    // The names schemathesis found refused: a control character after an
    // accented letter; a name padded past 100 characters is refused too.
    let user = app.new_user("patterns").await;
    for (name, status) in [
        ("\u{e0}\u{98}", 422),
        ("  Ada \n", 200),
        (&*format!("{}  ", "a".repeat(99)), 422),
    ] {
        let response = app
            .patch("/api/users/me")
            .bearer_auth(user.token())
            .json(&serde_json::json!({ "name": name }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{name:?}");
    }
}

/// schemathesis' `negative_data_rejection`: a JSON array is not the object
/// the schema wants, even where serde would read it as a struct's fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_an_object_is_refused() {
    let db = TestDb::new().await;
    let app = TestApp::spawn(&db).await;
    let user = app.new_user("arrays").await;
    let post: serde_json::Value = app
        .post("/api/posts")
        .bearer_auth(user.token())
        .json(&serde_json::json!({"title": "t", "body": "b"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = post["id"].as_str().unwrap();
    let response = app
        .patch(&format!("/api/posts/{id}"))
        .bearer_auth(user.token())
        .json(&serde_json::json!([null, null]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "validation_failed");
}
