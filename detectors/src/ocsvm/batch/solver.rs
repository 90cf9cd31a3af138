//! The SMO solver of libsvm (`Solver` and `solve_one_class` in `svm.cpp`, as vendored by
//! scikit-learn), specialised to the one-class problem:
//!
//! ```text
//! min 0.5 a'Qa   subject to   0 <= a_i <= 1,   sum a_i = nu * l,   Q_ij = exp(-gamma |x_i - x_j|^2)
//! ```
//!
//! Every label is +1, every bound is 1 and the linear term is zero, so those arrays of the
//! general solver disappear; the order of every floating-point operation is kept, so the
//! iterates follow libsvm's. Working pairs are chosen by second-order information (Fan, Chen
//! and Lin, JMLR 6, 2005), variables stuck at a bound are shrunk out of the active set, and Q
//! is never formed: its rows come from a bounded [`RowCache`].

use super::cache::RowCache;

/// libsvm's `TAU`: the curvature used when a pair's curvature is not positive.
const TAU: f64 = 1e-12;

/// How often (in iterations) the active set is shrunk: libsvm's `min(l, 1000)`.
const SHRINK_EVERY: usize = 1000;

/// Where a variable sits in its box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    Lower,
    Upper,
    Free,
}

fn bound_of(alpha: f64) -> Bound {
    if alpha >= 1.0 {
        Bound::Upper
    } else if alpha <= 0.0 {
        Bound::Lower
    } else {
        Bound::Free
    }
}

/// What the solver is asked to do.
#[derive(Debug, Clone, Copy)]
pub(super) struct SolveParams {
    /// Fraction of outliers nu, in (0, 1].
    pub nu: f64,
    /// RBF coefficient, positive.
    pub gamma: f64,
    /// Stopping tolerance on the maximal violating pair (libsvm's `eps`).
    pub tol: f64,
    /// Whether to shrink the active set.
    pub shrinking: bool,
    /// Iteration cap; `None` runs to convergence.
    pub max_iter: Option<u64>,
    /// Kernel cache budget in bytes.
    pub cache_bytes: u64,
}

/// The solver's result, in the order of the training rows.
#[derive(Debug, Clone)]
pub(super) struct Solution {
    /// The dual variables.
    pub alpha: Vec<f64>,
    /// The offset: decision = sum_i alpha_i K(x_i, x) - rho.
    pub rho: f64,
    /// The dual objective 0.5 a'Qa.
    pub objective: f64,
    /// Iterations run.
    pub iterations: u64,
    /// False when the iteration cap stopped the solver first.
    pub converged: bool,
}

/// The RBF kernel over the training rows, in the solver's (permuted) order, with its row cache.
#[derive(Debug)]
struct KernelRows {
    dim: usize,
    gamma: f64,
    /// Row-major training rows; shrinking swaps rows, so they stay contiguous.
    x: Vec<f64>,
    /// Squared norm of each row.
    x_square: Vec<f64>,
    /// Diagonal of Q.
    qd: Vec<f64>,
    cache: RowCache,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut sum = 0.0;
    for (u, v) in a.iter().zip(b) {
        sum += u * v;
    }
    sum
}

impl KernelRows {
    fn new(x: Vec<f64>, dim: usize, gamma: f64, cache_bytes: u64) -> KernelRows {
        let x_square: Vec<f64> = x.chunks_exact(dim).map(|r| dot(r, r)).collect();
        let l = x_square.len();
        let mut rows = KernelRows {
            dim,
            gamma,
            x,
            x_square,
            qd: Vec::new(),
            cache: RowCache::new(l, cache_bytes),
        };
        rows.qd = (0..l).map(|i| rows.kernel(i, i)).collect();
        rows
    }

    fn point(&self, i: usize) -> &[f64] {
        &self.x[i * self.dim..(i + 1) * self.dim]
    }

    fn kernel(&self, i: usize, j: usize) -> f64 {
        (-self.gamma
            * (self.x_square[i] + self.x_square[j] - 2.0 * dot(self.point(i), self.point(j))))
        .exp()
    }

    /// Makes the prefix `[0, len)` of row `i` available through [`row`](Self::row).
    fn ensure(&mut self, i: usize, len: usize) {
        let dim = self.dim;
        let gamma = self.gamma;
        let x = &self.x;
        let x_square = &self.x_square;
        self.cache.get_or_fill(i, len, |row| {
            let start = row.len();
            let xi = &x[i * dim..(i + 1) * dim];
            let xi_square = x_square[i];
            let others = x[start * dim..len * dim].chunks_exact(dim);
            row.extend(others.zip(&x_square[start..len]).map(|(xj, xj_square)| {
                // Single precision, as libsvm's Qfloat: it halves the cache.
                (-gamma * (xi_square + xj_square - 2.0 * dot(xi, xj))).exp() as f32
            }));
        });
    }

    fn row(&self, i: usize) -> &[f32] {
        self.cache.row(i)
    }

    fn swap_index(&mut self, i: usize, j: usize) {
        self.cache.swap_index(i, j);
        if i != j {
            let dim = self.dim;
            let (low, high) = if i < j { (i, j) } else { (j, i) };
            let (head, tail) = self.x.split_at_mut(high * dim);
            head[low * dim..(low + 1) * dim].swap_with_slice(&mut tail[..dim]);
        }
        self.x_square.swap(i, j);
        self.qd.swap(i, j);
    }
}

/// libsvm's `Solver` state for the one-class problem.
#[derive(Debug)]
struct Solver {
    l: usize,
    active_size: usize,
    tol: f64,
    alpha: Vec<f64>,
    status: Vec<Bound>,
    /// Gradient Qa.
    g: Vec<f64>,
    /// The part of the gradient due to variables at the upper bound, kept for every row so
    /// that shrunk rows can get their gradient back.
    g_bar: Vec<f64>,
    /// Original index of each position.
    active_set: Vec<usize>,
    unshrink: bool,
    q: KernelRows,
}

impl Solver {
    fn swap_index(&mut self, i: usize, j: usize) {
        self.q.swap_index(i, j);
        self.g.swap(i, j);
        self.status.swap(i, j);
        self.alpha.swap(i, j);
        self.active_set.swap(i, j);
        self.g_bar.swap(i, j);
    }

    fn update_status(&mut self, i: usize) {
        self.status[i] = bound_of(self.alpha[i]);
    }

    /// Rebuilds the gradient of the inactive rows from `g_bar` and the free variables.
    fn reconstruct_gradient(&mut self) {
        let (l, active) = (self.l, self.active_size);
        if active == l {
            return;
        }
        for j in active..l {
            self.g[j] = self.g_bar[j];
        }
        let nr_free = self.status[..active]
            .iter()
            .filter(|s| **s == Bound::Free)
            .count();
        // Whichever way computes fewer kernel values: inactive rows against the active part,
        // or free rows over their inactive tail.
        if nr_free * l > 2 * active * (l - active) {
            for i in active..l {
                self.q.ensure(i, active);
                let q_i = &self.q.row(i)[..active];
                let mut g_i = self.g[i];
                for ((status, alpha), q) in self.status.iter().zip(&self.alpha).zip(q_i) {
                    if *status == Bound::Free {
                        g_i += alpha * f64::from(*q);
                    }
                }
                self.g[i] = g_i;
            }
        } else {
            for i in 0..active {
                if self.status[i] == Bound::Free {
                    self.q.ensure(i, l);
                    let q_i = &self.q.row(i)[active..l];
                    let alpha_i = self.alpha[i];
                    for (g, q) in self.g[active..l].iter_mut().zip(q_i) {
                        *g += alpha_i * f64::from(*q);
                    }
                }
            }
        }
    }

    /// Second-order working-set selection (libsvm's WSS 3). `None` when the maximal violation
    /// is below the tolerance.
    fn select_working_set(&mut self) -> Option<(usize, usize)> {
        let active = self.active_size;
        let mut gmax = f64::NEG_INFINITY;
        let mut gmax_idx = None;
        for t in 0..active {
            if self.status[t] != Bound::Upper && -self.g[t] >= gmax {
                gmax = -self.g[t];
                gmax_idx = Some(t);
            }
        }
        // Without a candidate i, libsvm's maximal violation is -inf: optimal.
        let i = gmax_idx?;
        self.q.ensure(i, active);
        let q_i = &self.q.row(i)[..active];
        let qd_i = self.q.qd[i];
        let mut gmax2 = f64::NEG_INFINITY;
        let mut gmin_idx = None;
        let mut obj_diff_min = f64::INFINITY;
        let candidates = self.status.iter().zip(&self.g).zip(&self.q.qd).zip(q_i);
        for (j, (((status, g_j), qd_j), q_ij)) in candidates.enumerate() {
            if *status == Bound::Lower {
                continue;
            }
            let g_j = *g_j;
            let grad_diff = gmax + g_j;
            if g_j >= gmax2 {
                gmax2 = g_j;
            }
            if grad_diff > 0.0 {
                let quad_coef = qd_i + qd_j - 2.0 * f64::from(*q_ij);
                let obj_diff = if quad_coef > 0.0 {
                    -(grad_diff * grad_diff) / quad_coef
                } else {
                    -(grad_diff * grad_diff) / TAU
                };
                if obj_diff <= obj_diff_min {
                    gmin_idx = Some(j);
                    obj_diff_min = obj_diff;
                }
            }
        }
        if gmax + gmax2 < self.tol {
            return None;
        }
        gmin_idx.map(|j| (i, j))
    }

    fn be_shrunk(&self, i: usize, gmax1: f64, gmax2: f64) -> bool {
        match self.status[i] {
            Bound::Upper => -self.g[i] > gmax1,
            Bound::Lower => self.g[i] > gmax2,
            Bound::Free => false,
        }
    }

    fn do_shrinking(&mut self) {
        let mut gmax1 = f64::NEG_INFINITY; // max -G_i over i that may grow
        let mut gmax2 = f64::NEG_INFINITY; // max G_i over i that may shrink
        for i in 0..self.active_size {
            if self.status[i] != Bound::Upper && -self.g[i] >= gmax1 {
                gmax1 = -self.g[i];
            }
            if self.status[i] != Bound::Lower && self.g[i] >= gmax2 {
                gmax2 = self.g[i];
            }
        }
        // Close to the end, bring every variable back once, so that shrinking's guesses are
        // checked against the whole problem before the final iterations.
        if !self.unshrink && gmax1 + gmax2 <= self.tol * 10.0 {
            self.unshrink = true;
            self.reconstruct_gradient();
            self.active_size = self.l;
        }
        let mut i = 0;
        while i < self.active_size {
            if self.be_shrunk(i, gmax1, gmax2) {
                self.active_size -= 1;
                while self.active_size > i {
                    if !self.be_shrunk(self.active_size, gmax1, gmax2) {
                        self.swap_index(i, self.active_size);
                        break;
                    }
                    self.active_size -= 1;
                }
            }
            i += 1;
        }
    }

    /// rho: the mean gradient over the free variables, or the middle of the feasible
    /// interval when none is free.
    fn calculate_rho(&self) -> f64 {
        let mut nr_free = 0usize;
        let mut ub = f64::INFINITY;
        let mut lb = f64::NEG_INFINITY;
        let mut sum_free = 0.0;
        for i in 0..self.active_size {
            let g = self.g[i];
            match self.status[i] {
                Bound::Upper => lb = lb.max(g),
                Bound::Lower => ub = ub.min(g),
                Bound::Free => {
                    nr_free += 1;
                    sum_free += g;
                }
            }
        }
        if nr_free > 0 {
            sum_free / nr_free as f64
        } else {
            (ub + lb) / 2.0
        }
    }

    /// One SMO step on the pair (i, j): the two-variable subproblem solved exactly, clipped
    /// to the box along the line a_i + a_j = constant.
    fn take_step(&mut self, i: usize, j: usize) {
        let active = self.active_size;
        self.q.ensure(i, active);
        self.q.ensure(j, active);
        let old_alpha_i = self.alpha[i];
        let old_alpha_j = self.alpha[j];
        {
            let q_i = self.q.row(i);
            let mut quad_coef = self.q.qd[i] + self.q.qd[j] - 2.0 * f64::from(q_i[j]);
            if quad_coef <= 0.0 {
                quad_coef = TAU;
            }
            let delta = (self.g[i] - self.g[j]) / quad_coef;
            let sum = self.alpha[i] + self.alpha[j];
            let (a_i, a_j) = (self.alpha[i] - delta, self.alpha[j] + delta);
            // Back into the box [0, 1]^2 along a_i + a_j = sum, as libsvm does: against i's
            // upper or j's lower bound first, then against j's upper or i's lower bound.
            let (a_i, a_j) = clip_to_box(sum, a_i, a_j);
            let (a_j, a_i) = clip_to_box(sum, a_j, a_i);
            self.alpha[i] = a_i;
            self.alpha[j] = a_j;
        }

        let delta_alpha_i = self.alpha[i] - old_alpha_i;
        let delta_alpha_j = self.alpha[j] - old_alpha_j;
        let q_i = &self.q.row(i)[..active];
        let q_j = &self.q.row(j)[..active];
        for ((g, qi), qj) in self.g[..active].iter_mut().zip(q_i).zip(q_j) {
            *g += f64::from(*qi) * delta_alpha_i + f64::from(*qj) * delta_alpha_j;
        }

        let was_upper_i = self.status[i] == Bound::Upper;
        let was_upper_j = self.status[j] == Bound::Upper;
        self.update_status(i);
        self.update_status(j);
        for (k, was_upper) in [(i, was_upper_i), (j, was_upper_j)] {
            if was_upper != (self.status[k] == Bound::Upper) {
                let l = self.l;
                self.q.ensure(k, l);
                let sign = if was_upper { -1.0 } else { 1.0 };
                for (gb, q) in self.g_bar.iter_mut().zip(self.q.row(k)) {
                    // C_k * Q_k with C_k = 1.
                    if sign < 0.0 {
                        *gb -= f64::from(*q);
                    } else {
                        *gb += f64::from(*q);
                    }
                }
            }
        }
    }
}

/// Moves `(a, b)` along `a + b = sum` onto the box edge it crossed: `a` down to 1 when the
/// pair sums past 1, else `b` up to 0. The other two edges are the same call with the pair
/// swapped.
fn clip_to_box(sum: f64, a: f64, b: f64) -> (f64, f64) {
    if sum > 1.0 {
        if a > 1.0 {
            return (1.0, sum - 1.0);
        }
    } else if b < 0.0 {
        return (sum, 0.0);
    }
    (a, b)
}

/// Solves the nu-one-class dual on `l = x.len() / dim` rows of `x` (row-major), libsvm's way.
/// `x` is taken by value: shrinking permutes its rows in place.
pub(super) fn solve_one_class(x: Vec<f64>, dim: usize, params: SolveParams) -> Solution {
    let l = x.len() / dim;
    // libsvm sums nu per row, and starts from the first floor(nu l) variables at 1 and the
    // next at the remaining fraction.
    let mut nu_l = 0.0;
    for _ in 0..l {
        nu_l += params.nu;
    }
    let mut alpha = vec![0.0; l];
    let mut filled = 0;
    while nu_l > 0.0 && filled < l {
        alpha[filled] = if 1.0 < nu_l { 1.0 } else { nu_l };
        nu_l -= alpha[filled];
        filled += 1;
    }

    let q = KernelRows::new(x, dim, params.gamma, params.cache_bytes);
    let status: Vec<Bound> = alpha.iter().map(|a| bound_of(*a)).collect();
    let mut solver = Solver {
        l,
        active_size: l,
        tol: params.tol,
        alpha,
        status,
        g: vec![0.0; l],
        g_bar: vec![0.0; l],
        active_set: (0..l).collect(),
        unshrink: false,
        q,
    };

    for i in 0..l {
        if solver.status[i] == Bound::Lower {
            continue;
        }
        solver.q.ensure(i, l);
        let q_i = solver.q.row(i);
        let alpha_i = solver.alpha[i];
        for (g, q) in solver.g.iter_mut().zip(q_i) {
            *g += alpha_i * f64::from(*q);
        }
        if solver.status[i] == Bound::Upper {
            for (gb, q) in solver.g_bar.iter_mut().zip(q_i) {
                *gb += f64::from(*q);
            }
        }
    }

    let mut iterations: u64 = 0;
    let mut converged = true;
    let mut counter = l.min(SHRINK_EVERY) + 1;
    loop {
        if params.max_iter.is_some_and(|cap| iterations >= cap) {
            converged = false;
            break;
        }
        counter -= 1;
        if counter == 0 {
            counter = l.min(SHRINK_EVERY);
            if params.shrinking {
                solver.do_shrinking();
            }
        }
        let (i, j) = match solver.select_working_set() {
            Some(pair) => pair,
            None => {
                // Optimal on the active set: check the whole problem before stopping.
                solver.reconstruct_gradient();
                solver.active_size = l;
                match solver.select_working_set() {
                    Some(pair) => {
                        counter = 1;
                        pair
                    }
                    None => break,
                }
            }
        };
        iterations += 1;
        solver.take_step(i, j);
    }

    let rho = solver.calculate_rho();
    let mut objective = 0.0;
    for (a, g) in solver.alpha.iter().zip(&solver.g) {
        objective += a * g;
    }
    let mut alpha = vec![0.0; l];
    for (position, original) in solver.active_set.iter().enumerate() {
        alpha[*original] = solver.alpha[position];
    }
    Solution {
        alpha,
        rho,
        objective: objective / 2.0,
        iterations,
        converged,
    }
}
