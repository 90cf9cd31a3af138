//! Per-event columns of hand-built events, checked against values worked out by hand.

mod common;

use std::sync::Arc;

use common::event;
use vigil_features::{Column, FeatureConfig, FeatureExtractor};
use vigil_sensors::{Direction, EventKind, TCP_ACK, TCP_RST, TCP_SYN, Transport};

/// 2024-03-15 (a Friday) 13:30:00 UTC, in microseconds.
const FRIDAY_1330: i64 = 1_710_509_400_000_000;

fn columns(config: FeatureConfig, e: &vigil_sensors::Event) -> Vec<f64> {
    let mut fx = FeatureExtractor::new(config).unwrap_or_else(|err| panic!("{err}"));
    let mut row = vec![f64::NAN; fx.dim()];
    fx.extract(e, &mut row)
        .unwrap_or_else(|err| panic!("{err}"));
    row
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn a_full_flow_gives_the_worked_out_values() {
    let mut e = event(FRIDAY_1330, Some("10.1.2.3"), EventKind::Flow);
    e.dst_ip = "192.168.1.10".parse().ok();
    e.dst_port = Some(445);
    e.transport = Some(Transport::Tcp);
    e.app_proto = Some(Arc::from("smbd"));
    e.bytes_out = Some(300);
    e.bytes_in = Some(100);
    e.packets_out = Some(3);
    e.packets_in = Some(1);
    e.duration_secs = Some(2.0);
    e.tcp_flags = Some(TCP_SYN | TCP_ACK | TCP_RST);
    let row = columns(FeatureConfig::default(), &e);
    let c = |col: Column| row[col.index()];

    assert!(close(c(Column::BytesOutLog1p), 301f64.ln()));
    assert!(close(c(Column::BytesInLog1p), 101f64.ln()));
    assert_eq!(c(Column::BytesMissing), 0.0);
    assert!(close(c(Column::PacketsOutLog1p), 4f64.ln()));
    assert!(close(c(Column::PacketsInLog1p), 2f64.ln()));
    assert!(close(c(Column::DurationLog1p), 3f64.ln()));
    assert_eq!(c(Column::DurationMissing), 0.0);
    assert!(close(c(Column::BytesPerSecLog1p), 201f64.ln()));
    assert!(close(c(Column::PacketsPerSecLog1p), 3f64.ln()));
    assert!(close(c(Column::BytesPerPacketLog1p), 101f64.ln()));
    assert!(close(c(Column::ByteRatioOut), 0.75));
    assert!(close(c(Column::PacketRatioOut), 0.75));

    // 13:30 is 13.5 / 24 of a turn.
    let angle = std::f64::consts::TAU * 13.5 / 24.0;
    assert!(close(c(Column::HourSin), angle.sin()));
    assert!(close(c(Column::HourCos), angle.cos()));
    assert!(close(c(Column::Weekday), 4.0 / 6.0));
    assert_eq!(c(Column::Weekend), 0.0);
    assert_eq!(c(Column::BusinessHours), 1.0);

    let flags: Vec<f64> = [
        Column::TcpFin,
        Column::TcpSyn,
        Column::TcpRst,
        Column::TcpPsh,
        Column::TcpAck,
        Column::TcpUrg,
        Column::TcpFlagsMissing,
    ]
    .iter()
    .map(|col| c(*col))
    .collect();
    assert_eq!(flags, vec![0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0]);

    assert_eq!(
        (
            c(Column::SrcPrivate),
            c(Column::DstPrivate),
            c(Column::Internal)
        ),
        (1.0, 1.0, 1.0)
    );
    assert_eq!(
        (
            c(Column::DstPortCommon),
            c(Column::DstPortWellKnown),
            c(Column::DstPortMissing)
        ),
        (1.0, 1.0, 0.0)
    );
    assert_eq!(c(Column::TransportTcp), 1.0);
    assert_eq!(c(Column::ProtoSmb), 1.0);
    assert_eq!(c(Column::KindFlow), 1.0);
    // Exactly one transport, one protocol and one kind column set.
    let ones = |prefix: &str| {
        Column::ALL
            .iter()
            .filter(|col| col.name().starts_with(prefix) && c(**col) == 1.0)
            .count()
    };
    assert_eq!(
        (ones("transport_"), ones("proto_"), ones("kind_")),
        (1, 1, 1)
    );

    // The first event of its source: one event, one port, one address, 400 mean bytes.
    assert_eq!(c(Column::SrcTracked), 1.0);
    assert!(close(c(Column::SrcEventsLog1p), 2f64.ln()));
    assert!(close(c(Column::SrcDistinctDstPortsLog1p), 2f64.ln()));
    assert!(close(c(Column::SrcDistinctDstIpsLog1p), 2f64.ln()));
    assert!(close(c(Column::SrcMeanBytesLog1p), 401f64.ln()));
    assert_eq!(c(Column::SrcDstPortNew), 1.0);
    assert_eq!(c(Column::SrcDstPortEntropy), 0.0);
    // Seeded baseline 1: one event is once the baseline.
    assert!(close(c(Column::SrcEventsOverBaselineLog1p), 2f64.ln()));
}

#[test]
fn missing_values_get_the_documented_fills() {
    let e = event(FRIDAY_1330, Some("203.0.113.9"), EventKind::Other);
    let row = columns(FeatureConfig::default(), &e);
    let c = |col: Column| row[col.index()];
    assert!(row.iter().all(|v| v.is_finite()));
    for col in [
        Column::BytesMissing,
        Column::PacketsMissing,
        Column::DurationMissing,
        Column::TcpFlagsMissing,
        Column::DstPortMissing,
        Column::KindOther,
    ] {
        assert_eq!(c(col), 1.0, "{}", col.name());
    }
    for col in [
        Column::BytesOutLog1p,
        Column::DurationLog1p,
        Column::BytesPerSecLog1p,
        Column::BytesPerPacketLog1p,
        Column::TcpSyn,
        Column::SrcPrivate,
        Column::DstPrivate,
        Column::Internal,
        Column::DstPortCommon,
        Column::TransportTcp,
        Column::TransportOther,
        Column::ProtoOther,
        Column::SrcMeanBytesLog1p,
    ] {
        assert_eq!(c(col), 0.0, "{}", col.name());
    }
    assert_eq!(
        (c(Column::ByteRatioOut), c(Column::PacketRatioOut)),
        (0.5, 0.5)
    );
}

#[test]
fn calendar_follows_the_configured_utc_offset() {
    // Friday 13:30 UTC is Saturday 00:30 at UTC+11.
    let e = event(FRIDAY_1330, None, EventKind::Connect);
    let config = FeatureConfig {
        utc_offset_minutes: 660,
        ..FeatureConfig::default()
    };
    let row = columns(config, &e);
    let c = |col: Column| row[col.index()];
    assert!(close(c(Column::Weekday), 5.0 / 6.0));
    assert_eq!((c(Column::Weekend), c(Column::BusinessHours)), (1.0, 0.0));
    let angle = std::f64::consts::TAU * 0.5 / 24.0;
    assert!(close(c(Column::HourSin), angle.sin()));
}

#[test]
fn odd_values_stay_finite_and_flags_come_from_the_sensor_direction() {
    let mut e = event(-86_400_000_000, Some("8.8.8.8"), EventKind::Command);
    e.dst_ip = "2001:db8::1".parse().ok();
    e.direction = Some(Direction::Internal);
    e.duration_secs = Some(f64::NAN);
    e.bytes_out = Some(u64::MAX);
    e.packets_in = Some(0);
    e.dst_port = Some(50_000);
    e.transport = Some(Transport::Other);
    e.app_proto = Some(Arc::from("mongod"));
    let row = columns(
        FeatureConfig {
            common_ports: vec![50_000],
            ..FeatureConfig::default()
        },
        &e,
    );
    let c = |col: Column| row[col.index()];
    assert!(row.iter().all(|v| v.is_finite()));
    assert_eq!(c(Column::DurationMissing), 1.0);
    assert_eq!(c(Column::Internal), 1.0);
    assert_eq!((c(Column::SrcPrivate), c(Column::DstPrivate)), (0.0, 0.0));
    assert_eq!(
        (c(Column::DstPortCommon), c(Column::DstPortWellKnown)),
        (1.0, 0.0)
    );
    assert_eq!(
        (c(Column::TransportOther), c(Column::ProtoOther)),
        (1.0, 1.0)
    );
    assert!(close(c(Column::ByteRatioOut), 1.0));
    // 1969-12-31 was a Wednesday.
    assert!(close(c(Column::Weekday), 2.0 / 6.0));
}
