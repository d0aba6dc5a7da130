//! The router: every route, the fallbacks, and the layers shared by all.
//! Routes are registered together with their OpenAPI description, so the
//! document served at `/api/openapi.json` cannot miss one.

pub mod account;
pub mod admin;
pub mod auth;
pub mod health;
pub mod metrics;
pub mod otp;
pub mod posts;
pub mod users;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::get;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::http::{headers, ops_auth, pipeline};
use crate::state::AppState;
use crate::users::UserError;

#[derive(OpenApi)]
#[openapi(
    info(title = "tenk API", description = "Accounts, sessions, posts, health and operator actions."),
    tags(
        (name = "health", description = "Liveness, readiness and dependencies"),
        (name = "auth", description = "Password accounts and tokens"),
        (name = "sessions", description = "The caller's sessions"),
        (name = "users", description = "The caller's profile"),
        (name = "posts", description = "The example resource"),
        (name = "admin", description = "Operator actions, each written to the audit log"),
    )
)]
struct ApiDoc;

/// The routes and their OpenAPI document. `/metrics` is documented either
/// way but served here only when `METRICS_ADDR` does not give it a listener
/// of its own.
pub fn documented_routes(state: &AppState) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let api = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::router(state))
        .merge(auth::router())
        .merge(otp::router())
        .merge(account::router())
        .merge(users::router())
        .merge(posts::router())
        .merge(admin::router());
    let (router, mut document) = if state.settings.metrics_addr.is_some() {
        let (router, mut document) = api.split_for_parts();
        document.merge(metrics::router().into_openapi());
        (router, document)
    } else {
        api.merge(metrics_routes(state)).split_for_parts()
    };
    let components = document.components.get_or_insert_with(Default::default);
    let bearer = |description: &str| {
        let mut scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build();
        scheme.description = Some(description.to_string());
        SecurityScheme::Http(scheme)
    };
    components.add_security_scheme("bearer", bearer("An access token from login or refresh"));
    components.add_security_scheme("ops_token", bearer("OPS_TOKEN"));
    document
        .paths
        .paths
        .entry("/api/openapi.json".to_string())
        .or_insert_with(openapi_path_item);
    (
        router,
        crate::openapi::complete(document, state.settings.otp.length),
    )
}

fn openapi_path_item() -> utoipa::openapi::PathItem {
    use utoipa::openapi::path::{HttpMethod, OperationBuilder};
    use utoipa::openapi::response::ResponseBuilder;
    let operation = OperationBuilder::new()
        .summary(Some("This OpenAPI 3.1 document"))
        .tag("health")
        .response(
            "200",
            ResponseBuilder::new().description("The document").build(),
        )
        .build();
    utoipa::openapi::PathItem::new(HttpMethod::Get, operation)
}

/// `/metrics` behind the ops token.
fn metrics_routes(state: &AppState) -> OpenApiRouter<AppState> {
    let ops_only =
        middleware::from_fn_with_state(state.settings.ops_token.clone(), ops_auth::middleware);
    metrics::router().route_layer(ops_only)
}

/// The router of the separate `METRICS_ADDR` listener: `/metrics` only.
pub fn metrics_router(state: AppState) -> Router {
    let (routes, _) = metrics_routes(&state).split_for_parts();
    routes.fallback(not_found).with_state(state)
}

/// Builds the whole HTTP surface over `state`.
pub fn router(state: AppState) -> Router {
    let settings = state.settings.clone();
    let (routes, document) = documented_routes(&state);
    let templates = document.paths.paths.keys().map(String::as_str);
    state
        .metrics
        .set_routes(templates.chain([crate::http::access_log::UNMATCHED]));
    // Serialized once: the document never changes while the process runs.
    let document = axum::body::Bytes::from(serde_json::to_vec(&document).unwrap_or_default());
    routes
        .route(
            "/api/openapi.json",
            get(move || {
                let document = document.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        document,
                    )
                }
            }),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(settings.http.body_limit))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            pipeline::middleware,
        ))
        .layer(tower::util::option_layer(headers::cors_layer(
            &settings.http.cors,
        )))
        .with_state(state)
}

/// The users table's refusals, as problems: a taken email is a 409.
impl From<UserError> for ApiError {
    fn from(error: UserError) -> Self {
        match error {
            UserError::EmailTaken => Self::Conflict {
                code: "email_taken",
                detail: "an account with this email already exists",
            },
            UserError::DatabaseDown(down) => down.into(),
            UserError::Database(error) => error.into(),
            UserError::Redis(error) => error.into(),
        }
    }
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
