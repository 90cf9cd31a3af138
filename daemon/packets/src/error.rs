//! Errors and skip reasons.

use std::sync::Arc;

/// A capture that cannot be read on: its header is not a capture's, or a record's framing
/// is broken so that the next record cannot be found. Each names the input, the byte
/// offset and the offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureError {
    /// The input is shorter than a capture header.
    #[error("{source_name}: {len} bytes is too short for a pcap or pcapng header")]
    TooShort {
        /// The input's name.
        source_name: Arc<str>,
        /// Its length in bytes.
        len: u64,
    },
    /// The first four bytes are neither a classic pcap magic nor a pcapng section header.
    #[error("{source_name}: magic number {magic:#010x} at offset 0 is neither pcap nor pcapng")]
    BadMagic {
        /// The input's name.
        source_name: Arc<str>,
        /// The first four bytes, read little-endian.
        magic: u32,
    },
    /// A pcapng section header's byte-order magic is not 0x1A2B3C4D in either order.
    #[error("{source_name}: pcapng byte-order magic {magic:#010x} at offset {offset} is invalid")]
    BadByteOrder {
        /// The input's name.
        source_name: Arc<str>,
        /// Offset of the section header block.
        offset: u64,
        /// The value read, little-endian.
        magic: u32,
    },
    /// A major version this reader does not know (classic pcap 2, pcapng 1).
    #[error("{source_name}: unsupported {format} major version {version} at offset {offset}")]
    UnsupportedVersion {
        /// The input's name.
        source_name: Arc<str>,
        /// `pcap` or `pcapng`.
        format: &'static str,
        /// Offset of the header.
        offset: u64,
        /// The version read.
        version: u16,
    },
    /// A classic pcap record whose captured length is beyond any snapshot length.
    #[error(
        "{source_name}: pcap record at offset {offset} claims {value} captured bytes (more than {max})"
    )]
    RecordTooLong {
        /// The input's name.
        source_name: Arc<str>,
        /// Offset of the record header.
        offset: u64,
        /// The captured length read.
        value: u32,
        /// The largest accepted.
        max: u32,
    },
    /// A pcapng block whose total length is not a multiple of 4, is below 12, beyond
    /// [`MAX_RECORD_BYTES`](crate::capture::MAX_RECORD_BYTES), or differs from the
    /// trailing copy.
    #[error("{source_name}: pcapng block at offset {offset} has invalid total length {value}")]
    BadBlockLength {
        /// The input's name.
        source_name: Arc<str>,
        /// Offset of the block.
        offset: u64,
        /// The total length read.
        value: u32,
    },
    /// A pcapng packet block before any section header.
    #[error(
        "{source_name}: pcapng block type {block_type:#x} at offset {offset} before the section header"
    )]
    NoSection {
        /// The input's name.
        source_name: Arc<str>,
        /// Offset of the block.
        offset: u64,
        /// Its type.
        block_type: u32,
    },
    /// Reading the underlying reader failed (streams only).
    #[error("{source_name}: read error at offset {offset}: {message}")]
    Io {
        /// The input's name.
        source_name: Arc<str>,
        /// Offset reached.
        offset: u64,
        /// The I/O error's text.
        message: String,
    },
}

/// Why a record or a packet was skipped. Every record is counted once: as an IP packet
/// handed on, or under one of these reasons (see [`ReadStats`](crate::ReadStats)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    /// The input ended inside a record (a capture cut while it was written).
    TruncatedRecord,
    /// A pcapng packet block whose inner lengths do not fit its block length.
    MalformedBlock,
    /// A pcapng packet block naming an interface no description block declared.
    UnknownInterface,
    /// A link type this reader does not decode.
    UnsupportedLinktype,
    /// The frame ends inside its link-layer header.
    TruncatedFrame,
    /// A link-layer payload that is not IPv4 or IPv6 (ARP, LLDP, ...).
    NotIp,
    /// An IP header that is cut short or inconsistent (version, header length, total length,
    /// extension header chain).
    MalformedIp,
    /// The captured bytes end inside the TCP, UDP or ICMP header.
    TruncatedTransport,
    /// A TCP header whose data offset is below 5 words.
    MalformedTransport,
}

impl SkipReason {
    /// Every reason, in a stable order.
    pub const ALL: [SkipReason; 9] = [
        SkipReason::TruncatedRecord,
        SkipReason::MalformedBlock,
        SkipReason::UnknownInterface,
        SkipReason::UnsupportedLinktype,
        SkipReason::TruncatedFrame,
        SkipReason::NotIp,
        SkipReason::MalformedIp,
        SkipReason::TruncatedTransport,
        SkipReason::MalformedTransport,
    ];

    /// The snake_case name used in logs and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::TruncatedRecord => "truncated_record",
            SkipReason::MalformedBlock => "malformed_block",
            SkipReason::UnknownInterface => "unknown_interface",
            SkipReason::UnsupportedLinktype => "unsupported_linktype",
            SkipReason::TruncatedFrame => "truncated_frame",
            SkipReason::NotIp => "not_ip",
            SkipReason::MalformedIp => "malformed_ip",
            SkipReason::TruncatedTransport => "truncated_transport",
            SkipReason::MalformedTransport => "malformed_transport",
        }
    }

    /// Whether the reason means damaged input, rather than traffic this crate does not
    /// track by design ([`SkipReason::NotIp`], [`SkipReason::UnsupportedLinktype`]).
    pub fn is_damage(self) -> bool {
        !matches!(self, SkipReason::NotIp | SkipReason::UnsupportedLinktype)
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A [`FlowConfig`](crate::FlowConfig) value out of range, naming the field and the value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("flow config: {field} = {value} {problem}")]
pub struct ConfigError {
    /// The field's name (`flow_idle_secs`, `flow_active_secs`, `max_flows`).
    pub field: &'static str,
    /// The value given, as text.
    pub value: String,
    /// What is wrong with it.
    pub problem: &'static str,
}
