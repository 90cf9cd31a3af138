//! Handshake timing, inter-packet means and jitter on a capture built with known times.

use vigil_packets::synth::{self, PcapNgWriter, PcapWriter, TcpSpec};
use vigil_packets::{FlowConfig, FlowEnd, FlowEvents, flows_from_capture};
use vigil_sensors::{EventKind, Sensor, TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN, Transport};

const A: [u8; 4] = [192, 168, 1, 10];
const B: [u8; 4] = [192, 168, 1, 20];
const T0: i64 = 1_600_000_000_000_000_000;
const MS: i64 = 1_000_000;

/// (time in ms after T0, from A?, flags, seq, ack, payload bytes)
const SCRIPT: [(i64, bool, u8, u32, u32, u16); 8] = [
    (0, true, TCP_SYN, 1000, 0, 0),
    (4, false, TCP_SYN | TCP_ACK, 5000, 1001, 0),
    (10, true, TCP_ACK, 1001, 5001, 0),
    (28, false, TCP_PSH | TCP_ACK, 5001, 1001, 200),
    (40, true, TCP_PSH | TCP_ACK, 1001, 5201, 100),
    (50, true, TCP_FIN | TCP_ACK, 1101, 5201, 0),
    (60, false, TCP_FIN | TCP_ACK, 5201, 1102, 0),
    (80, true, TCP_ACK, 1102, 5202, 0),
];

fn packet(from_a: bool, flags: u8, seq: u32, ack: u32, payload: u16) -> Vec<u8> {
    let mut spec = if from_a {
        TcpSpec::new(A, 40_000, B, 22, flags)
    } else {
        TcpSpec::new(B, 22, A, 40_000, flags)
    };
    spec.seq = seq;
    spec.ack = ack;
    spec.payload_len = payload;
    spec.window = if from_a { 1000 } else { 2000 };
    spec.ttl = if from_a { 64 } else { 128 };
    synth::ethernet_ipv4_tcp(spec)
}

fn capture(nanos: bool) -> Vec<u8> {
    let mut w = PcapWriter::with_resolution(1, nanos);
    for (ms, from_a, flags, seq, ack, payload) in SCRIPT {
        w.record(T0 + ms * MS, &packet(from_a, flags, seq, ack, payload));
    }
    w.finish()
}

#[test]
fn handshake_times_means_and_jitter_are_exact() {
    for bytes in [capture(false), capture(true)] {
        let read = flows_from_capture(&bytes, "script.pcap", &FlowConfig::default()).unwrap();
        assert_eq!(read.flows.len(), 1, "{:?}", read.flows);
        let flow = &read.flows[0];
        let f = &flow.features;
        assert_eq!(flow.end, FlowEnd::Fin);
        assert_eq!(flow.dst_port, 22);
        assert_eq!(f.synack, 0.004);
        assert_eq!(f.ackdat, 0.006);
        assert_eq!(f.tcprtt, 0.01);
        // A sends at 0, 10, 40, 50, 80 ms: gaps 10, 30, 10, 30: mean 20, deviation 10.
        assert_eq!(f.sinpkt, 20.0);
        assert_eq!(f.sjit, 10.0);
        // B sends at 4, 28, 60 ms: gaps 24, 32: mean 28, deviation 4.
        assert_eq!(f.dinpkt, 28.0);
        assert_eq!(f.djit, 4.0);
        assert_eq!(f.dur, 0.08);
        assert_eq!((f.spkts, f.dpkts), (5, 3));
        assert_eq!((f.sbytes, f.dbytes), (300, 320));
        assert_eq!((f.smean, f.dmean), (60.0, 320.0 / 3.0));
        assert_eq!(f.rate, 7.0 / 0.08);
        assert_eq!(f.sload, 300.0 * 8.0 / 0.08);
        assert_eq!((f.sttl, f.dttl), (64, 128));
        assert_eq!((f.swin, f.dwin), (1000, 2000));
        assert_eq!((f.stcpb, f.dtcpb), (1000, 5000));
        assert_eq!((f.sloss, f.dloss), (0, 0));
        assert_eq!((f.state, f.service, f.proto), ("FIN", "ssh", "tcp"));
        assert_eq!(f.ct_src_ltm, 1);
    }
}

#[test]
fn the_same_flow_from_pcapng_gives_the_same_features() {
    let mut w = PcapNgWriter::new(1);
    for (ms, from_a, flags, seq, ack, payload) in SCRIPT {
        w.packet(T0 + ms * MS, &packet(from_a, flags, seq, ack, payload));
    }
    let ng = flows_from_capture(&w.finish(), "script.pcapng", &FlowConfig::default()).unwrap();
    let classic =
        flows_from_capture(&capture(true), "script.pcap", &FlowConfig::default()).unwrap();
    assert_eq!(ng.flows[0].features, classic.flows[0].features);
}

#[test]
fn a_flow_seen_from_its_syn_ack_is_oriented_to_the_client() {
    let mut w = PcapWriter::new(1);
    for (ms, from_a, flags, seq, ack, payload) in &SCRIPT[1..] {
        w.record(T0 + ms * MS, &packet(*from_a, *flags, *seq, *ack, *payload));
    }
    let read = flows_from_capture(&w.finish(), "mid.pcap", &FlowConfig::default()).unwrap();
    let flow = &read.flows[0];
    assert_eq!(flow.src.to_string(), "192.168.1.10");
    assert_eq!(flow.dst_port, 22);
    assert!(!flow.syn);
    assert_eq!(flow.features.synack, 0.0);
}

#[test]
fn retransmissions_count_as_loss() {
    let mut w = PcapWriter::new(1);
    let script: [(i64, bool, u8, u32, u16); 5] = [
        (0, true, TCP_SYN, 1000, 0),
        (1, false, TCP_SYN | TCP_ACK, 5000, 0),
        (2, true, TCP_ACK, 1001, 100),
        (3, true, TCP_ACK, 1001, 100),
        (4, true, TCP_ACK, 1101, 100),
    ];
    for (ms, from_a, flags, seq, payload) in script {
        w.record(T0 + ms * MS, &packet(from_a, flags, seq, 0, payload));
    }
    let read = flows_from_capture(&w.finish(), "loss.pcap", &FlowConfig::default()).unwrap();
    assert_eq!(read.flows[0].features.sloss, 1);
    assert_eq!(read.flows[0].end, FlowEnd::EndOfInput);
    assert_eq!(read.flows[0].features.state, "CON");
}

#[test]
fn idle_and_active_timeouts_split_flows() {
    let config = FlowConfig {
        flow_idle_secs: 1.0,
        flow_active_secs: 10.0,
        max_flows: 16,
    };
    let mut w = PcapWriter::new(101);
    let udp = synth::ipv4_udp(A, 5000, B, 53, 10);
    // 0 s, 0.5 s, then a 2 s gap (idle), then every 0.9 s for 12 s (active timeout at 10 s).
    let mut times = vec![0, 500];
    let mut t = 2_500;
    while t <= 14_500 {
        times.push(t);
        t += 900;
    }
    for ms in &times {
        w.record(T0 + ms * MS, &udp);
    }
    let read = flows_from_capture(&w.finish(), "udp.pcap", &config).unwrap();
    let ends: Vec<FlowEnd> = read.flows.iter().map(|f| f.end).collect();
    assert_eq!(
        ends,
        [
            FlowEnd::IdleTimeout,
            FlowEnd::ActiveTimeout,
            FlowEnd::EndOfInput
        ]
    );
    assert_eq!(read.flows[0].features.spkts, 2);
    assert!(read.flows[1].features.dur < 10.0 && read.flows[1].features.dur > 9.0);
    assert_eq!(
        read.flows.iter().map(|f| f.features.spkts).sum::<u64>(),
        times.len() as u64
    );
    assert!(
        read.flows
            .iter()
            .all(|f| f.features.state == "INT" && f.features.service == "dns")
    );
}

#[test]
fn events_carry_the_flow_like_a_flow_dataset_row() {
    let read = flows_from_capture(&capture(false), "script.pcap", &FlowConfig::default()).unwrap();
    let mut events = FlowEvents::new("sensor-1", "script.pcap");
    events.set_round(2);
    let e = events.event(&read.flows[0]);
    assert_eq!(e.kind, EventKind::Flow);
    assert_eq!(e.sensor, Sensor::Pcap);
    assert_eq!(e.transport, Some(Transport::Tcp));
    assert_eq!(e.app_proto.as_deref(), Some("ssh"));
    assert_eq!(e.raw_kind.as_deref(), Some("tcp|ssh|FIN"));
    assert_eq!(
        (e.bytes_out, e.bytes_in, e.packets_out, e.packets_in),
        (Some(300), Some(320), Some(5), Some(3))
    );
    assert_eq!(e.duration_secs, Some(0.08));
    assert_eq!(e.tcp_flags, Some(TCP_SYN | TCP_ACK | TCP_PSH | TCP_FIN));
    assert_eq!(e.event_time.timestamp_nanos_opt(), Some(T0 + 80 * MS));
    assert_eq!((e.origin.offset, e.origin.round), (24, 2));
    let names: Vec<&str> = events.numeric_columns().iter().map(|n| &**n).collect();
    let tcprtt = names.iter().position(|n| *n == "tcprtt").unwrap();
    assert_eq!(e.numeric[tcprtt], 0.01);
    assert_eq!(e.numeric.len(), names.len());
}
