//! Keyset pagination: a cursor holding the last row's sort key
//! (`created_at`, id), so pages stay stable while rows are added. Clients
//! treat it as opaque; its shape is [`CURSOR_PATTERN`], exactly, so the
//! OpenAPI document can say which cursors the server takes.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::ApiError;

pub const PAGE_SIZE: i64 = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub at: OffsetDateTime,
    pub id: Uuid,
}

/// Every cursor [`Cursor::parse`] takes, and nothing else: nanoseconds since
/// 1970 (at most 19 digits, so within PostgreSQL's range), `_`, and the row
/// id as 32 lowercase hex digits. The query parameters' `pattern` repeats it.
pub const CURSOR_PATTERN: &str = "^[0-9]{1,19}_[0-9a-f]{32}$";

impl Cursor {
    pub fn encode(&self) -> String {
        format!("{}_{}", self.at.unix_timestamp_nanos(), self.id.simple())
    }

    /// # Errors
    /// 422 on anything that does not match [`CURSOR_PATTERN`].
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let invalid = || ApiError::invalid("cursor", "is not a cursor from this list");
        let (nanos, id) = raw.split_once('_').ok_or_else(invalid)?;
        let digits =
            !nanos.is_empty() && nanos.len() <= 19 && nanos.bytes().all(|b| b.is_ascii_digit());
        let hex = id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !digits || !hex {
            return Err(invalid());
        }
        let nanos: i128 = nanos.parse().map_err(|_| invalid())?;
        let at = OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|_| invalid())?;
        Ok(Self {
            at,
            id: Uuid::try_parse(id).map_err(|_| invalid())?,
        })
    }

    /// Splits `PAGE_SIZE + 1` fetched rows into a page and the next cursor.
    pub fn split_page<T>(mut rows: Vec<T>, key: impl Fn(&T) -> Self) -> (Vec<T>, Option<String>) {
        let page_size = usize::try_from(PAGE_SIZE).unwrap_or(50);
        if rows.len() <= page_size {
            return (rows, None);
        }
        rows.truncate(page_size);
        let next = rows.last().map(|row| key(row).encode());
        (rows, next)
    }
}

/// A case-insensitive `like` pattern matching `text` anywhere, with the
/// wildcards in `text` escaped.
pub fn like_pattern(text: &str) -> String {
    let escaped: String = text
        .to_lowercase()
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            other => vec![other],
        })
        .collect();
    format!("%{escaped}%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = Cursor {
            at: OffsetDateTime::now_utc(),
            id: Uuid::new_v4(),
        };
        assert_eq!(Cursor::parse(&cursor.encode()).unwrap(), cursor);
        assert!(Cursor::parse("garbage!").is_err());
        let id = Uuid::new_v4().simple().to_string();
        assert!(Cursor::parse(&format!("0_{id}")).is_ok());
        assert!(Cursor::parse(&format!("9999999999999999999_{id}")).is_ok());
        for refused in [
            format!("_{id}"),
            format!("-1_{id}"),
            format!("+1_{id}"),
            format!("10000000000000000000_{id}"),
            format!("1_{}", id.to_uppercase()),
            format!("1_{}", Uuid::new_v4()),
            format!("1_{id}\n"),
            String::new(),
        ] {
            assert!(Cursor::parse(&refused).is_err(), "{refused:?}");
        }
    }

    #[test]
    fn like_wildcards_in_the_search_are_literal() {
        assert_eq!(like_pattern("50%_A"), "%50\\%\\_a%");
    }
}
