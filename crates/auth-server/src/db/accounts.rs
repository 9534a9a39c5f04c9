//! `identity.accounts`: the `credential` account holds the password hash; social
//! accounts hold the provider's subject (and, when asked for, its sealed tokens).

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
    /// Granted scopes, comma-joined (social accounts).
    pub scope: Option<String>,
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
            "SELECT id, user_id, provider_id, account_id, created_at, updated_at, scope
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
                scope: r.try_get(6)?,
            })
        })
        .collect()
}

/// A social account and its user, found by the provider's subject.
#[derive(Debug, Clone)]
pub struct ProviderAccount {
    /// The account row's id.
    pub id: Uuid,
    pub user: super::users::UserRow,
    /// A ban is in force right now.
    pub banned: bool,
}

/// The account for (provider, subject), with its user.
pub async fn find_by_provider(
    client: &impl GenericClient,
    provider_id: &str,
    account_id: &str,
) -> Result<Option<ProviderAccount>, tokio_postgres::Error> {
    let sql = format!(
        "SELECT a.id, {}, COALESCE(u.banned_until > now(), false)
         FROM identity.accounts a JOIN identity.users u ON u.id = a.user_id
         WHERE a.provider_id = $1 AND a.account_id = $2",
        super::users::USER_COLUMNS
    );
    let stmt = client.prepare_cached(&sql).await?;
    match client
        .query_opt(&stmt, &[&provider_id, &account_id])
        .await?
    {
        Some(r) => Ok(Some(ProviderAccount {
            id: r.try_get(0)?,
            user: super::users::UserRow::from_row(&r, 1)?,
            banned: r.try_get(9)?,
        })),
        None => Ok(None),
    }
}

/// A provider's tokens as stored: sealed under `kek_id`, bound to the account id.
#[derive(Default)]
pub struct SealedTokens {
    pub access_token: Option<Vec<u8>>,
    pub refresh_token: Option<Vec<u8>>,
    pub kek_id: Option<String>,
    pub access_token_expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Creates a social account (`id` chosen by the caller: the sealed tokens are
/// bound to it). `false` if (provider, subject) is already someone's account.
pub async fn insert_provider_account(
    client: &impl GenericClient,
    id: Uuid,
    user_id: Uuid,
    provider_id: &str,
    account_id: &str,
    scope: Option<&str>,
    tokens: &SealedTokens,
) -> Result<bool, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO identity.accounts (id, user_id, provider_id, account_id, scope,
                 access_token_sealed, refresh_token_sealed, token_kek_id, access_token_expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (provider_id, account_id) DO NOTHING",
        )
        .await?;
    Ok(client
        .execute(
            &stmt,
            &[
                &id,
                &user_id,
                &provider_id,
                &account_id,
                &scope,
                &tokens.access_token,
                &tokens.refresh_token,
                &tokens.kek_id,
                &tokens.access_token_expires_at,
            ],
        )
        .await?
        == 1)
}

/// Records a new sign-in's grant on the account (scope; tokens when kept). A
/// sign-in without a refresh token keeps the stored one (providers send it once).
pub async fn update_provider_account(
    client: &impl GenericClient,
    id: Uuid,
    scope: Option<&str>,
    tokens: &SealedTokens,
) -> Result<(), tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "UPDATE identity.accounts SET
                 scope = COALESCE($2, scope),
                 access_token_sealed = $3,
                 refresh_token_sealed = CASE WHEN $3::bytea IS NULL THEN NULL
                                             ELSE COALESCE($4, refresh_token_sealed) END,
                 token_kek_id = $5,
                 access_token_expires_at = $6
             WHERE id = $1",
        )
        .await?;
    client
        .execute(
            &stmt,
            &[
                &id,
                &scope,
                &tokens.access_token,
                &tokens.refresh_token,
                &tokens.kek_id,
                &tokens.access_token_expires_at,
            ],
        )
        .await?;
    Ok(())
}

/// How many ways in the user has; locks the user's row first, so two unlinks
/// racing for the last two accounts cannot both pass the count.
pub async fn count_for_user_locked(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<i64, tokio_postgres::Error> {
    let lock = client
        .prepare_cached("SELECT 1 FROM identity.users WHERE id = $1 FOR UPDATE")
        .await?;
    client.execute(&lock, &[&user_id]).await?;
    let stmt = client
        .prepare_cached("SELECT count(*) FROM identity.accounts WHERE user_id = $1")
        .await?;
    client.query_one(&stmt, &[&user_id]).await?.try_get(0)
}

/// Deletes one of the user's accounts by row id; the deleted account's provider,
/// `None` if the user has no such account.
pub async fn delete_for_user(
    client: &impl GenericClient,
    id: Uuid,
    user_id: Uuid,
) -> Result<Option<String>, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "DELETE FROM identity.accounts WHERE id = $1 AND user_id = $2 RETURNING provider_id",
        )
        .await?;
    client
        .query_opt(&stmt, &[&id, &user_id])
        .await?
        .map(|r| r.try_get(0))
        .transpose()
}
