//! `vigil run` with a state directory and ECS, CEF and flat JSON outputs over a followed
//! Cowrie file: every CEF line parses under a strict reading of the CEF rules, every ECS
//! line carries the ECS fields with the right types, and a restart that reads the whole file
//! again delivers no alert twice (the store deduplicates by alert id, the outputs follow its
//! outbox).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use vigil_tests::{shared_file, vigil_bin};

/// A Cowrie failed login whose user name and password need escaping in every format.
fn failed_login(ip: &str, second: u32, session: &str) -> String {
    let line = serde_json::json!({
        "eventid": "cowrie.login.failed",
        "username": "ad|min\\x=y\nz",
        "password": format!("pw|{second}=\\secret"),
        "message": "login attempt failed",
        "sensor": "hp",
        "timestamp": format!("2026-03-01T10:{:02}:{:02}.000000Z", second / 60, second % 60),
        "src_ip": ip,
        "src_port": 40_000 + second,
        "dst_ip": "10.0.0.5",
        "dst_port": 22,
        "session": session,
    });
    line.to_string()
}

/// Failed logins from `sources` addresses, `per_source` each, one second apart.
fn burst(first_octet: u8, sources: u8, per_source: u32) -> Vec<String> {
    let mut lines = Vec::new();
    for second in 0..per_source {
        for host in 0..sources {
            let ip = format!("198.51.{first_octet}.{host}");
            lines.push(failed_login(
                &ip,
                second,
                &format!("s{first_octet}-{host}-{second}"),
            ));
        }
    }
    lines
}

struct Paths {
    config: PathBuf,
    log: PathBuf,
    ecs: PathBuf,
    cef: PathBuf,
    flat: PathBuf,
}

fn write_config(dir: &Path) -> Paths {
    let paths = Paths {
        config: dir.join("vigil.toml"),
        log: dir.join("cowrie.json"),
        ecs: dir.join("out/alerts.ecs.ndjson"),
        cef: dir.join("out/alerts.cef"),
        flat: dir.join("out/alerts.ndjson"),
    };
    std::fs::create_dir_all(dir.join("out")).expect("output dir");
    std::fs::write(&paths.log, "").expect("create log");
    std::fs::write(
        &paths.config,
        format!(
            r#"[pipeline]
shutdown_grace_secs = 10
[rules.brute_force]
min_failed_logins = 5
[api]
listen = "127.0.0.1:0"
[state]
dir = "{state}"
flush_every_millis = 50
# The events are from March 2026: age retention by the wall clock would remove their alerts
# at the restart, and the store could then not recognise them when they are raised again.
retention_max_age_days = 0
[alerts]
cooldown_secs = 60
# The brute-force rule's alerts are what this test checks the encodings with; the learned
# models would alert on other addresses of the file too.
[pool]
enabled = false
[outputs]
alerts_ndjson = "{flat}"
[outputs.ecs]
path = "{ecs}"
max_bytes = 8192
keep_files = 1000
[outputs.cef]
path = "{cef}"
[sources.honeypot]
type = "file"
path = "{log}"
format = "cowrie"
poll_millis = 20
"#,
            state = dir.join("state").display(),
            flat = paths.flat.display(),
            ecs = paths.ecs.display(),
            cef = paths.cef.display(),
            log = paths.log.display(),
        ),
    )
    .expect("write config");
    paths
}

fn start(config: &Path) -> Child {
    Command::new(vigil_bin())
        .args(["run", "--config", config.to_str().expect("utf-8 path")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vigil starts")
}

fn append(log: &Path, lines: &[String]) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(log)
        .expect("open log");
    for chunk in lines.chunks(200) {
        for line in chunk {
            writeln!(f, "{line}").expect("append");
        }
        f.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn stop(mut child: Child) -> String {
    let pid = child.id().to_string();
    let status = Command::new("kill")
        .args(["-s", "TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait works") {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
            }
            assert!(status.success(), "vigil exited with {status}: {stderr}");
            return stderr;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "vigil did not stop within the grace period"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The lines of an output: its rotated files oldest first, then the file itself.
fn output_lines(path: &Path) -> Vec<String> {
    let mut files = Vec::new();
    for n in (1..=1000).rev() {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        let rotated = PathBuf::from(name);
        if rotated.exists() {
            files.push(rotated);
        }
    }
    files.push(path.to_path_buf());
    let mut lines = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "{} ends in a partial line",
            file.display()
        );
        lines.extend(text.lines().map(str::to_string));
    }
    lines
}

fn rotated_files(path: &Path) -> usize {
    (1..=1000)
        .filter(|n| {
            let mut name = path.as_os_str().to_owned();
            name.push(format!(".{n}"));
            PathBuf::from(name).exists()
        })
        .count()
}

/// Waits until `ready` holds, or fails naming `what`.
fn wait_for(what: &str, deadline: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A strictly parsed CEF line.
#[derive(Debug)]
struct Cef {
    header: Vec<String>,
    extension: BTreeMap<String, String>,
}

/// Parses one CEF line under the rules of the CEF specification: `CEF:Version|` then six
/// more `|`-separated header fields in which only `\|` and `\\` are escapes, then an extension
/// of `key=value` pairs separated by spaces, keys alphanumeric, values in which `\=`, `\\`,
/// `\n` and `\r` are the only escapes and an unescaped `=` never appears.
fn parse_cef(line: &str) -> Result<Cef, String> {
    if line.contains('\n') || line.contains('\r') {
        return Err("raw line break".into());
    }
    let rest = line.strip_prefix("CEF:").ok_or("no CEF: prefix")?;
    let mut header = Vec::new();
    let mut field = String::new();
    let mut chars = rest.chars();
    while header.len() < 7 {
        let c = chars.next().ok_or("header ends early")?;
        match c {
            '\\' => match chars.next() {
                Some('|') => field.push('|'),
                Some('\\') => field.push('\\'),
                other => return Err(format!("bad header escape \\{other:?}")),
            },
            '|' => header.push(std::mem::take(&mut field)),
            c if c.is_control() => return Err("control character in header".into()),
            c => field.push(c),
        }
    }
    if header[0] != "0" {
        return Err(format!("version {:?}", header[0]));
    }
    let extension_text: String = chars.collect();
    // Split at unescaped spaces that precede `key=`.
    let mut extension = BTreeMap::new();
    let bytes: Vec<char> = extension_text.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let key_start = i;
        while i < bytes.len() && bytes[i] != '=' {
            if !bytes[i].is_ascii_alphanumeric() {
                return Err(format!("bad key character {:?} at {i}", bytes[i]));
            }
            i += 1;
        }
        let key: String = bytes[key_start..i].iter().collect();
        if key.is_empty() || i == bytes.len() {
            return Err(format!("key without value at {key_start}"));
        }
        i += 1;
        let mut value = String::new();
        loop {
            if i == bytes.len() {
                break;
            }
            match bytes[i] {
                '\\' => {
                    let next = bytes.get(i + 1).copied();
                    match next {
                        Some('=') => value.push('='),
                        Some('\\') => value.push('\\'),
                        Some('n') => value.push('\n'),
                        Some('r') => value.push('\r'),
                        other => return Err(format!("bad extension escape \\{other:?}")),
                    }
                    i += 2;
                }
                '=' => return Err(format!("unescaped = in value of {key}")),
                ' ' => {
                    // A space ends the value only when a key and `=` follow.
                    let mut j = i + 1;
                    while j < bytes.len() && bytes[j].is_ascii_alphanumeric() {
                        j += 1;
                    }
                    if j > i + 1 && bytes.get(j) == Some(&'=') {
                        i += 1;
                        break;
                    }
                    value.push(' ');
                    i += 1;
                }
                c => {
                    value.push(c);
                    i += 1;
                }
            }
        }
        if extension.insert(key.clone(), value).is_some() {
            return Err(format!("key {key} twice"));
        }
    }
    Ok(Cef { header, extension })
}

fn check_ecs(line: &str) -> String {
    let doc: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let at = |pointer: &str| {
        doc.pointer(pointer)
            .unwrap_or_else(|| panic!("{pointer} missing: {line}"))
    };
    let timestamp = at("/@timestamp").as_str().expect("@timestamp is a string");
    chrono::DateTime::parse_from_rfc3339(timestamp).expect("@timestamp is RFC 3339");
    assert_eq!(at("/event/kind"), "alert");
    let severity = at("/event/severity")
        .as_u64()
        .expect("event.severity is an integer");
    assert!(severity <= 100);
    let risk = at("/event/risk_score")
        .as_f64()
        .expect("event.risk_score is a number");
    assert!((0.0..=100.0).contains(&risk));
    let ip: std::net::IpAddr = at("/source/ip")
        .as_str()
        .expect("source.ip is a string")
        .parse()
        .expect("source.ip is an address");
    assert!(ip.to_string().starts_with("198.51."));
    let port = at("/source/port")
        .as_u64()
        .expect("source.port is an integer");
    assert!((40_000..=u64::from(u16::MAX)).contains(&port));
    let dst: std::net::IpAddr = at("/destination/ip")
        .as_str()
        .expect("destination.ip is a string")
        .parse()
        .expect("destination.ip is an address");
    assert_eq!(dst.to_string(), "10.0.0.5");
    assert_eq!(at("/destination/port").as_u64(), Some(22));
    assert_eq!(at("/network/transport"), "tcp");
    assert_eq!(at("/rule/name"), "brute_force");
    assert!(
        at("/message")
            .as_str()
            .is_some_and(|m| m.contains("failed logins"))
    );
    assert_eq!(at("/vigil/detector"), "brute_force");
    let score = at("/vigil/score")
        .as_f64()
        .expect("vigil.score is a number");
    assert!((0.0..=1.0).contains(&score));
    assert!(at("/vigil/explanation").is_string());
    assert!(at("/vigil/count").as_u64().is_some_and(|c| c >= 1));
    assert!(!line.contains("secret"), "passwords are redacted: {line}");
    at("/event/id")
        .as_str()
        .expect("event.id is a string")
        .to_string()
}

fn check_cef(line: &str) -> String {
    let cef = parse_cef(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(cef.header[1], "Vigil");
    assert_eq!(cef.header[2], "Vigil");
    assert_eq!(cef.header[4], "brute_force");
    let severity: u8 = cef.header[6].parse().expect("CEF severity is a number");
    assert!(severity <= 10);
    assert_eq!(
        cef.extension.get("suser").map(String::as_str),
        Some("ad|min\\x=y\nz")
    );
    assert!(
        cef.extension
            .get("src")
            .is_some_and(|s| s.starts_with("198.51."))
    );
    assert_eq!(cef.extension.get("dpt").map(String::as_str), Some("22"));
    assert!(!cef.extension.contains_key("cs6"), "passwords are redacted");
    assert!(!line.contains("secret"));
    cef.extension
        .get("externalId")
        .expect("externalId names the alert")
        .clone()
}

fn flat_ids(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|line| {
            let doc: Value = serde_json::from_str(line).expect("flat JSON line");
            assert!(doc.get("password").is_none(), "passwords are redacted");
            doc["id"].as_str().expect("id").to_string()
        })
        .collect()
}

/// Every output's ids, checked line by line.
fn all_ids(paths: &Paths) -> [Vec<String>; 3] {
    let ecs = output_lines(&paths.ecs)
        .iter()
        .map(|l| check_ecs(l))
        .collect();
    let cef = output_lines(&paths.cef)
        .iter()
        .map(|l| check_cef(l))
        .collect();
    let flat = flat_ids(&output_lines(&paths.flat));
    [ecs, cef, flat]
}

fn assert_exactly_once(ids: &[Vec<String>; 3]) -> BTreeSet<String> {
    let set: BTreeSet<String> = ids[2].iter().cloned().collect();
    for (name, list) in ["ecs", "cef", "flat"].iter().zip(ids) {
        let unique: BTreeSet<String> = list.iter().cloned().collect();
        assert_eq!(unique.len(), list.len(), "{name} holds an alert twice");
        assert_eq!(
            unique, set,
            "{name} holds other alerts than the flat output"
        );
    }
    set
}

#[test]
fn run_writes_ecs_and_cef_exactly_once_across_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let paths = write_config(dir.path());

    // First run: 60 sources brute-forcing, plus a real honeypot log when it is there.
    let child = start(&paths.config);
    std::thread::sleep(Duration::from_millis(300));
    let mut first = burst(100, 60, 12);
    if let Some(real) = shared_file("data/cowrie/seed-tpot-cowrie.json") {
        first.extend(
            std::fs::read_to_string(real)
                .expect("real log")
                .lines()
                .map(str::to_string),
        );
    }
    first.extend(burst(101, 1, 6)); // a marker at the end of the first part
    append(&paths.log, &first);
    let marker = "198.51.101.0";
    wait_for(
        "the first part's last alert",
        Duration::from_secs(60),
        || std::fs::read_to_string(&paths.flat).is_ok_and(|t| t.contains(marker)),
    );
    let stderr = stop(child);
    let ids = all_ids(&paths);
    let first_ids = assert_exactly_once(&ids);
    assert!(
        first_ids.len() >= 61,
        "{} alerts: {stderr}",
        first_ids.len()
    );
    assert!(
        rotated_files(&paths.ecs) >= 2,
        "the ECS output rotated at 8 KiB"
    );

    // Second run on the same state and file: the file is read again from the start and
    // every old alert is raised again with the same id; none may reach an output twice.
    let child = start(&paths.config);
    std::thread::sleep(Duration::from_millis(300));
    let second = burst(102, 3, 6);
    append(&paths.log, &second);
    let marker = "198.51.102.2";
    wait_for("the second part's alerts", Duration::from_secs(60), || {
        std::fs::read_to_string(&paths.flat).is_ok_and(|t| t.contains(marker))
    });
    let stderr = stop(child);
    let ids = all_ids(&paths);
    let all = assert_exactly_once(&ids);
    assert!(all.is_superset(&first_ids), "{stderr}");
    let new: Vec<&String> = all.difference(&first_ids).collect();
    assert_eq!(new.len(), 3, "one alert per new source: {new:?}\n{stderr}");
}

#[test]
fn strict_cef_parser_rejects_what_the_rules_forbid() {
    assert!(parse_cef("CEF:0|V|P|1|sig|name|5|src=1.2.3.4 msg=a\\=b c").is_ok());
    assert!(parse_cef("CEF:0|V|P|1|sig|name|5|msg=a=b").is_err());
    assert!(parse_cef("CEF:0|V|P|1|s\\ig|name|5|msg=a").is_err());
    assert!(parse_cef("CEF:0|V|P|1|sig|name|5").is_err());
    assert!(parse_cef("CEF:0|V|P|1|sig|name|5|").is_ok_and(|c| c.extension.is_empty()));
    assert!(parse_cef("CEF:0|V|P|1|sig|name|5|msg=a\\x").is_err());
    assert!(parse_cef("CEF:0|V|P|1|sig|na\nme|5|msg=a").is_err());
    let parsed = parse_cef("CEF:0|V\\|x|P\\\\|1|sig|name|5|msg=a b\\nc suser=x").expect("valid");
    assert_eq!(parsed.header[1], "V|x");
    assert_eq!(parsed.header[2], "P\\");
    assert_eq!(parsed.extension["msg"], "a b\nc");
    assert_eq!(parsed.extension["suser"], "x");
}

/// Two brute-force episodes from one source within the cooldown make one alert with count 2;
/// a replay's output carries it in that final form whatever the batching, so replays with
/// one-event and thousand-event batches write the same bytes.
#[test]
fn replay_aggregates_repeats_and_writes_the_same_bytes_whatever_the_batching() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("cowrie.json");
    let mut lines = Vec::new();
    // Episode 1 at 10:00:00..05, quiet for more than the 30 s window, episode 2 at 10:01:00..05.
    for second in (0..6).chain(60..66) {
        lines.push(failed_login("203.0.113.9", second, &format!("s{second}")));
    }
    // Another source, one episode: a separate alert.
    for second in 0..6 {
        lines.push(failed_login(
            "203.0.113.10",
            200 + second,
            &format!("t{second}"),
        ));
    }
    std::fs::write(&log, lines.join("\n") + "\n").expect("write log");
    let mut outputs = Vec::new();
    for batch in [1, 1000] {
        let config = dir.path().join(format!("vigil-{batch}.toml"));
        std::fs::write(
            &config,
            format!(
                "[pipeline]\nbatch_max_events = {batch}\n[rules.brute_force]\nmin_failed_logins = 5\n[alerts]\ncooldown_secs = 300\n"
            ),
        )
        .expect("write config");
        let out = dir.path().join(format!("alerts-{batch}.ndjson"));
        let output = Command::new(vigil_bin())
            .args([
                "replay",
                "--config",
                config.to_str().expect("utf-8 path"),
                "--alerts-out",
                out.to_str().expect("utf-8 path"),
                log.to_str().expect("utf-8 path"),
            ])
            .output()
            .expect("vigil runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let summary: Value = serde_json::from_slice(&output.stdout).expect("summary JSON");
        assert_eq!(summary["alerts"]["orange"], 2, "{summary}");
        assert_eq!(summary["alerts_aggregated"], 1, "{summary}");
        assert_eq!(
            summary["by_detector"]["brute_force"]["alerts"], 2,
            "{summary}"
        );
        let text = std::fs::read_to_string(&out).expect("alerts written");
        let docs: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect();
        assert_eq!(docs.len(), 2, "{text}");
        assert_eq!(docs[0]["src_ip"], "203.0.113.9");
        assert_eq!(docs[0]["count"], 2);
        assert_eq!(docs[0]["first_seen"], "2026-03-01T10:00:04.000000Z");
        assert_eq!(docs[0]["last_seen"], "2026-03-01T10:01:04.000000Z");
        assert_eq!(docs[1]["src_ip"], "203.0.113.10");
        assert_eq!(docs[1]["count"], 1);
        outputs.push(text);
    }
    assert_eq!(outputs[0], outputs[1], "batching changed the output");
}
