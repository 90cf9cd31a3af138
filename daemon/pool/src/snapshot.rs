//! Snapshots of the whole pool: models, calibrators, ADWINs, champion, retired pool,
//! training windows, pending fits, history and undrained events.
//!
//! The encoding is `vigil_detectors::codec`'s: tag `POOL`, a format version, little-endian
//! numbers, the models' own versioned snapshots nested as byte strings. The configuration is
//! stored field by field, so that a restore under another configuration is refused with the
//! field named.

use std::collections::VecDeque;

use vigil_detectors::DetectorError;
use vigil_detectors::calibration::Calibrator;
use vigil_detectors::codec::{SnapshotReader, SnapshotWriter};
use vigil_detectors::drift::Adwin;

use crate::config::PLUGIN_CODE;
use crate::event::{DriftEvent, DriftKind};
use crate::history::{History, HistoryParts, SlotScore};
use crate::job::{Collection, FitJob, FitPurpose, PendingJob};
use crate::model::{Member, Model, ModelParams, ModelRef, calibrator_config, derive_seed};
use crate::plugin::{PluginId, PluginModelState};
use crate::pool::{Active, Retired, Signal, Slot};
use crate::{ModelKind, Pool, PoolConfig, PoolError};

const TAG: [u8; 4] = *b"POOL";
const VERSION: u16 = 1;
/// Name used in nested snapshot errors.
const NAME: &str = "pool";

fn corrupt(reason: impl Into<String>) -> PoolError {
    PoolError::Snapshot {
        reason: reason.into(),
    }
}

fn nested(error: DetectorError) -> PoolError {
    corrupt(error.to_string())
}

/// The configuration as (field, value) pairs; values are exact (`{:?}` of a float
/// round-trips).
fn config_fields(dim: usize, config: &PoolConfig) -> Vec<(&'static str, String)> {
    let models: Vec<&str> = config.models.iter().map(|k| k.name()).collect();
    let mut fields = vec![
        ("dim", dim.to_string()),
        ("models", models.join(",")),
        ("alert_threshold", format!("{:?}", config.alert_threshold)),
        (
            "baseline_train_events",
            config.baseline_train_events.to_string(),
        ),
        ("swap_after_events", config.swap_after_events.to_string()),
        ("retrain_min_events", config.retrain_min_events.to_string()),
        ("retrain_max_events", config.retrain_max_events.to_string()),
        ("max_retired_models", config.max_retired_models.to_string()),
        (
            "recent_window_events",
            config.recent_window_events.to_string(),
        ),
        (
            "feedback_window_events",
            config.feedback_window_events.to_string(),
        ),
        ("min_evidence", config.min_evidence.to_string()),
        ("switch_margin", format!("{:?}", config.switch_margin)),
        ("min_drift_rise", format!("{:?}", config.min_drift_rise)),
        (
            "min_reference_scores",
            config.min_reference_scores.to_string(),
        ),
        ("reference", format!("{:?}", config.reference)),
        ("calibration", format!("{:?}", config.calibration)),
        ("adwin", format!("{:?}", config.adwin)),
        ("ocsvm", format!("{:?}", config.ocsvm)),
        ("hst", format!("{:?}", config.hst)),
        ("online_ocsvm", format!("{:?}", config.online_ocsvm)),
        ("seed", config.seed.to_string()),
    ];
    // Only a pool with plugins has this field, so snapshots of pools without them read
    // as before.
    if !config.plugins.is_empty() {
        let plugins: Vec<String> = config.plugins.iter().map(|p| p.describe()).collect();
        fields.push(("plugins", plugins.join("; ")));
    }
    fields
}

fn write_str(w: &mut SnapshotWriter, s: &str) {
    w.bytes(s.as_bytes());
}

fn read_str(r: &mut SnapshotReader<'_>, what: &str) -> Result<String, PoolError> {
    let bytes = r.bytes().map_err(nested)?;
    String::from_utf8(bytes.to_vec()).map_err(|_| corrupt(format!("{what} is not UTF-8")))
}

fn write_opt(w: &mut SnapshotWriter, v: Option<u64>) {
    match v {
        None => w.u64(0),
        Some(v) => {
            w.u64(1);
            w.u64(v);
        }
    }
}

fn read_flag(r: &mut SnapshotReader<'_>, what: &str) -> Result<bool, PoolError> {
    match r.u64().map_err(nested)? {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(corrupt(format!("{what} flag is {other}, not 0 or 1"))),
    }
}

fn read_opt(r: &mut SnapshotReader<'_>, what: &str) -> Result<Option<u64>, PoolError> {
    if read_flag(r, what)? {
        Ok(Some(r.u64().map_err(nested)?))
    } else {
        Ok(None)
    }
}

fn read_usize(r: &mut SnapshotReader<'_>, what: &str) -> Result<usize, PoolError> {
    let v = r.u64().map_err(nested)?;
    usize::try_from(v).map_err(|_| corrupt(format!("{what} {v} does not fit this platform")))
}

/// A kind: its code, and for a plugin, the plugin's name after it.
fn write_kind(w: &mut SnapshotWriter, kind: ModelKind) {
    w.u64(kind.code());
    if let ModelKind::Plugin(id) = kind {
        write_str(w, id.name());
    }
}

fn read_kind(r: &mut SnapshotReader<'_>) -> Result<ModelKind, PoolError> {
    let code = r.u64().map_err(nested)?;
    if code == PLUGIN_CODE {
        let name = read_str(r, "a plugin's name")?;
        return PluginId::intern(&name)
            .map(ModelKind::Plugin)
            .map_err(|e| corrupt(format!("plugin name: {e}")));
    }
    ModelKind::from_code(code).ok_or_else(|| corrupt(format!("unknown model kind {code}")))
}

fn write_model_ref(w: &mut SnapshotWriter, model: ModelRef) {
    write_kind(w, model.kind);
    w.u64(model.id);
}

fn read_model_ref(r: &mut SnapshotReader<'_>) -> Result<ModelRef, PoolError> {
    let kind = read_kind(r)?;
    let id = r.u64().map_err(nested)?;
    Ok(ModelRef { kind, id })
}

const PLUGIN_TAG: [u8; 4] = *b"PLGM";
const PLUGIN_VERSION: u16 = 1;

/// A plugin model: failures, events learned, the plugin's own snapshot (none once disabled,
/// or when the plugin could not give one: restored disabled), the last error.
fn plugin_model_bytes(state: &PluginModelState) -> Vec<u8> {
    let mut w = SnapshotWriter::new(PLUGIN_TAG, PLUGIN_VERSION);
    let bytes = if state.is_disabled() {
        None
    } else {
        state.instance.as_ref().and_then(|i| i.snapshot().ok())
    };
    let failures = match bytes {
        Some(_) => state.failures.get(),
        None => state.failures.get().max(state.spec.max_failures.max(1)),
    };
    w.u64(failures);
    w.u64(state.learned);
    match &bytes {
        Some(bytes) => {
            w.u64(1);
            w.bytes(bytes);
        }
        None => w.u64(0),
    }
    write_str(&mut w, &state.last_error.borrow());
    w.finish()
}

fn read_plugin_model(
    bytes: &[u8],
    model_ref: ModelRef,
    dim: usize,
    config: &PoolConfig,
) -> Result<Model, PoolError> {
    let spec = config.plugin_spec(model_ref.kind).ok_or_else(|| {
        corrupt(format!(
            "model {model_ref}: plugin {} is not among this pool's plugins (not loaded or not enabled)",
            model_ref.kind.plugin().map_or("?", |p| p.name())
        ))
    })?;
    let mut r = SnapshotReader::new(NAME, bytes, PLUGIN_TAG, PLUGIN_VERSION).map_err(nested)?;
    let failures = r.u64().map_err(nested)?;
    let learned = r.u64().map_err(nested)?;
    let instance = if read_flag(&mut r, "plugin state")? {
        let state = r.bytes().map_err(nested)?;
        Some(
            spec.factory
                .restore(dim, state)
                .map_err(|e| corrupt(format!("model {model_ref}: {e}")))?,
        )
    } else {
        None
    };
    let last_error = read_str(&mut r, "a plugin's last error")?;
    r.end().map_err(nested)?;
    let state = PluginModelState {
        kind: model_ref.kind,
        spec: spec.clone(),
        dim,
        instance,
        failures: std::cell::Cell::new(failures),
        learned,
        last_error: std::cell::RefCell::new(last_error),
    };
    Ok(Model::Plugin(state))
}

fn write_opt_ref(w: &mut SnapshotWriter, model: Option<ModelRef>) {
    match model {
        None => w.u64(0),
        Some(m) => {
            w.u64(1);
            write_model_ref(w, m);
        }
    }
}

fn read_opt_ref(r: &mut SnapshotReader<'_>, what: &str) -> Result<Option<ModelRef>, PoolError> {
    if read_flag(r, what)? {
        Ok(Some(read_model_ref(r)?))
    } else {
        Ok(None)
    }
}

fn write_member(w: &mut SnapshotWriter, member: &Member) {
    write_model_ref(w, member.model_ref);
    match (&member.model, member.model.detector()) {
        (Model::Plugin(state), _) => w.bytes(&plugin_model_bytes(state)),
        (_, Some(detector)) => w.bytes(&detector.snapshot()),
        (_, None) => w.bytes(&[]),
    }
    w.bytes(&member.calibrator.snapshot());
}

fn read_member(
    r: &mut SnapshotReader<'_>,
    dim: usize,
    config: &PoolConfig,
) -> Result<Member, PoolError> {
    let model_ref = read_model_ref(r)?;
    let model_bytes = r.bytes().map_err(nested)?;
    let model = if model_ref.kind.plugin().is_some() {
        read_plugin_model(model_bytes, model_ref, dim, config)?
    } else {
        let mut model = Model::blank(dim, model_ref.kind).map_err(nested)?;
        model
            .restore_builtin(model_bytes)
            .map_err(|e| corrupt(format!("model {model_ref}: {e}")))?;
        model
    };
    let mut calibrator = Calibrator::new(Default::default()).map_err(nested)?;
    calibrator
        .restore(r.bytes().map_err(nested)?)
        .map_err(|e| corrupt(format!("calibrator of {model_ref}: {e}")))?;
    Ok(Member {
        model_ref,
        model,
        calibrator,
    })
}

fn write_purpose(w: &mut SnapshotWriter, purpose: FitPurpose) {
    let (code, drift_seq) = purpose.code();
    w.u64(code);
    w.u64(drift_seq);
}

fn read_purpose(r: &mut SnapshotReader<'_>) -> Result<FitPurpose, PoolError> {
    let code = r.u64().map_err(nested)?;
    let drift_seq = r.u64().map_err(nested)?;
    FitPurpose::from_code(code, drift_seq)
        .ok_or_else(|| corrupt(format!("unknown fit purpose {code}")))
}

fn write_rows(w: &mut SnapshotWriter, rows: &[f64], normal: &[bool]) {
    w.f64s(rows);
    let flags: Vec<u64> = normal.iter().map(|&n| u64::from(n)).collect();
    w.u64s(&flags);
}

fn read_rows(
    r: &mut SnapshotReader<'_>,
    dim: usize,
    what: &str,
) -> Result<(Vec<f64>, Vec<bool>), PoolError> {
    let rows = r.f64s().map_err(nested)?;
    let flags = r.u64s().map_err(nested)?;
    if rows.len() != flags.len() * dim {
        return Err(corrupt(format!(
            "{what}: {} values for {} rows of {dim}",
            rows.len(),
            flags.len()
        )));
    }
    if rows.iter().any(|v| !v.is_finite()) {
        return Err(corrupt(format!("{what}: a training value is not finite")));
    }
    let normal = flags
        .iter()
        .map(|&f| match f {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(corrupt(format!("{what}: normal flag {other}"))),
        })
        .collect::<Result<Vec<bool>, PoolError>>()?;
    Ok((rows, normal))
}

impl Pool {
    /// The whole state as versioned bytes: restore them into a pool built with the same
    /// dimension and configuration, and it goes on exactly as this one would.
    ///
    /// Taken between events (after `learn`) or after `score` alike. A fit that was handed out
    /// and not installed is stored as its job and handed out again after the restore; an
    /// installed result is stored as the fitted model.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut w = SnapshotWriter::new(TAG, VERSION);
        let fields = config_fields(self.dim, &self.config);
        w.u64(fields.len() as u64);
        for (name, value) in &fields {
            write_str(&mut w, name);
            write_str(&mut w, value);
        }
        w.u64(self.next_model_id);
        w.u64(self.next_job_id);
        w.u64(match self.signal {
            Signal::Scores => 0,
            Signal::Errors => 1,
        });
        w.u64(u64::from(self.stand_in));
        write_opt_ref(&mut w, self.champion);
        write_opt(&mut w, self.last_seq);
        write_opt(&mut w, self.last_event_time.map(|t| t as u64));
        w.u64(u64::from(self.awaiting_learn));
        w.u64(self.feedback_applied);
        w.u64(self.events_dropped);

        for slot in &self.slots {
            match &slot.active {
                None if slot.disabled => w.u64(2),
                None => w.u64(0),
                Some(active) => {
                    w.u64(1);
                    write_member(&mut w, &active.member);
                    w.bytes(&active.adwin.snapshot());
                    w.u64(active.since_seq);
                }
            }
        }
        w.u64(self.retired.len() as u64);
        for retired in &self.retired {
            write_member(&mut w, &retired.member);
            w.u64(retired.retired_seq);
        }
        w.u64(self.collections.len() as u64);
        for c in &self.collections {
            write_kind(&mut w, c.kind);
            write_purpose(&mut w, c.purpose);
            w.u64(c.target as u64);
            write_opt(&mut w, c.first_seq);
            write_opt(&mut w, c.last_seq);
            write_rows(&mut w, &c.rows, &c.normal);
        }
        w.u64(self.jobs.len() as u64);
        for p in &self.jobs {
            let job = &p.job;
            w.u64(job.id);
            write_model_ref(&mut w, job.model);
            write_purpose(&mut w, job.purpose);
            w.u64(job.first_seq);
            w.u64(job.last_seq);
            w.u64(job.fit_start_seq);
            w.u64(job.due_seq);
            write_rows(&mut w, &job.rows, &job.normal);
            // A failed fit is stored as not run: running the same job again fails the same way.
            match &p.result {
                Some(Ok(member)) => {
                    w.u64(1);
                    write_member(&mut w, member);
                }
                _ => w.u64(0),
            }
        }
        let parts = self.history.parts();
        w.u64s(&parts.seqs);
        w.f64s(&parts.rows);
        w.u64s(&parts.flags);
        w.u64s(&parts.scores.iter().map(|s| s.model).collect::<Vec<_>>());
        w.f64s(&parts.scores.iter().map(|s| s.raw).collect::<Vec<_>>());
        w.f64s(
            &parts
                .scores
                .iter()
                .map(|s| s.calibrated)
                .collect::<Vec<_>>(),
        );
        w.u64(self.events.len() as u64);
        for e in &self.events {
            w.u64(e.seq);
            write_opt(&mut w, e.event_time_micros.map(|t| t as u64));
            w.u64(e.kind.code());
            write_model_ref(&mut w, e.model);
            write_str(&mut w, &e.reason);
            write_opt_ref(&mut w, e.champion_before);
            write_opt_ref(&mut w, e.champion_after);
        }
        w.finish()
    }

    /// Replaces the whole state with a [`snapshot`](Self::snapshot). Pending fits are handed
    /// out again by [`fit_job`](Self::fit_job).
    ///
    /// # Errors
    /// [`PoolError::SnapshotMismatch`] naming the first configuration field (or `dim`) that
    /// differs from this pool's; [`PoolError::Snapshot`] for anything else that is not a
    /// valid pool snapshot of this version. The pool is left unchanged.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), PoolError> {
        let restored = self.decode(bytes)?;
        *self = restored;
        Ok(())
    }

    fn decode(&self, bytes: &[u8]) -> Result<Pool, PoolError> {
        let dim = self.dim;
        let mut r = SnapshotReader::new(NAME, bytes, TAG, VERSION).map_err(nested)?;
        let expected = config_fields(dim, &self.config);
        let count = read_usize(&mut r, "configuration field count")?;
        if count > expected.len() + 1 {
            return Err(corrupt(format!(
                "{count} configuration fields, this version has {}",
                expected.len()
            )));
        }
        let mut got_fields: Vec<(String, String)> = Vec::with_capacity(count);
        for _ in 0..count {
            let name = read_str(&mut r, "a configuration field name")?;
            let value = read_str(&mut r, "a configuration value")?;
            got_fields.push((name, value));
        }
        // In this version's order; `plugins` is there only for a pool with plugins.
        for (name, current) in &expected {
            let got = got_fields.iter().find(|(n, _)| n == name).map(|(_, v)| v);
            match got {
                Some(got) if got == current => {}
                Some(got) => {
                    return Err(PoolError::SnapshotMismatch {
                        field: (*name).to_string(),
                        snapshot: got.clone(),
                        current: current.clone(),
                    });
                }
                None if *name == "plugins" => {
                    return Err(PoolError::SnapshotMismatch {
                        field: "plugins".into(),
                        snapshot: "(none)".into(),
                        current: current.clone(),
                    });
                }
                None => {
                    return Err(corrupt(format!("configuration field {name:?} is missing")));
                }
            }
        }
        for (name, got) in &got_fields {
            if !expected.iter().any(|(n, _)| n == name) {
                if name == "plugins" {
                    return Err(PoolError::SnapshotMismatch {
                        field: "plugins".into(),
                        snapshot: got.clone(),
                        current: "(none)".into(),
                    });
                }
                return Err(corrupt(format!("unknown configuration field {name:?}")));
            }
        }
        let mut pool = Pool::empty(dim, self.config.clone());
        pool.next_model_id = r.u64().map_err(nested)?;
        pool.next_job_id = r.u64().map_err(nested)?;
        pool.signal = match r.u64().map_err(nested)? {
            0 => Signal::Scores,
            1 => Signal::Errors,
            other => return Err(corrupt(format!("unknown signal {other}"))),
        };
        pool.stand_in = read_flag(&mut r, "stand-in")?;
        pool.champion = read_opt_ref(&mut r, "champion")?;
        pool.last_seq = read_opt(&mut r, "last sequence number")?;
        pool.last_event_time = read_opt(&mut r, "last event time")?.map(|t| t as i64);
        pool.awaiting_learn = read_flag(&mut r, "awaiting learn")?;
        pool.feedback_applied = r.u64().map_err(nested)?;
        pool.events_dropped = r.u64().map_err(nested)?;
        let known = |model: ModelRef| -> Result<(), PoolError> {
            if model.id == 0 || model.id >= pool.next_model_id {
                return Err(corrupt(format!(
                    "model {model} is outside the ids handed out (below {})",
                    pool.next_model_id
                )));
            }
            Ok(())
        };

        let mut slots: Vec<Slot> = Vec::with_capacity(pool.slots.len());
        for slot in &pool.slots {
            let flag = r.u64().map_err(nested)?;
            let disabled = flag == 2 && slot.kind.plugin().is_some();
            if flag > 1 && !disabled {
                return Err(corrupt(format!("active model flag is {flag}")));
            }
            let active = if flag == 1 {
                let member = read_member(&mut r, dim, &self.config)?;
                known(member.model_ref)?;
                if member.model_ref.kind != slot.kind {
                    return Err(corrupt(format!(
                        "model {} in the {} slot",
                        member.model_ref, slot.kind
                    )));
                }
                let adwin = Adwin::from_snapshot(r.bytes().map_err(nested)?)
                    .map_err(|e| corrupt(format!("ADWIN of {}: {e}", member.model_ref)))?;
                let since_seq = r.u64().map_err(nested)?;
                Some(Active {
                    member,
                    adwin,
                    since_seq,
                })
            } else {
                None
            };
            slots.push(Slot {
                kind: slot.kind,
                active,
                disabled,
                failures_total: 0,
            });
        }
        pool.slots = slots;
        if let Some(champion) = pool.champion
            && !pool.active_models().contains(&champion)
        {
            return Err(corrupt(format!(
                "champion {champion} is not an active model"
            )));
        }

        let retired = read_usize(&mut r, "retired model count")?;
        if retired > pool.config.max_retired_models {
            return Err(corrupt(format!(
                "{retired} retired models, more than max_retired_models {}",
                pool.config.max_retired_models
            )));
        }
        let mut retired_pool = VecDeque::with_capacity(retired);
        for _ in 0..retired {
            let member = read_member(&mut r, dim, &self.config)?;
            known(member.model_ref)?;
            let retired_seq = r.u64().map_err(nested)?;
            retired_pool.push_back(Retired {
                member,
                retired_seq,
            });
        }
        pool.retired = retired_pool;

        let collections = read_usize(&mut r, "training window count")?;
        if collections > pool.slots.len() {
            return Err(corrupt(format!("{collections} training windows")));
        }
        for _ in 0..collections {
            let kind = read_kind(&mut r)?;
            if !pool.config.models.contains(&kind) {
                return Err(corrupt(format!(
                    "a training window for {kind}, which this pool does not run"
                )));
            }
            let purpose = read_purpose(&mut r)?;
            let target = read_usize(&mut r, "training window target")?;
            let first_seq = read_opt(&mut r, "first training event")?;
            let last_seq = read_opt(&mut r, "last training event")?;
            let (rows, normal) = read_rows(&mut r, dim, "training window")?;
            pool.collections.push(Collection {
                kind,
                purpose,
                target,
                rows,
                normal,
                first_seq,
                last_seq,
            });
        }

        let jobs = read_usize(&mut r, "fit count")?;
        if jobs > pool.slots.len() {
            return Err(corrupt(format!("{jobs} pending fits")));
        }
        for _ in 0..jobs {
            let id = r.u64().map_err(nested)?;
            if id == 0 || id >= pool.next_job_id {
                return Err(corrupt(format!("fit job {id} was never handed out")));
            }
            let model = read_model_ref(&mut r)?;
            known(model)?;
            let purpose = read_purpose(&mut r)?;
            let first_seq = r.u64().map_err(nested)?;
            let last_seq = r.u64().map_err(nested)?;
            let fit_start_seq = r.u64().map_err(nested)?;
            let due_seq = r.u64().map_err(nested)?;
            let (rows, normal) = read_rows(&mut r, dim, "fit job")?;
            let result = if read_flag(&mut r, "fit result")? {
                let member = read_member(&mut r, dim, &self.config)?;
                if member.model_ref != model {
                    return Err(corrupt(format!(
                        "fit job {id} holds model {}, not {model}",
                        member.model_ref
                    )));
                }
                Some(Ok(member))
            } else {
                None
            };
            let seed = derive_seed(pool.config.seed, model.id);
            let job = FitJob {
                id,
                model,
                purpose,
                dim,
                rows,
                normal,
                first_seq,
                last_seq,
                fit_start_seq,
                due_seq,
                params: ModelParams::for_kind(&pool.config, model.kind, seed),
                calibration: calibrator_config(&pool.config.calibration, model.id),
            };
            pool.jobs.push(PendingJob {
                job,
                handed_out: false,
                result,
            });
        }

        let seqs = r.u64s().map_err(nested)?;
        let rows = r.f64s().map_err(nested)?;
        let flags = r.u64s().map_err(nested)?;
        let models = r.u64s().map_err(nested)?;
        let raws = r.f64s().map_err(nested)?;
        let calibrated = r.f64s().map_err(nested)?;
        let n = seqs.len();
        let slots = pool.slots.len();
        if n > pool.config.history_events()
            || rows.len() != n * dim
            || flags.len() != n
            || models.len() != n * slots
            || raws.len() != n * slots
            || calibrated.len() != n * slots
        {
            return Err(corrupt(format!(
                "history of {n} events with {} values, {} flags and {} scores does not fit {dim} features and {slots} models",
                rows.len(),
                flags.len(),
                models.len()
            )));
        }
        if seqs.windows(2).any(|w| w[0] >= w[1]) {
            return Err(corrupt("history sequence numbers do not increase"));
        }
        if let (Some(&newest), Some(last)) = (seqs.last(), pool.last_seq)
            && newest != last
        {
            return Err(corrupt(format!(
                "history ends at event {newest}, the last event scored is {last}"
            )));
        }
        if flags.iter().any(|f| *f > 0x0202 || (f & 0xff) > 2) {
            return Err(corrupt("a history flag is out of range"));
        }
        let scores = models
            .into_iter()
            .zip(raws)
            .zip(calibrated)
            .map(|((model, raw), calibrated)| SlotScore {
                model,
                raw,
                calibrated,
            })
            .collect();
        pool.history = History::from_parts(
            pool.config.history_events(),
            dim,
            slots,
            HistoryParts {
                seqs,
                rows,
                flags,
                scores,
            },
        );

        let events = read_usize(&mut r, "drift event count")?;
        if events > crate::MAX_PENDING_EVENTS {
            return Err(corrupt(format!("{events} undrained drift events")));
        }
        for _ in 0..events {
            let seq = r.u64().map_err(nested)?;
            let event_time_micros = read_opt(&mut r, "event time")?.map(|t| t as i64);
            let code = r.u64().map_err(nested)?;
            let kind = DriftKind::from_code(code)
                .ok_or_else(|| corrupt(format!("unknown drift event kind {code}")))?;
            let model = read_model_ref(&mut r)?;
            let reason = read_str(&mut r, "a drift event's reason")?;
            let champion_before = read_opt_ref(&mut r, "champion before")?;
            let champion_after = read_opt_ref(&mut r, "champion after")?;
            pool.events.push_back(DriftEvent {
                seq,
                event_time_micros,
                kind,
                model,
                reason,
                champion_before,
                champion_after,
            });
        }
        r.end().map_err(nested)?;
        Ok(pool)
    }
}
