//! hasim-tui: the terminal UI that will replay a run's report (Elm architecture: Model,
//! Msg, update, view). It depends on `hasim-sim` only to read what a run produced; the
//! report format it will replay does not exist yet, so the crate is intentionally empty.
