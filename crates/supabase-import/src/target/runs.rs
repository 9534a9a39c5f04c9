//! Run bookkeeping: one import at a time per target, resuming an interrupted run,
//! the checkpoint after each batch, the final report.

use serde_json::{json, Value};
use tokio_postgres::{GenericClient, Row};
use uuid::Uuid;

use super::{Statements, Target};
use crate::batch::BatchPlan;
use crate::report::{Counts, Issue, Report};

/// Session advisory lock held by a (non-dry) run: one import at a time per target.
const IMPORT_LOCK_KEY: i64 = 0x7375_7061_0000_0001;

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

impl Target {
    /// Starts a run, or resumes the unfinished one if it used the same options.
    pub async fn begin_run(
        &mut self,
        source: &str,
        options: &Value,
        options_digest: &str,
        restart: bool,
    ) -> anyhow::Result<RunState> {
        self.take_import_lock().await?;
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
                return self.resume(&r).await;
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
        self.new_run(source, options, options_digest).await
    }

    async fn take_import_lock(&self) -> anyhow::Result<()> {
        let locked: bool = self
            .client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&IMPORT_LOCK_KEY])
            .await?
            .get(0);
        anyhow::ensure!(
            locked,
            "another supabase-import is running against this target; wait for it to finish"
        );
        Ok(())
    }

    /// The interrupted run `r` (an `import_runs` row), with its issues so far.
    async fn resume(&self, r: &Row) -> anyhow::Result<RunState> {
        let id: i64 = r.get(0);
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
        Ok(RunState {
            id,
            resumed_after_batches: batches,
            checkpoint: r.get(2),
            batches,
            counts,
            issues,
        })
    }

    async fn new_run(
        &self,
        source: &str,
        options: &Value,
        options_digest: &str,
    ) -> anyhow::Result<RunState> {
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
}

/// Records a written batch in its transaction: its issues, and the checkpoint with
/// the run's counts so far.
pub(super) async fn record_batch(
    tx: &impl GenericClient,
    stmts: &Statements,
    run: &mut RunState,
    plan: &BatchPlan,
    last_id: Option<Uuid>,
    totals: &Counts,
) -> anyhow::Result<()> {
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
    Ok(())
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
