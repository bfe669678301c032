//! The control plane as clients see it: a lost node behind the load balancer, and an
//! apiserver whose etcd member is in the minority, with TCP vs HTTP /readyz checks.

use hasim_sim::model::lb::{Balance, HaproxyConfig, HealthCheck};
use hasim_sim::{
    ClientLoad, ClusterBuilder, ControlPlaneSpec, EtcdPlacement, Failure, Fault, Frontend, HostId, Plane, Process,
    RequestError, RunOutcome, SimDuration, SimTime, Target,
};

fn secs(s: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_secs(s)
}

fn spec(check: HealthCheck) -> ControlPlaneSpec {
    let mut cp = ControlPlaneSpec::stacked(3);
    cp.frontend = Frontend::Haproxy(HaproxyConfig { check, ..HaproxyConfig::default() });
    cp.clients =
        ClientLoad { writes_per_sec: 30, quorum_reads_per_sec: 30, cache_reads_per_sec: 30, ..ClientLoad::default() };
    cp
}

/// When the LB marked `node` DOWN after `after`, from the timeline.
fn marked_down(out: &RunOutcome, node: &str, after: SimTime) -> Option<SimTime> {
    out.timeline.iter().find(|t| t.at >= after && t.text.contains(&format!("marked {node} DOWN"))).map(|t| t.at)
}

/// Failed and total requests of `plane` issued in [from, to).
fn failed_between(out: &RunOutcome, plane: Plane, from: SimTime, to: SimTime) -> (u64, u64) {
    let cp = out.control_plane.as_ref().unwrap();
    let a = cp.plane(plane);
    let (lo, hi) = ((from.as_micros() / 1_000_000) as usize, (to.as_micros() / 1_000_000) as usize);
    let (mut ok, mut failed) = (0u64, 0u64);
    for s in lo..hi.min(a.per_second.len()) {
        ok += u64::from(a.per_second[s].0);
        failed += u64::from(a.per_second[s].1);
    }
    (failed, ok + failed)
}

/// Which host does not hold the etcd leadership at `at` (so the LB effect is seen alone).
fn non_leader(seed: u64, check: HealthCheck, at: SimTime) -> u32 {
    let mut sim = ClusterBuilder::new(3).seed(seed).control_plane(spec(check)).build();
    sim.run_until(at);
    let leader = sim.leader().expect("a leader").0;
    (0..3).find(|&h| HostId(h) != leader).unwrap()
}

#[test]
fn losing_a_node_costs_writes_until_the_lb_marks_it_down() {
    for seed in 0..5 {
        let crash = secs(20);
        let victim = non_leader(seed, HealthCheck::Tcp, crash);
        let name = format!("cp-{}", victim + 1);
        let out = ClusterBuilder::new(3)
            .seed(seed)
            .control_plane(spec(HealthCheck::Tcp))
            .fault(SimDuration::from_secs(20), Fault::Crash(Target::Host(HostId(victim))))
            .run_for(SimDuration::from_secs(60));
        out.assert_safe();
        let down = marked_down(&out, &name, crash).unwrap_or_else(|| panic!("{name} never marked DOWN, seed={seed}"));
        // A powered-off host never answers: each of the `fall` checks waits out its
        // `inter` timeout before the next is `inter` later, so detection takes
        // between (2·fall − 2)·inter and 2·fall·inter (8–12 s with defaults).
        let detect = down.since(crash);
        assert!(
            detect >= SimDuration::from_secs(8) && detect <= SimDuration::from_secs(12),
            "detected after {detect}, seed={seed}"
        );
        // Until then about one new connection in three went to the dead node.
        let (failed, total) = failed_between(&out, Plane::Write, crash + SimDuration::from_secs(1), down);
        let share = failed as f64 / total as f64;
        assert!((0.2..=0.5).contains(&share), "{failed}/{total} writes failed during detection, seed={seed}");
        // Once it is DOWN, nothing fails any more.
        let (after, total_after) = failed_between(&out, Plane::Write, down + SimDuration::from_secs(1), secs(60));
        assert_eq!(after, 0, "{after}/{total_after} writes failed after {name} was marked DOWN, seed={seed}");
        // The report says why.
        let cp = out.control_plane.as_ref().unwrap();
        let outage = cp.outages.iter().find(|o| o.plane == Plane::Write && o.start >= crash).expect("an outage");
        assert!(outage.cause.contains(&name), "cause: {}", outage.cause);
        assert!(outage.end <= down, "outage ends when the LB stops routing to {name}");
        assert!(!cp.misrouted.is_empty(), "seed={seed}");
        assert!(cp.misrouted.iter().all(|&(_, b)| b == HostId(victim)), "only {name} could not serve, seed={seed}");
        // Recovery for the crash: until the last request that went to the dead node.
        let rec = cp.recovery.iter().find(|r| r.at == crash).expect("the crash has a recovery entry");
        let after = rec.recovered_after.expect("the crash caused an outage");
        assert!(after <= detect && after + SimDuration::from_secs(2) >= detect, "recovered after {after}, seed={seed}");
    }
}

#[test]
fn a_stopped_apiserver_is_detected_within_fall_times_inter() {
    for seed in 0..5 {
        let kill = secs(20);
        // Its manifest moved away: the kubelet stops it and does not start it again.
        let out = ClusterBuilder::new(3)
            .seed(seed)
            .control_plane(spec(HealthCheck::Tcp))
            .fault(
                SimDuration::from_secs(20),
                Fault::StopProcess { target: Target::Host(HostId(1)), process: Process::Apiserver },
            )
            .run_for(SimDuration::from_secs(40));
        let down = marked_down(&out, "cp-2", kill).expect("marked DOWN");
        // The host refuses at once: (fall−1)·inter to fall·inter.
        let detect = down.since(kill);
        assert!(
            detect >= SimDuration::from_secs(4) && detect <= SimDuration::from_micros(6_010_000),
            "detected after {detect}, seed={seed}"
        );
        let cp = out.control_plane.as_ref().unwrap();
        assert!(cp.failures.iter().any(|(_, _, f)| matches!(f, Failure::Refused { backend } if *backend == HostId(1))));
        let (after, _) = failed_between(&out, Plane::Write, down + SimDuration::from_secs(4), secs(40));
        assert_eq!(after, 0, "seed={seed}");
    }
}

/// The run of a stacked 3-node control plane whose apiserver on `host` is killed at
/// each of `kills` (seconds).
fn apiserver_killed(seed: u64, host: u32, kills: &[u64], run_s: u64) -> RunOutcome {
    let target = Target::Host(HostId(host));
    let mut b = ClusterBuilder::new(3).seed(seed).control_plane(spec(HealthCheck::Tcp));
    for &at in kills {
        b = b.fault(SimDuration::from_secs(at), Fault::Kill { target, process: Process::Apiserver });
    }
    let out = b.run_for(SimDuration::from_secs(run_s));
    out.assert_safe();
    out
}

#[test]
fn a_killed_apiserver_is_back_within_the_kubelets_relist_and_the_lb_never_marks_it_down() {
    for seed in 0..5 {
        let out = apiserver_killed(seed, 1, &[20], 40);
        let said = out
            .timeline
            .iter()
            .find(|t| t.text.starts_with("fault: kube-apiserver on cp-2 killed"))
            .unwrap_or_else(|| panic!("no kill in the timeline, seed={seed}"));
        assert!(said.text.contains("at the kubelet's next container relist"), "{}, seed={seed}", said.text);
        // One failed check at most before it is back: `fall` (3) is never reached.
        assert_eq!(marked_down(&out, "cp-2", secs(20)), None, "seed={seed}");
        // Only what reached it in the second before the restart can have failed.
        let cp = out.control_plane.as_ref().unwrap();
        let failed: Vec<SimTime> = cp.failures.iter().map(|&(t, _, _)| t).collect();
        assert!(failed.iter().all(|&t| t >= secs(20) && t < secs(21)), "failures at {failed:?}, seed={seed}");
    }
}

#[test]
fn an_apiserver_killed_again_soon_after_waits_out_the_crash_loop_back_off_and_is_marked_down() {
    for seed in 0..5 {
        let out = apiserver_killed(seed, 1, &[20, 25], 60);
        let at = |text: &str| out.timeline.iter().find(|t| t.text.contains(text)).map(|t| t.at);
        assert!(at("killed; the kubelet starts its static pod again: restart in 10.000s (CrashLoopBackOff)").is_some());
        assert_eq!(
            at("kubelet started kube-apiserver on cp-2 again after its crash-loop back-off"),
            Some(secs(35)),
            "seed={seed}"
        );
        let down = marked_down(&out, "cp-2", secs(25)).unwrap_or_else(|| panic!("never marked DOWN, seed={seed}"));
        assert!(down > secs(29) && down <= secs(31) + SimDuration::from_millis(10), "DOWN at {down}, seed={seed}");
        let up = out.timeline.iter().find(|t| t.at > down && t.text.contains("marked cp-2 UP")).map(|t| t.at);
        assert!(
            up.is_some_and(|t| t > secs(35) && t <= secs(39) + SimDuration::from_millis(10)),
            "UP at {up:?}, seed={seed}"
        );
    }
}

#[test]
fn an_outage_whose_first_failed_request_was_sent_just_before_a_kill_is_that_kills_doing() {
    // Killed at 20 s (back within a second), 25 s (back at 35 s) and 40 s (back at
    // 60 s). Requests already in flight at 40 s fail because of the third kill, though
    // they were issued while only the second had been applied.
    let mut checked = 0;
    for seed in 0..8 {
        let out = apiserver_killed(seed, 0, &[20, 25, 40], 70);
        let cp = out.control_plane.as_ref().unwrap();
        checked += usize::from(cp.outages.iter().any(|o| o.start < secs(40) && o.start > secs(39)));
        for at in [25, 40] {
            let r = cp.recovery.iter().find(|r| r.at == secs(at)).expect("a recovery entry");
            let after = r.recovered_after.unwrap_or_else(|| panic!("no outage after the kill at {at} s, seed={seed}"));
            // DOWN after 3 failed checks: 4-6 s, and a little for requests in flight.
            assert!(after <= SimDuration::from_secs(7), "recovered {after} after the kill at {at} s, seed={seed}");
        }
    }
    assert!(checked > 0, "no seed had an outage begin just before the third kill");
}

/// cp-X's link to the other control-plane nodes is cut (its etcd member is alone), but
/// the LB and the clients still reach it.
fn minority_partition(seed: u64, check: HealthCheck) -> (RunOutcome, HostId) {
    let x = non_leader(seed, check, secs(20));
    let others: Vec<Target> = (0..3).filter(|&h| h != x).map(|h| Target::Host(HostId(h))).collect();
    let out = ClusterBuilder::new(3)
        .seed(seed)
        .control_plane(spec(check))
        .fault(SimDuration::from_secs(20), Fault::Bridge { side_a: vec![Target::Host(HostId(x))], side_b: others })
        .fault(SimDuration::from_secs(60), Fault::Heal)
        .run_for(SimDuration::from_secs(80));
    out.assert_safe();
    (out, HostId(x))
}

#[test]
fn with_a_tcp_check_the_lb_keeps_sending_a_third_of_requests_to_the_minority_apiserver() {
    for seed in 0..5 {
        let (out, x) = minority_partition(seed, HealthCheck::Tcp);
        let name = format!("cp-{}", x.0 + 1);
        assert_eq!(marked_down(&out, &name, secs(20)), None, "a TCP check passes: {name} stays UP, seed={seed}");
        // Throughout the partition about a third of writes and quorum reads fail.
        for plane in [Plane::Write, Plane::QuorumRead] {
            let (failed, total) = failed_between(&out, plane, secs(22), secs(58));
            let share = failed as f64 / total as f64;
            assert!((0.2..=0.45).contains(&share), "{plane:?}: {failed}/{total} failed, seed={seed}");
        }
        // After the heal it recovers (its member catches up within a few seconds).
        let (after, _) = failed_between(&out, Plane::Write, secs(65), secs(80));
        assert_eq!(after, 0, "seed={seed}");
        let cp = out.control_plane.as_ref().unwrap();
        // Cache reads keep working, but the ones answered by the cut-off apiserver are stale.
        assert_eq!(failed_between(&out, Plane::CacheRead, secs(22), secs(50)).0, 0, "seed={seed}");
        assert!(cp.stale_reads > 50, "stale reads {}, seed={seed}", cp.stale_reads);
        // Until its watch cache starts over: etcd cancels the watch after three election
        // timeouts without a leader (~23 s), the cacher retries it for 30 s, then
        // answers cache reads with 429 until a LIST succeeds after the heal at 60 s.
        // client-go waits out each 429's Retry-After and asks again on the same
        // connection, so no cache read fails: the refused ones are answered late.
        assert_eq!(failed_between(&out, Plane::CacheRead, secs(0), secs(80)).0, 0, "seed={seed}");
        let cache = cp.plane(Plane::CacheRead);
        assert!(cache.slow > 0, "no cache read waited for the watch cache, seed={seed}");
        let slowest = cache.slowest;
        assert!(
            slowest >= SimDuration::from_secs(5) && slowest < SimDuration::from_secs(10),
            "slowest cache read {slowest}, seed={seed}"
        );
        let refusals = out
            .timeline
            .iter()
            .find(|e| e.text.contains(&format!("watch cache of the apiserver on {name} is initialised")))
            .unwrap_or_else(|| panic!("no initialised note, seed={seed}"));
        assert!(refusals.at >= secs(60) && refusals.at < secs(63), "initialised at {}, seed={seed}", refusals.at);
        assert!(cp.max_staleness >= SimDuration::from_secs(30), "max staleness {}", cp.max_staleness);
        assert!(cp.failures.iter().any(|(_, _, f)| matches!(f, Failure::Etcd { backend, .. } if *backend == x)));
        let misrouted = cp.misrouted.len();
        assert!(misrouted >= 200, "requests sent to {name} that it could not serve: {misrouted}, seed={seed}");
        assert!(cp.misrouted.iter().all(|&(_, b)| b == x), "only {name} could not serve, seed={seed}");
    }
}

#[test]
fn with_an_http_readyz_check_the_lb_takes_the_minority_apiserver_out() {
    for seed in 0..5 {
        let (out, x) = minority_partition(seed, HealthCheck::HttpReadyz);
        let name = format!("cp-{}", x.0 + 1);
        let down = marked_down(&out, &name, secs(20)).unwrap_or_else(|| panic!("{name} stays UP, seed={seed}"));
        // /readyz fails once the etcd check times out (2 s), then fall·inter more.
        let detect = down.since(secs(20));
        assert!(detect <= SimDuration::from_secs(9), "taken out after {detect}, seed={seed}");
        // From then on nothing fails; before, only what went to the minority node.
        let (after, total) = failed_between(&out, Plane::Write, down + SimDuration::from_secs(8), secs(58));
        assert_eq!(after, 0, "{after}/{total} failed after {name} was taken out, seed={seed}");
        // It comes back after the heal.
        assert!(
            out.timeline.iter().any(|t| t.at > secs(60) && t.text.contains(&format!("marked {name} UP"))),
            "seed={seed}"
        );
    }
}

fn lb_failure(seed: u64, vip: bool) -> RunOutcome {
    let mut cp = spec(HealthCheck::Tcp);
    if vip {
        cp.vip = Some(hasim_sim::model::keepalived::VrrpConfig::default());
    }
    let lb1 = 3; // hosts: cp-1..cp-3, then lb-1 (lb-2), then the client network
    let out = ClusterBuilder::new(3)
        .seed(seed)
        .control_plane(cp)
        .fault(SimDuration::from_secs(20), Fault::Crash(Target::Host(HostId(lb1))))
        .fault(SimDuration::from_secs(40), Fault::Restart(Target::Host(HostId(lb1))))
        .run_for(SimDuration::from_secs(70));
    out.assert_safe();
    out
}

#[test]
fn losing_the_only_load_balancer_stops_all_traffic_until_it_is_back() {
    for seed in 0..3 {
        let out = lb_failure(seed, false);
        assert_eq!(out.host_names[3], "lb-1");
        let (failed, total) = failed_between(&out, Plane::CacheRead, secs(21), secs(40));
        assert_eq!(failed, total, "every request fails while lb-1 is down, seed={seed}");
        let (after, _) = failed_between(&out, Plane::Write, secs(42), secs(70));
        assert_eq!(after, 0, "seed={seed}");
    }
}

#[test]
fn with_a_keepalived_vip_the_backup_takes_over_in_about_3_6_s() {
    for seed in 0..3 {
        let out = lb_failure(seed, true);
        assert_eq!(&out.host_names[3..5], ["lb-1", "lb-2"]);
        let takeover = out
            .timeline
            .iter()
            .find(|t| t.at > secs(20) && t.text.contains("lb-2 became MASTER"))
            .unwrap_or_else(|| panic!("lb-2 never took the VIP, seed={seed}"))
            .at
            .since(secs(20));
        // Master_Down_Interval 3.61 s after the last advert, which was < 1 s before.
        assert!(
            takeover >= SimDuration::from_millis(2_600) && takeover <= SimDuration::from_millis(3_700),
            "took over after {takeover}, seed={seed}"
        );
        // Only requests sent in that window are lost.
        let cp = out.control_plane.as_ref().unwrap();
        let lost: Vec<SimTime> = cp.failures.iter().map(|(t, _, _)| *t).filter(|t| *t > secs(10)).collect();
        assert!(!lost.is_empty());
        assert!(
            lost.iter().all(|t| *t >= secs(19) && *t <= secs(24)),
            "failures outside the takeover window, seed={seed}"
        );
        // lb-1 preempts when it is back (higher priority).
        assert!(
            out.timeline
                .iter()
                .any(|t| t.at > secs(40) && t.text.contains("lb-1 became MASTER and took the VIP from lb-2")),
            "seed={seed}"
        );
    }
}

fn split(nodes: usize, side_a: &[u32], seed: u64) -> RunOutcome {
    let mut cp = spec(HealthCheck::Tcp);
    cp.nodes = nodes;
    let a: Vec<Target> = side_a.iter().map(|&h| Target::Host(HostId(h))).collect();
    let b: Vec<Target> = (0..nodes as u32).filter(|h| !side_a.contains(h)).map(|h| Target::Host(HostId(h))).collect();
    let out = ClusterBuilder::new(nodes)
        .seed(seed)
        .control_plane(cp)
        // The nodes split in two; the LB and the clients still reach every node.
        .fault(SimDuration::from_secs(20), Fault::Bridge { side_a: a, side_b: b })
        .run_for(SimDuration::from_secs(70));
    out.assert_safe();
    out
}

#[test]
fn four_members_split_two_two_lose_writes_and_quorum_reads_and_serve_stale_cache_reads_for_about_half_a_minute() {
    for seed in 0..3 {
        let out = split(4, &[0, 1], seed);
        for plane in [Plane::Write, Plane::QuorumRead] {
            let (failed, total) = failed_between(&out, plane, secs(24), secs(52));
            assert_eq!(failed, total, "{plane:?}: {failed}/{total} failed during the 2/2 split, seed={seed}");
        }
        let (failed, total) = failed_between(&out, Plane::CacheRead, secs(24), secs(50));
        assert!(total > 400 && failed == 0, "cache reads are served, seed={seed}");
        let cp = out.control_plane.as_ref().unwrap();
        assert!(cp.stale_reads > 400, "and reported stale: {}, seed={seed}", cp.stale_reads);
        assert!(cp.max_staleness >= SimDuration::from_secs(25));
        // No member has a leader, so every watch cache starts over about 30 s after
        // etcd cancelled its watch (at 54-56 s), and none can LIST again: client-go
        // retries each 429 after its Retry-After until the client's 10 s timeout.
        let (failed, total) = failed_between(&out, Plane::CacheRead, secs(57), secs(60));
        assert!(total > 40 && failed == total, "{failed}/{total} cache reads failed at the end, seed={seed}");
        assert!(
            cp.failures
                .iter()
                .filter(|(t, p, _)| *p == Plane::CacheRead && *t >= secs(57))
                .all(|(_, _, f)| matches!(f, Failure::CacheInitializing { .. })),
            "seed={seed}"
        );
    }
}

#[test]
fn a_restarted_apiserver_refuses_cache_reads_until_its_watch_cache_has_listed_from_etcd() {
    for seed in 0..3 {
        let x = non_leader(seed, HealthCheck::Tcp, secs(20));
        let others: Vec<Target> = (0..3).filter(|&h| h != x).map(|h| Target::Host(HostId(h))).collect();
        let cut = Target::Host(HostId(x));
        let out = ClusterBuilder::new(3)
            .seed(seed)
            .control_plane(spec(HealthCheck::Tcp))
            .fault(SimDuration::from_secs(20), Fault::Bridge { side_a: vec![cut], side_b: others })
            // The kubelet starts it again within a second (its next container relist).
            .fault(SimDuration::from_secs(30), Fault::Kill { target: cut, process: Process::Apiserver })
            .fault(SimDuration::from_secs(50), Fault::Heal)
            .run_for(SimDuration::from_secs(70));
        out.assert_safe();
        let x = HostId(x);
        let cp = out.control_plane.as_ref().unwrap();
        let refused = |from: SimTime, to: SimTime| {
            cp.failures
                .iter()
                .filter(|&&(t, p, f)| {
                    p == Plane::CacheRead && t >= from && t < to && f == Failure::CacheInitializing { backend: x }
                })
                .count()
        };
        // Once booted (its first LIST waits for etcd's first leader), and until the kill,
        // its cache served reads, stale ones during the partition; the new process has an
        // empty cache and its LIST needs a quorum, which it gets only after the heal.
        // (Failures count at issue time: reads issued after the kill that the LB retried
        // onto the new process are refused too.)
        assert_eq!(refused(secs(5), secs(30)), 0, "seed={seed}");
        assert!(refused(secs(33), secs(50)) > 20, "seed={seed}");
        assert_eq!(refused(secs(53), secs(70)), 0, "seed={seed}");
        let (failed, _) = failed_between(&out, Plane::CacheRead, secs(53), secs(70));
        assert_eq!(failed, 0, "cache reads are served again after the heal, seed={seed}");
    }
}

#[test]
fn five_members_split_three_two_keep_serving_on_the_majority_side() {
    for seed in 0..3 {
        let out = split(5, &[0, 1], seed);
        let cp = out.control_plane.as_ref().unwrap();
        let late: Vec<&(SimTime, Plane, Failure)> =
            cp.failures.iter().filter(|(t, p, _)| *t >= secs(24) && *p != Plane::CacheRead).collect();
        // Every failure is a request the LB sent to the minority side; the majority serves.
        assert!(late.iter().all(|(_, _, f)| matches!(f.backend(), Some(HostId(0 | 1)))), "seed={seed}");
        let (failed, total) = failed_between(&out, Plane::Write, secs(24), secs(52));
        let share = failed as f64 / total as f64;
        assert!((0.25..=0.55).contains(&share), "{failed}/{total}: about 2 in 5 go to the minority, seed={seed}");
    }
}

#[test]
fn the_kubelet_restarts_an_apiserver_whose_etcd_has_been_unreachable_for_about_80_s() {
    for seed in 0..3 {
        let x = non_leader(seed, HealthCheck::Tcp, secs(20));
        let others: Vec<Target> = (0..3).filter(|&h| h != x).map(|h| Target::Host(HostId(h))).collect();
        let out = ClusterBuilder::new(3)
            .seed(seed)
            .control_plane(spec(HealthCheck::Tcp))
            .fault(SimDuration::from_secs(20), Fault::Bridge { side_a: vec![Target::Host(HostId(x))], side_b: others })
            .run_for(SimDuration::from_secs(650));
        let name = format!("cp-{}", x + 1);
        let kill_lines: Vec<_> = out
            .timeline
            .iter()
            .filter(|t| t.text.starts_with(&format!("kubelet killed kube-apiserver on {name}")))
            .collect();
        let kills: Vec<SimTime> = kill_lines.iter().map(|t| t.at).collect();
        // /livez fails from the first etcd check that times out (~2 s in); the kubelet
        // probes every 10 s and acts on the 8th failure in a row.
        let first = kills.first().unwrap_or_else(|| panic!("never restarted, seed={seed}")).since(secs(20));
        assert!(
            first >= SimDuration::from_secs(70) && first <= SimDuration::from_secs(92),
            "first kill after {first}, seed={seed}"
        );
        // The first kill restarts it at once; its etcd is still cut off, so it
        // crash-loops. A restarted apiserver is under the startup probe, which allows
        // 24 failures, 10 s apart, before the next kill.
        assert!(
            kill_lines[0].text.ends_with("restarted at once (no back-off before a first restart)"),
            "{}, seed={seed}",
            kill_lines[0].text
        );
        assert!(kills.len() >= 3, "seed={seed}");
        assert!(kill_lines[1].text.contains("startup probe failed 24 times"), "seed={seed}");
        let apart = kills[1].since(kills[0]);
        assert!(apart >= SimDuration::from_secs(240) && apart <= SimDuration::from_secs(251), "{apart}, seed={seed}");
        // Each kill's pod sync checks the back-off against the container before the
        // one it kills, which exited ~250 s earlier, longer than the 10 s and 20 s
        // the entry holds: so these restart at once too (kubernetes#22240).
        for line in &kill_lines[1..3] {
            assert!(line.text.ends_with("which exited long enough ago"), "{}, seed={seed}", line.text);
        }
        let apart = kills[2].since(kills[1]);
        assert!(apart >= SimDuration::from_secs(240) && apart <= SimDuration::from_secs(251), "{apart}, seed={seed}");
    }
}

fn nginx(seed: u64, connect_timeout_s: u64, fault: Fault) -> RunOutcome {
    let mut cp = spec(HealthCheck::Tcp);
    cp.frontend = Frontend::Nginx(hasim_sim::NginxConfig {
        connect_timeout: SimDuration::from_secs(connect_timeout_s),
        ..hasim_sim::NginxConfig::default()
    });
    fault_at_20s_for_80s(seed, cp, fault)
}

/// Runs `cp` for 80 s with `fault` at 20 s and checks the Raft invariants held.
fn fault_at_20s_for_80s(seed: u64, cp: ControlPlaneSpec, fault: Fault) -> RunOutcome {
    let out = ClusterBuilder::new(3)
        .seed(seed)
        .control_plane(cp)
        .fault(SimDuration::from_secs(20), fault)
        .run_for(SimDuration::from_secs(80));
    out.assert_safe();
    out
}

#[test]
fn nginx_passes_a_refused_connection_to_the_next_server_so_clients_see_nothing() {
    for seed in 0..3 {
        let out = nginx(seed, 60, Fault::Kill { target: Target::Host(HostId(1)), process: Process::Apiserver });
        let (failed, total) = failed_between(&out, Plane::Write, secs(20), secs(80));
        assert!(total > 1_000 && failed == 0, "{failed}/{total} failed, seed={seed}");
    }
}

#[test]
fn nginx_with_its_default_60_s_connect_timeout_keeps_losing_requests_to_a_powered_off_node() {
    for seed in 0..3 {
        let victim = non_leader(seed, HealthCheck::Tcp, secs(20));
        let crash = Fault::Crash(Target::Host(HostId(victim)));
        let slow = nginx(seed, 60, crash.clone());
        let (failed, total) = failed_between(&slow, Plane::Write, secs(21), secs(70));
        let share = failed as f64 / total as f64;
        assert!(share >= 0.15, "60 s connect timeout: only {failed}/{total} failed, seed={seed}");
        // A short connect timeout lets nginx fail over before the client gives up.
        let fast = nginx(seed, 2, crash);
        let (failed, _) = failed_between(&fast, Plane::Write, secs(21), secs(70));
        assert_eq!(failed, 0, "2 s connect timeout: {failed} failed, seed={seed}");
    }
}

#[test]
fn etcd_errors_from_a_ready_apiserver_during_an_election_are_not_misrouted() {
    // Killing the etcd leader's process leaves every apiserver running: the ones on the
    // other nodes answer etcd's errors for a moment while a new leader is elected. No
    // health check could have routed those requests anywhere better, so they are not
    // misrouted; the apiserver that lost its local member and went unready is.
    let mut checked = 0;
    for seed in 0..5 {
        let kill = secs(20);
        let leader = {
            let mut sim = ClusterBuilder::new(3).seed(seed).control_plane(spec(HealthCheck::Tcp)).build();
            sim.run_until(kill);
            sim.leader().expect("a leader").0
        };
        // Killed twice: the kubelet restarts it within a second the first time, and
        // only after the 10 s crash-loop back-off the second.
        let target = Target::Host(leader);
        let out = ClusterBuilder::new(3)
            .seed(seed)
            .control_plane(spec(HealthCheck::Tcp))
            .fault(SimDuration::from_secs(20), Fault::Kill { target, process: Process::Etcd })
            .fault(SimDuration::from_millis(21_500), Fault::Kill { target, process: Process::Etcd })
            .run_for(SimDuration::from_secs(40));
        let cp = out.control_plane.as_ref().unwrap();
        let etcd_errors_elsewhere = cp
            .failures
            .iter()
            .filter(|(_, _, f)| matches!(f, Failure::Etcd { backend, .. } if *backend != leader))
            .count();
        let misrouted_elsewhere = cp.misrouted.iter().filter(|&&(_, b)| b != leader).count();
        assert!(
            misrouted_elsewhere < etcd_errors_elsewhere || etcd_errors_elsewhere == 0,
            "{misrouted_elsewhere} of {etcd_errors_elsewhere} election errors counted as misrouted, seed={seed}"
        );
        assert!(cp.misrouted.iter().any(|&(_, b)| b == leader), "the unready apiserver's share counts, seed={seed}");
        checked += usize::from(etcd_errors_elsewhere > 0);
    }
    assert!(checked > 0, "no seed produced election errors on the other apiservers");
}

/// Stacked 3-node control plane: SIGTERM (a `stop` fault) to the etcd leader at 20 s.
/// Returns the run, when, the old leader's host and its term.
fn sigterm_the_etcd_leader_at_20s(seed: u64) -> (hasim_sim::Simulation, SimTime, HostId, hasim_sim::Term) {
    let stop = secs(20);
    let mut sim = ClusterBuilder::new(3).seed(seed).control_plane(spec(HealthCheck::Tcp)).build();
    sim.run_until(stop);
    let (leader, _, term) = sim.leader().expect("a leader");
    sim.inject(Fault::Stop(Target::Host(leader)));
    (sim, stop, leader, term)
}

#[test]
fn a_sigtermed_etcd_leader_shuts_its_apiserver_out_at_once_but_leads_until_the_watch_streams_are_cut() {
    for seed in 0..5 {
        let (mut sim, stop, leader, term) = sigterm_the_etcd_leader_at_20s(seed);
        let name = format!("cp-{}", leader.0 + 1);
        sim.run_for(SimDuration::from_secs(15));
        let out = sim.finish();
        out.assert_safe();
        // etcd's Close stops its client servers first: the listener closes at once, so
        // the local apiserver's next etcd check waits for a channel that cannot connect
        // (clientv3 calls are WaitForReady), gets no answer within its 2 s, and the
        // apiserver turns unready...
        let unready = out
            .timeline
            .iter()
            .find(|t| t.at >= stop && t.text.contains(&format!("apiserver on {name} is not ready")))
            .unwrap_or_else(|| panic!("{name}'s apiserver stayed ready, seed={seed}"));
        assert!(unready.text.ends_with("its etcd check got no answer within 2.000s"), "{}", unready.text);
        assert!(unready.at.since(stop) < SimDuration::from_millis(3_100), "unready at {}, seed={seed}", unready.at);
        // ...while raft goes on: it keeps leading until the apiservers' watch streams are
        // cut after the request timeout (7 s), and only then hands leadership over.
        let next =
            out.leader_history.iter().find(|l| l.term > term).unwrap_or_else(|| panic!("no new leader, seed={seed}"));
        let after = next.at.since(stop);
        assert!(
            after >= SimDuration::from_secs(7) && after < SimDuration::from_millis(7_100),
            "new leader {after} after the SIGTERM, seed={seed}"
        );
        assert!(out.timeline.iter().any(|t| t.at >= stop && t.text.contains("MsgTimeoutNow")), "seed={seed}");
        // Writes through that apiserver wait meanwhile, for a channel that never
        // reconnects: their clients time out. None is refused.
        let failures = &out.control_plane.as_ref().unwrap().failures;
        assert!(
            failures.iter().any(|&(t, p, f)| p == Plane::Write
                && t >= stop
                && t < stop + SimDuration::from_secs(7)
                && f == Failure::ClientTimeout { backend: Some(leader) }),
            "seed={seed}"
        );
        assert!(
            !failures.iter().any(|&(t, _, f)| t >= stop
                && matches!(f, Failure::Etcd { backend, error: RequestError::Unavailable } if backend == leader)),
            "seed={seed}"
        );
    }
}

/// External etcd (3 members, 3 control-plane nodes) losing, at 20 s, the member that
/// feeds the most watch caches (the one that answered their LIST): `fault` gets that
/// member's host and the other members' hosts. Returns the run and how many caches
/// that member fed.
fn external_losing_the_watched_member(seed: u64, fault: impl Fn(HostId, Vec<HostId>) -> Fault) -> (RunOutcome, usize) {
    let mut cp = spec(HealthCheck::Tcp);
    cp.etcd = EtcdPlacement::External { members: 3 };
    let mut sim = ClusterBuilder::new(3).seed(seed).control_plane(cp).build();
    sim.run_until(secs(20));
    let hosts = |prefix: &str| -> Vec<HostId> {
        (0..sim.host_count() as u32).map(HostId).filter(|&h| sim.host_name(h).starts_with(prefix)).collect()
    };
    let (apiservers, members) = (hosts("cp-"), hosts("etcd-"));
    let sources: Vec<HostId> = apiservers.iter().filter_map(|&h| sim.watch_source(h)).collect();
    assert_eq!(sources.len(), 3, "every watch cache has listed by 20 s, seed={seed}");
    let fed = |m: HostId| sources.iter().filter(|&&s| s == m).count();
    let watched = members.iter().copied().max_by_key(|&m| (fed(m), std::cmp::Reverse(m))).unwrap();
    assert!(fed(watched) >= 2, "the caches mostly follow one member, seed={seed}");
    let others = members.iter().copied().filter(|&m| m != watched).collect();
    sim.inject(fault(watched, others));
    sim.run_until(secs(80));
    let out = sim.finish();
    out.assert_safe();
    (out, fed(watched))
}

/// When each apiserver's watch cache moved off the lost member, from the timeline.
fn watch_moves(out: &RunOutcome) -> Vec<SimTime> {
    out.timeline.iter().filter(|t| t.text.contains("now follows etcd on")).map(|t| t.at).collect()
}

#[test]
fn with_external_etcd_a_silent_watched_member_stales_the_caches_until_the_keepalive_moves_the_watch() {
    for seed in 0..3 {
        let (out, fed) = external_losing_the_watched_member(seed, |m, _| Fault::Crash(Target::Host(m)));
        let moves = watch_moves(&out);
        assert_eq!(moves.len(), fed, "every watch it fed moves, seed={seed}");
        // A powered-off member answers nothing: the stream looks open until the gRPC
        // keepalive (30 s idle + 10 s) gives up on it, checked about once a second.
        for at in &moves {
            let after = at.since(secs(20));
            assert!(
                after >= SimDuration::from_secs(40) && after <= SimDuration::from_secs(42),
                "moved {after} after the crash, seed={seed}"
            );
        }
        let cp = out.control_plane.as_ref().unwrap();
        // Meanwhile the caches fall behind; once they follow a live member they catch up.
        assert!(cp.stale.iter().any(|&(t, _)| t > secs(30) && t < secs(60)), "seed={seed}");
        assert!(cp.stale.iter().all(|&(t, _)| t < secs(63)), "stale after the move, seed={seed}");
        assert_eq!(failed_between(&out, Plane::CacheRead, secs(0), secs(80)).0, 0, "seed={seed}");
    }
}

#[test]
fn with_external_etcd_calls_to_a_powered_off_member_go_unanswered_until_the_clients_timeout() {
    // The member's server is gone, so etcd's 7 s request timeout never runs for the
    // calls the apiservers' etcd clients still send it: the requests behind them fail
    // at the client's 10 s timeout, with no answer, not with an etcd error at 7 s.
    for seed in 0..3 {
        let (out, _) = external_losing_the_watched_member(seed, |m, _| Fault::Crash(Target::Host(m)));
        let cp = out.control_plane.as_ref().unwrap();
        // (Failures are listed by when the request was issued.)
        let failures: Vec<_> = cp.failures.iter().filter(|(t, _, _)| *t > secs(20) && *t < secs(60)).collect();
        let timed_out = failures.iter().filter(|(_, _, f)| matches!(f, Failure::ClientTimeout { .. })).count();
        assert!(timed_out > 20, "every third call or so goes unanswered, seed={seed}");
        // (A live member may still answer with its own timeout, when the lost member
        // was the leader and its proposal waited for a new one.)
        assert!(
            !failures.iter().any(|(_, _, f)| matches!(f, Failure::Etcd { error: RequestError::DeadlineExceeded, .. })),
            "an apiserver answered with context deadline exceeded, seed={seed}"
        );
    }
}

#[test]
fn with_external_etcd_a_killed_watched_member_moves_the_watch_at_once() {
    for seed in 0..3 {
        let kill = |m, _| Fault::Kill { target: Target::Host(m), process: Process::Etcd };
        let (out, fed) = external_losing_the_watched_member(seed, kill);
        let moves = watch_moves(&out);
        assert_eq!(moves.len(), fed, "every watch it fed moves, seed={seed}");
        // Its host refuses the connection, so clientv3 resumes the watch on another
        // member at the apiserver's next look (within a second or so).
        assert!(moves.iter().all(|at| at.since(secs(20)) <= SimDuration::from_millis(1_100)), "{moves:?}, seed={seed}");
        let cp = out.control_plane.as_ref().unwrap();
        assert!(cp.stale.iter().all(|&(t, _)| t < secs(23)), "stale after the move, seed={seed}");
    }
}

#[test]
fn with_external_etcd_a_leaderless_watched_member_cancels_the_watch_and_it_moves_to_a_member_with_a_leader() {
    for seed in 0..3 {
        let cut = |m, others: Vec<HostId>| Fault::Bridge {
            side_a: vec![Target::Host(m)],
            side_b: others.into_iter().map(Target::Host).collect(),
        };
        let (out, fed) = external_losing_the_watched_member(seed, cut);
        let moves = watch_moves(&out);
        assert_eq!(moves.len(), fed, "every watch it fed moves, seed={seed}");
        // The cut member cancels its RequireLeader watches after three election timeouts
        // without a leader; the cacher's new watch lands on a member that has one, so
        // no cache starts over (stacked, with one endpoint, it would after 30 s more).
        assert!(moves.iter().all(|at| at.since(secs(20)) <= SimDuration::from_secs(6)), "{moves:?}, seed={seed}");
        assert!(
            out.timeline
                .iter()
                .filter(|t| t.text.contains("now follows etcd on"))
                .all(|t| t.text.contains("no leader")),
            "seed={seed}"
        );
        assert!(!out.timeline.iter().any(|t| t.text.contains("starts over")), "seed={seed}");
        assert_eq!(failed_between(&out, Plane::CacheRead, secs(0), secs(80)).0, 0, "seed={seed}");
    }
}

/// When the watch cache of the minority apiserver starts over, if it does, in a run
/// where cp-X's etcd member is cut off from the others twice for `spell` seconds, the
/// spells `gap` seconds apart.
fn minority_twice(seed: u64, spell: u64, gap: u64) -> (RunOutcome, String, Vec<SimTime>) {
    let x = non_leader(seed, HealthCheck::Tcp, secs(20));
    let others: Vec<Target> = (0..3).filter(|&h| h != x).map(|h| Target::Host(HostId(h))).collect();
    let cut = Fault::Bridge { side_a: vec![Target::Host(HostId(x))], side_b: others };
    let second = 20 + spell + gap;
    let out = ClusterBuilder::new(3)
        .seed(seed)
        .control_plane(spec(HealthCheck::Tcp))
        .fault(SimDuration::from_secs(20), cut.clone())
        .fault(SimDuration::from_secs(20 + spell), Fault::Heal)
        .fault(SimDuration::from_secs(second), cut)
        .fault(SimDuration::from_secs(second + spell), Fault::Heal)
        .run_for(SimDuration::from_secs(second + spell + 20));
    out.assert_safe();
    let name = format!("cp-{}", x + 1);
    let over = out
        .timeline
        .iter()
        .filter(|t| t.text.contains(&format!("watch cache of the apiserver on {name} starts over")))
        .map(|t| t.at)
        .collect();
    (out, name, over)
}

#[test]
fn a_second_leaderless_spell_within_a_minute_makes_the_watch_cache_start_over_at_once() {
    for seed in 0..3 {
        // Each spell alone is too short: etcd cancels the watch about 4 s in, and the
        // cacher would retry it for 30 s. But client-go's reflector counts its 30 s
        // from the first error of errors less than a minute apart, so the second
        // spell's first error, some 40 s after the first spell's, ends the retries.
        let (out, name, over) = minority_twice(seed, 20, 20);
        assert_eq!(over.len(), 1, "{name} starts over once, seed={seed}");
        let second = secs(60);
        assert!(
            over[0] > second && over[0].since(second) <= SimDuration::from_secs(8),
            "started over at {}, seed={seed}",
            over[0]
        );
        let note = out.timeline.iter().find(|t| t.at == over[0] && t.text.contains("starts over")).unwrap();
        assert!(
            note.text.contains("less than a minute") && note.text.contains("from the first of those errors"),
            "{}",
            note.text
        );
        // Still so with the second spell's first error some 55 s after the first
        // spell's last; but a minute and more apart they are two fresh runs of errors.
        let (_, name, over) = minority_twice(seed, 20, 50);
        assert_eq!(over.len(), 1, "{name} starts over once with a 50 s gap, seed={seed}");
        let (_, name, over) = minority_twice(seed, 20, 65);
        assert!(over.is_empty(), "{name} started over at {over:?}, seed={seed}");
    }
}

#[test]
fn a_second_sigterm_while_etcd_closes_its_client_servers_does_not_cut_the_wait_short() {
    for seed in 0..3 {
        let (mut sim, stop, leader, term) = sigterm_the_etcd_leader_at_20s(seed);
        sim.run_for(SimDuration::from_secs(3));
        // The kubelet restarts the static pods (certificate renewal) meanwhile.
        sim.inject(Fault::RenewCerts(Target::Host(leader)));
        sim.run_for(SimDuration::from_secs(12));
        // The kubelet's restart still happens once the old process is gone.
        assert!(sim.server(leader).is_some(), "etcd not restarted, seed={seed}");
        let out = sim.finish();
        out.assert_safe();
        let next = out.leader_history.iter().find(|l| l.term > term).unwrap_or_else(|| panic!("seed={seed}"));
        let after = next.at.since(stop);
        assert!(after >= SimDuration::from_secs(7), "handover {after} after the first SIGTERM, seed={seed}");
    }
}

#[test]
fn requests_still_waiting_when_the_run_ends_count_by_how_they_end() {
    for seed in 0..3 {
        // Quorum is lost 20 s before the end, and comes back 5 s after it. A write
        // issued in the last 10 s fails only after the run is over, when its
        // deadline runs out; the heal after the end must not rescue it.
        let out = ClusterBuilder::new(3)
            .seed(seed)
            .control_plane(spec(HealthCheck::Tcp))
            .fault(SimDuration::from_secs(40), Fault::Crash(Target::Host(HostId(1))))
            .fault(SimDuration::from_secs(40), Fault::Crash(Target::Host(HostId(2))))
            .fault(SimDuration::from_secs(65), Fault::Restart(Target::Host(HostId(1))))
            .run_for(SimDuration::from_secs(60));
        out.assert_safe();
        for plane in [Plane::Write, Plane::QuorumRead] {
            let (failed, total) = failed_between(&out, plane, secs(50), secs(60));
            assert!(
                total >= 250 && failed == total,
                "{plane:?}: {failed}/{total} issued in the last 10 s failed, seed={seed}"
            );
            let cp = out.control_plane.as_ref().unwrap();
            let outage = cp
                .outages
                .iter()
                .find(|o| o.plane == plane && o.start < secs(41))
                .expect("an outage from the crash on");
            assert!(outage.ongoing && outage.end > secs(59), "{plane:?} outage {outage:?}, seed={seed}");
        }
        // What happened after the end while the answers came in is not reported.
        assert_eq!(out.end, secs(60));
        assert!(out.timeline.iter().all(|t| t.at <= secs(60)), "seed={seed}");
        assert!(out.states.iter().all(|f| f.at <= secs(60)), "seed={seed}");
        // The restart of cp-2 at 65 s is after the end: it is not on the timeline.
        assert!(!out.timeline.iter().any(|t| t.text.starts_with("fault: cp-2 restarted")), "seed={seed}");
        // Readiness checks keep calling etcd while the answers come in: those calls are
        // not the run's, and the counters count only answers to requests it issued.
        assert!(out.requests.iter().all(|r| r.issued <= secs(60)), "seed={seed}");
        let answered = out.requests.iter().filter(|r| r.result.is_some()).count() as u64;
        let s = out.stats;
        assert_eq!(s.writes_ok + s.writes_failed + s.reads_ok + s.reads_failed, answered, "seed={seed}");
        let cp = out.control_plane.as_ref().unwrap();
        assert!(cp.stale.iter().all(|(t, _)| *t <= secs(60)), "seed={seed}");
    }
}

#[test]
fn an_outage_the_run_ends_in_stays_ongoing_when_answers_after_the_end_succeed() {
    for seed in 0..3 {
        // Quorum is lost at 30 s and the members boot again at 65 s. The run ends
        // just before the new leader is elected: writes issued in the last
        // seconds wait for it and succeed after the end, but by the end no write had
        // succeeded, so the writes outage was still going.
        let build = |end: SimDuration| {
            ClusterBuilder::new(3)
                .seed(seed)
                .control_plane(spec(HealthCheck::Tcp))
                .fault(SimDuration::from_secs(30), Fault::Crash(Target::Host(HostId(0))))
                .fault(SimDuration::from_secs(30), Fault::Crash(Target::Host(HostId(2))))
                .fault(SimDuration::from_secs(65), Fault::Restart(Target::Host(HostId(0))))
                .fault(SimDuration::from_secs(65), Fault::Restart(Target::Host(HostId(2))))
                .run_for(end)
        };
        let long = build(SimDuration::from_secs(90));
        let elected = long.leader_history.iter().find(|l| l.at > secs(65)).expect("a leader after the restart").at;
        // Halfway between the restart (a fault after the end is never applied) and
        // the election.
        let end = SimDuration::from_micros((65_000_000 + elected.as_micros()) / 2);
        let out = build(end);
        out.assert_safe();
        let cp = out.control_plane.as_ref().unwrap();
        let (failed, total) = failed_between(&out, Plane::Write, secs(60), secs(91));
        assert!(
            failed < total,
            "writes issued in the last seconds succeed after the end: {failed}/{total}, seed={seed}"
        );
        let outage = cp.outages.iter().find(|o| o.plane == Plane::Write && o.start < secs(31)).expect("writes outage");
        assert!(outage.ongoing, "{outage:?} end={end}, seed={seed}");
        let crash = cp.recovery.iter().find(|r| r.at == secs(30)).expect("the crash's recovery");
        assert!(crash.ongoing && crash.recovered_after.is_none(), "{crash:?}, seed={seed}");
    }
}

#[test]
fn sparse_requests_failing_one_after_another_are_one_outage() {
    for seed in 0..3 {
        // One write a second (gaps of 0.5-1.5 s), quorum lost from 20 s to 50 s: the
        // failures are often more than 1 s apart, but no write succeeds in between, so
        // clients saw one outage, not a dozen.
        let mut cp = spec(HealthCheck::Tcp);
        cp.clients = ClientLoad { writes_per_sec: 1, quorum_reads_per_sec: 0, cache_reads_per_sec: 0, ..cp.clients };
        let out = ClusterBuilder::new(3)
            .seed(seed)
            .control_plane(cp)
            .fault(SimDuration::from_secs(20), Fault::Crash(Target::Host(HostId(1))))
            .fault(SimDuration::from_secs(20), Fault::Crash(Target::Host(HostId(2))))
            .fault(SimDuration::from_secs(50), Fault::Restart(Target::Host(HostId(1))))
            .run_for(SimDuration::from_secs(80));
        out.assert_safe();
        let cp = out.control_plane.as_ref().unwrap();
        let writes: Vec<_> = cp.outages.iter().filter(|o| o.plane == Plane::Write).collect();
        assert_eq!(writes.len(), 1, "{writes:#?}, seed={seed}");
        let o = writes[0];
        assert!(o.start < secs(22) && o.end > secs(40) && !o.ongoing, "{o:?}, seed={seed}");
        let failed = cp.plane(Plane::Write).failed;
        assert_eq!(o.failed, failed, "every failed write is in the outage, seed={seed}");
    }
}

#[test]
fn a_partial_outage_the_run_ends_in_stays_ongoing() {
    for seed in 0..8 {
        // cp-1 is cut off from the other two from 20 s to the end: behind TCP checks
        // the LB keeps sending it a third of the requests, which fail, while the rest
        // succeed. Successes answered just before the end do not make it look over.
        let others = vec![Target::Host(HostId(1)), Target::Host(HostId(2))];
        let out = ClusterBuilder::new(3)
            .seed(seed)
            .control_plane(spec(HealthCheck::Tcp))
            .fault(SimDuration::from_secs(20), Fault::Bridge { side_a: vec![Target::Host(HostId(0))], side_b: others })
            .run_for(SimDuration::from_secs(40));
        out.assert_safe();
        let cp = out.control_plane.as_ref().unwrap();
        let last = cp.outages.iter().rfind(|o| o.plane == Plane::Write).expect("a writes outage");
        assert!(last.ongoing && cp.recovery[0].ongoing, "seed={seed}: {last:?} {:?}", cp.recovery[0]);
    }
}

/// lb-1 and lb-2 cannot hear each other from 20 s to 30 s, so both are MASTER; lb-2
/// (the lower priority) then dies at 60 s.
fn vip_split_then_backup_dies(seed: u64) -> RunOutcome {
    let mut cp = spec(HealthCheck::Tcp);
    cp.vip = Some(hasim_sim::model::keepalived::VrrpConfig::default());
    let (lb1, lb2) = (HostId(3), HostId(4));
    let out = ClusterBuilder::new(3)
        .seed(seed)
        .control_plane(cp)
        .fault(SimDuration::from_secs(20), Fault::CutOneWay { from: Target::Host(lb1), to: Target::Host(lb2) })
        .fault(SimDuration::from_secs(20), Fault::CutOneWay { from: Target::Host(lb2), to: Target::Host(lb1) })
        .fault(SimDuration::from_secs(30), Fault::Heal)
        .fault(SimDuration::from_secs(60), Fault::Crash(Target::Host(lb2)))
        .run_for(SimDuration::from_secs(80));
    out.assert_safe();
    out
}

#[test]
fn after_two_vrrp_masters_hear_each_other_again_the_vip_returns_to_the_higher_priority() {
    for seed in 0..3 {
        let out = vip_split_then_backup_dies(seed);
        assert_eq!(&out.host_names[3..5], ["lb-1", "lb-2"]);
        let said = |text: &str, from: u64, to: u64| {
            out.timeline.iter().any(|t| t.at >= secs(from) && t.at < secs(to) && t.text.contains(text))
        };
        assert!(said("lb-2 became MASTER and took the VIP from lb-1", 20, 30), "seed={seed}");
        assert!(said("keepalived on lb-2 went back to BACKUP", 30, 32), "seed={seed}");
        assert!(said("the VIP's traffic comes back to it", 30, 32), "lb-1 reasserts, seed={seed}");
        // lb-2, now a mere backup, dies: nothing changes for clients.
        for plane in [Plane::Write, Plane::QuorumRead, Plane::CacheRead] {
            let (failed, total) = failed_between(&out, plane, secs(32), secs(80));
            assert!(total > 0);
            assert_eq!(failed, 0, "{plane:?} failed after lb-2, a backup, died; seed={seed}");
        }
    }
}

/// lb-1, the VIP holder, loses its links to every control-plane node from 20 s to 80 s
/// while it still hears lb-2, with or without kubeadm's tracked check_apiserver script.
fn vip_holder_cut_off(seed: u64, track_script: bool) -> RunOutcome {
    use hasim_sim::model::keepalived::{TrackScript, VrrpConfig};
    let mut cp = spec(HealthCheck::Tcp);
    cp.vip = Some(VrrpConfig { track_script: track_script.then_some(TrackScript::KUBEADM), ..VrrpConfig::default() });
    let cps = (0..3).map(|h| Target::Host(HostId(h))).collect();
    let out = ClusterBuilder::new(3)
        .seed(seed)
        .control_plane(cp)
        .fault(SimDuration::from_secs(20), Fault::Bridge { side_a: vec![Target::Host(HostId(3))], side_b: cps })
        .fault(SimDuration::from_secs(80), Fault::Heal)
        .run_for(SimDuration::from_secs(120));
    out.assert_safe();
    out
}

#[test]
fn a_vip_holder_cut_off_from_its_backends_keeps_the_vip_unless_keepalived_tracks_check_apiserver() {
    for seed in 0..3 {
        // keepalived alone: lb-1 still advertises, so it keeps the VIP with no backend.
        let out = vip_holder_cut_off(seed, false);
        assert_eq!(&out.host_names[3..5], ["lb-1", "lb-2"]);
        assert!(!out.timeline.iter().any(|t| t.at > secs(20) && t.text.contains("lb-2 became MASTER")), "seed={seed}");
        let (failed, total) = failed_between(&out, Plane::Write, secs(30), secs(80));
        assert_eq!(failed, total, "every request fails while lb-1 holds the VIP, seed={seed}");

        // With kubeadm's script (every 3 s, fall 10, weight -2): lb-1 drops to 99 after
        // ten failed runs (27-30 s), and lb-2 (100) takes over a down interval later.
        let out = vip_holder_cut_off(seed, true);
        let at = |text: &str| out.timeline.iter().find(|t| t.at > secs(20) && t.text.contains(text)).map(|t| t.at);
        let dropped = at("failed 10 times in a row; its priority is now 99").expect("the script failed");
        assert!(dropped >= secs(47) && dropped <= secs(50), "priority dropped at {dropped}, seed={seed}");
        let took_over = at("lb-2 became MASTER and took the VIP from lb-1").expect("lb-2 took the VIP");
        assert!(took_over.since(dropped) <= SimDuration::from_millis(3_700), "took over at {took_over}, seed={seed}");
        let (failed, total) = failed_between(&out, Plane::Write, secs(55), secs(80));
        assert!(total > 0 && failed == 0, "lb-2 serves while lb-1 is still cut off, seed={seed}");
        // After the heal two good runs restore lb-1's 101, and it preempts.
        let restored = at("passed 2 times in a row; its priority is now 101").expect("the script recovered");
        assert!(restored > secs(80), "seed={seed}");
        assert!(at("lb-1 became MASTER and took the VIP from lb-2").is_some_and(|t| t > restored), "seed={seed}");
    }
}

#[test]
fn the_tracked_script_passes_on_any_answer_so_an_apiserver_without_etcd_keeps_the_vip_in_place() {
    use hasim_sim::model::keepalived::{TrackScript, VrrpConfig};
    for seed in 0..3 {
        for cp1_frozen in [false, true] {
            let mut cp = spec(HealthCheck::Tcp);
            cp.vip = Some(VrrpConfig { track_script: Some(TrackScript::KUBEADM), ..VrrpConfig::default() });
            // cp-2 and cp-3 are cut off: HAProxy marks them DOWN and sends the script's
            // GET to cp-1, whose apiserver has lost etcd's quorum but still answers it,
            // unless it is frozen too.
            let mut builder = ClusterBuilder::new(3)
                .seed(seed)
                .control_plane(cp)
                .fault(SimDuration::from_secs(20), Fault::Isolate(Target::Host(HostId(1))))
                .fault(SimDuration::from_secs(20), Fault::Isolate(Target::Host(HostId(2))));
            if cp1_frozen {
                let target = Target::Host(HostId(0));
                builder = builder
                    .fault(SimDuration::from_secs(20), Fault::PauseProcess { target, process: Process::Apiserver });
            }
            let out = builder.run_for(SimDuration::from_secs(90));
            out.assert_safe();
            let (failed, total) = failed_between(&out, Plane::Write, secs(30), secs(90));
            assert!(total > 0 && failed == total, "no quorum, no writes, seed={seed}");
            let dropped = out.timeline.iter().any(|t| t.text.contains("its priority is now 99"));
            let moved = out.timeline.iter().any(|t| t.at > secs(20) && t.text.contains("lb-2 became MASTER"));
            // curl runs without --fail: a 403 or 500 is an answer, so the script holds.
            // A frozen apiserver answers nothing and the script fails, on lb-2 as well
            // (98): both LBs see the same backends, so the VIP stays where it is.
            assert_eq!(dropped, cp1_frozen, "seed={seed}");
            let both = out.timeline.iter().any(|t| t.text.contains("lb-2: check_apiserver") && t.text.ends_with("98"));
            assert_eq!(both, cp1_frozen, "seed={seed}");
            assert!(!moved, "seed={seed}");
        }
    }
}

#[test]
fn keepalived_skips_script_runs_while_one_still_waits_for_curl() {
    use hasim_sim::model::keepalived::{TrackScript, VrrpConfig};
    for seed in 0..3 {
        let mut cp = spec(HealthCheck::Tcp);
        // A `timeout` above curl's 2 s: without one keepalived kills a run at its interval.
        let timeout = Some(SimDuration::from_secs(3));
        let script = TrackScript { interval: SimDuration::from_secs(1), weight: -2, fall: 3, rise: 1, timeout };
        cp.vip = Some(VrrpConfig { track_script: Some(script), ..VrrpConfig::default() });
        let lb1 = Target::Host(HostId(3));
        let out = ClusterBuilder::new(3)
            .seed(seed)
            .control_plane(cp)
            .fault(SimDuration::from_secs(20), Fault::PauseProcess { target: lb1, process: Process::LoadBalancer })
            .run_for(SimDuration::from_secs(40));
        out.assert_safe();
        // Runs due every second, each waiting 2 s for an answer: every other one is
        // skipped, so three failures take about 6 s rather than 4 s.
        let dropped = out
            .timeline
            .iter()
            .find(|t| t.text.contains("failed 3 times in a row; its priority is now 99"))
            .map(|t| t.at)
            .expect("the script failed");
        assert!(dropped >= secs(25) && dropped <= secs(27), "priority dropped at {dropped}, seed={seed}");
    }
}

#[test]
fn an_lb_host_that_crashes_with_haproxy_frozen_checks_its_servers_again_after_booting() {
    for seed in 0..3 {
        let lb1 = Target::Host(HostId(3));
        let cp1_stops = (50, Fault::StopProcess { target: Target::Host(HostId(0)), process: Process::Apiserver });
        let out = lb1_frozen_then(seed, [Fault::Crash(lb1), Fault::Restart(lb1)], Some(cp1_stops), 70);
        // Its checks were waiting in the frozen HAProxy when the power went; they go on
        // after the boot, so a server that fails later is still marked DOWN.
        let down = out.timeline.iter().find(|t| t.at > secs(50) && t.text.starts_with("lb-1 marked cp-1 DOWN"));
        let down = down.unwrap_or_else(|| panic!("lb-1 stopped checking, seed={seed}")).at;
        assert!(down <= secs(57), "marked DOWN at {down}, seed={seed}");
        let cp = out.control_plane.as_ref().unwrap();
        assert!(!cp.failures.iter().any(|(t, _, f)| *t >= secs(25) && matches!(f, Failure::LbFrozen { .. })));
    }
}

/// HAProxy on lb-1, the VIP holder, gets `fault` at 20 s and `undo` at 80 s, with or
/// without kubeadm's tracked check_apiserver script.
fn vip_holder_proxy_fault(
    seed: u64,
    track_script: bool,
    fault: fn(Target, Process) -> Fault,
    undo: fn(Target, Process) -> Fault,
) -> RunOutcome {
    use hasim_sim::model::keepalived::{TrackScript, VrrpConfig};
    let mut cp = spec(HealthCheck::Tcp);
    cp.vip = Some(VrrpConfig { track_script: track_script.then_some(TrackScript::KUBEADM), ..VrrpConfig::default() });
    let lb1 = Target::Host(HostId(3));
    let out = ClusterBuilder::new(3)
        .seed(seed)
        .control_plane(cp)
        .fault(SimDuration::from_secs(20), fault(lb1, Process::LoadBalancer))
        .fault(SimDuration::from_secs(80), undo(lb1, Process::LoadBalancer))
        .run_for(SimDuration::from_secs(120));
    out.assert_safe();
    out
}

#[test]
fn a_stopped_haproxy_on_the_vip_holder_refuses_every_connection_until_the_tracked_script_moves_the_vip() {
    for seed in 0..3 {
        for track in [false, true] {
            let out = vip_holder_proxy_fault(
                seed,
                track,
                |target, process| Fault::StopProcess { target, process },
                |target, process| Fault::Start { target, process },
            );
            let cp = out.control_plane.as_ref().unwrap();
            let refused = |from: u64, to: u64| {
                cp.failures
                    .iter()
                    .filter(|(t, _, f)| *t >= secs(from) && *t < secs(to) && *f == Failure::LbRefused { lb: HostId(3) })
                    .count()
            };
            assert!(refused(21, 45) > 100, "lb-1 resets every connection, track={track}, seed={seed}");
            let (failed_late, total_late) = failed_between(&out, Plane::Write, secs(55), secs(80));
            if track {
                assert_eq!(failed_late, 0, "lb-2 took the VIP, seed={seed}");
                assert!(total_late > 0);
            } else {
                assert_eq!(failed_late, total_late, "keepalived alone keeps the VIP on lb-1, seed={seed}");
            }
            let (after, _) = failed_between(&out, Plane::Write, secs(90), secs(120));
            assert_eq!(after, 0, "HAProxy is back, track={track}, seed={seed}");
            assert!(out.timeline.iter().any(|t| t.text.contains("fault: HAProxy started on lb-1")));
        }
    }
}

#[test]
fn a_frozen_haproxy_on_the_vip_holder_answers_nothing_and_relays_what_waited_when_it_resumes() {
    for seed in 0..3 {
        for track in [false, true] {
            let out = vip_holder_proxy_fault(
                seed,
                track,
                |target, process| Fault::PauseProcess { target, process },
                |target, process| Fault::ResumeProcess { target, process },
            );
            let cp = out.control_plane.as_ref().unwrap();
            // Nothing is refused: the kernel takes each connection, and the client
            // waits out its own timeout.
            assert!(!cp.failures.iter().any(|(_, _, f)| matches!(f, Failure::LbRefused { .. })), "seed={seed}");
            let frozen = cp
                .failures
                .iter()
                .filter(|(t, _, f)| *t >= secs(21) && *t < secs(45) && *f == Failure::LbFrozen { lb: HostId(3) })
                .count();
            assert!(frozen > 100, "{frozen} requests waited in the frozen HAProxy, track={track}, seed={seed}");
            let (failed_late, total_late) = failed_between(&out, Plane::Write, secs(55), secs(69));
            if track {
                // Its GET through the frozen HAProxy gets no answer, so the script
                // moves the VIP to lb-2 as it does for a stopped one, only each run
                // fails when curl's 2 s --max-time runs out: the tenth 2 s later.
                assert_eq!(failed_late, 0, "lb-2 took the VIP, seed={seed}");
                assert!(total_late > 0);
                let dropped = out
                    .timeline
                    .iter()
                    .find(|t| t.text.contains("failed 10 times in a row; its priority is now 99"))
                    .map(|t| t.at)
                    .expect("the script failed");
                assert!(dropped >= secs(49) && dropped <= secs(52), "priority dropped at {dropped}, seed={seed}");
            } else {
                assert_eq!(failed_late, total_late, "keepalived alone keeps the VIP on lb-1, seed={seed}");
                // Requests sent less than the client's 10 s timeout before SIGCONT
                // wait in its sockets and are answered once it relays them.
                let (failed, total) = failed_between(&out, Plane::Write, secs(71), secs(79));
                assert!(total > 0 && failed == 0, "{failed} of {total} failed, seed={seed}");
                assert!(cp.plane(Plane::Write).slowest >= SimDuration::from_secs(8), "seed={seed}");
            }
            let (after, _) = failed_between(&out, Plane::Write, secs(90), secs(120));
            assert_eq!(after, 0, "HAProxy relays again, track={track}, seed={seed}");
            assert!(out.timeline.iter().any(|t| t.text.starts_with("fault: HAProxy on lb-1 resumed (SIGCONT)")));
        }
    }
}

/// HAProxy on lb-1 (the one LB) is frozen at 20 s; `then` happen at 25 s and 30 s, and
/// `extra` at its time in seconds.
fn lb1_frozen_then(seed: u64, then: [Fault; 2], extra: Option<(u64, Fault)>, run_s: u64) -> RunOutcome {
    let lb1 = Target::Host(HostId(3));
    let [at_25, at_30] = then;
    let mut builder = ClusterBuilder::new(3)
        .seed(seed)
        .control_plane(spec(HealthCheck::Tcp))
        .fault(SimDuration::from_secs(20), Fault::PauseProcess { target: lb1, process: Process::LoadBalancer })
        .fault(SimDuration::from_secs(25), at_25)
        .fault(SimDuration::from_secs(30), at_30);
    if let Some((at, fault)) = extra {
        builder = builder.fault(SimDuration::from_secs(at), fault);
    }
    let out = builder.run_for(SimDuration::from_secs(run_s));
    out.assert_safe();
    out
}

#[test]
fn a_frozen_haproxy_that_is_killed_resets_what_waited_and_starts_afresh() {
    for seed in 0..3 {
        let lb1 = Target::Host(HostId(3));
        let (kill, start) = (
            Fault::Kill { target: lb1, process: Process::LoadBalancer },
            Fault::Start { target: lb1, process: Process::LoadBalancer },
        );
        let out = lb1_frozen_then(seed, [kill, start], None, 60);
        let cp = out.control_plane.as_ref().unwrap();
        // What waited in its sockets is reset by the kill; the requests after it are
        // refused until it is started again, and served from then on.
        let reset_at_kill = cp
            .failures
            .iter()
            .filter(|(t, _, f)| *t >= secs(20) && *t < secs(25) && matches!(f, Failure::LbRefused { .. }));
        assert!(reset_at_kill.count() > 20, "seed={seed}");
        assert!(!cp.failures.iter().any(|(_, _, f)| matches!(f, Failure::LbFrozen { .. })), "seed={seed}");
        let (after, total) = failed_between(&out, Plane::Write, secs(31), secs(60));
        assert!(total > 0 && after == 0, "seed={seed}");
    }
}

/// Failed requests when kube-apiserver on cp-1 is stopped for good at 20 s (its host
/// stays up and refuses connections), with HAProxy's `retries` and `option redispatch`
/// as given.
fn failures_after_apiserver_stop(seed: u64, retries: u32, redispatch: bool, balance: Balance) -> usize {
    let mut cp = spec(HealthCheck::Tcp);
    cp.frontend = Frontend::Haproxy(HaproxyConfig { retries, redispatch, balance, ..HaproxyConfig::default() });
    let target = Target::Host(HostId(0));
    let out = ClusterBuilder::new(3)
        .seed(seed)
        .control_plane(cp)
        .fault(SimDuration::from_secs(20), Fault::StopProcess { target, process: Process::Apiserver })
        .run_for(SimDuration::from_secs(40));
    out.assert_safe();
    out.control_plane.as_ref().unwrap().failures.len()
}

#[test]
fn with_option_redispatch_a_refused_connection_is_retried_on_another_server() {
    for balance in [Balance::RoundRobin, Balance::LeastConn] {
        for seed in 0..3 {
            let same_server = failures_after_apiserver_stop(seed, 1, false, balance);
            let redispatched = failures_after_apiserver_stop(seed, 1, true, balance);
            assert!(same_server > 0, "retrying the dead server fails until it is marked DOWN, seed={seed}");
            // HAProxy's balance algorithms pass over the server the connection failed on
            // (`srvtoavoid`), so the one retry never lands on the dead apiserver again;
            // with leastconn it would otherwise be the emptiest server, and picked again.
            assert_eq!(redispatched, 0, "{balance:?}: redispatched requests failed, seed={seed}");
        }
    }
}

#[test]
fn a_rebooted_lb_marks_an_already_dead_backend_down_after_one_failed_check() {
    for seed in 0..3 {
        let lb1 = HostId(3);
        let out = ClusterBuilder::new(3)
            .seed(seed)
            .control_plane(spec(HealthCheck::Tcp))
            .fault(
                SimDuration::from_secs(10),
                Fault::StopProcess { target: Target::Host(HostId(0)), process: Process::Apiserver },
            )
            .fault(SimDuration::from_secs(30), Fault::Crash(Target::Host(lb1)))
            .fault(SimDuration::from_secs(31), Fault::Restart(Target::Host(lb1)))
            .run_for(SimDuration::from_secs(50));
        out.assert_safe();
        let down = marked_down(&out, "cp-1", secs(31)).unwrap_or_else(|| panic!("never marked DOWN, seed={seed}"));
        // The first check after the boot comes within `inter` (2 s) and is refused.
        assert!(down.since(secs(31)) <= SimDuration::from_millis(2_100), "DOWN at {down}, seed={seed}");
    }
}

/// How long after `fault` hits cp-2 at 20 s HAProxy, configured as `lb`, marks it DOWN,
/// and the timeline's words for it.
fn cp2_marked_down(seed: u64, lb: HaproxyConfig, fault: Fault) -> (SimDuration, String) {
    let mut cp = spec(lb.check);
    cp.frontend = Frontend::Haproxy(lb);
    let out = fault_at_20s_for_80s(seed, cp, fault);
    let down = marked_down(&out, "cp-2", secs(20)).unwrap_or_else(|| panic!("cp-2 never marked DOWN, seed={seed}"));
    let text = out.timeline.iter().find(|t| t.at == down).expect("the DOWN entry").text.clone();
    (down.since(secs(20)), text)
}

#[test]
fn with_timeout_check_a_frozen_apiserver_costs_the_whole_timeout_check_per_check() {
    let freeze = Fault::PauseProcess { target: Target::Host(HostId(1)), process: Process::Apiserver };
    for seed in 0..3 {
        let lb = |timeout_check: Option<u64>| HaproxyConfig {
            check: HealthCheck::HttpReadyz,
            timeout_check: timeout_check.map(SimDuration::from_secs),
            ..HaproxyConfig::default()
        };
        // HAProxy's default: `inter` (2 s) bounds each whole check, then the next is
        // `inter` later: DOWN after (2·fall − 1)·inter to 2·fall·inter.
        let (default, text) = cp2_marked_down(seed, lb(None), freeze.clone());
        assert!(
            default >= SimDuration::from_secs(10) && default <= SimDuration::from_secs(12),
            "{default}, seed={seed}"
        );
        assert!(text.contains("its GET got no answer before `inter` (2.000s) ran out"), "{text}");
        // kubeadm's guide: each check connects at once (the kernel accepts), then its
        // GET waits 10 s for an answer: about 3·(10 s + 2 s).
        let (kubeadm, text) = cp2_marked_down(seed, lb(Some(10)), freeze.clone());
        assert!(
            kubeadm >= SimDuration::from_secs(34) && kubeadm <= SimDuration::from_secs(37),
            "{kubeadm}, seed={seed}"
        );
        assert!(text.contains("its GET got no answer within `timeout check` (10.000s)"), "{text}");
    }
}

#[test]
fn timeout_check_shortens_a_connect_to_the_lesser_of_inter_and_timeout_connect() {
    for seed in 0..3 {
        let lb = |timeout_check: Option<u64>| HaproxyConfig {
            inter: SimDuration::from_secs(4),
            timeout_connect: SimDuration::from_secs(1),
            timeout_check: timeout_check.map(SimDuration::from_secs),
            ..HaproxyConfig::default()
        };
        let power_off = Fault::Crash(Target::Host(HostId(1)));
        // Without `timeout check` a silent host costs `inter` (4 s) per check plus the
        // 4 s to the next: 20–24 s.
        let (default, text) = cp2_marked_down(seed, lb(None), power_off.clone());
        assert!(
            default >= SimDuration::from_secs(20) && default <= SimDuration::from_secs(24),
            "{default}, seed={seed}"
        );
        assert!(text.contains("no answer to its connect within `inter` (4.000s)"), "{text}");
        // With it, each connect gives up after min(4 s, 1 s): 1 s + 4 s per check.
        let (set, text) = cp2_marked_down(seed, lb(Some(10)), power_off);
        assert!(set >= SimDuration::from_secs(10) && set <= SimDuration::from_secs(15), "{set}, seed={seed}");
        assert!(text.contains("no answer to its connect within 1.000s (the lesser of"), "{text}");
    }
}

#[test]
fn a_check_begun_by_a_stopped_haproxy_does_not_count_for_the_one_started_after_it() {
    // cp-1 is dead and marked DOWN, so each check of it waits out a 2 s connect, and
    // the next begins 2 s after: for some seeds one is in flight at 32 s, when lb-1's
    // HAProxy is stopped. HAProxy starts again at 32.5 s, as does cp-1. The new HAProxy counts cp-1 UP until a check of
    // its own fails, and its own checks pass; the old proxy's timed-out connect must
    // not mark cp-1 DOWN (then a single failure would, as the new one is fresh).
    let (cp1, lb1) = (Target::Host(HostId(0)), Target::Host(HostId(3)));
    let mut exercised = 0;
    for seed in 0..8 {
        let out = ClusterBuilder::new(3)
            .seed(seed)
            .control_plane(spec(HealthCheck::Tcp))
            .fault(SimDuration::from_secs(10), Fault::Crash(cp1))
            .fault(SimDuration::from_secs(32), Fault::StopProcess { target: lb1, process: Process::LoadBalancer })
            .fault(SimDuration::from_millis(32_500), Fault::Start { target: lb1, process: Process::LoadBalancer })
            .fault(SimDuration::from_millis(32_500), Fault::Restart(cp1))
            .run_for(SimDuration::from_secs(45));
        out.assert_safe();
        let down = marked_down(&out, "cp-1", secs(10)).expect("cp-1 marked DOWN");
        assert!(down < secs(32), "seed={seed}");
        assert_eq!(marked_down(&out, "cp-1", secs(32)), None, "a stale check marked cp-1 DOWN, seed={seed}");
        // The checks of a DOWN server start 2 s after one ends and last 2 s. The case
        // under test: one began before the stop at 32 s and ends after the start at
        // 32.5 s, so it began between 30.5 s and 32 s (1.5 s or less into the second
        // half of a 4 s period counted from `down`).
        let into_period = (secs(32).as_micros() - down.as_micros()) % 4_000_000;
        exercised += usize::from(into_period > 2_000_000 && into_period < 3_500_000);
    }
    assert!(exercised > 0, "no seed had a check in flight across the restart");
}

/// When keepalived on lb-1 first counts a failed check_apiserver run, with cp-1's
/// apiserver stopped at 20 s while HAProxy (checking only every 100 s) still counts it
/// UP, so that a third or so of the script's runs (every 1.5 s) go to it.
fn first_script_failure(seed: u64, retries: u32, redispatch: bool, timeout: Option<SimDuration>) -> Option<SimTime> {
    script_failure_with_apiserver_down(seed, retries, redispatch, timeout, SimDuration::from_secs(20), None)
}

/// As `first_script_failure`, with cp-1's apiserver stopped at `stop` and, if given,
/// started again at `start`.
fn script_failure_with_apiserver_down(
    seed: u64,
    retries: u32,
    redispatch: bool,
    timeout: Option<SimDuration>,
    stop: SimDuration,
    start: Option<SimDuration>,
) -> Option<SimTime> {
    let cp1 = Target::Host(HostId(0));
    let mut faults = vec![(stop, Fault::StopProcess { target: cp1, process: Process::Apiserver })];
    if let Some(start) = start {
        faults.push((start, Fault::Start { target: cp1, process: Process::Apiserver }));
    }
    first_script_failure_with(seed, retries, redispatch, timeout, faults)
}

/// When lb-1's tracked script (every 1.5 s from 1.5 s, fall 1, rise 1) first failed
/// in a 60 s run with `faults`, behind HAProxy with `retries` and `redispatch`.
fn first_script_failure_with(
    seed: u64,
    retries: u32,
    redispatch: bool,
    timeout: Option<SimDuration>,
    faults: Vec<(SimDuration, Fault)>,
) -> Option<SimTime> {
    use hasim_sim::model::keepalived::{TrackScript, VrrpConfig};
    let mut cp = spec(HealthCheck::Tcp);
    cp.frontend = Frontend::Haproxy(HaproxyConfig {
        inter: SimDuration::from_secs(100),
        retries,
        redispatch,
        ..HaproxyConfig::default()
    });
    let script = TrackScript { interval: SimDuration::from_millis(1_500), weight: -2, fall: 1, rise: 1, timeout };
    cp.vip = Some(VrrpConfig { track_script: Some(script), ..VrrpConfig::default() });
    let mut cluster = ClusterBuilder::new(3).seed(seed).control_plane(cp);
    for (at, fault) in faults {
        cluster = cluster.fault(at, fault);
    }
    let out = cluster.run_for(SimDuration::from_secs(60));
    out.assert_safe();
    out.timeline
        .iter()
        .find(|t| t.text.starts_with("keepalived on lb-1: check_apiserver") && t.text.contains(" failed "))
        .map(|t| t.at)
}

#[test]
fn haproxy_retries_a_refused_connect_of_the_tracked_script_as_it_would_a_clients() {
    // How long after the start of a run (runs begin every 1.5 s from 1.5 s) it failed.
    let into_run = |t: SimTime| SimDuration::from_micros(t.as_micros() % 1_500_000);
    let ms = SimDuration::from_millis;
    let long = Some(SimDuration::from_secs(3));
    for seed in 0..4 {
        let failed = |retries, redispatch, timeout| {
            let at = first_script_failure(seed, retries, redispatch, timeout);
            at.unwrap_or_else(|| panic!("no run failed (retries {retries}, redispatch {redispatch}), seed={seed}"))
        };
        // HAProxy's defaults retry the refusing server three times, 1 s apart: curl
        // gives up first, at its 2 s max-time (0.5 s into the next 1.5 s period).
        let t = failed(3, false, long);
        assert!(t > secs(20) && into_run(t) == ms(500), "failed at {t}, seed={seed}");
        // Without a `timeout`, keepalived kills that run at its interval.
        let t = failed(3, false, None);
        assert!(t > secs(20) && into_run(t) == ms(0), "failed at {t}, seed={seed}");
        // One retry and no redispatch: HAProxy gives up after its 1 s turn-around.
        let t = failed(1, false, long);
        assert!(t > secs(20) && into_run(t) == ms(1_000), "failed at {t}, seed={seed}");
        // kubeadm's guide (`retries 1`, `option redispatch`) sends that one retry to the
        // next server at once, and its answer passes.
        assert_eq!(first_script_failure(seed, 1, true, long), None, "seed={seed}");
    }
}

#[test]
fn a_tracked_script_run_refused_by_an_apiserver_that_starts_again_passes_on_haproxys_retry() {
    // Runs start every 1.5 s (21.0 s, 22.5 s, ...). cp-1's apiserver is stopped at
    // 20.8 s and started again at 21.5 s: a run of 21.0 s that HAProxy sends to cp-1
    // is refused, and the retry 1 s later reaches the new apiserver, which answers
    // within curl's 2 s. Each retry meets the server as it is then.
    let long = Some(SimDuration::from_secs(3));
    let (stop, ms) = (SimDuration::from_millis(20_800), SimDuration::from_millis);
    let mut refused_runs = 0;
    for seed in 0..8 {
        let passes = script_failure_with_apiserver_down(seed, 3, false, long, stop, Some(ms(21_500)));
        assert_eq!(passes, None, "seed={seed}");
        // The premise: with the start 3 s later, that retry is refused too and curl
        // gives up, which shows the 21.0 s run did go to cp-1.
        if script_failure_with_apiserver_down(seed, 3, false, long, stop, Some(ms(24_500))).is_some() {
            refused_runs += 1;
        }
    }
    assert!(refused_runs > 0, "no run went to cp-1 while it was stopped");
}

#[test]
fn a_frozen_apiserver_that_resumes_within_curls_max_time_answers_the_tracked_script() {
    // Every apiserver is frozen (SIGSTOP) from 20.0 s, so the run of 21.0 s reaches a
    // frozen one whichever HAProxy picks: its kernel takes curl's request. Resumed at
    // 21.5 s, it answers then, within curl's 2 s, and the run passes.
    let ms = SimDuration::from_millis;
    let freeze = |at, pause| {
        (0..3).map(move |i| {
            let (target, process) = (Target::Host(HostId(i)), Process::Apiserver);
            (
                ms(at),
                if pause { Fault::PauseProcess { target, process } } else { Fault::ResumeProcess { target, process } },
            )
        })
    };
    let frozen_until = |seed, resume| {
        let faults = freeze(20_000, true).chain(freeze(resume, false)).collect();
        first_script_failure_with(seed, 1, true, Some(SimDuration::from_secs(3)), faults)
    };
    for seed in 0..4 {
        assert_eq!(frozen_until(seed, 21_500), None, "seed={seed}");
        // The premise: resumed only at 23.8 s, the 21.0 s run fails at curl's 2 s.
        assert_eq!(frozen_until(seed, 23_800), Some(secs(23)), "seed={seed}");
    }
}

/// lb-1's tracked script (every 1.5 s, fall 1, rise 1, curl's 2 s) in a 40 s run in
/// which cp-1's apiserver is frozen at 20 s, behind HAProxy with HTTP checks (which
/// time out on the frozen apiserver and mark it DOWN after three), with or without
/// `on-marked-down shutdown-sessions`. Returns the times at which the script's
/// failures were noted (each one after a pass) and when lb-1 marked cp-1 DOWN.
fn script_failures_with_cp1_frozen(seed: u64, shutdown_sessions: bool) -> (Vec<SimTime>, SimTime) {
    use hasim_sim::model::keepalived::{TrackScript, VrrpConfig};
    let mut cp = spec(HealthCheck::HttpReadyz);
    cp.frontend = Frontend::Haproxy(HaproxyConfig {
        check: HealthCheck::HttpReadyz,
        shutdown_sessions,
        retries: 1,
        redispatch: true,
        ..HaproxyConfig::default()
    });
    let timeout = Some(SimDuration::from_secs(3));
    let script = TrackScript { interval: SimDuration::from_millis(1_500), weight: -2, fall: 1, rise: 1, timeout };
    cp.vip = Some(VrrpConfig { track_script: Some(script), ..VrrpConfig::default() });
    let pause = Fault::PauseProcess { target: Target::Host(HostId(0)), process: Process::Apiserver };
    let out = ClusterBuilder::new(3)
        .seed(seed)
        .control_plane(cp)
        .fault(SimDuration::from_secs(20), pause)
        .run_for(SimDuration::from_secs(40));
    out.assert_safe();
    let failures = out
        .timeline
        .iter()
        .filter(|t| t.text.starts_with("keepalived on lb-1: check_apiserver") && t.text.contains(" failed "))
        .map(|t| t.at)
        .collect();
    let down = out.timeline.iter().find(|t| t.text.starts_with("lb-1 marked cp-1 DOWN")).map(|t| t.at);
    let down = down.unwrap_or_else(|| panic!("lb-1 never marked cp-1 DOWN, seed={seed}"));
    // A learner reads the sessions closing before the script failing because of it.
    let position = |text: &str| out.timeline.iter().position(|t| t.at == down && t.text.starts_with(text));
    if let Some(failed) = position("keepalived on lb-1: check_apiserver") {
        assert!(position("lb-1 closed").is_some_and(|closed| closed < failed), "seed={seed}");
    }
    (failures, down)
}

#[test]
fn shutdown_sessions_resets_the_tracked_scripts_connection_to_a_frozen_apiserver() {
    let curl_max_time = SimDuration::from_secs(2);
    let mut reset_runs = 0;
    for seed in 0..12 {
        let (kept, down) = script_failures_with_cp1_frozen(seed, false);
        // Without shutdown-sessions, a run waiting on the frozen cp-1 when it is marked
        // DOWN fails at curl's max-time. (A run that starts later goes elsewhere.)
        let waiting = kept.iter().any(|&f| f > down && f < down + curl_max_time);
        let (reset, down_too) = script_failures_with_cp1_frozen(seed, true);
        assert_eq!(down, down_too, "the runs are the same until lb-1 marks cp-1 DOWN, seed={seed}");
        // With it, HAProxy closes that run's session as it marks cp-1 DOWN: curl sees
        // the reset and the run fails then, not 2 s after it began.
        assert_eq!(reset.contains(&down), waiting, "failures {reset:?}, DOWN at {down}, seed={seed}");
        assert!(!kept.contains(&down), "seed={seed}");
        reset_runs += usize::from(waiting);
    }
    assert!(reset_runs > 0, "no run was waiting on cp-1 when it was marked DOWN");
}

#[test]
fn a_frozen_apiservers_answer_to_the_tracked_script_is_lost_if_haproxy_was_cut_off_meanwhile() {
    // As above, every apiserver is frozen from 20.0 s and resumes at 21.5 s, so the run
    // of 21.0 s waits in one of them. At 21.2 s the control-plane nodes' packets stop
    // reaching lb-1 (its own still reach them): the answer never arrives, and curl
    // gives up at its 2 s, at 23.0 s.
    let ms = SimDuration::from_millis;
    for seed in 0..4 {
        let mut faults = Vec::new();
        for i in 0..3 {
            let (target, process) = (Target::Host(HostId(i)), Process::Apiserver);
            faults.push((ms(20_000), Fault::PauseProcess { target, process }));
            faults.push((ms(21_200), Fault::CutOneWay { from: target, to: Target::Host(HostId(3)) }));
            faults.push((ms(21_500), Fault::ResumeProcess { target, process }));
        }
        let failed = first_script_failure_with(seed, 1, true, Some(SimDuration::from_secs(3)), faults);
        assert_eq!(failed, Some(secs(23)), "seed={seed}");
    }
}

#[test]
fn a_run_killed_at_its_timeout_makes_way_for_the_run_due_at_that_instant() {
    // keepalived's `timeout` defaults to the interval (1.5 s here), so a run that gets
    // no answer is killed just as the next one is due: that one runs, and the four
    // failures `fall` needs come one interval apart, not two.
    use hasim_sim::model::keepalived::{TrackScript, VrrpConfig};
    let ms = SimDuration::from_millis;
    for seed in 0..3 {
        let mut cp = spec(HealthCheck::Tcp);
        let script = TrackScript { interval: ms(1_500), weight: -2, fall: 4, rise: 1, timeout: None };
        cp.vip = Some(VrrpConfig { track_script: Some(script), ..VrrpConfig::default() });
        let mut cluster = ClusterBuilder::new(3).seed(seed).control_plane(cp);
        for i in 0..3 {
            let pause = Fault::PauseProcess { target: Target::Host(HostId(i)), process: Process::Apiserver };
            cluster = cluster.fault(ms(20_000), pause);
        }
        let out = cluster.run_for(SimDuration::from_secs(40));
        out.assert_safe();
        let fell =
            out.timeline.iter().find(|t| t.text.contains("lb-1: check_apiserver") && t.text.contains("failed 4 times"));
        // Runs of 21.0, 22.5, 24.0 and 25.5 s are each killed 1.5 s later.
        assert_eq!(fell.map(|t| t.at), Some(secs(27)), "seed={seed}");
    }
}

#[test]
fn a_connect_whose_syn_ack_cannot_come_back_times_out_and_is_redispatched() {
    // cp-1's packets stop reaching lb-1 while lb-1's still reach cp-1: HAProxy's SYN
    // arrives, the SYN-ACK does not, so the connect times out after `timeout connect`
    // (5 s) and kubeadm's `retries 1` + `option redispatch` sends it to another server
    // within the client's 10 s. Were the connect counted as made, the request would go
    // to cp-1 and its answer be lost.
    for seed in 0..3 {
        let mut cp = spec(HealthCheck::Tcp);
        cp.frontend = Frontend::Haproxy(HaproxyConfig { retries: 1, redispatch: true, ..HaproxyConfig::default() });
        let cut = Fault::CutOneWay { from: Target::Host(HostId(0)), to: Target::Host(HostId(3)) };
        let out = ClusterBuilder::new(3)
            .seed(seed)
            .control_plane(cp)
            .fault(SimDuration::from_secs(20), cut)
            .run_for(SimDuration::from_secs(60));
        out.assert_safe();
        for plane in [Plane::Write, Plane::QuorumRead, Plane::CacheRead] {
            let (failed, total) = failed_between(&out, plane, secs(21), secs(48));
            assert!(total > 500, "{plane:?}: {total} requests, seed={seed}");
            assert_eq!(failed, 0, "{plane:?}: {failed} of {total} failed, seed={seed}");
        }
        assert!(marked_down(&out, "cp-1", secs(20)).is_some(), "its checks cannot connect either, seed={seed}");
    }
}
