//! Sessions: the search box (email or user id), then the user's live
//! sessions with IP, user agent, created and last seen; the cockpit's own
//! session is marked `*`. Ids are shortened before the user agent is
//! dropped (it tells a phone from a laptop). `r` and `R` ask for a
//! confirmation before anything is revoked.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Borders, Cell, Paragraph, Row, StatefulWidget, Table, TableState, Widget,
};

use super::list_title::list_title;
use super::style;
use crate::app::App;
use crate::app::sessions::short_id;
use crate::format;

pub struct SessionsPanel<'a>(pub &'a App);

/// 34 (session) + 36 (user) + 15 + 14 + 14 (ip, created, last seen) + 40
/// (user agent) + spacing and borders.
const FULL_IDS_WIDTH: u16 = 160;

impl Widget for &SessionsPanel<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.0;
        let screen = &app.sessions;
        let [search_area, list_area] =
            Layout::vertical([Constraint::Length(3), Constraint::Min(0)]).areas(area);
        let mut search = vec![Span::raw(screen.input.clone())];
        if screen.editing {
            search.push(Span::styled("▏", style::key()));
        } else if screen.input.is_empty() {
            search.push(Span::styled(
                "press / and type an email or a user id",
                style::dim(),
            ));
        }
        let search_block = Block::default()
            .borders(Borders::ALL)
            .title(" Search (email or user id) ")
            .border_style(if screen.editing {
                style::key()
            } else {
                Style::new()
            });
        Paragraph::new(Line::from(search))
            .block(search_block)
            .render(search_area, buf);

        // Full ids only when the user agent still gets 40 columns beside them.
        let wide = area.width >= FULL_IDS_WIDTH;
        let shown = screen.shown();
        let title = match (&screen.query, screen.loading) {
            (None, _) => " Sessions ".to_string(),
            (Some(query), true) => format!(" Sessions of {} · loading… ", query.text()),
            // Where the operator is comes before when it was loaded: a
            // narrow terminal cuts the title from the right.
            (Some(query), false) => format!(
                " Sessions of {}{} · loaded {} ",
                query.text(),
                list_title(
                    screen.selected,
                    (shown.len(), screen.sessions.len()),
                    " live",
                    &screen.view,
                    screen.sort_name(),
                    screen.view.sort == 0
                ),
                screen
                    .loaded_at
                    .map_or_else(|| format::NONE.to_string(), format::clock),
            ),
        };
        let own_listed = screen
            .sessions
            .iter()
            .any(|s| s.current || app.own.is(&s.id));
        let mut block = Block::default().borders(Borders::ALL).title(title);
        if own_listed {
            block = block.title_bottom(Line::styled(
                " * the session this cockpit is logged in with ",
                style::key(),
            ));
        }
        if let Some(error) = &screen.error {
            Paragraph::new(Line::styled(error.clone(), style::bad()))
                .block(block)
                .render(list_area, buf);
            return;
        }
        if screen.sessions.is_empty() {
            let text = match (&screen.query, screen.loading) {
                (Some(_), true) => "loading…".to_string(),
                (Some(query), false) => format!("no live sessions for {}", query.text()),
                (None, _) => "no search yet".to_string(),
            };
            Paragraph::new(Line::styled(text, style::dim()))
                .block(block)
                .render(list_area, buf);
            return;
        }
        let rows: Vec<Row<'_>> = shown
            .iter()
            .map(|s| {
                let id = if wide { s.id.clone() } else { short_id(&s.id) };
                let own = s.current || app.own.is(&s.id);
                let id = if own { format!("{id}*") } else { id };
                let mut cells =
                    vec![Cell::from(id).style(if own { style::key() } else { Style::new() })];
                if wide {
                    cells.push(Cell::from(s.user_id.clone()));
                }
                cells.extend([
                    Cell::from(s.ip.clone()),
                    Cell::from(format::timestamp(&s.created_at)),
                    Cell::from(format::timestamp(&s.last_seen_at)),
                    Cell::from(s.user_agent.clone()),
                ]);
                Row::new(cells)
            })
            .collect();
        let mut header = vec!["session"];
        let mut widths = vec![Constraint::Length(if wide { 34 } else { 15 })];
        if wide {
            header.push("user");
            widths.push(Constraint::Length(36));
        }
        header.extend(["ip", "created", "last seen", "user agent"]);
        widths.extend([
            Constraint::Length(15),
            Constraint::Length(14),
            Constraint::Length(14),
            Constraint::Fill(1),
        ]);
        // The state scrolls the list so the selected session stays in view.
        let mut state = TableState::default().with_selected(Some(screen.selected));
        let table = Table::new(rows, widths)
            .header(Row::new(header).style(style::title()))
            .column_spacing(1)
            .row_highlight_style(style::selected())
            .block(block);
        StatefulWidget::render(table, list_area, buf, &mut state);
    }
}
