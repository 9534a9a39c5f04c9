//! Builds the HTTP server. `Application::build` binds its own listener, so tests
//! start the real app on port 0.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::{from_fn, ErrorHandlers};
use actix_web::{web, App, HttpResponse, HttpServer};
use anyhow::Context;
use service_kit::{CorsPolicy, Origins};

use crate::client_ip::{ClientIpResolver, ForwardHeader};
use crate::config::Settings;
use crate::cookies::SessionCookies;
use crate::credentials::CookieSigner;
use crate::csrf::TrustedOrigins;
use crate::jwt::TokenIssuer;
use crate::keys::{self, KeyPolicy, KeyStore, Sealer};
use crate::password::PasswordHasher;
use crate::rate_limit::{RateLimiter, Rule, Store};
use crate::routes;
use crate::state::AppState;

/// A built, bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    /// The `/metrics` listener, when `AUTH_METRICS_ADDR` is set.
    metrics: Option<service_metrics::MetricsServer>,
    state: web::Data<AppState>,
    key_task: tokio::task::JoinHandle<()>,
    mail_task: tokio::task::JoinHandle<()>,
    sweep_task: tokio::task::JoinHandle<()>,
}

impl Application {
    /// Migrates (if configured), builds the pool and state, and binds the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        settings.validate()?;
        if settings.dev_mode {
            tracing::warn!("AUTH_DEV_MODE=true: example and missing secrets and fast key timings are accepted; never expose this instance");
        }
        // A database still starting (or a Neon compute waking) is waited for.
        let patience = Duration::from_secs(settings.db_startup_timeout);
        if settings.migrate_on_start {
            database::retry_while_unavailable("migrations", patience, || async {
                let mut client = database::connect(settings.migration_url())
                    .await
                    .context("connecting for migrations")?;
                database::migrate(&mut client).await?;
                anyhow::Ok(())
            })
            .await?;
        }
        let pool = database::build_pool(
            &settings.database_url,
            &database::PoolOptions {
                max_size: settings.db_pool_size,
                tcp_user_timeout: Duration::from_secs(settings.db_tcp_user_timeout),
                ..Default::default()
            },
        )?;
        let secret: Vec<u8> = match &settings.secret {
            Some(s) => s.clone().into_bytes(),
            None => {
                tracing::warn!(
                    "dev mode: no AUTH_SECRET, using a throwaway one; sessions end at restart"
                );
                crate::credentials::new_token().repeat(2).into_bytes()
            }
        };
        let previous: Vec<Vec<u8>> = settings
            .previous_secret_list()
            .into_iter()
            .map(String::into_bytes)
            .collect();
        let keys = key_store(&settings);
        let tokens = TokenIssuer::new(
            settings.issuer(),
            settings.audiences(),
            Duration::from_secs(settings.jwt_lifetime.unsigned_abs()),
        );
        let rate_limiter = rate_limiter(&settings, &pool)?;
        let mailer = crate::mail::Mailer::from_settings(&settings)?;
        let providers = crate::social::Providers::from_settings(&settings)?;
        let client_ip = ClientIpResolver::new(
            settings.trusted_proxy_list().map_err(anyhow::Error::msg)?,
            match settings.client_ip_header.as_str() {
                "forwarded" => ForwardHeader::Forwarded,
                _ => ForwardHeader::XForwardedFor,
            },
        );
        // The histogram exists before the state because the hasher reports into it.
        let hash_wait = crate::metrics::hash_wait_histogram();
        let mut hasher =
            PasswordHasher::new(settings.max_concurrent_hashes, settings.max_queued_hashes)?;
        if !settings.metrics_addr.is_empty() {
            let hash_wait = hash_wait.clone();
            hasher =
                hasher.with_wait_observer(move |waited| hash_wait.observe(waited.as_secs_f64()));
        }
        let state = web::Data::new(AppState {
            rate_limiter,
            providers,
            mailer,
            client_ip,
            keys,
            tokens,
            signer: CookieSigner::new(&secret, &previous),
            hasher,
            metrics: crate::metrics::AuthMetrics::default(),
            origins: TrustedOrigins::new(&settings.base_url, &settings.trusted_origin_list()),
            cookies: SessionCookies::new(settings.secure_cookies()),
            pool,
            settings,
        });

        let bootstrap =
            database::retry_while_unavailable("signing key bootstrap", patience, || {
                keys::ensure_signing_key(&state.pool, state.keys.sealer())
            })
            .await?;
        for event in bootstrap {
            tracing::info!(?event, "signing key bootstrap");
        }
        database::retry_while_unavailable("loading signing keys", patience, || {
            state.keys.reload(&state.pool)
        })
        .await?;
        let key_task = tokio::spawn(key_maintenance(state.clone()));
        let mail_task = tokio::spawn(crate::mail::worker::run(state.clone()));
        let sweep_task = tokio::spawn(crate::sweeper::run(state.clone()));
        tokio::spawn(calibrate_refusals(state.clone()));

        let listener = TcpListener::bind((state.settings.host.as_str(), state.settings.port))
            .with_context(|| format!("binding {}:{}", state.settings.host, state.settings.port))?;
        let port = listener.local_addr()?.port();
        let (http_metrics, metrics) = metrics_listener(&state, hash_wait)?;
        let workers = state.settings.workers;
        let deadline =
            service_kit::RequestDeadline(Duration::from_secs(state.settings.request_timeout));
        let app_state = state.clone();
        let cors = cors(&state.origins);
        let mut server = HttpServer::new(move || {
            let body_limit = app_state.settings.body_limit;
            App::new()
                .wrap(error_bodies())
                .wrap(from_fn(service_kit::limit_headers))
                .wrap(service_kit::security_headers())
                .wrap(cors.middleware())
                .wrap(from_fn(service_kit::request_id_header))
                .wrap(service_kit::request_logger())
                // Outermost: every answer is counted, the ones the layers above give too.
                .wrap(service_metrics::HttpMetrics::optional(http_metrics.clone()))
                .app_data(app_state.clone())
                .app_data(deadline)
                .app_data(web::PayloadConfig::new(body_limit))
                .configure(routes::configure)
                .default_service(web::to(routes::not_found))
        })
        .listen(listener)?
        .shutdown_timeout(state.settings.shutdown_timeout);
        if workers > 0 {
            server = server.workers(workers);
        }
        let server = server.run();
        Ok(Self {
            port,
            server,
            metrics,
            state,
            key_task,
            mail_task,
            sweep_task,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The bound port of the `/metrics` listener (`None` without `AUTH_METRICS_ADDR`).
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|m| m.port())
    }

    /// Shared state (tests use its pool and settings).
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Serves until SIGINT/SIGTERM, then drains in-flight requests (graceful shutdown).
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
        self.key_task.abort();
        // A send cut short here keeps its lease; any instance retries it after.
        self.mail_task.abort();
        self.sweep_task.abort();
        result
    }
}

/// With `AUTH_METRICS_ADDR` set: this app's registry with every metric, its
/// request middleware, and the `/metrics` listener bound (not yet serving).
fn metrics_listener(
    state: &web::Data<AppState>,
    hash_wait: prometheus_client::metrics::histogram::Histogram,
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
    crate::metrics::register(
        &mut metrics,
        state,
        hash_wait,
        &crate::sweeper::table_labels(),
    );
    let server = metrics
        .bind(addr)
        .with_context(|| format!("binding the metrics listener {addr}"))?;
    tracing::info!(port = server.port(), "metrics at /metrics");
    Ok((Some(http), Some(server)))
}

/// The key store the settings describe (sealer from the key-encryption secrets).
pub fn key_store(settings: &Settings) -> KeyStore {
    let kek = settings
        .key_encryption_secret
        .as_deref()
        .or(settings.secret.as_deref())
        .map(|s| s.as_bytes().to_vec())
        .unwrap_or_else(|| crate::credentials::new_token().repeat(2).into_bytes());
    let previous: Vec<Vec<u8>> = settings
        .previous_kek_list()
        .into_iter()
        .map(String::into_bytes)
        .collect();
    KeyStore::new(Sealer::new(&kek, &previous), key_policy(settings))
}

/// The credential endpoints' limiter the settings describe, or `None` when off.
fn rate_limiter(
    settings: &Settings,
    pool: &deadpool_postgres::Pool,
) -> anyhow::Result<Option<RateLimiter>> {
    if !settings.rate_limit_enabled {
        return Ok(None);
    }
    let secs = |s: i64| Duration::from_secs(s.unsigned_abs());
    let store = match &settings.rate_limit_redis_url {
        Some(url) if !url.is_empty() => {
            RateLimiter::redis_store(url, &settings.rate_limit_redis_prefix)?
        }
        _ => Store::Postgres(pool.clone()),
    };
    Ok(Some(RateLimiter::new(
        store,
        Rule {
            max: settings.rate_limit_max,
            window: secs(settings.rate_limit_window),
        },
        Rule {
            max: settings.rate_limit_account_max,
            window: secs(settings.rate_limit_account_window),
        },
        Rule {
            max: settings.mail_rate_limit_max,
            window: secs(settings.mail_rate_limit_window),
        },
        Rule {
            max: settings.social_rate_limit_max,
            window: secs(settings.social_rate_limit_window),
        },
    )))
}

/// Lifecycle timing from the settings.
pub fn key_policy(settings: &Settings) -> KeyPolicy {
    let secs = |s: i64| Duration::from_secs(s.unsigned_abs());
    KeyPolicy {
        jwks_max_age: secs(settings.jwks_max_age),
        refresh_interval: secs(settings.key_refresh_interval),
        jwt_lifetime: secs(settings.jwt_lifetime),
        rotation_interval: (settings.key_rotation_interval > 0)
            .then(|| secs(settings.key_rotation_interval)),
    }
}

/// Every instance periodically runs the key lifecycle and reloads the key set, so a
/// rotation made anywhere reaches it without a restart.
async fn key_maintenance(state: web::Data<AppState>) {
    let mut tick = tokio::time::interval(state.keys.policy().refresh_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        match keys::maintain(&state.pool, &state.keys).await {
            Ok(events) => {
                for event in events {
                    tracing::info!(?event, "signing key lifecycle");
                }
            }
            Err(e) => tracing::warn!(error = %e, "key maintenance failed"),
        }
        if let Err(e) = state.keys.reload(&state.pool).await {
            tracing::warn!(error = %e, "key reload failed; keeping the previous key set");
        }
    }
}

/// Trusted origins (compared after normalising, as the CSRF check does) may call
/// with credentials and read the credential headers.
fn cors(origins: &TrustedOrigins) -> CorsPolicy {
    let origins = origins.clone();
    CorsPolicy {
        origins: Origins::Matching(Arc::new(move |origin| origins.is_trusted(origin))),
        methods: vec![
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ],
        headers: vec![
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::ACCEPT,
            header::IF_MATCH,
        ],
        expose: vec![
            header::HeaderName::from_static("set-auth-token"),
            header::HeaderName::from_static("set-auth-jwt"),
            header::HeaderName::from_static("retry-after"),
            header::HeaderName::from_static("x-retry-after"),
        ],
        credentials: true,
        // Untrusted origins get no CORS headers, but the request still reaches the
        // CSRF check, which answers with Better Auth's 403 codes.
        block_untrusted: false,
        max_age: 600,
    }
}

/// Errors raised by actix itself (body too large, bad query string …) become the
/// same JSON error body as ours. 404/405 stay empty, as Better Auth sends them, and
/// server errors pass as they are.
fn error_bodies<B: actix_web::body::MessageBody + 'static>() -> ErrorHandlers<B> {
    service_kit::json_errors(|status| {
        let (code, message) = match status {
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => return None,
            s if !s.is_client_error() => return None,
            StatusCode::PAYLOAD_TOO_LARGE => ("PAYLOAD_TOO_LARGE", "Request body too large"),
            _ => ("BAD_REQUEST", "Bad request"),
        };
        Some(HttpResponse::build(status).json(auth_wire::ErrorBody {
            message: message.into(),
            code: code.into(),
        }))
    })
}

/// Pads refused passwords to the time of the slowest stored bcrypt hash from the
/// start, so the first probes cannot tell imported accounts from unknown e-mails.
/// Best effort: without it the padding learns from the first bcrypt verification.
async fn calibrate_refusals(state: web::Data<AppState>) {
    let cost = async {
        let client = state.pool.get().await?;
        anyhow::Ok(crate::db::accounts::max_bcrypt_cost(&client).await?)
    }
    .await;
    match cost {
        Ok(Some(cost)) => {
            if let Err(e) = state.hasher.calibrate_bcrypt(cost.unsigned_abs()).await {
                tracing::warn!(error = %e, "could not measure bcrypt verification time");
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "could not look for bcrypt hashes"),
    }
}
