//! Plugin models as members of the pool, through the pool's plugin traits (the daemon's
//! implementation loads shared libraries; these tests use native stand-ins): they score and
//! learn every event, are calibrated, can lead, snapshot and restore exactly, are retrained
//! fresh after a drift, and a failing one skips events until it is disabled.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use common::*;
use vigil_pool::{
    DriftKind, ModelKind, PluginCallError, PluginFactory, PluginInstance, PluginSpec, Pool,
    PoolConfig, PoolError,
};

/// How a test plugin behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Behaviour {
    /// Squared distance to the running mean, in running standard deviations.
    Z,
    /// The opposite: the closer to the mean, the higher (a detector that is always wrong).
    Inverse,
    /// As `Z`, but the score call fails from its `from`-th call on, every `every` calls.
    FailScore { from: u64, every: u64 },
    /// As `Z`, but scores NaN from its `from`-th call on.
    Nan { from: u64 },
}

#[derive(Debug)]
struct TestFactory {
    name: String,
    config: String,
    behaviour: Behaviour,
    created: AtomicU64,
}

#[derive(Debug, Clone)]
struct TestInstance {
    behaviour: Behaviour,
    n: f64,
    mean: Vec<f64>,
    m2: Vec<f64>,
    calls: std::cell::Cell<u64>,
}

fn call_error(message: &str) -> PluginCallError {
    PluginCallError {
        message: message.to_string(),
        counts: true,
    }
}

impl TestInstance {
    fn z(&self, x: &[f64]) -> f64 {
        x.iter()
            .zip(&self.mean)
            .zip(&self.m2)
            .map(|((v, m), m2)| {
                let var = if self.n > 1.0 {
                    m2 / (self.n - 1.0)
                } else {
                    1.0
                };
                (v - m).powi(2) / (var + 1e-9)
            })
            .sum()
    }
}

impl PluginInstance for TestInstance {
    fn score(&self, x: &[f64]) -> Result<f64, PluginCallError> {
        let call = self.calls.get();
        self.calls.set(call + 1);
        match self.behaviour {
            Behaviour::Z => Ok(self.z(x)),
            Behaviour::Inverse => Ok(1.0 / (1.0 + self.z(x))),
            Behaviour::FailScore { from, every } => {
                if call >= from && (call - from).is_multiple_of(every) {
                    Err(call_error("plugin test: score failed as told"))
                } else {
                    Ok(self.z(x))
                }
            }
            Behaviour::Nan { from } => Ok(if call >= from { f64::NAN } else { self.z(x) }),
        }
    }

    fn learn(&mut self, x: &[f64]) -> Result<(), PluginCallError> {
        self.n += 1.0;
        for ((v, m), m2) in x.iter().zip(&mut self.mean).zip(&mut self.m2) {
            let d = v - *m;
            *m += d / self.n;
            *m2 += d * (v - *m);
        }
        Ok(())
    }

    fn snapshot(&self) -> Result<Vec<u8>, PluginCallError> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.n.to_bits().to_le_bytes());
        out.extend_from_slice(&self.calls.get().to_le_bytes());
        for v in self.mean.iter().chain(&self.m2) {
            out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        Ok(out)
    }
}

impl PluginFactory for TestFactory {
    fn name(&self) -> &str {
        &self.name
    }

    fn config(&self) -> &str {
        &self.config
    }

    fn create(&self, dim: usize) -> Result<Box<dyn PluginInstance>, PluginCallError> {
        self.created.fetch_add(1, Ordering::Relaxed);
        Ok(Box::new(TestInstance {
            behaviour: self.behaviour,
            n: 0.0,
            mean: vec![0.0; dim],
            m2: vec![0.0; dim],
            calls: std::cell::Cell::new(0),
        }))
    }

    fn restore(
        &self,
        dim: usize,
        bytes: &[u8],
    ) -> Result<Box<dyn PluginInstance>, PluginCallError> {
        if bytes.len() != 16 + 16 * dim {
            return Err(PluginCallError {
                message: format!("plugin {}: bad snapshot", self.name),
                counts: false,
            });
        }
        let word = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
            u64::from_le_bytes(b)
        };
        Ok(Box::new(TestInstance {
            behaviour: self.behaviour,
            n: f64::from_bits(word(0)),
            calls: std::cell::Cell::new(word(1)),
            mean: (0..dim).map(|j| f64::from_bits(word(2 + j))).collect(),
            m2: (0..dim)
                .map(|j| f64::from_bits(word(2 + dim + j)))
                .collect(),
        }))
    }
}

fn factory(name: &str, behaviour: Behaviour) -> Arc<TestFactory> {
    Arc::new(TestFactory {
        name: name.to_string(),
        config: format!("{{\"behaviour\":\"{behaviour:?}\"}}"),
        behaviour,
        created: AtomicU64::new(0),
    })
}

fn spec(factory: &Arc<TestFactory>, max_failures: u64) -> PluginSpec {
    PluginSpec::new(factory.clone(), max_failures)
}

fn kind(name: &str) -> ModelKind {
    ModelKind::parse(&format!("plugin:{name}")).expect("a plugin name")
}

fn config_with(models: &[ModelKind], plugins: Vec<PluginSpec>) -> PoolConfig {
    PoolConfig {
        plugins,
        ..small_config(models)
    }
}

#[test]
fn a_plugin_kind_is_named_parsed_and_serialised_as_plugin_name() {
    let k = kind("pt-name");
    assert_eq!(k.name(), "plugin:pt-name");
    assert_eq!(k.to_string(), "plugin:pt-name");
    assert_eq!(
        ModelKind::parse("online_ocsvm").ok(),
        Some(ModelKind::OnlineOcsvm)
    );
    assert!(ModelKind::parse("svm").is_err());
    assert!(ModelKind::parse("plugin:").is_err());
    let model: vigil_pool::ModelRef = "plugin:pt-name#4".parse().expect("a model ref");
    assert_eq!((model.kind, model.id), (k, 4));
    assert_eq!(
        serde_json::to_string(&k).unwrap_or_default(),
        "\"plugin:pt-name\""
    );
}

#[test]
fn a_plugin_kind_without_its_spec_is_refused_naming_it() {
    let config = config_with(&[ModelKind::Hst, kind("pt-missing")], Vec::new());
    let error = Pool::new(3, config).expect_err("no spec");
    assert!(error.to_string().contains("plugin:pt-missing"), "{error}");
    let f = factory("pt-twice", Behaviour::Z);
    let config = config_with(&[kind("pt-twice")], vec![spec(&f, 3), spec(&f, 3)]);
    assert!(matches!(
        Pool::new(3, config),
        Err(PoolError::InvalidConfig { field, .. }) if field == "plugins"
    ));
}

#[test]
fn a_plugin_model_scores_every_event_and_restores_bit_identically() {
    let f = factory("pt-z", Behaviour::Z);
    let config = config_with(
        &[ModelKind::Ocsvm, ModelKind::Hst, kind("pt-z")],
        vec![spec(&f, 5)],
    );
    let events = bursts_then_shift(3, 3_000, 5_000);
    let mut straight = Pool::new(3, config.clone()).expect("valid config");
    let all = drive(&mut straight, &events, 0, true, Fits::Inline).expect("runs");
    let z = kind("pt-z");
    assert!(
        all.scores.iter().all(|s| s.model(z).is_some()),
        "scores every event"
    );
    // Calibrated like the others: its scores spread over [0, 1] once the reference holds.
    let late: Vec<f64> = all.scores[1_000..]
        .iter()
        .filter_map(|s| s.model(z).map(|m| m.calibrated))
        .collect();
    assert!(late.iter().any(|c| *c < 0.5) && late.iter().any(|c| *c >= 0.95));

    for at in [700, 3_100] {
        let mut original = Pool::new(3, config.clone()).expect("valid config");
        drive(&mut original, &events[..at], 0, true, Fits::Inline).expect("runs");
        let bytes = original.snapshot();
        let mut restored = Pool::new(3, config.clone()).expect("valid config");
        restored.restore(&bytes).expect("restores");
        assert!(restored.snapshot() == bytes, "restore then snapshot");
        let a = drive(&mut original, &events[at..], at as u64, true, Fits::Threads).expect("runs");
        let b = drive(&mut restored, &events[at..], at as u64, true, Fits::Inline).expect("runs");
        assert_same(&a, &b);
        let tail = Trace {
            scores: all.scores[at..].to_vec(),
            events: Vec::new(),
        };
        assert_same(
            &Trace {
                scores: a.scores.clone(),
                events: Vec::new(),
            },
            &tail,
        );
    }

    // Without the plugin, the snapshot is refused, naming it.
    let mut original = Pool::new(3, config.clone()).expect("valid config");
    drive(&mut original, &events[..200], 0, true, Fits::Inline).expect("runs");
    let mut without =
        Pool::new(3, small_config(&[ModelKind::Ocsvm, ModelKind::Hst])).expect("valid config");
    let error = without.restore(&original.snapshot()).expect_err("refused");
    assert!(error.to_string().contains("plugin:pt-z"), "{error}");
    // Under another plugin config too.
    let other = factory("pt-z", Behaviour::Inverse);
    let mut changed = Pool::new(
        3,
        config_with(
            &[ModelKind::Ocsvm, ModelKind::Hst, kind("pt-z")],
            vec![spec(&other, 5)],
        ),
    )
    .expect("valid config");
    match changed.restore(&original.snapshot()) {
        Err(PoolError::SnapshotMismatch { field, .. }) => assert_eq!(field, "plugins"),
        other => panic!("expected a mismatch, got {other:?}"),
    }
}

#[test]
fn the_pool_makes_the_plugin_champion_by_its_error_stream() {
    // Two plugins: the first in the list leads at start and is always wrong; with feedback,
    // the second's error rate is far lower and it takes the lead between drifts.
    let bad = factory("pt-inverse", Behaviour::Inverse);
    let good = factory("pt-good", Behaviour::Z);
    let config = PoolConfig {
        min_drift_rise: 0.99,
        ..config_with(
            &[kind("pt-inverse"), kind("pt-good")],
            vec![spec(&bad, 5), spec(&good, 5)],
        )
    };
    let mut g = Gen::new(17);
    let events = regime(&mut g, 3_000, &[0.0, 0.0, 0.0], &[6.0, 6.0, 6.0], 50, 5);
    let mut pool = Pool::new(3, config).expect("valid config");
    assert_eq!(pool.champion().map(|m| m.kind), Some(kind("pt-inverse")));
    let trace = drive(&mut pool, &events, 0, true, Fits::Inline).expect("runs");
    let change = trace
        .events
        .iter()
        .find(|e| e.kind == DriftKind::ChampionChanged)
        .expect("a champion change");
    assert_eq!(change.model.kind, kind("pt-good"), "{}", change.reason);
    assert!(change.reason.contains("error rate"), "{}", change.reason);
    assert_eq!(pool.champion().map(|m| m.kind), Some(kind("pt-good")));
}

#[test]
fn a_failing_plugin_skips_events_then_is_disabled_and_never_leads() {
    let faulty = factory(
        "pt-faulty",
        Behaviour::FailScore {
            from: 300,
            every: 7,
        },
    );
    let config = PoolConfig {
        min_evidence: 1_000_000,
        min_drift_rise: 0.99,
        ..config_with(&[kind("pt-faulty"), ModelKind::Hst], vec![spec(&faulty, 3)])
    };
    let events = bursts_then_shift(5, 2_000, 2_000);
    let mut pool = Pool::new(3, config).expect("valid config");
    assert_eq!(pool.champion().map(|m| m.kind), Some(kind("pt-faulty")));
    let trace = drive(&mut pool, &events, 0, false, Fits::Inline).expect("runs on");
    let k = kind("pt-faulty");
    // Calls 300, 307 and 314 fail: those events have no score of it, the others do, and
    // the third failure disables it.
    for seq in [300usize, 307] {
        assert!(trace.scores[seq].model(k).is_none(), "event {seq}");
        assert!(trace.scores[seq].model(ModelKind::Hst).is_some());
    }
    assert!(trace.scores[301].model(k).is_some());
    assert!(trace.scores[314..].iter().all(|s| s.model(k).is_none()));
    let disabled = trace
        .events
        .iter()
        .find(|e| e.kind == DriftKind::Retired && e.model.kind == k)
        .expect("disabled");
    assert_eq!(disabled.seq, 314);
    assert!(
        disabled
            .reason
            .contains("disabled after 3 failures (max_failures 3)"),
        "{}",
        disabled.reason
    );
    assert!(
        disabled.reason.contains("score failed as told"),
        "{}",
        disabled.reason
    );
    let handover = trace
        .events
        .iter()
        .find(|e| e.kind == DriftKind::ChampionChanged)
        .expect("the lead passes on");
    assert_eq!((handover.seq, handover.model.kind), (314, ModelKind::Hst));
    // The event that disabled it is scored by the new champion.
    assert_eq!(
        trace.scores[314].champion.map(|m| m.kind),
        Some(ModelKind::Hst)
    );
    assert!(
        trace.scores[314..]
            .iter()
            .all(|s| s.champion.map(|m| m.kind) == Some(ModelKind::Hst))
    );
    let status = pool.plugin_status();
    assert_eq!(status.len(), 1);
    assert!(status[0].disabled && status[0].model.is_none());
    assert_eq!(status[0].failures_total, 3);
    assert_eq!(pool.active_models().len(), 1);
    assert!(pool.request_retrain(k).is_err());

    // A snapshot keeps it disabled.
    let bytes = pool.snapshot();
    let mut restored = Pool::new(3, pool.config().clone()).expect("valid config");
    restored.restore(&bytes).expect("restores");
    assert!(restored.plugin_status()[0].disabled);
}

#[test]
fn a_nan_score_counts_as_a_failure() {
    let nan = factory("pt-nan", Behaviour::Nan { from: 100 });
    let config = config_with(&[ModelKind::Hst, kind("pt-nan")], vec![spec(&nan, 2)]);
    let events = bursts_then_shift(5, 1_000, 1_000);
    let mut pool = Pool::new(3, config).expect("valid config");
    let trace = drive(&mut pool, &events, 0, false, Fits::Inline).expect("runs on");
    let disabled = trace
        .events
        .iter()
        .find(|e| e.kind == DriftKind::Retired)
        .expect("disabled");
    assert_eq!(disabled.seq, 101);
    assert!(
        disabled.reason.contains("not a finite number"),
        "{}",
        disabled.reason
    );
    assert!(
        trace
            .scores
            .iter()
            .all(|s| s.champion.map(|m| m.kind) == Some(ModelKind::Hst))
    );
}

#[test]
fn a_drifted_plugin_champion_is_retrained_fresh_from_its_factory() {
    let z = factory("pt-retrain", Behaviour::Z);
    let config = config_with(&[kind("pt-retrain"), ModelKind::Hst], vec![spec(&z, 5)]);
    let events = bursts_then_shift(9, 3_000, 6_000);
    let mut pool = Pool::new(3, config).expect("valid config");
    assert_eq!(z.created.load(Ordering::Relaxed), 1);
    let trace = drive(&mut pool, &events, 0, true, Fits::Inline).expect("runs");
    let k = kind("pt-retrain");
    let drift = trace
        .events
        .iter()
        .find(|e| e.kind == DriftKind::DriftDetected && e.model.kind == k);
    let retrained = trace
        .events
        .iter()
        .find(|e| e.kind == DriftKind::Retrained && e.model.kind == k);
    match (drift, retrained) {
        (Some(drift), Some(retrained)) => {
            assert!(retrained.seq > drift.seq);
            assert!(z.created.load(Ordering::Relaxed) >= 2);
            assert!(pool.retired_models().iter().any(|m| m.kind == k));
        }
        _ => panic!(
            "expected a drift of the plugin champion and a fresh plugin model: {:#?}",
            trace
                .events
                .iter()
                .map(|e| (e.seq, e.kind, e.model.to_string()))
                .collect::<Vec<_>>()
        ),
    }
}
