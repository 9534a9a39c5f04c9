//! Writing our side. A batch is one transaction: the rows, the bookkeeping, the
//! issues and the checkpoint commit together, so an interruption loses at most the
//! batch in flight, and a resumed run starts right after the last commit.
//!
//! A batch is first written with one multi-row statement per table
//! (`jsonb_to_recordset`, `ON CONFLICT … DO UPDATE`). If any row breaks a
//! constraint, the batch is redone user by user in savepoints; a failing user
//! first loses the offending part (a profile value, the profile, the identities,
//! the credential) and only then is reported as failed. One odd row never aborts
//! the run.

use std::collections::HashMap;

use anyhow::Context;
use serde::ser::SerializeMap;
use serde::Serialize;
use serde_json::{json, Value};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{Json, Type};
use tokio_postgres::{Client, GenericClient, Statement};
use uuid::Uuid;

use crate::batch::{
    finish_profile, plan_batch, BatchPlan, Existing, ProfileColumn, ProfileMapping, SourceBatch,
    TargetView, Unit,
};
use crate::plan::{hex, ColumnKind};
use crate::report::{Counts, Issue, Report};
use crate::source::quote_ident;

/// Session advisory lock held by a (non-dry) run: one import at a time per target.
const IMPORT_LOCK_KEY: i64 = 0x7375_7061_0000_0001;
/// Attempts at one user before giving up on it.
const MAX_ATTEMPTS: usize = 8;

/// Our database.
pub struct Target {
    pub client: Client,
    pub dry_run: bool,
    /// `learner.profiles` columns (empty if the table does not exist).
    pub profile_columns: Vec<ProfileColumn>,
    has_version: bool,
    /// CHECK constraint of `learner.profiles` → its columns.
    constraints: HashMap<String, Vec<String>>,
    /// The same constraints with their expressions, for checking a batch up front.
    checks: Vec<ProfileCheck>,
}

/// A constraint's name and columns.
type NamedCheck = (String, Vec<String>);

/// A CHECK constraint of `learner.profiles`.
#[derive(Debug, Clone)]
struct ProfileCheck {
    name: String,
    /// The boolean expression, in terms of the table's column names.
    expr: String,
    columns: Vec<String>,
}

/// An import run as recorded in `identity.import_runs`.
#[derive(Debug, Clone)]
pub struct RunState {
    pub id: i64,
    /// Batches committed before this invocation (0 for a new run).
    pub resumed_after_batches: u32,
    pub checkpoint: Option<Uuid>,
    pub batches: u32,
    pub counts: Counts,
    pub issues: Vec<Issue>,
}

/// One table's write: a plain multi-row INSERT for users never imported before
/// (the common case, and cheaper), and an upsert for the rest.
pub struct Write {
    insert: Statement,
    upsert: Statement,
}

/// Prepared statements of a run.
pub struct Statements {
    existing: Statement,
    email_owners: Statement,
    users: Write,
    credentials: Write,
    credential_delete: Statement,
    identities: Write,
    profiles: Option<Write>,
    /// Evaluates the profile CHECK constraints over a batch (those whose columns
    /// are all mapped), with their names in result order.
    profile_checks: Option<(Statement, Vec<NamedCheck>)>,
    marks: Write,
    issues: Statement,
    checkpoint: Statement,
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
// The credential account's id is the user's id: deterministic, so two imports of
// one source produce identical tables.
const CREDENTIALS_INSERT: &str = "INSERT INTO identity.accounts AS a (id, user_id, provider_id,
        account_id, password_hash, created_at, updated_at)
    SELECT x.user_id, x.user_id, 'credential', x.user_id::text, x.password_hash,
        x.created_at, x.created_at
    FROM jsonb_to_recordset($1::jsonb) AS x(user_id uuid, password_hash text,
        created_at timestamptz)";
const CREDENTIALS_CONFLICT: &str = " ON CONFLICT (user_id) WHERE provider_id = 'credential'
    DO UPDATE SET password_hash = EXCLUDED.password_hash";
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

impl Target {
    /// Connects and checks that our schema is migrated far enough.
    pub async fn connect(url: &str, dry_run: bool) -> anyhow::Result<Self> {
        let client = database::connect(url)
            .await
            .context("cannot connect to the target database")?;
        let migrated: bool = client
            .query_one(
                "SELECT to_regclass('identity.imported_users') IS NOT NULL",
                &[],
            )
            .await?
            .get(0);
        anyhow::ensure!(
            migrated,
            "the target is not migrated (identity.imported_users is missing): run `auth-server migrate` against it first"
        );
        let rows = client
            .query(
                "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                        pg_get_expr(d.adbin, d.adrelid)
                 FROM pg_attribute a
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                 WHERE a.attrelid = to_regclass('learner.profiles') AND a.attnum > 0
                   AND NOT a.attisdropped
                 ORDER BY a.attnum",
                &[],
            )
            .await?;
        let mut profile_columns = Vec::new();
        for r in &rows {
            let name: String = r.get(0);
            let sql_type: String = r.get(1);
            let not_null: bool = r.get(2);
            let default_expr: Option<String> = r.get(3);
            // Constant defaults ('none', '{}', 'en') are evaluated once; times and
            // the version are ours to set.
            let default = match default_expr {
                Some(expr)
                    if not_null
                        && !["created_at", "updated_at", "version"].contains(&name.as_str()) =>
                {
                    client
                        .query_one(&format!("SELECT to_jsonb({expr})"), &[])
                        .await
                        .ok()
                        .and_then(|r| r.get::<_, Option<Value>>(0))
                }
                _ => None,
            };
            profile_columns.push(ProfileColumn {
                kind: ColumnKind::of_sql_type(&sql_type),
                name,
                sql_type,
                not_null,
                default,
            });
        }
        let has_version = profile_columns.iter().any(|c| c.name == "version");
        let rows = client
            .query(
                "SELECT c.conname::text, array_agg(a.attname::text),
                        pg_get_expr(c.conbin, c.conrelid)
                 FROM pg_constraint c
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
                 WHERE c.conrelid = to_regclass('learner.profiles') AND c.contype = 'c'
                 GROUP BY c.conname, c.conbin, c.conrelid ORDER BY c.conname",
                &[],
            )
            .await?;
        let constraints = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        let checks = rows
            .iter()
            .map(|r| ProfileCheck {
                name: r.get(0),
                columns: r.get(1),
                expr: r.get(2),
            })
            .collect();
        Ok(Self {
            client,
            dry_run,
            profile_columns,
            has_version,
            constraints,
            checks,
        })
    }

    /// Prepares the statements of a run (the profile write depends on the mapping).
    pub async fn statements(&self, mapping: &ProfileMapping) -> anyhow::Result<Statements> {
        let c = &self.client;
        let write = |insert: String, conflict: &str, types: &'static [Type]| {
            let upsert = format!("{insert}{conflict} RETURNING (xmax = 0)");
            async move {
                Ok::<_, tokio_postgres::Error>(Write {
                    insert: c.prepare_typed(&insert, types).await?,
                    upsert: c.prepare_typed(&upsert, types).await?,
                })
            }
        };
        let jsonb: &'static [Type] = &[Type::JSONB];
        let profiles = if mapping.pairs.is_empty() && mapping.implicit_times.is_empty() {
            None
        } else {
            let (insert, conflict) = profile_sql(mapping, self.has_version);
            Some(write(insert, &conflict, jsonb).await?)
        };
        let mapped: Vec<&ProfileColumn> = mapping.all_columns().collect();
        let usable: Vec<&ProfileCheck> = self
            .checks
            .iter()
            .filter(|k| {
                k.columns
                    .iter()
                    .all(|col| mapped.iter().any(|m| &m.name == col))
            })
            .collect();
        let profile_checks = if usable.is_empty() || profiles.is_none() {
            None
        } else {
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
            Some((c.prepare_typed(&sql, jsonb).await?, names))
        };
        Ok(Statements {
            profile_checks,
            existing: c
                .prepare_typed(
                    "SELECT user_id, user_digest, credential_digest, identities_digest,
                            profile_digest, rejected_profile_columns
                     FROM identity.imported_users WHERE user_id = ANY($1)",
                    &[Type::UUID_ARRAY],
                )
                .await?,
            email_owners: c
                .prepare_typed(
                    "SELECT email, id FROM identity.users WHERE email = ANY($1)",
                    &[Type::TEXT_ARRAY],
                )
                .await?,
            users: write(USERS_INSERT.into(), USERS_CONFLICT, jsonb).await?,
            credentials: write(CREDENTIALS_INSERT.into(), CREDENTIALS_CONFLICT, jsonb).await?,
            credential_delete: c
                .prepare_typed(
                    "DELETE FROM identity.accounts
                     WHERE user_id = ANY($1) AND provider_id = 'credential'",
                    &[Type::UUID_ARRAY],
                )
                .await?,
            identities: write(IDENTITIES_INSERT.into(), IDENTITIES_CONFLICT, jsonb).await?,
            profiles,
            marks: write(
                MARKS_INSERT.into(),
                MARKS_CONFLICT,
                &[Type::JSONB, Type::INT8],
            )
            .await?,
            issues: c
                .prepare_typed(
                    "INSERT INTO identity.import_issues (run_id, user_id, email, category, detail)
                     SELECT $2, x.user_id, x.email, x.category, x.detail
                     FROM jsonb_to_recordset($1::jsonb) AS x(user_id uuid, email text,
                            category text, detail text)",
                    &[Type::JSONB, Type::INT8],
                )
                .await?,
            checkpoint: c
                .prepare_typed(
                    "UPDATE identity.import_runs SET checkpoint = $2, batches = $3, counts = $4
                     WHERE id = $1",
                    &[Type::INT8, Type::UUID, Type::INT4, Type::JSONB],
                )
                .await?,
        })
    }

    /// Starts a run, or resumes the unfinished one if it used the same options.
    pub async fn begin_run(
        &mut self,
        source: &str,
        options: &Value,
        options_digest: &str,
        restart: bool,
    ) -> anyhow::Result<RunState> {
        let locked: bool = self
            .client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&IMPORT_LOCK_KEY])
            .await?
            .get(0);
        anyhow::ensure!(
            locked,
            "another supabase-import is running against this target; wait for it to finish"
        );
        let running = self
            .client
            .query_opt(
                "SELECT id, options_digest, checkpoint, batches, counts FROM identity.import_runs
                 WHERE source_kind = 'supabase' AND status = 'running'",
                &[],
            )
            .await?;
        if let Some(r) = running {
            let id: i64 = r.get(0);
            let digest: String = r.get(1);
            if digest == options_digest && !restart {
                let counts: Counts = serde_json::from_value(r.get(4)).unwrap_or_default();
                let batches = r.get::<_, i32>(3).max(0) as u32;
                let issues = self
                    .client
                    .query(
                        "SELECT user_id, email, category, detail FROM identity.import_issues
                         WHERE run_id = $1 ORDER BY id",
                        &[&id],
                    )
                    .await?
                    .iter()
                    .map(|r| Issue {
                        user_id: r.get(0),
                        email: r.get(1),
                        category: r.get(2),
                        detail: r.get(3),
                    })
                    .collect();
                return Ok(RunState {
                    id,
                    resumed_after_batches: batches,
                    checkpoint: r.get(2),
                    batches,
                    counts,
                    issues,
                });
            }
            anyhow::ensure!(
                restart,
                "run #{id} was interrupted and used other options (source, profile table or mapping): \
                 run the same command as before to resume it, or add --restart to abandon it \
                 (safe: a new run skips every row that is already up to date)"
            );
            self.client
                .execute(
                    "UPDATE identity.import_runs SET status = 'abandoned', finished_at = now()
                     WHERE id = $1",
                    &[&id],
                )
                .await?;
        }
        let id: i64 = self
            .client
            .query_one(
                "INSERT INTO identity.import_runs (source, options, options_digest, status)
                 VALUES ($1, $2, $3, 'running') RETURNING id",
                &[&source, options, &options_digest],
            )
            .await?
            .get(0);
        Ok(RunState {
            id,
            resumed_after_batches: 0,
            checkpoint: None,
            batches: 0,
            counts: Counts::default(),
            issues: Vec::new(),
        })
    }

    /// Marks the run completed and stores its report.
    pub async fn complete_run(&self, id: i64, report: &Report) -> anyhow::Result<()> {
        let counts = serde_json::to_value(report.counts)?;
        let report = serde_json::to_value(report)?;
        self.client
            .execute(
                "UPDATE identity.import_runs
                 SET status = 'completed', finished_at = now(), counts = $2, report = $3
                 WHERE id = $1",
                &[&id, &counts, &report],
            )
            .await?;
        Ok(())
    }

    /// Plans and writes one batch in one transaction (rolled back in a dry run), with
    /// its issues and the checkpoint. `totals` are the run's counts so far and get
    /// this batch's added.
    #[allow(clippy::too_many_arguments)]
    pub async fn import_batch(
        &mut self,
        stmts: &Statements,
        run: Option<&mut RunState>,
        source: SourceBatch<'_>,
        mapping: &ProfileMapping,
        duplicates: &HashMap<Uuid, Uuid>,
        totals: &mut Counts,
    ) -> anyhow::Result<BatchPlan> {
        let last_id = source.users.last().map(|u| u.id);
        let ids: Vec<Uuid> = source.users.iter().map(|u| u.id).collect();
        let emails: Vec<String> = source
            .users
            .iter()
            .filter_map(|u| u.email.as_deref())
            .map(crate::plan::normalise_email)
            .collect();
        let constraints = &self.constraints;
        let dry_run = self.dry_run;
        let mut tx = self.client.transaction().await?;
        // A batch lost in a crash is redone by the resumed run (its checkpoint is
        // lost with it), so there is no need to wait for each commit's flush.
        tx.batch_execute("SET LOCAL TIME ZONE 'UTC'; SET LOCAL synchronous_commit = off")
            .await?;
        let existing = read_existing(&tx, stmts, &ids).await?;
        let owners: HashMap<String, Uuid> = tx
            .query(&stmts.email_owners, &[&emails])
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let mut plan = plan_batch(
            source,
            mapping,
            duplicates,
            TargetView {
                existing: &existing,
                email_owners: &owners,
            },
        );
        check_profiles(&tx, stmts, &mut plan, mapping).await?;
        let run_id = run.as_ref().map(|r| r.id);
        let written =
            write_with_fallback(&mut tx, stmts, &mut plan, run_id, constraints, mapping).await?;
        tally(&mut plan, &written);
        totals.add(&plan.counts);
        match run {
            Some(run) if !dry_run => {
                let issues: Vec<Value> = plan.issues.iter().map(issue_row).collect();
                if !issues.is_empty() {
                    tx.execute(&stmts.issues, &[&Value::Array(issues), &run.id])
                        .await?;
                }
                run.batches += 1;
                run.checkpoint = last_id.or(run.checkpoint);
                let counts = serde_json::to_value(*totals)?;
                tx.execute(
                    &stmts.checkpoint,
                    &[&run.id, &run.checkpoint, &(run.batches as i32), &counts],
                )
                .await?;
                tx.commit().await?;
            }
            _ => tx.rollback().await?,
        }
        Ok(plan)
    }
}

/// Bookkeeping rows of these users.
pub async fn read_existing(
    client: &impl GenericClient,
    stmts: &Statements,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Existing>, tokio_postgres::Error> {
    Ok(client
        .query(&stmts.existing, &[&ids])
        .await?
        .iter()
        .map(|r| {
            (
                r.get(0),
                Existing {
                    user_digest: r.get(1),
                    credential_digest: r.get(2),
                    identities_digest: r.get(3),
                    profile_digest: r.get(4),
                    rejected_profile_columns: r.get(5),
                },
            )
        })
        .collect())
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

/// Rows written, per table.
#[derive(Debug, Default, Clone, Copy)]
struct Written {
    users: (u64, u64),
    credentials: (u64, u64),
    removed: u64,
    identities: (u64, u64),
    profiles: (u64, u64),
    /// Parts dropped by the fallback.
    credentials_failed: u64,
    identities_failed: u64,
    profiles_failed: u64,
    /// Profile values a constraint refused.
    values_rejected: u64,
}

impl Written {
    fn add(&mut self, o: &Written) {
        let add = |a: &mut (u64, u64), b: (u64, u64)| {
            a.0 += b.0;
            a.1 += b.1;
        };
        add(&mut self.users, o.users);
        add(&mut self.credentials, o.credentials);
        self.removed += o.removed;
        add(&mut self.identities, o.identities);
        add(&mut self.profiles, o.profiles);
        self.credentials_failed += o.credentials_failed;
        self.identities_failed += o.identities_failed;
        self.profiles_failed += o.profiles_failed;
        self.values_rejected += o.values_rejected;
    }
}

/// Writes `rows` (serialised straight into the `jsonb` parameter): a plain INSERT
/// when `fresh`, else an upsert counting inserts and updates from `RETURNING
/// (xmax = 0)`. Returns (inserted, updated).
async fn write_rows<T: Serialize + Sync + std::fmt::Debug>(
    client: &impl GenericClient,
    stmt: &Write,
    fresh: bool,
    rows: &[T],
) -> Result<(u64, u64), tokio_postgres::Error> {
    if rows.is_empty() {
        return Ok((0, 0));
    }
    if fresh {
        let n = client.execute(&stmt.insert, &[&Json(rows)]).await?;
        return Ok((n, 0));
    }
    let result = client.query(&stmt.upsert, &[&Json(rows)]).await?;
    let inserted = result.iter().filter(|r| r.get::<_, bool>(0)).count() as u64;
    Ok((inserted, result.len() as u64 - inserted))
}

#[derive(Debug, Serialize)]
struct CredentialRow<'a> {
    user_id: Uuid,
    password_hash: &'a str,
    created_at: &'a Value,
}

/// `{"user_id": …, "<column>": value, …}`.
#[derive(Debug)]
struct ProfileRow<'a> {
    user_id: Uuid,
    values: &'a [(String, Value)],
}

impl Serialize for ProfileRow<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.values.len() + 1))?;
        map.serialize_entry("user_id", &self.user_id)?;
        for (k, v) in self.values {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[derive(Debug, Serialize)]
struct MarkRow<'a> {
    user_id: Uuid,
    user_digest: String,
    credential_digest: Option<String>,
    identities_digest: Option<String>,
    profile_digest: Option<String>,
    rejected: &'a [String],
}

/// Writes the units' rows with one statement per table; `fresh`: none of them was
/// ever imported, so plain INSERTs do.
async fn write_units(
    client: &impl GenericClient,
    stmts: &Statements,
    units: &[&Unit],
    run: Option<i64>,
    fresh: bool,
) -> Result<Written, tokio_postgres::Error> {
    let mut w = Written::default();
    let users: Vec<_> = units
        .iter()
        .filter(|u| u.write_user)
        .map(|u| &u.user)
        .collect();
    w.users = write_rows(client, &stmts.users, fresh, &users).await?;
    let credentials: Vec<_> = units
        .iter()
        .filter_map(|u| {
            u.write_credential.as_deref().map(|h| CredentialRow {
                user_id: u.user.id,
                password_hash: h,
                created_at: &u.user.created_at,
            })
        })
        .collect();
    w.credentials = write_rows(client, &stmts.credentials, fresh, &credentials).await?;
    let deletes: Vec<Uuid> = units
        .iter()
        .filter(|u| u.delete_credential)
        .map(|u| u.user.id)
        .collect();
    if !deletes.is_empty() {
        w.removed = client
            .execute(&stmts.credential_delete, &[&deletes])
            .await?;
    }
    let identities: Vec<_> = units
        .iter()
        .filter(|u| u.write_identities)
        .flat_map(|u| &u.identities)
        .collect();
    w.identities = write_rows(client, &stmts.identities, fresh, &identities).await?;
    if let Some(stmt) = &stmts.profiles {
        let profiles: Vec<_> = units
            .iter()
            .filter(|u| u.write_profile)
            .filter_map(|u| {
                u.profile.as_deref().map(|values| ProfileRow {
                    user_id: u.user.id,
                    values,
                })
            })
            .collect();
        w.profiles = write_rows(client, stmt, fresh, &profiles).await?;
    }
    if let Some(run) = run {
        let marks: Vec<_> = units
            .iter()
            .map(|u| MarkRow {
                user_id: u.user.id,
                user_digest: hex(&u.digests.user),
                credential_digest: u.digests.credential.as_ref().map(|d| hex(d)),
                identities_digest: u.digests.identities.as_ref().map(|d| hex(d)),
                profile_digest: u.digests.profile.as_ref().map(|d| hex(d)),
                rejected: &u.rejected,
            })
            .collect();
        if !marks.is_empty() {
            let stmt = if fresh {
                &stmts.marks.insert
            } else {
                &stmts.marks.upsert
            };
            client.query(stmt, &[&Json(&marks), &run]).await?;
        }
    }
    Ok(w)
}

/// Evaluates our CHECK constraints over the batch's profiles before writing, and
/// leaves out every value that would break one (reported), so that a few bad values
/// do not send the whole batch down the slow user-by-user path.
async fn check_profiles(
    client: &impl GenericClient,
    stmts: &Statements,
    plan: &mut BatchPlan,
    mapping: &ProfileMapping,
) -> Result<(), tokio_postgres::Error> {
    let Some((stmt, checks)) = &stmts.profile_checks else {
        return Ok(());
    };
    let rows: Vec<_> = plan
        .units
        .iter()
        .filter(|u| u.write_profile)
        .filter_map(|u| {
            u.profile.as_deref().map(|values| ProfileRow {
                user_id: u.user.id,
                values,
            })
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let mut failing: HashMap<Uuid, Vec<usize>> = HashMap::new();
    for r in client.query(stmt, &[&Json(&rows)]).await? {
        let passed: Vec<bool> = r.get(1);
        let bad: Vec<usize> = (0..passed.len()).filter(|i| !passed[*i]).collect();
        if !bad.is_empty() {
            failing.insert(r.get(0), bad);
        }
    }
    for unit in plan.units.iter_mut() {
        let Some(bad) = failing.get(&unit.user.id) else {
            continue;
        };
        for i in bad {
            let (name, columns) = &checks[*i];
            let offending: Vec<String> = unit
                .profile
                .iter()
                .flatten()
                .filter(|(k, v)| columns.contains(k) && !v.is_null() && !unit.rejected.contains(k))
                .map(|(k, _)| k.clone())
                .collect();
            if offending.is_empty() {
                continue;
            }
            plan.counts.profiles.values_rejected += offending.len() as u64;
            plan.issues.push(Issue {
                user_id: Some(unit.user.id),
                email: Some(unit.user.email.clone()),
                category: "profile_value_rejected".into(),
                detail: format!("{}: violates {name}; left out", offending.join(", ")),
            });
            unit.rejected.extend(offending);
        }
        unit.profile = unit
            .profile
            .take()
            .map(|p| finish_profile(p, &unit.rejected, mapping));
    }
    Ok(())
}

/// The whole batch at once; if that fails, user by user.
async fn write_with_fallback(
    tx: &mut tokio_postgres::Transaction<'_>,
    stmts: &Statements,
    plan: &mut BatchPlan,
    run: Option<i64>,
    constraints: &HashMap<String, Vec<String>>,
    mapping: &ProfileMapping,
) -> anyhow::Result<Written> {
    let pending: Vec<usize> = (0..plan.units.len())
        .filter(|i| plan.units[*i].needs_write())
        .collect();
    if pending.is_empty() {
        return Ok(Written::default());
    }
    {
        let sp = tx.savepoint("batch").await?;
        let (fresh, known): (Vec<&Unit>, Vec<&Unit>) = pending
            .iter()
            .map(|i| &plan.units[*i])
            .partition(|u| u.fresh);
        let result = async {
            let mut w = write_units(&sp, stmts, &fresh, run, true).await?;
            w.add(&write_units(&sp, stmts, &known, run, false).await?);
            Ok::<_, tokio_postgres::Error>(w)
        }
        .await;
        match result {
            Ok(w) => {
                sp.commit().await?;
                return Ok(w);
            }
            Err(e) if e.as_db_error().is_some() => {
                tracing::info!(error = %e, "batch failed; retrying user by user");
                sp.rollback().await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    let mut total = Written::default();
    for i in pending {
        let mut unit = plan.units[i].clone();
        let mut dropped = Written::default();
        let mut done = false;
        for _ in 0..MAX_ATTEMPTS {
            let sp = tx.savepoint("unit").await?;
            match write_units(&sp, stmts, &[&unit], run, false).await {
                Ok(w) => {
                    sp.commit().await?;
                    total.add(&w);
                    done = true;
                    break;
                }
                Err(e) => {
                    sp.rollback().await?;
                    let Some(db) = e.as_db_error() else {
                        return Err(e.into());
                    };
                    match degrade(&mut unit, db, constraints, mapping, &mut dropped) {
                        Some((category, detail)) => plan.issues.push(Issue {
                            user_id: Some(unit.user.id),
                            email: Some(unit.user.email.clone()),
                            category: category.into(),
                            detail,
                        }),
                        None => {
                            plan.issues.push(Issue {
                                user_id: Some(unit.user.id),
                                email: Some(unit.user.email.clone()),
                                category: "user_failed".into(),
                                detail: format!("not imported: {}", db.message()),
                            });
                            break;
                        }
                    }
                }
            }
        }
        if done {
            total.add(&dropped);
            plan.units[i] = unit;
        } else {
            plan.units[i].failed = true;
        }
    }
    Ok(total)
}

/// Takes away the part of a unit that a database error points at. `None`: the user
/// row itself is at fault.
fn degrade(
    unit: &mut Unit,
    db: &tokio_postgres::error::DbError,
    constraints: &HashMap<String, Vec<String>>,
    mapping: &ProfileMapping,
    dropped: &mut Written,
) -> Option<(&'static str, String)> {
    match (db.schema(), db.table()) {
        (Some("learner"), Some("profiles")) if unit.write_profile => {
            let columns = db
                .constraint()
                .filter(|_| *db.code() == SqlState::CHECK_VIOLATION)
                .and_then(|c| constraints.get(c))
                .cloned()
                .unwrap_or_default();
            let offending: Vec<String> = unit
                .profile
                .iter()
                .flatten()
                .filter(|(k, v)| columns.contains(k) && !v.is_null() && !unit.rejected.contains(k))
                .map(|(k, _)| k.clone())
                .collect();
            if !offending.is_empty() {
                unit.rejected.extend(offending.iter().cloned());
                dropped.values_rejected += offending.len() as u64;
                unit.profile = unit
                    .profile
                    .take()
                    .map(|p| finish_profile(p, &unit.rejected, mapping));
                return Some((
                    "profile_value_rejected",
                    format!(
                        "{}: violates {}; left out",
                        offending.join(", "),
                        db.constraint().unwrap_or("a constraint")
                    ),
                ));
            }
            unit.profile = None;
            unit.write_profile = false;
            unit.digests.profile = None;
            dropped.profiles_failed += 1;
            Some((
                "profile_failed",
                format!("profile not imported: {}", db.message()),
            ))
        }
        (Some("identity"), Some("accounts")) => {
            let credential_constraint = matches!(
                db.constraint(),
                Some(
                    "accounts_credential_has_hash"
                        | "accounts_password_hash_cost_caps"
                        | "accounts_one_credential_per_user"
                )
            );
            if unit.write_identities && !credential_constraint {
                dropped.identities_failed += unit.identities.len() as u64;
                unit.identities.clear();
                unit.write_identities = false;
                unit.digests.identities = None;
                return Some((
                    "identities_failed",
                    format!("OAuth identities not imported: {}", db.message()),
                ));
            }
            if unit.write_credential.is_some() {
                unit.write_credential = None;
                unit.has_credential = false;
                unit.digests.credential = None;
                dropped.credentials_failed += 1;
                return Some((
                    "credential_failed",
                    format!("password not imported: {}", db.message()),
                ));
            }
            None
        }
        _ => None,
    }
}

/// Fills in the change counts of a written batch.
fn tally(plan: &mut BatchPlan, w: &Written) {
    let c = &mut plan.counts;
    let ok: Vec<&Unit> = plan.units.iter().filter(|u| !u.failed).collect();
    let failed = (plan.units.len() - ok.len()) as u64;
    c.users.imported = ok.len() as u64;
    c.users.changes.inserted = w.users.0;
    c.users.changes.updated = w.users.1;
    c.users.changes.unchanged = ok.iter().filter(|u| !u.write_user).count() as u64;
    c.users.changes.failed = failed;
    c.passwords.changes.inserted = w.credentials.0;
    c.passwords.changes.updated = w.credentials.1;
    c.passwords.changes.unchanged = ok
        .iter()
        .filter(|u| u.has_credential && u.write_credential.is_none())
        .count() as u64;
    c.passwords.changes.failed = w.credentials_failed;
    c.passwords.removed = w.removed;
    c.identities.imported = ok.iter().map(|u| u.identities.len() as u64).sum();
    c.identities.changes.inserted = w.identities.0;
    c.identities.changes.updated = w.identities.1;
    c.identities.changes.unchanged = ok
        .iter()
        .filter(|u| !u.write_identities)
        .map(|u| u.identities.len() as u64)
        .sum();
    c.identities.changes.failed = w.identities_failed;
    c.profiles.imported = ok.iter().filter(|u| u.profile.is_some()).count() as u64;
    c.profiles.changes.inserted = w.profiles.0;
    c.profiles.changes.updated = w.profiles.1;
    c.profiles.changes.unchanged = ok
        .iter()
        .filter(|u| u.profile.is_some() && !u.write_profile)
        .count() as u64;
    c.profiles.changes.failed = w.profiles_failed;
    c.profiles.values_rejected += w.values_rejected;
}

fn issue_row(i: &Issue) -> Value {
    let cut = |s: &str, n: usize| s.chars().take(n).collect::<String>();
    json!({
        "user_id": i.user_id,
        "email": i.email.as_deref().map(|e| cut(e, 512)),
        "category": cut(&i.category, 64),
        "detail": cut(&i.detail, 4096),
    })
}
