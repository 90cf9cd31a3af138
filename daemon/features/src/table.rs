//! The bounded source table: a hash index of `u32` slot numbers into a slab of
//! [`SourceState`] records, threaded on an intrusive least-recently-seen list.

use hashbrown::HashTable;

use crate::source::{NIL, SourceState};

/// At most `max` sources; finding or adding one makes it the most recently seen, and adding
/// one to a full table evicts the least recently seen.
#[derive(Debug)]
pub(crate) struct SourceTable {
    index: HashTable<u32>,
    slots: Vec<SourceState>,
    hasher: ahash::RandomState,
    /// Most recently seen record.
    head: u32,
    /// Least recently seen record.
    tail: u32,
    max: usize,
    evicted: u64,
}

impl SourceTable {
    /// An empty table for at most `max` sources (`max` below `u32::MAX`); `seed` keys the hash.
    pub(crate) fn new(max: usize, seed: u64) -> SourceTable {
        SourceTable {
            index: HashTable::new(),
            slots: Vec::new(),
            hasher: ahash::RandomState::with_seeds(
                seed,
                seed.rotate_left(17) ^ 0x9e37_79b9_7f4a_7c15,
                seed.rotate_left(31) ^ 0xc2b2_ae3d_27d4_eb4f,
                seed.rotate_left(47) ^ 0x1656_67b1_9e37_79f9,
            ),
            head: NIL,
            tail: NIL,
            max,
            evicted: 0,
        }
    }

    /// Sources held.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Sources evicted so far.
    pub(crate) fn evicted(&self) -> u64 {
        self.evicted
    }

    /// The record in `slot`.
    pub(crate) fn get_mut(&mut self, slot: u32) -> Option<&mut SourceState> {
        self.slots.get_mut(slot as usize)
    }

    /// Finds `key` and marks it most recently seen.
    pub(crate) fn find(&mut self, key: u128) -> Option<u32> {
        let hash = self.hasher.hash_one(key);
        let slots = &self.slots;
        let slot = *self.index.find(hash, |&s| slots[s as usize].key() == key)?;
        self.touch(slot);
        Some(slot)
    }

    /// Finds `key`, or adds the record `make()` builds for it (evicting the least recently
    /// seen source when full); either way it becomes the most recently seen.
    pub(crate) fn find_or_insert(&mut self, key: u128, make: impl FnOnce() -> SourceState) -> u32 {
        if let Some(slot) = self.find(key) {
            return slot;
        }
        let hash = self.hasher.hash_one(key);
        let slot = if self.slots.len() >= self.max && self.tail != NIL {
            let victim = self.tail;
            self.unlink(victim);
            let victim_key = self.slots[victim as usize].key();
            let victim_hash = self.hasher.hash_one(victim_key);
            if let Ok(entry) = self.index.find_entry(victim_hash, |&s| s == victim) {
                entry.remove();
            }
            self.slots[victim as usize] = make();
            self.evicted += 1;
            victim
        } else {
            // `max` is below u32::MAX (checked by the config), so the slot number fits.
            let slot = self.slots.len() as u32;
            self.slots.push(make());
            slot
        };
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index
            .insert_unique(hash, slot, |&s| hasher.hash_one(slots[s as usize].key()));
        self.push_front(slot);
        slot
    }

    fn touch(&mut self, slot: u32) {
        if self.head != slot {
            self.unlink(slot);
            self.push_front(slot);
        }
    }

    fn unlink(&mut self, slot: u32) {
        let (prev, next) = {
            let s = &self.slots[slot as usize];
            (s.lru_prev, s.lru_next)
        };
        match prev {
            NIL => self.head = next,
            p => self.slots[p as usize].lru_next = next,
        }
        match next {
            NIL => self.tail = prev,
            n => self.slots[n as usize].lru_prev = prev,
        }
        let s = &mut self.slots[slot as usize];
        s.lru_prev = NIL;
        s.lru_next = NIL;
    }

    fn push_front(&mut self, slot: u32) {
        let old_head = self.head;
        {
            let s = &mut self.slots[slot as usize];
            s.lru_prev = NIL;
            s.lru_next = old_head;
        }
        if old_head != NIL {
            self.slots[old_head as usize].lru_prev = slot;
        }
        self.head = slot;
        if self.tail == NIL {
            self.tail = slot;
        }
    }

    /// Keys from most to least recently seen.
    #[cfg(test)]
    pub(crate) fn keys_by_recency(&self) -> Vec<u128> {
        let mut out = Vec::new();
        let mut at = self.head;
        while at != NIL {
            out.push(self.slots[at as usize].key());
            at = self.slots[at as usize].lru_next;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(key: u128) -> SourceState {
        SourceState::new(key, 0.0, 0)
    }

    #[test]
    fn evicts_the_least_recently_seen_and_counts_it() {
        let mut t = SourceTable::new(3, 7);
        for k in [1u128, 2, 3] {
            t.find_or_insert(k, || state(k));
        }
        assert_eq!(t.keys_by_recency(), vec![3, 2, 1]);
        assert!(t.find(1).is_some());
        assert_eq!(t.keys_by_recency(), vec![1, 3, 2]);
        t.find_or_insert(4, || state(4));
        assert_eq!(t.keys_by_recency(), vec![4, 1, 3]);
        assert_eq!(t.evicted(), 1);
        assert_eq!(t.len(), 3);
        assert!(t.find(2).is_none());
        t.find_or_insert(3, || state(3));
        t.find_or_insert(5, || state(5));
        assert_eq!(t.keys_by_recency(), vec![5, 3, 4]);
        assert_eq!(t.evicted(), 2);
        for k in [5u128, 3, 4] {
            assert!(t.find(k).is_some(), "{k} should be tracked");
        }
    }

    #[test]
    fn a_table_of_one_keeps_the_newest() {
        let mut t = SourceTable::new(1, 0);
        for k in 0..100u128 {
            let slot = t.find_or_insert(k, || state(k));
            assert_eq!(t.get_mut(slot).map(|s| s.key()), Some(k));
        }
        assert_eq!(t.len(), 1);
        assert_eq!(t.evicted(), 99);
        assert_eq!(t.keys_by_recency(), vec![99]);
    }

    #[test]
    fn many_keys_survive_growth_and_stay_findable() {
        let mut t = SourceTable::new(10_000, 42);
        for k in 0..10_000u128 {
            t.find_or_insert(k << 64 | k, || state(k << 64 | k));
        }
        for k in (0..10_000u128).rev() {
            assert!(t.find(k << 64 | k).is_some());
        }
        assert_eq!(t.evicted(), 0);
        assert_eq!(t.keys_by_recency().first().copied(), Some(0));
    }
}
