//! Features per event on a realistic honeypot mix: 100k events from 2k sources (SSH/Telnet
//! sessions with failed logins and commands, port scanners, flows with volumes), and the
//! snapshot and restore of the state that mix leaves.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vigil_detectors::{RuleSet, RulesConfig};
use vigil_features::{FeatureConfig, FeatureExtractor};
use vigil_sensors::{Event, EventKind, Origin, Sensor, TCP_ACK, TCP_SYN, Transport};

const EVENTS: usize = 100_000;
const SOURCES: u32 = 2_000;

fn workload() -> Vec<Event> {
    let mut rng = StdRng::seed_from_u64(2024);
    let sensor_id: Arc<str> = Arc::from("bench");
    let origin = Origin {
        source: Arc::from("bench"),
        offset: 0,
        round: 0,
    };
    let ssh: Arc<str> = Arc::from("ssh");
    let smb: Arc<str> = Arc::from("smbd");
    let honeypot = IpAddr::V4(Ipv4Addr::new(172, 29, 0, 2));
    let mut micros = 1_700_000_000_000_000i64;
    let mut out = Vec::with_capacity(EVENTS);
    for _ in 0..EVENTS {
        micros += rng.random_range(0..40_000);
        let time = chrono::DateTime::from_timestamp_micros(micros).unwrap_or_default();
        let n = rng.random_range(0..SOURCES);
        let src = if n % 10 == 0 {
            IpAddr::V6(Ipv6Addr::new(
                0x2001,
                0xdb8,
                n as u16,
                0,
                0,
                0,
                0,
                rng.random_range(1..50),
            ))
        } else {
            IpAddr::V4(Ipv4Addr::from(0x0b00_0000 + n))
        };
        let (kind, port, proto) = match (n % 20, rng.random_range(0..10)) {
            // Scanners: many ports.
            (0, _) => (EventKind::Flow, rng.random_range(1..1024u16), None),
            // SMB worms.
            (1..=3, _) => (EventKind::Connect, 445, Some(smb.clone())),
            (_, 0) => (EventKind::Connect, 22, Some(ssh.clone())),
            (_, 1..=5) => (EventKind::LoginFailed, 22, Some(ssh.clone())),
            (_, 6) => (EventKind::LoginSuccess, 22, Some(ssh.clone())),
            (_, 7 | 8) => (EventKind::Command, 22, Some(ssh.clone())),
            _ => (EventKind::Flow, 23, None),
        };
        let mut e = Event::new(time, Sensor::Demo, sensor_id.clone(), kind, origin.clone());
        e.src_ip = Some(src);
        e.src_port = Some(rng.random_range(1024..65535));
        e.dst_ip = Some(honeypot);
        e.dst_port = Some(port);
        e.transport = Some(Transport::Tcp);
        e.app_proto = proto;
        if kind == EventKind::Flow {
            e.bytes_out = Some(rng.random_range(40..20_000));
            e.bytes_in = Some(rng.random_range(0..200_000));
            e.packets_out = Some(rng.random_range(1..50));
            e.packets_in = Some(rng.random_range(0..200));
            e.duration_secs = Some(rng.random_range(0.0..30.0));
            e.tcp_flags = Some(TCP_SYN | TCP_ACK);
        }
        out.push(e);
    }
    out
}

fn bench(c: &mut Criterion) {
    let events = workload();
    let mut group = c.benchmark_group("features");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.sample_size(20);
    group.bench_function("extract_100k_events_2k_sources", |b| {
        b.iter_batched(
            || {
                let fx = FeatureExtractor::new(FeatureConfig::default());
                fx.map(|fx| {
                    let row = vec![0.0; fx.dim()];
                    (fx, row)
                })
            },
            |setup| {
                let Ok((mut fx, mut row)) = setup else {
                    return 0.0;
                };
                let mut sum = 0.0;
                for e in &events {
                    if fx.extract(e, &mut row).is_ok() {
                        sum += row[0];
                    }
                }
                sum
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("extract_and_rules_100k_events_2k_sources", |b| {
        b.iter_batched(
            || {
                let fx = FeatureExtractor::new(FeatureConfig::default());
                let rules = RuleSet::new(&RulesConfig::default());
                match (fx, rules) {
                    (Ok(fx), Ok(rules)) => {
                        let row = vec![0.0; fx.dim()];
                        Some((fx, rules, row, Vec::new()))
                    }
                    _ => None,
                }
            },
            |setup| {
                let Some((mut fx, mut rules, mut row, mut hits)) = setup else {
                    return 0;
                };
                for e in &events {
                    if let Ok(x) = fx.extract(e, &mut row) {
                        rules.observe(&x.view, &x.window, &mut hits);
                    }
                }
                hits.len()
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();

    // Checkpointing the state the workload leaves: 2k sources with full windows.
    let Ok(mut fx) = FeatureExtractor::new(FeatureConfig::default()) else {
        return;
    };
    let mut row = vec![0.0; fx.dim()];
    for e in &events {
        let _ = fx.extract(e, &mut row);
    }
    let bytes = fx.snapshot();
    let mut group = c.benchmark_group("feature_snapshot");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.sample_size(20);
    group.bench_function("snapshot_2k_sources", |b| b.iter(|| fx.snapshot().len()));
    group.bench_function("restore_2k_sources", |b| {
        b.iter_batched(
            || FeatureExtractor::new(FeatureConfig::default()),
            |fresh| fresh.map(|mut fresh| fresh.restore(&bytes).is_ok()),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
