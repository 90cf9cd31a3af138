//! Dashboard sessions: the sign-in that trades the API token for a session cookie.
//!
//! `POST /api/v1/session` with `{"token": "..."}` checks the token (SHA-256 digests compared
//! in constant time, like the bearer token) and answers with a cookie `vigil_session` (256
//! random bits, base64url; `HttpOnly`, `SameSite=Strict`, `Path=/`, and `Secure` when the
//! server runs TLS) and the session's CSRF token. The page's script never holds the API
//! token: reads carry the cookie, mutating calls the cookie and `X-CSRF-Token`. `GET
//! /api/v1/session` gives a reloaded page its CSRF token back; `DELETE /api/v1/session`
//! signs out.
//!
//! Sessions live in memory (a restart signs everyone out), at most [`MAX_SESSIONS`] (the
//! oldest is dropped), each for `api.session_ttl_secs`. The table is keyed by the SHA-256 of
//! the session id, so neither a lookup's timing nor a memory dump gives a usable id away.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, COOKIE, HeaderMap, SET_COOKIE,
};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::request::read_body;
use super::{Access, ApiError, ApiState, constant_time_eq};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "vigil_session";

/// The header that carries the session's CSRF token on mutating calls.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Most sessions held at once; a new one beyond drops the oldest.
pub const MAX_SESSIONS: usize = 1000;

/// The session lifetime when the configuration does not say (`api.session_ttl_secs`).
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(43_200);

/// How long a refused sign-in waits before it answers, to slow down guessing.
const FAILED_SIGN_IN_DELAY: Duration = Duration::from_millis(400);

/// `n` random bytes from the operating system, base64url without padding.
///
/// # Errors
/// `/dev/urandom` cannot be read.
pub fn random_token(n: usize) -> std::io::Result<String> {
    let mut bytes = vec![0u8; n];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(base64url(&bytes))
}

/// Base64url (RFC 4648 section 5) without padding.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

fn digest(text: &[u8]) -> [u8; 32] {
    Sha256::digest(text).into()
}

/// One signed-in browser.
struct Session {
    csrf: String,
    csrf_digest: [u8; 32],
    expires: Instant,
    expires_at: chrono::DateTime<chrono::Utc>,
    /// Creation order, to drop the oldest when the table is full.
    created: u64,
}

/// What a handler learns about a valid session.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SessionView {
    csrf: String,
    csrf_digest: [u8; 32],
    expires_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Default)]
struct Table {
    by_digest: HashMap<[u8; 32], Session>,
    created: u64,
}

/// The sessions of one server, in memory.
pub(super) struct Sessions {
    ttl: Duration,
    secure: bool,
    table: Mutex<Table>,
}

impl Sessions {
    /// No sessions yet; each lasts `ttl`; cookies without `Secure`.
    pub(super) fn new(ttl: Duration) -> Sessions {
        Sessions {
            ttl,
            secure: false,
            table: Mutex::new(Table::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new session: its id (the cookie's value) and what the page gets.
    fn create(&self) -> std::io::Result<(String, SessionView)> {
        let id = random_token(32)?;
        let csrf = random_token(32)?;
        let now = Instant::now();
        let expires_at = chrono::Utc::now()
            + chrono::TimeDelta::from_std(self.ttl).unwrap_or(chrono::TimeDelta::MAX);
        let view = SessionView {
            csrf_digest: digest(csrf.as_bytes()),
            csrf,
            expires_at,
        };
        let mut table = self.lock();
        table.by_digest.retain(|_, s| s.expires > now);
        while table.by_digest.len() >= MAX_SESSIONS {
            let oldest = table
                .by_digest
                .iter()
                .min_by_key(|(_, s)| s.created)
                .map(|(k, _)| *k);
            match oldest {
                Some(key) => table.by_digest.remove(&key),
                None => break,
            };
        }
        table.created += 1;
        let created = table.created;
        table.by_digest.insert(
            digest(id.as_bytes()),
            Session {
                csrf: view.csrf.clone(),
                csrf_digest: view.csrf_digest,
                expires: now + self.ttl,
                expires_at,
                created,
            },
        );
        Ok((id, view))
    }

    /// The session of this id, when it exists and has not expired.
    fn find(&self, id: &str) -> Option<SessionView> {
        let key = digest(id.as_bytes());
        let mut table = self.lock();
        let session = table.by_digest.get(&key)?;
        if session.expires <= Instant::now() {
            table.by_digest.remove(&key);
            return None;
        }
        Some(SessionView {
            csrf: session.csrf.clone(),
            csrf_digest: session.csrf_digest,
            expires_at: session.expires_at,
        })
    }

    fn remove(&self, id: &str) {
        self.lock().by_digest.remove(&digest(id.as_bytes()));
    }

    /// How many sessions are held (expired ones included until they are swept).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().by_digest.len()
    }

    /// The `Set-Cookie` value of a session id (or, with `None`, one that clears the cookie).
    fn cookie(&self, id: Option<&str>) -> String {
        let mut cookie = match id {
            Some(id) => format!("{SESSION_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/"),
            None => format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
        };
        if self.secure {
            cookie.push_str("; Secure");
        }
        cookie
    }
}

/// The value of the `vigil_session` cookie, if the request carries one.
fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// Whether the request's `X-CSRF-Token` is the session's (digests compared in constant
/// time); the error says what is wrong.
fn check_csrf(headers: &HeaderMap, session: &SessionView) -> Result<(), ApiError> {
    let Some(given) = headers.get(CSRF_HEADER) else {
        return Err(ApiError::Forbidden(
            "a mutating call with a session cookie needs the session's CSRF token in the X-CSRF-Token header".to_string(),
        ));
    };
    if constant_time_eq(&digest(given.as_bytes()), &session.csrf_digest) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "the X-CSRF-Token header is not this session's CSRF token".to_string(),
        ))
    }
}

impl ApiState {
    /// Sessions last `ttl` (`api.session_ttl_secs`; 12 hours by default).
    pub fn with_session_ttl(mut self, ttl: Duration) -> ApiState {
        self.sessions.ttl = ttl;
        self
    }

    /// Marks session cookies `Secure` (when the server runs TLS).
    pub fn with_secure_cookies(mut self, secure: bool) -> ApiState {
        self.sessions.secure = secure;
        self
    }

    /// Authorises a request by its headers: the bearer token when the request carries
    /// `Authorization`; otherwise a valid session cookie for reads, and for mutating calls
    /// the cookie and the session's CSRF token in `X-CSRF-Token`.
    pub(super) fn authorize_request(
        &self,
        access: Access,
        headers: &HeaderMap,
    ) -> Result<(), ApiError> {
        let authorization = headers.get(AUTHORIZATION).map(|v| v.as_bytes());
        if authorization.is_some() {
            return self.authorize(access, authorization);
        }
        let refused = match self.authorize(access, None) {
            Ok(()) => return Ok(()),
            Err(error @ ApiError::Unauthorized(_)) => error,
            Err(error) => return Err(error),
        };
        let Some(id) = session_cookie(headers) else {
            return Err(refused);
        };
        let Some(session) = self.sessions.find(id) else {
            return Err(ApiError::Unauthorized(
                "the session has expired or was signed out: sign in again (POST /api/v1/session)"
                    .to_string(),
            ));
        };
        match access {
            Access::Open | Access::Read => Ok(()),
            Access::Write => check_csrf(headers, &session),
        }
    }
}

/// The body of `POST /api/v1/session`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    token: String,
}

fn session_response(
    mut response: actix_web::HttpResponseBuilder,
    view: &SessionView,
) -> HttpResponse {
    let body = serde_json::json!({
        "csrf_token": view.csrf,
        "expires_at": view.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    });
    response
        .insert_header((CONTENT_TYPE, "application/json"))
        .insert_header((CACHE_CONTROL, "no-store"))
        .body(body.to_string())
}

/// `POST /api/v1/session`: the API token for a session cookie and a CSRF token.
pub(super) async fn sign_in(
    state: web::Data<ApiState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let Some(expected) = &state.token_digest else {
        return Err(ApiError::Forbidden(
            "no API token is configured (api.token or api.token_file): sign-in is disabled"
                .to_string(),
        ));
    };
    let body = read_body(&req, payload, state.settings.max_body_bytes).await?;
    let sign_in: SignIn = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!(
            "the body must be {{\"token\": \"<API token>\"}}: {e}"
        ))
    })?;
    if !constant_time_eq(&digest(sign_in.token.as_bytes()), expected) {
        let peer = req
            .peer_addr()
            .map_or_else(|| "unknown".to_string(), |addr| addr.ip().to_string());
        tracing::warn!(peer, "dashboard sign-in refused: wrong token");
        tokio::time::sleep(FAILED_SIGN_IN_DELAY).await;
        return Err(ApiError::Unauthorized("wrong token".to_string()));
    }
    let (id, view) = state
        .sessions
        .create()
        .map_err(|e| ApiError::store("creating a session", e))?;
    tracing::info!(expires_at = %view.expires_at, "dashboard sign-in");
    let mut response = HttpResponse::Ok();
    response.insert_header((SET_COOKIE, state.sessions.cookie(Some(&id))));
    Ok(session_response(response, &view))
}

/// `GET /api/v1/session`: the current session's CSRF token and expiry (401 without one).
pub(super) async fn current(
    state: web::Data<ApiState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let view = session_cookie(req.headers())
        .and_then(|id| state.sessions.find(id))
        .ok_or_else(|| {
            ApiError::Unauthorized(
                "no valid session: sign in with POST /api/v1/session".to_string(),
            )
        })?;
    Ok(session_response(HttpResponse::Ok(), &view))
}

/// `DELETE /api/v1/session`: signs out (the session's CSRF token needed); 204, also when
/// there was no valid session.
pub(super) async fn sign_out(
    state: web::Data<ApiState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    if let Some(id) = session_cookie(req.headers())
        && let Some(session) = state.sessions.find(id)
    {
        check_csrf(req.headers(), &session)?;
        state.sessions.remove(id);
        tracing::info!("dashboard sign-out");
    }
    Ok(HttpResponse::NoContent()
        .insert_header((SET_COOKIE, state.sessions.cookie(None)))
        .insert_header((CACHE_CONTROL, "no-store"))
        .finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    #[test]
    fn base64url_matches_rfc_4648_vectors() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"foob"), "Zm9vYg");
        assert_eq!(base64url(b"fooba"), "Zm9vYmE");
        assert_eq!(base64url(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64url(&[0xfb, 0xff, 0xfe]), "-__-");
        let token = random_token(32).expect("random bytes");
        assert_eq!(token.len(), 43);
        assert_ne!(token, random_token(32).expect("random bytes"));
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        assert_eq!(session_cookie(&headers), None);
        headers.insert(
            COOKIE,
            HeaderValue::from_static("a=1; vigil_session=abc-_; b=2"),
        );
        assert_eq!(session_cookie(&headers), Some("abc-_"));
        headers.insert(COOKIE, HeaderValue::from_static("vigil_session="));
        assert_eq!(session_cookie(&headers), None);
        headers.insert(COOKIE, HeaderValue::from_static("xvigil_session=abc"));
        assert_eq!(session_cookie(&headers), None);
    }

    #[test]
    fn sessions_are_bounded_expire_and_can_be_removed() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let (first, view) = sessions.create().expect("session");
        assert_eq!(sessions.find(&first), Some(view.clone()));
        assert_eq!(sessions.find("not-a-session"), None);
        for _ in 1..MAX_SESSIONS {
            sessions.create().expect("session");
        }
        assert_eq!(sessions.len(), MAX_SESSIONS);
        assert!(sessions.find(&first).is_some());
        let (last, _) = sessions.create().expect("session");
        assert_eq!(sessions.len(), MAX_SESSIONS);
        assert_eq!(sessions.find(&first), None, "the oldest was dropped");
        assert!(sessions.find(&last).is_some());
        sessions.remove(&last);
        assert_eq!(sessions.find(&last), None);

        let expired = Sessions::new(Duration::ZERO);
        let (id, _) = expired.create().expect("session");
        assert_eq!(expired.find(&id), None);
    }

    #[test]
    fn cookies_carry_the_attributes() {
        let mut sessions = Sessions::new(Duration::from_secs(60));
        assert_eq!(
            sessions.cookie(Some("x")),
            "vigil_session=x; HttpOnly; SameSite=Strict; Path=/"
        );
        sessions.secure = true;
        assert!(sessions.cookie(None).ends_with("Max-Age=0; Secure"));
    }

    fn guarded_state(dir: &std::path::Path) -> ApiState {
        let store = vigil_state::Store::open(dir, &vigil_state::StoreOptions::default())
            .expect("store opens");
        let stats = crate::stats::PipelineStats::new();
        let metrics = super::super::basic_metrics(stats.clone(), store.clone());
        ApiState::new(
            super::super::ApiSettings {
                token: Some("0123456789abcdef-token".to_string()),
                read_requires_token: true,
                max_body_bytes: 4096,
                max_page: 10,
                redact_credentials: true,
                tls: false,
            },
            store,
            stats,
            Vec::new(),
            std::sync::Arc::new(tokio::sync::Notify::new()),
            metrics,
            Instant::now(),
        )
    }

    #[test]
    fn the_gate_takes_a_cookie_for_reads_and_a_csrf_token_for_writes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = guarded_state(dir.path());
        let (id, view) = state.sessions.create().expect("session");
        let headers = |pairs: &[(&'static str, String)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.append(
                    actix_web::http::header::HeaderName::from_static(name),
                    HeaderValue::from_str(value).expect("header"),
                );
            }
            map
        };
        let cookie = format!("{SESSION_COOKIE}={id}");
        let none = headers(&[]);
        let with_cookie = headers(&[("cookie", cookie.clone())]);
        let with_csrf = headers(&[("cookie", cookie.clone()), (CSRF_HEADER, view.csrf.clone())]);
        let wrong_csrf = headers(&[("cookie", cookie), (CSRF_HEADER, "x".to_string())]);
        let forged = headers(&[("cookie", format!("{SESSION_COOKIE}=forged"))]);
        assert_eq!(state.authorize_request(Access::Open, &none), Ok(()));
        assert!(matches!(
            state.authorize_request(Access::Read, &none),
            Err(ApiError::Unauthorized(_))
        ));
        assert_eq!(state.authorize_request(Access::Read, &with_cookie), Ok(()));
        assert!(matches!(
            state.authorize_request(Access::Read, &forged),
            Err(ApiError::Unauthorized(_))
        ));
        assert!(matches!(
            state.authorize_request(Access::Write, &with_cookie),
            Err(ApiError::Forbidden(detail)) if detail.contains("CSRF")
        ));
        assert!(matches!(
            state.authorize_request(Access::Write, &wrong_csrf),
            Err(ApiError::Forbidden(detail)) if detail.contains("CSRF")
        ));
        assert_eq!(state.authorize_request(Access::Write, &with_csrf), Ok(()));
        // A bearer header decides alone, even beside a valid cookie.
        let mut bearer_wrong = with_csrf.clone();
        bearer_wrong.insert(AUTHORIZATION, HeaderValue::from_static("Bearer wrong"));
        assert!(matches!(
            state.authorize_request(Access::Write, &bearer_wrong),
            Err(ApiError::Unauthorized(_))
        ));
        state.sessions.remove(&id);
        assert!(matches!(
            state.authorize_request(Access::Write, &with_csrf),
            Err(ApiError::Unauthorized(_))
        ));
    }

    #[test]
    fn csrf_is_checked_against_the_session() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let (_, view) = sessions.create().expect("session");
        let mut headers = HeaderMap::new();
        assert!(matches!(
            check_csrf(&headers, &view),
            Err(ApiError::Forbidden(_))
        ));
        headers.insert(
            actix_web::http::header::HeaderName::from_static(CSRF_HEADER),
            HeaderValue::from_static("wrong"),
        );
        assert!(matches!(
            check_csrf(&headers, &view),
            Err(ApiError::Forbidden(_))
        ));
        headers.insert(
            actix_web::http::header::HeaderName::from_static(CSRF_HEADER),
            HeaderValue::from_str(&view.csrf).expect("header"),
        );
        assert_eq!(check_csrf(&headers, &view), Ok(()));
    }
}
