//! The verification pass: reads the source again (a fresh snapshot), applies the
//! same rules, and compares every copied column with what the target holds, as
//! per-column checksums plus exact mismatch counts.

use std::collections::{HashMap, HashSet};

use identity_core::password::{self, Scheme};
use identity_core::schema::CREDENTIAL_PROVIDER;
use indicatif::ProgressBar;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio_postgres::types::ToSql;
use tokio_postgres::{IsolationLevel, Row, Transaction};
use uuid::Uuid;

use crate::batch::{
    plan_batch, BatchPlan, Existing, ProfileMapping, SourceBatch, TargetView, Unit,
};
use crate::plan::HashWriter;
use crate::report::{ColumnCheck, Verification};
use crate::source::Source;
use crate::target::{read_view, Statements, Target};

const SAMPLE: usize = 10;

/// One column's running comparison.
struct Acc {
    check: ColumnCheck,
    source: u64,
    target: u64,
}

#[derive(Default)]
struct Checks {
    accs: Vec<Acc>,
}

/// 64 bits of SHA-256 over (id, column, the value's JSON), streamed. A typed value
/// and the `serde_json::Value` Postgres returns for it serialise alike.
fn row_hash<T: Serialize + ?Sized>(id: &Uuid, column: &str, v: &T) -> u64 {
    let mut w = HashWriter(Sha256::new());
    w.0.update(id.as_bytes());
    w.0.update(column.as_bytes());
    w.0.update([0]);
    let _ = serde_json::to_writer(&mut w, v);
    let d = w.0.finalize();
    u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

impl Checks {
    /// Adds one row of a column: expected (from the source) against actual.
    fn compare<T: Serialize + ?Sized>(
        &mut self,
        table: &str,
        column: &str,
        id: Uuid,
        expected: &T,
        actual: &Value,
    ) {
        let pos = match self
            .accs
            .iter()
            .position(|a| a.check.column == column && a.check.table == table)
        {
            Some(p) => p,
            None => {
                self.accs.push(Acc {
                    check: ColumnCheck {
                        table: table.into(),
                        column: column.into(),
                        rows: 0,
                        source_checksum: String::new(),
                        target_checksum: String::new(),
                        mismatches: 0,
                        sample: Vec::new(),
                    },
                    source: 0,
                    target: 0,
                });
                self.accs.len() - 1
            }
        };
        let acc = &mut self.accs[pos];
        let (e, a) = (
            row_hash(&id, column, expected),
            row_hash(&id, column, actual),
        );
        acc.check.rows += 1;
        acc.source = acc.source.wrapping_add(e);
        acc.target = acc.target.wrapping_add(a);
        if e != a {
            acc.check.mismatches += 1;
            if acc.check.sample.len() < SAMPLE {
                acc.check.sample.push(id);
            }
        }
    }

    fn finish(self) -> Vec<ColumnCheck> {
        self.accs
            .into_iter()
            .map(|a| ColumnCheck {
                source_checksum: format!("{:016x}", a.source),
                target_checksum: format!("{:016x}", a.target),
                ..a.check
            })
            .collect()
    }
}

/// Stands for a row the target does not have.
fn missing() -> Value {
    json!({"$missing": true})
}

fn field<'a>(row: Option<&'a Value>, col: &str, missing: &'a Value) -> &'a Value {
    match row {
        Some(r) => r.get(col).unwrap_or(&Value::Null),
        None => missing,
    }
}

/// Compares source and target. Call after a completed (non-dry) run.
pub async fn verify(
    source: &Source,
    target: &mut Target,
    stmts: &Statements,
    mapping: &ProfileMapping,
    duplicates: &HashMap<Uuid, Uuid>,
    batch_size: u32,
    bar: &ProgressBar,
) -> anyhow::Result<Verification> {
    let has_profiles = !target.profile_columns.is_empty();
    source.begin_snapshot().await?;
    let tx = target
        .client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    tx.batch_execute("SET LOCAL TIME ZONE 'UTC'").await?;

    let mut v = Verification::default();
    let mut checks = Checks::default();
    let mut seen: HashSet<Uuid> = HashSet::new();
    let mut next = source.batch(None, batch_size).await?;
    loop {
        let current = std::mem::take(&mut next);
        let Some(last) = current.users.last() else {
            break;
        };
        let after = Some(last.id);
        let users = current.users;
        seen.extend(users.iter().map(|u| u.id));
        // The source reads the next batch while the target answers for this one.
        let (fetched, view) = tokio::join!(
            source.batch(after, batch_size),
            read_view(&tx, stmts, &users)
        );
        next = fetched?;
        let (existing, owners) = view?;
        let plan = plan_batch(
            SourceBatch {
                users: &users,
                identities: current.identities,
                profiles: current.profiles,
            },
            mapping,
            duplicates,
            TargetView {
                existing: &existing,
                email_owners: &owners,
            },
        );
        count_orphans(&mut v, &plan, &existing);
        let actual = Actual::read(&tx, &plan, has_profiles).await?;
        for unit in &plan.units {
            check_unit(&mut v, &mut checks, unit, &actual)?;
        }
        bar.inc(users.len() as u64);
    }
    count_vanished(&mut v, &tx, &seen).await?;
    tx.commit().await?;
    v.orphans.profiles_without_source_user = source.count_profiles().await?.1;
    source.end_snapshot().await?;

    v.columns = checks.finish();
    v.ok = v.users_missing.is_empty()
        && v.users_found == v.users_expected
        && v.columns.iter().all(|c| c.mismatches == 0);
    Ok(v)
}

/// Rows left behind by users the rules skip.
fn count_orphans(v: &mut Verification, plan: &BatchPlan, existing: &HashMap<Uuid, Existing>) {
    v.orphans.profiles_of_skipped_users += plan.counts.profiles.owner_not_imported;
    v.orphans.identities_of_skipped_users += plan.counts.identities.owner_not_imported;
    v.orphans.imported_users_now_skipped += plan
        .skipped
        .iter()
        .filter(|(id, _)| existing.contains_key(id))
        .count() as u64;
}

/// Users imported from Supabase once that the source no longer has.
async fn count_vanished(
    v: &mut Verification,
    tx: &Transaction<'_>,
    seen: &HashSet<Uuid>,
) -> anyhow::Result<()> {
    let previously_imported: Vec<Uuid> = tx
        .query(
            "SELECT user_id FROM identity.imported_users WHERE source_kind = 'supabase'",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    v.orphans.imported_users_missing_from_source = previously_imported
        .iter()
        .filter(|id| !seen.contains(id))
        .count() as u64;
    Ok(())
}

/// What the target holds for a batch's units, as JSON rows by id.
struct Actual {
    users: HashMap<Uuid, Value>,
    hashes: HashMap<Uuid, Option<String>>,
    /// Identity accounts, by account id.
    accounts: HashMap<Uuid, Value>,
    profiles: HashMap<Uuid, Value>,
}

impl Actual {
    async fn read(
        tx: &Transaction<'_>,
        plan: &BatchPlan,
        has_profiles: bool,
    ) -> anyhow::Result<Self> {
        let unit_ids: Vec<Uuid> = plan.units.iter().map(|u| u.user.id).collect();
        let identity_ids: Vec<Uuid> = plan
            .units
            .iter()
            .flat_map(|u| u.identities.iter().map(|i| i.id))
            .collect();
        let profiles_sql = if has_profiles {
            "SELECT user_id, to_jsonb(p) FROM learner.profiles p WHERE user_id = ANY($1)"
        } else {
            "SELECT NULL::uuid, NULL::jsonb WHERE $1::uuid[] IS NULL"
        };
        let hashes_sql = format!(
            "SELECT user_id, password_hash FROM identity.accounts
             WHERE provider_id = '{CREDENTIAL_PROVIDER}' AND user_id = ANY($1)"
        );
        let by_user: [&(dyn ToSql + Sync); 1] = [&unit_ids];
        let by_identity: [&(dyn ToSql + Sync); 1] = [&identity_ids];
        let (users_rows, hash_rows, account_rows, profile_rows) = tokio::try_join!(
            tx.query(
                "SELECT id, to_jsonb(u) FROM identity.users u WHERE id = ANY($1)",
                &by_user,
            ),
            tx.query(&hashes_sql, &by_user),
            tx.query(
                "SELECT id, to_jsonb(a) FROM identity.accounts a WHERE id = ANY($1)",
                &by_identity,
            ),
            tx.query(profiles_sql, &by_user),
        )?;
        let pairs = |rows: Vec<Row>| -> HashMap<Uuid, Value> {
            rows.iter().map(|r| (r.get(0), r.get(1))).collect()
        };
        Ok(Self {
            users: pairs(users_rows),
            hashes: hash_rows.iter().map(|r| (r.get(0), r.get(1))).collect(),
            accounts: pairs(account_rows),
            profiles: pairs(profile_rows),
        })
    }
}

/// Compares everything of one unit: user row, password, identities, profile.
fn check_unit(
    v: &mut Verification,
    checks: &mut Checks,
    unit: &Unit,
    actual: &Actual,
) -> anyhow::Result<()> {
    let id = unit.user.id;
    v.users_expected += 1;
    let row = actual.users.get(&id);
    match row {
        Some(_) => v.users_found += 1,
        None if v.users_missing.len() < SAMPLE => v.users_missing.push(id),
        None => {}
    }
    check_user(checks, unit, row);
    check_password(v, checks, unit, actual.hashes.get(&id));
    for i in &unit.identities {
        let expected = serde_json::to_value(i)?;
        let actual = actual.accounts.get(&i.id);
        for col in ["user_id", "provider_id", "account_id"] {
            let a = actual.map_or_else(missing, |a| a.get(col).cloned().unwrap_or(Value::Null));
            checks.compare(
                "identity.accounts (identities)",
                col,
                i.id,
                &expected[col],
                &a,
            );
        }
    }
    if let Some(profile) = &unit.profile {
        let actual = actual.profiles.get(&id);
        for (col, value) in profile {
            if col == "created_at" || col == "updated_at" {
                continue;
            }
            let a = actual.map_or_else(missing, |a| a.get(col).cloned().unwrap_or(Value::Null));
            checks.compare("learner.profiles", col, id, value, &a);
        }
    }
    Ok(())
}

/// The copied columns of `identity.users`.
fn check_user(checks: &mut Checks, unit: &Unit, actual: Option<&Value>) {
    let gone = missing();
    let (u, id) = (&unit.user, unit.user.id);
    let t = "identity.users";
    checks.compare(t, "id", id, &u.id, field(actual, "id", &gone));
    checks.compare(t, "name", id, &u.name, field(actual, "name", &gone));
    checks.compare(t, "email", id, &u.email, field(actual, "email", &gone));
    let verified = field(actual, "email_verified", &gone);
    checks.compare(t, "email_verified", id, &u.email_verified, verified);
    checks.compare(t, "image", id, &u.image, field(actual, "image", &gone));
    checks.compare(t, "role", id, &u.role, field(actual, "role", &gone));
    let created = field(actual, "created_at", &gone);
    checks.compare(t, "created_at", id, &u.created_at, created);
    let banned = field(actual, "banned_until", &gone);
    checks.compare(t, "banned_until", id, &u.banned_until, banned);
    let app = field(actual, "app_metadata", &gone);
    checks.compare(t, "app_metadata", id, &u.app_metadata, app);
    let user_meta = field(actual, "user_metadata", &gone);
    checks.compare(t, "user_metadata", id, &u.user_metadata, user_meta);
}

/// The password hash, unless the user signed in since and it was upgraded to ours.
fn check_password(
    v: &mut Verification,
    checks: &mut Checks,
    unit: &Unit,
    stored: Option<&Option<String>>,
) {
    let expected_hash = unit
        .expected_hash
        .clone()
        .map(Value::from)
        .unwrap_or(Value::Null);
    let actual_hash = match stored {
        Some(h) => h.clone().map(Value::from).unwrap_or(Value::Null),
        None => Value::Null,
    };
    let rehashed = expected_hash.is_string()
        && expected_hash != actual_hash
        && actual_hash
            .as_str()
            .is_some_and(|h| password::scheme(h) == Scheme::Current);
    if rehashed {
        v.rehashed_after_import += 1;
    } else {
        checks.compare(
            "identity.accounts",
            "password_hash",
            unit.user.id,
            &expected_hash,
            &actual_hash,
        );
    }
}
