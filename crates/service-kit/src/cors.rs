//! CORS for trusted browser origins, built the same way in both services; what
//! differs (methods, headers, credentials, how origins match) is a [`CorsPolicy`].

use std::sync::Arc;

use actix_cors::Cors;
use actix_web::http::{header::HeaderName, Method};

/// Which `Origin` values get CORS headers.
#[derive(Clone)]
pub enum Origins {
    /// Exactly these serialised origins (`scheme://host[:port]`), byte for byte.
    Exact(Vec<String>),
    /// Those the predicate accepts (for origins compared after normalising).
    Matching(Arc<dyn Fn(&str) -> bool + Send + Sync>),
}

/// What a service allows cross-origin.
#[derive(Clone)]
pub struct CorsPolicy {
    /// The trusted origins.
    pub origins: Origins,
    /// Methods a preflight may ask for.
    pub methods: Vec<Method>,
    /// Request headers a preflight may ask for.
    pub headers: Vec<HeaderName>,
    /// Response headers page scripts may read.
    pub expose: Vec<HeaderName>,
    /// Allow credentialed requests (cookies).
    pub credentials: bool,
    /// Answer a request from an untrusted origin with 400 rather than passing it on
    /// without CORS headers (for a later check to judge).
    pub block_untrusted: bool,
    /// Seconds a browser may cache a preflight.
    pub max_age: usize,
}

impl CorsPolicy {
    /// The actix-cors middleware for this policy (build one per worker).
    pub fn middleware(&self) -> Cors {
        let mut cors = Cors::default();
        match &self.origins {
            Origins::Exact(list) => {
                for origin in list {
                    cors = cors.allowed_origin(origin);
                }
            }
            Origins::Matching(accepts) => {
                let accepts = accepts.clone();
                cors = cors.allowed_origin_fn(move |origin, _| {
                    origin.to_str().map(|o| accepts(o)).unwrap_or(false)
                });
            }
        }
        if !self.block_untrusted {
            cors = cors.block_on_origin_mismatch(false);
        }
        if self.credentials {
            cors = cors.supports_credentials();
        }
        cors.allowed_methods(self.methods.clone())
            .allowed_headers(self.headers.clone())
            .expose_headers(self.expose.clone())
            .max_age(self.max_age)
    }
}
