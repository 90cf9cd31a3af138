//! Half-Space Trees (Tan, Ting and Liu, 2011), with River's parameters and semantics, behind an
//! optional online min-max scaler.
//!
//! A half-space tree splits the feature space at random: each internal node cuts one feature
//! somewhere in the middle 70 % of the range its ancestors left it. Every node counts how many
//! events of a window fell into it. Events learned in the current window add to the *latest*
//! masses; every `window_size` learned events the latest masses become the *reference* masses
//! and the latest ones start again from zero (the first window fills the reference). An event
//! is scored against the reference: descending its path, each node contributes
//! `reference mass × 2^depth`, and the descent stops at the first node whose mass is under
//! `0.1 × window_size` (or at the leaf). Normal events land in well-populated regions and
//! collect a large mass; [`HalfSpaceTrees`] returns, as River does,
//! `1 − mass / (n_trees × window_size × (2^(height+1) − 1))`, so the score is in [0, 1] and
//! higher is more anomalous. Until the first window is complete the score is 0.
//!
//! The trees themselves do not depend on the data, only on the per-feature `limits` and the
//! seed, so they are grown when the detector is built. They are stored flat, in heap order
//! (node `i` has children `2i + 1` and `2i + 2`), with the masses as `u32`. Learning and
//! scoring do not allocate (scoring one vector of more than 64 features through `&self` takes
//! one buffer); [`Detector::score_learn_many`] walks each tree once per event for both the
//! score and the learning whenever the scaler's ranges did not move.
//!
//! With [`HstConfig::scale`] on (the default) an online min-max scaler sits in front of the
//! trees, exactly as in River's `preprocessing.MinMaxScaler() | anomaly.HalfSpaceTrees()`: see
//! [`HalfSpaceTrees`] for the order of its updates. NaN or infinite features are refused with
//! [`DetectorError::NonFinite`] and leave the model unchanged.
//!
//! ```
//! use vigil_detectors::Detector;
//! use vigil_detectors::hst::{HalfSpaceTrees, HstConfig};
//!
//! let mut hst = HalfSpaceTrees::new(2, HstConfig { window_size: 50, ..HstConfig::default() })?;
//! // Events on a short line from (10, 20) to (10.6, 19.4), learned for ten windows.
//! for i in 0..500 {
//!     let step = f64::from(i % 7) * 0.1;
//!     hst.learn_one(&[10.0 + step, 20.0 - step])?;
//! }
//! let on_the_line = hst.score_one(&[10.3, 19.7])?;
//! // Inside both features' ranges, but off the line: a region the trees saw empty.
//! let off_the_line = hst.score_one(&[10.6, 20.0])?;
//! assert!(off_the_line > on_the_line);
//! assert!((0.0..=1.0).contains(&on_the_line) && (0.0..=1.0).contains(&off_the_line));
//! # Ok::<(), vigil_detectors::DetectorError>(())
//! ```

use std::ops::Range;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::codec::{SnapshotReader, SnapshotWriter};
use crate::detector::{invalid_parameter, score_checked_rows, snapshot_error};
use crate::scale::MinMaxScaler;
use crate::{Detector, DetectorError, check_input};

/// The detector's name, as [`Detector::name`] reports it and errors name it.
pub const NAME: &str = "hst";

/// Share of a node's range kept clear at each end when its split point is drawn (River's fixed
/// `padding=0.15`): splits never isolate a sliver.
const PADDING: f64 = 0.15;

/// River's magic constant: the descent stops at a node whose reference mass is below this
/// share of `window_size`.
const SIZE_LIMIT_SHARE: f64 = 0.1;

/// The most nodes, over all trees, a detector may hold (about 256 MB with the split and both
/// masses); beyond it a configuration is a mistake, not a model.
pub const MAX_NODES: u64 = 1 << 24;

/// Feature vectors up to this length (the daemon's rows among them) are scaled in a buffer on
/// the stack when scoring through a shared reference; longer ones need one heap buffer per
/// call.
const STACK_DIM: usize = 256;

/// Trees walked side by side: enough independent walks to hide the memory latency of each
/// step, few enough to keep their positions in registers and on the stack.
const LANES: usize = 16;

const SNAPSHOT_TAG: [u8; 4] = *b"HSTr";
const SNAPSHOT_VERSION: u16 = 1;

/// Parameters of [`HalfSpaceTrees`]. The defaults are River 0.26's, with the min-max scaler on.
///
/// ```
/// use vigil_detectors::hst::HstConfig;
/// let config = HstConfig::default();
/// assert_eq!((config.n_trees, config.height, config.window_size), (10, 8, 250));
/// assert!(config.scale && config.limits.is_none());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct HstConfig {
    /// Number of trees; scores and the time per event grow linearly with it. Default 10.
    pub n_trees: usize,
    /// Height of every tree: `height + 1` levels, `2^(height+1) − 1` nodes per tree, from 1 to
    /// 20. Default 8.
    pub height: u32,
    /// Number of learned events per mass window, at least 1. Default 250.
    pub window_size: u32,
    /// Per-feature `(low, high)` range the trees split, in the units the trees see (scaled
    /// values when [`scale`](Self::scale) is on). `None`: `(0, 1)` for every feature, which is
    /// what the min-max scaler produces. Values outside the range are still scored; they fall
    /// into the outermost cells.
    pub limits: Option<Vec<(f64, f64)>>,
    /// Put an online min-max scaler (River's `preprocessing.MinMaxScaler`) in front of the
    /// trees, as River's `MinMaxScaler() | HalfSpaceTrees()` pipeline does. Default true.
    pub scale: bool,
    /// Seed of the random trees. Default 0.
    pub seed: u64,
}

impl Default for HstConfig {
    fn default() -> HstConfig {
        HstConfig {
            n_trees: 10,
            height: 8,
            window_size: 250,
            limits: None,
            scale: true,
            seed: 0,
        }
    }
}

/// One internal node: events whose `feature` is below `threshold` go left, the others right
/// (River's `value < threshold`).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Split {
    threshold: f64,
    feature: usize,
}

/// The trees and their masses, without the scaler.
#[derive(Debug, Clone, PartialEq)]
struct Forest {
    n_trees: usize,
    height: u32,
    window_size: u32,
    /// Internal nodes of every tree, tree after tree, each tree in heap order.
    splits: Vec<Split>,
    /// Masses of the window being filled (River's `l_mass`), every node of every tree.
    latest: Vec<u32>,
    /// Masses of the last complete window (River's `r_mass`).
    reference: Vec<u32>,
    /// Events learned into `latest` so far.
    counter: u32,
    /// No window completed yet: scores are 0.
    first_window: bool,
    /// The descent stops at a node whose reference mass is below this: the smallest integer
    /// not below `0.1 × window_size`, so the integer comparison is River's float one.
    stop_below: u32,
    /// River's `_max_score`, the normaliser.
    max_score: f64,
}

impl Forest {
    fn splits_per_tree(height: u32) -> usize {
        (1usize << height) - 1
    }

    fn nodes_per_tree(height: u32) -> usize {
        (1usize << (height + 1)) - 1
    }

    /// An empty forest over `splits` (already validated against the parameters).
    fn with_splits(n_trees: usize, height: u32, window_size: u32, splits: Vec<Split>) -> Forest {
        let nodes = n_trees * Forest::nodes_per_tree(height);
        let size_limit = SIZE_LIMIT_SHARE * f64::from(window_size);
        // The limit is at most 0.1 × u32::MAX, so the cast is exact after `ceil`.
        let stop_below = size_limit.ceil() as u32;
        let max_score =
            n_trees as f64 * f64::from(window_size) * Forest::nodes_per_tree(height) as f64;
        Forest {
            n_trees,
            height,
            window_size,
            splits,
            latest: vec![0; nodes],
            reference: vec![0; nodes],
            counter: 0,
            first_window: true,
            stop_below,
            max_score,
        }
    }

    /// Grows `n_trees` random trees over `limits`, as River's `make_padded_tree` does: at each
    /// internal node, in depth-first pre-order, a feature is drawn with probability
    /// proportional to the width its ancestors left it, then a split point uniformly in the
    /// middle of that width.
    fn grow(n_trees: usize, height: u32, limits: &[(f64, f64)], seed: u64) -> Vec<Split> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let per_tree = Forest::splits_per_tree(height);
        let placeholder = Split {
            threshold: 0.0,
            feature: 0,
        };
        let mut splits = vec![placeholder; n_trees * per_tree];
        let mut region = limits.to_vec();
        for tree in splits.chunks_exact_mut(per_tree.max(1)) {
            grow_subtree(&mut rng, &mut region, height, 0, tree);
        }
        splits
    }

    /// The splits and the node positions of trees `first..first + lanes`.
    fn group(&self, first: usize, lanes: usize) -> (Range<usize>, Range<usize>) {
        let splits = Forest::splits_per_tree(self.height);
        let nodes = Forest::nodes_per_tree(self.height);
        (
            first * splits..(first + lanes) * splits,
            first * nodes..(first + lanes) * nodes,
        )
    }

    /// River's raw score: the sum over trees of `r_mass × 2^depth` down the path of `x`, up to
    /// and including the first node under the size limit.
    ///
    /// The trees are walked level by level, [`LANES`] at a time, so that the lanes' dependent
    /// loads overlap instead of waiting for each other; a lane whose walk has stopped moves
    /// on with its contribution masked out rather than branching away.
    fn mass(&self, x: &[f64]) -> u64 {
        let nodes_per_tree = Forest::nodes_per_tree(self.height);
        let splits_per_tree = Forest::splits_per_tree(self.height);
        let mut total = 0u64;
        for first in (0..self.n_trees).step_by(LANES) {
            let lanes = LANES.min(self.n_trees - first);
            let (split_range, node_range) = self.group(first, lanes);
            let (splits, reference) = (&self.splits[split_range], &self.reference[node_range]);
            let mut node = [0usize; LANES];
            let node = &mut node[..lanes];
            // All ones while a lane's walk goes on, zero once it has stopped.
            let mut walking = [u64::MAX; LANES];
            let walking = &mut walking[..lanes];
            for depth in 0..=self.height {
                let mut any_walking = 0;
                for (lane, (node, walking)) in node.iter_mut().zip(walking.iter_mut()).enumerate() {
                    let mass = reference[lane * nodes_per_tree + *node];
                    total += (u64::from(mass) << depth) & *walking;
                    *walking &= u64::from(mass >= self.stop_below).wrapping_neg();
                    any_walking |= *walking;
                    if depth < self.height {
                        *node = child(splits[lane * splits_per_tree + *node], *node, x);
                    }
                }
                if any_walking == 0 {
                    break;
                }
            }
        }
        total
    }

    /// The normalised score for a raw mass; 0 until the first window is complete.
    fn score_of(&self, mass: u64) -> f64 {
        if self.first_window {
            0.0
        } else {
            1.0 - mass as f64 / self.max_score
        }
    }

    fn score(&self, x: &[f64]) -> f64 {
        if self.first_window {
            return 0.0;
        }
        self.score_of(self.mass(x))
    }

    /// Counts `x` in the latest masses down to the leaves, and turns the window over when it
    /// is full.
    fn learn(&mut self, x: &[f64]) {
        let nodes_per_tree = Forest::nodes_per_tree(self.height);
        let splits_per_tree = Forest::splits_per_tree(self.height);
        for first in (0..self.n_trees).step_by(LANES) {
            let lanes = LANES.min(self.n_trees - first);
            let (split_range, node_range) = self.group(first, lanes);
            let (splits, latest) = (&self.splits[split_range], &mut self.latest[node_range]);
            let mut node = [0usize; LANES];
            let node = &mut node[..lanes];
            for depth in 0..=self.height {
                for (lane, node) in node.iter_mut().enumerate() {
                    latest[lane * nodes_per_tree + *node] += 1;
                    if depth < self.height {
                        *node = child(splits[lane * splits_per_tree + *node], *node, x);
                    }
                }
            }
        }
        self.end_of_event();
    }

    /// Scores `x` against the reference, then learns it: one walk per tree for both (the
    /// learning walk always reaches the leaf).
    fn score_learn(&mut self, x: &[f64]) -> f64 {
        let nodes_per_tree = Forest::nodes_per_tree(self.height);
        let splits_per_tree = Forest::splits_per_tree(self.height);
        let mut total = 0u64;
        for first in (0..self.n_trees).step_by(LANES) {
            let lanes = LANES.min(self.n_trees - first);
            let (split_range, node_range) = self.group(first, lanes);
            let splits = &self.splits[split_range];
            let latest = &mut self.latest[node_range.clone()];
            let reference = &self.reference[node_range];
            let mut node = [0usize; LANES];
            let node = &mut node[..lanes];
            let mut walking = [u64::MAX; LANES];
            let walking = &mut walking[..lanes];
            for depth in 0..=self.height {
                for (lane, (node, walking)) in node.iter_mut().zip(walking.iter_mut()).enumerate() {
                    let index = lane * nodes_per_tree + *node;
                    latest[index] += 1;
                    let mass = reference[index];
                    total += (u64::from(mass) << depth) & *walking;
                    *walking &= u64::from(mass >= self.stop_below).wrapping_neg();
                    if depth < self.height {
                        *node = child(splits[lane * splits_per_tree + *node], *node, x);
                    }
                }
            }
        }
        let score = self.score_of(total);
        self.end_of_event();
        score
    }

    fn end_of_event(&mut self) {
        self.counter += 1;
        if self.counter == self.window_size {
            std::mem::swap(&mut self.latest, &mut self.reference);
            self.latest.fill(0);
            self.counter = 0;
            self.first_window = false;
        }
    }
}

/// The child of `node` (a heap index) that `x` goes down to: left below the threshold, as
/// River's `value < threshold`, right otherwise.
#[inline(always)]
fn child(split: Split, node: usize, x: &[f64]) -> usize {
    2 * node + 1 + usize::from(x[split.feature] >= split.threshold)
}

/// Grows one subtree rooted at heap index `node`, `levels` levels above the leaves, inside
/// `region` (restored before returning).
fn grow_subtree(
    rng: &mut ChaCha8Rng,
    region: &mut [(f64, f64)],
    levels: u32,
    node: usize,
    tree: &mut [Split],
) {
    if levels == 0 {
        return;
    }
    // Python's `random.choices(population, weights)`: the first feature whose cumulative
    // weight exceeds `random() × total`.
    let total: f64 = region.iter().map(|(low, high)| high - low).sum();
    let target = rng.random::<f64>() * total;
    let mut cumulative = 0.0;
    let mut feature = region.len() - 1;
    for (index, (low, high)) in region.iter().enumerate() {
        cumulative += high - low;
        if target < cumulative {
            feature = index;
            break;
        }
    }
    let (low, high) = region[feature];
    let width = high - low;
    let (from, to) = (low + PADDING * width, high - PADDING * width);
    // Python's `random.uniform(a, b)`.
    let threshold = from + (to - from) * rng.random::<f64>();
    tree[node] = Split { threshold, feature };

    region[feature] = (low, threshold);
    grow_subtree(rng, region, levels - 1, 2 * node + 1, tree);
    region[feature] = (threshold, high);
    grow_subtree(rng, region, levels - 1, 2 * node + 2, tree);
    region[feature] = (low, high);
}

/// Half-Space Trees over `dim` features, optionally behind an online min-max scaler.
///
/// With the scaler on (the default), this is River's
/// `preprocessing.MinMaxScaler() | anomaly.HalfSpaceTrees(...)`:
/// - scoring transforms the event with the scaler's current minimum and maximum (it does not
///   update them) and scores the result;
/// - learning first widens the scaler's ranges to include the event, then transforms the event
///   with the updated ranges, then counts it in the trees.
///
/// A feature whose range is still empty (nothing or one value seen) transforms to 0. With the
/// scaler off, events go to the trees as they are and [`HstConfig::limits`] should describe
/// their ranges.
///
/// NaN or infinite features are refused with [`DetectorError::NonFinite`] by every method, and
/// a vector of the wrong length with [`DetectorError::DimensionMismatch`]; the model is left
/// unchanged.
#[derive(Debug, Clone)]
pub struct HalfSpaceTrees {
    config: HstConfig,
    dim: usize,
    forest: Forest,
    scaler: Option<MinMaxScaler>,
    /// Two event-sized buffers for the scaled event before and after the scaler learns it.
    scratch: Vec<f64>,
}

impl HalfSpaceTrees {
    /// Half-Space Trees over `dim` features, with the trees grown from `config.seed`.
    ///
    /// # Errors
    /// [`DetectorError::InvalidParameter`] naming the first bad value: `dim` of 0, `n_trees`
    /// of 0, `height` outside 1..=20, `window_size` of 0, more than [`MAX_NODES`] nodes in
    /// all, or `limits` not holding one finite `(low, high)` with `low < high` per feature.
    pub fn new(dim: usize, config: HstConfig) -> Result<HalfSpaceTrees, DetectorError> {
        let limits = validate(dim, &config)?;
        let splits = Forest::grow(config.n_trees, config.height, &limits, config.seed);
        let forest = Forest::with_splits(config.n_trees, config.height, config.window_size, splits);
        Ok(HalfSpaceTrees::assemble(dim, config, forest, None))
    }

    fn assemble(
        dim: usize,
        config: HstConfig,
        forest: Forest,
        scaler: Option<MinMaxScaler>,
    ) -> HalfSpaceTrees {
        let scaler = if config.scale {
            Some(scaler.unwrap_or_else(|| MinMaxScaler::new(dim)))
        } else {
            None
        };
        HalfSpaceTrees {
            config,
            dim,
            forest,
            scaler,
            scratch: vec![0.0; 2 * dim],
        }
    }

    /// The parameters it was built (or restored) with.
    pub fn config(&self) -> &HstConfig {
        &self.config
    }

    /// True once a first window of `window_size` events has been learned; before, every score
    /// is 0.
    pub fn is_warm(&self) -> bool {
        !self.forest.first_window
    }

    /// Events learned into the window being filled, from 0 to `window_size − 1`.
    pub fn window_fill(&self) -> u32 {
        self.forest.counter
    }

    /// Scores `x` (already checked) through the scaler, in `buffer` when there is one.
    fn score_checked(&self, x: &[f64], buffer: &mut [f64]) -> f64 {
        if self.forest.first_window {
            return 0.0;
        }
        match &self.scaler {
            None => self.forest.score(x),
            Some(scaler) => {
                scaler.transform(x, buffer);
                self.forest.score(buffer)
            }
        }
    }

    /// Scores then learns `x` (already checked).
    fn score_learn_checked(&mut self, x: &[f64]) -> f64 {
        let Some(scaler) = &mut self.scaler else {
            return self.forest.score_learn(x);
        };
        let (before, after) = self.scratch.split_at_mut(self.dim);
        scaler.transform(x, before);
        scaler.learn_one(x);
        scaler.transform(x, after);
        if before == after {
            // The ranges did not move (the usual case once the stream has settled): the event
            // takes the same path for scoring and learning.
            self.forest.score_learn(after)
        } else {
            let score = self.forest.score(before);
            self.forest.learn(after);
            score
        }
    }
}

/// Checks `config` for `dim` features and returns the limits the trees split.
fn validate(dim: usize, config: &HstConfig) -> Result<Vec<(f64, f64)>, DetectorError> {
    if dim == 0 {
        return Err(invalid_parameter(
            NAME,
            "dim",
            "must be at least 1",
            dim.to_string(),
        ));
    }
    if config.n_trees == 0 {
        return Err(invalid_parameter(
            NAME,
            "n_trees",
            "must be at least 1",
            config.n_trees.to_string(),
        ));
    }
    if !(1..=20).contains(&config.height) {
        return Err(invalid_parameter(
            NAME,
            "height",
            "must be from 1 to 20",
            config.height.to_string(),
        ));
    }
    if config.window_size == 0 {
        return Err(invalid_parameter(
            NAME,
            "window_size",
            "must be at least 1",
            config.window_size.to_string(),
        ));
    }
    let nodes =
        (config.n_trees as u64).saturating_mul(Forest::nodes_per_tree(config.height) as u64);
    if nodes > MAX_NODES {
        return Err(invalid_parameter(
            NAME,
            "n_trees",
            "times the nodes per tree (2^(height+1) - 1) must be at most 16,777,216",
            format!(
                "{} (height {}, {nodes} nodes)",
                config.n_trees, config.height
            ),
        ));
    }
    match &config.limits {
        None => Ok(vec![(0.0, 1.0); dim]),
        Some(limits) => {
            if limits.len() != dim {
                return Err(invalid_parameter(
                    NAME,
                    "limits",
                    "must hold one (low, high) per feature",
                    format!("{} ranges for {dim} features", limits.len()),
                ));
            }
            if let Some((index, (low, high))) =
                limits.iter().enumerate().find(|(_, (low, high))| {
                    !(low.is_finite() && high.is_finite() && low < high && (high - low).is_finite())
                })
            {
                return Err(invalid_parameter(
                    NAME,
                    "limits",
                    "must be finite with low < high",
                    format!("({low}, {high}) for feature {index}"),
                ));
            }
            Ok(limits.clone())
        }
    }
}

impl Detector for HalfSpaceTrees {
    fn name(&self) -> &str {
        NAME
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn learn_one(&mut self, x: &[f64]) -> Result<(), DetectorError> {
        check_input(NAME, self.dim, x)?;
        match &mut self.scaler {
            None => self.forest.learn(x),
            Some(scaler) => {
                scaler.learn_one(x);
                let scaled = &mut self.scratch[..self.dim];
                scaler.transform(x, scaled);
                self.forest.learn(scaled);
            }
        }
        Ok(())
    }

    fn score_one(&self, x: &[f64]) -> Result<f64, DetectorError> {
        check_input(NAME, self.dim, x)?;
        if self.dim <= STACK_DIM {
            let mut buffer = [0.0; STACK_DIM];
            Ok(self.score_checked(x, &mut buffer[..self.dim]))
        } else {
            let mut buffer = vec![0.0; self.dim];
            Ok(self.score_checked(x, &mut buffer))
        }
    }

    fn score_many(&self, xs: &[f64], out: &mut [f64]) -> Result<(), DetectorError> {
        let mut buffer = vec![0.0; self.dim];
        score_checked_rows(NAME, self.dim, xs, out, |x| {
            self.score_checked(x, &mut buffer)
        })
    }

    fn score_learn_many(&mut self, xs: &[f64], out: &mut [f64]) -> Result<(), DetectorError> {
        let dim = self.dim;
        score_checked_rows(NAME, dim, xs, out, |x| self.score_learn_checked(x))
    }

    /// Parameters, trees, both mass profiles, the window position and the scaler.
    fn snapshot(&self) -> Vec<u8> {
        let forest = &self.forest;
        let mut w = SnapshotWriter::new(SNAPSHOT_TAG, SNAPSHOT_VERSION);
        w.u64(self.dim as u64);
        w.u64(self.config.n_trees as u64);
        w.u64(u64::from(self.config.height));
        w.u64(u64::from(self.config.window_size));
        w.u64(self.config.seed);
        w.u64(u64::from(self.config.scale));
        match &self.config.limits {
            None => w.u64(0),
            Some(limits) => {
                w.u64(1);
                let flat: Vec<f64> = limits
                    .iter()
                    .flat_map(|(low, high)| [*low, *high])
                    .collect();
                w.f64s(&flat);
            }
        }
        let features: Vec<u64> = forest.splits.iter().map(|s| s.feature as u64).collect();
        let thresholds: Vec<f64> = forest.splits.iter().map(|s| s.threshold).collect();
        w.u64s(&features);
        w.f64s(&thresholds);
        let latest: Vec<u64> = forest.latest.iter().map(|m| u64::from(*m)).collect();
        let reference: Vec<u64> = forest.reference.iter().map(|m| u64::from(*m)).collect();
        w.u64s(&latest);
        w.u64s(&reference);
        w.u64(u64::from(forest.counter));
        w.u64(u64::from(forest.first_window));
        if let Some(scaler) = &self.scaler {
            scaler.write(&mut w);
        }
        w.finish()
    }

    /// Restores a snapshot of Half-Space Trees over the same number of features; its
    /// parameters, trees and masses replace this detector's.
    fn restore(&mut self, bytes: &[u8]) -> Result<(), DetectorError> {
        let mut r = SnapshotReader::new(NAME, bytes, SNAPSHOT_TAG, SNAPSHOT_VERSION)?;
        let dim = r.u64()?;
        if dim != self.dim as u64 {
            return Err(snapshot_error(
                NAME,
                format!("it is over {dim} features, this detector over {}", self.dim),
            ));
        }
        let n_trees = r.u64()?;
        let height = r.u64()?;
        let window_size = r.u64()?;
        let seed = r.u64()?;
        let scale = r.flag("scale")?;
        let limits = if r.flag("limits")? {
            let flat = r.f64s()?;
            if flat.len() % 2 != 0 {
                return Err(snapshot_error(
                    NAME,
                    format!("{} limit values, not pairs", flat.len()),
                ));
            }
            Some(
                flat.chunks_exact(2)
                    .map(|pair| (pair[0], pair[1]))
                    .collect(),
            )
        } else {
            None
        };
        let config = HstConfig {
            n_trees: usize::try_from(n_trees)
                .map_err(|_| snapshot_error(NAME, format!("n_trees {n_trees} is too large")))?,
            height: u32::try_from(height)
                .map_err(|_| snapshot_error(NAME, format!("height {height} is too large")))?,
            window_size: u32::try_from(window_size).map_err(|_| {
                snapshot_error(NAME, format!("window_size {window_size} is too large"))
            })?,
            limits,
            scale,
            seed,
        };
        validate(self.dim, &config).map_err(|error| snapshot_error(NAME, error.to_string()))?;

        let features = r.u64s()?;
        let thresholds = r.f64s()?;
        let splits_len = config.n_trees * Forest::splits_per_tree(config.height);
        if features.len() != splits_len || thresholds.len() != splits_len {
            return Err(snapshot_error(
                NAME,
                format!(
                    "{} split features and {} thresholds, expected {splits_len}",
                    features.len(),
                    thresholds.len()
                ),
            ));
        }
        let mut splits = Vec::with_capacity(splits_len);
        for (feature, threshold) in features.into_iter().zip(thresholds) {
            if feature >= self.dim as u64 || !threshold.is_finite() {
                return Err(snapshot_error(
                    NAME,
                    format!(
                        "split on feature {feature} at {threshold} is not a split of {} features",
                        self.dim
                    ),
                ));
            }
            splits.push(Split {
                threshold,
                feature: feature as usize,
            });
        }
        let mut forest =
            Forest::with_splits(config.n_trees, config.height, config.window_size, splits);
        let latest = r.u64s()?;
        let reference = r.u64s()?;
        let counter = r.u64()?;
        let first_window = r.flag("first_window")?;
        let nodes = forest.latest.len();
        if latest.len() != nodes || reference.len() != nodes {
            return Err(snapshot_error(
                NAME,
                format!(
                    "{} latest and {} reference masses, expected {nodes}",
                    latest.len(),
                    reference.len()
                ),
            ));
        }
        let window = u64::from(config.window_size);
        if counter >= window {
            return Err(snapshot_error(
                NAME,
                format!("window position {counter} is not below window_size {window}"),
            ));
        }
        for (slot, mass) in forest.latest.iter_mut().zip(&latest) {
            *slot = mass_within(*mass, counter, "latest")
                .map_err(|reason| snapshot_error(NAME, reason))?;
        }
        for (slot, mass) in forest.reference.iter_mut().zip(&reference) {
            *slot = mass_within(*mass, window, "reference")
                .map_err(|reason| snapshot_error(NAME, reason))?;
        }
        forest.counter = counter as u32;
        forest.first_window = first_window;
        let scaler = if config.scale {
            let mut scaler = MinMaxScaler::new(self.dim);
            scaler.read(&mut r, NAME)?;
            Some(scaler)
        } else {
            None
        };
        r.end()?;
        *self = HalfSpaceTrees::assemble(self.dim, config, forest, scaler);
        Ok(())
    }
}

/// A node mass from a snapshot, which can never exceed the events counted in its window.
fn mass_within(mass: u64, bound: u64, which: &str) -> Result<u32, String> {
    if mass > bound {
        return Err(format!(
            "{which} mass {mass} exceeds the {bound} events of its window"
        ));
    }
    // `bound` is at most `window_size`, a u32.
    Ok(mass as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// River's `HalfSpaceTrees`, node by node with boxed children, float scores and the
    /// masses swapped by a depth-first walk, over the same random splits: the flat forest must
    /// score exactly as it does.
    struct RiverNode {
        split: Option<Split>,
        l_mass: u64,
        r_mass: u64,
        children: Vec<RiverNode>,
    }

    impl RiverNode {
        fn build(splits: &[Split], node: usize, levels: u32) -> RiverNode {
            let (split, children) = if levels == 0 {
                (None, Vec::new())
            } else {
                (
                    Some(splits[node]),
                    vec![
                        RiverNode::build(splits, 2 * node + 1, levels - 1),
                        RiverNode::build(splits, 2 * node + 2, levels - 1),
                    ],
                )
            };
            RiverNode {
                split,
                l_mass: 0,
                r_mass: 0,
                children,
            }
        }

        fn next(&self, x: &[f64]) -> Option<&RiverNode> {
            let split = self.split?;
            Some(if x[split.feature] < split.threshold {
                &self.children[0]
            } else {
                &self.children[1]
            })
        }

        fn learn(&mut self, x: &[f64]) {
            self.l_mass += 1;
            if let Some(split) = self.split {
                let side = usize::from(x[split.feature] >= split.threshold);
                self.children[side].learn(x);
            }
        }

        fn pivot(&mut self) {
            self.r_mass = self.l_mass;
            self.l_mass = 0;
            for child in &mut self.children {
                child.pivot();
            }
        }
    }

    struct RiverHst {
        trees: Vec<RiverNode>,
        height: u32,
        window_size: u64,
        counter: u64,
        first_window: bool,
    }

    impl RiverHst {
        fn mirror(forest: &Forest) -> RiverHst {
            let per_tree = Forest::splits_per_tree(forest.height);
            RiverHst {
                trees: forest
                    .splits
                    .chunks_exact(per_tree)
                    .map(|splits| RiverNode::build(splits, 0, forest.height))
                    .collect(),
                height: forest.height,
                window_size: u64::from(forest.window_size),
                counter: 0,
                first_window: true,
            }
        }

        fn learn_one(&mut self, x: &[f64]) {
            for tree in &mut self.trees {
                tree.learn(x);
            }
            self.counter += 1;
            if self.counter == self.window_size {
                for tree in &mut self.trees {
                    tree.pivot();
                }
                self.first_window = false;
                self.counter = 0;
            }
        }

        fn score_one(&self, x: &[f64]) -> f64 {
            if self.first_window {
                return 0.0;
            }
            let size_limit = 0.1 * self.window_size as f64;
            let mut score = 0.0;
            for tree in &self.trees {
                let mut node = Some(tree);
                let mut depth = 0;
                while let Some(current) = node {
                    score += (current.r_mass * 2u64.pow(depth)) as f64;
                    if (current.r_mass as f64) < size_limit {
                        break;
                    }
                    node = current.next(x);
                    depth += 1;
                }
            }
            let max_score =
                self.trees.len() as u64 * self.window_size * (2u64.pow(self.height + 1) - 1);
            1.0 - score / max_score as f64
        }
    }

    fn stream(seed: u64, rows: usize, dim: usize) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..rows * dim)
            .map(|i| {
                // A drifting cluster with a rare far-out value, so ranges keep widening.
                let base = (i / dim) as f64 / rows as f64;
                let spread = if rng.random::<f64>() < 0.01 { 5.0 } else { 0.2 };
                base + spread * (rng.random::<f64>() - 0.5)
            })
            .collect()
    }

    fn small(scale: bool, seed: u64) -> HstConfig {
        HstConfig {
            n_trees: 4,
            height: 5,
            window_size: 23,
            limits: None,
            scale,
            seed,
        }
    }

    #[test]
    fn flat_forest_scores_as_rivers_node_trees() {
        for (scale, window_size) in [(false, 23), (true, 23), (true, 250), (false, 7)] {
            let config = HstConfig {
                window_size,
                ..small(scale, 3)
            };
            let mut hst = HalfSpaceTrees::new(3, config).unwrap();
            let mut river = RiverHst::mirror(&hst.forest);
            let mut scaler = MinMaxScaler::new(3);
            let mut scaled = [0.0; 3];
            let xs = if scale {
                stream(11, 2_000, 3)
            } else {
                stream(11, 2_000, 3)
                    .iter()
                    .map(|v| v.clamp(0.0, 1.0))
                    .collect()
            };
            let mut nonzero = 0;
            for x in xs.chunks_exact(3) {
                // River's pipeline: score with the scaler as it is; learn the scaler, then
                // the trees on the event scaled by the updated ranges.
                let input = if scale {
                    scaler.transform(x, &mut scaled);
                    &scaled[..]
                } else {
                    x
                };
                let expected = river.score_one(input);
                let got = hst.score_one(x).unwrap();
                assert_eq!(got.to_bits(), expected.to_bits(), "{got} vs {expected}");
                nonzero += usize::from(got != 0.0);
                if scale {
                    scaler.learn_one(x);
                    scaler.transform(x, &mut scaled);
                    river.learn_one(&scaled);
                } else {
                    river.learn_one(x);
                }
                hst.learn_one(x).unwrap();
            }
            assert!(nonzero > 1_000, "only {nonzero} nonzero scores");
        }
    }

    #[test]
    fn score_learn_many_is_the_loop() {
        for scale in [false, true] {
            let xs = stream(5, 1_500, 3);
            let mut looped = HalfSpaceTrees::new(3, small(scale, 9)).unwrap();
            let expected: Vec<f64> = xs
                .chunks_exact(3)
                .map(|x| {
                    let score = looped.score_one(x).unwrap();
                    looped.learn_one(x).unwrap();
                    score
                })
                .collect();
            let mut batched = HalfSpaceTrees::new(3, small(scale, 9)).unwrap();
            let mut got = vec![f64::NAN; 1_500];
            // Uneven batches, so windows turn over inside and across calls.
            let (head, tail) = xs.split_at(3 * 601);
            let (got_head, got_tail) = got.split_at_mut(601);
            batched.score_learn_many(head, got_head).unwrap();
            batched.score_learn_many(tail, got_tail).unwrap();
            let bits = |v: &[f64]| v.iter().map(|s| s.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&expected));
            assert_eq!(batched.snapshot(), looped.snapshot());

            let mut many = vec![0.0; 1_500];
            batched.score_many(&xs, &mut many).unwrap();
            for (x, score) in xs.chunks_exact(3).zip(&many) {
                assert_eq!(score.to_bits(), batched.score_one(x).unwrap().to_bits());
            }
        }
    }

    #[test]
    fn scores_are_zero_until_the_first_window_then_in_unit_range() {
        let mut hst = HalfSpaceTrees::new(3, small(true, 1)).unwrap();
        let xs = stream(2, 400, 3);
        for (i, x) in xs.chunks_exact(3).enumerate() {
            let score = hst.score_one(x).unwrap();
            if i < 23 {
                assert_eq!(score, 0.0);
                assert!(!hst.is_warm());
            } else {
                assert!((0.0..=1.0).contains(&score), "{score}");
                assert!(hst.is_warm());
            }
            hst.learn_one(x).unwrap();
            assert_eq!(hst.window_fill() as usize, (i + 1) % 23);
        }
    }

    #[test]
    fn separates_an_outlier_from_its_cluster() {
        let mut hst = HalfSpaceTrees::new(2, HstConfig::default()).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        // Anchor the scaler's ranges first, so the outlier stays inside them and the cluster's
        // scaled position does not move under the trees' masses.
        hst.learn_one(&[0.0, 0.0]).unwrap();
        hst.learn_one(&[1.0, 1.0]).unwrap();
        for _ in 0..2_000 {
            let x = [
                0.3 + 0.05 * rng.random::<f64>(),
                0.6 + 0.05 * rng.random::<f64>(),
            ];
            hst.learn_one(&x).unwrap();
        }
        let inlier = hst.score_one(&[0.32, 0.62]).unwrap();
        let outlier = hst.score_one(&[0.9, 0.1]).unwrap();
        assert!(outlier > 0.9 && inlier < 0.5, "{outlier} vs {inlier}");
    }

    #[test]
    fn splits_stay_in_the_padded_middle_of_their_region() {
        fn check(splits: &[Split], region: &mut [(f64, f64)], node: usize, levels: u32) {
            if levels == 0 {
                return;
            }
            let split = splits[node];
            let (low, high) = region[split.feature];
            let pad = PADDING * (high - low);
            assert!(split.threshold >= low + pad && split.threshold <= high - pad);
            region[split.feature] = (low, split.threshold);
            check(splits, region, 2 * node + 1, levels - 1);
            region[split.feature] = (split.threshold, high);
            check(splits, region, 2 * node + 2, levels - 1);
            region[split.feature] = (low, high);
        }
        let limits = vec![(-3.0, 5.0), (0.0, 1.0), (10.0, 10.5)];
        let config = HstConfig {
            limits: Some(limits.clone()),
            scale: false,
            ..HstConfig::default()
        };
        let hst = HalfSpaceTrees::new(3, config).unwrap();
        for tree in hst.forest.splits.chunks_exact(Forest::splits_per_tree(8)) {
            check(tree, &mut limits.clone(), 0, 8);
        }
    }

    #[test]
    fn features_are_drawn_by_the_width_left_to_them() {
        // One level: 2,000 root splits; feature 1 is nine times wider than feature 0.
        let config = HstConfig {
            n_trees: 2_000,
            height: 1,
            limits: Some(vec![(0.0, 1.0), (0.0, 9.0)]),
            scale: false,
            ..HstConfig::default()
        };
        let hst = HalfSpaceTrees::new(2, config).unwrap();
        let wide = hst.forest.splits.iter().filter(|s| s.feature == 1).count();
        // Expected 1,800, standard deviation about 13.
        assert!((1_740..=1_860).contains(&wide), "{wide}");

        // Two levels, equal limits: below a root split on feature 0, feature 0 has between
        // 15 % and 85 % of its width left, so it is drawn less often than feature 1 there.
        let config = HstConfig {
            n_trees: 2_000,
            height: 2,
            limits: None,
            scale: false,
            ..HstConfig::default()
        };
        let hst = HalfSpaceTrees::new(2, config).unwrap();
        let (mut same, mut below) = (0, 0);
        for tree in hst.forest.splits.chunks_exact(3) {
            for child in &tree[1..] {
                below += 1;
                same += usize::from(child.feature == tree[0].feature);
            }
        }
        let share = same as f64 / below as f64;
        assert!((0.25..0.45).contains(&share), "{share}");
    }

    #[test]
    fn the_seed_decides_the_trees() {
        let xs = stream(8, 600, 3);
        let run = |seed| {
            let mut hst = HalfSpaceTrees::new(3, small(true, seed)).unwrap();
            let mut out = vec![0.0; 600];
            hst.score_learn_many(&xs, &mut out).unwrap();
            out
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    #[test]
    fn snapshot_restore_continues_bit_for_bit() {
        for scale in [false, true] {
            let xs = stream(21, 1_000, 3);
            let (head, tail) = xs.split_at(3 * 437);
            let mut original = HalfSpaceTrees::new(3, small(scale, 6)).unwrap();
            let mut ignored = vec![0.0; 437];
            original.score_learn_many(head, &mut ignored).unwrap();

            let mut restored = HalfSpaceTrees::new(3, HstConfig::default()).unwrap();
            restored.restore(&original.snapshot()).unwrap();
            assert_eq!(restored.config(), original.config());
            assert_eq!(restored.window_fill(), original.window_fill());
            let mut expected = vec![0.0; 563];
            let mut got = vec![0.0; 563];
            original.score_learn_many(tail, &mut expected).unwrap();
            restored.score_learn_many(tail, &mut got).unwrap();
            let bits = |v: &[f64]| v.iter().map(|s| s.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&expected));
            assert_eq!(restored.snapshot(), original.snapshot());
        }
    }

    #[test]
    fn a_bad_snapshot_is_refused_and_changes_nothing() {
        let mut source = HalfSpaceTrees::new(3, small(true, 6)).unwrap();
        let xs = stream(3, 100, 3);
        let mut out = vec![0.0; 100];
        source.score_learn_many(&xs, &mut out).unwrap();
        let good = source.snapshot();

        let mut target = HalfSpaceTrees::new(3, small(false, 1)).unwrap();
        target.learn_one(&[0.5, 0.5, 0.5]).unwrap();
        let before = target.snapshot();
        let refuse = |target: &mut HalfSpaceTrees, bytes: &[u8]| {
            let error = target.restore(bytes).unwrap_err();
            assert!(matches!(error, DetectorError::Snapshot { .. }), "{error}");
        };
        for cut in [0, 5, 6, 30, good.len() / 2, good.len() - 1] {
            refuse(&mut target, &good[..cut]);
        }
        let mut trailing = good.clone();
        trailing.push(0);
        refuse(&mut target, &trailing);
        let mut other_tag = good.clone();
        other_tag[..4].copy_from_slice(b"ADWN");
        refuse(&mut target, &other_tag);
        // The dimension is the first number after the tag and version.
        let mut other_dim = good.clone();
        other_dim[6] = 4;
        refuse(&mut target, &other_dim);
        // n_trees of 0 is not a valid model.
        let mut no_trees = good.clone();
        no_trees[14..22].copy_from_slice(&0u64.to_le_bytes());
        refuse(&mut target, &no_trees);
        assert_eq!(target.snapshot(), before);

        // And a snapshot over another dimension, from a real detector.
        let wider = HalfSpaceTrees::new(4, small(true, 6)).unwrap();
        refuse(&mut target, &wider.snapshot());
        assert_eq!(target.snapshot(), before);
    }

    #[test]
    fn non_finite_and_misshapen_input_is_refused_without_learning() {
        let mut hst = HalfSpaceTrees::new(3, small(true, 1)).unwrap();
        hst.learn_one(&[0.1, 0.2, 0.3]).unwrap();
        let before = hst.snapshot();
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let x = [0.5, bad, 0.5];
            assert!(matches!(
                hst.learn_one(&x),
                Err(DetectorError::NonFinite { index: 1, .. })
            ));
            assert!(matches!(
                hst.score_one(&x),
                Err(DetectorError::NonFinite { index: 1, .. })
            ));
        }
        assert!(matches!(
            hst.learn_one(&[0.5, 0.5]),
            Err(DetectorError::DimensionMismatch {
                expected: 3,
                got: 2,
                ..
            })
        ));
        assert_eq!(hst.snapshot(), before);

        // In a batch, rows before the bad one are scored and learned, the rest are not.
        let xs = [
            0.2,
            0.2,
            0.2,
            0.4,
            0.4,
            0.4,
            0.5,
            f64::NAN,
            0.5,
            0.6,
            0.6,
            0.6,
        ];
        let mut out = [-1.0; 4];
        assert!(hst.score_learn_many(&xs, &mut out).is_err());
        assert_eq!(hst.window_fill(), 3);
        assert_eq!(out[3], -1.0);
        assert!(matches!(
            hst.score_learn_many(&xs[..11], &mut out),
            Err(DetectorError::DimensionMismatch { .. })
        ));
    }

    #[test]
    fn wide_vectors_score_as_narrow_ones_do() {
        // Past the stack buffer, scoring takes a heap buffer; same results.
        let dim = STACK_DIM + 6;
        let xs = stream(30, 300, dim);
        let mut hst = HalfSpaceTrees::new(dim, small(true, 2)).unwrap();
        let mut scores = vec![0.0; 300];
        hst.score_learn_many(&xs, &mut scores).unwrap();
        let mut looped = HalfSpaceTrees::new(dim, small(true, 2)).unwrap();
        for (x, expected) in xs.chunks_exact(dim).zip(&scores) {
            assert_eq!(looped.score_one(x).unwrap().to_bits(), expected.to_bits());
            looped.learn_one(x).unwrap();
        }
    }

    #[test]
    fn parameters_are_checked_and_named() {
        let name_of = |dim: usize, config: HstConfig| match HalfSpaceTrees::new(dim, config) {
            Err(DetectorError::InvalidParameter { name, .. }) => name,
            other => panic!("expected a parameter error, got {other:?}"),
        };
        let base = HstConfig::default;
        assert_eq!(name_of(0, base()), "dim");
        assert_eq!(
            name_of(
                2,
                HstConfig {
                    n_trees: 0,
                    ..base()
                }
            ),
            "n_trees"
        );
        assert_eq!(
            name_of(
                2,
                HstConfig {
                    height: 0,
                    ..base()
                }
            ),
            "height"
        );
        assert_eq!(
            name_of(
                2,
                HstConfig {
                    height: 21,
                    ..base()
                }
            ),
            "height"
        );
        assert_eq!(
            name_of(
                2,
                HstConfig {
                    window_size: 0,
                    ..base()
                }
            ),
            "window_size"
        );
        assert_eq!(
            name_of(
                2,
                HstConfig {
                    n_trees: 9,
                    height: 20,
                    ..base()
                }
            ),
            "n_trees"
        );
        for limits in [
            vec![(0.0, 1.0)],
            vec![(0.0, 1.0), (1.0, 1.0)],
            vec![(0.0, 1.0), (2.0, 1.0)],
            vec![(f64::NAN, 1.0), (0.0, 1.0)],
            vec![(0.0, f64::INFINITY), (0.0, 1.0)],
            vec![(-f64::MAX, f64::MAX), (0.0, 1.0)],
        ] {
            let config = HstConfig {
                limits: Some(limits),
                ..base()
            };
            assert_eq!(name_of(2, config), "limits");
        }
        let message = HalfSpaceTrees::new(
            2,
            HstConfig {
                height: 30,
                ..base()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(
            message.contains("height") && message.contains("30"),
            "{message}"
        );
        assert!(
            HalfSpaceTrees::new(
                2,
                HstConfig {
                    n_trees: 8,
                    height: 20,
                    ..base()
                }
            )
            .is_ok()
        );
    }
}
