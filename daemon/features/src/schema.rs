//! The feature vector's columns.
//!
//! # Fills for missing values
//! Events carry `None` for what a sensor does not report; the vector never has NaN:
//! - bytes, packets, duration: 0, with `bytes_missing` / `packets_missing` /
//!   `duration_missing` set to 1 (bytes or packets count as missing only when both directions
//!   are absent; one absent direction counts as 0);
//! - rates (`*_per_sec_log1p`): 0 unless the duration is known and positive;
//!   `bytes_per_packet_log1p`: 0 unless packets were counted;
//! - direction ratios (`byte_ratio_out`, `packet_ratio_out`): 0.5 (no preferred direction)
//!   when nothing was counted either way;
//! - TCP flags: all flag columns 0 and `tcp_flags_missing` 1;
//! - destination port: `dst_port_common` and `dst_port_well_known` 0, `dst_port_missing` 1;
//! - transport and application protocol: all one-hot columns 0;
//! - private source / destination: 0 when the address is absent.
//!
//! # Window columns
//! The `src_*` columns describe the event's source (an IPv4 address or an IPv6 prefix) over
//! event-time sliding windows ending at the source's newest event (see the crate docs). Counts
//! go through `log1p` so that heavy tails stay in range. Events without a source address
//! (UNSW-NB15, NSL-KDD rows) get 0 in every `src_*` column, `src_tracked` included.

macro_rules! feature_columns {
    ($( $(#[$doc:meta])+ $variant:ident => $name:literal, )+) => {
        /// One column of the feature vector; `column as usize` is its index.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(usize)]
        pub enum Column {
            $( $(#[$doc])+ $variant, )+
        }

        const NAMES: &[&str] = &[ $( $name, )+ ];

        impl Column {
            /// Every column, in vector order.
            pub const ALL: &'static [Column] = &[ $( Column::$variant, )+ ];
        }
    };
}

feature_columns! {
    /// `ln(1 + bytes from source to destination)`.
    BytesOutLog1p => "bytes_out_log1p",
    /// `ln(1 + bytes from destination to source)`.
    BytesInLog1p => "bytes_in_log1p",
    /// 1 when the sensor reported no byte counts.
    BytesMissing => "bytes_missing",
    /// `ln(1 + packets from source to destination)`.
    PacketsOutLog1p => "packets_out_log1p",
    /// `ln(1 + packets from destination to source)`.
    PacketsInLog1p => "packets_in_log1p",
    /// 1 when the sensor reported no packet counts.
    PacketsMissing => "packets_missing",
    /// `ln(1 + duration in seconds)`.
    DurationLog1p => "duration_secs_log1p",
    /// 1 when the sensor reported no duration.
    DurationMissing => "duration_missing",
    /// `ln(1 + bytes both ways per second)`.
    BytesPerSecLog1p => "bytes_per_sec_log1p",
    /// `ln(1 + packets both ways per second)`.
    PacketsPerSecLog1p => "packets_per_sec_log1p",
    /// `ln(1 + bytes per packet, both ways)`.
    BytesPerPacketLog1p => "bytes_per_packet_log1p",
    /// `bytes_out / (bytes_out + bytes_in)`.
    ByteRatioOut => "byte_ratio_out",
    /// `packets_out / (packets_out + packets_in)`.
    PacketRatioOut => "packet_ratio_out",
    /// Sine of the local time of day (a full turn per day).
    HourSin => "hour_sin",
    /// Cosine of the local time of day.
    HourCos => "hour_cos",
    /// Local weekday, Monday 0 to Sunday 1 in steps of 1/6.
    Weekday => "weekday",
    /// 1 on Saturday and Sunday (local time).
    Weekend => "weekend",
    /// 1 from Monday to Friday, 08:00 to 18:00 local time.
    BusinessHours => "business_hours",
    /// TCP FIN seen.
    TcpFin => "tcp_fin",
    /// TCP SYN seen.
    TcpSyn => "tcp_syn",
    /// TCP RST seen.
    TcpRst => "tcp_rst",
    /// TCP PSH seen.
    TcpPsh => "tcp_psh",
    /// TCP ACK seen.
    TcpAck => "tcp_ack",
    /// TCP URG seen.
    TcpUrg => "tcp_urg",
    /// 1 when the sensor reported no TCP flags.
    TcpFlagsMissing => "tcp_flags_missing",
    /// Source address is private (see [`is_private`](crate::is_private)).
    SrcPrivate => "src_private",
    /// Destination address is private.
    DstPrivate => "dst_private",
    /// Both ends private, or the sensor said the traffic was internal.
    Internal => "internal",
    /// Destination port is one of the configured common ports.
    DstPortCommon => "dst_port_common",
    /// Destination port is below 1024.
    DstPortWellKnown => "dst_port_well_known",
    /// 1 when the event has no destination port.
    DstPortMissing => "dst_port_missing",
    /// Transport is TCP.
    TransportTcp => "transport_tcp",
    /// Transport is UDP.
    TransportUdp => "transport_udp",
    /// Transport is ICMP.
    TransportIcmp => "transport_icmp",
    /// Another IP protocol.
    TransportOther => "transport_other",
    /// Application protocol SSH.
    ProtoSsh => "proto_ssh",
    /// Application protocol Telnet.
    ProtoTelnet => "proto_telnet",
    /// Application protocol HTTP.
    ProtoHttp => "proto_http",
    /// Application protocol HTTPS / TLS / QUIC.
    ProtoTls => "proto_https_tls",
    /// Application protocol DNS.
    ProtoDns => "proto_dns",
    /// Application protocol SMB.
    ProtoSmb => "proto_smb",
    /// Application protocol FTP.
    ProtoFtp => "proto_ftp",
    /// Application protocol MSSQL.
    ProtoMssql => "proto_mssql",
    /// Application protocol MySQL.
    ProtoMysql => "proto_mysql",
    /// Application protocol SMTP.
    ProtoSmtp => "proto_smtp",
    /// Another named application protocol.
    ProtoOther => "proto_other",
    /// Event kind: connection or session opened.
    KindConnect => "kind_connect",
    /// Event kind: failed login.
    KindLoginFailed => "kind_login_failed",
    /// Event kind: successful login.
    KindLoginSuccess => "kind_login_success",
    /// Event kind: command entered.
    KindCommand => "kind_command",
    /// Event kind: file transfer.
    KindFileTransfer => "kind_file_transfer",
    /// Event kind: completed flow.
    KindFlow => "kind_flow",
    /// Event kind: IDS signature match.
    KindIdsAlert => "kind_ids_alert",
    /// Event kind: HTTP request.
    KindHttpRequest => "kind_http_request",
    /// Any other event kind.
    KindOther => "kind_other",
    /// 1 when the event has a source and the `src_*` window columns describe it.
    SrcTracked => "src_tracked",
    /// `ln(1 + events from the source in the event window)`.
    SrcEventsLog1p => "src_events_window_log1p",
    /// `ln(1 + failed logins from the source in the login window)`.
    SrcFailedLoginsLog1p => "src_failed_logins_window_log1p",
    /// `ln(1 + distinct destination ports of the source in the port window)`.
    SrcDistinctDstPortsLog1p => "src_distinct_dst_ports_window_log1p",
    /// `ln(1 + distinct destination addresses of the source in the port window)`.
    SrcDistinctDstIpsLog1p => "src_distinct_dst_ips_window_log1p",
    /// `ln(1 + mean bytes both ways)` over the source's events with byte counts in the bytes
    /// window (0 when none).
    SrcMeanBytesLog1p => "src_mean_bytes_window_log1p",
    /// Successful logins / all logins of the source in the login window (0 when none).
    SrcLoginSuccessRatio => "src_login_success_ratio",
    /// Shannon entropy, in bits, of the source's destination ports in the port window.
    SrcDstPortEntropy => "src_dst_port_entropy_bits",
    /// `ln(1 + commands / max(1, connects))` of the source in the bytes window.
    SrcCommandsPerSessionLog1p => "src_commands_per_session_log1p",
    /// `ln(1 + events in the event window / max(1, moving baseline))`.
    SrcEventsOverBaselineLog1p => "src_events_over_baseline_log1p",
    /// 1 when this event's destination port was new in the source's port window.
    SrcDstPortNew => "src_dst_port_new",
}

impl Column {
    /// The column's name.
    ///
    /// ```
    /// use vigil_features::Column;
    /// assert_eq!(Column::SrcFailedLoginsLog1p.name(), "src_failed_logins_window_log1p");
    /// ```
    pub fn name(self) -> &'static str {
        // The discriminants run 0..ALL.len() and NAMES is built from the same list.
        NAMES.get(self as usize).copied().unwrap_or("")
    }

    /// The column's index in the feature vector.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Names every column of the feature vector; a vector is `&[f64]` in this order.
///
/// ```
/// use vigil_features::{Column, FeatureSchema};
/// let schema = FeatureSchema::new();
/// assert_eq!(schema.names().len(), schema.dim());
/// assert_eq!(schema.index_of("src_tracked"), Some(Column::SrcTracked.index()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FeatureSchema;

impl FeatureSchema {
    /// The schema of this version of the crate.
    pub fn new() -> FeatureSchema {
        FeatureSchema
    }

    /// Column names, in vector order.
    pub fn names(&self) -> &[&'static str] {
        NAMES
    }

    /// Number of columns.
    pub fn dim(&self) -> usize {
        NAMES.len()
    }

    /// Index of the column called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        NAMES.iter().position(|n| *n == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_match_columns_and_are_unique() {
        let schema = FeatureSchema::new();
        assert_eq!(schema.names().len(), schema.dim());
        assert_eq!(Column::ALL.len(), schema.dim());
        for (i, c) in Column::ALL.iter().enumerate() {
            assert_eq!(c.index(), i);
            assert_eq!(schema.names()[i], c.name());
            assert_eq!(schema.index_of(c.name()), Some(i));
        }
        let unique: HashSet<&str> = schema.names().iter().copied().collect();
        assert_eq!(unique.len(), schema.dim());
        assert!(schema.names().iter().all(|n| {
            !n.is_empty()
                && n.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        }));
        assert_eq!(schema.index_of("no_such_column"), None);
    }
}
