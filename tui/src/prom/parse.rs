//! The Prometheus text exposition format (0.0.4), read the way a Prometheus
//! scrape reads it: `name{label="value",...} value [timestamp]` per line,
//! `#` lines are comments (HELP and TYPE carry nothing the TUI needs), and
//! one malformed line fails the whole scrape rather than yield half a picture.

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::series::{Series, Snapshot};

/// A line that is not valid exposition text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("metrics line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// Parses one scrape taken at `at`.
///
/// # Errors
/// The first malformed line, by number.
pub fn parse(text: &str, at: SystemTime) -> Result<Snapshot, ParseError> {
    let mut samples = BTreeMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = parse_sample(line).map_err(|message| ParseError {
            line: index + 1,
            message,
        })?;
        samples.insert(series, value);
    }
    Ok(Snapshot { at, samples })
}

fn parse_sample(line: &str) -> Result<(Series, f64), String> {
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .ok_or("a sample needs a value")?;
    let name = &line[..name_end];
    if !valid_name(name) {
        return Err(format!("invalid metric name {name:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after_brace) = rest.strip_prefix('{') {
        let (parsed, after) = parse_labels(after_brace)?;
        labels = parsed;
        rest = after;
    }
    let mut fields = rest.split_whitespace();
    let value = fields.next().ok_or("a sample needs a value")?;
    let value = parse_value(value)?;
    // An optional timestamp (milliseconds); the TUI uses its own scrape time,
    // as Prometheus does for exporters that do not set one.
    if let Some(timestamp) = fields.next() {
        timestamp
            .parse::<i64>()
            .map_err(|_| format!("invalid timestamp {timestamp:?}"))?;
    }
    if fields.next().is_some() {
        return Err("unexpected text after the value".into());
    }
    labels.sort();
    Ok((
        Series {
            name: name.to_string(),
            labels,
        },
        value,
    ))
}

type Labels = Vec<(String, String)>;

/// Reads `a="x",b="y"}` and returns the labels and what follows the `}`.
fn parse_labels(mut text: &str) -> Result<(Labels, &str), String> {
    let mut labels: Labels = Vec::new();
    loop {
        text = text.trim_start();
        if let Some(rest) = text.strip_prefix('}') {
            return Ok((labels, rest));
        }
        let eq = text.find('=').ok_or("a label needs `=`")?;
        let key = text[..eq].trim();
        if !valid_label_name(key) {
            return Err(format!("invalid label name {key:?}"));
        }
        let after_eq = text[eq + 1..].trim_start();
        let quoted = after_eq
            .strip_prefix('"')
            .ok_or("a label value must be quoted")?;
        let (value, rest) = parse_quoted(quoted)?;
        if labels.iter().any(|(existing, _)| existing == key) {
            return Err(format!("label {key:?} appears twice"));
        }
        labels.push((key.to_string(), value));
        text = rest.trim_start();
        if let Some(rest) = text.strip_prefix(',') {
            text = rest;
        } else if !text.starts_with('}') {
            return Err("expected `,` or `}` after a label".into());
        }
    }
}

/// Reads an escaped label value up to its closing quote.
fn parse_quoted(text: &str) -> Result<(String, &str), String> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((index, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &text[index + 1..])),
            '\\' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, '\\')) => value.push('\\'),
                Some((_, '"')) => value.push('"'),
                Some((_, other)) => {
                    value.push('\\');
                    value.push(other);
                }
                None => break,
            },
            other => value.push(other),
        }
    }
    Err("unterminated label value".into())
}

fn parse_value(text: &str) -> Result<f64, String> {
    match text {
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => text
            .parse::<f64>()
            .map_err(|_| format!("invalid value {text:?}")),
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prom::fixtures;

    #[test]
    fn a_real_scrape_parses_with_every_contract_metric() {
        let snap = fixtures::snapshot("metrics_busy_2.txt", 0);
        for name in [
            contract::metrics::HTTP_REQUESTS_IN_FLIGHT,
            contract::metrics::SESSIONS_ACTIVE,
            contract::metrics::DB_POOL_MAX_CONNECTIONS,
            contract::metrics::REDIS_UP,
            contract::metrics::PROCESS_CPU_SECONDS,
            contract::metrics::MEMORY_LIMIT,
            contract::metrics::CPU_CORES,
            contract::metrics::BUILD_INFO,
        ] {
            assert!(
                snap.select(name).next().is_some(),
                "{name} is in the scrape"
            );
        }
        assert_eq!(
            snap.get(
                "http_server_request_duration_seconds_count",
                &[("route", "/api/auth/login"), ("status", "200")]
            ),
            Some(3.0)
        );
        assert_eq!(
            snap.get(
                "http_server_request_duration_seconds_bucket",
                &[("route", "/api/health"), ("status", "200"), ("le", "+Inf")]
            ),
            Some(47.0)
        );
        assert_eq!(
            snap.label_of(contract::metrics::BUILD_INFO, "version"),
            Some("0.1.0".into())
        );
    }

    #[test]
    fn escapes_special_values_and_timestamps_are_understood() {
        let text = "# HELP m a metric\n\
                    m{path=\"a\\\"b\\\\c\\nd\",z=\"1\"} +Inf 1700000000000\n\
                    n -Inf\nnan_metric NaN\nsci 1.5e-3\n";
        let snap = parse(text, SystemTime::UNIX_EPOCH).unwrap();
        let (series, value) = snap.select("m").next().unwrap();
        assert_eq!(series.label("path"), Some("a\"b\\c\nd"));
        assert_eq!(value, f64::INFINITY);
        assert_eq!(snap.get("n", &[]), Some(f64::NEG_INFINITY));
        assert!(snap.get("nan_metric", &[]).unwrap().is_nan());
        assert_eq!(snap.get("sci", &[]), Some(0.0015));
    }

    #[test]
    fn a_malformed_line_fails_the_scrape_and_names_its_number() {
        for (text, line) in [
            ("ok 1\nbroken{a=\"1\" 2\n", 2),
            ("ok 1\n\nnovalue\n", 3),
            ("m{a=unquoted} 1\n", 1),
            ("m 1 notatimestamp\n", 1),
            ("m{a=\"1\",a=\"2\"} 1\n", 1),
            ("9starts_with_digit 1\n", 1),
            ("<html> 1\n", 1),
        ] {
            let error = parse(text, SystemTime::UNIX_EPOCH).unwrap_err();
            assert_eq!(error.line, line, "{text:?}: {error}");
        }
    }

    #[test]
    fn an_html_error_page_is_not_taken_for_metrics() {
        assert!(
            parse(
                "<html><body>Bad Gateway</body></html>",
                SystemTime::UNIX_EPOCH
            )
            .is_err()
        );
    }
}
