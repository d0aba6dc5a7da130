//! How numbers, times and durations are written on screen. A value that
//! rounds to its threshold while not equal to it gets more digits, so a
//! red "200 ms" never sits next to a "> 200 ms" threshold.

use std::time::{Duration, SystemTime};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::thresholds::Unit;

pub const NONE: &str = "–";

/// A value in its threshold's unit: `201 ms`, `1.01 %`, `8,001`.
pub fn unit_value(value: f64, unit: Unit) -> String {
    unit_value_digits(value, unit, 0)
}

fn unit_value_digits(value: f64, unit: Unit, extra: usize) -> String {
    match unit {
        Unit::Seconds => seconds_digits(value, extra),
        Unit::Ratio => percent_digits(value, 2 + extra),
        Unit::Count => {
            if extra == 0 {
                count(value)
            } else {
                format!("{value:.extra$}")
            }
        }
    }
}

/// Like [`unit_value`], with digits added until `value` and `threshold`
/// no longer look equal (when they are not).
pub fn unit_value_near(value: f64, threshold: f64, unit: Unit) -> String {
    let mut extra = 0;
    loop {
        let shown = unit_value_digits(value, unit, extra);
        if value == threshold || extra >= 6 || shown != unit_value_digits(threshold, unit, extra) {
            return shown;
        }
        extra += 1;
    }
}

/// A threshold as the rules write it, in its unit: `200 ms`, `1 %`, `8,000`.
pub fn threshold(value: f64, unit: Unit) -> String {
    let trim = |v: f64| {
        let text = format!("{v:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    match unit {
        Unit::Ratio => format!("{} %", trim(value * 100.0)),
        Unit::Seconds if value < 1.0 => format!("{} ms", trim(value * 1000.0)),
        Unit::Seconds => format!("{} s", trim(value)),
        Unit::Count => count(value),
    }
}

/// Seconds as `0.8 ms`, `12 ms`, `1.20 s`.
pub fn seconds(value: f64) -> String {
    seconds_digits(value, 0)
}

fn seconds_digits(value: f64, extra: usize) -> String {
    if !value.is_finite() {
        return if value > 0.0 {
            "+Inf".into()
        } else {
            NONE.into()
        };
    }
    let ms = value * 1000.0;
    if ms < 10.0 && extra == 0 {
        format!("{ms:.1} ms")
    } else if ms < 1000.0 {
        format!("{ms:.extra$} ms")
    } else {
        let digits = 2 + extra;
        format!("{value:.digits$} s")
    }
}

/// A ratio as a percentage with `digits` decimals.
pub fn percent_digits(ratio: f64, digits: usize) -> String {
    format!("{:.digits$} %", ratio * 100.0)
}

/// A ratio as a percentage with one decimal (`12.3%`), for narrow columns.
pub fn percent_short(ratio: f64) -> String {
    format!("{:.1}%", ratio * 100.0)
}

/// A whole number with thousands separators.
pub fn count(value: f64) -> String {
    let rounded = value.round();
    let negative = rounded < 0.0;
    let digits = format!("{:.0}", rounded.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if negative { format!("-{out}") } else { out }
}

/// Requests per second: `0.50`, `12.3`, `1,234`.
pub fn rate(value: f64) -> String {
    if value < 10.0 {
        format!("{value:.2}")
    } else if value < 100.0 {
        format!("{value:.1}")
    } else {
        count(value)
    }
}

/// A duration in its two largest units: `45s`, `3m12s`, `2h05m`, `3d04h`.
pub fn age(duration: Duration) -> String {
    let s = duration.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// Wall-clock time of day, UTC: `12:03:04`.
pub fn clock(at: SystemTime) -> String {
    let t = OffsetDateTime::from(at);
    format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
}

/// An RFC 3339 timestamp from the API as `11-29 10:05:03` (UTC), or as
/// given when it does not parse.
pub fn timestamp(text: &str) -> String {
    match OffsetDateTime::parse(text, &Rfc3339) {
        Ok(t) => {
            let t = t.to_offset(time::UtcOffset::UTC);
            format!(
                "{:02}-{:02} {}",
                u8::from(t.month()),
                t.day(),
                clock(t.into())
            )
        }
        Err(_) => text.to_string(),
    }
}

/// Like [`timestamp`] without the seconds: `11-29 10:05`.
pub fn timestamp_short(text: &str) -> String {
    let long = timestamp(text);
    if long.len() == 14 {
        long[..11].to_string()
    } else {
        long
    }
}

/// Bytes in binary units: `18.0 MiB`.
pub fn bytes(value: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = value;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Cuts `text` to `width` characters, marking the cut with `…`.
pub fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(width - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_around_the_thresholds_read_as_they_compare() {
        assert_eq!(unit_value(0.199, Unit::Seconds), "199 ms");
        assert_eq!(unit_value(0.201, Unit::Seconds), "201 ms");
        assert_eq!(unit_value(0.0099, Unit::Ratio), "0.99 %");
        assert_eq!(unit_value(0.0101, Unit::Ratio), "1.01 %");
        assert_eq!(unit_value(8001.0, Unit::Count), "8,001");
        assert_eq!(threshold(0.2, Unit::Seconds), "200 ms");
        assert_eq!(threshold(0.01, Unit::Ratio), "1 %");
        assert_eq!(threshold(0.8, Unit::Ratio), "80 %");
        assert_eq!(threshold(8000.0, Unit::Count), "8,000");
        assert_eq!(threshold(1.5, Unit::Seconds), "1.5 s");
        // Just above the threshold: never shown as equal to it.
        assert_eq!(unit_value_near(0.200_4, 0.2, Unit::Seconds), "200.4 ms");
        assert_eq!(unit_value_near(0.010_001, 0.01, Unit::Ratio), "1.0001 %");
        assert_eq!(unit_value_near(0.2, 0.2, Unit::Seconds), "200 ms");
        assert_eq!(unit_value_near(0.8, 0.8, Unit::Ratio), "80.00 %");
    }

    #[test]
    fn numbers_and_durations_are_compact() {
        assert_eq!(seconds(0.000_8), "0.8 ms");
        assert_eq!(seconds(1.2), "1.20 s");
        assert_eq!(seconds(f64::INFINITY), "+Inf");
        assert_eq!(count(1_234_567.0), "1,234,567");
        assert_eq!(count(12.0), "12");
        assert_eq!(rate(0.5), "0.50");
        assert_eq!(rate(1234.4), "1,234");
        assert_eq!(age(Duration::from_secs(192)), "3m12s");
        assert_eq!(age(Duration::from_secs(7_500)), "2h05m");
        assert_eq!(age(Duration::from_secs(273_600)), "3d04h");
        assert_eq!(bytes(18_874_368.0), "18.0 MiB");
        assert_eq!(truncate("Mozilla/5.0 (X11)", 8), "Mozilla…");
        assert_eq!(timestamp("2026-11-29T10:05:03.123Z"), "11-29 10:05:03");
        assert_eq!(timestamp("yesterday"), "yesterday");
        assert_eq!(
            clock(SystemTime::UNIX_EPOCH + Duration::from_secs(3_723)),
            "01:02:03"
        );
    }
}
