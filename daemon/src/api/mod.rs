//! The admin HTTP API: actix-web inside the actix system that runs the pipeline.
//!
//! Routes are declared once, in [`ROUTES`]: the server registers exactly those, the gate
//! middleware takes each route's [`Access`] from there, and a test checks the table against
//! the OpenAPI document served at `/api/v1/openapi.json` (`openapi.json` beside this file).
//!
//! The API reads the store and the pipeline's shared counters; it never sits on the data
//! path. Pausing a source, resuming it and shutting down go through the same switches the
//! pipeline's own signal handling uses ([`SourceControl`], the shutdown [`Notify`]).
//!
//! Errors are JSON, `{"error": "<code>", "detail": "<sentence>"}` (see [`ApiError`]). Every
//! request is logged (reads at debug level, the rest at info) with its route, status and
//! duration, and reported to the optional [`RequestObserver`].

mod alerts;
mod dashboard;
mod error;
mod feedback;
mod ingest;
mod live;
mod plugins;
mod reload;
mod request;
mod session;
mod stats;
mod suppressions;
mod system;

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpServer, ResponseError, web};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use vigil_state::Store;

pub use dashboard::GeoIpStatus;
pub use error::ApiError;
pub use ingest::{HTTP_SOURCE, HttpIngest, HttpProducer};
pub use session::{CSRF_HEADER, SESSION_COOKIE, random_token};

use crate::pipeline::SourceControl;
use crate::stats::PipelineStats;

/// Renders the body of `GET /metrics` (Prometheus text format).
pub type MetricsRender = Arc<dyn Fn() -> String + Send + Sync>;

/// Batches in flight to each pipeline stage, by stage name, in pipeline order.
pub type QueueDepths = Arc<dyn Fn() -> Vec<(&'static str, i64)> + Send + Sync>;

/// Called after every request with the route template (`/api/v1/alerts/{id}`, or
/// `unmatched`), the status code and the duration in seconds.
pub type RequestObserver = Arc<dyn Fn(&str, u16, f64) + Send + Sync>;

/// The API's settings, from `[api]` and `[outputs]`.
#[derive(Clone)]
pub struct ApiSettings {
    /// The bearer token; `None` refuses every mutating call (403).
    pub token: Option<String>,
    /// Whether reads need the token too.
    pub read_requires_token: bool,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Most items one page may hold.
    pub max_page: usize,
    /// Leave honeypot passwords out of the alerts served (`outputs.redact_credentials`).
    pub redact_credentials: bool,
    /// Whether the API is served over TLS (`[api.tls]`), for what depends on it (cookies'
    /// `Secure` attribute).
    pub tls: bool,
}

impl std::fmt::Debug for ApiSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiSettings")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("read_requires_token", &self.read_requires_token)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_page", &self.max_page)
            .field("redact_credentials", &self.redact_credentials)
            .field("tls", &self.tls)
            .finish()
    }
}

/// One source as the API sees it: its name and its switches.
#[derive(Clone)]
pub struct SourceHandle {
    /// The source's name (its `[sources.NAME]` table).
    pub name: Arc<str>,
    /// Its pause, stop and counters.
    pub control: Arc<SourceControl>,
}

/// Everything the handlers share.
pub struct ApiState {
    settings: ApiSettings,
    /// SHA-256 of the token, compared in constant time with the digest of the one given.
    token_digest: Option<[u8; 32]>,
    store: Store,
    stats: PipelineStats,
    sources: Vec<SourceHandle>,
    started: Instant,
    started_at: chrono::DateTime<chrono::Utc>,
    ready: AtomicBool,
    shutdown: Arc<Notify>,
    metrics: MetricsRender,
    observer: Option<RequestObserver>,
    /// The alert stage, which applies analyst edits while the pipeline runs.
    editor: Option<actix::Recipient<crate::pipeline::EditAlert>>,
    /// Serialises read-modify-write of alerts (PATCH) when no pipeline runs.
    patch_lock: Mutex<()>,
    /// The alert and detector stages, for analyst verdicts, retrain requests and status.
    detector_stage: Option<crate::pipeline::DetectorStage>,
    /// Where `POST /api/v1/events` sends what it parsed (the `http` source).
    ingest: Option<Arc<HttpIngest>>,
    /// The alert stage's activity per minute (statistics).
    activity: Option<Arc<crate::activity::Activity>>,
    /// The alert stage's allowlist and suppressions.
    filter: Option<Arc<crate::suppress::AlertFilter>>,
    /// The pipeline's queue depths and the capacity of each mailbox, in batches.
    queues: Option<(QueueDepths, usize)>,
    /// Re-reads the config file (`POST /api/v1/config/reload`).
    reloader: Option<Arc<crate::reload::Reloader>>,
    /// The dashboard's signed-in browsers.
    sessions: session::Sessions,
    /// Whether GeoIP enrichment runs, for the status (and the dashboard's map).
    geoip: GeoIpStatus,
    /// The detector plugins found at start (`GET /api/v1/plugins`).
    plugins: Option<Arc<crate::plugins::Plugins>>,
}

impl ApiState {
    /// The shared state of a running pipeline. `shutdown` is notified by `POST
    /// /api/v1/shutdown`; the caller's pipeline loop waits on it beside the signals.
    /// Not ready until [`ApiState::set_ready`].
    /// `started` is when the process started (the status's uptime counts from it).
    pub fn new(
        settings: ApiSettings,
        store: Store,
        stats: PipelineStats,
        sources: Vec<SourceHandle>,
        shutdown: Arc<Notify>,
        metrics: MetricsRender,
        started: Instant,
    ) -> ApiState {
        let token_digest = settings
            .token
            .as_deref()
            .map(|token| Sha256::digest(token.as_bytes()).into());
        ApiState {
            settings,
            token_digest,
            store,
            stats,
            sources,
            started,
            started_at: chrono::Utc::now()
                - chrono::TimeDelta::from_std(started.elapsed()).unwrap_or_default(),
            ready: AtomicBool::new(false),
            shutdown,
            metrics,
            observer: None,
            editor: None,
            patch_lock: Mutex::new(()),
            detector_stage: None,
            ingest: None,
            activity: None,
            filter: None,
            queues: None,
            reloader: None,
            sessions: session::Sessions::new(session::DEFAULT_SESSION_TTL),
            geoip: GeoIpStatus::default(),
            plugins: None,
        }
    }

    /// Reports the pipeline's queue depths in `GET /api/v1/status`, each stage's mailbox
    /// holding `capacity` batches.
    pub fn with_queue_depths(mut self, depths: QueueDepths, capacity: usize) -> ApiState {
        self.queues = Some((depths, capacity));
        self
    }

    /// Re-reads the config file and applies what can change live on `POST
    /// /api/v1/config/reload`; without it that route answers 409.
    pub fn with_reloader(mut self, reloader: Arc<crate::reload::Reloader>) -> ApiState {
        self.reloader = Some(reloader);
        self
    }

    /// Serves statistics from the alert stage's `activity` and suppressions through its
    /// `filter` (`/api/v1/stats/...`, `/api/v1/suppressions`); without them those routes
    /// answer 503.
    pub fn with_statistics(
        mut self,
        activity: Arc<crate::activity::Activity>,
        filter: Arc<crate::suppress::AlertFilter>,
    ) -> ApiState {
        self.activity = Some(activity);
        self.filter = Some(filter);
        self
    }

    /// Serves the plugin report of the start (`GET /api/v1/plugins`); without it that route
    /// lists none.
    pub fn with_plugins(mut self, plugins: Arc<crate::plugins::Plugins>) -> ApiState {
        self.plugins = Some(plugins);
        self
    }

    /// The same state, reporting every request to `observer` (request metrics).
    pub fn with_observer(mut self, observer: RequestObserver) -> ApiState {
        self.observer = Some(observer);
        self
    }

    /// Sends analyst edits (`PATCH /api/v1/alerts/{id}`) to the running alert stage, which
    /// also counts repeats into open alerts, so neither overwrites the other.
    pub fn with_alert_editor(
        mut self,
        editor: actix::Recipient<crate::pipeline::EditAlert>,
    ) -> ApiState {
        self.editor = Some(editor);
        self
    }

    /// Sends analyst verdicts, retrain requests and detector status requests to the running
    /// stages (`/api/v1/alerts/{id}/feedback`, `/api/v1/detectors`).
    pub fn with_detector_stage(mut self, stage: crate::pipeline::DetectorStage) -> ApiState {
        self.detector_stage = Some(stage);
        self
    }

    /// Takes events over HTTP (`POST /api/v1/events`) into the pipeline's `http` source.
    pub fn with_ingest(mut self, ingest: Arc<HttpIngest>) -> ApiState {
        self.ingest = Some(ingest);
        self
    }

    /// Marks the pipeline started (its checkpoint, if any, restored) or, with `false`,
    /// shutting down: `GET /readyz` answers accordingly.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    /// Whether `GET /readyz` answers 200.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// Checks the `Authorization` header against what `access` needs.
    fn authorize(&self, access: Access, authorization: Option<&[u8]>) -> Result<(), ApiError> {
        let needed = match access {
            Access::Open => false,
            Access::Read => self.settings.read_requires_token,
            Access::Write => true,
        };
        if !needed {
            return Ok(());
        }
        let Some(expected) = &self.token_digest else {
            return Err(ApiError::Forbidden(
                "no API token is configured (api.token or api.token_file): mutating calls are disabled"
                    .to_string(),
            ));
        };
        let Some(header) = authorization else {
            return Err(ApiError::Unauthorized(
                "this call needs `Authorization: Bearer <token>`".to_string(),
            ));
        };
        let given = header
            .strip_prefix(b"Bearer ")
            .or_else(|| header.strip_prefix(b"bearer "))
            .ok_or_else(|| {
                ApiError::Unauthorized(
                    "the Authorization header is not `Bearer <token>`".to_string(),
                )
            })?;
        let digest: [u8; 32] = Sha256::digest(given).into();
        if constant_time_eq(&digest, expected) {
            Ok(())
        } else {
            Err(ApiError::Unauthorized("wrong token".to_string()))
        }
    }
}

/// Equality of two digests without an early exit, so the time taken says nothing about
/// where they differ.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (health, readiness, the OpenAPI document).
    Open,
    /// Anyone, or token holders only with `api.read_requires_token`.
    Read,
    /// Token holders only; refused (403) when no token is configured.
    Write,
}

/// One route of the API.
pub struct Route {
    /// HTTP method, upper case.
    pub method: &'static str,
    /// Path template, `{name}` for a path parameter.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    handler: fn() -> actix_web::Route,
}

/// Every route the server registers.
pub static ROUTES: &[Route] = &[
    Route {
        method: "GET",
        path: "/",
        access: Access::Open,
        handler: || web::get().to(dashboard::index),
    },
    Route {
        method: "GET",
        path: "/assets/{name}",
        access: Access::Open,
        handler: || web::get().to(dashboard::asset),
    },
    Route {
        method: "POST",
        path: "/api/v1/session",
        access: Access::Open,
        handler: || web::post().to(session::sign_in),
    },
    Route {
        method: "GET",
        path: "/api/v1/session",
        access: Access::Open,
        handler: || web::get().to(session::current),
    },
    Route {
        method: "DELETE",
        path: "/api/v1/session",
        access: Access::Open,
        handler: || web::delete().to(session::sign_out),
    },
    Route {
        method: "GET",
        path: "/healthz",
        access: Access::Open,
        handler: || web::get().to(system::healthz),
    },
    Route {
        method: "GET",
        path: "/readyz",
        access: Access::Open,
        handler: || web::get().to(system::readyz),
    },
    Route {
        method: "GET",
        path: "/metrics",
        access: Access::Read,
        handler: || web::get().to(system::metrics),
    },
    Route {
        method: "GET",
        path: "/api/v1/openapi.json",
        access: Access::Open,
        handler: || web::get().to(system::openapi),
    },
    Route {
        method: "GET",
        path: "/api/v1/status",
        access: Access::Read,
        handler: || web::get().to(system::status),
    },
    Route {
        method: "GET",
        path: "/api/v1/alerts",
        access: Access::Read,
        handler: || web::get().to(alerts::list),
    },
    Route {
        method: "GET",
        path: "/api/v1/alerts/{id}",
        access: Access::Read,
        handler: || web::get().to(alerts::get),
    },
    Route {
        method: "PATCH",
        path: "/api/v1/alerts/{id}",
        access: Access::Write,
        handler: || web::patch().to(alerts::patch),
    },
    Route {
        method: "POST",
        path: "/api/v1/alerts/{id}/feedback",
        access: Access::Write,
        handler: || web::post().to(feedback::feedback),
    },
    Route {
        method: "GET",
        path: "/api/v1/detectors",
        access: Access::Read,
        handler: || web::get().to(feedback::detectors),
    },
    Route {
        method: "POST",
        path: "/api/v1/detectors/{name}/retrain",
        access: Access::Write,
        handler: || web::post().to(feedback::retrain),
    },
    Route {
        method: "GET",
        path: "/api/v1/plugins",
        access: Access::Read,
        handler: || web::get().to(plugins::list),
    },
    Route {
        method: "GET",
        path: "/api/v1/drift",
        access: Access::Read,
        handler: || web::get().to(alerts::drift),
    },
    Route {
        method: "GET",
        path: "/api/v1/sources",
        access: Access::Read,
        handler: || web::get().to(system::sources),
    },
    Route {
        method: "POST",
        path: "/api/v1/sources/{name}/pause",
        access: Access::Write,
        handler: || web::post().to(system::pause),
    },
    Route {
        method: "POST",
        path: "/api/v1/sources/{name}/resume",
        access: Access::Write,
        handler: || web::post().to(system::resume),
    },
    Route {
        method: "POST",
        path: "/api/v1/shutdown",
        access: Access::Write,
        handler: || web::post().to(system::shutdown),
    },
    Route {
        method: "GET",
        path: "/api/v1/stream",
        access: Access::Read,
        handler: || web::get().to(live::stream),
    },
    Route {
        method: "GET",
        path: "/api/v1/export",
        access: Access::Read,
        handler: || web::get().to(live::export),
    },
    Route {
        method: "POST",
        path: "/api/v1/events",
        access: Access::Write,
        handler: || web::post().to(ingest::events),
    },
    Route {
        method: "GET",
        path: "/api/v1/stats/summary",
        access: Access::Read,
        handler: || web::get().to(stats::summary),
    },
    Route {
        method: "GET",
        path: "/api/v1/stats/timeseries",
        access: Access::Read,
        handler: || web::get().to(stats::timeseries),
    },
    Route {
        method: "GET",
        path: "/api/v1/stats/top",
        access: Access::Read,
        handler: || web::get().to(stats::top),
    },
    Route {
        method: "GET",
        path: "/api/v1/suppressions",
        access: Access::Read,
        handler: || web::get().to(suppressions::list),
    },
    Route {
        method: "POST",
        path: "/api/v1/suppressions",
        access: Access::Write,
        handler: || web::post().to(suppressions::create),
    },
    Route {
        method: "DELETE",
        path: "/api/v1/suppressions/{id}",
        access: Access::Write,
        handler: || web::delete().to(suppressions::delete),
    },
    Route {
        method: "POST",
        path: "/api/v1/config/reload",
        access: Access::Write,
        handler: || web::post().to(reload::reload),
    },
];

/// Whether `path` matches `template` segment by segment (`{x}` matches one non-empty segment).
fn matches_template(template: &str, path: &str) -> bool {
    let mut t = template.split('/');
    let mut p = path.split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(ts), Some(ps)) => {
                let wildcard = ts.starts_with('{') && ts.ends_with('}');
                if !(ts == ps || (wildcard && !ps.is_empty())) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

fn find_route(method: &Method, path: &str) -> Option<&'static Route> {
    ROUTES
        .iter()
        .find(|route| route.method == method.as_str() && matches_template(route.path, path))
}

/// Authorises each request by its route's [`Access`], then logs and reports it.
async fn gate<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let start = Instant::now();
    let state = req.app_data::<web::Data<ApiState>>().cloned();
    let method = req.method().clone();
    let path = req.path().to_owned();
    let route = find_route(&method, &path);
    let denied = match (&state, route) {
        (Some(state), Some(route)) => state.authorize_request(route.access, req.headers()).err(),
        _ => None,
    };
    let response = match denied {
        Some(error) => req.into_response(error.error_response()),
        None => next.call(req).await?.map_into_boxed_body(),
    };
    let status = response.status().as_u16();
    let seconds = start.elapsed().as_secs_f64();
    let template = route.map_or("unmatched", |route| route.path);
    if method == Method::GET || method == Method::HEAD {
        tracing::debug!(%method, path, status, millis = seconds * 1e3, "API request");
    } else {
        tracing::info!(%method, path, status, millis = seconds * 1e3, "API request");
    }
    if let Some(observer) = state.as_ref().and_then(|state| state.observer.clone()) {
        observer(template, status, seconds);
    }
    Ok(response)
}

/// Unknown paths (404) and known paths with another method (405), as JSON.
async fn fallback(req: actix_web::HttpRequest) -> actix_web::HttpResponse {
    let path = req.path();
    let methods: Vec<&str> = ROUTES
        .iter()
        .filter(|route| matches_template(route.path, path))
        .map(|route| route.method)
        .collect();
    let error = if methods.is_empty() {
        ApiError::NotFound(format!("no route {path}"))
    } else {
        ApiError::MethodNotAllowed(format!(
            "{path} takes {}, not {}",
            methods.join(", "),
            req.method()
        ))
    };
    error.error_response()
}

/// Binds the API's listener (before anything else starts, so a taken port stops start-up).
///
/// # Errors
/// The address cannot be bound; the message names it.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let listener = TcpListener::bind(addr).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot listen on {addr} (api.listen): {e}"),
        )
    })?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// A running API server.
pub struct ApiServer {
    handle: ServerHandle,
    addr: SocketAddr,
    state: Arc<ApiState>,
}

impl ApiServer {
    /// Serves `state` on `listener`, over TLS with `tls` (see [`crate::tls`]). Must run
    /// inside the actix system (the server's task is spawned on it; its workers get their
    /// own threads).
    ///
    /// # Errors
    /// The listener cannot be used.
    pub fn start(
        listener: TcpListener,
        state: Arc<ApiState>,
        tls: Option<rustls::ServerConfig>,
    ) -> std::io::Result<ApiServer> {
        let addr = listener.local_addr()?;
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            let mut app = App::new()
                .app_data(data.clone())
                .wrap(from_fn(gate))
                .default_service(web::to(fallback));
            for route in ROUTES {
                app = app.route(route.path, (route.handler)());
            }
            app
        })
        .workers(2)
        .disable_signals()
        .shutdown_timeout(2);
        let server = match tls {
            Some(tls) => server.listen_rustls_0_23(listener, tls)?,
            None => server.listen(listener)?,
        }
        .run();
        let handle = server.handle();
        actix_rt::spawn(async move {
            if let Err(error) = server.await {
                tracing::error!("the admin API stopped: {error}");
            }
        });
        Ok(ApiServer {
            handle,
            addr,
            state,
        })
    }

    /// The address it listens on (the bound port when `api.listen` had port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL: `https://ADDR` over TLS, else `http://ADDR`.
    pub fn url(&self) -> String {
        let scheme = if self.state.settings.tls {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// Its shared state.
    pub fn state(&self) -> &Arc<ApiState> {
        &self.state
    }

    /// Stops accepting, lets requests under way finish (at most 2 s), and stops.
    pub async fn stop(self) {
        self.state.set_ready(false);
        self.handle.stop(true).await;
    }
}

/// A Prometheus text rendering of a few pipeline counters, until the full metrics renderer
/// takes `GET /metrics` over.
pub fn basic_metrics(stats: PipelineStats, store: Store) -> MetricsRender {
    Arc::new(move || {
        use std::fmt::Write;
        let mut out = String::with_capacity(1024);
        let c = stats.lock();
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        counter(
            &mut out,
            "vigil_events_read_total",
            "Records read from inputs.",
            c.counts.events_read,
        );
        counter(
            &mut out,
            "vigil_events_parsed_total",
            "Records that became events.",
            c.counts.events_parsed,
        );
        counter(
            &mut out,
            "vigil_events_decided_total",
            "Events that passed the alert stage.",
            c.events_decided,
        );
        let _ = writeln!(
            out,
            "# HELP vigil_events_rejected_total Records rejected, by reason.\n# TYPE vigil_events_rejected_total counter"
        );
        for (reason, n) in &c.counts.events_rejected {
            let _ = writeln!(
                out,
                "vigil_events_rejected_total{{reason=\"{reason}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP vigil_alerts_total Alerts stored, by severity.\n# TYPE vigil_alerts_total counter\nvigil_alerts_total{{severity=\"red\"}} {}\nvigil_alerts_total{{severity=\"orange\"}} {}",
            c.counts.alerts.red, c.counts.alerts.orange
        );
        drop(c);
        if let Ok(count) = store.alert_count() {
            let _ = writeln!(
                out,
                "# HELP vigil_store_alerts Alerts held by the state store.\n# TYPE vigil_store_alerts gauge\nvigil_store_alerts {count}"
            );
        }
        if let Ok(bytes) = store.size_on_disk() {
            let _ = writeln!(
                out,
                "# HELP vigil_store_size_bytes Size of the state store on disk.\n# TYPE vigil_store_size_bytes gauge\nvigil_store_size_bytes {bytes}"
            );
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_registered_route_is_in_the_openapi_document_and_back() {
        let doc: serde_json::Value =
            serde_json::from_str(system::OPENAPI).expect("openapi.json is JSON");
        assert!(
            doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
            "an OpenAPI 3 document"
        );
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().expect("path item") {
                if method == "parameters" {
                    continue;
                }
                assert!(
                    operation["responses"].is_object(),
                    "{method} {path} documents its responses"
                );
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
        let registered: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|route| (route.method.to_string(), route.path.to_string()))
            .collect();
        assert_eq!(registered.len(), ROUTES.len(), "no route registered twice");
        let undocumented: Vec<_> = registered.difference(&documented).collect();
        let unregistered: Vec<_> = documented.difference(&registered).collect();
        assert!(
            undocumented.is_empty(),
            "not in openapi.json: {undocumented:?}"
        );
        assert!(
            unregistered.is_empty(),
            "documented, not served: {unregistered:?}"
        );
    }

    #[test]
    fn templates_match_segment_by_segment() {
        assert!(matches_template(
            "/api/v1/alerts/{id}",
            "/api/v1/alerts/00ff"
        ));
        assert!(!matches_template("/api/v1/alerts/{id}", "/api/v1/alerts/"));
        assert!(!matches_template("/api/v1/alerts/{id}", "/api/v1/alerts"));
        assert!(!matches_template(
            "/api/v1/alerts/{id}",
            "/api/v1/alerts/a/b"
        ));
        assert!(matches_template("/healthz", "/healthz"));
        assert!(!matches_template("/healthz", "/healthz/"));
        let patch = find_route(&Method::PATCH, "/api/v1/alerts/0123456789abcdef");
        assert_eq!(patch.map(|route| route.access), Some(Access::Write));
        assert!(find_route(&Method::DELETE, "/api/v1/alerts/0123456789abcdef").is_none());
    }

    fn state(token: Option<&str>, read_requires_token: bool) -> (tempfile::TempDir, ApiState) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store =
            Store::open(dir.path(), &vigil_state::StoreOptions::default()).expect("store opens");
        let stats = PipelineStats::new();
        let metrics = basic_metrics(stats.clone(), store.clone());
        let state = ApiState::new(
            ApiSettings {
                token: token.map(str::to_string),
                read_requires_token,
                max_body_bytes: 4096,
                max_page: 10,
                redact_credentials: true,
                tls: false,
            },
            store,
            stats,
            Vec::new(),
            Arc::new(Notify::new()),
            metrics,
            Instant::now(),
        );
        (dir, state)
    }

    #[test]
    fn the_token_gates_writes_and_optionally_reads() {
        let token = "0123456789abcdef-token";
        let (_dir, open) = state(None, false);
        assert_eq!(open.authorize(Access::Read, None), Ok(()));
        assert!(matches!(
            open.authorize(Access::Write, Some(b"Bearer anything")),
            Err(ApiError::Forbidden(_))
        ));
        let (_dir, guarded) = state(Some(token), true);
        assert_eq!(guarded.authorize(Access::Open, None), Ok(()));
        assert!(matches!(
            guarded.authorize(Access::Read, None),
            Err(ApiError::Unauthorized(_))
        ));
        assert!(matches!(
            guarded.authorize(Access::Write, Some(b"Bearer 0123456789abcdef-tokem")),
            Err(ApiError::Unauthorized(_))
        ));
        assert!(matches!(
            guarded.authorize(Access::Write, Some(token.as_bytes())),
            Err(ApiError::Unauthorized(_))
        ));
        let header = format!("Bearer {token}");
        assert_eq!(
            guarded.authorize(Access::Write, Some(header.as_bytes())),
            Ok(())
        );
        assert_eq!(
            guarded.authorize(Access::Read, Some(header.as_bytes())),
            Ok(())
        );
    }

    #[test]
    fn basic_metrics_are_prometheus_text() {
        let (_dir, state) = state(None, false);
        state.stats.lock().events_decided = 42;
        let text = (state.metrics)();
        assert!(text.contains("\nvigil_events_decided_total 42\n"), "{text}");
        assert!(text.contains("# TYPE vigil_store_alerts gauge\nvigil_store_alerts 0\n"));
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            let (name, value) = line.rsplit_once(' ').expect("name value");
            assert!(name.starts_with("vigil_"), "{line}");
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
