//! The event queue: pending events in exact (time, sequence number) order.
//!
//! Ties at the same instant are broken by the order in which events were scheduled, so
//! the order of processing never depends on the queue's internal layout or on anything
//! outside the run.
//!
//! A run has only a few dozen events pending at once apart from its request timeouts
//! (about 40 on average in a three-node run), and nearly every new event is due within
//! a couple of milliseconds: a message on the wire, the next hop of a request. So up to
//! `NEAR` events are kept, each beside its 16-byte key, in a vector sorted latest
//! first. While nothing earlier waits elsewhere (below), taking the earliest event is a
//! pop from the end, with no sifting and none of the unpredictable branches a binary
//! heap pays on every pop; placing a new event scans back from the end past the few
//! events due before it, which is the whole of the work for nearly every push (a
//! binary search when more than a handful are, out of line). When more are pending,
//! the latest entries spill into a binary heap, so a run with thousands of timers
//! pending pays a heap's logarithmic cost rather than shifting a long vector; each pop
//! takes the earlier of the two. Events are small and moved with their keys, so there
//! is no separate store for them to be looked up in.
//!
//! Events scheduled a fixed delay ahead (request timeouts: thousands pending, nearly
//! all moot because the request finished first) come due in the order they were
//! scheduled. Each such delay gets its own FIFO lane, and the queue remembers which
//! lane's front is earliest, so a pop compares three keys whatever the number of
//! lanes. All share one sequence counter, so the processing order is exactly what a
//! single heap would give.
//!
//! The common pop and push are small and inlined into the event loop; the rest (the
//! heap, the lanes, long scans) is out of line.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};

use crate::time::SimTime;

/// How many events the sorted vector holds at most: more than a three-node run usually
/// has pending, few enough that shifting them is cheap. When it is full, an event later
/// than all of it goes straight to the heap; an earlier one goes in, and the vector's
/// latest half then spills into the heap at once, so the shift is paid once per
/// `NEAR / 2` events.
const NEAR: usize = 128;

/// How many keys `push` compares one by one from the early end before it switches to a
/// binary search: enough for the events due within the next few milliseconds.
const LINEAR_SCAN: usize = 16;

/// A key: time in the high word, sequence number in the low one. Comparing keys
/// compares (time, sequence number), and no two keys are equal, because sequence
/// numbers are unique.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key(u128);

impl Key {
    /// Later than every real key (a real one never has both the last instant and the
    /// last sequence number): what an empty part of the queue offers.
    const NONE: Key = Key(u128::MAX);

    fn new(at: SimTime, seq: u64) -> Key {
        Key((u128::from(at.0) << 64) | u128::from(seq))
    }

    fn at(self) -> SimTime {
        SimTime((self.0 >> 64) as u64)
    }
}

/// A pending event beside its key. Entries compare by key alone (for the heap).
struct Entry<E> {
    key: Key,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl<E> Eq for Entry<E> {}

impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

/// Pending events of one simulation run, with `LANES` FIFO lanes for fixed delays.
///
/// Invariants: `near` is in strictly decreasing key order (the earliest event last) and
/// holds at most `NEAR` entries; each lane's times never decrease front to back;
/// `lane_first` is the smallest key at the front of a lane (`Key::NONE` when every lane
/// is empty) and `lane_first_at` the lane it is in; `lane_fronts[i]` is the key at the
/// front of lane `i` (`Key::NONE` when it is empty). An entry may be in either `near` or
/// `far` whatever its time: which one only affects speed, as a pop takes the earlier of
/// the two.
pub struct EventQueue<E, const LANES: usize> {
    near: Vec<Entry<E>>,
    far: BinaryHeap<Reverse<Entry<E>>>,
    /// Per lane, events pushed with non-decreasing times (see `push_in_order`).
    lanes: [VecDeque<Entry<E>>; LANES],
    /// The key at the front of each lane (`Key::NONE` for an empty one), so finding
    /// the earliest front again compares a fixed number of keys, unrolled, instead of
    /// asking each ring for its front.
    lane_fronts: [Key; LANES],
    lane_first: Key,
    lane_first_at: usize,
    next_seq: u64,
    popped: u64,
}

impl<E, const LANES: usize> Default for EventQueue<E, LANES> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E, const LANES: usize> EventQueue<E, LANES> {
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// `n` is a hint for how many events will be pending outside the lanes.
    pub fn with_capacity(n: usize) -> Self {
        EventQueue {
            near: Vec::with_capacity(NEAR + 1),
            far: BinaryHeap::with_capacity(n.saturating_sub(NEAR)),
            lanes: std::array::from_fn(|_| VecDeque::new()),
            lane_fronts: [Key::NONE; LANES],
            lane_first: Key::NONE,
            lane_first_at: 0,
            next_seq: 0,
            popped: 0,
        }
    }

    fn next_key(&mut self, at: SimTime) -> Key {
        let seq = self.next_seq;
        self.next_seq += 1;
        Key::new(at, seq)
    }

    #[inline]
    pub fn push(&mut self, at: SimTime, event: E) {
        let key = self.next_key(at);
        // The common case: room in `near`, and only a few of its events are due before
        // this one. Keys after the insertion point are all earlier than `key`.
        let n = self.near.len();
        if n < NEAR {
            let stop = n.saturating_sub(LINEAR_SCAN);
            let mut pos = n;
            while pos > stop && self.near[pos - 1].key < key {
                pos -= 1;
            }
            if pos > stop || pos == 0 {
                self.near.insert(pos, Entry { key, event });
                return;
            }
        }
        self.push_slow(key, event);
    }

    /// `push` for an event that goes further back in `near` than a short scan reaches,
    /// or when `near` is full.
    #[inline(never)]
    fn push_slow(&mut self, key: Key, event: E) {
        if self.near.len() == NEAR && self.near[0].key < key {
            // Later than everything near: it waits in the heap.
            self.far.push(Reverse(Entry { key, event }));
            return;
        }
        let pos = self.near.partition_point(|e| e.key > key);
        self.near.insert(pos, Entry { key, event });
        if self.near.len() > NEAR {
            self.far.extend(self.near.drain(..NEAR / 2).map(Reverse));
        }
    }

    /// Like `push`, for events whose times never decrease from one call to the next
    /// within `lane` (one fixed delay after "now" per lane; `lane < LANES`). Falls back
    /// to `push` if that ever fails to hold. Inlined: it is a few loads and stores, and
    /// out of line it saved and restored six registers around them for every request.
    #[inline(always)]
    pub fn push_in_order(&mut self, lane: usize, at: SimTime, event: E) {
        let queue = &self.lanes[lane];
        if queue.back().is_some_and(|last| last.key.at() > at) {
            self.push(at, event);
            return;
        }
        let was_empty = queue.is_empty();
        let key = self.next_key(at);
        // Only a lane that was empty gets a new front.
        if was_empty {
            self.lane_fronts[lane] = key;
            if key < self.lane_first {
                self.lane_first = key;
                self.lane_first_at = lane;
            }
        }
        self.lanes[lane].push_back(Entry { key, event });
    }

    /// The key of the earliest event in the heap, or `Key::NONE`.
    fn far_first(&self) -> Key {
        self.far.peek().map_or(Key::NONE, |e| e.0.key)
    }

    /// Removes and returns the earliest event.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        self.pop_until(SimTime(u64::MAX))
    }

    /// Removes and returns the earliest event if it is due at or before `end`.
    #[inline]
    pub fn pop_until(&mut self, end: SimTime) -> Option<(SimTime, E)> {
        // The common case: the earliest event is the last of `near`. A key below
        // another is never `Key::NONE`, so `near` is not empty then.
        let near = self.near.last().map_or(Key::NONE, |e| e.key);
        if near < self.lane_first && near < self.far_first() {
            if near.at() > end {
                return None;
            }
            self.popped += 1;
            return self.near.pop().map(|e| (near.at(), e.event));
        }
        self.pop_slow(end, near)
    }

    /// `pop_until` when the earliest event is in the heap or a lane, or there is none.
    /// `near` did not come before both the earliest lane front and the heap's top, so
    /// the earlier of those two is the earliest event (keys are unique, so they are
    /// equal only when both are `Key::NONE`, and then so is `near`: nothing is pending).
    #[inline(never)]
    fn pop_slow(&mut self, end: SimTime, near: Key) -> Option<(SimTime, E)> {
        debug_assert!(near >= self.lane_first || near >= self.far_first());
        let far = self.far_first();
        let lane = self.lane_first;
        if lane < far {
            if lane.at() > end {
                return None;
            }
            self.popped += 1;
            let at = self.lane_first_at;
            let queue = &mut self.lanes[at];
            let event = queue.pop_front().map(|e| e.event);
            self.lane_fronts[at] = queue.front().map_or(Key::NONE, |e| e.key);
            self.find_lane_first();
            event.map(|e| (lane.at(), e))
        } else if far < lane {
            if far.at() > end {
                return None;
            }
            self.popped += 1;
            self.far.pop().map(|e| (far.at(), e.0.event))
        } else {
            None
        }
    }

    /// Finds the earliest lane front again after a lane's front was taken.
    fn find_lane_first(&mut self) {
        let mut first = Key::NONE;
        let mut first_at = 0;
        for (i, &key) in self.lane_fronts.iter().enumerate() {
            if key < first {
                first = key;
                first_at = i;
            }
        }
        self.lane_first = first;
        self.lane_first_at = first_at;
    }

    pub fn peek_time(&self) -> Option<SimTime> {
        let near = self.near.last().map_or(Key::NONE, |e| e.key);
        let best = near.min(self.far_first()).min(self.lane_first);
        (best != Key::NONE).then(|| best.at())
    }

    pub fn len(&self) -> usize {
        self.near.len() + self.far.len() + self.lanes.iter().map(VecDeque::len).sum::<usize>()
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
        let mut q: EventQueue<_, 0> = EventQueue::new();
        q.push(SimTime(10), "b1");
        q.push(SimTime(5), "a");
        q.push(SimTime(10), "b2");
        q.push(SimTime(10), "b3");
        let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec!["a", "b1", "b2", "b3"]);
        assert_eq!(q.processed(), 4);
    }

    #[test]
    fn many_pending_spill_into_the_heap_and_still_pop_in_order() {
        let mut q: EventQueue<_, 0> = EventQueue::new();
        let mut reference = Reference::default();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut now = 0;
        for round in 0..20u64 {
            // Far more than NEAR pending, at random times, some tied.
            for v in 0..300 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let at = SimTime(now + x % 5_000);
                q.push(at, round * 1_000 + v);
                reference.push(at, round * 1_000 + v);
            }
            assert!(q.far.len() >= NEAR && q.near.len() >= NEAR / 2);
            now += 2_000;
            while let Some(got) = reference.pop_until(SimTime(now)) {
                assert_eq!(q.pop_until(SimTime(now)), Some(got));
            }
            assert_eq!(q.pop_until(SimTime(now)), None);
        }
        while let Some(got) = q.pop() {
            assert_eq!(Some(got), reference.pop_until(SimTime(u64::MAX)));
        }
        assert!(reference.heap.is_empty());
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
        /// Push at now + delay (delays from microseconds to seconds).
        Push(u64),
        /// Push at an instant already passed (a fault injected "now" after a run stopped early).
        PushPast(u64),
        /// Push into a lane a fixed delay ahead.
        Lane(usize),
        /// Push many at once at now + these delays, so keys spill into the heap.
        Burst(Vec<u64>),
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
            1 => proptest::collection::vec(0..3_000_000u64, 100..300).prop_map(Op::Burst),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        #[test]
        fn pops_in_exactly_the_order_of_a_single_heap(ops in proptest::collection::vec(op(), 1..400)) {
            const LANE_DELAYS: [u64; 2] = [7_000_000, 40_000];
            let mut queue: EventQueue<_, 2> = EventQueue::new();
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
                    Op::Burst(delays) => {
                        for (i, d) in delays.into_iter().enumerate() {
                            let w = (v << 16) | i as u64;
                            queue.push(SimTime(now.0 + d), w);
                            reference.push(SimTime(now.0 + d), w);
                        }
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
            // A lane push that goes backwards falls back to `push` and keeps its order.
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
