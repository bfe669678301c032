//! kube-scheduler and kube-controller-manager leader election through the apiservers:
//! takeover timings after a crash and a graceful stop, and the overlaps that pauses and
//! clock-rate drift cause (and that a clock offset does not).

use hasim_sim::{
    ClientLoad, ClusterBuilder, Component, ControlPlaneSpec, Fault, HostId, Process, SimDuration, SimTime, Simulation,
    Target,
};

fn secs(s: u64) -> SimDuration {
    SimDuration::from_secs(s)
}

fn cluster(seed: u64) -> Simulation {
    let mut cp = ControlPlaneSpec::stacked(3);
    cp.clients =
        ClientLoad { writes_per_sec: 5, quorum_reads_per_sec: 5, cache_reads_per_sec: 5, ..ClientLoad::default() };
    ClusterBuilder::new(3).seed(seed).control_plane(cp).build()
}

/// Runs until `c` has a leader and returns its host.
fn leader_of(sim: &mut Simulation, c: Component) -> HostId {
    for _ in 0..600 {
        if let Some(h) = sim.component_leader(c) {
            return h;
        }
        sim.run_for(SimDuration::from_millis(100));
    }
    panic!("no {} leader, seed={}", c.name(), sim.spec().seed);
}

/// Steps until someone other than `old` leads `c`; returns when, and the last time the
/// new leader saw `old`'s record change (on its clock, here true time).
fn takeover(sim: &mut Simulation, c: Component, old: HostId, limit: SimDuration) -> (SimTime, i64) {
    let end = sim.now() + limit;
    let mut last_seen = [i64::MIN; 3];
    while sim.now() < end {
        for (h, seen) in last_seen.iter_mut().enumerate() {
            if let Some((rec, at)) = sim.elector_observed(HostId(h as u32), c)
                && rec.holder.is_some_and(|id| id.host == old.0)
            {
                *seen = at.0;
            }
        }
        sim.run_for(SimDuration::from_millis(10));
        if let Some(h) = sim.component_leader(c)
            && h != old
        {
            return (sim.now(), last_seen[h.index()]);
        }
    }
    panic!("no takeover from {old:?}, seed={}", sim.spec().seed);
}

#[test]
fn after_the_scheduler_leaders_host_crashes_a_standby_takes_over_15_to_20_s_after_the_last_renewal_it_saw() {
    for seed in 0..10 {
        let mut sim = cluster(seed);
        sim.run_until(SimTime::ZERO + secs(30));
        let old = leader_of(&mut sim, Component::Scheduler);
        sim.inject(Fault::Crash(Target::Host(old)));
        let (at, last_seen) = takeover(&mut sim, Component::Scheduler, old, secs(40));
        let waited = at.as_micros() as i64 - last_seen;
        assert!(
            (15_000_000..=19_600_000).contains(&waited),
            "took over {waited} µs after the last renewal it saw, seed={seed}"
        );
        assert!(sim.overlaps().is_empty(), "seed={seed}");
    }
}

#[test]
fn a_gracefully_stopped_scheduler_releases_and_is_replaced_within_one_retry_period() {
    for seed in 0..10 {
        let mut sim = cluster(seed);
        sim.run_until(SimTime::ZERO + secs(30));
        let old = leader_of(&mut sim, Component::Scheduler);
        let stop = sim.now();
        sim.inject(Fault::StopProcess { target: Target::Host(old), process: Process::Scheduler });
        let (at, _) = takeover(&mut sim, Component::Scheduler, old, secs(30));
        // The standby's next try (2–4.4 s apart) finds an empty holder.
        assert!(at.since(stop) <= SimDuration::from_millis(4_500), "took {}, seed={seed}", at.since(stop));
    }
}

#[test]
fn a_gracefully_stopped_controller_manager_leaves_the_lease_to_run_out() {
    for seed in 0..10 {
        let mut sim = cluster(seed);
        sim.run_until(SimTime::ZERO + secs(30));
        let old = leader_of(&mut sim, Component::ControllerManager);
        let stop = sim.now();
        sim.inject(Fault::StopProcess { target: Target::Host(old), process: Process::ControllerManager });
        let (at, _) = takeover(&mut sim, Component::ControllerManager, old, secs(40));
        let took = at.since(stop);
        assert!(took >= SimDuration::from_secs(12) && took <= SimDuration::from_secs(24), "took {took}, seed={seed}");
    }
}

#[test]
fn a_controller_manager_paused_past_its_lease_overlaps_with_its_successor_when_it_resumes() {
    for seed in 0..10 {
        let mut sim = cluster(seed);
        sim.run_until(SimTime::ZERO + secs(30));
        let old = leader_of(&mut sim, Component::ControllerManager);
        let target = Target::Host(old);
        sim.inject(Fault::PauseProcess { target, process: Process::ControllerManager });
        sim.run_for(secs(30));
        assert!(sim.overlaps().is_empty(), "frozen, it does not act: no overlap yet, seed={seed}");
        let resume = sim.now();
        sim.inject(Fault::ResumeProcess { target, process: Process::ControllerManager });
        sim.run_for(secs(20));
        let o = sim.overlaps().first().unwrap_or_else(|| panic!("no overlap reported, seed={seed}")).clone();
        assert_eq!(o.component, Component::ControllerManager);
        assert_eq!(o.start, resume, "the overlap starts when it resumes, seed={seed}");
        let len = o.end.expect("it ends").since(o.start);
        // Until its renew round runs out (RenewDeadline), it still acts.
        assert!(
            len > SimDuration::from_secs(5) && len <= SimDuration::from_millis(10_100),
            "overlap {len}, seed={seed}"
        );
        assert!(o.hosts.contains(&old));
    }
}

/// The controller-manager leader's node is cut off from the others, so it cannot renew,
/// while `clock` happens to its host's clock. Returns whether an overlap was reported.
fn partitioned_leader_with(seed: u64, clock: Option<Fault>) -> bool {
    let mut sim = cluster(seed);
    sim.run_until(SimTime::ZERO + secs(30));
    let old = leader_of(&mut sim, Component::ControllerManager);
    if let Some(mut f) = clock {
        if let Fault::ClockRate { target, .. } | Fault::ClockStep { target, .. } = &mut f {
            *target = Target::Host(old);
        }
        sim.inject(f);
    }
    cut_off(&mut sim, old);
    sim.run_for(secs(60));
    controller_manager_overlapped(&sim)
}

/// Cuts `host` off from the other two control-plane nodes.
fn cut_off(sim: &mut Simulation, host: HostId) {
    let others: Vec<Target> = (0..3).filter(|&h| h != host.0).map(|h| Target::Host(HostId(h))).collect();
    sim.inject(Fault::Bridge { side_a: vec![Target::Host(host)], side_b: others });
}

/// Whether two controller-managers acted at once. (A scheduler leader on the same node
/// may overlap too, while it releases its lease: see below.)
fn controller_manager_overlapped(sim: &Simulation) -> bool {
    sim.overlaps().iter().any(|o| o.component == Component::ControllerManager)
}

#[test]
fn clock_rate_drift_on_the_leaders_host_causes_overlaps_and_a_pure_offset_does_not() {
    let seeds = 0..20;
    let baseline = seeds.clone().filter(|&s| partitioned_leader_with(s, None)).count();
    assert_eq!(
        baseline, 0,
        "a partitioned controller-manager leader with a true clock steps down before anyone takes over"
    );
    let offset = seeds
        .clone()
        .filter(|&s| {
            partitioned_leader_with(s, Some(Fault::ClockStep { target: Target::EtcdLeader, offset_us: 30_000_000 }))
        })
        .count();
    assert_eq!(offset, 0, "client-go compares local durations only: an offset changes nothing");
    // Timers on the leader's host take 1.5× as long: its 10 s renew deadline lasts 15 s,
    // so in some runs a standby takes over before the old leader gives up.
    let slow = |rate_ppm| {
        seeds
            .clone()
            .filter(|&s| partitioned_leader_with(s, Some(Fault::ClockRate { target: Target::EtcdLeader, rate_ppm })))
            .count()
    };
    let at_1_5 = slow(666_667);
    eprintln!("overlaps with a 1.5x slow clock: {at_1_5}/20");
    assert!(at_1_5 >= 4, "1.5× slow clock: overlap in only {at_1_5} of 20 runs");
    let at_2 = slow(500_000);
    eprintln!("overlaps with a 2x slow clock: {at_2}/20");
    assert!(at_2 >= 18, "2× slow clock: overlap in only {at_2} of 20 runs");
}

/// The controller-manager leader's node is cut off, and 3 s later, while its renewals
/// fail, its clock is stepped by `offset_us` (NTP setting the time, or `date -s`).
/// Returns whether an overlap was reported.
fn partitioned_leader_stepped_mid_round(seed: u64, offset_us: i64) -> bool {
    let mut sim = cluster(seed);
    sim.run_until(SimTime::ZERO + secs(30));
    let old = leader_of(&mut sim, Component::ControllerManager);
    cut_off(&mut sim, old);
    sim.run_for(secs(3));
    sim.inject(Fault::ClockStep { target: Target::Host(old), offset_us });
    sim.run_for(secs(60));
    controller_manager_overlapped(&sim)
}

#[test]
fn a_clock_step_while_the_leader_cannot_renew_neither_keeps_it_leading_nor_hurries_it() {
    const HOUR_US: i64 = 3_600_000_000;
    for seed in 0..10 {
        // Go times leases on the monotonic clock: the step changes nothing.
        assert!(!partitioned_leader_stepped_mid_round(seed, -HOUR_US), "stepped back 1 h: overlap, seed={seed}");
        assert!(!partitioned_leader_stepped_mid_round(seed, HOUR_US), "stepped ahead 1 h: overlap, seed={seed}");
    }
}

#[test]
fn a_partitioned_scheduler_leads_on_while_its_release_waits_and_may_overlap_its_successor() {
    // kube-scheduler sets ReleaseOnCancel: when its renewal fails, client-go's renew()
    // writes the release before Run returns, so it schedules on until that call gives
    // up (the 5 s client timeout, its node being cut off). A standby may take over
    // 15 s after the last renewal it saw, before that.
    let mut overlapped = 0;
    for seed in 0..20 {
        let mut sim = cluster(seed);
        sim.run_until(SimTime::ZERO + secs(30));
        let old = leader_of(&mut sim, Component::Scheduler);
        cut_off(&mut sim, old);
        sim.run_for(secs(60));
        let overlaps: Vec<_> = sim.overlaps().iter().filter(|o| o.component == Component::Scheduler).cloned().collect();
        for o in &overlaps {
            let len = o.end.expect("it ends").since(o.start);
            // It gives up 12 s after its last renewal (the 2 s retry wait, then the
            // 10 s RenewDeadline) and acts at most 5 s more; a standby takes over no
            // sooner than 15 s after it saw that renewal: about 2 s at most.
            assert!(len <= SimDuration::from_millis(2_500), "overlap {len}, seed={seed}");
            assert!(o.hosts.contains(&old), "seed={seed}");
        }
        overlapped += usize::from(!overlaps.is_empty());
    }
    eprintln!("scheduler overlaps in {overlapped}/20 runs");
    assert!(overlapped > 0, "the release never outlasted a standby's wait");
}

#[test]
fn a_scheduler_stopped_while_its_release_is_in_flight_stops_when_that_call_returns() {
    // Cut off, the leader gives up its renewal and writes its release, which waits
    // out the client's 5 s timeout; a graceful stop meanwhile lets it finish, and
    // leadership ends with it, not at once and not never.
    for seed in 0..5 {
        let mut sim = cluster(seed);
        sim.run_until(SimTime::ZERO + secs(30));
        let old = leader_of(&mut sim, Component::Scheduler);
        cut_off(&mut sim, old);
        while !sim.timeline().iter().any(|t| t.text.contains("with ReleaseOnCancel it first tries to release")) {
            sim.run_for(SimDuration::from_millis(100));
        }
        sim.inject(Fault::StopProcess { target: Target::Host(old), process: Process::Scheduler });
        let stopped = sim.now();
        sim.run_for(secs(20));
        let spell = sim
            .leading_spells()
            .iter()
            .find(|s| s.component == Component::Scheduler && s.host == old)
            .expect("it led")
            .end
            .unwrap_or_else(|| panic!("its leading spell never ends, seed={seed}"));
        let after = spell.since(stopped);
        assert!(after > SimDuration::ZERO && after <= secs(5), "ended {after} after the stop, seed={seed}");
    }
}
