//! hasim-tui: a terminal UI that replays a run's report, for watching a scenario unfold
//! and reading why the cluster did what it did. It follows the Elm architecture: a
//! `Model` (`app`), messages from keys (`keys`) and wall-clock ticks, a pure `update`,
//! and `view`, which draws the model with ratatui. `replay` answers questions about
//! the report at a moment in simulated time; `sweep` is the screen of a sweep or a
//! comparison, from which `load` runs a worst seed again; `terminal` owns the real
//! terminal.
//!
//! It depends on `hasim-sim` only to read what a run produced; it never simulates.

pub mod app;
pub mod keys;
pub mod load;
pub mod replay;
#[cfg(test)]
mod sample;
pub mod sweep;
mod terminal;
pub mod timefmt;
pub mod view;

pub use app::{Model, Msg, Overlay, Pane, Screen, update};
pub use keys::key_to_msg;
pub use terminal::{run_compare, run_report, run_sweep};
pub use view::view;
