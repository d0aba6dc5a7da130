//! Validated values: parse, don't validate. Handlers turn raw input into
//! these types at the edge and work with them afterwards.

pub mod email;
pub mod password;
pub mod role;
