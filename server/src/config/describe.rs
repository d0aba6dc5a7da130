//! How `tenk-server check-config` shows each setting (the `show` of the
//! declarations in `mod.rs`), with every secret redacted.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::parse::human;
use super::{CorsOrigins, Policy, RedisTopology};

/// Replaces the password of a `scheme://user:password@host/...` URL with `***`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let authority_end = url[scheme_end..]
        .find('/')
        .map_or(url.len(), |i| scheme_end + i);
    match url[scheme_end..authority_end].rfind('@') {
        None => url.to_string(),
        Some(at) => {
            let userinfo = &url[scheme_end..scheme_end + at];
            let user = userinfo.split(':').next().unwrap_or_default();
            let masked = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_string()
            };
            format!("{}{masked}{}", &url[..scheme_end], &url[scheme_end + at..])
        }
    }
}

/// One `check-config` value: `show` applied to the field (a function, so a
/// declaration's closure gets its argument's type).
pub(super) fn line<T>(value: &T, show: impl FnOnce(&T) -> String) -> String {
    show(value)
}

pub(super) fn text<T: ToString>(value: &T) -> String {
    value.to_string()
}

pub(super) fn optional_text(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "<unset>".into())
}

pub(super) fn duration(value: &Duration) -> String {
    human(*value)
}

pub(super) fn secret(_: &SecretString) -> String {
    "<redacted>".into()
}

pub(super) fn optional_secret(value: &Option<SecretString>) -> String {
    value.as_ref().map_or_else(|| "<unset>".into(), secret)
}

pub(super) fn url(value: &SecretString) -> String {
    redact_url(value.expose_secret())
}

pub(super) fn optional_url(value: &Option<SecretString>) -> String {
    value.as_ref().map_or_else(|| "<unset>".into(), url)
}

pub(super) fn urls(values: &impl AsRef<[SecretString]>) -> String {
    values
        .as_ref()
        .iter()
        .map(url)
        .collect::<Vec<_>>()
        .join(",")
}

pub(super) fn list<T: ToString>(values: &impl AsRef<[T]>) -> String {
    values
        .as_ref()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

pub(super) fn policy(policy: &Policy) -> String {
    format!("{}/{}", policy.limit, human(policy.window))
}

pub(super) fn cluster_mode(on: &bool) -> String {
    format!("{on} (ignored: WORKERS threads use every core)")
}

pub(super) fn metrics_addr(addr: &Option<std::net::SocketAddr>) -> String {
    addr.map_or_else(|| "<unset: /metrics on PORT>".into(), |a| a.to_string())
}

pub(super) fn hsts(age: &Option<Duration>) -> String {
    age.map_or_else(|| "0 (off)".into(), human)
}

pub(super) fn cors_origins(origins: &CorsOrigins) -> String {
    match origins {
        CorsOrigins::None => "<unset: no CORS headers>".into(),
        CorsOrigins::Any => "*".into(),
        CorsOrigins::List(list) => list.join(","),
    }
}

pub(super) fn topology(topology: &RedisTopology) -> String {
    topology.name().into()
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};

    use super::redact_url;
    use crate::config::Settings;

    #[test]
    fn passwords_in_urls_are_masked() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/tenk"),
            "postgres://app:***@db:5432/tenk"
        );
        assert_eq!(
            redact_url("redis://:pw@cache:6379/0"),
            "redis://:***@cache:6379/0"
        );
        assert_eq!(
            redact_url("postgres://app@db/tenk"),
            "postgres://app@db/tenk"
        );
        assert_eq!(redact_url("not a url"), "not a url");
    }

    /// `.env.example` documents exactly the declared variables, and
    /// `check-config` prints a line for each one that is not only an input.
    #[test]
    fn env_example_and_check_config_cover_every_declared_variable() {
        let example = include_str!("../../../.env.example");
        let documented: BTreeSet<&str> = example
            .lines()
            .filter_map(|line| line.split_once('=').map(|(name, _)| name))
            .filter(|name| {
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            })
            .collect();
        let variables = Settings::variables();
        let declared: BTreeSet<&str> = variables.iter().map(|v| v.name).collect();
        assert_eq!(
            declared.len(),
            variables.len(),
            "declared twice: {variables:?}"
        );
        assert_eq!(
            documented, declared,
            ".env.example against the declarations"
        );

        let settings = Settings::from_lookup(|_| None).unwrap();
        let described: HashMap<&str, String> = settings.describe().into_iter().collect();
        for variable in variables.iter().filter(|v| v.shown) {
            assert!(
                described.contains_key(variable.name),
                "no check-config line for {}",
                variable.name
            );
        }
    }

    #[test]
    fn check_config_redacts_secrets_and_keeps_the_seed_defaults() {
        let vars = HashMap::from([
            ("DATABASE_URL", "postgres://app:db-pw@db:5432/tenk"),
            ("REDIS_PASSWORD", "redis-pw"),
            ("OPS_TOKEN", "ops-token-0123456789"),
            ("JWT_SECRET_PREVIOUS", "previous-0123456789-0123456789-0123"),
        ]);
        let settings =
            Settings::from_lookup(|name| vars.get(name).map(|v| (*v).to_string())).unwrap();
        let described: HashMap<&str, String> = settings.describe().into_iter().collect();
        assert_eq!(described["DATABASE_URL"], "postgres://app:***@db:5432/tenk");
        assert_eq!(described["REDIS_URL"], "redis://:***@127.0.0.1:6379/0");
        assert_eq!(described["OPS_TOKEN"], "<redacted>");
        assert_eq!(described["JWT_SECRET"], "<redacted>");
        assert_eq!(described["JWT_SECRET_PREVIOUS"], "<redacted>");
        assert_eq!(described["SMTP_URL"], "<unset>");
        assert_eq!(described["DB_POOL_MAX"], "20");
        assert_eq!(described["SESSION_TTL"], "7200s");
        assert_eq!(described["HSTS_MAX_AGE"], "0 (off)");
        assert_eq!(described["REDIS_MODE"], "single");
        assert_eq!(described["RATE_LIMIT_AUTH"], "50/300s");
    }
}
