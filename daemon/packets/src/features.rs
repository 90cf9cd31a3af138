//! Per-flow features in the UNSW-NB15 manner, under their UNSW-NB15 names. Each is defined
//! in `docs/flows.md`; the short form is on each field.

use std::net::IpAddr;

use crate::decode::{PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};

/// Names of [`Features::values`], in order: UNSW-NB15's numeric columns in their published
/// order, less those that need application-layer parsing (`trans_depth`,
/// `response_body_len`, `is_ftp_login`, `ct_ftp_cmd`, `ct_flw_http_mthd`) and
/// `ct_state_ttl` (defined by the dataset's authors through value ranges they did not
/// publish).
pub const FEATURE_NAMES: [&str; 33] = [
    "dur",
    "spkts",
    "dpkts",
    "sbytes",
    "dbytes",
    "rate",
    "sttl",
    "dttl",
    "sload",
    "dload",
    "sloss",
    "dloss",
    "sinpkt",
    "dinpkt",
    "sjit",
    "djit",
    "swin",
    "stcpb",
    "dtcpb",
    "dwin",
    "tcprtt",
    "synack",
    "ackdat",
    "smean",
    "dmean",
    "ct_srv_src",
    "ct_dst_ltm",
    "ct_src_dport_ltm",
    "ct_dst_sport_ltm",
    "ct_dst_src_ltm",
    "ct_src_ltm",
    "ct_srv_dst",
    "is_sm_ips_ports",
];

/// How many flows the `ct_*` counters look back over (UNSW-NB15: 100 connections).
pub const CT_WINDOW: usize = 100;

/// The numeric and categorical features of one flow. Times are in seconds except the
/// inter-packet times and jitters, in milliseconds (as in UNSW-NB15).
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    /// Last packet time − first packet time, seconds.
    pub dur: f64,
    /// Packets initiator → responder.
    pub spkts: u64,
    /// Packets responder → initiator.
    pub dpkts: u64,
    /// IP bytes initiator → responder.
    pub sbytes: u64,
    /// IP bytes responder → initiator.
    pub dbytes: u64,
    /// (spkts + dpkts − 1) / dur, packets per second; 0 when dur is 0.
    pub rate: f64,
    /// TTL (hop limit) of the initiator's first packet.
    pub sttl: u8,
    /// TTL of the responder's first packet; 0 without one.
    pub dttl: u8,
    /// sbytes × 8 / dur, bits per second; 0 when dur is 0.
    pub sload: f64,
    /// dbytes × 8 / dur, bits per second; 0 when dur is 0.
    pub dload: f64,
    /// TCP retransmitted segments initiator → responder.
    pub sloss: u64,
    /// TCP retransmitted segments responder → initiator.
    pub dloss: u64,
    /// Mean time between the initiator's consecutive packets, ms; 0 below 2 packets.
    pub sinpkt: f64,
    /// Mean time between the responder's consecutive packets, ms; 0 below 2 packets.
    pub dinpkt: f64,
    /// Population standard deviation of the initiator's inter-packet times, ms (Argus' jitter).
    pub sjit: f64,
    /// Population standard deviation of the responder's inter-packet times, ms.
    pub djit: f64,
    /// TCP window of the initiator's first TCP packet (unscaled); 0 for other protocols.
    pub swin: u16,
    /// Sequence number of the initiator's first TCP packet; 0 for other protocols.
    pub stcpb: u32,
    /// Sequence number of the responder's first TCP packet; 0 without one.
    pub dtcpb: u32,
    /// TCP window of the responder's first TCP packet; 0 without one.
    pub dwin: u16,
    /// synack + ackdat, seconds; 0 unless the three-way handshake was seen whole.
    pub tcprtt: f64,
    /// SYN to SYN-ACK, seconds; 0 unless both were seen.
    pub synack: f64,
    /// SYN-ACK to the initiator's ACK, seconds; 0 unless the handshake was seen whole.
    pub ackdat: f64,
    /// sbytes / spkts; 0 without packets.
    pub smean: f64,
    /// dbytes / dpkts; 0 without packets.
    pub dmean: f64,
    /// Flows among the last [`CT_WINDOW`] (this one included) with this flow's service and source.
    pub ct_srv_src: u32,
    /// ... with this flow's destination address.
    pub ct_dst_ltm: u32,
    /// ... with this flow's source address and destination port.
    pub ct_src_dport_ltm: u32,
    /// ... with this flow's destination address and source port.
    pub ct_dst_sport_ltm: u32,
    /// ... with this flow's source and destination addresses.
    pub ct_dst_src_ltm: u32,
    /// ... with this flow's source address.
    pub ct_src_ltm: u32,
    /// ... with this flow's service and destination address.
    pub ct_srv_dst: u32,
    /// 1 when source and destination addresses are equal and so are the ports, else 0.
    pub is_sm_ips_ports: u8,
    /// Protocol name (`tcp`, `udp`, `icmp`, `ipv6-icmp`, or the IANA number).
    pub proto: &'static str,
    /// Service from a well-known port, `-` for none.
    pub service: &'static str,
    /// Connection state: `CON`, `FIN`, `RST`, `REQ`, `INT`.
    pub state: &'static str,
}

impl Features {
    /// The numeric features, in the order of [`FEATURE_NAMES`].
    pub fn values(&self) -> [f64; FEATURE_NAMES.len()] {
        [
            self.dur,
            self.spkts as f64,
            self.dpkts as f64,
            self.sbytes as f64,
            self.dbytes as f64,
            self.rate,
            f64::from(self.sttl),
            f64::from(self.dttl),
            self.sload,
            self.dload,
            self.sloss as f64,
            self.dloss as f64,
            self.sinpkt,
            self.dinpkt,
            self.sjit,
            self.djit,
            f64::from(self.swin),
            f64::from(self.stcpb),
            f64::from(self.dtcpb),
            f64::from(self.dwin),
            self.tcprtt,
            self.synack,
            self.ackdat,
            self.smean,
            self.dmean,
            f64::from(self.ct_srv_src),
            f64::from(self.ct_dst_ltm),
            f64::from(self.ct_src_dport_ltm),
            f64::from(self.ct_dst_sport_ltm),
            f64::from(self.ct_dst_src_ltm),
            f64::from(self.ct_src_ltm),
            f64::from(self.ct_srv_dst),
            f64::from(self.is_sm_ips_ports),
        ]
    }
}

/// The protocol name UNSW-NB15 writes for an IP protocol number.
pub fn proto_name(proto: u8) -> &'static str {
    match proto {
        PROTO_TCP => "tcp",
        PROTO_UDP => "udp",
        PROTO_ICMP => "icmp",
        PROTO_ICMPV6 => "ipv6-icmp",
        2 => "igmp",
        47 => "gre",
        50 => "esp",
        51 => "ah",
        89 => "ospf",
        132 => "sctp",
        n => DECIMAL[n as usize],
    }
}

macro_rules! decimal_table {
    ($($n:literal)*) => { [$(stringify!($n)),*] };
}

const DECIMAL: [&str; 256] = decimal_table!(
    0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31
    32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63
    64 65 66 67 68 69 70 71 72 73 74 75 76 77 78 79 80 81 82 83 84 85 86 87 88 89 90 91 92 93 94 95
    96 97 98 99 100 101 102 103 104 105 106 107 108 109 110 111 112 113 114 115 116 117 118 119 120 121 122 123 124 125 126 127
    128 129 130 131 132 133 134 135 136 137 138 139 140 141 142 143 144 145 146 147 148 149 150 151 152 153 154 155 156 157 158 159
    160 161 162 163 164 165 166 167 168 169 170 171 172 173 174 175 176 177 178 179 180 181 182 183 184 185 186 187 188 189 190 191
    192 193 194 195 196 197 198 199 200 201 202 203 204 205 206 207 208 209 210 211 212 213 214 215 216 217 218 219 220 221 222 223
    224 225 226 227 228 229 230 231 232 233 234 235 236 237 238 239 240 241 242 243 244 245 246 247 248 249 250 251 252 253 254 255
);

/// The service of a well-known port of protocol `proto`, `None` for other ports. The names
/// are UNSW-NB15's where it has one (`ssl` for 443, `ftp-data`, `dhcp`, `radius`, ...).
pub fn port_service(proto: u8, port: u16) -> Option<&'static str> {
    let tcp = proto == PROTO_TCP;
    let udp = proto == PROTO_UDP;
    Some(match port {
        20 if tcp => "ftp-data",
        21 if tcp => "ftp",
        22 if tcp => "ssh",
        23 | 2323 if tcp => "telnet",
        25 | 465 | 587 if tcp => "smtp",
        53 if tcp || udp => "dns",
        67 | 68 if udp => "dhcp",
        80 | 8000 | 8080 | 8008 if tcp => "http",
        110 | 995 if tcp => "pop3",
        123 if udp => "ntp",
        143 | 993 if tcp => "imap",
        161 | 162 if udp => "snmp",
        194 | 6667 if tcp => "irc",
        389 if tcp || udp => "ldap",
        443 | 8443 if tcp => "ssl",
        445 | 139 if tcp => "smb",
        1433 if tcp => "mssql",
        1812 | 1813 if udp => "radius",
        3306 if tcp => "mysql",
        3389 if tcp => "rdp",
        5060 if tcp || udp => "sip",
        5432 if tcp => "postgresql",
        5900 if tcp => "vnc",
        6379 if tcp => "redis",
        _ => return None,
    })
}

/// A flow's service: the responder's port if well known, else the initiator's (for flows
/// whose first packet seen came from the server), else `-`.
pub fn flow_service(proto: u8, src_port: u16, dst_port: u16) -> &'static str {
    port_service(proto, dst_port)
        .or_else(|| port_service(proto, src_port))
        .unwrap_or("-")
}

/// What the `ct_*` counters remember of one flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CtEntry {
    src: IpAddr,
    dst: IpAddr,
    src_port: u16,
    dst_port: u16,
    service: &'static str,
}

/// The last [`CT_WINDOW`] flows emitted, for the `ct_*` counters.
#[derive(Debug, Clone, Default)]
pub(crate) struct CtWindow {
    ring: Vec<CtEntry>,
    next: usize,
}

impl CtWindow {
    /// Adds a flow and fills its counters over the window (the flow included).
    pub(crate) fn push(
        &mut self,
        src: IpAddr,
        dst: IpAddr,
        src_port: u16,
        dst_port: u16,
        f: &mut Features,
    ) {
        let e = CtEntry {
            src,
            dst,
            src_port,
            dst_port,
            service: f.service,
        };
        if self.ring.len() < CT_WINDOW {
            self.ring.push(e);
        } else {
            self.ring[self.next] = e;
        }
        self.next = (self.next + 1) % CT_WINDOW;
        let (mut srv_src, mut dst_n, mut src_dport, mut dst_sport) = (0, 0, 0, 0);
        let (mut dst_src, mut src_n, mut srv_dst) = (0, 0, 0);
        for o in &self.ring {
            let same_src = o.src == e.src;
            let same_dst = o.dst == e.dst;
            // Services are static strings from one table: comparing addresses is exact.
            let same_srv = std::ptr::eq(o.service, e.service) || o.service == e.service;
            srv_src += u32::from(same_srv && same_src);
            dst_n += u32::from(same_dst);
            src_dport += u32::from(same_src && o.dst_port == e.dst_port);
            dst_sport += u32::from(same_dst && o.src_port == e.src_port);
            dst_src += u32::from(same_src && same_dst);
            src_n += u32::from(same_src);
            srv_dst += u32::from(same_srv && same_dst);
        }
        f.ct_srv_src = srv_src;
        f.ct_dst_ltm = dst_n;
        f.ct_src_dport_ltm = src_dport;
        f.ct_dst_sport_ltm = dst_sport;
        f.ct_dst_src_ltm = dst_src;
        f.ct_src_ltm = src_n;
        f.ct_srv_dst = srv_dst;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proto_names_and_services() {
        assert_eq!(proto_name(6), "tcp");
        assert_eq!(proto_name(58), "ipv6-icmp");
        assert_eq!(proto_name(253), "253");
        assert_eq!(flow_service(6, 50000, 22), "ssh");
        assert_eq!(flow_service(6, 443, 50000), "ssl");
        assert_eq!(flow_service(17, 40000, 22), "-");
        assert_eq!(flow_service(17, 40000, 53), "dns");
    }
}
