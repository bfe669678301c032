//! The leader's view of each follower's replication (etcd-io/raft `tracker/progress.go`):
//! probing for the match point, optimistic pipelining with an in-flight limit, and
//! waiting for a snapshot.

use std::collections::VecDeque;

use crate::ids::LogIndex;

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
