//! The Redis connection: one multiplexed, auto-reconnecting connection
//! (concurrent commands pipeline on it, which is the seed's auto-pipelining),
//! with command and connect timeouts and TCP keep-alive. It connects lazily,
//! so the server starts (and reports not-ready) while Redis is down.

use std::time::{Duration, Instant};

use anyhow::Context;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::io::tcp::{TcpSettings, socket2::TcpKeepalive};
use redis::{Client, Cmd, IntoConnectionInfo, Pipeline, RedisFuture, Value};
use secrecy::ExposeSecret;

use crate::config::RedisSettings;
use crate::db::CHECK_TIMEOUT;
use crate::redis_keys::RedisKeys;

/// A cheap-to-clone handle on the shared connection and the key builder.
#[derive(Clone)]
pub struct RedisClient {
    command_duration: prometheus::Histogram,
    client: Client,
    connection: ConnectionManager,
    keys: RedisKeys,
}

/// The outcome of one bounded `PING`.
#[derive(Debug, Clone)]
pub struct RedisPing {
    pub up: bool,
    pub latency: Duration,
    pub error: Option<String>,
}

impl RedisClient {
    /// Prepares the connection without connecting.
    ///
    /// # Errors
    /// An unusable URL.
    pub fn new(
        settings: &RedisSettings,
        command_duration: prometheus::Histogram,
    ) -> anyhow::Result<Self> {
        let keepalive = TcpKeepalive::new().with_time(settings.keepalive);
        let info = settings
            .url
            .expose_secret()
            .into_connection_info()
            .context("invalid REDIS_URL")?
            .set_tcp_settings(
                TcpSettings::default()
                    .set_nodelay(true)
                    .set_keepalive(keepalive),
            );
        let client = Client::open(info).context("invalid REDIS_URL")?;
        let mut config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.connect_timeout))
            .set_response_timeout(Some(settings.command_timeout))
            // Give up reconnecting quickly and try again on the next command,
            // so an outage fails requests fast instead of queueing them.
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        if !settings.auto_pipelining {
            config = config.set_concurrency_limit(1);
        }
        let connection = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .context("cannot set up the Redis connection")?;
        Ok(Self {
            command_duration,
            client,
            connection,
            keys: RedisKeys::new(settings.key_prefix.clone()),
        })
    }

    /// A handle on the multiplexed connection (clone per use; it is shared)
    /// that times every round trip.
    pub fn connection(&self) -> TimedConnection {
        TimedConnection {
            inner: self.connection.clone(),
            duration: self.command_duration.clone(),
        }
    }

    /// The client, for dedicated connections such as pub/sub.
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn keys(&self) -> &RedisKeys {
        &self.keys
    }

    /// `PING` under the health-check timeout.
    pub async fn ping(&self) -> RedisPing {
        let started = Instant::now();
        let mut connection = self.connection();
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

/// The shared connection, recording each round trip (a command, or a whole
/// pipeline) in `tenk_redis_command_duration_seconds`.
#[derive(Clone)]
pub struct TimedConnection {
    inner: ConnectionManager,
    duration: prometheus::Histogram,
}

impl ConnectionLike for TimedConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let started = Instant::now();
            let outcome = self.inner.req_packed_command(cmd).await;
            self.duration.observe(started.elapsed().as_secs_f64());
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
            let started = Instant::now();
            let outcome = self
                .inner
                .req_packed_commands(pipeline, offset, count)
                .await;
            self.duration.observe(started.elapsed().as_secs_f64());
            outcome
        })
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}
