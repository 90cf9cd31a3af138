//! Analyst feedback on alerts, and the detectors: their status, the verdicts' precision and
//! recall per detector, and retrain requests.
//!
//! A verdict is recorded on the alert (its `feedback` field) by the alert stage, then handed
//! to the detector stage, which counts it for every detector (once per event: the first
//! verdict on an event counts) and, for an alert of the learned models, gives it to the pool
//! as feedback on the alert's event (`seq`). Both stages take it between two batches. When the
//! pipeline no longer runs (a replay that keeps serving), the verdict is written to the store
//! only.

use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use vigil_alert::{Alert, EncodeOptions, Verdict, encode_json};
use vigil_pool::{FeedbackOutcome, ModelKind, RetrainRequest};
use vigil_state::AlertId;

use super::request::{parse_alert_id, read_body};
use super::{ApiError, ApiState};
use crate::detect::VerdictTaken;
use crate::pipeline::StageError;

/// The body of `POST /api/v1/alerts/{id}/feedback`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackBody {
    verdict: String,
}

/// What became of a verdict, besides being recorded on the alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Outcome {
    /// The pool took it as feedback on the alert's event.
    Applied,
    /// The alert's event is older than the pool's feedback window.
    OutOfWindow,
    /// The pool already had feedback on that event (an earlier verdict, or a label).
    Duplicate,
    /// Recorded on the alert only: a rule's alert, an alert without a sequence number, or
    /// the pipeline no longer runs.
    Recorded,
}

impl From<FeedbackOutcome> for Outcome {
    fn from(outcome: FeedbackOutcome) -> Outcome {
        match outcome {
            FeedbackOutcome::Applied => Outcome::Applied,
            FeedbackOutcome::OutOfWindow => Outcome::OutOfWindow,
            FeedbackOutcome::Duplicate => Outcome::Duplicate,
        }
    }
}

fn json_response(status: StatusCode, body: Vec<u8>) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((CONTENT_TYPE, "application/json"))
        .body(body)
}

fn stage_error(error: StageError, what: &str) -> ApiError {
    match error {
        StageError::Busy(_) => ApiError::Unavailable(format!("{what}: {error}")),
        StageError::Stopped => ApiError::Unavailable(format!("{what}: {error}")),
        StageError::NotFound(detail) => ApiError::NotFound(detail),
        StageError::Failed(detail) => ApiError::store(what, detail),
    }
}

/// The alert as the API serves it: decoded from the stored bytes and encoded again with the
/// API's redaction.
fn served_alert(bytes: &[u8], redact: bool) -> Result<Vec<u8>, ApiError> {
    let alert: Alert =
        serde_json::from_slice(bytes).map_err(|e| ApiError::store("reading a stored alert", e))?;
    let options = EncodeOptions {
        redact_credentials: redact,
        ..EncodeOptions::default()
    };
    let mut out = Vec::with_capacity(bytes.len());
    encode_json(&alert, &options, &mut out)
        .map_err(|e| ApiError::store("serialising the alert", e))?;
    if out.last() == Some(&b'\n') {
        out.pop();
    }
    Ok(out)
}

/// Writes the verdict straight to the store (no pipeline runs).
fn record_in_store(
    state: &ApiState,
    id: AlertId,
    verdict: Verdict,
) -> Result<(Vec<u8>, Option<Verdict>), ApiError> {
    let _guard = state
        .patch_lock
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let stored = state
        .store
        .get_alert(id)
        .map_err(|e| ApiError::store("reading an alert", e))?
        .ok_or_else(|| ApiError::NotFound(format!("no alert {id}")))?;
    let mut alert: Alert = serde_json::from_slice(&stored.bytes)
        .map_err(|e| ApiError::store("reading a stored alert", e))?;
    let previous = alert.feedback.replace(verdict);
    let store_form = EncodeOptions {
        redact_credentials: false,
        ..EncodeOptions::default()
    };
    let mut bytes = Vec::with_capacity(stored.bytes.len() + 32);
    encode_json(&alert, &store_form, &mut bytes)
        .map_err(|e| ApiError::store("serialising the alert", e))?;
    if !state
        .store
        .update_alert(id, &bytes)
        .map_err(|e| ApiError::store("updating an alert", e))?
    {
        return Err(ApiError::NotFound(format!("no alert {id}")));
    }
    Ok((bytes, previous))
}

/// `POST /api/v1/alerts/{id}/feedback`: `{"verdict": "true_positive" | "false_positive"}`.
pub(super) async fn feedback(
    state: web::Data<ApiState>,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let alert_id = parse_alert_id(&id)?;
    let body = read_body(&req, payload, state.settings.max_body_bytes).await?;
    let body: FeedbackBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!(
            "the body is not a JSON object {{\"verdict\": \"true_positive\" | \"false_positive\"}}: {e}"
        ))
    })?;
    let verdict: Verdict = body.verdict.parse().map_err(|_| {
        ApiError::BadRequest(format!(
            "field `verdict`: must be true_positive or false_positive, got {:?}",
            body.verdict
        ))
    })?;
    let mut recorded = None;
    if let Some(stage) = &state.detector_stage {
        match stage.record_verdict(alert_id, verdict).await {
            Ok(Some(done)) => recorded = Some(done),
            Ok(None) => return Err(ApiError::NotFound(format!("no alert {alert_id}"))),
            // The pipeline has stopped: write to the store directly.
            Err(StageError::Stopped) => {}
            Err(error) => return Err(stage_error(error, "recording the verdict")),
        }
    }
    let (bytes, previous, outcome, counted) = match recorded {
        Some(done) => {
            let (outcome, counted) = match (done.seq, &state.detector_stage) {
                (Some(seq), Some(stage)) => {
                    match stage
                        .verdict(seq, done.detector.clone(), verdict.anomalous())
                        .await
                    {
                        Ok(VerdictTaken { counted, pool }) => {
                            (pool.map_or(Outcome::Recorded, Outcome::from), Some(counted))
                        }
                        Err(StageError::Stopped) => (Outcome::Recorded, None),
                        Err(error) => {
                            return Err(stage_error(
                                error,
                                "the verdict is recorded on the alert; handing it to the detector stage",
                            ));
                        }
                    }
                }
                _ => (Outcome::Recorded, None),
            };
            (done.bytes, done.previous, outcome, counted)
        }
        None => {
            let state2 = state.clone();
            let (bytes, previous) = web::block(move || record_in_store(&state2, alert_id, verdict))
                .await
                .map_err(|e| ApiError::store("recording the verdict", e))??;
            (bytes, previous, Outcome::Recorded, None)
        }
    };
    tracing::info!(alert = %alert_id, %verdict, ?outcome, ?counted, "analyst verdict through the API");
    let alert = served_alert(&bytes, state.settings.redact_credentials)?;
    #[derive(Serialize)]
    struct Answer {
        verdict: Verdict,
        previous_verdict: Option<Verdict>,
        outcome: Outcome,
        counted: Option<FeedbackOutcome>,
    }
    let answer = serde_json::to_vec(&Answer {
        verdict,
        previous_verdict: previous,
        outcome,
        counted,
    })
    .map_err(|e| ApiError::store("serialising the answer", e))?;
    // {"alert":<alert>,"verdict":...}
    let mut out = Vec::with_capacity(alert.len() + answer.len() + 16);
    out.extend_from_slice(b"{\"alert\":");
    out.extend_from_slice(&alert);
    out.push(b',');
    out.extend_from_slice(&answer[1..]);
    Ok(json_response(StatusCode::OK, out))
}

fn no_stage() -> ApiError {
    ApiError::Unavailable("the detector stage is not running".to_string())
}

/// `GET /api/v1/detectors`.
pub(super) async fn detectors(state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let stage = state.detector_stage.as_ref().ok_or_else(no_stage)?;
    let view = stage
        .status()
        .await
        .map_err(|e| stage_error(e, "reading the detectors"))?;
    let body =
        serde_json::to_vec(&view).map_err(|e| ApiError::store("serialising the detectors", e))?;
    Ok(json_response(StatusCode::OK, body))
}

/// A model kind by its name (`ocsvm`, `hst`, `online-ocsvm`; `_` for `-` is accepted; or
/// `plugin:<name>` for a plugin this process knows).
fn model_kind(name: &str) -> Option<ModelKind> {
    if let Some(plugin) = name.strip_prefix(vigil_pool::PLUGIN_PREFIX) {
        return vigil_pool::PluginId::lookup(plugin).map(ModelKind::Plugin);
    }
    let name = name.replace('_', "-");
    ModelKind::ALL
        .into_iter()
        .find(|kind| kind.name().eq_ignore_ascii_case(&name))
}

/// `POST /api/v1/detectors/{name}/retrain`.
pub(super) async fn retrain(
    state: web::Data<ApiState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let Some(kind) = model_kind(&name) else {
        let models = ModelKind::ALL.map(ModelKind::name).join(", ");
        return Err(ApiError::NotFound(format!(
            "no model {name:?} to retrain: the pool's model kinds are {models} (rules have nothing to retrain)"
        )));
    };
    let stage = state.detector_stage.as_ref().ok_or_else(no_stage)?;
    let request = stage
        .retrain(kind)
        .await
        .map_err(|e| stage_error(e, "requesting a retrain"))?;
    let status = match request {
        RetrainRequest::Scheduled { .. } => StatusCode::ACCEPTED,
        RetrainRequest::AlreadyPending => StatusCode::OK,
    };
    #[derive(Serialize)]
    struct Answer {
        model_kind: ModelKind,
        #[serde(flatten)]
        request: RetrainRequest,
    }
    let body = serde_json::to_vec(&Answer {
        model_kind: kind,
        request,
    })
    .map_err(|e| ApiError::store("serialising the answer", e))?;
    Ok(json_response(status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_kinds_are_found_by_name() {
        assert_eq!(model_kind("hst"), Some(ModelKind::Hst));
        assert_eq!(model_kind("OCSVM"), Some(ModelKind::Ocsvm));
        assert_eq!(model_kind("online-ocsvm"), Some(ModelKind::OnlineOcsvm));
        assert_eq!(model_kind("online_ocsvm"), Some(ModelKind::OnlineOcsvm));
        assert_eq!(model_kind("brute_force"), None);
        assert_eq!(model_kind(""), None);
    }

    #[test]
    fn stage_errors_map_to_statuses() {
        use actix_web::ResponseError;
        let status = |e| stage_error(e, "x").status_code().as_u16();
        assert_eq!(status(StageError::Busy("detector")), 503);
        assert_eq!(status(StageError::Stopped), 503);
        assert_eq!(status(StageError::NotFound("no".into())), 404);
        assert_eq!(status(StageError::Failed("bad".into())), 500);
    }
}
