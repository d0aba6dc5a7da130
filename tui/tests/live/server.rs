//! A real `tenk-server` per test: its own database (dropped afterwards, even
//! on panic), its own Redis key prefix (deleted afterwards), a random ops
//! token, and a free port. Needs PostgreSQL and Redis on 127.0.0.1 and the
//! server binary (`cargo build -p tenk-server`, or `TENK_SERVER_BIN`).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use contract::api::TokenResponse;
use sqlx::{Connection, Executor, PgConnection};

pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// Where test databases are created: `TEST_DATABASE_URL`, else the local server.
fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn database_url(name: &str) -> String {
    let admin = admin_url();
    let (base, _) = admin
        .rsplit_once('/')
        .expect("TEST_DATABASE_URL names a database");
    format!("{base}/{name}")
}

/// The server binary: `TENK_SERVER_BIN`, else next to this test's target
/// directory (`target/debug/tenk-server`, built by `cargo test --workspace`).
pub(crate) fn server_bin() -> PathBuf {
    if let Ok(path) = std::env::var("TENK_SERVER_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/debug/deps/live-<hash> → target/debug/tenk-server
    let debug = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/debug");
    let bin = debug.join("tenk-server");
    assert!(
        bin.exists(),
        "the live tests need the tenk-server binary at {}: build it with `cargo build -p tenk-server` \
         (with the same CARGO_TARGET_DIR), run `cargo test --workspace`, or set TENK_SERVER_BIN",
        bin.display()
    );
    bin
}

pub(crate) fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

pub(crate) struct TestServer {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`
    pub(crate) url: String,
    pub(crate) ops_token: String,
    database: String,
    redis_prefix: String,
    /// Every line the server printed (JSON logs; mail goes there too).
    logs: Arc<Mutex<Vec<String>>>,
}

impl TestServer {
    pub(crate) fn start() -> Self {
        Self::start_with_ops_token(&unique("ops-"))
    }

    /// A server whose OPS_TOKEN is `ops_token` (several servers scraped by
    /// one Prometheus job share one token).
    pub(crate) fn start_with_ops_token(ops_token: &str) -> Self {
        let mut server = Self {
            child: None,
            url: String::new(),
            ops_token: ops_token.to_string(),
            database: unique("tenk_tui_"),
            redis_prefix: format!("{}:", unique("tenk-tui-test:")),
            logs: Arc::new(Mutex::new(Vec::new())),
        };
        let addr = server.spawn("0");
        server.url = format!("http://{addr}");
        server
    }

    /// Starts the stopped server again, on the same port, database and
    /// Redis prefix (a restart, as a supervisor would do it); returns once
    /// it listens.
    pub(crate) fn restart(&mut self) {
        self.stop();
        let port = self
            .url
            .rsplit_once(':')
            .map(|(_, port)| port.to_string())
            .expect("a port in the URL");
        let addr = self.spawn(&port);
        assert_eq!(format!("http://{addr}"), self.url, "the same address");
    }

    /// Spawns the server on `port` (0: any free one); its address.
    fn spawn(&mut self, port: &str) -> String {
        let mut child = Command::new(server_bin())
            .current_dir(std::env::temp_dir())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(Self::base_env(&self.database))
            .env("PORT", port)
            .env("REDIS_KEY_PREFIX", &self.redis_prefix)
            .env("OPS_TOKEN", &self.ops_token)
            .env("INSTANCE_ID", "tui-test")
            .env("DB_POOL_MAX", "5")
            .env("SHUTDOWN_TIMEOUT", "2")
            .env("LOG_FORMAT", "json")
            .env("RATE_LIMIT_AUTH", "100000/5m")
            .env("RATE_LIMIT_API", "100000/1m")
            .env("RATE_LIMIT_PUBLIC", "100000/1m")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start tenk-server");
        let stdout = child.stdout.take().expect("server stdout");
        let (found, address) = mpsc::channel();
        let sink = self.logs.clone();
        // Reads the address, then keeps draining so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(mut logs) = sink.lock() {
                    logs.push(line.clone());
                }
                if sent {
                    continue;
                }
                if let Ok(value) = serde_json::from_str::<serde_json::Value>(&line)
                    && value["message"] == "listening"
                    && let Some(addr) = value["addr"].as_str()
                {
                    let _ = found.send(addr.to_string());
                    sent = true;
                }
            }
        });
        self.child = Some(child);
        address
            .recv_timeout(Duration::from_secs(60))
            .expect("tenk-server printed its address (is PostgreSQL up on 127.0.0.1:5432?)")
    }

    fn base_env(database: &str) -> Vec<(&'static str, String)> {
        vec![("DATABASE_URL", database_url(database))]
    }

    /// Creates an admin with `tenk-server create-admin` (password from the
    /// environment, as operators do it) and returns its email.
    pub(crate) fn create_admin(&self) -> String {
        let email = format!("{}@example.com", unique("admin-"));
        let status = Command::new(server_bin())
            .current_dir(std::env::temp_dir())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(Self::base_env(&self.database))
            .env("REDIS_KEY_PREFIX", &self.redis_prefix)
            .env("TENK_ADMIN_PASSWORD", PASSWORD)
            .args(["create-admin", "--email", &email])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run tenk-server create-admin");
        assert!(status.success(), "create-admin failed");
        email
    }

    /// Registers a normal user; returns its email and id.
    pub(crate) async fn register_user(&self, client: &reqwest::Client) -> (String, String) {
        let email = format!("{}@example.com", unique("user-"));
        let response = client
            .post(format!("{}/api/auth/register", self.url))
            .json(&serde_json::json!({"email": email, "password": PASSWORD, "name": "Test User"}))
            .send()
            .await
            .expect("register");
        assert_eq!(response.status(), 201, "register");
        let profile: serde_json::Value = response.json().await.expect("profile");
        (
            email,
            profile["id"]
                .as_str()
                .expect("the profile has an id")
                .to_string(),
        )
    }

    /// Logs in as `email` with a given user agent; the token response.
    pub(crate) async fn login(
        &self,
        client: &reqwest::Client,
        email: &str,
        user_agent: &str,
    ) -> TokenResponse {
        let response = client
            .post(format!("{}/api/auth/login", self.url))
            .header(reqwest::header::USER_AGENT, user_agent)
            .json(&serde_json::json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .expect("login");
        assert_eq!(response.status(), 200, "login");
        response.json().await.expect("token response")
    }

    /// The status of `GET /api/users/me` with `token`.
    pub(crate) async fn me_status(&self, client: &reqwest::Client, token: &str) -> u16 {
        client
            .get(format!("{}/api/users/me", self.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("users/me")
            .status()
            .as_u16()
    }

    /// The last one-time code this server mailed (the development mail
    /// transport writes mails to the log, with the recipient masked; each
    /// test has its own server, so the last code is the test's), waiting up
    /// to 10 s for it.
    pub(crate) fn mailed_code(&self, email: &str) -> String {
        let started = Instant::now();
        let marker = "sign-in code is ";
        while started.elapsed() < Duration::from_secs(10) {
            let logs = self.logs.lock().expect("logs").clone();
            for line in logs.iter().rev() {
                if let Some(start) = line.find(marker) {
                    let code: String = line[start + marker.len()..]
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .collect();
                    if !code.is_empty() {
                        return code;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no code was mailed (to {email}) in the server's log");
    }

    /// Stops the server (the instance goes away, as a crash would look).
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
        let database = self.database.clone();
        let prefix = self.redis_prefix.clone();
        // Drop runs outside async: a thread with its own runtime cleans up.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                if let Ok(mut admin) = PgConnection::connect(&admin_url()).await {
                    let _ = admin
                        .execute(sqlx::AssertSqlSafe(format!(
                            "drop database if exists {database} with (force)"
                        )))
                        .await;
                }
            });
            if let Ok(client) = redis::Client::open("redis://127.0.0.1:6379/")
                && let Ok(mut connection) = client.get_connection()
            {
                let keys: Vec<String> = redis::cmd("KEYS")
                    .arg(format!("{prefix}*"))
                    .query(&mut connection)
                    .unwrap_or_default();
                if !keys.is_empty() {
                    let _: redis::RedisResult<()> =
                        redis::cmd("DEL").arg(keys).query(&mut connection);
                }
            }
        })
        .join();
    }
}
