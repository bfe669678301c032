//! A map from request ids to in-flight request state.
//!
//! Request ids come from one counter and most requests finish within seconds, so the
//! live ids form a short window that slides forward. Keeping that window as a ring of
//! slots makes every lookup an index computation, where an ordered tree pays a search
//! per lookup on the hottest paths of a run. Iteration is in id order, exactly as an
//! ordered map would give, so replacing one with the other changes no output.

use std::collections::VecDeque;

pub struct IdMap<V> {
    /// Id of `slots[0]`.
    base: u64,
    slots: VecDeque<Option<V>>,
    len: usize,
}

impl<V> Default for IdMap<V> {
    fn default() -> Self {
        IdMap { base: 0, slots: VecDeque::new(), len: 0 }
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

    fn index(&self, id: u64) -> Option<usize> {
        let i = id.checked_sub(self.base)?;
        (i < self.slots.len() as u64).then_some(i as usize)
    }

    /// Inserts or replaces. Cheap when `id` is above every live id, as fresh ids are;
    /// any other id works too.
    pub fn insert(&mut self, id: u64, value: V) -> Option<V> {
        if self.slots.is_empty() {
            self.base = id;
        }
        while id < self.base {
            self.slots.push_front(None);
            self.base -= 1;
        }
        let i = (id - self.base) as usize;
        if i >= self.slots.len() {
            self.slots.resize_with(i + 1, || None);
        }
        let old = self.slots[i].replace(value);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    pub fn get(&self, id: &u64) -> Option<&V> {
        self.slots.get(self.index(*id)?)?.as_ref()
    }

    pub fn get_mut(&mut self, id: &u64) -> Option<&mut V> {
        let i = self.index(*id)?;
        self.slots.get_mut(i)?.as_mut()
    }

    pub fn contains_key(&self, id: &u64) -> bool {
        self.get(id).is_some()
    }

    pub fn remove(&mut self, id: &u64) -> Option<V> {
        let i = self.index(*id)?;
        let old = self.slots[i].take()?;
        self.len -= 1;
        // Drop finished ids from both ends so the window stays as short as the live ids.
        // Count first, then cut: popping one slot at a time would move every (large,
        // empty) slot out of the deque just to discard it.
        let leading = self.slots.iter().take_while(|s| s.is_none()).count();
        if leading > 0 {
            self.slots.drain(..leading);
            self.base += leading as u64;
        }
        let trailing = self.slots.iter().rev().take_while(|s| s.is_none()).count();
        self.slots.truncate(self.slots.len() - trailing);
        Some(old)
    }

    /// Live entries in increasing id order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &V)> {
        let base = self.base;
        self.slots.iter().enumerate().filter_map(move |(i, v)| v.as_ref().map(|v| (base + i as u64, v)))
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
