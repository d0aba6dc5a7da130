//! `AppJson<T>`: axum's JSON extractor and response, with rejections turned
//! into problem bodies: malformed JSON is 400, a wrong or missing field is 422
//! naming the field, an oversized body is 413. Every request body is a JSON
//! object, as the OpenAPI document says: an array is 422 even where serde
//! would read it as a struct's fields in order.

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeOwned, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::marker::PhantomData;

use crate::error::ApiError;

#[derive(Debug, Clone, Copy, Default)]
pub struct AppJson<T>(pub T);

impl<T, S> FromRequest<S> for AppJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<Object<T>>::from_request(request, state).await {
            Ok(axum::Json(Object(value))) => Ok(Self(value)),
            Err(rejection) => Err(rejection_to_error(&rejection)),
        }
    }
}

/// `T` read from a JSON object only.
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = T;

            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }

        deserializer
            .deserialize_map(ObjectVisitor(PhantomData))
            .map(Object)
    }
}

fn rejection_to_error(rejection: &JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(error) => {
            // serde names the path of the bad field: "name: invalid type ..." or
            // "missing field `email`".
            let text = error.body_text();
            let detail = text
                .split_once("target type: ")
                .map_or(text.as_str(), |(_, rest)| rest)
                .to_string();
            let field = field_of(&detail);
            ApiError::invalid(&field, detail)
        }
        JsonRejection::JsonSyntaxError(_) => ApiError::BadRequest {
            code: "malformed_json",
            detail: "the request body is not valid JSON".into(),
        },
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        _ => ApiError::BadRequest {
            code: "unreadable_body",
            detail: "the request body could not be read".into(),
        },
    }
}

/// The field a serde error names: `missing field `x``, or the path before `:`.
fn field_of(detail: &str) -> String {
    if let Some(rest) = detail.strip_prefix("missing field `") {
        return rest.split('`').next().unwrap_or_default().to_string();
    }
    if let Some(rest) = detail.split("unknown field `").nth(1) {
        return rest.split('`').next().unwrap_or_default().to_string();
    }
    match detail.split_once(": ") {
        Some((path, _)) if !path.contains(' ') => path.to_string(),
        _ => "body".to_string(),
    }
}

impl<T: Serialize> IntoResponse for AppJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// A JSON body serialized once (kept so by the app cache) and sent as is.
pub struct JsonBytes(pub Bytes);

impl JsonBytes {
    /// Serializes `value`.
    ///
    /// # Errors
    /// The value cannot be serialized (a programming error).
    pub fn encode<T: Serialize>(value: &T) -> Result<Bytes, ApiError> {
        serde_json::to_vec(value).map(Bytes::from).map_err(|error| {
            ApiError::from(anyhow::Error::new(error).context("cannot encode JSON"))
        })
    }
}

impl IntoResponse for JsonBytes {
    fn into_response(self) -> Response {
        let content_type = [(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        )];
        (content_type, self.0).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::{Object, field_of};

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Changes {
        title: Option<String>,
        body: Option<String>,
    }

    #[test]
    fn only_an_object_is_read_as_a_struct() {
        let read = |text: &str| serde_json::from_str::<Object<Changes>>(text).map(|o| o.0);
        assert_eq!(
            read(r#"{"title":"t"}"#).unwrap(),
            Changes {
                title: Some("t".into()),
                body: None
            }
        );
        assert!(read("[null, null]").is_err());
        assert!(read(r#"{"admin":true}"#).is_err());
        assert!(read("null").is_err());
    }

    #[test]
    fn the_failing_field_is_named() {
        assert_eq!(
            field_of("missing field `email` at line 1 column 2"),
            "email"
        );
        assert_eq!(
            field_of("name: invalid type: integer `1`, expected a string at line 1 column 9"),
            "name"
        );
        assert_eq!(
            field_of("unknown field `admin`, expected one of `name`"),
            "admin"
        );
        assert_eq!(field_of("invalid type: integer, expected struct"), "body");
    }
}

/// axum's query-string extractor with problem-shaped rejections (422).
#[derive(Debug, Clone, Copy, Default)]
pub struct AppQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for AppQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => {
                let text = rejection.body_text();
                let detail = text
                    .split_once("string: ")
                    .map_or(text.as_str(), |(_, rest)| rest);
                Err(ApiError::invalid(&field_of(detail), detail.to_string()))
            }
        }
    }
}

/// axum's path extractor; a path segment it cannot decode names no resource,
/// so the rejection is a 404 problem.
#[derive(Debug, Clone, Copy, Default)]
pub struct AppPath<T>(pub T);

impl<T, S> FromRequestParts<S> for AppPath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(_) => Err(ApiError::NotFound),
        }
    }
}

/// Parses a path id, answering 404 for anything that is not a UUID.
pub fn parse_id(raw: &str) -> Result<uuid::Uuid, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound)
}

/// PostgreSQL text cannot hold NUL: refuse it with a 422 before a query fails.
pub fn reject_nul(field: &str, text: &str) -> Result<(), ApiError> {
    if text.contains('\0') {
        return Err(ApiError::invalid(field, "must not contain NUL characters"));
    }
    Ok(())
}
