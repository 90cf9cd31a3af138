//! The admin API over TLS (`[api.tls]`) on the real `vigil run`: a self-signed certificate
//! made at test time, HTTPS trusting exactly that certificate answers, plain HTTP and a
//! client that does not trust it get nothing; a bad certificate or key stops `vigil run` and
//! `vigil check-config` before any port is bound, naming the field and the path.

#[path = "common/daemon.rs"]
mod daemon;
#[path = "common/web.rs"]
mod web;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::Arc;
use std::time::Duration;

use daemon::{Setup, start_run, wait_exit};
use vigil_tests::vigil_bin;

const TOKEN: &str = "test-token-0123456789abcdef";

/// A self-signed certificate for `127.0.0.1` and `localhost`: (certificate PEM, its DER,
/// key PEM in PKCS#8).
fn self_signed() -> (String, Vec<u8>, String) {
    let key = rcgen::KeyPair::generate().expect("key pair");
    let cert =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("certificate parameters")
            .self_signed(&key)
            .expect("self-signed certificate");
    (cert.pem(), cert.der().to_vec(), key.serialize_pem())
}

/// A config reading an empty, followed Cowrie file with the rules alone, the API on an
/// ephemeral port with a token and `tls` as its `[api.tls]` table.
fn setup(tls: &str) -> Setup {
    let setup = Setup::create();
    setup.write_config(&format!(
        r#"[pool]
enabled = false
[state]
dir = "{state}"
flush_every_millis = 20
[api]
listen = "127.0.0.1:0"
token = "{TOKEN}"
{tls}
[sources.honeypot]
type = "file"
path = "{log}"
format = "cowrie"
poll_millis = 20
"#,
        state = setup.state_dir().display(),
        log = setup.log.display(),
    ));
    setup
}

/// Starts `vigil run` and waits for the API's HTTPS address in its log.
fn start(setup: &Setup) -> (Child, SocketAddr) {
    start_run(&setup.config, &setup.vigil_log, "https")
}

fn tls_table(cert: &Path, key: &Path) -> String {
    format!(
        "[api.tls]\ncert_file = \"{}\"\nkey_file = \"{}\"",
        cert.display(),
        key.display()
    )
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

/// An HTTPS client that trusts `roots` only (the default roots when `None`).
fn agent(roots: Option<&[u8]>) -> ureq::Agent {
    let mut tls = ureq::tls::TlsConfig::builder();
    if let Some(der) = roots {
        tls = tls.root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![
            ureq::tls::Certificate::from_der(der).to_owned(),
        ])));
    }
    ureq::Agent::config_builder()
        .tls_config(tls.build())
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// Status and body of a GET.
fn get(agent: &ureq::Agent, url: &str) -> Result<(u16, String), ureq::Error> {
    let mut response = agent.get(url).call()?;
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string()?;
    Ok((status, body))
}

#[test]
fn the_api_serves_https_with_the_configured_certificate_and_not_plain_http() {
    let (cert, der, key) = self_signed();
    let scratch = tempfile::tempdir().expect("temp dir");
    let cert_file = write(scratch.path(), "cert.pem", &cert);
    let key_file = write(scratch.path(), "key.pem", &key);
    let setup = setup(&tls_table(&cert_file, &key_file));
    let (mut child, addr) = start(&setup);
    let port = addr.port();
    let trusting = agent(Some(&der));

    for host in ["127.0.0.1", "localhost"] {
        let (status, body) = get(&trusting, &format!("https://{host}:{port}/api/v1/status"))
            .unwrap_or_else(|e| panic!("HTTPS to {host}: {e}"));
        assert_eq!(status, 200, "{body}");
        let status: serde_json::Value = serde_json::from_str(&body).expect("status is JSON");
        assert!(status["events_decided"].is_u64(), "{status}");
    }

    // A client that does not trust the certificate refuses it.
    let error = get(
        &agent(None),
        &format!("https://127.0.0.1:{port}/api/v1/status"),
    )
    .expect_err("an untrusted self-signed certificate is refused");
    assert!(
        matches!(error, ureq::Error::Rustls(_) | ureq::Error::Io(_)),
        "{error:?}"
    );

    // Plain HTTP on the same port gets no HTTP answer.
    let error = get(&trusting, &format!("http://127.0.0.1:{port}/api/v1/status"))
        .map(|(status, body)| format!("answered {status}: {body}"));
    assert!(error.is_err(), "plain HTTP: {error:?}");
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
        .write_all(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    assert!(
        !String::from_utf8_lossy(&raw).contains("HTTP/1.1"),
        "plain HTTP was answered: {}",
        String::from_utf8_lossy(&raw)
    );

    // Mutating calls work over HTTPS with the token: shut down.
    let response = trusting
        .post(format!("https://127.0.0.1:{port}/api/v1/shutdown"))
        .header("Authorization", format!("Bearer {TOKEN}"))
        .send_empty()
        .expect("shutdown request");
    assert_eq!(response.status().as_u16(), 202);
    let exit = wait_exit(&mut child, Duration::from_secs(30));
    let log = std::fs::read_to_string(&setup.vigil_log).unwrap_or_default();
    assert!(exit.success(), "exit {exit}: {log}");
}

fn vigil(args: &[&str]) -> Output {
    Command::new(vigil_bin())
        .args(args)
        .env("RUST_LOG", "info")
        .output()
        .expect("vigil runs")
}

/// `vigil check-config` and `vigil run` both fail, naming `field` and `path`, and `run`
/// stops before it opens its state directory (which comes after the port is bound).
fn refused(setup: &Setup, field: &str, path: &Path) {
    let config = setup.config.to_str().expect("utf-8");
    for args in [
        vec!["check-config", config],
        vec!["run", "--config", config],
    ] {
        let output = vigil(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} succeeded: {stderr}");
        assert!(stderr.contains(field), "{args:?}: {field} not in {stderr}");
        let path = path.display().to_string();
        assert!(stderr.contains(&path), "{args:?}: {path} not in {stderr}");
    }
    assert!(
        !setup.state_dir().exists(),
        "vigil run went on past the API's TLS set-up"
    );
}

#[test]
fn a_bad_certificate_or_key_stops_start_up_naming_the_field() {
    let (cert, _, _key) = self_signed();
    let (_, _, other_key) = self_signed();
    let scratch = tempfile::tempdir().expect("temp dir");
    let cert_file = write(scratch.path(), "cert.pem", &cert);
    let other_key_file = write(scratch.path(), "other-key.pem", &other_key);
    let missing = scratch.path().join("missing.pem");

    // The key of another certificate.
    let setup_mismatch = setup(&tls_table(&cert_file, &other_key_file));
    refused(&setup_mismatch, "api.tls.key_file", &other_key_file);

    // A certificate file that does not exist.
    let setup_missing = setup(&tls_table(&missing, &other_key_file));
    refused(&setup_missing, "api.tls.cert_file", &missing);

    // A key file with no key in it.
    let setup_no_key = setup(&tls_table(&cert_file, &cert_file));
    refused(&setup_no_key, "api.tls.key_file", &cert_file);

    // Half a table.
    let half = setup(&format!(
        "[api.tls]\ncert_file = \"{}\"",
        cert_file.display()
    ));
    let output = vigil(&["check-config", half.config.to_str().expect("utf-8")]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("api.tls.key_file"), "{stderr}");
}
