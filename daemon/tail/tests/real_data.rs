//! The readers on the project's real sensor logs and datasets, against a plain split of the
//! same bytes.

mod common;

use std::fs;
use std::io::Write;
use std::path::Path;

use common::{Seen, lines_only, read_all, split_lines};
use flate2::Compression;
use flate2::write::GzEncoder;
use vigil_tail::{LineBatch, LineSource, StartCause, TailOptions, open_input};

fn open(spec: &str, options: &TailOptions) -> Box<dyn LineSource> {
    match open_input(spec, options) {
        Ok(source) => source,
        Err(error) => panic!("cannot open {spec}: {error}"),
    }
}

fn spec(path: &Path) -> &str {
    path.to_str().expect("data paths are UTF-8")
}

#[test]
fn nsl_kdd_crlf_without_final_newline() {
    let Some(path) = vigil_tests::shared_file("data/nsl-kdd/KDDTrain+_20Percent.txt") else {
        return;
    };
    let data = fs::read(&path).expect("read data");
    let seen = lines_only(&read_all(
        open(spec(&path), &TailOptions::default()).as_mut(),
        1024,
    ));
    // SOURCES.md: 25,192 rows, CRLF line ends, no final newline.
    assert_eq!(seen.len(), 25_192);
    assert_eq!(seen, split_lines(&data, 0));
    for (index, item) in seen.iter().enumerate() {
        let Seen::Line {
            bytes, terminated, ..
        } = item
        else {
            continue;
        };
        let last = index + 1 == seen.len();
        assert_eq!(*terminated, !last, "line {index}");
        // Only the unterminated last line lacks the `\r` of its CRLF.
        assert_eq!(bytes.ends_with(b"\r"), !last, "line {index}");
    }
}

#[test]
fn unsw_nb15_keeps_the_byte_order_mark_for_the_parser() {
    let Some(path) = vigil_tests::shared_file("data/unsw-nb15/UNSW_NB15_training-set.csv") else {
        return;
    };
    let data = fs::read(&path).expect("read data");
    let options = TailOptions {
        read_buffer_bytes: 64 << 10,
        ..TailOptions::default()
    };
    let seen = lines_only(&read_all(open(spec(&path), &options).as_mut(), 1024));
    // SOURCES.md: a header row and 82,332 rows.
    assert_eq!(seen.len(), 82_333);
    assert_eq!(seen, split_lines(&data, 0));
    let Some(Seen::Line { bytes, .. }) = seen.first() else {
        panic!("no header line");
    };
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBFid,"),
        "header starts with the BOM"
    );
}

#[test]
fn suricata_eve_without_final_newline() {
    let Some(path) = vigil_tests::shared_file("data/suricata/gtkcyber-workshop-eve.json") else {
        return;
    };
    let data = fs::read(&path).expect("read data");
    assert_ne!(data.last(), Some(&b'\n'), "SOURCES.md: no final newline");
    let seen = lines_only(&read_all(
        open(spec(&path), &TailOptions::default()).as_mut(),
        1024,
    ));
    assert_eq!(seen, split_lines(&data, 0));
    assert!(matches!(
        seen.last(),
        Some(Seen::Line {
            terminated: false,
            ..
        })
    ));
}

#[test]
fn dionaea_log_compressed_reads_like_the_plain_file() {
    let Some(path) = vigil_tests::shared_file("data/dionaea/tpet-2022-dionaea.json.4") else {
        return;
    };
    let data = fs::read(&path).expect("read data");
    let dir = tempfile::tempdir().expect("tempdir");
    let gz = dir.path().join("dionaea.json.4.gz");
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(&data).expect("compress");
    fs::write(&gz, encoder.finish().expect("compress")).expect("write");
    let seen = lines_only(&read_all(
        open(spec(&gz), &TailOptions::default()).as_mut(),
        500,
    ));
    // SOURCES.md: 7,435 events, one per line.
    assert_eq!(seen.len(), 7_435);
    assert_eq!(seen, split_lines(&data, 0));
}

#[test]
fn cowrie_resumes_from_any_checkpoint_without_repeats_or_gaps() {
    let Some(path) = vigil_tests::shared_file("data/cowrie/seed-tpot-cowrie.json") else {
        return;
    };
    let data = fs::read(&path).expect("read data");
    let expected = split_lines(&data, 0);
    let options = TailOptions {
        read_buffer_bytes: 8 << 10,
        ..TailOptions::default()
    };
    for checkpoint_after in [1usize, 7, 50, 333] {
        let mut source = open(spec(&path), &options);
        let mut batch = LineBatch::new();
        let mut seen = Vec::new();
        for _ in 0..checkpoint_after {
            let status = source.read_batch(17, &mut batch).expect("read");
            common::record(&status, &batch, &mut seen);
        }
        let position = source.position();
        let resumed = TailOptions {
            start_offset: position.offset,
            ..options.clone()
        };
        let mut all = lines_only(&seen);
        all.extend(lines_only(&read_all(
            open(spec(&path), &resumed).as_mut(),
            17,
        )));
        assert_eq!(all, expected, "checkpoint after {checkpoint_after} batches");
    }
}

#[test]
fn a_glob_over_a_rotated_cowrie_log_reads_each_file_in_name_order() {
    let Some(current) = vigil_tests::shared_file("data/cowrie/scriptzteam-2017/cowrie.json") else {
        return;
    };
    let Some(rotated) =
        vigil_tests::shared_file("data/cowrie/scriptzteam-2017/cowrie.json.2017_11_4")
    else {
        return;
    };
    let Some(dir) = current.parent() else {
        panic!("data file without a folder");
    };
    let pattern = format!("{}/cowrie.json*", spec(dir));
    let seen = read_all(open(&pattern, &TailOptions::default()).as_mut(), 1024);
    let mut expected = Vec::new();
    for file in [&current, &rotated] {
        let name = spec(file).to_string();
        expected.push(Seen::Started(name.clone(), StartCause::Opened));
        expected.extend(split_lines(&fs::read(file).expect("read data"), 0));
        expected.push(Seen::Ended(name));
    }
    assert_eq!(seen, expected);
}
