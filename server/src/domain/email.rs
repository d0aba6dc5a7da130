//! An email address as typed, checked for shape; compared case-insensitively.

use crate::error::ApiError;

const MAX_LENGTH: usize = 254;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// # Errors
    /// 422 naming `field` when the text is not a plausible address.
    pub fn parse(raw: &str, field: &str) -> Result<Self, ApiError> {
        let text = raw.trim();
        let valid = text.len() <= MAX_LENGTH
            && !text.chars().any(|c| c.is_whitespace() || c.is_control())
            && matches!(text.split_once('@'), Some((local, domain))
                if !local.is_empty() && domain.contains('.') && !domain.contains('@')
                    && !domain.starts_with('.') && !domain.ends_with('.'));
        if !valid {
            return Err(ApiError::invalid(
                field,
                "must be an email address such as ada@example.com",
            ));
        }
        Ok(Self(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A form safe for logs: the first letter of the local part and the domain.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

/// Masks an address for logs: `a***@example.com`.
pub fn mask(address: &str) -> String {
    match address.split_once('@') {
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
        assert!(Email::parse("Ada@Example.com", "email").is_ok());
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "a b@example.com",
            "ada@example",
            "a@b@c.d",
        ] {
            assert!(Email::parse(bad, "email").is_err(), "{bad}");
        }
    }

    #[test]
    fn masking_keeps_only_the_first_letter_and_domain() {
        assert_eq!(mask("ada.lovelace@example.com"), "a***@example.com");
    }
}
