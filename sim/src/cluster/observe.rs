//! What each host looked like, recorded whenever the timeline gains an entry: power,
//! etcd role and term, apiserver readiness, who leads the scheduler and the
//! controller-manager, what each LB thinks of its backends, expired certificates, and
//! which network links are cut. Front ends (the TUI's cluster map) replay these frames
//! instead of re-deriving state from event texts, so what they show is what the core
//! held.
//!
//! A frame is taken after the event that wrote to the timeline has been handled, so it
//! shows the state the entry's sentence led to, and at least once a simulated second
//! for changes no entry announces. Only hosts whose state changed get a new frame.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::*;

/// Between timeline entries, states are also compared this often, so changes no
/// entry announces (nginx forgetting a failed backend, a kubelet restarting a
/// component) show up within this lag.
const STATE_CHECK_EVERY: SimDuration = SimDuration(1_000_000);

/// Whether the host is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Power {
    Up,
    /// Powered off or crashed.
    Down,
    /// VM paused: processes and kernel stopped.
    Frozen,
}

/// A member's Raft role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EtcdRole {
    Leader,
    Candidate,
    PreCandidate,
    Follower,
    /// A non-voting member catching up.
    Learner,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EtcdView {
    pub role: EtcdRole,
    pub term: u64,
    /// Frozen with SIGSTOP (or by a frozen host).
    pub paused: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ApiserverView {
    /// /readyz passes: its last etcd check succeeded.
    pub ready: bool,
    pub paused: bool,
}

/// A kube-scheduler or kube-controller-manager instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ElectedView {
    /// It believes it holds the lease and is doing the work.
    pub leading: bool,
    pub paused: bool,
}

/// One backend as a load balancer sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BackendView {
    pub host: String,
    /// UP in the LB's health checks (nginx: not currently failed).
    pub up: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LbView {
    pub backends: Vec<BackendView>,
    /// With keepalived: whether this LB holds the VIP.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub holds_vip: Option<bool>,
    /// HAProxy (or nginx) was killed or stopped on this live host; `backends` is
    /// what it thought when it stopped.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub proxy_stopped: bool,
    /// HAProxy (or nginx) is frozen (SIGSTOP): connections are accepted and nothing
    /// is relayed.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub proxy_frozen: bool,
}

/// Everything shown for one host at one moment. Absent processes are `null`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HostState {
    pub power: Power,
    pub etcd: Option<EtcdView>,
    pub apiserver: Option<ApiserverView>,
    pub scheduler: Option<ElectedView>,
    pub controller_manager: Option<ElectedView>,
    pub lb: Option<LbView>,
    /// Certificates that are outside their validity on this host's own clock: expired,
    /// or not yet valid (its clock reads before their notBefore). Other hosts judge
    /// them on their own clocks, so after a renewal on a clock that runs ahead this is
    /// empty while the peers refuse them; the timeline says so when it happens.
    pub expired_certs: Vec<String>,
}

/// A host's state from `at` until its next frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateFrame {
    pub at: SimTime,
    pub host: HostId,
    pub state: HostState,
}

/// The links that were cut (from, to) from `at` on; empty when the network is whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkFrame {
    pub at: SimTime,
    pub cut: Vec<(HostId, HostId)>,
}

impl Simulation {
    /// Takes a frame of every host whose state changed since its last frame, and of
    /// the network if its cuts changed.
    pub(super) fn record_states(&mut self) {
        self.observed_notes = self.outcome.timeline.len();
        self.next_state_check = self.now + STATE_CHECK_EVERY;
        for h in 0..self.hosts.len() {
            let host = HostId(h as u32);
            let state = self.host_state(host);
            if self.last_states.get(h) != Some(&state) {
                if h < self.last_states.len() {
                    self.last_states[h] = state.clone();
                } else {
                    self.last_states.push(state.clone());
                }
                self.outcome.states.push(StateFrame { at: self.now, host, state });
            }
        }
        let n = self.hosts.len();
        let cut: Vec<(HostId, HostId)> = (0..n)
            .flat_map(|a| (0..n).map(move |b| (HostId(a as u32), HostId(b as u32))))
            .filter(|&(a, b)| a != b && !self.network.can_reach(a, b))
            .collect();
        let last = self.outcome.network.last().map_or(&[][..], |f| &f.cut[..]);
        if last != cut.as_slice() {
            self.outcome.network.push(NetworkFrame { at: self.now, cut });
        }
    }

    fn host_state(&self, host: HostId) -> HostState {
        let h = &self.hosts[host.index()];
        let power = match (h.up, h.frozen) {
            (false, _) => Power::Down,
            (true, true) => Power::Frozen,
            (true, false) => Power::Up,
        };
        let etcd = h.etcd.as_ref().map(|p| {
            let raft = &p.server.raft;
            let role = match raft.role {
                Role::Leader => EtcdRole::Leader,
                Role::Candidate => EtcdRole::Candidate,
                Role::PreCandidate => EtcdRole::PreCandidate,
                // The cluster's membership, not the member's own raft config: a new
                // learner knows its role from the peers it fetches the member list from
                // when it starts (`--initial-cluster-state existing`), long before it
                // applies the entry that added it, and a promotion shows the moment it
                // commits, as `etcdctl member list` would say.
                Role::Follower if self.learners.contains(&p.server.id()) => EtcdRole::Learner,
                Role::Follower => EtcdRole::Follower,
            };
            EtcdView { role, term: raft.term.0, paused: p.paused }
        });
        // A frozen host's apiserver answers nothing, whatever its own flag says.
        let apiserver = h.apiserver.as_ref().map(|a| ApiserverView { ready: a.etcd_ok, paused: a.paused || h.frozen });
        let elected = |c: Component| {
            h.components.procs[c as usize].as_ref().map(|p| ElectedView {
                leading: self.spells.iter().any(|s| s.component == c && s.host == host && s.end.is_none()),
                paused: p.paused,
            })
        };
        let lb = self.lb_index_of(host).filter(|_| h.up).map(|i| self.lb_view(i));
        let local = h.clock.local(self.now);
        let expired_certs = crate::model::certs::CertKind::ALL
            .iter()
            .filter(|&&c| !h.certs.get(c).valid_at(local))
            .map(|c| c.name().to_string())
            .collect();
        HostState {
            power,
            etcd,
            apiserver,
            scheduler: elected(Component::Scheduler),
            controller_manager: elected(Component::ControllerManager),
            lb,
            expired_certs,
        }
    }
}
