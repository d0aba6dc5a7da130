//! The Audit screen's state: one page of the admin audit log, newest first,
//! with its filter and sort keys.

use std::cmp::Ordering;
use std::time::SystemTime;

use contract::api::AuditEntry;

use super::list::{ListView, Move, SortKey, moved};

/// The orders `s` cycles through on the Audit screen.
pub static AUDIT_SORTS: [SortKey<AuditEntry>; 4] = [
    SortKey {
        name: "newest first",
        compare: as_loaded,
    },
    SortKey {
        name: "action",
        compare: by_action,
    },
    SortKey {
        name: "admin",
        compare: by_admin,
    },
    SortKey {
        name: "target",
        compare: by_target,
    },
];

fn as_loaded(_: &AuditEntry, _: &AuditEntry) -> Ordering {
    Ordering::Equal
}

fn by_action(a: &AuditEntry, b: &AuditEntry) -> Ordering {
    a.action.cmp(&b.action)
}

fn by_admin(a: &AuditEntry, b: &AuditEntry) -> Ordering {
    let who = |e: &AuditEntry| e.actor_email.clone().unwrap_or_else(|| e.actor_id.clone());
    who(a).cmp(&who(b))
}

fn by_target(a: &AuditEntry, b: &AuditEntry) -> Ordering {
    a.target.cmp(&b.target)
}

/// What the filter looks in.
fn entry_text(entry: &AuditEntry) -> String {
    format!(
        "{} {} {} {} {} {} {}",
        entry.action,
        entry.target,
        entry.target_email.as_deref().unwrap_or_default(),
        entry.actor_id,
        entry.actor_email.as_deref().unwrap_or_default(),
        entry.ip,
        entry.created_at
    )
}

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
    /// The filter and sort of the list.
    pub view: ListView,
}

impl AuditScreen {
    /// The indices of the entries shown (filtered, sorted).
    pub fn visible(&self) -> Vec<usize> {
        self.view.visible(&self.items, entry_text, &AUDIT_SORTS)
    }

    /// The entries shown, in order.
    pub fn shown(&self) -> Vec<&AuditEntry> {
        self.visible()
            .into_iter()
            .filter_map(|i| self.items.get(i))
            .collect()
    }

    pub fn selected_entry(&self) -> Option<&AuditEntry> {
        let index = *self.visible().get(self.selected)?;
        self.items.get(index)
    }

    pub fn move_selection(&mut self, step: Move) {
        self.selected = moved(self.selected, self.visible().len(), step);
    }

    /// The name of the current order.
    pub fn sort_name(&self) -> &'static str {
        AUDIT_SORTS
            .get(self.view.sort)
            .map_or("newest first", |key| key.name)
    }

    pub fn loading(&self) -> bool {
        self.requested.is_some()
    }
}
