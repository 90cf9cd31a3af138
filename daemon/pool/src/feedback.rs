//! Ground-truth labels standing in for analyst feedback (`feedback.from_labels`): a seeded
//! fraction of the events get their label revealed, a fixed number of events after they
//! were scored.

use std::collections::VecDeque;

use vigil_detectors::codec::{SnapshotReader, SnapshotWriter};

use crate::PoolError;

const TAG: [u8; 4] = *b"LBFB";
const VERSION: u16 = 1;

/// Parameters of [`LabelFeedback`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LabelFeedbackConfig {
    /// Share of the events whose label is revealed, in (0, 1]. Default 1: every label.
    pub fraction: f64,
    /// Events scored between an event and its label: 0 reveals it right after its own score
    /// (before it is learned). Default 0.
    pub delay_events: u64,
    /// Seed of the draws that pick the labelled events.
    pub seed: u64,
}

impl Default for LabelFeedbackConfig {
    fn default() -> LabelFeedbackConfig {
        LabelFeedbackConfig {
            fraction: 1.0,
            delay_events: 0,
            seed: 0,
        }
    }
}

/// Decides which labels reach the pool as feedback, and when.
///
/// For each scored event in stream order, call [`release`](Self::release) with its label,
/// between [`Pool::score`](crate::Pool::score) and [`Pool::learn`](crate::Pool::learn), and
/// pass what it returns to [`Pool::feedback`](crate::Pool::feedback). An event is picked with
/// probability `fraction` (a seeded draw per event, so the same stream picks the same events)
/// and its label comes out with the event scored `delay_events` events later.
///
/// ```
/// use vigil_pool::{LabelFeedback, LabelFeedbackConfig};
/// let mut labels = LabelFeedback::new(LabelFeedbackConfig { delay_events: 2, ..Default::default() })?;
/// let mut out = Vec::new();
/// for (seq, anomalous) in [(10, false), (11, true), (12, false), (13, false)] {
///     labels.release(seq, anomalous, &mut out);
/// }
/// // Event 10's label comes with event 12, event 11's with event 13.
/// assert_eq!(out, [(10, false), (11, true)]);
/// # Ok::<(), vigil_pool::PoolError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LabelFeedback {
    config: LabelFeedbackConfig,
    state: u64,
    /// Labels waiting: (the event's position in the stream, its sequence number, label).
    queue: VecDeque<(u64, u64, bool)>,
    /// Events seen so far.
    position: u64,
}

impl LabelFeedback {
    /// A scheduler with nothing waiting.
    ///
    /// # Errors
    /// [`PoolError::InvalidConfig`] naming `feedback.fraction` when it is outside (0, 1].
    pub fn new(config: LabelFeedbackConfig) -> Result<LabelFeedback, PoolError> {
        if !(config.fraction > 0.0 && config.fraction <= 1.0) {
            return Err(PoolError::InvalidConfig {
                field: "feedback.fraction".into(),
                requirement: "must lie in (0, 1]",
                value: config.fraction.to_string(),
            });
        }
        Ok(LabelFeedback {
            config,
            state: config.seed,
            queue: VecDeque::new(),
            position: 0,
        })
    }

    /// Its configuration.
    pub fn config(&self) -> &LabelFeedbackConfig {
        &self.config
    }

    /// Labels waiting for their release.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// Takes the label of the event just scored (`seq`), and appends to `out` every label
    /// due now, oldest first, as `(seq, anomalous)`.
    pub fn release(&mut self, seq: u64, anomalous: bool, out: &mut Vec<(u64, bool)>) {
        let picked = self.config.fraction >= 1.0 || self.next_uniform() < self.config.fraction;
        if picked {
            self.queue.push_back((self.position, seq, anomalous));
        }
        while let Some(&(position, s, label)) = self.queue.front() {
            if position + self.config.delay_events > self.position {
                break;
            }
            out.push((s, label));
            self.queue.pop_front();
        }
        self.position += 1;
    }

    /// A uniform draw in [0, 1) from SplitMix64.
    fn next_uniform(&mut self) -> f64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The whole state as versioned bytes (tag `LBFB`).
    pub fn snapshot(&self) -> Vec<u8> {
        let mut w = SnapshotWriter::new(TAG, VERSION);
        w.f64(self.config.fraction);
        w.u64(self.config.delay_events);
        w.u64(self.config.seed);
        w.u64(self.state);
        w.u64(self.position);
        let flat: Vec<u64> = self
            .queue
            .iter()
            .flat_map(|&(p, s, l)| [p, s, u64::from(l)])
            .collect();
        w.u64s(&flat);
        w.finish()
    }

    /// Replaces the state with a [`snapshot`](Self::snapshot) taken under the same
    /// configuration.
    ///
    /// # Errors
    /// [`PoolError::SnapshotMismatch`] for another configuration, [`PoolError::Snapshot`]
    /// for bytes that are not such a snapshot; the state is left unchanged.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), PoolError> {
        let bad = |reason: String| PoolError::Snapshot { reason };
        let mut r = SnapshotReader::new("label feedback", bytes, TAG, VERSION)
            .map_err(|e| bad(e.to_string()))?;
        let fraction = r.f64().map_err(|e| bad(e.to_string()))?;
        let delay = r.u64().map_err(|e| bad(e.to_string()))?;
        let seed = r.u64().map_err(|e| bad(e.to_string()))?;
        let snapshot = LabelFeedbackConfig {
            fraction,
            delay_events: delay,
            seed,
        };
        if snapshot != self.config {
            return Err(PoolError::SnapshotMismatch {
                field: "feedback".into(),
                snapshot: format!("{snapshot:?}"),
                current: format!("{:?}", self.config),
            });
        }
        let state = r.u64().map_err(|e| bad(e.to_string()))?;
        let position = r.u64().map_err(|e| bad(e.to_string()))?;
        let flat = r.u64s().map_err(|e| bad(e.to_string()))?;
        r.end().map_err(|e| bad(e.to_string()))?;
        if flat.len() % 3 != 0 || flat.chunks_exact(3).any(|c| c[2] > 1 || c[0] >= position) {
            return Err(bad("the waiting labels are corrupt".into()));
        }
        self.state = state;
        self.position = position;
        self.queue = flat
            .chunks_exact(3)
            .map(|c| (c[0], c[1], c[2] == 1))
            .collect();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(config: LabelFeedbackConfig, n: u64) -> Vec<(u64, bool)> {
        let mut labels = match LabelFeedback::new(config) {
            Ok(l) => l,
            Err(e) => panic!("{e}"),
        };
        let mut out = Vec::new();
        for seq in 0..n {
            labels.release(seq * 10, seq % 3 == 0, &mut out);
        }
        out
    }

    #[test]
    fn every_label_without_delay_comes_at_once() {
        let out = run(LabelFeedbackConfig::default(), 5);
        assert_eq!(
            out,
            [(0, true), (10, false), (20, false), (30, true), (40, false)]
        );
    }

    #[test]
    fn a_fraction_picks_about_that_share_and_the_same_events_each_time() {
        let config = LabelFeedbackConfig {
            fraction: 0.3,
            delay_events: 0,
            seed: 9,
        };
        let a = run(config, 10_000);
        assert_eq!(a, run(config, 10_000));
        assert!((2_800..3_200).contains(&a.len()), "{}", a.len());
        let other = run(LabelFeedbackConfig { seed: 10, ..config }, 10_000);
        assert_ne!(a, other);
        // Each released label is the event's own.
        assert!(a.iter().all(|&(seq, l)| l == ((seq / 10) % 3 == 0)));
    }

    #[test]
    fn a_delay_holds_each_label_for_that_many_events() {
        let config = LabelFeedbackConfig {
            fraction: 1.0,
            delay_events: 3,
            seed: 0,
        };
        let mut labels = LabelFeedback::new(config).unwrap_or_else(|e| panic!("{e}"));
        for seq in 0..10u64 {
            let mut out = Vec::new();
            labels.release(seq, false, &mut out);
            let expected: Vec<(u64, bool)> =
                seq.checked_sub(3).map(|s| (s, false)).into_iter().collect();
            assert_eq!(out, expected, "at event {seq}");
        }
        assert_eq!(labels.pending(), 3);
    }

    #[test]
    fn snapshots_continue_exactly_and_check_the_config() {
        let config = LabelFeedbackConfig {
            fraction: 0.5,
            delay_events: 7,
            seed: 3,
        };
        let mut a = LabelFeedback::new(config).unwrap_or_else(|e| panic!("{e}"));
        let mut sink = Vec::new();
        for seq in 0..100 {
            a.release(seq, seq % 2 == 0, &mut sink);
        }
        let mut b = LabelFeedback::new(config).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(b.restore(&a.snapshot()), Ok(()));
        assert_eq!(a, b);
        let (mut out_a, mut out_b) = (Vec::new(), Vec::new());
        for seq in 100..300 {
            a.release(seq, seq % 5 == 0, &mut out_a);
            b.release(seq, seq % 5 == 0, &mut out_b);
        }
        assert_eq!(out_a, out_b);
        let mut other = LabelFeedback::new(LabelFeedbackConfig { seed: 4, ..config })
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            other.restore(&a.snapshot()),
            Err(PoolError::SnapshotMismatch { .. })
        ));
        let mut cut = a.snapshot();
        cut.pop();
        assert!(matches!(b.restore(&cut), Err(PoolError::Snapshot { .. })));
    }

    #[test]
    fn fraction_is_validated() {
        for fraction in [0.0, -1.0, 1.5, f64::NAN] {
            let err = LabelFeedback::new(LabelFeedbackConfig {
                fraction,
                ..Default::default()
            })
            .err();
            assert!(
                matches!(&err, Some(PoolError::InvalidConfig { field, .. }) if field == "feedback.fraction"),
                "{fraction}: {err:?}"
            );
        }
    }
}
