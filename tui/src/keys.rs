//! Keys to messages. The mapping is the same whatever is on screen: a key means one
//! `Msg`, and `update` decides what that message does in the current state (so `q`
//! and Esc close an overlay before they quit, and time characters go to the seek
//! prompt only while it is open). `HELP` is the table the help overlay shows.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::app::Msg;

/// The message for `key`, or `None` for keys that mean nothing here.
pub fn key_to_msg(key: KeyEvent) -> Option<Msg> {
    // Windows terminals report releases too; only presses (and repeats) are input.
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return match key.code {
            KeyCode::Char('c') => Some(Msg::ForceQuit),
            _ => None,
        };
    }
    let msg = match key.code {
        KeyCode::Char(' ') => Msg::TogglePlay,
        KeyCode::Right | KeyCode::Down | KeyCode::Char('n') => Msg::StepNext,
        KeyCode::Left | KeyCode::Up | KeyCode::Char('p') => Msg::StepPrev,
        KeyCode::Char('f') => Msg::NextFault,
        KeyCode::Char('F') => Msg::PrevFault,
        KeyCode::Char('o') => Msg::NextOutage,
        KeyCode::Char('O') => Msg::PrevOutage,
        KeyCode::Char('+') | KeyCode::Char('=') => Msg::Faster,
        KeyCode::Char('-') | KeyCode::Char('_') => Msg::Slower,
        KeyCode::Home => Msg::Start,
        KeyCode::End => Msg::End,
        KeyCode::Char('g') => Msg::OpenSeek,
        KeyCode::Char(c) if c.is_ascii_digit() || matches!(c, '.' | ':' | 'h' | 'm' | 's') => Msg::Input(c),
        KeyCode::Backspace => Msg::Backspace,
        KeyCode::Enter => Msg::Submit,
        KeyCode::Tab => Msg::FocusNext,
        KeyCode::BackTab => Msg::FocusPrev,
        KeyCode::Char('?') | KeyCode::F(1) => Msg::ToggleHelp,
        KeyCode::Char('q') | KeyCode::Esc => Msg::Quit,
        _ => return None,
    };
    Some(msg)
}

/// Key bindings as the help overlay lists them: (keys, what they do).
pub const HELP: &[(&str, &str)] = &[
    ("space", "play / pause (at the end: replay from the start)"),
    ("→ ↓ n", "next event (pauses)"),
    ("← ↑ p", "previous event (pauses)"),
    ("f / F", "next / previous fault"),
    ("o / O", "next / previous outage start"),
    ("+ / -", "faster / slower playback"),
    ("g", "seek to a time: 45, 1m30s, 1:30 (digits also open it)"),
    ("Home / End", "start / end of the run"),
    ("Tab / S-Tab", "next / previous pane"),
    ("?", "this help"),
    ("q / Esc", "close the window on top, back to the sweep, else quit"),
    ("Ctrl-C", "quit at once"),
];

/// Key bindings of the sweep and comparison screen.
pub const SWEEP_HELP: &[(&str, &str)] = &[
    ("↑ ↓ n p", "select one of the worst seeds"),
    ("Home / End", "first / last of the worst seeds"),
    ("Enter", "run that seed again and replay it (Esc comes back)"),
    ("Tab / S-Tab", "next / previous configuration (comparison)"),
    ("+ / -", "statistic shown: min, p50, p90, p99, max (comparison)"),
    ("?", "this help"),
    ("q / Esc", "close the window on top, else quit"),
    ("Ctrl-C", "quit at once"),
];
