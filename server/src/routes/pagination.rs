//! Keyset pagination: an opaque cursor holding the last row's sort key
//! (`created_at`, id), so pages stay stable while rows are added.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::ApiError;

pub const PAGE_SIZE: i64 = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub at: OffsetDateTime,
    pub id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}|{}", self.at.unix_timestamp_nanos(), self.id))
    }

    /// # Errors
    /// 422 on anything that is not a cursor this server issued.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let invalid = || ApiError::invalid("cursor", "is not a cursor from this list");
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let (nanos, id) = text.split_once('|').ok_or_else(invalid)?;
        let nanos: i128 = nanos.parse().map_err(|_| invalid())?;
        let at = OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|_| invalid())?;
        // Only times PostgreSQL can compare with a row's created_at.
        if !(1970..=9999).contains(&at.year()) {
            return Err(invalid());
        }
        Ok(Self {
            at,
            id: id.parse().map_err(|_| invalid())?,
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
        assert!(Cursor::parse(&URL_SAFE_NO_PAD.encode("1|not-a-uuid")).is_err());
    }

    #[test]
    fn like_wildcards_in_the_search_are_literal() {
        assert_eq!(like_pattern("50%_A"), "%50\\%\\_a%");
    }
}
