//! PostgreSQL through sqlx pools: the primary takes writes, reads go
//! round-robin to healthy read replicas and fall back to the primary when
//! none is healthy. A background task re-checks replicas every few seconds.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::future::join_all;
use secrecy::ExposeSecret;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::{PgPool, Postgres, SqlSafeStr};

use crate::config::{DatabaseSettings, SslMode};
use crate::dependencies::Breaker;

/// Whether queries use named prepared statements. sqlx 0.9 never closes a
/// named statement it does not cache, so with `DB_STATEMENT_CACHE=0` every
/// query uses unnamed ones instead of leaking a statement per execution.
/// Process-wide: it is a property of the connection target, which one
/// process shares, set once at start. (Behind PgBouncer in transaction mode
/// keep the cache on and use PgBouncer 1.21+ with `max_prepared_statements`.)
static NAMED_STATEMENTS: AtomicBool = AtomicBool::new(true);

/// Sets whether queries may use named prepared statements.
pub fn use_named_statements(named: bool) {
    NAMED_STATEMENTS.store(named, Ordering::Relaxed);
}

fn named() -> bool {
    NAMED_STATEMENTS.load(Ordering::Relaxed)
}

/// `sqlx::query`, honouring `DB_STATEMENT_CACHE=0`.
pub fn query<'q>(sql: impl SqlSafeStr) -> Query<'q, Postgres, PgArguments> {
    sqlx::query(sql).persistent(named())
}

/// `sqlx::query_as`, honouring `DB_STATEMENT_CACHE=0`.
pub fn query_as<'q, O>(sql: impl SqlSafeStr) -> QueryAs<'q, Postgres, O, PgArguments>
where
    O: for<'r> sqlx::FromRow<'r, PgRow>,
{
    sqlx::query_as(sql).persistent(named())
}

/// `sqlx::query_scalar`, honouring `DB_STATEMENT_CACHE=0`.
pub fn query_scalar<'q, O>(sql: impl SqlSafeStr) -> QueryScalar<'q, Postgres, O, PgArguments>
where
    (O,): for<'r> sqlx::FromRow<'r, PgRow>,
{
    sqlx::query_scalar(sql).persistent(named())
}

/// Each dependency check is bounded so health endpoints never hang.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(1);
const REPLICA_CHECK_INTERVAL: Duration = Duration::from_secs(5);

/// The primary pool and the read-replica pools.
#[derive(Clone)]
pub struct Database {
    primary: PgPool,
    replicas: Arc<[Replica]>,
    cursor: Arc<AtomicUsize>,
    /// Whether the primary is known to answer (see `dependencies.rs`).
    breaker: Arc<Breaker>,
}

/// The primary is known to be down: refused without trying it.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the database is unavailable")]
pub struct DatabaseDown;

struct Replica {
    pool: PgPool,
    healthy: AtomicBool,
}

/// The outcome of one bounded `select 1`.
#[derive(Debug, Clone)]
pub struct Ping {
    pub up: bool,
    pub latency: Duration,
    pub error: Option<String>,
}

impl Database {
    /// Wraps an open primary pool and lazily connected replica pools; replicas
    /// count as down until their first successful check.
    pub fn new(primary: PgPool, settings: &DatabaseSettings) -> anyhow::Result<Self> {
        let replicas = settings
            .read_urls
            .iter()
            .map(|url| {
                let options = connect_options(url.expose_secret(), settings)?;
                Ok(Replica {
                    pool: pool_options(settings).connect_lazy_with(options),
                    healthy: AtomicBool::new(false),
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self {
            primary,
            replicas: replicas.into(),
            cursor: Arc::default(),
            breaker: Arc::default(),
        })
    }

    /// The pool for writes (and reads that must see them), unless the
    /// primary is known to be down: then the request fails at once.
    ///
    /// # Errors
    /// The primary's breaker is open.
    pub fn writer(&self) -> Result<&PgPool, DatabaseDown> {
        if self.breaker.is_up() {
            Ok(&self.primary)
        } else {
            Err(DatabaseDown)
        }
    }

    /// The primary pool whatever its state: health reports, metrics, tools.
    pub fn primary(&self) -> &PgPool {
        &self.primary
    }

    /// The primary's breaker.
    pub fn breaker(&self) -> &Arc<Breaker> {
        &self.breaker
    }

    /// A pool for reads: the next healthy replica, else the primary.
    pub fn reader(&self) -> &PgPool {
        self.next_replica()
            .map_or(&self.primary, |replica| &replica.pool)
    }

    fn next_replica(&self) -> Option<&Replica> {
        let count = self.replicas.len();
        let start = self.cursor.fetch_add(1, Ordering::Relaxed);
        (0..count)
            .map(|offset| &self.replicas[(start + offset) % count])
            .find(|replica| replica.healthy.load(Ordering::Relaxed))
    }

    /// Runs a read on the next healthy replica; if that replica cannot be
    /// reached, it is marked down and the read runs on the primary, so a
    /// replica that dies between health checks costs the caller no error.
    ///
    /// # Errors
    /// The query's error (from the primary, or a non-connection error).
    pub async fn read<T, F, Fut>(&self, query: F) -> Result<T, sqlx::Error>
    where
        F: Fn(PgPool) -> Fut,
        Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
    {
        if let Some(replica) = self.next_replica() {
            match query(replica.pool.clone()).await {
                Err(error) if is_unreachable(&error) => {
                    replica.healthy.store(false, Ordering::Relaxed);
                    tracing::warn!(error = %error, "read replica unreachable; reading from the primary");
                }
                outcome => return outcome,
            }
        }
        if !self.breaker.is_up() {
            return Err(sqlx::Error::PoolClosed);
        }
        query(self.primary.clone()).await
    }

    /// The pool that has no connection to give right now (for the timeout
    /// counter): the primary when it is full, else a full replica.
    pub fn exhausted_pool(&self) -> &'static str {
        let full = |pool: &PgPool| {
            pool.num_idle() == 0 && pool.size() >= pool.options().get_max_connections()
        };
        if !full(&self.primary) && self.replicas.iter().any(|replica| full(&replica.pool)) {
            "replica"
        } else {
            "primary"
        }
    }

    pub fn replica_pools(&self) -> impl Iterator<Item = &PgPool> {
        self.replicas.iter().map(|replica| &replica.pool)
    }

    /// Pings the primary.
    pub async fn ping_primary(&self) -> Ping {
        ping(&self.primary).await
    }

    /// Pings every replica concurrently and records which are healthy.
    pub async fn check_replicas(&self) -> Vec<Ping> {
        join_all(self.replicas.iter().map(|replica| async move {
            let result = ping(&replica.pool).await;
            replica.healthy.store(result.up, Ordering::Relaxed);
            result
        }))
        .await
    }

    /// Re-checks replicas in the background so reads move back to a replica
    /// that returns, and away from one that fails.
    pub fn spawn_replica_monitor(&self) -> Option<tokio::task::JoinHandle<()>> {
        if self.replicas.is_empty() {
            return None;
        }
        let db = self.clone();
        Some(tokio::spawn(async move {
            let mut ticker = tokio::time::interval(REPLICA_CHECK_INTERVAL);
            loop {
                ticker.tick().await;
                db.check_replicas().await;
            }
        }))
    }

    /// Closes every pool, waiting for checked-out connections to return.
    pub async fn close(&self) {
        self.primary.close().await;
        for replica in self.replicas.iter() {
            replica.pool.close().await;
        }
    }
}

/// Whether an error means the server could not be reached (as opposed to a
/// query that failed on a working connection).
fn is_unreachable(error: &sqlx::Error) -> bool {
    matches!(
        error,
        sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
    )
}

/// `select 1` under [`CHECK_TIMEOUT`].
pub async fn ping(pool: &PgPool) -> Ping {
    let started = Instant::now();
    let outcome = tokio::time::timeout(CHECK_TIMEOUT, query("select 1").execute(pool)).await;
    let error = match outcome {
        Ok(Ok(_)) => None,
        Ok(Err(error)) => Some(describe_error(&error)),
        Err(_) => Some("timed out".to_string()),
    };
    Ping {
        up: error.is_none(),
        latency: started.elapsed(),
        error,
    }
}

/// A short, secret-free description of a database error for health bodies.
fn describe_error(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::PoolTimedOut => "pool exhausted".into(),
        sqlx::Error::Io(_) => "connection failed".into(),
        sqlx::Error::Tls(_) => "tls failed".into(),
        sqlx::Error::PoolClosed => "pool closed".into(),
        _ => "query failed".into(),
    }
}

/// The pool settings shared by the primary and the replicas.
pub fn pool_options(settings: &DatabaseSettings) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(settings.pool_max)
        .min_connections(settings.pool_min)
        .idle_timeout(settings.idle_timeout)
        .acquire_timeout(settings.acquire_timeout)
        // No ping before every acquire (a round trip per query): a broken
        // connection fails its query, is closed, and the pool opens another.
        .test_before_acquire(false)
}

/// Parses a URL and applies `DB_SSL_MODE` unless the URL sets `sslmode` itself.
pub fn connect_options(url: &str, settings: &DatabaseSettings) -> anyhow::Result<PgConnectOptions> {
    let options = PgConnectOptions::from_str(url)
        .context("invalid PostgreSQL URL")?
        .statement_cache_capacity(settings.statement_cache);
    let options = if url.contains("sslmode=") {
        options
    } else {
        options.ssl_mode(match settings.ssl_mode {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Prefer => PgSslMode::Prefer,
            SslMode::Require => PgSslMode::Require,
            SslMode::VerifyCa => PgSslMode::VerifyCa,
            SslMode::VerifyFull => PgSslMode::VerifyFull,
        })
    };
    if matches!(
        options.get_ssl_mode(),
        PgSslMode::VerifyCa | PgSslMode::VerifyFull
    ) {
        check_root_cert(url)?;
    }
    Ok(options)
}

/// sqlx reads the CA file only when it connects, and then says just "No
/// such file or directory": with a verifying mode, name the file at start.
/// (A percent-encoded path is left to sqlx, which decodes it.)
fn check_root_cert(url: &str) -> anyhow::Result<()> {
    let root_cert = url
        .split_once('?')
        .and_then(|(_, query)| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix("sslrootcert="))
        })
        .map(String::from)
        .or_else(|| std::env::var("PGSSLROOTCERT").ok());
    if let Some(path) = root_cert.filter(|path| !path.contains('%'))
        && let Err(error) = std::fs::metadata(&path)
    {
        anyhow::bail!("cannot read the PostgreSQL CA certificate (sslrootcert) {path}: {error}");
    }
    Ok(())
}

/// The options for the maintenance database (`postgres`, or `template1` when
/// the target is `postgres`, as `createdb` does), with everything else,
/// TLS mode and root certificate included, as for the pool: the existence
/// check must not send credentials over a weaker connection than the pool's.
fn maintenance_options(options: &PgConnectOptions) -> (PgConnectOptions, String) {
    let database = options
        .get_database()
        .unwrap_or(options.get_username())
        .to_owned();
    let maintenance = if database == "postgres" {
        "template1"
    } else {
        "postgres"
    };
    (options.clone().database(maintenance), database)
}

/// Creates the database of `options` unless it exists.
async fn create_if_missing(options: &PgConnectOptions) -> Result<(), sqlx::Error> {
    use sqlx::{ConnectOptions, Connection};
    let (maintenance, database) = maintenance_options(options);
    let mut connection = maintenance.connect().await?;
    let exists: bool =
        sqlx::query_scalar("select exists(select 1 from pg_database where datname = $1)")
            .bind(&database)
            .fetch_one(&mut connection)
            .await?;
    if !exists {
        let statement = format!("create database \"{}\"", database.replace('"', "\"\""));
        match sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&mut connection)
            .await
        {
            Ok(_) => tracing::info!("created the database"),
            // Another instance starting at the same moment created it.
            Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("42P04") => {}
            Err(error) => return Err(error),
        }
    }
    connection.close().await
}

/// Creates the database named in the URL if it does not exist, connects the
/// primary pool and applies the embedded migrations, all within
/// `DB_CONNECT_TIMEOUT` per step.
pub async fn connect_and_migrate(settings: &DatabaseSettings) -> anyhow::Result<PgPool> {
    let url = settings.url.expose_secret();
    let target = crate::config::redact_url(url);
    let options = connect_options(url, settings)?;
    tokio::time::timeout(settings.connect_timeout, create_if_missing(&options))
        .await
        .map_err(|_| {
            anyhow::anyhow!("cannot reach PostgreSQL at {target} within DB_CONNECT_TIMEOUT")
        })?
        .map_err(|error| anyhow::anyhow!("cannot reach PostgreSQL at {target}: {error}"))?;
    let pool = tokio::time::timeout(
        settings.connect_timeout,
        pool_options(settings).connect_with(options),
    )
    .await
    .map_err(|_| anyhow::anyhow!("cannot connect to {target} within DB_CONNECT_TIMEOUT"))?
    .map_err(|error| anyhow::anyhow!("cannot connect to PostgreSQL at {target}: {error}"))?;
    migrate(&pool).await?;
    Ok(pool)
}

/// Connects the primary pool without creating or migrating anything.
///
/// # Errors
/// PostgreSQL does not answer within `DB_CONNECT_TIMEOUT`.
pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<PgPool> {
    let url = settings.url.expose_secret();
    let target = crate::config::redact_url(url);
    let options = connect_options(url, settings)?;
    tokio::time::timeout(
        settings.connect_timeout,
        pool_options(settings).connect_with(options),
    )
    .await
    .map_err(|_| anyhow::anyhow!("cannot connect to {target} within DB_CONNECT_TIMEOUT"))?
    .map_err(|error| anyhow::anyhow!("cannot connect to PostgreSQL at {target}: {error}"))
}

/// Applies the migrations embedded from `server/migrations`.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::migrate!("./migrations")
        .run(pool)
        .await
        .context("cannot apply database migrations")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(url: &str) -> PgConnectOptions {
        PgConnectOptions::from_str(url).expect("a valid URL")
    }

    #[test]
    fn the_existence_check_connects_with_the_pools_tls_mode() {
        let pool = options("postgres://app@db.example:6432/shop").ssl_mode(PgSslMode::VerifyFull);
        let (maintenance, database) = maintenance_options(&pool);
        assert_eq!(database, "shop");
        assert_eq!(maintenance.get_database(), Some("postgres"));
        assert_eq!(
            (maintenance.get_host(), maintenance.get_port()),
            ("db.example", 6432)
        );
        assert!(matches!(maintenance.get_ssl_mode(), PgSslMode::VerifyFull));
    }

    #[test]
    fn the_maintenance_database_of_postgres_is_template1() {
        let (maintenance, database) = maintenance_options(&options("postgres://u@h/postgres"));
        assert_eq!(database, "postgres");
        assert_eq!(maintenance.get_database(), Some("template1"));
        let (_, database) = maintenance_options(&options("postgres://alice@h"));
        assert_eq!(database, "alice", "no database in the URL: the user's");
    }
}
