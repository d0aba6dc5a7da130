//! An email address as typed, parsed by the mailer's own parser (lettre's
//! [`Address`]), so every address tenk accepts is one it can mail; compared
//! case-insensitively.
//!
//! On top of what lettre accepts, tenk asks for a domain name: IP literals
//! (`n@[127.0.0.1]`, `n@127.0.0.1`) and dotless hosts (`n@localhost`) are
//! refused, as is anything over 254 bytes, with whitespace or control
//! characters.

use std::net::IpAddr;

use lettre::Address;
use lettre::message::Mailbox;

use super::Invalid;

/// RFC 5321's limit on a forward path, less the angle brackets.
pub const MAX_LENGTH: usize = 254;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(Address);

impl Email {
    /// # Errors
    /// Naming `field`, when the text is not an address tenk can mail.
    pub fn parse(raw: &str, field: &str) -> Result<Self, Invalid> {
        let invalid = || Invalid::new(field, "must be an email address such as ada@example.com");
        let text = raw.trim();
        if text.len() > MAX_LENGTH || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let address: Address = text.parse().map_err(|_| invalid())?;
        let domain = address.domain();
        let named_host = domain.contains('.')
            && !domain.starts_with('[')
            && !domain.ends_with('.')
            && domain.parse::<IpAddr>().is_err();
        if !named_host {
            return Err(invalid());
        }
        Ok(Self(address))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_ref()
    }

    /// The recipient as the mailer takes it: never parsed a second time.
    pub fn mailbox(&self) -> Mailbox {
        Mailbox::new(None, self.0.clone())
    }

    /// A form safe for logs: the first letter of the local part and the domain.
    pub fn masked(&self) -> String {
        mask(self.as_str())
    }
}

/// Masks an address for logs: `a***@example.com`.
pub fn mask(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            let first = local.chars().next().unwrap_or('*');
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plausible_addresses_parse_and_others_do_not() {
        for good in [
            "Ada@Example.com",
            "a.b+tag@sub.example.co.uk",
            "ü@bücher.de",
        ] {
            assert!(Email::parse(good, "email").is_ok(), "{good}");
        }
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "a b@example.com",
            "ada@example",
            "a@b@c.d",
            "n@[127.0.0.1]",
            "n@127.0.0.1",
            "n@[IPv6:::1]",
            "n@example.com.",
            "\"quoted\"@example.com\u{0}",
        ] {
            assert!(Email::parse(bad, "email").is_err(), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long, "email").is_err());
    }

    #[test]
    fn every_accepted_address_becomes_a_recipient() {
        let email = Email::parse("  ada@example.com ", "email").unwrap();
        assert_eq!(email.as_str(), "ada@example.com");
        assert_eq!(email.mailbox().email.to_string(), "ada@example.com");
    }

    #[test]
    fn masking_keeps_only_the_first_letter_and_domain() {
        assert_eq!(mask("ada.lovelace@example.com"), "a***@example.com");
    }
}
