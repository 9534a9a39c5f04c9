//! `identity.users`.

use chrono::{DateTime, Utc};
use identity_core::schema::CREDENTIAL_PROVIDER;
use tokio_postgres::Row;
use uuid::Uuid;

use super::GenericClient;

/// Columns selected for a user, in [`UserRow::from_row`] order. Only the
/// auth-server reads users in this shape (the importer writes and compares whole
/// rows as JSON), so the list and [`UserRow`] stay here, not in `identity-core`.
pub const USER_COLUMNS: &str =
    "u.id, u.name, u.email, u.email_verified, u.image, u.role, u.created_at, u.updated_at";

/// A user as stored.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub email_verified: bool,
    pub image: Option<String>,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl UserRow {
    /// Reads [`USER_COLUMNS`] starting at column `at`.
    pub fn from_row(row: &Row, at: usize) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            id: row.try_get(at)?,
            name: row.try_get(at + 1)?,
            email: row.try_get(at + 2)?,
            email_verified: row.try_get(at + 3)?,
            image: row.try_get(at + 4)?,
            role: row.try_get(at + 5)?,
            created_at: row.try_get(at + 6)?,
            updated_at: row.try_get(at + 7)?,
        })
    }

    /// The user as the client sees it.
    pub fn to_wire(&self) -> auth_wire::User {
        auth_wire::User {
            id: self.id,
            name: self.name.clone(),
            email: self.email.clone(),
            email_verified: self.email_verified,
            image: self.image.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// Inserts a user unless the e-mail is taken (then `None`). Under concurrent sign-ups
/// of one e-mail the unique constraint lets exactly one insert through.
pub async fn insert(
    client: &impl GenericClient,
    name: &str,
    email: &str,
    image: Option<&str>,
) -> Result<Option<UserRow>, tokio_postgres::Error> {
    let sql = format!(
        "INSERT INTO identity.users AS u (name, email, image) VALUES ($1, $2, $3)
         ON CONFLICT (email) DO NOTHING RETURNING {USER_COLUMNS}"
    );
    let stmt = client.prepare_cached(&sql).await?;
    let row = client.query_opt(&stmt, &[&name, &email, &image]).await?;
    row.map(|r| UserRow::from_row(&r, 0)).transpose()
}

/// Whether an e-mail (already lower-cased) is registered.
pub async fn email_exists(
    client: &impl GenericClient,
    email: &str,
) -> Result<bool, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached("SELECT 1 FROM identity.users WHERE email = $1")
        .await?;
    Ok(client.query_opt(&stmt, &[&email]).await?.is_some())
}

/// A user and their password hash (if they have a credential account), by e-mail.
pub async fn find_with_password(
    client: &impl GenericClient,
    email: &str,
) -> Result<Option<(UserRow, Option<String>)>, tokio_postgres::Error> {
    let sql = format!(
        "SELECT {USER_COLUMNS}, a.password_hash FROM identity.users u
         LEFT JOIN identity.accounts a ON a.user_id = u.id AND a.provider_id = '{CREDENTIAL_PROVIDER}'
         WHERE u.email = $1"
    );
    let stmt = client.prepare_cached(&sql).await?;
    match client.query_opt(&stmt, &[&email]).await? {
        Some(row) => Ok(Some((UserRow::from_row(&row, 0)?, row.try_get(8)?))),
        None => Ok(None),
    }
}

/// Updates name and/or image (`Some(None)` clears the image).
pub async fn update_profile(
    client: &impl GenericClient,
    id: Uuid,
    name: Option<&str>,
    image: Option<Option<&str>>,
) -> Result<Option<UserRow>, tokio_postgres::Error> {
    let sql = format!(
        "UPDATE identity.users AS u SET
           name = COALESCE($2, u.name),
           image = CASE WHEN $3 THEN $4 ELSE u.image END
         WHERE u.id = $1 RETURNING {USER_COLUMNS}"
    );
    let stmt = client.prepare_cached(&sql).await?;
    let (set_image, image) = match image {
        Some(i) => (true, i),
        None => (false, None),
    };
    let row = client
        .query_opt(&stmt, &[&id, &name, &set_image, &image])
        .await?;
    row.map(|r| UserRow::from_row(&r, 0)).transpose()
}

/// Bumps `updated_at` (the trigger sets it), which also invalidates cached JWTs.
pub async fn touch(
    client: &impl GenericClient,
    id: Uuid,
) -> Result<Option<UserRow>, tokio_postgres::Error> {
    let sql = format!(
        "UPDATE identity.users AS u SET name = u.name WHERE u.id = $1 RETURNING {USER_COLUMNS}"
    );
    let stmt = client.prepare_cached(&sql).await?;
    let row = client.query_opt(&stmt, &[&id]).await?;
    row.map(|r| UserRow::from_row(&r, 0)).transpose()
}

/// What sign-in needs to know about a user: the user, their password hash (if they
/// have a credential account) and whether a ban is in force right now.
#[derive(Debug, Clone)]
pub struct SignInCandidate {
    pub user: UserRow,
    pub password_hash: Option<String>,
    /// `banned_until` lies in the future (an imported Supabase ban, say).
    pub banned: bool,
    /// The password was imported for an address Supabase never confirmed: it
    /// signs in only once the address is verified here.
    pub awaits_confirmed_email: bool,
}

/// The sign-in view of a user, by e-mail (already lower-cased). The ban is judged
/// by the database clock, which also copes with `banned_until = 'infinity'`.
pub async fn find_for_sign_in(
    client: &impl GenericClient,
    email: &str,
) -> Result<Option<SignInCandidate>, tokio_postgres::Error> {
    let sql = format!(
        "SELECT {USER_COLUMNS}, a.password_hash, COALESCE(u.banned_until > now(), false),
                COALESCE(a.awaits_confirmed_email, false)
         FROM identity.users u
         LEFT JOIN identity.accounts a ON a.user_id = u.id AND a.provider_id = '{CREDENTIAL_PROVIDER}'
         WHERE u.email = $1"
    );
    let stmt = client.prepare_cached(&sql).await?;
    match client.query_opt(&stmt, &[&email]).await? {
        Some(row) => Ok(Some(SignInCandidate {
            user: UserRow::from_row(&row, 0)?,
            password_hash: row.try_get(8)?,
            banned: row.try_get(9)?,
            awaits_confirmed_email: row.try_get(10)?,
        })),
        None => Ok(None),
    }
}

/// A user by (lower-cased) e-mail.
pub async fn find_by_email(
    client: &impl GenericClient,
    email: &str,
) -> Result<Option<UserRow>, tokio_postgres::Error> {
    let sql = format!("SELECT {USER_COLUMNS} FROM identity.users u WHERE u.email = $1");
    let stmt = client.prepare_cached(&sql).await?;
    let row = client.query_opt(&stmt, &[&email]).await?;
    row.map(|r| UserRow::from_row(&r, 0)).transpose()
}

/// Marks the address verified (idempotent); the user after the change.
pub async fn set_email_verified(
    client: &impl GenericClient,
    id: Uuid,
) -> Result<Option<UserRow>, tokio_postgres::Error> {
    let sql = format!(
        "UPDATE identity.users AS u SET email_verified = true WHERE u.id = $1 RETURNING {USER_COLUMNS}"
    );
    let stmt = client.prepare_cached(&sql).await?;
    let row = client.query_opt(&stmt, &[&id]).await?;
    row.map(|r| UserRow::from_row(&r, 0)).transpose()
}

/// Moves the user to a new, proven address. `Ok(None)` when the address was taken
/// meanwhile (the unique constraint decides).
pub async fn set_verified_email(
    client: &impl GenericClient,
    id: Uuid,
    email: &str,
) -> Result<Option<UserRow>, tokio_postgres::Error> {
    let sql = format!(
        "UPDATE identity.users AS u SET email = $2, email_verified = true
         WHERE u.id = $1
           AND NOT EXISTS (SELECT 1 FROM identity.users o WHERE o.email = $2 AND o.id <> $1)
         RETURNING {USER_COLUMNS}"
    );
    let stmt = client.prepare_cached(&sql).await?;
    match client.query_opt(&stmt, &[&id, &email]).await {
        Ok(row) => row.map(|r| UserRow::from_row(&r, 0)).transpose(),
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Deletes the user; accounts, sessions, tokens and the learner profile go with it
/// (foreign keys with `ON DELETE CASCADE`). `false` if there was no such user.
pub async fn delete(client: &impl GenericClient, id: Uuid) -> Result<bool, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached("DELETE FROM identity.users WHERE id = $1")
        .await?;
    Ok(client.execute(&stmt, &[&id]).await? == 1)
}

/// A user by id.
pub async fn find_by_id(
    client: &impl GenericClient,
    id: Uuid,
) -> Result<Option<UserRow>, tokio_postgres::Error> {
    let sql = format!("SELECT {USER_COLUMNS} FROM identity.users u WHERE u.id = $1");
    let stmt = client.prepare_cached(&sql).await?;
    let row = client.query_opt(&stmt, &[&id]).await?;
    row.map(|r| UserRow::from_row(&r, 0)).transpose()
}

/// Bans the user until `until` (`None`: for good: `'infinity'`, as Supabase stores
/// a permanent ban and as the checks compare it with the database clock).
pub async fn ban(
    client: &impl GenericClient,
    id: Uuid,
    until: Option<DateTime<Utc>>,
) -> Result<(), tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "UPDATE identity.users SET banned_until = COALESCE($2::timestamptz, 'infinity') WHERE id = $1",
        )
        .await?;
    client.execute(&stmt, &[&id, &until]).await?;
    Ok(())
}

/// Lifts a ban in force; `false` if there was none.
pub async fn lift_ban(
    client: &impl GenericClient,
    id: Uuid,
) -> Result<bool, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(
            "UPDATE identity.users SET banned_until = NULL WHERE id = $1 AND banned_until > now()",
        )
        .await?;
    Ok(client.execute(&stmt, &[&id]).await? == 1)
}
