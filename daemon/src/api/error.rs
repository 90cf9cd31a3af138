//! The API's errors: a status and a JSON body `{"error": <code>, "detail": <sentence>}`.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, HeaderValue, WWW_AUTHENTICATE};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// A request the API refuses or cannot answer. Its `Display` is the detail sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// A parameter or body is malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// No token, or the wrong one (401).
    #[error("{0}")]
    Unauthorized(String),
    /// The call is not allowed at all, for example a mutating call when no token is
    /// configured (403).
    #[error("{0}")]
    Forbidden(String),
    /// Nothing at this path, or no such item (404).
    #[error("{0}")]
    NotFound(String),
    /// The path exists but not with this method (405).
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The request cannot be carried out in the current state, for example a config reload
    /// when Vigil was started without a config file (409).
    #[error("{0}")]
    Conflict(String),
    /// The request body is larger than `api.max_body_bytes` (413).
    #[error("{0}")]
    PayloadTooLarge(String),
    /// Not ready, or shutting down (503).
    #[error("{0}")]
    Unavailable(String),
    /// The store failed (500).
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The short machine-readable code of the `error` field.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    /// A 400 naming the parameter and what is wrong with its value.
    pub fn parameter(name: &str, message: impl std::fmt::Display) -> ApiError {
        ApiError::BadRequest(format!("parameter `{name}`: {message}"))
    }

    /// A 500 for a store failure (logged; the detail names the operation).
    pub fn store(what: &str, error: impl std::fmt::Display) -> ApiError {
        tracing::error!("API: {what} failed: {error}");
        ApiError::Internal(format!("{what} failed: {error}"))
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    detail: String,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let body = serde_json::to_vec(&Body {
            error: self.code(),
            detail: self.to_string(),
        })
        .unwrap_or_default();
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((CONTENT_TYPE, HeaderValue::from_static("application/json")));
        if matches!(self, ApiError::Unauthorized(_)) {
            response.insert_header((WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        response.body(body)
    }
}
