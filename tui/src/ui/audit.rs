//! Audit: recent admin actions, newest first (who, what, on what, from where).

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{
    Block, Borders, Cell, Paragraph, Row, StatefulWidget, Table, TableState, Widget,
};

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
        let block = Block::default()
            .borders(Borders::ALL)
            .title(format!(" Audit log · {page} · {state} "));
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
        let rows: Vec<Row<'_>> = audit
            .items
            .iter()
            .map(|e| {
                let actor = if wide {
                    e.actor_id.clone()
                } else {
                    short_id(&e.actor_id)
                };
                let target = match e.target.split_once(':') {
                    Some((kind, id)) if !wide => format!("{kind}:{}", short_id(id)),
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
            Constraint::Length(if wide { 36 } else { 13 }),
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
