//! Brute force: many failed logins from one source within the login window.

use super::{
    Episodes, EventView, Rule, RuleConfigError, RuleHit, SourceWindow, threshold_rule_restore,
    threshold_rule_snapshot,
};
use crate::DetectorError;

/// Configuration of the [`BruteForce`] rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BruteForceConfig {
    /// Failed logins from one source within the login window that make an episode (default 20).
    pub min_failed_logins: u32,
}

impl Default for BruteForceConfig {
    fn default() -> Self {
        BruteForceConfig {
            min_failed_logins: 20,
        }
    }
}

impl BruteForceConfig {
    /// Checks the thresholds; the error names the field and the value.
    pub fn validate(&self) -> Result<(), RuleConfigError> {
        RuleConfigError::unless(
            self.min_failed_logins >= 1,
            "brute_force.min_failed_logins",
            "must be at least 1",
            &self.min_failed_logins,
        )
    }
}

/// Fires when a source's failed logins within the login window reach `min_failed_logins`,
/// and once more in the same episode when they reach the [escalation
/// level](super::escalation_level) (five times the threshold, strength 0.99). Only failed-login
/// events that were counted into the windows are observations; the episode ends at the first
/// one that sees the window below the threshold.
///
/// ```
/// use vigil_detectors::{BruteForce, BruteForceConfig, EventView, Rule, SourceId, SourceWindow};
/// let mut rule = BruteForce::new(BruteForceConfig { min_failed_logins: 3 })?;
/// let ip = "203.0.113.7".parse().unwrap();
/// let mut fired = Vec::new();
/// for n in 1..=40u32 {
///     let event = EventView {
///         time_micros: i64::from(n) * 1_000_000,
///         src_ip: Some(ip),
///         source: Some(SourceId::new(ip, 64)),
///         dst_port: Some(22),
///         failed_login: true,
///         login: true,
///         ..EventView::default()
///     };
///     let window = SourceWindow {
///         tracked: true,
///         counted: true,
///         failed_logins: n,
///         login_window_secs: 30,
///         ..SourceWindow::default()
///     };
///     if let Some(hit) = rule.observe(&event, &window) {
///         fired.push(hit.explanation);
///     }
/// }
/// assert_eq!(fired, vec![
///     "3 failed logins in 30 s from 203.0.113.7 (threshold 3)",
///     "15 failed logins in 30 s from 203.0.113.7 (threshold 3, 5.0x: escalated)",
/// ]);
/// # Ok::<(), vigil_detectors::RuleConfigError>(())
/// ```
#[derive(Debug)]
pub struct BruteForce {
    config: BruteForceConfig,
    episodes: Episodes,
}

impl BruteForce {
    /// The rule's name.
    pub const NAME: &'static str = "brute_force";

    /// Builds the rule after validating its configuration.
    pub fn new(config: BruteForceConfig) -> Result<BruteForce, RuleConfigError> {
        config.validate()?;
        Ok(BruteForce {
            config,
            episodes: Episodes::new(),
        })
    }

    /// The rule with an episode table of at most `capacity` sources (tests of the full table).
    #[cfg(test)]
    pub(crate) fn with_capacity_limit(mut self, capacity: usize) -> BruteForce {
        self.episodes = Episodes::with_capacity_limit(capacity);
        self
    }

    /// The rule's configuration.
    pub fn config(&self) -> &BruteForceConfig {
        &self.config
    }
}

impl Rule for BruteForce {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn observe(&mut self, event: &EventView, window: &SourceWindow) -> Option<RuleHit> {
        if !(event.failed_login && window.tracked && window.counted) {
            return None;
        }
        // Each counted failed login adds one to the count, so reaching a level is crossing it.
        let step = self.episodes.track(
            event,
            window.failed_logins,
            self.config.min_failed_logins,
            true,
            window.login_window_secs,
        )?;
        let noun = if step.count == 1 {
            "failed login"
        } else {
            "failed logins"
        };
        let explanation = format!("{} {}", step.measured(noun), step.against_threshold());
        Some(step.hit(Self::NAME, explanation))
    }

    fn snapshot(&self) -> Vec<u8> {
        threshold_rule_snapshot(SNAPSHOT_TAG, self.config.min_failed_logins, &self.episodes)
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), DetectorError> {
        self.episodes = threshold_rule_restore(
            Self::NAME,
            SNAPSHOT_TAG,
            "brute_force.min_failed_logins",
            self.config.min_failed_logins,
            &self.episodes,
            bytes,
        )?;
        Ok(())
    }
}

/// Tag of this rule's snapshot.
const SNAPSHOT_TAG: [u8; 4] = *b"RBRF";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::{event, hits_over, window};

    fn failed(count: u32) -> SourceWindow {
        SourceWindow {
            failed_logins: count,
            ..window()
        }
    }

    #[test]
    fn fires_exactly_at_the_crossing_and_once_per_episode() {
        let mut rule = BruteForce::new(BruteForceConfig::default()).unwrap();
        let hits = hits_over(&mut rule, 1..=60, |n| {
            (
                event("203.0.113.7", i64::from(n), Some(22), true),
                failed(n),
            )
        });
        assert_eq!(hits.len(), 1);
        let (at, hit) = &hits[0];
        assert_eq!(*at, 20);
        assert_eq!(hit.rule, "brute_force");
        assert!((hit.strength - 0.95).abs() < 1e-12);
        assert_eq!(
            hit.explanation,
            "20 failed logins in 30 s from 203.0.113.7 (threshold 20)"
        );
    }

    #[test]
    fn escalates_once_at_five_times_the_threshold_and_never_a_third_time() {
        let mut rule = BruteForce::new(BruteForceConfig::default()).unwrap();
        let hits = hits_over(&mut rule, 1..=400, |n| {
            (
                event("203.0.113.7", i64::from(n), Some(22), true),
                failed(n),
            )
        });
        let at: Vec<u32> = hits.iter().map(|(n, _)| *n).collect();
        assert_eq!(at, vec![20, 100]);
        let escalated = &hits[1].1;
        assert_eq!(escalated.rule, "brute_force");
        assert!(escalated.strength >= 0.99, "{}", escalated.strength);
        assert!((escalated.strength - 0.99).abs() < 1e-12);
        assert_eq!(
            escalated.explanation,
            "100 failed logins in 30 s from 203.0.113.7 (threshold 20, 5.0x: escalated)"
        );
    }

    #[test]
    fn escalation_rearms_with_the_episode() {
        let mut rule = BruteForce::new(BruteForceConfig {
            min_failed_logins: 2,
        })
        .unwrap();
        let ip = "192.0.2.11";
        // Up to 12 (escalation at 10), drained to 1, then up to 10 again.
        let counts: Vec<u32> = (1..=12).chain(1..=10).collect();
        let fired: Vec<(u32, bool)> = counts
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                rule.observe(&event(ip, i as i64, Some(22), true), &failed(*c))
                    .map(|h| (*c, h.explanation.ends_with("escalated)")))
            })
            .collect();
        assert_eq!(fired, vec![(2, false), (10, true), (2, false), (10, true)]);
    }

    #[test]
    fn a_jump_past_the_level_escalates_with_the_count_it_saw() {
        // The rule does not rely on counts rising one by one: it escalates at the first
        // observation at or above the level, with the strength of the count it saw.
        let mut rule = BruteForce::new(BruteForceConfig {
            min_failed_logins: 4,
        })
        .unwrap();
        let ip = "192.0.2.12";
        assert!(
            rule.observe(&event(ip, 0, Some(22), true), &failed(4))
                .is_some()
        );
        assert!(
            rule.observe(&event(ip, 1, Some(22), true), &failed(19))
                .is_none()
        );
        let hit = rule.observe(&event(ip, 2, Some(22), true), &failed(23));
        let hit = hit.map(|h| (h.strength, h.explanation)).unwrap_or_default();
        assert!((hit.0 - (1.0 - 0.05 * 4.0 / 23.0)).abs() < 1e-12);
        assert_eq!(
            hit.1,
            "23 failed logins in 30 s from 192.0.2.12 (threshold 4, 5.8x: escalated)"
        );
    }

    #[test]
    fn hovering_at_the_threshold_stays_one_episode() {
        let mut rule = BruteForce::new(BruteForceConfig {
            min_failed_logins: 5,
        })
        .unwrap();
        let fired = (0..100)
            .filter(|t| {
                rule.observe(&event("198.51.100.1", *t, Some(22), true), &failed(5))
                    .is_some()
            })
            .count();
        assert_eq!(fired, 1);
    }

    #[test]
    fn rearms_when_the_window_drops_below_the_threshold() {
        let mut rule = BruteForce::new(BruteForceConfig {
            min_failed_logins: 3,
        })
        .unwrap();
        let ip = "192.0.2.10";
        let counts = [1, 2, 3, 4, 5, 1, 2, 3, 4];
        let fired: Vec<usize> = counts
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                rule.observe(&event(ip, i as i64 * 20, Some(22), true), &failed(*c))
                    .map(|_| i)
            })
            .collect();
        assert_eq!(fired, vec![2, 7]);
    }

    #[test]
    fn ignores_uncounted_untracked_and_non_failed_events() {
        let mut rule = BruteForce::new(BruteForceConfig {
            min_failed_logins: 1,
        })
        .unwrap();
        let late = SourceWindow {
            counted: false,
            late: true,
            ..failed(1)
        };
        assert!(
            rule.observe(&event("192.0.2.1", 0, None, true), &late)
                .is_none()
        );
        let untracked = SourceWindow {
            tracked: false,
            ..failed(1)
        };
        assert!(
            rule.observe(&event("192.0.2.1", 0, None, true), &untracked)
                .is_none()
        );
        assert!(
            rule.observe(&event("192.0.2.1", 0, None, false), &failed(1))
                .is_none()
        );
        let hit = rule.observe(&event("192.0.2.1", 0, None, true), &failed(1));
        assert_eq!(
            hit.map(|h| h.explanation),
            Some("1 failed login in 30 s from 192.0.2.1 (threshold 1)".to_string())
        );
    }

    #[test]
    fn sources_have_independent_episodes_and_ipv6_names_its_prefix() {
        let mut rule = BruteForce::new(BruteForceConfig {
            min_failed_logins: 2,
        })
        .unwrap();
        assert!(
            rule.observe(&event("2001:db8:1::5", 0, Some(22), true), &failed(2))
                .is_some()
        );
        // Another address in the same /64 is the same source: still inside the episode.
        assert!(
            rule.observe(&event("2001:db8:1::9", 1, Some(22), true), &failed(3))
                .is_none()
        );
        let hit = rule.observe(&event("2001:db8:2::9", 1, Some(22), true), &failed(2));
        assert_eq!(
            hit.map(|h| h.explanation),
            Some("2 failed logins in 30 s from 2001:db8:2::/64 (threshold 2)".to_string())
        );
    }

    #[test]
    fn strength_grows_when_first_seen_far_above_the_threshold() {
        // A rule built after the windows were filled (a restart) first sees 100 failures: its
        // first hit is already RED, so the episode has nothing to escalate to.
        let mut rule = BruteForce::new(BruteForceConfig::default()).unwrap();
        let hit = rule.observe(&event("192.0.2.3", 0, Some(22), true), &failed(100));
        let (strength, text) = hit.map(|h| (h.strength, h.explanation)).unwrap_or_default();
        assert!((strength - 0.99).abs() < 1e-12, "{strength}");
        assert_eq!(
            text,
            "100 failed logins in 30 s from 192.0.2.3 (threshold 20)"
        );
        for n in 101..=600 {
            assert!(
                rule.observe(&event("192.0.2.3", 1, Some(22), true), &failed(n))
                    .is_none()
            );
        }
    }

    #[test]
    fn rejects_zero_threshold_by_name() {
        let err = BruteForce::new(BruteForceConfig {
            min_failed_logins: 0,
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "brute_force.min_failed_logins must be at least 1, got 0"
        );
    }
}
