//! Small captures built in memory, for tests and examples: a classic pcap writer, a pcapng
//! writer and packet builders. Checksums are left at 0 (nothing here checks them).

/// Writes a classic pcap (little-endian, microsecond or nanosecond timestamps) into memory.
#[derive(Debug, Clone)]
pub struct PcapWriter {
    bytes: Vec<u8>,
    nanos: bool,
}

impl PcapWriter {
    /// A microsecond-resolution capture of link type `linktype`.
    pub fn new(linktype: u16) -> PcapWriter {
        PcapWriter::with_resolution(linktype, false)
    }

    /// A capture of link type `linktype`, with nanosecond timestamps when `nanos`.
    pub fn with_resolution(linktype: u16, nanos: bool) -> PcapWriter {
        let magic: u32 = if nanos { 0xA1B2_3C4D } else { 0xA1B2_C3D4 };
        let mut bytes = Vec::with_capacity(4096);
        bytes.extend_from_slice(&magic.to_le_bytes());
        bytes.extend_from_slice(&2u16.to_le_bytes());
        bytes.extend_from_slice(&4u16.to_le_bytes());
        bytes.extend_from_slice(&0i32.to_le_bytes());
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.extend_from_slice(&262_144u32.to_le_bytes());
        bytes.extend_from_slice(&u32::from(linktype).to_le_bytes());
        PcapWriter { bytes, nanos }
    }

    /// Appends a record at `ts_nanos` (truncated to the file's resolution).
    pub fn record(&mut self, ts_nanos: i64, data: &[u8]) {
        let secs = ts_nanos.div_euclid(1_000_000_000) as u32;
        let sub = ts_nanos.rem_euclid(1_000_000_000) as u32;
        let frac = if self.nanos { sub } else { sub / 1000 };
        self.bytes.extend_from_slice(&secs.to_le_bytes());
        self.bytes.extend_from_slice(&frac.to_le_bytes());
        self.bytes
            .extend_from_slice(&(data.len() as u32).to_le_bytes());
        self.bytes
            .extend_from_slice(&(data.len() as u32).to_le_bytes());
        self.bytes.extend_from_slice(data);
    }

    /// The capture's bytes.
    pub fn finish(self) -> Vec<u8> {
        self.bytes
    }
}

/// Writes a little-endian pcapng section (one interface, nanosecond `if_tsresol`) into memory.
#[derive(Debug, Clone)]
pub struct PcapNgWriter {
    bytes: Vec<u8>,
}

impl PcapNgWriter {
    /// A section with one interface of link type `linktype`.
    pub fn new(linktype: u16) -> PcapNgWriter {
        let mut w = PcapNgWriter { bytes: Vec::new() };
        let mut shb = Vec::new();
        shb.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
        shb.extend_from_slice(&1u16.to_le_bytes());
        shb.extend_from_slice(&0u16.to_le_bytes());
        shb.extend_from_slice(&(-1i64).to_le_bytes());
        w.block(0x0A0D_0D0A, &shb);
        let mut idb = Vec::new();
        idb.extend_from_slice(&linktype.to_le_bytes());
        idb.extend_from_slice(&0u16.to_le_bytes());
        idb.extend_from_slice(&0u32.to_le_bytes());
        // if_tsresol = 9 (nanoseconds), then opt_endofopt.
        idb.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0]);
        w.block(1, &idb);
        w
    }

    fn block(&mut self, block_type: u32, body: &[u8]) {
        let padded = body.len().div_ceil(4) * 4;
        let total = (12 + padded) as u32;
        self.bytes.extend_from_slice(&block_type.to_le_bytes());
        self.bytes.extend_from_slice(&total.to_le_bytes());
        self.bytes.extend_from_slice(body);
        self.bytes.resize(self.bytes.len() + padded - body.len(), 0);
        self.bytes.extend_from_slice(&total.to_le_bytes());
    }

    /// Appends an enhanced packet block at `ts_nanos` on interface 0.
    pub fn packet(&mut self, ts_nanos: i64, data: &[u8]) {
        let ts = ts_nanos as u64;
        let mut body = Vec::with_capacity(20 + data.len());
        body.extend_from_slice(&0u32.to_le_bytes());
        body.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&(ts as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        self.block(6, &body);
    }

    /// Appends a simple packet block (no timestamp of its own).
    pub fn simple_packet(&mut self, data: &[u8]) {
        let mut body = Vec::with_capacity(4 + data.len());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        self.block(3, &body);
    }

    /// The capture's bytes.
    pub fn finish(self) -> Vec<u8> {
        self.bytes
    }
}

/// A TCP segment to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSpec {
    /// Source IPv4 address.
    pub src: [u8; 4],
    /// Source port.
    pub src_port: u16,
    /// Destination IPv4 address.
    pub dst: [u8; 4],
    /// Destination port.
    pub dst_port: u16,
    /// TCP flags byte.
    pub flags: u8,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Window.
    pub window: u16,
    /// Payload bytes (zeros).
    pub payload_len: u16,
    /// IPv4 TTL.
    pub ttl: u8,
}

impl TcpSpec {
    /// A segment with no payload, sequence numbers 0, window 65535 and TTL 64.
    pub fn new(src: [u8; 4], src_port: u16, dst: [u8; 4], dst_port: u16, flags: u8) -> TcpSpec {
        TcpSpec {
            src,
            src_port,
            dst,
            dst_port,
            flags,
            seq: 0,
            ack: 0,
            window: 65535,
            payload_len: 0,
            ttl: 64,
        }
    }
}

/// An IPv4 + TCP packet (no link header), as `spec` says.
pub fn ipv4_tcp(spec: TcpSpec) -> Vec<u8> {
    let total = 40 + spec.payload_len;
    let mut p = Vec::with_capacity(total as usize);
    p.extend_from_slice(&[0x45, 0]);
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0x40, 0, spec.ttl, 6, 0, 0]);
    p.extend_from_slice(&spec.src);
    p.extend_from_slice(&spec.dst);
    p.extend_from_slice(&spec.src_port.to_be_bytes());
    p.extend_from_slice(&spec.dst_port.to_be_bytes());
    p.extend_from_slice(&spec.seq.to_be_bytes());
    p.extend_from_slice(&spec.ack.to_be_bytes());
    p.extend_from_slice(&[0x50, spec.flags]);
    p.extend_from_slice(&spec.window.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0]);
    p.resize(total as usize, 0);
    p
}

/// An IPv4 + UDP packet (no link header) with `payload_len` zero bytes of payload.
pub fn ipv4_udp(
    src: [u8; 4],
    src_port: u16,
    dst: [u8; 4],
    dst_port: u16,
    payload_len: u16,
) -> Vec<u8> {
    let total = 28 + payload_len;
    let mut p = Vec::with_capacity(total as usize);
    p.extend_from_slice(&[0x45, 0]);
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(&src_port.to_be_bytes());
    p.extend_from_slice(&dst_port.to_be_bytes());
    p.extend_from_slice(&(8 + payload_len).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.resize(total as usize, 0);
    p
}

/// `ip` behind an Ethernet II header (IPv4 ethertype, made-up MAC addresses).
pub fn ethernet(ip: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + ip.len());
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]);
    f.extend_from_slice(ip);
    f
}

/// [`ipv4_tcp`] behind an Ethernet header.
pub fn ethernet_ipv4_tcp(spec: TcpSpec) -> Vec<u8> {
    ethernet(&ipv4_tcp(spec))
}
