//! Live capture on the loopback interface: a TCP exchange this test makes itself is seen
//! whole, packet for packet, and becomes one flow whose byte counts match the packets.
//!
//! Capturing needs CAP_NET_RAW. Without it the tests say so and pass, except under `CI`
//! (which runs as root), where they fail naming the missing right.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use vigil_capture::{LiveCapture, LiveError, LiveOptions, check_filter};
use vigil_packets::capture::{LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2};
use vigil_packets::{FlowConfig, FlowEnd, FlowTracker, decode};

/// Opens a capture on `lo` for `filter`; `None` (after saying why) when this process may
/// not capture and `CI` is unset.
fn open_loopback(filter: &str) -> Option<LiveCapture> {
    open_interface("lo", filter)
}

/// Opens a capture on `interface` for `filter`, as [`open_loopback`].
fn open_interface(interface: &str, filter: &str) -> Option<LiveCapture> {
    let mut options = LiveOptions::new(interface);
    options.filter = Some(filter.to_string());
    // Promiscuous, as by default: `any` must take it too.
    options.promiscuous = true;
    match LiveCapture::open(&options) {
        Ok(capture) => Some(capture),
        Err(error @ LiveError::PermissionDenied { .. }) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but this process may not capture: {error}"
            );
            eprintln!("skipped: {error}");
            None
        }
        Err(error) => panic!("cannot capture on {interface}: {error}"),
    }
}

/// One captured frame, copied out: its direction and the IP and TCP payload lengths read
/// straight from its headers.
struct Seen {
    from_client: bool,
    ip_len: u64,
    payload: u64,
    flags: u8,
}

/// Reads IPv4 + TCP lengths from a frame of `linktype`: Ethernet (loopback on Linux is
/// Ethernet-framed) or Linux cooked capture (the `any` interface).
fn seen(linktype: u16, data: &[u8], client_port: u16) -> Seen {
    let link_header = match linktype {
        LINKTYPE_ETHERNET => 14,
        LINKTYPE_LINUX_SLL => 16,
        LINKTYPE_LINUX_SLL2 => 20,
        other => panic!("unexpected link type {other}"),
    };
    let ip = &data[link_header..];
    assert_eq!(ip[0] >> 4, 4, "IPv4 on 127.0.0.1");
    let ihl = u64::from(ip[0] & 0x0f) * 4;
    let ip_len = u64::from(u16::from_be_bytes([ip[2], ip[3]]));
    let tcp = &ip[usize::try_from(ihl).unwrap()..];
    let sport = u16::from_be_bytes([tcp[0], tcp[1]]);
    let thl = u64::from(tcp[12] >> 4) * 4;
    Seen {
        from_client: sport == client_port,
        ip_len,
        payload: ip_len - ihl - thl,
        flags: tcp[13],
    }
}

#[test]
fn a_local_tcp_exchange_is_captured_whole_and_becomes_one_flow() {
    exchange_becomes_one_flow("lo", &[LINKTYPE_ETHERNET]);
}

#[test]
fn the_any_interface_sees_it_once_through_linux_cooked_capture() {
    exchange_becomes_one_flow("any", &[LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2]);
}

/// Makes a TCP exchange on 127.0.0.1 while capturing on `interface` (whose link type must
/// be one of `linktypes`) and checks the one flow it becomes against the frames themselves.
fn exchange_becomes_one_flow(interface: &str, linktypes: &[u16]) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a listener");
    let port = listener.local_addr().unwrap().port();
    let Some(mut capture) = open_interface(interface, &format!("tcp port {port}")) else {
        return;
    };
    assert!(
        linktypes.contains(&capture.linktype()),
        "{}",
        capture.linktype()
    );

    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let mut request = [0u8; 5];
        stream.read_exact(&mut request).expect("read the request");
        stream.write_all(b"world!").expect("answer");
        let mut rest = Vec::new();
        stream
            .read_to_end(&mut rest)
            .expect("read to the client's FIN");
        assert!(rest.is_empty());
    });
    let mut client = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let client_port = client.local_addr().unwrap().port();
    client.write_all(b"hello").expect("send");
    let mut answer = [0u8; 6];
    client.read_exact(&mut answer).expect("read the answer");
    client
        .shutdown(std::net::Shutdown::Write)
        .expect("send FIN");
    server.join().expect("server thread");
    let mut rest = Vec::new();
    client
        .read_to_end(&mut rest)
        .expect("read to the server's FIN");
    drop(client);

    // Frames go to the tracker as they arrive until it emits the flow (after the last
    // ACK of the FIN exchange), each one also measured from its own headers.
    let mut tracker = FlowTracker::new(FlowConfig::default()).expect("flow config");
    let mut flows = Vec::new();
    let mut frames = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while flows.is_empty() && Instant::now() < deadline {
        match capture.next_frame().expect("read the capture") {
            Some(frame) => {
                frames.push(seen(frame.linktype, frame.data, client_port));
                let packet = decode(&frame).expect("a TCP/IPv4 packet");
                tracker.push(&packet, &mut flows);
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    assert_eq!(
        flows.len(),
        1,
        "one flow within 10 s; frames seen: {}",
        frames.len()
    );
    let flow = &flows[0];
    assert_eq!(flow.end, FlowEnd::Fin);
    assert_eq!(
        (flow.src_port, flow.dst_port, flow.proto),
        (client_port, port, 6)
    );
    assert_eq!(flow.src.to_string(), "127.0.0.1");
    let f = &flow.features;
    assert_eq!(f.state, "FIN");

    let side = |client: bool| frames.iter().filter(move |s| s.from_client == client);
    assert_eq!(f.spkts, side(true).count() as u64);
    assert_eq!(f.dpkts, side(false).count() as u64);
    assert_eq!(f.sbytes, side(true).map(|s| s.ip_len).sum::<u64>());
    assert_eq!(f.dbytes, side(false).map(|s| s.ip_len).sum::<u64>());
    // Every byte of the exchange was captured: 5 bytes asked, 6 answered.
    assert_eq!(side(true).map(|s| s.payload).sum::<u64>(), 5);
    assert_eq!(side(false).map(|s| s.payload).sum::<u64>(), 6);
    // The handshake and both FINs are there.
    assert_eq!(frames[0].flags & 0x12, 0x02, "the first frame is the SYN");
    assert_eq!(frames[1].flags & 0x12, 0x12, "the second is the SYN-ACK");
    assert!(side(true).any(|s| s.flags & 0x01 != 0) && side(false).any(|s| s.flags & 0x01 != 0));
    assert!(f.synack > 0.0 && f.ackdat > 0.0, "handshake timed: {f:?}");
    assert!((f.tcprtt - (f.synack + f.ackdat)).abs() < 1e-12);
    assert!(f.dur > 0.0 && f.dur < 10.0);

    let counters = capture.counters().expect("capture statistics");
    assert_eq!(counters.dropped, 0);
}

#[test]
fn nothing_waiting_reads_as_none_without_blocking() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a listener");
    let port = listener.local_addr().unwrap().port();
    let Some(mut capture) = open_loopback(&format!("tcp port {port}")) else {
        return;
    };
    let started = Instant::now();
    assert!(capture.next_frame().expect("read").is_none());
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn an_unknown_interface_is_refused_by_name_with_the_ones_there_are() {
    let options = LiveOptions::new("vigil-no-such0");
    match LiveCapture::open(&options) {
        Err(LiveError::NoSuchInterface {
            interface,
            available,
        }) => {
            assert_eq!(interface, "vigil-no-such0");
            assert!(
                available.split(", ").any(|name| name == "lo"),
                "{available}"
            );
        }
        Err(error @ LiveError::PermissionDenied { .. }) if std::env::var_os("CI").is_none() => {
            eprintln!("skipped: {error}");
        }
        other => panic!("expected NoSuchInterface, got {other:?}"),
    }
}

#[test]
fn a_bad_filter_is_refused_naming_it_before_and_after_opening() {
    let error = check_filter("lo", "tcp port ninety").unwrap_err();
    assert!(matches!(error, LiveError::BadFilter { .. }), "{error:?}");
    assert!(error.to_string().contains("\"tcp port ninety\""), "{error}");
    assert!(check_filter("lo", "tcp[tcpflags] & tcp-syn != 0 and not port 22").is_ok());

    let mut options = LiveOptions::new("lo");
    options.filter = Some("tcp port ninety".to_string());
    match LiveCapture::open(&options) {
        Err(LiveError::BadFilter { filter, .. }) => assert_eq!(filter, "tcp port ninety"),
        Err(error @ LiveError::PermissionDenied { .. }) if std::env::var_os("CI").is_none() => {
            eprintln!("skipped: {error}");
        }
        other => panic!("expected BadFilter, got {other:?}"),
    }
}

#[test]
fn permission_denied_names_the_capability_and_how_to_grant_it() {
    let error = LiveError::PermissionDenied {
        interface: "eth0".to_string(),
        detail: "socket: Operation not permitted".to_string(),
    };
    let text = error.to_string();
    for needle in ["\"eth0\"", "CAP_NET_RAW", "setcap", "AmbientCapabilities"] {
        assert!(text.contains(needle), "{needle} missing from: {text}");
    }
}
