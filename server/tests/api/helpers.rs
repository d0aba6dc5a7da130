//! The test harness: a fresh database per test (dropped afterwards, even on
//! panic), a Redis key prefix per test, and the app served on a free port.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, Executor, PgConnection, PgPool};
use tenk_server::config::Settings;
use tenk_server::startup::Application;
use tenk_server::state::AppState;

/// Where test databases are created: `TEST_DATABASE_URL`, else the local server.
pub(crate) fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// A database of its own for one test; dropped when this value is.
pub(crate) struct TestDb {
    pub(crate) name: String,
    pub(crate) pool: PgPool,
    pub(crate) url: String,
}

impl TestDb {
    pub(crate) async fn new() -> Self {
        let name = format!("tenk_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url())
            .await
            .expect("test PostgreSQL is reachable");
        admin
            .execute(sqlx::AssertSqlSafe(format!("create database {name}")))
            .await
            .expect("create test database");
        admin.close().await.ok();
        let options: PgConnectOptions = admin_url().parse().expect("valid TEST_DATABASE_URL");
        let options = options.database(&name);
        let url = replace_database(&admin_url(), &name);
        let pool = PgPoolOptions::new()
            .max_connections(5)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .expect("connect to test database");
        tenk_server::db::migrate(&pool)
            .await
            .expect("migrations apply");
        Self { name, pool, url }
    }
}

fn replace_database(url: &str, name: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("URL names a database");
    format!("{base}/{name}")
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let pool = self.pool.clone();
        // Drop runs outside async; a thread with its own runtime removes the database.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                pool.close().await;
                if let Ok(mut admin) = PgConnection::connect(&admin_url()).await {
                    let _ = admin
                        .execute(sqlx::AssertSqlSafe(format!(
                            "drop database if exists {name} with (force)"
                        )))
                        .await;
                }
            });
        })
        .join();
    }
}

/// Settings for a test app: port 0, its own Redis prefix, small pools.
pub(crate) fn test_settings(overrides: &[(&str, &str)]) -> Settings {
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let mut vars: HashMap<String, String> = HashMap::from([
        ("PORT".into(), "0".into()),
        ("REDIS_KEY_PREFIX".into(), prefix),
        ("DB_POOL_MAX".into(), "5".into()),
        ("INSTANCE_ID".into(), "test-instance".into()),
        ("SHUTDOWN_TIMEOUT".into(), "5".into()),
        // Tests share one client IP; the rate-limit tests set real limits.
        ("RATE_LIMIT_AUTH".into(), "100000/5m".into()),
        ("RATE_LIMIT_API".into(), "100000/1m".into()),
        ("RATE_LIMIT_PUBLIC".into(), "100000/1m".into()),
    ]);
    for (name, value) in overrides {
        vars.insert((*name).to_string(), (*value).to_string());
    }
    Settings::from_lookup(|name| vars.get(name).cloned()).expect("valid test settings")
}

/// Every log line written by any test app in this process, as JSON.
pub(crate) fn captured_logs() -> String {
    String::from_utf8_lossy(&log_buffer().lock().expect("log buffer").clone()).into_owned()
}

fn log_buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    static BUFFER: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUFFER.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let settings = tenk_server::config::LogSettings {
            format: tenk_server::config::LogFormat::Json,
            level: "debug,sqlx=warn,hyper=warn,tower=warn".into(),
        };
        let writer = move || LogWriter(sink.clone());
        let _ = tenk_server::telemetry::init(&settings, writer);
        buffer
    })
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A running test app.
pub(crate) struct TestApp {
    pub(crate) address: String,
    pub(crate) client: reqwest::Client,
    pub(crate) state: AppState,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestApp {
    pub(crate) async fn spawn(db: &TestDb) -> Self {
        Self::spawn_with(db.pool.clone(), test_settings(&[])).await
    }

    pub(crate) async fn spawn_with(pool: PgPool, settings: Settings) -> Self {
        log_buffer();
        let application = Application::build(settings, pool)
            .await
            .expect("app builds");
        let address = format!("http://127.0.0.1:{}", application.port());
        let state = application.state().clone();
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(application.run_until_stopped(async move {
            let _ = stop.await;
        }));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self {
            address,
            client,
            state,
            shutdown: Some(shutdown),
        }
    }

    /// Stops the app as a signal would: readiness 503, then (after
    /// `DRAIN_DELAY`) the listener closes and open connections drain.
    pub(crate) fn shut_down(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub(crate) fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path))
    }

    pub(crate) fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(self.url(path))
    }

    /// The `/metrics` text (asserting a 200).
    pub(crate) async fn metrics(&self) -> String {
        let response = self.get("/metrics").send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// A pool to a port where nothing listens: PostgreSQL "down".
pub(crate) fn unreachable_pool() -> PgPool {
    PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(500))
        .connect_lazy("postgres://postgres@127.0.0.1:1/none")
        .expect("lazy pool")
}

/// A Redis URL where nothing listens: Redis "down".
pub(crate) const UNREACHABLE_REDIS: &str = "redis://127.0.0.1:1/0";

impl TestApp {
    /// The milliseconds Redis still keeps `key` (`PTTL`): a test asserts the
    /// lifetime Redis holds instead of sleeping past it. -2: no such key.
    pub(crate) async fn pttl(&self, key: &str) -> i64 {
        let mut redis = self.state.redis.connection();
        redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut redis)
            .await
            .unwrap()
    }

    /// Waits until the app's probe has found Redis down (it probes every
    /// second while Redis is up).
    pub(crate) async fn wait_until_redis_known_down(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self.state.redis.breaker().is_up() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "Redis never seen down"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Ends `key`'s lifetime now, as Redis does when its TTL runs out (an
    /// expiry in the past deletes it), after checking it had one.
    pub(crate) async fn expire_now(&self, key: &str) {
        assert!(self.pttl(key).await > 0, "{key} has a lifetime to end");
        let mut redis = self.state.redis.connection();
        let expired: i64 = redis::cmd("PEXPIREAT")
            .arg(key)
            .arg(1)
            .query_async(&mut redis)
            .await
            .unwrap();
        assert_eq!(expired, 1, "{key}");
        assert_eq!(self.pttl(key).await, -2, "{key} is gone");
    }
}

/// A registered user with an open session.
pub(crate) struct LoggedIn {
    pub(crate) user_id: String,
    pub(crate) email: String,
    pub(crate) password: String,
    pub(crate) tokens: contract::api::TokenResponse,
}

impl LoggedIn {
    pub(crate) fn token(&self) -> &str {
        &self.tokens.access_token
    }
    pub(crate) fn sid(&self) -> &str {
        &self.tokens.session.id
    }
}

pub(crate) const PASSWORD: &str = "correct horse battery staple";

pub(crate) fn unique_email(tag: &str) -> String {
    format!("{tag}-{}@example.com", uuid::Uuid::new_v4().simple())
}

impl TestApp {
    pub(crate) fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.delete(self.url(path))
    }

    /// The status of `GET /api/users/me` with `token`: 200 while the session lives.
    pub(crate) async fn me_status(&self, token: &str) -> u16 {
        let response = self.get("/api/users/me").bearer_auth(token).send().await;
        response.expect("request").status().as_u16()
    }

    pub(crate) fn patch(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.patch(self.url(path))
    }

    pub(crate) async fn register(&self, email: &str, password: &str) -> reqwest::Response {
        self.post("/api/auth/register")
            .json(&serde_json::json!({"email": email, "password": password, "name": "Test User"}))
            .send()
            .await
            .expect("register request")
    }

    pub(crate) async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.post("/api/auth/login")
            .json(&serde_json::json!({"email": email, "password": password}))
            .send()
            .await
            .expect("login request")
    }

    /// Registers a new user and logs in.
    /// A `POST /api/posts` of `user` whose body stops half-way: the request
    /// is admitted and stays in flight until the returned stream is dropped.
    /// `keep_alive: false` sends `Connection: close`.
    pub(crate) async fn half_sent_post(
        &self,
        user: &LoggedIn,
        keep_alive: bool,
    ) -> tokio::net::TcpStream {
        use tokio::io::AsyncWriteExt;
        let address = self.address.trim_start_matches("http://");
        let mut held = tokio::net::TcpStream::connect(address).await.unwrap();
        let connection = if keep_alive {
            ""
        } else {
            "Connection: close\r\n"
        };
        let head = format!(
            "POST /api/posts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: 27\r\n{connection}\r\n{{\"title\":",
            user.token()
        );
        held.write_all(head.as_bytes()).await.unwrap();
        held
    }

    pub(crate) async fn new_user(&self, tag: &str) -> LoggedIn {
        let email = unique_email(tag);
        let registered = self.register(&email, PASSWORD).await;
        assert_eq!(registered.status(), 201, "register {tag}");
        let profile: contract::api::UserProfile = registered.json().await.expect("profile");
        self.log_in_as(profile.id, &email).await
    }

    pub(crate) async fn log_in_as(&self, user_id: String, email: &str) -> LoggedIn {
        let response = self.login(email, PASSWORD).await;
        assert_eq!(response.status(), 200, "login {email}");
        LoggedIn {
            user_id,
            email: email.to_string(),
            password: PASSWORD.to_string(),
            tokens: response.json().await.expect("tokens"),
        }
    }

    /// Creates an admin through the same code as `tenk-server create-admin`.
    pub(crate) async fn new_admin(&self) -> LoggedIn {
        let email = unique_email("admin");
        let created = tenk_server::admin::create_admin(
            self.state.db.primary(),
            &self.state.settings.auth,
            &email,
            "Admin",
            PASSWORD.to_string(),
        )
        .await
        .expect("create admin");
        let user_id = created
            .rsplit('(')
            .next()
            .unwrap_or_default()
            .trim_end_matches(')')
            .to_string();
        self.log_in_as(user_id, &email).await
    }
}

/// A Redis server of its own, on a free port, for tests that stop Redis.
pub(crate) struct TestRedis {
    pub(crate) port: u16,
    child: Option<std::process::Child>,
}

impl TestRedis {
    pub(crate) async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Self {
            port,
            child: Some(child),
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A real SMTP listener on loopback that keeps every message it receives.
pub(crate) struct TestSmtp {
    pub(crate) port: u16,
    messages: Arc<Mutex<Vec<(String, String)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl TestSmtp {
    pub(crate) async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let store = messages.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(smtp_session(stream, store.clone()));
            }
        });
        Self {
            port,
            messages,
            task,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Messages received for `recipient` so far (the raw DATA).
    pub(crate) fn messages_to(&self, recipient: &str) -> Vec<String> {
        let messages = self.messages.lock().unwrap();
        messages
            .iter()
            .filter(|(to, _)| to.eq_ignore_ascii_case(recipient))
            .map(|(_, data)| data.clone())
            .collect()
    }

    /// Waits for the `n`th message to `recipient` and returns the code in it.
    pub(crate) async fn code_for(&self, recipient: &str, n: usize) -> String {
        for _ in 0..250 {
            let with_codes: Vec<String> = self
                .messages_to(recipient)
                .into_iter()
                .filter(|m| m.contains("code is "))
                .collect();
            if let Some(message) = with_codes.get(n - 1) {
                return code_in(message);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no message {n} for {recipient}");
    }
}

impl Drop for TestSmtp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The digits after "code is" in the plain-text part.
pub(crate) fn code_in(message: &str) -> String {
    let start = message.find("code is ").expect("the mail states the code") + "code is ".len();
    message[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect()
}

/// Speaks just enough SMTP for lettre: greeting, EHLO, MAIL, RCPT, DATA, QUIT.
async fn smtp_session(stream: tokio::net::TcpStream, store: Arc<Mutex<Vec<(String, String)>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let _ = write.write_all(b"220 localhost test SMTP\r\n").await;
    let mut recipients: Vec<String> = Vec::new();
    while let Ok(Some(line)) = lines.next_line().await {
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" => b"250-localhost\r\n250 8BITMIME\r\n",
            "MAIL" => {
                recipients.clear();
                b"250 OK\r\n"
            }
            "RCPT" => {
                let address = line
                    .split(['<', '>'])
                    .nth(1)
                    .unwrap_or_default()
                    .to_string();
                recipients.push(address);
                b"250 OK\r\n"
            }
            "DATA" => {
                let _ = write.write_all(b"354 end with .\r\n").await;
                let mut data = String::new();
                while let Ok(Some(body_line)) = lines.next_line().await {
                    if body_line == "." {
                        break;
                    }
                    data.push_str(&body_line);
                    data.push('\n');
                }
                let mut messages = store.lock().unwrap();
                for to in &recipients {
                    messages.push((to.clone(), data.clone()));
                }
                b"250 queued\r\n"
            }
            "QUIT" => {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            }
            _ => b"250 OK\r\n",
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}

impl TestSmtp {
    /// Waits for the `n`th message to `recipient` and returns its token.
    pub(crate) async fn token_for(&self, recipient: &str, n: usize) -> String {
        let message = self.nth_message(recipient, n).await;
        let start = message.find("token is ").expect("the mail states a token") + "token is ".len();
        message[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }

    /// Waits for the `n`th message to `recipient`, a mail queued after the
    /// requests whose mail a test says was never sent. The queue is FIFO
    /// with one worker that sends a message only after the previous one
    /// was stored here, so by then any mail queued earlier has arrived:
    /// "nothing arrived" is final, not "nothing arrived yet".
    pub(crate) async fn barrier(&self, recipient: &str, n: usize) {
        self.nth_message(recipient, n).await;
    }

    /// Waits for the `n`th message to `recipient`.
    pub(crate) async fn nth_message(&self, recipient: &str, n: usize) -> String {
        for _ in 0..250 {
            if let Some(message) = self.messages_to(recipient).get(n - 1) {
                return message.clone();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no message {n} for {recipient}");
    }
}
