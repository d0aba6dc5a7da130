//! `tenk-baseline`: what this machine can do with the least code, so every
//! benchmark run measures its own ceiling beside tenk.
//!
//! - `GET /hello`: a plain axum route.
//! - `GET /api/users/me`: the same authentication work as tenk's hot path at
//!   its leanest: verify tenk's access token (HS256, `exp`, `nbf`, `iss`,
//!   `aud`) and read the session's owner with one Redis `HGET`.
//!
//! Settings: `PORT` (8090), `REDIS_URL` (redis://127.0.0.1:6379),
//! `REDIS_KEY_PREFIX` (`tenk:`), `JWT_SECRET`, `JWT_ISSUER` (`tenk`),
//! `JWT_AUDIENCE` (`tenk-api`), `WORKERS` (all cores).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::get;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use redis::aio::MultiplexedConnection;
use serde::Deserialize;

struct Baseline {
    key: DecodingKey,
    validation: Validation,
    redis: MultiplexedConnection,
    prefix: String,
}

#[derive(Deserialize)]
struct Claims {
    sid: String,
}

fn var(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

async fn hello() -> &'static str {
    "hello"
}

async fn me(State(baseline): State<Arc<Baseline>>, headers: HeaderMap) -> (StatusCode, String) {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let Some(token) = token else {
        return (StatusCode::UNAUTHORIZED, String::new());
    };
    let Ok(claims) = jsonwebtoken::decode::<Claims>(token, &baseline.key, &baseline.validation)
    else {
        return (StatusCode::UNAUTHORIZED, String::new());
    };
    let mut redis = baseline.redis.clone();
    let key = format!("{}session:{}", baseline.prefix, claims.claims.sid);
    match redis::cmd("HGET")
        .arg(key)
        .arg("uid")
        .query_async::<Option<String>>(&mut redis)
        .await
    {
        Ok(Some(user)) => (StatusCode::OK, format!("{{\"id\":\"{user}\"}}")),
        Ok(None) => (StatusCode::UNAUTHORIZED, String::new()),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, String::new()),
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let client = redis::Client::open(var("REDIS_URL", "redis://127.0.0.1:6379"))?;
    let redis = client.get_multiplexed_async_connection().await?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 5;
    validation.validate_nbf = true;
    validation.set_issuer(&[var("JWT_ISSUER", "tenk")]);
    validation.set_audience(&[var("JWT_AUDIENCE", "tenk-api")]);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    let secret = std::env::var("JWT_SECRET").map_err(|_| "JWT_SECRET is required")?;
    let baseline = Arc::new(Baseline {
        key: DecodingKey::from_secret(secret.as_bytes())?,
        validation,
        redis,
        prefix: var("REDIS_KEY_PREFIX", "tenk:"),
    });
    let app = Router::new()
        .route("/hello", get(hello))
        .route("/api/users/me", get(me))
        .with_state(baseline);
    let port: u16 = var("PORT", "8090").parse()?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

fn main() -> std::process::ExitCode {
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = std::env::var("WORKERS").ok().and_then(|w| w.parse().ok()) {
        runtime.worker_threads(workers);
    }
    let outcome = runtime
        .enable_all()
        .build()
        .map_err(Into::into)
        .and_then(|runtime| runtime.block_on(run()));
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tenk-baseline: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
