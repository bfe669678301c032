//! An etcd cluster on simulated hosts: the builder API, the event loop that drives the
//! members, and what a run leaves behind (leader history, committed log, client
//! outcomes, invariant violations).
//!
//! The loop mirrors etcd's raftNode: a member's Ready is processed only when its
//! previous fsync is done; a leader sends its messages before its own fsync, followers
//! after theirs; a tick that fires while the loop is busy (or the process frozen) is
//! kept, but only one, like Go's time.Ticker.

use std::collections::{BTreeMap, BTreeSet};

use crate::check::{Checker, CommittedEntry, Holder, Violation};
use crate::engine::{Delivery, Disk, DiskProfile, EventQueue, LinkProfile, Network, SimRng, StreamId};
use crate::fault::{Fault, Target};
use crate::ids::{HostId, LogIndex, MemberId, ReadId, Term, WriteId};
use crate::model::etcd::log::{DurableState, WriteBatch};
use crate::model::etcd::message::{Body, ConfChange, Entry, Message};
use crate::model::etcd::raft::ProposalError;
use crate::model::etcd::raft::{Raft, RaftEvent, Role};
use crate::model::etcd::{Applied, EtcdServer, EtcdSettings, MemberChange, ServerError};
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
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
}

impl From<ServerError> for RequestError {
    fn from(e: ServerError) -> Self {
        match e {
            ServerError::ProposalDropped => RequestError::ProposalDropped,
            ServerError::LeaderChanged => RequestError::LeaderChanged,
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
    pub text: String,
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

/// What a run leaves behind.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    pub seed: u64,
    pub end: SimTime,
    pub host_names: Vec<String>,
    pub leader_history: Vec<LeaderTerm>,
    pub committed: Vec<CommittedEntry>,
    pub requests: Vec<RequestRecord>,
    pub timeline: Vec<TimelineEntry>,
    pub violations: Vec<Violation>,
    pub stats: RunStats,
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
    Deadline(u64),
    /// Stop after a graceful-stop transfer finished or timed out, or after removal.
    StopProcess(HostId, u32),
}

/// Events that reach a frozen process wait here until it resumes.
#[derive(Clone, Copy, Debug)]
enum Stashed {
    Deliver(u32),
    DiskDone,
    Request(u64),
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
}

pub struct Simulation {
    spec: ClusterSpec,
    now: SimTime,
    queue: EventQueue<Event>,
    hosts: Vec<Host>,
    network: Network,
    /// Host of each member id (ids are small and dense), None for unknown ids.
    host_of: Vec<Option<HostId>>,
    removed: BTreeSet<MemberId>,
    /// Members that joined as learners and were not promoted yet.
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
    pending: BTreeMap<u64, PendingRequest>,
    /// Highest committed index whose membership side effects the world has acted on.
    conf_acted: LogIndex,
    /// Reused buffers for a member's Ready (outgoing messages, committed entries and
    /// what applying them produced), so processing a Ready does not allocate.
    outbox: Vec<Message>,
    committed_buf: Vec<(LogIndex, Entry)>,
    applied_buf: Vec<Applied>,
    outcome: RunOutcome,
}

impl Simulation {
    pub fn new(spec: ClusterSpec) -> Simulation {
        let n_members = spec.voters + spec.learners;
        let n_hosts = n_members + spec.spare_hosts;
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
        let hosts: Vec<Host> = (0..n_hosts)
            .map(|i| Host {
                name: format!("etcd-{}", i + 1),
                up: true,
                disk: Disk::new(spec.disk, seed, i as u32),
                data: (i < n_members).then(|| bootstrap.clone()),
                member: (i < n_members).then(|| MemberId(i as u64 + 1)),
                etcd: None,
                incarnation: 0,
            })
            .collect();
        let host_names = hosts.iter().map(|h| h.name.clone()).collect();
        let mut sim = Simulation {
            now: SimTime::ZERO,
            queue: EventQueue::with_capacity(1024),
            network: Network::new(n_hosts, spec.link, seed),
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
            pending: BTreeMap::new(),
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
            },
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
        while let Some(t) = self.queue.peek_time() {
            if t > end {
                break;
            }
            let (t, ev) = self.queue.pop().expect("peeked");
            self.now = t;
            self.handle(ev);
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
        let id = self.next_request;
        self.next_request += 1;
        let record = self.outcome.requests.len();
        self.outcome.requests.push(RequestRecord { id, kind, host, issued: self.now, finished: None, result: None });
        let lead = self.hosts[host.index()].etcd.as_ref().and_then(|p| p.server.raft.lead);
        self.pending.insert(id, PendingRequest { kind, host, lead_at_issue: lead, record });
        self.queue.push_in_order(self.now + self.spec.etcd.request_timeout(), Event::Deadline(id));
        self.deliver_request(id);
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

    /// Ends the run: final safety checks, then the outcome.
    pub fn finish(mut self) -> RunOutcome {
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
        let mut out = self.outcome;
        out.end = self.now;
        out.stats.events = self.queue.processed();
        out.committed = self.checker.committed().to_vec();
        out.violations = self.checker.violations().to_vec();
        out
    }

    // ------------------------------------------------------------------- helpers

    fn note(&mut self, host: Option<HostId>, text: String) {
        self.outcome.timeline.push(TimelineEntry { at: self.now, host, text });
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
        });
        self.started.insert(member);
        let phase = self.boot_rng.below(hb.as_micros());
        let inc = h.incarnation;
        self.queue.push(now + SimDuration(phase), Event::Tick(host, inc));
        self.drive(host);
    }

    fn process_mut(&mut self, host: HostId, inc: u32) -> Option<&mut EtcdProcess> {
        self.hosts[host.index()].etcd.as_mut().filter(|p| p.incarnation == inc)
    }

    // ---------------------------------------------------------------- event loop

    fn handle(&mut self, ev: Event) {
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
            Event::Fault(i) => {
                let fault = self.spec.faults[i as usize].1.clone();
                self.apply_fault(fault);
            }
            Event::Workload(kind) => self.on_workload(kind),
            Event::Deadline(id) => self.on_deadline(id),
            Event::StopProcess(host, inc) => {
                if self.process_mut(host, inc).is_some() {
                    self.stop_now(host);
                }
            }
        }
    }

    fn on_tick(&mut self, host: HostId, inc: u32) {
        let next = self.now + self.hb();
        let Some(p) = self.process_mut(host, inc) else { return };
        if p.paused || p.writing.is_some() {
            p.tick_pending = true;
        } else {
            p.server.raft.tick();
        }
        self.queue.push(next, Event::Tick(host, inc));
        self.after_step(host);
    }

    fn on_deliver(&mut self, slot: u32) {
        let Some(f) = self.in_flight[slot as usize].as_ref() else { return };
        let (to_host, to_inc, from_host) = (f.to_host, f.to_incarnation, f.from_host);
        let live = self.network.can_reach(from_host, to_host)
            && self.hosts[to_host.index()].etcd.as_ref().is_some_and(|p| p.incarnation == to_inc);
        if !live {
            self.release_slot(slot);
            self.outcome.stats.messages_dropped += 1;
            return;
        }
        let p = self.hosts[to_host.index()].etcd.as_mut().expect("checked live");
        if p.paused {
            p.stash.push(Stashed::Deliver(slot));
            return;
        }
        let msg = self.release_slot(slot);
        self.step_message(to_host, msg);
    }

    fn release_slot(&mut self, slot: u32) -> Message {
        self.free_slots.push(slot);
        self.in_flight[slot as usize].take().expect("slot in use").msg
    }

    fn step_message(&mut self, host: HostId, msg: Message) {
        let now = self.now;
        let Some(p) = self.hosts[host.index()].etcd.as_mut() else { return };
        if p.server.knows_removed(msg.from) {
            // etcd's transport rejects streams from members it saw removed.
            return;
        }
        p.server.heard_from(msg.from, now);
        if let Err(lost) = p.server.raft.step(msg) {
            let text = format!(
                "etcd on {} crashed: commit index {} is beyond its last log index {} (raft: \"Was the raft log corrupted, truncated, or lost?\")",
                self.hosts[host.index()].name,
                lost.to_commit,
                lost.last_index
            );
            self.note(Some(host), text);
            self.crash_process(host);
            return;
        }
        self.after_step(host);
    }

    /// After raft moved: record what it did, then process its Ready if possible.
    fn after_step(&mut self, host: HostId) {
        let now = self.now;
        let Some(p) = self.hosts[host.index()].etcd.as_mut() else { return };
        let mut notices = std::mem::take(&mut self.applied_buf);
        p.server.poll(now, &mut notices);
        for a in notices.drain(..) {
            self.on_applied(host, a);
        }
        self.applied_buf = notices;
        let Some(p) = self.hosts[host.index()].etcd.as_mut() else { return };
        let events = std::mem::take(&mut p.server.raft.events);
        if !events.is_empty() {
            self.record_raft_events(host, events);
        }
        self.drive(host);
        self.check_stopping(host);
    }

    fn record_raft_events(&mut self, host: HostId, events: Vec<RaftEvent>) {
        let name = self.hosts[host.index()].name.clone();
        let et = self.spec.etcd.election_timeout;
        let hb = self.hb();
        for ev in events {
            let text = match ev {
                RaftEvent::CampaignStarted { pre, term, transfer, waited_ticks } => {
                    self.outcome.stats.campaigns += 1;
                    let why = if transfer {
                        "the leader handed leadership over (MsgTimeoutNow)".to_string()
                    } else if waited_ticks == 0 {
                        "it won the pre-vote".to_string()
                    } else {
                        format!(
                            "heard no leader for {}, its randomised election timeout (base {et})",
                            hb.saturating_mul(u64::from(waited_ticks)),
                        )
                    };
                    if pre {
                        format!("{name} started a pre-vote for term {term}: {why}")
                    } else {
                        format!("{name} started an election in term {term}: {why}")
                    }
                }
                RaftEvent::BecameLeader { term, votes } => {
                    let p = self.hosts[host.index()].etcd.as_ref().expect("running");
                    let member = p.server.id();
                    self.outcome.leader_history.push(LeaderTerm { at: self.now, host, member, term });
                    let now = self.now;
                    self.checker.on_leader(now, member, term, &p.server.raft.log);
                    self.check_log_matching();
                    format!("{name} became leader of term {term} with {votes} vote(s)")
                }
                RaftEvent::SteppedDownNoQuorum { term, active, quorum } => format!(
                    "{name} stepped down as leader of term {term}: CheckQuorum heard from only {active} of the {quorum} members it needs"
                ),
                RaftEvent::TermRaised { from, old, new, msg } => {
                    let from_name = self.member_name(from);
                    format!("{name} moved from term {old} to {new}: {msg} from {from_name} carried a higher term")
                }
                RaftEvent::LostElection { pre, term } => {
                    format!("{name} lost the {} for term {term}", if pre { "pre-vote" } else { "election" })
                }
                RaftEvent::LeaderTransferStarted { to } => {
                    format!("{name} started handing leadership to {}", self.member_name(to))
                }
                RaftEvent::LeaderTransferAborted { to } => {
                    format!("{name} gave up handing leadership to {}", self.member_name(to))
                }
            };
            self.note(Some(host), text);
        }
    }

    fn host_of(&self, m: MemberId) -> Option<HostId> {
        self.host_of.get(m.0 as usize).copied().flatten()
    }

    fn member_name(&self, m: MemberId) -> String {
        self.host_of(m).map_or_else(|| m.to_string(), |h| self.hosts[h.index()].name.clone())
    }

    /// Processes a member's Ready unless its loop is blocked on an fsync or frozen.
    fn drive(&mut self, host: HostId) {
        let now = self.now;
        let Some(p) = self.hosts[host.index()].etcd.as_mut() else { return };
        if p.paused || p.writing.is_some() {
            return;
        }
        let mut applied = std::mem::take(&mut self.applied_buf);
        let mut committed = std::mem::take(&mut self.committed_buf);
        p.server.apply(&mut committed, &mut applied);
        let member = p.server.id();
        for (i, e) in committed.drain(..) {
            self.checker.on_apply(now, member, i, &e);
        }
        self.committed_buf = committed;
        let p = self.hosts[host.index()].etcd.as_mut().expect("running");
        if let Some(snap) = p.server.maybe_snapshot()
            && let Some(d) = self.hosts[host.index()].data.as_mut()
        {
            d.compact(&snap);
        }
        for a in applied.drain(..) {
            self.on_applied(host, a);
        }
        self.applied_buf = applied;
        let Some(p) = self.hosts[host.index()].etcd.as_mut() else { return };
        let mut msgs = std::mem::take(&mut self.outbox);
        std::mem::swap(&mut msgs, &mut p.server.raft.msgs);
        let batch = p.server.raft.take_write();
        match batch {
            Some(batch) => {
                let leader = p.server.raft.is_leader();
                p.writing = Some(batch);
                let inc = p.incarnation;
                if leader {
                    self.send_all(host, &mut msgs);
                } else {
                    p.held.append(&mut msgs);
                }
                let done = self.hosts[host.index()].disk.fsync(now);
                self.outcome.stats.fsyncs += 1;
                self.queue.push(done, Event::DiskDone(host, inc));
            }
            None => self.send_all(host, &mut msgs),
        }
        self.outbox = msgs;
    }

    fn complete_write(&mut self, host: HostId) {
        let h = &mut self.hosts[host.index()];
        let p = h.etcd.as_mut().expect("caller checked");
        let batch = p.writing.take().expect("a write was in flight");
        h.data.get_or_insert_with(DurableState::default).apply(&batch);
        p.server.raft.on_persisted(&batch);
        let mut held = std::mem::take(&mut self.outbox);
        std::mem::swap(&mut held, &mut p.held);
        if std::mem::take(&mut p.tick_pending) {
            p.server.raft.tick();
        }
        self.send_all(host, &mut held);
        self.outbox = held;
        self.after_step(host);
    }

    /// Sends and empties `msgs` (keeping its capacity for reuse).
    fn send_all(&mut self, from_host: HostId, msgs: &mut Vec<Message>) {
        for m in msgs.drain(..) {
            self.send(from_host, m);
        }
    }

    fn send(&mut self, from_host: HostId, msg: Message) {
        self.outcome.stats.messages_sent += 1;
        let sender_knows_removed =
            self.hosts[from_host.index()].etcd.as_ref().is_some_and(|p| p.server.knows_removed(msg.to));
        let target = self.host_of(msg.to).filter(|_| !sender_knows_removed);
        let Some(to_host) = target else {
            self.outcome.stats.messages_dropped += 1;
            return;
        };
        let to_inc = self.hosts[to_host.index()].incarnation;
        let target_down = self.hosts[to_host.index()].etcd.is_none();
        match self.network.send(self.now, from_host, to_host) {
            Delivery::At(at) if !target_down => {
                let slot = match self.free_slots.pop() {
                    Some(s) => s,
                    None => {
                        self.in_flight.push(None);
                        (self.in_flight.len() - 1) as u32
                    }
                };
                self.in_flight[slot as usize] = Some(InFlight { from_host, to_host, to_incarnation: to_inc, msg });
                self.queue.push(at, Event::Deliver(slot));
            }
            outcome => {
                self.outcome.stats.messages_dropped += 1;
                // The transport notices a broken stream (or a dead peer) and tells raft.
                let unreachable = outcome == Delivery::Unreachable || target_down;
                if let Some(p) = self.hosts[from_host.index()].etcd.as_mut() {
                    if matches!(msg.body, Body::Snapshot { .. }) {
                        p.server.raft.report_snapshot_failed(msg.to);
                    } else if unreachable {
                        p.server.raft.report_unreachable(msg.to);
                    }
                }
            }
        }
    }

    fn on_applied(&mut self, host: HostId, a: Applied) {
        match a {
            Applied::WriteDone(w, index) => {
                let now = self.now;
                if self.finish_request(w.0, Ok(index)) {
                    self.checker.on_ack(now, w, index);
                }
            }
            Applied::ReadDone(r, index) => {
                self.finish_request(r.0, Ok(index));
            }
            Applied::WriteFailed(w, e) => {
                self.finish_request(w.0, Err(e.into()));
            }
            Applied::ReadFailed(r, e) => {
                self.finish_request(r.0, Err(e.into()));
            }
            Applied::Conf(cc, index) => {
                if index <= self.conf_acted {
                    return;
                }
                self.conf_acted = index;
                self.act_on_conf_change(host, cc);
            }
        }
    }

    /// The world's side of a membership change, once the cluster committed it: start
    /// an added member's etcd, stop a removed one.
    fn act_on_conf_change(&mut self, via: HostId, cc: ConfChange) {
        let via_name = self.hosts[via.index()].name.clone();
        match cc {
            ConfChange::AddVoter(m) | ConfChange::AddLearner(m) => {
                let Some(host) = self.host_of(m) else { return };
                let learner = matches!(cc, ConfChange::AddLearner(_));
                let kind = if learner { "learner" } else { "voter" };
                let promoted = !learner && self.learners.remove(&m);
                if learner {
                    self.learners.insert(m);
                }
                let text = if promoted {
                    format!(
                        "{} was promoted to voter (committed, seen first by {via_name})",
                        self.hosts[host.index()].name
                    )
                } else {
                    format!(
                        "{} joined as a new {kind} ({m}); etcd starts there with an empty data directory",
                        self.hosts[host.index()].name
                    )
                };
                self.note(Some(host), text);
                if !promoted {
                    // The operator starts etcd on the new member's host.
                    self.hosts[host.index()].up = true;
                    self.start_etcd(host);
                }
            }
            ConfChange::Remove(m) => {
                self.removed.insert(m);
                let Some(host) = self.host_of(m) else { return };
                let text = format!(
                    "{} ({m}) was removed from the cluster; its etcd stops in 1s (\"the member has been permanently removed\")",
                    self.hosts[host.index()].name
                );
                self.note(Some(host), text);
                if let Some(p) = self.hosts[host.index()].etcd.as_ref().filter(|p| p.server.id() == m) {
                    let inc = p.incarnation;
                    self.queue.push(self.now + SimDuration::from_secs(1), Event::StopProcess(host, inc));
                }
            }
        }
    }

    // ------------------------------------------------------------------- clients

    fn on_workload(&mut self, kind: RequestKind) {
        let w = self.spec.workload;
        let rate = match kind {
            RequestKind::Write => w.writes_per_sec,
            RequestKind::LinearizableRead => w.linearizable_reads_per_sec,
            RequestKind::SerializableRead => w.serializable_reads_per_sec,
        };
        let period = 1_000_000 / u64::from(rate.max(1));
        self.queue.push(self.now + SimDuration(period), Event::Workload(kind));
        let is_member = |h: &Host| h.member.is_some_and(|m| !self.removed.contains(&m));
        let count = self.hosts.iter().filter(|h| is_member(h)).count();
        if count == 0 {
            return;
        }
        let rr = &mut self.workload_rr[kind as usize];
        *rr = (*rr + 1) % count;
        let nth = *rr;
        let target =
            self.hosts.iter().enumerate().filter(|(_, h)| is_member(h)).nth(nth).map(|(i, _)| HostId(i as u32));
        if let Some(target) = target {
            self.request(target, kind);
        }
    }

    fn deliver_request(&mut self, id: u64) {
        let Some(req) = self.pending.get(&id) else { return };
        let (host, kind) = (req.host, req.kind);
        let Some(p) = self.hosts[host.index()].etcd.as_mut() else {
            self.finish_request(id, Err(RequestError::Unavailable));
            return;
        };
        if p.paused {
            p.stash.push(Stashed::Request(id));
            return;
        }
        match kind {
            RequestKind::Write => {
                let mut out = Vec::new();
                p.server.propose_write(WriteId(id), &mut out);
                for a in out {
                    self.on_applied(host, a);
                }
            }
            RequestKind::LinearizableRead => p.server.read_linearizable(ReadId(id), self.now),
            RequestKind::SerializableRead => {
                let applied = p.server.raft.log.applied;
                self.finish_request(id, Ok(applied));
                return;
            }
        }
        self.after_step(host);
    }

    /// Returns true if the request was still waiting (and is now finished).
    fn finish_request(&mut self, id: u64, result: Result<LogIndex, RequestError>) -> bool {
        let Some(req) = self.pending.remove(&id) else { return false };
        let rec = &mut self.outcome.requests[req.record];
        rec.finished = Some(self.now);
        rec.result = Some(result);
        let stats = &mut self.outcome.stats;
        match (req.kind, result.is_ok()) {
            (RequestKind::Write, true) => stats.writes_ok += 1,
            (RequestKind::Write, false) => stats.writes_failed += 1,
            (_, true) => stats.reads_ok += 1,
            (_, false) => stats.reads_failed += 1,
        }
        true
    }

    fn on_deadline(&mut self, id: u64) {
        let Some(req) = self.pending.get(&id) else { return };
        let current = self.hosts[req.host.index()].etcd.as_ref().and_then(|p| p.server.raft.lead);
        let err = match (req.lead_at_issue, current) {
            (None, _) => RequestError::DeadlineExceeded,
            (Some(a), Some(b)) if a == b => RequestError::TimedOut,
            _ => RequestError::TimedOutLeaderFail,
        };
        let host = req.host;
        self.finish_request(id, Err(err));
        // The client gave up: etcd abandons a write still waiting for a leader.
        if let Some(p) = self.hosts[host.index()].etcd.as_mut() {
            p.server.forget(WriteId(id));
        }
    }

    // -------------------------------------------------------------------- faults

    fn resolve(&mut self, t: Target) -> Option<HostId> {
        match t {
            Target::Host(h) => (h.index() < self.hosts.len()).then_some(h),
            Target::EtcdLeader => self.leader().map(|(h, _, _)| h),
            Target::EtcdFollower => {
                let followers: Vec<HostId> = self
                    .running()
                    .filter(|(_, s)| s.raft.role != Role::Leader && s.raft.config.voters.contains(&s.id()))
                    .map(|(h, _)| h)
                    .collect();
                if followers.is_empty() {
                    None
                } else {
                    let k = self.fault_rng.below(followers.len() as u64) as usize;
                    Some(followers[k])
                }
            }
        }
    }

    fn resolve_all(&mut self, ts: &[Target]) -> Vec<HostId> {
        ts.iter().filter_map(|&t| self.resolve(t)).collect()
    }

    fn describe_target(t: Target) -> &'static str {
        match t {
            Target::Host(_) => "host",
            Target::EtcdLeader => "etcd leader",
            Target::EtcdFollower => "etcd follower",
        }
    }

    fn apply_fault(&mut self, fault: Fault) {
        let single = |f: &Fault| match f {
            Fault::Crash(t)
            | Fault::Restart(t)
            | Fault::Stop(t)
            | Fault::Wipe(t)
            | Fault::Pause(t)
            | Fault::Resume(t)
            | Fault::Isolate(t)
            | Fault::RemoveMember(t)
            | Fault::PromoteLearner(t)
            | Fault::SlowDisk { target: t, .. } => Some(*t),
            _ => None,
        };
        let host = match single(&fault) {
            Some(t) => match self.resolve(t) {
                Some(h) => Some(h),
                None => {
                    self.note(
                        None,
                        format!("fault {fault:?} skipped: there is no {} right now", Self::describe_target(t)),
                    );
                    return;
                }
            },
            None => None,
        };
        let name = host.map(|h| self.hosts[h.index()].name.clone()).unwrap_or_default();
        match fault {
            Fault::Crash(_) => {
                let h = host.expect("single target");
                self.note(Some(h), format!("fault: {name} crashed (power loss; unsynced writes are lost)"));
                self.hosts[h.index()].up = false;
                self.crash_process(h);
            }
            Fault::Wipe(_) => {
                let h = host.expect("single target");
                self.note(Some(h), format!("fault: {name} crashed and its etcd data directory was erased"));
                self.hosts[h.index()].up = false;
                self.crash_process(h);
                self.hosts[h.index()].data = None;
            }
            Fault::Restart(_) => {
                let h = host.expect("single target");
                let hst = &self.hosts[h.index()];
                if hst.etcd.is_some() {
                    return;
                }
                let removed = hst.member.is_some_and(|m| self.removed.contains(&m));
                let text = if removed {
                    format!("fault: {name} restarted, but its member was removed from the cluster: etcd does not start")
                } else if hst.data.is_none() && hst.member.is_some() {
                    format!(
                        "fault: {name} restarted with an empty data directory; etcd rejoins under its old member id"
                    )
                } else {
                    format!("fault: {name} restarted; etcd recovers term, vote and log from its data directory")
                };
                self.note(Some(h), text);
                self.hosts[h.index()].up = true;
                self.start_etcd(h);
            }
            Fault::Stop(_) => self.graceful_stop(host.expect("single target")),
            Fault::Pause(_) => {
                let h = host.expect("single target");
                if let Some(p) = self.hosts[h.index()].etcd.as_mut() {
                    p.paused = true;
                    self.note(Some(h), format!("fault: etcd on {name} frozen (SIGSTOP)"));
                }
            }
            Fault::Resume(_) => {
                let h = host.expect("single target");
                self.resume(h);
            }
            Fault::Isolate(_) => {
                let h = host.expect("single target");
                self.network.isolate(h);
                self.note(Some(h), format!("fault: {name} isolated from every other host"));
            }
            Fault::Partition(groups) => {
                let resolved: Vec<Vec<HostId>> = groups.iter().map(|g| self.resolve_all(g)).collect();
                self.network.partition(&resolved);
                let text = format!("fault: network partitioned into {}", self.describe_groups(&self.network.islands()));
                self.note(None, text);
            }
            Fault::CutOneWay { from, to } => {
                if let (Some(a), Some(b)) = (self.resolve(from), self.resolve(to)) {
                    self.network.cut_one_way(a, b);
                    let text = format!(
                        "fault: one-way cut: {} can no longer reach {} (the reverse still works)",
                        self.hosts[a.index()].name,
                        self.hosts[b.index()].name
                    );
                    self.note(None, text);
                }
            }
            Fault::Bridge { side_a, side_b } => {
                let a = self.resolve_all(&side_a);
                let b = self.resolve_all(&side_b);
                self.network.bridge(&a, &b);
                let text = format!(
                    "fault: bridge partition: {} and {} cannot reach each other; other hosts reach both",
                    self.describe_groups(&[a]),
                    self.describe_groups(&[b])
                );
                self.note(None, text);
            }
            Fault::Heal => {
                self.network.heal();
                self.note(None, "fault: network healed".to_string());
            }
            Fault::MessageLoss { ppm } => {
                for a in 0..self.hosts.len() {
                    for b in 0..self.hosts.len() {
                        let (a, b) = (HostId(a as u32), HostId(b as u32));
                        let profile = LinkProfile { loss_ppm: ppm, ..self.network.link(a, b) };
                        self.network.set_link(a, b, profile);
                    }
                }
                self.note(
                    None,
                    format!("fault: every link now loses {}.{:04}% of messages", ppm / 10_000, ppm % 10_000),
                );
            }
            Fault::Link { a, b, profile } => {
                if let (Some(a), Some(b)) = (self.resolve(a), self.resolve(b)) {
                    self.network.set_link(a, b, profile);
                    let text = format!(
                        "fault: link {}–{} now {} + up to {} jitter, {} ppm loss",
                        self.hosts[a.index()].name,
                        self.hosts[b.index()].name,
                        profile.base,
                        profile.jitter,
                        profile.loss_ppm
                    );
                    self.note(None, text);
                }
            }
            Fault::SlowDisk { profile, .. } => {
                let h = host.expect("single target");
                self.hosts[h.index()].disk.profile = profile;
                self.note(
                    Some(h),
                    format!(
                        "fault: disk of {name} now takes {} + up to {} per fsync",
                        profile.fsync_base, profile.fsync_jitter
                    ),
                );
            }
            Fault::AddMember { host, learner } => self.add_member(host, learner),
            Fault::RemoveMember(_) => {
                let h = host.expect("single target");
                let _ = match self.hosts[h.index()].member {
                    Some(m) => self.reconfigure(MemberChange::Remove(m), h),
                    None => {
                        self.note(Some(h), format!("member remove skipped: {name} runs no member"));
                        false
                    }
                };
            }
            Fault::PromoteLearner(_) => {
                let h = host.expect("single target");
                let _ = match self.hosts[h.index()].member {
                    Some(m) => self.reconfigure(MemberChange::Promote(m), h),
                    None => {
                        self.note(Some(h), format!("member promote skipped: {name} runs no member"));
                        false
                    }
                };
            }
        }
    }

    fn describe_groups(&self, groups: &[Vec<HostId>]) -> String {
        groups
            .iter()
            .map(|g| {
                let names: Vec<&str> = g.iter().map(|h| self.hosts[h.index()].name.as_str()).collect();
                format!("{{{}}}", names.join(", "))
            })
            .collect::<Vec<_>>()
            .join(" | ")
    }

    fn add_member(&mut self, host: HostId, learner: bool) {
        if host.index() >= self.hosts.len() {
            return;
        }
        let name = self.hosts[host.index()].name.clone();
        if self.hosts[host.index()].etcd.is_some() {
            self.note(Some(host), format!("member add skipped: {name} already runs etcd"));
            return;
        }
        let id = MemberId(self.next_member);
        if self.reconfigure(MemberChange::Add { id, learner }, host) {
            self.next_member += 1;
            let slot = id.0 as usize;
            if self.host_of.len() <= slot {
                self.host_of.resize(slot + 1, None);
            }
            self.host_of[slot] = Some(host);
            let h = &mut self.hosts[host.index()];
            h.member = Some(id);
            h.data = None;
        }
    }

    /// An etcdctl member command: checked and proposed by the leader. Returns true if
    /// the change was proposed.
    fn reconfigure(&mut self, change: MemberChange, subject: HostId) -> bool {
        let now = self.now;
        let subject_name = self.hosts[subject.index()].name.clone();
        let Some((leader_host, _, _)) = self.leader() else {
            self.note(
                Some(subject),
                format!("{change} for {subject_name} failed: no etcd leader (etcdserver: request timed out)"),
            );
            return false;
        };
        let started = self.started.clone();
        let p = self.hosts[leader_host.index()].etcd.as_mut().expect("leader runs");
        if let Err(e) = p.server.check_reconfig(change, &|m| started.contains(&m), now) {
            self.note(Some(subject), format!("{change} for {subject_name} refused: {e}"));
            return false;
        }
        let result = p.server.raft.propose(crate::model::etcd::message::EntryKind::Conf(change.conf_change()));
        let leader_name = self.hosts[leader_host.index()].name.clone();
        let text = match result {
            Ok(()) => format!("{change} for {subject_name} proposed by leader {leader_name}"),
            Err(ProposalError::ConfChangePending) => format!(
                "{change} for {subject_name} will time out (etcdserver: request timed out): a previous membership change is not applied yet, so raft replaced it with an empty entry"
            ),
            Err(ProposalError::Dropped(why)) => {
                format!("{change} for {subject_name} failed: raft proposal dropped ({why})")
            }
        };
        self.note(Some(subject), text);
        self.after_step(leader_host);
        result.is_ok()
    }

    /// etcd's Stop: a leader hands leadership to the longest-connected voter and waits
    /// up to the request timeout for it to take over; then the process exits cleanly.
    fn graceful_stop(&mut self, host: HostId) {
        let now = self.now;
        let name = self.hosts[host.index()].name.clone();
        let timeout = self.spec.etcd.request_timeout();
        let Some(p) = self.hosts[host.index()].etcd.as_mut() else { return };
        let raft = &p.server.raft;
        if raft.is_leader() && raft.config.voters.len() > 1 {
            if let Some(to) = p.server.longest_connected_voter(now) {
                p.stopping_for = Some(to);
                p.server.raft.request_transfer(to);
                let inc = p.incarnation;
                let to_name = self.member_name(to);
                self.note(
                    Some(host),
                    format!("fault: graceful stop of {name}: as leader it first hands leadership to {to_name}"),
                );
                self.queue.push(now + timeout, Event::StopProcess(host, inc));
                self.after_step(host);
                return;
            }
            self.note(Some(host), format!("fault: graceful stop of {name}: no connected voter to hand leadership to"));
        } else {
            self.note(Some(host), format!("fault: graceful stop of etcd on {name}"));
        }
        self.stop_now(host);
    }

    fn check_stopping(&mut self, host: HostId) {
        let Some(p) = self.hosts[host.index()].etcd.as_ref() else { return };
        if let Some(to) = p.stopping_for
            && p.server.raft.lead == Some(to)
        {
            self.stop_now(host);
        }
    }

    /// Clean exit: the in-flight fsync completes, then the process is gone.
    fn stop_now(&mut self, host: HostId) {
        let h = &mut self.hosts[host.index()];
        let Some(mut p) = h.etcd.take() else { return };
        if let Some(batch) = p.writing.take() {
            h.data.get_or_insert_with(DurableState::default).apply(&batch);
        }
        let name = h.name.clone();
        self.note(Some(host), format!("etcd on {name} stopped"));
    }

    /// The process dies; only what was fsynced survives.
    fn crash_process(&mut self, host: HostId) {
        self.hosts[host.index()].etcd = None;
    }

    fn resume(&mut self, host: HostId) {
        let name = self.hosts[host.index()].name.clone();
        let Some(p) = self.hosts[host.index()].etcd.as_mut() else { return };
        if !p.paused {
            return;
        }
        p.paused = false;
        let stash = std::mem::take(&mut p.stash);
        let inc = p.incarnation;
        self.note(
            Some(host),
            format!("fault: etcd on {name} resumed (SIGCONT); {} queued events now processed", stash.len()),
        );
        for s in stash {
            if self.process_mut(host, inc).is_none() {
                break;
            }
            match s {
                Stashed::Deliver(slot) => {
                    let msg = self.release_slot(slot);
                    self.step_message(host, msg);
                }
                Stashed::DiskDone => self.complete_write(host),
                Stashed::Request(id) => self.deliver_request(id),
            }
        }
        if let Some(p) = self.process_mut(host, inc)
            && p.writing.is_none()
            && std::mem::take(&mut p.tick_pending)
        {
            p.server.raft.tick();
            self.after_step(host);
        }
    }

    fn check_log_matching(&mut self) {
        let now = self.now;
        let logs: Vec<(MemberId, &crate::model::etcd::log::RaftLog)> =
            self.hosts.iter().filter_map(|h| h.etcd.as_ref()).map(|p| (p.server.id(), &p.server.raft.log)).collect();
        self.checker.check_log_matching(now, &logs);
    }
}
