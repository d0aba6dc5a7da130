//! The login form: email and password, or email and a one-time code sent by
//! mail. The typed secret lives only here, is wiped when the form is, and
//! leaves as a [`Secret`] in the login command.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use secrecy::zeroize::Zeroizing;

use crate::command::{Command, Credential};
use crate::secret::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginMode {
    Password,
    Code,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginField {
    Email,
    Secret,
}

#[derive(Clone, PartialEq)]
pub struct LoginForm {
    pub mode: LoginMode,
    pub focus: LoginField,
    pub email: String,
    secret: Zeroizing<String>,
    /// A request is on its way: keys other than Esc wait.
    pub busy: bool,
    pub error: Option<String>,
    /// Set once a code was requested for this address.
    pub code_sent_to: Option<String>,
}

impl std::fmt::Debug for LoginForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginForm")
            .field("mode", &self.mode)
            .field("focus", &self.focus)
            .field("email", &self.email)
            .field("secret", &"***")
            .field("busy", &self.busy)
            .finish_non_exhaustive()
    }
}

/// What a key did to the form.
#[derive(Debug, PartialEq)]
pub enum FormOutcome {
    Stay,
    Close,
    Send(Command),
}

impl LoginForm {
    pub fn new(error: Option<String>) -> Self {
        Self {
            mode: LoginMode::Password,
            focus: LoginField::Email,
            email: String::new(),
            secret: Zeroizing::new(String::new()),
            busy: false,
            error,
            code_sent_to: None,
        }
    }

    /// How many characters of secret were typed (shown as dots).
    pub fn secret_len(&self) -> usize {
        self.secret.chars().count()
    }

    /// The answer was a refusal: show why and let the operator type again.
    pub fn failed(&mut self, error: String) {
        self.busy = false;
        self.error = Some(error);
        self.secret.clear();
    }

    pub fn code_sent(&mut self, email: &str) {
        self.busy = false;
        self.error = None;
        self.code_sent_to = Some(email.to_string());
        self.focus = LoginField::Secret;
    }

    /// Handles one key; `target` is where a login would go.
    pub fn on_key(&mut self, key: KeyEvent, target: usize) -> FormOutcome {
        if key.code == KeyCode::Esc {
            return FormOutcome::Close;
        }
        if self.busy {
            return FormOutcome::Stay;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('o') if ctrl => self.switch_mode(),
            KeyCode::Tab | KeyCode::BackTab | KeyCode::Up | KeyCode::Down => {
                self.focus = match self.focus {
                    LoginField::Email => LoginField::Secret,
                    LoginField::Secret => LoginField::Email,
                };
            }
            KeyCode::Enter => return self.submit(target),
            KeyCode::Backspace => {
                self.field().pop();
            }
            KeyCode::Char('u') if ctrl => self.field().clear(),
            KeyCode::Char(c) if !ctrl && !key.modifiers.contains(KeyModifiers::ALT) => {
                self.field().push(c);
            }
            _ => {}
        }
        FormOutcome::Stay
    }

    fn field(&mut self) -> &mut String {
        match self.focus {
            LoginField::Email => &mut self.email,
            LoginField::Secret => &mut self.secret,
        }
    }

    fn switch_mode(&mut self) {
        self.mode = match self.mode {
            LoginMode::Password => LoginMode::Code,
            LoginMode::Code => LoginMode::Password,
        };
        self.secret.clear();
        self.error = None;
        self.focus = LoginField::Email;
    }

    fn submit(&mut self, target: usize) -> FormOutcome {
        let email = self.email.trim().to_string();
        if email.is_empty() {
            self.error = Some("type the admin's email".into());
            self.focus = LoginField::Email;
            return FormOutcome::Stay;
        }
        if self.focus == LoginField::Email {
            if self.mode == LoginMode::Code {
                self.busy = true;
                self.error = None;
                return FormOutcome::Send(Command::RequestCode { target, email });
            }
            self.focus = LoginField::Secret;
            return FormOutcome::Stay;
        }
        if self.secret.is_empty() {
            self.error = Some(match self.mode {
                LoginMode::Password => "type the password".into(),
                LoginMode::Code => {
                    "type the code from the mail (Enter on the email sends one)".into()
                }
            });
            return FormOutcome::Stay;
        }
        let secret = Secret::new(std::mem::take(&mut *self.secret));
        let credential = match self.mode {
            LoginMode::Password => Credential::Password(secret),
            LoginMode::Code => Credential::Code(secret),
        };
        self.busy = true;
        self.error = None;
        FormOutcome::Send(Command::Login {
            target,
            email,
            credential,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn type_text(form: &mut LoginForm, text: &str) {
        for c in text.chars() {
            assert_eq!(form.on_key(key(KeyCode::Char(c)), 0), FormOutcome::Stay);
        }
    }

    #[test]
    fn email_then_password_then_enter_sends_a_login() {
        let mut form = LoginForm::new(None);
        type_text(&mut form, "admin@example.com");
        assert_eq!(form.on_key(key(KeyCode::Enter), 0), FormOutcome::Stay);
        assert_eq!(form.focus, LoginField::Secret);
        type_text(&mut form, "s3cret-pass");
        assert_eq!(form.secret_len(), 11);
        assert_eq!(
            form.on_key(key(KeyCode::Enter), 1),
            FormOutcome::Send(Command::Login {
                target: 1,
                email: "admin@example.com".into(),
                credential: Credential::Password(Secret::new("s3cret-pass")),
            })
        );
        assert!(form.busy);
        assert_eq!(form.secret_len(), 0, "the form keeps no copy");
        assert!(!format!("{form:?}").contains("s3cret"));
    }

    #[test]
    fn in_code_mode_enter_on_the_email_requests_a_code_then_the_code_logs_in() {
        let mut form = LoginForm::new(None);
        form.on_key(KeyEvent::new(KeyCode::Char('o'), KeyModifiers::CONTROL), 0);
        assert_eq!(form.mode, LoginMode::Code);
        type_text(&mut form, "admin@example.com");
        assert_eq!(
            form.on_key(key(KeyCode::Enter), 0),
            FormOutcome::Send(Command::RequestCode {
                target: 0,
                email: "admin@example.com".into()
            })
        );
        form.code_sent("admin@example.com");
        type_text(&mut form, "123456");
        assert_eq!(
            form.on_key(key(KeyCode::Enter), 0),
            FormOutcome::Send(Command::Login {
                target: 0,
                email: "admin@example.com".into(),
                credential: Credential::Code(Secret::new("123456")),
            })
        );
    }

    #[test]
    fn missing_fields_are_named_and_esc_closes() {
        let mut form = LoginForm::new(None);
        assert_eq!(form.on_key(key(KeyCode::Enter), 0), FormOutcome::Stay);
        assert_eq!(form.error.as_deref(), Some("type the admin's email"));
        type_text(&mut form, "a@b.c");
        form.on_key(key(KeyCode::Tab), 0);
        assert_eq!(form.on_key(key(KeyCode::Enter), 0), FormOutcome::Stay);
        assert_eq!(form.error.as_deref(), Some("type the password"));
        form.failed("login refused".into());
        assert_eq!(form.on_key(key(KeyCode::Esc), 0), FormOutcome::Close);
    }
}
