//! `tenk-tui --once --json` against a live server: every number and alert
//! state, exit 0 when all is well and 2 when an alert fires.

use std::process::{Command, Output};

use serde_json::Value;

use crate::server::{TestServer, unique};

pub(crate) fn run_once(
    server_url: &str,
    ops_token: &str,
    interval: &str,
    extra: &[&str],
) -> Output {
    let log = std::env::temp_dir().join(format!("{}.log", unique("tenk-tui-once-")));
    let output = Command::new(env!("CARGO_BIN_EXE_tenk-tui"))
        .args([
            "--once",
            "--json",
            "--interval",
            interval,
            "--target",
            server_url,
        ])
        .args(extra)
        .env("TENK_OPS_TOKEN", ops_token)
        .env("TENK_TUI_LOG", &log)
        .env_remove("TENK_ADMIN_TOKEN")
        .output()
        .expect("run tenk-tui");
    let _ = std::fs::remove_file(log);
    output
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// Polls the server once the way the TUI does, so the request series of
/// `/metrics` and `/api/health/detailed` exist before `--once` (like a
/// server Prometheus already scrapes): its two polls then see them grow.
fn warm_up(server: &TestServer) {
    let output = run_once(&server.url, &server.ops_token, "100ms", &[]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn once_json_prints_every_number_and_alert_state_and_exits_0_when_all_is_well() {
    let server = TestServer::start();
    warm_up(&server);
    let output = run_once(&server.url, &server.ops_token, "500ms", &[]);
    let report = json(&output);
    assert_eq!(output.status.code(), Some(0), "{report:#}");
    let target = &report["targets"][0];
    assert_eq!(target["up"], true);
    assert_eq!(target["status"], "up");
    assert_eq!(target["health"]["liveness"]["instance_id"], "tui-test");
    let numbers = &target["numbers"];
    for field in [
        "requests_per_second",
        "error_ratio",
        "db_pool_in_use",
        "db_pool_max",
        "redis_up",
        "redis_latency_seconds",
        "sessions_active",
        "rate_limit_rejections_per_second",
        "cpu_ratio",
        "cpu_cores",
        "memory_ratio",
        "uptime_seconds",
        "version",
    ] {
        assert!(!numbers[field].is_null(), "{field} in {numbers:#}");
    }
    for q in ["p50", "p95", "p99"] {
        assert!(numbers["latency_seconds"].get(q).is_some(), "latency {q}");
    }
    assert_eq!(numbers["db_pool_max"], 5.0);
    assert!(!report["total"]["requests_per_second"].is_null());
    let alerts = report["alerts"].as_array().unwrap();
    let names: Vec<&str> = alerts.iter().map(|a| a["name"].as_str().unwrap()).collect();
    for name in [
        "InstanceDown",
        "HighLatency",
        "HighErrorRate",
        "DbPoolSaturated",
        "HighMemory",
        "HighCpu",
        "ManySessions",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    assert!(
        alerts
            .iter()
            .all(|a| a["state"] == "ok" && !a["action"].is_null())
    );
    assert!(alerts.iter().all(|a| a["op"]
        == if a["name"] == "InstanceDown" {
            "=="
        } else {
            ">"
        }));
    assert_eq!(
        (
            report["firing"].as_u64(),
            report["pending"].as_u64(),
            report["down"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );
}

#[test]
fn once_exits_2_when_an_alert_fires() {
    let server = TestServer::start();
    // Memory above 0 % with `for: 0s` fires at the first evaluation.
    let thresholds = tenk_tui::thresholds::EMBEDDED.replacen(
        "value = 0.8\nunit = \"ratio\"\nfor = \"10m\"",
        "value = 0\nunit = \"ratio\"\nfor = \"0s\"",
        1,
    );
    assert_ne!(
        thresholds,
        tenk_tui::thresholds::EMBEDDED,
        "the HighMemory table was edited"
    );
    let file = std::env::temp_dir().join(format!("{}.toml", unique("thresholds-")));
    std::fs::write(&file, thresholds).unwrap();
    let output = run_once(
        &server.url,
        &server.ops_token,
        "500ms",
        &["--thresholds", file.to_str().unwrap()],
    );
    let _ = std::fs::remove_file(&file);
    let report = json(&output);
    assert_eq!(output.status.code(), Some(2), "{report:#}");
    let memory = report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "HighMemory")
        .unwrap();
    assert_eq!(memory["state"], "firing");
    assert_eq!(memory["for_seconds"], 0);
    assert_eq!(memory["action"], "Scale up");
    assert_eq!(report["firing"], 1);
}
