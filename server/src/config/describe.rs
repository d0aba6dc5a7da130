//! How `tenk-server check-config` shows each setting (the `show` of the
//! declarations in `mod.rs`), with every secret redacted.

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};

use super::parse::human;
use super::{
    AppEnv, CorsOrigins, LogFormat, MailTransport, PasswordHashKind, Policy, RedisTopology, SslMode,
};

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

/// How a value reads in `check-config`, unless its declaration says otherwise.
pub(super) trait Show {
    fn show(&self) -> String;
}

/// The types shown as they print.
macro_rules! show_displayed {
    ($($ty:ty),*) => {
        $(impl Show for $ty {
            fn show(&self) -> String {
                self.to_string()
            }
        })*
    };
}

show_displayed!(bool, u16, u32, u64, usize, String, IpAddr);
show_displayed!(AppEnv, SslMode, LogFormat, PasswordHashKind, MailTransport);

impl Show for Duration {
    fn show(&self) -> String {
        human(*self)
    }
}

impl Show for Policy {
    fn show(&self) -> String {
        format!("{}/{}", self.limit, human(self.window))
    }
}

/// Secrets are never shown, only whether they are set.
impl Show for SecretString {
    fn show(&self) -> String {
        "<redacted>".into()
    }
}

impl<T: Show> Show for Option<T> {
    fn show(&self) -> String {
        self.as_ref().map_or_else(|| "<unset>".into(), Show::show)
    }
}

impl Show for Vec<IpNet> {
    fn show(&self) -> String {
        let list: Vec<String> = self.iter().map(ToString::to_string).collect();
        list.join(",")
    }
}

impl Show for CorsOrigins {
    fn show(&self) -> String {
        match self {
            Self::None => "<unset: no CORS headers>".into(),
            Self::Any => "*".into(),
            Self::List(list) => list.join(","),
        }
    }
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

pub(super) fn cluster_mode(on: &bool) -> String {
    format!("{on} (ignored: WORKERS threads use every core)")
}

pub(super) fn metrics_addr(addr: &Option<std::net::SocketAddr>) -> String {
    addr.map_or_else(|| "<unset: /metrics on PORT>".into(), |a| a.to_string())
}

pub(super) fn hsts(age: &Option<Duration>) -> String {
    age.map_or_else(|| "0 (off)".into(), human)
}

pub(super) fn topology(topology: &RedisTopology) -> String {
    topology.name().into()
}

#[cfg(test)]
mod tests {
    use super::redact_url;

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
}
