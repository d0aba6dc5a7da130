//! The state machine, key by key and answer by answer, without IO.

use std::time::Duration;

use contract::api::{AuditEntry, AuditPage, SessionSummary};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::admin_error::AdminError;
use crate::command::{AdminAction, Credential, SessionQuery};
use crate::event::{AdminEvent, Scrape, ScrapeFailure};
use crate::prom::fixtures;
use crate::secret::Secret;
use crate::thresholds::{AlertState, EMBEDDED, parse_thresholds};

const T0: usize = 0;
const USER: &str = "7c1d2f3a-0000-4000-8000-000000000001";

fn config(targets: usize, read_only: bool, logged_in: bool) -> AppConfig {
    AppConfig {
        targets: (0..targets)
            .map(|i| format!("http://127.0.0.1:{}", 8080 + i))
            .collect(),
        interval: Duration::from_secs(2),
        read_only,
        admin_token_from_env: logged_in,
        fleet: None,
    }
}

fn app_with(config: AppConfig) -> App {
    App::new(config, parse_thresholds(EMBEDDED).unwrap(), fixtures::at(0))
}

fn logged_in_app() -> App {
    app_with(config(1, false, true))
}

fn key(c: char) -> Event {
    Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn code(code: KeyCode) -> Event {
    Event::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn logged_in_as(email: &str) -> AdminEvent {
    AdminEvent::LoggedIn {
        email: email.into(),
        session_id: Some("own-session".into()),
        user_id: Some("0b9e4c1a-1111-4000-8000-00000000aaaa".into()),
    }
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        assert_eq!(app.update(key(c)), None, "typing {c:?}");
    }
}

pub(crate) fn session(id: &str, user_id: &str) -> SessionSummary {
    SessionSummary {
        id: id.into(),
        user_id: user_id.into(),
        created_at: "2026-11-29T10:00:00Z".into(),
        last_seen_at: "2026-11-29T10:05:00Z".into(),
        expires_at: "2026-11-29T12:00:00Z".into(),
        ip: "203.0.113.7".into(),
        user_agent: "curl/8.5.0".into(),
        current: false,
    }
}

/// A logged-in app on the Sessions screen listing `sessions` of alice.
fn with_sessions(mut app: App, sessions: Vec<SessionSummary>) -> App {
    app.update(key('/'));
    type_text(&mut app, "alice@example.com");
    let query = SessionQuery::Email("alice@example.com".into());
    if app.logged_in() {
        assert_eq!(
            app.update(code(KeyCode::Enter)),
            Some(Command::FindSessions {
                target: T0,
                query: query.clone()
            })
        );
    } else {
        app.sessions.editing = false;
        app.sessions.query = Some(query.clone());
    }
    app.update(Event::Admin(AdminEvent::Sessions {
        query,
        result: Ok(sessions),
    }));
    app
}

#[test]
fn pressing_r_on_a_selected_session_asks_for_confirmation() {
    let mut app = with_sessions(
        logged_in_app(),
        vec![session("s1", USER), session("s2", USER)],
    );
    assert_eq!(app.update(key('r')), None);
    let Overlay::Confirm(confirm) = &app.overlay else {
        panic!("a confirmation is shown: {:?}", app.overlay);
    };
    assert!(
        confirm
            .message
            .starts_with("Revoke session s1 of alice@example.com"),
        "{}",
        confirm.message
    );
    assert!(confirm.message.contains("203.0.113.7"));
    assert_eq!(
        app.update(key('y')),
        Some(Command::Revoke {
            target: T0,
            what: AdminAction::Session {
                session_id: "s1".into(),
                user_id: USER.into()
            },
            ends_own_session: false,
        })
    );
    assert_eq!(app.overlay, Overlay::None);
}

#[test]
fn anything_but_y_at_the_confirmation_revokes_nothing() {
    for answer in [key('n'), code(KeyCode::Esc), code(KeyCode::Enter), key('Y')] {
        let mut app = with_sessions(logged_in_app(), vec![session("s1", USER)]);
        app.update(key('r'));
        assert_eq!(app.update(answer), None);
        assert_eq!(app.overlay, Overlay::None);
        assert_eq!(app.status.as_ref().unwrap().text, "nothing revoked");
    }
}

#[test]
fn capital_r_asks_to_revoke_every_session_of_the_user_naming_them() {
    let mut app = with_sessions(
        logged_in_app(),
        vec![session("s1", USER), session("s2", USER)],
    );
    app.update(key('j'));
    assert_eq!(app.sessions.selected, 1);
    app.update(key('R'));
    let Overlay::Confirm(confirm) = &app.overlay else {
        panic!()
    };
    assert!(
        confirm
            .message
            .contains("ALL sessions of alice@example.com (7c1d2f3a…0001)"),
        "{}",
        confirm.message
    );
    assert!(confirm.message.contains("2 listed sessions"));
    assert_eq!(
        app.update(key('y')),
        Some(Command::Revoke {
            target: T0,
            what: AdminAction::AllOfUser {
                user_id: USER.into()
            },
            ends_own_session: false
        })
    );
}

#[test]
fn read_only_disables_both_revocations() {
    let mut app = with_sessions(app_with(config(1, true, true)), vec![session("s1", USER)]);
    for k in ['r', 'R'] {
        assert_eq!(app.update(key(k)), None);
        assert_eq!(app.overlay, Overlay::None);
        assert_eq!(
            app.status.as_ref().unwrap().text,
            "read-only mode: revoking is disabled"
        );
    }
}

#[test]
fn a_revocation_reports_what_ended_and_refreshes_the_list() {
    let mut app = with_sessions(logged_in_app(), vec![session("s1", USER)]);
    let what = AdminAction::Session {
        session_id: "s1".into(),
        user_id: USER.into(),
    };
    let refresh = app.update(Event::Admin(AdminEvent::Revoked {
        what,
        result: Ok(1),
    }));
    assert_eq!(
        refresh,
        Some(Command::FindSessions {
            target: T0,
            query: SessionQuery::Email("alice@example.com".into())
        })
    );
    let status = app.status.clone().unwrap();
    assert_eq!(
        (status.kind, status.text.as_str()),
        (StatusKind::Success, "revoked session s1")
    );
    // The refreshed list no longer has it; the success stays on the status line.
    app.update(Event::Admin(AdminEvent::Sessions {
        query: SessionQuery::Email("alice@example.com".into()),
        result: Ok(vec![]),
    }));
    assert!(app.sessions.sessions.is_empty());
    assert_eq!(app.status.unwrap().text, "revoked session s1");
}

#[test]
fn revoking_all_says_how_many_ended() {
    let mut app = with_sessions(logged_in_app(), vec![session("s1", USER)]);
    let what = AdminAction::AllOfUser {
        user_id: USER.into(),
    };
    app.update(Event::Admin(AdminEvent::Revoked {
        what,
        result: Ok(3),
    }));
    assert_eq!(
        app.status.unwrap().text,
        "revoked 3 sessions (every session of user 7c1d2f3a…0001)"
    );
}

#[test]
fn a_failed_revocation_is_an_error_never_a_success() {
    let what = AdminAction::Session {
        session_id: "s1".into(),
        user_id: USER.into(),
    };
    let cases = [
        (
            AdminError::Forbidden,
            "revoking session s1 failed: 403 forbidden: this account is not an admin",
        ),
        (
            AdminError::Server {
                status: 500,
                detail: "boom (internal_error; request id r1)".into(),
            },
            "revoking session s1 failed: server error 500: boom (internal_error; request id r1)",
        ),
        (
            AdminError::NotFound {
                detail: "gone".into(),
                code: "not_found".into(),
            },
            "session s1 was already gone (404)",
        ),
    ];
    for (error, expected) in cases {
        let mut app = with_sessions(logged_in_app(), vec![session("s1", USER)]);
        app.update(Event::Admin(AdminEvent::Revoked {
            what: what.clone(),
            result: Err(error),
        }));
        let status = app.status.clone().unwrap();
        assert_eq!(
            (status.kind, status.text.as_str()),
            (StatusKind::Error, expected)
        );
        assert!(app.logged_in());
    }
}

#[test]
fn a_401_logs_out_asks_to_log_in_and_retries_the_read_after() {
    let mut app = with_sessions(logged_in_app(), vec![]);
    let query = SessionQuery::Email("alice@example.com".into());
    app.update(key('u'));
    app.update(Event::Admin(AdminEvent::Sessions {
        query: query.clone(),
        result: Err(AdminError::Unauthorized),
    }));
    assert!(!app.logged_in());
    let Overlay::Login(form) = &app.overlay else {
        panic!("{:?}", app.overlay)
    };
    assert!(form.error.as_deref().unwrap().contains("log in again"));
    assert!(app.status.as_ref().unwrap().text.contains("401"));
    let retried = app.update(Event::Admin(logged_in_as("admin@example.com")));
    assert_eq!(retried, Some(Command::FindSessions { target: T0, query }));
    assert_eq!(app.overlay, Overlay::None);
}

#[test]
fn searching_when_logged_out_opens_the_login_form_and_searches_after() {
    let mut app = app_with(config(1, false, false));
    app.update(key('/'));
    type_text(&mut app, "alice@example.com");
    assert_eq!(app.update(code(KeyCode::Enter)), None);
    assert!(matches!(app.overlay, Overlay::Login(_)));
    type_text(&mut app, "admin@example.com");
    app.update(code(KeyCode::Enter));
    type_text(&mut app, "pw-123456");
    assert_eq!(
        app.update(code(KeyCode::Enter)),
        Some(Command::Login {
            target: T0,
            email: "admin@example.com".into(),
            credential: Credential::Password(Secret::new("pw-123456")),
        })
    );
    app.update(Event::Admin(AdminEvent::LoginFailed(
        AdminError::BadCredentials,
    )));
    let Overlay::Login(form) = &app.overlay else {
        panic!()
    };
    assert_eq!(
        form.error.as_deref(),
        Some("login refused: wrong email, password or code")
    );
    assert_eq!(
        app.update(Event::Admin(logged_in_as("admin@example.com"))),
        Some(Command::FindSessions {
            target: T0,
            query: SessionQuery::Email("alice@example.com".into())
        })
    );
}

#[test]
fn a_bad_search_says_what_to_type() {
    let mut app = logged_in_app();
    app.update(key('/'));
    type_text(&mut app, "alice");
    assert_eq!(app.update(code(KeyCode::Enter)), None);
    assert_eq!(
        app.sessions.error.as_deref(),
        Some("type an email address or a user id (UUID)")
    );
    assert!(app.sessions.editing);
}

#[test]
fn keys_typed_in_the_search_box_are_text_not_commands() {
    let mut app = logged_in_app();
    app.update(key('/'));
    type_text(&mut app, "q1?r/");
    assert_eq!(app.sessions.input, "q1?r/");
    assert!(!app.quit);
    assert_eq!(app.screen, Screen::Sessions);
    app.update(code(KeyCode::Backspace));
    app.update(code(KeyCode::Esc));
    assert_eq!(app.sessions.input, "q1?r");
    assert!(!app.sessions.editing);
}

#[test]
fn q_and_ctrl_c_quit_from_anywhere() {
    let mut app = logged_in_app();
    assert_eq!(app.update(key('q')), Some(Command::Quit));
    assert!(app.quit);
    let mut app = logged_in_app();
    app.update(key('/'));
    let ctrl_c = Event::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert_eq!(app.update(ctrl_c), Some(Command::Quit));
}

#[test]
fn tab_shift_tab_and_digits_switch_screens_and_the_audit_log_loads_on_entry() {
    let mut app = logged_in_app();
    assert_eq!(app.update(code(KeyCode::Tab)), None);
    assert_eq!(app.screen, Screen::Alerts);
    assert_eq!(app.update(key('3')), None);
    assert_eq!(app.screen, Screen::Sessions);
    assert_eq!(
        app.update(code(KeyCode::Tab)),
        Some(Command::LoadAudit {
            target: T0,
            cursor: None
        })
    );
    assert_eq!(app.screen, Screen::Audit);
    assert_eq!(app.update(code(KeyCode::Tab)), None);
    assert_eq!(app.screen, Screen::Overview);
    app.update(code(KeyCode::BackTab));
    assert_eq!(app.screen, Screen::Audit);
    app.update(key('1'));
    assert_eq!(app.screen, Screen::Overview);
    app.update(key('?'));
    assert_eq!(app.overlay, Overlay::Help);
    app.update(code(KeyCode::Esc));
    assert_eq!(app.overlay, Overlay::None);
}

#[test]
fn the_audit_log_pages_with_n_and_reloads_with_u() {
    let mut app = logged_in_app();
    app.update(key('4'));
    let entry = AuditEntry {
        id: 9,
        actor_id: USER.into(),
        actor_email: None,
        action: "session.revoke".into(),
        target: "session:s1".into(),
        target_email: None,
        ip: "127.0.0.1".into(),
        request_id: "r".into(),
        created_at: "2026-11-29T10:00:00Z".into(),
    };
    let page = AuditPage {
        items: vec![entry],
        next_cursor: Some("9".into()),
    };
    app.update(Event::Admin(AdminEvent::Audit { result: Ok(page) }));
    assert_eq!(app.audit.items.len(), 1);
    assert_eq!(
        app.update(key('n')),
        Some(Command::LoadAudit {
            target: T0,
            cursor: Some("9".into())
        })
    );
    app.update(Event::Admin(AdminEvent::Audit {
        result: Ok(AuditPage {
            items: vec![],
            next_cursor: None,
        }),
    }));
    assert_eq!(app.audit.cursor.as_deref(), Some("9"));
    assert_eq!(app.update(key('n')), None, "no older page");
    assert_eq!(
        app.update(key('u')),
        Some(Command::LoadAudit {
            target: T0,
            cursor: None
        })
    );
}

#[test]
fn arrows_and_j_k_move_within_the_list() {
    let mut app = with_sessions(
        logged_in_app(),
        vec![session("s1", USER), session("s2", USER)],
    );
    for _ in 0..5 {
        app.update(code(KeyCode::Down));
    }
    assert_eq!(app.sessions.selected, 1);
    app.update(key('k'));
    app.update(code(KeyCode::Up));
    assert_eq!(app.sessions.selected, 0);
}

#[test]
fn a_target_that_fails_is_down_and_its_series_leave_the_alerts() {
    let mut app = app_with(config(2, false, false));
    for (target, file) in [(0, "metrics_busy_1.txt"), (1, "metrics_busy_1.txt")] {
        app.update(Event::Scraped {
            target,
            result: Ok(Box::new(Scrape {
                snapshot: fixtures::snapshot(file, 0),
                health: Err("no".into()),
            })),
        });
    }
    app.update(Event::Scraped {
        target: 1,
        result: Err(ScrapeFailure {
            at: fixtures::at(2),
            error: "connection refused".into(),
            retry_in: Duration::from_secs(4),
        }),
    });
    app.update(Event::Tick(fixtures::at(3)));
    assert!(matches!(
        app.targets[1].status(app.now, app.config.interval),
        Status::Down { .. }
    ));
    assert_eq!(app.admin_target(), 0);
    let memory = &app.alerts.rules[4];
    assert_eq!(
        memory.series.keys().collect::<Vec<_>>(),
        vec!["127.0.0.1:8080"]
    );
}

#[test]
fn alerts_go_pending_then_firing_through_ticks() {
    let text = EMBEDDED
        .replace("value = 8000", "value = 2")
        .replace("for = \"15m\"", "for = \"10s\"");
    let mut app = App::new(
        config(1, false, false),
        parse_thresholds(&text).unwrap(),
        fixtures::at(0),
    );
    app.update(Event::Scraped {
        target: 0,
        result: Ok(Box::new(Scrape {
            snapshot: fixtures::snapshot("metrics_busy_2.txt", 0),
            health: Err("no".into()),
        })),
    });
    let sessions = |app: &App| app.alerts.rules[6].series["cluster"].state;
    app.update(Event::Tick(fixtures::at(1)));
    assert_eq!(sessions(&app), AlertState::Pending, "3 sessions > 2");
    // It keeps answering (else its numbers go STALE and leave the alerts).
    app.update(answered(0, "metrics_busy_2.txt", 10));
    app.update(Event::Tick(fixtures::at(10)));
    assert_eq!(sessions(&app), AlertState::Pending, "held 9 s of 10");
    app.update(answered(0, "metrics_busy_2.txt", 11));
    app.update(Event::Tick(fixtures::at(11)));
    assert_eq!(sessions(&app), AlertState::Firing);
    assert_eq!(app.alerts.count(AlertState::Firing), 1);
}

fn failed(target: usize, at: u64) -> Event {
    Event::Scraped {
        target,
        result: Err(ScrapeFailure {
            at: fixtures::at(at),
            error: "connection refused".into(),
            retry_in: Duration::from_secs(2),
        }),
    }
}

fn answered(target: usize, file: &str, at: u64) -> Event {
    Event::Scraped {
        target,
        result: Ok(Box::new(Scrape {
            snapshot: fixtures::snapshot(file, at),
            health: Err("no".into()),
        })),
    }
}

#[test]
fn a_target_down_is_an_alert_pending_at_once_and_firing_after_its_for() {
    let mut app = app_with(config(3, false, false));
    for target in 0..3 {
        app.update(failed(target, 0));
    }
    app.update(Event::Tick(fixtures::at(1)));
    assert_eq!(app.down_count(), 3);
    assert_eq!(app.up_count(), 0);
    let down = &app.alerts.rules[0];
    assert_eq!(app.alerts.thresholds[0].name, "InstanceDown");
    assert_eq!(down.series.len(), 3);
    assert!(down.series.values().all(|s| s.state == AlertState::Pending));
    assert_eq!(
        app.alerts.count_alerts(AlertState::Pending),
        1,
        "one alert, three series"
    );
    app.update(Event::Tick(fixtures::at(60)));
    assert_eq!(
        app.alerts.rules[0].worst(),
        AlertState::Pending,
        "held 59 s of 1m"
    );
    app.update(Event::Tick(fixtures::at(61)));
    assert_eq!(app.alerts.rules[0].worst(), AlertState::Firing);
    assert_eq!(app.alerts.count_alerts(AlertState::Firing), 1);
}

#[test]
fn a_target_that_answers_again_resolves_its_down_alert() {
    let mut app = app_with(config(2, false, false));
    app.update(answered(0, "metrics_busy_1.txt", 0));
    app.update(failed(1, 0));
    app.update(Event::Tick(fixtures::at(1)));
    let state = |app: &App, name: &str| app.alerts.rules[0].series[name].state;
    assert_eq!(state(&app, "127.0.0.1:8080"), AlertState::Ok);
    assert_eq!(state(&app, "127.0.0.1:8081"), AlertState::Pending);
    app.update(answered(1, "metrics_busy_1.txt", 2));
    app.update(Event::Tick(fixtures::at(2)));
    assert_eq!(state(&app, "127.0.0.1:8081"), AlertState::Ok);
    assert_eq!(app.down_count(), 0);
}

#[test]
fn stale_numbers_leave_the_totals_and_count_as_down() {
    let mut app = app_with(config(2, false, false));
    for at in [0, 2] {
        app.update(answered(0, "metrics_busy_1.txt", at));
        app.update(answered(1, "metrics_busy_1.txt", at));
    }
    app.update(answered(0, "metrics_busy_2.txt", 4));
    app.update(answered(1, "metrics_busy_2.txt", 4));
    app.update(Event::Tick(fixtures::at(5)));
    let both = app.total().requests_per_second().unwrap();
    assert_eq!(app.up_count(), 2);
    // Only the first keeps answering; the second has not for 3 intervals.
    app.update(answered(0, "metrics_busy_2.txt", 11));
    app.update(Event::Tick(fixtures::at(11)));
    assert_eq!((app.up_count(), app.stale_count()), (1, 1));
    let one = app.total();
    assert_eq!(
        one.requests_per_second(),
        Some(0.0),
        "{both}: the stale one is out"
    );
    assert_eq!(
        app.alerts.rules[0].series["127.0.0.1:8081"].state,
        AlertState::Pending,
        "up == 0 for a stale instance"
    );
}

#[test]
fn messages_age_out_and_errors_stay_longer() {
    let mut app = logged_in_app();
    app.update(key('3'));
    app.update(key('r'));
    let text = app.status.as_ref().unwrap().text.clone();
    assert!(text.contains("no session selected"), "{text}");
    app.update(Event::Tick(fixtures::at(29)));
    assert!(app.status.is_some(), "an error stays 30 s");
    app.update(Event::Tick(fixtures::at(30)));
    assert_eq!(app.status, None);
}

/// An app logged in from the form, whose own session is `own-session`.
fn logged_in_from_the_form() -> App {
    let mut app = app_with(config(1, false, false));
    app.update(Event::Admin(logged_in_as("admin@example.com")));
    app
}

#[test]
fn revoking_the_cockpits_own_session_asks_twice_then_logs_out_without_a_401() {
    let own = session("own-session", "0b9e4c1a-1111-4000-8000-00000000aaaa");
    let mut app = with_sessions(logged_in_from_the_form(), vec![own]);
    app.update(key('r'));
    let Overlay::Confirm(first) = &app.overlay else {
        panic!("{:?}", app.overlay)
    };
    assert!(
        first.message.contains("this cockpit is logged in with"),
        "{}",
        first.message
    );
    assert_eq!(app.update(key('y')), None, "the first y only asks again");
    let Overlay::Confirm(second) = &app.overlay else {
        panic!("a second confirmation: {:?}", app.overlay)
    };
    assert!(second.second && second.message.contains("THIS COCKPIT"));
    let what = AdminAction::Session {
        session_id: "own-session".into(),
        user_id: "0b9e4c1a-1111-4000-8000-00000000aaaa".into(),
    };
    assert_eq!(
        app.update(key('y')),
        Some(Command::Revoke {
            target: T0,
            what: what.clone(),
            ends_own_session: true,
        })
    );
    let after = app.update(Event::Admin(AdminEvent::Revoked {
        what,
        result: Ok(1),
    }));
    assert_eq!(after, None, "no reload that could only answer 401");
    assert!(!app.logged_in());
    let status = app.status.clone().unwrap();
    assert_eq!(status.kind, StatusKind::Success);
    assert!(status.text.contains("own session"), "{}", status.text);
}

#[test]
fn a_second_confirmation_can_still_be_cancelled() {
    let own = session("own-session", USER);
    let mut app = with_sessions(logged_in_from_the_form(), vec![own]);
    app.update(key('r'));
    app.update(key('y'));
    assert_eq!(app.update(key('n')), None);
    assert_eq!(app.overlay, Overlay::None);
    assert_eq!(app.status.as_ref().unwrap().text, "nothing revoked");
}

#[test]
fn revoking_all_of_the_admins_own_user_asks_twice() {
    let mut app = with_sessions(
        logged_in_from_the_form(),
        vec![session("s1", "0b9e4c1a-1111-4000-8000-00000000aaaa")],
    );
    app.update(key('R'));
    app.update(key('y'));
    assert!(matches!(&app.overlay, Overlay::Confirm(c) if c.second));
}

#[test]
fn a_new_search_puts_the_cursor_on_top_and_says_what_it_found() {
    let sessions: Vec<SessionSummary> = (0..12).map(|i| session(&format!("s{i}"), USER)).collect();
    let mut app = with_sessions(logged_in_app(), sessions.clone());
    assert_eq!(
        app.status.as_ref().unwrap().text,
        "12 live sessions of alice@example.com"
    );
    for _ in 0..10 {
        app.update(key('j'));
    }
    assert_eq!(app.sessions.selected, 10);
    app.update(key('/'));
    for _ in 0.."alice@example.com".len() {
        app.update(code(KeyCode::Backspace));
    }
    type_text(&mut app, "bob@example.com");
    app.update(code(KeyCode::Enter));
    assert_eq!(app.sessions.selected, 0, "at once, before the answer");
    app.update(Event::Admin(AdminEvent::Sessions {
        query: SessionQuery::Email("bob@example.com".into()),
        result: Ok(sessions),
    }));
    assert_eq!(app.sessions.selected, 0);
    app.update(key('r'));
    let Overlay::Confirm(confirm) = &app.overlay else {
        panic!()
    };
    assert!(
        confirm.message.starts_with("Revoke session s0 "),
        "{}",
        confirm.message
    );
}

#[test]
fn a_bad_search_hint_is_replaced_by_the_next_searchs_result() {
    let mut app = logged_in_app();
    app.update(key('/'));
    type_text(&mut app, "alice");
    app.update(code(KeyCode::Enter));
    assert!(app.status.as_ref().unwrap().text.contains("type an email"));
    type_text(&mut app, "@example.com");
    app.update(code(KeyCode::Enter));
    app.update(Event::Admin(AdminEvent::Sessions {
        query: SessionQuery::Email("alice@example.com".into()),
        result: Ok(vec![]),
    }));
    assert_eq!(
        app.status.as_ref().unwrap().text,
        "no live sessions for alice@example.com"
    );
}

#[test]
fn a_screen_refused_with_403_reloads_after_an_admin_logs_in() {
    let mut app = logged_in_app();
    app.update(key('4'));
    app.update(Event::Admin(AdminEvent::Audit {
        result: Err(AdminError::Forbidden),
    }));
    assert!(app.audit.error.is_some());
    assert_eq!(
        app.update(Event::Admin(logged_in_as("admin@example.com"))),
        Some(Command::LoadAudit {
            target: T0,
            cursor: None
        })
    );
    let mut app = with_sessions(logged_in_app(), vec![]);
    app.update(key('u'));
    app.update(Event::Admin(AdminEvent::Sessions {
        query: SessionQuery::Email("alice@example.com".into()),
        result: Err(AdminError::Forbidden),
    }));
    assert_eq!(
        app.update(Event::Admin(logged_in_as("admin@example.com"))),
        Some(Command::FindSessions {
            target: T0,
            query: SessionQuery::Email("alice@example.com".into())
        })
    );
}

#[test]
fn a_login_refused_for_lack_of_the_admin_role_is_not_labelled_admin() {
    let mut app = app_with(config(1, false, false));
    app.update(key('L'));
    app.update(Event::Admin(AdminEvent::LoginFailed(
        AdminError::NotAdmin {
            role: "user".into(),
        },
    )));
    assert!(!app.logged_in());
    let Overlay::Login(form) = &app.overlay else {
        panic!()
    };
    assert!(form.error.as_deref().unwrap().contains("not an admin"));
}

#[test]
fn every_key_gives_a_visible_result() {
    let mut app = logged_in_app();
    app.update(key('x'));
    assert!(
        app.status
            .as_ref()
            .unwrap()
            .text
            .contains("x does nothing here")
    );
    app.update(key('r'));
    assert!(
        app.status
            .as_ref()
            .unwrap()
            .text
            .contains("Sessions screen")
    );
    app.update(key('u'));
    assert!(app.status.as_ref().unwrap().text.contains("u reloads"));
    assert_eq!(app.update(key('p')), Some(Command::PollNow));
    assert_eq!(
        app.status.as_ref().unwrap().text,
        "polling every target now"
    );
    app.update(key('4'));
    app.update(Event::Admin(AdminEvent::Audit {
        result: Ok(AuditPage {
            items: vec![],
            next_cursor: None,
        }),
    }));
    assert_eq!(app.update(key('n')), None);
    assert!(app.status.as_ref().unwrap().text.contains("oldest page"));
}

#[test]
fn disabling_and_enabling_a_user_ask_first_and_are_refused_in_read_only() {
    let mut app = with_sessions(logged_in_app(), vec![session("s1", USER)]);
    app.update(key('D'));
    let Overlay::Confirm(confirm) = &app.overlay else {
        panic!("{:?}", app.overlay)
    };
    assert!(
        confirm
            .message
            .starts_with("Disable the account of alice@example.com"),
        "{}",
        confirm.message
    );
    assert_eq!(
        app.update(key('y')),
        Some(Command::Revoke {
            target: T0,
            what: AdminAction::DisableUser {
                user_id: USER.into()
            },
            ends_own_session: false,
        })
    );
    app.update(Event::Admin(AdminEvent::Revoked {
        what: AdminAction::DisableUser {
            user_id: USER.into(),
        },
        result: Ok(0),
    }));
    assert!(
        app.status
            .as_ref()
            .unwrap()
            .text
            .starts_with("disabled user")
    );
    app.update(key('E'));
    assert!(
        matches!(&app.overlay, Overlay::Confirm(c) if c.what == AdminAction::EnableUser { user_id: USER.into() })
    );
    app.update(key('n'));

    let mut read_only = with_sessions(app_with(config(1, true, true)), vec![session("s1", USER)]);
    for action in ['D', 'E'] {
        assert_eq!(read_only.update(key(action)), None);
        assert_eq!(read_only.overlay, Overlay::None);
        assert!(
            read_only
                .status
                .as_ref()
                .unwrap()
                .text
                .contains("read-only")
        );
    }
}

#[test]
fn an_unknown_email_or_user_id_is_no_such_user_not_an_empty_list() {
    let id = "7c1d2f3a-0000-4000-8000-000000000001";
    for (typed, query, said) in [
        (
            "alice@example.com",
            SessionQuery::Email("alice@example.com".into()),
            "no such user: no account has the email alice@example.com",
        ),
        (
            id,
            SessionQuery::UserId(id.into()),
            "no such user: no account has the user id 7c1d2f3a-0000-4000-8000-000000000001",
        ),
    ] {
        let mut app = logged_in_app();
        app.update(key('/'));
        type_text(&mut app, typed);
        assert_eq!(
            app.update(code(KeyCode::Enter)),
            Some(Command::FindSessions {
                target: T0,
                query: query.clone()
            })
        );
        // The server's 404 `user_not_found`, as the client maps it.
        let answer = AdminError::from_status(
            404,
            Some(&contract::api::Problem {
                type_: "urn:tenk:problem:user_not_found".into(),
                title: "Not Found".into(),
                status: 404,
                detail: Some("no account has this id".into()),
                code: "user_not_found".into(),
                request_id: "r1".into(),
                errors: Vec::new(),
            }),
            None,
        )
        .of_search(&query);
        app.update(Event::Admin(AdminEvent::Sessions {
            query,
            result: Err(answer),
        }));
        assert_eq!(app.sessions.error.as_deref(), Some(said));
        let status = &app.status.as_ref().unwrap().text;
        assert!(status.contains(said), "{status}");
        assert!(!status.contains("no live sessions"), "{status}");
        assert!(app.sessions.sessions.is_empty());
    }
}

#[test]
fn in_fleet_mode_s_silences_the_selected_alert_for_the_typed_duration() {
    use std::collections::BTreeMap;

    use crate::fleet::{FleetSnapshot, PromAlert};

    let mut cfg = config(1, false, true);
    cfg.fleet = Some(("http://p:9090".into(), Some("http://am:9093".into())));
    let mut app = app_with(cfg.clone());
    let labels: BTreeMap<String, String> = [("alertname", "TenkHighCpu"), ("instance", "a:1")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let snapshot = FleetSnapshot {
        at: fixtures::at(0),
        instances: vec![],
        alerts: vec![PromAlert {
            labels: labels.clone(),
            annotations: BTreeMap::new(),
            state: "firing".into(),
            active_at: None,
            value: None,
        }],
        alertmanager: None,
    };
    app.update(Event::Fleet(Ok(Box::new(snapshot.clone()))));
    app.update(key('2'));
    app.update(key('S'));
    assert!(matches!(app.overlay, Overlay::Silence(_)));
    for _ in 0..2 {
        app.update(code(KeyCode::Backspace));
    }
    type_text(&mut app, "30m");
    assert_eq!(
        app.update(code(KeyCode::Enter)),
        Some(Command::Silence {
            labels,
            duration: Duration::from_secs(1800),
        })
    );
    assert_eq!(
        app.update(Event::Silenced(Ok("abc".into()))),
        Some(Command::PollNow)
    );
    assert!(app.status.as_ref().unwrap().text.contains("abc"));

    cfg.read_only = true;
    let mut read_only = app_with(cfg);
    read_only.update(Event::Fleet(Ok(Box::new(snapshot))));
    read_only.update(key('2'));
    assert_eq!(read_only.update(key('S')), None);
    assert_eq!(read_only.overlay, Overlay::None);
    assert!(
        read_only
            .status
            .as_ref()
            .unwrap()
            .text
            .contains("read-only")
    );
}

#[test]
fn c_copies_the_full_id_of_the_selected_row_and_says_so() {
    let mut app = with_sessions(
        logged_in_app(),
        vec![session("s1-full-session-id", USER), session("s2", USER)],
    );
    assert_eq!(
        app.update(key('c')),
        Some(Command::Copy("s1-full-session-id".into()))
    );
    assert!(
        app.status
            .as_ref()
            .unwrap()
            .text
            .contains("copied the session id")
    );
    let mut empty = logged_in_app();
    empty.update(key('G'));
    assert_eq!(empty.update(key('c')), None, "the total row has no id");
    assert!(
        empty
            .status
            .as_ref()
            .unwrap()
            .text
            .contains("nothing selected")
    );
}

fn fleet_instance(name: &str) -> crate::fleet::FleetInstance {
    crate::fleet::FleetInstance {
        name: name.into(),
        up: true,
        requests_per_second: None,
        error_ratio: None,
        p95: None,
        cpu_ratio: None,
        memory_ratio: None,
    }
}

fn fleet_of(names: &[&str]) -> Event {
    Event::Fleet(Ok(Box::new(crate::fleet::FleetSnapshot {
        at: fixtures::at(0),
        instances: names.iter().map(|n| fleet_instance(n)).collect(),
        alerts: vec![],
        alertmanager: None,
    })))
}

fn fleet_app_of(names: &[&str]) -> App {
    let mut cfg = config(1, false, true);
    cfg.fleet = Some(("http://p:9090".into(), None));
    let mut app = app_with(cfg);
    app.update(fleet_of(names));
    app
}

#[test]
fn in_fleet_mode_c_copies_the_discovered_instance() {
    let mut app = fleet_app_of(&["10.1.0.11:8080"]);
    assert_eq!(
        app.update(key('c')),
        Some(Command::Copy("10.1.0.11:8080".into()))
    );
}

#[test]
fn in_fleet_mode_b_asks_prometheus_for_the_selected_instances_routes_and_follows_it() {
    use crate::fleet::FleetRoutes;
    use crate::numbers::RouteStats;

    let ask = |name: &str| {
        Some(Command::FleetRoutes {
            instance: name.into(),
        })
    };
    let mut app = fleet_app_of(&["a:1", "b:1"]);
    // Off: a new look at the fleet asks for nothing more.
    assert_eq!(app.update(fleet_of(&["a:1", "b:1"])), None);
    assert_eq!(app.update(key('b')), ask("a:1"));
    assert!(app.show_routes);
    assert!(app.status.as_ref().unwrap().text.contains("per route"));
    // Each look at the fleet refreshes it; a failed look does not.
    assert_eq!(app.update(fleet_of(&["a:1", "b:1"])), ask("a:1"));
    assert_eq!(app.update(Event::Fleet(Err("down".into()))), None);
    let routes = |instance: &str| {
        Event::FleetRoutes(Box::new(FleetRoutes {
            instance: instance.into(),
            at: fixtures::at(1),
            result: Ok(vec![RouteStats {
                method: "GET".into(),
                route: "/api/health".into(),
                requests_per_second: 2.0,
                error_ratio: Some(0.0),
                p95: Some(0.001),
            }]),
        }))
    };
    app.update(routes("a:1"));
    let fleet = app.fleet.as_ref().unwrap();
    assert_eq!(fleet.selected_routes().unwrap().instance, "a:1");
    // Moving the selection asks for the next instance's, and an answer
    // for the one left behind is not shown for it.
    assert_eq!(app.update(key('j')), ask("b:1"));
    assert_eq!(app.update(key('j')), None, "already the last one");
    assert!(app.fleet.as_ref().unwrap().selected_routes().is_none());
    app.update(routes("a:1"));
    assert!(app.fleet.as_ref().unwrap().selected_routes().is_none());
    app.update(routes("b:1"));
    assert_eq!(
        app.fleet
            .as_ref()
            .unwrap()
            .selected_routes()
            .unwrap()
            .instance,
        "b:1"
    );
    // Elsewhere than the Overview, or with the breakdown off, nothing is asked.
    app.update(key('2'));
    assert_eq!(app.update(fleet_of(&["a:1", "b:1"])), None);
    app.update(key('1'));
    assert_eq!(app.update(key('b')), None);
    assert!(!app.show_routes);
    assert_eq!(app.update(key('k')), None);
    assert_eq!(app.update(fleet_of(&["a:1", "b:1"])), None);
}

#[test]
fn the_environments_admin_token_is_checked_at_start_and_a_non_admin_is_not_labelled_admin() {
    let app = logged_in_app();
    assert_eq!(app.startup(), Some(Command::CheckRole { target: T0 }));
    assert_eq!(app_with(config(1, false, false)).startup(), None);

    let identity = |role: &str| crate::event::Identity {
        user_id: USER.into(),
        email: "alice@example.com".into(),
        role: role.into(),
    };
    let mut admin = logged_in_app();
    admin.update(Event::Admin(AdminEvent::RoleChecked(Ok(identity("admin")))));
    assert_eq!(
        admin.auth,
        AdminAuth::LoggedIn {
            who: "alice@example.com".into()
        }
    );
    let mut user = logged_in_app();
    user.update(Event::Admin(AdminEvent::RoleChecked(Ok(identity("user")))));
    assert!(!user.logged_in());
    assert!(user.status.as_ref().unwrap().text.contains("not an admin"));
    let mut refused = logged_in_app();
    refused.update(Event::Admin(AdminEvent::RoleChecked(Err(
        AdminError::Unauthorized,
    ))));
    assert!(!refused.logged_in());
}
