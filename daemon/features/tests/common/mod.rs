//! A naive reference model of the per-source windows and moving baselines, recomputed from the
//! full event history on every event, and helpers to build events.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use vigil_detectors::{SourceId, TrafficSpikeConfig};
use vigil_sensors::{Event, EventKind, Origin, Sensor};

/// A bare event at `time_micros` from `src`.
pub fn event(time_micros: i64, src: Option<&str>, kind: EventKind) -> Event {
    let time = chrono::DateTime::from_timestamp_micros(time_micros).unwrap_or_default();
    let origin = Origin {
        source: Arc::from("test"),
        offset: 0,
        round: 0,
    };
    let mut e = Event::new(time, Sensor::Demo, Arc::from("test"), kind, origin);
    e.src_ip = src.and_then(|s| s.parse().ok());
    e
}

/// What the windows should say about one event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Expected {
    pub late: bool,
    pub tracked: bool,
    pub counted: bool,
    pub events: u32,
    pub failed: u32,
    pub succeeded: u32,
    pub distinct_ports: u32,
    pub distinct_ips: u32,
    pub port_new: bool,
    pub mean_bytes: Option<f64>,
    pub port_entropy_bits: f64,
    pub commands: u32,
    pub connects: u32,
    pub baseline: f64,
}

#[derive(Debug, Clone)]
struct Stored {
    time: i64,
    kind: EventKind,
    port: Option<u16>,
    dst: Option<IpAddr>,
    bytes: Option<u64>,
}

#[derive(Debug, Default)]
struct Naive {
    clock: i64,
    stored: Vec<Stored>,
    /// The global baseline when the source was created.
    seed: f64,
    /// The tumbling windows the source's clock has been in, oldest first.
    path: Vec<i64>,
    /// Counted events per tumbling window of the source's clock.
    per_window: HashMap<i64, u32>,
}

/// How the moving baseline is kept: the documented rule, restated.
#[derive(Debug, Clone)]
pub struct BaselineRule {
    pub alpha: f64,
    pub spike: TrafficSpikeConfig,
}

impl BaselineRule {
    /// The most a completed window counts for against baseline `b`: the spike threshold, and
    /// at least twice the baseline (floored at one event).
    fn cap(&self, b: f64) -> u32 {
        let twice = (2.0 * b.max(1.0)).ceil() as u32;
        self.spike.threshold(b).max(twice)
    }

    /// `min(n, cap(b))` for a completed window of `n` events measured against `b`.
    pub fn folded(&self, n: u32, b: f64) -> u32 {
        n.min(self.cap(b))
    }
}

/// The reference: keeps every event of every source and filters on each query.
pub struct Reference {
    lateness: i64,
    windows: [i64; 4],
    prefix: u8,
    baseline: BaselineRule,
    newest: Option<i64>,
    /// Every completed non-empty window, as folded, in completion order.
    global_history: Vec<u32>,
    sources: HashMap<SourceId, Naive>,
    /// Completed windows folded in below their size.
    pub capped_windows: usize,
}

const S: i64 = 1_000_000;

impl Naive {
    /// The source's baseline as of the start of window `path[upto]`, folded from its seed along
    /// its path: each step completes a window (capped) and decays over the empty ones skipped.
    /// Stored in single precision after every step, as the extractor keeps it.
    fn baseline(&self, rule: &BaselineRule, upto: usize) -> f64 {
        let keep = 1.0 - rule.alpha;
        let mut b = f64::from(self.seed as f32);
        for step in self.path[..=upto].windows(2) {
            let n = self.per_window.get(&step[0]).copied().unwrap_or(0);
            let mut next = rule.alpha * f64::from(rule.folded(n, b)) + keep * b;
            let skipped = step[1] - step[0] - 1;
            if skipped > 0 {
                next *= keep.powi(skipped as i32);
            }
            b = f64::from(next as f32);
        }
        b
    }
}

impl Reference {
    pub fn new(
        windows_secs: [i64; 4],
        lateness_secs: i64,
        prefix: u8,
        baseline: BaselineRule,
    ) -> Reference {
        Reference {
            lateness: lateness_secs * S,
            windows: windows_secs.map(|w| w * S),
            prefix,
            baseline,
            newest: None,
            global_history: Vec::new(),
            sources: HashMap::new(),
            capped_windows: 0,
        }
    }

    /// The global per-source baseline: 1 event per window, moved 1% towards every completed
    /// non-empty window (as folded).
    pub fn global_baseline(&self) -> f64 {
        self.global_history
            .iter()
            .fold(1.0, |g, n| g + 0.01 * (f64::from(*n) - g))
    }

    pub fn observe(&mut self, e: &Event) -> Expected {
        let t = e.event_time.timestamp_micros();
        let late = self.newest.is_some_and(|n| t < n - self.lateness);
        if !late {
            self.newest = Some(self.newest.map_or(t, |n| n.max(t)));
        }
        let Some(ip) = e.src_ip else {
            return Expected {
                late,
                ..Expected::default()
            };
        };
        let id = SourceId::new(ip, self.prefix);
        let retention = self.windows.iter().copied().max().unwrap_or(0);
        let mut counted = false;
        let mut port_new = false;
        if late {
            if !self.sources.contains_key(&id) {
                return Expected {
                    late,
                    tracked: true,
                    ..Expected::default()
                };
            }
        } else {
            let seed = self.global_baseline();
            let event_window = self.windows[0];
            let src = self.sources.entry(id).or_insert_with(|| Naive {
                clock: i64::MIN,
                seed,
                path: vec![t.div_euclid(event_window)],
                ..Naive::default()
            });
            src.clock = src.clock.max(t);
            let window_now = src.clock.div_euclid(event_window);
            let current = src.path.len() - 1;
            if window_now > src.path[current] {
                let n = src.per_window.get(&src.path[current]).copied().unwrap_or(0);
                if n > 0 {
                    let folded = self
                        .baseline
                        .folded(n, src.baseline(&self.baseline, current));
                    if folded < n {
                        self.capped_windows += 1;
                    }
                    self.global_history.push(folded);
                }
                src.path.push(window_now);
            }
            if t > src.clock - retention {
                *src.per_window.entry(window_now).or_default() += 1;
                let port_start = src.clock - self.windows[2];
                if let Some(port) = e.dst_port {
                    port_new = t > port_start
                        && !src
                            .stored
                            .iter()
                            .any(|s| s.time > port_start && s.port == Some(port));
                }
                src.stored.push(Stored {
                    time: t,
                    kind: e.kind,
                    port: e.dst_port,
                    dst: e.dst_ip.map(|d| d.to_canonical()),
                    bytes: match (e.bytes_out, e.bytes_in) {
                        (None, None) => None,
                        (o, i) => Some(o.unwrap_or(0) + i.unwrap_or(0)),
                    },
                });
                counted = true;
            }
            let horizon = src.clock - retention;
            src.stored.retain(|s| s.time > horizon);
        }
        let Some(src) = self.sources.get(&id) else {
            return Expected::default();
        };
        let within = |w: usize| {
            let start = src.clock - self.windows[w];
            src.stored.iter().filter(move |s| s.time > start)
        };
        let mut port_counts: HashMap<u16, u32> = HashMap::new();
        for s in within(2) {
            if let Some(p) = s.port {
                *port_counts.entry(p).or_default() += 1;
            }
        }
        let n: u32 = port_counts.values().sum();
        let entropy = if n > 1 {
            port_counts
                .values()
                .map(|c| {
                    let p = f64::from(*c) / f64::from(n);
                    -p * p.log2()
                })
                .sum()
        } else {
            0.0
        };
        let mut ips: Vec<IpAddr> = within(2).filter_map(|s| s.dst).collect();
        ips.sort();
        ips.dedup();
        let bytes: Vec<u64> = within(3).filter_map(|s| s.bytes).collect();
        Expected {
            late,
            tracked: true,
            counted,
            events: within(0).count() as u32,
            failed: within(1)
                .filter(|s| s.kind == EventKind::LoginFailed)
                .count() as u32,
            succeeded: within(1)
                .filter(|s| s.kind == EventKind::LoginSuccess)
                .count() as u32,
            distinct_ports: port_counts.len() as u32,
            distinct_ips: ips.len() as u32,
            port_new,
            mean_bytes: if bytes.is_empty() {
                None
            } else {
                Some(bytes.iter().sum::<u64>() as f64 / bytes.len() as f64)
            },
            port_entropy_bits: entropy,
            commands: within(3).filter(|s| s.kind == EventKind::Command).count() as u32,
            connects: within(3).filter(|s| s.kind == EventKind::Connect).count() as u32,
            baseline: src.baseline(&self.baseline, src.path.len() - 1),
        }
    }
}
