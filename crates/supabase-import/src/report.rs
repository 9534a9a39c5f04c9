//! The report: counts per category, every row that needs the operator's eye, the
//! verification, as JSON (`--report`) and as a readable summary.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What was written for one kind of row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub failed: u64,
}

impl Changes {
    fn add(&mut self, o: &Changes) {
        self.inserted += o.inserted;
        self.updated += o.updated;
        self.unchanged += o.unchanged;
        self.failed += o.failed;
    }
}

/// Users not imported, by rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub soft_deleted: u64,
    pub anonymous: u64,
    pub no_email: u64,
    pub invalid_email: u64,
    pub duplicate_email: u64,
    pub email_taken: u64,
}

impl Skipped {
    /// All skipped users.
    pub fn total(&self) -> u64 {
        self.soft_deleted
            + self.anonymous
            + self.no_email
            + self.invalid_email
            + self.duplicate_email
            + self.email_taken
    }

    /// Counts one user skipped by `category` ([`crate::plan::Skip::category`]).
    pub fn count(&mut self, category: &str) {
        match category {
            "soft_deleted" => self.soft_deleted += 1,
            "anonymous" => self.anonymous += 1,
            "no_email" => self.no_email += 1,
            "invalid_email" => self.invalid_email += 1,
            "duplicate_email" => self.duplicate_email += 1,
            _ => self.email_taken += 1,
        }
    }
}

/// `auth.users` rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserCounts {
    /// Rows read.
    pub seen: u64,
    /// Users that are here after the run (inserted + updated + unchanged).
    pub imported: u64,
    pub changes: Changes,
    pub skipped: Skipped,
    /// Of the imported: SSO users (imported without a password).
    pub sso: u64,
    /// Of the imported: with a `banned_until`.
    pub banned: u64,
    /// Of the imported: e-mail not confirmed.
    pub unverified: u64,
}

/// Password hashes of the imported users.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordCounts {
    pub bcrypt: u64,
    pub argon2: u64,
    /// No password (OAuth, magic link, SSO): imported without a credential.
    pub none: u64,
    /// Supabase column encryption: refused, imported without a credential.
    pub encrypted_refused: u64,
    /// Unknown scheme: refused, imported without a credential.
    pub unsupported_refused: u64,
    /// A cost over the auth-server's caps: refused, imported without a credential.
    /// (`default`: counts saved by a run from before this field resume as 0.)
    #[serde(default)]
    pub over_cost_cap_refused: u64,
    /// An SSO user's hash: not imported (SSO users had no password sign-in).
    pub sso_ignored: u64,
    pub changes: Changes,
    /// Credentials removed because the source no longer has a hash.
    pub removed: u64,
}

/// OAuth/SSO identities (→ `identity.accounts`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityCounts {
    /// Identities of the users read.
    pub seen: u64,
    pub imported: u64,
    /// `email`/`phone` identities: nothing to copy (the password is the credential).
    pub email_or_phone: u64,
    /// Identities of users that were not imported.
    pub owner_not_imported: u64,
    /// Identities that do not fit our table.
    pub refused: u64,
    pub changes: Changes,
}

/// Profiles (→ `learner.profiles`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileCounts {
    /// Profiles of the users read.
    pub seen: u64,
    pub imported: u64,
    /// Profiles of users that were not imported.
    pub owner_not_imported: u64,
    /// Values left out because they broke a type or constraint of ours.
    pub values_rejected: u64,
    pub changes: Changes,
}

/// Running totals of a run (saved with each checkpoint).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub users: UserCounts,
    pub passwords: PasswordCounts,
    pub identities: IdentityCounts,
    pub profiles: ProfileCounts,
}

impl Counts {
    /// Adds another batch's counts.
    pub fn add(&mut self, o: &Counts) {
        let u = &mut self.users;
        u.seen += o.users.seen;
        u.imported += o.users.imported;
        u.changes.add(&o.users.changes);
        let (s, t) = (&mut u.skipped, &o.users.skipped);
        s.soft_deleted += t.soft_deleted;
        s.anonymous += t.anonymous;
        s.no_email += t.no_email;
        s.invalid_email += t.invalid_email;
        s.duplicate_email += t.duplicate_email;
        s.email_taken += t.email_taken;
        u.sso += o.users.sso;
        u.banned += o.users.banned;
        u.unverified += o.users.unverified;
        let p = &mut self.passwords;
        p.bcrypt += o.passwords.bcrypt;
        p.argon2 += o.passwords.argon2;
        p.none += o.passwords.none;
        p.encrypted_refused += o.passwords.encrypted_refused;
        p.unsupported_refused += o.passwords.unsupported_refused;
        p.over_cost_cap_refused += o.passwords.over_cost_cap_refused;
        p.sso_ignored += o.passwords.sso_ignored;
        p.changes.add(&o.passwords.changes);
        p.removed += o.passwords.removed;
        let i = &mut self.identities;
        i.seen += o.identities.seen;
        i.imported += o.identities.imported;
        i.email_or_phone += o.identities.email_or_phone;
        i.owner_not_imported += o.identities.owner_not_imported;
        i.refused += o.identities.refused;
        i.changes.add(&o.identities.changes);
        let f = &mut self.profiles;
        f.seen += o.profiles.seen;
        f.imported += o.profiles.imported;
        f.owner_not_imported += o.profiles.owner_not_imported;
        f.values_rejected += o.profiles.values_rejected;
        f.changes.add(&o.profiles.changes);
    }

    /// Rows written (or, in a dry run, that would be).
    pub fn writes(&self) -> u64 {
        let w = |c: &Changes| c.inserted + c.updated;
        w(&self.users.changes)
            + w(&self.passwords.changes)
            + self.passwords.removed
            + w(&self.identities.changes)
            + w(&self.profiles.changes)
    }

    /// Rows that failed to write.
    pub fn failures(&self) -> u64 {
        self.users.changes.failed
            + self.passwords.changes.failed
            + self.identities.changes.failed
            + self.profiles.changes.failed
    }
}

/// One source row that needs the operator's eye.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    /// The `auth.users` id.
    pub user_id: Option<Uuid>,
    pub email: Option<String>,
    pub category: String,
    pub detail: String,
}

/// Sizes of the source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceTotals {
    pub users: u64,
    pub identities: u64,
    pub profiles: u64,
    /// Profile rows whose key matches no `auth.users` row (possible without a foreign key).
    pub profiles_without_user: u64,
}

/// Source and target agree on one copied column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnCheck {
    pub table: String,
    pub column: String,
    /// Rows compared.
    pub rows: u64,
    /// Order-independent checksum of (id, value) as the source says it should be.
    pub source_checksum: String,
    /// The same over what the target holds.
    pub target_checksum: String,
    pub mismatches: u64,
    /// Up to 10 ids of mismatching rows.
    pub sample: Vec<Uuid>,
}

/// Rows without their counterpart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Orphans {
    /// Profile rows whose key matches no `auth.users` row.
    pub profiles_without_source_user: u64,
    /// Profiles of users that were not imported (deleted, anonymous, duplicate …).
    pub profiles_of_skipped_users: u64,
    /// OAuth identities of users that were not imported.
    pub identities_of_skipped_users: u64,
    /// Users imported earlier that are gone from the source (never deleted here).
    pub imported_users_missing_from_source: u64,
    /// Users imported earlier that the rules now skip (say, soft-deleted since).
    pub imported_users_now_skipped: u64,
}

/// The verification pass: a fresh read of the source, compared with the target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// Every expected row is there and every checksum matches.
    pub ok: bool,
    pub users_expected: u64,
    pub users_found: u64,
    /// Up to 10 ids of users that should be here and are not.
    pub users_missing: Vec<Uuid>,
    pub columns: Vec<ColumnCheck>,
    /// Credentials the auth-server re-hashed to argon2id since the import
    /// (expected to differ from the source; left out of the checksum).
    pub rehashed_after_import: u64,
    pub orphans: Orphans,
}

/// Everything a run did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub run_id: Option<i64>,
    pub dry_run: bool,
    /// The whole source was gone through (false: interrupted; run again to resume).
    pub completed: bool,
    /// Batches committed by an earlier, interrupted invocation of this run.
    pub resumed_after_batches: u32,
    /// host:port/database of each side (no credentials).
    pub source: String,
    pub target: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// This invocation: wall time (verification included), the import pass alone,
    /// users read, and users read per second of the import pass.
    pub seconds: f64,
    pub import_seconds: f64,
    pub users_read: u64,
    pub users_per_second: f64,
    pub batches: u32,
    /// learner.profiles column ← source column, as used.
    pub profile_mapping: BTreeMap<String, String>,
    pub source_totals: SourceTotals,
    pub counts: Counts,
    pub issues_by_category: BTreeMap<String, u64>,
    pub issues: Vec<Issue>,
    pub verification: Option<Verification>,
    pub notes: Vec<String>,
}

impl Report {
    /// Whether the run found nothing to write.
    pub fn changed_nothing(&self) -> bool {
        self.counts.writes() == 0
    }

    /// Recounts `issues_by_category`.
    pub fn tally_issues(&mut self) {
        self.issues_by_category.clear();
        for i in &self.issues {
            *self
                .issues_by_category
                .entry(i.category.clone())
                .or_default() += 1;
        }
    }

    /// Writes the report as pretty JSON.
    pub fn write_json(&self, path: &std::path::Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(path, text + "\n")
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
    }
}

fn changes(c: &Changes, would: bool) -> String {
    let w = if would { "would be " } else { "" };
    format!(
        "{} {w}inserted, {} {w}updated, {} unchanged{}",
        c.inserted,
        c.updated,
        c.unchanged,
        if c.failed > 0 {
            format!(", {} FAILED", c.failed)
        } else {
            String::new()
        }
    )
}

impl fmt::Display for Report {
    // Long (~150 lines) on purpose: one statement per line of the printed report, in
    // the order it prints, so the code reads like the output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.counts;
        let would = self.dry_run;
        let state = match (self.dry_run, self.completed) {
            (true, _) => "DRY RUN, nothing written",
            (false, true) => "completed",
            (false, false) => "INTERRUPTED, run the same command again to resume",
        };
        let run = self
            .run_id
            .map(|r| format!(" run #{r}"))
            .unwrap_or_default();
        writeln!(f, "Supabase import{run}: {state}")?;
        writeln!(f, "  from {}  to {}", self.source, self.target)?;
        let resumed = if self.resumed_after_batches > 0 {
            format!(", resumed after {} batches", self.resumed_after_batches)
        } else {
            String::new()
        };
        writeln!(
            f,
            "  {:.1} s, {} users read, {:.0} users/s, {} batches{resumed}",
            self.seconds, self.users_read, self.users_per_second, self.batches
        )?;
        let s = &self.source_totals;
        writeln!(
            f,
            "Source: {} users, {} identities, {} profiles ({} without a user)",
            s.users, s.identities, s.profiles, s.profiles_without_user
        )?;
        let u = &c.users;
        writeln!(
            f,
            "Users:      {} imported ({})",
            u.imported,
            changes(&u.changes, would)
        )?;
        let k = &u.skipped;
        writeln!(
            f,
            "  skipped:  {} (soft-deleted {}, anonymous {}, no e-mail {}, invalid e-mail {}, duplicate e-mail {}, e-mail taken here {})",
            k.total(),
            k.soft_deleted,
            k.anonymous,
            k.no_email,
            k.invalid_email,
            k.duplicate_email,
            k.email_taken
        )?;
        writeln!(
            f,
            "  imported: {} SSO, {} banned, {} unverified",
            u.sso, u.banned, u.unverified
        )?;
        let p = &c.passwords;
        writeln!(
            f,
            "Passwords:  {} bcrypt, {} argon2 kept verbatim; {} none; refused: {} encrypted, {} unsupported, {} over the cost caps; {} SSO hashes ignored",
            p.bcrypt, p.argon2, p.none, p.encrypted_refused, p.unsupported_refused, p.over_cost_cap_refused, p.sso_ignored
        )?;
        writeln!(
            f,
            "  credentials: {}{}",
            changes(&p.changes, would),
            if p.removed > 0 {
                format!(", {} removed", p.removed)
            } else {
                String::new()
            }
        )?;
        let i = &c.identities;
        writeln!(
            f,
            "Identities: {} imported ({}); {} email/phone (not needed), {} of skipped users, {} refused",
            i.imported,
            changes(&i.changes, would),
            i.email_or_phone,
            i.owner_not_imported,
            i.refused
        )?;
        let pr = &c.profiles;
        writeln!(
            f,
            "Profiles:   {} imported ({}); {} of skipped users; {} values rejected",
            pr.imported,
            changes(&pr.changes, would),
            pr.owner_not_imported,
            pr.values_rejected
        )?;
        if !self.profile_mapping.is_empty() {
            let m: Vec<String> = self
                .profile_mapping
                .iter()
                .map(|(t, s)| format!("{t}←{s}"))
                .collect();
            writeln!(f, "  mapping:  {}", m.join(", "))?;
        }
        if self.changed_nothing() && self.completed && c.failures() == 0 {
            writeln!(f, "No changes: the target already matches the source.")?;
        }
        if !self.issues.is_empty() {
            writeln!(f, "Issues ({}):", self.issues.len())?;
            for (cat, n) in &self.issues_by_category {
                writeln!(f, "  {cat}: {n}")?;
                for i in self.issues.iter().filter(|i| &i.category == cat).take(3) {
                    writeln!(
                        f,
                        "    {} {}: {}",
                        i.user_id.map(|u| u.to_string()).unwrap_or_default(),
                        i.email.as_deref().unwrap_or(""),
                        i.detail
                    )?;
                }
                if *n > 3 {
                    writeln!(f, "    … {} more in the JSON report", n - 3)?;
                }
            }
        }
        for n in &self.notes {
            writeln!(f, "Note: {n}")?;
        }
        if let Some(v) = &self.verification {
            let bad: Vec<&ColumnCheck> = v.columns.iter().filter(|c| c.mismatches > 0).collect();
            writeln!(
                f,
                "Verification: {} ({}/{} users found, {} columns checksummed, {} differ; {} re-hashed since import)",
                if v.ok { "OK" } else { "MISMATCH" },
                v.users_found,
                v.users_expected,
                v.columns.len(),
                bad.len(),
                v.rehashed_after_import
            )?;
            for c in bad {
                writeln!(
                    f,
                    "  {}.{}: {} of {} rows differ (e.g. {:?})",
                    c.table, c.column, c.mismatches, c.rows, c.sample
                )?;
            }
            let o = &v.orphans;
            writeln!(
                f,
                "  orphans: {} profiles without a source user, {} profiles and {} identities of skipped users, {} imported users gone from the source, {} now skipped",
                o.profiles_without_source_user,
                o.profiles_of_skipped_users,
                o.identities_of_skipped_users,
                o.imported_users_missing_from_source,
                o.imported_users_now_skipped
            )?;
        }
        Ok(())
    }
}
