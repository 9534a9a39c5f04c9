//! HTTP routes, all in one visible list.

pub(crate) mod health;
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

/// Declares every route once: the same list registers the handlers and becomes
/// [`ROUTES`], which the OpenAPI test checks against the generated document.
macro_rules! routes {
    ($( $path:expr => { $( $method:ident : $handler:path ),+ $(,)? } ),* $(,)?) => {
        /// Every `(method, path)` this service answers.
        pub const ROUTES: &[(&str, &str)] = &[$( $( (stringify!($method), $path), )+ )*];

        /// Registers every route; other methods on a known path get a JSON 405.
        pub fn configure(cfg: &mut web::ServiceConfig) {
            $(
                cfg.service(
                    web::resource($path)
                        .wrap(service_kit::Deadline)
                        $( .route(web::$method().to($handler)) )+
                        .default_service(web::to(method_not_allowed)),
                );
            )*
        }
    };
}

routes! {
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
}
