//! Parsers for single environment values. Each returns the text of what was
//! expected, which [`super::ConfigError`] prints next to the variable and value.

use std::time::Duration;

/// Parses a whole number within `min..=max`.
pub(crate) fn whole_number<T>(raw: &str, min: T, max: T) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let expected = || format!("a whole number from {min} to {max}");
    let value: T = raw.trim().parse().map_err(|_| expected())?;
    if value < min || value > max {
        return Err(expected());
    }
    Ok(value)
}

/// Parses `true/false`, `1/0`, `yes/no`, `on/off`.
pub(crate) fn boolean(raw: &str) -> Result<bool, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("true or false".into()),
    }
}

/// Parses a duration: a bare number is seconds (the seed's convention, e.g.
/// `DB_IDLE_TIMEOUT=20`); `ms`, `s`, `m` and `h` suffixes are accepted too.
pub(crate) fn duration(raw: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let expected = || {
        format!(
            "a duration from {} to {} such as 30, 30s, 500ms, 15m or 2h",
            human(min),
            human(max)
        )
    };
    let text = raw.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let amount: u64 = digits.parse().map_err(|_| expected())?;
    let value = match unit {
        "" | "s" => Duration::from_secs(amount),
        "ms" => Duration::from_millis(amount),
        "m" => Duration::from_secs(amount.checked_mul(60).ok_or_else(expected)?),
        "h" => Duration::from_secs(amount.checked_mul(3600).ok_or_else(expected)?),
        _ => return Err(expected()),
    };
    if value < min || value > max {
        return Err(expected());
    }
    Ok(value)
}

/// Parses a byte size: a bare number of bytes, or with `kb`, `mb` (powers of 1024).
pub(crate) fn byte_size(raw: &str, min: usize, max: usize) -> Result<usize, String> {
    let expected = || format!("a size from {min} to {max} bytes, such as 1048576, 64kb or 1mb");
    let text = raw.trim().to_ascii_lowercase();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let amount: usize = digits.parse().map_err(|_| expected())?;
    let factor = match unit {
        "" | "b" => 1,
        "kb" | "k" | "kib" => 1024,
        "mb" | "m" | "mib" => 1024 * 1024,
        _ => return Err(expected()),
    };
    let value = amount.checked_mul(factor).ok_or_else(expected)?;
    if value < min || value > max {
        return Err(expected());
    }
    Ok(value)
}

/// Parses a rate-limit policy such as `50/5m` (a count per duration).
pub(crate) fn policy(raw: &str) -> Result<super::Policy, String> {
    let expected = || "a limit per window such as 50/5m, 1000/1m or 5/15m".to_string();
    let (limit, window) = raw.trim().split_once('/').ok_or_else(expected)?;
    let limit: u32 = limit.trim().parse().map_err(|_| expected())?;
    let window = duration(window, Duration::from_secs(1), Duration::from_secs(86_400))
        .map_err(|_| expected())?;
    if limit == 0 || limit > 1_000_000 {
        return Err(expected());
    }
    Ok(super::Policy { limit, window })
}

/// Parses a comma-separated list of CIDR blocks or single addresses.
pub(crate) fn networks(raw: &str) -> Result<Vec<ipnet::IpNet>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.parse::<ipnet::IpNet>()
                .or_else(|_| part.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("CIDR blocks such as 10.0.0.0/8,127.0.0.1 (not {part})"))
        })
        .collect()
}

/// Formats a duration the way the parser reads it back.
pub(crate) fn human(duration: Duration) -> String {
    let millis = duration.as_millis();
    if !millis.is_multiple_of(1000) {
        format!("{millis}ms")
    } else {
        format!("{}s", duration.as_secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_numbers_are_seconds_and_suffixes_are_honoured() {
        let any = (Duration::ZERO, Duration::from_secs(86_400));
        assert_eq!(duration("20", any.0, any.1), Ok(Duration::from_secs(20)));
        assert_eq!(
            duration("500ms", any.0, any.1),
            Ok(Duration::from_millis(500))
        );
        assert_eq!(duration("15m", any.0, any.1), Ok(Duration::from_secs(900)));
        assert_eq!(duration("2h", any.0, any.1), Ok(Duration::from_secs(7200)));
    }

    #[test]
    fn durations_out_of_range_or_malformed_are_refused() {
        let (min, max) = (Duration::from_secs(1), Duration::from_secs(60));
        for raw in ["0", "61", "abc", "5 minutes", "-1", "", "10d"] {
            assert!(duration(raw, min, max).is_err(), "{raw} was accepted");
        }
    }

    #[test]
    fn whole_numbers_are_bounded() {
        assert_eq!(whole_number::<u32>("20", 1, 10_000), Ok(20));
        assert_eq!(
            whole_number::<u32>("abc", 1, 10_000),
            Err("a whole number from 1 to 10000".to_string())
        );
        assert!(whole_number::<u32>("0", 1, 10_000).is_err());
    }

    #[test]
    fn byte_sizes_accept_units() {
        assert_eq!(byte_size("1mb", 1, usize::MAX), Ok(1_048_576));
        assert_eq!(byte_size("64kb", 1, usize::MAX), Ok(65_536));
        assert!(byte_size("1gb", 1, usize::MAX).is_err());
    }

    #[test]
    fn policies_and_networks_parse() {
        let policy = policy("50/5m").unwrap();
        assert_eq!(
            (policy.limit, policy.window),
            (50, Duration::from_secs(300))
        );
        for bad in ["50", "0/1m", "x/1m", "5/0", "5/1d"] {
            assert!(super::policy(bad).is_err(), "{bad}");
        }
        assert_eq!(networks("10.0.0.0/8, 127.0.0.1").unwrap().len(), 2);
        assert!(networks("10.0.0.0/33").is_err());
    }

    #[test]
    fn booleans_accept_the_usual_spellings() {
        assert_eq!(boolean("TRUE"), Ok(true));
        assert_eq!(boolean("off"), Ok(false));
        assert!(boolean("maybe").is_err());
    }
}
