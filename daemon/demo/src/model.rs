//! The simulated site: its addresses, its background hosts, their habits and daily rhythms.

use std::collections::HashSet;
use std::f64::consts::TAU;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::draw::{Draw, weighted_mean};
use crate::vocab::{
    ADMIN_SSH_CLIENTS, ADMIN_USERS, CLIENT_DOMAINS, FLOW_PROFILES, HONEYPOT_FAILED_LOGINS,
    PROBE_PORTS, RECON_SCRIPT, SCANNER_SSH_CLIENTS, SHORT_RECON_COMMANDS_PER_SESSION,
};

pub(crate) const DAY_SECS: f64 = 86_400.0;
pub(crate) const WEEK_SECS: f64 = 7.0 * DAY_SECS;

/// Mean over a day of the squared raised cosine `((1 + cos x) / 2)^2`.
const MEAN_DAY_BUMP: f64 = 0.375;

/// A smooth daily activity curve, scaled so that its mean over a weekday is 1.
///
/// `value = (floor + (1 - floor) * bump(hour)) / norm`, where `bump` is a squared raised
/// cosine peaking at `peak_hour` (near 0 twelve hours away); weekends multiply it by
/// `weekend`. Local time is UTC shifted by `shift_secs`.
#[derive(Debug, Clone)]
pub(crate) struct DayCurve {
    peak_hour: f64,
    floor: f64,
    weekend: f64,
    shift_secs: f64,
    norm: f64,
}

impl DayCurve {
    pub(crate) fn new(peak_hour: f64, floor: f64, weekend: f64, shift_secs: f64) -> Self {
        DayCurve {
            peak_hour,
            floor,
            weekend,
            shift_secs,
            norm: floor + (1.0 - floor) * MEAN_DAY_BUMP,
        }
    }

    /// A curve without rhythm: machines that work around the clock.
    pub(crate) fn flat() -> Self {
        DayCurve::new(0.0, 1.0, 1.0, 0.0)
    }

    /// Relative rate at `week_secs` seconds after Monday 00:00 UTC.
    pub(crate) fn at(&self, week_secs: f64) -> f64 {
        let local = (week_secs + self.shift_secs).rem_euclid(WEEK_SECS);
        let weekend = local >= 5.0 * DAY_SECS;
        let hour = local.rem_euclid(DAY_SECS) / 3600.0;
        let bump = 0.5 * (1.0 + (TAU * (hour - self.peak_hour) / 24.0).cos());
        let value = (self.floor + (1.0 - self.floor) * bump * bump) / self.norm;
        if weekend { value * self.weekend } else { value }
    }

    /// The largest value the curve takes (weekday peak; weekends are never busier).
    pub(crate) fn max(&self) -> f64 {
        1.0 / self.norm
    }
}

/// Kinds of background hosts, each with its own habits and rhythm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HostClass {
    /// A workstation inside the site (10.0.x.x or 192.168.1.x): DNS, web, mail, chat.
    InternalClient,
    /// An internet host that habitually knocks on the honeypot (SSH/Telnet, HTTP, SYN probes).
    InternetScanner,
    /// An internet user reading the site's public web server.
    WebVisitor,
    /// A device of the service that appears with drift (MQTT telemetry).
    IotDevice,
}

/// One kind of session a host can open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Activity {
    /// A burst of DNS queries to the internal resolver.
    Dns,
    /// A few HTTP(S) requests to an internet web server.
    WebBrowse,
    /// Generic outbound flows (TLS, IMAP, SMTP, NTP, STUN, git over SSH).
    OutboundFlow,
    /// An administrator's SSH session on the internal jump host.
    AdminSsh,
    /// A Cowrie-style SSH or Telnet session on the honeypot.
    HoneypotSsh,
    /// Web requests for well-known vulnerable paths on the honeypot.
    HttpProbe,
    /// Short TCP probes of a few ports on the honeypot.
    SynProbe,
    /// A visit to the site's web pages with their assets.
    SiteWeb,
    /// MQTT telemetry to the broker that appears with drift.
    MqttTelemetry,
}

/// Requests per browsing session.
pub(crate) const WEB_BROWSE_REQUESTS: (u64, u64) = (1, 8);
/// Queries per DNS burst.
pub(crate) const DNS_BURST: (u64, u64) = (1, 4);
/// Flows per outbound-flow session.
pub(crate) const OUTBOUND_FLOWS: (u64, u64) = (1, 3);
/// Commands per administrator SSH session.
pub(crate) const ADMIN_COMMANDS: (u64, u64) = (2, 10);
/// Chance that an administrator mistypes the first login.
pub(crate) const ADMIN_FIRST_LOGIN_FAILS: f64 = 0.1;
/// Chance that a habitual scanner's SSH session logs in (Cowrie accepts some passwords).
pub(crate) const HONEYPOT_LOGIN_SUCCEEDS: f64 = 0.06;
/// Chance that a logged-in scanner runs the full recon script rather than a short check.
pub(crate) const HONEYPOT_RUNS_RECON_SCRIPT: f64 = 0.5;
/// Requests per web probe session.
pub(crate) const HTTP_PROBE_REQUESTS: (u64, u64) = (1, 3);
/// Ports per SYN probe session.
pub(crate) const SYN_PROBE_PORTS: (u64, u64) = (1, 3);
/// Requests per site visit (pages and their assets).
pub(crate) const SITE_VISIT_REQUESTS: (u64, u64) = (2, 12);
/// Flows per MQTT telemetry session.
pub(crate) const MQTT_FLOWS: (u64, u64) = (1, 4);

fn mean_of((lo, hi): (u64, u64)) -> f64 {
    (lo + hi) as f64 / 2.0
}

/// What a host tends to do, fixed when the host is created.
#[derive(Debug, Clone)]
pub(crate) struct Habits {
    /// Ephemeral source port range of the host's operating system.
    pub(crate) ephemeral: (u16, u16),
    /// Names the host resolves.
    pub(crate) domains: Vec<&'static str>,
    /// Internet web servers the host uses.
    pub(crate) web_servers: Vec<IpAddr>,
    /// Indexes into [`FLOW_PROFILES`] of the host's outbound services.
    pub(crate) flow_profiles: Vec<usize>,
    /// SSH client banner.
    pub(crate) ssh_client: &'static str,
    /// Administrator login, for hosts that do [`Activity::AdminSsh`].
    pub(crate) admin_user: &'static str,
    /// Ports the host probes on the honeypot.
    pub(crate) probe_ports: Vec<u16>,
    /// Share of the host's honeypot sessions that use Telnet rather than SSH.
    pub(crate) telnet_share: f64,
    /// Size of a SYN probe (44 bytes without TCP options, 60 with).
    pub(crate) syn_bytes: u64,
    /// Multiplier of byte counts (some hosts move more data).
    pub(crate) bytes_scale: f64,
}

/// One background host.
#[derive(Debug, Clone)]
pub(crate) struct Host {
    pub(crate) ip: IpAddr,
    pub(crate) class: HostClass,
    pub(crate) curve: DayCurve,
    /// Session mix as cumulative weights summing to 1.
    activities: Vec<(Activity, f64)>,
    pub(crate) habits: Habits,
    /// Mean events per session under this host's mix.
    pub(crate) events_per_session: f64,
    /// Mean events per second over a weekday.
    pub(crate) event_rate: f64,
}

impl Host {
    /// Draws the activity of the next session.
    pub(crate) fn pick_activity(&self, draw: &mut Draw) -> Activity {
        let u = draw.unit();
        self.activities
            .iter()
            .find(|(_, cumulative)| u < *cumulative)
            .or(self.activities.last())
            .map_or(Activity::Dns, |(activity, _)| *activity)
    }

    /// Mean sessions per second over a weekday.
    pub(crate) fn session_rate(&self) -> f64 {
        self.event_rate / self.events_per_session
    }
}

/// Mean number of events a session of `activity` produces for a host with `habits`.
///
/// Written from the same constants the session generators draw from; the test that
/// counts a day of events keeps the two in step.
pub(crate) fn expected_events(activity: Activity, habits: &Habits) -> f64 {
    match activity {
        Activity::Dns => mean_of(DNS_BURST),
        Activity::WebBrowse => mean_of(WEB_BROWSE_REQUESTS),
        Activity::OutboundFlow => mean_of(OUTBOUND_FLOWS),
        // connect, client version, maybe a failed login, login, commands, disconnect
        Activity::AdminSsh => 4.0 + ADMIN_FIRST_LOGIN_FAILS + mean_of(ADMIN_COMMANDS),
        Activity::HoneypotSsh => {
            let commands = HONEYPOT_RUNS_RECON_SCRIPT * RECON_SCRIPT.len() as f64
                + (1.0 - HONEYPOT_RUNS_RECON_SCRIPT) * mean_of(SHORT_RECON_COMMANDS_PER_SESSION);
            // connect + disconnect, a client version line for SSH (Telnet has none)
            2.0 + (1.0 - habits.telnet_share)
                + weighted_mean(&HONEYPOT_FAILED_LOGINS)
                + HONEYPOT_LOGIN_SUCCEEDS * (1.0 + commands)
        }
        Activity::HttpProbe => mean_of(HTTP_PROBE_REQUESTS),
        Activity::SynProbe => {
            let (lo, hi) = SYN_PROBE_PORTS;
            let hi = hi.min(habits.probe_ports.len() as u64).max(lo);
            mean_of((lo, hi))
        }
        Activity::SiteWeb => mean_of(SITE_VISIT_REQUESTS),
        Activity::MqttTelemetry => mean_of(MQTT_FLOWS),
    }
}

/// The site's own addresses and the internet servers its users talk to.
#[derive(Debug, Clone)]
pub(crate) struct Site {
    /// The honeypot's and public web server's IPv4 address.
    pub(crate) public_v4: IpAddr,
    /// The same machine's IPv6 address.
    pub(crate) public_v6: IpAddr,
    /// Internal DNS resolver.
    pub(crate) resolver: IpAddr,
    /// Internal SSH jump host.
    pub(crate) jump_host: IpAddr,
    /// Internal MQTT broker (the service that appears with drift).
    pub(crate) broker: IpAddr,
    /// Internet web and service addresses internal clients use.
    pub(crate) web_servers: Vec<IpAddr>,
}

impl Site {
    /// The site address a peer of `src`'s family connects to.
    pub(crate) fn public_for(&self, src: IpAddr) -> IpAddr {
        match src {
            IpAddr::V4(_) => self.public_v4,
            IpAddr::V6(_) => self.public_v6,
        }
    }
}

/// Ports the honeypot answers on (a probe there sees SYN-ACK rather than RST).
pub(crate) const SITE_OPEN_PORTS: [u16; 5] = [22, 23, 53, 80, 443];

const INTERNET_WEB_SERVERS: usize = 48;

/// Whether `addr` is ordinary global unicast (not private, shared, loopback, link-local,
/// documentation, benchmarking, multicast or reserved).
pub(crate) fn is_public_v4(addr: Ipv4Addr) -> bool {
    let [a, b, c, _] = addr.octets();
    let special = a == 0
        || a == 10
        || a == 127
        || a >= 224
        || (a == 100 && (b & 0xC0) == 64)
        || (a == 169 && b == 254)
        || (a == 172 && (b & 0xF0) == 16)
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && (c == 0 || c == 2))
        || (a == 192 && b == 88 && c == 99)
        || (a == 198 && (b & 0xFE) == 18)
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113);
    !special
}

/// The public IPv4 blocks attackers come from: one /16 each, with the country that the
/// ip-location-db `geo-whois-asn-country` database (RIR delegation data) gives every /24 of it,
/// checked by a test against the shared copy of that database. Twenty countries, so GeoIP
/// enrichment has something to show; the addresses are draws inside the blocks, not
/// observations of real hosts.
pub const ATTACKER_V4_BLOCKS: [([u8; 2], &str); 20] = [
    ([61, 177], "CN"),
    ([45, 55], "US"),
    ([95, 165], "RU"),
    ([117, 192], "IN"),
    ([14, 160], "VN"),
    ([121, 128], "KR"),
    ([85, 214], "DE"),
    ([90, 0], "FR"),
    ([36, 64], "ID"),
    ([1, 160], "TW"),
    ([126, 0], "JP"),
    ([86, 0], "GB"),
    ([181, 0], "AR"),
    ([41, 0], "ZA"),
    ([145, 0], "NL"),
    ([103, 0], "AU"),
    ([78, 0], "HR"),
    ([2, 80], "PT"),
    ([88, 0], "ES"),
    ([196, 0], "UG"),
];

/// Hands out addresses, never the same one twice, so every source means one host.
#[derive(Debug, Default)]
pub(crate) struct AddressBook {
    taken: HashSet<IpAddr>,
}

impl AddressBook {
    fn claim(&mut self, draw: &mut Draw, mut make: impl FnMut(&mut Draw) -> IpAddr) -> IpAddr {
        loop {
            let addr = make(draw);
            if self.taken.insert(addr) {
                return addr;
            }
        }
    }

    /// A fresh random global IPv4 address.
    pub(crate) fn public_v4(&mut self, draw: &mut Draw) -> IpAddr {
        self.claim(draw, |draw| {
            loop {
                let addr = Ipv4Addr::from(draw.bits() as u32);
                if is_public_v4(addr) {
                    return IpAddr::V4(addr);
                }
            }
        })
    }

    /// A fresh attacker IPv4 address: a block of [`ATTACKER_V4_BLOCKS`], then a host in it
    /// (never `.0` or `.255`), from one draw.
    pub(crate) fn attacker_v4(&mut self, draw: &mut Draw) -> IpAddr {
        self.claim(draw, |draw| {
            let bits = draw.bits();
            let ([a, b], _) = ATTACKER_V4_BLOCKS[(bits % ATTACKER_V4_BLOCKS.len() as u64) as usize];
            let c = (bits >> 32) as u8;
            let d = 1 + ((bits >> 40) % 254) as u8;
            IpAddr::V4(Ipv4Addr::new(a, b, c, d))
        })
    }

    /// A fresh random global unicast IPv6 address (under 2400::/6-ish allocations).
    pub(crate) fn public_v6(&mut self, draw: &mut Draw) -> IpAddr {
        self.claim(draw, |draw| {
            let bits = draw.bits();
            let first = 0x2400 + (draw.int(0, 0x60f) as u16);
            let interface = draw.bits();
            let segments = [
                first,
                (bits >> 48) as u16,
                (bits >> 32) as u16,
                (bits >> 16) as u16,
                (interface >> 48) as u16,
                (interface >> 32) as u16,
                (interface >> 16) as u16,
                interface as u16,
            ];
            IpAddr::V6(Ipv6Addr::from(segments))
        })
    }

    /// A fresh internal client address: mostly the 10.0.0.0/16 office LAN, some Wi-Fi.
    fn internal_client(&mut self, draw: &mut Draw) -> IpAddr {
        self.claim(draw, |draw| {
            if draw.chance(0.8) {
                let third = draw.int(1, 63) as u8;
                let fourth = draw.int(10, 250) as u8;
                IpAddr::V4(Ipv4Addr::new(10, 0, third, fourth))
            } else {
                let third = draw.int(0, 15) as u8;
                let fourth = draw.int(10, 250) as u8;
                IpAddr::V4(Ipv4Addr::new(192, 168, third, fourth))
            }
        })
    }

    /// A fresh device address on the IoT segment 10.20.0.0/16.
    fn iot_device(&mut self, draw: &mut Draw) -> IpAddr {
        self.claim(draw, |draw| {
            let bits = draw.bits();
            IpAddr::V4(Ipv4Addr::new(
                10,
                20,
                (bits >> 8) as u8,
                (bits as u8).max(2),
            ))
        })
    }

    /// Marks fixed addresses as used.
    fn reserve(&mut self, addrs: &[IpAddr]) {
        self.taken.extend(addrs.iter().copied());
    }
}

/// The site, its background hosts and the devices that appear with drift.
#[derive(Debug)]
pub(crate) struct Population {
    pub(crate) site: Site,
    pub(crate) hosts: Vec<Host>,
    pub(crate) devices: Vec<Host>,
    pub(crate) addresses: AddressBook,
}

/// Shares of background hosts per class.
const INTERNAL_SHARE: f64 = 0.55;
const SCANNER_SHARE: f64 = 0.35;
/// Share of internal clients that are administrators with SSH sessions on the jump host.
const ADMIN_SHARE: f64 = 0.15;

/// Builds the site and its hosts; host event rates sum to `mean_events_per_sec`.
pub(crate) fn populate(
    draw: &mut Draw,
    normal_hosts: usize,
    mean_events_per_sec: f64,
) -> Population {
    let mut addresses = AddressBook::default();
    let resolver = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 53));
    let jump_host = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 22));
    let broker = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 18));
    addresses.reserve(&[resolver, jump_host, broker]);
    let public_v4 = addresses.public_v4(draw);
    let public_v6 = addresses.public_v6(draw);
    let web_servers = (0..INTERNET_WEB_SERVERS)
        .map(|_| addresses.public_v4(draw))
        .collect();
    let site = Site {
        public_v4,
        public_v6,
        resolver,
        jump_host,
        broker,
        web_servers,
    };

    let internal = ((normal_hosts as f64 * INTERNAL_SHARE).round() as usize).max(1);
    let scanners = ((normal_hosts as f64 * SCANNER_SHARE).round() as usize).max(1);
    let visitors = normal_hosts.saturating_sub(internal + scanners).max(1);

    let mut hosts = Vec::with_capacity(internal + scanners + visitors);
    let mut weights = Vec::with_capacity(hosts.capacity());
    for class in [
        (HostClass::InternalClient, internal),
        (HostClass::InternetScanner, scanners),
        (HostClass::WebVisitor, visitors),
    ]
    .into_iter()
    .flat_map(|(class, count)| std::iter::repeat_n(class, count))
    {
        let host = make_host(draw, &mut addresses, &site, class);
        // Heavy-tailed activity, clamped so no background host gets busy enough to look
        // like an attacker.
        let class_weight = match class {
            HostClass::InternetScanner => 0.8,
            _ => 1.0,
        };
        weights.push(class_weight * (0.8 * draw.normal()).exp().clamp(0.15, 6.0));
        hosts.push(host);
    }
    for (host, rate) in hosts
        .iter_mut()
        .zip(share_rate(mean_events_per_sec, &weights))
    {
        host.event_rate = rate;
    }

    let device_count = (normal_hosts / 6).max(1);
    let devices = (0..device_count)
        .map(|_| make_host(draw, &mut addresses, &site, HostClass::IotDevice))
        .collect();
    Population {
        site,
        hosts,
        devices,
        addresses,
    }
}

/// Most events per second (weekday mean) of one background host. A habitual scanner any
/// busier would fail more than 20 SSH logins within 30 s now and then, like an attacker.
pub(crate) const MAX_HOST_EVENTS_PER_SEC: f64 = 0.8;

/// Splits `total` events per second in proportion to `weights`, but never more than
/// [`MAX_HOST_EVENTS_PER_SEC`] to one host: what a capped host cannot take goes to the
/// others, in proportion to their weights (the config caps the mean well below the cap).
fn share_rate(total: f64, weights: &[f64]) -> Vec<f64> {
    let mut rates = vec![0.0; weights.len()];
    let mut capped = vec![false; weights.len()];
    let mut remaining = total;
    loop {
        let open_weight: f64 = weights
            .iter()
            .zip(&capped)
            .filter(|(_, capped)| !**capped)
            .map(|(w, _)| w)
            .sum();
        if open_weight <= 0.0 {
            break;
        }
        let mut newly_capped = false;
        for ((rate, weight), capped) in rates.iter_mut().zip(weights).zip(capped.iter_mut()) {
            if *capped {
                continue;
            }
            *rate = remaining * weight / open_weight;
            if *rate > MAX_HOST_EVENTS_PER_SEC {
                *rate = MAX_HOST_EVENTS_PER_SEC;
                *capped = true;
                newly_capped = true;
            }
        }
        if !newly_capped {
            break;
        }
        let capped_count = capped.iter().filter(|c| **c).count();
        remaining = total - capped_count as f64 * MAX_HOST_EVENTS_PER_SEC;
        for (rate, capped) in rates.iter_mut().zip(&capped) {
            if !*capped {
                *rate = 0.0;
            }
        }
    }
    rates
}

fn make_host(draw: &mut Draw, addresses: &mut AddressBook, site: &Site, class: HostClass) -> Host {
    let (ip, curve, mix): (IpAddr, DayCurve, Vec<(Activity, f64)>) = match class {
        HostClass::InternalClient => {
            let mut mix = vec![
                (Activity::Dns, 0.40),
                (Activity::WebBrowse, 0.35),
                (Activity::OutboundFlow, 0.25),
            ];
            if draw.chance(ADMIN_SHARE) {
                mix.push((Activity::AdminSsh, 0.08));
            }
            // Office hours: busy early afternoon, quiet at night and at weekends.
            let peak = draw.uniform(12.0, 14.5);
            (
                addresses.internal_client(draw),
                DayCurve::new(peak, 0.04, 0.2, 0.0),
                mix,
            )
        }
        HostClass::InternetScanner => {
            let ip = if draw.chance(0.08) {
                addresses.public_v6(draw)
            } else {
                addresses.public_v4(draw)
            };
            // Bots run around the clock, with a mild rhythm of their operators' day.
            let peak = draw.uniform(0.0, 24.0);
            (
                ip,
                DayCurve::new(peak, 0.75, 1.0, 0.0),
                vec![
                    (Activity::HoneypotSsh, 0.55),
                    (Activity::HttpProbe, 0.25),
                    (Activity::SynProbe, 0.20),
                ],
            )
        }
        HostClass::WebVisitor => {
            let ip = if draw.chance(0.15) {
                addresses.public_v6(draw)
            } else {
                addresses.public_v4(draw)
            };
            // People read in the evening of their own time zone, within six hours of ours.
            let shift = draw.uniform(-6.0, 6.0) * 3600.0;
            (
                ip,
                DayCurve::new(20.0, 0.15, 0.9, shift),
                vec![(Activity::SiteWeb, 1.0)],
            )
        }
        HostClass::IotDevice => (
            addresses.iot_device(draw),
            DayCurve::flat(),
            vec![(Activity::MqttTelemetry, 1.0)],
        ),
    };

    let domain_count = draw_count(draw, 5, 12);
    let server_count = draw_count(draw, 3, 10);
    let profile_count = draw_count(draw, 2, 4);
    let probe_count = draw_count(draw, 3, 6);
    let habits = Habits {
        ephemeral: if draw.chance(0.6) {
            (32768, 60999)
        } else {
            (49152, 65535)
        },
        domains: draw.sample(&CLIENT_DOMAINS, domain_count),
        web_servers: draw.sample(&site.web_servers, server_count),
        flow_profiles: draw.sample(&(0..FLOW_PROFILES.len()).collect::<Vec<_>>(), profile_count),
        ssh_client: if class == HostClass::InternalClient {
            draw.pick(&ADMIN_SSH_CLIENTS)
        } else {
            draw.pick_weighted(&SCANNER_SSH_CLIENTS)
        },
        admin_user: draw.pick(&ADMIN_USERS),
        probe_ports: draw.sample(&PROBE_PORTS, probe_count),
        telnet_share: if draw.chance(0.3) {
            draw.uniform(0.2, 0.6)
        } else {
            0.0
        },
        syn_bytes: if draw.chance(0.5) { 44 } else { 60 },
        bytes_scale: draw.log_normal(1.0, 0.4),
    };

    // Every host weighs its class's activities its own way.
    let mut weights: Vec<(Activity, f64)> = mix
        .into_iter()
        .map(|(activity, weight)| (activity, weight * draw.uniform(0.4, 1.6)))
        .collect();
    let total: f64 = weights.iter().map(|(_, w)| w).sum();
    let events_per_session = weights
        .iter()
        .map(|(activity, w)| w / total * expected_events(*activity, &habits))
        .sum();
    let mut cumulative = 0.0;
    for (_, w) in &mut weights {
        cumulative += *w / total;
        *w = cumulative;
    }
    if let Some(last) = weights.last_mut() {
        last.1 = 1.0;
    }

    Host {
        ip,
        class,
        curve,
        activities: weights,
        habits,
        events_per_session,
        event_rate: 0.0,
    }
}

fn draw_count(draw: &mut Draw, lo: u64, hi: u64) -> usize {
    draw.int(lo, hi) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn curve_means_one_over_a_weekday() {
        for curve in [
            DayCurve::new(13.0, 0.04, 0.2, 0.0),
            DayCurve::new(3.0, 0.75, 1.0, 0.0),
            DayCurve::new(20.0, 0.15, 0.9, 2.5 * 3600.0),
        ] {
            let steps = 86_400;
            // Tuesday, away from the weekend whatever the shift.
            let mean = (0..steps)
                .map(|s| curve.at(DAY_SECS + f64::from(s)))
                .sum::<f64>()
                / f64::from(steps);
            assert!((mean - 1.0).abs() < 1e-6, "{mean}");
            let max = (0..steps)
                .map(|s| curve.at(DAY_SECS + f64::from(s)))
                .fold(0.0, f64::max);
            assert!(max <= curve.max() + 1e-9);
        }
    }

    #[test]
    fn office_curve_is_busy_by_day_and_quiet_at_night_and_weekends() {
        let curve = DayCurve::new(13.0, 0.04, 0.2, 0.0);
        let monday_1pm = 13.0 * 3600.0;
        let monday_3am = 3.0 * 3600.0;
        let saturday_1pm = 5.0 * DAY_SECS + monday_1pm;
        assert!(curve.at(monday_1pm) > 10.0 * curve.at(monday_3am));
        assert!((curve.at(saturday_1pm) - 0.2 * curve.at(monday_1pm)).abs() < 1e-9);
    }

    #[test]
    fn public_addresses_skip_special_ranges() {
        for addr in [
            "10.1.2.3",
            "172.20.0.1",
            "192.168.0.1",
            "100.64.0.1",
            "203.0.113.9",
            "224.0.0.1",
            "127.0.0.1",
            "198.18.5.5",
        ] {
            let addr: Ipv4Addr = addr.parse().unwrap_or(Ipv4Addr::UNSPECIFIED);
            assert!(!is_public_v4(addr), "{addr}");
        }
        for addr in ["8.8.8.8", "185.220.101.4", "172.32.0.1", "100.128.0.1"] {
            let addr: Ipv4Addr = addr.parse().unwrap_or(Ipv4Addr::UNSPECIFIED);
            assert!(is_public_v4(addr), "{addr}");
        }
    }

    #[test]
    fn rate_sharing_respects_the_cap_and_the_total() {
        let weights = [10.0, 1.0, 1.0, 1.0, 0.5];
        let rates = share_rate(2.0, &weights);
        assert!((rates.iter().sum::<f64>() - 2.0).abs() < 1e-9, "{rates:?}");
        assert_eq!(rates[0], MAX_HOST_EVENTS_PER_SEC);
        assert!((rates[1] / rates[4] - 2.0).abs() < 1e-9, "{rates:?}");
        let rates = share_rate(0.1, &weights);
        assert!((rates[0] / rates[1] - 10.0).abs() < 1e-9, "{rates:?}");
    }

    #[test]
    fn population_rates_add_up_and_addresses_are_unique() {
        let mut draw = Draw::new(ChaCha8Rng::seed_from_u64(3));
        let population = populate(&mut draw, 300, 50.0);
        assert_eq!(population.hosts.len(), 300);
        let total: f64 = population.hosts.iter().map(|h| h.event_rate).sum();
        assert!((total - 50.0).abs() < 1e-9, "{total}");
        let mut ips: Vec<IpAddr> = population.hosts.iter().map(|h| h.ip).collect();
        ips.extend(population.devices.iter().map(|h| h.ip));
        let count = ips.len();
        ips.sort();
        ips.dedup();
        assert_eq!(ips.len(), count);
        for class in [
            HostClass::InternalClient,
            HostClass::InternetScanner,
            HostClass::WebVisitor,
        ] {
            assert!(population.hosts.iter().any(|h| h.class == class));
        }
    }
}
