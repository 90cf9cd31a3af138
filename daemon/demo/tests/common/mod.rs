//! Helpers shared by the demo generator's integration tests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use vigil_demo::{DemoConfig, DemoGenerator};
use vigil_sensors::{Direction, Event, EventKind, Transport};

/// Microseconds per second.
pub const MICROS: i64 = 1_000_000;

/// The parts of an event the statistical tests look at, small enough to keep a day of them.
#[derive(Debug, Clone)]
pub struct Rec {
    /// Microseconds after the config's start.
    pub t: i64,
    pub offset: u64,
    pub kind: EventKind,
    pub class: Arc<str>,
    pub anomalous: bool,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub dst_port: u16,
    pub transport: Option<Transport>,
    pub direction: Option<Direction>,
    pub proto: Option<Arc<str>>,
    pub session: Option<Box<str>>,
    pub tcp_flags: Option<u8>,
    pub packets_out: Option<u64>,
    pub duration_secs: Option<f64>,
}

pub fn generator(config: DemoConfig) -> DemoGenerator {
    match DemoGenerator::new(config) {
        Ok(generator) => generator,
        Err(err) => panic!("test config refused: {err}"),
    }
}

/// Generates the whole (finite) stream of `config` as records.
pub fn records(config: DemoConfig) -> Vec<Rec> {
    assert!(
        config.duration_secs.is_some(),
        "records need a finite stream"
    );
    let start = config.start;
    generator(config).map(|e| record(start, &e)).collect()
}

pub fn record(start: chrono::DateTime<chrono::Utc>, e: &Event) -> Rec {
    let label = e
        .label
        .as_ref()
        .unwrap_or_else(|| panic!("unlabelled event {e:?}"));
    Rec {
        t: e.event_time
            .signed_duration_since(start)
            .num_microseconds()
            .unwrap_or(i64::MAX),
        offset: e.origin.offset,
        kind: e.kind,
        class: label.class.clone(),
        anomalous: label.anomalous,
        src: e.src_ip.unwrap_or_else(|| panic!("no src_ip in {e:?}")),
        dst: e.dst_ip.unwrap_or_else(|| panic!("no dst_ip in {e:?}")),
        dst_port: e.dst_port.unwrap_or_else(|| panic!("no dst_port in {e:?}")),
        transport: e.transport,
        direction: e.direction,
        proto: e.app_proto.clone(),
        session: e.session.clone(),
        tcp_flags: e.tcp_flags,
        packets_out: e.packets_out,
        duration_secs: e.duration_secs,
    }
}

/// Largest number of `times` (sorted) inside any window of `window` microseconds.
pub fn max_in_window(times: &[i64], window: i64) -> usize {
    let mut best = 0;
    let mut lo = 0;
    for hi in 0..times.len() {
        while times[hi] - times[lo] >= window {
            lo += 1;
        }
        best = best.max(hi - lo + 1);
    }
    best
}

/// Largest number of distinct ports among `(time, port)` probes (sorted by time) inside any
/// window of `window` microseconds.
pub fn max_distinct_in_window(probes: &[(i64, u16)], window: i64) -> usize {
    let mut counts: HashMap<u16, usize> = HashMap::new();
    let mut best = 0;
    let mut lo = 0;
    for hi in 0..probes.len() {
        *counts.entry(probes[hi].1).or_default() += 1;
        while probes[hi].0 - probes[lo].0 >= window {
            let port = probes[lo].1;
            if let Some(count) = counts.get_mut(&port) {
                *count -= 1;
                if *count == 0 {
                    counts.remove(&port);
                }
            }
            lo += 1;
        }
        best = best.max(counts.len());
    }
    best
}

/// Records grouped by source address, each group in stream order.
pub fn by_source<'a>(records: impl Iterator<Item = &'a Rec>) -> HashMap<IpAddr, Vec<&'a Rec>> {
    let mut groups: HashMap<IpAddr, Vec<&Rec>> = HashMap::new();
    for r in records {
        groups.entry(r.src).or_default().push(r);
    }
    groups
}

/// Splits sorted times into runs separated by more than `gap` microseconds.
pub fn episodes(times: &[i64], gap: i64) -> Vec<&[i64]> {
    let mut runs = Vec::new();
    let mut begin = 0;
    for i in 1..=times.len() {
        if i == times.len() || times[i] - times[i - 1] > gap {
            if begin < i {
                runs.push(&times[begin..i]);
            }
            begin = i;
        }
    }
    runs
}
