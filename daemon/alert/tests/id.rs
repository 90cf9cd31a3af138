//! The alert id is a stability promise: 64-bit FNV-1a over a documented byte layout. This test
//! computes ids by hand from the FNV specification and pins two of them as literals, so any
//! change to the hash, the layout or the formatting fails here.

use std::sync::Arc;

use vigil_alert::{Alert, Severity, alert_id, alert_id_hash};
use vigil_sensors::{Event, EventKind, Origin, Sensor};

/// FNV-1a, 64 bits, straight from the specification: for each byte, XOR it into the hash,
/// then multiply by the FNV prime modulo 2^64.
fn fnv1a_64(bytes: &[u8]) -> u64 {
    let offset_basis: u64 = 14_695_981_039_346_656_037; // 0xcbf29ce484222325
    let prime: u128 = (1 << 40) + (1 << 8) + 0xb3; // 1099511628211
    let mut hash = offset_basis;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = ((u128::from(hash) * prime) % (1u128 << 64)) as u64;
    }
    hash
}

/// The documented layout: sensor id, 0, source, 0, offset (u64 LE), round (u32 LE), detector.
fn layout(sensor_id: &str, source: &str, offset: u64, round: u32, detector: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(sensor_id.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(source.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(&offset.to_le_bytes());
    bytes.extend_from_slice(&round.to_le_bytes());
    bytes.extend_from_slice(detector.as_bytes());
    bytes
}

fn origin(source: &str, offset: u64, round: u32) -> Origin {
    Origin {
        source: Arc::from(source),
        offset,
        round,
    }
}

#[test]
fn the_hand_hash_matches_the_specification_vectors() {
    // Test vectors of the FNV reference (draft-eastlake-fnv, appendix C).
    assert_eq!(fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv1a_64(b"foobar"), 0x8594_4171_f739_67e8);
}

#[test]
fn ids_are_pinned() {
    let cowrie = origin("/var/log/cowrie/cowrie.json", 4096, 0);
    let by_hand = fnv1a_64(&layout(
        "hp-1",
        "/var/log/cowrie/cowrie.json",
        4096,
        0,
        "brute_force",
    ));
    assert_eq!(format!("{by_hand:016x}"), "e1514991c02865ae");
    assert_eq!(alert_id("hp-1", &cowrie, "brute_force"), "e1514991c02865ae");
    assert_eq!(alert_id_hash("hp-1", &cowrie, "brute_force"), by_hand);

    let replayed = origin("stdin", (1 << 40) + 5, 3);
    let by_hand = fnv1a_64(&layout("dmz-7", "stdin", (1 << 40) + 5, 3, "plugin:x"));
    assert_eq!(format!("{by_hand:016x}"), "6e9da72f25ad9c1a");
    assert_eq!(alert_id("dmz-7", &replayed, "plugin:x"), "6e9da72f25ad9c1a");
}

#[test]
fn every_input_part_changes_the_id() {
    let base = alert_id("hp-1", &origin("a.json", 10, 0), "hst");
    let variants = [
        alert_id("hp-2", &origin("a.json", 10, 0), "hst"),
        alert_id("hp-1", &origin("b.json", 10, 0), "hst"),
        alert_id("hp-1", &origin("a.json", 11, 0), "hst"),
        alert_id("hp-1", &origin("a.json", 10, 1), "hst"),
        alert_id("hp-1", &origin("a.json", 10, 0), "ocsvm"),
        // The separators keep shifted boundaries apart.
        alert_id("hp-1a", &origin(".json", 10, 0), "hst"),
    ];
    for variant in variants {
        assert_ne!(variant, base);
    }
    assert!(
        base.len() == 16
            && base
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
}

#[test]
fn an_alert_carries_the_id_of_its_event_and_detector() {
    let event = Event::new(
        chrono::DateTime::UNIX_EPOCH,
        Sensor::Cowrie,
        Arc::from("hp-1"),
        EventKind::LoginFailed,
        origin("/var/log/cowrie/cowrie.json", 4096, 0),
    );
    let alert =
        Alert::new(&event, "brute_force", 0.99, Severity::Red, String::new()).expect("valid score");
    assert_eq!(alert.id, "e1514991c02865ae");
}
