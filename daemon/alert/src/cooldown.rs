//! Aggregation of repeats: one open alert per source and detector within the cooldown.

use std::collections::HashMap;
use std::net::IpAddr;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::{Alert, AlertError, Severity};

/// The open alert of one source and detector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenAlert {
    /// The source address.
    pub src_ip: IpAddr,
    /// The detector.
    pub detector: String,
    /// Id of the alert that repeats are counted into.
    pub id: String,
    /// Event time of the alert that opened it: the cooldown runs from here.
    pub opened_at: DateTime<Utc>,
    /// Its severity: a repeat at a higher one opens a new alert.
    pub severity: Severity,
}

/// What to do with a fresh alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregation<'a> {
    /// Store and send it: it opened (or re-opened) the cooldown of its source and detector.
    New,
    /// Count it into the open alert with this id ([`Alert::record_repeat`]); do not send it.
    Repeat {
        /// Id of the open alert.
        open_id: &'a str,
    },
}

/// Below this many open alerts, offers never prune.
const MIN_PRUNE_AT: usize = 1024;

/// The cooldowns of the alert actor: repeats from one source and detector within
/// `alert_cooldown_secs` of the alert that opened the cooldown are counted into that alert
/// instead of becoming alerts of their own.
///
/// # Rules
/// - The key is the source address and the detector. An alert without a source address is
///   always new: there is no source to aggregate by.
/// - The cooldown is a fixed span of event time from the alert that opened it, in both
///   directions (a late event just before the opener is the same burst). When it has passed,
///   the next alert opens a new one, so a long attack shows up once per cooldown, not once
///   ever.
/// - A repeat at a *higher* severity than the open alert is new: an ORANGE brute force that
///   escalates to RED must reach the outputs that only take RED (the webhook).
/// - A cooldown of 0 aggregates nothing.
///
/// Only event times are read, so a replay aggregates exactly like the live run. The state is
/// bounded: once more than twice the open alerts of the last pruning (at least 1,024) are held,
/// an offer drops every cooldown that has passed as of the newest event time offered.
///
/// # Snapshots
/// [`snapshot`](Self::snapshot) and [`restore`](Self::restore) carry everything that decides
/// later offers: the cooldown, the newest event time offered, the open alerts and the size at
/// which the next offer prunes (pruning drops cooldowns that a late alert could still have
/// repeated into, so when it happens changes decisions). A restored `Cooldowns` decides every
/// following offer exactly as the one snapshotted. The snapshot is the serde form, as JSON: a
/// `format` (`"vigil-cooldowns"`) and `version` (1), `cooldown_secs` and
/// `cooldown_subsec_nanos`, `newest` and the `opened_at` times in RFC 3339 with every digit
/// chrono keeps, `prune_at`, and the open alerts sorted by source, detector and time, so equal
/// states give equal bytes.
///
/// ```
/// use std::sync::Arc;
/// use vigil_alert::{Aggregation, Alert, Cooldowns, Severity};
/// use vigil_sensors::{Event, EventKind, Origin, Sensor};
/// let mut cooldowns = Cooldowns::new(60);
/// let mut alert_at = |offset: u64, secs: i64| {
///     let origin = Origin { source: Arc::from("cowrie.json"), offset, round: 0 };
///     let mut event = Event::new(chrono::DateTime::UNIX_EPOCH + chrono::TimeDelta::seconds(secs),
///                                Sensor::Cowrie, Arc::from("hp-1"), EventKind::LoginFailed, origin);
///     event.src_ip = Some("203.0.113.7".parse().unwrap());
///     Alert::new(&event, "brute_force", 0.96, Severity::Orange, "…".into()).unwrap()
/// };
/// let first = alert_at(0, 0);
/// assert_eq!(cooldowns.offer(&first), Aggregation::New);
/// assert_eq!(cooldowns.offer(&alert_at(100, 30)), Aggregation::Repeat { open_id: &first.id });
/// assert_eq!(cooldowns.offer(&alert_at(200, 60)), Aggregation::New); // the cooldown has passed
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(into = "CooldownsState", try_from = "CooldownsState")]
pub struct Cooldowns {
    cooldown: TimeDelta,
    open: HashMap<IpAddr, Vec<OpenAlert>>,
    entries: usize,
    newest: Option<DateTime<Utc>>,
    prune_at: usize,
}

impl Cooldowns {
    /// Cooldowns of `cooldown_secs` seconds of event time (`alert_cooldown_secs`).
    pub fn new(cooldown_secs: u64) -> Cooldowns {
        let secs = i64::try_from(cooldown_secs).unwrap_or(i64::MAX);
        Cooldowns {
            cooldown: TimeDelta::try_seconds(secs).unwrap_or(TimeDelta::MAX),
            open: HashMap::new(),
            entries: 0,
            newest: None,
            prune_at: MIN_PRUNE_AT,
        }
    }

    /// The cooldown.
    pub fn cooldown(&self) -> TimeDelta {
        self.cooldown
    }

    /// Number of open alerts held.
    pub fn len(&self) -> usize {
        self.entries
    }

    /// Whether no alert is open.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Decides whether `alert` is new or a repeat, and opens a cooldown for it when new.
    pub fn offer(&mut self, alert: &Alert) -> Aggregation<'_> {
        let Some(src_ip) = alert.src_ip else {
            return Aggregation::New;
        };
        let time = alert.event_time;
        self.newest = Some(self.newest.map_or(time, |newest| newest.max(time)));
        if self.entries > self.prune_at
            && let Some(newest) = self.newest
        {
            self.prune(newest);
            self.prune_at = MIN_PRUNE_AT.max(self.entries.saturating_mul(2));
        }
        let cooldown = self.cooldown;
        let slots = self.open.entry(src_ip).or_default();
        match slots
            .iter()
            .position(|open| open.detector == alert.detector)
        {
            Some(index) => {
                let open = &slots[index];
                let within = (time - open.opened_at).abs() < cooldown;
                if within && alert.severity <= open.severity {
                    return Aggregation::Repeat {
                        open_id: &slots[index].id,
                    };
                }
                slots[index] = open_alert(src_ip, alert);
            }
            None => {
                slots.push(open_alert(src_ip, alert));
                self.entries += 1;
            }
        }
        Aggregation::New
    }

    /// Drops every cooldown that has passed as of event time `now`; returns how many.
    pub fn prune(&mut self, now: DateTime<Utc>) -> usize {
        let cooldown = self.cooldown;
        let mut dropped = 0;
        self.open.retain(|_, slots| {
            let before = slots.len();
            slots.retain(|open| now - open.opened_at < cooldown);
            dropped += before - slots.len();
            !slots.is_empty()
        });
        self.entries -= dropped;
        dropped
    }

    /// The state as bytes for a checkpoint: the serde form as JSON (see
    /// [Snapshots](Self#snapshots)).
    ///
    /// ```
    /// use vigil_alert::Cooldowns;
    /// let cooldowns = Cooldowns::new(300);
    /// let bytes = cooldowns.snapshot();
    /// assert!(bytes.starts_with(br#"{"format":"vigil-cooldowns","version":1,"cooldown_secs":300,"#));
    /// let restored = Cooldowns::restore_for(300, &bytes)?;
    /// assert_eq!(restored, cooldowns);
    /// assert_eq!(
    ///     Cooldowns::restore_for(60, &bytes).unwrap_err().to_string(),
    ///     "cannot restore alert cooldowns: it was taken with a cooldown of 300 s, the configuration has 60 s"
    /// );
    /// # Ok::<(), vigil_alert::AlertError>(())
    /// ```
    pub fn snapshot(&self) -> Vec<u8> {
        // A struct of strings, numbers and sorted lists: serde_json cannot fail on it.
        serde_json::to_vec(&CooldownsState::from(self)).unwrap_or_default()
    }

    /// The cooldowns a [`snapshot`](Self::snapshot) holds, with the snapshot's cooldown (see
    /// [`restore_for`](Self::restore_for) to hold it to the configured one).
    ///
    /// # Errors
    /// [`AlertError::Snapshot`] naming the offending value: bytes that are not JSON of the
    /// snapshot's shape, another format or version, a negative or out-of-range cooldown, a
    /// pruning size below the minimum, an open alert repeated for one source and detector, or
    /// one opened after the newest event time.
    pub fn restore(bytes: &[u8]) -> Result<Cooldowns, AlertError> {
        let state: CooldownsState =
            serde_json::from_slice(bytes).map_err(|error| AlertError::Snapshot {
                reason: format!("it is not a cooldown snapshot: {error}"),
            })?;
        Cooldowns::try_from(state)
    }

    /// Like [`restore`](Self::restore), and refuses a snapshot taken with another cooldown
    /// than `cooldown_secs` (the configured `alert_cooldown_secs`).
    ///
    /// # Errors
    /// As [`restore`](Self::restore), and [`AlertError::Snapshot`] naming both cooldowns.
    pub fn restore_for(cooldown_secs: u64, bytes: &[u8]) -> Result<Cooldowns, AlertError> {
        let restored = Cooldowns::restore(bytes)?;
        let configured = Cooldowns::new(cooldown_secs).cooldown;
        if restored.cooldown != configured {
            return Err(AlertError::Snapshot {
                reason: format!(
                    "it was taken with a cooldown of {} s, the configuration has {} s",
                    show_secs(restored.cooldown),
                    show_secs(configured)
                ),
            });
        }
        Ok(restored)
    }

    /// The open alerts, sorted by source, detector and opening time.
    pub fn open_alerts(&self) -> Vec<&OpenAlert> {
        let mut all: Vec<&OpenAlert> = self.open.values().flatten().collect();
        all.sort_by(|a, b| {
            (a.src_ip, &a.detector, a.opened_at).cmp(&(b.src_ip, &b.detector, b.opened_at))
        });
        all
    }
}

/// Equal when every later offer is decided alike: same cooldown, newest event time, pruning
/// point and open alerts (in whatever order a source's alerts are held).
impl PartialEq for Cooldowns {
    fn eq(&self, other: &Cooldowns) -> bool {
        self.cooldown == other.cooldown
            && self.newest == other.newest
            && self.prune_at == other.prune_at
            && self.entries == other.entries
            && self.open_alerts() == other.open_alerts()
    }
}

fn open_alert(src_ip: IpAddr, alert: &Alert) -> OpenAlert {
    OpenAlert {
        src_ip,
        detector: alert.detector.clone(),
        id: alert.id.clone(),
        opened_at: alert.event_time,
        severity: alert.severity,
    }
}

/// A duration in seconds, with its fraction when it has one.
fn show_secs(span: TimeDelta) -> String {
    match span.subsec_nanos() {
        0 => span.num_seconds().to_string(),
        nanos => format!("{}.{:09}", span.num_seconds(), nanos),
    }
}

/// What the serde form says it is.
const STATE_FORMAT: &str = "vigil-cooldowns";
/// The serde form's version this build writes and reads.
const STATE_VERSION: u32 = 1;

/// The serde form of [`Cooldowns`]: plain, sorted, so equal states give equal bytes.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CooldownsState {
    format: String,
    version: u32,
    cooldown_secs: i64,
    cooldown_subsec_nanos: u32,
    newest: Option<DateTime<Utc>>,
    prune_at: usize,
    open: Vec<OpenAlert>,
}

impl From<&Cooldowns> for CooldownsState {
    fn from(cooldowns: &Cooldowns) -> CooldownsState {
        CooldownsState {
            format: STATE_FORMAT.to_string(),
            version: STATE_VERSION,
            cooldown_secs: cooldowns.cooldown.num_seconds(),
            cooldown_subsec_nanos: cooldowns.cooldown.subsec_nanos().unsigned_abs(),
            newest: cooldowns.newest,
            prune_at: cooldowns.prune_at,
            open: cooldowns.open_alerts().into_iter().cloned().collect(),
        }
    }
}

impl From<Cooldowns> for CooldownsState {
    fn from(cooldowns: Cooldowns) -> CooldownsState {
        CooldownsState::from(&cooldowns)
    }
}

impl TryFrom<CooldownsState> for Cooldowns {
    type Error = AlertError;

    fn try_from(state: CooldownsState) -> Result<Cooldowns, AlertError> {
        let refuse = |reason: String| Err(AlertError::Snapshot { reason });
        if state.format != STATE_FORMAT {
            return refuse(format!(
                "its format is {:?}, not {STATE_FORMAT:?}",
                state.format
            ));
        }
        if state.version != STATE_VERSION {
            return refuse(format!(
                "format version {} is not the supported version {STATE_VERSION}",
                state.version
            ));
        }
        let cooldown = match TimeDelta::new(state.cooldown_secs, state.cooldown_subsec_nanos) {
            Some(cooldown) if cooldown >= TimeDelta::zero() => cooldown,
            _ => {
                return refuse(format!(
                    "cooldown {} s and {} ns is not a non-negative duration",
                    state.cooldown_secs, state.cooldown_subsec_nanos
                ));
            }
        };
        if state.prune_at < MIN_PRUNE_AT {
            return refuse(format!(
                "prune_at {} is below the minimum {MIN_PRUNE_AT}",
                state.prune_at
            ));
        }
        let mut cooldowns = Cooldowns::new(0);
        cooldowns.cooldown = cooldown;
        cooldowns.newest = state.newest;
        cooldowns.prune_at = state.prune_at;
        for open in state.open {
            // Every opener was offered, so the newest event time is at least its time.
            if cooldowns
                .newest
                .is_none_or(|newest| open.opened_at > newest)
            {
                return refuse(format!(
                    "alert {} opened at {}, after the newest event time {:?}",
                    open.id, open.opened_at, cooldowns.newest
                ));
            }
            let slots = cooldowns.open.entry(open.src_ip).or_default();
            if slots.iter().any(|held| held.detector == open.detector) {
                return refuse(format!(
                    "source {} has two open alerts of detector {:?}",
                    open.src_ip, open.detector
                ));
            }
            slots.push(open);
            cooldowns.entries += 1;
        }
        Ok(cooldowns)
    }
}

#[cfg(test)]
mod snapshot_tests {
    use std::sync::Arc;

    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use vigil_sensors::{Event, EventKind, Origin, Sensor};

    use super::*;

    const T0: i64 = 1_700_000_000;

    /// A seeded alert stream: 3,000 sources (so that more than 1,024 cooldowns are open and
    /// offers prune), four detectors, ORANGE alerts escalating to RED, late alerts up to seven
    /// minutes old, quiet gaps, and alerts without a source.
    fn alerts(seed: u64, n: usize) -> Vec<Alert> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let detectors = ["brute_force", "port_scan", "traffic_spike", "hst"];
        let mut clock = T0 * 1_000_000;
        (0..n)
            .map(|i| {
                clock += match rng.random_range(0..100) {
                    0..=89 => rng.random_range(0..400_000),
                    90..=98 => 0,
                    _ => rng.random_range(60_000_000..900_000_000),
                };
                let time = if rng.random_bool(0.15) {
                    clock - rng.random_range(0..420_000_000)
                } else {
                    clock
                };
                let origin = Origin {
                    source: Arc::from("cowrie.json"),
                    offset: i as u64,
                    round: 0,
                };
                let mut event = Event::new(
                    DateTime::from_timestamp_micros(time).unwrap_or_default(),
                    Sensor::Cowrie,
                    Arc::from("hp-1"),
                    EventKind::LoginFailed,
                    origin,
                );
                let source = if rng.random_bool(0.3) {
                    rng.random_range(0..20u32)
                } else {
                    rng.random_range(0..3_000u32)
                };
                event.src_ip = (!rng.random_bool(0.02))
                    .then(|| IpAddr::from(std::net::Ipv4Addr::from(0xcb00_7100 + source)));
                let (score, severity) = if rng.random_bool(0.2) {
                    (0.995, Severity::Red)
                } else {
                    (0.96, Severity::Orange)
                };
                let detector = detectors[rng.random_range(0..detectors.len())];
                Alert::new(&event, detector, score, severity, "…".into())
                    .unwrap_or_else(|e| panic!("{e}"))
            })
            .collect()
    }

    /// `None` for a new alert, the open alert's id for a repeat.
    fn decide(cooldowns: &mut Cooldowns, alert: &Alert) -> Option<String> {
        match cooldowns.offer(alert) {
            Aggregation::New => None,
            Aggregation::Repeat { open_id } => Some(open_id.to_string()),
        }
    }

    struct Run {
        decisions: Vec<Option<String>>,
        sizes: Vec<usize>,
        snapshots: Vec<(usize, Vec<u8>)>,
        last: Vec<u8>,
    }

    fn run(stream: &[Alert], splits: &[usize]) -> Run {
        let mut cooldowns = Cooldowns::new(300);
        let mut out = Run {
            decisions: Vec::new(),
            sizes: Vec::new(),
            snapshots: Vec::new(),
            last: Vec::new(),
        };
        for (i, alert) in stream.iter().enumerate() {
            if splits.contains(&i) {
                out.snapshots.push((i, cooldowns.snapshot()));
            }
            out.decisions.push(decide(&mut cooldowns, alert));
            out.sizes.push(cooldowns.len());
        }
        out.last = cooldowns.snapshot();
        out
    }

    fn resume(cooldowns: &mut Cooldowns, stream: &[Alert]) -> (Vec<Option<String>>, Vec<usize>) {
        stream
            .iter()
            .map(|alert| (decide(cooldowns, alert), cooldowns.len()))
            .unzip()
    }

    #[test]
    fn restored_cooldowns_decide_exactly_as_uninterrupted_ones() {
        let stream = alerts(1, 30_000);
        let splits = [0, 1, 2_000, 7_777, 15_000, 22_222, 29_999];
        let all = run(&stream, &splits);
        let repeats = all.decisions.iter().flatten().count();
        let prunes = all.sizes.windows(2).filter(|w| w[1] < w[0]).count();
        assert!(repeats > 2_000, "only {repeats} repeats");
        assert!(prunes > 5, "only {prunes} prunings");
        assert!(all.sizes.iter().any(|n| *n > MIN_PRUNE_AT));
        for (at, bytes) in &all.snapshots {
            let mut resumed =
                Cooldowns::restore_for(300, bytes).unwrap_or_else(|e| panic!("split {at}: {e}"));
            assert_eq!(&resumed.snapshot(), bytes, "split {at}: re-snapshot");
            let (decisions, sizes) = resume(&mut resumed, &stream[*at..]);
            if let Some(i) = decisions
                .iter()
                .zip(&all.decisions[*at..])
                .position(|(a, b)| a != b)
            {
                panic!("split {at}: alert {} decided differently", at + i);
            }
            assert!(sizes == all.sizes[*at..], "split {at}: sizes differ");
            assert!(resumed.snapshot() == all.last, "split {at}: final state");
        }
    }

    #[test]
    fn the_split_test_notices_a_lost_pruning_point() {
        // Control: the same open alerts with the pruning point recomputed from their number (as
        // the serde form did before it carried it) decide some late alert differently.
        let stream = alerts(1, 30_000);
        let splits: Vec<usize> = (1..30).map(|k| k * 1_000).collect();
        let all = run(&stream, &splits);
        let mut noticed = 0;
        for (at, bytes) in &all.snapshots {
            let mut resumed = Cooldowns::restore(bytes).unwrap_or_else(|e| panic!("{e}"));
            let recomputed = MIN_PRUNE_AT.max(resumed.entries.saturating_mul(2));
            if recomputed == resumed.prune_at {
                continue;
            }
            resumed.prune_at = recomputed;
            let (decisions, _) = resume(&mut resumed, &stream[*at..]);
            if decisions != all.decisions[*at..] {
                noticed += 1;
            }
        }
        assert!(noticed > 0, "the pruning point never changed a decision");
    }

    #[test]
    fn bad_snapshots_are_refused_naming_the_value() {
        let stream = alerts(2, 60);
        let mut cooldowns = Cooldowns::new(300);
        for alert in &stream {
            cooldowns.offer(alert);
        }
        let bytes = cooldowns.snapshot();
        for len in 0..bytes.len() {
            assert!(
                Cooldowns::restore(&bytes[..len]).is_err(),
                "a snapshot cut to {len} bytes was accepted"
            );
        }
        let text = String::from_utf8(bytes.clone()).unwrap_or_default();
        let reason = |text: &str| match Cooldowns::restore(text.as_bytes()) {
            Err(AlertError::Snapshot { reason }) => reason,
            other => panic!("expected a snapshot error, got {other:?}"),
        };
        let edit = |from: &str, to: &str| {
            assert!(text.contains(from), "{from}");
            text.replacen(from, to, 1)
        };
        assert_eq!(
            reason(&edit("\"vigil-cooldowns\"", "\"vigil-windows\"")),
            "its format is \"vigil-windows\", not \"vigil-cooldowns\""
        );
        assert_eq!(
            reason(&edit("\"version\":1", "\"version\":2")),
            "format version 2 is not the supported version 1"
        );
        assert_eq!(
            reason(&edit("\"cooldown_secs\":300", "\"cooldown_secs\":-5")),
            "cooldown -5 s and 0 ns is not a non-negative duration"
        );
        assert_eq!(
            reason(&edit(
                "\"cooldown_subsec_nanos\":0",
                "\"cooldown_subsec_nanos\":1000000000"
            )),
            "cooldown 300 s and 1000000000 ns is not a non-negative duration"
        );
        let prune_at = format!("\"prune_at\":{}", cooldowns.prune_at);
        assert_eq!(
            reason(&edit(&prune_at, "\"prune_at\":1000")),
            "prune_at 1000 is below the minimum 1024"
        );
        assert!(reason(&edit("\"newest\":", "\"newest_at\":")).contains("unknown field"));
        assert!(reason("[]").starts_with("it is not a cooldown snapshot: "));
        // An open alert repeated, and one opened after the newest event time.
        let open = cooldowns.open_alerts()[0].clone();
        let mut state = CooldownsState::from(&cooldowns);
        state.open.push(open.clone());
        let twice = serde_json::to_string(&state).unwrap_or_default();
        assert_eq!(
            reason(&twice),
            format!(
                "source {} has two open alerts of detector {:?}",
                open.src_ip, open.detector
            )
        );
        let mut state = CooldownsState::from(&cooldowns);
        state.open[0].opened_at = cooldowns.newest.unwrap_or_default() + TimeDelta::seconds(1);
        let later = serde_json::to_string(&state).unwrap_or_default();
        assert!(reason(&later).contains("after the newest event time"));
        // The right bytes under another configured cooldown.
        assert_eq!(
            Cooldowns::restore_for(60, &bytes).map(|_| ()),
            Err(AlertError::Snapshot {
                reason: "it was taken with a cooldown of 300 s, the configuration has 60 s"
                    .to_string()
            })
        );
        assert_eq!(Cooldowns::restore_for(300, &bytes).as_ref(), Ok(&cooldowns));
    }

    #[test]
    fn extreme_times_and_cooldowns_round_trip() {
        let mut cooldowns = Cooldowns::new(u64::MAX);
        for (i, time) in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC]
            .into_iter()
            .enumerate()
        {
            let origin = Origin {
                source: Arc::from("x"),
                offset: i as u64,
                round: 0,
            };
            let mut event = Event::new(
                time,
                Sensor::Demo,
                Arc::from("hp"),
                EventKind::Other,
                origin,
            );
            event.src_ip = "2001:db8::1".parse().ok();
            let alert = Alert::new(
                &event,
                if i == 0 { "a" } else { "b" },
                0.5,
                Severity::Green,
                String::new(),
            )
            .unwrap_or_else(|e| panic!("{e}"));
            cooldowns.offer(&alert);
        }
        let bytes = cooldowns.snapshot();
        let back = Cooldowns::restore(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, cooldowns);
        assert_eq!(back.cooldown(), TimeDelta::MAX);
        assert_eq!(back.snapshot(), bytes);
    }
}
