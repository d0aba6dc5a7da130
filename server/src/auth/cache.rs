//! The in-process app cache (`ENABLE_APP_CACHE`, `APP_CACHE_SIZE` entries per
//! kind): session checks, profiles and post-list pages.
//!
//! Entries are trusted only while this instance is subscribed to the events
//! channel, through which every instance announces revocations and changes.
//! When the subscription drops (Redis down), the cache empties and is
//! bypassed until it is back, so a revocation can never be missed. An
//! epoch counter keeps a lookup that raced with a revocation from caching
//! what it read.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use contract::api::{PostPage, UserProfile};
use futures_util::StreamExt;
use moka::sync::Cache;
use prometheus::IntCounterVec;
use uuid::Uuid;

use crate::config::CacheSettings;
use crate::domain::role::Role;
use crate::redis_client::RedisClient;

/// How long a session check is served from memory before Redis is asked
/// again (which also slides the session's idle deadline).
const SESSION_FRESHNESS: Duration = Duration::from_secs(10);
const PROFILE_FRESHNESS: Duration = Duration::from_secs(60);
const POST_PAGE_FRESHNESS: Duration = Duration::from_secs(30);
/// Post pages are weighed in bytes, not counted: a page can be 50 x 64 KiB.
const POST_PAGE_BUDGET_BYTES: u64 = 64 * 1024 * 1024;
/// Pages are not cached this soon after a change, while replicas catch up.
const REPLICA_LAG_ALLOWANCE: Duration = Duration::from_secs(2);

fn page_weight(key: &str, page: &PostPage) -> u32 {
    let text: usize = page
        .items
        .iter()
        .map(|post| post.title.len() + post.body.len() + 200)
        .sum();
    u32::try_from(key.len() + text).unwrap_or(u32::MAX)
}

#[derive(Debug, Clone, Copy)]
pub struct CachedSession {
    pub user_id: Uuid,
    pub role: Role,
    pub expires_at_ms: i64,
}

/// A change every instance must hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    SessionRevoked(String),
    ProfileChanged(Uuid),
    PostsChanged,
}

impl Event {
    fn encode(&self) -> String {
        match self {
            Self::SessionRevoked(id) => format!("s:{id}"),
            Self::ProfileChanged(id) => format!("u:{id}"),
            Self::PostsChanged => "p".into(),
        }
    }

    fn decode(text: &str) -> Option<Self> {
        match text.split_once(':') {
            Some(("s", id)) => Some(Self::SessionRevoked(id.to_string())),
            Some(("u", id)) => id.parse().ok().map(Self::ProfileChanged),
            _ if text == "p" => Some(Self::PostsChanged),
            _ => None,
        }
    }
}

fn bounded<K, V>(size: u64, freshness: Duration) -> Cache<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    Cache::builder()
        .max_capacity(size)
        .time_to_live(freshness)
        .build()
}

pub struct AppCache {
    enabled: bool,
    subscribed: AtomicBool,
    epoch: AtomicU64,
    sessions: Cache<String, CachedSession>,
    profiles: Cache<Uuid, UserProfile>,
    post_pages: Cache<String, Arc<PostPage>>,
    /// When posts last changed: pages read from replicas soon after may lag.
    posts_changed_at: Mutex<Option<Instant>>,
    /// `tenk_app_cache_requests_total{result}`.
    lookups: IntCounterVec,
}

impl AppCache {
    pub fn new(settings: &CacheSettings, lookups: IntCounterVec) -> Self {
        Self {
            lookups,
            enabled: settings.enabled,
            subscribed: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            sessions: bounded(settings.size, SESSION_FRESHNESS),
            profiles: bounded(settings.size, PROFILE_FRESHNESS),
            post_pages: Cache::builder()
                .max_capacity(POST_PAGE_BUDGET_BYTES)
                .weigher(|key: &String, page: &Arc<PostPage>| page_weight(key, page))
                .time_to_live(POST_PAGE_FRESHNESS)
                .build(),
            posts_changed_at: Mutex::new(None),
        }
    }

    fn usable(&self) -> bool {
        self.enabled && self.subscribed.load(Ordering::SeqCst)
    }

    /// Looks `read` up when the cache is usable, counting the hit or miss.
    fn lookup<T>(&self, read: impl FnOnce() -> Option<T>) -> Option<T> {
        let found = if self.usable() { read() } else { None };
        let result = if found.is_some() { "hit" } else { "miss" };
        self.lookups.with_label_values(&[result]).inc();
        found
    }

    /// Changes whenever an invalidation arrives or the subscription drops.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    pub fn session(&self, id: &str) -> Option<CachedSession> {
        self.lookup(|| self.sessions.get(id))
    }

    /// Caches a session read at `epoch`, unless an invalidation came since.
    pub fn remember_session(&self, id: &str, user_id: Uuid, role: Role, ends: i64, epoch: u64) {
        if self.usable() && self.epoch() == epoch {
            let entry = CachedSession {
                user_id,
                role,
                expires_at_ms: ends,
            };
            self.sessions.insert(id.to_string(), entry);
        }
    }

    pub fn forget_session(&self, id: &str) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.sessions.invalidate(id);
    }

    pub fn profile(&self, user_id: Uuid) -> Option<UserProfile> {
        self.lookup(|| self.profiles.get(&user_id))
    }

    pub fn remember_profile(&self, user_id: Uuid, profile: UserProfile, epoch: u64) {
        if self.usable() && self.epoch() == epoch {
            self.profiles.insert(user_id, profile);
        }
    }

    pub fn post_page(&self, key: &str) -> Option<Arc<PostPage>> {
        self.lookup(|| self.post_pages.get(key))
    }

    /// Caches a page read at `epoch`, unless posts changed since, or so
    /// recently that a lagging replica may have served the old rows.
    pub fn remember_post_page(&self, key: String, page: Arc<PostPage>, epoch: u64) {
        let settled = self
            .posts_changed_at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none_or(|at| at.elapsed() >= REPLICA_LAG_ALLOWANCE);
        if settled && self.usable() && self.epoch() == epoch {
            self.post_pages.insert(key, page);
        }
    }

    /// Applies an event locally.
    pub fn apply(&self, event: &Event) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        match event {
            Event::SessionRevoked(id) => self.sessions.invalidate(id),
            Event::ProfileChanged(id) => self.profiles.invalidate(id),
            Event::PostsChanged => {
                *self
                    .posts_changed_at
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
                self.post_pages.invalidate_all();
            }
        }
    }

    /// Applies an event here and announces it to every other instance.
    ///
    /// # Errors
    /// Redis failed.
    pub async fn announce(&self, redis: &RedisClient, event: &Event) -> redis::RedisResult<()> {
        self.apply(event);
        let mut connection = redis.connection();
        redis::cmd("PUBLISH")
            .arg(redis.keys().events_channel())
            .arg(event.encode())
            .query_async::<()>(&mut connection)
            .await
    }

    /// Flips the subscription state. Either way the cache empties and the
    /// epoch moves: entries written while events could be missed must not
    /// survive into the next subscription. Going down, the flag flips first
    /// so nothing is served while clearing; coming up, it flips last.
    fn set_subscribed(&self, subscribed: bool) {
        if !subscribed {
            self.subscribed.store(false, Ordering::SeqCst);
        }
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.sessions.invalidate_all();
        self.profiles.invalidate_all();
        self.post_pages.invalidate_all();
        if subscribed {
            self.subscribed.store(true, Ordering::SeqCst);
        }
    }

    /// Listens for events until the task is aborted, resubscribing after
    /// failures; while unsubscribed the cache is bypassed.
    pub fn spawn_listener(self: &Arc<Self>, redis: RedisClient) -> tokio::task::JoinHandle<()> {
        let cache = self.clone();
        tokio::spawn(async move {
            let channel = redis.keys().events_channel();
            loop {
                if let Err(error) = cache.listen(&redis, &channel).await {
                    // Say it once per outage, not at every retry.
                    if cache.subscribed.load(Ordering::SeqCst) {
                        tracing::warn!(error = %error, "cache invalidation channel lost; cache bypassed");
                    } else {
                        tracing::debug!(error = %error, "cache invalidation channel still down");
                    }
                }
                cache.set_subscribed(false);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    }

    async fn listen(&self, redis: &RedisClient, channel: &str) -> redis::RedisResult<()> {
        let mut pubsub = redis.pubsub_client().get_async_pubsub().await?;
        pubsub.subscribe(channel).await?;
        self.set_subscribed(true);
        let mut messages = pubsub.on_message();
        while let Some(message) = messages.next().await {
            let payload: String = message.get_payload()?;
            if let Some(event) = Event::decode(&payload) {
                self.apply(&event);
            }
        }
        Err(redis::RedisError::from((
            redis::ErrorKind::Io,
            "subscription closed",
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_counter() -> IntCounterVec {
        IntCounterVec::new(prometheus::Opts::new("lookups", "test"), &["result"]).unwrap()
    }

    #[test]
    fn events_round_trip_through_their_wire_form() {
        for event in [
            Event::SessionRevoked("abc".into()),
            Event::ProfileChanged(Uuid::new_v4()),
            Event::PostsChanged,
        ] {
            assert_eq!(Event::decode(&event.encode()), Some(event));
        }
        assert_eq!(Event::decode("x:1"), None);
    }

    #[test]
    fn nothing_is_served_while_unsubscribed() {
        let cache = AppCache::new(
            &CacheSettings {
                enabled: true,
                size: 10,
            },
            test_counter(),
        );
        cache.set_subscribed(true);
        let user = Uuid::new_v4();
        cache.remember_session("s", user, Role::User, i64::MAX, cache.epoch());
        assert!(cache.session("s").is_some());
        cache.set_subscribed(false);
        assert!(cache.session("s").is_none());
    }

    #[test]
    fn a_read_that_raced_with_a_revocation_is_not_cached() {
        let cache = AppCache::new(
            &CacheSettings {
                enabled: true,
                size: 10,
            },
            test_counter(),
        );
        cache.set_subscribed(true);
        let epoch = cache.epoch();
        cache.apply(&Event::SessionRevoked("s".into()));
        cache.remember_session("s", Uuid::new_v4(), Role::User, i64::MAX, epoch);
        assert!(cache.session("s").is_none());
    }
}
