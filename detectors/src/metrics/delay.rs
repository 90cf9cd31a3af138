//! Detection delay over labelled anomaly episodes.

use super::MetricError;

/// How quickly alerts followed the start of labelled anomaly episodes.
///
/// An episode is a maximal run of consecutive events labelled anomalous. Its delay is the
/// number of events from its first event to its first alert, counted inside the episode (0
/// when its first event is alerted on). An episode with no alert inside it is missed, also
/// when the stream ends while it is still running.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DetectionDelay {
    /// Episodes seen.
    pub episodes: u64,
    /// Delay of each detected episode, in events, in order of the episodes.
    pub delays: Vec<u64>,
    /// Alerts on events labelled normal.
    pub alerts_outside_episodes: u64,
}

impl DetectionDelay {
    /// Episodes with at least one alert.
    pub fn detected(&self) -> u64 {
        self.delays.len() as u64
    }

    /// Episodes without any alert.
    pub fn missed(&self) -> u64 {
        self.episodes - self.detected()
    }

    /// Mean delay over the detected episodes, or `None` when none was detected.
    pub fn mean(&self) -> Option<f64> {
        if self.delays.is_empty() {
            return None;
        }
        let total: u128 = self.delays.iter().map(|&d| u128::from(d)).sum();
        Some(total as f64 / self.delays.len() as f64)
    }

    /// Median delay over the detected episodes (the mean of the two middle ones for an even
    /// count), or `None` when none was detected.
    pub fn median(&self) -> Option<f64> {
        let mut sorted = self.delays.clone();
        sorted.sort_unstable();
        let n = sorted.len();
        match n {
            0 => None,
            _ if n % 2 == 1 => Some(sorted[n / 2] as f64),
            _ => Some((sorted[n / 2 - 1] as f64 + sorted[n / 2] as f64) / 2.0),
        }
    }
}

/// Follows a labelled stream event by event and measures [`DetectionDelay`].
///
/// ```
/// use vigil_detectors::metrics::DelayTracker;
/// let mut t = DelayTracker::new();
/// // Episode of 4 events, first alert on its third: delay 2. Then a missed episode.
/// let labels = [false, true, true, true, true, false, true, false];
/// let alerts = [false, false, false, true, true, false, false, true];
/// for (anomalous, alerted) in labels.into_iter().zip(alerts) {
///     t.update(anomalous, alerted);
/// }
/// let d = t.summary();
/// assert_eq!((d.episodes, d.detected(), d.missed()), (2, 1, 1));
/// assert_eq!(d.delays, [2]);
/// assert_eq!(d.alerts_outside_episodes, 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DelayTracker {
    events: u64,
    /// Index of the first event of the running episode.
    episode_start: Option<u64>,
    alerted_in_episode: bool,
    summary: DetectionDelay,
}

impl DelayTracker {
    /// A tracker that has seen nothing.
    pub fn new() -> DelayTracker {
        DelayTracker::default()
    }

    /// Counts one event: whether it is labelled anomalous and whether it was alerted on.
    pub fn update(&mut self, anomalous: bool, alerted: bool) {
        let index = self.events;
        self.events += 1;
        if !anomalous {
            self.episode_start = None;
            if alerted {
                self.summary.alerts_outside_episodes += 1;
            }
            return;
        }
        let start = match self.episode_start {
            Some(start) => start,
            None => {
                self.summary.episodes += 1;
                self.alerted_in_episode = false;
                self.episode_start = Some(index);
                index
            }
        };
        if alerted && !self.alerted_in_episode {
            self.alerted_in_episode = true;
            self.summary.delays.push(index - start);
        }
    }

    /// Events counted.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The delays so far; an episode still running without an alert counts as missed.
    pub fn summary(&self) -> &DetectionDelay {
        &self.summary
    }

    /// The final delays.
    pub fn into_summary(self) -> DetectionDelay {
        self.summary
    }
}

/// [`DetectionDelay`] of `alerts` (true = alerted) against `labels` (true = anomalous).
///
/// # Errors
/// [`MetricError::LengthMismatch`] when the slices differ in length.
pub fn detection_delay(labels: &[bool], alerts: &[bool]) -> Result<DetectionDelay, MetricError> {
    if labels.len() != alerts.len() {
        return Err(MetricError::LengthMismatch {
            scores: alerts.len(),
            labels: labels.len(),
        });
    }
    let mut tracker = DelayTracker::new();
    for (anomalous, alerted) in labels.iter().zip(alerts) {
        tracker.update(*anomalous, *alerted);
    }
    Ok(tracker.into_summary())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(s: &str) -> Vec<bool> {
        s.bytes().map(|b| b == b'1').collect()
    }

    #[test]
    fn episodes_are_maximal_runs_and_delays_count_from_their_start() {
        // Episodes: [1..4) delay 1, [6..9) delay 0 (two alerts, the first counts),
        // [10..11) missed, [13..16) delay 2 at its last event; the stream ends inside
        // [17..19), which is missed. Alerts outside episodes: at 0 and 12.
        let labels = bits("0111001110100111011");
        let alerts = bits("1010001100001001000");
        let Ok(d) = detection_delay(&labels, &alerts) else {
            panic!("same lengths refused");
        };
        assert_eq!(d.episodes, 5);
        assert_eq!(d.delays, [1, 0, 2]);
        assert_eq!((d.detected(), d.missed()), (3, 2));
        assert_eq!(d.alerts_outside_episodes, 2);
        assert_eq!(d.mean(), Some(1.0));
        assert_eq!(d.median(), Some(1.0));
    }

    #[test]
    fn median_of_an_even_count_and_empty_summaries() {
        let d = DetectionDelay {
            episodes: 4,
            delays: vec![7, 1, 4, 2],
            alerts_outside_episodes: 0,
        };
        assert_eq!(d.median(), Some(3.0));
        assert_eq!(d.mean(), Some(3.5));
        let none = DetectionDelay::default();
        assert_eq!((none.mean(), none.median(), none.missed()), (None, None, 0));
        let Ok(all_missed) = detection_delay(&bits("0110"), &bits("1001")) else {
            panic!("same lengths refused");
        };
        assert_eq!((all_missed.episodes, all_missed.missed()), (1, 1));
        assert_eq!(all_missed.mean(), None);
    }

    #[test]
    fn a_stream_starting_inside_an_episode_and_length_mismatch() {
        let Ok(d) = detection_delay(&bits("1110"), &bits("0011")) else {
            panic!("same lengths refused");
        };
        assert_eq!((d.episodes, d.delays.as_slice()), (1, &[2][..]));
        assert_eq!(d.alerts_outside_episodes, 1);
        assert_eq!(
            detection_delay(&bits("10"), &bits("1")),
            Err(MetricError::LengthMismatch {
                scores: 1,
                labels: 2
            })
        );
    }
}
