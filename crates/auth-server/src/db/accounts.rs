//! `identity.accounts`: the `credential` account holds the password hash.

use identity_core::schema::CREDENTIAL_PROVIDER;
use uuid::Uuid;

use super::GenericClient;

/// Creates the password account of a new user.
pub async fn insert_credential(
    client: &impl GenericClient,
    user_id: Uuid,
    password_hash: &str,
) -> Result<(), tokio_postgres::Error> {
    let sql = format!(
        "INSERT INTO identity.accounts (user_id, provider_id, account_id, password_hash)
         VALUES ($1::uuid, '{CREDENTIAL_PROVIDER}', $1::uuid::text, $2)"
    );
    let stmt = client.prepare_cached(&sql).await?;
    client.execute(&stmt, &[&user_id, &password_hash]).await?;
    Ok(())
}

/// The user's password hash, if they have a password.
pub async fn credential_hash(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<Option<String>, tokio_postgres::Error> {
    let sql = format!(
        "SELECT password_hash FROM identity.accounts
         WHERE user_id = $1 AND provider_id = '{CREDENTIAL_PROVIDER}'"
    );
    let stmt = client.prepare_cached(&sql).await?;
    Ok(client
        .query_opt(&stmt, &[&user_id])
        .await?
        .and_then(|r| r.get(0)))
}

/// Replaces the password hash; `false` if the user has no credential account.
pub async fn set_credential_hash(
    client: &impl GenericClient,
    user_id: Uuid,
    password_hash: &str,
) -> Result<bool, tokio_postgres::Error> {
    let sql = format!(
        "UPDATE identity.accounts SET password_hash = $2
         WHERE user_id = $1 AND provider_id = '{CREDENTIAL_PROVIDER}'"
    );
    let stmt = client.prepare_cached(&sql).await?;
    Ok(client.execute(&stmt, &[&user_id, &password_hash]).await? == 1)
}

/// Replaces the password hash only if it is still `old_hash` (compare-and-set), so
/// a re-hash at sign-in never overwrites a password changed in the meantime.
/// `false` if nothing was replaced.
pub async fn replace_credential_hash(
    client: &impl GenericClient,
    user_id: Uuid,
    old_hash: &str,
    new_hash: &str,
) -> Result<bool, tokio_postgres::Error> {
    let sql = format!(
        "UPDATE identity.accounts SET password_hash = $3
         WHERE user_id = $1 AND provider_id = '{CREDENTIAL_PROVIDER}' AND password_hash = $2"
    );
    let stmt = client.prepare_cached(&sql).await?;
    Ok(client
        .execute(&stmt, &[&user_id, &old_hash, &new_hash])
        .await?
        == 1)
}

/// The highest cost among stored bcrypt password hashes (imported from Supabase),
/// `None` when there are none. One scan at start-up.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn max_bcrypt_cost(
    client: &impl GenericClient,
) -> Result<Option<i32>, tokio_postgres::Error> {
    let row = client
        .query_one(
            "SELECT max(substring(password_hash from 5 for 2)::int) FROM identity.accounts
             WHERE provider_id = $1 AND password_hash LIKE '$2_$%'",
            &[&CREDENTIAL_PROVIDER],
        )
        .await?;
    Ok(row.get(0))
}

/// Sets the password, creating the credential account when the user has none (an
/// OAuth-only or magic-link user imported from Supabase gets in this way), and
/// lifts the wait on a confirmed address: the caller has just proven the mailbox.
pub async fn upsert_credential(
    client: &impl GenericClient,
    user_id: Uuid,
    password_hash: &str,
) -> Result<(), tokio_postgres::Error> {
    let sql = format!(
        "INSERT INTO identity.accounts (user_id, provider_id, account_id, password_hash)
         VALUES ($1::uuid, '{CREDENTIAL_PROVIDER}', $1::uuid::text, $2)
         ON CONFLICT (user_id) WHERE provider_id = '{CREDENTIAL_PROVIDER}'
         DO UPDATE SET password_hash = EXCLUDED.password_hash, awaits_confirmed_email = false"
    );
    let stmt = client.prepare_cached(&sql).await?;
    client.execute(&stmt, &[&user_id, &password_hash]).await?;
    Ok(())
}

/// A way the user signs in, as `list-accounts` shows it.
#[derive(Debug, Clone)]
pub struct AccountRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub provider_id: String,
    pub account_id: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// The user's accounts, oldest first.
pub async fn list_for_user(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<Vec<AccountRow>, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "SELECT id, user_id, provider_id, account_id, created_at, updated_at
             FROM identity.accounts WHERE user_id = $1 ORDER BY created_at, id",
        )
        .await?;
    client
        .query(&stmt, &[&user_id])
        .await?
        .iter()
        .map(|r| {
            Ok(AccountRow {
                id: r.try_get(0)?,
                user_id: r.try_get(1)?,
                provider_id: r.try_get(2)?,
                account_id: r.try_get(3)?,
                created_at: r.try_get(4)?,
                updated_at: r.try_get(5)?,
            })
        })
        .collect()
}
