//! Suppressions: `GET`, `POST /api/v1/suppressions` and `DELETE /api/v1/suppressions/{id}`.
//!
//! Each is kept in the state store (so it survives restarts) and in the alert stage's
//! [`AlertFilter`], which applies it from the next batch on.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::request::{json, read_body};
use super::{ApiError, ApiState};
use crate::suppress::{
    AlertFilter, Cidr, MAX_DETECTOR_BYTES, MAX_REASON_BYTES, MAX_SUPPRESSIONS, Suppression,
};

fn filter(state: &ApiState) -> Result<&Arc<AlertFilter>, ApiError> {
    state.filter.as_ref().ok_or_else(|| {
        ApiError::Unavailable("suppressions apply only while a pipeline runs".to_string())
    })
}

/// A suppression as served: its fields and how many alerts it dropped since start.
#[derive(Serialize)]
struct View<'a> {
    #[serde(flatten)]
    suppression: &'a Suppression,
    suppressed: u64,
}

/// `GET /api/v1/suppressions`.
pub(super) async fn list(state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let filter = filter(&state)?;
    let counts = filter.counts();
    let held = filter.suppressions();
    let views: Vec<View<'_>> = held
        .iter()
        .map(|suppression| View {
            suppression,
            suppressed: counts
                .by_suppression
                .get(&suppression.id)
                .copied()
                .unwrap_or(0),
        })
        .collect();
    let allowlist: Vec<String> = filter.allowlist().iter().map(Cidr::to_string).collect();
    Ok(json(&serde_json::json!({
        "suppressions": views,
        "allowlist": allowlist,
        "alerts_suppressed": counts.by_reason,
    })))
}

/// The body of `POST /api/v1/suppressions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSuppression {
    src_cidr: Option<String>,
    detector: Option<String>,
    until: Option<String>,
    reason: Option<String>,
}

fn field(name: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(format!("field `{name}`: {message}"))
}

impl NewSuppression {
    fn validate(self, now: DateTime<Utc>) -> Result<Suppression, ApiError> {
        let src_cidr: Cidr = self
            .src_cidr
            .as_deref()
            .ok_or_else(|| field("src_cidr", "required, like \"192.0.2.0/24\""))?
            .parse()
            .map_err(|e| field("src_cidr", e))?;
        let detector = match self.detector {
            Some(d) if d.is_empty() => return Err(field("detector", "must not be empty")),
            Some(d) if d.len() > MAX_DETECTOR_BYTES => {
                return Err(field(
                    "detector",
                    format!("at most {MAX_DETECTOR_BYTES} bytes, got {}", d.len()),
                ));
            }
            other => other,
        };
        let until = self
            .until
            .as_deref()
            .map(|text| {
                DateTime::parse_from_rfc3339(text)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| field("until", format!("{text:?} is not an RFC 3339 time: {e}")))
            })
            .transpose()?;
        let reason = self
            .reason
            .ok_or_else(|| field("reason", "required: say why"))?;
        if reason.trim().is_empty() {
            return Err(field("reason", "must not be blank"));
        }
        if reason.len() > MAX_REASON_BYTES {
            return Err(field(
                "reason",
                format!("at most {MAX_REASON_BYTES} bytes, got {}", reason.len()),
            ));
        }
        let fields = format!("{src_cidr} {detector:?} {until:?} {reason}");
        Ok(Suppression {
            id: new_id(now, &fields),
            src_cidr,
            detector,
            until,
            reason,
            created_at: now,
        })
    }
}

/// A fresh id: 16 hex digits of a SHA-256 over the creation time, a per-process counter
/// and the suppression's fields, so two never share one.
fn new_id(now: DateTime<Utc>, fields: &str) -> String {
    use sha2::{Digest, Sha256};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut hash = Sha256::new();
    hash.update(now.timestamp_nanos_opt().unwrap_or_default().to_be_bytes());
    hash.update(NEXT.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    hash.update(std::process::id().to_be_bytes());
    hash.update(fields.as_bytes());
    let digest = hash.finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// `POST /api/v1/suppressions`: 201 with the suppression created.
pub(super) async fn create(
    state: web::Data<ApiState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let filter = filter(&state)?.clone();
    let body = read_body(&req, payload, state.settings.max_body_bytes).await?;
    let new: NewSuppression = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!(
            "the body is not a JSON object of src_cidr, detector, until and reason: {e}"
        ))
    })?;
    let suppression = new.validate(Utc::now())?;
    if filter.len() >= MAX_SUPPRESSIONS {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_SUPPRESSIONS} suppressions are held; delete some first"
        )));
    }
    let bytes = serde_json::to_vec(&suppression)
        .map_err(|e| ApiError::Internal(format!("cannot serialise the suppression: {e}")))?;
    let store = state.store.clone();
    let id = suppression.id.clone();
    web::block(move || store.put_suppression(&id, &bytes))
        .await
        .map_err(|e| ApiError::store("storing a suppression", e))?
        .map_err(|e| ApiError::store("storing a suppression", e))?;
    filter.insert(suppression.clone());
    tracing::info!(
        suppression = %suppression.id,
        src_cidr = %suppression.src_cidr,
        detector = suppression.detector.as_deref().unwrap_or("*"),
        "suppression created through the API"
    );
    let body = serde_json::to_vec(&View {
        suppression: &suppression,
        suppressed: 0,
    })
    .map_err(|e| ApiError::Internal(format!("cannot serialise the suppression: {e}")))?;
    Ok(HttpResponse::Created()
        .insert_header((CONTENT_TYPE, "application/json"))
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/api/v1/suppressions/{}", suppression.id),
        ))
        .body(body))
}

/// `DELETE /api/v1/suppressions/{id}`: 204, or 404 for an id not held.
pub(super) async fn delete(
    state: web::Data<ApiState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let filter = filter(&state)?.clone();
    let id = id.into_inner();
    if id.is_empty() || id.len() > vigil_state::MAX_NAME_BYTES {
        return Err(ApiError::NotFound(format!("no suppression {id:?}")));
    }
    let store = state.store.clone();
    let key = id.clone();
    let existed = web::block(move || store.remove_suppression(&key))
        .await
        .map_err(|e| ApiError::store("removing a suppression", e))?
        .map_err(|e| ApiError::store("removing a suppression", e))?;
    let held = filter.remove(&id).is_some();
    if !existed && !held {
        return Err(ApiError::NotFound(format!("no suppression {id:?}")));
    }
    tracing::info!(suppression = %id, "suppression deleted through the API");
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(text: &str) -> Result<Suppression, ApiError> {
        let new: NewSuppression =
            serde_json::from_str(text).map_err(|e| ApiError::BadRequest(e.to_string()))?;
        new.validate(Utc::now())
    }

    #[test]
    fn a_valid_body_makes_a_suppression() {
        let s = body(
            r#"{"src_cidr":"192.0.2.7/24","detector":"brute_force","until":"2026-04-01T00:00:00+02:00","reason":"our scanner"}"#,
        )
        .expect("valid");
        assert_eq!(s.src_cidr.to_string(), "192.0.2.0/24");
        assert_eq!(s.detector.as_deref(), Some("brute_force"));
        assert_eq!(
            s.until.map(|t| t.to_rfc3339()),
            Some("2026-03-31T22:00:00+00:00".to_string())
        );
        assert_eq!(s.id.len(), 16);
        let minimal = body(r#"{"src_cidr":"2001:db8::/32","reason":"lab"}"#).expect("valid");
        assert_eq!(minimal.detector, None);
        assert_eq!(minimal.until, None);
        assert_ne!(minimal.id, s.id);
    }

    #[test]
    fn bad_bodies_name_the_field() {
        for (text, named) in [
            (r#"{"reason":"x"}"#, "field `src_cidr`"),
            (
                r#"{"src_cidr":"192.0.2.0/33","reason":"x"}"#,
                "192.0.2.0/33",
            ),
            (r#"{"src_cidr":"192.0.2.0/24"}"#, "field `reason`"),
            (
                r#"{"src_cidr":"192.0.2.0/24","reason":"  "}"#,
                "field `reason`",
            ),
            (
                r#"{"src_cidr":"192.0.2.0/24","reason":"x","until":"tomorrow"}"#,
                "field `until`",
            ),
            (
                r#"{"src_cidr":"192.0.2.0/24","reason":"x","detector":""}"#,
                "field `detector`",
            ),
            (
                r#"{"src_cidr":"192.0.2.0/24","reason":"x","src":"1"}"#,
                "unknown field",
            ),
        ] {
            let error = body(text).expect_err(text);
            assert!(error.to_string().contains(named), "{text}: {error}");
        }
        let long = format!(
            r#"{{"src_cidr":"192.0.2.0/24","reason":"{}"}}"#,
            "r".repeat(MAX_REASON_BYTES + 1)
        );
        assert!(
            body(&long)
                .expect_err("too long")
                .to_string()
                .contains("field `reason`")
        );
    }
}
