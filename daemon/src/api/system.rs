//! Status, sources, shutdown, health, readiness, metrics and the OpenAPI document.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpResponse, web};
use serde::Serialize;

use super::request::json;
use super::{ApiError, ApiState, SourceHandle};

/// The OpenAPI 3 document of every route.
pub(super) const OPENAPI: &str = include_str!("openapi.json");

/// `GET /healthz`: the process serves requests.
pub(super) async fn healthz() -> HttpResponse {
    json(&serde_json::json!({"status": "ok"}))
}

/// `GET /readyz`: 200 once the pipeline has started (after restoring its checkpoint), 503
/// before and while shutting down.
pub(super) async fn readyz(state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    if state.is_ready() {
        Ok(json(&serde_json::json!({"status": "ready"})))
    } else {
        Err(ApiError::Unavailable(
            "not ready: the pipeline is starting or shutting down".to_string(),
        ))
    }
}

/// `GET /metrics`: Prometheus text format.
pub(super) async fn metrics(state: web::Data<ApiState>) -> HttpResponse {
    let render = state.metrics.clone();
    let body = web::block(move || render()).await.unwrap_or_default();
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8"))
        .body(body)
}

/// `GET /api/v1/openapi.json`.
pub(super) async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/json"))
        .insert_header((CACHE_CONTROL, "no-cache"))
        .body(OPENAPI)
}

/// One source in `status` and `sources`.
#[derive(Serialize)]
struct SourceView<'a> {
    name: &'a str,
    /// `running`, `paused` or `finished`.
    state: &'static str,
    records_read: u64,
    events_parsed: u64,
}

fn source_view(source: &SourceHandle) -> SourceView<'_> {
    let control = &source.control;
    let state = if control.finished() {
        "finished"
    } else if control.paused() {
        "paused"
    } else {
        "running"
    };
    SourceView {
        name: &source.name,
        state,
        records_read: control.records_read(),
        events_parsed: control.events_parsed(),
    }
}

#[derive(Serialize)]
struct StoreView {
    path: String,
    size_bytes: u64,
    alert_count: u64,
}

/// One pipeline stage's mailbox in `status`.
#[derive(Serialize)]
struct QueueView {
    stage: &'static str,
    /// Batches sent to the stage and not yet taken (a sender waiting for room counts).
    batches: i64,
    /// The mailbox's capacity in batches (`pipeline.mailbox_batches`).
    capacity: usize,
}

#[derive(Serialize)]
struct Status<'a> {
    version: &'static str,
    started_at: String,
    uptime_secs: f64,
    ready: bool,
    events_read: u64,
    events_parsed: u64,
    events_rejected: u64,
    events_decided: u64,
    alerts_red: u64,
    alerts_orange: u64,
    drift_events: u64,
    champion: Option<String>,
    sources: Vec<SourceView<'a>>,
    queues: Vec<QueueView>,
    store: StoreView,
    geoip: &'a super::GeoIpStatus,
}

/// `GET /api/v1/status`.
pub(super) async fn status(state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    let (size_bytes, alert_count) = web::block(move || {
        let size = store.size_on_disk()?;
        let count = store.alert_count()?;
        Ok::<_, vigil_state::StateError>((size, count))
    })
    .await
    .map_err(|e| ApiError::store("reading the store", e))?
    .map_err(|e| ApiError::store("reading the store", e))?;
    let c = state.stats.lock();
    let status = Status {
        version: env!("CARGO_PKG_VERSION"),
        started_at: state
            .started_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        uptime_secs: state.started.elapsed().as_secs_f64(),
        ready: state.is_ready(),
        events_read: c.counts.events_read,
        events_parsed: c.counts.events_parsed,
        events_rejected: c.counts.events_rejected.values().sum(),
        events_decided: c.events_decided,
        alerts_red: c.counts.alerts.red,
        alerts_orange: c.counts.alerts.orange,
        drift_events: c.counts.drift_events_total,
        champion: c.counts.champion.clone(),
        sources: state.sources.iter().map(source_view).collect(),
        queues: state
            .queues
            .as_ref()
            .map(|(depths, capacity)| {
                depths()
                    .into_iter()
                    .map(|(stage, batches)| QueueView {
                        stage,
                        batches,
                        capacity: *capacity,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        store: StoreView {
            path: state.store.path().display().to_string(),
            size_bytes,
            alert_count,
        },
        geoip: state.geoip(),
    };
    drop(c);
    Ok(json(&status))
}

/// `GET /api/v1/sources`.
pub(super) async fn sources(state: web::Data<ApiState>) -> HttpResponse {
    let sources: Vec<SourceView<'_>> = state.sources.iter().map(source_view).collect();
    json(&serde_json::json!({ "sources": sources }))
}

fn find_source<'a>(state: &'a ApiState, name: &str) -> Result<&'a SourceHandle, ApiError> {
    state
        .sources
        .iter()
        .find(|source| &*source.name == name)
        .ok_or_else(|| ApiError::NotFound(format!("no source named {name:?}")))
}

fn set_paused(state: &ApiState, name: &str, paused: bool) -> Result<HttpResponse, ApiError> {
    let source = find_source(state, name)?;
    if source.control.finished() {
        return Err(ApiError::BadRequest(format!(
            "source {name:?} has finished; it cannot be {}",
            if paused { "paused" } else { "resumed" }
        )));
    }
    source.control.set_paused(paused);
    tracing::info!(
        source = name,
        "source {} through the API",
        if paused { "paused" } else { "resumed" }
    );
    Ok(json(&source_view(source)))
}

/// `POST /api/v1/sources/{name}/pause`.
pub(super) async fn pause(
    state: web::Data<ApiState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    set_paused(&state, &name, true)
}

/// `POST /api/v1/sources/{name}/resume`.
pub(super) async fn resume(
    state: web::Data<ApiState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    set_paused(&state, &name, false)
}

/// `POST /api/v1/shutdown`: the same path as SIGTERM (stop intake, drain, flush, exit).
pub(super) async fn shutdown(state: web::Data<ApiState>) -> HttpResponse {
    tracing::info!("shutdown requested through the API");
    state.set_ready(false);
    state.shutdown.notify_one();
    HttpResponse::Accepted()
        .insert_header((CONTENT_TYPE, "application/json"))
        .body(r#"{"status":"shutting_down"}"#)
}
