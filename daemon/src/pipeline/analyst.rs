//! Analyst feedback and the detectors view: what the admin API asks of the running stages.
//!
//! A verdict on an alert is recorded on the alert by the alert stage ([`RecordVerdict`], like
//! an [`EditAlert`](super::EditAlert), so that it and the repeats counted into open alerts
//! never overwrite each other), then handed to the detector stage ([`AnalystVerdict`]), which
//! counts it for every detector's precision and recall and, for an alert of the learned
//! models, gives it to the pool as feedback. Retrain requests ([`RetrainModel`]) and the
//! status ([`DetectorStatus`]) go to the detector stage too. The detector stage handles one
//! batch at a time, so each of these takes effect between two batches: at an event boundary,
//! in the stream's order.

use std::time::Duration;

use actix::prelude::*;
use vigil_pool::{ModelKind, PoolError, RetrainRequest};
use vigil_state::AlertId;

use super::{AlertActor, PoolActor};
use crate::alert::{Alert, Verdict, encode_json};
use crate::detect::{DetectError, DetectorsView, VerdictTaken};

/// How long the API waits for a stage to answer (it answers between two batches).
const STAGE_TIMEOUT: Duration = Duration::from_secs(10);

/// Records an analyst's verdict on a stored alert (in the open copy too, while its cooldown
/// is open). Answers `None` for an alert the store does not hold.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<Option<RecordedVerdict>, String>")]
pub struct RecordVerdict {
    /// The alert.
    pub id: AlertId,
    /// The verdict; it replaces an earlier one on the alert.
    pub verdict: Verdict,
}

/// The alert after [`RecordVerdict`].
#[derive(Debug, Clone)]
pub struct RecordedVerdict {
    /// The stored bytes, as updated.
    pub bytes: Vec<u8>,
    /// The detector that raised it.
    pub detector: String,
    /// The sequence number of the event that raised it, when the alert carries it.
    pub seq: Option<u64>,
    /// The verdict it had before, if any.
    pub previous: Option<Verdict>,
}

impl Handler<RecordVerdict> for AlertActor {
    type Result = Result<Option<RecordedVerdict>, String>;

    fn handle(&mut self, msg: RecordVerdict, _: &mut Context<Self>) -> Self::Result {
        let id = msg.id.to_string();
        let Some(stored) = self
            .store
            .get_alert(msg.id)
            .map_err(|e| format!("reading alert {id}: {e}"))?
        else {
            return Ok(None);
        };
        let mut alert: Alert = match self.open.get(&id) {
            Some(open) => open.clone(),
            None => serde_json::from_slice(&stored.bytes)
                .map_err(|e| format!("stored alert {id} does not read back: {e}"))?,
        };
        let previous = alert.feedback.replace(msg.verdict);
        let mut bytes = Vec::with_capacity(stored.bytes.len() + 32);
        encode_json(&alert, &self.store_encoding, &mut bytes)
            .map_err(|e| format!("cannot serialise alert {id}: {e}"))?;
        if !self
            .store
            .update_alert(msg.id, &bytes)
            .map_err(|e| format!("updating alert {id}: {e}"))?
        {
            return Ok(None);
        }
        if let Some(open) = self.open.get_mut(&id) {
            open.feedback = Some(msg.verdict);
        }
        Ok(Some(RecordedVerdict {
            bytes,
            detector: alert.detector,
            seq: alert.seq,
            previous,
        }))
    }
}

/// An analyst's verdict on event `seq`, from an alert of `detector`, for the detector stage.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<VerdictTaken, String>")]
pub struct AnalystVerdict {
    /// The event's sequence number.
    pub seq: u64,
    /// The detector of the alert the verdict was given on.
    pub detector: String,
    /// Whether the verdict says the event was an attack.
    pub anomalous: bool,
}

impl Handler<AnalystVerdict> for PoolActor {
    type Result = Result<VerdictTaken, String>;

    fn handle(&mut self, msg: AnalystVerdict, _: &mut Context<Self>) -> Self::Result {
        self.detect
            .analyst_verdict(msg.seq, &msg.detector, msg.anomalous)
            .map_err(|e| e.to_string())
    }
}

/// Asks the detector stage for a fresh model of `kind` (see
/// [`Pool::request_retrain`](vigil_pool::Pool::request_retrain)).
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Result<RetrainRequest, StageError>")]
pub struct RetrainModel {
    /// The kind of model.
    pub kind: ModelKind,
}

impl Handler<RetrainModel> for PoolActor {
    type Result = Result<RetrainRequest, StageError>;

    fn handle(&mut self, msg: RetrainModel, _: &mut Context<Self>) -> Self::Result {
        match self.detect.request_retrain(msg.kind) {
            Ok(request) => {
                tracing::info!(kind = %msg.kind, ?request, "retrain requested through the API");
                Ok(request)
            }
            Err(DetectError::Pool(error @ PoolError::ModelNotInPool { .. })) => {
                Err(StageError::NotFound(error.to_string()))
            }
            Err(error) => Err(StageError::Failed(error.to_string())),
        }
    }
}

/// Asks the detector stage for its [`DetectorsView`].
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Result<DetectorsView, StageError>")]
pub struct DetectorStatus;

impl Handler<DetectorStatus> for PoolActor {
    type Result = Result<DetectorsView, StageError>;

    fn handle(&mut self, _: DetectorStatus, _: &mut Context<Self>) -> Self::Result {
        Ok(self.detect.view())
    }
}

/// Why a stage could not do what the API asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StageError {
    /// The pipeline has stopped (a replay that keeps serving after its input ended).
    #[error("the pipeline has stopped")]
    Stopped,
    /// The stage did not answer in time (it answers between two batches).
    #[error("the {0} stage did not answer within {secs} s", secs = STAGE_TIMEOUT.as_secs())]
    Busy(&'static str),
    /// No such thing (a model kind the pool does not run).
    #[error("{0}")]
    NotFound(String),
    /// The stage refused or failed; the message says why.
    #[error("{0}")]
    Failed(String),
}

/// The handles the API uses to reach the alert and detector stages.
#[derive(Clone)]
pub struct DetectorStage {
    alerts: Addr<AlertActor>,
    pool: Addr<PoolActor>,
}

impl std::fmt::Debug for DetectorStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DetectorStage")
    }
}

/// Sends `msg` to a stage and waits at most `STAGE_TIMEOUT` for its answer.
pub(super) async fn ask<A, M>(
    addr: &Addr<A>,
    msg: M,
    stage: &'static str,
) -> Result<M::Result, StageError>
where
    A: Actor<Context = Context<A>> + Handler<M>,
    M: Message + Send + 'static,
    M::Result: Send,
{
    match tokio::time::timeout(STAGE_TIMEOUT, addr.send(msg)).await {
        Err(_) => Err(StageError::Busy(stage)),
        Ok(Err(_)) => Err(StageError::Stopped),
        Ok(Ok(answer)) => Ok(answer),
    }
}

impl DetectorStage {
    pub(super) fn new(alerts: Addr<AlertActor>, pool: Addr<PoolActor>) -> DetectorStage {
        DetectorStage { alerts, pool }
    }

    /// Records `verdict` on alert `id` in the alert stage; `None` for an unknown alert.
    ///
    /// # Errors
    /// The stage stopped, did not answer, or the store failed.
    pub async fn record_verdict(
        &self,
        id: AlertId,
        verdict: Verdict,
    ) -> Result<Option<RecordedVerdict>, StageError> {
        ask(&self.alerts, RecordVerdict { id, verdict }, "alert")
            .await?
            .map_err(StageError::Failed)
    }

    /// Hands a verdict on event `seq` (an alert of `detector`) to the detector stage.
    ///
    /// # Errors
    /// The stage stopped, did not answer, or the pool refused the feedback.
    pub async fn verdict(
        &self,
        seq: u64,
        detector: String,
        anomalous: bool,
    ) -> Result<VerdictTaken, StageError> {
        let msg = AnalystVerdict {
            seq,
            detector,
            anomalous,
        };
        ask(&self.pool, msg, "detector")
            .await?
            .map_err(StageError::Failed)
    }

    /// Asks for a fresh model of `kind`.
    ///
    /// # Errors
    /// [`StageError::NotFound`] for a kind the pool does not run; the stage stopped or did
    /// not answer.
    pub async fn retrain(&self, kind: ModelKind) -> Result<RetrainRequest, StageError> {
        ask(&self.pool, RetrainModel { kind }, "detector").await?
    }

    /// The detectors view.
    ///
    /// # Errors
    /// The stage stopped or did not answer.
    pub async fn status(&self) -> Result<DetectorsView, StageError> {
        ask(&self.pool, DetectorStatus, "detector").await?
    }
}
