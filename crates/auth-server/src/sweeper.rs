//! Housekeeping: tables that would otherwise only grow. Every instance runs the
//! sweeper every `AUTH_SWEEP_INTERVAL`; each batch (at most `AUTH_SWEEP_BATCH` rows,
//! one short transaction) first takes a transaction-level advisory lock, so only one
//! instance sweeps at a time, no lock is held between batches, and it works behind
//! a transaction-mode pooler (Neon's). It deletes expired sessions, expired one-time
//! tokens and social sign-ins, ended rate-limit windows and mails delivered or given up longer than
//! `AUTH_MAIL_RETENTION` ago, and audit events older than `AUTH_AUDIT_RETENTION`.

use std::time::Duration;

use actix_web::web::Data;

use crate::db::{audit_log, mail_outbox, oauth_states, rate_limits, sessions, verifications};
use crate::error::ApiError;
use crate::metrics::SweepOutcome;
use crate::state::AppState;

/// The advisory lock key of the sweeper ("sweep" in ASCII).
const LOCK_KEY: i64 = 0x0073_7765_6570;

/// Rows deleted by one sweep.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub sessions: u64,
    pub verifications: u64,
    pub oauth_states: u64,
    pub rate_limits: u64,
    pub mails: u64,
    pub audit_events: u64,
}

impl Swept {
    fn total(&self) -> u64 {
        self.sessions
            + self.verifications
            + self.oauth_states
            + self.rate_limits
            + self.mails
            + self.audit_events
    }
}

#[derive(Clone, Copy)]
enum Table {
    Sessions,
    Verifications,
    OAuthStates,
    RateLimits,
    Mails,
    AuditEvents,
}

impl Table {
    const ALL: [Table; 6] = [
        Table::Sessions,
        Table::Verifications,
        Table::OAuthStates,
        Table::RateLimits,
        Table::Mails,
        Table::AuditEvents,
    ];

    /// The `table` label of `auth_sweeper_deleted_rows_total`.
    fn label(self) -> &'static str {
        match self {
            Table::Sessions => "sessions",
            Table::Verifications => "verifications",
            Table::OAuthStates => "oauth_states",
            Table::RateLimits => "rate_limits",
            Table::Mails => "mail_outbox",
            Table::AuditEvents => "audit_log",
        }
    }
}

/// The tables the sweeper deletes from, as its metrics label them.
pub fn table_labels() -> [&'static str; Table::ALL.len()] {
    Table::ALL.map(Table::label)
}

/// Runs one sweep to the end. `None` when another instance holds the lock (it is
/// sweeping right now). Counted in the metrics either way.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn sweep_once(state: &AppState) -> Result<Option<Swept>, ApiError> {
    let result = sweep_tables(state).await;
    state.metrics.sweep_finished(match &result {
        Ok(Some(_)) => SweepOutcome::Completed,
        Ok(None) => SweepOutcome::Skipped,
        Err(_) => SweepOutcome::Failed,
    });
    result
}

async fn sweep_tables(state: &AppState) -> Result<Option<Swept>, ApiError> {
    let mut swept = Swept::default();
    for table in Table::ALL {
        loop {
            let started = std::time::Instant::now();
            let Some(n) = batch(state, table).await? else {
                return Ok(None);
            };
            state.metrics.swept(table.label(), n);
            match table {
                Table::Sessions => swept.sessions += n,
                Table::Verifications => swept.verifications += n,
                Table::OAuthStates => swept.oauth_states += n,
                Table::RateLimits => swept.rate_limits += n,
                Table::Mails => swept.mails += n,
                Table::AuditEvents => swept.audit_events += n,
            }
            if n < state.settings.sweep_batch {
                break;
            }
            tokio::time::sleep(pause_after(
                started.elapsed(),
                state.settings.sweep_max_share,
            ))
            .await;
        }
    }
    Ok(Some(swept))
}

/// The rest after a full batch that took `took`, so the sweeper works at most
/// `share` of the time: a backlog (millions of expired sessions after an outage or
/// an import) is cleared at a pace that leaves the database to the requests.
fn pause_after(took: Duration, share: f64) -> Duration {
    if share >= 1.0 {
        return Duration::ZERO;
    }
    took.mul_f64((1.0 - share) / share)
        .min(Duration::from_secs(10))
}

/// One batch in its own transaction, under the advisory lock.
async fn batch(state: &AppState, table: Table) -> Result<Option<u64>, ApiError> {
    let size = i64::try_from(state.settings.sweep_batch).unwrap_or(i64::MAX);
    let mut db = state.pool.get().await?;
    let tx = db.transaction().await?;
    let locked: bool = tx
        .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&LOCK_KEY])
        .await?
        .get(0);
    if !locked {
        return Ok(None);
    }
    let n = match table {
        Table::Sessions => sessions::sweep_expired(&tx, size).await?,
        Table::Verifications => verifications::sweep_expired(&tx, size).await?,
        Table::OAuthStates => oauth_states::sweep_expired(&tx, size).await?,
        Table::RateLimits => rate_limits::sweep(&tx, size).await?,
        Table::Mails => {
            let retention = state.settings.mail_retention as f64;
            mail_outbox::sweep_finished(&tx, retention, size).await?
        }
        Table::AuditEvents => {
            let retention = state.settings.audit_retention as f64;
            audit_log::sweep_old(&tx, retention, size).await?
        }
    };
    tx.commit().await?;
    Ok(Some(n))
}

/// Sweeps every `AUTH_SWEEP_INTERVAL` (never when it is 0) until the task is dropped.
pub async fn run(state: Data<AppState>) {
    if state.settings.sweep_interval == 0 {
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_secs(state.settings.sweep_interval));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match sweep_once(&state).await {
            Ok(Some(swept)) if swept.total() > 0 => tracing::info!(
                sessions = swept.sessions,
                verifications = swept.verifications,
                rate_limits = swept.rate_limits,
                mails = swept.mails,
                audit_events = swept.audit_events,
                "swept"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sweep failed; trying again next interval"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pause_keeps_the_sweeper_to_its_share() {
        let took = Duration::from_millis(20);
        assert_eq!(pause_after(took, 0.1), Duration::from_millis(180));
        assert_eq!(pause_after(took, 0.5), Duration::from_millis(20));
        assert_eq!(pause_after(took, 1.0), Duration::ZERO);
        assert_eq!(
            pause_after(Duration::from_secs(5), 0.1),
            Duration::from_secs(10)
        );
    }
}
