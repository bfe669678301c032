//! Every scenario shipped in `scenarios/` loads without errors, runs safely, and meets
//! its own `expect` block.

use std::path::PathBuf;

use hasim_sim::scenario;

fn shipped() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("scenarios/ exists")
        .map(|e| e.expect("readable").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_shipped_scenario_loads_runs_and_meets_its_expectations() {
    let files = shipped();
    assert!(!files.is_empty());
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(path).unwrap();
        let loaded = match scenario::load(&name, &text) {
            Ok(l) => l,
            Err(errors) => {
                failures.push(format!(
                    "{name}: does not load:\n{}",
                    errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")
                ));
                continue;
            }
        };
        let base = &loaded.scenario;
        assert!(!base.description.trim().is_empty(), "{name} has no description");
        // A file with variants runs each of them, as `hasim check` does.
        for (variant, s) in base.configurations() {
            let label = variant.map_or_else(|| name.clone(), |v| format!("{name} [{v}]"));
            let expect = s.expect.as_ref().unwrap_or_else(|| panic!("{label} has no expect block"));
            let out = scenario::build(&s, None).run_for(s.duration());
            for r in expect.evaluate(&out) {
                if !r.held {
                    failures.push(format!(
                        "{label}: {} expected {}, was {} (reproduce with seed={})",
                        r.name, r.expected, r.actual, out.seed
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
