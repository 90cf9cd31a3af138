//! Every shared capture: read without damage, packet counts equal to an independent walk
//! of the file (and to SOURCES.md), flow totals conserved, and the scan / brute-force
//! shapes the daemon's rules will look for.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use vigil_packets::{
    CaptureReader, CaptureStream, Container, FlowConfig, FlowEvents, flows_from_capture,
};

/// Every shared capture and its packet count as SOURCES.md gives it.
const CAPTURES: [(&str, u64); 9] = [
    (
        "axr00t-research/hydra_brute_force_get_success_106_attempts.pcap",
        2_807,
    ),
    ("axr00t-research/ssh-brute-force.pcap", 21_070),
    ("axr00t-research/ssh_brute_force.pcap", 672),
    ("esnet-curated/nmap_80_all.pcap", 431),
    ("esnet-curated/nmap_80_vanilla.pcap", 11),
    ("esnet-curated/nmap_80_w_service_detection.pcap", 154),
    ("esnet-curated/tcp_0_1000_20190821.pcap", 1_005),
    ("esnet-curated/udp_0_1000_20190821.pcap", 1_001),
    ("chrissanders/http_google.pcapng", 12),
];

fn load(rel: &str) -> Option<Vec<u8>> {
    let path = vigil_tests::shared_file(&format!("data/pcap/{rel}"))?;
    Some(std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// Counts packet records without the crate: classic pcap records (16-byte header + captured
/// length, either byte order), or pcapng enhanced / simple / obsolete packet blocks.
fn independent_count(bytes: &[u8]) -> u64 {
    let le32 = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    let be32 = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    if le32(0) == 0x0A0D_0D0A {
        let big = le32(8) != 0x1A2B_3C4D;
        let rd = |at: usize| if big { be32(at) } else { le32(at) };
        let (mut at, mut n) = (0usize, 0u64);
        while at + 12 <= bytes.len() {
            let (kind, len) = (rd(at), rd(at + 4) as usize);
            assert!(len >= 12 && at + len <= bytes.len(), "block at {at}");
            n += u64::from(matches!(kind, 2 | 3 | 6));
            at += len;
        }
        assert_eq!(at, bytes.len());
        n
    } else {
        let big = match le32(0) {
            0xA1B2_C3D4 | 0xA1B2_3C4D => false,
            0xD4C3_B2A1 | 0x4D3C_B2A1 => true,
            m => panic!("magic {m:#x}"),
        };
        let rd = |at: usize| if big { be32(at) } else { le32(at) };
        let (mut at, mut n) = (24usize, 0u64);
        while at + 16 <= bytes.len() {
            at += 16 + rd(at + 8) as usize;
            n += 1;
        }
        assert_eq!(at, bytes.len(), "no truncated tail in the shared files");
        n
    }
}

#[test]
fn every_shared_capture_reads_whole_with_independent_counts() {
    for (rel, expected) in CAPTURES {
        let Some(bytes) = load(rel) else { return };
        let independent = independent_count(&bytes);
        assert_eq!(independent, expected, "{rel}: SOURCES.md count");

        let mut reader = CaptureReader::new(&bytes, rel);
        while reader
            .next_packet()
            .unwrap_or_else(|e| panic!("{e}"))
            .is_some()
        {}
        let stats = reader.stats().clone();
        assert_eq!(stats.records, independent, "{rel}: records");
        assert_eq!(stats.damaged(), 0, "{rel}: {:?}", stats.skipped_by_reason());
        assert_eq!(stats.records, stats.ip_packets + stats.skipped(), "{rel}");
        assert!(stats.ip_packets > 0, "{rel}: no IP packet");

        // The streaming reader, fed in small reads, agrees.
        let mut stream = CaptureStream::new(std::io::BufReader::with_capacity(7, &bytes[..]), rel);
        while stream
            .next_packet()
            .unwrap_or_else(|e| panic!("{e}"))
            .is_some()
        {}
        assert_eq!(stream.stats(), &stats, "{rel}: stream");
    }
}

#[test]
fn the_raw_ip_capture_is_linktype_101_and_fully_ip() {
    let rel = CAPTURES[0].0;
    let Some(bytes) = load(rel) else { return };
    let mut reader = CaptureReader::new(&bytes, rel);
    while reader.next_packet().unwrap().is_some() {}
    assert_eq!(
        reader.container(),
        Some(Container::Pcap {
            big_endian: false,
            nanos: false,
            linktype: 101
        })
    );
    assert_eq!(reader.stats().ip_packets, 2_807);
}

#[test]
fn flow_totals_equal_the_ip_packets_read() {
    for (rel, _) in CAPTURES {
        let Some(bytes) = load(rel) else { return };
        let read = flows_from_capture(&bytes, rel, &FlowConfig::default()).unwrap();
        let packets: u64 = read
            .flows
            .iter()
            .map(|f| f.features.spkts + f.features.dpkts)
            .sum();
        let bytes_sum: u64 = read
            .flows
            .iter()
            .map(|f| f.features.sbytes + f.features.dbytes)
            .sum();
        assert_eq!(packets, read.read.ip_packets, "{rel}: packets");
        assert_eq!(bytes_sum, read.read.ip_bytes, "{rel}: bytes");
        assert_eq!(read.tracker.packets, read.read.ip_packets, "{rel}");
        assert_eq!(
            read.tracker.emitted_total(),
            read.flows.len() as u64,
            "{rel}"
        );
        assert_eq!(read.tracker.active, 0, "{rel}");
        // Each flow starts at a distinct packet record.
        let offsets: BTreeSet<u64> = read.flows.iter().map(|f| f.first_offset).collect();
        assert_eq!(offsets.len(), read.flows.len(), "{rel}: origins");
    }
}

#[test]
fn a_tiny_table_evicts_and_still_conserves() {
    let rel = CAPTURES[1].0;
    let Some(bytes) = load(rel) else { return };
    let config = FlowConfig {
        max_flows: 3,
        ..FlowConfig::default()
    };
    let read = flows_from_capture(&bytes, rel, &config).unwrap();
    assert!(read.tracker.evicted() > 0);
    let packets: u64 = read
        .flows
        .iter()
        .map(|f| f.features.spkts + f.features.dpkts)
        .sum();
    assert_eq!(packets, read.read.ip_packets);
}

#[test]
fn the_masscan_capture_shows_one_source_on_1001_ports() {
    let rel = "esnet-curated/tcp_0_1000_20190821.pcap";
    let Some(bytes) = load(rel) else { return };
    let read = flows_from_capture(&bytes, rel, &FlowConfig::default()).unwrap();
    let mut ports: BTreeMap<IpAddr, BTreeSet<u16>> = BTreeMap::new();
    for f in &read.flows {
        ports.entry(f.src).or_default().insert(f.dst_port);
    }
    let (scanner, most) = ports.iter().max_by_key(|(_, p)| p.len()).unwrap();
    assert_eq!(most.len(), 1_001, "scanner {scanner}");
    assert_eq!(most.iter().copied().min(), Some(0));
    assert_eq!(most.iter().copied().max(), Some(1_000));
    assert_eq!(
        ports.values().filter(|p| p.len() > 1).count(),
        1,
        "{ports:?}"
    );
    // The events say the same: one source, 1,001 destination ports.
    let mut events = FlowEvents::new("lab", rel);
    let scan: BTreeSet<u16> = read
        .flows
        .iter()
        .map(|f| events.event(f))
        .filter(|e| e.src_ip == Some(*scanner))
        .filter_map(|e| e.dst_port)
        .collect();
    assert_eq!(scan.len(), 1_001);
}

#[test]
fn the_ssh_brute_force_shows_844_attempts_from_one_source() {
    let rel = "axr00t-research/ssh-brute-force.pcap";
    let Some(bytes) = load(rel) else { return };
    let read = flows_from_capture(&bytes, rel, &FlowConfig::default()).unwrap();
    let attacker: IpAddr = "192.168.0.146".parse().unwrap();
    let target: IpAddr = "192.168.0.197".parse().unwrap();
    let attempts: Vec<_> = read
        .flows
        .iter()
        .filter(|f| f.syn && f.src == attacker && f.dst_port == 22)
        .collect();
    assert_eq!(attempts.len(), 844);
    assert!(
        attempts
            .iter()
            .all(|f| f.dst == target && f.features.service == "ssh")
    );
    // Most are short, whole connections whose handshake was timed.
    let timed = attempts.iter().filter(|f| f.features.tcprtt > 0.0).count();
    assert!(timed > 800, "{timed}");
    let mut events = FlowEvents::new("lab", rel);
    let e = events.event(attempts[0]);
    assert_eq!(e.app_proto.as_deref(), Some("ssh"));
    assert_eq!(e.numeric.len(), events.numeric_columns().len());
}
