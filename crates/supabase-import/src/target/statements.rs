//! The statements of a run, prepared once: one multi-row write per table (a plain
//! INSERT and an upsert), the bookkeeping reads and writes, and the profile checks.

use identity_core::schema::CREDENTIAL_PROVIDER;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, Statement};

use super::{NamedCheck, ProfileCheck, Target};
use crate::batch::{ProfileColumn, ProfileMapping};
use crate::source::quote_ident;

/// One table's write: a plain multi-row INSERT for users never imported before
/// (the common case, and cheaper), and an upsert for the rest.
pub struct Write {
    pub(super) insert: Statement,
    pub(super) upsert: Statement,
}

/// Prepared statements of a run.
pub struct Statements {
    pub(super) existing: Statement,
    pub(super) email_owners: Statement,
    pub(super) users: Write,
    pub(super) credentials: Write,
    pub(super) credential_delete: Statement,
    pub(super) identities: Write,
    pub(super) profiles: Option<Write>,
    /// Evaluates the profile CHECK constraints over a batch (those whose columns
    /// are all mapped), with their names in result order.
    pub(super) profile_checks: Option<(Statement, Vec<NamedCheck>)>,
    pub(super) marks: Write,
    pub(super) issues: Statement,
    pub(super) checkpoint: Statement,
}

/// `INSERT … SELECT … FROM jsonb_to_recordset($1)` plus its `ON CONFLICT` tail.
const USERS_INSERT: &str = "INSERT INTO identity.users AS u (id, name, email, email_verified,
        image, role, created_at, updated_at, app_metadata, user_metadata, banned_until)
    SELECT x.id, x.name, x.email, x.email_verified, x.image, x.role, x.created_at,
        x.updated_at, x.app_metadata, x.user_metadata, x.banned_until
    FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, name text, email text,
        email_verified boolean, image text, role text, created_at timestamptz,
        updated_at timestamptz, app_metadata jsonb, user_metadata jsonb,
        banned_until timestamptz)";
const USERS_CONFLICT: &str = " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name,
        email = EXCLUDED.email, email_verified = EXCLUDED.email_verified,
        image = EXCLUDED.image, role = EXCLUDED.role, created_at = EXCLUDED.created_at,
        app_metadata = EXCLUDED.app_metadata, user_metadata = EXCLUDED.user_metadata,
        banned_until = EXCLUDED.banned_until";
/// The credential account's id is the user's id: deterministic, so two imports of
/// one source produce identical tables. Its `account_id` is the user's id as text,
/// like the auth-server's.
fn credentials_insert() -> String {
    format!(
        "INSERT INTO identity.accounts AS a (id, user_id, provider_id,
        account_id, password_hash, awaits_confirmed_email, created_at, updated_at)
    SELECT x.user_id, x.user_id, '{CREDENTIAL_PROVIDER}', x.user_id::text, x.password_hash,
        x.awaits_confirmed_email, x.created_at, x.created_at
    FROM jsonb_to_recordset($1::jsonb) AS x(user_id uuid, password_hash text,
        awaits_confirmed_email boolean, created_at timestamptz)"
    )
}
fn credentials_conflict() -> String {
    format!(
        " ON CONFLICT (user_id) WHERE provider_id = '{CREDENTIAL_PROVIDER}'
    DO UPDATE SET password_hash = EXCLUDED.password_hash,
        awaits_confirmed_email = EXCLUDED.awaits_confirmed_email"
    )
}
const IDENTITIES_INSERT: &str = "INSERT INTO identity.accounts AS a (id, user_id, provider_id,
        account_id, created_at, updated_at)
    SELECT x.id, x.user_id, x.provider_id, x.account_id, x.created_at, x.updated_at
    FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, user_id uuid, provider_id text,
        account_id text, created_at timestamptz, updated_at timestamptz)";
const IDENTITIES_CONFLICT: &str = " ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id,
        provider_id = EXCLUDED.provider_id, account_id = EXCLUDED.account_id";
const MARKS_INSERT: &str = "INSERT INTO identity.imported_users AS m (user_id, run_id,
        user_digest, credential_digest, identities_digest, profile_digest,
        rejected_profile_columns)
    SELECT x.user_id, $2, decode(x.user_digest, 'hex'), decode(x.credential_digest, 'hex'),
        decode(x.identities_digest, 'hex'), decode(x.profile_digest, 'hex'),
        COALESCE(x.rejected, '{}')
    FROM jsonb_to_recordset($1::jsonb) AS x(user_id uuid, user_digest text,
        credential_digest text, identities_digest text, profile_digest text, rejected text[])";
const MARKS_CONFLICT: &str = " ON CONFLICT (user_id) DO UPDATE SET run_id = EXCLUDED.run_id,
        user_digest = EXCLUDED.user_digest, credential_digest = EXCLUDED.credential_digest,
        identities_digest = EXCLUDED.identities_digest,
        profile_digest = EXCLUDED.profile_digest,
        rejected_profile_columns = EXCLUDED.rejected_profile_columns, imported_at = now()";
const EXISTING_SELECT: &str = "SELECT user_id, user_digest, credential_digest, identities_digest,
        profile_digest, rejected_profile_columns
    FROM identity.imported_users WHERE user_id = ANY($1)";
const EMAIL_OWNERS_SELECT: &str = "SELECT email, id FROM identity.users WHERE email = ANY($1)";
const ISSUES_INSERT: &str =
    "INSERT INTO identity.import_issues (run_id, user_id, email, category, detail)
    SELECT $2, x.user_id, x.email, x.category, x.detail
    FROM jsonb_to_recordset($1::jsonb) AS x(user_id uuid, email text,
        category text, detail text)";
const CHECKPOINT_UPDATE: &str =
    "UPDATE identity.import_runs SET checkpoint = $2, batches = $3, counts = $4 WHERE id = $1";

impl Target {
    /// Prepares the statements of a run (the profile write depends on the mapping).
    pub async fn statements(&self, mapping: &ProfileMapping) -> anyhow::Result<Statements> {
        let c = &self.client;
        let jsonb: &[Type] = &[Type::JSONB];
        let profiles = if mapping.pairs.is_empty() && mapping.implicit_times.is_empty() {
            None
        } else {
            let (insert, conflict) = profile_sql(mapping, self.has_version);
            Some(prepare_write(c, insert, &conflict, jsonb).await?)
        };
        let profile_checks = match profiles {
            Some(_) => prepare_profile_checks(c, &self.checks, mapping).await?,
            None => None,
        };
        let credential_delete = format!(
            "DELETE FROM identity.accounts
             WHERE user_id = ANY($1) AND provider_id = '{CREDENTIAL_PROVIDER}'"
        );
        let bookkeeping = &[Type::JSONB, Type::INT8];
        let checkpoint = &[Type::INT8, Type::UUID, Type::INT4, Type::JSONB];
        Ok(Statements {
            profile_checks,
            existing: c
                .prepare_typed(EXISTING_SELECT, &[Type::UUID_ARRAY])
                .await?,
            email_owners: c
                .prepare_typed(EMAIL_OWNERS_SELECT, &[Type::TEXT_ARRAY])
                .await?,
            users: prepare_write(c, USERS_INSERT.into(), USERS_CONFLICT, jsonb).await?,
            credentials: prepare_write(c, credentials_insert(), &credentials_conflict(), jsonb)
                .await?,
            credential_delete: c
                .prepare_typed(&credential_delete, &[Type::UUID_ARRAY])
                .await?,
            identities: prepare_write(c, IDENTITIES_INSERT.into(), IDENTITIES_CONFLICT, jsonb)
                .await?,
            profiles,
            marks: prepare_write(c, MARKS_INSERT.into(), MARKS_CONFLICT, bookkeeping).await?,
            issues: c.prepare_typed(ISSUES_INSERT, bookkeeping).await?,
            checkpoint: c.prepare_typed(CHECKPOINT_UPDATE, checkpoint).await?,
        })
    }
}

/// The plain INSERT and, with `conflict` and `RETURNING (xmax = 0)` (inserted or
/// not), the upsert of one table.
async fn prepare_write(
    c: &Client,
    insert: String,
    conflict: &str,
    types: &[Type],
) -> Result<Write, tokio_postgres::Error> {
    let upsert = format!("{insert}{conflict} RETURNING (xmax = 0)");
    Ok(Write {
        insert: c.prepare_typed(&insert, types).await?,
        upsert: c.prepare_typed(&upsert, types).await?,
    })
}

/// Evaluates the profile CHECK constraints whose columns are all mapped over a
/// batch; `None` if there are none.
async fn prepare_profile_checks(
    c: &Client,
    checks: &[ProfileCheck],
    mapping: &ProfileMapping,
) -> Result<Option<(Statement, Vec<NamedCheck>)>, tokio_postgres::Error> {
    let mapped: Vec<&ProfileColumn> = mapping.all_columns().collect();
    let usable: Vec<&ProfileCheck> = checks
        .iter()
        .filter(|k| {
            k.columns
                .iter()
                .all(|col| mapped.iter().any(|m| &m.name == col))
        })
        .collect();
    if usable.is_empty() {
        return Ok(None);
    }
    // A CHECK fails only when its expression is false (NULL passes).
    let tests: Vec<String> = usable
        .iter()
        .map(|k| format!("({}) IS NOT FALSE", k.expr))
        .collect();
    let decls: Vec<String> = mapped
        .iter()
        .map(|c| format!("{} {}", quote_ident(&c.name), c.sql_type))
        .collect();
    let sql = format!(
        "SELECT user_id, ARRAY[{}] FROM jsonb_to_recordset($1::jsonb) AS x(user_id uuid, {})",
        tests.join(", "),
        decls.join(", ")
    );
    let names = usable
        .iter()
        .map(|k| (k.name.clone(), k.columns.clone()))
        .collect();
    Ok(Some((c.prepare_typed(&sql, &[Type::JSONB]).await?, names)))
}

/// The profile INSERT and its ON CONFLICT tail, for the mapped columns.
fn profile_sql(mapping: &ProfileMapping, has_version: bool) -> (String, String) {
    let cols: Vec<&ProfileColumn> = mapping.all_columns().collect();
    let names: Vec<String> = cols.iter().map(|c| quote_ident(&c.name)).collect();
    let decls: Vec<String> = cols
        .iter()
        .map(|c| format!("{} {}", quote_ident(&c.name), c.sql_type))
        .collect();
    let mut sets: Vec<String> = cols
        .iter()
        .filter(|c| !["created_at", "updated_at"].contains(&c.name.as_str()))
        .map(|c| format!("{0} = EXCLUDED.{0}", quote_ident(&c.name)))
        .collect();
    if has_version {
        sets.push("version = p.version + 1".into());
    }
    if sets.is_empty() {
        sets.push("user_id = EXCLUDED.user_id".into());
    }
    let insert = format!(
        "INSERT INTO learner.profiles AS p (user_id, {cols})
         SELECT x.user_id, {xcols}
         FROM jsonb_to_recordset($1::jsonb) AS x(user_id uuid, {decls})",
        cols = names.join(", "),
        xcols = names
            .iter()
            .map(|n| format!("x.{n}"))
            .collect::<Vec<_>>()
            .join(", "),
        decls = decls.join(", "),
    );
    let conflict = format!(" ON CONFLICT (user_id) DO UPDATE SET {}", sets.join(", "));
    (insert, conflict)
}
