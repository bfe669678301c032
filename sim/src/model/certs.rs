//! Certificates as kubeadm issues them and as TLS checks them: each has a notBefore and
//! a notAfter and is verified against the VERIFYING host's clock when a connection is
//! made. Leaf certificates last one year; nodes that joined at different times hold
//! certificates that expire at different times; `kubeadm certs renew` plus a restart of
//! the static pods on that node replaces them.

use crate::model::clock::LocalTime;
use crate::time::SimDuration;

/// kubeadm's leaf certificate lifetime.
pub const LEAF_VALIDITY: SimDuration = SimDuration::from_secs(365 * 24 * 3600);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Certificate {
    pub not_before: LocalTime,
    pub not_after: LocalTime,
}

impl Certificate {
    /// Issued at `at` (the issuer's clock) for `validity`.
    pub fn issued(at: LocalTime, validity: SimDuration) -> Certificate {
        Certificate { not_before: at, not_after: at.plus(validity) }
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
        assert!(!c.valid_at(LocalTime(-1)), "a verifier whose clock is behind sees it as not yet valid");
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
