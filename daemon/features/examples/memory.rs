//! Memory of the per-source state at scale: 1,000,000 distinct source addresses, one event
//! each, then ten more rounds of one event each (all within the 300 s longest window, so every
//! source keeps all eleven entries). Prints peak RSS (`VmHWM`) and bytes per tracked source.
//!
//! Run with `cargo run --release -p vigil-features --example memory`.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use vigil_features::{FeatureConfig, FeatureExtractor};
use vigil_sensors::{Event, EventKind, Origin, Sensor, Transport};

const SOURCES: u32 = 1_000_000;
const ROUNDS_AFTER_FIRST: u32 = 10;
/// Event-time rate of the workload: 100k events per second, so eleven rounds span 110 s.
const MICROS_PER_EVENT: i64 = 10;

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn report(label: &str, fx: &FeatureExtractor, rss_before_kib: u64) {
    let rss = status_kib("VmRSS:").unwrap_or(0);
    let hwm = status_kib("VmHWM:").unwrap_or(0);
    let tracked = fx.tracked_sources().max(1) as u64;
    println!(
        "{label}: tracked {} sources, evicted {}, VmRSS {:.1} MiB, peak VmHWM {:.1} MiB, {} bytes per tracked source (RSS growth / sources)",
        fx.tracked_sources(),
        fx.evicted_sources(),
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0,
        rss.saturating_sub(rss_before_kib) * 1024 / tracked,
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rss_before = status_kib("VmRSS:").unwrap_or(0);
    let mut fx = FeatureExtractor::new(FeatureConfig::default())?;
    let mut row = vec![0.0; fx.dim()];
    let sensor_id: Arc<str> = Arc::from("memory");
    let origin = Origin {
        source: Arc::from("memory"),
        offset: 0,
        round: 0,
    };
    let ssh: Arc<str> = Arc::from("ssh");
    let honeypot = IpAddr::V4(Ipv4Addr::new(172, 29, 0, 2));
    let start = 1_700_000_000_000_000i64;
    let kinds = [
        EventKind::Connect,
        EventKind::LoginFailed,
        EventKind::LoginFailed,
        EventKind::LoginSuccess,
        EventKind::Command,
        EventKind::Flow,
    ];
    let mut n: i64 = 0;
    for round in 0..=ROUNDS_AFTER_FIRST {
        for i in 0..SOURCES {
            let time = chrono::DateTime::from_timestamp_micros(start + n * MICROS_PER_EVENT)
                .ok_or("event time out of range")?;
            n += 1;
            let kind = kinds[((i + round) % kinds.len() as u32) as usize];
            let mut e = Event::new(time, Sensor::Demo, sensor_id.clone(), kind, origin.clone());
            e.src_ip = Some(IpAddr::V4(Ipv4Addr::from(0x0b00_0000 + i)));
            e.dst_ip = Some(honeypot);
            e.dst_port = Some(if round % 3 == 2 { 23 } else { 22 });
            e.transport = Some(Transport::Tcp);
            e.app_proto = Some(ssh.clone());
            if kind == EventKind::Flow {
                e.bytes_out = Some(600 + u64::from(i % 1000));
                e.bytes_in = Some(1200);
            }
            fx.extract(&e, &mut row)?;
        }
        if round == 0 {
            report("after one event per source", &fx, rss_before);
        }
    }
    report("after eleven events per source", &fx, rss_before);
    Ok(())
}
