//! Exact ROC AUC over a stream, one event at a time.

use super::{
    MetricError, TieGroup, auc_from_twice_u, average_precision_descending,
    precision_at_k_descending, require_both, twice_u_descending,
};

/// Fewest pending events before they are merged into the counts.
const MIN_PENDING: usize = 1_024;

/// One distinct score and how many events of each class had it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ScoreCount {
    score: f64,
    group: TieGroup,
}

/// Exact ROC AUC over a stream, with average precision and precision@k, for as many events
/// as memory holds.
///
/// It keeps, per distinct score, how many anomalies and normal events had it, sorted by
/// score (24 bytes per distinct score), and a buffer of recent events not merged in yet.
/// [`update`](Self::update) appends to the buffer; once the buffer is as large as the counts
/// (and at least 1,024 events) it is sorted and merged in, so an update costs O(log n)
/// amortised with a small constant and no allocation per event. The metrics read the counts
/// and the buffer (sorted on a copy) without changing them: O(d + b log b) for d distinct
/// scores and b buffered events. Every figure is exactly its batch counterpart
/// ([`roc_auc`](super::roc_auc), [`average_precision`](super::average_precision),
/// [`precision_at_k`](super::precision_at_k)) over the events so far: the AUC is the
/// Mann-Whitney U statistic, counted in integers.
///
/// ```
/// use vigil_detectors::metrics::StreamingAuc;
/// let mut auc = StreamingAuc::new();
/// for (score, anomalous) in [(0.1, false), (0.4, false), (0.35, true), (0.8, true)] {
///     auc.update(score, anomalous)?;
/// }
/// assert_eq!(auc.auc()?, 0.75);
/// # Ok::<(), vigil_detectors::metrics::MetricError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct StreamingAuc {
    /// Distinct scores, descending, with their counts.
    counts: Vec<ScoreCount>,
    /// Events not merged into `counts` yet, in arrival order.
    pending: Vec<(f64, bool)>,
    positives: u64,
    negatives: u64,
}

impl StreamingAuc {
    /// A tracker that has seen nothing.
    pub fn new() -> StreamingAuc {
        StreamingAuc::default()
    }

    /// Events counted.
    pub fn events(&self) -> u64 {
        self.positives + self.negatives
    }

    /// Anomalies counted.
    pub fn positives(&self) -> u64 {
        self.positives
    }

    /// Normal events counted.
    pub fn negatives(&self) -> u64 {
        self.negatives
    }

    /// Counts one event with its score (higher = more anomalous) and label.
    ///
    /// # Errors
    /// [`MetricError::NanScore`] (nothing is counted).
    pub fn update(&mut self, score: f64, anomalous: bool) -> Result<(), MetricError> {
        if score.is_nan() {
            return Err(MetricError::NanScore {
                index: self.events(),
            });
        }
        // +0.0 makes -0.0 into 0.0, so the total order used below ties them as numbers.
        self.pending.push((score + 0.0, anomalous));
        if anomalous {
            self.positives += 1;
        } else {
            self.negatives += 1;
        }
        if self.pending.len() >= self.counts.len().max(MIN_PENDING) {
            self.counts = self.merged();
            self.pending.clear();
        }
        Ok(())
    }

    /// Distinct scores seen so far.
    pub fn distinct_scores(&self) -> usize {
        if self.pending.is_empty() {
            self.counts.len()
        } else {
            self.merged().len()
        }
    }

    /// The exact ROC AUC of the events so far (ties counting half).
    ///
    /// # Errors
    /// [`MetricError::NoPositives`] or [`MetricError::NoNegatives`] while a class is missing.
    pub fn auc(&self) -> Result<f64, MetricError> {
        require_both(self.positives, self.negatives)?;
        let twice_u = self.with_groups(|groups| twice_u_descending(groups, self.negatives));
        Ok(auc_from_twice_u(twice_u, self.positives, self.negatives))
    }

    /// Average precision of the events so far (scikit-learn's definition, see
    /// [`average_precision`](super::average_precision)).
    ///
    /// # Errors
    /// [`MetricError::NoPositives`] while there is no anomaly.
    pub fn average_precision(&self) -> Result<f64, MetricError> {
        self.with_groups(|groups| average_precision_descending(groups, self.positives))
    }

    /// Precision among the `k` highest scores so far (see
    /// [`precision_at_k`](super::precision_at_k)).
    ///
    /// # Errors
    /// [`MetricError::InvalidK`] for `k` outside 1..=events.
    pub fn precision_at_k(&self, k: usize) -> Result<f64, MetricError> {
        self.with_groups(|groups| precision_at_k_descending(groups, self.events(), k))
    }

    /// Runs `f` over the tie groups of every event so far, highest score first.
    fn with_groups<T>(&self, f: impl FnOnce(&mut dyn Iterator<Item = TieGroup>) -> T) -> T {
        if self.pending.is_empty() {
            f(&mut self.counts.iter().map(|c| c.group))
        } else {
            f(&mut self.merged().into_iter().map(|c| c.group))
        }
    }

    /// The counts with the pending events merged in, descending.
    fn merged(&self) -> Vec<ScoreCount> {
        let mut pending = self.pending.clone();
        pending.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
        let mut out: Vec<ScoreCount> = Vec::with_capacity(self.counts.len() + pending.len());
        let mut old = self.counts.iter().peekable();
        let mut new = pending.into_iter().peekable();
        loop {
            // The higher score goes first; equal scores land in one group.
            let take_old = match (old.peek(), new.peek()) {
                (None, None) => break,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some(o), Some(n)) => o.score.total_cmp(&n.0).is_gt(),
            };
            let (score, group) = if take_old {
                let Some(o) = old.next() else { break };
                (o.score, o.group)
            } else {
                let Some((score, anomalous)) = new.next() else {
                    break;
                };
                let group = TieGroup {
                    positives: u64::from(anomalous),
                    negatives: u64::from(!anomalous),
                };
                (score, group)
            };
            match out.last_mut() {
                Some(last) if last.score == score => {
                    last.group.positives += group.positives;
                    last.group.negatives += group.negatives;
                }
                _ => out.push(ScoreCount { score, group }),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::{average_precision, precision_at_k, roc_auc};
    use super::*;

    fn stream(seed: u64, n: usize, levels: u64) -> Vec<(f64, bool)> {
        let mut next = super::super::tests::lcg(seed);
        (0..n)
            .map(|_| {
                let anomalous = next().is_multiple_of(7);
                let level = (next() % levels) as f64;
                let score = if anomalous { level * 1.5 } else { level } - 3.0;
                // Anomalies at zero score -0.0, normals 0.0: they must still tie.
                let score = if score == 0.0 && anomalous {
                    -0.0
                } else {
                    score
                };
                (score, anomalous)
            })
            .collect()
    }

    #[test]
    fn equals_the_batch_metrics_after_every_prefix() {
        // 5,000 events cross several merges (at 1,024, 2,048 for distinct scores, ...).
        for (seed, levels) in [(1, 2), (2, 9), (3, 400), (4, 1_000_000)] {
            let events = stream(seed, 5_000, levels);
            let mut s = StreamingAuc::new();
            let mut scores = Vec::new();
            let mut labels = Vec::new();
            for (i, (score, anomalous)) in events.iter().enumerate() {
                assert!(s.update(*score, *anomalous).is_ok());
                scores.push(*score);
                labels.push(*anomalous);
                if i % 137 == 0 || i == events.len() - 1 || i == MIN_PENDING - 1 {
                    // The same integer U divided the same way: bit-identical.
                    assert_eq!(s.auc(), roc_auc(&scores, &labels), "seed {seed} at {i}");
                    assert_eq!(
                        s.average_precision(),
                        average_precision(&scores, &labels),
                        "seed {seed} at {i}"
                    );
                    for k in [1, 5, i / 2 + 1, i + 1] {
                        assert_eq!(s.precision_at_k(k), precision_at_k(&scores, &labels, k));
                    }
                }
            }
            let mut distinct: Vec<f64> = scores.iter().map(|s| s + 0.0).collect();
            distinct.sort_by(f64::total_cmp);
            distinct.dedup();
            assert_eq!(s.distinct_scores(), distinct.len(), "seed {seed}");
        }
    }

    #[test]
    fn merges_keep_the_counts_sorted_and_bounded_by_distinct_scores() {
        let mut s = StreamingAuc::new();
        for (score, anomalous) in stream(9, 20_000, 50) {
            assert!(s.update(score, anomalous).is_ok());
        }
        // 50 levels, anomalies on a 1.5x grid: at most 100 distinct scores are merged, and
        // the buffer never grows past MIN_PENDING.
        assert!(s.counts.len() <= 100, "{} groups", s.counts.len());
        assert!(s.pending.len() < MIN_PENDING);
        assert!(s.counts.windows(2).all(|w| w[0].score > w[1].score));
        let total: u64 = s
            .counts
            .iter()
            .map(|c| c.group.positives + c.group.negatives)
            .sum();
        assert_eq!(total + s.pending.len() as u64, 20_000);
    }

    #[test]
    fn refuses_nan_without_counting_and_reports_missing_classes() {
        let mut s = StreamingAuc::new();
        assert_eq!(s.auc(), Err(MetricError::NoPositives { events: 0 }));
        assert!(s.update(1.0, true).is_ok());
        assert_eq!(s.auc(), Err(MetricError::NoNegatives { events: 1 }));
        assert_eq!(
            s.update(f64::NAN, false),
            Err(MetricError::NanScore { index: 1 })
        );
        assert_eq!(s.events(), 1);
        assert!(s.update(f64::NEG_INFINITY, false).is_ok());
        assert_eq!(s.auc(), Ok(1.0));
        assert_eq!((s.positives(), s.negatives()), (1, 1));
    }
}
