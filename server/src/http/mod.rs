//! The request pipeline shared by every route: one middleware (request ids,
//! client address, admission control, rate limits, deadline, headers,
//! metrics and the access log), the listener that bounds connections, JSON
//! bodies with problem-shaped rejections, keyset pagination, and the ops
//! token.

pub mod access_log;
pub mod admission;
pub mod headers;
pub mod json;
pub mod ops_auth;
pub mod pagination;
pub mod pipeline;
pub mod request_id;
pub mod serve;
