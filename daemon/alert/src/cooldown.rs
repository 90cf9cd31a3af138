//! Aggregation of repeats: one open alert per source and detector within the cooldown.

use std::collections::HashMap;
use std::net::IpAddr;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::{Alert, Severity};

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
/// an offer drops every cooldown that has passed as of the newest event time offered. Its serde
/// form (entries sorted by source, detector and time) goes into checkpoints.
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "CooldownsState", from = "CooldownsState")]
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

    /// The open alerts, sorted by source, detector and opening time.
    pub fn open_alerts(&self) -> Vec<&OpenAlert> {
        let mut all: Vec<&OpenAlert> = self.open.values().flatten().collect();
        all.sort_by(|a, b| {
            (a.src_ip, &a.detector, a.opened_at).cmp(&(b.src_ip, &b.detector, b.opened_at))
        });
        all
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

/// The serde form of [`Cooldowns`]: plain, sorted, so equal states give equal bytes.
#[derive(Serialize, Deserialize)]
struct CooldownsState {
    cooldown_secs: i64,
    newest: Option<DateTime<Utc>>,
    open: Vec<OpenAlert>,
}

impl From<Cooldowns> for CooldownsState {
    fn from(cooldowns: Cooldowns) -> CooldownsState {
        CooldownsState {
            cooldown_secs: cooldowns.cooldown.num_seconds(),
            newest: cooldowns.newest,
            open: cooldowns.open_alerts().into_iter().cloned().collect(),
        }
    }
}

impl From<CooldownsState> for Cooldowns {
    fn from(state: CooldownsState) -> Cooldowns {
        let mut cooldowns = Cooldowns::new(u64::try_from(state.cooldown_secs).unwrap_or(0));
        cooldowns.newest = state.newest;
        for open in state.open {
            let slots = cooldowns.open.entry(open.src_ip).or_default();
            match slots.iter_mut().find(|held| held.detector == open.detector) {
                // A hand-edited state may repeat a key; the later opening wins, as in `offer`.
                Some(held) => *held = open,
                None => {
                    slots.push(open);
                    cooldowns.entries += 1;
                }
            }
        }
        cooldowns.prune_at = MIN_PRUNE_AT.max(cooldowns.entries.saturating_mul(2));
        cooldowns
    }
}
