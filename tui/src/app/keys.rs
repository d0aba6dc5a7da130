//! The key map. An overlay (help, confirmation, login form), the search box
//! or a list's filter takes keys first; otherwise: tab / shift-tab and 1-4
//! switch screens, arrows and j/k move (PgUp/PgDn a page, g/Home and G/End
//! to the ends), `f` filters the list, `s` sorts it, `c` copies the
//! selected row's id (OSC 52), `/` searches sessions, `r` revokes one session, `R`
//! every session of its user, `D` / `E` disable / enable that user (all
//! four ask first, none in read-only), `u` reloads, `n` pages the audit log, `p`
//! polls every target now, `L` logs in, `?` shows help, `q` quits.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::audit::AUDIT_SORTS;
use super::list::{Move, moved};
use super::login::FormOutcome;
use super::sessions::SESSION_SORTS;
use super::{App, Overlay, Screen, SilenceForm, StatusKind};
use crate::command::{Command, SessionQuery};
use crate::thresholds::{format_duration, parse_duration};

pub fn on_key(app: &mut App, key: KeyEvent) -> Option<Command> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
        return quit(app);
    }
    let admin_target = app.admin_target();
    match &mut app.overlay {
        Overlay::None => {}
        Overlay::Help => {
            return match key.code {
                KeyCode::Char('q') => quit(app),
                _ => {
                    app.overlay = Overlay::None;
                    None
                }
            };
        }
        Overlay::Confirm(confirm) => {
            let confirm = confirm.clone();
            app.overlay = Overlay::None;
            if key.code != KeyCode::Char('y') {
                app.set_status(StatusKind::Info, "nothing revoked");
                return None;
            }
            if confirm.ends_own_session && !confirm.second {
                app.overlay = Overlay::Confirm(confirm.second());
                app.set_status(
                    StatusKind::Error,
                    "that is this cockpit's own session: y once more to revoke it",
                );
                return None;
            }
            app.set_status(StatusKind::Info, "revoking…");
            return Some(Command::Revoke {
                target: admin_target,
                what: confirm.what,
                ends_own_session: confirm.ends_own_session,
            });
        }
        Overlay::Silence(_) => return on_silence_key(app, key),
        Overlay::Login(form) => {
            return match form.on_key(key, admin_target) {
                FormOutcome::Stay => None,
                FormOutcome::Close => {
                    app.overlay = Overlay::None;
                    app.after_login = None;
                    // A read that waited for the login will not run.
                    app.sessions.loading = false;
                    app.audit.requested = None;
                    None
                }
                FormOutcome::Send(command) => Some(command),
            };
        }
    }
    if app.screen == Screen::Sessions && app.sessions.editing {
        return on_search_key(app, key);
    }
    if app.list_view().is_some_and(|view| view.filtering) {
        return on_filter_key(app, key);
    }
    on_screen_key(app, key)
}

fn quit(app: &mut App) -> Option<Command> {
    app.quit = true;
    Some(Command::Quit)
}

fn on_screen_key(app: &mut App, key: KeyEvent) -> Option<Command> {
    match key.code {
        KeyCode::Char('q') => quit(app),
        KeyCode::Char('?') => {
            app.overlay = Overlay::Help;
            None
        }
        KeyCode::Tab => app.cycle_screen(true),
        KeyCode::BackTab => app.cycle_screen(false),
        KeyCode::Char(c @ '1'..='4') => {
            let index = c as usize - '1' as usize;
            app.switch_to(Screen::ALL[index])
        }
        KeyCode::Down | KeyCode::Char('j') => move_selection(app, Move::Down),
        KeyCode::Up | KeyCode::Char('k') => move_selection(app, Move::Up),
        KeyCode::PageDown => move_selection(app, Move::PageDown),
        KeyCode::PageUp => move_selection(app, Move::PageUp),
        KeyCode::Home | KeyCode::Char('g') => move_selection(app, Move::Top),
        KeyCode::End | KeyCode::Char('G') => move_selection(app, Move::Bottom),
        KeyCode::Char('f') if matches!(app.screen, Screen::Sessions | Screen::Audit) => {
            if let Some(view) = app.list_view() {
                view.filtering = true;
            }
            app.set_status(
                StatusKind::Info,
                "filter: type to narrow the list · Enter keep · Esc clear",
            );
            None
        }
        KeyCode::Char('s') if matches!(app.screen, Screen::Sessions | Screen::Audit) => {
            next_sort(app);
            None
        }
        KeyCode::Char('c') => copy_selected(app),
        KeyCode::Char('S') if app.screen == Screen::Alerts => ask_silence(app),
        KeyCode::Char('b') if app.screen == Screen::Overview => {
            app.show_routes = !app.show_routes;
            let text = match (app.show_routes, app.fleet.is_some()) {
                (true, false) => "details: per route, worst first (b: back to the numbers)",
                (true, true) => "per route from Prometheus, worst first (b: hide)",
                (false, false) => "details: the instance's numbers (b: per route)",
                (false, true) => "per route hidden (b: show)",
            };
            app.set_status(StatusKind::Info, text);
            app.fleet_routes_command()
        }
        KeyCode::Char('/') => {
            app.screen = Screen::Sessions;
            app.sessions.editing = true;
            None
        }
        KeyCode::Char('L') => {
            app.open_login(None);
            None
        }
        KeyCode::Char('r') if app.screen == Screen::Sessions => ask(app, Ask::RevokeOne),
        KeyCode::Char('R') if app.screen == Screen::Sessions => ask(app, Ask::RevokeAll),
        KeyCode::Char('D') if app.screen == Screen::Sessions => ask(app, Ask::Disable),
        KeyCode::Char('E') if app.screen == Screen::Sessions => ask(app, Ask::Enable),
        KeyCode::Char('u') => reload(app),
        KeyCode::Char('p') => {
            app.set_status(StatusKind::Info, "polling every target now");
            Some(Command::PollNow)
        }
        KeyCode::Char('n') if app.screen == Screen::Audit => {
            let Some(cursor) = app.audit.next_cursor.clone() else {
                app.set_status(
                    StatusKind::Info,
                    "no older entries: this is the oldest page",
                );
                return None;
            };
            admin_read(app, |app| app.load_audit(Some(cursor)))
        }
        KeyCode::Char('r' | 'R' | 'D' | 'E') => {
            app.set_status(
                StatusKind::Info,
                "r R (revoke) and D E (disable, enable) act on the Sessions screen (3)",
            );
            None
        }
        KeyCode::Char('n') => {
            app.set_status(StatusKind::Info, "n pages the Audit screen (4)");
            None
        }
        other => {
            app.set_status(
                StatusKind::Info,
                format!("{} does nothing here: ? lists the keys", key_name(other)),
            );
            None
        }
    }
}

/// A key as the operator would name it.
fn key_name(code: KeyCode) -> String {
    match code {
        KeyCode::Char(' ') => "space".into(),
        KeyCode::Char(c) => c.to_string(),
        KeyCode::Enter => "Enter".into(),
        KeyCode::Esc => "Esc".into(),
        KeyCode::Backspace => "Backspace".into(),
        KeyCode::Left => "←".into(),
        KeyCode::Right => "→".into(),
        KeyCode::F(n) => format!("F{n}"),
        other => format!("{other:?}"),
    }
}

fn move_selection(app: &mut App, step: Move) -> Option<Command> {
    if let Some(fleet) = &mut app.fleet {
        let alerts = fleet.snapshot.as_ref().map_or(0, |s| s.alerts.len());
        let instances = fleet.instance_count();
        match app.screen {
            Screen::Overview => {
                let before = fleet.selected_instance;
                fleet.selected_instance = moved(before, instances, step);
                if fleet.selected_instance == before {
                    return None;
                }
                return app.fleet_routes_command();
            }
            Screen::Alerts => {
                fleet.selected_alert = moved(fleet.selected_alert, alerts, step);
                return None;
            }
            Screen::Sessions | Screen::Audit => {}
        }
    }
    match app.screen {
        Screen::Overview => {
            app.overview_selected = moved(app.overview_selected, app.targets.len() + 1, step);
        }
        Screen::Alerts => {
            app.alerts_selected = moved(app.alerts_selected, app.alerts.thresholds.len(), step);
        }
        Screen::Sessions => app.sessions.move_selection(step),
        Screen::Audit => app.audit.move_selection(step),
    }
    None
}

fn next_sort(app: &mut App) {
    let name = match app.screen {
        Screen::Sessions => {
            app.sessions.view.next_sort(SESSION_SORTS.len());
            app.sessions.selected = 0;
            app.sessions.sort_name()
        }
        Screen::Audit => {
            app.audit.view.next_sort(AUDIT_SORTS.len());
            app.audit.selected = 0;
            app.audit.sort_name()
        }
        Screen::Overview | Screen::Alerts => return,
    };
    app.set_status(
        StatusKind::Info,
        format!("sorted by {name} (s: next order)"),
    );
}

/// Keys typed into the filter of the current list.
fn on_filter_key(app: &mut App, key: KeyEvent) -> Option<Command> {
    let screen = app.screen;
    let view = app.list_view()?;
    match key.code {
        KeyCode::Esc => {
            view.filter.clear();
            view.filtering = false;
        }
        KeyCode::Enter => view.filtering = false,
        KeyCode::Backspace => {
            view.filter.pop();
        }
        KeyCode::Char(c)
            if !key
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
        {
            view.filter.push(c);
        }
        _ => return None,
    }
    let filter = view.filter.clone();
    match screen {
        Screen::Sessions => app.sessions.selected = 0,
        Screen::Audit => app.audit.selected = 0,
        Screen::Overview | Screen::Alerts => {}
    }
    let text = if filter.is_empty() {
        "filter cleared".to_string()
    } else {
        format!("filter \"{filter}\"")
    };
    app.set_status(StatusKind::Info, text);
    None
}

/// What `c` copies on this screen: (what it is, the full text).
fn selected_id(app: &App) -> Option<(&'static str, String)> {
    if let Some(fleet) = &app.fleet {
        let snapshot = fleet.snapshot.as_ref();
        match app.screen {
            Screen::Overview => {
                let instance = snapshot?.instances.get(fleet.selected_instance)?;
                return Some(("instance", instance.name.clone()));
            }
            Screen::Alerts => {
                let alert = snapshot?.alerts.get(fleet.selected_alert)?;
                return Some(("alert name", alert.name().to_string()));
            }
            Screen::Sessions | Screen::Audit => {}
        }
    }
    match app.screen {
        Screen::Sessions => {
            let session = app.sessions.selected_session()?;
            Some(("session id", session.id.clone()))
        }
        Screen::Audit => {
            let entry = app.audit.selected_entry()?;
            let id = entry
                .target
                .split_once(':')
                .map_or(entry.target.as_str(), |(_, id)| id);
            Some(("target id", id.to_string()))
        }
        Screen::Overview => {
            let target = app.targets.get(app.overview_selected)?;
            Some(("instance URL", target.url.clone()))
        }
        Screen::Alerts => {
            let threshold = app.alerts.thresholds.get(app.alerts_selected)?;
            Some(("alert name", threshold.alert.clone()))
        }
    }
}

/// `c`: the full id of the selected row to the clipboard (OSC 52).
fn copy_selected(app: &mut App) -> Option<Command> {
    let Some((what, text)) = selected_id(app) else {
        app.set_status(StatusKind::Info, "nothing selected to copy here");
        return None;
    };
    app.set_status(
        StatusKind::Success,
        format!("copied the {what} {text} to the clipboard (OSC 52)"),
    );
    Some(Command::Copy(text))
}

fn on_search_key(app: &mut App, key: KeyEvent) -> Option<Command> {
    let input = &mut app.sessions.input;
    match key.code {
        KeyCode::Esc => app.sessions.editing = false,
        KeyCode::Enter => {
            app.sessions.editing = false;
            return match SessionQuery::parse(input) {
                Ok(query) => {
                    app.sessions.fresh_search = true;
                    app.sessions.selected = 0;
                    app.set_status(StatusKind::Info, format!("searching {}…", query.text()));
                    admin_read(app, |app| app.find_sessions(query))
                }
                Err(hint) => {
                    app.sessions.error = Some(hint.clone());
                    app.set_status(StatusKind::Error, hint);
                    app.sessions.editing = true;
                    None
                }
            };
        }
        KeyCode::Backspace => {
            input.pop();
        }
        KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => input.clear(),
        KeyCode::Char(c)
            if !key
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
        {
            input.push(c);
        }
        _ => {}
    }
    None
}

/// Runs an admin read, or asks for a login first and runs it after.
fn admin_read(app: &mut App, read: impl FnOnce(&mut App) -> Command) -> Option<Command> {
    let command = read(app);
    if app.logged_in() {
        return Some(command);
    }
    app.after_login = Some(command);
    app.open_login(None);
    None
}

fn reload(app: &mut App) -> Option<Command> {
    match app.screen {
        Screen::Sessions => {
            let Some(query) = app.sessions.query.clone() else {
                app.set_status(StatusKind::Info, "nothing to reload: search with / first");
                return None;
            };
            app.set_status(
                StatusKind::Info,
                format!("reloading the sessions of {}…", query.text()),
            );
            admin_read(app, |app| app.find_sessions(query))
        }
        Screen::Audit => {
            app.set_status(StatusKind::Info, "reloading the audit log…");
            admin_read(app, |app| app.load_audit(None))
        }
        Screen::Overview | Screen::Alerts => {
            app.set_status(
                StatusKind::Info,
                "u reloads Sessions and Audit; numbers refresh by themselves (p polls now)",
            );
            None
        }
    }
}

/// An action on the Sessions screen that asks first.
#[derive(Clone, Copy)]
enum Ask {
    RevokeOne,
    RevokeAll,
    Disable,
    Enable,
}

fn ask(app: &mut App, action: Ask) -> Option<Command> {
    if app.config.read_only {
        let what = match action {
            Ask::RevokeOne | Ask::RevokeAll => "revoking",
            Ask::Disable | Ask::Enable => "disabling and enabling accounts",
        };
        app.set_status(
            StatusKind::Error,
            format!("read-only mode: {what} is disabled"),
        );
        return None;
    }
    let confirm = match action {
        Ask::RevokeOne => app.sessions.confirm_one(&app.own),
        Ask::RevokeAll => app.sessions.confirm_all(&app.own),
        Ask::Disable => app.sessions.confirm_account(&app.own, true),
        Ask::Enable => app.sessions.confirm_account(&app.own, false),
    };
    let Some(confirm) = confirm else {
        app.set_status(
            StatusKind::Error,
            "no session selected: search with / first",
        );
        return None;
    };
    if !app.logged_in() {
        app.open_login(Some("log in to act on sessions and accounts".into()));
        return None;
    }
    app.overlay = Overlay::Confirm(confirm);
    None
}

impl App {
    /// Starts a session search (the list shows it as loading until it answers).
    pub(super) fn find_sessions(&mut self, query: SessionQuery) -> Command {
        self.sessions.query = Some(query.clone());
        self.sessions.loading = true;
        self.sessions.error = None;
        Command::FindSessions {
            target: self.admin_target(),
            query,
        }
    }
}

/// `S` on the Alerts screen in fleet mode: the silence form for the
/// selected alert (Alertmanager needed; refused in read-only).
fn ask_silence(app: &mut App) -> Option<Command> {
    let Some(fleet) = &app.fleet else {
        app.set_status(
            StatusKind::Info,
            "S silences an alert in fleet mode (--prometheus and --alertmanager)",
        );
        return None;
    };
    if fleet.alertmanager.is_none() {
        app.set_status(
            StatusKind::Error,
            "no --alertmanager: nothing to silence with",
        );
        return None;
    }
    if app.config.read_only {
        app.set_status(StatusKind::Error, "read-only mode: silencing is disabled");
        return None;
    }
    let Some(labels) = fleet.selected_alert_labels() else {
        app.set_status(
            StatusKind::Info,
            "no alert selected: nothing pending or firing",
        );
        return None;
    };
    app.overlay = Overlay::Silence(SilenceForm {
        labels,
        duration: "1h".into(),
        error: None,
    });
    None
}

fn on_silence_key(app: &mut App, key: KeyEvent) -> Option<Command> {
    let Overlay::Silence(form) = &mut app.overlay else {
        return None;
    };
    match key.code {
        KeyCode::Esc => {
            app.overlay = Overlay::None;
            app.set_status(StatusKind::Info, "nothing silenced");
            return None;
        }
        KeyCode::Backspace => {
            form.duration.pop();
        }
        KeyCode::Char(c) if c.is_ascii_alphanumeric() => form.duration.push(c),
        KeyCode::Enter => match parse_duration(form.duration.trim()) {
            Ok(duration) if duration >= Duration::from_secs(60) => {
                let labels = form.labels.clone();
                let name = labels.get("alertname").cloned().unwrap_or_default();
                app.overlay = Overlay::None;
                app.set_status(
                    StatusKind::Info,
                    format!("silencing {name} for {}…", format_duration(duration)),
                );
                return Some(Command::Silence { labels, duration });
            }
            Ok(_) => form.error = Some("at least 1m".into()),
            Err(error) => form.error = Some(error),
        },
        _ => {}
    }
    None
}
