//! Settings a config reload changes in the running stages (see [`crate::reload`]).
//!
//! Each change is a message to the stage that owns the setting: the severity thresholds to
//! the detector stage ([`SetSeverity`]), the cooldown and the allowlist to the alert stage
//! ([`SetAlertPolicy`]). A stage handles one batch at a time, so a change takes effect
//! between two batches, never in the middle of an event.

use actix::prelude::*;

use super::analyst::ask;
use super::{AlertActor, Pipeline, PoolActor, StageError};
use crate::alert::{Cooldowns, SeverityThresholds};
use crate::suppress::Cidr;

/// New severity thresholds for the detector stage's alert decision.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct SetSeverity(pub SeverityThresholds);

impl Handler<SetSeverity> for PoolActor {
    type Result = ();

    fn handle(&mut self, msg: SetSeverity, _: &mut Context<Self>) {
        self.detect.set_severity(msg.0);
    }
}

/// New alert aggregation and allowlist for the alert stage; `None` keeps a setting.
#[derive(Message, Debug, Clone, Default)]
#[rtype(result = "Result<(), String>")]
pub struct SetAlertPolicy {
    /// `alerts.cooldown_secs`: applies to the cooldowns already open too.
    pub cooldown_secs: Option<u64>,
    /// `alerts.allowlist`, parsed.
    pub allowlist: Option<Vec<Cidr>>,
}

impl Handler<SetAlertPolicy> for AlertActor {
    type Result = Result<(), String>;

    fn handle(&mut self, msg: SetAlertPolicy, _: &mut Context<Self>) -> Self::Result {
        if let Some(secs) = msg.cooldown_secs {
            self.cooldowns = with_cooldown(&self.cooldowns, secs)?;
        }
        if let Some(allowlist) = msg.allowlist {
            self.filter.set_allowlist(allowlist);
        }
        Ok(())
    }
}

/// `cooldowns` with every open cooldown kept and the cooldown set to `secs`. `Cooldowns`
/// takes its cooldown at construction; its snapshot (a documented, versioned JSON form)
/// carries it beside the open alerts, so the change goes through the snapshot.
fn with_cooldown(cooldowns: &Cooldowns, secs: u64) -> Result<Cooldowns, String> {
    let mut state: serde_json::Value = serde_json::from_slice(&cooldowns.snapshot())
        .map_err(|e| format!("the cooldowns' snapshot does not read back: {e}"))?;
    state["cooldown_secs"] = serde_json::Value::from(secs);
    state["cooldown_subsec_nanos"] = serde_json::Value::from(0u32);
    let bytes = serde_json::to_vec(&state).map_err(|e| e.to_string())?;
    Cooldowns::restore(&bytes).map_err(|e| format!("cannot change the cooldown: {e}"))
}

/// The stages a reload changes (see [`Pipeline::live_stages`]).
#[derive(Clone)]
pub struct LiveStages {
    alerts: Addr<AlertActor>,
    pool: Addr<PoolActor>,
}

impl std::fmt::Debug for LiveStages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LiveStages")
    }
}

impl LiveStages {
    /// Sets the detector stage's severity thresholds from its next batch on.
    ///
    /// # Errors
    /// The stage stopped or did not answer.
    pub async fn set_severity(&self, thresholds: SeverityThresholds) -> Result<(), StageError> {
        ask(&self.pool, SetSeverity(thresholds), "detector").await
    }

    /// Sets the alert stage's cooldown and allowlist from its next batch on.
    ///
    /// # Errors
    /// The stage stopped, did not answer, or could not change its cooldowns.
    pub async fn set_alert_policy(&self, policy: SetAlertPolicy) -> Result<(), StageError> {
        ask(&self.alerts, policy, "alert")
            .await?
            .map_err(StageError::Failed)
    }
}

impl Pipeline {
    /// Where a config reload sends the settings that change live.
    pub fn live_stages(&self) -> LiveStages {
        LiveStages {
            alerts: self.alerts.clone(),
            pool: self.pool.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{Aggregation, Alert, Severity};

    fn alert_at(offset: u64, secs: i64) -> Alert {
        use vigil_sensors::{Event, EventKind, Origin, Sensor};
        let origin = Origin {
            source: std::sync::Arc::from("cowrie.json"),
            offset,
            round: 0,
        };
        let mut event = Event::new(
            chrono::DateTime::UNIX_EPOCH + chrono::TimeDelta::seconds(secs),
            Sensor::Cowrie,
            std::sync::Arc::from("hp-1"),
            EventKind::LoginFailed,
            origin,
        );
        event.src_ip = Some("203.0.113.7".parse().expect("address"));
        Alert::new(&event, "brute_force", 0.96, Severity::Orange, "x".into()).expect("alert")
    }

    #[test]
    fn a_new_cooldown_keeps_the_open_alerts_and_applies_to_them() {
        let mut cooldowns = Cooldowns::new(60);
        let first = alert_at(0, 0);
        assert_eq!(cooldowns.offer(&first), Aggregation::New);
        let mut longer = with_cooldown(&cooldowns, 600).expect("changes");
        assert_eq!(longer.cooldown().num_seconds(), 600);
        assert_eq!(longer.len(), 1);
        // 300 s later: a repeat under the new cooldown, a new alert under the old one.
        assert!(matches!(
            longer.offer(&alert_at(100, 300)),
            Aggregation::Repeat { .. }
        ));
        assert_eq!(cooldowns.offer(&alert_at(100, 300)), Aggregation::New);
        let none = with_cooldown(&cooldowns, 0).expect("changes");
        assert_eq!(none.cooldown().num_seconds(), 0);
    }
}
