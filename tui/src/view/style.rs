//! The few styles the UI uses, named by meaning so every pane colours the same thing
//! the same way (red for what is failing, green for what serves, yellow for what waits).

use ratatui::style::{Color, Modifier, Style};

pub const OK: Style = Style::new().fg(Color::Green);
pub const BAD: Style = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
pub const WARN: Style = Style::new().fg(Color::Yellow);
pub const DIM: Style = Style::new().fg(Color::DarkGray);
pub const FOCUSED: Style = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
pub const TITLE: Style = Style::new().fg(Color::Black).bg(Color::Cyan).add_modifier(Modifier::BOLD);
pub const FAULT: Style = Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD);
pub const LEADER: Style = Style::new().fg(Color::Green).add_modifier(Modifier::BOLD);
pub const PAUSED: Style = Style::new().fg(Color::Magenta);
/// The column or row the cursor is on.
pub const CURSOR: Style = Style::new().add_modifier(Modifier::REVERSED);
pub const CURSOR_MARK: Style = Style::new().fg(Color::Cyan);
pub const HEADING: Style = Style::new().add_modifier(Modifier::BOLD);
