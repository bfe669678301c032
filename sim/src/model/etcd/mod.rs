//! etcd: the Raft state machine (`raft`, after etcd-io/raft) and the server layer around
//! it (this file, after etcd's `etcdserver`): applying committed entries, telling
//! clients their writes and linearizable reads are done (etcd's linearizable read loop:
//! one ReadIndex at a time serves every read that arrived before it was sent),
//! snapshots and log compaction,
//! the strict reconfiguration checks, which peers the transport counts as connected,
//! and the gRPC layer's leader monitor that cancels watches when there is no leader.

pub mod log;
pub mod message;
pub mod progress;
pub mod raft;

use std::collections::BTreeSet;

use crate::ids::{LogIndex, MemberId, ReadId, WriteId};
use crate::time::{SimDuration, SimTime};
use log::DurableState;
use message::{ConfChange, Entry, EntryKind, SnapshotMeta};
use raft::{ProposalError, Raft, RaftConfig};

/// Server-level settings, with etcd's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EtcdSettings {
    /// `--heartbeat-interval`: one Raft tick.
    pub heartbeat_interval: SimDuration,
    /// `--election-timeout`.
    pub election_timeout: SimDuration,
    pub pre_vote: bool,
    /// `--snapshot-count` (10,000 since etcd 3.6; 100,000 before).
    pub snapshot_count: u64,
    /// Entries kept after a snapshot for slow followers (SnapshotCatchUpEntries).
    pub catch_up_entries: u64,
    /// `--strict-reconfig-check` (on by default).
    pub strict_reconfig_check: bool,
    /// Learners allowed at once (membership.DefaultMaxLearners).
    pub max_learners: usize,
}

impl Default for EtcdSettings {
    fn default() -> Self {
        EtcdSettings {
            heartbeat_interval: SimDuration::from_millis(100),
            election_timeout: SimDuration::from_millis(1000),
            pre_vote: true,
            snapshot_count: 10_000,
            catch_up_entries: 5_000,
            strict_reconfig_check: true,
            max_learners: 1,
        }
    }
}

impl EtcdSettings {
    /// ReqTimeout(): 5 s + 2 × election timeout (7 s with defaults).
    pub fn request_timeout(&self) -> SimDuration {
        SimDuration::from_secs(5) + self.election_timeout.saturating_mul(2)
    }

    pub fn raft_config(&self) -> RaftConfig {
        let hb = self.heartbeat_interval.as_micros().max(1);
        RaftConfig {
            election_tick: (self.election_timeout.as_micros() / hb).max(1) as u32,
            heartbeat_tick: 1,
            pre_vote: self.pre_vote,
            ..RaftConfig::default()
        }
    }
}

/// How long a peer may stay silent before the transport counts its stream as broken.
/// etcd peers exchange heartbeats every 100 ms; rafthttp marks a peer inactive when its
/// stream fails, which this approximates.
const STREAM_BROKEN_AFTER: SimDuration = SimDuration::from_secs(2);
/// etcd's HealthInterval, used by the strict reconfig checks.
const HEALTH_INTERVAL: SimDuration = SimDuration::from_secs(5);

/// Why a membership request was refused, with etcd's error text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReconfigError {
    #[error("etcdserver: re-configuration failed due to not enough started members")]
    NotEnoughStartedMembers,
    #[error("etcdserver: unhealthy cluster")]
    Unhealthy,
    #[error("etcdserver: can only promote a learner member which is in sync with leader")]
    LearnerNotReady,
    #[error("membership: too many learner members in cluster")]
    TooManyLearners,
    #[error("membership: member not found")]
    MemberNotFound,
    #[error("etcdserver: can only promote a learner member")]
    MemberNotLearner,
    #[error("etcdserver: not leader")]
    NotLeader,
}

/// An `etcdctl member …` request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberChange {
    Add { id: MemberId, learner: bool },
    Remove(MemberId),
    Promote(MemberId),
}

impl MemberChange {
    /// The single-member Raft change that carries it.
    pub fn conf_change(self) -> ConfChange {
        match self {
            MemberChange::Add { id, learner: true } => ConfChange::AddLearner(id),
            MemberChange::Add { id, learner: false } | MemberChange::Promote(id) => ConfChange::AddVoter(id),
            MemberChange::Remove(id) => ConfChange::Remove(id),
        }
    }
}

impl std::fmt::Display for MemberChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MemberChange::Add { learner: true, .. } => write!(f, "member add --learner"),
            MemberChange::Add { .. } => write!(f, "member add"),
            MemberChange::Remove(_) => write!(f, "member remove"),
            MemberChange::Promote(_) => write!(f, "member promote"),
        }
    }
}

/// Why the server failed a client request before its deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerError {
    /// raft's ErrProposalDropped (for example during a leadership transfer).
    ProposalDropped,
    /// etcd's ErrLeaderChanged: a new leader appeared while a read waited for its
    /// read index.
    LeaderChanged,
    /// etcd's ErrTimeout: the read loop's ReadIndex got no answer within the request
    /// timeout.
    Timeout,
}

/// Something the server layer reports back to the world.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// A write proposed through this member was applied here: the client gets its OK.
    WriteDone(WriteId, LogIndex),
    /// A linearizable read through this member can be answered.
    ReadDone(ReadId, LogIndex),
    /// A membership change took effect on this member.
    Conf(ConfChange, LogIndex),
    WriteFailed(WriteId, ServerError),
    ReadFailed(ReadId, ServerError),
}

/// etcd resends a ReadIndex request that got no answer after this long
/// (readIndexRetryTime in etcdserver/v3_server.go).
const READ_INDEX_RETRY: SimDuration = SimDuration::from_millis(500);

/// One round of etcd's linearizableReadLoop: a single ReadIndex request for every read
/// that was waiting when it was sent.
#[derive(Clone, Debug)]
struct ReadBatch {
    /// The request id carried by the ReadIndex (and its resends).
    ctx: ReadId,
    reads: Vec<ReadId>,
    started: SimTime,
    last_sent: SimTime,
    /// The read index, once the answer came; the batch then waits for apply.
    index: Option<LogIndex>,
}

/// Read-loop request ids live in their own range, so they never equal a client
/// request's id.
const READ_BATCH_CTX: u64 = 1 << 63;

/// One etcd server process.
pub struct EtcdServer {
    pub raft: Raft,
    pub settings: EtcdSettings,
    last_snapshot: LogIndex,
    /// Client writes proposed through this member and not yet applied here, oldest
    /// first: a handful, and nearly always answered in order, so a list searched from
    /// the front costs less than a tree that allocates as it fills and empties.
    waiting_writes: Vec<WriteId>,
    /// Writes waiting for a leader: raft's node does not accept proposals without one
    /// (its propc is nil), so they wait here until one appears or the client gives up.
    queued_writes: Vec<WriteId>,
    /// The read loop's ReadIndex in flight (or confirmed and waiting for apply), with
    /// the reads it will answer.
    read_batch: Option<ReadBatch>,
    /// Reads that arrived while a batch was in flight: they wait for the next one
    /// (etcd's next readNotifier).
    next_reads: Vec<ReadId>,
    /// The emptied read list of the last round that ended, reused for the next reads
    /// to wait, so the read loop's rounds do not allocate a list each.
    spare_reads: Vec<ReadId>,
    /// Request ids of the read loop's ReadIndex messages.
    read_batches_sent: u64,
    /// Leader as of the last Ready, to notice a new one (etcd's leaderChanged).
    last_lead: Option<MemberId>,
    /// Members whose removal this member has applied: the transport drops their traffic.
    removed: BTreeSet<MemberId>,
    /// Per peer: (stream up since, last heard).
    /// A handful of entries (one per peer), found by a linear scan: cheaper than a
    /// tree on every message received.
    peers: Vec<(MemberId, (SimTime, SimTime))>,
    /// When this process started; the transport only knows peers from then on.
    started_at: SimTime,
    /// etcd's monitorLeader: heartbeat ticks since it last looked for a leader.
    monitor_ticks: u32,
    /// Its looks in a row (one per election timeout) that found no leader.
    leaderless_looks: u32,
    /// When it last cancelled the watches that require a leader (at the third look in
    /// a row without one).
    cancelled_leader_watches: Option<SimTime>,
}

/// etcd's maxNoLeaderCnt: looks without a leader before watch streams that require one
/// are cancelled (v3rpc `monitorLeader`).
const MAX_NO_LEADER_LOOKS: u32 = 3;

impl EtcdServer {
    pub fn start(id: MemberId, settings: EtcdSettings, durable: &DurableState, seed: u64, now: SimTime) -> Self {
        let raft = Raft::new(id, settings.raft_config(), durable, seed);
        EtcdServer {
            last_snapshot: raft.log.snapshot.index,
            raft,
            settings,
            waiting_writes: Vec::new(),
            queued_writes: Vec::new(),
            read_batch: None,
            next_reads: Vec::new(),
            spare_reads: Vec::new(),
            read_batches_sent: 0,
            last_lead: None,
            removed: BTreeSet::new(),
            peers: Vec::new(),
            started_at: now,
            monitor_ticks: 0,
            leaderless_looks: 0,
            cancelled_leader_watches: None,
        }
    }

    /// One heartbeat tick of etcd's monitorLeader, which runs beside the Raft loop (a
    /// pending fsync does not hold it up; a frozen process does): once per election
    /// timeout it checks whether the member knows a leader.
    pub fn monitor_leader_tick(&mut self, now: SimTime) {
        self.monitor_ticks += 1;
        if self.monitor_ticks < self.raft.cfg.election_tick {
            return;
        }
        self.monitor_ticks = 0;
        if self.raft.lead.is_some() {
            self.leaderless_looks = 0;
            return;
        }
        self.leaderless_looks = self.leaderless_looks.saturating_add(1);
        if self.leaderless_looks == MAX_NO_LEADER_LOOKS {
            self.cancelled_leader_watches = Some(now);
        }
    }

    /// When this member cancelled the watches opened with WithRequireLeader
    /// (kube-apiserver opens all of its watches that way), if it has still no leader
    /// since: it found none at three looks in a row and ended them with "etcdserver: no
    /// leader". (A new such watch is refused at once while there is no leader; the
    /// caller tracks that.)
    pub fn failing_leader_watches_since(&self) -> Option<SimTime> {
        if self.raft.lead.is_some() || self.leaderless_looks < MAX_NO_LEADER_LOOKS {
            return None;
        }
        self.cancelled_leader_watches
    }

    pub fn id(&self) -> MemberId {
        self.raft.id
    }

    /// A message arrived from `from`: the transport's stream to it is alive.
    pub fn heard_from(&mut self, from: MemberId, now: SimTime) {
        let i = match self.peers.iter().position(|(m, _)| *m == from) {
            Some(i) => i,
            None => {
                self.peers.push((from, (now, now)));
                self.peers.len() - 1
            }
        };
        let e = &mut self.peers[i].1;
        if now.since(e.1) >= STREAM_BROKEN_AFTER {
            e.0 = now;
        }
        e.1 = now;
    }

    /// rafthttp ActiveSince: when the stream to `peer` came up, if it is up.
    pub fn active_since(&self, peer: MemberId, now: SimTime) -> Option<SimTime> {
        if peer == self.id() {
            return Some(self.started_at);
        }
        let (since, last) = self.peers.iter().find(|(m, _)| *m == peer)?.1;
        (now.since(last) < STREAM_BROKEN_AFTER).then_some(since)
    }

    fn connected_since(&self, peer: MemberId, now: SimTime) -> bool {
        let cutoff = SimTime(now.as_micros().saturating_sub(HEALTH_INTERVAL.as_micros()));
        peer == self.id() || self.active_since(peer, now).is_some_and(|s| s <= cutoff)
    }

    /// A client write arrives at this member.
    pub fn propose_write(&mut self, w: WriteId, out: &mut Vec<Applied>) {
        if !self.waiting_writes.contains(&w) {
            self.waiting_writes.push(w);
        }
        if self.raft.lead.is_none() {
            self.queued_writes.push(w);
            return;
        }
        self.propose_now(w, out);
    }

    fn propose_now(&mut self, w: WriteId, out: &mut Vec<Applied>) {
        match self.raft.propose(EntryKind::Write(w)) {
            Ok(()) | Err(ProposalError::ConfChangePending) => {}
            Err(ProposalError::Dropped(_)) => {
                self.stop_waiting(w);
                out.push(Applied::WriteFailed(w, ServerError::ProposalDropped));
            }
        }
    }

    /// A client's linearizable read arrives at this member. It joins the next round of
    /// the read loop, which starts at once if none is in flight.
    pub fn read_linearizable(&mut self, r: ReadId, now: SimTime) {
        self.next_reads.push(r);
        if self.read_batch.is_none() {
            self.start_read_batch(now);
        }
    }

    /// The read loop sends one ReadIndex for every read waiting.
    fn start_read_batch(&mut self, now: SimTime) {
        let reads = std::mem::replace(&mut self.next_reads, std::mem::take(&mut self.spare_reads));
        self.read_batches_sent += 1;
        let ctx = ReadId(READ_BATCH_CTX | self.read_batches_sent);
        self.read_batch = Some(ReadBatch { ctx, reads, started: now, last_sent: now, index: None });
        self.raft.read_index_local(ctx);
    }

    /// The batch in flight ended (answered with its read index, failed or timed out):
    /// its reads get their answers in `out`, and the loop goes round again if reads
    /// arrived meanwhile. The ended round's list is kept for the reads to come.
    fn end_read_batch(&mut self, now: SimTime, result: Result<LogIndex, ServerError>, out: &mut Vec<Applied>) {
        if let Some(mut b) = self.read_batch.take() {
            out.extend(b.reads.drain(..).map(|r| match result {
                Ok(index) => Applied::ReadDone(r, index),
                Err(e) => Applied::ReadFailed(r, e),
            }));
            self.spare_reads = b.reads;
        }
        if !self.next_reads.is_empty() {
            self.start_read_batch(now);
        }
    }

    /// Takes `w` off the writes waiting here; false if it was not among them.
    fn stop_waiting(&mut self, w: WriteId) -> bool {
        match self.waiting_writes.iter().position(|&x| x == w) {
            Some(i) => {
                self.waiting_writes.remove(i);
                true
            }
            None => false,
        }
    }

    /// A client gave up on a request: forget it. A read loop round whose reads all gave
    /// up still runs to its end, as etcd's loop does not know they left. Returns
    /// whether it was a write still waiting for a leader, which is now never proposed.
    pub fn forget(&mut self, w: WriteId) -> bool {
        self.stop_waiting(w);
        let queued = self.queued_writes.contains(&w);
        self.queued_writes.retain(|&q| q != w);
        self.next_reads.retain(|r| r.0 != w.0);
        if let Some(b) = self.read_batch.as_mut() {
            b.reads.retain(|r| r.0 != w.0);
        }
        queued
    }

    /// What etcd's server loop does around raft between Readies: hand queued writes to
    /// a newly known leader; in the read loop, fail the round in flight when a new
    /// leader appears, resend its ReadIndex every 500 ms, and give up on it after the
    /// request timeout.
    pub fn poll(&mut self, now: SimTime, out: &mut Vec<Applied>) {
        let lead = self.raft.lead;
        let unanswered = self.read_batch.as_ref().is_some_and(|b| b.index.is_none());
        if lead != self.last_lead {
            if lead.is_some() && unanswered {
                self.fail_read_batch(now, ServerError::LeaderChanged, out);
            }
            self.last_lead = lead;
        }
        if lead.is_some() && !self.queued_writes.is_empty() {
            for w in std::mem::take(&mut self.queued_writes) {
                self.propose_now(w, out);
            }
        }
        if let Some(b) = self.read_batch.as_mut().filter(|b| b.index.is_none()) {
            if now.since(b.started) >= self.settings.request_timeout() {
                self.fail_read_batch(now, ServerError::Timeout, out);
            } else if now.since(b.last_sent) >= READ_INDEX_RETRY {
                b.last_sent = now;
                let ctx = b.ctx;
                self.raft.read_index_local(ctx);
            }
        }
    }

    fn fail_read_batch(&mut self, now: SimTime, e: ServerError, out: &mut Vec<Applied>) {
        self.end_read_batch(now, Err(e), out);
    }

    /// True when this member applied the removal of `id`.
    pub fn knows_removed(&self, id: MemberId) -> bool {
        !self.removed.is_empty() && self.removed.contains(&id)
    }

    /// Whether `apply` has anything to do. Most Readies (heartbeats and their answers)
    /// bring nothing to apply or answer, and the event loop skips its apply step then.
    pub fn has_apply_work(&self) -> bool {
        self.raft.log.applied < self.raft.log.committed
            || !self.raft.read_states.is_empty()
            || self.read_batch.as_ref().is_some_and(|b| b.index.is_some())
    }

    /// Applies what raft committed (appended to `committed`) and answers waiting
    /// clients (appended to `out`).
    pub fn apply(&mut self, now: SimTime, committed: &mut Vec<(LogIndex, Entry)>, out: &mut Vec<Applied>) {
        if !self.has_apply_work() {
            return;
        }
        let from = committed.len();
        self.raft.take_committed(committed);
        for (i, e) in &committed[from..] {
            match e.kind {
                EntryKind::Write(w) if self.stop_waiting(w) => out.push(Applied::WriteDone(w, *i)),
                EntryKind::Conf(cc) => {
                    if let ConfChange::Remove(m) = cc {
                        self.removed.insert(m);
                    }
                    out.push(Applied::Conf(cc, *i));
                }
                _ => {}
            }
        }
        self.answer_reads(now, out);
    }

    /// Takes the read index of the round in flight from raft's read states (resends
    /// may bring several answers: the first counts; answers to an earlier round are
    /// ignored), and once this member has applied up to it, answers the round's reads
    /// and starts the next round.
    fn answer_reads(&mut self, now: SimTime, out: &mut Vec<Applied>) {
        loop {
            let Some(b) = self.read_batch.as_mut() else {
                self.raft.read_states.clear();
                return;
            };
            for (ctx, index) in self.raft.read_states.drain(..) {
                if ctx == b.ctx && b.index.is_none() {
                    b.index = Some(index);
                }
            }
            let Some(index) = b.index.filter(|&i| i <= self.raft.log.applied) else { return };
            self.end_read_batch(now, Ok(index), out);
        }
    }

    /// Whether `snapshot_count` entries were applied since the last snapshot this
    /// member took: `maybe_snapshot` does nothing otherwise. A cheap test, inlined
    /// where the event loop asks after every Ready.
    #[inline]
    pub fn snapshot_due(&self) -> bool {
        self.raft.log.applied >= self.last_snapshot + self.settings.snapshot_count
    }

    /// Takes a snapshot and compacts once `snapshot_count` entries were applied since
    /// the last one. Returns the snapshot so the data directory can record it.
    pub fn maybe_snapshot(&mut self) -> Option<SnapshotMeta> {
        if !self.snapshot_due() {
            return None;
        }
        let applied = self.raft.log.applied;
        // A snapshot installed from the leader counts as this member's last one, as
        // etcd's applySnapshot sets snapi to its index: no second snapshot at once.
        // (Checked here, off the path of nearly every call, which returns above.)
        let installed = self.raft.log.snapshot.index;
        if installed > self.last_snapshot {
            self.last_snapshot = installed;
            if applied < installed + self.settings.snapshot_count {
                return None;
            }
        }
        self.last_snapshot = applied;
        Some(self.raft.compact(self.settings.catch_up_entries))
    }

    /// Transport view for `longestConnected`: the voter whose stream has been up the
    /// longest, the transferee etcd picks on a graceful leader stop.
    pub fn longest_connected_voter(&self, now: SimTime) -> Option<MemberId> {
        self.raft
            .config
            .voters
            .iter()
            .filter(|&&v| v != self.id())
            .filter_map(|&v| self.active_since(v, now).map(|s| (s, v)))
            .min()
            .map(|(_, v)| v)
    }

    /// etcd's mayAddMember / mayRemoveMember / mayPromoteMember, evaluated by the
    /// leader. `started` says which members ever published themselves (ran at least
    /// once), since etcd counts "started" members that way.
    pub fn check_reconfig(
        &self,
        change: MemberChange,
        started: &dyn Fn(MemberId) -> bool,
        now: SimTime,
    ) -> Result<(), ReconfigError> {
        if !self.raft.is_leader() {
            return Err(ReconfigError::NotLeader);
        }
        let cfg = &self.raft.config;
        let strict = self.settings.strict_reconfig_check;
        let started_voters =
            |skip: Option<MemberId>| cfg.voters.iter().filter(|&&v| Some(v) != skip && started(v)).count();
        match change {
            MemberChange::Add { learner: true, .. } => {
                if cfg.learners.len() + 1 > self.settings.max_learners {
                    return Err(ReconfigError::TooManyLearners);
                }
                Ok(())
            }
            MemberChange::Promote(id) => {
                if cfg.voters.contains(&id) {
                    return Err(ReconfigError::MemberNotLearner);
                }
                if !cfg.learners.contains(&id) {
                    return Err(ReconfigError::MemberNotFound);
                }
                let leader_match = self.raft.progress(self.id()).map_or(0, |p| p.matched);
                let learner_match = self.raft.progress(id).map_or(0, |p| p.matched);
                // isLearnerReady: the learner's match must reach 90 % of the leader's.
                if learner_match * 10 < leader_match * 9 {
                    return Err(ReconfigError::LearnerNotReady);
                }
                let n = cfg.voters.len() + 1;
                if strict && started_voters(None) + 1 < n / 2 + 1 {
                    return Err(ReconfigError::NotEnoughStartedMembers);
                }
                Ok(())
            }
            MemberChange::Add { learner: false, .. } => {
                if !strict {
                    return Ok(());
                }
                let n = cfg.voters.len() + 1;
                let s = started_voters(None);
                if !(s == 1 && n == 2) && s < n / 2 + 1 {
                    return Err(ReconfigError::NotEnoughStartedMembers);
                }
                if !cfg.voters.iter().all(|&v| self.connected_since(v, now)) {
                    return Err(ReconfigError::Unhealthy);
                }
                Ok(())
            }
            MemberChange::Remove(id) => {
                if !cfg.contains(id) {
                    return Err(ReconfigError::MemberNotFound);
                }
                if !strict || cfg.learners.contains(&id) {
                    return Ok(());
                }
                let n = cfg.voters.len() - 1;
                if started_voters(Some(id)) < n / 2 + 1 {
                    return Err(ReconfigError::NotEnoughStartedMembers);
                }
                if id != self.id() && self.active_since(id, now).is_none() {
                    // Removing a member that is down does not lower the active count.
                    return Ok(());
                }
                let active = cfg.voters.iter().filter(|&&v| self.connected_since(v, now)).count();
                if active.saturating_sub(1) < 1 + (cfg.voters.len() - 1) / 2 {
                    return Err(ReconfigError::Unhealthy);
                }
                Ok(())
            }
        }
    }
}
