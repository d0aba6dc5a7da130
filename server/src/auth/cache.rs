//! The in-process app cache (`ENABLE_APP_CACHE`, `APP_CACHE_SIZE` entries per
//! kind): session checks, profiles and post-list pages. Profiles and pages
//! are kept as the serialized JSON body, so a hit copies and encodes nothing.
//!
//! Entries are trusted only while this instance is subscribed to the events
//! channel, through which every instance announces revocations and changes.
//! When the subscription drops (Redis down), the cache empties and is
//! bypassed until it is back, so a revocation can never be missed.
//!
//! Concurrent misses for one key share one load (one Redis or PostgreSQL
//! call). Each kind has its own epoch, moved by every invalidation of that
//! kind: a load that raced with one is returned but not kept, and a post
//! write never stops sessions or profiles from being cached. Lifetimes are
//! jittered, so entries cached in one burst do not all expire in one second.

use std::future::Future;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use futures_util::StreamExt;
use moka::Expiry;
use moka::future::Cache;
use prometheus::{IntCounter, IntCounterVec};
use uuid::Uuid;

use crate::config::CacheSettings;
use crate::domain::role::Role;
use crate::error::ApiError;
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
/// Each entry lives between this share of its freshness and all of it.
const JITTER_FLOOR: f64 = 0.8;

/// A session check as cached: `None` for a session that is gone for good.
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
    /// The wire form, tagged with the announcing instance so that it can
    /// skip its own echo: `{origin}|s:{id}`, `{origin}|u:{id}`, `{origin}|p`.
    fn encode(&self, origin: &str) -> String {
        match self {
            Self::SessionRevoked(id) => format!("{origin}|s:{id}"),
            Self::ProfileChanged(id) => format!("{origin}|u:{id}"),
            Self::PostsChanged => format!("{origin}|p"),
        }
    }

    fn decode(text: &str) -> Option<(&str, Self)> {
        let (origin, event) = text.split_once('|')?;
        let event = match event.split_once(':') {
            Some(("s", id)) => Self::SessionRevoked(id.to_string()),
            Some(("u", id)) => Self::ProfileChanged(id.parse().ok()?),
            None if event == "p" => Self::PostsChanged,
            _ => return None,
        };
        Some((origin, event))
    }
}

/// A lifetime of `freshness` less up to a fifth, drawn per entry.
struct Jittered(Duration);

impl<K, V> Expiry<K, V> for Jittered {
    fn expire_after_create(&self, _: &K, _: &V, _: std::time::Instant) -> Option<Duration> {
        Some(self.0.mul_f64(rand::random_range(JITTER_FLOOR..=1.0)))
    }
}

fn bounded<K, V>(size: u64, freshness: Duration) -> Cache<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    Cache::builder()
        .max_capacity(size)
        .expire_after(Jittered(freshness))
        .build()
}

/// Why a load was not kept.
enum NotKept<V> {
    /// An invalidation of its kind came while it ran: returned, not cached.
    Raced(V),
    Failed(ApiError),
}

/// One kind of entry with its own invalidation epoch.
struct Kind<K, V> {
    entries: Cache<K, V>,
    epoch: AtomicU64,
}

impl<K, V> Kind<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn new(entries: Cache<K, V>) -> Self {
        Self {
            entries,
            epoch: AtomicU64::new(0),
        }
    }

    fn bump(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// The entry, or `load`'s answer, shared by every concurrent miss of
    /// `key`; kept unless its kind was invalidated meanwhile or `keep` says
    /// no. The flag is true when the answer came from the cache.
    async fn get_or_load(
        &self,
        key: K,
        load: impl Future<Output = Result<V, ApiError>> + Send,
        keep: impl Fn() -> bool + Send,
    ) -> (Result<V, ApiError>, bool) {
        let loaded = AtomicBool::new(false);
        let shared = self
            .entries
            .try_get_with(key, async {
                loaded.store(true, Ordering::Relaxed);
                let epoch = self.epoch.load(Ordering::SeqCst);
                match load.await {
                    Ok(value) if keep() && self.epoch.load(Ordering::SeqCst) == epoch => Ok(value),
                    Ok(value) => Err(NotKept::Raced(value)),
                    Err(error) => Err(NotKept::Failed(error)),
                }
            })
            .await;
        let hit = !loaded.load(Ordering::Relaxed);
        let outcome = shared.or_else(|not_kept| match not_kept.as_ref() {
            NotKept::Raced(value) => Ok(value.clone()),
            NotKept::Failed(error) => Err(error.for_another_waiter()),
        });
        (outcome, hit)
    }
}

pub struct AppCache {
    enabled: bool,
    subscribed: AtomicBool,
    /// Tags this instance's announcements, so its own echo is skipped.
    origin: String,
    sessions: Kind<String, Option<CachedSession>>,
    profiles: Kind<Uuid, Bytes>,
    post_pages: Kind<String, Bytes>,
    /// When posts last changed: pages read from replicas soon after may lag.
    posts_changed_at: Mutex<Option<Instant>>,
    hits: IntCounter,
    misses: IntCounter,
}

impl AppCache {
    /// `lookups` is `tenk_app_cache_requests_total{result}`.
    pub fn new(settings: &CacheSettings, lookups: &IntCounterVec) -> Self {
        let post_pages = Cache::builder()
            .max_capacity(POST_PAGE_BUDGET_BYTES)
            .weigher(|key: &String, page: &Bytes| {
                u32::try_from(key.len() + page.len()).unwrap_or(u32::MAX)
            })
            .expire_after(Jittered(POST_PAGE_FRESHNESS))
            .build();
        Self {
            enabled: settings.enabled,
            subscribed: AtomicBool::new(false),
            origin: format!("{:016x}", rand::random::<u64>()),
            sessions: Kind::new(bounded(settings.size, SESSION_FRESHNESS)),
            profiles: Kind::new(bounded(settings.size, PROFILE_FRESHNESS)),
            post_pages: Kind::new(post_pages),
            posts_changed_at: Mutex::new(None),
            hits: lookups.with_label_values(&["hit"]),
            misses: lookups.with_label_values(&["miss"]),
        }
    }

    /// Whether entries are served: enabled and subscribed to invalidations.
    pub fn is_usable(&self) -> bool {
        self.enabled && self.subscribed.load(Ordering::SeqCst)
    }

    fn count(&self, hit: bool) {
        if hit {
            self.hits.inc();
        } else {
            self.misses.inc();
        }
    }

    /// Looks `key` up in `kind` when the cache is usable, else just loads.
    async fn lookup<K, V>(
        &self,
        kind: &Kind<K, V>,
        key: K,
        load: impl Future<Output = Result<V, ApiError>> + Send,
        keep: impl Fn() -> bool + Send,
    ) -> (Result<V, ApiError>, bool)
    where
        K: std::hash::Hash + Eq + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        let (outcome, hit) = if self.is_usable() {
            kind.get_or_load(key, load, keep).await
        } else {
            (load.await, false)
        };
        self.count(hit);
        (outcome, hit)
    }

    /// A session check, from memory or through `load` (Redis). The flag is
    /// true for a cache hit.
    ///
    /// # Errors
    /// `load` failed.
    pub async fn session(
        &self,
        id: &str,
        load: impl Future<Output = Result<Option<CachedSession>, ApiError>> + Send,
    ) -> (Result<Option<CachedSession>, ApiError>, bool) {
        self.lookup(&self.sessions, id.to_string(), load, || true)
            .await
    }

    pub async fn forget_session(&self, id: &str) {
        self.sessions.bump();
        self.sessions.entries.invalidate(id).await;
    }

    /// A profile body, from memory or through `load` (PostgreSQL).
    ///
    /// # Errors
    /// `load` failed.
    pub async fn profile(
        &self,
        user_id: Uuid,
        load: impl Future<Output = Result<Bytes, ApiError>> + Send,
    ) -> Result<Bytes, ApiError> {
        self.lookup(&self.profiles, user_id, load, || true).await.0
    }

    /// A post-list page body, from memory or through `load`. A page read
    /// soon after a change is served but not kept: a lagging replica may
    /// have answered it.
    ///
    /// # Errors
    /// `load` failed.
    pub async fn post_page(
        &self,
        key: String,
        load: impl Future<Output = Result<Bytes, ApiError>> + Send,
    ) -> Result<Bytes, ApiError> {
        let settled = || {
            self.posts_changed_at
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_none_or(|at| at.elapsed() >= REPLICA_LAG_ALLOWANCE)
        };
        self.lookup(&self.post_pages, key, load, settled).await.0
    }

    /// Applies an event locally.
    pub async fn apply(&self, event: &Event) {
        match event {
            Event::SessionRevoked(id) => {
                self.sessions.bump();
                self.sessions.entries.invalidate(id).await;
            }
            Event::ProfileChanged(id) => {
                self.profiles.bump();
                self.profiles.entries.invalidate(id).await;
            }
            Event::PostsChanged => {
                *self
                    .posts_changed_at
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
                self.post_pages.bump();
                self.post_pages.entries.invalidate_all();
            }
        }
    }

    /// Applies an event here and announces it to every other instance. It
    /// follows a change that is already saved, so it cannot fail the
    /// request: if Redis refuses the message, the other instances' own
    /// subscriptions are failing too, and a lost subscription empties their
    /// caches; at worst an entry lives out its freshness.
    pub async fn announce(&self, redis: &RedisClient, event: &Event) {
        self.apply(event).await;
        let mut connection = redis.connection();
        let published = redis::cmd("PUBLISH")
            .arg(redis.keys().events_channel())
            .arg(event.encode(&self.origin))
            .query_async::<()>(&mut connection)
            .await;
        if let Err(error) = published {
            tracing::warn!(error = %error, "cache invalidation not announced");
        }
    }

    /// Flips the subscription state. Either way the cache empties and every
    /// epoch moves: entries written while events could be missed must not
    /// survive into the next subscription. Going down, the flag flips first
    /// so nothing is served while clearing; coming up, it flips last.
    fn set_subscribed(&self, subscribed: bool) {
        if !subscribed {
            self.subscribed.store(false, Ordering::SeqCst);
        }
        self.sessions.bump();
        self.profiles.bump();
        self.post_pages.bump();
        self.sessions.entries.invalidate_all();
        self.profiles.entries.invalidate_all();
        self.post_pages.entries.invalidate_all();
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
            match Event::decode(&payload) {
                // Applied already, when it was announced.
                Some((origin, _)) if origin == self.origin => {}
                Some((_, event)) => self.apply(&event).await,
                None => tracing::debug!("unknown cache event ignored"),
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

    fn test_cache() -> AppCache {
        let lookups =
            IntCounterVec::new(prometheus::Opts::new("lookups", "test"), &["result"]).unwrap();
        let cache = AppCache::new(
            &CacheSettings {
                enabled: true,
                size: 10,
            },
            &lookups,
        );
        cache.set_subscribed(true);
        cache
    }

    fn live() -> Option<CachedSession> {
        Some(CachedSession {
            user_id: Uuid::nil(),
            role: Role::User,
            expires_at_ms: i64::MAX,
        })
    }

    #[test]
    fn events_round_trip_through_their_wire_form() {
        for event in [
            Event::SessionRevoked("abc".into()),
            Event::ProfileChanged(Uuid::new_v4()),
            Event::PostsChanged,
        ] {
            assert_eq!(Event::decode(&event.encode("me")), Some(("me", event)));
        }
        assert_eq!(Event::decode("me|x:1"), None);
        assert_eq!(Event::decode("s:1"), None);
    }

    #[tokio::test]
    async fn nothing_is_served_while_unsubscribed() {
        let cache = test_cache();
        let (first, hit) = cache.session("s", async { Ok(live()) }).await;
        assert!(first.unwrap().is_some() && !hit);
        let (_, hit) = cache.session("s", async { Ok(None) }).await;
        assert!(hit);
        cache.set_subscribed(false);
        let (gone, hit) = cache.session("s", async { Ok(None) }).await;
        assert!(gone.unwrap().is_none() && !hit);
    }

    #[tokio::test]
    async fn a_load_that_raced_with_a_revocation_is_returned_but_not_kept() {
        let cache = test_cache();
        let (read, _) = cache
            .session("s", async {
                cache.apply(&Event::SessionRevoked("other".into())).await;
                Ok(live())
            })
            .await;
        assert!(read.unwrap().is_some());
        let (again, hit) = cache.session("s", async { Ok(None) }).await;
        assert!(!hit);
        assert!(again.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_post_write_leaves_sessions_and_profiles_cached() {
        let cache = test_cache();
        let user = Uuid::new_v4();
        cache.session("s", async { Ok(live()) }).await.0.unwrap();
        let body = Bytes::from_static(b"{}");
        cache.profile(user, async { Ok(body) }).await.unwrap();
        let page = cache
            .post_page("k".into(), async { Ok(Bytes::from_static(b"[]")) })
            .await
            .unwrap();
        assert_eq!(page, "[]");
        cache.apply(&Event::PostsChanged).await;
        let (_, hit) = cache.session("s", async { Ok(None) }).await;
        assert!(hit, "a post write evicted a session");
        let profile = cache
            .profile(user, async { Ok(Bytes::from_static(b"reloaded")) })
            .await
            .unwrap();
        assert_eq!(profile, "{}", "a post write evicted a profile");
        let page = cache
            .post_page("k".into(), async { Ok(Bytes::from_static(b"new")) })
            .await
            .unwrap();
        assert_eq!(page, "new");
    }

    #[tokio::test]
    async fn concurrent_misses_for_one_key_share_one_load() {
        let cache = test_cache();
        let loads = AtomicU64::new(0);
        let (gate, _) = tokio::sync::watch::channel(false);
        let lookups = (0..16).map(|_| {
            let mut open = gate.subscribe();
            let loads = &loads;
            cache.session("s", async move {
                loads.fetch_add(1, Ordering::SeqCst);
                let _ = open.wait_for(|open| *open).await;
                Ok(live())
            })
        });
        let all = futures_util::future::join_all(lookups);
        let opener = async {
            tokio::task::yield_now().await;
            let _ = gate.send(true);
        };
        let (results, ()) = tokio::join!(all, opener);
        assert!(
            results
                .iter()
                .all(|(result, _)| matches!(result, Ok(Some(_))))
        );
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }
}
