//! Restarting a member whose data directory was lost, under its old member id (what
//! `--initial-cluster-state=existing` does without a remove/add), breaks Raft's
//! durability premise. hasim models it faithfully and the checker reports the damage;
//! the documented remove-then-add replacement stays safe.

use hasim_sim::{ClusterBuilder, Fault, HostId, RequestKind, SimDuration, SimTime, Target, ViolationKind};

fn host(i: u32) -> Target {
    Target::Host(HostId(i))
}

/// 3 members; etcd-3 cut off. A write commits on the leader and the one follower, that
/// follower loses its disk and comes straight back empty, the leader dies, and the empty
/// member plus the stale one elect a leader without the write.
#[test]
fn restarting_a_wiped_member_under_its_old_id_can_lose_acknowledged_writes() {
    let mut found = 0;
    for seed in 0..10 {
        let mut sim = ClusterBuilder::new(3).seed(seed).build();
        sim.run_until(SimTime::ZERO + SimDuration::from_secs(3));
        let Some((leader, _, _)) = sim.leader() else { continue };
        let others: Vec<u32> = (0..3).filter(|&i| i != leader.0).collect();
        let (follower, stale) = (others[0], others[1]);
        sim.inject(Fault::Isolate(host(stale)));
        let w = sim.request(leader, RequestKind::Write);
        sim.run_for(SimDuration::from_millis(200));
        assert!(matches!(sim.request_result(w), Some(Ok(_))), "committed by leader + follower");
        sim.inject(Fault::Wipe(host(follower)));
        sim.inject(Fault::Restart(host(follower)));
        sim.inject(Fault::Crash(host(leader.0)));
        sim.inject(Fault::Heal);
        // The leader's data directory still holds the write: take the host away for
        // good so the write is held by nobody who can come back.
        sim.inject(Fault::Wipe(host(leader.0)));
        sim.run_for(SimDuration::from_secs(10));
        let w2 = sim.request(HostId(stale), RequestKind::Write);
        sim.run_for(SimDuration::from_secs(3));
        let outcome = sim.finish();
        if outcome.violations.iter().any(|v| v.kind == ViolationKind::AcknowledgedWriteLost) {
            found += 1;
            assert!(outcome.violations[0].to_string().contains(&format!("seed={seed}")));
        }
        let _ = w2;
    }
    assert!(found >= 8, "the checker caught the lost write in only {found} of 10 runs");
}

#[test]
fn replacing_a_wiped_member_by_remove_then_add_keeps_every_acknowledged_write() {
    for seed in 0..10 {
        let mut sim = ClusterBuilder::new(3).seed(seed).build();
        sim.run_until(SimTime::ZERO + SimDuration::from_secs(3));
        let (leader, _, _) = sim.leader().expect("leader");
        let follower = (leader.0 + 1) % 3;
        for _ in 0..20 {
            sim.request(leader, RequestKind::Write);
        }
        sim.run_for(SimDuration::from_millis(300));
        sim.inject(Fault::Wipe(host(follower)));
        sim.run_for(SimDuration::from_secs(6));
        sim.inject(Fault::RemoveMember(host(follower)));
        sim.run_for(SimDuration::from_secs(1));
        sim.inject(Fault::AddMember { host: HostId(follower), learner: false });
        sim.run_for(SimDuration::from_secs(5));
        let s = sim.server(HostId(follower)).expect("new member runs");
        assert!(s.id().0 > 3, "a new member id");
        assert!(s.raft.config.voters.contains(&s.id()));
        assert_eq!(s.raft.log.committed, sim.max_commit(), "the new member caught up");
        // Now the old leader may go: the two remaining copies hold every write.
        sim.inject(Fault::Crash(host(leader.0)));
        sim.run_for(SimDuration::from_secs(5));
        assert!(sim.leader().is_some(), "seed={seed}");
        sim.finish().assert_safe();
    }
}
