//! Certificates checked when connections are made: an expired etcd peer certificate
//! cuts that member off; quorum survives one, not two; renewal restores it. Validity is
//! judged on the verifier's clock, against kubeadm's 5-minute backdate and the age of
//! the cluster, so clock steps and renewals on a skewed clock matter too.

use hasim_sim::model::certs::{CertKind, DEFAULT_CLUSTER_AGE};
use hasim_sim::{
    ClusterBuilder, Component, ControlPlaneSpec, Failure, Fault, HostId, Plane, RequestError, SimDuration, SimTime,
    Simulation, Target,
};

fn secs(s: u64) -> SimDuration {
    SimDuration::from_secs(s)
}

fn mins(m: u64) -> SimDuration {
    SimDuration::from_mins(m)
}

fn step_clock(h: u32, by_secs: i64) -> Fault {
    Fault::ClockStep { target: Target::Host(HostId(h)), offset_us: by_secs * 1_000_000 }
}

/// How many entries the member on `h` has committed fewer than the most up-to-date one:
/// it grows for as long as that member is cut off from its peers.
fn commit_lag(sim: &Simulation, h: u32) -> u64 {
    sim.max_commit() - sim.server(HostId(h)).expect("etcd runs").raft.log.committed
}

fn expire_peer(h: u32) -> Fault {
    Fault::ExpireCert { target: Target::Host(HostId(h)), cert: CertKind::EtcdPeer }
}

#[test]
fn expired_etcd_peer_certificates_keep_quorum_with_one_lose_it_with_two_and_renewal_restores_it() {
    for seed in 0..5 {
        let mut sim = ClusterBuilder::new(3).seed(seed).control_plane(ControlPlaneSpec::stacked(3)).build();
        sim.run_until(SimTime::ZERO + secs(20));
        // One of three: the other two keep (or elect) a leader and commit.
        sim.inject(expire_peer(0));
        sim.run_for(secs(10));
        let leaders: Vec<HostId> = sim.leaders().iter().map(|l| l.0).filter(|&h| h != HostId(0)).collect();
        assert_eq!(leaders.len(), 1, "one leader among the two healthy members, seed={seed}");
        let commit = sim.max_commit();
        sim.run_for(secs(5));
        assert!(sim.max_commit() > commit, "still committing, seed={seed}");
        // Two of three: no quorum.
        sim.inject(expire_peer(1));
        sim.run_for(secs(10));
        assert!(sim.leaders().is_empty(), "no leader with two members cut off, seed={seed}");
        let stuck = sim.max_commit();
        sim.run_for(secs(10));
        assert_eq!(sim.max_commit(), stuck, "nothing commits, seed={seed}");
        // Renew on both nodes: quorum is back.
        sim.inject(Fault::RenewCerts(Target::Host(HostId(0))));
        sim.inject(Fault::RenewCerts(Target::Host(HostId(1))));
        sim.run_for(secs(10));
        assert!(sim.leader().is_some(), "a leader after renewal, seed={seed}");
        assert!(sim.max_commit() > stuck, "commits again, seed={seed}");
        let out = sim.finish();
        out.assert_safe();
        // Clients saw it: writes failed while quorum was lost, and succeed at the end.
        let cp = out.control_plane.as_ref().unwrap();
        let w = cp.plane(Plane::Write);
        let (ok_before, _) = w.per_second[14];
        let (_, failed_lost) = w.per_second[45];
        let (ok_after, failed_after) = w.per_second[w.per_second.len() - 2];
        assert!(ok_before > 0 && failed_lost > 0 && ok_after > 0 && failed_after == 0, "seed={seed}");
    }
}

#[test]
fn an_expired_apiserver_etcd_client_certificate_fails_every_storage_call_of_that_apiserver() {
    let out = ClusterBuilder::new(3)
        .seed(2)
        .control_plane(ControlPlaneSpec::stacked(3))
        .fault(secs(20), Fault::ExpireCert { target: Target::Host(HostId(2)), cert: CertKind::ApiserverEtcdClient })
        .run_for(secs(40));
    let cp = out.control_plane.as_ref().unwrap();
    let via_cp3 = cp
        .failures
        .iter()
        .filter(|(t, p, f)| *t > SimTime::ZERO + secs(25) && *p == Plane::Write && f.backend() == Some(HostId(2)))
        .count();
    assert!(via_cp3 > 20, "writes through cp-3 fail: {via_cp3}");
    assert!(out.timeline.iter().any(|t| t.text.contains("apiserver on cp-3 is not ready")));
    // Cache reads do not touch etcd and keep working.
    assert_eq!(cp.failures.iter().filter(|(_, p, _)| *p == Plane::CacheRead).count(), 0);
}

#[test]
fn an_expired_apiserver_serving_certificate_fails_its_clients_while_the_tcp_check_passes() {
    let out = ClusterBuilder::new(3)
        .seed(3)
        .control_plane(ControlPlaneSpec::stacked(3))
        .fault(secs(20), Fault::ExpireCert { target: Target::Host(HostId(0)), cert: CertKind::ApiserverServing })
        .run_for(secs(40));
    let cp = out.control_plane.as_ref().unwrap();
    assert!(cp.failures.iter().any(|(_, _, f)| *f == Failure::Tls { backend: HostId(0) }));
    assert!(!out.timeline.iter().any(|t| t.text.contains("marked cp-1 DOWN")), "a TCP check does not see TLS");
}

#[test]
fn an_expired_apiserver_serving_certificate_also_fails_the_lease_calls_of_its_own_node() {
    // kube-scheduler and kube-controller-manager talk to the apiserver of their own
    // node and check its serving certificate against the CA in their kubeconfig: both
    // leaders lose their leases, and neither instance on that node can win one back.
    for seed in 0..3 {
        let mut sim = ClusterBuilder::new(3).seed(seed).control_plane(ControlPlaneSpec::stacked(3)).build();
        sim.run_until(SimTime::ZERO + secs(30));
        let node = sim.component_leader(Component::ControllerManager).expect("a leader");
        sim.inject(Fault::ExpireCert { target: Target::Host(node), cert: CertKind::ApiserverServing });
        sim.run_for(secs(60));
        for c in [Component::Scheduler, Component::ControllerManager] {
            let leader = sim.component_leader(c);
            assert!(leader.is_some_and(|l| l != node), "{} led by {leader:?}, seed={seed}", c.name());
        }
        let name = format!("cp-{}", node.0 + 1);
        assert!(
            sim.timeline()
                .iter()
                .any(|t| t.text.starts_with(&format!("kube-controller-manager on {name} lost leadership"))),
            "seed={seed}"
        );
    }
}

#[test]
fn an_expired_controller_manager_kubeconfig_makes_its_leader_lose_the_lease() {
    let mut sim = ClusterBuilder::new(3).seed(4).control_plane(ControlPlaneSpec::stacked(3)).build();
    sim.run_until(SimTime::ZERO + secs(30));
    let leader = sim.component_leader(Component::ControllerManager).expect("a leader");
    sim.inject(Fault::ExpireCert { target: Target::Host(leader), cert: CertKind::ControllerManagerKubeconfig });
    sim.run_for(secs(40));
    assert_ne!(sim.component_leader(Component::ControllerManager), Some(leader), "it lost the lease (401)");
    assert!(
        sim.timeline().iter().any(|t| t.text.contains("kube-controller-manager") && t.text.contains("lost leadership"))
    );
}

#[test]
fn certificates_renewed_on_a_clock_running_ahead_are_refused_by_peers_until_their_clocks_pass_the_backdate() {
    // kubeadm backdates a certificate 5 minutes, so a signer up to 5 minutes ahead is
    // harmless; 8 minutes ahead, its peers see the new certificates as not yet valid
    // for 3 minutes.
    for (ahead, refused) in [(mins(8), true), (mins(4), false)] {
        for seed in 0..3 {
            let mut sim = ClusterBuilder::new(3).seed(seed).control_plane(ControlPlaneSpec::stacked(3)).build();
            sim.run_until(SimTime::ZERO + secs(20));
            sim.inject(step_clock(0, ahead.as_micros() as i64 / 1_000_000));
            sim.inject(Fault::RenewCerts(Target::Host(HostId(0))));
            sim.run_for(secs(40));
            let lag = commit_lag(&sim, 0);
            let context = format!("{ahead} ahead, seed={seed}");
            if refused {
                assert!(lag > 100, "cp-1 is cut off: {lag} entries behind, {context}");
                assert!(sim.leaders().iter().all(|l| l.0 != HostId(0)), "cp-1 does not lead, {context}");
                // The others' clocks reach the new notBefore 3 minutes after the renewal.
                sim.run_until(SimTime::ZERO + secs(15) + mins(3));
                assert!(commit_lag(&sim, 0) > 100, "still cut off just before that, {context}");
                sim.run_for(secs(20));
            }
            assert!(commit_lag(&sim, 0) < 20, "cp-1 keeps up: {} behind, {context}", commit_lag(&sim, 0));
            sim.finish().assert_safe();
        }
    }
}

#[test]
fn a_clock_stepped_back_ten_minutes_is_harmless_on_an_old_cluster_but_refuses_every_peer_on_a_new_one() {
    // kubeadm signed the certificates `cluster_age` before the run, backdated 5
    // minutes. A month-old cluster's are valid on a clock 10 minutes behind; a cluster
    // set up 2 minutes ago has certificates that, on cp-3's clock, start 3 minutes in
    // the future — so cp-3 refuses every peer (and every etcd server) until then.
    for (age, cut_off) in [(DEFAULT_CLUSTER_AGE, false), (mins(2), true)] {
        for seed in 0..3 {
            let mut sim = ClusterBuilder::new(3)
                .seed(seed)
                .cluster_age(age)
                .control_plane(ControlPlaneSpec::stacked(3))
                .fault(secs(20), step_clock(2, -600))
                .build();
            sim.run_until(SimTime::ZERO + secs(60));
            let context = format!("cluster age {age}, seed={seed}");
            if cut_off {
                assert!(commit_lag(&sim, 2) > 100, "cp-3 is cut off, {context}");
                // On cp-3's clock it is 10 minutes before true time; the certificates
                // start at (−2 min − 5 min) on it, reached at true time 3 minutes.
                sim.run_until(SimTime::ZERO + mins(3) + secs(20));
            }
            assert!(commit_lag(&sim, 2) < 20, "cp-3 keeps up: {} behind, {context}", commit_lag(&sim, 2));
            let out = sim.finish();
            out.assert_safe();
            let refused_storage = out.control_plane.as_ref().unwrap().failures.iter().any(|(_, _, f)| {
                matches!(f, Failure::Etcd { backend: HostId(2), error: RequestError::CertificateExpired })
            });
            assert_eq!(refused_storage, cut_off, "cp-3's apiserver refuses the etcd servers' certificates, {context}");
        }
    }
}

#[test]
fn a_clock_stepped_a_year_ahead_sees_every_certificate_expired() {
    let mut sim = ClusterBuilder::new(3)
        .seed(5)
        .control_plane(ControlPlaneSpec::stacked(3))
        .fault(secs(20), step_clock(1, 366 * 24 * 3600))
        .build();
    sim.run_until(SimTime::ZERO + secs(50));
    assert!(commit_lag(&sim, 1) > 100, "cp-2 refuses its peers' expired certificates");
    let out = sim.finish();
    out.assert_safe();
    let cp = out.control_plane.as_ref().unwrap();
    let failed_via_cp2 = cp
        .failures
        .iter()
        .filter(|(t, p, f)| *t > SimTime::ZERO + secs(25) && *p == Plane::Write && f.backend() == Some(HostId(1)))
        .count();
    assert!(failed_via_cp2 > 20, "writes through cp-2 fail: {failed_via_cp2}");
}
