//! Files followed like `tail -F`: growth, partial lines, rotations, disappearance, globs.

mod common;

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Seen, line, lines_only, record, with_captured_log};
use vigil_tail::{
    FileIdentity, LineBatch, LineSource, ReadStatus, StartCause, TailOptions, open_input,
};

const POLL: Duration = Duration::from_millis(5);
const PATIENCE: Duration = Duration::from_secs(30);

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

fn follow_options(rotate_wait: Duration) -> TailOptions {
    TailOptions {
        follow: true,
        rotate_wait,
        ..TailOptions::default()
    }
}

fn open(path: &Path, options: &TailOptions) -> Box<dyn LineSource> {
    match open_input(path_str(path), options) {
        Ok(source) => source,
        Err(error) => panic!("cannot open {}: {error}", path.display()),
    }
}

fn append(path: &Path) -> File {
    OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .expect("open for appending")
}

fn write_all(file: &mut File, data: &[u8]) {
    file.write_all(data).expect("write");
}

/// A follower driven from the test thread.
struct Follower {
    source: Box<dyn LineSource>,
    batch: LineBatch,
    seen: Vec<Seen>,
}

impl Follower {
    fn new(path: &Path, options: &TailOptions) -> Self {
        Self {
            source: open(path, options),
            batch: LineBatch::new(),
            seen: Vec::new(),
        }
    }

    fn step(&mut self) -> ReadStatus {
        let status = match self.source.read_batch(1024, &mut self.batch) {
            Ok(status) => status,
            Err(error) => panic!("read failed: {error}"),
        };
        assert_ne!(
            status,
            ReadStatus::Finished,
            "a followed file never finishes"
        );
        record(&status, &self.batch, &mut self.seen);
        status
    }

    /// Reads until the source is idle (everything available has been handed out).
    fn until_idle(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        while self.step() != ReadStatus::Idle {
            assert!(Instant::now() < deadline, "never idle; saw {:?}", self.seen);
        }
    }

    /// Polls until `done` holds for what was seen.
    fn until(&mut self, what: &str, done: impl Fn(&[Seen]) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !done(&self.seen) {
            assert!(
                Instant::now() < deadline,
                "gave up waiting for {what}; saw {:?}",
                self.seen
            );
            if self.step() == ReadStatus::Idle {
                std::thread::sleep(POLL);
            }
        }
    }

    /// Takes what was seen so far.
    fn take(&mut self) -> Vec<Seen> {
        std::mem::take(&mut self.seen)
    }
}

#[test]
fn a_partial_line_waits_for_its_newline_and_is_handed_out_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("partial.log");
    let mut writer = append(&path);
    let mut follower = Follower::new(&path, &follow_options(Duration::from_secs(5)));
    write_all(&mut writer, b"abc");
    for _ in 0..5 {
        follower.until_idle();
    }
    assert_eq!(
        follower.take(),
        vec![Seen::Started(
            path_str(&path).to_string(),
            StartCause::Opened
        )]
    );
    write_all(&mut writer, b"def\nxyz");
    follower.until_idle();
    follower.until_idle();
    assert_eq!(follower.take(), vec![line(b"abcdef", 0)]);
    write_all(&mut writer, b"\n");
    follower.until_idle();
    assert_eq!(follower.take(), vec![line(b"xyz", 7)]);
    assert_eq!(follower.source.position().offset, 11);
}

#[test]
fn rename_and_create_drains_the_old_file_then_reads_the_new_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("app.log");
    let rotated = dir.path().join("app.log.1");
    let mut old = append(&path);
    write_all(&mut old, b"one\n");
    // A long rotate wait: the old file must still be read after the rename was noticed.
    let mut follower = Follower::new(&path, &follow_options(Duration::from_secs(3600)));
    follower.until_idle();
    fs::rename(&path, &rotated).expect("rename");
    let mut new = append(&path);
    write_all(&mut new, b"new one\n");
    follower.until_idle();
    write_all(&mut old, b"two, late\n");
    follower.until_idle();
    let name = path_str(&path).to_string();
    assert_eq!(
        follower.take(),
        vec![
            Seen::Started(name.clone(), StartCause::Opened),
            line(b"one", 0),
            line(b"two, late", 4),
        ],
        "within the rotate wait only the old file is read"
    );

    // With no wait, the poll after the old file went quiet moves to the new file; the old
    // file's unterminated rest is handed out first.
    let third = dir.path().join("other.log");
    let mut writer = append(&third);
    write_all(&mut writer, b"a\n");
    let mut follower = Follower::new(&third, &follow_options(Duration::ZERO));
    follower.until_idle();
    fs::rename(&third, dir.path().join("other.log.1")).expect("rename");
    write_all(&mut writer, b"b, after the rename\nunfinished");
    let mut replacement = append(&third);
    write_all(&mut replacement, b"c\n");
    follower.until("the new file's line", |seen| seen.contains(&line(b"c", 0)));
    let name = path_str(&third).to_string();
    assert_eq!(
        follower.take(),
        vec![
            Seen::Started(name.clone(), StartCause::Opened),
            line(b"a", 0),
            line(b"b, after the rename", 2),
            Seen::Line {
                bytes: b"unfinished".to_vec(),
                offset: 22,
                terminated: false,
                too_long: None
            },
            Seen::Ended(name.clone()),
            Seen::Started(name, StartCause::Rotated),
            line(b"c", 0),
        ]
    );
}

#[test]
fn copytruncate_is_noticed_by_size_and_by_content() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("truncated.log");
    let mut writer = append(&path);
    write_all(&mut writer, b"first line\nsecond line\n");
    let mut follower = Follower::new(&path, &follow_options(Duration::ZERO));
    follower.until_idle();
    let name = path_str(&path).to_string();

    // Shorter than what was read: noticed by size.
    writer.set_len(0).expect("truncate");
    write_all(&mut writer, b"short\n");
    follower.until_idle();
    // Truncated and grown back past the old offset before the next poll: noticed because the
    // bytes before the old offset changed.
    writer.set_len(0).expect("truncate");
    write_all(&mut writer, b"a much longer line than before\n");
    follower.until_idle();
    assert_eq!(
        follower.take(),
        vec![
            Seen::Started(name.clone(), StartCause::Opened),
            line(b"first line", 0),
            line(b"second line", 11),
            Seen::Ended(name.clone()),
            Seen::Started(name.clone(), StartCause::Truncated),
            line(b"short", 0),
            Seen::Ended(name.clone()),
            Seen::Started(name, StartCause::Truncated),
            line(b"a much longer line than before", 0),
        ]
    );
}

#[test]
fn a_truncation_right_after_resuming_is_noticed_before_anything_was_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("resumed.log");
    fs::write(&path, b"aaaa\nbbbb\n").expect("write");
    let resume = TailOptions {
        start_offset: 5,
        ..follow_options(Duration::ZERO)
    };
    let mut follower = Follower::new(&path, &resume);
    // Truncated and rewritten past the resume offset before the first poll.
    fs::write(&path, b"cccccccccccc\ndddd\n").expect("rewrite");
    follower.until_idle();
    let name = path_str(&path).to_string();
    assert_eq!(
        follower.take(),
        vec![
            Seen::Started(name.clone(), StartCause::Opened),
            Seen::Ended(name.clone()),
            Seen::Started(name, StartCause::Truncated),
            line(b"cccccccccccc", 0),
            line(b"dddd", 13),
        ]
    );
}

#[test]
fn a_disappearing_file_is_warned_about_once_and_picked_up_when_recreated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("vanishing.log");
    let name = path_str(&path).to_string();
    let (seen, log) = with_captured_log(|| {
        fs::write(&path, b"before\n").expect("write");
        let mut follower = Follower::new(&path, &follow_options(Duration::ZERO));
        follower.until_idle();
        fs::remove_file(&path).expect("remove");
        // Many polls while the file is missing.
        for _ in 0..50 {
            follower.until_idle();
        }
        let waiting = follower.source.position();
        assert_eq!((waiting.identity, waiting.offset), (None, 0));
        fs::write(&path, b"after\n").expect("write");
        follower.until("the re-created file's line", |seen| {
            seen.contains(&line(b"after", 0))
        });
        follower.take()
    });
    assert_eq!(
        seen,
        vec![
            Seen::Started(name.clone(), StartCause::Opened),
            line(b"before", 0),
            Seen::Ended(name.clone()),
            Seen::Started(name, StartCause::Recreated),
            line(b"after", 0),
        ]
    );
    let warnings: Vec<&str> = log.lines().filter(|entry| entry.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "one warning, not one per poll: {log}");
    assert!(warnings[0].contains("disappeared"), "{log}");
    assert!(warnings[0].contains("vanishing.log"), "{log}");
}

#[test]
fn a_file_missing_at_start_is_waited_for() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("later.log");
    let (seen, log) = with_captured_log(|| {
        let mut follower = Follower::new(&path, &follow_options(Duration::ZERO));
        for _ in 0..20 {
            follower.until_idle();
        }
        fs::write(&path, b"finally\n").expect("write");
        follower.until("the line", |seen| seen.contains(&line(b"finally", 0)));
        follower.take()
    });
    assert_eq!(
        seen,
        vec![
            Seen::Started(path_str(&path).to_string(), StartCause::Opened),
            line(b"finally", 0),
        ]
    );
    assert_eq!(log.matches("WARN").count(), 1, "{log}");
}

#[test]
fn resuming_uses_the_offset_only_in_the_file_it_was_recorded_for() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("resume.log");
    fs::write(&path, b"old 1\nold 2\nold 3\n").expect("write");
    let identity = FileIdentity::of(&fs::metadata(&path).expect("stat"));
    let resume = TailOptions {
        start_offset: 6,
        start_identity: identity,
        ..follow_options(Duration::ZERO)
    };
    let mut follower = Follower::new(&path, &resume);
    follower.until_idle();
    assert_eq!(
        lines_only(&follower.take()),
        vec![line(b"old 2", 6), line(b"old 3", 12)]
    );
    assert_eq!(follower.source.position().identity, identity);

    // Rotated while nobody was reading: the offset means nothing in the new file.
    fs::rename(&path, dir.path().join("resume.log.1")).expect("rename");
    fs::write(&path, b"new 1\nnew 2\nnew 3\n").expect("write");
    let (seen, log) = with_captured_log(|| {
        let mut follower = Follower::new(&path, &resume);
        follower.until_idle();
        follower.take()
    });
    assert_eq!(
        lines_only(&seen),
        vec![line(b"new 1", 0), line(b"new 2", 6), line(b"new 3", 12)]
    );
    assert!(log.contains("rotated away"), "{log}");
}

#[test]
fn a_followed_glob_picks_up_new_files_and_never_rereads_a_renamed_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = path_str(dir.path()).to_string();
    fs::write(dir.path().join("a.log"), b"a1\n").expect("write");
    let gz = dir.path().join("a.log.0.gz");
    fs::write(&gz, b"not really gzip, must not be read").expect("write");
    let options = TailOptions {
        follow: true,
        rotate_wait: Duration::ZERO,
        glob_rescan_polls: 1,
        ..TailOptions::default()
    };
    let pattern = format!("{base}/*.log*");
    let (seen, log) = with_captured_log(|| {
        let mut follower = Follower {
            source: open_input(&pattern, &options).expect("glob"),
            batch: LineBatch::new(),
            seen: Vec::new(),
        };
        follower.until_idle();
        fs::write(dir.path().join("b.log"), b"b1\n").expect("write");
        follower.until("b.log", |seen| seen.contains(&line(b"b1", 0)));
        // Rotate b.log to a name the pattern also matches, and start a new b.log.
        let mut old_b = append(&dir.path().join("b.log"));
        fs::rename(dir.path().join("b.log"), dir.path().join("b.log.1")).expect("rename");
        write_all(&mut old_b, b"b2\n");
        fs::write(dir.path().join("b.log"), b"new b1\n").expect("write");
        follower.until("the new b.log", |seen| seen.contains(&line(b"new b1", 0)));
        for _ in 0..20 {
            follower.until_idle();
        }
        follower.take()
    });
    let a = format!("{base}/a.log");
    let b = format!("{base}/b.log");
    assert_eq!(
        seen,
        vec![
            Seen::Started(a.clone(), StartCause::Opened),
            line(b"a1", 0),
            Seen::Ended(a),
            Seen::Started(b.clone(), StartCause::Opened),
            line(b"b1", 0),
            line(b"b2", 3),
            Seen::Ended(b.clone()),
            Seen::Started(b, StartCause::Rotated),
            line(b"new b1", 0),
        ]
    );
    assert_eq!(
        log.matches("compressed glob match skipped").count(),
        1,
        "{log}"
    );
}

#[test]
fn a_followed_glob_moves_past_members_finished_long_ago_without_waiting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = path_str(dir.path()).to_string();
    let two_hours_ago = std::time::SystemTime::now() - Duration::from_secs(7200);
    for name in ["1.log", "2.log"] {
        let path = dir.path().join(name);
        fs::write(&path, format!("{name}\n")).expect("write");
        File::options()
            .write(true)
            .open(&path)
            .and_then(|file| file.set_modified(two_hours_ago))
            .expect("age the file");
    }
    fs::write(dir.path().join("3.log"), b"3.log\n").expect("write");
    // An hour of rotate wait: only the age of the older members lets them be left at once.
    let options = TailOptions {
        follow: true,
        rotate_wait: Duration::from_secs(3600),
        ..TailOptions::default()
    };
    let mut follower = Follower {
        source: open_input(&format!("{base}/*.log"), &options).expect("glob"),
        batch: LineBatch::new(),
        seen: Vec::new(),
    };
    follower.until("the newest member", |seen| {
        seen.contains(&line(b"3.log", 0))
    });
    let mut expected = Vec::new();
    for name in ["1.log", "2.log"] {
        let path = format!("{base}/{name}");
        expected.push(Seen::Started(path.clone(), StartCause::Opened));
        expected.push(line(name.as_bytes(), 0));
        expected.push(Seen::Ended(path));
    }
    expected.push(Seen::Started(format!("{base}/3.log"), StartCause::Opened));
    expected.push(line(b"3.log", 0));
    assert_eq!(follower.take(), expected);
    // The newest member is followed, not left.
    let mut newest = append(&dir.path().join("3.log"));
    write_all(&mut newest, b"more\n");
    follower.until_idle();
    assert_eq!(follower.take(), vec![line(b"more", 6)]);
}

/// Lines the writer writes: fixed width, so that the file offset of every line is known.
fn numbered(number: usize) -> Vec<u8> {
    format!("line {number:07}\n").into_bytes()
}

/// The project's hard requirement: a writer appends 100,000 numbered lines through an
/// `O_APPEND` handle while the file is rotated by rename-and-create and then by
/// copytruncate; the follower sees every line exactly once, in order.
#[test]
fn every_line_is_read_exactly_once_across_rename_and_copytruncate() {
    const TOTAL: usize = 100_000;
    const FIRST_PHASE: usize = 20_000;
    const AFTER_RENAME_ON_OLD_FD: usize = 3_000;
    const PAUSE_AT: usize = 60_000;

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("f");
    let renamed = dir.path().join("f.1");
    let copied = dir.path().join("f.2");
    File::create(&path).expect("create");

    let consumed = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    // The one time-based part of following: how long the old file must be quiet after a
    // rename before the new file is read. Writes to the old descriptor that come later than
    // this are lost by design; it is sized against scheduler stalls on a loaded machine.
    let options = follow_options(Duration::from_millis(200));
    let follower = {
        let consumed = Arc::clone(&consumed);
        let stop = Arc::clone(&stop);
        let mut source = open(&path, &options);
        std::thread::spawn(move || {
            let mut batch = LineBatch::new();
            let mut numbers = Vec::with_capacity(TOTAL);
            let mut boundaries = Vec::new();
            let mut malformed = Vec::new();
            loop {
                let status = match source.read_batch(1024, &mut batch) {
                    Ok(status) => status,
                    Err(error) => {
                        malformed.push(format!("read error: {error}"));
                        break;
                    }
                };
                match status {
                    ReadStatus::Lines => {
                        for line in &batch {
                            let number = std::str::from_utf8(line.bytes)
                                .ok()
                                .and_then(|text| text.strip_prefix("line "))
                                .and_then(|digits| digits.parse::<usize>().ok());
                            match number {
                                Some(number) if line.terminated => numbers.push(number),
                                _ => malformed.push(format!("{:?} at {}", line, line.offset)),
                            }
                        }
                        consumed.store(numbers.len(), Ordering::Release);
                    }
                    ReadStatus::InputStarted { cause, .. } => {
                        boundaries.push(format!("started {cause:?}"))
                    }
                    ReadStatus::InputEnded { .. } => boundaries.push("ended".to_string()),
                    ReadStatus::Idle => {
                        if stop.load(Ordering::Acquire) {
                            break;
                        }
                        std::thread::sleep(POLL);
                    }
                    ReadStatus::Finished => {
                        malformed.push("a followed file finished".to_string());
                        break;
                    }
                }
            }
            (numbers, boundaries, malformed)
        })
    };

    let (ask_rename, rename_asked) = mpsc::channel::<()>();
    let (confirm_rename, rename_done) = mpsc::channel::<()>();
    let (report_pause, paused) = mpsc::channel::<usize>();
    let (allow_resume, resumed) = mpsc::channel::<()>();
    let writer = {
        let path = path.clone();
        std::thread::spawn(move || {
            let mut number = 0;
            let mut old = append(&path);
            while number < FIRST_PHASE {
                write_all(&mut old, &numbered(number));
                number += 1;
            }
            // Keep writing while the file is renamed under us.
            ask_rename.send(()).expect("ask for the rename");
            let mut until = None;
            while until.is_none_or(|until| number < until) {
                if until.is_none() && rename_done.try_recv().is_ok() {
                    until = Some(number + AFTER_RENAME_ON_OLD_FD);
                }
                write_all(&mut old, &numbered(number));
                number += 1;
            }
            drop(old);
            let mut new = append(&path);
            while number < PAUSE_AT {
                write_all(&mut new, &numbered(number));
                number += 1;
            }
            report_pause.send(number).expect("report the pause");
            resumed.recv().expect("wait to resume");
            while number < TOTAL {
                write_all(&mut new, &numbered(number));
                number += 1;
            }
        })
    };

    let wait_for = |target: usize, what: &str| {
        let deadline = Instant::now() + PATIENCE;
        while consumed.load(Ordering::Acquire) < target {
            assert!(
                Instant::now() < deadline,
                "{what}: the follower consumed {} of {target} lines",
                consumed.load(Ordering::Acquire)
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    };

    rename_asked.recv().expect("the writer asks for the rename");
    fs::rename(&path, &renamed).expect("rename f to f.1");
    confirm_rename.send(()).expect("confirm the rename");

    let written = paused.recv().expect("the writer pauses");
    fs::copy(&path, &copied).expect("copy f to f.2");
    wait_for(written, "before the truncation");
    OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|file| file.set_len(0))
        .expect("truncate f");
    allow_resume.send(()).expect("let the writer resume");
    writer.join().expect("writer thread");

    wait_for(TOTAL, "after the writer finished");
    stop.store(true, Ordering::Release);
    let (numbers, boundaries, malformed) = follower.join().expect("follower thread");

    assert!(malformed.is_empty(), "malformed lines: {malformed:?}");
    assert_eq!(numbers.len(), TOTAL, "line count");
    let expected: Vec<usize> = (0..TOTAL).collect();
    if numbers != expected {
        let mut sorted = numbers.clone();
        sorted.sort_unstable();
        sorted.dedup();
        panic!(
            "lines out of order, duplicated or missing: {} distinct of {TOTAL}",
            sorted.len()
        );
    }
    let new_file = if boundaries.get(2).map(String::as_str) == Some("started Recreated") {
        "started Recreated"
    } else {
        "started Rotated"
    };
    assert_eq!(
        boundaries,
        vec![
            "started Opened",
            "ended",
            new_file,
            "ended",
            "started Truncated"
        ],
    );

    // What copytruncate kept aside is what the new file held at the pause.
    let copy = fs::read(&copied).expect("read f.2");
    let old_file = fs::read(&renamed).expect("read f.1");
    let old_lines = old_file.len() / numbered(0).len();
    let expected_copy: Vec<u8> = (old_lines..PAUSE_AT).flat_map(numbered).collect();
    assert_eq!(copy, expected_copy);
    assert!(old_lines >= FIRST_PHASE + AFTER_RENAME_ON_OLD_FD);
}
