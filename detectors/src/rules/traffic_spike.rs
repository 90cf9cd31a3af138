//! Traffic spike: a source sends far more events within the event window than its moving
//! baseline says it usually does.

use super::{
    Episodes, EventView, RULE_SNAPSHOT_VERSION, Rule, RuleConfigError, RuleHit, SourceWindow,
    same_setting,
};
use crate::DetectorError;
use crate::codec::{SnapshotReader, SnapshotWriter};

/// The smallest baseline the ratio is taken against, in events per window, so that a source
/// that is usually quiet (a baseline near zero) gives a finite, meaningful ratio.
const BASELINE_FLOOR: f64 = 1.0;

/// Configuration of the [`TrafficSpike`] rule.
#[derive(Debug, Clone, PartialEq)]
pub struct TrafficSpikeConfig {
    /// Events from one source within the event window below which no spike is reported,
    /// whatever the baseline (default 200).
    pub min_events: u32,
    /// How many times its moving baseline a source's window count must reach (default 5.0).
    pub factor: f64,
}

impl Default for TrafficSpikeConfig {
    fn default() -> Self {
        TrafficSpikeConfig {
            min_events: 200,
            factor: 5.0,
        }
    }
}

impl TrafficSpikeConfig {
    /// Checks the thresholds; the error names the field and the value.
    pub fn validate(&self) -> Result<(), RuleConfigError> {
        RuleConfigError::unless(
            self.min_events >= 1,
            "traffic_spike.min_events",
            "must be at least 1",
            &self.min_events,
        )?;
        RuleConfigError::unless(
            self.factor.is_finite() && self.factor >= 1.0,
            "traffic_spike.factor",
            "must be a finite number of at least 1.0",
            &self.factor,
        )
    }

    /// The window count at which a source with moving baseline `baseline` is in a spike:
    /// `max(min_events, ceil(factor * max(baseline, 1.0)))`. The baseline is floored at one
    /// event per window so that a usually quiet source gives a finite, meaningful ratio.
    pub fn threshold(&self, baseline: f64) -> u32 {
        let baseline = if baseline.is_finite() {
            baseline.max(BASELINE_FLOOR)
        } else {
            BASELINE_FLOOR
        };
        let relative = (self.factor * baseline).ceil();
        // `as` saturates for values beyond u32, which is the intent: such a baseline cannot spike.
        let relative = if relative >= f64::from(u32::MAX) {
            u32::MAX
        } else {
            relative as u32
        };
        relative.max(self.min_events)
    }
}

/// Fires when a source's events within the event window reach both `min_events` and `factor`
/// times its moving baseline (see [`TrafficSpikeConfig::threshold`]), and once more in the same
/// episode when they reach the [escalation level](super::escalation_level) of that threshold
/// (five times it, strength 0.99).
///
/// The baseline comes with the window ([`SourceWindow::baseline_events`]): the feature step
/// keeps, per source, an exponentially weighted moving average of its per-window event counts,
/// seeded for new sources from a global per-source average, into which a window is folded at
/// most at this rule's spike threshold (so a spike raises its source's bar only gradually).
/// Every counted event is an observation; the episode ends at the first one whose window count
/// is below the threshold.
///
/// # Escalation follows the moving threshold
/// The threshold is recomputed from the baseline at every observation, and so is the escalation
/// level: an episode escalates when its count reaches five times the threshold *as it stands
/// then*, not as it stood when the episode opened. This is the same bar the episode itself is
/// held to (it ends when the count falls below the current threshold), so the strength of the
/// escalated hit is the strength of the count against the threshold in force. When a spike
/// lasts past a tumbling-window boundary the baseline absorbs the spike gradually (capped at the
/// threshold, see above), the threshold and the escalation level rise with it, and only an
/// attack that keeps outgrowing them escalates; one whose level was absorbed ends quietly.
///
/// ```
/// use vigil_detectors::{EventView, Rule, SourceId, SourceWindow, TrafficSpike, TrafficSpikeConfig};
/// let mut rule = TrafficSpike::new(TrafficSpikeConfig { min_events: 200, factor: 5.0 })?;
/// let ip = "2001:db8:1::17".parse().unwrap();
/// let mut fired = Vec::new();
/// for count in 1..=1200u32 {
///     let event = EventView {
///         time_micros: i64::from(count) * 50_000,
///         src_ip: Some(ip),
///         source: Some(SourceId::new(ip, 64)),
///         ..EventView::default()
///     };
///     let window = SourceWindow {
///         tracked: true,
///         counted: true,
///         events: count,
///         baseline_events: 40.0,
///         event_window_secs: 30,
///         ..SourceWindow::default()
///     };
///     if let Some(hit) = rule.observe(&event, &window) {
///         fired.push(hit.explanation);
///     }
/// }
/// assert_eq!(fired, vec![
///     "200 events in 30 s from 2001:db8:1::/64, 5.0x its moving baseline of 40 (threshold 5.0x, at least 200)",
///     "1000 events in 30 s from 2001:db8:1::/64, 25.0x its moving baseline of 40 (threshold 200 events, 5.0x: escalated)",
/// ]);
/// # Ok::<(), vigil_detectors::RuleConfigError>(())
/// ```
#[derive(Debug)]
pub struct TrafficSpike {
    config: TrafficSpikeConfig,
    episodes: Episodes,
}

impl TrafficSpike {
    /// The rule's name.
    pub const NAME: &'static str = "traffic_spike";

    /// Builds the rule after validating its configuration.
    pub fn new(config: TrafficSpikeConfig) -> Result<TrafficSpike, RuleConfigError> {
        config.validate()?;
        Ok(TrafficSpike {
            config,
            episodes: Episodes::new(),
        })
    }

    /// The rule with an episode table of at most `capacity` sources (tests of the full table).
    #[cfg(test)]
    pub(crate) fn with_capacity_limit(mut self, capacity: usize) -> TrafficSpike {
        self.episodes = Episodes::with_capacity_limit(capacity);
        self
    }

    /// The rule's configuration.
    pub fn config(&self) -> &TrafficSpikeConfig {
        &self.config
    }
}

impl Rule for TrafficSpike {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn observe(&mut self, event: &EventView, window: &SourceWindow) -> Option<RuleHit> {
        if !(window.tracked && window.counted) {
            return None;
        }
        // Each counted event adds one to the window count (the threshold may move, in which
        // case the full-table fallback can miss a crossing; the table is rarely full).
        let step = self.episodes.track(
            event,
            window.events,
            self.config.threshold(window.baseline_events),
            true,
            window.event_window_secs,
        )?;
        let baseline = if window.baseline_events.is_finite() {
            window.baseline_events.max(BASELINE_FLOOR)
        } else {
            BASELINE_FLOOR
        };
        let ratio = f64::from(step.count) / baseline;
        let baseline_text = if baseline >= 10.0 {
            format!("{baseline:.0}")
        } else {
            format!("{baseline:.1}")
        };
        let measured = format!(
            "{}, {ratio:.1}x its moving baseline of {baseline_text}",
            step.measured("events")
        );
        let explanation = if step.escalated {
            format!(
                "{measured} (threshold {} events, {})",
                step.threshold,
                step.escalation()
            )
        } else {
            format!(
                "{measured} (threshold {:.1}x, at least {})",
                self.config.factor, self.config.min_events
            )
        };
        Some(step.hit(Self::NAME, explanation))
    }

    fn snapshot(&self) -> Vec<u8> {
        let mut w = SnapshotWriter::new(SNAPSHOT_TAG, RULE_SNAPSHOT_VERSION);
        w.u64(u64::from(self.config.min_events));
        w.f64(self.config.factor);
        self.episodes.write(&mut w);
        w.finish()
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), DetectorError> {
        let mut r = SnapshotReader::new(Self::NAME, bytes, SNAPSHOT_TAG, RULE_SNAPSHOT_VERSION)?;
        same_setting(
            Self::NAME,
            "traffic_spike.min_events",
            r.u64()?,
            u64::from(self.config.min_events),
        )?;
        // A valid factor is finite and at least 1, where equal values have equal bits.
        same_setting(
            Self::NAME,
            "traffic_spike.factor",
            r.f64()?,
            self.config.factor,
        )?;
        let episodes = self.episodes.read(Self::NAME, &mut r)?;
        r.end()?;
        self.episodes = episodes;
        Ok(())
    }
}

/// Tag of this rule's snapshot.
const SNAPSHOT_TAG: [u8; 4] = *b"RTSP";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::{event, hits_over, window};

    fn events(count: u32, baseline: f64) -> SourceWindow {
        SourceWindow {
            events: count,
            baseline_events: baseline,
            ..window()
        }
    }

    #[test]
    fn threshold_is_the_larger_of_minimum_and_relative() {
        let c = TrafficSpikeConfig::default();
        assert_eq!(c.threshold(0.0), 200);
        assert_eq!(c.threshold(40.0), 200);
        assert_eq!(c.threshold(96.0), 480);
        assert_eq!(c.threshold(96.1), 481);
        assert_eq!(c.threshold(f64::NAN), 200);
        assert_eq!(c.threshold(1e300), u32::MAX);
    }

    #[test]
    fn fires_once_when_both_conditions_hold() {
        let mut rule = TrafficSpike::new(TrafficSpikeConfig::default()).unwrap();
        let hits = hits_over(&mut rule, 1..=2399, |n| {
            (event("2001:db8:1::7", 0, None, false), events(n, 96.0))
        });
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].0, 480);
        assert_eq!(
            hits[0].1.explanation,
            "480 events in 30 s from 2001:db8:1::/64, 5.0x its moving baseline of 96 (threshold 5.0x, at least 200)"
        );
        assert!((hits[0].1.strength - 0.95).abs() < 1e-12);
    }

    #[test]
    fn escalates_once_at_five_times_the_threshold_in_force() {
        let mut rule = TrafficSpike::new(TrafficSpikeConfig::default()).unwrap();
        let ip = "192.0.2.90";
        // Threshold 480 (baseline 96): opens at 480, escalates at 2400, then stays quiet.
        let hits = hits_over(&mut rule, 1..=6000, |n| {
            (event(ip, 0, None, false), events(n, 96.0))
        });
        let at: Vec<u32> = hits.iter().map(|(n, _)| *n).collect();
        assert_eq!(at, vec![480, 2400]);
        assert!(hits[1].1.strength >= 0.99);
        assert_eq!(
            hits[1].1.explanation,
            "2400 events in 30 s from 192.0.2.90, 25.0x its moving baseline of 96 (threshold 480 events, 5.0x: escalated)"
        );
        // The episode ends below the threshold; the next one opens and escalates again.
        let again: Vec<u32> = [100u32, 480, 2399, 2400, 2401]
            .iter()
            .filter_map(|n| {
                rule.observe(&event(ip, 1, None, false), &events(*n, 96.0))
                    .map(|_| *n)
            })
            .collect();
        assert_eq!(again, vec![480, 2400]);
    }

    #[test]
    fn the_escalation_level_moves_with_the_baseline() {
        let mut rule = TrafficSpike::new(TrafficSpikeConfig {
            min_events: 10,
            factor: 2.0,
        })
        .unwrap();
        let ip = "192.0.2.91";
        // Baseline 20: threshold 40, escalation at 200. The count reaches 150 without escalating.
        assert!(
            rule.observe(&event(ip, 0, None, false), &events(40, 20.0))
                .is_some()
        );
        assert!(
            rule.observe(&event(ip, 1, None, false), &events(150, 20.0))
                .is_none()
        );
        // A new window with a lower baseline of 12: threshold 24, escalation at 120.
        let hit = rule.observe(&event(ip, 2, None, false), &events(151, 12.0));
        assert_eq!(
            hit.map(|h| h.explanation),
            Some(
                "151 events in 30 s from 192.0.2.91, 12.6x its moving baseline of 12 (threshold 24 events, 6.3x: escalated)"
                    .to_string()
            )
        );
        // A rising baseline does not undo the escalation or fire again.
        assert!(
            rule.observe(&event(ip, 3, None, false), &events(152, 30.0))
                .is_none()
        );
    }

    #[test]
    fn a_baseline_drop_mid_window_opens_the_episode_above_the_threshold() {
        // A new event window starts: the baseline falls, the threshold with it, and the
        // count already exceeds it. The rule fires once, with a strength above 0.95.
        let mut rule = TrafficSpike::new(TrafficSpikeConfig {
            min_events: 10,
            factor: 3.0,
        })
        .unwrap();
        let ip = "192.0.2.77";
        assert!(
            rule.observe(&event(ip, 0, None, false), &events(50, 20.0))
                .is_none()
        );
        let hit = rule.observe(&event(ip, 1, None, false), &events(51, 8.0));
        let hit = hit.map(|h| (h.strength, h.explanation));
        let (strength, text) = hit.unwrap_or_default();
        assert!((strength - (1.0 - 0.05 * 24.0 / 51.0)).abs() < 1e-12);
        assert_eq!(
            text,
            "51 events in 30 s from 192.0.2.77, 6.4x its moving baseline of 8.0 (threshold 3.0x, at least 10)"
        );
        assert!(
            rule.observe(&event(ip, 2, None, false), &events(52, 8.0))
                .is_none()
        );
    }

    #[test]
    fn rearms_below_and_fires_again() {
        let mut rule = TrafficSpike::new(TrafficSpikeConfig {
            min_events: 5,
            factor: 2.0,
        })
        .unwrap();
        let ip = "192.0.2.78";
        let seq = [4, 5, 6, 7, 3, 4, 5, 6];
        let fired: Vec<usize> = seq
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                rule.observe(&event(ip, i as i64, None, false), &events(*n, 0.5))
                    .map(|_| i)
            })
            .collect();
        assert_eq!(fired, vec![1, 6]);
    }

    #[test]
    fn rejects_bad_factor_and_minimum_by_name() {
        let err = TrafficSpike::new(TrafficSpikeConfig {
            min_events: 200,
            factor: 0.5,
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "traffic_spike.factor must be a finite number of at least 1.0, got 0.5"
        );
        let err = TrafficSpike::new(TrafficSpikeConfig {
            min_events: 200,
            factor: f64::NAN,
        })
        .unwrap_err();
        assert_eq!(err.field, "traffic_spike.factor");
        let err = TrafficSpike::new(TrafficSpikeConfig {
            min_events: 0,
            factor: 5.0,
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "traffic_spike.min_events must be at least 1, got 0"
        );
    }
}
