//! Generation speed of the demo traffic.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vigil_demo::{DemoConfig, DemoGenerator};

const BATCH: usize = 100_000;

fn generate(c: &mut Criterion) {
    let mut group = c.benchmark_group("demo");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(20);
    for (name, config) in [
        ("default", DemoConfig::default()),
        (
            "after_drift",
            DemoConfig {
                drift_after_secs: 0.0,
                drift_ramp_secs: 0.0,
                ..DemoConfig::default()
            },
        ),
    ] {
        let mut generator = match DemoGenerator::new(config) {
            Ok(generator) => generator,
            Err(err) => panic!("bench config refused: {err}"),
        };
        let mut batch = Vec::with_capacity(BATCH);
        group.bench_function(name, |b| {
            b.iter(|| {
                batch.clear();
                generator.fill(BATCH, &mut batch)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, generate);
criterion_main!(benches);
