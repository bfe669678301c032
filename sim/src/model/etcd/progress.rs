//! The leader's view of each follower's replication (etcd-io/raft `tracker/progress.go`):
//! probing for the match point, optimistic pipelining with an in-flight limit, and
//! waiting for a snapshot.

use std::collections::VecDeque;

use crate::ids::{LogIndex, MemberId};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressState {
    /// One MsgApp at a time until the match point is found.
    Probe,
    /// Streaming entries optimistically.
    Replicate,
    /// A snapshot at this index is on its way.
    Snapshot { pending: LogIndex },
}

#[derive(Clone, Debug)]
pub struct Progress {
    pub matched: LogIndex,
    pub next: LogIndex,
    pub state: ProgressState,
    /// In Probe, a MsgApp is outstanding (MsgAppFlowPaused).
    pub paused: bool,
    /// Heard from since the last CheckQuorum round.
    pub recent_active: bool,
    /// Last index of each MsgApp sent in Replicate state and not yet acknowledged.
    inflights: VecDeque<LogIndex>,
}

impl Progress {
    pub fn new(next: LogIndex) -> Self {
        Progress {
            matched: 0,
            next,
            state: ProgressState::Probe,
            paused: false,
            // A fresh progress counts as active so a new leader or a newly added member
            // does not fail its first CheckQuorum round.
            recent_active: true,
            inflights: VecDeque::new(),
        }
    }

    pub fn become_probe(&mut self) {
        let next = match self.state {
            ProgressState::Snapshot { pending } => (self.matched + 1).max(pending + 1),
            _ => self.matched + 1,
        };
        self.state = ProgressState::Probe;
        self.next = next;
        self.paused = false;
        self.inflights.clear();
    }

    pub fn become_replicate(&mut self) {
        self.state = ProgressState::Replicate;
        self.next = self.matched + 1;
        self.paused = false;
        self.inflights.clear();
    }

    pub fn become_snapshot(&mut self, pending: LogIndex) {
        self.state = ProgressState::Snapshot { pending };
        self.paused = false;
        self.inflights.clear();
    }

    /// A successful MsgAppResp up to `n`; true if it moved the match point.
    pub fn maybe_update(&mut self, n: LogIndex) -> bool {
        let updated = n > self.matched;
        if updated {
            self.matched = n;
            self.paused = false;
        }
        self.next = self.next.max(n + 1);
        while self.inflights.front().is_some_and(|&i| i <= n) {
            self.inflights.pop_front();
        }
        updated
    }

    /// A rejected MsgAppResp; true if it was not stale and `next` moved back.
    pub fn maybe_decr_to(&mut self, rejected: LogIndex, match_hint: LogIndex) -> bool {
        if self.state == ProgressState::Replicate {
            if rejected <= self.matched {
                return false;
            }
            self.next = self.matched + 1;
            return true;
        }
        if self.next.saturating_sub(1) != rejected {
            return false;
        }
        self.next = rejected.min(match_hint + 1).max(self.matched + 1);
        self.paused = false;
        true
    }

    /// Records that a MsgApp ending at `last` was sent.
    pub fn sent_entries(&mut self, last: LogIndex, n_entries: usize) {
        match self.state {
            ProgressState::Replicate => {
                if n_entries > 0 {
                    self.next = last + 1;
                    self.inflights.push_back(last);
                }
            }
            ProgressState::Probe => self.paused = n_entries > 0,
            ProgressState::Snapshot { .. } => {}
        }
    }

    pub fn is_paused(&self, max_inflight: usize) -> bool {
        match self.state {
            ProgressState::Probe => self.paused,
            ProgressState::Replicate => self.inflights.len() >= max_inflight,
            ProgressState::Snapshot { .. } => true,
        }
    }

    pub fn inflights_full(&self, max_inflight: usize) -> bool {
        self.inflights.len() >= max_inflight
    }

    pub fn free_first_inflight(&mut self) {
        self.inflights.pop_front();
    }
}

/// The leader's progress of each member, in member id order. A cluster has a handful of
/// members, so a vector kept sorted by id and searched linearly does what a tree did
/// for less: the leader looks a peer up several times for each message it takes in or
/// sends, and walks the peers in id order for each broadcast.
#[derive(Clone, Debug, Default)]
pub struct ProgressMap {
    entries: Vec<(MemberId, Progress)>,
}

impl ProgressMap {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The member at `i` in id order, and its progress.
    pub fn at(&self, i: usize) -> (MemberId, &Progress) {
        let (id, p) = &self.entries[i];
        (*id, p)
    }

    fn position(&self, id: MemberId) -> Option<usize> {
        self.entries.iter().position(|(m, _)| *m == id)
    }

    pub fn get(&self, id: &MemberId) -> Option<&Progress> {
        self.entries.iter().find(|(m, _)| m == id).map(|(_, p)| p)
    }

    pub fn get_mut(&mut self, id: &MemberId) -> Option<&mut Progress> {
        self.entries.iter_mut().find(|(m, _)| m == id).map(|(_, p)| p)
    }

    pub fn contains_key(&self, id: &MemberId) -> bool {
        self.position(*id).is_some()
    }

    /// Inserts or replaces `id`'s progress, keeping id order.
    pub fn insert(&mut self, id: MemberId, progress: Progress) -> Option<Progress> {
        match self.entries.binary_search_by(|(m, _)| m.cmp(&id)) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, progress)),
            Err(i) => {
                self.entries.insert(i, (id, progress));
                None
            }
        }
    }

    /// `id`'s progress, made by `make` if it has none yet.
    pub fn get_or_insert_with(&mut self, id: MemberId, make: impl FnOnce() -> Progress) -> &mut Progress {
        let i = match self.entries.binary_search_by(|(m, _)| m.cmp(&id)) {
            Ok(i) => i,
            Err(i) => {
                self.entries.insert(i, (id, make()));
                i
            }
        };
        &mut self.entries[i].1
    }

    pub fn remove(&mut self, id: &MemberId) -> Option<Progress> {
        let i = self.position(*id)?;
        Some(self.entries.remove(i).1)
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&MemberId, &mut Progress)> {
        self.entries.iter_mut().map(|(m, p)| (&*m, p))
    }
}

impl FromIterator<(MemberId, Progress)> for ProgressMap {
    /// Like collecting into an ordered map: a later entry for the same member wins.
    fn from_iter<I: IntoIterator<Item = (MemberId, Progress)>>(iter: I) -> Self {
        let mut map = ProgressMap::new();
        for (id, p) in iter {
            map.insert(id, p);
        }
        map
    }
}
