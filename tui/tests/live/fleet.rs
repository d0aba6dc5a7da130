//! Fleet mode against a real Prometheus and Alertmanager on 127.0.0.1
//! (Debian packages `prometheus`, `prometheus-alertmanager`, started as
//! `alerts/e2e_check.py` starts them): Prometheus scrapes two live servers
//! and a port nothing listens on, evaluates a test rule that fires for every
//! instance that is up, and sends its alerts to the Alertmanager. The
//! cockpit must find the three instances by itself, read their numbers, one
//! instance's numbers per route and the alert states from Prometheus, and
//! silence one alert.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tenk_tui::fleet::{
    AlertmanagerClient, FleetQueries, PrometheusClient, fetch_routes, fetch_snapshot,
};

use crate::pty::Tmux;
use crate::server::{TestServer, unique};

/// A child process killed (and its folder removed) on drop.
struct Daemon {
    child: Child,
    base: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("its address")
        .port()
}

/// Polls `check` until it returns `Some`, for at most `limit`.
fn wait_until<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(started.elapsed() < limit, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `GET /-/ready` answers 200 (plain HTTP/1.0 over a socket: no client to install).
fn ready(base: &str) -> bool {
    use std::io::{Read, Write};
    let address = base.trim_start_matches("http://");
    let Ok(mut stream) = std::net::TcpStream::connect(address) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(format!("GET /-/ready HTTP/1.0\r\nHost: {address}\r\n\r\n").as_bytes())
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.ends_with(b" 200")
}

fn spawn(program: &str, args: &[String], dir: &Path, base: String) -> Daemon {
    let log = std::fs::File::create(dir.join(format!("{program}.log"))).expect("a log file");
    let child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::from(log.try_clone().expect("the log file twice")))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "{program} is needed (apt-get install -y prometheus prometheus-alertmanager): {e}"
            )
        });
    let daemon = Daemon { child, base };
    wait_until(&format!("{program} ready"), Duration::from_secs(30), || {
        ready(&daemon.base).then_some(())
    });
    daemon
}

fn start_alertmanager(dir: &Path) -> Daemon {
    let port = free_port();
    let config = dir.join("alertmanager.yml");
    std::fs::write(
        &config,
        "route:\n  receiver: blackhole\n  group_wait: 1s\n  group_interval: 1s\nreceivers:\n  - name: blackhole\n",
    )
    .expect("write the test configuration");
    spawn(
        "prometheus-alertmanager",
        &[
            format!("--config.file={}", config.display()),
            format!("--storage.path={}", dir.join("am").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--cluster.listen-address=".into(),
        ],
        dir,
        format!("http://127.0.0.1:{port}"),
    )
}

fn start_prometheus(dir: &Path, token: &str, targets: &[String], alertmanager: &str) -> Daemon {
    let port = free_port();
    std::fs::write(dir.join("token"), token).expect("write the test configuration");
    // The shipped rules, plus one that fires (for: 0s) for every instance that is up.
    let rules = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../alerts/tenk.rules.yml"
    ))
    .expect("alerts/tenk.rules.yml");
    std::fs::write(dir.join("tenk.rules.yml"), rules).expect("write the test configuration");
    std::fs::write(
        dir.join("fleet-test.rules.yml"),
        "groups:\n  - name: fleet-test\n    rules:\n      - alert: TenkFleetTest\n        expr: up{job=\"tenk\"} == 1\n        labels:\n          severity: warning\n        annotations:\n          action: Nothing, it is a test\n",
    )
    .expect("write the test configuration");
    let targets: Vec<String> = targets.iter().map(|t| format!("\"{t}\"")).collect();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         rule_files: [\"tenk.rules.yml\", \"fleet-test.rules.yml\"]\n\
         alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [\"{}\"]\n\
         scrape_configs:\n  - job_name: tenk\n    authorization:\n      credentials_file: token\n    static_configs:\n      - targets: [{}]\n",
        alertmanager.trim_start_matches("http://"),
        targets.join(", ")
    );
    std::fs::write(dir.join("prometheus.yml"), config).expect("write the test configuration");
    spawn(
        "prometheus",
        &[
            format!("--config.file={}", dir.join("prometheus.yml").display()),
            format!("--storage.tsdb.path={}", dir.join("data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--storage.tsdb.retention.time=1h".into(),
        ],
        dir,
        format!("http://127.0.0.1:{port}"),
    )
}

fn run_fleet_once(prometheus: &str, alertmanager: &str) -> (Option<i32>, Value) {
    let log = std::env::temp_dir().join(unique("tenk-tui-fleet-"));
    let output = Command::new(env!("CARGO_BIN_EXE_tenk-tui"))
        .args([
            "--once",
            "--json",
            "--prometheus",
            prometheus,
            "--alertmanager",
            alertmanager,
        ])
        .env("TENK_TUI_LOG", &log)
        .output()
        .expect("run tenk-tui");
    let _ = std::fs::remove_file(log);
    let json = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code(), json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_mode_discovers_instances_reads_prometheus_alerts_and_silences_one() {
    // Arrange: two servers sharing one ops token, a third address that is down.
    let token = unique("ops-");
    let a = TestServer::start_with_ops_token(&token);
    let b = TestServer::start_with_ops_token(&token);
    let dead = format!("127.0.0.1:{}", free_port());
    let dir = TempDir(std::env::temp_dir().join(unique("tenk-tui-fleet-")));
    std::fs::create_dir_all(&dir.0).unwrap();
    let alertmanager = start_alertmanager(&dir.0);
    let targets = vec![
        a.url.trim_start_matches("http://").to_string(),
        b.url.trim_start_matches("http://").to_string(),
        dead.clone(),
    ];
    let prometheus = start_prometheus(&dir.0, &token, &targets, &alertmanager.base);
    let http = reqwest::Client::new();
    // Some traffic, so that the rates have something to count.
    for server in [&a, &b] {
        for _ in 0..20 {
            let _ = http.get(format!("{}/api/health", server.url)).send().await;
        }
    }

    // Act: the cockpit's own fleet client, until Prometheus has rated both.
    let client = PrometheusClient::new(http.clone(), &prometheus.base, Duration::from_secs(5));
    let am = AlertmanagerClient::new(http.clone(), &alertmanager.base, Duration::from_secs(5));
    let queries = FleetQueries::new("job=\"tenk\"", "1m");
    let started = Instant::now();
    let snapshot = loop {
        for server in [&a, &b] {
            let _ = http.get(format!("{}/api/health", server.url)).send().await;
        }
        let snapshot = fetch_snapshot(&client, Some(&am), &queries).await.unwrap();
        let rated = snapshot
            .instances
            .iter()
            .filter(|i| i.up && i.requests_per_second.is_some())
            .count();
        let firing = snapshot.alerts.iter().filter(|x| x.is_firing()).count();
        let in_am = snapshot
            .alertmanager
            .as_ref()
            .and_then(|r| r.as_ref().ok())
            .map_or(0, |(alerts, _)| alerts.len());
        if snapshot.instances.len() == 3 && rated == 2 && firing >= 2 && in_am >= 2 {
            break snapshot;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "Prometheus did not get there in 60 s: {snapshot:#?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    // Assert: the fleet found itself, with its down instance.
    let names: Vec<&str> = snapshot.instances.iter().map(|i| i.name.as_str()).collect();
    for target in &targets {
        assert!(names.contains(&target.as_str()), "{target} in {names:?}");
    }
    let down: Vec<&str> = snapshot
        .instances
        .iter()
        .filter(|i| !i.up)
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(down, vec![dead.as_str()]);
    assert!(
        snapshot
            .alerts
            .iter()
            .any(|x| x.name() == "TenkFleetTest" && x.instance() == targets[0]),
        "{:?}",
        snapshot.alerts
    );

    // Per route, from the same Prometheus: the route that got traffic has a
    // positive rate on each live server; the dead address has no routes.
    for server in &targets[..2] {
        let started = Instant::now();
        let routes = loop {
            let _ = http.get(format!("http://{server}/api/health")).send().await;
            let routes = fetch_routes(&client, &queries, server).await.unwrap();
            if routes
                .iter()
                .any(|r| r.route == "/api/health" && r.method == "GET")
            {
                break routes;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no /api/health row for {server} in 30 s: {routes:#?}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        let health = routes
            .iter()
            .find(|r| r.route == "/api/health" && r.method == "GET")
            .unwrap();
        assert!(health.requests_per_second > 0.0, "{health:?}");
        assert_eq!(health.error_ratio, Some(0.0), "{health:?}");
        assert!(health.p95.is_some_and(|p| p > 0.0), "{health:?}");
        assert!(
            routes.iter().all(|r| r.requests_per_second > 0.0),
            "{routes:#?}"
        );
    }
    assert_eq!(
        fetch_routes(&client, &queries, &dead).await.unwrap(),
        Vec::new()
    );

    // The headless report says the same, and exits 2 (an instance is down).
    let (code, report) = tokio::task::spawn_blocking({
        let (p, m) = (prometheus.base.clone(), alertmanager.base.clone());
        move || run_fleet_once(&p, &m)
    })
    .await
    .unwrap();
    assert_eq!(code, Some(2), "{report:#}");
    assert_eq!(report["instances"].as_array().unwrap().len(), 3);
    assert_eq!(report["down"], 1);
    assert!(report["firing"].as_u64().unwrap() >= 1);

    // The real binary in a terminal: the fleet on screen, and S silences
    // the selected alert for the duration typed.
    let log = dir.0.join("tui.log");
    let script = format!(
        "{} --prometheus {} --alertmanager {} --interval 1s --log-file {}; echo EXITED:$?; sleep 60",
        env!("CARGO_BIN_EXE_tenk-tui"),
        prometheus.base,
        alertmanager.base,
        log.display()
    );
    let tmux = Tmux {
        socket: unique("tenk-tui-fleet-"),
    };
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "tui",
        "-x",
        "160",
        "-y",
        "40",
        &script,
    ]);
    tmux.wait_for("the fleet discovered", |s| {
        s.contains("2/3 up · discovered from Prometheus") && s.contains("1/3 DOWN")
    });
    // b: the first live server per route (the instances are sorted by name).
    let row = snapshot
        .instances
        .iter()
        .position(|i| i.name == targets[0])
        .unwrap();
    for _ in 0..row {
        tmux.keys(&["j"]);
    }
    tmux.keys(&["b"]);
    tmux.wait_for("the per-route breakdown", |s| {
        s.contains(&format!("{} · per route, worst first · as of", targets[0]))
            && s.contains("/api/health")
    });
    tmux.keys(&["b"]);
    tmux.keys(&["2"]);
    tmux.wait_text("TenkFleetTest");
    tmux.keys(&["S"]);
    tmux.wait_text("in Alertmanager");
    tmux.keys(&["BSpace", "BSpace"]);
    tmux.text("2h");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_text("silenced (silence ");
    let ours = am
        .silences()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.created_by.starts_with("tenk-tui ("))
        .unwrap_or_else(|| panic!("a silence made by the cockpit:\n{screen}"));
    assert!(ours.comment.contains("2h"), "{ours:?}");
    tmux.wait_text("by tenk-tui (");
    tmux.keys(&["q"]);
    tmux.wait_text("EXITED:0");
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(log_text.contains("silence created"), "{log_text}");

    // Silence one alert for 2h: Alertmanager lists the silence and holds
    // the alert as silenced.
    let alert = snapshot
        .alerts
        .iter()
        .find(|x| x.name() == "TenkFleetTest" && x.instance() == targets[0])
        .unwrap();
    let id = am
        .silence(
            &alert.labels,
            Duration::from_secs(7200),
            "tenk-tui (test)",
            "fleet test",
        )
        .await
        .unwrap();
    let started = Instant::now();
    let silenced = loop {
        let alerts = am.alerts().await.unwrap();
        let silences = am.silences().await.unwrap();
        let listed = silences.iter().any(|s| s.id == id);
        let held = alerts.iter().any(|x| {
            x.name() == "TenkFleetTest"
                && x.instance() == targets[0]
                && x.status.silenced_by.contains(&id)
        });
        if listed && held {
            break silences;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "not silenced in 20 s: {alerts:#?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let silence = silenced.iter().find(|s| s.id == id).unwrap();
    assert_eq!(
        silence.matchers_text(),
        format!("alertname=\"TenkFleetTest\", instance=\"{}\"", targets[0])
    );
    drop(prometheus);
    drop(alertmanager);
}
