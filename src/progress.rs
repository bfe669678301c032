//! Progress on stderr for work that takes a while: a bar over the seeds of a sweep,
//! and one over simulated time for a single long run. Bars are drawn only on a
//! terminal, never into CI logs or pipes. They only watch: what is simulated, and in
//! which order, is the same with or without them.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use hasim_sim::cluster::Simulation;
use hasim_sim::{SimDuration, SimTime};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar of `len` steps drawn with `template` on stderr if it is a terminal, hidden
/// otherwise.
pub fn bar(len: u64, template: &str, prefix: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden());
    if std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::stderr());
    }
    bar.set_style(ProgressStyle::with_template(template).expect("a valid template").progress_chars("=> "));
    bar.set_prefix(prefix.to_string());
    bar
}

/// How long a single run goes before its bar appears: a typical scenario takes a
/// fraction of this, and a bar that flashes past is noise.
const SHOW_AFTER: Duration = Duration::from_secs(1);

/// How much simulated time runs between two looks at the clock and the bar. Running
/// a simulation to successive times is the same as running it to the last one.
const STEP: SimDuration = SimDuration::from_secs(1);

/// Runs `sim` to `end`, with a bar over simulated time once the run has taken a
/// second (and stderr is a terminal).
pub fn run_until(sim: &mut Simulation, end: SimTime, label: &str) {
    let started = Instant::now();
    let total = (end - SimTime::ZERO).as_micros() / 1_000_000;
    let mut shown: Option<ProgressBar> = None;
    // At least one step, so that a run to time zero still handles what is due then.
    loop {
        let next = (sim.now() + STEP).min(end);
        sim.run_until(next);
        match &shown {
            Some(b) => b.set_position(sim.now().as_micros() / 1_000_000),
            None if started.elapsed() >= SHOW_AFTER && std::io::stderr().is_terminal() => {
                let b = bar(total, "{prefix} [{bar:40}] {pos}/{len} s simulated, eta {eta}", label);
                b.set_position(sim.now().as_micros() / 1_000_000);
                shown = Some(b);
            }
            None => {}
        }
        if next >= end {
            break;
        }
    }
    if let Some(b) = shown {
        b.finish_and_clear();
    }
}
