//! Windows drawn over the screen: the help (key bindings and how to read the symbols)
//! and the seek prompt. Both are centred and clear what is under them.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::style::*;

const LEGEND: &[&str] = &[
    "Cluster: LEADER = leads etcd / holds the lease; tN = Raft term;",
    "         host ✕ = cut off from the hosts listed under network.",
    "Charts:  · no request failed, ▁..█ share that failed;",
    "         █ leading, ░ leading but stopped, ▓ two leaders at once.",
    "Timeline: F fault, ▒ outage, ! split brain, ▲ cursor.",
];

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    area.centered(Constraint::Length(width.min(area.width)), Constraint::Length(height.min(area.height)))
}

/// The key table `keys`, and for a run how to read the symbols.
pub(crate) fn help(frame: &mut Frame, area: Rect, keys: &[(&str, &str)], legend: bool) {
    let key_w = keys.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0) + 2;
    let mut lines: Vec<Line> = keys
        .iter()
        .map(|(k, what)| Line::from(vec![Span::styled(format!("{k:<key_w$}"), FOCUSED), Span::raw(*what)]))
        .collect();
    if legend {
        lines.push(Line::raw(""));
        lines.extend(LEGEND.iter().map(|l| Line::styled(*l, DIM)));
    }
    let width = lines.iter().map(Line::width).max().unwrap_or(0) as u16 + 4;
    let height = lines.len() as u16 + 2;
    let rect = centered(area, width, height);
    frame.render_widget(Clear, rect);
    let block = Block::bordered().title(" Help: keys ").title_bottom(Line::from(" ? or Esc to close ").right_aligned());
    let widget = Paragraph::new(lines).block(block.border_style(FOCUSED)).wrap(Wrap { trim: false });
    frame.render_widget(widget, rect);
}

pub(crate) fn seek(frame: &mut Frame, area: Rect, input: &str, error: Option<&str>) {
    let rect = centered(area, 46, 5);
    frame.render_widget(Clear, rect);
    let status = match error {
        Some(e) => Line::styled(e.to_string(), BAD),
        None => Line::styled("Enter to seek, Esc to cancel", DIM),
    };
    let lines = vec![
        Line::from(vec![Span::raw("time: "), Span::styled(format!("{input}_"), FOCUSED)]),
        Line::styled("e.g. 45, 45.5, 1m30s, 1:30", DIM),
        status,
    ];
    let block = Block::bordered().title(" Seek to ").border_style(FOCUSED);
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}
