//! The remaining fault kinds against etcd: bridge and one-way partitions, process
//! pauses, slow disks, and log compaction with snapshot catch-up on long runs.

use hasim_sim::{
    ClusterBuilder, DiskProfile, Fault, HostId, RequestKind, SimDuration, SimTime, Simulation, Target, Workload,
};

fn secs(s: u64) -> SimDuration {
    SimDuration::from_secs(s)
}

fn started(seed: u64, members: usize) -> (Simulation, HostId) {
    let mut sim = ClusterBuilder::new(members).seed(seed).build();
    sim.run_until(SimTime::ZERO + secs(3));
    let (leader, _, _) = sim.leader().unwrap_or_else(|| panic!("no leader, reproduce with seed={seed}"));
    (sim, leader)
}

fn write_succeeds(sim: &mut Simulation, via: HostId) -> bool {
    let id = sim.request(via, RequestKind::Write);
    sim.run_for(SimDuration::from_millis(300));
    matches!(sim.request_result(id), Some(Ok(_)))
}

#[test]
fn a_leader_bridging_two_followers_that_cannot_talk_stays_leader() {
    for seed in 0..10 {
        let (mut sim, leader) = started(seed, 3);
        let f: Vec<u32> = (0..3).filter(|&i| i != leader.0).collect();
        let term = sim.server(leader).unwrap().raft.term;
        sim.inject(Fault::Bridge {
            side_a: vec![Target::Host(HostId(f[0]))],
            side_b: vec![Target::Host(HostId(f[1]))],
        });
        sim.run_for(secs(20));
        assert_eq!(sim.leader().map(|l| l.0), Some(leader), "seed={seed}");
        assert_eq!(sim.server(leader).unwrap().raft.term, term, "no election while bridged, seed={seed}");
        assert!(write_succeeds(&mut sim, leader), "seed={seed}");
        assert!(sim.violations().is_empty(), "reproduce with seed={seed}");
    }
}

#[test]
fn a_follower_on_the_wrong_side_of_a_bridge_cannot_depose_the_leader_with_pre_vote() {
    // Follower A reaches only B; B (the bridge) reaches A and the leader L. A stops
    // hearing L; its pre-votes are refused by B, which still hears L.
    for seed in 0..10 {
        let (mut sim, leader) = started(seed, 3);
        let f: Vec<u32> = (0..3).filter(|&i| i != leader.0).collect();
        sim.inject(Fault::Bridge { side_a: vec![Target::Host(HostId(f[0]))], side_b: vec![Target::Host(leader)] });
        let term = sim.server(leader).unwrap().raft.term;
        sim.run_for(secs(20));
        assert_eq!(sim.leader().map(|l| (l.0, l.2)), Some((leader, term)), "seed={seed}");
        assert!(write_succeeds(&mut sim, leader), "quorum of leader + bridge commits, seed={seed}");
        assert!(sim.violations().is_empty(), "reproduce with seed={seed}");
    }
}

#[test]
fn one_way_cut_from_leader_to_a_follower_keeps_the_cluster_writable() {
    for seed in 0..10 {
        let (mut sim, leader) = started(seed, 3);
        let f = HostId((leader.0 + 1) % 3);
        sim.inject(Fault::CutOneWay { from: Target::Host(leader), to: Target::Host(f) });
        sim.run_for(secs(15));
        // The cut follower hears nothing, but its pre-votes are refused by the other
        // follower (in lease) and the leader: no term inflation, no new leader.
        assert_eq!(sim.leader().map(|l| l.0), Some(leader), "seed={seed}");
        assert!(write_succeeds(&mut sim, leader), "seed={seed}");
        let lagging = sim.server(f).unwrap().raft.log.committed;
        assert!(lagging < sim.max_commit(), "the cut follower falls behind, seed={seed}");
        sim.inject(Fault::Heal);
        sim.run_for(secs(2));
        assert_eq!(sim.server(f).unwrap().raft.log.committed, sim.max_commit(), "catches up, seed={seed}");
        assert!(sim.violations().is_empty(), "reproduce with seed={seed}");
    }
}

#[test]
fn a_paused_leader_is_replaced_and_steps_down_when_it_resumes() {
    for seed in 0..10 {
        let (mut sim, leader) = started(seed, 3);
        let old_term = sim.server(leader).unwrap().raft.term;
        sim.inject(Fault::Pause(Target::Host(leader)));
        sim.run_for(secs(5));
        assert!(sim.is_paused(leader));
        // Frozen, it still believes it leads; the others elected someone else.
        assert!(sim.server(leader).unwrap().raft.is_leader());
        let (new_leader, _, new_term) = sim.leader().unwrap();
        assert_ne!(new_leader, leader, "seed={seed}");
        assert!(new_term > old_term);
        sim.inject(Fault::Resume(Target::Host(leader)));
        sim.run_for(SimDuration::from_millis(500));
        let s = sim.server(leader).unwrap();
        assert!(!s.raft.is_leader(), "resumed leader stepped down, seed={seed}");
        assert_eq!(s.raft.term, new_term);
        assert!(sim.violations().is_empty(), "reproduce with seed={seed}");
    }
}

#[test]
fn a_leader_with_a_slow_disk_triggers_elections() {
    for seed in 0..10 {
        let mut sim =
            ClusterBuilder::new(3).seed(seed).workload(Workload { writes_per_sec: 50, ..Workload::default() }).build();
        sim.run_until(SimTime::ZERO + secs(3));
        let (leader, _, _) = sim.leader().unwrap();
        let elections_before = sim.leader_history().len();
        let slow = DiskProfile { fsync_base: SimDuration::from_millis(2_500), fsync_jitter: SimDuration::ZERO };
        sim.inject(Fault::SlowDisk { target: Target::Host(leader), profile: slow });
        sim.run_for(secs(10));
        // While the leader's loop waits on fsync it sends no heartbeats; followers
        // time out after 1–2 s and elect another member.
        assert!(sim.leader_history().len() > elections_before, "no election, seed={seed}");
        assert!(sim.leader_history().iter().skip(elections_before).any(|l| l.host != leader), "seed={seed}");
        assert!(sim.violations().is_empty(), "reproduce with seed={seed}");
    }
}

#[test]
fn healthy_disks_cause_no_elections_under_load() {
    let mut sim =
        ClusterBuilder::new(3).seed(4).workload(Workload { writes_per_sec: 200, ..Workload::default() }).build();
    sim.run_until(SimTime::ZERO + secs(60));
    assert_eq!(sim.leader_history().len(), 1, "one election at boot, none after");
}

#[test]
fn long_runs_compact_the_log_and_a_lagging_member_catches_up_from_a_snapshot() {
    let mut sim =
        ClusterBuilder::new(3).seed(2).workload(Workload { writes_per_sec: 100, ..Workload::default() }).build();
    sim.run_until(SimTime::ZERO + secs(5));
    let (leader, _, _) = sim.leader().unwrap();
    let lagging = HostId((leader.0 + 1) % 3);
    sim.inject(Fault::Crash(Target::Host(lagging)));
    // 200 s at ~67 writes/s that reach a live member: > 13,000 entries, more than a
    // snapshot-count (10,000) past the last snapshot and the 5,000 catch-up entries.
    sim.run_for(secs(200));
    let leader_log = &sim.server(sim.leader().unwrap().0).unwrap().raft.log;
    assert!(leader_log.first_index() > 1, "the leader compacted its log");
    let held = leader_log.last_index() - leader_log.first_index() + 1;
    assert!(held <= 10_000 + 5_000 + 1_000, "leader holds {held} entries");
    sim.inject(Fault::Restart(Target::Host(lagging)));
    sim.run_for(secs(5));
    let s = sim.server(lagging).unwrap();
    assert_eq!(s.raft.log.committed, sim.max_commit(), "caught up");
    assert!(s.raft.log.first_index() > 1_000, "caught up from a snapshot, not entry by entry");
    sim.run_for(secs(400));
    for h in 0..3 {
        let log = &sim.server(HostId(h)).unwrap().raft.log;
        let held = log.last_index() - log.first_index() + 1;
        assert!(held <= 16_000, "etcd-{} holds {held} entries after 10 minutes", h + 1);
    }
    sim.finish().assert_safe();
}

#[test]
fn an_isolated_leader_and_its_successor_overlap_until_check_quorum_steps_it_down() {
    let cut = SimTime::ZERO + SimDuration::from_secs(5);
    let mut with_overlap = 0;
    for seed in 0..20 {
        let out = ClusterBuilder::new(3)
            .seed(seed)
            .fault(SimDuration::from_secs(5), Fault::Isolate(Target::EtcdLeader))
            .run_for(SimDuration::from_secs(15));
        out.assert_safe();
        // The old leader steps down at its next CheckQuorum (at most one election
        // timeout after the cut, plus the tick it lands on); the majority elects after
        // 1–2 s. When the election wins the race, two leaders overlap until then.
        assert!(out.etcd_overlaps.len() <= 1, "seed={seed}");
        if let Some(o) = out.etcd_overlaps.first() {
            with_overlap += 1;
            assert_eq!(o.leaders.len(), 2);
            assert!(o.leaders[0].1 != o.leaders[1].1, "different terms, seed={seed}");
            let end = o.end.expect("the old leader steps down");
            assert!(o.start > cut && end <= cut + SimDuration::from_secs(2), "{:?}..{end}, seed={seed}", o.start);
        }
    }
    assert!((2..=18).contains(&with_overlap), "{with_overlap}/20 runs had two leaders at once");
}

#[test]
fn a_fault_with_a_duration_is_undone_on_the_host_it_hit() {
    let out = ClusterBuilder::new(3)
        .seed(3)
        .fault(
            SimDuration::from_secs(5),
            Fault::For { fault: Box::new(Fault::Crash(Target::EtcdLeader)), lasts: SimDuration::from_secs(10) },
        )
        .run_for(SimDuration::from_secs(30));
    out.assert_safe();
    let crashed = out.timeline.iter().find(|t| t.text.contains("crashed (power loss")).expect("crashed");
    let host = crashed.host.expect("a host");
    let name = &out.host_names[host.index()];
    // Restarted 10 s later, though it is no longer the leader by then.
    let restarted = out
        .timeline
        .iter()
        .find(|t| t.host == Some(host) && t.text.contains("restarted"))
        .unwrap_or_else(|| panic!("{name} never restarted"));
    assert_eq!(restarted.at, crashed.at + SimDuration::from_secs(10));
}

#[test]
fn a_cut_whose_ends_resolve_to_one_host_is_skipped_and_said_so() {
    for seed in 0..3 {
        // "etcd-leader → cp-N" where cp-N is the leader right now: there is no link
        // between a host and itself to cut, so nothing changes and the timeline says why.
        let (mut sim, leader) = started(seed, 3);
        sim.inject(Fault::CutOneWay { from: Target::EtcdLeader, to: Target::Host(leader) });
        sim.inject(Fault::Bridge { side_a: vec![Target::EtcdLeader], side_b: vec![Target::Host(leader)] });
        sim.run_for(secs(5));
        assert_eq!(sim.leader().map(|l| l.0), Some(leader), "seed={seed}");
        assert!(write_succeeds(&mut sim, leader), "seed={seed}");
        let skipped = sim.timeline().iter().filter(|t| t.text.starts_with("fault skipped: both ends are")).count();
        assert_eq!(skipped, 1, "seed={seed}");
        let out = sim.finish();
        out.assert_safe();
        assert!(out.network.iter().all(|n| n.cut.is_empty()), "nothing was cut, seed={seed}: {:?}", out.network);
    }
}

#[test]
fn a_killed_etcd_follower_is_restarted_by_the_kubelet_within_a_second_and_catches_up() {
    for seed in 0..10 {
        let (mut sim, leader) = started(seed, 3);
        let victim = HostId((leader.0 + 1) % 3);
        sim.inject(Fault::Kill { target: Target::Host(victim), process: hasim_sim::Process::Etcd });
        assert!(sim.server(victim).is_none(), "seed={seed}");
        sim.run_for(SimDuration::from_millis(1_000));
        assert!(sim.server(victim).is_some(), "not running a second after the kill, seed={seed}");
        assert!(write_succeeds(&mut sim, leader), "seed={seed}");
        sim.run_for(secs(2));
        let caught_up = sim.server(victim).unwrap().raft.log.committed;
        assert_eq!(caught_up, sim.max_commit(), "seed={seed}");
        assert_eq!(sim.leader().map(|l| l.0), Some(leader), "a follower's restart moves no leader, seed={seed}");
        assert!(sim.violations().is_empty(), "reproduce with seed={seed}");
    }
}

#[test]
fn etcd_killed_twice_in_a_row_stays_down_for_the_crash_loop_back_off() {
    for seed in 0..10 {
        let (mut sim, leader) = started(seed, 3);
        let victim = HostId((leader.0 + 1) % 3);
        let kill = Fault::Kill { target: Target::Host(victim), process: hasim_sim::Process::Etcd };
        sim.inject(kill.clone());
        sim.run_for(secs(2));
        assert!(sim.server(victim).is_some(), "seed={seed}");
        sim.inject(kill);
        let second = sim.now();
        sim.run_for(SimDuration::from_millis(9_990));
        assert!(sim.server(victim).is_none(), "back before its 10 s back-off, seed={seed}");
        sim.run_for(SimDuration::from_millis(20));
        assert!(sim.server(victim).is_some(), "not back after its 10 s back-off, seed={seed}");
        let said = sim.timeline().iter().any(|t| {
            t.at == second + secs(10)
                && t.text.contains("kubelet started etcd on")
                && t.text.contains("crash-loop back-off")
        });
        assert!(said, "seed={seed}");
        assert!(sim.violations().is_empty(), "reproduce with seed={seed}");
    }
}
