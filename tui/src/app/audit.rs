//! The Audit screen's state: one page of the admin audit log, newest first.

use std::time::SystemTime;

use contract::api::AuditEntry;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuditScreen {
    pub items: Vec<AuditEntry>,
    pub selected: usize,
    /// The cursor of the page shown (`None`: the newest).
    pub cursor: Option<String>,
    /// The cursor of the next, older page.
    pub next_cursor: Option<String>,
    /// The cursor asked for last, until its answer comes.
    pub requested: Option<Option<String>>,
    pub loaded_at: Option<SystemTime>,
    pub error: Option<String>,
}

impl AuditScreen {
    pub fn move_selection(&mut self, down: bool) {
        if self.items.is_empty() {
            self.selected = 0;
        } else if down {
            self.selected = (self.selected + 1).min(self.items.len() - 1);
        } else {
            self.selected = self.selected.saturating_sub(1);
        }
    }

    pub fn loading(&self) -> bool {
        self.requested.is_some()
    }
}
