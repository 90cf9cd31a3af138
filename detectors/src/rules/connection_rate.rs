//! Connection rate: many short connection attempts from one source to authentication ports
//! within a window, what flows show of a brute force whose login outcomes are hidden (SSH,
//! RDP, ...).

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::hash::BuildHasherDefault;

use super::{
    Episodes, EventView, MAX_OPEN_EPISODES, RULE_SNAPSHOT_VERSION, Rule, RuleConfigError, RuleHit,
    SourceWindow, same_setting, secs_to_micros,
};
use crate::DetectorError;
use crate::codec::{SnapshotReader, SnapshotWriter};
use crate::detector::snapshot_error;

/// The authentication ports watched by default: SSH, Telnet, RDP, VNC, FTP, POP3, IMAP, SMB,
/// MS SQL and MySQL.
pub const DEFAULT_AUTH_PORTS: [u16; 10] = [22, 23, 3389, 5900, 21, 110, 143, 445, 1433, 3306];

/// Most connection attempts a source's window holds; beyond it the oldest are dropped (the
/// count then stays at this many, far above any threshold's escalation level).
const MAX_ATTEMPTS_PER_SOURCE: usize = 1 << 16;

/// How many ports an explanation names before it says "and N more".
const PORTS_NAMED: usize = 5;

/// Configuration of the [`ConnectionRate`] rule.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionRateConfig {
    /// Destination ports that count (default [`DEFAULT_AUTH_PORTS`]); 1 to 1024 of them.
    pub ports: Vec<u16>,
    /// Length of the event-time window, in seconds (default 60).
    pub window_secs: u32,
    /// Connection attempts from one source within the window that make an episode
    /// (default 20).
    pub min_connections: u32,
    /// A connection counts only when it lasted at most this long, in seconds (default 30):
    /// a brute-force attempt is short, an interactive session is not.
    pub max_duration_secs: f64,
}

impl Default for ConnectionRateConfig {
    fn default() -> Self {
        ConnectionRateConfig {
            ports: DEFAULT_AUTH_PORTS.to_vec(),
            window_secs: 60,
            min_connections: 20,
            max_duration_secs: 30.0,
        }
    }
}

impl ConnectionRateConfig {
    /// Checks the settings; the error names the field and the value.
    pub fn validate(&self) -> Result<(), RuleConfigError> {
        RuleConfigError::unless(
            (1..=1024).contains(&self.ports.len()),
            "connection_rate.ports",
            "must list between 1 and 1024 ports",
            &format!("{:?}", self.ports),
        )?;
        RuleConfigError::unless(
            (1..=86_400).contains(&self.window_secs),
            "connection_rate.window_secs",
            "must be between 1 and 86400",
            &self.window_secs,
        )?;
        RuleConfigError::unless(
            self.min_connections >= 1,
            "connection_rate.min_connections",
            "must be at least 1",
            &self.min_connections,
        )?;
        RuleConfigError::unless(
            self.max_duration_secs.is_finite() && self.max_duration_secs >= 0.0,
            "connection_rate.max_duration_secs",
            "must be a non-negative number of seconds",
            &self.max_duration_secs,
        )
    }
}

/// One source's connection attempts within the window: (event time, destination port),
/// oldest first.
type Attempts = VecDeque<(i64, u16)>;

/// Fires when a source's short connection attempts (events with a SYN, as flow events of a
/// TCP connection carry in `tcp_flags`) to one of the authentication ports reach
/// `min_connections` within `window_secs` of event time, and once more in the same episode at
/// the [escalation level](super::escalation_level) (five times the threshold). An attempt is
/// short when its duration is at most `max_duration_secs` (an event without a duration
/// counts). Only such attempts are observations; the episode ends at the first one that sees
/// the window below the threshold.
///
/// The rule keeps its own window per source (at most 65,536 sources: when full, sources with
/// no attempt within the window are forgotten, and new sources wait until room is made).
///
/// ```
/// use vigil_detectors::{ConnectionRate, ConnectionRateConfig, EventView, Rule, SourceId, SourceWindow};
/// let mut rule = ConnectionRate::new(ConnectionRateConfig { min_connections: 3, ..ConnectionRateConfig::default() })?;
/// let ip = "192.168.0.146".parse().unwrap();
/// let window = SourceWindow { tracked: true, counted: true, ..SourceWindow::default() };
/// let mut fired = Vec::new();
/// for n in 1..=20i64 {
///     let event = EventView {
///         time_micros: n * 1_000_000,
///         src_ip: Some(ip),
///         source: Some(SourceId::new(ip, 64)),
///         dst_port: Some(22),
///         tcp_syn: true,
///         duration_secs: Some(2.5),
///         ..EventView::default()
///     };
///     if let Some(hit) = rule.observe(&event, &window) {
///         fired.push(hit.explanation);
///     }
/// }
/// assert_eq!(fired, vec![
///     "3 short connections (at most 30 s each) to port 22 in 60 s from 192.168.0.146 (threshold 3)",
///     "15 short connections (at most 30 s each) to port 22 in 60 s from 192.168.0.146 (threshold 3, 5.0x: escalated)",
/// ]);
/// # Ok::<(), vigil_detectors::RuleConfigError>(())
/// ```
#[derive(Debug)]
pub struct ConnectionRate {
    config: ConnectionRateConfig,
    ports: BTreeSet<u16>,
    sources: HashMap<u128, Attempts, BuildHasherDefault<DefaultHasher>>,
    newest_micros: i64,
    capacity: usize,
    episodes: Episodes,
}

impl ConnectionRate {
    /// The rule's name.
    pub const NAME: &'static str = "connection_rate";

    /// Builds the rule after validating its configuration.
    pub fn new(config: ConnectionRateConfig) -> Result<ConnectionRate, RuleConfigError> {
        config.validate()?;
        Ok(ConnectionRate {
            ports: config.ports.iter().copied().collect(),
            config,
            sources: HashMap::default(),
            newest_micros: i64::MIN,
            capacity: MAX_OPEN_EPISODES,
            episodes: Episodes::new(),
        })
    }

    /// The rule with at most `capacity` sources tracked (tests of the full table).
    #[cfg(test)]
    pub(crate) fn with_capacity_limit(mut self, capacity: usize) -> ConnectionRate {
        self.capacity = capacity;
        self
    }

    /// The rule's configuration.
    pub fn config(&self) -> &ConnectionRateConfig {
        &self.config
    }

    /// Whether `event` is a short connection attempt to a watched port.
    fn qualifies(&self, event: &EventView) -> bool {
        event.tcp_syn
            && event.dst_port.is_some_and(|p| self.ports.contains(&p))
            && event
                .duration_secs
                .is_none_or(|d| d <= self.config.max_duration_secs)
    }

    /// Adds the attempt to its source's window and returns the window, or `None` when the
    /// table is full.
    fn record(&mut self, key: u128, time: i64, port: u16) -> Option<&Attempts> {
        let window = secs_to_micros(self.config.window_secs);
        self.newest_micros = self.newest_micros.max(time);
        if !self.sources.contains_key(&key) && self.sources.len() >= self.capacity {
            let horizon = self.newest_micros.saturating_sub(window);
            self.sources
                .retain(|_, a| a.back().is_some_and(|(t, _)| *t > horizon));
            if self.sources.len() >= self.capacity {
                return None;
            }
        }
        let attempts = self.sources.entry(key).or_default();
        let newest = attempts.back().map_or(time, |(t, _)| (*t).max(time));
        attempts.push_back((time, port));
        if attempts.len() > MAX_ATTEMPTS_PER_SOURCE {
            attempts.pop_front();
        }
        let horizon = newest.saturating_sub(window);
        while attempts.front().is_some_and(|(t, _)| *t <= horizon) {
            attempts.pop_front();
        }
        Some(attempts)
    }
}

/// `port 22`, `ports 22, 3389`, `ports 21, 22, 23, 110, 143 and 2 more`.
fn name_ports(ports: &BTreeSet<u16>) -> String {
    let listed: Vec<String> = ports.iter().take(PORTS_NAMED).map(u16::to_string).collect();
    let more = ports.len().saturating_sub(PORTS_NAMED);
    let noun = if ports.len() == 1 { "port" } else { "ports" };
    if more > 0 {
        format!("{noun} {} and {more} more", listed.join(", "))
    } else {
        format!("{noun} {}", listed.join(", "))
    }
}

impl Rule for ConnectionRate {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn observe(&mut self, event: &EventView, window: &SourceWindow) -> Option<RuleHit> {
        if !(window.tracked && window.counted && self.qualifies(event)) {
            return None;
        }
        let source = event.source?;
        let port = event.dst_port?;
        let attempts = self.record(source.key(), event.time_micros, port)?;
        let count = u32::try_from(attempts.len()).unwrap_or(u32::MAX);
        let ports: BTreeSet<u16> = attempts.iter().map(|(_, p)| *p).collect();
        let step = self.episodes.track(
            event,
            count,
            self.config.min_connections,
            true,
            self.config.window_secs,
        )?;
        let noun = if step.count == 1 {
            "short connection"
        } else {
            "short connections"
        };
        let what = format!(
            "{noun} (at most {} s each) to {}",
            self.config.max_duration_secs,
            name_ports(&ports)
        );
        let explanation = format!("{} {}", step.measured(&what), step.against_threshold());
        Some(step.hit(Self::NAME, explanation))
    }

    fn snapshot(&self) -> Vec<u8> {
        let mut w = SnapshotWriter::new(SNAPSHOT_TAG, RULE_SNAPSHOT_VERSION);
        let ports: Vec<u64> = self.ports.iter().map(|p| u64::from(*p)).collect();
        w.u64s(&ports);
        w.u64(u64::from(self.config.window_secs));
        w.u64(u64::from(self.config.min_connections));
        w.f64(self.config.max_duration_secs);
        w.u64(self.capacity as u64);
        w.u64(self.newest_micros as u64);
        let mut keys: Vec<u128> = self.sources.keys().copied().collect();
        keys.sort_unstable();
        w.u64(keys.len() as u64);
        for key in keys {
            w.u64((key >> 64) as u64);
            w.u64(key as u64);
            let flat: Vec<u64> = self.sources[&key]
                .iter()
                .flat_map(|(t, p)| [*t as u64, u64::from(*p)])
                .collect();
            w.u64s(&flat);
        }
        self.episodes.write(&mut w);
        w.finish()
    }

    fn restore(&mut self, bytes: &[u8]) -> Result<(), DetectorError> {
        let rule = Self::NAME;
        let mut r = SnapshotReader::new(rule, bytes, SNAPSHOT_TAG, RULE_SNAPSHOT_VERSION)?;
        let ports = r.u64s()?;
        let own: Vec<u64> = self.ports.iter().map(|p| u64::from(*p)).collect();
        same_setting(
            rule,
            "connection_rate.ports",
            format!("{ports:?}"),
            format!("{own:?}"),
        )?;
        same_setting(
            rule,
            "connection_rate.window_secs",
            r.u64()?,
            u64::from(self.config.window_secs),
        )?;
        same_setting(
            rule,
            "connection_rate.min_connections",
            r.u64()?,
            u64::from(self.config.min_connections),
        )?;
        same_setting(
            rule,
            "connection_rate.max_duration_secs",
            r.f64()?,
            self.config.max_duration_secs,
        )?;
        same_setting(rule, "the source capacity", r.u64()?, self.capacity as u64)?;
        let newest_micros = r.u64()? as i64;
        let count = r.u64()?;
        if count > self.capacity as u64 {
            return Err(snapshot_error(
                rule,
                format!(
                    "it holds {count} sources, more than the capacity {}",
                    self.capacity
                ),
            ));
        }
        let mut sources: HashMap<u128, Attempts, BuildHasherDefault<DefaultHasher>> =
            HashMap::default();
        for _ in 0..count {
            let key = (u128::from(r.u64()?) << 64) | u128::from(r.u64()?);
            let flat = r.u64s()?;
            if flat.len() % 2 != 0 || flat.len() / 2 > MAX_ATTEMPTS_PER_SOURCE {
                return Err(snapshot_error(
                    rule,
                    format!(
                        "source {key:#x} has {} numbers, not two per attempt (at most {MAX_ATTEMPTS_PER_SOURCE} attempts)",
                        flat.len()
                    ),
                ));
            }
            let mut attempts = Attempts::with_capacity(flat.len() / 2);
            for pair in flat.chunks_exact(2) {
                let port = u16::try_from(pair[1]).map_err(|_| {
                    snapshot_error(
                        rule,
                        format!("source {key:#x} has port {}, above 65535", pair[1]),
                    )
                })?;
                attempts.push_back((pair[0] as i64, port));
            }
            if sources.insert(key, attempts).is_some() {
                return Err(snapshot_error(
                    rule,
                    format!("source {key:#x} is listed twice"),
                ));
            }
        }
        let episodes = self.episodes.read(rule, &mut r)?;
        r.end()?;
        self.sources = sources;
        self.newest_micros = newest_micros;
        self.episodes = episodes;
        Ok(())
    }
}

/// Tag of this rule's snapshot.
const SNAPSHOT_TAG: [u8; 4] = *b"RCNR";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::{event, window};

    fn attempt(ip: &str, secs: i64, port: u16) -> EventView {
        EventView {
            tcp_syn: true,
            duration_secs: Some(3.0),
            ..event(ip, secs, Some(port), false)
        }
    }

    fn fire(rule: &mut ConnectionRate, events: &[EventView]) -> Vec<(usize, RuleHit)> {
        events
            .iter()
            .enumerate()
            .filter_map(|(i, e)| rule.observe(e, &window()).map(|h| (i + 1, h)))
            .collect()
    }

    #[test]
    fn fires_at_the_threshold_and_escalates_once_per_episode() {
        let mut rule = ConnectionRate::new(ConnectionRateConfig::default()).unwrap();
        let events: Vec<EventView> = (0..200)
            .map(|n| attempt("192.168.0.146", n / 4, 22))
            .collect();
        let hits = fire(&mut rule, &events);
        let at: Vec<usize> = hits.iter().map(|(n, _)| *n).collect();
        assert_eq!(at, vec![20, 100]);
        assert_eq!(hits[0].1.rule, "connection_rate");
        assert!((hits[0].1.strength - 0.95).abs() < 1e-12);
        assert_eq!(
            hits[0].1.explanation,
            "20 short connections (at most 30 s each) to port 22 in 60 s from 192.168.0.146 (threshold 20)"
        );
        assert!((hits[1].1.strength - 0.99).abs() < 1e-12);
        assert!(
            hits[1]
                .1
                .explanation
                .ends_with("(threshold 20, 5.0x: escalated)"),
            "{}",
            hits[1].1.explanation
        );
    }

    #[test]
    fn counts_only_short_syn_attempts_to_watched_ports() {
        let mut rule = ConnectionRate::new(ConnectionRateConfig {
            min_connections: 2,
            ..ConnectionRateConfig::default()
        })
        .unwrap();
        let ip = "203.0.113.9";
        let no_syn = EventView {
            tcp_syn: false,
            ..attempt(ip, 1, 22)
        };
        let long = EventView {
            duration_secs: Some(31.0),
            ..attempt(ip, 2, 22)
        };
        let web = attempt(ip, 3, 80);
        let mut late_window = window();
        late_window.counted = false;
        for e in [no_syn, no_syn, long, long, web, web] {
            assert!(rule.observe(&e, &window()).is_none());
        }
        assert!(rule.observe(&attempt(ip, 4, 22), &late_window).is_none());
        assert!(rule.observe(&attempt(ip, 5, 22), &window()).is_none());
        let hit = rule.observe(&attempt(ip, 6, 3389), &window()).unwrap();
        assert_eq!(
            hit.explanation,
            "2 short connections (at most 30 s each) to ports 22, 3389 in 60 s from 203.0.113.9 (threshold 2)"
        );
    }

    #[test]
    fn the_window_slides_in_event_time_and_ends_the_episode() {
        let mut rule = ConnectionRate::new(ConnectionRateConfig {
            min_connections: 3,
            window_secs: 10,
            ..ConnectionRateConfig::default()
        })
        .unwrap();
        let ip = "198.51.100.4";
        // Three attempts 6 s apart never share a 10 s window: no hit.
        let sparse: Vec<EventView> = [0, 6, 12, 18].iter().map(|s| attempt(ip, *s, 22)).collect();
        assert!(fire(&mut rule, &sparse).is_empty());
        // Three within 10 s fire, once for the burst; a quiet spell drains the window, the
        // first attempt after it ends the episode, and the next burst fires again.
        let bursts: Vec<EventView> = [100, 101, 102, 103, 200, 201, 202]
            .iter()
            .map(|s| attempt(ip, *s, 22))
            .collect();
        let at: Vec<usize> = fire(&mut rule, &bursts).iter().map(|(n, _)| *n).collect();
        assert_eq!(at, vec![3, 7]);
    }

    #[test]
    fn sources_are_counted_apart() {
        let mut rule = ConnectionRate::new(ConnectionRateConfig {
            min_connections: 3,
            ..ConnectionRateConfig::default()
        })
        .unwrap();
        let events: Vec<EventView> = (0..4)
            .flat_map(|n| [attempt("192.0.2.1", n, 22), attempt("192.0.2.2", n, 22)])
            .collect();
        let hits = fire(&mut rule, &events);
        assert_eq!(hits.len(), 2);
        assert!(
            hits[0]
                .1
                .explanation
                .ends_with("from 192.0.2.1 (threshold 3)")
        );
        assert!(
            hits[1]
                .1
                .explanation
                .ends_with("from 192.0.2.2 (threshold 3)")
        );
    }

    #[test]
    fn a_full_table_forgets_quiet_sources_first() {
        let mut rule = ConnectionRate::new(ConnectionRateConfig {
            min_connections: 2,
            window_secs: 10,
            ..ConnectionRateConfig::default()
        })
        .unwrap()
        .with_capacity_limit(1);
        assert!(
            rule.observe(&attempt("192.0.2.1", 0, 22), &window())
                .is_none()
        );
        // The table is full with a source active within the window: the second waits.
        assert!(
            rule.observe(&attempt("192.0.2.2", 1, 22), &window())
                .is_none()
        );
        assert!(
            rule.observe(&attempt("192.0.2.2", 2, 22), &window())
                .is_none()
        );
        // Past the first source's window it is forgotten and the second is tracked.
        assert!(
            rule.observe(&attempt("192.0.2.2", 20, 22), &window())
                .is_none()
        );
        assert!(
            rule.observe(&attempt("192.0.2.2", 21, 22), &window())
                .is_some()
        );
    }

    #[test]
    fn config_errors_name_the_field() {
        let cases = [
            (
                ConnectionRateConfig {
                    ports: vec![],
                    ..ConnectionRateConfig::default()
                },
                "connection_rate.ports",
            ),
            (
                ConnectionRateConfig {
                    window_secs: 0,
                    ..ConnectionRateConfig::default()
                },
                "connection_rate.window_secs",
            ),
            (
                ConnectionRateConfig {
                    min_connections: 0,
                    ..ConnectionRateConfig::default()
                },
                "connection_rate.min_connections",
            ),
            (
                ConnectionRateConfig {
                    max_duration_secs: f64::NAN,
                    ..ConnectionRateConfig::default()
                },
                "connection_rate.max_duration_secs",
            ),
        ];
        for (config, field) in cases {
            let err = ConnectionRate::new(config).unwrap_err();
            assert_eq!(err.field, field);
        }
    }

    #[test]
    fn snapshot_restores_the_windows_and_episodes_and_refuses_other_settings() {
        let config = ConnectionRateConfig {
            min_connections: 3,
            ..ConnectionRateConfig::default()
        };
        let mut rule = ConnectionRate::new(config.clone()).unwrap();
        for s in 0..4 {
            rule.observe(&attempt("192.0.2.7", s, 22), &window());
        }
        rule.observe(&attempt("192.0.2.8", 4, 3389), &window());
        let bytes = rule.snapshot();
        let mut resumed = ConnectionRate::new(config.clone()).unwrap();
        resumed.restore(&bytes).unwrap();
        assert_eq!(resumed.snapshot(), bytes);
        // Both continue alike: the second source fires at its third attempt, on both.
        for s in 5..7 {
            let a = rule.observe(&attempt("192.0.2.8", s, 3389), &window());
            let b = resumed.observe(&attempt("192.0.2.8", s, 3389), &window());
            assert_eq!(a, b);
        }
        assert_eq!(rule.snapshot(), resumed.snapshot());
        let mut other = ConnectionRate::new(ConnectionRateConfig {
            window_secs: 30,
            ..config
        })
        .unwrap();
        let err = other.restore(&bytes).unwrap_err().to_string();
        assert!(err.contains("connection_rate.window_secs"), "{err}");
        assert!(other.restore(&bytes[..bytes.len() - 3]).is_err());
    }
}
