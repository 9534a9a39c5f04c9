//! Liveness, readiness and Better Auth's `/ok`.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

/// `GET /healthz`: the process is up (touches nothing, so it never wakes Neon).
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, description = "The process is alive")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Readiness answers within this, whatever the database does: probes have short
/// timeouts of their own, and a stalled probe reads as a dead pod.
const PROBE_TIMEOUT: Duration = Duration::from_millis(1500);

/// `GET /readyz`: the database answers (within 1.5 s; otherwise 503).
#[utoipa::path(get, path = "/readyz", tag = "ops", responses((status = 200, description = "The database answers"), (status = 503, body = auth_wire::ErrorBody)))]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let check = async {
        let client = state.pool.get().await.map_err(|e| {
            tracing::warn!(error = %e, "readiness: no database connection");
            ApiError::Unavailable
        })?;
        client.simple_query("SELECT 1").await.map_err(|e| {
            tracing::warn!(error = %e, "readiness: database query failed");
            ApiError::Unavailable
        })
    };
    match tokio::time::timeout(PROBE_TIMEOUT, check).await {
        Ok(Ok(_)) => Ok(HttpResponse::Ok().json(json!({"status": "ready"}))),
        Ok(Err(e)) => Err(e),
        Err(_) => {
            tracing::warn!("readiness: database did not answer in time");
            Err(ApiError::Unavailable)
        }
    }
}

/// `GET /api/auth/ok`.
#[utoipa::path(get, path = "/api/auth/ok", tag = "auth", responses((status = 200, description = "`{\"ok\":true}`")))]
pub async fn ok() -> HttpResponse {
    HttpResponse::Ok().json(json!({"ok": true}))
}
