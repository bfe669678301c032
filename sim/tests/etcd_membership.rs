//! Membership changes through the leader, with etcd's strict reconfiguration checks:
//! learner join and promotion, remove-then-add vs add-then-remove on a degraded cluster.

use hasim_sim::cluster::EtcdRole;
use hasim_sim::{ClusterBuilder, Fault, HostId, RunOutcome, SimDuration, SimTime, Simulation, Target};

fn secs(s: u64) -> SimDuration {
    SimDuration::from_secs(s)
}

fn refused(sim: &Simulation, host: &str, error: &str) -> bool {
    sim.timeline().iter().any(|t| t.text.contains(host) && t.text.contains("refused") && t.text.contains(error))
}

fn voters(sim: &Simulation) -> usize {
    let (leader, _, _) = sim.leader().expect("a leader");
    sim.server(leader).unwrap().raft.config.voters.len()
}

#[test]
fn a_learner_joins_catches_up_and_is_promoted_only_when_in_sync() {
    for seed in 0..10 {
        let mut sim = ClusterBuilder::new(3)
            .seed(seed)
            .spare_hosts(1)
            .workload(hasim_sim::Workload { writes_per_sec: 200, ..Default::default() })
            .build();
        sim.run_until(SimTime::ZERO + secs(20));
        let spare = HostId(3);
        // The new host is cut off while it joins, so the learner stays empty.
        sim.inject(Fault::Isolate(Target::Host(spare)));
        sim.inject(Fault::AddMember { host: spare, learner: true });
        sim.run_for(secs(1));
        sim.inject(Fault::PromoteLearner(Target::Host(spare)));
        assert!(refused(&sim, "etcd-4", "in sync with leader"), "seed={seed}");
        assert!(sim.server(spare).unwrap().raft.log.committed < 100);
        sim.inject(Fault::Heal);
        sim.run_for(secs(5));
        let s = sim.server(spare).expect("the learner runs");
        assert!(s.raft.config.learners.contains(&s.id()), "seed={seed}");
        assert!(s.raft.log.committed + 100 >= sim.max_commit(), "learner caught up, seed={seed}");
        assert_eq!(voters(&sim), 3, "a learner is not a voter");
        sim.inject(Fault::PromoteLearner(Target::Host(spare)));
        sim.run_for(secs(2));
        // Promoting a voter again is refused.
        sim.inject(Fault::PromoteLearner(Target::Host(spare)));
        let last = &sim.timeline().last().unwrap().text;
        assert!(last.ends_with("refused: etcdserver: can only promote a learner member"), "{last}, seed={seed}");
        let s = sim.server(spare).unwrap();
        assert!(s.raft.config.voters.contains(&s.id()), "promoted, seed={seed}");
        assert_eq!(voters(&sim), 4);
        sim.finish().assert_safe();
    }
}

#[test]
fn only_one_learner_at_a_time() {
    let mut sim = ClusterBuilder::new(3).seed(1).spare_hosts(2).build();
    sim.run_until(SimTime::ZERO + secs(5));
    sim.inject(Fault::AddMember { host: HostId(3), learner: true });
    sim.run_for(secs(2));
    sim.inject(Fault::AddMember { host: HostId(4), learner: true });
    assert!(refused(&sim, "etcd-5", "too many learner members"));
}

/// A 3-member cluster with one member dead: adding the replacement first is refused
/// (the dead member is not connected), removing the dead one first then adding works.
#[test]
fn on_a_degraded_cluster_remove_then_add_works_and_add_then_remove_is_refused() {
    for seed in 0..10 {
        let mut sim = ClusterBuilder::new(3).seed(seed).spare_hosts(1).build();
        sim.run_until(SimTime::ZERO + secs(10));
        let dead = sim.running().map(|(h, _)| h).find(|&h| Some(h) != sim.leader().map(|l| l.0)).unwrap();
        sim.inject(Fault::Crash(Target::Host(dead)));
        sim.run_for(secs(10));

        // Wrong order: add first.
        sim.inject(Fault::AddMember { host: HostId(3), learner: false });
        assert!(refused(&sim, "etcd-4", "unhealthy cluster"), "seed={seed}");
        assert_eq!(voters(&sim), 3);
        // Removing a running member now would leave too few connected: refused too.
        let alive_follower =
            sim.running().map(|(h, _)| h).find(|&h| Some(h) != sim.leader().map(|l| l.0) && h != dead).unwrap();
        sim.inject(Fault::RemoveMember(Target::Host(alive_follower)));
        let alive_name = sim.host_name(alive_follower).to_string();
        assert!(refused(&sim, &alive_name, "unhealthy cluster"), "seed={seed}");

        // Right order: remove the dead member (allowed: it is not connected), then add.
        sim.inject(Fault::RemoveMember(Target::Host(dead)));
        sim.run_for(secs(7));
        assert_eq!(voters(&sim), 2, "seed={seed}");
        sim.inject(Fault::AddMember { host: HostId(3), learner: false });
        sim.run_for(secs(5));
        assert_eq!(voters(&sim), 3, "seed={seed}");
        let new = sim.server(HostId(3)).expect("new member runs");
        assert_eq!(new.raft.log.committed, sim.max_commit(), "new member caught up, seed={seed}");
        // The removed member's host restarts, but its etcd stays down.
        sim.inject(Fault::Restart(Target::Host(dead)));
        assert!(sim.server(dead).is_none(), "a removed member does not start again");
        sim.finish().assert_safe();
    }
}

#[test]
fn a_removed_leader_stops_and_the_rest_elect_a_new_one() {
    for seed in 0..10 {
        let mut sim = ClusterBuilder::new(3).seed(seed).build();
        sim.run_until(SimTime::ZERO + secs(10));
        let (leader, _, _) = sim.leader().unwrap();
        sim.inject(Fault::RemoveMember(Target::Host(leader)));
        sim.run_for(secs(6));
        assert!(sim.server(leader).is_none(), "removed member stopped, seed={seed}");
        let (new_leader, _, _) = sim.leader().expect("a new leader");
        assert_ne!(new_leader, leader);
        assert_eq!(voters(&sim), 2);
        sim.finish().assert_safe();
    }
}

/// A 3-member cluster with a spare host (cp-4) that joined as a learner at 10 s, run on
/// to 20 s.
fn learner_joined_at_10s(seed: u64) -> (Simulation, HostId) {
    let mut sim = ClusterBuilder::new(3).seed(seed).spare_hosts(1).build();
    sim.run_until(SimTime::ZERO + secs(10));
    let spare = HostId(3);
    sim.inject(Fault::AddMember { host: spare, learner: true });
    sim.run_for(secs(10));
    (sim, spare)
}

/// The etcd role in each of `host`'s state frames (None: no etcd running).
fn etcd_roles(out: &RunOutcome, host: HostId) -> Vec<(SimTime, Option<EtcdRole>)> {
    out.states.iter().filter(|f| f.host == host).map(|f| (f.at, f.state.etcd.as_ref().map(|e| e.role))).collect()
}

#[test]
fn host_frames_show_a_learner_from_its_join_and_a_voter_from_its_promotion() {
    for seed in 0..3 {
        let (mut sim, spare) = learner_joined_at_10s(seed);
        let joined = SimTime::ZERO + secs(10);
        sim.inject(Fault::PromoteLearner(Target::Host(spare)));
        let promoted = SimTime::ZERO + secs(20);
        sim.run_for(secs(5));
        let out = sim.finish();
        out.assert_safe();
        // Every frame of the new member's etcd names its role as the cluster's member
        // list has it at that moment, with no frame left over from before a change.
        let frames: Vec<_> = etcd_roles(&out, spare).into_iter().filter_map(|(at, r)| Some((at, r?))).collect();
        assert!(!frames.is_empty(), "seed={seed}");
        let promotion_committed = out
            .timeline
            .iter()
            .find(|t| t.text.contains("was promoted to voter"))
            .map(|t| t.at)
            .unwrap_or_else(|| panic!("not promoted, seed={seed}"));
        assert!(promotion_committed >= promoted && promotion_committed < promoted + secs(1), "seed={seed}");
        for &(at, role) in &frames {
            let want = if at < promotion_committed { EtcdRole::Learner } else { EtcdRole::Follower };
            assert!(at >= joined, "seed={seed}");
            assert_eq!(role, want, "role at {at}, seed={seed}: {frames:?}");
        }
        assert!(frames.iter().any(|&(at, _)| at == promotion_committed), "a frame at the promotion, seed={seed}");
    }
}

#[test]
fn a_removed_learner_stays_a_learner_until_its_etcd_stops() {
    for seed in 0..3 {
        let (mut sim, spare) = learner_joined_at_10s(seed);
        sim.inject(Fault::RemoveMember(Target::Host(spare)));
        sim.run_for(secs(5));
        let out = sim.finish();
        out.assert_safe();
        // Removed, its etcd runs on for a second; it never counted as a voter.
        let roles = etcd_roles(&out, spare);
        assert!(roles.iter().any(|(_, e)| e.is_some()), "seed={seed}");
        assert!(roles.last().is_some_and(|(_, e)| e.is_none()), "its etcd stopped, seed={seed}: {roles:?}");
        for (at, e) in &roles {
            assert!(e.is_none_or(|r| r == EtcdRole::Learner), "at {at}, seed={seed}: {roles:?}");
        }
    }
}
