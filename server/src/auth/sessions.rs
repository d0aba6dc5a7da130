//! Sessions in Redis. A session is a hash `session:{id}` with the user, role,
//! times, client and the hash of its current refresh token; it expires at
//! the sooner of its idle deadline and its absolute end (`SESSION_TTL`).
//! `user_sessions:{user}` indexes a user's sessions and `sessions_by_expiry`
//! counts live sessions cluster-wide in O(log n).
//!
//! Revocation deletes the hash, then announces the id on the events channel
//! so every instance drops it from its cache.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::redis_client::Script;
use contract::api::{SessionInfo, SessionSummary, TokenResponse};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::cache::{AppCache, CachedSession};
use super::jwt::JwtKeys;
use super::random_token;
use crate::config::AuthSettings;
use crate::domain::role::Role;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::redis_client::RedisClient;
use crate::timestamps::rfc3339_ms;

/// A live session, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub user_id: Uuid,
    pub role: Role,
    pub created_at_ms: i64,
    pub last_seen_at_ms: i64,
    pub expires_at_ms: i64,
    pub ip: String,
    pub user_agent: String,
}

impl Session {
    /// The session as listed to its owner (`current`: the caller's session)
    /// or to an admin.
    pub fn summary(&self, current: Option<&str>) -> SessionSummary {
        SessionSummary {
            id: self.id.clone(),
            user_id: self.user_id.to_string(),
            created_at: rfc3339_ms(self.created_at_ms),
            last_seen_at: rfc3339_ms(self.last_seen_at_ms),
            expires_at: rfc3339_ms(self.expires_at_ms),
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
            current: current == Some(self.id.as_str()),
        }
    }
}

/// What a login or refresh hands the client.
#[derive(Debug, Clone)]
pub struct IssuedSession {
    pub id: String,
    pub user_id: Uuid,
    pub role: Role,
    pub expires_at_ms: i64,
    pub refresh_token: String,
}

impl IssuedSession {
    /// The reply to the login or refresh that opened or rotated it: a new
    /// access token that never outlives the session, and its refresh token.
    ///
    /// # Errors
    /// The access token cannot be signed.
    pub fn token_response(&self, jwt: &JwtKeys) -> anyhow::Result<TokenResponse> {
        let not_after = u64::try_from(self.expires_at_ms / 1000).unwrap_or(0);
        let (access_token, expires_in) = jwt.issue(self.user_id, &self.id, self.role, not_after)?;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer".into(),
            expires_in,
            refresh_token: self.refresh_token.clone(),
            session: SessionInfo {
                id: self.id.clone(),
                expires_at: rfc3339_ms(self.expires_at_ms),
            },
        })
    }
}

/// Why a session ended (the `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeReason {
    Logout,
    User,
    Admin,
    PasswordChange,
    Disabled,
    RefreshReuse,
}

impl RevokeReason {
    const ALL: [Self; 6] = [
        Self::Logout,
        Self::User,
        Self::Admin,
        Self::PasswordChange,
        Self::Disabled,
        Self::RefreshReuse,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::User => "user",
            Self::Admin => "admin",
            Self::PasswordChange => "password_change",
            Self::Disabled => "disabled",
            Self::RefreshReuse => "refresh_reuse",
        }
    }
}

/// The outcome of presenting a refresh token.
#[derive(Debug)]
pub enum Refresh {
    Rotated(IssuedSession),
    /// Already-rotated token: the session has been revoked.
    Reused,
    Invalid,
}

/// Touches a live session: records `last_seen`, slides its idle deadline (never
/// past its absolute end), and returns user, role, end and idle deadline; nil
/// when gone. With a second key (the active-session index, when it shares a
/// node with the session: not on a Redis Cluster) it moves the session there
/// too, in the same round trip.
const TOUCH: &str = r"
local f = redis.call('HMGET', KEYS[1], 'uid', 'role', 'exp')
local now = tonumber(ARGV[1])
if not f[1] or tonumber(f[3]) <= now then
  if f[1] then redis.call('DEL', KEYS[1]) end
  if KEYS[2] then redis.call('ZREM', KEYS[2], ARGV[3]) end
  return false
end
local ends = tonumber(f[3])
local idle_until = math.min(now + tonumber(ARGV[2]), ends)
redis.call('HSET', KEYS[1], 'seen', ARGV[1])
redis.call('PEXPIREAT', KEYS[1], idle_until)
if KEYS[2] then redis.call('ZADD', KEYS[2], idle_until, ARGV[3]) end
return {f[1], f[2], f[3], tostring(idle_until)}
";

/// Deletes a session; returns its user id, or nil when it was gone.
const REVOKE: &str = r"
local uid = redis.call('HGET', KEYS[1], 'uid')
redis.call('DEL', KEYS[1])
return uid
";

#[derive(Clone)]
pub struct SessionStore {
    redis: RedisClient,
    metrics: Arc<Metrics>,
    cache: Arc<AppCache>,
    ttl: Duration,
    idle: Duration,
    touch: Arc<Script>,
    lookup_hit: prometheus::Histogram,
    lookup_miss: prometheus::Histogram,
    revoke: Arc<Script>,
}

fn now_ms() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64 / 1_000_000
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Refresh tokens are stored as SHA-256 digests: a Redis dump reveals none.
fn digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl SessionStore {
    pub fn new(
        redis: RedisClient,
        cache: Arc<AppCache>,
        metrics: Arc<Metrics>,
        settings: &AuthSettings,
    ) -> Self {
        let lookup_hit = metrics.session_lookup.with_label_values(&["hit"]);
        let lookup_miss = metrics.session_lookup.with_label_values(&["miss"]);
        for reason in RevokeReason::ALL {
            metrics
                .sessions_revoked
                .with_label_values(&[reason.as_str()]);
        }
        Self {
            lookup_hit,
            lookup_miss,
            redis,
            metrics,
            cache,
            ttl: settings.session_ttl,
            idle: settings.session_idle_timeout,
            touch: Arc::new(Script::new(TOUCH)),
            revoke: Arc::new(Script::new(REVOKE)),
        }
    }

    /// Opens a new session with a fresh id (192 random bits) and refresh token.
    ///
    /// # Errors
    /// Redis failed.
    pub async fn create(
        &self,
        user_id: Uuid,
        role: Role,
        ip: &str,
        user_agent: &str,
    ) -> redis::RedisResult<IssuedSession> {
        let id = random_token(24);
        let secret = random_token(32);
        let keys = self.redis.keys();
        let now = now_ms();
        let ends = now + millis(self.ttl);
        let idle_until = (now + millis(self.idle)).min(ends);
        let user_agent: String = user_agent.chars().take(256).collect();
        // Three keys in three hash slots: one pipeline per key, so the same
        // code runs on a single Redis and on a Redis Cluster.
        let session_key = keys.session(&id);
        let index_key = keys.user_sessions(&user_id);
        let expiry_key = keys.sessions_by_expiry();
        let mut session = redis::pipe();
        session
            .atomic()
            .hset_multiple(
                &session_key,
                &[
                    ("uid", user_id.to_string()),
                    ("role", role.as_str().to_string()),
                    ("created", now.to_string()),
                    ("seen", now.to_string()),
                    ("exp", ends.to_string()),
                    ("ip", ip.to_string()),
                    ("ua", user_agent),
                    ("rh", digest(&secret)),
                ],
            )
            .ignore()
            .cmd("PEXPIREAT")
            .arg(&session_key)
            .arg(idle_until)
            .ignore();
        let mut index = redis::pipe();
        index
            .atomic()
            .sadd(&index_key, &id)
            .ignore()
            // The index lives as long as its longest session: NX sets a first
            // expiry, GT only ever extends it.
            .cmd("PEXPIREAT")
            .arg(&index_key)
            .arg(ends)
            .arg("NX")
            .ignore()
            .cmd("PEXPIREAT")
            .arg(&index_key)
            .arg(ends)
            .arg("GT")
            .ignore();
        let mut expiry = redis::pipe();
        expiry
            .atomic()
            .zadd(&expiry_key, &id, idle_until)
            .ignore()
            .cmd("ZREMRANGEBYSCORE")
            .arg(&expiry_key)
            .arg("-inf")
            .arg(now)
            .ignore();
        let (mut a, mut b, mut c) = (
            self.redis.connection(),
            self.redis.connection(),
            self.redis.connection(),
        );
        let (first, second, third) = tokio::join!(
            session.query_async::<()>(&mut a),
            index.query_async::<()>(&mut b),
            expiry.query_async::<()>(&mut c),
        );
        first?;
        second?;
        third?;
        self.metrics.sessions_created.inc();
        Ok(IssuedSession {
            refresh_token: format!("{id}.{secret}"),
            id,
            user_id,
            role,
            expires_at_ms: ends,
        })
    }

    /// Checks that a session is live and belongs to `user_id`, from the cache
    /// when it holds a fresh entry, else from Redis (which also slides the
    /// idle deadline); concurrent checks of one session make one Redis call.
    /// `Ok(None)`: gone, expired, or someone else's.
    ///
    /// # Errors
    /// Redis failed: the caller must refuse the request.
    pub async fn validate(&self, id: &str, user_id: Uuid) -> Result<Option<Role>, ApiError> {
        let started = Instant::now();
        let load = async {
            let touched = self.touch(id).await?;
            Ok(touched.map(|(user_id, role, expires_at_ms)| CachedSession {
                user_id,
                role,
                expires_at_ms,
            }))
        };
        let (session, hit) = self.cache.session(id, load).await;
        let histogram = if hit {
            &self.lookup_hit
        } else {
            &self.lookup_miss
        };
        histogram.observe(started.elapsed().as_secs_f64());
        Ok(session?
            .filter(|session| session.user_id == user_id && session.expires_at_ms > now_ms())
            .map(|session| session.role))
    }

    /// Moves a session in the active-session count off the request path,
    /// where the count lives in another hash slot (Redis Cluster): the count
    /// may lag a touch by a round trip; the request does not wait for it.
    fn update_count(&self, id: &str, until_ms: Option<String>) {
        let mut connection = self.redis.connection();
        let key = self.redis.keys().sessions_by_expiry();
        let id = id.to_string();
        tokio::spawn(async move {
            let outcome = match until_ms {
                Some(until) => {
                    redis::cmd("ZADD")
                        .arg(key)
                        .arg(until)
                        .arg(id)
                        .query_async::<()>(&mut connection)
                        .await
                }
                None => {
                    redis::cmd("ZREM")
                        .arg(key)
                        .arg(id)
                        .query_async::<()>(&mut connection)
                        .await
                }
            };
            if let Err(error) = outcome {
                tracing::debug!(error = %error, "active-session count not updated");
            }
        });
    }

    async fn touch(&self, id: &str) -> redis::RedisResult<Option<(Uuid, Role, i64)>> {
        let keys = self.redis.keys();
        let mut connection = self.redis.connection();
        let mut invocation = self.touch.key(keys.session(id));
        let counted_in_script = !self.redis.is_cluster();
        if counted_in_script {
            invocation.key(keys.sessions_by_expiry());
        }
        let fields: Option<(String, String, String, String)> = invocation
            .arg(now_ms())
            .arg(millis(self.idle))
            .arg(id)
            .invoke_async(&mut connection)
            .await?;
        let Some((uid, role, ends, idle_until)) = fields else {
            // Gone or ended: it no longer counts as active.
            if !counted_in_script {
                self.update_count(id, None);
            }
            return Ok(None);
        };
        // The count of active sessions follows the sliding idle deadline.
        if !counted_in_script {
            self.update_count(id, Some(idle_until));
        }
        Ok((|| {
            Some((uid.parse().ok()?, Role::parse(&role)?, ends.parse().ok()?))
        })())
    }

    /// Reads one session without touching it.
    ///
    /// # Errors
    /// Redis failed.
    pub async fn get(&self, id: &str) -> redis::RedisResult<Option<Session>> {
        Ok(self
            .get_many(&[id.to_string()])
            .await?
            .into_iter()
            .next()
            .flatten())
    }

    async fn get_many(&self, ids: &[String]) -> redis::RedisResult<Vec<Option<Session>>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys = self.redis.keys();
        // One HMGET per session, concurrently on the multiplexed connection:
        // sessions live in different hash slots on a cluster.
        let reads = ids.iter().map(|id| {
            let mut connection = self.redis.connection();
            let key = keys.session(id);
            async move {
                redis::cmd("HMGET")
                    .arg(key)
                    .arg(&["uid", "role", "created", "seen", "exp", "ip", "ua"])
                    .query_async::<Vec<Option<String>>>(&mut connection)
                    .await
            }
        });
        let rows: Vec<Vec<Option<String>>> = futures_util::future::join_all(reads)
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        let now = now_ms();
        Ok(ids
            .iter()
            .zip(rows)
            .map(|(id, row)| parse_session(id, &row).filter(|s| s.expires_at_ms > now))
            .collect())
    }

    /// A user's live sessions, newest first; drops index entries of ended ones.
    ///
    /// # Errors
    /// Redis failed.
    pub async fn list(&self, user_id: Uuid) -> redis::RedisResult<Vec<Session>> {
        let index = self.redis.keys().user_sessions(&user_id);
        let mut connection = self.redis.connection();
        let ids: Vec<String> = redis::cmd("SMEMBERS")
            .arg(&index)
            .query_async(&mut connection)
            .await?;
        let found = self.get_many(&ids).await?;
        let stale: Vec<&String> = ids
            .iter()
            .zip(&found)
            .filter(|(_, s)| s.is_none())
            .map(|(id, _)| id)
            .collect();
        if !stale.is_empty() {
            redis::cmd("SREM")
                .arg(&index)
                .arg(stale)
                .query_async::<()>(&mut connection)
                .await?;
        }
        let mut sessions: Vec<Session> = found
            .into_iter()
            .flatten()
            .filter(|s| s.user_id == user_id)
            .collect();
        sessions.sort_by_key(|session| std::cmp::Reverse(session.created_at_ms));
        Ok(sessions)
    }

    /// Ends a session everywhere. Returns whether it existed.
    ///
    /// # Errors
    /// Redis failed.
    pub async fn revoke(&self, id: &str, reason: RevokeReason) -> redis::RedisResult<bool> {
        let keys = self.redis.keys();
        let mut connection = self.redis.connection();
        let owner: Option<String> = self
            .revoke
            .key(keys.session(id))
            .invoke_async(&mut connection)
            .await?;
        // The session is gone; its index entries are tidied apart (each key
        // in its own hash slot, for Redis Cluster).
        let _: () = redis::cmd("ZREM")
            .arg(keys.sessions_by_expiry())
            .arg(id)
            .query_async(&mut connection)
            .await?;
        if let Some(uid) = owner.as_deref().and_then(|uid| uid.parse::<Uuid>().ok()) {
            let _: () = redis::cmd("SREM")
                .arg(keys.user_sessions(&uid))
                .arg(id)
                .query_async(&mut connection)
                .await?;
        }
        self.cache.forget_session(id).await;
        if owner.is_some() {
            let revoked = &self.metrics.sessions_revoked;
            revoked.with_label_values(&[reason.as_str()]).inc();
        }
        self.cache
            .announce(
                &self.redis,
                &super::cache::Event::SessionRevoked(id.to_string()),
            )
            .await;
        Ok(owner.is_some())
    }

    /// Ends every session of a user, except `keep`. Returns how many ended.
    ///
    /// # Errors
    /// Redis failed.
    pub async fn revoke_all(
        &self,
        user_id: Uuid,
        keep: Option<&str>,
        reason: RevokeReason,
    ) -> redis::RedisResult<u64> {
        let mut revoked = 0;
        for session in self.list(user_id).await? {
            if Some(session.id.as_str()) != keep && self.revoke(&session.id, reason).await? {
                revoked += 1;
            }
        }
        Ok(revoked)
    }

    /// Live sessions across every instance: one `ZCOUNT`.
    ///
    /// # Errors
    /// Redis failed.
    pub async fn count_active(&self) -> redis::RedisResult<u64> {
        let mut connection = self.redis.connection();
        redis::cmd("ZCOUNT")
            .arg(self.redis.keys().sessions_by_expiry())
            .arg(format!("({}", now_ms()))
            .arg("+inf")
            .query_async(&mut connection)
            .await
    }
}

fn parse_session(id: &str, row: &[Option<String>]) -> Option<Session> {
    let text = |index: usize| row.get(index).cloned().flatten();
    let number = |index: usize| text(index).and_then(|value| value.parse::<i64>().ok());
    Some(Session {
        id: id.to_string(),
        user_id: text(0)?.parse().ok()?,
        role: Role::parse(&text(1)?)?,
        created_at_ms: number(2)?,
        last_seen_at_ms: number(3)?,
        expires_at_ms: number(4)?,
        ip: text(5).unwrap_or_default(),
        user_agent: text(6).unwrap_or_default(),
    })
}
