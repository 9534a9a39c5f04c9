//! The auth-server's own metrics (docs/operations.md lists them all). Most are read
//! at scrape time from counters their component keeps anyway (the hasher's queue,
//! the token issuer); the mail worker and the sweeper, which have nothing of the
//! kind, count into [`AuthMetrics`], which lives in the state whether or not
//! `AUTH_METRICS_ADDR` is set (a few atomics).

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::web::Data;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use service_metrics::collect::{counter, gauge, labelled_counter};
use service_metrics::Metrics;

use crate::state::AppState;

/// How long a scrape waits for the outbox count before reporting it unknown.
const OUTBOX_QUERY_TIMEOUT: Duration = Duration::from_secs(1);

/// Buckets of the argon2 slot wait, seconds: zero when idle, a hash (~25 ms)
/// per job ahead in the queue under load; 503s start past the queue bound.
const HASH_WAIT_BUCKETS: [f64; 11] = [
    0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TableLabel {
    table: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

/// Counters of the background tasks, kept in [`AppState`]. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct AuthMetrics {
    mail_sent: Counter,
    mail_failures: Family<OutcomeLabel, Counter>,
    swept: Family<TableLabel, Counter>,
    sweeps: Family<OutcomeLabel, Counter>,
    last_sweep: Gauge<f64, AtomicU64>,
}

/// How a sweep ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepOutcome {
    /// Every table swept.
    Completed,
    /// Another instance held the lock (it is sweeping).
    Skipped,
    /// A database error cut it short.
    Failed,
}

impl AuthMetrics {
    /// A mail was handed to the relay.
    pub fn mail_sent(&self) {
        self.mail_sent.inc();
    }

    /// A send failed; `gave_up`: it will not be retried.
    pub fn mail_failed(&self, gave_up: bool) {
        let outcome = if gave_up { "given_up" } else { "retry" };
        self.mail_failures
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
    }

    /// The sweeper deleted `rows` rows of `table`.
    pub fn swept(&self, table: &'static str, rows: u64) {
        self.swept.get_or_create(&TableLabel { table }).inc_by(rows);
    }

    /// A sweep ended; a completed one also sets the last-completed timestamp.
    pub fn sweep_finished(&self, outcome: SweepOutcome) {
        let outcome = match outcome {
            SweepOutcome::Completed => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64());
                self.last_sweep.set(now);
                "completed"
            }
            SweepOutcome::Skipped => "skipped",
            SweepOutcome::Failed => "failed",
        };
        self.sweeps.get_or_create(&OutcomeLabel { outcome }).inc();
    }

    fn register(&self, metrics: &mut Metrics, sweep_tables: &[&'static str]) {
        // Series that exist before their first event, so `rate()` and alerts
        // see a 0 rather than nothing.
        for outcome in ["retry", "given_up"] {
            let _ = self.mail_failures.get_or_create(&OutcomeLabel { outcome });
        }
        for table in sweep_tables {
            let _ = self.swept.get_or_create(&TableLabel { table });
        }
        for outcome in ["completed", "skipped", "failed"] {
            let _ = self.sweeps.get_or_create(&OutcomeLabel { outcome });
        }
        let registry = metrics.registry();
        registry.register(
            "auth_mail_sent",
            "Mails the outbox worker handed to the relay",
            self.mail_sent.clone(),
        );
        registry.register(
            "auth_mail_send_failures",
            "Failed sends: retry (will be tried again) or given_up (past AUTH_MAIL_GIVE_UP_AFTER, or unreadable)",
            self.mail_failures.clone(),
        );
        registry.register(
            "auth_sweeper_deleted_rows",
            "Rows the sweeper deleted, by table",
            self.swept.clone(),
        );
        registry.register(
            "auth_sweeper_runs",
            "Sweeps by outcome: completed, skipped (another instance held the lock), failed",
            self.sweeps.clone(),
        );
        registry.register(
            "auth_sweeper_last_completed_timestamp_seconds",
            "Unix time this instance last completed a sweep (0: not yet)",
            self.last_sweep.clone(),
        );
    }
}

/// The histogram of argon2 slot waits, to hand to the hasher before the state is
/// built ([`identity_core::password::PasswordHasher::with_wait_observer`]).
pub fn hash_wait_histogram() -> Histogram {
    Histogram::new(HASH_WAIT_BUCKETS)
}

/// Registers every auth-server metric in `metrics`: the background counters,
/// the hasher's wait histogram, the collectors reading the hasher and the token
/// issuer, the pool, and the outbox depth (a `COUNT` before each scrape).
pub fn register(
    metrics: &mut Metrics,
    state: &Data<AppState>,
    hash_wait: Histogram,
    sweep_tables: &[&'static str],
) {
    state.metrics.register(metrics, sweep_tables);
    metrics.pool(&state.pool);
    metrics.registry().register(
        "auth_argon2_queue_wait_seconds",
        "Time a password hash or verification waited for a hashing slot",
        hash_wait,
    );
    let outbox = Arc::new(Mutex::new(None));
    metrics
        .registry()
        .register_collector(Box::new(StateCollector {
            state: state.clone(),
            outbox: outbox.clone(),
        }));
    let state = state.clone();
    metrics.before_scrape(move || {
        let state = state.clone();
        let outbox = outbox.clone();
        async move {
            let depth = tokio::time::timeout(OUTBOX_QUERY_TIMEOUT, outbox_depth(&state))
                .await
                .unwrap_or_else(|_| Err(anyhow::anyhow!("timed out")));
            let depth = match depth {
                Ok(depth) => Some(depth),
                Err(e) => {
                    tracing::debug!(error = %e, "metrics: mail outbox depth unknown");
                    None
                }
            };
            *outbox.lock().unwrap_or_else(|p| p.into_inner()) = depth;
        }
    });
}

/// Pending mails and the age of the oldest, seconds.
#[derive(Debug, Clone, Copy)]
struct OutboxDepth {
    pending: i64,
    oldest_age: f64,
}

async fn outbox_depth(state: &AppState) -> anyhow::Result<OutboxDepth> {
    let client = state.pool.get().await?;
    let (pending, oldest_age) = crate::db::mail_outbox::pending(&client).await?;
    Ok(OutboxDepth {
        pending,
        oldest_age,
    })
}

/// Reads the hasher, the token issuer and the last outbox count at scrape time.
struct StateCollector {
    state: Data<AppState>,
    /// `None` when the last count failed: the gauges are then left out, so an
    /// alert sees "unknown", not a stale or made-up number.
    outbox: Arc<Mutex<Option<OutboxDepth>>>,
}

impl std::fmt::Debug for StateCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateCollector").finish_non_exhaustive()
    }
}

impl Collector for StateCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let e = &mut encoder;
        let hasher = self.state.hasher.stats();
        gauge(
            e,
            "auth_argon2_in_flight",
            "Password hashes computing now (at most AUTH_MAX_CONCURRENT_HASHES)",
            hasher.in_flight,
        )?;
        gauge(
            e,
            "auth_argon2_max_in_flight",
            "AUTH_MAX_CONCURRENT_HASHES",
            hasher.max_in_flight,
        )?;
        gauge(
            e,
            "auth_argon2_queue_depth",
            "Password hashes waiting for a slot (at most AUTH_MAX_QUEUED_HASHES)",
            hasher.queued,
        )?;
        counter(
            e,
            "auth_argon2_hashes",
            "Password hashes and verifications computed",
            hasher.completed,
        )?;
        counter(
            e,
            "auth_argon2_refused",
            "Sign-ins, sign-ups and password changes refused with 503 because the hash queue was full",
            hasher.refused,
        )?;
        let tokens = self.state.tokens.stats();
        labelled_counter(
            e,
            "auth_jwt_minted",
            "JWTs signed: session (learner tokens, cache misses) and service (/oauth2/token)",
            "kind",
            &[
                ("session", tokens.session_minted),
                ("service", tokens.service_minted),
            ],
        )?;
        counter(
            e,
            "auth_jwt_cache_hits",
            "Learner JWTs served from the per-session token cache instead of being signed",
            tokens.session_reused,
        )?;
        let outbox = *self.outbox.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(depth) = outbox {
            gauge(
                e,
                "auth_mail_outbox_pending",
                "Mails waiting to be sent, over all instances (read from the database at scrape)",
                depth.pending,
            )?;
            gauge(
                e,
                "auth_mail_outbox_oldest_pending_age_seconds",
                "Age of the oldest mail still waiting (0: none)",
                depth.oldest_age,
            )?;
        }
        Ok(())
    }
}
