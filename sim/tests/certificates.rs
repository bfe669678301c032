//! Certificates checked when connections are made: an expired etcd peer certificate
//! cuts that member off; quorum survives one, not two; renewal restores it.

use hasim_sim::model::certs::CertKind;
use hasim_sim::{
    ClusterBuilder, Component, ControlPlaneSpec, Failure, Fault, HostId, Plane, SimDuration, SimTime, Target,
};

fn secs(s: u64) -> SimDuration {
    SimDuration::from_secs(s)
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
