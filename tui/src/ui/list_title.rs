//! The part of a list's title that says where the operator is: the
//! position of the selection among the rows shown ("12/40"), how many the
//! filter hides, the filter being typed, and the sort.

use crate::app::list::ListView;

/// ` · 12/40{noun} · /fire 3 of 40 · sorted: ip` (compact: titles are cut
/// at 80 columns).
pub fn list_title(
    selected: usize,
    (shown, total): (usize, usize),
    noun: &str,
    view: &ListView,
    sort_name: &str,
    default_sort: bool,
) -> String {
    let mut title = if shown == 0 {
        format!(" · 0/{shown}{noun}")
    } else {
        format!(" · {}/{shown}{noun}", selected.min(shown - 1) + 1)
    };
    if !view.filter.is_empty() || view.filtering {
        let cursor = if view.filtering { "▏" } else { "" };
        title.push_str(&format!(" · /{}{cursor}", view.filter));
        if shown != total {
            title.push_str(&format!(" {shown} of {total}"));
        }
    }
    if !default_sort {
        title.push_str(&format!(" · sorted: {sort_name}"));
    }
    title
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_filter_and_sort_are_named() {
        let view = ListView::default();
        assert_eq!(
            list_title(11, (40, 40), "", &view, "as listed", true),
            " · 12/40"
        );
        assert_eq!(
            list_title(0, (0, 0), " live", &view, "as listed", true),
            " · 0/0 live"
        );
        let filtered = ListView {
            filter: "fire".into(),
            filtering: true,
            sort: 3,
        };
        assert_eq!(
            list_title(0, (3, 40), "", &filtered, "ip", false),
            " · 1/3 · /fire▏ 3 of 40 · sorted: ip"
        );
    }
}
