//! The event queue: pending events in exact (time, sequence number) order.
//!
//! Ties at the same instant are broken by the order in which events were scheduled, so
//! the order of processing never depends on the queue's internal layout or on anything
//! outside the run.
//!
//! A run has only a few dozen events pending at once apart from its request timeouts
//! (about 40 on average in a three-node run), and nearly every new event is due within
//! a couple of milliseconds: a message on the wire, the next hop of a request. So up to
//! `NEAR` 16-byte keys are kept in a vector sorted latest first. While nothing earlier
//! waits in the heap (below), taking the earliest event is a pop from the end, with no
//! sifting and none of the unpredictable branches a binary heap pays on every pop;
//! placing a new key scans back from the end past the few events due before it (a
//! binary search when more than a handful are). When more are pending, the latest keys
//! spill into a binary heap, so a run with thousands of timers pending pays a heap's
//! logarithmic cost rather than shifting a long vector; each pop takes the earlier of
//! the two.
//! Each key packs the event's time, sequence number and the slab slot that holds the
//! event itself; the events stay put in the slab until they are due, so only keys move.
//!
//! Events scheduled a fixed delay ahead (request timeouts: thousands pending, nearly
//! all moot because the request finished first) come due in the order they were
//! scheduled. Each such delay gets its own FIFO lane. All share one sequence counter,
//! so the processing order is exactly what a single heap would give.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use crate::time::SimTime;

/// Bits of a key's low word that hold the slab slot; the sequence number sits above.
const SLOT_BITS: u32 = 24;
const SLOT_MASK: u64 = (1 << SLOT_BITS) - 1;

/// How many keys the sorted vector holds at most: more than a three-node run usually
/// has pending, few enough that shifting them is cheap. When it is full, a key later
/// than all of it goes straight to the heap; an earlier one goes in, and the vector's
/// latest half then spills into the heap at once, so the shift is paid once per
/// `NEAR / 2` keys.
const NEAR: usize = 128;

/// How many keys `push` compares one by one from the early end before it switches to a
/// binary search: enough for the events due within the next few milliseconds.
const LINEAR_SCAN: usize = 16;

/// A key: time in the high word, then sequence number, then slab slot. Comparing
/// keys compares (time, sequence number), because sequence numbers are unique.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key(u128);

impl Key {
    fn new(at: SimTime, seq: u64, slot: usize) -> Key {
        debug_assert!(seq < 1 << (64 - SLOT_BITS) && (slot as u64) <= SLOT_MASK);
        Key((u128::from(at.0) << 64) | u128::from((seq << SLOT_BITS) | slot as u64))
    }

    fn at(self) -> SimTime {
        SimTime((self.0 >> 64) as u64)
    }

    fn slot(self) -> usize {
        (self.0 as u64 & SLOT_MASK) as usize
    }
}

/// An event in a lane, stored inline. Its key's slot bits are unused (left 0): only
/// near and far keys point into the slab, and sequence numbers alone keep keys unique.
struct Laned<E> {
    key: Key,
    event: E,
}

/// Where the earliest pending event waits.
#[derive(Clone, Copy)]
enum Place {
    Near,
    Far,
    Lane(usize),
}

/// Pending events of one simulation run.
///
/// Invariants: `near` is in strictly decreasing key order (the earliest event last) and
/// holds at most `NEAR` keys; every key in `near` or `far` names a slab slot holding
/// `Some` event, and every other slot is `None` and on the free list; each lane's times
/// never decrease front to back. A key may be in either `near` or `far` whatever its
/// time: which one only affects speed, as a pop takes the earlier of the two.
pub struct EventQueue<E> {
    near: Vec<Key>,
    far: BinaryHeap<Reverse<Key>>,
    slab: Vec<Option<E>>,
    free: Vec<u32>,
    /// Per lane, events pushed with non-decreasing times (see `push_in_order`).
    lanes: Vec<VecDeque<Laned<E>>>,
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

    /// `n` is a hint for how many events will be pending outside the lanes.
    pub fn with_capacity(n: usize) -> Self {
        EventQueue {
            near: Vec::with_capacity(NEAR + 1),
            far: BinaryHeap::with_capacity(n),
            slab: Vec::with_capacity(n),
            free: Vec::with_capacity(n),
            lanes: Vec::new(),
            next_seq: 0,
            popped: 0,
        }
    }

    pub fn push(&mut self, at: SimTime, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slab[slot as usize] = Some(event);
                slot as usize
            }
            None => {
                // More than 16 million events pending at once would mean a runaway
                // scenario; stop loudly rather than let slot numbers alias.
                assert!(self.slab.len() as u64 <= SLOT_MASK, "event queue overflow");
                self.slab.push(Some(event));
                self.slab.len() - 1
            }
        };
        let key = Key::new(at, seq, slot);
        if self.near.len() == NEAR && self.near[0] < key {
            // Later than everything near: it waits in the heap.
            self.far.push(Reverse(key));
            return;
        }
        // Keys after the insertion point are all earlier than `key`.
        let n = self.near.len();
        let window = n.saturating_sub(LINEAR_SCAN);
        let pos = match self.near[window..].iter().rposition(|k| *k > key) {
            Some(i) => window + i + 1,
            None if window == 0 => 0,
            None => self.near[..window].partition_point(|k| *k > key),
        };
        self.near.insert(pos, key);
        if self.near.len() > NEAR {
            self.far.extend(self.near.drain(..NEAR / 2).map(Reverse));
        }
    }

    /// Like `push`, for events whose times never decrease from one call to the next
    /// within `lane` (one fixed delay after "now" per lane). Falls back to `push` if
    /// that ever fails to hold.
    pub fn push_in_order(&mut self, lane: usize, at: SimTime, event: E) {
        if self.lanes.len() <= lane {
            self.lanes.resize_with(lane + 1, VecDeque::new);
        }
        if self.lanes[lane].back().is_some_and(|last| last.key.at() > at) {
            self.push(at, event);
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.lanes[lane].push_back(Laned { key: Key::new(at, seq, 0), event });
    }

    /// Where the earliest event waits, with its key. Keys compare as (time, sequence
    /// number) wherever they are kept, since no two share a sequence number.
    fn earliest(&self) -> Option<(Place, Key)> {
        let mut best = self.near.last().map(|&k| (Place::Near, k));
        if let Some(&Reverse(k)) = self.far.peek()
            && best.is_none_or(|(_, b)| k < b)
        {
            best = Some((Place::Far, k));
        }
        for (i, lane) in self.lanes.iter().enumerate() {
            if let Some(f) = lane.front()
                && best.is_none_or(|(_, b)| f.key < b)
            {
                best = Some((Place::Lane(i), f.key));
            }
        }
        best
    }

    /// Empties the slab slot a popped key names.
    fn take_slot(&mut self, key: Key) -> (SimTime, E) {
        let event = self.slab[key.slot()].take().expect("a key names a full slot");
        self.free.push(key.slot() as u32);
        (key.at(), event)
    }

    fn take(&mut self, place: Place) -> (SimTime, E) {
        self.popped += 1;
        match place {
            Place::Near => {
                let key = self.near.pop().expect("earliest saw it");
                self.take_slot(key)
            }
            Place::Far => {
                let Reverse(key) = self.far.pop().expect("earliest saw it");
                self.take_slot(key)
            }
            Place::Lane(lane) => {
                let s = self.lanes[lane].pop_front().expect("earliest saw it");
                (s.key.at(), s.event)
            }
        }
    }

    /// Removes and returns the earliest event.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let (place, _) = self.earliest()?;
        Some(self.take(place))
    }

    /// Removes and returns the earliest event if it is due at or before `end`.
    pub fn pop_until(&mut self, end: SimTime) -> Option<(SimTime, E)> {
        let (place, key) = self.earliest()?;
        if key.at() > end {
            return None;
        }
        Some(self.take(place))
    }

    pub fn peek_time(&self) -> Option<SimTime> {
        self.earliest().map(|(_, key)| key.at())
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
    fn many_pending_spill_into_the_heap_and_still_pop_in_order() {
        let mut q = EventQueue::new();
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
