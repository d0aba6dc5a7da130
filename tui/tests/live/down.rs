//! An instance that stops answering: DOWN with the last error and when it
//! was last seen, on screen and in `--once`, and never a panic.

use std::time::{Duration, SystemTime};

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::Widget;
use tenk_tui::app::{App, AppConfig, Status};
use tenk_tui::event::{Event, ScrapeFailure};
use tenk_tui::poller::Poller;
use tenk_tui::secret::Secret;
use tenk_tui::thresholds::{EMBEDDED, parse_thresholds};
use tenk_tui::ui::View;

use crate::once::run_once;
use crate::server::TestServer;

fn screen(app: &App) -> String {
    let mut buf = Buffer::empty(Rect::new(0, 0, 100, 30));
    View(app).render(buf.area, &mut buf);
    (0..30)
        .map(|y| (0..100).map(|x| buf[(x, y)].symbol()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn a_stopped_target_shows_down_with_its_last_error_and_last_seen() {
    // Arrange: a live instance, polled once.
    let mut server = TestServer::start();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let token = Some(Secret::new(server.ops_token.clone()));
    let poller = Poller::new(
        http,
        &server.url,
        token,
        Duration::from_secs(1),
        Duration::from_secs(5),
    );
    let config = AppConfig {
        targets: vec![server.url.clone()],
        interval: Duration::from_secs(1),
        read_only: false,
        admin_token_from_env: false,
        fleet: None,
    };
    let mut app = App::new(
        config,
        parse_thresholds(EMBEDDED).unwrap(),
        SystemTime::now(),
    );
    let scrape = poller.poll().await.expect("up");
    let seen = scrape.snapshot.at;
    app.update(Event::Scraped {
        target: 0,
        result: Ok(Box::new(scrape)),
    });
    // Act: it stops; the next polls fail (the first may find its pooled
    // connection closed, the next is refused).
    server.stop();
    for _ in 0..2 {
        let error = poller.poll().await.expect_err("down");
        app.update(Event::Scraped {
            target: 0,
            result: Err(ScrapeFailure {
                at: SystemTime::now(),
                error: error.to_string(),
                retry_in: Duration::from_secs(2),
            }),
        });
    }
    app.update(Event::Tick(SystemTime::now()));
    // Assert
    let Status::Down {
        error, last_seen, ..
    } = app.targets[0].status(app.now, app.config.interval)
    else {
        panic!("down");
    };
    assert!(error.contains("refused"), "{error}");
    assert_eq!(last_seen, Some(seen));
    assert_eq!(app.targets[0].failure.as_ref().unwrap().attempts, 2);
    let text = screen(&app);
    assert!(text.contains("DOWN"), "{text}");
    assert!(
        text.contains("Connection refused") && text.contains("last seen"),
        "{text}"
    );
    assert!(text.contains("total 0/1 up"), "{text}");
}

#[test]
fn once_reports_an_unreachable_target_as_down_and_exits_2() {
    // A port nothing listens on any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let output = run_once(&url, "irrelevant-token", "200ms", &[]);
    assert_eq!(output.status.code(), Some(2));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["targets"][0]["up"], false);
    assert!(
        report["targets"][0]["error"]
            .as_str()
            .unwrap()
            .contains("refused")
    );
    assert_eq!(report["down"], 1);
    let instance_down = report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "InstanceDown")
        .unwrap();
    assert_eq!(instance_down["state"], "pending", "{instance_down:#}");
    assert_eq!(instance_down["for_seconds"], 60);
    assert_eq!(instance_down["alert"], "TenkInstanceDown");
}

#[test]
fn once_text_starts_with_the_down_count_and_a_usage_error_is_not_an_alert() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::env::temp_dir().join(crate::server::unique("tenk-tui-text-"));
    // host:port, without a scheme.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tenk-tui"))
        .args(["--once", "--interval", "200ms", "--target"])
        .arg(format!("127.0.0.1:{port}"))
        .env("TENK_TUI_LOG", &log)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(log);
    assert_eq!(output.status.code(), Some(2));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.starts_with("1/1 DOWN · 0 firing · 1 pending"),
        "{text}"
    );
}
