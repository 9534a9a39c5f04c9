//! `identity.signing_keys`: JWT signing keys and their lifecycle state.

use chrono::{DateTime, Utc};
use tokio_postgres::Row;

use super::GenericClient;

/// Lock key serialising key creation and lifecycle steps across instances.
pub const KEYS_LOCK: i64 = 0x6175_7468_0000_0002;

/// A stored key.
#[derive(Debug, Clone)]
pub struct KeyRow {
    pub kid: String,
    pub state: String,
    pub public_jwk: serde_json::Value,
    pub sealed_private: Option<Vec<u8>>,
    pub kek_id: String,
    pub created_at: DateTime<Utc>,
    pub activated_at: Option<DateTime<Utc>>,
    pub retired_at: Option<DateTime<Utc>>,
    pub removed_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "kid, state, public_jwk, sealed_private, kek_id, created_at, activated_at, retired_at, removed_at";

impl KeyRow {
    fn from_row(r: &Row) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            kid: r.try_get(0)?,
            state: r.try_get(1)?,
            public_jwk: r.try_get(2)?,
            sealed_private: r.try_get(3)?,
            kek_id: r.try_get(4)?,
            created_at: r.try_get(5)?,
            activated_at: r.try_get(6)?,
            retired_at: r.try_get(7)?,
            removed_at: r.try_get(8)?,
        })
    }
}

/// Takes the lifecycle lock until the surrounding transaction ends (works behind a
/// transaction-mode pooler, unlike session locks).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn lock(tx: &impl GenericClient) -> Result<(), tokio_postgres::Error> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&KEYS_LOCK])
        .await?;
    Ok(())
}

/// The database's wall clock now (`clock_timestamp()`, not the transaction start),
/// the clock every lifecycle timestamp is taken with.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn db_now(client: &impl GenericClient) -> Result<DateTime<Utc>, tokio_postgres::Error> {
    let row = client.query_one("SELECT clock_timestamp()", &[]).await?;
    row.try_get(0)
}

/// Every key, oldest first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(client: &impl GenericClient) -> Result<Vec<KeyRow>, tokio_postgres::Error> {
    let sql = format!("SELECT {COLUMNS} FROM identity.signing_keys ORDER BY created_at, kid");
    let stmt = client.prepare_cached(&sql).await?;
    client
        .query(&stmt, &[])
        .await?
        .iter()
        .map(KeyRow::from_row)
        .collect()
}

/// Inserts a key in state `next` or `current`. Its `created_at` (and `activated_at`)
/// is the wall-clock time of the insert, not the transaction start: the publish
/// delay counts from it, and the transaction may have waited for the lock.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert(
    client: &impl GenericClient,
    kid: &str,
    state: &str,
    public_jwk: &serde_json::Value,
    sealed_private: &[u8],
    kek_id: &str,
) -> Result<(), tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO identity.signing_keys (kid, state, public_jwk, sealed_private, kek_id, created_at, activated_at)
             VALUES ($1, $2, $3, $4, $5, clock_timestamp(), CASE WHEN $2 = 'current' THEN clock_timestamp() END)",
        )
        .await?;
    client
        .execute(&stmt, &[&kid, &state, public_jwk, &sealed_private, &kek_id])
        .await?;
    Ok(())
}

/// Makes the `next` key current and retires the current one; returns the new kid.
/// Times are taken after the lock wait (`clock_timestamp()`), as in [`insert`].
#[tracing::instrument(level = "debug", skip_all)]
pub async fn promote_next(
    tx: &impl GenericClient,
) -> Result<Option<String>, tokio_postgres::Error> {
    tx.execute(
        "UPDATE identity.signing_keys SET state = 'retired', retired_at = clock_timestamp() WHERE state = 'current'",
        &[],
    )
    .await?;
    let row = tx
        .query_opt(
            "UPDATE identity.signing_keys SET state = 'current', activated_at = clock_timestamp()
             WHERE state = 'next' RETURNING kid",
            &[],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Removes keys from publication and wipes their private half. With `kid`, only
/// that (non-current) key; otherwise every retired key retired before `before`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn remove(
    tx: &impl GenericClient,
    kid: Option<&str>,
    before: DateTime<Utc>,
) -> Result<Vec<String>, tokio_postgres::Error> {
    let rows = tx
        .query(
            "UPDATE identity.signing_keys
             SET state = 'removed', removed_at = clock_timestamp(), sealed_private = NULL
             WHERE state IN ('retired', 'next')
               AND (($1::text IS NOT NULL AND kid = $1)
                    OR ($1::text IS NULL AND state = 'retired' AND retired_at <= $2))
             RETURNING kid",
            &[&kid, &before],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Replaces a key's sealed private half (after a secret rotation).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn reseal(
    client: &impl GenericClient,
    kid: &str,
    sealed_private: &[u8],
    kek_id: &str,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE identity.signing_keys SET sealed_private = $2, kek_id = $3 WHERE kid = $1",
            &[&kid, &sealed_private, &kek_id],
        )
        .await?;
    Ok(())
}
