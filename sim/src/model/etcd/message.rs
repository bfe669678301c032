//! Raft messages exchanged between etcd members, mirroring etcd-io/raft's `raftpb`
//! message types that matter for availability and safety.

use crate::ids::{LogIndex, MemberId, ReadId, Term, WriteId};

/// A membership change carried in the log (etcd uses single-member changes only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfChange {
    /// Add a voter, or promote an existing learner to voter.
    AddVoter(MemberId),
    AddLearner(MemberId),
    Remove(MemberId),
}

impl ConfChange {
    pub fn member(self) -> MemberId {
        match self {
            ConfChange::AddVoter(m) | ConfChange::AddLearner(m) | ConfChange::Remove(m) => m,
        }
    }
}

/// What a log entry carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// The empty entry a new leader appends to commit entries of earlier terms.
    Empty,
    /// A client write (a key-value put from the apiserver's point of view).
    Write(WriteId),
    Conf(ConfChange),
}

impl EntryKind {
    fn code(self) -> u64 {
        match self {
            EntryKind::Empty => 1,
            EntryKind::Write(w) => (2 << 60) ^ w.0,
            EntryKind::Conf(ConfChange::AddVoter(m)) => (3 << 60) ^ m.0,
            EntryKind::Conf(ConfChange::AddLearner(m)) => (4 << 60) ^ m.0,
            EntryKind::Conf(ConfChange::Remove(m)) => (5 << 60) ^ m.0,
        }
    }
}

/// One log entry. Its index is implied by its position in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub term: Term,
    pub kind: EntryKind,
    /// A hash chained over this entry and every entry before it in the log that holds
    /// it. Two logs with equal digests at an index hold identical prefixes; the
    /// invariant checker uses this to verify Raft's log matching property cheaply.
    pub digest: u64,
}

impl Entry {
    /// Builds an entry that follows an entry whose digest is `prev_digest`.
    pub fn chained(prev_digest: u64, term: Term, kind: EntryKind) -> Entry {
        Entry { term, kind, digest: chain_digest(prev_digest, term, kind) }
    }
}

/// The chained digest: a SplitMix64 finaliser over the previous digest, term and kind.
pub fn chain_digest(prev: u64, term: Term, kind: EntryKind) -> u64 {
    let mut z = prev ^ term.0.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ kind.code().rotate_left(17);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The cluster membership as Raft sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberConfig {
    pub voters: MemberSet,
    pub learners: MemberSet,
}

/// A set of member ids, kept as a vector in id order. A cluster has a handful of
/// members, so a linear search answers `contains` for less than a tree's, and walking
/// the set is walking a slice: the leader does both for every entry it commits.
/// It offers the ordered set's methods and prints like one.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct MemberSet(Vec<MemberId>);

impl MemberSet {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, id: &MemberId) -> bool {
        self.0.contains(id)
    }

    /// Adds `id`, keeping id order; false if it was there already.
    pub fn insert(&mut self, id: MemberId) -> bool {
        match self.0.binary_search(&id) {
            Ok(_) => false,
            Err(i) => {
                self.0.insert(i, id);
                true
            }
        }
    }

    /// Removes `id`; false if it was not there.
    pub fn remove(&mut self, id: &MemberId) -> bool {
        match self.0.iter().position(|m| m == id) {
            Some(i) => {
                self.0.remove(i);
                true
            }
            None => false,
        }
    }

    /// The members in id order.
    pub fn iter(&self) -> std::slice::Iter<'_, MemberId> {
        self.0.iter()
    }
}

impl std::fmt::Debug for MemberSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(&self.0).finish()
    }
}

impl<'a> IntoIterator for &'a MemberSet {
    type Item = &'a MemberId;
    type IntoIter = std::slice::Iter<'a, MemberId>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl FromIterator<MemberId> for MemberSet {
    fn from_iter<I: IntoIterator<Item = MemberId>>(iter: I) -> Self {
        let mut set = MemberSet::default();
        for id in iter {
            set.insert(id);
        }
        set
    }
}

impl MemberConfig {
    /// floor(n/2)+1 of the voters.
    pub fn quorum(&self) -> usize {
        self.voters.len() / 2 + 1
    }

    pub fn contains(&self, id: MemberId) -> bool {
        self.voters.contains(&id) || self.learners.contains(&id)
    }

    /// Applies one membership change; returns false if it changed nothing.
    pub fn apply(&mut self, cc: ConfChange) -> bool {
        match cc {
            ConfChange::AddVoter(m) => {
                let promoted = self.learners.remove(&m);
                self.voters.insert(m) || promoted
            }
            ConfChange::AddLearner(m) => !self.voters.contains(&m) && self.learners.insert(m),
            ConfChange::Remove(m) => self.voters.remove(&m) | self.learners.remove(&m),
        }
    }
}

/// A snapshot's metadata. The state machine itself is summarised by the applied index,
/// which is all the availability and safety models need.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotMeta {
    pub index: LogIndex,
    pub term: Term,
    pub digest: u64,
    pub config: MemberConfig,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub from: MemberId,
    pub to: MemberId,
    pub term: Term,
    pub body: Body,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// MsgApp: entries after (`index`, `log_term`) and the leader's commit index.
    Append {
        index: LogIndex,
        log_term: Term,
        entries: Vec<Entry>,
        commit: LogIndex,
    },
    /// MsgAppResp: `index` is the follower's last matching index, or on rejection the
    /// index that was rejected with a hint where the logs may match.
    AppendResp {
        index: LogIndex,
        reject: bool,
        reject_hint: LogIndex,
        log_term: Term,
    },
    Heartbeat {
        commit: LogIndex,
        ctx: Option<ReadId>,
    },
    HeartbeatResp {
        ctx: Option<ReadId>,
    },
    /// MsgVote or MsgPreVote (`pre`); `transfer` marks a leadership-transfer campaign,
    /// which bypasses the leader-lease check.
    Vote {
        pre: bool,
        index: LogIndex,
        log_term: Term,
        transfer: bool,
    },
    VoteResp {
        pre: bool,
        reject: bool,
    },
    /// The snapshot is boxed: it carries the membership sets, and keeping them inline
    /// would make every message (all moved several times on their way) twice as big
    /// for a variant sent only to members that fell behind a compaction.
    Snapshot {
        snapshot: Box<SnapshotMeta>,
    },
    /// A proposal forwarded by a follower to the leader.
    Propose {
        kind: EntryKind,
    },
    ReadIndex {
        ctx: ReadId,
    },
    ReadIndexResp {
        ctx: ReadId,
        index: LogIndex,
    },
    TimeoutNow,
    /// A follower asks the leader to hand leadership to `transferee`.
    TransferLeader {
        transferee: MemberId,
    },
}

impl Body {
    /// Short upstream-style name, used in timelines.
    pub fn name(&self) -> &'static str {
        match self {
            Body::Append { .. } => "MsgApp",
            Body::AppendResp { .. } => "MsgAppResp",
            Body::Heartbeat { .. } => "MsgHeartbeat",
            Body::HeartbeatResp { .. } => "MsgHeartbeatResp",
            Body::Vote { pre: true, .. } => "MsgPreVote",
            Body::Vote { pre: false, .. } => "MsgVote",
            Body::VoteResp { pre: true, .. } => "MsgPreVoteResp",
            Body::VoteResp { pre: false, .. } => "MsgVoteResp",
            Body::Snapshot { .. } => "MsgSnap",
            Body::Propose { .. } => "MsgProp",
            Body::ReadIndex { .. } => "MsgReadIndex",
            Body::ReadIndexResp { .. } => "MsgReadIndexResp",
            Body::TimeoutNow => "MsgTimeoutNow",
            Body::TransferLeader { .. } => "MsgTransferLeader",
        }
    }
}
