//! Inputs read once: plain files, gzip, globs, streams.

mod common;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use common::{Seen, line, lines_only, read_all, split_lines};
use flate2::Compression;
use flate2::write::GzEncoder;
use vigil_tail::{
    LineBatch, LineSource, ReadStatus, StartCause, TailError, TailOptions, open_input, open_reader,
};

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

fn open(path: &Path, options: &TailOptions) -> Box<dyn LineSource> {
    match open_input(path_str(path), options) {
        Ok(source) => source,
        Err(error) => panic!("cannot open {}: {error}", path.display()),
    }
}

fn write(path: &Path, data: &[u8]) {
    fs::write(path, data).expect("write test file");
}

#[test]
fn offsets_are_exact_and_a_last_line_without_newline_is_unterminated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.log");
    write(&path, b"alpha\n\nbeta gamma\nlast");
    let seen = read_all(open(&path, &TailOptions::default()).as_mut(), 1024);
    let name = path_str(&path).to_string();
    assert_eq!(
        seen,
        vec![
            Seen::Started(name.clone(), StartCause::Opened),
            line(b"alpha", 0),
            line(b"", 6),
            line(b"beta gamma", 7),
            Seen::Line {
                bytes: b"last".to_vec(),
                offset: 18,
                terminated: false,
                too_long: None
            },
            Seen::Ended(name),
        ]
    );
}

#[test]
fn crlf_line_ends_keep_their_carriage_return() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("crlf.csv");
    write(&path, b"a,b\r\n1,2\r\n");
    let seen = lines_only(&read_all(
        open(&path, &TailOptions::default()).as_mut(),
        1024,
    ));
    assert_eq!(seen, vec![line(b"a,b\r", 0), line(b"1,2\r", 5)]);
}

#[test]
fn an_empty_file_starts_and_ends_without_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("empty.log");
    write(&path, b"");
    let mut source = open(&path, &TailOptions::default());
    let seen = read_all(source.as_mut(), 1024);
    let name = path_str(&path).to_string();
    assert_eq!(
        seen,
        vec![
            Seen::Started(name.clone(), StartCause::Opened),
            Seen::Ended(name)
        ]
    );
    assert_eq!(source.position().offset, 0);
    let mut batch = LineBatch::new();
    assert_eq!(
        source.read_batch(10, &mut batch).ok(),
        Some(ReadStatus::Finished),
        "finished stays finished"
    );
}

#[test]
fn max_lines_bounds_every_batch_and_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("many.log");
    let data: Vec<u8> = (0..1000)
        .flat_map(|index| format!("line number {index}\n").into_bytes())
        .collect();
    write(&path, &data);
    let options = TailOptions {
        read_buffer_bytes: 1000,
        ..TailOptions::default()
    };
    let mut source = open(&path, &options);
    let mut batch = LineBatch::new();
    let mut seen = Vec::new();
    loop {
        let status = source.read_batch(7, &mut batch).expect("read");
        assert!(batch.len() <= 7, "batch of {} lines", batch.len());
        common::record(&status, &batch, &mut seen);
        if status == ReadStatus::Finished {
            break;
        }
    }
    assert_eq!(lines_only(&seen), split_lines(&data, 0));
}

#[test]
fn resuming_at_a_position_repeats_no_line_and_skips_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("resume.log");
    let data: Vec<u8> = (0..500)
        .flat_map(|index| format!("{{\"n\":{index}}}\n").into_bytes())
        .collect();
    write(&path, &data);
    let expected = split_lines(&data, 0);
    let small = TailOptions {
        read_buffer_bytes: 256,
        ..TailOptions::default()
    };
    for stop_after in [1usize, 2, 5, 17, 40] {
        // Read a few batches, then "crash" and resume from the position.
        let mut first = open(&path, &small);
        let mut batch = LineBatch::new();
        let mut seen = Vec::new();
        for _ in 0..stop_after {
            let status = first.read_batch(13, &mut batch).expect("read");
            common::record(&status, &batch, &mut seen);
        }
        let position = first.position();
        assert_eq!(&*position.path, path_str(&path));
        let resumed = TailOptions {
            start_offset: position.offset,
            ..small.clone()
        };
        let rest = read_all(open(&path, &resumed).as_mut(), 13);
        let mut all = lines_only(&seen);
        all.extend(lines_only(&rest));
        assert_eq!(all, expected, "stopped after {stop_after} batches");
    }
}

#[test]
fn a_start_offset_past_the_end_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("short.log");
    write(&path, b"one\n");
    let options = TailOptions {
        start_offset: 100,
        ..TailOptions::default()
    };
    match open_input(path_str(&path), &options) {
        Err(error @ TailError::StartBeyondEnd { .. }) => {
            let message = error.to_string();
            assert!(message.contains(path_str(&path)), "{message}");
            assert!(message.contains("100"), "{message}");
        }
        Err(error) => panic!("unexpected error {error}"),
        Ok(_) => panic!("resuming past the end must fail"),
    }
}

#[test]
fn a_too_long_line_is_reported_and_the_following_lines_are_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("long.log");
    let long = vec![b'x'; 10_000];
    let mut data = b"short one\n".to_vec();
    data.extend_from_slice(&long);
    data.extend_from_slice(b"\nafter\nexactly ten\nunder\n");
    write(&path, &data);
    // A read buffer far smaller than the long line: it must be skipped across many reads.
    for read_buffer_bytes in [64usize, 4096, 1 << 20] {
        let options = TailOptions {
            max_line_bytes: 11,
            read_buffer_bytes,
            ..TailOptions::default()
        };
        let seen = lines_only(&read_all(open(&path, &options).as_mut(), 1024));
        assert_eq!(
            seen,
            vec![
                line(b"short one", 0),
                Seen::Line {
                    bytes: Vec::new(),
                    offset: 10,
                    terminated: true,
                    too_long: Some(10_000),
                },
                line(b"after", 10_011),
                // Exactly at the limit is not too long.
                line(b"exactly ten", 10_017),
                line(b"under", 10_029),
            ],
            "read buffer {read_buffer_bytes}"
        );
    }
}

#[test]
fn a_too_long_last_line_without_newline_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("long-tail.log");
    let mut data = b"ok\n".to_vec();
    data.extend(std::iter::repeat_n(b'y', 5000));
    write(&path, &data);
    let options = TailOptions {
        max_line_bytes: 100,
        read_buffer_bytes: 128,
        ..TailOptions::default()
    };
    let seen = lines_only(&read_all(open(&path, &options).as_mut(), 1024));
    assert_eq!(
        seen,
        vec![
            line(b"ok", 0),
            Seen::Line {
                bytes: Vec::new(),
                offset: 3,
                terminated: false,
                too_long: Some(5000)
            }
        ]
    );
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).expect("compress");
    encoder.finish().expect("compress")
}

#[test]
fn gzip_files_are_read_through_all_members_with_decompressed_offsets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rotated.log.gz");
    let first = b"one\ntwo\n".as_slice();
    let second = b"three\r\nfour".as_slice();
    // Two gzip members back to back, as `cat a.gz b.gz` or some rotators produce.
    let mut compressed = gzip(first);
    compressed.extend(gzip(second));
    write(&path, &compressed);
    let seen = read_all(open(&path, &TailOptions::default()).as_mut(), 1024);
    let plain = [first, second].concat();
    let name = path_str(&path).to_string();
    let mut expected = vec![Seen::Started(name.clone(), StartCause::Opened)];
    expected.extend(split_lines(&plain, 0));
    expected.push(Seen::Ended(name));
    assert_eq!(seen, expected);

    let resumed = TailOptions {
        start_offset: 8,
        ..TailOptions::default()
    };
    let rest = lines_only(&read_all(open(&path, &resumed).as_mut(), 1024));
    assert_eq!(rest, split_lines(&plain[8..], 8));
}

#[test]
fn following_a_gzip_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("old.json.gz");
    write(&path, &gzip(b"x\n"));
    let options = TailOptions {
        follow: true,
        ..TailOptions::default()
    };
    match open_input(path_str(&path), &options) {
        Err(error @ TailError::FollowCompressed { .. }) => {
            assert!(error.to_string().contains(path_str(&path)), "{error}");
        }
        Err(error) => panic!("unexpected error {error}"),
        Ok(_) => panic!("following a .gz file must fail"),
    }
}

#[test]
fn a_missing_file_read_once_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nope.log");
    match open_input(path_str(&path), &TailOptions::default()) {
        Err(error @ TailError::NotFound { .. }) => {
            assert!(error.to_string().contains(path_str(&path)), "{error}");
        }
        Err(error) => panic!("unexpected error {error}"),
        Ok(_) => panic!("a missing file must fail"),
    }
}

#[test]
fn a_glob_reads_its_matches_in_name_order_one_input_each() {
    let dir = tempfile::tempdir().expect("tempdir");
    let names = ["b.log", "10.log", "a.log", "9.log"];
    for name in names {
        write(&dir.path().join(name), format!("from {name}\n").as_bytes());
    }
    write(&dir.path().join("c.txt"), b"not matched\n");
    fs::create_dir(dir.path().join("d.log")).expect("mkdir");
    let gz = dir.path().join("e.log.gz");
    write(&gz, &gzip(b"from e.log.gz\n"));
    let pattern = format!("{}/*.log*", path_str(dir.path()));
    let seen = read_all(
        open_input(&pattern, &TailOptions::default())
            .expect("glob")
            .as_mut(),
        1024,
    );
    let mut expected = Vec::new();
    // Byte order of names: "10" before "9", digits before letters.
    for name in ["10.log", "9.log", "a.log", "b.log", "e.log.gz"] {
        let path = format!("{}/{name}", path_str(dir.path()));
        expected.push(Seen::Started(path.clone(), StartCause::Opened));
        expected.push(line(format!("from {name}").as_bytes(), 0));
        expected.push(Seen::Ended(path));
    }
    assert_eq!(seen, expected);
}

#[test]
fn a_glob_resumes_in_the_member_of_its_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["1.log", "2.log", "3.log"] {
        write(
            &dir.path().join(name),
            format!("{name} a\n{name} b\n").as_bytes(),
        );
    }
    let pattern = format!("{}/*.log", path_str(dir.path()));
    let mut first = open_input(&pattern, &TailOptions::default()).expect("glob");
    let mut batch = LineBatch::new();
    let mut seen = Vec::new();
    // Read until the first line of 2.log has been handed out.
    while !seen.contains(&line(b"2.log a", 0)) {
        let status = first.read_batch(1, &mut batch).expect("read");
        common::record(&status, &batch, &mut seen);
    }
    let position = first.position();
    assert_eq!(&*position.path, format!("{}/2.log", path_str(dir.path())));
    assert_eq!(position.offset, 8);
    let resumed = TailOptions {
        start_path: Some(position.path.as_ref().into()),
        start_offset: position.offset,
        ..TailOptions::default()
    };
    let rest = lines_only(&read_all(
        open_input(&pattern, &resumed).expect("glob").as_mut(),
        1,
    ));
    assert_eq!(
        rest,
        vec![
            line(b"2.log b", 8),
            line(b"3.log a", 0),
            line(b"3.log b", 8)
        ]
    );
}

#[test]
fn a_glob_matching_nothing_read_once_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pattern = format!("{}/*.json", path_str(dir.path()));
    match open_input(&pattern, &TailOptions::default()) {
        Err(error @ TailError::NoMatch { .. }) => {
            assert!(error.to_string().contains(&pattern), "{error}");
        }
        Err(error) => panic!("unexpected error {error}"),
        Ok(_) => panic!("an empty glob read once must fail"),
    }
}

#[test]
fn a_stream_never_blocks_the_caller_and_ends_with_its_writer() {
    let (reader, mut writer) = std::io::pipe().expect("pipe");
    let mut source = open_reader("pipe", reader, &TailOptions::default()).expect("reader");
    let mut batch = LineBatch::new();
    assert!(matches!(
        source.read_batch(10, &mut batch),
        Ok(ReadStatus::InputStarted {
            cause: StartCause::Opened,
            ..
        })
    ));
    // Nothing written yet: the call returns (idle) instead of blocking.
    assert_eq!(
        source.read_batch(10, &mut batch).ok(),
        Some(ReadStatus::Idle)
    );
    writer.write_all(b"first\nsecond part").expect("write");
    let mut seen = Vec::new();
    while !seen.contains(&line(b"first", 0)) {
        let status = source.read_batch(10, &mut batch).expect("read");
        common::record(&status, &batch, &mut seen);
        if status == ReadStatus::Idle {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    // The partial line waits while the writer is still there.
    for _ in 0..20 {
        let status = source.read_batch(10, &mut batch).expect("read");
        assert_eq!(status, ReadStatus::Idle);
    }
    writer.write_all(b" done\n").expect("write");
    drop(writer);
    seen.extend(read_all(source.as_mut(), 10));
    assert_eq!(
        seen,
        vec![
            line(b"first", 0),
            line(b"second part done", 6),
            Seen::Ended("pipe".to_string())
        ]
    );
}
