//! Helpers for the pool's tests: a seeded generator of synthetic regimes and a driver that
//! runs events through a pool the way the daemon and `vigil eval` do.
#![allow(dead_code)]

use vigil_pool::{DriftEvent, ModelKind, Pool, PoolConfig, PoolError, PoolScore};

/// SplitMix64 with Box-Muller normals: independent of everything the pool draws.
pub struct Gen {
    state: u64,
}

impl Gen {
    pub fn new(seed: u64) -> Gen {
        Gen { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(f64::MIN_POSITIVE);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// A point around `center`, each coordinate with standard deviation `spread`.
    pub fn around(&mut self, center: &[f64], spread: f64) -> Vec<f64> {
        center.iter().map(|c| c + spread * self.normal()).collect()
    }
}

/// One labelled event.
#[derive(Debug, Clone)]
pub struct Labelled {
    pub x: Vec<f64>,
    pub anomalous: bool,
}

/// Normal traffic around `center` with bursts of `burst` attacks at `attack` every `period`
/// events (none when `burst` is 0).
pub fn regime(
    g: &mut Gen,
    n: usize,
    center: &[f64],
    attack: &[f64],
    period: usize,
    burst: usize,
) -> Vec<Labelled> {
    (0..n)
        .map(|i| {
            let anomalous = burst > 0 && i % period >= period - burst;
            let x = if anomalous {
                g.around(attack, 0.3)
            } else {
                g.around(center, 1.0)
            };
            Labelled { x, anomalous }
        })
        .collect()
}

/// Everything one run produced.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    pub scores: Vec<PoolScore>,
    pub events: Vec<DriftEvent>,
}

/// How a driver hands out fits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fits {
    /// Inline, when the pool says it waits.
    Inline,
    /// Each on its own thread as soon as it is handed out; joined only when the pool waits.
    Threads,
}

/// Scores, reveals the label as feedback (if `with_feedback`), learns; seq = `first_seq` + i.
pub fn drive(
    pool: &mut Pool,
    events: &[Labelled],
    first_seq: u64,
    with_feedback: bool,
    fits: Fits,
) -> Result<Trace, PoolError> {
    let threshold = pool.config().alert_threshold;
    let mut trace = Trace::default();
    let mut running: Vec<std::thread::JoinHandle<vigil_pool::FitDone>> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let seq = first_seq + i as u64;
        if fits == Fits::Threads {
            while let Some(job) = pool.fit_job() {
                running.push(std::thread::spawn(move || job.run()));
            }
        }
        let scored = loop {
            match pool.score(&e.x, seq) {
                Err(PoolError::WaitingForFit { .. }) => match fits {
                    Fits::Inline => {
                        pool.run_pending_fits()?;
                    }
                    Fits::Threads => {
                        for handle in running.drain(..) {
                            let done = handle
                                .join()
                                .map_err(|_| PoolError::UnknownJob { job: 0 })?;
                            pool.install(done)?;
                        }
                        while let Some(job) = pool.fit_job() {
                            pool.install(job.run())?;
                        }
                    }
                },
                other => break other?,
            }
        };
        trace.scores.push(scored);
        if with_feedback {
            pool.feedback(seq, e.anomalous)?;
        }
        pool.learn(&e.x, scored.calibrated >= threshold)?;
        trace.events.extend(pool.drain_events());
    }
    Ok(trace)
}

/// A small pool for synthetic tests: fast fits, small windows, calibrators that follow.
pub fn small_config(models: &[ModelKind]) -> PoolConfig {
    PoolConfig {
        models: models.to_vec(),
        baseline_train_events: 500,
        swap_after_events: 300,
        retrain_min_events: 400,
        retrain_max_events: 1_000,
        recent_window_events: 300,
        feedback_window_events: 2_000,
        min_evidence: 100,
        min_reference_scores: 100,
        calibration: vigil_detectors::calibration::CalibratorConfig {
            capacity: 1_000,
            refresh_rate: 0.5,
            seed: 0,
        },
        hst: vigil_detectors::hst::HstConfig {
            window_size: 100,
            ..vigil_detectors::hst::HstConfig::default()
        },
        ..PoolConfig::default()
    }
}

/// Error rate of `kind` over `range` of a trace, from the scores it reported: what the pool's
/// error stream is, computed from the outside.
pub fn error_rate(
    trace: &Trace,
    events: &[Labelled],
    range: std::ops::Range<usize>,
    kind: ModelKind,
    threshold: f64,
) -> Option<f64> {
    let mut errors = 0usize;
    let mut n = 0usize;
    for i in range {
        if let Some(m) = trace.scores[i].model(kind) {
            n += 1;
            errors += usize::from((m.calibrated >= threshold) != events[i].anomalous);
        }
    }
    (n > 0).then(|| errors as f64 / n as f64)
}

/// Asserts two traces are the same bit for bit: scores, champions, every model's scores,
/// and the decisions.
pub fn assert_same(a: &Trace, b: &Trace) {
    assert_eq!(a.scores.len(), b.scores.len(), "number of scored events");
    for (x, y) in a.scores.iter().zip(&b.scores) {
        assert_eq!(x.seq, y.seq);
        assert_eq!(x.champion, y.champion, "champion at event {}", x.seq);
        assert_eq!(
            x.calibrated.to_bits(),
            y.calibrated.to_bits(),
            "pool score at event {}",
            x.seq
        );
        let xs: Vec<_> = x.models().collect();
        let ys: Vec<_> = y.models().collect();
        assert_eq!(xs.len(), ys.len(), "models at event {}", x.seq);
        for (m, n) in xs.iter().zip(&ys) {
            assert_eq!(m.model, n.model);
            assert_eq!(
                m.raw.to_bits(),
                n.raw.to_bits(),
                "{} raw at {}",
                m.model,
                x.seq
            );
            assert_eq!(
                m.calibrated.to_bits(),
                n.calibrated.to_bits(),
                "{} calibrated at {}",
                m.model,
                x.seq
            );
        }
    }
    assert_eq!(a.events, b.events, "drift events");
}

/// Regime A with long attack bursts (the batch OCSVM catches them, Half-Space Trees get
/// used to them), then from event `change` on, normal traffic moved elsewhere without
/// attacks (the OCSVM fitted on A flags it, Half-Space Trees adapt).
pub fn bursts_then_shift(seed: u64, change: usize, total: usize) -> Vec<Labelled> {
    let mut g = Gen::new(seed);
    let mut events = regime(&mut g, change, &A, &ATTACK, 1_000, 300);
    events.extend(regime(&mut g, total - change, &B, &ATTACK, 1_000, 0));
    events
}

/// Centres of the synthetic regimes.
pub const A: [f64; 3] = [0.0, 0.0, 0.0];
pub const B: [f64; 3] = [5.0, -5.0, 5.0];
pub const C: [f64; 3] = [-6.0, 6.0, 0.0];
pub const ATTACK: [f64; 3] = [8.0, 8.0, -8.0];
