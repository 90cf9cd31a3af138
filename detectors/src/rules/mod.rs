//! Behaviour rules: brute force, port scan and traffic spike.
//!
//! A rule looks at one event ([`EventView`]) together with the window facts the feature step
//! computed for the event's source ([`SourceWindow`]) and, when an episode opens and at most
//! once more when it escalates, returns a [`RuleHit`]: a strength in [0, 1] and a sentence an
//! analyst can read.
//!
//! # Episodes
//! A rule fires when its condition first holds for a source; the episode ends (the rule re-arms)
//! at the first observation of that source at which the condition no longer holds, for example
//! when the failed-login window has drained below the threshold. Observations are the events that
//! feed the rule's count (failed logins for brute force, events with a destination port for port
//! scan, every event for traffic spike) and that the feature step counted into the windows (late
//! events are not).
//!
//! # Escalation
//! Within an episode a rule fires at most twice. The first hit opens the episode; since counts
//! rise one event at a time it usually sees exactly the threshold, strength 0.95 (ORANGE). When
//! the same episode's count later reaches the [`escalation_level`], the count at which
//! [`rule_strength`] reaches [`ESCALATION_STRENGTH`] (0.99, RED), the rule fires once more with
//! that strength and an explanation ending in `escalated`, e.g. `100 failed logins in 30 s from
//! 203.0.113.7 (threshold 20, 5.0x: escalated)`. An episode that opens already at or above the
//! escalation level (a restart that finds full windows, a traffic-spike threshold that drops at a
//! window boundary) has said everything with its first hit and does not escalate again. Nothing
//! more fires until the episode ends.
//!
//! Rules remember the sources that are inside an episode, and only those, with whether the
//! episode has escalated, in a table of at most `MAX_OPEN_EPISODES` entries. Entries whose last
//! observation is older than the rule's window are swept when the table fills. Should the table
//! still be full, the rule falls back to firing only on exact crossings (the observation at which
//! the count reaches the threshold, or the escalation level), which needs no memory: counts rise
//! by one per counted event, so such a crossing is never skipped.
//!
//! # Strength
//! See [`rule_strength`]: a rule that just reaches its threshold has strength 0.95 (ORANGE), one
//! that sees five times its threshold 0.99 (RED).

mod brute_force;
mod connection_rate;
mod port_scan;
#[cfg(test)]
mod snapshot_tests;
mod traffic_spike;

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::fmt;
use std::hash::BuildHasherDefault;
use std::net::{IpAddr, Ipv6Addr};

use crate::DetectorError;
use crate::codec::{SnapshotReader, SnapshotWriter};
use crate::detector::snapshot_error;

pub use brute_force::{BruteForce, BruteForceConfig};
pub use connection_rate::{ConnectionRate, ConnectionRateConfig, DEFAULT_AUTH_PORTS};
pub use port_scan::{PortScan, PortScanConfig};
pub use traffic_spike::{TrafficSpike, TrafficSpikeConfig};

/// The rule-relevant facts about one event, independent of the sensor crate's `Event`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct EventView {
    /// Event time, in microseconds since the Unix epoch.
    pub time_micros: i64,
    /// Source address as reported by the sensor.
    pub src_ip: Option<IpAddr>,
    /// The source the per-source windows are kept for (the address, or its IPv6 prefix).
    pub source: Option<SourceId>,
    /// Destination port.
    pub dst_port: Option<u16>,
    /// The event is a failed login attempt.
    pub failed_login: bool,
    /// The event is a login attempt, failed or successful.
    pub login: bool,
    /// The event saw a TCP SYN (a flow event of a connection attempt: `tcp_flags` has SYN).
    pub tcp_syn: bool,
    /// How long the event's connection lasted, in seconds, when the sensor says (flows).
    pub duration_secs: Option<f64>,
}

/// A source as the windows see it: an IPv4 address, or an IPv6 address masked to a prefix.
///
/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are treated as the IPv4 address they carry.
///
/// ```
/// use std::net::IpAddr;
/// use vigil_detectors::SourceId;
/// let v6: IpAddr = "2001:db8:1::42".parse().unwrap();
/// assert_eq!(SourceId::new(v6, 64).to_string(), "2001:db8:1::/64");
/// let v4: IpAddr = "203.0.113.7".parse().unwrap();
/// assert_eq!(SourceId::new(v4, 64).to_string(), "203.0.113.7");
/// let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
/// assert_eq!(SourceId::new(mapped, 64), SourceId::new(v4, 64));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SourceId {
    network: IpAddr,
    prefix_len: u8,
}

impl SourceId {
    /// The source of `ip`: IPv4 addresses stand for themselves, IPv6 addresses are masked to
    /// their first `ipv6_prefix_len` bits (values above 128 mean 128).
    pub fn new(ip: IpAddr, ipv6_prefix_len: u8) -> SourceId {
        match ip.to_canonical() {
            IpAddr::V4(v4) => SourceId {
                network: IpAddr::V4(v4),
                prefix_len: 32,
            },
            IpAddr::V6(v6) => {
                let prefix_len = ipv6_prefix_len.min(128);
                let mask = if prefix_len == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(prefix_len))
                };
                SourceId {
                    network: IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask)),
                    prefix_len,
                }
            }
        }
    }

    /// The network address (the IPv4 address itself, or the masked IPv6 prefix).
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length: 32 for IPv4, the configured IPv6 prefix length otherwise.
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// A compact 128-bit key, unique per source: IPv4 sources use their IPv4-mapped IPv6
    /// form, which no masked IPv6 source can take (those are canonicalised to IPv4 first).
    pub fn key(&self) -> u128 {
        match self.network {
            IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
            IpAddr::V6(v6) => u128::from(v6),
        }
    }
}

impl fmt::Display for SourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.network {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) if self.prefix_len == 128 => write!(f, "{v6}"),
            IpAddr::V6(v6) => write!(f, "{v6}/{}", self.prefix_len),
        }
    }
}

/// The per-source window facts the feature step computed for one event.
///
/// Counts are taken over event-time sliding windows ending at the source's newest event time
/// and include this event when [`counted`](Self::counted) is set. A plain `Copy` value: no
/// allocation on the hot path.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SourceWindow {
    /// The event has a source and the counts below are real (false: all counts are zero).
    pub tracked: bool,
    /// This event was added to its source's windows (false for late events and untracked ones).
    pub counted: bool,
    /// The event was late: older than the newest event seen minus the allowed lateness.
    pub late: bool,
    /// Events from the source within the event window.
    pub events: u32,
    /// Failed logins from the source within the login window.
    pub failed_logins: u32,
    /// Successful logins from the source within the login window.
    pub successful_logins: u32,
    /// Distinct destination ports the source reached within the port window.
    pub distinct_dst_ports: u32,
    /// Distinct destination addresses the source reached within the port window.
    pub distinct_dst_ips: u32,
    /// This event's destination port was not yet in the source's port window.
    pub port_new_in_window: bool,
    /// The source's moving baseline of events per event window (see the feature crate for how
    /// it is kept), as of the start of the current window.
    pub baseline_events: f64,
    /// Length of the event window, in seconds.
    pub event_window_secs: u32,
    /// Length of the login window, in seconds.
    pub login_window_secs: u32,
    /// Length of the port window, in seconds.
    pub port_window_secs: u32,
}

/// A rule firing: how strong the evidence is and a sentence that explains it.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleHit {
    /// The rule's name (`brute_force`, `port_scan`, `traffic_spike`).
    pub rule: &'static str,
    /// Strength in [0, 1], mapped onto alert severity like a calibrated score (see [`rule_strength`]).
    pub strength: f64,
    /// A sentence with the numbers, e.g. `52 failed logins in 30 s from 203.0.113.7 (threshold 20)`,
    /// or for an escalation `100 failed logins in 30 s from 203.0.113.7 (threshold 20, 5.0x: escalated)`.
    pub explanation: String,
}

/// A behaviour rule. Object safe, so a [`RuleSet`] holds `Box<dyn Rule>`.
pub trait Rule: Send {
    /// The rule's stable name, used as the detector name of its alerts.
    fn name(&self) -> &'static str;
    /// Looks at one event and its source window; returns a hit when an episode opens and when
    /// it escalates, so at most twice per episode.
    fn observe(&mut self, event: &EventView, window: &SourceWindow) -> Option<RuleHit>;
    /// The rule's configuration and complete state (for the built-in rules: the sources inside
    /// an episode, each with its last observation time and whether it escalated, the newest
    /// observation time and the table's capacity), for a checkpoint. Equal states give equal
    /// bytes.
    fn snapshot(&self) -> Vec<u8>;
    /// Replaces the rule's state with a [`snapshot`](Rule::snapshot) of the same rule taken
    /// under the same configuration; afterwards the rule decides exactly as the one that was
    /// snapshotted would have.
    ///
    /// # Errors
    /// [`DetectorError::Snapshot`] naming the rule: another rule's or format version's bytes,
    /// bytes cut short or inconsistent, or a snapshot taken under another configuration (the
    /// reason names the field and both values). On error the rule is left unchanged.
    fn restore(&mut self, bytes: &[u8]) -> Result<(), DetectorError>;
}

/// A rule configuration value out of range; the message names the field and the value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field} {requirement}, got {value}")]
pub struct RuleConfigError {
    /// The offending field, e.g. `brute_force.min_failed_logins`.
    pub field: &'static str,
    /// What the field must be, e.g. `must be at least 1`.
    pub requirement: &'static str,
    /// The rejected value, as written.
    pub value: String,
}

impl RuleConfigError {
    /// `Ok` when `holds`, else the error naming `field`, what it must be and `value`.
    pub(crate) fn unless(
        holds: bool,
        field: &'static str,
        requirement: &'static str,
        value: &dyn fmt::Display,
    ) -> Result<(), RuleConfigError> {
        if holds {
            return Ok(());
        }
        Err(RuleConfigError {
            field,
            requirement,
            value: value.to_string(),
        })
    }
}

/// Strength of a hit whose count just reaches its threshold: ORANGE with the default severity
/// cut-offs (ORANGE from 0.95, RED from 0.99).
pub const THRESHOLD_STRENGTH: f64 = 0.95;

/// Strength from which a hit is RED with the default severity cut-offs. A rule escalates (fires a
/// second time in an episode) when its count reaches the level at which [`rule_strength`] gives
/// this value, see [`escalation_level`].
pub const ESCALATION_STRENGTH: f64 = 0.99;

/// Strength of a rule hit that observed `observed` against a threshold of `threshold`:
/// `1 - (1 - THRESHOLD_STRENGTH) * threshold / observed`, that is
/// `1 - 0.05 * threshold / observed`, clamped to [0, 1].
///
/// Reaching the threshold gives 0.95 (ORANGE with the default severity cut-offs); five times
/// the threshold gives 0.99 (RED); the strength approaches 1 as the ratio grows. A
/// non-positive or non-finite input gives 0.
///
/// ```
/// use vigil_detectors::rule_strength;
/// assert!((rule_strength(20.0, 20.0) - 0.95).abs() < 1e-12);
/// assert!((rule_strength(20.0, 100.0) - 0.99).abs() < 1e-12);
/// assert_eq!(rule_strength(20.0, 0.0), 0.0);
/// ```
pub fn rule_strength(threshold: f64, observed: f64) -> f64 {
    if !(threshold > 0.0 && observed > 0.0 && threshold.is_finite() && observed.is_finite()) {
        return 0.0;
    }
    (1.0 - (1.0 - THRESHOLD_STRENGTH) * threshold / observed).clamp(0.0, 1.0)
}

/// The smallest count at which a rule with threshold `threshold` escalates: the first count
/// whose [`rule_strength`] is at least [`ESCALATION_STRENGTH`] (RED). `None` when no `u32`
/// count gets there (or `threshold` is 0).
///
/// The level is derived from the strength formula rather than written down: inverting it gives
/// `threshold * (1 - THRESHOLD_STRENGTH) / (1 - ESCALATION_STRENGTH)`, five times the
/// threshold, and the result is then checked against [`rule_strength`] itself, so that the
/// escalated hit's strength, as computed, is never a rounding error short of RED.
///
/// ```
/// use vigil_detectors::{ESCALATION_STRENGTH, escalation_level, rule_strength};
/// assert_eq!(escalation_level(20), Some(100));
/// assert!(rule_strength(20.0, 100.0) >= ESCALATION_STRENGTH);
/// assert!(rule_strength(20.0, 99.0) < ESCALATION_STRENGTH);
/// assert_eq!(escalation_level(u32::MAX), None);
/// ```
pub fn escalation_level(threshold: u32) -> Option<u32> {
    if threshold == 0 {
        return None;
    }
    let t = f64::from(threshold);
    let reaches = |count: u32| rule_strength(t, f64::from(count)) >= ESCALATION_STRENGTH;
    let estimate = (t * (1.0 - THRESHOLD_STRENGTH) / (1.0 - ESCALATION_STRENGTH)).ceil();
    if !(estimate.is_finite() && estimate >= 1.0) {
        return None;
    }
    // `as` saturates beyond u32; the checks below settle whether u32::MAX still gets there.
    let mut level = if estimate >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        estimate as u32
    };
    // The estimate is off by at most a rounding step or two: walk to the exact first count.
    while level > threshold && reaches(level - 1) {
        level -= 1;
    }
    while !reaches(level) {
        level = level.checked_add(1)?;
    }
    Some(level)
}

/// Which rules run, each with its configuration; `None` disables a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RulesConfig {
    /// Brute force: failed logins per source within the login window.
    pub brute_force: Option<BruteForceConfig>,
    /// Port scan: distinct destination ports per source within the port window.
    pub port_scan: Option<PortScanConfig>,
    /// Traffic spike: events per source within the event window against its moving baseline.
    pub traffic_spike: Option<TrafficSpikeConfig>,
    /// Connection rate: short connection attempts per source to authentication ports within
    /// its own window (flows, where login outcomes are hidden).
    pub connection_rate: Option<ConnectionRateConfig>,
}

impl Default for RulesConfig {
    /// All four rules, with their default thresholds.
    fn default() -> Self {
        RulesConfig {
            brute_force: Some(BruteForceConfig::default()),
            port_scan: Some(PortScanConfig::default()),
            traffic_spike: Some(TrafficSpikeConfig::default()),
            connection_rate: Some(ConnectionRateConfig::default()),
        }
    }
}

impl RulesConfig {
    /// Checks every enabled rule's configuration.
    pub fn validate(&self) -> Result<(), RuleConfigError> {
        if let Some(c) = &self.brute_force {
            c.validate()?;
        }
        if let Some(c) = &self.port_scan {
            c.validate()?;
        }
        if let Some(c) = &self.traffic_spike {
            c.validate()?;
        }
        if let Some(c) = &self.connection_rate {
            c.validate()?;
        }
        Ok(())
    }
}

/// The enabled rules, run in a fixed order (brute force, port scan, traffic spike,
/// connection rate).
///
/// ```
/// use vigil_detectors::{RuleSet, RulesConfig, SourceWindow, EventView, SourceId};
/// let mut rules = RuleSet::new(&RulesConfig::default())?;
/// assert_eq!(rules.names(), vec!["brute_force", "port_scan", "traffic_spike", "connection_rate"]);
/// let ip = "203.0.113.7".parse().unwrap();
/// let event = EventView {
///     time_micros: 1_700_000_000_000_000,
///     src_ip: Some(ip),
///     source: Some(SourceId::new(ip, 64)),
///     dst_port: Some(22),
///     failed_login: true,
///     login: true,
///     ..EventView::default()
/// };
/// let window = SourceWindow {
///     tracked: true,
///     counted: true,
///     events: 20,
///     failed_logins: 20,
///     distinct_dst_ports: 1,
///     distinct_dst_ips: 1,
///     baseline_events: 10.0,
///     event_window_secs: 30,
///     login_window_secs: 30,
///     port_window_secs: 60,
///     ..SourceWindow::default()
/// };
/// let mut hits = Vec::new();
/// rules.observe(&event, &window, &mut hits);
/// assert_eq!(hits.len(), 1);
/// assert_eq!(hits[0].explanation, "20 failed logins in 30 s from 203.0.113.7 (threshold 20)");
/// # Ok::<(), vigil_detectors::RuleConfigError>(())
/// ```
pub struct RuleSet {
    rules: Vec<Box<dyn Rule>>,
}

impl fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleSet")
            .field("rules", &self.names())
            .finish()
    }
}

impl RuleSet {
    /// Builds the enabled rules after validating their configuration.
    pub fn new(config: &RulesConfig) -> Result<RuleSet, RuleConfigError> {
        config.validate()?;
        let mut rules: Vec<Box<dyn Rule>> = Vec::with_capacity(4);
        if let Some(c) = &config.brute_force {
            rules.push(Box::new(BruteForce::new(c.clone())?));
        }
        if let Some(c) = &config.port_scan {
            rules.push(Box::new(PortScan::new(c.clone())?));
        }
        if let Some(c) = &config.traffic_spike {
            rules.push(Box::new(TrafficSpike::new(c.clone())?));
        }
        if let Some(c) = &config.connection_rate {
            rules.push(Box::new(ConnectionRate::new(c.clone())?));
        }
        Ok(RuleSet { rules })
    }

    /// A set of the given rules (tests with non-default episode tables).
    #[cfg(test)]
    pub(crate) fn from_rules(rules: Vec<Box<dyn Rule>>) -> RuleSet {
        RuleSet { rules }
    }

    /// Runs every rule on one event, appending their hits to `hits` (which is not cleared).
    pub fn observe(&mut self, event: &EventView, window: &SourceWindow, hits: &mut Vec<RuleHit>) {
        for rule in &mut self.rules {
            if let Some(hit) = rule.observe(event, window) {
                hits.push(hit);
            }
        }
    }

    /// The names of the enabled rules, in the order they run.
    pub fn names(&self) -> Vec<&'static str> {
        self.rules.iter().map(|r| r.name()).collect()
    }

    /// Number of enabled rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when no rule is enabled.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Every rule's state, for a checkpoint: restoring it with [`restore`](Self::restore) into
    /// a set built from the same configuration makes the set fire exactly as this one would on
    /// the events that follow.
    ///
    /// Format ([`codec`](crate::codec), tag `RSET`, version 1): the number of rules, then per
    /// rule, in running order, its name and its own [`Rule::snapshot`] (tag `RBRF`, `RPSC` or
    /// `RTSP`, version 1: the rule's thresholds, the episode table's capacity, the newest
    /// observation time, and the open episodes sorted by source key, each with its last
    /// observation time and escalation flag).
    ///
    /// ```
    /// use vigil_detectors::{BruteForceConfig, RuleSet, RulesConfig};
    /// let rules = RuleSet::new(&RulesConfig::default())?;
    /// let bytes = rules.snapshot();
    /// let mut resumed = RuleSet::new(&RulesConfig::default())?;
    /// resumed.restore(&bytes)?;
    /// assert_eq!(resumed.snapshot(), bytes);
    ///
    /// let stricter = RulesConfig {
    ///     brute_force: Some(BruteForceConfig { min_failed_logins: 30 }),
    ///     ..RulesConfig::default()
    /// };
    /// let err = RuleSet::new(&stricter)?.restore(&bytes).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "brute_force: cannot restore snapshot: it was taken with brute_force.min_failed_logins = 20, this rule has 30"
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn snapshot(&self) -> Vec<u8> {
        let mut w = SnapshotWriter::new(RULE_SET_TAG, RULE_SET_VERSION);
        w.u64(self.rules.len() as u64);
        for rule in &self.rules {
            w.bytes(rule.name().as_bytes());
            w.bytes(&rule.snapshot());
        }
        w.finish()
    }

    /// Replaces every rule's state with a [`snapshot`](Self::snapshot).
    ///
    /// # Errors
    /// [`DetectorError::Snapshot`]: bytes that are not a rule-set snapshot of this version, cut
    /// short or with bytes left over; a snapshot of other rules (the reason lists both sets);
    /// or one rule's snapshot refused (the error names the rule, see [`Rule::restore`]). On
    /// error every rule is left as it was.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), DetectorError> {
        let mut r = SnapshotReader::new(RULE_SET_NAME, bytes, RULE_SET_TAG, RULE_SET_VERSION)?;
        let count = r.u64()?;
        let mut parts = Vec::new();
        for _ in 0..count.min(self.rules.len() as u64 + 1) {
            let name = r.bytes()?;
            let state = r.bytes()?;
            parts.push((String::from_utf8_lossy(name).into_owned(), state));
        }
        let names: Vec<&str> = parts.iter().map(|(name, _)| name.as_str()).collect();
        if count != self.rules.len() as u64 || names != self.names() {
            return Err(snapshot_error(
                RULE_SET_NAME,
                format!(
                    "it holds the rules [{}], this set runs [{}]",
                    if count as usize == names.len() {
                        names.join(", ")
                    } else {
                        format!("{count} rules")
                    },
                    self.names().join(", ")
                ),
            ));
        }
        r.end()?;
        // Each rule restores all or nothing; should a later one refuse, the earlier ones go
        // back to the state they had.
        let before: Vec<Vec<u8>> = self.rules.iter().map(|rule| rule.snapshot()).collect();
        for (i, (_, state)) in parts.iter().enumerate() {
            if let Err(error) = self.rules[i].restore(state) {
                for (rule, old) in self.rules.iter_mut().zip(&before).take(i) {
                    // A rule's own fresh snapshot always restores.
                    let _ = rule.restore(old);
                }
                return Err(error);
            }
        }
        Ok(())
    }
}

/// Tag of a [`RuleSet`] snapshot.
const RULE_SET_TAG: [u8; 4] = *b"RSET";
/// Format version of a [`RuleSet`] snapshot.
const RULE_SET_VERSION: u16 = 1;
/// How a [`RuleSet`] names itself in snapshot errors.
const RULE_SET_NAME: &str = "rules";
/// Format version of every rule's own snapshot.
pub(crate) const RULE_SNAPSHOT_VERSION: u16 = 1;

/// `Ok` when a configuration value in a snapshot equals the rule's own, else the error naming
/// the rule, the field and both values.
pub(crate) fn same_setting<T: PartialEq + fmt::Display>(
    rule: &str,
    field: &str,
    snapshot: T,
    current: T,
) -> Result<(), DetectorError> {
    if snapshot == current {
        Ok(())
    } else {
        Err(snapshot_error(
            rule,
            format!("it was taken with {field} = {snapshot}, this rule has {current}"),
        ))
    }
}

/// The snapshot of a rule made of one threshold and an episode table (brute force, port
/// scan): the threshold, checked at restore, then the episodes.
pub(crate) fn threshold_rule_snapshot(
    tag: [u8; 4],
    threshold: u32,
    episodes: &Episodes,
) -> Vec<u8> {
    let mut w = SnapshotWriter::new(tag, RULE_SNAPSHOT_VERSION);
    w.u64(u64::from(threshold));
    episodes.write(&mut w);
    w.finish()
}

/// Reads a [`threshold_rule_snapshot`] of the rule `rule`, whose threshold setting `field`
/// must equal `threshold`; returns the episodes, changing nothing.
pub(crate) fn threshold_rule_restore(
    rule: &'static str,
    tag: [u8; 4],
    field: &str,
    threshold: u32,
    episodes: &Episodes,
    bytes: &[u8],
) -> Result<Episodes, DetectorError> {
    let mut r = SnapshotReader::new(rule, bytes, tag, RULE_SNAPSHOT_VERSION)?;
    same_setting(rule, field, r.u64()?, u64::from(threshold))?;
    let restored = episodes.read(rule, &mut r)?;
    r.end()?;
    Ok(restored)
}

/// Most sources a rule remembers as being inside an episode at once.
pub(crate) const MAX_OPEN_EPISODES: usize = 1 << 16;

/// What one observation of a source tells its rule's episode table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Observation {
    /// The count is at or above the threshold: the source is inside an episode.
    pub(crate) above: bool,
    /// The count is at or above the escalation level.
    pub(crate) escalates: bool,
    /// This very observation raised the count to the threshold (used only when the table is full).
    pub(crate) exact_crossing: bool,
    /// This very observation raised the count to the escalation level (likewise).
    pub(crate) exact_escalation: bool,
}

impl Observation {
    /// The observation of `count` against `threshold`; `rose_by_one` says whether this
    /// observation is the one that added the latest unit to the count, so that reaching a level
    /// exactly means crossing it here.
    pub(crate) fn of(count: u32, threshold: u32, rose_by_one: bool) -> Observation {
        let level = escalation_level(threshold);
        Observation {
            above: count >= threshold,
            escalates: level.is_some_and(|level| count >= level),
            exact_crossing: rose_by_one && count == threshold,
            exact_escalation: rose_by_one && level == Some(count),
        }
    }
}

/// What an observation did to its source's episode, that is whether and how the rule fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    /// Nothing to report: outside an episode, or inside one with nothing new to say.
    Quiet,
    /// The observation opened an episode: the rule's first hit.
    Opened,
    /// The count reached the escalation level inside an open episode: the rule's second and
    /// last hit of the episode.
    Escalated,
}

/// One source inside an episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OpenEpisode {
    /// Event time of the newest observation above the threshold, for sweeping stale entries.
    last_micros: i64,
    /// The episode has fired at RED strength, by escalating or by opening that high.
    escalated: bool,
}

/// The sources currently inside an episode of one rule, with the event time each was last
/// observed above the threshold and whether its episode has escalated. A fixed-key hasher keeps
/// the rule free of randomness.
#[derive(Debug, Default)]
pub(crate) struct Episodes {
    open: HashMap<u128, OpenEpisode, BuildHasherDefault<DefaultHasher>>,
    newest_micros: i64,
    capacity: usize,
}

impl Episodes {
    pub(crate) fn new() -> Episodes {
        Episodes::with_capacity_limit(MAX_OPEN_EPISODES)
    }

    pub(crate) fn with_capacity_limit(capacity: usize) -> Episodes {
        Episodes {
            open: HashMap::default(),
            newest_micros: i64::MIN,
            capacity,
        }
    }

    /// Records one observation of `key` and says whether the rule fires, and how.
    ///
    /// `window_micros` is how long a quiet source takes to drain, for sweeping stale entries.
    pub(crate) fn observe(
        &mut self,
        key: u128,
        time_micros: i64,
        seen: Observation,
        window_micros: i64,
    ) -> Transition {
        self.newest_micros = self.newest_micros.max(time_micros);
        if !seen.above {
            self.open.remove(&key);
            return Transition::Quiet;
        }
        if let Some(open) = self.open.get_mut(&key) {
            open.last_micros = open.last_micros.max(time_micros);
            if seen.escalates && !open.escalated {
                open.escalated = true;
                return Transition::Escalated;
            }
            return Transition::Quiet;
        }
        if self.open.len() >= self.capacity {
            let horizon = self.newest_micros.saturating_sub(window_micros);
            self.open.retain(|_, open| open.last_micros > horizon);
        }
        if self.open.len() < self.capacity {
            self.open.insert(
                key,
                OpenEpisode {
                    last_micros: time_micros,
                    escalated: seen.escalates,
                },
            );
            Transition::Opened
        } else if seen.exact_crossing {
            Transition::Opened
        } else if seen.exact_escalation {
            Transition::Escalated
        } else {
            Transition::Quiet
        }
    }

    /// Records one observation of `count` from `event`'s source against `threshold`, as
    /// [`observe`](Self::observe) does, and returns what the rule has to report: `None` when it
    /// stays quiet or the event has no source.
    ///
    /// `rose_by_one` says whether this observation added the latest unit to the count (see
    /// [`Observation::of`]); `window_secs` is the length of the window the count is taken over.
    pub(crate) fn track(
        &mut self,
        event: &EventView,
        count: u32,
        threshold: u32,
        rose_by_one: bool,
        window_secs: u32,
    ) -> Option<Step> {
        let source = event.source?;
        let escalated = match self.observe(
            source.key(),
            event.time_micros,
            Observation::of(count, threshold, rose_by_one),
            secs_to_micros(window_secs),
        ) {
            Transition::Quiet => return None,
            Transition::Opened => false,
            Transition::Escalated => true,
        };
        Some(Step {
            source,
            count,
            threshold,
            window_secs,
            escalated,
        })
    }

    #[cfg(test)]
    pub(crate) fn open_count(&self) -> usize {
        self.open.len()
    }

    /// Appends the table: capacity, newest observation time, then the open episodes sorted by
    /// source key as a flat list of `u64` (key high and low halves, last observation time,
    /// escalated 0 or 1).
    pub(crate) fn write(&self, w: &mut SnapshotWriter) {
        w.u64(self.capacity as u64);
        w.u64(self.newest_micros as u64);
        let mut keys: Vec<u128> = self.open.keys().copied().collect();
        keys.sort_unstable();
        let mut flat = Vec::with_capacity(keys.len() * 4);
        for key in keys {
            let open = self.open[&key];
            flat.extend_from_slice(&[
                (key >> 64) as u64,
                key as u64,
                open.last_micros as u64,
                u64::from(open.escalated),
            ]);
        }
        w.u64s(&flat);
    }

    /// Reads a table written by [`write`](Self::write) for the rule `rule` (named in errors),
    /// which must have the capacity of `self`; returns the restored table without changing
    /// `self`.
    pub(crate) fn read(
        &self,
        rule: &str,
        r: &mut SnapshotReader<'_>,
    ) -> Result<Episodes, DetectorError> {
        let capacity = r.u64()?;
        same_setting(
            rule,
            "the open-episode capacity",
            capacity,
            self.capacity as u64,
        )?;
        let newest_micros = r.u64()? as i64;
        let flat = r.u64s()?;
        if flat.len() % 4 != 0 {
            return Err(snapshot_error(
                rule,
                format!(
                    "its episode list has {} numbers, not four per episode",
                    flat.len()
                ),
            ));
        }
        if flat.len() / 4 > self.capacity {
            return Err(snapshot_error(
                rule,
                format!(
                    "it holds {} open episodes, more than the capacity {}",
                    flat.len() / 4,
                    self.capacity
                ),
            ));
        }
        let mut open = HashMap::with_capacity_and_hasher(flat.len() / 4, Default::default());
        for chunk in flat.chunks_exact(4) {
            let key = (u128::from(chunk[0]) << 64) | u128::from(chunk[1]);
            let last_micros = chunk[2] as i64;
            let escalated = match chunk[3] {
                0 => false,
                1 => true,
                other => {
                    return Err(snapshot_error(
                        rule,
                        format!("the escalated flag of source {key:#x} is {other}, not 0 or 1"),
                    ));
                }
            };
            if last_micros > newest_micros {
                return Err(snapshot_error(
                    rule,
                    format!(
                        "source {key:#x} was last observed at {last_micros}, after the newest observation {newest_micros}"
                    ),
                ));
            }
            let episode = OpenEpisode {
                last_micros,
                escalated,
            };
            if open.insert(key, episode).is_some() {
                return Err(snapshot_error(
                    rule,
                    format!("source {key:#x} has two open episodes"),
                ));
            }
        }
        Ok(Episodes {
            open,
            newest_micros,
            capacity: self.capacity,
        })
    }
}

/// An observation that makes its rule fire: the episode opened or escalated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Step {
    /// The source observed.
    pub(crate) source: SourceId,
    /// The count observed.
    pub(crate) count: u32,
    /// The threshold in force.
    pub(crate) threshold: u32,
    /// The length of the window the count is taken over, in seconds.
    pub(crate) window_secs: u32,
    /// The episode escalated (the rule's second hit) rather than opened.
    pub(crate) escalated: bool,
}

impl Step {
    /// How every explanation starts: `20 failed logins in 30 s from 203.0.113.7`.
    pub(crate) fn measured(&self, what: &str) -> String {
        format!(
            "{} {what} in {} s from {}",
            self.count, self.window_secs, self.source
        )
    }

    /// How an escalation's explanation ends: `5.0x: escalated`.
    pub(crate) fn escalation(&self) -> String {
        format!(
            "{:.1}x: escalated",
            f64::from(self.count) / f64::from(self.threshold.max(1))
        )
    }

    /// How the explanation of a rule with a fixed threshold ends: `(threshold 20)`, or
    /// `(threshold 20, 5.0x: escalated)`.
    pub(crate) fn against_threshold(&self) -> String {
        if self.escalated {
            format!("(threshold {}, {})", self.threshold, self.escalation())
        } else {
            format!("(threshold {})", self.threshold)
        }
    }

    /// The hit of rule `rule`, its strength that of the count against the threshold.
    pub(crate) fn hit(&self, rule: &'static str, explanation: String) -> RuleHit {
        RuleHit {
            rule,
            strength: rule_strength(f64::from(self.threshold), f64::from(self.count)),
            explanation,
        }
    }
}

/// Micro-seconds in `secs` seconds.
pub(crate) fn secs_to_micros(secs: u32) -> i64 {
    i64::from(secs) * 1_000_000
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// A tracked, counted event from `ip` at `secs` seconds.
    pub(crate) fn event(
        ip: &str,
        secs: i64,
        dst_port: Option<u16>,
        failed_login: bool,
    ) -> EventView {
        let ip: IpAddr = ip
            .parse()
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        EventView {
            time_micros: secs * 1_000_000,
            src_ip: Some(ip),
            source: Some(SourceId::new(ip, 64)),
            dst_port,
            failed_login,
            login: failed_login,
            ..EventView::default()
        }
    }

    /// Feeds `rule` one observation per count in `counts`, as `observation` makes it, and
    /// returns every hit with the count that fired it.
    pub(crate) fn hits_over(
        rule: &mut dyn Rule,
        counts: impl IntoIterator<Item = u32>,
        observation: impl Fn(u32) -> (EventView, SourceWindow),
    ) -> Vec<(u32, RuleHit)> {
        counts
            .into_iter()
            .filter_map(|n| {
                let (event, window) = observation(n);
                rule.observe(&event, &window).map(|hit| (n, hit))
            })
            .collect()
    }

    /// A counted window with the default window lengths and the given counts.
    pub(crate) fn window() -> SourceWindow {
        SourceWindow {
            tracked: true,
            counted: true,
            late: false,
            event_window_secs: 30,
            login_window_secs: 30,
            port_window_secs: 60,
            ..SourceWindow::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strength_maps_threshold_to_orange_and_five_times_to_red() {
        assert!((rule_strength(25.0, 25.0) - 0.95).abs() < 1e-12);
        assert!(rule_strength(25.0, 125.0) >= 0.99 - 1e-12);
        assert!(rule_strength(25.0, 1000.0) > rule_strength(25.0, 125.0));
        assert!(rule_strength(25.0, 1e12) <= 1.0);
        assert_eq!(rule_strength(f64::NAN, 3.0), 0.0);
        assert_eq!(rule_strength(1.0, f64::INFINITY), 0.0);
    }

    #[test]
    fn source_id_masks_ipv6_and_keeps_ipv4() {
        let a = SourceId::new("2001:db8:1:2:3::1".parse().unwrap(), 64);
        let b = SourceId::new("2001:db8:1:2:ffff::9".parse().unwrap(), 64);
        let c = SourceId::new("2001:db8:1:3::1".parse().unwrap(), 64);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.to_string(), "2001:db8:1:2::/64");
        assert_eq!(a.prefix_len(), 64);
        let full = SourceId::new("2001:db8::7".parse().unwrap(), 128);
        assert_eq!(full.to_string(), "2001:db8::7");
        let all = SourceId::new("2001:db8::7".parse().unwrap(), 0);
        assert_eq!(all.to_string(), "::/0");
        let over = SourceId::new("2001:db8::7".parse().unwrap(), 200);
        assert_eq!(over.prefix_len(), 128);
        let v4 = SourceId::new("10.1.2.3".parse().unwrap(), 48);
        assert_eq!(v4.prefix_len(), 32);
        assert_ne!(v4.key(), SourceId::new("::".parse().unwrap(), 64).key());
        assert_eq!(
            v4.key(),
            SourceId::new("::ffff:10.1.2.3".parse().unwrap(), 48).key()
        );
    }

    #[test]
    fn config_error_names_field_and_value() {
        let err = RuleConfigError {
            field: "brute_force.min_failed_logins",
            requirement: "must be at least 1",
            value: "0".to_string(),
        };
        assert_eq!(
            err.to_string(),
            "brute_force.min_failed_logins must be at least 1, got 0"
        );
    }

    #[test]
    fn rule_set_runs_only_enabled_rules_and_rejects_bad_config() {
        let config = RulesConfig {
            brute_force: None,
            port_scan: Some(PortScanConfig::default()),
            traffic_spike: None,
            connection_rate: None,
        };
        let set = RuleSet::new(&config).unwrap();
        assert_eq!(set.names(), vec!["port_scan"]);
        assert_eq!(set.len(), 1);
        let none = RuleSet::new(&RulesConfig {
            brute_force: None,
            port_scan: None,
            traffic_spike: None,
            connection_rate: None,
        })
        .unwrap();
        assert!(none.is_empty());
        let bad = RulesConfig {
            brute_force: Some(BruteForceConfig {
                min_failed_logins: 0,
            }),
            ..RulesConfig::default()
        };
        let err = RuleSet::new(&bad).unwrap_err();
        assert_eq!(
            err.to_string(),
            "brute_force.min_failed_logins must be at least 1, got 0"
        );
    }

    /// An observation of `count` against `threshold` that raised the count by one.
    fn seen(count: u32, threshold: u32) -> Observation {
        Observation::of(count, threshold, true)
    }

    #[test]
    fn escalation_level_is_where_the_strength_turns_red() {
        assert_eq!(escalation_level(0), None);
        assert_eq!(escalation_level(1), Some(5));
        assert_eq!(escalation_level(25), Some(125));
        for threshold in (1..=20_000u32).chain([1_000_000, 123_456_789, 858_993_459]) {
            let Some(level) = escalation_level(threshold) else {
                panic!("no level for {threshold}");
            };
            // Five times the threshold, by hand: 0.05 * t / (5 t) = 0.01.
            assert_eq!(u64::from(level), 5 * u64::from(threshold), "{threshold}");
            let t = f64::from(threshold);
            assert!(rule_strength(t, f64::from(level)) >= ESCALATION_STRENGTH);
            assert!(rule_strength(t, f64::from(level - 1)) < ESCALATION_STRENGTH);
        }
        // Five times these thresholds does not fit a u32 count.
        assert_eq!(escalation_level(858_993_460), None);
        assert_eq!(escalation_level(u32::MAX), None);
    }

    #[test]
    fn observation_marks_levels_and_exact_crossings() {
        let o = seen(20, 20);
        assert!(o.above && o.exact_crossing && !o.escalates && !o.exact_escalation);
        let o = seen(100, 20);
        assert!(o.above && o.escalates && o.exact_escalation && !o.exact_crossing);
        let o = Observation::of(100, 20, false);
        assert!(o.escalates && !o.exact_escalation);
        let o = seen(19, 20);
        assert!(!o.above && !o.escalates);
    }

    #[test]
    fn episodes_fire_once_escalate_once_and_rearm_below() {
        let w = 30_000_000;
        let mut e = Episodes::new();
        assert_eq!(e.observe(1, 0, seen(20, 20), w), Transition::Opened);
        assert_eq!(e.observe(1, 1, seen(21, 20), w), Transition::Quiet);
        assert_eq!(e.observe(1, 2, seen(100, 20), w), Transition::Escalated);
        assert_eq!(e.observe(1, 3, seen(101, 20), w), Transition::Quiet);
        assert_eq!(e.observe(1, 4, seen(500, 20), w), Transition::Quiet);
        assert_eq!(e.observe(1, 5, seen(19, 20), w), Transition::Quiet);
        assert_eq!(e.observe(1, 6, seen(20, 20), w), Transition::Opened);
        assert_eq!(e.observe(1, 7, seen(100, 20), w), Transition::Escalated);
        assert_eq!(e.observe(2, 7, seen(20, 20), w), Transition::Opened);
        assert_eq!(e.open_count(), 2);
    }

    #[test]
    fn an_episode_opening_at_red_strength_does_not_escalate_again() {
        let w = 30_000_000;
        let mut e = Episodes::new();
        assert_eq!(e.observe(1, 0, seen(150, 20), w), Transition::Opened);
        assert_eq!(e.observe(1, 1, seen(300, 20), w), Transition::Quiet);
    }

    #[test]
    fn full_episode_table_sweeps_stale_entries_then_falls_back_to_exact_crossings() {
        let mut e = Episodes::with_capacity_limit(2);
        let w = 30_000_000;
        assert_eq!(e.observe(1, 0, seen(3, 3), w), Transition::Opened);
        assert_eq!(e.observe(2, 1, seen(3, 3), w), Transition::Opened);
        // Both entries are fresh: the table stays full, so only exact crossings fire.
        assert_eq!(e.observe(3, 2, seen(4, 3), w), Transition::Quiet);
        assert_eq!(e.observe(3, 3, seen(3, 3), w), Transition::Opened);
        assert_eq!(e.observe(3, 4, seen(14, 3), w), Transition::Quiet);
        assert_eq!(e.observe(3, 5, seen(15, 3), w), Transition::Escalated);
        assert_eq!(
            e.observe(3, 6, Observation::of(15, 3, false), w),
            Transition::Quiet
        );
        assert_eq!(e.open_count(), 2);
        // Much later both entries are stale and get swept: source 4 opens a normal episode.
        assert_eq!(e.observe(4, 100_000_000, seen(4, 3), w), Transition::Opened);
        assert_eq!(e.open_count(), 1);
    }
}
