//! Encoding throughput: alerts per second per format, on typical Cowrie brute-force alerts
//! with a champion and three top features, into one reused buffer.

use std::hint::black_box;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vigil_alert::{
    Alert, Cooldowns, EncodeOptions, FeatureContribution, LineFormat, Severity,
    encode_webhook_alert,
};
use vigil_sensors::{Event, EventKind, Origin, Sensor, Transport};

fn alerts(n: u32) -> Vec<Alert> {
    (0..n)
        .map(|i| {
            let origin = Origin {
                source: Arc::from("/var/log/cowrie/cowrie.json"),
                offset: u64::from(i) * 311,
                round: 0,
            };
            let mut event = Event::new(
                DateTime::UNIX_EPOCH + TimeDelta::seconds(1_772_000_000 + i64::from(i)),
                Sensor::Cowrie,
                Arc::from("hp-1"),
                EventKind::LoginFailed,
                origin,
            );
            event.src_ip = Some(std::net::Ipv4Addr::from(0xcb00_7100 + (i % 256)).into());
            event.src_port = Some(40_000 + (i % 20_000) as u16);
            event.dst_ip = Some("172.17.0.2".parse().expect("valid"));
            event.dst_port = Some(22);
            event.transport = Some(Transport::Tcp);
            event.app_proto = Some(Arc::from("ssh"));
            event.username = Some("root".into());
            event.password = Some("123456".into());
            let features = vec![
                FeatureContribution::new("failed_logins_window", 52.0, 6.25).expect("finite"),
                FeatureContribution::new("distinct_users_window", 9.0, 3.5).expect("finite"),
                FeatureContribution::new("bytes_out", 1_432.0, -1.25).expect("finite"),
            ];
            Alert::new(
                &event,
                "brute_force",
                0.995,
                Severity::Red,
                format!("52 failed logins in 30 s from 203.0.113.{}", i % 256),
            )
            .expect("valid")
            .with_champion("hst")
            .with_top_features(features)
            .expect("finite")
        })
        .collect()
}

fn encode(c: &mut Criterion) {
    let alerts = alerts(1000);
    let options = EncodeOptions::default();
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(alerts.len() as u64));
    let mut out = Vec::with_capacity(1 << 20);
    for format in LineFormat::ALL {
        group.bench_function(format.as_str(), |b| {
            b.iter(|| {
                out.clear();
                for alert in &alerts {
                    format
                        .encode(black_box(alert), &options, &mut out)
                        .expect("encodes");
                }
                black_box(out.len())
            })
        });
    }
    group.bench_function("webhook", |b| {
        b.iter(|| {
            out.clear();
            for alert in &alerts {
                encode_webhook_alert(black_box(alert), &options, &mut out).expect("encodes");
            }
            black_box(out.len())
        })
    });
    group.bench_function("cooldowns_offer", |b| {
        b.iter(|| {
            let mut cooldowns = Cooldowns::new(60);
            for alert in &alerts {
                black_box(cooldowns.offer(black_box(alert)));
            }
            cooldowns.len()
        })
    });
    group.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
