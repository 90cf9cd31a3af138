//! Alerts (list, one, analyst update) and drift events, served from the stored bytes.
//!
//! The store keeps each alert serialised once; these handlers splice those bytes into the
//! response instead of decoding and re-encoding them. Filters that the store does not index
//! (severity, detector, minimum score) read three fields of each candidate. With
//! `outputs.redact_credentials` the `password` member is cut out of the bytes.
//!
//! Paging is newest first by event time (`order=newest`, the default); the cursor is the
//! store key (event time and id) of the last alert examined, so a walk through the pages
//! returns every alert stored before it started exactly once, whatever arrives meanwhile
//! (alerts keep their key when their repeats are counted or an analyst updates them).
//!
//! `order=score` pages highest score first (equal scores newest first) over the store's
//! score index; its cursor is the score and key of the last alert examined (48 hex digits,
//! where a newest-first cursor has 32), and a cursor of one order given with the other is
//! refused. `min_score` ends the scan at the first lower score. With `src_ip`, the store
//! ranks that source's alerts (it has no per-source score index): each step reads the
//! source's index entries in the time bounds once. A repeat that raises an alert's score
//! during a walk moves it in this order, so such an alert may be met twice or not at all.

use std::borrow::Cow;
use std::net::IpAddr;

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use vigil_alert::{Alert, AlertState, EncodeOptions, Severity, encode_json};
use vigil_state::{AlertKey, DriftKey, ScoreCursor, Store};

use super::request::{parse_alert_id, query_pairs, read_body};
use super::{ApiError, ApiState};

/// Most stored alerts one list request examines when filters drop most of them; the page
/// then ends early with a cursor where the scan stopped, so one request stays short.
const SCAN_BUDGET: usize = 50_000;

/// Alerts read from the store per step of a filtered scan.
const SCAN_STEP: usize = 512;

/// Alerts per step of a filtered scan of one source in score order: each step reads all of
/// the source's index entries in the time bounds, so steps are fewer and larger.
const SOURCE_SCORE_STEP: usize = 5_000;

/// Longest `assignee` accepted, in bytes.
const MAX_ASSIGNEE_BYTES: usize = 256;

fn parse_time(name: &str, value: &str) -> Result<i64, ApiError> {
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| t.timestamp_micros())
        .map_err(|e| ApiError::parameter(name, format!("{value:?} is not an RFC 3339 time: {e}")))
}

fn parse_limit(value: &str, max_page: usize) -> Result<usize, ApiError> {
    match value.parse::<usize>() {
        Ok(limit) if (1..=max_page).contains(&limit) => Ok(limit),
        _ => Err(ApiError::parameter(
            "limit",
            format!("must be a whole number from 1 to {max_page}, got {value:?}"),
        )),
    }
}

fn default_limit(max_page: usize) -> usize {
    max_page.min(100)
}

/// The order of `GET /api/v1/alerts`, with where the previous page ended.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Order {
    /// Newest event time first, after this store key.
    Newest(Option<AlertKey>),
    /// Highest score first, after this position.
    Score(Option<ScoreCursor>),
}

impl Default for Order {
    fn default() -> Order {
        Order::Newest(None)
    }
}

impl Order {
    /// The order named by `order` (default newest), continuing at `cursor`, which must be
    /// one that order hands out.
    fn parse(order: Option<&str>, cursor: Option<&str>) -> Result<Order, ApiError> {
        let score_order = match order {
            None | Some("newest") => false,
            Some("score") => true,
            Some(other) => {
                return Err(ApiError::parameter(
                    "order",
                    format!("must be newest or score, got {other:?}"),
                ));
            }
        };
        let Some(text) = cursor else {
            return Ok(if score_order {
                Order::Score(None)
            } else {
                Order::Newest(None)
            });
        };
        let other_order = |other: &str, this: &str| {
            ApiError::parameter(
                "cursor",
                format!(
                    "{text:?} is a cursor of order={other}; give it with order={other}, or start order={this} without a cursor"
                ),
            )
        };
        let unknown = || {
            ApiError::parameter(
                "cursor",
                format!("{text:?} is not a cursor this API handed out"),
            )
        };
        if score_order {
            match text.parse::<ScoreCursor>() {
                Ok(cursor) => Ok(Order::Score(Some(cursor))),
                Err(_) if text.parse::<AlertKey>().is_ok() => Err(other_order("newest", "score")),
                Err(_) => Err(unknown()),
            }
        } else {
            match text.parse::<AlertKey>() {
                Ok(cursor) => Ok(Order::Newest(Some(cursor))),
                Err(_) if text.parse::<ScoreCursor>().is_ok() => {
                    Err(other_order("score", "newest"))
                }
                Err(_) => Err(unknown()),
            }
        }
    }
}

/// A parsed `GET /api/v1/alerts`.
#[derive(Debug, Default)]
struct AlertQuery {
    since: Option<i64>,
    until: Option<i64>,
    severity: Option<Severity>,
    src_ip: Option<IpAddr>,
    dst_port: Option<u16>,
    detector: Option<String>,
    min_score: Option<f64>,
    limit: usize,
    order: Order,
}

impl AlertQuery {
    fn parse(req: &HttpRequest, max_page: usize) -> Result<AlertQuery, ApiError> {
        let mut query = AlertQuery {
            limit: default_limit(max_page),
            ..AlertQuery::default()
        };
        let known = [
            "since",
            "until",
            "severity",
            "src_ip",
            "dst_port",
            "detector",
            "min_score",
            "limit",
            "cursor",
            "order",
        ];
        let mut order = None;
        let mut cursor = None;
        for (name, value) in query_pairs(req, &known)? {
            match name {
                "since" => query.since = Some(parse_time(name, &value)?),
                "until" => query.until = Some(parse_time(name, &value)?),
                "severity" => {
                    query.severity = Some(match value.to_ascii_lowercase().as_str() {
                        "red" => Severity::Red,
                        "orange" => Severity::Orange,
                        _ => {
                            return Err(ApiError::parameter(
                                name,
                                format!("must be red or orange, got {value:?}"),
                            ));
                        }
                    })
                }
                "src_ip" => {
                    query.src_ip = Some(value.parse().map_err(|_| {
                        ApiError::parameter(name, format!("{value:?} is not an IP address"))
                    })?)
                }
                "dst_port" => {
                    query.dst_port = Some(value.parse().map_err(|_| {
                        ApiError::parameter(
                            name,
                            format!("must be a port number from 0 to 65535, got {value:?}"),
                        )
                    })?)
                }
                "detector" => {
                    if value.is_empty() {
                        return Err(ApiError::parameter(name, "must not be empty"));
                    }
                    query.detector = Some(value);
                }
                "min_score" => match value.parse::<f64>() {
                    Ok(score) if (0.0..=1.0).contains(&score) => query.min_score = Some(score),
                    _ => {
                        return Err(ApiError::parameter(
                            name,
                            format!("must be a number from 0 to 1, got {value:?}"),
                        ));
                    }
                },
                "limit" => query.limit = parse_limit(&value, max_page)?,
                "cursor" => cursor = Some(value),
                "order" => order = Some(value),
                _ => {}
            }
        }
        query.order = Order::parse(order.as_deref(), cursor.as_deref())?;
        if let (Some(since), Some(until)) = (query.since, query.until)
            && since >= until
        {
            return Err(ApiError::parameter("until", "must be after `since`"));
        }
        Ok(query)
    }

    /// Whether a filter reads the alerts' bytes (in score order the store applies
    /// `min_score` itself).
    fn filters_bytes(&self) -> bool {
        self.severity.is_some()
            || self.dst_port.is_some()
            || self.detector.is_some()
            || (self.min_score.is_some() && matches!(self.order, Order::Newest(_)))
    }

    /// Whether a stored alert passes the filters the store does not apply.
    fn keeps(&self, bytes: &[u8]) -> bool {
        if !self.filters_bytes() {
            return true;
        }
        let min_score = match self.order {
            Order::Newest(_) => self.min_score,
            Order::Score(_) => None,
        };
        #[derive(Deserialize)]
        struct Indexed<'a> {
            #[serde(borrow)]
            severity: Cow<'a, str>,
            #[serde(borrow)]
            detector: Cow<'a, str>,
            score: f64,
            #[serde(default)]
            dst_port: Option<u16>,
        }
        let Ok(fields) = serde_json::from_slice::<Indexed<'_>>(bytes) else {
            tracing::warn!("API: a stored alert does not read back; left out of a filtered list");
            return false;
        };
        self.severity
            .is_none_or(|severity| fields.severity == severity.as_str())
            && self
                .detector
                .as_deref()
                .is_none_or(|detector| fields.detector == detector)
            && min_score.is_none_or(|min| fields.score >= min)
            && self
                .dst_port
                .is_none_or(|port| fields.dst_port == Some(port))
    }
}

/// Appends stored JSON (without its line end), the password cut out when asked.
fn push_alert(out: &mut Vec<u8>, bytes: &[u8], redact: bool) {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if redact {
        out.extend_from_slice(&without_member(bytes, b"password"));
    } else {
        out.extend_from_slice(bytes);
    }
}

/// `json` (one object) without its top-level member `key`, when it has one. Works on the
/// bytes: strings (with their escapes) and nesting are skipped, nothing is re-encoded.
fn without_member<'a>(json: &'a [u8], key: &[u8]) -> Cow<'a, [u8]> {
    let mut quoted = Vec::with_capacity(key.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(key);
    quoted.push(b'"');
    if memchr::memmem::find(json, &quoted).is_none() {
        return Cow::Borrowed(json);
    }
    // Walk the top-level object: depth 1 is inside it.
    let mut depth = 0usize;
    let mut i = 0usize;
    // Index of the ',' or '{' before the current member, at depth 1.
    let mut member_start = 0usize;
    let mut expect_key = false;
    while i < json.len() {
        match json[i] {
            b'"' => {
                let start = i;
                i += 1;
                while i < json.len() && json[i] != b'"' {
                    if json[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                // json[i] is the closing quote.
                if depth == 1 && expect_key {
                    expect_key = false;
                    if json.get(start..=i) == Some(&quoted[..]) {
                        let end = value_end(json, i + 1);
                        let mut out = Vec::with_capacity(json.len());
                        if json[member_start] == b',' {
                            // `,"key":value` goes.
                            out.extend_from_slice(&json[..member_start]);
                            out.extend_from_slice(&json[end..]);
                        } else {
                            // First member: `"key":value,` goes.
                            out.extend_from_slice(&json[..=member_start]);
                            let rest = &json[end..];
                            out.extend_from_slice(rest.strip_prefix(b",").unwrap_or(rest));
                        }
                        return Cow::Owned(out);
                    }
                }
            }
            b'{' | b'[' => {
                depth += 1;
                if depth == 1 {
                    member_start = i;
                    expect_key = true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' if depth == 1 => {
                member_start = i;
                expect_key = true;
            }
            _ => {}
        }
        i += 1;
    }
    Cow::Borrowed(json)
}

/// Index just past the value that follows `from` (which points at the `:` after a key, or
/// whitespace before it): the next `,` or `}` at the member's level.
fn value_end(json: &[u8], from: usize) -> usize {
    let mut depth = 0usize;
    let mut i = from;
    while i < json.len() {
        match json[i] {
            b'"' => {
                i += 1;
                while i < json.len() && json[i] != b'"' {
                    if json[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth == 0 => return i,
            b'}' | b']' => depth -= 1,
            b',' if depth == 0 => return i,
            _ => {}
        }
        i += 1;
    }
    json.len()
}

fn push_cursor(out: &mut Vec<u8>, cursor: Option<String>) {
    out.extend_from_slice(b"\"next_cursor\":");
    match cursor {
        Some(cursor) => {
            out.push(b'"');
            out.extend_from_slice(cursor.as_bytes());
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
}

fn json_body(body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/json"))
        .body(body)
}

/// One page of alerts as the response body: `{"alerts":[...],"next_cursor":...}`.
fn alert_page(store: &Store, query: &AlertQuery, redact: bool) -> Result<Vec<u8>, ApiError> {
    match query.order {
        Order::Newest(cursor) => write_page(query, redact, cursor, |returned, cursor| {
            let want = if query.filters_bytes() {
                SCAN_STEP
            } else {
                query.limit - returned
            };
            let page = match query.src_ip {
                Some(ip) => store.alerts_by_source(ip, query.since, query.until, want, cursor),
                None => store.alerts_range(query.since, query.until, want, cursor),
            }
            .map_err(|e| ApiError::store("reading alerts", e))?;
            Ok(Step {
                alerts: page.alerts.into_iter().map(|a| (a.key, a.bytes)).collect(),
                next: page.next_cursor,
                // The store fills every page it can.
                short_ends: false,
                want,
            })
        }),
        Order::Score(cursor) => write_page(query, redact, cursor, |returned, cursor| {
            let want = match (query.filters_bytes(), query.src_ip) {
                (false, _) => query.limit - returned,
                (true, None) => SCAN_STEP,
                (true, Some(_)) => SOURCE_SCORE_STEP,
            };
            let page = match query.src_ip {
                Some(ip) => store.alerts_by_source_and_score(
                    ip,
                    query.min_score,
                    query.since,
                    query.until,
                    want,
                    cursor,
                ),
                None => {
                    store.alerts_by_score(query.min_score, query.since, query.until, want, cursor)
                }
            }
            .map_err(|e| ApiError::store("reading alerts", e))?;
            Ok(Step {
                alerts: page
                    .alerts
                    .into_iter()
                    .map(|a| (a.cursor(), a.bytes))
                    .collect(),
                next: page.next_cursor,
                // A short page that goes on: the store spent its scan budget on entries
                // outside the time bounds. End this request with a short page where the
                // scan stopped.
                short_ends: true,
                want,
            })
        }),
    }
}

/// One read from the store while a page is written: each alert with the cursor that
/// continues after it, and where the store stopped.
struct Step<C> {
    alerts: Vec<(C, Vec<u8>)>,
    next: Option<C>,
    /// Whether a step shorter than `want` that goes on ends the page there.
    short_ends: bool,
    want: usize,
}

/// Writes one page from steps of `fetch` (given the alerts kept so far and the cursor),
/// keeping the alerts `query` keeps, up to `query.limit`, examining at most `SCAN_BUDGET`.
fn write_page<C: Clone + std::fmt::Display>(
    query: &AlertQuery,
    redact: bool,
    mut cursor: Option<C>,
    mut fetch: impl FnMut(usize, Option<C>) -> Result<Step<C>, ApiError>,
) -> Result<Vec<u8>, ApiError> {
    let mut body = Vec::with_capacity(64 + query.limit * 700);
    body.extend_from_slice(b"{\"alerts\":[");
    let mut returned = 0usize;
    let mut examined = 0usize;
    let next = 'scan: loop {
        let step = fetch(returned, cursor.clone())?;
        let count = step.alerts.len();
        for (i, (after, bytes)) in step.alerts.into_iter().enumerate() {
            examined += 1;
            let last_of_all = i + 1 == count && step.next.is_none();
            if query.keeps(&bytes) {
                if returned > 0 {
                    body.push(b',');
                }
                push_alert(&mut body, &bytes, redact);
                returned += 1;
                if returned == query.limit {
                    break 'scan (!last_of_all).then_some(after);
                }
            }
            if examined >= SCAN_BUDGET && !last_of_all {
                break 'scan Some(after);
            }
        }
        match step.next {
            Some(next) if step.short_ends && count < step.want => break Some(next),
            Some(next) => cursor = Some(next),
            None => break None,
        }
    };
    body.extend_from_slice(b"],");
    push_cursor(&mut body, next.map(|cursor| cursor.to_string()));
    body.push(b'}');
    Ok(body)
}

/// `GET /api/v1/alerts`.
pub(super) async fn list(
    state: web::Data<ApiState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = AlertQuery::parse(&req, state.settings.max_page)?;
    let store = state.store.clone();
    let redact = state.settings.redact_credentials;
    let body = web::block(move || alert_page(&store, &query, redact))
        .await
        .map_err(|e| ApiError::store("listing alerts", e))??;
    Ok(json_body(body))
}

/// `GET /api/v1/alerts/{id}`.
pub(super) async fn get(
    state: web::Data<ApiState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let alert_id = parse_alert_id(&id)?;
    let store = state.store.clone();
    let stored = web::block(move || store.get_alert(alert_id))
        .await
        .map_err(|e| ApiError::store("reading an alert", e))?
        .map_err(|e| ApiError::store("reading an alert", e))?
        .ok_or_else(|| ApiError::NotFound(format!("no alert {id}")))?;
    let mut body = Vec::with_capacity(stored.bytes.len());
    push_alert(&mut body, &stored.bytes, state.settings.redact_credentials);
    Ok(json_body(body))
}

/// The body of `PATCH /api/v1/alerts/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertPatch {
    state: Option<String>,
    assignee: Option<String>,
    note: Option<String>,
}

/// `PATCH /api/v1/alerts/{id}`: the analyst's state, assignee and note.
pub(super) async fn patch(
    state: web::Data<ApiState>,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let alert_id = parse_alert_id(&id)?;
    let body = read_body(&req, payload, state.settings.max_body_bytes).await?;
    let patch: AlertPatch = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!(
            "the body is not a JSON object of state, assignee and note: {e}"
        ))
    })?;
    let new_state = patch
        .state
        .as_deref()
        .map(|s| {
            s.parse::<AlertState>().map_err(|_| {
                ApiError::BadRequest(format!(
                    "field `state`: must be new, acknowledged or resolved, got {s:?}"
                ))
            })
        })
        .transpose()?;
    if new_state.is_none() && patch.assignee.is_none() && patch.note.is_none() {
        return Err(ApiError::BadRequest(
            "the body changes nothing: give state, assignee or note".to_string(),
        ));
    }
    if let Some(assignee) = &patch.assignee
        && assignee.len() > MAX_ASSIGNEE_BYTES
    {
        return Err(ApiError::BadRequest(format!(
            "field `assignee`: at most {MAX_ASSIGNEE_BYTES} bytes, got {}",
            assignee.len()
        )));
    }
    if let Some(editor) = &state.editor {
        let edit = crate::pipeline::EditAlert {
            id: alert_id,
            state: new_state,
            assignee: patch.assignee.clone(),
            note: patch.note.clone(),
        };
        match editor.send(edit).await {
            Ok(Ok(Some(updated))) => {
                tracing::info!(alert = %alert_id, "alert updated through the API");
                let mut body = Vec::with_capacity(updated.len());
                push_alert(&mut body, &updated, state.settings.redact_credentials);
                return Ok(json_body(body));
            }
            Ok(Ok(None)) => return Err(ApiError::NotFound(format!("no alert {alert_id}"))),
            Ok(Err(detail)) => return Err(ApiError::store("updating an alert", detail)),
            // The pipeline has stopped (a replay that holds the API open): write directly.
            Err(_) => {}
        }
    }
    let state2 = state.clone();
    let updated = web::block(move || -> Result<Vec<u8>, ApiError> {
        let _guard = state2
            .patch_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let store = &state2.store;
        let stored = store
            .get_alert(alert_id)
            .map_err(|e| ApiError::store("reading an alert", e))?
            .ok_or_else(|| ApiError::NotFound(format!("no alert {alert_id}")))?;
        let mut alert: Alert = serde_json::from_slice(&stored.bytes)
            .map_err(|e| ApiError::store("reading a stored alert", e))?;
        if let Some(new_state) = new_state {
            alert.state = new_state;
        }
        if let Some(assignee) = patch.assignee {
            alert.assignee = (!assignee.is_empty()).then_some(assignee);
        }
        if let Some(note) = patch.note {
            alert.note = (!note.is_empty()).then_some(note);
        }
        let mut bytes = Vec::with_capacity(stored.bytes.len() + 64);
        let store_form = EncodeOptions {
            redact_credentials: false,
            ..EncodeOptions::default()
        };
        encode_json(&alert, &store_form, &mut bytes)
            .map_err(|e| ApiError::store("serialising the alert", e))?;
        if !store
            .update_alert(alert_id, &bytes)
            .map_err(|e| ApiError::store("updating an alert", e))?
        {
            return Err(ApiError::NotFound(format!("no alert {alert_id}")));
        }
        tracing::info!(alert = %alert_id, state = %alert.state, "alert updated through the API");
        Ok(bytes)
    })
    .await
    .map_err(|e| ApiError::store("updating an alert", e))??;
    let mut body = Vec::with_capacity(updated.len());
    push_alert(&mut body, &updated, state.settings.redact_credentials);
    Ok(json_body(body))
}

/// `GET /api/v1/drift`: the pool's drift decisions, newest first.
pub(super) async fn drift(
    state: web::Data<ApiState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let max_page = state.settings.max_page;
    let mut limit = default_limit(max_page);
    let mut cursor: Option<DriftKey> = None;
    for (name, value) in query_pairs(&req, &["limit", "cursor"])? {
        match name {
            "limit" => limit = parse_limit(&value, max_page)?,
            _ => {
                cursor = Some(value.parse().map_err(|_| {
                    ApiError::parameter(
                        name,
                        format!("{value:?} is not a cursor this API handed out"),
                    )
                })?)
            }
        }
    }
    let store = state.store.clone();
    let page = web::block(move || store.drift_events(limit, cursor))
        .await
        .map_err(|e| ApiError::store("reading drift events", e))?
        .map_err(|e| ApiError::store("reading drift events", e))?;
    let mut body =
        Vec::with_capacity(64 + page.events.iter().map(|e| e.bytes.len() + 1).sum::<usize>());
    body.extend_from_slice(b"{\"drift_events\":[");
    for (i, event) in page.events.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        push_alert(&mut body, &event.bytes, false);
    }
    body.extend_from_slice(b"],");
    push_cursor(&mut body, page.next_cursor.map(|key| key.to_string()));
    body.push(b'}');
    Ok(json_body(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_state::AlertId;

    fn cut(json: &str) -> String {
        String::from_utf8(without_member(json.as_bytes(), b"password").into_owned()).expect("utf-8")
    }

    #[test]
    fn the_order_and_its_cursor_must_agree() {
        let key = AlertKey::new(1_000, AlertId::new(7));
        let score = ScoreCursor::new(0.5, key);
        let (key_text, score_text) = (key.to_string(), score.to_string());
        assert_eq!(Order::parse(None, None).ok(), Some(Order::Newest(None)));
        assert_eq!(
            Order::parse(Some("newest"), Some(&key_text)).ok(),
            Some(Order::Newest(Some(key)))
        );
        assert_eq!(
            Order::parse(Some("score"), Some(&score_text)).ok(),
            Some(Order::Score(Some(score)))
        );
        let detail = |order: Option<&str>, cursor: Option<&str>| match Order::parse(order, cursor) {
            Err(ApiError::BadRequest(detail)) => detail,
            other => panic!("expected a 400, got {other:?}"),
        };
        assert!(detail(None, Some(&score_text)).contains("order=score"));
        assert!(detail(Some("score"), Some(&key_text)).contains("order=newest"));
        assert!(detail(Some("score"), Some("nope")).contains("not a cursor"));
        assert!(detail(Some("bogus"), None).contains("newest or score"));
    }

    #[test]
    fn the_password_member_is_cut_out_of_the_bytes() {
        assert_eq!(
            cut(r#"{"id":"a","username":"root","password":"123456","label":{"x":1}}"#),
            r#"{"id":"a","username":"root","label":{"x":1}}"#
        );
        assert_eq!(cut(r#"{"password":"p","id":"a"}"#), r#"{"id":"a"}"#);
        assert_eq!(cut(r#"{"id":"a","password":"p"}"#), r#"{"id":"a"}"#);
        // Escaped quotes and the word inside other strings or nested objects stay.
        assert_eq!(
            cut(
                r#"{"explanation":"\"password\": guessed","origin":{"password":"x"},"password":"a\"b,c}"}"#
            ),
            r#"{"explanation":"\"password\": guessed","origin":{"password":"x"}}"#
        );
        let untouched = r#"{"id":"a","explanation":"no password here"}"#;
        assert!(matches!(
            without_member(untouched.as_bytes(), b"password"),
            Cow::Borrowed(_)
        ));
        for json in [
            r#"{"id":"a","username":"root","password":"123456","label":{"x":1}}"#,
            r#"{"password":"p","id":"a"}"#,
        ] {
            let value: serde_json::Value = serde_json::from_str(&cut(json)).expect("still JSON");
            assert!(value.get("password").is_none());
        }
    }
}
