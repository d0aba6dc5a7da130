//! The key map. An overlay (help, confirmation, login form) or the search
//! box takes keys first; otherwise: tab / shift-tab and 1-4 switch screens,
//! arrows and j/k move, `/` searches sessions, `r` revokes one session, `R`
//! every session of its user, `u` reloads, `n` pages the audit log, `L`
//! logs in, `?` shows help, `q` quits.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::login::FormOutcome;
use super::{App, Overlay, Screen, StatusKind};
use crate::command::{Command, SessionQuery};

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
            let what = confirm.what.clone();
            app.overlay = Overlay::None;
            return if key.code == KeyCode::Char('y') {
                app.set_status(StatusKind::Info, "revoking…");
                Some(Command::Revoke {
                    target: admin_target,
                    what,
                })
            } else {
                app.set_status(StatusKind::Info, "nothing revoked");
                None
            };
        }
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
        KeyCode::Down | KeyCode::Char('j') => {
            move_selection(app, true);
            None
        }
        KeyCode::Up | KeyCode::Char('k') => {
            move_selection(app, false);
            None
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
        KeyCode::Char('r') if app.screen == Screen::Sessions => ask_revoke(app, false),
        KeyCode::Char('R') if app.screen == Screen::Sessions => ask_revoke(app, true),
        KeyCode::Char('u') => reload(app),
        KeyCode::Char('n') if app.screen == Screen::Audit => {
            let cursor = app.audit.next_cursor.clone()?;
            admin_read(app, |app| app.load_audit(Some(cursor)))
        }
        _ => None,
    }
}

fn move_selection(app: &mut App, down: bool) {
    let step = |selected: &mut usize, len: usize| {
        *selected = if down {
            (*selected + 1).min(len.saturating_sub(1))
        } else {
            selected.saturating_sub(1)
        };
    };
    match app.screen {
        Screen::Overview => step(&mut app.overview_selected, app.targets.len() + 1),
        Screen::Alerts => step(&mut app.alerts_selected, app.alerts.thresholds.len()),
        Screen::Sessions => app.sessions.move_selection(down),
        Screen::Audit => app.audit.move_selection(down),
    }
}

fn on_search_key(app: &mut App, key: KeyEvent) -> Option<Command> {
    let input = &mut app.sessions.input;
    match key.code {
        KeyCode::Esc => app.sessions.editing = false,
        KeyCode::Enter => {
            app.sessions.editing = false;
            return match SessionQuery::parse(input) {
                Ok(query) => admin_read(app, |app| app.find_sessions(query)),
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
            let query = app.sessions.query.clone()?;
            admin_read(app, |app| app.find_sessions(query))
        }
        Screen::Audit => admin_read(app, |app| app.load_audit(None)),
        Screen::Overview | Screen::Alerts => None,
    }
}

fn ask_revoke(app: &mut App, all: bool) -> Option<Command> {
    if app.config.read_only {
        app.set_status(StatusKind::Error, "read-only mode: revoking is disabled");
        return None;
    }
    let confirm = if all {
        app.sessions.confirm_all()
    } else {
        app.sessions.confirm_one()
    };
    let Some(confirm) = confirm else {
        app.set_status(
            StatusKind::Error,
            "no session selected: search with / first",
        );
        return None;
    };
    if !app.logged_in() {
        app.open_login(Some("log in to revoke sessions".into()));
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
