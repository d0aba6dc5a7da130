//! Timestamps on the wire are RFC 3339 strings in UTC.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// Formats Unix milliseconds (how sessions store time).
pub fn rfc3339_ms(unix_ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ms) * 1_000_000)
        .map(rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn milliseconds_format_as_rfc3339_utc() {
        assert_eq!(super::rfc3339_ms(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339_ms(1_500), "1970-01-01T00:00:01.5Z");
    }
}
