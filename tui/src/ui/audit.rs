//! Audit: recent admin actions, newest first (who, what, on what, from
//! where), with the position of the selection ("3/50"), the filter and the
//! sort in the title.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{
    Block, Borders, Cell, Paragraph, Row, StatefulWidget, Table, TableState, Widget,
};

use super::list_title::list_title;
use super::style;
use crate::app::App;
use crate::app::sessions::short_id;
use crate::format;

pub struct AuditPanel<'a>(pub &'a App);

impl Widget for &AuditPanel<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.0;
        let audit = &app.audit;
        let page = if audit.cursor.is_some() {
            "older page"
        } else {
            "newest first"
        };
        let state = if audit.loading() {
            "loading…".to_string()
        } else {
            audit.loaded_at.map_or_else(
                || "not loaded".to_string(),
                |at| format!("loaded {}", format::clock(at)),
            )
        };
        let shown = audit.shown();
        let block = Block::default().borders(Borders::ALL).title(format!(
            " Audit log · {page} · {state}{} ",
            list_title(
                audit.selected,
                (shown.len(), audit.items.len()),
                "",
                &audit.view,
                audit.sort_name(),
                audit.view.sort == 0
            )
        ));
        if let Some(error) = &audit.error {
            Paragraph::new(Line::styled(error.clone(), style::bad()))
                .block(block)
                .render(area, buf);
            return;
        }
        if audit.items.is_empty() {
            let text = if app.logged_in() {
                "no admin actions yet"
            } else {
                "log in (L) to see the audit log"
            };
            Paragraph::new(Line::styled(text, style::dim()))
                .block(block)
                .render(area, buf);
            return;
        }
        let wide = area.width >= 110;
        let rows: Vec<Row<'_>> = shown
            .iter()
            .map(|e| {
                // Emails where the server knows them, beside (wide) or
                // instead of (narrow) the ids; `c` copies the full id.
                let actor = match (&e.actor_email, wide) {
                    (Some(email), _) => email.clone(),
                    (None, true) => e.actor_id.clone(),
                    (None, false) => short_id(&e.actor_id),
                };
                let target = match (e.target.split_once(':'), &e.target_email, wide) {
                    (Some((kind, id)), Some(email), true) => {
                        format!("{kind}:{} {email}", short_id(id))
                    }
                    (Some((kind, _)), Some(email), false) => format!("{kind}:{email}"),
                    (Some((kind, id)), None, false) => format!("{kind}:{}", short_id(id)),
                    _ => e.target.clone(),
                };
                Row::new(vec![
                    Cell::from(if wide {
                        format::timestamp(&e.created_at)
                    } else {
                        format::timestamp_short(&e.created_at)
                    }),
                    Cell::from(e.action.clone()),
                    Cell::from(target),
                    Cell::from(actor),
                    Cell::from(e.ip.clone()),
                ])
            })
            .collect();
        let widths = [
            Constraint::Length(if wide { 14 } else { 11 }),
            Constraint::Length(20),
            Constraint::Length(if wide { 44 } else { 21 }),
            Constraint::Length(if wide { 36 } else { 16 }),
            Constraint::Fill(1),
        ];
        let mut state = TableState::default().with_selected(Some(audit.selected));
        let table = Table::new(rows, widths)
            .header(Row::new(["time", "action", "target", "admin", "ip"]).style(style::title()))
            .column_spacing(1)
            .row_highlight_style(style::selected())
            .block(block);
        StatefulWidget::render(table, area, buf, &mut state);
    }
}
