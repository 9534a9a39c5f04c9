//! The slow path: when the batch write breaks a constraint, the batch is redone
//! user by user in savepoints, and a failing user first loses the part the error
//! points at (a profile value, the profile, the identities, the credential).

use std::collections::HashMap;

use tokio_postgres::error::{DbError, SqlState};
use tokio_postgres::Transaction;

use super::write::{offending_values, write_units, Written};
use super::Statements;
use crate::batch::{finish_profile, BatchPlan, ProfileMapping, Unit};
use crate::report::Issue;

/// Attempts at one user before giving up on it.
const MAX_ATTEMPTS: usize = 8;

/// The whole batch at once; if that fails, user by user.
pub(super) async fn write_with_fallback(
    tx: &mut Transaction<'_>,
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
    if let Some(w) = write_whole_batch(tx, stmts, plan, &pending, run).await? {
        return Ok(w);
    }
    let retry = Retry {
        stmts,
        run,
        constraints,
        mapping,
    };
    let mut total = Written::default();
    for i in pending {
        let mut unit = plan.units[i].clone();
        match retry.write(tx, &mut unit, &mut plan.issues).await? {
            Some(w) => {
                total.add(&w);
                plan.units[i] = unit;
            }
            None => plan.units[i].failed = true,
        }
    }
    Ok(total)
}

/// The pending units in one savepoint; `None` if a constraint refused a row (the
/// savepoint is rolled back).
async fn write_whole_batch(
    tx: &mut Transaction<'_>,
    stmts: &Statements,
    plan: &BatchPlan,
    pending: &[usize],
    run: Option<i64>,
) -> anyhow::Result<Option<Written>> {
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
            Ok(Some(w))
        }
        Err(e) if e.as_db_error().is_some() => {
            tracing::info!(error = %e, "batch failed; retrying user by user");
            sp.rollback().await?;
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// What writing one user on its own needs.
struct Retry<'a> {
    stmts: &'a Statements,
    run: Option<i64>,
    constraints: &'a HashMap<String, Vec<String>>,
    mapping: &'a ProfileMapping,
}

impl Retry<'_> {
    /// Writes `unit`, dropping a part after each refusal (reported in `issues`).
    /// `None`: the user could not be written at all.
    async fn write(
        &self,
        tx: &mut Transaction<'_>,
        unit: &mut Unit,
        issues: &mut Vec<Issue>,
    ) -> anyhow::Result<Option<Written>> {
        let mut dropped = Written::default();
        for _ in 0..MAX_ATTEMPTS {
            let sp = tx.savepoint("unit").await?;
            match write_units(&sp, self.stmts, &[&*unit], self.run, false).await {
                Ok(mut w) => {
                    sp.commit().await?;
                    w.add(&dropped);
                    return Ok(Some(w));
                }
                Err(e) => {
                    sp.rollback().await?;
                    let Some(db) = e.as_db_error() else {
                        return Err(e.into());
                    };
                    let (user_id, email) = (unit.user.id, unit.user.email.clone());
                    let issue = |category: &str, detail| Issue {
                        user_id: Some(user_id),
                        email: Some(email),
                        category: category.into(),
                        detail,
                    };
                    match degrade(unit, db, self.constraints, self.mapping, &mut dropped) {
                        Some((category, detail)) => issues.push(issue(category, detail)),
                        None => {
                            let detail = format!("not imported: {}", db.message());
                            issues.push(issue("user_failed", detail));
                            return Ok(None);
                        }
                    }
                }
            }
        }
        Ok(None)
    }
}

/// Takes away the part of a unit that a database error points at. `None`: the user
/// row itself is at fault.
fn degrade(
    unit: &mut Unit,
    db: &DbError,
    constraints: &HashMap<String, Vec<String>>,
    mapping: &ProfileMapping,
    dropped: &mut Written,
) -> Option<(&'static str, String)> {
    match (db.schema(), db.table()) {
        (Some("learner"), Some("profiles")) if unit.write_profile => {
            Some(degrade_profile(unit, db, constraints, mapping, dropped))
        }
        (Some("identity"), Some("accounts")) => degrade_accounts(unit, db, dropped),
        _ => None,
    }
}

/// Leaves out the profile values a CHECK refused, or else the whole profile.
fn degrade_profile(
    unit: &mut Unit,
    db: &DbError,
    constraints: &HashMap<String, Vec<String>>,
    mapping: &ProfileMapping,
    dropped: &mut Written,
) -> (&'static str, String) {
    let columns = db
        .constraint()
        .filter(|_| *db.code() == SqlState::CHECK_VIOLATION)
        .and_then(|c| constraints.get(c))
        .cloned()
        .unwrap_or_default();
    let offending = offending_values(unit, &columns);
    if !offending.is_empty() {
        unit.rejected.extend(offending.iter().cloned());
        dropped.values_rejected += offending.len() as u64;
        unit.profile = unit
            .profile
            .take()
            .map(|p| finish_profile(p, &unit.rejected, mapping));
        return (
            "profile_value_rejected",
            format!(
                "{}: violates {}; left out",
                offending.join(", "),
                db.constraint().unwrap_or("a constraint")
            ),
        );
    }
    unit.profile = None;
    unit.write_profile = false;
    unit.digests.profile = None;
    dropped.profiles_failed += 1;
    (
        "profile_failed",
        format!("profile not imported: {}", db.message()),
    )
}

/// Drops the OAuth identities (unless the credential's own constraints failed),
/// else the credential; `None` if neither is left to drop.
fn degrade_accounts(
    unit: &mut Unit,
    db: &DbError,
    dropped: &mut Written,
) -> Option<(&'static str, String)> {
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
