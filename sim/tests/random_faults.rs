//! Property test: random fault schedules never break Raft's safety invariants.
//!
//! Each case draws a cluster size (1, 2, 3, 4, 5 or 7 members), a seed and a schedule
//! of crashes, restarts, graceful stops, wipes of a minority (each wiped member is
//! replaced the way etcd's docs require: removed, then added back as a new member),
//! pauses, message loss, symmetric / one-way / bridge partitions and slow disks, under
//! client load. proptest shrinks a failing schedule; the message names the seed.

use hasim_sim::{ClusterBuilder, DiskProfile, Fault, HostId, SimDuration, Target, Workload};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

#[derive(Clone, Debug)]
enum Step {
    Crash(u32),
    Restart(u32),
    Stop(u32),
    /// Wipe a member, then remove it and add a fresh member on that host.
    WipeAndReplace(u32),
    Pause(u32, u64),
    Loss(u32),
    Partition(Vec<u32>),
    OneWay(u32, u32),
    Bridge(u32, u32),
    Heal,
    SlowDisk(u32, u64),
    CrashLeader,
}

fn step(n: u32) -> impl Strategy<Value = Step> {
    let h = 0..n;
    prop_oneof![
        3 => h.clone().prop_map(Step::Crash),
        3 => h.clone().prop_map(Step::Restart),
        1 => h.clone().prop_map(Step::Stop),
        1 => h.clone().prop_map(Step::WipeAndReplace),
        2 => (h.clone(), 100u64..4_000).prop_map(|(a, d)| Step::Pause(a, d)),
        1 => (0u32..300_000).prop_map(Step::Loss),
        2 => proptest::collection::vec(h.clone(), 1..=(n as usize)).prop_map(Step::Partition),
        1 => (h.clone(), h.clone()).prop_map(|(a, b)| Step::OneWay(a, b)),
        1 => (h.clone(), h.clone()).prop_map(|(a, b)| Step::Bridge(a, b)),
        2 => Just(Step::Heal),
        1 => (h, 10u64..1_500).prop_map(|(a, d)| Step::SlowDisk(a, d)),
        2 => Just(Step::CrashLeader),
    ]
}

fn case() -> impl Strategy<Value = (u32, u64, Vec<(u64, Step)>)> {
    prop_oneof![Just(1u32), Just(2), Just(3), Just(4), Just(5), Just(7)]
        .prop_flat_map(|n| (Just(n), any::<u64>(), proptest::collection::vec((500u64..25_000, step(n)), 0..14)))
}

fn t(h: u32) -> Target {
    Target::Host(HostId(h))
}

/// Runs one schedule; returns the violations rendered, empty when safe.
fn run_case(n: u32, seed: u64, steps: &[(u64, Step)]) -> Vec<String> {
    let mut b = ClusterBuilder::new(n as usize).seed(seed).workload(Workload {
        writes_per_sec: 30,
        linearizable_reads_per_sec: 5,
        serializable_reads_per_sec: 5,
    });
    // At most a minority of members may lose their data (Raft's durability premise).
    let mut wipes_left = (n.saturating_sub(1)) / 2;
    let mut wiped = std::collections::BTreeSet::new();
    let ms = SimDuration::from_millis;
    let mut sorted = steps.to_vec();
    sorted.sort_by_key(|(at, _)| *at);
    for (at, s) in sorted {
        let at = ms(at);
        b = match s {
            Step::Crash(h) => b.fault(at, Fault::Crash(t(h))),
            Step::Restart(h) if wiped.contains(&h) => b,
            Step::Restart(h) => b.fault(at, Fault::Restart(t(h))),
            Step::Stop(h) => b.fault(at, Fault::Stop(t(h))),
            Step::WipeAndReplace(h) if wipes_left > 0 && !wiped.contains(&h) => {
                wipes_left -= 1;
                wiped.insert(h);
                b.fault(at, Fault::Wipe(t(h)))
                    .fault(at + ms(3_000), Fault::RemoveMember(t(h)))
                    .fault(at + ms(6_000), Fault::AddMember { host: HostId(h), learner: false })
            }
            Step::WipeAndReplace(_) => b,
            Step::Pause(h, d) => b.fault(at, Fault::Pause(t(h))).fault(at + ms(d), Fault::Resume(t(h))),
            Step::Loss(ppm) => b.fault(at, Fault::MessageLoss { ppm }),
            Step::Partition(group) => b.fault(at, Fault::Partition(vec![group.into_iter().map(t).collect()])),
            Step::OneWay(a, c) => b.fault(at, Fault::CutOneWay { from: t(a), to: t(c) }),
            Step::Bridge(a, c) => b.fault(at, Fault::Bridge { side_a: vec![t(a)], side_b: vec![t(c)] }),
            Step::Heal => b.fault(at, Fault::Heal),
            Step::SlowDisk(h, d) => b.fault(
                at,
                Fault::SlowDisk { target: t(h), profile: DiskProfile { fsync_base: ms(d), fsync_jitter: ms(d / 2) } },
            ),
            Step::CrashLeader => b.fault(at, Fault::Crash(Target::EtcdLeader)),
        };
    }
    // Then everything recovers and the cluster runs on, so late commits are checked too.
    let end = ms(30_000);
    b = b.fault(end, Fault::Heal).fault(end, Fault::MessageLoss { ppm: 0 });
    for h in 0..n {
        b = b
            .fault(end, Fault::Resume(t(h)))
            .fault(end, Fault::SlowDisk { target: t(h), profile: DiskProfile::default() });
        if !wiped.contains(&h) {
            b = b.fault(end, Fault::Restart(t(h)));
        }
    }
    let outcome = b.run_for(ms(45_000));
    outcome.violations.iter().map(|v| v.to_string()).collect()
}

proptest! {
    #![proptest_config(Config {
        cases: 2_000,
        rng_seed: RngSeed::Fixed(0x0068_6173_696d),
        failure_persistence: None,
        ..Config::default()
    })]

    #[test]
    fn random_fault_schedules_never_violate_raft_safety((n, seed, steps) in case()) {
        let violations = run_case(n, seed, &steps);
        prop_assert!(
            violations.is_empty(),
            "{} member(s), reproduce with seed={seed} and this schedule:\n{steps:#?}\n{}",
            n,
            violations.join("\n")
        );
    }
}
