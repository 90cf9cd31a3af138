//! One detector, LODA, scored natively (its crate linked as an rlib, the trait's batch methods
//! called directly) and through the plugin ABI (its cdylib loaded by the host, batches passed
//! through `PluginModel`), on the same rows in batches of 256: what the ABI costs.
//!
//! `cargo bench -p vigil-plugin-host --bench abi`. The ABI path adds the host's input checks,
//! the SDK's checks, the error plumbing and the indirect call, once per batch.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use vigil_plugin::PluginDetector;
use vigil_plugin::serde_json::json;
use vigil_plugin_host::PluginLibrary;
use vigil_plugin_host::locate::built_plugin;
use vigil_plugin_loda::Loda;

const DIM: usize = 5;
const BATCH: usize = 256;
const BATCHES: usize = 64;
const CONFIG: &str = r#"{"seed": 7, "projections": 100, "window": 256}"#;

/// Seeded rows around three centres with a few far ones, `BATCHES * BATCH` of them.
fn rows() -> Vec<f64> {
    let mut state = 0x5EED_u64;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..BATCHES * BATCH)
        .flat_map(|r| {
            let centre = [-2.0, 0.5, 3.0][r % 3];
            let far = r % 97 == 0;
            (0..DIM)
                .map(|_| {
                    let v = centre + next() + next() + next() - 1.5;
                    if far { v * 6.0 + 10.0 } else { v }
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let path = built_plugin("vigil-plugin-loda")
        .expect("the LODA cdylib is built beside the bench (a dev-dependency)");
    let library = PluginLibrary::open(&path).unwrap_or_else(|e| panic!("{e}"));
    let config = json!({"seed": 7, "projections": 100, "window": 256});
    let xs = rows();
    let native = || Loda::create(&config, DIM).expect("native LODA");
    let plugin = || library.create(CONFIG, DIM).expect("plugin LODA");

    // Models that have learned every row, to score with.
    let mut warm_native = native();
    let mut warm_plugin = plugin();
    let mut out = vec![0.0; BATCHES * BATCH];
    warm_native.score_learn_batch(&xs, &mut out).expect("warm");
    warm_plugin
        .try_score_learn_batch(&xs, &mut out)
        .expect("warm");

    let mut group = c.benchmark_group("loda_score_batch_256");
    group.throughput(Throughput::Elements(BATCH as u64));
    let mut i = 0;
    let mut out = vec![0.0; BATCH];
    group.bench_function("native", |b| {
        b.iter(|| {
            let batch = &xs[(i % BATCHES) * BATCH * DIM..][..BATCH * DIM];
            i += 1;
            warm_native.score_batch(batch, &mut out).expect("score");
            out[0]
        })
    });
    group.bench_function("abi", |b| {
        b.iter(|| {
            let batch = &xs[(i % BATCHES) * BATCH * DIM..][..BATCH * DIM];
            i += 1;
            warm_plugin.try_score_batch(batch, &mut out).expect("score");
            out[0]
        })
    });
    group.finish();

    // Score-then-learn over the whole stream from a fresh model, batch by batch.
    let mut group = c.benchmark_group("loda_score_learn_stream_256");
    group.throughput(Throughput::Elements((BATCHES * BATCH) as u64));
    group.sample_size(20);
    let mut out = vec![0.0; BATCH];
    group.bench_function("native", |b| {
        b.iter_batched_ref(
            native,
            |model| {
                for batch in xs.chunks_exact(BATCH * DIM) {
                    model.score_learn_batch(batch, &mut out).expect("score");
                }
                out[0]
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("abi", |b| {
        b.iter_batched_ref(
            plugin,
            |model| {
                for batch in xs.chunks_exact(BATCH * DIM) {
                    model.try_score_learn_batch(batch, &mut out).expect("score");
                }
                out[0]
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
