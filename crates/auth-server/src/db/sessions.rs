//! `identity.sessions`. Rows are found by the SHA-256 of the token, never the token.

use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use uuid::Uuid;

use super::users::{UserRow, USER_COLUMNS};
use super::GenericClient;

const SESSION_COLUMNS: &str =
    "s.id, s.user_id, s.expires_at, s.remember, s.ip_address, s.user_agent, s.created_at, s.updated_at";

/// A session as stored (without its token hash).
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub remember: bool,
    pub ip_address: String,
    pub user_agent: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl SessionRow {
    fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            id: row.try_get(0)?,
            user_id: row.try_get(1)?,
            expires_at: row.try_get(2)?,
            remember: row.try_get(3)?,
            ip_address: row.try_get(4)?,
            user_agent: row.try_get(5)?,
            created_at: row.try_get(6)?,
            updated_at: row.try_get(7)?,
        })
    }

    /// The session as the client sees it, with `token` set to what the caller may see.
    pub fn to_wire(&self, token: String) -> auth_wire::Session {
        auth_wire::Session {
            id: self.id,
            user_id: self.user_id,
            token,
            expires_at: self.expires_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            ip_address: self.ip_address.clone(),
            user_agent: self.user_agent.clone(),
        }
    }
}

/// Fields of a new session.
pub struct NewSession<'a> {
    pub user_id: Uuid,
    pub token_hash: &'a [u8],
    pub expires_at: DateTime<Utc>,
    pub remember: bool,
    pub ip_address: &'a str,
    pub user_agent: &'a str,
}

/// Inserts a session.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn insert(
    client: &impl GenericClient,
    new: &NewSession<'_>,
) -> Result<SessionRow, tokio_postgres::Error> {
    let sql = format!(
        "INSERT INTO identity.sessions AS s (user_id, token_hash, expires_at, remember, ip_address, user_agent)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {SESSION_COLUMNS}"
    );
    let stmt = client.prepare_cached(&sql).await?;
    let row = client
        .query_one(
            &stmt,
            &[
                &new.user_id,
                &new.token_hash,
                &new.expires_at,
                &new.remember,
                &new.ip_address,
                &new.user_agent,
            ],
        )
        .await?;
    SessionRow::from_row(&row)
}

/// The session with this token hash and its user, expired or not.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn find_with_user(
    client: &impl GenericClient,
    token_hash: &[u8],
) -> Result<Option<(SessionRow, UserRow)>, tokio_postgres::Error> {
    let sql = format!(
        "SELECT {SESSION_COLUMNS}, {USER_COLUMNS} FROM identity.sessions s
         JOIN identity.users u ON u.id = s.user_id
         WHERE s.token_hash = $1
           -- A ban ends every session at once, not only new sign-ins.
           AND (u.banned_until IS NULL OR u.banned_until <= now())"
    );
    let stmt = client.prepare_cached(&sql).await?;
    match client.query_opt(&stmt, &[&token_hash]).await? {
        Some(row) => Ok(Some((
            SessionRow::from_row(&row)?,
            UserRow::from_row(&row, 8)?,
        ))),
        None => Ok(None),
    }
}

/// Pushes the expiry forward (sliding sessions); `None` if the row is gone.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn extend(
    client: &impl GenericClient,
    id: Uuid,
    expires_at: DateTime<Utc>,
) -> Result<Option<SessionRow>, tokio_postgres::Error> {
    let sql = format!(
        "UPDATE identity.sessions AS s SET expires_at = $2, updated_at = now()
         WHERE s.id = $1 RETURNING {SESSION_COLUMNS}"
    );
    let stmt = client.prepare_cached(&sql).await?;
    let row = client.query_opt(&stmt, &[&id, &expires_at]).await?;
    row.as_ref().map(SessionRow::from_row).transpose()
}

/// Deletes one session by id.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn delete(client: &impl GenericClient, id: Uuid) -> Result<bool, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached("DELETE FROM identity.sessions WHERE id = $1")
        .await?;
    Ok(client.execute(&stmt, &[&id]).await? > 0)
}

/// Deletes the session a token names.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn delete_by_hash(
    client: &impl GenericClient,
    token_hash: &[u8],
) -> Result<Option<Uuid>, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached("DELETE FROM identity.sessions WHERE token_hash = $1 RETURNING user_id")
        .await?;
    Ok(client
        .query_opt(&stmt, &[&token_hash])
        .await?
        .map(|r| r.get(0)))
}

/// Deletes one of the user's sessions, named by id or by its token hash; returns the
/// id of the deleted row.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn delete_for_user(
    client: &impl GenericClient,
    user_id: Uuid,
    id: Option<Uuid>,
    token_hash: &[u8],
) -> Result<Option<Uuid>, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "DELETE FROM identity.sessions
             WHERE user_id = $1 AND (id = $2 OR token_hash = $3) RETURNING id",
        )
        .await?;
    Ok(client
        .query_opt(&stmt, &[&user_id, &id, &token_hash])
        .await?
        .map(|r| r.get(0)))
}

/// Deletes every session of the user except `keep`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn delete_all_for_user(
    client: &impl GenericClient,
    user_id: Uuid,
    keep: Option<Uuid>,
) -> Result<u64, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "DELETE FROM identity.sessions WHERE user_id = $1 AND ($2::uuid IS NULL OR id <> $2)",
        )
        .await?;
    client.execute(&stmt, &[&user_id, &keep]).await
}

/// The user's unexpired sessions, newest first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list_active(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<Vec<SessionRow>, tokio_postgres::Error> {
    let sql = format!(
        "SELECT {SESSION_COLUMNS} FROM identity.sessions s
         WHERE s.user_id = $1 AND s.expires_at > now() ORDER BY s.created_at DESC"
    );
    let stmt = client.prepare_cached(&sql).await?;
    client
        .query(&stmt, &[&user_id])
        .await?
        .iter()
        .map(SessionRow::from_row)
        .collect()
}

/// Deletes up to `batch` expired sessions; returns how many went.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn sweep_expired(
    client: &impl GenericClient,
    batch: i64,
) -> Result<u64, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "DELETE FROM identity.sessions WHERE id IN (
                 SELECT id FROM identity.sessions WHERE expires_at < now()
                 ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)",
        )
        .await?;
    client.execute(&stmt, &[&batch]).await
}

/// Whether the user's session `id` still exists and has not expired.
pub async fn is_live(
    client: &impl GenericClient,
    id: Uuid,
    user_id: Uuid,
) -> Result<bool, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM identity.sessions
                            WHERE id = $1 AND user_id = $2 AND expires_at > now())",
        )
        .await?;
    client.query_one(&stmt, &[&id, &user_id]).await?.try_get(0)
}
