//! JSON bodies of the API that clients other than browsers (the TUI, the load
//! test) read.

use serde::{Deserialize, Serialize};

/// An RFC 9457 problem details body (`application/problem+json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:tenk:problem:{code}`.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// A stable machine-readable word, such as `rate_limited`.
    pub code: String,
    pub request_id: String,
    /// The fields that failed validation (422 only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// One invalid field of a request body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// The media type of [`Problem`] bodies.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// The [`Problem::code`]s a client acts on, spelled once for the server and
/// its clients.
pub mod problem_code {
    /// 404 from the admin session search (`GET /api/admin/sessions`): the
    /// `email` or `user_id` names no account. An account without live
    /// sessions is a 200 with an empty list.
    pub const USER_NOT_FOUND: &str = "user_not_found";
}

/// A user's public profile. Never carries the password hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserProfile {
    pub id: String,
    pub email: String,
    pub name: String,
    /// `user` or `admin`.
    pub role: String,
    /// `active` or `disabled`.
    pub status: String,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_login_at: Option<String>,
    /// Whether the address has been proven (a verification link or a code).
    pub email_verified: bool,
}

/// The answer to a login, a one-time-code verification or a refresh.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Opaque; exchange it at `/api/auth/refresh`. Single use.
    pub refresh_token: String,
    pub session: SessionInfo,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionInfo {
    pub id: String,
    pub expires_at: String,
}

/// One session as its owner or an operator sees it. Never carries a token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionSummary {
    pub id: String,
    pub user_id: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
    pub ip: String,
    pub user_agent: String,
    /// The session of the request that asked.
    pub current: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevokeSessionsResponse {
    pub revoked: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Post {
    pub id: String,
    pub author_id: String,
    pub title: String,
    pub body: String,
    pub created_at: String,
    pub updated_at: String,
}

/// A page of a cursor-paginated list; `next_cursor` is absent on the last page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PostPage {
    pub items: Vec<Post>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserPage {
    pub items: Vec<UserProfile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// One operator action from the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: i64,
    pub actor_id: String,
    /// The admin's email (absent if the account is gone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_email: Option<String>,
    pub action: String,
    pub target: String,
    /// The email of the user the target names (`user:<id>`), when it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_email: Option<String>,
    pub ip: String,
    pub request_id: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The answer to a one-time-code request: the same whether or not the
/// address has an account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OtpRequested {
    /// Always `accepted`.
    pub status: String,
    pub message: String,
    /// Seconds a code stays valid.
    pub expires_in: u64,
}

impl OtpRequested {
    pub fn new(expires_in: u64) -> Self {
        Self {
            status: "accepted".into(),
            message: "If this address can sign in, a code is on its way.".into(),
            expires_in,
        }
    }
}

/// The answer to a request that may send mail: the same whether or not the
/// address has an account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Accepted {
    /// Always `accepted`.
    pub status: String,
    pub message: String,
}

impl Accepted {
    pub fn new() -> Self {
        Self {
            status: "accepted".into(),
            message: "If this address has an account, a message is on its way.".into(),
        }
    }
}

impl Default for Accepted {
    fn default() -> Self {
        Self::new()
    }
}
