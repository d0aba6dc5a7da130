//! Parsers for single environment values, and the units the defaults are
//! written in. Each parser returns what was expected when it refuses a value,
//! which [`super::ConfigError`] prints next to the variable and the value.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;
use sqlx::postgres::PgConnectOptions;

use super::{ConfigError, Policy};

/// Why a value was refused: what was expected, and what to print instead of
/// the value when it must not be printed (a secret, a URL's password).
pub(super) struct Refusal {
    expected: String,
    shown: Option<String>,
}

impl Refusal {
    /// A URL, printed with its password masked.
    pub(super) fn url(raw: &str, expected: impl Into<String>) -> Self {
        Self {
            expected: expected.into(),
            shown: Some(super::redact_url(raw)),
        }
    }

    /// A secret, of which only the length is printed.
    pub(super) fn secret(raw: &str, expected: impl Into<String>) -> Self {
        Self {
            expected: expected.into(),
            shown: Some(format!("<redacted, {} bytes>", raw.len())),
        }
    }

    /// The error for `var` set to `raw`.
    pub(super) fn of(self, var: &'static str, raw: &str) -> ConfigError {
        ConfigError {
            var,
            value: Some(self.shown.unwrap_or_else(|| raw.to_string())),
            expected: self.expected,
        }
    }
}

impl From<String> for Refusal {
    fn from(expected: String) -> Self {
        Self {
            expected,
            shown: None,
        }
    }
}

pub(super) const fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

pub(super) const fn millis(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

pub(super) const fn days(days: u64) -> Duration {
    Duration::from_secs(days * 86_400)
}

/// At most `limit` requests per `seconds`.
pub(super) const fn per(limit: u32, seconds: u64) -> Policy {
    Policy {
        limit,
        window: Duration::from_secs(seconds),
    }
}

/// The cores this process may use (a default for the thread and queue sizes).
pub(super) fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

/// `a, b or c`: what a choice among `names` expects.
pub(crate) fn one_of(names: &[&str]) -> String {
    match names.split_last() {
        Some((last, [])) => (*last).to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// What `parse` reads, with zero meaning "off".
pub(super) fn nonzero(
    parse: impl Fn(&str) -> Result<Duration, String>,
) -> impl Fn(&str) -> Result<Option<Duration>, String> {
    move |raw| parse(raw).map(|value| (!value.is_zero()).then_some(value))
}

/// The value as written.
pub(super) fn text(raw: &str) -> Result<String, String> {
    Ok(raw.to_string())
}

pub(super) fn ip_address(raw: &str) -> Result<IpAddr, String> {
    IpAddr::from_str(raw.trim()).map_err(|_| "an IP address such as 0.0.0.0 or ::".into())
}

pub(super) fn socket_address(raw: &str) -> Result<SocketAddr, String> {
    raw.trim()
        .parse()
        .map_err(|_| "an address such as 127.0.0.1:9100".into())
}

/// An `EnvFilter` directive.
pub(super) fn log_filter(raw: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(raw.trim())
        .map(|_| raw.trim().to_string())
        .map_err(|_| {
            "a level (error, warn, info, debug, trace) or a filter such as tenk_server=debug,info"
                .into()
        })
}

/// A Redis key prefix; braces would pin every key to one Cluster slot.
pub(super) fn key_prefix(raw: &str) -> Result<String, String> {
    if raw.len() > 64
        || raw
            .chars()
            .any(|c| c.is_whitespace() || c == '{' || c == '}')
    {
        return Err("at most 64 characters without spaces or braces".into());
    }
    Ok(raw.to_string())
}

pub(super) fn mailbox(raw: &str) -> Result<String, String> {
    match raw.parse::<lettre::message::Mailbox>() {
        Ok(_) => Ok(raw.to_string()),
        Err(_) => Err("a mailbox such as \"tenk <no-reply@example.com>\"".into()),
    }
}

pub(super) fn app_url(raw: &str) -> Result<String, String> {
    if raw.starts_with("https://") || raw.starts_with("http://") {
        Ok(raw.trim_end_matches('/').to_string())
    } else {
        Err("an http(s):// URL such as https://app.example.com".into())
    }
}

/// A secret of at least `min` bytes.
pub(super) fn secret(
    min: usize,
    expected: &'static str,
) -> impl Fn(&str) -> Result<SecretString, Refusal> {
    move |raw| {
        if raw.len() < min {
            return Err(Refusal::secret(raw, expected));
        }
        Ok(SecretString::from(raw))
    }
}

pub(super) fn dsn(raw: &str) -> Result<SecretString, Refusal> {
    match raw.parse::<sentry::types::Dsn>() {
        Ok(_) => Ok(SecretString::from(raw)),
        Err(_) => Err(Refusal::url(
            raw,
            "a DSN such as https://key@o1.ingest.sentry.io/1",
        )),
    }
}

/// A PostgreSQL URL; its password is masked in the refusal.
pub(super) fn postgres_url(raw: &str) -> Result<SecretString, Refusal> {
    let expected = "a URL such as postgres://user:password@host:5432/database";
    if !(raw.starts_with("postgres://") || raw.starts_with("postgresql://"))
        || PgConnectOptions::from_str(raw).is_err()
    {
        return Err(Refusal::url(raw, expected));
    }
    Ok(SecretString::from(raw))
}

/// Comma-separated PostgreSQL URLs.
pub(super) fn postgres_urls(raw: &str) -> Result<Vec<SecretString>, Refusal> {
    raw.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(postgres_url)
        .collect()
}

/// A whole number within `min..=max`.
pub(super) fn int<T>(min: T, max: T) -> impl Fn(&str) -> Result<T, String>
where
    T: FromStr + PartialOrd + std::fmt::Display + Copy,
{
    move |raw| {
        let expected = || format!("a whole number from {min} to {max}");
        let value: T = raw.trim().parse().map_err(|_| expected())?;
        if value < min || value > max {
            return Err(expected());
        }
        Ok(value)
    }
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
pub(super) fn within(min: Duration, max: Duration) -> impl Fn(&str) -> Result<Duration, String> {
    move |raw| {
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
}

/// Parses a byte size: a bare number of bytes, or with `kb`, `mb` (powers of 1024).
pub(super) fn bytes(min: usize, max: usize) -> impl Fn(&str) -> Result<usize, String> {
    move |raw| {
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
}

/// Parses a rate-limit policy such as `50/5m` (a count per duration).
pub(crate) fn policy(raw: &str) -> Result<Policy, String> {
    let expected = || "a limit per window such as 50/5m, 1000/1m or 5/15m".to_string();
    let (limit, window) = raw.trim().split_once('/').ok_or_else(expected)?;
    let limit: u32 = limit.trim().parse().map_err(|_| expected())?;
    let window = within(secs(1), days(1))(window).map_err(|_| expected())?;
    if limit == 0 || limit > 1_000_000 {
        return Err(expected());
    }
    Ok(Policy { limit, window })
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
        assert_eq!(within(any.0, any.1)("20"), Ok(Duration::from_secs(20)));
        assert_eq!(
            within(any.0, any.1)("500ms"),
            Ok(Duration::from_millis(500))
        );
        assert_eq!(within(any.0, any.1)("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(within(any.0, any.1)("2h"), Ok(Duration::from_secs(7200)));
    }

    #[test]
    fn durations_out_of_range_or_malformed_are_refused() {
        let (min, max) = (Duration::from_secs(1), Duration::from_secs(60));
        for raw in ["0", "61", "abc", "5 minutes", "-1", "", "10d"] {
            assert!(within(min, max)(raw).is_err(), "{raw} was accepted");
        }
    }

    #[test]
    fn whole_numbers_are_bounded() {
        assert_eq!(int::<u32>(1, 10_000)("20"), Ok(20));
        assert_eq!(
            int::<u32>(1, 10_000)("abc"),
            Err("a whole number from 1 to 10000".to_string())
        );
        assert!(int::<u32>(1, 10_000)("0").is_err());
    }

    #[test]
    fn byte_sizes_accept_units() {
        assert_eq!(bytes(1, usize::MAX)("1mb"), Ok(1_048_576));
        assert_eq!(bytes(1, usize::MAX)("64kb"), Ok(65_536));
        assert!(bytes(1, usize::MAX)("1gb").is_err());
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
