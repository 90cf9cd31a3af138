//! `POST /api/v1/config/reload`: re-reads the config file and applies what can change live
//! (see [`crate::reload`]).

use actix_web::{HttpResponse, web};

use super::request::json;
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use tokio::sync::Notify;
    use vigil_state::Store;

    use super::*;
    use crate::api::{ApiSettings, basic_metrics};
    use crate::stats::PipelineStats;

    #[test]
    fn without_a_pipeline_to_reload_the_answer_is_409() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store =
            Store::open(dir.path(), &vigil_state::StoreOptions::default()).expect("store opens");
        let stats = PipelineStats::new();
        let state = ApiState::new(
            ApiSettings {
                token: None,
                read_requires_token: false,
                max_body_bytes: 4096,
                max_page: 10,
                redact_credentials: true,
                tls: false,
            },
            store.clone(),
            stats.clone(),
            Vec::new(),
            Arc::new(Notify::new()),
            basic_metrics(stats, store),
            Instant::now(),
        );
        let answer = actix_rt::System::new().block_on(reload(web::Data::new(state)));
        let error = answer.expect_err("no reloader");
        assert!(matches!(error, ApiError::Conflict(_)), "{error:?}");
        let response = actix_web::ResponseError::error_response(&error);
        assert_eq!(response.status().as_u16(), 409);
        assert_eq!(error.code(), "conflict");
    }
}
