//! The kernel row cache of libsvm (`Cache` in `svm.cpp`): rows of Q kept in single precision,
//! evicted least recently used first, within a budget counted in floats.
//!
//! A row is cached as a prefix `[0, len)`: with shrinking, the solver asks only for the
//! active part of a row, and a later request for a longer prefix computes just the missing tail.

/// Cached prefixes of kernel rows, least recently used first.
///
/// The recency list is a doubly linked list over row indices; index `l` (one past the last
/// row) is its sentinel. A row is on the list exactly when its cached prefix is not empty.
#[derive(Debug)]
pub(super) struct RowCache {
    rows: Vec<Vec<f32>>,
    prev: Vec<usize>,
    next: Vec<usize>,
    /// Floats that may still be cached (libsvm's `size`).
    free: usize,
}

impl RowCache {
    /// A cache for `l` rows within `budget_bytes`, less the bookkeeping per row, but never
    /// smaller than two full rows: one solver step needs both rows of its working pair at once.
    pub(super) fn new(l: usize, budget_bytes: u64) -> RowCache {
        let float_bytes = std::mem::size_of::<f32>() as u64;
        let row_overhead =
            (std::mem::size_of::<Vec<f32>>() + 2 * std::mem::size_of::<usize>()) as u64;
        let budget_floats =
            (budget_bytes / float_bytes).saturating_sub(l as u64 * row_overhead / float_bytes);
        let budget_floats = usize::try_from(budget_floats).unwrap_or(usize::MAX);
        let sentinel = l;
        RowCache {
            rows: vec![Vec::new(); l],
            prev: vec![sentinel; l + 1],
            next: vec![sentinel; l + 1],
            free: budget_floats.max(l.saturating_mul(2)),
        }
    }

    fn sentinel(&self) -> usize {
        self.rows.len()
    }

    fn unlink(&mut self, h: usize) {
        let (p, n) = (self.prev[h], self.next[h]);
        self.next[p] = n;
        self.prev[n] = p;
    }

    fn link_last(&mut self, h: usize) {
        let head = self.sentinel();
        let last = self.prev[head];
        self.next[h] = head;
        self.prev[h] = last;
        self.next[last] = h;
        self.prev[head] = h;
    }

    fn drop_row(&mut self, h: usize) {
        self.unlink(h);
        self.free += self.rows[h].len();
        self.rows[h] = Vec::new();
    }

    /// Makes the prefix `[0, len)` of row `index` available and marks the row most recently
    /// used. When part of it is missing, `fill(row)` is called with the cached prefix and must
    /// append the entries from `row.len()` up to `len`.
    pub(super) fn get_or_fill(
        &mut self,
        index: usize,
        len: usize,
        fill: impl FnOnce(&mut Vec<f32>),
    ) {
        if len == 0 {
            return;
        }
        let cached = self.rows[index].len();
        if cached > 0 {
            self.unlink(index);
        }
        if len > cached {
            let more = len - cached;
            let head = self.sentinel();
            while self.free < more {
                let oldest = self.next[head];
                if oldest == head {
                    break;
                }
                self.drop_row(oldest);
            }
            let row = &mut self.rows[index];
            row.reserve_exact(more);
            fill(row);
            // A filler that appended the wrong count would break the accounting: hold it to `len`.
            row.resize(len, 0.0);
            self.free = self.free.saturating_sub(more);
        }
        self.link_last(index);
    }

    /// The cached prefix of row `index`.
    pub(super) fn row(&self, index: usize) -> &[f32] {
        &self.rows[index]
    }

    /// Follows the solver swapping rows `i` and `j`: swaps the two rows and, in every other
    /// cached row, the entries `i` and `j`; a row whose prefix holds only one of the two is
    /// dropped, as libsvm does.
    pub(super) fn swap_index(&mut self, i: usize, j: usize) {
        if i == j {
            return;
        }
        if !self.rows[i].is_empty() {
            self.unlink(i);
        }
        if !self.rows[j].is_empty() {
            self.unlink(j);
        }
        self.rows.swap(i, j);
        if !self.rows[i].is_empty() {
            self.link_last(i);
        }
        if !self.rows[j].is_empty() {
            self.link_last(j);
        }
        let (low, high) = if i < j { (i, j) } else { (j, i) };
        let head = self.sentinel();
        let mut h = self.next[head];
        while h != head {
            let following = self.next[h];
            let len = self.rows[h].len();
            if len > low {
                if len > high {
                    self.rows[h].swap(low, high);
                } else {
                    self.drop_row(h);
                }
            }
            h = following;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fills row `index` up to `len` with `100 index + column`; returns where filling began.
    fn fill(cache: &mut RowCache, index: usize, len: usize) -> usize {
        let mut start = len;
        cache.get_or_fill(index, len, |row| {
            start = row.len();
            row.extend((start..len).map(|k| (index * 100 + k) as f32));
        });
        start
    }

    #[test]
    fn a_cached_prefix_is_extended_not_recomputed() {
        let mut cache = RowCache::new(4, 1 << 20);
        assert_eq!(fill(&mut cache, 1, 2), 0);
        assert_eq!(fill(&mut cache, 1, 4), 2);
        assert_eq!(fill(&mut cache, 1, 3), 3);
        assert_eq!(cache.row(1), &[100.0, 101.0, 102.0, 103.0]);
    }

    #[test]
    fn the_least_recently_used_row_goes_first() {
        // The budget is the floor of two full rows: 8 floats for l = 4.
        let mut cache = RowCache::new(4, 0);
        fill(&mut cache, 0, 4);
        fill(&mut cache, 1, 4);
        fill(&mut cache, 0, 4); // row 0 is now the most recent
        assert_eq!(fill(&mut cache, 2, 4), 0);
        assert_eq!(cache.row(1), &[] as &[f32], "row 1 was the oldest");
        assert_eq!(cache.row(0).len(), 4);
        assert_eq!(cache.row(2).len(), 4);
    }

    #[test]
    fn swapping_moves_rows_and_columns() {
        let mut cache = RowCache::new(4, 1 << 20);
        fill(&mut cache, 0, 4);
        fill(&mut cache, 2, 2);
        fill(&mut cache, 3, 4);
        cache.swap_index(1, 3);
        assert_eq!(cache.row(1), &[300.0, 303.0, 302.0, 301.0]);
        assert_eq!(cache.row(3), &[] as &[f32]);
        assert_eq!(cache.row(0), &[0.0, 3.0, 2.0, 1.0]);
        // Row 2 holds entry 1 but not entry 3: it cannot follow the swap and is dropped.
        assert_eq!(cache.row(2), &[] as &[f32]);
        cache.swap_index(1, 2);
        assert_eq!(cache.row(2), &[300.0, 302.0, 303.0, 301.0]);
        assert_eq!(cache.row(0), &[0.0, 2.0, 3.0, 1.0]);
    }
}
