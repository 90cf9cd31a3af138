//! The byte encoding of [`FeatureExtractor::snapshot`](crate::FeatureExtractor::snapshot):
//! a hand-written little-endian codec with a versioned, checksummed envelope.
//!
//! # Layout
//! ```text
//! magic      8 bytes   "VGLFEATS"
//! version    u16       SNAPSHOT_FORMAT_VERSION
//! length     u64       bytes in the whole snapshot, checksum included
//! config     ...       the configuration identity (see below)
//! state      ...       extractor scalars, then the source table
//! checksum   u64       64-bit FNV-1a of every byte before it
//! ```
//! Integers are little-endian, floating-point values are their IEEE 754 bits (so they come back
//! bit for bit), `Option<i64>` is a `u8` presence flag and the value.
//!
//! The configuration identity is every [`FeatureConfig`](crate::FeatureConfig) field plus the
//! schema's dimension, in declaration order; `common_ports` as a sorted, de-duplicated list
//! (order and repeats in the configuration do not change what it means).
//!
//! The extractor state is the newest event time, the global baseline, the late and truncated
//! counters, then the source table: its eviction counter, the head and tail of its
//! least-recently-seen list, and every record in slot order (key, list links, clock, offset
//! base, window cursors, window aggregates, the port entropy accumulator, baseline, tumbling
//! window and its count, the entry ring, the port and address multisets in their inline or
//! spilled form). A spilled multiset is written sorted by key, so equal states give equal bytes.

use crate::FeatureConfig;

/// Magic at the start of every feature snapshot.
pub(crate) const MAGIC: [u8; 8] = *b"VGLFEATS";

/// The feature snapshot format this build writes and reads.
pub const SNAPSHOT_FORMAT_VERSION: u16 = 1;

/// Bytes before the configuration identity: magic, version, length.
const HEADER_LEN: usize = 8 + 2 + 8;
/// Bytes of the trailing checksum.
const CHECKSUM_LEN: usize = 8;

/// Why [`FeatureExtractor::restore`](crate::FeatureExtractor::restore) refused a snapshot. The
/// extractor is left exactly as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeatureSnapshotError {
    /// The bytes do not start with the feature snapshot magic.
    #[error("not a feature snapshot: it starts with {found} (hex) instead of \"VGLFEATS\"")]
    NotASnapshot {
        /// The first bytes found, in hex.
        found: String,
    },
    /// A format version this build does not read.
    #[error("feature snapshot format version {found} is not the supported version {supported}")]
    UnsupportedVersion {
        /// The version in the snapshot.
        found: u16,
        /// The version this build reads.
        supported: u16,
    },
    /// Fewer (or more) bytes than the snapshot's header announces.
    #[error("feature snapshot should be {expected} bytes long, got {got}")]
    Length {
        /// The length the header announces.
        expected: u64,
        /// The length passed in.
        got: usize,
    },
    /// The checksum does not match the contents.
    #[error(
        "feature snapshot checksum {stored:#018x} does not match its contents ({computed:#018x}): the bytes are corrupt"
    )]
    Checksum {
        /// The checksum stored in the snapshot.
        stored: u64,
        /// The checksum of the bytes read.
        computed: u64,
    },
    /// The snapshot was taken under another configuration.
    #[error(
        "feature snapshot was taken with {field} = {snapshot}, this extractor has {field} = {current}"
    )]
    ConfigMismatch {
        /// The configuration field that differs (`dim` for the schema's dimension).
        field: &'static str,
        /// Its value in the snapshot.
        snapshot: String,
        /// Its value in this extractor's configuration.
        current: String,
    },
    /// The snapshot ends inside a value.
    #[error("feature snapshot is cut short: {what} needs {needed} bytes, {left} left")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes it needs.
        needed: usize,
        /// Bytes left.
        left: usize,
    },
    /// A value that the extractor can never hold (the checksum matched, so the snapshot was
    /// written wrongly or crafted).
    #[error("feature snapshot is corrupt: {what} is {value}, but {requirement}")]
    Corrupt {
        /// The value, e.g. `source 12 ring entry 3 time`.
        what: String,
        /// The value found.
        value: String,
        /// What it must be.
        requirement: String,
    },
}

impl FeatureSnapshotError {
    /// A [`FeatureSnapshotError::Corrupt`].
    pub(crate) fn corrupt(
        what: impl Into<String>,
        value: impl ToString,
        requirement: impl Into<String>,
    ) -> FeatureSnapshotError {
        FeatureSnapshotError::Corrupt {
            what: what.into(),
            value: value.to_string(),
            requirement: requirement.into(),
        }
    }
}

/// 64-bit FNV-1a.
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Appends little-endian values.
#[derive(Debug)]
pub(crate) struct Writer {
    bytes: Vec<u8>,
}

impl Writer {
    /// A snapshot with its header written (the length is filled in by [`finish`](Self::finish)).
    pub(crate) fn new() -> Writer {
        let mut bytes = Vec::with_capacity(256);
        bytes.extend_from_slice(&MAGIC);
        bytes.extend_from_slice(&SNAPSHOT_FORMAT_VERSION.to_le_bytes());
        bytes.extend_from_slice(&0u64.to_le_bytes());
        Writer { bytes }
    }

    /// Reserves room for `n` more bytes.
    pub(crate) fn reserve(&mut self, n: usize) {
        self.bytes.reserve(n);
    }

    pub(crate) fn u8(&mut self, v: u8) {
        self.bytes.push(v);
    }

    pub(crate) fn u16(&mut self, v: u16) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    pub(crate) fn u32(&mut self, v: u32) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    pub(crate) fn u64(&mut self, v: u64) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    pub(crate) fn i64(&mut self, v: i64) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    pub(crate) fn f64(&mut self, v: f64) {
        self.u64(v.to_bits());
    }

    pub(crate) fn f32(&mut self, v: f32) {
        self.u32(v.to_bits());
    }

    /// A length or count (every one fits a `u32`: slots, entries and set sizes are bounded by
    /// `u32` configuration values).
    pub(crate) fn len(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }

    /// The finished snapshot: length filled in, checksum appended.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        let total = (self.bytes.len() + CHECKSUM_LEN) as u64;
        self.bytes[10..HEADER_LEN].copy_from_slice(&total.to_le_bytes());
        let sum = fnv1a64(&self.bytes);
        self.bytes.extend_from_slice(&sum.to_le_bytes());
        self.bytes
    }
}

/// Reads what [`Writer`] wrote, naming what it reads in errors.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Checks magic, version, length and checksum; the reader stands at the configuration.
    pub(crate) fn open(bytes: &'a [u8]) -> Result<Reader<'a>, FeatureSnapshotError> {
        if bytes.len() < MAGIC.len() || bytes[..MAGIC.len()] != MAGIC {
            let found: String = bytes
                .iter()
                .take(MAGIC.len())
                .map(|b| format!("{b:02x}"))
                .collect();
            return Err(FeatureSnapshotError::NotASnapshot {
                found: if found.is_empty() {
                    "nothing".to_string()
                } else {
                    found
                },
            });
        }
        let mut header = Reader {
            rest: &bytes[MAGIC.len()..],
        };
        let version = header.u16("format version")?;
        if version != SNAPSHOT_FORMAT_VERSION {
            return Err(FeatureSnapshotError::UnsupportedVersion {
                found: version,
                supported: SNAPSHOT_FORMAT_VERSION,
            });
        }
        let expected = header.u64("snapshot length")?;
        if expected != bytes.len() as u64 || bytes.len() < HEADER_LEN + CHECKSUM_LEN {
            return Err(FeatureSnapshotError::Length {
                expected,
                got: bytes.len(),
            });
        }
        let (body, sum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
        let mut stored = [0u8; 8];
        stored.copy_from_slice(sum);
        let stored = u64::from_le_bytes(stored);
        let computed = fnv1a64(body);
        if stored != computed {
            return Err(FeatureSnapshotError::Checksum { stored, computed });
        }
        Ok(Reader {
            rest: &body[HEADER_LEN..],
        })
    }

    fn take<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<[u8; N], FeatureSnapshotError> {
        let Some((head, tail)) = self.rest.split_first_chunk::<N>() else {
            return Err(FeatureSnapshotError::Truncated {
                what,
                needed: N,
                left: self.rest.len(),
            });
        };
        self.rest = tail;
        Ok(*head)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, FeatureSnapshotError> {
        self.take::<1>(what).map(|b| b[0])
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, FeatureSnapshotError> {
        self.take(what).map(u16::from_le_bytes)
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, FeatureSnapshotError> {
        self.take(what).map(u32::from_le_bytes)
    }

    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, FeatureSnapshotError> {
        self.take(what).map(u64::from_le_bytes)
    }

    pub(crate) fn i64(&mut self, what: &'static str) -> Result<i64, FeatureSnapshotError> {
        self.take(what).map(i64::from_le_bytes)
    }

    pub(crate) fn f64(&mut self, what: &'static str) -> Result<f64, FeatureSnapshotError> {
        self.u64(what).map(f64::from_bits)
    }

    pub(crate) fn f32(&mut self, what: &'static str) -> Result<f32, FeatureSnapshotError> {
        self.u32(what).map(f32::from_bits)
    }

    /// A count of items of at least `item_bytes` bytes each, checked against `max` and against
    /// the bytes left (so a corrupt count cannot make the reader allocate without bound).
    pub(crate) fn len(
        &mut self,
        what: &'static str,
        item_bytes: usize,
        max: usize,
    ) -> Result<usize, FeatureSnapshotError> {
        let n = self.u32(what)? as usize;
        if n > max {
            return Err(FeatureSnapshotError::corrupt(
                what,
                n,
                format!("it must be at most {max}"),
            ));
        }
        let needed = n.saturating_mul(item_bytes);
        if needed > self.rest.len() {
            return Err(FeatureSnapshotError::Truncated {
                what,
                needed,
                left: self.rest.len(),
            });
        }
        Ok(n)
    }

    /// Checks that everything was read.
    pub(crate) fn end(self) -> Result<(), FeatureSnapshotError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(FeatureSnapshotError::corrupt(
                "the end of the state",
                format!("followed by {} bytes", self.rest.len()),
                "the checksum must follow it directly",
            ))
        }
    }
}

/// The sorted, de-duplicated common ports: what the configuration means.
fn common_ports(config: &FeatureConfig) -> Vec<u16> {
    let mut ports = config.common_ports.clone();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// Writes the configuration identity of `config` (with the schema's dimension `dim`).
pub(crate) fn write_config(w: &mut Writer, config: &FeatureConfig, dim: usize) {
    w.len(dim);
    w.u32(config.event_window_secs);
    w.u32(config.login_window_secs);
    w.u32(config.port_window_secs);
    w.u32(config.bytes_window_secs);
    w.u64(config.max_tracked_sources as u64);
    w.u8(config.ipv6_source_prefix);
    w.u32(config.allowed_lateness_secs);
    let ports = common_ports(config);
    w.len(ports.len());
    for port in ports {
        w.u16(port);
    }
    w.u32(config.max_entries_per_source);
    w.u32(config.max_distinct_per_source);
    w.f64(config.baseline_alpha);
    w.u32(config.baseline_spike_level.min_events);
    w.f64(config.baseline_spike_level.factor);
    w.u16(config.utc_offset_minutes as u16);
    w.u64(config.hash_seed);
}

/// Reads a configuration identity and checks it against `config` (and the dimension `dim`):
/// the error names the first field that differs.
pub(crate) fn check_config(
    r: &mut Reader<'_>,
    config: &FeatureConfig,
    dim: usize,
) -> Result<(), FeatureSnapshotError> {
    fn same<T: PartialEq + ToString>(
        field: &'static str,
        snapshot: T,
        current: T,
    ) -> Result<(), FeatureSnapshotError> {
        if snapshot == current {
            Ok(())
        } else {
            Err(FeatureSnapshotError::ConfigMismatch {
                field,
                snapshot: snapshot.to_string(),
                current: current.to_string(),
            })
        }
    }
    /// Floating-point settings compare bit for bit, and show as numbers.
    fn same_f64(
        field: &'static str,
        snapshot: f64,
        current: f64,
    ) -> Result<(), FeatureSnapshotError> {
        if snapshot.to_bits() == current.to_bits() {
            Ok(())
        } else {
            Err(FeatureSnapshotError::ConfigMismatch {
                field,
                snapshot: snapshot.to_string(),
                current: current.to_string(),
            })
        }
    }
    same("dim", r.u32("dim")? as usize, dim)?;
    same(
        "event_window_secs",
        r.u32("event_window_secs")?,
        config.event_window_secs,
    )?;
    same(
        "login_window_secs",
        r.u32("login_window_secs")?,
        config.login_window_secs,
    )?;
    same(
        "port_window_secs",
        r.u32("port_window_secs")?,
        config.port_window_secs,
    )?;
    same(
        "bytes_window_secs",
        r.u32("bytes_window_secs")?,
        config.bytes_window_secs,
    )?;
    same(
        "max_tracked_sources",
        r.u64("max_tracked_sources")?,
        config.max_tracked_sources as u64,
    )?;
    same(
        "ipv6_source_prefix",
        r.u8("ipv6_source_prefix")?,
        config.ipv6_source_prefix,
    )?;
    same(
        "allowed_lateness_secs",
        r.u32("allowed_lateness_secs")?,
        config.allowed_lateness_secs,
    )?;
    let n = r.len("common_ports length", 2, usize::from(u16::MAX) + 1)?;
    let mut ports = Vec::with_capacity(n);
    for _ in 0..n {
        ports.push(r.u16("common port")?);
    }
    let show = |ports: &[u16]| format!("{ports:?}");
    same("common_ports", show(&ports), show(&common_ports(config)))?;
    same(
        "max_entries_per_source",
        r.u32("max_entries_per_source")?,
        config.max_entries_per_source,
    )?;
    same(
        "max_distinct_per_source",
        r.u32("max_distinct_per_source")?,
        config.max_distinct_per_source,
    )?;
    same_f64(
        "baseline_alpha",
        r.f64("baseline_alpha")?,
        config.baseline_alpha,
    )?;
    same(
        "baseline_spike_level.min_events",
        r.u32("baseline_spike_level.min_events")?,
        config.baseline_spike_level.min_events,
    )?;
    same_f64(
        "baseline_spike_level.factor",
        r.f64("baseline_spike_level.factor")?,
        config.baseline_spike_level.factor,
    )?;
    same(
        "utc_offset_minutes",
        r.u16("utc_offset_minutes")? as i16,
        config.utc_offset_minutes,
    )?;
    same("hash_seed", r.u64("hash_seed")?, config.hash_seed)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FeatureExtractor;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use std::sync::Arc;
    use vigil_sensors::{Event, EventKind, Origin, Sensor};

    /// Small tables and rings, so that a few hundred events fill them.
    fn small() -> FeatureConfig {
        FeatureConfig {
            max_tracked_sources: 6,
            max_entries_per_source: 16,
            max_distinct_per_source: 5,
            ..FeatureConfig::default()
        }
    }

    fn events(seed: u64, n: usize) -> Vec<Event> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut clock = 1_700_000_000_000_000i64;
        (0..n)
            .map(|i| {
                clock += rng.random_range(0..1_000_000);
                let time = clock
                    - if rng.random_bool(0.1) {
                        rng.random_range(0..400_000_000)
                    } else {
                        0
                    };
                let origin = Origin {
                    source: Arc::from("t"),
                    offset: i as u64,
                    round: 0,
                };
                let kind = [
                    EventKind::LoginFailed,
                    EventKind::Connect,
                    EventKind::Command,
                ][i % 3];
                let mut e = Event::new(
                    chrono::DateTime::from_timestamp_micros(time).unwrap_or_default(),
                    Sensor::Demo,
                    Arc::from("t"),
                    kind,
                    origin,
                );
                let src = if rng.random_bool(0.5) {
                    0
                } else {
                    rng.random_range(1..10)
                };
                e.src_ip = format!("203.0.113.{src}").parse().ok();
                e.dst_ip = format!("2001:db8::{}", rng.random_range(0..7)).parse().ok();
                e.dst_port = Some(rng.random_range(20..30));
                e.bytes_out = rng.random_bool(0.5).then(|| rng.random_range(0..9_000));
                e
            })
            .collect()
    }

    fn run(fx: &mut FeatureExtractor, events: &[Event]) {
        let mut row = vec![0.0; fx.dim()];
        for e in events {
            if let Err(err) = fx.extract(e, &mut row) {
                panic!("{err}");
            }
        }
    }

    /// Recomputes the checksum of a snapshot whose contents were changed.
    fn reseal(bytes: &mut [u8]) {
        let body = bytes.len() - CHECKSUM_LEN;
        let sum = fnv1a64(&bytes[..body]);
        bytes[body..].copy_from_slice(&sum.to_le_bytes());
    }

    #[test]
    fn crafted_snapshots_with_a_valid_checksum_are_refused_or_stay_consistent() {
        // Every bit flip and byte bump behind a recomputed checksum: restore refuses it, or the
        // state it accepts keeps running, and what it becomes still snapshots and restores.
        let mut fx = FeatureExtractor::new(small()).unwrap_or_else(|e| panic!("{e}"));
        let stream = events(3, 500);
        run(&mut fx, &stream[..400]);
        assert!(fx.evicted_sources() > 0 && fx.truncated_entries() > 0);
        let bytes = fx.snapshot();
        let mut refused = 0;
        let mut tried = 0;
        for i in HEADER_LEN..bytes.len() - CHECKSUM_LEN {
            for change in [1u8 << (i % 8), 0x80, 0xff] {
                let mut bad = bytes.clone();
                bad[i] ^= change;
                reseal(&mut bad);
                tried += 1;
                let mut target = FeatureExtractor::new(small()).unwrap_or_else(|e| panic!("{e}"));
                if target.restore(&bad).is_err() {
                    refused += 1;
                    continue;
                }
                run(&mut target, &stream[400..]);
                let again = target.snapshot();
                let mut check = FeatureExtractor::new(small()).unwrap_or_else(|e| panic!("{e}"));
                if let Err(e) = check.restore(&again) {
                    panic!("byte {i} ^ {change:#x}: the accepted state became unrestorable: {e}");
                }
            }
        }
        // Most changes hit a count, a link, an entry or the configuration and are refused.
        assert!(refused * 2 > tried, "only {refused} of {tried} refused");
    }

    #[test]
    fn fnv1a64_matches_the_published_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn envelope_round_trips_and_names_what_is_wrong() {
        let mut w = Writer::new();
        w.u32(7);
        w.i64(-3);
        w.f32(1.5);
        let bytes = w.finish();
        let mut r = Reader::open(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.u32("a"), Ok(7));
        assert_eq!(r.i64("b"), Ok(-3));
        assert_eq!(r.f32("c").map(f32::to_bits), Ok(1.5f32.to_bits()));
        assert_eq!(
            r.u8("d"),
            Err(FeatureSnapshotError::Truncated {
                what: "d",
                needed: 1,
                left: 0
            })
        );

        let err = Reader::open(b"VGLFEAT").map(|_| ()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "not a feature snapshot: it starts with 56474c46454154 (hex) instead of \"VGLFEATS\""
        );
        let mut other = bytes.clone();
        other[8] = 9;
        assert_eq!(
            Reader::open(&other).map(|_| ()),
            Err(FeatureSnapshotError::UnsupportedVersion {
                found: 9,
                supported: SNAPSHOT_FORMAT_VERSION
            })
        );
        assert!(matches!(
            Reader::open(&bytes[..bytes.len() - 1]).map(|_| ()),
            Err(FeatureSnapshotError::Length { .. })
        ));
        let mut flipped = bytes.clone();
        flipped[HEADER_LEN] ^= 1;
        assert!(matches!(
            Reader::open(&flipped).map(|_| ()),
            Err(FeatureSnapshotError::Checksum { .. })
        ));
    }
}
