//! The report of every shipped scenario (each variant of a file with `variants:`), as
//! the exact JSON `hasim run --format json` prints, kept as insta snapshots. A change
//! in any figure, cause, timeline sentence or state frame shows up as a reviewable
//! diff; `cargo insta review` to accept one after reading it.

use hasim_sim::report::{Report, ScenarioInfo};
use hasim_sim::scenario;

#[test]
fn every_shipped_scenario_reports_as_snapshotted() {
    insta::glob!("../scenarios", "*.yaml", |path| {
        let text = std::fs::read_to_string(path).expect("a readable scenario");
        let file = format!("scenarios/{}", path.file_name().expect("a file").to_string_lossy());
        let loaded = scenario::load(&file, &text).unwrap_or_else(|e| panic!("{file} does not load: {e:?}"));
        for (variant, s) in loaded.scenario.configurations() {
            let info = ScenarioInfo::new(&file, &text, &s, variant.as_deref());
            let out = scenario::build(&s, None).run_for(s.duration());
            let json = Report::new(info, &s, &out).to_json();
            let name = variant.map_or_else(|| "report".to_string(), |v| format!("report-{v}"));
            insta::assert_snapshot!(name, json);
        }
    });
}
