//! Prometheus durations (`5m`, `1h30m`, `500ms`, `0s`), as written in
//! `for:` and in range selectors like `[5m]`.

use std::time::Duration;

const UNITS: &[(&str, u64)] = &[
    ("y", 365 * 24 * 3600 * 1000),
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("ms", 1),
    ("m", 60 * 1000),
    ("s", 1000),
];

/// Units must appear largest first, each at most once, as Prometheus requires.
const ORDER: &[&str] = &["y", "w", "d", "h", "m", "s", "ms"];

/// Parses a Prometheus duration.
///
/// # Errors
/// A message naming what is wrong.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = text;
    let mut millis: u64 = 0;
    let mut last_unit: Option<usize> = None;
    if rest.is_empty() {
        return Err("empty duration".into());
    }
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("{text:?} is not a duration like 5m or 1h30m"));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("{text:?}: number too large"))?;
        rest = &rest[digits..];
        let (unit, factor) = UNITS
            .iter()
            .find(|(unit, _)| rest.starts_with(unit))
            .ok_or_else(|| format!("{text:?}: unit must be one of ms, s, m, h, d, w, y"))?;
        let position = ORDER.iter().position(|u| u == unit).unwrap_or(0);
        if last_unit.is_some_and(|last| position <= last) {
            return Err(format!("{text:?}: units must go from largest to smallest"));
        }
        last_unit = Some(position);
        rest = &rest[unit.len()..];
        millis = number
            .checked_mul(*factor)
            .and_then(|ms| ms.checked_add(millis))
            .ok_or_else(|| format!("{text:?}: too long"))?;
    }
    Ok(Duration::from_millis(millis))
}

/// Formats a duration the way Prometheus writes it (`5m`, `1h30m`, `0s`).
pub fn format_duration(duration: Duration) -> String {
    let mut millis = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    if millis == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for unit in ORDER {
        let factor = UNITS
            .iter()
            .find(|(u, _)| u == unit)
            .map_or(1, |(_, factor)| *factor);
        if millis >= factor {
            out.push_str(&format!("{}{unit}", millis / factor));
            millis %= factor;
        }
    }
    out
}

/// The first range selector of a PromQL expression (`rate(x[5m])` → 5m):
/// the window the rule computes its rates over.
pub fn range_of(expr: &str) -> Option<Duration> {
    let start = expr.find('[')? + 1;
    let end = start + expr[start..].find(']')?;
    parse_duration(expr[start..end].trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_durations_parse() {
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(
            parse_duration("1m30s500ms"),
            Ok(Duration::from_millis(90_500))
        );
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
    }

    #[test]
    fn malformed_durations_are_refused() {
        for bad in [
            "", "5", "m", "5 m", "1.5m", "30s1m", "5mm", "5x", "-5m", "1m1m",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations_format_back() {
        for text in ["5m", "1h30m", "500ms", "0s", "15m", "1m30s"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
    }

    #[test]
    fn the_range_of_a_rule_expression_is_its_window() {
        let expr = "sum by (instance) (rate(process_cpu_seconds_total{job=\"tenk\"}[5m]))";
        assert_eq!(range_of(expr), Some(Duration::from_secs(300)));
        assert_eq!(range_of("max by (job) (tenk_sessions_active)"), None);
    }
}
