//! The password policy (ASVS 6.2): at least 8 characters, any characters, at
//! most 1024 bytes, never trimmed or truncated, and not a commonly used one.

use std::collections::HashSet;
use std::sync::LazyLock;

use super::Invalid;

pub const MIN_CHARS: usize = 8;
pub const MAX_BYTES: usize = 1024;

/// The most common passwords of at least 8 characters in public breach
/// corpora; a password on this list is refused at registration and change.
const COMMON: &str = include_str!("common_passwords.txt");

/// A new password that satisfies the policy, exactly as typed.
#[derive(Clone)]
pub struct NewPassword(String);

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(<redacted>)")
    }
}

/// The bound every presented password (login, current password, deletion)
/// must keep before it is looked at, as a refusal naming `field`.
///
/// # Errors
/// The password is over [`MAX_BYTES`].
pub fn check_bound(raw: &str, field: &str) -> Result<(), Invalid> {
    if raw.len() > MAX_BYTES {
        return Err(Invalid::new(field, "must be at most 1024 bytes"));
    }
    Ok(())
}

impl NewPassword {
    /// # Errors
    /// Naming `field`, with the rule that failed.
    pub fn parse(raw: String, field: &str) -> Result<Self, Invalid> {
        if raw.chars().count() < MIN_CHARS {
            return Err(Invalid::new(field, "must be at least 8 characters"));
        }
        check_bound(&raw, field)?;
        if is_common(&raw) {
            return Err(Invalid::new(
                field,
                "is too common: choose another password",
            ));
        }
        Ok(Self(raw))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

fn is_common(password: &str) -> bool {
    static SET: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
        COMMON
            .lines()
            .filter(|line| !line.starts_with('#'))
            .collect()
    });
    SET.contains(password.to_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_is_counted_in_characters_and_capped_in_bytes() {
        assert!(NewPassword::parse("seven77".into(), "password").is_err());
        assert!(NewPassword::parse("ééééééé8".into(), "password").is_ok());
        let emoji = "😀".repeat(64);
        assert_eq!(emoji.len(), 256);
        assert!(NewPassword::parse(emoji, "password").is_ok());
        assert!(NewPassword::parse("x".repeat(1025), "password").is_err());
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        assert!(NewPassword::parse("password123".into(), "password").is_err());
        assert!(NewPassword::parse("Password123".into(), "password").is_err());
        assert!(NewPassword::parse("zebra-lantern-42".into(), "password").is_ok());
    }

    #[test]
    fn the_password_is_kept_exactly_as_typed() {
        let typed = "  spaced\0nul ";
        assert_eq!(
            NewPassword::parse(typed.into(), "password")
                .unwrap()
                .into_inner(),
            typed
        );
    }
}
