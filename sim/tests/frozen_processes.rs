//! The kubelet's liveness probes of etcd, kube-scheduler and kube-controller-manager:
//! their health endpoints fail only when nothing answers, so a process frozen for good
//! is killed after eight probe timeouts of 15 s and the 30 s grace period, while a
//! shorter freeze, however long for a lease or an election, is not.

use hasim_sim::{
    ClientLoad, ClusterBuilder, Component, ControlPlaneSpec, Fault, Process, RunOutcome, SimDuration, SimTime, Target,
};

fn secs(s: u64) -> SimDuration {
    SimDuration::from_secs(s)
}

fn at(s: u64) -> SimTime {
    SimTime::ZERO + secs(s)
}

/// Three stacked nodes; `process` on cp-2 is frozen at 20 s for `frozen_s` seconds.
fn frozen(seed: u64, process: Process, frozen_s: u64, run_s: u64) -> RunOutcome {
    let mut cp = ControlPlaneSpec::stacked(3);
    cp.clients =
        ClientLoad { writes_per_sec: 5, quorum_reads_per_sec: 5, cache_reads_per_sec: 5, ..ClientLoad::default() };
    let target = Target::Host(hasim_sim::HostId(1));
    let out = ClusterBuilder::new(3)
        .seed(seed)
        .control_plane(cp)
        .fault(secs(20), Fault::PauseProcess { target, process })
        .fault(secs(20 + frozen_s), Fault::ResumeProcess { target, process })
        .run_for(secs(run_s));
    out.assert_safe();
    out
}

/// The first timeline entry that starts with `start`: when, and its text.
fn line(out: &RunOutcome, start: &str) -> Option<(SimTime, String)> {
    out.timeline.iter().find(|t| t.text.starts_with(start)).map(|t| (t.at, t.text.clone()))
}

#[test]
fn the_kubelet_kills_a_frozen_etcd_scheduler_or_controller_manager_after_eight_probe_timeouts_and_the_grace_period() {
    let cases = [
        (Process::Etcd, "etcd", "/livez"),
        (Process::Scheduler, Component::Scheduler.name(), "/healthz"),
        (Process::ControllerManager, Component::ControllerManager.name(), "/healthz"),
    ];
    for seed in 0..3 {
        for (process, name, endpoint) in cases {
            let out = frozen(seed, process, 400, 240);
            let kill = line(&out, &format!("kubelet is killing {name} on cp-2"))
                .unwrap_or_else(|| panic!("{name} never killed, seed={seed}"));
            assert!(
                kill.1.contains(&format!("its {endpoint} failed 8 times in a row (no answer within its 15")),
                "{}",
                kill.1
            );
            // The first unanswered probe falls within 10 s of the freeze; eight
            // timeouts of 15 s follow back to back.
            let after = kill.0.since(at(20));
            assert!(after > secs(120) && after <= secs(130), "{name} killed {after} after the freeze, seed={seed}");
            let sigkill = line(&out, &format!("kubelet sent SIGKILL to the frozen {name} on cp-2"))
                .unwrap_or_else(|| panic!("no SIGKILL for {name}, seed={seed}"));
            assert_eq!(sigkill.0.since(kill.0), secs(30), "seed={seed}");
            assert!(sigkill.1.ends_with("restarted at once (no back-off before a first restart)"), "{}", sigkill.1);
        }
    }
}

#[test]
fn a_frozen_etcd_killed_by_the_kubelet_comes_back_as_a_follower_and_catches_up() {
    for seed in 0..3 {
        let out = frozen(seed, Process::Etcd, 400, 240);
        let sigkill = line(&out, "kubelet sent SIGKILL to the frozen etcd on cp-2").expect("killed");
        // Its replacement, a new process on the same data, rejoins: by the end its
        // apiserver answers again, which needs its member to have caught up.
        let ready = out
            .timeline
            .iter()
            .filter(|t| t.at > sigkill.0)
            .any(|t| t.text.starts_with("apiserver on cp-2 is ready: its etcd check passed"));
        assert!(ready, "cp-2's apiserver never ready again, seed={seed}");
        assert!(
            out.states.iter().rev().find(|f| f.host.0 == 1).is_some_and(|f| f.state.etcd.is_some()),
            "etcd on cp-2 not running at the end, seed={seed}"
        );
    }
}

#[test]
fn a_scheduler_resumed_during_its_grace_period_acts_on_the_waiting_sigterm_and_is_started_again() {
    for seed in 0..3 {
        // Killed 120-130 s into the freeze (140-150 s), resumed at 160 s: before the
        // SIGKILL at 170-180 s.
        let out = frozen(seed, Process::Scheduler, 140, 200);
        let resumed = line(&out, "kube-scheduler on cp-2 resumed and acts on the kubelet's SIGTERM, which waited")
            .unwrap_or_else(|| panic!("no SIGTERM acted on, seed={seed}"));
        assert_eq!(resumed.0, at(160), "seed={seed}");
        assert!(line(&out, "kubelet sent SIGKILL to the frozen kube-scheduler").is_none(), "seed={seed}");
        // A standby led long before; the resumed one stops (its release, if it still
        // thought it led, is refused) and a new process is started on cp-2.
        let restarted = out.timeline.iter().any(|t| {
            t.at >= at(160)
                && t.text.starts_with("kube-scheduler on cp-2")
                && t.text.contains("the kubelet's SIGTERM; restarted at once")
        });
        assert!(restarted, "seed={seed}");
    }
}

#[test]
fn an_etcd_resumed_during_its_grace_period_stops_gracefully_and_is_started_again() {
    for seed in 0..3 {
        let out = frozen(seed, Process::Etcd, 140, 220);
        let resumed = line(&out, "etcd on cp-2 resumed and acts on the kubelet's SIGTERM, which waited")
            .unwrap_or_else(|| panic!("no SIGTERM acted on, seed={seed}"));
        assert_eq!(resumed.0, at(160), "seed={seed}");
        let stopped = out
            .timeline
            .iter()
            .find(|t| t.at >= resumed.0 && t.text.starts_with("etcd on cp-2 stopped; restarted at once"))
            .unwrap_or_else(|| panic!("etcd never stopped, seed={seed}"));
        // It waits up to its request timeout (7 s) for the apiservers' watch streams.
        assert!(stopped.at.since(resumed.0) <= secs(8), "stopped {} after resuming", stopped.at.since(resumed.0));
        assert!(line(&out, "kubelet sent SIGKILL to the frozen etcd").is_none(), "seed={seed}");
        // And the kubelet started it again.
        assert!(
            out.states
                .iter()
                .rev()
                .find(|f| f.host.0 == 1)
                .is_some_and(|f| f.at > stopped.at && f.state.etcd.is_some()),
            "etcd on cp-2 not running again, seed={seed}"
        );
    }
}

#[test]
fn a_process_frozen_for_100_s_outlives_the_probe_timeouts_and_is_not_killed() {
    for seed in 0..3 {
        for process in [Process::Etcd, Process::Scheduler, Process::ControllerManager] {
            let out = frozen(seed, process, 100, 160);
            assert!(
                !out.timeline.iter().any(|t| t.text.starts_with("kubelet is killing")),
                "{process:?} killed, seed={seed}"
            );
        }
    }
}

#[test]
fn a_frozen_host_is_not_killed_by_its_own_kubelet() {
    // The kubelet is frozen with it: no probe is counted, however long the freeze.
    for seed in 0..2 {
        let target = Target::Host(hasim_sim::HostId(1));
        let out = ClusterBuilder::new(3)
            .seed(seed)
            .control_plane(ControlPlaneSpec::stacked(3))
            .fault(secs(20), Fault::PauseHost(target))
            .run_for(secs(240));
        assert!(!out.timeline.iter().any(|t| t.text.starts_with("kubelet is killing")), "seed={seed}");
    }
}

#[test]
fn a_second_sigstop_does_not_start_the_count_over() {
    let target = Target::Host(hasim_sim::HostId(1));
    let process = Process::ControllerManager;
    for seed in 0..2 {
        let out = ClusterBuilder::new(3)
            .seed(seed)
            .control_plane(ControlPlaneSpec::stacked(3))
            .fault(secs(20), Fault::PauseProcess { target, process })
            .fault(secs(80), Fault::PauseProcess { target, process })
            .run_for(secs(200));
        let (killed, _) = line(&out, "kubelet is killing kube-controller-manager on cp-2").expect("killed");
        assert!(
            killed.since(at(20)) <= secs(130),
            "killed {} after the first SIGSTOP, seed={seed}",
            killed.since(at(20))
        );
    }
}
