//! Vigil's packet captures: reading classic pcap and pcapng, decoding frames into IP
//! packets, tracking bidirectional flows and describing each with UNSW-NB15 features, and
//! turning flows into the normalised [`vigil_sensors::Event`].
//!
//! Pure: this crate is handed bytes (or a reader the caller opened) and hands back
//! [`Frame`]s, [`Packet`]s, [`FlowRecord`]s and events; it opens no file and no socket.
//! Time is packet time throughout. See `docs/flows.md` for the formats, the flow rules and
//! the definition of every feature.
//!
//! ```
//! use vigil_packets::{flows_from_capture, FlowConfig, FlowEvents, synth::{self, PcapWriter, TcpSpec}};
//! let mut w = PcapWriter::new(vigil_packets::capture::LINKTYPE_ETHERNET);
//! w.record(0, &synth::ethernet_ipv4_tcp(TcpSpec::new([10, 0, 0, 1], 40000, [10, 0, 0, 2], 22, 0x02)));
//! let capture = w.finish();
//! let read = flows_from_capture(&capture, "mem.pcap", &FlowConfig::default()).unwrap();
//! assert_eq!(read.flows.len(), 1);
//! assert_eq!(read.flows[0].features.state, "REQ");
//! let event = FlowEvents::new("lab", "mem.pcap").event(&read.flows[0]);
//! assert_eq!(event.app_proto.as_deref(), Some("ssh"));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod capture;
pub mod decode;
pub mod error;
pub mod event;
pub mod features;
pub mod flow;
pub mod synth;

use std::io::Read;

pub use capture::{CaptureReader, CaptureStream, Container, Frame, ReadStats};
pub use decode::{Packet, TcpInfo, decode};
pub use error::{CaptureError, ConfigError, SkipReason};
pub use event::FlowEvents;
pub use features::{FEATURE_NAMES, Features};
pub use flow::{FlowConfig, FlowEnd, FlowRecord, FlowTracker, TrackerStats};

/// Decodes `frame`, counting it in `stats` as an IP packet or under its skip reason.
#[inline]
fn decode_counted(frame: &Frame<'_>, stats: &mut ReadStats) -> Option<Packet> {
    match decode(frame) {
        Ok(p) => {
            stats.ip_packets += 1;
            stats.ip_bytes += u64::from(p.ip_len);
            Some(p)
        }
        Err(reason) => {
            stats.skip(reason);
            None
        }
    }
}

impl CaptureReader<'_> {
    /// The next IP packet, `None` at the end; frames that are not IP packets are counted
    /// in [`Self::stats`] under their [`SkipReason`] and passed over.
    pub fn next_packet(&mut self) -> Result<Option<Packet>, CaptureError> {
        while let Some(frame) = self.next_frame()? {
            if let Some(p) = decode_counted(&frame, self.stats_mut()) {
                return Ok(Some(p));
            }
        }
        Ok(None)
    }
}

impl<R: Read> CaptureStream<R> {
    /// The next IP packet, `None` at the end; see [`CaptureReader::next_packet`].
    pub fn next_packet(&mut self) -> Result<Option<Packet>, CaptureError> {
        loop {
            let decoded = match self.next_frame()? {
                None => return Ok(None),
                Some(frame) => decode(&frame),
            };
            let stats = self.stats_mut();
            match decoded {
                Ok(p) => {
                    stats.ip_packets += 1;
                    stats.ip_bytes += u64::from(p.ip_len);
                    return Ok(Some(p));
                }
                Err(reason) => stats.skip(reason),
            }
        }
    }
}

/// Everything [`flows_from_capture`] found in one capture.
#[derive(Debug, Clone)]
pub struct CaptureFlows {
    /// The flows, in emission order (end of input flushes the rest).
    pub flows: Vec<FlowRecord>,
    /// What the reader counted.
    pub read: ReadStats,
    /// What the tracker counted.
    pub tracker: TrackerStats,
}

/// Reads a whole capture held in memory and tracks its flows to the end of input.
pub fn flows_from_capture(
    data: &[u8],
    source: &str,
    config: &FlowConfig,
) -> Result<CaptureFlows, ReadFlowsError> {
    let mut tracker = FlowTracker::new(config.clone())?;
    let mut reader = CaptureReader::new(data, source);
    let mut flows = Vec::new();
    while let Some(p) = reader.next_packet()? {
        tracker.push(&p, &mut flows);
    }
    tracker.finish(&mut flows);
    Ok(CaptureFlows {
        flows,
        read: reader.stats().clone(),
        tracker: tracker.stats().clone(),
    })
}

/// Why [`flows_from_capture`] failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReadFlowsError {
    /// The tracker's configuration is out of range.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The capture cannot be read on.
    #[error(transparent)]
    Capture(#[from] CaptureError),
}
