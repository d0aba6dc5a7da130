//! The messages tenk sends, each as plain text with an HTML alternative.

use std::time::Duration;

use lettre::Message;
use lettre::message::{Mailbox, MultiPart};

/// A message's content, before addressing.
pub struct Mail {
    pub subject: &'static str,
    pub text: String,
    pub html: String,
}

const NOT_YOU: &str = "If you did not ask for this, ignore this message: nothing changes \
                       without it.";

fn minutes(lifetime: Duration) -> String {
    let minutes = lifetime.as_secs().div_ceil(60);
    if minutes == 1 {
        "1 minute".into()
    } else {
        format!("{minutes} minutes")
    }
}

/// Escapes text for HTML (tokens and links are URL-safe, but stay careful).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html(paragraphs: &[String]) -> String {
    let body: String = paragraphs.iter().map(|p| format!("<p>{p}</p>")).collect();
    format!("<!doctype html><html><body style=\"font-family:sans-serif\">{body}</body></html>")
}

impl Mail {
    /// A one-time sign-in code.
    pub fn otp(code: &str, lifetime: Duration) -> Self {
        let valid = minutes(lifetime);
        Self {
            subject: "Your tenk sign-in code",
            text: format!(
                "Your tenk sign-in code is {code}\n\nIt works once, for the next {valid}.\n\n\
                 If you did not ask for this code, ignore this message: nobody can sign in \
                 without it, and no change was made to your account.\n"
            ),
            html: html(&[
                "Your tenk sign-in code is".into(),
                format!(
                    "<span style=\"font-size:28px;letter-spacing:4px;font-weight:bold\">{code}</span>"
                ),
                format!("It works once, for the next {valid}."),
                "If you did not ask for this code, ignore this message: nobody can sign in \
                 without it, and no change was made to your account."
                    .into(),
            ]),
        }
    }

    /// A single-use password-reset token (and link, when `APP_URL` is set).
    pub fn password_reset(token: &str, link: Option<String>, lifetime: Duration) -> Self {
        Self::with_token(
            "Reset your tenk password",
            "To choose a new password, use this reset token",
            token,
            link,
            lifetime,
        )
    }

    /// A single-use email-verification token (and link, when `APP_URL` is set).
    pub fn verify_email(token: &str, link: Option<String>, lifetime: Duration) -> Self {
        Self::with_token(
            "Confirm your email address for tenk",
            "To confirm this address, use this verification token",
            token,
            link,
            lifetime,
        )
    }

    fn with_token(
        subject: &'static str,
        lead: &str,
        token: &str,
        link: Option<String>,
        lifetime: Duration,
    ) -> Self {
        let valid = minutes(lifetime);
        let link_text = link
            .as_ref()
            .map(|l| format!("\nor open {l}\n"))
            .unwrap_or_default();
        let link_html = link
            .as_ref()
            .map(|l| format!("or open <a href=\"{0}\">{0}</a>", escape(l)))
            .unwrap_or_default();
        Self {
            subject,
            text: format!(
                "{lead}:\n\ntoken is {token}\n{link_text}\nIt works once, for the next {valid}.\n\n{NOT_YOU}\n"
            ),
            html: html(&[
                format!("{lead}:"),
                format!("<code>token is {}</code>", escape(token)),
                link_html,
                format!("It works once, for the next {valid}."),
                NOT_YOU.into(),
            ]),
        }
    }

    /// Tells the owner their password was changed.
    pub fn password_changed() -> Self {
        let text = "The password of your tenk account was just changed, and every session \
                    was signed out.\n\nIf this was not you, reset your password now and \
                    contact support.";
        Self {
            subject: "Your tenk password was changed",
            text: format!("{text}\n"),
            html: html(&[escape(text)]),
        }
    }

    /// Addresses the message.
    ///
    /// # Errors
    /// lettre refuses the message.
    pub fn build(&self, from: Mailbox, to: Mailbox) -> Result<Message, lettre::error::Error> {
        Message::builder()
            .from(from)
            .to(to)
            .subject(self.subject)
            .multipart(MultiPart::alternative_plain_html(
                self.text.clone(),
                self.html.clone(),
            ))
    }
}
