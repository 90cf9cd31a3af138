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
