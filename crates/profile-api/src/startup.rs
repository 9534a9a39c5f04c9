//! Builds the HTTP server. `Application::build` binds its own listener, so tests
//! start the real app on port 0.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::{from_fn, ErrorHandlers};
use actix_web::{dev::Server, web, App, HttpServer, ResponseError};
use anyhow::Context;
use jwt_verifier::Verifier;
use service_kit::{CorsPolicy, Origins};

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
    /// The `/metrics` listener, when `PROFILE_METRICS_ADDR` is set.
    metrics: Option<service_metrics::MetricsServer>,
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
        let (http_metrics, metrics) = metrics_listener(&state)?;
        let app_state = state.clone();
        let verifier = web::Data::new(state.verifier.clone());
        let cors = cors(state.settings.trusted_origin_list());
        let deadline = Duration::from_secs(state.settings.request_timeout);
        let mut server = HttpServer::new(move || {
            App::new()
                // Outermost last: requests pass the logger, the request id, then
                // the JSON error bodies (so they also cover CORS refusals), then CORS.
                .wrap(from_fn(service_kit::limit_headers))
                .wrap(service_kit::security_headers())
                .wrap(cors.middleware())
                .wrap(json_errors(app_state.settings.body_limit))
                .wrap(from_fn(service_kit::request_id_header))
                .wrap(service_kit::request_logger())
                // Outermost: every answer is counted, the ones the layers above give too.
                .wrap(service_metrics::HttpMetrics::optional(http_metrics.clone()))
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
            metrics,
            state,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The bound port of the `/metrics` listener (`None` without
    /// `PROFILE_METRICS_ADDR`).
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|m| m.port())
    }

    /// Shared state (tests use its pool, verifier and settings).
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Serves until SIGINT/SIGTERM, then lets in-flight requests finish for up to
    /// `shutdown_timeout` seconds (graceful shutdown).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let metrics = self.metrics.map(|m| {
            let server = m.run();
            let handle = server.handle();
            tokio::spawn(server);
            handle
        });
        let result = self.server.await;
        if let Some(metrics) = metrics {
            metrics.stop(true).await;
        }
        result
    }
}

/// With `PROFILE_METRICS_ADDR` set: this app's registry with every metric, its
/// request middleware, and the `/metrics` listener bound (not yet serving).
fn metrics_listener(
    state: &web::Data<AppState>,
) -> anyhow::Result<(
    Option<service_metrics::HttpMetrics>,
    Option<service_metrics::MetricsServer>,
)> {
    let addr = &state.settings.metrics_addr;
    if addr.is_empty() {
        return Ok((None, None));
    }
    let mut metrics = service_metrics::Metrics::new();
    let http = metrics.http(routes::ROUTES);
    crate::metrics::register(&mut metrics, &state.verifier, &state.pool);
    let server = metrics
        .bind(addr)
        .with_context(|| format!("binding the metrics listener {addr}"))?;
    tracing::info!(port = server.port(), "metrics at /metrics");
    Ok((Some(http), Some(server)))
}

/// Browser access for the trusted origins only. Tokens travel in `Authorization`,
/// never in cookies, so no credentials mode is needed; ETag is exposed so a page
/// can send it back in `If-Match`, and the retry headers so it can say when to try
/// again after a 503 (the names the auth-server exposes too).
fn cors(origins: Vec<String>) -> CorsPolicy {
    CorsPolicy {
        origins: Origins::Exact(origins),
        methods: vec![
            Method::GET,
            Method::HEAD,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ],
        headers: vec![
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
        ],
        expose: vec![
            header::ETAG,
            header::LOCATION,
            header::RETRY_AFTER,
            header::HeaderName::from_static("x-retry-after"),
        ],
        credentials: false,
        block_untrusted: true,
        max_age: 600,
    }
}

/// Errors raised by the framework or middleware rather than by us (a malformed
/// CORS preflight, an unknown path, …) get the same JSON body as ours.
fn json_errors<B: MessageBody + 'static>(body_limit: usize) -> ErrorHandlers<B> {
    service_kit::json_errors(move |status| {
        let error = match status {
            StatusCode::NOT_FOUND => ApiError::RouteNotFound,
            StatusCode::METHOD_NOT_ALLOWED => {
                ApiError::MethodNotAllowed(crate::error::PROFILE_METHODS)
            }
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
        Some(error.error_response())
    })
}
