//! `run`, `check` and `schema`: read scenario files, run them through the core, and
//! print what the core produced. Nothing here simulates.

use std::path::{Path, PathBuf};

use hasim_sim::scenario::{self, Loaded};
use hasim_sim::{Plane, RunOutcome};

use crate::Failure;

/// Reads and validates one scenario file; prints every problem (and warning) to stderr.
fn load(path: &Path) -> Result<Loaded, Failure> {
    let name = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot read {name}: {e}");
            return Err(Failure::BadInput);
        }
    };
    // Not UTF-8: say where, rather than guess at an encoding.
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let before = &e.as_bytes()[..at];
            let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
            let column = at - before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1) + 1;
            eprintln!("{name}:{line}:{column}: error: not UTF-8 text (a scenario is a YAML text file)");
            return Err(Failure::BadInput);
        }
    };
    match scenario::load(&name, &text) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("warning: {w}");
            }
            Ok(loaded)
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            Err(Failure::BadInput)
        }
    }
}

pub fn run(path: &Path, seed: Option<u64>, timeline: bool) -> Result<(), Failure> {
    let loaded = load(path)?;
    let s = &loaded.scenario;
    let out = scenario::build(s, seed).run_for(s.duration());
    println!("{} (seed {}, {} simulated)", s.name, out.seed, s.duration);
    if timeline {
        println!();
        println!("Timeline:");
        for t in &out.timeline {
            println!("  {:>10}  {}", t.at.to_string().trim_start_matches("t="), t.text);
        }
    }
    println!();
    summary(&out);
    let mut unmet = !out.violations.is_empty();
    if let Some(expect) = &s.expect {
        println!();
        println!("Expectations:");
        for r in expect.evaluate(&out) {
            let mark = if r.held { "ok  " } else { "FAIL" };
            println!("  {mark} {:<28} expected {:<18} was {}", r.name, r.expected, r.actual);
            unmet |= !r.held;
        }
    }
    for v in &out.violations {
        eprintln!("safety violation: {v} (reproduce with seed={})", out.seed);
    }
    if unmet { Err(Failure::Unmet) } else { Ok(()) }
}

fn summary(out: &RunOutcome) {
    if let Some(cp) = &out.control_plane {
        println!("Availability:");
        for p in Plane::ALL {
            let a = cp.plane(p);
            if a.ok + a.failed > 0 {
                println!(
                    "  {:<22} {:>7.3}%  ({} of {} failed)",
                    p.name(),
                    a.ratio() * 100.0,
                    a.failed,
                    a.ok + a.failed
                );
            }
        }
        if cp.outages.is_empty() {
            println!("Outages: none");
        } else {
            println!("Outages:");
            for o in &cp.outages {
                println!(
                    "  {:>10} .. {:>10}  {:<20} {} failed: {}",
                    o.start.to_string().trim_start_matches("t="),
                    o.end.to_string().trim_start_matches("t="),
                    o.plane.name(),
                    o.failed,
                    o.cause
                );
            }
        }
        for r in &cp.recovery {
            if let Some(after) = r.recovered_after {
                println!("Recovery after the fault at {}: {after}", r.at.to_string().trim_start_matches("t="));
            }
        }
        println!("Stale cache reads: {} (max staleness {})", cp.stale_reads, cp.max_staleness);
        println!("Misrouted requests: {}", cp.misrouted);
        for o in &cp.overlaps {
            println!("Split brain: two active {} from {} ({} hosts)", o.component.name(), o.start, o.hosts.len());
        }
    }
    for o in &out.etcd_overlaps {
        println!("Split brain: {} etcd leaders at once from {}", o.leaders.len(), o.start);
    }
    println!("etcd leader changes: {}", out.leader_history.len().saturating_sub(1));
    if out.violations.is_empty() {
        println!("Safety: all Raft invariants held");
    }
}

/// The scenario files named by `paths`: files as given, directories' *.yaml sorted.
fn scenario_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Failure> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| {
                    eprintln!("error: cannot read directory {}: {e}", p.display());
                    Failure::BadInput
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    Ok(files)
}

pub fn check(paths: &[PathBuf]) -> Result<(), Failure> {
    let files = scenario_files(paths)?;
    let (mut bad, mut unmet, mut passed) = (0, 0, 0);
    for f in &files {
        let Ok(loaded) = load(f) else {
            bad += 1;
            continue;
        };
        let s = &loaded.scenario;
        let out = scenario::build(s, None).run_for(s.duration());
        let results = s.expect.as_ref().map(|e| e.evaluate(&out)).unwrap_or_default();
        let failed: Vec<_> = results.iter().filter(|r| !r.held).collect();
        let safe = out.violations.is_empty();
        if failed.is_empty() && safe {
            passed += 1;
            println!("ok    {}", f.display());
        } else {
            unmet += 1;
            println!("FAIL  {} (reproduce with seed={})", f.display(), out.seed);
            for r in failed {
                println!("      {} expected {}, was {}", r.name, r.expected, r.actual);
            }
        }
    }
    println!("{passed} passed, {unmet} failed, {bad} invalid");
    if bad > 0 {
        Err(Failure::BadInput)
    } else if unmet > 0 {
        Err(Failure::Unmet)
    } else {
        Ok(())
    }
}

pub fn schema() -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(&scenario::schema()).expect("a schema serialises");
    println!("{text}");
    Ok(())
}
