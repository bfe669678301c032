//! Shared by the integration tests: runs a shipped scenario and builds its report, the
//! same way the `hasim` binary does, so tests replay real runs rather than hand-made data.

use std::path::PathBuf;

use hasim_sim::report::{Report, ScenarioInfo};
use hasim_sim::sweep::{CompareReport, RunSummary, SeedRange, SweepReport};

/// The report of `scenarios/<name>.yaml` with the scenario's own seed.
#[allow(dead_code)]
pub fn report_of(name: &str) -> Report {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "scenarios", &format!("{name}.yaml")].iter().collect();
    let text = std::fs::read_to_string(&path).expect("shipped scenarios are readable");
    // The name as a user would type it keeps snapshots independent of the checkout path.
    let shown = format!("scenarios/{name}.yaml");
    let loaded = hasim_sim::scenario::load(&shown, &text).expect("shipped scenarios load");
    let s = &loaded.scenario;
    let out = hasim_sim::scenario::build(s, None).run_for(s.duration());
    Report::new(ScenarioInfo::new(&shown, &text, s, None), s, &out)
}

#[allow(dead_code)]
/// The screen `model` draws on a `width`×`height` terminal, as text: one line per row,
/// every cell's symbol (styles are not recorded).
pub fn render(model: &hasim_tui::Model, width: u16, height: u16) -> String {
    let backend = ratatui::backend::TestBackend::new(width, height);
    let mut terminal = ratatui::Terminal::new(backend).expect("a test backend never fails");
    terminal.draw(|f| hasim_tui::view(model, f)).expect("drawing on a test backend never fails");
    let buffer = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..height {
        for x in 0..width {
            out.push_str(buffer[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

/// A scenario file as a sweep names it: relative to the `tui` folder, where tests run,
/// so that replaying a seed from the sweep screen finds the file.
fn sweep_file(name: &str) -> (String, String) {
    let file = format!("../scenarios/{name}.yaml");
    let text = std::fs::read_to_string(&file).expect("shipped scenarios are readable");
    (file, text)
}

fn summaries(s: &hasim_sim::scenario::Scenario, seeds: SeedRange) -> Vec<RunSummary> {
    (seeds.first..seeds.first + seeds.count)
        .map(|seed| RunSummary::of(s, &hasim_sim::scenario::build(s, Some(seed)).run_for(s.duration())))
        .collect()
}

/// The sweep of `count` seeds (from 1) of `scenarios/<name>.yaml`.
#[allow(dead_code)]
pub fn sweep_of(name: &str, count: u64) -> SweepReport {
    let (file, text) = sweep_file(name);
    let loaded = hasim_sim::scenario::load(&file, &text).expect("shipped scenarios load");
    let s = &loaded.scenario;
    let seeds = SeedRange { first: 1, count };
    SweepReport::from_runs(ScenarioInfo::new(&file, &text, s, None), seeds, None, summaries(s, seeds))
}

/// The comparison of every variant of `scenarios/<name>.yaml` over `count` seeds.
#[allow(dead_code)]
pub fn compare_of(name: &str, count: u64) -> CompareReport {
    let (file, text) = sweep_file(name);
    let loaded = hasim_sim::scenario::load(&file, &text).expect("shipped scenarios load");
    let seeds = SeedRange { first: 1, count };
    let entries = loaded
        .scenario
        .configurations()
        .into_iter()
        .map(|(variant, s)| {
            let label = variant.clone().unwrap_or_else(|| s.name.clone());
            (label, ScenarioInfo::new(&file, &text, &s, variant.as_deref()), summaries(&s, seeds))
        })
        .collect();
    CompareReport::new(seeds, entries)
}
