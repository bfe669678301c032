//! The event queue: pending events in exact (time, sequence number) order.
//!
//! Ties at the same instant are broken by the order in which events were scheduled, so
//! the order of processing never depends on the queue's internal layout or on anything
//! outside the run.
//!
//! Nearly every event of a run is due within a fraction of a second (message deliveries,
//! fsyncs, ticks), so the near future is a calendar ring: `RING_BUCKETS` buckets of
//! 128 µs each, with a bitmap of the occupied ones. Each bucket is a small heap of its
//! own (usually one or two events), so pushing and popping cost a few instructions
//! instead of a walk down one heap of everything pending. Events beyond the ring's
//! horizon wait in a heap and move into the ring as time reaches them.
//!
//! Events scheduled a fixed delay ahead (request timeouts: thousands pending, nearly
//! all moot because the request finished first) come due in the order they were
//! scheduled. Each such delay gets its own FIFO lane. All share one sequence counter,
//! so the processing order is exactly what a single heap would give.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use crate::time::SimTime;

/// log2 of a bucket's width in microseconds (128 µs).
const BUCKET_BITS: u32 = 7;
/// Number of buckets in the ring (a power of two): 2,048 × 128 µs ≈ 262 ms ahead.
const RING_BUCKETS: usize = 2048;
const WORDS: usize = RING_BUCKETS / 64;

struct Scheduled<E> {
    at: SimTime,
    seq: u64,
    event: E,
}

impl<E> Scheduled<E> {
    fn key(&self) -> (SimTime, u64) {
        (self.at, self.seq)
    }

    fn bucket(&self) -> u64 {
        self.at.0 >> BUCKET_BITS
    }
}

impl<E> PartialEq for Scheduled<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
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
        other.key().cmp(&self.key())
    }
}

/// Where the earliest pending event waits.
#[derive(Clone, Copy)]
enum Place {
    /// On top of the ring bucket in this slot.
    Ring(usize),
    /// On top of the far heap (only when the ring is empty).
    Far,
    Lane(usize),
}

/// Pending events of one simulation run.
///
/// Invariants: every ring entry's bucket number lies in `[base, base + RING_BUCKETS)` and
/// sits in slot `bucket % RING_BUCKETS`, except entries pushed for an instant already
/// passed, which sit in `base`'s slot; every far entry's bucket number is at least
/// `base + RING_BUCKETS`. So the earliest ring entry is in the first occupied slot from
/// `base` on, and precedes every far entry.
pub struct EventQueue<E> {
    /// Each bucket is itself a small min-heap, so a crowded bucket (many events due
    /// within 128 µs) still pops in logarithmic time.
    ring: Vec<BinaryHeap<Scheduled<E>>>,
    /// Bit `slot` set = `ring[slot]` is not empty.
    occupied: [u64; WORDS],
    ring_len: usize,
    /// Bucket number of the earliest instant the ring covers.
    base: u64,
    far: BinaryHeap<Scheduled<E>>,
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
        Self::with_capacity(0)
    }

    /// `n` is a hint for how many events will be pending beyond the ring's horizon.
    pub fn with_capacity(n: usize) -> Self {
        EventQueue {
            ring: std::iter::repeat_with(BinaryHeap::new).take(RING_BUCKETS).collect(),
            occupied: [0; WORDS],
            ring_len: 0,
            base: 0,
            far: BinaryHeap::with_capacity(n),
            lanes: Vec::new(),
            next_seq: 0,
            popped: 0,
        }
    }

    pub fn push(&mut self, at: SimTime, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.place(Scheduled { at, seq, event });
    }

    /// Puts an entry in the ring or, beyond its horizon, in the far heap.
    fn place(&mut self, s: Scheduled<E>) {
        let bucket = s.bucket().max(self.base);
        if bucket - self.base >= RING_BUCKETS as u64 {
            self.far.push(s);
            return;
        }
        let slot = bucket as usize % RING_BUCKETS;
        self.ring[slot].push(s);
        self.occupied[slot / 64] |= 1 << (slot % 64);
        self.ring_len += 1;
    }

    /// Like `push`, for events whose times never decrease from one call to the next
    /// within `lane` (one fixed delay after "now" per lane). Falls back to the ring if
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

    /// The first occupied ring slot at or after `base` (the ring must not be empty).
    fn first_occupied(&self) -> usize {
        let start = self.base as usize % RING_BUCKETS;
        let (word, bit) = (start / 64, start % 64);
        let first = self.occupied[word] & (!0u64 << bit);
        if first != 0 {
            return word * 64 + first.trailing_zeros() as usize;
        }
        for step in 1..=WORDS {
            let w = (word + step) % WORDS;
            if self.occupied[w] != 0 {
                return w * 64 + self.occupied[w].trailing_zeros() as usize;
            }
        }
        unreachable!("first_occupied called on an empty ring")
    }

    /// Where the earliest event waits, with its key.
    fn earliest(&self) -> Option<(Place, (SimTime, u64))> {
        let mut best = if self.ring_len > 0 {
            let slot = self.first_occupied();
            self.ring[slot].peek().map(|s| (Place::Ring(slot), s.key()))
        } else {
            self.far.peek().map(|s| (Place::Far, s.key()))
        };
        for (i, lane) in self.lanes.iter().enumerate() {
            if let Some(f) = lane.front()
                && best.is_none_or(|(_, key)| f.key() < key)
            {
                best = Some((Place::Lane(i), f.key()));
            }
        }
        best
    }

    fn take(&mut self, place: Place) -> Scheduled<E> {
        let s = match place {
            Place::Ring(slot) => {
                let bucket = &mut self.ring[slot];
                let s = bucket.pop().expect("earliest saw it");
                if bucket.is_empty() {
                    self.occupied[slot / 64] &= !(1 << (slot % 64));
                }
                self.ring_len -= 1;
                s
            }
            Place::Far => self.far.pop().expect("earliest saw it"),
            Place::Lane(lane) => self.lanes[lane].pop_front().expect("earliest saw it"),
        };
        self.advance_to(s.bucket());
        self.popped += 1;
        s
    }

    /// Moves the ring's start up to `bucket` (the earliest event's, just popped) and
    /// brings far events that are now within the horizon into the ring.
    fn advance_to(&mut self, bucket: u64) {
        if bucket <= self.base {
            return;
        }
        self.base = bucket;
        while let Some(top) = self.far.peek()
            && top.bucket().saturating_sub(self.base) < RING_BUCKETS as u64
        {
            let s = self.far.pop().expect("peeked");
            self.place(s);
        }
    }

    /// Removes and returns the earliest event.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let (place, _) = self.earliest()?;
        let s = self.take(place);
        Some((s.at, s.event))
    }

    /// Removes and returns the earliest event if it is due at or before `end`.
    pub fn pop_until(&mut self, end: SimTime) -> Option<(SimTime, E)> {
        let (place, (at, _)) = self.earliest()?;
        if at > end {
            return None;
        }
        let s = self.take(place);
        Some((s.at, s.event))
    }

    pub fn peek_time(&self) -> Option<SimTime> {
        self.earliest().map(|(_, (at, _))| at)
    }

    pub fn len(&self) -> usize {
        self.ring_len + self.far.len() + self.lanes.iter().map(VecDeque::len).sum::<usize>()
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

    /// The obvious queue: one binary heap over (time, sequence number).
    #[derive(Default)]
    struct Reference {
        heap: BinaryHeap<std::cmp::Reverse<(SimTime, u64, u64)>>,
        seq: u64,
    }

    impl Reference {
        fn push(&mut self, at: SimTime, v: u64) {
            self.heap.push(std::cmp::Reverse((at, self.seq, v)));
            self.seq += 1;
        }

        fn pop_until(&mut self, end: SimTime) -> Option<(SimTime, u64)> {
            let std::cmp::Reverse((at, _, _)) = self.heap.peek()?;
            if *at > end {
                return None;
            }
            self.heap.pop().map(|std::cmp::Reverse((at, _, v))| (at, v))
        }
    }

    /// One step of a random schedule.
    #[derive(Clone, Debug)]
    enum Op {
        /// Push at now + delay (delays reach past the ring's horizon).
        Push(u64),
        /// Push at an instant already passed (a fault injected "now" after a run stopped early).
        PushPast(u64),
        /// Push into a lane a fixed delay ahead.
        Lane(usize),
        /// Pop everything due within this many microseconds.
        Run(u64),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            6 => prop_oneof![0..300u64, 0..5_000u64, 0..2_000_000u64].prop_map(Op::Push),
            1 => (0..1_000u64).prop_map(Op::PushPast),
            2 => (0..2usize).prop_map(Op::Lane),
            3 => prop_oneof![0..200u64, 0..1_000_000u64].prop_map(Op::Run),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        #[test]
        fn pops_in_exactly_the_order_of_a_single_heap(ops in proptest::collection::vec(op(), 1..400)) {
            const LANE_DELAYS: [u64; 2] = [7_000_000, 40_000];
            let mut queue = EventQueue::new();
            let mut reference = Reference::default();
            let mut now = SimTime::ZERO;
            let mut lane_last = [SimTime::ZERO; 2];
            for (v, op) in ops.into_iter().enumerate() {
                let v = v as u64;
                match op {
                    Op::Push(d) => {
                        queue.push(SimTime(now.0 + d), v);
                        reference.push(SimTime(now.0 + d), v);
                    }
                    Op::PushPast(d) => {
                        let at = SimTime(now.0.saturating_sub(d));
                        queue.push(at, v);
                        reference.push(at, v);
                    }
                    Op::Lane(lane) => {
                        let at = SimTime(now.0 + LANE_DELAYS[lane]);
                        lane_last[lane] = at;
                        queue.push_in_order(lane, at, v);
                        reference.push(at, v);
                    }
                    Op::Run(d) => {
                        let end = SimTime(now.0 + d);
                        loop {
                            let got = queue.pop_until(end);
                            proptest::prop_assert_eq!(got, reference.pop_until(end));
                            match got {
                                Some((at, _)) => now = now.max(at),
                                None => break,
                            }
                        }
                        now = now.max(end);
                    }
                }
                proptest::prop_assert_eq!(queue.len(), reference.heap.len());
            }
            // A lane push that goes backwards falls back to the ring and keeps its order.
            let back = SimTime(lane_last[0].0.saturating_sub(1));
            queue.push_in_order(0, back, u64::MAX);
            reference.push(back, u64::MAX);
            while let Some(got) = queue.pop() {
                proptest::prop_assert_eq!(Some(got), reference.pop_until(SimTime(u64::MAX)));
            }
            proptest::prop_assert!(reference.heap.is_empty());
        }
    }
}
