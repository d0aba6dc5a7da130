//! The poller reads a live server's metrics and health, and the numbers
//! computed from two polls are the server's own.

use std::time::Duration;

use tenk_tui::numbers::{Gauges, Interval, Rates};
use tenk_tui::poller::{PollError, Poller};
use tenk_tui::secret::Secret;

use crate::server::TestServer;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client")
}

#[tokio::test]
async fn the_poller_reads_metrics_and_detailed_health_of_a_live_server() {
    // Arrange
    let server = TestServer::start();
    let token = Some(Secret::new(server.ops_token.clone()));
    let poller = Poller::new(
        client(),
        &server.url,
        token,
        Duration::from_secs(1),
        Duration::from_secs(10),
    );
    // One request first, so the /api/health series exists in both polls.
    client()
        .get(format!("{}/api/health", server.url))
        .send()
        .await
        .unwrap();
    // Act
    let first = poller.poll().await.expect("first poll");
    for _ in 0..5 {
        client()
            .get(format!("{}/api/health", server.url))
            .send()
            .await
            .unwrap();
    }
    let second = poller.poll().await.expect("second poll");
    // Assert
    for name in contract::metrics::ALL {
        let present = second
            .snapshot
            .samples
            .keys()
            .any(|s| s.name.starts_with(name));
        assert!(present, "{name} is exported and parsed");
    }
    // (Dependencies are not required to be up: on a busy machine a check
    // may exceed its one-second timeout; the report is read either way.)
    let health = second.health.expect("detailed health with the ops token");
    assert_eq!(health.liveness.instance_id, "tui-test");
    assert_eq!(
        health.database.primary.max, 5,
        "DB_POOL_MAX of the test server"
    );
    let gauges = Gauges::from_snapshot(&second.snapshot);
    assert_eq!(
        gauges.version.as_deref(),
        Some(health.liveness.version.as_str())
    );
    assert!(gauges.redis_up.is_some() && gauges.db_up.is_some());
    assert_eq!(gauges.pools[0].max, 5.0);
    let rates = Rates::over([&Interval::between(&first.snapshot, &second.snapshot)]).unwrap();
    // The five /api/health requests, plus at most the poller's own two
    // (/metrics and /api/health/detailed of the second poll): whether their
    // series already existed at the first scrape depends on which of the
    // first poll's concurrent requests finished first.
    let span = second
        .snapshot
        .at
        .duration_since(first.snapshot.at)
        .unwrap()
        .as_secs_f64();
    let requests = (rates.requests.unwrap() * span).round();
    assert!(
        (5.0..=7.0).contains(&requests),
        "{requests} requests between the polls"
    );
    assert_eq!(rates.error_ratio(), Some(0.0));
    assert!(rates.latency_quantile(0.95).is_some());
}

#[tokio::test]
async fn without_the_ops_token_the_poller_says_to_set_it() {
    let server = TestServer::start();
    let poller = Poller::new(
        client(),
        &server.url,
        None,
        Duration::from_secs(1),
        Duration::from_secs(10),
    );
    let error = poller.poll().await.unwrap_err();
    assert_eq!(error, PollError::Unauthorized);
    assert!(error.to_string().contains("TENK_OPS_TOKEN"));
}
