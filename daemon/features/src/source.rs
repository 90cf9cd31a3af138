//! Per-source window state: a time-ordered ring of compact entries with one cursor per window.
//!
//! Every counted event of a source becomes a 16-byte [`Entry`] (time as a 32-bit microsecond
//! offset from a per-source base, destination id, bytes, destination port, flags). The ring is
//! kept sorted by event time. Each of the four windows has a cursor: the entries before it are
//! outside that window, the ones from it on are inside, and the window's aggregates (counts,
//! sums, distinct-port and distinct-address multisets, the port entropy accumulator) are
//! updated when an entry enters (insertion) or leaves (the cursor passes it). An entry that has
//! left every window is dropped from the front of the ring.

use std::collections::VecDeque;
use std::hash::Hash;

use hashbrown::HashMap;
use vigil_detectors::TrafficSpikeConfig;

use crate::snapshot::{FeatureSnapshotError, Reader, Writer};

/// Index of the event window (all events).
pub(crate) const EVENT: usize = 0;
/// Index of the login window (failed and successful logins).
pub(crate) const LOGIN: usize = 1;
/// Index of the port window (distinct ports and addresses, port entropy).
pub(crate) const PORT: usize = 2;
/// Index of the bytes window (mean bytes, commands per session).
pub(crate) const BYTES: usize = 3;
/// Number of windows.
pub(crate) const WINDOWS: usize = 4;

/// Entry flag bits.
pub(crate) mod flag {
    /// Failed login.
    pub(crate) const FAILED: u8 = 1;
    /// Successful login.
    pub(crate) const SUCCESS: u8 = 2;
    /// Command entered.
    pub(crate) const COMMAND: u8 = 4;
    /// Connection or session opened.
    pub(crate) const CONNECT: u8 = 8;
    /// The destination port is counted in the port multiset.
    pub(crate) const PORT: u8 = 16;
    /// The destination address is counted in the address multiset.
    pub(crate) const IP: u8 = 32;
    /// The event carried byte counts.
    pub(crate) const BYTES: u8 = 64;
    /// Every flag bit.
    pub(crate) const ALL: u8 = 127;
}

/// One counted event, as the windows need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Entry {
    /// Event time minus the source's base, in microseconds.
    offset: u32,
    /// Destination address id (IPv4 exact, IPv6 hashed to 32 bits).
    dst: u32,
    /// Bytes both ways, saturated at `u32::MAX`.
    bytes: u32,
    /// Destination port.
    port: u16,
    /// `flag` bits.
    flags: u8,
}

/// What the extractor knows about an event that is about to enter its source's windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct NewEntry {
    /// Event time, microseconds since the epoch.
    pub(crate) time: i64,
    /// Kind flags (`FAILED`, `SUCCESS`, `COMMAND`, `CONNECT`).
    pub(crate) kind_flags: u8,
    /// Destination port.
    pub(crate) port: Option<u16>,
    /// Destination address id.
    pub(crate) dst: Option<u32>,
    /// Bytes both ways.
    pub(crate) bytes: Option<u32>,
}

/// What happened to a [`NewEntry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Inserted {
    /// The entry was stored (it lies within at least the longest window).
    pub(crate) counted: bool,
    /// Its port was not yet in the port window.
    pub(crate) port_new: bool,
    /// The ring was full and its oldest entry left every window early.
    pub(crate) truncated: bool,
}

/// Window settings shared by every source.
#[derive(Debug, Clone)]
pub(crate) struct WindowParams {
    /// Window lengths, microseconds, indexed by `EVENT`, `LOGIN`, `PORT`, `BYTES`.
    pub(crate) len_micros: [i64; WINDOWS],
    /// The longest window.
    pub(crate) retention_micros: i64,
    /// Most entries per source.
    pub(crate) max_entries: usize,
    /// Most distinct ports, and addresses, per source.
    pub(crate) max_distinct: usize,
    /// `c * ln(c)` for small `c`, so that entropy updates avoid a logarithm.
    xlogx: Box<[f64]>,
}

const XLOGX_TABLE: usize = 1024;

impl WindowParams {
    pub(crate) fn new(
        len_secs: [u32; WINDOWS],
        max_entries: u32,
        max_distinct: u32,
    ) -> WindowParams {
        let len_micros = len_secs.map(|s| i64::from(s) * 1_000_000);
        let retention_micros = len_micros.iter().copied().max().unwrap_or(0);
        let xlogx = (0..XLOGX_TABLE).map(|c| xlogx_exact(c as u32)).collect();
        WindowParams {
            len_micros,
            retention_micros,
            max_entries: max_entries as usize,
            max_distinct: max_distinct as usize,
            xlogx,
        }
    }

    fn xlogx(&self, c: u32) -> f64 {
        match self.xlogx.get(c as usize) {
            Some(v) => *v,
            None => xlogx_exact(c),
        }
    }
}

fn xlogx_exact(c: u32) -> f64 {
    if c == 0 {
        0.0
    } else {
        let c = f64::from(c);
        c * c.ln()
    }
}

const INLINE: usize = 4;

/// A multiset of small keys: inline for up to four distinct keys, a hash map beyond.
#[derive(Debug, Clone)]
pub(crate) enum CountedSet<K> {
    /// Up to `INLINE` keys with their counts.
    Inline {
        len: u8,
        keys: [K; INLINE],
        counts: [u16; INLINE],
    },
    /// More keys, or a count beyond `u16::MAX`.
    Spilled(Box<HashMap<K, u32, ahash::RandomState>>),
}

/// Fixed seeds: the spilled maps never influence results, but nothing here may depend on
/// process randomness.
fn fixed_state() -> ahash::RandomState {
    ahash::RandomState::with_seeds(
        0x5167_696c_2d66_6561,
        0x7475_7265_732d_7365,
        0x7473_2d76_6967_696c,
        0x2d63_6f75_6e74_6564,
    )
}

impl<K: Copy + Eq + Hash + Default> Default for CountedSet<K> {
    fn default() -> Self {
        CountedSet::Inline {
            len: 0,
            keys: [K::default(); INLINE],
            counts: [0; INLINE],
        }
    }
}

impl<K: Copy + Eq + Hash + Default> CountedSet<K> {
    /// Number of distinct keys.
    pub(crate) fn len(&self) -> usize {
        match self {
            CountedSet::Inline { len, .. } => usize::from(*len),
            CountedSet::Spilled(map) => map.len(),
        }
    }

    /// How many times `key` is in the set.
    pub(crate) fn count(&self, key: K) -> u32 {
        match self {
            CountedSet::Inline { len, keys, counts } => keys[..usize::from(*len)]
                .iter()
                .position(|k| *k == key)
                .map_or(0, |i| u32::from(counts[i])),
            CountedSet::Spilled(map) => map.get(&key).copied().unwrap_or(0),
        }
    }

    /// Adds one `key`; returns its count before.
    pub(crate) fn increment(&mut self, key: K) -> u32 {
        if let CountedSet::Inline { len, keys, counts } = self {
            let n = usize::from(*len);
            match keys[..n].iter().position(|k| *k == key) {
                Some(i) if counts[i] < u16::MAX => {
                    counts[i] += 1;
                    return u32::from(counts[i] - 1);
                }
                None if n < INLINE => {
                    keys[n] = key;
                    counts[n] = 1;
                    *len += 1;
                    return 0;
                }
                _ => self.spill(),
            }
        }
        match self {
            CountedSet::Spilled(map) => {
                let c = map.entry(key).or_insert(0);
                *c += 1;
                *c - 1
            }
            CountedSet::Inline { .. } => 0,
        }
    }

    /// Removes one `key` (a key not in the set is ignored); returns its count after.
    pub(crate) fn decrement(&mut self, key: K) -> u32 {
        match self {
            CountedSet::Inline { len, keys, counts } => {
                let n = usize::from(*len);
                let Some(i) = keys[..n].iter().position(|k| *k == key) else {
                    return 0;
                };
                counts[i] -= 1;
                let after = u32::from(counts[i]);
                if after == 0 {
                    keys[i] = keys[n - 1];
                    counts[i] = counts[n - 1];
                    *len -= 1;
                }
                after
            }
            CountedSet::Spilled(map) => {
                let after = match map.get_mut(&key) {
                    Some(c) => {
                        *c -= 1;
                        *c
                    }
                    None => return 0,
                };
                if after == 0 {
                    map.remove(&key);
                    if map.is_empty() {
                        // A busy source that went quiet gives its heap memory back.
                        *self = CountedSet::default();
                    }
                }
                after
            }
        }
    }

    fn spill(&mut self) {
        if let CountedSet::Inline { len, keys, counts } = self {
            let mut map = HashMap::with_capacity_and_hasher(INLINE * 2, fixed_state());
            for i in 0..usize::from(*len) {
                map.insert(keys[i], u32::from(counts[i]));
            }
            *self = CountedSet::Spilled(Box::new(map));
        }
    }
}

/// The window aggregates of one source, as of its newest event.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Counts {
    pub(crate) events: u32,
    pub(crate) failed_logins: u32,
    pub(crate) successful_logins: u32,
    pub(crate) distinct_ports: u32,
    pub(crate) distinct_ips: u32,
    pub(crate) bytes_sum: u64,
    pub(crate) bytes_events: u32,
    pub(crate) commands: u32,
    pub(crate) connects: u32,
    pub(crate) port_entropy_bits: f64,
    pub(crate) baseline: f64,
}

/// Window state of one source.
#[derive(Debug, Clone)]
pub(crate) struct SourceState {
    /// The source key, split so the record needs no 16-byte alignment.
    key: [u64; 2],
    /// Previous (more recently seen) record in the LRU list.
    pub(crate) lru_prev: u32,
    /// Next (less recently seen) record in the LRU list.
    pub(crate) lru_next: u32,
    /// The source's clock: its newest counted event time.
    now: i64,
    /// Time the entries' offsets count from; never after any entry's time.
    base: i64,
    ring: VecDeque<Entry>,
    /// `cursor[w]` entries at the front of the ring are outside window `w`.
    cursor: [u32; WINDOWS],
    events: u32,
    failed: u32,
    succeeded: u32,
    bytes_events: u32,
    bytes_sum: u64,
    commands: u32,
    connects: u32,
    /// Entries in the port multiset (the sum of its counts).
    port_total: u32,
    /// Sum of `c ln c` over the port counts.
    port_xlogx: f64,
    ports: CountedSet<u16>,
    ips: CountedSet<u32>,
    /// Moving baseline of events per event window, as of the start of `bucket`.
    baseline: f32,
    /// Current tumbling event-window index (event time / event window length).
    bucket: u32,
    /// Counted events in the current tumbling window.
    bucket_count: u32,
}

/// The LRU link value meaning "none".
pub(crate) const NIL: u32 = u32::MAX;

/// How a completed tumbling window changes the baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BaselineRoll {
    /// Events counted in the window that just completed (0 when no window completed).
    pub(crate) completed_count: u32,
    /// What the baseline took of it: the count, capped at [`baseline_fold_cap`].
    pub(crate) folded_count: u32,
}

/// However low the spike threshold, a completed window may add up to this many times the
/// baseline, so that the baseline can always grow by at least `1 + alpha` per window.
const MIN_FOLD_CAP_RATIO: f64 = 2.0;

/// The most a completed window counts for in a baseline of `baseline` events per window: the
/// count the traffic-spike rule calls a spike against that baseline, and at least twice the
/// baseline (floored at one event, like the rule's).
pub(crate) fn baseline_fold_cap(spike: &TrafficSpikeConfig, baseline: f64) -> u32 {
    let floor = if baseline.is_finite() {
        (MIN_FOLD_CAP_RATIO * baseline.max(1.0)).ceil()
    } else {
        MIN_FOLD_CAP_RATIO
    };
    // `as` saturates beyond u32, which no window count exceeds anyway.
    spike.threshold(baseline).max(floor as u32)
}

impl SourceState {
    /// A source seen for the first time, its baseline seeded with `baseline`.
    pub(crate) fn new(key: u128, baseline: f64, bucket: u32) -> SourceState {
        SourceState {
            key: [(key >> 64) as u64, key as u64],
            lru_prev: NIL,
            lru_next: NIL,
            now: i64::MIN,
            base: 0,
            ring: VecDeque::new(),
            cursor: [0; WINDOWS],
            events: 0,
            failed: 0,
            succeeded: 0,
            bytes_events: 0,
            bytes_sum: 0,
            commands: 0,
            connects: 0,
            port_total: 0,
            port_xlogx: 0.0,
            ports: CountedSet::default(),
            ips: CountedSet::default(),
            baseline: baseline as f32,
            bucket,
            bucket_count: 0,
        }
    }

    /// The source key.
    pub(crate) fn key(&self) -> u128 {
        (u128::from(self.key[0]) << 64) | u128::from(self.key[1])
    }

    /// The source's clock: its newest counted event time.
    pub(crate) fn clock(&self) -> i64 {
        self.now
    }

    fn time_of(&self, e: &Entry) -> i64 {
        self.base + i64::from(e.offset)
    }

    /// Moves the source's clock forward to `now` (never back) and lets entries leave the
    /// windows they have aged out of.
    pub(crate) fn advance(&mut self, now: i64, p: &WindowParams) {
        if now <= self.now {
            return;
        }
        self.now = now;
        for w in 0..WINDOWS {
            let start = now.saturating_sub(p.len_micros[w]);
            while let Some(e) = self.ring.get(self.cursor[w] as usize).copied() {
                if self.time_of(&e) > start {
                    break;
                }
                self.apply(w, e, false, p);
                self.cursor[w] += 1;
            }
        }
        let gone = self.cursor.iter().copied().min().unwrap_or(0);
        if gone > 0 {
            for _ in 0..gone {
                self.ring.pop_front();
            }
            for c in &mut self.cursor {
                *c -= gone;
            }
        }
    }

    /// Folds completed tumbling windows into the moving baseline when `bucket` is past the
    /// current one: `b <- alpha * min(count, cap(b)) + (1 - alpha) * b` for the completed
    /// window (see [`baseline_fold_cap`]), then `b <- (1 - alpha) * b` for each empty window
    /// skipped.
    pub(crate) fn roll_baseline(
        &mut self,
        bucket: u32,
        alpha: f64,
        spike: &TrafficSpikeConfig,
    ) -> BaselineRoll {
        if bucket <= self.bucket {
            return BaselineRoll {
                completed_count: 0,
                folded_count: 0,
            };
        }
        let completed = self.bucket_count;
        let previous = f64::from(self.baseline);
        // The rule measured this window against `previous`: a spike counts only up to the
        // spike level, so it does not raise its own source's bar by its full size.
        let folded = completed.min(baseline_fold_cap(spike, previous));
        let keep = 1.0 - alpha;
        let mut b = alpha * f64::from(folded) + keep * previous;
        let skipped = bucket - self.bucket - 1;
        if skipped > 0 {
            b *= keep.powi(i32::try_from(skipped).unwrap_or(i32::MAX));
        }
        self.baseline = b as f32;
        self.bucket = bucket;
        self.bucket_count = 0;
        BaselineRoll {
            completed_count: completed,
            folded_count: folded,
        }
    }

    /// Adds a counted event to the current tumbling window.
    pub(crate) fn count_in_bucket(&mut self) {
        self.bucket_count = self.bucket_count.saturating_add(1);
    }

    /// Stores a new event. The caller has already advanced the clock to at least its time.
    pub(crate) fn insert(&mut self, new: NewEntry, p: &WindowParams) -> Inserted {
        let t = new.time;
        if t <= self.now.saturating_sub(p.retention_micros) || t > self.now {
            // Older than the longest window (or, impossibly, ahead of the clock): not stored.
            return Inserted::default();
        }
        let mut out = Inserted::default();
        if self.ring.len() >= p.max_entries {
            self.drop_oldest_early(p);
            out.truncated = true;
        }
        self.make_room_for_offset(t);
        let Ok(offset) = u32::try_from(t - self.base) else {
            return out;
        };
        let mut flags =
            new.kind_flags & (flag::FAILED | flag::SUCCESS | flag::COMMAND | flag::CONNECT);
        let mut entry = Entry {
            offset,
            ..Entry::default()
        };
        let in_port_window = t > self.now.saturating_sub(p.len_micros[PORT]);
        if let Some(port) = new.port {
            entry.port = port;
            let seen = self.ports.count(port);
            if seen > 0 || self.ports.len() < p.max_distinct {
                flags |= flag::PORT;
                out.port_new = in_port_window && seen == 0;
            }
        }
        if let Some(dst) = new.dst {
            entry.dst = dst;
            if self.ips.count(dst) > 0 || self.ips.len() < p.max_distinct {
                flags |= flag::IP;
            }
        }
        if let Some(bytes) = new.bytes {
            entry.bytes = bytes;
            flags |= flag::BYTES;
        }
        entry.flags = flags;

        // Sorted insertion; equal times keep arrival order. In-order events go to the back.
        let mut pos = self.ring.len();
        while pos > 0 && self.time_of(&self.ring[pos - 1]) > t {
            pos -= 1;
        }
        self.ring.insert(pos, entry);
        for w in 0..WINDOWS {
            if t > self.now.saturating_sub(p.len_micros[w]) {
                // Every entry before the cursor is at or before the window start, so the new
                // entry landed at or after the cursor: it is inside.
                self.apply(w, entry, true, p);
            } else {
                // It landed before the cursor: keep the cursor on the same first-inside entry.
                self.cursor[w] += 1;
            }
        }
        out.counted = true;
        out
    }

    /// Keeps `t - base` within a `u32`: entries span less than the longest window, so moving
    /// the base to the oldest entry (or to `t`) always makes room.
    fn make_room_for_offset(&mut self, t: i64) {
        let Some(first) = self.ring.front().copied() else {
            self.base = t;
            return;
        };
        let first_time = self.time_of(&first);
        let new_base = if t < self.base {
            t
        } else if t - self.base > i64::from(u32::MAX) {
            first_time
        } else {
            return;
        };
        let old_base = self.base;
        for e in self.ring.iter_mut() {
            let time = old_base + i64::from(e.offset);
            e.offset = u32::try_from(time - new_base).unwrap_or(u32::MAX);
        }
        self.base = new_base;
    }

    /// Removes the oldest entry from every window it is still in, ahead of its time.
    fn drop_oldest_early(&mut self, p: &WindowParams) {
        let Some(e) = self.ring.pop_front() else {
            return;
        };
        for w in 0..WINDOWS {
            if self.cursor[w] == 0 {
                self.apply(w, e, false, p);
            } else {
                self.cursor[w] -= 1;
            }
        }
    }

    /// Adds (`add`) or removes an entry's contribution to window `w`.
    fn apply(&mut self, w: usize, e: Entry, add: bool, p: &WindowParams) {
        let step = |v: &mut u32| {
            if add {
                *v += 1;
            } else {
                *v -= 1;
            }
        };
        match w {
            EVENT => step(&mut self.events),
            LOGIN => {
                if e.flags & flag::FAILED != 0 {
                    step(&mut self.failed);
                }
                if e.flags & flag::SUCCESS != 0 {
                    step(&mut self.succeeded);
                }
            }
            PORT => {
                if e.flags & flag::PORT != 0 {
                    let (before, after) = if add {
                        let before = self.ports.increment(e.port);
                        (before, before + 1)
                    } else {
                        let after = self.ports.decrement(e.port);
                        (after + 1, after)
                    };
                    step(&mut self.port_total);
                    if self.port_total == 0 {
                        self.port_xlogx = 0.0;
                    } else {
                        self.port_xlogx += p.xlogx(after) - p.xlogx(before);
                    }
                }
                if e.flags & flag::IP != 0 {
                    if add {
                        self.ips.increment(e.dst);
                    } else {
                        self.ips.decrement(e.dst);
                    }
                }
            }
            BYTES => {
                if e.flags & flag::BYTES != 0 {
                    step(&mut self.bytes_events);
                    if add {
                        self.bytes_sum += u64::from(e.bytes);
                    } else {
                        self.bytes_sum -= u64::from(e.bytes);
                    }
                }
                if e.flags & flag::COMMAND != 0 {
                    step(&mut self.commands);
                }
                if e.flags & flag::CONNECT != 0 {
                    step(&mut self.connects);
                }
            }
            _ => {}
        }
    }

    /// The aggregates as they stand.
    pub(crate) fn counts(&self) -> Counts {
        let entropy = if self.port_total > 1 {
            let n = f64::from(self.port_total);
            ((n.ln() - self.port_xlogx / n) / std::f64::consts::LN_2).max(0.0)
        } else {
            0.0
        };
        Counts {
            events: self.events,
            failed_logins: self.failed,
            successful_logins: self.succeeded,
            distinct_ports: self.ports.len() as u32,
            distinct_ips: self.ips.len() as u32,
            bytes_sum: self.bytes_sum,
            bytes_events: self.bytes_events,
            commands: self.commands,
            connects: self.connects,
            port_entropy_bits: entropy,
            baseline: f64::from(self.baseline),
        }
    }

    /// Entries held (for tests and memory accounting).
    #[cfg(test)]
    pub(crate) fn entries(&self) -> usize {
        self.ring.len()
    }
}

/// A multiset key as the snapshot writes it.
pub(crate) trait SnapshotKey: Copy + Eq + Hash + Ord + Default + std::fmt::Display {
    /// Bytes the key takes.
    const BYTES: usize;
    fn write(self, w: &mut Writer);
    fn read(r: &mut Reader<'_>) -> Result<Self, FeatureSnapshotError>;
}

impl SnapshotKey for u16 {
    const BYTES: usize = 2;
    fn write(self, w: &mut Writer) {
        w.u16(self);
    }
    fn read(r: &mut Reader<'_>) -> Result<u16, FeatureSnapshotError> {
        r.u16("multiset key")
    }
}

impl SnapshotKey for u32 {
    const BYTES: usize = 4;
    fn write(self, w: &mut Writer) {
        w.u32(self);
    }
    fn read(r: &mut Reader<'_>) -> Result<u32, FeatureSnapshotError> {
        r.u32("multiset key")
    }
}

/// Snapshot tag of an inline [`CountedSet`].
const SET_INLINE: u8 = 0;
/// Snapshot tag of a spilled [`CountedSet`].
const SET_SPILLED: u8 = 1;

impl<K: SnapshotKey> CountedSet<K> {
    /// Appends the set in its current form: inline keys in their order, spilled keys sorted.
    fn write(&self, w: &mut Writer) {
        match self {
            CountedSet::Inline { len, keys, counts } => {
                w.u8(SET_INLINE);
                w.u8(*len);
                for i in 0..usize::from(*len) {
                    keys[i].write(w);
                    w.u16(counts[i]);
                }
            }
            CountedSet::Spilled(map) => {
                w.u8(SET_SPILLED);
                let mut pairs: Vec<(K, u32)> = map.iter().map(|(k, c)| (*k, *c)).collect();
                pairs.sort_unstable();
                w.len(pairs.len());
                for (k, c) in pairs {
                    k.write(w);
                    w.u32(c);
                }
            }
        }
    }

    /// Reads a set written by [`write`](Self::write); `what` names it in errors. Keys must be
    /// distinct; whether the counts are right is checked by the caller against the ring.
    fn read(
        r: &mut Reader<'_>,
        what: &str,
        max_distinct: usize,
    ) -> Result<CountedSet<K>, FeatureSnapshotError> {
        let duplicate = |key: K| {
            FeatureSnapshotError::corrupt(
                format!("{what} key {key}"),
                "repeated",
                "keys of a multiset are distinct",
            )
        };
        match r.u8("multiset form")? {
            SET_INLINE => {
                let len = r.u8("inline multiset length")?;
                if usize::from(len) > INLINE {
                    return Err(FeatureSnapshotError::corrupt(
                        format!("{what} inline length"),
                        len,
                        format!("an inline multiset holds at most {INLINE} keys"),
                    ));
                }
                let mut keys = [K::default(); INLINE];
                let mut counts = [0u16; INLINE];
                for i in 0..usize::from(len) {
                    keys[i] = K::read(r)?;
                    counts[i] = r.u16("inline multiset count")?;
                    if keys[..i].contains(&keys[i]) {
                        return Err(duplicate(keys[i]));
                    }
                }
                Ok(CountedSet::Inline { len, keys, counts })
            }
            SET_SPILLED => {
                let n = r.len("spilled multiset length", K::BYTES + 4, max_distinct)?;
                let mut map = HashMap::with_capacity_and_hasher(n.max(INLINE * 2), fixed_state());
                for _ in 0..n {
                    let key = K::read(r)?;
                    let count = r.u32("spilled multiset count")?;
                    if map.insert(key, count).is_some() {
                        return Err(duplicate(key));
                    }
                }
                Ok(CountedSet::Spilled(Box::new(map)))
            }
            other => Err(FeatureSnapshotError::corrupt(
                format!("{what} form"),
                other,
                "it must be 0 (inline) or 1 (spilled)",
            )),
        }
    }

    /// Same keys with the same counts, whatever the form.
    fn same_counts(&self, other: &CountedSet<K>) -> bool {
        let pairs = |set: &CountedSet<K>| -> Vec<(K, u32)> {
            let mut pairs: Vec<(K, u32)> = match set {
                CountedSet::Inline { len, keys, counts } => (0..usize::from(*len))
                    .map(|i| (keys[i], u32::from(counts[i])))
                    .collect(),
                CountedSet::Spilled(map) => map.iter().map(|(k, c)| (*k, *c)).collect(),
            };
            pairs.sort_unstable();
            pairs
        };
        pairs(self) == pairs(other)
    }
}

/// Bytes every source record takes in a snapshot at least (fixed fields, an empty ring and
/// two empty inline multisets), used to bound a corrupt record count before allocating.
pub(crate) const MIN_RECORD_BYTES: usize = 16 + 8 + 16 + 16 + 16 + 8 + 12 + 8 + 12 + 4 + 4;

impl SourceState {
    /// Appends the record to a snapshot (see [`crate::snapshot`] for the layout).
    pub(crate) fn write(&self, w: &mut Writer) {
        w.u64(self.key[0]);
        w.u64(self.key[1]);
        w.u32(self.lru_prev);
        w.u32(self.lru_next);
        w.i64(self.now);
        w.i64(self.base);
        for c in self.cursor {
            w.u32(c);
        }
        w.u32(self.events);
        w.u32(self.failed);
        w.u32(self.succeeded);
        w.u32(self.bytes_events);
        w.u64(self.bytes_sum);
        w.u32(self.commands);
        w.u32(self.connects);
        w.u32(self.port_total);
        w.f64(self.port_xlogx);
        w.f32(self.baseline);
        w.u32(self.bucket);
        w.u32(self.bucket_count);
        w.len(self.ring.len());
        w.reserve(self.ring.len() * 15);
        for e in &self.ring {
            w.u32(e.offset);
            w.u32(e.dst);
            w.u32(e.bytes);
            w.u16(e.port);
            w.u8(e.flags);
        }
        self.ports.write(w);
        self.ips.write(w);
    }

    /// Reads the record of `slot` written by [`write`](Self::write), checking everything later
    /// steps rely on: entries sorted in time and not after the clock, each window cursor
    /// splitting the ring at its window's start, and every aggregate and multiset equal to what
    /// the entries inside its window add up to. Only the port entropy accumulator (a sum of
    /// floating-point steps) and the multisets' form are taken as stored.
    pub(crate) fn read(
        r: &mut Reader<'_>,
        p: &WindowParams,
        slot: usize,
    ) -> Result<SourceState, FeatureSnapshotError> {
        let corrupt = |what: &str, value: &dyn std::fmt::Display, requirement: &str| {
            FeatureSnapshotError::corrupt(format!("source slot {slot} {what}"), value, requirement)
        };
        let key = [r.u64("source key")?, r.u64("source key")?];
        let lru_prev = r.u32("recency link")?;
        let lru_next = r.u32("recency link")?;
        let now = r.i64("source clock")?;
        let base = r.i64("source offset base")?;
        let mut cursor = [0u32; WINDOWS];
        for c in &mut cursor {
            *c = r.u32("window cursor")?;
        }
        let events = r.u32("event count")?;
        let failed = r.u32("failed login count")?;
        let succeeded = r.u32("successful login count")?;
        let bytes_events = r.u32("byte-count event count")?;
        let bytes_sum = r.u64("byte sum")?;
        let commands = r.u32("command count")?;
        let connects = r.u32("connect count")?;
        let port_total = r.u32("port total")?;
        let port_xlogx = r.f64("port entropy accumulator")?;
        let baseline = r.f32("baseline")?;
        let bucket = r.u32("tumbling window")?;
        let bucket_count = r.u32("tumbling window count")?;
        let n = r.len("ring length", 15, p.max_entries)?;
        if base > i64::MAX - i64::from(u32::MAX) {
            return Err(corrupt(
                "offset base",
                &base,
                "base plus any entry offset must fit an i64",
            ));
        }
        let mut ring = VecDeque::with_capacity(n);
        let mut last = i64::MIN;
        for i in 0..n {
            let e = Entry {
                offset: r.u32("entry offset")?,
                dst: r.u32("entry destination")?,
                bytes: r.u32("entry bytes")?,
                port: r.u16("entry port")?,
                flags: r.u8("entry flags")?,
            };
            if e.flags & !flag::ALL != 0 {
                return Err(corrupt(
                    &format!("entry {i} flags"),
                    &format!("{:#04x}", e.flags),
                    "only the bits 0x01 to 0x40 exist",
                ));
            }
            let time = base + i64::from(e.offset);
            if time < last || time > now {
                return Err(corrupt(
                    &format!("entry {i} time"),
                    &time,
                    "entries are sorted in time and not after the source's clock",
                ));
            }
            last = time;
            ring.push_back(e);
        }
        let ports = CountedSet::<u16>::read(
            r,
            &format!("source slot {slot} port multiset"),
            p.max_distinct.max(INLINE),
        )?;
        let ips = CountedSet::<u32>::read(
            r,
            &format!("source slot {slot} address multiset"),
            p.max_distinct.max(INLINE),
        )?;

        let mut state = SourceState {
            key,
            lru_prev,
            lru_next,
            now,
            base,
            ring,
            cursor,
            events: 0,
            failed: 0,
            succeeded: 0,
            bytes_events: 0,
            bytes_sum: 0,
            commands: 0,
            connects: 0,
            port_total: 0,
            port_xlogx: 0.0,
            ports: CountedSet::default(),
            ips: CountedSet::default(),
            baseline,
            bucket,
            bucket_count,
        };
        // Rebuild every window from the entries inside it, as insertions would have.
        for (w, at) in cursor.into_iter().enumerate() {
            let at = at as usize;
            if at > n {
                return Err(corrupt(
                    &format!("window {w} cursor"),
                    &at,
                    &format!("it must be at most the ring length {n}"),
                ));
            }
            let start = now.saturating_sub(p.len_micros[w]);
            let before_ok = at == 0 || state.time_of(&state.ring[at - 1]) <= start;
            let inside_ok = at == n || state.time_of(&state.ring[at]) > start;
            if !(before_ok && inside_ok) {
                return Err(corrupt(
                    &format!("window {w} cursor"),
                    &at,
                    "it must split the ring at the window's start",
                ));
            }
            for i in at..n {
                let e = state.ring[i];
                state.apply(w, e, true, p);
            }
        }
        let stored = [
            ("event count", u64::from(events), u64::from(state.events)),
            (
                "failed login count",
                u64::from(failed),
                u64::from(state.failed),
            ),
            (
                "successful login count",
                u64::from(succeeded),
                u64::from(state.succeeded),
            ),
            (
                "byte-count event count",
                u64::from(bytes_events),
                u64::from(state.bytes_events),
            ),
            ("byte sum", bytes_sum, state.bytes_sum),
            (
                "command count",
                u64::from(commands),
                u64::from(state.commands),
            ),
            (
                "connect count",
                u64::from(connects),
                u64::from(state.connects),
            ),
            (
                "port total",
                u64::from(port_total),
                u64::from(state.port_total),
            ),
        ];
        for (what, value, entries) in stored {
            if value != entries {
                return Err(corrupt(
                    what,
                    &value,
                    &format!("its window entries add up to {entries}"),
                ));
            }
        }
        if !ports.same_counts(&state.ports) {
            return Err(corrupt(
                "port multiset",
                &format!("{} distinct ports", ports.len()),
                "it must count the ports of the entries in the port window",
            ));
        }
        if !ips.same_counts(&state.ips) {
            return Err(corrupt(
                "address multiset",
                &format!("{} distinct addresses", ips.len()),
                "it must count the addresses of the entries in the port window",
            ));
        }
        if !port_xlogx.is_finite() || (port_total == 0 && port_xlogx != 0.0) {
            return Err(corrupt(
                "port entropy accumulator",
                &port_xlogx,
                "it is finite, and 0 when no port is counted",
            ));
        }
        if !(baseline.is_finite() && baseline >= 0.0) {
            return Err(corrupt(
                "baseline",
                &baseline,
                "it is a finite, non-negative number",
            ));
        }
        // The accumulator is a running sum of floating-point steps: recomputing it could differ
        // in the last bits, so the stored value is kept, as are the multisets' forms.
        state.port_xlogx = port_xlogx;
        state.ports = ports;
        state.ips = ips;
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> WindowParams {
        WindowParams::new([30, 30, 60, 300], 1000, 100)
    }

    fn at(secs: f64) -> i64 {
        (secs * 1e6) as i64
    }

    fn push(s: &mut SourceState, p: &WindowParams, secs: f64, port: u16, flags: u8) -> Inserted {
        let time = at(secs);
        s.advance(time, p);
        s.insert(
            NewEntry {
                time,
                kind_flags: flags,
                port: Some(port),
                dst: Some(7),
                bytes: Some(100),
            },
            p,
        )
    }

    #[test]
    fn entries_leave_each_window_at_its_length() {
        let p = params();
        let mut s = SourceState::new(1, 0.0, 0);
        push(&mut s, &p, 0.0, 22, flag::FAILED);
        push(&mut s, &p, 10.0, 23, flag::FAILED);
        assert_eq!((s.counts().events, s.counts().failed_logins), (2, 2));
        push(&mut s, &p, 30.0, 24, 0);
        // The event at 0 s is exactly 30 s old: out of the 30 s windows, still in the others.
        let c = s.counts();
        assert_eq!((c.events, c.failed_logins, c.distinct_ports), (2, 1, 3));
        push(&mut s, &p, 61.0, 24, 0);
        let c = s.counts();
        assert_eq!((c.events, c.distinct_ports, c.bytes_events), (1, 2, 4));
        push(&mut s, &p, 400.0, 25, 0);
        assert_eq!(s.entries(), 1);
        assert_eq!(s.counts().bytes_events, 1);
    }

    #[test]
    fn out_of_order_entry_lands_in_the_windows_it_belongs_to() {
        let p = params();
        let mut s = SourceState::new(1, 0.0, 0);
        push(&mut s, &p, 100.0, 1, 0);
        // 50 s before the clock: outside the 30 s windows, inside the 60 s and 300 s ones.
        let r = push(&mut s, &p, 50.0, 2, flag::FAILED);
        assert!(r.counted && r.port_new);
        let c = s.counts();
        assert_eq!(
            (c.events, c.failed_logins, c.distinct_ports, c.bytes_events),
            (1, 0, 2, 2)
        );
        // Ten seconds later the old entry leaves the port window at its own time (110 s).
        push(&mut s, &p, 110.5, 1, 0);
        let c = s.counts();
        assert_eq!((c.events, c.distinct_ports, c.bytes_events), (2, 1, 3));
        // Older than the longest window: not stored.
        let r = push(&mut s, &p, -200.0, 3, 0);
        assert!(!r.counted);
    }

    #[test]
    fn base_moves_back_for_an_older_entry_and_forward_after_a_long_run() {
        let p = params();
        let mut s = SourceState::new(1, 0.0, 0);
        push(&mut s, &p, 1000.0, 1, 0);
        push(&mut s, &p, 990.0, 2, 0);
        assert_eq!(s.base, at(990.0));
        // An hour and a half of steady traffic pushes offsets past u32 microseconds.
        for i in 0..600 {
            push(&mut s, &p, 1000.0 + f64::from(i) * 10.0, 1, 0);
        }
        assert!(s.base > at(990.0));
        let c = s.counts();
        assert_eq!(c.events, 3);
        assert_eq!(c.bytes_events, 30);
    }

    #[test]
    fn full_ring_drops_the_oldest_entry_from_every_window() {
        let p = WindowParams::new([30, 30, 60, 300], 3, 100);
        let mut s = SourceState::new(1, 0.0, 0);
        for i in 0..5 {
            let r = push(&mut s, &p, f64::from(i), 100 + i as u16, flag::FAILED);
            assert_eq!(r.truncated, i >= 3);
        }
        let c = s.counts();
        assert_eq!(
            (c.events, c.failed_logins, c.distinct_ports, c.bytes_events),
            (3, 3, 3, 3)
        );
    }

    #[test]
    fn distinct_sets_are_capped() {
        let p = WindowParams::new([30, 30, 60, 300], 1000, 2);
        let mut s = SourceState::new(1, 0.0, 0);
        assert!(push(&mut s, &p, 0.0, 1, 0).port_new);
        assert!(push(&mut s, &p, 1.0, 2, 0).port_new);
        assert!(!push(&mut s, &p, 2.0, 3, 0).port_new);
        assert!(!push(&mut s, &p, 3.0, 1, 0).port_new);
        assert_eq!(s.counts().distinct_ports, 2);
        // Once ports 1 and 2 have left the window, port 3 can be counted.
        push(&mut s, &p, 63.5, 3, 0);
        assert_eq!(s.counts().distinct_ports, 1);
    }

    #[test]
    fn counted_set_spills_and_shrinks_back() {
        let mut set: CountedSet<u16> = CountedSet::default();
        for k in 0..10u16 {
            assert_eq!(set.increment(k), 0);
        }
        assert_eq!(set.increment(3), 1);
        assert!(matches!(set, CountedSet::Spilled(_)));
        assert_eq!(set.len(), 10);
        assert_eq!(set.count(3), 2);
        assert_eq!(set.decrement(3), 1);
        for k in 0..10u16 {
            assert_eq!(set.decrement(k), 0);
        }
        assert_eq!(set.len(), 0);
        assert!(matches!(set, CountedSet::Inline { .. }));
        assert_eq!(set.decrement(99), 0);
        // Counts above u16::MAX spill too.
        let mut big: CountedSet<u32> = CountedSet::default();
        for _ in 0..70_000 {
            big.increment(5);
        }
        assert_eq!(big.count(5), 70_000);
    }

    #[test]
    fn entropy_matches_the_direct_formula() {
        let p = params();
        let mut s = SourceState::new(1, 0.0, 0);
        let ports = [22u16, 22, 23, 80, 80, 80, 443];
        for (i, port) in ports.iter().enumerate() {
            push(&mut s, &p, i as f64, *port, 0);
        }
        let n = ports.len() as f64;
        let expected: f64 = [2.0, 1.0, 3.0, 1.0]
            .iter()
            .map(|c: &f64| -(c / n) * (c / n).log2())
            .sum();
        assert!((s.counts().port_entropy_bits - expected).abs() < 1e-12);
    }

    #[test]
    fn baseline_rolls_per_completed_window_and_decays_over_gaps() {
        let spike = TrafficSpikeConfig::default();
        let mut s = SourceState::new(1, 10.0, 5);
        for _ in 0..20 {
            s.count_in_bucket();
        }
        assert_eq!(s.roll_baseline(5, 0.5, &spike).completed_count, 0);
        let roll = s.roll_baseline(6, 0.5, &spike);
        assert_eq!((roll.completed_count, roll.folded_count), (20, 20));
        assert!((s.counts().baseline - 15.0).abs() < 1e-6);
        // Two empty windows skipped: 15 * 0.5 (completed empty) * 0.25.
        s.roll_baseline(9, 0.5, &spike);
        assert!((s.counts().baseline - 15.0 * 0.5 * 0.25).abs() < 1e-6);
    }

    #[test]
    fn a_spiking_window_is_folded_in_at_the_spike_level() {
        let spike = TrafficSpikeConfig {
            min_events: 50,
            factor: 4.0,
        };
        // Baseline 20: the spike level is max(50, 4 * 20) = 80.
        let mut s = SourceState::new(1, 20.0, 0);
        for _ in 0..1000 {
            s.count_in_bucket();
        }
        let roll = s.roll_baseline(1, 0.25, &spike);
        assert_eq!((roll.completed_count, roll.folded_count), (1000, 80));
        assert!((s.counts().baseline - (0.25 * 80.0 + 0.75 * 20.0)).abs() < 1e-5);
        // Baseline 35: the level is max(50, 140) = 140; a window of 100 is no spike.
        for _ in 0..100 {
            s.count_in_bucket();
        }
        let roll = s.roll_baseline(2, 0.25, &spike);
        assert_eq!(roll.folded_count, 100);
    }

    #[test]
    fn the_cap_never_falls_below_twice_the_baseline() {
        let lenient = TrafficSpikeConfig {
            min_events: 1,
            factor: 1.0,
        };
        assert_eq!(baseline_fold_cap(&lenient, 100.0), 200);
        assert_eq!(baseline_fold_cap(&lenient, 0.2), 2);
        assert_eq!(baseline_fold_cap(&lenient, f64::NAN), 2);
        let strict = TrafficSpikeConfig::default();
        assert_eq!(baseline_fold_cap(&strict, 3.3), 200);
        assert_eq!(baseline_fold_cap(&strict, 100.0), 500);
        assert_eq!(baseline_fold_cap(&strict, 1e300), u32::MAX);
    }
}

#[cfg(test)]
mod snapshot_tests {
    use super::*;
    use crate::snapshot::{Reader, Writer};

    fn params() -> WindowParams {
        WindowParams::new([30, 30, 60, 300], 1000, 100)
    }

    /// A source with entries in every window, a spilled port set and out-of-order entries.
    fn busy(p: &WindowParams) -> SourceState {
        let mut s = SourceState::new(0x2001_0db8 << 96 | 7, 3.5, 0);
        for i in 0..40u32 {
            let time = i64::from(i) * 4_000_000 + i64::from(i % 3) * 10_000;
            s.advance(time, p);
            s.insert(
                NewEntry {
                    time: time - i64::from(i % 5) * 7_000_000,
                    kind_flags: [flag::FAILED, flag::SUCCESS, flag::COMMAND, flag::CONNECT, 0]
                        [i as usize % 5],
                    port: (i % 7 != 0).then_some(20 + (i % 9) as u16),
                    dst: Some(i % 6),
                    bytes: (i % 2 == 0).then_some(i * 100),
                },
                p,
            );
            s.count_in_bucket();
        }
        s.roll_baseline(3, 0.2, &TrafficSpikeConfig::default());
        s
    }

    fn encode(s: &SourceState) -> Vec<u8> {
        let mut w = Writer::new();
        s.write(&mut w);
        w.finish()
    }

    fn decode(bytes: &[u8], p: &WindowParams) -> Result<SourceState, FeatureSnapshotError> {
        let mut r = Reader::open(bytes)?;
        let s = SourceState::read(&mut r, p, 0)?;
        r.end()?;
        Ok(s)
    }

    fn requirement(result: Result<SourceState, FeatureSnapshotError>) -> String {
        match result {
            Err(FeatureSnapshotError::Corrupt {
                what, requirement, ..
            }) => format!("{what}: {requirement}"),
            other => panic!("expected a corrupt-record error, got {other:?}"),
        }
    }

    #[test]
    fn a_record_round_trips_with_its_multisets_in_their_form() {
        let p = params();
        let s = busy(&p);
        assert!(matches!(s.ports, CountedSet::Spilled(_)));
        assert!(s.cursor.iter().any(|c| *c > 0));
        let bytes = encode(&s);
        let back = decode(&bytes, &p).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(encode(&back), bytes);
        assert!(matches!(back.ports, CountedSet::Spilled(_)));
        assert_eq!(back.counts(), s.counts());
        assert_eq!(back.port_xlogx.to_bits(), s.port_xlogx.to_bits());
        assert_eq!(back.ring, s.ring);
    }

    #[test]
    fn inconsistent_records_are_refused_naming_the_value() {
        let p = params();
        let good = busy(&p);
        let mut s = good.clone();
        s.events += 1;
        assert!(
            requirement(decode(&encode(&s), &p))
                .starts_with("source slot 0 event count: its window entries add up to")
        );
        let mut s = good.clone();
        s.bytes_sum -= 1;
        assert!(requirement(decode(&encode(&s), &p)).contains("byte sum"));
        let mut s = good.clone();
        s.ips.increment(12345);
        assert!(requirement(decode(&encode(&s), &p)).contains("address multiset"));
        let mut s = good.clone();
        s.ports.decrement(21);
        assert!(requirement(decode(&encode(&s), &p)).contains("port multiset"));
        let mut s = good.clone();
        s.cursor[PORT] += 1;
        assert!(requirement(decode(&encode(&s), &p)).contains("window 2 cursor"));
        let mut s = good.clone();
        s.cursor[EVENT] = s.ring.len() as u32 + 1;
        assert!(requirement(decode(&encode(&s), &p)).contains("at most the ring length"));
        let mut s = good.clone();
        s.ring[3].flags |= 0x80;
        assert!(requirement(decode(&encode(&s), &p)).contains("entry 3 flags"));
        let mut s = good.clone();
        s.ring.swap(1, 2);
        s.ring[1].offset += 1;
        assert!(requirement(decode(&encode(&s), &p)).contains("time: entries are sorted"));
        let mut s = good.clone();
        s.now = s.base;
        assert!(requirement(decode(&encode(&s), &p)).contains("not after the source's clock"));
        let mut s = good.clone();
        s.port_xlogx = f64::NAN;
        assert!(requirement(decode(&encode(&s), &p)).contains("port entropy accumulator"));
        let mut s = good.clone();
        s.baseline = -1.0;
        assert!(requirement(decode(&encode(&s), &p)).contains("baseline"));
        let mut s = good.clone();
        s.base = i64::MAX;
        assert!(requirement(decode(&encode(&s), &p)).contains("offset base"));
        // More entries than the configuration allows.
        let few = WindowParams::new([30, 30, 60, 300], 3, 100);
        assert!(requirement(decode(&encode(&good), &few)).contains("ring length"));
    }
}

#[cfg(test)]
mod size {
    use super::*;

    #[test]
    fn records_stay_compact() {
        // Memory per tracked source is dominated by these; a million sources must fit in a
        // few hundred megabytes.
        assert_eq!(std::mem::size_of::<Entry>(), 16);
        let record = std::mem::size_of::<SourceState>();
        eprintln!("SourceState is {record} bytes");
        assert!(record <= 208, "SourceState grew to {record} bytes");
    }
}
