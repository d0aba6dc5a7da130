//! Optional error tracking (`SENTRY_DSN`): internal errors and panics are
//! reported with the request id, route and release. Every event passes a
//! scrubbing hook first: no request data or user, and anything in its text
//! that looks like an email address, a token or a code is masked. Without
//! the DSN nothing is initialised and nothing is sent.

use std::borrow::Cow;
use std::sync::Arc;

use secrecy::ExposeSecret;
use sentry::ClientInitGuard;
use sentry::protocol::Event;

use crate::config::Settings;
use crate::http::request_id;

/// Starts reporting when `SENTRY_DSN` is set; keep the guard alive while
/// serving (dropping it flushes pending events).
pub fn init(settings: &Settings) -> Option<ClientInitGuard> {
    let dsn = settings.sentry_dsn.as_ref()?;
    let mut options = sentry::ClientOptions::default();
    options.release = Some(Cow::Borrowed(concat!(
        "tenk-server@",
        env!("CARGO_PKG_VERSION")
    )));
    options.environment = Some(Cow::Borrowed(settings.env.as_str()));
    options.send_default_pii = false;
    options.before_send = Some(Arc::new(|event| Some(scrub_event(event))));
    let dsn: &str = dsn.expose_secret();
    let guard = sentry::init((dsn, options));
    tracing::info!("error tracking on");
    Some(guard)
}

/// Reports an internal error (a no-op without `SENTRY_DSN`).
pub fn report(error: &anyhow::Error) {
    let error: &(dyn std::error::Error + 'static) = error.as_ref();
    sentry::capture_error(error);
}

/// Tags the event with the request it came from, drops request data and
/// user, and masks secrets in every text it carries.
fn scrub_event(mut event: Event<'static>) -> Event<'static> {
    if let Some(id) = request_id::current() {
        event.tags.insert("request_id".into(), id);
    }
    if let Some(route) = request_id::current_route() {
        event.tags.insert("route".into(), route);
    }
    event.request = None;
    event.user = None;
    event.server_name = None;
    event.message = event.message.map(|m| scrub(&m));
    if let Some(logentry) = event.logentry.as_mut() {
        logentry.message = scrub(&logentry.message);
    }
    for exception in &mut event.exception.values {
        exception.value = exception.value.as_deref().map(scrub);
    }
    for breadcrumb in &mut event.breadcrumbs.values {
        breadcrumb.message = breadcrumb.message.as_deref().map(scrub);
        breadcrumb.data.clear();
    }
    event.extra.clear();
    event
}

/// Masks what may be secret in free text: email addresses, JWTs and other
/// long tokens, and runs of six or more digits (one-time codes).
pub fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        out.push_str(&mask_word(word));
        word.clear();
    };
    for c in text.chars() {
        if c.is_alphanumeric() || matches!(c, '@' | '.' | '_' | '-' | '+' | '/' | '=') {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

fn mask_word(word: &str) -> Cow<'_, str> {
    let digits = word.chars().filter(char::is_ascii_digit).count();
    if word.contains('@') {
        Cow::Borrowed("[email]")
    } else if word.starts_with("eyJ") || (word.len() >= 20 && !word.contains("::")) {
        Cow::Borrowed("[token]")
    } else if digits >= 6 && digits * 2 > word.len() {
        Cow::Borrowed("[number]")
    } else {
        Cow::Borrowed(word)
    }
}

#[cfg(test)]
mod tests {
    use super::scrub;

    #[test]
    fn emails_tokens_and_codes_are_masked() {
        let text = "login of ada@example.com with eyJhbGciOi.x.y failed; code 123456; \
                    refresh abcdefghijklmnopqrstuvwxyz0123; relation \"posts\" does not exist";
        let scrubbed = scrub(text);
        assert!(!scrubbed.contains("ada@example.com"), "{scrubbed}");
        assert!(!scrubbed.contains("eyJ"), "{scrubbed}");
        assert!(!scrubbed.contains("123456"), "{scrubbed}");
        assert!(!scrubbed.contains("abcdefghijklmnop"), "{scrubbed}");
        assert!(
            scrubbed.contains("relation \"posts\" does not exist"),
            "{scrubbed}"
        );
    }
}
