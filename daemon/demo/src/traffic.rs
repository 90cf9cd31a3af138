//! Sessions and attack episodes, written as timed events into the pending queue.
//!
//! A session is generated whole when it starts: its events get times at or after the
//! start, and the queue hands them out in time order, interleaved with everything else.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::net::IpAddr;

use vigil_sensors::{
    Direction, Event, EventKind, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, Transport,
};

use crate::draw::{Draw, micros};
use crate::model::{
    ADMIN_COMMANDS, ADMIN_FIRST_LOGIN_FAILS, Activity, DNS_BURST, HONEYPOT_LOGIN_SUCCEEDS,
    HONEYPOT_RUNS_RECON_SCRIPT, HTTP_PROBE_REQUESTS, Host, MQTT_FLOWS, OUTBOUND_FLOWS,
    SITE_OPEN_PORTS, SITE_VISIT_REQUESTS, SYN_PROBE_PORTS, Site, WEB_BROWSE_REQUESTS,
};
use crate::vocab::{
    ADMIN_COMMAND_LINES, BROWSE_PATHS, BRUTE_FORCE_CLIENTS, CLIENT_DOMAINS, DROPPER_COMMANDS,
    FLOW_PROFILES, HONEYPOT_FAILED_LOGINS, HONEYPOT_PASSWORDS, HONEYPOT_USERS, PROBE_PATHS, Proto,
    RECON_SCRIPT, Raw, SHORT_RECON_COMMANDS, SHORT_RECON_COMMANDS_PER_SESSION, SITE_ASSETS,
    SITE_PAGES, Truth, Vocabulary,
};

/// Events generated ahead of their time, handed out in (time, insertion) order.
///
/// The heap holds small keys; the events themselves wait in reusable slots so that heap
/// reordering never moves a whole event.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    heap: BinaryHeap<Reverse<(i64, u64, u32)>>,
    slots: Vec<Option<Event>>,
    free: Vec<u32>,
    inserted: u64,
}

impl Queue {
    pub(crate) fn push(&mut self, micros: i64, event: Event) {
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(event);
                slot
            }
            None => {
                self.slots.push(Some(event));
                (self.slots.len() - 1) as u32
            }
        };
        self.heap.push(Reverse((micros, self.inserted, slot)));
        self.inserted += 1;
    }

    /// Time of the earliest waiting event.
    pub(crate) fn peek_time(&self) -> Option<i64> {
        self.heap.peek().map(|Reverse((micros, _, _))| *micros)
    }

    /// Removes the earliest waiting event.
    pub(crate) fn pop(&mut self) -> Option<Event> {
        let Reverse((_, _, slot)) = self.heap.pop()?;
        self.free.push(slot);
        self.slots.get_mut(slot as usize).and_then(Option::take)
    }
}

/// Both ends of a connection, stamped on each of its events.
#[derive(Debug, Clone, Copy)]
struct Conn {
    src: IpAddr,
    src_port: u16,
    dst: IpAddr,
    dst_port: u16,
    transport: Transport,
    proto: Option<Proto>,
    direction: Direction,
}

/// Flags of a complete TCP exchange.
const TCP_FULL: u8 = TCP_SYN | TCP_ACK | TCP_PSH | TCP_FIN;
/// Flags of a probe to a closed port: SYN, answered by RST-ACK.
const TCP_REFUSED: u8 = TCP_SYN | TCP_RST | TCP_ACK;
/// Flags of a half-open probe to an open port: SYN, SYN-ACK, then RST from the prober.
const TCP_HALF_OPEN: u8 = TCP_SYN | TCP_ACK | TCP_RST;
/// Bytes of a bare TCP segment (IP + TCP headers).
const TCP_HEADER_BYTES: u64 = 40;
/// Payload bytes per full TCP segment.
const SEGMENT_BYTES: u64 = 1448;

/// Failed logins per brute-force episode (the last attempt may succeed instead).
pub(crate) const BRUTE_FORCE_ATTEMPTS: (u64, u64) = (40, 300);
/// Login attempts per second of a brute forcer.
pub(crate) const BRUTE_FORCE_RATE: (f64, f64) = (2.0, 10.0);
/// Distinct ports per port scan.
pub(crate) const PORT_SCAN_PORTS: (u64, u64) = (150, 1000);
/// Probes per second of a port scan (low end nmap-like, high end masscan-like).
pub(crate) const PORT_SCAN_RATE: (f64, f64) = (20.0, 300.0);

/// The generator's working parts a session needs.
pub(crate) struct Ctx<'a> {
    pub(crate) draw: &'a mut Draw,
    pub(crate) vocab: &'a Vocabulary,
    pub(crate) site: &'a Site,
    pub(crate) queue: &'a mut Queue,
}

impl Ctx<'_> {
    fn emit(&mut self, micros: i64, kind: EventKind, raw: Raw, truth: Truth, conn: &Conn) -> Event {
        let mut event = self.vocab.event(micros, kind, raw, truth);
        event.src_ip = Some(conn.src);
        event.src_port = Some(conn.src_port);
        event.dst_ip = Some(conn.dst);
        event.dst_port = Some(conn.dst_port);
        event.transport = Some(conn.transport);
        event.app_proto = conn.proto.map(|p| self.vocab.proto(p));
        event.direction = Some(conn.direction);
        event
    }

    fn ephemeral_port(&mut self, host: &Host) -> u16 {
        let (lo, hi) = host.habits.ephemeral;
        self.draw.int(u64::from(lo), u64::from(hi)) as u16
    }

    /// A Cowrie-style session id: 12 hex digits.
    fn session_id(&mut self) -> Box<str> {
        format!("{:012x}", self.draw.bits() >> 16).into_boxed_str()
    }

    fn after(&mut self, micros: i64, median_secs: f64, sigma: f64) -> i64 {
        micros + crate::draw::micros(self.draw.log_normal(median_secs, sigma))
    }

    /// Byte and packet counts of a TCP exchange carrying `payload_out` / `payload_in`.
    fn tcp_volume(event: &mut Event, payload_out: u64, payload_in: u64) {
        let packets_out = 2 + payload_out.div_ceil(SEGMENT_BYTES);
        let packets_in = 2 + payload_in.div_ceil(SEGMENT_BYTES);
        event.bytes_out = Some(payload_out + packets_out * TCP_HEADER_BYTES);
        event.bytes_in = Some(payload_in + packets_in * TCP_HEADER_BYTES);
        event.packets_out = Some(packets_out);
        event.packets_in = Some(packets_in);
    }

    /// Generates one session of `activity` by `host`, starting at `start`.
    pub(crate) fn session(&mut self, host: &Host, activity: Activity, start: i64, truth: Truth) {
        match activity {
            Activity::Dns => self.dns_burst(host, start, truth),
            Activity::WebBrowse => self.web_browse(host, start, truth),
            Activity::OutboundFlow => self.outbound_flows(host, start, truth),
            Activity::AdminSsh => self.admin_ssh(host, start, truth),
            Activity::HoneypotSsh => self.honeypot_ssh(host, start, truth),
            Activity::HttpProbe => self.http_probe(host, start, truth),
            Activity::SynProbe => self.syn_probe(host, start, truth),
            Activity::SiteWeb => self.site_visit(host, start, truth),
            Activity::MqttTelemetry => self.mqtt_telemetry(host, start, truth),
        }
    }

    fn dns_burst(&mut self, host: &Host, start: i64, truth: Truth) {
        let queries = self.draw.int(DNS_BURST.0, DNS_BURST.1);
        let mut t = start;
        for i in 0..queries {
            if i > 0 {
                t = self.after(t, 0.08, 1.0);
            }
            let conn = Conn {
                src: host.ip,
                // resolvers expect a fresh random source port per query
                src_port: self.ephemeral_port(host),
                dst: self.site.resolver,
                dst_port: 53,
                transport: Transport::Udp,
                proto: Some(Proto::Dns),
                direction: Direction::Internal,
            };
            let name = self.draw.pick(host_domains(host));
            let answers = self.draw.int(1, 4);
            let mut event = self.emit(t, EventKind::Dns, Raw::DnsQuery, truth, &conn);
            // header, question, EDNS record; each answer adds a compressed record
            let query_bytes = 28 + 12 + name.len() as u64 + 6 + 11;
            event.bytes_out = Some(query_bytes);
            event.bytes_in = Some(query_bytes + 16 * answers);
            event.packets_out = Some(1);
            event.packets_in = Some(1);
            event.duration_secs = Some(self.draw.log_normal(0.012, 0.8));
            event.command = Some(name.into());
            self.queue.push(t, event);
        }
    }

    fn web_browse(&mut self, host: &Host, start: i64, truth: Truth) {
        let server = match host.habits.web_servers.as_slice() {
            [] => self.draw.pick(&self.site.web_servers),
            servers => self.draw.pick(servers),
        };
        let conn = Conn {
            src: host.ip,
            src_port: self.ephemeral_port(host),
            dst: server,
            dst_port: if self.draw.chance(0.85) { 443 } else { 80 },
            transport: Transport::Tcp,
            proto: Some(Proto::Http),
            direction: Direction::Outbound,
        };
        let requests = self.draw.int(WEB_BROWSE_REQUESTS.0, WEB_BROWSE_REQUESTS.1);
        let mut t = start;
        for i in 0..requests {
            if i > 0 {
                t += micros(self.draw.exponential(2.5));
            }
            let post = self.draw.chance(0.15);
            let path = self.draw.pick(&BROWSE_PATHS);
            let mut event = self.emit(t, EventKind::HttpRequest, Raw::HttpRequest, truth, &conn);
            let scale = host.habits.bytes_scale;
            let request = self.draw.log_normal_count(480.0, 0.5, 120)
                + if post {
                    self.draw.log_normal_count(1500.0, 1.0, 20)
                } else {
                    0
                };
            let response = self.draw.log_normal_count(14_000.0 * scale, 1.3, 200);
            Self::tcp_volume(&mut event, request, response);
            event.duration_secs = Some(self.draw.log_normal(0.18, 0.9));
            event.tcp_flags = Some(TCP_FULL);
            event.command = Some(format!("{} {path}", if post { "POST" } else { "GET" }).into());
            self.queue.push(t, event);
        }
    }

    fn outbound_flows(&mut self, host: &Host, start: i64, truth: Truth) {
        let flows = self.draw.int(OUTBOUND_FLOWS.0, OUTBOUND_FLOWS.1);
        let mut t = start;
        for i in 0..flows {
            if i > 0 {
                t += micros(self.draw.exponential(6.0));
            }
            let profile = match host.habits.flow_profiles.as_slice() {
                [] => FLOW_PROFILES[0],
                profiles => FLOW_PROFILES[self.draw.pick(profiles) % FLOW_PROFILES.len()],
            };
            let server = match host.habits.web_servers.as_slice() {
                [] => self.draw.pick(&self.site.web_servers),
                servers => self.draw.pick(servers),
            };
            let conn = Conn {
                src: host.ip,
                src_port: self.ephemeral_port(host),
                dst: server,
                dst_port: profile.port,
                transport: profile.transport,
                proto: Some(profile.proto),
                direction: Direction::Outbound,
            };
            let mut event = self.emit(t, EventKind::Flow, Raw::Flow, truth, &conn);
            let scale = host.habits.bytes_scale;
            let out = self
                .draw
                .log_normal_count(profile.bytes_out * scale, profile.sigma, 40);
            let inn = self
                .draw
                .log_normal_count(profile.bytes_in * scale, profile.sigma, 40);
            match profile.transport {
                Transport::Tcp => {
                    Self::tcp_volume(&mut event, out, inn);
                    // a few connections end in a reset rather than a clean close
                    let reset = if self.draw.chance(0.03) { TCP_RST } else { 0 };
                    event.tcp_flags = Some(TCP_FULL | reset);
                }
                _ => {
                    let packets_out = out.div_ceil(1200);
                    let packets_in = inn.div_ceil(1200);
                    event.bytes_out = Some(out + 28 * packets_out);
                    event.bytes_in = Some(inn + 28 * packets_in);
                    event.packets_out = Some(packets_out);
                    event.packets_in = Some(packets_in);
                }
            }
            event.duration_secs = Some(self.draw.log_normal(profile.duration, 0.9));
            self.queue.push(t, event);
        }
    }

    fn admin_ssh(&mut self, host: &Host, start: i64, truth: Truth) {
        let conn = Conn {
            src: host.ip,
            src_port: self.ephemeral_port(host),
            dst: self.site.jump_host,
            dst_port: 22,
            transport: Transport::Tcp,
            proto: Some(Proto::Ssh),
            direction: Direction::Internal,
        };
        let session = self.session_id();
        let user = host.habits.admin_user;
        let mut t = start;
        let emit = |ctx: &mut Self, t: i64, kind: EventKind, raw: Raw| {
            let mut event = ctx.emit(t, kind, raw, truth, &conn);
            event.session = Some(session.clone());
            event
        };
        let connect = emit(self, t, EventKind::Connect, Raw::SshdConnect);
        self.queue.push(t, connect);
        t = self.after(t, 0.05, 0.3);
        let mut version = emit(self, t, EventKind::ClientInfo, Raw::SshdClientVersion);
        version.command = Some(host.habits.ssh_client.into());
        self.queue.push(t, version);
        if self.draw.chance(ADMIN_FIRST_LOGIN_FAILS) {
            t = self.after(t, 2.0, 0.5);
            let mut failed = emit(self, t, EventKind::LoginFailed, Raw::SshdAuthFailed);
            failed.username = Some(user.into());
            self.queue.push(t, failed);
        }
        t = self.after(t, 1.5, 0.5);
        let mut accepted = emit(self, t, EventKind::LoginSuccess, Raw::SshdAuthSuccess);
        accepted.username = Some(user.into());
        self.queue.push(t, accepted);
        for _ in 0..self.draw.int(ADMIN_COMMANDS.0, ADMIN_COMMANDS.1) {
            t = self.after(t, 6.0, 0.9);
            let mut command = emit(self, t, EventKind::Command, Raw::SshdCommand);
            command.command = Some(self.draw.pick(&ADMIN_COMMAND_LINES).into());
            self.queue.push(t, command);
        }
        t = self.after(t, 2.0, 0.8);
        let mut closed = emit(self, t, EventKind::Disconnect, Raw::SshdClosed);
        closed.duration_secs = Some((t - start) as f64 / crate::draw::MICROS);
        self.queue.push(t, closed);
    }

    fn honeypot_ssh(&mut self, host: &Host, start: i64, truth: Truth) {
        let telnet = self.draw.chance(host.habits.telnet_share);
        let conn = Conn {
            src: host.ip,
            src_port: self.ephemeral_port(host),
            dst: self.site.public_for(host.ip),
            dst_port: if telnet { 23 } else { 22 },
            transport: Transport::Tcp,
            proto: Some(if telnet { Proto::Telnet } else { Proto::Ssh }),
            direction: Direction::Inbound,
        };
        let session = self.session_id();
        let mut t = start;
        let emit = |ctx: &mut Self, t: i64, kind: EventKind, raw: Raw| {
            let mut event = ctx.emit(t, kind, raw, truth, &conn);
            event.session = Some(session.clone());
            event
        };
        let connect = emit(self, t, EventKind::Connect, Raw::CowrieConnect);
        self.queue.push(t, connect);
        if !telnet {
            t = self.after(t, 0.3, 0.4);
            let mut version = emit(self, t, EventKind::ClientInfo, Raw::CowrieClientVersion);
            version.command = Some(host.habits.ssh_client.into());
            self.queue.push(t, version);
        }
        let failures = self.draw.pick_weighted(&HONEYPOT_FAILED_LOGINS);
        let succeeds = self.draw.chance(HONEYPOT_LOGIN_SUCCEEDS);
        for i in 0..failures {
            t = self.after(t, if i == 0 { 1.0 } else { 0.6 }, 0.5);
            let mut failed = emit(self, t, EventKind::LoginFailed, Raw::CowrieLoginFailed);
            failed.username = Some(self.draw.pick_weighted(&HONEYPOT_USERS).into());
            failed.password = Some(self.draw.pick_weighted(&HONEYPOT_PASSWORDS).into());
            self.queue.push(t, failed);
        }
        if succeeds {
            t = self.after(t, 0.8, 0.5);
            let mut success = emit(self, t, EventKind::LoginSuccess, Raw::CowrieLoginSuccess);
            success.username = Some("root".into());
            success.password = Some(self.draw.pick_weighted(&HONEYPOT_PASSWORDS).into());
            self.queue.push(t, success);
            let script = self.draw.chance(HONEYPOT_RUNS_RECON_SCRIPT);
            let count = if script {
                RECON_SCRIPT.len() as u64
            } else {
                let (lo, hi) = SHORT_RECON_COMMANDS_PER_SESSION;
                self.draw.int(lo, hi)
            };
            for i in 0..count {
                t = self.after(t, 0.35, 0.7);
                let line = if script {
                    RECON_SCRIPT[i as usize % RECON_SCRIPT.len()]
                } else {
                    self.draw.pick(&SHORT_RECON_COMMANDS)
                };
                let mut command = emit(self, t, EventKind::Command, Raw::CowrieCommand);
                command.command = Some(line.into());
                self.queue.push(t, command);
            }
        }
        // Some bots connect and never speak: Cowrie closes them after its idle timeout.
        t = if failures == 0 && !succeeds && self.draw.chance(0.1) {
            start + micros(120.0 + self.draw.uniform(0.0, 0.5))
        } else {
            self.after(t, 0.6, 0.6)
        };
        let mut closed = emit(self, t, EventKind::Disconnect, Raw::CowrieClosed);
        closed.duration_secs = Some((t - start) as f64 / crate::draw::MICROS);
        self.queue.push(t, closed);
    }

    fn http_probe(&mut self, host: &Host, start: i64, truth: Truth) {
        let requests = self.draw.int(HTTP_PROBE_REQUESTS.0, HTTP_PROBE_REQUESTS.1);
        let port = if self.draw.chance(0.7) { 80 } else { 443 };
        let mut t = start;
        for i in 0..requests {
            if i > 0 {
                t = self.after(t, 0.8, 0.8);
            }
            let conn = Conn {
                src: host.ip,
                src_port: self.ephemeral_port(host),
                dst: self.site.public_for(host.ip),
                dst_port: port,
                transport: Transport::Tcp,
                proto: Some(Proto::Http),
                direction: Direction::Inbound,
            };
            let method = match self.draw.unit() {
                u if u < 0.85 => "GET",
                u if u < 0.93 => "HEAD",
                _ => "POST",
            };
            let path = self.draw.pick(&PROBE_PATHS);
            let mut event = self.emit(t, EventKind::HttpRequest, Raw::HttpRequest, truth, &conn);
            let request = self.draw.log_normal_count(260.0, 0.5, 60);
            let response = self.draw.log_normal_count(700.0, 1.0, 100);
            Self::tcp_volume(&mut event, request, response);
            event.duration_secs = Some(self.draw.log_normal(0.08, 0.8));
            event.tcp_flags = Some(TCP_FULL);
            event.command = Some(format!("{method} {path}").into());
            self.queue.push(t, event);
        }
    }

    fn syn_probe(&mut self, host: &Host, start: i64, truth: Truth) {
        let (lo, hi) = SYN_PROBE_PORTS;
        let hi = hi.min(host.habits.probe_ports.len() as u64).max(lo);
        let count = self.draw.int(lo, hi) as usize;
        let ports = self.draw.sample(&host.habits.probe_ports, count);
        let src_port = self.ephemeral_port(host);
        let mut t = start;
        for (i, port) in ports.into_iter().enumerate() {
            if i > 0 {
                t += micros(self.draw.exponential(1.0));
            }
            let conn = Conn {
                src: host.ip,
                src_port,
                dst: self.site.public_for(host.ip),
                dst_port: port,
                transport: Transport::Tcp,
                proto: None,
                direction: Direction::Inbound,
            };
            let mut event = self.emit(t, EventKind::Flow, Raw::Flow, truth, &conn);
            // a lost SYN is sent again about a second later
            let retransmitted = self.draw.chance(0.15);
            let syns = if retransmitted { 2 } else { 1 };
            event.packets_out = Some(syns);
            event.bytes_out = Some(syns * host.habits.syn_bytes);
            event.packets_in = Some(1);
            event.bytes_in = Some(TCP_HEADER_BYTES);
            event.tcp_flags = Some(TCP_REFUSED);
            let base = self.draw.log_normal(0.002, 1.0);
            event.duration_secs = Some(if retransmitted { base + 1.0 } else { base });
            self.queue.push(t, event);
        }
    }

    fn site_visit(&mut self, host: &Host, start: i64, truth: Truth) {
        let conn = Conn {
            src: host.ip,
            src_port: self.ephemeral_port(host),
            dst: self.site.public_for(host.ip),
            dst_port: if self.draw.chance(0.9) { 443 } else { 80 },
            transport: Transport::Tcp,
            proto: Some(Proto::Http),
            direction: Direction::Inbound,
        };
        let requests = self.draw.int(SITE_VISIT_REQUESTS.0, SITE_VISIT_REQUESTS.1);
        let mut t = start;
        for i in 0..requests {
            let asset = i > 0 && self.draw.chance(0.7);
            if i > 0 {
                t = if asset {
                    self.after(t, 0.08, 0.6)
                } else {
                    self.after(t, 15.0, 1.0)
                };
            }
            let (path, response) = if asset {
                let size = self.draw.log_normal_count(30_000.0, 1.5, 300);
                (self.draw.pick(&SITE_ASSETS), size)
            } else {
                let size = self.draw.log_normal_count(18_000.0, 0.8, 1_000);
                (self.draw.pick(&SITE_PAGES), size)
            };
            let mut event = self.emit(t, EventKind::HttpRequest, Raw::HttpRequest, truth, &conn);
            let request = self.draw.log_normal_count(520.0, 0.3, 150);
            Self::tcp_volume(&mut event, request, response);
            event.duration_secs = Some(self.draw.log_normal(0.12, 0.8));
            event.tcp_flags = Some(TCP_FULL);
            event.command = Some(format!("GET {path}").into());
            self.queue.push(t, event);
        }
    }

    fn mqtt_telemetry(&mut self, device: &Host, start: i64, truth: Truth) {
        let conn = Conn {
            src: device.ip,
            src_port: self.ephemeral_port(device),
            dst: self.site.broker,
            dst_port: 1883,
            transport: Transport::Tcp,
            proto: Some(Proto::Mqtt),
            direction: Direction::Internal,
        };
        let flows = self.draw.int(MQTT_FLOWS.0, MQTT_FLOWS.1);
        let mut t = start;
        for i in 0..flows {
            if i > 0 {
                t = self.after(t, 5.0, 0.7);
            }
            let mut event = self.emit(t, EventKind::Flow, Raw::Flow, truth, &conn);
            let publish = self
                .draw
                .log_normal_count(320.0 * device.habits.bytes_scale, 0.6, 60);
            let acks = self.draw.log_normal_count(70.0, 0.3, 20);
            let packets_out = 1 + publish.div_ceil(SEGMENT_BYTES);
            event.packets_out = Some(packets_out);
            event.packets_in = Some(1);
            event.bytes_out = Some(publish + packets_out * TCP_HEADER_BYTES);
            event.bytes_in = Some(acks + TCP_HEADER_BYTES);
            event.duration_secs = Some(self.draw.log_normal(0.06, 0.7));
            // segments of a long-lived connection: no handshake, no close
            event.tcp_flags = Some(TCP_PSH | TCP_ACK);
            self.queue.push(t, event);
        }
    }

    /// An SSH brute force from `attacker`: connection after connection of failed logins at a
    /// steady machine pace, at least 21 of them within any 30 s of the episode's start.
    pub(crate) fn brute_force(&mut self, attacker: IpAddr, start: i64) {
        let truth = Truth::BruteForce;
        let attempts = self
            .draw
            .int(BRUTE_FORCE_ATTEMPTS.0, BRUTE_FORCE_ATTEMPTS.1);
        let rate = self.draw.uniform(BRUTE_FORCE_RATE.0, BRUTE_FORCE_RATE.1);
        let per_connection = self.draw.int(3, 6);
        let client = self.draw.pick(&BRUTE_FORCE_CLIENTS);
        let only_root = self.draw.chance(0.6);
        let succeeds = self.draw.chance(0.25);
        let mut src_port = self.draw.int(32768, 60000) as u16;
        let dst = self.site.public_for(attacker);

        // Attempt times first: gaps of at most 1.5 / rate keep the pace guaranteed.
        let mut times = Vec::with_capacity(attempts as usize);
        let mut t = start + micros(0.4);
        for _ in 0..attempts {
            times.push(t);
            t += micros(self.draw.uniform(0.5, 1.5) / rate);
        }
        let last = times.len().saturating_sub(1);
        for (chunk_index, chunk) in times.chunks(per_connection as usize).enumerate() {
            let conn = Conn {
                src: attacker,
                src_port,
                dst,
                dst_port: 22,
                transport: Transport::Tcp,
                proto: Some(Proto::Ssh),
                direction: Direction::Inbound,
            };
            src_port = src_port.wrapping_add(1).max(1024);
            let session = self.session_id();
            let emit = |ctx: &mut Self, t: i64, kind: EventKind, raw: Raw| {
                let mut event = ctx.emit(t, kind, raw, truth, &conn);
                event.session = Some(session.clone());
                event
            };
            let opened = chunk[0] - micros(0.35);
            let connect = emit(self, opened, EventKind::Connect, Raw::CowrieConnect);
            self.queue.push(opened, connect);
            let mut version = emit(
                self,
                opened + micros(0.1),
                EventKind::ClientInfo,
                Raw::CowrieClientVersion,
            );
            version.command = Some(client.into());
            self.queue.push(opened + micros(0.1), version);
            let mut t_last = opened;
            for (i, &t) in chunk.iter().enumerate() {
                let index = chunk_index * per_connection as usize + i;
                let success = succeeds && index == last;
                let (kind, raw) = if success {
                    (EventKind::LoginSuccess, Raw::CowrieLoginSuccess)
                } else {
                    (EventKind::LoginFailed, Raw::CowrieLoginFailed)
                };
                let mut login = emit(self, t, kind, raw);
                let user = if only_root {
                    "root"
                } else {
                    self.draw.pick_weighted(&HONEYPOT_USERS)
                };
                login.username = Some(user.into());
                let base = self.draw.pick_weighted(&HONEYPOT_PASSWORDS);
                // dictionaries mangle common words with digits
                login.password = Some(if self.draw.chance(0.5) {
                    format!("{base}{}", self.draw.int(0, 2026)).into()
                } else {
                    base.into()
                });
                self.queue.push(t, login);
                t_last = t;
                if success {
                    for line in DROPPER_COMMANDS.iter().take(self.draw.int(3, 7) as usize) {
                        t_last = self.after(t_last, 0.8, 0.5);
                        let mut command =
                            emit(self, t_last, EventKind::Command, Raw::CowrieCommand);
                        command.command = Some((*line).into());
                        self.queue.push(t_last, command);
                    }
                }
            }
            let closed_at = t_last + micros(0.1);
            let mut closed = emit(self, closed_at, EventKind::Disconnect, Raw::CowrieClosed);
            closed.duration_secs = Some((closed_at - opened) as f64 / crate::draw::MICROS);
            self.queue.push(closed_at, closed);
        }
    }

    /// A TCP port scan of the honeypot from `attacker`: many distinct ports, each one short
    /// probe, at least 100 of them within 60 s of the episode's start.
    pub(crate) fn port_scan(&mut self, attacker: IpAddr, start: i64) {
        let truth = Truth::PortScan;
        let count = self.draw.int(PORT_SCAN_PORTS.0, PORT_SCAN_PORTS.1) as usize;
        let (lo, hi) = PORT_SCAN_RATE;
        // log-uniform: slow careful scans and fast masscan runs alike
        let rate = lo * (hi / lo).powf(self.draw.unit());
        let mut ports: Vec<u16> = if self.draw.chance(0.35) {
            // a contiguous range from port 1, like `masscan -p1-1000`
            (1..=count as u16).collect()
        } else {
            let mut seen = HashSet::with_capacity(count);
            let mut ports = Vec::with_capacity(count);
            while ports.len() < count {
                let port = self.draw.int(1, 65535) as u16;
                if seen.insert(port) {
                    ports.push(port);
                }
            }
            ports
        };
        self.draw.shuffle(&mut ports);
        let syn_bytes = if self.draw.chance(0.5) { 44 } else { 60 };
        let src_port = self.draw.int(32768, 61000) as u16;
        let dst = self.site.public_for(attacker);
        let mut t = start;
        for port in ports {
            t += micros(self.draw.uniform(0.5, 1.5) / rate);
            let conn = Conn {
                src: attacker,
                src_port,
                dst,
                dst_port: port,
                transport: Transport::Tcp,
                proto: None,
                direction: Direction::Inbound,
            };
            let mut event = self.emit(t, EventKind::Flow, Raw::Flow, truth, &conn);
            if SITE_OPEN_PORTS.contains(&port) {
                event.packets_out = Some(2);
                event.bytes_out = Some(syn_bytes + TCP_HEADER_BYTES);
                event.packets_in = Some(1);
                event.bytes_in = Some(44);
                event.tcp_flags = Some(TCP_HALF_OPEN);
                event.duration_secs = Some(self.draw.log_normal(0.002, 0.5));
            } else {
                event.packets_out = Some(1);
                event.bytes_out = Some(syn_bytes);
                event.packets_in = Some(1);
                event.bytes_in = Some(TCP_HEADER_BYTES);
                event.tcp_flags = Some(TCP_REFUSED);
                event.duration_secs = Some(self.draw.log_normal(0.0008, 0.5));
            }
            self.queue.push(t, event);
        }
    }
}

fn host_domains(host: &Host) -> &[&'static str] {
    if host.habits.domains.is_empty() {
        &CLIENT_DOMAINS
    } else {
        &host.habits.domains
    }
}
