//! The bounded source table: a hash index of `u32` slot numbers into a slab of
//! [`SourceState`] records, threaded on an intrusive least-recently-seen list.

use hashbrown::HashTable;

use crate::snapshot::{FeatureSnapshotError, Reader, Writer};
use crate::source::{MIN_RECORD_BYTES, NIL, SourceState, WindowParams};

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

    /// Appends the table to a snapshot: eviction counter, head and tail of the recency list,
    /// then every record in slot order (slot numbers and links are kept as they are).
    pub(crate) fn write(&self, w: &mut Writer) {
        w.u64(self.evicted);
        w.u32(self.head);
        w.u32(self.tail);
        w.len(self.slots.len());
        for state in &self.slots {
            state.write(w);
        }
    }

    /// Reads a table written by [`write`](Self::write) for at most `max` sources, hashed with
    /// `seed`. Checks that the records hold distinct keys and that the recency list runs from
    /// head to tail through every record exactly once; the hash index is rebuilt (lookups
    /// compare keys, so no result depends on its layout).
    pub(crate) fn read(
        r: &mut Reader<'_>,
        max: usize,
        seed: u64,
        params: &WindowParams,
    ) -> Result<SourceTable, FeatureSnapshotError> {
        let mut table = SourceTable::new(max, seed);
        table.evicted = r.u64("eviction count")?;
        table.head = r.u32("recency list head")?;
        table.tail = r.u32("recency list tail")?;
        let n = r.len("source count", MIN_RECORD_BYTES, max)?;
        table.slots.reserve_exact(n);
        for slot in 0..n {
            table.slots.push(SourceState::read(r, params, slot)?);
        }

        let link = |what: &str, slot: u32, value: u32, requirement: &str| {
            FeatureSnapshotError::corrupt(
                format!("recency list {what} of slot {slot}"),
                value,
                requirement,
            )
        };
        let mut seen = vec![false; n];
        let mut prev = NIL;
        let mut at = table.head;
        while at != NIL {
            let Some(state) = table.slots.get(at as usize) else {
                return Err(link(
                    "link",
                    prev,
                    at,
                    &format!("a link names one of the {n} slots or none"),
                ));
            };
            if seen[at as usize] {
                return Err(link("link", prev, at, "the list visits every slot once"));
            }
            if state.lru_prev != prev {
                return Err(link(
                    "back link",
                    at,
                    state.lru_prev,
                    &format!("it must name the slot before it, {prev}"),
                ));
            }
            seen[at as usize] = true;
            prev = at;
            at = state.lru_next;
        }
        if table.tail != prev {
            return Err(link(
                "tail",
                table.tail,
                table.tail,
                &format!("the list ends at slot {prev}"),
            ));
        }
        if let Some(missing) = seen.iter().position(|s| !s) {
            return Err(link(
                "membership",
                missing as u32,
                missing as u32,
                "every slot is on the list",
            ));
        }

        for slot in 0..n as u32 {
            let key = table.slots[slot as usize].key();
            let hash = table.hasher.hash_one(key);
            let slots = &table.slots;
            if table
                .index
                .find(hash, |&s| slots[s as usize].key() == key)
                .is_some()
            {
                return Err(FeatureSnapshotError::corrupt(
                    format!("source key of slot {slot}"),
                    format!("{key:#034x}"),
                    "every source is held once",
                ));
            }
            let hasher = &table.hasher;
            table
                .index
                .insert_unique(hash, slot, |&s| hasher.hash_one(slots[s as usize].key()));
        }
        Ok(table)
    }

    /// The newest clock of any source held, `None` when empty.
    pub(crate) fn newest_clock(&self) -> Option<i64> {
        self.slots.iter().map(SourceState::clock).max()
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
    use crate::snapshot::{FeatureSnapshotError, Reader, Writer};

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

    fn params() -> WindowParams {
        WindowParams::new([30, 30, 60, 300], 100, 100)
    }

    /// Keys 1 to 5 in a table of four (so one eviction, slot numbers out of key order), 3 seen
    /// again.
    fn table() -> SourceTable {
        let mut t = SourceTable::new(4, 9);
        for k in [1u128, 2, 3, 4, 5] {
            let slot = t.find_or_insert(k, || state(k));
            if let Some(s) = t.get_mut(slot) {
                s.advance(1_000_000 * k as i64, &params());
            }
        }
        t.find(3);
        t
    }

    fn encode(t: &SourceTable) -> Vec<u8> {
        let mut w = Writer::new();
        t.write(&mut w);
        w.finish()
    }

    fn decode(bytes: &[u8], max: usize) -> Result<SourceTable, FeatureSnapshotError> {
        let mut r = Reader::open(bytes)?;
        let t = SourceTable::read(&mut r, max, 9, &params())?;
        r.end()?;
        Ok(t)
    }

    #[test]
    fn the_table_round_trips_with_slots_recency_and_evictions() {
        let t = table();
        let bytes = encode(&t);
        let mut back = decode(&bytes, 4).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(encode(&back), bytes);
        assert_eq!(back.keys_by_recency(), vec![3, 5, 4, 2]);
        assert_eq!(back.keys_by_recency(), t.keys_by_recency());
        assert_eq!((back.len(), back.evicted()), (4, 1));
        // The next eviction takes the least recently seen, as in the original.
        back.find_or_insert(6, || state(6));
        assert_eq!(back.keys_by_recency(), vec![6, 3, 5, 4]);
        assert_eq!(back.evicted(), 2);
        for k in [3u128, 4, 5, 6] {
            let slot = back.find(k);
            assert_eq!(slot.and_then(|s| back.get_mut(s)).map(|s| s.key()), Some(k));
        }
        assert!(back.find(2).is_none());
        assert!(matches!(
            decode(&bytes, 3),
            Err(FeatureSnapshotError::Corrupt { .. })
        ));
    }

    #[test]
    fn broken_recency_lists_and_repeated_keys_are_refused() {
        let corrupt = |mutate: &dyn Fn(&mut SourceTable)| -> String {
            let mut t = table();
            mutate(&mut t);
            match decode(&encode(&t), 4) {
                Err(FeatureSnapshotError::Corrupt {
                    what, requirement, ..
                }) => format!("{what}: {requirement}"),
                other => panic!("expected a corrupt-table error, got {other:?}"),
            }
        };
        let head = table().head;
        let why = corrupt(&|t| t.slots[t.head as usize].lru_next = 9);
        assert!(why.contains("names one of the 4 slots"), "{why}");
        let why = corrupt(&|t| {
            let second = t.slots[t.head as usize].lru_next;
            t.slots[second as usize].lru_next = t.head;
        });
        assert!(why.contains("visits every slot once"), "{why}");
        let why = corrupt(&|t| t.slots[t.tail as usize].lru_prev = t.tail);
        assert!(why.contains("back link"), "{why}");
        let why = corrupt(&|t| t.tail = head);
        assert!(why.contains("recency list tail"), "{why}");
        let why = corrupt(&|t| {
            // Drop the tail from the list: it is still in a slot.
            let tail = t.tail;
            let before = t.slots[tail as usize].lru_prev;
            t.slots[before as usize].lru_next = NIL;
            t.tail = before;
        });
        assert!(why.contains("every slot is on the list"), "{why}");
        let why = corrupt(&|t| {
            let other = t.slots[1].key();
            t.slots[0] = SourceState::new(other, 0.0, 0);
            t.slots[0].lru_prev = t.slots[1].lru_prev;
            t.slots[0].lru_next = t.slots[1].lru_next;
        });
        assert!(!why.is_empty());
        let why = corrupt(&|t| {
            let links = (t.slots[0].lru_prev, t.slots[0].lru_next);
            t.slots[0] = SourceState::new(t.slots[1].key(), 0.0, 0);
            (t.slots[0].lru_prev, t.slots[0].lru_next) = links;
        });
        assert!(why.contains("every source is held once"), "{why}");
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
