//! Frames to IP packets: link layers (Ethernet with 802.1Q/QinQ tags, raw IP, Linux cooked
//! SLL and SLL2, BSD loopback), IPv4 and IPv6 (extension headers skipped), TCP, UDP, ICMP
//! and ICMPv6 headers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::capture::{
    Frame, LINKTYPE_ETHERNET, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2, LINKTYPE_LOOP, LINKTYPE_NULL, LINKTYPE_RAW, LINKTYPE_RAW_BSD,
};
use crate::error::SkipReason;

/// IP protocol number of ICMP.
pub const PROTO_ICMP: u8 = 1;
/// IP protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;
/// IP protocol number of ICMPv6.
pub const PROTO_ICMPV6: u8 = 58;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86DD;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88A8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
/// At most this many stacked VLAN tags are skipped.
const MAX_VLAN_TAGS: usize = 4;
/// At most this many IPv6 extension headers are skipped.
const MAX_IPV6_EXTENSIONS: usize = 8;

/// The TCP part of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpInfo {
    /// Flags byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20, ECE, CWR),
    /// the same bits as `vigil_sensors::TCP_*`.
    pub flags: u8,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Advertised window, as in the header (unscaled).
    pub window: u16,
    /// Payload bytes, from the IP lengths (not from what was captured).
    pub payload_len: u32,
}

/// One decoded IP packet: what the flow tracker needs, nothing borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet {
    /// Capture time, nanoseconds since the Unix epoch.
    pub ts_nanos: i64,
    /// Byte offset of the packet's record in the capture.
    pub offset: u64,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ...), after IPv6 extension headers.
    pub proto: u8,
    /// TCP or UDP source port; 0 for other protocols and non-first fragments.
    pub src_port: u16,
    /// TCP or UDP destination port; 0 for other protocols and non-first fragments.
    pub dst_port: u16,
    /// IP length: IPv4 total length, or 40 + IPv6 payload length (the packet's bytes from
    /// its IP header on, link padding excluded). When the header says 0 (segmentation
    /// offload, jumbograms) it is the captured IP bytes.
    pub ip_len: u32,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// TCP header fields, for TCP packets with their header (not for non-first fragments).
    pub tcp: Option<TcpInfo>,
}

/// Decodes one frame into an IP packet, or says why it cannot.
///
/// ```
/// use vigil_packets::{decode, synth, capture::{Frame, LINKTYPE_ETHERNET}};
/// let bytes = synth::ethernet_ipv4_tcp(synth::TcpSpec::new([10, 0, 0, 1], 40000, [10, 0, 0, 2], 22, 0x02));
/// let frame = Frame { offset: 24, ts_nanos: 0, linktype: LINKTYPE_ETHERNET, orig_len: bytes.len() as u32, data: &bytes };
/// let packet = decode(&frame).unwrap();
/// assert_eq!((packet.proto, packet.dst_port), (6, 22));
/// assert_eq!(packet.tcp.unwrap().flags, 0x02);
/// ```
pub fn decode(frame: &Frame<'_>) -> Result<Packet, SkipReason> {
    let data = frame.data;
    let ip = match frame.linktype {
        LINKTYPE_ETHERNET => ethernet(data)?,
        LINKTYPE_RAW | LINKTYPE_RAW_BSD | LINKTYPE_IPV4 | LINKTYPE_IPV6 => data,
        LINKTYPE_LINUX_SLL => {
            if data.len() < 16 {
                return Err(SkipReason::TruncatedFrame);
            }
            ethertype_payload(u16::from_be_bytes([data[14], data[15]]), &data[16..])?
        }
        LINKTYPE_LINUX_SLL2 => {
            if data.len() < 20 {
                return Err(SkipReason::TruncatedFrame);
            }
            ethertype_payload(u16::from_be_bytes([data[0], data[1]]), &data[20..])?
        }
        LINKTYPE_NULL | LINKTYPE_LOOP => {
            if data.len() < 4 {
                return Err(SkipReason::TruncatedFrame);
            }
            // The family is in the writer's byte order (NULL) or network order (LOOP); the
            // IP version nibble tells what follows either way, and families other than
            // AF_INET / AF_INET6 (2; 24, 28, 30) are not IP.
            let le = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
            let be = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
            let family_ok = |f: u32| matches!(f, 2 | 10 | 24 | 28 | 30);
            if !(family_ok(le) || family_ok(be)) {
                return Err(SkipReason::NotIp);
            }
            &data[4..]
        }
        _ => return Err(SkipReason::UnsupportedLinktype),
    };
    ip_packet(ip, frame.ts_nanos, frame.offset)
}

fn ethernet(data: &[u8]) -> Result<&[u8], SkipReason> {
    if data.len() < 14 {
        return Err(SkipReason::TruncatedFrame);
    }
    let mut ethertype = u16::from_be_bytes([data[12], data[13]]);
    let mut at = 14;
    let mut tags = 0;
    while matches!(
        ethertype,
        ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD
    ) {
        tags += 1;
        if tags > MAX_VLAN_TAGS {
            return Err(SkipReason::NotIp);
        }
        if data.len() < at + 4 {
            return Err(SkipReason::TruncatedFrame);
        }
        ethertype = u16::from_be_bytes([data[at + 2], data[at + 3]]);
        at += 4;
    }
    ethertype_payload(ethertype, &data[at..])
}

#[inline]
fn ethertype_payload(ethertype: u16, payload: &[u8]) -> Result<&[u8], SkipReason> {
    match ethertype {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Ok(payload),
        _ => Err(SkipReason::NotIp),
    }
}

/// Decodes an IP packet starting at `ip` (version from the first nibble).
fn ip_packet(ip: &[u8], ts_nanos: i64, offset: u64) -> Result<Packet, SkipReason> {
    let Some(&first) = ip.first() else {
        return Err(SkipReason::MalformedIp);
    };
    match first >> 4 {
        4 => ipv4(ip, ts_nanos, offset),
        6 => ipv6(ip, ts_nanos, offset),
        _ => Err(SkipReason::MalformedIp),
    }
}

fn ipv4(ip: &[u8], ts_nanos: i64, offset: u64) -> Result<Packet, SkipReason> {
    if ip.len() < 20 {
        return Err(SkipReason::MalformedIp);
    }
    let ihl = usize::from(ip[0] & 0x0F) * 4;
    if ihl < 20 || ip.len() < ihl {
        return Err(SkipReason::MalformedIp);
    }
    let declared = u32::from(u16::from_be_bytes([ip[2], ip[3]]));
    let ip_len = if declared == 0 {
        ip.len() as u32
    } else if (declared as usize) < ihl {
        return Err(SkipReason::MalformedIp);
    } else {
        declared
    };
    let frag = u16::from_be_bytes([ip[6], ip[7]]);
    let first_fragment = frag & 0x1FFF == 0;
    let proto = ip[9];
    let src = IpAddr::V4(Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]));
    let dst = IpAddr::V4(Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]));
    let mut packet = Packet {
        ts_nanos,
        offset,
        src,
        dst,
        proto,
        src_port: 0,
        dst_port: 0,
        ip_len,
        ttl: ip[8],
        tcp: None,
    };
    if first_fragment {
        let payload_len = ip_len - ihl as u32;
        transport(&mut packet, &ip[ihl..], payload_len)?;
    }
    Ok(packet)
}

fn ipv6(ip: &[u8], ts_nanos: i64, offset: u64) -> Result<Packet, SkipReason> {
    if ip.len() < 40 {
        return Err(SkipReason::MalformedIp);
    }
    let declared = u32::from(u16::from_be_bytes([ip[4], ip[5]]));
    let ip_len = if declared == 0 {
        ip.len() as u32
    } else {
        40 + declared
    };
    let mut src = [0u8; 16];
    src.copy_from_slice(&ip[8..24]);
    let mut dst = [0u8; 16];
    dst.copy_from_slice(&ip[24..40]);
    let mut next = ip[6];
    let mut at = 40usize;
    let mut first_fragment = true;
    for _ in 0..=MAX_IPV6_EXTENSIONS {
        match next {
            // Hop-by-hop, routing, destination options, mobility, HIP, shim6.
            0 | 43 | 60 | 135 | 139 | 140 => {
                if ip.len() < at + 8 {
                    return Err(SkipReason::MalformedIp);
                }
                next = ip[at];
                at += (usize::from(ip[at + 1]) + 1) * 8;
            }
            // Fragment header: 8 bytes.
            44 => {
                if ip.len() < at + 8 {
                    return Err(SkipReason::MalformedIp);
                }
                next = ip[at];
                let frag = u16::from_be_bytes([ip[at + 2], ip[at + 3]]);
                first_fragment = frag >> 3 == 0;
                at += 8;
            }
            // Authentication header: (len + 2) 32-bit words.
            51 => {
                if ip.len() < at + 8 {
                    return Err(SkipReason::MalformedIp);
                }
                next = ip[at];
                at += (usize::from(ip[at + 1]) + 2) * 4;
            }
            _ => break,
        }
    }
    if matches!(next, 0 | 43 | 44 | 51 | 60 | 135 | 139 | 140) || at as u32 > ip_len {
        return Err(SkipReason::MalformedIp);
    }
    let mut packet = Packet {
        ts_nanos,
        offset,
        src: IpAddr::V6(Ipv6Addr::from(src)),
        dst: IpAddr::V6(Ipv6Addr::from(dst)),
        proto: next,
        src_port: 0,
        dst_port: 0,
        ip_len,
        ttl: ip[7],
        tcp: None,
    };
    if first_fragment && next != 59 {
        let rest = ip.get(at..).unwrap_or(&[]);
        transport(&mut packet, rest, ip_len - at as u32)?;
    }
    Ok(packet)
}

/// Fills ports and TCP fields from the transport header at `l4` (captured bytes) of an IP
/// payload of `payload_len` bytes.
#[inline]
fn transport(packet: &mut Packet, l4: &[u8], payload_len: u32) -> Result<(), SkipReason> {
    match packet.proto {
        PROTO_TCP => {
            if l4.len() < 20 {
                return Err(SkipReason::TruncatedTransport);
            }
            let header = u32::from(l4[12] >> 4) * 4;
            if header < 20 {
                return Err(SkipReason::MalformedTransport);
            }
            packet.src_port = u16::from_be_bytes([l4[0], l4[1]]);
            packet.dst_port = u16::from_be_bytes([l4[2], l4[3]]);
            packet.tcp = Some(TcpInfo {
                flags: l4[13],
                seq: u32::from_be_bytes([l4[4], l4[5], l4[6], l4[7]]),
                ack: u32::from_be_bytes([l4[8], l4[9], l4[10], l4[11]]),
                window: u16::from_be_bytes([l4[14], l4[15]]),
                payload_len: payload_len.saturating_sub(header),
            });
        }
        PROTO_UDP => {
            if l4.len() < 8 {
                return Err(SkipReason::TruncatedTransport);
            }
            packet.src_port = u16::from_be_bytes([l4[0], l4[1]]);
            packet.dst_port = u16::from_be_bytes([l4[2], l4[3]]);
        }
        PROTO_ICMP | PROTO_ICMPV6 if l4.len() < 4 => {
            return Err(SkipReason::TruncatedTransport);
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{self, TcpSpec};

    fn frame(linktype: u16, data: &[u8]) -> Frame<'_> {
        Frame {
            offset: 0,
            ts_nanos: 0,
            linktype,
            orig_len: data.len() as u32,
            data,
        }
    }

    #[test]
    fn vlan_and_qinq_tags_are_skipped() {
        let plain = synth::ethernet_ipv4_tcp(TcpSpec::new([1, 2, 3, 4], 1, [5, 6, 7, 8], 2, 0x10));
        let mut tagged = plain[..12].to_vec();
        tagged.extend_from_slice(&[0x88, 0xA8, 0x00, 0x0A, 0x81, 0x00, 0x00, 0x14]);
        tagged.extend_from_slice(&plain[12..]);
        let p = decode(&frame(LINKTYPE_ETHERNET, &tagged)).unwrap();
        assert_eq!((p.src_port, p.dst_port), (1, 2));
        assert_eq!(p, decode(&frame(LINKTYPE_ETHERNET, &plain)).unwrap());
    }

    #[test]
    fn cooked_captures_and_raw_ip() {
        let plain = synth::ethernet_ipv4_tcp(TcpSpec::new([1, 2, 3, 4], 1, [5, 6, 7, 8], 2, 0x10));
        let ip = &plain[14..];
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x08, 0x00]);
        sll.extend_from_slice(ip);
        let mut sll2 = vec![0x08, 0x00];
        sll2.extend_from_slice(&[0u8; 18]);
        sll2.extend_from_slice(ip);
        let want = decode(&frame(LINKTYPE_RAW, ip)).unwrap();
        assert_eq!(decode(&frame(LINKTYPE_LINUX_SLL, &sll)).unwrap(), want);
        assert_eq!(decode(&frame(LINKTYPE_LINUX_SLL2, &sll2)).unwrap(), want);
        assert_eq!(decode(&frame(LINKTYPE_IPV4, ip)).unwrap(), want);
    }

    #[test]
    fn ipv6_extension_headers_are_skipped() {
        let mut ip = vec![0x60, 0, 0, 0, 0, 0, 0, 64];
        ip.extend_from_slice(&[0xfe; 16]);
        ip.extend_from_slice(&[0xfd; 16]);
        // Hop-by-hop (8 bytes) then UDP.
        ip[6] = 0;
        ip.extend_from_slice(&[17, 0, 0, 0, 0, 0, 0, 0]);
        ip.extend_from_slice(&[0x12, 0x34, 0x00, 0x35, 0, 8, 0, 0]);
        let payload = (ip.len() - 40) as u16;
        ip[4..6].copy_from_slice(&payload.to_be_bytes());
        let p = decode(&frame(LINKTYPE_IPV6, &ip)).unwrap();
        assert_eq!(
            (p.proto, p.src_port, p.dst_port, p.ip_len),
            (17, 0x1234, 53, 56)
        );
        assert_eq!(p.ttl, 64);
    }

    #[test]
    fn every_truncation_is_a_reason_never_a_panic() {
        let plain = synth::ethernet_ipv4_tcp(TcpSpec::new([1, 2, 3, 4], 1, [5, 6, 7, 8], 2, 0x10));
        for cut in 0..plain.len() {
            let r = decode(&frame(LINKTYPE_ETHERNET, &plain[..cut]));
            let reason = r.expect_err("a cut frame is skipped");
            assert!(reason.is_damage(), "cut at {cut}: {reason}");
        }
        for linktype in [0, 1, 12, 101, 108, 113, 228, 229, 276] {
            for cut in 0..plain.len() {
                let _ = decode(&frame(linktype, &plain[..cut]));
            }
        }
    }

    #[test]
    fn arp_is_not_ip_and_odd_versions_are_malformed() {
        let mut arp = vec![0u8; 12];
        arp.extend_from_slice(&[0x08, 0x06]);
        arp.extend_from_slice(&[0u8; 28]);
        assert_eq!(
            decode(&frame(LINKTYPE_ETHERNET, &arp)),
            Err(SkipReason::NotIp)
        );
        assert_eq!(
            decode(&frame(LINKTYPE_RAW, &[0x50; 40])),
            Err(SkipReason::MalformedIp)
        );
        assert_eq!(
            decode(&frame(999, &[0x45; 40])),
            Err(SkipReason::UnsupportedLinktype)
        );
    }
}
