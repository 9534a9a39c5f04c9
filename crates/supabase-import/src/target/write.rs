//! The fast path: a batch written with one multi-row statement per table, after
//! its profiles were checked against our CHECK constraints.

use std::collections::HashMap;

use serde::ser::SerializeMap;
use serde::Serialize;
use serde_json::Value;
use tokio_postgres::types::Json;
use tokio_postgres::{GenericClient, Statement};
use uuid::Uuid;

use super::{Statements, Write};
use crate::batch::{finish_profile, BatchPlan, ProfileMapping, Unit};
use crate::plan::hex;
use crate::report::Issue;

/// Rows written, per table.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Written {
    users: (u64, u64),
    credentials: (u64, u64),
    removed: u64,
    identities: (u64, u64),
    profiles: (u64, u64),
    /// Parts dropped by the fallback.
    pub(super) credentials_failed: u64,
    pub(super) identities_failed: u64,
    pub(super) profiles_failed: u64,
    /// Profile values a constraint refused.
    pub(super) values_rejected: u64,
}

impl Written {
    pub(super) fn add(&mut self, o: &Written) {
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
    /// Supabase never confirmed the address: the password waits for a verified one.
    awaits_confirmed_email: bool,
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

/// The profile rows of the units that write one.
fn profile_rows<'a>(units: impl IntoIterator<Item = &'a Unit>) -> Vec<ProfileRow<'a>> {
    units
        .into_iter()
        .filter(|u| u.write_profile)
        .filter_map(|u| {
            u.profile.as_deref().map(|values| ProfileRow {
                user_id: u.user.id,
                values,
            })
        })
        .collect()
}

/// Writes the units' rows with one statement per table; `fresh`: none of them was
/// ever imported, so plain INSERTs do.
pub(super) async fn write_units(
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
                awaits_confirmed_email: !u.user.email_verified,
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
        let profiles = profile_rows(units.iter().copied());
        w.profiles = write_rows(client, stmt, fresh, &profiles).await?;
    }
    if let Some(run) = run {
        write_marks(client, &stmts.marks, units, run, fresh).await?;
    }
    Ok(w)
}

/// The units' bookkeeping rows (`identity.imported_users`).
async fn write_marks(
    client: &impl GenericClient,
    marks: &Write,
    units: &[&Unit],
    run: i64,
    fresh: bool,
) -> Result<(), tokio_postgres::Error> {
    let rows: Vec<_> = units
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
    if !rows.is_empty() {
        let stmt = if fresh { &marks.insert } else { &marks.upsert };
        client.query(stmt, &[&Json(&rows), &run]).await?;
    }
    Ok(())
}

/// Evaluates our CHECK constraints over the batch's profiles before writing, and
/// leaves out every value that would break one (reported), so that a few bad values
/// do not send the whole batch down the slow user-by-user path.
pub(super) async fn check_profiles(
    client: &impl GenericClient,
    stmts: &Statements,
    plan: &mut BatchPlan,
    mapping: &ProfileMapping,
) -> Result<(), tokio_postgres::Error> {
    let Some((stmt, checks)) = &stmts.profile_checks else {
        return Ok(());
    };
    let failing = failing_checks(client, stmt, &plan.units).await?;
    for unit in plan.units.iter_mut() {
        let Some(bad) = failing.get(&unit.user.id) else {
            continue;
        };
        for i in bad {
            let (name, columns) = &checks[*i];
            let offending = offending_values(unit, columns);
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

/// User → indexes (into the statement's checks) of the checks their profile fails.
async fn failing_checks(
    client: &impl GenericClient,
    stmt: &Statement,
    units: &[Unit],
) -> Result<HashMap<Uuid, Vec<usize>>, tokio_postgres::Error> {
    let rows = profile_rows(units);
    let mut failing = HashMap::new();
    if rows.is_empty() {
        return Ok(failing);
    }
    for r in client.query(stmt, &[&Json(&rows)]).await? {
        let passed: Vec<bool> = r.get(1);
        let bad: Vec<usize> = (0..passed.len()).filter(|i| !passed[*i]).collect();
        if !bad.is_empty() {
            failing.insert(r.get(0), bad);
        }
    }
    Ok(failing)
}

/// The unit's non-null profile values in `columns` not already left out.
pub(super) fn offending_values(unit: &Unit, columns: &[String]) -> Vec<String> {
    unit.profile
        .iter()
        .flatten()
        .filter(|(k, v)| columns.contains(k) && !v.is_null() && !unit.rejected.contains(k))
        .map(|(k, _)| k.clone())
        .collect()
}

/// Fills in the change counts of a written batch.
pub(super) fn tally(plan: &mut BatchPlan, w: &Written) {
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
