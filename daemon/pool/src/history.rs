//! The bounded history of recent events: features, alert decision, feedback, and what every
//! active model scored. Feedback turns into errors through it, fresh models are trained on
//! its newest part, and challengers and retired models are compared on it.

/// What one model scored for one event. `model` 0 means no model was in the slot.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct SlotScore {
    pub(crate) model: u64,
    pub(crate) raw: f64,
    pub(crate) calibrated: f64,
}

/// A tri-state flag stored in one byte: unknown, false, true.
pub(crate) fn flag_code(flag: Option<bool>) -> u8 {
    match flag {
        None => 0,
        Some(false) => 1,
        Some(true) => 2,
    }
}

pub(crate) fn flag_from_code(code: u8) -> Option<bool> {
    match code {
        1 => Some(false),
        2 => Some(true),
        _ => None,
    }
}

/// Ring buffer of the last `capacity` events, oldest first by logical index.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct History {
    capacity: usize,
    dim: usize,
    slots: usize,
    /// Physical index of the oldest entry once the buffer is full.
    head: usize,
    seqs: Vec<u64>,
    rows: Vec<f64>,
    /// `flag_code` of the alert decision (unknown until `learn`).
    alerted: Vec<u8>,
    /// `flag_code` of the feedback (anomalous or not), unknown until it arrives.
    labels: Vec<u8>,
    scores: Vec<SlotScore>,
}

impl History {
    pub(crate) fn new(capacity: usize, dim: usize, slots: usize) -> History {
        History {
            capacity,
            dim,
            slots,
            head: 0,
            seqs: Vec::new(),
            rows: Vec::new(),
            alerted: Vec::new(),
            labels: Vec::new(),
            scores: Vec::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.seqs.len()
    }

    fn physical(&self, logical: usize) -> usize {
        if self.seqs.len() < self.capacity {
            logical
        } else {
            (self.head + logical) % self.capacity
        }
    }

    /// Appends an event with no alert decision and no feedback yet, evicting the oldest when
    /// full; returns its logical index.
    pub(crate) fn push(&mut self, seq: u64, row: &[f64], scores: &[SlotScore]) -> usize {
        if self.seqs.len() < self.capacity {
            self.seqs.push(seq);
            self.rows.extend_from_slice(row);
            self.alerted.push(0);
            self.labels.push(0);
            self.scores.extend_from_slice(scores);
            return self.seqs.len() - 1;
        }
        let p = self.head;
        self.head = (self.head + 1) % self.capacity;
        self.seqs[p] = seq;
        self.rows[p * self.dim..(p + 1) * self.dim].copy_from_slice(row);
        self.alerted[p] = 0;
        self.labels[p] = 0;
        self.scores[p * self.slots..(p + 1) * self.slots].copy_from_slice(scores);
        self.capacity - 1
    }

    pub(crate) fn seq(&self, i: usize) -> u64 {
        self.seqs[self.physical(i)]
    }

    pub(crate) fn row(&self, i: usize) -> &[f64] {
        let p = self.physical(i);
        &self.rows[p * self.dim..(p + 1) * self.dim]
    }

    pub(crate) fn alerted(&self, i: usize) -> Option<bool> {
        flag_from_code(self.alerted[self.physical(i)])
    }

    pub(crate) fn set_alerted(&mut self, i: usize, alerted: bool) {
        let p = self.physical(i);
        self.alerted[p] = flag_code(Some(alerted));
    }

    pub(crate) fn label(&self, i: usize) -> Option<bool> {
        flag_from_code(self.labels[self.physical(i)])
    }

    pub(crate) fn set_label(&mut self, i: usize, anomalous: bool) {
        let p = self.physical(i);
        self.labels[p] = flag_code(Some(anomalous));
    }

    pub(crate) fn scores(&self, i: usize) -> &[SlotScore] {
        let p = self.physical(i);
        &self.scores[p * self.slots..(p + 1) * self.slots]
    }

    /// Whether event `i` counts as normal traffic: feedback says so, or without feedback,
    /// it was not alerted on. `None` while neither is known.
    pub(crate) fn normal(&self, i: usize) -> Option<bool> {
        match self.label(i) {
            Some(anomalous) => Some(!anomalous),
            None => self.alerted(i).map(|alerted| !alerted),
        }
    }

    /// Logical index of the event with sequence number `seq`.
    pub(crate) fn find(&self, seq: u64) -> Option<usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.seq(mid) < seq {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        (lo < self.len() && self.seq(lo) == seq).then_some(lo)
    }

    /// Logical index of the first event with a sequence number above `seq`.
    pub(crate) fn first_after(&self, seq: u64) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.seq(mid) <= seq {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Every entry, oldest first, as flat arrays: for snapshots.
    pub(crate) fn parts(&self) -> HistoryParts {
        let n = self.len();
        let mut parts = HistoryParts {
            seqs: Vec::with_capacity(n),
            rows: Vec::with_capacity(n * self.dim),
            flags: Vec::with_capacity(n),
            scores: Vec::with_capacity(n * self.slots),
        };
        for i in 0..n {
            parts.seqs.push(self.seq(i));
            parts.rows.extend_from_slice(self.row(i));
            let p = self.physical(i);
            parts
                .flags
                .push(u64::from(self.alerted[p]) | (u64::from(self.labels[p]) << 8));
            parts.scores.extend_from_slice(self.scores(i));
        }
        parts
    }

    /// Rebuilds a history from [`parts`](Self::parts); the caller has checked the lengths.
    pub(crate) fn from_parts(
        capacity: usize,
        dim: usize,
        slots: usize,
        parts: HistoryParts,
    ) -> History {
        History {
            capacity,
            dim,
            slots,
            head: 0,
            alerted: parts.flags.iter().map(|f| (f & 0xff) as u8).collect(),
            labels: parts
                .flags
                .iter()
                .map(|f| ((f >> 8) & 0xff) as u8)
                .collect(),
            seqs: parts.seqs,
            rows: parts.rows,
            scores: parts.scores,
        }
    }
}

/// A history laid out oldest first.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HistoryParts {
    pub(crate) seqs: Vec<u64>,
    pub(crate) rows: Vec<f64>,
    /// Alert flag code in the low byte, label flag code in the next.
    pub(crate) flags: Vec<u64>,
    pub(crate) scores: Vec<SlotScore>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(model: u64) -> [SlotScore; 1] {
        [SlotScore {
            model,
            raw: model as f64,
            calibrated: 0.5,
        }]
    }

    #[test]
    fn ring_keeps_the_newest_entries_in_order_and_finds_them() {
        let mut h = History::new(3, 2, 1);
        for seq in [10u64, 20, 30, 40, 50] {
            let i = h.push(seq, &[seq as f64, -(seq as f64)], &score(seq));
            h.set_alerted(i, seq == 40);
        }
        assert_eq!(h.len(), 3);
        let seqs: Vec<u64> = (0..3).map(|i| h.seq(i)).collect();
        assert_eq!(seqs, [30, 40, 50]);
        assert_eq!(h.row(1), &[40.0, -40.0]);
        assert_eq!(h.scores(2)[0].model, 50);
        assert_eq!(h.find(40), Some(1));
        assert_eq!(h.find(20), None);
        assert_eq!(h.find(45), None);
        assert_eq!(h.first_after(35), 1);
        assert_eq!(h.first_after(50), 3);
        assert_eq!(h.first_after(0), 0);
        assert_eq!(h.alerted(1), Some(true));
        assert_eq!(h.normal(1), Some(false));
        h.set_label(1, false);
        assert_eq!(h.normal(1), Some(true), "feedback overrides the alert");
    }

    #[test]
    fn parts_round_trip() {
        let mut h = History::new(4, 1, 1);
        for seq in 0..7u64 {
            let i = h.push(seq, &[seq as f64], &score(seq));
            if seq % 2 == 0 {
                h.set_label(i, seq % 4 == 0);
            }
            h.set_alerted(i, seq == 5);
        }
        let back = History::from_parts(4, 1, 1, h.parts());
        for i in 0..4 {
            assert_eq!(back.seq(i), h.seq(i));
            assert_eq!(back.row(i), h.row(i));
            assert_eq!(back.alerted(i), h.alerted(i));
            assert_eq!(back.label(i), h.label(i));
            assert_eq!(back.scores(i), h.scores(i));
        }
        assert_eq!(back.parts(), h.parts());
    }
}
