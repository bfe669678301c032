//! The sweep and comparison screen on real sweeps: snapshots at 80×24 and 160×48, and
//! replaying a worst seed from it (Enter), then coming back (Esc).

mod common;

use common::{compare_of, render, sweep_of};
use hasim_tui::{Model, Msg, load, update};

/// stacked-3-lose-one over 8 seeds: the distribution table, the worst seeds and (wide)
/// the histogram of longest outages.
#[test]
fn sweep_screen() {
    let m = Model::sweep(sweep_of("stacked-3-lose-one", 8));
    let screen = render(&m, 160, 48);
    assert!(screen.contains("sweep · stacked-3-lose-one · seeds 1..8"));
    assert!(screen.contains("longest outage per run"));
    assert!(screen.contains("Longest outage per run"), "the histogram shows when wide");
    insta::assert_snapshot!("sweep_160x48", screen);
    let screen = render(&m, 80, 24);
    assert!(screen.contains("replay: hasim run ../scenarios/stacked-3-lose-one.yaml --seed 2"));
    insta::assert_snapshot!("sweep_80x24", screen);
}

/// compare-etcd-topologies over 4 seeds: three configurations side by side, the second
/// selected.
#[test]
fn compare_screen() {
    let mut m = Model::compare(compare_of("compare-etcd-topologies", 4));
    update(&mut m, Msg::FocusNext);
    let screen = render(&m, 160, 48);
    assert!(screen.contains("compare · 3 configurations · seeds 1..4"));
    assert!(screen.contains("Worst seeds of external-3x3"));
    assert!(screen.contains("slowest write"), "a run of stacked-5 waited over 1 s for a write:\n{screen}");
    insta::assert_snapshot!("compare_160x48", screen);
    update(&mut m, Msg::Slower);
    let screen = render(&m, 80, 24);
    assert!(screen.contains(" p90 of each figure, min of availability"));
    // Short of rows, the slowest answers go first: the safety line stays.
    assert!(!screen.contains("slowest write") && screen.contains("safety violations"), "{screen}");
    // The command wraps whole: the variant's name goes to the next row.
    assert!(screen.contains(" --variant│\n│        external-3x3 "), "the command is not cut:\n{screen}");
    insta::assert_snapshot!("compare_80x24", screen);
}

#[test]
fn enter_replays_the_selected_worst_seed_and_esc_comes_back() {
    let mut m = Model::sweep(sweep_of("stacked-3-lose-one", 4));
    update(&mut m, Msg::StepNext);
    let seed = m.sweep_view().and_then(|s| s.selected_replay()).map(|r| r.seed).expect("a worst seed");
    update(&mut m, Msg::Submit);
    load::perform(&mut m);
    assert_eq!(m.status, None, "the file is unchanged, so no warning");
    let run = m.run().expect("the replay is on screen");
    assert_eq!(run.replay.report.seed, seed);
    assert!(render(&m, 80, 24).contains("Esc back"));
    update(&mut m, Msg::Quit);
    assert!(m.sweep_view().is_some() && !m.quit);
}
