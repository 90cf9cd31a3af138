//! Alert ids, alert keys and the byte layouts of index keys.
//!
//! Every key is big-endian so that sled's lexicographic byte order is the numeric order.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use thiserror::Error;

/// The stable id of an alert: 64 bits, written as 16 lower-case hex digits.
///
/// The daemon derives it from the sensor id, the event's origin and the detector (FNV-1a),
/// so an event that is read again after a restart gets the same id and the store can refuse
/// to keep it twice.
///
/// ```
/// use vigil_state::AlertId;
/// let id: AlertId = "00ff00ff00ff00ff".parse()?;
/// assert_eq!(id.get(), 0x00ff_00ff_00ff_00ff);
/// assert_eq!(id.to_string(), "00ff00ff00ff00ff");
/// # Ok::<(), vigil_state::ParseKeyError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AlertId(u64);

impl AlertId {
    /// The id with this numeric value.
    pub const fn new(value: u64) -> AlertId {
        AlertId(value)
    }

    /// Its numeric value.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// Its 8 big-endian bytes, as stored.
    pub const fn to_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    /// The id stored as these 8 big-endian bytes, or `None` when `bytes` is not 8 long.
    pub fn from_bytes(bytes: &[u8]) -> Option<AlertId> {
        let array: [u8; 8] = bytes.try_into().ok()?;
        Some(AlertId(u64::from_be_bytes(array)))
    }
}

impl fmt::Display for AlertId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl FromStr for AlertId {
    type Err = ParseKeyError;

    /// Parses exactly 16 hex digits (either case), the form [`Display`](fmt::Display) writes.
    fn from_str(text: &str) -> Result<AlertId, ParseKeyError> {
        let bytes = parse_hex::<8>(text, "alert id")?;
        Ok(AlertId(u64::from_be_bytes(bytes)))
    }
}

/// The text given for an [`AlertId`], [`AlertKey`] or [`DriftKey`] is not in the form
/// their `Display` writes.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{text:?} is not a valid {what}: expected {expected}")]
pub struct ParseKeyError {
    /// The text as given.
    pub text: String,
    /// What was being parsed.
    pub what: &'static str,
    /// The form that was expected.
    pub expected: &'static str,
}

pub(crate) fn parse_hex<const N: usize>(
    text: &str,
    what: &'static str,
) -> Result<[u8; N], ParseKeyError> {
    let error = || ParseKeyError {
        text: text.to_owned(),
        what,
        expected: match N {
            8 => "16 hex digits",
            16 => "32 hex digits",
            _ => "48 hex digits",
        },
    };
    let digits = text.as_bytes();
    if digits.len() != 2 * N {
        return Err(error());
    }
    let mut out = [0u8; N];
    for (slot, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let high = hex_value(pair[0]).ok_or_else(error)?;
        let low = hex_value(pair[1]).ok_or_else(error)?;
        *slot = (high << 4) | low;
    }
    Ok(out)
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Event time in microseconds as 8 bytes whose byte order is the numeric order, negative
/// times included: the sign bit is flipped, so `i64::MIN` becomes all zeros and `-1` sorts
/// just below `0`.
pub(crate) const fn time_bytes(micros: i64) -> [u8; 8] {
    ((micros as u64) ^ (1 << 63)).to_be_bytes()
}

pub(crate) fn time_from_bytes(bytes: [u8; 8]) -> i64 {
    (u64::from_be_bytes(bytes) ^ (1 << 63)) as i64
}

/// Where an alert sits in the `alerts` tree: its event time, then its id. Ordering keys
/// orders alerts by event time (oldest first), ties broken by id.
///
/// Its text form (32 hex digits of the stored bytes) is what an API hands out as a paging
/// cursor.
///
/// ```
/// use vigil_state::{AlertId, AlertKey};
/// let before = AlertKey::new(-5, AlertId::new(9));
/// let after = AlertKey::new(3, AlertId::new(1));
/// assert!(before < after);
/// assert!(before.to_bytes() < after.to_bytes());
/// let text = after.to_string();
/// assert_eq!(text.parse::<AlertKey>()?, after);
/// # Ok::<(), vigil_state::ParseKeyError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AlertKey {
    event_time_micros: i64,
    id: AlertId,
}

impl AlertKey {
    /// Length of the stored form.
    pub const LEN: usize = 16;

    /// The key of the alert `id` raised by an event at `event_time_micros` (microseconds
    /// since the Unix epoch, negative before it).
    pub const fn new(event_time_micros: i64, id: AlertId) -> AlertKey {
        AlertKey {
            event_time_micros,
            id,
        }
    }

    /// Event time of the alert, in microseconds since the Unix epoch.
    pub const fn event_time_micros(self) -> i64 {
        self.event_time_micros
    }

    /// Id of the alert.
    pub const fn id(self) -> AlertId {
        self.id
    }

    /// The stored form: sign-flipped big-endian time, then the big-endian id.
    pub fn to_bytes(self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&time_bytes(self.event_time_micros));
        out[8..].copy_from_slice(&self.id.to_bytes());
        out
    }

    /// The key stored as `bytes`, or `None` when `bytes` is not [`AlertKey::LEN`] long.
    pub fn from_bytes(bytes: &[u8]) -> Option<AlertKey> {
        let array: [u8; 16] = bytes.try_into().ok()?;
        let (time, id) = array.split_at(8);
        Some(AlertKey {
            event_time_micros: time_from_bytes(time.try_into().ok()?),
            id: AlertId::from_bytes(id)?,
        })
    }
}

impl fmt::Display for AlertKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.to_bytes() {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl FromStr for AlertKey {
    type Err = ParseKeyError;

    /// Parses the 32 hex digits [`Display`](fmt::Display) writes.
    fn from_str(text: &str) -> Result<AlertKey, ParseKeyError> {
        let bytes = parse_hex::<16>(text, "alert key")?;
        AlertKey::from_bytes(&bytes).ok_or_else(|| ParseKeyError {
            text: text.to_owned(),
            what: "alert key",
            expected: "32 hex digits",
        })
    }
}

/// Where a drift event sits in the `drift_events` tree: the event sequence number at which
/// the pool made the decision, then its ordinal among the decisions made at that event.
///
/// Keying by event sequence (not by arrival) is what lets a restart that re-derives the same
/// decisions recognise them: the same bytes at the same event sequence are the same event.
///
/// ```
/// use vigil_state::DriftKey;
/// let key = DriftKey::new(5_000, 1);
/// assert_eq!(key.to_string(), "5000.1");
/// assert_eq!("5000.1".parse::<DriftKey>()?, key);
/// # Ok::<(), vigil_state::ParseKeyError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DriftKey {
    event_sequence: u64,
    ordinal: u32,
}

impl DriftKey {
    /// Length of the stored form.
    pub const LEN: usize = 12;

    /// The key of the `ordinal`-th drift event recorded at `event_sequence`.
    pub const fn new(event_sequence: u64, ordinal: u32) -> DriftKey {
        DriftKey {
            event_sequence,
            ordinal,
        }
    }

    /// Event sequence number of the decision.
    pub const fn event_sequence(self) -> u64 {
        self.event_sequence
    }

    /// Position among the decisions made at the same event sequence, from 0.
    pub const fn ordinal(self) -> u32 {
        self.ordinal
    }

    /// The stored form: big-endian sequence, then big-endian ordinal.
    pub fn to_bytes(self) -> [u8; 12] {
        let mut out = [0u8; 12];
        out[..8].copy_from_slice(&self.event_sequence.to_be_bytes());
        out[8..].copy_from_slice(&self.ordinal.to_be_bytes());
        out
    }

    /// The key stored as `bytes`, or `None` when `bytes` is not [`DriftKey::LEN`] long.
    pub fn from_bytes(bytes: &[u8]) -> Option<DriftKey> {
        let array: [u8; 12] = bytes.try_into().ok()?;
        let (sequence, ordinal) = array.split_at(8);
        Some(DriftKey {
            event_sequence: u64::from_be_bytes(sequence.try_into().ok()?),
            ordinal: u32::from_be_bytes(ordinal.try_into().ok()?),
        })
    }
}

impl fmt::Display for DriftKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.event_sequence, self.ordinal)
    }
}

impl FromStr for DriftKey {
    type Err = ParseKeyError;

    /// Parses `SEQUENCE.ORDINAL`, the form [`Display`](fmt::Display) writes.
    fn from_str(text: &str) -> Result<DriftKey, ParseKeyError> {
        let error = || ParseKeyError {
            text: text.to_owned(),
            what: "drift event key",
            expected: "SEQUENCE.ORDINAL in decimal",
        };
        let (sequence, ordinal) = text.split_once('.').ok_or_else(error)?;
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(sequence) || !all_digits(ordinal) {
            return Err(error());
        }
        Ok(DriftKey {
            event_sequence: sequence.parse().map_err(|_| error())?,
            ordinal: ordinal.parse().map_err(|_| error())?,
        })
    }
}

/// The escape byte of stored keys (see [`push_escaped`]).
const ESCAPE: u8 = 0xfe;

/// Appends `bytes` so that the result never contains 0xff: 0xfe becomes `fe 00` and 0xff
/// becomes `fe 01`; every other byte is itself. Byte-wise order is kept (the encoding of
/// each byte is order-preserving and prefix-free), so keys built from fixed-width fields
/// sort as the fields do.
///
/// Why: sled 0.34.7 walks backwards across tree nodes by seeking the node boundary minus one
/// followed by four 0xff bytes; a stored key with more 0xff bytes at that place sorts above
/// that seek key, and the reverse iteration loops and panics ("fucked up tree traversal
/// next_back"). Keys without any 0xff cannot trigger it. Only trees read newest first need
/// this; the outbox log is only read forwards.
pub(crate) fn push_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    for &byte in bytes {
        match byte {
            ESCAPE => out.extend_from_slice(&[ESCAPE, 0]),
            0xff => out.extend_from_slice(&[ESCAPE, 1]),
            other => out.push(other),
        }
    }
}

/// Reads `N` bytes written by [`push_escaped`] from the front of `input`; returns them and
/// what follows, or `None` when `input` does not start with a valid encoding of `N` bytes.
pub(crate) fn take_escaped<const N: usize>(input: &[u8]) -> Option<([u8; N], &[u8])> {
    let mut out = [0u8; N];
    let mut rest = input;
    for slot in &mut out {
        let (&first, tail) = rest.split_first()?;
        rest = tail;
        *slot = match first {
            ESCAPE => {
                let (&second, tail) = rest.split_first()?;
                rest = tail;
                match second {
                    0 => ESCAPE,
                    1 => 0xff,
                    _ => return None,
                }
            }
            0xff => return None,
            other => other,
        };
    }
    Some((out, rest))
}

impl AlertKey {
    /// The form stored as a key in the `alerts` tree (and after the address in
    /// `alerts_by_src`): [`AlertKey::to_bytes`] with 0xfe and 0xff escaped.
    pub(crate) fn stored(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::LEN + 2);
        self.push_stored(&mut out);
        out
    }

    pub(crate) fn push_stored(self, out: &mut Vec<u8>) {
        push_escaped(out, &time_bytes(self.event_time_micros));
        push_escaped(out, &self.id.to_bytes());
    }

    /// Reads a key written by [`AlertKey::stored`] that takes all of `bytes`.
    pub(crate) fn from_stored(bytes: &[u8]) -> Option<AlertKey> {
        let (time, rest) = take_escaped::<8>(bytes)?;
        let (id, rest) = take_escaped::<8>(rest)?;
        rest.is_empty().then(|| AlertKey {
            event_time_micros: time_from_bytes(time),
            id: AlertId(u64::from_be_bytes(id)),
        })
    }
}

impl DriftKey {
    /// The form stored as a key in the `drift_events` tree: [`DriftKey::to_bytes`] with
    /// 0xfe and 0xff escaped.
    pub(crate) fn stored(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::LEN + 2);
        push_escaped(&mut out, &self.to_bytes());
        out
    }

    /// Reads a key written by [`DriftKey::stored`] that takes all of `bytes`.
    pub(crate) fn from_stored(bytes: &[u8]) -> Option<DriftKey> {
        let (raw, rest) = take_escaped::<12>(bytes)?;
        if rest.is_empty() {
            DriftKey::from_bytes(&raw)
        } else {
            None
        }
    }
}

/// The start of a key in the `alerts_by_src` tree: a family tag (4 or 6), then the address
/// bytes escaped, so IPv4 and IPv6 keys never mix. IPv4-mapped IPv6 addresses are stored
/// as the IPv4 address, so `::ffff:192.0.2.1` and `192.0.2.1` find the same alerts.
pub(crate) fn ip_prefix(ip: IpAddr) -> Vec<u8> {
    let raw = ip_raw(ip);
    let mut out = Vec::with_capacity(raw.len() + 4);
    out.push(raw[0]);
    push_escaped(&mut out, &raw[1..]);
    out
}

/// Reads the address at the start of an `alerts_by_src` key; returns it and the rest.
pub(crate) fn ip_from_prefix(bytes: &[u8]) -> Option<(IpAddr, &[u8])> {
    let (&tag, rest) = bytes.split_first()?;
    match tag {
        4 => take_escaped::<4>(rest).map(|(octets, rest)| (IpAddr::from(octets), rest)),
        6 => take_escaped::<16>(rest).map(|(octets, rest)| (IpAddr::from(octets), rest)),
        _ => None,
    }
}

/// An address as stored in values: the family tag, then the address bytes as they are.
pub(crate) fn ip_raw(ip: IpAddr) -> Vec<u8> {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let mut out = Vec::with_capacity(5);
            out.push(4);
            out.extend_from_slice(&v4.octets());
            out
        }
        IpAddr::V6(v6) => {
            let mut out = Vec::with_capacity(17);
            out.push(6);
            out.extend_from_slice(&v6.octets());
            out
        }
    }
}

/// Reads an address written by [`ip_raw`] that takes all of `bytes`.
pub(crate) fn ip_from_raw(bytes: &[u8]) -> Option<IpAddr> {
    match bytes {
        [4, rest @ ..] => <[u8; 4]>::try_from(rest).ok().map(IpAddr::from),
        [6, rest @ ..] => <[u8; 16]>::try_from(rest).ok().map(IpAddr::from),
        _ => None,
    }
}

/// Lower-case hex of arbitrary bytes, for error messages that name a stored key.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_bytes_order_matches_numeric_order_across_zero() {
        let times = [
            i64::MIN,
            -1_000_000,
            -1,
            0,
            1,
            1_700_000_000_000_000,
            i64::MAX,
        ];
        for pair in times.windows(2) {
            assert!(time_bytes(pair[0]) < time_bytes(pair[1]), "{pair:?}");
        }
        for t in times {
            assert_eq!(time_from_bytes(time_bytes(t)), t);
        }
        assert_eq!(time_bytes(i64::MIN), [0; 8]);
    }

    #[test]
    fn alert_key_round_trips_and_rejects_bad_text() {
        let key = AlertKey::new(-42, AlertId::new(u64::MAX));
        assert_eq!(AlertKey::from_bytes(&key.to_bytes()), Some(key));
        assert_eq!(key.to_string().parse::<AlertKey>(), Ok(key));
        assert!(AlertKey::from_bytes(&[0; 15]).is_none());
        let error = "zz".parse::<AlertKey>().err();
        assert_eq!(error.map(|e| e.text), Some("zz".to_owned()));
        assert!("0123456789abcdeg".parse::<AlertId>().is_err());
        assert_eq!(
            "0123456789ABCDEF".parse::<AlertId>(),
            Ok(AlertId::new(0x0123_4567_89ab_cdef))
        );
    }

    #[test]
    fn drift_key_text_is_strict() {
        for bad in [
            "",
            "1",
            "1.",
            ".1",
            "1.2.3",
            "-1.0",
            "1.+2",
            "1.99999999999",
        ] {
            assert!(bad.parse::<DriftKey>().is_err(), "{bad}");
        }
        assert_eq!("0.0".parse::<DriftKey>(), Ok(DriftKey::new(0, 0)));
    }

    #[test]
    fn ip_prefixes_separate_families_and_fold_mapped_v4() {
        let v4: IpAddr = "192.0.2.1".parse().expect("valid address");
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().expect("valid address");
        assert_eq!(ip_prefix(v4), ip_prefix(mapped));
        assert_eq!(ip_prefix(v4), vec![4, 192, 0, 2, 1]);
        let broadcast: IpAddr = "255.255.254.1".parse().expect("valid address");
        assert_eq!(ip_prefix(broadcast), vec![4, 0xfe, 1, 0xfe, 1, 0xfe, 0, 1]);
        assert_eq!(
            ip_from_prefix(&ip_prefix(broadcast)),
            Some((broadcast, &[][..]))
        );
        let v6: IpAddr = "2001:db8::1".parse().expect("valid address");
        assert_eq!(ip_from_raw(&ip_raw(v6)), Some(v6));
        assert_eq!(ip_from_raw(&[5, 1, 2, 3, 4]), None);
        assert_eq!(ip_from_raw(&[4, 1, 2]), None);
        assert_eq!(ip_from_prefix(&[4, 1, 2, 0xff, 4]), None);
    }

    #[test]
    fn escaping_keeps_order_and_never_writes_0xff() {
        let samples: [u64; 9] = [
            0,
            1,
            0xfd,
            0xfe,
            0xff,
            0x0100,
            0xfeff_fffe_ff00_01fe,
            0xffff_ffff_ffff_fffe,
            u64::MAX,
        ];
        let encode = |value: u64| {
            let mut out = Vec::new();
            push_escaped(&mut out, &value.to_be_bytes());
            out
        };
        for a in samples {
            let encoded = encode(a);
            assert!(!encoded.contains(&0xff), "{a:x}");
            assert_eq!(
                take_escaped::<8>(&encoded),
                Some((a.to_be_bytes(), &[][..]))
            );
            for b in samples {
                assert_eq!(a.cmp(&b), encoded.cmp(&encode(b)), "{a:x} vs {b:x}");
            }
        }
        assert_eq!(take_escaped::<1>(&[0xfe, 2]), None);
        assert_eq!(take_escaped::<1>(&[0xfe]), None);
        assert_eq!(take_escaped::<1>(&[0xff]), None);
        let key = AlertKey::new(-1, AlertId::new(u64::MAX));
        assert_eq!(AlertKey::from_stored(&key.stored()), Some(key));
        assert_eq!(
            AlertKey::from_stored(&[key.stored(), vec![0]].concat()),
            None
        );
        let drift = DriftKey::new(u64::MAX, 0xfe);
        assert_eq!(DriftKey::from_stored(&drift.stored()), Some(drift));
    }
}
