//! Request ids and the per-request context. A client's `X-Request-Id` is
//! kept when it is short and plain, otherwise one is generated. The id is
//! echoed on every response, and the id and route template are available to
//! error bodies and error reports through a task-local.

use axum::extract::MatchedPath;
use axum::http::{HeaderMap, HeaderName, HeaderValue};

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");
const MAX_LENGTH: usize = 64;

/// What the code under a request may ask about it without an extractor.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub id: RequestId,
    pub route: Option<MatchedPath>,
}

tokio::task_local! {
    pub(crate) static CURRENT: RequestContext;
}

/// The id of the request being handled, if called inside one.
pub fn current() -> Option<String> {
    CURRENT
        .try_with(|context| context.id.as_str().to_string())
        .ok()
}

/// The route template of the request being handled, if called inside one.
pub fn current_route() -> Option<String> {
    CURRENT
        .try_with(|context| context.route.as_ref().map(|path| path.as_str().to_string()))
        .ok()
        .flatten()
}

/// The id of a request, as an extension for handlers and middleware. It is
/// kept as the header value it is echoed with: cloning it copies nothing.
#[derive(Debug, Clone)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// The client's id when it is acceptable, else a new random one.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        Self(
            headers
                .get(&HEADER)
                .and_then(accept)
                .unwrap_or_else(generate),
        )
    }

    pub fn as_str(&self) -> &str {
        // Only plain ASCII is ever accepted or generated.
        self.0.to_str().unwrap_or_default()
    }

    pub fn header_value(&self) -> HeaderValue {
        self.0.clone()
    }
}

/// Accepts an id of up to 64 characters from `[A-Za-z0-9._:-]`; anything else
/// could forge log lines or bloat them, so it is replaced.
fn accept(value: &HeaderValue) -> Option<HeaderValue> {
    let bytes = value.as_bytes();
    let plain = !bytes.is_empty()
        && bytes.len() <= MAX_LENGTH
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    plain.then(|| value.clone())
}

/// A random UUID (v4, from a thread-local fast RNG), formatted on the stack.
fn generate() -> HeaderValue {
    let mut buffer = uuid::Uuid::encode_buffer();
    let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buffer);
    HeaderValue::from_str(text).unwrap_or(HeaderValue::from_static("unknown"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id_for(value: &str) -> String {
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, HeaderValue::from_str(value).unwrap());
        RequestId::from_headers(&headers).as_str().to_string()
    }

    #[test]
    fn plain_ids_are_kept_and_others_replaced() {
        assert_eq!(id_for("abc-123_x.y:z"), "abc-123_x.y:z");
        for rejected in ["has space", "", &"a".repeat(MAX_LENGTH + 1)] {
            let replaced = id_for(rejected);
            assert_ne!(replaced, rejected);
            assert!(uuid::Uuid::parse_str(&replaced).is_ok(), "{replaced}");
        }
    }

    #[test]
    fn generated_ids_differ() {
        let headers = HeaderMap::new();
        let first = RequestId::from_headers(&headers);
        let second = RequestId::from_headers(&headers);
        assert_ne!(first.as_str(), second.as_str());
    }
}
