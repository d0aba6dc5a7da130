//! Section D of SECURITY.md: tiered rate limits shared through Redis.

use std::time::{Duration, Instant};

use contract::api::Problem;
use futures_util::future::join_all;

use crate::helpers::{PASSWORD, TestApp, TestDb, TestRedis, test_settings, unique_email};

/// A cheap auth-tier request: a refresh with a token that does not exist.
fn refresh(app: &TestApp) -> reqwest::RequestBuilder {
    app.post("/api/auth/refresh")
        .json(&serde_json::json!({"refresh_token": "no.such"}))
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .map_or("", |value| value.to_str().unwrap())
}

/// The `t` parameter of a `RateLimit` field.
fn reset_of(field: &str) -> u64 {
    field.split(";t=").nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_past_the_auth_limit_gets_429_with_consistent_headers() {
    let db = TestDb::new().await;
    let app = TestApp::spawn_with(
        db.pool.clone(),
        test_settings(&[("RATE_LIMIT_AUTH", "5/5m")]),
    )
    .await;

    for n in 0..5 {
        let response = refresh(&app).send().await.unwrap();
        assert_eq!(response.status(), 401, "request {n} is admitted");
        assert_eq!(header(&response, "ratelimit-policy"), r#""auth";q=5;w=300"#);
        assert!(header(&response, "ratelimit").starts_with(&format!(r#""auth";r={};"#, 4 - n)));
    }
    let limited = refresh(&app).send().await.unwrap();

    assert_eq!(limited.status(), 429);
    assert_eq!(
        limited.headers()["content-type"],
        "application/problem+json"
    );
    let retry_after: u64 = header(&limited, "retry-after").parse().unwrap();
    assert!(
        retry_after > 0 && retry_after <= 60,
        "one slot returns after 300 s / 5: {retry_after}"
    );
    assert!(header(&limited, "ratelimit").starts_with(r#""auth";r=0;"#));
    assert!(retry_after >= reset_of(header(&limited, "ratelimit")));
    let problem: Problem = limited.json().await.unwrap();
    assert_eq!(problem.code, "rate_limited");
    let metrics = app.metrics().await;
    assert!(metrics.contains(r#"tenk_rate_limit_rejected_total{tier="auth"} 1"#));
}

/// The one key of the shared limiter that `app` has written.
async fn only_limiter_key(app: &TestApp) -> String {
    let mut redis = app.state.redis.connection();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}rl:*", app.state.redis.keys().prefix()))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    keys[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_retry_after_has_passed_the_retry_succeeds() {
    let db = TestDb::new().await;
    let app = TestApp::spawn_with(
        db.pool.clone(),
        test_settings(&[("RATE_LIMIT_AUTH", "2/10m")]),
    )
    .await;
    refresh(&app).send().await.unwrap();
    refresh(&app).send().await.unwrap();
    let limited = refresh(&app).send().await.unwrap();
    assert_eq!(limited.status(), 429);
    let retry_after: u64 = header(&limited, "retry-after").parse().unwrap();
    assert!(
        retry_after > 290 && retry_after <= 300,
        "one slot per 600 s / 2: {retry_after}"
    );

    // Retry-After seconds pass: the stored theoretical arrival time moves
    // back by as much (what waiting would do), no sleeping.
    let key = only_limiter_key(&app).await;
    let mut redis = app.state.redis.connection();
    let tat: i64 = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg(tat - i64::try_from(retry_after).unwrap() * 1_000_000)
        .arg("KEEPTTL")
        .query_async(&mut redis)
        .await
        .unwrap();

    assert_eq!(refresh(&app).send().await.unwrap().status(), 401);
    assert_eq!(
        refresh(&app).send().await.unwrap().status(),
        429,
        "one slot came back, not two"
    );
}

/// GCRA on a clock the test drives (`now` passed to the script): the exact
/// admit/deny sequence, burst, retry-after and reset.
mod gcra {
    use std::time::Duration;

    use tenk_server::config::Policy;
    use tenk_server::rate_limit::Decision;
    use tenk_server::rate_limit::gcra::Gcra;

    use crate::helpers::{TestApp, TestDb};

    /// 10 per 10 minutes: one slot every 60 s. Long enough that the key's
    /// real expiry (Redis's clock) never falls inside a test.
    const POLICY: Policy = Policy {
        limit: 10,
        window: Duration::from_secs(600),
    };
    const SLOT: Duration = Duration::from_secs(60);
    /// An arbitrary start (2023-11-14): only differences matter.
    const T0: Duration = Duration::from_secs(1_700_000_000);

    struct Clocked {
        app: TestApp,
        gcra: Gcra,
        key: String,
        _db: TestDb,
    }

    impl Clocked {
        async fn new() -> Self {
            let db = TestDb::new().await;
            let app = TestApp::spawn(&db).await;
            let key = app.state.redis.keys().rate_limit("test", "subject");
            Self {
                app,
                gcra: Gcra::default(),
                key,
                _db: db,
            }
        }

        async fn at(&self, now: Duration) -> Decision {
            self.gcra
                .check_at(&self.app.state.redis, &self.key, POLICY, Some(now))
                .await
                .unwrap()
        }

        /// How many of `n` checks at `now` are admitted.
        async fn admitted(&self, now: Duration, n: u32) -> u32 {
            let mut admitted = 0;
            for _ in 0..n {
                admitted += u32::from(self.at(now).await.allowed);
            }
            admitted
        }
    }

    fn denied(retry_after: Duration, reset: Duration) -> Decision {
        Decision {
            allowed: false,
            remaining: 0,
            reset,
            retry_after,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_burst_then_one_slot_per_interval_exactly_at_retry_after() {
        let clock = Clocked::new().await;

        for n in 1..=10_u32 {
            assert_eq!(
                clock.at(T0).await,
                Decision {
                    allowed: true,
                    remaining: 10 - n,
                    reset: SLOT * n,
                    retry_after: Duration::ZERO,
                },
                "request {n} of the burst"
            );
        }
        assert_eq!(clock.at(T0).await, denied(SLOT, SLOT * 10));
        let almost = T0 + SLOT - Duration::from_micros(1);
        assert_eq!(
            clock.at(almost).await,
            denied(
                Duration::from_micros(1),
                SLOT * 10 - (SLOT - Duration::from_micros(1))
            ),
            "one microsecond early"
        );

        let slot_back = T0 + SLOT;
        assert_eq!(
            clock.at(slot_back).await,
            Decision {
                allowed: true,
                remaining: 0,
                reset: SLOT * 10,
                retry_after: Duration::ZERO,
            },
            "exactly at retry-after"
        );
        assert_eq!(clock.at(slot_back).await, denied(SLOT, SLOT * 10));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_double_burst_at_a_window_edge() {
        let clock = Clocked::new().await;
        assert_eq!(clock.admitted(T0, 10).await, 10);

        // Half a window later a fixed window starting in between would
        // admit 10 again; GCRA has earned back exactly half the burst.
        let half = T0 + POLICY.window / 2;
        assert_eq!(clock.admitted(half, 10).await, 5);
        assert_eq!(clock.at(half).await.retry_after, SLOT);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_full_burst_is_back_at_reset_and_not_before() {
        let clock = Clocked::new().await;
        assert_eq!(clock.admitted(T0, 10).await, 10);
        let reset = clock.at(T0).await.reset;
        assert_eq!(reset, POLICY.window);

        let just_before = T0 + reset - SLOT;
        assert_eq!(clock.admitted(just_before, 10).await, 9, "one slot short");

        // Another subject, same history, a slot later.
        let mut clock = clock;
        clock.key = clock.app.state.redis.keys().rate_limit("test", "other");
        assert_eq!(clock.admitted(T0, 10).await, 10);
        assert_eq!(clock.admitted(T0 + reset, 11).await, 10, "a full burst");
        // A long idle time earns no more than the burst.
        assert_eq!(clock.admitted(T0 + reset * 100, 11).await, 10);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_parallel_requests_across_two_instances_admit_exactly_the_limit() {
    let db = TestDb::new().await;
    let settings = test_settings(&[("RATE_LIMIT_AUTH", "50/5m")]);
    let a = TestApp::spawn_with(db.pool.clone(), settings.clone()).await;
    let b = TestApp::spawn_with(db.pool.clone(), settings).await;

    let requests = (0..200).map(|n| {
        if n % 2 == 0 {
            refresh(&a).send()
        } else {
            refresh(&b).send()
        }
    });
    let responses: Vec<reqwest::Response> = join_all(requests)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();

    let admitted = responses.iter().filter(|r| r.status() == 401).count();
    let limited = responses.iter().filter(|r| r.status() == 429).count();
    assert_eq!((admitted, limited), (50, 150));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_forwarded_for_from_an_untrusted_peer_changes_nothing() {
    let db = TestDb::new().await;
    let app = TestApp::spawn_with(
        db.pool.clone(),
        test_settings(&[("RATE_LIMIT_AUTH", "3/5m")]),
    )
    .await;

    let statuses: Vec<u16> = join_all((0..6).map(|n| {
        refresh(&app)
            .header("x-forwarded-for", format!("203.0.113.{n}"))
            .send()
    }))
    .await
    .into_iter()
    .map(|r| r.unwrap().status().as_u16())
    .collect();

    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        3,
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_clients_are_keyed_by_their_forwarded_address() {
    let db = TestDb::new().await;
    let settings = test_settings(&[
        ("RATE_LIMIT_AUTH", "2/5m"),
        ("TRUSTED_PROXIES", "127.0.0.1/32"),
    ]);
    let app = TestApp::spawn_with(db.pool.clone(), settings).await;
    let from = |ip: &str| {
        refresh(&app)
            .header("x-forwarded-for", format!("{ip}, 127.0.0.1"))
            .send()
    };

    for _ in 0..2 {
        assert_eq!(from("198.51.100.1").await.unwrap().status(), 401);
    }
    assert_eq!(from("198.51.100.1").await.unwrap().status(), 429);
    assert_eq!(
        from("198.51.100.2").await.unwrap().status(),
        401,
        "another client has its own quota"
    );

    // No header, or a malformed one: the proxy's own address is the key.
    assert_eq!(refresh(&app).send().await.unwrap().status(), 401);
    assert_eq!(
        refresh(&app)
            .header("x-forwarded-for", "garbage")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        refresh(&app).send().await.unwrap().status(),
        429,
        "never 'no limit'"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_tier_counts_per_user_not_per_ip() {
    let db = TestDb::new().await;
    let app = TestApp::spawn_with(
        db.pool.clone(),
        test_settings(&[("RATE_LIMIT_API", "3/1m")]),
    )
    .await;
    let alice = app.new_user("api-a").await;
    let bob = app.new_user("api-b").await;
    let me = |token: &str| app.get("/api/users/me").bearer_auth(token).send();

    for _ in 0..3 {
        assert_eq!(me(alice.token()).await.unwrap().status(), 200);
    }
    let limited = me(alice.token()).await.unwrap();
    assert_eq!(limited.status(), 429);
    assert!(header(&limited, "ratelimit-policy").starts_with(r#""api";q=3"#));
    assert_eq!(
        me(bob.token()).await.unwrap().status(),
        200,
        "same IP, other user"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_per_account_slow_down_across_ips_and_a_success_clears_them() {
    let db = TestDb::new().await;
    let settings = test_settings(&[
        ("TRUSTED_PROXIES", "127.0.0.1/32"),
        ("RATE_LIMIT_LOGIN_FAILURES", "6/1h"),
    ]);
    let app = TestApp::spawn_with(db.pool.clone(), settings).await;
    let email = unique_email("victim");
    assert_eq!(app.register(&email, PASSWORD).await.status(), 201);
    let attempt = |n: u32, password: &'static str| {
        app.post("/api/auth/login")
            .header("x-forwarded-for", format!("198.51.100.{n}"))
            .json(&serde_json::json!({"email": email, "password": password}))
            .send()
    };

    for n in 0..5 {
        assert_eq!(
            attempt(n, "wrong password 1").await.unwrap().status(),
            401,
            "free failure {n}"
        );
    }
    let throttled = attempt(50, "wrong password 1").await.unwrap();
    assert_eq!(throttled.status(), 429, "a new IP does not help");
    assert_eq!(header(&throttled, "retry-after"), "1");

    // The one-second delay passes: every recorded failure moves one second
    // into the past (what waiting would do), no sleeping.
    let mut redis = app.state.redis.connection();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!(
            "{}login_failures:*",
            app.state.redis.keys().prefix()
        ))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let failures: Vec<(String, i64)> = redis::cmd("ZRANGE")
        .arg(&keys[0])
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(failures.len(), 5);
    for (member, at) in failures {
        let _: () = redis::cmd("ZADD")
            .arg(&keys[0])
            .arg(at - 1000)
            .arg(member)
            .query_async(&mut redis)
            .await
            .unwrap();
    }
    assert_eq!(
        attempt(51, "wrong password 1").await.unwrap().status(),
        401,
        "after the delay, one more try"
    );
    let capped = attempt(52, PASSWORD).await.unwrap();
    assert_eq!(
        capped.status(),
        429,
        "six failures in the hour: even the right password waits"
    );
    let retry_after: u64 = header(&capped, "retry-after").parse().unwrap();
    assert!(
        retry_after > 3500,
        "until the oldest failure leaves the hour: {retry_after}"
    );

    // Unknown accounts are throttled the same way: the limit reveals nothing.
    let ghost = unique_email("ghost");
    for n in 0..5 {
        let response = app.login(&ghost, &format!("guess {n} xxxxxx")).await;
        assert_eq!(response.status(), 401);
    }
    assert_eq!(app.login(&ghost, "guess 6 xxxxxx").await.status(), 429);

    // A success clears the record.
    let other = unique_email("recovers");
    assert_eq!(app.register(&other, PASSWORD).await.status(), 201);
    for _ in 0..4 {
        app.login(&other, "wrong password 1").await;
    }
    assert_eq!(app.login(&other, PASSWORD).await.status(), 200);
    for _ in 0..5 {
        assert_eq!(app.login(&other, "wrong password 1").await.status(), 401);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_auth_fails_closed_public_limits_locally_and_redis_back_resumes() {
    let db = TestDb::new().await;
    let mut redis = TestRedis::start().await;
    let settings = test_settings(&[
        ("REDIS_URL", &redis.url()),
        ("RATE_LIMIT_PUBLIC", "5/1m"),
        ("REDIS_CONNECT_TIMEOUT", "200ms"),
        ("REDIS_COMMAND_TIMEOUT", "200ms"),
    ]);
    let app = TestApp::spawn_with(db.pool.clone(), settings).await;
    assert_eq!(app.get("/api/health").send().await.unwrap().status(), 200);

    redis.stop();
    app.wait_until_redis_known_down().await;

    let started = Instant::now();
    let auth = refresh(&app).send().await.unwrap();
    assert_eq!(auth.status(), 503);
    assert!(auth.headers().contains_key("retry-after"));
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(
            app.get("/api/health")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        3,
        "{statuses:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // Read from the registry: `/metrics` is public and its local budget is spent.
    let fallback = |tier| {
        app.state
            .metrics
            .rate_limit_fallback
            .with_label_values(&[tier])
            .get()
    };
    assert!(fallback("public") >= 8, "{}", fallback("public"));
    assert!(fallback("auth") >= 1, "{}", fallback("auth"));

    // Redis returns on the same port: the shared limiter takes over again.
    let restarted = std::process::Command::new("redis-server")
        .args([
            "--port",
            &redis.port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _restarted = KillOnDrop(restarted);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = refresh(&app).send().await.unwrap();
        if response.status() == 401 {
            assert!(
                response.headers().contains_key("ratelimit"),
                "a shared decision again"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "limits never resumed: {}",
            response.status()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
