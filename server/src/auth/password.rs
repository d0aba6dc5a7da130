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
//! Hashing is CPU work: it runs on a fixed set of threads of its own (one
//! per core), behind a bounded queue; when the queue is full callers get
//! [`HashError::Busy`] (503) instead of starving every other request. Each
//! thread keeps its argon2 working memory (19 MiB) and reuses it for every
//! hash: memory that a fresh buffer per hash would take from the allocator
//! on whichever thread ran it, and that glibc's arenas then keep resident.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::{Semaphore, oneshot};

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

/// A hashing thread's reusable argon2 working memory.
#[derive(Default)]
pub struct Scratch {
    blocks: Vec<Block>,
}

impl Scratch {
    /// At least `count` blocks, allocated once and then reused.
    fn blocks(&mut self, count: usize) -> &mut [Block] {
        if self.blocks.len() < count {
            self.blocks.resize(count, Block::default());
        }
        &mut self.blocks[..count]
    }
}

type Job = Box<dyn FnOnce(&mut Scratch) + Send>;

#[derive(Clone)]
pub struct PasswordHasherPool {
    kind: PasswordHashKind,
    bcrypt_cost: u32,
    jobs: SyncSender<Job>,
    queue: Arc<Semaphore>,
    /// Verified for unknown emails, so they take as long as a wrong password.
    dummy_hash: Arc<str>,
    /// Verifications run, real or dummy: lets tests check that every login
    /// path pays for exactly one, without timing it.
    verifications: Arc<AtomicU64>,
}

impl PasswordHasherPool {
    /// Starts `threads` hashing threads.
    ///
    /// # Errors
    /// The dummy hash cannot be computed (invalid parameters), or a thread
    /// cannot be started.
    pub fn new(settings: &AuthSettings, threads: usize) -> Result<Self, HashError> {
        let threads = threads.max(1);
        let dummy_secret = uuid::Uuid::new_v4().to_string();
        let dummy_hash = hash_now(
            settings.password_hash,
            settings.bcrypt_rounds,
            &dummy_secret,
            &mut Scratch::default(),
        )?;
        let capacity = threads * QUEUE_PER_CORE;
        let (jobs, receiver) = sync_channel::<Job>(capacity);
        let receiver = Arc::new(Mutex::new(receiver));
        for index in 0..threads {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("tenk-hash-{index}"))
                .spawn(move || work(&receiver))
                .map_err(|error| HashError::Failed(error.to_string()))?;
        }
        Ok(Self {
            kind: settings.password_hash,
            bcrypt_cost: settings.bcrypt_rounds,
            jobs,
            queue: Arc::new(Semaphore::new(capacity)),
            dummy_hash: dummy_hash.into(),
            verifications: Arc::default(),
        })
    }

    /// How many verifications (against a stored or the dummy hash) have run.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    /// Hashes `password` with the configured algorithm.
    ///
    /// # Errors
    /// Busy, or a password bcrypt cannot take whole.
    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        within_bound(&password)?;
        let (kind, cost) = (self.kind, self.bcrypt_cost);
        self.run(move |scratch| hash_now(kind, cost, &password, scratch))
            .await?
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
            .run(move |scratch| verify_now(kind, cost, &password, &hash, scratch))
            .await?;
        self.verifications.fetch_add(1, Ordering::Relaxed);
        Ok(Verification {
            matches: real && verification.matches,
            needs_rehash: real && verification.needs_rehash,
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Scratch) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let queued = self
            .queue
            .clone()
            .try_acquire_owned()
            .map_err(|_| HashError::Busy)?;
        let (reply, outcome) = oneshot::channel();
        // The permit travels with the job: a caller that goes away (client
        // disconnect, request timeout) cannot free it while the job waits or runs.
        let job: Job = Box::new(move |scratch| {
            let _ = reply.send(job(scratch));
            drop(queued);
        });
        self.jobs.try_send(job).map_err(|_| HashError::Busy)?;
        outcome
            .await
            .map_err(|_| HashError::Failed("the hashing thread stopped".into()))
    }
}

/// A hashing thread: runs jobs with its own scratch memory until every
/// sender is gone.
fn work(jobs: &Mutex<Receiver<Job>>) {
    let mut scratch = Scratch::default();
    loop {
        let job = {
            let Ok(receiver) = jobs.lock() else { return };
            match receiver.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        job(&mut scratch);
    }
}

/// The one bound on password length, checked before any hashing.
fn within_bound(password: &str) -> Result<(), HashError> {
    if password.len() > crate::domain::password::MAX_BYTES {
        return Err(HashError::TooLong);
    }
    Ok(())
}

fn failed(error: impl std::fmt::Display) -> HashError {
    HashError::Failed(error.to_string())
}

fn params() -> Result<Params, HashError> {
    Params::new(ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_LANES, None).map_err(failed)
}

/// A PHC string (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`) for `password`,
/// computed in `scratch`.
fn argon2_hash(password: &str, scratch: &mut Scratch) -> Result<String, HashError> {
    let params = params()?;
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(failed)?;
    let mut output = [0u8; 32];
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let blocks = scratch.blocks(params.block_count());
    argon2
        .hash_password_into_with_memory(password.as_bytes(), salt_bytes, &mut output, blocks)
        .map_err(failed)?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(failed)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&output).map_err(failed)?),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches a parsed argon2 hash, computed in `scratch`
/// (or, for a hash with more memory than configured, in memory of its own).
fn argon2_matches(password: &str, parsed: &PasswordHash<'_>, scratch: &mut Scratch) -> bool {
    let mut check = || -> Option<bool> {
        let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
        let version = parsed
            .version
            .map_or(Ok(Version::default()), Version::try_from)
            .ok()?;
        let params = Params::try_from(parsed).ok()?;
        let expected = parsed.hash?;
        let salt: Salt<'_> = parsed.salt?;
        let mut salt_bytes = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut salt_bytes).ok()?;
        let mut output = vec![0u8; expected.len()];
        let argon2 = Argon2::new(algorithm, version, params.clone());
        let count = params.block_count();
        let outcome = if count <= usize::try_from(ARGON2_MEMORY_KIB).unwrap_or(0) {
            argon2.hash_password_into_with_memory(
                password.as_bytes(),
                salt_bytes,
                &mut output,
                scratch.blocks(count),
            )
        } else {
            argon2.hash_password_into(password.as_bytes(), salt_bytes, &mut output)
        };
        outcome.ok()?;
        // `Output`'s equality is constant-time.
        Some(Output::new(&output).ok()? == expected)
    };
    check().unwrap_or(false)
}

fn hash_now(
    kind: PasswordHashKind,
    cost: u32,
    password: &str,
    scratch: &mut Scratch,
) -> Result<String, HashError> {
    match kind {
        PasswordHashKind::Argon2id => argon2_hash(password, scratch),
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

fn verify_now(
    kind: PasswordHashKind,
    cost: u32,
    password: &str,
    stored: &str,
    scratch: &mut Scratch,
) -> Verification {
    let no = Verification {
        matches: false,
        needs_rehash: false,
    };
    if stored.starts_with("$argon2") {
        let Ok(parsed) = PasswordHash::new(stored) else {
            return no;
        };
        let matches = argon2_matches(password, &parsed, scratch);
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
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    use super::*;

    #[test]
    fn pooled_hashes_and_the_argon2_crates_own_verify_each_other() {
        let mut scratch = Scratch::default();
        let ours = argon2_hash("tr0ub4dor&3", &mut scratch).unwrap();
        let standard = Argon2::new(Algorithm::Argon2id, Version::V0x13, params().unwrap());
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(standard.verify_password(b"tr0ub4dor&3", &parsed).is_ok());
        let salt = SaltString::generate(&mut OsRng);
        let theirs = standard
            .hash_password(b"tr0ub4dor&3", &salt)
            .unwrap()
            .to_string();
        let parsed = PasswordHash::new(&theirs).unwrap();
        assert!(argon2_matches("tr0ub4dor&3", &parsed, &mut scratch));
        assert!(!argon2_matches("tr0ub4dor&4", &parsed, &mut scratch));
    }

    #[test]
    fn the_scratch_memory_is_allocated_once_and_reused() {
        let mut scratch = Scratch::default();
        argon2_hash("first", &mut scratch).unwrap();
        let first = scratch.blocks.as_ptr();
        let size = scratch.blocks.len();
        for password in ["second", "third"] {
            let hash = argon2_hash(password, &mut scratch).unwrap();
            let parsed = PasswordHash::new(&hash).unwrap();
            assert!(argon2_matches(password, &parsed, &mut scratch));
        }
        assert_eq!(scratch.blocks.as_ptr(), first);
        assert_eq!(scratch.blocks.len(), size);
    }

    #[tokio::test]
    async fn a_full_queue_answers_busy_at_once() {
        let settings = crate::config::Settings::from_lookup(|name| {
            (name == "PASSWORD_HASH").then(|| "bcrypt".to_string())
        })
        .unwrap();
        let pool = PasswordHasherPool::new(&settings.auth, 1).unwrap();
        // Hold the only thread until released, then fill the queue behind it.
        let (release, held) = std::sync::mpsc::channel::<()>();
        let blocker = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.run(move |_| held.recv().is_ok()).await })
        };
        let waiting = {
            let pool = pool.clone();
            tokio::spawn(async move {
                let hashes = (1..QUEUE_PER_CORE).map(|_| pool.hash("queued password 1".into()));
                futures_util::future::join_all(hashes).await
            })
        };
        while pool.queue.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        assert!(matches!(
            pool.hash("one too many".into()).await,
            Err(HashError::Busy)
        ));
        release.send(()).unwrap();
        assert!(blocker.await.unwrap().unwrap());
        assert!(waiting.await.unwrap().iter().all(Result::is_ok));
        assert!(pool.hash("room again".into()).await.is_ok());
    }

    #[test]
    fn argon2id_hashes_carry_the_owasp_parameters() {
        let hash = hash_now(
            PasswordHashKind::Argon2id,
            10,
            "correct horse",
            &mut Scratch::default(),
        )
        .unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        let ok = verify_now(
            PasswordHashKind::Argon2id,
            10,
            "correct horse",
            &hash,
            &mut Scratch::default(),
        );
        assert_eq!(
            ok,
            Verification {
                matches: true,
                needs_rehash: false
            }
        );
        assert!(
            !verify_now(
                PasswordHashKind::Argon2id,
                10,
                "correct horsE",
                &hash,
                &mut Scratch::default()
            )
            .matches
        );
    }

    #[test]
    fn bcrypt_never_matches_on_a_72_byte_prefix() {
        let prefix = "a".repeat(72);
        let hash = hash_now(
            PasswordHashKind::Bcrypt,
            4,
            &prefix,
            &mut Scratch::default(),
        )
        .unwrap();
        let longer = format!("{prefix}b");
        assert!(
            !verify_now(
                PasswordHashKind::Bcrypt,
                4,
                &longer,
                &hash,
                &mut Scratch::default()
            )
            .matches
        );
        assert!(matches!(
            hash_now(
                PasswordHashKind::Bcrypt,
                4,
                &longer,
                &mut Scratch::default()
            ),
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
        let verification = verify_now(
            PasswordHashKind::Argon2id,
            10,
            "imported-pass",
            &hash,
            &mut Scratch::default(),
        );
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
        let verification = verify_now(
            PasswordHashKind::Argon2id,
            10,
            "pw-123456",
            &hash,
            &mut Scratch::default(),
        );
        assert_eq!(
            verification,
            Verification {
                matches: true,
                needs_rehash: true
            }
        );
    }
}
