//! Certificates as kubeadm issues them and as TLS checks them: each has a notBefore and
//! a notAfter and is verified against the VERIFYING host's clock when a connection is
//! made. Leaf certificates last one year; every node's are signed `cluster_age` before
//! the run (an `expire_cert` fault stands in for a node that joined earlier and whose
//! certificate expires first); `kubeadm certs renew` plus a restart of the static pods
//! on that node replaces them.
//!
//! Current kubeadm backdates every certificate it signs: notBefore is five minutes
//! before the signing host's clock (`CertificateBackdate` in its constants.go, "to
//! allow small time jumps", set in certs.go and by the renewal manager), and notAfter
//! a year after it. So a verifier whose clock is up to five minutes behind the
//! signer's accepts a fresh certificate, and one further behind rejects it as not yet
//! valid, as after renewing on a node whose clock runs ahead. (Older kubeadm gave a
//! leaf its CA's notBefore, so a renewal could not produce that failure there.)

use crate::model::clock::LocalTime;
use crate::time::SimDuration;

/// kubeadm's leaf certificate lifetime.
pub const LEAF_VALIDITY: SimDuration = SimDuration::from_secs(365 * 24 * 3600);

/// How long the cluster has been running when a run starts, unless the scenario says
/// (`topology.cluster_age`): long past the five-minute backdate, so an ordinary clock
/// step does not touch certificate validity, and far from the one-year expiry.
pub const DEFAULT_CLUSTER_AGE: SimDuration = SimDuration::from_secs(30 * 24 * 3600);

/// How far kubeadm moves notBefore back from the signing time (`CertificateBackdate`).
pub const CERTIFICATE_BACKDATE: SimDuration = SimDuration::from_secs(5 * 60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Certificate {
    pub not_before: LocalTime,
    pub not_after: LocalTime,
}

impl Certificate {
    /// Signed by kubeadm when the signing host's clock read `at`, for `validity`:
    /// backdated by `CERTIFICATE_BACKDATE`, expiring `validity` after `at`.
    pub fn issued(at: LocalTime, validity: SimDuration) -> Certificate {
        Certificate { not_before: at.minus(CERTIFICATE_BACKDATE), not_after: at.plus(validity) }
    }

    /// What a verifier whose clock reads `now` concludes.
    pub fn valid_at(&self, now: LocalTime) -> bool {
        self.not_before <= now && now <= self.not_after
    }
}

/// Which certificate of a node: each failure has its own consequence (DESIGN §4.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CertKind {
    /// etcd peer: Raft traffic to and from that member is refused.
    EtcdPeer,
    /// etcd server: apiservers cannot connect to that member.
    EtcdServer,
    /// apiserver-etcd-client: every storage call of that apiserver fails.
    ApiserverEtcdClient,
    /// apiserver serving: every client of that apiserver fails TLS (a TCP check passes).
    ApiserverServing,
    /// scheduler.conf client certificate: lease calls fail with 401.
    SchedulerKubeconfig,
    /// controller-manager.conf client certificate: lease calls fail with 401.
    ControllerManagerKubeconfig,
}

impl CertKind {
    pub const ALL: [CertKind; 6] = [
        CertKind::EtcdPeer,
        CertKind::EtcdServer,
        CertKind::ApiserverEtcdClient,
        CertKind::ApiserverServing,
        CertKind::SchedulerKubeconfig,
        CertKind::ControllerManagerKubeconfig,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CertKind::EtcdPeer => "etcd/peer",
            CertKind::EtcdServer => "etcd/server",
            CertKind::ApiserverEtcdClient => "apiserver-etcd-client",
            CertKind::ApiserverServing => "apiserver",
            CertKind::SchedulerKubeconfig => "scheduler.conf",
            CertKind::ControllerManagerKubeconfig => "controller-manager.conf",
        }
    }
}

/// The certificates one node holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeCerts {
    certs: [Certificate; 6],
}

impl NodeCerts {
    /// Everything issued when the node joined.
    pub fn issued(at: LocalTime, validity: SimDuration) -> NodeCerts {
        NodeCerts { certs: [Certificate::issued(at, validity); 6] }
    }

    pub fn get(&self, kind: CertKind) -> Certificate {
        self.certs[kind as usize]
    }

    pub fn set(&mut self, kind: CertKind, cert: Certificate) {
        self.certs[kind as usize] = cert;
    }

    /// `kubeadm certs renew all` on this node.
    pub fn renew_all(&mut self, at: LocalTime, validity: SimDuration) {
        self.certs = [Certificate::issued(at, validity); 6];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_is_judged_on_the_verifiers_clock() {
        let c = Certificate::issued(LocalTime(0), SimDuration::from_secs(100));
        assert!(c.valid_at(LocalTime(100_000_000)));
        assert!(!c.valid_at(LocalTime(100_000_001)), "expired one microsecond later");
        let backdate = CERTIFICATE_BACKDATE.as_micros() as i64;
        assert!(c.valid_at(LocalTime(-backdate)), "a verifier up to five minutes behind accepts it");
        assert!(!c.valid_at(LocalTime(-backdate - 1)), "one further behind sees it as not yet valid");
    }

    #[test]
    fn renewal_replaces_every_certificate_of_a_node() {
        let mut n = NodeCerts::issued(LocalTime(0), SimDuration::from_secs(10));
        n.set(CertKind::EtcdPeer, Certificate::issued(LocalTime(0), SimDuration::from_secs(1)));
        assert!(!n.get(CertKind::EtcdPeer).valid_at(LocalTime(5_000_000)));
        n.renew_all(LocalTime(5_000_000), LEAF_VALIDITY);
        assert!(CertKind::ALL.iter().all(|&k| n.get(k).valid_at(LocalTime(6_000_000))));
    }
}
