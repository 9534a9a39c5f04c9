//! The database pool's gauges, read from deadpool at scrape time.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;

use crate::collect::gauge;

/// Reads [`deadpool_postgres::Pool::status`] on each scrape (a few atomic loads).
pub(crate) struct PoolCollector {
    pool: deadpool_postgres::Pool,
}

impl PoolCollector {
    pub(crate) fn new(pool: deadpool_postgres::Pool) -> Self {
        Self { pool }
    }
}

impl std::fmt::Debug for PoolCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolCollector").finish_non_exhaustive()
    }
}

impl Collector for PoolCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let status = self.pool.status();
        gauge(
            &mut encoder,
            "db_pool_max_size",
            "Largest number of connections the pool may open",
            status.max_size,
        )?;
        gauge(
            &mut encoder,
            "db_pool_size",
            "Connections the pool holds now (in use or idle)",
            status.size,
        )?;
        gauge(
            &mut encoder,
            "db_pool_in_use",
            "Connections handed out to requests or tasks right now",
            status.size.saturating_sub(status.available),
        )?;
        gauge(
            &mut encoder,
            "db_pool_idle",
            "Connections open and free",
            status.available,
        )?;
        gauge(
            &mut encoder,
            "db_pool_waiting",
            "Callers waiting for a connection (above 0 for long: the pool is too small or the database slow)",
            status.waiting,
        )
    }
}
