//! What clients see beyond one request: long-lived connections that stay on their
//! backend (and HAProxy's `shutdown-sessions`), client retries, and frozen processes
//! and hosts.

use hasim_sim::model::lb::{HaproxyConfig, HealthCheck};
use hasim_sim::{
    ClientLoad, ClusterBuilder, Component, ControlPlaneSpec, Failure, Fault, Frontend, HostId, Plane, Process,
    RunOutcome, SimDuration, SimTime, Target,
};

fn secs(s: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_secs(s)
}

fn spec(check: HealthCheck, shutdown_sessions: bool, connections: Option<u32>, retries: u32) -> ControlPlaneSpec {
    let mut cp = ControlPlaneSpec::stacked(3);
    cp.frontend = Frontend::Haproxy(HaproxyConfig { check, shutdown_sessions, ..HaproxyConfig::default() });
    cp.clients = ClientLoad {
        writes_per_sec: 30,
        quorum_reads_per_sec: 30,
        cache_reads_per_sec: 30,
        connections,
        retries,
        ..ClientLoad::default()
    };
    cp
}

fn marked_down(out: &RunOutcome, node: &str, after: SimTime) -> Option<SimTime> {
    out.timeline.iter().find(|t| t.at >= after && t.text.contains(&format!("marked {node} DOWN"))).map(|t| t.at)
}

/// Failed writes issued in [from, to), and the issue time of the last one.
fn write_failures(out: &RunOutcome, from: SimTime, to: SimTime) -> (usize, Option<SimTime>) {
    let cp = out.control_plane.as_ref().unwrap();
    let hits: Vec<SimTime> = cp
        .failures
        .iter()
        .filter(|(t, p, _)| *p == Plane::Write && *t >= from && *t < to)
        .map(|(t, _, _)| *t)
        .collect();
    (hits.len(), hits.iter().max().copied())
}

/// A control-plane node that does not lead etcd at `at`, so the effect is seen alone.
fn non_leader(seed: u64, cp: ControlPlaneSpec, at: SimTime) -> HostId {
    let mut sim = ClusterBuilder::new(3).seed(seed).control_plane(cp).build();
    sim.run_until(at);
    let leader = sim.leader().expect("a leader").0;
    (0..3).map(HostId).find(|&h| h != leader).unwrap()
}

/// cp-X's member is cut off from the other two (X still reaches the LB and clients)
/// from 20 s to 60 s.
fn minority(seed: u64, cp: ControlPlaneSpec) -> (RunOutcome, String) {
    let x = non_leader(seed, cp, secs(20));
    let others: Vec<Target> = (0..3).map(HostId).filter(|&h| h != x).map(Target::Host).collect();
    let out = ClusterBuilder::new(3)
        .seed(seed)
        .control_plane(cp)
        .fault(SimDuration::from_secs(20), Fault::Bridge { side_a: vec![Target::Host(x)], side_b: others })
        .fault(SimDuration::from_secs(60), Fault::Heal)
        .run_for(SimDuration::from_secs(80));
    out.assert_safe();
    (out, format!("cp-{}", x.0 + 1))
}

#[test]
fn long_lived_connections_stay_on_a_backend_marked_down_until_shutdown_sessions_closes_them() {
    for seed in 0..4 {
        // Without shutdown-sessions: the HTTP check marks the node DOWN, yet the
        // connections already open to it keep carrying requests it cannot serve.
        let (out, name) = minority(seed, spec(HealthCheck::HttpReadyz, false, Some(6), 0));
        let down = marked_down(&out, &name, secs(20)).unwrap_or_else(|| panic!("{name} stays UP, seed={seed}"));
        let (failed, last) = write_failures(&out, down + SimDuration::from_secs(8), secs(58));
        assert!(failed >= 100, "only {failed} writes failed on connections pinned to {name}, seed={seed}");
        // Pinned until the heal: writes sent in the last 7 s before it wait in etcd
        // and succeed once the member rejoins.
        assert!(last.unwrap() >= secs(50), "pinned until the heal, seed={seed}");

        // With it: the LB closes those sessions when it marks the node DOWN, the
        // clients reconnect to the UP backends, and failures stop.
        let (out, name) = minority(seed, spec(HealthCheck::HttpReadyz, true, Some(6), 0));
        let down = marked_down(&out, &name, secs(20)).unwrap_or_else(|| panic!("{name} stays UP, seed={seed}"));
        assert!(
            out.timeline.iter().any(|t| t.at == down && t.text.contains("shutdown-sessions")),
            "no session shutdown noted, seed={seed}"
        );
        let (failed, _) = write_failures(&out, down + SimDuration::from_secs(1), secs(58));
        assert_eq!(failed, 0, "writes failed after the sessions to {name} were closed, seed={seed}");
        let cp = out.control_plane.as_ref().unwrap();
        assert!(cp.failures.iter().any(|(_, _, f)| matches!(f, Failure::Reset { .. })), "seed={seed}");
    }
}

#[test]
fn connections_to_a_powered_off_node_hang_until_haproxys_timeout_server_closes_them() {
    for seed in 0..4 {
        let cp = spec(HealthCheck::Tcp, false, Some(6), 0);
        let victim = non_leader(seed, cp, secs(20));
        let out = ClusterBuilder::new(3)
            .seed(seed)
            .control_plane(cp)
            .fault(SimDuration::from_secs(20), Fault::Crash(Target::Host(victim)))
            .run_for(SimDuration::from_secs(60));
        out.assert_safe();
        let name = format!("cp-{}", victim.0 + 1);
        let down = marked_down(&out, &name, secs(20)).expect("marked DOWN");
        // The LB stops sending new connections there after 8–12 s, but the open ones
        // hear nothing until `timeout server` (20 s) ends them.
        let (_, last) = write_failures(&out, secs(20), secs(60));
        let last = last.expect("writes failed");
        assert!(last > down + SimDuration::from_secs(5), "last failure at {last}, DOWN at {down}, seed={seed}");
        let after = last.since(secs(20));
        assert!(
            after >= SimDuration::from_secs(18) && after <= SimDuration::from_secs(22),
            "last failed write issued {after} after the crash, seed={seed}"
        );
        let cp = out.control_plane.as_ref().unwrap();
        assert!(cp.failures.iter().all(|(_, _, f)| !matches!(f, Failure::Reset { .. })), "a dead host sends no RST");
    }
}

/// The apiserver of a non-leader crash-loops: killed at 20 s, restarted by the kubelet
/// within a second, killed again at 21.5 s, and this time started again only after the
/// 10 s crash-loop back-off.
fn killed_apiserver(seed: u64, connections: Option<u32>, retries: u32) -> RunOutcome {
    let cp = spec(HealthCheck::Tcp, false, connections, retries);
    let target = Target::Host(non_leader(seed, cp, secs(20)));
    ClusterBuilder::new(3)
        .seed(seed)
        .control_plane(cp)
        .fault(SimDuration::from_secs(20), Fault::Kill { target, process: Process::Apiserver })
        .fault(SimDuration::from_millis(21_500), Fault::Kill { target, process: Process::Apiserver })
        .run_for(SimDuration::from_secs(40))
}

fn failed_writes(out: &RunOutcome) -> u64 {
    out.control_plane.as_ref().unwrap().plane(Plane::Write).failed
}

#[test]
fn long_lived_connections_are_reset_by_a_killed_apiserver_and_reconnect_elsewhere() {
    for seed in 0..4 {
        // One connection per request: until the LB marks the node DOWN (4–6 s), a
        // third of new connections go to it and are refused.
        let per_request = failed_writes(&killed_apiserver(seed, None, 0));
        // Long-lived: the host's kernel resets the connections to the dead process,
        // the clients reconnect at once, and only a reconnect the LB happens to send
        // back to that node fails.
        let out = killed_apiserver(seed, Some(6), 0);
        let long_lived = failed_writes(&out);
        assert!(per_request >= 20, "{per_request} writes failed with a connection per request, seed={seed}");
        assert!(long_lived <= 3, "{long_lived} writes failed on long-lived connections, seed={seed}");
        let cp = out.control_plane.as_ref().unwrap();
        assert!(cp.failures.iter().all(|(t, _, _)| *t >= secs(20)), "seed={seed}");
    }
}

#[test]
fn client_retries_hide_a_killed_apiserver_that_the_lb_still_routes_to() {
    for seed in 0..4 {
        let without = failed_writes(&killed_apiserver(seed, None, 0));
        let with = failed_writes(&killed_apiserver(seed, None, 2));
        // HAProxy retries the refused server itself (3 × 1 s), then gives up; the
        // client's own retry goes through a new connection to the next UP backend.
        assert!(without >= 20, "{without} writes failed without retries, seed={seed}");
        assert_eq!(with, 0, "{with} writes still failed with 2 client retries, seed={seed}");
    }
}

/// Freezes the apiserver of a non-leader at 20 s for `frozen_s` seconds, behind an LB
/// with `check`; returns the run and the frozen apiserver's host.
fn frozen_apiserver(seed: u64, check: HealthCheck, frozen_s: u64, run_s: u64) -> (RunOutcome, HostId) {
    let cp = spec(check, false, None, 0);
    let victim = non_leader(seed, cp, secs(20));
    let target = Target::Host(victim);
    let out = ClusterBuilder::new(3)
        .seed(seed)
        .control_plane(cp)
        .fault(SimDuration::from_secs(20), Fault::PauseProcess { target, process: Process::Apiserver })
        .fault(SimDuration::from_secs(20 + frozen_s), Fault::ResumeProcess { target, process: Process::Apiserver })
        .run_for(SimDuration::from_secs(run_s));
    out.assert_safe();
    (out, victim)
}

#[test]
fn a_paused_apiserver_passes_a_tcp_check_but_fails_an_http_check() {
    for seed in 0..4 {
        for check in [HealthCheck::Tcp, HealthCheck::HttpReadyz] {
            let (out, victim) = frozen_apiserver(seed, check, 30, 70);
            let name = format!("cp-{}", victim.0 + 1);
            let cp = out.control_plane.as_ref().unwrap();
            let down = marked_down(&out, &name, secs(20));
            match check {
                HealthCheck::Tcp => {
                    // Its kernel accepts connections: the LB keeps it UP and the
                    // requests it gets are never answered.
                    assert_eq!(down, None, "seed={seed}");
                    let (failed, _) = write_failures(&out, secs(25), secs(38));
                    assert!(failed >= 50, "{failed} writes failed, seed={seed}");
                    assert!(
                        cp.failures
                            .iter()
                            .any(|(_, _, f)| matches!(f, Failure::ClientTimeout { backend: Some(b) } if *b == victim))
                    );
                }
                HealthCheck::HttpReadyz => {
                    let down = down.unwrap_or_else(|| panic!("{name} stays UP, seed={seed}"));
                    let detect = down.since(secs(20));
                    assert!(detect <= SimDuration::from_secs(12), "taken out after {detect}, seed={seed}");
                }
            }
            // Resumed, it answers again: nothing fails at the end, and 30 s is too
            // short for the kubelet's liveness probe (8 timeouts of 15 s) to kill it.
            let (late, _) = write_failures(&out, secs(60), secs(70));
            assert_eq!(late, 0, "{check:?} seed={seed}");
            assert!(!out.timeline.iter().any(|t| t.text.contains("kubelet killed kube-apiserver")));
        }
    }
}

#[test]
fn the_kubelet_kills_a_frozen_apiserver_after_eight_probe_timeouts_of_15_s_and_its_grace_period() {
    for seed in 0..3 {
        let (out, victim) = frozen_apiserver(seed, HealthCheck::Tcp, 300, 200);
        let name = format!("cp-{}", victim.0 + 1);
        let line = |start: &str| {
            out.timeline
                .iter()
                .find(|t| t.text.starts_with(&format!("{start} {name}")))
                .unwrap_or_else(|| panic!("no '{start}', seed={seed}"))
        };
        let kill = line("kubelet is killing kube-apiserver on");
        assert!(kill.text.contains("failed 8 times in a row (no answer within its 15"), "{}", kill.text);
        // The first probe after the freeze falls within 10 s of it; each then waits
        // out its 15 s timeout, and the next starts at once (the ticker kept the tick
        // that fell meanwhile): 8 × 15 s, not 8 × 10 s.
        let after = kill.at.since(secs(20));
        assert!(
            after >= SimDuration::from_secs(120) && after < SimDuration::from_secs(130),
            "killed {after} after the freeze, seed={seed}"
        );
        // Frozen, it cannot act on SIGTERM: SIGKILL ends it 30 s later, and the
        // kubelet starts it again.
        let sigkill = line("kubelet sent SIGKILL to the frozen kube-apiserver on");
        assert_eq!(sigkill.at.since(kill.at), SimDuration::from_secs(30), "seed={seed}");
        assert!(sigkill.text.ends_with("restarted at once (no back-off before a first restart)"), "{}", sigkill.text);
        let (late, _) = write_failures(&out, secs(190), secs(200));
        assert_eq!(late, 0, "the new apiserver serves, seed={seed}");
    }
}

#[test]
fn a_frozen_apiserver_resumed_during_its_grace_period_exits_on_the_waiting_sigterm() {
    for seed in 0..3 {
        // Killed about 120-130 s into the freeze, resumed at 150 s: before the SIGKILL.
        let (out, victim) = frozen_apiserver(seed, HealthCheck::Tcp, 150, 200);
        let name = format!("cp-{}", victim.0 + 1);
        let exited = out
            .timeline
            .iter()
            .find(|t| {
                t.text.starts_with(&format!("kube-apiserver on {name} resumed and exited on the kubelet's SIGTERM"))
            })
            .unwrap_or_else(|| panic!("it did not exit, seed={seed}"));
        assert_eq!(exited.at, secs(170), "seed={seed}");
        assert!(!out.timeline.iter().any(|t| t.text.contains("SIGKILL to the frozen")), "seed={seed}");
    }
}

#[test]
fn an_apiserver_frozen_for_100_s_outlives_the_probe_timeouts_and_is_not_killed() {
    for seed in 0..3 {
        // Eight failures 10 s apart would kill it after 70-80 s; 15 s apart they need
        // at least 120 s, and the probe waiting when it resumes is answered.
        let (out, victim) = frozen_apiserver(seed, HealthCheck::Tcp, 100, 160);
        let name = format!("cp-{}", victim.0 + 1);
        let (killed, killing) = (
            format!("kubelet killed kube-apiserver on {name}"),
            format!("kubelet is killing kube-apiserver on {name}"),
        );
        assert!(
            !out.timeline.iter().any(|t| t.text.starts_with(&killed) || t.text.starts_with(&killing)),
            "seed={seed}"
        );
        let (late, _) = write_failures(&out, secs(130), secs(160));
        assert_eq!(late, 0, "seed={seed}");
    }
}

#[test]
fn a_frozen_host_drops_out_everywhere_and_its_controller_manager_overlaps_when_it_thaws() {
    for seed in 0..4 {
        let mut sim = ClusterBuilder::new(3).seed(seed).control_plane(spec(HealthCheck::Tcp, false, None, 0)).build();
        sim.run_until(secs(30));
        let frozen = sim.component_leader(Component::ControllerManager).expect("a controller-manager leader");
        let target = Target::Host(frozen);
        sim.inject(Fault::PauseHost(target));
        sim.run_until(secs(60));
        // Everything on it stopped: the LB found it dead, and a standby took the lease.
        let name = sim.host_name(frozen).to_string();
        assert!(
            sim.timeline().iter().any(|t| t.text.contains(&format!("marked {name} DOWN"))),
            "LB kept {name} UP, seed={seed}"
        );
        assert_ne!(sim.component_leader(Component::ControllerManager), Some(frozen), "seed={seed}");
        assert!(sim.overlaps().is_empty(), "frozen, it does not act, seed={seed}");
        sim.inject(Fault::ResumeHost(target));
        sim.run_until(secs(90));
        // It wakes believing it still leads (its timers fire late, as Go's do) and
        // acts until its renewals fail: two active controller-managers at once.
        let o = sim.overlaps().first().unwrap_or_else(|| panic!("no overlap, seed={seed}")).clone();
        assert_eq!(o.start, secs(60), "seed={seed}");
        assert!(o.hosts.contains(&frozen));
        assert!(
            sim.timeline().iter().any(|t| t.at > secs(60) && t.text.contains(&format!("marked {name} UP"))),
            "it comes back behind the LB, seed={seed}"
        );
        let out = sim.finish();
        out.assert_safe();
    }
}
