//! Capture containers: classic pcap (both byte orders, micro- and nanosecond timestamps)
//! and pcapng (section header, interface description, enhanced, simple and obsolete packet
//! blocks; per-interface link type, `if_tsresol` and `if_tsoffset`).
//!
//! [`CaptureReader`] walks a capture held in memory without copying; [`CaptureStream`]
//! reads one from any [`std::io::Read`] the caller passes, holding one record at a time.
//! Both hand out [`Frame`]s and count what they skip (see [`SkipReason`]).

use std::io::Read;
use std::sync::Arc;

use crate::error::{CaptureError, SkipReason};

/// Link type: BSD loopback (4-byte address family in the writer's byte order).
pub const LINKTYPE_NULL: u16 = 0;
/// Link type: Ethernet II, with or without 802.1Q / 802.1ad (QinQ) tags.
pub const LINKTYPE_ETHERNET: u16 = 1;
/// Link type: raw IP on some BSDs (`DLT_RAW` = 12).
pub const LINKTYPE_RAW_BSD: u16 = 12;
/// Link type: raw IPv4 or IPv6, no link header.
pub const LINKTYPE_RAW: u16 = 101;
/// Link type: OpenBSD loopback (address family in network byte order).
pub const LINKTYPE_LOOP: u16 = 108;
/// Link type: Linux cooked capture v1 (SLL, 16-byte header).
pub const LINKTYPE_LINUX_SLL: u16 = 113;
/// Link type: raw IPv4.
pub const LINKTYPE_IPV4: u16 = 228;
/// Link type: raw IPv6.
pub const LINKTYPE_IPV6: u16 = 229;
/// Link type: Linux cooked capture v2 (SLL2, 20-byte header).
pub const LINKTYPE_LINUX_SLL2: u16 = 276;

/// The largest record or block accepted (64 MiB): beyond any snapshot length libpcap
/// writes (262,144), so a larger length means a broken file rather than a big packet.
pub const MAX_RECORD_BYTES: u32 = 64 << 20;

const PCAPNG_SHB: u32 = 0x0A0D_0D0A;
const PCAPNG_IDB: u32 = 1;
const PCAPNG_OPB: u32 = 2;
const PCAPNG_SPB: u32 = 3;
const PCAPNG_EPB: u32 = 6;
const PCAPNG_BYTE_ORDER: u32 = 0x1A2B_3C4D;

/// One captured frame, borrowed from the capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Byte offset of the record (classic) or block (pcapng) in the capture.
    pub offset: u64,
    /// Capture time in nanoseconds since the Unix epoch. A pcapng simple packet block has
    /// no time of its own and takes that of the packet before it (0 for the first).
    pub ts_nanos: i64,
    /// The link type of the frame's interface (`LINKTYPE_*`).
    pub linktype: u16,
    /// The frame's length on the wire (may exceed `data.len()` when the snapshot length cut it).
    pub orig_len: u32,
    /// The captured bytes, starting at the link-layer header.
    pub data: &'a [u8],
}

/// The container format of a capture, once its header has been read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// Classic pcap.
    Pcap {
        /// Written big-endian.
        big_endian: bool,
        /// Nanosecond timestamps (magic `a1b23c4d`) rather than microseconds.
        nanos: bool,
        /// The file's link type.
        linktype: u16,
    },
    /// pcapng (byte order per section).
    PcapNg,
}

/// Counts of what a reader met: records, IP packets handed on and their bytes, and
/// every record skipped, by reason. `records == ip_packets + skipped()` once the input is read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Packet records (classic records; pcapng enhanced, simple and obsolete packet blocks) met,
    /// a truncated last one included.
    pub records: u64,
    /// Records decoded into an IP packet (see [`crate::decode()`]).
    pub ip_packets: u64,
    /// Sum of [`Packet::ip_len`](crate::Packet::ip_len) over those packets.
    pub ip_bytes: u64,
    skipped: [u64; SkipReason::ALL.len()],
}

impl ReadStats {
    /// Records skipped for `reason`.
    pub fn skipped_for(&self, reason: SkipReason) -> u64 {
        self.skipped[reason.index()]
    }

    /// Records skipped for any reason.
    pub fn skipped(&self) -> u64 {
        self.skipped.iter().sum()
    }

    /// Records skipped because the input was damaged ([`SkipReason::is_damage`]).
    pub fn damaged(&self) -> u64 {
        SkipReason::ALL
            .iter()
            .filter(|r| r.is_damage())
            .map(|r| self.skipped_for(*r))
            .sum()
    }

    /// `(reason, count)` for every reason with a non-zero count.
    pub fn skipped_by_reason(&self) -> Vec<(SkipReason, u64)> {
        SkipReason::ALL
            .iter()
            .map(|r| (*r, self.skipped_for(*r)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    pub(crate) fn skip(&mut self, reason: SkipReason) {
        self.skipped[reason.index()] += 1;
    }
}

/// Timestamp scale of one interface.
#[derive(Debug, Clone, Copy)]
struct Interface {
    linktype: u16,
    /// Timestamp units per second.
    units_per_sec: u64,
    /// `if_tsoffset`, in seconds.
    offset_secs: i64,
}

impl Interface {
    fn nanos(&self, ts: u64) -> i64 {
        let base = if self.units_per_sec == 1_000_000_000 {
            ts as i128
        } else if self.units_per_sec == 1_000_000 {
            ts as i128 * 1000
        } else {
            (ts as u128 * 1_000_000_000 / self.units_per_sec as u128) as i128
        };
        let total = base + self.offset_secs as i128 * 1_000_000_000;
        total.clamp(i64::MIN as i128, i64::MAX as i128) as i64
    }
}

#[derive(Debug)]
enum State {
    Start,
    Pcap {
        big_endian: bool,
        nanos: bool,
        linktype: u16,
    },
    PcapNg {
        /// `None` before the first section header.
        big_endian: Option<bool>,
        interfaces: Vec<Interface>,
        last_ts: i64,
    },
}

/// What the decoder made of the bytes at the current position.
enum Step<'b> {
    /// A frame, `consumed` bytes long.
    Frame(usize, Frame<'b>),
    /// A block or header that carries no packet.
    Meta(usize),
    /// A packet record skipped for a reason (its bytes are consumed).
    Skip(usize, SkipReason),
    /// At least this many bytes (from the current position) are needed to go on.
    NeedMore(usize),
}

#[inline]
fn u16_at(b: &[u8], at: usize, be: bool) -> u16 {
    let v = [b[at], b[at + 1]];
    if be {
        u16::from_be_bytes(v)
    } else {
        u16::from_le_bytes(v)
    }
}

#[inline]
fn u32_at(b: &[u8], at: usize, be: bool) -> u32 {
    let v = [b[at], b[at + 1], b[at + 2], b[at + 3]];
    if be {
        u32::from_be_bytes(v)
    } else {
        u32::from_le_bytes(v)
    }
}

/// The container state machine shared by [`CaptureReader`] and [`CaptureStream`].
#[derive(Debug)]
struct Decoder {
    source: Arc<str>,
    state: State,
}

impl Decoder {
    fn new(source: Arc<str>) -> Decoder {
        Decoder {
            source,
            state: State::Start,
        }
    }

    fn container(&self) -> Option<Container> {
        match self.state {
            State::Start => None,
            State::Pcap {
                big_endian,
                nanos,
                linktype,
            } => Some(Container::Pcap {
                big_endian,
                nanos,
                linktype,
            }),
            State::PcapNg { .. } => Some(Container::PcapNg),
        }
    }

    /// One step at `buf` (which starts at capture offset `offset`).
    fn step<'b>(&mut self, buf: &'b [u8], offset: u64) -> Result<Step<'b>, CaptureError> {
        match self.state {
            State::Start => self.header(buf),
            State::Pcap {
                big_endian,
                nanos,
                linktype,
            } => self.pcap_record(buf, offset, big_endian, nanos, linktype),
            State::PcapNg { .. } => self.pcapng_block(buf, offset),
        }
    }

    fn header<'b>(&mut self, buf: &'b [u8]) -> Result<Step<'b>, CaptureError> {
        if buf.len() < 4 {
            return Ok(Step::NeedMore(4));
        }
        let magic = u32_at(buf, 0, false);
        let (big_endian, nanos) = match magic {
            0xA1B2_C3D4 => (false, false),
            0xA1B2_3C4D => (false, true),
            0xD4C3_B2A1 => (true, false),
            0x4D3C_B2A1 => (true, true),
            PCAPNG_SHB => {
                self.state = State::PcapNg {
                    big_endian: None,
                    interfaces: Vec::new(),
                    last_ts: 0,
                };
                return Ok(Step::Meta(0));
            }
            _ => {
                return Err(CaptureError::BadMagic {
                    source_name: self.source.clone(),
                    magic,
                });
            }
        };
        if buf.len() < 24 {
            return Ok(Step::NeedMore(24));
        }
        let major = u16_at(buf, 4, big_endian);
        if major != 2 {
            return Err(CaptureError::UnsupportedVersion {
                source_name: self.source.clone(),
                format: "pcap",
                offset: 0,
                version: major,
            });
        }
        let linktype = (u32_at(buf, 20, big_endian) & 0xFFFF) as u16;
        self.state = State::Pcap {
            big_endian,
            nanos,
            linktype,
        };
        Ok(Step::Meta(24))
    }

    fn pcap_record<'b>(
        &self,
        buf: &'b [u8],
        offset: u64,
        be: bool,
        nanos: bool,
        linktype: u16,
    ) -> Result<Step<'b>, CaptureError> {
        if buf.len() < 16 {
            return Ok(Step::NeedMore(16));
        }
        let caplen = u32_at(buf, 8, be);
        if caplen > MAX_RECORD_BYTES {
            return Err(CaptureError::RecordTooLong {
                source_name: self.source.clone(),
                offset,
                value: caplen,
                max: MAX_RECORD_BYTES,
            });
        }
        let total = 16 + caplen as usize;
        if buf.len() < total {
            return Ok(Step::NeedMore(total));
        }
        let secs = u32_at(buf, 0, be) as i64;
        let frac = u32_at(buf, 4, be) as i64;
        let ts_nanos = secs * 1_000_000_000 + if nanos { frac } else { frac * 1000 };
        Ok(Step::Frame(
            total,
            Frame {
                offset,
                ts_nanos,
                linktype,
                orig_len: u32_at(buf, 12, be),
                data: &buf[16..total],
            },
        ))
    }

    fn pcapng_block<'b>(&mut self, buf: &'b [u8], offset: u64) -> Result<Step<'b>, CaptureError> {
        if buf.len() < 12 {
            return Ok(Step::NeedMore(12));
        }
        let State::PcapNg {
            big_endian,
            interfaces,
            last_ts,
        } = &mut self.state
        else {
            unreachable!("pcapng_block is only called in the pcapng state");
        };
        // The section header's type reads the same in both byte orders.
        let raw_type = u32_at(buf, 0, false);
        let be = if raw_type == PCAPNG_SHB {
            match u32_at(buf, 8, false) {
                PCAPNG_BYTE_ORDER => false,
                v if v.swap_bytes() == PCAPNG_BYTE_ORDER => true,
                magic => {
                    return Err(CaptureError::BadByteOrder {
                        source_name: self.source.clone(),
                        offset,
                        magic,
                    });
                }
            }
        } else {
            match *big_endian {
                Some(be) => be,
                None => {
                    return Err(CaptureError::NoSection {
                        source_name: self.source.clone(),
                        offset,
                        block_type: raw_type,
                    });
                }
            }
        };
        let block_type = u32_at(buf, 0, be);
        let len = u32_at(buf, 4, be);
        if len < 12 || !len.is_multiple_of(4) || len > MAX_RECORD_BYTES {
            return Err(CaptureError::BadBlockLength {
                source_name: self.source.clone(),
                offset,
                value: len,
            });
        }
        let total = len as usize;
        if buf.len() < total {
            // A packet block cut short by the end of the input is a truncated record.
            return Ok(Step::NeedMore(total));
        }
        if u32_at(buf, total - 4, be) != len {
            return Err(CaptureError::BadBlockLength {
                source_name: self.source.clone(),
                offset,
                value: len,
            });
        }
        let block = &buf[..total];
        let body_end = total - 4;
        match block_type {
            PCAPNG_SHB => {
                if total < 28 {
                    return Err(CaptureError::BadBlockLength {
                        source_name: self.source.clone(),
                        offset,
                        value: len,
                    });
                }
                let major = u16_at(block, 12, be);
                if major != 1 {
                    return Err(CaptureError::UnsupportedVersion {
                        source_name: self.source.clone(),
                        format: "pcapng",
                        offset,
                        version: major,
                    });
                }
                *big_endian = Some(be);
                interfaces.clear();
                Ok(Step::Meta(total))
            }
            PCAPNG_IDB => {
                if total < 20 {
                    return Err(CaptureError::BadBlockLength {
                        source_name: self.source.clone(),
                        offset,
                        value: len,
                    });
                }
                let mut iface = Interface {
                    linktype: u16_at(block, 8, be),
                    units_per_sec: 1_000_000,
                    offset_secs: 0,
                };
                // Options: code, length, value padded to 4 bytes; a malformed list ends the walk.
                let mut at = 16;
                while at + 4 <= body_end {
                    let code = u16_at(block, at, be);
                    let olen = u16_at(block, at + 2, be) as usize;
                    let value_at = at + 4;
                    if code == 0 || value_at + olen > body_end {
                        break;
                    }
                    match (code, olen) {
                        (9, 1) => {
                            let v = block[value_at];
                            let exp = u32::from(v & 0x7F);
                            let units = if v & 0x80 == 0 {
                                10u64.checked_pow(exp)
                            } else {
                                2u64.checked_pow(exp)
                            };
                            if let Some(units) = units.filter(|u| *u > 0) {
                                iface.units_per_sec = units;
                            }
                        }
                        (14, 8) => {
                            let lo = u32_at(block, value_at, be) as u64;
                            let hi = u32_at(block, value_at + 4, be) as u64;
                            iface.offset_secs =
                                if be { (lo << 32) | hi } else { (hi << 32) | lo } as i64;
                        }
                        _ => {}
                    }
                    at = value_at + olen.div_ceil(4) * 4;
                }
                interfaces.push(iface);
                Ok(Step::Meta(total))
            }
            PCAPNG_EPB | PCAPNG_OPB => {
                if total < 32 {
                    return Ok(Step::Skip(total, SkipReason::MalformedBlock));
                }
                let (iface_id, ts_at) = if block_type == PCAPNG_EPB {
                    (u32_at(block, 8, be) as usize, 12)
                } else {
                    (u16_at(block, 8, be) as usize, 12)
                };
                let caplen = u32_at(block, ts_at + 8, be) as usize;
                let orig_len = u32_at(block, ts_at + 12, be);
                let data_at = ts_at + 16;
                if data_at + caplen > body_end {
                    return Ok(Step::Skip(total, SkipReason::MalformedBlock));
                }
                let Some(iface) = interfaces.get(iface_id) else {
                    return Ok(Step::Skip(total, SkipReason::UnknownInterface));
                };
                let hi = u32_at(block, ts_at, be) as u64;
                let lo = u32_at(block, ts_at + 4, be) as u64;
                let ts_nanos = iface.nanos((hi << 32) | lo);
                *last_ts = ts_nanos;
                Ok(Step::Frame(
                    total,
                    Frame {
                        offset,
                        ts_nanos,
                        linktype: iface.linktype,
                        orig_len,
                        data: &block[data_at..data_at + caplen],
                    },
                ))
            }
            PCAPNG_SPB => {
                if total < 16 {
                    return Ok(Step::Skip(total, SkipReason::MalformedBlock));
                }
                let Some(iface) = interfaces.first() else {
                    return Ok(Step::Skip(total, SkipReason::UnknownInterface));
                };
                let orig_len = u32_at(block, 8, be);
                let caplen = (orig_len as usize).min(body_end - 12);
                Ok(Step::Frame(
                    total,
                    Frame {
                        offset,
                        ts_nanos: *last_ts,
                        linktype: iface.linktype,
                        orig_len,
                        data: &block[12..12 + caplen],
                    },
                ))
            }
            _ => Ok(Step::Meta(total)),
        }
    }

    /// Whether the bytes at the current position (already known to need more than there
    /// are) begin a packet record, for counting a truncated tail.
    fn is_packet_record(&self, buf: &[u8]) -> bool {
        match &self.state {
            State::Start => false,
            State::Pcap { .. } => true,
            State::PcapNg { big_endian, .. } => {
                if buf.len() < 4 {
                    return true;
                }
                let t = u32_at(buf, 0, big_endian.unwrap_or(false));
                matches!(t, PCAPNG_EPB | PCAPNG_SPB | PCAPNG_OPB)
            }
        }
    }
}

/// Reads a capture held in memory, without copying: each [`Frame`] borrows from the bytes.
///
/// ```
/// use vigil_packets::{CaptureReader, synth::PcapWriter};
/// let mut w = PcapWriter::new(vigil_packets::capture::LINKTYPE_RAW);
/// w.record(1_000_000_000, &[0u8; 20]);
/// let bytes = w.finish();
/// let mut reader = CaptureReader::new(&bytes, "mem.pcap");
/// let frame = reader.next_frame().unwrap().unwrap();
/// assert_eq!(frame.ts_nanos, 1_000_000_000);
/// assert!(reader.next_frame().unwrap().is_none());
/// assert_eq!(reader.stats().records, 1);
/// ```
#[derive(Debug)]
pub struct CaptureReader<'a> {
    data: &'a [u8],
    pos: usize,
    decoder: Decoder,
    stats: ReadStats,
    done: bool,
}

impl<'a> CaptureReader<'a> {
    /// A reader over `data`; `source` names it in errors.
    pub fn new(data: &'a [u8], source: impl Into<Arc<str>>) -> CaptureReader<'a> {
        CaptureReader {
            data,
            pos: 0,
            decoder: Decoder::new(source.into()),
            stats: ReadStats::default(),
            done: false,
        }
    }

    /// The container format, once the header has been read.
    pub fn container(&self) -> Option<Container> {
        self.decoder.container()
    }

    /// What was read so far.
    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }

    /// Mutable counts, for the caller that decodes the frames (see [`crate::PacketReader`]).
    pub(crate) fn stats_mut(&mut self) -> &mut ReadStats {
        &mut self.stats
    }

    /// The next frame, `None` at the end. Skipped records are counted in [`Self::stats`];
    /// an error ends the reading (later calls return `None`).
    pub fn next_frame(&mut self) -> Result<Option<Frame<'a>>, CaptureError> {
        while !self.done {
            let buf: &'a [u8] = &self.data[self.pos..];
            let step = match self.decoder.step(buf, self.pos as u64) {
                Ok(step) => step,
                Err(err) => {
                    self.done = true;
                    return Err(err);
                }
            };
            match step {
                Step::Frame(n, frame) => {
                    self.pos += n;
                    self.stats.records += 1;
                    return Ok(Some(frame));
                }
                Step::Meta(n) => self.pos += n,
                Step::Skip(n, reason) => {
                    self.pos += n;
                    self.stats.records += 1;
                    self.stats.skip(reason);
                }
                Step::NeedMore(_) => {
                    self.done = true;
                    if buf.is_empty() {
                        if self.decoder.container().is_none() {
                            return Err(CaptureError::TooShort {
                                source_name: self.decoder.source.clone(),
                                len: 0,
                            });
                        }
                        return Ok(None);
                    }
                    if self.decoder.container().is_none() {
                        return Err(CaptureError::TooShort {
                            source_name: self.decoder.source.clone(),
                            len: self.data.len() as u64,
                        });
                    }
                    if self.decoder.is_packet_record(buf) {
                        self.stats.records += 1;
                        self.stats.skip(SkipReason::TruncatedRecord);
                    }
                    return Ok(None);
                }
            }
        }
        Ok(None)
    }
}

/// Reads a capture from a reader the caller passes (a file, a pipe), one record at a
/// time: memory stays at the size of the largest record.
///
/// ```
/// use vigil_packets::{CaptureStream, synth::PcapWriter};
/// let mut w = PcapWriter::new(vigil_packets::capture::LINKTYPE_RAW);
/// w.record(5, &[0u8; 20]);
/// let bytes = w.finish();
/// let mut stream = CaptureStream::new(&bytes[..], "pipe");
/// assert_eq!(stream.next_frame().unwrap().map(|f| f.data.len()), Some(20));
/// assert!(stream.next_frame().unwrap().is_none());
/// ```
#[derive(Debug)]
pub struct CaptureStream<R> {
    reader: R,
    buf: Vec<u8>,
    /// Start of the unread bytes in `buf`.
    start: usize,
    /// Capture offset of `buf[start]`.
    offset: u64,
    eof: bool,
    done: bool,
    decoder: Decoder,
    stats: ReadStats,
}

impl<R: Read> CaptureStream<R> {
    /// A stream over `reader`; `source` names it in errors.
    pub fn new(reader: R, source: impl Into<Arc<str>>) -> CaptureStream<R> {
        CaptureStream {
            reader,
            buf: Vec::with_capacity(1 << 16),
            start: 0,
            offset: 0,
            eof: false,
            done: false,
            decoder: Decoder::new(source.into()),
            stats: ReadStats::default(),
        }
    }

    /// The container format, once the header has been read.
    pub fn container(&self) -> Option<Container> {
        self.decoder.container()
    }

    /// What was read so far.
    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }

    pub(crate) fn stats_mut(&mut self) -> &mut ReadStats {
        &mut self.stats
    }

    /// Reads until `need` unread bytes are buffered or the reader ends.
    fn fill(&mut self, need: usize) -> Result<(), CaptureError> {
        if self.start > 0 && self.start + need > self.buf.capacity() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        while self.buf.len() - self.start < need && !self.eof {
            let have = self.buf.len();
            let want = (self.start + need).max(have + (1 << 16));
            self.buf.resize(want, 0);
            match self.reader.read(&mut self.buf[have..]) {
                Ok(0) => {
                    self.buf.truncate(have);
                    self.eof = true;
                }
                Ok(n) => self.buf.truncate(have + n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => self.buf.truncate(have),
                Err(e) => {
                    self.buf.truncate(have);
                    self.done = true;
                    return Err(CaptureError::Io {
                        source_name: self.decoder.source.clone(),
                        offset: self.offset + (have - self.start) as u64,
                        message: e.to_string(),
                    });
                }
            }
        }
        Ok(())
    }

    /// The next frame, `None` at the end; see [`CaptureReader::next_frame`]. The frame
    /// borrows the stream's buffer until the next call.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        let mut need = 0usize;
        loop {
            if self.done {
                return Ok(None);
            }
            if need > 0 {
                self.fill(need)?;
            }
            let buf = &self.buf[self.start..];
            let step = match self.decoder.step(buf, self.offset) {
                Ok(step) => step,
                Err(err) => {
                    self.done = true;
                    return Err(err);
                }
            };
            match step {
                Step::Meta(n) => {
                    self.start += n;
                    self.offset += n as u64;
                    need = 0;
                }
                Step::Skip(n, reason) => {
                    self.start += n;
                    self.offset += n as u64;
                    self.stats.records += 1;
                    self.stats.skip(reason);
                    need = 0;
                }
                Step::NeedMore(n) => {
                    if self.eof {
                        self.done = true;
                        let buf = &self.buf[self.start..];
                        if self.decoder.container().is_none() {
                            return Err(CaptureError::TooShort {
                                source_name: self.decoder.source.clone(),
                                len: buf.len() as u64,
                            });
                        }
                        if !buf.is_empty() && self.decoder.is_packet_record(buf) {
                            self.stats.records += 1;
                            self.stats.skip(SkipReason::TruncatedRecord);
                        }
                        return Ok(None);
                    }
                    need = n;
                }
                Step::Frame(n, _) => {
                    let at = self.start;
                    self.start += n;
                    self.offset += n as u64;
                    self.stats.records += 1;
                    // Decode again on the consumed range to hand out a borrow of `self.buf`
                    // that outlives the loop (the first borrow ends with `step`).
                    let buf = &self.buf[at..at + n];
                    let offset = self.offset - n as u64;
                    return match self.decoder.step(buf, offset)? {
                        Step::Frame(_, frame) => Ok(Some(frame)),
                        _ => unreachable!("the same bytes decode the same way"),
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{self, PcapNgWriter, PcapWriter, TcpSpec};

    fn tcp(i: u8) -> Vec<u8> {
        synth::ethernet_ipv4_tcp(TcpSpec::new([10, 0, 0, i], 1000, [10, 0, 0, 99], 80, 0x02))
    }

    fn classic(n: u8) -> Vec<u8> {
        let mut w = PcapWriter::new(LINKTYPE_ETHERNET);
        for i in 0..n {
            w.record(i64::from(i) * 1_000_000_123, &tcp(i));
        }
        w.finish()
    }

    fn read_all(bytes: &[u8]) -> (Result<(), CaptureError>, ReadStats, Vec<i64>) {
        let mut r = CaptureReader::new(bytes, "t");
        let mut times = Vec::new();
        loop {
            match r.next_packet() {
                Ok(Some(p)) => times.push(p.ts_nanos),
                Ok(None) => return (Ok(()), r.stats().clone(), times),
                Err(e) => return (Err(e), r.stats().clone(), times),
            }
        }
    }

    /// The classic capture with every header field written big-endian.
    fn to_big_endian(le: &[u8]) -> Vec<u8> {
        let mut out = le.to_vec();
        let swap = |b: &mut [u8], at: usize, n: usize| b[at..at + n].reverse();
        swap(&mut out, 0, 4);
        swap(&mut out, 4, 2);
        swap(&mut out, 6, 2);
        for at in [8, 12, 16, 20] {
            swap(&mut out, at, 4);
        }
        let mut at = 24;
        while at + 16 <= out.len() {
            let caplen = u32::from_le_bytes(out[at + 8..at + 12].try_into().unwrap()) as usize;
            for f in 0..4 {
                swap(&mut out, at + 4 * f, 4);
            }
            at += 16 + caplen;
        }
        out
    }

    #[test]
    fn both_byte_orders_and_resolutions_read_alike() {
        let le = classic(3);
        let (ok, stats, times) = read_all(&le);
        ok.unwrap();
        assert_eq!((stats.records, stats.ip_packets), (3, 3));
        assert_eq!(times, [0, 1_000_000_000, 2_000_000_000]);
        let (ok, be_stats, be_times) = read_all(&to_big_endian(&le));
        ok.unwrap();
        assert_eq!((be_stats, be_times), (stats, times));
        let mut w = PcapWriter::with_resolution(LINKTYPE_ETHERNET, true);
        w.record(1_000_000_123, &tcp(1));
        let (_, _, ns) = read_all(&w.finish());
        assert_eq!(ns, [1_000_000_123]);
        let r = CaptureReader::new(&le, "t");
        assert_eq!(r.container(), None);
    }

    #[test]
    fn pcapng_blocks_resolutions_and_simple_packets() {
        let mut w = PcapNgWriter::new(LINKTYPE_ETHERNET);
        w.packet(5_000_000_007, &tcp(1));
        w.simple_packet(&tcp(2));
        let bytes = w.finish();
        let (ok, stats, times) = read_all(&bytes);
        ok.unwrap();
        assert_eq!((stats.records, stats.ip_packets), (2, 2));
        // The simple packet block takes the time of the packet before it.
        assert_eq!(times, [5_000_000_007, 5_000_000_007]);

        // An enhanced packet block naming interface 1, which was never declared.
        let mut bad = bytes.clone();
        let epb = bad.windows(4).position(|w| w == [6, 0, 0, 0]).unwrap();
        bad[epb + 8] = 1;
        let (ok, stats, _) = read_all(&bad);
        ok.unwrap();
        assert_eq!(stats.skipped_for(SkipReason::UnknownInterface), 1);
    }

    #[test]
    fn every_cut_is_counted_never_a_panic() {
        let mut ng = PcapNgWriter::new(LINKTYPE_ETHERNET);
        for i in 0..3 {
            ng.packet(i64::from(i), &tcp(i));
        }
        for bytes in [classic(3), ng.finish()] {
            let (_, full, _) = read_all(&bytes);
            for cut in 0..bytes.len() {
                let (res, stats, times) = read_all(&bytes[..cut]);
                match res {
                    Err(CaptureError::TooShort { .. }) => assert!(cut < 28, "cut {cut}"),
                    Err(e) => panic!("cut {cut}: {e}"),
                    Ok(()) => {
                        assert!(stats.skipped_for(SkipReason::TruncatedRecord) <= 1);
                        assert_eq!(stats.records, stats.ip_packets + stats.skipped());
                        assert_eq!(times.len() as u64, stats.ip_packets);
                        assert!(stats.records <= full.records);
                    }
                }
                // The stream reader agrees with the slice reader.
                let mut s = CaptureStream::new(&bytes[..cut], "t");
                let mut n = 0;
                while let Ok(Some(_)) = s.next_packet() {
                    n += 1;
                }
                if res_is_ok(&bytes[..cut]) {
                    assert_eq!(s.stats(), &stats, "cut {cut}");
                    assert_eq!(n, times.len());
                }
            }
        }
    }

    fn res_is_ok(bytes: &[u8]) -> bool {
        read_all(bytes).0.is_ok()
    }

    #[test]
    fn corrupted_bytes_give_errors_or_counts_never_a_panic() {
        let mut ng = PcapNgWriter::new(LINKTYPE_ETHERNET);
        ng.packet(1, &tcp(1));
        ng.simple_packet(&tcp(2));
        for bytes in [classic(2), ng.finish()] {
            for at in 0..bytes.len() {
                for value in [0x00, 0xFF, 0x7F, 0x05] {
                    let mut b = bytes.clone();
                    b[at] = value;
                    let (_, stats, _) = read_all(&b);
                    assert!(stats.records <= 2 + 1);
                }
            }
        }
    }

    #[test]
    fn errors_name_the_input_the_offset_and_the_value() {
        let (res, _, _) = read_all(b"GIF89a and more bytes than a header holds");
        let err = res.unwrap_err();
        assert_eq!(
            err.to_string(),
            "t: magic number 0x38464947 at offset 0 is neither pcap nor pcapng"
        );
        let mut b = classic(1);
        b[24 + 8..24 + 12].copy_from_slice(&u32::MAX.to_le_bytes());
        let err = read_all(&b).0.unwrap_err();
        assert!(
            err.to_string().contains("offset 24 claims 4294967295"),
            "{err}"
        );
        let (res, _, _) = read_all(b"");
        assert!(matches!(res, Err(CaptureError::TooShort { len: 0, .. })));
    }
}
