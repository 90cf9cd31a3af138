//! Parse + normalise + features on one thread, over the tpet-2022 Cowrie log
//! (`../shared/data/cowrie/tpet-2022/cowrie.json.2022-06-01`, 11,410 events).
//! Target: at least 500,000 events/s.

use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use vigil::config::Config;
use vigil_features::FeatureExtractor;
use vigil_sensors::{Format, ParseOptions, Record};

fn ingest(c: &mut Criterion) {
    let Some(path) = vigil_tests::shared_file("data/cowrie/tpet-2022/cowrie.json.2022-06-01")
    else {
        return;
    };
    let bytes = std::fs::read(&path).expect("tpet log is readable");
    let mut lines = Vec::new();
    let mut offset = 0u64;
    for line in bytes.split(|b| *b == b'\n') {
        lines.push((line, offset));
        offset += line.len() as u64 + 1;
    }
    let config = Config::default();
    let source: Arc<str> = Arc::from(path.to_string_lossy().as_ref());
    let events = lines.iter().filter(|(l, _)| !l.is_empty()).count() as u64;

    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(events));
    group.bench_function("cowrie_tpet_parse_normalise_features", |b| {
        let mut records = Vec::with_capacity(64);
        // A fresh extractor per pass: reusing one would see every later pass as late events.
        let fresh = || {
            FeatureExtractor::new(config.feature_config().expect("valid features"))
                .expect("default features")
        };
        b.iter_batched_ref(
            fresh,
            |extractor| {
                let mut row = vec![0.0; extractor.dim()];
                let mut parser =
                    vigil_sensors::parser_for(Format::Cowrie, ParseOptions::new("bench"));
                parser.begin_input(source.clone());
                let mut n = 0u64;
                for (line, offset) in &lines {
                    parser.feed(line, *offset, true, &mut records);
                    for record in records.drain(..) {
                        if let Record::Event(event) = record {
                            let x = extractor
                                .extract(&event, &mut row)
                                .expect("row sized by schema");
                            n += u64::from(x.window.events > 0);
                        }
                    }
                }
                parser.finish_input(&mut records);
                records.clear();
                n
            },
            BatchSize::LargeInput,
        );
    });
    group.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
