//! `identity.oauth_clients`: service clients of the client-credentials grant.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::GenericClient;

/// A client as stored.
#[derive(Debug, Clone)]
pub struct ClientRow {
    pub id: Uuid,
    pub name: String,
    pub secret_hash: String,
    pub scopes: Vec<String>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub last_issued_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, name, secret_hash, scopes, disabled_at, last_issued_at, created_at";

fn row(r: &tokio_postgres::Row) -> Result<ClientRow, tokio_postgres::Error> {
    Ok(ClientRow {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        secret_hash: r.try_get(2)?,
        scopes: r.try_get(3)?,
        disabled_at: r.try_get(4)?,
        last_issued_at: r.try_get(5)?,
        created_at: r.try_get(6)?,
    })
}

/// Registers a client.
pub async fn insert(
    client: &impl GenericClient,
    name: &str,
    secret_hash: &str,
    scopes: &[String],
) -> Result<ClientRow, tokio_postgres::Error> {
    let sql = format!(
        "INSERT INTO identity.oauth_clients (name, secret_hash, scopes) VALUES ($1, $2, $3)
         RETURNING {COLUMNS}"
    );
    let stmt = client.prepare_cached(&sql).await?;
    row(&client
        .query_one(&stmt, &[&name, &secret_hash, &scopes])
        .await?)
}

/// A client by id.
pub async fn find(
    client: &impl GenericClient,
    id: Uuid,
) -> Result<Option<ClientRow>, tokio_postgres::Error> {
    let sql = format!("SELECT {COLUMNS} FROM identity.oauth_clients WHERE id = $1");
    let stmt = client.prepare_cached(&sql).await?;
    client
        .query_opt(&stmt, &[&id])
        .await?
        .as_ref()
        .map(row)
        .transpose()
}

/// Every client, oldest first.
pub async fn list(client: &impl GenericClient) -> Result<Vec<ClientRow>, tokio_postgres::Error> {
    let sql = format!("SELECT {COLUMNS} FROM identity.oauth_clients ORDER BY created_at, id");
    let stmt = client.prepare_cached(&sql).await?;
    client.query(&stmt, &[]).await?.iter().map(row).collect()
}

/// Replaces the secret (and re-enables nothing); `false` if no such client.
pub async fn set_secret(
    client: &impl GenericClient,
    id: Uuid,
    secret_hash: &str,
) -> Result<bool, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached("UPDATE identity.oauth_clients SET secret_hash = $2 WHERE id = $1")
        .await?;
    Ok(client.execute(&stmt, &[&id, &secret_hash]).await? == 1)
}

/// Disables a client (no new tokens); `false` if no such client.
pub async fn disable(client: &impl GenericClient, id: Uuid) -> Result<bool, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "UPDATE identity.oauth_clients SET disabled_at = COALESCE(disabled_at, now()) WHERE id = $1",
        )
        .await?;
    Ok(client.execute(&stmt, &[&id]).await? == 1)
}

/// Deletes a client; `false` if no such client.
pub async fn delete(client: &impl GenericClient, id: Uuid) -> Result<bool, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached("DELETE FROM identity.oauth_clients WHERE id = $1")
        .await?;
    Ok(client.execute(&stmt, &[&id]).await? == 1)
}

/// Records that a token was issued (operators see it in `clients list`).
pub async fn mark_issued(
    client: &impl GenericClient,
    id: Uuid,
) -> Result<(), tokio_postgres::Error> {
    let stmt = client
        .prepare_cached("UPDATE identity.oauth_clients SET last_issued_at = now() WHERE id = $1")
        .await?;
    client.execute(&stmt, &[&id]).await?;
    Ok(())
}
