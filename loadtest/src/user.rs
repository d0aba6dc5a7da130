//! A virtual user's state: its account, its current tokens, its own post,
//! and a flag that keeps its token-changing calls (login, refresh) one at a
//! time, because a refresh token is single use: two refreshes racing with
//! the same token would look like token theft and end the session.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};

use crate::api::Tokens;

/// The password of every load-test account. Fixed, so a second run over the
/// same database logs the accounts in again instead of registering them.
pub const PASSWORD: &str = "tenk load test account";

/// One simulated user.
#[derive(Debug)]
pub struct VirtualUser {
    pub email: String,
    tokens: RwLock<Tokens>,
    own_post: Mutex<Option<String>>,
    rotating: AtomicBool,
}

impl VirtualUser {
    pub fn new(email: String, tokens: Tokens, own_post: Option<String>) -> Self {
        Self {
            email,
            tokens: RwLock::new(tokens),
            own_post: Mutex::new(own_post),
            rotating: AtomicBool::new(false),
        }
    }

    /// The current access token.
    pub fn access_token(&self) -> String {
        self.tokens
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .access_token
            .clone()
    }

    /// The current refresh token.
    pub fn refresh_token(&self) -> String {
        self.tokens
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .refresh_token
            .clone()
    }

    /// Replaces the tokens after a login or refresh.
    pub fn set_tokens(&self, tokens: Tokens) {
        *self.tokens.write().unwrap_or_else(PoisonError::into_inner) = tokens;
    }

    pub fn own_post(&self) -> Option<String> {
        self.own_post
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn set_own_post(&self, id: String) {
        *self.own_post.lock().unwrap_or_else(PoisonError::into_inner) = Some(id);
    }

    /// Claims the right to change this user's tokens; `None` when another
    /// login or refresh of the same user is still open. Released on drop.
    pub fn begin_rotation(&self) -> Option<RotationGuard<'_>> {
        self.rotating
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| RotationGuard { user: self })
    }
}

/// Held while a user's login or refresh is open.
#[derive(Debug)]
pub struct RotationGuard<'a> {
    user: &'a VirtualUser,
}

impl Drop for RotationGuard<'_> {
    fn drop(&mut self) {
        self.user.rotating.store(false, Ordering::Release);
    }
}

/// The email of load-test account `index` under `prefix`.
pub fn email(prefix: &str, index: usize) -> String {
    format!("{prefix}-{index}@loadtest.example.com")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::SessionRef;

    fn tokens(access: &str) -> Tokens {
        Tokens {
            access_token: access.into(),
            refresh_token: format!("{access}-refresh"),
            session: SessionRef { id: "s".into() },
        }
    }

    #[test]
    fn only_one_rotation_at_a_time_and_the_guard_releases_it() {
        let user = VirtualUser::new(email("lt", 1), tokens("a"), None);
        let first = user.begin_rotation();
        assert!(first.is_some());
        assert!(user.begin_rotation().is_none());
        drop(first);
        assert!(user.begin_rotation().is_some());
    }

    #[test]
    fn new_tokens_replace_the_old_ones() {
        let user = VirtualUser::new(email("lt", 1), tokens("a"), None);
        user.set_tokens(tokens("b"));
        assert_eq!(user.access_token(), "b");
        assert_eq!(user.refresh_token(), "b-refresh");
        assert_eq!(email("lt", 7), "lt-7@loadtest.example.com");
    }
}
