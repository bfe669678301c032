//! How an apiserver's calls to an etcd member end when that member cannot answer. etcd's
//! 7 s request timeout is a timer in the member's own process: a frozen member runs it
//! only once it resumes, and counts a call it took in only then from then on; a member
//! whose process dies on a live host answers at once through its kernel's reset; a call
//! whose process is gone otherwise waits for the apiserver handler's cap. No etcd error
//! reaches a client while the member is frozen: clients there wait out their own 10 s
//! timeout. And clientv3 makes its calls WaitForReady: an apiserver whose member
//! refuses connections holds its calls until its channel reconnects.

use hasim_sim::{
    ClientLoad, ClusterBuilder, ControlPlaneSpec, Fault, HostId, LogIndex, Process, RequestError, RequestKind,
    RunOutcome, SimDuration, SimTime, Target,
};

fn secs(s: u64) -> SimDuration {
    SimDuration::from_secs(s)
}

fn at(s: u64) -> SimTime {
    SimTime::ZERO + secs(s)
}

const CP2: HostId = HostId(1);

/// Three stacked nodes under client load, with `faults` aimed at cp-2's etcd.
fn run(seed: u64, faults: &[(u64, Fault)], run_s: u64) -> RunOutcome {
    let mut cp = ControlPlaneSpec::stacked(3);
    cp.clients =
        ClientLoad { writes_per_sec: 20, quorum_reads_per_sec: 20, cache_reads_per_sec: 0, ..ClientLoad::default() };
    let mut b = ClusterBuilder::new(3).seed(seed).control_plane(cp);
    for (s, f) in faults {
        b = b.fault(secs(*s), f.clone());
    }
    let out = b.run_for(secs(run_s));
    out.assert_safe();
    out
}

fn pause(frozen_at: u64) -> (u64, Fault) {
    (frozen_at, Fault::PauseProcess { target: Target::Host(CP2), process: Process::Etcd })
}

fn resume(at: u64) -> (u64, Fault) {
    (at, Fault::ResumeProcess { target: Target::Host(CP2), process: Process::Etcd })
}

fn is_etcd_timeout(r: Option<Result<LogIndex, RequestError>>) -> bool {
    matches!(r, Some(Err(RequestError::TimedOut | RequestError::TimedOutLeaderFail | RequestError::DeadlineExceeded)))
}

#[test]
fn a_frozen_member_answers_no_write_and_clients_of_its_apiserver_wait_out_their_own_timeout() {
    for seed in 0..4 {
        let out = run(seed, &[pause(20), resume(50)], 70);
        // Every etcd write in a control-plane run is an apiserver's (client writes and
        // lease writes); none sent to cp-2 during the freeze ends before it resumes.
        let to_frozen: Vec<_> = out
            .requests
            .iter()
            .filter(|r| r.kind == RequestKind::Write && r.host == CP2 && r.issued >= at(20) && r.issued < at(50))
            .collect();
        assert!(to_frozen.len() > 50, "only {} writes went to cp-2, seed={seed}", to_frozen.len());
        for r in &to_frozen {
            assert!(r.finished.is_none_or(|f| f >= at(50)), "{r:?} ended while cp-2 was frozen, seed={seed}");
        }
        // The clients sent there saw their own timeout, never an etcd error.
        let report = out.control_plane.as_ref().expect("control plane");
        let during: Vec<_> = report.outages.iter().filter(|o| o.start >= at(20) && o.start < at(50)).collect();
        assert!(!during.is_empty(), "no outage during the freeze, seed={seed}");
        for o in during {
            assert_eq!(o.cause, "no answer in time from the apiserver on cp-2", "{o:?}, seed={seed}");
        }
    }
}

#[test]
fn a_call_a_frozen_member_takes_in_only_when_it_resumes_gets_etcds_full_timeout_from_then() {
    let (mut taken_late, mut timed_out) = (0, 0);
    for seed in 0..4 {
        let out = run(seed, &[pause(20), resume(32)], 60);
        // Writes sent in the first 5 s of the freeze waited more than 7 s before the
        // member took them in: they end by being served, or at etcd's timeout counted
        // from the resume, not at once.
        for r in out.requests.iter().filter(|r| {
            r.kind == RequestKind::Write && r.host == CP2 && r.issued > at(20) + SimDuration::from_millis(10)
        }) {
            if r.issued >= at(25) {
                continue;
            }
            taken_late += 1;
            let finished = r.finished.unwrap_or_else(|| panic!("{r:?} never ended, seed={seed}"));
            assert!(finished >= at(32), "{r:?} ended while cp-2 was frozen, seed={seed}");
            if is_etcd_timeout(r.result) {
                timed_out += 1;
                assert!(finished >= at(39), "{r:?} timed out before 7 s after the resume, seed={seed}");
            }
        }
    }
    assert!(taken_late > 100, "only {taken_late} writes were sent in the first 5 s of the freezes");
    // Where cp-2 led before its freeze, the writes it took in late time out: a leader
    // that lost its term drops them only when its request timeout ends.
    assert!(timed_out > 0, "no late write timed out, so the 7 s from the resume went untested");
}

#[test]
fn a_member_killed_while_frozen_answers_the_calls_it_held_at_once_with_a_reset() {
    for seed in 0..4 {
        let kill = (30, Fault::Kill { target: Target::Host(CP2), process: Process::Etcd });
        let out = run(seed, &[pause(20), kill], 45);
        let held: Vec<_> = out
            .requests
            .iter()
            .filter(|r| r.kind == RequestKind::Write && r.host == CP2)
            .filter(|r| r.issued >= at(20) + SimDuration::from_millis(10) && r.issued < at(30))
            .collect();
        assert!(!held.is_empty(), "no writes went to cp-2 while it was frozen, seed={seed}");
        for r in held {
            let finished = r.finished.unwrap_or_else(|| panic!("{r:?} never ended, seed={seed}"));
            assert_eq!(r.result, Some(Err(RequestError::ConnectionClosed)), "{r:?}, seed={seed}");
            // Its answer is the reset, which travels back to the apiserver on the same
            // node: it arrives with the kill.
            assert!(finished >= at(30) && finished < at(30) + SimDuration::from_millis(10), "{r:?}, seed={seed}");
        }
    }
}

/// The client requests of a run that failed, with their causes.
fn failure_causes(out: &RunOutcome) -> Vec<String> {
    out.control_plane.as_ref().expect("control plane").outages.iter().map(|o| o.cause.clone()).collect()
}

#[test]
fn an_apiserver_waits_for_its_killed_etcd_to_come_back_instead_of_failing_its_calls() {
    for seed in 0..4 {
        let kill = (20, Fault::Kill { target: Target::Host(CP2), process: Process::Etcd });
        let out = run(seed, &[kill], 40);
        // The kubelet starts etcd again within a second; cp-2's apiserver's etcd client
        // makes its calls WaitForReady, so none is refused meanwhile: they wait for the
        // channel's reconnect (at once, then 1 s after the refusals began).
        for cause in failure_causes(&out) {
            assert!(!cause.contains("not running"), "a call was refused: {cause}, seed={seed}");
        }
        let waited: Vec<_> = out
            .requests
            .iter()
            .filter(|r| r.kind == RequestKind::Write && r.host == CP2)
            .filter(|r| {
                r.issued > at(20) + SimDuration::from_millis(10) && r.issued < at(20) + SimDuration::from_millis(900)
            })
            .collect();
        assert!(!waited.is_empty(), "no write went to cp-2 while its etcd was down, seed={seed}");
        for r in waited {
            let finished = r.finished.unwrap_or_else(|| panic!("{r:?} never ended, seed={seed}"));
            assert!(matches!(r.result, Some(Ok(_))), "{r:?}, seed={seed}");
            assert!(finished >= at(21), "{r:?} went out before the channel reconnected, seed={seed}");
            assert!(finished < at(22), "{r:?} waited past the reconnect, seed={seed}");
        }
    }
}

#[test]
fn clients_of_an_apiserver_whose_etcd_is_stopped_for_good_wait_out_their_own_timeout() {
    for seed in 0..4 {
        let stop = (20, Fault::StopProcess { target: Target::Host(CP2), process: Process::Etcd });
        let out = run(seed, &[stop], 60);
        let causes = failure_causes(&out);
        assert!(causes.iter().any(|c| c == "no answer in time from the apiserver on cp-2"), "{causes:?}, seed={seed}");
        for cause in causes {
            assert!(!cause.contains("not running"), "a call was refused: {cause}, seed={seed}");
        }
        // The calls end at the apiserver handler's cap: 34 s for a write.
        let write = out
            .requests
            .iter()
            .find(|r| r.kind == RequestKind::Write && r.host == CP2 && r.issued > at(28))
            .unwrap_or_else(|| panic!("no write to cp-2 after the stop, seed={seed}"));
        assert_eq!(write.result, Some(Err(RequestError::DeadlineExceeded)), "{write:?}, seed={seed}");
        assert_eq!(write.finished.map(|f| f.since(write.issued)), Some(secs(34)), "{write:?}, seed={seed}");
    }
}

#[test]
fn a_call_whose_member_process_lost_power_with_it_waits_for_the_handlers_cap_even_after_a_reboot() {
    for seed in 0..4 {
        // Frozen from 20 s, so the calls of 20-21 s wait in its kernel; the host loses
        // power at 21 s and is back at 24 s with a new etcd process, before etcd's 7 s
        // timeout of those calls would have run out.
        let faults = [pause(20), (21, Fault::Crash(Target::Host(CP2))), (24, Fault::Restart(Target::Host(CP2)))];
        let out = run(seed, &faults, 70);
        let held: Vec<_> = out
            .requests
            .iter()
            .filter(|r| r.kind == RequestKind::Write && r.host == CP2)
            .filter(|r| r.issued > at(20) + SimDuration::from_millis(10) && r.issued < at(21))
            .collect();
        assert!(!held.is_empty(), "no write went to cp-2 while it was frozen, seed={seed}");
        for r in held {
            // The new process never saw it, and no reset came: only the handler ends it.
            assert_eq!(r.result, Some(Err(RequestError::DeadlineExceeded)), "{r:?}, seed={seed}");
            assert_eq!(r.finished.map(|f| f.since(r.issued)), Some(secs(34)), "{r:?}, seed={seed}");
        }
    }
}

#[test]
fn an_answer_the_network_loses_leaves_the_call_to_the_apiservers_handler_not_to_etcds_timeout() {
    let mut seen = 0;
    for seed in 0..4 {
        let mut cp = ControlPlaneSpec::stacked(3);
        cp.etcd = hasim_sim::EtcdPlacement::External { members: 3 };
        cp.clients =
            ClientLoad { writes_per_sec: 20, quorum_reads_per_sec: 0, cache_reads_per_sec: 0, ..ClientLoad::default() };
        let mut sim = ClusterBuilder::new(3).seed(seed).control_plane(cp).build();
        let host = |sim: &hasim_sim::Simulation, name: &str| {
            (0..sim.host_count() as u32).map(HostId).find(|&h| sim.host_name(h) == name).expect("host")
        };
        let (etcd1, cp1) = (host(&sim, "etcd-1"), host(&sim, "cp-1"));
        sim.run_until(at(20));
        // etcd-1 still hears cp-1's apiserver, but its answers to it are lost.
        sim.inject(Fault::CutOneWay { from: Target::Host(etcd1), to: Target::Host(cp1) });
        sim.run_until(at(80));
        let out = sim.finish();
        out.assert_safe();
        for r in out.requests.iter().filter(|r| r.kind == RequestKind::Write && r.host == etcd1 && r.issued > at(21)) {
            // Nothing answers with an etcd timeout from a member that did answer.
            assert!(!is_etcd_timeout(r.result) || r.result == Some(Err(RequestError::DeadlineExceeded)), "{r:?}");
            if r.result == Some(Err(RequestError::DeadlineExceeded)) {
                seen += 1;
                assert_eq!(r.finished.map(|f| f.since(r.issued)), Some(secs(34)), "{r:?}, seed={seed}");
            }
        }
    }
    assert!(seen > 10, "only {seen} writes to etcd-1 lost their answers");
}

#[test]
fn a_call_that_reaches_a_member_just_as_it_stops_waits_for_another_channel_instead_of_being_refused() {
    for seed in 0..4 {
        let mut cp = ControlPlaneSpec::stacked(3);
        cp.etcd = hasim_sim::EtcdPlacement::External { members: 3 };
        let mut sim = ClusterBuilder::new(3).seed(seed).control_plane(cp).build();
        let host = |sim: &hasim_sim::Simulation, name: &str| {
            (0..sim.host_count() as u32).map(HostId).find(|&h| sim.host_name(h) == name).expect("host")
        };
        let (etcd1, etcd2) = (host(&sim, "etcd-1"), host(&sim, "etcd-2"));
        sim.run_until(at(20));
        // The readiness checks of the second at 20 s are on their way as the two stop.
        sim.inject(Fault::Stop(Target::Host(etcd1)));
        sim.inject(Fault::Stop(Target::Host(etcd2)));
        sim.run_until(at(40));
        let out = sim.finish();
        out.assert_safe();
        let refused = out.timeline.iter().find(|t| t.text.contains("not running on that host"));
        assert!(refused.is_none(), "{refused:?}, seed={seed}");
        assert!(
            !out.requests.iter().any(|r| r.result == Some(Err(RequestError::Unavailable))),
            "an apiserver's call was refused, seed={seed}"
        );
    }
}

#[test]
fn a_channel_that_never_got_through_keeps_its_back_off_when_its_member_is_refused_again() {
    for seed in 0..3 {
        let on = Target::Host(CP2);
        let faults = [
            (20, Fault::StopProcess { target: on, process: Process::Etcd }),
            (80, Fault::Start { target: on, process: Process::Etcd }),
            (85, Fault::Kill { target: on, process: Process::Etcd }),
        ];
        let out = run(seed, &faults, 100);
        // Refused since 20 s, the channel tries at 20 s, 21 s, 22.6 s, ... 63.07 s and
        // 89.91 s: the etcd started at 80 s was never reached before the kill, so the
        // restart after it is reached only at 89.91 s, not 1 s after the kill.
        let late: Vec<_> = out
            .requests
            .iter()
            .filter(|r| r.kind == RequestKind::Write && r.host == CP2 && r.issued > at(86) && r.issued < at(89))
            .collect();
        assert!(!late.is_empty(), "no write went to cp-2 after the kill, seed={seed}");
        for r in late {
            let finished = r.finished.unwrap_or_else(|| panic!("{r:?} never ended, seed={seed}"));
            assert!(finished >= at(89) + SimDuration::from_millis(910), "{r:?} went out too soon, seed={seed}");
        }
    }
}

#[test]
fn a_read_cut_off_by_its_members_death_is_sent_again_as_clientv3_retries_reads() {
    for seed in 0..4 {
        // Frozen from 20 s, cp-2's etcd holds the calls of the next 10 s in its kernel
        // when it is killed at 30 s; the kubelet starts it again within a second.
        let kill = (30, Fault::Kill { target: Target::Host(CP2), process: Process::Etcd });
        let out = run(seed, &[pause(20), kill], 45);
        let reads: Vec<_> = out
            .requests
            .iter()
            .filter(|r| r.kind == RequestKind::LinearizableRead && r.host == CP2)
            .filter(|r| r.issued >= at(25) && r.issued < at(30))
            .collect();
        assert!(!reads.is_empty(), "no read went to cp-2 while it was frozen, seed={seed}");
        for r in reads {
            // A write the reset cut fails (it may have been applied); a read is sent
            // again once the channel reconnects, and the restarted member serves it.
            assert_eq!(r.result.map(|x| x.is_ok()), Some(true), "{r:?}, seed={seed}");
            assert!(r.finished.is_some_and(|f| f >= at(31)), "{r:?}, seed={seed}");
        }
    }
}
