//! The Redis connection. On one server (`REDIS_URL`) it is one multiplexed,
//! auto-reconnecting connection (concurrent commands pipeline on it: the
//! seed's auto-pipelining); behind Sentinel the same, re-pointed at the
//! primary Sentinel names whenever it changes (`sentinel.rs`); on a Redis
//! Cluster a cluster connection that routes each command to its slot
//! (`cluster.rs`). Every command has connect and response timeouts, TCP
//! keep-alive and a duration in `tenk_redis_command_duration_seconds`. It
//! connects lazily, so the server starts (and reports not-ready) while
//! Redis is down.

mod cluster;
mod script;
mod sentinel;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::io::tcp::{TcpSettings, socket2::TcpKeepalive};
use redis::{Client, Cmd, IntoConnectionInfo, Pipeline, RedisFuture, Value};
use secrecy::ExposeSecret;

use crate::config::{RedisSettings, RedisTopology};
use crate::db::CHECK_TIMEOUT;
use crate::dependencies::Breaker;
use crate::redis_keys::RedisKeys;
pub use script::{Script, ScriptCall};

/// How commands reach Redis.
#[derive(Clone)]
enum Backend {
    Single {
        client: Client,
        manager: ConnectionManager,
    },
    Sentinel(Arc<sentinel::Tracker>),
    Cluster(Arc<cluster::Lazy>),
}

/// A cheap-to-clone handle on the shared connection and the key builder.
#[derive(Clone)]
pub struct RedisClient {
    backend: Backend,
    /// Whether Redis is known to answer; while not, commands fail at once.
    breaker: Arc<Breaker>,
    command_duration: prometheus::Histogram,
    keys: RedisKeys,
    mode: &'static str,
}

/// The outcome of one bounded `PING`.
#[derive(Debug, Clone)]
pub struct RedisPing {
    pub up: bool,
    pub latency: Duration,
    pub error: Option<String>,
}

fn tcp_settings(settings: &RedisSettings) -> TcpSettings {
    let keepalive = TcpKeepalive::new().with_time(settings.keepalive);
    TcpSettings::default()
        .set_nodelay(true)
        .set_keepalive(keepalive)
}

fn manager_config(settings: &RedisSettings) -> ConnectionManagerConfig {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(settings.connect_timeout))
        .set_response_timeout(Some(settings.command_timeout))
        // Give up reconnecting quickly and try again on the next command,
        // so an outage fails requests fast instead of queueing them.
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(500));
    if settings.auto_pipelining {
        config
    } else {
        config.set_concurrency_limit(1)
    }
}

/// A lazily connecting manager for one server.
fn manager_for(client: &Client, settings: &RedisSettings) -> anyhow::Result<ConnectionManager> {
    ConnectionManager::new_lazy_with_config(client.clone(), manager_config(settings))
        .context("cannot set up the Redis connection")
}

impl RedisClient {
    /// Prepares the connection for the configured topology. Behind Sentinel
    /// it asks the sentinels for the primary once (within a second).
    ///
    /// # Errors
    /// An unusable URL.
    pub async fn new(
        settings: &RedisSettings,
        command_duration: prometheus::Histogram,
    ) -> anyhow::Result<Self> {
        let backend = match &settings.topology {
            RedisTopology::Single => {
                let info = settings
                    .url
                    .expose_secret()
                    .into_connection_info()
                    .context("invalid REDIS_URL")?
                    .set_tcp_settings(tcp_settings(settings));
                let client = Client::open(info).context("invalid REDIS_URL")?;
                let manager = manager_for(&client, settings)?;
                Backend::Single { client, manager }
            }
            RedisTopology::Sentinel { sentinels, master } => Backend::Sentinel(Arc::new(
                sentinel::Tracker::new(settings, sentinels, master).await?,
            )),
            RedisTopology::Cluster { nodes } => {
                Backend::Cluster(Arc::new(cluster::Lazy::new(settings, nodes)?))
            }
        };
        Ok(Self {
            backend,
            breaker: Arc::default(),
            command_duration,
            keys: RedisKeys::new(settings.key_prefix.clone()),
            mode: settings.topology.name(),
        })
    }

    /// Background work the topology needs (following Sentinel's primary).
    pub fn spawn_watchers(&self) -> Option<tokio::task::JoinHandle<()>> {
        match &self.backend {
            Backend::Sentinel(tracker) => Some(tracker.clone().spawn_watcher()),
            Backend::Single { .. } | Backend::Cluster(_) => None,
        }
    }

    /// A handle on the shared connection that times every round trip and,
    /// while Redis is known down, fails at once without trying it.
    pub fn connection(&self) -> TimedConnection {
        self.timed(Some(self.breaker.clone()))
    }

    fn timed(&self, breaker: Option<Arc<Breaker>>) -> TimedConnection {
        let inner = match &self.backend {
            Backend::Single { manager, .. } => Inner::Manager(manager.clone()),
            Backend::Sentinel(tracker) => Inner::Manager(tracker.manager()),
            Backend::Cluster(lazy) => Inner::Cluster(lazy.clone()),
        };
        TimedConnection {
            inner,
            duration: self.command_duration.clone(),
            breaker,
        }
    }

    /// Redis's breaker (kept by `dependencies.rs`).
    pub fn breaker(&self) -> &Arc<Breaker> {
        &self.breaker
    }

    /// A client for a dedicated pub/sub connection: the server, Sentinel's
    /// current primary, or one cluster node (a cluster forwards every
    /// PUBLISH to all its nodes).
    pub fn pubsub_client(&self) -> Client {
        match &self.backend {
            Backend::Single { client, .. } => client.clone(),
            Backend::Sentinel(tracker) => tracker.client(),
            Backend::Cluster(lazy) => lazy.next_node(),
        }
    }

    pub fn keys(&self) -> &RedisKeys {
        &self.keys
    }

    /// `single`, `sentinel` or `cluster`.
    pub fn mode(&self) -> &'static str {
        self.mode
    }

    /// Whether keys live on several nodes: then one script may only touch
    /// keys of one hash slot.
    pub fn is_cluster(&self) -> bool {
        matches!(self.backend, Backend::Cluster(_))
    }

    /// `PING` under the health-check timeout.
    pub async fn ping(&self) -> RedisPing {
        self.ping_on(self.connection()).await
    }

    /// `PING` past the breaker: how the probe finds Redis back.
    pub async fn probe(&self) -> RedisPing {
        self.ping_on(self.timed(None)).await
    }

    async fn ping_on(&self, mut connection: TimedConnection) -> RedisPing {
        let started = Instant::now();
        let outcome = tokio::time::timeout(
            CHECK_TIMEOUT,
            redis::cmd("PING").query_async::<String>(&mut connection),
        )
        .await;
        let error = match outcome {
            Ok(Ok(_)) => None,
            Ok(Err(error)) if error.is_timeout() => Some("timed out".to_string()),
            Ok(Err(_)) => Some("connection failed".to_string()),
            Err(_) => Some("timed out".to_string()),
        };
        RedisPing {
            up: error.is_none(),
            latency: started.elapsed(),
            error,
        }
    }
}

#[derive(Clone)]
enum Inner {
    Manager(ConnectionManager),
    Cluster(Arc<cluster::Lazy>),
}

/// The shared connection, recording each round trip (a command, or a whole
/// pipeline) in `tenk_redis_command_duration_seconds`.
#[derive(Clone)]
pub struct TimedConnection {
    inner: Inner,
    duration: prometheus::Histogram,
    /// `None` for the probe, which must reach Redis whatever its state.
    breaker: Option<Arc<Breaker>>,
}

impl TimedConnection {
    /// Refuses at once while Redis is known down.
    fn admit(&self) -> redis::RedisResult<()> {
        match &self.breaker {
            Some(breaker) if !breaker.is_up() => Err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "Redis is down (refused without trying)",
            ))),
            _ => Ok(()),
        }
    }

    /// A failed connection has the probe check Redis now.
    fn observe<T>(&self, started: Instant, outcome: &redis::RedisResult<T>) {
        self.duration.observe(started.elapsed().as_secs_f64());
        if let (Err(error), Some(breaker)) = (outcome, &self.breaker)
            && (error.is_io_error() || error.is_timeout() || error.is_connection_dropped())
        {
            breaker.suspect();
        }
    }
}

impl ConnectionLike for TimedConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            self.admit()?;
            let started = Instant::now();
            let outcome = match &mut self.inner {
                Inner::Manager(manager) => manager.req_packed_command(cmd).await,
                Inner::Cluster(lazy) => lazy.connection().await?.req_packed_command(cmd).await,
            };
            self.observe(started, &outcome);
            outcome
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            self.admit()?;
            let started = Instant::now();
            let outcome = match &mut self.inner {
                Inner::Manager(manager) => {
                    manager.req_packed_commands(pipeline, offset, count).await
                }
                Inner::Cluster(lazy) => lazy.pipeline(pipeline, offset, count).await,
            };
            self.observe(started, &outcome);
            outcome
        })
    }

    fn get_db(&self) -> i64 {
        match &self.inner {
            Inner::Manager(manager) => manager.get_db(),
            Inner::Cluster(_) => 0,
        }
    }
}
