//! `identity.verifications`: one-time tokens (stored as SHA-256 only) for e-mail
//! verification, password reset, e-mail change and account deletion.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::GenericClient;

/// What a token is for; the `purpose` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Proves the user's current address.
    EmailVerification,
    /// Lets the user set a new password.
    PasswordReset,
    /// Mailed to the old address: confirms a change before the new one is asked.
    ChangeEmailConfirmation,
    /// Mailed to the new address: proves it and makes the change.
    ChangeEmailVerification,
    /// Confirms deleting the account.
    DeleteAccount,
}

impl Purpose {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::EmailVerification => "email-verification",
            Purpose::PasswordReset => "password-reset",
            Purpose::ChangeEmailConfirmation => "change-email-confirmation",
            Purpose::ChangeEmailVerification => "change-email-verification",
            Purpose::DeleteAccount => "delete-account",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            Purpose::EmailVerification,
            Purpose::PasswordReset,
            Purpose::ChangeEmailConfirmation,
            Purpose::ChangeEmailVerification,
            Purpose::DeleteAccount,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }
}

/// A token to store.
pub struct NewToken<'a> {
    pub purpose: Purpose,
    pub token_hash: &'a [u8],
    pub user_id: Uuid,
    /// The address the token is mailed for (the user's current one).
    pub email: &'a str,
    /// change-email: the address asked for.
    pub new_email: Option<&'a str>,
    pub expires_at: DateTime<Utc>,
}

/// Stores a token.
pub async fn insert(
    client: &impl GenericClient,
    token: &NewToken<'_>,
) -> Result<(), tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO identity.verifications
               (purpose, token_hash, user_id, email, new_email, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .await?;
    client
        .execute(
            &stmt,
            &[
                &token.purpose.as_str(),
                &token.token_hash,
                &token.user_id,
                &token.email,
                &token.new_email,
                &token.expires_at,
            ],
        )
        .await?;
    Ok(())
}

/// A stored token, as found.
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: Uuid,
    pub purpose: Purpose,
    pub user_id: Uuid,
    pub email: String,
    pub new_email: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    /// The user's address right now: a token acts only while it equals `email`.
    pub user_email: String,
}

impl TokenRow {
    /// Unexpired (by the database clock at lookup) and not used.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.used_at.is_none() && self.expires_at > now
    }

    /// The user still has the address the token was mailed for.
    pub fn matches_user(&self) -> bool {
        self.email == self.user_email
    }
}

const TOKEN_COLUMNS: &str =
    "v.id, v.purpose, v.user_id, v.email, v.new_email, v.expires_at, v.used_at, u.email";

fn token_row(row: &tokio_postgres::Row) -> Result<Option<TokenRow>, tokio_postgres::Error> {
    let purpose: String = row.try_get(1)?;
    let Some(purpose) = Purpose::parse(&purpose) else {
        return Ok(None);
    };
    Ok(Some(TokenRow {
        id: row.try_get(0)?,
        purpose,
        user_id: row.try_get(2)?,
        email: row.try_get(3)?,
        new_email: row.try_get(4)?,
        expires_at: row.try_get(5)?,
        used_at: row.try_get(6)?,
        user_email: row.try_get(7)?,
    }))
}

/// The token with this hash among `purposes`, whatever its state (the caller tells
/// expired from used from live).
pub async fn find(
    client: &impl GenericClient,
    token_hash: &[u8],
    purposes: &[Purpose],
) -> Result<Option<TokenRow>, tokio_postgres::Error> {
    let names: Vec<&str> = purposes.iter().map(|p| p.as_str()).collect();
    let sql = format!(
        "SELECT {TOKEN_COLUMNS} FROM identity.verifications v
         JOIN identity.users u ON u.id = v.user_id
         WHERE v.token_hash = $1 AND v.purpose = ANY($2)"
    );
    let stmt = client.prepare_cached(&sql).await?;
    match client.query_opt(&stmt, &[&token_hash, &names]).await? {
        Some(row) => token_row(&row),
        None => Ok(None),
    }
}

/// Locks a live token of `purposes` for the rest of the transaction and returns it;
/// `None` if it is unknown, used or expired, or another transaction is acting on it.
pub async fn lock_live(
    client: &impl GenericClient,
    token_hash: &[u8],
    purposes: &[Purpose],
) -> Result<Option<TokenRow>, tokio_postgres::Error> {
    let names: Vec<&str> = purposes.iter().map(|p| p.as_str()).collect();
    let sql = format!(
        "SELECT {TOKEN_COLUMNS} FROM identity.verifications v
         JOIN identity.users u ON u.id = v.user_id
         WHERE v.token_hash = $1 AND v.purpose = ANY($2)
           AND v.used_at IS NULL AND v.expires_at > now()
         FOR UPDATE OF v SKIP LOCKED"
    );
    let stmt = client.prepare_cached(&sql).await?;
    match client.query_opt(&stmt, &[&token_hash, &names]).await? {
        Some(row) => token_row(&row),
        None => Ok(None),
    }
}

/// Marks a token used (kept, so a second click can be told from a forged link).
pub async fn mark_used(client: &impl GenericClient, id: Uuid) -> Result<(), tokio_postgres::Error> {
    let stmt = client
        .prepare_cached("UPDATE identity.verifications SET used_at = now() WHERE id = $1")
        .await?;
    client.execute(&stmt, &[&id]).await?;
    Ok(())
}

/// Deletes a token.
pub async fn delete(client: &impl GenericClient, id: Uuid) -> Result<(), tokio_postgres::Error> {
    let stmt = client
        .prepare_cached("DELETE FROM identity.verifications WHERE id = $1")
        .await?;
    client.execute(&stmt, &[&id]).await?;
    Ok(())
}

/// Deletes the user's unused tokens of `purposes` (a reset ends every other pending
/// reset; a completed change ends the other pending changes).
pub async fn delete_unused_for_user(
    client: &impl GenericClient,
    user_id: Uuid,
    purposes: &[Purpose],
) -> Result<u64, tokio_postgres::Error> {
    let names: Vec<&str> = purposes.iter().map(|p| p.as_str()).collect();
    let stmt = client
        .prepare_cached(
            "DELETE FROM identity.verifications
             WHERE user_id = $1 AND purpose = ANY($2) AND used_at IS NULL",
        )
        .await?;
    client.execute(&stmt, &[&user_id, &names]).await
}

/// Deletes up to `batch` expired tokens, used or not (a used verification link is
/// kept until then, so a second click still lands on the success page).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn sweep_expired(
    client: &impl GenericClient,
    batch: i64,
) -> Result<u64, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "DELETE FROM identity.verifications WHERE id IN (
                 SELECT id FROM identity.verifications WHERE expires_at < now()
                 ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)",
        )
        .await?;
    client.execute(&stmt, &[&batch]).await
}
