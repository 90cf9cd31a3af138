//! What every handler reads from a request and writes back: known query parameters, a
//! bounded body, an alert id, a JSON answer.

use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use vigil_state::AlertId;

use super::ApiError;

/// The query parameters of a request, each at most once and all known.
pub(super) fn query_pairs<'a>(
    req: &HttpRequest,
    known: &[&'a str],
) -> Result<Vec<(&'a str, String)>, ApiError> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map_err(|e| ApiError::BadRequest(format!("the query string does not parse: {e}")))?
        .into_inner();
    let mut out: Vec<(&'a str, String)> = Vec::with_capacity(pairs.len());
    for (name, value) in pairs {
        let Some(&known_name) = known.iter().find(|k| **k == name) else {
            return Err(ApiError::BadRequest(format!(
                "unknown parameter `{name}`; this route takes {}",
                known.join(", ")
            )));
        };
        if out.iter().any(|(n, _)| *n == known_name) {
            return Err(ApiError::parameter(known_name, "given more than once"));
        }
        out.push((known_name, value));
    }
    Ok(out)
}

/// Reads the request body, refusing (413) one larger than `limit` before reading it when
/// its length is declared, and as soon as it grows past `limit` otherwise.
pub(super) async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    let too_large = || {
        ApiError::PayloadTooLarge(format!(
            "the body is larger than {limit} bytes (api.max_body_bytes)"
        ))
    };
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(too_large());
    }
    match payload.to_bytes_limited(limit).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(error)) => Err(ApiError::BadRequest(format!(
            "the body could not be read: {error}"
        ))),
        Err(_) => Err(too_large()),
    }
}

/// An alert id from a path segment (16 hex digits), or 400.
pub(super) fn parse_alert_id(text: &str) -> Result<AlertId, ApiError> {
    text.parse().map_err(|_| {
        ApiError::BadRequest(format!(
            "{text:?} is not an alert id (16 hex digits, as in the alert's `id`)"
        ))
    })
}

/// A JSON 200.
pub(super) fn json<T: Serialize>(value: &T) -> HttpResponse {
    match serde_json::to_vec(value) {
        Ok(body) => HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, "application/json"))
            .body(body),
        Err(error) => actix_web::ResponseError::error_response(&ApiError::Internal(format!(
            "cannot serialise the response: {error}"
        ))),
    }
}
