//! The generator: schedules sessions, drift and attacks, and hands out events in time order.

use std::net::IpAddr;

use chrono::{DateTime, Datelike, Timelike, Utc};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use vigil_sensors::Event;

use crate::config::{AttackKind, DemoConfig, DemoConfigError};
use crate::draw::{Draw, MICROS, micros};
use crate::model::{AddressBook, DAY_SECS, Host, HostClass, Site, populate};
use crate::traffic::{Ctx, Queue};
use crate::vocab::{Truth, Vocabulary};

/// A spike multiplies the host's current rate by a factor in this range.
const SPIKE_FACTOR: (f64, f64) = (15.0, 30.0);
/// A spiking host sends at least this many events per second, so that a spike at night,
/// when its usual rate is near zero, is still a spike.
const SPIKE_MIN_EVENTS_PER_SEC: f64 = 2.0;
/// Length of a spike, event-time seconds.
const SPIKE_SECS: (f64, f64) = (120.0, 360.0);
/// Hosts in a spiking group.
const SPIKE_HOSTS: (u64, u64) = (1, 3);

/// Seeded, deterministic synthetic traffic of a small honeypot site, with labelled attacks
/// and a lasting change of normal behaviour.
///
/// Events come out in non-decreasing event time; `origin.offset` numbers them from 0. The
/// generator never looks at the wall clock: to play the stream in real time, pace it with a
/// [`Pacer`](crate::Pacer).
///
/// ```
/// use vigil_demo::{DemoConfig, DemoGenerator};
/// let config = DemoConfig { duration_secs: Some(60.0), ..DemoConfig::default() };
/// let events: Vec<_> = DemoGenerator::new(config)?.collect();
/// assert!(events.windows(2).all(|w| w[0].event_time <= w[1].event_time));
/// assert!(events.iter().all(|e| e.label.is_some()));
/// # Ok::<(), vigil_demo::DemoConfigError>(())
/// ```
#[derive(Debug)]
pub struct DemoGenerator {
    config: DemoConfig,
    draw: Draw,
    vocab: Vocabulary,
    site: Site,
    hosts: Vec<Host>,
    /// Cumulative `session_rate * curve.max()` over `hosts`, for picking candidates.
    host_pick: Vec<f64>,
    /// Mean gap between candidate sessions, seconds (thinned by each host's curve).
    candidate_gap_secs: f64,
    internal_hosts: Vec<usize>,
    devices: Vec<Host>,
    /// Mean gap between drift sessions at full share, seconds.
    drift_gap_secs: f64,
    addresses: AddressBook,
    queue: Queue,
    next_session: i64,
    next_drift: Option<i64>,
    next_attack: Option<i64>,
    /// Attack kinds left in the current shuffled round.
    attack_round: Vec<AttackKind>,
    /// Seconds from the Monday 00:00 UTC before `start` to `start`.
    start_week_secs: f64,
    end: i64,
    emitted: u64,
    finished: bool,
}

impl DemoGenerator {
    /// Builds the site and its hosts from `config`, after validating it.
    pub fn new(config: DemoConfig) -> Result<Self, DemoConfigError> {
        config.validate()?;
        let mut draw = Draw::new(ChaCha8Rng::seed_from_u64(config.seed));
        let population = populate(&mut draw, config.normal_hosts, config.mean_events_per_sec);
        let mut host_pick = Vec::with_capacity(population.hosts.len());
        let mut candidate_rate = 0.0;
        for host in &population.hosts {
            candidate_rate += host.session_rate() * host.curve.max();
            host_pick.push(candidate_rate);
        }
        let internal_hosts = population
            .hosts
            .iter()
            .enumerate()
            .filter(|(_, host)| host.class == HostClass::InternalClient)
            .map(|(index, _)| index)
            .collect();

        let share = config.drift_share;
        let drift_events_per_sec = share / (1.0 - share) * config.mean_events_per_sec;
        let drift_events_per_session = population
            .devices
            .first()
            .map_or(1.0, |device| device.events_per_session);
        let drift_gap_secs = drift_events_per_session / drift_events_per_sec;
        let next_drift = (share > 0.0 && !population.devices.is_empty())
            .then(|| micros(config.drift_after_secs));

        let next_attack = (!config.attack_kinds.is_empty())
            .then(|| micros(draw.uniform(0.1, 1.0) * config.first_attack_within_secs));

        let start = config.start;
        let start_week_secs = f64::from(start.weekday().num_days_from_monday()) * DAY_SECS
            + f64::from(start.num_seconds_from_midnight())
            + f64::from(start.nanosecond()) / 1e9;
        let end = config.duration_secs.map_or(i64::MAX, micros);
        let vocab = Vocabulary::new(start, &config.sensor_id);
        let next_session = micros(draw.exponential(1.0 / candidate_rate));

        Ok(DemoGenerator {
            draw,
            vocab,
            site: population.site,
            hosts: population.hosts,
            host_pick,
            candidate_gap_secs: 1.0 / candidate_rate,
            internal_hosts,
            devices: population.devices,
            drift_gap_secs,
            addresses: population.addresses,
            queue: Queue::default(),
            next_session,
            next_drift,
            next_attack,
            attack_round: Vec::new(),
            start_week_secs,
            end,
            emitted: 0,
            finished: false,
            config,
        })
    }

    /// The settings this generator was built from.
    pub fn config(&self) -> &DemoConfig {
        &self.config
    }

    /// How many events have been handed out so far (the next event's `origin.offset`).
    pub fn events_emitted(&self) -> u64 {
        self.emitted
    }

    /// Event time of the next event, without taking it; `None` once the stream has ended.
    ///
    /// Takes `&mut self` because finding the next event may mean generating the sessions
    /// that start before it.
    pub fn peek_time(&mut self) -> Option<DateTime<Utc>> {
        self.ready().map(|micros| self.vocab.time(micros))
    }

    /// Appends up to `max` events to `out`; returns how many were appended (fewer only at
    /// the end of the stream).
    ///
    /// ```
    /// use vigil_demo::{DemoConfig, DemoGenerator};
    /// let mut generator = DemoGenerator::new(DemoConfig::default())?;
    /// let mut batch = Vec::new();
    /// assert_eq!(generator.fill(1024, &mut batch), 1024);
    /// assert_eq!(batch[1023].origin.offset, 1023);
    /// # Ok::<(), vigil_demo::DemoConfigError>(())
    /// ```
    pub fn fill(&mut self, max: usize, out: &mut Vec<Event>) -> usize {
        let before = out.len();
        out.extend(self.by_ref().take(max));
        out.len() - before
    }

    /// Appends up to `max` events whose event time is at or before `until`; returns how
    /// many were appended. With a [`Pacer`](crate::Pacer), this releases what is due.
    ///
    /// ```
    /// use vigil_demo::{DemoConfig, DemoGenerator};
    /// let config = DemoConfig::default();
    /// let until = config.start + chrono::TimeDelta::seconds(10);
    /// let mut generator = DemoGenerator::new(config)?;
    /// let mut batch = Vec::new();
    /// generator.fill_until(until, usize::MAX, &mut batch);
    /// assert!(batch.iter().all(|e| e.event_time <= until));
    /// assert!(generator.peek_time().is_some_and(|next| next > until));
    /// # Ok::<(), vigil_demo::DemoConfigError>(())
    /// ```
    pub fn fill_until(&mut self, until: DateTime<Utc>, max: usize, out: &mut Vec<Event>) -> usize {
        let mut appended = 0;
        while appended < max {
            match self.peek_time() {
                Some(next) if next <= until => {}
                _ => break,
            }
            match self.next() {
                Some(event) => out.push(event),
                None => break,
            }
            appended += 1;
        }
        appended
    }

    /// Generates sessions until the earliest waiting event comes before every session not
    /// yet started; returns that event's time, or `None` at the end of the stream.
    fn ready(&mut self) -> Option<i64> {
        if self.finished {
            return None;
        }
        loop {
            let next_start = self
                .next_session
                .min(self.next_drift.unwrap_or(i64::MAX))
                .min(self.next_attack.unwrap_or(i64::MAX));
            if let Some(t) = self.queue.peek_time()
                && t <= next_start
            {
                if t > self.end {
                    self.finish();
                    return None;
                }
                return Some(t);
            }
            if next_start > self.end {
                // Whatever waits in the queue is later still.
                self.finish();
                return None;
            }
            if next_start == self.next_session {
                self.candidate_session(next_start);
            } else if Some(next_start) == self.next_drift {
                self.drift_session(next_start);
            } else {
                self.attack_episode(next_start);
            }
        }
    }

    fn finish(&mut self) {
        self.finished = true;
        self.queue = Queue::default();
    }

    fn week_secs(&self, micros: i64) -> f64 {
        self.start_week_secs + micros as f64 / MICROS
    }

    /// One candidate of the background process: a host drawn by its peak rate, kept with
    /// the probability of its current rate over its peak rate (thinning), so each host's
    /// sessions follow its own daily curve.
    fn candidate_session(&mut self, t: i64) {
        self.next_session =
            t.saturating_add(micros(self.draw.exponential(self.candidate_gap_secs)).max(1));
        let total = self.host_pick.last().copied().unwrap_or(0.0);
        let ticket = self.draw.unit() * total;
        let index = self
            .host_pick
            .partition_point(|&cumulative| cumulative <= ticket)
            .min(self.hosts.len().saturating_sub(1));
        let Some(host) = self.hosts.get(index) else {
            return;
        };
        let keep = host.curve.at(self.week_secs(t)) / host.curve.max();
        if !self.draw.chance(keep) {
            return;
        }
        let activity = host.pick_activity(&mut self.draw);
        let mut ctx = Ctx {
            draw: &mut self.draw,
            vocab: &self.vocab,
            site: &self.site,
            queue: &mut self.queue,
        };
        ctx.session(host, activity, t, Truth::Normal);
    }

    /// One session of the new service, ramping up linearly after `drift_after_secs`.
    fn drift_session(&mut self, t: i64) {
        self.next_drift =
            Some(t.saturating_add(micros(self.draw.exponential(self.drift_gap_secs)).max(1)));
        let since = (t as f64 / MICROS) - self.config.drift_after_secs;
        let ramp = if self.config.drift_ramp_secs > 0.0 {
            (since / self.config.drift_ramp_secs).clamp(0.0, 1.0)
        } else {
            1.0
        };
        if !self.draw.chance(ramp) {
            return;
        }
        let index = self.draw.index(self.devices.len());
        let Some(device) = self.devices.get(index) else {
            return;
        };
        let activity = device.pick_activity(&mut self.draw);
        let mut ctx = Ctx {
            draw: &mut self.draw,
            vocab: &self.vocab,
            site: &self.site,
            queue: &mut self.queue,
        };
        ctx.session(device, activity, t, Truth::NewService);
    }

    /// Starts the next attack of the shuffled round and schedules the one after.
    fn attack_episode(&mut self, t: i64) {
        // Gaps never shorter than a quarter of the mean, so episodes stay apart.
        let mean = self.config.attack_mean_gap_secs;
        let gap = mean * (0.25 + 0.75 * self.draw.exponential(1.0));
        self.next_attack = Some(t.saturating_add(micros(gap).max(1)));
        if self.attack_round.is_empty() {
            // Every kind once per round, in random order: each shows up early.
            self.attack_round = self.config.attack_kinds.clone();
            self.draw.shuffle(&mut self.attack_round);
            self.attack_round.reverse();
        }
        let Some(kind) = self.attack_round.pop() else {
            return;
        };
        match kind {
            AttackKind::BruteForce => {
                let attacker = self.attacker_address();
                self.ctx().brute_force(attacker, t);
            }
            AttackKind::PortScan => {
                let attacker = self.attacker_address();
                self.ctx().port_scan(attacker, t);
            }
            AttackKind::TrafficSpike => self.traffic_spike(t),
        }
    }

    fn ctx(&mut self) -> Ctx<'_> {
        Ctx {
            draw: &mut self.draw,
            vocab: &self.vocab,
            site: &self.site,
            queue: &mut self.queue,
        }
    }

    /// A public address never used before, mostly IPv4 from one of the
    /// [`ATTACKER_V4_BLOCKS`](crate::ATTACKER_V4_BLOCKS) of many countries.
    fn attacker_address(&mut self) -> IpAddr {
        if self.draw.chance(0.1) {
            self.addresses.public_v6(&mut self.draw)
        } else {
            self.addresses.attacker_v4(&mut self.draw)
        }
    }

    /// One to three internal hosts start sending many times their current rate, with their
    /// usual mix of sessions, for a few minutes.
    fn traffic_spike(&mut self, t: i64) {
        let group = self.draw.int(SPIKE_HOSTS.0, SPIKE_HOSTS.1) as usize;
        let members = self.draw.sample(&self.internal_hosts, group);
        let duration = micros(self.draw.uniform(SPIKE_SECS.0, SPIKE_SECS.1));
        let week_secs = self.week_secs(t);
        for index in members {
            let Some(host) = self.hosts.get(index) else {
                continue;
            };
            let factor = self.draw.uniform(SPIKE_FACTOR.0, SPIKE_FACTOR.1);
            let usual = host.event_rate * host.curve.at(week_secs);
            let events_per_sec = (factor * usual).max(SPIKE_MIN_EVENTS_PER_SEC);
            let session_gap = host.events_per_session / events_per_sec;
            let mut ctx = Ctx {
                draw: &mut self.draw,
                vocab: &self.vocab,
                site: &self.site,
                queue: &mut self.queue,
            };
            let mut at = t + micros(ctx.draw.exponential(session_gap));
            while at < t + duration {
                let activity = host.pick_activity(ctx.draw);
                ctx.session(host, activity, at, Truth::TrafficSpike);
                at += micros(ctx.draw.exponential(session_gap)).max(1);
            }
        }
    }
}

impl Iterator for DemoGenerator {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        self.ready()?;
        let mut event = self.queue.pop()?;
        event.origin.offset = self.emitted;
        self.emitted += 1;
        Some(event)
    }
}
