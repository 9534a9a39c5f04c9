//! HTTP routes, all in one visible list.

mod health;
pub mod profile;

use actix_web::{web, HttpResponse};

use crate::error::ApiError;

/// Unknown paths: a JSON 404 like every other error.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::RouteNotFound)
}

async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed)
}

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .service(
            web::resource(profile::PATH)
                .route(web::get().to(profile::get))
                .route(web::head().to(profile::get))
                .route(web::put().to(profile::put))
                .route(web::patch().to(profile::patch))
                .route(web::delete().to(profile::delete))
                .default_service(web::to(method_not_allowed)),
        );
}
