//! How an apiserver's calls to an etcd member end when that member cannot answer. etcd's
//! 7 s request timeout is a timer in the member's own process: a frozen member runs it
//! only once it resumes, and counts a call it took in only then from then on; a member
//! whose process dies on a live host answers at once through its kernel's reset. No
//! etcd error reaches a client while the member is frozen: clients there wait out their
//! own 10 s timeout.

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
fn a_frozen_member_answers_no_call_and_clients_of_its_apiserver_wait_out_their_own_timeout() {
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
            assert!(!o.cause.contains("got from etcd"), "{o:?}, seed={seed}");
        }
    }
}

#[test]
fn a_call_a_frozen_member_takes_in_only_when_it_resumes_gets_etcds_full_timeout_from_then() {
    let mut taken_late = 0;
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
                assert!(finished >= at(39), "{r:?} timed out before 7 s after the resume, seed={seed}");
            }
        }
    }
    assert!(taken_late > 100, "only {taken_late} writes were sent in the first 5 s of the freezes");
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
