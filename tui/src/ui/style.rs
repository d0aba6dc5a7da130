//! The few colours the cockpit uses, each with one meaning.

use ratatui::style::{Color, Modifier, Style};

use crate::app::StatusKind;
use crate::thresholds::AlertState;

pub fn ok() -> Style {
    Style::new().fg(Color::Green)
}

pub fn warn() -> Style {
    Style::new().fg(Color::Yellow)
}

pub fn bad() -> Style {
    Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
}

/// Old data: still shown, visibly not current.
pub fn stale() -> Style {
    Style::new().fg(Color::DarkGray)
}

pub fn title() -> Style {
    Style::new().add_modifier(Modifier::BOLD)
}

pub fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

pub fn selected() -> Style {
    Style::new().add_modifier(Modifier::REVERSED)
}

pub fn key() -> Style {
    Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
}

/// A value against its threshold: red when the rule's comparison holds.
pub fn breach(breached: bool) -> Style {
    if breached { bad() } else { Style::new() }
}

pub fn alert(state: AlertState) -> Style {
    match state {
        AlertState::Ok => ok(),
        AlertState::Pending => warn().add_modifier(Modifier::BOLD),
        AlertState::Firing => bad(),
    }
}

pub fn status(kind: StatusKind) -> Style {
    match kind {
        StatusKind::Info => Style::new(),
        StatusKind::Success => ok(),
        StatusKind::Error => bad(),
    }
}
