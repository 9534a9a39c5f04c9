//! `supabase-import`: moves users off Supabase Auth without anyone resetting a
//! password. Reads `auth.users`, `auth.identities` and a profile table from a
//! Supabase database (or a restored dump), and writes `identity.users`,
//! `identity.accounts` and `learner.profiles`, keeping every user's UUID and
//! password hash. The rules for odd rows are in [`plan`] and
//! docs/migrating-from-supabase.md.
//!
//! A run goes through `auth.users` by id in batches, one transaction each, and
//! records a checkpoint with every batch, so an interrupted run resumes where it
//! stopped. Each imported user carries digests of what was written for them
//! (`identity.imported_users`), so a re-run writes only what changed in the source.
//! A verification pass then reads the source again and checksums every copied
//! column on both sides.

pub mod batch;
pub mod cli;
pub mod plan;
pub mod report;
pub mod source;
pub mod synth;
pub mod target;
pub mod tls;
mod verify;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use uuid::Uuid;

use crate::batch::{ProfileMapping, SourceBatch};
pub use crate::cli::Options;
use crate::plan::{digest, hex};
pub use crate::report::Report;
use crate::report::{Counts, Issue, SourceTotals};
use crate::source::Source;
use crate::target::{RunState, Statements, Target};

/// `host:port/database` of a URL, without credentials.
pub fn describe_url(url: &str) -> String {
    let Ok(t) = database::parse_url(url) else {
        return "(unparsable URL)".into();
    };
    let host = t
        .config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_default();
    let port = t.config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}/{}", t.config.get_dbname().unwrap_or(""))
}

fn progress_bar(total: u64, done: u64, hidden: bool, what: &str) -> ProgressBar {
    let bar = if hidden {
        ProgressBar::hidden()
    } else {
        // Draws only when stderr is a terminal.
        ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
    };
    let style = ProgressStyle::with_template(
        "{msg:10} [{elapsed_precise}] {wide_bar} {pos}/{len} users  {per_sec}  ETA {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(what.to_owned());
    bar.set_position(done);
    bar.reset_eta();
    if !hidden {
        bar.enable_steady_tick(Duration::from_millis(250));
    }
    bar
}

/// Runs an import (or a dry run) and returns its report; also writes the JSON
/// report when `--report` is given. Steps: connect both sides, start or resume the
/// run, import batch by batch, report, verify, record.
pub async fn run(opts: &Options) -> anyhow::Result<Report> {
    let clock = Instant::now();
    let started_at = chrono::Utc::now();
    let mut sides = Sides::connect(opts).await?;
    let source_name = describe_url(&opts.source);
    let mut run = sides.start_run(opts, &source_name).await?;
    let pass = sides.import(opts, run.as_mut()).await?;
    let import_seconds = clock.elapsed().as_secs_f64();

    let completed = pass.completed;
    let mut report = Report {
        run_id: run.as_ref().map(|r| r.id),
        dry_run: opts.dry_run,
        completed,
        resumed_after_batches: pass.resumed_after_batches,
        source: source_name,
        target: describe_url(&opts.target),
        started_at,
        finished_at: chrono::Utc::now(),
        seconds: import_seconds,
        import_seconds,
        users_read: pass.users_read,
        users_per_second: pass.users_read as f64 / import_seconds.max(1e-9),
        batches: run.as_ref().map_or(pass.batches_now, |r| r.batches),
        profile_mapping: sides.mapping.describe(),
        source_totals: pass.source_totals,
        counts: pass.totals,
        issues_by_category: Default::default(),
        issues: pass.issues,
        verification: None,
        notes: std::mem::take(&mut sides.notes),
    };
    report.tally_issues();

    if completed && !opts.dry_run && !opts.no_verify {
        report.verification = Some(
            sides
                .verify(opts, &pass.duplicates, pass.source_totals.users)
                .await?,
        );
    }
    report.finished_at = chrono::Utc::now();
    report.seconds = clock.elapsed().as_secs_f64();
    if let (Some(run), true) = (&run, completed) {
        sides.target.complete_run(run.id, &report).await?;
    }
    if let Some(path) = &opts.report {
        report.write_json(path)?;
    }
    Ok(report)
}

/// Both databases, connected, with the profile mapping and the run's statements.
struct Sides {
    source: Source,
    target: Target,
    mapping: ProfileMapping,
    stmts: Statements,
    /// For the report.
    notes: Vec<String>,
}

/// What the import pass saw and did.
struct ImportPass {
    totals: Counts,
    issues: Vec<Issue>,
    users_read: u64,
    batches_now: u32,
    /// Not stopped early (`--stop-after-batches`).
    completed: bool,
    resumed_after_batches: u32,
    source_totals: SourceTotals,
    /// Loser → winner among users sharing an e-mail.
    duplicates: HashMap<Uuid, Uuid>,
}

impl Sides {
    async fn connect(opts: &Options) -> anyhow::Result<Self> {
        let overrides = opts.mapping_overrides()?;
        let source_url = tls::prepare(&opts.source, "source")?;
        let target_url = tls::prepare(&opts.target, "target")?;
        let mut source =
            Source::connect(&source_url, &opts.profiles_table, &opts.profiles_key).await?;
        let target = Target::connect(&target_url, opts.dry_run).await?;
        let mut notes = source.notes.clone();

        let mapping = match &source.profiles {
            Some(p) if !target.profile_columns.is_empty() => {
                ProfileMapping::resolve(&p.columns, &target.profile_columns, &overrides)?
            }
            _ => {
                anyhow::ensure!(
                    overrides.is_empty(),
                    "--map was given, but there is no profile table on one of the sides"
                );
                ProfileMapping::default()
            }
        };
        if source.profiles.is_some() && mapping.pairs.is_empty() {
            notes.push(
                "no source profile column maps to learner.profiles: profiles not imported".into(),
            );
        }
        let stmts = target.statements(&mapping).await?;
        if !mapping.pairs.is_empty() {
            source.prepare_profiles(&mapping.source_columns()).await?;
        }
        Ok(Self {
            source,
            target,
            mapping,
            stmts,
            notes,
        })
    }

    /// Starts the run, or resumes the interrupted one with the same options; `None`
    /// in a dry run (nothing recorded).
    async fn start_run(
        &mut self,
        opts: &Options,
        source_name: &str,
    ) -> anyhow::Result<Option<RunState>> {
        if opts.dry_run {
            return Ok(None);
        }
        let options = json!({
            "source": source_name,
            "profiles_table": opts.profiles_table,
            "profiles_key": opts.profiles_key,
            "profile_mapping": self.mapping.describe(),
        });
        let options_digest = hex(&digest(&options));
        let run = self
            .target
            .begin_run(source_name, &options, &options_digest, opts.restart)
            .await?;
        Ok(Some(run))
    }

    /// Imports batch after batch in one source snapshot, from the run's checkpoint.
    async fn import(
        &mut self,
        opts: &Options,
        mut run: Option<&mut RunState>,
    ) -> anyhow::Result<ImportPass> {
        let source = &self.source;
        let mut totals = run.as_ref().map(|r| r.counts).unwrap_or_default();
        let mut issues = run.as_ref().map(|r| r.issues.clone()).unwrap_or_default();
        let mut after: Option<Uuid> = run.as_ref().and_then(|r| r.checkpoint);
        let resumed_after_batches = run.as_ref().map_or(0, |r| r.resumed_after_batches);

        source.begin_snapshot().await?;
        let (total_users, done_users) = source.count_users(after).await?;
        let duplicates = plan::resolve_duplicates(&source.duplicate_email_users().await?);
        let bar = progress_bar(total_users, done_users, opts.no_progress, "importing");
        let mut users_read = 0u64;
        let mut batches_now = 0u32;
        let mut completed = true;
        // While the target writes a batch, the source already reads the next one.
        let mut next = source.batch(after, opts.batch_size).await?;
        loop {
            let current = std::mem::take(&mut next);
            let Some(last) = current.users.last() else {
                break;
            };
            after = Some(last.id);
            let first = current.users[0].id;
            let count = current.users.len() as u64;
            let (plan, fetched) = tokio::join!(
                self.target.import_batch(
                    &self.stmts,
                    run.as_deref_mut(),
                    SourceBatch {
                        users: &current.users,
                        identities: current.identities,
                        profiles: current.profiles,
                    },
                    &self.mapping,
                    &duplicates,
                    &mut totals,
                ),
                source.batch(after, opts.batch_size)
            );
            let plan =
                plan.with_context(|| format!("the batch starting at user {first} failed"))?;
            next = fetched?;
            issues.extend(plan.issues);
            users_read += count;
            batches_now += 1;
            bar.inc(count);
            if opts.stop_after_batches.is_some_and(|n| batches_now >= n) {
                completed = false;
                break;
            }
        }
        let identities_total = source.count_identities().await?;
        let (profiles_total, profiles_without_user) = source.count_profiles().await?;
        source.end_snapshot().await?;
        bar.finish_and_clear();
        Ok(ImportPass {
            totals,
            issues,
            users_read,
            batches_now,
            completed,
            resumed_after_batches,
            source_totals: SourceTotals {
                users: total_users,
                identities: identities_total,
                profiles: profiles_total,
                profiles_without_user,
            },
            duplicates,
        })
    }

    /// The verification pass over a fresh snapshot of the source.
    async fn verify(
        &mut self,
        opts: &Options,
        duplicates: &HashMap<Uuid, Uuid>,
        total_users: u64,
    ) -> anyhow::Result<report::Verification> {
        let bar = progress_bar(total_users, 0, opts.no_progress, "verifying");
        let v = verify::verify(
            &self.source,
            &mut self.target,
            &self.stmts,
            &self.mapping,
            duplicates,
            opts.batch_size.max(1000),
            &bar,
        )
        .await
        .context("verification failed to run")?;
        bar.finish_and_clear();
        Ok(v)
    }
}
