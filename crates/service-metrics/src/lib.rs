//! Prometheus metrics both services share, with one job: turn what an app is
//! doing into the Prometheus text format on a listener of its own.
//!
//! - [`Metrics`]: one [`Registry`] per application instance, never a process-wide
//!   recorder, so two apps in one process (the multi-instance tests) each report
//!   their own numbers.
//! - [`HttpMetrics`]: middleware counting requests by method, route *template*
//!   and status, with a latency histogram per template. Raw paths never become
//!   labels: ids and tokens in a path would leak and make a series per request.
//! - [`Metrics::pool`]: the database pool's size, in-use and waiting, read from
//!   deadpool at scrape time.
//! - [`collect`]: helpers for collectors that read a component's own counters at
//!   scrape time, so the component needs no metrics dependency.
//! - [`MetricsServer`]: `GET /metrics` on its own address, off the public router.
//!
//! ```ignore
//! let mut metrics = service_metrics::Metrics::new();
//! let http = metrics.http(routes::ROUTES);      // wrap the App with `http`
//! metrics.pool(&pool);
//! let server = metrics.bind("127.0.0.1:9464")?; // server.port(), then spawn server.run()
//! ```

pub mod collect;
mod http;
mod pool;
mod server;

use std::future::Future;
use std::sync::Arc;

use futures_util::future::LocalBoxFuture;
use prometheus_client::registry::Registry;

pub use http::{HttpMetrics, HttpMetricsService, UNMATCHED_ROUTE};
pub use prometheus_client;
pub use server::{MetricsServer, CONTENT_TYPE};

/// Runs before each scrape (e.g. a cheap `COUNT` that sets a gauge). It returns a
/// non-`Send` future because scrapes run on the metrics listener's own
/// single-threaded worker.
type Refresh = Arc<dyn Fn() -> LocalBoxFuture<'static, ()> + Send + Sync>;

/// One application's metrics, being assembled at start-up: register everything,
/// then [`bind`](Self::bind) the listener. Nothing here is global.
pub struct Metrics {
    registry: Registry,
    refreshers: Vec<Refresh>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// An empty registry.
    pub fn new() -> Self {
        Self {
            registry: Registry::default(),
            refreshers: Vec::new(),
        }
    }

    /// The registry, to register a service's own metrics and collectors.
    pub fn registry(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Registers the request metrics and returns the middleware that records them
    /// (wrap it outermost, so every response is counted). `routes` is the
    /// service's `(method, path template)` list (`routes::ROUTES`): the labels are
    /// built from it once, so recording allocates no label strings.
    pub fn http(&mut self, routes: &[(&'static str, &'static str)]) -> HttpMetrics {
        HttpMetrics::register(&mut self.registry, routes)
    }

    /// Registers `db_pool_*` gauges read from `pool` at each scrape.
    pub fn pool(&mut self, pool: &deadpool_postgres::Pool) {
        self.registry
            .register_collector(Box::new(pool::PoolCollector::new(pool.clone())));
    }

    /// Runs `refresh` before every scrape and waits for it; it must bound its own
    /// time (a scrape should answer within a second or two).
    pub fn before_scrape<F, Fut>(&mut self, refresh: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        self.refreshers.push(Arc::new(move || {
            Box::pin(refresh()) as LocalBoxFuture<'static, ()>
        }));
    }

    /// Everything registered so far in the Prometheus text format, after the
    /// refreshers ran (what `GET /metrics` answers).
    pub async fn scrape(&self) -> String {
        server::scrape(&self.registry, &self.refreshers).await
    }

    /// Binds `addr` (`host:port`; port 0 picks a free one) for `GET /metrics`. The
    /// server starts once [`MetricsServer::run`]'s future is polled.
    pub fn bind(self, addr: &str) -> std::io::Result<MetricsServer> {
        MetricsServer::bind(addr, self.registry, self.refreshers)
    }
}
