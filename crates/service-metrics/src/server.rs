//! `GET /metrics` on a listener of its own, so the public port never serves it.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::{web, App, HttpResponse, HttpServer};
use prometheus_client::encoding::prometheus_text;
use prometheus_client::registry::Registry;

use crate::Refresh;

/// The `Content-Type` of the answer: the Prometheus text format, version 0.0.4.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// The metrics listener, bound and not yet serving.
pub struct MetricsServer {
    port: u16,
    server: Server,
}

struct Scrape {
    registry: Registry,
    refreshers: Vec<Refresh>,
}

impl MetricsServer {
    pub(crate) fn bind(
        addr: &str,
        registry: Registry,
        refreshers: Vec<Refresh>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        let port = listener.local_addr()?.port();
        let scrape = web::Data::new(Scrape {
            registry,
            refreshers,
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(scrape.clone())
                .route("/metrics", web::get().to(metrics))
                .default_service(web::to(HttpResponse::NotFound))
        })
        // One thread is plenty for a scrape every few seconds.
        .workers(1)
        // The application's server handles the signals and stops this one.
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)?
        .run();
        Ok(Self { port, server })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's future: spawn it; stop it through its `handle()` when the
    /// application stops.
    pub fn run(self) -> Server {
        self.server
    }
}

async fn metrics(scrape: web::Data<Scrape>) -> HttpResponse {
    let body = self::scrape(&scrape.registry, &scrape.refreshers).await;
    HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

pub(crate) async fn scrape(registry: &Registry, refreshers: &[Refresh]) -> String {
    futures_util::future::join_all(refreshers.iter().map(|refresh| refresh())).await;
    let mut text = String::with_capacity(16 * 1024);
    if let Err(e) = prometheus_text::encode(&mut text, registry) {
        tracing::warn!(error = %e, "metrics could not be encoded");
    }
    text
}
