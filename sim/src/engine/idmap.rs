//! A map from request ids to in-flight request state.
//!
//! Request ids come from one counter and most requests finish within seconds, so the
//! live ids form a short window that slides forward. Keeping that window in a ring of
//! slots makes every lookup an index computation, where an ordered tree pays a search
//! per lookup on the hottest paths of a run. Iteration is in id order, exactly as an
//! ordered map would give, so replacing one with the other changes no output.

pub struct IdMap<V> {
    /// Id of the window's first slot.
    base: u64,
    /// Position in `slots` of the window's first slot.
    head: usize,
    /// Length of the window: it covers ids `base..base + span`. When it is not empty its
    /// first slot is live, and every slot outside it is empty, so sliding the window
    /// forward over fresh ids writes nothing but the new value. Its end is not pulled
    /// back when the newest ids finish: with one old id still live that would walk back
    /// over every finished id after it, each time, and the next fresh id extends the
    /// window again anyway.
    span: usize,
    /// The ring; its length is zero or a power of two, so a position wraps with a mask.
    /// Several maps share one id counter, so a window is partly empty; a ring grows by
    /// doubling and never shrinks, where a deque that pushed and drained the empty slots
    /// paid for each of them on every insert and remove.
    slots: Vec<Option<V>>,
    len: usize,
}

impl<V> Default for IdMap<V> {
    fn default() -> Self {
        IdMap { base: 0, head: 0, span: 0, slots: Vec::new(), len: 0 }
    }
}

impl<V> IdMap<V> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// The ring position of the window's `i`-th slot.
    fn pos(&self, i: usize) -> usize {
        (self.head + i) & self.mask()
    }

    /// The ring position of `id`, if it is inside the window. An id below `base` wraps
    /// to a huge offset, so one comparison rules out both sides.
    fn index(&self, id: u64) -> Option<usize> {
        let i = id.wrapping_sub(self.base);
        (i < self.span as u64).then(|| self.pos(i as usize))
    }

    /// Makes room for a window of `need` slots, moving the window to the start of a
    /// ring at least twice as large.
    #[cold]
    fn grow(&mut self, need: usize) {
        let cap = need.next_power_of_two().max(self.slots.len() * 2).max(8);
        let mut slots: Vec<Option<V>> = Vec::with_capacity(cap);
        for i in 0..self.span {
            let p = self.pos(i);
            slots.push(self.slots[p].take());
        }
        slots.resize_with(cap, || None);
        self.slots = slots;
        self.head = 0;
    }

    /// Inserts or replaces. Cheap when `id` is above every live id, as fresh ids are;
    /// any other id works too. Inlined, like the lookups: a map holds a few in-flight
    /// requests, so these run several times per request, and out of line each one
    /// copied its value through the stack and a return slot.
    #[inline(always)]
    pub fn insert(&mut self, id: u64, value: V) -> Option<V> {
        let p = if self.span == 0 {
            if self.slots.is_empty() {
                self.grow(1);
            }
            self.base = id;
            self.span = 1;
            self.head
        } else if id >= self.base {
            let i = id - self.base;
            if i < self.span as u64 {
                // Inside the window: the slot may hold a value to replace.
                let p = self.pos(i as usize);
                let old = self.slots[p].replace(value);
                if old.is_none() {
                    self.len += 1;
                }
                return old;
            }
            let need = usize::try_from(i + 1).expect("id window fits in memory");
            if need > self.slots.len() {
                self.grow(need);
            }
            self.span = need;
            self.pos(i as usize)
        } else {
            // Below the window: extend it backwards.
            let d = usize::try_from(self.base - id).expect("id window fits in memory");
            let need = self.span + d;
            if need > self.slots.len() {
                self.grow(need);
            }
            self.head = self.head.wrapping_sub(d) & self.mask();
            self.base = id;
            self.span = need;
            self.head
        };
        // Outside the old window, so empty: nothing to read back.
        debug_assert!(self.slots[p].is_none());
        self.slots[p] = Some(value);
        self.len += 1;
        None
    }

    #[inline]
    pub fn get(&self, id: &u64) -> Option<&V> {
        self.slots[self.index(*id)?].as_ref()
    }

    #[inline]
    pub fn get_mut(&mut self, id: &u64) -> Option<&mut V> {
        let p = self.index(*id)?;
        self.slots[p].as_mut()
    }

    #[inline]
    pub fn contains_key(&self, id: &u64) -> bool {
        self.get(id).is_some()
    }

    #[inline]
    pub fn remove(&mut self, id: &u64) -> Option<V> {
        let p = self.index(*id)?;
        let old = self.slots[p].take()?;
        self.len -= 1;
        // Drop finished ids from the front so the window starts at the oldest live id;
        // only removing the first slot can leave the front empty.
        if self.len == 0 {
            self.span = 0;
        } else if p == self.head {
            while self.slots[self.head].is_none() {
                self.head = (self.head + 1) & self.mask();
                self.base += 1;
                self.span -= 1;
            }
        }
        Some(old)
    }

    /// Live entries in increasing id order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &V)> {
        (0..self.span).filter_map(move |i| self.slots[self.pos(i)].as_ref().map(|v| (self.base + i as u64, v)))
    }
}

impl<V> std::ops::Index<&u64> for IdMap<V> {
    type Output = V;

    fn index(&self, id: &u64) -> &V {
        self.get(id).expect("no entry for this id")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn behaves_like_an_ordered_map(ops in proptest::collection::vec((0..3u8, 0..64u64), 1..300)) {
            let mut map = IdMap::new();
            let mut reference = BTreeMap::new();
            let mut next = 10u64;
            for (op, x) in ops {
                match op {
                    // Mostly fresh ids, as the simulation hands out; sometimes any id.
                    0 => {
                        let id = if x % 8 == 0 { x } else { next += 1 + x % 3; next };
                        prop_assert_eq!(map.insert(id, x), reference.insert(id, x));
                    }
                    1 => prop_assert_eq!(map.remove(&(next.saturating_sub(x))), reference.remove(&(next.saturating_sub(x)))),
                    _ => {
                        let id = next.saturating_sub(x);
                        prop_assert_eq!(map.get(&id), reference.get(&id));
                        if let Some(v) = map.get_mut(&id) {
                            *v += 1;
                            *reference.get_mut(&id).expect("same keys") += 1;
                        }
                    }
                }
                prop_assert_eq!(map.len(), reference.len());
                let got: Vec<(u64, u64)> = map.iter().map(|(k, v)| (k, *v)).collect();
                let want: Vec<(u64, u64)> = reference.iter().map(|(k, v)| (*k, *v)).collect();
                prop_assert_eq!(got, want);
            }
        }
    }
}
