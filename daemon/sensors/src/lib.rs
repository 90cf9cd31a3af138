//! Vigil's normalised event model and the parsers that produce it.
//!
//! Every sensor format (Cowrie, Dionaea, Suricata EVE, Tanner, UNSW-NB15, NSL-KDD,
//! CIC-IDS2017, generic labelled CSV) is turned into one [`Event`] type. Parsing is pure:
//! this crate is handed bytes (one line at a time, with the byte offset where the line
//! starts) and hands back [`Record`]s; it never opens a file or a socket.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cowrie;
pub mod detect;
pub mod dionaea;
pub mod event;
pub mod flows;
pub mod format;
mod input;
pub mod intern;
mod json;
pub mod net;
pub mod suricata;
pub mod tanner;
pub mod time;

pub use event::{
    Direction, Event, EventKind, Label, Origin, Sensor, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST,
    TCP_SYN, TCP_URG, Transport,
};
pub use format::{
    Format, ParseOptions, Record, RecordParser, RejectReason, Rejection, UnknownFormat,
};

/// The parser for `format`; [`Format::Auto`] gives an [`detect::AutoParser`] that recognises
/// each input's format from its content.
///
/// ```
/// use vigil_sensors::{parser_for, Format, ParseOptions};
/// let parser = parser_for(Format::Suricata, ParseOptions::new("ids1"));
/// assert_eq!(parser.format(), Format::Suricata);
/// let auto = parser_for(Format::Auto, ParseOptions::new("any"));
/// assert_eq!(auto.format(), Format::Auto); // until the first lines tell
/// ```
pub fn parser_for(format: Format, opts: ParseOptions) -> Box<dyn RecordParser> {
    parser_sharing_rows(format, opts, &flows::RowCounter::default())
}

/// [`parser_for`], where a flow-dataset parser numbers its rows with `rows`, so that the
/// parsers one source switches between carry on one row count.
pub(crate) fn parser_sharing_rows(
    format: Format,
    opts: ParseOptions,
    rows: &flows::RowCounter,
) -> Box<dyn RecordParser> {
    let rows = rows.clone();
    match format {
        Format::Auto => Box::new(detect::AutoParser::new(opts)),
        Format::Cowrie => Box::new(cowrie::CowrieParser::new(opts)),
        Format::Dionaea => Box::new(dionaea::DionaeaParser::new(opts)),
        Format::Suricata => Box::new(suricata::SuricataParser::new(opts)),
        Format::Tanner => Box::new(tanner::TannerParser::new(opts)),
        Format::Unsw => Box::new(flows::UnswParser::sharing_rows(opts, rows)),
        Format::Nslkdd => Box::new(flows::NslKddParser::sharing_rows(opts, rows)),
        Format::Cicids => Box::new(flows::CicIdsParser::sharing_rows(opts, rows)),
        Format::Csv => Box::new(flows::GenericCsvParser::sharing_rows(opts, rows)),
    }
}
