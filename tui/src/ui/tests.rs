//! Every screen rendered into a test buffer and compared with a reviewed
//! snapshot, at 80x24 (the smallest supported size) and at 160x48; and the
//! threshold colouring at threshold ± epsilon, with the rules' `>`.

use std::time::Duration;

use contract::api::{AuditEntry, AuditPage};
use contract::health::DetailedHealth;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use ratatui::widgets::Widget;

use super::View;
use crate::app::{App, AppConfig};
use crate::command::SessionQuery;
use crate::event::{AdminEvent, Event, Scrape, ScrapeFailure};
use crate::prom::{fixtures, parse};
use crate::thresholds::{EMBEDDED, parse_thresholds};

const SMALL: (u16, u16) = (80, 24);
const LARGE: (u16, u16) = (160, 48);

fn render(app: &App, (width, height): (u16, u16)) -> Buffer {
    let mut buf = Buffer::empty(Rect::new(0, 0, width, height));
    View(app).render(buf.area, &mut buf);
    buf
}

fn text(buf: &Buffer) -> String {
    let area = buf.area;
    (0..area.height)
        .map(|y| {
            let line: String = (0..area.width).map(|x| buf[(x, y)].symbol()).collect();
            line.trim_end().to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn health(name: &str) -> DetailedHealth {
    serde_json::from_str(&fixtures::text(name)).unwrap()
}

fn scraped(target: usize, file: &str, at: u64, health_file: Option<&str>) -> Event {
    Event::Scraped {
        target,
        result: Ok(Box::new(Scrape {
            snapshot: fixtures::snapshot(file, at),
            health: health_file
                .map(health)
                .ok_or_else(|| "401 unauthorized: set TENK_OPS_TOKEN".to_string()),
        })),
    }
}

fn key(c: char) -> Event {
    Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

/// Three instances, as captured from real servers: one busy, one whose
/// Redis is down, and one that stopped answering.
fn demo() -> App {
    let config = AppConfig {
        targets: vec![
            "http://10.0.0.1:8080".into(),
            "http://10.0.0.2:8080".into(),
            "http://10.0.0.3:8080".into(),
        ],
        interval: Duration::from_secs(2),
        read_only: false,
        admin_token_from_env: true,
        fleet: None,
    };
    let mut app = App::new(config, parse_thresholds(EMBEDDED).unwrap(), fixtures::at(0));
    app.update(scraped(0, "metrics_busy_1.txt", 0, Some("health_ok.json")));
    app.update(scraped(
        1,
        "metrics_redis_down_1.txt",
        0,
        Some("health_redis_down.json"),
    ));
    app.update(scraped(2, "metrics_idle.txt", 0, None));
    app.update(Event::Tick(fixtures::at(1)));
    app.update(scraped(0, "metrics_busy_2.txt", 4, Some("health_ok.json")));
    app.update(scraped(
        1,
        "metrics_redis_down_2.txt",
        4,
        Some("health_redis_down.json"),
    ));
    app.update(Event::Scraped {
        target: 2,
        result: Err(ScrapeFailure {
            at: fixtures::at(4),
            error: "connection refused".into(),
            retry_in: Duration::from_secs(8),
        }),
    });
    app.update(Event::Tick(fixtures::at(5)));
    app
}

fn with_sessions(mut app: App) -> App {
    app.update(key('/'));
    for c in "alice@example.com".chars() {
        app.update(key(c));
    }
    app.update(Event::Key(KeyEvent::new(
        KeyCode::Enter,
        KeyModifiers::NONE,
    )));
    let mut current = crate::app::tests::session(
        "q3Zl2ZxV1u9dJc2QpG3hTqkQJ0mUuV8x",
        "7c1d2f3a-0000-4000-8000-000000000001",
    );
    current.ip = "127.0.0.1".into();
    current.user_agent =
        "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0".into();
    let other = crate::app::tests::session(
        "Xw0fT8c1mHbd0aL3kY9eRz2nQ7sUvB4p",
        "7c1d2f3a-0000-4000-8000-000000000001",
    );
    app.update(Event::Admin(AdminEvent::Sessions {
        query: SessionQuery::Email("alice@example.com".into()),
        result: Ok(vec![current, other]),
    }));
    app
}

fn with_audit(mut app: App) -> App {
    app.update(key('4'));
    let entry = |id: i64, action: &str, target: &str, at: &str| AuditEntry {
        id,
        actor_id: "0b9e4c1a-1111-4000-8000-00000000aaaa".into(),
        actor_email: Some("admin@example.com".into()),
        action: action.into(),
        target: target.into(),
        target_email: target
            .starts_with("user:")
            .then(|| "alice@example.com".to_string()),
        ip: "127.0.0.1".into(),
        request_id: format!("req-{id}"),
        created_at: at.into(),
    };
    let items = vec![
        entry(
            3,
            "session.revoke",
            "session:q3Zl2ZxV1u9dJc2QpG3hTqkQJ0mUuV8x",
            "2026-11-29T10:06:00Z",
        ),
        entry(
            2,
            "sessions.search",
            "user:7c1d2f3a-0000-4000-8000-000000000001",
            "2026-11-29T10:05:30Z",
        ),
        entry(
            1,
            "user.sessions.revoke",
            "user:7c1d2f3a-0000-4000-8000-000000000001",
            "2026-11-29T10:01:00Z",
        ),
    ];
    app.update(Event::Admin(AdminEvent::Audit {
        result: Ok(AuditPage {
            items,
            next_cursor: None,
        }),
    }));
    app
}

#[test]
fn overview_screens() {
    let app = demo();
    insta::assert_snapshot!("overview_80x24", text(&render(&app, SMALL)));
    insta::assert_snapshot!("overview_160x48", text(&render(&app, LARGE)));
    let mut down = demo();
    down.update(key('j'));
    down.update(key('j'));
    insta::assert_snapshot!("overview_down_selected_80x24", text(&render(&down, SMALL)));
}

/// Three instances that never answered (a wrong token, typo'd hosts).
fn all_down() -> App {
    let config = AppConfig {
        targets: vec![
            "http://10.0.0.1:8080".into(),
            "http://10.0.0.2:8080".into(),
            "http://typo.example:8080".into(),
        ],
        interval: Duration::from_secs(2),
        read_only: false,
        admin_token_from_env: false,
        fleet: None,
    };
    let mut app = App::new(config, parse_thresholds(EMBEDDED).unwrap(), fixtures::at(0));
    for target in 0..3 {
        app.update(Event::Scraped {
            target,
            result: Err(ScrapeFailure {
                at: fixtures::at(0),
                error: "401 unauthorized: /metrics needs the ops token (set TENK_OPS_TOKEN)".into(),
                retry_in: Duration::from_secs(2),
            }),
        });
    }
    app.update(Event::Tick(fixtures::at(1)));
    app
}

#[test]
fn all_targets_down_is_never_an_all_clear() {
    let app = all_down();
    let screen = text(&render(&app, SMALL));
    assert!(screen.contains("3/3 DOWN"), "{screen}");
    assert!(!screen.contains("alerts ok"), "{screen}");
    insta::assert_snapshot!("all_down_80x24", screen);
    let buf = render(&app, SMALL);
    assert_eq!(style_of(&buf, "3/3 DOWN"), (Color::Red, true));
    let mut alerts = all_down();
    alerts.update(key('2'));
    insta::assert_snapshot!("all_down_alerts_80x24", text(&render(&alerts, SMALL)));
}

/// The demo, then the third instance's neighbour (10.0.0.2) stops
/// answering for longer than three intervals while 10.0.0.1 goes on.
fn one_stale() -> App {
    let mut app = demo();
    for at in [6, 8, 10, 12] {
        app.update(Event::Scraped {
            target: 1,
            result: Err(ScrapeFailure {
                at: fixtures::at(at),
                error: "connection refused".into(),
                retry_in: Duration::from_secs(2),
            }),
        });
    }
    app.update(scraped(0, "metrics_busy_1.txt", 12, Some("health_ok.json")));
    app.update(Event::Tick(fixtures::at(13)));
    app.update(key('j'));
    app
}

#[test]
fn a_dead_instance_is_down_its_old_numbers_stale_and_its_outage_a_gap() {
    let app = one_stale();
    let screen = text(&render(&app, LARGE));
    assert!(screen.contains("STALE numbers below"), "{screen}");
    assert!(screen.contains("STALE health"), "{screen}");
    assert!(screen.contains("total 1/3 up"), "{screen}");
    insta::assert_snapshot!("stale_selected_160x48", screen);
}

#[test]
fn the_selected_instance_per_route_worst_first() {
    let mut app = demo();
    app.update(key('b'));
    let screen = text(&render(&app, LARGE));
    assert!(screen.contains("per route, worst first"), "{screen}");
    assert!(screen.contains("/api/health"), "{screen}");
    insta::assert_snapshot!("overview_routes_160x48", screen);
}

#[test]
fn alerts_screens() {
    let mut app = demo();
    app.update(key('2'));
    insta::assert_snapshot!("alerts_80x24", text(&render(&app, SMALL)));
    insta::assert_snapshot!("alerts_160x48", text(&render(&app, LARGE)));
}

#[test]
fn sessions_screens() {
    let mut app = with_sessions(demo());
    insta::assert_snapshot!("sessions_80x24", text(&render(&app, SMALL)));
    insta::assert_snapshot!("sessions_160x48", text(&render(&app, LARGE)));
    app.update(key('r'));
    insta::assert_snapshot!("sessions_confirm_80x24", text(&render(&app, SMALL)));
}

#[test]
fn the_cockpits_own_session_is_marked_and_revoking_it_asks_twice() {
    let mut app = with_sessions(demo());
    app.own.session_id = Some("q3Zl2ZxV1u9dJc2QpG3hTqkQJ0mUuV8x".into());
    let list = text(&render(&app, SMALL));
    assert!(list.contains("q3Zl2ZxV…uV8x*"), "{list}");
    assert!(
        list.contains("* the session this cockpit is logged in with"),
        "{list}"
    );
    app.update(key('r'));
    app.update(key('y'));
    let second = text(&render(&app, SMALL));
    assert!(second.contains("THIS COCKPIT"), "{second}");
    insta::assert_snapshot!("sessions_own_second_confirm_80x24", second);
}

/// Forty sessions of alice, from four browsers.
fn many_sessions() -> App {
    let mut app = demo();
    app.update(key('/'));
    for c in "alice@example.com".chars() {
        app.update(key(c));
    }
    app.update(Event::Key(KeyEvent::new(
        KeyCode::Enter,
        KeyModifiers::NONE,
    )));
    let agents = [
        "curl/8.5.0",
        "Mozilla/5.0 (iPhone) Mobile Safari",
        "Firefox/133.0",
        "okhttp/4",
    ];
    let sessions = (0..40)
        .map(|i| {
            let mut s = crate::app::tests::session(
                &format!("sess{i:02}-xxxxxxxxxxxxxxxxxxxxxxxxxx{i:02}"),
                "7c1d2f3a-0000-4000-8000-000000000001",
            );
            s.user_agent = agents[i % agents.len()].into();
            s.ip = format!("203.0.113.{i}");
            s
        })
        .collect();
    app.update(Event::Admin(AdminEvent::Sessions {
        query: SessionQuery::Email("alice@example.com".into()),
        result: Ok(sessions),
    }));
    app
}

#[test]
fn a_long_list_shows_the_position_and_moves_by_page_and_to_the_ends() {
    let mut app = many_sessions();
    for _ in 0..11 {
        app.update(key('j'));
    }
    let screen = text(&render(&app, SMALL));
    assert!(screen.contains("12/40"), "{screen}");
    app.update(Event::Key(KeyEvent::new(
        KeyCode::PageDown,
        KeyModifiers::NONE,
    )));
    assert!(text(&render(&app, SMALL)).contains("22/40"));
    app.update(key('G'));
    assert!(text(&render(&app, SMALL)).contains("40/40"));
    app.update(Event::Key(KeyEvent::new(KeyCode::Home, KeyModifiers::NONE)));
    insta::assert_snapshot!("sessions_position_80x24", text(&render(&app, SMALL)));
}

#[test]
fn a_filter_narrows_the_list_and_a_sort_key_orders_it() {
    let mut app = many_sessions();
    app.update(key('f'));
    for c in "iphone".chars() {
        app.update(key(c));
    }
    let typing = text(&render(&app, SMALL));
    assert!(typing.contains("/iphone▏ 10 of 40"), "{typing}");
    app.update(Event::Key(KeyEvent::new(
        KeyCode::Enter,
        KeyModifiers::NONE,
    )));
    app.update(key('s'));
    app.update(key('s'));
    app.update(key('s'));
    let screen = text(&render(&app, SMALL));
    assert!(screen.contains("sorted: ip"), "{screen}");
    assert!(!screen.contains("curl/8.5.0"), "{screen}");
    insta::assert_snapshot!("sessions_filter_sort_80x24", screen);
}

#[test]
fn audit_screens() {
    let app = with_audit(demo());
    insta::assert_snapshot!("audit_80x24", text(&render(&app, SMALL)));
    insta::assert_snapshot!("audit_160x48", text(&render(&app, LARGE)));
}

#[test]
fn help_and_login_overlays() {
    let mut app = demo();
    app.update(key('?'));
    insta::assert_snapshot!("help_80x24", text(&render(&app, SMALL)));
    let mut app = demo();
    app.update(key('L'));
    for c in "admin@example.com".chars() {
        app.update(key(c));
    }
    app.update(Event::Key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE)));
    for c in "secret-pw".chars() {
        app.update(key(c));
    }
    let screen = text(&render(&app, SMALL));
    assert!(!screen.contains("secret-pw"), "the password never shows");
    insta::assert_snapshot!("login_80x24", screen);
}

#[test]
fn tiny_terminals_do_not_panic() {
    let app = with_sessions(demo());
    for size in [(1, 1), (20, 5), (40, 10), (79, 23)] {
        let _ = render(&app, size);
    }
}

/// A target whose interval saw exactly these requests: `total` responses,
/// `errors` of them 5xx, and cumulative latency buckets `buckets`.
fn synthetic(total: f64, errors: f64, buckets: &[(&str, f64)]) -> App {
    let exposition = |scale: f64| {
        let mut text = String::new();
        let h = "http_server_request_duration_seconds";
        for (le, count) in buckets {
            text.push_str(&format!(
                "{h}_bucket{{method=\"GET\",route=\"/x\",status=\"200\",le=\"{le}\"}} {}\n",
                count * scale
            ));
        }
        text.push_str(&format!(
            "{h}_count{{method=\"GET\",route=\"/x\",status=\"200\"}} {}\n",
            (total - errors) * scale
        ));
        text.push_str(&format!(
            "{h}_count{{method=\"GET\",route=\"/x\",status=\"500\"}} {}\n",
            errors * scale
        ));
        text
    };
    let config = AppConfig {
        targets: vec!["http://10.0.0.1:8080".into()],
        interval: Duration::from_secs(2),
        read_only: false,
        admin_token_from_env: false,
        fleet: None,
    };
    let mut app = App::new(config, parse_thresholds(EMBEDDED).unwrap(), fixtures::at(0));
    for (at, scale) in [(0, 0.0), (10, 1.0)] {
        app.update(Event::Scraped {
            target: 0,
            result: Ok(Box::new(Scrape {
                snapshot: parse(&exposition(scale), fixtures::at(at)).unwrap(),
                health: Err("n/a".into()),
            })),
        });
    }
    app.update(Event::Tick(fixtures::at(11)));
    app
}

/// The style of the first cell of `needle` on screen.
fn style_of(buf: &Buffer, needle: &str) -> (Color, bool) {
    let lines = text(buf);
    for (y, line) in lines.lines().enumerate() {
        if let Some(byte) = line.find(needle) {
            let x = line[..byte].chars().count();
            let cell = &buf[(u16::try_from(x).unwrap(), u16::try_from(y).unwrap())];
            return (cell.fg, cell.modifier.contains(Modifier::BOLD));
        }
    }
    panic!("{needle:?} not on screen:\n{lines}");
}

const RED: (Color, bool) = (Color::Red, true);
const PLAIN: (Color, bool) = (Color::Reset, false);

#[test]
fn p95_turns_red_above_200ms_and_not_at_199ms_or_200ms() {
    // p95 = 0.2 + 0.3 × 1/300 = 201 ms (interpolated in the (0.2, 0.5] bucket).
    let above = synthetic(
        5980.0,
        0.0,
        &[
            ("0.1", 0.0),
            ("0.2", 5680.0),
            ("0.5", 5980.0),
            ("+Inf", 5980.0),
        ],
    );
    // p95 = 0.1 + 0.1 × 99/100 = 199 ms.
    let below = synthetic(
        10000.0,
        0.0,
        &[
            ("0.1", 9401.0),
            ("0.2", 9501.0),
            ("0.5", 10000.0),
            ("+Inf", 10000.0),
        ],
    );
    // p95 exactly at the 0.2 bucket edge: not above it.
    let at = synthetic(
        100.0,
        0.0,
        &[("0.1", 0.0), ("0.2", 95.0), ("0.5", 100.0), ("+Inf", 100.0)],
    );
    assert_eq!(style_of(&render(&above, LARGE), "201 ms"), RED);
    assert_eq!(style_of(&render(&below, LARGE), "199 ms"), PLAIN);
    assert_eq!(style_of(&render(&at, LARGE), "200 ms"), PLAIN);
    for (app, state) in [(above, "PENDING"), (below, "OK"), (at, "OK")] {
        let mut app = app;
        app.update(key('2'));
        let screen = text(&render(&app, LARGE));
        let row = screen.lines().find(|l| l.contains("HighLatency")).unwrap();
        assert!(row.contains(state), "{row}");
    }
}

#[test]
fn the_error_ratio_turns_red_above_1_percent_and_not_at_0_99() {
    let buckets = [("0.1", 10000.0), ("+Inf", 10000.0)];
    let above = synthetic(10000.0, 101.0, &buckets);
    let below = synthetic(10000.0, 99.0, &buckets);
    let exactly = synthetic(10000.0, 100.0, &buckets);
    assert_eq!(style_of(&render(&above, LARGE), "1.0%"), RED);
    assert_eq!(style_of(&render(&below, LARGE), "1.0%"), PLAIN);
    assert_eq!(style_of(&render(&exactly, LARGE), "1.0%"), PLAIN);
    for (app, value, state) in [
        (above, "1.01 %", "PENDING"),
        (below, "0.99 %", "OK"),
        (exactly, "1.00 %", "OK"),
    ] {
        let mut app = app;
        app.update(key('2'));
        let buf = render(&app, LARGE);
        let screen = text(&buf);
        let row = screen
            .lines()
            .find(|l| l.contains("HighErrorRate"))
            .unwrap();
        assert!(row.contains(value) && row.contains(state), "{row}");
        let expected = if state == "PENDING" { RED } else { PLAIN };
        assert_eq!(style_of(&buf, value), expected, "{value}");
    }
}

#[test]
fn a_long_session_list_scrolls_to_keep_the_selection_in_view() {
    let mut app = demo();
    app.update(key('/'));
    for c in "alice@example.com".chars() {
        app.update(key(c));
    }
    app.update(Event::Key(KeyEvent::new(
        KeyCode::Enter,
        KeyModifiers::NONE,
    )));
    let sessions = (0..40)
        .map(|i| crate::app::tests::session(&format!("sess{i:04}-abcdefghij-{i:04}"), "u"))
        .collect();
    app.update(Event::Admin(AdminEvent::Sessions {
        query: SessionQuery::Email("alice@example.com".into()),
        result: Ok(sessions),
    }));
    for _ in 0..35 {
        app.update(key('j'));
    }
    // 80x24 shows 16 sessions: the list has scrolled past the first ones.
    let buf = render(&app, SMALL);
    let screen = text(&buf);
    assert!(screen.contains("sess0035…0035"), "{screen}");
    assert!(!screen.contains("sess0000…0000"), "{screen}");
    let (y, _) = screen
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains("sess0035"))
        .unwrap();
    let cell = &buf[(2, u16::try_from(y).unwrap())];
    assert!(
        cell.modifier.contains(Modifier::REVERSED),
        "the selected row is highlighted"
    );
}

/// Fleet mode: three instances discovered from Prometheus, one down; one
/// alert firing, one pending; Alertmanager holding the firing one silenced.
fn fleet_app() -> App {
    use std::collections::BTreeMap;

    use crate::fleet::alertmanager::{AmAlertStatus, Matcher, Silence, SilenceStatus};
    use crate::fleet::{AmAlert, FleetInstance, FleetSnapshot, PromAlert};

    let labels = |name: &str, instance: &str| -> BTreeMap<String, String> {
        [("alertname", name), ("instance", instance), ("job", "tenk")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let config = AppConfig {
        targets: vec!["http://10.0.0.1:8080".into()],
        interval: Duration::from_secs(2),
        read_only: false,
        admin_token_from_env: true,
        fleet: Some((
            "http://prometheus:9090".into(),
            Some("http://alertmanager:9093".into()),
        )),
    };
    let mut app = App::new(config, parse_thresholds(EMBEDDED).unwrap(), fixtures::at(0));
    let instance = |name: &str, up: bool, rps: f64| FleetInstance {
        name: name.into(),
        up,
        requests_per_second: up.then_some(rps),
        error_ratio: up.then_some(0.002),
        p95: up.then_some(0.0123),
        cpu_ratio: up.then_some(0.31),
        memory_ratio: up.then_some(0.12),
    };
    let snapshot = FleetSnapshot {
        at: fixtures::at(3),
        instances: vec![
            instance("10.1.0.11:8080", true, 120.5),
            instance("10.1.0.12:8080", true, 98.0),
            instance("10.1.0.13:8080", false, 0.0),
        ],
        alerts: vec![
            PromAlert {
                labels: labels("TenkHighLatency", "10.1.0.11:8080"),
                annotations: [("action".to_string(), "Scale up".to_string())].into(),
                state: "firing".into(),
                active_at: Some("2026-11-29T10:00:00Z".into()),
                value: Some("0.25".into()),
            },
            PromAlert {
                labels: labels("TenkInstanceDown", "10.1.0.13:8080"),
                annotations: BTreeMap::new(),
                state: "pending".into(),
                active_at: Some("2026-11-29T10:04:00Z".into()),
                value: Some("0".into()),
            },
        ],
        alertmanager: Some(Ok((
            vec![AmAlert {
                labels: labels("TenkHighLatency", "10.1.0.11:8080"),
                status: AmAlertStatus {
                    state: "suppressed".into(),
                    silenced_by: vec!["abc".into()],
                },
                starts_at: None,
            }],
            vec![Silence {
                id: "abc".into(),
                matchers: vec![Matcher {
                    name: "alertname".into(),
                    value: "TenkHighLatency".into(),
                    is_regex: false,
                    is_equal: true,
                }],
                starts_at: "2026-11-29T10:01:00Z".into(),
                ends_at: "2026-11-29T12:01:00Z".into(),
                created_by: "tenk-tui (ops)".into(),
                comment: "deploy in progress".into(),
                status: SilenceStatus {
                    state: "active".into(),
                },
            }],
        ))),
    };
    app.update(Event::Fleet(Ok(Box::new(snapshot))));
    app.update(Event::Tick(fixtures::at(4)));
    app
}

#[test]
fn fleet_mode_shows_the_discovered_instances_and_prometheus_alerts() {
    let mut app = fleet_app();
    let overview = text(&render(&app, SMALL));
    assert!(overview.contains("1/3 DOWN"), "{overview}");
    assert!(
        overview.contains("1 FIRING") && overview.contains("1 pending"),
        "{overview}"
    );
    assert!(
        overview.contains("2/3 up · discovered from Prometheus"),
        "{overview}"
    );
    insta::assert_snapshot!("fleet_overview_80x24", overview);
    app.update(key('2'));
    let alerts = text(&render(&app, LARGE));
    assert!(alerts.contains("silenced"), "{alerts}");
    assert!(alerts.contains("deploy in progress"), "{alerts}");
    insta::assert_snapshot!("fleet_alerts_160x48", alerts);
    app.update(key('S'));
    insta::assert_snapshot!("fleet_silence_form_80x24", text(&render(&app, SMALL)));
}

#[test]
fn in_fleet_mode_b_shows_the_selected_instance_per_route_worst_first() {
    use crate::command::Command;
    use crate::fleet::FleetRoutes;
    use crate::numbers::RouteStats;

    let mut app = fleet_app();
    assert_eq!(
        app.update(key('b')),
        Some(Command::FleetRoutes {
            instance: "10.1.0.11:8080".into()
        })
    );
    let waiting = text(&render(&app, SMALL));
    assert!(
        waiting.contains("asking Prometheus for the routes of 10.1.0.11:8080"),
        "{waiting}"
    );
    let route = |method: &str, route: &str, rps: f64, errors: f64, p95: f64| RouteStats {
        method: method.into(),
        route: route.into(),
        requests_per_second: rps,
        error_ratio: Some(errors),
        p95: Some(p95),
    };
    // As `fleet::routes::route_stats` sorts them: worst first.
    let mut routes = vec![
        route("GET", "/api/health", 110.0, 0.0, 0.0008),
        route("POST", "/api/auth/login", 6.5, 0.02, 0.185),
        route("GET", "/api/posts", 4.0, 0.0, 0.0123),
    ];
    crate::numbers::sort_worst_first(&mut routes);
    app.update(Event::FleetRoutes(Box::new(FleetRoutes {
        instance: "10.1.0.11:8080".into(),
        at: fixtures::at(3),
        result: Ok(routes),
    })));
    let screen = text(&render(&app, SMALL));
    assert!(screen.contains("per route, worst first"), "{screen}");
    let login = screen.find("/api/auth/login").unwrap();
    let health = screen.find("/api/health").unwrap();
    assert!(login < health, "worst first: {screen}");
    insta::assert_snapshot!("fleet_overview_routes_80x24", screen);

    // The DOWN instance: its answer says it had no requests.
    app.update(key('j'));
    app.update(key('j'));
    app.update(Event::FleetRoutes(Box::new(FleetRoutes {
        instance: "10.1.0.13:8080".into(),
        at: fixtures::at(3),
        result: Ok(Vec::new()),
    })));
    let down = text(&render(&app, SMALL));
    assert!(down.contains("no requests over the rate window"), "{down}");
}

#[test]
fn in_fleet_mode_an_unreachable_prometheus_is_never_an_all_clear() {
    let mut app = fleet_app();
    app.update(Event::Fleet(Err(
        "cannot reach Prometheus: Connection refused (os error 111)".into(),
    )));
    let screen = text(&render(&app, SMALL));
    assert!(screen.contains("PROMETHEUS DOWN"), "{screen}");
    assert!(!screen.contains("alerts ok"), "{screen}");
    assert!(screen.contains("Connection refused"), "{screen}");
    assert!(
        screen.contains("10.1.0.11:8080"),
        "the last look stays: {screen}"
    );
}
