//! The production log format: one JSON object per event, its fields at the
//! top level beside `timestamp`, `level` and `target` (the shape of
//! tracing-subscriber's flattened JSON), written straight into the line.
//! tracing-subscriber's own JSON formatter builds a serde map per event;
//! every request writes an access-log line, so this is on the hot path.

use std::fmt::{self, Write};

use time::OffsetDateTime;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

pub(super) struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _context: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let metadata = event.metadata();
        writer.write_str("{\"timestamp\":\"")?;
        write_timestamp(&mut writer, OffsetDateTime::now_utc())?;
        writer.write_str("\",\"level\":\"")?;
        writer.write_str(metadata.level().as_str())?;
        writer.write_str("\",\"target\":")?;
        write_string(&mut writer, metadata.target())?;
        let mut fields = Fields {
            writer: &mut writer,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        writer.write_str("}\n")
    }
}

/// RFC 3339 in UTC with microseconds, as `2026-12-03T17:23:28.369725Z`.
fn write_timestamp(writer: &mut impl Write, now: OffsetDateTime) -> fmt::Result {
    let (hour, minute, second, micro) = now.to_hms_micro();
    write!(
        writer,
        "{:04}-{:02}-{:02}T{hour:02}:{minute:02}:{second:02}.{micro:06}Z",
        now.year(),
        u8::from(now.month()),
        now.day()
    )
}

/// Writes each field as `,"name":value`.
struct Fields<'a, W> {
    writer: &'a mut W,
    result: fmt::Result,
}

impl<W: Write> Fields<'_, W> {
    fn field(&mut self, field: &Field, value: impl FnOnce(&mut W) -> fmt::Result) {
        if self.result.is_ok() {
            self.result = (|| {
                self.writer.write_char(',')?;
                write_string(self.writer, field.name())?;
                self.writer.write_char(':')?;
                value(self.writer)
            })();
        }
    }
}

impl<W: Write> Visit for Fields<'_, W> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field, |writer| write_string(writer, value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, |writer| {
            writer.write_str(if value { "true" } else { "false" })
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, |writer| write!(writer, "{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, |writer| write!(writer, "{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // JSON has no NaN or infinity.
        self.field(field, |writer| {
            if value.is_finite() {
                write!(writer, "{value}")
            } else {
                writer.write_str("null")
            }
        });
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.field(field, |writer| {
            writer.write_char('"')?;
            write!(Escaped(writer), "{value}")?;
            writer.write_char('"')
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.field(field, |writer| {
            writer.write_char('"')?;
            write!(Escaped(writer), "{value:?}")?;
            writer.write_char('"')
        });
    }
}

fn write_string(writer: &mut impl Write, value: &str) -> fmt::Result {
    writer.write_char('"')?;
    Escaped(&mut *writer).write_str(value)?;
    writer.write_char('"')
}

/// Escapes what it is given as the inside of a JSON string.
struct Escaped<'a, W>(&'a mut W);

impl<W: Write> Write for Escaped<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut plain = 0;
        for (index, byte) in text.bytes().enumerate() {
            let escape = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0..=0x1f => "",
                _ => continue,
            };
            self.0.write_str(&text[plain..index])?;
            if escape.is_empty() {
                write!(self.0, "\\u{byte:04x}")?;
            } else {
                self.0.write_str(escape)?;
            }
            plain = index + 1;
        }
        self.0.write_str(&text[plain..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(text: &str) -> String {
        let mut out = String::new();
        write_string(&mut out, text).expect("writes");
        out
    }

    #[test]
    fn strings_are_valid_json_whatever_they_hold() {
        for text in [
            "plain",
            "quo\"te",
            "back\\slash",
            "line\nbreak",
            "\u{1}\u{1f}",
            "é ✓ 🦀",
            "",
        ] {
            let json = escaped(text);
            let parsed: String = serde_json::from_str(&json).expect("valid JSON");
            assert_eq!(parsed, text, "{json}");
        }
    }

    #[test]
    fn an_event_is_one_json_object_with_its_fields_at_the_top() {
        use std::sync::{Arc, Mutex};
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || Sink(sink.clone()))
            .event_format(JsonLines)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let error = std::io::Error::other("disk \"full\"");
            tracing::warn!(
                target: "access",
                route = "/api/users/{id}",
                status = 503_u64,
                delta = -2_i64,
                latency_ms = 1.5,
                ratio = f64::NAN,
                cached = true,
                method = ?axum::http::Method::GET,
                error = &error as &(dyn std::error::Error + 'static),
                "request"
            );
        });
        let text = String::from_utf8(buffer.lock().expect("buffer").clone()).expect("UTF-8");
        assert_eq!(text.matches('\n').count(), 1, "one line: {text}");
        let line: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["target"], "access");
        assert_eq!(line["message"], "request");
        assert_eq!(line["route"], "/api/users/{id}");
        assert_eq!(line["status"], 503);
        assert_eq!(line["delta"], -2);
        assert_eq!(line["latency_ms"], 1.5);
        assert!(line["ratio"].is_null());
        assert_eq!(line["cached"], true);
        assert_eq!(line["method"], "GET");
        assert_eq!(line["error"], "disk \"full\"");
        assert!(line["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    }

    struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("buffer").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn timestamps_are_rfc_3339_with_microseconds() {
        let at =
            OffsetDateTime::from_unix_timestamp_nanos(1_796_318_608_369_725_123).expect("in range");
        let mut out = String::new();
        write_timestamp(&mut out, at).expect("writes");
        assert_eq!(out, "2026-12-03T17:23:28.369725Z");
    }
}
