//! The stable alert id.

use vigil_sensors::Origin;

/// 64-bit FNV-1a offset basis (FNV specification, draft-eastlake-fnv).
const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
/// 64-bit FNV prime, 2^40 + 2^8 + 0xb3.
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The 64-bit FNV-1a hash behind [`alert_id`].
///
/// The bytes hashed, in order: the UTF-8 bytes of `sensor_id`, one `0` byte, the UTF-8 bytes of
/// `origin.source`, one `0` byte, `origin.offset` as 8 little-endian bytes, `origin.round` as 4
/// little-endian bytes, the UTF-8 bytes of `detector`. The zero bytes keep `("ab", "c")` and
/// `("a", "bc")` apart; the fixed-width integers need no separator.
///
/// ```
/// use std::sync::Arc;
/// use vigil_alert::{alert_id, alert_id_hash};
/// use vigil_sensors::Origin;
/// let origin = Origin { source: Arc::from("cowrie.json"), offset: 4096, round: 0 };
/// assert_eq!(format!("{:016x}", alert_id_hash("hp-1", &origin, "brute_force")),
///            alert_id("hp-1", &origin, "brute_force"));
/// ```
pub fn alert_id_hash(sensor_id: &str, origin: &Origin, detector: &str) -> u64 {
    let mut hash = FNV_OFFSET_BASIS;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(FNV_PRIME);
        }
    };
    eat(sensor_id.as_bytes());
    eat(&[0]);
    eat(origin.source.as_bytes());
    eat(&[0]);
    eat(&origin.offset.to_le_bytes());
    eat(&origin.round.to_le_bytes());
    eat(detector.as_bytes());
    hash
}

/// A stable alert id: the same event seen by the same detector always gets the same id,
/// so a replayed or re-delivered event never makes a second alert.
///
/// It is [`alert_id_hash`] (64-bit FNV-1a over the sensor id, the origin's source, offset and
/// round, and the detector name) as 16 lower-case hex digits. FNV-1a is fixed by its
/// specification, so ids stay the same across Vigil versions and platforms: this is a
/// promise, pinned by a test that computes an id by hand.
///
/// ```
/// use std::sync::Arc;
/// use vigil_alert::alert_id;
/// use vigil_sensors::Origin;
/// let origin = Origin { source: Arc::from("cowrie.json"), offset: 4096, round: 0 };
/// let id = alert_id("hp-1", &origin, "brute_force");
/// assert_eq!(id.len(), 16);
/// assert_eq!(id, alert_id("hp-1", &origin, "brute_force"));
/// assert_ne!(id, alert_id("hp-2", &origin, "brute_force"));
/// ```
pub fn alert_id(sensor_id: &str, origin: &Origin, detector: &str) -> String {
    format!("{:016x}", alert_id_hash(sensor_id, origin, detector))
}
