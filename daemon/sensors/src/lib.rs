//! Vigil's normalised event model and the parsers that produce it.
//!
//! Every sensor format (Cowrie, Dionaea, Suricata EVE, Tanner, UNSW-NB15, NSL-KDD,
//! CIC-IDS2017, generic labelled CSV) is turned into one [`Event`] type. Parsing is pure:
//! this crate is handed bytes (one line at a time, with the byte offset where the line
//! starts) and hands back [`Record`]s; it never opens a file or a socket.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod event;
pub mod flows;
pub mod format;

pub use event::{
    Direction, Event, EventKind, Label, Origin, Sensor, Transport, TCP_ACK, TCP_FIN, TCP_PSH,
    TCP_RST, TCP_SYN, TCP_URG,
};
pub use format::{
    Format, ParseOptions, Record, RecordParser, RejectReason, Rejection, UnknownFormat,
};
