//! Activity over event time: events, anomalies, scores and distinct sources per minute.
//!
//! The alert stage records each batch ([`BatchActivity`], one lock per batch); the API sums
//! minutes into windows (`GET /api/v1/stats/summary`) and buckets (`/stats/timeseries`).
//! Memory is bounded: the last [`RETAINED_MINUTES`] minutes of event time (seven days) are
//! kept, each with its counters and a set of source addresses that stays exact up to
//! [`EXACT_SOURCES`] addresses and becomes a HyperLogLog sketch (1,024 registers, about 3 %
//! standard error) beyond, so a minute holds at most about 1 KiB of sources.
//!
//! The clock is event time: a window ends at the end of the minute of the latest event seen
//! unless asked otherwise. Events older than what is kept, or more than a day ahead of the
//! wall clock (a broken timestamp would otherwise push every minute out), are not counted;
//! they are tallied in [`Activity::ignored`].

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

/// Length of one bucket, in seconds.
pub const MINUTE_SECS: i64 = 60;

/// Minutes of event time kept (seven days).
pub const RETAINED_MINUTES: i64 = 7 * 24 * 60;

/// Addresses a set holds exactly before it becomes a sketch.
pub const EXACT_SOURCES: usize = 128;

/// Addresses a window's union holds exactly before it becomes a sketch.
const EXACT_UNION: usize = 65_536;

/// How far ahead of the wall clock an event may be and still be counted, in seconds.
const MAX_AHEAD_SECS: i64 = 86_400;

/// Register index bits of the sketch.
const SKETCH_BITS: u32 = 10;
const SKETCH_REGISTERS: usize = 1 << SKETCH_BITS;

/// A set of source addresses: exact while small, a HyperLogLog sketch beyond.
#[derive(Debug, Clone, PartialEq)]
pub enum Distinct {
    /// Hashes of the addresses, sorted, at most the set's cap.
    Exact(Vec<u64>),
    /// HyperLogLog registers.
    Sketch(Box<[u8; SKETCH_REGISTERS]>),
}

impl Default for Distinct {
    fn default() -> Distinct {
        Distinct::Exact(Vec::new())
    }
}

/// A well-mixed 64-bit hash of an address (IPv4-mapped IPv6 taken as IPv4).
pub fn address_hash(ip: IpAddr) -> u64 {
    let (family, bits) = match ip.to_canonical() {
        IpAddr::V4(a) => (4u128, u128::from(u32::from(a))),
        IpAddr::V6(a) => (6u128, u128::from(a)),
    };
    let low = splitmix(bits as u64 ^ family.wrapping_mul(0x9e37_79b9_7f4a_7c15) as u64);
    splitmix(low ^ (bits >> 64) as u64)
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Distinct {
    /// Adds a hash; the set becomes a sketch when it would hold more than `cap`.
    pub fn insert(&mut self, hash: u64, cap: usize) {
        match self {
            Distinct::Exact(hashes) => {
                if let Err(at) = hashes.binary_search(&hash) {
                    if hashes.len() >= cap {
                        let mut sketch = Box::new([0u8; SKETCH_REGISTERS]);
                        for h in hashes.iter().copied().chain([hash]) {
                            sketch_add(&mut sketch, h);
                        }
                        *self = Distinct::Sketch(sketch);
                    } else {
                        hashes.insert(at, hash);
                    }
                }
            }
            Distinct::Sketch(sketch) => sketch_add(sketch, hash),
        }
    }

    /// Adds every address of `other`.
    pub fn merge(&mut self, other: &Distinct, cap: usize) {
        match other {
            Distinct::Exact(hashes) => {
                for hash in hashes {
                    self.insert(*hash, cap);
                }
            }
            Distinct::Sketch(theirs) => {
                if let Distinct::Exact(hashes) = self {
                    let mut sketch = Box::new([0u8; SKETCH_REGISTERS]);
                    for hash in hashes.iter() {
                        sketch_add(&mut sketch, *hash);
                    }
                    *self = Distinct::Sketch(sketch);
                }
                if let Distinct::Sketch(mine) = self {
                    for (m, t) in mine.iter_mut().zip(theirs.iter()) {
                        *m = (*m).max(*t);
                    }
                }
            }
        }
    }

    /// How many addresses, and whether that is an estimate.
    pub fn count(&self) -> (u64, bool) {
        match self {
            Distinct::Exact(hashes) => (hashes.len() as u64, false),
            Distinct::Sketch(sketch) => (sketch_estimate(sketch), true),
        }
    }
}

fn sketch_add(sketch: &mut [u8; SKETCH_REGISTERS], hash: u64) {
    let index = (hash >> (64 - SKETCH_BITS)) as usize;
    let rest = (hash << SKETCH_BITS) | (1 << (SKETCH_BITS - 1));
    let rank = rest.leading_zeros() as u8 + 1;
    if sketch[index] < rank {
        sketch[index] = rank;
    }
}

fn sketch_estimate(sketch: &[u8; SKETCH_REGISTERS]) -> u64 {
    let m = SKETCH_REGISTERS as f64;
    let alpha = 0.7213 / (1.0 + 1.079 / m);
    let sum: f64 = sketch.iter().map(|r| (-f64::from(*r)).exp2()).sum();
    let zeros = sketch.iter().filter(|r| **r == 0).count();
    let raw = alpha * m * m / sum;
    let estimate = if raw <= 2.5 * m && zeros > 0 {
        m * (m / zeros as f64).ln()
    } else {
        raw
    };
    estimate.round() as u64
}

/// What one bucket (a minute, or a sum of minutes) holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// Events decided.
    pub events: u64,
    /// Events that raised at least one stored (not dropped) RED or ORANGE alert.
    pub anomalies: u64,
    /// Sum of the pool's calibrated scores of the events it scored.
    pub score_sum: f64,
    /// Events the pool scored.
    pub scored: u64,
    /// Source addresses seen.
    pub sources: Distinct,
}

impl Tally {
    fn add(&mut self, other: &Tally, cap: usize) {
        self.events += other.events;
        self.anomalies += other.anomalies;
        self.score_sum += other.score_sum;
        self.scored += other.scored;
        self.sources.merge(&other.sources, cap);
    }

    /// The mean pool score, when the pool scored any event.
    pub fn mean_score(&self) -> Option<f64> {
        (self.scored > 0).then(|| self.score_sum / self.scored as f64)
    }
}

/// One batch's activity, gathered without a lock and recorded with one.
#[derive(Debug, Default)]
pub struct BatchActivity {
    minutes: BTreeMap<i64, Tally>,
}

impl BatchActivity {
    /// Counts one event: its time, source, pool score (if scored) and whether it raised an
    /// alert that was stored.
    pub fn event(
        &mut self,
        event_time: DateTime<Utc>,
        src_ip: Option<IpAddr>,
        score: Option<f64>,
        anomalous: bool,
    ) {
        let minute = event_time.timestamp().div_euclid(MINUTE_SECS);
        let tally = self.minutes.entry(minute).or_default();
        tally.events += 1;
        tally.anomalies += u64::from(anomalous);
        if let Some(score) = score.filter(|s| s.is_finite()) {
            tally.score_sum += score;
            tally.scored += 1;
        }
        if let Some(ip) = src_ip {
            tally.sources.insert(address_hash(ip), EXACT_SOURCES);
        }
    }
}

#[derive(Debug, Default)]
struct Minutes {
    /// By minute index (event time in seconds divided by 60).
    tallies: BTreeMap<i64, Tally>,
    /// Minute of the latest event counted.
    latest: Option<i64>,
    /// Events not counted (too old, or too far ahead of the wall clock).
    ignored: u64,
}

/// Events, anomalies, scores and sources per minute of event time (see the module docs).
#[derive(Debug, Default)]
pub struct Activity {
    inner: Mutex<Minutes>,
}

/// A time range in whole minutes: `[since, until)`, in seconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Start, inclusive, a multiple of 60.
    pub since: i64,
    /// End, exclusive, a multiple of 60.
    pub until: i64,
}

impl Activity {
    /// Empty.
    pub fn new() -> Activity {
        Activity::default()
    }

    /// Adds one batch, with the wall clock at `now` (events more than a day ahead of it are
    /// not counted).
    pub fn record(&self, batch: BatchActivity, now: DateTime<Utc>) {
        if batch.minutes.is_empty() {
            return;
        }
        let newest_allowed = (now.timestamp() + MAX_AHEAD_SECS).div_euclid(MINUTE_SECS);
        let mut inner = self.lock();
        for (minute, tally) in batch.minutes {
            if minute > newest_allowed {
                inner.ignored += tally.events;
                continue;
            }
            let latest = inner.latest.map_or(minute, |l| l.max(minute));
            if minute <= latest - RETAINED_MINUTES {
                inner.ignored += tally.events;
                continue;
            }
            inner.latest = Some(latest);
            match inner.tallies.get_mut(&minute) {
                Some(held) => held.add(&tally, EXACT_SOURCES),
                None => {
                    inner.tallies.insert(minute, tally);
                }
            }
        }
        if let Some(latest) = inner.latest {
            let keep = inner.tallies.split_off(&(latest - RETAINED_MINUTES + 1));
            let dropped = std::mem::replace(&mut inner.tallies, keep);
            drop(dropped);
        }
    }

    /// The end of the minute of the latest event counted (seconds since the epoch), the
    /// default end of every window.
    pub fn clock_end(&self) -> Option<i64> {
        self.lock().latest.map(|m| (m + 1) * MINUTE_SECS)
    }

    /// Events not counted: older than the minutes kept, or a day ahead of the wall clock.
    pub fn ignored(&self) -> u64 {
        self.lock().ignored
    }

    /// Minutes held now (at most [`RETAINED_MINUTES`]).
    pub fn minutes_held(&self) -> usize {
        self.lock().tallies.len()
    }

    /// The sum over `span` (whole minutes), distinct sources counted once across minutes.
    pub fn sum(&self, span: Span) -> Tally {
        let inner = self.lock();
        sum_range(&inner.tallies, span)
    }

    /// Consecutive buckets of `bucket_secs` (a multiple of 60) from `span.since` to
    /// `span.until` (both multiples of it), each with its sum.
    pub fn series(&self, span: Span, bucket_secs: i64) -> Vec<(i64, Tally)> {
        let inner = self.lock();
        let mut out = Vec::new();
        let mut start = span.since;
        while start < span.until {
            let end = (start + bucket_secs).min(span.until);
            out.push((
                start,
                sum_range(
                    &inner.tallies,
                    Span {
                        since: start,
                        until: end,
                    },
                ),
            ));
            start = end;
        }
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Minutes> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn sum_range(tallies: &BTreeMap<i64, Tally>, span: Span) -> Tally {
    let mut total = Tally::default();
    let (from, to) = (
        span.since.div_euclid(MINUTE_SECS),
        span.until.div_euclid(MINUTE_SECS),
    );
    if from >= to {
        return total;
    }
    for tally in tallies.range(from..to).map(|(_, t)| t) {
        total.add(tally, EXACT_UNION);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).expect("a time")
    }

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + n))
    }

    const T0: i64 = 1_772_323_200; // 2026-03-01T00:00:00Z

    #[test]
    fn minutes_sum_into_windows_and_buckets() {
        let activity = Activity::new();
        let mut batch = BatchActivity::default();
        batch.event(at(T0 + 5), Some(ip(1)), Some(0.2), false);
        batch.event(at(T0 + 59), Some(ip(1)), Some(0.4), true);
        batch.event(at(T0 + 60), Some(ip(2)), None, false);
        batch.event(at(T0 + 400), None, Some(0.9), true);
        activity.record(batch, at(T0));
        assert_eq!(activity.clock_end(), Some(T0 + 420));
        let first = activity.sum(Span {
            since: T0,
            until: T0 + 60,
        });
        assert_eq!((first.events, first.anomalies, first.scored), (2, 1, 2));
        assert!((first.mean_score().expect("scored") - 0.3).abs() < 1e-12);
        assert_eq!(first.sources.count(), (1, false));
        let all = activity.sum(Span {
            since: T0,
            until: T0 + 420,
        });
        assert_eq!((all.events, all.anomalies), (4, 2));
        assert_eq!(all.sources.count(), (2, false));
        let series = activity.series(
            Span {
                since: T0,
                until: T0 + 600,
            },
            300,
        );
        let events: Vec<(i64, u64)> = series.iter().map(|(s, t)| (*s, t.events)).collect();
        assert_eq!(events, vec![(T0, 3), (T0 + 300, 1)]);
        assert_eq!(series[1].1.mean_score(), Some(0.9));
        let empty = activity.sum(Span {
            since: T0 + 600,
            until: T0 + 900,
        });
        assert_eq!(empty.events, 0);
        assert_eq!(empty.mean_score(), None);
    }

    #[test]
    fn memory_stays_within_seven_days_and_far_future_events_are_ignored() {
        let activity = Activity::new();
        for day in 0..10 {
            let mut batch = BatchActivity::default();
            for minute in (0..1440).step_by(7) {
                batch.event(
                    at(T0 + day * 86_400 + minute * 60),
                    Some(ip(day as u32)),
                    None,
                    false,
                );
            }
            activity.record(batch, at(T0 + 10 * 86_400));
        }
        assert!(activity.minutes_held() <= RETAINED_MINUTES as usize);
        let before = activity.ignored();
        let mut old = BatchActivity::default();
        old.event(at(T0), Some(ip(1)), None, false);
        activity.record(old, at(T0 + 10 * 86_400));
        assert_eq!(activity.ignored(), before + 1);
        let end = activity.clock_end().expect("events seen");
        let mut future = BatchActivity::default();
        future.event(at(T0 + 400 * 86_400), Some(ip(1)), None, false);
        activity.record(future, at(T0 + 10 * 86_400));
        assert_eq!(activity.ignored(), before + 2);
        assert_eq!(activity.clock_end(), Some(end), "the clock did not jump");
    }

    #[test]
    fn distinct_sources_are_exact_when_small_and_estimated_when_large() {
        let mut small = Distinct::default();
        for n in 0..100 {
            small.insert(address_hash(ip(n % 50)), EXACT_SOURCES);
        }
        assert_eq!(small.count(), (50, false));
        let mut large = Distinct::default();
        for n in 0..20_000 {
            large.insert(address_hash(ip(n)), EXACT_SOURCES);
        }
        let (estimate, estimated) = large.count();
        assert!(estimated);
        let error = (estimate as f64 - 20_000.0).abs() / 20_000.0;
        assert!(error < 0.1, "estimate {estimate} for 20000");
        // A union of sketches and exact sets counts each address once.
        let mut union = Distinct::default();
        union.merge(&small, EXACT_UNION);
        union.merge(&large, EXACT_UNION);
        let (both, _) = union.count();
        let error = (both as f64 - 20_000.0).abs() / 20_000.0;
        assert!(error < 0.1, "union {both}");
        // Just past the cap it becomes a sketch that still counts closely.
        let mut edge = Distinct::default();
        for n in 0..=EXACT_SOURCES as u32 {
            edge.insert(address_hash(ip(n)), EXACT_SOURCES);
        }
        let (n, estimated) = edge.count();
        assert!(estimated);
        assert!(n.abs_diff(EXACT_SOURCES as u64 + 1) <= 5, "{n}");
    }

    #[test]
    fn mapped_addresses_hash_as_their_ipv4_form() {
        let v4: IpAddr = "192.0.2.1".parse().expect("address");
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().expect("address");
        let other: IpAddr = "192.0.2.2".parse().expect("address");
        assert_eq!(address_hash(v4), address_hash(mapped));
        assert_ne!(address_hash(v4), address_hash(other));
    }
}
