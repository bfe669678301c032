//! `hasim demo`: a built-in run that crashes the etcd leader of a cluster under write
//! load and shows what happened.

use hasim_sim::{ClusterBuilder, Fault, RequestKind, SimDuration, SimTime, Target, Workload};

use crate::Failure;
use crate::output::say;

pub fn demo(seed: u64, members: u8, pre_vote: bool, writes_per_sec: u32) -> Result<(), Failure> {
    let crash_at = SimTime::ZERO + SimDuration::from_secs(10);
    // The options that shape the run, for the command that replays it if it crashes.
    let flags = format!(
        " --members {members} --writes-per-sec {writes_per_sec}{}",
        if pre_vote { "" } else { " --no-pre-vote" }
    );
    let outcome = crate::crash::simulating_demo(seed, flags, || {
        let mut sim = ClusterBuilder::new(usize::from(members))
            .seed(seed)
            .pre_vote(pre_vote)
            .workload(Workload { writes_per_sec, ..Workload::default() })
            .build();
        sim.run_until(crash_at);
        // Crash whichever member leads at 10 s and bring the same host back at 30 s.
        if let Some((leader_host, _, _)) = sim.leader() {
            sim.inject(Fault::Crash(Target::Host(leader_host)));
            sim.schedule(SimTime::ZERO + SimDuration::from_secs(30), Fault::Restart(Target::Host(leader_host)));
        }
        sim.run_until(SimTime::ZERO + SimDuration::from_secs(40));
        sim.finish()
    });

    say!(
        "hasim demo: {members}-member etcd cluster, {writes_per_sec} writes/s, the etcd leader crashes at 10s and restarts at 30s (seed {seed})"
    );
    say!();
    say!("Timeline:");
    for t in &outcome.timeline {
        say!("  {:>10}  {}", t.at.to_string().trim_start_matches("t="), t.text);
    }
    say!();
    let restart_at = SimTime::ZERO + SimDuration::from_secs(30);
    if let Some(next) = outcome.leader_history.iter().find(|l| l.at > crash_at && l.at < restart_at) {
        say!("New leader {} after the crash (term {})", next.at.since(crash_at), next.term);
    } else {
        say!(
            "No new leader after the crash while the member was down: {members} member(s) cannot lose one and keep quorum"
        );
    }
    let writes: Vec<_> = outcome.requests.iter().filter(|r| r.kind == RequestKind::Write).collect();
    let ok = writes.iter().filter(|r| matches!(r.result, Some(Ok(_)))).count();
    say!("Writes: {ok} of {} acknowledged; {} entries committed", writes.len(), outcome.committed.len());
    let s = outcome.stats;
    say!(
        "Engine: {} events, {} messages ({} dropped), {} fsyncs",
        s.events,
        s.messages_sent,
        s.messages_dropped,
        s.fsyncs
    );
    if outcome.violations.is_empty() {
        say!("Safety: all Raft invariants held");
        Ok(())
    } else {
        for v in &outcome.violations {
            eprintln!("safety violation: {v}");
        }
        Err(Failure::Unmet)
    }
}
