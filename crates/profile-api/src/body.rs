//! Request bodies: media type (415), size (413), JSON syntax (400), in that order.
//! The payload is read here rather than by an extractor so that every failure is
//! an [`ApiError`] and authentication runs before a single body byte is buffered.

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use serde_json::Value;

use crate::error::ApiError;

/// Which media types an endpoint takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepts {
    /// `application/json` (PUT).
    Json,
    /// `application/merge-patch+json` (RFC 7396) or `application/json` (PATCH).
    MergePatch,
}

impl Accepts {
    fn allows(self, essence: &str) -> bool {
        essence.eq_ignore_ascii_case("application/json")
            || (self == Accepts::MergePatch
                && essence.eq_ignore_ascii_case("application/merge-patch+json"))
    }

    fn error(self) -> ApiError {
        match self {
            Accepts::Json => ApiError::UnsupportedMediaType {
                allowed: "application/json",
                patch: false,
            },
            Accepts::MergePatch => ApiError::UnsupportedMediaType {
                allowed: "application/merge-patch+json, application/json",
                patch: true,
            },
        }
    }
}

/// Reads the body as JSON (any JSON value; the caller decides what shape it needs).
pub async fn read_json(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
    accepts: Accepts,
) -> Result<Value, ApiError> {
    let essence = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim());
    if !essence.is_some_and(|e| accepts.allows(e)) {
        return Err(accepts.error());
    }
    let too_large = ApiError::PayloadTooLarge { limit };
    // Refuse a declared oversize body before reading any of it.
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(too_large);
    }
    let bytes = match payload.to_bytes_limited(limit).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "reading the request body failed");
            return Err(ApiError::BadRequest(
                "The request body could not be read".into(),
            ));
        }
        Err(_) => return Err(too_large),
    };
    if bytes.is_empty() {
        return Err(ApiError::BadRequest("The request body is empty".into()));
    }
    // serde_json's syntax messages name a position, never the input's content.
    serde_json::from_slice(&bytes).map_err(|e| ApiError::BadRequest(format!("Invalid JSON: {e}")))
}
