//! Redis behind Sentinel: the sentinels name the current primary; tenk
//! keeps one managed connection to it and re-points it (and the pub/sub
//! client) within a second of a failover, without a restart.

use std::sync::RwLock;
use std::time::Duration;

use anyhow::Context;
use redis::aio::ConnectionManager;
use redis::{Client, ConnectionAddr, ConnectionInfo, IntoConnectionInfo};

use crate::config::RedisSettings;

const POLL: Duration = Duration::from_secs(1);

struct Primary {
    address: Option<(String, u16)>,
    client: Client,
    manager: ConnectionManager,
}

pub(super) struct Tracker {
    sentinels: Vec<Client>,
    master: String,
    settings: RedisSettings,
    /// Password and database for the primary (from `REDIS_URL` / `REDIS_*`).
    template: ConnectionInfo,
    primary: RwLock<Primary>,
}

impl Tracker {
    pub(super) async fn new(
        settings: &RedisSettings,
        sentinels: &[String],
        master: &str,
    ) -> anyhow::Result<Self> {
        use secrecy::ExposeSecret;
        let sentinels = sentinels
            .iter()
            .map(|address| {
                Client::open(format!("redis://{address}")).context("invalid REDIS_SENTINELS")
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let template = settings
            .url
            .expose_secret()
            .into_connection_info()
            .context("invalid REDIS_URL")?;
        // Until a sentinel answers, commands go to an address that refuses.
        let placeholder = primary_client(&template, settings, ("127.0.0.1".into(), 1))?;
        let tracker = Self {
            sentinels,
            master: master.to_string(),
            settings: settings.clone(),
            primary: RwLock::new(Primary {
                address: None,
                manager: super::manager_for(&placeholder, settings)?,
                client: placeholder,
            }),
            template,
        };
        if let Some(address) = tracker.discover().await {
            tracker.point_at(address)?;
        }
        Ok(tracker)
    }

    /// Asks each sentinel in turn for the primary's address.
    async fn discover(&self) -> Option<(String, u16)> {
        for sentinel in &self.sentinels {
            let ask = async {
                let mut connection = sentinel.get_multiplexed_async_connection().await?;
                redis::cmd("SENTINEL")
                    .arg("get-master-addr-by-name")
                    .arg(&self.master)
                    .query_async::<Option<(String, u16)>>(&mut connection)
                    .await
            };
            if let Ok(Ok(Some(address))) = tokio::time::timeout(Duration::from_secs(1), ask).await {
                return Some(address);
            }
        }
        None
    }

    fn point_at(&self, address: (String, u16)) -> anyhow::Result<()> {
        let client = primary_client(&self.template, &self.settings, address.clone())?;
        let manager = super::manager_for(&client, &self.settings)?;
        let mut primary = self.primary.write().unwrap_or_else(|e| e.into_inner());
        tracing::info!(host = %address.0, port = address.1, "redis primary (from sentinel)");
        *primary = Primary {
            address: Some(address),
            client,
            manager,
        };
        Ok(())
    }

    pub(super) fn manager(&self) -> ConnectionManager {
        self.primary
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .manager
            .clone()
    }

    pub(super) fn client(&self) -> Client {
        self.primary
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .client
            .clone()
    }

    fn address(&self) -> Option<(String, u16)> {
        self.primary
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .address
            .clone()
    }

    /// Follows the primary: asks the sentinels every second and re-points
    /// when the answer changes (a failover).
    pub(super) fn spawn_watcher(self: std::sync::Arc<Self>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(POLL);
            loop {
                ticker.tick().await;
                if let Some(address) = self.discover().await
                    && self.address().as_ref() != Some(&address)
                    && let Err(error) = self.point_at(address)
                {
                    tracing::warn!(error = %error, "cannot follow the new redis primary");
                }
            }
        })
    }
}

/// A client for the primary at `address`, with the password and database of
/// the template.
fn primary_client(
    template: &ConnectionInfo,
    settings: &RedisSettings,
    (host, port): (String, u16),
) -> anyhow::Result<Client> {
    let info = template
        .clone()
        .set_addr(ConnectionAddr::Tcp(host, port))
        .set_tcp_settings(super::tcp_settings(settings));
    Client::open(info).context("cannot address the Redis primary")
}
