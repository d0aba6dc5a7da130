//! The request pipeline shared by every route: request ids, the access log,
//! timeouts, JSON bodies with problem-shaped rejections, and the ops token.

pub mod access_log;
pub mod headers;
pub mod json;
pub mod ops_auth;
pub mod request_id;
pub mod timeout;
