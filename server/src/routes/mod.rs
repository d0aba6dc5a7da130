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

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::get;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::http::pipeline::{self, Pipeline};
use crate::http::{headers, ops_auth};
use crate::rate_limit::{Limit, RouteLimits};
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

/// Every route, declared under the rate limit it counts against, with its
/// OpenAPI description.
fn declared_routes(state: &AppState) -> Declared {
    let mut api = Declared(
        OpenApiRouter::with_openapi(ApiDoc::openapi()),
        RouteLimits::default(),
    );
    api.add(Limit::Public, health::router(state));
    api.add(
        Limit::Auth,
        OpenApiRouter::new()
            .routes(routes!(auth::register))
            .routes(routes!(auth::login))
            .routes(routes!(auth::refresh))
            .routes(routes!(auth::logout))
            .routes(routes!(account::reset_password))
            .routes(routes!(account::verify_email)),
    );
    // Routes that send mail are throttled like code requests.
    api.add(
        Limit::OtpRequestIp,
        OpenApiRouter::new()
            .routes(routes!(otp::request_otp))
            .routes(routes!(account::forgot_password))
            .routes(routes!(account::resend_verification)),
    );
    api.add(
        Limit::OtpVerify,
        OpenApiRouter::new().routes(routes!(otp::verify_otp)),
    );
    api.add(
        Limit::Api,
        OpenApiRouter::new()
            .routes(routes!(auth::list_sessions, auth::revoke_sessions))
            .routes(routes!(auth::revoke_session))
            .merge(users::router())
            .merge(posts::router())
            .merge(admin::router()),
    );
    api
}

/// Routes merged so far, and the limit declared for each of their templates.
struct Declared(OpenApiRouter<AppState>, RouteLimits);

impl Declared {
    fn add(&mut self, limit: Limit, routes: OpenApiRouter<AppState>) {
        for template in routes.get_openapi().paths.paths.keys() {
            self.1.declare(template, limit);
        }
        let merged = std::mem::take(&mut self.0).merge(routes);
        self.0 = merged;
    }
}

/// The routes, their OpenAPI document and the limit of each route.
/// `/metrics` is documented either way but served here only when
/// `METRICS_ADDR` does not give it a listener of its own.
pub fn documented_routes(
    state: &AppState,
) -> (Router<AppState>, utoipa::openapi::OpenApi, RouteLimits) {
    let mut api = declared_routes(state);
    if state.settings.metrics_addr.is_none() {
        api.add(Limit::Public, metrics_routes(state));
    }
    let Declared(api, mut limits) = api;
    let (router, mut document) = api.split_for_parts();
    if state.settings.metrics_addr.is_some() {
        document.merge(metrics::router().into_openapi());
    }
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
        .entry(OPENAPI_JSON.to_string())
        .or_insert_with(openapi_path_item);
    limits.declare(OPENAPI_JSON, Limit::Public);
    (
        router,
        crate::openapi::complete(document, state.settings.otp.length),
        limits,
    )
}

const OPENAPI_JSON: &str = "/api/openapi.json";

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
    let (routes, document, limits) = documented_routes(&state);
    let templates = document.paths.paths.keys().map(String::as_str);
    state
        .metrics
        .set_routes(templates.chain([crate::http::access_log::UNMATCHED]));
    // Serialized once: the document never changes while the process runs.
    let document = axum::body::Bytes::from(serde_json::to_vec(&document).unwrap_or_default());
    routes
        .route(
            OPENAPI_JSON,
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
            Arc::new(Pipeline {
                state: state.clone(),
                limits,
            }),
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
