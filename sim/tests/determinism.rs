//! A run is a pure function of its specification and seed.

use hasim_sim::{ClusterBuilder, Fault, RunOutcome, SimDuration, Target, Workload};

fn run(seed: u64) -> RunOutcome {
    ClusterBuilder::new(5)
        .seed(seed)
        .workload(Workload { writes_per_sec: 80, linearizable_reads_per_sec: 20, serializable_reads_per_sec: 20 })
        .fault(SimDuration::from_secs(4), Fault::Crash(Target::EtcdLeader))
        .fault(SimDuration::from_secs(6), Fault::MessageLoss { ppm: 50_000 })
        .fault(SimDuration::from_secs(9), Fault::Partition(vec![vec![Target::EtcdLeader, Target::EtcdFollower]]))
        .fault(SimDuration::from_secs(14), Fault::Heal)
        .fault(SimDuration::from_secs(15), Fault::Restart(Target::Host(hasim_sim::HostId(0))))
        .run_for(SimDuration::from_secs(25))
}

/// Everything observable about a run, as one comparable string.
fn fingerprint(o: &RunOutcome) -> String {
    format!("{:?}|{:?}|{:?}|{:?}|{:?}", o.leader_history, o.stats, o.committed, o.requests, o.timeline)
}

#[test]
fn the_same_seed_gives_identical_histories_and_event_counts() {
    let (a, b) = (run(11), run(11));
    assert_eq!(a.stats.events, b.stats.events);
    assert_eq!(a.leader_history, b.leader_history);
    assert_eq!(fingerprint(&a), fingerprint(&b));
    assert!(a.stats.events > 10_000, "the run did real work: {} events", a.stats.events);
}

#[test]
fn another_seed_gives_a_different_run() {
    let (a, b) = (run(11), run(12));
    assert_ne!(fingerprint(&a), fingerprint(&b));
    assert_ne!(a.stats.events, b.stats.events);
}
