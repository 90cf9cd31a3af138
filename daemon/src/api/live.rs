//! The live stream (`GET /api/v1/stream`, Server-Sent Events) and the export download
//! (`GET /api/v1/export`).
//!
//! Both are streamed from a task that reads the store and hands chunks to the response
//! through a small bounded channel. Each stream client keeps its own cursor in memory (an
//! outbox position for alerts, a drift key for drift events) and reads the store itself, so
//! a slow client only falls behind in the store: it never slows the pipeline, and what it
//! holds in memory is bounded by the channel.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix_web::body::{BodySize, MessageBody};
use actix_web::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, web};
use tokio::sync::mpsc;
use vigil_alert::{Alert, EncodeOptions, LineFormat};
use vigil_state::{AlertKey, DriftKey, Store};

use super::request::query_pairs;
use super::{ApiError, ApiState};

/// Chunks a client's response may hold before its reader waits (the per-client bound).
const CLIENT_BUFFER: usize = 64;

/// Alerts read from the store per step of a stream or an export.
const READ_STEP: usize = 256;

/// How often a stream looks for new alerts and drift events.
const POLL: Duration = Duration::from_millis(250);

/// How often a stream sends a `kpi` event.
const KPI_EVERY: Duration = Duration::from_secs(2);

/// A response body fed through a channel.
struct ChannelBody {
    rx: mpsc::Receiver<web::Bytes>,
}

impl MessageBody for ChannelBody {
    type Error = std::convert::Infallible;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<web::Bytes, Self::Error>>> {
        self.get_mut().rx.poll_recv(cx).map(|chunk| chunk.map(Ok))
    }
}

/// A stored alert in an output encoding (credentials redacted per `options`), or `None`
/// (logged) when it does not decode.
fn encode_stored(bytes: &[u8], format: LineFormat, options: &EncodeOptions) -> Option<Vec<u8>> {
    let alert: Alert = match serde_json::from_slice(bytes) {
        Ok(alert) => alert,
        Err(error) => {
            tracing::warn!("API: a stored alert does not decode, left out: {error}");
            return None;
        }
    };
    let mut out = Vec::with_capacity(bytes.len() + 64);
    match format.encode(&alert, options, &mut out) {
        Ok(()) => Some(out),
        Err(error) => {
            tracing::warn!(id = %alert.id, "API: cannot encode an alert, left out: {error}");
            None
        }
    }
}

fn encode_options(state: &ApiState) -> EncodeOptions {
    EncodeOptions {
        redact_credentials: state.settings.redact_credentials,
        ..EncodeOptions::default()
    }
}

/// One Server-Sent Event.
fn sse(event: &str, id: Option<u64>, data: &[u8]) -> web::Bytes {
    let mut out = Vec::with_capacity(data.len() + 48);
    if let Some(id) = id {
        out.extend_from_slice(format!("id: {id}\n").as_bytes());
    }
    out.extend_from_slice(format!("event: {event}\n").as_bytes());
    // JSON from serde holds no raw line breaks; a stray one would end the field.
    for line in data.split(|b| *b == b'\n').filter(|line| !line.is_empty()) {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.push(b'\n');
    web::Bytes::from(out)
}

/// What a stream reads from the store in one step.
#[derive(Default)]
struct Step {
    alerts: Vec<(u64, web::Bytes)>,
    alert_cursor: u64,
    drift: Vec<web::Bytes>,
    drift_cursor: Option<DriftKey>,
}

fn read_step(
    store: &Store,
    options: &EncodeOptions,
    alert_cursor: u64,
    drift_cursor: Option<DriftKey>,
    room: usize,
) -> Result<Step, vigil_state::StateError> {
    let mut step = Step {
        alert_cursor,
        drift_cursor,
        ..Step::default()
    };
    if store.last_alert_position() > alert_cursor {
        for item in store.outbox_after(alert_cursor, room.min(READ_STEP))? {
            step.alert_cursor = item.position;
            if let Some(json) = encode_stored(&item.bytes, LineFormat::Json, options) {
                step.alerts
                    .push((item.position, sse("alert", Some(item.position), &json)));
            }
        }
    }
    let room = room.saturating_sub(step.alerts.len());
    if room > 0 {
        for event in store.drift_events_after(drift_cursor, room)? {
            step.drift_cursor = Some(event.key);
            step.drift.push(sse("drift", None, &event.bytes));
        }
    }
    Ok(step)
}

/// The `kpi` event: counters now, and the rate since the previous tick.
fn kpi(state: &ApiState, last: &mut Option<(Instant, u64)>) -> web::Bytes {
    let c = state.stats.lock();
    let decided = c.events_decided;
    let body = serde_json::json!({
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "events_read": c.counts.events_read,
        "events_decided": decided,
        "events_per_sec": last.map_or(0.0, |(at, before): (Instant, u64)| {
            let secs = at.elapsed().as_secs_f64();
            if secs > 0.0 { decided.saturating_sub(before) as f64 / secs } else { 0.0 }
        }),
        "alerts_red": c.counts.alerts.red,
        "alerts_orange": c.counts.alerts.orange,
        "drift_events": c.counts.drift_events_total,
        "champion": c.counts.champion,
    });
    drop(c);
    *last = Some((Instant::now(), decided));
    sse("kpi", None, body.to_string().as_bytes())
}

/// Feeds one stream client until it goes away.
async fn feed(
    state: Arc<ApiState>,
    tx: mpsc::Sender<web::Bytes>,
    mut alert_cursor: u64,
    mut drift_cursor: Option<DriftKey>,
) {
    let options = encode_options(&state);
    let mut kpi_tick = tokio::time::interval(KPI_EVERY);
    kpi_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut poll = tokio::time::interval(POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last_kpi = None;
    loop {
        tokio::select! {
            _ = tx.closed() => return,
            _ = kpi_tick.tick() => {
                // A snapshot: when the client is behind, this one is skipped.
                if let Err(mpsc::error::TrySendError::Closed(_)) = tx.try_send(kpi(&state, &mut last_kpi)) {
                    return;
                }
            }
            _ = poll.tick() => {
                let room = tx.capacity();
                if room == 0 {
                    // The client is behind: its cursor waits, the store keeps what follows.
                    continue;
                }
                let store = state.store.clone();
                let options = options.clone();
                let read = web::block(move || {
                    read_step(&store, &options, alert_cursor, drift_cursor, room)
                })
                .await;
                let step = match read {
                    Ok(Ok(step)) => step,
                    Ok(Err(error)) => {
                        tracing::error!("API stream: reading the store failed: {error}");
                        return;
                    }
                    Err(error) => {
                        tracing::error!("API stream: {error}");
                        return;
                    }
                };
                alert_cursor = step.alert_cursor;
                drift_cursor = step.drift_cursor;
                for chunk in step.alerts.into_iter().map(|(_, chunk)| chunk).chain(step.drift) {
                    if tx.send(chunk).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

/// `GET /api/v1/stream`: Server-Sent Events (`alert`, `kpi`, `drift`).
pub(super) async fn stream(
    state: web::Data<ApiState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut from: Option<u64> = None;
    let parse_id = |name: &str, value: &str| {
        value.trim().parse::<u64>().map_err(|_| {
            ApiError::parameter(
                name,
                format!("{value:?} is not an event id this stream handed out (an outbox position)"),
            )
        })
    };
    for (name, value) in query_pairs(&req, &["last_event_id"])? {
        from = Some(parse_id(name, &value)?);
    }
    if from.is_none()
        && let Some(header) = req.headers().get("last-event-id")
    {
        let value = header.to_str().unwrap_or("");
        from = Some(parse_id("Last-Event-ID", value)?);
    }
    let store = state.store.clone();
    let (alert_cursor, drift_cursor) = web::block(move || {
        let alerts = store.last_alert_position();
        let drift = store.drift_events(1, None)?.events.first().map(|e| e.key);
        Ok::<_, vigil_state::StateError>((alerts, drift))
    })
    .await
    .map_err(|e| ApiError::store("reading the store", e))?
    .map_err(|e| ApiError::store("reading the store", e))?;
    let alert_cursor = from.map_or(alert_cursor, |from| from.min(alert_cursor));
    let (tx, rx) = mpsc::channel(CLIENT_BUFFER);
    let _ = tx.try_send(web::Bytes::from_static(
        b"retry: 2000\n: vigil live stream\n\n",
    ));
    actix_web::rt::spawn(feed(state.into_inner(), tx, alert_cursor, drift_cursor));
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/event-stream"))
        .insert_header((CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .body(ChannelBody { rx }))
}

/// `GET /api/v1/export?format=ndjson|ecs|cef&since=...&until=...`: stored alerts, newest
/// first, streamed as a download.
pub(super) async fn export(
    state: web::Data<ApiState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut format = LineFormat::Json;
    let mut since = None;
    let mut until = None;
    let time = |name: &str, value: &str| {
        chrono::DateTime::parse_from_rfc3339(value)
            .map(|t| t.timestamp_micros())
            .map_err(|e| {
                ApiError::parameter(name, format!("{value:?} is not an RFC 3339 time: {e}"))
            })
    };
    for (name, value) in query_pairs(&req, &["format", "since", "until"])? {
        match name {
            "format" => {
                format = match value.to_ascii_lowercase().as_str() {
                    "ndjson" | "json" => LineFormat::Json,
                    "ecs" => LineFormat::Ecs,
                    "cef" => LineFormat::Cef,
                    _ => {
                        return Err(ApiError::parameter(
                            "format",
                            format!("must be ndjson, ecs or cef, got {value:?}"),
                        ));
                    }
                }
            }
            "since" => since = Some(time("since", &value)?),
            _ => until = Some(time("until", &value)?),
        }
    }
    if let (Some(since), Some(until)) = (since, until)
        && since >= until
    {
        return Err(ApiError::parameter("until", "must be after `since`"));
    }
    let (content_type, extension) = match format {
        LineFormat::Cef => ("text/plain; charset=utf-8", "cef"),
        _ => ("application/x-ndjson", "ndjson"),
    };
    let options = encode_options(&state);
    let store = state.store.clone();
    let (tx, rx) = mpsc::channel::<web::Bytes>(8);
    actix_web::rt::task::spawn_blocking(move || {
        let mut cursor: Option<AlertKey> = None;
        loop {
            let page = match store.alerts_range(since, until, READ_STEP, cursor) {
                Ok(page) => page,
                Err(error) => {
                    // The status has gone out; the download ends short and the log says why.
                    tracing::error!("API export: reading alerts failed: {error}");
                    return;
                }
            };
            let mut chunk = Vec::with_capacity(page.alerts.len() * 600);
            for alert in &page.alerts {
                if let Some(line) = encode_stored(&alert.bytes, format, &options) {
                    chunk.extend_from_slice(&line);
                }
            }
            if !chunk.is_empty() && tx.blocking_send(web::Bytes::from(chunk)).is_err() {
                return; // the client went away
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return,
            }
        }
    });
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, content_type))
        .insert_header((
            CONTENT_DISPOSITION,
            format!("attachment; filename=\"vigil-alerts.{extension}\""),
        ))
        .body(ChannelBody { rx }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_framed_as_server_sent_events() {
        let framed = sse("alert", Some(7), b"{\"id\":\"a\"}\n");
        assert_eq!(
            &framed[..],
            b"id: 7\nevent: alert\ndata: {\"id\":\"a\"}\n\n"
        );
        let framed = sse("kpi", None, b"{}");
        assert_eq!(&framed[..], b"event: kpi\ndata: {}\n\n");
    }
}
