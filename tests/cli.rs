//! The `hasim` binary end to end.

use std::process::Command;

fn hasim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hasim")).args(args).output().expect("hasim runs")
}

#[test]
fn demo_reports_a_failover_and_holds_every_invariant() {
    let out = hasim(&["demo", "--seed", "3"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("crashed (power loss"), "{text}");
    assert!(text.contains("became leader of term"), "{text}");
    assert!(text.contains("New leader"), "{text}");
    assert!(text.contains("Safety: all Raft invariants held"), "{text}");
}

#[test]
fn demo_output_is_identical_across_processes() {
    let a = hasim(&["demo", "--seed", "8", "--members", "5"]);
    let b = hasim(&["demo", "--seed", "8", "--members", "5"]);
    assert_eq!(a.stdout, b.stdout);
    assert_ne!(a.stdout, hasim(&["demo", "--seed", "9", "--members", "5"]).stdout);
}

#[test]
fn a_two_member_cluster_gets_no_new_leader() {
    let out = hasim(&["demo", "--members", "2"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("No new leader after the crash"), "{text}");
}

#[test]
fn bad_arguments_are_rejected_with_a_usage_message() {
    let out = hasim(&["demo", "--members", "9"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("--members"), "{err}");
    let out = hasim(&["demo", "--sead", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("--seed"), "did-you-mean suggestion");
}

/// A scratch directory for this test process.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hasim-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const SHIPPED: &str = "scenarios/stacked-3-lose-one.yaml";

fn shipped_with(replace: &str, by: &str) -> String {
    let text = std::fs::read_to_string(SHIPPED).unwrap();
    assert!(text.contains(replace), "the shipped scenario changed: {replace}");
    text.replace(replace, by)
}

#[test]
fn run_prints_availability_and_expectations_and_exits_0() {
    let out = hasim(&["run", SHIPPED]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("Availability:"), "{text}");
    assert!(text.contains("Expectations:"), "{text}");
    assert!(text.contains("ok   availability.writes"), "{text}");
    assert!(!text.contains("FAIL"), "{text}");
}

#[test]
fn run_output_is_identical_across_processes_and_moves_with_the_seed() {
    let a = hasim(&["run", SHIPPED, "--timeline"]);
    let b = hasim(&["run", SHIPPED, "--timeline"]);
    assert_eq!(a.stdout, b.stdout);
    let c = hasim(&["run", SHIPPED, "--timeline", "--seed", "99"]);
    assert_ne!(a.stdout, c.stdout);
    assert!(String::from_utf8_lossy(&c.stdout).contains("seed 99"));
}

#[test]
fn a_failing_expectation_exits_1_and_names_the_seed() {
    let dir = scratch("unmet");
    let file = dir.join("unmet.yaml");
    std::fs::write(&file, shipped_with("writes: { min: 0.85, max: 0.99 }", "writes: { min: 0.999 }")).unwrap();
    let out = hasim(&["run", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL availability.writes"));
    let check = hasim(&["check", dir.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(1));
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(text.contains("reproduce with seed=1"), "{text}");
    assert!(text.contains("0 passed, 1 failed, 0 invalid"), "{text}");
}

#[test]
fn an_invalid_scenario_exits_2_with_file_line_and_column() {
    let dir = scratch("invalid");
    let file = dir.join("bad.yaml");
    std::fs::write(&file, shipped_with("crash: cp-2", "crsh: cp-2")).unwrap();
    let out = hasim(&["run", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yaml:26:5: unknown fault kind `crsh`"), "{err}");
    assert!(err.contains("did you mean `crash`"), "{err}");
    assert!(out.stdout.is_empty(), "nothing half-written on stdout");
    let check = hasim(&["check", dir.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(2));
}

#[test]
fn a_missing_file_and_a_bad_flag_exit_2() {
    let out = hasim(&["run", "no/such/file.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read no/such/file.yaml"));
    let out = hasim(&["run", SHIPPED, "--sed", "3"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--seed"), "clap suggests the right flag");
}

#[test]
fn check_passes_the_shipped_library() {
    let out = hasim(&["check", "scenarios"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains(" 0 failed, 0 invalid"), "{text}");
}

#[test]
fn schema_prints_the_scenario_json_schema() {
    let out = hasim(&["schema", "scenario"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.trim_start().starts_with('{') && text.contains("\"$defs\"") && text.contains("\"topology\""));
}
