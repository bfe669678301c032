//! The real terminal: raw mode and the alternate screen on the way in, restored on the
//! way out whether the loop ended, failed or panicked (ratatui's `try_init` installs a
//! panic hook that restores the terminal before the panic message is printed). The loop
//! draws, waits for a key for at most one tick, and feeds the wall time that passed to
//! `update` so playback runs at `speed` simulated seconds per real second.

use std::io;
use std::time::{Duration, Instant};

use hasim_sim::report::Report;
use hasim_sim::sweep::{CompareReport, SweepReport};
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self, Event};

use crate::app::{Model, Msg, update};
use crate::keys::key_to_msg;
use crate::load;
use crate::view::view;

/// How often the screen is redrawn while playing (25 frames a second is smooth enough
/// for a cursor crossing columns, and cheap).
const TICK: Duration = Duration::from_millis(40);
/// How long to wait for a key when nothing moves: the screen only changes on input.
const IDLE_WAIT: Duration = Duration::from_millis(250);

/// Replays `report` in the terminal until the user quits.
pub fn run_report(report: Report) -> io::Result<()> {
    run_model(Model::new(report))
}

/// Shows a sweep; Enter on a worst seed replays it.
pub fn run_sweep(report: SweepReport) -> io::Result<()> {
    run_model(Model::sweep(report))
}

/// Shows a comparison; Enter on a worst seed replays it.
pub fn run_compare(report: CompareReport) -> io::Result<()> {
    run_model(Model::compare(report))
}

fn run_model(mut model: Model) -> io::Result<()> {
    let mut terminal = match ratatui::try_init() {
        Ok(t) => t,
        Err(e) => {
            // Raw mode may be on although the alternate screen failed; undo what was done.
            let _ = ratatui::try_restore();
            return Err(e);
        }
    };
    let result = event_loop(&mut terminal, &mut model);
    let restored = ratatui::try_restore();
    result.and(restored)
}

fn event_loop(terminal: &mut DefaultTerminal, model: &mut Model) -> io::Result<()> {
    let mut last = Instant::now();
    while !model.quit {
        terminal.draw(|frame| view(model, frame))?;
        if model.request.is_some() {
            // The frame just drawn says what is running; the run takes a moment, and
            // that moment must not count as playback time.
            load::perform(model);
            last = Instant::now();
            continue;
        }
        let playing = model.run().is_some_and(|r| r.playing);
        let wait = if playing { TICK.saturating_sub(last.elapsed()) } else { IDLE_WAIT };
        let input = if event::poll(wait)? { Some(event::read()?) } else { None };
        // Time is applied before the key: the wait that ended in a press of space
        // happened while paused and must not jump the cursor once playing.
        let now = Instant::now();
        update(model, Msg::Tick(now.duration_since(last)));
        last = now;
        // A resize is picked up by the next draw; other events mean nothing here.
        if let Some(Event::Key(key)) = input
            && let Some(msg) = key_to_msg(key)
        {
            update(model, msg);
        }
    }
    Ok(())
}
