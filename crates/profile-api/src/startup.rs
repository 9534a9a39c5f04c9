//! Builds the HTTP server. `Application::build` binds its own listener, so tests
//! start the real app on port 0.

use std::net::TcpListener;
use std::time::Duration;

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{web, App, HttpServer, ResponseError};
use anyhow::Context;
use jwt_verifier::Verifier;
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder, TracingLogger};

use crate::config::Settings;
use crate::error::ApiError;
use crate::routes;
use crate::state::AppState;

/// How long start-up waits for the first JWKS fetch before serving anyway (the
/// service then reports not ready until the keys arrive).
const JWKS_WARMUP_TIMEOUT: Duration = Duration::from_secs(5);

/// A built, bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
}

impl Application {
    /// Builds the pool (lazily: no connection yet), the verifier (warmed up once,
    /// without failing if the auth-server is down) and binds the listener.
    ///
    /// Applies no migrations: the auth-server owns the schema.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        settings.validate()?;
        let pool = database::build_pool(&settings.database_url, &settings.pool_options())?;
        let verifier = Verifier::new(settings.verifier_config())?;
        match tokio::time::timeout(JWKS_WARMUP_TIMEOUT, verifier.refresh()).await {
            Ok(Ok(())) => tracing::info!("JWKS loaded"),
            Ok(Err(e)) => tracing::warn!(error = %e, "JWKS not loaded yet; not ready until it is"),
            Err(_) => tracing::warn!("JWKS fetch timed out; not ready until it loads"),
        }
        let state = web::Data::new(AppState {
            settings,
            pool,
            verifier,
        });

        let listener = TcpListener::bind((state.settings.host.as_str(), state.settings.port))
            .with_context(|| format!("binding {}:{}", state.settings.host, state.settings.port))?;
        let port = listener.local_addr()?.port();
        let app_state = state.clone();
        let verifier = web::Data::new(state.verifier.clone());
        let origins = state.settings.trusted_origin_list();
        let deadline = Duration::from_secs(state.settings.request_timeout);
        let mut server = HttpServer::new(move || {
            App::new()
                // Outermost last: requests pass the logger, then the JSON error
                // bodies (so they also cover CORS refusals), then CORS.
                .wrap(actix_web::middleware::from_fn(service_kit::limit_headers))
                .wrap(service_kit::security_headers())
                .wrap(cors(&origins))
                .wrap(json_errors(app_state.settings.body_limit))
                .wrap(TracingLogger::<RequestSpan>::new())
                .app_data(app_state.clone())
                .app_data(service_kit::RequestDeadline(deadline))
                .app_data(verifier.clone())
                .configure(routes::configure)
                .default_service(web::to(routes::not_found))
        })
        .listen(listener)?
        .shutdown_timeout(state.settings.shutdown_timeout);
        if state.settings.workers > 0 {
            server = server.workers(state.settings.workers);
        }
        let server = server.run();
        Ok(Self {
            port,
            server,
            state,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Shared state (tests use its pool, verifier and settings).
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Serves until SIGINT/SIGTERM, then lets in-flight requests finish for up to
    /// `shutdown_timeout` seconds (graceful shutdown).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// The request span: tracing-actix-web's fields (method, route, status, request
/// id …) plus `user_id`, filled in once the bearer token has been verified.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        tracing_actix_web::root_span!(request, user_id = tracing::field::Empty)
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// Browser access for the trusted origins only. Tokens travel in `Authorization`,
/// never in cookies, so no credentials mode is needed; ETag is exposed so a page
/// can send it back in `If-Match`.
fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods([
            Method::GET,
            Method::HEAD,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
        ])
        .expose_headers([header::ETAG, header::LOCATION, header::RETRY_AFTER])
        .max_age(600);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// Errors raised by the framework or middleware rather than by us (a malformed
/// CORS preflight, …) get the same JSON body as ours.
fn json_errors<B: MessageBody + 'static>(body_limit: usize) -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(move |res: ServiceResponse<B>| {
        let is_json = res
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
        if is_json {
            return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
        }
        let status = res.status();
        let error = match status {
            StatusCode::NOT_FOUND => ApiError::RouteNotFound,
            StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge { limit: body_limit },
            s if s.is_server_error() => {
                ApiError::Internal(anyhow::anyhow!("framework error with status {s}"))
            }
            _ => ApiError::BadRequest(
                status
                    .canonical_reason()
                    .unwrap_or("Bad request")
                    .to_owned(),
            ),
        };
        let (req, _) = res.into_parts();
        let mut body = error.error_response();
        // Keep the framework's status (e.g. 400 vs 403 from CORS); only the body changes.
        *body.status_mut() = status;
        Ok(ErrorHandlerResponse::Response(
            ServiceResponse::new(req, body).map_into_right_body(),
        ))
    })
}
