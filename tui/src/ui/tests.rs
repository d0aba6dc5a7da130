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
        action: action.into(),
        target: target.into(),
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
