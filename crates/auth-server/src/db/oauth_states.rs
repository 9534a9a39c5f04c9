//! `identity.oauth_states`: social sign-ins in flight, keyed by SHA-256 of the
//! `state` parameter, consumed by the provider's callback.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::GenericClient;

/// An authorization in flight.
#[derive(Clone)]
pub struct OAuthState {
    pub provider_id: String,
    pub code_verifier: String,
    pub nonce: Option<String>,
    pub callback_url: String,
    pub error_url: Option<String>,
    pub new_user_url: Option<String>,
    /// link-social: the user asking, and the session that asked.
    pub link: Option<(Uuid, Uuid)>,
    pub expires_at: DateTime<Utc>,
}

/// Stores a new authorization.
pub async fn insert(
    client: &impl GenericClient,
    state_hash: &[u8],
    s: &OAuthState,
) -> Result<(), tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO identity.oauth_states (state_hash, provider_id, code_verifier, nonce,
                 callback_url, error_url, new_user_url, link_user_id, link_session_id, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .await?;
    client
        .execute(
            &stmt,
            &[
                &state_hash,
                &s.provider_id,
                &s.code_verifier,
                &s.nonce,
                &s.callback_url,
                &s.error_url,
                &s.new_user_url,
                &s.link.map(|l| l.0),
                &s.link.map(|l| l.1),
                &s.expires_at,
            ],
        )
        .await?;
    Ok(())
}

const COLUMNS: &str = "provider_id, code_verifier, nonce, callback_url, error_url, new_user_url,
    link_user_id, link_session_id, expires_at";

fn from_row(r: &tokio_postgres::Row) -> Result<OAuthState, tokio_postgres::Error> {
    let user: Option<Uuid> = r.try_get(6)?;
    let session: Option<Uuid> = r.try_get(7)?;
    Ok(OAuthState {
        provider_id: r.try_get(0)?,
        code_verifier: r.try_get(1)?,
        nonce: r.try_get(2)?,
        callback_url: r.try_get(3)?,
        error_url: r.try_get(4)?,
        new_user_url: r.try_get(5)?,
        link: user.zip(session),
        expires_at: r.try_get(8)?,
    })
}

/// The authorization for this state, without consuming it.
pub async fn find(
    client: &impl GenericClient,
    state_hash: &[u8],
) -> Result<Option<OAuthState>, tokio_postgres::Error> {
    let sql = format!("SELECT {COLUMNS} FROM identity.oauth_states WHERE state_hash = $1");
    let stmt = client.prepare_cached(&sql).await?;
    client
        .query_opt(&stmt, &[&state_hash])
        .await?
        .map(|r| from_row(&r))
        .transpose()
}

/// Consumes the authorization: only one callback gets it.
pub async fn take(
    client: &impl GenericClient,
    state_hash: &[u8],
) -> Result<Option<OAuthState>, tokio_postgres::Error> {
    let sql =
        format!("DELETE FROM identity.oauth_states WHERE state_hash = $1 RETURNING {COLUMNS}");
    let stmt = client.prepare_cached(&sql).await?;
    client
        .query_opt(&stmt, &[&state_hash])
        .await?
        .map(|r| from_row(&r))
        .transpose()
}

/// Deletes up to `batch` expired authorizations (the sweeper). No row locks: the
/// sweeper's advisory lock keeps sweeps apart, and a callback deleting the same
/// row first only makes the count smaller (the role has no UPDATE here).
pub async fn sweep_expired(
    client: &impl GenericClient,
    batch: i64,
) -> Result<u64, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "DELETE FROM identity.oauth_states WHERE state_hash IN (
                 SELECT state_hash FROM identity.oauth_states WHERE expires_at < now()
                 ORDER BY expires_at LIMIT $1)",
        )
        .await?;
    client.execute(&stmt, &[&batch]).await
}
