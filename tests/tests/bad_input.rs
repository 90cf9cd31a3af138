//! Bad input through the real binary: each bad record is counted under a named reason and
//! skipped, and everything else in the input is still processed.

mod common;

use std::path::Path;

use common::{count, replay};

fn line(eventid: &str, src_ip: &str, extra: &str, ts: &str) -> String {
    format!(
        r#"{{"eventid":"{eventid}","src_ip":"{src_ip}","session":"a1","timestamp":"{ts}"{extra}}}"#
    )
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write input");
    path
}

#[test]
fn each_bad_record_is_counted_and_the_rest_processed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ts = "2026-03-01T10:00:00.000000Z";
    let good = line(
        "cowrie.session.connect",
        "203.0.113.9",
        r#","src_port":4242,"dst_ip":"10.0.0.2","dst_port":22"#,
        ts,
    );
    let mut text = Vec::new();
    let mut push = |bytes: &[u8]| {
        text.extend_from_slice(bytes);
        text.push(b'\n');
    };
    push(good.as_bytes());
    push(br#"{"eventid":"cowrie.login.failed","src_ip":"203.0.113.9""#); // malformed
    push(
        line(
            "cowrie.session.connect",
            "203.0.113.9",
            r#","dst_port":70000"#,
            ts,
        )
        .as_bytes(),
    ); // port > 65535
    push(line("cowrie.session.connect", "203.0.113.999", "", ts).as_bytes()); // bad IP
    push(
        line(
            "cowrie.session.connect",
            "203.0.113.9",
            "",
            "yesterday at noon",
        )
        .as_bytes(),
    ); // bad timestamp
    push(
        line(
            "cowrie.session.connect",
            "203.0.113.9",
            r#","src_port":"abc""#,
            ts,
        )
        .as_bytes(),
    ); // wrong type
    push(b"{\"eventid\":\"cowrie.command.input\",\"input\":\"\xff\xfe\"}"); // not UTF-8
    push(
        format!(
            r#"{{"eventid":"cowrie.command.input","input":"{}"}}"#,
            "A".repeat(2 << 20)
        )
        .as_bytes(),
    ); // too long
    push(good.as_bytes());
    push(b"");
    push(b"{\"eventid\":\"cowrie.log.closed\",\"src_ip\":\"203.0.113.9\",\"session\":\"a1\",\"timestamp\":\"2026-03-01T10:00:05Z\"}");
    text.extend_from_slice(br#"{"eventid":"cowrie.session.closed","src_ip":"203.0"#); // truncated last line
    let log = write(dir.path(), "cowrie.json", &text);
    let empty = write(dir.path(), "empty.json", b"");
    let binary = write(
        dir.path(),
        "binary.json",
        b"\x00\x01\x02ELF\x00\x00\x7f\x00garbage\n\x00\x00\n",
    );

    let summary = replay(
        &["--format", "cowrie", "--alerts-out", "/dev/null"],
        &[&log],
    );
    assert_eq!(
        count(&summary, "/events_parsed"),
        3,
        "two connects and a log.closed: {summary}"
    );
    for reason in [
        "malformed_json",
        "invalid_port",
        "invalid_ip",
        "invalid_timestamp",
        "wrong_field_type",
        "not_utf8",
        "line_too_long",
        "truncated_record",
    ] {
        assert_eq!(
            count(&summary, &format!("/events_rejected/{reason}")),
            1,
            "{reason}: {summary}"
        );
    }
    assert_eq!(count(&summary, "/events_read"), 11, "{summary}");

    let summary = replay(&["--alerts-out", "/dev/null"], &[&empty, &log]);
    assert_eq!(
        count(&summary, "/events_rejected/empty_input"),
        1,
        "{summary}"
    );
    assert_eq!(count(&summary, "/events_parsed"), 3, "{summary}");

    let summary = replay(&["--alerts-out", "/dev/null"], &[&binary, &log]);
    assert!(
        count(&summary, "/events_rejected/binary_data") >= 1,
        "{summary}"
    );
    assert_eq!(count(&summary, "/events_parsed"), 3, "{summary}");
}
