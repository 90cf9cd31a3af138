//! The flow tracker: bidirectional 5-tuple flows in packet (event) time, with a bounded
//! table. See `docs/flows.md` for the rules.

use std::net::IpAddr;

use hashbrown::HashMap;

use crate::decode::{PROTO_TCP, Packet};
use crate::error::ConfigError;
use crate::features::{CtWindow, Features, flow_service, proto_name};

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;
const NIL: u32 = u32::MAX;

/// Flow tracker settings.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowConfig {
    /// A flow without a packet for this long (packet time) is emitted. Default 60.
    pub flow_idle_secs: f64,
    /// A flow this old (from its first packet) is emitted when its next packet comes, and
    /// that packet starts a new flow with the same initiator. Default 300.
    pub flow_active_secs: f64,
    /// At most this many flows are tracked at once; a new flow beyond it evicts (emits) the
    /// least recently active one. Default 262,144.
    pub max_flows: usize,
}

impl Default for FlowConfig {
    fn default() -> FlowConfig {
        FlowConfig {
            flow_idle_secs: 60.0,
            flow_active_secs: 300.0,
            max_flows: 262_144,
        }
    }
}

impl FlowConfig {
    /// The largest `max_flows` accepted.
    pub const MAX_FLOWS_LIMIT: usize = 1 << 30;
    /// The largest timeout accepted, in seconds (about 292 years in nanoseconds, halved).
    pub const MAX_TIMEOUT_SECS: f64 = 4.0e9;

    /// Checks every field, naming the first one out of range.
    ///
    /// ```
    /// use vigil_packets::FlowConfig;
    /// assert!(FlowConfig::default().validate().is_ok());
    /// let bad = FlowConfig { flow_idle_secs: 0.0, ..FlowConfig::default() };
    /// assert_eq!(bad.validate().unwrap_err().field, "flow_idle_secs");
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (field, value) in [
            ("flow_idle_secs", self.flow_idle_secs),
            ("flow_active_secs", self.flow_active_secs),
        ] {
            if !(value.is_finite() && value > 0.0 && value <= Self::MAX_TIMEOUT_SECS) {
                return Err(ConfigError {
                    field,
                    value: value.to_string(),
                    problem: "must be a number of seconds above 0 and at most 4e9",
                });
            }
        }
        if self.max_flows == 0 || self.max_flows > Self::MAX_FLOWS_LIMIT {
            return Err(ConfigError {
                field: "max_flows",
                value: self.max_flows.to_string(),
                problem: "must be between 1 and 1073741824",
            });
        }
        Ok(())
    }
}

/// Why a flow was emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FlowEnd {
    /// Both sides sent FIN and the last FIN was acknowledged (or a new SYN reused the tuple).
    Fin,
    /// A RST was seen (the RST packet is the flow's last).
    Rst,
    /// No packet for `flow_idle_secs`.
    IdleTimeout,
    /// The flow reached `flow_active_secs`.
    ActiveTimeout,
    /// The table was full and this flow was the least recently active.
    Evicted,
    /// The input ended ([`FlowTracker::finish`]).
    EndOfInput,
}

impl FlowEnd {
    /// Every reason, in a stable order.
    pub const ALL: [FlowEnd; 6] = [
        FlowEnd::Fin,
        FlowEnd::Rst,
        FlowEnd::IdleTimeout,
        FlowEnd::ActiveTimeout,
        FlowEnd::Evicted,
        FlowEnd::EndOfInput,
    ];

    /// The snake_case name used in logs and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            FlowEnd::Fin => "fin",
            FlowEnd::Rst => "rst",
            FlowEnd::IdleTimeout => "idle_timeout",
            FlowEnd::ActiveTimeout => "active_timeout",
            FlowEnd::Evicted => "evicted",
            FlowEnd::EndOfInput => "end_of_input",
        }
    }
}

/// One emitted flow. "Source" is the initiator: the sender of the flow's first packet, or
/// the receiver when that packet is a SYN-ACK.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowRecord {
    /// Initiator address.
    pub src: IpAddr,
    /// Initiator port (0 without ports).
    pub src_port: u16,
    /// Responder address.
    pub dst: IpAddr,
    /// Responder port (0 without ports).
    pub dst_port: u16,
    /// IP protocol number.
    pub proto: u8,
    /// Time of the first packet, ns since the epoch.
    pub start_nanos: i64,
    /// Time of the last packet, ns since the epoch.
    pub end_nanos: i64,
    /// Capture offset of the flow's first packet record (unique per flow within a capture).
    pub first_offset: u64,
    /// Why the flow was emitted.
    pub end: FlowEnd,
    /// TCP flags seen in either direction (OR of the flags bytes); 0 for other protocols.
    pub tcp_flags: u8,
    /// Whether the initiator sent a SYN without ACK (a TCP connection attempt).
    pub syn: bool,
    /// The UNSW-NB15 features.
    pub features: Features,
}

/// Counts kept by a [`FlowTracker`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrackerStats {
    /// Packets pushed.
    pub packets: u64,
    /// Flows started.
    pub flows_started: u64,
    /// Flows emitted, per [`FlowEnd`] (index: position in [`FlowEnd::ALL`]).
    pub emitted: [u64; 6],
    /// Flows in the table now.
    pub active: u64,
}

impl TrackerStats {
    /// Flows emitted for `end`.
    pub fn emitted_for(&self, end: FlowEnd) -> u64 {
        self.emitted[end as usize]
    }

    /// Flows emitted in all.
    pub fn emitted_total(&self) -> u64 {
        self.emitted.iter().sum()
    }

    /// Flows evicted because the table was full.
    pub fn evicted(&self) -> u64 {
        self.emitted_for(FlowEnd::Evicted)
    }
}

/// Canonical (direction-free) 5-tuple.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FlowKey {
    a: IpAddr,
    b: IpAddr,
    a_port: u16,
    b_port: u16,
    proto: u8,
}

impl FlowKey {
    #[inline]
    fn of(p: &Packet) -> FlowKey {
        if (p.src, p.src_port) <= (p.dst, p.dst_port) {
            FlowKey {
                a: p.src,
                b: p.dst,
                a_port: p.src_port,
                b_port: p.dst_port,
                proto: p.proto,
            }
        } else {
            FlowKey {
                a: p.dst,
                b: p.src,
                a_port: p.dst_port,
                b_port: p.src_port,
                proto: p.proto,
            }
        }
    }
}

/// One direction of a flow.
#[derive(Debug, Clone, Copy, Default)]
struct Dir {
    pkts: u64,
    bytes: u64,
    last_ns: i64,
    /// Sum of inter-packet times, ns.
    iat_sum: u128,
    /// Sum of their squares, ns².
    iat_sumsq: u128,
    ttl: u8,
    tcp_seen: bool,
    win: u16,
    base_seq: u32,
    next_seq: u32,
    loss: u64,
    fin: bool,
    flags: u8,
}

impl Dir {
    /// Mean inter-packet time and its population standard deviation, in ms.
    fn iat_ms(&self) -> (f64, f64) {
        if self.pkts < 2 {
            return (0.0, 0.0);
        }
        let n = u128::from(self.pkts - 1);
        let mean_ns = self.iat_sum as f64 / n as f64;
        // n·Σx² − (Σx)² is exact in integers and never negative.
        let num = (n * self.iat_sumsq).saturating_sub(self.iat_sum * self.iat_sum);
        let var_ns2 = num as f64 / (n * n) as f64;
        (mean_ns / 1e6, var_ns2.sqrt() / 1e6)
    }
}

#[derive(Debug, Clone)]
struct FlowState {
    key: FlowKey,
    init: (IpAddr, u16),
    resp: (IpAddr, u16),
    proto: u8,
    first_offset: u64,
    start_ns: i64,
    last_ns: i64,
    dirs: [Dir; 2],
    syn_ns: Option<i64>,
    synack_ns: Option<i64>,
    ack_ns: Option<i64>,
    rst: bool,
    /// Set once both sides sent FIN: the direction of the second FIN.
    closing: Option<u8>,
    prev: u32,
    next: u32,
}

/// Tracks bidirectional flows from decoded packets, in packet time.
///
/// ```
/// use vigil_packets::{FlowConfig, FlowTracker, decode, synth::{self, TcpSpec}, capture::{Frame, LINKTYPE_RAW}};
/// let mut tracker = FlowTracker::new(FlowConfig::default()).unwrap();
/// let mut flows = Vec::new();
/// for (i, flags) in [0x02u8, 0x12, 0x10, 0x04].into_iter().enumerate() {
///     let (a, b, ap, bp) = if i == 1 { ([10, 0, 0, 2], [10, 0, 0, 1], 22, 40000) } else { ([10, 0, 0, 1], [10, 0, 0, 2], 40000, 22) };
///     let bytes = synth::ipv4_tcp(TcpSpec::new(a, ap, b, bp, flags));
///     let frame = Frame { offset: i as u64, ts_nanos: i as i64 * 1_000_000, linktype: LINKTYPE_RAW, orig_len: 40, data: &bytes };
///     tracker.push(&decode(&frame).unwrap(), &mut flows);
/// }
/// assert_eq!(flows.len(), 1); // emitted on the RST
/// assert_eq!(flows[0].features.state, "RST");
/// assert_eq!(flows[0].features.synack, 0.001);
/// ```
#[derive(Debug)]
pub struct FlowTracker {
    idle_ns: i64,
    active_ns: i64,
    max_flows: usize,
    map: HashMap<FlowKey, u32>,
    slots: Vec<FlowState>,
    free: Vec<u32>,
    /// Least recently active flow.
    head: u32,
    /// Most recently active flow.
    tail: u32,
    clock: i64,
    ct: CtWindow,
    stats: TrackerStats,
}

fn secs_to_ns(secs: f64) -> i64 {
    (secs * 1e9).round() as i64
}

impl FlowTracker {
    /// A tracker with `config`, checked first.
    pub fn new(config: FlowConfig) -> Result<FlowTracker, ConfigError> {
        config.validate()?;
        Ok(FlowTracker {
            idle_ns: secs_to_ns(config.flow_idle_secs),
            active_ns: secs_to_ns(config.flow_active_secs),
            max_flows: config.max_flows,
            map: HashMap::with_capacity(config.max_flows.min(1 << 16)),
            slots: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            clock: i64::MIN,
            ct: CtWindow::default(),
            stats: TrackerStats::default(),
        })
    }

    /// The counts so far.
    pub fn stats(&self) -> &TrackerStats {
        &self.stats
    }

    /// The tracker's clock: the latest packet time seen (or passed to [`Self::advance_to`]).
    pub fn clock_nanos(&self) -> i64 {
        self.clock
    }

    /// Adds one packet, appending to `out` the flows that end with it: first those idle
    /// for `flow_idle_secs` at its time, then an evicted or active-timed-out one, then its
    /// own flow when this packet closes it (RST, last ACK of a FIN exchange).
    ///
    /// Time only goes forward: a packet older than the clock is taken at the clock's time.
    pub fn push(&mut self, p: &Packet, out: &mut Vec<FlowRecord>) {
        let ts = p.ts_nanos.max(self.clock);
        self.clock = ts;
        self.stats.packets += 1;
        self.expire_idle(out);
        let key = FlowKey::of(p);
        let tcp_flags = p.tcp.map_or(0, |t| t.flags);
        let idx = match self.map.get(&key) {
            Some(&i) => {
                let f = &self.slots[i as usize];
                let is_new_syn = tcp_flags & (SYN | ACK) == SYN;
                if ts - f.start_ns >= self.active_ns {
                    let init = f.init;
                    self.emit(i, FlowEnd::ActiveTimeout, out);
                    self.insert(key, p, ts, Some(init), out)
                } else if is_new_syn && (f.closing.is_some() || f.rst) {
                    self.emit(i, FlowEnd::Fin, out);
                    self.insert(key, p, ts, None, out)
                } else {
                    self.touch(i);
                    i
                }
            }
            None => self.insert(key, p, ts, None, out),
        };
        if let Some(end) = self.update(idx, p, ts) {
            self.emit(idx, end, out);
        }
    }

    /// Moves the clock to `now_nanos` (if later) and emits the flows idle since: for a
    /// live source between packets.
    pub fn advance_to(&mut self, now_nanos: i64, out: &mut Vec<FlowRecord>) {
        self.clock = self.clock.max(now_nanos);
        self.expire_idle(out);
    }

    /// Emits every flow still tracked (end of input), least recently active first.
    pub fn finish(&mut self, out: &mut Vec<FlowRecord>) {
        while self.head != NIL {
            self.emit(self.head, FlowEnd::EndOfInput, out);
        }
    }

    fn expire_idle(&mut self, out: &mut Vec<FlowRecord>) {
        while self.head != NIL {
            let last = self.slots[self.head as usize].last_ns;
            if self.clock.saturating_sub(last) >= self.idle_ns {
                self.emit(self.head, FlowEnd::IdleTimeout, out);
            } else {
                break;
            }
        }
    }

    fn unlink(&mut self, i: u32) {
        let (prev, next) = {
            let s = &self.slots[i as usize];
            (s.prev, s.next)
        };
        if prev == NIL {
            self.head = next;
        } else {
            self.slots[prev as usize].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.slots[next as usize].prev = prev;
        }
    }

    fn link_tail(&mut self, i: u32) {
        let tail = self.tail;
        {
            let s = &mut self.slots[i as usize];
            s.prev = tail;
            s.next = NIL;
        }
        if tail == NIL {
            self.head = i;
        } else {
            self.slots[tail as usize].next = i;
        }
        self.tail = i;
    }

    #[inline]
    fn touch(&mut self, i: u32) {
        if self.tail != i {
            self.unlink(i);
            self.link_tail(i);
        }
    }

    fn insert(
        &mut self,
        key: FlowKey,
        p: &Packet,
        ts: i64,
        initiator: Option<(IpAddr, u16)>,
        out: &mut Vec<FlowRecord>,
    ) -> u32 {
        if self.map.len() >= self.max_flows {
            self.emit(self.head, FlowEnd::Evicted, out);
        }
        let flags = p.tcp.map_or(0, |t| t.flags);
        let synack = p.proto == PROTO_TCP && flags & (SYN | ACK) == SYN | ACK;
        let init = initiator.unwrap_or(if synack {
            (p.dst, p.dst_port)
        } else {
            (p.src, p.src_port)
        });
        let resp = if init == (p.src, p.src_port) {
            (p.dst, p.dst_port)
        } else {
            (p.src, p.src_port)
        };
        let state = FlowState {
            key,
            init,
            resp,
            proto: p.proto,
            first_offset: p.offset,
            start_ns: ts,
            last_ns: ts,
            dirs: [Dir::default(); 2],
            syn_ns: None,
            synack_ns: None,
            ack_ns: None,
            rst: false,
            closing: None,
            prev: NIL,
            next: NIL,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = state;
                i
            }
            None => {
                self.slots.push(state);
                (self.slots.len() - 1) as u32
            }
        };
        self.map.insert(key, i);
        self.link_tail(i);
        self.stats.flows_started += 1;
        self.stats.active += 1;
        i
    }

    /// Adds the packet to flow `i`; says whether the flow ends with it.
    #[inline]
    fn update(&mut self, i: u32, p: &Packet, ts: i64) -> Option<FlowEnd> {
        let f = &mut self.slots[i as usize];
        f.last_ns = ts;
        let d = usize::from((p.src, p.src_port) != f.init);
        let dir = &mut f.dirs[d];
        if dir.pkts == 0 {
            dir.ttl = p.ttl;
        } else {
            let iat = (ts - dir.last_ns) as u128;
            dir.iat_sum += iat;
            dir.iat_sumsq += iat * iat;
        }
        dir.last_ns = ts;
        dir.pkts += 1;
        dir.bytes += u64::from(p.ip_len);
        let tcp = p.tcp?;
        let flags = tcp.flags;
        dir.flags |= flags;
        let seg_len = tcp
            .payload_len
            .wrapping_add(u32::from(flags & SYN != 0) + u32::from(flags & FIN != 0));
        if !dir.tcp_seen {
            dir.tcp_seen = true;
            dir.win = tcp.window;
            dir.base_seq = tcp.seq;
            dir.next_seq = tcp.seq.wrapping_add(seg_len);
        } else if seg_len > 0 {
            if (tcp.seq.wrapping_sub(dir.next_seq) as i32) < 0 {
                dir.loss += 1;
            }
            let end = tcp.seq.wrapping_add(seg_len);
            if (end.wrapping_sub(dir.next_seq) as i32) > 0 {
                dir.next_seq = end;
            }
        }
        let closing_before = f.closing;
        if flags & FIN != 0 {
            dir.fin = true;
            if f.closing.is_none() && f.dirs[0].fin && f.dirs[1].fin {
                f.closing = Some(d as u8);
            }
        }
        let syn = flags & SYN != 0;
        let ack = flags & ACK != 0;
        if d == 0 && syn && !ack && f.syn_ns.is_none() {
            f.syn_ns = Some(ts);
        } else if d == 1 && syn && ack && f.syn_ns.is_some() && f.synack_ns.is_none() {
            f.synack_ns = Some(ts);
        } else if d == 0 && !syn && ack && f.synack_ns.is_some() && f.ack_ns.is_none() {
            f.ack_ns = Some(ts);
        }
        if flags & RST != 0 {
            f.rst = true;
            return Some(FlowEnd::Rst);
        }
        match closing_before {
            Some(last_fin_dir) if usize::from(last_fin_dir) != d && ack => Some(FlowEnd::Fin),
            _ => None,
        }
    }

    fn emit(&mut self, i: u32, end: FlowEnd, out: &mut Vec<FlowRecord>) {
        self.unlink(i);
        self.free.push(i);
        let f = &self.slots[i as usize];
        self.map.remove(&f.key);
        self.stats.active -= 1;
        self.stats.emitted[end as usize] += 1;
        let mut record = record_of(f, end);
        self.ct.push(
            record.src,
            record.dst,
            record.src_port,
            record.dst_port,
            &mut record.features,
        );
        out.push(record);
    }
}

fn record_of(f: &FlowState, end: FlowEnd) -> FlowRecord {
    let [s, d] = &f.dirs;
    let dur_ns = f.last_ns - f.start_ns;
    let dur = dur_ns as f64 / 1e9;
    let per_sec = |x: f64| if dur_ns > 0 { x / dur } else { 0.0 };
    let mean = |bytes: u64, pkts: u64| {
        if pkts > 0 {
            bytes as f64 / pkts as f64
        } else {
            0.0
        }
    };
    let (sinpkt, sjit) = s.iat_ms();
    let (dinpkt, djit) = d.iat_ms();
    let secs = |a: Option<i64>, b: Option<i64>| match (a, b) {
        (Some(a), Some(b)) => (b - a) as f64 / 1e9,
        _ => 0.0,
    };
    let handshake_whole = f.ack_ns.is_some();
    let synack = if f.synack_ns.is_some() {
        secs(f.syn_ns, f.synack_ns)
    } else {
        0.0
    };
    let ackdat = secs(f.synack_ns, f.ack_ns);
    let tcprtt = if handshake_whole {
        secs(f.syn_ns, f.ack_ns)
    } else {
        0.0
    };
    let tcp = f.proto == PROTO_TCP;
    let state = if tcp {
        if f.rst {
            "RST"
        } else if s.fin || d.fin {
            "FIN"
        } else if d.pkts == 0 && f.syn_ns.is_some() {
            "REQ"
        } else if d.pkts > 0 {
            "CON"
        } else {
            "INT"
        }
    } else if d.pkts > 0 {
        "CON"
    } else {
        "INT"
    };
    let (src, src_port) = f.init;
    let (dst, dst_port) = f.resp;
    let features = Features {
        dur,
        spkts: s.pkts,
        dpkts: d.pkts,
        sbytes: s.bytes,
        dbytes: d.bytes,
        rate: per_sec((s.pkts + d.pkts).saturating_sub(1) as f64),
        sttl: s.ttl,
        dttl: d.ttl,
        sload: per_sec(s.bytes as f64 * 8.0),
        dload: per_sec(d.bytes as f64 * 8.0),
        sloss: s.loss,
        dloss: d.loss,
        sinpkt,
        dinpkt,
        sjit,
        djit,
        swin: s.win,
        stcpb: s.base_seq,
        dtcpb: d.base_seq,
        dwin: d.win,
        tcprtt,
        synack,
        ackdat,
        smean: mean(s.bytes, s.pkts),
        dmean: mean(d.bytes, d.pkts),
        ct_srv_src: 0,
        ct_dst_ltm: 0,
        ct_src_dport_ltm: 0,
        ct_dst_sport_ltm: 0,
        ct_dst_src_ltm: 0,
        ct_src_ltm: 0,
        ct_srv_dst: 0,
        is_sm_ips_ports: u8::from(src == dst && src_port == dst_port),
        proto: proto_name(f.proto),
        service: flow_service(f.proto, src_port, dst_port),
        state,
    };
    FlowRecord {
        src,
        src_port,
        dst,
        dst_port,
        proto: f.proto,
        start_nanos: f.start_ns,
        end_nanos: f.last_ns,
        first_offset: f.first_offset,
        end,
        tcp_flags: s.flags | d.flags,
        syn: f.syn_ns.is_some(),
        features,
    }
}
