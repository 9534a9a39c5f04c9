//! Liveness and readiness probes.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

/// How long readiness waits for the database and for a JWKS fetch (in parallel):
/// probes have short timeouts of their own, and a stalled probe reads as a dead pod.
const PROBE_TIMEOUT: Duration = Duration::from_millis(1500);

/// `GET /healthz`: the process is up (touches nothing, so it never wakes Neon).
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, description = "The process is alive")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// `GET /readyz`: the profiles table is readable and the JWKS is loaded; otherwise
/// 503 naming what is missing. A missing JWKS is fetched here, so a service that
/// started while the auth-server was down becomes ready as soon as it is back.
#[utoipa::path(get, path = "/readyz", tag = "ops", responses((status = 200, description = "Database reachable and JWKS loaded"), (status = 503, body = crate::openapi::ProblemBody)))]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let (database, jwks) = tokio::join!(database_ready(&state), jwks_ready(&state));
    let problems: Vec<&str> = [database.err(), jwks.err()].into_iter().flatten().collect();
    if problems.is_empty() {
        Ok(HttpResponse::Ok().json(json!({"status": "ready"})))
    } else {
        Err(ApiError::Unavailable(format!(
            "Not ready: {}",
            problems.join("; ")
        )))
    }
}

async fn database_ready(state: &AppState) -> Result<(), &'static str> {
    tokio::time::timeout(PROBE_TIMEOUT, database_check(state))
        .await
        .unwrap_or_else(|_| {
            tracing::warn!("readiness: database did not answer in time");
            Err("database did not answer in time")
        })
}

async fn database_check(state: &AppState) -> Result<(), &'static str> {
    let client = state.pool.get().await.map_err(|e| {
        tracing::warn!(error = ?e, "readiness: no database connection");
        "database unreachable"
    })?;
    // Also proves the migrations ran and our role may read the table.
    crate::db::profiles::check_readable(&client)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "readiness: learner.profiles is not readable");
            "learner.profiles is not readable (migrations applied? grants?)"
        })?;
    Ok(())
}

async fn jwks_ready(state: &AppState) -> Result<(), &'static str> {
    if state.verifier.has_keys() {
        return Ok(());
    }
    match tokio::time::timeout(PROBE_TIMEOUT, state.verifier.refresh()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: JWKS not loaded");
            Err("JWKS not loaded")
        }
        Err(_) => {
            tracing::warn!("readiness: JWKS fetch timed out");
            Err("JWKS not loaded")
        }
    }
}
