//! The dashboard of the real `vigil demo` (and `vigil replay --listen`), on an ephemeral port:
//! the page and its assets with their security headers; the sign-in that trades the API
//! token for an HttpOnly, SameSite=Strict session cookie; reads with the cookie under
//! `read_requires_token`; mutating calls refused without or with a wrong CSRF token and
//! accepted with the right one; sign-out; expiry; sign-in refused without a configured
//! token; the demo's generated sign-in token.

#[path = "common/web.rs"]
mod web;

use std::path::{Path, PathBuf};
use std::time::Duration;

use web::{Running, request, session_cookie, start, start_demo};

const TOKEN: &str = "dashboard-test-token-0123456789";

const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

/// A demo config: the API on an ephemeral port with `api` lines, slow demo traffic.
fn demo_config(dir: &Path, api: &str) -> PathBuf {
    let config = dir.join("vigil.toml");
    std::fs::write(
        &config,
        format!(
            "[api]\nlisten = \"127.0.0.1:0\"\n{api}\n[demo]\ntime_acceleration = 5.0\n[pipeline]\nshutdown_grace_secs = 5\n"
        ),
    )
    .expect("write the config");
    config
}

fn shutdown(mut running: Running, token: &str) {
    let auth = format!("Bearer {token}");
    let answer = request(
        running.addr,
        "POST",
        "/api/v1/shutdown",
        &[("Authorization", &auth)],
        None,
    );
    assert_eq!(answer.status, 202, "{}", answer.text());
    let status = running.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "{status}: {}", running.log_text());
}

#[test]
fn the_page_and_its_assets_are_served_with_strict_headers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = demo_config(
        dir.path(),
        &format!("token = \"{TOKEN}\"\nread_requires_token = true"),
    );
    let running = start_demo(&config, &[], &dir.path().join("vigil.log"));
    let addr = running.addr;
    assert_eq!(running.url.as_deref(), Some(&*format!("http://{addr}/")));
    assert_eq!(
        running.token.as_deref(),
        Some("api.token of the config"),
        "a configured token is not printed"
    );

    // The page is open even when reads need the token: it holds no data.
    let page = request(addr, "GET", "/", &[], None);
    assert_eq!(page.status, 200, "{}", page.text());
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = page.text();
    assert!(html.contains("id=\"signin-form\""), "{html}");
    for (path, content_type) in [
        ("/", "text/html; charset=utf-8"),
        ("/assets/app.js", "text/javascript; charset=utf-8"),
        ("/assets/app.css", "text/css; charset=utf-8"),
        ("/assets/world-map.js", "text/javascript; charset=utf-8"),
        ("/assets/favicon.png", "image/png"),
    ] {
        let answer = request(addr, "GET", path, &[], None);
        assert_eq!(answer.status, 200, "{path}");
        assert_eq!(answer.header("content-type"), Some(content_type), "{path}");
        assert_eq!(
            answer.header("content-security-policy"),
            Some(CSP),
            "{path}"
        );
        assert_eq!(
            answer.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            answer.header("referrer-policy"),
            Some("no-referrer"),
            "{path}"
        );
        assert!(!answer.body.is_empty(), "{path}");
        let etag = answer.header("etag").expect("an ETag").to_string();
        let again = request(addr, "GET", path, &[("If-None-Match", &etag)], None);
        assert_eq!(again.status, 304, "{path} with its ETag");
        assert!(again.body.is_empty());
        if path != "/" {
            assert!(html.contains(path), "the page loads {path}");
        }
    }
    let text = request(addr, "GET", "/assets/world-map.js", &[], None).text();
    assert!(text.contains("Natural Earth"), "the map names its source");
    let missing = request(addr, "GET", "/assets/nothing.js", &[], None);
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"], "not_found");
    let wrong_method = request(addr, "POST", "/", &[], None);
    assert_eq!(wrong_method.status, 405);

    // The status says GeoIP is off, and why.
    let auth = format!("Bearer {TOKEN}");
    let status = request(
        addr,
        "GET",
        "/api/v1/status",
        &[("Authorization", &auth)],
        None,
    );
    assert_eq!(status.status, 200, "{}", status.text());
    let geoip = &status.json()["geoip"];
    assert_eq!(geoip["enabled"], false, "{geoip}");
    assert!(
        geoip["reason"]
            .as_str()
            .is_some_and(|r| r.contains("geoip.databases")),
        "{geoip}"
    );
    shutdown(running, TOKEN);
}

#[test]
fn a_session_cookie_reads_and_with_its_csrf_token_writes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = demo_config(
        dir.path(),
        &format!("token = \"{TOKEN}\"\nread_requires_token = true"),
    );
    let running = start_demo(&config, &[], &dir.path().join("vigil.log"));
    let addr = running.addr;
    let post = |path: &str, headers: &[(&str, &str)], body: &str| {
        request(addr, "POST", path, headers, Some(body.as_bytes()))
    };

    // Sign-in: a wrong token, a bad body, then the right token.
    let wrong = post(
        "/api/v1/session",
        &[],
        r#"{"token":"not-the-token-at-all"}"#,
    );
    assert_eq!(wrong.status, 401, "{}", wrong.text());
    assert_eq!(wrong.json()["error"], "unauthorized");
    assert!(session_cookie(&wrong).is_none());
    let bad = post("/api/v1/session", &[], r#"{"tokn":"x"}"#);
    assert_eq!(bad.status, 400, "{}", bad.text());
    let signed = post("/api/v1/session", &[], &format!(r#"{{"token":"{TOKEN}"}}"#));
    assert_eq!(signed.status, 200, "{}", signed.text());
    let set_cookie = signed.header("set-cookie").expect("a cookie").to_string();
    let attributes: Vec<&str> = set_cookie.split(';').map(str::trim).collect();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(attributes.contains(&attribute), "{set_cookie}");
    }
    assert!(
        !attributes.contains(&"Secure"),
        "no TLS, no Secure: {set_cookie}"
    );
    let id = session_cookie(&signed).expect("vigil_session");
    assert_eq!(id.len(), 43, "256 bits, base64url: {id}");
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert!(!set_cookie.contains(TOKEN) && !signed.text().contains(TOKEN));
    let session = signed.json();
    let csrf = session["csrf_token"]
        .as_str()
        .expect("csrf_token")
        .to_string();
    assert_ne!(csrf, id);
    let expires =
        chrono::DateTime::parse_from_rfc3339(session["expires_at"].as_str().expect("expires_at"))
            .expect("RFC 3339");
    let hours =
        (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_minutes() as f64 / 60.0;
    assert!((11.9..=12.0).contains(&hours), "12 h by default: {hours}");

    let cookie = format!("vigil_session={id}");
    let with_cookie = [("Cookie", cookie.as_str())];

    // Reads: refused without anything, served with the cookie, refused with another cookie.
    assert_eq!(
        request(addr, "GET", "/api/v1/status", &[], None).status,
        401
    );
    let read = request(addr, "GET", "/api/v1/status", &with_cookie, None);
    assert_eq!(read.status, 200, "{}", read.text());
    let forged = request(
        addr,
        "GET",
        "/api/v1/status",
        &[(
            "Cookie",
            "vigil_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )],
        None,
    );
    assert_eq!(forged.status, 401);
    assert!(
        forged.json()["detail"]
            .as_str()
            .is_some_and(|d| d.contains("sign in"))
    );
    let current = request(addr, "GET", "/api/v1/session", &with_cookie, None);
    assert_eq!(current.status, 200);
    assert_eq!(
        current.json()["csrf_token"],
        csrf.as_str(),
        "a reload gets it back"
    );
    assert_eq!(
        request(addr, "GET", "/api/v1/session", &[], None).status,
        401
    );

    // Writes: the cookie alone, or with a wrong CSRF token, is refused; with it, accepted.
    let pause = "/api/v1/sources/demo/pause";
    for headers in [
        vec![("Cookie", cookie.as_str())],
        vec![("Cookie", cookie.as_str()), ("X-CSRF-Token", "wrong-csrf")],
        vec![("Cookie", cookie.as_str()), ("X-CSRF-Token", &id)],
    ] {
        let refused = request(addr, "POST", pause, &headers, None);
        assert_eq!(refused.status, 403, "{headers:?}: {}", refused.text());
        let body = refused.json();
        assert_eq!(body["error"], "forbidden");
        assert!(
            body["detail"].as_str().is_some_and(|d| d.contains("CSRF")),
            "{body}"
        );
    }
    let with_csrf = [("Cookie", cookie.as_str()), ("X-CSRF-Token", csrf.as_str())];
    let paused = request(addr, "POST", pause, &with_csrf, None);
    assert_eq!(paused.status, 200, "{}", paused.text());
    assert_eq!(paused.json()["state"], "paused");
    let resumed = request(
        addr,
        "POST",
        "/api/v1/sources/demo/resume",
        &with_csrf,
        None,
    );
    assert_eq!(resumed.status, 200, "{}", resumed.text());
    // A CSRF token without the cookie is nothing.
    let alone = request(
        addr,
        "POST",
        pause,
        &[("X-CSRF-Token", csrf.as_str())],
        None,
    );
    assert_eq!(alone.status, 401);

    // Sign-out needs the CSRF token too; afterwards the cookie is refused.
    let refused = request(addr, "DELETE", "/api/v1/session", &with_cookie, None);
    assert_eq!(refused.status, 403, "{}", refused.text());
    let out = request(addr, "DELETE", "/api/v1/session", &with_csrf, None);
    assert_eq!(out.status, 204, "{}", out.text());
    let cleared = out.header("set-cookie").expect("the cookie is cleared");
    assert!(
        cleared.starts_with("vigil_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    assert_eq!(
        request(addr, "GET", "/api/v1/status", &with_cookie, None).status,
        401
    );
    assert_eq!(
        request(addr, "GET", "/api/v1/session", &with_cookie, None).status,
        401
    );
    assert_eq!(request(addr, "POST", pause, &with_csrf, None).status, 401);
    shutdown(running, TOKEN);
}

#[test]
fn the_demo_generates_a_token_and_sessions_expire() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = demo_config(dir.path(), "session_ttl_secs = 1");
    let running = start_demo(&config, &[], &dir.path().join("vigil.log"));
    let addr = running.addr;
    let token = running
        .token
        .clone()
        .expect("the demo prints a sign-in token");
    assert!(token.len() >= 16, "{token}");
    let signed = request(
        addr,
        "POST",
        "/api/v1/session",
        &[],
        Some(format!(r#"{{"token":"{token}"}}"#).as_bytes()),
    );
    assert_eq!(signed.status, 200, "{}", signed.text());
    let cookie = format!("vigil_session={}", session_cookie(&signed).expect("cookie"));
    std::thread::sleep(Duration::from_millis(1500));
    let expired = request(addr, "GET", "/api/v1/session", &[("Cookie", &cookie)], None);
    assert_eq!(expired.status, 401, "{}", expired.text());
    let csrf = signed.json()["csrf_token"]
        .as_str()
        .expect("csrf")
        .to_string();
    let write = request(
        addr,
        "POST",
        "/api/v1/sources/demo/pause",
        &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
        None,
    );
    assert_eq!(write.status, 401, "an expired session writes nothing");

    // Another run generates another token.
    let other_dir = tempfile::tempdir().expect("temp dir");
    let other_config = demo_config(other_dir.path(), "");
    let other = start_demo(&other_config, &[], &other_dir.path().join("vigil.log"));
    assert_ne!(other.token.as_deref(), Some(token.as_str()));
    let other_token = other.token.clone().expect("a token");
    shutdown(other, &other_token);
    shutdown(running, &token);
}

#[test]
fn without_a_configured_token_sign_in_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("vigil.toml");
    std::fs::write(&config, "[pipeline]\nshutdown_grace_secs = 5\n").expect("config");
    let input = dir.path().join("empty.json");
    std::fs::write(&input, "").expect("input");
    let log = dir.path().join("vigil.log");
    let mut running = start(
        &[
            "replay",
            "--config",
            config.to_str().expect("utf-8"),
            "--listen",
            "127.0.0.1:0",
            "--hold",
            "--format",
            "cowrie",
            input.to_str().expect("utf-8"),
        ],
        &log,
        "vigil replay: admin API on ",
    );
    let refused = request(
        running.addr,
        "POST",
        "/api/v1/session",
        &[],
        Some(br#"{"token":"any-token-0123456789"}"#),
    );
    assert_eq!(refused.status, 403, "{}", refused.text());
    let body = refused.json();
    assert_eq!(body["error"], "forbidden");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("api.token")),
        "{body}"
    );
    assert_eq!(request(running.addr, "GET", "/", &[], None).status, 200);
    let _ = running.child.kill();
    running.wait_exit(Duration::from_secs(10));
}
