//! The state machine, key by key and answer by answer, without IO.

use std::time::Duration;

use contract::api::{AuditEntry, AuditPage, SessionSummary};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::admin_error::AdminError;
use crate::command::{Credential, Revocation, SessionQuery};
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
            what: Revocation::Session {
                session_id: "s1".into(),
                user_id: USER.into()
            },
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
            what: Revocation::AllOfUser {
                user_id: USER.into()
            }
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
    let what = Revocation::Session {
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
    let what = Revocation::AllOfUser {
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
    let what = Revocation::Session {
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
            AdminError::NotFound("gone".into()),
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
    let retried = app.update(Event::Admin(AdminEvent::LoggedIn {
        email: "admin@example.com".into(),
    }));
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
        app.update(Event::Admin(AdminEvent::LoggedIn {
            email: "admin@example.com".into()
        })),
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
        action: "session.revoke".into(),
        target: "session:s1".into(),
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
    let memory = &app.alerts.rules[3];
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
    let sessions = |app: &App| app.alerts.rules[5].series["cluster"].state;
    app.update(Event::Tick(fixtures::at(1)));
    assert_eq!(sessions(&app), AlertState::Pending, "3 sessions > 2");
    app.update(Event::Tick(fixtures::at(10)));
    assert_eq!(sessions(&app), AlertState::Pending, "held 9 s of 10");
    app.update(Event::Tick(fixtures::at(11)));
    assert_eq!(sessions(&app), AlertState::Firing);
    assert_eq!(app.alerts.count(AlertState::Firing), 1);
}
