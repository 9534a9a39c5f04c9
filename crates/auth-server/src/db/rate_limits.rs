//! `identity.rate_limits`: fixed windows per key, shared by every instance.

use super::GenericClient;

/// A key's count after a hit.
#[derive(Debug, Clone, PartialEq)]
pub struct Count {
    pub key: String,
    /// Hits in the current window, this one included.
    pub hits: i32,
    /// Seconds until the window ends.
    pub remaining_secs: f64,
}

/// Counts one hit on each `(key, window seconds)` in one round trip and returns the
/// counts. Keys must be distinct; they are locked in sorted order, so two requests
/// hitting the same keys never deadlock.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn hit(
    client: &impl GenericClient,
    keys: &[&str],
    windows: &[f64],
) -> Result<Vec<Count>, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO identity.rate_limits AS r (key, window_end, hits)
             SELECT k, now() + make_interval(secs => w), 1
               FROM unnest($1::text[], $2::float8[]) AS t(k, w) ORDER BY k
             ON CONFLICT (key) DO UPDATE SET
               window_end = CASE WHEN r.window_end <= now() THEN EXCLUDED.window_end
                                 ELSE r.window_end END,
               hits = CASE WHEN r.window_end <= now() THEN 1
                           ELSE least(r.hits + 1, 1000000000) END
             RETURNING r.key, r.hits, extract(epoch FROM r.window_end - now())::float8",
        )
        .await?;
    let rows = client.query(&stmt, &[&keys, &windows]).await?;
    rows.iter()
        .map(|row| {
            Ok(Count {
                key: row.try_get(0)?,
                hits: row.try_get(1)?,
                remaining_secs: row.try_get(2)?,
            })
        })
        .collect()
}

/// Deletes up to `batch` windows that ended; returns how many went.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn sweep(client: &impl GenericClient, batch: i64) -> Result<u64, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "DELETE FROM identity.rate_limits WHERE key IN (
                 SELECT key FROM identity.rate_limits WHERE window_end < now()
                 ORDER BY window_end LIMIT $1 FOR UPDATE SKIP LOCKED)",
        )
        .await?;
    client.execute(&stmt, &[&batch]).await
}
