//! Streaming evaluation metrics: exact ROC AUC, average precision, precision / recall / F1 at a
//! threshold, precision@k, and detection delay over labelled anomaly episodes.
//!
//! Definitions follow scikit-learn so figures can be compared with a Python reference:
//!
//! - **ROC AUC** ([`roc_auc`], [`StreamingAuc`]) is the Mann-Whitney U statistic divided by
//!   (anomalies x normals): the probability that a random anomaly scores above a random normal
//!   event, ties counting half. That is exactly the trapezoidal area under scikit-learn's
//!   `roc_curve`, as `roc_auc_score` computes it.
//! - **Average precision** ([`average_precision`]) is scikit-learn's
//!   `average_precision_score`: sum over the distinct score thresholds, from the highest down,
//!   of (R_n - R_(n-1)) P_n, where every event scoring at or above the threshold is predicted
//!   anomalous (so tied scores enter together), with no interpolation.
//! - **Precision, recall and F1** ([`Confusion`]) predict "anomalous" when the score is at or
//!   above the threshold; a ratio whose denominator is zero is 0, as scikit-learn's
//!   `zero_division` default gives (with a warning there).
//! - **Precision@k** ([`precision_at_k`]) is the fraction of anomalies among the k highest
//!   scores; when a group of tied scores straddles the k-th place, it counts the expected
//!   share of anomalies over the orders the tie could have been broken in.
//! - **Detection delay** ([`DelayTracker`], [`detection_delay`]): an episode is a maximal run
//!   of anomalous labels; its delay is the number of events from its first event to its first
//!   alert (0 when the first event is alerted on). Episodes without an alert are missed.
//!
//! Scores are compared as numbers: NaN is refused ([`MetricError::NanScore`]), `-0.0` equals
//! `0.0`, infinities are ordinary extreme scores.
//!
//! ```
//! use vigil_detectors::metrics::{average_precision, roc_auc};
//! let scores = [0.1, 0.4, 0.35, 0.8];
//! let anomalous = [false, false, true, true];
//! assert_eq!(roc_auc(&scores, &anomalous)?, 0.75);
//! assert!((average_precision(&scores, &anomalous)? - 0.8333333333333333).abs() < 1e-15);
//! # Ok::<(), vigil_detectors::metrics::MetricError>(())
//! ```

mod delay;
mod streaming_auc;

pub use delay::{DelayTracker, DetectionDelay, detection_delay};
pub use streaming_auc::StreamingAuc;

/// Why a metric cannot be computed from its input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricError {
    /// Scores and labels (or alerts) of different lengths.
    #[error("{scores} scores but {labels} labels")]
    LengthMismatch {
        /// Number of scores (or alerts).
        scores: usize,
        /// Number of labels.
        labels: usize,
    },
    /// A NaN score, which has no place in a ranking.
    #[error("score {index} is NaN")]
    NanScore {
        /// Its position in the input (for a stream: how many scores came before it).
        index: u64,
    },
    /// The metric needs at least one anomaly.
    #[error("none of the {events} events is labelled anomalous")]
    NoPositives {
        /// Number of events seen.
        events: u64,
    },
    /// The metric needs at least one normal event.
    #[error("all {events} events are labelled anomalous")]
    NoNegatives {
        /// Number of events seen.
        events: u64,
    },
    /// A k outside 1..=events for precision@k.
    #[error("k must be between 1 and the {events} events, got {k}")]
    InvalidK {
        /// The k asked for.
        k: usize,
        /// Number of events.
        events: u64,
    },
}

/// Events sharing one score: how many are anomalies and how many are normal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct TieGroup {
    pub(crate) positives: u64,
    pub(crate) negatives: u64,
}

/// Counts of anomalies and normals, checked for [`roc_auc`] (needs both classes).
fn require_both(positives: u64, negatives: u64) -> Result<(), MetricError> {
    let events = positives + negatives;
    if positives == 0 {
        return Err(MetricError::NoPositives { events });
    }
    if negatives == 0 {
        return Err(MetricError::NoNegatives { events });
    }
    Ok(())
}

/// Twice the Mann-Whitney U (anomalies ranked above normals, ties counting half), from the
/// tie groups in descending score order. Integer arithmetic keeps it exact.
fn twice_u_descending(groups: impl Iterator<Item = TieGroup>, negatives: u64) -> u128 {
    let mut negatives_above = 0u64;
    let mut twice_u = 0u128;
    for g in groups {
        let negatives_below = negatives - negatives_above - g.negatives;
        twice_u +=
            u128::from(g.positives) * (2 * u128::from(negatives_below) + u128::from(g.negatives));
        negatives_above += g.negatives;
    }
    twice_u
}

fn auc_from_twice_u(twice_u: u128, positives: u64, negatives: u64) -> f64 {
    twice_u as f64 / (2.0 * positives as f64 * negatives as f64)
}

/// Average precision from the tie groups in descending score order.
fn average_precision_descending(
    groups: impl Iterator<Item = TieGroup>,
    positives: u64,
) -> Result<f64, MetricError> {
    let mut true_positives = 0u64;
    let mut predicted = 0u64;
    let mut ap = 0.0;
    let mut events = 0u64;
    for g in groups {
        true_positives += g.positives;
        predicted += g.positives + g.negatives;
        events += g.positives + g.negatives;
        if g.positives > 0 {
            let recall_step = g.positives as f64 / positives as f64;
            ap += recall_step * (true_positives as f64 / predicted as f64);
        }
    }
    if positives == 0 {
        return Err(MetricError::NoPositives { events });
    }
    Ok(ap)
}

/// Precision@k from the tie groups in descending score order.
fn precision_at_k_descending(
    groups: impl Iterator<Item = TieGroup>,
    events: u64,
    k: usize,
) -> Result<f64, MetricError> {
    let k_events = u64::try_from(k).unwrap_or(u64::MAX);
    if k == 0 || k_events > events {
        return Err(MetricError::InvalidK { k, events });
    }
    let mut taken = 0u64;
    let mut hits = 0.0;
    for g in groups {
        let size = g.positives + g.negatives;
        let room = k_events - taken;
        if size <= room {
            hits += g.positives as f64;
            taken += size;
        } else {
            // The tie straddles place k: each of its events is among the top k with the
            // same probability room / size under a random tie break.
            hits += g.positives as f64 * room as f64 / size as f64;
            taken = k_events;
        }
        if taken == k_events {
            break;
        }
    }
    Ok(hits / k_events as f64)
}

/// Checks lengths and NaN, then groups equal scores, highest first.
fn tie_groups_descending(scores: &[f64], labels: &[bool]) -> Result<Vec<TieGroup>, MetricError> {
    if scores.len() != labels.len() {
        return Err(MetricError::LengthMismatch {
            scores: scores.len(),
            labels: labels.len(),
        });
    }
    if let Some(index) = scores.iter().position(|s| s.is_nan()) {
        return Err(MetricError::NanScore {
            index: index as u64,
        });
    }
    // +0.0 turns -0.0 into 0.0, so that the total order groups them as equal numbers.
    let mut pairs: Vec<(f64, bool)> = scores
        .iter()
        .map(|s| s + 0.0)
        .zip(labels.iter().copied())
        .collect();
    pairs.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
    let mut groups: Vec<TieGroup> = Vec::new();
    let mut previous = None;
    for (score, anomalous) in pairs {
        if previous != Some(score) {
            groups.push(TieGroup::default());
            previous = Some(score);
        }
        if let Some(g) = groups.last_mut() {
            if anomalous {
                g.positives += 1;
            } else {
                g.negatives += 1;
            }
        }
    }
    Ok(groups)
}

fn class_counts(labels: &[bool]) -> (u64, u64) {
    let positives = labels.iter().filter(|&&l| l).count() as u64;
    (positives, labels.len() as u64 - positives)
}

/// Exact ROC AUC of `scores` (higher = more anomalous) against `labels` (true = anomaly), by
/// sorting: O(n log n). Ties count half (the Mann-Whitney U statistic), which equals
/// scikit-learn's `roc_auc_score`.
///
/// ```
/// use vigil_detectors::metrics::roc_auc;
/// // One anomaly tied with one of two normals: (1 + 0.5) / 2.
/// assert_eq!(roc_auc(&[0.2, 0.5, 0.5], &[false, false, true])?, 0.75);
/// # Ok::<(), vigil_detectors::metrics::MetricError>(())
/// ```
///
/// # Errors
/// Different lengths, a NaN score, or labels of only one class.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> Result<f64, MetricError> {
    let groups = tie_groups_descending(scores, labels)?;
    let (positives, negatives) = class_counts(labels);
    require_both(positives, negatives)?;
    let twice_u = twice_u_descending(groups.into_iter(), negatives);
    Ok(auc_from_twice_u(twice_u, positives, negatives))
}

/// Average precision as scikit-learn's `average_precision_score` computes it: sum over the
/// distinct thresholds, highest first, of (R_n - R_(n-1)) P_n, tied scores entering together.
///
/// ```
/// use vigil_detectors::metrics::average_precision;
/// // scikit-learn's own example: 0.8333...
/// let ap = average_precision(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true])?;
/// assert!((ap - 5.0 / 6.0).abs() < 1e-15);
/// # Ok::<(), vigil_detectors::metrics::MetricError>(())
/// ```
///
/// # Errors
/// Different lengths, a NaN score, or no anomaly at all (recall is undefined). With no normal
/// event it is 1.
pub fn average_precision(scores: &[f64], labels: &[bool]) -> Result<f64, MetricError> {
    let groups = tie_groups_descending(scores, labels)?;
    let (positives, _) = class_counts(labels);
    average_precision_descending(groups.into_iter(), positives)
}

/// The fraction of anomalies among the `k` highest scores. A tie across the k-th place counts
/// its expected share of anomalies, so the result does not depend on input order.
///
/// ```
/// use vigil_detectors::metrics::precision_at_k;
/// let scores = [0.9, 0.7, 0.7, 0.1];
/// let labels = [true, true, false, false];
/// assert_eq!(precision_at_k(&scores, &labels, 1)?, 1.0);
/// // Place 2 goes to one of the two tied 0.7s: half an anomaly expected.
/// assert_eq!(precision_at_k(&scores, &labels, 2)?, 0.75);
/// assert_eq!(precision_at_k(&scores, &labels, 3)?, 2.0 / 3.0);
/// # Ok::<(), vigil_detectors::metrics::MetricError>(())
/// ```
///
/// # Errors
/// Different lengths, a NaN score, or `k` outside 1..=n.
pub fn precision_at_k(scores: &[f64], labels: &[bool], k: usize) -> Result<f64, MetricError> {
    let groups = tie_groups_descending(scores, labels)?;
    precision_at_k_descending(groups.into_iter(), scores.len() as u64, k)
}

/// Confusion counts at a threshold: a score at or above it predicts "anomalous". Update it one
/// event at a time ([`update`](Self::update)) or from a batch ([`Confusion::at_threshold`]).
///
/// ```
/// use vigil_detectors::metrics::Confusion;
/// let mut c = Confusion::new(0.5);
/// for (score, anomalous) in [(0.9, true), (0.6, false), (0.2, true), (0.1, false)] {
///     c.update(score, anomalous);
/// }
/// assert_eq!((c.true_positives, c.false_positives, c.false_negatives, c.true_negatives), (1, 1, 1, 1));
/// assert_eq!((c.precision(), c.recall(), c.f1()), (0.5, 0.5, 0.5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Confusion {
    /// Scores at or above it are predicted anomalous.
    pub threshold: f64,
    /// Anomalies predicted anomalous.
    pub true_positives: u64,
    /// Normal events predicted anomalous (false alerts).
    pub false_positives: u64,
    /// Normal events predicted normal.
    pub true_negatives: u64,
    /// Anomalies predicted normal (misses).
    pub false_negatives: u64,
}

impl Confusion {
    /// Empty counts at `threshold`.
    pub fn new(threshold: f64) -> Confusion {
        Confusion {
            threshold,
            true_positives: 0,
            false_positives: 0,
            true_negatives: 0,
            false_negatives: 0,
        }
    }

    /// Counts of `scores` against `labels` at `threshold`.
    ///
    /// # Errors
    /// Different lengths or a NaN score.
    pub fn at_threshold(
        scores: &[f64],
        labels: &[bool],
        threshold: f64,
    ) -> Result<Confusion, MetricError> {
        if scores.len() != labels.len() {
            return Err(MetricError::LengthMismatch {
                scores: scores.len(),
                labels: labels.len(),
            });
        }
        let mut c = Confusion::new(threshold);
        for (index, (score, anomalous)) in scores.iter().zip(labels).enumerate() {
            if score.is_nan() {
                return Err(MetricError::NanScore {
                    index: index as u64,
                });
            }
            c.update(*score, *anomalous);
        }
        Ok(c)
    }

    /// Counts one event. A NaN score is never at or above the threshold, so it counts as
    /// predicted normal; [`at_threshold`](Self::at_threshold) refuses it instead.
    pub fn update(&mut self, score: f64, anomalous: bool) {
        match (score >= self.threshold, anomalous) {
            (true, true) => self.true_positives += 1,
            (true, false) => self.false_positives += 1,
            (false, true) => self.false_negatives += 1,
            (false, false) => self.true_negatives += 1,
        }
    }

    /// Events counted.
    pub fn events(&self) -> u64 {
        self.true_positives + self.false_positives + self.true_negatives + self.false_negatives
    }

    /// TP / (TP + FP): the share of alerts that were anomalies; 0 with no alert.
    pub fn precision(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }

    /// TP / (TP + FN): the share of anomalies alerted on; 0 with no anomaly.
    pub fn recall(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_negatives,
        )
    }

    /// The harmonic mean of precision and recall, 2 TP / (2 TP + FP + FN); 0 when there is
    /// neither an alert nor an anomaly.
    pub fn f1(&self) -> f64 {
        ratio(
            2 * self.true_positives,
            2 * self.true_positives + self.false_positives + self.false_negatives,
        )
    }

    /// FP / (FP + TN): the share of normal events alerted on; 0 with no normal event.
    pub fn false_positive_rate(&self) -> f64 {
        ratio(
            self.false_positives,
            self.false_positives + self.true_negatives,
        )
    }
}

fn ratio(numerator: u64, denominator: u64) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator as f64 / denominator as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    /// The pairwise definition, O(n^2): P(anomaly scores above normal) + 0.5 P(tie).
    fn pairwise_auc(scores: &[f64], labels: &[bool]) -> f64 {
        let mut wins = 0.0;
        let mut pairs = 0.0;
        for (sp, _) in scores.iter().zip(labels).filter(|(_, l)| **l) {
            for (sn, _) in scores.iter().zip(labels).filter(|(_, l)| !**l) {
                pairs += 1.0;
                if sp > sn {
                    wins += 1.0;
                } else if sp == sn {
                    wins += 0.5;
                }
            }
        }
        wins / pairs
    }

    /// scikit-learn's construction, spelled out: thresholds = distinct scores descending;
    /// precision and recall of "score >= threshold" at each; sum of recall steps x precision.
    fn sklearn_ap(scores: &[f64], labels: &[bool]) -> f64 {
        let mut thresholds: Vec<f64> = scores.to_vec();
        thresholds.sort_by(|a, b| b.total_cmp(a));
        thresholds.dedup();
        let positives = labels.iter().filter(|l| **l).count() as f64;
        let mut previous_recall = 0.0;
        let mut ap = 0.0;
        for t in thresholds {
            let tp = scores
                .iter()
                .zip(labels)
                .filter(|(s, l)| **s >= t && **l)
                .count() as f64;
            let predicted = scores.iter().filter(|s| **s >= t).count() as f64;
            let recall = tp / positives;
            ap += (recall - previous_recall) * (tp / predicted);
            previous_recall = recall;
        }
        ap
    }

    /// A seeded linear congruential generator (Knuth's MMIX constants) returning the high
    /// 31 bits of each state: reproducible test streams without a crate.
    pub(super) fn lcg(seed: u64) -> impl FnMut() -> u64 {
        let mut state = seed;
        move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 33
        }
    }

    fn pseudo_random(seed: u64, n: usize, levels: u64) -> (Vec<f64>, Vec<bool>) {
        let mut next = lcg(seed);
        let mut scores = Vec::with_capacity(n);
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let anomalous = next().is_multiple_of(5);
            // Anomalies skew high; coarse levels force ties.
            let base = (next() % levels) as f64;
            scores.push(if anomalous { base + 2.0 } else { base });
            labels.push(anomalous);
        }
        (scores, labels)
    }

    #[test]
    fn roc_auc_hand_computed_cases() {
        // scikit-learn's documented example.
        assert_eq!(
            roc_auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]),
            Ok(0.75)
        );
        // All tied: 0.5.
        assert_eq!(roc_auc(&[1.0; 4], &[true, false, true, false]), Ok(0.5));
        // Perfect and inverted rankings.
        assert_eq!(roc_auc(&[1.0, 2.0], &[false, true]), Ok(1.0));
        assert_eq!(roc_auc(&[1.0, 2.0], &[true, false]), Ok(0.0));
        // Anomalies 3 and 2 (tied with one normal); normals 1, 2, 4.
        // Pairs anomaly>normal: 3>1, 3>2, 2>1 = 3, tie 2=2 = 0.5, out of 6.
        assert_eq!(
            roc_auc(
                &[3.0, 2.0, 1.0, 2.0, 4.0],
                &[true, true, false, false, false]
            ),
            Ok(3.5 / 6.0)
        );
        // -0.0 and 0.0 tie.
        assert_eq!(roc_auc(&[-0.0, 0.0], &[true, false]), Ok(0.5));
        // Infinities are ordinary extremes.
        assert_eq!(
            roc_auc(
                &[f64::INFINITY, f64::NEG_INFINITY, 0.0],
                &[true, false, false]
            ),
            Ok(1.0)
        );
    }

    #[test]
    fn roc_auc_on_small_rankings_with_and_without_ties() {
        const N: bool = false;
        const A: bool = true;
        let cases: [(&[f64], &[bool], f64); 6] = [
            // Both anomalies above both normals, then below them; all tied.
            (&[0.1, 0.2, 0.9, 0.8], &[N, N, A, A], 1.0),
            (&[0.9, 0.8, 0.1, 0.2], &[N, N, A, A], 0.0),
            (&[0.5, 0.5, 0.5, 0.5], &[N, A, N, A], 0.5),
            // One anomaly above both normals, one between them: 3 of 4 pairs ordered.
            (&[0.1, 0.3, 0.2, 0.4], &[N, N, A, A], 0.75),
            // Pairs (anomaly, normal): (0.9, 0.1) right, (0.9, 0.5) right, (0.5, 0.1)
            // right, (0.5, 0.5) tied: 3.5 of 4.
            (&[0.1, 0.5, 0.5, 0.9], &[N, N, A, A], 3.5 / 4.0),
            // Anomaly scores 0.9 and 0.4 against normal 0.1, 0.4, 0.5: 0.9 wins its 3 pairs,
            // 0.4 wins one, ties one (one half) and loses one, so 4.5 of 6 pairs.
            (&[0.1, 0.9, 0.4, 0.4, 0.5], &[N, A, A, N, N], 4.5 / 6.0),
        ];
        for (scores, labels, expected) in cases {
            assert_eq!(roc_auc(scores, labels), Ok(expected), "{scores:?}");
        }
    }

    #[test]
    fn roc_auc_errors_name_the_problem() {
        assert_eq!(
            roc_auc(&[1.0], &[true, false]),
            Err(MetricError::LengthMismatch {
                scores: 1,
                labels: 2
            })
        );
        assert_eq!(
            roc_auc(&[1.0, f64::NAN], &[true, false]),
            Err(MetricError::NanScore { index: 1 })
        );
        assert_eq!(
            roc_auc(&[1.0, 2.0], &[false, false]),
            Err(MetricError::NoPositives { events: 2 })
        );
        assert_eq!(
            roc_auc(&[1.0, 2.0], &[true, true]),
            Err(MetricError::NoNegatives { events: 2 })
        );
        assert_eq!(
            roc_auc(&[], &[]),
            Err(MetricError::NoPositives { events: 0 })
        );
    }

    #[test]
    fn roc_auc_equals_the_pairwise_definition_with_many_ties() {
        for (seed, levels) in [(1, 3), (2, 10), (3, 1_000), (4, 1)] {
            let (scores, labels) = pseudo_random(seed, 700, levels);
            let auc = roc_auc(&scores, &labels).unwrap_or(f64::NAN);
            assert!(
                close(auc, pairwise_auc(&scores, &labels)),
                "seed {seed}: {auc}"
            );
        }
    }

    #[test]
    fn average_precision_hand_computed_cases() {
        // scikit-learn's documented example: 0.8333...
        let ap = average_precision(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]);
        assert!(close(ap.unwrap_or(f64::NAN), 5.0 / 6.0));
        // Ties grouped: scores [0.9, 0.5, 0.5, 0.1], labels [0, 1, 0, 1].
        // Threshold 0.9: R 0, P 0. Threshold 0.5: R 1/2, P 1/3. Threshold 0.1: R 1, P 1/2.
        // AP = 1/2 x 1/3 + 1/2 x 1/2 = 5/12.
        let ap = average_precision(&[0.9, 0.5, 0.5, 0.1], &[false, true, false, true]);
        assert!(close(ap.unwrap_or(f64::NAN), 5.0 / 12.0));
        // (Breaking the tie with the anomaly first would wrongly give 1/2 x 1/2 + 1/2 x 1/2.)
        // All tied: AP is the prevalence.
        let ap = average_precision(&[3.0; 5], &[true, false, false, true, false]);
        assert!(close(ap.unwrap_or(f64::NAN), 0.4));
        // Only anomalies: 1. No anomaly: undefined.
        assert_eq!(average_precision(&[1.0, 2.0], &[true, true]), Ok(1.0));
        assert_eq!(
            average_precision(&[1.0, 2.0], &[false, false]),
            Err(MetricError::NoPositives { events: 2 })
        );
    }

    #[test]
    fn average_precision_equals_the_threshold_construction() {
        for (seed, levels) in [(5, 2), (6, 7), (7, 500), (8, 1)] {
            let (scores, labels) = pseudo_random(seed, 600, levels);
            let ap = average_precision(&scores, &labels).unwrap_or(f64::NAN);
            assert!(close(ap, sklearn_ap(&scores, &labels)), "seed {seed}: {ap}");
        }
    }

    #[test]
    fn precision_at_k_averages_a_straddling_tie() {
        // Top 3 of [5, 4, 4, 4, 1] with labels [1, 1, 0, 0, 1]: 5 is an anomaly, then two of
        // the three tied 4s, one third of which are anomalies: (1 + 2/3) / 3.
        let scores = [5.0, 4.0, 4.0, 4.0, 1.0];
        let labels = [true, true, false, false, true];
        let p3 = precision_at_k(&scores, &labels, 3).unwrap_or(f64::NAN);
        assert!(close(p3, (1.0 + 2.0 / 3.0) / 3.0));
        assert_eq!(precision_at_k(&scores, &labels, 4), Ok(0.5));
        assert_eq!(precision_at_k(&scores, &labels, 5), Ok(0.6));
        assert_eq!(
            precision_at_k(&scores, &labels, 0),
            Err(MetricError::InvalidK { k: 0, events: 5 })
        );
        assert_eq!(
            precision_at_k(&scores, &labels, 6),
            Err(MetricError::InvalidK { k: 6, events: 5 })
        );
    }

    #[test]
    fn confusion_counts_and_ratios() {
        let scores = [0.9, 0.8, 0.5, 0.4, 0.2, 0.5];
        let labels = [true, false, true, true, false, false];
        let Ok(c) = Confusion::at_threshold(&scores, &labels, 0.5) else {
            panic!("valid input refused");
        };
        // At >= 0.5: alerts 0.9 (tp), 0.8 (fp), 0.5 (tp), 0.5 (fp); misses 0.4; tn 0.2.
        assert_eq!(
            (
                c.true_positives,
                c.false_positives,
                c.false_negatives,
                c.true_negatives
            ),
            (2, 2, 1, 1)
        );
        assert_eq!(c.precision(), 0.5);
        assert!(close(c.recall(), 2.0 / 3.0));
        // sklearn f1_score: 2 x 2 / (2 x 2 + 2 + 1) = 4/7.
        assert!(close(c.f1(), 4.0 / 7.0));
        assert!(close(c.false_positive_rate(), 2.0 / 3.0));
        assert_eq!(c.events(), 6);

        let nothing = Confusion::at_threshold(&[0.1, 0.2], &[false, false], 0.5);
        let Ok(nothing) = nothing else {
            panic!("valid input refused");
        };
        assert_eq!(
            (nothing.precision(), nothing.recall(), nothing.f1()),
            (0.0, 0.0, 0.0)
        );
        assert_eq!(
            Confusion::at_threshold(&[f64::NAN], &[true], 0.5),
            Err(MetricError::NanScore { index: 0 })
        );
    }
}
