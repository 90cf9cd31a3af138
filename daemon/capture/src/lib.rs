//! Vigil's live packet capture: frames read from a network interface through libpcap,
//! handed on as [`vigil_packets::Frame`]s for the same decoder and flow tracker that read
//! capture files.
//!
//! Reads never wait: the handle is non-blocking, and [`LiveCapture::next_frame`] says
//! `None` when nothing has arrived, so the caller can expire idle flows, check for
//! shutdown and poll again.
//!
//! Capturing needs `CAP_NET_RAW` (promiscuous mode included, as libpcap asks for it on the
//! capture socket, not on the interface); without it
//! [`LiveCapture::open`] fails with [`LiveError::PermissionDenied`], which says how to
//! grant it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use vigil_packets::{Frame, capture};

/// How to open a live capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveOptions {
    /// The interface to capture from (`eth0`, `lo`, or `any` for all of them).
    pub interface: String,
    /// A BPF filter in tcpdump's syntax (`tcp port 22 or udp`); `None` takes everything.
    pub filter: Option<String>,
    /// Put the interface in promiscuous mode, to see traffic not addressed to this host
    /// (a mirror or tap port). Not asked of `any`, which has no such mode.
    pub promiscuous: bool,
    /// Bytes kept of each packet. Flow features need only the headers; the length on the
    /// wire is kept either way.
    pub snaplen_bytes: u32,
    /// Size of the kernel's capture buffer, in bytes: what absorbs bursts while the
    /// pipeline is busy.
    pub buffer_bytes: u32,
}

impl LiveOptions {
    /// Options for `interface` with the defaults: no filter, promiscuous, a 65,535-byte
    /// snapshot and a 16 MiB buffer.
    pub fn new(interface: impl Into<String>) -> LiveOptions {
        LiveOptions {
            interface: interface.into(),
            filter: None,
            promiscuous: true,
            snaplen_bytes: 65_535,
            buffer_bytes: 16 << 20,
        }
    }
}

/// Why a live capture could not be opened or read. Each names the interface and, where
/// there is one, the offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LiveError {
    /// The process may not capture.
    #[error(
        "cannot capture on interface {interface:?}: permission denied ({detail}); capturing \
         needs the CAP_NET_RAW capability: run as root, grant it with \
         `setcap cap_net_raw=eip <path to vigil>`, or under systemd with \
         `AmbientCapabilities=CAP_NET_RAW`"
    )]
    PermissionDenied {
        /// The interface.
        interface: String,
        /// What libpcap said.
        detail: String,
    },
    /// No interface of that name.
    #[error("no network interface {interface:?} to capture from (interfaces: {available})")]
    NoSuchInterface {
        /// The interface asked for.
        interface: String,
        /// The interfaces libpcap lists, comma-separated.
        available: String,
    },
    /// The BPF filter does not compile.
    #[error("BPF filter {filter:?} on interface {interface:?} does not compile: {detail}")]
    BadFilter {
        /// The interface.
        interface: String,
        /// The filter.
        filter: String,
        /// What libpcap said.
        detail: String,
    },
    /// The interface's link type is one the decoder cannot read.
    #[error(
        "interface {interface:?} has link type {linktype}, which Vigil cannot decode \
         (Ethernet, raw IP, Linux cooked capture and BSD loopback are supported)"
    )]
    UnsupportedLinktype {
        /// The interface.
        interface: String,
        /// libpcap's `DLT_`/`LINKTYPE_` number.
        linktype: i32,
    },
    /// Any other failure to open the capture.
    #[error("cannot capture on interface {interface:?}: {detail}")]
    Open {
        /// The interface.
        interface: String,
        /// What libpcap said.
        detail: String,
    },
    /// Reading failed (the interface went down, say).
    #[error("capture on interface {interface:?} failed: {detail}")]
    Read {
        /// The interface.
        interface: String,
        /// What libpcap said.
        detail: String,
    },
}

/// The kernel's counts for a capture since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureCounters {
    /// Packets that passed the filter.
    pub received: u64,
    /// Packets dropped because the capture buffer was full: lost to Vigil.
    pub dropped: u64,
    /// Packets the interface or its driver dropped.
    pub interface_dropped: u64,
}

/// An open live capture on one interface.
pub struct LiveCapture {
    capture: pcap::Capture<pcap::Active>,
    interface: String,
    linktype: u16,
    nanos: bool,
    frames: u64,
}

impl std::fmt::Debug for LiveCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveCapture")
            .field("interface", &self.interface)
            .field("linktype", &self.linktype)
            .field("nanos", &self.nanos)
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

/// Link types [`vigil_packets::decode`] reads. libpcap reports `DLT_` numbers, which equal
/// the `LINKTYPE_` ones for these on Linux (`DLT_RAW` is 12 there, read as raw IP).
const DECODABLE_LINKTYPES: [u16; 9] = [
    capture::LINKTYPE_NULL,
    capture::LINKTYPE_ETHERNET,
    capture::LINKTYPE_RAW_BSD,
    capture::LINKTYPE_RAW,
    capture::LINKTYPE_LOOP,
    capture::LINKTYPE_LINUX_SLL,
    capture::LINKTYPE_IPV4,
    capture::LINKTYPE_IPV6,
    capture::LINKTYPE_LINUX_SLL2,
];

impl LiveCapture {
    /// Opens a non-blocking capture as `options` say, with the filter applied.
    ///
    /// # Errors
    /// [`LiveError::PermissionDenied`] without the right to capture,
    /// [`LiveError::NoSuchInterface`], [`LiveError::BadFilter`],
    /// [`LiveError::UnsupportedLinktype`], or [`LiveError::Open`] for anything else.
    pub fn open(options: &LiveOptions) -> Result<LiveCapture, LiveError> {
        let interface = options.interface.clone();
        // libpcap answers a promiscuous `any` with a warning that the crate takes for an error.
        let promiscuous = options.promiscuous && interface != "any";
        let open = |precision| {
            pcap::Capture::from_device(interface.as_str())
                .and_then(|inactive| {
                    inactive
                        .promisc(promiscuous)
                        .snaplen(i32::try_from(options.snaplen_bytes).unwrap_or(i32::MAX))
                        .buffer_size(i32::try_from(options.buffer_bytes).unwrap_or(i32::MAX))
                        // Packets are handed on as they arrive, not when a kernel block fills.
                        .immediate_mode(true)
                        .precision(precision)
                        .open()
                })
                .map_err(|error| classify_open_error(&interface, &error))
        };
        // Nanosecond stamps on Linux, which has them; elsewhere libpcap may refuse them
        // without saying so (the crate ignores the answer), so microseconds.
        let nanos = cfg!(target_os = "linux");
        let capture = open(if nanos {
            pcap::Precision::Nano
        } else {
            pcap::Precision::Micro
        })?;
        let linktype = capture.get_datalink().0;
        let linktype = u16::try_from(linktype)
            .ok()
            .filter(|lt| DECODABLE_LINKTYPES.contains(lt))
            .ok_or(LiveError::UnsupportedLinktype {
                interface: interface.clone(),
                linktype,
            })?;
        let mut capture = capture.setnonblock().map_err(|error| LiveError::Open {
            interface: interface.clone(),
            detail: format!("cannot make the capture non-blocking: {error}"),
        })?;
        if let Some(filter) = &options.filter {
            capture
                .filter(filter, true)
                .map_err(|error| LiveError::BadFilter {
                    interface: interface.clone(),
                    filter: filter.clone(),
                    detail: error.to_string(),
                })?;
        }
        Ok(LiveCapture {
            capture,
            interface,
            linktype,
            nanos,
            frames: 0,
        })
    }

    /// The interface captured from.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// The interface's link type (`LINKTYPE_*`).
    pub fn linktype(&self) -> u16 {
        self.linktype
    }

    /// The next frame, or `None` when none is waiting. A frame's `offset` is its index
    /// since the capture opened.
    ///
    /// # Errors
    /// [`LiveError::Read`] when the capture fails (the interface went away).
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, LiveError> {
        match self.capture.next_packet() {
            Ok(packet) => {
                let header = packet.header;
                // `time_t` and `suseconds_t` differ by platform.
                #[allow(clippy::unnecessary_cast)]
                let (secs, fraction) = (header.ts.tv_sec as i64, header.ts.tv_usec as i64);
                let fraction_nanos = if self.nanos {
                    fraction
                } else {
                    fraction * 1_000
                };
                let offset = self.frames;
                self.frames += 1;
                Ok(Some(Frame {
                    offset,
                    ts_nanos: secs * 1_000_000_000 + fraction_nanos,
                    linktype: self.linktype,
                    orig_len: header.len,
                    data: packet.data,
                }))
            }
            Err(pcap::Error::TimeoutExpired | pcap::Error::NoMorePackets) => Ok(None),
            Err(error) => Err(LiveError::Read {
                interface: self.interface.clone(),
                detail: error.to_string(),
            }),
        }
    }

    /// The kernel's counts since the capture opened.
    ///
    /// # Errors
    /// [`LiveError::Read`] when libpcap cannot tell.
    pub fn counters(&mut self) -> Result<CaptureCounters, LiveError> {
        let stat = self.capture.stats().map_err(|error| LiveError::Read {
            interface: self.interface.clone(),
            detail: format!("no capture statistics: {error}"),
        })?;
        Ok(CaptureCounters {
            received: u64::from(stat.received),
            dropped: u64::from(stat.dropped),
            interface_dropped: u64::from(stat.if_dropped),
        })
    }
}

/// Checks that `filter` is a BPF filter libpcap can compile for an Ethernet interface,
/// without opening one (no right to capture needed): for validating a configuration.
///
/// # Errors
/// [`LiveError::BadFilter`] naming the filter and what libpcap said; `interface` only
/// names where the filter is meant to go.
///
/// ```
/// assert!(vigil_capture::check_filter("eth0", "tcp port 22 or udp").is_ok());
/// let error = vigil_capture::check_filter("eth0", "tcp port").unwrap_err();
/// assert!(error.to_string().contains("\"tcp port\""));
/// ```
pub fn check_filter(interface: &str, filter: &str) -> Result<(), LiveError> {
    let bad = |detail: String| LiveError::BadFilter {
        interface: interface.to_string(),
        filter: filter.to_string(),
        detail,
    };
    let dead = pcap::Capture::dead(pcap::Linktype::ETHERNET).map_err(|e| bad(e.to_string()))?;
    dead.compile(filter, true)
        .map(drop)
        .map_err(|e| bad(e.to_string()))
}

/// The names of the interfaces libpcap can capture from.
///
/// # Errors
/// What libpcap said, when it cannot list them.
pub fn interfaces() -> Result<Vec<String>, LiveError> {
    pcap::Device::list()
        .map(|devices| devices.into_iter().map(|d| d.name).collect())
        .map_err(|error| LiveError::Open {
            interface: String::new(),
            detail: format!("cannot list interfaces: {error}"),
        })
}

fn classify_open_error(interface: &str, error: &pcap::Error) -> LiveError {
    let detail = error.to_string();
    let lower = detail.to_ascii_lowercase();
    if lower.contains("not permitted")
        || lower.contains("permission")
        || lower.contains("access denied")
    {
        return LiveError::PermissionDenied {
            interface: interface.to_string(),
            detail,
        };
    }
    if lower.contains("no such device") {
        let available = interfaces()
            .map(|names| names.join(", "))
            .unwrap_or_else(|error| error.to_string());
        return LiveError::NoSuchInterface {
            interface: interface.to_string(),
            available,
        };
    }
    LiveError::Open {
        interface: interface.to_string(),
        detail,
    }
}
