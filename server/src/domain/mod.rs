//! Validated values: parse, don't validate. Handlers turn raw input into
//! these types at the edge and work with them afterwards. A refusal is an
//! [`Invalid`], which knows nothing of HTTP (`error.rs` makes it a 422).

pub mod email;
pub mod password;
pub mod role;

/// A value refused at the edge: the field it came from and the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {message}")]
pub struct Invalid {
    pub field: String,
    pub message: &'static str,
}

impl Invalid {
    pub fn new(field: &str, message: &'static str) -> Self {
        Self {
            field: field.to_string(),
            message,
        }
    }
}
