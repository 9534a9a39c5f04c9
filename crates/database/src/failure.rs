//! Which database failures are the database's (unreachable, stalled, restarting:
//! answer 503 and let the client retry) and which are ours (a bug: 500). Both
//! services map errors through here, so they agree.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use deadpool_postgres::PoolError;
use tokio_postgres::error::SqlState;

/// How often [`warn_unavailable`] writes a line while an outage lasts.
const WARN_EVERY_MS: u64 = 5_000;

/// What a failed database call means for the request that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The database cannot serve right now (down, stalled, suspending, out of
    /// connections, statement cancelled): transient, worth a retry.
    Unavailable,
    /// Anything else: a bug in our SQL or types, or a constraint the caller
    /// should have checked.
    Bug,
}

/// Classifies a driver error.
pub fn classify(e: &tokio_postgres::Error) -> Failure {
    let Some(db) = e.as_db_error() else {
        // No server answer: the connection broke (server gone, Neon suspend,
        // network). A driver error without I/O under it (a type mismatch reading a
        // row) is ours.
        let broken =
            e.is_closed() || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>());
        return if broken {
            Failure::Unavailable
        } else {
            Failure::Bug
        };
    };
    let code = db.code();
    let sqlstate = code.code();
    // 08 connection, 57P0x shutdown/crash recovery, 53 resources, 57014 statement
    // timeout or cancel, 40001/40P01 serialisation or deadlock, 25006 a read-only
    // (failing-over) server.
    if sqlstate.starts_with("08")
        || sqlstate.starts_with("57P0")
        || sqlstate.starts_with("53")
        || *code == SqlState::QUERY_CANCELED
        || *code == SqlState::T_R_SERIALIZATION_FAILURE
        || *code == SqlState::T_R_DEADLOCK_DETECTED
        || *code == SqlState::READ_ONLY_SQL_TRANSACTION
        || *code == SqlState::CANNOT_CONNECT_NOW
    {
        Failure::Unavailable
    } else {
        Failure::Bug
    }
}

/// Classifies a pool checkout error: failing to open or recycle a connection, or
/// waiting too long for one, is the database's; a closed pool is ours.
pub fn classify_pool(e: &PoolError) -> Failure {
    match e {
        PoolError::Timeout(_) | PoolError::Backend(_) | PoolError::PostCreateHook(_) => {
            Failure::Unavailable
        }
        PoolError::Closed | PoolError::NoRuntimeSpecified => Failure::Bug,
    }
}

/// Classifies any error chain: the first driver or pool error in it decides; a
/// chain without one is a bug.
pub fn classify_chain(e: &(dyn std::error::Error + 'static)) -> Failure {
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(pg) = err.downcast_ref::<tokio_postgres::Error>() {
            return classify(pg);
        }
        if let Some(pool) = err.downcast_ref::<PoolError>() {
            return classify_pool(pool);
        }
        current = err.source();
    }
    Failure::Bug
}

/// Logs that the database is unavailable: one WARN line per five seconds of
/// outage, carrying how many were suppressed since the last, so an outage under
/// load does not flood the logs.
pub fn warn_unavailable(error: &dyn std::fmt::Display) {
    static START: OnceLock<Instant> = OnceLock::new();
    static LAST_MS: AtomicU64 = AtomicU64::new(0);
    static SUPPRESSED: AtomicU64 = AtomicU64::new(0);
    let start = START.get_or_init(Instant::now);
    // +1 so the very first failure (at 0 ms) is never mistaken for "just logged".
    let now = start.elapsed().as_millis() as u64 + WARN_EVERY_MS + 1;
    let last = LAST_MS.load(Ordering::Relaxed);
    if now.saturating_sub(last) >= WARN_EVERY_MS
        && LAST_MS
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        let suppressed = SUPPRESSED.swap(0, Ordering::Relaxed);
        tracing::warn!(%error, suppressed, "database unavailable; answering 503");
    } else {
        SUPPRESSED.fetch_add(1, Ordering::Relaxed);
    }
}

/// Retries `attempt` while it fails with [`Failure::Unavailable`] (a database still
/// starting, a Neon compute waking up), backing off from 100 ms to 2 s, for at most
/// `patience`; any other failure, or the one past `patience`, is returned. Start-up
/// uses it so a service started before its database waits instead of exiting.
pub async fn retry_while_unavailable<T, E, F, Fut>(
    what: &str,
    patience: std::time::Duration,
    mut attempt: F,
) -> Result<T, E>
where
    E: AsRef<dyn std::error::Error + Send + Sync + 'static> + std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let start = std::time::Instant::now();
    let mut delay = std::time::Duration::from_millis(100);
    loop {
        match attempt().await {
            Ok(v) => return Ok(v),
            Err(e)
                if matches!(classify_chain(e.as_ref()), Failure::Unavailable)
                    && start.elapsed() + delay < patience =>
            {
                tracing::warn!(
                    what,
                    error = %e,
                    retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    "database not reachable yet; retrying"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(2));
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_pool_is_a_bug_and_a_timeout_is_not() {
        assert_eq!(classify_pool(&PoolError::Closed), Failure::Bug);
        assert_eq!(
            classify_pool(&PoolError::Timeout(deadpool_postgres::TimeoutType::Wait)),
            Failure::Unavailable
        );
    }

    #[test]
    fn a_chain_without_a_database_error_is_a_bug() {
        let io = std::io::Error::other("disk");
        assert_eq!(classify_chain(&io), Failure::Bug);
    }
}
