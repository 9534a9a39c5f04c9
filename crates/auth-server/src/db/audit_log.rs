//! `identity.audit_log`: the auth events operators read with `auth-server audit`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::GenericClient;

/// A row to write.
pub struct NewEntry<'a> {
    pub event: &'a str,
    pub user_id: Option<Uuid>,
    pub client_id: Option<Uuid>,
    pub ip: &'a str,
    pub user_agent: &'a str,
    pub request_id: &'a str,
    pub detail: &'a serde_json::Value,
}

/// Appends one event.
pub async fn insert(
    client: &impl GenericClient,
    e: &NewEntry<'_>,
) -> Result<(), tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO identity.audit_log
               (event, user_id, client_id, ip, user_agent, request_id, detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .await?;
    client
        .execute(
            &stmt,
            &[
                &e.event,
                &e.user_id,
                &e.client_id,
                &e.ip,
                &e.user_agent,
                &e.request_id,
                e.detail,
            ],
        )
        .await?;
    Ok(())
}

/// A stored event.
#[derive(Debug, Clone)]
pub struct Entry {
    pub at: DateTime<Utc>,
    pub event: String,
    pub user_id: Option<Uuid>,
    pub client_id: Option<Uuid>,
    pub ip: String,
    pub user_agent: String,
    pub request_id: String,
    pub detail: serde_json::Value,
}

/// What `auth-server audit` filters by (all given filters apply).
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub user_id: Option<Uuid>,
    pub ip: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub limit: i64,
}

/// Events matching `filter`, oldest first (the newest `limit`).
pub async fn find(
    client: &impl GenericClient,
    filter: &Filter,
) -> Result<Vec<Entry>, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "SELECT at, event, user_id, client_id, ip, user_agent, request_id, detail FROM (
               SELECT * FROM identity.audit_log
               WHERE ($1::uuid IS NULL OR user_id = $1)
                 AND ($2::text IS NULL OR ip = $2)
                 AND ($3::timestamptz IS NULL OR at >= $3)
               ORDER BY at DESC, id DESC LIMIT $4) recent
             ORDER BY at, id",
        )
        .await?;
    client
        .query(
            &stmt,
            &[&filter.user_id, &filter.ip, &filter.since, &filter.limit],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(Entry {
                at: r.try_get(0)?,
                event: r.try_get(1)?,
                user_id: r.try_get(2)?,
                client_id: r.try_get(3)?,
                ip: r.try_get(4)?,
                user_agent: r.try_get(5)?,
                request_id: r.try_get(6)?,
                detail: r.try_get(7)?,
            })
        })
        .collect()
}

/// Deletes up to `batch` events older than `retention_secs`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn sweep_old(
    client: &impl GenericClient,
    retention_secs: f64,
    batch: i64,
) -> Result<u64, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "DELETE FROM identity.audit_log WHERE id IN (
                 SELECT id FROM identity.audit_log
                 WHERE at < now() - make_interval(secs => $1)
                 ORDER BY at LIMIT $2)",
        )
        .await?;
    client.execute(&stmt, &[&retention_secs, &batch]).await
}
