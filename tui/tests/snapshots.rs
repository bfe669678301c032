//! Text snapshots of key moments of real runs, at 80×24 (one pane at a time) and
//! 160×48 (everything at once). Each moment is reached the way a user would get there
//! (jumping to a fault, stepping, seeking), and each test says what the screen must
//! show; the snapshot files under `snapshots/` were reviewed line by line.

mod common;

use common::{render, report_of};
use hasim_tui::{Model, Msg, Pane, update};

/// The model of `scenario` after `msgs`.
fn at(scenario: &str, msgs: &[Msg]) -> Model {
    let mut m = Model::new(report_of(scenario));
    for &msg in msgs {
        update(&mut m, msg);
    }
    m
}

fn seek(m: &mut Model, t: f64) {
    m.run_mut().expect("a run").seek(t);
}

fn focus(m: &mut Model, pane: Pane) {
    while m.run().expect("a run").focus != pane {
        update(m, Msg::FocusNext);
    }
}

/// stacked-3-lose-one, right after cp-2 lost power: the fault selected; cp-2 DOWN while
/// the LB still has it UP; etcd has no leader yet; requests are failing.
#[test]
fn stacked_crash() {
    let mut m = at("stacked-3-lose-one", &[Msg::NextFault]);
    seek(&mut m, 31.0);
    let screen = render(&m, 160, 48);
    assert!(screen.contains("▶  30.000 cp-2 fault"), "the crash is the selected event");
    assert!(screen.contains("lb-1   up    backends cp-1 UP, cp-2 UP, cp-3 UP"));
    insta::assert_snapshot!("stacked_crash_160x48", screen);
    let screen = render(&m, 80, 24);
    assert!(screen.contains("cp-2   DOWN"));
    insta::assert_snapshot!("stacked_crash_80x24", screen);
    focus(&mut m, Pane::Log);
    let screen = render(&m, 80, 24);
    assert!(screen.contains("▶  30.000 cp-2 fault"));
    insta::assert_snapshot!("stacked_crash_events_80x24", screen);
}

/// stacked-3-lose-one once the LB has marked cp-2 DOWN: stepped to that event, the
/// explanation shows cp-2 and the LB's backends, and the HAProxy note.
#[test]
fn stacked_marked_down() {
    let mut m = at("stacked-3-lose-one", &[Msg::NextFault]);
    while !m
        .run()
        .and_then(|r| r.selected)
        .is_some_and(|i| m.run().is_some_and(|r| r.replay.report.timeline[i].text.contains("marked cp-2 DOWN")))
    {
        update(&mut m, Msg::StepNext);
    }
    let screen = render(&m, 160, 48);
    assert!(screen.contains("backends cp-1 UP, cp-2 DOWN, cp-3 UP"));
    assert!(screen.contains("leader cp-3 (term 3)"));
    insta::assert_snapshot!("stacked_marked_down_160x48", screen);
    focus(&mut m, Pane::Explain);
    let screen = render(&m, 80, 24);
    assert!(screen.contains("lb-1 right after this:"));
    insta::assert_snapshot!("stacked_marked_down_explain_80x24", screen);
}

/// etcd-leader-isolated between the old leader's step-down (31.341 s) and the new
/// election (31.647 s): cp-2 cut off from everyone, no etcd leader, cp-2 still leading
/// the scheduler and controller-manager.
#[test]
fn isolated_leader_no_leader_yet() {
    let mut m = at("etcd-leader-isolated", &[]);
    seek(&mut m, 31.5);
    let screen = render(&m, 160, 48);
    assert!(screen.contains("network   cp-2 ✕ cp-1, cp-3, lb-1, client"));
    assert!(screen.contains("no leader: writes and quorum reads wait"));
    insta::assert_snapshot!("isolated_no_leader_160x48", screen);
    let screen = render(&m, 80, 24);
    assert!(screen.contains("cp-2 ✕ up"));
    insta::assert_snapshot!("isolated_no_leader_80x24", screen);
}

/// frozen-host while cp-2 is frozen: it still believes it leads term 2 while cp-3 leads
/// term 3, but a frozen leader acts on nothing, so this is not a split brain (it steps
/// down on the backlog of higher-term messages as soon as it thaws).
#[test]
fn frozen_host_leader_is_not_a_split_brain() {
    let mut m = at("frozen-host", &[]);
    seek(&mut m, 40.0);
    let screen = render(&m, 160, 48);
    assert!(screen.contains("cp-2   FROZEN"));
    assert!(screen.contains("leaders cp-2 (term 2, frozen), cp-3 (term 3)"), "{screen}");
    assert!(!screen.contains("SPLIT BRAIN"), "{screen}");
    insta::assert_snapshot!("frozen_leader_160x48", screen);
    let screen = render(&m, 80, 24);
    assert!(screen.contains("FROZEN"));
    insta::assert_snapshot!("frozen_leader_80x24", screen);
}

/// controller-manager-paused after the frozen leader woke up at 55 s: two
/// controller-managers lead until 65 s; the lease lanes show the overlap.
#[test]
fn controller_manager_overlap() {
    let mut m = at("controller-manager-paused", &[]);
    seek(&mut m, 57.0);
    let screen = render(&m, 160, 48);
    assert!(screen.contains("ctrl-mgr  leader cp-1, cp-2  SPLIT BRAIN"));
    assert!(screen.contains("▓"));
    insta::assert_snapshot!("kcm_overlap_160x48", screen);
    focus(&mut m, Pane::Charts);
    let screen = render(&m, 80, 24);
    assert!(screen.contains("kcm cp-2"));
    insta::assert_snapshot!("kcm_overlap_charts_80x24", screen);
}

/// lb-host-failure-with-vip after lb-1 died: lb-2 holds the VIP.
#[test]
fn vip_moved() {
    let mut m = at("lb-host-failure-with-vip", &[]);
    seek(&mut m, 34.0);
    let screen = render(&m, 80, 24);
    assert!(screen.contains("held by lb-2"));
    assert!(screen.contains("[VIP]"));
    insta::assert_snapshot!("vip_moved_80x24", screen);
}

/// The help overlay fits an 80×24 terminal.
#[test]
fn help_overlay() {
    let m = at("stacked-3-lose-one", &[Msg::ToggleHelp]);
    let screen = render(&m, 80, 24);
    assert!(screen.contains("Help: keys"));
    assert!(screen.contains("? or Esc to close"));
    insta::assert_snapshot!("help_80x24", screen);
}

/// The seek prompt with a refused entry.
#[test]
fn seek_prompt() {
    let m = at("stacked-3-lose-one", &[Msg::OpenSeek, Msg::Input('1'), Msg::Input(':'), Msg::Submit]);
    let screen = render(&m, 80, 24);
    assert!(screen.contains("time: 1:_"));
    assert!(screen.contains("not a time"));
    insta::assert_snapshot!("seek_prompt_80x24", screen);
}

/// certs-staggered-expiry after cp-1's etcd peer certificate expired: the map lists it
/// among the certificates that are not valid (expired or not yet valid) on their
/// host's clock.
#[test]
fn an_expired_certificate_is_listed_as_invalid() {
    let mut m = at("certs-staggered-expiry", &[]);
    seek(&mut m, 25.0);
    let screen = render(&m, 160, 48);
    assert!(screen.contains("│invalid   cp-1: etcd/peer"), "the map: {screen}");
    assert!(screen.contains("invalid   etcd/peer"), "the selected host's state: {screen}");
}

/// vip-holder-haproxy-stopped while HAProxy on lb-1 is stopped: the map shows that its
/// proxy refuses connections while it still holds the VIP.
#[test]
fn a_stopped_proxy_is_shown_on_its_lb_host() {
    let mut m = at("vip-holder-haproxy-stopped", &[]);
    seek(&mut m, 40.0);
    let screen = render(&m, 160, 48);
    assert!(screen.contains("proxy stopped: connections refused  [VIP]"), "{screen}");
}
