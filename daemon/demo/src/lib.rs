//! Synthetic sensor traffic for `vigil demo`: a small honeypot site's day, with labelled
//! attacks and a lasting change of normal behaviour.
//!
//! [`DemoGenerator`] turns a [`DemoConfig`] into an endless (or `duration_secs` long) stream
//! of [`vigil_sensors::Event`]s with `sensor: demo`. The stream is a pure function of the
//! config: the same config gives the same events, byte for byte (on the same build), and
//! nothing reads the wall clock. Events come out in non-decreasing event time;
//! `origin = { source: "demo", offset: <sequence number> }`. To play the stream at a chosen
//! speed, a [`Pacer`] maps event time to elapsed wall time and back.
//!
//! # The site
//!
//! One machine with a public IPv4 and IPv6 address runs a Cowrie-style SSH/Telnet honeypot
//! (ports 22 and 23) and a small public web server (80/443). Behind it, an office LAN
//! (10.0.0.0/16 and 192.168.x.x) has a DNS resolver (10.0.0.53) and an SSH jump host
//! (10.0.0.22). Public addresses are random draws from the global unicast space, not
//! observations of real hosts; attackers' IPv4 addresses are drawn inside
//! [`ATTACKER_V4_BLOCKS`], /16 blocks registered to twenty countries, so GeoIP enrichment
//! shows attacks from around the world.
//!
//! # Normal traffic
//!
//! `normal_hosts` background hosts, each with its own habits (ephemeral port range, the
//! names it resolves, the web servers and outbound services it uses, the SSH client it
//! announces, the ports it probes, its own weighting of its class's sessions) and a
//! heavy-tailed (log-normal) share of the total rate:
//!
//! | class | hosts | sessions | rhythm |
//! |---|---|---|---|
//! | internal clients | 55 % | DNS bursts to the resolver (udp/53); HTTP(S) browsing (80/443, method and path in `command`); outbound flows (TLS, IMAPS, SMTP, NTP, STUN, git over SSH); for about one in seven, administrator SSH sessions on the jump host | office hours: peaks early afternoon, near zero at night, weekends at 20 % |
//! | internet scanners | 35 % | Cowrie-like SSH/Telnet sessions on the honeypot (connect, client version, mostly zero or one failed login, rarely a login and a reconnaissance script, disconnect with its duration); web probes for `/.env`, `/wp-login.php`...; SYN probes of a few favourite ports | around the clock, mild day curve, no weekend |
//! | web visitors | 10 % | visits to the public web site: pages and their assets over HTTPS | evening of their own time zone (within six hours of UTC) |
//!
//! No background host gets more than 0.8 events per second on average (what a capped host
//! cannot take goes to the others), and [`DemoConfig::validate`] keeps the mean per host
//! under [`MAX_EVENTS_PER_SEC_PER_HOST`]: background sources stay well below attack
//! thresholds, so an alert on them is a false positive, not a hidden attack.
//!
//! Each class's rate follows a smooth daily curve (a squared raised cosine over a floor,
//! scaled so its weekday mean is 1); a host's sessions are a Poisson process thinned by its
//! curve, so the whole site averages `mean_events_per_sec` over a working day. Byte counts
//! and durations are log-normal; packet counts follow from bytes; TCP flags say how a flow
//! went (`SYN|ACK|PSH|FIN` for a full exchange, `SYN|RST|ACK` for a refused probe). Every
//! normal event is labelled `{ class: "normal", anomalous: false }` ([`CLASS_NORMAL`]).
//!
//! Field use follows the sensor parsers: honeypot events carry Cowrie's record names in
//! `raw_kind` (`cowrie.session.connect`, `cowrie.login.failed`, ...), a 12-hex-digit
//! `session`, `username`/`password` on logins, the command line in `command` (and the client
//! banner, such as `SSH-2.0-Go`, on `client_info`), and `duration_secs` on the disconnect.
//! HTTP events carry `"GET /path"` in `command`, DNS events the query name.
//!
//! # Attacks
//!
//! Attack episodes start at event times drawn from the seeded stream: the first within
//! `first_attack_within_secs` (default 10 minutes), then gaps with mean
//! `attack_mean_gap_secs` (a quarter of the mean plus an exponential part, so episodes
//! never pile up). Kinds come in shuffled rounds of `attack_kinds`, so every kind appears
//! within the first round. Every event of an episode carries `anomalous: true` and its
//! kind's class:
//!
//! * **brute force** ([`CLASS_BRUTE_FORCE`]): a fresh public source opens SSH connection
//!   after connection, 3 to 6 logins each, 40 to 300 attempts at 2 to 10 per second; gaps
//!   of at most 1.5 / rate guarantee more than 20 failed logins within 30 s. One in four
//!   ends with a successful login and a dropper download.
//! * **port scan** ([`CLASS_PORT_SCAN`]): a fresh public source probes 150 to 1000 distinct
//!   TCP ports of the honeypot (a range from port 1 or random ports, in random order) at 20
//!   to 300 probes per second, so at least 100 distinct ports fall within 60 s. Each probe
//!   is a one-packet flow answered by RST (`SYN|RST|ACK`), or a half-open `SYN|ACK|RST` on
//!   the honeypot's open ports.
//! * **traffic spike** ([`CLASS_TRAFFIC_SPIKE`]): one to three internal clients send 15 to
//!   30 times their current rate (at least 2 events per second each) of their usual
//!   sessions, for 2 to 6 minutes.
//!
//! # Drift
//!
//! At `drift_after_secs` (default 6 h) an MQTT broker (10.0.0.18, tcp/1883, `app_proto`
//! "mqtt") goes into service: IoT devices on 10.20.0.0/16 (one per six background hosts)
//! send small, steady telemetry flows around the clock. The service ramps up over
//! `drift_ramp_secs` to `drift_share` of normal events (averaged over a weekday) and stays.
//! It is a change of what *normal* looks like, not an attack: its events are labelled
//! `{ class: "new_service", anomalous: false }` ([`CLASS_NEW_SERVICE`]).
//!
//! # Playing in real time
//!
//! The daemon reads its own clock and asks for what is due; the generator only ever
//! sees event times:
//!
//! ```
//! use std::time::Duration;
//! use vigil_demo::{DemoConfig, DemoGenerator, Pacer};
//!
//! let config = DemoConfig::default();
//! let pacer = Pacer::new(config.start, 60.0)?; // one event-time minute per wall second
//! let mut generator = DemoGenerator::new(config)?;
//! let mut batch = Vec::with_capacity(1024);
//! // A tick 2 s of wall time after playing started releases everything due by then,
//! // in batches of at most 1024 events:
//! let due = pacer.event_time_at(Duration::from_secs(2));
//! loop {
//!     let released = generator.fill_until(due, 1024, &mut batch);
//!     assert!(batch.iter().all(|e| e.event_time <= due));
//!     batch.clear(); // (sent down the pipeline)
//!     if released < 1024 {
//!         break;
//!     }
//! }
//! // The next event is not due before 2 s: sleep until its wall offset.
//! if let Some(next) = generator.peek_time() {
//!     assert!(pacer.wall_offset(next) >= Duration::from_secs(2));
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Example
//!
//! ```
//! use vigil_demo::{DemoConfig, DemoGenerator, CLASS_NORMAL};
//!
//! let config = DemoConfig { seed: 42, duration_secs: Some(600.0), ..DemoConfig::default() };
//! let events: Vec<_> = DemoGenerator::new(config)?.collect();
//! let attacks = events
//!     .iter()
//!     .filter(|e| e.label.as_ref().is_some_and(|l| l.anomalous))
//!     .count();
//! assert!(attacks > 0, "the first attack starts within 10 minutes");
//! assert!(events.iter().any(|e| e.label.as_ref().is_some_and(|l| &*l.class == CLASS_NORMAL)));
//! # Ok::<(), vigil_demo::DemoConfigError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod draw;
mod generator;
mod model;
mod pacer;
mod traffic;
mod vocab;

pub use config::{
    AttackKind, CLASS_BRUTE_FORCE, CLASS_NEW_SERVICE, CLASS_NORMAL, CLASS_PORT_SCAN,
    CLASS_TRAFFIC_SPIKE, DemoConfig, DemoConfigError, MAX_DRIFT_SHARE, MAX_EVENTS_PER_SEC_PER_HOST,
    MAX_NORMAL_HOSTS, MIN_ATTACK_MEAN_GAP_SECS, MIN_NORMAL_HOSTS,
};
pub use generator::DemoGenerator;
pub use model::ATTACKER_V4_BLOCKS;
pub use pacer::{Pacer, PacerError};
