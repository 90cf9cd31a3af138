//! Exact ROC AUC over a stream, one event at a time.

use super::{
    MetricError, TieGroup, auc_from_twice_u, average_precision_descending,
    precision_at_k_descending, require_both,
};

/// Marks a missing child in the node arena.
const NIL: usize = usize::MAX;

/// One distinct score: its counts, and the counts of the subtree it roots.
#[derive(Debug, Clone)]
struct Node {
    score: f64,
    priority: u64,
    left: usize,
    right: usize,
    positives: u64,
    negatives: u64,
    subtree_positives: u64,
    subtree_negatives: u64,
}

/// Exact ROC AUC over a stream: each [`update`](Self::update) costs O(log d) for d distinct
/// scores so far, and [`auc`](Self::auc) is O(1) at any time.
///
/// It keeps, per distinct score, how many anomalies and normal events had it, in a balanced
/// search tree whose nodes also count their subtree. An update asks the tree how many events
/// of the other class scored below (and equal to) the new one, adds that to the Mann-Whitney U
/// statistic, kept exactly as an integer, then inserts the score. The AUC after n events is
/// therefore exactly the batch [`roc_auc`](super::roc_auc) of those n events; memory is about
/// 64 bytes per distinct score. [`average_precision`](Self::average_precision) and
/// [`precision_at_k`](Self::precision_at_k) walk the tree from the top, also exactly as their
/// batch versions.
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
#[derive(Debug, Clone)]
pub struct StreamingAuc {
    nodes: Vec<Node>,
    root: usize,
    positives: u64,
    negatives: u64,
    /// Twice the U statistic: integer even with ties counting half.
    twice_u: u128,
}

impl Default for StreamingAuc {
    fn default() -> StreamingAuc {
        StreamingAuc::new()
    }
}

/// Tree priorities come from the score itself, so the shape (and the work) is deterministic
/// without a random generator; the mix spreads nearby scores' priorities.
fn priority_of(score: f64) -> u64 {
    let mut z = score.to_bits().wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl StreamingAuc {
    /// A tracker that has seen nothing.
    pub fn new() -> StreamingAuc {
        StreamingAuc {
            nodes: Vec::new(),
            root: NIL,
            positives: 0,
            negatives: 0,
            twice_u: 0,
        }
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

    /// Distinct scores seen (the size of the tree).
    pub fn distinct_scores(&self) -> usize {
        self.nodes.len()
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
        let score = score + 0.0;
        let (below, equal) = self.rank(score);
        if anomalous {
            self.twice_u += 2 * u128::from(below.negatives) + u128::from(equal.negatives);
            self.positives += 1;
        } else {
            let above = self.positives - below.positives - equal.positives;
            self.twice_u += 2 * u128::from(above) + u128::from(equal.positives);
            self.negatives += 1;
        }
        self.root = self.insert(self.root, score, anomalous);
        Ok(())
    }

    /// The exact ROC AUC of the events so far (ties counting half).
    ///
    /// # Errors
    /// [`MetricError::NoPositives`] or [`MetricError::NoNegatives`] while a class is missing.
    pub fn auc(&self) -> Result<f64, MetricError> {
        require_both(self.positives, self.negatives)?;
        Ok(auc_from_twice_u(
            self.twice_u,
            self.positives,
            self.negatives,
        ))
    }

    /// Average precision of the events so far (scikit-learn's definition, see
    /// [`average_precision`](super::average_precision)). O(d).
    ///
    /// # Errors
    /// [`MetricError::NoPositives`] while there is no anomaly.
    pub fn average_precision(&self) -> Result<f64, MetricError> {
        average_precision_descending(self.descending(), self.positives)
    }

    /// Precision among the `k` highest scores so far (see
    /// [`precision_at_k`](super::precision_at_k)). O(k + log d).
    ///
    /// # Errors
    /// [`MetricError::InvalidK`] for `k` outside 1..=events.
    pub fn precision_at_k(&self, k: usize) -> Result<f64, MetricError> {
        precision_at_k_descending(self.descending(), self.events(), k)
    }

    /// Counts of events scoring strictly below `score`, and exactly at it.
    fn rank(&self, score: f64) -> (TieGroup, TieGroup) {
        let mut below = TieGroup::default();
        let mut at = self.root;
        while at != NIL {
            let node = &self.nodes[at];
            if score < node.score {
                at = node.left;
            } else {
                if let Some(left) = self.nodes.get(node.left) {
                    below.positives += left.subtree_positives;
                    below.negatives += left.subtree_negatives;
                }
                if score == node.score {
                    let equal = TieGroup {
                        positives: node.positives,
                        negatives: node.negatives,
                    };
                    return (below, equal);
                }
                below.positives += node.positives;
                below.negatives += node.negatives;
                at = node.right;
            }
        }
        (below, TieGroup::default())
    }

    /// Adds one event at `score` under the subtree rooted at `at`; returns the new subtree
    /// root. The recursion is as deep as the tree: O(log d) expected.
    fn insert(&mut self, at: usize, score: f64, anomalous: bool) -> usize {
        if at == NIL {
            let (p, n) = if anomalous { (1, 0) } else { (0, 1) };
            self.nodes.push(Node {
                score,
                priority: priority_of(score),
                left: NIL,
                right: NIL,
                positives: p,
                negatives: n,
                subtree_positives: p,
                subtree_negatives: n,
            });
            return self.nodes.len() - 1;
        }
        let node_score = self.nodes[at].score;
        {
            let node = &mut self.nodes[at];
            if anomalous {
                node.subtree_positives += 1;
            } else {
                node.subtree_negatives += 1;
            }
        }
        if score == node_score {
            let node = &mut self.nodes[at];
            if anomalous {
                node.positives += 1;
            } else {
                node.negatives += 1;
            }
            return at;
        }
        if score < node_score {
            let child = self.insert(self.nodes[at].left, score, anomalous);
            self.nodes[at].left = child;
            if self.nodes[child].priority > self.nodes[at].priority {
                return self.rotate_right(at);
            }
        } else {
            let child = self.insert(self.nodes[at].right, score, anomalous);
            self.nodes[at].right = child;
            if self.nodes[child].priority > self.nodes[at].priority {
                return self.rotate_left(at);
            }
        }
        at
    }

    /// Recomputes a node's subtree counts from its own and its children's.
    fn refresh(&mut self, at: usize) {
        let (left, right) = (self.nodes[at].left, self.nodes[at].right);
        let mut p = self.nodes[at].positives;
        let mut n = self.nodes[at].negatives;
        for child in [left, right] {
            if let Some(c) = self.nodes.get(child) {
                p += c.subtree_positives;
                n += c.subtree_negatives;
            }
        }
        let node = &mut self.nodes[at];
        node.subtree_positives = p;
        node.subtree_negatives = n;
    }

    /// Lifts the left child of `at` above it; returns the new subtree root.
    fn rotate_right(&mut self, at: usize) -> usize {
        let lifted = self.nodes[at].left;
        self.nodes[at].left = self.nodes[lifted].right;
        self.nodes[lifted].right = at;
        self.refresh(at);
        self.refresh(lifted);
        lifted
    }

    /// Lifts the right child of `at` above it; returns the new subtree root.
    fn rotate_left(&mut self, at: usize) -> usize {
        let lifted = self.nodes[at].right;
        self.nodes[at].right = self.nodes[lifted].left;
        self.nodes[lifted].left = at;
        self.refresh(at);
        self.refresh(lifted);
        lifted
    }

    /// The tie groups from the highest score down (a reverse in-order walk).
    fn descending(&self) -> impl Iterator<Item = TieGroup> + '_ {
        let mut stack: Vec<usize> = Vec::new();
        let mut at = self.root;
        std::iter::from_fn(move || {
            while at != NIL {
                stack.push(at);
                at = self.nodes[at].right;
            }
            let top = stack.pop()?;
            let node = &self.nodes[top];
            at = node.left;
            Some(TieGroup {
                positives: node.positives,
                negatives: node.negatives,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{average_precision, precision_at_k, roc_auc};
    use super::*;

    fn stream(seed: u64, n: usize, levels: u64) -> Vec<(f64, bool)> {
        let mut state = seed;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 33
        };
        (0..n)
            .map(|_| {
                let anomalous = next() % 7 == 0;
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
        for (seed, levels) in [(1, 2), (2, 9), (3, 400), (4, 1_000_000)] {
            let events = stream(seed, 1_500, levels);
            let mut s = StreamingAuc::new();
            let mut scores = Vec::new();
            let mut labels = Vec::new();
            for (i, (score, anomalous)) in events.iter().enumerate() {
                assert!(s.update(*score, *anomalous).is_ok());
                scores.push(*score);
                labels.push(*anomalous);
                if i % 37 == 0 || i == events.len() - 1 {
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
            let distinct = {
                let mut d: Vec<f64> = scores.iter().map(|s| s + 0.0).collect();
                d.sort_by(f64::total_cmp);
                d.dedup();
                d.len()
            };
            assert_eq!(s.distinct_scores(), distinct);
        }
    }

    #[test]
    fn stays_shallow_on_sorted_input() {
        // A sorted stream is the worst case of an unbalanced tree; the priorities keep it
        // logarithmic, which the recursion depth relies on.
        let mut s = StreamingAuc::new();
        for i in 0..50_000 {
            assert!(s.update(f64::from(i), i % 10 == 0).is_ok());
        }
        fn depth(s: &StreamingAuc, at: usize) -> usize {
            match s.nodes.get(at) {
                None => 0,
                Some(n) => 1 + depth(s, n.left).max(depth(s, n.right)),
            }
        }
        let d = depth(&s, s.root);
        assert!(d < 60, "depth {d} for 50,000 sorted scores");
        // Every anomaly i scores above the normals below it: U counts them exactly.
        let expected = roc_auc(
            &(0..50_000).map(f64::from).collect::<Vec<_>>(),
            &(0..50_000).map(|i| i % 10 == 0).collect::<Vec<_>>(),
        );
        assert_eq!(s.auc(), expected);
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
