//! etcd Raft behaviour under faults, asserted with numbers: election timing, step-down
//! of a minority leader, PreVote on rejoin, quorum arithmetic, learners.

use hasim_sim::{
    ClusterBuilder, Fault, HostId, LogIndex, RequestKind, SimDuration, SimTime, Simulation, Target, Term, Workload,
};

fn secs(s: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_secs(s)
}

fn ms(m: u64) -> SimDuration {
    SimDuration::from_millis(m)
}

/// Runs until a leader exists (at most 10 s) and returns its host.
fn settle(sim: &mut Simulation) -> HostId {
    for _ in 0..100 {
        if let Some((h, _, _)) = sim.leader() {
            return h;
        }
        sim.run_for(ms(100));
    }
    panic!("no leader within 10s, reproduce with seed={}", sim.spec().seed);
}

/// Time from `from` until the first leader elected after it.
fn next_election_after(sim: &Simulation, from: SimTime) -> Option<SimDuration> {
    sim.leader_history().iter().find(|l| l.at > from).map(|l| l.at.since(from))
}

#[test]
fn leader_crash_elects_a_new_leader_within_the_randomised_timeout_window() {
    // (delay, seed, contested): contested = more than one candidate after the crash.
    let mut runs = Vec::new();
    for seed in 0..300 {
        let mut sim = ClusterBuilder::new(3).seed(seed).build();
        sim.run_until(secs(5));
        settle(&mut sim);
        let crash = sim.now();
        sim.inject(Fault::Crash(Target::EtcdLeader));
        sim.run_for(SimDuration::from_secs(6));
        let d = next_election_after(&sim, crash).unwrap_or_else(|| panic!("no new leader, reproduce with seed={seed}"));
        let elections =
            sim.timeline().iter().filter(|t| t.at > crash && t.text.contains("started an election")).count();
        runs.push((d, seed, elections > 1));
        assert!(sim.violations().is_empty(), "reproduce with seed={seed}");
    }
    runs.sort();
    // One candidate: its timer counts whole 100 ms ticks since the last heartbeat it
    // got, drawn from [10, 20) ticks, and that heartbeat came up to one interval before
    // the crash: the takeover lands between ET - 2 ticks (0.8 s) and 2·ET (2.0 s).
    for &(d, seed, contested) in &runs {
        if !contested {
            assert!(d >= ms(800) && d <= ms(2000), "uncontested failover took {d}, reproduce with seed={seed}");
        } else {
            assert!(d <= ms(4000), "contested failover took {d}, reproduce with seed={seed}");
        }
    }
    let contested = runs.iter().filter(|r| r.2).count();
    assert!(contested * 50 <= runs.len(), "{contested} of {} failovers needed a second election", runs.len());
    let within = runs.iter().filter(|(d, _, _)| *d >= ms(1000) && *d <= ms(2200)).count();
    assert!(within * 100 >= runs.len() * 75, "only {within} of {} failovers within 1.0–2.2 s", runs.len());
    // The spread reflects the randomised timeout, not a fixed delay.
    let (p10, p50, p90) = (runs[runs.len() / 10].0, runs[runs.len() / 2].0, runs[runs.len() * 9 / 10].0);
    assert!(p90.as_micros() - p10.as_micros() >= ms(500).as_micros(), "p10 {p10} p90 {p90}");
    assert!(p50 >= ms(1000) && p50 <= ms(1500), "median {p50}");
}

#[test]
fn leader_partitioned_into_the_minority_steps_down_and_its_uncommitted_entries_are_replaced() {
    for seed in 0..20 {
        let mut sim = ClusterBuilder::new(5).seed(seed).build();
        sim.run_until(secs(3));
        let old = settle(&mut sim);
        // A few writes commit everywhere first.
        for _ in 0..5 {
            sim.request(old, RequestKind::Write);
        }
        sim.run_for(ms(500));
        let committed_before: LogIndex = sim.server(old).unwrap().raft.log.committed;
        let digest_before = sim.server(old).unwrap().raft.log.digest(committed_before);
        let minority_peer = HostId((old.0 + 1) % 5);
        let majority: Vec<Target> =
            (0..5).map(HostId).filter(|&h| h != old && h != minority_peer).map(Target::Host).collect();
        let split = sim.now();
        sim.inject(Fault::Partition(vec![vec![Target::Host(old), Target::Host(minority_peer)], majority]));
        // Writes sent to the old leader now cannot commit.
        let stranded: Vec<u64> = (0..5).map(|_| sim.request(old, RequestKind::Write)).collect();
        let mut stepped_down_at = None;
        while sim.now() < split + SimDuration::from_secs(10) {
            sim.run_for(ms(10));
            let s = sim.server(old).unwrap();
            assert_eq!(s.raft.log.committed, committed_before, "minority leader committed, seed={seed}");
            if stepped_down_at.is_none() && !s.raft.is_leader() {
                stepped_down_at = Some(sim.now());
            }
        }
        let down = stepped_down_at.expect("old leader never stepped down").since(split);
        assert!(down <= SimDuration::from_secs(2), "stepped down after {down}, seed={seed}");
        let (new_leader, _, new_term) = sim.leader().expect("majority elects a leader");
        assert_ne!(new_leader, old);
        assert_ne!(new_leader, minority_peer);
        // The majority makes progress meanwhile.
        let w = sim.request(new_leader, RequestKind::Write);
        sim.run_for(ms(200));
        assert!(matches!(sim.request_result(w), Some(Ok(_))), "majority write failed, seed={seed}");

        sim.inject(Fault::Heal);
        sim.run_for(SimDuration::from_secs(10));
        let s = sim.server(old).unwrap();
        assert!(s.raft.term >= new_term);
        assert_eq!(s.raft.log.digest(committed_before), digest_before, "committed prefix kept, seed={seed}");
        let leader_log = &sim.server(sim.leader().unwrap().0).unwrap().raft.log;
        let last = s.raft.log.last_index().min(leader_log.last_index());
        assert_eq!(s.raft.log.digest(last), leader_log.digest(last), "old leader's log converged, seed={seed}");
        for id in stranded {
            assert!(matches!(sim.request_result(id), Some(Err(_))), "stranded write {id} must fail, seed={seed}");
        }
        assert!(sim.violations().is_empty(), "reproduce with seed={seed}");
    }
}

fn rejoin_after_long_partition(pre_vote: bool, seed: u64) -> (Term, Term, bool) {
    let mut sim = ClusterBuilder::new(3).seed(seed).pre_vote(pre_vote).build();
    sim.run_until(secs(3));
    let leader = settle(&mut sim);
    let term_before = sim.server(leader).unwrap().raft.term;
    let elections_before = sim.leader_history().len();
    sim.inject(Fault::Isolate(Target::Host(HostId((leader.0 + 1) % 3))));
    sim.run_for(SimDuration::from_secs(30));
    sim.inject(Fault::Heal);
    sim.run_for(SimDuration::from_secs(10));
    let (_, _, term_after) = sim.leader().expect("a leader after healing");
    let deposed = sim.leader_history().len() > elections_before || sim.leader().unwrap().0 != leader;
    assert!(sim.violations().is_empty(), "reproduce with seed={seed}");
    (term_before, term_after, deposed)
}

#[test]
fn with_pre_vote_a_rejoining_member_does_not_raise_the_term_or_depose_the_leader() {
    for seed in 0..20 {
        let (before, after, deposed) = rejoin_after_long_partition(true, seed);
        assert_eq!(before, after, "term moved with PreVote on, seed={seed}");
        assert!(!deposed, "leader deposed with PreVote on, seed={seed}");
    }
}

#[test]
fn without_pre_vote_a_rejoining_member_raises_the_term_and_deposes_the_leader() {
    for seed in 0..20 {
        let (before, after, deposed) = rejoin_after_long_partition(false, seed);
        // 30 s alone at one election per 1–2 s: the term climbed by well over ten.
        assert!(after.0 >= before.0 + 10, "term only {before} -> {after}, seed={seed}");
        assert!(deposed, "leader survived without PreVote, seed={seed}");
    }
}

#[test]
fn four_members_split_two_two_have_no_leader_and_commit_nothing() {
    for seed in 0..20 {
        let mut sim =
            ClusterBuilder::new(4).seed(seed).workload(Workload { writes_per_sec: 50, ..Workload::default() }).build();
        sim.run_until(secs(3));
        settle(&mut sim);
        let split = sim.now();
        let h = |i| Target::Host(HostId(i));
        sim.inject(Fault::Partition(vec![vec![h(0), h(1)], vec![h(2), h(3)]]));
        sim.run_for(ms(50));
        let commit_at_split = sim.max_commit();
        while sim.now() < split + SimDuration::from_secs(20) {
            sim.run_for(ms(100));
            assert_eq!(sim.max_commit(), commit_at_split, "committed during a 2/2 split, seed={seed}");
            if sim.now() >= split + SimDuration::from_secs(2) {
                assert!(sim.leaders().is_empty(), "a leader at {} during a 2/2 split, seed={seed}", sim.now());
            }
        }
        let outcome = sim.finish();
        let acked_during = outcome.writes_ok_between(split + ms(50), split + SimDuration::from_secs(20));
        assert_eq!(acked_during, 0, "writes acknowledged during the split, seed={seed}");
        outcome.assert_safe();
    }
}

#[test]
fn five_members_survive_two_crashes_and_keep_accepting_writes() {
    for seed in 0..20 {
        let mut sim = ClusterBuilder::new(5).seed(seed).build();
        sim.run_until(secs(3));
        settle(&mut sim);
        sim.inject(Fault::Crash(Target::EtcdLeader));
        sim.inject(Fault::Crash(Target::EtcdFollower));
        sim.run_for(SimDuration::from_secs(6));
        let (leader, _, _) = sim.leader().unwrap_or_else(|| panic!("no leader with 3 of 5 up, seed={seed}"));
        let w = sim.request(leader, RequestKind::Write);
        sim.run_for(ms(200));
        assert!(matches!(sim.request_result(w), Some(Ok(_))), "seed={seed}");
        assert!(sim.violations().is_empty(), "reproduce with seed={seed}");
    }
}

#[test]
fn two_members_lose_all_writes_when_one_crashes() {
    for seed in 0..20 {
        for victim in [Target::EtcdLeader, Target::EtcdFollower] {
            let mut sim = ClusterBuilder::new(2)
                .seed(seed)
                .workload(Workload { writes_per_sec: 50, ..Workload::default() })
                .build();
            sim.run_until(secs(3));
            settle(&mut sim);
            let crash = sim.now();
            sim.inject(Fault::Crash(victim));
            sim.run_for(SimDuration::from_secs(20));
            let outcome = sim.finish();
            let before = outcome.writes_ok_between(SimTime(crash.as_micros() - 1_000_000), crash);
            assert!(before > 20, "writes worked before the crash, seed={seed}");
            let after = outcome.writes_ok_between(crash + ms(20), crash + SimDuration::from_secs(20));
            assert_eq!(after, 0, "{victim:?} crashed in a 2-member cluster yet writes succeeded, seed={seed}");
            outcome.assert_safe();
        }
    }
}

#[test]
fn a_learner_never_counts_toward_quorum_or_campaigns() {
    for seed in 0..20 {
        // 3 voters + 1 learner: losing 2 voters loses quorum although 2 of 4 run.
        let mut sim = ClusterBuilder::new(3).learners(1).seed(seed).build();
        sim.run_until(secs(3));
        settle(&mut sim);
        let learner = HostId(3);
        sim.run_for(SimDuration::from_secs(2));
        assert!(sim.server(learner).unwrap().raft.log.committed > 0, "learner replicates");
        sim.inject(Fault::Crash(Target::EtcdLeader));
        sim.inject(Fault::Crash(Target::EtcdFollower));
        let crash = sim.now();
        sim.run_for(ms(50));
        let commit = sim.max_commit();
        let w = sim.request(learner, RequestKind::Write);
        sim.run_for(SimDuration::from_secs(20));
        assert!(sim.leaders().is_empty(), "a leader without voter quorum, seed={seed}");
        assert_eq!(sim.max_commit(), commit, "committed without voter quorum, seed={seed}");
        assert!(matches!(sim.request_result(w), Some(Err(_))), "seed={seed}");
        let learner_campaigned =
            sim.timeline().iter().any(|t| t.at > crash && t.host == Some(learner) && t.text.contains("election"));
        assert!(!learner_campaigned, "the learner campaigned, seed={seed}");
        assert!(sim.violations().is_empty(), "reproduce with seed={seed}");
    }
}

#[test]
fn graceful_stop_of_the_leader_hands_over_without_an_election_timeout() {
    for seed in 0..20 {
        let (sim, old, _) = sigterm_the_leader(seed, Fault::Stop);
        assert!(sim.server(old).is_none(), "the old leader's etcd stopped");
    }
}

/// Sends SIGTERM to the settled leader's etcd through `fault` (3 members, no control
/// plane) and checks that it handed leadership over (MsgTimeoutNow) within 100 ms
/// instead of an election timeout. Returns the run 2 s later, the old leader and when.
fn sigterm_the_leader(seed: u64, fault: fn(Target) -> Fault) -> (Simulation, HostId, SimTime) {
    let mut sim = ClusterBuilder::new(3).seed(seed).build();
    sim.run_until(secs(3));
    let old = settle(&mut sim);
    let at = sim.now();
    sim.inject(fault(Target::Host(old)));
    sim.run_for(SimDuration::from_secs(2));
    let took = next_election_after(&sim, at).unwrap_or_else(|| panic!("no handover, seed={seed}"));
    assert!(took < ms(100), "handover took {took}, seed={seed}");
    let handed = sim.timeline().iter().any(|t| t.at >= at && t.text.contains("MsgTimeoutNow"));
    assert!(handed, "no transfer, reproduce with seed={seed}");
    (sim, old, at)
}

#[test]
fn renewing_the_leaders_certificates_hands_leadership_over_before_etcd_restarts() {
    for seed in 0..10 {
        // The kubelet's SIGTERM makes etcd transfer leadership first (etcd's Stop), so
        // a new leader takes over at once instead of after an election timeout.
        let (sim, old, renew) = sigterm_the_leader(seed, Fault::RenewCerts);
        // Only then does the old process exit and a new one start, now a follower.
        let position = |what: &str| {
            let found = sim.timeline().iter().position(|t| t.at >= renew && t.text.contains(what));
            found.unwrap_or_else(|| panic!("no \"{what}\" on the timeline, seed={seed}"))
        };
        assert!(position("became leader") < position("stopped"), "stopped before the handover, seed={seed}");
        let restarted = sim.server(old).unwrap_or_else(|| panic!("etcd not restarted, seed={seed}"));
        assert!(!restarted.raft.is_leader(), "seed={seed}");
        assert_ne!(sim.leader().map(|l| l.0), Some(old), "seed={seed}");
        assert!(sim.violations().is_empty(), "reproduce with seed={seed}");
    }
}

/// A 3-member cluster whose follower has been isolated for 2.5 s, long enough to have
/// given up on its leader; returns the run and that follower's host.
fn follower_cut_off_until_leaderless(seed: u64) -> (Simulation, HostId) {
    let mut sim = ClusterBuilder::new(3).seed(seed).build();
    sim.run_until(secs(3));
    let leader = settle(&mut sim);
    let cut = HostId((leader.0 + 1) % 3);
    sim.inject(Fault::Isolate(Target::Host(cut)));
    sim.run_for(SimDuration::from_millis(2_500));
    assert!(sim.server(cut).unwrap().raft.lead.is_none(), "the cut member lost its leader, seed={seed}");
    (sim, cut)
}

#[test]
fn a_write_to_a_member_without_a_leader_waits_for_one_instead_of_failing() {
    for seed in 0..10 {
        let (mut sim, cut) = follower_cut_off_until_leaderless(seed);
        let write = sim.request(cut, RequestKind::Write);
        let read = sim.request(cut, RequestKind::LinearizableRead);
        sim.run_for(SimDuration::from_millis(500));
        assert_eq!(sim.request_result(write), None, "still waiting, seed={seed}");
        let heal = sim.now();
        sim.inject(Fault::Heal);
        sim.run_for(SimDuration::from_secs(2));
        // raft's node takes proposals again once it knows a leader: the write lands.
        assert!(matches!(sim.request_result(write), Some(Ok(_))), "seed={seed}");
        // A read that was waiting for its read index fails fast when a leader appears
        // (etcd's ErrLeaderChanged), and the client may retry at once.
        assert_eq!(sim.request_result(read), Some(Err(hasim_sim::RequestError::LeaderChanged)), "seed={seed}");
        let rec = sim.finish();
        let w = rec.requests.iter().find(|r| r.id == write).unwrap();
        assert!(w.finished.unwrap().since(heal) < SimDuration::from_secs(1), "seed={seed}");
    }
}

#[test]
fn writes_waiting_for_a_quorum_when_the_run_ends_are_answered_by_their_deadline() {
    for seed in 0..3 {
        // Two of three members crash 5 s before the end: every write the survivor gets
        // from then on waits for a quorum until etcd's 7 s request timeout, which runs
        // out after the end.
        let out = ClusterBuilder::new(3)
            .seed(seed)
            .workload(Workload { writes_per_sec: 50, ..Workload::default() })
            .fault(SimDuration::from_secs(25), Fault::Crash(Target::Host(HostId(1))))
            .fault(SimDuration::from_secs(25), Fault::Crash(Target::Host(HostId(2))))
            .run_for(SimDuration::from_secs(30));
        out.assert_safe();
        assert!(out.requests.iter().all(|r| r.finished.is_some()), "a request left unanswered, seed={seed}");
        // The survivor holds its writes; the crashed members refuse theirs at once.
        let late: Vec<_> = out
            .requests
            .iter()
            .filter(|r| r.kind == RequestKind::Write && r.issued >= secs(26) && r.host == HostId(0))
            .collect();
        assert!(late.len() >= 50, "{} writes issued to the survivor in the last 4 s, seed={seed}", late.len());
        assert!(late.iter().all(|r| r.result.is_some_and(|x| x.is_err())), "seed={seed}");
        assert!(late.iter().all(|r| r.finished.unwrap() > secs(30)), "answered after the end, seed={seed}");
    }
}

#[test]
fn reads_waiting_through_an_election_share_the_new_leaders_read_index_and_only_the_round_in_flight_fails() {
    for seed in 0..10 {
        let mut sim = ClusterBuilder::new(3).seed(seed).build();
        sim.run_until(secs(3));
        let leader = settle(&mut sim);
        let follower = HostId((leader.0 + 1) % 3);
        sim.inject(Fault::Crash(Target::Host(leader)));
        // Linearizable reads keep arriving at a follower every 100 ms until a new
        // leader is elected.
        let mut reads = Vec::new();
        while sim.leader().is_none_or(|l| l.0 == leader) && reads.len() < 50 {
            reads.push(sim.request(follower, RequestKind::LinearizableRead));
            sim.run_for(ms(100));
        }
        assert!(reads.len() >= 5, "elected after {} reads, seed={seed}", reads.len());
        sim.run_for(SimDuration::from_secs(2));
        // etcd's read loop sent one ReadIndex, for the first read, to the dead leader;
        // that round fails when a new leader appears (ErrLeaderChanged)...
        assert_eq!(sim.request_result(reads[0]), Some(Err(hasim_sim::RequestError::LeaderChanged)), "seed={seed}");
        // ...and every read that arrived meanwhile waited for the next round, which the
        // new leader answers once it has committed an entry of its term.
        for (i, &r) in reads.iter().enumerate().skip(1) {
            assert!(matches!(sim.request_result(r), Some(Ok(_))), "read {i}: {:?}, seed={seed}", sim.request_result(r));
        }
        assert!(sim.violations().is_empty(), "reproduce with seed={seed}");
    }
}

#[test]
fn a_read_round_without_an_answer_gives_up_after_the_request_timeout_and_the_next_round_waits_for_a_leader() {
    for seed in 0..10 {
        let (mut sim, cut) = follower_cut_off_until_leaderless(seed);
        // The first read starts a round of the read loop; raft drops its ReadIndex for
        // want of a leader. A read 5 s later waits for the next round.
        let first = sim.request(cut, RequestKind::LinearizableRead);
        sim.run_for(SimDuration::from_secs(5));
        let second = sim.request(cut, RequestKind::LinearizableRead);
        // At 7 s the first round gives up (its client already has, at its own 7 s
        // deadline) and the second round starts, again with no leader to ask.
        sim.run_for(SimDuration::from_secs(3));
        assert_eq!(sim.request_result(first), Some(Err(hasim_sim::RequestError::DeadlineExceeded)), "seed={seed}");
        assert_eq!(sim.request_result(second), None, "seed={seed}");
        // When the cut heals, the member hears of a leader: that round fails with
        // ErrLeaderChanged, though the read has 4 s left.
        sim.inject(Fault::Heal);
        sim.run_for(SimDuration::from_secs(2));
        assert_eq!(sim.request_result(second), Some(Err(hasim_sim::RequestError::LeaderChanged)), "seed={seed}");
        assert!(sim.violations().is_empty(), "reproduce with seed={seed}");
    }
}
