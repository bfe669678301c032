//! The Elm-style core of the UI: `Model` (everything the screen shows), `Msg` (what can
//! happen: a key's meaning or a tick of wall time) and `update`, which changes the model
//! and nothing else. No terminal is involved, so every key binding is a plain unit test.
//!
//! The model holds one `Screen`: the replay of one run, or a sweep / comparison
//! (`crate::sweep`). Overlays, the status line and quitting live on `Model` and work the
//! same on every screen. A screen opened from another (a worst seed replayed from a
//! sweep) keeps the one it came from in `back`, and Esc returns to it.
//!
//! `update` never does I/O: when a message asks for a replay it leaves a request in
//! `Model::request`, which the loop carries out (`load::perform`) between frames.

use std::time::Duration;

use hasim_sim::report::Report;

use hasim_sim::sweep::{CompareReport, SweepReport};

use crate::replay::Replay;
use crate::sweep::{ReplayRequest, SweepView};
use crate::timefmt::parse_time;

/// Playback speeds (simulated seconds per wall second) that `+` and `-` step through.
pub const SPEEDS: [f64; 10] = [0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0];
/// 10×: a two-minute run plays in twelve seconds, slow enough to see a failover happen
/// and short enough to watch a whole run; stepping is there for reading.
pub const DEFAULT_SPEED: usize = 6;
/// The longest text the seek prompt takes (no time needs more).
const SEEK_MAX_LEN: usize = 12;

/// Everything the UI shows.
#[derive(Clone, Debug)]
pub struct Model {
    pub screen: Screen,
    pub overlay: Overlay,
    /// Set when the user asked to leave; the loop exits after this update.
    pub quit: bool,
    /// Screens to return to, the last one first.
    pub back: Vec<Screen>,
    /// A one-line message for the user (a replay that failed, a warning); cleared by
    /// the next key.
    pub status: Option<String>,
    /// Work `update` asked the loop to do.
    pub request: Option<ReplayRequest>,
}

/// What the main area shows.
#[derive(Clone, Debug)]
pub enum Screen {
    /// The replay of one run.
    Run(Box<RunView>),
    /// A sweep or a comparison of configurations.
    Sweep(Box<SweepView>),
}

/// A window drawn over the screen; it takes the keys while it is open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help,
    /// The seek prompt: what was typed so far and why the last attempt was refused.
    Seek {
        input: String,
        error: Option<String>,
    },
}

/// The panes of the run screen. In a small terminal only the focused one is shown;
/// in a large one all are, and the focused one is highlighted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pane {
    Map,
    Charts,
    Log,
    Explain,
}

impl Pane {
    pub const ALL: [Pane; 4] = [Pane::Map, Pane::Charts, Pane::Log, Pane::Explain];

    pub fn title(self) -> &'static str {
        match self {
            Pane::Map => "Cluster",
            Pane::Charts => "Charts",
            Pane::Log => "Events",
            Pane::Explain => "Explain",
        }
    }

    fn shifted(self, by: isize) -> Pane {
        let n = Pane::ALL.len() as isize;
        let i = Pane::ALL.iter().position(|&p| p == self).unwrap_or(0) as isize;
        Pane::ALL[(i + by).rem_euclid(n) as usize]
    }
}

/// The replay of one run: the report and where the viewer is in it.
#[derive(Clone, Debug)]
pub struct RunView {
    pub replay: Replay,
    /// Simulated seconds since the start, within [0, duration].
    pub cursor: f64,
    /// Index into the timeline: the last event at or before the cursor, or the event
    /// stepped to (several events can share one instant).
    pub selected: Option<usize>,
    pub playing: bool,
    /// Index into `SPEEDS`.
    pub speed: usize,
    pub focus: Pane,
}

/// What can happen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Msg {
    TogglePlay,
    /// Select the next (previous) event and move the cursor to it.
    StepNext,
    StepPrev,
    NextFault,
    PrevFault,
    /// Move to the start of the next (previous) outage.
    NextOutage,
    PrevOutage,
    Faster,
    Slower,
    /// Cursor to the start (end) of the run.
    Start,
    End,
    OpenSeek,
    /// A character for the seek prompt; a digit typed outside it opens the prompt.
    Input(char),
    Backspace,
    Submit,
    FocusNext,
    FocusPrev,
    ToggleHelp,
    /// Close the overlay if one is open, otherwise leave.
    Quit,
    /// Leave now (Ctrl-C).
    ForceQuit,
    /// Wall time that passed since the last tick.
    Tick(Duration),
}

impl Model {
    /// A model replaying `report`, paused at the start.
    pub fn new(report: Report) -> Model {
        let replay = Replay::new(report);
        let selected = replay.event_at_or_before(0.0);
        let run = RunView { replay, cursor: 0.0, selected, playing: false, speed: DEFAULT_SPEED, focus: Pane::Map };
        Model::with_screen(Screen::Run(Box::new(run)))
    }

    /// A model showing a sweep.
    pub fn sweep(report: SweepReport) -> Model {
        Model::with_screen(Screen::Sweep(Box::new(SweepView::from_sweep(report))))
    }

    /// A model showing a comparison.
    pub fn compare(report: CompareReport) -> Model {
        Model::with_screen(Screen::Sweep(Box::new(SweepView::from_compare(report))))
    }

    fn with_screen(screen: Screen) -> Model {
        Model { screen, overlay: Overlay::None, quit: false, back: Vec::new(), status: None, request: None }
    }

    /// Shows `report` on top of the current screen, which Esc returns to.
    pub fn open_run(&mut self, report: Report) {
        let run = Model::new(report).screen;
        self.back.push(std::mem::replace(&mut self.screen, run));
        self.overlay = Overlay::None;
    }

    /// The run being replayed, when the screen shows one.
    pub fn run(&self) -> Option<&RunView> {
        match &self.screen {
            Screen::Run(r) => Some(r),
            Screen::Sweep(_) => None,
        }
    }

    pub fn run_mut(&mut self) -> Option<&mut RunView> {
        match &mut self.screen {
            Screen::Run(r) => Some(r),
            Screen::Sweep(_) => None,
        }
    }

    /// The sweep or comparison, when the screen shows one.
    pub fn sweep_view(&self) -> Option<&SweepView> {
        match &self.screen {
            Screen::Sweep(s) => Some(s),
            Screen::Run(_) => None,
        }
    }
}

impl RunView {
    pub fn duration(&self) -> f64 {
        self.replay.duration
    }

    pub fn speed(&self) -> f64 {
        SPEEDS[self.speed.min(SPEEDS.len() - 1)]
    }

    /// Moves the cursor to `t` (clamped to the run) and selects the last event at or
    /// before it.
    pub fn seek(&mut self, t: f64) {
        let t = if t.is_finite() { t } else { 0.0 };
        self.cursor = t.clamp(0.0, self.duration());
        self.selected = self.replay.event_at_or_before(self.cursor);
    }

    /// Selects event `i` and moves the cursor to its time.
    fn select(&mut self, i: usize) {
        if let Some(e) = self.replay.report.timeline.get(i) {
            self.cursor = e.at.clamp(0.0, self.duration());
            self.selected = Some(i);
        }
    }

    fn step_next(&mut self) {
        // Stepping is for reading: it stops playback so the text stays put.
        self.playing = false;
        let next = self.selected.map_or(0, |i| i + 1);
        self.select(next);
    }

    fn step_prev(&mut self) {
        self.playing = false;
        match self.selected {
            Some(i) if i > 0 => self.select(i - 1),
            Some(_) => self.seek(0.0),
            None => {}
        }
    }

    fn jump_fault(&mut self, forward: bool) {
        self.playing = false;
        let faults = &self.replay.faults;
        let target = match (forward, self.selected) {
            (true, None) => faults.first().copied(),
            (true, Some(pos)) => faults.iter().copied().find(|&i| i > pos),
            (false, None) => None,
            (false, Some(pos)) => faults.iter().copied().rev().find(|&i| i < pos),
        };
        if let Some(i) = target {
            self.select(i);
        }
    }

    fn jump_outage(&mut self, forward: bool) {
        self.playing = false;
        let cursor = self.cursor;
        let spans = &self.replay.outage_spans;
        let target = if forward {
            spans.iter().map(|s| s.0).find(|&s| s > cursor)
        } else {
            spans.iter().map(|s| s.0).rev().find(|&s| s < cursor)
        };
        if let Some(t) = target {
            self.seek(t);
        }
    }

    fn toggle_play(&mut self) {
        if !self.playing && self.cursor >= self.duration() {
            // Play at the end starts over, as media players do.
            self.seek(0.0);
        }
        self.playing = !self.playing;
    }

    fn tick(&mut self, elapsed: Duration) {
        if !self.playing {
            return;
        }
        self.seek(self.cursor + elapsed.as_secs_f64() * self.speed());
        if self.cursor >= self.duration() {
            self.playing = false;
        }
    }

    fn apply(&mut self, msg: Msg) {
        match msg {
            Msg::TogglePlay => self.toggle_play(),
            Msg::StepNext => self.step_next(),
            Msg::StepPrev => self.step_prev(),
            Msg::NextFault => self.jump_fault(true),
            Msg::PrevFault => self.jump_fault(false),
            Msg::NextOutage => self.jump_outage(true),
            Msg::PrevOutage => self.jump_outage(false),
            Msg::Faster => self.speed = (self.speed + 1).min(SPEEDS.len() - 1),
            Msg::Slower => self.speed = self.speed.saturating_sub(1),
            Msg::Start => self.seek(0.0),
            Msg::End => {
                self.playing = false;
                self.seek(self.duration());
            }
            Msg::FocusNext => self.focus = self.focus.shifted(1),
            Msg::FocusPrev => self.focus = self.focus.shifted(-1),
            Msg::Tick(d) => self.tick(d),
            Msg::OpenSeek
            | Msg::Input(_)
            | Msg::Backspace
            | Msg::Submit
            | Msg::ToggleHelp
            | Msg::Quit
            | Msg::ForceQuit => {}
        }
    }
}

/// Applies `msg` to `model`.
pub fn update(model: &mut Model, msg: Msg) {
    match msg {
        Msg::ForceQuit => {
            model.quit = true;
            return;
        }
        Msg::Quit => {
            model.status = None;
            if model.overlay != Overlay::None {
                model.overlay = Overlay::None;
            } else if let Some(previous) = model.back.pop() {
                model.screen = previous;
            } else {
                model.quit = true;
            }
            return;
        }
        // Playback goes on behind an overlay: the help and the prompt do not stop time.
        Msg::Tick(d) => {
            if let Some(run) = model.run_mut() {
                run.tick(d);
            }
            return;
        }
        _ => model.status = None,
    }
    match &mut model.overlay {
        Overlay::Help => {
            if msg == Msg::ToggleHelp {
                model.overlay = Overlay::None;
            }
        }
        Overlay::Seek { input, error } => match msg {
            Msg::Input(c) if is_time_char(c) && input.len() < SEEK_MAX_LEN => {
                input.push(c);
                *error = None;
            }
            Msg::Backspace => {
                input.pop();
                *error = None;
            }
            Msg::Submit => match parse_time(input) {
                Some(t) => {
                    if let Some(run) = model.run_mut() {
                        run.seek(t);
                    }
                    model.overlay = Overlay::None;
                }
                None => *error = Some("not a time: try 45, 1m30s or 1:30".to_string()),
            },
            // Other keys would act on the screen behind the prompt; they are ignored.
            _ => {}
        },
        Overlay::None => match (msg, &mut model.screen) {
            (Msg::ToggleHelp, _) => model.overlay = Overlay::Help,
            (Msg::OpenSeek, Screen::Run(_)) => model.overlay = Overlay::Seek { input: String::new(), error: None },
            (Msg::Input(c), Screen::Run(_)) if c.is_ascii_digit() => {
                model.overlay = Overlay::Seek { input: c.to_string(), error: None };
            }
            (other, Screen::Run(run)) => run.apply(other),
            (other, Screen::Sweep(sweep)) => {
                if let Some(req) = sweep.apply(other) {
                    let variant = req.variant.as_deref().map(|v| format!(" [{v}]")).unwrap_or_default();
                    model.status = Some(format!("running seed {} of {}{variant}…", req.seed, req.file));
                    model.request = Some(req);
                }
            }
        },
    }
}

/// Characters a time can be written with (see `timefmt::parse_time`).
fn is_time_char(c: char) -> bool {
    c.is_ascii_digit() || matches!(c, '.' | ':' | 'h' | 'm' | 's')
}

#[cfg(test)]
mod tests;
