//! Liveness, readiness and Better Auth's `/ok`.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

/// `GET /healthz`: the process is up (touches nothing, so it never wakes Neon).
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, description = "The process is alive")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// `GET /readyz`: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "ops", responses((status = 200, description = "The database answers"), (status = 503, body = auth_wire::ErrorBody)))]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let client = state.pool.get().await.map_err(|e| {
        tracing::warn!(error = %e, "readiness: no database connection");
        ApiError::Unavailable
    })?;
    client.simple_query("SELECT 1").await.map_err(|e| {
        tracing::warn!(error = %e, "readiness: database query failed");
        ApiError::Unavailable
    })?;
    Ok(HttpResponse::Ok().json(json!({"status": "ready"})))
}

/// `GET /api/auth/ok`.
#[utoipa::path(get, path = "/api/auth/ok", tag = "auth", responses((status = 200, description = "`{\"ok\":true}`")))]
pub async fn ok() -> HttpResponse {
    HttpResponse::Ok().json(json!({"ok": true}))
}
