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
//!
//! By stage: [`connect`] (connecting, reading the profile table's shape),
//! [`statements`] (the SQL of a run), [`runs`] (run bookkeeping: lock, resume,
//! checkpoint), [`write`] (the multi-row batch write) and [`fallback`] (user by
//! user when the batch write fails).

mod connect;
mod fallback;
mod runs;
mod statements;
mod write;

use std::collections::HashMap;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, GenericClient};
use uuid::Uuid;

use crate::batch::{plan_batch, BatchPlan, Existing, ProfileMapping, SourceBatch, TargetView};
use crate::plan::SourceUser;
use crate::report::Counts;

pub use runs::RunState;
pub use statements::{Statements, Write};

/// Our database.
pub struct Target {
    pub client: Client,
    pub dry_run: bool,
    /// `learner.profiles` columns (empty if the table does not exist).
    pub profile_columns: Vec<crate::batch::ProfileColumn>,
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

impl Target {
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
        let constraints = &self.constraints;
        let dry_run = self.dry_run;
        let mut tx = self.client.transaction().await?;
        // A batch lost in a crash is redone by the resumed run (its checkpoint is
        // lost with it), so there is no need to wait for each commit's flush.
        tx.batch_execute("SET LOCAL TIME ZONE 'UTC'; SET LOCAL synchronous_commit = off")
            .await?;
        let (existing, owners) = read_view(&tx, stmts, source.users).await?;
        let mut plan = plan_batch(
            source,
            mapping,
            duplicates,
            TargetView {
                existing: &existing,
                email_owners: &owners,
            },
        );
        write::check_profiles(&tx, stmts, &mut plan, mapping).await?;
        let run_id = run.as_ref().map(|r| r.id);
        let written =
            fallback::write_with_fallback(&mut tx, stmts, &mut plan, run_id, constraints, mapping)
                .await?;
        write::tally(&mut plan, &written);
        totals.add(&plan.counts);
        match run {
            Some(run) if !dry_run => {
                runs::record_batch(&tx, stmts, run, &plan, last_id, totals).await?;
                tx.commit().await?;
            }
            _ => tx.rollback().await?,
        }
        Ok(plan)
    }
}

/// What the target knows about a batch's users: their bookkeeping rows, and who
/// owns each of their e-mails here. (The import and the verification pass both
/// plan a batch against this.)
pub async fn read_view(
    client: &impl GenericClient,
    stmts: &Statements,
    users: &[SourceUser],
) -> Result<(HashMap<Uuid, Existing>, HashMap<String, Uuid>), tokio_postgres::Error> {
    let ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
    let emails: Vec<String> = users
        .iter()
        .filter_map(|u| u.email.as_deref())
        .map(crate::plan::normalise_email)
        .collect();
    // Named: `try_join!` outlives a temporary parameter array.
    let email_params: [&(dyn ToSql + Sync); 1] = [&emails];
    let (existing, owners) = tokio::try_join!(
        read_existing(client, stmts, &ids),
        client.query(&stmts.email_owners, &email_params)
    )?;
    let owners = owners.iter().map(|r| (r.get(0), r.get(1))).collect();
    Ok((existing, owners))
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
