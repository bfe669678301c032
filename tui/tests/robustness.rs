//! Every shipped scenario, drawn at many moments and terminal sizes (down to one cell),
//! with every pane focused: the view must never panic, whatever the report holds. And
//! a report read back from its JSON (as `hasim tui --report` does) replays the same.
//! The sweep and comparison screens too.

mod common;

use hasim_sim::report::Report;
use hasim_tui::{Model, Msg, update};

#[test]
fn every_scenario_draws_at_every_size() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("the scenarios folder")
        .filter_map(|e| e.ok()?.path().file_stem()?.to_str().map(str::to_string))
        .collect();
    names.sort();
    assert!(names.len() > 10);
    for name in names {
        let mut m = Model::new(common::report_of(&name));
        let duration = m.run().expect("a run").duration();
        for k in 0..=8 {
            m.run_mut().expect("a run").seek(duration * f64::from(k) / 8.0);
            for (w, h) in [(1, 1), (20, 6), (80, 24), (120, 40), (160, 48), (250, 70)] {
                for _ in 0..4 {
                    update(&mut m, Msg::FocusNext);
                    let _ = common::render(&m, w, h);
                }
            }
        }
    }
}

#[test]
fn a_report_read_back_from_json_replays_the_same() {
    let report = common::report_of("etcd-leader-isolated");
    let json = report.to_json();
    let back: Report = serde_json::from_str(&json).expect("a report reads back");
    let mut a = Model::new(report);
    let mut b = Model::new(back);
    for m in [&mut a, &mut b] {
        update(m, Msg::NextFault);
        update(m, Msg::StepNext);
    }
    assert_eq!(common::render(&a, 160, 48), common::render(&b, 160, 48));
}

#[test]
fn sweep_and_compare_screens_draw_at_every_size() {
    let models = [
        Model::sweep(common::sweep_of("controller-manager-paused", 3)),
        Model::compare(common::compare_of("compare-member-counts", 2)),
    ];
    for mut m in models {
        for msg in [Msg::StepNext, Msg::FocusNext, Msg::Faster, Msg::ToggleHelp, Msg::Quit, Msg::End] {
            update(&mut m, msg);
            for (w, h) in [(1, 1), (20, 6), (80, 24), (120, 40), (160, 48), (250, 70)] {
                let _ = common::render(&m, w, h);
            }
        }
        assert!(!m.quit, "Quit closed the help");
    }
}
