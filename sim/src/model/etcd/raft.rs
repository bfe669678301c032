//! The Raft state machine of one etcd member, following etcd-io/raft `raft.go`.
//!
//! It is pure: it advances on `tick`, `step` (a message) and `propose`, and leaves its
//! outputs in `msgs`, `read_states` and `events` for the etcd server layer to act on.
//! Persistence is the caller's job (see `ready`/`on_persisted`): a leader counts its own
//! copy of an entry only once its fsync completes, so commit really needs a quorum of
//! persisted copies.
//!
//! Modelled: PreVote, CheckQuorum (always on in etcd), the inLease vote check, the
//! randomised election timeout in [ET, 2·ET) ticks, log replication with the
//! consistency check and conflict truncation, fast backtracking by term, commit only of
//! current-term entries, the empty entry on election, proposal forwarding (dropped with
//! no leader or during a transfer), ReadIndex (ReadOnlySafe) including the wait for a
//! first commit in the term, leadership transfer (MsgTimeoutNow), learners, single
//! membership changes with one pending at a time, and snapshots for lagging followers.

use std::collections::{BTreeMap, VecDeque};

use crate::engine::rng::{SimRng, StreamId};
use crate::ids::{LogIndex, MemberId, ReadId, Term};
use crate::model::etcd::log::{DurableState, HardState, LogLost, RaftLog, WriteBatch};
use crate::model::etcd::message::{Body, ConfChange, EntryKind, MemberConfig, Message, SnapshotMeta};
use crate::model::etcd::progress::{Progress, ProgressMap, ProgressState};

/// Tunables, in ticks like etcd-io/raft's `Config`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RaftConfig {
    /// Election timeout in ticks (etcd: election-timeout / heartbeat-interval = 10).
    pub election_tick: u32,
    /// Heartbeat interval in ticks (etcd: 1).
    pub heartbeat_tick: u32,
    pub pre_vote: bool,
    /// etcd always enables CheckQuorum; kept as a field so tests can name it.
    pub check_quorum: bool,
    /// etcd's maxInflightMsgs (4096/8).
    pub max_inflight: usize,
    /// Entries per MsgApp; stands in for etcd's 1 MiB MaxSizePerMsg.
    pub max_entries_per_msg: usize,
}

impl Default for RaftConfig {
    fn default() -> Self {
        RaftConfig {
            election_tick: 10,
            heartbeat_tick: 1,
            pre_vote: true,
            check_quorum: true,
            max_inflight: 512,
            max_entries_per_msg: 1024,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Follower,
    PreCandidate,
    Candidate,
    Leader,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Follower => "follower",
            Role::PreCandidate => "pre-candidate",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        }
    }
}

/// Why raft would not take a proposal (etcd-io/raft ErrProposalDropped and the
/// conf-change guard).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProposalError {
    /// Returned to the caller at once: no leader, a transfer in progress, or this
    /// leader was removed.
    Dropped(&'static str),
    /// A membership change while another is not applied yet: raft appends an empty
    /// entry instead, and the caller waits in vain (etcd: request timed out).
    ConfChangePending,
}

/// Why a member changed role; kept so reports can say *why* in a sentence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RaftEvent {
    /// The election timer fired (`waited_ticks` since the last heartbeat), or a
    /// transfer asked us to campaign.
    CampaignStarted {
        pre: bool,
        term: Term,
        transfer: bool,
        waited_ticks: u32,
    },
    BecameLeader {
        term: Term,
        votes: usize,
    },
    /// CheckQuorum failed: only `active` of the voters were heard from in the last
    /// election timeout.
    SteppedDownNoQuorum {
        term: Term,
        active: usize,
        quorum: usize,
    },
    /// A message with a higher term arrived.
    TermRaised {
        from: MemberId,
        old: Term,
        new: Term,
        msg: &'static str,
    },
    /// A (pre-)campaign was rejected by a quorum.
    LostElection {
        pre: bool,
        term: Term,
    },
    LeaderTransferStarted {
        to: MemberId,
    },
    LeaderTransferAborted {
        to: MemberId,
    },
}

struct ReadRequest {
    ctx: ReadId,
    index: LogIndex,
    from: MemberId,
    acks: Vec<MemberId>,
}

pub struct Raft {
    pub id: MemberId,
    pub cfg: RaftConfig,
    pub term: Term,
    pub vote: Option<MemberId>,
    pub lead: Option<MemberId>,
    pub role: Role,
    pub log: RaftLog,
    pub config: MemberConfig,
    progress: ProgressMap,
    votes: BTreeMap<MemberId, bool>,
    election_elapsed: u32,
    heartbeat_elapsed: u32,
    randomized_election_timeout: u32,
    lead_transferee: Option<MemberId>,
    pending_conf_index: LogIndex,
    read_only: VecDeque<ReadRequest>,
    /// Emptied `acks` lists of served read requests, reused by the next ones: a leader
    /// serves a ReadIndex every few milliseconds, and each would otherwise allocate its
    /// list and grow it at the first follower's ack.
    spare_acks: Vec<Vec<MemberId>>,
    pending_read_index: Vec<(MemberId, ReadId)>,
    rng: SimRng,
    /// Hard state as last handed to the disk.
    last_hard: HardState,
    /// The entry list of the last write batch the disk finished, emptied, for the next
    /// batch: a member hands the disk a batch for nearly every entry it appends.
    spare_write_entries: Vec<crate::model::etcd::message::Entry>,
    pub msgs: Vec<Message>,
    /// Linearizable reads that may be served once applied >= index.
    pub read_states: Vec<(ReadId, LogIndex)>,
    pub events: Vec<RaftEvent>,
}

impl Raft {
    /// A member starting from its data directory (empty for a brand-new member).
    pub fn new(id: MemberId, cfg: RaftConfig, durable: &DurableState, seed: u64) -> Raft {
        let log = RaftLog::restore_from(durable);
        let config = durable.snapshot.config.clone();
        let mut r = Raft {
            id,
            cfg,
            term: durable.hard.term,
            vote: durable.hard.vote,
            lead: None,
            role: Role::Follower,
            log,
            config,
            progress: ProgressMap::new(),
            votes: BTreeMap::new(),
            election_elapsed: 0,
            heartbeat_elapsed: 0,
            randomized_election_timeout: cfg.election_tick,
            lead_transferee: None,
            pending_conf_index: 0,
            read_only: VecDeque::new(),
            spare_acks: Vec::new(),
            pending_read_index: Vec::new(),
            rng: SimRng::new(seed, StreamId::EtcdMember(id.0)),
            last_hard: durable.hard,
            spare_write_entries: Vec::new(),
            msgs: Vec::new(),
            read_states: Vec::new(),
            events: Vec::new(),
        };
        // Membership changes in the durable log up to the commit index are in force at
        // start, as etcd replays them from the WAL (etcd-io/raft applies the bootstrap
        // ConfChanges itself, the server replays the rest).
        for i in r.log.first_index()..=r.log.committed {
            if let Some(EntryKind::Conf(cc)) = r.log.entry(i).map(|e| e.kind) {
                r.config.apply(cc);
            }
        }
        r.reset_randomized_election_timeout();
        r
    }

    pub fn hard_state(&self) -> HardState {
        HardState { term: self.term, vote: self.vote, commit: self.log.committed }
    }

    pub fn is_leader(&self) -> bool {
        self.role == Role::Leader
    }

    pub fn lead_transferee(&self) -> Option<MemberId> {
        self.lead_transferee
    }

    /// Voter and not waiting for a snapshot (raft.promotable).
    pub fn promotable(&self) -> bool {
        self.config.voters.contains(&self.id) && !self.log.snapshot_unstable
    }

    pub fn progress(&self, id: MemberId) -> Option<&Progress> {
        self.progress.get(&id)
    }

    /// Randomised election timeout in ticks, in [ET, 2·ET).
    pub fn randomized_election_timeout(&self) -> u32 {
        self.randomized_election_timeout
    }

    fn reset_randomized_election_timeout(&mut self) {
        let et = u64::from(self.cfg.election_tick);
        self.randomized_election_timeout = (et + self.rng.below(et)) as u32;
    }

    fn send(&mut self, to: MemberId, body: Body) {
        self.send_with_term(to, self.term, body);
    }

    /// MsgProp and MsgReadIndex travel without a term (raft's "local" messages), so a
    /// leader that moved on to a newer term still accepts them.
    fn send_local(&mut self, to: MemberId, body: Body) {
        self.send_with_term(to, Term(0), body);
    }

    fn send_with_term(&mut self, to: MemberId, term: Term, body: Body) {
        self.msgs.push(Message { from: self.id, to, term, body });
    }

    // ---------------------------------------------------------------- role changes

    fn reset(&mut self, term: Term) {
        if self.term != term {
            self.term = term;
            self.vote = None;
        }
        self.lead = None;
        self.election_elapsed = 0;
        self.heartbeat_elapsed = 0;
        self.reset_randomized_election_timeout();
        if let Some(to) = self.lead_transferee.take() {
            self.events.push(RaftEvent::LeaderTransferAborted { to });
        }
        self.votes.clear();
        let next = self.log.last_index() + 1;
        let me = self.id;
        // Peers start inactive: a new leader must hear from a quorum within its first
        // election timeout (tracker.Progress is reset with RecentActive false).
        let fresh = |id: MemberId| {
            let mut p = Progress::new(next);
            p.recent_active = id == me;
            (id, p)
        };
        self.progress = self
            .config
            .voters
            .iter()
            .map(|&id| fresh(id))
            .chain(self.config.learners.iter().map(|&id| fresh(id)))
            .collect();
        self.pending_conf_index = 0;
        self.read_only.clear();
        self.pending_read_index.clear();
    }

    fn become_follower(&mut self, term: Term, lead: Option<MemberId>) {
        self.reset(term);
        self.lead = lead;
        self.role = Role::Follower;
    }

    fn become_pre_candidate(&mut self) {
        // Does not change term or vote: that is the point of PreVote.
        self.votes.clear();
        self.lead = None;
        self.role = Role::PreCandidate;
    }

    fn become_candidate(&mut self) {
        self.reset(Term(self.term.0 + 1));
        self.vote = Some(self.id);
        self.role = Role::Candidate;
    }

    fn become_leader(&mut self) {
        let votes = self.votes_granted();
        self.reset(self.term);
        self.lead = Some(self.id);
        self.role = Role::Leader;
        self.pending_conf_index = self.log.last_index();
        self.events.push(RaftEvent::BecameLeader { term: self.term, votes });
        // The empty entry that lets this leader commit entries of earlier terms.
        self.log.append_new(self.term, EntryKind::Empty);
    }

    fn votes_granted(&self) -> usize {
        self.votes.iter().filter(|(id, g)| **g && self.config.voters.contains(id)).count()
    }

    // ------------------------------------------------------------------- ticking

    /// One heartbeat interval passed.
    pub fn tick(&mut self) {
        if self.role == Role::Leader {
            self.tick_heartbeat();
        } else {
            self.tick_election();
        }
    }

    fn tick_election(&mut self) {
        self.election_elapsed += 1;
        if self.promotable() && self.election_elapsed >= self.randomized_election_timeout {
            let waited = self.election_elapsed;
            self.election_elapsed = 0;
            self.hup(false, waited);
        }
    }

    fn tick_heartbeat(&mut self) {
        self.heartbeat_elapsed += 1;
        self.election_elapsed += 1;
        if self.election_elapsed >= self.cfg.election_tick {
            self.election_elapsed = 0;
            if self.cfg.check_quorum {
                self.check_quorum();
            }
            if self.role == Role::Leader
                && let Some(to) = self.lead_transferee.take()
            {
                self.events.push(RaftEvent::LeaderTransferAborted { to });
            }
        }
        if self.role != Role::Leader {
            return;
        }
        if self.heartbeat_elapsed >= self.cfg.heartbeat_tick {
            self.heartbeat_elapsed = 0;
            let ctx = self.read_only.back().map(|r| r.ctx);
            self.bcast_heartbeat(ctx);
        }
    }

    fn check_quorum(&mut self) {
        let active = self
            .config
            .voters
            .iter()
            .filter(|&&id| id == self.id || self.progress.get(&id).is_some_and(|p| p.recent_active))
            .count();
        let quorum = self.config.quorum();
        if active < quorum {
            self.events.push(RaftEvent::SteppedDownNoQuorum { term: self.term, active, quorum });
            self.become_follower(self.term, None);
            return;
        }
        let me = self.id;
        for (id, pr) in self.progress.iter_mut() {
            if *id != me {
                pr.recent_active = false;
            }
        }
    }

    // ---------------------------------------------------------------- campaigning

    fn hup(&mut self, transfer: bool, waited_ticks: u32) {
        if self.role == Role::Leader || !self.promotable() {
            return;
        }
        // etcd refuses to campaign with committed but unapplied membership changes.
        let unapplied_conf = (self.log.applied + 1..=self.log.committed)
            .any(|i| matches!(self.log.entry(i).map(|e| e.kind), Some(EntryKind::Conf(_))));
        if unapplied_conf {
            return;
        }
        self.campaign(self.cfg.pre_vote && !transfer, transfer, waited_ticks);
    }

    fn campaign(&mut self, pre: bool, transfer: bool, waited_ticks: u32) {
        let term = if pre {
            self.become_pre_candidate();
            Term(self.term.0 + 1)
        } else {
            self.become_candidate();
            self.term
        };
        self.events.push(RaftEvent::CampaignStarted { pre, term, transfer, waited_ticks });
        self.votes.insert(self.id, true);
        if self.poll_won() == Some(true) {
            self.advance_campaign(pre);
            return;
        }
        let (index, log_term) = (self.log.last_index(), self.log.last_term());
        let voters: Vec<MemberId> = self.config.voters.iter().copied().filter(|&v| v != self.id).collect();
        for v in voters {
            self.send_with_term(v, term, Body::Vote { pre, index, log_term, transfer });
        }
    }

    fn advance_campaign(&mut self, pre: bool) {
        if pre {
            self.campaign(false, false, 0);
        } else {
            self.become_leader();
            self.bcast_append();
        }
    }

    /// Some(true) = won, Some(false) = lost, None = still pending.
    fn poll_won(&self) -> Option<bool> {
        let quorum = self.config.quorum();
        let granted = self.votes_granted();
        let rejected = self.votes.iter().filter(|(id, g)| !**g && self.config.voters.contains(id)).count();
        if granted >= quorum {
            Some(true)
        } else if self.config.voters.len() - rejected < quorum {
            Some(false)
        } else {
            None
        }
    }

    // ------------------------------------------------------------------- stepping

    /// Handles one incoming message (raft.Step).
    pub fn step(&mut self, m: Message) -> Result<(), LogLost> {
        if m.term.0 == 0 {
            // Local message (forwarded proposal or read): no term check.
        } else if m.term > self.term {
            if let Body::Vote { transfer, .. } = m.body {
                let in_lease =
                    self.cfg.check_quorum && self.lead.is_some() && self.election_elapsed < self.cfg.election_tick;
                if !transfer && in_lease {
                    // We heard from a leader within the election timeout: ignore.
                    return Ok(());
                }
            }
            match m.body {
                Body::Vote { pre: true, .. } => {}
                Body::VoteResp { pre: true, reject: false } => {}
                _ => {
                    let lead = match m.body {
                        Body::Append { .. } | Body::Heartbeat { .. } | Body::Snapshot { .. } => Some(m.from),
                        _ => None,
                    };
                    self.events.push(RaftEvent::TermRaised {
                        from: m.from,
                        old: self.term,
                        new: m.term,
                        msg: m.body.name(),
                    });
                    self.become_follower(m.term, lead);
                }
            }
        } else if m.term < self.term {
            match m.body {
                Body::Heartbeat { .. } | Body::Append { .. } if self.cfg.check_quorum || self.cfg.pre_vote => {
                    // Tell a stale leader about the newer term so it steps down.
                    self.send(m.from, Body::AppendResp { index: 0, reject: false, reject_hint: 0, log_term: Term(0) });
                }
                Body::Vote { pre: true, .. } => {
                    self.send(m.from, Body::VoteResp { pre: true, reject: true });
                }
                _ => {}
            }
            return Ok(());
        }

        if let Body::Vote { pre, index, log_term, .. } = m.body {
            let can_vote = self.vote == Some(m.from)
                || (self.vote.is_none() && self.lead.is_none())
                || (pre && m.term > self.term);
            if can_vote && self.log.is_up_to_date(index, log_term) {
                self.send_with_term(m.from, m.term, Body::VoteResp { pre, reject: false });
                if !pre {
                    self.election_elapsed = 0;
                    self.vote = Some(m.from);
                }
            } else {
                self.send(m.from, Body::VoteResp { pre, reject: true });
            }
            return Ok(());
        }

        match self.role {
            Role::Leader => {
                self.step_leader(m);
                Ok(())
            }
            Role::PreCandidate | Role::Candidate => self.step_candidate(m),
            Role::Follower => self.step_follower(m),
        }
    }

    fn step_follower(&mut self, m: Message) -> Result<(), LogLost> {
        match m.body {
            Body::Propose { kind } => {
                // A proposal forwarded to us from a member with a stale view: pass it
                // on, or drop it silently like raft does without a leader.
                if let Some(lead) = self.lead {
                    self.send_local(lead, Body::Propose { kind });
                }
            }
            Body::Append { .. } => {
                self.election_elapsed = 0;
                self.lead = Some(m.from);
                self.handle_append(m)?;
            }
            Body::Heartbeat { commit, ctx } => {
                self.election_elapsed = 0;
                self.lead = Some(m.from);
                self.log.commit_to(commit)?;
                self.send(m.from, Body::HeartbeatResp { ctx });
            }
            Body::Snapshot { snapshot } => {
                self.election_elapsed = 0;
                self.lead = Some(m.from);
                self.handle_snapshot(m.from, *snapshot);
            }
            Body::TransferLeader { transferee } => {
                if let Some(lead) = self.lead {
                    self.send(lead, Body::TransferLeader { transferee });
                }
            }
            Body::TimeoutNow => self.hup(true, 0),
            Body::ReadIndex { ctx } => {
                if let Some(lead) = self.lead {
                    self.send_local(lead, Body::ReadIndex { ctx });
                }
            }
            Body::ReadIndexResp { ctx, index } => self.read_states.push((ctx, index)),
            _ => {}
        }
        Ok(())
    }

    fn step_candidate(&mut self, m: Message) -> Result<(), LogLost> {
        let pre = self.role == Role::PreCandidate;
        match m.body {
            Body::Propose { .. } => {}
            Body::Append { .. } | Body::Heartbeat { .. } | Body::Snapshot { .. } => {
                self.become_follower(m.term, Some(m.from));
                return self.step_follower(m);
            }
            Body::VoteResp { pre: resp_pre, reject } if resp_pre == pre => {
                self.votes.entry(m.from).or_insert(!reject);
                match self.poll_won() {
                    Some(true) => self.advance_campaign(pre),
                    Some(false) => {
                        self.events.push(RaftEvent::LostElection { pre, term: self.term });
                        self.become_follower(self.term, None);
                    }
                    None => {}
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn step_leader(&mut self, m: Message) {
        match m.body {
            Body::Propose { kind } => {
                // A follower's forwarded proposal; if dropped here its client times out.
                let _ = self.propose(kind);
                return;
            }
            Body::ReadIndex { ctx } => {
                self.read_index(m.from, ctx);
                return;
            }
            Body::TransferLeader { transferee } => {
                self.transfer_leadership(transferee);
                return;
            }
            _ => {}
        }
        let last = self.log.last_index();
        let max_inflight = self.cfg.max_inflight;
        let Some(pr) = self.progress.get_mut(&m.from) else { return };
        match m.body {
            Body::AppendResp { index, reject, reject_hint, log_term } => {
                pr.recent_active = true;
                if reject {
                    let hint = if log_term.0 > 0 {
                        self.log.find_conflict_by_term(reject_hint, log_term).0
                    } else {
                        reject_hint
                    };
                    let pr = self.progress.get_mut(&m.from).expect("checked above");
                    if pr.maybe_decr_to(index, hint) {
                        if pr.state == ProgressState::Replicate {
                            pr.become_probe();
                        }
                        self.send_append(m.from);
                    }
                    return;
                }
                let old_paused = pr.is_paused(max_inflight);
                let first_index = self.log.first_index();
                if pr.maybe_update(index) || (pr.matched == index && pr.state == ProgressState::Probe) {
                    match pr.state {
                        ProgressState::Probe => pr.become_replicate(),
                        ProgressState::Snapshot { .. } if pr.matched + 1 >= first_index => {
                            pr.become_probe();
                            pr.become_replicate();
                        }
                        _ => {}
                    }
                    if self.maybe_commit() {
                        self.release_pending_read_index();
                        self.bcast_append();
                    } else if old_paused {
                        self.send_append(m.from);
                    }
                    // Keep sending while there is more to send and room in flight.
                    while self.progress.get(&m.from).is_some_and(|p| p.next <= last && !p.is_paused(max_inflight)) {
                        if !self.send_append(m.from) {
                            break;
                        }
                    }
                    if self.lead_transferee == Some(m.from)
                        && self.progress.get(&m.from).is_some_and(|p| p.matched == self.log.last_index())
                    {
                        self.send(m.from, Body::TimeoutNow);
                    }
                }
            }
            Body::HeartbeatResp { ctx } => {
                pr.recent_active = true;
                pr.paused = false;
                if pr.state == ProgressState::Replicate && pr.inflights_full(max_inflight) {
                    pr.free_first_inflight();
                }
                if pr.matched < last || pr.state == ProgressState::Probe {
                    self.send_append(m.from);
                }
                if let Some(ctx) = ctx {
                    self.recv_read_ack(m.from, ctx);
                }
            }
            _ => {}
        }
    }

    fn handle_append(&mut self, m: Message) -> Result<(), LogLost> {
        let Body::Append { index, log_term, entries, commit } = m.body else { return Ok(()) };
        if index < self.log.committed {
            let committed = self.log.committed;
            self.send(m.from, Body::AppendResp { index: committed, reject: false, reject_hint: 0, log_term: Term(0) });
            return Ok(());
        }
        match self.log.maybe_append(index, log_term, commit, &entries)? {
            Some(last_new) => self
                .send(m.from, Body::AppendResp { index: last_new, reject: false, reject_hint: 0, log_term: Term(0) }),
            None => {
                let (hint_index, hint_term) =
                    self.log.find_conflict_by_term(index.min(self.log.last_index()), log_term);
                self.send(
                    m.from,
                    Body::AppendResp { index, reject: true, reject_hint: hint_index, log_term: hint_term },
                );
            }
        }
        Ok(())
    }

    fn handle_snapshot(&mut self, from: MemberId, snap: SnapshotMeta) {
        let index = snap.index;
        if index <= self.log.committed {
            let committed = self.log.committed;
            self.send(from, Body::AppendResp { index: committed, reject: false, reject_hint: 0, log_term: Term(0) });
            return;
        }
        if self.log.match_term(index, snap.term) || !snap.config.contains(self.id) {
            // We already hold the snapshot's last entry (raft's restore() only
            // fast-forwards the commit then), or the snapshot's membership does not
            // include us: either way, report what we have committed.
            if self.log.match_term(index, snap.term) {
                let _ = self.log.commit_to(index);
            }
            let committed = self.log.committed;
            self.send(from, Body::AppendResp { index: committed, reject: false, reject_hint: 0, log_term: Term(0) });
            return;
        }
        self.config = snap.config.clone();
        self.log.restore_snapshot(snap);
        let last = self.log.last_index();
        self.send(from, Body::AppendResp { index: last, reject: false, reject_hint: 0, log_term: Term(0) });
    }

    // ------------------------------------------------------------------ leader ops

    /// A proposal arriving at this member from its own client. A follower forwards it
    /// to the leader it knows.
    pub fn propose(&mut self, kind: EntryKind) -> Result<(), ProposalError> {
        match self.role {
            Role::Leader => {}
            Role::Follower => {
                let Some(lead) = self.lead else { return Err(ProposalError::Dropped("no leader")) };
                self.send_local(lead, Body::Propose { kind });
                return Ok(());
            }
            Role::PreCandidate | Role::Candidate => return Err(ProposalError::Dropped("no leader")),
        }
        if self.lead_transferee.is_some() {
            return Err(ProposalError::Dropped("leadership transfer in progress"));
        }
        if !self.progress.contains_key(&self.id) {
            return Err(ProposalError::Dropped("leader was removed from the cluster"));
        }
        let (kind, result) = match kind {
            EntryKind::Conf(_) if self.pending_conf_index > self.log.applied => {
                (EntryKind::Empty, Err(ProposalError::ConfChangePending))
            }
            other => (other, Ok(())),
        };
        let index = self.log.append_new(self.term, kind);
        if matches!(kind, EntryKind::Conf(_)) {
            self.pending_conf_index = index;
        }
        self.bcast_append();
        result
    }

    fn transfer_leadership(&mut self, to: MemberId) {
        if to == self.id || !self.config.voters.contains(&to) {
            return;
        }
        if self.lead_transferee == Some(to) {
            return;
        }
        self.lead_transferee = Some(to);
        self.election_elapsed = 0;
        self.events.push(RaftEvent::LeaderTransferStarted { to });
        if self.progress.get(&to).is_some_and(|p| p.matched == self.log.last_index()) {
            self.send(to, Body::TimeoutNow);
        } else {
            self.send_append(to);
        }
    }

    /// Asks the leader (directly or through the follower's forwarding) to hand over.
    pub fn request_transfer(&mut self, to: MemberId) {
        match self.role {
            Role::Leader => self.transfer_leadership(to),
            _ => {
                if let Some(lead) = self.lead {
                    self.send(lead, Body::TransferLeader { transferee: to });
                }
            }
        }
    }

    fn maybe_commit(&mut self) -> bool {
        // Clusters have at most a handful of voters: no allocation.
        let n = self.config.voters.len();
        let mci = if n <= 16 {
            let mut buf = [0 as LogIndex; 16];
            self.quorum_matched(&mut buf[..n])
        } else {
            self.quorum_matched(&mut vec![0; n])
        };
        match mci {
            Some(mci) if mci > self.log.committed && self.log.term(mci) == Some(self.term) => {
                self.log.committed = mci;
                true
            }
            _ => false,
        }
    }

    /// The highest index a quorum of voters has matched, using `matched` (one slot per
    /// voter) as scratch space; None without voters.
    fn quorum_matched(&self, matched: &mut [LogIndex]) -> Option<LogIndex> {
        // Both the voters and the progress map are in id order, so one walk over each
        // pairs them up; a voter without progress counts as matching nothing.
        let mut p = 0;
        for (slot, &id) in matched.iter_mut().zip(&self.config.voters) {
            while p < self.progress.len() && self.progress.at(p).0 < id {
                p += 1;
            }
            *slot = match p < self.progress.len() {
                true if self.progress.at(p).0 == id => self.progress.at(p).1.matched,
                _ => 0,
            };
        }
        // Sorted high to low, the quorum-th is matched by a quorum. An insertion sort:
        // for three or five values it is a few comparisons, less than the general
        // sort's setup.
        for i in 1..matched.len() {
            let v = matched[i];
            let mut j = i;
            while j > 0 && matched[j - 1] < v {
                matched[j] = matched[j - 1];
                j -= 1;
            }
            matched[j] = v;
        }
        matched.get(self.config.quorum() - 1).copied()
    }

    fn committed_entry_in_current_term(&self) -> bool {
        self.log.term(self.log.committed) == Some(self.term)
    }

    /// Sends what the follower needs next; false if nothing was sent.
    fn send_append(&mut self, to: MemberId) -> bool {
        if to == self.id {
            return false;
        }
        let max_inflight = self.cfg.max_inflight;
        let Some(pr) = self.progress.get(&to) else { return false };
        if pr.is_paused(max_inflight) {
            return false;
        }
        let next = pr.next;
        let prev_term = self.log.term(next - 1);
        let entries = self.log.entries_from(next, self.cfg.max_entries_per_msg);
        match (prev_term, entries) {
            (Some(log_term), Some(entries)) => {
                let n = entries.len();
                let last = next - 1 + n as u64;
                let commit = self.log.committed;
                self.send(to, Body::Append { index: next - 1, log_term, entries, commit });
                self.progress.get_mut(&to).expect("exists").sent_entries(last, n);
                true
            }
            _ => {
                // Compacted away: the follower needs the snapshot.
                if !pr.recent_active {
                    return false;
                }
                let snapshot = Box::new(self.log.snapshot.clone());
                let pending = snapshot.index;
                self.send(to, Body::Snapshot { snapshot });
                self.progress.get_mut(&to).expect("exists").become_snapshot(pending);
                true
            }
        }
    }

    fn bcast_append(&mut self) {
        // Walk the peers in id order by position, so send_append may borrow self
        // mutably: it changes a peer's progress but never adds or removes one.
        for i in 0..self.progress.len() {
            let (id, _) = self.progress.at(i);
            if id != self.id {
                self.send_append(id);
            }
        }
    }

    fn bcast_heartbeat(&mut self, ctx: Option<ReadId>) {
        let commit = self.log.committed;
        for i in 0..self.progress.len() {
            let (id, p) = self.progress.at(i);
            if id != self.id {
                let matched = p.matched;
                self.send(id, Body::Heartbeat { commit: commit.min(matched), ctx });
            }
        }
    }

    // --------------------------------------------------------------------- reads

    /// A linearizable read at this member (ReadIndex, ReadOnlySafe).
    pub fn read_index_local(&mut self, ctx: ReadId) {
        if self.role == Role::Leader {
            self.read_index(self.id, ctx);
        } else if let Some(lead) = self.lead {
            self.send_local(lead, Body::ReadIndex { ctx });
        }
        // No leader: the request is dropped; the server layer retries it.
    }

    fn read_index(&mut self, from: MemberId, ctx: ReadId) {
        if self.config.voters.len() == 1 {
            self.respond_read(from, ctx, self.log.committed);
            return;
        }
        if !self.committed_entry_in_current_term() {
            self.pending_read_index.push((from, ctx));
            return;
        }
        let mut acks = self.spare_acks.pop().unwrap_or_default();
        acks.push(self.id);
        self.read_only.push_back(ReadRequest { ctx, index: self.log.committed, from, acks });
        self.bcast_heartbeat(Some(ctx));
    }

    fn release_pending_read_index(&mut self) {
        if !self.committed_entry_in_current_term() {
            return;
        }
        for (from, ctx) in std::mem::take(&mut self.pending_read_index) {
            self.read_index(from, ctx);
        }
    }

    fn respond_read(&mut self, from: MemberId, ctx: ReadId, index: LogIndex) {
        if from == self.id {
            self.read_states.push((ctx, index));
        } else {
            self.send(from, Body::ReadIndexResp { ctx, index });
        }
    }

    fn recv_read_ack(&mut self, from: MemberId, ctx: ReadId) {
        let Some(pos) = self.read_only.iter().position(|r| r.ctx == ctx) else { return };
        let req = &mut self.read_only[pos];
        if !req.acks.contains(&from) {
            req.acks.push(from);
        }
        let acked = req.acks.iter().filter(|id| self.config.voters.contains(id)).count();
        if acked < self.config.quorum() {
            return;
        }
        // A quorum confirmed leadership after this request: it and all earlier ones
        // may be served, oldest first. Answering touches no read request, so they are
        // taken off the queue one at a time rather than collected first.
        for _ in 0..=pos {
            let Some(mut r) = self.read_only.pop_front() else { break };
            self.respond_read(r.from, r.ctx, r.index);
            r.acks.clear();
            self.spare_acks.push(r.acks);
        }
    }

    // ------------------------------------------------------- persistence and apply

    /// Whether `take_write` has anything to hand to the disk: a new term or vote, entries
    /// not yet stable, or a restored snapshot. A commit index that moved alone needs no
    /// fsync (raft's `MustSync`; etcd's WAL writes it unsynced), so the model leaves it
    /// for the next batch: a crash before then restarts with the older commit index,
    /// which the leader raises again. Inlined: the event loop asks after every step, and
    /// nearly always the answer is no.
    #[inline]
    pub fn write_due(&self) -> bool {
        self.term != self.last_hard.term
            || self.vote != self.last_hard.vote
            || self.log.stabled < self.log.last_index()
            || self.log.snapshot_unstable
    }

    /// State to hand to the disk now, if any (the persistence half of raft's Ready).
    /// Returns None when nothing needs an fsync.
    pub fn take_write(&mut self) -> Option<WriteBatch> {
        if !self.write_due() {
            return None;
        }
        let hard = self.hard_state();
        let snapshot = self.log.snapshot_unstable.then(|| Box::new(self.log.snapshot.clone()));
        let mut entries = std::mem::take(&mut self.spare_write_entries);
        let first = self.log.unstable_entries_into(&mut entries);
        self.log.stabled = self.log.last_index();
        self.log.snapshot_unstable = false;
        self.last_hard = hard;
        Some(WriteBatch { hard, snapshot, first, entries })
    }

    /// Takes back the entry list of a batch the disk finished, for the next batch.
    pub fn recycle_write(&mut self, batch: WriteBatch) {
        let mut entries = batch.entries;
        entries.clear();
        self.spare_write_entries = entries;
    }

    /// The disk finished a batch. The leader counts its own copy now.
    pub fn on_persisted(&mut self, batch: &WriteBatch) {
        if self.role != Role::Leader {
            return;
        }
        let last = batch.last_index();
        let Some(term) = batch.last_term() else { return };
        if self.log.term(last) != Some(term) {
            return;
        }
        let me = self.id;
        if let Some(pr) = self.progress.get_mut(&me)
            && pr.maybe_update(last)
            && self.maybe_commit()
        {
            self.release_pending_read_index();
            self.bcast_append();
        }
    }

    /// Committed entries not yet applied; marks them applied. Membership changes take
    /// effect here, as when etcd calls ApplyConfChange.
    pub fn take_committed(&mut self, out: &mut Vec<(LogIndex, crate::model::etcd::message::Entry)>) {
        let lo = self.log.applied + 1;
        let hi = self.log.committed;
        for i in lo..=hi {
            if let Some(e) = self.log.entry(i).copied() {
                if let EntryKind::Conf(cc) = e.kind {
                    self.apply_conf_change(cc);
                }
                out.push((i, e));
            }
        }
        self.log.applied = self.log.applied.max(hi);
    }

    fn apply_conf_change(&mut self, cc: ConfChange) {
        if !self.config.apply(cc) {
            return;
        }
        if self.role != Role::Leader {
            return;
        }
        let next = self.log.last_index() + 1;
        match cc {
            ConfChange::AddVoter(id) => {
                self.progress.get_or_insert_with(id, || Progress::new(next));
            }
            ConfChange::AddLearner(id) => {
                self.progress.get_or_insert_with(id, || Progress::new(next));
            }
            ConfChange::Remove(id) => {
                self.progress.remove(&id);
                if self.lead_transferee == Some(id) {
                    self.lead_transferee = None;
                    self.events.push(RaftEvent::LeaderTransferAborted { to: id });
                }
            }
        }
        if self.maybe_commit() {
            self.bcast_append();
        }
    }

    /// Records a local snapshot at the applied index and compacts the log, keeping
    /// `catch_up` entries for slow followers.
    pub fn compact(&mut self, catch_up: u64) -> SnapshotMeta {
        let applied = self.log.applied;
        let snap = SnapshotMeta {
            index: applied,
            term: self.log.term(applied).unwrap_or_default(),
            digest: self.log.digest(applied).unwrap_or_default(),
            config: self.config.clone(),
        };
        self.log.compact(snap.clone(), applied.saturating_sub(catch_up));
        snap
    }

    /// The transport could not deliver to `to` (rafthttp's ReportUnreachable).
    pub fn report_unreachable(&mut self, to: MemberId) {
        if self.role == Role::Leader
            && let Some(pr) = self.progress.get_mut(&to)
            && pr.state == ProgressState::Replicate
        {
            pr.become_probe();
        }
    }

    /// Sending a snapshot to `to` failed (ReportSnapshot with failure): probe again
    /// from the match point, after the next heartbeat response.
    pub fn report_snapshot_failed(&mut self, to: MemberId) {
        if self.role == Role::Leader
            && let Some(pr) = self.progress.get_mut(&to)
            && matches!(pr.state, ProgressState::Snapshot { .. })
        {
            pr.state = ProgressState::Snapshot { pending: 0 };
            pr.become_probe();
            pr.paused = true;
        }
    }

    /// A single-member (or first) cluster: what etcd's StartNode does with the
    /// initial peer list — one AddVoter entry per peer at term 1, all committed.
    pub fn bootstrap_durable(peers: &[MemberId]) -> DurableState {
        let mut log = RaftLog::restore_from(&DurableState::default());
        for &p in peers {
            log.append_new(Term(1), EntryKind::Conf(ConfChange::AddVoter(p)));
        }
        let (_, entries) = log.unstable_entries();
        DurableState {
            hard: HardState { term: Term(1), vote: None, commit: peers.len() as u64 },
            snapshot: SnapshotMeta::default(),
            entries,
        }
    }
}
