//! Every key binding, pressed on the hand-made sample report (`crate::sample`): the key
//! goes through `key_to_msg` and `update` as in the real loop, and each test says what
//! the model must look like afterwards.
//!
//! The sample's timeline: 0 etcd @1, 1 fault @10, 2 etcd @11.5, 3 lb @14, 4 fault @30,
//! 5 split brain @30, 6 lease @40; outages merge to [10, 14.2] and [35, 36]; 60 s long.

use std::time::Duration;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::*;
use crate::keys::key_to_msg;

fn model() -> Model {
    Model::new(crate::sample::report())
}

fn press(m: &mut Model, code: KeyCode) {
    press_with(m, code, KeyModifiers::NONE);
}

fn press_with(m: &mut Model, code: KeyCode, modifiers: KeyModifiers) {
    if let Some(msg) = key_to_msg(KeyEvent::new(code, modifiers)) {
        update(m, msg);
    }
}

fn typed(m: &mut Model, text: &str) {
    for c in text.chars() {
        press(m, KeyCode::Char(c));
    }
}

fn run(m: &Model) -> &RunView {
    m.run().expect("the sample is a run")
}

/// (cursor, selected) of the model.
fn at(m: &Model) -> (f64, Option<usize>) {
    (run(m).cursor, run(m).selected)
}

fn tick(m: &mut Model, secs: f64) {
    update(m, Msg::Tick(Duration::from_secs_f64(secs)));
}

#[test]
fn starts_paused_at_zero_before_any_event() {
    let m = model();
    assert_eq!(at(&m), (0.0, None));
    assert!(!run(&m).playing);
    assert_eq!(run(&m).speed(), 10.0);
    assert_eq!(run(&m).focus, Pane::Map);
    assert_eq!(m.overlay, Overlay::None);
    assert!(!m.quit);
}

#[test]
fn space_plays_and_ticks_advance_at_speed() {
    let mut m = model();
    press(&mut m, KeyCode::Char(' '));
    assert!(run(&m).playing);
    tick(&mut m, 0.5);
    // 0.5 s of wall time at 10× is 5 simulated seconds: past the first event only.
    assert_eq!(at(&m), (5.0, Some(0)));
    press(&mut m, KeyCode::Char(' '));
    assert!(!run(&m).playing);
    tick(&mut m, 0.5);
    assert_eq!(at(&m), (5.0, Some(0)), "a paused replay does not move");
}

#[test]
fn playback_stops_at_the_end_and_space_replays_from_the_start() {
    let mut m = model();
    press(&mut m, KeyCode::Char(' '));
    tick(&mut m, 100.0);
    assert_eq!(at(&m), (60.0, Some(6)));
    assert!(!run(&m).playing);
    press(&mut m, KeyCode::Char(' '));
    assert!(run(&m).playing);
    assert_eq!(at(&m), (0.0, None));
}

#[test]
fn right_down_and_n_step_to_the_next_event_and_pause() {
    for key in [KeyCode::Right, KeyCode::Down, KeyCode::Char('n')] {
        let mut m = model();
        press(&mut m, KeyCode::Char(' '));
        press(&mut m, key);
        assert_eq!(at(&m), (1.0, Some(0)), "{key:?}");
        assert!(!run(&m).playing, "{key:?} pauses");
        press(&mut m, key);
        assert_eq!(at(&m), (10.0, Some(1)), "{key:?}");
    }
}

#[test]
fn stepping_visits_each_event_of_one_instant_and_stops_at_the_last() {
    let mut m = model();
    for _ in 0..5 {
        press(&mut m, KeyCode::Char('n'));
    }
    assert_eq!(at(&m), (30.0, Some(4)));
    press(&mut m, KeyCode::Char('n'));
    assert_eq!(at(&m), (30.0, Some(5)), "same instant, next event");
    press(&mut m, KeyCode::Char('n'));
    press(&mut m, KeyCode::Char('n'));
    assert_eq!(at(&m), (40.0, Some(6)), "no event after the last");
}

#[test]
fn left_up_and_p_step_back() {
    for key in [KeyCode::Left, KeyCode::Up, KeyCode::Char('p')] {
        let mut m = model();
        run_mut(&mut m).seek(31.0);
        assert_eq!(at(&m), (31.0, Some(5)));
        press(&mut m, key);
        assert_eq!(at(&m), (30.0, Some(4)), "{key:?}");
        press(&mut m, key);
        assert_eq!(at(&m), (14.0, Some(3)), "{key:?}");
    }
    let mut m = model();
    press(&mut m, KeyCode::Char('n'));
    press(&mut m, KeyCode::Char('p'));
    assert_eq!(at(&m), (0.0, None), "before the first event: the start");
    press(&mut m, KeyCode::Char('p'));
    assert_eq!(at(&m), (0.0, None));
}

fn run_mut(m: &mut Model) -> &mut RunView {
    m.run_mut().expect("the sample is a run")
}

#[test]
fn f_and_shift_f_jump_between_faults() {
    let mut m = model();
    press(&mut m, KeyCode::Char('f'));
    assert_eq!(at(&m), (10.0, Some(1)));
    press(&mut m, KeyCode::Char('f'));
    assert_eq!(at(&m), (30.0, Some(4)));
    press(&mut m, KeyCode::Char('f'));
    assert_eq!(at(&m), (30.0, Some(4)), "no fault after the last");
    press(&mut m, KeyCode::Char('F'));
    assert_eq!(at(&m), (10.0, Some(1)));
    press(&mut m, KeyCode::Char('F'));
    assert_eq!(at(&m), (10.0, Some(1)), "no fault before the first");
}

#[test]
fn o_and_shift_o_jump_between_outage_starts() {
    let mut m = model();
    press(&mut m, KeyCode::Char('o'));
    // Writes and quorum reads overlap: one outage from 10 s; the fault at 10 s is selected.
    assert_eq!(at(&m), (10.0, Some(1)));
    press(&mut m, KeyCode::Char('o'));
    assert_eq!(at(&m), (35.0, Some(5)));
    press(&mut m, KeyCode::Char('o'));
    assert_eq!(at(&m), (35.0, Some(5)), "no outage after the last");
    press(&mut m, KeyCode::Char('O'));
    assert_eq!(at(&m), (10.0, Some(1)));
}

#[test]
fn plus_and_minus_change_speed_within_the_ladder() {
    let mut m = model();
    press(&mut m, KeyCode::Char('+'));
    assert_eq!(run(&m).speed(), 20.0);
    press(&mut m, KeyCode::Char('='));
    assert_eq!(run(&m).speed(), 50.0);
    for _ in 0..5 {
        press(&mut m, KeyCode::Char('+'));
    }
    assert_eq!(run(&m).speed(), 100.0, "clamped at the fastest");
    press(&mut m, KeyCode::Char('-'));
    assert_eq!(run(&m).speed(), 50.0);
    press(&mut m, KeyCode::Char('_'));
    assert_eq!(run(&m).speed(), 20.0);
    for _ in 0..20 {
        press(&mut m, KeyCode::Char('-'));
    }
    assert_eq!(run(&m).speed(), 0.1, "clamped at the slowest");
}

#[test]
fn home_and_end() {
    let mut m = model();
    press(&mut m, KeyCode::End);
    assert_eq!(at(&m), (60.0, Some(6)));
    press(&mut m, KeyCode::Home);
    assert_eq!(at(&m), (0.0, None));
    press(&mut m, KeyCode::Char(' '));
    press(&mut m, KeyCode::End);
    assert!(!run(&m).playing, "End stops playback");
}

#[test]
fn g_opens_the_seek_prompt_and_enter_seeks() {
    let mut m = model();
    press(&mut m, KeyCode::Char('g'));
    assert_eq!(m.overlay, Overlay::Seek { input: String::new(), error: None });
    typed(&mut m, "0m45sx");
    assert_eq!(m.overlay, Overlay::Seek { input: "0m45s".into(), error: None }, "x is not part of a time");
    press(&mut m, KeyCode::Enter);
    assert_eq!(m.overlay, Overlay::None);
    assert_eq!(at(&m), (45.0, Some(6)));
}

#[test]
fn seek_prompt_backspace_errors_and_clamping() {
    let mut m = model();
    press(&mut m, KeyCode::Char('g'));
    typed(&mut m, "1:");
    press(&mut m, KeyCode::Enter);
    assert_eq!(
        m.overlay,
        Overlay::Seek { input: "1:".into(), error: Some("not a time: try 45, 1m30s or 1:30".into()) }
    );
    assert_eq!(at(&m), (0.0, None), "a refused time does not move the cursor");
    press(&mut m, KeyCode::Backspace);
    press(&mut m, KeyCode::Backspace);
    assert_eq!(m.overlay, Overlay::Seek { input: String::new(), error: None });
    typed(&mut m, "2m");
    press(&mut m, KeyCode::Enter);
    assert_eq!(at(&m), (60.0, Some(6)), "past the end: the end");
}

#[test]
fn seek_prompt_ignores_command_keys_and_esc_cancels() {
    let mut m = model();
    typed(&mut m, "3");
    assert_eq!(m.overlay, Overlay::Seek { input: "3".into(), error: None }, "a digit opens the prompt");
    press(&mut m, KeyCode::Char('n'));
    press(&mut m, KeyCode::Char('f'));
    press(&mut m, KeyCode::Tab);
    assert_eq!(at(&m), (0.0, None));
    assert_eq!(run(&m).focus, Pane::Map);
    press(&mut m, KeyCode::Esc);
    assert_eq!(m.overlay, Overlay::None);
    assert_eq!(at(&m), (0.0, None), "cancelled");
    assert!(!m.quit, "Esc closed the prompt, it did not quit");
    press(&mut m, KeyCode::Char('g'));
    press(&mut m, KeyCode::Char('q'));
    assert_eq!(m.overlay, Overlay::None, "q closes the prompt like Esc");
    assert!(!m.quit);
}

#[test]
fn tab_and_backtab_cycle_the_panes() {
    let mut m = model();
    let mut seen = vec![];
    for _ in 0..4 {
        press(&mut m, KeyCode::Tab);
        seen.push(run(&m).focus);
    }
    assert_eq!(seen, [Pane::Charts, Pane::Log, Pane::Explain, Pane::Map]);
    press_with(&mut m, KeyCode::BackTab, KeyModifiers::SHIFT);
    assert_eq!(run(&m).focus, Pane::Explain);
}

#[test]
fn question_mark_toggles_help_which_takes_the_keys() {
    let mut m = model();
    press(&mut m, KeyCode::Char('?'));
    assert_eq!(m.overlay, Overlay::Help);
    press(&mut m, KeyCode::Char(' '));
    press(&mut m, KeyCode::Char('n'));
    assert!(!run(&m).playing);
    assert_eq!(at(&m), (0.0, None), "keys behind the help do nothing");
    press(&mut m, KeyCode::Char('?'));
    assert_eq!(m.overlay, Overlay::None);
    press(&mut m, KeyCode::F(1));
    assert_eq!(m.overlay, Overlay::Help);
}

#[test]
fn q_and_esc_close_the_overlay_first_then_quit() {
    for key in [KeyCode::Char('q'), KeyCode::Esc] {
        let mut m = model();
        press(&mut m, KeyCode::Char('?'));
        press(&mut m, key);
        assert_eq!(m.overlay, Overlay::None, "{key:?}");
        assert!(!m.quit, "{key:?}");
        press(&mut m, key);
        assert!(m.quit, "{key:?}");
    }
}

#[test]
fn ctrl_c_quits_at_once() {
    let mut m = model();
    press(&mut m, KeyCode::Char('g'));
    press_with(&mut m, KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert!(m.quit);
}

#[test]
fn playback_continues_behind_an_overlay() {
    let mut m = model();
    press(&mut m, KeyCode::Char(' '));
    press(&mut m, KeyCode::Char('?'));
    tick(&mut m, 1.0);
    assert_eq!(at(&m), (10.0, Some(1)));
}

#[test]
fn key_releases_and_unbound_keys_mean_nothing() {
    let release = KeyEvent { kind: KeyEventKind::Release, ..KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE) };
    assert_eq!(key_to_msg(release), None);
    assert_eq!(key_to_msg(KeyEvent::new(KeyCode::Char('z'), KeyModifiers::NONE)), None);
    assert_eq!(key_to_msg(KeyEvent::new(KeyCode::Char('x'), KeyModifiers::CONTROL)), None);
}

#[test]
fn a_report_without_events_or_time_does_not_break_anything() {
    let mut report = crate::sample::report();
    report.timeline.clear();
    report.states.clear();
    report.outages.clear();
    report.scenario.duration = f64::NAN;
    let mut m = Model::new(report);
    assert_eq!(run(&m).duration(), 1.0);
    for key in [KeyCode::Char('n'), KeyCode::Char('p'), KeyCode::Char('f'), KeyCode::Char('F'), KeyCode::Char('o')] {
        press(&mut m, key);
    }
    press(&mut m, KeyCode::End);
    assert_eq!(at(&m), (1.0, None));
}

// The sweep screen (`crate::sample::sweep`: worst seeds 3, 4, 2, 1 in that order).

fn worst(m: &Model) -> (usize, usize) {
    let s = m.sweep_view().expect("a sweep screen");
    (s.variant, s.worst)
}

#[test]
fn sweep_arrows_and_n_p_select_worst_seeds() {
    let mut m = Model::sweep(crate::sample::sweep());
    let seeds: Vec<u64> =
        m.sweep_view().map(|s| s.entries[0].summary.worst_seeds.iter().map(|w| w.seed).collect()).unwrap_or_default();
    assert_eq!(seeds, [3, 4, 2, 1]);
    for (key, expect) in [(KeyCode::Down, 1), (KeyCode::Char('n'), 2), (KeyCode::Right, 3), (KeyCode::Down, 3)] {
        press(&mut m, key);
        assert_eq!(worst(&m), (0, expect), "{key:?}");
    }
    for (key, expect) in [(KeyCode::Up, 2), (KeyCode::Char('p'), 1), (KeyCode::Left, 0), (KeyCode::Up, 0)] {
        press(&mut m, key);
        assert_eq!(worst(&m), (0, expect), "{key:?}");
    }
    press(&mut m, KeyCode::End);
    assert_eq!(worst(&m), (0, 3));
    press(&mut m, KeyCode::Home);
    assert_eq!(worst(&m), (0, 0));
}

#[test]
fn sweep_tab_changes_configuration_and_plus_minus_the_statistic() {
    let mut m = Model::compare(crate::sample::compare());
    press(&mut m, KeyCode::Down);
    press(&mut m, KeyCode::Tab);
    assert_eq!(worst(&m), (1, 0), "a new configuration starts at its worst seed");
    press(&mut m, KeyCode::Tab);
    assert_eq!(worst(&m).0, 0, "wraps");
    press_with(&mut m, KeyCode::BackTab, KeyModifiers::SHIFT);
    assert_eq!(worst(&m).0, 1);
    let stat = |m: &Model| m.sweep_view().map(|s| s.stat);
    assert_eq!(stat(&m), Some(crate::sweep::Stat::P99));
    press(&mut m, KeyCode::Char('+'));
    assert_eq!(stat(&m), Some(crate::sweep::Stat::Max));
    press(&mut m, KeyCode::Char('+'));
    assert_eq!(stat(&m), Some(crate::sweep::Stat::Max), "clamped");
    for _ in 0..5 {
        press(&mut m, KeyCode::Char('-'));
    }
    assert_eq!(stat(&m), Some(crate::sweep::Stat::Min));
}

#[test]
fn sweep_enter_asks_for_a_replay_and_the_loop_reports_failures() {
    let mut m = Model::compare(crate::sample::compare());
    press(&mut m, KeyCode::Tab);
    press(&mut m, KeyCode::Down);
    press(&mut m, KeyCode::Enter);
    let req = m.request.clone().expect("a replay was asked for");
    assert_eq!((req.file.as_str(), req.variant.as_deref(), req.seed), ("sample.yaml", Some("external"), 4));
    assert_eq!(m.status.as_deref(), Some("running seed 4 of sample.yaml [external]…"));
    crate::load::perform(&mut m);
    assert!(m.request.is_none());
    assert!(m.sweep_view().is_some(), "still on the sweep");
    assert!(m.status.as_deref().is_some_and(|s| s.starts_with("cannot read sample.yaml")), "{:?}", m.status);
    press(&mut m, KeyCode::Down);
    assert_eq!(m.status, None, "the next key clears the status");
}

#[test]
fn esc_returns_from_a_replayed_seed_to_the_sweep() {
    let mut m = Model::sweep(crate::sample::sweep());
    m.open_run(crate::sample::report());
    assert!(m.run().is_some());
    press(&mut m, KeyCode::Char('?'));
    press(&mut m, KeyCode::Esc);
    assert!(m.run().is_some(), "Esc closed the help first");
    press(&mut m, KeyCode::Esc);
    assert!(m.sweep_view().is_some() && !m.quit, "back on the sweep");
    press(&mut m, KeyCode::Char('q'));
    assert!(m.quit);
}

#[test]
fn seek_and_playback_keys_do_nothing_on_the_sweep() {
    let mut m = Model::sweep(crate::sample::sweep());
    for key in [KeyCode::Char('g'), KeyCode::Char('4'), KeyCode::Char(' '), KeyCode::Char('f'), KeyCode::Char('o')] {
        press(&mut m, key);
    }
    assert_eq!(m.overlay, Overlay::None);
    assert_eq!(worst(&m), (0, 0));
    tick(&mut m, 1.0);
    press(&mut m, KeyCode::Char('?'));
    assert_eq!(m.overlay, Overlay::Help);
}
