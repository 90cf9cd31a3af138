//! Throughput of the flow-dataset CSV parsers.
use criterion::{Criterion, criterion_group, criterion_main};

fn unsw(_c: &mut Criterion) {}

criterion_group!(benches, unsw);
criterion_main!(benches);
