//! An etcd cluster on simulated hosts: the builder API, the event loop that drives the
//! members, and what a run leaves behind (leader history, committed log, client
//! outcomes, invariant violations).
//!
//! The loop mirrors etcd's raftNode: a member's Ready is processed only when its
//! previous fsync is done; a leader sends its messages before its own fsync, followers
//! after theirs; a tick that fires while the loop is busy (or the process frozen) is
//! kept, but only one, like Go's time.Ticker.

use std::collections::{BTreeMap, BTreeSet};

mod clients;
mod control_plane;
mod etcd_host;
mod faults;
mod kubelet;
mod leases;
mod observe;

use control_plane::{ApiRequest, ApiServerProc, ClientConn, LbState, Origin, ScriptStep};
pub use control_plane::{
    ClientLoad, ControlPlaneReport, ControlPlaneSpec, EtcdPlacement, Failure, FaultRecovery, Frontend, NginxConfig,
    Outage, Plane, PlaneAvailability, SLOW_ANSWER,
};
pub use leases::{Component, LeadingSpell, Overlap};
use leases::{LeaseStore, NodeComponents};
pub use observe::{
    ApiserverView, BackendView, ElectedView, EtcdRole, EtcdView, HostState, LbView, NetworkFrame, Power, StateFrame,
};

use crate::check::{Checker, CommittedEntry, Holder, Violation};
use crate::engine::{Delivery, Disk, DiskProfile, EventQueue, IdMap, LinkProfile, Network, SimRng, StreamId};
use crate::fault::{Fault, Target};
use crate::ids::{HostId, LogIndex, MemberId, ReadId, Term, WriteId};
use crate::model::etcd::log::{DurableState, WriteBatch};
use crate::model::etcd::message::{Body, ConfChange, Entry, Message};
use crate::model::etcd::raft::ProposalError;
use crate::model::etcd::raft::{Raft, RaftEvent, Role};
use crate::model::etcd::{Applied, EtcdServer, EtcdSettings, MemberChange, ServerError};
use crate::model::lb::CheckResult;
use crate::time::{SimDuration, SimTime};

/// Client load against the cluster, spread round-robin over the members like clientv3's
/// balancer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Workload {
    pub writes_per_sec: u32,
    pub linearizable_reads_per_sec: u32,
    pub serializable_reads_per_sec: u32,
}

/// Everything that defines a run.
#[derive(Clone, Debug)]
pub struct ClusterSpec {
    pub seed: u64,
    pub voters: usize,
    pub learners: usize,
    /// Hosts with no member at the start, available to `AddMember`.
    pub spare_hosts: usize,
    pub etcd: EtcdSettings,
    pub link: LinkProfile,
    pub disk: DiskProfile,
    pub workload: Workload,
    pub faults: Vec<(SimTime, Fault)>,
    /// How long before the run kubeadm signed the certificates (the cluster's age).
    pub cluster_age: SimDuration,
    /// apiservers, load balancer and clients around etcd; None for an etcd-only run.
    pub control_plane: Option<ControlPlaneSpec>,
}

/// One host of a run's layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostSlot {
    pub name: String,
    /// Runs kube-apiserver, kube-scheduler and kube-controller-manager.
    pub control_plane: bool,
}

impl ClusterSpec {
    /// The hosts of a run, in `HostId` order: etcd hosts first (in a stacked control
    /// plane these are the control-plane nodes, named cp-N, then spare hosts), then
    /// external control-plane nodes, then lb-1 (and lb-2 with a VIP), then the client
    /// network.
    pub fn host_layout(&self) -> Vec<HostSlot> {
        let n_members = self.voters + self.learners;
        let etcd_hosts = n_members + self.spare_hosts;
        let cp = self.control_plane;
        let stacked = cp.is_some_and(|c| c.etcd == EtcdPlacement::Stacked);
        let extra_cp = match cp.map(|c| c.etcd) {
            Some(EtcdPlacement::External { .. }) => cp.map_or(0, |c| c.nodes),
            _ => 0,
        };
        let n_lbs = match cp {
            Some(c) if c.vip.is_some() && c.frontend != Frontend::Direct => 2,
            Some(c) if c.frontend != Frontend::Direct => 1,
            _ => 0,
        };
        let mut hosts = Vec::new();
        for i in 0..etcd_hosts {
            let name = if stacked { format!("cp-{}", i + 1) } else { format!("etcd-{}", i + 1) };
            hosts.push(HostSlot { name, control_plane: stacked && i < n_members });
        }
        for i in 0..extra_cp {
            hosts.push(HostSlot { name: format!("cp-{}", i + 1), control_plane: true });
        }
        for i in 0..n_lbs {
            hosts.push(HostSlot { name: format!("lb-{}", i + 1), control_plane: false });
        }
        if cp.is_some() {
            hosts.push(HostSlot { name: "client".to_string(), control_plane: false });
        }
        hosts
    }
}

/// Builds a cluster run step by step.
///
/// ```
/// use hasim_sim::{ClusterBuilder, Fault, Target, SimDuration};
/// let outcome = ClusterBuilder::new(3)
///     .seed(7)
///     .fault(SimDuration::from_secs(5), Fault::Crash(Target::EtcdLeader))
///     .run_for(SimDuration::from_secs(15));
/// assert!(outcome.violations.is_empty());
/// assert!(outcome.leader_history.len() >= 2, "a new leader after the crash");
/// ```
#[derive(Clone, Debug)]
pub struct ClusterBuilder {
    spec: ClusterSpec,
}

impl ClusterBuilder {
    pub fn new(voters: usize) -> Self {
        ClusterBuilder {
            spec: ClusterSpec {
                seed: 0,
                voters,
                learners: 0,
                spare_hosts: 0,
                etcd: EtcdSettings::default(),
                link: LinkProfile::default(),
                disk: DiskProfile::default(),
                workload: Workload::default(),
                faults: Vec::new(),
                cluster_age: crate::model::certs::DEFAULT_CLUSTER_AGE,
                control_plane: None,
            },
        }
    }

    pub fn seed(mut self, seed: u64) -> Self {
        self.spec.seed = seed;
        self
    }
    pub fn pre_vote(mut self, on: bool) -> Self {
        self.spec.etcd.pre_vote = on;
        self
    }
    pub fn etcd(mut self, settings: EtcdSettings) -> Self {
        self.spec.etcd = settings;
        self
    }
    pub fn learners(mut self, n: usize) -> Self {
        self.spec.learners = n;
        self
    }
    pub fn spare_hosts(mut self, n: usize) -> Self {
        self.spec.spare_hosts = n;
        self
    }
    pub fn link(mut self, profile: LinkProfile) -> Self {
        self.spec.link = profile;
        self
    }
    pub fn disk(mut self, profile: DiskProfile) -> Self {
        self.spec.disk = profile;
        self
    }
    pub fn workload(mut self, w: Workload) -> Self {
        self.spec.workload = w;
        self
    }
    /// How long before the run kubeadm signed the certificates.
    pub fn cluster_age(mut self, age: SimDuration) -> Self {
        self.spec.cluster_age = age;
        self
    }
    /// A Kubernetes control plane around etcd. Stacked: one member per node (the member
    /// count becomes the node count); external: `members` members on their own hosts.
    pub fn control_plane(mut self, cp: ControlPlaneSpec) -> Self {
        self.spec.voters = match cp.etcd {
            EtcdPlacement::Stacked => cp.nodes,
            EtcdPlacement::External { members } => members,
        };
        self.spec.control_plane = Some(cp);
        self
    }
    /// Schedules a fault `after` the start of the run.
    pub fn fault(mut self, after: SimDuration, fault: Fault) -> Self {
        self.spec.faults.push((SimTime::ZERO + after, fault));
        self
    }
    pub fn spec(&self) -> &ClusterSpec {
        &self.spec
    }
    pub fn build(self) -> Simulation {
        Simulation::new(self.spec)
    }
    /// Builds, runs for `d` and returns the outcome.
    pub fn run_for(self, d: SimDuration) -> RunOutcome {
        let mut sim = self.build();
        sim.run_until(SimTime::ZERO + d);
        sim.finish()
    }
}

/// One election won.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaderTerm {
    pub at: SimTime,
    pub host: HostId,
    pub member: MemberId,
    pub term: Term,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RequestKind {
    Write,
    LinearizableRead,
    SerializableRead,
}

/// Why a client request failed, with the text etcd returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, thiserror::Error)]
pub enum RequestError {
    #[error("connection refused: etcd is not running on that host")]
    Unavailable,
    #[error("context deadline exceeded")]
    DeadlineExceeded,
    #[error("etcdserver: request timed out")]
    TimedOut,
    #[error("etcdserver: request timed out, possibly due to previous leader failure")]
    TimedOutLeaderFail,
    #[error("etcdserver: raft proposal dropped")]
    ProposalDropped,
    #[error("etcdserver: leader changed")]
    LeaderChanged,
    #[error("transport: authentication handshake failed: x509: certificate has expired or is not yet valid")]
    CertificateExpired,
    /// The member's process died on a live host with the call: its kernel reset the
    /// connection.
    #[error("rpc error: code = Unavailable desc = error reading from server: EOF")]
    ConnectionClosed,
    /// The member stopped (gracefully) with the call still waiting on raft.
    #[error("etcdserver: server stopped")]
    ServerStopped,
}

impl From<ServerError> for RequestError {
    fn from(e: ServerError) -> Self {
        match e {
            ServerError::ProposalDropped => RequestError::ProposalDropped,
            ServerError::LeaderChanged => RequestError::LeaderChanged,
            ServerError::Timeout => RequestError::TimedOut,
        }
    }
}

/// One client request and how it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    pub id: u64,
    pub kind: RequestKind,
    pub host: HostId,
    pub issued: SimTime,
    pub finished: Option<SimTime>,
    /// The index the write landed at or the read was served at.
    pub result: Option<Result<LogIndex, RequestError>>,
}

/// A notable moment with a sentence a learner can read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelineEntry {
    pub at: SimTime,
    pub host: Option<HostId>,
    pub kind: EventKind,
    pub text: String,
}

/// Which part of the world a timeline entry is about (front ends filter and colour by
/// it, and jump from fault to fault).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A fault from the scenario was applied (or skipped).
    Fault,
    /// Raft: campaigns, terms, leaders, a member stopping.
    Etcd,
    /// Members added, promoted or removed.
    Membership,
    /// An apiserver's readiness (its etcd check).
    Apiserver,
    /// The kubelet restarting a static pod.
    Kubelet,
    /// The LB marking a backend UP or DOWN, closing sessions.
    LoadBalancer,
    /// keepalived moving the VIP.
    Vip,
    /// kube-scheduler / kube-controller-manager leader election.
    Lease,
    /// Two leaders at once.
    SplitBrain,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    pub events: u64,
    pub messages_sent: u64,
    pub messages_dropped: u64,
    pub fsyncs: u64,
    pub campaigns: u64,
    pub writes_ok: u64,
    pub writes_failed: u64,
    pub reads_ok: u64,
    pub reads_failed: u64,
}

impl RunStats {
    /// Counts one etcd request's answer.
    pub(crate) fn count_answer(&mut self, kind: RequestKind, ok: bool) {
        match (kind, ok) {
            (RequestKind::Write, true) => self.writes_ok += 1,
            (RequestKind::Write, false) => self.writes_failed += 1,
            (_, true) => self.reads_ok += 1,
            (_, false) => self.reads_failed += 1,
        }
    }
}

/// What a run leaves behind.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    pub seed: u64,
    pub end: SimTime,
    pub host_names: Vec<String>,
    pub leader_history: Vec<LeaderTerm>,
    /// The committed log, including what was committed while the requests waiting at
    /// the end were followed to their answers (so every acknowledged write is in it).
    pub committed: Vec<CommittedEntry>,
    /// The etcd requests issued during the run, each with how it ended if it had by the
    /// time every client request had its answer (an apiserver's readiness check or
    /// lease call may still be waiting).
    pub requests: Vec<RequestRecord>,
    pub timeline: Vec<TimelineEntry>,
    pub violations: Vec<Violation>,
    pub stats: RunStats,
    /// Availability, outages and staleness as clients of the control plane saw them.
    pub control_plane: Option<ControlPlaneReport>,
    /// Windows in which two or more members believed they led at once.
    pub etcd_overlaps: Vec<EtcdOverlap>,
    /// Each host's state whenever it changed (see `observe`); the first frames, at
    /// time zero, cover every host.
    pub states: Vec<StateFrame>,
    /// The cut links whenever they changed.
    pub network: Vec<NetworkFrame>,
}

/// Members that all believed they were etcd leader (each in its own term).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EtcdOverlap {
    pub start: SimTime,
    pub end: Option<SimTime>,
    pub leaders: Vec<(HostId, Term)>,
}

impl RunOutcome {
    /// Panics with every violation and the seed to reproduce them; for tests.
    pub fn assert_safe(&self) {
        if !self.violations.is_empty() {
            let list: Vec<String> = self.violations.iter().map(|v| v.to_string()).collect();
            panic!("{} invariant violation(s), reproduce with seed={}:\n{}", list.len(), self.seed, list.join("\n"));
        }
    }

    /// Writes that were committed at indices in `[from, to)` of simulated time.
    pub fn writes_ok_between(&self, from: SimTime, to: SimTime) -> usize {
        self.requests
            .iter()
            .filter(|r| r.kind == RequestKind::Write && matches!(r.result, Some(Ok(_))))
            .filter(|r| r.finished.is_some_and(|f| f >= from && f < to))
            .count()
    }
}

// ------------------------------------------------------------------------ internals

#[derive(Clone, Copy, Debug)]
enum Event {
    Tick(HostId, u32),
    Deliver(u32),
    DiskDone(HostId, u32),
    Fault(u32),
    Workload(RequestKind),
    /// etcd's request timeout of a call (`on_deadline`).
    Deadline(u64),
    /// The apiserver's handler gives up on a call the member cannot answer.
    HandlerCap(u64),
    /// A gRPC channel of the apiserver on `.0` (incarnation `.1`) to an etcd member may
    /// be ready again: the calls waiting for one go out.
    ApiChannelReady(HostId, u32),
    /// Stop after a graceful-stop transfer finished or timed out, or after removal.
    StopProcess(HostId, u32),
    /// A stopping etcd has cut its remaining client streams: on to raft's Stop.
    EtcdClientsClosed(HostId, u32),
    /// An apiserver's call reached its etcd member / the member's answer came back.
    EtcdCallArrive(u64),
    EtcdCallReply(u64, Result<LogIndex, RequestError>),
    ApiCheckTick(HostId, u32),
    ClientIssue(Plane),
    /// A retry attempt leaves the client after its back-off.
    ClientSend(u64),
    /// client-go sends a request again after the Retry-After wait of a 429.
    ClientRetryAfter(u64),
    ClientTimeout(u64),
    ClientReply(u64, Result<(), Failure>),
    LbArrive(u64, u8),
    /// A request on an established session reached the LB.
    LbForward(u64, u8),
    /// HAProxy retries on this backend, or (None) redispatches to another.
    LbRetry(u64, Option<HostId>),
    LbNext(u64, HostId, bool),
    LbGiveUp(u64, Failure),
    /// A backend's answer reached a frozen proxy (`.1`), which relays it once it resumes.
    LbRelay(u64, u8, Result<(), Failure>),
    LbCheck(u8, u16),
    /// A health check of server `.1` ends with `.2`; `.3` is the proxy epoch it began in.
    LbCheckDone(u8, u16, CheckResult, u32),
    VrrpTimer(u8, u32, u64),
    VrrpAdvert(u8, u8, u32),
    /// keepalived's tracked script runs on LB `.0` (LB boot generation `.1`).
    VrrpScript(u8, u32),
    /// The next step of run `.1` of that script (a retry of HAProxy's, curl giving
    /// up at its `--max-time`).
    VrrpScriptStep(u8, u32, control_plane::ScriptStep),
    ApiArrive(u64, HostId),
    LivenessProbe(HostId, u32),
    /// The probe sent at `.2` to a frozen apiserver has waited out its timeout.
    LivenessProbeTimeout(HostId, u32, SimTime),
    /// The grace period of a frozen apiserver the kubelet is killing ran out.
    ApiserverSigkill(HostId, u32),
    /// The kubelet's probes of a process (incarnation `.2`) frozen since `.3` have
    /// failed the threshold of times in a row, if it is frozen still (`kubelet`).
    ProbesFailed(HostId, crate::fault::Process, u32, SimTime),
    /// The grace period of a frozen etcd, scheduler or controller-manager ran out.
    ProbedSigkill(HostId, crate::fault::Process, u32),
    /// The kubelet starts a container again after it exited: the incarnation that
    /// exited, and whether the crash-loop back-off delayed the restart (then the
    /// timeline says so when it happens).
    ApiserverRestart(HostId, u32, bool),
    EtcdRestart(HostId, u32, bool),
    ElectorTimer(HostId, Component, u32, u64),
    ElectorCallTimeout(HostId, Component, u32, u64),
    ComponentRestart(HostId, Component, u32, bool),
}

// Every pending event sits in the queue, and the queue moves them on each insert: a
// variant that makes the enum bigger costs every event, not just its own.
const _: () = assert!(std::mem::size_of::<Event>() <= 32);

/// Queue lanes for events scheduled a fixed delay ahead (see `EventQueue::push_in_order`).
const LANE_ETCD_DEADLINE: usize = 0;
const LANE_CLIENT_TIMEOUT: usize = 1;
const LANES: usize = 2;

/// Events that reach a frozen process wait here until it resumes.
#[derive(Clone, Copy, Debug)]
enum Stashed {
    Deliver(u32),
    DiskDone,
    Request(u64),
    /// etcd's own request timeout of a call, which ran out while the process was
    /// frozen: Go runs the expired timer once it resumes.
    Deadline(u64),
}

/// What follows a graceful stop of etcd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AfterStop {
    /// A `stop` fault: the process stays down.
    Exit,
    /// The kubelet restarts the pod after a certificate renewal: a new pod, started at
    /// once.
    NewPod,
    /// The kubelet killed it for failed probes: the same pod, restarted subject to the
    /// crash-loop back-off (`RestartBackoff::delay_after_kill`).
    KilledForProbes,
}

struct EtcdProcess {
    server: EtcdServer,
    incarnation: u32,
    paused: bool,
    stash: Vec<Stashed>,
    tick_pending: bool,
    writing: Option<WriteBatch>,
    /// Follower messages waiting for the in-flight fsync.
    held: Vec<Message>,
    /// Graceful stop in progress: waiting for leadership to move to this member.
    stopping_for: Option<MemberId>,
    /// Whether, and how, the kubelet starts etcd again once its graceful stop has
    /// finished.
    after_stop: AfterStop,
    /// Stopping: its client listeners are closed, so new client calls are refused,
    /// while raft goes on until the open client streams are cut.
    clients_closed: bool,
    /// The kubelet's liveness probe (`kubelet`).
    hang: crate::model::kubelet::HangProbe,
    /// A SIGTERM (a `stop`) reached it while it was frozen: it acts on it once it
    /// resumes.
    sigterm_waiting: bool,
}

struct Host {
    name: String,
    up: bool,
    disk: Disk,
    /// The etcd data directory; None when never initialised or wiped.
    data: Option<DurableState>,
    member: Option<MemberId>,
    etcd: Option<EtcdProcess>,
    incarnation: u32,
    is_control_plane: bool,
    apiserver: Option<ApiServerProc>,
    incarnation_api: u32,
    clock: crate::model::clock::Clock,
    components: NodeComponents,
    certs: crate::model::certs::NodeCerts,
    /// The kubelet's crash-loop back-off for this node's kube-apiserver.
    api_backoff: crate::model::kubelet::RestartBackoff,
    /// The same for its etcd (a static pod too, stacked or external with kubeadm).
    etcd_backoff: crate::model::kubelet::RestartBackoff,
    /// Where in each second the kubelet's PLEG relists fall.
    relist_phase: SimDuration,
    /// The whole host is frozen (VM paused): see `Simulation::held_by`.
    frozen: bool,
    /// When it lost power, while it is down.
    down_since: Option<SimTime>,
    /// Since when its etcd has refused the apiservers' connections, while it does (its
    /// process died, stopped or closed its listeners on this live host): their gRPC
    /// channels have been reconnecting with back-off from then.
    etcd_refusing_since: Option<SimTime>,
    /// When the refusals that ended as its running etcd began to listen began, if any:
    /// the channels' reconnect schedules still run from then
    /// (`Simulation::channel_ready_at`).
    etcd_refused_from: Option<SimTime>,
    /// When its running etcd began to listen.
    etcd_listening_since: SimTime,
    /// When the channels that were open before `etcd_refused_from` reach its running
    /// etcd (`control_plane::grpc_reconnect`).
    etcd_channels_ready_at: SimTime,
    /// Events for this host's frozen apiserver, kubelet or LB, in arrival order.
    held: Vec<Event>,
}

struct InFlight {
    from_host: HostId,
    to_host: HostId,
    to_incarnation: u32,
    msg: Message,
}

struct PendingRequest {
    kind: RequestKind,
    host: HostId,
    lead_at_issue: Option<MemberId>,
    record: usize,
    /// Set when an apiserver made the request: its answer travels back to it.
    origin: Option<Origin>,
    /// An apiserver's call that nothing will answer (the member's host is down, or
    /// the network lost it): etcd's own request timeout never runs for it, so it
    /// waits on the apiserver's handler instead (`on_deadline`).
    lost: bool,
    /// The apiserver handler's cap (`HandlerCap`) is set for the call: the member
    /// cannot run its own timeout now.
    at_handler_cap: bool,
    /// The etcd process (its incarnation) that took the call in, if one did (a frozen
    /// process's kernel takes it too): if that process dies, the connection it came on
    /// breaks, and no other process will answer it.
    received_by: Option<u32>,
    /// When the member took the call in, if later than it was made (a frozen member
    /// once it resumed, or a call that waited for a ready channel): etcd's request
    /// timeout runs from then.
    taken_late: Option<SimTime>,
    /// Waiting in the apiserver's etcd client for a ready channel (`ApiServerProc::parked`).
    parked: bool,
    /// The member sent its answer back to the apiserver: if the network lost it, no
    /// timer of the member's is left to end the call.
    answered: bool,
}

pub struct Simulation {
    spec: ClusterSpec,
    now: SimTime,
    queue: EventQueue<Event, LANES>,
    hosts: Vec<Host>,
    network: Network,
    /// Host of each member id (ids are small and dense), None for unknown ids.
    host_of: Vec<Option<HostId>>,
    removed: BTreeSet<MemberId>,
    /// Members that joined as learners and were not promoted (a removed learner stays:
    /// member ids are never reused).
    learners: BTreeSet<MemberId>,
    /// Members that ever ran (etcd's "started": published their attributes).
    started: BTreeSet<MemberId>,
    next_member: u64,
    in_flight: Vec<Option<InFlight>>,
    free_slots: Vec<u32>,
    checker: Checker,
    fault_rng: SimRng,
    boot_rng: SimRng,
    /// Round-robin position per request kind, so kinds do not alias onto one host.
    workload_rr: [usize; 3],
    next_request: u64,
    pending: IdMap<PendingRequest>,
    /// Highest committed index whose membership side effects the world has acted on.
    conf_acted: LogIndex,
    /// Reused buffers for a member's Ready (outgoing messages, committed entries and
    /// what applying them produced), so processing a Ready does not allocate.
    outbox: Vec<Message>,
    committed_buf: Vec<(LogIndex, Entry)>,
    applied_buf: Vec<Applied>,
    outcome: RunOutcome,
    // Control plane.
    api_requests: IdMap<ApiRequest>,
    lbs: Vec<LbState>,
    /// Every fault as it was applied: when, and what.
    applied_faults: Vec<(SimTime, String)>,
    /// The control-plane nodes, in LB backend order.
    cp_hosts: Vec<HostId>,
    /// The LB that last claimed the VIP (gratuitous ARP): where VIP traffic goes.
    vip_holder: Option<u8>,
    planes: [PlaneAvailability; 4],
    /// Per plane, when each request answered OK by the end of the run was issued (in
    /// the order of the answers): whether an outage was over depends on answers given by
    /// then, not on those `settle_requests` collects after it.
    oks_by_end: [Vec<SimTime>; 4],
    failures: Vec<(SimTime, Plane, Failure)>,
    /// When each of `failures` failed (its issue time is in `failures`): which fault
    /// caused an outage depends on what happened while its requests were in flight.
    failed_at: Vec<SimTime>,
    stale_reads: u64,
    max_staleness: SimDuration,
    stale: Vec<(SimTime, HostId)>,
    /// Failed requests the LB had sent to a backend that could not serve them: when each
    /// was issued, and the backend.
    misrouted: Vec<(SimTime, HostId)>,
    client_rng: SimRng,
    leases: LeaseStore,
    /// Until this time every certificate is valid on every host's clock, so connections
    /// skip the TLS check (the hot path stays free of it). It starts where the first
    /// certificate would expire on a true clock, and drops to "now" for good as soon as
    /// a fault touches a certificate or a clock, because after that any check can fail.
    certs_checked_from: SimTime,
    spells: Vec<LeadingSpell>,
    overlaps: Vec<Overlap>,
    /// Long-lived client connections: the shared pool, then one per worker kubelet.
    conns: Vec<ClientConn>,
    /// Whose turn it is next: (shared pool, kubelets).
    conn_turns: (u32, u32),
    /// Some host is frozen or some apiserver paused: only then does dispatch look for
    /// events to hold (the hot path stays free of it otherwise).
    holding: bool,
    /// Timeline length when host states were last recorded (see `observe`).
    observed_notes: usize,
    last_states: Vec<HostState>,
    /// When host states are next recorded even without a timeline entry (state that
    /// changes silently: nginx forgetting failures, a kubelet restart).
    next_state_check: SimTime,
    /// A resumed etcd is processing its backlog: leader overlaps are judged after it.
    replaying_stash: bool,
    /// Per host, the term of its last pre-vote and how often it started one for that
    /// term (repeats are summarised on the timeline, not listed).
    prevote_repeats: BTreeMap<HostId, (Term, u32)>,
    /// The run has ended and only the requests still in flight are followed to their
    /// answers (see `settle_requests`): nothing new is issued and no fault applies.
    settling: bool,
}

impl Simulation {
    pub fn new(spec: ClusterSpec) -> Simulation {
        let n_members = spec.voters + spec.learners;
        let seed = spec.seed;
        let voters: Vec<MemberId> = (1..=spec.voters as u64).map(MemberId).collect();
        let mut bootstrap = Raft::bootstrap_durable(&voters);
        // Initial learners join through AddLearner entries after the voters.
        if spec.learners > 0 {
            let mut log = crate::model::etcd::log::RaftLog::restore_from(&bootstrap);
            for l in 0..spec.learners as u64 {
                log.append_new(
                    Term(1),
                    crate::model::etcd::message::EntryKind::Conf(ConfChange::AddLearner(MemberId(
                        spec.voters as u64 + 1 + l,
                    ))),
                );
            }
            bootstrap.entries = log.unstable_entries().1;
            bootstrap.entries = {
                let mut all = Raft::bootstrap_durable(&voters).entries;
                all.extend(bootstrap.entries.iter().skip(all.len()).copied());
                all
            };
            bootstrap.hard.commit = bootstrap.entries.len() as u64;
        }
        let layout = spec.host_layout();
        let n_lb_first = layout.iter().position(|h| h.name.starts_with("lb-")).unwrap_or(layout.len());
        let mut kubelet_rng = SimRng::new(seed, StreamId::Kubelet);
        let hosts: Vec<Host> = layout
            .into_iter()
            .enumerate()
            .map(|(i, HostSlot { name, control_plane: is_cp })| Host {
                name,
                up: true,
                disk: Disk::new(spec.disk, seed, i as u32),
                data: (i < n_members).then(|| bootstrap.clone()),
                member: (i < n_members).then(|| MemberId(i as u64 + 1)),
                etcd: None,
                incarnation: 0,
                is_control_plane: is_cp,
                apiserver: None,
                incarnation_api: 0,
                clock: crate::model::clock::Clock::default(),
                components: NodeComponents::default(),
                // kubeadm signed them when the cluster was set up, `cluster_age` before
                // the run starts (every clock agrees then).
                certs: crate::model::certs::NodeCerts::issued(
                    crate::model::clock::LocalTime(0).minus(spec.cluster_age),
                    crate::model::certs::LEAF_VALIDITY,
                ),
                api_backoff: Default::default(),
                etcd_backoff: Default::default(),
                relist_phase: SimDuration(kubelet_rng.below(crate::model::kubelet::PLEG_RELIST_PERIOD.as_micros())),
                frozen: false,
                down_since: None,
                etcd_refusing_since: None,
                etcd_refused_from: None,
                etcd_listening_since: SimTime::ZERO,
                etcd_channels_ready_at: SimTime::ZERO,
                held: Vec::new(),
            })
            .collect();
        let host_names = hosts.iter().map(|h| h.name.clone()).collect();
        let mut sim = Simulation {
            now: SimTime::ZERO,
            queue: EventQueue::with_capacity(1024),
            network: Network::new(hosts.len(), spec.link, seed),
            host_of: std::iter::once(None).chain((0..n_members).map(|i| Some(HostId(i as u32)))).collect(),
            removed: BTreeSet::new(),
            learners: (spec.voters as u64 + 1..=n_members as u64).map(MemberId).collect(),
            started: BTreeSet::new(),
            next_member: n_members as u64 + 1,
            in_flight: Vec::new(),
            free_slots: Vec::new(),
            checker: Checker::new(seed),
            fault_rng: SimRng::new(seed, StreamId::Faults),
            boot_rng: SimRng::new(seed, StreamId::Boot),
            workload_rr: [0; 3],
            next_request: 1,
            pending: IdMap::new(),
            // The bootstrap membership entries need no action from the world.
            conf_acted: n_members as LogIndex,
            outbox: Vec::new(),
            committed_buf: Vec::new(),
            applied_buf: Vec::new(),
            outcome: RunOutcome {
                seed,
                end: SimTime::ZERO,
                host_names,
                leader_history: Vec::new(),
                committed: Vec::new(),
                requests: Vec::new(),
                timeline: Vec::new(),
                violations: Vec::new(),
                stats: RunStats::default(),
                control_plane: None,
                etcd_overlaps: Vec::new(),
                states: Vec::new(),
                network: Vec::new(),
            },
            observed_notes: 0,
            last_states: Vec::new(),
            next_state_check: SimTime::ZERO,
            replaying_stash: false,
            prevote_repeats: BTreeMap::new(),
            settling: false,
            api_requests: IdMap::new(),
            lbs: Self::new_lbs(&spec, n_lb_first),
            cp_hosts: Vec::new(),
            applied_faults: Vec::new(),
            vip_holder: None,
            planes: Default::default(),
            oks_by_end: Default::default(),
            failures: Vec::new(),
            failed_at: Vec::new(),
            stale_reads: 0,
            max_staleness: SimDuration::ZERO,
            stale: Vec::new(),
            misrouted: Vec::new(),
            client_rng: SimRng::new(seed, StreamId::Workload),
            leases: LeaseStore::default(),
            certs_checked_from: SimTime::ZERO + crate::model::certs::LEAF_VALIDITY.saturating_sub(spec.cluster_age),
            spells: Vec::new(),
            overlaps: Vec::new(),
            conns: match spec.control_plane.and_then(|c| c.clients.connections.map(|n| n + c.clients.worker_nodes)) {
                Some(n) => vec![ClientConn::default(); n as usize],
                None => Vec::new(),
            },
            conn_turns: (0, 0),
            holding: false,
            hosts,
            spec,
        };
        for i in 0..n_members {
            sim.start_etcd(HostId(i as u32));
        }
        let faults = std::mem::take(&mut sim.spec.faults);
        for (i, (at, _)) in faults.iter().enumerate() {
            sim.queue.push(*at, Event::Fault(i as u32));
        }
        sim.spec.faults = faults;
        let w = sim.spec.workload;
        for (rate, kind) in [
            (w.writes_per_sec, RequestKind::Write),
            (w.linearizable_reads_per_sec, RequestKind::LinearizableRead),
            (w.serializable_reads_per_sec, RequestKind::SerializableRead),
        ] {
            if rate > 0 {
                let first = SimTime(sim.boot_rng.below(1_000_000 / u64::from(rate)));
                sim.queue.push(first, Event::Workload(kind));
            }
        }
        sim.cp_hosts =
            (0..sim.hosts.len()).filter(|&i| sim.hosts[i].is_control_plane).map(|i| HostId(i as u32)).collect();
        if let Some(cp) = sim.spec.control_plane {
            for h in sim.cp_hosts.clone() {
                sim.start_apiserver(h);
                for c in Component::ALL {
                    sim.start_component(h, c);
                }
            }
            let c = cp.clients;
            for plane in Plane::ALL {
                if let Some(period) = 1_000_000_000u64.checked_div(plane.milli_rate(&c)) {
                    let first = c.start_after + SimDuration(sim.boot_rng.below(period));
                    sim.queue.push(SimTime::ZERO + first, Event::ClientIssue(plane));
                }
            }
            for lb in 0..sim.lbs.len() as u8 {
                if let Frontend::Haproxy(cfg) = cp.frontend {
                    for server in 0..cp.nodes {
                        let phase = SimTime(sim.boot_rng.below(cfg.inter.as_micros()));
                        sim.queue.push(phase, Event::LbCheck(lb, server as u16));
                    }
                }
                sim.boot_lb(lb);
            }
        }
        sim.record_states();
        sim
    }

    pub fn now(&self) -> SimTime {
        self.now
    }

    pub fn spec(&self) -> &ClusterSpec {
        &self.spec
    }

    /// Processes every event up to and including `end`.
    pub fn run_until(&mut self, end: SimTime) {
        while let Some((t, ev)) = self.queue.pop_until(end) {
            debug_assert!(t >= self.now, "an event at {t} was due before now ({}): seed={}", self.now, self.spec.seed);
            self.now = t;
            self.handle(ev);
            if self.outcome.timeline.len() != self.observed_notes || t >= self.next_state_check {
                self.record_states();
            }
        }
        self.now = self.now.max(end);
    }

    pub fn run_for(&mut self, d: SimDuration) {
        self.run_until(self.now + d);
    }

    /// Schedules a fault at an absolute time (not before now).
    pub fn schedule(&mut self, at: SimTime, fault: Fault) {
        self.spec.faults.push((at.max(self.now), fault));
        self.queue.push(at.max(self.now), Event::Fault(self.spec.faults.len() as u32 - 1));
    }

    /// Applies a fault right now.
    pub fn inject(&mut self, fault: Fault) {
        self.apply_fault(fault);
    }

    /// Sends one client request to the etcd member on `host` now; returns its id.
    pub fn request(&mut self, host: HostId, kind: RequestKind) -> u64 {
        let id = self.register_request(host, kind, None);
        self.deliver_request(id);
        id
    }

    /// Records an etcd request to the member on `host`, with its 7 s deadline; it is
    /// delivered separately. Inlined into the apiserver's `etcd_call`, which makes
    /// nearly all of them.
    #[inline(always)]
    fn register_request(&mut self, host: HostId, kind: RequestKind, origin: Option<Origin>) -> u64 {
        let id = self.next_request;
        self.next_request += 1;
        let record = self.outcome.requests.len();
        self.outcome.requests.push(RequestRecord { id, kind, host, issued: self.now, finished: None, result: None });
        let lead = self.hosts[host.index()].etcd.as_ref().and_then(|p| p.server.raft.lead);
        self.pending.insert(
            id,
            PendingRequest {
                kind,
                host,
                lead_at_issue: lead,
                record,
                origin,
                lost: false,
                at_handler_cap: false,
                received_by: None,
                taken_late: None,
                parked: false,
                answered: false,
            },
        );
        self.queue.push_in_order(LANE_ETCD_DEADLINE, self.now + self.spec.etcd.request_timeout(), Event::Deadline(id));
        id
    }

    pub fn request_result(&self, id: u64) -> Option<Result<LogIndex, RequestError>> {
        self.outcome.requests.iter().find(|r| r.id == id).and_then(|r| r.result)
    }

    pub fn host_count(&self) -> usize {
        self.hosts.len()
    }

    pub fn host_name(&self, h: HostId) -> &str {
        &self.hosts[h.index()].name
    }

    /// The etcd server running on `host`, if any.
    pub fn server(&self, host: HostId) -> Option<&EtcdServer> {
        self.hosts[host.index()].etcd.as_ref().map(|p| &p.server)
    }

    /// The running member that believes it leads, with the highest term if several do.
    pub fn leader(&self) -> Option<(HostId, MemberId, Term)> {
        self.hosts
            .iter()
            .enumerate()
            .filter_map(|(i, h)| h.etcd.as_ref().map(|p| (i, p)))
            .filter(|(_, p)| p.server.raft.role == Role::Leader)
            .map(|(i, p)| (HostId(i as u32), p.server.id(), p.server.raft.term))
            .max_by_key(|(_, _, t)| *t)
    }

    /// Every running member that believes it leads right now.
    pub fn leaders(&self) -> Vec<(HostId, Term)> {
        self.running().filter(|(_, s)| s.raft.role == Role::Leader).map(|(h, s)| (h, s.raft.term)).collect()
    }

    /// Highest commit index any running member knows.
    pub fn max_commit(&self) -> LogIndex {
        self.running().map(|(_, s)| s.raft.log.committed).max().unwrap_or(0)
    }

    pub fn running(&self) -> impl Iterator<Item = (HostId, &EtcdServer)> {
        self.hosts.iter().enumerate().filter_map(|(i, h)| h.etcd.as_ref().map(|p| (HostId(i as u32), &p.server)))
    }

    pub fn is_paused(&self, host: HostId) -> bool {
        self.hosts[host.index()].etcd.as_ref().is_some_and(|p| p.paused)
    }

    pub fn violations(&self) -> &[Violation] {
        self.checker.violations()
    }

    pub fn timeline(&self) -> &[TimelineEntry] {
        &self.outcome.timeline
    }

    pub fn leader_history(&self) -> &[LeaderTerm] {
        &self.outcome.leader_history
    }

    pub fn stats(&self) -> RunStats {
        RunStats { events: self.queue.processed(), ..self.outcome.stats }
    }

    /// Ends the run: the requests still waiting get their answers, the final safety
    /// checks run, then the outcome.
    pub fn finish(mut self) -> RunOutcome {
        let events = self.queue.processed();
        // Writes acknowledged while the last answers come in are checked too: the
        // checks see the logs as settling left them, and date what they find at the end.
        self.settle_requests();
        self.check_log_matching();
        let now = self.now;
        let holders: Vec<(MemberId, Holder<'_>)> = self
            .hosts
            .iter()
            .filter_map(|h| {
                let m = h.member?;
                match (&h.etcd, &h.data) {
                    (Some(p), _) => Some((m, Holder::Live(&p.server.raft.log))),
                    (None, Some(d)) => Some((m, Holder::Durable(d))),
                    _ => None,
                }
            })
            .collect();
        self.checker.check_durability(now, &holders);
        let control_plane = self.control_plane_report();
        let mut out = self.outcome;
        out.control_plane = control_plane;
        out.end = now;
        out.stats.events = events;
        out.committed = self.checker.committed().to_vec();
        out.violations = self.checker.violations().to_vec();
        out
    }

    /// Follows the client requests still waiting for an answer when the run ends until
    /// each has one (by the longer of the client and etcd request timeouts, plus 1 s
    /// for the last answer to travel), so that every request issued
    /// during the run counts by how it ended. Without this, a run ending in an outage
    /// would leave its last timeout's worth of failures uncounted, and the outage would
    /// seem to end that much early.
    ///
    /// The world keeps going meanwhile (a leader may be elected, an LB may mark a
    /// backend down, and the answers depend on it), but the report covers the run up to
    /// its end: no new request is issued, no fault scheduled later applies, and the
    /// timeline, host states, leader history, split-brain windows, stale reads, etcd
    /// request records and counters are put back as they were at the end (the counters
    /// add the answers to the requests that were waiting). The committed log is not
    /// cut back: a write acknowledged meanwhile must be in it. The safety checker keeps
    /// watching.
    fn settle_requests(&mut self) {
        if !self.requests_in_flight() {
            return;
        }
        let end = self.now;
        let timeline = self.outcome.timeline.len();
        let states = self.outcome.states.len();
        let network = self.outcome.network.len();
        let leader_history = self.outcome.leader_history.len();
        let requests = self.outcome.requests.len();
        let waiting: Vec<usize> = self.pending.iter().map(|(_, r)| r.record).collect();
        let etcd_overlaps = self.outcome.etcd_overlaps.clone();
        let stats = self.outcome.stats;
        let spells = self.spells.clone();
        let overlaps = self.overlaps.clone();
        let stale = (self.stale_reads, self.max_staleness, self.stale.len());
        let client_timeout = self.cp().map_or(SimDuration::ZERO, |c| c.clients.timeout);
        // Every client request, and every direct client's etcd call, has a deadline no
        // later than this (a retry keeps its request's). An apiserver's etcd call may
        // wait longer, for its handler's cap: its record may be left unfinished.
        let last_deadline = end + client_timeout.max(self.spec.etcd.request_timeout()) + SimDuration::from_secs(1);
        self.settling = true;
        while self.requests_in_flight()
            && let Some((t, ev)) = self.queue.pop_until(last_deadline)
        {
            debug_assert!(t >= self.now, "an event at {t} was due before now ({}): seed={}", self.now, self.spec.seed);
            self.now = t;
            self.handle(ev);
        }
        self.settling = false;
        self.outcome.timeline.truncate(timeline);
        self.outcome.states.truncate(states);
        self.outcome.network.truncate(network);
        self.outcome.leader_history.truncate(leader_history);
        self.outcome.etcd_overlaps = etcd_overlaps;
        self.spells = spells;
        self.overlaps = overlaps;
        // A cache read served after the end is counted by its answer (among the cache
        // reads' `ok`), but how stale it was describes a moment outside the run, so it
        // is not among the stale reads.
        (self.stale_reads, self.max_staleness) = (stale.0, stale.1);
        self.stale.truncate(stale.2);
        // The etcd requests are those issued during the run (readiness checks and
        // electors keep calling meanwhile), and the counters add only the answers to
        // the ones that were waiting at the end.
        self.outcome.requests.truncate(requests);
        self.outcome.stats = stats;
        for r in waiting {
            let rec = self.outcome.requests[r];
            if let Some(result) = rec.result {
                self.outcome.stats.count_answer(rec.kind, result.is_ok());
            }
        }
        self.now = end;
    }

    /// Some client request (through the control plane, or straight to etcd from the
    /// built-in workload) has no answer yet.
    fn requests_in_flight(&self) -> bool {
        !self.api_requests.is_empty() || self.pending.iter().any(|(_, r)| r.origin.is_none())
    }

    /// The event loop's dispatch: every event goes to the part of the world it concerns.
    fn handle(&mut self, ev: Event) {
        if self.holding
            && let Some(host) = self.held_by(&ev)
        {
            self.hosts[host.index()].held.push(ev);
            return;
        }
        match ev {
            Event::Tick(host, inc) => self.on_tick(host, inc),
            Event::Deliver(slot) => self.on_deliver(slot),
            Event::DiskDone(host, inc) => {
                let Some(p) = self.process_mut(host, inc) else { return };
                if p.paused {
                    p.stash.push(Stashed::DiskDone);
                } else {
                    self.complete_write(host);
                }
            }
            Event::Fault(_) | Event::Workload(_) | Event::ClientIssue(_) if self.settling => {}
            Event::Fault(i) => {
                let fault = self.spec.faults[i as usize].1.clone();
                self.apply_fault(fault);
            }
            Event::Workload(kind) => self.on_workload(kind),
            Event::Deadline(id) => self.on_deadline(id),
            Event::HandlerCap(id) => self.on_handler_cap(id),
            Event::ApiChannelReady(host, inc) => self.on_api_channel_ready(host, inc),
            Event::StopProcess(host, inc) => {
                if self.process_mut(host, inc).is_some() {
                    self.stop_now(host);
                }
            }
            Event::EtcdClientsClosed(host, inc) => {
                if self.process_mut(host, inc).is_some() {
                    self.stop_raft(host);
                }
            }
            Event::EtcdCallArrive(id) => self.deliver_request(id),
            Event::EtcdCallReply(id, result) => {
                self.finish_request(id, result);
            }
            Event::ApiCheckTick(host, inc) => self.on_api_check_tick(host, inc),
            Event::ClientIssue(plane) => self.on_client_issue(plane),
            Event::ClientSend(id) => self.send_attempt(id),
            Event::ClientRetryAfter(id) => self.on_client_retry_after(id),
            Event::ClientTimeout(id) => self.on_client_timeout(id),
            Event::ClientReply(id, reply) => self.on_client_reply(id, reply),
            Event::LbArrive(id, lb) => self.on_lb_arrive(id, lb),
            Event::LbForward(id, lb) => self.on_lb_forward(id, lb),
            Event::LbRetry(id, backend) => self.on_lb_retry(id, backend),
            Event::LbNext(id, failed, tried_all) => self.on_lb_next(id, failed, tried_all),
            Event::LbGiveUp(id, failure) => self.on_lb_give_up(id, failure),
            Event::LbRelay(id, lb, reply) => self.on_lb_relay(id, lb, reply),
            Event::LbCheck(lb, server) => self.on_lb_check(lb, server as usize),
            Event::LbCheckDone(lb, server, result, epoch) => self.on_lb_check_done(lb, server as usize, result, epoch),
            Event::VrrpTimer(lb, generation, token) => self.on_vrrp_timer(lb, generation, token),
            Event::VrrpAdvert(lb, priority, rank) => self.on_vrrp_advert(lb, priority, rank),
            Event::VrrpScript(lb, generation) => self.on_vrrp_script(lb, generation),
            Event::VrrpScriptStep(lb, run, step) => self.on_vrrp_script_step(lb, run, step),
            Event::ApiArrive(id, host) => self.on_api_arrive(id, host),
            Event::LivenessProbe(host, inc) => self.on_liveness_probe(host, inc),
            Event::LivenessProbeTimeout(host, inc, sent) => self.on_liveness_probe_timeout(host, inc, sent),
            Event::ApiserverSigkill(host, inc) => self.on_apiserver_sigkill(host, inc),
            Event::ProbesFailed(host, process, inc, since) => self.on_probes_failed(host, process, inc, since),
            Event::ProbedSigkill(host, process, inc) => self.on_probed_sigkill(host, process, inc),
            Event::ApiserverRestart(host, inc, delayed) => self.on_apiserver_restart(host, inc, delayed),
            Event::EtcdRestart(host, inc, delayed) => self.on_etcd_restart(host, inc, delayed),
            Event::ElectorTimer(host, c, inc, token) => self.on_elector_timer(host, c, inc, token),
            Event::ElectorCallTimeout(host, c, inc, seq) => self.on_elector_call_timeout(host, c, inc, seq),
            Event::ComponentRestart(host, c, inc, delayed) => self.on_component_restart(host, c, inc, delayed),
        }
    }

    /// The host whose frozen part must hold `ev` until it resumes, if any: a frozen
    /// host holds everything for its apiserver, kubelet and LB (etcd and the elected
    /// components keep their own stash); a paused apiserver holds what is for it, and a
    /// paused HAProxy (or nginx) what is for it, while keepalived beside it goes on.
    fn held_by(&self, ev: &Event) -> Option<HostId> {
        /// What must be frozen, besides the whole host, for an event to wait.
        enum Part {
            Apiserver,
            Proxy(u8),
            HostOnly,
        }
        let (host, part) = match *ev {
            Event::ApiArrive(_, h) | Event::ApiCheckTick(h, _) => (h, Part::Apiserver),
            Event::EtcdCallReply(id, _) | Event::Deadline(id) | Event::HandlerCap(id) => {
                match self.pending.get(&id)?.origin? {
                    Origin::Api { apiserver, .. } | Origin::Check { apiserver } | Origin::Lease { apiserver, .. } => {
                        (apiserver, Part::Apiserver)
                    }
                }
            }
            Event::LivenessProbe(h, _)
            | Event::LivenessProbeTimeout(h, ..)
            | Event::ApiserverSigkill(h, _)
            | Event::ProbesFailed(h, ..)
            | Event::ProbedSigkill(h, ..)
            | Event::ApiserverRestart(h, ..)
            | Event::EtcdRestart(h, ..)
            | Event::ComponentRestart(h, ..) => (h, Part::HostOnly),
            Event::LbArrive(_, lb)
            | Event::LbForward(_, lb)
            | Event::LbRelay(_, lb, _)
            | Event::LbCheck(lb, _)
            | Event::LbCheckDone(lb, ..) => (self.lbs[lb as usize].host, Part::Proxy(lb)),
            // keepalived is a process of its own: a frozen HAProxy does not stop it.
            Event::VrrpTimer(lb, ..)
            | Event::VrrpAdvert(lb, ..)
            | Event::VrrpScript(lb, _)
            | Event::VrrpScriptStep(lb, _, ScriptStep::TimedOut) => (self.lbs[lb as usize].host, Part::HostOnly),
            // A frozen apiserver answers the script once it resumes.
            Event::VrrpScriptStep(_, _, ScriptStep::Answer { server, .. }) => {
                (self.cp_hosts[server as usize], Part::Apiserver)
            }
            // HAProxy's retries wait in it while it is frozen.
            Event::VrrpScriptStep(lb, ..) => (self.lbs[lb as usize].host, Part::Proxy(lb)),
            Event::LbRetry(id, _) | Event::LbNext(id, ..) | Event::LbGiveUp(id, _) => {
                let host = self.request_front(id);
                match self.lb_index_of(host) {
                    Some(lb) => (host, Part::Proxy(lb)),
                    None => (host, Part::HostOnly),
                }
            }
            _ => return None,
        };
        let h = &self.hosts[host.index()];
        let part_frozen = match part {
            Part::Apiserver => h.apiserver.as_ref().is_some_and(|a| a.paused),
            Part::Proxy(lb) => self.proxy_frozen(lb),
            Part::HostOnly => false,
        };
        (h.frozen || part_frozen).then_some(host)
    }

    pub(super) fn update_holding(&mut self) {
        self.holding = self.hosts.iter().any(|h| h.frozen || h.apiserver.as_ref().is_some_and(|a| a.paused))
            || self.lbs.iter().any(|l| l.proxy_frozen);
    }

    /// Puts the events a host held back into the queue, in order, to run now; those
    /// still blocked are held again.
    pub(super) fn release_held(&mut self, host: HostId) {
        for ev in std::mem::take(&mut self.hosts[host.index()].held) {
            self.queue.push(self.now, ev);
        }
    }

    // ------------------------------------------------------------------- helpers

    fn note(&mut self, kind: EventKind, host: Option<HostId>, text: String) {
        self.outcome.timeline.push(TimelineEntry { at: self.now, host, kind, text });
    }

    fn hb(&self) -> SimDuration {
        self.spec.etcd.heartbeat_interval
    }

    fn start_etcd(&mut self, host: HostId) {
        let now = self.now;
        let hb = self.hb();
        let seed = self.spec.seed;
        let settings = self.spec.etcd;
        let h = &mut self.hosts[host.index()];
        let Some(member) = h.member else { return };
        if h.etcd.is_some() || !h.up || self.removed.contains(&member) {
            return;
        }
        let data = h.data.get_or_insert_with(DurableState::default);
        h.incarnation += 1;
        let server = EtcdServer::start(member, settings, data, seed ^ u64::from(h.incarnation) << 48, now);
        h.etcd = Some(EtcdProcess {
            server,
            incarnation: h.incarnation,
            paused: false,
            stash: Vec::new(),
            tick_pending: false,
            writing: None,
            held: Vec::new(),
            stopping_for: None,
            after_stop: AfterStop::Exit,
            clients_closed: false,
            hang: crate::model::kubelet::HangProbe::new(now, now == SimTime::ZERO),
            sigterm_waiting: false,
        });
        self.started.insert(member);
        h.etcd_listening_since = now;
        h.etcd_refused_from = h.etcd_refusing_since.take();
        h.etcd_channels_ready_at = h.etcd_refused_from.map_or(now, |since| control_plane::grpc_reconnect(since, now));
        let phase = self.boot_rng.below(hb.as_micros());
        let inc = h.incarnation;
        self.queue.push(now + SimDuration(phase), Event::Tick(host, inc));
        self.drive(host);
        // Calls that wait for a ready channel may find one to this member.
        for i in 0..self.cp_hosts.len() {
            self.wake_when_a_channel_is_ready(self.cp_hosts[i]);
        }
    }

    fn process_mut(&mut self, host: HostId, inc: u32) -> Option<&mut EtcdProcess> {
        self.hosts[host.index()].etcd.as_mut().filter(|p| p.incarnation == inc)
    }

    fn check_log_matching(&mut self) {
        let now = self.now;
        let logs: Vec<(MemberId, &crate::model::etcd::log::RaftLog)> =
            self.hosts.iter().filter_map(|h| h.etcd.as_ref()).map(|p| (p.server.id(), &p.server.raft.log)).collect();
        self.checker.check_log_matching(now, &logs);
    }
}
