//! HTTP routes, all in one visible list.

pub(crate) mod health;
pub mod profile;
pub mod service;

use actix_web::{HttpRequest, HttpResponse};

use crate::error::ApiError;

/// Unknown paths: a JSON 404 like every other error.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::RouteNotFound)
}

/// A known path with another method: a JSON 405 whose `Allow` names that path's
/// methods.
async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed(if req.path() == profile::PATH {
        crate::error::PROFILE_METHODS
    } else {
        crate::error::READ_ONLY_METHODS
    }))
}

// Every route, once (`ROUTES` and `configure`); other methods on a known path get
// a JSON 405.
service_kit::routes! {
    wrap: [service_kit::Deadline],
    default: method_not_allowed;
    "/healthz" => { get: health::healthz },
    "/readyz" => { get: health::readyz },
    "/openapi.json" => { get: crate::openapi::openapi_json },
    profile::PATH => {
        get: profile::get,
        head: profile::head,
        put: profile::put,
        patch: profile::patch,
        delete: profile::delete,
    },
    service::LIST_PATH => { get: service::list },
    service::ONE_PATH => { get: service::get },
}
