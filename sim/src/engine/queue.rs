//! The event queue: a min-heap ordered by (time, sequence number).
//!
//! Ties at the same instant are broken by the order in which events were scheduled, so
//! the order of processing never depends on the heap's internal layout or on anything
//! outside the run.
//!
//! Events scheduled a fixed delay ahead (request timeouts: thousands pending, nearly
//! all moot because the request finished first) come due in the order they were
//! scheduled. Each such delay gets its own FIFO lane instead of the heap, which keeps
//! the heap small; all share one sequence counter, so the processing order is exactly
//! what a single heap would give.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use crate::time::SimTime;

struct Scheduled<E> {
    at: SimTime,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Scheduled<E> {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at && self.seq == other.seq
    }
}
impl<E> Eq for Scheduled<E> {}
impl<E> PartialOrd for Scheduled<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Scheduled<E> {
    /// Reversed so that `BinaryHeap` (a max-heap) pops the earliest event first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// Pending events of one simulation run.
pub struct EventQueue<E> {
    heap: BinaryHeap<Scheduled<E>>,
    /// Per lane, events pushed with non-decreasing times (see `push_in_order`).
    lanes: Vec<VecDeque<Scheduled<E>>>,
    next_seq: u64,
    popped: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue { heap: BinaryHeap::new(), lanes: Vec::new(), next_seq: 0, popped: 0 }
    }

    pub fn with_capacity(n: usize) -> Self {
        EventQueue { heap: BinaryHeap::with_capacity(n), lanes: Vec::new(), next_seq: 0, popped: 0 }
    }

    pub fn push(&mut self, at: SimTime, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Scheduled { at, seq, event });
    }

    /// Like `push`, for events whose times never decrease from one call to the next
    /// within `lane` (one fixed delay after "now" per lane). Falls back to the heap if
    /// that ever fails to hold.
    pub fn push_in_order(&mut self, lane: usize, at: SimTime, event: E) {
        if self.lanes.len() <= lane {
            self.lanes.resize_with(lane + 1, VecDeque::new);
        }
        if self.lanes[lane].back().is_some_and(|last| last.at > at) {
            self.push(at, event);
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.lanes[lane].push_back(Scheduled { at, seq, event });
    }

    /// Where the earliest event waits: None for the heap, Some(lane) for a lane.
    fn earliest(&self) -> Option<Option<usize>> {
        let mut best = self.heap.peek().map(|s| ((s.at, s.seq), None));
        for (i, lane) in self.lanes.iter().enumerate() {
            if let Some(f) = lane.front()
                && best.is_none_or(|(key, _)| (f.at, f.seq) < key)
            {
                best = Some(((f.at, f.seq), Some(i)));
            }
        }
        best.map(|(_, place)| place)
    }

    /// Removes and returns the earliest event.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let s = match self.earliest()? {
            None => self.heap.pop()?,
            Some(lane) => self.lanes[lane].pop_front()?,
        };
        self.popped += 1;
        Some((s.at, s.event))
    }

    /// Removes and returns the earliest event if it is due at or before `end`.
    pub fn pop_until(&mut self, end: SimTime) -> Option<(SimTime, E)> {
        let place = self.earliest()?;
        let at = match place {
            None => self.heap.peek()?.at,
            Some(lane) => self.lanes[lane].front()?.at,
        };
        if at > end {
            return None;
        }
        let s = match place {
            None => self.heap.pop()?,
            Some(lane) => self.lanes[lane].pop_front()?,
        };
        self.popped += 1;
        Some((s.at, s.event))
    }

    pub fn peek_time(&self) -> Option<SimTime> {
        match self.earliest()? {
            None => self.heap.peek().map(|s| s.at),
            Some(lane) => self.lanes[lane].front().map(|s| s.at),
        }
    }

    pub fn len(&self) -> usize {
        self.heap.len() + self.lanes.iter().map(VecDeque::len).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many events have been processed (popped) so far.
    pub fn processed(&self) -> u64 {
        self.popped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_at_the_same_instant_pop_in_scheduling_order() {
        let mut q = EventQueue::new();
        q.push(SimTime(10), "b1");
        q.push(SimTime(5), "a");
        q.push(SimTime(10), "b2");
        q.push(SimTime(10), "b3");
        let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec!["a", "b1", "b2", "b3"]);
        assert_eq!(q.processed(), 4);
    }

    #[test]
    fn in_order_lane_interleaves_exactly_like_the_heap() {
        let mut mixed = EventQueue::new();
        let mut heap_only = EventQueue::new();
        let mut x: u64 = 7;
        for i in 0..2_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let t = SimTime(x % 500 + i);
            if i % 3 == 0 {
                mixed.push_in_order(0, SimTime(i + 100), i);
                heap_only.push(SimTime(i + 100), i);
            } else if i % 3 == 1 {
                mixed.push_in_order(1, SimTime(i + 40), i);
                heap_only.push(SimTime(i + 40), i);
            } else {
                mixed.push(t, i);
                heap_only.push(t, i);
            }
        }
        // A time that goes backwards falls back to the heap and keeps its order too.
        mixed.push_in_order(0, SimTime(3), 9_999);
        heap_only.push(SimTime(3), 9_999);
        let a: Vec<_> = std::iter::from_fn(|| mixed.pop()).collect();
        let b: Vec<_> = std::iter::from_fn(|| heap_only.pop()).collect();
        assert_eq!(a, b);
    }
}
