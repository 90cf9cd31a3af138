//! Configuration of the feature step (plain Rust; the daemon maps its own config onto it).

use vigil_detectors::TrafficSpikeConfig;

/// The longest window (or lateness) accepted, in seconds. Window entries store their time as a
/// 32-bit microsecond offset, which covers a little over 71 minutes.
pub const MAX_WINDOW_SECS: u32 = 3600;

/// Ports counted as "common" destination ports by default: the services honeypots and IDSs
/// see most (FTP, SSH, Telnet, SMTP, DNS, HTTP, POP3, NTP, IMAP, HTTPS, SMB, submission,
/// IMAPS, POP3S, MSSQL, MySQL, RDP, PostgreSQL, HTTP alternates).
pub const DEFAULT_COMMON_PORTS: [u16; 22] = [
    20, 21, 22, 23, 25, 53, 80, 110, 123, 143, 443, 445, 465, 587, 993, 995, 1433, 3306, 3389,
    5432, 8080, 8443,
];

/// Settings of the [`FeatureExtractor`](crate::FeatureExtractor).
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureConfig {
    /// Length of the window events per source are counted in, in seconds (default 30).
    pub event_window_secs: u32,
    /// Length of the window failed and successful logins per source are counted in (default 30).
    pub login_window_secs: u32,
    /// Length of the window distinct destination ports and addresses, and the destination
    /// port entropy, are taken over (default 60).
    pub port_window_secs: u32,
    /// Length of the window mean bytes and commands per session are taken over (default 300).
    pub bytes_window_secs: u32,
    /// Most sources with window state at once; the least recently seen is evicted beyond it
    /// (default 1,000,000).
    pub max_tracked_sources: usize,
    /// IPv6 sources are grouped by this prefix length (default 64); IPv4 sources are addresses.
    pub ipv6_source_prefix: u8,
    /// Events older than the newest event seen minus this many seconds are late: scored with
    /// their source's windows as they are, but not added to them (default 300).
    pub allowed_lateness_secs: u32,
    /// Destination ports that count as common (the `dst_port_common` feature).
    pub common_ports: Vec<u16>,
    /// Most window entries one source keeps; beyond it the oldest entry leaves every window
    /// early, which makes that source's counts a lower bound (default 65,536).
    pub max_entries_per_source: u32,
    /// Most distinct destination ports, and separately addresses, tracked per source within the
    /// port window; further distinct values are not counted until room frees (default 4,096).
    pub max_distinct_per_source: u32,
    /// Weight of the newest completed window in a source's moving baseline of events per event
    /// window, an exponentially weighted moving average (default 0.2).
    pub baseline_alpha: f64,
    /// The traffic-spike rule's thresholds, which cap what a completed window adds to its
    /// source's moving baseline: a window is folded in at most at the count the rule calls a
    /// spike against the baseline it was measured with ([`TrafficSpikeConfig::threshold`]), and
    /// at least at twice that baseline, so a spike raises its own source's bar only gradually
    /// and a lasting change of level is still absorbed (see the crate documentation). Set it to
    /// the rule's configuration; the default is the rule's default (200 events, 5x).
    pub baseline_spike_level: TrafficSpikeConfig,
    /// Offset of the site's local time from UTC, in minutes, for the hour, weekday, weekend and
    /// business-hours features (default 0: UTC).
    pub utc_offset_minutes: i16,
    /// Key of the source table's hash. Results never depend on it; a site-specific value makes
    /// source addresses crafted to collide in the table impractical, and any fixed value keeps
    /// runs reproducible.
    pub hash_seed: u64,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            event_window_secs: 30,
            login_window_secs: 30,
            port_window_secs: 60,
            bytes_window_secs: 300,
            max_tracked_sources: 1_000_000,
            ipv6_source_prefix: 64,
            allowed_lateness_secs: 300,
            common_ports: DEFAULT_COMMON_PORTS.to_vec(),
            max_entries_per_source: 65_536,
            max_distinct_per_source: 4_096,
            baseline_alpha: 0.2,
            baseline_spike_level: TrafficSpikeConfig::default(),
            utc_offset_minutes: 0,
            hash_seed: 0x7669_6769_6c2d_7372,
        }
    }
}

/// A feature configuration value out of range; the message names the field and the value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field} {requirement}, got {value}")]
pub struct FeatureConfigError {
    /// The offending field, e.g. `event_window_secs`.
    pub field: &'static str,
    /// What the field must be.
    pub requirement: &'static str,
    /// The rejected value, as written.
    pub value: String,
}

fn check(
    ok: bool,
    field: &'static str,
    requirement: &'static str,
    value: impl ToString,
) -> Result<(), FeatureConfigError> {
    if ok {
        Ok(())
    } else {
        Err(FeatureConfigError {
            field,
            requirement,
            value: value.to_string(),
        })
    }
}

impl FeatureConfig {
    /// Checks every field; the error names the first offending field and its value.
    ///
    /// ```
    /// use vigil_features::FeatureConfig;
    /// assert!(FeatureConfig::default().validate().is_ok());
    /// let bad = FeatureConfig { port_window_secs: 0, ..FeatureConfig::default() };
    /// assert_eq!(
    ///     bad.validate().unwrap_err().to_string(),
    ///     "port_window_secs must be between 1 and 3600, got 0"
    /// );
    /// ```
    pub fn validate(&self) -> Result<(), FeatureConfigError> {
        const WINDOW: &str = "must be between 1 and 3600";
        let window_ok = |secs: u32| (1..=MAX_WINDOW_SECS).contains(&secs);
        check(
            window_ok(self.event_window_secs),
            "event_window_secs",
            WINDOW,
            self.event_window_secs,
        )?;
        check(
            window_ok(self.login_window_secs),
            "login_window_secs",
            WINDOW,
            self.login_window_secs,
        )?;
        check(
            window_ok(self.port_window_secs),
            "port_window_secs",
            WINDOW,
            self.port_window_secs,
        )?;
        check(
            window_ok(self.bytes_window_secs),
            "bytes_window_secs",
            WINDOW,
            self.bytes_window_secs,
        )?;
        check(
            self.max_tracked_sources >= 1 && self.max_tracked_sources < u32::MAX as usize,
            "max_tracked_sources",
            "must be between 1 and 4294967294",
            self.max_tracked_sources,
        )?;
        check(
            (1..=128).contains(&self.ipv6_source_prefix),
            "ipv6_source_prefix",
            "must be between 1 and 128",
            self.ipv6_source_prefix,
        )?;
        check(
            self.allowed_lateness_secs <= 7 * 86_400,
            "allowed_lateness_secs",
            "must be at most 604800 (a week)",
            self.allowed_lateness_secs,
        )?;
        check(
            self.max_entries_per_source >= 1,
            "max_entries_per_source",
            "must be at least 1",
            self.max_entries_per_source,
        )?;
        check(
            self.max_distinct_per_source >= 1,
            "max_distinct_per_source",
            "must be at least 1",
            self.max_distinct_per_source,
        )?;
        check(
            self.baseline_alpha > 0.0 && self.baseline_alpha <= 1.0,
            "baseline_alpha",
            "must be greater than 0 and at most 1",
            self.baseline_alpha,
        )?;
        check(
            self.baseline_spike_level.min_events >= 1,
            "baseline_spike_level.min_events",
            "must be at least 1",
            self.baseline_spike_level.min_events,
        )?;
        let factor = self.baseline_spike_level.factor;
        check(
            factor.is_finite() && factor >= 1.0,
            "baseline_spike_level.factor",
            "must be a finite number of at least 1.0",
            factor,
        )?;
        check(
            (-840..=840).contains(&self.utc_offset_minutes),
            "utc_offset_minutes",
            "must be between -840 and 840",
            self.utc_offset_minutes,
        )?;
        Ok(())
    }

    /// The longest of the four windows, in seconds: how long a window entry is kept.
    pub fn retention_secs(&self) -> u32 {
        self.event_window_secs
            .max(self.login_window_secs)
            .max(self.port_window_secs)
            .max(self.bytes_window_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_checked_by_name() {
        let d = FeatureConfig::default;
        let cases: Vec<(FeatureConfig, &str)> = vec![
            (
                FeatureConfig {
                    event_window_secs: 0,
                    ..d()
                },
                "event_window_secs must be between 1 and 3600, got 0",
            ),
            (
                FeatureConfig {
                    login_window_secs: 3601,
                    ..d()
                },
                "login_window_secs must be between 1 and 3600, got 3601",
            ),
            (
                FeatureConfig {
                    bytes_window_secs: 0,
                    ..d()
                },
                "bytes_window_secs must be between 1 and 3600, got 0",
            ),
            (
                FeatureConfig {
                    max_tracked_sources: 0,
                    ..d()
                },
                "max_tracked_sources must be between 1 and 4294967294, got 0",
            ),
            (
                FeatureConfig {
                    ipv6_source_prefix: 129,
                    ..d()
                },
                "ipv6_source_prefix must be between 1 and 128, got 129",
            ),
            (
                FeatureConfig {
                    allowed_lateness_secs: 700_000,
                    ..d()
                },
                "allowed_lateness_secs must be at most 604800 (a week), got 700000",
            ),
            (
                FeatureConfig {
                    max_entries_per_source: 0,
                    ..d()
                },
                "max_entries_per_source must be at least 1, got 0",
            ),
            (
                FeatureConfig {
                    max_distinct_per_source: 0,
                    ..d()
                },
                "max_distinct_per_source must be at least 1, got 0",
            ),
            (
                FeatureConfig {
                    baseline_alpha: 0.0,
                    ..d()
                },
                "baseline_alpha must be greater than 0 and at most 1, got 0",
            ),
            (
                FeatureConfig {
                    baseline_alpha: f64::NAN,
                    ..d()
                },
                "baseline_alpha must be greater than 0 and at most 1, got NaN",
            ),
            (
                FeatureConfig {
                    baseline_spike_level: TrafficSpikeConfig {
                        min_events: 0,
                        factor: 5.0,
                    },
                    ..d()
                },
                "baseline_spike_level.min_events must be at least 1, got 0",
            ),
            (
                FeatureConfig {
                    baseline_spike_level: TrafficSpikeConfig {
                        min_events: 200,
                        factor: 0.9,
                    },
                    ..d()
                },
                "baseline_spike_level.factor must be a finite number of at least 1.0, got 0.9",
            ),
            (
                FeatureConfig {
                    baseline_spike_level: TrafficSpikeConfig {
                        min_events: 200,
                        factor: f64::INFINITY,
                    },
                    ..d()
                },
                "baseline_spike_level.factor must be a finite number of at least 1.0, got inf",
            ),
            (
                FeatureConfig {
                    utc_offset_minutes: -900,
                    ..d()
                },
                "utc_offset_minutes must be between -840 and 840, got -900",
            ),
        ];
        for (config, message) in cases {
            assert_eq!(
                config.validate().map_err(|e| e.to_string()),
                Err(message.to_string())
            );
        }
    }

    #[test]
    fn retention_is_the_longest_window() {
        assert_eq!(FeatureConfig::default().retention_secs(), 300);
        let c = FeatureConfig {
            port_window_secs: 900,
            ..FeatureConfig::default()
        };
        assert_eq!(c.retention_secs(), 900);
    }
}
