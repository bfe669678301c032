//! The Raft log of one member (etcd-io/raft `log.go` and `MemoryStorage`) and what of it
//! survives a crash (etcd's WAL plus snapshot files).
//!
//! In memory the log is a window of entries after a compaction point; entries up to
//! `stabled` have been handed to the disk. The durable copy only changes when a write
//! batch's fsync completes, so a crash loses exactly what had not been fsynced.

use std::collections::VecDeque;

use crate::ids::{LogIndex, MemberId, Term};
use crate::model::etcd::message::{Entry, SnapshotMeta};

/// Term, vote and commit index, persisted with the entries (raftpb.HardState).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HardState {
    pub term: Term,
    pub vote: Option<MemberId>,
    pub commit: LogIndex,
}

/// A follower's log conflicts with a committed entry or is shorter than a commit index
/// it is told about. Real etcd panics here ("Was the raft log corrupted, truncated, or
/// lost?"); the model turns it into a crash of that member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLost {
    pub to_commit: LogIndex,
    pub last_index: LogIndex,
}

/// Entries a member's log and its WAL make room for when they start: a few simulated
/// minutes of tens of writes a second fit without the list being copied each time it
/// doubles (4,096 entries of 32 bytes, 128 KiB, which only costs memory as it fills).
const INITIAL_ENTRIES: usize = 4096;

#[derive(Clone, Debug)]
pub struct RaftLog {
    /// Index, term and digest of the entry just before `entries[0]` (compacted or the
    /// snapshot point).
    offset: LogIndex,
    offset_term: Term,
    offset_digest: u64,
    entries: VecDeque<Entry>,
    /// Latest snapshot, sent to followers that need entries we compacted away.
    pub snapshot: SnapshotMeta,
    pub committed: LogIndex,
    pub applied: LogIndex,
    /// Entries up to here have been handed to the disk in a write batch.
    pub stabled: LogIndex,
    /// A snapshot was restored from the leader and not yet handed to the disk.
    pub snapshot_unstable: bool,
}

impl RaftLog {
    /// A log restored from durable state (or empty, for a brand-new member).
    pub fn restore_from(durable: &DurableState) -> RaftLog {
        let snap = &durable.snapshot;
        let mut entries = VecDeque::with_capacity(INITIAL_ENTRIES.max(durable.entries.len()));
        entries.extend(durable.entries.iter().copied());
        let log = RaftLog {
            offset: snap.index,
            offset_term: snap.term,
            offset_digest: snap.digest,
            entries,
            snapshot: snap.clone(),
            committed: durable.hard.commit.max(snap.index),
            applied: snap.index,
            stabled: snap.index + durable.entries.len() as u64,
            snapshot_unstable: false,
        };
        debug_assert!(log.committed <= log.last_index());
        log
    }

    pub fn first_index(&self) -> LogIndex {
        self.offset + 1
    }

    pub fn last_index(&self) -> LogIndex {
        self.offset + self.entries.len() as u64
    }

    pub fn last_term(&self) -> Term {
        self.entries.back().map_or(self.offset_term, |e| e.term)
    }

    pub fn last_digest(&self) -> u64 {
        self.entries.back().map_or(self.offset_digest, |e| e.digest)
    }

    /// Term of the entry at `i`, or None if it is compacted away or beyond the end.
    pub fn term(&self, i: LogIndex) -> Option<Term> {
        if i == self.offset {
            Some(self.offset_term)
        } else if i < self.offset || i > self.last_index() {
            None
        } else {
            Some(self.entries[(i - self.offset - 1) as usize].term)
        }
    }

    /// Digest of the entry at `i` (see `Entry::digest`).
    pub fn digest(&self, i: LogIndex) -> Option<u64> {
        if i == self.offset {
            Some(self.offset_digest)
        } else if i < self.offset || i > self.last_index() {
            None
        } else {
            Some(self.entries[(i - self.offset - 1) as usize].digest)
        }
    }

    pub fn entry(&self, i: LogIndex) -> Option<&Entry> {
        if i <= self.offset || i > self.last_index() {
            None
        } else {
            Some(&self.entries[(i - self.offset - 1) as usize])
        }
    }

    pub fn match_term(&self, i: LogIndex, t: Term) -> bool {
        self.term(i) == Some(t)
    }

    /// Raft's election restriction: is a candidate's log at least as up to date?
    pub fn is_up_to_date(&self, last_index: LogIndex, last_term: Term) -> bool {
        last_term > self.last_term() || (last_term == self.last_term() && last_index >= self.last_index())
    }

    /// Up to `max` entries starting at `lo`; None if `lo` is compacted away.
    pub fn entries_from(&self, lo: LogIndex, max: usize) -> Option<Vec<Entry>> {
        if lo <= self.offset {
            return None;
        }
        let start = ((lo - self.offset - 1) as usize).min(self.entries.len());
        let end = start.saturating_add(max).min(self.entries.len());
        let mut out = Vec::with_capacity(end - start);
        out.extend(self.entries.range(start..end).copied());
        Some(out)
    }

    /// Appends one new entry at the end (a leader's own proposal).
    pub fn append_new(&mut self, term: Term, kind: crate::model::etcd::message::EntryKind) -> LogIndex {
        let e = Entry::chained(self.last_digest(), term, kind);
        self.entries.push_back(e);
        self.last_index()
    }

    /// Follower side of MsgApp (raftLog.maybeAppend). Returns the index of the last new
    /// entry when the previous entry matches, None when the leader must back up.
    pub fn maybe_append(
        &mut self,
        index: LogIndex,
        log_term: Term,
        commit: LogIndex,
        ents: &[Entry],
    ) -> Result<Option<LogIndex>, LogLost> {
        if !self.match_term(index, log_term) {
            return Ok(None);
        }
        let last_new = index + ents.len() as u64;
        // First entry whose term differs from ours (or that we do not have).
        let conflict =
            ents.iter().enumerate().map(|(k, e)| (index + 1 + k as u64, e)).find(|(i, e)| !self.match_term(*i, e.term));
        if let Some((ci, _)) = conflict {
            if ci <= self.committed {
                // Overwriting a committed entry: a Raft safety bug, never user input.
                return Err(LogLost { to_commit: self.committed, last_index: ci - 1 });
            }
            let from = (ci - index - 1) as usize;
            self.truncate_and_append(ci, &ents[from..]);
        }
        self.commit_to(commit.min(last_new))?;
        Ok(Some(last_new))
    }

    /// Replaces everything from `at` on with `ents`, recomputing each digest over our
    /// own prefix so that the digest really certifies this log's history.
    fn truncate_and_append(&mut self, at: LogIndex, ents: &[Entry]) {
        debug_assert!(at > self.offset);
        self.entries.truncate((at - self.offset - 1) as usize);
        self.stabled = self.stabled.min(at - 1);
        for e in ents {
            let chained = Entry::chained(self.last_digest(), e.term, e.kind);
            self.entries.push_back(chained);
        }
    }

    /// raftLog.commitTo: never decreases; a commit beyond our last index means our log
    /// was lost or truncated.
    pub fn commit_to(&mut self, to: LogIndex) -> Result<(), LogLost> {
        if to > self.committed {
            if to > self.last_index() {
                return Err(LogLost { to_commit: to, last_index: self.last_index() });
            }
            self.committed = to;
        }
        Ok(())
    }

    /// The leader's fast backtracking hint (raftLog.findConflictByTerm): the largest
    /// index <= `index` whose term is <= `term`, and that term.
    pub fn find_conflict_by_term(&self, index: LogIndex, term: Term) -> (LogIndex, Term) {
        let mut i = index.min(self.last_index());
        loop {
            match self.term(i) {
                Some(t) if t > term && i > self.offset => i -= 1,
                Some(t) => return (i, t),
                None => return (i, Term(0)),
            }
        }
    }

    /// Installs a snapshot received from the leader, discarding the whole log.
    pub fn restore_snapshot(&mut self, snap: SnapshotMeta) {
        self.offset = snap.index;
        self.offset_term = snap.term;
        self.offset_digest = snap.digest;
        self.entries.clear();
        self.committed = snap.index;
        self.applied = snap.index;
        self.stabled = snap.index;
        self.snapshot = snap;
        self.snapshot_unstable = true;
    }

    /// Records a snapshot at the applied index and drops entries up to `compact_to`,
    /// keeping a tail so slow followers can catch up without a snapshot
    /// (etcd's SnapshotCatchUpEntries).
    pub fn compact(&mut self, snapshot: SnapshotMeta, compact_to: LogIndex) {
        let compact_to = compact_to.min(self.applied).min(self.stabled);
        if compact_to > self.offset {
            self.offset_term = self.term(compact_to).unwrap_or(self.offset_term);
            self.offset_digest = self.digest(compact_to).unwrap_or(self.offset_digest);
            self.entries.drain(..(compact_to - self.offset) as usize);
            self.offset = compact_to;
        }
        self.snapshot = snapshot;
    }

    /// A log of writes with the given terms, for tests of code that reads logs.
    #[cfg(test)]
    pub(crate) fn with_terms(terms: &[u64]) -> RaftLog {
        let mut log = RaftLog::restore_from(&DurableState::default());
        for (i, t) in terms.iter().enumerate() {
            log.append_new(Term(*t), crate::model::etcd::message::EntryKind::Write(crate::ids::WriteId(i as u64)));
        }
        log
    }

    /// Entries that the disk does not have yet.
    pub fn unstable_entries(&self) -> (LogIndex, Vec<Entry>) {
        let mut entries = Vec::new();
        let from = self.unstable_entries_into(&mut entries);
        (from, entries)
    }

    /// Appends the entries that the disk does not have yet to `out` (a list kept for
    /// reuse), and returns the index of the first.
    pub fn unstable_entries_into(&self, out: &mut Vec<Entry>) -> LogIndex {
        let from = self.stabled + 1;
        if from > self.offset {
            let start = ((from - self.offset - 1) as usize).min(self.entries.len());
            out.extend(self.entries.range(start..).copied());
        }
        from
    }
}

/// What a member's data directory holds: the WAL's hard state and entries after the
/// last snapshot, and the snapshot.
#[derive(Clone, Debug, Default)]
pub struct DurableState {
    pub hard: HardState,
    pub snapshot: SnapshotMeta,
    pub entries: Vec<Entry>,
}

impl DurableState {
    pub fn last_index(&self) -> LogIndex {
        self.snapshot.index + self.entries.len() as u64
    }

    /// Makes a completed write batch durable.
    pub fn apply(&mut self, batch: &WriteBatch) {
        if let Some(snap) = &batch.snapshot {
            self.snapshot = SnapshotMeta::clone(snap);
            self.entries.clear();
        }
        // Entries the snapshot already covers (a compaction raced with this write) are
        // skipped; the rest overwrite the WAL from their first index on.
        let base = self.snapshot.index + 1;
        let skip = base.saturating_sub(batch.first) as usize;
        if skip < batch.entries.len() {
            let first = batch.first.max(base);
            debug_assert!(first <= self.last_index() + 1, "write batches are contiguous");
            self.entries.truncate((first - base) as usize);
            if self.entries.capacity() < INITIAL_ENTRIES {
                self.entries.reserve_exact(INITIAL_ENTRIES - self.entries.len());
            }
            self.entries.extend_from_slice(&batch.entries[skip..]);
        }
        self.hard = batch.hard;
        self.hard.commit = self.hard.commit.min(self.last_index());
    }

    /// A snapshot was saved and old WAL entries purged.
    pub fn compact(&mut self, snap: &SnapshotMeta) {
        if snap.index <= self.snapshot.index {
            return;
        }
        let drop = (snap.index - self.snapshot.index) as usize;
        if drop >= self.entries.len() {
            self.entries.clear();
        } else {
            self.entries.drain(..drop);
        }
        self.snapshot = snap.clone();
        self.hard.commit = self.hard.commit.clamp(snap.index, self.last_index());
    }
}

/// One Ready's worth of state handed to the disk: fsynced as a unit.
#[derive(Clone, Debug)]
pub struct WriteBatch {
    pub hard: HardState,
    /// Boxed, as in a MsgSnap: rarely there, and the batch is moved on every fsync.
    pub snapshot: Option<Box<SnapshotMeta>>,
    /// Index of `entries[0]`.
    pub first: LogIndex,
    pub entries: Vec<Entry>,
}

impl WriteBatch {
    pub fn last_index(&self) -> LogIndex {
        if self.entries.is_empty() {
            self.snapshot.as_ref().map_or(self.first.saturating_sub(1), |s| s.index.max(self.first.saturating_sub(1)))
        } else {
            self.first + self.entries.len() as u64 - 1
        }
    }

    pub fn last_term(&self) -> Option<Term> {
        self.entries.last().map(|e| e.term).or_else(|| self.snapshot.as_ref().map(|s| s.term))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_with_terms(terms: &[u64]) -> RaftLog {
        RaftLog::with_terms(terms)
    }

    #[test]
    fn conflicting_suffix_is_replaced_and_digests_follow_the_new_history() {
        let mut log = log_with_terms(&[1, 1, 2, 2]);
        let other = log_with_terms(&[1, 1, 3]);
        let ents: Vec<Entry> = vec![*other.entry(3).unwrap()];
        let last = log.maybe_append(2, Term(1), 0, &ents).unwrap();
        assert_eq!(last, Some(3));
        assert_eq!(log.last_index(), 3);
        assert_eq!(log.term(3), Some(Term(3)));
        assert_eq!(log.digest(3), other.digest(3), "same history gives the same digest");
    }

    #[test]
    fn append_with_mismatching_previous_entry_is_rejected() {
        let mut log = log_with_terms(&[1, 1]);
        assert_eq!(log.maybe_append(2, Term(2), 0, &[]).unwrap(), None);
        assert_eq!(log.maybe_append(5, Term(1), 0, &[]).unwrap(), None);
    }

    #[test]
    fn commit_beyond_the_log_is_reported_as_lost_log() {
        let mut log = log_with_terms(&[1]);
        assert_eq!(log.commit_to(5), Err(LogLost { to_commit: 5, last_index: 1 }));
    }

    #[test]
    fn find_conflict_by_term_skips_a_whole_term() {
        let log = log_with_terms(&[1, 1, 4, 4, 4]);
        assert_eq!(log.find_conflict_by_term(5, Term(2)), (2, Term(1)));
    }

    #[test]
    fn durable_state_keeps_only_completed_batches() {
        let mut d = DurableState::default();
        let log = log_with_terms(&[1, 1, 1]);
        let (first, entries) = log.unstable_entries();
        d.apply(&WriteBatch {
            hard: HardState { term: Term(1), vote: None, commit: 3 },
            snapshot: None,
            first,
            entries,
        });
        assert_eq!(d.last_index(), 3);
        let replacement = log_with_terms(&[1, 2]);
        d.apply(&WriteBatch {
            hard: HardState { term: Term(2), vote: None, commit: 9 },
            snapshot: None,
            first: 2,
            entries: vec![*replacement.entry(2).unwrap()],
        });
        assert_eq!(d.last_index(), 2);
        assert_eq!(d.hard.commit, 2, "commit never points past the durable log");
    }
}
