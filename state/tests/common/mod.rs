//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::net::IpAddr;
use std::path::Path;

use vigil_state::{AlertId, NewAlert, Store, StoreOptions};

/// SplitMix64: a tiny seeded generator, so tests draw the same "random" values every run.
pub struct Mix(pub u64);

impl Mix {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub fn open(dir: &Path) -> Store {
    Store::open(dir, &StoreOptions::default()).expect("the store opens")
}

/// An alert whose bytes name its id, so a test can tell which alert it got back.
pub fn alert(id: u64, time: i64, src: Option<&str>) -> NewAlert {
    NewAlert {
        id: AlertId::new(id),
        event_time_micros: time,
        src_ip: src.map(|s| s.parse::<IpAddr>().expect("test address")),
        score: 0.5,
        bytes: format!("{{\"id\":\"{id:016x}\",\"time\":{time}}}").into_bytes(),
    }
}

pub fn assert_consistent(store: &Store) {
    let report = store.verify().expect("verify runs");
    assert!(report.is_consistent(), "{report:#?}");
}
