//! Extractors: `AuthUser` (a verified access token whose session is still
//! live), `AdminUser` (the same, plus an active admin account, checked in
//! the database on every call) and `ClientInfo` (peer address, user agent).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath};
use axum::http::header;
use axum::http::request::Parts;
use uuid::Uuid;

use crate::domain::role::Role;
use crate::error::ApiError;
use crate::http::ops_auth::bearer_token;
use crate::http::request_id::RequestId;
use crate::rate_limit::client_ip::ClientIp;
use crate::state::AppState;

/// The caller of an authenticated request.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user_id: Uuid,
    pub session_id: String,
    pub role: Role,
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(user) = parts.extensions.get::<Self>() {
            return Ok(user.clone());
        }
        let token = bearer_token(&parts.headers).ok_or(ApiError::Unauthorized)?;
        let claims = state.jwt.verify(token).ok_or(ApiError::Unauthorized)?;
        // A valid signature alone never lets a request in: the session must
        // still exist, and if Redis cannot say so the answer is 503.
        let role = state
            .sessions
            .validate(&claims.sid, claims.sub)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        let user = Self {
            user_id: claims.sub,
            session_id: claims.sid,
            role,
        };
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

/// An authenticated caller whose account is an active admin right now.
#[derive(Debug, Clone)]
pub struct AdminUser(pub AuthUser);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        match crate::users::find(state.db.writer()?, user.user_id).await? {
            Some(account) if account.role == Role::Admin && account.is_active() => Ok(Self(user)),
            // The account was deleted: its tokens are refused like any other's.
            None => Err(ApiError::Unauthorized),
            Some(_) => {
                tracing::warn!(
                    target: "audit",
                    user_id = %user.user_id,
                    route = parts.extensions.get::<MatchedPath>().map_or("", MatchedPath::as_str),
                    "admin route refused to a non-admin"
                );
                Err(ApiError::Forbidden)
            }
        }
    }
}

/// Who is calling from where: the peer address, user agent and request id.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: String,
    pub request_id: String,
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ClientIp>()
            .map(|ClientIp(ip)| ip.to_string())
            .or_else(|| {
                let ConnectInfo(address) = parts.extensions.get::<ConnectInfo<SocketAddr>>()?;
                Some(address.ip().to_string())
            })
            .unwrap_or_default();
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .chars()
            .take(256)
            .collect();
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .map(|id| id.as_str().to_string())
            .unwrap_or_default();
        Ok(Self {
            ip,
            user_agent,
            request_id,
        })
    }
}
