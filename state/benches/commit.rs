//! Store throughput: committing batches of 1,000 alerts of about 600 bytes (the alert stage
//! commits one batch at a time), the same with a checkpoint in the transaction, a batch of
//! re-derived duplicates (a restart replaying from its checkpoint), and the reads outputs
//! and the API make. Alerts per second is criterion's element throughput.
//!
//! Each measurement runs against one database that grows as it goes, as in a long run.

use std::hint::black_box;
use std::net::IpAddr;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use vigil_state::{AlertId, Checkpoint, Commit, NewAlert, Store, StoreOptions};

const BATCH: u64 = 1_000;
const ALERT_BYTES: usize = 600;

/// Batch number `n`: distinct ids, event times moving forward with some jitter, a few
/// hundred source addresses, JSON-like bodies of about 600 bytes.
fn batch(n: u64) -> Vec<NewAlert> {
    (0..BATCH)
        .map(|i| {
            let serial = n * BATCH + i;
            // FNV-style spreading, as real alert ids are hashes.
            let id = serial.wrapping_mul(0x0000_0100_0000_01b3) ^ 0xcbf2_9ce4_8422_2325;
            let time = 1_729_738_290_000_000 + serial as i64 * 1_000 - (serial % 7) as i64 * 50_000;
            let src = IpAddr::from([198, 51, (serial % 3) as u8, (serial % 251) as u8]);
            let head = format!(
                "{{\"id\":\"{id:016x}\",\"severity\":\"red\",\"detector\":\"brute_force\",\"src_ip\":\"{src}\",\"explanation\":\""
            );
            let mut bytes = head.into_bytes();
            bytes.resize(ALERT_BYTES - 2, b'a');
            bytes.extend_from_slice(b"\"}");
            NewAlert {
                id: AlertId::new(id),
                event_time_micros: time,
                src_ip: Some(src),
                score: (serial % 1_000) as f64 / 1_000.0,
                bytes,
            }
        })
        .collect()
}

fn open_temp() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), &StoreOptions::default()).expect("open the store");
    (dir, store)
}

fn commits(c: &mut Criterion) {
    let mut group = c.benchmark_group("state_commit");
    group.throughput(Throughput::Elements(BATCH));
    group.sample_size(20);

    let (_dir, store) = open_temp();
    let mut next = 0u64;
    group.bench_function("1000_alerts_600_bytes", |b| {
        b.iter_batched(
            || {
                next += 1;
                batch(next)
            },
            |alerts| black_box(store.commit_alerts(&alerts).expect("commit")),
            BatchSize::LargeInput,
        )
    });

    let (_dir, store) = open_temp();
    let checkpoint = Checkpoint {
        sequence: 0,
        sources: vec![("cowrie".to_owned(), vec![0; 64])],
        features: vec![1; 256 * 1024],
        pool: vec![2; 768 * 1024],
        cooldowns: vec![3; 16 * 1024],
        created_at_micros: 0,
    };
    let mut next = 0u64;
    group.bench_function("1000_alerts_with_1MiB_checkpoint", |b| {
        b.iter_batched(
            || {
                next += 1;
                (
                    batch(next),
                    Checkpoint {
                        sequence: next,
                        ..checkpoint.clone()
                    },
                )
            },
            |(alerts, checkpoint)| {
                black_box(
                    store
                        .commit(&Commit {
                            new_alerts: &alerts,
                            checkpoint: Some(&checkpoint),
                            ..Commit::default()
                        })
                        .expect("commit"),
                )
            },
            BatchSize::LargeInput,
        )
    });

    let (_dir, store) = open_temp();
    let replayed = batch(0);
    store.commit_alerts(&replayed).expect("first commit");
    group.bench_function("1000_duplicates", |b| {
        b.iter(|| black_box(store.commit_alerts(&replayed).expect("commit")))
    });
    group.finish();
}

fn reads(c: &mut Criterion) {
    let (_dir, store) = open_temp();
    for n in 0..100 {
        store.commit_alerts(&batch(n)).expect("commit");
    }
    store.flush().expect("flush");
    let mut group = c.benchmark_group("state_read");
    group.throughput(Throughput::Elements(BATCH));
    group.bench_function("outbox_next_1000_and_ack", |b| {
        b.iter(|| {
            let mut items = store.outbox_next("bench", BATCH as usize).expect("next");
            if items.is_empty() {
                // Delivered everything: start the output over.
                store.remove_outbox("bench").expect("reset");
                items = store.outbox_next("bench", BATCH as usize).expect("next");
            }
            if let Some(last) = items.last() {
                store.outbox_ack("bench", last.position).expect("ack");
            }
            black_box(items)
        })
    });
    group.throughput(Throughput::Elements(100));
    group.bench_function("alerts_range_newest_100", |b| {
        b.iter(|| black_box(store.alerts_range(None, None, 100, None).expect("range")))
    });
    group.bench_function("alerts_by_source_newest_100", |b| {
        let ip = IpAddr::from([198, 51, 1, 17]);
        b.iter(|| {
            black_box(
                store
                    .alerts_by_source(ip, None, None, 100, None)
                    .expect("by source"),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, commits, reads);
criterion_main!(benches);
