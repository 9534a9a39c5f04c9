//! `identity.mail_outbox`: mails waiting to be sent, sealed until they are.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::GenericClient;

/// A mail to queue.
pub struct NewMail<'a> {
    pub id: Uuid,
    pub kind: &'a str,
    pub recipient: &'a str,
    pub sealed: &'a [u8],
    pub kek_id: &'a str,
    pub give_up_at: DateTime<Utc>,
}

/// Queues a mail, due now.
pub async fn insert(
    client: &impl GenericClient,
    mail: &NewMail<'_>,
) -> Result<(), tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO identity.mail_outbox (id, kind, recipient, sealed, kek_id, give_up_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .await?;
    client
        .execute(
            &stmt,
            &[
                &mail.id,
                &mail.kind,
                &mail.recipient,
                &mail.sealed,
                &mail.kek_id,
                &mail.give_up_at,
            ],
        )
        .await?;
    Ok(())
}

/// A claimed mail.
#[derive(Debug)]
pub struct ClaimedMail {
    pub id: Uuid,
    pub kind: String,
    pub recipient: String,
    pub sealed: Vec<u8>,
    pub kek_id: String,
    /// Attempts including this one.
    pub attempts: i32,
    pub give_up_at: DateTime<Utc>,
}

/// Claims up to `limit` due mails for `lease_secs`: their next attempt moves past
/// the lease, so no other worker takes them while this one sends (and a worker that
/// dies mid-send leaves them to be retried once the lease ends).
pub async fn claim_due(
    client: &impl GenericClient,
    limit: i64,
    lease_secs: f64,
) -> Result<Vec<ClaimedMail>, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "UPDATE identity.mail_outbox m
             SET attempts = m.attempts + 1,
                 next_attempt_at = now() + make_interval(secs => $2)
             FROM (SELECT id FROM identity.mail_outbox
                   WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= now()
                   ORDER BY next_attempt_at
                   LIMIT $1
                   FOR UPDATE SKIP LOCKED) due
             WHERE m.id = due.id
             RETURNING m.id, m.kind, m.recipient, m.sealed, m.kek_id, m.attempts, m.give_up_at",
        )
        .await?;
    let rows = client.query(&stmt, &[&limit, &lease_secs]).await?;
    rows.iter()
        .map(|r| {
            Ok(ClaimedMail {
                id: r.try_get(0)?,
                kind: r.try_get(1)?,
                recipient: r.try_get(2)?,
                sealed: r.try_get(3)?,
                kek_id: r.try_get(4)?,
                attempts: r.try_get(5)?,
                give_up_at: r.try_get(6)?,
            })
        })
        .collect()
}

/// Marks a mail sent and erases its body.
pub async fn mark_sent(client: &impl GenericClient, id: Uuid) -> Result<(), tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "UPDATE identity.mail_outbox SET sent_at = now(), sealed = NULL, last_error = NULL
             WHERE id = $1",
        )
        .await?;
    client.execute(&stmt, &[&id]).await?;
    Ok(())
}

/// Schedules another attempt in `delay_secs`.
pub async fn retry_later(
    client: &impl GenericClient,
    id: Uuid,
    delay_secs: f64,
    error: &str,
) -> Result<(), tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "UPDATE identity.mail_outbox
             SET next_attempt_at = now() + make_interval(secs => $2), last_error = left($3, 1024)
             WHERE id = $1",
        )
        .await?;
    client.execute(&stmt, &[&id, &delay_secs, &error]).await?;
    Ok(())
}

/// Gives up on a mail: kept as a record of the failure, its body erased.
pub async fn give_up(
    client: &impl GenericClient,
    id: Uuid,
    error: &str,
) -> Result<(), tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "UPDATE identity.mail_outbox
             SET failed_at = now(), sealed = NULL, last_error = left($2, 1024)
             WHERE id = $1",
        )
        .await?;
    client.execute(&stmt, &[&id, &error]).await?;
    Ok(())
}

/// Mails not yet sent nor given up (the outbox depth).
pub async fn pending_count(client: &impl GenericClient) -> Result<i64, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "SELECT count(*) FROM identity.mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL",
        )
        .await?;
    Ok(client.query_one(&stmt, &[]).await?.get(0))
}

/// Deletes up to `batch` mails sent or given up more than `retention_secs` ago (their
/// bodies are already erased; the rows are the delivery record).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn sweep_finished(
    client: &impl GenericClient,
    retention_secs: f64,
    batch: i64,
) -> Result<u64, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "DELETE FROM identity.mail_outbox WHERE id IN (
                 SELECT id FROM identity.mail_outbox
                 WHERE coalesce(sent_at, failed_at) < now() - make_interval(secs => $1)
                 LIMIT $2 FOR UPDATE SKIP LOCKED)",
        )
        .await?;
    client.execute(&stmt, &[&retention_secs, &batch]).await
}

/// Mails still to be sent (over all instances) and the age of the oldest in
/// seconds (0 when there is none), for metrics. Served by the partial index of
/// pending mails, which stays small while the worker keeps up.
pub async fn pending(client: &impl GenericClient) -> Result<(i64, f64), tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "SELECT count(*),
                    coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
             FROM identity.mail_outbox
             WHERE sent_at IS NULL AND failed_at IS NULL",
        )
        .await?;
    let row = client.query_one(&stmt, &[]).await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}
