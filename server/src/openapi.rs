//! Completes the OpenAPI document generated from the handlers with what
//! every operation shares, derived from the operation itself so it cannot
//! drift: each error response is `application/problem+json` with the
//! [`Problem`](contract::api::Problem) schema, and each operation lists
//! every status the layers and extractors in front of its handler can
//! answer:
//!
//! - every operation: 429 (rate limits) and 503 (load shedding, the request
//!   timeout, a dependency down), both with `Retry-After`;
//! - a JSON body: 400 (malformed), 413 (too large), 415 (not JSON), 422
//!   (a field is wrong);
//! - query parameters: 422;
//! - path parameters: 404 (anything that names no resource);
//! - a bearer or ops token: 401; the admin API: 403;
//! - an `Idempotency-Key` header parameter: its format, 400 for a malformed
//!   key, 422 for a key reused with another request, 409 for a key that
//!   changed hands, and the `Idempotent-Replayed` header on success.
//!
//! It also narrows what only the running configuration knows: a one-time
//! code's pattern ([`OTP_CODE_ANY_LENGTH`] in the handlers' schemas) becomes
//! exactly `OTP_LENGTH` digits, so a code the document allows is one the
//! server takes.

use serde_json::{Map, Value, json};
use utoipa::openapi::OpenApi;

const PROBLEM: &str = "application/problem+json";
const PROBLEM_REF: &str = "#/components/schemas/Problem";
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The pattern the handlers give a one-time code: any length `OTP_LENGTH`
/// may be set to. [`complete`] replaces it with the configured length.
pub const OTP_CODE_ANY_LENGTH: &str = "^[0-9]{6,10}$";

/// The shared statuses, completed onto `document`, and one-time codes of
/// `otp_length` digits.
pub fn complete(document: OpenApi, otp_length: u32) -> OpenApi {
    let Ok(mut value) = serde_json::to_value(&document) else {
        return document;
    };
    complete_value(&mut value);
    let example: String = "1234567890"
        .chars()
        .cycle()
        .take(otp_length as usize)
        .collect();
    narrow_patterns(
        &mut value,
        OTP_CODE_ANY_LENGTH,
        &format!("^[0-9]{{{otp_length}}}$"),
        &example,
    );
    serde_json::from_value(value).unwrap_or(document)
}

/// Replaces every schema `pattern` equal to `from` with `to`, and that
/// schema's `example` with `example`.
fn narrow_patterns(value: &mut Value, from: &str, to: &str, example: &str) {
    match value {
        Value::Object(object) => {
            if object.get("pattern").and_then(Value::as_str) == Some(from) {
                object.insert("pattern".into(), Value::String(to.to_string()));
                if object.contains_key("example") {
                    object.insert("example".into(), Value::String(example.to_string()));
                }
                return;
            }
            for child in object.values_mut() {
                narrow_patterns(child, from, to, example);
            }
        }
        Value::Array(items) => {
            for item in items {
                narrow_patterns(item, from, to, example);
            }
        }
        _ => {}
    }
}

fn complete_value(document: &mut Value) {
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for method in METHODS {
            if let Some(operation) = item.get_mut(method).and_then(Value::as_object_mut) {
                complete_operation(path, operation);
            }
        }
    }
    if let Some(problem) = document
        .pointer_mut("/components/schemas/Problem")
        .and_then(Value::as_object_mut)
    {
        problem.insert(
            "example".into(),
            json!({
                "type": "urn:tenk:problem:validation_failed",
                "title": "Unprocessable Entity",
                "status": 422,
                "detail": "invalid input",
                "code": "validation_failed",
                "request_id": "01J9Z3K8W5X4V2Q6R7T8Y9A0BC",
                "errors": [{"field": "email", "message": "must be an email address such as ada@example.com"}]
            }),
        );
    }
}

fn complete_operation(path: &str, operation: &mut Map<String, Value>) {
    let has_body = operation.contains_key("requestBody");
    let has_query = operation
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|parameters| parameters.iter().any(|p| p["in"] == "query"));
    let has_path_parameters = path.contains('{');
    let secured = operation
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|requirements| {
            requirements
                .iter()
                .any(|r| r.get("bearer").is_some() || r.get("ops_token").is_some())
        });
    let is_admin = path.starts_with("/api/admin/");

    let mut shared: Vec<(&str, &str)> = vec![
        (
            "429",
            "Too many requests: a rate limit; retry after `Retry-After` seconds",
        ),
        (
            "503",
            "Overloaded (load shedding), timed out, or a dependency is down; retry after `Retry-After` seconds",
        ),
    ];
    if has_body {
        shared.extend([
            ("400", "The body is not valid JSON"),
            ("413", "The body is larger than `REQUEST_BODY_LIMIT`"),
            ("415", "The body is not `application/json`"),
            ("422", "A field is missing or invalid; `errors` names it"),
        ]);
    }
    if has_query {
        shared.push(("422", "A query parameter is invalid; `errors` names it"));
    }
    if has_path_parameters {
        shared.push(("404", "Nothing has this id"));
    }
    if secured {
        shared.push((
            "401",
            "Missing, invalid or expired token, or an ended session",
        ));
    }
    if is_admin {
        shared.push(("403", "The caller is not an active admin"));
    }

    let mut idempotent = false;
    if let Some(parameters) = operation
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
    {
        for parameter in parameters.iter_mut() {
            if parameter["in"] == "header" && parameter["name"] == IDEMPOTENCY_KEY {
                *parameter = idempotency_key_parameter();
                idempotent = true;
            }
        }
    }

    let responses = operation
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    let Some(responses) = responses else {
        return;
    };
    for (status, description) in shared {
        responses
            .entry(status)
            .or_insert_with(|| json!({ "description": description }));
    }
    if idempotent {
        complete_idempotent(responses);
    }
    for (status, response) in responses.iter_mut() {
        if status.starts_with('4') || status.starts_with('5') {
            as_problem(status, response);
        }
    }
}

const IDEMPOTENCY_KEY: &str = crate::idempotency::HEADER;

fn idempotency_key_parameter() -> Value {
    json!({
        "name": IDEMPOTENCY_KEY,
        "in": "header",
        "required": false,
        "description": "Makes a retry safe: a request repeated with the same key (per user) and the \
            same method, path and body gets the first reply, with `Idempotent-Replayed: true`, and \
            writes nothing; the same key with another request is refused (422 \
            `idempotency_key_reused`). Keys are remembered for 24 hours; a write that failed \
            is not remembered. A UUID is a good key.",
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": crate::idempotency::MAX_KEY_BYTES,
            "pattern": "^[!-~]+$"
        },
        "example": "8e03978e-40d5-43e8-bc93-6894a57f9324"
    })
}

/// The responses an `Idempotency-Key` adds to an operation.
fn complete_idempotent(responses: &mut Map<String, Value>) {
    for (status, response) in responses.iter_mut() {
        if status.starts_with('2')
            && let Some(response) = response.as_object_mut()
        {
            let headers = response
                .entry("headers")
                .or_insert_with(|| json!({}))
                .as_object_mut();
            if let Some(headers) = headers {
                headers.insert(
                    crate::idempotency::REPLAYED_HEADER.into(),
                    json!({
                        "description": "`true` when this is the stored reply to an earlier request \
                            with the same `Idempotency-Key`",
                        "schema": { "type": "string", "enum": ["true"] }
                    }),
                );
            }
        }
    }
    for (status, addition) in [
        (
            "400",
            "The `Idempotency-Key` header is not 1 to 255 visible ASCII characters (`invalid_idempotency_key`)",
        ),
        (
            "409",
            "The `Idempotency-Key` changed hands while this request waited (`idempotency_key_busy`); retry",
        ),
        (
            "422",
            "The `Idempotency-Key` was used for a different request (`idempotency_key_reused`)",
        ),
    ] {
        let response = responses
            .entry(status)
            .or_insert_with(|| json!({ "description": "" }));
        let description = response["description"].as_str().unwrap_or_default();
        let description = if description.is_empty() || description == status {
            addition.to_string()
        } else {
            format!("{description}; or: {addition}")
        };
        response["description"] = json!(description);
    }
}

/// An error response: its problem body, keeping any other documented body
/// (the health reports' 503), and `Retry-After` where the server sends it.
fn as_problem(status: &str, response: &mut Value) {
    let Some(response) = response.as_object_mut() else {
        return;
    };
    if !response.contains_key("description") {
        response.insert("description".into(), json!(status));
    }
    let content = response
        .entry("content")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    if let Some(content) = content {
        let problem_as_json = content
            .get("application/json")
            .is_some_and(|media| media.pointer("/schema/$ref") == Some(&json!(PROBLEM_REF)));
        if problem_as_json {
            content.remove("application/json");
        }
        content.insert(PROBLEM.into(), json!({ "schema": { "$ref": PROBLEM_REF } }));
    }
    if status == "429" || status == "503" {
        let headers = response
            .entry("headers")
            .or_insert_with(|| json!({}))
            .as_object_mut();
        if let Some(headers) = headers {
            headers.insert(
                "Retry-After".into(),
                json!({
                    "description": "Seconds to wait before retrying",
                    "schema": { "type": "integer", "minimum": 1 }
                }),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operation_gets_the_statuses_of_what_it_takes() {
        let mut document = json!({
            "paths": {
                "/api/admin/users/{id}": {
                    "post": {
                        "security": [{"bearer": []}],
                        "requestBody": {"content": {}},
                        "parameters": [{"in": "query", "name": "q"}],
                        "responses": {
                            "200": {"description": "ok"},
                            "404": {"description": "gone", "content": {"application/json": {"schema": {"$ref": PROBLEM_REF}}}}
                        }
                    }
                }
            }
        });
        complete_value(&mut document);
        let responses = &document["paths"]["/api/admin/users/{id}"]["post"]["responses"];
        let mut statuses: Vec<&String> = responses.as_object().unwrap().keys().collect();
        statuses.sort();
        assert_eq!(
            statuses,
            [
                "200", "400", "401", "403", "404", "413", "415", "422", "429", "503"
            ]
        );
        assert_eq!(responses["404"]["description"], "gone");
        assert!(
            responses["404"]["content"]
                .get("application/json")
                .is_none()
        );
        assert_eq!(
            responses["404"]["content"][PROBLEM]["schema"]["$ref"],
            PROBLEM_REF
        );
        assert!(responses["503"]["headers"].get("Retry-After").is_some());
        assert!(responses["200"].get("content").is_none());
    }

    #[test]
    fn an_idempotency_key_documents_its_format_refusals_and_replays() {
        let mut document = json!({
            "paths": {
                "/api/things/{id}": {
                    "delete": {
                        "parameters": [
                            {"in": "path", "name": "id", "required": true},
                            {"in": "header", "name": "Idempotency-Key", "required": false}
                        ],
                        "responses": {"204": {"description": "Deleted"}}
                    }
                }
            }
        });
        complete_value(&mut document);
        let operation = &document["paths"]["/api/things/{id}"]["delete"];
        let key = &operation["parameters"][1];
        assert_eq!(key["required"], false);
        assert_eq!(key["schema"]["maxLength"], 255);
        let responses = &operation["responses"];
        assert!(
            responses["204"]["headers"]
                .get("Idempotent-Replayed")
                .is_some()
        );
        for status in ["400", "409", "422"] {
            assert_eq!(
                responses[status]["content"][PROBLEM]["schema"]["$ref"],
                PROBLEM_REF
            );
        }
        assert!(
            responses["422"]["description"]
                .as_str()
                .unwrap()
                .contains("idempotency_key_reused")
        );
    }

    #[test]
    fn one_time_codes_get_the_configured_length() {
        let mut document = json!({
            "components": {"schemas": {"OtpVerify": {"properties": {
                "code": {"type": "string", "pattern": OTP_CODE_ANY_LENGTH, "example": "123456"},
                "email": {"type": "string", "pattern": "^[^\\u0000]*$"}
            }}}}
        });
        narrow_patterns(&mut document, OTP_CODE_ANY_LENGTH, "^[0-9]{8}$", "12345678");
        let properties = &document["components"]["schemas"]["OtpVerify"]["properties"];
        assert_eq!(properties["code"]["pattern"], "^[0-9]{8}$");
        assert_eq!(properties["code"]["example"], "12345678");
        assert_eq!(properties["email"]["pattern"], "^[^\\u0000]*$");
    }
}
