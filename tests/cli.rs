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
