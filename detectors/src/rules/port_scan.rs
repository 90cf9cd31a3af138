//! Port scan: many distinct destination ports from one source within the port window.

use super::{
    Episodes, EventView, Rule, RuleConfigError, RuleHit, SourceWindow, threshold_rule_restore,
    threshold_rule_snapshot,
};
use crate::DetectorError;

/// Configuration of the [`PortScan`] rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortScanConfig {
    /// Distinct destination ports from one source within the port window that make an
    /// episode (default 25).
    pub min_distinct_ports: u32,
}

impl Default for PortScanConfig {
    fn default() -> Self {
        PortScanConfig {
            min_distinct_ports: 25,
        }
    }
}

impl PortScanConfig {
    /// Checks the thresholds; the error names the field and the value.
    pub fn validate(&self) -> Result<(), RuleConfigError> {
        RuleConfigError::unless(
            self.min_distinct_ports >= 2,
            "port_scan.min_distinct_ports",
            "must be at least 2",
            &self.min_distinct_ports,
        )
    }
}

/// Fires when the distinct destination ports a source reached within the port window reach
/// `min_distinct_ports`, and once more in the same episode when they reach the [escalation
/// level](super::escalation_level) (five times the threshold, strength 0.99). Observations are
/// counted events that carry a destination port; the episode ends at the first one that sees
/// fewer distinct ports than the threshold.
///
/// ```
/// use vigil_detectors::{EventView, PortScan, PortScanConfig, Rule, SourceId, SourceWindow};
/// let mut rule = PortScan::new(PortScanConfig { min_distinct_ports: 4 })?;
/// let ip = "198.51.100.4".parse().unwrap();
/// let mut fired = Vec::new();
/// for port in 1..=30u16 {
///     let event = EventView {
///         time_micros: i64::from(port) * 100_000,
///         src_ip: Some(ip),
///         source: Some(SourceId::new(ip, 64)),
///         dst_port: Some(port),
///         ..EventView::default()
///     };
///     let window = SourceWindow {
///         tracked: true,
///         counted: true,
///         distinct_dst_ports: u32::from(port),
///         port_new_in_window: true,
///         port_window_secs: 60,
///         ..SourceWindow::default()
///     };
///     if let Some(hit) = rule.observe(&event, &window) {
///         fired.push(hit.explanation);
///     }
/// }
/// assert_eq!(fired, vec![
///     "4 distinct destination ports in 60 s from 198.51.100.4 (threshold 4)",
///     "20 distinct destination ports in 60 s from 198.51.100.4 (threshold 4, 5.0x: escalated)",
/// ]);
/// # Ok::<(), vigil_detectors::RuleConfigError>(())
/// ```
#[derive(Debug)]
pub struct PortScan {
    config: PortScanConfig,
    episodes: Episodes,
}

impl PortScan {
    /// The rule's name.
    pub const NAME: &'static str = "port_scan";

    /// Builds the rule after validating its configuration.
    pub fn new(config: PortScanConfig) -> Result<PortScan, RuleConfigError> {
        config.validate()?;
        Ok(PortScan {
            config,
            episodes: Episodes::new(),
        })
    }

    /// The rule with an episode table of at most `capacity` sources (tests of the full table).
    #[cfg(test)]
    pub(crate) fn with_capacity_limit(mut self, capacity: usize) -> PortScan {
        self.episodes = Episodes::with_capacity_limit(capacity);
        self
    }

    /// The rule's configuration.
    pub fn config(&self) -> &PortScanConfig {
        &self.config
    }
}

impl Rule for PortScan {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn observe(&mut self, event: &EventView, window: &SourceWindow) -> Option<RuleHit> {
        if event.dst_port.is_none() || !(window.tracked && window.counted) {
            return None;
        }
        // Only a port new to the window adds one to the distinct count.
        let step = self.episodes.track(
            event,
            window.distinct_dst_ports,
            self.config.min_distinct_ports,
            window.port_new_in_window,
            window.port_window_secs,
        )?;
        let explanation = format!(
            "{} {}",
            step.measured("distinct destination ports"),
            step.against_threshold()
        );
        Some(step.hit(Self::NAME, explanation))
    }

    fn snapshot(&self) -> Vec<u8> {
        threshold_rule_snapshot(SNAPSHOT_TAG, self.config.min_distinct_ports, &self.episodes)
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), DetectorError> {
        self.episodes = threshold_rule_restore(
            Self::NAME,
            SNAPSHOT_TAG,
            "port_scan.min_distinct_ports",
            self.config.min_distinct_ports,
            &self.episodes,
            bytes,
        )?;
        Ok(())
    }
}

/// Tag of this rule's snapshot.
const SNAPSHOT_TAG: [u8; 4] = *b"RPSC";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::{event, hits_over, window};

    fn ports(distinct: u32, new: bool) -> SourceWindow {
        SourceWindow {
            distinct_dst_ports: distinct,
            port_new_in_window: new,
            ..window()
        }
    }

    #[test]
    fn fires_once_at_the_crossing_with_the_numbers() {
        let mut rule = PortScan::new(PortScanConfig::default()).unwrap();
        let hits = hits_over(&mut rule, 1..=41, |n| {
            let port = Some(1000 + n as u16);
            (event("198.51.100.4", 0, port, false), ports(n, true))
        });
        // Repeated ports keep the window above the threshold: still the same episode.
        for _ in 0..10 {
            assert!(
                rule.observe(
                    &event("198.51.100.4", 1, Some(1001), false),
                    &ports(41, false)
                )
                .is_none()
            );
        }
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].0, 25);
        assert_eq!(
            hits[0].1.explanation,
            "25 distinct destination ports in 60 s from 198.51.100.4 (threshold 25)"
        );
        assert!((hits[0].1.strength - 0.95).abs() < 1e-12);
    }

    #[test]
    fn a_scan_of_many_ports_escalates_once() {
        let mut rule = PortScan::new(PortScanConfig::default()).unwrap();
        let hits = hits_over(&mut rule, 1..=1000, |n| {
            let port = Some(n as u16);
            (event("198.51.100.5", 0, port, false), ports(n, true))
        });
        let at: Vec<u32> = hits.iter().map(|(n, _)| *n).collect();
        assert_eq!(at, vec![25, 125]);
        assert!(hits[1].1.strength >= 0.99);
        assert_eq!(
            hits[1].1.explanation,
            "125 distinct destination ports in 60 s from 198.51.100.5 (threshold 25, 5.0x: escalated)"
        );
    }

    #[test]
    fn rearms_after_the_port_window_drains() {
        let mut rule = PortScan::new(PortScanConfig {
            min_distinct_ports: 3,
        })
        .unwrap();
        let ip = "198.51.100.9";
        assert!(
            rule.observe(&event(ip, 0, Some(1), false), &ports(3, true))
                .is_some()
        );
        assert!(
            rule.observe(&event(ip, 1, Some(2), false), &ports(4, true))
                .is_none()
        );
        assert!(
            rule.observe(&event(ip, 100, Some(3), false), &ports(1, true))
                .is_none()
        );
        assert!(
            rule.observe(&event(ip, 101, Some(4), false), &ports(2, true))
                .is_none()
        );
        assert!(
            rule.observe(&event(ip, 102, Some(5), false), &ports(3, true))
                .is_some()
        );
    }

    #[test]
    fn events_without_port_or_uncounted_are_not_observations() {
        let mut rule = PortScan::new(PortScanConfig {
            min_distinct_ports: 2,
        })
        .unwrap();
        assert!(
            rule.observe(&event("192.0.2.8", 0, None, false), &ports(2, true))
                .is_none()
        );
        let late = SourceWindow {
            counted: false,
            late: true,
            ..ports(2, true)
        };
        assert!(
            rule.observe(&event("192.0.2.8", 0, Some(80), false), &late)
                .is_none()
        );
        assert!(
            rule.observe(&event("192.0.2.8", 0, Some(80), false), &ports(2, true))
                .is_some()
        );
    }

    #[test]
    fn rejects_threshold_below_two() {
        let err = PortScan::new(PortScanConfig {
            min_distinct_ports: 1,
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "port_scan.min_distinct_ports must be at least 2, got 1"
        );
    }
}
