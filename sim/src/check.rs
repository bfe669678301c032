//! The invariant checker. It watches every run and records a violation, with the
//! simulated time and the seed, whenever one of Raft's safety properties breaks:
//!
//! - at most one leader per term (election safety);
//! - log matching: two logs holding an entry with the same index and term are
//!   identical up to it (checked with the chained digests of `Entry`);
//! - leader completeness: a new leader holds every entry committed before it;
//! - state machine safety: no two members apply different entries at one index;
//! - durability: every acknowledged write stays in the committed log.
//!
//! A violation is a finding about the run (and, outside deliberate data loss, a bug in
//! hasim's model); it never panics the simulation.

use std::collections::BTreeMap;
use std::fmt;

use crate::ids::{LogIndex, MemberId, Term, WriteId};
use crate::model::etcd::log::RaftLog;
use crate::model::etcd::message::{Entry, EntryKind};
use crate::time::SimTime;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ViolationKind {
    TwoLeadersInTerm,
    LogMatching,
    LeaderCompleteness,
    StateMachineSafety,
    AcknowledgedWriteLost,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub at: SimTime,
    pub seed: u64,
    pub kind: ViolationKind,
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}: {} (reproduce with seed={})", self.at, self.kind, self.detail, self.seed)
    }
}

/// What the cluster committed, index by index, as first applied by any member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommittedEntry {
    pub term: Term,
    pub kind: EntryKind,
    pub digest: u64,
}

pub struct Checker {
    seed: u64,
    leaders: BTreeMap<Term, MemberId>,
    /// committed[i - 1] is the entry at index i.
    committed: Vec<CommittedEntry>,
    /// When each index was first applied anywhere (its commit as clients see it).
    commit_times: Vec<SimTime>,
    acked: Vec<(WriteId, LogIndex)>,
    violations: Vec<Violation>,
}

impl Checker {
    pub fn new(seed: u64) -> Self {
        Checker {
            seed,
            leaders: BTreeMap::new(),
            committed: Vec::new(),
            commit_times: Vec::new(),
            acked: Vec::new(),
            violations: Vec::new(),
        }
    }

    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    pub fn committed(&self) -> &[CommittedEntry] {
        &self.committed
    }

    /// When index `i` was first applied by any member.
    pub fn commit_time(&self, i: LogIndex) -> Option<SimTime> {
        i.checked_sub(1).and_then(|k| self.commit_times.get(k as usize)).copied()
    }

    fn violate(&mut self, at: SimTime, kind: ViolationKind, detail: String) {
        self.violations.push(Violation { at, seed: self.seed, kind, detail });
    }

    fn committed_at(&self, i: LogIndex) -> Option<&CommittedEntry> {
        i.checked_sub(1).and_then(|k| self.committed.get(k as usize))
    }

    /// A member became leader of `term` with this log.
    pub fn on_leader(&mut self, at: SimTime, member: MemberId, term: Term, log: &RaftLog) {
        if let Some(&other) = self.leaders.get(&term) {
            if other != member {
                self.violate(
                    at,
                    ViolationKind::TwoLeadersInTerm,
                    format!("{member} and {other} were both elected leader of term {term}"),
                );
            }
        } else {
            self.leaders.insert(term, member);
        }
        // Leader completeness: the new leader's log must hold the committed prefix. The
        // entry it just appended is not counted: check below it.
        let known = self.committed.len() as u64;
        let check_at = known.min(log.last_index().saturating_sub(1));
        if known > log.last_index().saturating_sub(1) {
            self.violate(
                at,
                ViolationKind::LeaderCompleteness,
                format!(
                    "{member} won term {term} with log ending at {}, but {known} entries were already committed",
                    log.last_index().saturating_sub(1)
                ),
            );
            return;
        }
        if check_at >= log.first_index().saturating_sub(1)
            && let (Some(have), Some(want)) = (log.digest(check_at), self.committed_at(check_at).map(|c| c.digest))
            && have != want
        {
            self.violate(
                at,
                ViolationKind::LeaderCompleteness,
                format!(
                    "{member} won term {term} but its log differs from the committed log at or before index {check_at}"
                ),
            );
        }
    }

    /// A member applied `entry` at `index`.
    pub fn on_apply(&mut self, at: SimTime, member: MemberId, index: LogIndex, entry: &Entry) {
        let got = CommittedEntry { term: entry.term, kind: entry.kind, digest: entry.digest };
        let known = self.committed.len() as u64;
        if index <= known {
            let want = self.committed[(index - 1) as usize];
            if want.term != got.term || want.kind != got.kind || want.digest != got.digest {
                self.violate(
                    at,
                    ViolationKind::StateMachineSafety,
                    format!(
                        "{member} applied {:?} (term {}) at index {index}, but {:?} (term {}) was applied there before",
                        got.kind, got.term, want.kind, want.term
                    ),
                );
            }
        } else if index == known + 1 {
            self.committed.push(got);
            self.commit_times.push(at);
        } else {
            self.violate(
                at,
                ViolationKind::StateMachineSafety,
                format!("{member} applied index {index} although only {known} entries were committed before"),
            );
        }
    }

    /// A client was told its write succeeded.
    pub fn on_ack(&mut self, at: SimTime, write: WriteId, index: LogIndex) {
        match self.committed_at(index) {
            Some(c) if c.kind == EntryKind::Write(write) => self.acked.push((write, index)),
            _ => self.violate(
                at,
                ViolationKind::AcknowledgedWriteLost,
                format!("write {} was acknowledged at index {index}, which does not hold it", write.0),
            ),
        }
    }

    /// Log matching between every pair of logs.
    pub fn check_log_matching(&mut self, at: SimTime, logs: &[(MemberId, &RaftLog)]) {
        for (a_pos, (a_id, a)) in logs.iter().enumerate() {
            for (b_id, b) in &logs[a_pos + 1..] {
                let lo = a.first_index().max(b.first_index()).saturating_sub(1);
                let mut i = a.last_index().min(b.last_index());
                // Highest index in the overlap where both hold the same term.
                while i > lo && a.term(i) != b.term(i) {
                    i -= 1;
                }
                if i == 0 || a.term(i) != b.term(i) {
                    continue;
                }
                if a.digest(i) != b.digest(i) {
                    self.violate(
                        at,
                        ViolationKind::LogMatching,
                        format!(
                            "{a_id} and {b_id} both hold a term-{} entry at index {i} but their logs differ before it",
                            a.term(i).unwrap_or_default()
                        ),
                    );
                }
            }
        }
    }

    /// End of run: every acknowledged write must still be held by some member (a live
    /// log or a data directory), with the committed history up to it.
    pub fn check_durability(&mut self, at: SimTime, holders: &[(MemberId, Holder<'_>)]) {
        // Highest index up to which each holder agrees with the committed log.
        let agree: Vec<LogIndex> = holders.iter().map(|(_, h)| self.agreement(h)).collect();
        let best = agree.iter().copied().max().unwrap_or(0);
        let lost: Vec<(WriteId, LogIndex)> = self.acked.iter().copied().filter(|&(_, i)| i > best).collect();
        for (w, i) in lost {
            self.violate(
                at,
                ViolationKind::AcknowledgedWriteLost,
                format!("acknowledged write {} at index {i} is held by no member any more", w.0),
            );
        }
    }

    fn agreement(&self, h: &Holder<'_>) -> LogIndex {
        let (lo, hi) = (h.first_index().saturating_sub(1), h.last_index().min(self.committed.len() as u64));
        if hi < lo {
            return 0;
        }
        let matches =
            |i: LogIndex| i == 0 || (h.digest(i).is_some() && h.digest(i) == self.committed_at(i).map(|c| c.digest));
        if !matches(lo) {
            return 0;
        }
        // Digests chain over the prefix, so agreement is monotone: binary search.
        let (mut good, mut bad) = (lo, hi + 1);
        while bad - good > 1 {
            let mid = good + (bad - good) / 2;
            if matches(mid) { good = mid } else { bad = mid }
        }
        good
    }
}

/// A copy of a log that may hold acknowledged writes: a running member's memory or a
/// data directory.
pub enum Holder<'a> {
    Live(&'a RaftLog),
    Durable(&'a crate::model::etcd::log::DurableState),
}

impl Holder<'_> {
    fn first_index(&self) -> LogIndex {
        match self {
            Holder::Live(l) => l.first_index(),
            Holder::Durable(d) => d.snapshot.index + 1,
        }
    }
    fn last_index(&self) -> LogIndex {
        match self {
            Holder::Live(l) => l.last_index(),
            Holder::Durable(d) => d.last_index(),
        }
    }
    fn digest(&self, i: LogIndex) -> Option<u64> {
        match self {
            Holder::Live(l) => l.digest(i),
            Holder::Durable(d) => {
                if i == d.snapshot.index {
                    Some(d.snapshot.digest)
                } else if i > d.snapshot.index && i <= d.last_index() {
                    Some(d.entries[(i - d.snapshot.index - 1) as usize].digest)
                } else {
                    None
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(terms: &[u64]) -> RaftLog {
        RaftLog::with_terms(terms)
    }

    #[test]
    fn two_leaders_in_one_term_is_a_violation() {
        let mut c = Checker::new(5);
        c.on_leader(SimTime(1), MemberId(1), Term(2), &log(&[1, 2]));
        c.on_leader(SimTime(2), MemberId(1), Term(2), &log(&[1, 2]));
        assert!(c.violations().is_empty(), "the same leader reported twice is fine");
        c.on_leader(SimTime(3), MemberId(2), Term(2), &log(&[1, 2]));
        assert_eq!(c.violations()[0].kind, ViolationKind::TwoLeadersInTerm);
        assert!(c.violations()[0].to_string().contains("reproduce with seed=5"));
    }

    #[test]
    fn applying_a_different_entry_at_a_committed_index_is_a_violation() {
        let mut c = Checker::new(1);
        let a = log(&[1, 1]);
        let b = log(&[1, 3]);
        c.on_apply(SimTime(1), MemberId(1), 1, a.entry(1).unwrap());
        c.on_apply(SimTime(1), MemberId(1), 2, a.entry(2).unwrap());
        c.on_apply(SimTime(2), MemberId(2), 1, b.entry(1).unwrap());
        assert!(c.violations().is_empty());
        c.on_apply(SimTime(3), MemberId(2), 2, b.entry(2).unwrap());
        assert_eq!(c.violations()[0].kind, ViolationKind::StateMachineSafety);
    }

    #[test]
    fn a_leader_missing_committed_entries_breaks_leader_completeness() {
        let mut c = Checker::new(1);
        let full = log(&[1, 1, 1]);
        for i in 1..=3 {
            c.on_apply(SimTime(1), MemberId(1), i, full.entry(i).unwrap());
        }
        // Leader logs include the empty entry they just appended.
        c.on_leader(SimTime(2), MemberId(2), Term(2), &log(&[1, 1, 1, 2]));
        assert!(c.violations().is_empty());
        c.on_leader(SimTime(3), MemberId(3), Term(3), &log(&[1, 3]));
        assert_eq!(c.violations()[0].kind, ViolationKind::LeaderCompleteness);
    }

    #[test]
    fn logs_that_agree_on_a_term_but_not_the_history_break_log_matching() {
        let mut c = Checker::new(1);
        let (a, b) = (log(&[1, 1, 2]), log(&[1, 2, 2]));
        c.check_log_matching(SimTime(1), &[(MemberId(1), &a), (MemberId(2), &log(&[1, 1, 2, 2]))]);
        assert!(c.violations().is_empty());
        c.check_log_matching(SimTime(2), &[(MemberId(1), &a), (MemberId(2), &b)]);
        assert_eq!(c.violations()[0].kind, ViolationKind::LogMatching);
    }

    #[test]
    fn an_acknowledged_write_held_by_nobody_is_lost() {
        let mut c = Checker::new(9);
        let l = log(&[1, 1]);
        for i in 1..=2 {
            c.on_apply(SimTime(1), MemberId(1), i, l.entry(i).unwrap());
        }
        c.on_ack(SimTime(1), WriteId(1), 2);
        c.check_durability(SimTime(5), &[(MemberId(1), Holder::Live(&l))]);
        assert!(c.violations().is_empty());
        let short = log(&[1]);
        c.check_durability(SimTime(6), &[(MemberId(1), Holder::Live(&short))]);
        assert_eq!(c.violations()[0].kind, ViolationKind::AcknowledgedWriteLost);
    }
}
