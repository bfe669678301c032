//! A fault with `for:` ends by putting back what it replaced: the scenario's own
//! `timing` settings and the effects of other faults survive its undo.

use hasim_sim::scenario;
use hasim_sim::{RunOutcome, SimDuration, SimTime};

/// Runs three stacked control-plane nodes for `secs` with the rest of the scenario
/// (`timing`, `faults`) from `rest`.
fn run(secs: u64, rest: &str) -> RunOutcome {
    let yaml =
        format!("name: timed\nseed: 1\nduration: {secs}s\ntopology: {{ etcd: stacked, control_planes: 3 }}{rest}");
    let loaded = scenario::load("timed.yaml", &yaml).unwrap_or_else(|e| panic!("{e:?}"));
    let s = &loaded.scenario;
    let out = scenario::build(s, None).run_for(s.duration());
    out.assert_safe();
    out
}

/// The timeline's fault lines at `secs` seconds.
fn said_at(out: &RunOutcome, secs: u64) -> Vec<String> {
    let at = SimTime::ZERO + SimDuration::from_secs(secs);
    out.timeline.iter().filter(|t| t.at == at && t.text.starts_with("fault")).map(|t| t.text.clone()).collect()
}

#[test]
fn a_timed_fault_ends_with_the_scenarios_own_timing_not_the_built_in_defaults() {
    let out = run(
        40,
        "
timing:
  network: { latency: 2ms, jitter: 1ms, loss: 0.001 }
  disk: { fsync: 3ms, fsync_jitter: 1ms }
faults:
  - { at: 2s, clock_drift: { node: cp-1, rate: 1.01 } }
  - { at: 10s, for: 5s, message_loss: 0.2 }
  - { at: 20s, for: 5s, link: { between: [cp-1, cp-2], latency: 50ms } }
  - { at: 30s, for: 5s, slow_disk: { node: cp-3, fsync: 200ms } }
  - { at: 36s, for: 2s, clock_drift: { node: cp-1, rate: 2 } }
",
    );
    assert_eq!(said_at(&out, 15), ["fault: every link now loses 0.1% of messages"]);
    assert_eq!(said_at(&out, 25), ["fault: link cp-1–cp-2 now 2ms + up to 1ms jitter, 0.1% loss"]);
    assert_eq!(said_at(&out, 35), ["fault: disk of cp-3 now takes 3ms + up to 1ms per fsync"]);
    assert_eq!(said_at(&out, 38), ["fault: the clock of cp-1 now runs at 1.010× true speed"]);
}

#[test]
fn the_end_of_a_timed_cut_reopens_only_the_links_it_cut() {
    let out = run(
        30,
        "
faults:
  - { at: 5s, one_way: { from: cp-2, to: cp-3 } }
  - { at: 10s, for: 5s, isolate: cp-1 }
",
    );
    let end = said_at(&out, 15);
    assert_eq!(end.len(), 1);
    assert!(end[0].contains("other cuts remain"), "{end:?}");
    let heals = out.timeline.iter().filter(|t| t.text == "fault: network healed").count();
    assert_eq!(heals, 0, "the one-way cut from 5 s is still in force");
}

#[test]
fn a_timed_message_loss_over_uneven_links_restores_each_links_own_loss() {
    let out = run(
        30,
        "
faults:
  - { at: 5s, link: { between: [cp-1, cp-2], loss: 0.3 } }
  - { at: 10s, for: 5s, message_loss: 0.05 }
  - { at: 20s, for: 1s, link: { between: [cp-1, cp-2], latency: 9ms } }
",
    );
    assert_eq!(said_at(&out, 15), ["fault: each link loses messages as it did before"]);
    // The link's 30% loss from 5 s came back with it.
    assert!(said_at(&out, 21)[0].ends_with("30% loss"), "{:?}", said_at(&out, 21));
}
