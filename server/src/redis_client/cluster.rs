//! Redis Cluster: one cluster connection, made on first use (so the server
//! starts while the cluster is down) and routing each command to the node
//! that owns its key's slot. tenk's keys are built so that every script and
//! atomic pipeline touches one slot.

use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;
use redis::Client;
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use tokio::sync::OnceCell;

use crate::config::RedisSettings;

pub(super) struct Lazy {
    client: ClusterClient,
    connection: OnceCell<ClusterConnection>,
    /// One plain client per configured node, for pub/sub.
    nodes: Vec<Client>,
    next: AtomicUsize,
}

impl Lazy {
    pub(super) fn new(settings: &RedisSettings, nodes: &[String]) -> anyhow::Result<Self> {
        let client = ClusterClientBuilder::new(nodes.to_vec())
            .connection_timeout(settings.connect_timeout)
            .response_timeout(settings.command_timeout)
            .tcp_settings(super::tcp_settings(settings))
            .retries(2)
            .build()
            .context("invalid REDIS_CLUSTER_NODES")?;
        let nodes = nodes
            .iter()
            .map(|node| Client::open(node.as_str()).context("invalid REDIS_CLUSTER_NODES"))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self {
            client,
            connection: OnceCell::new(),
            nodes,
            next: AtomicUsize::new(0),
        })
    }

    /// The cluster connection, connecting now if no attempt succeeded yet.
    pub(super) async fn connection(&self) -> redis::RedisResult<ClusterConnection> {
        self.connection
            .get_or_try_init(|| self.client.get_async_connection())
            .await
            .cloned()
    }

    /// A plain client for one node, a different one at each call.
    pub(super) fn next_node(&self) -> Client {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.nodes.len();
        self.nodes[index].clone()
    }
}
