//! The one-time-code message: plain text and an HTML alternative.

use std::time::Duration;

use lettre::Message;
use lettre::message::{Mailbox, MultiPart};

/// What the code mail says.
pub struct OtpMail {
    pub code: String,
    pub lifetime: Duration,
}

impl OtpMail {
    /// # Errors
    /// lettre refuses the message.
    pub fn build(&self, from: Mailbox, to: Mailbox) -> Result<Message, lettre::error::Error> {
        let minutes = self.lifetime.as_secs().div_ceil(60);
        let plural = if minutes == 1 { "" } else { "s" };
        let text = format!(
            "Your tenk sign-in code is {code}\n\n\
             It works once, for the next {minutes} minute{plural}.\n\n\
             If you did not ask for this code, ignore this message: nobody can sign in \
             without it, and no change was made to your account.\n",
            code = self.code,
        );
        let html = format!(
            "<!doctype html><html><body style=\"font-family:sans-serif\">\
             <p>Your tenk sign-in code is</p>\
             <p style=\"font-size:28px;letter-spacing:4px;font-weight:bold\">{code}</p>\
             <p>It works once, for the next {minutes} minute{plural}.</p>\
             <p style=\"color:#666\">If you did not ask for this code, ignore this message: \
             nobody can sign in without it, and no change was made to your account.</p>\
             </body></html>",
            code = self.code,
        );
        Message::builder()
            .from(from)
            .to(to)
            .subject("Your tenk sign-in code")
            .multipart(MultiPart::alternative_plain_html(text, html))
    }
}
