//! `GET /api/v1/plugins`: each detector plugin found at start, loaded or refused, with the
//! reason (see [`crate::plugins`]).

use actix_web::{HttpResponse, web};
use serde::Serialize;

use super::request::json;
use super::{ApiError, ApiState};
use crate::plugins::PluginRow;

/// The body of `GET /api/v1/plugins`.
#[derive(Debug, Serialize)]
struct PluginsBody<'a> {
    /// The plugin folder, if one is configured.
    dir: Option<String>,
    /// Every library of the folder, then enabled plugins no library provides.
    plugins: &'a [PluginRow],
}

/// `GET /api/v1/plugins`: 200 with `{"dir": ..., "plugins": [...]}`; an empty list when no
/// plugin folder is configured.
pub(super) async fn list(state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let plugins = state.plugins.as_deref();
    let body = PluginsBody {
        dir: plugins
            .and_then(|p| p.dir.as_ref())
            .map(|d| d.display().to_string()),
        plugins: plugins.map_or(&[], |p| p.rows.as_slice()),
    };
    Ok(json(&body))
}
