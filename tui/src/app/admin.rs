//! Answers of the admin API: a login opens the way (and runs the read it
//! interrupted, or reloads the screen that failed for lack of rights), a
//! search says what it found, a revocation says what ended and refreshes
//! the list (or, when it ended the cockpit's own session, logs out), and
//! any 401 asks for a new login. Every failure is shown with its reason.

use super::{AdminAuth, App, Overlay, OwnSession, Screen, StatusKind};
use crate::admin_error::AdminError;
use crate::command::{AdminAction, Command, SessionQuery};
use crate::event::{AdminEvent, Identity};

use super::sessions::short_id;

pub fn on_admin_event(app: &mut App, event: AdminEvent) -> Option<Command> {
    match event {
        AdminEvent::LoggedIn {
            email,
            session_id,
            user_id,
        } => {
            app.auth = AdminAuth::LoggedIn { who: email.clone() };
            app.own = OwnSession {
                session_id,
                user_id,
            };
            app.overlay = Overlay::None;
            app.set_status(StatusKind::Success, format!("logged in as {email}"));
            if let Some(read) = app.after_login.take() {
                return Some(read);
            }
            match app.screen {
                Screen::Audit if app.audit.error.is_some() => Some(app.load_audit(None)),
                _ => app.reload_failed_sessions(),
            }
        }
        AdminEvent::RoleChecked(result) => {
            on_role_checked(app, result);
            None
        }
        AdminEvent::LoginFailed(error) => {
            if let Overlay::Login(form) = &mut app.overlay {
                form.failed(error.to_string());
            }
            app.set_status(StatusKind::Error, error.to_string());
            None
        }
        AdminEvent::CodeSent { email } => {
            if let Overlay::Login(form) = &mut app.overlay {
                form.code_sent(&email);
            }
            app.set_status(
                StatusKind::Info,
                format!("if {email} is an account, a code is on its way"),
            );
            None
        }
        AdminEvent::CodeFailed(error) => {
            if let Overlay::Login(form) = &mut app.overlay {
                form.failed(error.to_string());
            }
            app.set_status(StatusKind::Error, error.to_string());
            None
        }
        AdminEvent::Sessions { query, result } => on_sessions(app, query, result),
        AdminEvent::Revoked { what, result } => on_revoked(app, &what, result),
        AdminEvent::Audit { result } => {
            let cursor = app.audit.requested.take().flatten();
            match result {
                Ok(page) => {
                    app.audit.items = page.items;
                    app.audit.next_cursor = page.next_cursor;
                    app.audit.cursor = cursor;
                    app.audit.selected = 0;
                    app.audit.loaded_at = Some(app.now);
                    app.audit.error = None;
                    None
                }
                Err(error) => {
                    app.audit.error = Some(error.to_string());
                    failed(
                        app,
                        "loading the audit log",
                        error,
                        Some(Command::LoadAudit {
                            target: app.admin_target(),
                            cursor,
                        }),
                    )
                }
            }
        }
    }
}

fn on_sessions(
    app: &mut App,
    query: SessionQuery,
    result: Result<Vec<contract::api::SessionSummary>, AdminError>,
) -> Option<Command> {
    match result {
        Ok(sessions) => {
            // A search the operator ran is announced; a refresh after a
            // revocation leaves the revocation's result on the status line.
            let announce = app.sessions.fresh_search && app.sessions.query.as_ref() == Some(&query);
            let count = sessions.len();
            app.sessions.loaded(&query, sessions, app.now);
            if announce {
                let plural = if count == 1 { "" } else { "s" };
                let text = if count == 0 {
                    format!("no live sessions for {}", query.text())
                } else {
                    format!("{count} live session{plural} of {}", query.text())
                };
                app.set_status(StatusKind::Success, text);
            }
            None
        }
        Err(error) => {
            app.sessions.loading = false;
            app.sessions.error = Some(error.to_string());
            let target = app.admin_target();
            failed(
                app,
                "searching sessions",
                error,
                Some(Command::FindSessions { target, query }),
            )
        }
    }
}

fn on_revoked(
    app: &mut App,
    what: &AdminAction,
    result: Result<u64, AdminError>,
) -> Option<Command> {
    let described = match what {
        AdminAction::Session { session_id, .. } => format!("session {}", short_id(session_id)),
        AdminAction::AllOfUser { user_id } => {
            format!("every session of user {}", short_id(user_id))
        }
        AdminAction::DisableUser { user_id } | AdminAction::EnableUser { user_id } => {
            format!("user {}", short_id(user_id))
        }
    };
    if result.is_ok() && app.own.ended_by(what) {
        app.auth = AdminAuth::LoggedOut;
        app.own = OwnSession::default();
        app.set_status(
            StatusKind::Success,
            format!("revoked {described}: that ended this cockpit's own session, you are logged out (L to log in)"),
        );
        // The list is not reloaded: it would only answer 401.
        return None;
    }
    match result {
        Ok(count) => {
            let text = match what {
                AdminAction::Session { .. } => format!("revoked {described}"),
                AdminAction::DisableUser { .. } => {
                    format!("disabled {described}: its sessions ended, it cannot log in")
                }
                AdminAction::EnableUser { .. } => format!("enabled {described} again"),
                AdminAction::AllOfUser { .. } => {
                    let plural = if count == 1 { "" } else { "s" };
                    format!("revoked {count} session{plural} ({described})")
                }
            };
            app.set_status(StatusKind::Success, text);
        }
        Err(AdminError::NotFound { .. }) => {
            app.set_status(
                StatusKind::Error,
                format!("{described} was already gone (404)"),
            );
        }
        Err(error) => return failed(app, &format!("revoking {described}"), error, None),
    }
    // The list shows what is left.
    let query = app.sessions.query.clone()?;
    Some(app.find_sessions(query))
}

/// Shows a failed call; a 401 also logs out and asks for a login, after
/// which `retry` (a read, never a revocation) runs again.
fn failed(
    app: &mut App,
    doing: &str,
    error: AdminError,
    retry: Option<Command>,
) -> Option<Command> {
    app.set_status(StatusKind::Error, format!("{doing} failed: {error}"));
    if error == AdminError::Unauthorized {
        app.auth = AdminAuth::LoggedOut;
        app.after_login = retry;
        app.open_login(Some(
            "401: the admin session ended or was revoked; log in again".into(),
        ));
    }
    None
}

/// The answer about the environment's admin token: the header names its
/// account when it is an admin's, and nobody (log in with L) when not.
fn on_role_checked(app: &mut App, result: Result<Identity, AdminError>) {
    match result {
        Ok(identity) if identity.role == "admin" => {
            app.auth = AdminAuth::LoggedIn {
                who: identity.email,
            };
            app.own.user_id = Some(identity.user_id);
        }
        Ok(identity) => {
            app.auth = AdminAuth::LoggedOut;
            app.set_status(
                StatusKind::Error,
                format!(
                    "TENK_ADMIN_TOKEN belongs to {}, not an admin (role {}): log in with L",
                    identity.email, identity.role
                ),
            );
        }
        Err(AdminError::Unauthorized) => {
            app.auth = AdminAuth::LoggedOut;
            app.set_status(
                StatusKind::Error,
                "TENK_ADMIN_TOKEN was refused (401): log in with L",
            );
        }
        Err(error) => app.set_status(
            StatusKind::Error,
            format!("could not check TENK_ADMIN_TOKEN: {error}"),
        ),
    }
}
