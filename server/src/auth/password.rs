//! Password hashing: argon2id (OWASP m=19456 KiB, t=2, p=1) by default, bcrypt
//! selectable. Both `$argon2id$` and `$2a$/$2b$/$2y$` hashes verify, so users
//! imported from the Node boilerplate (bcryptjs) can log in; a hash with
//! other parameters than the configured ones is flagged for an upgrade.
//!
//! bcrypt silently truncates at 72 bytes; tenk checks the length itself, so a
//! longer password is refused at registration (bcrypt mode) and never
//! matches a hash made from its first 72 bytes.
//!
//! No password longer than [`MAX_BYTES`](crate::domain::password::MAX_BYTES)
//! is ever hashed or verified: [`HashError::TooLong`] comes back before any
//! work, whichever route asked (login, registration, change, reset, deletion).
//!
//! Hashing is CPU work: it runs on the blocking pool behind a semaphore sized
//! to the cores, with a bounded queue; when the queue is full callers get
//! [`HashError::Busy`] (503) instead of starving every other request.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::config::{AuthSettings, PasswordHashKind};

/// OWASP Password Storage Cheat Sheet: argon2id, 19 MiB, 2 iterations, 1 lane.
const ARGON2_MEMORY_KIB: u32 = 19_456;
const ARGON2_ITERATIONS: u32 = 2;
const ARGON2_LANES: u32 = 1;
/// Waiting hash jobs allowed per core before callers are turned away.
const QUEUE_PER_CORE: usize = 32;
/// bcrypt only reads this many bytes; longer inputs are refused, never truncated.
pub const BCRYPT_MAX_BYTES: usize = 72;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("too many password checks in progress")]
    Busy,
    #[error("the password is longer than bcrypt's 72 bytes")]
    TooLongForBcrypt,
    #[error("the password is longer than the policy's bound")]
    TooLong,
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub matches: bool,
    /// The hash uses other parameters than configured: store a new one.
    pub needs_rehash: bool,
}

#[derive(Clone)]
pub struct PasswordHasherPool {
    kind: PasswordHashKind,
    bcrypt_cost: u32,
    workers: Arc<Semaphore>,
    queue: Arc<Semaphore>,
    /// Verified for unknown emails, so they take as long as a wrong password.
    dummy_hash: Arc<str>,
}

impl PasswordHasherPool {
    /// # Errors
    /// The dummy hash cannot be computed (invalid parameters).
    pub fn new(settings: &AuthSettings, cores: usize) -> Result<Self, HashError> {
        let cores = cores.max(1);
        let dummy_secret = uuid::Uuid::new_v4().to_string();
        let dummy_hash = hash_now(
            settings.password_hash,
            settings.bcrypt_rounds,
            &dummy_secret,
        )?;
        Ok(Self {
            kind: settings.password_hash,
            bcrypt_cost: settings.bcrypt_rounds,
            workers: Arc::new(Semaphore::new(cores)),
            queue: Arc::new(Semaphore::new(cores * QUEUE_PER_CORE)),
            dummy_hash: dummy_hash.into(),
        })
    }

    /// Hashes `password` with the configured algorithm.
    ///
    /// # Errors
    /// Busy, or a password bcrypt cannot take whole.
    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        within_bound(&password)?;
        let (kind, cost) = (self.kind, self.bcrypt_cost);
        self.run(move || hash_now(kind, cost, &password)).await?
    }

    /// Verifies `password` against `stored`, or against a dummy hash when
    /// there is no account, so both cases cost the same time.
    ///
    /// # Errors
    /// Busy, or a password over the bound.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<Verification, HashError> {
        within_bound(&password)?;
        let real = stored.is_some();
        let hash = stored.unwrap_or_else(|| self.dummy_hash.to_string());
        let (kind, cost) = (self.kind, self.bcrypt_cost);
        let verification = self
            .run(move || verify_now(kind, cost, &password, &hash))
            .await?;
        Ok(Verification {
            matches: real && verification.matches,
            needs_rehash: real && verification.needs_rehash,
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let queued = self
            .queue
            .clone()
            .try_acquire_owned()
            .map_err(|_| HashError::Busy)?;
        let worker = self
            .workers
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| HashError::Busy)?;
        // The permits travel with the job: a caller that goes away (client
        // disconnect, request timeout) cannot free them while it still runs.
        tokio::task::spawn_blocking(move || {
            let outcome = job();
            drop((worker, queued));
            outcome
        })
        .await
        .map_err(|error| HashError::Failed(error.to_string()))
    }
}

/// The one bound on password length, checked before any hashing.
fn within_bound(password: &str) -> Result<(), HashError> {
    if password.len() > crate::domain::password::MAX_BYTES {
        return Err(HashError::TooLong);
    }
    Ok(())
}

fn argon2() -> Result<Argon2<'static>, HashError> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_LANES, None)
        .map_err(|error| HashError::Failed(error.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_now(kind: PasswordHashKind, cost: u32, password: &str) -> Result<String, HashError> {
    match kind {
        PasswordHashKind::Argon2id => {
            let salt = SaltString::generate(&mut OsRng);
            argon2()?
                .hash_password(password.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|error| HashError::Failed(error.to_string()))
        }
        PasswordHashKind::Bcrypt => {
            if password.len() > BCRYPT_MAX_BYTES {
                return Err(HashError::TooLongForBcrypt);
            }
            // Checked above: every byte of the password reaches bcrypt (only
            // its C-string terminator may be dropped at exactly 72 bytes).
            bcrypt::hash(password, cost).map_err(|error| HashError::Failed(error.to_string()))
        }
    }
}

fn verify_now(kind: PasswordHashKind, cost: u32, password: &str, stored: &str) -> Verification {
    let no = Verification {
        matches: false,
        needs_rehash: false,
    };
    if stored.starts_with("$argon2") {
        let Ok(parsed) = PasswordHash::new(stored) else {
            return no;
        };
        let Ok(argon2) = argon2() else { return no };
        let matches = argon2.verify_password(password.as_bytes(), &parsed).is_ok();
        let current = parsed.algorithm.as_str() == "argon2id"
            && Params::try_from(&parsed).is_ok_and(|params| {
                params.m_cost() >= ARGON2_MEMORY_KIB
                    && params.t_cost() >= ARGON2_ITERATIONS
                    && params.p_cost() == ARGON2_LANES
            });
        return Verification {
            matches,
            needs_rehash: matches && (kind != PasswordHashKind::Argon2id || !current),
        };
    }
    if ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|prefix| stored.starts_with(prefix))
    {
        // Over 72 bytes bcrypt would compare only a prefix: never a match.
        let matches =
            password.len() <= BCRYPT_MAX_BYTES && bcrypt::verify(password, stored).unwrap_or(false);
        let stored_cost: u32 = stored.get(4..6).and_then(|c| c.parse().ok()).unwrap_or(0);
        let outdated = kind != PasswordHashKind::Bcrypt || stored_cost < cost;
        return Verification {
            matches,
            needs_rehash: matches && outdated,
        };
    }
    no
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_hashes_carry_the_owasp_parameters() {
        let hash = hash_now(PasswordHashKind::Argon2id, 10, "correct horse").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        let ok = verify_now(PasswordHashKind::Argon2id, 10, "correct horse", &hash);
        assert_eq!(
            ok,
            Verification {
                matches: true,
                needs_rehash: false
            }
        );
        assert!(!verify_now(PasswordHashKind::Argon2id, 10, "correct horsE", &hash).matches);
    }

    #[test]
    fn bcrypt_never_matches_on_a_72_byte_prefix() {
        let prefix = "a".repeat(72);
        let hash = hash_now(PasswordHashKind::Bcrypt, 4, &prefix).unwrap();
        let longer = format!("{prefix}b");
        assert!(!verify_now(PasswordHashKind::Bcrypt, 4, &longer, &hash).matches);
        assert!(matches!(
            hash_now(PasswordHashKind::Bcrypt, 4, &longer),
            Err(HashError::TooLongForBcrypt)
        ));
    }

    #[test]
    fn bcryptjs_hashes_from_the_node_stack_verify_and_are_upgraded() {
        // $2a$ with cost 10, as bcryptjs writes them.
        let hash = bcrypt::hash_with_result("imported-pass", 4)
            .unwrap()
            .format_for_version(bcrypt::Version::TwoA);
        assert!(hash.starts_with("$2a$04$"));
        let verification = verify_now(PasswordHashKind::Argon2id, 10, "imported-pass", &hash);
        assert_eq!(
            verification,
            Verification {
                matches: true,
                needs_rehash: true
            }
        );
    }

    #[test]
    fn weaker_argon2_parameters_are_flagged_for_rehash() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(4096, 1, 1, None).unwrap(),
        );
        let salt = SaltString::generate(&mut OsRng);
        let hash = weak.hash_password(b"pw-123456", &salt).unwrap().to_string();
        let verification = verify_now(PasswordHashKind::Argon2id, 10, "pw-123456", &hash);
        assert_eq!(
            verification,
            Verification {
                matches: true,
                needs_rehash: true
            }
        );
    }
}
