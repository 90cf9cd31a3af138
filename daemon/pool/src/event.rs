//! Decisions the pool takes, as records for analysts and the state store.

use serde::{Deserialize, Serialize};

use crate::ModelRef;

/// What a [`DriftEvent`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// The champion's ADWIN saw its error rate (or, before any feedback, its calibrated
    /// scores) rise. The reason says what the pool does about it: which model leads now,
    /// and whether a fresh model of the champion's kind is trained.
    DriftDetected,
    /// Another model leads: after the champion's drift, between drifts because a challenger's
    /// estimate is clearly lower, or when the baseline takes over from its stand-in.
    ChampionChanged,
    /// The first baseline fit took effect.
    BaselineFitted,
    /// A fresh model, trained after a drift, took the place of the model of its kind.
    Retrained,
    /// A model left the active set for the retired pool (or, when the pool is full or
    /// disabled, for good; the reason says which).
    Retired,
    /// A retired model beat the others on the recent window after a drift and is active again.
    Restored,
    /// A background fit failed; the reason holds the model's error. The model it was to
    /// replace stays; a failed first baseline fit starts collecting its window again.
    FitFailed,
    /// An analyst asked for a fresh model of a kind
    /// ([`Pool::request_retrain`](crate::Pool::request_retrain)); the reason says which
    /// window it learns and when it takes effect (recorded as `Retrained` then).
    RetrainRequested,
}

impl DriftKind {
    pub(crate) fn code(self) -> u64 {
        match self {
            DriftKind::ChampionChanged => 0,
            DriftKind::BaselineFitted => 1,
            DriftKind::Retrained => 2,
            DriftKind::Retired => 3,
            DriftKind::Restored => 4,
            DriftKind::FitFailed => 5,
            DriftKind::DriftDetected => 6,
            DriftKind::RetrainRequested => 7,
        }
    }

    pub(crate) fn from_code(code: u64) -> Option<DriftKind> {
        Some(match code {
            0 => DriftKind::ChampionChanged,
            1 => DriftKind::BaselineFitted,
            2 => DriftKind::Retrained,
            3 => DriftKind::Retired,
            4 => DriftKind::Restored,
            5 => DriftKind::FitFailed,
            6 => DriftKind::DriftDetected,
            7 => DriftKind::RetrainRequested,
            _ => return None,
        })
    }
}

/// One decision of the pool, with its reason in a sentence that gives the numbers.
///
/// Drained with [`Pool::drain_events`](crate::Pool::drain_events). Serialises to JSON as
///
/// ```json
/// {"seq":12345,"event_time_micros":null,"kind":"champion_changed","model":"hst#2",
///  "reason":"…","champion_before":"ocsvm#4","champion_after":"hst#2"}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftEvent {
    /// Sequence number of the event at which the decision was taken: the event being scored
    /// or learned, or for a decision that feedback triggered, the last event scored. It
    /// applies from the next event scored on (a fit that takes effect applies to this one).
    pub seq: u64,
    /// Event time of that event in microseconds since the Unix epoch, when the caller gave
    /// one ([`Pool::score_timed`](crate::Pool::score_timed)).
    pub event_time_micros: Option<i64>,
    /// What was decided.
    pub kind: DriftKind,
    /// The model the decision is about.
    pub model: ModelRef,
    /// Why, with the numbers.
    pub reason: String,
    /// The champion before the decision.
    pub champion_before: Option<ModelRef>,
    /// The champion after it.
    pub champion_after: Option<ModelRef>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModelKind;

    #[test]
    fn kinds_round_trip_and_serialise_in_snake_case() {
        for code in 0..8 {
            let kind = DriftKind::from_code(code);
            assert_eq!(kind.map(DriftKind::code), Some(code));
        }
        assert_eq!(DriftKind::from_code(8), None);
        let event = DriftEvent {
            seq: 3,
            event_time_micros: Some(-5),
            kind: DriftKind::BaselineFitted,
            model: ModelRef {
                kind: ModelKind::Ocsvm,
                id: 4,
            },
            reason: "because".into(),
            champion_before: None,
            champion_after: Some(ModelRef {
                kind: ModelKind::Ocsvm,
                id: 4,
            }),
        };
        let json = serde_json::to_value(&event).unwrap_or_default();
        assert_eq!(json["kind"], "baseline_fitted");
        assert_eq!(json["model"], "ocsvm#4");
        assert_eq!(json["champion_before"], serde_json::Value::Null);
        assert_eq!(json["event_time_micros"], -5);
        let back: Option<DriftEvent> = serde_json::from_value(json).ok();
        assert_eq!(back, Some(event));
    }
}
