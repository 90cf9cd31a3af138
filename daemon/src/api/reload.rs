//! `POST /api/v1/config/reload`: re-reads the config file and applies what can change live
//! (see [`crate::reload`]).

use actix_web::{HttpResponse, web};

use super::stats::json;
use super::{ApiError, ApiState};
use crate::reload::ReloadError;

/// `POST /api/v1/config/reload`: 200 with the [`ReloadReport`](crate::reload::ReloadReport);
/// 400 for a bad file (naming the field; nothing changes); 409 without a config file; 503
/// when a stage did not take the change.
pub(super) async fn reload(state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let reloader = state.reloader.as_ref().ok_or_else(|| {
        ApiError::Conflict("no running pipeline whose configuration could be reloaded".to_string())
    })?;
    match reloader.reload("API").await {
        Ok(report) => Ok(json(&report)),
        Err(error @ ReloadError::NoConfigFile) => Err(ApiError::Conflict(error.to_string())),
        Err(error @ ReloadError::Invalid(_)) => Err(ApiError::BadRequest(error.to_string())),
        Err(error @ ReloadError::Stage(_)) => Err(ApiError::Unavailable(error.to_string())),
    }
}
