//! What every list screen shares: moving the selection (a row, a page, the
//! ends), a filter typed to narrow the rows shown, and a sort key. The
//! screens keep their rows as loaded; [`ListView::visible`] says which rows
//! are shown and in which order, and the selection indexes those.

use std::cmp::Ordering;

/// Rows a page key moves (the lists show about this many at 80x24).
pub const PAGE: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
}

/// Where `selected` goes in a list of `len` rows.
pub fn moved(selected: usize, len: usize, step: Move) -> usize {
    let last = len.saturating_sub(1);
    let to = match step {
        Move::Up => selected.saturating_sub(1),
        Move::Down => selected.saturating_add(1),
        Move::PageUp => selected.saturating_sub(PAGE),
        Move::PageDown => selected.saturating_add(PAGE),
        Move::Top => 0,
        Move::Bottom => last,
    };
    to.min(last)
}

/// One way to order the rows: its name (shown in the title) and comparison.
pub struct SortKey<T> {
    pub name: &'static str,
    pub compare: fn(&T, &T) -> Ordering,
}

/// The filter and sort of one list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListView {
    /// Rows whose text contains this (any case) are shown.
    pub filter: String,
    /// Keys go to the filter.
    pub filtering: bool,
    /// Index into the screen's sort keys; 0 is as loaded.
    pub sort: usize,
}

impl ListView {
    /// The indices of the rows shown, in the order shown.
    pub fn visible<T>(
        &self,
        rows: &[T],
        text: impl Fn(&T) -> String,
        sorts: &[SortKey<T>],
    ) -> Vec<usize> {
        let needle = self.filter.trim().to_lowercase();
        let mut shown: Vec<usize> = (0..rows.len())
            .filter(|&i| needle.is_empty() || text(&rows[i]).to_lowercase().contains(&needle))
            .collect();
        if let Some(key) = sorts.get(self.sort) {
            shown.sort_by(|&a, &b| (key.compare)(&rows[a], &rows[b]));
        }
        shown
    }

    /// The next sort key (after the last, back to the first).
    pub fn next_sort(&mut self, count: usize) {
        self.sort = if count == 0 {
            0
        } else {
            (self.sort + 1) % count
        };
    }

    /// ` · filter "abc"`, for a title; empty without a filter.
    pub fn describe_filter(&self) -> String {
        if self.filter.is_empty() && !self.filtering {
            String::new()
        } else {
            format!(" · filter \"{}\"", self.filter)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_stop_at_the_ends_and_pages_are_ten_rows() {
        assert_eq!(moved(0, 40, Move::Up), 0);
        assert_eq!(moved(0, 40, Move::Down), 1);
        assert_eq!(moved(39, 40, Move::Down), 39);
        assert_eq!(moved(5, 40, Move::PageDown), 15);
        assert_eq!(moved(35, 40, Move::PageDown), 39);
        assert_eq!(moved(5, 40, Move::PageUp), 0);
        assert_eq!(moved(17, 40, Move::Top), 0);
        assert_eq!(moved(0, 40, Move::Bottom), 39);
        assert_eq!(moved(3, 0, Move::Bottom), 0);
    }

    #[test]
    fn the_filter_matches_any_case_and_sorts_keep_the_rows() {
        let rows = ["Safari", "Firefox", "firefox mobile", "curl/8"];
        let sorts = [
            SortKey::<&str> {
                name: "as loaded",
                compare: |_, _| Ordering::Equal,
            },
            SortKey::<&str> {
                name: "name",
                compare: |a, b| a.to_lowercase().cmp(&b.to_lowercase()),
            },
        ];
        let mut view = ListView {
            filter: "FIREFOX".into(),
            ..ListView::default()
        };
        assert_eq!(view.visible(&rows, |r| r.to_string(), &sorts), vec![1, 2]);
        view.filter.clear();
        view.next_sort(sorts.len());
        assert_eq!(
            view.visible(&rows, |r| r.to_string(), &sorts),
            vec![3, 1, 2, 0]
        );
        view.next_sort(sorts.len());
        assert_eq!(view.sort, 0);
    }
}
