//! Reading variables: the lookup, the readers the declarations in `mod.rs`
//! are written with (a default and a parser, or a rule that spans variables),
//! and the refusals they raise.

use std::fmt::Display;

use secrecy::SecretString;

use super::parse::{Refusal, postgres_url};
use super::{AppEnv, ConfigError, CorsOrigins, MailTransport, RedisTopology};

/// Turns a variable's value (`None` when unset) into its setting, or refuses it.
/// It is given the name it was read under, for the refusal.
pub(super) trait Reader<T>:
    FnOnce(&'static str, Option<String>) -> Result<T, ConfigError> + Sized
{
    /// Refuses a value `bad` accepts, though it parsed (a rule across variables).
    fn refusing(self, bad: impl FnOnce(&T) -> bool, expected: impl Into<String>) -> impl Reader<T>
    where
        T: Display,
    {
        move |var: &'static str, raw: Option<String>| {
            let value = self(var, raw)?;
            if bad(&value) {
                return Err(invalid(var, &value.to_string(), expected));
            }
            Ok(value)
        }
    }
}

impl<T, F> Reader<T> for F where F: FnOnce(&'static str, Option<String>) -> Result<T, ConfigError> {}

/// Reads variables; empty values count as unset (`REDIS_PASSWORD=` in `.env`).
pub(super) struct Vars<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Vars<'a> {
    pub(super) fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self { lookup }
    }

    fn raw(&self, var: &str) -> Option<String> {
        (self.lookup)(var).filter(|value| !value.trim().is_empty())
    }

    /// Reads `name`, else the first alias that is set, with `read`.
    pub(super) fn read<T>(
        &self,
        name: &'static str,
        aliases: &[&'static str],
        read: impl Reader<T>,
    ) -> Result<T, ConfigError> {
        let found = std::iter::once(name)
            .chain(aliases.iter().copied())
            .find_map(|var| self.raw(var).map(|raw| (var, raw)));
        match found {
            Some((var, raw)) => read(var, Some(raw)),
            None => read(name, None),
        }
    }

    /// A variable that only some settings need: parsed when one asks for it
    /// (`REDIS_PORT` means nothing when `REDIS_URL` is set).
    pub(super) fn input<R>(&self, name: &'static str, read: R) -> Input<R> {
        Input {
            name,
            raw: self.raw(name),
            read,
        }
    }
}

pub(super) struct Input<R> {
    name: &'static str,
    raw: Option<String>,
    read: R,
}

impl<R> Input<R> {
    pub(super) fn get<T>(self) -> Result<T, ConfigError>
    where
        R: Reader<T>,
    {
        (self.read)(self.name, self.raw)
    }
}

pub(super) fn invalid(var: &'static str, raw: &str, expected: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        value: Some(raw.to_string()),
        expected: expected.into(),
    }
}

fn missing(var: &'static str, expected: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        value: None,
        expected: expected.into(),
    }
}

/// `default` when unset, else what `parse` makes of the value.
pub(super) fn or<T, E: Into<Refusal>>(
    default: T,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> impl Reader<T> {
    or_else(|| default, parse)
}

/// `default()` when unset (for a default that costs something), else `parse`.
pub(super) fn or_else<T, E: Into<Refusal>>(
    default: impl FnOnce() -> T,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> impl Reader<T> {
    move |var: &'static str, raw: Option<String>| match raw {
        None => Ok(default()),
        Some(raw) => parse(&raw).map_err(|refusal| refusal.into().of(var, &raw)),
    }
}

/// `None` when unset, else what `parse` makes of the value.
pub(super) fn optional<T, E: Into<Refusal>>(
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> impl Reader<Option<T>> {
    or_else(|| None, |raw| parse(raw).map(Some))
}

/// A random name, for processes with neither `INSTANCE_ID` nor `HOSTNAME`.
pub(super) fn random_instance_id() -> String {
    format!("tenk-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// `default` in development; production refuses to start without a URL.
pub(super) fn database_url(env: AppEnv, default: &'static str) -> impl Reader<SecretString> {
    move |var: &'static str, raw: Option<String>| match raw {
        Some(raw) => postgres_url(&raw).map_err(|refusal| refusal.of(var, &raw)),
        None if env.is_production() => Err(missing(var, "a postgres:// URL in production")),
        None => Ok(SecretString::from(default)),
    }
}

/// `REDIS_URL` as given, else built from its parts.
pub(super) fn redis_url(
    host: Input<impl Reader<String>>,
    port: Input<impl Reader<u16>>,
    password: Input<impl Reader<Option<String>>>,
    db: Input<impl Reader<u32>>,
) -> impl Reader<SecretString> {
    move |var: &'static str, raw: Option<String>| match raw {
        Some(raw) => match redis::IntoConnectionInfo::into_connection_info(raw.as_str()) {
            Ok(_) => Ok(SecretString::from(raw)),
            Err(_) => Err(invalid(
                var,
                &super::redact_url(&raw),
                "a URL such as redis://:password@host:6379/0",
            )),
        },
        None => {
            let host = host.get()?;
            let port = port.get()?;
            let db = db.get()?;
            let password = password
                .get()?
                .map(|password| format!(":{}@", percent_encode(&password)))
                .unwrap_or_default();
            Ok(SecretString::from(format!(
                "redis://{password}{host}:{port}/{db}"
            )))
        }
    }
}

/// Percent-encodes a password for the userinfo part of a URL.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// One server, Sentinel (`REDIS_SENTINELS` with `REDIS_SENTINEL_MASTER`) or
/// a Cluster (`REDIS_CLUSTER_NODES`), never both.
pub(super) fn redis_topology(
    cluster_nodes: Input<impl Reader<Option<String>>>,
    sentinels: Input<impl Reader<Option<String>>>,
    master: Input<impl Reader<Option<String>>>,
) -> Result<RedisTopology, ConfigError> {
    let list = |raw: &str| -> Vec<String> {
        raw.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    };
    let names = (cluster_nodes.name, sentinels.name, master.name);
    match (cluster_nodes.get()?, sentinels.get()?, master.get()?) {
        (None, None, None) => Ok(RedisTopology::Single),
        (Some(raw), None, None) => {
            let nodes: Vec<String> = list(&raw)
                .into_iter()
                .map(|node| {
                    if node.contains("://") {
                        node
                    } else {
                        format!("redis://{node}")
                    }
                })
                .collect();
            let expected = "redis:// URLs or host:port of cluster nodes, comma-separated";
            if nodes.is_empty()
                || nodes
                    .iter()
                    .any(|n| redis::IntoConnectionInfo::into_connection_info(n.as_str()).is_err())
            {
                return Err(invalid(names.0, &super::redact_url(&raw), expected));
            }
            Ok(RedisTopology::Cluster { nodes })
        }
        (None, Some(raw), Some(master)) => {
            let sentinels = list(&raw);
            let valid = |s: &String| {
                s.rsplit_once(':')
                    .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
            };
            if sentinels.is_empty() || !sentinels.iter().all(valid) {
                return Err(invalid(
                    names.1,
                    &raw,
                    "host:port of sentinels, comma-separated",
                ));
            }
            Ok(RedisTopology::Sentinel { sentinels, master })
        }
        (None, Some(_), None) => Err(missing(
            names.2,
            format!("the monitored master's name with {}", names.1),
        )),
        (None, None, Some(_)) => Err(missing(
            names.1,
            format!("host:port of sentinels with {}", names.2),
        )),
        (Some(_), _, _) => Err(invalid(
            names.0,
            "<set>",
            format!("either {} or {}, not both", names.0, names.1),
        )),
    }
}

/// A signing key: the development default, refused in production, where it
/// must be set.
pub(super) fn signing_secret(env: AppEnv, development: &'static str) -> impl Reader<SecretString> {
    move |var: &'static str, raw: Option<String>| {
        let expected = "a random secret of at least 32 bytes (openssl rand -base64 48)";
        match raw {
            None if env.is_production() => Err(missing(var, expected)),
            None => Ok(SecretString::from(development)),
            Some(raw) if raw.len() < 32 => Err(Refusal::secret(&raw, expected).of(var, &raw)),
            Some(raw) if env.is_production() && raw == development => Err(Refusal::secret(
                &raw,
                "a secret of your own, not the development default",
            )
            .of(var, &raw)),
            Some(raw) => Ok(SecretString::from(raw)),
        }
    }
}

/// The ops token: optional in development, required in production.
pub(super) fn ops_token(env: AppEnv) -> impl Reader<Option<SecretString>> {
    move |var: &'static str, raw: Option<String>| {
        let expected =
            "a random token of at least 16 bytes guarding /metrics and /api/health/detailed";
        match raw {
            None if env.is_production() => Err(missing(var, format!("{expected} in production"))),
            Some(raw) if raw.len() < 16 => Err(Refusal::secret(&raw, expected).of(var, &raw)),
            raw => Ok(raw.map(SecretString::from)),
        }
    }
}

/// Required when mail goes out by SMTP.
pub(super) fn smtp_url(transport: MailTransport) -> impl Reader<Option<SecretString>> {
    move |var: &'static str, raw: Option<String>| match raw {
        Some(raw) => {
            let scheme_ok = raw.starts_with("smtp://") || raw.starts_with("smtps://");
            let parses =
                lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(&raw).is_ok();
            if !(scheme_ok && parses) {
                return Err(invalid(
                    var,
                    &super::redact_url(&raw),
                    "a URL such as smtp://user:password@host:587?tls=required or smtps://host:465",
                ));
            }
            Ok(Some(SecretString::from(raw)))
        }
        None if transport == MailTransport::Smtp => Err(missing(
            var,
            "an smtp:// or smtps:// URL when MAIL_TRANSPORT=smtp",
        )),
        None => Ok(None),
    }
}

/// Origins, `*` (never with credentials), or none.
pub(super) fn cors_origins(allow_credentials: bool) -> impl Reader<CorsOrigins> {
    move |var: &'static str, raw: Option<String>| match raw {
        None => Ok(CorsOrigins::None),
        // Browsers refuse it, and it would hand every site the user's session.
        Some(raw) if raw.trim() == "*" && allow_credentials => Err(invalid(
            var,
            "*",
            "explicit origins when CORS_ALLOW_CREDENTIALS=true",
        )),
        Some(raw) if raw.trim() == "*" => Ok(CorsOrigins::Any),
        Some(raw) => {
            let origins: Vec<String> = raw
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_string())
                .filter(|o| !o.is_empty())
                .collect();
            let valid = |origin: &String| {
                let rest = origin
                    .strip_prefix("https://")
                    .or_else(|| origin.strip_prefix("http://"));
                rest.is_some_and(|host| !host.is_empty() && !host.contains(['/', '*', ' ']))
                    && axum::http::HeaderValue::from_str(origin).is_ok()
            };
            if let Some(bad) = origins.iter().find(|origin| !valid(origin)) {
                return Err(invalid(
                    var,
                    bad,
                    "origins such as https://app.example.com,http://localhost:3000, or *",
                ));
            }
            Ok(CorsOrigins::List(origins))
        }
    }
}
