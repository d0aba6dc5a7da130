//! Redis Cluster: one cluster connection, made on first use (so the server
//! starts while the cluster is down) and routing each command to the node
//! that owns its key's slot. tenk's keys are built so that every script and
//! atomic pipeline touches one slot.
//!
//! redis-rs follows a MOVED reply for commands and scripts but not inside a
//! transaction: a primary demoted by a failover refuses a `MULTI`/`EXEC`
//! whole (`EXECABORT`, every command `MOVED`), which answered a login 500
//! in CI. Nothing of such a transaction ran, so [`Lazy::pipeline`] sends it
//! again to the node the refusal names.

use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;
use redis::aio::ConnectionLike;
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::SingleNodeRoutingInfo;
use redis::{Client, Pipeline, RedisError, ServerErrorKind, Value};
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

    /// Sends a pipeline; a transaction refused whole by a node that no
    /// longer owns its slot goes again to the owner it names.
    pub(super) async fn pipeline(
        &self,
        pipeline: &Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisResult<Vec<Value>> {
        let mut connection = self.connection().await?;
        let mut outcome = connection
            .req_packed_commands(pipeline, offset, count)
            .await;
        // A slot moves at most once per failover; two hops cover a second
        // failover racing the first.
        for _ in 0..2 {
            let Some((host, port)) = outcome.as_ref().err().and_then(moved_transaction) else {
                break;
            };
            outcome = connection
                .route_pipeline(
                    pipeline.clone(),
                    offset,
                    count,
                    SingleNodeRoutingInfo::ByAddress { host, port },
                )
                .await;
        }
        outcome
    }

    /// A plain client for one node, a different one at each call.
    pub(super) fn next_node(&self) -> Client {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.nodes.len();
        self.nodes[index].clone()
    }
}

/// The node a transaction was refused for, when every refused command said
/// `MOVED` to it (so none of them ran).
fn moved_transaction(error: &RedisError) -> Option<(String, u16)> {
    let refused = error.clone().into_server_errors()?;
    let mut target = None;
    for (_, refusal) in refused.iter() {
        if refusal.kind() != Some(ServerErrorKind::Moved) {
            return None;
        }
        // "MOVED <slot> <host>:<port>": the details are "<slot> <host>:<port>".
        let address = refusal.details()?.split_ascii_whitespace().nth(1)?;
        let (host, port) = address.rsplit_once(':')?;
        let node = (host.to_string(), port.parse().ok()?);
        if target.get_or_insert_with(|| node.clone()) != &node {
            return None;
        }
    }
    target
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use redis::{Client, ErrorKind, ServerErrorKind};

    use super::Lazy;
    use crate::config::Settings;
    use crate::redis_client::RedisClient;

    /// A `redis-server` in cluster mode on a free port, stopped on drop.
    struct Node {
        process: Child,
        port: u16,
        client: Client,
    }

    impl Drop for Node {
        fn drop(&mut self) {
            let _ = self.process.kill();
            let _ = self.process.wait();
        }
    }

    impl Node {
        async fn start(dir: &std::path::Path) -> Self {
            // The cluster bus listens on port + 10000.
            let port = loop {
                let port = TcpListener::bind("127.0.0.1:0")
                    .and_then(|listener| listener.local_addr())
                    .expect("a free port")
                    .port();
                if port < 55_000 {
                    break port;
                }
            };
            let process = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args([
                    "--cluster-enabled",
                    "yes",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
                .arg("--dir")
                .arg(dir)
                .stdout(Stdio::null())
                .spawn()
                .expect("redis-server (apt install redis-server)");
            let client = Client::open(format!("redis://127.0.0.1:{port}")).expect("url");
            let node = Self {
                process,
                port,
                client,
            };
            node.eventually(|reply| reply == "PONG", &["PING"]).await;
            node
        }

        async fn ask(&self, args: &[&str]) -> redis::RedisResult<String> {
            let mut connection = self.client.get_multiplexed_async_connection().await?;
            let value: redis::Value = redis::cmd(args[0])
                .arg(&args[1..])
                .query_async(&mut connection)
                .await?;
            Ok(match value {
                redis::Value::Int(number) => number.to_string(),
                other => redis::from_redis_value(other).unwrap_or_default(),
            })
        }

        async fn eventually(&self, ready: impl Fn(&str) -> bool, args: &[&str]) {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                match self.ask(args).await {
                    Ok(reply) if ready(&reply) => return,
                    _ if Instant::now() > deadline => panic!("{args:?} never ready"),
                    _ => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        }
    }

    /// A slot moves to another node after the client read the slot map:
    /// the old owner refuses a transaction on it whole. redis-rs alone
    /// returns that refusal; tenk's connection sends the transaction to the
    /// new owner, where it runs.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_transaction_follows_its_slot_to_the_new_owner() {
        let dir = std::env::temp_dir().join(format!("tenk-cluster-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (old, new) = (Node::start(&dir).await, Node::start(&dir).await);
        old.ask(&["CLUSTER", "ADDSLOTSRANGE", "0", "16383"])
            .await
            .expect("slots");
        old.ask(&["CLUSTER", "MEET", "127.0.0.1", &new.port.to_string()])
            .await
            .expect("meet");
        for node in [&old, &new] {
            node.eventually(
                |info| info.contains("cluster_state:ok"),
                &["CLUSTER", "INFO"],
            )
            .await;
        }

        let nodes = format!("redis://127.0.0.1:{}", old.port);
        let settings =
            Settings::from_lookup(|name| (name == "REDIS_CLUSTER_NODES").then(|| nodes.clone()))
                .expect("settings");
        let histogram = prometheus::Histogram::with_opts(prometheus::HistogramOpts::new("t", "t"))
            .expect("histogram");
        let tenk = RedisClient::new(&settings.redis, histogram)
            .await
            .expect("client");
        let plain = Lazy::new(&settings.redis, std::slice::from_ref(&nodes)).expect("client");
        // Past the breaker (no probe runs here). Both read the slot map
        // now: every slot on `old`.
        let mut connection = tenk.timed(None);
        let _: () = redis::cmd("PING")
            .query_async(&mut connection)
            .await
            .expect("ping");
        let mut plain = plain.connection().await.expect("connect");

        let key = "tenk-test:{moved}:count";
        let slot = old
            .ask(&["CLUSTER", "KEYSLOT", key])
            .await
            .expect("keyslot");
        let new_id = new.ask(&["CLUSTER", "MYID"]).await.expect("id");
        for node in [&new, &old] {
            node.ask(&["CLUSTER", "SETSLOT", &slot, "NODE", &new_id])
                .await
                .expect("setslot");
        }
        let mut transaction = redis::pipe();
        transaction.atomic().incr(key, 1).ignore().incr(key, 1);

        let refused = transaction
            .query_async::<(i64,)>(&mut plain)
            .await
            .expect_err("the old owner refuses the transaction");
        assert_eq!(
            refused.kind(),
            ErrorKind::Server(ServerErrorKind::ExecAbort)
        );
        let (count,): (i64,) = transaction
            .query_async(&mut connection)
            .await
            .expect("the transaction ran on the new owner");
        assert_eq!(count, 2);
        assert_eq!(new.ask(&["GET", key]).await.expect("get"), "2");
        drop((old, new));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
