//! Smoke test: the real tenk-server (its own database and Redis prefix,
//! cheap bcrypt, rate limits off) under a few seconds of `seed-mix` with 50
//! users, a two-step `capacity` search after a short warm-up, and a short
//! `overload` run with its quiet phase. Asserts zero errors and a report
//! with every expected field; it asserts no timing.
//!
//! The server binary is `TENK_SERVER_BIN`, else `tenk-server` in
//! `$CARGO_TARGET_DIR/debug` or `../target/debug`. PostgreSQL
//! (`TEST_DATABASE_URL`, default postgres://postgres@127.0.0.1:5432/postgres)
//! and Redis (127.0.0.1:6379) must be running.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const OPS_TOKEN: &str = "smoke-test-ops-token-0123456789";

fn server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("TENK_SERVER_BIN") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "TENK_SERVER_BIN={} is not a file: build it with `cargo build -p tenk-server`",
            path.display()
        );
        return path;
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        candidates.push(PathBuf::from(dir).join("debug/tenk-server"));
    }
    candidates.push(manifest.join("../target/debug/tenk-server"));
    candidates
        .iter()
        .find(|path| path.is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "tenk-server not found (looked at {candidates:?}); build it first \
                 (`cargo build -p tenk-server` in the workspace) or set TENK_SERVER_BIN"
            )
        })
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("the bound address").port()
}

/// A running tenk-server; killed, and its database and keys removed, on drop.
struct Server {
    child: Child,
    port: u16,
    database: String,
    admin_url: String,
    prefix: String,
}

impl Server {
    fn start() -> Self {
        let admin_url = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(b, _)| b);
        let unique = format!(
            "{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("a clock after 1970")
                .subsec_nanos()
        );
        let database = format!("tenk_loadtest_smoke_{unique}");
        let prefix = format!("loadtest-smoke:{unique}:");
        let port = free_port();
        let child = Command::new(server_binary())
            .env("DATABASE_URL", format!("{base}/{database}"))
            .env("PORT", port.to_string())
            .env("REDIS_KEY_PREFIX", &prefix)
            .env("LOG_LEVEL", "warn")
            // Development only: cheap hashes so accounts seed fast, and no
            // rate limits for a load that all comes from one address.
            .env("PASSWORD_HASH", "bcrypt")
            .env("BCRYPT_ROUNDS", "4")
            .env("RATE_LIMIT_ENABLED", "false")
            .env("OPS_TOKEN", OPS_TOKEN)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("tenk-server could not be started");
        let server = Self {
            child,
            port,
            database,
            admin_url,
            prefix,
        };
        server.wait_until_live();
        server
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn wait_until_live(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("tenk-server did not listen on {} within 60 s", self.port);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Best effort: the tools may be missing; leftovers expire or are harmless.
        let _ = Command::new("psql")
            .args([&self.admin_url, "-q", "-c"])
            .arg(format!(
                "drop database if exists {} with (force)",
                self.database
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "redis-cli -h 127.0.0.1 --scan --pattern '{}*' | xargs -r redis-cli -h 127.0.0.1 del",
                self.prefix
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Runs tenk-loadtest with `args`, at most `limit`, and returns its JSON report.
fn loadtest(args: &[&str], limit: Duration) -> Value {
    let report = std::env::temp_dir().join(format!(
        "tenk-loadtest-smoke-{}-{}.json",
        std::process::id(),
        args[0]
    ));
    let mut child = Command::new(env!("CARGO_BIN_EXE_tenk-loadtest"))
        .args(args)
        .args(["--quiet", "--fail-on-errors", "--json"])
        .arg(&report)
        .env("TENK_OPS_TOKEN", OPS_TOKEN)
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("tenk-loadtest could not be started");
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for tenk-loadtest") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("tenk-loadtest {args:?} ran past {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "tenk-loadtest {args:?} exited with {status}"
    );
    let text = std::fs::read_to_string(&report).expect("the JSON report was written");
    let _ = std::fs::remove_file(&report);
    serde_json::from_str(&text).expect("the JSON report parses")
}

fn assert_percentiles(latency: &Value) {
    for key in ["p50_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms", "mean_ms"] {
        let value = latency[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} in {latency}"));
        assert!(value > 0.0, "{key} = {value}");
    }
    assert!(latency["p50_ms"].as_f64() <= latency["p99_ms"].as_f64());
    assert!(latency["p99_ms"].as_f64() <= latency["max_ms"].as_f64());
}

fn assert_server_section(server: &Value, users: f64) {
    assert!(server["error"].is_null(), "metrics failed: {server}");
    let number = |key: &str| server[key].as_f64().unwrap_or(-1.0);
    assert!(number("rss_mb_before") > 0.0, "{server}");
    assert!(number("rss_mb_after") > 0.0, "{server}");
    assert!(number("cpu_seconds") >= 0.0, "{server}");
    assert!(number("sessions_active_before") >= users, "{server}");
    let all = &server["session_lookup"]["all"];
    assert!(all["count"].as_u64().unwrap_or(0) > 0, "{server}");
    assert!(all.get("p99_le_ms").is_some());
}

#[test]
fn a_short_seed_mix_capacity_search_and_overload_run_against_the_real_server_have_no_errors() {
    // Arrange
    let server = Server::start();
    let target = server.url();
    // Act: 50 users at 20 times the seed's rates (~37 req/s) for 3 s, the full mix.
    let mix = loadtest(
        &[
            "seed-mix",
            "--target",
            &target,
            "--users",
            "50",
            "--peak",
            "20",
            "--duration",
            "3s",
            "--posts",
            "10",
            "--prefix",
            "smoke",
        ],
        Duration::from_secs(120),
    );
    // Assert
    assert_eq!(mix["command"], "seed-mix");
    assert_eq!(mix["seeding"]["accounts"], 50);
    assert_eq!(mix["seeding"]["sessions"], 50);
    assert_eq!(mix["population"]["groups"].as_array().unwrap().len(), 3);
    let run = &mix["run"];
    assert_eq!(run["errors"], 0, "{run}");
    assert_eq!(run["errors_by_status"], serde_json::json!({}));
    assert!(run["responses"].as_u64().unwrap() > 20, "{run}");
    assert_eq!(run["responses"], run["scheduled"]);
    assert!(run["achieved_rate"].as_f64().unwrap() > 0.0);
    assert_percentiles(&run["latency"]);
    assert_percentiles(&run["service_time"]);
    assert!(run["by_action"]["profile"]["requests"].as_u64().unwrap() > 0);
    assert_server_section(&mix["server"], 50.0);

    // Act: two short constant-rate steps over the read mix, the same accounts.
    let capacity = loadtest(
        &[
            "capacity",
            "--target",
            &target,
            "--users",
            "20",
            "--mix",
            "read",
            "--start-rate",
            "40",
            "--factor",
            "2",
            "--max-steps",
            "2",
            "--step-duration",
            "1s",
            "--warmup",
            "500ms",
            "--posts",
            "5",
            "--prefix",
            "smoke",
        ],
        Duration::from_secs(120),
    );
    // Assert: accounts from the first run are logged in again, not re-created.
    assert_eq!(capacity["command"], "capacity");
    assert_eq!(capacity["seeding"]["already_existed"], 20);
    let steps = capacity["capacity"]["steps"].as_array().unwrap();
    assert!(!steps.is_empty());
    for step in steps {
        assert_eq!(step["result"]["errors"], 0, "{step}");
        assert!(step["result"]["responses"].as_u64().unwrap() > 0);
        assert!(step["server"]["error"].is_null());
    }
    assert!(capacity["capacity"].get("highest_held_rate").is_some());
    let warmup = &capacity["capacity"]["warmup"];
    assert_eq!(warmup["rate"], 40.0, "{warmup}");
    assert!(
        warmup["result"]["responses"].as_u64().unwrap() > 0,
        "{warmup}"
    );
    assert_server_section(&capacity["server"], 20.0);

    // Act: a brief constant-rate run (far below what tenk sheds at), then a
    // second without load while its memory is sampled.
    let overload = loadtest(
        &[
            "overload",
            "--target",
            &target,
            "--users",
            "20",
            "--mix",
            "hot",
            "--rate",
            "40",
            "--duration",
            "2s",
            "--after",
            "1s",
            "--warmup",
            "500ms",
            "--sample-every",
            "200ms",
            "--posts",
            "5",
            "--prefix",
            "smoke",
        ],
        Duration::from_secs(120),
    );
    // Assert: everything offered was admitted; nothing shed, hung or broke.
    assert_eq!(overload["command"], "overload");
    let figures = &overload["overload"];
    assert_eq!(figures["scheduled"], 80, "{figures}");
    assert_eq!(figures["admitted"], figures["scheduled"], "{figures}");
    assert_eq!(figures["goodput_share"], 1.0, "{figures}");
    assert!(figures["goodput_rate"].as_f64().unwrap() > 0.0, "{figures}");
    for zero in [
        "shed",
        "rate_limited",
        "timeouts",
        "abandoned",
        "transport_errors",
        "dropped",
        "failures",
    ] {
        assert_eq!(figures[zero], 0, "{zero}: {figures}");
    }
    assert_percentiles(&figures["admitted_latency"]);
    assert_eq!(figures["shed_latency"]["p99_ms"], 0.0);
    assert!(figures["warmup"]["result"]["responses"].as_u64().unwrap() > 0);
    assert_eq!(figures["run"]["errors"], 0);
    let memory = &figures["memory"];
    for key in [
        "rss_mb_before",
        "rss_mb_peak",
        "rss_mb_end",
        "end_over_before",
    ] {
        assert!(memory[key].as_f64().unwrap_or(0.0) > 0.0, "{key}: {memory}");
    }
    assert_eq!(memory["failed_samples"], 0, "{memory}");
    // At least the first sample of the load and the one at the end of --after.
    assert!(memory["samples"].as_array().unwrap().len() >= 2, "{memory}");
    assert_server_section(&overload["server"], 20.0);
}
